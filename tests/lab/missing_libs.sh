#!/usr/bin/env bash
# Libraries a node loads when first needed (docs/architecture.md,
# "Memory"): with libsndfile.so.1 and libasound.so.2 unloadable (empty
# files first on LD_LIBRARY_PATH, as a broken or half-removed package
# leaves them), node B starts, answers and receives; what needs them is
# refused with an error naming the library and its Debian package:
# - an API recording: 500 (the node's fault, not the request's), the
#   error names the subscription's recording, not a sink, and no
#   subscription is left behind (by address or by stream name), nor a
#   file; B's log says it too (a server's failure, not the client's
#   alone); B stays up and takes the next request;
# - a config file with a sound card: the node does not start, and says
#   why.
. "$(dirname "$0")/../lib.sh"
lab=d4m$$
d4_lab_hosts $lab 2
mkdir -p "$T/nolib"
: >"$T/nolib/libsndfile.so.1"
: >"$T/nolib/libasound.so.2"
printf '[node]\nname = B\n[discovery]\ninterface = eth0\nmdns = off\nsap = off\n' >"$T/B.ini"
LD_LIBRARY_PATH=$T/nolib d4_node $lab-h2 B "$T/B.ini"
b=$!
d4_wait_log "$T/B.log" "api: listening on 0.0.0.0:8080" 15

api() { # api METHOD PATH [BODY]: "STATUS BODY" from B, with its token
	local code
	code=$(ip netns exec $lab-h2 curl -s -o "$T/resp" -w '%{http_code}' \
		-X "$1" -H "Authorization: Bearer $(cat "$D4_STATE_DIR/B/token")" \
		${3:+-H 'Content-Type: application/json' --data-binary "$3"} \
		"http://10.77.0.2:8080/api/v1$2")
	echo "$code $(cat "$T/resp")"
}

r=$(api POST /subscriptions '{"name":"take","address":"10.77.0.2:5010","channels":2,"record":{"path":"take.wav"}}')
[ "${r%% *}" = 500 ] || fail "a recording without libsndfile: want 500, got: $r"
for want in "subscription take's recording" "cannot load libsndfile.so.1" \
	"(Debian package libsndfile1)"; do
	case $r in *"$want"*) ;; *) fail "the error does not say \"$want\": $r" ;; esac
done
case $r in *"sink take"*) fail "an API recording called a sink: $r" ;; esac
echo "refused: ${r#* }"
d4_wait_log "$T/B.log" "error: api: POST /api/v1/subscriptions: 500 subscription take's recording: cannot load libsndfile.so.1" 5
# by stream name: refused the same, at once (its receiver opens only
# when the stream is found: it was a 201, then a subscription that never
# took its stream, and an empty file left behind)
r=$(api POST /subscriptions '{"name":"take","stream":"nosuch A","record":{"path":"take.wav"}}')
[ "${r%% *}" = 500 ] || fail "a recording by stream name without libsndfile: want 500, got: $r"
[ ! -e "$D4_STATE_DIR/B/recordings/take.wav" ] ||
	fail "a refused recording left $D4_STATE_DIR/B/recordings/take.wav"
r=$(api GET /subscriptions)
case $r in 200*take*) fail "a refused subscription was left: $r" ;; 200*) ;;
*) fail "GET /subscriptions after the refusal: $r" ;; esac
# the same subscription without a recording is made: only the recording
# needed the library
r=$(api POST /subscriptions '{"name":"take","address":"10.77.0.2:5010","channels":2}')
[ "${r%% *}" = 201 ] || fail "a subscription without a recording: $r"
kill -0 $b 2>/dev/null || fail "B stopped"
pass "API recording without libsndfile: 500, nothing left; without a recording 201; B up"
kill $b
d4_wait_pid $b 20 || fail "B did not stop"

# A sound card in the config file needs libasound at start: refused.
cat >"$T/C.ini" <<INI
[node]
name = C
[discovery]
interface = eth0
mdns = off
sap = off
[source card]
type = alsa
device = hw:0
channels = 2
[flow main]
source = card
destination = 239.69.9.9:5004
interface = eth0
INI
LD_LIBRARY_PATH=$T/nolib d4_node $lab-h1 C "$T/C.ini"
c=$!
d4_wait_pid $c 20 && fail "C started with a sound card and no libasound"
grep -q "cannot load libasound.so.2" "$T/C.log" ||
	fail "C's log does not say it cannot load libasound.so.2: $(tail -n 3 "$T/C.log")"
grep -q "(Debian package libasound2)" "$T/C.log" ||
	fail "C's log does not name libasound2: $(tail -n 3 "$T/C.log")"
pass "a sound card without libasound: C does not start; $(grep -o 'cannot load libasound.so.2[^(]*(Debian package libasound2)' "$T/C.log" | head -n 1)"

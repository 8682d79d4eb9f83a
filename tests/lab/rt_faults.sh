#!/usr/bin/env bash
# Real-time threads do not page-fault once they run (docs/architecture.md
# "Memory"): the node holds their buffers and stacks when it makes them,
# and the libraries they run (libc, libm, libsamplerate, libasound, the
# node itself) whole, bound at start (-z now). Under mlockall(MCL_ONFAULT)
# anything else would be a page fault on the media or relay thread the
# first time it is used: a tone's first sin() did that for an attacker.
# After start, through the API: a flow from a tone source to a D4 loop
# bound on UDP, the loop relaying to a subscription with timing = auto
# (a sample-rate converter), all on one host. Once the subscription reads
# "receiving" and has played 3 s, the media and relay threads' page
# faults (minor and major) are what they were before the API calls.
. "$(dirname "$0")/../lib.sh"

lab=d4rf$$
d4_lab_hosts $lab 1
h1=$lab-h1
cat >"$T/A.ini" <<INI
[node]
name = A
[discovery]
sap = off
mdns = off
[source t]
type = tone
channels = 8
INI
d4_spawn "$T/A.log" ip netns exec $h1 "$D4NODE" --config "$T/A.ini" --run-seconds 300
a=$!
d4_wait_log "$T/A.log" "api: listening" 30
if grep -q "mlockall: skipped" "$T/A.log"; then
	echo "SKIP: an AddressSanitizer build locks no memory"
	exit 77
fi
grep -q "warning: mlockall" "$T/A.log" && fail "the node could not lock its memory: $(grep mlock "$T/A.log")"

# faults THREAD: minor + major page faults of the node's thread THREAD
faults() {
	local t
	for t in /proc/$a/task/*; do
		if [ "$(cat "$t/comm" 2>/dev/null)" = "$1" ]; then
			awk '{ print $10 + $12 }' "$t/stat"
			return 0
		fi
	done
	fail "node A has no thread $1"
}
# settled: the threads' start-up (holding their stacks) is done once two
# readings a second apart agree
settled() {
	local i m r
	for i in $(seq 1 30); do
		m=$(faults d4-media) r=$(faults d4-relay)
		sleep 1
		[ "$m" = "$(faults d4-media)" ] && [ "$r" = "$(faults d4-relay)" ] && return 0
	done
	fail "the real-time threads still take page faults 30 s after start"
}
settled
media0=$(faults d4-media) relay0=$(faults d4-relay)
echo "before: media thread $media0 page faults, relay thread $relay0"

d4_api $h1 A POST /d4/exec '{"text": "IP[] _hop\n_hop += 10.77.0.1:5010\nloop hop on udp 10.77.0.1:6000 {\npkt = recv()\nfor ip in _hop:\n  sendto(pkt, ip)\nendfor\n}\n"}' >/dev/null ||
	fail "POST /d4/exec: $(cat "$T/api-answer")"
d4_api $h1 A POST /d4/programs/hop/start >/dev/null || fail "start hop: $(cat "$T/api-answer")"
d4_api $h1 A POST /subscriptions '{"name":"s1","address":"10.77.0.1:5010","channels":8,"timing":"auto","latency_us":20000}' >/dev/null ||
	fail "POST /subscriptions: $(cat "$T/api-answer")"
d4_api $h1 A POST /flows '{"name":"f1","source":"t","destination":"10.77.0.1:6000"}' >/dev/null ||
	fail "POST /flows: $(cat "$T/api-answer")"
st=
for i in $(seq 1 300); do
	st=$(d4_api $h1 A GET /subscriptions/s1 2>/dev/null) || st=
	case $st in *'"state":"receiving"'*) break ;; esac
	sleep 0.1
done
case $st in *'"state":"receiving"'*) ;; *) fail "the subscription does not receive: $st" ;; esac
# 3 s of playing: packets through the loop, the converter's tables, the
# meters
sleep 3
st=$(d4_api $h1 A GET /subscriptions/s1) || fail "GET /subscriptions/s1"
case $st in *'"state":"receiving"'*) ;; *) fail "the subscription stopped receiving: $st" ;; esac
media1=$(faults d4-media) relay1=$(faults d4-relay)
echo "after: media thread $media1 page faults, relay thread $relay1"
[ "$media1" = "$media0" ] || fail "the media thread took $((media1 - media0)) page fault(s) after start"
[ "$relay1" = "$relay0" ] || fail "the relay thread took $((relay1 - relay0)) page fault(s) after start"
echo "OK: no page fault on the real-time threads after start"

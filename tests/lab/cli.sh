#!/usr/bin/env bash
# d4ctl's and the control API's conventions (docs/d4ctl.md, docs/api.md),
# against a real node on a private loopback:
# - exit codes: each case below names the meaning it is an example of, and
#   expects the code docs/d4ctl.md's "Exit codes" table gives that meaning;
# - d4ctl help, help COMMAND (the same as COMMAND --help), "did you mean";
# - Location on 201, WWW-Authenticate on 401 (without and with a token);
# - d4ctl login with the pairing code from the node's log (a wrong code
#   refused, the rate limit), a write after a rename (the token is found
#   by the node's uuid), d4ctl token rotate (the old token refused);
# - flow list and sub list without a NODE (every node's);
# - bash completion; the man pages (made from docs/ by pandoc).
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"
D4CTL=${D4CTL:?D4CTL must point at the d4ctl binary}
export HOME=$T/home
unset D4_TOKEN XDG_CONFIG_HOME
N=127.0.0.1:8080
API=http://$N/api/v1

cat >"$T/n.ini" <<INI
[node]
name = n
api = $N
rx_channels = 2
[discovery]
mdns = off
sap = off
[source tone]
type = tone
channels = 2
[flow main]
source = tone
destination = 239.69.7.1:5004
INI
d4_spawn "$T/n.log" "$D4NODE" --config "$T/n.ini"
d4_wait_log "$T/n.log" "api: listening" 10

# ---- exit codes, as docs/d4ctl.md's table says ----
table=$(sed -n '/^## Exit codes/,/^## /p' "$D4_SRC/docs/d4ctl.md" | grep -E '^\| [0-9]+ \|')
codes=$(echo "$table" | cut -d'|' -f2 | tr -d ' ' | paste -sd' ')
[ "$codes" = "0 1 2 3 4" ] ||
	fail "docs/d4ctl.md's exit codes are not 0 1 2 3 4 (this test has cases for those): $table"
code_for() { # the code of the row whose meaning has $1
	local row
	row=$(echo "$table" | grep -F -- "$1") || fail "docs/d4ctl.md has no exit code for '$1'"
	[ "$(echo "$row" | wc -l)" = 1 ] || fail "'$1' is in two rows of the table"
	echo "$row" | cut -d'|' -f2 | tr -d ' '
}
checked=""
expect() { # expect "MEANING" d4ctl-args...
	local meaning=$1 want rc=0
	shift
	want=$(code_for "$meaning")
	"$D4CTL" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
	[ "$rc" = "$want" ] ||
		fail "d4ctl $* exited $rc, docs/d4ctl.md says $want ($meaning): $(cat "$T/err")"
	checked="$checked $want"
	pass "exit $rc ($meaning): d4ctl $*"
}
expect "done" --host $N list
expect "done" help
expect "usage error" lsit
expect "usage error" --bogus list
expect "usage error" route 1-2@ 3@$N
expect "node not found" --host 127.0.0.1:9 show
expect "node not found" --browse 0.2 show nosuchnode
expect "a node refused" --token wrong flow delete $N main
TOKEN=$(cat "$D4_STATE_DIR/n/token")
expect "a node refused" --token "$TOKEN" flow delete $N nosuch
expect "no such channel or stream" --token "$TOKEN" route 8@$N 1@$N
expect "done" --token "$TOKEN" route 1-2@$N 1-2@$N
expect "the route was there already" --token "$TOKEN" route 1-2@$N 1-2@$N
expect "the stream breaks a rule" check --listen 0 "$D4_SRC/tests/data/check/ptime-4ms.sdp"
expect "done" check --listen 0 "$D4_SRC/tests/data/check/dante-ok.sdp"
for c in $codes; do
	case " $checked " in *" $c "*) ;; *) fail "no case checked exit code $c" ;; esac
done

# ---- help and "did you mean" ----
"$D4CTL" help >"$T/help"
for c in $("$D4CTL" help --commands); do
	grep -qE "^  $c " "$T/help" || fail "d4ctl help does not list '$c'"
done
"$D4CTL" help route >"$T/h1"
"$D4CTL" route --help >"$T/h2"
cmp -s "$T/h1" "$T/h2" && grep -q '^usage: d4ctl route' "$T/h1" ||
	fail "d4ctl help route is not d4ctl route --help"
pass "d4ctl help lists every command; help route = route --help"
for typo in "rotue:route" "lsit:list" "loign:login" "sttas:stats"; do
	rc=0
	"$D4CTL" "${typo%%:*}" 2>"$T/err" || rc=$?
	[ $rc = 2 ] && grep -q "did you mean '${typo#*:}'" "$T/err" ||
		fail "d4ctl ${typo%%:*}: exit $rc, $(cat "$T/err")"
done
rc=0
"$D4CTL" help rotue 2>"$T/err" || rc=$?
[ $rc = 2 ] && grep -q "did you mean 'route'" "$T/err" || fail "help rotue: $(cat "$T/err")"
rc=0
"$D4CTL" --hots $N list 2>"$T/err" || rc=$?
[ $rc = 2 ] && grep -q "did you mean '--host'" "$T/err" || fail "--hots: $(cat "$T/err")"
# a command's own options and verbs too (a new user's "routes --jsno",
# "sub lst")
for typo in "routes --jsno|--json" "sub lst $N|list" "flow craete $N x|create" \
	"sub create $N x --adress 1.2.3.4|--address"; do
	rc=0
	"$D4CTL" ${typo%%|*} 2>"$T/err" >/dev/null || rc=$?
	[ $rc = 2 ] && grep -q "did you mean '${typo#*|}'" "$T/err" ||
		fail "d4ctl ${typo%%|*}: exit $rc, $(head -n 1 "$T/err")"
done
# an option's letter named as itself, in the word it came in (a new
# user's "name mixer -bad" was told "unknown option 'mixer'"), and a known
# option without its value said as that, not as unknown
for bad in "name $N -bad|unknown option '-b' in '-bad'" \
	"route 1@$N -5@$N|unknown option '-5' in '-5@$N'" \
	"list -z|unknown option '-z'" \
	"sub create $N x --record|missing value for '--record'" \
	"exec $N -f|missing value for '-f'"; do
	rc=0
	"$D4CTL" ${bad%%|*} 2>"$T/err" >/dev/null || rc=$?
	[ $rc = 2 ] && head -n 1 "$T/err" | grep -qF "${bad#*|}" ||
		fail "d4ctl ${bad%%|*}: exit $rc, $(head -n 1 "$T/err")"
done
pass "a bad option is named as given, a missing value as missing"
rc=0
"$D4CTL" frobnicate 2>"$T/err" || rc=$?
[ $rc = 2 ] && ! grep -q "did you mean" "$T/err" || fail "frobnicate got a suggestion: $(cat "$T/err")"
pass "typos get 'did you mean' (commands, help COMMAND, options, a command's options and verbs); strangers do not"

# ---- Location on 201, WWW-Authenticate on 401 ----
hdr() { tr -d '\r' <"$T/h" | sed -n "s/^$1: //Ip"; }
curl -s -D "$T/h" -o /dev/null -X POST -d '{}' $API/flows
[ "$(hdr WWW-Authenticate)" = 'Bearer realm="d4node"' ] ||
	fail "401 without a token: WWW-Authenticate '$(hdr WWW-Authenticate)'"
curl -s -D "$T/h" -o /dev/null -X POST -H "Authorization: Bearer nope" -d '{}' $API/flows
[ "$(hdr WWW-Authenticate)" = 'Bearer realm="d4node", error="invalid_token"' ] ||
	fail "401 with a wrong token: WWW-Authenticate '$(hdr WWW-Authenticate)'"
grep -q '^HTTP/1.1 401' "$T/h" || fail "no 401"
curl -s -D "$T/h" -o /dev/null -H "Authorization: Bearer $TOKEN" \
	-d '{"name": "mon 1", "source": "tone", "destination": "127.0.0.1:5020"}' $API/flows
grep -q '^HTTP/1.1 201' "$T/h" && [ "$(hdr Location)" = "/api/v1/flows/mon%201" ] ||
	fail "201 of POST /flows: Location '$(hdr Location)'"
curl -sf "http://$N$(hdr Location)" | grep -q '"name":"mon 1"' ||
	fail "GET of the Location does not answer the new flow"
curl -s -D "$T/h" -o /dev/null -H "Authorization: Bearer $TOKEN" \
	-d '{"name": "in", "address": "127.0.0.1:5020", "channels": 2}' $API/subscriptions
[ "$(hdr Location)" = "/api/v1/subscriptions/in" ] ||
	fail "201 of POST /subscriptions: Location '$(hdr Location)'"
pass "Location on 201 (percent-encoded, and it answers); WWW-Authenticate on 401 (RFC 6750)"

# ---- login, rename, rotate ----
rc=0
"$D4CTL" login --code 0000-0000 $N 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q "wrong pairing code" "$T/err" || fail "a wrong code: exit $rc $(cat "$T/err")"
d4_wait_log "$T/n.log" "pairing: code [0-9]{4}-[0-9]{4}" 15
code=$(sed -n 's/.*pairing: code \([0-9-]*\).*/\1/p' "$T/n.log" | tail -n 1)
echo "$code" | "$D4CTL" login $N >"$T/out" 2>"$T/err" || fail "login: $(cat "$T/err")"
cfg=$HOME/.config/d4ctl/config
[ "$(stat -c %a "$cfg")" = 600 ] || fail "the config is not 0600"
uuid=$(curl -sf $API/node | python3 -c 'import json,sys; print(json.load(sys.stdin)["uuid"])')
grep -qx "uuid = $uuid" "$cfg" && grep -qx "token = $TOKEN" "$cfg" ||
	fail "login saved no token under uuid $uuid: $(cat "$cfg")"
grep -q "pairing: the code was used" "$T/n.log" || fail "the node did not log the code's use"
rc=0
"$D4CTL" login --code "$code" $N 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -Eq "HTTP 429|HTTP 403" "$T/err" || fail "a used code: exit $rc $(cat "$T/err")"
pass "d4ctl login: a code from the log, once; a wrong one refused; the token saved 0600 under the uuid"
grep -qx "paired_at = $N" "$cfg" || fail "login kept no paired_at = $N: $(cat "$cfg")"
# A server elsewhere that claims the node's uuid (public: GET /node) is
# not sent its token (an attacker's fake node got it on any write)
python3 - "$uuid" "$T/fake.log" <<'PY' &
import http.server, json, sys
uuid, log = sys.argv[1], sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body):
        with open(log, "a") as f:
            f.write("%s %s auth=%s\n" % (self.command, self.path,
                    self.headers.get("Authorization", "-")))
        b = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        self.answer(200, {"name": "n", "uuid": uuid, "id": "0", "version": "0.1.0"})
    def do_PUT(self):
        self.answer(401, {"error": "who are you"})
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.2", 8090), H).serve_forever()
PY
fake=$!
for i in $(seq 1 50); do
	curl -sf http://127.0.0.2:8090/api/v1/node >/dev/null && break
	sleep 0.1
done
rc=0
"$D4CTL" --host 127.0.0.2:8090 name 127.0.0.2:8090 evil >"$T/out" 2>"$T/err" || rc=$?
kill $fake
wait $fake 2>/dev/null || true
grep -q "^PUT .*auth=-$" "$T/fake.log" && ! grep -q "auth=Bearer" "$T/fake.log" ||
	fail "the fake node claiming uuid $uuid: $(cat "$T/fake.log")"
[ $rc = 1 ] && grep -q "not sent: .*paired at $N" "$T/err" ||
	fail "the fake node: exit $rc, $(cat "$T/err")"
pass "login keeps where it paired (paired_at); a server elsewhere claiming the node's uuid is not sent its token, and d4ctl says why"
# no NODE: every node found (here the config's, by its host)
"$D4CTL" --browse 0.2 flow list >"$T/out" 2>"$T/err" || fail "flow list without NODE: $(cat "$T/err")"
head -n 1 "$T/out" | grep -q '^NODE  *NAME' && grep -q '^n  *main ' "$T/out" ||
	fail "flow list without NODE: $(cat "$T/out")"
"$D4CTL" --browse 0.2 sub list >"$T/out" 2>"$T/err" && grep -q '^n  *in ' "$T/out" ||
	fail "sub list without NODE: $(cat "$T/out" "$T/err")"
pass "flow list and sub list without NODE: every node's, with a NODE column"
# a second leg (ST 2022-7) from the command line: a flow to two ports of
# this host, and a subscription taking both, shown as two legs receiving
"$D4CTL" flow create $N two --source tone --dest 127.0.0.1:5034 \
	--dest2 127.0.0.1:5036 >/dev/null 2>"$T/err" || fail "flow create --dest2: $(cat "$T/err")"
"$D4CTL" flow list $N >"$T/out" &&
	grep -Eq '^two +tone .* 127\.0\.0\.1:5034 +127\.0\.0\.1:5036 ' "$T/out" ||
	fail "flow list: no DESTINATION2 for flow two: $(cat "$T/out")"
"$D4CTL" sub create $N two --address 127.0.0.1:5034 --address2 127.0.0.1:5036 \
	--latency 20 >/dev/null 2>"$T/err" || fail "sub create --address2: $(cat "$T/err")"
for i in $(seq 1 100); do
	"$D4CTL" sub list $N >"$T/out" 2>"$T/err" || fail "sub list: $(cat "$T/err")"
	grep -Eq '^two .* 127\.0\.0\.1:5034 +127\.0\.0\.1:5036 .* A ok, B ok ' "$T/out" && break
	[ $i -lt 100 ] || fail "sub list: subscription two is not on two legs, both ok, in 10 s: $(cat "$T/out")"
	sleep 0.1
done
"$D4CTL" sub delete $N two >/dev/null && "$D4CTL" flow delete $N two >/dev/null ||
	fail "deleting the two-leg subscription and flow"
pass "flow create --dest2 and sub create --address2: DESTINATION2, ADDRESS2 and LEGS 'A ok, B ok'"
# each leg's source filter from the command line (issue 15; the node's
# errors name source_filter2)
"$D4CTL" sub create $N filt --address 127.0.0.1:5038 --source-filter 127.0.0.1 \
	--address2 127.0.0.1:5040 --source-filter2 127.0.0.2 >/dev/null 2>"$T/err" ||
	fail "sub create --source-filter(2): $(cat "$T/err")"
"$D4CTL" sub list $N --json >"$T/out" || fail "sub list --json"
python3 - "$T/out" <<'PY' || fail "the filters are not the subscription's: $(cat "$T/out")"
import json, sys
s = [x for x in json.load(open(sys.argv[1])) if x["name"] == "filt"][0]
assert s["settings"]["source_filter"] == "127.0.0.1", s["settings"]
assert s["settings"]["source_filter2"] == "127.0.0.2", s["settings"]
PY
rc=0
"$D4CTL" sub create $N bad --address 127.0.0.1:5042 --source-filter nope \
	>/dev/null 2>"$T/err" || rc=$?
[ $rc = 2 ] && grep -q "source-filter 'nope' is not an IPv4 address" "$T/err" ||
	fail "--source-filter nope: exit $rc: $(cat "$T/err")"
"$D4CTL" sub delete $N filt >/dev/null || fail "deleting subscription filt"
pass "sub create --source-filter and --source-filter2: the subscription's source_filter and source_filter2; a bad address exits 2 saying so"
# a recording from the command line (a new user needed curl for it):
# --record with its duration, shown in sub list's REC column until done
"$D4CTL" flow create $N rec --source tone --dest 127.0.0.1:5044 >/dev/null ||
	fail "flow create rec"
"$D4CTL" sub create $N rec --address 127.0.0.1:5044 --latency 20 \
	--record take.wav --record-duration 0.5 >/dev/null 2>"$T/err" ||
	fail "sub create --record: $(cat "$T/err")"
for i in $(seq 1 150); do
	"$D4CTL" sub list $N >"$T/out" 2>"$T/err" || fail "sub list: $(cat "$T/err")"
	grep -Eq '^rec .* take\.wav complete *$' "$T/out" && break
	[ $i -lt 150 ] || fail "sub list: rec's recording is not complete in 15 s: $(cat "$T/out")"
	sleep 0.1
done
frames=$("$D4WAV" info "$D4_STATE_DIR/n/recordings/take.wav" |
	sed -n 's/.*frames=\([0-9]*\).*/\1/p')
[ "$frames" = 24000 ] || fail "take.wav holds $frames frames, want 0.5 s (24000)"
rc=0
"$D4CTL" sub create $N rec2 --address 127.0.0.1:5046 --record x.wav \
	--record-duration soon >/dev/null 2>"$T/err" || rc=$?
[ $rc = 2 ] && grep -q "record-duration 'soon' is not a number of seconds" "$T/err" ||
	fail "--record-duration soon: exit $rc: $(cat "$T/err")"
"$D4CTL" sub delete $N rec >/dev/null && "$D4CTL" flow delete $N rec >/dev/null ||
	fail "deleting subscription and flow rec"
pass "sub create --record FILE --record-duration 0.5: REC 'take.wav complete' in sub list, 24000 frames in the recordings directory; a bad duration exits 2 saying so"
"$D4CTL" name $N renamed >/dev/null || fail "rename"
"$D4CTL" flow create $N after --source tone --dest 127.0.0.1:5030 >/dev/null ||
	fail "a write after the rename: the token was not found by uuid"
pass "after a rename d4ctl still finds the node's token (by its uuid)"
"$D4CTL" token rotate $N >"$T/out" || fail "token rotate"
NEW=$(cat "$D4_STATE_DIR/n/token")
[ "$NEW" != "$TOKEN" ] && grep -qx "token = $NEW" "$cfg" || fail "rotate: $(cat "$cfg")"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $TOKEN" $API/flows/after)
[ "$code" = 401 ] || fail "the old token answered $code after rotate"
"$D4CTL" flow delete $N after >/dev/null || fail "a write with the rotated token"
pass "d4ctl token rotate: the old token gets 401, d4ctl writes with the new one"
# a token that cannot be saved is not rotated: 507, the token in use
# still answers, and the node says it once (it said it twice)
mv "$D4_STATE_DIR/n/token" "$T/token.keep"
mkdir "$D4_STATE_DIR/n/token"
code=$(curl -s -o "$T/out" -w '%{http_code}' -X POST -H "Authorization: Bearer $NEW" $API/token)
rmdir "$D4_STATE_DIR/n/token"
mv "$T/token.keep" "$D4_STATE_DIR/n/token"
[ "$code" = 507 ] || fail "a rotate that cannot be saved answered $code: $(cat "$T/out")"
grep -q "token not rotated: cannot write" "$T/out" || fail "507 without its reason: $(cat "$T/out")"
"$D4CTL" flow create $N kept --source tone --dest 127.0.0.1:5032 >/dev/null ||
	fail "the token in use was lost with a rotate that failed"
n_said=$(grep -c "cannot write .*/token" "$T/n.log" || true)
[ "$n_said" = 1 ] || fail "the failed rotate was logged $n_said times"
pass "a rotate that cannot be saved: 507 with its reason, the token in use kept, one log line"
# a link planted at token.tmp is not written through: the token goes to
# a new file
echo keep >"$T/victim"
ln -s "$T/victim" "$D4_STATE_DIR/n/token.tmp"
"$D4CTL" token rotate $N >"$T/out" || fail "rotate over a link at token.tmp: $(cat "$T/out")"
[ "$(cat "$T/victim")" = keep ] && [ ! -L "$D4_STATE_DIR/n/token" ] ||
	fail "a link at token.tmp: victim '$(cat "$T/victim")', $(ls -l "$D4_STATE_DIR/n/")"
pass "a link planted at token.tmp is not written through"
# nor is a file planted there, readable by all: the token goes to a new file
# (someone else's, mode 0666: before, it was opened and renamed over
# the token, keeping its owner and mode)
echo planted >"$D4_STATE_DIR/n/token.tmp"
chown nobody "$D4_STATE_DIR/n/token.tmp"
chmod 666 "$D4_STATE_DIR/n/token.tmp"
"$D4CTL" token rotate $N >"$T/out" || fail "rotate over a planted token.tmp: $(cat "$T/out")"
[ "$(stat -c %U:%a "$D4_STATE_DIR/n/token")" = "$(id -un):600" ] ||
	fail "a file planted at token.tmp became the token: $(ls -l "$D4_STATE_DIR/n/")"
pass "a file planted at token.tmp does not become the token (a new file, mode 0600)"
# --host with an address alone is the node's default API port
"$D4CTL" --host 127.0.0.1 show >"$T/out" 2>"$T/err" || fail "--host 127.0.0.1: $(cat "$T/err")"
grep -q "^name: *renamed$" "$T/out" || fail "--host 127.0.0.1 showed: $(head -3 "$T/out")"
rc=0
"$D4CTL" --host stagebox show 2>"$T/err" || rc=$?
[ $rc = 2 ] && grep -q "is not ADDR\[:PORT\]" "$T/err" || fail "--host stagebox: exit $rc $(cat "$T/err")"
pass "--host 127.0.0.1 is the node at 127.0.0.1:8080; --host stagebox is refused (exit 2)"

# ---- bash completion ----
PATH=$(dirname "$D4CTL"):$PATH
. "$D4_SRC/controller-cli/d4ctl.bash-completion"
words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	_d4ctl
	echo "${COMPREPLY[*]}"
}
[ "$(words d4ctl rou)" = "route routes" ] || fail "complete 'rou': $(words d4ctl rou)"
[ "$(words d4ctl lo)" = "login" ] || fail "complete 'lo': $(words d4ctl lo)"
[ "$(words d4ctl help unr)" = "unroute" ] || fail "complete 'help unr'"
[ "$(words d4ctl --host $N route --dr)" = "--dry-run" ] || fail "complete 'route --dr'"
[ "$(words d4ctl token r)" = "rotate" ] || fail "complete 'token r'"
[ "$(words d4ctl show "")" = "n" ] || fail "complete a NODE: '$(words d4ctl show "")'"
[ "$(words d4ctl route 1-2@)" = "1-2@n" ] || fail "complete 1-2@: '$(words d4ctl route 1-2@)'"
pass "bash completion: commands, options, subcommands, nodes of the config"

# ---- man pages ----
if [ -n "${D4MAN:-}" ] && [ -f "$D4MAN/d4ctl.1" ]; then
	for m in d4node.8 d4ctl.1 d4node.ini.5; do
		MANWIDTH=80 man -l "$D4MAN/$m" 2>"$T/err" >"$T/man" || fail "man $m"
		grep -q '^NAME' "$T/man" || fail "$m has no NAME"
		# groff's warnings on wide tables ("cannot adjust line",
		# "table wider than line width") are layout, not errors
		! grep -qi "error" "$T/err" ||
			fail "man $m: $(cat "$T/err")"
		lexgrog "$D4MAN/$m" | grep -q ': "' || fail "$m: no whatis entry"
	done
	MANWIDTH=80 man -l "$D4MAN/d4node.ini.5" | grep -q 'rt_priority' ||
		fail "d4node.ini(5) lacks the [node] keys"
	pass "man pages d4node(8), d4ctl(1), d4node.ini(5) render, with whatis entries"
else
	echo "SKIP: no man pages built (pandoc missing: scripts/setup installs it)"
fi

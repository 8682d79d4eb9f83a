#!/usr/bin/env bash
# d4ctl against two real nodes (issue 15's d4ctl items), no PTP, nodes
# found through the config file:
# - routes name the TX node's channels: a route from TX 3-6 (the second
#   source's 1-4) reads FROM 3-6@A;
# - latency 4@B sets the latency of the subscription that feeds RX 4
#   (rx3-6); an RX channel no route feeds, or a range two feed, is said so;
# - unroute 4@B of the range 3-6@B keeps 3,5-6@B playing (meters);
# - --host and a NODE operand that name different nodes are refused and
#   change nothing;
# - a write refused for its token prints no step on stdout, says which
#   token source it used, and changes nothing; a plan whose second step
#   fails undoes the first;
# - preset save, apply --dry-run (the difference, no change), apply.
. "$(dirname "$0")/../lib.sh"

lab=d4c$$
d4_lab_hosts $lab 3
{ cat <<INI; } >"$T/A.ini"
[node]
name = A
[discovery]
interface = eth0
mdns = off
[source mic]
type = tone
channels = 2
[source program]
type = tone
channels = 4
level = -20
INI
printf '[node]\nname = B\nrx_channels = 8\n[discovery]\ninterface = eth0\nmdns = off\n' >"$T/B.ini"
d4_node $lab-h2 A "$T/A.ini"
d4_node $lab-h3 B "$T/B.ini"
for n in A B; do d4_wait_log "$T/$n.log" "api: listening" 10; done
ta=$(cat "$T/state/A/token")
tb=$(cat "$T/state/B/token")
cfg() { # A-TOKEN B-TOKEN
	printf '[node A]\nhost = 10.77.0.2:8080\ntoken = %s\n' "$1"
	printf '[node B]\nhost = 10.77.0.3:8080\ntoken = %s\n' "$2"
}
cfg "$ta" "$tb" >"$T/good.conf"
d4ctl() {
	ip netns exec $lab-h1 "$D4CTL" --config "$T/good.conf" --browse 0.2 "$@"
}
routes() { d4ctl routes >"$T/routes.txt" && cat "$T/routes.txt"; }

d4ctl route 3-6@A 3-6@B --latency 100 >"$T/route.out" || fail "route 3-6@A 3-6@B"
grep -q "B: subscribe rx3-6" "$T/route.out" || fail "route printed: $(cat "$T/route.out")"
routes | grep -q "^3-6@B  *3-6@A " || fail "routes: $(cat "$T/routes.txt")"
d4ctl routes --json | grep -q '"tx_channels": \[' || fail "routes --json lacks tx_channels"
pass "route 3-6@A (program 1-4) -> 3-6@B: routes says FROM 3-6@A"

# latency by RX channel: the subscription that feeds it, whatever its name
d4ctl latency 4@B 90 >"$T/lat.out" || fail "latency 4@B 90: $(cat "$T/lat.out")"
grep -qx "B/rx3-6: latency 90 ms" "$T/lat.out" || fail "latency 4@B printed: $(cat "$T/lat.out")"
rc=0; d4ctl latency 8@B 90 >"$T/lat.out" 2>&1 || rc=$?
[ $rc = 1 ] && grep -q "8@B: RX 8 is not routed" "$T/lat.out" ||
	fail "latency 8@B (not routed): rc $rc, $(cat "$T/lat.out")"
rc=0; d4ctl latency 5-8@B 90 >"$T/lat.out" 2>&1 || rc=$?
[ $rc = 1 ] && grep -q "more than one route" "$T/lat.out" ||
	fail "latency 5-8@B (partly routed): rc $rc, $(cat "$T/lat.out")"
d4ctl latency 3-6@B 100 >/dev/null || fail "latency 3-6@B 100"
pass "latency 4@B sets rx3-6's; RX 8 not routed, and 5-8 partly, say so (rc 1)"

d4ctl unroute 4@B >"$T/unroute.out" || fail "unroute 4@B"
routes | grep -q "^3,5-6@B  *3,5-6@A " || fail "after unroute 4@B: $(cat "$T/routes.txt")"
grep -q "@B.*4@A\|^4@B" "$T/routes.txt" && fail "4@B still routed: $(cat "$T/routes.txt")"
# the kept channels play: the subscription meters the stream (the flow's
# 4 channels), program's tone at -20 dBFS
for i in $(seq 1 50); do
	d4ctl meters B --json >"$T/meters.json" &&
		python3 - "$T/meters.json" <<'PY' && break
import json, sys
m = json.load(open(sys.argv[1]))
s = [b for b in m["subscriptions"] if b["name"] == "rx3_5-6"]
ok = s and len(s[0]["channels"]) == 4 and all(
    c["peak_dbfs"] is not None and -21 < c["peak_dbfs"] < -19
    for c in s[0]["channels"])
sys.exit(0 if ok else 1)
PY
	[ $i = 50 ] && fail "rx3_5-6 is not playing the tone: $(cat "$T/meters.json")"
	sleep 0.2
done
pass "unroute 4@B split 3-6@B: 3,5-6@B from 3,5-6@A kept, playing"

# --host and NODE naming two nodes: refused, nothing renamed
rc=0
ip netns exec $lab-h1 "$D4CTL" --config "$T/good.conf" --host 10.77.0.2:8080 \
	name B X >"$T/h.out" 2>"$T/h.err" || rc=$?
[ $rc = 2 ] || fail "--host A name B X: exit $rc, want 2"
grep -q "is not 'B' (the config file puts it at 10.77.0.3:8080)" "$T/h.err" ||
	fail "--host A name B X said: $(cat "$T/h.err")"
# no config to tell: A is asked its name
rc=0
ip netns exec $lab-h1 "$D4CTL" --config /dev/null --host 10.77.0.2:8080 \
	--token "$ta" name B X >"$T/h.out" 2>"$T/h.err" || rc=$?
[ $rc = 2 ] || fail "--host A name B X (no config): exit $rc, want 2"
grep -q "is node 'A', not 'B'" "$T/h.err" || fail "--host A name B X said: $(cat "$T/h.err")"
ip netns exec $lab-h1 "$D4CTL" --host 10.77.0.2:8080 name 10.77.0.3:8080 X \
	2>"$T/h.err" && fail "--host A name ADDR-OF-B X was taken"
grep -q "different nodes" "$T/h.err" || fail "--host A name ADDR X said: $(cat "$T/h.err")"
d4ctl show A --json | grep -q '"name": "A"' || fail "A was renamed"
d4ctl show B --json | grep -q '"name": "B"' || fail "B was renamed"
ip netns exec $lab-h1 "$D4CTL" --config "$T/good.conf" --host 10.77.0.2:8080 \
	name A A >/dev/null || fail "--host A name A A (they agree) was refused"
pass "--host and NODE that disagree: exit 2, nothing renamed"

# tokens: a refused write prints no step and names its token's source
# (the table: a note's live reason, a packet count, may change)
before=$(d4ctl routes | grep -v '^note: ')
refused() { # SOURCE-TEXT d4ctl-args...
	local want=$1 rc
	shift
	rc=0
	ip netns exec $lab-h1 "$@" route 1-2@A 1-2@B >"$T/t.out" 2>"$T/t.err" || rc=$?
	[ $rc = 1 ] || fail "$*: exit $rc, want 1: $(cat "$T/t.err")"
	[ -s "$T/t.out" ] && fail "$*: a refused write printed: $(cat "$T/t.out")"
	grep -q -- "$want" "$T/t.err" || fail "$*: no '$want' in: $(cat "$T/t.err")"
	grep -q "nothing was changed" "$T/t.err" || fail "$*: $(cat "$T/t.err")"
}
refused "the token came from D4_TOKEN" env D4_TOKEN=wrong "$D4CTL" \
	--config "$T/good.conf" --browse 0.2
refused "the token came from --token" "$D4CTL" --config "$T/good.conf" \
	--token wrong --browse 0.2
cfg wrong "$tb" >"$T/bad-a.conf"
refused "the token came from the config file $T/bad-a.conf, \[node A\]" \
	"$D4CTL" --config "$T/bad-a.conf" --browse 0.2
printf '[node A]\nhost = 10.77.0.2:8080\n[node B]\nhost = 10.77.0.3:8080\n' >"$T/none.conf"
refused "no token" "$D4CTL" --config "$T/none.conf" --browse 0.2
# A's token right, B's wrong: A's step is done, B's refused, A's undone
cfg "$ta" wrong >"$T/bad-b.conf"
refused "undone: A: DELETE /flows/uc1-2" "$D4CTL" --config "$T/bad-b.conf" \
	--browse 0.2
[ "$(d4ctl routes | grep -v '^note: ')" = "$before" ] || fail "a refused route changed the routes: $(d4ctl routes)"
d4ctl flow list A --json | grep -q uc1-2 && fail "A kept the flow of a route undone"
pass "refused writes: no step printed, the token's source named, nothing changed (a half-done plan undone)"

# presets
d4ctl route 1-2@A 1-2@B --latency 100 >/dev/null || fail "route 1-2@A 1-2@B"
d4ctl preset save "$T/p.json" | grep -q "saved 2 routes of 2 nodes" ||
	fail "preset save: $(cat "$T/p.json")"
d4ctl unroute 1-2@B >/dev/null || fail "unroute 1-2@B"
d4ctl route 6@A 7@B >/dev/null || fail "route 6@A 7@B"
d4ctl preset apply --dry-run "$T/p.json" >"$T/dry.txt" || fail "apply --dry-run"
grep -q "^- 7@B from 6@A" "$T/dry.txt" && grep -q "^+ 1-2@B from 1-2@A" "$T/dry.txt" &&
	grep -q "^= 3,5-6@B from 3,5-6@A" "$T/dry.txt" || fail "the difference: $(cat "$T/dry.txt")"
routes | grep -q "^7@B " || fail "--dry-run changed the routes"
d4ctl preset apply "$T/p.json" >"$T/apply.txt" || fail "preset apply: $(cat "$T/apply.txt")"
routes >/dev/null
grep -q "^1-2@B  *1-2@A " "$T/routes.txt" && grep -q "^3,5-6@B  *3,5-6@A " "$T/routes.txt" &&
	! grep -q "^7@B" "$T/routes.txt" || fail "after apply: $(cat "$T/routes.txt")"
d4ctl preset apply "$T/p.json" | grep -q "^[-+~]" && fail "applying it again would change something"
echo '{"d4ctl_preset": 1, "nodes": ["B"], "routes": [{"rx_node": "B"}]}' >"$T/bad.json"
d4ctl preset apply "$T/bad.json" 2>"$T/bad.err" && fail "a bad preset was applied"
grep -q "route 1: needs" "$T/bad.err" || fail "bad preset: $(cat "$T/bad.err")"
pass "preset save, apply --dry-run (- 7@B, + 1-2@B, no change), apply, apply again (no change); a bad file refused"

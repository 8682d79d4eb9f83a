#!/usr/bin/env bash
# Three nodes on two subnets with a registry (docs/nmos.md, docs/d4ctl.md
# "Through a registry"): subnet 1 holds the registry and the controller
# (a1) and node A (a2); subnet 2 nodes B (b1) and C (b2); a router joins
# them and no mDNS crosses it, so every node is given the registry's URL.
# - all three register; d4ctl --registry lists the three, routes A's
#   unicast flow to B's RX 1-2 and C's to A's RX 1-2 through IS-05,
#   across the router, and shows both routes;
# - B's and A's recordings of their RX 1-2 are the files A and C sent,
#   sample for sample, at the files' PTP times (free-run: the hosts
#   share one clock);
# - all three heartbeat; the registry restarts empty and all three
#   register again (their heartbeats get 404), their routes with them;
# - d4ctl --registry unroute takes B's route down, in IS-04 too.
. "$(dirname "$0")/../lib.sh"

lab=d4s$$
d4_lab_subnets $lab 2 2
d4_witness
d4_nmos_registry $lab-a1 8235
reg=$!
REG=http://10.77.1.1:8235
secs=3
"$D4WAV" gen "$T/a.wav" --channels 2 --seconds $secs --seed 41
"$D4WAV" gen "$T/c.wav" --channels 2 --seconds $secs --seed 42
# The files start once the routes are made: registration and two routes
# fit in 40 s here, loaded or not; the test says so if not.
start=$(($(d4_ptp_now) + 40))
node_ini() { # NAME FILE
	cat <<INI
[node]
name = $1
rx_channels = 2
[nmos]
enable = on
registry = $REG
dns_sd = off
latency = 100ms
[source file]
type = file
path = $2
loop = false
start = $start
[flow uni]
source = file
destination = 10.77.1.1:5999
[sink take]
rx = 1-2
path = $T/$1.wav
start = $start
duration = $secs
INI
}
node_ini A "$T/a.wav" >"$T/A.ini"
node_ini B "$T/a.wav" | sed '/^\[source/,/^start = /d; /^\[flow/,/^destination/d' >"$T/B.ini"
node_ini C "$T/c.wav" >"$T/C.ini"
d4_node $lab-a2 A "$T/A.ini"
a=$!
d4_node $lab-b1 B "$T/B.ini"
b=$!
d4_node $lab-b2 C "$T/C.ini"
c=$!
mkdir -p "$T/d4ctl"
for n in A B C; do
	d4_wait_log "$T/$n.log" "nmos: node " 10
	# B's token as `d4ctl login` and a rename leave it: under B's uuid,
	# labelled with its old name (found by the uuid, asked of B's d4 API)
	if [ $n = B ]; then
		printf '[node oldB]\nuuid = %s\ntoken = %s\n' \
			"$(cat "$T/state/B/uuid")" "$(cat "$T/state/B/token")"
	else
		printf '[node %s]\ntoken = %s\n' $n "$(cat "$T/state/$n/token")"
	fi
done >"$T/d4ctl/config"
d4ctl() {
	env XDG_CONFIG_HOME="$T" ip netns exec $lab-a1 "$D4CTL" \
		--registry $REG "$@"
}
printf '{"T": "%s", "reglog": "%s"}\n' "$T" "$T/reg-$lab-a1-8235.log" >"$T/env.json"
drive() { ip netns exec $lab-a1 "$D4_PY" "$(dirname "$0")/subnets.py" "$1" "$T/env.json"; }

# The routes first: the files start 40 s after the nodes.
drive registered || fail "A, B and C registering"
d4ctl list --json >"$T/list.json" || fail "d4ctl --registry list"
"$D4_PY" -c 'import json, sys
nodes = json.load(open(sys.argv[1]))
assert sorted(n["name"] for n in nodes) == ["A", "B", "C"], nodes
assert {n["address"] for n in nodes} == {"10.77.1.2:8080", "10.77.2.1:8080", "10.77.2.2:8080"}, nodes' \
	"$T/list.json" || fail "d4ctl --registry list: $(cat "$T/list.json")"
d4ctl list | tee "$T/list.txt"
pass "d4ctl --registry lists A (10.77.1.2), B (10.77.2.1) and C (10.77.2.2)"
d4ctl route --dry-run uni@A 1-2@B >"$T/dry.txt" || fail "route --dry-run"
grep -q '^PATCH http://10.77.1.2:8080/x-nmos/connection/v1.1/single/senders/.*"destination_ip":"10.77.2.1"' "$T/dry.txt" ||
	fail "the dry run: $(cat "$T/dry.txt")"
d4ctl route uni@A 1-2@B 2>"$T/route.err" || fail "route uni@A 1-2@B: $(cat "$T/route.err")"
grep -q HTTP "$T/route.err" && fail "route uni@A 1-2@B said: $(cat "$T/route.err")"
d4ctl route uni@C 1-2@A || fail "route uni@C 1-2@A"
[ "$(d4_ptp_now)" -lt "$start" ] ||
	fail "the routes took until after the files started (a loaded machine?)"
d4ctl route uni@C nothing@A 2>"$T/noroute.err" && fail "a route to no receiver was taken"
grep -q "no receiver 'nothing@A'" "$T/noroute.err" || fail "no receiver: $(cat "$T/noroute.err")"
drive routed || fail "the routes in IS-04"
d4ctl routes | tee "$T/routes.txt"
grep -q "RX 1-2@B .*uni@A" "$T/routes.txt" && grep -q "RX 1-2@A .*uni@C" "$T/routes.txt" ||
	fail "d4ctl --registry routes: $(cat "$T/routes.txt")"
pass "d4ctl --registry routed uni@A -> RX 1-2@B and uni@C -> RX 1-2@A across the router (IS-05), B's token found by its uuid"

while [ "$(d4_ptp_now)" -lt $((start + secs + 1)) ]; do sleep 0.2; done
for i in $(seq 1 40); do
	"$D4WAV" cmp "$T/a.wav" "$T/B.wav" --align none >/dev/null 2>&1 &&
		"$D4WAV" cmp "$T/c.wav" "$T/A.wav" --align none >/dev/null 2>&1 && break
	[ $i = 40 ] && break
	sleep 0.25
done
# A sender's skips (its media thread held past its catch-up) and a
# receiver's late packets only where a machine stall (the d4stall
# witness) explains them; the recordings are judged around them.
skipped_of() { d4_api "$1" "$2" GET /flows | python3 -c 'import json, sys
print(sum(f["stats"]["skipped"] for f in json.load(sys.stdin)))'; }
late_of() { d4_api "$1" "$2" GET /stats | python3 -c 'import json, sys
print(sum(s["late"] for s in json.load(sys.stdin)["subscriptions"].values()))'; }
askip=$(skipped_of $lab-a2 A) cskip=$(skipped_of $lab-b2 C)
alate=$(late_of $lab-a2 A) blate=$(late_of $lab-b1 B)
d4_check_skipped "A" "$askip" 1000
d4_check_skipped "C" "$cskip" 1000
d4_check_late "A" "$alate" 100000 1000
d4_check_late "B" "$blate" 100000 1000
d4_cmp_stalled "B's RX 1-2 (A's file)" "$T/a.wav" "$T/B.wav" "$askip" "$blate"
d4_cmp_stalled "A's RX 1-2 (C's file)" "$T/c.wav" "$T/A.wav" "$cskip" "$alate"
pass "B recorded A's file and A recorded C's at the files' PTP times, across the router (judged above)"

# The registry restarts empty: all three register again, routes and all.
drive heartbeats || fail "A, B and C heartbeating"
kill -9 $reg
d4_nmos_registry $lab-a1 8235
reg=$!
drive again || fail "registering again after the registry's restart"
drive routed || fail "the routes in IS-04 after the registry's restart"

d4ctl unroute 1-2@B || fail "unroute 1-2@B"
drive unrouted || fail "B's route in IS-04 after unroute"
d4ctl routes >"$T/routes2.txt"
grep -q "@B" "$T/routes2.txt" && fail "B still routed: $(cat "$T/routes2.txt")"
pass "d4ctl --registry unroute 1-2@B: B's receiver and A's sender inactive"
kill -INT $a $b $c
for p in $a $b $c; do d4_wait_pid $p 15; done

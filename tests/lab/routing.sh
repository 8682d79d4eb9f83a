#!/usr/bin/env bash
# Routing lab, driven only through d4ctl: a grandmaster (h1, also the
# controller's host) and three nodes A (h2), B (h3), C (h4), each host with
# a ptp4l and an avahi-daemon. d4ctl, run on h1, finds the nodes by mDNS.
# - d4ctl list shows A, B and C, all locked to the grandmaster;
# - route 1-2@A -> 1-2@B and 1-2@A -> 3-4@C: one unicast flow on A with
#   two receivers; B records its RX 1-2, C its RX 3-4: both bit-exact, at
#   the file's PTP index;
# - unroute 3-4@C while B records: B loses no packet, A's flow is kept
#   (B still on it); a write with a wrong token gets 401 and changes
#   nothing; malformed JSON gets 400 and a 70 kB body 413 (curl: d4ctl
#   sends neither) while A streams to B;
# - B restarts: its route is back (from its state file) with no d4ctl
#   action, and audio flows again;
# - d4ctl name renames C (bad and taken names refused); the network sees
#   the new name and it survives C's restart.
# Latency 10 ms: see two_hosts.sh.
. "$(dirname "$0")/../lib.sh"

lab=d4r$$
secs=4
d4_lab_hosts $lab 4
d4_witness
for h in 1 2 3 4; do d4_avahi $lab-h$h; done
d4_ptp_gm $lab-h1
for h in 2 3 4; do d4_ptp_follower $lab-h$h; done
"$D4WAV" gen "$T/in.wav" --channels 2 --seconds $secs --seed 31

# The file starts once the routes are made: lock (~10 s) and four d4ctl
# commands fit in 25 s on this machine; the test fails, saying so, if not.
start=$(($(d4_lab_ptp_now) + 25))
node_ini() { # NAME HOST: [node], [discovery], [ptp]
	printf '[node]\nname = %s\n[discovery]\ninterface = eth0\n' "$1"
	d4_ptp_ini "$2"
}
{ node_ini A $lab-h2; cat <<INI; } >"$T/A.ini"
[source program]
type = file
path = $T/in.wav
loop = false
start = $start
INI
{ node_ini B $lab-h3; cat <<INI; } >"$T/B.ini"
[sink take]
rx = 1-2
path = $T/B.wav
start = $start
duration = $secs
INI
# C records only the first 1.5 s: it is unrouted 2 s in.
{ node_ini C $lab-h4; cat <<INI; } >"$T/C.ini"
[sink take]
rx = 3-4
path = $T/C.wav
start = $start
duration = 1.5
INI
d4_node $lab-h2 A "$T/A.ini"
a=$!
d4_node $lab-h3 B "$T/B.ini"
b=$!
d4_node $lab-h4 C "$T/C.ini"
c=$!
for n in A B C; do d4_wait_log "$T/$n.log" "api: listening" 5; done
# One token per node, in d4ctl's config file.
mkdir -p "$T/d4ctl"
for n in A B C; do
	printf '[node %s]\ntoken = %s\n' $n "$(cat "$T/state/$n/token")"
done >"$T/d4ctl/config"
d4ctl() {
	env "$(d4_host_bus $lab-h1)" XDG_CONFIG_HOME="$T" \
		ip netns exec $lab-h1 "$D4CTL" "$@"
}

# d4ctl list: three nodes, each locked to h1's grandmaster.
for i in $(seq 1 40); do
	gm=$(d4_ptp_gm_id "$T/$lab-h1-ptp4l.log")
	d4ctl list --json >"$T/list.json" 2>"$T/list.err" &&
		python3 - "$T/list.json" "$gm" <<'PY' && break
import json, sys
nodes = json.load(open(sys.argv[1]))
ok = {n["name"] for n in nodes
      if n.get("clock", {}).get("state") == "locked"
      and n["clock"].get("gm") == sys.argv[2]}
sys.exit(0 if ok >= {"A", "B", "C"} and len(nodes) == 3 else 1)
PY
	[ $i = 40 ] && fail "d4ctl list: not 3 locked nodes: $(cat "$T/list.json" "$T/list.err")"
	sleep 0.5
done
d4ctl list | tee "$T/list.txt"
[ "$(grep -c " locked " "$T/list.txt")" = 3 ] || fail "d4ctl list table: $(cat "$T/list.txt")"
pass "d4ctl list: A, B and C, locked to grandmaster $gm"

d4ctl route 1-2@A 1-2@B --latency 100 || fail "route 1-2@A 1-2@B"
d4ctl route 1-2@A 3-4@C --latency 100 || fail "route 1-2@A 3-4@C"
d4ctl flow list A --json >"$T/flows.json" || fail "flow list A"
d4ctl vars A >"$T/vars.txt" || fail "vars A"
python3 - "$T/flows.json" <<'PY' || fail "A's flows: $(cat "$T/flows.json")"
import json, sys
flows = json.load(open(sys.argv[1]))
assert len(flows) == 1 and not flows[0]["multicast"], flows
assert flows[0]["channels"] == [1, 2], flows
PY
grep -q "10.77.0.3:5004, 10.77.0.4:5004" "$T/vars.txt" ||
	fail "A's relay list is not B and C: $(cat "$T/vars.txt")"
d4ctl routes | tee "$T/routes.txt"
grep -q "1-2@B .*1-2@A.*unicast" "$T/routes.txt" &&
	grep -q "3-4@C .*1-2@A.*unicast" "$T/routes.txt" ||
	fail "d4ctl routes: $(cat "$T/routes.txt")"
[ "$(d4_lab_ptp_now)" -lt "$start" ] ||
	fail "the routes took until after the file started (a loaded machine?)"
pass "routed 1-2@A to 1-2@B and 3-4@C: one unicast flow, two receivers"

# 2 s into the file: unroute C; a write with a wrong token changes nothing.
while [ "$(d4_lab_ptp_now)" -lt $((start + 2)) ]; do sleep 0.1; done
d4ctl unroute 3-4@C || fail "unroute 3-4@C"
d4ctl --token wrong route 1-2@A 5-6@C 2>"$T/401.err" && fail "a wrong token was taken"
grep -q 401 "$T/401.err" || fail "wrong token: $(cat "$T/401.err")"
# d4ctl sends only good JSON: malformed and oversize bodies by curl, to
# A while it streams to B (whose recording below must lose nothing).
api_a() {
	ip netns exec $lab-h1 curl -s -o /dev/null -w '%{http_code}' -X POST \
		-H "Authorization: Bearer $(cat "$T/state/A/token")" \
		-H 'Content-Type: application/json' "$@" \
		http://10.77.0.2:8080/api/v1/flows
}
r=$(api_a -d '{"name": "x", ')
[ "$r" = 400 ] || fail "malformed JSON to A: HTTP $r, want 400"
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/big.json"
r=$(api_a --data-binary @"$T/big.json")
[ "$r" = 413 ] || fail "a 70 kB body to A: HTTP $r, want 413"
d4ctl routes >"$T/routes2.txt"
grep -q "@C" "$T/routes2.txt" && fail "C still routed: $(cat "$T/routes2.txt")"
grep -q "1-2@B .*1-2@A" "$T/routes2.txt" || fail "B's route went: $(cat "$T/routes2.txt")"
d4ctl vars A | grep -q "\[10.77.0.3:5004\]" || fail "A's relay list: $(d4ctl vars A)"
pass "unrouted 3-4@C; a wrong token got 401 and changed nothing; bad JSON 400, 70 kB 413"

# After B's recording: B's stats, both recordings.
while [ "$(d4_lab_ptp_now)" -lt $((start + secs + 1)) ]; do sleep 0.2; done
d4ctl stats B --json >"$T/statsB.json" || fail "stats B"
python3 - "$T/statsB.json" <<'PY' || fail "B's subscription: $(cat "$T/statsB.json")"
import json, sys
st = json.load(open(sys.argv[1]))["subscriptions"]["rx1-2"]
assert st["lost"] == 0, st
assert st["received"] >= 4000, st
PY
# late: only what the machine's stalls explain, and then the recording
# is not judged sample for sample (tests/lib.sh)
late=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["subscriptions"]["rx1-2"]["late"])' "$T/statsB.json")
d4_check_late "B's RX 1-2" "$late" 100000 1000
# A's flow skipped packets only where a machine stall held it past its
# catch-up (a CI rehearsal beside other work: 577); the recordings are
# then judged around them (tests/lib.sh d4_cmp_stalled)
d4ctl flow list A --json >"$T/flowsA.json" || fail "flow list A"
askip=$(python3 -c 'import json, sys
print(sum(f["stats"]["skipped"] for f in json.load(open(sys.argv[1]))))' "$T/flowsA.json")
d4_check_skipped "A" "$askip" 1000
d4_cmp_stalled "B's RX 1-2" "$T/in.wav" "$T/B.wav" "$askip" "$late"
[ "$("$D4WAV" info "$T/C.wav" | sed -n 's/.*frames=\([0-9]*\).*/\1/p')" = 72000 ] ||
	fail "C's recording is not 1.5 s: $("$D4WAV" info "$T/C.wav")"
"$D4WAV" cut "$T/in.wav" "$T/in-1.5s.wav" --skip 0 --frames 72000
d4_cmp_stalled "C's RX 3-4 (the file's first 1.5 s)" "$T/in-1.5s.wav" "$T/C.wav" "$askip"
pass "B (RX 1-2, 0 lost after C left) and C (RX 3-4) recorded the file (as judged above)"

# B restarts: its route comes back from its state file.
kill $b
d4_wait_pid $b 10 || fail "B did not stop cleanly"
d4_node $lab-h3 B "$T/B.ini"
b=$!
d4_wait_log "$T/B.log" "state: restored 0 flow\(s\), 1 subscription" 10
for i in $(seq 1 30); do
	d4ctl sub list B --json >"$T/subB.json" 2>/dev/null &&
		python3 - "$T/subB.json" <<'PY' && break
import json, sys
subs = json.load(open(sys.argv[1]))
s = [s for s in subs if s["name"] == "rx1-2"]
sys.exit(0 if s and s[0]["rx_channels"] == [1, 2]
         and s[0]["state"] == "receiving" else 1)
PY
	[ $i = 30 ] && fail "B's route did not come back: $(cat "$T/subB.json")"
	sleep 0.5
done
d4ctl routes | grep -q "1-2@B .*1-2@A.*unicast" || fail "routes after B's restart"
pass "B restarted: route 1-2@A -> 1-2@B back from its state, receiving"

# The last receiver goes: A deletes its flow, and a restart of A replays
# no statement on the flow's relay list (the list went with the flow).
d4ctl unroute 1-2@B || fail "unroute 1-2@B"
d4ctl flow list A --json | grep -q uc1-2 && fail "A kept its flow with no receivers"
seenA=$(grep -c "mdns: node 'A' at" "$T/C.log" || true)
kill $a
d4_wait_pid $a 10 || fail "A did not stop cleanly"
d4_node $lab-h2 A "$T/A.ini"
a=$!
d4_wait_log "$T/A.log" "state: restored 0 flow\(s\), 0 subscription\(s\), 0 D4 variable value\(s\)" 10
# C's name check below knows the network's names by mDNS: it must know
# A again (a loaded CI rehearsal renamed C to 'A' while A's announcement
# had not reached it). C knows A when its last word of A is "at": it saw
# A come back, or it never saw A go (its avahi missed the goodbye; a
# rehearsal waited 30 s for a return that never came). Held for 3 s, so
# a goodbye still on its way is not taken for knowing.
held=0
for i in $(seq 1 80); do
	last=$(grep -E "mdns: node 'A' (at|gone)" "$T/C.log" | tail -n 1)
	case "$last" in *"node 'A' at"*) held=$((held + 1)) ;; *) held=0 ;; esac
	[ $held -ge 6 ] && break
	[ $i = 80 ] && fail "C did not know A again by mDNS within 40 s: $(grep "mdns: node 'A'" "$T/C.log" | tail -n 4 | tr '\n' '|')"
	sleep 0.5
done
echo "C knows A: seen $(($(grep -c "mdns: node 'A' at" "$T/C.log") - seenA)) more time(s) since A's restart"
grep -q "refused\|not restored" "$T/A.log" && fail "A's restart: $(grep "refused\|not restored" "$T/A.log")"
pass "unrouted the last receiver: A's flow deleted, and nothing of it replayed at A's restart"

# Rename C: bad names and a name taken on the network are refused with
# the rule quoted; the network sees the new name, and it survives C's
# restart (its state directory stays under its config name).
d4ctl name C bad_name 2>"$T/name.err" && fail "'bad_name' was taken"
grep -q "400.*letters, digits and '-'" "$T/name.err" || fail "bad name: $(cat "$T/name.err")"
d4ctl name C A 2>"$T/name.err" && fail "C was allowed to be called A"
grep -q "409.*another node.*'A'" "$T/name.err" || fail "taken name: $(cat "$T/name.err")"
d4ctl name C stage-c >"$T/name.out" || fail "name C stage-c"
# d4ctl's config knew C's token by name only (a section written by
# hand): d4ctl keeps C's uuid in it, and finds the token under the new
# name (a new user was locked out by a rename).
grep -q "^d4ctl's config: \[node C\] now holds the node's uuid" "$T/name.out" ||
	fail "d4ctl name did not keep C's uuid: $(cat "$T/name.out")"
python3 - "$T/d4ctl/config" <<'PY' || fail "C's section: $(cat "$T/d4ctl/config")"
import re, sys
text = open(sys.argv[1]).read()
sec = re.search(r"^\[node C\]\n((?:(?!\[).*\n)*)", text, re.M).group(1)
sys.exit(0 if re.search(r"^uuid = [0-9a-f-]{36}$", sec, re.M) and "token = " in sec else 1)
PY
list_names() {
	for i in $(seq 1 40); do
		d4ctl list --json >"$T/list.json" 2>"$T/list.err" &&
			python3 - "$T/list.json" "$@" <<'PY' && return 0
import json, sys
names = sorted(n["name"] for n in json.load(open(sys.argv[1])))
sys.exit(0 if names == sorted(sys.argv[2:]) else 1)
PY
		sleep 0.5
	done
	fail "d4ctl list does not show $*: $(cat "$T/list.json" "$T/list.err")"
}
list_names A B stage-c
d4ctl show stage-c --json | grep -q '"name": "stage-c"' || fail "show stage-c"
kill $c
d4_wait_pid $c 10 || fail "C did not stop cleanly"
d4_node $lab-h4 C "$T/C.ini"
c=$!
d4_wait_log "$T/C.log" "node: called 'stage-c', its saved name \(the config says 'C'" 10
list_names A B stage-c
d4ctl name stage-c C >/dev/null || fail "name stage-c C"
list_names A B C
pass "renamed C to stage-c and back with d4ctl; bad and taken names refused; the name survived a restart"

# Each stops within 30 s (systemd gives 90): a node of a loaded CI
# rehearsal took over 10 s after "signal 15: stopping", its mDNS
# withdrawal (avahi-client's D-Bus calls to a busy avahi-daemon) the
# likely wait; how long each took is said.
t_stop=$(date +%s.%N)
for p in $a $b $c; do kill $p; done
for p in $a $b $c; do
	d4_wait_pid $p 30 || fail "a node did not stop cleanly"
done
echo "the three nodes stopped in $(python3 -c "import time; print('%.1f' % (time.time() - $t_stop))") s"

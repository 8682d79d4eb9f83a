#!/usr/bin/env bash
# Discovery lab: forged SAP against a subscription by name. SAP has no
# authentication: any host can announce any session name. What one
# forger must not do (an attacker's reports):
# (a) move a by-name subscription onto a unicast port (it would take
#     another route's or a D4 loop's packets: they bind 0.0.0.0:PORT,
#     or squat a port one may want), or onto a group and port a D4 loop
#     receives on. Refused, said, and the other route plays on.
# (b) flood the log by moving the stream every few ms: a few moves per
#     10 s are said.
# (c) make a live route read dead or late while it is moved about: the
#     state counts what each replaced receiver got (the stream plays on
#     at every address here, as a device moving its stream would).
# Node A on h1 sends one tone on 239.69.78.1 and .2 (main, alt) and
# unicast to B:6000 (uni); the forger on h1 announces session "victim".
. "$(dirname "$0")/../lib.sh"

lab=d4fg$$
d4_lab_hosts $lab 2
d4_witness
cat >"$T/A.ini" <<INI
[node]
name = A
[discovery]
interface = eth0
mdns = off
[source tone]
type = tone
channels = 2
[flow main]
source = tone
destination = 239.69.78.1:5004
interface = eth0
sdp_file = $T/main.sdp
[flow alt]
source = tone
destination = 239.69.78.2:5004
interface = eth0
sdp_file = $T/alt.sdp
[flow uni]
source = tone
destination = 10.77.0.2:6000
interface = eth0
sdp_file = $T/uni.sdp
INI
d4_node $lab-h1 A "$T/A.ini" --run-seconds 300
a=$!
for f in main alt uni; do d4_wait_file "$T/$f.sdp" 10; done

cat >"$T/B.ini" <<INI
[node]
name = B
status_interval = 1
[discovery]
interface = eth0
mdns = off
# The largest latency: only a machine stall of 100 ms (the witness) can
# make packets late; what is judged is the node's counting.
[subscription u1]
sdp = $T/uni.sdp
latency = 100ms
[subscription s1]
stream = victim
interface = eth0
latency = 100ms
INI
# The forger's announcement: SDP file $1 as session "victim", at $2
# (ADDR:PORT) when given; written where the announcer reads it.
forge() {
	python3 - "$T/$1.sdp" "${2:-}" "$T/victim.tmp" "$RANDOM" <<'PY'
import sys
src, at, out, ver = sys.argv[1:5]
lines = []
for l in open(src).read().replace("\r\n", "\n").split("\n"):
    if l.startswith("s="): l = "s=victim"
    if l.startswith("o="): l = "o=- 77 %s IN IP4 10.77.0.1" % ver
    if at and l.startswith("c="): l = "c=IN IP4 " + at.split(":")[0]
    if at and l.startswith("m=audio"):
        p = l.split(" "); p[1] = at.split(":")[1]; l = " ".join(p)
    if at and l.startswith("a=source-filter"): continue
    if l: lines.append(l)
open(out, "w").write("\r\n".join(lines) + "\r\n")
PY
	mv "$T/victim.tmp" "$T/victim.sdp"
}
forge main
d4_spawn "$T/sap.log" ip netns exec $lab-h1 python3 "$D4_SRC/tests/tools/sap_announce.py" \
	--hash 0x6666 --interval 0.1 "$T/victim.sdp"
sap=$!
d4_node $lab-h2 B "$T/B.ini" --run-seconds 300
b=$!
d4_wait_log "$T/B.log" "subscription s1: stream 'victim' \(SAP\) at 239.69.78.1:5004" 15
d4_wait_log "$T/B.log" "subscription s1: waiting -> receiving" 15
d4_wait_log "$T/B.log" "subscription u1: waiting -> receiving" 15
d4_wait_log "$T/B.log" "api: listening" 5
# A D4 loop of B's on a group's port.
D4_TOKEN=$(cat "$D4_STATE_DIR/B/token") ip netns exec $lab-h2 "$D4CTL" \
	exec 10.77.0.2:8080 'loop spare on udp 239.69.78.9:7000 {
pkt = recv()
}' >/dev/null || fail "d4ctl exec of loop spare"

# (a) onto u1's unicast port (SAP names multicast streams), then onto
# the loop's group and port
forge main 10.77.0.2:6000
d4_wait_log "$T/B.log" "subscription s1: stream 'victim': its SDP names a unicast address \(10.77.0.2:6000\): a stream by name is a multicast one; not followed" 10
forge main 239.69.78.9:7000
d4_wait_log "$T/B.log" "subscription s1: stream 'victim': port 7000: D4 loop 'spare' receives on it \(udp 239.69.78.9:7000\): not followed there" 10
grep -Eq "subscription s1: stream 'victim' \(SAP\) moved to (10.77.0.2|239.69.78.9)" "$T/B.log" &&
	fail "s1 followed a forged SDP: $(grep 'moved to' "$T/B.log")"
pass "(a) a forged SDP onto u1's unicast port and onto a D4 loop's group: refused, said, not followed"

# (b, c) moved between main and alt every 20 ms for 12 s (past a 10 s
# window of the log limit), by one forger
kill $sap
d4_wait_pid $sap 5 || true
forge alt
cp "$T/victim.sdp" "$T/flip-alt.sdp"
forge main
cp "$T/victim.sdp" "$T/flip-main.sdp"
flip_from=$(wc -l <"$T/B.log")
ip netns exec $lab-h1 python3 "$D4_SRC/tests/tools/sap_announce.py" --hash 0x6666 \
	--interval 0.02 --seconds 12 "$T/flip-main.sdp" "$T/flip-alt.sdp" ||
	fail "the flipping forger failed"
sleep 2 # the last state reports
tail -n +$((flip_from + 1)) "$T/B.log" >"$T/flip.log"
moves=$(grep -c "subscription s1: stream 'victim' (SAP) moved to" "$T/flip.log")
lines=$(grep -c "subscription s1:" "$T/flip.log")
echo "during the flipping: $moves moves said, $lines lines about s1"
[ "$lines" -le 60 ] ||
	fail "(b) $lines lines about s1 while it was moved about: $(grep 'subscription s1:' "$T/flip.log" | head -n 5)"
grep -q "earlier moves not logged" "$T/flip.log" ||
	fail "(b) no move was left unsaid: $moves moves said, not rate-limited?"
pass "(b) a forger moving s1 every 20 ms for 12 s: $moves moves said in $lines lines, the rest not logged (said so)"
# Leaving 'receiving' is judged unless a machine stall past the latency
# (the witness) made packets late: then it is said, not judged.
left=$(grep -E "subscription (s1: receiving -> |u1: receiving -> )" "$T/B.log" || true)
if [ -n "$left" ] && d4_stalled_over 99000; then
	echo "a machine stall of $(d4_worst_stall) us (d4stall) made packets late: the states are not judged ($left)"
else
	st=$(grep -E "subscription s1: receiving -> " "$T/flip.log" || true)
	[ -z "$st" ] ||
		fail "(c) s1 left 'receiving' while its stream was moved about and played on: $st"
	st=$(grep -E "subscription u1: receiving -> " "$T/B.log" || true)
	[ -z "$st" ] ||
		fail "(a) u1 left 'receiving' while s1 was forged onto its port: $st"
	pass "(c) s1 stayed 'receiving' through the moves; u1 stayed 'receiving' throughout"
fi
kill -TERM $b
d4_wait_pid $b 15 || fail "B exited with an error"
kill -TERM $a
d4_wait_pid $a 15 || fail "A exited with an error"

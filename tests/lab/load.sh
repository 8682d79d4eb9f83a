#!/usr/bin/env bash
# The load lab (issue 16): two nodes, each sending an 8-channel stream to
# the other at the default latency (4 ms), hold their audio while two CPU
# hogs and a memory hog run at normal priority for 60 s: 0 packets skipped
# by either sender (but for stalls of the whole machine past a flow's 100
# ms catch-up that a real-time witness saw: d4_check_skipped), 0 lost and
# 0 late at either receiver (late: d4_check_late, the same), counted by the
# nodes over the hog window only (API counters before and after), and the
# hogs shown to have had their CPU. The node's media thread is SCHED_FIFO
# and its memory locked: normal-priority work must not reach its audio.
# Timing quality under load (how close to the deadline) is bench/'s.
#
# This machine is a virtual one: its hypervisor stops a vCPU now and then
# for milliseconds, load or no load (cyclictest on the idle machine: a few
# wake-ups a minute later than 4 ms, the worst 27 ms). No thread of any
# priority holds a deadline through that, and the hogs cannot cause it.
# So a witness runs beside the nodes (tests/lib.sh d4_witness: one
# SCHED_FIFO thread per CPU at the media thread's priority, waking every
# 1 ms). A late packet is the hogs' doing unless the witness saw the
# machine stall its own real-time thread past the latency's budget (4 ms
# less the 1 ms packet): 0 late when it saw no such stall, and for each
# stall of L ms at most L - 3 + 1 late packets (d4_check_late).
. "$(dirname "$0")/../lib.sh"
lab=d4l$$
d4_lab_hosts $lab 2
secs=${D4_LOAD_SECONDS:-60}

d4_ptp_gm $lab-h1
d4_ptp_follower $lab-h2
d4_wait_log "$T/$lab-h2-ptp4l.log" "UNCALIBRATED on RS_SLAVE" 30
for n in 1 2; do
	peer=$((3 - n))
	{ echo "[node]"; echo "name = N$n"; d4_ptp_ini $lab-h$n; cat <<INI
[source tone]
type = tone
channels = 8
[flow out]
source = tone
destination = 239.69.9.$n:5004
interface = eth0
[subscription in]
address = 239.69.9.$peer:5004
interface = eth0
channels = 8
timing = ptp
INI
	} >"$T/N$n.ini"
done
run=$((secs + 60))
d4_node $lab-h1 N1 "$T/N1.ini" --run-seconds $run
n1=$!
d4_node $lab-h2 N2 "$T/N2.ini" --run-seconds $run
n2=$!

# counters: flow out's skipped, subscription in's lost and late
counts() { # HOST NODE
	local f s
	f=$(d4_api "$1" "$2" GET /flows/out) || fail "$2: GET /flows/out"
	s=$(d4_api "$1" "$2" GET /subscriptions/in) || fail "$2: GET /subscriptions/in"
	python3 -c 'import json, sys
f, s = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f["stats"]["skipped"], s["stats"]["lost"], s["stats"]["late"],
      s["stats"]["received"], s["state"])' "$f" "$s"
}
# Both receiving before the hogs start.
for i in $(seq 1 300); do
	c1=$(counts $lab-h1 N1) c2=$(counts $lab-h2 N2)
	[ "${c1##* }" = receiving ] && [ "${c2##* }" = receiving ] && break
	sleep 0.2
done
[ "${c1##* }" = receiving ] && [ "${c2##* }" = receiving ] ||
	fail "not receiving before the load: N1 $c1, N2 $c2"
sleep 2 # the states settled; counters from here
c1=$(counts $lab-h1 N1) c2=$(counts $lab-h2 N2)
# the witness (see the top), over the hog window only
d4_witness
d4_hogs "$secs"
hogs=$!
d4_wait_log "$T/hogs.log" "dispatching hogs" 10
# stress-ng ends the hogs itself after $secs s
while kill -0 $hogs 2>/dev/null; do
	kill -0 $n1 2>/dev/null && kill -0 $n2 2>/dev/null || fail "a node died under load"
	sleep 1
done
d4_hogs_wait $hogs
e1=$(counts $lab-h1 N1) e2=$(counts $lab-h2 N2)
cpu=$(d4_hogs_cpu)
read -r allowed stalls worst < <(d4_late_allowed 4000 1000)
echo "witness: the machine stalled a SCHED_FIFO 70 thread past 3 ms $stalls times (worst $worst us): up to $allowed late packets its doing"
echo "load: hogs had $cpu CPU-seconds in $secs s; N1 $c1 -> $e1; N2 $c2 -> $e2"
# Two CPU hogs and a memory hog on 2 cores for $secs s: well over one core
# between them, or the load did not happen.
[ "$cpu" -ge "$secs" ] || fail "the hogs had only $cpu CPU-seconds in $secs s"
check() { # NAME BEFORE AFTER
	local b=($2) a=($3)
	local skipped=$((a[0] - b[0])) lost=$((a[1] - b[1])) late=$((a[2] - b[2]))
	local got=$((a[3] - b[3]))
	[ $got -ge $((secs * 1000 * 9 / 10)) ] || fail "$1 received $got packets in $secs s"
	[ $lost = 0 ] ||
		fail "$1 under load: its subscription lost $lost ($got received, $late late; its flow skipped $skipped)"
	d4_check_skipped "$1 under load" "$skipped" 1000
	d4_check_late "$1 under load" "$late" 4000 1000
	echo "$1: $got received, 0 lost, $late late; its flow skipped $skipped"
	late_total=$((late_total + late))
	skipped_total=$((skipped_total + skipped))
}
late_total=0 skipped_total=0
check N1 "$c1" "$e1"
check N2 "$c2" "$e2"
pass "under two CPU hogs and a memory hog for $secs s ($cpu CPU-seconds): both nodes sent and received 8 channels at 4 ms with 0 lost, $late_total late and $skipped_total skipped, all within what the $stalls machine stalls past 3 ms (worst $worst us) a real-time witness saw explain"

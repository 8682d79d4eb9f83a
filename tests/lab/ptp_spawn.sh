#!/usr/bin/env bash
# PTP supervision: a node in [ptp] mode = spawn starts its own ptp4l,
# locks, restarts ptp4l when it is killed and locks again, and stops it on
# exit.
. "$(dirname "$0")/../lib.sh"
lab=d4s$$
d4_lab_hosts $lab 2
h2=$lab-h2

d4_ptp_gm $lab-h1
cat >"$T/n.ini" <<INI
[node]
name = spawner
[ptp]
mode = spawn
clock = follow
ptp4l_config = $D4_SRC/ptp/configs/aes67-follow.cfg
interface = eth0
uds = $T/spawned-ptp4l
[source t]
type = tone
[flow f]
source = t
destination = 239.69.9.1:5004
interface = eth0
INI
d4_node $h2 n "$T/n.ini"
node=$!
d4_wait_log "$T/n.log" "ptp4l: started .*\(pid [0-9]+\)" 15
pid1=$(sed -n 's/.*ptp4l: started .*(pid \([0-9]*\)).*/\1/p' "$T/n.log" | head -n 1)
d4_wait_log "$T/n.log" "-> clock locked gm" 30
pass "node started ptp4l (pid $pid1) and locked"

# The log so far holds the first lock's line: only a lock line after this
# point shows the relock.
n0=$(wc -l <"$T/n.log")
kill -9 "$pid1"
d4_wait_log "$T/n.log" "ptp4l \(pid $pid1\) killed by signal 9; restarting" 15
for i in $(seq 1 50); do
	[ "$(grep -c "ptp4l: started" "$T/n.log")" -ge 2 ] && break
	sleep 0.1
done
pid2=$(sed -n 's/.*ptp4l: started .*(pid \([0-9]*\)).*/\1/p' "$T/n.log" | tail -n 1)
[ "$pid2" != "$pid1" ] || fail "ptp4l was not started again"
for i in $(seq 1 300); do
	tail -n +$((n0 + 1)) "$T/n.log" |
		grep -Eq -e "(holdover|locking) -> clock locked gm" && break
	[ "$i" = 300 ] && fail "no lock after ptp4l $pid1 was killed (30 s)"
	sleep 0.1
done
pass "ptp4l killed, restarted (pid $pid2), locked again"

kill -TERM $node
d4_wait_pid $node 10 || fail "node failed"
kill -0 "$pid2" 2>/dev/null && fail "ptp4l $pid2 still runs after the node stopped"
[ "$(d4_flow_stat "$T/n.log" f send_errors)" = 0 ] || fail "send errors"
pass "node stopped its ptp4l on exit; the flow ran throughout"

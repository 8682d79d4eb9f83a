#!/usr/bin/env bash
# PTP lab (a) and (b). Hosts: h1 grandmaster, h2 node A (sends a flow),
# h3 node B (receives it), h4 a second grandmaster started later.
# (a) A and B report "locked" to h1's identity within 30 s.
# (b) h1's ptp4l stops; A and B go through holdover and lock to h4; A's
#     SDP names h4 within 2 s of A's change; the flow A -> B loses no more
#     than the packets the media clock's step itself touches.
# Latency 100 ms: this VM's hypervisor stops a vCPU for up to 100 ms now
# and then (tests/lib.sh d4_witness), and such a stall must not make this
# functional test flaky; the smallest safe latency is bench/latency.sh's
# question.
. "$(dirname "$0")/../lib.sh"
lab=d4g$$
d4_lab_hosts $lab 4
d4_witness
h1=$lab-h1 h2=$lab-h2 h3=$lab-h3 h4=$lab-h4

{ echo "[node]"; echo "name = A"; echo "status_interval = 1"; d4_ptp_ini $h2
cat <<INI
[source tone]
type = tone
channels = 2
[flow main]
source = tone
destination = 239.69.7.1:5004
interface = eth0
sdp_file = $T/A-main.sdp
INI
} >"$T/A.ini"
{ echo "[node]"; echo "name = B"; echo "status_interval = 1"; d4_ptp_ini $h3
cat <<INI
[subscription main]
address = 239.69.7.1:5004
interface = eth0
timing = ptp
latency = 100ms
[sink out]
type = null
subscription = main
INI
} >"$T/B.ini"

d4_ptp_gm $h1
gm1_pid=$!
d4_ptp_follower $h2
d4_ptp_follower $h3
d4_node $h2 A "$T/A.ini" -v
a_pid=$!
d4_node $h3 B "$T/B.ini" -v
b_pid=$!

# (a)
d4_wait_log "$T/$h1-ptp4l.log" "selected local clock .* as best master" 10
gm1=$(d4_ptp_gm_id "$T/$h1-ptp4l.log")
[ -n "$gm1" ] || fail "no identity in h1's ptp4l log"
t0=$(date +%s)
d4_wait_log "$T/A.log" "-> clock locked gm $gm1" 30
d4_wait_log "$T/B.log" "-> clock locked gm $gm1" 30
pass "(a) A and B locked to grandmaster $gm1 within $(($(date +%s) - t0)) s"
sleep 3
grep -q "ts-refclk:ptp=IEEE1588-2008:$gm1:0" "$T/A-main.sdp" ||
	fail "A's SDP does not name $gm1: $(grep ts-refclk "$T/A-main.sdp")"

# B's counters just before the change.
before=$(grep "status:" "$T/B.log" | tail -n 1)
lost0=$(echo "$before" | sed -n 's/.* lost=\([0-9]*\).*/\1/p')
late0=$(echo "$before" | sed -n 's/.* late=\([0-9]*\).*/\1/p')

# (b)
kill $gm1_pid
d4_wait_log "$T/A.log" "locked -> clock holdover" 15
d4_wait_log "$T/B.log" "locked -> clock holdover" 15
pass "(b) A and B in holdover after the grandmaster stopped"
d4_ptp_gm $h4
d4_wait_log "$T/$h4-ptp4l.log" "selected local clock .* as best master" 10
gm2=$(d4_ptp_gm_id "$T/$h4-ptp4l.log")
[ -n "$gm2" ] && [ "$gm2" != "$gm1" ] || fail "second grandmaster id '$gm2'"
d4_wait_log "$T/A.log" "-> clock locked gm $gm2" 30
d4_wait_log "$T/B.log" "-> clock locked gm $gm2" 30
grep -q "ptp: grandmaster $gm2 (was $gm1)" "$T/A.log" ||
	fail "A did not log the change from $gm1 to $gm2"
sleep 2 # the SDP must follow within 2 s
grep -q "ts-refclk:ptp=IEEE1588-2008:$gm2:0" "$T/A-main.sdp" ||
	fail "A's SDP still says $(grep ts-refclk "$T/A-main.sdp")"
# the status line (every second) follows: waited for, not slept
d4_wait_log "$T/A.log" "status:.*clock locked gm $gm2" 10
pass "(b) A and B locked to the new grandmaster $gm2; A's SDP and status show it"

kill -TERM $a_pid $b_pid
d4_wait_pid $b_pid 10 || fail "B failed"
d4_wait_pid $a_pid 10 || fail "A failed"

# The bound: a step of S ns moves playout by S, touching ceil(S / 1 ms) + 1
# packets; with no step logged after the first lock, nothing may be lost.
steps=$(grep -c "media clock stepped" "$T/B.log" "$T/A.log" | awk -F: '{ s += $2 } END { print s + 0 }')
bound=0
for s in $(grep -h "media clock stepped by" "$T/A.log" "$T/B.log" |
	sed 's/.*stepped by -\{0,1\}\([0-9]*\) ns.*/\1/'); do
	bound=$((bound + (s + 999999) / 1000000 + 1))
done
lost=$(d4_sub_stat "$T/B.log" main lost)
late=$(d4_sub_stat "$T/B.log" main late)
received=$(d4_sub_stat "$T/B.log" main received)
dl=$((lost - lost0)) dt=$((late - late0))
[ "$dl" -le "$bound" ] || fail "the flow lost $dl packets across the change; bound $bound ($steps steps)"
# late: the steps' bound, and what the witness's machine stalls past the
# latency explain beside it (d4_check_late)
d4_check_late "across the change, beyond the $bound packets the clock steps touch," \
	"$((dt > bound ? dt - bound : 0))" 100000 1000
pass "(b) across the grandmaster change the flow lost $dl and had $dt late of $received packets (bound $bound: $steps clock steps)"

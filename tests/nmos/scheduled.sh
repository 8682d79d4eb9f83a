#!/usr/bin/env bash
# An IS-05 scheduled activation at a PTP time starts two receivers on the
# same sample (docs/nmos.md "Scheduled activations"): a grandmaster (h1,
# also the controller), sender S (h2: a file from PTP time START on a
# multicast flow) and receivers R1 (h3, latency 50 ms) and R2 (h4, latency
# 100 ms), PTP followers, each recording its RX 1-2 from START. Both
# receivers are given S's transport file with activate_scheduled_absolute
# at T = START + 1.5 s, well before T. Each recording must be zeros up to
# T and the file from T on, to the sample: identical to each other, and
# to the file cut at T, whatever their latency or when their timers ran.
. "$(dirname "$0")/../lib.sh"

lab=d4t$$
d4_lab_hosts $lab 4
d4_ptp_gm $lab-h1
for h in 2 3 4; do d4_ptp_follower $lab-h$h; done
secs=4
"$D4WAV" gen "$T/in.wav" --channels 2 --seconds $secs --seed 51
# Start times are set once the followers hear the grandmaster: the
# nodes' lock and the two PATCHes then fit in 25 s here, loaded or not
# (the test says so if not).
for h in 2 3 4; do
	d4_wait_log "$T/$lab-h$h-ptp4l.log" "UNCALIBRATED on RS_SLAVE" 40
done
start=$(d4_lab_ptp_now 25)
at=$((start + 1))
at_ns=500000000 # T = START + 1.5 s
{ printf '[node]\nname = S\n'; d4_ptp_ini $lab-h2; cat <<INI; } >"$T/S.ini"
[nmos]
enable = on
dns_sd = off
[source file]
type = file
path = $T/in.wav
loop = false
start = $start
[flow main]
source = file
destination = 239.69.7.1:5004
INI
for r in 1 2; do
	{ printf '[node]\nname = R%s\nrx_channels = 2\n' $r
	  d4_ptp_ini $lab-h$((r + 2)); cat <<INI; } >"$T/R$r.ini"
[nmos]
enable = on
dns_sd = off
latency = $([ $r = 1 ] && echo 50ms || echo 100ms)
[sink take]
rx = 1-2
path = $T/R$r.wav
start = $start
duration = $secs
INI
done
d4_node $lab-h2 S "$T/S.ini"
s=$!
d4_node $lab-h3 R1 "$T/R1.ini"
r1=$!
d4_node $lab-h4 R2 "$T/R2.ini"
r2=$!
for n in S R1 R2; do d4_wait_log "$T/$n.log" "nmos: node " 10; done
for n in S R1 R2; do d4_wait_log "$T/$n.log" "ptp: .* -> clock locked" 40; done
printf '{"T": "%s", "at": "%s:%s", "start": %s}\n' "$T" $at $at_ns $start \
	>"$T/env.json"
ip netns exec $lab-h1 "$D4_PY" "$(dirname "$0")/scheduled.py" "$T/env.json" ||
	fail "scheduling the activations"
while [ "$(d4_lab_ptp_now)" -lt $((start + secs + 1)) ]; do sleep 0.2; done
kill -INT $s $r1 $r2
for p in $s $r1 $r2; do d4_wait_pid $p 15; done
for r in 1 2; do
	grep -q "final: recording $T/R$r.wav frames=$((secs * 48000)) " "$T/R$r.log" ||
		fail "R$r's recording is not $secs s: $(grep "final: rec" "$T/R$r.log")"
done
cmp "$T/R1.wav" "$T/R2.wav" || fail "R1's and R2's recordings differ"
# zeros until T, the file from T on
k=$(((at - start) * 48000 + at_ns * 48000 / 1000000000))
"$D4WAV" cut "$T/in.wav" "$T/want.wav" --skip $k --pad-zeros $k >/dev/null
"$D4WAV" cmp "$T/want.wav" "$T/R1.wav" --align none ||
	fail "R1 did not start on sample $k (T): its recording is not zeros then the file from T"
pass "R1 (latency 50 ms) and R2 (100 ms) started on the same sample, $k = T - START: identical recordings, zeros before T, the file from T on"

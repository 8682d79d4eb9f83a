#!/usr/bin/env bash
# ALSA lab (a): node A (h2) sends the test signal from PTP time T; node B
# (h3) receives it and plays it into a test card whose crystal is PPM off
# (argument 1) for 70 s. No xrun and no missing audio; from 2 s after the
# card's servo first locked (10 s at least) to the end: every click out
# of the card at its PTP time plus the latency within +-2 samples, and
# the sine's THD+N <= -90 dB.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/alsa_common.sh"
ppm=${1:?usage: alsa_playback.sh PPM}
lab=d4p$$
d4_lab_hosts $lab 3
d4_witness
d4_card cardB "$ppm"

d4_ptp_gm $lab-h1
for h in 2 3; do d4_ptp_follower $lab-h$h; done
for h in 2 3; do
	d4_wait_log "$T/$lab-h$h-ptp4l.log" "UNCALIBRATED on RS_SLAVE" 30
done
T0=$(d4_lab_ptp_now 8)
{ echo "[node]"; echo "name = A"; d4_ptp_ini $lab-h2; } >"$T/A.ini"
cat >>"$T/A.ini" <<INI
[source tc]
type = file
path = $T/tc.wav
loop = true
start = $T0
[flow tc]
source = tc
destination = 239.69.9.1:5004
interface = eth0
INI
{ echo "[node]"; echo "name = B"; d4_ptp_ini $lab-h3; } >"$T/B.ini"
cat >>"$T/B.ini" <<INI
[subscription tc]
address = 239.69.9.1:5004
interface = eth0
channels = 2
timing = ptp
latency = 80ms
[sink card]
type = alsa
subscription = tc
device = cardB
sample_format = s32
buffer = 1920
INI
d4_node $lab-h2 A "$T/A.ini" --run-seconds 82
a=$!
d4_node $lab-h3 B "$T/B.ini" --run-seconds 80
b=$!
for n in A B; do d4_wait_log "$T/$n.log" "-> clock locked gm" 10; done
d4_alsa_baseline $lab-h3
d4_wait_pid $b 100 || fail "B failed"
d4_wait_pid $a 20 || fail "A failed"

# a stall past the card's 35 ms or the stream's own slack cannot be judged
slack=$(d4_alsa_stream_slack 80000)
d4_alsa_skip_if_stalled $((slack < 35000 ? slack : 35000))
grep "final: alsa" "$T/B.log"
[ "$(d4_alsa_stat "$T/B.log" "sink card" xruns)" = 0 ] || fail "the card had xruns"
[ "$(d4_alsa_stat "$T/B.log" "sink card" missing)" = 0 ] ||
	fail "the card played positions that had not come"
d4_check_late B "$(d4_alsa_since late)" "$slack" 1000
d4_alsa_no_gap
# the steady state, as THD+N's: from 2 s after the servo first locked
read -r settle locks < <(d4_alsa_lock_settle "$T/cardB.log" "$T/B.log:sink card")
timing=$("$D4ALSACHECK" timing grid:4800 play:"$T/cardB.raw":"$T/cardB.log":2 \
	--latency-ms 80 --settle-s "$settle" --max 2) || fail "timing from $settle s $locks: $timing"
timing="$timing, from $settle s"
echo "timing at $ppm ppm: $timing"
thdn=$("$D4ALSACHECK" thdn "$T/cardB.raw":"$T/cardB.log":1 --settle-s "$settle" \
	--max -90) || fail "THD+N, from $settle s $locks: $thdn"
thdn="$thdn, from $settle s $locks"
echo "THD+N at $ppm ppm: $thdn"
pass "(a) $ppm ppm: $timing; $thdn"

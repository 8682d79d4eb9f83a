#!/usr/bin/env bash
# ALSA lab (b): node A (h2) captures the test signal from a test card whose
# crystal is PPM off (argument 1) and sends it; node B (h3) records the
# stream by position from PTP time T for 70 s. A sample's RTP timestamp is
# the PTP time it was captured at, so every click must sit in the
# recording where its capture time puts it, within +-2 samples, from 10 s
# on for 60 s: no drift between the card and PTP time.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/alsa_common.sh"
ppm=${1:?usage: alsa_capture.sh PPM}
lab=d4c$$
d4_lab_hosts $lab 3
d4_witness
d4_card cardA "$ppm"

d4_ptp_gm $lab-h1
for h in 2 3; do d4_ptp_follower $lab-h$h; done
for h in 2 3; do
	d4_wait_log "$T/$lab-h$h-ptp4l.log" "UNCALIBRATED on RS_SLAVE" 30
done
T0=$(d4_lab_ptp_now 8)
{ echo "[node]"; echo "name = A"; d4_ptp_ini $lab-h2; } >"$T/A.ini"
cat >>"$T/A.ini" <<INI
[source card]
type = alsa
device = cardA
channels = 2
sample_format = s32
buffer = 1920
[flow tc]
source = card
destination = 239.69.9.2:5004
interface = eth0
INI
{ echo "[node]"; echo "name = B"; d4_ptp_ini $lab-h3; } >"$T/B.ini"
cat >>"$T/B.ini" <<INI
[subscription tc]
address = 239.69.9.2:5004
interface = eth0
channels = 2
timing = ptp
latency = 50ms
[sink rec]
subscription = tc
path = $T/B.wav
start = $T0
duration = 70
INI
d4_node $lab-h2 A "$T/A.ini" --run-seconds 82
a=$!
d4_node $lab-h3 B "$T/B.ini" --run-seconds 80
b=$!
for n in A B; do d4_wait_log "$T/$n.log" "-> clock locked gm" 10; done
d4_alsa_baseline $lab-h3
# A's card converts (its only converter: B's subscription is PTP-timed)
d4_wait_log "$T/A.log" "source card: servo locked" 60
d4_alsa_libs_held $a
pass "card A's libraries (libasound, libsamplerate) held whole"
d4_wait_pid $b 100 || fail "B failed"
d4_wait_pid $a 20 || fail "A failed"

# card A captures (alsa_common.sh), and the stream leaves A its lag
# after its samples' time
d4_alsa_capture_slack
# the smaller of the capture's slack and the stream's at B, as alsa_chain
# does (a 38.0 ms stall against the stream's 36.7 ms made 2 late packets
# and a gap of 58 frames, and the test judged it by the capture's 45 ms)
slack=$(d4_alsa_stream_slack 50000)
d4_alsa_skip_if_stalled $((slack < d4_alsa_cap_slack ? slack : d4_alsa_cap_slack))
grep "final: alsa" "$T/A.log"
[ "$(d4_alsa_stat "$T/A.log" "source card" xruns)" = 0 ] || fail "the card had xruns"
[ "$(d4_alsa_stat "$T/A.log" "source card" missing)" = 0 ] ||
	fail "A sent positions the card had not captured"
[ "$(d4_flow_stat "$T/A.log" tc underruns)" = 0 ] || fail "the flow ran dry"
d4_check_late B "$(d4_alsa_since late)" "$(d4_alsa_stream_slack 50000)" 1000
[ "$(d4_sub_stat "$T/B.log" tc lost)" = 0 ] || fail "B lost packets"
d4_alsa_no_gap
timing=$("$D4ALSACHECK" timing cap:"$T/cardA-in.log":4800 \
	wav:"$T/B.wav":$((T0 * 48000)):2 --latency-ms 0 --settle-s 10 \
	--max 2) || fail "timing: $timing"
pass "(b) capture at $ppm ppm, RTP timestamps against capture time: $timing"

#!/usr/bin/env bash
# ALSA lab (c), end to end: card A (h2, crystal +60 ppm) captures the test
# signal, node A sends it, node B (h3) plays it into card B (crystal
# -60 ppm) with a 100 ms latency. Every click that goes into card A at PTP
# time t must come out of card B at t + 100 ms, within +-2 samples, from
# 2 s after both cards' servos locked (10 s at least) to the end of the
# 60 s, with no xrun on either card, no gap in the audio and THD+N <=
# -90 dB out of card B.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/alsa_common.sh"
lab=d4e$$
d4_lab_hosts $lab 3
d4_witness
d4_card cardA 60
d4_card cardB -60

d4_ptp_gm $lab-h1
for h in 2 3; do d4_ptp_follower $lab-h$h; done
for h in 2 3; do
	d4_wait_log "$T/$lab-h$h-ptp4l.log" "UNCALIBRATED on RS_SLAVE" 30
done
{ echo "[node]"; echo "name = A"; d4_ptp_ini $lab-h2; } >"$T/A.ini"
cat >>"$T/A.ini" <<INI
[source card]
type = alsa
device = cardA
buffer = 1920
channels = 2
[flow tc]
source = card
destination = 239.69.9.3:5004
interface = eth0
INI
{ echo "[node]"; echo "name = B"; d4_ptp_ini $lab-h3; } >"$T/B.ini"
cat >>"$T/B.ini" <<INI
[subscription tc]
address = 239.69.9.3:5004
interface = eth0
channels = 2
timing = ptp
latency = 100ms
[sink card]
type = alsa
subscription = tc
device = cardB
buffer = 1920
INI
d4_node $lab-h2 A "$T/A.ini" --run-seconds 84
a=$!
d4_node $lab-h3 B "$T/B.ini" --run-seconds 82
b=$!
for n in A B; do d4_wait_log "$T/$n.log" "-> clock locked gm" 10; done
d4_alsa_baseline $lab-h3
d4_wait_pid $b 100 || fail "B failed"
d4_wait_pid $a 20 || fail "A failed"

# card A captures (alsa_common.sh), and the stream leaves A its lag after
# its samples' time and card B takes it ahead of its play time (the
# stream's own slack)
slack=$(d4_alsa_stream_slack 100000)
d4_alsa_capture_slack
d4_alsa_skip_if_stalled $((slack < d4_alsa_cap_slack ? slack : d4_alsa_cap_slack))
grep "final: alsa" "$T/A.log" "$T/B.log"
[ "$(d4_alsa_stat "$T/A.log" "source card" xruns)" = 0 ] || fail "card A had xruns"
[ "$(d4_alsa_stat "$T/B.log" "sink card" xruns)" = 0 ] || fail "card B had xruns"
[ "$(d4_alsa_stat "$T/A.log" "source card" missing)" = 0 ] ||
	fail "A sent positions card A had not captured"
[ "$(d4_alsa_stat "$T/B.log" "sink card" missing)" = 0 ] ||
	fail "card B played positions that had not come"
d4_check_late B "$(d4_alsa_since late)" "$slack" 1000
d4_alsa_no_gap
# Clicks count from the first one out of card B: it has played silence
# since the start, and the stream comes once both nodes are locked. The
# path's steady state, as THD+N's: from 2 s after both cards' servos
# first locked, 10 s at least (a rehearsal's clicks were 2.2 samples off
# at 18 s, A's servo still locking until 28 s; within 1.5 from its lock).
read -r settle locks < <(d4_alsa_lock_settle "$T/cardB.log" \
	"$T/A.log:source card" "$T/B.log:sink card")
timing=$("$D4ALSACHECK" timing cap:"$T/cardA-in.log":4800 \
	play:"$T/cardB.raw":"$T/cardB.log":2 --latency-ms 100 --settle-s "$settle" \
	--max 2) || fail "timing from $settle s $locks: $timing"
timing="$timing, from $settle s"
thdn=$("$D4ALSACHECK" thdn "$T/cardB.raw":"$T/cardB.log":1 --settle-s "$settle" \
	--max -90) || fail "THD+N through two cards, from $settle s $locks: $thdn"
thdn="$thdn, from $settle s $locks"
pass "(c) card A +60 ppm -> card B -60 ppm: $timing; $thdn"

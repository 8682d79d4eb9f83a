#!/usr/bin/env bash
# PTP lab: a grandmaster whose time is far from UTC, as a Dante device's
# is (issue 22: phc2sys dragged a Pi's clock to 1970). h1 is the
# grandmaster (tests/tools/ptp_gm.py: ARB timescale, its clock at 1 h
# since 1970, "booted an hour ago"), h2 and h3 follow it with ptp4l
# (free_running) and a node each (clock = follow). Node A (h2) sends a
# file from PTP time T + 1 s on that timescale; node B (h3) records from
# T. The recording is silence for exactly 1 s, then the file bit for bit;
# both nodes' SDPs name the grandmaster; CLOCK_REALTIME is not stepped
# (its offset from CLOCK_MONOTONIC is the same before and after, within
# what NTP may slew) and the kernel's TAI offset is untouched.
. "$(dirname "$0")/../lib.sh"
lab=d4f$$
d4_lab_hosts $lab 3
h1=$lab-h1 h2=$lab-h2 h3=$lab-h3
gm_id=00-1D-C1-FF-FE-12-34-56

rt0=$(d4_realtime_minus_monotonic_ns)
tai0=$(d4_kernel_tai_offset)
"$D4WAV" gen "$T/in.wav" --channels 2 --seconds 3 --bits 24 --seed 5

# PTP time = UTC + off: 3600 s on the wire now
off=$(python3 -c 'import time; print(3600 - int(time.time()))')
d4_ptp_gm_far $h1 "$off" arb 37 $gm_id
d4_wait_log "$T/$h1-ptp_gm.log" "ptp_gm: time" 20
for h in $h2 $h3; do d4_ptp_follower $h; done
for h in $h2 $h3; do
	d4_wait_log "$T/$h-ptp4l.log" "UNCALIBRATED on RS_SLAVE" 40
done
ptp_now() { echo $(($(d4_lab_ptp_now) + off)); }
T0=$(($(ptp_now) + 10))
[ "$T0" -lt 4000 ] || fail "lab PTP time $T0 s is not an hour past 1970"
{ echo "[node]"; echo "name = A"; d4_ptp_ini $h2; cat <<INI
[source file]
type = file
path = $T/in.wav
loop = false
start = $((T0 + 1))
[flow music]
source = file
destination = 239.69.8.1:5004
interface = eth0
sdp_file = $T/A.sdp
INI
} >"$T/A.ini"
{ echo "[node]"; echo "name = B"; echo "status_interval = 1"; d4_ptp_ini $h3
cat <<INI
[source tone]
type = tone
channels = 1
[flow tone]
source = tone
destination = 239.69.8.2:5004
interface = eth0
sdp_file = $T/B.sdp
[subscription music]
address = 239.69.8.1:5004
interface = eth0
channels = 2
timing = ptp
latency = 100ms
[sink rec]
subscription = music
path = $T/rec.wav
bits = 24
start = $T0
duration = 5
INI
} >"$T/B.ini"
d4_node $h2 A "$T/A.ini" --run-seconds 22
a=$!
d4_node $h3 B "$T/B.ini" --run-seconds 21 -v
b=$!
for n in A B; do d4_wait_log "$T/$n.log" "-> clock locked gm $gm_id" 10; done
[ "$(ptp_now)" -lt "$T0" ] || fail "nodes locked only after T"
# B's counters just before T: what came before (the nodes' first locks,
# each a step from their free-run time to an hour past 1970, a new SSRC
# from A) is not the recording's
while [ "$(ptp_now)" -lt "$T0" ]; do sleep 0.2; done
late0=$(grep "status:" "$T/B.log" | tail -n 1 | sed -n 's/.* late=\([0-9]*\).*/\1/p')
[ -n "$late0" ] || fail "no status line from B"
d4_wait_pid $b 40 || fail "B failed"
d4_wait_pid $a 40 || fail "A failed"

for n in A B; do
	grep -q "^a=ts-refclk:ptp=IEEE1588-2008:$gm_id:0" "$T/$n.sdp" ||
		fail "$n's SDP does not name the grandmaster $gm_id"
done
[ "$(d4_sub_stat "$T/B.log" music lost)" = 0 ] || fail "B lost packets"
late=$(d4_sub_stat "$T/B.log" music late)
[ "$late" = "$late0" ] || fail "B had $((late - late0)) late packets from T on"
first=$(python3 - "$T/rec.wav" <<'PY'
import sys, wave
w = wave.open(sys.argv[1]); d = w.readframes(w.getnframes())
print(next((i // 6 for i in range(0, len(d), 6) if d[i:i + 6] != bytes(6)), -1))
PY
)
[ "$first" = 48000 ] ||
	fail "the file starts at index $first of the recording, its PTP time says 48000"
"$D4WAV" cut "$T/rec.wav" "$T/rec-cut.wav" --skip 48000
skipped=$(d4_flow_stat "$T/A.log" music skipped)
exact="bit-exact"
if ! "$D4WAV" cmp "$T/in.wav" "$T/rec-cut.wav" --align none; then
	# A sender the loaded machine stalled for over 20 ms skips ahead
	# (counted): those packets never left. Then the recording must be
	# the file but for silent packets, no more of them than were skipped.
	[ "${skipped:-0}" -gt 0 ] || fail "the recording is not the file"
	gaps=$("$D4WAV" gaps "$T/in.wav" "$T/rec-cut.wav" --block 48) ||
		fail "the recording is not the file, but for silence"
	gaps=${gaps#gaps=}
	gaps=${gaps%% *}
	[ "$gaps" -le "$skipped" ] ||
		fail "$gaps packets silent in the recording, A skipped $skipped"
	exact="bit-exact but for $gaps packets A skipped (the machine stalled it)"
fi

rt1=$(d4_realtime_minus_monotonic_ns)
tai1=$(d4_kernel_tai_offset)
moved=$((rt1 - rt0))
# NTP slews by at most 500 ppm: under 50 ms in the minute this runs
[ "${moved#-}" -lt 50000000 ] ||
	fail "CLOCK_REALTIME moved by $moved ns against CLOCK_MONOTONIC"
[ "$tai1" = "$tai0" ] || fail "the kernel's TAI offset went from $tai0 to $tai1"
pass "grandmaster $gm_id at PTP time $T0 s (UTC $((T0 - off))): A's file recorded by B $exact from index 48000, as its PTP time says; both SDPs name the grandmaster; CLOCK_REALTIME moved ${moved} ns against CLOCK_MONOTONIC, kernel TAI offset $tai1"

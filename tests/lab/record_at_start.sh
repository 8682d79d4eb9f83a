#!/usr/bin/env bash
# A recording that starts with the node (new-user report, fifth session):
# node A (h1, locked to the grandmaster on h1) sends a looping file; nodes
# B and C on h2 (ptp4l following h1) start afterwards, each with a
# subscription and a [sink] from its first sample (the default), B with
# clock = follow, C with the media clock the system's (mode = external
# alone). Each node's first lock moves its media clock to the PTP
# timescale and times its streams anew: a recording begun before that
# held a hole about one latency long (932 frames at 20 ms, 2354 at 50 ms)
# that no counter showed. Asserted: each recording is whole (no run of 24
# or more zero frames, d4wav silence) and the file's frames in order (d4wav
# cmp --align first), and each node said it began on the settled clock.
# A machine stall (the d4stall witness) that holds A's packets past B's
# or C's 50 ms latency makes them late, and a late packet plays as a
# silent millisecond: such holes are allowed, no more frames than the
# late packets (and A's skipped ones) carry, and the recording is then
# not compared sample for sample (the test says so). A node whose clock
# is not settled yet counts a late packet as unsynced (a busy run: C's
# ptp4l still locking, 44 packets held 94 ms by a stall, late=0
# unsynced=44): those count as late here.
. "$(dirname "$0")/../lib.sh"

lab=d4ra$$
d4_lab_hosts $lab 2
d4_witness
h1=$lab-h1 h2=$lab-h2
"$D4WAV" gen "$T/in.wav" --channels 2 --seconds 30 --seed 41
d4_ptp_gm $h1
d4_ptp_follower $h2
d4_wait_log "$T/$h2-ptp4l.log" "UNCALIBRATED on RS_SLAVE" 40
{ printf '[node]\nname = A\napi = off\n'; d4_ptp_ini $h1; cat <<INI
[source program]
type = file
path = $T/in.wav
loop = true
[flow main]
source = program
destination = 239.69.31.1:5004
interface = eth0
sdp_file = $T/main.sdp
INI
} >"$T/A.ini"
d4_node $h1 A "$T/A.ini"
a=$!
d4_wait_log "$T/A.log" "-> clock locked" 30
d4_wait_file "$T/main.sdp" 5
for n in B C; do
	{ printf '[node]\nname = %s\napi = off\n' $n
	if [ $n = B ]; then d4_ptp_ini $h2
	else printf '[ptp]\nmode = external\nuds = %s\n' "$T/$h2-ptp4l"; fi
	cat <<INI
[subscription main]
sdp = $T/main.sdp
interface = eth0
latency = 50ms
[sink rec]
subscription = main
path = $T/$n.wav
duration = 5
INI
	} >"$T/$n.ini"
	# 15 s: the lock (a few seconds) and the 5 s recording
	d4_node $h2 $n "$T/$n.ini" --run-seconds 15
	eval "pid_$n=$!"
done
for n in B C; do
	p=pid_$n
	d4_wait_pid ${!p} 40 || fail "$n exited with an error"
done
kill -TERM $a
d4_wait_pid $a 10 || fail "A exited with an error"
askip=$(d4_flow_stat "$T/A.log" main skipped)
d4_check_skipped A "${askip:-0}" 1000
for n in B C; do
	frames=$("$D4WAV" info "$T/$n.wav" | sed -n 's/.*frames=\([0-9]*\).*/\1/p')
	[ "${frames:-0}" -ge 240000 ] ||
		fail "$n recorded $frames frames, want 5 s (240000)"
	late=$(d4_sub_stat "$T/$n.log" main late)
	d4_check_late "$n" "${late:-0}" 50000 1000
	unsynced=$(d4_sub_stat "$T/$n.log" main unsynced)
	late=$(( ${late:-0} + ${unsynced:-0} ))
	"$D4WAV" silence "$T/$n.wav" --min-frames 24 >"$T/$n-silence.txt"
	grep "final: subscription main " "$T/$n.log" | sed 's/.*final: //'
	what="$n ($(grep -o 'clock = follow' "$T/$n.ini" || echo 'the system clock'))"
	if ! grep -q "runs=0$" "$T/$n-silence.txt"; then
		silent=$(sed -n 's/.* silent=\([0-9]*\) .*/\1/p' "$T/$n-silence.txt")
		explained=$(( (${late:-0} + ${askip:-0}) * 48 ))
		[ "$explained" -gt 0 ] && [ "${silent:-0}" -le "$explained" ] ||
			fail "$n's recording has a hole: $(cat "$T/$n-silence.txt") (late packets ${late:-0}, A skipped ${askip:-0}: they explain $explained frames)"
		pass "$what: 5 s recorded from its first sample; its $silent silent frames are no more than the ${late:-0} late packets (${unsynced:-0} of them unsynced; and A's ${askip:-0} skipped) of a machine stall carry; not compared sample for sample"
		continue
	fi
	"$D4WAV" cmp "$T/in.wav" "$T/$n.wav" --align first ||
		fail "$n's recording is not the file's frames in order"
	pass "$what: 5 s recorded from its first sample, no hole, the file's frames in order"
done

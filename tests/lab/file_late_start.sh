#!/usr/bin/env bash
# Issue 24: a file source started after its start time plays the frames
# its positions call for, however late. A (h1) plays a 130 s file from
# PTP time T; B (h2) plays the same file from the same T but starts 5 s
# late, is restarted 30 s and 120 s after T. R (h3) records both streams
# over 3 s after each of B's (re)starts: the two recordings are the same
# samples at the same timestamps — and the file's, at T + their start.
# A machine stall (the d4stall witness) that makes a sender skip packets
# or R's packets late leaves silent packets in a recording: a window that
# differs must differ by no more silent packets than those explain.
. "$(dirname "$0")/../lib.sh"
lab=d4f$$
d4_lab_hosts $lab 3
d4_witness
h1=$lab-h1 h2=$lab-h2 h3=$lab-h3
len=130
"$D4WAV" gen "$T/in.wav" --channels 2 --seconds $len --seed 24
start=$(($(d4_ptp_now) + 4))

sender() { # NAME GROUP
	cat <<INI
[node]
name = $1
api = off
[discovery]
sap = off
mdns = off
[source program]
type = file
path = $T/in.wav
loop = false
start = $start
[flow main]
source = program
destination = $2
interface = eth0
INI
}
sender A 239.69.9.10:5004 >"$T/A.ini"
sender B 239.69.9.11:5004 >"$T/B.ini"
{
	printf '[node]\nname = R\napi = off\n[discovery]\nsap = off\nmdns = off\n'
	for s in a:239.69.9.10:5004 b:239.69.9.11:5004; do
		printf '[subscription %s]\naddress = %s\ninterface = eth0\ntiming = ptp\nlatency = 100ms\n' \
			"${s%%:*}" "${s#*:}"
		for w in 7 32 122; do
			printf '[sink %s%d]\nsubscription = %s\npath = %s/%s%d.wav\nstart = %d\nduration = 3\n' \
				"${s%%:*}" $w "${s%%:*}" "$T" "${s%%:*}" $w \
				$((start + w))
		done
	done
} >"$T/R.ini"

d4_node $h3 R "$T/R.ini"
r=$!
d4_node $h1 A "$T/A.ini"
a=$!
wait_until() { while [ "$(d4_ptp_now)" -lt $(($1)) ]; do sleep 0.2; done; }
for late in 5 30 120; do
	wait_until "start + late"
	[ -n "${b:-}" ] && { kill -TERM $b; d4_wait_pid $b 10 || true
		cp "$T/B.log" "$T/B-before-$late.log"; }
	d4_node $h2 B "$T/B.ini"
	b=$!
	d4_wait_log "$T/B.log" "source program: to frame" 15
done
wait_until "start + 126"
kill -TERM $a $b $r
d4_wait_pid $r 20 || fail "R failed"
grep -q "source program: to frame" "$T/B.log" ||
	fail "B did not say where its file source went"
d4_wait_pid $a 20 || fail "A failed"
d4_wait_pid $b 20 || fail "B failed"
askip=$(d4_flow_stat "$T/A.log" main skipped)
bskip=0
for f in "$T"/B-before-*.log "$T/B.log"; do
	bskip=$((bskip + $(d4_flow_stat "$f" main skipped)))
done
rlate=$(($(d4_sub_stat "$T/R.log" a late) + $(d4_sub_stat "$T/R.log" b late)))
d4_check_skipped A "$askip" 1000
d4_check_skipped B "$bskip" 1000
d4_check_late R "$rlate" 100000 1000
for w in 7 32 122; do
	"$D4WAV" cut "$T/in.wav" "$T/ref$w.wav" --skip $((w * 48000)) \
		--frames 144000
	for x in a b; do
		"$D4WAV" cmp "$T/ref$w.wav" "$T/$x$w.wav" --align none >"$T/cmp.txt" 2>&1 &&
			continue
		explained=$((askip + bskip + rlate))
		[ "$explained" -gt 0 ] ||
			fail "started $w s late: $x's recording at T+$w is not the file there: $(cat "$T/cmp.txt")"
		d4_cmp_stalled "$x's recording at T+$w" "$T/ref$w.wav" "$T/$x$w.wav" \
			"$explained"
	done
done
pass "a file sender started 5, 30 and 120 s after its start time plays its samples at their timestamps (each window the file, bit for bit, but for what a machine stall explains, said above)"

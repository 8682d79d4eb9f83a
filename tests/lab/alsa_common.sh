# Helpers of the ALSA lab tests (sourced after ../lib.sh): the test sound
# card (tests/alsa, an ALSA ioplug plugin) and the test signal.
D4ALSA_PLUGIN=${D4ALSA_PLUGIN:?D4ALSA_PLUGIN must point at the test card plugin}
D4ALSACHECK=${D4ALSACHECK:?D4ALSACHECK must point at d4alsacheck}

# The test's own ALSA configuration: the system's, then $T/asound.conf.
export ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$T/asound.conf
echo "pcm_type.d4test { lib \"$D4ALSA_PLUGIN\" }" >"$T/asound.conf"

# d4_card NAME PPM: a 2-channel test card NAME whose crystal is PPM off;
# it plays into $T/NAME.raw (log $T/NAME.log) and captures $T/tc.raw (log
# $T/NAME-in.log).
d4_card() {
	cat >>"$T/asound.conf" <<CONF
pcm.$1 {
	type d4test
	ppm $2
	channels 2
	play_out "$T/$1.raw"
	play_log "$T/$1.log"
	capture_in "$T/tc.raw"
	capture_log "$T/$1-in.log"
}
CONF
}

# The test signal, 1 s to loop: channel 1 a 1 kHz sine at -6 dBFS, channel
# 2 a click (+0.5) every 100 ms, at frames that are multiples of 4800. As
# tc.wav (24-bit, for a file source) and tc.raw (s32le, for the card).
python3 - "$T" <<'PY'
import math, struct, sys, wave
rate, d = 48000, sys.argv[1]
wav, raw = bytearray(), bytearray()
for i in range(rate):
    s = int(round(0.5 * math.sin(2 * math.pi * 1000 * i / rate) * 8388607))
    c = int(round(0.5 * 8388607)) if i % 4800 == 0 else 0
    wav += s.to_bytes(3, "little", signed=True) + c.to_bytes(3, "little", signed=True)
    raw += struct.pack("<ii", s * 256, c * 256)
w = wave.open(d + "/tc.wav", "wb")
w.setnchannels(2); w.setsampwidth(3); w.setframerate(rate)
w.writeframes(bytes(wav)); w.close()
open(d + "/tc.raw", "wb").write(raw)
PY

# Value of KEY in the "final: alsa NAME" line of LOG.
d4_alsa_stat() {
	grep "final: alsa $2 " "$1" | tail -n 1 | tr ' ' '\n' |
		sed -n "s/^$3=//p"
}

# B's subscription tc's late packets and missing frames since its
# baseline: the counts once both nodes are locked and it receives again
# (d4_alsa_baseline HOST: the first lock steps each node's media clock,
# docs/ptp.md, and the stream is timed anew, a few late packets and
# missing frames in the second it takes; the runs are judged after lock
# and settle). d4_alsa_since KEY: the final count less the baseline's.
d4_alsa_baseline() {
	local i st=
	for i in $(seq 1 300); do
		st=$(d4_api "$1" B GET /subscriptions/tc 2>/dev/null) || st=
		case $st in *'"state":"receiving"'*) break ;; esac
		sleep 0.1
	done
	case $st in *'"state":"receiving"'*) ;; *) fail "B's subscription does not receive after the lock: $st" ;; esac
	python3 -c 'import json,sys; s=json.loads(sys.argv[1])["stats"]; print("late", s["late"]); print("missing_frames", s["missing_frames"])' "$st" >"$T/baseline"
	echo "baseline after lock: $(tr '\n' ' ' <"$T/baseline")"
}
d4_alsa_since() {
	local base
	base=$(sed -n "s/^$1 //p" "$T/baseline" 2>/dev/null)
	echo $(($(d4_sub_stat "$T/B.log" tc "$1") - ${base:-0}))
}

# The cards' buffers hold 1920 frames (40 ms), written a 240-frame (5 ms)
# period at a time: a stall of the machine itself longer than the 35 ms
# between them (tests/lib.sh d4_witness, whose thread outranks the cards'; this VM's hypervisor
# stops a vCPU for up to 100 ms now and then, idle or not) underruns any
# card, whatever d4 does. A capture card's flow sends each packet its lag
# after its samples' time (2 periods + 3.3 ms) and waits up to 40 ms more
# for a late capture thread (node/alsa.c CAP_WAIT_MAX_NS; A logs both);
# a sample is in the ring a period and the converter's look-ahead after
# it was taken at worst, so a stall of the capture thread's CPU leaves
# positions missing past a period + 2 ms + the wait: d4_alsa_capture_slack
# gives a period + the wait (45 ms; the 2 ms left to the threads'
# wake-ups, so a run is rather skipped than failed on the machine). The earlier "2 periods + 3.3 ms +
# the wait" left the period a sample waits to be read out: with a 15 ms
# wait, a CI run failed on positions missing with no stall past that
# 28 ms seen, and stalls of 31.6 and 33.5 ms had left 345 and 649
# missing, a threshold of 20-25 ms. d4_alsa_skip_if_stalled [SLACK_US]
# (35 ms unless given): when the witness saw a stall past the slack and
# the run shows its marks (an xrun, a missing position, a late packet, a
# gap), the run cannot judge the card path and is skipped, saying so.
# Any of those marks without such a stall fails as before.
d4_alsa_skip_if_stalled() {
	local marks=0 f v slack=${1:-35000}
	d4_stalled_over "$slack" || return 0
	for f in "$T"/A.log "$T"/B.log; do
		[ -f "$f" ] || continue
		for v in $(grep -h "final: alsa " "$f" | tr ' ' '\n' |
			sed -n 's/^\(xruns\|missing\)=//p'); do
			marks=$((marks + v))
		done
	done
	marks=$((marks + $(d4_alsa_since late) + $(d4_alsa_since missing_frames)))
	[ "$marks" = 0 ] && return 0
	echo "SKIP: the machine stalled a real-time thread $(d4_worst_stall) us, longer than the run's $((slack / 1000)) ms of slack; xruns, missing, late and missing frames add up to $marks"
	exit 77
}

# The stream's own slack at B: a card sink takes its audio "N us ahead"
# of the card's play time (B's log says N), and a capture card's flow
# sends each packet "M us after capture" (A's log says M), so a packet is
# late once it is LATENCY_US - N - M behind its send time, not
# LATENCY_US (80 ms less 54.7 ms at 80 ms: 25.3 ms; a CI rehearsal's
# 28.8 ms machine stall made 2 late packets that the whole latency did
# not explain). d4_alsa_stream_slack LATENCY_US: that slack in us.
d4_alsa_stream_slack() {
	local ahead lag
	ahead=$(sed -n 's/.*sink card: .*needs audio \([0-9]*\) us ahead.*/\1/p' "$T/B.log" | head -n 1)
	lag=$(d4_alsa_capture_lag)
	echo $(($1 - ${ahead:-0} - ${lag:-0}))
}

# A capture card's lag (its flow sends a packet that long after its
# samples' time) from A's log, in us; nothing when A has no capture card.
d4_alsa_capture_lag() {
	sed -n 's/.*source card: .*sends \([0-9]*\) us after capture.*/\1/p' "$T/A.log" 2>/dev/null | head -n 1
}

# d4_alsa_libs_held PID: the libraries a card thread runs, libasound (with
# its plugins) and libsamplerate (the card's converter), are held whole
# (common/mem.h: mem_hold_library, when the card and its converter are
# made): every page of their mappings resident, so that no first use on
# the card thread is a page fault. Not in an AddressSanitizer build, which
# locks nothing.
d4_alsa_libs_held() {
	local pid=$1 lib size rss
	grep -q "mlockall: skipped" "$T"/*.log 2>/dev/null && return 0
	for lib in libasound.so libsamplerate.so; do
		read -r size rss < <(awk -v l="$lib" '
			/^[0-9a-f]+-[0-9a-f]+ / { on = index($6, l) > 0 }
			on && /^Size:/ { s += $2 }
			on && /^Rss:/ { r += $2 }
			END { print s + 0, r + 0 }' "/proc/$pid/smaps")
		[ "$size" -gt 0 ] || fail "node $pid has no $lib mapped"
		[ "$rss" = "$size" ] ||
			fail "node $pid holds $rss of $lib's $size kB: its card thread may page-fault"
	done
}

# The longest stall of card A's capture thread that its flow rides out
# without a missing position, in us, into d4_alsa_cap_slack: a period + the flow's wait, from
# A's log (the above; the lab's cards run at 48 kHz); fails the test when
# A's log does not say them.
d4_alsa_capture_slack() {
	d4_alsa_cap_slack=$(sed -n 's/.*source card: .*period \([0-9]*\),.* up to \([0-9]*\) us later.*/\1 \2/p' "$T/A.log" | head -n 1 |
		awk '{ print int($1 * 1000000 / 48000) + $2 }')
	[ -n "$d4_alsa_cap_slack" ] ||
		fail "A's log does not give its capture card's period and wait"
}

# The stream reached B without a gap: B played out no missing frame since
# its baseline (d4_alsa_baseline). A gap with skipped packets at A is A's media thread
# stalling for over 20 ms (the machine, not the card): the message says so.
d4_alsa_no_gap() {
	local miss skipped
	miss=$(d4_alsa_since missing_frames)
	skipped=$(d4_flow_stat "$T/A.log" tc skipped)
	[ "$miss" = 0 ] && return 0
	[ "$skipped" = 0 ] ||
		fail "B played out $miss missing frames: A skipped $skipped packets (its media thread stalled over 20 ms)"
	fail "B played out $miss missing frames: the stream had a gap"
}

# THD+N and click timing are the path's steady state: measured from 2 s
# after every card's servo first said "locked" (10 s at least), not while
# one still acquires: a rehearsal's capture servo took 38 s to lock on a
# machine that stalled 372 times, and four windows of that time read -85
# to -89 dB against -90; another's clicks were 2.2 samples off at 18 s
# with A's servo locking until 28 s. d4_alsa_lock_settle CARD-LOG LOG:NAME...: seconds
# from the card's start, "settle LOCKS" (LOCKS says when each locked).
d4_alsa_lock_settle() {
	local start spec t locks= worst=0
	start=$(awk '$1 == "start" { print $3 / 1e9; exit }' "$1")
	shift
	for spec; do
		t=$(sed -n "s/^d4node\[\([0-9.]*\)\] info: ${spec#*:}: servo locked.*/\1/p" "${spec%%:*}" | head -n 1)
		[ -n "$t" ] || t=$start # never locked: the THD+N says so
		t=$(awk -v t="$t" -v s="$start" 'BEGIN { printf "%.1f", t - s }')
		locks="${locks:+$locks,} ${spec#*:} at $t s"
		worst=$(awk -v a="$worst" -v b="$t" 'BEGIN { print (b > a ? b : a) }')
	done
	echo "$(awk -v w="$worst" 'BEGIN { s = int(w + 2.999); print (s < 10 ? 10 : s) }') (locked:$locks)"
}

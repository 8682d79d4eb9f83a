#!/usr/bin/env bash
# Interop: d4node sends a file; GStreamer's rtpL24depay/rtpL16depay and
# ffmpeg (reading the SDP d4node wrote) record it: both bit-exact. tshark
# captures the stream: every packet decodes as RTP with nothing malformed,
# and every packet carries the configured DSCP.
# rtpL24depay/rtpL16depay always give 8 channels RTP's "DV" order
# (L R C Wo Ls Rs Lmix Rmix) and move them into GStreamer's canonical order,
# which swaps channels 5,6 with 7,8. AES67 channels are only numbers, so the
# pipeline clears the positions and swaps them back with a permutation
# matrix; every other channel count passes through untouched.
# usage: d4_to_peers.sh CHANNELS ENCODING(L24|L16) PTIME_US DSCP
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"

ch=$1 enc=$2 ptime_us=$3 dscp=$4
bits=24
[ "$enc" = L16 ] && bits=16
depay=rtp${enc}depay
secs=3

"$D4WAV" gen "$T/in.wav" --channels "$ch" --seconds $secs --bits $bits --seed 11
d4_witness
unorder=
if [ "$ch" = 8 ]; then
	m=""
	for out in 0 1 2 3 6 7 4 5; do
		row=""
		for in in 0 1 2 3 4 5 6 7; do
			v=0.0
			[ $in = $out ] && v=1.0
			row="$row${row:+, }(float)$v"
		done
		m="$m${m:+, }<$row>"
	done
	unpos='capssetter caps=audio/x-raw,channel-mask=(bitmask)0x0'
	unorder="$unpos ! audioconvert mix-matrix=\"<$m>\" ! $unpos !"
fi


# One attempt with MARGIN s between starting d4 and its file's first
# frame: false when the peers were not listening by then (a machine this
# loaded needs a later start: the caller stops them all and tries again).
attempt() {
	local margin=$1
	d4_spawn "$T/tshark.log" tshark -n -i lo -f "udp port 5004" -w "$T/cap.pcapng" \
		-a duration:$((margin + secs + 10))
	tshark_pid=$!
	# rtpjitterbuffer latency 200 ms and 8 MB socket buffers for both peers:
	# neither is real-time, and a stall of this VM (tens of ms, tests/lib.sh
	# d4_witness) at 8000 packets a second overflows a default socket buffer
	# (some 270 small datagrams) before they read it; GStreamer at SCHED_FIFO
	# 10 (below d4's media thread), as one runs a recorder that must keep up
	# with 8000 packets a second on a busy machine. ffmpeg so started was
	# slower to probe its input: it probes at normal priority and is moved to
	# SCHED_FIFO 10 (all its threads) once it records (left at normal
	# priority, a CI run beside other work had it fall behind, "max delay
	# reached", and miss 5508 packets that tshark saw d4 send).
	d4_spawn "$T/gst.log" chrt -f 10 gst-launch-1.0 -e -v udpsrc address=239.69.0.20 port=5004 buffer-size=8388608 \
		caps="application/x-rtp,media=audio,clock-rate=48000,encoding-name=$enc,channels=$ch,payload=98" ! \
		rtpjitterbuffer latency=200 ! $depay ! $unorder audioconvert ! \
		"audio/x-raw,format=S${bits}LE" ! wavenc ! filesink location="$T/gst.wav"
	gst=$!
	d4_wait_log "$T/gst.log" "Setting pipeline to PLAYING" 30
	# The file starts MARGIN s from now, once tshark and GStreamer are up, so
	# d4 and ffmpeg (which probes d4's stream) have that long to start before
	# the first sample (checked below; each takes seconds on a loaded machine);
	# until then d4 sends silence.
	start=$(($(d4_ptp_now) + margin))
	cat >"$T/tx.ini" <<-INI
	[node]
	name = d4tx
	[source file]
	type = file
	path = $T/in.wav
	loop = false
	start = $start
	[flow out]
	source = file
	destination = 239.69.0.20:5004
	encoding = $enc
	ptime = ${ptime_us}us
	dscp = $dscp
	sdp_file = $T/d4.sdp
	INI
	# The file plays from +MARGIN s to +MARGIN+secs; ffmpeg records until
	# well after it, and the sender keeps sending (silence) until then.
	d4_spawn "$T/d4.log" "$D4NODE" --config "$T/tx.ini" --run-seconds $((margin + secs + 10))
	tx=$!
	d4_wait_file "$T/d4.sdp" 10
	d4_spawn "$T/ffmpeg.log" ffmpeg -nostdin -hide_banner -protocol_whitelist file,udp,rtp -buffer_size 8388608 \
		-i "$T/d4.sdp" -t $((margin + secs + 4)) -c:a pcm_s${bits}le -y "$T/ff.wav"
	ff=$!
	# ffmpeg names its output once it has probed the stream: listening.
	d4_wait_log "$T/ffmpeg.log" "^Output #0" 30
	chrt -a -f -p 10 $ff >/dev/null || fail "chrt ffmpeg"
	[ "$(d4_ptp_now)" -lt "$start" ]
}
for margin in 20 40 80; do
	attempt $margin && break
	echo "GStreamer and ffmpeg were not listening $margin s after d4 started: once more, with a later start"
	kill $tshark_pid $gst $tx $ff 2>/dev/null || true
	for p in $tshark_pid $gst $tx $ff; do wait $p 2>/dev/null || true; done
	[ $margin != 80 ] ||
		fail "GStreamer and ffmpeg were not listening 80 s after d4 started (a machine this slow needs a later start)"
done

d4_wait_pid $tx $((margin + secs + 25)) || fail "d4node exited with an error"
d4_wait_pid $ff 30 || fail "ffmpeg failed"
kill -INT $gst
d4_wait_pid $gst 10 || fail "gst-launch failed"
d4_wait_pid $tshark_pid 20 || true

packets=$(d4_flow_stat "$T/d4.log" out packets)
errors=$(d4_flow_stat "$T/d4.log" out send_errors)
[ "$errors" = 0 ] || fail "d4 counted $errors send errors"
d4_sender_skips d4 "$T/d4.log" out || { echo "SKIP: no peer can be judged"; exit 77; }
grep -q "^a=rtpmap:98 $enc/48000/$ch" "$T/d4.sdp" || fail "SDP rtpmap wrong"

"$D4WAV" cmp "$T/in.wav" "$T/gst.wav" --align first --max-lead-loss 0 \
	--min-frames $((secs * 48000)) || fail "GStreamer's recording differs"
pass "d4node -> GStreamer $depay: bit-exact"
"$D4WAV" cmp "$T/in.wav" "$T/ff.wav" --align first --max-lead-loss 0 \
	--min-frames $((secs * 48000)) || fail "ffmpeg's recording differs"
pass "d4node -> ffmpeg (SDP from d4node): bit-exact"

# tshark: all RTP, nothing malformed, DSCP on every packet.
dis="-d udp.port==5004,rtp"
udp=$(tshark -n -r "$T/cap.pcapng" -Y udp 2>/dev/null | wc -l)
rtp=$(tshark -n -r "$T/cap.pcapng" $dis -Y "rtp.version == 2 && rtp.p_type == 98 && rtp.marker == 0" 2>/dev/null | wc -l)
bad=$(tshark -n -r "$T/cap.pcapng" $dis -Y "_ws.malformed || _ws.expert.severity >= error" 2>/dev/null | wc -l)
wrong_dscp=$(tshark -n -r "$T/cap.pcapng" -Y "udp && ip.dsfield.dscp != $dscp" 2>/dev/null | wc -l)
plen=$(tshark -n -r "$T/cap.pcapng" $dis -T fields -e udp.length 2>/dev/null | sort -u)
fpp=$((ptime_us == 125 ? 6 : ptime_us == 250 ? 12 : ptime_us == 333 ? 16 : ptime_us == 4000 ? 192 : 48))
want_len=$((8 + 12 + fpp * ch * bits / 8))
[ "$udp" -gt 1000 ] || fail "tshark saw only $udp packets"
[ "$rtp" = "$udp" ] || fail "tshark: $rtp of $udp packets decode as RTP v2 PT 98 M=0"
[ "$bad" = 0 ] || fail "tshark: $bad malformed packets"
[ "$wrong_dscp" = 0 ] || fail "tshark: $wrong_dscp packets without DSCP $dscp"
[ "$plen" = "$want_len" ] || fail "tshark: UDP lengths '$plen', want $want_len"
pass "tshark: $udp packets, all RTP, none malformed, all DSCP $dscp, $want_len-byte datagrams (d4 sent $packets)"

#!/usr/bin/env bash
# Interop: GStreamer's rtpL24pay/rtpL16pay sends a file, d4node records it.
# The recording must hold the file's very samples, aligned on the first one,
# with no gap, and d4 must count no lost packet.
# usage: gst_to_d4.sh CHANNELS ENCODING(L24|L16) PTIME_US
. "$(dirname "$0")/../lib.sh"
d4_private_netns "$@"
d4_witness

ch=$1 enc=$2 ptime_us=$3
bits=24
[ "$enc" = L16 ] && bits=16
fmt=S${bits}BE
pay=rtp${enc}pay

"$D4WAV" gen "$T/in.wav" --channels "$ch" --seconds 3 --bits $bits --seed 7

cat >"$T/rx.ini" <<INI
[node]
name = d4rx
[subscription in]
address = 239.69.0.10:5004
encoding = $enc
channels = $ch
payload_type = 98
ptime = ${ptime_us}us
# GStreamer sends by its own clock (sync=true) from a normal-priority
# thread: on a loaded machine it stalls for tens of ms. The largest
# latency keeps this test about the samples; timing is bench/'s.
latency = 100ms
[sink rec]
subscription = in
path = $T/rec.wav
bits = $bits
INI

d4_spawn "$T/d4.log" "$D4NODE" --config "$T/rx.ini"
rx=$!
d4_wait_log "$T/d4.log" "running:" 20

# Raw big-endian PCM made unpositioned (channel-mask 0): with positions,
# rtpL24pay reorders 8 channels into RTP's DV.LRCWoLsRsLmixRmix order and
# channel 5 would not arrive as channel 5. AES67 channels are just numbers.
sox "$T/in.wav" -t raw -e signed -b $bits -B "$T/in.raw"
timeout 30 gst-launch-1.0 -q filesrc location="$T/in.raw" ! \
	rawaudioparse format=pcm pcm-format=s${bits}be sample-rate=48000 \
	num-channels="$ch" ! \
	capssetter caps="audio/x-raw,channel-mask=(bitmask)0x0" ! \
	$pay pt=98 min-ptime=$((ptime_us * 1000)) max-ptime=$((ptime_us * 1000)) ! \
	udpsink host=239.69.0.10 port=5004 ttl-mc=1 auto-multicast=true \
	sync=true >"$T/gst.log" 2>&1 || fail "gst-launch failed"
sleep 0.5
kill -TERM $rx
d4_wait_pid $rx 10 || fail "d4node exited with an error"

lost=$(d4_sub_stat "$T/d4.log" in lost)
late=$(d4_sub_stat "$T/d4.log" in late)
received=$(d4_sub_stat "$T/d4.log" in received)
[ -n "$received" ] && [ "$received" -gt 0 ] || fail "d4 received nothing"
[ "$lost" = 0 ] || fail "d4 counted $lost lost packets"
# late packets only where a machine stall (the d4stall witness) held
# GStreamer or d4 past the 100 ms latency; the samples then are not
# judged one for one (said)
d4_check_late "d4" "$late" 100000 "$ptime_us"
if [ "$late" != 0 ]; then
	pass "GStreamer $pay $ch ch ${ptime_us} us -> d4node: $received packets, 0 lost, $late late in a machine stall (the recording not judged sample for sample)"
	exit 0
fi
"$D4WAV" cmp "$T/in.wav" "$T/rec.wav" --align first --max-lead-loss 0 \
	--min-frames 140000 || fail "recording differs from the file"
pass "GStreamer $pay $ch ch ${ptime_us} us -> d4node: bit-exact, $received packets, 0 lost"

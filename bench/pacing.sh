#!/usr/bin/env bash
# Benchmark 1, TX pacing: 4 flows x 8 channels x 1 ms from host h1 to h2.
# The receiver stamps every packet in the kernel and measures how far it
# strays from its flow's ideal 1 ms grid. d4node and GStreamer send the
# same file to the same groups and the same receiver, one after the
# other, same run; GStreamer as bench/insns.sh's gst-raw (unpositioned
# channels, rtpL24pay, udpsink sync=true), one gst-launch-1.0 per flow.
# usage: bench/pacing.sh [SECONDS]
. "$(dirname "$0")/lib.sh"
secs=${1:-30}
lab=d4bp$$
d4_lab_hosts $lab 2
"$D4WAV" gen "$T/in.wav" --channels 8 --seconds $((secs + 5)) --seed 1
sox "$T/in.wav" -t raw -e signed -b 24 -B "$T/in.raw"

groups_d4="239.69.50.1:5004 239.69.50.2:5004 239.69.50.3:5004 239.69.50.4:5004"
groups_gst=$groups_d4

{ echo "[node]"; echo "name = pacer"; [ -n "${SPIN_US:-}" ] && echo "spin_us = $SPIN_US"
echo "[source f]"; echo "type = file"; echo "path = $T/in.wav"
i=0; for g in $groups_d4; do i=$((i + 1))
	printf '[flow f%d]\nsource = f\ndestination = %s\ninterface = eth0\n' $i "$g"
done; } >"$T/tx.ini"

# d4node
ip netns exec $lab-h2 "$BUILD/bench/d4-rxstamp" --ptime-us 1000 \
	--seconds $((secs + 1)) --warmup 1 --label d4node $groups_d4 >"$T/d4.tsv" &
rx=$!
sleep 0.3
d4_spawn "$T/d4.log" ip netns exec $lab-h1 "$D4NODE" --config "$T/tx.ini" \
	--run-seconds $((secs + 2))
tx=$!
wait $rx
# The same groups next: the node must be gone before GStreamer's receiver
# starts.
d4_wait_pid $tx 30 || fail "d4node failed: $(tail -n 5 "$T/d4.log")"

# GStreamer: the same file, four pipelines
ip netns exec $lab-h2 "$BUILD/bench/d4-rxstamp" --ptime-us 1000 \
	--seconds $((secs + 1)) --warmup 1 --label gstreamer $groups_gst >"$T/gst.tsv" &
rx=$!
sleep 0.3
for g in $groups_gst; do
	d4_spawn "$T/gst-${g%%:*}.log" ip netns exec $lab-h1 timeout $((secs + 3)) \
		gst-launch-1.0 -q filesrc location="$T/in.raw" ! \
		rawaudioparse format=pcm pcm-format=s24be sample-rate=48000 num-channels=8 ! \
		capssetter caps="audio/x-raw,channel-mask=(bitmask)0x0" ! \
		rtpL24pay pt=98 min-ptime=1000000 max-ptime=1000000 ! \
		udpsink host=${g%%:*} port=${g##*:} multicast-iface=eth0 ttl-mc=1 \
		auto-multicast=true sync=true
done
wait $rx

bench_table "TX pacing: 4 flows x 8 ch x 1 ms, ${secs} s, deviation from each flow's 1 ms grid at the receiver (kernel timestamps)" \
	"sender	flows	packets	p50 us	p99 us	p99.9 us	max us	bursts %" \
	"$T/d4.tsv" "$T/gst.tsv"
d4p99=$(cut -f5 "$T/d4.tsv") gstp99=$(cut -f5 "$T/gst.tsv")
bench_ratio "p99 d4node / GStreamer" "$d4p99" "$gstp99" "0.2" lower
bench_record "$T/d4.tsv" "$T/gst.tsv"

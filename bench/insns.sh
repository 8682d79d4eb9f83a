#!/usr/bin/env bash
# Benchmark 2b, instructions per packet (callgrind counts instructions,
# not time: repeatable on a noisy machine). One 8-channel L24 1 ms flow
# sent by d4node and by GStreamer (rtpL24pay + udpsink), each
# run twice, short and long, under callgrind; instructions per packet is
# the difference between the runs over the difference in packets, so
# start-up work (config, plugin loading) cancels out. GStreamer runs with
# sync=false: slowed down by valgrind, a synced sink would drop late
# buffers and send fewer packets than it read; unsynced, it sends every
# one and skips its clock waits, so its figure is a lower bound (the
# comparison favours GStreamer).
# usage: bench/insns.sh
. "$(dirname "$0")/lib.sh"
d4_private_netns "$@"
"$D4WAV" gen "$T/in.wav" --channels 8 --seconds 12 --seed 4
sox "$T/in.wav" -t raw -e signed -b 24 -B "$T/in.raw"
printf '[node]\nname = cg\nrt_priority = 0\n[source t]\ntype = file\npath = %s\n[flow f]\nsource = t\ndestination = 239.69.99.1:5004\n' \
	"$T/in.wav" >"$T/cg.ini"
collected() { sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$1" | tail -n 1; }
d4run() { # SECONDS -> "packets instructions"
	valgrind --tool=callgrind --callgrind-out-file="$T/d4-$1.cg" "$D4NODE" \
		--config "$T/cg.ini" --run-seconds "$1" >"$T/d4-$1.log" 2>&1
	echo "$(d4_flow_stat "$T/d4-$1.log" f packets) $(collected "$T/d4-$1.log")"
}
gstrun() { # BUFFERS of 4608 bytes (192 frames = 4 packets) -> "packets instructions"
	valgrind --tool=callgrind --callgrind-out-file="$T/gst-$1.cg" gst-launch-1.0 -q \
		filesrc location="$T/in.raw" num-buffers="$1" blocksize=4608 ! \
		rawaudioparse format=pcm pcm-format=s24be sample-rate=48000 num-channels=8 ! \
		rtpL24pay pt=98 min-ptime=1000000 max-ptime=1000000 ! \
		udpsink host=239.69.99.2 port=5004 ttl-mc=1 auto-multicast=true sync=false \
		>"$T/gst-$1.log" 2>&1
	echo "$(($1 * 4)) $(collected "$T/gst-$1.log")"
}
read -r dp1 di1 <<<"$(d4run 2)"
read -r dp2 di2 <<<"$(d4run 5)"
read -r gp1 gi1 <<<"$(gstrun 100)"
read -r gp2 gi2 <<<"$(gstrun 400)"
d4=$(((di2 - di1) / (dp2 - dp1)))
gst=$(((gi2 - gi1) / (gp2 - gp1)))
printf 'd4node\t%d\t%d\t%d\n' "$((dp2 - dp1))" "$((di2 - di1))" "$d4" >"$T/rows.tsv"
printf 'gstreamer\t%d\t%d\t%d\n' "$((gp2 - gp1))" "$((gi2 - gi1))" "$gst" >>"$T/rows.tsv"
bench_table "Instructions per packet (callgrind), one 8 ch L24 1 ms flow, TX, long run minus short run" \
	"sender	packets	instructions	instructions per packet" "$T/rows.tsv"
bench_ratio "instructions per packet d4node / GStreamer" "$d4" "$gst" "0.333" lower
bench_record insns "$T/rows.tsv"

#!/usr/bin/env bash
# Benchmark 2b, instructions per packet: callgrind counts instructions,
# not time, so the figure repeats on a noisy machine. One 8-channel L24
# 1 ms flow sent by d4node and by GStreamer, each run twice, short and
# long, under callgrind; instructions per packet is the difference between
# the runs over the difference in packets, so start-up (config, plugin
# loading) cancels out. The packets are the kernel's count (an nftables
# counter on the namespace's output for the stream's group and port),
# never an assumption; every sender sends to the same group and the same
# receiver (bench/rxstamp.c, whose count is printed beside it).
#
# The senders, each set up as its expert users would:
#   d4node       a file flow ([source] type = file, the WAV), its default
#                D4 loop; --keep-privileges (libpsx's signals abort
#                valgrind) and rt_priority = 0
#   gst-raw      the cheapest correct AES67 sender found with GStreamer:
#                filesrc of raw S24BE (the wire's own format: no sample
#                conversion) ! rawaudioparse ! capssetter
#                channel-mask=0 (unpositioned: AES67 channels are numbers;
#                with positions rtpL24pay reorders every sample) !
#                rtpL24pay pt=98 min-ptime=max-ptime=1 ms ! udpsink
#                sync=true (paced, one packet a millisecond, as AES67
#                needs; sync=false sends in bursts)
#   gst-wav      the same from the WAV file d4node reads: filesrc !
#                wavparse ! capssetter channel-mask=0 ! audioconvert !
#                S24BE ! rtpL24pay ! udpsink sync=true
# and, to show what the AES67 settings are worth, gst-raw without them:
#   gst-raw-positioned  no capssetter: rawaudioparse's default positions
#                       for 8 channels, which rtpL24pay reorders into RTP's
#                       order, every sample
#   gst-raw-unsynced    udpsink sync=false: no clock waits, packets in
#                       bursts (not AES67: a lower bound of its work)
# Also the instructions per
# packet of d4node's own parts (inclusive, same runs): the media thread
# and in it the flow, the source read, the meter, the RTP packing, the D4
# loop with its send; the file thread.
#
# usage: bench/insns.sh [SHORT LONG]   (seconds of audio; default 2 6)
#   INSNS_SENDERS="d4node gst-raw gst-wav ..." picks senders (default all);
#   D4_LABEL names d4node's rows (another build's figures, D4NODE=...:
#   D4_LABEL="d4node at 7ed90fe" INSNS_SENDERS=d4node bench/insns.sh)
. "$(dirname "$0")/lib.sh"
d4_private_netns "$@"
short=${1:-2}
long=${2:-6}
group=239.69.99.1
port=5004
command -v valgrind >/dev/null || fail "valgrind not installed (scripts/setup)"
"$D4WAV" gen "$T/in.wav" --channels 8 --seconds $((long + 4)) --seed 4
for s in $short $long; do
	"$D4WAV" gen "$T/in$s.wav" --channels 8 --seconds "$s" --seed 4
	sox "$T/in$s.wav" -t raw -e signed -b 24 -B "$T/in$s.raw"
done
printf '[node]\nname = cg\nrt_priority = 0\n[source t]\ntype = file\npath = %s\n[flow f]\nsource = t\ndestination = %s:%s\n' \
	"$T/in.wav" $group $port >"$T/cg.ini"
bench_count_add - output tx ip daddr $group udp dport $port
collected() { sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$1" | tail -n 1; }

# measure NAME CMD...: run CMD under callgrind, with the receiver on;
# prints "packets-sent packets-received instructions"
measure() {
	local name=$1 c0 c1 rx got
	shift
	"$D4RXSTAMP" --ptime-us 1000 --seconds 600 --warmup 0 --label "$name" \
		$group:$port >"$T/$name.rx" 2>"$T/$name.rxlog" &
	rx=$!
	_pids="$_pids $rx"
	sleep 0.2
	c0=$(bench_count - tx)
	# SCHED_FIFO 1 (above every ordinary process, below real-time
	# threads such as nodes' media threads): slowed down by valgrind, a
	# sender must still keep real time on a busy machine (d4node would
	# skip packets, GStreamer send late ones in bursts); the instructions
	# are counted all the same
	chrt -f 1 valgrind --tool=callgrind --callgrind-out-file="$T/$name.cg" "$@" \
		>"$T/$name.log" 2>&1 || fail "$name under callgrind: $(tail -n 5 "$T/$name.log")"
	c1=$(bench_count - tx)
	sleep 0.2
	kill -TERM $rx 2>/dev/null || true
	wait $rx || true
	got=$(cut -f3 "$T/$name.rx")
	echo "$((c1 - c0)) ${got:-0} $(collected "$T/$name.log")"
}

d4run() { # NAME SECONDS
	measure "$1" "$D4NODE" --keep-privileges --config "$T/cg.ini" --run-seconds "$2"
}
unpos="capssetter caps=audio/x-raw,channel-mask=(bitmask)0x0"
pay="rtpL24pay pt=98 min-ptime=1000000 max-ptime=1000000 ! udpsink host=$group port=$port ttl-mc=1 auto-multicast=true sync=true"
gst_raw() { # NAME SECONDS
	measure "$1" gst-launch-1.0 -q filesrc location="$T/in$2.raw" ! \
		rawaudioparse format=pcm pcm-format=s24be sample-rate=48000 num-channels=8 ! \
		$unpos ! $pay
}
gst_raw_positioned() { # NAME SECONDS
	measure "$1" gst-launch-1.0 -q filesrc location="$T/in$2.raw" ! \
		rawaudioparse format=pcm pcm-format=s24be sample-rate=48000 num-channels=8 ! \
		$pay
}
gst_raw_unsynced() { # NAME SECONDS
	measure "$1" gst-launch-1.0 -q filesrc location="$T/in$2.raw" ! \
		rawaudioparse format=pcm pcm-format=s24be sample-rate=48000 num-channels=8 ! \
		$unpos ! ${pay/sync=true/sync=false}
}
gst_wav() { # NAME SECONDS
	measure "$1" gst-launch-1.0 -q filesrc location="$T/in$2.wav" ! wavparse ! \
		$unpos ! audioconvert ! audio/x-raw,format=S24BE ! $pay
}

: >"$T/rows.tsv"
d4label=${D4_LABEL:-d4node}
for sender in ${INSNS_SENDERS:-d4node gst-raw gst-wav gst-raw-positioned gst-raw-unsynced}; do
	case $sender in
	d4node) run=d4run ;;
	gst-raw) run=gst_raw ;;
	gst-wav) run=gst_wav ;;
	gst-raw-positioned) run=gst_raw_positioned ;;
	gst-raw-unsynced) run=gst_raw_unsynced ;;
	*) fail "unknown sender $sender" ;;
	esac
	read -r p1 r1 i1 <<<"$($run $sender-short $short)"
	read -r p2 r2 i2 <<<"$($run $sender-long $long)"
	[ "$((p2 - p1))" -gt 0 ] && [ -n "$i1" ] && [ -n "$i2" ] ||
		fail "$sender: the long run sent $p2 packets, the short $p1: no figure"
	# The difference holds only if both runs kept real time (1000
	# packets a second): a sender that fell behind did less per second.
	if [ "$((p2 - p1))" -lt $(((long - short) * 900)) ]; then
		msg="$sender: $((p2 - p1)) packets in $((long - short)) s more: it fell behind real time under valgrind (machine too busy?)"
		# a smoke run only keeps the script working
		[ -n "${BENCH_SMOKE:-}" ] || fail "$msg; no figure"
		echo "bench/insns.sh: $msg" >&2
	fi
	label=$sender
	[ $sender = d4node ] && label=$d4label
	printf '%s\t%d\t%d\t%d\t%d\t%d\n' "$label" $((p2 - p1)) $((r2 - r1)) \
		$((i2 - i1)) $(((i2 - i1) / (p2 - p1))) "$p2" >>"$T/rows.tsv"
done
bench_table "Instructions per packet (callgrind), one 8 ch L24 1 ms flow, TX: long run ($long s) minus short run ($short s)" \
	"sender	packets (kernel)	packets received	instructions	instructions per packet	packets in the long run" "$T/rows.tsv"
per() { awk -F'\t' -v s="$1" '$1 == s { print $5 }' "$T/rows.tsv"; }
bench_record "$T/rows.tsv"
for g in gst-raw gst-wav; do
	if [ -n "$(per "$d4label")" ] && [ -n "$(per $g)" ]; then
		bench_ratio "instructions per packet $d4label / $g" \
			"$(per "$d4label")" "$(per $g)" 0.5 lower
	fi
done
if [ -z "$(per "$d4label")" ]; then
	exit 0
fi

# d4node's parts: inclusive instructions per packet of each function,
# long minus short, from the same two callgrind runs.
parts="media_main flow_send_due source_read meter_feed rtp_pack relay_run files_main"
python3 - "$T/d4node-short.cg" "$T/d4node-long.cg" \
	"$(awk -F'\t' -v s="$d4label" '$1 == s { print $2 }' "$T/rows.tsv")" "$d4label" $parts >"$T/parts.tsv" <<'PY'
import re, subprocess, sys
short, long_, packets, label, names = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5:]
def inclusive(cg):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", cg],
                         capture_output=True, text=True, check=True).stdout
    cost = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+\S*?:(\w+)(?: \[|$)", line)
        if m:
            # a function inlined from a header has a second entry with
            # part of its cost: keep the whole one
            n = int(m.group(1).replace(",", ""))
            cost[m.group(2)] = max(cost.get(m.group(2), 0), n)
    return cost
a, b = inclusive(short), inclusive(long_)
for n in names:
    d = b.get(n, 0) - a.get(n, 0)
    print(f"{label} part\t{n}\t{d}\t{d // packets}")
PY
bench_table "d4node's parts, inclusive instructions per packet (same runs; media_main is the media thread, files_main the file thread)" \
	"sender	function	instructions	instructions per packet" "$T/parts.tsv"
bench_record "$T/parts.tsv"

#!/usr/bin/env bash
# Benchmark 2, CPU per channel: K flows of 8 channels L24 at 1 ms (K = 1,
# 8, 32) sent (TX, host h1) and received (RX, host h2).
#
# TX: each sender in turn sends the K flows to the same receiver, which
# joins all K groups and counts what arrives (bench/rxstamp.c):
#   d4node     one file source, K flows
#   gstreamer  one gst-launch-1.0 with K chains, each as bench/insns.sh's
#              gst-raw (raw S24BE ! rawaudioparse ! capssetter
#              channel-mask=0 ! rtpL24pay 1 ms ! udpsink sync=true)
#   floor      bench/txfloor.c: the same packets at the same ticks from a
#              loop that only sleeps and sends (one sendmmsg for all K
#              flows a tick): what the kernel's timer wake-up and UDP send
#              cost here, a floor no paced sender goes under
# RX: each receiver in turn gets the same K flows from the same sender
# (the floor sender, restarted for each):
#   d4node     K subscriptions, each to a null sink (played out on time)
#   gstreamer  one gst-launch-1.0 with K chains: udpsrc ! rtpjitterbuffer
#              latency=1 ! rtpL24depay ! fakesink sync=true, the caps
#              naming a channel-order the depayloader does not know (it
#              then leaves the channels unpositioned instead of reordering
#              every sample: the AES67 user's setting)
# For each: CPU over SECONDS after a 1 s warm-up, all threads, from the
# scheduler's accounting (schedstat, ns), as CPU seconds per minute and
# microseconds per packet; packets are the kernel's count on h1 (nftables)
# in the same window; "lost" is what the kernel sent minus what the
# receiver counted (TX) or reported lost (RX, d4node).
# usage: bench/cpu.sh [SECONDS] [K...]
. "$(dirname "$0")/lib.sh"
secs=${1:-20}
shift || true
ks=${*:-1 8 32}
lab=d4bc$$
d4_lab_hosts $lab 2
h1=$lab-h1 h2=$lab-h2
# Long enough that no sender runs out, even one that falls behind and
# then sends its late packets at once.
"$D4WAV" gen "$T/in.wav" --channels 8 --seconds $((secs + 60)) --seed 2
sox "$T/in.wav" -t raw -e signed -b 24 -B "$T/in.raw"
bench_count_add $h1 output flows ip daddr 239.69.70.0/23 udp dport 5004

group() { echo 239.69.$((70 + $1 / 200)).$(($1 % 200 + 1)); } # flow i >= 1
groups() { # K: group:port of flows 1..K
	local i
	for i in $(seq 1 "$1"); do echo "$(group $i):5004"; done
}

d4_tx_ini() { # K: one file source, K flows
	echo "[node]"; echo "name = tx"
	echo "[source f]"; echo "type = file"; echo "path = $T/in.wav"
	for i in $(seq 1 "$1"); do
		printf '[flow f%d]\nsource = f\ndestination = %s:5004\ninterface = eth0\n' $i "$(group $i)"
	done
}
d4_rx_ini() { # K: K subscriptions, null sinks
	echo "[node]"; echo "name = rx"
	for i in $(seq 1 "$1"); do
		printf '[subscription s%d]\naddress = %s:5004\ninterface = eth0\nchannels = 8\n' $i "$(group $i)"
		printf '[sink n%d]\ntype = null\nsubscription = s%d\n' $i $i
	done
}
gst_tx_args() { # K: the chains of one gst-launch-1.0
	local i
	for i in $(seq 1 "$1"); do
		echo filesrc location="$T/in.raw" ! rawaudioparse format=pcm pcm-format=s24be \
			sample-rate=48000 num-channels=8 ! \
			capssetter caps="audio/x-raw,channel-mask=(bitmask)0x0" ! \
			rtpL24pay pt=98 min-ptime=1000000 max-ptime=1000000 ! \
			udpsink host="$(group $i)" port=5004 multicast-iface=eth0 ttl-mc=1 \
			auto-multicast=true sync=true
	done
}
gst_rx_args() {
	local i
	for i in $(seq 1 "$1"); do
		echo udpsrc address="$(group $i)" port=5004 multicast-iface=eth0 \
			caps="application/x-rtp,media=audio,clock-rate=48000,encoding-name=L24,channels=8,payload=98,channel-order=unpositioned" ! \
			rtpjitterbuffer latency=1 ! rtpL24depay ! fakesink sync=true
	done
}

# window PID...: after a 1 s warm-up, over about SECONDS: the CPU of PIDs
# and the packets the kernel sent, each with the wall time between its
# two readings (a reading may take a while on a busy machine); prints
# "cpu_ns cpu_wall_ns packets packets_wall_ns"
window() {
	local c0 c1 p0 p1 tc0 tc1 tp0 tp1
	sleep 1
	p0=$(bench_count $h1 flows) tp0=$(date +%s%N)
	c0=$(bench_cpu_ns "$@") tc0=$(date +%s%N)
	sleep "$secs"
	p1=$(bench_count $h1 flows) tp1=$(date +%s%N)
	c1=$(bench_cpu_ns "$@") tc1=$(date +%s%N)
	# A process that ended within the window took its CPU time with it.
	kill -0 "$@" 2>/dev/null || { echo "- - - -"; return; }
	echo "$((c1 - c0)) $((tc1 - tc0)) $((p1 - p0)) $((tp1 - tp0))"
}
stop() { kill "$@" 2>/dev/null || true; for p in "$@"; do wait "$p" 2>/dev/null || true; done; }
row() { # K ROLE PEER CPU_NS CPU_WALL_NS PACKETS PACKETS_WALL_NS LOST
	python3 - "$@" >>"$T/rows.tsv" <<'PY'
import sys
k, role, peer = sys.argv[1:4]
if sys.argv[4] == "-":
    print(f"{k}\t{int(k) * 8}\t{role}\t{peer}\t-\t-\t-\t-\tended within the window")
    sys.exit()
ns, cwall, pk, pwall = map(int, sys.argv[4:8])
cpu, pps = ns / cwall, pk / pwall * 1e9  # CPU s per s, packets per s
print(f"{k}\t{int(k) * 8}\t{role}\t{peer}\t{pk}\t{pps:.0f}\t"
      f"{cpu * 60:.2f}\t{cpu * 1e6 / pps if pps else 0:.2f}\t{sys.argv[8]}")
PY
}

# tx K PEER: PEER sends K flows to the receiver on h2
tx() {
	local k=$1 peer=$2 rx pid start got m
	ip netns exec $h2 "$D4RXSTAMP" --ptime-us 1000 --seconds 600 --warmup 0 --label rx \
		$(groups "$k") >"$T/rx.tsv" 2>"$T/rx.log" &
	rx=$!
	_pids="$_pids $rx"
	sleep 0.3
	start=$(bench_count $h1 flows)
	case $peer in
	d4node)
		d4_tx_ini "$k" >"$T/tx.ini"
		d4_spawn "$T/tx-$k.log" ip netns exec $h1 "$D4NODE" --config "$T/tx.ini" ;;
	gstreamer)
		# shellcheck disable=SC2046
		d4_spawn "$T/gst-tx-$k.log" ip netns exec $h1 gst-launch-1.0 -q $(gst_tx_args "$k") ;;
	floor)
		d4_spawn "$T/floor-$k.log" ip netns exec $h1 "$D4TXFLOOR" "$k" \
			"$(group 1)" 5004 10.77.0.1 $((secs + 600)) ;;
	esac
	pid=$!
	m=$(window $pid)
	stop $pid
	sleep 0.3
	kill -TERM $rx 2>/dev/null || true
	wait $rx || true
	got=$(cut -f3 "$T/rx.tsv")
	row "$k" TX "$peer" $m $(($(bench_count $h1 flows) - start - ${got:-0}))
}

# rx K PEER: PEER receives K flows from the floor sender on h1
rx() {
	local k=$1 peer=$2 pid fl m lost=- i
	case $peer in
	d4node)
		d4_rx_ini "$k" >"$T/rx.ini"
		d4_spawn "$T/rx-$k.log" ip netns exec $h2 "$D4NODE" --config "$T/rx.ini" ;;
	gstreamer)
		# shellcheck disable=SC2046
		d4_spawn "$T/gst-rx-$k.log" ip netns exec $h2 gst-launch-1.0 -q $(gst_rx_args "$k") ;;
	esac
	pid=$!
	sleep 1
	d4_spawn "$T/floor-rx-$k.log" ip netns exec $h1 "$D4TXFLOOR" "$k" \
		"$(group 1)" 5004 10.77.0.1 $((secs + 600))
	fl=$!
	m=$(window $pid)
	stop $fl
	sleep 0.3
	if [ "$peer" = d4node ]; then
		kill -TERM $pid
		d4_wait_pid $pid 20 || true
		lost=0
		for i in $(seq 1 "$k"); do
			lost=$((lost + $(d4_sub_stat "$T/rx-$k.log" s$i lost)))
		done
	else
		stop $pid
	fi
	row "$k" RX "$peer" $m $lost
}

: >"$T/rows.tsv"
for k in $ks; do
	for peer in d4node gstreamer floor; do tx "$k" $peer; done
	for peer in d4node gstreamer; do rx "$k" $peer; done
done
bench_table "CPU per channel: K flows x 8 ch x 1 ms, ${secs} s each, one after the other; TX to one receiver, RX from one sender (bench/txfloor.c); CPU of all threads (schedstat)" \
	"K	channels	role	peer	packets (kernel)	packets/s	CPU s/min	us per packet	lost" "$T/rows.tsv"
bench_record "$T/rows.tsv"
cpu() { awk -F'\t' -v k="$1" -v r="$2" -v p="$3" '$1 == k && $3 == r && $4 == p { print $8 }' "$T/rows.tsv"; }
ratio() { # WHAT K ROLE PEER_A PEER_B TARGET
	local a b
	a=$(cpu "$2" "$3" "$4") b=$(cpu "$2" "$3" "$5")
	if [ "$a" != - ] && [ "$b" != - ]; then
		bench_ratio "$1" "$a" "$b" "$6" lower
	fi
}
for k in $ks; do
	ratio "K = $k: TX CPU per packet d4node / GStreamer" $k TX d4node gstreamer 0.333
	ratio "K = $k: TX CPU per packet d4node / floor" $k TX d4node floor 1
	ratio "K = $k: RX CPU per packet d4node / GStreamer" $k RX d4node gstreamer 0.333
done

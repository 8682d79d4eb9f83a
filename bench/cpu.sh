#!/usr/bin/env bash
# Benchmark 2, CPU per channel: K flows of 8 channels at 1 ms (K = 1, 8,
# 32), sent (TX) and received (RX), by d4node and by the equivalent
# GStreamer pipelines (rtpL24pay + udpsink sync=true; udpsrc +
# rtpjitterbuffer + rtpL24depay + fakesink sync=true), one after the other
# in one run. CPU seconds per minute from /proc/PID/stat over the run, and
# instructions per packet under callgrind (a short run, K = 1).
# usage: bench/cpu.sh [SECONDS] [K...]
. "$(dirname "$0")/lib.sh"
secs=${1:-20}
shift || true
ks=${*:-1 8 32}
lab=d4bc$$
d4_lab_hosts $lab 2
h1=$lab-h1 h2=$lab-h2
"$D4WAV" gen "$T/in.wav" --channels 8 --seconds $((secs + 5)) --seed 2
sox "$T/in.wav" -t raw -e signed -b 24 -B "$T/in.raw"
hz=$(getconf CLK_TCK)

# cpu_of PID...: CPU ticks (user + system) of these processes so far.
cpu_of() {
	local t=0 p
	for p in "$@"; do
		t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo $t
}

# measure LABEL PID...: CPU s/min of PIDs over secs (after 1 s warm-up).
measure() {
	local label=$1 a b
	shift
	sleep 1
	a=$(cpu_of "$@")
	sleep "$secs"
	b=$(cpu_of "$@")
	python3 -c "import sys; print(f'{(($b - $a) / $hz) * 60 / $secs:.3f}')"
}

d4_tx_ini() { # K [base]: K file flows
	echo "[node]"; echo "name = tx"
	echo "[source f]"; echo "type = file"; echo "path = $T/in.wav"
	for i in $(seq 1 "$1"); do
		printf '[flow f%d]\nsource = f\ndestination = 239.69.%d.%d:5004\ninterface = eth0\n' \
			$i $((70 + i / 200)) $((i % 200 + 1))
	done
}
d4_rx_ini() {
	echo "[node]"; echo "name = rx"
	for i in $(seq 1 "$1"); do
		printf '[subscription s%d]\naddress = 239.69.%d.%d:5004\ninterface = eth0\nchannels = 8\n' \
			$i $((70 + i / 200)) $((i % 200 + 1))
		printf '[sink n%d]\ntype = null\nsubscription = s%d\n' $i $i
	done
}
gst_tx() { # K: K sender pipelines on h1, pids in $gpids
	gpids=""
	for i in $(seq 1 "$1"); do
		ip netns exec $h1 gst-launch-1.0 -q filesrc location="$T/in.raw" ! \
			rawaudioparse format=pcm pcm-format=s24be sample-rate=48000 num-channels=8 ! \
			rtpL24pay pt=98 min-ptime=1000000 max-ptime=1000000 ! \
			udpsink host=239.69.$((70 + i / 200)).$((i % 200 + 1)) port=5004 \
			multicast-iface=eth0 ttl-mc=1 auto-multicast=true sync=true \
			>/dev/null 2>&1 &
		gpids="$gpids $!"
		_pids="$_pids $!"
	done
}
gst_rx() {
	gpids=""
	for i in $(seq 1 "$1"); do
		ip netns exec $h2 gst-launch-1.0 -q udpsrc \
			address=239.69.$((70 + i / 200)).$((i % 200 + 1)) port=5004 multicast-iface=eth0 \
			caps="application/x-rtp,media=audio,clock-rate=48000,encoding-name=L24,channels=8,payload=98" ! \
			rtpjitterbuffer latency=1 ! rtpL24depay ! fakesink sync=true \
			>/dev/null 2>&1 &
		gpids="$gpids $!"
		_pids="$_pids $!"
	done
}
# The real process behind "ip netns exec X prog" is prog itself (exec).
stop() { kill "$@" 2>/dev/null || true; sleep 0.5; }

: >"$T/rows.tsv"
for k in $ks; do
	d4_tx_ini $k >"$T/tx.ini"
	d4_rx_ini $k >"$T/rx.ini"
	# d4node TX and RX (the RX node receives from the TX node)
	d4_spawn "$T/rx-$k.log" ip netns exec $h2 "$D4NODE" --config "$T/rx.ini"
	rx=$!
	d4_spawn "$T/tx-$k.log" ip netns exec $h1 "$D4NODE" --config "$T/tx.ini"
	tx=$!
	m=$( { measure tx $tx >"$T/m.tx"; } & { measure rx $rx >"$T/m.rx"; } & wait; cat "$T/m.tx" "$T/m.rx" | paste -sd' ')
	stop $tx $rx
	d4tx=${m% *} d4rx=${m#* }
	# GStreamer TX and RX
	gst_rx $k
	grx=$gpids
	gst_tx $k
	gtx=$gpids
	m=$( { measure tx $gtx >"$T/m.tx"; } & { measure rx $grx >"$T/m.rx"; } & wait; cat "$T/m.tx" "$T/m.rx" | paste -sd' ')
	stop $gtx $grx
	gsttx=${m% *} gstrx=${m#* }
	# The floor: the same packets from a C loop that only sleeps and
	# sends (bench/txfloor.c), what the kernel's wake-up and UDP send
	# cost here per packet.
	d4_spawn "$T/floor-$k.log" ip netns exec $h1 "$D4TXFLOOR" "$k" \
		239.69.70.2 5004 10.77.0.1 $((secs + 5))
	fl=$!
	floortx=$(measure tx $fl)
	stop $fl
	ch=$((k * 8))
	python3 - "$k" "$ch" "$d4tx" "$gsttx" "$floortx" "$d4rx" "$gstrx" >>"$T/rows.tsv" <<'PY'
import sys
k, ch, dt, gt, ft, dr, gr = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
f = lambda a, b: f"{a / b:.2f}" if b else "-"
print(f"{k}\t{ch}\t{dt:.2f}\t{gt:.2f}\t{f(dt, gt)}\t{ft:.2f}\t{f(dt, ft)}\t{dr:.2f}\t{gr:.2f}\t{f(dr, gr)}")
PY
done
bench_table "CPU per channel: K flows x 8 ch x 1 ms, CPU seconds per minute over ${secs} s (user + system); floor: bench/txfloor.c" \
	"K	channels	d4node TX	GStreamer TX	TX ratio	floor TX	d4/floor	d4node RX	GStreamer RX	RX ratio" \
	"$T/rows.tsv"
bench_record cpu "$T/rows.tsv"

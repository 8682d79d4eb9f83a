#!/usr/bin/env bash
# Benchmark 3, latency: the smallest latency setting with zero late (and
# zero lost) packets over a run, at packet times 1 ms, 250 us and 125 us,
# sender and receiver on two lab hosts. One receiver node subscribes to the
# stream several times, each subscription with another latency, so one run
# per packet time tries every setting under the same conditions.
# usage: bench/latency.sh [SECONDS]
. "$(dirname "$0")/lib.sh"
secs=${1:-60}
lab=d4bl$$
d4_lab_hosts $lab 2
lats="250us 375us 500us 750us 1ms 1500us 2ms 3ms 4ms"

: >"$T/rows.tsv"
for pt in 1000 250 125; do
	printf '[node]\nname = tx\nspin_us = '"${SPIN_US:-0}"'\n[source t]\ntype = tone\nchannels = 8\n[flow f]\nsource = t\ndestination = 239.69.90.1:5004\ninterface = eth0\nptime = %sus\n' \
		$pt >"$T/tx.ini"
	{ echo "[node]"; echo "name = rx"
	i=0; for l in $lats; do i=$((i + 1))
		printf '[subscription l%d]\naddress = 239.69.90.1:5004\ninterface = eth0\nchannels = 8\nptime = %sus\nlatency = %s\ntiming = ptp\n[sink n%d]\ntype = null\nsubscription = l%d\n' \
			$i $pt $l $i $i
	done; } >"$T/rx.ini"
	d4_spawn "$T/rx-$pt.log" ip netns exec $lab-h2 "$D4NODE" --config "$T/rx.ini" --run-seconds $((secs + 2))
	rx=$!
	sleep 0.5
	d4_spawn "$T/tx-$pt.log" ip netns exec $lab-h1 "$D4NODE" --config "$T/tx.ini" --run-seconds $((secs + 3))
	d4_wait_pid $rx $((secs + 20)) || true
	best=none detail=""
	i=0; for l in $lats; do i=$((i + 1))
		late=$(d4_sub_stat "$T/rx-$pt.log" l$i late)
		lost=$(d4_sub_stat "$T/rx-$pt.log" l$i lost)
		detail="$detail $l:$late"
		if [ "$best" = none ] && [ "$late" = 0 ] && [ "$lost" = 0 ]; then best=$l; fi
	done
	# The first second counts: a subscription starts mid-stream.
	printf '%s us\t%s\t%s\n' $pt "$best" "${detail# }" >>"$T/rows.tsv"
done
bench_table "Latency: smallest setting with zero late and zero lost packets over ${secs} s, 8 ch L24, two lab hosts (late packets per setting)" \
	"packet time	smallest latency	late packets at each setting" "$T/rows.tsv"
bench_record "$T/rows.tsv"

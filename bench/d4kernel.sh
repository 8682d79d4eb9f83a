#!/usr/bin/env bash
# Benchmark 5, D4 in the kernel: the seed relay (1 -> N on loopback, N =
# 1, 10, 100) as the hand-written C relay, the D4 VM relay and the kernel
# back end (d4/kernel.h: the same program as eBPF at lo's tc ingress), in
# one run: CPU per datagram, the datagrams counted by the sink.
#
# bench/d4relay --mode three runs the four turns of 0.2 s in a round
# robin, SECONDS each: C, VM, kernel, and "base" (the kernel loop over an
# empty list: what making an input packet and bringing it to tc ingress
# costs). The generator sends 1164-byte RTP packets at 200 000 / N per
# second (200 000 datagrams/s out in every turn, so nothing saturates and
# no socket overflows: a relay that loses input would be charged for work
# that sent nothing); the sink drains the N ports and counts each relay's
# datagrams by their source port.
#
# CPU is per-thread run time (schedstat, ns) of the generator, the relay
# process and both ksoftirqd threads: this kernel has no IRQ time
# accounting, so the softirq work a packet causes (delivering it, the tc
# program, the clones, delivering the clones) lands on the thread that
# sent it: the relay's for C and VM, the generator's for the kernel back
# end. "relay us/datagram" takes the base turn's cost per input packet
# off (the generator's sending is not the relay's work); "all" keeps it.
# The relay and the generator run SCHED_FIFO so that other work on a
# shared machine cannot starve the relay (its socket would overflow); the
# sink does not (it never sleeps).
# usage: bench/d4kernel.sh [SECONDS] [ROUNDS]
. "$(dirname "$0")/lib.sh"
[ -n "${D4_IN_NETNS:-}" ] || rmdir "$T" # the namespace's own run makes one
d4_private_netns "$@"
secs=${1:-3}
rounds=${2:-3}
D4RELAY=${D4RELAY:-$BUILD/bench/d4relay}
[ -x "$D4RELAY" ] || fail "$D4RELAY not built (ninja -C build bench/d4relay)"
[ "$(nproc)" -ge 2 ] || fail "needs two CPUs"
if ! why=$("$D4RELAY" --mode probe --to 127.0.0.1:1); then
	echo "d4kernel: skipped: the kernel back end cannot run here: $why"
	exit 0
fi
out_rate=200000
ksoft=$(pgrep -x 'ksoftirqd/[0-9]+' | paste -sd, -)
# SCHED_FIFO where allowed (chrt execs its command: $! stays the PID)
fifo=(chrt -f 40)
chrt -f 40 true 2>/dev/null || fifo=()

# run_round N: the four turns on N receivers; a line per turn to runs.tsv
run_round() {
	local n=$1 sink gen relay mode rate=$((out_rate / n))
	taskset -c 0 "$D4RELAY" --mode sink --to 127.0.0.1:7000 --n "$n" \
		--seconds $((4 * secs + 40)) >"$T/sink.out" 2>"$T/sink.log" &
	sink=$!
	_pids="$_pids $sink"
	"${fifo[@]}" taskset -c 0 "$D4RELAY" --mode gen --to 127.0.0.1:6000 \
		--rate "$rate" --seconds $((4 * secs + 40)) >"$T/gen.out" 2>"$T/gen.log" &
	gen=$!
	_pids="$_pids $gen"
	"${fifo[@]}" taskset -c 1 "$D4RELAY" --mode three --listen 127.0.0.1:6000 \
		--to 127.0.0.1:7000 --n "$n" --seconds "$secs" --if lo \
		--account "$gen,$ksoft" >"$T/relay.out" 2>"$T/relay.log" ||
		fail "relay, N = $n: $(cat "$T/relay.log" "$T/relay.out")"
	grep -q "kernel refused" "$T/relay.out" &&
		fail "the kernel back end refused: $(grep "kernel refused" "$T/relay.out")"
	kill $gen
	wait $gen || true
	sleep 0.2 # the sink drains what is still queued
	kill $sink
	wait $sink || true
	for mode in c vm kernel base; do
		sed -n "s/^relay mode=$mode .* pkts=\([0-9]*\) out=\([0-9]*\) cpu_s=\([0-9.]*\).*/$n\t$mode\t\1\t\2\t\3/p" \
			"$T/relay.out" >>"$T/runs.tsv"
	done
	# N, datagrams the sink counted from each
	sed -n "s/^sink n=\([0-9]*\) .* c=\([0-9]*\) vm=\([0-9]*\) kernel=\([0-9]*\).*/\1\t\2\t\3\t\4/p" \
		"$T/sink.out" >>"$T/sink.tsv"
}

: >"$T/runs.tsv"
: >"$T/sink.tsv"
for n in 1 10 100; do
	for r in $(seq 1 "$rounds"); do
		run_round $n
	done
done

# One row per N: medians over the rounds; ratios within each round.
python3 - "$T/runs.tsv" "$T/sink.tsv" "$out_rate" >"$T/rows.tsv" 2>"$T/ratios.txt" <<'PY'
import statistics as st, sys
runs, sinks = {}, {}
for line in open(sys.argv[1]):
    n, mode, pkts, out, cpu = line.split("\t")
    runs.setdefault(int(n), []).append((mode, int(pkts), int(out), float(cpu)))
for line in open(sys.argv[2]):
    n, c, vm, k = map(int, line.split("\t"))
    sinks.setdefault(n, []).append({"c": c, "vm": vm, "kernel": k})
rate = int(sys.argv[3])
for n in sorted(runs):
    rounds = [runs[n][i:i + 4] for i in range(0, len(runs[n]), 4)]
    per = {"c": [], "vm": [], "kernel": []}
    allin = {"c": [], "kernel": []}
    ratio_c, ratio_vm, counted = [], [], {"c": [], "vm": [], "kernel": []}
    for rnd, sink in zip(rounds, sinks[n]):
        t = {m: (p, o, c) for m, p, o, c in rnd}
        base = t["base"][2] / t["base"][0]  # s per input packet
        us = {}
        for m in per:
            pkts, out, cpu = t[m]
            got = sink[m]
            counted[m].append(got)
            us[m] = (cpu - base * pkts) / got * 1e6
            per[m].append(us[m])
            if m in allin:
                allin[m].append(cpu / got * 1e6)
        ratio_c.append(us["c"] / us["kernel"])
        ratio_vm.append(us["vm"] / us["kernel"])
    med = st.median
    print(f"{n}\t{rate // n}\t{med(counted['c']):.0f} / {med(counted['vm']):.0f} / "
          f"{med(counted['kernel']):.0f}\t{med(per['c']):.2f}\t{med(per['vm']):.2f}\t"
          f"{med(per['kernel']):.2f}\t{med(ratio_c):.2f}\t{med(ratio_vm):.2f}\t"
          f"{med(allin['c']):.2f} / {med(allin['kernel']):.2f}")
    print(n, med(ratio_c), file=sys.stderr)
PY
bench_table "D4 in the kernel: 1 -> N on loopback, C / VM / kernel back end / base in turns, ${secs} s each, ${out_rate} datagrams/s out, median of ${rounds} rounds" \
	"N	input pkt/s	datagrams counted C / VM / kernel	C relay us/datagram	VM relay us/datagram	kernel relay us/datagram	C/kernel	VM/kernel	all (with the sender) C / kernel us/datagram" \
	"$T/rows.tsv"
while read -r n ratio; do
	[ "$n" = 10 ] && bench_ratio "N = 10: CPU per datagram, C relay / kernel back end" "$ratio" 1 2.5 higher
done <"$T/ratios.txt"
echo
echo "per turn (N, relay, packets in, datagrams out, CPU s):"
sed 's/^/  /' "$T/runs.tsv"
echo "sink (N, datagrams from C, VM, kernel):"
sed 's/^/  /' "$T/sink.tsv"
bench_record "$T/rows.tsv"

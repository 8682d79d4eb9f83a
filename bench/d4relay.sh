#!/usr/bin/env bash
# Benchmark 4, D4 relay: a 1 -> N relay on loopback for N = 1, 10, 100, the
# D4 VM running the seed program (examples/d4/seed-relay.d4) against a
# hand-written C relay with the same system calls (recvmmsg in, sendmmsg
# out), in one run: packets/s relayed and CPU seconds per million packets.
# Target: the VM relay at >= 0.95 of the C one.
#
# All in a private network namespace. The relay (bench/d4relay.c) has CPU 1
# to itself; the load generator, which sends 1164-byte RTP packets (8 ch
# L24, 1 ms: 1172-byte UDP datagrams) as fast as it can, and the sink,
# which drains the N receiving ports, share CPU 0 (on 3+ CPUs the sink gets
# CPU 2). One relay process runs both relays in turns of 0.1 s (--mode
# both), SECONDS each, so that other work on the machine, which moves the
# figures by 10 % from one run to the next, falls on both alike; ratios
# are taken within a round, and the table gives the medians of ROUNDS
# rounds. "relay CPU %" near 100 means the relay was the bottleneck; below
# it, the generator was (N = 1 on two cores), and CPU per packet is the
# figure to compare.
# usage: bench/d4relay.sh [SECONDS] [ROUNDS]
. "$(dirname "$0")/lib.sh"
[ -n "${D4_IN_NETNS:-}" ] || rmdir "$T" # the namespace's own run makes one
d4_private_netns "$@"
secs=${1:-5}
rounds=${2:-3}
D4RELAY=${D4RELAY:-$BUILD/bench/d4relay}
[ -x "$D4RELAY" ] || fail "$D4RELAY not built (ninja -C build bench/d4relay)"
[ "$(nproc)" -ge 2 ] || fail "needs two CPUs"
cpu_sink=0
[ "$(nproc)" -ge 3 ] && cpu_sink=2
program=$D4_SRC/examples/d4/seed-relay.d4

# kv MODE KEY: the value of KEY=... in the relay's line for MODE
kv() {
	sed -n "/ mode=$1 /s/.* $2=\([^ ]*\).*/\1/p" "$T/relay.out"
}

# run_round N: both relays on N receivers; a line per relay to runs.tsv
run_round() {
	local n=$1 sink gen relay mode offered
	taskset -c $cpu_sink "$D4RELAY" --mode sink --to 127.0.0.1:7000 \
		--n "$n" --seconds $((2 * secs + 30)) >"$T/sink.out" 2>"$T/sink.log" &
	sink=$!
	_pids="$_pids $sink"
	taskset -c 1 "$D4RELAY" --mode both --listen 127.0.0.1:6000 \
		--to 127.0.0.1:7000 --n "$n" --seconds "$secs" \
		--program "$program" >"$T/relay.out" 2>"$T/relay.log" &
	relay=$!
	_pids="$_pids $relay"
	sleep 0.3
	taskset -c 0 "$D4RELAY" --mode gen --to 127.0.0.1:6000 \
		--seconds $((2 * secs + 30)) >"$T/gen.out" 2>"$T/gen.log" &
	gen=$!
	_pids="$_pids $gen"
	wait $relay || fail "relay, N = $n: $(cat "$T/relay.log")"
	kill $gen
	wait $gen || true
	sleep 0.1 # the sink drains what is still queued
	kill $sink
	wait $sink || true
	offered=$(sed -n 's/.* pps=\([^ ]*\).*/\1/p' "$T/gen.out")
	for mode in c vm; do
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$n" \
			"$(kv $mode pps)" "$(kv $mode cpu_s_per_mpkt)" \
			"$(kv $mode user_s)" "$(kv $mode pkts)" "$(kv $mode cpu_s)" \
			"$(kv $mode secs)" "$offered" "$(kv $mode out)" >>"$T/runs.tsv"
	done
	# N, datagrams the relays sent, datagrams the sink got
	echo "$n $(($(kv c out) + $(kv vm out)))" \
		"$(sed -n 's/.* pkts=\([^ ]*\).*/\1/p' "$T/sink.out")" >>"$T/sink.txt"
}

: >"$T/runs.tsv"
: >"$T/sink.txt"
for n in 1 10 100; do
	for r in $(seq 1 "$rounds"); do
		run_round $n
	done
done

# One row per N: medians over the rounds; ratios within each round.
python3 - "$T/runs.tsv" "$T/sink.txt" >"$T/rows.tsv" 2>"$T/ratios.txt" <<'PY'
import statistics as st, sys
rounds = {}
for line in open(sys.argv[1]):
    mode, n, pps, cpu, user, pkts, cpu_s, secs, offered, out = line.split("\t")
    r = dict(pps=float(pps), cpu=float(cpu), busy=100 * float(cpu_s) / float(secs),
             user=float(user) / int(pkts) * 1e6, offered=float(offered))
    rounds.setdefault(int(n), {}).setdefault(mode, []).append(r)
missed = {}
for line in open(sys.argv[2]):
    n, sent, got = line.split()
    missed[int(n)] = missed.get(int(n), 0) + int(sent) - int(got)
for n in sorted(rounds):
    c, v = rounds[n]["c"], rounds[n]["vm"]
    med = lambda rs, k: st.median(r[k] for r in rs)
    pps_ratio = st.median(b["pps"] / a["pps"] for a, b in zip(c, v))
    cpu_ratio = st.median(a["cpu"] / b["cpu"] for a, b in zip(c, v))
    print(f"{n}\t{med(c, 'offered'):.0f}\t{med(c, 'pps'):.0f}\t{med(v, 'pps'):.0f}\t"
          f"{pps_ratio:.3f}\t{med(c, 'cpu'):.1f}\t{med(v, 'cpu'):.1f}\t"
          f"{cpu_ratio:.3f}\t{med(c, 'user'):.2f} / {med(v, 'user'):.2f}\t"
          f"{med(c, 'busy'):.0f} / {med(v, 'busy'):.0f}\t{missed[n]}")
    print(n, pps_ratio, cpu_ratio, file=sys.stderr)
PY
bench_table "D4 relay: 1 -> N on loopback, both relays in turns, ${secs} s each, median of ${rounds} rounds; VM = the seed program through d4_run" \
	"N	offered pkt/s	C pkt/s	VM pkt/s	VM/C pkt/s	C CPU s/Mpkt	VM CPU s/Mpkt	C/VM CPU	of which user C / VM	relay CPU % C / VM	sink missed" \
	"$T/rows.tsv"
while read -r n pps_ratio cpu_ratio; do
	bench_ratio "N = $n: packets/s VM / C" "$pps_ratio" 1 0.95 higher
	bench_ratio "N = $n: CPU per packet C / VM" "$cpu_ratio" 1 0.95 higher
done <"$T/ratios.txt"
echo
echo "per round (relay, N, pkt/s, CPU s/Mpkt, user s, packets, CPU s, s, offered pkt/s, datagrams out):"
sed 's/^/  /' "$T/runs.tsv"
bench_record d4relay "$T/rows.tsv"

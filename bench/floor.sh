#!/usr/bin/env bash
# The machine's floor, measured in the same run as d4 (bench/run runs it
# first): the figures no sender can beat here.
#   wake-up   cyclictest (rt-tests): one SCHED_FIFO thread, memory locked,
#             waking every 1 ms for SECONDS: how late it wakes, min, mean,
#             p99, p99.9 and max. Every pacing and latency tail meets it.
#   send      bench/txfloor.c, one flow (8 ch L24 1 ms packets) from lab
#             host h1 to a receiver on h2: a loop that only sleeps until
#             each millisecond and sends; its CPU per packet is what the
#             kernel's timer wake-up plus one UDP send cost here
#             (bench/cpu.sh has it for K flows beside d4node's).
# usage: bench/floor.sh [SECONDS]
. "$(dirname "$0")/lib.sh"
secs=${1:-60}
command -v cyclictest >/dev/null || fail "cyclictest not installed (rt-tests; scripts/setup)"
lab=d4bf$$
d4_lab_hosts $lab 2

# Wake-up: histogram in µs up to 10 ms (-h), overflows counted apart.
ip netns exec $lab-h1 cyclictest -m -p 80 -i 1000 -t 1 -D "$secs" -q -h 10000 \
	>"$T/cyclic.txt" 2>"$T/cyclic.log" || fail "cyclictest: $(tail -n 3 "$T/cyclic.log")"
python3 - "$T/cyclic.txt" >"$T/rows.tsv" <<'PY'
import re, sys
hist, mn, avg, mx, over = {}, None, None, None, 0
for line in open(sys.argv[1]):
    m = re.match(r"^(\d+)\s+(\d+)$", line)
    if m:
        hist[int(m.group(1))] = int(m.group(2))
    elif line.startswith("# Min Latencies:"):
        mn = int(line.split()[-1])
    elif line.startswith("# Avg Latencies:"):
        avg = int(line.split()[-1])
    elif line.startswith("# Max Latencies:"):
        mx = int(line.split()[-1])
    elif line.startswith("# Histogram Overflows:"):
        over = int(line.split()[-1])
n = sum(hist.values()) + over
def pct(p):
    want, seen = p * n, 0
    for us in sorted(hist):
        seen += hist[us]
        if seen >= want:
            return us
    return f">{max(hist)}"
print(f"wake-up\tcyclictest 1 ms, SCHED_FIFO 80\t{n}\t{mn}\t{avg}\t{pct(0.99)}\t{pct(0.999)}\t{mx}")
PY

# Send: one flow from the floor sender to a receiver on h2.
bench_count_add $lab-h1 output floor ip daddr 239.69.98.1 udp dport 5004
ip netns exec $lab-h2 "$D4RXSTAMP" --ptime-us 1000 --seconds $((secs + 600)) --warmup 0 \
	--label rx 239.69.98.1:5004 >"$T/rx.tsv" 2>"$T/rx.log" &
rx=$!
_pids="$_pids $rx"
sleep 0.3
d4_spawn "$T/floor.log" ip netns exec $lab-h1 "$D4TXFLOOR" 1 239.69.98.1 5004 10.77.0.1 $((secs + 600))
fl=$!
sleep 1
p0=$(bench_count $lab-h1 floor) tp0=$(date +%s%N)
c0=$(bench_cpu_ns $fl) tc0=$(date +%s%N)
sleep "$secs"
p1=$(bench_count $lab-h1 floor) tp1=$(date +%s%N)
c1=$(bench_cpu_ns $fl) tc1=$(date +%s%N)
kill $fl 2>/dev/null || true
wait $fl || true
sleep 0.3
kill -TERM $rx 2>/dev/null || true
wait $rx || true
python3 - $((p1 - p0)) $((tp1 - tp0)) $((c1 - c0)) $((tc1 - tc0)) "$(cut -f3 "$T/rx.tsv")" \
	>"$T/send.tsv" <<'PY'
import sys
pk, pwall, cpu, cwall = map(int, sys.argv[1:5])
pps, load = pk / pwall * 1e9, cpu / cwall
print(f"send\ttxfloor: 1 flow, sleep + sendmmsg a packet\t{pk}\t{pps:.0f}\t"
      f"{load * 60:.2f}\t{load * 1e6 / pps:.2f}\t{sys.argv[5] or 0}")
PY
bench_table "The machine's floor: timer wake-up (cyclictest, ${secs} s, µs late)" \
	"what	how	wake-ups	min	mean	p99	p99.9	max" "$T/rows.tsv"
bench_table "The machine's floor: wake-up plus one UDP send (bench/txfloor.c, ${secs} s)" \
	"what	how	packets (kernel)	packets/s	CPU s/min	us per packet	received (whole run)" "$T/send.tsv"
bench_record "$T/rows.tsv" "$T/send.tsv"

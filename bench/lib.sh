# Shared by the benchmarks: the lab harness of the tests, a results file,
# kernel packet counters, and table printing. Benchmarks are not tests:
# they print figures and append them to bench/results.tsv; scripts/test
# only smoke-runs them.
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${BUILD:-$BENCH_DIR/../build}
export D4NODE=${D4NODE:-$BUILD/node/d4node} D4WAV=${D4WAV:-$BUILD/tests/tools/d4wav}
export D4TXFLOOR=${D4TXFLOOR:-$BUILD/bench/d4-txfloor}
export D4RXSTAMP=${D4RXSTAMP:-$BUILD/bench/d4-rxstamp}
. "$BENCH_DIR/../tests/lib.sh"
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results.tsv}
# The benchmark's name in results.tsv (bench/NAME.sh).
BENCH_NAME=${BENCH_NAME:-$(basename "$0" .sh)}
# The commit of the tree measured, "-dirty" if files other than the
# results differ from it (appending results must not make a tree dirty).
bench_commit() {
	local src=$BENCH_DIR/.. c
	c=$(git -C "$src" rev-parse --short HEAD 2>/dev/null) || { echo -; return; }
	if [ -n "$(git -C "$src" status --porcelain --untracked-files=no -- . \
		':(exclude)bench/results.tsv' 2>/dev/null)" ]; then
		c="$c-dirty"
	fi
	echo "$c"
}
# One run of bench/run shares one id; a script run alone gets its own.
export BENCH_RUN=${BENCH_RUN:-$(date -u +%Y%m%dT%H%M%SZ)-$(bench_commit)}

# bench_table TITLE HEADER FILE...: print a table of tab-separated rows.
bench_table() {
	local title=$1 header=$2
	shift 2
	echo
	echo "### $title"
	echo
	echo "| ${header//	/ | } |"
	echo "|$(echo "$header" | tr -cd '\t' | sed 's/\t/---|/g')---|"
	cat "$@" | sed 's/\t/ | /g; s/^/| /; s/$/ |/'
}

# bench_record FILE...: append the rows of FILE... to results.tsv, each
# after the columns every row has (results.tsv's first line names them):
# UTC time, run id, benchmark, machine, kernel, load average (1, 5 and
# 15 min, when the row is written), and the commit of the tree.
bench_record() {
	local when machine kernel load commit
	when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	machine="$(nproc)cpu $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1 | tr -s ' ')"
	kernel=$(uname -r)
	load=$(cut -d' ' -f1-3 /proc/loadavg)
	commit=$(bench_commit)
	cat "$@" | sed "s|^|$when\t$BENCH_RUN\t$BENCH_NAME\t$machine\t$kernel\t$load\t$commit\t|" >>"$RESULTS"
}

# bench_ratio WHAT A B TARGET lower|higher: print A/B against a target and
# record it as a row: ratio, WHAT, the ratio, the target, met or MISSED.
bench_ratio() {
	local what=$1 a=$2 b=$3 target=$4 dir=$5
	python3 - "$what" "$a" "$b" "$target" "$dir" >"$T/ratio.tsv" <<'PY'
import sys
what, a, b, target, d = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
r = a / b if b else float("inf")
ok = r <= target if d == "lower" else r >= target
print(f"ratio\t{what}\t{r:.3f}\t{'<=' if d == 'lower' else '>='} {target}\t{'met' if ok else 'MISSED'}")
PY
	awk -F'\t' '{ printf "\n%s: %s (target %s): %s\n", $2, $3, $4, $5 }' "$T/ratio.tsv"
	bench_record "$T/ratio.tsv"
}

# Kernel packet counts: nftables counters by name in a namespace, so a
# figure per packet divides by what the kernel counted, never by what a
# sender was assumed to send.
# bench_count_add NETNS|- output|input NAME MATCH...: count datagrams
# matching an nft expression (e.g. ip daddr 239.69.70.0/24 udp dport
# 5004) as NAME, as they are sent (output) or as they arrive for a local
# socket (input); "-": the current namespace.
bench_count_add() {
	local ns=$1 hook=$2 name=$3 run=()
	shift 3
	[ "$ns" = - ] || run=(ip netns exec "$ns")
	"${run[@]}" nft list chain ip d4bench "$hook" >/dev/null 2>&1 || {
		"${run[@]}" nft add table ip d4bench
		"${run[@]}" nft add chain ip d4bench "$hook" "{ type filter hook $hook priority 0; }"
	}
	"${run[@]}" nft add rule ip d4bench "$hook" "$@" counter comment "\"$name\""
}

# bench_count NETNS|- NAME: datagrams counted as NAME so far.
bench_count() {
	local ns=$1 run=() n
	[ "$ns" = - ] || run=(ip netns exec "$ns")
	n=$("${run[@]}" nft list table ip d4bench |
		sed -n "s/.* counter packets \([0-9]*\) bytes [0-9]* comment \"$2\".*/\1/p")
	[ -n "$n" ] || fail "bench_count: no counter $2"
	echo "$n"
}

# bench_sched_ns PID...: time on a CPU of the live threads of PIDs so far,
# in ns, exactly (schedstat), not in clock ticks: for windows of a few
# seconds of a process at a fifth of a core, where ticks of 10 ms would
# be a ±2 % error.
bench_sched_ns() {
	local p t sum=0
	for p in "$@"; do
		for t in /proc/$p/task/*/schedstat; do
			read -r t _ <"$t" 2>/dev/null || t=0
			sum=$((sum + t))
		done
	done
	echo $sum
}

# bench_counts NETNS|- NAME...: the datagrams counted as each NAME so far,
# on one line, all from one listing (one moment, where bench_count after
# bench_count reads each at its own)
bench_counts() {
	local ns=$1 run=() list n out=
	shift
	[ "$ns" = - ] || run=(ip netns exec "$ns")
	list=$("${run[@]}" nft list table ip d4bench)
	for name in "$@"; do
		n=$(sed -n "s/.* counter packets \([0-9]*\) bytes [0-9]* comment \"$name\".*/\1/p" <<<"$list")
		[ -n "$n" ] || fail "bench_counts: no counter $name"
		out="$out${out:+ }$n"
	done
	echo "$out"
}

# bench_cpu_ns PID...: CPU time (user + system) of PIDs so far, all
# their threads, those that ended too, in ns (the kernel's total of its
# exact run time, in clock ticks).
bench_cpu_ns() {
	local p sum=0 hz
	hz=$(getconf CLK_TCK)
	for p in "$@"; do
		sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo $((sum * 1000000000 / hz))
}

# Shared by the benchmarks: the lab harness of the tests, a results file,
# and table printing. Benchmarks are not tests: they print figures and
# append them to bench/results.tsv; scripts/test only smoke-runs them.
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${BUILD:-$BENCH_DIR/../build}
export D4NODE=${D4NODE:-$BUILD/node/d4node} D4WAV=${D4WAV:-$BUILD/tests/tools/d4wav}
export D4TXFLOOR=${D4TXFLOOR:-$BUILD/bench/d4-txfloor}
. "$BENCH_DIR/../tests/lib.sh"
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results.tsv}

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

# bench_ratio WHAT A B TARGET lower|higher: print A/B against a target.
bench_ratio() {
	local what=$1 a=$2 b=$3 target=$4 dir=$5
	python3 - "$what" "$a" "$b" "$target" "$dir" <<'PY'
import sys
what, a, b, target, d = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
r = a / b if b else float("inf")
ok = r <= target if d == "lower" else r >= target
print(f"\n{what}: {r:.3f} (target {'<=' if d == 'lower' else '>='} {target}): {'met' if ok else 'MISSED'}")
PY
}

# bench_record NAME FILE...: append rows with date and machine to results.
bench_record() {
	local name=$1 when machine
	shift
	when=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	machine="$(nproc)cpu $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1 | tr -s ' ') $(uname -r)"
	cat "$@" | sed "s|^|$when\t$name\t$machine\t|" >>"$RESULTS"
}

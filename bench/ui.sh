#!/usr/bin/env bash
# Benchmark 7, the browser controller (issue 19): d4ctl ui with 8 nodes of
# 64 TX and 64 RX channels (tests/ui/scale.sh) in headless Chromium.
# - page load (Navigation Timing, load event end, the 512 x 512 matrix
#   drawn before it), median of LOADS warm loads; the peer, loaded by the
#   same browser in the same run: the same server's state as a bare JSON
#   document (the bytes without the page). Target: under 300 ms.
# - meters: messages a second the page got, the node's 50 ms windows it
#   saw (the node makes 20 a second: the peer), and how far behind the
#   server it ran. Target: at least 10 a second, not falling behind.
# usage: bench/ui.sh [LOADS]
. "$(dirname "$0")/lib.sh"
export D4CTL=${D4CTL:-$BUILD/controller-cli/d4ctl}
export D4_UI_LOADS=${1:-9} D4_UI_ROWS=$T/rows.tsv
export D4_UI_ARTIFACTS=$T/artifacts PYTHONPATH=$BENCH_DIR/../tests/ui
: >"$T/rows.tsv"
bash "$BENCH_DIR/../tests/ui/scale.sh" >"$T/scale.log" 2>&1 ||
	{ cat "$T/scale.log"; exit 1; }
grep -E '^(page|load|meters|cells)' "$T/scale.log"
bench_table "d4ctl ui, 8 nodes x 64 channels" \
	"what	d4ctl ui	peer	ratio" "$T/rows.tsv"
ms=$(sed -n 's/^page load, median ms\t\([0-9]*\).*/\1/p' "$T/rows.tsv")
echo
echo "page load: median $ms ms (target < 300 ms): $([ "$ms" -lt 300 ] && echo met || echo MISSED)"
bench_record "$T/rows.tsv"

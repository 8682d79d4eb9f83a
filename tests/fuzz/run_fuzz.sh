#!/usr/bin/env bash
# Run a libFuzzer target for a bounded time from the kept corpus. New
# inputs go to a scratch directory, not the repo; a crash leaves its input
# in ARTIFACTS (add it to the corpus once fixed).
# Usage: run_fuzz.sh FUZZER CORPUS_DIR DICT SECONDS ARTIFACTS_DIR
set -euo pipefail
fuzzer=$1 corpus=$2 dict=$3 secs=$4 artifacts=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"
# -timeout: no single input may take a second; the VM's runs are bounded
exec "$fuzzer" -max_total_time="$secs" -timeout=1 -rss_limit_mb=2048 \
	-max_len=8192 -dict="$dict" -print_final_stats=1 \
	-artifact_prefix="$artifacts/" "$work" "$corpus"

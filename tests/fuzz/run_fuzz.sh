#!/usr/bin/env bash
# Run a libFuzzer target for a bounded time from the kept corpus. New
# inputs go to a scratch directory, not the repo (FUZZ_WORK names one to
# keep them); a crash leaves its input in ARTIFACTS (add it to the corpus
# once fixed). DICT may be "" for none; EXTRA goes to libFuzzer last, so it
# overrides the defaults here (-max_len=...), and FUZZ_ARGS after it (a long
# run: FUZZ_ARGS=-runs=10000000).
# Usage: run_fuzz.sh FUZZER CORPUS_DIR DICT SECONDS ARTIFACTS_DIR [EXTRA...]
set -euo pipefail
fuzzer=$1 corpus=$2 dict=$3 secs=$4 artifacts=$5
shift 5
if [ -n "${FUZZ_WORK:-}" ]; then
	work=$FUZZ_WORK
	mkdir -p "$work"
else
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$artifacts"
args=() more=()
[ -n "$dict" ] && args+=(-dict="$dict")
[ -n "${FUZZ_ARGS:-}" ] && read -r -a more <<<"$FUZZ_ARGS"
# -timeout: no single input may take a second; the VM's runs are bounded
"$fuzzer" -max_total_time="$secs" -timeout=1 -rss_limit_mb=2048 \
	-max_len=8192 "${args[@]}" -print_final_stats=1 \
	-artifact_prefix="$artifacts/" "$@" "${more[@]}" "$work" "$corpus"

#!/usr/bin/env bash
# make fuzz: the request parser and its chunked decoder under libFuzzer, for a
# bounded time (FUZZ_SECONDS, default 60). Inputs that grow coverage are added
# to Fuzz/corpus (commit them); a crash is written to Fuzz/regressions/, where
# `make test` replays it from then on, and the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
scratch=.build/fuzz
swift build --product HTTPParserFuzz --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING 2>&1 | grep -v "Cannot export local symbol" || true
fuzzer="$scratch/debug/HTTPParserFuzz"
[[ -x "$fuzzer" ]] || { echo "fuzz: the fuzzer did not build (see above)" >&2; exit 1; }

work=.local/fuzz
rm -rf "$work" && mkdir -p "$work/new"
echo "fuzz: ${seconds}s on HTTPRequestParser, from $(ls Fuzz/corpus | wc -l) corpus inputs"
status=0
"$fuzzer" "$work/new" Fuzz/corpus Fuzz/regressions -dict=Fuzz/http.dict -max_len=4096 -rss_limit_mb=2048 \
    -max_total_time="$seconds" -artifact_prefix=Fuzz/regressions/ -print_final_stats=1 2> "$work/log" || status=$?
grep -E "^(#[0-9]+ *DONE|Done|stat::number_of_executed_units|stat::peak_rss_mb)" "$work/log" || true

# Keep only the new inputs that add coverage to what the corpus already has.
"$fuzzer" -merge=1 Fuzz/corpus "$work/new" 2> "$work/merge.log" >/dev/null || true
echo "fuzz: corpus now $(ls Fuzz/corpus | wc -l) inputs"

if [[ $status -ne 0 ]]; then
    echo "fuzz: FAILED (exit $status); the input is in Fuzz/regressions/, the log in $work/log:" >&2
    grep -E "ERROR|Fatal error|Precondition failed|artifact" "$work/log" | head -20 >&2
    exit 1
fi
echo "fuzz: no crash"

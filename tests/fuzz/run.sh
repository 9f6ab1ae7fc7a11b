#!/usr/bin/env bash
# Runs each libFuzzer harness of the `fuzz` build for a bounded time, starting from the seeds in
# tests/fuzz/corpus/<name>/, and fails on the first crash, leak, timeout or broken invariant, printing
# the input that caused it and how to replay it. What the runs add to the corpus stays in the build
# directory (build-fuzz/fuzz-runs/), never in the repository. docs/building.md, "Fuzzing".
# Usage: tests/fuzz/run.sh [SECONDS [HARNESS...]]   default: 20 s each, every harness
#        EDGEPROV_FUZZ_BUILD: the build directory (default build-fuzz)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${EDGEPROV_FUZZ_BUILD:-$root/build-fuzz}
seconds=${1:-20}
shift || true
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for dir in "$root"/tests/fuzz/corpus/*/; do harnesses+=("$(basename "$dir")"); done
fi
runs=$build/fuzz-runs
# Stack traces for UBSan's reports too (ASan prints them anyway).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
failed=0
for name in "${harnesses[@]}"; do
  exe=$build/fuzz/fuzz_$name
  [ -x "$exe" ] || { echo "fuzz: no $exe; build it first: cmake --preset fuzz && cmake --build --preset fuzz" >&2; exit 2; }
  corpus=$runs/corpus/$name artifacts=$runs/artifacts/$name log=$runs/$name.log
  mkdir -p "$corpus" "$artifacts"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a parser that allocates without bound.
  if "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$artifacts/" "$corpus" "$root/tests/fuzz/corpus/$name" >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p') ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
    echo "fuzz $name: ${seconds} s, ${execs:-?} executions, cov ${cov:-?}, ft ${ft:-?}, corpus $(ls "$corpus" | wc -l) inputs"
  else
    failed=1
    echo "fuzz $name: FAILED"
    grep -E '^==[0-9]+==ERROR|^SUMMARY|invariant broken|runtime error|Test unit written to' "$log" | head -n 20 | sed 's/^/  /'
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    [ -n "$crash" ] && echo "  the input: $crash; replay it: $exe $crash"
    echo "  the whole log: $log"
  fi
done
exit $failed

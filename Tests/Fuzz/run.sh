#!/usr/bin/env bash
# `make fuzz FUZZ_SECONDS=N [FUZZ_TARGETS="FuzzHTTPParser ..."]`: builds the libFuzzer targets of Tests/Fuzz with
# -sanitize=fuzzer,address into .build-fuzz, runs each for N seconds on var/fuzz/<target>/corpus (grown from the
# committed seeds in Tests/Fuzz/corpus/<target>), and prints executions, coverage and crashes per target.
# Exits non-zero when any target crashed; the crashing input is in var/fuzz/<target>/crashes/. See docs/fuzzing.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"FuzzHTTPParser FuzzRequestJSON FuzzJWS FuzzConfiguration"}
swift=${SWIFT:-swift}
build=(-c release --scratch-path .build-fuzz --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address)

for target in $targets; do
  HEYAN_FUZZ=1 "$swift" build "${build[@]}" --product "$target" 2>&1 \
    | grep -v -e "^warning: 'fuzz'" -e "Cannot export local symbol '__asan_extra_spill_area'" || true
  [ -x .build-fuzz/release/"$target" ] || { echo "fuzz: building $target failed"; exit 1; }
done

failed=0
printf '%-18s %12s %10s %8s %8s %7s %8s\n' target seconds executions exec/s cov ft crashes
for target in $targets; do
  dir=var/fuzz/$target
  mkdir -p "$dir/corpus" "$dir/crashes"
  dict=()
  [ -f "Tests/Fuzz/dictionaries/$target.dict" ] && dict=(-dict="Tests/Fuzz/dictionaries/$target.dict")
  before=$(ls "$dir/crashes" | wc -l)
  # The backtracer can hang holding the output open after a crash; ASan reports are enough.
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
    .build-fuzz/release/"$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=3072 \
    -artifact_prefix="$dir/crashes/" "${dict[@]}" "$dir/corpus" "Tests/Fuzz/corpus/$target" >"$dir/fuzz.log" 2>&1
  status=$?
  after=$(ls "$dir/crashes" | wc -l)
  crashes=$((after - before))
  [ $status -ne 0 ] && [ $crashes -eq 0 ] && crashes=1
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/fuzz.log" | tail -1)
  last=$(grep -E '^#[0-9]+.*cov: ' "$dir/fuzz.log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  printf '%-18s %12s %10s %8s %8s %7s %8s\n' "$target" "$seconds" "${executions:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
  if [ $crashes -ne 0 ]; then
    failed=1
    echo "  $target crashed: see $dir/fuzz.log and $dir/crashes/"
    grep -m3 -E 'ERROR: AddressSanitizer|Fatal error|SUMMARY' "$dir/fuzz.log" | sed 's/^/    /'
  fi
done
exit $failed

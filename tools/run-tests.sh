#!/usr/bin/env bash
# run-tests.sh: installs dependencies, builds presenced from scratch and runs
# the whole test suite in several modes. This is the README's test command
# and what CI runs (.ci/run).
#
# Modes (PRESENCED_TEST_MODES, default all of them):
#   release  optimised build, warnings as errors, every test
#   asan     ASan+UBSan (halt on first error), every test
#   tsan     ThreadSanitizer, the suites labelled `concurrency`
#   fuzz     clang libFuzzer targets, each for a bounded time on its corpus
# Prints `N passed, M failed` (summed over the modes) as its last line and
# exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

modes=${PRESENCED_TEST_MODES:-release asan tsan fuzz}
jobs=${PRESENCED_JOBS:-$(nproc)}
passed=0
failed=0
skipped=0

bash tools/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }

# Adds the counts of one `meson test` run (from its JSON log) to the totals.
count_results() {
  local log=$1/meson-logs/testlog.json
  if [ ! -s "$log" ]; then failed=$((failed + 1)); return; fi
  read -r p f s < <(python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
)
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

# build DIR MESON_ARGS... : configures and builds; counts a build failure.
build() {
  local dir=$1; shift
  rm -rf "$dir"
  if ! meson setup "$dir" --werror "$@" >"$dir.setup.log" 2>&1; then
    cat "$dir.setup.log"; echo "run-tests: meson setup failed for $dir"; return 1
  fi
  if ! ninja -C "$dir" -j "$jobs"; then
    echo "run-tests: build failed for $dir"; return 1
  fi
}

run_suite() {
  local dir=$1; shift
  rm -f "$dir/meson-logs/testlog.json"
  meson test -C "$dir" --print-errorlogs --num-processes "$jobs" "$@"
  count_results "$dir"
}

for mode in $modes; do
  echo "=== mode: $mode ==="
  case $mode in
    release)
      if build build-release --buildtype=release; then run_suite build-release
      else failed=$((failed + 1)); fi ;;
    asan)
      if build build-asan --buildtype=debugoptimized -Db_sanitize=address,undefined \
           -Db_lundef=false -Dbenchmarks=false; then
        ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
          run_suite build-asan --timeout-multiplier 4 --no-suite slow
      else failed=$((failed + 1)); fi ;;
    tsan)
      if CC=clang CXX=clang++ build build-tsan --buildtype=debugoptimized \
           -Db_sanitize=thread -Db_lundef=false -Dbenchmarks=false; then
        TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
          run_suite build-tsan --suite concurrency --timeout-multiplier 4
      else failed=$((failed + 1)); fi ;;
    fuzz)
      if CC=clang CXX=clang++ build build-fuzz --buildtype=debugoptimized -Dfuzz=true \
           -Db_sanitize=address,undefined -Db_lundef=false -Dbenchmarks=false -Dtests=true; then
        run_suite build-fuzz --suite fuzz --timeout-multiplier 2
      else failed=$((failed + 1)); fi ;;
    *) echo "run-tests: unknown mode $mode"; failed=$((failed + 1)) ;;
  esac
done

echo "run-tests: modes [$modes], $skipped skipped"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]

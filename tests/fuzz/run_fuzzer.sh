#!/usr/bin/env bash
# run_fuzzer.sh TARGET CORPUS_DIR SECONDS: runs one libFuzzer target for a
# bounded time, as the meson tests of suite `fuzz` do (tests/fuzz/meson.build).
#
# Owns: the fuzzing session's scratch space and its pass/fail verdict. The
# fuzzer runs on a COPY of CORPUS_DIR in a temporary directory (deleted on
# exit), so the corpus kept in the repository is never modified; the inputs
# it discovers are thrown away with the copy. Exit status: 0 when the fuzzer
# ran its time without a crash, leak, timeout or OOM; otherwise the fuzzer's
# non-zero status, with the reproducer saved under FUZZ_ARTIFACT_DIR.
#
# Environment:
#   FUZZ_SECONDS       run time in seconds, overrides SECONDS (default 60)
#   FUZZ_ARTIFACT_DIR  where crash-*/leak-*/timeout-*/oom-* inputs are kept
#                      (default: ./fuzz-artifacts/TARGET_NAME)
#   FUZZ_EXTRA_ARGS    more libFuzzer flags, e.g. "-jobs=4 -workers=4"
# Reproduce a saved input with: TARGET path/to/crash-...
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 TARGET CORPUS_DIR [SECONDS]" >&2
  exit 2
fi
target=$(realpath "$1")
corpus=$(realpath "$2")
seconds=${FUZZ_SECONDS:-${3:-60}}
name=$(basename "$target")
artifacts=${FUZZ_ARTIFACT_DIR:-$PWD/fuzz-artifacts/$name}

case $seconds in
  ''|*[!0-9]*) echo "run_fuzzer: FUZZ_SECONDS/SECONDS must be a whole number, got '$seconds'" >&2
               exit 2 ;;
esac
[ -x "$target" ] || { echo "run_fuzzer: $target is not executable" >&2; exit 2; }
[ -d "$corpus" ] || { echo "run_fuzzer: $corpus is not a directory" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$artifacts"
cp -R "$corpus/." "$work/corpus/"
cd "$work"

# UBSan only warns by default; a fuzzer must stop on the first report.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

echo "run_fuzzer: $name for ${seconds}s on a copy of $corpus ($(find "$corpus" -type f | wc -l) seeds)"
status=0
# libFuzzer stops itself after -max_total_time; `timeout` is only a safety
# net (the meson test has no timeout of its own, as FUZZ_SECONDS varies).
# shellcheck disable=SC2086  # FUZZ_EXTRA_ARGS is a list of flags
timeout --kill-after=30 $((seconds + 300)) \
  "$target" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_EXTRA_ARGS:-} \
  "$work/corpus" || status=$?

if [ "$status" -ne 0 ]; then
  echo "run_fuzzer: $name FAILED (exit $status); reproducers in $artifacts:" >&2
  ls -l "$artifacts" >&2 || true
  exit "$status"
fi
echo "run_fuzzer: $name OK, corpus grew to $(find "$work/corpus" -type f | wc -l) inputs (discarded)"

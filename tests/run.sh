#!/bin/sh
# Runs every test program and adds up their "name: N passed, M failed" lines into the final summary
# line. A program that crashes or exits non-zero without failures of its own counts as one failure.
# Usage: sh tests/run.sh BUILD_DIR   (run from the repository root)
set -u
build=${1:-build}
san=build/san
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() { # name, command...
    name=$1
    shift
    printf '== %s\n' "$name"
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -E '^[A-Za-z0-9_]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
    f=$(printf '%s' "$line" | sed -E 's/.*, ([0-9]+) failed/\1/')
    [ -n "$line" ] || { p=0; f=0; }
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exit status $rc"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
    printf '   (%ss)\n' "$(( $(date +%s) - start ))"
}

for t in "$build"/tests/test_*; do
    [ -x "$t" ] || continue
    case "$t" in
    */test_cli) run test_cli "$t" "$build/cadenza" ;;
    */test_generate) run test_generate "$t" "$build/cadenza" ;;
    *) run "$(basename "$t")" "$t" ;;
    esac
done

# ---- the shared library as another program links it ----
run test_linkable sh tests/test_linkable.sh "$build"

# ---- CUDA kernel workbench (dev/cuda/; built by `make check` where nvcc is found): every version of
# every kernel against the CPU reference, with a short timing. Without a GPU each prints
# "SKIPPED: no CUDA device" and "cuda_NAME: 0 passed, 0 failed", and passes. ----
for t in "$build"/cuda-dev/*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    run "cuda: $(basename "$t")" "$t" --validate
done
# ---- end of CUDA ----

# The fuzz seed corpus and the robustness test under AddressSanitizer + UndefinedBehaviorSanitizer.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# (each fuzz target's replay main over its seed corpus; the MIDI target's corpus is tests/fuzz/corpus)
for t in "$san"/fuzz/replay_*; do
    [ -f "$t" ] && [ -x "$t" ] || continue
    name=${t##*/replay_}
    corpus=tests/fuzz/corpus_$name
    [ "$name" = midi ] && corpus=tests/fuzz/corpus
    run "replay_$name (asan, ubsan)" "$t" "$corpus"
done
# (every sanitized test the Makefile's check target built: the list lives there alone)
for t in "$san"/tests/test_*; do
    [ -f "$t" ] && [ -x "$t" ] && run "$(basename "$t") (asan, ubsan)" "$t"
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

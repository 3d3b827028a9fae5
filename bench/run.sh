#!/bin/sh
# Runs cadenza's benchmarks side by side with their references, in one run on one machine:
#   MIDI parsing: bench_midi (cadenza) and @tonejs/midi in Node on the same files, same order.
# Usage: sh bench/run.sh [BUILD_DIR]   (from the repository root; data from $CADENZA_DATA or ../shared/data)
set -eu
build=${1:-build}
data=${CADENZA_DATA:-../shared/data}
[ -d "$data" ] || { echo "bench: no corpora at $data (set CADENZA_DATA)"; exit 1; }
list=$(mktemp)
trap 'rm -f "$list"' EXIT
find "$data" -type f \( -name '*.mid' -o -name '*.midi' \) | LC_ALL=C sort >"$list"

echo "== MIDI files -> scores: $(wc -l <"$list") files under $data"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
cadenza_json=$("$build/bench/bench_midi" --threads 2 --list "$list" | tee /dev/stderr | grep '"file->score","threads":1')

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    [ -d bench/tonejs/node_modules/@tonejs/midi ] || (cd bench/tonejs && npm ci --silent --no-audit --no-fund)
    tonejs_json=$(node bench/tonejs/parse_bench.js "$list")
    echo "$tonejs_json"
    c=$(printf '%s' "$cadenza_json" | sed -E 's/.*"files_per_s":([0-9.]+).*/\1/')
    t=$(printf '%s' "$tonejs_json" | sed -E 's/.*"files_per_s":([0-9.]+).*/\1/')
    echo "ratio (files/s, one thread each): cadenza / @tonejs/midi = $(awk "BEGIN{printf \"%.1f\", $c / $t}")"
else
    echo "bench: node/npm not found: no @tonejs/midi reference (make deps installs them)"
fi

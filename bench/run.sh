#!/bin/sh
# Runs cadenza's benchmarks side by side with their references, in one run on one machine:
#   MIDI parsing: bench_midi (cadenza) and @tonejs/midi in Node on the same files, same order;
#   datasets against @magenta/music; model training and generation against PyTorch (torch_reference.py).
# Usage: sh bench/run.sh [BUILD_DIR]   (from the repository root; data from $CADENZA_DATA or ../shared/data)
set -eu
build=${1:-build}
data=${CADENZA_DATA:-../shared/data}
[ -d "$data" ] || { echo "bench: no corpora at $data (set CADENZA_DATA)"; exit 1; }
list=$(mktemp)
tmp=$(mktemp -d)
trap 'rm -rf "$list" "$tmp"' EXIT
find "$data" -type f \( -name '*.mid' -o -name '*.midi' \) | LC_ALL=C sort >"$list"

echo "== MIDI files -> scores: $(wc -l <"$list") files under $data"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
all_json=$("$build/bench/bench_midi" --threads 2 --list "$list")
echo "$all_json"
cadenza_json=$(echo "$all_json" | grep '"file->score","threads":1')

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

# ---- datasets: performance events of ASAP, melodies of Nottingham (cadenza), and @magenta/music
# encoding the same ASAP files to performance events (its melody code is not Magenta's pipeline).
echo
echo "== datasets (one thread each for the comparison; cadenza also with 2)"
for threads in 1 2; do
    "$build/cadenza" dataset build --codec performance --in "$data/asap" --out "$tmp/asap.cdz" --threads $threads --force 2>/dev/null | head -1 | sed "s/^/cadenza ($threads thread$( [ $threads = 1 ] || echo s)): /"
    "$build/cadenza" dataset build --codec melody --in "$data/nottingham" --out "$tmp/nott.cdz" --threads $threads --force 2>/dev/null | head -1 | sed "s/^/cadenza ($threads thread$( [ $threads = 1 ] || echo s)): /"
done
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    [ -d bench/magenta/node_modules/@magenta/music ] || (cd bench/magenta && npm ci --silent --no-audit --no-fund)
    find "$data/asap" -type f -name '*.mid' | LC_ALL=C sort >"$list"
    mm_json=$(node bench/magenta/encode_bench.js "$list" 2>/dev/null)
    echo "$mm_json"
    cz=$("$build/cadenza" dataset build --codec performance --in "$data/asap" --out "$tmp/asap.cdz" --threads 1 --force 2>/dev/null | head -1 |
        sed -E 's/.* ([0-9]+) tokens\/s.*/\1/')
    mm=$(printf '%s' "$mm_json" | sed -E 's/.*"tokens_per_s":([0-9.]+).*/\1/')
    echo "ratio (tokens/s, one thread each, ASAP performances): cadenza / @magenta/music = $(awk "BEGIN{printf \"%.1f\", $cz / $mm}")"
fi

# ---- neural networks: training and batch-1 generation tokens/s, cadenza and PyTorch (Debian's
# python3-torch on the CPU, 2 threads), the same configurations (../shared/docs/BENCHMARKS.md).
echo
echo "== models: cadenza bench and ../shared/bench/torch_reference.py, same machine, same run"
ref=../shared/bench/torch_reference.py
"$build/cadenza" bench --config melody_rnn,attention_rnn --json | tee "$tmp/cadenza_nn.json"
if [ -f "$ref" ] && /usr/bin/python3 -c "import torch" 2>/dev/null; then
    /usr/bin/python3 "$ref" --device cpu --threads 2 --configs melody_rnn 2>/dev/null | grep '^{' | tee "$tmp/torch_nn.json"
    for what in train gen; do
        c=$(grep "\"config\":\"melody_rnn\",\"what\":\"$what\"" "$tmp/cadenza_nn.json" | sed -E 's/.*"tokens_per_s":([0-9.]+).*/\1/')
        t=$(grep "\"what\": \"$what\"" "$tmp/torch_nn.json" | sed -E 's/.*"tokens_per_s": ([0-9.]+).*/\1/')
        echo "ratio (melody_rnn $what tokens/s): cadenza / PyTorch = $(awk "BEGIN{printf \"%.2f\", $c / $t}")"
    done
else
    echo "bench: no PyTorch reference (apt-get install python3-torch, and ../shared/bench/torch_reference.py)"
fi

# ---- the engine: cost per generated step against the length already generated (bench_steps) ----
echo
echo "== cost per generated step at 128, 512, 1024 and 2048 steps (shipped models, one row)"
"$build/bench/bench_steps" --models models

# ---- MusicVAE against its PyTorch reference (bench/vae.sh) ----
echo
sh bench/vae.sh "$build"

# ---- the ensemble Music Transformer against its PyTorch reference (bench/ensemble.sh) ----
echo
sh bench/ensemble.sh "$build"

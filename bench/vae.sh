#!/bin/sh
# MusicVAE speed side by side: bench_vae (cadenza) and bench/torch_music_vae.py (PyTorch, Debian's
# python3-torch on the CPU), the same configurations, protocol and machine, in one run; then the ratios.
# Usage: sh bench/vae.sh [BUILD_DIR] [THREADS]   (from the repository root; THREADS: both sides, default 2)
set -eu
build=${1:-build}
threads=${2:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== MusicVAE: bench_vae and bench/torch_music_vae.py, $threads thread(s) each"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
OPENBLAS_NUM_THREADS=$threads "$build/bench/bench_vae" --steps 10 --samples 20 | tee "$tmp/c.json"
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
    echo "bench: no PyTorch (apt-get install python3-torch): no reference"
    exit 0
fi
OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_music_vae.py --threads "$threads" --steps 10 --samples 20 \
    --configs mel_2bar_small,mel_2bar,mel_16bar,mel_16bar_flat,drums_2bar 2>/dev/null | grep '^{' | tee "$tmp/t.json"
for cfg in mel_2bar_small mel_2bar mel_16bar mel_16bar_flat drums_2bar; do
    c=$(grep "\"config\":\"$cfg\",\"what\":\"train\"" "$tmp/c.json" | sed -E 's/.*"tokens_per_s":([0-9.]+).*/\1/')
    t=$(grep "\"config\": \"$cfg\"" "$tmp/t.json" | grep '"train"' | sed -E 's/.*"tokens_per_s": ([0-9.]+).*/\1/')
    cs=$(grep "\"config\":\"$cfg\",\"what\":\"sample\"" "$tmp/c.json" | sed -E 's/.*"ms_per_sample":([0-9.]+).*/\1/')
    ts=$(grep "\"config\": \"$cfg\"" "$tmp/t.json" | grep '"sample"' | sed -E 's/.*"ms_per_sample": ([0-9.]+).*/\1/')
    echo "$cfg: train tokens/s cadenza / PyTorch = $(awk "BEGIN{printf \"%.2f\", $c / $t}") ($c / $t);" \
         "sample ms cadenza $cs, PyTorch $ts (ratio $(awk "BEGIN{printf \"%.1f\", $ts / $cs}"))"
done

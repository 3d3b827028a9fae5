#!/bin/sh
# The ensemble Music Transformer (music_transformer, config ensemble_small) side by side: bench_ensemble
# (cadenza) and bench/torch_ensemble.py (PyTorch, Debian's python3-torch on the CPU), the same model,
# protocol and machine, in one run; then the ratios. First a check that the two are the same model:
# cadenza's weights loaded into the PyTorch model give the same loss and logits (ensemble_tiny, whose
# relative distances are clipped as ensemble_small's are), and the same parameter counts.
# Usage: sh bench/ensemble.sh [BUILD_DIR] [THREADS]   (from the repository root; THREADS: both sides, default 2)
# Environment: CONFIGS (default ensemble_small; ensemble_tiny for a quick look), STEPS (timed training
# steps, default 10), WARMUP (default 3), GEN_TOKENS (default 512).
set -eu
build=${1:-build}
threads=${2:-2}
configs=${CONFIGS:-ensemble_small}
steps=${STEPS:-10}
warmup=${WARMUP:-3}
gen=${GEN_TOKENS:-512}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== ensemble Music Transformer: bench_ensemble and bench/torch_ensemble.py, $threads thread(s) each"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
have_torch=yes
/usr/bin/python3 -c "import torch" 2>/dev/null || have_torch=no
if [ $have_torch = yes ]; then
    mkdir "$tmp/check"
    OPENBLAS_NUM_THREADS=$threads "$build/bench/bench_ensemble" --configs ensemble_tiny --check "$tmp/check" >/dev/null
    /usr/bin/python3 bench/torch_ensemble.py --threads "$threads" --configs ensemble_tiny --check "$tmp/check" ||
        echo "bench: WARNING: the PyTorch model does not match cadenza's (see the line above): the ratios compare different models"
fi
OPENBLAS_NUM_THREADS=$threads "$build/bench/bench_ensemble" --configs "$configs" --warmup "$warmup" --steps "$steps" \
    --gen-tokens "$gen" | tee "$tmp/c.json"
if [ $have_torch = no ]; then
    echo "bench: no PyTorch (apt-get install python3-torch): no reference"
    exit 0
fi
OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_ensemble.py --threads "$threads" --configs "$configs" \
    --warmup "$warmup" --steps "$steps" --gen-tokens "$gen" | grep '^{' | tee "$tmp/t.json"

# field FILE CONFIG WHAT KEY: a number from the JSON line of (config, what); both sides' spacing
field() {
    grep -E "\"config\": ?\"$2\"" "$1" | grep -E "\"what\": ?\"$3\"" | head -1 | sed -nE "s/.*\"$4\": ?([0-9.eE+-]+).*/\1/p"
}
for cfg in $(echo "$configs" | tr ',' ' '); do
    pc=$(field "$tmp/c.json" "$cfg" train params)
    pt=$(field "$tmp/t.json" "$cfg" train params)
    [ "$pc" = "$pt" ] || echo "bench: WARNING: $cfg has $pc parameters in cadenza, $pt in PyTorch"
    for what in train gen; do
        c=$(field "$tmp/c.json" "$cfg" $what tokens_per_s)
        t=$(field "$tmp/t.json" "$cfg" $what tokens_per_s)
        if [ -z "$c" ] || [ -z "$t" ]; then
            echo "$cfg: $what: a side gave no number (cadenza '$c', PyTorch '$t')"
            continue
        fi
        echo "$cfg: $what tokens/s cadenza / PyTorch = $(awk "BEGIN{printf \"%.2f\", $c / $t}")" \
             "($(awk "BEGIN{printf \"%.0f\", $c}") / $(awk "BEGIN{printf \"%.0f\", $t}"), $pc parameters)"
    done
done

#!/bin/sh
# The audio codec (audio_codec, configs codec_lite and codec_small) side by side: bench_audio_codec (cadenza) and
# bench/torch_audio_codec.py (PyTorch, Debian's python3-torch on the CPU), the same model, protocol and
# machine, in one run; then the ratios. First a check that the two are the same model: cadenza's
# weights loaded into the PyTorch model give the same evaluation loss, mel and STFT terms (codec_tiny),
# and the same parameter counts. Training runs at THREADS threads on both sides; encode and decode of
# one 10 s clip at one thread (a codec serving one stream), as x real time.
# Usage: sh bench/audio_codec.sh [BUILD_DIR] [THREADS]   (from the repository root; THREADS default 2)
# Environment: CONFIGS (default codec_lite,codec_small; codec_tiny for a quick look), STEPS (timed training steps,
# default 10), WARMUP (default 2), CLIP_SECONDS (the encode/decode clip, default 10), REPS (timed
# encode/decode calls, default 3), ROUNDS (default 3).
set -eu
build=${1:-build}
threads=${2:-2}
configs=${CONFIGS:-codec_lite,codec_small}
steps=${STEPS:-10}
warmup=${WARMUP:-2}
clip=${CLIP_SECONDS:-10}
reps=${REPS:-3}
rounds=${ROUNDS:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "== audio codec: bench_audio_codec and bench/torch_audio_codec.py, train at $threads thread(s), encode/decode at 1"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
have_torch=yes
/usr/bin/python3 -c "import torch" 2>/dev/null || have_torch=no
if [ $have_torch = yes ]; then
    mkdir "$tmp/check"
    OPENBLAS_NUM_THREADS=$threads "$build/bench/bench_audio_codec" --configs codec_tiny --check "$tmp/check" >/dev/null
    /usr/bin/python3 bench/torch_audio_codec.py --threads "$threads" --configs codec_tiny --check "$tmp/check" ||
        echo "bench: WARNING: the PyTorch model does not match cadenza's (see the line above): the ratios compare different models"
fi
# ROUNDS rounds, the two sides one after the other in each, and each side's best round kept: this
# machine's speed drifts by a quarter from minute to minute (other tenants), and alternating keeps both
# sides under the same drift.
: >"$tmp/c.json"
: >"$tmp/t.json"
for r in $(seq "$rounds"); do
    echo "-- round $r of $rounds, load $(cut -d' ' -f1-3 /proc/loadavg)"
    OPENBLAS_NUM_THREADS=$threads "$build/bench/bench_audio_codec" --configs "$configs" --what train --warmup "$warmup" \
        --steps "$steps" | tee -a "$tmp/c.json"
    OPENBLAS_NUM_THREADS=1 "$build/bench/bench_audio_codec" --configs "$configs" --what encode,decode --seconds "$clip" \
        --reps "$reps" | tee -a "$tmp/c.json"
    [ $have_torch = no ] && continue
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_audio_codec.py --threads "$threads" --configs "$configs" \
        --what train --warmup "$warmup" --steps "$steps" | grep '^{' | tee -a "$tmp/t.json"
    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_audio_codec.py --threads 1 --configs "$configs" \
        --what encode,decode --seconds "$clip" --reps "$reps" | grep '^{' | tee -a "$tmp/t.json"
done
if [ $have_torch = no ]; then
    echo "bench: no PyTorch (apt-get install python3-torch): no reference"
    exit 0
fi

# field FILE CONFIG WHAT KEY: the largest number of (config, what) over the rounds; both sides' spacing
field() {
    grep -E "\"config\": ?\"$2\"" "$1" | grep -E "\"what\": ?\"$3\"" | sed -nE "s/.*\"$4\": ?([0-9.eE+-]+).*/\1/p" |
        sort -g | tail -1
}
echo "config        what    cadenza / PyTorch   (cadenza, PyTorch: the best of $rounds rounds)"
for cfg in $(echo "$configs" | tr ',' ' '); do
    pc=$(field "$tmp/c.json" "$cfg" train params)
    pt=$(field "$tmp/t.json" "$cfg" train params)
    [ "$pc" = "$pt" ] || echo "bench: WARNING: $cfg has $pc parameters in cadenza, $pt in PyTorch"
    for what in train encode decode; do
        key=x_real_time unit="x real time"
        [ $what = train ] && key=samples_per_s unit="samples/s"
        c=$(field "$tmp/c.json" "$cfg" $what $key)
        t=$(field "$tmp/t.json" "$cfg" $what $key)
        if [ -z "$c" ] || [ -z "$t" ]; then
            echo "$cfg: $what: a side gave no number (cadenza '$c', PyTorch '$t')"
            continue
        fi
        printf '%-13s %-7s %17s   (%s, %s %s)\n' "$cfg" "$what" "$(awk "BEGIN{printf \"%.2f\", $c / $t}")" \
            "$(awk "BEGIN{printf \"%.1f\", $c}")" "$(awk "BEGIN{printf \"%.1f\", $t}")" "$unit"
    done
done

#!/bin/sh
# The ensemble model's measures (docs/ensemble.md), from two checkpoints trained the same time: the
# anticipatory one (ANT) and a plain autoregressive one (PLAIN). Writes into OUT and prints every figure.
# Usage: sh scripts/ensemble_measure.sh ANT.safetensors PLAIN.safetensors OUT [DATA]   (from the repository root)
# PIECES (default 60) held-out pieces for the log-loss; SEEDS (default 10) pieces per style; TEMP the sampling
# temperature of every generated piece (default: the checkpoint's own, 1 unless exported with another).
set -eu
temp=${TEMP:+--temperature $TEMP}
pieces=${PIECES:-60}
seeds=$(seq 1 "${SEEDS:-10}")
ant=$1 plain=$2 out=$3 data=${4:-../shared/data}
c=build/cadenza
mkdir -p "$out"
echo "== held-out log-loss: continuation and infilling (mutopia + openscore eval split, 60 pieces)"
$c eval ensemble --checkpoint "$ant" --checkpoint "$plain" --in "$data/mutopia" --in "$data/openscore" --pieces "$pieces" \
    | tee "$out/logloss.txt"
echo "== style: a classifier trained on the held-out Mutopia pieces"
rm -rf "$out/style"
python3 scripts/ensemble_style_sets.py --data "$data" --out "$out/style"
$c eval style train --out "$out/style.json" baroque="$out/style/held-out/baroque" classical="$out/style/held-out/classical" \
    romantic="$out/style/held-out/romantic"
for s in baroque classical romantic; do
    mkdir -p "$out/gen/$s"
    for seed in $seeds; do
        $c generate --checkpoint "$ant" $temp --style $s --instruments violin,viola,cello --minutes 1 --seed "$seed" \
            --out "$out/gen/$s/${s}_$seed.mid" --force >/dev/null 2>&1
    done
    echo "$s, real pieces of the training split:"
    $c eval style predict --model "$out/style.json" --expect $s "$out/style/set-aside/$s" --quiet | tail -1
    echo "$s, generated (violin, viola, cello, 1 minute each):"
    $c eval style predict --model "$out/style.json" --expect $s "$out/gen/$s" --quiet | tail -1
done
echo "== instrumentation, unconstrained (the header alone): 10 pieces of a minute, violin, viola, cello"
mkdir -p "$out/free"
for seed in $seeds; do
    $c generate --checkpoint "$ant" $temp --style baroque --instruments violin,viola,cello --minutes 1 --seed "$seed" --unconstrained \
        --out "$out/free/free_$seed.mid" --force >/dev/null 2>&1
done
$c eval instruments "$out"/free/*.mid --instruments violin,viola,cello | tail -1
echo "== four-minute pieces (time on this machine, OPENBLAS_NUM_THREADS=2)"
mkdir -p "$out/four"
for s in baroque classical romantic; do
    /usr/bin/time -f "%e s wall, %M KB" env OPENBLAS_NUM_THREADS=2 $c generate --checkpoint "$ant" $temp --style $s \
        --instruments violin,viola,cello --minutes 4 --seed 1 --out "$out/four/$s.mid" --plot --force
done
$c eval stability "$out"/four/*.mid --max-silence 8 --max-loop 8 || true
$c eval instruments "$out"/four/*.mid --instruments violin,viola,cello | tail -1
echo "== repetition and pulse against the corpus (held-out Mutopia pieces of the three styles)"
rm -rf "$out/ref"
mkdir -p "$out/ref"
for s in baroque classical romantic; do for f in "$out/style/held-out/$s"/*; do ln -sf "$(readlink -f "$f")" "$out/ref/"; done; done
$c eval music --generated "$out/four" --reference "$out/ref" | tail -40

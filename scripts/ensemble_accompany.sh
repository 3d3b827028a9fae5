#!/bin/sh
# Does the ensemble model accompany a melody better than the accompaniment model? The melodies of the
# first N songs of POP909's eval split (--eval-fraction 0.1, by content hash as dataset build), each
# accompanied by `cadenza accompany` (models/accompaniment) and by `cadenza infill --keep MELODY --style pop` (the
# ensemble model writing the piano), measured with `cadenza eval music` against the songs' own piano.
# Usage: sh scripts/ensemble_accompany.sh ENSEMBLE.safetensors OUT [N] [DATA]   (from the repository root)
set -eu
ens=$1 out=$2 n=${3:-20} data=${4:-../shared/data}
c=build/cadenza
rm -rf "$out"
mkdir -p "$out/ref" "$out/accompany" "$out/ensemble"
python3 scripts/eval_split.py "$data/pop909" "$n" --link "$out/ref"
echo "$(ls "$out/ref" | wc -l) eval-split songs"
for f in "$out"/ref/*.mid; do
    b=$(basename "$f")
    $c accompany --melody "$f" --out "$out/accompany/$b" --seed 1 >/dev/null 2>&1
    $c infill "$f" --keep MELODY --style pop --checkpoint "$ens" --out "$out/ensemble/$b" --seed 1 >/dev/null 2>&1
done
for m in accompany ensemble; do
    echo "== $m"
    $c eval music --generated "$out/$m" --reference "$out/ref" --accompaniment-track "PIANO,Accompaniment,piano (cadenza)" | \
        sed -n '/listening measures/,$p'
done

#!/bin/sh
# The audio prior as a listener would judge it (issue 17): generated clips against held-out audio, with
# random codes and the codec's own decoding of the held-out excerpts for scale; and the prior's
# held-out loss per code against unigram and bigram baselines on its token dataset.
# Usage: sh scripts/audio_prior_measure.sh PRIOR.safetensors CODEC.safetensors PRIOR.cdz OUT [N] [SECONDS] [DATA]
#        (from the repository root; N clips of SECONDS each, default 10 of 20; the held-out excerpts are
#        SECONDS from 60 s into the first N songs of POP909's eval split, rendered at 24 kHz)
set -eu
prior=$1 codec=$2 tokens=$3 out=$4 n=${5:-10} secs=${6:-20} data=${7:-../shared/data}
c=build/cadenza
rm -rf "$out"
mkdir -p "$out/mid" "$out/ref" "$out/gen" "$out/rand" "$out/codec"
echo "== held-out loss per code (eval split of $tokens)"
$c eval loss --checkpoint "$prior" --data "$tokens" --max-len 512
$c eval ngram --data "$tokens" --order 1
$c eval ngram --data "$tokens" --order 2
python3 scripts/eval_split.py "$data/pop909" "$n" --link "$out/mid"
i=0
for f in "$out"/mid/*.mid; do
    i=$((i + 1))
    $c render "$f" --out "$out/full.wav" --sample-rate 24000 --force >/dev/null
    python3 - "$out/full.wav" "$out/ref/ref$i.wav" 60 "$secs" <<'PY'
import sys, wave
src, dst, start, secs = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
r = wave.open(src, "rb")
rate, ch, width = r.getframerate(), r.getnchannels(), r.getsampwidth()
r.setpos(int(start * rate))
frames = r.readframes(int(secs * rate))
w = wave.open(dst, "wb")
w.setnchannels(ch), w.setsampwidth(width), w.setframerate(rate)
w.writeframes(frames)
w.close()
PY
    $c audio encode "$out/ref/ref$i.wav" --checkpoint "$codec" --books 2 --out "$out/codec/ref$i.codes" --force >/dev/null 2>&1
    $c audio decode "$out/codec/ref$i.codes" --checkpoint "$codec" --out "$out/codec/ref$i.wav" --force >/dev/null
    $c audio generate --prior "$prior" --codec "$codec" --seconds "$secs" --style pop --seed "$i" --out "$out/gen/gen$i.wav" \
        --force | tee -a "$out/generate.txt"
    python3 - "$out/rand/rand$i.codes" "$secs" "$i" <<'PY'
import random, struct, sys
path, secs, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
rng = random.Random(seed)
frames, books, K = int(secs * 75 + 0.999), 2, 1024
codes = b"".join(struct.pack("<H", rng.randrange(K)) for _ in range(frames * books))
h = 14695981039346656037
for x in codes:
    h = ((h ^ x) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
hdr = b"CDZCODES" + struct.pack("<IIIIII", 1, 24000, 320, books, K, 0) + struct.pack("<QQQQ", frames, frames * 320, h, 0)
open(path, "wb").write(hdr + codes)
PY
    $c audio decode "$out/rand/rand$i.codes" --checkpoint "$codec" --out "$out/rand/rand$i.wav" --force >/dev/null
done
rm -f "$out/full.wav"
refs=$(for f in "$out"/ref/*.wav; do printf -- '--reference %s ' "$f"; done)
for set in gen codec rand; do
    gens=$(for f in "$out/$set"/*.wav; do printf -- '--generated %s ' "$f"; done)
    printf '%s: ' "$set"
    $c eval audio-stats $refs $gens --json 2>/dev/null
done
python3 - "$out/generate.txt" <<'PY'
import re, sys
v = [float(x) for x in re.findall(r"\(([0-9.]+) s of audio a second\)", open(sys.argv[1]).read())]
print("generation: %d clips, %.2f s of audio a second (median; prior and decoder)" % (len(v), sorted(v)[len(v) // 2]))
PY

#!/bin/sh
# The audio codec against Opus (issue 17): the first N songs of POP909's eval split, rendered at 24 kHz
# as scripts/audio_opus_baseline.sh renders them, encoded and decoded by a codec checkpoint at each
# number of books, scored with DAC's distances (cadenza eval audio) against the render made mono.
# Usage: sh scripts/audio_codec_measure.sh CODEC.safetensors OUT [N] [BOOKS] [DATA]
#        (from the repository root; BOOKS comma-separated, default 8,4 = 6 and 3 kbps)
# Prints one line per bitrate: clips, seconds, mean mel distance, STFT distance, SI-SDR, and the
# encode and decode speeds (x real time, this machine's threads as OPENBLAS_NUM_THREADS leaves them).
set -eu
ckpt=$1 out=$2 n=${3:-10} books=${4:-8,4} data=${5:-../shared/data}
c=build/cadenza
rm -rf "$out"
mkdir -p "$out/mid" "$out/wav" "$out/codes" "$out/dec"
python3 scripts/eval_split.py "$data/pop909" "$n" --link "$out/mid"
for f in "$out"/mid/*.mid; do
    b=$(basename "$f" .mid)
    $c render "$f" --out "$out/wav/$b.wav" --sample-rate 24000 --force >/dev/null
done
for q in $(echo "$books" | tr ',' ' '); do
    : > "$out/codec_$q.jsonl"
    : > "$out/speed_$q.txt"
    for w in "$out"/wav/*.wav; do
        b=$(basename "$w" .wav)
        $c audio encode "$w" --checkpoint "$ckpt" --books "$q" --out "$out/codes/${b}_$q.codes" --force 2>/dev/null >> "$out/speed_$q.txt"
        $c audio decode "$out/codes/${b}_$q.codes" --checkpoint "$ckpt" --out "$out/dec/${b}_$q.wav" --force 2>/dev/null >> "$out/speed_$q.txt"
        $c eval audio --reference "$w" --generated "$out/dec/${b}_$q.wav" --rate 24000 --json 2>/dev/null >> "$out/codec_$q.jsonl"
    done
    python3 - "$out/codec_$q.jsonl" "$q" "$out/speed_$q.txt" "$out/codes" <<'PY'
import json, os, re, sys, glob
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
secs = sum(r["samples"] for r in rows) / 24000
mean = lambda k: sum(r[k] for r in rows if r[k] is not None) / len(rows)
enc = [float(x) for x in re.findall(r"encoded in [0-9.]+ s \(([0-9.]+)x", open(sys.argv[3]).read())]
dec = [float(x) for x in re.findall(r"decoded in [0-9.]+ s \(([0-9.]+)x", open(sys.argv[3]).read())]
size = sum(os.path.getsize(p) - 64 for p in glob.glob(os.path.join(sys.argv[4], "*_%s.codes" % sys.argv[2])))
print("codec %s books: %d clips, %.1f s; mel distance %.3f, STFT distance %.3f, SI-SDR %.2f dB; codes %.2f kbps "
      "(16-bit words; %.2f kbps of 10-bit codes); encode %.0fx, decode %.0fx real time (median)"
      % (sys.argv[2], len(rows), secs, mean("mel_distance"), mean("stft_distance"), mean("si_sdr_db"),
         size * 8 / secs / 1000, size * 8 / secs / 1000 * 10 / 16, sorted(enc)[len(enc) // 2], sorted(dec)[len(dec) // 2]))
PY
done

#!/bin/sh
# The bar a cadenza audio codec must clear (issue 17): Opus (Debian's opus-tools) at the given bitrates on
# held-out audio rendered by cadenza, scored with DAC's distances (cadenza eval audio). The first N songs
# of POP909's eval split (the split dataset build makes), rendered to 24 kHz, encoded, decoded, compared.
# Usage: sh scripts/audio_opus_baseline.sh OUT [N] [BITRATES] [DATA]   (from the repository root;
#        BITRATES in kbps, comma-separated, default 6,8)
set -eu
out=$1 n=${2:-10} rates=${3:-6,8} data=${4:-../shared/data}
c=build/cadenza
command -v opusenc >/dev/null 2>&1 || { echo "no opusenc: apt-get install opus-tools"; exit 1; }
rm -rf "$out"
mkdir -p "$out/mid" "$out/wav" "$out/opus"
python3 scripts/eval_split.py "$data/pop909" "$n" --link "$out/mid"
for f in "$out"/mid/*.mid; do
    b=$(basename "$f" .mid)
    $c render "$f" --out "$out/wav/$b.wav" --sample-rate 24000 --force >/dev/null
done
echo "$(ls "$out/wav" | wc -l) songs rendered at 24 kHz: $(du -sh "$out/wav" | cut -f1)"
for r in $(echo "$rates" | tr ',' ' '); do
    : > "$out/opus_$r.jsonl"
    for w in "$out"/wav/*.wav; do
        b=$(basename "$w" .wav)
        # opusenc reads the stereo render; the decoded mono 24 kHz is compared with the render made mono
        opusenc --quiet --bitrate "$r" "$w" "$out/opus/${b}_$r.opus"
        opusdec --quiet --rate 24000 --force-stereo "$out/opus/${b}_$r.opus" "$out/opus/${b}_$r.wav"
        $c eval audio --reference "$w" --generated "$out/opus/${b}_$r.wav" --rate 24000 --json 2>/dev/null >> "$out/opus_$r.jsonl"
    done
    python3 - "$out/opus_$r.jsonl" "$r" "$out/opus" <<'PY'
import json, os, sys, glob
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
secs = sum(r["samples"] for r in rows) / 24000
size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(sys.argv[3], "*_%s.opus" % sys.argv[2])))
mean = lambda k: sum(r[k] for r in rows if r[k] is not None) / len(rows)
print("Opus %s kbps: %d clips, %.1f s; mel distance %.3f, STFT distance %.3f, SI-SDR %.2f dB; files %.2f kbps"
      % (sys.argv[2], len(rows), secs, mean("mel_distance"), mean("stft_distance"), mean("si_sdr_db"), size * 8 / secs / 1000))
PY
done

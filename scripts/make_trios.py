#!/usr/bin/python3
"""Builds a synthetic trio corpus (melody + bass + drums) for MusicVAE's 16-bar trio model
(codec vae_trio_16bar) from the Nottingham tunes and MMA (Musical MIDI Accompaniment, Debian
package `mma`).

For each tune in 4/4 or 2/2 (16 sixteenth steps a bar):
  1. read its melody (melody/X.mid) and its chords (chords/X.mid, else the chord track of full/X.mid);
  2. name each bar's chord(s) by template match on the pitch classes (major, m, 7, m7, maj7, dim, aug,
     sus4), at most one per half bar; a bar without chord notes repeats the previous chord ("z" before
     the first one, which silences MMA's bass but not its drums);
  3. write an MMA chart (Tempo, Time 4, Groove, one bar a line) for each of N grooves picked from the
     tune's name, and let `mma -f out.mid chart.mma` render it;
  4. keep only MMA's bass (one track, a GM bass program 32-39, else 33) and its drums (channel 10), add
     the melody (program 0, channel 1) on the same ticks (MMA's bar 1 is tick 0, the MIDI's bar 0,
     the pickup bar), and write one format-1 MIDI file per tune and groove: <tune>__<groove>.mid.

Tunes over --max-bars bars (default 100: the trio codec encodes at most 1600 steps of an instrument)
are written in pieces <tune>_p2__<groove>.mid, ... overlapping by 15 bars, so each 16-bar window lies
whole in one piece. MMA's random timing is seeded from the tune and groove: reruns give the same files.

Standard library only. Usage:
  /usr/bin/python3 scripts/make_trios.py [--in DIR] [--out DIR] [--grooves N] [--limit N] [--jobs N]
                                          [--eval-percent P] [--max-bars N] [--keep-mma]
Then: build/cadenza dataset build --codec vae_trio_16bar --in /work/data/trios --out trios.cdz
With --eval-percent, add --split-from-path: all the grooves of a tune then land in one split
(--eval-fraction hashes file contents, so one melody's grooves would straddle the splits).
"""
import argparse
import collections
import concurrent.futures
import hashlib
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

# 4/4 grooves of MMA's stdlib with a drum kit and a bass line (checked against mma 21.09). Folk is left
# out: its only drum is a tambourine on some downbeats. Waltzes are 3/4; ShowTune has no drums.
GROOVES = ["FolkRock", "CountrySwing", "BlueGrass", "HillCountry", "Polka", "March", "Swing", "EasySwing",
           "Foxtrot", "8Beat", "BasicRock", "SoftRock", "50sRock", "60sRock", "PopBallad", "Ballad", "BossaNova"]

MELODY_PROGRAM = 0  # acoustic grand piano, as MusicVAE writes trio melodies
DEFAULT_BASS_PROGRAM = 33  # electric bass (finger), where the groove's bass is not a GM bass
DRUM_CHANNEL = 9  # MIDI channel 10

# ---------------------------------------------------------------- MIDI reading


class MidiError(Exception):
    pass


def _vlq(data, i):
    v = 0
    for _ in range(4):
        if i >= len(data):
            raise MidiError("truncated variable-length number")
        b = data[i]
        i += 1
        v = (v << 7) | (b & 0x7F)
        if b < 0x80:
            return v, i
    raise MidiError("variable-length number over 4 bytes")


class Track:
    def __init__(self):
        self.name = ""
        self.notes = []  # (start, end, channel, pitch, velocity)
        self.programs = {}  # channel -> first program
        self.tempos = []  # (tick, usec per quarter)
        self.time_sigs = []  # (tick, numerator, denominator)


class Midi:
    def __init__(self, fmt, division, tracks):
        self.format, self.division, self.tracks = fmt, division, tracks

    def notes(self):
        return sorted(n for t in self.tracks for n in t.notes)

    def tempos(self):
        return sorted(x for t in self.tracks for x in t.tempos)

    def time_sigs(self):
        return sorted(x for t in self.tracks for x in t.time_sigs)


def read_midi(path):
    """A standard MIDI file: header, tracks, note on/off (paired), program changes, tempo, time
    signature and track name metas. Division must be ticks per quarter note."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"MThd" or len(data) < 14:
        raise MidiError("not a standard MIDI file")
    hlen = struct.unpack(">I", data[4:8])[0]
    fmt, ntracks, division = struct.unpack(">HHH", data[8:14])
    if division & 0x8000:
        raise MidiError("SMPTE time division")
    i = 8 + hlen
    tracks = []
    while i + 8 <= len(data) and len(tracks) < ntracks:
        cid = data[i:i + 4]
        clen = struct.unpack(">I", data[i + 4:i + 8])[0]
        body = data[i + 8:i + 8 + clen]
        i += 8 + clen
        if cid == b"MTrk":
            tracks.append(_read_track(body))
    return Midi(fmt, division, tracks)


def _read_track(body):
    tr = Track()
    j, tick, status = 0, 0, None
    sounding = collections.defaultdict(list)  # (channel, pitch) -> [(start, velocity)]
    while j < len(body):
        dt, j = _vlq(body, j)
        tick += dt
        if j >= len(body):
            raise MidiError("event missing after delta time")
        b = body[j]
        if b == 0xFF:
            if j + 1 >= len(body):
                raise MidiError("truncated meta event")
            typ = body[j + 1]
            n, j = _vlq(body, j + 2)
            payload = body[j:j + n]
            j += n
            if typ == 0x03 and not tr.name:
                tr.name = payload.decode("latin-1")
            elif typ == 0x51 and n == 3:
                tr.tempos.append((tick, (payload[0] << 16) | (payload[1] << 8) | payload[2]))
            elif typ == 0x58 and n >= 2:
                tr.time_sigs.append((tick, payload[0], 1 << payload[1]))
            elif typ == 0x2F:
                break
            continue
        if b in (0xF0, 0xF7):
            n, j = _vlq(body, j + 1)
            j += n
            status = None
            continue
        if b & 0x80:
            status = b
            j += 1
        elif status is None:
            raise MidiError("running status without a status byte")
        kind, ch = status & 0xF0, status & 0x0F
        size = 1 if kind in (0xC0, 0xD0) else 2
        d = body[j:j + size]
        j += size
        if len(d) < size:
            raise MidiError("truncated channel event")
        if kind == 0x90 and d[1] > 0:
            sounding[(ch, d[0])].append((tick, d[1]))
        elif kind == 0x80 or (kind == 0x90 and d[1] == 0):
            stack = sounding.get((ch, d[0]))
            if stack:
                start, vel = stack.pop(0)  # first in, first out
                tr.notes.append((start, tick, ch, d[0], vel))
        elif kind == 0xC0:
            tr.programs.setdefault(ch, d[0])
    for (ch, pitch), stack in sounding.items():  # notes never released end with the track
        for start, vel in stack:
            tr.notes.append((start, max(tick, start + 1), ch, pitch, vel))
    tr.notes.sort()
    return tr


# ---------------------------------------------------------------- MIDI writing


def _vlq_bytes(v):
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.append(0x80 | (v & 0x7F))
        v >>= 7
    return bytes(reversed(out))


def _meta(typ, payload):
    return bytes([0xFF, typ]) + _vlq_bytes(len(payload)) + payload


def _track_chunk(events):
    """events: (tick, order, bytes); order sorts events of one tick (metas, programs, offs, ons)."""
    out, last = bytearray(), 0
    for tick, _, ev in sorted(events, key=lambda e: (e[0], e[1])):
        out += _vlq_bytes(tick - last) + ev
        last = tick
    out += _vlq_bytes(0) + _meta(0x2F, b"")
    return b"MTrk" + struct.pack(">I", len(out)) + bytes(out)


def _note_track(name, channel, program, notes):
    ev = [(0, 0, _meta(0x03, name.encode("ascii"))), (0, 1, bytes([0xC0 | channel, program]))]
    for start, end, pitch, vel in notes:
        ev.append((start, 3, bytes([0x90 | channel, pitch, vel])))
        ev.append((end, 2, bytes([0x80 | channel, pitch, 0])))
    return _track_chunk(ev)


def write_trio(path, ppq, usec, time_sig, title, melody, bass, bass_program, drums):
    num, den = time_sig
    conductor = _track_chunk([
        (0, 0, _meta(0x03, title.encode("ascii"))),
        (0, 1, _meta(0x58, bytes([num, den.bit_length() - 1, 24, 8]))),
        (0, 2, _meta(0x51, struct.pack(">I", usec)[1:])),
    ])
    data = b"MThd" + struct.pack(">IHHH", 6, 1, 4, ppq) + conductor
    data += _note_track("Melody", 0, MELODY_PROGRAM, melody)
    data += _note_track("Bass", 1, bass_program, bass)
    data += _note_track("Drums", DRUM_CHANNEL, 0, drums)
    tmp = os.path.join(os.path.dirname(path), ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------- chords

ROOTS = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
# (quality, intervals, MMA suffix); earlier wins ties. MMA's "dim" is a dim7: the triad is "mb5".
QUALITIES = [("maj", (0, 4, 7), ""), ("m", (0, 3, 7), "m"), ("7", (0, 4, 7, 10), "7"), ("m7", (0, 3, 7, 10), "m7"),
             ("maj7", (0, 4, 7, 11), "maj7"), ("dim", (0, 3, 6), "mb5"), ("aug", (0, 4, 8), "aug"),
             ("sus4", (0, 5, 7), "sus4")]


def name_chord(pitches):
    """(root, quality index) of the best template match; the lowest note breaks ties as the root."""
    pcs = {p % 12 for p in pitches}
    bass = min(pitches) % 12
    best = None
    for root in range(12):
        for q, (_, iv, _) in enumerate(QUALITIES):
            t = {(root + i) % 12 for i in iv}
            score = 2 * len(pcs & t) - len(t - pcs) - 2 * len(pcs - t) + (0.5 if root == bass else 0) - 0.01 * q
            if best is None or score > best[0]:
                best = (score, root, q)
    return best[1], best[2]


def chord_groups(notes, tol):
    """Block chords: notes whose onsets lie within tol of the group's first, as (start, end, pitches)."""
    groups = []
    for start, end, _, pitch, _ in sorted(notes):
        if groups and start - groups[-1][0] <= tol:
            g = groups[-1]
            groups[-1] = (g[0], max(g[1], end), g[2] + [pitch])
        else:
            groups.append((start, end, [pitch]))
    return groups


def chord_chart(chord_notes, bar_ticks, n_bars, tol):
    """Per bar a list of one or two (root, quality) or None (no chord yet): the chord sounding longest
    in each half bar; a half without chord notes holds the previous chord."""
    groups = chord_groups(chord_notes, tol)
    half = bar_ticks // 2
    chart, prev, gi = [], None, 0
    for b in range(n_bars):
        halves = []
        for h in range(2):
            s = b * bar_ticks + h * half
            e = s + (half if h == 0 else bar_ticks - half)
            while gi < len(groups) and groups[gi][1] <= s:
                gi += 1
            best, best_len = None, 0
            k = gi
            while k < len(groups) and groups[k][0] < e:
                ov = min(e, groups[k][1]) - max(s, groups[k][0])
                if ov > best_len:
                    best, best_len = groups[k], ov
                k += 1
            if best is not None:
                prev = name_chord(best[2])
            halves.append(prev)
        chart.append(halves if halves[0] != halves[1] else halves[:1])
    return chart


def mma_chord(c):
    return "z" if c is None else ROOTS[c[0]] + QUALITIES[c[1]][2]


# ---------------------------------------------------------------- one tune


class Skip(Exception):
    pass


class Tune:
    pass


def load_tune(in_dir, name):
    """The tune's melody, chords, meter and tempo, or Skip(reason)."""
    mel_path = os.path.join(in_dir, "melody", name + ".mid")
    chord_path = os.path.join(in_dir, "chords", name + ".mid")
    full_path = os.path.join(in_dir, "full", name + ".mid")
    try:
        full = read_midi(full_path) if os.path.exists(full_path) else None
        mel_midi = read_midi(mel_path) if os.path.exists(mel_path) else None
        chord_midi = read_midi(chord_path) if os.path.exists(chord_path) else None
    except (MidiError, OSError) as e:
        raise Skip("unreadable MIDI (%s)" % e)
    melody = mel_midi.notes() if mel_midi else []
    chords = chord_midi.notes() if chord_midi else []
    division = mel_midi.division if mel_midi else full.division if full else 0
    if chord_midi and chord_midi.division != division and division:  # the melody's ticks rule
        k = division / chord_midi.division
        chords = [(round(a * k), round(b * k), c, p, v) for a, b, c, p, v in chords]
    if full and (not melody or not chords):
        # full/X.mid: one track is the melody (single notes), the other the block chords (notes
        # sharing onsets); tell them apart by how many notes start together.
        tracks = [t for t in full.tracks if t.notes]
        def poly(t):
            return len(t.notes) / max(1, len({n[0] for n in t.notes}))
        tracks.sort(key=poly)
        k = division / full.division if division else 1
        if tracks and not melody and poly(tracks[0]) < 1.2:
            melody = tracks[0].notes
        if len(tracks) > 1 and not chords and poly(tracks[-1]) >= 1.5:
            chords = [(round(a * k), round(b * k), c, p, v) for a, b, c, p, v in tracks[-1].notes]
        division = division or full.division
    if not melody:
        raise Skip("no melody")
    if not chords:
        raise Skip("no chords")
    src = mel_midi or full
    sigs = sorted({(n, d) for _, n, d in (src.time_sigs() + (full.time_sigs() if full else []))})
    if len(sigs) > 1:
        raise Skip("time signature changes")
    sig = sigs[0] if sigs else (4, 4)
    if sig not in ((4, 4), (2, 2)):
        raise Skip("time signature %d/%d" % sig)
    tempos = sorted({u for _, u in src.tempos()})
    if len(tempos) > 1:
        raise Skip("tempo changes")
    t = Tune()
    t.name, t.division, t.time_sig = name, division, sig
    t.usec = tempos[0] if tempos else 500000
    t.bar = division * 4  # 4/4 and 2/2 bars are both 4 quarters
    t.melody, t.chords = melody, chords
    end = max(n[1] for n in melody + chords)
    t.n_bars = max(1, -(-end // t.bar))
    t.chart = chord_chart(chords, t.bar, t.n_bars, division // 8)
    # Where the chart's first chord starts (a bar or half-bar line): MMA's bass should start there.
    t.first_chord_tick = next(b * t.bar + h * (t.bar // 2) for b, halves in enumerate(t.chart)
                              for h, c in enumerate(halves) if c is not None)
    return t


def pick_grooves(name, n):
    seed = int.from_bytes(hashlib.sha1(name.encode()).digest()[:8], "big")
    return random.Random(seed).sample(GROOVES, min(n, len(GROOVES)))


def mma_text(tune, groove):
    bpm = 60e6 / tune.usec
    lines = ["// %s (Nottingham), groove %s: written by scripts/make_trios.py" % (tune.name, groove),
             "RndSeed %d" % (int.from_bytes(hashlib.sha1((tune.name + groove).encode()).digest()[:3], "big")),
             "Tempo %s" % (("%d" % round(bpm)) if abs(bpm - round(bpm)) < 1e-6 else "%.3f" % bpm),
             "Time 4", "Groove %s" % groove]
    for b, halves in enumerate(tune.chart):
        lines.append("%d %s" % (b + 1, " / ".join(mma_chord(c) for c in halves) + (" /" if len(halves) == 2 else "")))
    return "\n".join(lines) + "\n"


def render(tune, groove, out_dir, work_dir, max_bars):
    """Runs mma and writes <tune>__<groove>.mid; returns a dict of what it saw, or raises Skip."""
    base = os.path.join(work_dir, "%s__%s" % (tune.name, groove))
    with open(base + ".mma", "w") as f:
        f.write(mma_text(tune, groove))
    r = subprocess.run(["mma", "-f", base + ".mid", base + ".mma"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 or not os.path.exists(base + ".mid"):
        lines = [l for l in r.stdout.splitlines() if "PLUGIN" not in l and l.strip()]
        raise Skip("mma failed: %s" % (lines[-1][:120] if lines else "exit %d" % r.returncode))
    mma = read_midi(base + ".mid")
    os.remove(base + ".mid")
    os.remove(base + ".mma")
    # Output resolution: a multiple of both, so neither side's ticks are rounded (3072 for 1024 and 192).
    ppq = tune.division * mma.division // math.gcd(tune.division, mma.division)
    if ppq > 0x7FFF:
        ppq = tune.division
    ks, km = ppq / tune.division, ppq / mma.division

    def scale(notes, k):
        return [(round(s * k), max(round(e * k), round(s * k) + 1), p, v) for s, e, _, p, v in notes]

    info = {"tracks": [], "mma_tempos": sorted({u for _, u in mma.tempos()}),
            "mma_sigs": sorted({(n, d) for _, n, d in mma.time_sigs()})}
    drums, cands = [], []
    for t in mma.tracks:
        if not t.notes:
            continue
        chans = sorted({n[2] for n in t.notes})
        info["tracks"].append("%s:ch%s:p%s" % (t.name, "+".join(str(c + 1) for c in chans),
                                                "+".join(str(t.programs.get(c, 0)) for c in chans)))
        drums += [n for n in t.notes if n[2] == DRUM_CHANNEL]
        pitched = [n for n in t.notes if n[2] != DRUM_CHANNEL]
        if pitched and t.name.split("-")[0].upper() in ("BASS", "WALK"):
            prog = t.programs.get(pitched[0][2], 0)
            cands.append((t.name, prog, pitched))
    if not drums:
        raise Skip("no drums in the MMA output")
    # Bass: the Bass/Walk tracks with GM bass programs, else the plain Bass/Walk tracks. Grooves that
    # alternate a Bass and a Walk track bar by bar make one line: a further track joins only in bars
    # the line leaves empty, so two bass lines never double.
    gm = [c for c in cands if 32 <= c[1] <= 39]
    if not gm:
        gm = [c for c in cands if c[0].upper() in ("BASS", "WALK")]
    if not gm:
        raise Skip("no bass in the MMA output")
    gm.sort(key=lambda c: -len(c[2]))
    bass_program = gm[0][1] if 32 <= gm[0][1] <= 39 else DEFAULT_BASS_PROGRAM
    bar_m = mma.division * 4
    bass, used_bars, used_names = [], set(), []
    for tname, _, notes in gm:
        bars = {n[0] // bar_m for n in notes}
        if bass and bars & used_bars:
            continue
        bass += notes
        used_bars |= bars
        used_names.append(tname)
    bass.sort()
    info["bass_from"] = "+".join(used_names)
    info["bass_program"] = (gm[0][1], bass_program)
    melody, bass, drums = scale(tune.melody, ks), scale(bass, km), scale(drums, km)
    # Alignment: MMA's bar 1 is tick 0 and is the MIDI's bar 0; its first bass note should sound with
    # the chart's first chord, give or take MMA's random timing.
    info["bass_offset"] = bass[0][0] - round(tune.first_chord_tick * ks)
    info["drum_first"] = drums[0][0]
    info["ppq"] = ppq
    # Long tunes in pieces of at most max_bars bars: the trio codec encodes each instrument over at most
    # 1600 steps (100 bars) and would give later windows empty parts. Each piece starts 15 bars before
    # the previous one ends, so every 16-bar window lies whole in exactly one piece.
    bar = ppq * 4
    n_bars = tune.n_bars  # MMA renders the chart's bars; its notes' tails past the tune's end are cut
    pieces, start = [], 0
    while True:
        end = n_bars if max_bars <= 0 else min(start + max_bars, n_bars)
        pieces.append((start, end))
        if end >= n_bars:
            break
        start = end - 15

    def cut(notes, s, e):
        return [(a - s, min(b, e) - s, p, v) for a, b, p, v in notes if s <= a < e]

    info["files"] = 0
    for k, (s, e) in enumerate(pieces):
        stem = tune.name if k == 0 else "%s_p%d" % (tune.name, k + 1)
        s, e = s * bar, e * bar
        m, b, d = cut(melody, s, e), cut(bass, s, e), cut(drums, s, e)
        if not (m and b and d):
            continue
        write_trio(os.path.join(out_dir, "%s__%s.mid" % (stem, groove)), ppq, tune.usec, tune.time_sig,
                   "%s (%s)" % (stem, groove), m, b, bass_program, d)
        info["files"] += 1
    return info


# ---------------------------------------------------------------- main


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    data = os.environ.get("CADENZA_DATA")
    default_in = os.path.join(data, "nottingham") if data else os.path.normpath(os.path.join(repo, "..", "shared", "data", "nottingham"))
    ap = argparse.ArgumentParser(description="Nottingham tunes + MMA grooves -> melody/bass/drums trio MIDI files "
                                             "for cadenza's vae_trio_16bar codec.")
    ap.add_argument("--in", dest="in_dir", default=default_in,
                    help="the Nottingham folder with melody/, chords/, full/ (default: %(default)s)")
    ap.add_argument("--out", default="/work/data/trios", help="output folder (default: %(default)s)")
    ap.add_argument("--grooves", type=int, default=3, help="grooves per tune, picked from the tune's name (default 3, at most %d)" % len(GROOVES))
    ap.add_argument("--limit", type=int, default=0, help="only the first N tunes (by name), for a quick test")
    ap.add_argument("--jobs", type=int, default=2, help="parallel mma runs (default 2)")
    ap.add_argument("--eval-percent", type=float, default=0,
                    help="put this percent of the tunes (by a hash of the name, all their grooves) under OUT/eval/, "
                         "the rest under OUT/train/ (for dataset build --split-from-path); default 0: all in OUT")
    ap.add_argument("--max-bars", type=int, default=100,
                    help="write longer tunes as pieces of at most this many bars, overlapping by 15 bars so each 16-bar "
                         "window is in one piece (default 100: the trio codec encodes at most 1600 steps; 0: never)")
    ap.add_argument("--keep-mma", action="store_true", help="also write each MMA chart into OUT/mma/")
    a = ap.parse_args()
    if a.grooves < 1 or a.jobs < 1:
        ap.error("--grooves and --jobs must be at least 1")
    if 0 < a.max_bars < 16:
        ap.error("--max-bars must be 0 or at least 16")
    if not shutil.which("mma"):
        sys.exit("make_trios: mma not found; install it with: sudo apt-get install -y mma")
    full_dir = os.path.join(a.in_dir, "full")
    mel_dir = os.path.join(a.in_dir, "melody")
    if not os.path.isdir(mel_dir) and not os.path.isdir(full_dir):
        sys.exit("make_trios: %s has no melody/ or full/ folder (--in)" % a.in_dir)
    names = sorted({f[:-4] for d in (mel_dir, full_dir) if os.path.isdir(d) for f in os.listdir(d) if f.lower().endswith(".mid")})
    if a.limit > 0:
        names = names[:a.limit]
    t0 = time.time()
    skipped = collections.Counter()
    tunes = []
    for n in names:
        try:
            tunes.append(load_tune(a.in_dir, n))
        except Skip as e:
            skipped[str(e)] += 1
    chord_names = collections.Counter(QUALITIES[c[1]][0] for t in tunes for bar in t.chart for c in bar if c)

    def split_of(name):
        if a.eval_percent <= 0:
            return ""
        h = int.from_bytes(hashlib.sha1(("split:" + name).encode()).digest()[:4], "big") / 2**32 * 100
        return "eval" if h < a.eval_percent else "train"

    os.makedirs(a.out, exist_ok=True)
    for sub in ({split_of(t.name) for t in tunes} - {""}):
        os.makedirs(os.path.join(a.out, sub), exist_ok=True)
    if a.keep_mma:
        os.makedirs(os.path.join(a.out, "mma"), exist_ok=True)
        for t in tunes:
            for g in pick_grooves(t.name, a.grooves):
                with open(os.path.join(a.out, "mma", "%s__%s.mma" % (t.name, g)), "w") as f:
                    f.write(mma_text(t, g))
    jobs = [(t, g) for t in tunes for g in pick_grooves(t.name, a.grooves)]
    written, failed = collections.Counter(), collections.Counter()
    n_files = pieces = 0
    split_files = collections.Counter()
    tunes_written = set()
    offsets, drum_starts, track_shapes, bass_progs, out_ppq = [], [], collections.Counter(), collections.Counter(), set()
    mma_tempos, mma_sigs = collections.Counter(), collections.Counter()
    with tempfile.TemporaryDirectory(prefix="make_trios.") as work, \
            concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as pool:
        futs = {pool.submit(render, t, g, os.path.join(a.out, split_of(t.name)), work, a.max_bars): (t, g) for t, g in jobs}
        done = 0
        for fut in concurrent.futures.as_completed(futs):
            t, g = futs[fut]
            done += 1
            try:
                info = fut.result()
            except Skip as e:
                failed["%s (%s)" % (e, g)] += 1
                continue
            written[g] += 1
            n_files += info["files"]
            pieces += info["files"] > 1
            split_files[split_of(t.name) or "all"] += info["files"]
            tunes_written.add(t.name)
            offsets.append((info["bass_offset"] / info["ppq"], t.name, g))
            drum_starts.append(info["drum_first"] / info["ppq"])
            track_shapes[(g, " ".join(info["tracks"]), info["bass_from"])] += 1
            bass_progs[(g,) + info["bass_program"]] += 1
            out_ppq.add(info["ppq"])
            mma_tempos[tuple(info["mma_tempos"])] += 1
            mma_sigs[tuple(info["mma_sigs"])] += 1
            if done % 200 == 0:
                print("  %d/%d rendered" % (done, len(jobs)), file=sys.stderr)
    dt = time.time() - t0
    print("make_trios: %s -> %s" % (a.in_dir, a.out))
    print("tunes read      %d" % len(names))
    print("tunes used      %d (%d with at least one file written)" % (len(tunes), len(tunes_written)))
    print("tunes skipped   %d" % sum(skipped.values()))
    for reason, n in sorted(skipped.items(), key=lambda x: -x[1]):
        print("  %5d  %s" % (n, reason))
    short = sum(1 for t in tunes if t.n_bars < 16)
    if short:
        print("  (written, but under 16 bars, so no 16-bar window: %d tunes)" % short)
    print("files written   %d: %d of %d tune/groove renders, %d of them (over %d bars) in pieces (ppq %s)" % (
        n_files, sum(written.values()), len(jobs), pieces, a.max_bars, ",".join(map(str, sorted(out_ppq)))))
    if a.eval_percent > 0:
        print("  by split: %s" % ", ".join("%s %d" % kv for kv in sorted(split_files.items())))
    for reason, n in sorted(failed.items(), key=lambda x: -x[1]):
        print("  %5d  not written: %s" % (n, reason))
    print("grooves used    %s" % ", ".join("%s %d" % kv for kv in sorted(written.items(), key=lambda x: (-x[1], x[0]))))
    print("chords named    %s" % ", ".join("%s %d" % kv for kv in chord_names.most_common()))
    if offsets:
        offs = sorted(o for o, _, _ in offsets)
        bad = [x for x in offsets if abs(x[0]) >= 0.25]
        print("alignment       first bass note minus the chart's first chord: median %.3f, min %.3f, max %.3f quarters; "
              "%d files off by a 16th or more%s" % (offs[len(offs) // 2], offs[0], offs[-1], len(bad),
                                                    (" (e.g. %s__%s: %.2f)" % (bad[0][1], bad[0][2], bad[0][0])) if bad else ""))
        print("                first drum note at %.3f quarters at the latest" % max(drum_starts))
        print("MMA output      tempos %s; time signatures %s" % (dict(mma_tempos), dict(mma_sigs)))
        for (g, shape, src), n in sorted(track_shapes.items()):
            print("  %-13s %s -> bass from %s" % (g, shape, src))
        remapped = {g: p for (g, p, q), n in bass_progs.items() if p != q}
        if remapped:
            print("  bass program set to %d (groove's program was not a GM bass): %s" % (
                DEFAULT_BASS_PROGRAM, ", ".join("%s %d" % kv for kv in sorted(remapped.items()))))
    print("time            %.1f s (%d jobs)" % (dt, a.jobs))
    return 0 if written else 1


if __name__ == "__main__":
    sys.exit(main())

/* MusicVAE's data (magenta music_vae/data.py; details in docs/dev/musicvae_data.md): fixed windows of
 * 2 or 16 bars, a token per 16th-note step.
 *   vae_mel_2bar, vae_mel_16bar  90 classes: 0 no-event, 1 note-off, 2 + pitch - 21 (pitches 21-108)
 *   vae_drums                    512 classes: bit c set when drum class c is hit (2 bars)
 * Windows start on every bar line of an extracted melody or drum track (a hop of one bar); in a melody
 * window note-offs before the first note become no-events; a piece's repeated windows are kept once.
 * MusicVAE then samples at most 5 windows of a piece each time it reads it; cadenza stores them all
 * and leaves sampling to the batcher. The trio (melody, bass, drums) converter is not here yet. */
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"

enum { VAE_MIN_PITCH = 21, VAE_MAX_PITCH = 108, VAE_MEL_CLASSES = 90, VAE_DRUM_CLASSES = 512, VAE_BAR = 16 };

/* The distinct windows of one piece, in order of first appearance. */
typedef struct windows {
    cdz_tokens *out;
    uint64_t *hashes;
    size_t *starts; /* token offset in out of each kept window */
    size_t n, cap_h, cap_s;
} windows;

static cdz_status keep_window(windows *w, const uint16_t *tok, size_t len) {
    uint64_t h = cdz_fnv1a64(CDZ_FNV_OFFSET, tok, len * sizeof *tok);
    for (size_t i = 0; i < w->n; i++)
        if (w->hashes[i] == h && memcmp(w->out->tokens + w->starts[i], tok, len * sizeof *tok) == 0) return CDZ_OK;
    if (cdz_grow((void **)&w->hashes, &w->cap_h, w->n + 1, sizeof *w->hashes) ||
        cdz_grow((void **)&w->starts, &w->cap_s, w->n + 1, sizeof *w->starts))
        return CDZ_ERR_NOMEM;
    w->hashes[w->n] = h;
    w->starts[w->n++] = w->out->n_tokens;
    return cdz_tokens_append(w->out, tok, len);
}

static void windows_free(windows *w) {
    cdz_free(w->hashes);
    cdz_free(w->starts);
}

static int mel_class(int e) { return e == CDZ_MELODY_NO_EVENT ? 0 : e == CDZ_MELODY_NOTE_OFF ? 1 : e - VAE_MIN_PITCH + 2; }

static cdz_status mel_windows(const cdz_score *s, int bars, int all_programs, cdz_tokens *out, cdz_extract_stats *stats,
                              cdz_error *err) {
    /* OneHotMelodyConverter: extract_melodies(min_bars=1, gap_bars=1, max_steps_truncate=1600,
     * min_unique_pitches=1, ignore_polyphonic_notes=True, pad_end=True), pitches 21-108, programs 0-31
     * for the 2-bar model, 16-step bars only. */
    cdz_melody_params p = {4, 1.0, 1, 1600, 1, 1, 1, VAE_MIN_PITCH, VAE_MAX_PITCH, 0, all_programs ? 127 : 31, VAE_BAR};
    cdz_melody *mel;
    size_t n;
    cdz_status st = cdz_extract_melodies(s, &p, &mel, &n, stats, err);
    if (st) return st;
    size_t len = (size_t)bars * VAE_BAR;
    uint16_t tok[16 * VAE_BAR];
    windows w = {out, NULL, NULL, 0, 0, 0};
    for (size_t m = 0; m < n && !st; m++) {
        for (size_t end = len; end <= mel[m].n_steps && !st; end += VAE_BAR) {
            const int16_t *ev = mel[m].events + end - len;
            int started = 0;
            for (size_t t = 0; t < len; t++) {
                started |= ev[t] >= 0;
                tok[t] = (uint16_t)(!started && ev[t] == CDZ_MELODY_NOTE_OFF ? 0 : mel_class(ev[t]));
            }
            st = keep_window(&w, tok, len);
        }
    }
    windows_free(&w);
    cdz_melodies_free(mel, n);
    if (st) return cdz_error_set(err, st, "out of memory cutting melody windows");
    return CDZ_OK;
}

static int vae_mel_event(int token, const int16_t *events, size_t pos) {
    (void)events, (void)pos;
    return token == 0 ? CDZ_MELODY_NO_EVENT : token == 1 ? CDZ_MELODY_NOTE_OFF : token - 2 + VAE_MIN_PITCH;
}

static cdz_status mel_decode(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err) {
    return codec_decode_melody(tokens, n, VAE_MEL_CLASSES, vae_mel_event, 80, out, err); /* MusicVAE: velocity 80 */
}

static cdz_status drum_windows(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    cdz_drum_params p = cdz_drum_default_params();
    cdz_drum_track *tr;
    size_t n;
    cdz_status st = cdz_extract_drum_tracks(s, &p, &tr, &n, stats, err);
    if (st) return st;
    windows w = {out, NULL, NULL, 0, 0, 0};
    const size_t len = 2 * VAE_BAR;
    for (size_t k = 0; k < n && !st; k++)
        for (size_t end = len; end <= tr[k].n_steps && !st; end += VAE_BAR) st = keep_window(&w, tr[k].steps + end - len, len);
    windows_free(&w);
    cdz_drum_tracks_free(tr, n);
    if (st) return cdz_error_set(err, st, "out of memory cutting drum windows");
    return CDZ_OK;
}

static cdz_status drum_decode(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err) {
    const int64_t tps = 120; /* a 16th at 480 ticks per quarter */
    cdz_status st = cdz_score_init(out, 480, err);
    if (!st) st = cdz_score_add_tempo(out, 0, 120.0);
    for (size_t t = 0; t < n && !st; t++) {
        if (tokens[t] >= VAE_DRUM_CLASSES) {
            st = cdz_error_set(err, CDZ_ERR_RANGE, "token %zu: %u is not a drum class (0-511)", t, tokens[t]);
            break;
        }
        for (int c = 0; c < CDZ_DRUM_CLASSES && !st; c++)
            if (tokens[t] & (1u << c))
                st = cdz_score_add_note(out, 0, CDZ_DRUM_CHANNEL, 0, cdz_drum_class_pitch(c), 80, (int64_t)t * tps, (int64_t)(t + 1) * tps);
    }
    if (!st) st = cdz_score_finish(out, err);
    if (st) {
        cdz_score_free(out);
        return err && err->msg[0] ? st : cdz_error_set(err, st, "drums to score: %s", cdz_status_str(st));
    }
    out->end_tick = (int64_t)n * tps;
    out->duration_s = cdz_score_tick_to_seconds(out, out->end_tick);
    return CDZ_OK;
}

static void mel_token_name(uint16_t t, char *buf, size_t n) {
    codec_melody_token_name(t, VAE_MIN_PITCH, VAE_MEL_CLASSES, buf, n);
}

static void drum_token_name(uint16_t t, char *buf, size_t n) {
    static const char *const cls[CDZ_DRUM_CLASSES] = {"kick", "snare", "hh", "ohh", "ltom", "mtom", "htom", "crash", "ride"};
    if (t >= VAE_DRUM_CLASSES) {
        snprintf(buf, n, "INVALID_%u", t);
        return;
    }
    if (t == 0) {
        snprintf(buf, n, "REST");
        return;
    }
    size_t k = 0;
    buf[0] = 0;
    for (int c = 0; c < CDZ_DRUM_CLASSES; c++)
        if (t & (1u << c)) k += (size_t)snprintf(buf + (k < n ? k : n), k < n ? n - k : 0, "%s%s", k ? "+" : "", cls[c]);
}

static cdz_status mel2_encode(const cdz_score *s, cdz_tokens *o, cdz_extract_stats *st, cdz_error *e) { return mel_windows(s, 2, 0, o, st, e); }
static cdz_status mel16_encode(const cdz_score *s, cdz_tokens *o, cdz_extract_stats *st, cdz_error *e) { return mel_windows(s, 16, 1, o, st, e); }

const cdz_codec codec_vae_mel_2bar = {
    "vae_mel_2bar", "MusicVAE 2-bar melodies: 32 steps of 90 classes (pitches 21-108, no-event, note-off)",
    VAE_MEL_CLASSES, mel_token_name, mel2_encode, mel_decode, NULL, 0, 0, NULL, NULL,
};
const cdz_codec codec_vae_mel_16bar = {
    "vae_mel_16bar", "MusicVAE 16-bar melodies: 256 steps of 90 classes",
    VAE_MEL_CLASSES, mel_token_name, mel16_encode, mel_decode, NULL, 0, 0, NULL, NULL,
};
const cdz_codec codec_vae_drums = {
    "vae_drums", "MusicVAE 2-bar drums: 32 steps of 512 classes (9 drum classes as bits)",
    VAE_DRUM_CLASSES, drum_token_name, drum_windows, drum_decode, NULL, 0, 0, NULL, NULL,
};

/* ---- trio: melody, bass and drums together (MusicVAE TrioConverter, hierdec-trio_16bar) ----
 * Each step is three tokens: melody class (0-89), 90 + bass class, 180 + drum class; a window is
 * 16 bars. Per part of the score (split at time changes, 16-step bars only): every instrument (track,
 * channel, program) is typed by program (0-31 melody, 32-39 bass) or as drums; each is encoded alone
 * over the whole part (one melody or drum track from its first bar, no gap limit, cut at 1600 steps,
 * padded to the part's length); its bars are "covered" where it has notes, widened by two bars each
 * way; every (melody, bass, drums) combination then gives the 16-bar windows all three cover (the
 * first and last two bars count as covered when any of the three covers them). */

enum { TRIO_GAP_BARS = 2, TRIO_WINDOW_BARS = 16, TRIO_MAX_BARS = 1024, TRIO_MAX_STEPS = 1600 };
enum { TRIO_MEL = 1, TRIO_BASS = 2, TRIO_DRUMS = 3, TRIO_INVALID = 4 };

typedef struct trio_inst {
    uint16_t track;
    uint8_t channel, program, is_drum, type;
    uint16_t *steps;  /* encoded over the part: n_bars * 16 classes, or NULL if nothing encoded */
    uint8_t *covered; /* per bar */
} trio_inst;

/* A copy of the part with only one instrument's notes. */
static cdz_status only_instrument(const cdz_score *q, const trio_inst *in, cdz_score *out) {
    cdz_status st = cdz_score_copy(out, q, NULL);
    if (st) return st;
    size_t w = 0;
    for (size_t i = 0; i < out->n_notes; i++) {
        const cdz_note *n = &out->notes[i];
        if (n->track == in->track && n->channel == in->channel && n->program == in->program) out->notes[w++] = *n;
    }
    out->n_notes = w;
    return CDZ_OK;
}

/* The instrument encoded on its own over the part (OneHotMelodyConverter or DrumsConverter with
 * gap_bars=None and pad_to_total_time): classes of the first melody or drum track, placed at its start
 * step, no-events elsewhere. */
static cdz_status encode_instrument(const cdz_score *q, trio_inst *in, size_t total_steps) {
    cdz_score one;
    cdz_status st = only_instrument(q, in, &one);
    if (st) return st;
    uint16_t *steps = cdz_calloc(total_steps + 1, sizeof *steps);
    int found = 0;
    if (!steps) st = CDZ_ERR_NOMEM;
    if (!st && in->type == TRIO_DRUMS) {
        cdz_drum_params p = {1e9, 1, TRIO_MAX_STEPS, 1};
        cdz_drum_track *tr;
        size_t n;
        if (!(st = cdz_extract_drum_tracks(&one, &p, &tr, &n, NULL, NULL)) && n) {
            for (size_t t = 0; t < tr[0].n_steps && tr[0].start_step + (int64_t)t < (int64_t)total_steps; t++)
                steps[tr[0].start_step + (int64_t)t] = tr[0].steps[t];
            found = 1;
        }
        if (!st) cdz_drum_tracks_free(tr, n);
    } else if (!st) {
        cdz_melody_params p = {4, 1e9, 1, TRIO_MAX_STEPS, 1, 1, 1, VAE_MIN_PITCH, VAE_MAX_PITCH, 0, 127, VAE_BAR};
        cdz_melody *mel;
        size_t n;
        if (!(st = cdz_extract_melodies(&one, &p, &mel, &n, NULL, NULL)) && n) {
            int64_t start = (mel[0].start_tick * 4 + one.ppq / 2) / one.ppq;
            for (size_t t = 0; t < mel[0].n_steps && start + (int64_t)t < (int64_t)total_steps; t++)
                steps[start + (int64_t)t] = (uint16_t)mel_class(mel[0].events[t]);
            found = 1;
        }
        if (!st) cdz_melodies_free(mel, n);
    }
    cdz_score_free(&one);
    if (st || !found) {
        cdz_free(steps);
        steps = NULL;
    }
    in->steps = steps;
    return st;
}

static cdz_status trio_part(const cdz_score *q, windows *w) {
    int64_t total_steps = 0;
    for (size_t i = 0; i < q->n_notes; i++)
        if (q->notes[i].end_step > total_steps) total_steps = q->notes[i].end_step;
    size_t bars = (size_t)((total_steps + VAE_BAR - 1) / VAE_BAR);
    if (bars > TRIO_MAX_BARS) bars = TRIO_MAX_BARS;
    if (bars < TRIO_WINDOW_BARS) return CDZ_OK;
    size_t steps = bars * VAE_BAR;
    trio_inst *in = NULL;
    size_t n_in = 0, cap = 0;
    cdz_status st = CDZ_OK;
    for (size_t i = 0; i < q->n_notes && !st; i++) {
        const cdz_note *n = &q->notes[i];
        size_t k = 0;
        while (k < n_in && !(in[k].track == n->track && in[k].channel == n->channel && in[k].program == n->program)) k++;
        if (k == n_in) {
            if (cdz_grow((void **)&in, &cap, n_in + 1, sizeof *in) || !(in[n_in].covered = cdz_calloc(bars, 1))) {
                st = CDZ_ERR_NOMEM;
                break;
            }
            uint8_t type = n->is_drum ? TRIO_DRUMS : n->program < 32 ? TRIO_MEL : n->program < 40 ? TRIO_BASS : TRIO_INVALID;
            in[n_in] = (trio_inst){n->track, n->channel, n->program, n->is_drum, type, NULL, in[n_in].covered};
            n_in++;
        }
        int64_t a = n->start_step / VAE_BAR, b = (n->end_step + VAE_BAR - 1) / VAE_BAR;
        for (int64_t j = a; j < b && j < (int64_t)bars; j++) in[k].covered[j] = 1;
    }
    int have[5] = {0};
    for (size_t k = 0; k < n_in; k++) have[in[k].type] = 1;
    if (!st && have[TRIO_MEL] && have[TRIO_BASS] && have[TRIO_DRUMS]) {
        uint8_t *og = cdz_malloc(bars);
        uint8_t *grp = cdz_malloc(bars);
        uint16_t *tok = cdz_malloc(3 * TRIO_WINDOW_BARS * VAE_BAR * sizeof *tok);
        if (!og || !grp || !tok) st = CDZ_ERR_NOMEM;
        for (size_t k = 0; k < n_in && !st; k++) {
            if (in[k].type == TRIO_INVALID) continue;
            if ((st = encode_instrument(q, &in[k], steps))) break;
            if (!in[k].steps) memset(in[k].covered, 0, bars);
            /* an instrument is encoded over its first TRIO_MAX_STEPS steps only: no window past them */
            for (size_t j = TRIO_MAX_STEPS / VAE_BAR; j < bars; j++) in[k].covered[j] = 0;
            /* widen coverage by TRIO_GAP_BARS each way */
            memcpy(og, in[k].covered, bars);
            for (size_t j = 0; j < bars; j++) {
                size_t lo = j > TRIO_GAP_BARS ? j - TRIO_GAP_BARS : 0, hi = j + TRIO_GAP_BARS < bars ? j + TRIO_GAP_BARS : bars - 1;
                uint8_t any = 0;
                for (size_t x = lo; x <= hi; x++) any |= og[x];
                in[k].covered[j] = any;
            }
        }
        /* Every (melody, bass, drums) combination, instruments in order. */
        for (size_t a = 0; a < n_in && !st; a++) {
            if (in[a].type != TRIO_MEL) continue;
            for (size_t b = 0; b < n_in && !st; b++) {
                if (in[b].type != TRIO_BASS) continue;
                for (size_t d = 0; d < n_in && !st; d++) {
                    if (in[d].type != TRIO_DRUMS) continue;
                    const trio_inst *g[3] = {&in[a], &in[b], &in[d]};
                    for (size_t j = 0; j < bars; j++) grp[j] = g[0]->covered[j] && g[1]->covered[j] && g[2]->covered[j];
                    uint8_t head = 0, tail = 0;
                    for (size_t j = 0; j < TRIO_GAP_BARS && j < bars; j++)
                        for (int x = 0; x < 3; x++) head |= g[x]->covered[j], tail |= g[x]->covered[bars - 1 - j];
                    for (size_t j = 0; j < TRIO_GAP_BARS && j < bars; j++) grp[j] = head;
                    for (size_t j = 0; j < TRIO_GAP_BARS && j < bars; j++) grp[bars - 1 - j] = tail;
                    if (!g[0]->steps || !g[1]->steps || !g[2]->steps) continue;
                    for (size_t j = 0; j + TRIO_WINDOW_BARS <= bars && !st; j++) {
                        int all = 1;
                        for (size_t x = j; x < j + TRIO_WINDOW_BARS; x++) all &= grp[x];
                        if (!all) continue;
                        for (size_t t = 0; t < TRIO_WINDOW_BARS * VAE_BAR; t++) {
                            size_t at = j * VAE_BAR + t;
                            tok[3 * t] = g[0]->steps[at];
                            tok[3 * t + 1] = (uint16_t)(VAE_MEL_CLASSES + g[1]->steps[at]);
                            tok[3 * t + 2] = (uint16_t)(2 * VAE_MEL_CLASSES + g[2]->steps[at]);
                        }
                        st = keep_window(w, tok, 3 * TRIO_WINDOW_BARS * VAE_BAR);
                    }
                }
            }
        }
        cdz_free(og);
        cdz_free(grp);
        cdz_free(tok);
    }
    for (size_t k = 0; k < n_in; k++) cdz_free(in[k].steps), cdz_free(in[k].covered);
    cdz_free(in);
    return st;
}

static cdz_status trio_part_fn(void *ctx, const cdz_score *q, int64_t start_tick, int32_t steps_per_bar) {
    (void)start_tick, (void)steps_per_bar;
    return trio_part(q, ctx);
}

static cdz_status trio_encode(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    if (s->ppq <= 0) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "trios need ticks per quarter note (SMPTE timing)");
    windows w = {out, NULL, NULL, 0, 0, 0};
    cdz_extract_stats ignored = {0};
    cdz_status st = cdz_extract_each_part(s, 4, VAE_BAR, trio_part_fn, &w, stats ? stats : &ignored);
    if (stats && !st) stats->sequences += w.n;
    windows_free(&w);
    if (st) return cdz_error_set(err, st, "trio extraction: %s", cdz_status_str(st));
    return CDZ_OK;
}

static cdz_status trio_decode(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err) {
    const int64_t tps = 120;
    size_t steps = (n + 2) / 3;
    int16_t *part[2];
    part[0] = cdz_malloc((steps + 1) * sizeof(int16_t));
    part[1] = cdz_malloc((steps + 1) * sizeof(int16_t));
    uint16_t *drums = cdz_calloc(steps + 1, sizeof *drums);
    cdz_status st = part[0] && part[1] && drums ? CDZ_OK : CDZ_ERR_NOMEM;
    for (size_t t = 0; t < steps && !st; t++) part[0][t] = part[1][t] = CDZ_MELODY_NO_EVENT;
    /* A token's range says which part it belongs to; every third token starts a new step. */
    for (size_t i = 0; i < n && !st; i++) {
        uint16_t t = tokens[i];
        size_t step = i / 3;
        if (t >= 2 * VAE_MEL_CLASSES + VAE_DRUM_CLASSES) {
            st = cdz_error_set(err, CDZ_ERR_RANGE, "token %zu: %u is not a trio token (0-691)", i, t);
        } else if (t >= 2 * VAE_MEL_CLASSES) {
            drums[step] = (uint16_t)(t - 2 * VAE_MEL_CLASSES);
        } else {
            int which = t >= VAE_MEL_CLASSES, c = t % VAE_MEL_CLASSES;
            part[which][step] = c == 0 ? CDZ_MELODY_NO_EVENT : c == 1 ? CDZ_MELODY_NOTE_OFF : (int16_t)(c - 2 + VAE_MIN_PITCH);
        }
    }
    if (!st) st = cdz_score_init(out, 480, err);
    if (!st) st = cdz_score_add_tempo(out, 0, 120.0);
    for (int which = 0; which < 2 && !st; which++) {
        /* melody on track 0 (program 0), bass on track 1 (program 33), as MusicVAE writes them */
        int pitch = -1;
        size_t start = 0;
        for (size_t t = 0; t <= steps && !st; t++) {
            int e = t < steps ? part[which][t] : CDZ_MELODY_NOTE_OFF;
            if (e == CDZ_MELODY_NO_EVENT) continue;
            if (pitch >= 0)
                st = cdz_score_add_note(out, (uint16_t)which, (uint8_t)which, which ? 33 : 0, (uint8_t)pitch, 80,
                                        (int64_t)start * tps, (int64_t)t * tps);
            pitch = e >= 0 ? e : -1;
            start = t;
        }
    }
    for (size_t t = 0; t < steps && !st; t++)
        for (int c = 0; c < CDZ_DRUM_CLASSES && !st; c++)
            if (drums[t] & (1u << c))
                st = cdz_score_add_note(out, 2, CDZ_DRUM_CHANNEL, 0, cdz_drum_class_pitch(c), 80, (int64_t)t * tps, (int64_t)(t + 1) * tps);
    if (!st) st = cdz_score_finish(out, err);
    cdz_free(part[0]);
    cdz_free(part[1]);
    cdz_free(drums);
    if (st) {
        if (out->ppq) cdz_score_free(out);
        return err && err->msg[0] ? st : cdz_error_set(err, st, "trio to score: %s", cdz_status_str(st));
    }
    out->end_tick = (int64_t)steps * tps;
    out->duration_s = cdz_score_tick_to_seconds(out, out->end_tick);
    return CDZ_OK;
}

static void trio_token_name(uint16_t t, char *buf, size_t n) {
    char inner[56];
    if (t < VAE_MEL_CLASSES) mel_token_name(t, inner, sizeof inner), snprintf(buf, n, "MEL_%s", inner);
    else if (t < 2 * VAE_MEL_CLASSES) mel_token_name((uint16_t)(t - VAE_MEL_CLASSES), inner, sizeof inner), snprintf(buf, n, "BASS_%s", inner);
    else if (t < 2 * VAE_MEL_CLASSES + VAE_DRUM_CLASSES) drum_token_name((uint16_t)(t - 2 * VAE_MEL_CLASSES), inner, sizeof inner), snprintf(buf, n, "DRUMS_%s", inner);
    else snprintf(buf, n, "INVALID_%u", t);
}

const cdz_codec codec_vae_trio_16bar = {
    "vae_trio_16bar", "MusicVAE 16-bar trios: per step melody (90), bass (90) and drums (512) tokens, 692 in all",
    2 * VAE_MEL_CLASSES + VAE_DRUM_CLASSES, trio_token_name, trio_encode, trio_decode, NULL, 0, 0, NULL, NULL,
};

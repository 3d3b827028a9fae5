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

static cdz_status mel_decode(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err) {
    cdz_melody m = {0};
    m.events = cdz_malloc((n + 1) * sizeof *m.events);
    if (!m.events) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory decoding a melody");
    for (size_t t = 0; t < n; t++) {
        if (tokens[t] >= VAE_MEL_CLASSES) {
            cdz_free(m.events);
            return cdz_error_set(err, CDZ_ERR_RANGE, "token %zu: %u is not a melody class (0-89)", t, tokens[t]);
        }
        m.events[t] = tokens[t] == 0 ? CDZ_MELODY_NO_EVENT : tokens[t] == 1 ? CDZ_MELODY_NOTE_OFF : (int16_t)(tokens[t] - 2 + VAE_MIN_PITCH);
    }
    m.n_steps = n;
    m.steps_per_quarter = 4;
    m.steps_per_bar = VAE_BAR;
    cdz_status st = cdz_melody_to_score(&m, 120.0, 80, 0, out, err); /* MusicVAE decodes at velocity 80 */
    cdz_free(m.events);
    return st;
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
    if (t == 0) snprintf(buf, n, "NO_EVENT");
    else if (t == 1) snprintf(buf, n, "NOTE_OFF");
    else if (t < VAE_MEL_CLASSES) snprintf(buf, n, "NOTE_%d", t - 2 + VAE_MIN_PITCH);
    else snprintf(buf, n, "INVALID_%u", t);
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
    VAE_MEL_CLASSES, mel_token_name, mel2_encode, mel_decode, NULL, 0, 0,
};
const cdz_codec codec_vae_mel_16bar = {
    "vae_mel_16bar", "MusicVAE 16-bar melodies: 256 steps of 90 classes",
    VAE_MEL_CLASSES, mel_token_name, mel16_encode, mel_decode, NULL, 0, 0,
};
const cdz_codec codec_vae_drums = {
    "vae_drums", "MusicVAE 2-bar drums: 32 steps of 512 classes (9 drum classes as bits)",
    VAE_DRUM_CLASSES, drum_token_name, drum_windows, drum_decode, NULL, 0, 0,
};

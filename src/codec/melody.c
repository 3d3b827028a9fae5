/* The melody one-hot codec (Magenta MelodyOneHotEncoding with MelodyRNN's range [48, 84)). */
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"

cdz_status cdz_melody_encode(const cdz_melody *m, uint16_t *tokens, cdz_error *err) {
    for (size_t i = 0; i < m->n_steps; i++) {
        int e = m->events[i];
        if (e == CDZ_MELODY_NO_EVENT) tokens[i] = 0;
        else if (e == CDZ_MELODY_NOTE_OFF) tokens[i] = 1;
        else if (e >= CDZ_MELODY_MIN_NOTE && e < CDZ_MELODY_MAX_NOTE) tokens[i] = (uint16_t)(e - CDZ_MELODY_MIN_NOTE + 2);
        else return cdz_error_set(err, CDZ_ERR_RANGE, "melody step %zu: pitch %d outside 48-83 (squash it first)", i, e);
    }
    return CDZ_OK;
}

cdz_status cdz_melody_decode(const uint16_t *tokens, size_t n, cdz_melody *m, cdz_error *err) {
    for (size_t i = 0; i < n; i++) {
        uint16_t t = tokens[i];
        if (t >= CDZ_MELODY_CLASSES)
            return cdz_error_set(err, CDZ_ERR_RANGE, "token %zu: %u is not a melody token (0-%d)", i, t, CDZ_MELODY_CLASSES - 1);
        m->events[i] = t == 0 ? CDZ_MELODY_NO_EVENT : t == 1 ? CDZ_MELODY_NOTE_OFF : (int16_t)(t - 2 + CDZ_MELODY_MIN_NOTE);
    }
    m->n_steps = n;
    return CDZ_OK;
}

void codec_melody_token_name(uint16_t t, int min_note, int classes, char *buf, size_t n) {
    if (t == 0) snprintf(buf, n, "NO_EVENT");
    else if (t == 1) snprintf(buf, n, "NOTE_OFF");
    else if (t < classes) snprintf(buf, n, "NOTE_%d", t - 2 + min_note);
    else snprintf(buf, n, "INVALID_%u", t);
}

static void melody_token_name(uint16_t t, char *buf, size_t n) {
    codec_melody_token_name(t, CDZ_MELODY_MIN_NOTE, CDZ_MELODY_CLASSES, buf, n);
}

cdz_status codec_encode_melodies(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err,
                                 const cdz_codec *c) {
    cdz_melody_params p = cdz_melody_default_params();
    cdz_melody *mel;
    size_t n;
    cdz_status st = cdz_extract_melodies(s, &p, &mel, &n, stats, err);
    if (st) return st;
    uint16_t *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n && !st; i++) {
        cdz_melody_squash(&mel[i], CDZ_MELODY_MIN_NOTE, CDZ_MELODY_MAX_NOTE, 0);
        size_t k = 0;
        if (cdz_grow((void **)&buf, &cap, mel[i].n_steps + 1, sizeof *buf)) {
            st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding melodies");
        } else if ((k = codec_melody_tokens(c, &mel[i], buf)) == 0) {
            if (stats) stats->unsupported_meter++, stats->sequences--;
        } else if ((st = cdz_tokens_append(out, buf, k))) {
            cdz_error_set(err, st, "out of memory encoding melodies");
        }
    }
    cdz_free(buf);
    cdz_melodies_free(mel, n);
    return st;
}

static cdz_status melody_encode_score(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    return codec_encode_melodies(s, out, stats, err, &codec_melody);
}

cdz_status codec_decode_melody(const uint16_t *tokens, size_t n, uint32_t vocab, melody_event_fn event,
                               uint8_t velocity, cdz_score *out, cdz_error *err) {
    cdz_melody m = {0};
    m.events = cdz_malloc((n + 1) * sizeof *m.events);
    if (!m.events) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory decoding a melody");
    for (size_t t = 0; t < n; t++) {
        if (tokens[t] >= vocab) {
            cdz_free(m.events);
            return cdz_error_set(err, CDZ_ERR_RANGE, "token %zu: %u is not a melody token (0-%u)", t, tokens[t], vocab - 1);
        }
        m.events[t] = (int16_t)event(tokens[t], m.events, t);
    }
    m.n_steps = n;
    m.steps_per_quarter = 4;
    m.steps_per_bar = 16;
    m.qpm = 120;
    cdz_status st = cdz_melody_to_score(&m, 120.0, velocity, 0, out, err);
    cdz_free(m.events);
    return st;
}

static int one_hot_event(int token, const int16_t *events, size_t pos) {
    (void)events, (void)pos;
    return token == 0 ? CDZ_MELODY_NO_EVENT : token == 1 ? CDZ_MELODY_NOTE_OFF : token - 2 + CDZ_MELODY_MIN_NOTE;
}

static cdz_status melody_decode_score(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err) {
    return codec_decode_melody(tokens, n, CDZ_MELODY_CLASSES, one_hot_event, 100, out, err);
}

/* ---- generation: the melody codecs (melody, lookback, key_melody; lookback2, key_melody2) ---- */

/* Magenta's melody_rnn_generate starts from middle C when given no primer (in 4/4). */
static size_t melody_start(const cdz_codec *c, uint16_t *tok, size_t cap) {
    int16_t ev = 60;
    cdz_melody m = {&ev, 1, 4, 16, 120, 0, 0, 0, 0, 4, 4};
    return cap >= 2 ? codec_melody_tokens(c, &m, tok) : 0;
}

/* The first melody of the score (any monophonic line, the highest of notes struck together; no
 * minimum length), squashed into 48-83 and C as the models were trained (Magenta's
 * MelodyRnnModel.generate_melody). */
static cdz_status melody_primer(const cdz_codec *c, const cdz_score *s, cdz_gen_frame *f, cdz_tokens *out,
                                cdz_error *err) {
    cdz_melody_params p = cdz_melody_default_params();
    p.min_bars = 0, p.min_unique_pitches = 1, p.keep_highest = 1, p.gap_bars = 1e6, p.max_steps = 0;
    cdz_melody *mel = NULL;
    size_t k = 0;
    cdz_extract_stats st = {0};
    cdz_status r = cdz_extract_melodies(s, &p, &mel, &k, &st, err);
    if (r == CDZ_OK && k == 0)
        r = cdz_error_set(err, CDZ_ERR_ARG, "no melody to prime with (no notes outside drums%s)",
                          st.non_integer_bar ? ", or a meter whose bar is not a whole number of 16th notes" : "");
    if (r == CDZ_OK && k > 1)
        snprintf(f->note, sizeof f->note, "primer: the first of %zu melodic lines found (track %u, channel %u); choose "
                 "another with the primer's track", k, mel[0].track, mel[0].channel + 1);
    if (r == CDZ_OK) {
        f->transpose = cdz_melody_squash(&mel[0], CDZ_MELODY_MIN_NOTE, CDZ_MELODY_MAX_NOTE, 0);
        uint16_t *tok = cdz_malloc((mel[0].n_steps + 1) * sizeof *tok);
        size_t nt = 0;
        if (!tok) r = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for a primer");
        if (r == CDZ_OK && (nt = codec_melody_tokens(c, &mel[0], tok)) == 0) {
            int num, den;
            codec_melody_meter(&mel[0], &num, &den);
            r = cdz_error_set(err, CDZ_ERR_ARG, "the primer is in %d/%d, a meter codec %s has no token for (it knows 2/4, 3/4, "
                              "4/4, 5/4, 6/4, 7/4, 2/2, 3/2, 4/2, 3/8, 5/8, 6/8, 7/8, 9/8 and 12/8)", num, den, c->name);
        }
        if (r == CDZ_OK && (r = cdz_tokens_append(out, tok, nt)) != CDZ_OK)
            cdz_error_set(err, r, "out of memory for a primer");
        cdz_free(tok);
    }
    cdz_melodies_free(mel, k);
    return r;
}

const cdz_codec_gen codec_gen_melody = {1, 0, melody_start, melody_primer, NULL, NULL, 0, NULL};
/* lookback2 and key_melody2: a meter token leads, and is no step */
const cdz_codec_gen codec_gen_melody_meter = {1, 1, melody_start, melody_primer, NULL, NULL, 0, NULL};

const cdz_codec codec_melody = {
    "melody", "MelodyRNN basic_rnn one-hot: no-event, note-off, pitches 48-83 (38 classes)", CDZ_MELODY_CLASSES,
    melody_token_name, melody_encode_score, melody_decode_score, NULL, 0, 0, &codec_gen_melody, NULL,
};

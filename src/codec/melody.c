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
                                 melody_tokens_fn to_tokens) {
    cdz_melody_params p = cdz_melody_default_params();
    cdz_melody *mel;
    size_t n;
    cdz_status st = cdz_extract_melodies(s, &p, &mel, &n, stats, err);
    if (st) return st;
    uint16_t *buf = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n && !st; i++) {
        cdz_melody_squash(&mel[i], CDZ_MELODY_MIN_NOTE, CDZ_MELODY_MAX_NOTE, 0);
        if (cdz_grow((void **)&buf, &cap, mel[i].n_steps + 1, sizeof *buf))
            st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding melodies");
        else if (!(st = to_tokens(&mel[i], buf, err)) && (st = cdz_tokens_append(out, buf, mel[i].n_steps)))
            cdz_error_set(err, st, "out of memory encoding melodies");
    }
    cdz_free(buf);
    cdz_melodies_free(mel, n);
    return st;
}

static cdz_status melody_encode_score(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    return codec_encode_melodies(s, out, stats, err, cdz_melody_encode);
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

const cdz_codec codec_melody = {
    "melody", "MelodyRNN basic_rnn one-hot: no-event, note-off, pitches 48-83 (38 classes)", CDZ_MELODY_CLASSES,
    melody_token_name, melody_encode_score, melody_decode_score, NULL, 0, 0,
};

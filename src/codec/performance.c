/* Performance events (Magenta performance_lib with 100 steps per second, 32 velocity bins and shifts
 * of at most 100 steps; the one-hot layout of PerformanceOneHotEncoding). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

int cdz_velocity_to_bin(int velocity) { return (velocity - 1) * CDZ_PERF_VELOCITY_BINS / 127 + 1; }
int cdz_bin_to_velocity(int bin) { return 1 + (bin - 1) * 4; }

/* A note-on is preceded by a velocity event when its bin differs from the current one (which starts
 * at none, as in Python Magenta). */
static int perf_note_on(void *ctx, const cdz_perf_note *n, uint16_t *out) {
    int *bin = ctx, k = 0;
    int b = cdz_velocity_to_bin(n->velocity ? n->velocity : 1);
    if (b != *bin) out[k++] = (uint16_t)(CDZ_PERF_VELOCITY + b - 1), *bin = b;
    out[k++] = (uint16_t)(CDZ_PERF_NOTE_ON + (n->pitch & 0x7F));
    return k;
}

static uint16_t perf_note_off(const cdz_perf_note *n) { return (uint16_t)(CDZ_PERF_NOTE_OFF + (n->pitch & 0x7F)); }

cdz_status cdz_performance_encode(const cdz_performance *p, cdz_tokens *out, cdz_error *err) {
    int bin = 0;
    event_writer w = {CDZ_PERF_TIME_SHIFT, CDZ_PERF_MAX_SHIFT, perf_note_on, perf_note_off, &bin};
    token_buf b = {NULL, 0, 0};
    cdz_status st = codec_write_events(p, &w, &b, err);
    if (!st && (st = cdz_tokens_append(out, b.v, b.n))) cdz_error_set(err, st, "out of memory encoding a performance");
    cdz_free(b.v);
    return st;
}

static void perf_classify(uint16_t t, token_meaning *m) {
    memset(m, 0, sizeof *m);
    if (t < CDZ_PERF_NOTE_OFF) m->kind = TOKEN_ON, m->pitch = (uint8_t)t;
    else if (t < CDZ_PERF_TIME_SHIFT) m->kind = TOKEN_OFF, m->pitch = (uint8_t)(t - CDZ_PERF_NOTE_OFF);
    else if (t < CDZ_PERF_VELOCITY) m->kind = TOKEN_SHIFT, m->steps = t - CDZ_PERF_TIME_SHIFT + 1;
    else m->kind = TOKEN_VELOCITY, m->velocity = cdz_bin_to_velocity(t - CDZ_PERF_VELOCITY + 1);
}

/* Performance.to_sequence, first in, first out per pitch; 100 is Magenta's velocity before any event. */
cdz_status cdz_performance_decode(const uint16_t *tokens, size_t n, cdz_performance *p, cdz_error *err) {
    static const event_reader r = {"performance", CDZ_PERF_VOCAB, 128, 100, perf_classify};
    return codec_read_events(tokens, n, &r, p, err);
}

static void perf_token_name(uint16_t t, char *buf, size_t n) {
    if (t < CDZ_PERF_NOTE_OFF) snprintf(buf, n, "NOTE_ON_%u", t);
    else if (t < CDZ_PERF_TIME_SHIFT) snprintf(buf, n, "NOTE_OFF_%u", t - CDZ_PERF_NOTE_OFF);
    else if (t < CDZ_PERF_VELOCITY) snprintf(buf, n, "TIME_SHIFT_%u", t - CDZ_PERF_TIME_SHIFT + 1);
    else if (t < CDZ_PERF_VOCAB) snprintf(buf, n, "VELOCITY_%u", t - CDZ_PERF_VELOCITY + 1);
    else snprintf(buf, n, "INVALID_%u", t);
}

static cdz_status perf_encode_score(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    cdz_performance p;
    cdz_status st = cdz_extract_performance(s, 100, &p, stats, err);
    if (st) return st;
    if (p.n_notes) st = cdz_performance_encode(&p, out, err);
    cdz_performance_free(&p);
    return st;
}

static cdz_status perf_decode_score(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err) {
    cdz_performance p;
    cdz_status st = cdz_performance_decode(tokens, n, &p, err);
    if (st) return st;
    st = cdz_performance_to_score(&p, out, err);
    cdz_performance_free(&p);
    return st;
}

/* ---- generation ---- */

/* Without a primer: a medium velocity, so the first notes have a loudness to start from. */
static size_t perf_start(const cdz_codec *c, uint16_t *tok, size_t cap) {
    (void)c;
    if (cap < 1) return 0;
    tok[0] = CDZ_PERF_VELOCITY + CDZ_PERF_VELOCITY_BINS / 2;
    return 1;
}

/* Every non-drum note of the score as one performance. */
static cdz_status perf_primer(const cdz_codec *c, const cdz_score *s, cdz_gen_frame *f, cdz_tokens *out, cdz_error *err) {
    (void)c;
    f->transpose = 0;
    size_t before = out->n_seqs;
    cdz_status st = perf_encode_score(s, out, NULL, err);
    if (st == CDZ_OK && out->n_seqs == before)
        st = cdz_error_set(err, CDZ_ERR_ARG, "no notes to prime with (drums are left out of performances)");
    return st;
}

static const cdz_codec_gen perf_gen = {0, 0, perf_start, perf_primer, cdz_performance_seconds, NULL, 0, NULL};

const cdz_codec codec_performance = {
    "performance", "performance events: note-on 128, note-off 128, time shift 100 x 10 ms, velocity 32 bins (388)",
    CDZ_PERF_VOCAB, perf_token_name, perf_encode_score, perf_decode_score, NULL, 0, 0, &perf_gen, NULL,
};

double cdz_performance_seconds(const uint16_t *tokens, size_t n) {
    int64_t steps = 0;
    for (size_t i = 0; i < n; i++)
        if (tokens[i] >= CDZ_PERF_TIME_SHIFT && tokens[i] < CDZ_PERF_TIME_SHIFT + CDZ_PERF_MAX_SHIFT)
            steps += tokens[i] - CDZ_PERF_TIME_SHIFT + 1;
    return (double)steps / 100.0;
}

/* Performance events (Magenta performance_lib with 100 steps per second, 32 velocity bins and shifts
 * of at most 100 steps; the one-hot layout of PerformanceOneHotEncoding). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

typedef struct perf_event {
    int64_t step;
    uint32_t idx; /* the note's position in the performance's order (Magenta's (start_time, pitch)) */
    uint8_t is_off;
} perf_event;

static int event_cmp(const void *pa, const void *pb) {
    const perf_event *a = pa, *b = pb;
    if (a->step != b->step) return a->step < b->step ? -1 : 1;
    if (a->idx != b->idx) return a->idx < b->idx ? -1 : 1;
    return a->is_off - b->is_off;
}

#define EVENT_BEFORE(x, y) (event_cmp((x), (y)) < 0)
CDZ_DEFINE_SORT(sort_events, perf_event, EVENT_BEFORE)

/* Performance._from_quantized_sequence: note events sorted by (step, note index, onset first), time
 * shifts of at most 100 steps between them, a velocity event before a note-on whose bin changed. */
cdz_status cdz_performance_encode(const cdz_performance *p, cdz_tokens *out, cdz_error *err) {
    size_t n = p->n_notes;
    if (n > UINT32_MAX / 2) return cdz_error_set(err, CDZ_ERR_RANGE, "%zu notes: too many for one performance", n);
    perf_event *ev = cdz_malloc((2 * n + 1) * sizeof *ev);
    uint16_t *tok = NULL;
    size_t n_tok = 0, cap = 0;
    cdz_status st = CDZ_OK;
    if (!ev) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding a performance");
    for (size_t i = 0; i < n; i++) {
        ev[2 * i] = (perf_event){p->notes[i].start_step, (uint32_t)i, 0};
        ev[2 * i + 1] = (perf_event){p->notes[i].end_step, (uint32_t)i, 1};
    }
    if (sort_events(ev, 2 * n)) {
        cdz_free(ev);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding a performance");
    }
    int64_t step = 0;
    int bin = 0;
    for (size_t k = 0; k < 2 * n && !st; k++) {
        const cdz_perf_note *note = &p->notes[ev[k].idx];
        /* Room for the shifts to this event, a velocity and the note itself. */
        int64_t gap = ev[k].step - step;
        size_t need = n_tok + 2 + (gap > 0 ? (size_t)(gap / CDZ_PERF_MAX_SHIFT) + 1 : 0);
        if (gap < 0 || cdz_grow((void **)&tok, &cap, need, sizeof *tok)) {
            st = gap < 0 ? CDZ_ERR_ARG : CDZ_ERR_NOMEM;
            break;
        }
        while (gap > CDZ_PERF_MAX_SHIFT) {
            tok[n_tok++] = CDZ_PERF_TIME_SHIFT + CDZ_PERF_MAX_SHIFT - 1;
            gap -= CDZ_PERF_MAX_SHIFT;
        }
        if (gap > 0) tok[n_tok++] = (uint16_t)(CDZ_PERF_TIME_SHIFT + gap - 1);
        step = ev[k].step;
        if (!ev[k].is_off) {
            int b = cdz_velocity_to_bin(note->velocity ? note->velocity : 1);
            if (b != bin) {
                tok[n_tok++] = (uint16_t)(CDZ_PERF_VELOCITY + b - 1);
                bin = b;
            }
        }
        tok[n_tok++] = (uint16_t)((ev[k].is_off ? CDZ_PERF_NOTE_OFF : CDZ_PERF_NOTE_ON) + (note->pitch & 0x7F));
    }
    if (!st) st = cdz_tokens_append(out, tok, n_tok);
    cdz_free(tok);
    cdz_free(ev);
    if (st == CDZ_ERR_ARG) return cdz_error_set(err, st, "performance notes out of order (negative time)");
    if (st) return cdz_error_set(err, st, "out of memory encoding a performance");
    return CDZ_OK;
}

/* Performance.to_sequence, first in, first out per pitch. */
cdz_status cdz_performance_decode(const uint16_t *tokens, size_t n, cdz_performance *p, cdz_error *err) {
    memset(p, 0, sizeof *p);
    p->steps_per_second = 100;
    /* Open notes per pitch as FIFO lists through `next`, indices into p->notes. */
    int64_t head[128], tail[128];
    for (int i = 0; i < 128; i++) head[i] = tail[i] = -1;
    int64_t *next = NULL;
    size_t cap = 0, cap_next = 0;
    int64_t step = 0;
    int velocity = 100; /* Magenta's default before any velocity event */
    cdz_status st = CDZ_OK;
    for (size_t i = 0; i < n && !st; i++) {
        uint16_t t = tokens[i];
        if (t >= CDZ_PERF_VOCAB) {
            st = cdz_error_set(err, CDZ_ERR_RANGE, "token %zu: %u is not a performance token (0-387)", i, t);
        } else if (t >= CDZ_PERF_VELOCITY) {
            velocity = cdz_bin_to_velocity(t - CDZ_PERF_VELOCITY + 1);
        } else if (t >= CDZ_PERF_TIME_SHIFT) {
            step += t - CDZ_PERF_TIME_SHIFT + 1;
        } else if (t < CDZ_PERF_NOTE_OFF) {
            if (cdz_grow((void **)&p->notes, &cap, p->n_notes + 1, sizeof *p->notes) ||
                cdz_grow((void **)&next, &cap_next, p->n_notes + 1, sizeof *next)) {
                st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory decoding a performance");
                break;
            }
            size_t k = p->n_notes++;
            p->notes[k] = (cdz_perf_note){step, -1, (uint8_t)t, (uint8_t)velocity, 0};
            next[k] = -1;
            if (tail[t] < 0) head[t] = (int64_t)k;
            else next[tail[t]] = (int64_t)k;
            tail[t] = (int64_t)k;
        } else {
            int pitch = t - CDZ_PERF_NOTE_OFF;
            int64_t k = head[pitch];
            if (k < 0) continue; /* nothing sounding: ignored */
            head[pitch] = next[k];
            if (head[pitch] < 0) tail[pitch] = -1;
            p->notes[k].end_step = step;
        }
    }
    if (!st) {
        /* Zero-length notes carry nothing (Magenta drops them); open notes end at the last step. */
        size_t w = 0;
        for (size_t k = 0; k < p->n_notes; k++) {
            cdz_perf_note x = p->notes[k];
            if (x.end_step < 0) x.end_step = step > x.start_step ? step : x.start_step + 1;
            if (x.end_step > x.start_step) p->notes[w++] = x;
        }
        p->n_notes = w;
    }
    cdz_free(next);
    if (st) cdz_performance_free(p);
    return st;
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

const cdz_codec codec_performance = {
    "performance", "performance events: note-on 128, note-off 128, time shift 100 x 10 ms, velocity 32 bins (388)",
    CDZ_PERF_VOCAB, perf_token_name, perf_encode_score, perf_decode_score, NULL, 0, 0,
};

/* Performances: every non-drum note with its velocity, the sustain pedal applied, on a grid of steps
 * per second (Performance RNN and Music Transformer, which use 100). Multi-instrument performances
 * (MuseNet-style) are the same with drums kept and each note labelled with its instrument class. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cadenza/extract.h"

static int64_t to_step(double seconds, int32_t sps) { return (int64_t)floor(seconds * sps + 0.5); }

/* A note on its way into the performance: `onset_s` is its start before quantization, which orders
 * notes that quantize to the same step (Magenta sorts by (start_time, pitch)). */
typedef struct timed_note {
    cdz_perf_note n;
    double onset_s;
} timed_note;

/* Order of the performance: start step, onset time, pitch, then end and velocity for a total order. */
static int timed_cmp(const void *pa, const void *pb) {
    const timed_note *a = pa, *b = pb;
    if (a->n.start_step != b->n.start_step) return a->n.start_step < b->n.start_step ? -1 : 1;
    if (a->onset_s != b->onset_s) return a->onset_s < b->onset_s ? -1 : 1;
    if (a->n.instrument != b->n.instrument) return a->n.instrument < b->n.instrument ? -1 : 1;
    if (a->n.pitch != b->n.pitch) return a->n.pitch < b->n.pitch ? -1 : 1;
    if (a->n.end_step != b->n.end_step) return a->n.end_step < b->n.end_step ? -1 : 1;
    return (a->n.velocity > b->n.velocity) - (a->n.velocity < b->n.velocity);
}

/* Groups notes by key (instrument, pitch), in performance order within a key. */
static int by_key_then_order(const void *pa, const void *pb) {
    const timed_note *a = pa, *b = pb;
    if (a->n.instrument != b->n.instrument) return a->n.instrument < b->n.instrument ? -1 : 1;
    if (a->n.pitch != b->n.pitch) return a->n.pitch < b->n.pitch ? -1 : 1;
    return timed_cmp(pa, pb);
}

static int same_key(const timed_note *a, const timed_note *b) {
    return a->n.instrument == b->n.instrument && a->n.pitch == b->n.pitch;
}

#define TIMED_BEFORE(x, y) (timed_cmp((x), (y)) < 0)
#define KEY_BEFORE(x, y) (by_key_then_order((x), (y)) < 0)
#define STEP_BEFORE(x, y) (*(x) < *(y))
CDZ_DEFINE_SORT(sort_by_order, timed_note, TIMED_BEFORE)
CDZ_DEFINE_SORT(sort_by_key, timed_note, KEY_BEFORE)
CDZ_DEFINE_SORT(sort_steps, int64_t, STEP_BEFORE)

uint8_t cdz_instrument_class(uint8_t program, int is_drum) { return is_drum ? CDZ_MT_DRUMS : (uint8_t)((program & 0x7F) / 8); }

static cdz_status extract(const cdz_score *s, int32_t steps_per_second, int multitrack, cdz_performance *out,
                          cdz_extract_stats *stats, cdz_error *err) {
    memset(out, 0, sizeof *out);
    cdz_extract_stats ignored = {0};
    if (!stats) stats = &ignored;
    if (steps_per_second <= 0 || steps_per_second > 100000)
        return cdz_error_set(err, CDZ_ERR_ARG, "steps per second %d: expected 1 to 100000", (int)steps_per_second);
    cdz_score held;
    cdz_status st = cdz_score_copy(&held, s, err);
    if (st) return st;
    if ((st = cdz_score_apply_sustain(&held, err))) {
        cdz_score_free(&held);
        return st;
    }
    timed_note *notes = cdz_calloc(held.n_notes + 1, sizeof *notes);
    int64_t *ends = cdz_calloc(held.n_notes + 1, sizeof *ends);
    cdz_perf_note *result = NULL;
    size_t n = 0, truncated = 0;
    if (!notes || !ends) {
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory extracting a performance");
        goto done;
    }
    for (size_t i = 0; i < held.n_notes; i++) {
        const cdz_note *x = &held.notes[i];
        if (x->is_drum && !multitrack) continue;
        if (!(x->end_s * steps_per_second < 4e18)) {
            st = cdz_error_set(err, CDZ_ERR_RANGE, "note %zu ends at %g s, too late for a performance", i, x->end_s);
            goto done;
        }
        int64_t a = to_step(x->start_s, steps_per_second), b = to_step(x->end_s, steps_per_second);
        /* A bound on the length, so a note lasting for years cannot make a billion time shifts. */
        if (b > CDZ_PERF_MAX_STEPS) {
            if (!truncated++) stats->truncated++;
            if (a >= CDZ_PERF_MAX_STEPS) continue;
            b = CDZ_PERF_MAX_STEPS;
        }
        uint8_t inst = multitrack ? cdz_instrument_class(x->program, x->is_drum) : 0;
        notes[n++] = (timed_note){{a, b > a ? b : a + 1, x->pitch, x->velocity, inst}, x->start_s};
    }
    /* Within each pitch, the i-th start (in performance order) takes the i-th end: first in, first out,
     * the pairing the event decoding makes. The i-th smallest end always lies after the i-th smallest
     * start when every note has length, so no note loses its length. */
    if (sort_by_key(notes, n)) goto nomem;
    for (size_t lo = 0, hi; lo < n; lo = hi) {
        for (hi = lo + 1; hi < n && same_key(&notes[hi], &notes[lo]); hi++) {
        }
        if (hi - lo < 2) continue;
        for (size_t i = lo; i < hi; i++) ends[i - lo] = notes[i].n.end_step;
        if (sort_steps(ends, hi - lo)) goto nomem;
        for (size_t i = lo; i < hi; i++) notes[i].n.end_step = ends[i - lo];
    }
    if (sort_by_order(notes, n) || !(result = cdz_calloc(n + 1, sizeof *result))) goto nomem;
    for (size_t i = 0; i < n; i++) result[i] = notes[i].n;
    if (n == 0) stats->empty++;
    else stats->sequences++;
    out->notes = result;
    out->n_notes = n;
    out->steps_per_second = steps_per_second;
    goto done;
nomem:
    st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory extracting a performance");
done:
    cdz_free(notes);
    cdz_free(ends);
    cdz_score_free(&held);
    return st;
}

cdz_status cdz_extract_performance(const cdz_score *s, int32_t steps_per_second, cdz_performance *out,
                                   cdz_extract_stats *stats, cdz_error *err) {
    return extract(s, steps_per_second, 0, out, stats, err);
}

cdz_status cdz_extract_multitrack(const cdz_score *s, int32_t steps_per_second, cdz_performance *out,
                                  cdz_extract_stats *stats, cdz_error *err) {
    return extract(s, steps_per_second, 1, out, stats, err);
}

void cdz_performance_free(cdz_performance *p) {
    if (!p) return;
    cdz_free(p->notes);
    memset(p, 0, sizeof *p);
}

cdz_status cdz_performance_to_score(const cdz_performance *p, cdz_score *out, cdz_error *err) {
    /* At 120 qpm a quarter is 0.5 s: ticks per quarter = steps per second / 2 keeps steps exact. */
    int32_t sps = p->steps_per_second > 0 ? p->steps_per_second : 100;
    int32_t ppq = sps % 2 == 0 ? sps / 2 : sps;
    int64_t ticks_per_step = sps % 2 == 0 ? 1 : 2; /* odd rates: 2 ticks per step at ppq = sps */
    if (ppq > 0x7FFF) return cdz_error_set(err, CDZ_ERR_RANGE, "steps per second %d too fine for MIDI", (int)sps);
    cdz_status st = cdz_score_init(out, ppq, err);
    if (!st) st = cdz_score_add_tempo(out, 0, 120.0);
    for (size_t i = 0; i < p->n_notes && !st; i++) {
        const cdz_perf_note *n = &p->notes[i];
        st = cdz_score_add_note(out, 0, 0, 0, n->pitch & 0x7F, n->velocity ? n->velocity & 0x7F : 1,
                                n->start_step * ticks_per_step, n->end_step * ticks_per_step);
    }
    if (!st) st = cdz_score_finish(out, err);
    if (st) {
        cdz_score_free(out);
        return cdz_error_set(err, st, "performance to score: %s", cdz_status_str(st));
    }
    return CDZ_OK;
}

/* The parts of a score between tempo and time signature changes, which every extractor works on. */
#include "cadenza/extract.h"

/* Where the tempo or time signature really changes (Magenta's TimeChangeSplitter). */
static cdz_status split_ticks(const cdz_score *s, int64_t **out, size_t *n) {
    size_t cap = s->n_tempos + s->n_time_sigs + 2;
    int64_t *t = cdz_malloc(cap * sizeof *t);
    if (!t) return CDZ_ERR_NOMEM;
    size_t k = 0, a = 0, b = 0;
    uint32_t usec = 500000;
    uint8_t num = 4, den = 4;
    t[k++] = 0;
    while (a < s->n_tempos || b < s->n_time_sigs) {
        int take_tempo = b >= s->n_time_sigs || (a < s->n_tempos && s->tempos[a].tick <= s->time_sigs[b].tick);
        int64_t tick;
        if (take_tempo) {
            const cdz_tempo *tp = &s->tempos[a++];
            if (tp->usec_per_quarter == usec) continue;
            usec = tp->usec_per_quarter;
            tick = tp->tick;
        } else {
            const cdz_time_signature *ts = &s->time_sigs[b++];
            if (ts->numerator == num && ts->denominator == den) continue;
            num = ts->numerator;
            den = ts->denominator;
            tick = ts->tick;
        }
        if (tick > t[k - 1] && tick < s->end_tick) t[k++] = tick;
    }
    int64_t last = t[k - 1];
    t[k++] = s->end_tick > last ? s->end_tick : last + 1;
    *out = t;
    *n = k;
    return CDZ_OK;
}

cdz_status cdz_extract_each_part(const cdz_score *s, int32_t steps_per_quarter, int32_t steps_per_bar, cdz_part_fn fn,
                                 void *ctx, cdz_extract_stats *stats) {
    int64_t *cuts = NULL;
    size_t n_cuts = 0;
    cdz_status st = split_ticks(s, &cuts, &n_cuts);
    for (size_t c = 0; st == CDZ_OK && c + 1 < n_cuts; c++) {
        cdz_score q;
        if ((st = cdz_score_slice_ticks(&q, s, cuts[c], cuts[c + 1], NULL))) break;
        uint8_t num = q.n_time_sigs ? q.time_sigs[0].numerator : 4, den = q.n_time_sigs ? q.time_sigs[0].denominator : 4;
        int64_t bar = (int64_t)steps_per_quarter * 4 * num;
        if (q.n_notes == 0) {
            stats->empty++;
        } else if (bar % den != 0 || bar / den == 0 || (steps_per_bar > 0 && bar / den != steps_per_bar)) {
            stats->non_integer_bar++;
        } else if ((st = cdz_score_quantize(&q, steps_per_quarter, NULL)) == CDZ_OK) {
            st = fn(ctx, &q, cuts[c], (int32_t)(bar / den));
        } else if (st == CDZ_ERR_RANGE) {
            stats->empty++; /* ticks beyond what can be quantized: nothing usable */
            st = CDZ_OK;
        }
        cdz_score_free(&q);
    }
    cdz_free(cuts);
    return st;
}

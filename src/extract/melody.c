/* Monophonic melodies, following Magenta's melody pipeline (note_seq melodies_lib.Melody and
 * magenta melody_pipelines.extract_melodies with MelodyRNN's settings): split at tempo and time
 * signature changes, quantize, scan each instrument for monophonic runs. Comments name the Magenta
 * behaviour each step reproduces. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cadenza/extract.h"

/* A bound on one melody's length in steps, so a note lasting for days cannot exhaust memory. */
#define MAX_MELODY_STEPS (1 << 22)

cdz_melody_params cdz_melody_default_params(void) {
    cdz_melody_params p = {4, 1.0, 7, 512, 5, 0, 0, 0, 127, 0, 127, 0};
    return p;
}

static int pymod(int64_t a, int64_t b) { /* Python's %, never negative for b > 0 */
    int64_t r = a % b;
    return (int)(r < 0 ? r + b : r);
}

typedef struct building {
    int16_t *ev;
    size_t len, cap;
} building;

/* Melody._add_note: the melody is cut (or padded with no-events) to end one step after the note. */
static cdz_status add_note(building *b, int pitch, int64_t start, int64_t end) {
    size_t new_len = (size_t)end + 1;
    if (cdz_grow((void **)&b->ev, &b->cap, new_len, sizeof *b->ev)) return CDZ_ERR_NOMEM;
    for (size_t i = b->len; i < new_len; i++) b->ev[i] = CDZ_MELODY_NO_EVENT;
    b->len = new_len;
    b->ev[start] = (int16_t)pitch;
    for (int64_t i = start + 1; i < end; i++) b->ev[i] = CDZ_MELODY_NO_EVENT;
    b->ev[end] = CDZ_MELODY_NOTE_OFF;
    return CDZ_OK;
}

/* Melody._get_last_on_off_events: the last note-on, and the first note-off after it (or the end). */
static void last_on_off(const building *b, int64_t *on, int64_t *off) {
    *off = (int64_t)b->len;
    *on = 0;
    for (size_t i = b->len; i-- > 0;) {
        if (b->ev[i] == CDZ_MELODY_NOTE_OFF) *off = (int64_t)i;
        if (b->ev[i] >= 0) {
            *on = (int64_t)i;
            return;
        }
    }
}

typedef struct part {
    const cdz_score *q; /* one quantized part of the score: a single tempo and time signature */
    int64_t start_tick; /* where it starts in the original score */
    int32_t steps_per_bar;
    double qpm;
    uint8_t numerator, denominator;
} part;

static int by_start_then_pitch_desc(const void *pa, const void *pb) {
    const cdz_note *a = *(const cdz_note *const *)pa, *b = *(const cdz_note *const *)pb;
    if (a->start_step != b->start_step) return a->start_step < b->start_step ? -1 : 1;
    return (b->pitch > a->pitch) - (b->pitch < a->pitch);
}

typedef enum { FOUND, NOTHING, POLYPHONIC } scan_result;

/* Melody.from_quantized_sequence for the notes of one instrument from `search_start` on. `notes` is
 * the instrument's notes sorted by (start step, pitch descending). */
static cdz_status scan_melody(const part *pt, const cdz_note *const *notes, size_t n_notes, int64_t search_start,
                              const cdz_melody_params *p, building *b, int64_t *melody_start, scan_result *res) {
    int64_t spb = pt->steps_per_bar;
    size_t i = 0;
    b->len = 0;
    *res = NOTHING;
    while (i < n_notes && notes[i]->start_step < search_start) i++;
    if (i == n_notes) return CDZ_OK;
    int64_t first = notes[i]->start_step;
    *melody_start = first - pymod(first - search_start, spb);
    for (; i < n_notes; i++) {
        const cdz_note *n = notes[i];
        int64_t start = n->start_step - *melody_start, end = n->end_step - *melody_start;
        if (end > MAX_MELODY_STEPS) end = MAX_MELODY_STEPS;
        if (start >= end) continue;
        if (b->len == 0) {
            if (add_note(b, n->pitch, start, end)) return CDZ_ERR_NOMEM;
            continue;
        }
        int64_t last_on, last_off;
        last_on_off(b, &last_on, &last_off);
        if (start == last_on) {
            if (p->keep_highest) continue; /* sorted by pitch descending: the highest is already in */
            b->len = 0;
            *res = POLYPHONIC;
            return CDZ_OK;
        }
        if ((double)(start - last_off) >= p->gap_bars * (double)spb) break;
        if (add_note(b, n->pitch, start, end)) return CDZ_ERR_NOMEM;
    }
    if (b->len && b->ev[b->len - 1] == CDZ_MELODY_NOTE_OFF) b->len--; /* strip the final note-off */
    if (b->len && p->pad_end && b->len % (size_t)spb) {
        /* Melody.set_length: padding ends a note still sounding, then no-events to the bar line. */
        size_t old = b->len, len = old + (size_t)spb - old % (size_t)spb;
        if (cdz_grow((void **)&b->ev, &b->cap, len, sizeof *b->ev)) return CDZ_ERR_NOMEM;
        for (size_t k = old; k < len; k++) b->ev[k] = CDZ_MELODY_NO_EVENT;
        for (size_t k = old; k-- > 0;) {
            if (b->ev[k] == CDZ_MELODY_NOTE_OFF) break;
            if (b->ev[k] >= 0) {
                b->ev[old] = CDZ_MELODY_NOTE_OFF;
                break;
            }
        }
        b->len = len;
    }
    if (b->len) *res = FOUND;
    return CDZ_OK;
}

static size_t unique_pitch_classes(const building *b) {
    int seen[12] = {0};
    size_t n = 0;
    for (size_t i = 0; i < b->len; i++)
        if (b->ev[i] >= 0 && !seen[b->ev[i] % 12]) seen[b->ev[i] % 12] = 1, n++;
    return n;
}

typedef struct melody_list {
    cdz_melody *v;
    size_t n, cap;
} melody_list;

static cdz_status keep(melody_list *out, const part *pt, const cdz_note *inst, const building *b, int64_t start_step,
                       int32_t spq) {
    if (cdz_grow((void **)&out->v, &out->cap, out->n + 1, sizeof *out->v)) return CDZ_ERR_NOMEM;
    cdz_melody *m = &out->v[out->n];
    memset(m, 0, sizeof *m);
    m->events = cdz_malloc(b->len * sizeof *m->events);
    if (!m->events) return CDZ_ERR_NOMEM;
    memcpy(m->events, b->ev, b->len * sizeof *m->events);
    m->n_steps = b->len;
    m->steps_per_quarter = spq;
    m->steps_per_bar = pt->steps_per_bar;
    m->numerator = pt->numerator, m->denominator = pt->denominator;
    m->qpm = pt->qpm;
    m->start_tick = pt->start_tick + (pt->q->ppq > 0 ? start_step * pt->q->ppq / spq : 0);
    m->track = inst->track;
    m->channel = inst->channel;
    m->program = inst->program;
    out->n++;
    return CDZ_OK;
}

static int by_instrument(const void *pa, const void *pb) {
    const cdz_note *a = *(const cdz_note *const *)pa, *b = *(const cdz_note *const *)pb;
    if (a->track != b->track) return a->track < b->track ? -1 : 1;
    if (a->channel != b->channel) return a->channel < b->channel ? -1 : 1;
    if (a->program != b->program) return a->program < b->program ? -1 : 1;
    return by_start_then_pitch_desc(pa, pb);
}

/* extract_melodies on one quantized part. */
static cdz_status extract_part(const part *pt, const cdz_melody_params *p, melody_list *out, cdz_extract_stats *stats) {
    const cdz_score *q = pt->q;
    cdz_status st = CDZ_OK;
    const cdz_note **notes = cdz_malloc((q->n_notes + 1) * sizeof *notes);
    building b = {0};
    if (!notes) return CDZ_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < q->n_notes; i++)
        if (!q->notes[i].is_drum && q->notes[i].pitch >= p->min_pitch && q->notes[i].pitch <= p->max_pitch &&
            q->notes[i].program >= p->min_program && q->notes[i].program <= p->max_program)
            notes[n++] = &q->notes[i];
    qsort(notes, n, sizeof *notes, by_instrument);
    for (size_t lo = 0, hi; lo < n && !st; lo = hi) {
        for (hi = lo + 1; hi < n && notes[hi]->track == notes[lo]->track && notes[hi]->channel == notes[lo]->channel &&
                          notes[hi]->program == notes[lo]->program;
             hi++) {
        }
        int64_t search = 0, start = 0;
        for (;;) {
            scan_result r;
            if ((st = scan_melody(pt, notes + lo, hi - lo, search, p, &b, &start, &r))) break;
            if (r == POLYPHONIC) {
                stats->polyphonic_tracks++;
                break; /* look in the other instruments */
            }
            if (r == NOTHING) break;
            int64_t end = start + (int64_t)b.len;
            search = end + pymod(-end, pt->steps_per_bar); /* the next bar line, inclusive */
            if ((int64_t)b.len < (int64_t)pt->steps_per_bar * p->min_bars) {
                stats->too_short++;
                continue;
            }
            if (p->max_steps > 0 && b.len > (size_t)p->max_steps) {
                b.len = (size_t)p->max_steps;
                stats->truncated++;
            }
            if (unique_pitch_classes(&b) < (size_t)p->min_unique_pitches) {
                stats->too_few_pitches++;
                continue;
            }
            if ((st = keep(out, pt, notes[lo], &b, start, p->steps_per_quarter))) break;
            stats->sequences++;
        }
    }
    cdz_free(b.ev);
    cdz_free(notes);
    return st;
}

typedef struct melody_ctx {
    const cdz_melody_params *p;
    melody_list list;
    cdz_extract_stats *stats;
} melody_ctx;

static cdz_status melody_part(void *arg, const cdz_score *q, int64_t start_tick, int32_t steps_per_bar) {
    melody_ctx *c = arg;
    part pt = {q, start_tick, steps_per_bar, q->n_tempos ? q->tempos[0].qpm : 120.0, 4, 4};
    if (q->n_time_sigs) pt.numerator = q->time_sigs[0].numerator, pt.denominator = q->time_sigs[0].denominator;
    return extract_part(&pt, c->p, &c->list, c->stats);
}

cdz_status cdz_extract_melodies(const cdz_score *s, const cdz_melody_params *p, cdz_melody **out, size_t *n,
                                cdz_extract_stats *stats, cdz_error *err) {
    *out = NULL;
    *n = 0;
    cdz_extract_stats ignored = {0};
    if (!stats) stats = &ignored;
    if (p->steps_per_quarter <= 0 || p->min_bars < 0 || p->max_steps < 0 || !(p->gap_bars > 0))
        return cdz_error_set(err, CDZ_ERR_ARG, "melody extraction: invalid parameters");
    if (s->ppq <= 0)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "melody extraction needs ticks per quarter note (SMPTE timing)");
    melody_ctx ctx = {p, {NULL, 0, 0}, stats};
    cdz_status st = cdz_extract_each_part(s, p->steps_per_quarter, p->steps_per_bar, melody_part, &ctx, stats);
    melody_list list = ctx.list;
    if (st != CDZ_OK) {
        cdz_melodies_free(list.v, list.n);
        return cdz_error_set(err, st, "melody extraction: %s", cdz_status_str(st));
    }
    *out = list.v;
    *n = list.n;
    return CDZ_OK;
}

void cdz_melodies_free(cdz_melody *m, size_t n) {
    if (!m) return;
    for (size_t i = 0; i < n; i++) cdz_free(m[i].events);
    cdz_free(m);
}

/* Melody.get_major_key: each note votes for the 7 major keys that contain it; the first best wins. */
static int major_key(const cdz_melody *m) {
    static const int scale[7] = {0, 2, 4, 5, 7, 9, 11};
    int64_t hist[12] = {0}, votes[12] = {0};
    for (size_t i = 0; i < m->n_steps; i++)
        if (m->events[i] >= 0) hist[m->events[i] % 12]++;
    for (int pc = 0; pc < 12; pc++)
        for (int k = 0; k < 7; k++) votes[pymod(pc - scale[k], 12)] += hist[pc];
    int best = 0;
    for (int k = 1; k < 12; k++)
        if (votes[k] > votes[best]) best = k;
    return best;
}

int cdz_melody_squash(cdz_melody *m, int min_note, int max_note, int key) {
    int lo = 128, hi = -1;
    for (size_t i = 0; i < m->n_steps; i++)
        if (m->events[i] >= 0) {
            if (m->events[i] < lo) lo = m->events[i];
            if (m->events[i] > hi) hi = m->events[i];
        }
    if (hi < 0) return 0;
    int key_diff = key - major_key(m);
    double centre = (lo + hi) / 2.0, target = (min_note + max_note - 1) / 2.0;
    double centre_diff = target - (centre + key_diff);
    /* Python's round() rounds halves to even; rint does the same in the default rounding mode. */
    int amount = key_diff + 12 * (int)rint(centre_diff / 12.0);
    for (size_t i = 0; i < m->n_steps; i++) {
        if (m->events[i] < 0) continue;
        int v = m->events[i] + amount;
        if (v < min_note) v = min_note + pymod(v - min_note, 12);
        else if (v >= max_note) v = max_note - 12 + pymod(v - max_note, 12);
        m->events[i] = (int16_t)v;
    }
    return amount;
}

cdz_status cdz_melody_to_score(const cdz_melody *m, double qpm, uint8_t velocity, uint8_t program, cdz_score *out,
                               cdz_error *err) {
    int32_t spq = m->steps_per_quarter > 0 ? m->steps_per_quarter : 4;
    int64_t tps = 120; /* ticks per step: 480 per quarter at 4 steps per quarter */
    cdz_status st = cdz_score_init(out, (int32_t)(spq * tps), err);
    if (st) return st;
    if (qpm <= 0) qpm = m->qpm > 0 ? m->qpm : 120.0;
    if (velocity < 1 || velocity > 127) velocity = 100;
    program &= 0x7F;
    st = cdz_score_add_tempo(out, 0, qpm);
    /* the melody's own time signature when it has one that fits its bar; else a bar of steps_per_bar
     * steps is steps_per_bar / spq quarters (16 steps of 4 per quarter: 4/4), or in eighths when it is
     * not a whole number of quarters (6 steps of 4 per quarter: 3/8) */
    if (!st && m->numerator && m->denominator && m->steps_per_bar > 0 &&
        (int64_t)m->numerator * spq * 4 == (int64_t)m->steps_per_bar * m->denominator)
        st = cdz_score_add_time_signature(out, 0, m->numerator, m->denominator);
    else if (!st && m->steps_per_bar > 0 && m->steps_per_bar % spq == 0 && m->steps_per_bar / spq <= 255)
        st = cdz_score_add_time_signature(out, 0, (uint8_t)(m->steps_per_bar / spq), 4);
    else if (!st && m->steps_per_bar > 0 && (m->steps_per_bar * 2) % spq == 0 && m->steps_per_bar * 2 / spq <= 255)
        st = cdz_score_add_time_signature(out, 0, (uint8_t)(m->steps_per_bar * 2 / spq), 8);
    int pitch = -1;
    size_t start = 0;
    for (size_t i = 0; i <= m->n_steps && !st; i++) {
        int e = i < m->n_steps ? m->events[i] : CDZ_MELODY_NOTE_OFF;
        if (e == CDZ_MELODY_NO_EVENT) continue;
        if (pitch >= 0) st = cdz_score_add_note(out, 0, 0, program, (uint8_t)pitch, velocity, (int64_t)start * tps, (int64_t)i * tps);
        pitch = e >= 0 && e <= 127 ? e : -1;
        start = i;
    }
    if (!st) st = cdz_score_finish(out, err);
    if (st) {
        cdz_score_free(out);
        return cdz_error_set(err, st, "melody to score: %s", cdz_status_str(st));
    }
    out->end_tick = (int64_t)m->n_steps * tps;
    out->duration_s = cdz_score_tick_to_seconds(out, out->end_tick);
    return CDZ_OK;
}

/* Score editing: sustain pedal, quantization, transposition, slicing. */
#include "score_internal.h"

#include <math.h>
#include <string.h>
#include <strings.h>

/* ---- sustain (Magenta note_seq.sequences_lib.apply_sustain_control_changes) ---- */

enum { SUS_ON = 0, SUS_OFF = 1, NOTE_ON = 2, NOTE_OFF = 3 }; /* Magenta's order at equal times */

typedef struct sus_event {
    uint16_t track;
    uint8_t channel, type;
    int64_t tick;
    uint32_t note; /* note index for NOTE_ON/NOTE_OFF */
    uint32_t seq;
} sus_event;

static int sus_cmp(const void *pa, const void *pb) {
    const sus_event *a = pa, *b = pb;
    if (a->track != b->track) return a->track < b->track ? -1 : 1;
    if (a->channel != b->channel) return a->channel < b->channel ? -1 : 1;
    if (a->tick != b->tick) return a->tick < b->tick ? -1 : 1;
    if (a->type != b->type) return a->type < b->type ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

#define SUS_BEFORE(x, y) (sus_cmp((x), (y)) < 0)
CDZ_DEFINE_SORT(sort_sus_events, sus_event, SUS_BEFORE)

cdz_status cdz_score_apply_sustain(cdz_score *s, cdz_error *err) {
    size_t n_ev = 0;
    for (size_t i = 0; i < s->n_controls; i++) n_ev += s->controls[i].number == 64;
    if (n_ev == 0) return CDZ_OK;
    if (s->n_notes >= UINT32_MAX / 2)
        return cdz_error_set(err, CDZ_ERR_RANGE, "%zu notes: too many to apply the sustain pedal", s->n_notes);
    for (size_t i = 0; i < s->n_notes; i++) n_ev += s->notes[i].is_drum ? 0 : 2;
    sus_event *ev = cdz_calloc(n_ev, sizeof *ev);
    uint32_t *active = cdz_calloc(s->n_notes + 1, sizeof *active);
    uint8_t *deleted = cdz_calloc(s->n_notes + 1, 1);
    if (!ev || !active || !deleted) {
        cdz_free(ev), cdz_free(active), cdz_free(deleted);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory applying the sustain pedal");
    }
    size_t k = 0;
    /* As Magenta: drums are left alone. */
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *n = &s->notes[i];
        if (n->is_drum) continue;
        ev[k] = (sus_event){n->track, n->channel, NOTE_ON, n->start_tick, (uint32_t)i, (uint32_t)k}, k++;
        ev[k] = (sus_event){n->track, n->channel, NOTE_OFF, n->end_tick, (uint32_t)i, (uint32_t)k}, k++;
    }
    for (size_t i = 0; i < s->n_controls; i++) {
        const cdz_control *c = &s->controls[i];
        if (c->number == 64)
            ev[k] = (sus_event){c->track, c->channel, c->value >= 64 ? SUS_ON : SUS_OFF, c->tick, 0, (uint32_t)k}, k++;
    }
    if (sort_sus_events(ev, n_ev)) {
        cdz_free(ev), cdz_free(active), cdz_free(deleted);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory applying the sustain pedal");
    }
    /* Notes the pedal still holds at the end ring until the last note or pedal event, as in Magenta. */
    int64_t end = 0;
    for (size_t i = 0; i < n_ev; i++)
        if (ev[i].tick > end) end = ev[i].tick;
    size_t n_active = 0;
    int sustained = 0;
    for (size_t i = 0; i < n_ev; i++) {
        const sus_event *e = &ev[i];
        if (i > 0 && (e->track != ev[i - 1].track || e->channel != ev[i - 1].channel)) {
            /* A new instrument: notes still held by the last one's pedal ring to the end. */
            for (size_t a = 0; a < n_active; a++) s->notes[active[a]].end_tick = end;
            n_active = 0;
            sustained = 0;
        }
        size_t kept = 0;
        switch (e->type) {
        case SUS_ON: sustained = 1; break;
        case SUS_OFF:
            sustained = 0;
            for (size_t a = 0; a < n_active; a++) {
                cdz_note *n = &s->notes[active[a]];
                if (n->end_tick < e->tick)
                    n->end_tick = e->tick; /* was held by the pedal: ends now */
                else
                    active[kept++] = active[a];
            }
            n_active = kept;
            break;
        case NOTE_ON:
            if (sustained) {
                /* A re-struck key ends its held note; one left with no length is dropped. */
                for (size_t a = 0; a < n_active; a++) {
                    cdz_note *n = &s->notes[active[a]];
                    if (n->pitch == s->notes[e->note].pitch) {
                        n->end_tick = e->tick;
                        if (n->start_tick == n->end_tick) deleted[active[a]] = 1;
                    } else {
                        active[kept++] = active[a];
                    }
                }
                n_active = kept;
            }
            active[n_active++] = e->note;
            break;
        case NOTE_OFF:
            if (!sustained) {
                for (size_t a = 0; a < n_active; a++)
                    if (active[a] != e->note) active[kept++] = active[a];
                n_active = kept;
            }
            break;
        }
    }
    for (size_t a = 0; a < n_active; a++) s->notes[active[a]].end_tick = end;
    size_t w = 0;
    for (size_t i = 0; i < s->n_notes; i++)
        if (!deleted[i]) s->notes[w++] = s->notes[i];
    s->n_notes = w;
    cdz_free(ev), cdz_free(active), cdz_free(deleted);
    return cdz_score_finish(s, err);
}

/* ---- quantization ---- */

/* Magenta's quantize_to_step with its default cutoff of 0.5: int(x + 0.5). */
static int64_t round_step(double steps) { return (int64_t)floor(steps + 0.5); }

static void fix_empty(cdz_note *n) {
    if (n->end_step == n->start_step) n->end_step++;
}

cdz_status cdz_score_quantize(cdz_score *s, int32_t steps_per_quarter, cdz_error *err) {
    if (steps_per_quarter <= 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "steps per quarter note must be positive, got %d", (int)steps_per_quarter);
    if (s->ppq <= 0) {
        /* SMPTE timing has no quarter notes of its own: use the first tempo (or 120 qpm). */
        double qpm = s->n_tempos ? s->tempos[0].qpm : 120.0;
        for (size_t i = 0; i < s->n_notes; i++)
            if (!(s->notes[i].end_s * steps_per_quarter * qpm / 60.0 < 9e18))
                return cdz_error_set(err, CDZ_ERR_RANGE, "note %zu ends at %g s, too late to quantize", i, s->notes[i].end_s);
        for (size_t i = 0; i < s->n_notes; i++) {
            cdz_note *n = &s->notes[i];
            n->start_step = round_step(n->start_s * steps_per_quarter * qpm / 60.0);
            n->end_step = round_step(n->end_s * steps_per_quarter * qpm / 60.0);
            fix_empty(n);
        }
    } else {
        /* Integer arithmetic keeps the rounding exact; refuse ticks so large that 2 * tick * steps overflows. */
        for (size_t i = 0; i < s->n_notes; i++) {
            cdz_note *n = &s->notes[i];
            if (n->end_tick > (INT64_MAX - s->ppq) / 2 / steps_per_quarter)
                return cdz_error_set(err, CDZ_ERR_RANGE, "note %zu ends at tick %lld, too late to quantize", i,
                                     (long long)n->end_tick);
        }
        int64_t ppq = s->ppq, spq = steps_per_quarter;
        for (size_t i = 0; i < s->n_notes; i++) {
            cdz_note *n = &s->notes[i];
            /* floor(tick * spq / ppq + 1/2) = floor((2 * tick * spq + ppq) / (2 * ppq)) */
            n->start_step = (2 * n->start_tick * spq + ppq) / (2 * ppq);
            n->end_step = (2 * n->end_tick * spq + ppq) / (2 * ppq);
            fix_empty(n);
        }
    }
    s->quantization = CDZ_QUANTIZE_PER_QUARTER;
    s->steps_per_quarter = steps_per_quarter;
    s->steps_per_second = 0;
    return CDZ_OK;
}

cdz_status cdz_score_quantize_per_second(cdz_score *s, int32_t steps_per_second, cdz_error *err) {
    if (steps_per_second <= 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "steps per second must be positive, got %d", (int)steps_per_second);
    for (size_t i = 0; i < s->n_notes; i++) {
        cdz_note *n = &s->notes[i];
        if (!(n->end_s * steps_per_second < 9e18))
            return cdz_error_set(err, CDZ_ERR_RANGE, "note %zu ends at %g s, too late to quantize", i, n->end_s);
        n->start_step = round_step(n->start_s * steps_per_second);
        n->end_step = round_step(n->end_s * steps_per_second);
        fix_empty(n);
    }
    s->quantization = CDZ_QUANTIZE_PER_SECOND;
    s->steps_per_second = steps_per_second;
    s->steps_per_quarter = 0;
    return CDZ_OK;
}

/* ---- time stretch ---- */

cdz_status cdz_score_stretch(cdz_score *s, double factor, cdz_error *err) {
    if (!(factor >= 0.1 && factor <= 10))
        return cdz_error_set(err, CDZ_ERR_ARG, "stretch factor %g: expected 0.1 to 10", factor);
    if (s->smpte_seconds_per_tick > 0) {
        s->smpte_seconds_per_tick *= factor;
    } else {
        if (s->n_tempos == 0 || s->tempos[0].tick > 0) {
            /* Make the default 120 qpm explicit so it stretches too. */
            if (cdz_grow((void **)&s->tempos, &s->cap_tempos, s->n_tempos + 1, sizeof *s->tempos))
                return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory stretching a score");
            memmove(s->tempos + 1, s->tempos, s->n_tempos * sizeof *s->tempos);
            s->tempos[0] = (cdz_tempo){.tick = 0, .usec_per_quarter = 500000};
            s->n_tempos++;
        }
        for (size_t i = 0; i < s->n_tempos; i++) {
            double u = floor(s->tempos[i].usec_per_quarter * factor + 0.5);
            s->tempos[i].usec_per_quarter = u < 1 ? 1 : u > 0xFFFFFF ? 0xFFFFFF : (uint32_t)u;
        }
    }
    score_fill_seconds(s);
    return CDZ_OK;
}

/* The nearest tick of `seconds` at one tempo of qpm with ppq ticks a quarter. */
static int64_t tick_at(double seconds, double qpm, int32_t ppq) {
    double t = floor(seconds * qpm / 60.0 * ppq + 0.5);
    return t < 0 ? 0 : t > 9e15 ? (int64_t)9e15 : (int64_t)t;
}

cdz_status cdz_score_retime(cdz_score *s, double qpm, cdz_error *err) {
    if (!(qpm >= 1 && qpm <= 1000)) return cdz_error_set(err, CDZ_ERR_ARG, "tempo %g qpm: expected 1 to 1000", qpm);
    if (s->ppq <= 0) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "a score with SMPTE timing has no tempo to set");
    for (size_t i = 0; i < s->n_notes; i++) {
        cdz_note *n = &s->notes[i];
        int64_t a = tick_at(n->start_s, qpm, s->ppq), b = tick_at(n->end_s, qpm, s->ppq);
        n->start_tick = a, n->end_tick = b > a || n->end_s <= n->start_s ? b : a + 1;
    }
    for (size_t i = 0; i < s->n_controls; i++) s->controls[i].tick = tick_at(s->controls[i].time_s, qpm, s->ppq);
    for (size_t i = 0; i < s->n_bends; i++) s->bends[i].tick = tick_at(s->bends[i].time_s, qpm, s->ppq);
    for (size_t i = 0; i < s->n_time_sigs; i++) s->time_sigs[i].tick = tick_at(s->time_sigs[i].time_s, qpm, s->ppq);
    for (size_t i = 0; i < s->n_key_sigs; i++) s->key_sigs[i].tick = tick_at(s->key_sigs[i].time_s, qpm, s->ppq);
    s->n_tempos = 0;
    double end_s = s->duration_s;
    s->end_tick = 0; /* recounted from the new ticks */
    cdz_status st = cdz_score_add_tempo(s, 0, qpm);
    if (st == CDZ_OK) st = cdz_score_finish(s, err);
    else cdz_error_set(err, st, "out of memory setting a tempo");
    if (st == CDZ_OK && tick_at(end_s, qpm, s->ppq) > s->end_tick) { /* keep trailing silence */
        s->end_tick = tick_at(end_s, qpm, s->ppq);
        s->duration_s = cdz_score_tick_to_seconds(s, s->end_tick);
    }
    return st;
}

cdz_status cdz_score_set_meter(cdz_score *s, uint8_t numerator, uint8_t denominator, cdz_error *err) {
    if (numerator < 1 || denominator < 1 || (denominator & (denominator - 1)) != 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "time signature %u/%u: expected a denominator that is a power of two",
                             numerator, denominator);
    s->n_time_sigs = 0;
    cdz_status st = cdz_score_add_time_signature(s, 0, numerator, denominator);
    int64_t end = s->end_tick;
    if (st == CDZ_OK) st = cdz_score_finish(s, err);
    else cdz_error_set(err, st, "out of memory setting a time signature");
    if (st == CDZ_OK && end > s->end_tick) {
        s->end_tick = end;
        s->duration_s = cdz_score_tick_to_seconds(s, end);
    }
    return st;
}

/* ---- transposition ---- */

cdz_status cdz_score_transpose(cdz_score *s, int semitones, cdz_error *err) {
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *n = &s->notes[i];
        int p = n->pitch + semitones;
        if (!n->is_drum && (p < 0 || p > 127))
            return cdz_error_set(err, CDZ_ERR_RANGE, "transposing by %d moves note %zu (pitch %u) out of 0-127",
                                 semitones, i, n->pitch);
    }
    for (size_t i = 0; i < s->n_notes; i++)
        if (!s->notes[i].is_drum) s->notes[i].pitch = (uint8_t)(s->notes[i].pitch + semitones);
    if (score_sort(s) != CDZ_OK) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory sorting a score");
    return CDZ_OK;
}

/* ---- selection ---- */

void cdz_score_keep_programs(cdz_score *s, int lo, int hi) {
    size_t k = 0;
    for (size_t i = 0; i < s->n_notes; i++)
        if (s->notes[i].is_drum || (s->notes[i].program >= lo && s->notes[i].program <= hi)) s->notes[k++] = s->notes[i];
    s->n_notes = k; /* order is kept, so the list stays sorted */
}

/* Whether `name` is one of the comma-separated names in `list`, ignoring case. */
static int name_listed(const char *name, const char *list) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncasecmp(p, name, n) == 0) return 1;
        p += len + (end ? 1 : 0);
    }
    return 0;
}

void cdz_score_keep_tracks(cdz_score *s, const char *names) {
    size_t k = 0;
    for (size_t i = 0; i < s->n_notes; i++) {
        uint16_t t = s->notes[i].track;
        if (t < s->n_tracks && name_listed(s->tracks[t].name, names)) s->notes[k++] = s->notes[i];
    }
    s->n_notes = k;
}

cdz_status cdz_score_single_tempo(cdz_score *s, cdz_error *err) {
    if (s->n_tempos <= 1) return CDZ_OK;
    s->n_tempos = 1;
    s->tempos[0].tick = 0;
    return cdz_score_finish(s, err);
}

/* ---- slicing ---- */

/* Copies the timed items of one list that lie in [start, end) (and, if `carry`, the last one before
 * start, moved to start) into a new list shifted by -start. */
static cdz_status slice_list(void **dst, size_t *n_dst, size_t *cap_dst, const void *src, size_t n, size_t size,
                             int64_t start, int64_t end, int carry) {
    *dst = NULL;
    *n_dst = *cap_dst = 0;
    const char *p = src;
    size_t first = 0;
    while (first < n && *(const int64_t *)(p + first * size) < start) first++;
    size_t from = carry && first > 0 ? first - 1 : first;
    /* With `carry`, an item exactly at start replaces the carried one. */
    if (carry && first > 0 && first < n && *(const int64_t *)(p + first * size) == start) from = first;
    size_t to = first;
    while (to < n && *(const int64_t *)(p + to * size) < end) to++;
    if (to <= from) return CDZ_OK;
    size_t count = to - from;
    char *q = cdz_calloc(count, size);
    if (!q) return CDZ_ERR_NOMEM;
    memcpy(q, p + from * size, count * size);
    for (size_t i = 0; i < count; i++) {
        int64_t *tick = (int64_t *)(q + i * size);
        *tick = *tick < start ? 0 : *tick - start;
    }
    *dst = q;
    *n_dst = *cap_dst = count;
    return CDZ_OK;
}

cdz_status cdz_score_slice_ticks(cdz_score *out, const cdz_score *s, int64_t start, int64_t end, cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (start < 0 || end < start)
        return cdz_error_set(err, CDZ_ERR_ARG, "slice [%lld, %lld): expected 0 <= start <= end", (long long)start,
                             (long long)end);
    out->ppq = s->ppq;
    out->smpte_division = s->smpte_division;
    out->smpte_seconds_per_tick = s->smpte_seconds_per_tick;
    cdz_status st = score_ensure_tracks(out, s->n_tracks);
    if (st == CDZ_OK && s->n_tracks) memcpy(out->tracks, s->tracks, s->n_tracks * sizeof *s->tracks);
    if (st == CDZ_OK)
        st = slice_list((void **)&out->tempos, &out->n_tempos, &out->cap_tempos, s->tempos, s->n_tempos, sizeof *s->tempos, start, end, 1);
    if (st == CDZ_OK)
        st = slice_list((void **)&out->time_sigs, &out->n_time_sigs, &out->cap_time_sigs, s->time_sigs, s->n_time_sigs,
                        sizeof *s->time_sigs, start, end, 1);
    if (st == CDZ_OK)
        st = slice_list((void **)&out->key_sigs, &out->n_key_sigs, &out->cap_key_sigs, s->key_sigs, s->n_key_sigs,
                        sizeof *s->key_sigs, start, end, 1);
    if (st == CDZ_OK)
        st = slice_list((void **)&out->controls, &out->n_controls, &out->cap_controls, s->controls, s->n_controls,
                        sizeof *s->controls, start, end, 0);
    if (st == CDZ_OK)
        st = slice_list((void **)&out->bends, &out->n_bends, &out->cap_bends, s->bends, s->n_bends, sizeof *s->bends,
                        start, end, 0);
    for (size_t i = 0; i < s->n_notes && st == CDZ_OK; i++) {
        cdz_note n = s->notes[i];
        if (n.start_tick < start || n.start_tick >= end) continue;
        n.start_tick -= start;
        n.end_tick = (n.end_tick < end ? n.end_tick : end) - start;
        n.start_step = n.end_step = -1;
        if (cdz_grow((void **)&out->notes, &out->cap_notes, out->n_notes + 1, sizeof n)) st = CDZ_ERR_NOMEM;
        else out->notes[out->n_notes++] = n;
    }
    if (st == CDZ_OK) {
        int64_t last = end < s->end_tick ? end : s->end_tick;
        out->end_tick = last > start ? last - start : 0;
        st = score_sort(out);
    }
    if (st != CDZ_OK) {
        cdz_score_free(out);
        return cdz_error_set(err, st, "out of memory slicing a score");
    }
    score_fill_seconds(out);
    return CDZ_OK;
}

cdz_status cdz_score_slice_seconds(cdz_score *out, const cdz_score *s, double start, double end, cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (!(start >= 0) || !(end >= start))
        return cdz_error_set(err, CDZ_ERR_ARG, "slice [%g s, %g s): expected 0 <= start <= end", start, end);
    return cdz_score_slice_ticks(out, s, cdz_score_seconds_to_tick(s, start), cdz_score_seconds_to_tick(s, end), err);
}

cdz_status cdz_score_slice_bars(cdz_score *out, const cdz_score *s, int64_t first_bar, int64_t end_bar, cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (s->ppq <= 0)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "slicing by bars needs ticks per quarter note (this score uses SMPTE time)");
    if (first_bar < 0 || end_bar < first_bar)
        return cdz_error_set(err, CDZ_ERR_ARG, "bars [%lld, %lld): expected 0 <= first <= end", (long long)first_bar,
                             (long long)end_bar);
    return cdz_score_slice_ticks(out, s, cdz_score_bar_to_tick(s, first_bar), cdz_score_bar_to_tick(s, end_bar), err);
}

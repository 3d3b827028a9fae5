/* The note sequence: construction, sorting, the tempo map and time conversion. */
#include "score_internal.h"

#include <math.h>
#include <string.h>

cdz_status cdz_score_init(cdz_score *s, int32_t ppq, cdz_error *err) {
    memset(s, 0, sizeof *s);
    if (ppq <= 0 || ppq > 0x7FFF)
        return cdz_error_set(err, CDZ_ERR_ARG, "ticks per quarter note %d: expected 1 to 32767", (int)ppq);
    s->ppq = ppq;
    return CDZ_OK;
}

void cdz_score_free(cdz_score *s) {
    if (!s) return;
    cdz_free(s->notes);
    cdz_free(s->tempos);
    cdz_free(s->time_sigs);
    cdz_free(s->key_sigs);
    cdz_free(s->controls);
    cdz_free(s->bends);
    cdz_free(s->tracks);
    memset(s, 0, sizeof *s);
}

/* Copies n items of `size` bytes into a new exactly-sized array (NULL for n == 0). */
static cdz_status dup_array(void **dst, size_t *cap, const void *src, size_t n, size_t size) {
    *dst = NULL;
    *cap = 0;
    if (n == 0) return CDZ_OK;
    size_t bytes;
    if (!cdz_mul_ok(n, size, &bytes)) return CDZ_ERR_NOMEM;
    void *p = cdz_malloc(bytes);
    if (!p) return CDZ_ERR_NOMEM;
    memcpy(p, src, bytes);
    *dst = p;
    *cap = n;
    return CDZ_OK;
}

cdz_status cdz_score_copy(cdz_score *dst, const cdz_score *src, cdz_error *err) {
    *dst = *src;
    dst->notes = NULL;
    dst->tempos = NULL;
    dst->time_sigs = NULL;
    dst->key_sigs = NULL;
    dst->controls = NULL;
    dst->bends = NULL;
    dst->tracks = NULL;
    size_t track_cap;
    if (dup_array((void **)&dst->notes, &dst->cap_notes, src->notes, src->n_notes, sizeof *src->notes) ||
        dup_array((void **)&dst->tempos, &dst->cap_tempos, src->tempos, src->n_tempos, sizeof *src->tempos) ||
        dup_array((void **)&dst->time_sigs, &dst->cap_time_sigs, src->time_sigs, src->n_time_sigs, sizeof *src->time_sigs) ||
        dup_array((void **)&dst->key_sigs, &dst->cap_key_sigs, src->key_sigs, src->n_key_sigs, sizeof *src->key_sigs) ||
        dup_array((void **)&dst->controls, &dst->cap_controls, src->controls, src->n_controls, sizeof *src->controls) ||
        dup_array((void **)&dst->bends, &dst->cap_bends, src->bends, src->n_bends, sizeof *src->bends) ||
        dup_array((void **)&dst->tracks, &track_cap, src->tracks, src->n_tracks, sizeof *src->tracks)) {
        cdz_score_free(dst);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory copying a score of %zu notes", src->n_notes);
    }
    return CDZ_OK;
}

cdz_status score_ensure_tracks(cdz_score *s, size_t n) {
    if (n <= s->n_tracks) return CDZ_OK;
    if (n > 0xFFFF) return CDZ_ERR_RANGE;
    cdz_track_info *t = cdz_realloc(s->tracks, n * sizeof *t);
    if (!t) return CDZ_ERR_NOMEM;
    memset(t + s->n_tracks, 0, (n - s->n_tracks) * sizeof *t);
    s->tracks = t;
    s->n_tracks = n;
    return CDZ_OK;
}

/* Appends one item to a growable array field. */
#define SCORE_PUSH(s, field, item)                                                                    \
    (cdz_grow((void **)&(s)->field##s, &(s)->cap_##field##s, (s)->n_##field##s + 1, sizeof *(s)->field##s) \
         ? CDZ_ERR_NOMEM                                                                              \
         : ((s)->field##s[(s)->n_##field##s++] = (item), CDZ_OK))

cdz_status cdz_score_add_note(cdz_score *s, uint16_t track, uint8_t channel, uint8_t program, uint8_t pitch,
                              uint8_t velocity, int64_t start_tick, int64_t end_tick) {
    if (channel > 15 || program > 127 || pitch > 127 || velocity < 1 || velocity > 127 || start_tick < 0 ||
        end_tick < start_tick)
        return CDZ_ERR_ARG;
    cdz_status st = score_ensure_tracks(s, (size_t)track + 1);
    if (st != CDZ_OK) return st;
    cdz_note n = {.start_tick = start_tick, .end_tick = end_tick, .start_step = -1, .end_step = -1,
                  .track = track, .channel = channel, .program = program, .pitch = pitch,
                  .velocity = velocity, .is_drum = channel == CDZ_DRUM_CHANNEL};
    return SCORE_PUSH(s, note, n);
}

cdz_status cdz_score_add_tempo(cdz_score *s, int64_t tick, double qpm) {
    if (tick < 0 || !(qpm >= 60e6 / 0xFFFFFF) || !(qpm <= 60e6)) return CDZ_ERR_ARG;
    uint32_t usec = (uint32_t)lround(60e6 / qpm);
    cdz_tempo t = {.tick = tick, .usec_per_quarter = usec, .qpm = 60e6 / usec};
    return SCORE_PUSH(s, tempo, t);
}

cdz_status cdz_score_add_time_signature(cdz_score *s, int64_t tick, uint8_t numerator, uint8_t denominator) {
    if (tick < 0 || numerator == 0 || denominator == 0 || denominator > 128 || (denominator & (denominator - 1)))
        return CDZ_ERR_ARG;
    cdz_time_signature t = {.tick = tick, .numerator = numerator, .denominator = denominator};
    return SCORE_PUSH(s, time_sig, t);
}

cdz_status cdz_score_add_key_signature(cdz_score *s, int64_t tick, int8_t sharps, uint8_t minor) {
    if (tick < 0 || sharps < -7 || sharps > 7 || minor > 1) return CDZ_ERR_ARG;
    cdz_key_signature k = {.tick = tick, .sharps = sharps, .minor = minor};
    return SCORE_PUSH(s, key_sig, k);
}

cdz_status cdz_score_add_control(cdz_score *s, uint16_t track, uint8_t channel, int64_t tick, uint8_t number,
                                 uint8_t value) {
    if (tick < 0 || channel > 15 || number > 127 || value > 127) return CDZ_ERR_ARG;
    cdz_status st = score_ensure_tracks(s, (size_t)track + 1);
    if (st != CDZ_OK) return st;
    cdz_control c = {.tick = tick, .track = track, .channel = channel, .number = number, .value = value};
    return SCORE_PUSH(s, control, c);
}

cdz_status cdz_score_add_pitch_bend(cdz_score *s, uint16_t track, uint8_t channel, int64_t tick, int16_t value) {
    if (tick < 0 || channel > 15 || value < -8192 || value > 8191) return CDZ_ERR_ARG;
    cdz_status st = score_ensure_tracks(s, (size_t)track + 1);
    if (st != CDZ_OK) return st;
    cdz_pitch_bend b = {.tick = tick, .track = track, .channel = channel, .value = value};
    return SCORE_PUSH(s, bend, b);
}

/* ---- ordering ---- */

#define CMP(a, b) (((a) > (b)) - ((a) < (b)))

static inline int note_order(const cdz_note *a, const cdz_note *b) {
    int c;
    if ((c = CMP(a->start_tick, b->start_tick))) return c;
    if ((c = CMP(a->track, b->track))) return c;
    if ((c = CMP(a->channel, b->channel))) return c;
    if ((c = CMP(a->pitch, b->pitch))) return c;
    if ((c = CMP(a->end_tick, b->end_tick))) return c;
    if ((c = CMP(a->velocity, b->velocity))) return c;
    return CMP(a->program, b->program);
}

int score_note_cmp(const void *a, const void *b) { return note_order(a, b); }

#define NOTE_BEFORE(x, y) (note_order((x), (y)) < 0)
#define TICK_BEFORE(x, y) ((x)->tick < (y)->tick)
CDZ_DEFINE_SORT(sort_notes, cdz_note, NOTE_BEFORE)
CDZ_DEFINE_SORT(sort_tempos, cdz_tempo, TICK_BEFORE)
CDZ_DEFINE_SORT(sort_time_sigs, cdz_time_signature, TICK_BEFORE)
CDZ_DEFINE_SORT(sort_key_sigs, cdz_key_signature, TICK_BEFORE)
CDZ_DEFINE_SORT(sort_controls, cdz_control, TICK_BEFORE)
CDZ_DEFINE_SORT(sort_bends, cdz_pitch_bend, TICK_BEFORE)

/* Drops an item equal to the one before it (same tick and value): format 1 files often repeat the
 * conductor events in every track, and one map needs them once. */
#define DEDUPE(list, count, same)                                                     \
    do {                                                                              \
        size_t w_ = 0;                                                                \
        for (size_t i_ = 0; i_ < s->count; i_++) {                                    \
            const void *a_ = w_ ? &s->list[w_ - 1] : NULL, *b_ = &s->list[i_];       \
            if (a_ && same(a_, b_)) continue;                                         \
            s->list[w_++] = s->list[i_];                                              \
        }                                                                             \
        s->count = w_;                                                                \
    } while (0)

static int same_tempo(const void *pa, const void *pb) {
    const cdz_tempo *a = pa, *b = pb;
    return a->tick == b->tick && a->usec_per_quarter == b->usec_per_quarter;
}
static int same_time_sig(const void *pa, const void *pb) {
    const cdz_time_signature *a = pa, *b = pb;
    return a->tick == b->tick && a->numerator == b->numerator && a->denominator == b->denominator;
}
static int same_key_sig(const void *pa, const void *pb) {
    const cdz_key_signature *a = pa, *b = pb;
    return a->tick == b->tick && a->sharps == b->sharps && a->minor == b->minor;
}

cdz_status score_sort(cdz_score *s) {
    /* Notes are ordered by their full key; the rest keep file order at equal ticks (the last tempo at
     * a tick is the one in force). */
    if (sort_notes(s->notes, s->n_notes) || sort_tempos(s->tempos, s->n_tempos) ||
        sort_time_sigs(s->time_sigs, s->n_time_sigs) || sort_key_sigs(s->key_sigs, s->n_key_sigs) ||
        sort_controls(s->controls, s->n_controls) || sort_bends(s->bends, s->n_bends))
        return CDZ_ERR_NOMEM;
    DEDUPE(tempos, n_tempos, same_tempo);
    DEDUPE(time_sigs, n_time_sigs, same_time_sig);
    DEDUPE(key_sigs, n_key_sigs, same_key_sig);
    return CDZ_OK;
}

/* ---- time ---- */

#define DEFAULT_USEC 500000u /* 120 quarter notes per minute, the SMF default */

static double seconds_per_tick(const cdz_score *s, uint32_t usec) { return usec * 1e-6 / s->ppq; }

/* Index of the last tempo at or before `tick`, or -1 if none. */
static ptrdiff_t tempo_at(const cdz_score *s, int64_t tick) {
    size_t lo = 0, hi = s->n_tempos;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->tempos[mid].tick <= tick)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

double cdz_score_tick_to_seconds(const cdz_score *s, int64_t tick) {
    if (s->smpte_seconds_per_tick > 0) return (double)tick * s->smpte_seconds_per_tick;
    if (s->ppq <= 0) return 0.0;
    ptrdiff_t i = tempo_at(s, tick);
    if (i < 0) return (double)tick * seconds_per_tick(s, DEFAULT_USEC);
    const cdz_tempo *t = &s->tempos[i];
    return t->time_s + (double)(tick - t->tick) * seconds_per_tick(s, t->usec_per_quarter);
}

int64_t cdz_score_seconds_to_tick(const cdz_score *s, double seconds) {
    if (!(seconds > 0)) return 0;
    if (s->smpte_seconds_per_tick > 0) return (int64_t)floor(seconds / s->smpte_seconds_per_tick + 0.5);
    if (s->ppq <= 0) return 0;
    /* The last tempo that starts at or before `seconds`. */
    size_t lo = 0, hi = s->n_tempos;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->tempos[mid].time_s <= seconds)
            lo = mid + 1;
        else
            hi = mid;
    }
    int64_t base_tick = 0;
    double base_s = 0.0;
    uint32_t usec = DEFAULT_USEC;
    if (lo > 0) {
        const cdz_tempo *t = &s->tempos[lo - 1];
        base_tick = t->tick;
        base_s = t->time_s;
        usec = t->usec_per_quarter;
    }
    double ticks = (seconds - base_s) / seconds_per_tick(s, usec);
    if (ticks > 9e18) return INT64_MAX;
    return base_tick + (int64_t)floor(ticks + 0.5);
}

/* Fills time_s of every tempo from the one before it. */
static void fill_tempo_times(cdz_score *s) {
    int64_t prev_tick = 0;
    double prev_s = 0.0;
    uint32_t usec = DEFAULT_USEC;
    for (size_t i = 0; i < s->n_tempos; i++) {
        cdz_tempo *t = &s->tempos[i];
        t->time_s = s->smpte_seconds_per_tick > 0 ? (double)t->tick * s->smpte_seconds_per_tick
                                                 : prev_s + (double)(t->tick - prev_tick) * seconds_per_tick(s, usec);
        t->qpm = 60e6 / t->usec_per_quarter;
        prev_tick = t->tick;
        prev_s = t->time_s;
        usec = t->usec_per_quarter;
    }
}

void score_fill_seconds(cdz_score *s) {
    fill_tempo_times(s);
    /* One tempo for the whole piece (most files): seconds are a multiplication. */
    double spt = s->smpte_seconds_per_tick;
    if (!(spt > 0) && s->ppq > 0 && (s->n_tempos == 0 || (s->n_tempos == 1 && s->tempos[0].tick == 0)))
        spt = seconds_per_tick(s, s->n_tempos ? s->tempos[0].usec_per_quarter : DEFAULT_USEC);
    for (size_t i = 0; i < s->n_notes; i++) {
        cdz_note *n = &s->notes[i];
        if (spt > 0) {
            n->start_s = (double)n->start_tick * spt;
            n->end_s = (double)n->end_tick * spt;
        } else {
            n->start_s = cdz_score_tick_to_seconds(s, n->start_tick);
            n->end_s = cdz_score_tick_to_seconds(s, n->end_tick);
        }
        if (n->end_tick > s->end_tick) s->end_tick = n->end_tick;
    }
#define FILL(list, count)                                                        \
    for (size_t i = 0; i < s->count; i++) {                                      \
        s->list[i].time_s = cdz_score_tick_to_seconds(s, s->list[i].tick);       \
        if (s->list[i].tick > s->end_tick) s->end_tick = s->list[i].tick;        \
    }
    FILL(time_sigs, n_time_sigs)
    FILL(key_sigs, n_key_sigs)
    FILL(controls, n_controls)
    FILL(bends, n_bends)
#undef FILL
    if (s->n_tempos && s->tempos[s->n_tempos - 1].tick > s->end_tick) s->end_tick = s->tempos[s->n_tempos - 1].tick;
    s->duration_s = cdz_score_tick_to_seconds(s, s->end_tick);
}

cdz_status cdz_score_finish(cdz_score *s, cdz_error *err) {
    if (score_sort(s) != CDZ_OK) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory sorting a score");
    score_fill_seconds(s);
    return CDZ_OK;
}

int64_t cdz_score_bar_to_tick(const cdz_score *s, int64_t bar) {
    if (s->ppq <= 0 || bar < 0) return -1;
    int64_t tick = 0, first_bar = 0;
    int64_t bar_len = 4 * (int64_t)s->ppq; /* 4/4 until the first time signature */
    for (size_t i = 0; i < s->n_time_sigs; i++) {
        const cdz_time_signature *ts = &s->time_sigs[i];
        if (ts->tick > tick) {
            /* A signature that falls inside a bar starts a new bar there. */
            int64_t bars = (ts->tick - tick + bar_len - 1) / bar_len;
            if (bar < first_bar + bars) break;
            first_bar += bars;
            tick = ts->tick;
        }
        int64_t len = 4 * (int64_t)s->ppq * ts->numerator / ts->denominator;
        bar_len = len > 0 ? len : 1;
    }
    if ((bar - first_bar) > (INT64_MAX - tick) / bar_len) return INT64_MAX;
    return tick + (bar - first_bar) * bar_len;
}

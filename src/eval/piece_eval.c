/* Measures of long multi-instrument pieces (cadenza/piece_eval.h): stability per minute and per bar,
 * style features, and a softmax-regression style classifier with its JSON model file. Every count is
 * made in one or two passes over the notes (sorts aside), so a long piece costs little; sizes that
 * follow from untrusted files (minutes, bars) are capped before anything is allocated for them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cadenza/json.h"
#include "cadenza/piece_eval.h"

/* ==== stability ==== */

/* An instrument's (or pitch's) presence over minutes [m0, m1]. */
typedef struct span_key {
    uint32_t key;
    int32_t m0, m1;
} span_key;

#define SPAN_BEFORE(a, b) ((a)->key != (b)->key ? (a)->key < (b)->key : (a)->m0 < (b)->m0)
CDZ_DEFINE_SORT(sort_spans, span_key, SPAN_BEFORE)

/* A note as a bar's content: what must match for two bars to be the same. */
typedef struct bar_note {
    int64_t bar, onset, dur;
    uint16_t track;
    uint8_t program, drum, pitch;
} bar_note;

static int bar_note_cmp(const bar_note *a, const bar_note *b) {
    if (a->bar != b->bar) return a->bar < b->bar ? -1 : 1;
    if (a->onset != b->onset) return a->onset < b->onset ? -1 : 1;
    if (a->track != b->track) return a->track < b->track ? -1 : 1;
    if (a->program != b->program) return a->program < b->program ? -1 : 1;
    if (a->drum != b->drum) return a->drum < b->drum ? -1 : 1;
    if (a->pitch != b->pitch) return a->pitch < b->pitch ? -1 : 1;
    if (a->dur != b->dur) return a->dur < b->dur ? -1 : 1;
    return 0;
}
#define BAR_NOTE_BEFORE(a, b) (bar_note_cmp((a), (b)) < 0)
CDZ_DEFINE_SORT(sort_bar_notes, bar_note, BAR_NOTE_BEFORE)

static int32_t minute_of(double t, int32_t n_min) {
    double m = floor(t / 60.0);
    if (!(m >= 0)) return 0;
    return m >= (double)n_min ? n_min - 1 : (int32_t)m;
}

/* The minutes a note sounds in: [start, end), a zero-length note at its start. */
static void note_minutes(const cdz_note *nt, int32_t n_min, int32_t *m0, int32_t *m1) {
    *m0 = minute_of(nt->start_s, n_min);
    *m1 = *m0;
    if (nt->end_s > nt->start_s) {
        double last = ceil(nt->end_s / 60.0) - 1;
        int32_t e = last >= (double)n_min ? n_min - 1 : (int32_t)(last > 0 ? last : 0);
        *m1 = e > *m0 ? e : *m0;
    }
}

/* Bar starts as cdz_score_bar_to_tick draws them, for every bar that begins before `end`, and one more
 * (the end of the last): one walk over the signatures instead of a call per bar, so a file with many
 * signatures costs O(bars + signatures). tests/test_piece_eval.c checks the two agree. */
static cdz_status bar_lines(const cdz_score *s, int64_t end, int64_t **out, int64_t *n_bars, cdz_error *err) {
    int64_t *v = NULL;
    size_t n = 0, cap = 0;
    int64_t tick = 0, bar_len = 4 * (int64_t)s->ppq;
    for (size_t i = 0;; i++) {
        int64_t limit = i < s->n_time_sigs ? s->time_sigs[i].tick : INT64_MAX;
        for (int64_t t = tick; t < limit; t += bar_len) {
            if (n > (size_t)CDZ_PIECE_MAX_BARS) {
                cdz_free(v);
                return cdz_error_set(err, CDZ_ERR_RANGE, "the piece has more than %d bars (its notes end at tick %lld)",
                                     CDZ_PIECE_MAX_BARS, (long long)end);
            }
            if (cdz_grow((void **)&v, &cap, n + 1, sizeof *v) != CDZ_OK) {
                cdz_free(v);
                return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %zu bar lines", n + 1);
            }
            v[n++] = t;
            if (t >= end) {
                *out = v;
                *n_bars = (int64_t)n - 1;
                return CDZ_OK;
            }
        }
        if (limit > tick) tick = limit;
        const cdz_time_signature *ts = &s->time_sigs[i]; /* i < n_time_sigs: limit was finite */
        int64_t len = 4 * (int64_t)s->ppq * ts->numerator / (ts->denominator ? ts->denominator : 4);
        bar_len = len > 0 ? len : 1;
    }
}

/* The bar holding tick t: the last start <= t (starts[0] = 0). */
static int64_t bar_of(const int64_t *starts, int64_t n_bars, int64_t t) {
    int64_t lo = 0, hi = n_bars; /* answer in [lo, hi) */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (starts[mid] <= t) lo = mid;
        else hi = mid;
    }
    return lo;
}

static cdz_status bar_measures(const cdz_score *s, int64_t end_tick, cdz_piece_stability *out, cdz_error *err) {
    int64_t *starts = NULL, n_bars = 0;
    int32_t *cover = NULL;
    bar_note *bn = NULL;
    cdz_status st = bar_lines(s, end_tick > 0 ? end_tick : 1, &starts, &n_bars, err);
    if (st != CDZ_OK) return st;
    cover = cdz_calloc((size_t)n_bars + 1, sizeof *cover);
    bn = cdz_calloc(s->n_notes, sizeof *bn);
    if (!cover || !bn) {
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %lld bars of %zu notes", (long long)n_bars, s->n_notes);
        goto fail;
    }
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *nt = &s->notes[i];
        int64_t b0 = bar_of(starts, n_bars, nt->start_tick);
        int64_t b1 = nt->end_tick > nt->start_tick ? bar_of(starts, n_bars, nt->end_tick - 1) : b0;
        cover[b0]++;
        cover[b1 + 1]--;
        bn[i] = (bar_note){b0, nt->start_tick - starts[b0], nt->end_tick - nt->start_tick, nt->track, nt->program,
                           nt->is_drum, nt->pitch};
        if (nt->is_drum) bn[i].program = 0; /* a drum kit's program is not part of what sounds */
    }
    if (sort_bar_notes(bn, s->n_notes) != CDZ_OK) {
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory sorting %zu notes", s->n_notes);
        goto fail;
    }
    out->n_bars = n_bars;
    out->silence_start_bar = out->loop_start_bar = -1;
    int64_t run = 0, level = 0;
    for (int64_t b = 0; b < n_bars; b++) {
        level += cover[b];
        run = level > 0 ? 0 : run + 1;
        if (run > out->longest_silence_bars) out->longest_silence_bars = run, out->silence_start_bar = b - run + 1;
    }
    /* consecutive identical bars: bn is sorted by bar, so each bar's notes are one slice */
    size_t i = 0, prev_lo = 0, prev_hi = 0;
    int64_t prev_bar = -2;
    run = 0;
    while (i < s->n_notes) {
        size_t lo = i;
        int64_t b = bn[i].bar;
        while (i < s->n_notes && bn[i].bar == b) i++;
        int same = prev_bar == b - 1 && prev_hi - prev_lo == i - lo &&
                   starts[b + 1] - starts[b] == starts[b] - starts[b - 1];
        for (size_t k = 0; same && k < i - lo; k++) {
            bar_note a = bn[prev_lo + k];
            a.bar = b; /* the same content one bar later */
            same = bar_note_cmp(&a, &bn[lo + k]) == 0;
        }
        run = same ? run + 1 : 1;
        if (run > out->longest_loop_bars) out->longest_loop_bars = run, out->loop_start_bar = b - run + 1;
        prev_bar = b, prev_lo = lo, prev_hi = i;
    }
fail:
    cdz_free(starts);
    cdz_free(cover);
    cdz_free(bn);
    return st;
}

/* Population coefficient of variation of v[0 .. n) at stride; 0 when n < 2 or the mean is 0. */
static double coef_var(const double *v, size_t n) {
    if (n < 2) return 0;
    double mean = 0, ss = 0;
    for (size_t i = 0; i < n; i++) mean += v[i];
    mean /= (double)n;
    if (mean == 0) return 0;
    for (size_t i = 0; i < n; i++) ss += (v[i] - mean) * (v[i] - mean);
    return sqrt(ss / (double)n) / fabs(mean);
}

cdz_status cdz_piece_stability_compute(const cdz_score *s, cdz_piece_stability *out, cdz_error *err) {
    memset(out, 0, sizeof *out);
    out->lowest = out->highest = -1;
    out->silence_start_bar = out->loop_start_bar = -1;
    if (!s) return cdz_error_set(err, CDZ_ERR_ARG, "no score");
    if (s->n_notes == 0) return CDZ_OK;
    cdz_status st = CDZ_OK;
    cdz_piece_minute *mins = NULL;
    span_key *spans = NULL;
    int32_t *inst_diff = NULL, *pitch_diff = NULL;
    double *cv = NULL;
    double dur = 0;
    int64_t end_tick = 0;
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *nt = &s->notes[i];
        double e = nt->end_s > nt->start_s ? nt->end_s : nt->start_s;
        if (!(e <= 1e300)) return cdz_error_set(err, CDZ_ERR_ARG, "note %zu has no finite time in seconds", i);
        if (e > dur) dur = e;
        int64_t et = nt->end_tick > nt->start_tick ? nt->end_tick : nt->start_tick;
        if (et > end_tick) end_tick = et;
    }
    if (dur / 60.0 > CDZ_PIECE_MAX_MINUTES)
        return cdz_error_set(err, CDZ_ERR_RANGE, "the piece lasts %.0f minutes, more than the %d measured", dur / 60.0,
                             CDZ_PIECE_MAX_MINUTES);
    int32_t n_min = (int32_t)ceil(dur / 60.0);
    if (n_min < 1) n_min = 1;
    const size_t nm = (size_t)n_min;
    mins = cdz_calloc(nm, sizeof *mins);
    spans = cdz_calloc(s->n_notes, sizeof *spans);
    inst_diff = cdz_calloc(nm + 1, sizeof *inst_diff);
    pitch_diff = cdz_calloc(128 * (nm + 1), sizeof *pitch_diff); /* nm <= CDZ_PIECE_MAX_MINUTES */
    cv = cdz_calloc(3 * nm, sizeof *cv);
    if (!mins || !spans || !inst_diff || !pitch_diff || !cv) {
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %d minutes of %zu notes", n_min, s->n_notes);
        goto fail;
    }
    for (int32_t m = 0; m < n_min; m++) {
        mins[m].start_s = 60.0 * m;
        mins[m].end_s = m + 1 < n_min ? 60.0 * (m + 1) : dur;
        mins[m].lowest = mins[m].highest = -1;
    }
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *nt = &s->notes[i];
        int32_t m0, m1;
        note_minutes(nt, n_min, &m0, &m1);
        mins[m0].notes++;
        spans[i] = (span_key){nt->is_drum ? UINT32_MAX : ((uint32_t)nt->track << 8 | nt->program), m0, m1};
        if (!nt->is_drum) {
            int32_t *d = pitch_diff + (size_t)(nt->pitch & 127) * (nm + 1);
            d[m0]++;
            d[m1 + 1]--;
            if (out->lowest < 0 || nt->pitch < out->lowest) out->lowest = nt->pitch;
            if (nt->pitch > out->highest) out->highest = nt->pitch;
        }
    }
    /* distinct instruments per minute: each instrument's minutes as disjoint ranges, counted once */
    if (sort_spans(spans, s->n_notes) != CDZ_OK) {
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory sorting %zu notes", s->n_notes);
        goto fail;
    }
    for (size_t i = 0; i < s->n_notes;) {
        uint32_t key = spans[i].key;
        int32_t done = -1; /* the last minute counted for this instrument */
        out->instruments++;
        for (; i < s->n_notes && spans[i].key == key; i++) {
            int32_t a = spans[i].m0 > done ? spans[i].m0 : done + 1, b = spans[i].m1;
            if (a > b) continue;
            inst_diff[a]++;
            inst_diff[b + 1]--;
            done = b;
        }
    }
    int32_t level = 0;
    size_t n_cv = 0;
    for (int32_t m = 0; m < n_min; m++) {
        cdz_piece_minute *w = &mins[m];
        level += inst_diff[m];
        w->instruments = level;
        double len = w->end_s - w->start_s;
        w->notes_per_s = len > 0 ? (double)w->notes / len : 0;
        for (int p = 0; p < 128; p++) {
            int32_t *d = pitch_diff + (size_t)p * (nm + 1);
            if (m > 0) d[m] += d[m - 1]; /* prefix sums in place: d[m] is now the count sounding */
            if (d[m] > 0) {
                if (w->lowest < 0) w->lowest = p;
                w->highest = p;
            }
        }
        w->span = w->lowest >= 0 ? w->highest - w->lowest : 0;
        if (len >= 30.0 || n_min == 1) {
            cv[n_cv] = w->notes_per_s, cv[nm + n_cv] = w->instruments, cv[2 * nm + n_cv] = w->span;
            n_cv++;
        }
    }
    out->cv_notes_per_s = coef_var(cv, n_cv);
    out->cv_instruments = coef_var(cv + nm, n_cv);
    out->cv_span = coef_var(cv + 2 * nm, n_cv);
    out->n_cv_minutes = n_cv;
    out->n_notes = (int64_t)s->n_notes;
    out->duration_s = dur;
    out->notes_per_s = dur > 0 ? (double)s->n_notes / dur : 0;
    if (s->ppq > 0) {
        st = bar_measures(s, end_tick, out, err);
        if (st != CDZ_OK) goto fail;
    }
    out->minutes = mins;
    out->n_minutes = nm;
    mins = NULL;
fail:
    cdz_free(mins);
    cdz_free(spans);
    cdz_free(inst_diff);
    cdz_free(pitch_diff);
    cdz_free(cv);
    if (st != CDZ_OK) {
        memset(out, 0, sizeof *out);
        out->lowest = out->highest = -1;
        out->silence_start_bar = out->loop_start_bar = -1;
    }
    return st;
}

void cdz_piece_stability_free(cdz_piece_stability *st) {
    if (!st) return;
    cdz_free(st->minutes);
    st->minutes = NULL;
    st->n_minutes = 0;
}

/* ==== style features ==== */

enum {
    F_PC = 0,                  /* 12: pitch-class shares from the key's tonic */
    F_MINOR = F_PC + 12,       /* 1 */
    F_CLARITY,                 /* 1: the best key's correlation */
    F_TOP = F_CLARITY + 1,     /* 13: top-voice |interval| 0 .. 11, 12+ */
    F_PART = F_TOP + 13,       /* 13: within-part |interval| */
    F_LEN = F_PART + 13,       /* 7: note lengths, log2 beats -3 .. 3 */
    F_POS = F_LEN + 7,         /* 5: onsets on the beat, 8th, 16th, triplet, elsewhere */
    F_ONSETS = F_POS + 5,      /* log(1 + distinct onsets per beat) */
    F_NOTES,                   /* log(1 + notes per beat) */
    F_POLY,                    /* log(mean notes sounding at an onset) */
    F_CHROMA,                  /* share of notes outside the key's scale */
    F_ENTROPY,                 /* pitch-class entropy, bits */
    F_RANGE,                   /* (highest - lowest) / 12 */
    F_SPREAD,                  /* sd of pitch / 12 */
    F_QPM,                     /* ln of the mean tempo */
    F_TRIPLE,                  /* 1: the first meter's numerator is a multiple of 3 */
    F_VERT,                    /* 6: share of onsets (of 2+ pitch classes) whose sounding pitch classes hold
                                  interval class 1 .. 6 */
    F_SONORITY = F_VERT + 6,   /* mean distinct pitch classes sounding at an onset */
    F_MODULATION,              /* share of 16-beat windows whose key is not the piece's */
    F_KEY_DISTANCE,            /* their mean distance from it on the circle of fifths / 6 */
    F_END
};
_Static_assert((int)F_END == (int)CDZ_PIECE_N_FEATURES, "the feature table and CDZ_PIECE_N_FEATURES disagree");

const char *cdz_piece_feature_name(int i) {
    static const char *const names[F_END] = {
        "pc_rel_0", "pc_rel_1", "pc_rel_2", "pc_rel_3", "pc_rel_4", "pc_rel_5", "pc_rel_6", "pc_rel_7", "pc_rel_8",
        "pc_rel_9", "pc_rel_10", "pc_rel_11", "key_minor", "key_clarity",
        "top_interval_0", "top_interval_1", "top_interval_2", "top_interval_3", "top_interval_4", "top_interval_5",
        "top_interval_6", "top_interval_7", "top_interval_8", "top_interval_9", "top_interval_10", "top_interval_11",
        "top_interval_12",
        "part_interval_0", "part_interval_1", "part_interval_2", "part_interval_3", "part_interval_4",
        "part_interval_5", "part_interval_6", "part_interval_7", "part_interval_8", "part_interval_9",
        "part_interval_10", "part_interval_11", "part_interval_12",
        "length_le_1_8", "length_1_4", "length_1_2", "length_1", "length_2", "length_4", "length_ge_8",
        "onset_beat", "onset_8th", "onset_16th", "onset_triplet", "onset_other",
        "log_onsets_per_beat", "log_notes_per_beat", "log_polyphony", "chromaticism", "pc_entropy", "pitch_range",
        "pitch_spread", "log_qpm", "triple_meter",
        "vertical_ic_1", "vertical_ic_2", "vertical_ic_3", "vertical_ic_4", "vertical_ic_5", "vertical_ic_6",
        "sonority_size", "modulation", "key_distance"};
    return i >= 0 && i < F_END ? names[i] : NULL;
}

/* A pitched note as the features read it. */
typedef struct fnote {
    int64_t start, end; /* ticks; end >= start + 1 (a zero-length note lasts one tick here) */
    double beat, beats; /* start and length in beats */
    uint32_t part;      /* track << 4 | channel */
    uint8_t pitch;
} fnote;

/* by start, then part, then highest pitch first */
#define FNOTE_BY_TIME(a, b)                                                                                      \
    ((a)->start != (b)->start ? (a)->start < (b)->start                                                        \
                              : (a)->part != (b)->part ? (a)->part < (b)->part : (a)->pitch > (b)->pitch)
CDZ_DEFINE_SORT(sort_by_time, fnote, FNOTE_BY_TIME)
#define FNOTE_BY_PART(a, b)                                                                                      \
    ((a)->part != (b)->part ? (a)->part < (b)->part                                                             \
                            : (a)->start != (b)->start ? (a)->start < (b)->start : (a)->pitch > (b)->pitch)
CDZ_DEFINE_SORT(sort_by_part, fnote, FNOTE_BY_PART)
/* a note's end, for the sweep that keeps what sounds at each onset */
typedef struct fend {
    int64_t end;
    uint8_t pitch;
} fend;
#define FEND_BEFORE(a, b) ((a)->end < (b)->end)
CDZ_DEFINE_SORT(sort_ends, fend, FEND_BEFORE)

/* Krumhansl-Kessler key profiles (Krumhansl 1990, table 2.1), from the tonic up. */
static const double KK_MAJOR[12] = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
static const double KK_MINOR[12] = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17};

static double correlate(const double *profile, const double *h, int tonic) {
    double mp = 0, mh = 0, sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < 12; i++) mp += profile[i], mh += h[(tonic + i) % 12];
    mp /= 12, mh /= 12;
    for (int i = 0; i < 12; i++) {
        double a = profile[i] - mp, b = h[(tonic + i) % 12] - mh;
        sxy += a * b, sxx += a * a, syy += b * b;
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0;
}

/* The best-correlated key of pitch-class weights h: tonic and minor, returning the correlation. */
static double find_key(const double *h, int *tonic, int *minor) {
    double best = -2;
    *tonic = 0, *minor = 0;
    for (int t = 0; t < 12; t++) {
        double r = correlate(KK_MAJOR, h, t), q = correlate(KK_MINOR, h, t);
        if (r > best) best = r, *tonic = t, *minor = 0;
        if (q > best) best = q, *tonic = t, *minor = 1;
    }
    return best;
}

/* Steps between two keys' signatures on the circle of fifths (0 .. 6; a minor key as its relative major). */
static int fifths_apart(int t1, int m1, int t2, int m2) {
    int a = ((t1 + 3 * m1) * 7) % 12, b = ((t2 + 3 * m2) * 7) % 12, d = abs(a - b);
    return d > 6 ? 12 - d : d;
}

/* 0: on the beat, 1: on an 8th, 2: on a 16th, 3: on a triplet 8th or 16th, 4: elsewhere (within 1/96
 * of a beat). */
static int onset_class(double beat) {
    double f = beat - floor(beat);
    static const int div[6] = {1, 2, 4, 3, 6, 12};
    static const int cls[6] = {0, 1, 2, 3, 3, 3};
    for (int k = 0; k < 6; k++) {
        double g = f * div[k];
        if (fabs(g - floor(g + 0.5)) * (1.0 / div[k]) <= 1.0 / 96) return cls[k];
    }
    return 4;
}

static void add_interval(double *hist, int a, int b) {
    int d = abs(a - b);
    hist[d > 12 ? 12 : d] += 1;
}

static void normalise(double *h, size_t n) {
    double t = 0;
    for (size_t i = 0; i < n; i++) t += h[i];
    if (t > 0)
        for (size_t i = 0; i < n; i++) h[i] /= t;
}

cdz_status cdz_piece_features(const cdz_score *s, double *out, cdz_error *err) {
    memset(out, 0, CDZ_PIECE_N_FEATURES * sizeof *out);
    size_t n = 0;
    for (size_t i = 0; i < s->n_notes; i++) n += !s->notes[i].is_drum;
    if (n == 0) return cdz_error_set(err, CDZ_ERR_ARG, "the score has no pitched notes");
    fnote *v = cdz_calloc(n, sizeof *v);
    fend *ends = cdz_calloc(n, sizeof *ends);
    cdz_status st = CDZ_OK;
    if (!v || !ends) {
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for the features of %zu notes", n);
        goto fail;
    }
    /* beats: quarter notes of ticks; SMPTE timing has no beats in the file, so 0.5 s stands in */
    const double per_tick = s->ppq > 0 ? 1.0 / s->ppq : 0;
    size_t k = 0;
    double pc_dur[12] = {0}, pc_count[12] = {0}, psum = 0, psq = 0;
    int lo = 127, hi = 0;
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *nt = &s->notes[i];
        if (nt->is_drum) continue;
        fnote *f = &v[k++];
        f->start = nt->start_tick;
        f->end = nt->end_tick > nt->start_tick ? nt->end_tick : nt->start_tick + 1;
        f->beat = per_tick > 0 ? (double)nt->start_tick * per_tick : 2 * nt->start_s;
        f->beats = per_tick > 0 ? (double)(nt->end_tick - nt->start_tick) * per_tick : 2 * (nt->end_s - nt->start_s);
        f->part = (uint32_t)nt->track << 4 | (nt->channel & 15u);
        f->pitch = nt->pitch & 127;
        pc_dur[f->pitch % 12] += f->beats > 1.0 / 16 ? f->beats : 1.0 / 16; /* a grace note still counts */
        pc_count[f->pitch % 12] += 1;
        psum += f->pitch, psq += (double)f->pitch * f->pitch;
        if (f->pitch < lo) lo = f->pitch;
        if (f->pitch > hi) hi = f->pitch;
        /* length class: log2 of the length in beats, rounded, -3 (1/8 or less) .. 3 (8 or more) */
        int c = f->beats > 0 ? (int)floor(log2(f->beats) + 0.5) : -3;
        out[F_LEN + (c < -3 ? 0 : c > 3 ? 6 : c + 3)] += 1;
    }
    normalise(out + F_LEN, 7);
    /* key */
    int tonic = 0, minor = 0;
    double best = find_key(pc_dur, &tonic, &minor);
    double total = 0, ent = 0, outside = 0;
    for (int i = 0; i < 12; i++) total += pc_dur[i];
    for (int i = 0; i < 12; i++) {
        out[F_PC + i] = pc_dur[(tonic + i) % 12] / total;
        double p = pc_count[i] / (double)n;
        if (p > 0) ent -= p * log2(p);
    }
    /* the major scale, or the natural and harmonic minor together */
    static const int MAJOR_SCALE = 0xAB5, MINOR_SCALE = 0xDAD; /* bits 0 2 4 5 7 9 11; 0 2 3 5 7 8 10 11 */
    int scale = minor ? MINOR_SCALE : MAJOR_SCALE;
    for (int i = 0; i < 12; i++)
        if (!(scale >> i & 1)) outside += pc_count[(tonic + i) % 12];
    out[F_MINOR] = minor;
    out[F_CLARITY] = best;
    out[F_CHROMA] = outside / (double)n;
    out[F_ENTROPY] = ent;
    out[F_RANGE] = (hi - lo) / 12.0;
    double mean = psum / (double)n, var = psq / (double)n - mean * mean;
    out[F_SPREAD] = sqrt(var > 0 ? var : 0) / 12.0;

    /* onsets, top voice, what sounds at each onset, local keys */
    if (sort_by_time(v, n) != CDZ_OK) goto nomem;
    for (size_t i = 0; i < n; i++) ends[i] = (fend){v[i].end, v[i].pitch};
    if (sort_ends(ends, n) != CDZ_OK) goto nomem;
    size_t onsets = 0, ended = 0, chords = 0, windows = 0, moved = 0, apart = 0;
    int32_t sounding[128] = {0};
    double poly = 0, sonority = 0, local[12] = {0};
    int prev_top = -1;
    int64_t window = (int64_t)floor(v[0].beat / 16);
    for (size_t i = 0; i <= n;) {
        /* a 16-beat window ends: its key against the piece's, when it has notes of 3 pitch classes */
        int64_t w = i < n ? (int64_t)floor(v[i].beat / 16) : window + 1;
        if (w != window) {
            int classes = 0, lt, lm;
            for (int c = 0; c < 12; c++) classes += local[c] > 0;
            if (classes >= 3) {
                find_key(local, &lt, &lm);
                windows++;
                moved += lt != tonic || lm != minor;
                apart += (size_t)fifths_apart(lt, lm, tonic, minor);
            }
            memset(local, 0, sizeof local);
            window = w;
        }
        if (i == n) break;
        size_t j = i;
        int top = v[i].pitch;
        while (ended < n && ends[ended].end <= v[i].start) sounding[ends[ended++].pitch]--;
        while (j < n && v[j].start == v[i].start) {
            if (v[j].pitch > top) top = v[j].pitch;
            sounding[v[j].pitch]++;
            local[v[j].pitch % 12] += v[j].beats > 1.0 / 16 ? v[j].beats : 1.0 / 16;
            j++;
        }
        poly += (double)(j - ended); /* notes started by now (j) less those ended */
        unsigned mask = 0;
        for (int q = 0; q < 128; q++)
            if (sounding[q] > 0) mask |= 1u << (q % 12);
        int size = 0;
        for (int c = 0; c < 12; c++) size += mask >> c & 1;
        sonority += size;
        if (size >= 2) {
            chords++;
            for (int ic = 1; ic <= 6; ic++) /* some pitch class and the one ic above it both sound */
                if (mask & ((mask << ic | mask >> (12 - ic)) & 0xFFFu)) out[F_VERT + ic - 1] += 1;
        }
        out[F_POS + onset_class(v[i].beat)] += 1;
        if (prev_top >= 0) add_interval(out + F_TOP, prev_top, top);
        prev_top = top;
        onsets++;
        i = j;
    }
    normalise(out + F_POS, 5);
    normalise(out + F_TOP, 13);
    for (int ic = 0; ic < 6 && chords; ic++) out[F_VERT + ic] /= (double)chords;
    out[F_SONORITY] = sonority / (double)onsets;
    out[F_MODULATION] = windows ? (double)moved / (double)windows : 0;
    out[F_KEY_DISTANCE] = windows ? (double)apart / (6.0 * (double)windows) : 0;
    out[F_POLY] = log(poly / (double)onsets);
    int64_t first = v[0].start, last = ends[n - 1].end;
    double span_beats = per_tick > 0 ? (double)(last - first) * per_tick : 0;
    if (per_tick == 0) {
        double a = 1e300, b = 0;
        for (size_t i = 0; i < n; i++) {
            if (v[i].beat < a) a = v[i].beat;
            if (v[i].beat + v[i].beats > b) b = v[i].beat + v[i].beats;
        }
        span_beats = b - a;
    }
    if (span_beats < 1) span_beats = 1;
    out[F_ONSETS] = log1p((double)onsets / span_beats);
    out[F_NOTES] = log1p((double)n / span_beats);
    /* the mean tempo: beats over seconds from the first onset to the last end */
    double qpm = 120;
    if (s->ppq > 0) {
        double sec = cdz_score_tick_to_seconds(s, last) - cdz_score_tick_to_seconds(s, first);
        if (sec > 0 && span_beats > 0) qpm = (double)(last - first) * per_tick / sec * 60.0;
    }
    if (!(qpm > 1)) qpm = 1;
    if (qpm > 1000) qpm = 1000;
    out[F_QPM] = log(qpm);
    out[F_TRIPLE] = s->n_time_sigs > 0 && s->time_sigs[0].numerator % 3 == 0;

    /* within each part: its highest pitch at each of its onsets */
    if (sort_by_part(v, n) != CDZ_OK) goto nomem;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        prev_top = -1;
        while (j < n && v[j].part == v[i].part) {
            size_t o = j; /* v[o] is the highest at its onset */
            while (j < n && v[j].part == v[o].part && v[j].start == v[o].start) j++;
            if (prev_top >= 0) add_interval(out + F_PART, prev_top, v[o].pitch);
            prev_top = v[o].pitch;
        }
        i = j;
    }
    normalise(out + F_PART, 13);
    goto fail;
nomem:
    st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory sorting %zu notes", n);
fail:
    cdz_free(v);
    cdz_free(ends);
    if (st != CDZ_OK) memset(out, 0, CDZ_PIECE_N_FEATURES * sizeof *out);
    return st;
}

/* ==== the classifier ==== */

cdz_piece_style_params cdz_piece_style_default_params(void) {
    cdz_piece_style_params p = {1e-3, 0, 1000, 1};
    return p;
}

void cdz_piece_style_free(cdz_piece_style_model *m) {
    if (!m) return;
    cdz_free(m->labels);
    cdz_free(m->mean);
    cdz_free(m->scale);
    cdz_free(m->weights);
    cdz_free(m->bias);
    memset(m, 0, sizeof *m);
}

static cdz_status model_alloc(cdz_piece_style_model *m, int32_t K, int32_t F) {
    memset(m, 0, sizeof *m);
    m->n_classes = K, m->n_features = F;
    m->labels = cdz_calloc((size_t)K, sizeof *m->labels);
    m->mean = cdz_calloc((size_t)F, sizeof *m->mean);
    m->scale = cdz_calloc((size_t)F, sizeof *m->scale);
    m->weights = cdz_calloc((size_t)K * (size_t)F, sizeof *m->weights);
    m->bias = cdz_calloc((size_t)K, sizeof *m->bias);
    if (m->labels && m->mean && m->scale && m->weights && m->bias) return CDZ_OK;
    cdz_piece_style_free(m);
    return CDZ_ERR_NOMEM;
}

/* logits = W x + b on standardised x, then softmax in place; returns the arg max (lowest on ties). */
static int32_t softmax_row(const double *W, const double *b, const double *xs, int32_t K, int32_t F, double *p) {
    int32_t arg = 0;
    for (int32_t k = 0; k < K; k++) {
        double z = b[k];
        for (int32_t f = 0; f < F; f++) z += W[(size_t)k * F + f] * xs[f];
        p[k] = z;
        if (z > p[arg]) arg = k;
    }
    double mx = p[arg], sum = 0;
    for (int32_t k = 0; k < K; k++) sum += (p[k] = exp(p[k] - mx));
    for (int32_t k = 0; k < K; k++) p[k] /= sum;
    return arg;
}

/* The mean weighted cross-entropy plus l2/2 |W|^2 at (W, b), its gradient into gW, gb, and the
 * weighted accuracy. */
static double loss_grad(const double *xs, const int32_t *y, const double *w, size_t n, int32_t K, int32_t F,
                        const double *W, const double *b, double l2, double *gW, double *gb, double *p, double *acc) {
    memset(gW, 0, (size_t)K * F * sizeof *gW);
    memset(gb, 0, (size_t)K * sizeof *gb);
    double loss = 0, wsum = 0, right = 0;
    for (size_t i = 0; i < n; i++) {
        const double *x = xs + i * (size_t)F;
        int32_t arg = softmax_row(W, b, x, K, F, p);
        loss -= w[i] * log(p[y[i]] > 1e-300 ? p[y[i]] : 1e-300);
        wsum += w[i];
        right += arg == y[i] ? w[i] : 0;
        for (int32_t k = 0; k < K; k++) {
            double d = w[i] * (p[k] - (k == y[i]));
            gb[k] += d;
            for (int32_t f = 0; f < F; f++) gW[(size_t)k * F + f] += d * x[f];
        }
    }
    double reg = 0;
    for (size_t j = 0; j < (size_t)K * F; j++) {
        gW[j] = gW[j] / wsum + l2 * W[j];
        reg += W[j] * W[j];
    }
    for (int32_t k = 0; k < K; k++) gb[k] /= wsum;
    *acc = right / wsum;
    return loss / wsum + 0.5 * l2 * reg;
}

/* The largest eigenvalue of the weighted second-moment matrix of [x, 1], by power iteration: the
 * softmax loss's curvature is at most half of it (Böhning 1992), so 1 / (that / 2 + l2) is a safe step. */
static double curvature(const double *xs, const double *w, size_t n, int32_t F, double *work) {
    const size_t D = (size_t)F + 1;
    double *G = work, *u = work + D * D, *t = u + D, wsum = 0;
    memset(G, 0, D * D * sizeof *G);
    for (size_t i = 0; i < n; i++) {
        const double *x = xs + i * (size_t)F;
        for (size_t a = 0; a < D; a++) {
            double xa = a < (size_t)F ? x[a] : 1;
            for (size_t c = 0; c < D; c++) G[a * D + c] += w[i] * xa * (c < (size_t)F ? x[c] : 1);
        }
        wsum += w[i];
    }
    for (size_t a = 0; a < D; a++) u[a] = 1.0 / sqrt((double)D);
    double lam = 0;
    for (int it = 0; it < 200; it++) {
        double norm = 0;
        for (size_t a = 0; a < D; a++) {
            double z = 0;
            for (size_t c = 0; c < D; c++) z += G[a * D + c] * u[c];
            t[a] = z / wsum;
            norm += t[a] * t[a];
        }
        norm = sqrt(norm);
        if (!(norm > 0)) break;
        lam = norm;
        for (size_t a = 0; a < D; a++) u[a] = t[a] / norm;
    }
    return lam;
}

cdz_status cdz_piece_style_train(cdz_piece_style_model *m, const double *x, const int32_t *y, size_t n,
                                 const char *const *labels, int32_t n_labels, const cdz_piece_style_params *p,
                                 cdz_error *err) {
    memset(m, 0, sizeof *m);
    cdz_piece_style_params dp = cdz_piece_style_default_params();
    if (!p) p = &dp;
    const int32_t K = n_labels, F = CDZ_PIECE_N_FEATURES;
    if (n == 0 || K < 2) return cdz_error_set(err, CDZ_ERR_ARG, "training needs examples of at least 2 labels (%zu examples, %d labels)", n, K);
    if (K > 4096) return cdz_error_set(err, CDZ_ERR_ARG, "%d labels: at most 4096", K);
    if (!(p->l2 >= 0) || !(p->lr >= 0) || p->steps < 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "bad training settings: l2 %g, lr %g, steps %d", p->l2, p->lr, p->steps);
    for (int32_t k = 0; k < K; k++) {
        size_t len = labels[k] ? strlen(labels[k]) : 0;
        if (len == 0 || len >= CDZ_PIECE_LABEL_MAX || !cdz_json_utf8_valid(labels[k], len))
            return cdz_error_set(err, CDZ_ERR_ARG, "label %d must be valid UTF-8 text of 1 to %d bytes", k,
                                 CDZ_PIECE_LABEL_MAX - 1);
    }
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= K)
            return cdz_error_set(err, CDZ_ERR_ARG, "example %zu has label %d, outside 0 .. %d", i, y[i], K - 1);
        for (int32_t f = 0; f < F; f++)
            if (!isfinite(x[i * (size_t)F + f]))
                return cdz_error_set(err, CDZ_ERR_ARG, "example %zu: feature %s is not a finite number", i,
                                     cdz_piece_feature_name(f));
    }
    size_t nf;
    if (!cdz_mul_ok(n, (size_t)F, &nf)) return cdz_error_set(err, CDZ_ERR_NOMEM, "%zu examples: too many", n);
    if (model_alloc(m, K, F) != CDZ_OK) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for the model");
    const size_t KF = (size_t)K * F, D = (size_t)F + 1;
    double *xs = cdz_calloc(nf, sizeof *xs), *w = cdz_calloc(n, sizeof *w);
    double *buf = cdz_calloc(4 * KF + 4 * (size_t)K + D * D + 2 * D, sizeof *buf);
    double *count = cdz_calloc((size_t)K, sizeof *count);
    cdz_status st = CDZ_OK;
    if (!xs || !w || !buf || !count) {
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory training on %zu examples", n);
        goto fail;
    }
    for (int32_t k = 0; k < K; k++) snprintf(m->labels[k], CDZ_PIECE_LABEL_MAX, "%s", labels[k]);
    /* standardise */
    for (int32_t f = 0; f < F; f++) {
        double mu = 0, ss = 0;
        for (size_t i = 0; i < n; i++) mu += x[i * F + f];
        mu /= (double)n;
        for (size_t i = 0; i < n; i++) ss += (x[i * F + f] - mu) * (x[i * F + f] - mu);
        double sd = sqrt(ss / (double)n);
        m->mean[f] = mu;
        m->scale[f] = sd > 1e-12 ? sd : 1;
        for (size_t i = 0; i < n; i++) xs[i * F + f] = (x[i * F + f] - mu) / m->scale[f];
    }
    for (size_t i = 0; i < n; i++) count[y[i]] += 1;
    for (size_t i = 0; i < n; i++) w[i] = p->balanced ? (double)n / ((double)K * count[y[i]]) : 1;
    double *W = m->weights, *b = m->bias;
    double *gW = buf, *gb = gW + KF, *vW = gb + K, *vb = vW + KF, *yW = vb + K, *yb = yW + KF, *prob = yb + K,
           *pW = prob + K, *work = pW + KF;
    double lr = p->lr;
    if (lr <= 0) lr = 1.0 / (0.5 * curvature(xs, w, n, F, work) + p->l2 + 1e-12);
    /* Nesterov's accelerated gradient for a smooth convex loss (momentum (t - 1) / (t + 2)) */
    double acc = 0;
    memcpy(pW, W, KF * sizeof *W);
    for (int32_t t = 0; t < p->steps; t++) {
        double mom = (double)t / (t + 3.0);
        for (size_t j = 0; j < KF; j++) yW[j] = W[j] + mom * vW[j];
        for (int32_t k = 0; k < K; k++) yb[k] = b[k] + mom * vb[k];
        loss_grad(xs, y, w, n, K, F, yW, yb, p->l2, gW, gb, prob, &acc);
        for (size_t j = 0; j < KF; j++) {
            double nw = yW[j] - lr * gW[j];
            vW[j] = nw - W[j];
            W[j] = nw;
        }
        for (int32_t k = 0; k < K; k++) {
            double nb = yb[k] - lr * gb[k];
            vb[k] = nb - b[k];
            b[k] = nb;
        }
    }
    m->train_loss = loss_grad(xs, y, w, n, K, F, W, b, p->l2, gW, gb, prob, &acc);
    m->train_accuracy = acc;
    m->n_train = (int64_t)n;
    for (size_t j = 0; j < KF; j++)
        if (!isfinite(W[j])) {
            st = cdz_error_set(err, CDZ_ERR_RANGE, "training diverged (step size %g too large)", lr);
            goto fail;
        }
fail:
    cdz_free(xs);
    cdz_free(w);
    cdz_free(buf);
    cdz_free(count);
    if (st != CDZ_OK) cdz_piece_style_free(m);
    return st;
}

int32_t cdz_piece_style_predict(const cdz_piece_style_model *m, const double *x, double *prob) {
    double xs[CDZ_PIECE_N_FEATURES], pbuf[64], *p = prob;
    const int32_t F = m->n_features < CDZ_PIECE_N_FEATURES ? m->n_features : CDZ_PIECE_N_FEATURES;
    for (int32_t f = 0; f < F; f++) xs[f] = (x[f] - m->mean[f]) / m->scale[f];
    if (!p) {
        if (m->n_classes <= 64) {
            p = pbuf;
        } else { /* no room for the probabilities: the arg max of the logits is the same */
            int32_t arg = 0;
            double bz = -HUGE_VAL;
            for (int32_t k = 0; k < m->n_classes; k++) {
                double z = m->bias[k];
                for (int32_t f = 0; f < F; f++) z += m->weights[(size_t)k * m->n_features + f] * xs[f];
                if (z > bz) bz = z, arg = k;
            }
            return arg;
        }
    }
    return softmax_row(m->weights, m->bias, xs, m->n_classes, F, p);
}

/* ---- the model file ---- */

typedef struct text {
    char *s;
    size_t n, cap;
    int failed;
} text;

static void put(text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void put(text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            t->failed = 1;
            return;
        }
        if (t->s && (size_t)k < t->cap - t->n) {
            t->n += (size_t)k;
            return;
        }
        if (cdz_grow((void **)&t->s, &t->cap, t->n + (size_t)k + 1, 1) != CDZ_OK) {
            t->failed = 1;
            return;
        }
    }
}

static void put_string(text *t, const char *s) {
    char buf[2 * CDZ_PIECE_LABEL_MAX * 6 + 8];
    cdz_json_quote(buf, sizeof buf, s);
    put(t, "%s", buf);
}

static void put_numbers(text *t, const double *v, size_t n) {
    put(t, "[");
    for (size_t i = 0; i < n; i++) put(t, "%s%.17g", i ? ", " : "", v[i]);
    put(t, "]");
}

cdz_status cdz_piece_style_save(const cdz_piece_style_model *m, const char *path, cdz_error *err) {
    const int32_t K = m->n_classes, F = m->n_features;
    if (F != CDZ_PIECE_N_FEATURES || K < 2)
        return cdz_error_set(err, CDZ_ERR_ARG, "%s: not a trained model (%d labels, %d features)", path, K, F);
    for (size_t j = 0; j < (size_t)K * F; j++)
        if (!isfinite(m->weights[j])) return cdz_error_set(err, CDZ_ERR_ARG, "%s: the model has non-finite weights", path);
    text t = {0};
    put(&t, "{\n  \"format\": \"cadenza-style\",\n  \"version\": 1,\n  \"features\": [");
    for (int32_t f = 0; f < F; f++) {
        put(&t, "%s", f ? ", " : "");
        put_string(&t, cdz_piece_feature_name(f));
    }
    put(&t, "],\n  \"labels\": [");
    for (int32_t k = 0; k < K; k++) {
        put(&t, "%s", k ? ", " : "");
        put_string(&t, m->labels[k]);
    }
    put(&t, "],\n  \"mean\": ");
    put_numbers(&t, m->mean, (size_t)F);
    put(&t, ",\n  \"scale\": ");
    put_numbers(&t, m->scale, (size_t)F);
    put(&t, ",\n  \"weights\": [");
    for (int32_t k = 0; k < K; k++) {
        put(&t, "%s\n    ", k ? "," : "");
        put_numbers(&t, m->weights + (size_t)k * F, (size_t)F);
    }
    put(&t, "\n  ],\n  \"bias\": ");
    put_numbers(&t, m->bias, (size_t)K);
    put(&t, ",\n  \"train\": {\"examples\": %lld, \"loss\": %.17g, \"accuracy\": %.17g}\n}\n", (long long)m->n_train,
        isfinite(m->train_loss) ? m->train_loss : 0, isfinite(m->train_accuracy) ? m->train_accuracy : 0);
    cdz_status st;
    if (t.failed) st = cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory writing the model", path);
    else st = cdz_file_write_atomic(path, t.s, t.n, err);
    cdz_free(t.s);
    return st;
}

/* An array of exactly n finite numbers under key. */
static cdz_status get_numbers(const cdz_json *v, const char *key, size_t n, double *out, const char *path,
                              cdz_error *err) {
    if (!v || v->type != CDZ_JSON_ARRAY || v->n != n)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"%s\" must be an array of %zu numbers", path, key, n);
    for (size_t i = 0; i < n; i++) {
        if (v->items[i].type != CDZ_JSON_NUMBER || !isfinite(v->items[i].number))
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"%s\"[%zu] must be a finite number", path, key, i);
        out[i] = v->items[i].number;
    }
    return CDZ_OK;
}

cdz_status cdz_piece_style_load(cdz_piece_style_model *m, const char *path, cdz_error *err) {
    memset(m, 0, sizeof *m);
    uint8_t *bytes = NULL;
    size_t len = 0;
    cdz_json *j = NULL;
    cdz_status st = cdz_file_read_all(path, &bytes, &len, err);
    if (st != CDZ_OK) return st;
    st = cdz_json_parse((const char *)bytes, len, path, &j, err);
    cdz_free(bytes);
    if (st != CDZ_OK) return st;
    const cdz_json *feat = cdz_json_get(j, "features"), *lab = cdz_json_get(j, "labels"), *wt = cdz_json_get(j, "weights");
    const char *format = cdz_json_get_string(j, "format", NULL);
    int64_t version = 0;
    if (j->type != CDZ_JSON_OBJECT || !format || strcmp(format, "cadenza-style") != 0) {
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: not a cadenza style model (\"format\": \"cadenza-style\" expected)", path);
        goto fail;
    }
    if ((st = cdz_json_get_int(j, "version", 0, &version, path, err)) != CDZ_OK) goto fail;
    if (version != 1) {
        st = cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: model version %lld; this build reads version 1", path,
                           (long long)version);
        goto fail;
    }
    if (!feat || feat->type != CDZ_JSON_ARRAY || feat->n != CDZ_PIECE_N_FEATURES) {
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"features\" must list this build's %d feature names", path,
                           CDZ_PIECE_N_FEATURES);
        goto fail;
    }
    for (size_t f = 0; f < feat->n; f++) {
        const char *want = cdz_piece_feature_name((int)f);
        if (feat->items[f].type != CDZ_JSON_STRING || strcmp(feat->items[f].string, want) != 0) {
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: feature %zu is %s%s%s, this build's is \"%s\": the model was made "
                                                    "with another feature set",
                               path, f, feat->items[f].type == CDZ_JSON_STRING ? "\"" : "",
                               feat->items[f].type == CDZ_JSON_STRING ? feat->items[f].string : "not a string",
                               feat->items[f].type == CDZ_JSON_STRING ? "\"" : "", want);
            goto fail;
        }
    }
    if (!lab || lab->type != CDZ_JSON_ARRAY || lab->n < 2 || lab->n > 4096) {
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"labels\" must be an array of 2 to 4096 strings", path);
        goto fail;
    }
    const int32_t K = (int32_t)lab->n, F = CDZ_PIECE_N_FEATURES;
    if (model_alloc(m, K, F) != CDZ_OK) {
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory for the model", path);
        goto fail;
    }
    for (int32_t k = 0; k < K; k++) {
        const cdz_json *l = &lab->items[k];
        if (l->type != CDZ_JSON_STRING || l->string_len == 0 || l->string_len >= CDZ_PIECE_LABEL_MAX ||
            strlen(l->string) != l->string_len) {
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"labels\"[%d] must be a string of 1 to %d bytes", path, k,
                               CDZ_PIECE_LABEL_MAX - 1);
            goto fail;
        }
        memcpy(m->labels[k], l->string, l->string_len + 1);
    }
    if ((st = get_numbers(cdz_json_get(j, "mean"), "mean", (size_t)F, m->mean, path, err)) != CDZ_OK) goto fail;
    if ((st = get_numbers(cdz_json_get(j, "scale"), "scale", (size_t)F, m->scale, path, err)) != CDZ_OK) goto fail;
    for (int32_t f = 0; f < F; f++)
        if (!(m->scale[f] > 0)) {
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"scale\"[%d] must be positive", path, f);
            goto fail;
        }
    if ((st = get_numbers(cdz_json_get(j, "bias"), "bias", (size_t)K, m->bias, path, err)) != CDZ_OK) goto fail;
    if (!wt || wt->type != CDZ_JSON_ARRAY || wt->n != (size_t)K) {
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"weights\" must hold one row per label (%d)", path, K);
        goto fail;
    }
    for (int32_t k = 0; k < K; k++) {
        char key[32];
        snprintf(key, sizeof key, "weights[%d]", k);
        if ((st = get_numbers(&wt->items[k], key, (size_t)F, m->weights + (size_t)k * F, path, err)) != CDZ_OK) goto fail;
    }
    const cdz_json *tr = cdz_json_get(j, "train");
    if ((st = cdz_json_get_int(tr, "examples", 0, &m->n_train, path, err)) != CDZ_OK ||
        (st = cdz_json_get_number(tr, "loss", 0, &m->train_loss, path, err)) != CDZ_OK ||
        (st = cdz_json_get_number(tr, "accuracy", 0, &m->train_accuracy, path, err)) != CDZ_OK)
        goto fail;
fail:
    cdz_json_free(j);
    if (st != CDZ_OK) cdz_piece_style_free(m);
    return st;
}

/* Per-file music features (cadenza/metrics.h): pitch, rhythm and texture statistics of one score after
 * Yang & Lerch 2019 (mgeval's features) and MusPy's metrics. Times are taken from ticks wherever the
 * feature is about beats, so tempo changes do not move notes off their beats; the inter-onset interval
 * alone is in seconds, as in the paper. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "cadenza/metrics.h"

const double cdz_metrics_length_classes[12] = {4.0,   2.0,       1.0,       0.5,       0.25,      3.0,
                                               1.5,   0.75,      0.375,     4.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0};

#define FEATURE(field, abbrev, unit)                                                                       \
    {#field, abbrev, unit, sizeof(((cdz_music_features *)0)->field) / sizeof(double),                  \
     offsetof(cdz_music_features, field)}
static const cdz_metrics_feature_info FEATURES[CDZ_METRICS_N_FEATURES] = {
    FEATURE(pitch_count, "PC", "pitches"),
    FEATURE(pitch_classes_used, "", "classes"),
    FEATURE(pitch_class_histogram, "PCH", "share"),
    FEATURE(pitch_class_transitions, "PCTM", "share"),
    FEATURE(pitch_range, "PR", "semitones"),
    FEATURE(pitch_interval, "PI", "semitones"),
    FEATURE(note_count, "NC", "notes"),
    FEATURE(inter_onset_interval, "IOI", "s"),
    FEATURE(note_length_histogram, "NLH", "share"),
    FEATURE(note_length_transitions, "NLTM", "share"),
    FEATURE(polyphony, "", "notes"),
    FEATURE(polyphony_rate, "", "share"),
    FEATURE(pitch_class_entropy, "", "bits"),
    FEATURE(scale_consistency, "", "share"),
    FEATURE(empty_beat_rate, "", "share"),
    FEATURE(groove_consistency, "", "share"),
};

const cdz_metrics_feature_info *cdz_metrics_describe(int feature) {
    return feature >= 0 && feature < CDZ_METRICS_N_FEATURES ? &FEATURES[feature] : NULL;
}

const double *cdz_metrics_values(const cdz_music_features *f, int feature) {
    const cdz_metrics_feature_info *fi = cdz_metrics_describe(feature);
    return fi ? (const double *)(const void *)((const char *)f + fi->offset) : NULL;
}

/* ---- time in beats ---- */
typedef struct beat_clock {
    int64_t ppq; /* > 0: exact integer beats */
    double tpq;  /* ticks per beat */
} beat_clock;

static int64_t beat_floor(const beat_clock *c, int64_t t) {
    return c->ppq > 0 ? t / c->ppq : (int64_t)floor((double)t / c->tpq);
}
static int64_t beat_ceil(const beat_clock *c, int64_t t) {
    return c->ppq > 0 ? (t + c->ppq - 1) / c->ppq : (int64_t)ceil((double)t / c->tpq);
}

/* ---- pitched notes in (onset, pitch) order ---- */
typedef struct pnote {
    int64_t start, end;
    int pitch;
} pnote;
#define PNOTE_BEFORE(a, b) ((a)->start < (b)->start || ((a)->start == (b)->start && (a)->pitch < (b)->pitch))
CDZ_DEFINE_SORT(sort_pnotes, pnote, PNOTE_BEFORE)

typedef struct edge {
    int64_t t;
    int d; /* +1 a note starts, -1 one ends */
} edge;
#define EDGE_BEFORE(a, b) ((a)->t < (b)->t)
CDZ_DEFINE_SORT(sort_edges, edge, EDGE_BEFORE)

static int length_class(double beats) {
    int best = 0;
    for (int k = 1; k < 12; k++)
        if (fabs(beats - cdz_metrics_length_classes[k]) < fabs(beats - cdz_metrics_length_classes[best])) best = k;
    return best;
}

/* Polyphony and polyphony rate by a sweep over the notes' starts and ends (ticks). */
static cdz_status polyphony(const pnote *p, size_t n, cdz_music_features *out) {
    size_t ne;
    if (!cdz_mul_ok(n, 2, &ne)) return CDZ_ERR_NOMEM;
    edge *e = cdz_malloc(ne * sizeof *e);
    if (!e) return CDZ_ERR_NOMEM;
    int64_t last_end = 0;
    for (size_t i = 0; i < n; i++) {
        e[2 * i] = (edge){p[i].start, 1};
        e[2 * i + 1] = (edge){p[i].end, -1};
        if (p[i].end > last_end) last_end = p[i].end;
    }
    if (sort_edges(e, ne) != CDZ_OK) {
        cdz_free(e);
        return CDZ_ERR_NOMEM;
    }
    double sounding = 0, weighted = 0, multiple = 0;
    int64_t count = 0, prev = ne ? e[0].t : 0;
    for (size_t i = 0; i < ne; i++) {
        double dt = (double)(e[i].t - prev);
        if (count > 0) sounding += dt, weighted += (double)count * dt;
        if (count >= 2) multiple += dt;
        count += e[i].d;
        prev = e[i].t;
    }
    cdz_free(e);
    out->polyphony = sounding > 0 ? weighted / sounding : 0;
    out->polyphony_rate = last_end > 0 ? multiple / (double)last_end : 0;
    return CDZ_OK;
}

/* Share of beats in which nothing sounds: the notes come sorted by onset, so the beat ranges they cover
 * start in order and merge in one pass (no per-beat array, however long the score). */
static void empty_beats(const cdz_score *s, const beat_clock *c, cdz_music_features *out) {
    int64_t beats = 0, covered = 0, lo = -1, hi = -2;
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *nt = &s->notes[i];
        int64_t first = beat_floor(c, nt->start_tick);
        int64_t last = nt->end_tick > nt->start_tick ? beat_ceil(c, nt->end_tick) - 1 : first;
        if (last < first) last = first;
        if (last + 1 > beats) beats = last + 1;
        if (first > hi + 1) {
            covered += hi - lo + 1;
            lo = first, hi = last;
        } else if (last > hi) {
            hi = last;
        }
    }
    covered += hi - lo + 1;
    out->empty_beat_rate = beats > 0 ? (double)(beats - covered) / (double)beats : 0;
}

/* ---- groove consistency ---- */
enum { GROOVE_STEPS_PER_BEAT = 12 };

typedef struct bar_segment {
    int64_t start, bar_len, first_bar; /* bars of bar_len ticks from `start` (the last one maybe cut) */
} bar_segment;

typedef struct bar_map {
    bar_segment *seg;
    size_t n;
    const beat_clock *clock;
} bar_map;

static int64_t ts_bar_len(const beat_clock *c, int num, int den) {
    int64_t len = c->ppq > 0 ? 4 * c->ppq * num / den : (int64_t)llround(4.0 * c->tpq * num / den);
    return len > 0 ? len : 1;
}

/* The time signatures as segments of equal bars, following cdz_score_bar_to_tick. */
static cdz_status bar_map_init(bar_map *m, const cdz_score *s, const beat_clock *c) {
    m->clock = c;
    m->n = 0;
    m->seg = cdz_calloc(s->n_time_sigs + 1, sizeof *m->seg);
    if (!m->seg) return CDZ_ERR_NOMEM;
    bar_segment cur = {0, ts_bar_len(c, 4, 4), 0};
    for (size_t i = 0; i < s->n_time_sigs; i++) {
        const cdz_time_signature *ts = &s->time_sigs[i];
        if (ts->tick > cur.start) {
            int64_t bars = (ts->tick - cur.start + cur.bar_len - 1) / cur.bar_len;
            m->seg[m->n++] = cur;
            cur.first_bar += bars;
            cur.start = ts->tick;
        }
        cur.bar_len = ts_bar_len(c, ts->numerator, ts->denominator);
    }
    m->seg[m->n++] = cur;
    return CDZ_OK;
}

/* The segment holding bar `bar` (segments are in order of first_bar). */
static size_t bar_segment_of(const bar_map *m, int64_t bar) {
    size_t lo = 0, hi = m->n; /* first_bar of seg[lo] <= bar */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->seg[mid].first_bar <= bar) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* Length of a bar in positions (a bar cut short by the next signature is shorter). */
static int64_t bar_steps(const bar_map *m, int64_t bar) {
    size_t j = bar_segment_of(m, bar);
    const bar_segment *g = &m->seg[j];
    int64_t start = g->start + (bar - g->first_bar) * g->bar_len, len = g->bar_len;
    if (j + 1 < m->n && m->seg[j + 1].start - start < len) len = m->seg[j + 1].start - start;
    int64_t steps = (int64_t)llround((double)len * GROOVE_STEPS_PER_BEAT / m->clock->tpq);
    return steps > 0 ? steps : 1;
}

typedef struct onset {
    int64_t bar, pos;
} onset;

static double pair_distance(const onset *a, size_t na, const onset *b, size_t nb, int64_t steps) {
    size_t i = 0, j = 0, same = 0;
    while (i < na && j < nb) {
        if (a[i].pos == b[j].pos) same++, i++, j++;
        else if (a[i].pos < b[j].pos) i++;
        else j++;
    }
    return (double)(na + nb - 2 * same) / (double)steps;
}

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

static cdz_status groove(const cdz_score *s, const beat_clock *c, cdz_music_features *out) {
    out->groove_consistency = 1;
    if (s->n_notes == 0) return CDZ_OK;
    bar_map m;
    if (bar_map_init(&m, s, c) != CDZ_OK) return CDZ_ERR_NOMEM;
    onset *on = cdz_calloc(s->n_notes, sizeof *on);
    if (!on) {
        cdz_free(m.seg);
        return CDZ_ERR_NOMEM;
    }
    size_t n = 0, j = 0;
    for (size_t i = 0; i < s->n_notes; i++) {
        int64_t t = s->notes[i].start_tick;
        while (j + 1 < m.n && m.seg[j + 1].start <= t) j++;
        const bar_segment *g = &m.seg[j];
        int64_t bar = g->first_bar + (t - g->start) / g->bar_len;
        int64_t bar_start = g->start + (bar - g->first_bar) * g->bar_len;
        int64_t pos = (int64_t)llround((double)(t - bar_start) * GROOVE_STEPS_PER_BEAT / c->tpq);
        if (pos >= bar_steps(&m, bar)) bar++, pos = 0; /* rounds onto the next bar's downbeat */
        if (n > 0 && on[n - 1].bar == bar && on[n - 1].pos == pos) continue;
        on[n++] = (onset){bar, pos};
    }
    int64_t bars = on[n - 1].bar - on[0].bar + 1;
    if (bars >= 2) {
        double sum = 0;
        size_t a = 0;
        while (a < n) {
            size_t b = a;
            while (b < n && on[b].bar == on[a].bar) b++; /* bar on[a].bar is on[a .. b) */
            if (b == n) break;
            size_t e = b;
            while (e < n && on[e].bar == on[b].bar) e++;
            int64_t ba = on[a].bar, bb = on[b].bar;
            if (bb == ba + 1) {
                sum += pair_distance(on + a, b - a, on + b, e - b, max64(bar_steps(&m, ba), bar_steps(&m, bb)));
            } else { /* empty bars between: only the two pairs next to the filled bars differ */
                sum += (double)(b - a) / (double)max64(bar_steps(&m, ba), bar_steps(&m, ba + 1));
                sum += (double)(e - b) / (double)max64(bar_steps(&m, bb - 1), bar_steps(&m, bb));
            }
            a = b;
        }
        out->groove_consistency = 1 - sum / (double)(bars - 1);
    }
    cdz_free(on);
    cdz_free(m.seg);
    return CDZ_OK;
}

/* ---- pitch features ---- */
static void pitch_features(const pnote *p, size_t n, const beat_clock *c, cdz_music_features *out) {
    if (n == 0) return;
    int used[128] = {0}, lo = 127, hi = 0;
    double pc[12] = {0}, intervals = 0;
    for (size_t i = 0; i < n; i++) {
        int k = p[i].pitch;
        used[k] = 1;
        pc[k % 12] += 1;
        if (k < lo) lo = k;
        if (k > hi) hi = k;
        int cls = length_class((double)(p[i].end - p[i].start) / c->tpq);
        out->note_length_histogram[cls] += 1;
        if (i > 0) {
            int prev_cls = length_class((double)(p[i - 1].end - p[i - 1].start) / c->tpq);
            out->pitch_class_transitions[p[i - 1].pitch % 12][k % 12] += 1;
            out->note_length_transitions[prev_cls][cls] += 1;
            intervals += fabs((double)(k - p[i - 1].pitch));
        }
    }
    for (int k = 0; k < 128; k++) out->pitch_count += used[k];
    out->pitch_range = hi - lo;
    out->pitch_interval = n > 1 ? intervals / (double)(n - 1) : 0;
    double total = (double)n, transitions = (double)(n - 1);
    for (int a = 0; a < 12; a++) {
        out->pitch_classes_used += pc[a] > 0;
        out->pitch_class_histogram[a] = pc[a] / total;
        out->note_length_histogram[a] /= total;
        if (pc[a] > 0) out->pitch_class_entropy -= pc[a] / total * log2(pc[a] / total);
        for (int b = 0; b < 12; b++) {
            if (n > 1) out->pitch_class_transitions[a][b] /= transitions;
            if (n > 1) out->note_length_transitions[a][b] /= transitions;
        }
    }
    out->scale_consistency = cdz_metrics_scale_consistency(pc);
}

double cdz_metrics_scale_consistency(const double pc[12]) {
    double total = 0;
    for (int k = 0; k < 12; k++) total += pc[k];
    if (total <= 0) return 0;
    /* MusPy's scale masks (C major, C natural minor), rotated to each root */
    static const int major[12] = {1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1};
    static const int minor[12] = {1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 0};
    double best = 0;
    for (int root = 0; root < 12; root++) {
        double in_major = 0, in_minor = 0;
        for (int k = 0; k < 12; k++) {
            int d = (k - root + 12) % 12;
            in_major += major[d] * pc[k];
            in_minor += minor[d] * pc[k];
        }
        if (in_major / total > best) best = in_major / total;
        if (in_minor / total > best) best = in_minor / total;
    }
    return best;
}

cdz_status cdz_metrics_compute(const cdz_score *s, cdz_music_features *out, cdz_error *err) {
    if (!s || !out) return cdz_error_set(err, CDZ_ERR_ARG, "metrics: no score or no output");
    memset(out, 0, sizeof *out);
    beat_clock c = {s->ppq > 0 ? s->ppq : 0, 0};
    c.tpq = s->ppq > 0 ? (double)s->ppq : s->smpte_seconds_per_tick > 0 ? 0.5 / s->smpte_seconds_per_tick : 0;
    if (!(c.tpq > 0) || !isfinite(c.tpq))
        return cdz_error_set(err, CDZ_ERR_ARG, "metrics: the score has no time division (ppq %d)", (int)s->ppq);
    out->groove_consistency = 1;
    out->note_count = (double)s->n_notes;
    if (s->n_notes == 0) return CDZ_OK;

    /* inter-onset interval over distinct onsets (the notes are sorted by onset tick) */
    size_t onsets = 1;
    for (size_t i = 1; i < s->n_notes; i++) onsets += s->notes[i].start_tick != s->notes[i - 1].start_tick;
    if (onsets > 1)
        out->inter_onset_interval = (s->notes[s->n_notes - 1].start_s - s->notes[0].start_s) / (double)(onsets - 1);

    empty_beats(s, &c, out);
    cdz_status st = groove(s, &c, out);
    if (st != CDZ_OK) return cdz_error_set(err, st, "metrics: out of memory for %zu notes", s->n_notes);

    pnote *p = cdz_calloc(s->n_notes, sizeof *p);
    if (!p) return cdz_error_set(err, CDZ_ERR_NOMEM, "metrics: out of memory for %zu notes", s->n_notes);
    size_t n = 0;
    for (size_t i = 0; i < s->n_notes; i++)
        if (!s->notes[i].is_drum) p[n++] = (pnote){s->notes[i].start_tick, s->notes[i].end_tick, s->notes[i].pitch};
    st = sort_pnotes(p, n);
    if (st == CDZ_OK) st = polyphony(p, n, out);
    if (st == CDZ_OK) pitch_features(p, n, &c, out);
    cdz_free(p);
    if (st != CDZ_OK) return cdz_error_set(err, st, "metrics: out of memory for %zu notes", s->n_notes);
    return CDZ_OK;
}

cdz_status cdz_metrics_read_file(const char *path, cdz_music_features *out, size_t *n_notes, cdz_error *err) {
    if (n_notes) *n_notes = 0;
    if (!path || !out) return cdz_error_set(err, CDZ_ERR_ARG, "metrics: no path or no output");
    cdz_score s;
    cdz_status st = cdz_score_read_file(&s, path, err);
    if (st != CDZ_OK) return st;
    cdz_error e = {0};
    st = cdz_metrics_compute(&s, out, &e);
    if (st != CDZ_OK) cdz_error_set(err, st, "%s: %s", path, e.msg);
    else if (n_notes) *n_notes = s.n_notes;
    cdz_score_free(&s);
    return st;
}

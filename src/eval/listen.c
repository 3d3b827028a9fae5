/* What a listener hears first (cadenza/listen.h): repetition of bars, the fit of onsets to a beat grid,
 * notes that do not end, and for a melody with an accompaniment, chord fit, its lag curve, clashes and
 * silence where the original plays. Every definition is in the header; the comments here say how. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cadenza/listen.h"

cdz_listen_params cdz_listen_default_params(void) {
    cdz_listen_params p = {
        .count_empty_bars = 0,
        .min_bar_sixteenths = 6,
        .onset_merge_s = 0.025,
        .qpm_min = 40,
        .qpm_max = 200,
        .grid_tolerance = 0.25,
        .grid_window_s = 30,
        .ioi_bin_s = 0.025,
        .ioi_max_s = 4,
        .long_note_s = 4,
        .melody_tracks = "MELODY",
        .accompaniment_tracks = "PIANO,Accompaniment",
        .clash_overlap_s = 0.05,
    };
    return p;
}

#define MEASURE(field, group, unit, about, scope) {#field, group, unit, about, scope, offsetof(cdz_listen_features, field)}
static const cdz_listen_measure_info MEASURES[CDZ_LISTEN_N_MEASURES] = {
    MEASURE(bars, "repetition", "bars", "bars from the first onset's to the last's", CDZ_LISTEN_ALL),
    MEASURE(bar_repeat, "repetition", "share", "bars equal to an earlier bar", CDZ_LISTEN_ALL),
    MEASURE(two_bar_repeat, "repetition", "share", "2-bar windows equal to an earlier one", CDZ_LISTEN_ALL),
    MEASURE(longest_repeat, "repetition", "bars", "longest run of bars equal to earlier ones", CDZ_LISTEN_ALL),
    MEASURE(onsets, "pulse", "onsets", "distinct onsets", CDZ_LISTEN_ALL),
    MEASURE(grid_fit, "pulse", "share", "onsets on the best 8th-note grid", CDZ_LISTEN_ALL),
    MEASURE(grid_qpm, "pulse", "qpm", "that grid's beat tempo", CDZ_LISTEN_ALL),
    MEASURE(onset_autocorr, "pulse", "r", "onset autocorrelation at the best beat lag", CDZ_LISTEN_ALL),
    MEASURE(autocorr_qpm, "pulse", "qpm", "that lag as a tempo", CDZ_LISTEN_ALL),
    MEASURE(ioi_entropy, "pulse", "bits", "entropy of inter-onset intervals", CDZ_LISTEN_ALL),
    MEASURE(polyphony_mean, "note endings", "notes", "notes sounding while any sounds", CDZ_LISTEN_ALL),
    MEASURE(polyphony_p95, "note endings", "notes", "95th percentile of that over time", CDZ_LISTEN_ALL),
    MEASURE(polyphony_max, "note endings", "notes", "most notes sounding at once", CDZ_LISTEN_ALL),
    MEASURE(long_notes, "note endings", "share", "notes longer than the limit", CDZ_LISTEN_ALL),
    MEASURE(open_at_end, "note endings", "share", "long notes sounding until the file ends", CDZ_LISTEN_ALL),
    MEASURE(unended, "note endings", "share", "notes the MIDI file never ended", CDZ_LISTEN_ALL),
    MEASURE(melody_notes, "two-part", "notes", "notes of the melody tracks", CDZ_LISTEN_TWO_PART),
    MEASURE(accompaniment_notes, "two-part", "notes", "notes of the accompaniment tracks", CDZ_LISTEN_TWO_PART),
    MEASURE(chord_fit, "two-part", "share", "accompaniment notes in the melody's bar chord", CDZ_LISTEN_TWO_PART),
    MEASURE(chord_fit_time, "two-part", "share", "the same, by time", CDZ_LISTEN_TWO_PART),
    MEASURE(lag_contrast, "two-part", "share", "chord fit at 0 s minus its mean at other shifts", CDZ_LISTEN_TWO_PART),
    MEASURE(lag_peak_s, "two-part", "s", "shift of the best chord fit", CDZ_LISTEN_TWO_PART),
    MEASURE(clash, "two-part", "share", "accompaniment notes a semitone off a melody note", CDZ_LISTEN_TWO_PART),
    MEASURE(ref_chord_fit, "paired", "share", "accompaniment notes in the original's beat chord", CDZ_LISTEN_PAIRED),
    MEASURE(ref_chord_fit_time, "paired", "share", "the same, by time", CDZ_LISTEN_PAIRED),
    MEASURE(ref_lag_contrast, "paired", "share", "that fit at 0 s minus its mean at other shifts", CDZ_LISTEN_PAIRED),
    MEASURE(ref_lag_peak_s, "paired", "s", "shift of the best fit to the original's chords", CDZ_LISTEN_PAIRED),
    MEASURE(silence, "paired", "share", "time the original plays and this is silent", CDZ_LISTEN_PAIRED),
};

const cdz_listen_measure_info *cdz_listen_describe(int measure) {
    return measure >= 0 && measure < CDZ_LISTEN_N_MEASURES ? &MEASURES[measure] : NULL;
}

double cdz_listen_value(const cdz_listen_features *f, int measure) {
    const cdz_listen_measure_info *mi = cdz_listen_describe(measure);
    if (!mi || !f) return NAN;
    double v;
    memcpy(&v, (const char *)f + mi->offset, sizeof v);
    return v;
}

static cdz_status check_params(const cdz_listen_params *p, cdz_error *err) {
    const char *bad = NULL;
    if (p->min_bar_sixteenths < 0 || p->min_bar_sixteenths > 64) bad = "min_bar_sixteenths must be 0 to 64";
    else if (!(p->onset_merge_s >= 0 && p->onset_merge_s <= 1)) bad = "onset_merge_s must be 0 to 1 s";
    else if (!(p->qpm_min >= 1 && p->qpm_max >= p->qpm_min && p->qpm_max <= 2000)) bad = "the tempo range must lie in 1 to 2000 qpm";
    else if (!(p->grid_tolerance > 0 && p->grid_tolerance <= 0.5)) bad = "grid_tolerance must be in (0, 0.5]";
    else if (!(p->grid_window_s >= 1 && p->grid_window_s <= 1e5)) bad = "grid_window_s must be 1 to 1e5 s";
    else if (!(p->ioi_bin_s >= 1e-3 && p->ioi_max_s > p->ioi_bin_s && p->ioi_max_s / p->ioi_bin_s <= 1e6))
        bad = "ioi_bin_s must be at least 0.001 s and ioi_max_s above it, at most 1e6 bins";
    else if (!(p->long_note_s > 0 && p->long_note_s < 1e9)) bad = "long_note_s must be positive";
    else if (!(p->clash_overlap_s >= 0 && p->clash_overlap_s < 1e9)) bad = "clash_overlap_s must be 0 or more";
    return bad ? cdz_error_set(err, CDZ_ERR_ARG, "listen: %s", bad) : CDZ_OK;
}

#define NOMEM(err, what) cdz_error_set((err), CDZ_ERR_NOMEM, "listen: out of memory for %s", (what))

/* ---- small sorts ---- */
#define LESS(a, b) (*(a) < *(b))
CDZ_DEFINE_SORT(sort_u64, uint64_t, LESS)
#undef LESS

/* In place, without allocating (the grid search sorts phases thousands of times per file). */
static void sift_down(double *a, size_t root, size_t n) {
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n) return;
        if (c + 1 < n && a[c + 1] > a[c]) c++;
        if (!(a[c] > a[root])) return;
        double t = a[c];
        a[c] = a[root];
        a[root] = t;
        root = c;
    }
}
static void heap_sort(double *a, size_t n) {
    if (n < 2) return;
    for (size_t i = n / 2; i-- > 0;) sift_down(a, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        double t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end);
    }
}

/* ---- tracks: which notes are the melody and which the accompaniment ---- */
enum { PART_MELODY = 1, PART_ACC = 2 };

/* Sets `bit` in mask[t] for every track t the spec names (see the header). */
static void mark_tracks(const cdz_score *s, const char *spec, uint8_t *mask, uint8_t bit) {
    if (!spec) return;
    const char *q = spec;
    while (*q) {
        const char *end = strchr(q, ',');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        const char *a = q;
        size_t n = len;
        while (n && (*a == ' ' || *a == '\t')) a++, n--;
        while (n && (a[n - 1] == ' ' || a[n - 1] == '\t')) n--;
        int digits = n > 0 && n <= 6;
        for (size_t i = 0; i < n && digits; i++) digits = a[i] >= '0' && a[i] <= '9';
        if (digits) {
            size_t t = 0;
            for (size_t i = 0; i < n; i++) t = 10 * t + (size_t)(a[i] - '0');
            if (t < s->n_tracks) mask[t] |= bit;
        } else if (n > 0) {
            for (size_t t = 0; t < s->n_tracks; t++)
                if (strlen(s->tracks[t].name) == n && strncasecmp(s->tracks[t].name, a, n) == 0) mask[t] |= bit;
        }
        q += len;
        if (*q == ',') q++;
    }
}

typedef struct tnote {
    double start, end; /* seconds */
    int pitch;
} tnote;
#define TNOTE_BEFORE(a, b) ((a)->start < (b)->start || ((a)->start == (b)->start && (a)->pitch < (b)->pitch))
CDZ_DEFINE_SORT(sort_tnotes, tnote, TNOTE_BEFORE)

/* The pitched notes of the tracks in `bit` of the spec's tracks, in order of onset: *out (cdz_free). */
static cdz_status part_notes(const cdz_score *s, const char *spec, tnote **out, size_t *n) {
    *out = NULL;
    *n = 0;
    uint8_t *mask = cdz_calloc(s->n_tracks + 1, 1);
    if (!mask) return CDZ_ERR_NOMEM;
    mark_tracks(s, spec, mask, 1);
    size_t k = 0;
    for (size_t i = 0; i < s->n_notes; i++) k += !s->notes[i].is_drum && s->notes[i].track < s->n_tracks && mask[s->notes[i].track];
    tnote *v = k ? cdz_calloc(k, sizeof *v) : NULL;
    if (k && !v) {
        cdz_free(mask);
        return CDZ_ERR_NOMEM;
    }
    k = 0;
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *nt = &s->notes[i];
        if (!nt->is_drum && nt->track < s->n_tracks && mask[nt->track]) v[k++] = (tnote){nt->start_s, nt->end_s, nt->pitch};
    }
    cdz_free(mask);
    if (sort_tnotes(v, k) != CDZ_OK) {
        cdz_free(v);
        return CDZ_ERR_NOMEM;
    }
    *out = v;
    *n = k;
    return CDZ_OK;
}

/* ---- bars ---- */
enum { MAX_BARS = 1 << 15, MAX_BEATS = 1 << 21 };

static int64_t bar_len_of(const cdz_score *s, const cdz_time_signature *ts, int min_sixteenths) {
    int num = ts->numerator, den = ts->denominator;
    if (den > 0 && 16 * num < min_sixteenths * den) num = 4, den = 4; /* a placeholder meter: 4/4 */
    int64_t len = den > 0 ? 4 * (int64_t)s->ppq * num / den : 0;
    return len > 0 ? len : 1;
}

/* Starts of bars 0, 1, ... as cdz_score_bar_to_tick counts them (with short bars read as 4/4), up to
 * and including the first two that start after `upto`: *starts (cdz_free) has *n >= 2 entries, and
 * every tick up to `upto` lies in a bar b <= *n - 3 with its end start[b + 1]. CDZ_ERR_RANGE past
 * MAX_BARS bars; CDZ_ERR_UNSUPPORTED without a ppq. */
static cdz_status bar_starts(const cdz_score *s, int min_sixteenths, int64_t upto, int64_t **starts, size_t *n) {
    *starts = NULL;
    *n = 0;
    if (s->ppq <= 0) return CDZ_ERR_UNSUPPORTED;
    size_t cap = 64, k = 0, j = 0, after = 0;
    int64_t *v = cdz_malloc(cap * sizeof *v);
    if (!v) return CDZ_ERR_NOMEM;
    int64_t cur = 0, len = 4 * (int64_t)s->ppq;
    while (j < s->n_time_sigs && s->time_sigs[j].tick <= 0) len = bar_len_of(s, &s->time_sigs[j++], min_sixteenths);
    for (;;) {
        if (k == cap) {
            if (cdz_grow((void **)&v, &cap, k + 1, sizeof *v) != CDZ_OK) {
                cdz_free(v);
                return CDZ_ERR_NOMEM;
            }
        }
        v[k++] = cur;
        if (cur > upto && ++after == 2) break;
        if (k > MAX_BARS) {
            cdz_free(v);
            return CDZ_ERR_RANGE;
        }
        int64_t next = cur > INT64_MAX - len ? INT64_MAX : cur + len;
        if (j < s->n_time_sigs && s->time_sigs[j].tick < next) next = s->time_sigs[j].tick; /* cuts the bar */
        while (j < s->n_time_sigs && s->time_sigs[j].tick <= next) len = bar_len_of(s, &s->time_sigs[j++], min_sixteenths);
        cur = next;
    }
    *starts = v;
    *n = k;
    return CDZ_OK;
}

/* Every bar's content: (step << 8 | key) items, sorted and distinct, for bars first_bar ..
 * first_bar + n - 1 (the first onset's to the last's). */
typedef struct bar_content {
    int64_t first_bar;
    size_t n;
    size_t *off;     /* (n + 1): bar b's items are items[off[b] .. off[b + 1]) */
    int64_t *steps;  /* (n) 16th-note steps in each bar */
    uint32_t *items;
} bar_content;

static void bar_content_free(bar_content *b) {
    cdz_free(b->off);
    cdz_free(b->steps);
    cdz_free(b->items);
    memset(b, 0, sizeof *b);
}

static cdz_status bar_content_build(const cdz_score *s, const cdz_listen_params *p, bar_content *bc) {
    memset(bc, 0, sizeof *bc);
    if (s->n_notes == 0 || s->ppq <= 0) return CDZ_OK;
    int64_t *start = NULL;
    size_t nb = 0;
    int64_t last = 0; /* (a score is sorted once finished; one that is not must not be read out of bounds) */
    for (size_t i = 0; i < s->n_notes; i++)
        if (s->notes[i].start_tick > last) last = s->notes[i].start_tick;
    cdz_status st = bar_starts(s, p->min_bar_sixteenths, last, &start, &nb);
    if (st != CDZ_OK) return st;
    uint64_t *keyed = cdz_calloc(s->n_notes, sizeof *keyed);
    if (!keyed) {
        cdz_free(start);
        return CDZ_ERR_NOMEM;
    }
    const double step = (double)s->ppq / 4;
    /* start[nb - 2] > every onset: an onset's bar b <= nb - 3, and the next bar has its end too */
    for (size_t i = 0; i < s->n_notes; i++) {
        int64_t t = s->notes[i].start_tick > 0 ? s->notes[i].start_tick : 0;
        size_t b = 0, hi = nb - 2; /* the last bar starting at or before t */
        while (hi - b > 1) {
            size_t mid = b + (hi - b) / 2;
            if (start[mid] <= t) b = mid;
            else hi = mid;
        }
        int64_t rel = llround((double)(t - start[b]) / step);
        int64_t len = llround((double)(start[b + 1] - start[b]) / step);
        if (len < 1) len = 1;
        size_t bar = b;
        if (rel >= len) bar = b + 1, rel = 0; /* rounds onto the next bar's downbeat */
        uint32_t key = s->notes[i].is_drum ? 128u + s->notes[i].pitch : s->notes[i].pitch;
        keyed[i] = (uint64_t)bar << 32 | (uint64_t)rel << 8 | key;
    }
    st = sort_u64(keyed, s->n_notes);
    if (st != CDZ_OK) goto done;
    bc->first_bar = (int64_t)(keyed[0] >> 32);
    bc->n = (size_t)(keyed[s->n_notes - 1] >> 32) - (size_t)bc->first_bar + 1;
    bc->off = cdz_calloc(bc->n + 1, sizeof *bc->off);
    bc->steps = cdz_calloc(bc->n, sizeof *bc->steps);
    bc->items = cdz_calloc(s->n_notes, sizeof *bc->items);
    if (!bc->off || !bc->steps || !bc->items) {
        st = CDZ_ERR_NOMEM;
        goto done;
    }
    for (size_t k = 0; k < bc->n; k++) {
        size_t g = (size_t)bc->first_bar + k; /* <= nb - 2 */
        int64_t len = llround((double)(start[g + 1] - start[g]) / step);
        bc->steps[k] = len > 0 ? len : 1;
    }
    size_t m = 0;
    for (size_t i = 0; i < s->n_notes; i++) {
        if (i > 0 && keyed[i] == keyed[i - 1]) continue;
        size_t k = (size_t)(keyed[i] >> 32) - (size_t)bc->first_bar;
        bc->items[m++] = (uint32_t)keyed[i];
        bc->off[k + 1] = m;
    }
    for (size_t k = 1; k <= bc->n; k++)
        if (bc->off[k] < bc->off[k - 1]) bc->off[k] = bc->off[k - 1]; /* bars without items */
done:
    cdz_free(keyed);
    cdz_free(start);
    if (st != CDZ_OK) bar_content_free(bc);
    return st;
}

static size_t bar_size(const bar_content *bc, size_t k) { return bc->off[k + 1] - bc->off[k]; }

static int bars_equal(const bar_content *bc, size_t a, size_t b) {
    size_t na = bar_size(bc, a);
    return bc->steps[a] == bc->steps[b] && na == bar_size(bc, b) &&
           memcmp(bc->items + bc->off[a], bc->items + bc->off[b], na * sizeof *bc->items) == 0;
}

/* An id per bar: equal contents, equal ids (ids are bar indices of the first such bar). */
static cdz_status bar_ids(const bar_content *bc, size_t *id) {
    uint64_t *h = cdz_calloc(bc->n, sizeof *h);
    if (!h) return CDZ_ERR_NOMEM;
    for (size_t k = 0; k < bc->n; k++) {
        uint64_t x = cdz_fnv1a64(CDZ_FNV_OFFSET, &bc->steps[k], sizeof bc->steps[k]);
        x = cdz_fnv1a64(x, bc->items + bc->off[k], bar_size(bc, k) * sizeof *bc->items);
        h[k] = (x & ~(uint64_t)0xFFFFF) | k; /* hash in the high bits, the bar (< 2^20) in the low ones */
    }
    cdz_status st = sort_u64(h, bc->n);
    if (st != CDZ_OK) {
        cdz_free(h);
        return st;
    }
    for (size_t a = 0; a < bc->n;) {
        size_t e = a;
        while (e < bc->n && (h[e] >> 20) == (h[a] >> 20)) e++;
        for (size_t i = a; i < e; i++) { /* in bar order within a group: the first equal one is the id */
            size_t bi = (size_t)(h[i] & 0xFFFFF);
            id[bi] = bi;
            for (size_t j = a; j < i; j++) {
                size_t bj = (size_t)(h[j] & 0xFFFFF);
                if (id[bj] == bj && bars_equal(bc, bi, bj)) {
                    id[bi] = bj;
                    break;
                }
            }
        }
        a = e;
    }
    cdz_free(h);
    return CDZ_OK;
}

static cdz_status repetition(const cdz_score *s, const cdz_listen_params *p, cdz_listen_features *out) {
    bar_content bc;
    cdz_status st = bar_content_build(s, p, &bc);
    if (st == CDZ_ERR_UNSUPPORTED) return CDZ_OK; /* no ppq: no bars */
    if (st != CDZ_OK || bc.n == 0) return st;
    const size_t n = bc.n;
    size_t *id = cdz_calloc(n, sizeof *id), *filled = cdz_calloc(n + 1, sizeof *filled);
    uint64_t *pairs = cdz_calloc(n, sizeof *pairs);
    if (!id || !filled || !pairs) {
        st = CDZ_ERR_NOMEM;
        goto done;
    }
    if ((st = bar_ids(&bc, id)) != CDZ_OK) goto done;
    out->bars = (double)n;
    for (size_t k = 0; k < n; k++) filled[k + 1] = filled[k] + (bar_size(&bc, k) > 0);
    size_t counted = 0, repeated = 0;
    for (size_t k = 0; k < n; k++) {
        if (!p->count_empty_bars && bar_size(&bc, k) == 0) continue;
        counted++;
        repeated += id[k] < k; /* an earlier bar holds the same */
    }
    out->bar_repeat = counted ? (double)repeated / (double)counted : 0;
    /* 2-bar windows: (id, id) keys sorted with the window's index; all but the first of a key repeat */
    size_t nw = 0;
    for (size_t k = 0; k + 1 < n; k++)
        pairs[nw++] = ((uint64_t)id[k] * n + id[k + 1]) << 20 | k; /* id < n < 2^20 */
    if ((st = sort_u64(pairs, nw)) != CDZ_OK) goto done;
    counted = repeated = 0;
    for (size_t i = 0; i < nw; i++) {
        size_t k = (size_t)(pairs[i] & 0xFFFFF);
        if (!p->count_empty_bars && filled[k + 2] == filled[k]) continue;
        counted++;
        repeated += i > 0 && (pairs[i] >> 20) == (pairs[i - 1] >> 20);
    }
    out->two_bar_repeat = counted ? (double)repeated / (double)counted : 0;
    /* longest run of bars equal to the run `d` bars earlier, over every offset d */
    size_t best = 0;
    for (size_t d = 1; d < n; d++) {
        size_t run = 0;
        for (size_t k = d; k < n; k++) {
            run = id[k] == id[k - d] ? run + 1 : 0;
            if (run > best && (p->count_empty_bars || filled[k + 1] > filled[k + 1 - run])) best = run;
        }
    }
    out->longest_repeat = (double)best;
done:
    cdz_free(id);
    cdz_free(filled);
    cdz_free(pairs);
    bar_content_free(&bc);
    return st;
}

cdz_status cdz_listen_self_similarity(const cdz_score *s, const cdz_listen_params *params, size_t max_bars,
                                      double **matrix, size_t *n, int64_t *first_bar, cdz_error *err) {
    if (matrix) *matrix = NULL;
    if (n) *n = 0;
    if (first_bar) *first_bar = 0;
    if (!s || !matrix || !n) return cdz_error_set(err, CDZ_ERR_ARG, "listen: no score or no output for the matrix");
    cdz_listen_params p = params ? *params : cdz_listen_default_params();
    cdz_status st = check_params(&p, err);
    if (st != CDZ_OK) return st;
    bar_content bc;
    st = bar_content_build(s, &p, &bc);
    if (st == CDZ_ERR_UNSUPPORTED) return CDZ_OK;
    if (st == CDZ_ERR_RANGE) return cdz_error_set(err, st, "listen: more than %d bars", MAX_BARS);
    if (st != CDZ_OK) return NOMEM(err, "the bars of a score");
    size_t m = bc.n < max_bars ? bc.n : max_bars;
    double *v = m ? cdz_calloc(m * m, sizeof *v) : NULL;
    if (m && !v) {
        bar_content_free(&bc);
        return NOMEM(err, "a self-similarity matrix");
    }
    for (size_t a = 0; a < m; a++) {
        for (size_t b = a; b < m; b++) {
            size_t na = bar_size(&bc, a), nb = bar_size(&bc, b), i = 0, j = 0, same = 0;
            const uint32_t *x = bc.items + bc.off[a], *y = bc.items + bc.off[b];
            while (i < na && j < nb) {
                if (x[i] == y[j]) same++, i++, j++;
                else if (x[i] < y[j]) i++;
                else j++;
            }
            double sim = na + nb ? (double)same / (double)(na + nb - same) : p.count_empty_bars ? 1 : 0;
            if (sim == 1 && !bars_equal(&bc, a, b)) sim = 1 - 1e-9; /* same onsets, bars of other lengths */
            v[a * m + b] = v[b * m + a] = sim;
        }
    }
    *matrix = v;
    *n = m;
    if (first_bar) *first_bar = bc.first_bar;
    bar_content_free(&bc);
    return CDZ_OK;
}

/* ---- pulse ---- */
/* Most of the phases (in [0, 1), sorted) that fit in an open arc of width w on the circle: strictly
 * within w/2 of its centre. Open, because two onsets exactly half a step apart would otherwise both
 * "fit" a grid at half their rate placed between them; 1e-9 of a cycle keeps rounding from deciding. */
static size_t best_arc(const double *ph, size_t n, double w) {
    size_t best = 0, j = 0;
    for (size_t i = 0; i < n; i++) {
        if (j < i) j = i;
        while (j < i + n && (j < n ? ph[j] : ph[j - n] + 1) - ph[i] < w - 1e-9) j++;
        if (j - i > best) best = j - i;
    }
    return best;
}

/* The best grid for the onsets t[0 .. n) (seconds from the window's start, span L): onsets it holds, and
 * its step frequency (grid lines per second) in *f_best. The step frequencies are scanned with the
 * phases counted in PHASE_BINS bins (an arc of 2 x tolerance is that many consecutive bins), which
 * costs O(n + PHASE_BINS) a frequency instead of a sort; at the frequency chosen (the middle of the
 * slowest run of frequencies with the most onsets) the count is then exact. */
enum { PHASE_BINS = 128 }; /* a power of two */
static size_t fit_window(const double *t, size_t n, double L, const cdz_listen_params *p, double *ph, double *f_best) {
    double f_lo = 2 * p->qpm_min / 60, f_hi = 2 * p->qpm_max / 60;
    double df = 1 / (8 * (L > 1 ? L : 1));
    size_t nf = (size_t)ceil((f_hi - f_lo) / df) + 1;
    if (nf > 1) df = (f_hi - f_lo) / (double)(nf - 1);
    size_t w = (size_t)floor(2 * p->grid_tolerance * PHASE_BINS + 1e-9);
    if (w < 1) w = 1;
    size_t best = 0, run_first = 0, run_last = 0;
    int in_run = 0;
    for (size_t k = 0; k < nf; k++) {
        double f = f_lo + df * (double)k;
        uint32_t hist[PHASE_BINS] = {0};
        for (size_t i = 0; i < n; i++) /* t >= 0: the bin of the phase is the bin count mod PHASE_BINS */
            hist[(uint64_t)(t[i] * f * PHASE_BINS) & (PHASE_BINS - 1)]++;
        size_t c = 0, win = 0;
        for (size_t b = 0; b < w; b++) win += hist[b];
        for (size_t b = 0; b < PHASE_BINS; b++) { /* bins b .. b + w - 1, round the circle */
            if (win > c) c = win;
            win += hist[(b + w) & (PHASE_BINS - 1)];
            win -= hist[b];
        }
        if (c > best) best = c, run_first = run_last = k, in_run = 1;
        else if (c == best && in_run && run_last + 1 == k) run_last = k;
        else in_run = 0;
    }
    double f = f_lo + df * (double)(run_first + run_last) / 2;
    for (size_t i = 0; i < n; i++) {
        double x = t[i] * f;
        ph[i] = x - floor(x);
    }
    heap_sort(ph, n);
    *f_best = f;
    return best_arc(ph, n, 2 * p->grid_tolerance);
}

static cdz_status pulse(const cdz_score *s, const cdz_listen_params *p, cdz_listen_features *out) {
    double *on = cdz_calloc(s->n_notes, sizeof *on), *ph = NULL, *qpm = NULL, *x = NULL, *r = NULL;
    if (!on) return CDZ_ERR_NOMEM;
    cdz_status st = CDZ_OK;
    for (size_t i = 0; i < s->n_notes; i++) on[i] = s->notes[i].start_s;
    heap_sort(on, s->n_notes); /* in order already when the score is finished */
    size_t n = 0;
    for (size_t i = 0; i < s->n_notes; i++)
        if (n == 0 || on[i] - on[n - 1] > p->onset_merge_s) on[n++] = on[i];
    out->onsets = (double)n;
    if (n < 2) goto done;

    /* the best grid, window by window */
    double span = on[n - 1] - on[0];
    size_t nwin = (size_t)(span / p->grid_window_s);
    if (nwin < 1) nwin = 1;
    double L = span / (double)nwin;
    ph = cdz_calloc(n, sizeof *ph);
    qpm = cdz_calloc(nwin, sizeof *qpm);
    if (!ph || !qpm) {
        st = CDZ_ERR_NOMEM;
        goto done;
    }
    size_t fit = 0, a = 0, nq = 0;
    for (size_t w = 0; w < nwin; w++) {
        double w0 = on[0] + L * (double)w, w1 = w + 1 == nwin ? INFINITY : w0 + L;
        size_t e = a;
        while (e < n && on[e] < w1) e++;
        if (e == a) continue;
        double *t = on + a; /* made relative in place, restored below */
        for (size_t i = 0; i < e - a; i++) t[i] -= w0;
        double f;
        fit += fit_window(t, e - a, L, p, ph, &f);
        for (size_t i = 0; i < e - a; i++) t[i] += w0;
        qpm[nq++] = 30 * f;
        a = e;
    }
    out->grid_fit = (double)fit / (double)n;
    heap_sort(qpm, nq);
    out->grid_qpm = nq % 2 ? qpm[nq / 2] : (qpm[nq / 2 - 1] + qpm[nq / 2]) / 2;

    /* autocorrelation of Gaussian bumps on a 10 ms grid (at most 2^20 bins, about 2.9 hours) */
    {
        enum { HALF = 6, MAX_BINS = 1 << 20 };
        const double dt = 0.01, sd = 2; /* bins */
        double t0 = on[0] - 0.1, bins = (on[n - 1] + 0.1 - t0) / dt + 1;
        size_t N = bins < MAX_BINS ? (size_t)bins : MAX_BINS;
        x = cdz_calloc(N, sizeof *x);
        if (!x) {
            st = CDZ_ERR_NOMEM;
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            double pos = (on[i] - t0) / dt;
            int64_t c = llround(pos);
            for (int64_t j = c - HALF; j <= c + HALF; j++)
                if (j >= 0 && (size_t)j < N) x[j] += exp(-0.5 * ((double)j - pos) * ((double)j - pos) / (sd * sd));
        }
        double mu = 0, var = 0;
        for (size_t j = 0; j < N; j++) mu += x[j];
        mu /= (double)N;
        for (size_t j = 0; j < N; j++) x[j] -= mu, var += x[j] * x[j];
        var /= (double)N;
        size_t l0 = (size_t)ceil(60 / p->qpm_max / dt - 1e-9), l1 = (size_t)floor(60 / p->qpm_min / dt + 1e-9);
        if (l0 < 1) l0 = 1;
        if (l1 > N - 1) l1 = N - 1;
        if (var > 0 && l1 >= l0) {
            /* r over the beat lags and one lag either side, to tell the peaks */
            size_t nl = l1 - l0 + 3;
            r = cdz_calloc(nl, sizeof *r);
            if (!r) {
                st = CDZ_ERR_NOMEM;
                goto done;
            }
            double best = -INFINITY;
            for (size_t i = 0; i < nl; i++) {
                size_t l = l0 + i - 1;
                double c = 0;
                if (l >= 1 && l < N) {
                    const size_t m = N - l;
                    const double *y = x + l;
                    double c4[8] = {0}; /* independent sums: the adds do not wait for each other */
                    size_t j = 0;
                    for (; j + 8 <= m; j += 8)
                        for (int u = 0; u < 8; u++) c4[u] += x[j + u] * y[j + u];
                    for (; j < m; j++) c += x[j] * y[j];
                    for (int u = 0; u < 8; u++) c += c4[u];
                    c /= (double)(N - l) * var;
                }
                r[i] = c;
                if (i >= 1 && i + 1 < nl && c > best) best = c;
            }
            out->onset_autocorr = best;
            /* the tempo: the shortest lag at a peak within 0.05 of the best (a pulse also peaks at
             * twice and three times its period, about as high) */
            for (size_t i = 1; i + 1 < nl; i++) {
                if (r[i] >= best - 0.05 && r[i] >= r[i - 1] && r[i] >= r[i + 1]) {
                    out->autocorr_qpm = 60 / ((double)(l0 + i - 1) * dt);
                    break;
                }
            }
        }
    }

    /* entropy of the inter-onset intervals */
    {
        size_t nbins = (size_t)ceil(p->ioi_max_s / p->ioi_bin_s) + 1;
        double *h = cdz_calloc(nbins, sizeof *h);
        if (!h) {
            st = CDZ_ERR_NOMEM;
            goto done;
        }
        for (size_t i = 1; i < n; i++) {
            double d = on[i] - on[i - 1];
            size_t k = d >= p->ioi_max_s ? nbins - 1 : (size_t)floor(d / p->ioi_bin_s + 0.5);
            if (k >= nbins) k = nbins - 1;
            h[k] += 1;
        }
        double e = 0, total = (double)(n - 1);
        for (size_t k = 0; k < nbins; k++)
            if (h[k] > 0) e -= h[k] / total * log2(h[k] / total);
        out->ioi_entropy = e;
        cdz_free(h);
    }
done:
    cdz_free(on);
    cdz_free(ph);
    cdz_free(qpm);
    cdz_free(x);
    cdz_free(r);
    return st;
}

/* ---- note endings ---- */
typedef struct edge {
    double t;
    int d; /* +1 a note starts, -1 one ends */
} edge;
#define EDGE_BEFORE(a, b) ((a)->t < (b)->t || ((a)->t == (b)->t && (a)->d < (b)->d))
CDZ_DEFINE_SORT(sort_edges, edge, EDGE_BEFORE)

static cdz_status endings(const cdz_score *s, const cdz_listen_params *p, cdz_listen_features *out) {
    size_t n = 0, pitched = 0, longer = 0, open = 0;
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *nt = &s->notes[i];
        if (nt->is_drum) continue;
        pitched++;
        double len = nt->end_s - nt->start_s;
        if (len > 0) n++;
        if (len > p->long_note_s) {
            longer++;
            open += nt->end_tick >= s->end_tick - 1;
        }
    }
    out->unended = s->n_notes ? (double)s->n_unended_notes / (double)s->n_notes : 0;
    if (out->unended > 1) out->unended = 1;
    if (pitched == 0) return CDZ_OK;
    out->long_notes = (double)longer / (double)pitched;
    out->open_at_end = (double)open / (double)pitched;
    if (n == 0) return CDZ_OK;
    edge *e = cdz_calloc(2 * n, sizeof *e);
    double *at = cdz_calloc(n + 1, sizeof *at); /* seconds with k notes sounding */
    if (!e || !at) {
        cdz_free(e);
        cdz_free(at);
        return CDZ_ERR_NOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *nt = &s->notes[i];
        if (nt->is_drum || !(nt->end_s > nt->start_s)) continue;
        e[k++] = (edge){nt->start_s, 1};
        e[k++] = (edge){nt->end_s, -1};
    }
    if (sort_edges(e, k) != CDZ_OK) {
        cdz_free(e);
        cdz_free(at);
        return CDZ_ERR_NOMEM;
    }
    size_t level = 0, most = 0;
    for (size_t i = 0; i < k; i++) {
        if (i > 0 && e[i].t > e[i - 1].t) {
            at[level] += e[i].t - e[i - 1].t;
            if (level > most) most = level;
        }
        level = (size_t)((int64_t)level + e[i].d);
    }
    double sounding = 0, weighted = 0;
    for (size_t j = 1; j <= n; j++) sounding += at[j], weighted += (double)j * at[j];
    if (sounding > 0) {
        out->polyphony_mean = weighted / sounding;
        double acc = 0;
        for (size_t j = 1; j <= n; j++) {
            acc += at[j];
            if (acc >= 0.95 * sounding * (1 - 1e-12)) {
                out->polyphony_p95 = (double)j;
                break;
            }
        }
    }
    out->polyphony_max = (double)most;
    cdz_free(e);
    cdz_free(at);
    return CDZ_OK;
}

/* ---- chords ---- */
enum { N_CHORDS = 48 };
static uint16_t chord_mask(int chord) {
    static const uint16_t base[4] = {1u << 0 | 1u << 4 | 1u << 7, 1u << 0 | 1u << 3 | 1u << 7,
                                     1u << 0 | 1u << 4 | 1u << 7 | 1u << 10, 1u << 0 | 1u << 3 | 1u << 6};
    int root = chord % 12;
    uint32_t m = base[chord / 12];
    return (uint16_t)(((m << root) | (m >> (12 - root))) & 0xFFF);
}

/* The template that matches a pitch-class histogram best (cosine), or -1 for an empty histogram. */
static int match_chord(const double *h) {
    double norm = 0;
    for (int k = 0; k < 12; k++) norm += h[k] * h[k];
    if (!(norm > 0)) return -1;
    int best = -1;
    double best_score = -1;
    for (int c = 0; c < N_CHORDS; c++) {
        uint16_t m = chord_mask(c);
        double dot = 0, size = 0;
        for (int k = 0; k < 12; k++)
            if (m >> k & 1) dot += h[k], size += 1;
        double score = dot / sqrt(size * norm);
        if (score > best_score + 1e-12) best_score = score, best = c;
    }
    return best;
}

typedef struct seg {
    double t0, t1;
    int chord; /* -1: no chord */
} seg;

/* Chords of the segments [bounds[k], bounds[k+1]) from the notes sounding in them: *out (nb - 1). */
static cdz_status chords_of(const tnote *src, size_t ns, const double *bounds, size_t nb, seg **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    if (nb < 2) return CDZ_OK;
    size_t n = nb - 1;
    seg *g = cdz_calloc(n, sizeof *g);
    double *h = cdz_calloc(n, 12 * sizeof *h);
    if (!g || !h) {
        cdz_free(g);
        cdz_free(h);
        return CDZ_ERR_NOMEM;
    }
    for (size_t i = 0; i < ns; i++) {
        /* the first segment ending after the note starts */
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (bounds[mid + 1] <= src[i].start) lo = mid + 1;
            else hi = mid;
        }
        for (size_t k = lo; k < n && bounds[k] < src[i].end; k++) {
            double ov = fmin(src[i].end, bounds[k + 1]) - fmax(src[i].start, bounds[k]);
            if (ov > 0) h[12 * k + src[i].pitch % 12] += ov;
        }
    }
    for (size_t k = 0; k < n; k++) g[k] = (seg){bounds[k], bounds[k + 1], match_chord(h + 12 * k)};
    cdz_free(h);
    *out = g;
    *n_out = n;
    return CDZ_OK;
}

/* The segment holding time t, or -1. */
static ptrdiff_t seg_at(const seg *g, size_t n, double t) {
    size_t lo = 0, hi = n; /* first segment with t1 > t */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (g[mid].t1 <= t) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && g[lo].t0 <= t ? (ptrdiff_t)lo : -1;
}

/* Share of notes (moved by shift) whose onsets fall on a chord and are its tones; NaN if none falls on
 * one. *landed: how many fell on a chord. */
static double fit_at(const tnote *a, size_t n, const seg *g, size_t ng, double shift, size_t *landed) {
    size_t on = 0, in = 0;
    for (size_t i = 0; i < n; i++) {
        ptrdiff_t k = seg_at(g, ng, a[i].start + shift);
        if (k < 0 || g[k].chord < 0) continue;
        on++;
        in += chord_mask(g[k].chord) >> (a[i].pitch % 12) & 1;
    }
    *landed = on;
    return on ? (double)in / (double)on : NAN;
}

static double fit_time(const tnote *a, size_t n, const seg *g, size_t ng) {
    double on = 0, in = 0;
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = ng;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (g[mid].t1 <= a[i].start) lo = mid + 1;
            else hi = mid;
        }
        for (size_t k = lo; k < ng && g[k].t0 < a[i].end; k++) {
            double ov = fmin(a[i].end, g[k].t1) - fmax(a[i].start, g[k].t0);
            if (ov <= 0 || g[k].chord < 0) continue;
            on += ov;
            if (chord_mask(g[k].chord) >> (a[i].pitch % 12) & 1) in += ov;
        }
    }
    return on > 0 ? in / on : 0;
}

/* The lag curve and what is read off it: fit at 0, contrast, peak lag. */
static void lag_curve(const tnote *a, size_t n, const seg *g, size_t ng, double *curve, double *fit0, double *contrast,
                      double *peak) {
    size_t landed[CDZ_LISTEN_N_LAGS];
    for (int k = 0; k < CDZ_LISTEN_N_LAGS; k++) curve[k] = fit_at(a, n, g, ng, CDZ_LISTEN_LAG_S(k), &landed[k]);
    double c0 = curve[CDZ_LISTEN_ZERO_LAG], others = 0;
    int n_others = 0;
    for (int k = 0; k < CDZ_LISTEN_N_LAGS; k++)
        if (k != CDZ_LISTEN_ZERO_LAG && !isnan(curve[k])) others += curve[k], n_others++;
    *fit0 = isnan(c0) ? 0 : c0;
    *contrast = !isnan(c0) && n_others ? c0 - others / n_others : 0;
    /* the highest point; among equal ones the one where most notes landed on chords (a fit of the two
     * notes that still land at the edge of the piece is no peak), then the nearest to 0, the earlier */
    double best = -1;
    size_t best_landed = 0;
    *peak = 0;
    for (int d = 0; d <= CDZ_LISTEN_ZERO_LAG; d++) {
        for (int sgn = -1; sgn <= 1; sgn += 2) {
            if (d == 0 && sgn == 1) continue;
            int k = CDZ_LISTEN_ZERO_LAG + sgn * d;
            if (isnan(curve[k])) continue;
            if (curve[k] > best + 1e-12 || (curve[k] > best - 1e-12 && landed[k] > best_landed))
                best = curve[k], best_landed = landed[k], *peak = CDZ_LISTEN_LAG_S(k);
        }
    }
}

/* Share of accompaniment notes sounding with a melody note a semitone away (mod 12), among those
 * sounding with any melody note (overlap > min_overlap). */
static double clashes(const tnote *acc, size_t na, const tnote *mel, size_t nm, double min_overlap) {
    double longest = 0;
    for (size_t j = 0; j < nm; j++) longest = fmax(longest, mel[j].end - mel[j].start);
    size_t with = 0, clash = 0;
    for (size_t i = 0; i < na; i++) {
        double from = acc[i].start - longest; /* melody notes starting earlier end before acc[i] starts */
        size_t lo = 0, hi = nm;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (mel[mid].start < from) lo = mid + 1;
            else hi = mid;
        }
        int any = 0, bad = 0;
        for (size_t j = lo; j < nm && mel[j].start < acc[i].end; j++) {
            double ov = fmin(acc[i].end, mel[j].end) - fmax(acc[i].start, mel[j].start);
            if (!(ov > min_overlap)) continue;
            any = 1;
            int d = abs(acc[i].pitch - mel[j].pitch) % 12;
            if (d == 1 || d == 11) bad = 1;
        }
        with += any;
        clash += bad;
    }
    return with ? (double)clash / (double)with : 0;
}

static int64_t last_end_tick(const cdz_score *s) {
    int64_t t = 0;
    for (size_t i = 0; i < s->n_notes; i++)
        if (s->notes[i].end_tick > t) t = s->notes[i].end_tick;
    return t;
}

static cdz_status two_part(const cdz_score *s, const cdz_listen_params *p, cdz_listen_features *out) {
    tnote *mel = NULL, *acc = NULL;
    size_t nm = 0, na = 0, ng = 0, nb = 0;
    seg *g = NULL;
    int64_t *bars = NULL;
    double *bounds = NULL;
    cdz_status st = part_notes(s, p->melody_tracks, &mel, &nm);
    if (st == CDZ_OK) st = part_notes(s, p->accompaniment_tracks, &acc, &na);
    out->melody_notes = (double)nm;
    out->accompaniment_notes = (double)na;
    if (st != CDZ_OK || nm == 0 || na == 0) goto done;
    out->two_part = 1;
    out->clash = clashes(acc, na, mel, nm, p->clash_overlap_s);
    for (int k = 0; k < CDZ_LISTEN_N_LAGS; k++) out->chord_lag[k] = NAN;
    st = bar_starts(s, p->min_bar_sixteenths, last_end_tick(s), &bars, &nb);
    if (st == CDZ_ERR_UNSUPPORTED || st == CDZ_ERR_RANGE) { /* no bars (SMPTE) or too many: no chords */
        st = CDZ_OK;
        goto done;
    }
    if (st != CDZ_OK) goto done;
    bounds = cdz_calloc(nb, sizeof *bounds);
    if (!bounds) {
        st = CDZ_ERR_NOMEM;
        goto done;
    }
    for (size_t k = 0; k < nb; k++) bounds[k] = cdz_score_tick_to_seconds(s, bars[k]);
    if ((st = chords_of(mel, nm, bounds, nb, &g, &ng)) != CDZ_OK) goto done;
    lag_curve(acc, na, g, ng, out->chord_lag, &out->chord_fit, &out->lag_contrast, &out->lag_peak_s);
    out->chord_fit_time = fit_time(acc, na, g, ng);
done:
    cdz_free(mel);
    cdz_free(acc);
    cdz_free(g);
    cdz_free(bars);
    cdz_free(bounds);
    return st;
}

cdz_status cdz_listen_compute(const cdz_score *s, const cdz_listen_params *params, cdz_listen_features *out,
                              cdz_error *err) {
    if (!s || !out) return cdz_error_set(err, CDZ_ERR_ARG, "listen: no score or no output");
    memset(out, 0, sizeof *out);
    cdz_listen_params p = params ? *params : cdz_listen_default_params();
    cdz_status st = check_params(&p, err);
    if (st != CDZ_OK) return st;
    for (int k = 0; k < CDZ_LISTEN_N_LAGS; k++) out->chord_lag[k] = out->ref_chord_lag[k] = NAN;
    if (s->n_notes == 0) return CDZ_OK;
    st = repetition(s, &p, out);
    if (st == CDZ_ERR_RANGE)
        return cdz_error_set(err, st, "listen: the notes span more than %d bars, too many for the repetition measures",
                             MAX_BARS);
    if (st == CDZ_OK) st = pulse(s, &p, out);
    if (st == CDZ_OK) st = endings(s, &p, out);
    if (st == CDZ_OK) st = two_part(s, &p, out);
    if (st != CDZ_OK) return NOMEM(err, "the measures of a score");
    return CDZ_OK;
}

/* ---- a generated accompaniment against the original's ---- */
typedef struct span {
    double a, b;
} span;
#define SPAN_BEFORE(x, y) ((x)->a < (y)->a)
CDZ_DEFINE_SORT(sort_spans, span, SPAN_BEFORE)

/* The union of the notes' time spans as sorted, disjoint spans (in place over v). */
static size_t merge_spans(span *v, size_t n) {
    if (sort_spans(v, n) != CDZ_OK) return (size_t)-1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(v[i].b > v[i].a)) continue;
        if (k > 0 && v[i].a <= v[k - 1].b) v[k - 1].b = fmax(v[k - 1].b, v[i].b);
        else v[k++] = v[i];
    }
    return k;
}

static cdz_status silence(const tnote *ref, size_t nr, const tnote *gen, size_t ng, double *out) {
    span *r = cdz_calloc(nr + 1, sizeof *r), *g = cdz_calloc(ng + 1, sizeof *g);
    if (!r || !g) {
        cdz_free(r);
        cdz_free(g);
        return CDZ_ERR_NOMEM;
    }
    for (size_t i = 0; i < nr; i++) r[i] = (span){ref[i].start, ref[i].end};
    for (size_t i = 0; i < ng; i++) g[i] = (span){gen[i].start, gen[i].end};
    size_t kr = merge_spans(r, nr), kg = merge_spans(g, ng);
    cdz_status st = CDZ_OK;
    if (kr == (size_t)-1 || kg == (size_t)-1) {
        st = CDZ_ERR_NOMEM;
    } else {
        double total = 0, both = 0;
        for (size_t i = 0; i < kr; i++) total += r[i].b - r[i].a;
        for (size_t i = 0, j = 0; i < kr && j < kg;) {
            double ov = fmin(r[i].b, g[j].b) - fmax(r[i].a, g[j].a);
            if (ov > 0) both += ov;
            if (r[i].b < g[j].b) i++;
            else j++;
        }
        *out = total > 0 ? 1 - both / total : 0;
        if (*out < 0) *out = 0;
    }
    cdz_free(r);
    cdz_free(g);
    return st;
}

cdz_status cdz_listen_compare(const cdz_score *gen, const cdz_score *ref, const cdz_listen_params *params,
                              cdz_listen_features *out, cdz_error *err) {
    if (!gen || !ref || !out) return cdz_error_set(err, CDZ_ERR_ARG, "listen: no scores or no output to compare");
    cdz_listen_params p = params ? *params : cdz_listen_default_params();
    cdz_status st = check_params(&p, err);
    if (st != CDZ_OK) return st;
    out->paired = 0;
    out->ref_chord_fit = out->ref_chord_fit_time = out->ref_lag_contrast = out->ref_lag_peak_s = out->silence = 0;
    for (int k = 0; k < CDZ_LISTEN_N_LAGS; k++) out->ref_chord_lag[k] = NAN;
    tnote *ga = NULL, *ra = NULL;
    size_t ng = 0, nr = 0, nseg = 0;
    seg *g = NULL;
    double *bounds = NULL;
    st = part_notes(gen, p.accompaniment_tracks, &ga, &ng);
    if (st == CDZ_OK) st = part_notes(ref, p.accompaniment_tracks, &ra, &nr);
    if (st != CDZ_OK || ng == 0 || nr == 0) goto done;
    out->paired = 1;
    if ((st = silence(ra, nr, ga, ng, &out->silence)) != CDZ_OK) goto done;
    if (ref->ppq > 0) { /* beats of the reference, in its seconds */
        int64_t last = last_end_tick(ref);
        size_t nbeats = (size_t)(last / ref->ppq) + 2;
        if (nbeats > MAX_BEATS) nbeats = MAX_BEATS;
        bounds = cdz_calloc(nbeats, sizeof *bounds);
        if (!bounds) {
            st = CDZ_ERR_NOMEM;
            goto done;
        }
        for (size_t k = 0; k < nbeats; k++) bounds[k] = cdz_score_tick_to_seconds(ref, (int64_t)k * ref->ppq);
        if ((st = chords_of(ra, nr, bounds, nbeats, &g, &nseg)) != CDZ_OK) goto done;
        lag_curve(ga, ng, g, nseg, out->ref_chord_lag, &out->ref_chord_fit, &out->ref_lag_contrast, &out->ref_lag_peak_s);
        out->ref_chord_fit_time = fit_time(ga, ng, g, nseg);
    }
done:
    cdz_free(ga);
    cdz_free(ra);
    cdz_free(g);
    cdz_free(bounds);
    if (st != CDZ_OK) return NOMEM(err, "comparing two scores");
    return CDZ_OK;
}

/* ---- random baseline ---- */
cdz_status cdz_listen_randomize(cdz_score *out, const cdz_score *like, cdz_listen_random mode,
                                const cdz_listen_params *params, uint64_t seed, cdz_error *err) {
    if (!out || !like) return cdz_error_set(err, CDZ_ERR_ARG, "listen: no score to randomize");
    if (mode != CDZ_LISTEN_RANDOM_NOTES && mode != CDZ_LISTEN_RANDOM_ACCOMPANIMENT)
        return cdz_error_set(err, CDZ_ERR_ARG, "listen: unknown kind of random notes %d", (int)mode);
    cdz_listen_params p = params ? *params : cdz_listen_default_params();
    cdz_status st = cdz_score_copy(out, like, err);
    if (st != CDZ_OK) return st;
    out->n_unended_notes = 0; /* every random note has its end */
    uint8_t *mask = cdz_calloc(like->n_tracks + 1, 1);
    if (!mask) {
        cdz_score_free(out);
        return NOMEM(err, "randomizing a score");
    }
    if (mode == CDZ_LISTEN_RANDOM_ACCOMPANIMENT) mark_tracks(like, p.accompaniment_tracks, mask, 1);
    /* pitch range and key: of the pitched notes (all of them; the accompaniment's for its range) */
    int lo = 127, hi = 0;
    double pc[12] = {0};
    for (size_t i = 0; i < like->n_notes; i++) {
        const cdz_note *nt = &like->notes[i];
        if (nt->is_drum) continue;
        pc[nt->pitch % 12] += 1;
        int in = mode == CDZ_LISTEN_RANDOM_NOTES || (nt->track < like->n_tracks && mask[nt->track]);
        if (in && nt->pitch < lo) lo = nt->pitch;
        if (in && nt->pitch > hi) hi = nt->pitch;
    }
    static const int major[12] = {1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1};
    int key = 0;
    double best = -1;
    for (int r = 0; r < 12; r++) { /* a natural minor holds its relative major's tones */
        double in = 0;
        for (int k = 0; k < 12; k++) in += major[(k - r + 12) % 12] * pc[k];
        if (in > best) best = in, key = r;
    }
    int scale[128], n_scale = 0;
    for (int k = lo; k <= hi; k++)
        if (major[(k - key + 120) % 12]) scale[n_scale++] = k;
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    const double D = like->duration_s;
    for (size_t i = 0; i < out->n_notes; i++) {
        cdz_note *nt = &out->notes[i];
        int acc = nt->track < like->n_tracks && mask[nt->track] && !nt->is_drum;
        if (mode == CDZ_LISTEN_RANDOM_ACCOMPANIMENT && !acc) continue;
        double len = nt->end_s - nt->start_s, room = D - len > 0 ? D - len : 0;
        double t = cdz_rng_uniform(&r) * room;
        int64_t a = cdz_score_seconds_to_tick(out, t), b = cdz_score_seconds_to_tick(out, t + len);
        if (nt->end_tick > nt->start_tick && b <= a) b = a + 1;
        nt->start_tick = a;
        nt->end_tick = b;
        if (nt->is_drum) continue;
        if (mode == CDZ_LISTEN_RANDOM_NOTES) nt->pitch = (uint8_t)(lo + (int)cdz_rng_below(&r, (uint64_t)(hi - lo + 1)));
        else if (n_scale > 0) nt->pitch = (uint8_t)scale[cdz_rng_below(&r, (uint64_t)n_scale)];
    }
    cdz_free(mask);
    st = cdz_score_finish(out, err);
    if (st != CDZ_OK) cdz_score_free(out);
    return st;
}

cdz_status cdz_listen_baseline(const cdz_score *like, const cdz_listen_params *p, uint64_t seed, int with_pair,
                               cdz_listen_features *out, cdz_error *err) {
    if (!like || !out) return cdz_error_set(err, CDZ_ERR_ARG, "listen: no score or no output for the baseline");
    memset(out, 0, sizeof *out);
    cdz_score a, b;
    cdz_listen_features fb;
    cdz_status st = cdz_listen_randomize(&a, like, CDZ_LISTEN_RANDOM_NOTES, p, seed, err);
    if (st != CDZ_OK) return st;
    st = cdz_listen_compute(&a, p, out, err);
    cdz_score_free(&a);
    if (st != CDZ_OK) return st;
    if ((st = cdz_listen_randomize(&b, like, CDZ_LISTEN_RANDOM_ACCOMPANIMENT, p, seed + 1, err)) != CDZ_OK) return st;
    st = cdz_listen_compute(&b, p, &fb, err);
    if (st == CDZ_OK) {
        out->two_part = fb.two_part;
        out->melody_notes = fb.melody_notes;
        out->accompaniment_notes = fb.accompaniment_notes;
        out->chord_fit = fb.chord_fit;
        out->chord_fit_time = fb.chord_fit_time;
        out->lag_contrast = fb.lag_contrast;
        out->lag_peak_s = fb.lag_peak_s;
        out->clash = fb.clash;
        memcpy(out->chord_lag, fb.chord_lag, sizeof out->chord_lag);
        if (with_pair) st = cdz_listen_compare(&b, like, p, out, err);
    }
    cdz_score_free(&b);
    return st;
}

/* ---- sets ---- */
void cdz_listen_summarize(const cdz_listen_features *f, size_t n, cdz_listen_summary *out) {
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!f) n = 0;
    out->files = n;
    for (size_t i = 0; i < n; i++) out->two_part_files += f[i].two_part != 0, out->paired_files += f[i].paired != 0;
    for (int m = 0; m < CDZ_LISTEN_N_MEASURES; m++) {
        const cdz_listen_measure_info *mi = &MEASURES[m];
        double sum = 0, ss = 0;
        size_t k = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < n; i++) {
                if ((mi->scope == CDZ_LISTEN_TWO_PART && !f[i].two_part) || (mi->scope == CDZ_LISTEN_PAIRED && !f[i].paired))
                    continue;
                double v = cdz_listen_value(&f[i], m);
                if (pass == 0) sum += v, k++;
                else ss += (v - sum / (double)k) * (v - sum / (double)k);
            }
        }
        out->stat[m].n = k;
        out->stat[m].mean = k ? sum / (double)k : 0;
        out->stat[m].sd = k > 1 ? sqrt(ss / (double)(k - 1)) : 0;
    }
    for (int l = 0; l < CDZ_LISTEN_N_LAGS; l++) {
        double a = 0, b = 0;
        size_t na = 0, nb = 0;
        for (size_t i = 0; i < n; i++) {
            if (f[i].two_part && !isnan(f[i].chord_lag[l])) a += f[i].chord_lag[l], na++;
            if (f[i].paired && !isnan(f[i].ref_chord_lag[l])) b += f[i].ref_chord_lag[l], nb++;
        }
        out->chord_lag[l] = na ? a / (double)na : NAN;
        out->ref_chord_lag[l] = nb ? b / (double)nb : NAN;
    }
}

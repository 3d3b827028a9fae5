/* Objective music metrics (cadenza/metrics.h): every feature on hand-made scores with hand-computed
 * values, the density estimate, KL and overlap on known inputs, allocation failures, and, when the
 * corpora are present, two halves of Nottingham against each other and against random notes. */
#include <math.h>

#include "test.h"

enum { PPQ = 480 };

static void score_begin(cdz_score *s, double qpm, int num, int den) {
    cdz_error err = {0};
    CHECK(cdz_score_init(s, PPQ, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_score_add_tempo(s, 0, qpm) == CDZ_OK, "tempo");
    CHECK(cdz_score_add_time_signature(s, 0, (uint8_t)num, (uint8_t)den) == CDZ_OK, "time signature");
}

/* A note from beat `start` lasting `len` beats (fractions allowed), on track 0, or drums on channel 9. */
static void note(cdz_score *s, int pitch, double start, double len, int drum) {
    int64_t a = llround(start * PPQ), b = llround((start + len) * PPQ);
    CHECK(cdz_score_add_note(s, drum ? 1 : 0, drum ? 9 : 0, 0, (uint8_t)pitch, 80, a, b) == CDZ_OK, "note %d", pitch);
}

static void score_end(cdz_score *s) {
    cdz_error err = {0};
    CHECK(cdz_score_finish(s, &err) == CDZ_OK, "%s", err.msg);
}

static cdz_music_features features_of(const cdz_score *s) {
    cdz_music_features f;
    cdz_error err = {0};
    CHECK(cdz_metrics_compute(s, &f, &err) == CDZ_OK, "%s", err.msg);
    return f;
}

/* Every number of two records, named by feature and index on failure. */
static void check_features(const char *label, const cdz_music_features *got, const cdz_music_features *want) {
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) {
        const cdz_metrics_feature_info *fi = cdz_metrics_describe(f);
        const double *g = cdz_metrics_values(got, f), *w = cdz_metrics_values(want, f);
        for (size_t k = 0; k < fi->dim; k++)
            CHECK(fabs(g[k] - w[k]) <= 1e-9, "%s: %s[%zu] = %.9g, expected %.9g", label, fi->name, k, g[k], w[k]);
    }
}

/* C major scale C4..C5 in quarter notes at 120 qpm, 4/4: two identical bars of onsets. */
static void scale_score(cdz_score *s, double qpm) {
    static const int pitches[8] = {60, 62, 64, 65, 67, 69, 71, 72};
    score_begin(s, qpm, 4, 4);
    for (int i = 0; i < 8; i++) note(s, pitches[i], i, 1, 0);
}

static cdz_music_features scale_expected(double qpm) {
    cdz_music_features w;
    memset(&w, 0, sizeof w);
    w.pitch_count = 8;
    w.pitch_classes_used = 7;
    for (int pc = 0; pc < 12; pc++) w.pitch_class_histogram[pc] = (pc == 0) ? 2.0 / 8 : 0;
    static const int steps[7] = {0, 2, 4, 5, 7, 9, 11};
    for (int i = 1; i < 7; i++) w.pitch_class_histogram[steps[i]] = 1.0 / 8;
    for (int i = 0; i < 7; i++) w.pitch_class_transitions[steps[i]][steps[(i + 1) % 7]] = 1.0 / 7; /* ..., B -> C */
    w.pitch_range = 12;
    w.pitch_interval = 12.0 / 7; /* 2 2 1 2 2 2 1 */
    w.note_count = 8;
    w.inter_onset_interval = 60.0 / qpm;
    w.note_length_histogram[2] = 1; /* all quarter notes */
    w.note_length_transitions[2][2] = 1;
    w.polyphony = 1;
    w.polyphony_rate = 0;
    w.pitch_class_entropy = 2.0 / 8 * 2 + 6 * (1.0 / 8 * 3); /* -sum p log2 p = 0.5 + 2.25 = 2.75 bits */
    w.scale_consistency = 1;
    w.empty_beat_rate = 0;
    w.groove_consistency = 1;
    return w;
}

static void test_scale(void) {
    cdz_score s;
    scale_score(&s, 120);
    score_end(&s);
    cdz_music_features got = features_of(&s), want = scale_expected(120);
    check_features("C major scale", &got, &want);

    /* SMPTE timing: a beat is 0.5 s; at 1/960 s per tick that is 480 ticks, so nothing changes */
    s.ppq = 0, s.smpte_seconds_per_tick = 1.0 / 960;
    got = features_of(&s);
    check_features("C major scale, SMPTE", &got, &want);
    s.smpte_seconds_per_tick = 0;
    cdz_error err = {0};
    CHECK(cdz_metrics_compute(&s, &got, &err) == CDZ_ERR_ARG, "no time division refused");
    s.ppq = PPQ;

    /* drums: counted as notes, left out of pitches and lengths; on beat 0 they change no beat or bar */
    note(&s, 36, 0, 0.25, 1);
    note(&s, 42, 0, 0.1, 1);
    score_end(&s);
    got = features_of(&s);
    want.note_count = 10;
    check_features("scale with drums", &got, &want);
    cdz_score_free(&s);

    /* tempo: only the inter-onset interval (seconds) moves */
    scale_score(&s, 60);
    score_end(&s);
    got = features_of(&s), want = scale_expected(60);
    CHECK_NEAR(want.inter_onset_interval, 1.0, 1e-12);
    check_features("scale at 60 qpm", &got, &want);
    cdz_score_free(&s);

    /* seven notes, one per class: entropy log2(7) */
    score_begin(&s, 120, 4, 4);
    for (int i = 0; i < 7; i++) note(&s, 60 + (int[]){0, 2, 4, 5, 7, 9, 11}[i], i, 1, 0);
    score_end(&s);
    got = features_of(&s);
    CHECK_NEAR(got.pitch_class_entropy, log2(7.0), 1e-12);
    cdz_score_free(&s);
}

static void test_chord(void) {
    /* C-E-G for a whole bar, then C5 for a bar: 3 notes for 4 beats, 1 for 4 */
    cdz_score s;
    score_begin(&s, 120, 4, 4);
    /* tracks out of pitch order (the score sorts G first): features take the chord low to high */
    CHECK(cdz_score_add_note(&s, 0, 0, 0, 67, 80, 0, 4 * PPQ) == CDZ_OK, "G");
    CHECK(cdz_score_add_note(&s, 1, 1, 0, 64, 80, 0, 4 * PPQ) == CDZ_OK, "E");
    CHECK(cdz_score_add_note(&s, 2, 2, 0, 60, 80, 0, 4 * PPQ) == CDZ_OK, "C");
    note(&s, 72, 4, 4, 0);
    score_end(&s);
    cdz_music_features got = features_of(&s), w;
    memset(&w, 0, sizeof w);
    w.pitch_count = 4;
    w.pitch_classes_used = 3;
    w.pitch_class_histogram[0] = 0.5, w.pitch_class_histogram[4] = 0.25, w.pitch_class_histogram[7] = 0.25;
    /* by (onset, pitch): C4 E4 G4 C5 */
    w.pitch_class_transitions[0][4] = w.pitch_class_transitions[4][7] = w.pitch_class_transitions[7][0] = 1.0 / 3;
    w.pitch_range = 12;
    w.pitch_interval = (4 + 3 + 5) / 3.0;
    w.note_count = 4;
    w.inter_onset_interval = 2.0; /* onsets at 0 s and 2 s */
    w.note_length_histogram[0] = 1;
    w.note_length_transitions[0][0] = 1;
    w.polyphony = (3 * 4 + 1 * 4) / 8.0;
    w.polyphony_rate = 0.5;
    w.pitch_class_entropy = 0.5 * 1 + 2 * 0.25 * 2; /* 1.5 bits */
    w.scale_consistency = 1;
    w.empty_beat_rate = 0;
    w.groove_consistency = 1; /* both bars: one onset on the downbeat */
    check_features("chord", &got, &w);
    cdz_score_free(&s);

    /* overlapping voices: A 0-3, B 1-2 and 1-4 -> counts 1,3,2 over beats [0,1),[1,2),[2,3) then 1 (3-4) */
    score_begin(&s, 120, 4, 4);
    note(&s, 60, 0, 3, 0);
    note(&s, 64, 1, 1, 0);
    note(&s, 67, 1, 3, 0);
    score_end(&s);
    got = features_of(&s);
    CHECK_NEAR(got.polyphony, (1 + 3 + 2 + 1) / 4.0, 1e-12);
    CHECK_NEAR(got.polyphony_rate, 2 / 4.0, 1e-12);
    CHECK_NEAR(got.inter_onset_interval, 0.5, 1e-12);
    cdz_score_free(&s);
}

static void bar_of_quarters(cdz_score *s, int bar, int pitch) {
    for (int i = 0; i < 4; i++) note(s, pitch + i, 4 * bar + i, 1, 0);
}

static void test_silence_and_groove(void) {
    /* bar 0 and bar 2 full of quarter notes, bar 1 silent: 4 of 12 beats empty; the two bar pairs
     * each differ in 4 of 48 positions */
    cdz_score s;
    score_begin(&s, 120, 4, 4);
    bar_of_quarters(&s, 0, 60);
    bar_of_quarters(&s, 2, 60);
    score_end(&s);
    cdz_music_features got = features_of(&s);
    CHECK_NEAR(got.empty_beat_rate, 4.0 / 12, 1e-12);
    CHECK_NEAR(got.groove_consistency, 1 - (4.0 / 48 + 4.0 / 48) / 2, 1e-12);
    CHECK_NEAR(got.inter_onset_interval, 5.5 / 7, 1e-12); /* onsets from 0 s to 5.5 s, 7 gaps */
    cdz_score_free(&s);

    /* two silent bars between: 8 of 16 beats empty; 3 bar pairs, two differing by 4/48 */
    score_begin(&s, 120, 4, 4);
    bar_of_quarters(&s, 0, 60);
    bar_of_quarters(&s, 3, 60);
    score_end(&s);
    got = features_of(&s);
    CHECK_NEAR(got.empty_beat_rate, 0.5, 1e-12);
    CHECK_NEAR(got.groove_consistency, 1 - (8.0 / 48) / 3, 1e-12);
    cdz_score_free(&s);

    /* a note ending mid-beat still fills its beat; a rest of half a beat leaves none empty */
    score_begin(&s, 120, 4, 4);
    note(&s, 60, 0, 1.5, 0);
    note(&s, 62, 2, 1, 0);
    note(&s, 64, 5.5, 0, 0); /* zero-length: marks its own beat (5) */
    score_end(&s);
    got = features_of(&s);
    CHECK_NEAR(got.empty_beat_rate, 2.0 / 6, 1e-12); /* beats 0-5; 3 and 4 empty */
    cdz_score_free(&s);

    /* 3/4: bar 0 onsets on each beat (0, 12, 24 of 36), bar 1 only the downbeat: distance 2/36;
     * bar 2 equal to bar 1 */
    score_begin(&s, 120, 3, 4);
    for (int i = 0; i < 3; i++) note(&s, 60, i, 1, 0);
    note(&s, 60, 3, 3, 0);
    note(&s, 60, 6, 3, 0);
    score_end(&s);
    got = features_of(&s);
    CHECK_NEAR(got.groove_consistency, 1 - (2.0 / 36 + 0) / 2, 1e-12);
    CHECK_NEAR(got.empty_beat_rate, 0, 1e-12);
    cdz_score_free(&s);

    /* a change to 2/4 inside the second 4/4 bar cuts that bar to 2 beats (24 positions); bars:
     * [0,4) {0,12,24,36}, [4,6) {0,12}, then the 2/4 bar [6,8) {0}: distances 2/48 and 1/24 */
    score_begin(&s, 120, 4, 4);
    CHECK(cdz_score_add_time_signature(&s, 6 * PPQ, 2, 4) == CDZ_OK, "2/4");
    bar_of_quarters(&s, 0, 60);
    note(&s, 60, 4, 1, 0);
    note(&s, 60, 5, 1, 0);
    note(&s, 60, 6, 2, 0);
    score_end(&s);
    got = features_of(&s);
    CHECK_NEAR(got.groove_consistency, 1 - (2.0 / 48 + 1.0 / 24) / 2, 1e-12);
    cdz_score_free(&s);

    /* an onset a hair before the bar line rounds onto the next downbeat: bars {0, 12} and {0, 12} */
    score_begin(&s, 120, 4, 4);
    note(&s, 60, 0, 1, 0);
    note(&s, 60, 1, 1, 0);
    note(&s, 60, 4 - 1.0 / 480, 1, 0);
    note(&s, 60, 5, 1, 0);
    score_end(&s);
    got = features_of(&s);
    CHECK_NEAR(got.groove_consistency, 1, 1e-12);
    cdz_score_free(&s);
}

static void test_lengths_and_scale(void) {
    /* lengths: half, dotted quarter, 8th triplet, 16th, dotted half, 10 beats (-> whole), 0.3 (-> 1/3),
     * 0.29 (-> 1/4: nearer 0.25 than 0.333), 1.75 (as near half as dotted quarter: the earlier class) */
    enum { NL = 9 };
    static const double len[NL] = {2, 1.5, 1.0 / 3, 0.25, 3, 10, 0.3, 0.29, 1.75};
    static const int cls[NL] = {1, 6, 11, 4, 5, 0, 11, 4, 1};
    cdz_score s;
    score_begin(&s, 120, 4, 4);
    double t = 0;
    for (int i = 0; i < NL; i++) {
        note(&s, 60 + i, t, len[i], 0);
        t += 12;
    }
    score_end(&s);
    cdz_music_features got = features_of(&s);
    double want[12] = {0}, trans[12][12] = {{0}};
    for (int i = 0; i < NL; i++) want[cls[i]] += 1.0 / NL;
    for (int i = 1; i < NL; i++) trans[cls[i - 1]][cls[i]] += 1.0 / (NL - 1);
    for (int k = 0; k < 12; k++) {
        CHECK_NEAR(got.note_length_histogram[k], want[k], 1e-12);
        for (int j = 0; j < 12; j++) CHECK_NEAR(got.note_length_transitions[k][j], trans[k][j], 1e-12);
    }
    cdz_score_free(&s);

    /* C C# D E: no diatonic scale holds C, C# and D; best 3 of 4 */
    score_begin(&s, 120, 4, 4);
    note(&s, 60, 0, 1, 0);
    note(&s, 61, 1, 1, 0);
    note(&s, 62, 2, 1, 0);
    note(&s, 64, 3, 1, 0);
    score_end(&s);
    got = features_of(&s);
    CHECK_NEAR(got.scale_consistency, 0.75, 1e-12);
    CHECK_NEAR(got.pitch_classes_used, 4, 0);
    cdz_score_free(&s);

    /* A harmonic-minor run A B C D E F G# A: A minor (natural) misses G#, E major... best 7/8 */
    score_begin(&s, 120, 4, 4);
    static const int hm[8] = {57, 59, 60, 62, 64, 65, 68, 69};
    for (int i = 0; i < 8; i++) note(&s, hm[i], i, 1, 0);
    score_end(&s);
    got = features_of(&s);
    CHECK_NEAR(got.scale_consistency, 7.0 / 8, 1e-12);
    cdz_score_free(&s);

    /* an empty score: zeros, groove 1 */
    score_begin(&s, 120, 4, 4);
    score_end(&s);
    got = features_of(&s);
    cdz_music_features w;
    memset(&w, 0, sizeof w);
    w.groove_consistency = 1;
    check_features("empty score", &got, &w);
    cdz_score_free(&s);
}

static void test_feature_table(void) {
    size_t total = 0;
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) {
        const cdz_metrics_feature_info *fi = cdz_metrics_describe(f);
        CHECK(fi && fi->name && fi->dim >= 1, "feature %d described", f);
        if (!fi) continue;
        CHECK_INT(fi->offset, total * sizeof(double)); /* the enum follows the record's field order */
        total += fi->dim;
    }
    CHECK_INT(total * sizeof(double), sizeof(cdz_music_features));
    CHECK(cdz_metrics_describe(-1) == NULL && cdz_metrics_describe(CDZ_METRICS_N_FEATURES) == NULL, "out of range");
    CHECK(strcmp(cdz_metrics_describe(CDZ_METRICS_PITCH_CLASS_HISTOGRAM)->abbrev, "PCH") == 0, "abbrev");
}

/* ---- densities and comparison ---- */
static void test_kde(void) {
    double x[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    /* sd = sqrt(82.5 / 9) = 3.0277; IQR = 6.75 - 2.25 = 4.5, /1.34 = 3.358 > sd: h = 0.9 sd 10^-0.2 */
    CHECK_NEAR(cdz_metrics_silverman_bandwidth(x, 10), 0.9 * sqrt(82.5 / 9) * pow(10, -0.2), 1e-12);
    double y[10] = {100, 0, 1, 2, 3, 4, 5, 6, 7, 8}; /* an outlier: IQR/1.34 = 4.5/1.34 < sd */
    CHECK_NEAR(cdz_metrics_silverman_bandwidth(y, 10), 0.9 * (4.5 / 1.34) * pow(10, -0.2), 1e-12);
    double z[10] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 9}; /* IQR 0: sd alone (mean 1.7, squared deviations 60.1) */
    CHECK_NEAR(cdz_metrics_silverman_bandwidth(z, 10), 0.9 * sqrt(60.1 / 9) * pow(10, -0.2), 1e-12);
    double one = 5;
    CHECK_NEAR(cdz_metrics_silverman_bandwidth(&one, 1), 0, 0);

    enum { N = 2000, G = 512 };
    static double s[N], dens[G];
    cdz_rng r;
    cdz_rng_seed(&r, 7);
    for (int i = 0; i < N; i++) s[i] = cdz_rng_normal(&r) * (i % 2 ? 1.0 : 0.3) + (i % 2 ? 3 : 0);
    cdz_error err = {0};
    double h = 0.25, lo = -4, hi = 10, dx = (hi - lo) / (G - 1);
    CHECK(cdz_metrics_kde(s, N, h, lo, hi, G, dens, &err) == CDZ_OK, "%s", err.msg);
    double mass = 0;
    for (int i = 0; i < G; i++) mass += dens[i] * dx;
    CHECK_NEAR(mass, 1.0, 1e-6);
    /* against the direct sum of Gaussians at a few points: binning moves each sample by < dx / 2 */
    double maxerr = 0, peak = 0;
    for (int i = 0; i < G; i += 37) {
        double xi = lo + dx * i, sum = 0;
        for (int j = 0; j < N; j++) sum += exp(-0.5 * (xi - s[j]) * (xi - s[j]) / (h * h));
        sum /= N * h * sqrt(2 * 3.14159265358979323846);
        if (fabs(sum - dens[i]) > maxerr) maxerr = fabs(sum - dens[i]);
        if (sum > peak) peak = sum;
    }
    CHECK(maxerr < 0.01 * peak, "binned KDE off the direct sum by %g (peak %g)", maxerr, peak);
    CHECK_NEAR(cdz_metrics_overlap(dens, dens, G, dx), 1.0, 1e-6);
    CHECK_NEAR(cdz_metrics_kl(dens, dens, G, dx), 0.0, 1e-9);
    /* two unit Gaussians 2 apart: OA = 2 Phi(-1) = 0.3173, KL = 2 nats */
    static double p[G], q[G];
    double a = 0, b = 2;
    CHECK(cdz_metrics_kde(&a, 1, 1.0, -8, 10, G, p, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_metrics_kde(&b, 1, 1.0, -8, 10, G, q, &err) == CDZ_OK, "%s", err.msg);
    double dq = 18.0 / (G - 1);
    CHECK_NEAR(cdz_metrics_overlap(p, q, G, dq), erfc(1 / sqrt(2.0)), 2e-3);
    CHECK_NEAR(cdz_metrics_kl(p, q, G, dq), 2.0, 2e-2);
    /* direction: KL(N(0, 0.5^2) || N(0, 1)) = ln 2 + 0.125 - 0.5; the other way -ln 2 + 2 - 0.5 */
    CHECK(cdz_metrics_kde(&a, 1, 0.5, -8, 10, G, p, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_metrics_kde(&a, 1, 1.0, -8, 10, G, q, &err) == CDZ_OK, "%s", err.msg);
    CHECK_NEAR(cdz_metrics_kl(p, q, G, dq), log(2.0) - 0.375, 2e-3);
    /* the other way the narrow kernel's cut at 6 bandwidths and the 1e-10 floor take 0.0074 off */
    CHECK_NEAR(cdz_metrics_kl(q, p, G, dq), 1.5 - log(2.0), 1e-2);
    CHECK(cdz_metrics_kde(s, N, 0, lo, hi, G, dens, &err) == CDZ_ERR_ARG, "bandwidth 0 refused");
    CHECK(cdz_metrics_kde(s, N, h, hi, lo, G, dens, &err) == CDZ_ERR_ARG, "empty grid refused");
}

/* A score of random notes: uniform pitches 21-108, onsets on a 16th grid, lengths 1-16 sixteenths. */
static void random_score(cdz_score *s, cdz_rng *r) {
    score_begin(s, 120, 4, 4);
    int n = 80 + (int)cdz_rng_below(r, 200);
    double t = 0;
    for (int i = 0; i < n; i++) {
        note(s, 21 + (int)cdz_rng_below(r, 88), t, 0.25 * (double)(1 + cdz_rng_below(r, 16)), 0);
        t += 0.25 * (double)cdz_rng_below(r, 5);
    }
    score_end(s);
}

static cdz_music_features *random_set(size_t n, uint64_t seed) {
    cdz_music_features *f = calloc(n, sizeof *f);
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        cdz_score s;
        random_score(&s, &r);
        f[i] = features_of(&s);
        cdz_score_free(&s);
    }
    return f;
}

static cdz_status compare_and_free(const cdz_music_features *a, size_t na, const cdz_music_features *b, size_t nb) {
    cdz_metrics_comparison c;
    cdz_metrics_params p = cdz_metrics_default_params();
    p.grid_points = 64;
    cdz_status st = cdz_metrics_compare(a, na, b, nb, &p, &c, NULL);
    if (st == CDZ_OK) cdz_metrics_comparison_free(&c);
    return st;
}

static cdz_score g_unsorted; /* built before allocations start failing */
static cdz_status compute_unsorted(void) {
    cdz_music_features f;
    return cdz_metrics_compute(&g_unsorted, &f, NULL);
}

static void test_compare(void) {
    enum { N = 12 };
    cdz_music_features *set = random_set(N, 1);
    cdz_metrics_comparison c;
    cdz_error err = {0};
    CHECK(cdz_metrics_compare(set, N, set, N, NULL, &c, &err) == CDZ_OK, "%s", err.msg);
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) {
        const cdz_metrics_row *r = &c.rows[f];
        const cdz_metrics_curve *cv = &c.curves[f];
        const char *name = cdz_metrics_describe(f)->name;
        /* the inter-set distances are each intra-set pair twice plus N zeros (a file with itself) */
        CHECK(fabs(r->intra_mean[0] - r->intra_mean[1]) < 1e-12, "%s: intra means differ", name);
        CHECK(fabs(r->inter_mean - r->intra_mean[0] * (N - 1) / N) < 1e-9 * (1 + r->inter_mean),
              "%s: inter mean %g, intra %g", name, r->inter_mean, r->intra_mean[0]);
        CHECK(r->oa > 0.85 && r->oa <= 1 + 1e-9, "%s: OA of a set with itself %g", name, r->oa);
        CHECK(r->kl >= -1e-9 && r->kl < 0.1, "%s: KL of a set with itself %g", name, r->kl);
        double dx = cv->x[1] - cv->x[0], m[3] = {0, 0, 0};
        for (size_t i = 0; i < cv->n; i++) m[0] += cv->intra[0][i] * dx, m[1] += cv->intra[1][i] * dx, m[2] += cv->inter[i] * dx;
        for (int k = 0; k < 3; k++) CHECK_NEAR(m[k], 1.0, 1e-6);
        CHECK(cv->n == 1024 && cv->bandwidth_inter > 0, "%s: curve", name);
    }
    CHECK(c.mean_oa > 0.9, "mean OA of a set with itself %g", c.mean_oa);
    CHECK_NEAR(c.mean[0].note_count, c.mean[1].note_count, 0);
    cdz_metrics_comparison_free(&c);
    cdz_metrics_comparison_free(&c); /* twice is harmless */

    /* zero variance: identical records in both sets -> every distance 0, OA 1, KL 0, nothing NaN */
    cdz_music_features same[3] = {set[0], set[0], set[0]};
    CHECK(cdz_metrics_compare(same, 3, same, 2, NULL, &c, &err) == CDZ_OK, "%s", err.msg);
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) {
        CHECK(fabs(c.rows[f].oa - 1) < 1e-6 && fabs(c.rows[f].kl) < 1e-6, "%s: OA %g KL %g", cdz_metrics_describe(f)->name,
              c.rows[f].oa, c.rows[f].kl);
    }
    cdz_metrics_comparison_free(&c);
    /* one set constant, the other spread: finite, and OA clearly below 1 */
    cdz_music_features *other = random_set(N, 2);
    CHECK(cdz_metrics_compare(same, 3, other, N, NULL, &c, &err) == CDZ_OK, "%s", err.msg);
    CHECK(isfinite(c.mean_kl) && c.mean_oa < 0.5, "constant vs spread: KL %g OA %g", c.mean_kl, c.mean_oa);
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) { /* rows from the curves: generated intra against inter */
        const cdz_metrics_curve *cv = &c.curves[f];
        double dx = cv->x[1] - cv->x[0];
        CHECK_NEAR(c.rows[f].kl, cdz_metrics_kl(cv->intra[0], cv->inter, cv->n, dx), 1e-12);
        CHECK_NEAR(c.rows[f].oa, cdz_metrics_overlap(cv->intra[0], cv->inter, cv->n, dx), 1e-12);
        CHECK_NEAR(c.rows[f].kl_ref, cdz_metrics_kl(cv->intra[1], cv->inter, cv->n, dx), 1e-12);
        CHECK_NEAR(c.rows[f].oa_ref, cdz_metrics_overlap(cv->intra[1], cv->inter, cv->n, dx), 1e-12);
        CHECK(c.rows[f].intra_mean[0] == 0, "%s: identical files are 0 apart", cdz_metrics_describe(f)->name);
    }
    /* per-number means and standard deviations of each set */
    CHECK_NEAR(c.mean[0].note_count, set[0].note_count, 1e-9);
    CHECK_NEAR(c.std[0].note_count, 0, 1e-9);
    double m = 0, v = 0;
    for (int i = 0; i < N; i++) m += other[i].pitch_class_histogram[3] / N;
    for (int i = 0; i < N; i++) v += (other[i].pitch_class_histogram[3] - m) * (other[i].pitch_class_histogram[3] - m);
    CHECK_NEAR(c.mean[1].pitch_class_histogram[3], m, 1e-12);
    CHECK_NEAR(c.std[1].pitch_class_histogram[3], sqrt(v / (N - 1)), 1e-12);
    cdz_metrics_comparison_free(&c);

    CHECK(cdz_metrics_compare(set, 1, set, N, NULL, &c, &err) == CDZ_ERR_ARG, "one file refused");
    CHECK_STR_CONTAINS(err.msg, "generated set has 1 file");
    cdz_metrics_params bad = cdz_metrics_default_params();
    bad.bandwidth_floor = 0;
    CHECK(cdz_metrics_compare(set, N, set, N, &bad, &c, &err) == CDZ_ERR_ARG, "floor 0 refused");

    /* a scale with a chord under it, so that sorting by (onset, pitch) has work to do */
    scale_score(&g_unsorted, 120);
    note(&g_unsorted, 48, 0, 4, 0);
    note(&g_unsorted, 36, 2, 4, 1);
    score_end(&g_unsorted);
    FAIL_EACH_ALLOCATION("cdz_metrics_compute", compute_unsorted());
    cdz_score_free(&g_unsorted);
    FAIL_EACH_ALLOCATION("cdz_metrics_compare", compare_and_free(set, 4, other, 3));
    free(set);
    free(other);

    cdz_music_features f;
    CHECK(cdz_metrics_read_file("/nonexistent/x.mid", &f, NULL, &err) != CDZ_OK, "missing file");
    CHECK_STR_CONTAINS(err.msg, "/nonexistent/x.mid");
}

/* ---- the corpus: halves of Nottingham against each other and against random notes ---- */
static void test_corpus(void) {
    const char *data = test_data_dir();
    if (!data) {
        printf("test_metrics: no corpora (../shared/data or $CADENZA_DATA): corpus checks skipped\n");
        return;
    }
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/nottingham/full", data);
    char **paths = NULL;
    size_t n = 0;
    cdz_error err = {0};
    if (cdz_file_list(dir, ".mid", &paths, &n, &err) != CDZ_OK || n < 40) {
        printf("test_metrics: %s not readable (%s): corpus checks skipped\n", dir, err.msg);
        if (paths) cdz_file_list_free(paths, n);
        return;
    }
    enum { K = 40 };
    cdz_music_features half[2][K / 2];
    size_t got[2] = {0, 0};
    for (size_t i = 0; i < K; i++) { /* 40 tunes evenly spread over the sorted list, alternating halves */
        const char *path = paths[i * n / K];
        size_t notes = 0;
        CHECK(cdz_metrics_read_file(path, &half[i % 2][got[i % 2]], &notes, &err) == CDZ_OK, "%s", err.msg);
        if (notes > 0) got[i % 2]++;
    }
    cdz_file_list_free(paths, n);
    CHECK(got[0] == K / 2 && got[1] == K / 2, "read %zu + %zu tunes", got[0], got[1]);
    if (got[0] < 2 || got[1] < 2) return;
    cdz_music_features *noise = random_set(K / 2, 12345);
    cdz_metrics_comparison same, diff;
    CHECK(cdz_metrics_compare(half[0], got[0], half[1], got[1], NULL, &same, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_metrics_compare(noise, K / 2, half[1], got[1], NULL, &diff, &err) == CDZ_OK, "%s", err.msg);
    printf("nottingham halves: mean OA %.4f, mean KL %.4f; random notes vs nottingham: mean OA %.4f, mean KL %.4f\n",
           same.mean_oa, same.mean_kl, diff.mean_oa, diff.mean_kl);
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++)
        printf("  %-26s OA %.3f / %.3f\n", cdz_metrics_describe(f)->name, same.rows[f].oa, diff.rows[f].oa);
    /* Measured (20 + 20 tunes of nottingham/full, 20 random scores from seed 12345): halves mean OA
     * 0.9145 (every feature 0.87-0.94), KL 0.048; random notes against the corpus mean OA 0.1733 (0.000
     * for the pitch histograms, lengths, range, entropy, scale; 0.85-0.93 only for polyphony and its
     * rate), KL 12.1. */
    CHECK(same.mean_oa > 0.8, "halves of one corpus overlap by %g", same.mean_oa);
    CHECK(same.mean_kl < 0.2, "halves of one corpus: KL %g", same.mean_kl);
    CHECK(diff.mean_oa < 0.4 && diff.mean_oa < same.mean_oa - 0.4, "random notes overlap the corpus by %g (halves: %g)",
          diff.mean_oa, same.mean_oa);
    CHECK(diff.mean_kl > 5, "KL random %g, halves %g", diff.mean_kl, same.mean_kl);
    /* features that separate them on their own: the pitch-class histogram and scale consistency */
    CHECK(diff.rows[CDZ_METRICS_PITCH_CLASS_HISTOGRAM].oa < 0.3, "PCH OA %g",
          diff.rows[CDZ_METRICS_PITCH_CLASS_HISTOGRAM].oa);
    CHECK(diff.mean[0].scale_consistency < 0.8 && same.mean[0].scale_consistency > 0.9,
          "scale consistency random %g, folk %g", diff.mean[0].scale_consistency, same.mean[0].scale_consistency);
    cdz_metrics_comparison_free(&same);
    cdz_metrics_comparison_free(&diff);
    free(noise);
}

int main(void) {
    test_feature_table();
    test_scale();
    test_chord();
    test_silence_and_groove();
    test_lengths_and_scale();
    test_kde();
    test_compare();
    test_corpus();
    return test_summary("test_metrics");
}

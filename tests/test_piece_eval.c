/* Long-piece measures and the style classifier (cadenza/piece_eval.h): stability figures on scores
 * built here with known answers (silence, a repeated bar, per-minute density, bar lines under changing
 * meters), the classifier on two synthetic styles, its model file (round trip, corrupt files), every
 * allocation failing in turn, and the CLI's errors when the program is beside the test (build/cadenza). */
#include <math.h>
#include <unistd.h>

#include "cadenza/piece_eval.h"
#include "test.h"

enum { PPQ = 480, BAR = 4 * PPQ };

static void begin(cdz_score *s, double qpm) {
    cdz_error err = {0};
    CHECK(cdz_score_init(s, PPQ, &err) == CDZ_OK, "%s", err.msg);
    cdz_score_add_tempo(s, 0, qpm);
    cdz_score_add_time_signature(s, 0, 4, 4);
}

static void finish(cdz_score *s) {
    cdz_error err = {0};
    CHECK(cdz_score_finish(s, &err) == CDZ_OK, "%s", err.msg);
}

static cdz_piece_stability stability(const cdz_score *s) {
    cdz_piece_stability st;
    cdz_error err = {0};
    CHECK(cdz_piece_stability_compute(s, &st, &err) == CDZ_OK, "%s", err.msg);
    return st;
}

/* A bar of a walking figure that differs from bar to bar: four quarter notes from `root`. */
static void varied_bar(cdz_score *s, int64_t bar, int root) {
    for (int q = 0; q < 4; q++)
        cdz_score_add_note(s, 0, 0, 0, (uint8_t)(root + (q * 5 + (int)bar * 3) % 12), 80, bar * BAR + q * PPQ,
                           bar * BAR + (q + 1) * PPQ);
}

static void test_silence(void) {
    cdz_score s;
    begin(&s, 120);
    for (int b = 0; b < 10; b++) varied_bar(&s, b, 60);
    for (int b = 30; b < 40; b++) varied_bar(&s, b, 60);
    finish(&s);
    cdz_piece_stability st = stability(&s);
    CHECK_INT(st.n_bars, 40);
    CHECK_INT(st.longest_silence_bars, 20);
    CHECK_INT(st.silence_start_bar, 10);
    CHECK_INT(st.longest_loop_bars, 1);
    cdz_piece_stability_free(&st);
    /* a note held from bar 9 over bars 10-12 sounds there: 17 silent bars from bar 13 */
    cdz_score_add_note(&s, 1, 1, 48, 40, 70, 9 * BAR, 13 * BAR);
    finish(&s);
    st = stability(&s);
    CHECK_INT(st.longest_silence_bars, 17);
    CHECK_INT(st.silence_start_bar, 13);
    cdz_piece_stability_free(&st);
    cdz_score_free(&s);
    /* silence before the first note counts; an empty score has none */
    begin(&s, 120);
    varied_bar(&s, 5, 60);
    finish(&s);
    st = stability(&s);
    CHECK_INT(st.longest_silence_bars, 5);
    CHECK_INT(st.silence_start_bar, 0);
    cdz_piece_stability_free(&st);
    cdz_score_free(&s);
    begin(&s, 120);
    finish(&s);
    st = stability(&s);
    CHECK_INT(st.n_minutes, 0);
    CHECK_INT(st.longest_silence_bars, 0);
    CHECK_INT(st.longest_loop_bars, 0);
    CHECK_INT(st.lowest, -1);
    cdz_piece_stability_free(&st);
    cdz_piece_stability_free(&st); /* safe twice */
    cdz_score_free(&s);
}

/* One bar's content: a chord, a bass note, an off-beat drum pattern. */
static void loop_bar(cdz_score *s, int64_t bar, int velocity) {
    int64_t t = bar * BAR;
    cdz_score_add_note(s, 0, 0, 0, 60, (uint8_t)velocity, t, t + 2 * PPQ);
    cdz_score_add_note(s, 0, 0, 0, 64, (uint8_t)velocity, t, t + 2 * PPQ);
    cdz_score_add_note(s, 0, 0, 0, 67, (uint8_t)velocity, t + 2 * PPQ, t + BAR);
    cdz_score_add_note(s, 1, 1, 32, 36, 90, t, t + BAR);
    for (int e = 1; e < 8; e += 2) cdz_score_add_note(s, 2, 9, 0, 42, 70, t + e * PPQ / 2, t + e * PPQ / 2 + 60);
}

static void test_loop(void) {
    cdz_score s;
    begin(&s, 120);
    for (int b = 0; b < 4; b++) varied_bar(&s, b, 60);
    for (int b = 4; b < 16; b++) loop_bar(&s, b, 60 + b); /* velocity changes do not break a loop */
    varied_bar(&s, 16, 50);
    for (int b = 17; b < 20; b++) loop_bar(&s, b, 80);
    finish(&s);
    cdz_piece_stability st = stability(&s);
    CHECK_INT(st.longest_loop_bars, 12);
    CHECK_INT(st.loop_start_bar, 4);
    CHECK_INT(st.longest_silence_bars, 0);
    CHECK_INT(st.silence_start_bar, -1);
    cdz_piece_stability_free(&st);
    /* one note moved in bar 10 breaks the run into 6 (bars 4-9) and 5 (bars 11-15) */
    cdz_score t;
    cdz_error err = {0};
    CHECK(cdz_score_copy(&t, &s, &err) == CDZ_OK, "%s", err.msg);
    for (size_t i = 0; i < t.n_notes; i++)
        if (t.notes[i].start_tick == 10 * BAR && t.notes[i].pitch == 64) t.notes[i].pitch = 63;
    finish(&t);
    st = stability(&t);
    CHECK_INT(st.longest_loop_bars, 6);
    CHECK_INT(st.loop_start_bar, 4);
    cdz_piece_stability_free(&st);
    cdz_score_free(&t);
    /* a different instrument playing the same notes is different content */
    CHECK(cdz_score_copy(&t, &s, &err) == CDZ_OK, "%s", err.msg);
    for (size_t i = 0; i < t.n_notes; i++)
        if (t.notes[i].start_tick == 12 * BAR && t.notes[i].track == 1) t.notes[i].program = 33;
    finish(&t);
    st = stability(&t);
    CHECK_INT(st.longest_loop_bars, 8);
    CHECK_INT(st.loop_start_bar, 4);
    cdz_piece_stability_free(&st);
    cdz_score_free(&t);
    cdz_score_free(&s);
}

/* Bars under changing meters, with a signature inside a bar: the bar lines must be
 * cdz_score_bar_to_tick's. Each bar gets one note at its start except bars 7-12 (silent) and a run of
 * bars 14-17 with the same content (the same meter). */
static void test_meters(void) {
    cdz_score s;
    begin(&s, 100);
    cdz_score_add_time_signature(&s, 2 * BAR + PPQ, 3, 4); /* inside bar 2: it ends there */
    cdz_score_add_time_signature(&s, 2 * BAR + PPQ + 4 * 3 * PPQ, 6, 8);
    cdz_score_add_time_signature(&s, 2 * BAR + PPQ + 4 * 3 * PPQ + 5 * 3 * PPQ, 5, 4);
    finish(&s);
    for (int64_t b = 0; b < 20; b++) {
        int64_t t = cdz_score_bar_to_tick(&s, b), len = cdz_score_bar_to_tick(&s, b + 1) - t;
        if (b >= 7 && b <= 12) continue;
        int same = b >= 14 && b <= 17;
        cdz_score_add_note(&s, 0, 0, 0, (uint8_t)(same ? 72 : 50 + b), 80, t, t + len / 2);
    }
    finish(&s);
    cdz_piece_stability st = stability(&s);
    CHECK_INT(st.n_bars, 20);
    CHECK_INT(st.longest_silence_bars, 6);
    CHECK_INT(st.silence_start_bar, 7);
    CHECK_INT(st.longest_loop_bars, 4);
    CHECK_INT(st.loop_start_bar, 14);
    cdz_piece_stability_free(&st);
    cdz_score_free(&s);
}

static void test_minutes(void) {
    /* 120 qpm: minute 1 a quarter note each beat (120 notes, 2/s, pitches 60-67); minute 2 eighths (240,
     * 4/s, 48-72); then 30 s of a second instrument in quarters (60) and a drum each beat (60): 4/s, 2
     * instruments, pitches 55-55 */
    cdz_score s;
    begin(&s, 120);
    for (int i = 0; i < 120; i++) cdz_score_add_note(&s, 0, 0, 0, (uint8_t)(60 + i % 8), 80, i * PPQ, (i + 1) * PPQ);
    for (int i = 0; i < 240; i++)
        cdz_score_add_note(&s, 0, 0, 0, (uint8_t)(i % 2 ? 48 : 72), 80, 120 * PPQ + i * PPQ / 2,
                           120 * PPQ + (i + 1) * PPQ / 2);
    for (int i = 0; i < 60; i++) {
        cdz_score_add_note(&s, 1, 1, 40, 55, 80, (240 + i) * PPQ, (241 + i) * PPQ);
        cdz_score_add_note(&s, 2, 9, 0, 36, 80, (240 + i) * PPQ, (240 + i) * PPQ + 100);
    }
    finish(&s);
    cdz_piece_stability st = stability(&s);
    CHECK_INT(st.n_minutes, 3);
    CHECK_NEAR(st.duration_s, 150, 1e-9);
    CHECK_INT(st.n_notes, 480);
    CHECK_INT(st.instruments, 3);
    if (st.n_minutes == 3) {
        const cdz_piece_minute *m = st.minutes;
        CHECK_INT(m[0].notes, 120);
        CHECK_NEAR(m[0].notes_per_s, 2.0, 1e-12);
        CHECK_INT(m[1].notes, 240);
        CHECK_NEAR(m[1].notes_per_s, 4.0, 1e-12);
        CHECK_INT(m[2].notes, 120);
        CHECK_NEAR(m[2].end_s - m[2].start_s, 30, 1e-9);
        CHECK_NEAR(m[2].notes_per_s, 4.0, 1e-12);
        CHECK_INT(m[0].instruments, 1);
        CHECK_INT(m[1].instruments, 1);
        CHECK_INT(m[2].instruments, 2);
        CHECK_INT(m[0].lowest, 60);
        CHECK_INT(m[0].highest, 67);
        CHECK_INT(m[0].span, 7);
        CHECK_INT(m[1].lowest, 48);
        CHECK_INT(m[1].highest, 72);
        CHECK_INT(m[2].lowest, 55);
        CHECK_INT(m[2].span, 0);
        /* densities 2, 4, 4: mean 10/3, population sd sqrt(8/9) */
        CHECK_INT(st.n_cv_minutes, 3);
        CHECK_NEAR(st.cv_notes_per_s, sqrt(8.0 / 9.0) / (10.0 / 3.0), 1e-12);
        /* instruments 1, 1, 2: mean 4/3, sd sqrt(2/9); spans 7, 24, 0 */
        CHECK_NEAR(st.cv_instruments, sqrt(2.0 / 9.0) / (4.0 / 3.0), 1e-12);
        double mean = 31.0 / 3, var = ((7 - mean) * (7 - mean) + (24 - mean) * (24 - mean) + mean * mean) / 3;
        CHECK_NEAR(st.cv_span, sqrt(var) / mean, 1e-12);
    }
    CHECK_INT(st.lowest, 48);
    CHECK_INT(st.highest, 72);
    cdz_piece_stability_free(&st);
    /* five notes from 180 s, one each 2 s, to 188.5 s: the third minute is now whole (120 notes, 2/s)
     * and the last window, 8.5 s, is left out of the variation */
    for (int i = 0; i < 5; i++) cdz_score_add_note(&s, 0, 0, 0, 60, 80, (360 + 4 * i) * PPQ, (361 + 4 * i) * PPQ);
    finish(&s);
    st = stability(&s);
    CHECK_INT(st.n_minutes, 4);
    CHECK_INT(st.n_cv_minutes, 3);
    CHECK_NEAR(st.duration_s, 188.5, 1e-9);
    if (st.n_minutes == 4) {
        CHECK_NEAR(st.minutes[2].notes_per_s, 2.0, 1e-12);
        CHECK_NEAR(st.minutes[3].notes_per_s, 5 / 8.5, 1e-12);
    }
    /* densities 2, 4, 2: mean 8/3, population sd sqrt(8/9) */
    CHECK_NEAR(st.cv_notes_per_s, sqrt(8.0 / 9.0) / (8.0 / 3.0), 1e-12);
    cdz_piece_stability_free(&st);
    cdz_score_free(&s);
}

/* ---- the classifier ---- */

/* style 0: fast chromatic lines (16ths, semitones and leaps, every pitch class), 150 qpm;
 * style 1: slow diatonic chorale (half and quarter notes in a major key, stepwise, with a chord), 70 qpm.
 * Each piece in its own key and instrument, so only the writing tells them apart. */
static void synthetic_piece(cdz_score *s, int style, uint64_t seed) {
    static const int major[7] = {0, 2, 4, 5, 7, 9, 11};
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    int key = (int)cdz_rng_below(&r, 12), program = (int)cdz_rng_below(&r, 80);
    begin(s, style ? 70 : 150);
    int64_t t = 0;
    int p = 60 + key, deg = 0;
    while (t < 16 * BAR) {
        if (style == 0) {
            int step = (int)cdz_rng_below(&r, 7) - 3;
            p += step ? step : 1;
            if (cdz_rng_below(&r, 6) == 0) p += cdz_rng_below(&r, 2) ? 8 : -9;
            if (p < 48) p += 12;
            if (p > 84) p -= 12;
            cdz_score_add_note(s, 0, 0, (uint8_t)program, (uint8_t)p, 90, t, t + PPQ / 4);
            t += PPQ / 4;
        } else {
            deg += (int)cdz_rng_below(&r, 3) - 1;
            if (deg < 0) deg = 1;
            if (deg > 9) deg = 8;
            int pitch = 60 + key + 12 * (deg / 7) + major[deg % 7];
            int64_t len = cdz_rng_below(&r, 2) ? 2 * PPQ : PPQ;
            cdz_score_add_note(s, 0, 0, (uint8_t)program, (uint8_t)pitch, 80, t, t + len);
            cdz_score_add_note(s, 1, 1, (uint8_t)program, (uint8_t)(48 + key), 70, t, t + len);
            cdz_score_add_note(s, 1, 1, (uint8_t)program, (uint8_t)(48 + key + 7), 70, t, t + len);
            t += len;
        }
    }
    finish(s);
}

enum { PER_STYLE = 12 };

static void features_of(int style, uint64_t seed, double *x) {
    cdz_score s;
    cdz_error err = {0};
    synthetic_piece(&s, style, seed);
    CHECK(cdz_piece_features(&s, x, &err) == CDZ_OK, "%s", err.msg);
    for (int f = 0; f < CDZ_PIECE_N_FEATURES; f++)
        CHECK(isfinite(x[f]), "style %d seed %llu: feature %s = %g", style, (unsigned long long)seed,
              cdz_piece_feature_name(f), x[f]);
    cdz_score_free(&s);
}

static void test_features(void) {
    for (int f = 0; f < CDZ_PIECE_N_FEATURES; f++) CHECK(cdz_piece_feature_name(f) != NULL, "feature %d has no name", f);
    CHECK(cdz_piece_feature_name(CDZ_PIECE_N_FEATURES) == NULL, "a name past the end");
    /* the C major scale in quarter notes: key C major, everything on the beat, steps of 1 and 2 */
    cdz_score s;
    begin(&s, 120);
    static const int scale[8] = {60, 62, 64, 65, 67, 69, 71, 72};
    for (int i = 0; i < 8; i++) cdz_score_add_note(&s, 0, 0, 0, (uint8_t)scale[i], 80, i * PPQ, (i + 1) * PPQ);
    cdz_score_add_note(&s, 1, 9, 0, 36, 80, 0, 100); /* drums are left out */
    finish(&s);
    double x[CDZ_PIECE_N_FEATURES], y[CDZ_PIECE_N_FEATURES];
    cdz_error err = {0};
    CHECK(cdz_piece_features(&s, x, &err) == CDZ_OK, "%s", err.msg);
    CHECK_NEAR(x[0], 2.0 / 8, 1e-12); /* C twice of 8 equal lengths: the tonic */
    CHECK_NEAR(x[12], 0, 0);          /* major */
    CHECK_NEAR(x[14 + 1] + x[14 + 2], 1, 1e-12); /* top voice: semitone and tone steps only */
    CHECK_NEAR(x[47], 1, 1e-12);      /* every onset on a beat */
    CHECK_NEAR(x[55], 0, 0);          /* no chromatic note */
    CHECK_NEAR(x[57], 1, 1e-12);      /* range 12 semitones */
    CHECK_NEAR(x[59], log(120.0), 1e-9);
    CHECK_NEAR(x[67], 1, 0); /* one pitch class sounds at each onset */
    for (int ic = 0; ic < 6; ic++) CHECK_NEAR(x[61 + ic], 0, 0);
    /* transposed, the same features but the pitch spread's centre: key-relative */
    cdz_score t;
    CHECK(cdz_score_copy(&t, &s, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_score_transpose(&t, 5, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_piece_features(&t, y, &err) == CDZ_OK, "%s", err.msg);
    for (int f = 0; f < CDZ_PIECE_N_FEATURES; f++)
        CHECK(fabs(x[f] - y[f]) < 1e-12, "transposed: %s %g, was %g", cdz_piece_feature_name(f), y[f], x[f]);
    cdz_score_free(&t);
    cdz_score_free(&s);
    /* C major triads, then a held C under D: interval classes 3, 4, 5 in every onset, 2 in one of three */
    begin(&s, 120);
    for (int i = 0; i < 2; i++) {
        cdz_score_add_note(&s, 0, 0, 0, 60, 80, i * PPQ, (i + 1) * PPQ);
        cdz_score_add_note(&s, 0, 0, 0, 64, 80, i * PPQ, (i + 1) * PPQ);
        cdz_score_add_note(&s, 1, 1, 0, 67, 80, i * PPQ, (i + 1) * PPQ);
    }
    cdz_score_add_note(&s, 0, 0, 0, 48, 80, 2 * PPQ, 4 * PPQ);
    cdz_score_add_note(&s, 1, 1, 0, 74, 80, 3 * PPQ, 4 * PPQ);
    finish(&s);
    CHECK(cdz_piece_features(&s, x, &err) == CDZ_OK, "%s", err.msg);
    CHECK_NEAR(x[61 + 2], 2.0 / 3, 1e-12); /* ic 3: the two triads of three onsets with 2+ classes */
    CHECK_NEAR(x[61 + 1], 1.0 / 3, 1e-12); /* ic 2: C under D */
    CHECK_NEAR(x[61 + 0], 0, 0);
    CHECK_NEAR(x[61 + 5], 0, 0);
    CHECK_NEAR(x[67], (3 + 3 + 1 + 2) / 4.0, 1e-12);
    cdz_score_free(&s);
    /* drums alone: no pitched notes */
    begin(&s, 120);
    cdz_score_add_note(&s, 1, 9, 0, 36, 80, 0, 100);
    finish(&s);
    CHECK(cdz_piece_features(&s, x, &err) == CDZ_ERR_ARG, "drums only: status %d", err.status);
    cdz_score_free(&s);
}

static void test_classifier(const char *dir) {
    double *x = calloc(4 * PER_STYLE * CDZ_PIECE_N_FEATURES, sizeof *x);
    int32_t y[4 * PER_STYLE];
    for (int i = 0; i < 4 * PER_STYLE; i++) {
        y[i] = i % 2;
        features_of(y[i], 1000 + (uint64_t)i, x + (size_t)i * CDZ_PIECE_N_FEATURES);
    }
    /* train on the first half, test on the second */
    const char *labels[2] = {"chromatic fast", "diatonic slow"};
    cdz_piece_style_model m, back;
    cdz_error err = {0};
    cdz_piece_style_params p = cdz_piece_style_default_params();
    CHECK(cdz_piece_style_train(&m, x, y, 2 * PER_STYLE, labels, 2, &p, &err) == CDZ_OK, "%s", err.msg);
    CHECK_NEAR(m.train_accuracy, 1, 0);
    int right = 0;
    for (int i = 2 * PER_STYLE; i < 4 * PER_STYLE; i++) {
        double prob[2];
        int32_t k = cdz_piece_style_predict(&m, x + (size_t)i * CDZ_PIECE_N_FEATURES, prob);
        right += k == y[i];
        CHECK_NEAR(prob[0] + prob[1], 1, 1e-12);
    }
    CHECK(right == 2 * PER_STYLE, "held-out accuracy %d of %d", right, 2 * PER_STYLE);
    printf("classifier: %d of %d held-out synthetic pieces right, training loss %.4f\n", right, 2 * PER_STYLE,
           m.train_loss);
    /* save, load, the same predictions to the bit */
    char path[4200], bad[4200];
    snprintf(path, sizeof path, "%s/style.json", dir);
    CHECK(cdz_piece_style_save(&m, path, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_piece_style_load(&back, path, &err) == CDZ_OK, "%s", err.msg);
    CHECK_INT(back.n_classes, 2);
    CHECK(strcmp(back.labels[1], "diatonic slow") == 0, "label %s", back.labels[1]);
    CHECK_INT(back.n_train, 2 * PER_STYLE);
    int same = 1;
    for (int i = 0; i < 4 * PER_STYLE; i++) {
        double a[2], b[2];
        const double *xi = x + (size_t)i * CDZ_PIECE_N_FEATURES;
        same &= cdz_piece_style_predict(&m, xi, a) == cdz_piece_style_predict(&back, xi, b);
        same &= a[0] == b[0] && a[1] == b[1];
    }
    CHECK(same, "the loaded model predicts differently");
    cdz_piece_style_free(&back);
    /* corrupt files are refused, naming the file */
    static const char *const corrupt[] = {
        "{\"format\": \"cadenza-style\", \"version\": 1, \"features\": [",                  /* truncated */
        "{\"format\": \"something else\", \"version\": 1}",                                /* not a model */
        "{\"format\": \"cadenza-style\", \"version\": 2}",                                 /* a later version */
        "{\"format\": \"cadenza-style\", \"version\": 1, \"features\": [\"pc_rel_0\"]}",   /* another feature set */
        "[1, 2, 3]",
    };
    snprintf(bad, sizeof bad, "%s/bad.json", dir);
    for (size_t c = 0; c < sizeof corrupt / sizeof *corrupt; c++) {
        FILE *f = fopen(bad, "wb");
        fputs(corrupt[c], f);
        fclose(f);
        cdz_status st = cdz_piece_style_load(&back, bad, &err);
        CHECK(st != CDZ_OK, "corrupt model %zu was loaded", c);
        if (st != CDZ_OK) CHECK_STR_CONTAINS(err.msg, bad);
        CHECK(back.weights == NULL, "corrupt model %zu: memory left in the model", c);
    }
    /* the saved model with one weight broken, and with a label missing */
    char text[65536];
    test_slurp(path, text, sizeof text);
    char *w = strstr(text, "\"weights\": [\n    [");
    CHECK(w != NULL, "no weights in the saved model");
    if (w) {
        w += strlen("\"weights\": [\n    [");
        *w = 'x';
        FILE *f = fopen(bad, "wb");
        fputs(text, f);
        fclose(f);
        CHECK(cdz_piece_style_load(&back, bad, &err) == CDZ_ERR_FORMAT, "a broken weight was read");
        CHECK_STR_CONTAINS(err.msg, bad);
    }
    test_slurp(path, text, sizeof text);
    char *l = strstr(text, "\"labels\": [\"chromatic fast\", ");
    if (l) {
        memmove(l + strlen("\"labels\": ["), l + strlen("\"labels\": [\"chromatic fast\", "),
                strlen(l + strlen("\"labels\": [\"chromatic fast\", ")) + 1);
        FILE *f = fopen(bad, "wb");
        fputs(text, f);
        fclose(f);
        CHECK(cdz_piece_style_load(&back, bad, &err) != CDZ_OK, "a model with one label too few was read");
        CHECK_STR_CONTAINS(err.msg, bad);
    }
    snprintf(bad, sizeof bad, "%s/missing.json", dir);
    CHECK(cdz_piece_style_load(&back, bad, &err) == CDZ_ERR_IO, "a missing model: status %d", err.status);
    CHECK_STR_CONTAINS(err.msg, "missing.json");
    /* bad training input */
    int32_t y_bad[2] = {0, 5};
    CHECK(cdz_piece_style_train(&back, x, y_bad, 2, labels, 2, &p, &err) == CDZ_ERR_ARG, "label out of range");
    CHECK(cdz_piece_style_train(&back, x, y, 2, labels, 1, &p, &err) == CDZ_ERR_ARG, "one label");
    x[3] = NAN;
    CHECK(cdz_piece_style_train(&back, x, y, 2, labels, 2, &p, &err) == CDZ_ERR_ARG, "a NaN feature");
    CHECK_STR_CONTAINS(err.msg, "example 0");
    cdz_piece_style_free(&m);
    free(x);
}

/* ---- allocation failures ---- */
static cdz_score g_score;
static cdz_status op_stability(void) {
    cdz_piece_stability st;
    cdz_status s = cdz_piece_stability_compute(&g_score, &st, NULL);
    cdz_piece_stability_free(&st);
    return s;
}
static cdz_status op_features(void) {
    double x[CDZ_PIECE_N_FEATURES];
    return cdz_piece_features(&g_score, x, NULL);
}
static const char *g_model_path;
static cdz_status op_train_save_load(void) {
    double x[4 * CDZ_PIECE_N_FEATURES];
    int32_t y[4] = {0, 1, 0, 1};
    const char *labels[2] = {"a", "b"};
    for (int i = 0; i < 4 * CDZ_PIECE_N_FEATURES; i++) x[i] = (i * 7919 % 113) / 113.0 + (i / CDZ_PIECE_N_FEATURES) % 2;
    cdz_piece_style_params p = cdz_piece_style_default_params();
    p.steps = 5;
    cdz_piece_style_model m, back;
    cdz_status s = cdz_piece_style_train(&m, x, y, 4, labels, 2, &p, NULL);
    if (s != CDZ_OK) return s;
    s = cdz_piece_style_save(&m, g_model_path, NULL);
    if (s == CDZ_OK) s = cdz_piece_style_load(&back, g_model_path, NULL);
    if (s == CDZ_OK) cdz_piece_style_free(&back);
    cdz_piece_style_free(&m);
    return s;
}

static void test_allocation_failures(const char *dir) {
    cdz_score s;
    begin(&s, 120);
    for (int b = 0; b < 6; b++) loop_bar(&s, b, 80);
    varied_bar(&s, 8, 60);
    finish(&s);
    g_score = s;
    FAIL_EACH_ALLOCATION("stability", op_stability());
    FAIL_EACH_ALLOCATION("features", op_features());
    static char path[4200];
    snprintf(path, sizeof path, "%s/alloc.json", dir);
    g_model_path = path;
    FAIL_EACH_ALLOCATION("train, save, load", op_train_save_load());
    cdz_score_free(&s);
}

/* ---- the CLI, when build/cadenza is beside this test's folder ---- */
static void test_cli(const char *argv0, const char *dir) {
    char prog[2048], cmd[8192], out[16384], errt[4096], o[2100], e[2100];
    const char *slash = strrchr(argv0, '/');
    snprintf(prog, sizeof prog, "%.*s/../cadenza", slash ? (int)(slash - argv0) : 1, slash ? argv0 : ".");
    if (access(prog, X_OK) != 0) {
        printf("cli: %s not built: skipped\n", prog);
        return;
    }
    snprintf(o, sizeof o, "%s/out.txt", dir);
    snprintf(e, sizeof e, "%s/err.txt", dir);
    /* missing inputs: exit status 1 and the path named */
    snprintf(cmd, sizeof cmd, "%s eval stability %s/nothing.mid", prog, dir);
    CHECK_INT(test_shell(cmd, o, e, out, sizeof out, errt, sizeof errt), 1);
    CHECK_STR_CONTAINS(errt, "nothing.mid");
    snprintf(cmd, sizeof cmd, "%s eval style predict --model %s/nomodel.json %s", prog, dir, dir);
    CHECK_INT(test_shell(cmd, o, e, out, sizeof out, errt, sizeof errt), 1);
    CHECK_STR_CONTAINS(errt, "nomodel.json");
    snprintf(cmd, sizeof cmd, "%s eval style train --out %s/m.json fast=%s/nodir slow=%s/nodir2", prog, dir, dir, dir);
    CHECK_INT(test_shell(cmd, o, e, out, sizeof out, errt, sizeof errt), 1);
    CHECK_STR_CONTAINS(errt, "nodir");
    snprintf(cmd, sizeof cmd, "%s eval style train --out %s/m.json --index %s/noindex.json", prog, dir, dir);
    CHECK_INT(test_shell(cmd, o, e, out, sizeof out, errt, sizeof errt), 1);
    CHECK_STR_CONTAINS(errt, "noindex.json");
    snprintf(cmd, sizeof cmd, "%s eval style train %s", prog, dir);
    CHECK_INT(test_shell(cmd, o, e, out, sizeof out, errt, sizeof errt), 2); /* no --out */
    /* a piece with 20 silent bars and a bar played 12 times */
    cdz_score s;
    cdz_error err = {0};
    begin(&s, 120);
    for (int b = 0; b < 12; b++) loop_bar(&s, b, 80);
    for (int b = 32; b < 36; b++) varied_bar(&s, b, 60);
    finish(&s);
    char mid[2100];
    snprintf(mid, sizeof mid, "%s/piece.mid", dir);
    CHECK(cdz_score_write_file(&s, mid, 1, &err) == CDZ_OK, "%s", err.msg);
    cdz_score_free(&s);
    snprintf(cmd, sizeof cmd, "%s eval stability %s", prog, mid);
    CHECK_INT(test_shell(cmd, o, e, out, sizeof out, errt, sizeof errt), 0);
    CHECK_STR_CONTAINS(out, "longest silence: 20 bars (bars 13-32)");
    CHECK_STR_CONTAINS(out, "repeated: 12 bars (bars 1-12)");
    snprintf(cmd, sizeof cmd, "%s eval stability %s --json --max-silence 8 --max-loop 8", prog, mid);
    CHECK_INT(test_shell(cmd, o, e, out, sizeof out, errt, sizeof errt), 1);
    CHECK_STR_CONTAINS(out, "\"longest_silence_bars\":20");
    CHECK_STR_CONTAINS(out, "\"pass\":false");
    /* train on folders of two synthetic styles, predict the held-out files */
    for (int style = 0; style < 2; style++) {
        char sub[2060];
        snprintf(sub, sizeof sub, "%s/%s", dir, style ? "slow" : "fast");
        snprintf(cmd, sizeof cmd, "mkdir -p %s", sub);
        CHECK_INT(system(cmd), 0);
        for (int i = 0; i < 10; i++) {
            synthetic_piece(&s, style, 5000 + (uint64_t)(20 * style + i));
            snprintf(mid, sizeof mid, "%s/p%02d.mid", sub, i);
            CHECK(cdz_score_write_file(&s, mid, 1, &err) == CDZ_OK, "%s", err.msg);
            cdz_score_free(&s);
        }
    }
    snprintf(cmd, sizeof cmd, "%s eval style train --out %s/m.json --every 2 --complement --min-files 3 fast=%s/fast slow=%s/slow",
             prog, dir, dir, dir);
    CHECK_INT(test_shell(cmd, o, e, out, sizeof out, errt, sizeof errt), 0);
    CHECK_STR_CONTAINS(out, "trained on 10 files");
    snprintf(cmd, sizeof cmd, "%s eval style predict --model %s/m.json --every 2 fast=%s/fast slow=%s/slow", prog, dir,
             dir, dir);
    CHECK_INT(test_shell(cmd, o, e, out, sizeof out, errt, sizeof errt), 0);
    CHECK_STR_CONTAINS(out, "accuracy on the 10 files with a known label: 100.0%");
    snprintf(cmd, sizeof cmd, "%s eval style predict --model %s/m.json --quiet --expect slow %s/slow", prog, dir, dir);
    CHECK_INT(test_shell(cmd, o, e, out, sizeof out, errt, sizeof errt), 0);
    CHECK_STR_CONTAINS(out, "recognised as slow: 10 of 10 (100.0%)");
    snprintf(cmd, sizeof cmd, "%s eval style predict --model %s/m.json --expect baroque %s/slow", prog, dir, dir);
    CHECK_INT(test_shell(cmd, o, e, out, sizeof out, errt, sizeof errt), 2);
    CHECK_STR_CONTAINS(errt, "fast, slow");
}

int main(int argc, char **argv) {
    (void)argc;
    char dir[] = "/tmp/cadenza_piece_eval_XXXXXX";
    if (!mkdtemp(dir)) {
        printf("cannot make a temporary folder\n");
        return 1;
    }
    test_silence();
    test_loop();
    test_meters();
    test_minutes();
    test_features();
    test_classifier(dir);
    test_allocation_failures(dir);
    test_cli(argv[0], dir);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
    return test_summary("test_piece_eval");
}

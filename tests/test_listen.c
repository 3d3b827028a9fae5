/* What a listener hears first (cadenza/listen.h): repetition, pulse, note endings, harmony of two-part
 * music and the paired measures, each on small scores built here with the values worked out by hand in
 * the comments; the random baseline, summaries, the self-similarity picture, allocation failures, and,
 * when the corpora are present, Nottingham and POP909 against random notes. */
#include <math.h>
#include <unistd.h>

#include "test.h"
#include "cadenza/listen.h"

enum { PPQ = 480 };

/* A score at `qpm` (a beat lasts 60/qpm s) with one time signature at tick 0. */
static void begin(cdz_score *s, double qpm, int num, int den) {
    cdz_error err = {0};
    CHECK(cdz_score_init(s, PPQ, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_score_add_tempo(s, 0, qpm) == CDZ_OK, "tempo");
    if (num) CHECK(cdz_score_add_time_signature(s, 0, (uint8_t)num, (uint8_t)den) == CDZ_OK, "time signature");
}

/* A note on `track` from beat `start` (quarter notes, fractions allowed) lasting `len` beats. */
static void note_on(cdz_score *s, int track, int pitch, double start, double len) {
    int64_t a = llround(start * PPQ), b = llround((start + len) * PPQ);
    CHECK(cdz_score_add_note(s, (uint16_t)track, (uint8_t)track, 0, (uint8_t)pitch, 80, a, b) == CDZ_OK, "note %d", pitch);
}
static void note(cdz_score *s, int pitch, double start, double len) { note_on(s, 0, pitch, start, len); }

static void drum(cdz_score *s, int pitch, double start) {
    int64_t a = llround(start * PPQ);
    CHECK(cdz_score_add_note(s, 9, 9, 0, (uint8_t)pitch, 80, a, a + PPQ / 4) == CDZ_OK, "drum %d", pitch);
}

static void finish(cdz_score *s) {
    cdz_error err = {0};
    CHECK(cdz_score_finish(s, &err) == CDZ_OK, "%s", err.msg);
}

static void name_track(cdz_score *s, int track, const char *name) {
    if ((size_t)track < s->n_tracks) snprintf(s->tracks[track].name, sizeof s->tracks[track].name, "%s", name);
}

static cdz_listen_features measure(const cdz_score *s, const cdz_listen_params *p) {
    cdz_listen_features f;
    cdz_error err = {0};
    CHECK(cdz_listen_compute(s, p, &f, &err) == CDZ_OK, "%s", err.msg);
    return f;
}

/* ---- repetition ---- */

/* Bar contents in 3/4 (12 sixteenths): A has onsets at steps 0, 4, 8 and 11 (beat 2.75), B at 0 and
 * 6 (an 8th after beat 1), C a single half note. */
static void bar_a(cdz_score *s, int bar) {
    double b0 = 3.0 * bar;
    note(s, 60, b0, 1);
    note(s, 64, b0 + 1, 1);
    note(s, 67, b0 + 2, 0.75);
    note(s, 65, b0 + 2.75, 0.25);
}
static void bar_b(cdz_score *s, int bar) {
    double b0 = 3.0 * bar;
    note(s, 62, b0, 1.5);
    note(s, 59, b0 + 1.5, 1.5);
}
static void bar_c(cdz_score *s, int bar) { note(s, 72, 3.0 * bar, 2); }

static void test_repetition(void) {
    cdz_score s;
    cdz_listen_params p = cdz_listen_default_params();

    /* 3/4: A B A B C. Bars 2 and 3 repeat (2 of 5); windows AB BA AB BC: the third repeats the first
     * (1 of 4); the longest repeat is bars 2-3 = bars 0-1 (2 bars). */
    begin(&s, 120, 3, 4);
    bar_a(&s, 0), bar_b(&s, 1), bar_a(&s, 2), bar_b(&s, 3), bar_c(&s, 4);
    finish(&s);
    cdz_listen_features f = measure(&s, &p);
    CHECK_NEAR(f.bars, 5, 0);
    CHECK_NEAR(f.bar_repeat, 2.0 / 5, 1e-12);
    CHECK_NEAR(f.two_bar_repeat, 1.0 / 4, 1e-12);
    CHECK_NEAR(f.longest_repeat, 2, 0);
    cdz_score_free(&s);

    /* 4 bars of 3/4 where bar 2 = bar 0 (A B A C): 1 of 4 bars; no 2-bar window repeats; longest 1 */
    begin(&s, 120, 3, 4);
    bar_a(&s, 0), bar_b(&s, 1), bar_a(&s, 2), bar_c(&s, 3);
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.bars, 4, 0);
    CHECK_NEAR(f.bar_repeat, 1.0 / 4, 1e-12);
    CHECK_NEAR(f.two_bar_repeat, 0, 0);
    CHECK_NEAR(f.longest_repeat, 1, 0);
    cdz_score_free(&s);

    /* the same notes read in 4/4 (16 steps, bars of 4 beats) fall differently: bars [0,4) [4,8) [8,12)
     * all differ, no repeat */
    begin(&s, 120, 4, 4);
    bar_a(&s, 0), bar_b(&s, 1), bar_a(&s, 2), bar_c(&s, 3);
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.bars, 3, 0);
    CHECK_NEAR(f.bar_repeat, 0, 0);
    cdz_score_free(&s);

    /* empty bars: A - A - B (bars 1 and 3 silent). Left out: 3 bars counted, 1 repeats; windows (A,-)
     * (-,A) (A,-) (-,B) each hold an onset, the third repeats the first: 1/4; longest 2 (A - = A -).
     * Counted: 5 bars, bars 2 and 3 repeat: 2/5. */
    begin(&s, 120, 3, 4);
    bar_a(&s, 0), bar_a(&s, 2), bar_b(&s, 4);
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.bars, 5, 0);
    CHECK_NEAR(f.bar_repeat, 1.0 / 3, 1e-12);
    CHECK_NEAR(f.two_bar_repeat, 1.0 / 4, 1e-12);
    CHECK_NEAR(f.longest_repeat, 2, 0);
    cdz_listen_params pe = p;
    pe.count_empty_bars = 1;
    f = measure(&s, &pe);
    CHECK_NEAR(f.bar_repeat, 2.0 / 5, 1e-12);
    CHECK_NEAR(f.two_bar_repeat, 1.0 / 4, 1e-12);
    cdz_score_free(&s);

    /* a long rest: A - - - A. Windows (-,-) hold nothing and are left out: of (A,-) (-,-) (-,-) (-,A)
     * 2 are counted, and neither repeats. The silent bars 2-3 equal bars 1-2, but a run without onsets
     * is no repeat; with empty bars counted it is (longest 2), and the second (-,-) repeats: 1 of 4. */
    begin(&s, 120, 3, 4);
    bar_a(&s, 0), bar_a(&s, 4);
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.bar_repeat, 1.0 / 2, 1e-12);
    CHECK_NEAR(f.two_bar_repeat, 0, 0);
    CHECK_NEAR(f.longest_repeat, 1, 0);
    f = measure(&s, &pe);
    CHECK_NEAR(f.bar_repeat, 3.0 / 5, 1e-12); /* bars 2, 3 (silent) and 4 (A) */
    CHECK_NEAR(f.two_bar_repeat, 1.0 / 4, 1e-12);
    CHECK_NEAR(f.longest_repeat, 2, 0);
    cdz_score_free(&s);

    /* leading silence is not counted: the first onset in bar 3 of 4/4, then the same bar: 2 bars, 1/2 */
    begin(&s, 120, 4, 4);
    note(&s, 60, 12, 1), note(&s, 62, 13.5, 1);
    note(&s, 60, 16, 1), note(&s, 62, 17.5, 1);
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.bars, 2, 0);
    CHECK_NEAR(f.bar_repeat, 0.5, 1e-12);
    CHECK_NEAR(f.longest_repeat, 1, 0);
    cdz_score_free(&s);

    /* 6/8: a bar is 3 quarter notes (12 sixteenths). Two equal bars of 8th notes. */
    begin(&s, 120, 6, 8);
    for (int i = 0; i < 12; i++) note(&s, 60 + (i % 6), 0.5 * i, 0.5);
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.bars, 2, 0);
    CHECK_NEAR(f.bar_repeat, 0.5, 1e-12);
    cdz_score_free(&s);

    /* 1/4 (POP909's placeholder) is read as 4/4: one 4-beat pattern twice = 2 bars, 1 repeat. Keeping
     * every signature (min_bar_sixteenths 0), bars are one beat: 8 bars C D E F C D E F, 4 repeat. */
    begin(&s, 120, 1, 4);
    for (int i = 0; i < 8; i++) note(&s, 60 + 2 * (i % 4), i, 1);
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.bars, 2, 0);
    CHECK_NEAR(f.bar_repeat, 0.5, 1e-12);
    cdz_listen_params keep = p;
    keep.min_bar_sixteenths = 0;
    f = measure(&s, &keep);
    CHECK_NEAR(f.bars, 8, 0);
    CHECK_NEAR(f.bar_repeat, 0.5, 1e-12);
    CHECK_NEAR(f.two_bar_repeat, 3.0 / 7, 1e-12); /* CD DE EF FC CD DE EF: the last three */
    CHECK_NEAR(f.longest_repeat, 4, 0);
    cdz_score_free(&s);

    /* bars as cdz_score_bar_to_tick counts them: 4/4, then 3/4 from beat 6 (inside bar 1, which it cuts
     * to 2 beats). Each bar holds C on its downbeat and D a beat later: bar 0 (16 steps), bar 1 (8
     * steps) and the 3/4 bars (12 steps) differ by length; bars 3, 4, 5 repeat bar 2: 3 of 6 */
    begin(&s, 120, 4, 4);
    CHECK(cdz_score_add_time_signature(&s, 6 * PPQ, 3, 4) == CDZ_OK, "3/4");
    finish(&s);
    for (int b = 0; b < 6; b++) {
        int64_t t = cdz_score_bar_to_tick(&s, b);
        CHECK(cdz_score_add_note(&s, 0, 0, 0, 60, 80, t, t + PPQ / 2) == CDZ_OK, "C");
        CHECK(cdz_score_add_note(&s, 0, 0, 0, 62, 80, t + PPQ, t + PPQ + PPQ / 2) == CDZ_OK, "D");
    }
    finish(&s);
    CHECK_INT(cdz_score_bar_to_tick(&s, 2), 6 * PPQ);
    f = measure(&s, &p);
    CHECK_NEAR(f.bars, 6, 0);
    CHECK_NEAR(f.bar_repeat, 3.0 / 6, 1e-12);
    cdz_score_free(&s);

    /* rounding: an onset a 32nd before the bar line is the next bar's downbeat; one a 64th after a
     * 16th is that 16th. Bars {0, 4} and {0, 4}: equal. A drum on the same pitch is another sound. */
    begin(&s, 120, 2, 4);
    note(&s, 60, 0, 1), note(&s, 64, 1 + 1.0 / 16, 1);
    note(&s, 60, 2 - 1.0 / 8, 1), note(&s, 64, 3, 1);
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.bars, 2, 0);
    CHECK_NEAR(f.bar_repeat, 0.5, 1e-12);
    drum(&s, 60, 2);
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.bar_repeat, 0, 0);
    cdz_score_free(&s);
}

/* ---- pulse ---- */
static void onsets_at(cdz_score *s, const double *sec, int n, double qpm) {
    for (int i = 0; i < n; i++) note(s, 60 + i % 12, sec[i] * qpm / 60, 0.2 * qpm / 60);
}

static void test_pulse(void) {
    cdz_score s;
    cdz_listen_params p = cdz_listen_default_params();
    /* 8th notes and quarters at 120 qpm, all on the 0.25 s grid (some 8ths off the beat, some rests) */
    double t[48];
    int n = 0;
    for (int k = 0; k < 64; k++)
        if (k % 5 != 2 && n < 48) t[n++] = 0.25 * k;
    begin(&s, 120, 4, 4);
    onsets_at(&s, t, n, 120);
    finish(&s);
    cdz_listen_features f = measure(&s, &p);
    CHECK_NEAR(f.onsets, n, 0);
    CHECK_NEAR(f.grid_fit, 1, 0);
    CHECK_NEAR(f.grid_qpm, 120, 2); /* the middle of the run of steps that hold every onset */
    CHECK(f.onset_autocorr > 0.5, "a strict pulse: autocorrelation %g", f.onset_autocorr);
    cdz_score_free(&s);

    /* a strictly periodic pulse, every 0.5 s: the autocorrelation at the beat lag is all but 1 (the
     * mean and the edges of the 0.1 s margins take a little), at 120 qpm or a multiple */
    begin(&s, 120, 4, 4);
    for (int i = 0; i < 40; i++) t[i] = 0.5 * i;
    onsets_at(&s, t, 40, 120);
    finish(&s);
    f = measure(&s, &p);
    CHECK(f.onset_autocorr > 0.95 && f.onset_autocorr < 1.05, "periodic onsets: autocorrelation %g", f.onset_autocorr);
    CHECK_NEAR(f.autocorr_qpm, 120, 1e-9); /* the lag of 0.5 s, not its multiples */
    CHECK_NEAR(f.ioi_entropy, 0, 0);
    cdz_score_free(&s);

    /* the tempo map says 120 qpm but the onsets come every 0.35 s (336 ticks): the search in seconds
     * finds the grid anyway, at 30 / 0.35 = 85.7 qpm (the slowest step holding them all) */
    begin(&s, 120, 4, 4);
    for (int i = 0; i < 40; i++) CHECK(cdz_score_add_note(&s, 0, 0, 0, 60, 80, 336 * i, 336 * i + 100) == CDZ_OK, "n");
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.grid_fit, 1, 0);
    CHECK_NEAR(f.grid_qpm, 30 / 0.35, 1.5);
    cdz_score_free(&s);

    /* one tempo allowed (120 qpm: steps of 0.25 s). 16 onsets on the grid with every 4th moved by
     * 0.1 s (0.4 of a step): a grid between the two groups holds all 16 (each 0.2 step from it).
     * Moved by half a step (0.125 s): no grid holds both groups: 12 of 16. Every 4th moved by +0.08 s
     * and every 4th + 1 by -0.08 s: phases 0 (8 onsets), 0.32 and 0.68 (4 each); an arc of half a
     * cycle holds two groups at most: 12 of 16. */
    cdz_listen_params one = p;
    one.qpm_min = one.qpm_max = 120;
    for (int kind = 0; kind < 3; kind++) {
        begin(&s, 120, 4, 4);
        for (int k = 0; k < 16; k++) {
            t[k] = 0.25 * k;
            if (k % 4 == 3) t[k] += kind == 0 ? 0.1 : kind == 1 ? 0.125 : 0.08;
            if (k % 4 == 1 && kind == 2) t[k] -= 0.08;
        }
        onsets_at(&s, t, 16, 120);
        finish(&s);
        f = measure(&s, &one);
        CHECK_NEAR(f.grid_fit, kind ? 0.75 : 1.0, 1e-12);
        CHECK_NEAR(f.grid_qpm, 120, 1e-9);
        f = measure(&s, &p); /* searching the tempo too may find a grid for more of them */
        CHECK(f.grid_fit >= (kind ? 0.75 : 1.0), "searched grid %g", f.grid_fit);
        cdz_score_free(&s);
    }

    /* inter-onset intervals 0.5 x3, 0.25 x1: H = -(3/4 log2 3/4 + 1/4 log2 1/4) = 0.811278 bits. A note
     * 10 ms after another is the same onset; drums count. */
    begin(&s, 120, 4, 4);
    double u[5] = {0, 0.5, 1.0, 1.5, 1.75};
    onsets_at(&s, u, 5, 120);
    CHECK(cdz_score_add_note(&s, 1, 1, 0, 70, 80, 480 + 10, 700) == CDZ_OK, "late chord note"); /* 0.5 s + 10 ms */
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.onsets, 5, 0);
    CHECK_NEAR(f.ioi_entropy, -(0.75 * log2(0.75) + 0.25 * log2(0.25)), 1e-12);
    drum(&s, 36, 2 * 2.5); /* 2.5 s: a 0.75 s interval, a third class: 0.5 x3, 0.25, 0.75 */
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.onsets, 6, 0);
    CHECK_NEAR(f.ioi_entropy, -(0.6 * log2(0.6) + 2 * 0.2 * log2(0.2)), 1e-12);
    cdz_score_free(&s);

    /* random onsets: 240 uniform over 60 s. The grid holds about half plus what chance finds; the
     * autocorrelation has no peak */
    cdz_rng r;
    cdz_rng_seed(&r, 3);
    begin(&s, 120, 4, 4);
    for (int i = 0; i < 240; i++) note(&s, 60, cdz_rng_uniform(&r) * 120, 0.2);
    finish(&s);
    f = measure(&s, &p);
    printf("random onsets: grid fit %.3f, autocorrelation %.3f, IOI entropy %.2f bits\n", f.grid_fit, f.onset_autocorr,
           f.ioi_entropy);
    CHECK(f.grid_fit > 0.5 && f.grid_fit < 0.75, "random onsets fit a grid by %g", f.grid_fit);
    CHECK(f.onset_autocorr < 0.3, "random onsets: autocorrelation %g", f.onset_autocorr);
    CHECK(f.ioi_entropy > 4, "random onsets: IOI entropy %g", f.ioi_entropy);
    cdz_score_free(&s);

    /* one onset: nothing to fit */
    begin(&s, 120, 4, 4);
    note(&s, 60, 0, 1);
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.onsets, 1, 0);
    CHECK(f.grid_fit == 0 && f.onset_autocorr == 0 && f.ioi_entropy == 0, "one onset: zeros");
    cdz_score_free(&s);
}

/* ---- note endings ---- */
static void test_endings(void) {
    cdz_score s;
    cdz_listen_params p = cdz_listen_default_params();
    /* at 60 qpm (a beat is 1 s): A 0-3, B 1-2, C 1-4: 1, 3, 2, 1 notes over four seconds */
    begin(&s, 60, 4, 4);
    note(&s, 60, 0, 3);
    note(&s, 64, 1, 1);
    note(&s, 67, 1, 3);
    drum(&s, 36, 1); /* drums left out */
    finish(&s);
    cdz_listen_features f = measure(&s, &p);
    CHECK_NEAR(f.polyphony_mean, (1 + 3 + 2 + 1) / 4.0, 1e-12);
    CHECK_NEAR(f.polyphony_max, 3, 0);
    CHECK_NEAR(f.polyphony_p95, 3, 0); /* 1 note 50%, 2 notes 25%: 75% at 2 */
    CHECK_NEAR(f.long_notes, 0, 0);
    cdz_score_free(&s);

    /* 20 s of one note and 1 s of two: 20/21 = 95.2% at 1 note -> p95 1; 18 s and 1 s: 94.7% -> 2.
     * The 20 s note is long (> 4 s) and ends the file: open at the end (1 of 2). */
    for (int k = 0; k < 2; k++) {
        double len = k ? 18 : 20;
        begin(&s, 60, 4, 4);
        note(&s, 60, 0, len + 1);
        note(&s, 64, len, 1);
        finish(&s);
        f = measure(&s, &p);
        CHECK_NEAR(f.polyphony_p95, k ? 2 : 1, 0);
        CHECK_NEAR(f.polyphony_max, 2, 0);
        CHECK_NEAR(f.long_notes, 0.5, 1e-12);
        CHECK_NEAR(f.open_at_end, 0.5, 1e-12);
        cdz_score_free(&s);
    }

    /* a long note that ends before the file does is long, not open; a short last note is neither */
    begin(&s, 60, 4, 4);
    note(&s, 60, 0, 6);
    note(&s, 62, 7, 1);
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.long_notes, 0.5, 1e-12);
    CHECK_NEAR(f.open_at_end, 0, 0);
    cdz_listen_params lim = p;
    lim.long_note_s = 7;
    f = measure(&s, &lim);
    CHECK_NEAR(f.long_notes, 0, 0);
    cdz_score_free(&s);

    /* A MIDI file whose note-on of 60 is never ended: the reader ends it at the track's end (tick
     * 5760 = 6 s at 120 qpm), which is the file's end: unended 1 of 3 notes, open at the end 1 of 3 */
    static bytes x;
    x.n = 0;
    by_header(&x, 0, 1, PPQ);
    BY_TRACK(&x, 0x00, 0x90, 60, 80,                  /* C4 on, never off */
             0x00, 0x90, 64, 80, 0x83, 0x60, 0x80, 64, 0, /* E4 0-480 */
             0x00, 0x90, 67, 80, 0x83, 0x60, 0x80, 67, 0, /* G4 480-960 */
             0xA5, 0x40, 0xFF, 0x2F, 0x00);             /* end of track at 960 + 4800 = 5760 */
    cdz_midi m;
    cdz_error err = {0};
    CHECK(cdz_midi_read(&m, x.b, x.n, "hung.mid", &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_score_from_midi(&s, &m, &err) == CDZ_OK, "%s", err.msg);
    cdz_midi_free(&m);
    CHECK_INT(s.n_unended_notes, 1);
    f = measure(&s, &p);
    CHECK_NEAR(f.unended, 1.0 / 3, 1e-12);
    CHECK_NEAR(f.open_at_end, 1.0 / 3, 1e-12);
    CHECK_NEAR(f.long_notes, 1.0 / 3, 1e-12);
    cdz_score_free(&s);
}

/* ---- two-part music ---- */

/* At 120 qpm, 4/4 (a bar is 2 s): the melody (track 1 "MELODY") plays C major in bar 0 (C5 E5 G5, G
 * twice as long: cosine 0.943 against C major, 0.816 against C7) and A minor in bar 1 (A4 long, C5,
 * E5); the accompaniment (track 2 "PIANO") plays C3 E3 | G3 in bar 0 and A2 C3 | E3 in bar 1, starting
 * `offset` beats later. */
static void two_part_score(cdz_score *s, double offset) {
    begin(s, 120, 4, 4);
    note_on(s, 1, 72, 0, 1), note_on(s, 1, 76, 1, 1), note_on(s, 1, 79, 2, 2);
    note_on(s, 1, 69, 4, 2), note_on(s, 1, 72, 6, 1), note_on(s, 1, 76, 7, 1);
    note_on(s, 2, 48, offset + 0, 2), note_on(s, 2, 52, offset + 0, 2), note_on(s, 2, 55, offset + 2, 2);
    note_on(s, 2, 45, offset + 4, 2), note_on(s, 2, 48, offset + 4, 2), note_on(s, 2, 52, offset + 6, 2);
    name_track(s, 1, "MELODY");
    name_track(s, 2, "PIANO");
    finish(s);
}

static int lag_index(double seconds) { return (int)lround(seconds / 0.5) + CDZ_LISTEN_ZERO_LAG; }

static void test_two_part(void) {
    cdz_score s;
    cdz_listen_params p = cdz_listen_default_params();
    two_part_score(&s, 0);
    cdz_listen_features f = measure(&s, &p);
    CHECK_NEAR(f.two_part, 1, 0);
    CHECK_NEAR(f.melody_notes, 6, 0);
    CHECK_NEAR(f.accompaniment_notes, 6, 0);
    CHECK_NEAR(f.chord_fit, 1, 0);
    CHECK_NEAR(f.chord_fit_time, 1, 0);
    CHECK_NEAR(f.chord_lag[CDZ_LISTEN_ZERO_LAG], 1, 0);
    /* +2 s (a bar later): C3 E3 G3 land on A minor (C, E in; G out); bar 1's land on bar 2, which
     * has no melody and so no chord: 2/3. -2 s: A2 C3 E3 land on C major (C, E in): 2/3 */
    CHECK_NEAR(f.chord_lag[lag_index(2)], 2.0 / 3, 1e-12);
    CHECK_NEAR(f.chord_lag[lag_index(-2)], 2.0 / 3, 1e-12);
    /* -4 s: everything lands before bar 0: undefined */
    CHECK(isnan(f.chord_lag[lag_index(-4)]), "nothing lands on a chord at -4 s");
    CHECK_NEAR(f.lag_peak_s, 0, 0);
    /* the other lags (worked out one by one): +0.5 1, +1 4/5, +1.5 4/5, +2 2/3, +2.5 2/3, +3 1 (only C3
     * and E3 land on a chord), +3.5 1, +4 none; -0.5 3/4, -1 3/4, -1.5 2/3, -2 2/3, -2.5 1, -3 1, -3.5
     * none: 13 values summing to 5 + 8/5 + 6/4 + 4 x 2/3 */
    CHECK_NEAR(f.lag_contrast, 1 - (5 + 1.6 + 1.5 + 8.0 / 3) / 13, 1e-12);
    CHECK(isnan(f.chord_lag[lag_index(4)]) && isnan(f.chord_lag[lag_index(-3.5)]), "undefined lags");
    CHECK_NEAR(f.chord_lag[lag_index(1)], 0.8, 1e-12);
    CHECK_NEAR(f.chord_lag[lag_index(-0.5)], 0.75, 1e-12);
    CHECK_NEAR(f.clash, 0, 0);
    /* by track number and in any case */
    cdz_listen_params byn = p;
    byn.melody_tracks = "1";
    byn.accompaniment_tracks = " piano , 7";
    cdz_listen_features g = measure(&s, &byn);
    CHECK_NEAR(g.chord_fit, 1, 0);
    CHECK_NEAR(g.accompaniment_notes, 6, 0);
    /* no such tracks: not two-part, and nothing else changes */
    byn.accompaniment_tracks = "BASS";
    g = measure(&s, &byn);
    CHECK_NEAR(g.two_part, 0, 0);
    CHECK(g.chord_fit == 0 && g.clash == 0 && g.accompaniment_notes == 0, "no two-part measures");
    CHECK_NEAR(g.bar_repeat, f.bar_repeat, 0);
    cdz_score_free(&s);

    /* the accompaniment a bar late: bar 1 fits 2/3 as above, the notes in bar 2 have no chord: 2/3;
     * by time the same (whole notes inside bar 1). Moved back 2 s it fits again, and so it does moved
     * back 1.5 s (each note stays in its bar): the nearer of the two is the peak. At -1 s G3 lands on
     * A minor and E3 past the last chord: 4/5. */
    two_part_score(&s, 4);
    f = measure(&s, &p);
    CHECK_NEAR(f.chord_fit, 2.0 / 3, 1e-12);
    CHECK_NEAR(f.chord_fit_time, 2.0 / 3, 1e-12);
    CHECK_NEAR(f.chord_lag[lag_index(-2)], 1, 0);
    CHECK_NEAR(f.chord_lag[lag_index(-1.5)], 1, 0);
    CHECK_NEAR(f.chord_lag[lag_index(-1)], 4.0 / 5, 1e-12);
    CHECK_NEAR(f.lag_peak_s, -1.5, 0);
    cdz_score_free(&s);

    /* half a bar late (1 s): C3 E3 at 1 s (C major: in), G3 at 2 s (A minor: out), A2 C3 at 3 s (A minor:
     * in), E3 at 4 s (no chord): 4/5; by time each note lies in one bar: 4 of 5 s */
    two_part_score(&s, 2);
    f = measure(&s, &p);
    CHECK_NEAR(f.chord_fit, 4.0 / 5, 1e-12);
    CHECK_NEAR(f.chord_fit_time, 4.0 / 5, 1e-12);
    cdz_score_free(&s);

    /* a beat late (0.5 s): every onset lands on a chord tone (1), but G3 (1.5-2.5 s) sounds 0.5 s into
     * A minor and E3 (3.5-4.5 s) 0.5 s past the last chord: by time 5 of 5.5 s */
    two_part_score(&s, 1);
    f = measure(&s, &p);
    CHECK_NEAR(f.chord_fit, 1, 0);
    CHECK_NEAR(f.chord_fit_time, 5 / 5.5, 1e-12);
    cdz_score_free(&s);

    /* clashes: melody C5 for 4 beats; accompaniment Db3 (C5 - Db3 = 23 semitones: a compound major
     * 7th), E3, B2 (25: a compound minor 2nd), G3 a beat each, then F#3 after the melody has ended (no
     * melody to sound with): 2 of 4. A D3 starting 0.03 s before the melody ends overlaps too little. */
    begin(&s, 120, 4, 4);
    note_on(&s, 1, 72, 0, 4);
    note_on(&s, 2, 49, 0, 1), note_on(&s, 2, 52, 1, 1), note_on(&s, 2, 47, 2, 1), note_on(&s, 2, 55, 3, 1);
    note_on(&s, 2, 54, 4, 1);
    note_on(&s, 2, 50, 4 - 0.06, 1); /* 0.03 s of overlap at 120 qpm */
    name_track(&s, 1, "melody");
    name_track(&s, 2, "Accompaniment");
    finish(&s);
    f = measure(&s, &p);
    CHECK_NEAR(f.two_part, 1, 0);
    CHECK_NEAR(f.clash, 2.0 / 4, 1e-12);
    cdz_listen_params tight = p;
    tight.clash_overlap_s = 0; /* now D3 (C5 - D3 = 22: no clash) counts in the denominator */
    f = measure(&s, &tight);
    CHECK_NEAR(f.clash, 2.0 / 5, 1e-12);
    cdz_score_free(&s);
}

/* ---- a generated accompaniment against the original ---- */

/* The original: the melody of two_part_score and an accompaniment of full triads on every beat:
 * C major in bar 0, A minor in bar 1, `offset` beats late. */
static void triads(cdz_score *s, double offset, int with_melody) {
    begin(s, 120, 4, 4);
    if (with_melody) {
        note_on(s, 1, 72, 0, 1), note_on(s, 1, 76, 1, 1), note_on(s, 1, 79, 2, 2);
        note_on(s, 1, 69, 4, 2), note_on(s, 1, 72, 6, 1), note_on(s, 1, 76, 7, 1);
    }
    for (int b = 0; b < 8; b++) {
        static const int c[3] = {48, 52, 55}, am[3] = {45, 48, 52};
        for (int k = 0; k < 3; k++) note_on(s, 2, b < 4 ? c[k] : am[k], offset + b, 1);
    }
    name_track(s, 1, "MELODY");
    name_track(s, 2, "PIANO");
    finish(s);
}

static void test_paired(void) {
    cdz_score ref, gen;
    cdz_listen_params p = cdz_listen_default_params();
    cdz_error err = {0};
    triads(&ref, 0, 1);
    cdz_listen_features f;
    memset(&f, 0, sizeof f);
    f.bar_repeat = 0.25; /* compare touches the paired fields only */
    CHECK(cdz_listen_compare(&ref, &ref, &p, &f, &err) == CDZ_OK, "%s", err.msg);
    CHECK_NEAR(f.paired, 1, 0);
    CHECK_NEAR(f.bar_repeat, 0.25, 0);
    CHECK_NEAR(f.ref_chord_fit, 1, 0);
    CHECK_NEAR(f.ref_chord_fit_time, 1, 0);
    CHECK_NEAR(f.silence, 0, 0);
    CHECK_NEAR(f.ref_lag_peak_s, 0, 0);

    /* generated a bar late, on its own tracks' names ("Accompaniment"): its C triads sound over the
     * original's A minor (C, E in, G out): 2/3, the rest lands after the original's last beat; the
     * original plays 0-4 s, the generated 2-6 s: silent half the time. Moved back 2 s it fits: 1. */
    triads(&gen, 4, 1);
    name_track(&gen, 2, "Accompaniment");
    CHECK(cdz_listen_compare(&gen, &ref, &p, &f, &err) == CDZ_OK, "%s", err.msg);
    CHECK_NEAR(f.ref_chord_fit, 2.0 / 3, 1e-12);
    CHECK_NEAR(f.ref_chord_fit_time, 2.0 / 3, 1e-12);
    CHECK_NEAR(f.silence, 0.5, 1e-12);
    CHECK_NEAR(f.ref_lag_peak_s, -2, 0);
    CHECK_NEAR(f.ref_chord_lag[lag_index(-2)], 1, 0);
    CHECK_NEAR(f.ref_chord_lag[CDZ_LISTEN_ZERO_LAG], 2.0 / 3, 1e-12);
    cdz_score_free(&gen);

    /* a generated file without accompaniment: not paired */
    triads(&gen, 0, 1);
    cdz_listen_params other = p;
    other.accompaniment_tracks = "PIANO";
    name_track(&gen, 2, "Strings");
    CHECK(cdz_listen_compare(&gen, &ref, &other, &f, &err) == CDZ_OK, "%s", err.msg);
    CHECK_NEAR(f.paired, 0, 0);
    CHECK_NEAR(f.silence, 0, 0);
    cdz_score_free(&gen);

    /* silence by time: the generated plays beats 0-2 and 5-6 of the original's 0-8: silent 5 of 8 beats */
    begin(&gen, 120, 4, 4);
    note_on(&gen, 2, 60, 0, 2), note_on(&gen, 2, 64, 1, 0.5), note_on(&gen, 2, 60, 5, 1);
    name_track(&gen, 2, "PIANO");
    finish(&gen);
    CHECK(cdz_listen_compare(&gen, &ref, &p, &f, &err) == CDZ_OK, "%s", err.msg);
    CHECK_NEAR(f.silence, 5.0 / 8, 1e-12);
    cdz_score_free(&gen);
    cdz_score_free(&ref);
}

/* ---- random baseline, summaries, self-similarity ---- */
static void test_random_and_sets(void) {
    cdz_score ref, a;
    cdz_listen_params p = cdz_listen_default_params();
    cdz_error err = {0};
    triads(&ref, 0, 1);
    CHECK(cdz_listen_randomize(&a, &ref, CDZ_LISTEN_RANDOM_NOTES, &p, 5, &err) == CDZ_OK, "%s", err.msg);
    CHECK_INT(a.n_notes, ref.n_notes);
    int lo = 127, hi = 0, same = 1;
    double len_a = 0, len_r = 0;
    for (size_t i = 0; i < a.n_notes; i++) {
        lo = a.notes[i].pitch < lo ? a.notes[i].pitch : lo;
        hi = a.notes[i].pitch > hi ? a.notes[i].pitch : hi;
        len_a += a.notes[i].end_s - a.notes[i].start_s;
        len_r += ref.notes[i].end_s - ref.notes[i].start_s;
        CHECK(a.notes[i].end_s <= ref.duration_s + 1e-3, "random note inside the piece");
        same &= a.notes[i].start_tick == ref.notes[i].start_tick;
    }
    CHECK(lo >= 45 && hi <= 79, "random pitches %d-%d inside the piece's range 45-79", lo, hi);
    CHECK_NEAR(len_a, len_r, 0.05); /* each note within a tick (1/960 s) of its length */
    CHECK(!same, "onsets moved");
    cdz_score_free(&a);

    /* a random accompaniment: the melody as it was, the accompaniment in C major (the piece's key) */
    CHECK(cdz_listen_randomize(&a, &ref, CDZ_LISTEN_RANDOM_ACCOMPANIMENT, &p, 5, &err) == CDZ_OK, "%s", err.msg);
    size_t mel = 0;
    for (size_t i = 0; i < a.n_notes; i++) {
        const cdz_note *nt = &a.notes[i];
        if (nt->track == 1) {
            mel++;
            continue;
        }
        static const int in_c[12] = {1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1};
        CHECK(in_c[nt->pitch % 12] && nt->pitch >= 45 && nt->pitch <= 55, "random accompaniment pitch %d", nt->pitch);
    }
    CHECK_INT(mel, 6);
    cdz_score_free(&a);

    /* the baseline on that piece: a random accompaniment fits the chords less than the original */
    cdz_listen_features real, rnd;
    real = measure(&ref, &p);
    CHECK(cdz_listen_baseline(&ref, &p, 11, 1, &rnd, &err) == CDZ_OK, "%s", err.msg);
    CHECK(rnd.two_part == 1 && rnd.paired == 1, "baseline: two-part and paired");
    CHECK(rnd.ref_chord_fit < 1 && rnd.silence > 0, "random against the original: fit %g, silence %g",
          rnd.ref_chord_fit, rnd.silence);
    CHECK(rnd.grid_fit <= real.grid_fit, "random grid fit %g, real %g", rnd.grid_fit, real.grid_fit);

    /* summaries: means and sample sd over the files each measure is defined for */
    cdz_listen_features set[3];
    memset(set, 0, sizeof set);
    set[0].bar_repeat = 0.2, set[1].bar_repeat = 0.4, set[2].bar_repeat = 0.9;
    set[1].two_part = 1, set[1].chord_fit = 0.5, set[1].chord_lag[0] = 0.3;
    set[2].two_part = 1, set[2].chord_fit = 0.7, set[2].chord_lag[0] = NAN;
    for (int i = 0; i < 3; i++)
        for (int k = 1; k < CDZ_LISTEN_N_LAGS; k++) set[i].chord_lag[k] = set[i].ref_chord_lag[k] = NAN;
    set[0].chord_fit = 0.99; /* not two-part: left out */
    cdz_listen_summary sum;
    cdz_listen_summarize(set, 3, &sum);
    CHECK_INT(sum.files, 3);
    CHECK_INT(sum.two_part_files, 2);
    CHECK_NEAR(sum.stat[CDZ_LISTEN_BAR_REPEAT].mean, 0.5, 1e-12);
    CHECK_NEAR(sum.stat[CDZ_LISTEN_BAR_REPEAT].sd, sqrt((0.09 + 0.01 + 0.16) / 2), 1e-12);
    CHECK_INT(sum.stat[CDZ_LISTEN_CHORD_FIT].n, 2);
    CHECK_NEAR(sum.stat[CDZ_LISTEN_CHORD_FIT].mean, 0.6, 1e-12);
    CHECK_NEAR(sum.chord_lag[0], 0.3, 1e-12);
    CHECK(isnan(sum.chord_lag[1]), "no values: NaN");
    CHECK_INT(sum.stat[CDZ_LISTEN_SILENCE].n, 0);

    /* the table follows the record */
    for (int m = 0; m < CDZ_LISTEN_N_MEASURES; m++) {
        const cdz_listen_measure_info *mi = cdz_listen_describe(m);
        CHECK(mi && mi->name && mi->offset == (size_t)m * sizeof(double), "measure %d in field order", m);
    }
    CHECK(cdz_listen_describe(CDZ_LISTEN_N_MEASURES) == NULL && cdz_listen_describe(-1) == NULL, "out of range");
    CHECK(strcmp(cdz_listen_describe(CDZ_LISTEN_SILENCE)->name, "silence") == 0, "names");
    set[0].silence = 0.125;
    CHECK_NEAR(cdz_listen_value(&set[0], CDZ_LISTEN_SILENCE), 0.125, 0);

    /* bad parameters are refused */
    cdz_listen_params bad = p;
    bad.grid_tolerance = 0.7;
    cdz_listen_features f;
    CHECK(cdz_listen_compute(&ref, &bad, &f, &err) == CDZ_ERR_ARG, "tolerance above half a step refused");
    CHECK_STR_CONTAINS(err.msg, "grid_tolerance");
    bad = p;
    bad.qpm_min = 0;
    CHECK(cdz_listen_compute(&ref, &bad, &f, &err) == CDZ_ERR_ARG, "tempo 0 refused");
    cdz_score_free(&ref);
}

static void test_self_similarity(void) {
    cdz_score s;
    cdz_listen_params p = cdz_listen_default_params();
    cdz_error err = {0};
    /* 3/4: A B A and an empty bar and C: A = {0:60, 4:64, 8:67, 11:65}, B = {0:62, 6:59}: no common
     * item; C = {0:72} */
    begin(&s, 120, 3, 4);
    bar_a(&s, 0), bar_b(&s, 1), bar_a(&s, 2), bar_c(&s, 4);
    note(&s, 60, 15, 1); /* bar 5: {0:60}: shares one of A's four items: Jaccard 1/4 */
    finish(&s);
    double *m = NULL;
    size_t n = 0;
    int64_t first = -1;
    CHECK(cdz_listen_self_similarity(&s, &p, 100, &m, &n, &first, &err) == CDZ_OK, "%s", err.msg);
    CHECK_INT(n, 6);
    CHECK_INT(first, 0);
    if (m && n == 6) {
        CHECK_NEAR(m[0 * 6 + 2], 1, 0);
        CHECK_NEAR(m[0 * 6 + 1], 0, 0);
        CHECK_NEAR(m[3 * 6 + 3], 0, 0); /* the empty bar */
        CHECK_NEAR(m[0 * 6 + 5], 0.25, 1e-12);
        CHECK_NEAR(m[5 * 6 + 2], 0.25, 1e-12);
        CHECK_NEAR(m[4 * 6 + 4], 1, 0);
        char dir[] = "/tmp/cdz_listen_XXXXXX", png[64], svg[64];
        if (mkdtemp(dir)) {
            snprintf(png, sizeof png, "%s/ssm.png", dir);
            snprintf(svg, sizeof svg, "%s/ssm.svg", dir);
            cdz_status st = cdz_listen_plot_self_similarity(png, m, n, first, "A B A - C", &err);
            if (cdz_png_available()) {
                CHECK(st == CDZ_OK, "%s", err.msg);
                cdz_canvas c;
                CHECK(cdz_png_read(png, &c, &err) == CDZ_OK, "%s", err.msg);
                /* cell (0, 2), equal bars: red; (0, 1): white; the diagonal grey */
                int32_t cell = 16, left = 56, top = 40;
                cdz_rgb red = cdz_canvas_get(&c, left + 2 * cell + 3, top + 3), white = cdz_canvas_get(&c, left + cell + 3, top + 3);
                cdz_rgb grey = cdz_canvas_get(&c, left + 3, top + 3);
                CHECK(red.r > 150 && red.g < 80, "equal bars in red (%d %d %d)", red.r, red.g, red.b);
                CHECK(white.r == 255 && white.g == 255, "unlike bars white");
                CHECK(grey.r == grey.g && grey.r < 200, "diagonal grey");
                cdz_canvas_free(&c);
                unlink(png);
            } else {
                CHECK(st == CDZ_ERR_UNSUPPORTED, "no libpng: unsupported");
            }
            CHECK(cdz_listen_plot_self_similarity(svg, m, n, first, "A & B", &err) == CDZ_OK, "%s", err.msg);
            char text[4096];
            test_slurp(svg, text, sizeof text);
            CHECK_STR_CONTAINS(text, "<svg");
            CHECK_STR_CONTAINS(text, "A &amp; B");
            CHECK_STR_CONTAINS(text, "#cd2323"); /* the red of equal bars */
            unlink(svg);
            rmdir(dir);
        }
    }
    cdz_free(m);
    CHECK(cdz_listen_self_similarity(&s, &p, 3, &m, &n, &first, &err) == CDZ_OK && n == 3, "the first 3 bars only");
    cdz_free(m);
    cdz_score_free(&s);
}

/* ---- allocation failures ---- */
static cdz_score g_two, g_late;
static cdz_status compute_two(void) {
    cdz_listen_features f;
    return cdz_listen_compute(&g_two, NULL, &f, NULL);
}
static cdz_status compare_two(void) {
    cdz_listen_features f;
    return cdz_listen_compare(&g_late, &g_two, NULL, &f, NULL);
}
static cdz_status baseline_two(void) {
    cdz_listen_features f;
    return cdz_listen_baseline(&g_two, NULL, 3, 1, &f, NULL);
}
static cdz_status matrix_two(void) {
    double *m = NULL;
    size_t n;
    cdz_status st = cdz_listen_self_similarity(&g_two, NULL, 64, &m, &n, NULL, NULL);
    cdz_free(m);
    return st;
}

static void test_faults(void) {
    triads(&g_two, 0, 1);
    drum(&g_two, 38, 1.5);
    finish(&g_two);
    triads(&g_late, 4, 1);
    cdz_listen_features f0 = measure(&g_two, NULL);
    CHECK(f0.two_part == 1 && f0.bars == 2, "the score of the fault runs");
    FAIL_EACH_ALLOCATION("cdz_listen_compute", compute_two());
    FAIL_EACH_ALLOCATION("cdz_listen_compare", compare_two());
    FAIL_EACH_ALLOCATION("cdz_listen_baseline", baseline_two());
    FAIL_EACH_ALLOCATION("cdz_listen_self_similarity", matrix_two());
    cdz_score_free(&g_two);
    cdz_score_free(&g_late);
    /* SMPTE timing (no ppq): no bars, so no repetition and no chords from the melody; the rest holds */
    cdz_score smpte;
    triads(&smpte, 0, 1);
    smpte.ppq = 0, smpte.smpte_seconds_per_tick = 1.0 / 960; /* 480 ticks: 0.5 s, as before */
    cdz_listen_features fs = measure(&smpte, NULL), fp;
    CHECK(fs.bars == 0 && fs.bar_repeat == 0 && fs.chord_fit == 0 && isnan(fs.chord_lag[CDZ_LISTEN_ZERO_LAG]),
          "SMPTE: no bars, no chords");
    CHECK(fs.two_part == 1 && fs.grid_fit == 1 && fs.clash == 0, "SMPTE: pulse and clashes measured");
    memset(&fp, 0, sizeof fp);
    cdz_error e2 = {0};
    CHECK(cdz_listen_compare(&smpte, &smpte, NULL, &fp, &e2) == CDZ_OK && fp.paired == 1 && fp.silence == 0 &&
              fp.ref_chord_fit == 0,
          "SMPTE reference: no beats, no chords; silence measured");
    cdz_score_free(&smpte);
    cdz_score empty;
    begin(&empty, 120, 4, 4);
    finish(&empty);
    cdz_listen_features f = measure(&empty, NULL);
    CHECK(f.bars == 0 && f.onsets == 0 && f.two_part == 0, "an empty score: zeros");
    cdz_score_free(&empty);
}

/* ---- the corpora ---- */
static size_t read_some(const char *dir, const char *suffix, size_t k, cdz_listen_features *real,
                        cdz_listen_features *rnd, const cdz_listen_params *p) {
    char **paths = NULL;
    size_t n = 0, got = 0;
    cdz_error err = {0};
    if (cdz_file_list(dir, suffix, &paths, &n, &err) != CDZ_OK || n < k) {
        printf("test_listen: %s not readable (%s): corpus checks skipped\n", dir, err.msg);
        if (paths) cdz_file_list_free(paths, n);
        return 0;
    }
    for (size_t i = 0; i < k; i++) {
        cdz_score s;
        if (cdz_score_read_file(&s, paths[i * n / k], &err) != CDZ_OK) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        real[got] = measure(&s, p);
        CHECK(cdz_listen_baseline(&s, p, 100 + i, 0, &rnd[got], &err) == CDZ_OK, "%s", err.msg);
        got++;
        cdz_score_free(&s);
    }
    cdz_file_list_free(paths, n);
    return got;
}

static void test_corpus(void) {
    const char *data = test_data_dir();
    if (!data) {
        printf("test_listen: no corpora (../shared/data or $CADENZA_DATA): corpus checks skipped\n");
        return;
    }
    enum { K = 20 };
    cdz_listen_features real[K], rnd[K];
    cdz_listen_summary a, b;
    cdz_listen_params p = cdz_listen_default_params();
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/nottingham/melody", data);
    size_t n = read_some(dir, ".mid", K, real, rnd, &p);
    if (n == K) {
        cdz_listen_summarize(real, n, &a);
        cdz_listen_summarize(rnd, n, &b);
        printf("nottingham (%d tunes): bar repeat %.3f, 2-bar %.3f, grid fit %.3f, autocorr %.3f; random: %.3f %.3f %.3f %.3f\n",
               K, a.stat[CDZ_LISTEN_BAR_REPEAT].mean, a.stat[CDZ_LISTEN_TWO_BAR_REPEAT].mean,
               a.stat[CDZ_LISTEN_GRID_FIT].mean, a.stat[CDZ_LISTEN_ONSET_AUTOCORR].mean, b.stat[CDZ_LISTEN_BAR_REPEAT].mean,
               b.stat[CDZ_LISTEN_TWO_BAR_REPEAT].mean, b.stat[CDZ_LISTEN_GRID_FIT].mean, b.stat[CDZ_LISTEN_ONSET_AUTOCORR].mean);
        /* folk tunes repeat about half their bars and sit on the grid; random notes do neither */
        CHECK(a.stat[CDZ_LISTEN_BAR_REPEAT].mean > 0.3 && a.stat[CDZ_LISTEN_BAR_REPEAT].mean < 0.8, "tunes' bar repeat %g",
              a.stat[CDZ_LISTEN_BAR_REPEAT].mean);
        CHECK(b.stat[CDZ_LISTEN_BAR_REPEAT].mean < 0.05, "random bar repeat %g", b.stat[CDZ_LISTEN_BAR_REPEAT].mean);
        CHECK(a.stat[CDZ_LISTEN_GRID_FIT].mean > 0.97, "tunes' grid fit %g", a.stat[CDZ_LISTEN_GRID_FIT].mean);
        CHECK(b.stat[CDZ_LISTEN_GRID_FIT].mean < a.stat[CDZ_LISTEN_GRID_FIT].mean - 0.15, "random grid fit %g",
              b.stat[CDZ_LISTEN_GRID_FIT].mean);
        CHECK(a.two_part_files == 0, "melodies are one part");
    }
    snprintf(dir, sizeof dir, "%s/pop909", data);
    n = read_some(dir, ".mid", K / 2, real, rnd, &p);
    if (n == K / 2) {
        cdz_listen_summarize(real, n, &a);
        cdz_listen_summarize(rnd, n, &b);
        printf("pop909 (%d songs): chord fit %.3f, lag contrast %.3f, clash %.3f; random accompaniment: %.3f %.3f %.3f\n",
               K / 2, a.stat[CDZ_LISTEN_CHORD_FIT].mean, a.stat[CDZ_LISTEN_LAG_CONTRAST].mean, a.stat[CDZ_LISTEN_CLASH].mean,
               b.stat[CDZ_LISTEN_CHORD_FIT].mean, b.stat[CDZ_LISTEN_LAG_CONTRAST].mean, b.stat[CDZ_LISTEN_CLASH].mean);
        CHECK(a.two_part_files == K / 2 && b.two_part_files == K / 2, "POP909 has MELODY and PIANO");
        CHECK(a.stat[CDZ_LISTEN_CHORD_FIT].mean > b.stat[CDZ_LISTEN_CHORD_FIT].mean + 0.05, "real %g vs random %g chord fit",
              a.stat[CDZ_LISTEN_CHORD_FIT].mean, b.stat[CDZ_LISTEN_CHORD_FIT].mean);
        CHECK(a.stat[CDZ_LISTEN_LAG_CONTRAST].mean > b.stat[CDZ_LISTEN_LAG_CONTRAST].mean + 0.02, "lag contrast %g vs %g",
              a.stat[CDZ_LISTEN_LAG_CONTRAST].mean, b.stat[CDZ_LISTEN_LAG_CONTRAST].mean);
    }
}

int main(void) {
    test_repetition();
    test_pulse();
    test_endings();
    test_two_part();
    test_paired();
    test_random_and_sets();
    test_self_similarity();
    test_faults();
    test_corpus();
    return test_summary("test_listen");
}

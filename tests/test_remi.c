/* The beat-aware codecs (src/codec/remi.c): the exact tokens of hand-made pieces in 4/4 and 3/4, round
 * trips (onsets on the grid, durations to the nearest DURATION, velocities to their bin), odd and corrupt
 * token sequences, transposition, bar lines estimated for a POP909-like file, the accompaniment pairs'
 * stretches, and generation end to end with tiny untrained models (lengths in bars, seconds and tokens,
 * a primer's meter and tempo kept, accompaniments by overlapping stretches). With POP909 present, every
 * 50th song also round-trips through both codecs. */
#include <unistd.h>

#include "test.h"

static const cdz_codec *remi(void) { return cdz_codec_find("remi"); }
static const cdz_codec *pairc(void) { return cdz_codec_find("remi_acc"); }

/* Token names (space-separated) to ids; returns how many. */
static size_t names(const cdz_codec *c, const char *text, uint16_t *out, size_t cap) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", text);
    size_t n = 0;
    for (char *w = strtok(buf, " \n"); w && n < cap; w = strtok(NULL, " \n")) {
        uint16_t t = 0xFFFF;
        if (cdz_codec_token_from_name(c, w, &t) != CDZ_OK) CHECK(0, "no token named %s", w);
        out[n++] = t;
    }
    return n;
}

/* The first difference between tokens and the expected names, printed; 1 when they agree. */
static int same_tokens(const cdz_codec *c, const uint16_t *got, size_t n, const char *expect) {
    uint16_t want[1024];
    size_t m = names(c, expect, want, 1024);
    for (size_t i = 0; i < n && i < m; i++)
        if (got[i] != want[i]) {
            char a[64], b[64];
            c->token_name(got[i], a, sizeof a), c->token_name(want[i], b, sizeof b);
            printf("  token %zu: %s, expected %s\n", i, a, b);
            return 0;
        }
    if (n != m) printf("  %zu tokens, expected %zu\n", n, m);
    return n == m;
}

static void add(cdz_score *s, uint16_t track, uint8_t pitch, uint8_t vel, int64_t t0, int64_t t1) {
    CHECK_INT(cdz_score_add_note(s, track, (uint8_t)track, 0, pitch, vel, t0, t1), CDZ_OK);
}

/* Two bars of 4/4 at 100 qpm (480 ticks a quarter), 120 qpm from bar 2: a chord, an off-beat 8th, a
 * bar of 8th-note triplets and a half note. */
static void piece_44(cdz_score *s) {
    cdz_score_init(s, 480, NULL);
    cdz_score_add_tempo(s, 0, 100);
    cdz_score_add_tempo(s, 1920, 120);
    cdz_score_add_time_signature(s, 0, 4, 4);
    add(s, 0, 60, 100, 0, 480);           /* quarter: 12 steps */
    add(s, 0, 64, 80, 0, 960);            /* half: 24 */
    add(s, 0, 67, 64, 720, 960);          /* the off-beat 8th of beat 2: position 18, 6 steps */
    for (int k = 0; k < 3; k++) add(s, 0, 72, 100, 1920 + 160 * k, 2080 + 160 * k); /* triplets: 0, 4, 8 */
    add(s, 0, 48, 100, 2880, 3840);       /* beat 3, a half note */
    cdz_score_finish(s, NULL);
}

static const char *PIECE_44 =
    "BAR TIME_SIG_4/4 POSITION_0 TEMPO_100 PITCH_60 VELOCITY_25 DURATION_12 PITCH_64 VELOCITY_20 DURATION_24 "
    "POSITION_18 PITCH_67 VELOCITY_16 DURATION_6 "
    "BAR POSITION_0 TEMPO_120 PITCH_72 VELOCITY_25 DURATION_4 POSITION_4 PITCH_72 VELOCITY_25 DURATION_4 "
    "POSITION_8 PITCH_72 VELOCITY_25 DURATION_4 POSITION_24 PITCH_48 VELOCITY_25 DURATION_24";

/* Two bars of 3/4 at 90 qpm and 96 ticks a quarter (8 a step). */
static void piece_34(cdz_score *s) {
    cdz_score_init(s, 96, NULL);
    cdz_score_add_tempo(s, 0, 90);
    cdz_score_add_time_signature(s, 0, 3, 4);
    add(s, 0, 62, 90, 0, 96);
    add(s, 0, 66, 90, 192, 240);          /* beat 3: position 24, an 8th */
    add(s, 0, 69, 50, 288 + 48, 288 + 336); /* bar 2, position 6, three quarters: 36 steps */
    cdz_score_finish(s, NULL);
}

static const char *PIECE_34 = "BAR TIME_SIG_3/4 POSITION_0 TEMPO_90 PITCH_62 VELOCITY_23 DURATION_12 POSITION_24 "
                              "PITCH_66 VELOCITY_23 DURATION_6 BAR POSITION_6 PITCH_69 VELOCITY_13 DURATION_36";

static void test_layout(void) {
    CHECK(remi() && pairc(), "both codecs are listed");
    if (!remi() || !pairc()) return;
    CHECK_INT(remi()->vocab_size, CDZ_REMI_VOCAB);
    CHECK_INT(pairc()->vocab_size, CDZ_REMI_PAIR_VOCAB);
    char name[64];
    remi()->token_name(CDZ_REMI_TIME_SIG + cdz_remi_time_sig_token(6, 8), name, sizeof name);
    CHECK(strcmp(name, "TIME_SIG_6/8") == 0, "%s", name);
    remi()->token_name(CDZ_REMI_DURATION + CDZ_REMI_DURATIONS - 1, name, sizeof name);
    CHECK(strcmp(name, "DURATION_192") == 0, "%s", name);
    remi()->token_name(CDZ_REMI_VOCAB - 1, name, sizeof name);
    CHECK(strcmp(name, "TIME_SIG_16/16") == 0, "the last token: %s", name);
    pairc()->token_name(CDZ_REMI_SEP, name, sizeof name);
    CHECK(strcmp(name, "SEP") == 0, "%s", name);
    /* every meter token's bar fits the positions, and names are unique (token_from_name finds each) */
    int bad = 0;
    for (int k = 0; k < CDZ_REMI_TIME_SIGS; k++) {
        int n, d;
        cdz_remi_time_sig(k, &n, &d);
        bad += cdz_remi_time_sig_token(n, d) != k || 48 * n / d > CDZ_REMI_POSITIONS;
    }
    for (uint32_t t = 0; t < CDZ_REMI_PAIR_VOCAB; t++) {
        uint16_t back = 0;
        pairc()->token_name((uint16_t)t, name, sizeof name);
        bad += cdz_codec_token_from_name(pairc(), name, &back) != CDZ_OK || back != t;
    }
    CHECK_INT(bad, 0);
    CHECK_INT(cdz_remi_duration_token(13), 11);  /* 13 steps: 12 (nearer than 15) */
    CHECK_INT(cdz_remi_duration_token(0), 0);
    CHECK_INT(cdz_remi_duration_steps(cdz_remi_duration_token(100)), 96); /* 96 is nearer than 108 */
    CHECK_INT(cdz_remi_duration_steps(cdz_remi_duration_token(51)), 48);  /* a tie (48, 54): the shorter */
    CHECK_INT(cdz_remi_duration_steps(cdz_remi_duration_token(10000)), CDZ_REMI_MAX_DURATION);

    cdz_score s;
    cdz_tokens t = {0};
    cdz_extract_stats st = {0};
    piece_44(&s);
    CHECK_INT(remi()->encode(&s, &t, &st, NULL), CDZ_OK);
    CHECK(t.n_seqs == 1 && same_tokens(remi(), t.tokens, t.offsets[1], PIECE_44), "the 4/4 piece's tokens");
    CHECK(st.sequences == 1 && st.estimated_bars == 0 && st.long_notes == 0, "a written file keeps its bars");
    cdz_tokens_free(&t);
    cdz_score_free(&s);
    piece_34(&s);
    CHECK_INT(remi()->encode(&s, &t, NULL, NULL), CDZ_OK);
    CHECK(t.n_seqs == 1 && same_tokens(remi(), t.tokens, t.offsets[1], PIECE_34), "the 3/4 piece's tokens");
    cdz_tokens_free(&t);
    cdz_score_free(&s);
}

/* Decoding the 4/4 piece's tokens gives its notes back: the same ticks (480 a quarter both), velocities
 * at their bin's lowest, its tempo map and meter; and encoding what was decoded gives the same tokens. */
static void test_round_trip(void) {
    cdz_score s, d;
    cdz_tokens t = {0}, t2 = {0};
    piece_44(&s);
    CHECK_INT(remi()->encode(&s, &t, NULL, NULL), CDZ_OK);
    CHECK_INT(remi()->decode(t.tokens, t.offsets[1], &d, NULL), CDZ_OK);
    CHECK_INT(d.n_notes, s.n_notes);
    int bad = 0;
    for (size_t i = 0; i < s.n_notes && i < d.n_notes; i++) {
        const cdz_note *a = &s.notes[i], *b = &d.notes[i];
        bad += a->pitch != b->pitch || a->start_tick != b->start_tick || a->end_tick != b->end_tick ||
               b->velocity != cdz_bin_to_velocity(cdz_velocity_to_bin(a->velocity));
    }
    CHECK_INT(bad, 0);
    CHECK(d.n_tempos == 2 && d.tempos[1].tick == 1920 && fabs(d.tempos[1].qpm - 120) < 1e-9, "tempo map");
    CHECK(d.n_time_sigs == 1 && d.time_sigs[0].numerator == 4, "meter");
    CHECK_NEAR(d.notes[s.n_notes - 1].start_s, s.notes[s.n_notes - 1].start_s, 1e-9);
    CHECK_INT(remi()->encode(&d, &t2, NULL, NULL), CDZ_OK);
    CHECK(t2.n_tokens == t.n_tokens && memcmp(t.tokens, t2.tokens, t.n_tokens * 2) == 0, "decode then encode: the same tokens");
    cdz_score_free(&d), cdz_tokens_free(&t2), cdz_tokens_free(&t);
    cdz_score_free(&s);

    /* many notes off the grid: onsets round to the nearest step, durations to the nearest DURATION */
    cdz_score_init(&s, 480, NULL);
    cdz_score_add_time_signature(&s, 0, 4, 4);
    uint64_t r = 7;
    for (int i = 0; i < 400; i++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        int64_t t0 = (int64_t)(i / 4) * 480 + (i % 4 ? (int64_t)((r >> 33) % 480) : 0); /* a note on each beat */
        int64_t len = 1 + (int64_t)((r >> 20) % 10000);
        add(&s, 0, (uint8_t)(30 + (r >> 40) % 60), (uint8_t)(1 + (r >> 50) % 127), t0, t0 + len);
    }
    cdz_score_finish(&s, NULL);
    cdz_extract_stats st = {0};
    CHECK_INT(remi()->encode(&s, &t, &st, NULL), CDZ_OK);
    CHECK_INT(st.estimated_bars, 0);
    CHECK_INT(remi()->decode(t.tokens, t.offsets[1], &d, NULL), CDZ_OK);
    CHECK_INT(d.n_notes, s.n_notes);
    /* the decoded notes, matched by (step, pitch, velocity, duration): each original's rounding is there */
    int missing = 0, longest = 0;
    for (size_t i = 0; i < s.n_notes; i++) {
        const cdz_note *a = &s.notes[i];
        int64_t q0 = (a->start_tick + 20) / 40, q1 = (a->end_tick + 20) / 40, steps = q1 - q0 < 1 ? 1 : q1 - q0;
        int dur = cdz_remi_duration_steps(cdz_remi_duration_token(steps));
        longest |= steps > CDZ_REMI_MAX_DURATION;
        int found = 0;
        for (size_t j = 0; j < d.n_notes && !found; j++) {
            const cdz_note *b = &d.notes[j];
            found = b->pitch == a->pitch && b->start_tick == q0 * 40 && b->end_tick == (q0 + dur) * 40 &&
                    b->velocity == cdz_bin_to_velocity(cdz_velocity_to_bin(a->velocity));
        }
        missing += !found;
    }
    CHECK_INT(missing, 0);
    CHECK(longest && st.long_notes > 0, "notes past 192 steps are counted (%llu)", (unsigned long long)st.long_notes);
    cdz_score_free(&d), cdz_tokens_free(&t), cdz_score_free(&s);
}

static cdz_status decode_names(const char *text, cdz_score *out) {
    uint16_t tok[256];
    size_t n = names(remi(), text, tok, 256);
    return remi()->decode(tok, n, out, NULL);
}

/* Odd and corrupt sequences: each decodes to a valid score as the rules in remi.c say. */
static void test_odd_input(void) {
    cdz_score d;
    uint16_t big = CDZ_REMI_VOCAB;
    CHECK_INT(remi()->decode(&big, 1, &d, NULL), CDZ_ERR_RANGE);
    big = CDZ_REMI_SEP; /* the pairs' separator is no remi token */
    CHECK_INT(remi()->decode(&big, 1, &d, NULL), CDZ_ERR_RANGE);
    CHECK_INT(remi()->decode(NULL, 0, &d, NULL), CDZ_OK);
    CHECK_INT(d.n_notes, 0);
    cdz_score_free(&d);
    /* a position before any BAR: bar 0, which the first BAR then opens */
    CHECK_INT(decode_names("POSITION_12 PITCH_60 VELOCITY_20 DURATION_12 BAR POSITION_0 PITCH_62 BAR PITCH_64", &d), CDZ_OK);
    CHECK(d.n_notes == 3 && d.notes[0].start_tick == 0 && d.notes[0].pitch == 62 && d.notes[1].start_tick == 480 &&
          d.notes[2].start_tick == 1920, "notes at %lld, %lld, %lld", (long long)d.notes[0].start_tick,
          (long long)d.notes[1].start_tick, (long long)d.notes[2].start_tick);
    /* a PITCH alone takes the last velocity and duration (before any: the bin of 64 and a quarter) */
    CHECK(d.notes[0].velocity == cdz_bin_to_velocity(20) && d.notes[0].end_tick == 480, "defaults from the note before");
    CHECK(d.notes[1].velocity == cdz_bin_to_velocity(20) && d.notes[1].end_tick == 960, "note 2 (%d, %lld)", d.notes[1].velocity,
          (long long)d.notes[1].end_tick);
    cdz_score_free(&d);
    CHECK_INT(decode_names("BAR PITCH_60 BAR", &d), CDZ_OK);
    CHECK(d.n_notes == 1 && d.notes[0].velocity == cdz_bin_to_velocity(cdz_velocity_to_bin(64)) &&
          d.notes[0].end_tick - d.notes[0].start_tick == 480, "the first note's defaults");
    cdz_score_free(&d);
    /* DURATION and VELOCITY without a note set the defaults; a POSITION past the bar lies past its bar line */
    CHECK_INT(decode_names("DURATION_48 VELOCITY_32 BAR POSITION_60 PITCH_70", &d), CDZ_OK);
    CHECK(d.n_notes == 1 && d.notes[0].start_tick == 2400 && d.notes[0].end_tick == 2400 + 1920 &&
          d.notes[0].velocity == cdz_bin_to_velocity(32), "position 60 of a 48-step bar");
    cdz_score_free(&d);
    /* durations past the end: the note keeps them (every note ends) */
    CHECK_INT(decode_names("BAR POSITION_47 PITCH_40 VELOCITY_10 DURATION_192", &d), CDZ_OK);
    CHECK(d.n_notes == 1 && d.notes[0].end_tick == 47 * 40 + 192 * 40 && d.end_tick == d.notes[0].end_tick, "a long last note");
    cdz_score_free(&d);
    /* meters change the bar's length; tempos at a step; two at one step: the later */
    CHECK_INT(decode_names("BAR TIME_SIG_3/4 POSITION_0 TEMPO_60 TEMPO_80 BAR TIME_SIG_6/8 POSITION_6 TEMPO_100 PITCH_60 "
                           "BAR PITCH_61", &d), CDZ_OK);
    CHECK(d.n_notes == 2 && d.notes[0].start_tick == 1440 + 240 && d.notes[1].start_tick == 1440 + 1440, "bars of 3/4 and 6/8");
    CHECK(d.n_time_sigs == 2 && d.time_sigs[0].numerator == 3 && d.time_sigs[1].numerator == 6 && d.time_sigs[1].tick == 1440,
          "meters written where they change");
    CHECK(d.n_tempos == 2 && fabs(d.tempos[0].qpm - 80) < 1e-9 && d.tempos[1].tick == 1680, "tempos: 80 at 0, 100 later");
    cdz_score_free(&d);
    /* pairs: tokens after a second SEP still belong to the piano; the melody part alone is fine */
    uint16_t p[12];
    size_t n = names(pairc(), "BAR PITCH_60 SEP BAR PITCH_48 SEP POSITION_12 PITCH_50", p, 12);
    CHECK_INT(pairc()->decode(p, n, &d, NULL), CDZ_OK);
    CHECK(d.n_notes == 3 && d.n_tracks == 2 && strcmp(d.tracks[1].name, "Accompaniment") == 0, "pair decode");
    cdz_score_free(&d);
    CHECK_INT(pairc()->decode(p, 2, &d, NULL), CDZ_OK);
    cdz_score_free(&d);
    big = CDZ_REMI_PAIR_VOCAB;
    CHECK_INT(pairc()->decode(&big, 1, &d, NULL), CDZ_ERR_RANGE);
}

static void test_transpose(void) {
    uint16_t t[32], orig[32];
    size_t n = names(pairc(), "BAR TIME_SIG_4/4 POSITION_0 TEMPO_120 PITCH_60 VELOCITY_20 DURATION_12 SEP BAR PITCH_127 "
                              "VELOCITY_3 DURATION_192", t, 32);
    memcpy(orig, t, sizeof t);
    CHECK_INT(cdz_codec_transpose(pairc(), t, n, 1), 0); /* 127 + 1 leaves the range: nothing changes */
    CHECK(memcmp(t, orig, sizeof t) == 0, "unchanged");
    CHECK_INT(cdz_codec_transpose(pairc(), t, n, -5), 1);
    int moved = 0, others = 0;
    for (size_t i = 0; i < n; i++) {
        int pitched = orig[i] >= CDZ_REMI_PITCH && orig[i] < CDZ_REMI_VELOCITY;
        moved += pitched && t[i] == orig[i] - 5;
        others += !pitched && t[i] != orig[i];
    }
    CHECK(moved == 2 && others == 0, "only pitches move (%d, %d)", moved, others);
    CHECK_INT(cdz_codec_transpose(remi(), t, 7, 3), 1);
    CHECK_INT(t[4], CDZ_REMI_PITCH + 58);
}

/* A file as POP909 writes them: its tempo map gives the beat's length, but its beats lie 253 ticks into
 * the quarter-note grid of the ticks, its meter is 1/4, and its bars start on the second beat (after a
 * pickup). The codec finds the beat, the meter (4/4) and the downbeat, and puts every note on the grid. */
static void test_estimated_bars(void) {
    static const int chords[4][3] = {{48, 64, 67}, {53, 65, 69}, {55, 62, 71}, {45, 60, 64}};
    cdz_score s;
    cdz_score_init(&s, 480, NULL);
    cdz_score_add_tempo(&s, 0, 80);
    cdz_score_add_time_signature(&s, 0, 1, 4);
    const int64_t phase = 253, P = 480;
    add(&s, 0, 72, 70, phase, phase + 240); /* the pickup, beat 0 */
    for (int bar = 0; bar < 8; bar++) {
        int64_t d = phase + (1 + 4 * (int64_t)bar) * P;
        for (int k = 0; k < 3; k++) add(&s, 0, (uint8_t)chords[bar % 4][k], 60, d, d + 4 * P - 10);
        for (int e = 0; e < 8; e++) add(&s, 0, (uint8_t)(74 + (e * 3 + bar) % 7), 80, d + e * 240, d + e * 240 + 200);
    }
    cdz_score_finish(&s, NULL);
    cdz_score a;
    cdz_remi_frame f;
    CHECK_INT(cdz_remi_align(&s, 0, &a, &f, NULL), CDZ_OK);
    CHECK(f.estimated && f.phase == phase && f.downbeat == 1 && f.numerator == 4 && f.denominator == 4,
          "estimated %d, phase %lld, downbeat %d, %d/%d", f.estimated, (long long)f.phase, f.downbeat, f.numerator,
          f.denominator);
    /* bar 0 holds the pickup on its beat 4; the chords start at bar 1 */
    CHECK(a.n_notes && a.notes[0].start_tick == 3 * P && f.shift == 3 * P - phase, "the pickup at %lld",
          a.n_notes ? (long long)a.notes[0].start_tick : -1LL);
    CHECK(a.n_time_sigs == 1 && a.time_sigs[0].numerator == 4 && a.time_sigs[0].tick == 0, "4/4 from tick 0");
    CHECK_NEAR(a.notes[0].start_s, s.notes[0].start_s + (double)f.shift / P * 60 / 80, 1e-9);
    cdz_score_free(&a);
    /* from the file's start (an accompaniment's melody: its intro kept): bar 0 holds tick 0 */
    CHECK_INT(cdz_remi_align(&s, 1, &a, &f, NULL), CDZ_OK);
    CHECK(f.shift == 3 * P - phase && a.notes[0].start_tick == 3 * P, "bar 0 from tick 0: shift %lld", (long long)f.shift);
    cdz_score_free(&a);
    cdz_score late;
    cdz_score_copy(&late, &s, NULL);
    cdz_score_shift_ticks(&late, 20 * P, NULL); /* 20 beats of silence first */
    CHECK_INT(cdz_remi_align(&late, 1, &a, &f, NULL), CDZ_OK);
    CHECK(f.shift >= 0 && f.shift < 4 * P && a.notes[0].start_tick == 23 * P, "the silence kept: shift %lld, first note %lld",
          (long long)f.shift, (long long)a.notes[0].start_tick);
    cdz_score_free(&a);
    CHECK_INT(cdz_remi_align(&late, 0, &a, &f, NULL), CDZ_OK);
    CHECK(a.notes[0].start_tick == 3 * P, "from the first note's bar: %lld", (long long)a.notes[0].start_tick);
    cdz_score_free(&a), cdz_score_free(&late);
    cdz_tokens t = {0};
    cdz_extract_stats st = {0};
    CHECK_INT(remi()->encode(&s, &t, &st, NULL), CDZ_OK);
    CHECK_INT(st.estimated_bars, 1);
    CHECK(t.n_seqs == 1 && t.offsets[1] > 8 &&
          same_tokens(remi(), t.tokens, 8, "BAR TIME_SIG_4/4 POSITION_0 TEMPO_80 POSITION_36 PITCH_72 VELOCITY_18 DURATION_6"),
          "bar 0: the pickup on beat 4");
    size_t bars = 0, off_grid = 0;
    for (size_t i = 0; i < t.n_tokens; i++) {
        bars += t.tokens[i] == CDZ_REMI_BAR;
        off_grid += t.tokens[i] >= CDZ_REMI_POSITION && t.tokens[i] < CDZ_REMI_PITCH && (t.tokens[i] - CDZ_REMI_POSITION) % 6;
    }
    CHECK(bars == 9 && off_grid == 0, "9 bars (%zu), every onset on an 8th (%zu off)", bars, off_grid);
    cdz_tokens_free(&t);
    /* a primer from it: the generator is told what was estimated */
    cdz_gen_frame fr = {0};
    cdz_tokens pt = {0};
    CHECK_INT(remi()->gen->primer(remi(), &s, &fr, &pt, NULL), CDZ_OK);
    CHECK(strstr(fr.note, "bar lines estimated") && fr.qpm == 80 && fr.numerator == 4, "primer frame: %s", fr.note);
    cdz_tokens_free(&pt);
    cdz_score_free(&s);
}

/* Bars from a beat annotation (POP909's beat_midi.txt): beats at 0.5 s + k at 60 qpm (240 ticks into the
 * ticks' grid), bars of 4 beats from beat 1, one of 2 beats at beat 13, a pickup on beat 0. */
static void test_annotated_bars(void) {
    char dir[] = "/tmp/cadenza_remi_XXXXXX", path[64];
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    snprintf(path, sizeof path, "%s/beat_midi.txt", dir);
    FILE *f = fopen(path, "w");
    for (int k = 0; f && k < 24; k++) {
        int down = k == 1 || k == 5 || k == 9 || k == 13 || k == 15 || k == 19 || k == 23;
        fprintf(f, "%.6f %d.0 %d.0\n", 0.5 + k, k % 2, down);
    }
    if (f) fclose(f);
    cdz_beats b;
    CHECK_INT(cdz_beats_read(&b, path, NULL), CDZ_OK);
    CHECK(b.n == 24 && b.downbeat[1] && !b.downbeat[2] && fabs(b.seconds[3] - 3.5) < 1e-9, "%zu beats", b.n);
    cdz_score s;
    cdz_score_init(&s, 480, NULL);
    cdz_score_add_tempo(&s, 0, 60);
    cdz_score_add_time_signature(&s, 0, 1, 4);
    add(&s, 0, 70, 80, 240, 480);
    for (int k = 1; k < 24; k += 2) add(&s, 0, (uint8_t)(50 + k), 80, 240 + 480 * k, 240 + 480 * k + 400);
    cdz_score_finish(&s, NULL);
    CHECK_INT(cdz_score_set_bars(&s, &b, NULL), CDZ_OK);
    CHECK(s.notes[0].start_tick == 1440 && s.notes[1].start_tick == 1920, "the pickup on bar 0's beat 4 (%lld), beat 1 on bar 1",
          (long long)s.notes[0].start_tick);
    CHECK(s.n_time_sigs == 3 && s.time_sigs[0].numerator == 4 && s.time_sigs[1].tick == 7680 &&
          s.time_sigs[1].numerator == 2 && s.time_sigs[2].tick == 8640 && s.time_sigs[2].numerator == 4,
          "4/4, a bar of 2/4 at 7680, 4/4 again (%zu meters: %lld %d/%d, %lld %d/%d)", s.n_time_sigs, (long long)s.time_sigs[0].tick, s.time_sigs[0].numerator, s.time_sigs[0].denominator, (long long)s.time_sigs[1].tick, s.time_sigs[1].numerator, s.time_sigs[1].denominator);
    CHECK(s.n_tempos == 1 && s.tempos[0].tick == 0, "the tempo holds from 0");
    cdz_tokens t = {0};
    cdz_extract_stats st = {0};
    CHECK_INT(remi()->encode(&s, &t, &st, NULL), CDZ_OK);
    CHECK(st.estimated_bars == 0 && st.odd_bars == 0, "the annotation's bars are kept");
    int bar = -1, meters[8] = {0};
    for (size_t i = 0; i < t.n_tokens; i++) {
        bar += t.tokens[i] == CDZ_REMI_BAR;
        if (t.tokens[i] >= CDZ_REMI_TIME_SIG && bar >= 0 && bar < 8) meters[bar] = t.tokens[i] - CDZ_REMI_TIME_SIG;
    }
    CHECK(meters[0] == cdz_remi_time_sig_token(4, 4) && meters[4] == cdz_remi_time_sig_token(2, 4) &&
          meters[5] == cdz_remi_time_sig_token(4, 4) && meters[1] == 0 && meters[3] == 0, "TIME_SIG in bars 0, 4 and 5");
    cdz_tokens_free(&t);
    cdz_score_free(&s);
    b.downbeat[1] = b.downbeat[5] = b.downbeat[9] = b.downbeat[13] = b.downbeat[15] = b.downbeat[19] = 0;
    cdz_score_init(&s, 480, NULL);
    CHECK_INT(cdz_score_set_bars(&s, &b, NULL), CDZ_ERR_ARG); /* one downbeat */
    cdz_score_free(&s);
    cdz_beats_free(&b);
    f = fopen(path, "w");
    if (f) fputs("0.5 1 1\n# a comment\n\n1.0 zero 0\n", f), fclose(f);
    cdz_error err = {0};
    CHECK(cdz_beats_read(&b, path, &err) == CDZ_ERR_FORMAT && strstr(err.msg, ":4:"), "a bad line named: %s", err.msg);
    remove(path);
    rmdir(dir);
}

/* A score of MELODY and PIANO tracks over 10 bars of 4/4: the melody enters at bar 8 (an intro without
 * it), a piano note in bar 7 lasts two bars. */
static void pair_score(cdz_score *s) {
    cdz_score_init(s, 480, NULL);
    cdz_score_add_time_signature(s, 0, 4, 4);
    for (int bar = 0; bar < 10; bar++) add(s, 1, (uint8_t)(48 + bar), 60, bar * 1920, bar * 1920 + 480);
    add(s, 1, 40, 60, 7 * 1920 + 960, 9 * 1920 + 960);
    add(s, 0, 72, 90, 8 * 1920, 8 * 1920 + 480);
    add(s, 0, 74, 90, 9 * 1920 + 480, 9 * 1920 + 960);
    cdz_score_finish(s, NULL);
    snprintf(s->tracks[0].name, sizeof s->tracks[0].name, "MELODY");
    snprintf(s->tracks[1].name, sizeof s->tracks[1].name, "Piano");
}

static void test_pairs(void) {
    cdz_score s;
    pair_score(&s);
    cdz_tokens t = {0};
    cdz_extract_stats st = {0};
    CHECK_INT(pairc()->encode(&s, &t, &st, NULL), CDZ_OK);
    CHECK(t.n_seqs == 2 && st.sequences == 2 && st.silent_melody == 1, "stretches [0, 8) and [4, 10): %zu (%llu silent)",
          t.n_seqs, (unsigned long long)st.silent_melody);
    if (t.n_seqs == 2) {
        const char *first =
            "BAR TIME_SIG_4/4 POSITION_0 TEMPO_120 BAR BAR BAR BAR BAR BAR BAR SEP "
            "BAR TIME_SIG_4/4 POSITION_0 TEMPO_120 PITCH_48 VELOCITY_15 DURATION_12 BAR POSITION_0 PITCH_49 VELOCITY_15 DURATION_12 "
            "BAR POSITION_0 PITCH_50 VELOCITY_15 DURATION_12 BAR POSITION_0 PITCH_51 VELOCITY_15 DURATION_12 "
            "BAR POSITION_0 PITCH_52 VELOCITY_15 DURATION_12 BAR POSITION_0 PITCH_53 VELOCITY_15 DURATION_12 "
            "BAR POSITION_0 PITCH_54 VELOCITY_15 DURATION_12 BAR POSITION_0 PITCH_55 VELOCITY_15 DURATION_12 "
            "POSITION_24 PITCH_40 VELOCITY_15 DURATION_96";
        CHECK(same_tokens(pairc(), t.tokens, t.offsets[1], first), "the intro's pair: silent melody, a note past its end whole");
        /* the second stretch starts at bar 4 with its meter and tempo stated again */
        const uint16_t *second = t.tokens + t.offsets[1];
        CHECK(same_tokens(pairc(), second, 4, "BAR TIME_SIG_4/4 POSITION_0 TEMPO_120"), "stretch 2 opens");
        size_t sep = 0, bars = 0;
        for (size_t i = 0; i < t.offsets[2] - t.offsets[1]; i++) {
            if (second[i] == CDZ_REMI_SEP) sep = i;
            bars += second[i] == CDZ_REMI_BAR;
        }
        CHECK(sep > 0 && bars == 12, "six bars on each side (%zu BARs)", bars);
    }
    cdz_tokens_free(&t);
    /* without tracks named MELODY and PIANO: nothing, counted */
    snprintf(s.tracks[1].name, sizeof s.tracks[1].name, "Strings");
    memset(&st, 0, sizeof st);
    CHECK_INT(pairc()->encode(&s, &t, &st, NULL), CDZ_OK);
    CHECK(t.n_seqs == 0 && st.empty == 1, "no piano: nothing");
    cdz_tokens_free(&t);
    /* the generation hooks: a condition of bars [8, 10) and the piano of bars [4, 6) with the next BAR */
    snprintf(s.tracks[1].name, sizeof s.tracks[1].name, "PIANO");
    const cdz_codec_bar_gen *bg = cdz_codec_bar_gen_of(pairc());
    CHECK(bg && bg->segment_bars == 8 && bg->stride_bars == 4 && cdz_codec_bar_gen_of(cdz_codec_find("performance")) == NULL,
          "bar hooks");
    if (bg) {
        CHECK_INT(bg->condition_bars(&s, 8, 2, &t, NULL), CDZ_OK);
        CHECK(same_tokens(pairc(), t.tokens, t.offsets[1], "BAR TIME_SIG_4/4 POSITION_0 TEMPO_120 PITCH_72 VELOCITY_23 "
                                                          "DURATION_12 BAR POSITION_12 PITCH_74 VELOCITY_23 DURATION_12 SEP"),
              "condition");
        cdz_tokens_free(&t);
        CHECK_INT(bg->part_bars(&s, 1, 4, 2, &t, NULL), CDZ_OK);
        CHECK(same_tokens(pairc(), t.tokens, t.offsets[1], "BAR TIME_SIG_4/4 POSITION_0 TEMPO_120 PITCH_52 VELOCITY_15 "
                                                          "DURATION_12 BAR POSITION_0 PITCH_53 VELOCITY_15 DURATION_12 BAR"),
              "primer part");
        cdz_tokens_free(&t);
        CHECK_INT(bg->part_bars(&s, 1, 12, 0, &t, NULL), CDZ_OK);
        CHECK(t.n_seqs == 1 && t.offsets[1] == 1 && t.tokens[0] == CDZ_REMI_BAR, "no bars yet: the BAR alone");
        cdz_tokens_free(&t);
        CHECK_INT(bg->part_bars(&s, 1, -1, 2, &t, NULL), CDZ_ERR_ARG);
    }
    cdz_score_free(&s);
}

/* ---- every allocation failing in turn: an error, nothing leaked ---- */

static cdz_score g_est, g_pair;
static cdz_tokens g_tok;
static cdz_beats g_beats;

static cdz_status op_encode(const cdz_codec *c, const cdz_score *s) {
    cdz_tokens t = {0};
    cdz_status st = c->encode(s, &t, NULL, NULL);
    cdz_tokens_free(&t);
    return st;
}
static cdz_status op_decode(const cdz_codec *c) {
    cdz_score d;
    cdz_status st = c->decode(g_tok.tokens, g_tok.n_tokens, &d, NULL);
    if (st == CDZ_OK) cdz_score_free(&d);
    return st;
}
static cdz_status op_set_bars(void) {
    cdz_score s;
    cdz_status st = cdz_score_copy(&s, &g_est, NULL);
    if (st == CDZ_OK) st = cdz_score_set_bars(&s, &g_beats, NULL), cdz_score_free(&s);
    return st;
}
static cdz_status op_hooks(void) {
    const cdz_codec_bar_gen *bg = cdz_codec_bar_gen_of(pairc());
    cdz_tokens t = {0};
    cdz_status st = bg->condition_bars(&g_pair, 6, 4, &t, NULL);
    if (st == CDZ_OK) st = bg->part_bars(&g_pair, 1, 2, 3, &t, NULL);
    cdz_tokens_free(&t);
    return st;
}

static void test_faults(void) {
    static const int chords[2][3] = {{48, 64, 67}, {53, 65, 69}};
    cdz_score_init(&g_est, 480, NULL);
    cdz_score_add_time_signature(&g_est, 0, 1, 4);
    for (int bar = 0; bar < 4; bar++)
        for (int k = 0; k < 3; k++) add(&g_est, 0, (uint8_t)chords[bar % 2][k], 60, 100 + 1920 * bar, 100 + 1920 * bar + 1900);
    cdz_score_add_control(&g_est, 0, 0, 0, 64, 127);
    cdz_score_finish(&g_est, NULL);
    pair_score(&g_pair);
    snprintf(g_pair.tracks[1].name, sizeof g_pair.tracks[1].name, "PIANO");
    g_beats.n = 12;
    g_beats.seconds = malloc(12 * sizeof *g_beats.seconds), g_beats.downbeat = calloc(12, 1);
    for (int k = 0; k < 12; k++) g_beats.seconds[k] = 0.05 + 0.5 * k, g_beats.downbeat[k] = k % 4 == 0;
    uint16_t tok[64];
    size_t n = names(pairc(), PIECE_44, tok, 64);
    cdz_tokens_append(&g_tok, tok, n);
    FAIL_EACH_ALLOCATION("remi encode (bars estimated)", op_encode(remi(), &g_est));
    FAIL_EACH_ALLOCATION("remi_acc encode", op_encode(pairc(), &g_pair));
    FAIL_EACH_ALLOCATION("remi decode", op_decode(remi()));
    g_tok.tokens[10] = CDZ_REMI_SEP;
    FAIL_EACH_ALLOCATION("remi_acc decode", op_decode(pairc()));
    FAIL_EACH_ALLOCATION("bars from beats", op_set_bars());
    FAIL_EACH_ALLOCATION("remi_acc generation hooks", op_hooks());
    free(g_beats.seconds), free(g_beats.downbeat);
    cdz_tokens_free(&g_tok);
    cdz_score_free(&g_est), cdz_score_free(&g_pair);
}

/* ---- generation with tiny untrained models ---- */

static cdz_model *tiny(const char *json) {
    cdz_model *m = NULL;
    cdz_error err;
    if (cdz_model_from_json(&m, json, strlen(json), "tiny", &err) != CDZ_OK) {
        CHECK(0, "%s", err.msg);
        return NULL;
    }
    cdz_model_init_params(m, 3);
    test_shake(m, 4);
    /* bars come often (an untrained model's BAR is one token in 600) */
    const cdz_tensor_info *bias = cdz_model_tensor(m, "output.bias");
    if (bias) m->params[bias->offset + CDZ_REMI_BAR] += 4;
    return m;
}

/* Every note of the given track (-1: all) on the 40-tick grid, ended, at most 192 steps long. */
static int on_grid(const cdz_score *s, int track, size_t *n) {
    int bad = 0;
    *n = 0;
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *x = &s->notes[i];
        if (track >= 0 && x->track != track) continue;
        (*n)++;
        bad += x->start_tick % 40 != 0 || x->end_tick <= x->start_tick || x->end_tick - x->start_tick > 192 * 40 ||
               (x->end_tick - x->start_tick) % 40 != 0;
    }
    return bad == 0;
}

static void test_generate(void) {
    cdz_model *m = tiny("{\"kind\":\"music_transformer\",\"config_name\":\"remi_tiny\",\"codec\":\"remi\",\"layers\":1,"
                        "\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":64,\"dropout\":0,\"seq\":64}");
    if (!m) return;
    cdz_error err = {0};
    cdz_gen_result res;
    size_t n;
    /* from the start: 3 bars of 4/4 at 120 qpm */
    cdz_gen_request rq = cdz_gen_default_request();
    rq.unit = CDZ_LEN_BARS, rq.length = 3, rq.n_outputs = 2;
    CHECK(cdz_generate_score(m, &rq, &res, &err) == CDZ_OK && res.n == 2, "%s", err.msg);
    for (int o = 0; o < res.n; o++) {
        const cdz_score *s = &res.scores[o];
        CHECK(on_grid(s, -1, &n), "output %d: notes on the grid, ended, at most 192 steps", o);
        CHECK(res.qpm == 120 && res.numerator == 4, "120 qpm, 4/4");
        int late = 0;
        for (size_t i = 0; i < s->n_notes; i++) late += s->notes[i].start_tick >= cdz_score_bar_to_tick(s, 2) + 96 * 40;
        CHECK(late == 0, "output %d: %d notes past bar 3", o, late);
    }
    CHECK(!strstr(res.notes, "before the end"), "3 bars reached: %s", res.notes);
    cdz_gen_result_free(&res);
    /* a primer in 3/4 at 90 qpm: kept (its notes where they were), and 2 bars more in its meter and tempo */
    cdz_score prim;
    piece_34(&prim);
    rq = cdz_gen_default_request();
    rq.primer = &prim, rq.unit = CDZ_LEN_SECONDS, rq.length = 4; /* 2 bars of 3/4 at 90: exactly 4 s */
    CHECK(cdz_generate_score(m, &rq, &res, &err) == CDZ_OK && res.n == 1, "%s", err.msg);
    if (res.n) {
        const cdz_score *s = &res.scores[0];
        CHECK(res.qpm == 90 && res.numerator == 3 && res.denominator == 4, "the primer's frame: %g, %d/%d", res.qpm,
              res.numerator, res.denominator);
        CHECK(s->n_tempos >= 1 && fabs(s->tempos[0].qpm - 90) < 1e-3 && s->n_time_sigs >= 1 && s->time_sigs[0].numerator == 3,
              "written at 90 qpm in 3/4 (%zu tempos, first %g; %zu meters, first %d/%d)", s->n_tempos,
              s->n_tempos ? s->tempos[0].qpm : 0.0, s->n_time_sigs, s->n_time_sigs ? s->time_sigs[0].numerator : 0,
              s->n_time_sigs ? s->time_sigs[0].denominator : 0);
        CHECK(s->n_notes >= 3 && s->notes[0].pitch == 62 && s->notes[0].start_tick == 0, "the primer first");
        CHECK_NEAR(s->notes[0].end_s, prim.notes[0].end_s, 1e-9);
        CHECK_STR_CONTAINS(res.notes, "4 s taken as 2 bars of 3/4 at 90 qpm");
        CHECK(on_grid(s, -1, &n), "on the grid");
    }
    cdz_gen_result_free(&res);
    /* a tempo asked for stretches the output to it; a length in tokens is that many tokens */
    rq.qpm = 60, rq.unit = CDZ_LEN_TOKENS, rq.length = 50;
    CHECK(cdz_generate_score(m, &rq, &res, &err) == CDZ_OK && res.n == 1 && res.new_tokens[0] == 50, "%s", err.msg);
    if (res.n) CHECK(fabs(res.scores[0].tempos[0].qpm - 60) < 1e-3, "60 qpm (%g)", res.scores[0].tempos[0].qpm);
    cdz_gen_result_free(&res);
    cdz_score_free(&prim);
    cdz_model_free(m);
    /* absolute positions past the context: pieces restart at a bar line */
    m = tiny("{\"kind\":\"music_transformer\",\"config_name\":\"remi_abs\",\"codec\":\"remi\",\"attention\":\"absolute\","
             "\"layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":48,\"dropout\":0,\"seq\":48}");
    if (m) {
        rq = cdz_gen_default_request();
        rq.unit = CDZ_LEN_BARS, rq.length = 12;
        CHECK(cdz_generate_score(m, &rq, &res, &err) == CDZ_OK && res.n == 1, "%s", err.msg);
        if (res.n) {
            CHECK(res.new_tokens[0] > 48, "past the context (%lld tokens)", (long long)res.new_tokens[0]);
            CHECK_STR_CONTAINS(res.notes, "primed with the last half");
            CHECK(on_grid(&res.scores[0], -1, &n), "on the grid");
        }
        cdz_gen_result_free(&res);
        rq.sampling.beam_size = 2, rq.sampling.branch_factor = 2;
        CHECK(cdz_generate_score(m, &rq, &res, &err) == CDZ_ERR_ARG, "beam search in bars is refused");
        cdz_model_free(m);
    }
}

static void test_accompany(void) {
    cdz_model *m = tiny("{\"kind\":\"accompaniment\",\"config_name\":\"acc_remi_tiny\",\"codec\":\"remi_acc\","
                        "\"enc_layers\":1,\"dec_layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":256,"
                        "\"dropout\":0}");
    if (!m) return;
    CHECK_INT(m->vocab, CDZ_REMI_VOCAB); /* predicts the remi tokens; SEP only in histories */
    /* a melody (track MELODY, beside a drone) of 14 bars of 4/4 at 100 qpm, silent for its first 4 */
    cdz_score mel;
    cdz_score_init(&mel, 480, NULL);
    cdz_score_add_tempo(&mel, 0, 100);
    cdz_score_add_time_signature(&mel, 0, 4, 4);
    for (int beat = 16; beat < 56; beat++) {
        add(&mel, 0, (uint8_t)(60 + beat % 7), 90, beat * 480, beat * 480 + 400);
        add(&mel, 1, 40, 60, beat * 480, beat * 480 + 480);
    }
    cdz_score_finish(&mel, NULL);
    snprintf(mel.tracks[0].name, sizeof mel.tracks[0].name, "MELODY");
    snprintf(mel.tracks[1].name, sizeof mel.tracks[1].name, "Drone");
    cdz_gen_request rq = cdz_gen_default_request();
    rq.condition = &mel, rq.n_outputs = 2;
    cdz_gen_result res;
    cdz_error err = {0};
    CHECK(cdz_generate_score(m, &rq, &res, &err) == CDZ_OK && res.n == 2, "%s", err.msg);
    for (int o = 0; o < res.n; o++) {
        const cdz_score *s = &res.scores[o];
        size_t added = 0, melody = 0, drone = 0, intro = 0;
        CHECK(on_grid(s, 2, &added), "output %d: accompaniment on the grid, every note ended, at most 192 steps", o);
        for (size_t i = 0; i < s->n_notes; i++) {
            melody += s->notes[i].track == 0, drone += s->notes[i].track == 1;
            intro += s->notes[i].track == 2 && s->notes[i].start_tick < 4 * 1920;
        }
        CHECK(melody == 40 && drone == 0 && added > 0, "melody %zu, drone %zu, %zu added", melody, drone, added);
        CHECK(intro > 0, "output %d: the intro without melody is played (%zu notes)", o, intro);
        CHECK(s->n_tracks == 3 && strcmp(s->tracks[2].name, "Accompaniment") == 0, "its own track");
        /* the melody stays where it was (a written file keeps its bars: nothing moved) */
        int64_t first = -1;
        for (size_t i = 0; i < s->n_notes && first < 0; i++)
            if (s->notes[i].track == 0) first = s->notes[i].start_tick;
        CHECK(first == 16 * 480, "the melody not moved (%lld)", (long long)first);
    }
    CHECK(!strstr(res.notes, "estimated"), "no estimate for a written file: %s", res.notes);
    cdz_gen_result_free(&res);
    /* the same seed, the same accompaniment */
    cdz_gen_result again;
    rq.n_outputs = 1;
    CHECK(cdz_generate_score(m, &rq, &res, &err) == CDZ_OK && cdz_generate_score(m, &rq, &again, &err) == CDZ_OK, "%s", err.msg);
    if (res.n && again.n) {
        int same = res.scores[0].n_notes == again.scores[0].n_notes;
        for (size_t i = 0; same && i < res.scores[0].n_notes; i++)
            same = res.scores[0].notes[i].start_tick == again.scores[0].notes[i].start_tick &&
                   res.scores[0].notes[i].pitch == again.scores[0].notes[i].pitch;
        CHECK(same, "reproducible");
    }
    cdz_gen_result_free(&res), cdz_gen_result_free(&again);
    {
        /* a melody off its ticks' grid (as POP909's files are): its bar lines are estimated, and the
         * output keeps the melody's own ticks (the model writes on the estimated bars; nothing of the
         * user's melody moves) */
        cdz_score off;
        CHECK(cdz_score_copy(&off, &mel, NULL) == CDZ_OK && cdz_score_shift_ticks(&off, 200, NULL) == CDZ_OK, "shifted copy");
        rq.condition = &off;
        CHECK(cdz_generate_score(m, &rq, &res, &err) == CDZ_OK && res.n == 1, "%s", err.msg);
        CHECK_STR_CONTAINS(res.notes, "estimated");
        size_t same = 0, n_mel = 0;
        for (size_t i = 0; res.n && i < res.scores[0].n_notes; i++) {
            const cdz_note *x = &res.scores[0].notes[i];
            if (x->track != 0) continue;
            n_mel++;
            for (size_t j = 0; j < off.n_notes; j++)
                if (off.notes[j].track == 0 && off.notes[j].start_tick == x->start_tick && off.notes[j].pitch == x->pitch &&
                    off.notes[j].end_tick == x->end_tick) {
                    same++;
                    break;
                }
        }
        CHECK(n_mel == 40 && same == 40, "the melody at its own ticks (%zu of %zu)", same, n_mel);
        cdz_gen_result_free(&res);
        cdz_score_free(&off);
        rq.condition = &mel;
    }
    cdz_model_free(m);
    /* a model that reads 8 tokens a side: stretches with melody hold more, and say so */
    m = tiny("{\"kind\":\"accompaniment\",\"config_name\":\"acc_remi_short\",\"codec\":\"remi_acc\","
             "\"enc_layers\":1,\"dec_layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":8,\"dropout\":0}");
    if (m) {
        CHECK(cdz_generate_score(m, &rq, &res, &err) == CDZ_OK, "%s", err.msg);
        CHECK_STR_CONTAINS(res.notes, "hold more melody than the model reads (8 tokens)");
        cdz_gen_result_free(&res);
        cdz_model_free(m);
    }
    cdz_score_free(&mel);
}

/* POP909, every 50th song: both codecs encode it; remi's tokens decode to a score that encodes to the
 * same tokens; the bars were estimated (its meters are 1/4 and 2/4, its beats off the ticks' grid). */
static void test_pop909(const char *data) {
    char path[4096];
    int songs = 0, same = 0, estimated = 0;
    for (int k = 1; k <= 909; k += 50) {
        snprintf(path, sizeof path, "%s/pop909/%03d/%03d.mid", data, k, k);
        cdz_score s;
        if (cdz_score_read_file(&s, path, NULL) != CDZ_OK) continue;
        songs++;
        cdz_score_keep_tracks(&s, "PIANO");
        cdz_tokens t = {0}, t2 = {0}, p = {0};
        cdz_extract_stats st = {0};
        cdz_score d;
        if (remi()->encode(&s, &t, &st, NULL) == CDZ_OK && t.n_seqs == 1 &&
            remi()->decode(t.tokens, t.offsets[1], &d, NULL) == CDZ_OK) {
            if (remi()->encode(&d, &t2, NULL, NULL) == CDZ_OK && t2.n_tokens == t.n_tokens &&
                memcmp(t.tokens, t2.tokens, t.n_tokens * 2) == 0)
                same++;
            else
                printf("  %s: decode then encode differs (%zu, %zu tokens)\n", path, t.n_tokens, t2.n_tokens);
            cdz_score_free(&d);
        }
        estimated += st.estimated_bars == 1;
        cdz_score_free(&s);
        CHECK_INT(cdz_score_read_file(&s, path, NULL), CDZ_OK);
        CHECK(pairc()->encode(&s, &p, NULL, NULL) == CDZ_OK && p.n_seqs > 0, "%s: pairs", path);
        cdz_tokens_free(&t), cdz_tokens_free(&t2), cdz_tokens_free(&p);
        cdz_score_free(&s);
    }
    CHECK(songs == 19 && same == songs && estimated >= songs - 2, "%d songs, %d round trips, %d estimated", songs, same,
          estimated);
}

int main(void) {
    test_layout();
    test_round_trip();
    test_odd_input();
    test_transpose();
    test_estimated_bars();
    test_annotated_bars();
    test_pairs();
    test_faults();
    test_generate();
    test_accompany();
    const char *data = test_data_dir();
    if (data) test_pop909(data);
    else printf("test_remi: no ../shared/data: POP909 round trips skipped\n");
    return test_summary("test_remi");
}

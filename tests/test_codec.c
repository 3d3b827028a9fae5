/* Extractors and codecs: Magenta's melody rules on hand-made scores, squashing, the melody and
 * performance token layouts, round trips on every extracted sequence of the corpora, and decoding of
 * arbitrary token sequences. */
#include <unistd.h>

#include "test.h"

/* A score of one instrument from (pitch, start, end) triples in sixteenth-note steps (ppq 480). */
static void melody_score(cdz_score *s, const int (*notes)[3], size_t n, uint8_t channel) {
    cdz_score_init(s, 480, NULL);
    cdz_score_add_tempo(s, 0, 120);
    cdz_score_add_time_signature(s, 0, 4, 4);
    for (size_t i = 0; i < n; i++)
        cdz_score_add_note(s, 0, channel, 0, (uint8_t)notes[i][0], 90, notes[i][1] * 120, notes[i][2] * 120);
    cdz_score_finish(s, NULL);
}

/* Eight bars of quarter notes over 6 pitch classes. */
static size_t tune(int (*out)[3], int offset_steps, int pitch_shift) {
    static const int pitches[] = {60, 62, 64, 65, 67, 69, 67, 65};
    size_t n = 0;
    for (int bar = 0; bar < 8; bar++)
        for (int q = 0; q < 4; q++, n++) {
            int step = offset_steps + bar * 16 + q * 4;
            out[n][0] = pitches[(bar + q) % 8] + pitch_shift;
            out[n][1] = step;
            out[n][2] = step + 3;
        }
    return n;
}

static void test_melody_rules(void) {
    int notes[200][3];
    cdz_score s;
    cdz_melody *m;
    size_t n;
    cdz_melody_params p = cdz_melody_default_params();
    cdz_extract_stats st = {0};

    size_t k = tune(notes, 0, 0);
    melody_score(&s, notes, k, 0);
    CHECK_INT(cdz_extract_melodies(&s, &p, &m, &n, &st, NULL), CDZ_OK);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_INT(m[0].n_steps, 8 * 16 - 1); /* the final note-off is stripped */
        CHECK_INT(m[0].events[0], 60);
        CHECK_INT(m[0].events[1], CDZ_MELODY_NO_EVENT);
        CHECK_INT(m[0].events[3], CDZ_MELODY_NOTE_OFF);
        CHECK_INT(m[0].events[4], 62);
        CHECK_INT(m[0].steps_per_bar, 16);
    }
    cdz_melodies_free(m, n);
    cdz_score_free(&s);

    /* A gap of a bar ends a melody; the second part is searched from the next bar line. */
    k = tune(notes, 0, 0);
    k += tune(notes + k, 8 * 16 + 20, 0);
    melody_score(&s, notes, k, 0);
    CHECK_INT(cdz_extract_melodies(&s, &p, &m, &n, &st, NULL), CDZ_OK);
    CHECK_INT(n, 2);
    if (n == 2) CHECK_INT(m[1].start_tick, (8 * 16 + 16) * 120);
    cdz_melodies_free(m, n);
    cdz_score_free(&s);

    /* Polyphony: dropped by default, the highest note kept on request. */
    k = tune(notes, 0, 0);
    notes[k][0] = 55, notes[k][1] = 16, notes[k][2] = 18, k++;
    melody_score(&s, notes, k, 0);
    memset(&st, 0, sizeof st);
    CHECK_INT(cdz_extract_melodies(&s, &p, &m, &n, &st, NULL), CDZ_OK);
    CHECK_INT(n, 0);
    CHECK_INT(st.polyphonic_tracks, 1);
    cdz_melodies_free(m, n);
    p.keep_highest = 1;
    CHECK_INT(cdz_extract_melodies(&s, &p, &m, &n, &st, NULL), CDZ_OK);
    CHECK_INT(n, 1);
    if (n == 1) CHECK(m[0].events[16] != 55, "the highest note is kept, got %d", m[0].events[16]);
    cdz_melodies_free(m, n);
    p.keep_highest = 0;
    cdz_score_free(&s);

    /* Too short (6 bars), too few pitch classes, drums ignored, truncation at 512 steps. */
    memset(&st, 0, sizeof st);
    k = tune(notes, 0, 0) - 8;
    melody_score(&s, notes, k, 0);
    CHECK_INT(cdz_extract_melodies(&s, &p, &m, &n, &st, NULL), CDZ_OK);
    CHECK(n == 0 && st.too_short == 1, "6 bars: %zu melodies, too_short %llu", n, (unsigned long long)st.too_short);
    cdz_melodies_free(m, n);
    cdz_score_free(&s);
    k = tune(notes, 0, 0);
    for (size_t i = 0; i < k; i++) notes[i][0] = 60 + 12 * (int)(i % 3) + (int)(i % 2) * 2; /* C and D only */
    melody_score(&s, notes, k, 0);
    CHECK_INT(cdz_extract_melodies(&s, &p, &m, &n, &st, NULL), CDZ_OK);
    CHECK(n == 0 && st.too_few_pitches == 1, "2 pitch classes: %zu melodies", n);
    cdz_melodies_free(m, n);
    cdz_score_free(&s);
    k = tune(notes, 0, 0);
    melody_score(&s, notes, k, 9);
    CHECK_INT(cdz_extract_melodies(&s, &p, &m, &n, &st, NULL), CDZ_OK);
    CHECK_INT(n, 0);
    cdz_melodies_free(m, n);
    cdz_score_free(&s);
    k = 0;
    for (int rep = 0; rep < 5; rep++) k += tune(notes + k, rep * 8 * 16, 0);
    melody_score(&s, notes, k, 0);
    memset(&st, 0, sizeof st);
    CHECK_INT(cdz_extract_melodies(&s, &p, &m, &n, &st, NULL), CDZ_OK);
    CHECK(n == 1 && m[0].n_steps == 512 && st.truncated == 1, "40 bars: truncated to 512 steps");
    cdz_melodies_free(m, n);
    cdz_score_free(&s);

    /* A time signature change splits the score: each part is searched on its own. */
    k = tune(notes, 0, 0);
    k += tune(notes + k, 8 * 16, 0);
    melody_score(&s, notes, k, 0);
    cdz_score_add_time_signature(&s, 8 * 16 * 120, 3, 4);
    cdz_score_finish(&s, NULL);
    CHECK_INT(cdz_extract_melodies(&s, &p, &m, &n, &st, NULL), CDZ_OK);
    CHECK_INT(n, 2);
    if (n == 2) CHECK(m[0].steps_per_bar == 16 && m[1].steps_per_bar == 12, "bars of 16 then 12 steps");
    cdz_melodies_free(m, n);
    cdz_score_free(&s);
}

static void test_squash(void) {
    /* G major (C and F# rule out D and C major), around F#4-D6: to C major, centred in [48, 84). */
    int16_t ev[] = {67, -2, 71, -1, 74, 79, 86, -2, 66, 72};
    cdz_melody m = {ev, 10, 4, 16, 120, 0, 0, 0, 0, 4, 4};
    int amount = cdz_melody_squash(&m, 48, 84, 0);
    /* key G (7) -> C: -7; centre (66 + 86) / 2 = 76, target 65.5: 65.5 - (76 - 7) = -3.5 -> 0 octaves */
    CHECK_INT(amount, -7);
    CHECK_INT(m.events[0], 60);
    CHECK_INT(m.events[6], 79);
    CHECK_INT(m.events[1], CDZ_MELODY_NO_EVENT);
    /* Out of range notes fold in by octaves. */
    int16_t ev2[] = {36, 40, 43, 96, 60};
    cdz_melody m2 = {ev2, 5, 4, 16, 120, 0, 0, 0, 0, 4, 4};
    cdz_melody_squash(&m2, 48, 84, 0);
    for (int i = 0; i < 5; i++) CHECK(m2.events[i] >= 48 && m2.events[i] < 84, "squashed into range: %d", m2.events[i]);
}

/* Labels and input features of lookback_rnn and attention_rnn on a melody whose second bar repeats
 * its first. */
static void test_lookback_features(void) {
    int16_t ev[48];
    for (int t = 0; t < 48; t++) ev[t] = CDZ_MELODY_NO_EVENT;
    const int bar[16] = {60, -2, 62, -2, 64, -1, -2, -2, 65, -2, 67, -2, 69, -2, 71, -1};
    for (int t = 0; t < 32; t++) ev[t] = (int16_t)bar[t % 16];
    ev[40] = 72;
    CHECK_INT(cdz_lookback_label(ev, 0, 16), 2 + 60 - 48);  /* a note in the first bar: its class */
    CHECK_INT(cdz_lookback_label(ev, 1, 16), 39);           /* no-event in the first two bars: "repeat 2 bars" */
    CHECK_INT(cdz_lookback_label(ev, 16, 16), 38);          /* bar 2 repeats bar 1 */
    CHECK_INT(cdz_lookback_label(ev, 32, 16), 0);           /* no-event from bar 3 on: its own class */
    CHECK_INT(cdz_lookback_label(ev, 40, 16), 2 + 72 - 48);
    CHECK_INT(cdz_key_melody_label(ev, 0, 16), 12);
    CHECK_INT(cdz_key_melody_label(ev, 5, 16), 37);         /* the early-repeat rule is for no-events only */
    CHECK_INT(cdz_key_melody_label(ev, 1, 16), 39);
    CHECK_INT(cdz_key_melody_label(ev, 16, 16), 38);
    CHECK_INT(cdz_key_melody_label(ev, 47, 16), 36);        /* no-event that does not repeat */
    float in[CDZ_LOOKBACK_INPUTS];
    cdz_lookback_inputs(ev, 16, 16, in);
    CHECK(in[2 + 12] == 1, "current event: C4");
    CHECK(in[38 + 0] == 1, "next if repeating a bar ago: step 1, a no-event");
    CHECK(in[76 + 0] == 1, "next if repeating two bars ago: before the start, a no-event");
    float sum = 0;
    for (int i = 0; i < 114; i++) sum += in[i];
    CHECK(sum == 3, "three one-hot blocks, sum %g", sum);
    CHECK(in[114] == 1 && in[115] == -1 && in[116] == -1 && in[117] == -1 && in[118] == 1, "counter of 17 = 10001b");
    CHECK(in[119] == 1 && in[120] == 0, "repeats 1 bar, not 2");
    float k[CDZ_KEY_MELODY_INPUTS];
    cdz_key_melody_inputs(ev, 4, 16, k);
    CHECK(k[64 - 48] == 1 && k[36] == 1 && k[37] == 0 && k[38] == 1 && k[39] == 1, "E4 attacked, ascending");
    CHECK(k[42] == 1 && k[43] == -1 && k[44] == 1 && k[49] == 0, "counter of 5, not a bar start");
    CHECK(k[50 + 0] == 1 && k[50 + 7] == 1 && k[50 + 1] == 0, "C, D, E fit C and G major (and F), not C#");
    cdz_key_melody_inputs(ev, 15, 16, k);
    CHECK(k[37] == 1 && k[49] == 1, "silence after a note-off, the next step starts a bar");
}

static void test_performance_tokens(void) {
    cdz_perf_note notes[] = {{0, 50, 60, 100, 0}, {0, 250, 64, 80, 0}, {50, 51, 60, 1, 0}};
    cdz_performance p = {notes, 3, 100};
    cdz_tokens t = {0};
    CHECK_INT(cdz_performance_encode(&p, &t, NULL), CDZ_OK);
    /* velocity bin of 100 = 99 * 32 / 127 + 1 = 25; 80 -> 20; 1 -> 1 */
    const uint16_t expect[] = {356 + 24, 60, 356 + 19, 64, 256 + 49, 128 + 60, 356 + 0, 60, 256 + 0, 128 + 60,
                               256 + 99, 256 + 98, 128 + 64};
    CHECK(t.n_tokens == sizeof expect / sizeof expect[0] && memcmp(t.tokens, expect, sizeof expect) == 0,
          "performance tokens (%zu)", t.n_tokens);
    cdz_performance back;
    CHECK_INT(cdz_performance_decode(t.tokens, t.n_tokens, &back, NULL), CDZ_OK);
    CHECK_INT(back.n_notes, 3);
    for (size_t i = 0; i < back.n_notes && i < 3; i++)
        CHECK(back.notes[i].start_step == notes[i].start_step && back.notes[i].end_step == notes[i].end_step &&
                  back.notes[i].pitch == notes[i].pitch &&
                  cdz_velocity_to_bin(back.notes[i].velocity) == cdz_velocity_to_bin(notes[i].velocity),
              "decoded note %zu", i);
    cdz_performance_free(&back);
    cdz_tokens_free(&t);
    for (int v = 1; v <= 127; v++) {
        int b = cdz_velocity_to_bin(v);
        CHECK(b == (v - 1) / 4 + 1 && cdz_velocity_to_bin(cdz_bin_to_velocity(b)) == b, "velocity %d bin %d", v, b);
    }
    const cdz_codec *c = cdz_codec_find("performance");
    char name[64];
    c->token_name(256 + 9, name, sizeof name);
    CHECK(strcmp(name, "TIME_SHIFT_10") == 0, "token name %s", name);
    uint16_t tok;
    CHECK(cdz_codec_token_from_name(c, "VELOCITY_32", &tok) == CDZ_OK && tok == 387, "VELOCITY_32");
    CHECK_INT(cdz_codec_token_from_name(c, "NOPE", &tok), CDZ_ERR_ARG);
    CHECK(cdz_codec_find("nonexistent") == NULL, "unknown codec");
}

/* The multitrack layout on two notes: a bass note and a drum hit. */
static void test_multitrack_tokens(void) {
    cdz_score s;
    cdz_score_init(&s, 480, NULL);
    cdz_score_add_tempo(&s, 0, 120);
    cdz_score_add_note(&s, 0, 1, 33, 40, 100, 0, 480); /* electric bass (family 4), ff, 0.5 s */
    cdz_score_add_note(&s, 1, 9, 0, 36, 50, 240, 300); /* drums, mp, kick at 0.25 s */
    cdz_score_finish(&s, NULL);
    cdz_tokens t = {0};
    CHECK_INT(cdz_codec_find("multitrack")->encode(&s, &t, NULL, NULL), CDZ_OK);
    const uint16_t expect[] = {10980 + 4, 10980 + 16, 11029, (4 * 4 + 3) * 128 + 40, 10880 + 24, (16 * 4 + 1) * 128 + 36,
                               10880 + 5, 8704 + 16 * 128 + 36, 10880 + 18, 8704 + 4 * 128 + 40, 11030};
    CHECK(t.n_tokens == sizeof expect / sizeof expect[0] && memcmp(t.tokens, expect, sizeof expect) == 0,
          "multitrack tokens (%zu)", t.n_tokens);
    char name[64];
    cdz_codec_find("multitrack")->token_name(expect[3], name, sizeof name);
    CHECK(strcmp(name, "bass:ff:40") == 0, "token name %s", name);
    cdz_tokens_free(&t);
    cdz_score_free(&s);
}

/* A 20-bar trio (melody, bass, drums) gives five 16-bar windows, three tokens a step; they decode to
 * the three parts. The corpora have no trios (no piece with melody, bass and drums), so this is made. */
static void test_trio(void) {
    cdz_score s;
    cdz_score_init(&s, 480, NULL);
    cdz_score_add_tempo(&s, 0, 120);
    cdz_score_add_time_signature(&s, 0, 4, 4);
    for (int bar = 0; bar < 20; bar++) {
        int64_t t = bar * 1920;
        for (int q = 0; q < 4; q++) cdz_score_add_note(&s, 0, 0, 0, (uint8_t)(60 + (bar + q) % 12), 90, t + q * 480, t + q * 480 + 240);
        cdz_score_add_note(&s, 1, 1, 33, (uint8_t)(36 + bar % 5), 90, t, t + 1920);
        cdz_score_add_note(&s, 2, 9, 0, 36, 100, t, t + 60);
        cdz_score_add_note(&s, 2, 9, 0, 38, 100, t + 960, t + 1020);
    }
    cdz_score_finish(&s, NULL);
    const cdz_codec *c = cdz_codec_find("vae_trio_16bar");
    cdz_tokens t = {0};
    CHECK_INT(c->encode(&s, &t, NULL, NULL), CDZ_OK);
    CHECK_INT(t.n_seqs, 5);
    if (t.n_seqs == 5) {
        CHECK_INT(t.offsets[1], 3 * 256);
        CHECK_INT(t.tokens[0], 2 + 60 - 21);           /* melody C4 */
        CHECK_INT(t.tokens[1], 90 + 2 + 36 - 21);      /* bass C2 */
        CHECK_INT(t.tokens[2], 180 + 1);               /* kick */
        CHECK_INT(t.tokens[3 * 8 + 2], 180 + 2);       /* snare on beat 3 */
        CHECK_INT(t.tokens[3 * 16 + 1], 90 + 2 + 37 - 21); /* the second bar's bass */
        cdz_score back;
        CHECK_INT(c->decode(t.tokens, 3 * 256, &back, NULL), CDZ_OK);
        size_t mel = 0, bass = 0, drums = 0;
        for (size_t i = 0; i < back.n_notes; i++) {
            mel += back.notes[i].track == 0;
            bass += back.notes[i].track == 1 && back.notes[i].program == 33;
            drums += back.notes[i].is_drum;
        }
        CHECK(mel == 64 && bass == 16 && drums == 32, "decoded %zu melody, %zu bass, %zu drum notes", mel, bass, drums);
        cdz_score_free(&back);
    }
    cdz_tokens_free(&t);
    /* Without drums there is no trio. */
    s.n_notes = 0;
    cdz_score_add_note(&s, 0, 0, 0, 60, 90, 0, 20 * 1920);
    cdz_score_finish(&s, NULL);
    CHECK_INT(c->encode(&s, &t, NULL, NULL), CDZ_OK);
    CHECK_INT(t.n_seqs, 0);
    cdz_tokens_free(&t);
    cdz_score_free(&s);
}

/* A note lasting for years: the performance stops at CDZ_PERF_MAX_STEPS instead of growing without bound. */
static void test_performance_length_bound(void) {
    cdz_score s;
    cdz_score_init(&s, 96, NULL);
    cdz_score_add_note(&s, 0, 0, 0, 60, 100, 0, (int64_t)1 << 40);
    cdz_score_add_note(&s, 0, 0, 0, 62, 100, (int64_t)1 << 39, ((int64_t)1 << 39) + 10);
    cdz_score_finish(&s, NULL);
    cdz_performance p;
    cdz_extract_stats st = {0};
    CHECK_INT(cdz_extract_performance(&s, 100, &p, &st, NULL), CDZ_OK);
    CHECK(p.n_notes == 1 && p.notes[0].end_step == CDZ_PERF_MAX_STEPS && st.truncated == 1, "long note cut at the bound");
    cdz_performance_free(&p);
    cdz_score_free(&s);
}

/* MusicVAE windows: drum bits, window hop, dedupe, and melody note-offs before the first note. */
static void test_vae_windows(void) {
    cdz_score s;
    cdz_score_init(&s, 480, NULL);
    cdz_score_add_tempo(&s, 0, 120);
    cdz_score_add_time_signature(&s, 0, 4, 4);
    /* Four identical bars of kick + closed hi-hat on beats, snare (pitch 40, class 1) on 2 and 4. */
    for (int bar = 0; bar < 4; bar++)
        for (int beat = 0; beat < 4; beat++) {
            int64_t t = bar * 1920 + beat * 480;
            cdz_score_add_note(&s, 1, 9, 0, beat % 2 ? 40 : 36, 100, t, t + 60);
            cdz_score_add_note(&s, 1, 9, 0, 44, 100, t, t + 60);
        }
    /* A melody: a note-off lands in the window before its first note once the window moves on. */
    for (int q = 0; q < 16; q++)
        if (q != 4) /* the note before it is held across the bar line, to step 18 */
            cdz_score_add_note(&s, 0, 0, 0, (uint8_t)(60 + q % 7), 90, q * 480, q == 3 ? 18 * 120 : q * 480 + 240);
    cdz_score_finish(&s, NULL);
    cdz_tokens t = {0};
    CHECK_INT(cdz_codec_find("vae_drums")->encode(&s, &t, NULL, NULL), CDZ_OK);
    CHECK_INT(t.n_seqs, 1); /* three windows of 2 bars, all the same: kept once */
    if (t.n_seqs == 1) {
        CHECK_INT(t.offsets[1], 32);
        CHECK_INT(t.tokens[0], (1 << 0) | (1 << 2)); /* kick + closed hi-hat */
        CHECK_INT(t.tokens[4], (1 << 1) | (1 << 2)); /* snare + closed hi-hat */
        CHECK_INT(t.tokens[1], 0);
    }
    char name[64];
    cdz_codec_find("vae_drums")->token_name(t.tokens[4], name, sizeof name);
    CHECK(strcmp(name, "snare+hh") == 0, "drum token name %s", name);
    cdz_tokens_free(&t);
    CHECK_INT(cdz_codec_find("vae_mel_2bar")->encode(&s, &t, NULL, NULL), CDZ_OK);
    CHECK_INT(t.n_seqs, 3); /* bars 1-2, 2-3, 3-4 */
    if (t.n_seqs == 3) {
        CHECK_INT(t.tokens[0], 2 + 60 - 21);
        CHECK_INT(t.tokens[1], 0);
        CHECK_INT(t.tokens[2], 1);             /* the note-off of the first note */
        CHECK_INT(t.tokens[18], 1);                 /* window 1: the held note ends at step 18 */
        CHECK_INT(t.tokens[t.offsets[1] + 2], 0);   /* window 2 starts at step 16: that note-off, before
                                                       any note of the window, becomes a no-event */
        CHECK_INT(t.tokens[t.offsets[1] + 4], 2 + 65 - 21);
    }
    cdz_tokens_free(&t);
    cdz_score_free(&s);
}

/* Any token sequence decodes to a valid score, for every codec. */
static void test_decode_is_total(void) {
    const cdz_codec *const *list;
    size_t nc = cdz_codec_list(&list);
    uint64_t rng = 12345;
    for (size_t c = 0; c < nc; c++) {
        int bad = 0;
        for (int trial = 0; trial < 300; trial++) {
            uint16_t tok[600];
            size_t n = (size_t)(trial * 2);
            for (size_t i = 0; i < n; i++) {
                rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
                tok[i] = (uint16_t)((rng >> 33) % list[c]->vocab_size);
            }
            cdz_score s;
            cdz_midi m;
            if (list[c]->decode(tok, n, &s, NULL) != CDZ_OK) {
                bad++;
                continue;
            }
            if (cdz_score_to_midi(&m, &s, 1, NULL) != CDZ_OK) bad++;
            else cdz_midi_free(&m);
            cdz_score_free(&s);
        }
        CHECK(bad == 0, "%s: %d random token sequences did not decode to a writable score", list[c]->name, bad);
        uint16_t big = (uint16_t)list[c]->vocab_size;
        cdz_score s;
        CHECK_INT(list[c]->decode(&big, 1, &s, NULL), CDZ_ERR_RANGE);
    }
}

/* Rebuilds MusicVAE window tokens from a decoded score: a melody note gives its pitch class at its
 * start and a note-off at its end (unless the window ends first); a drum hit sets its class's bit. */
static int vae_rebuild(const cdz_codec *c, const cdz_score *s, size_t len, uint16_t *tok) {
    int drums = c->vocab_size == 512;
    for (size_t t = 0; t < len; t++) tok[t] = 0;
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *n = &s->notes[i];
        int64_t a = n->start_tick / 120, b = n->end_tick / 120;
        if (a < 0 || (size_t)a >= len) return 0;
        if (drums) {
            int cls = cdz_drum_class(n->pitch);
            if (cls < 0) return 0;
            tok[a] |= (uint16_t)(1u << cls);
        } else {
            tok[a] = (uint16_t)(2 + n->pitch - 21);
            if ((size_t)b < len && tok[b] == 0) tok[b] = 1;
        }
    }
    return 1;
}

/* Every window of the MusicVAE codecs over six corpora decodes to a score that gives the window back. */
static void test_vae_corpus(const char *data) {
    static const char *const codecs[] = {"vae_mel_2bar", "vae_mel_16bar", "vae_drums"};
    static const char *const sets[] = {"nottingham", "jsb_chorales", "pop909", "asap", "groove", "wjazzd"};
    for (size_t c = 0; c < 3; c++) {
        const cdz_codec *codec = cdz_codec_find(codecs[c]);
        size_t windows = 0, bad = 0;
        uint16_t rebuilt[256];
        for (size_t d = 0; d < sizeof sets / sizeof sets[0]; d++) {
            char dir[1024];
            snprintf(dir, sizeof dir, "%s/%s", data, sets[d]);
            char **paths;
            size_t n;
            if (cdz_file_list(dir, ".mid", &paths, &n, NULL) != CDZ_OK) continue;
            for (size_t i = 0; i < n; i++) {
                cdz_score s;
                cdz_tokens t = {0};
                if (cdz_score_read_file(&s, paths[i], NULL) != CDZ_OK) continue;
                if (codec->encode(&s, &t, NULL, NULL) == CDZ_OK) {
                    for (size_t w = 0; w < t.n_seqs; w++) {
                        size_t len = t.offsets[w + 1] - t.offsets[w];
                        cdz_score back;
                        int ok = len <= 256 && codec->decode(t.tokens + t.offsets[w], len, &back, NULL) == CDZ_OK;
                        if (ok) {
                            ok = vae_rebuild(codec, &back, len, rebuilt) &&
                                 memcmp(rebuilt, t.tokens + t.offsets[w], len * sizeof *rebuilt) == 0;
                            cdz_score_free(&back);
                        }
                        if (!ok && bad++ < 3) printf("%s: window %zu of %s does not come back\n", codecs[c], w, paths[i]);
                        windows++;
                    }
                }
                cdz_tokens_free(&t);
                cdz_score_free(&s);
            }
            cdz_file_list_free(paths, n);
        }
        printf("%s: %zu windows decode and come back (%zu failed)\n", codecs[c], windows, bad);
        CHECK(bad == 0 && windows > 1000, "%s: %zu of %zu windows failed", codecs[c], bad, windows);
    }
}

/* Every extracted sequence of the corpora encodes and decodes back exactly. */
static void test_corpus_round_trips(const char *data) {
    static const char *const sets[] = {"nottingham", "jsb_chorales", "pop909", "asap", "groove", "wjazzd"};
    size_t files = 0, melodies = 0, perfs = 0, mel_bad = 0, perf_bad = 0, perf_tokens = 0, mts = 0, mt_bad = 0;
    cdz_extract_stats ms = {0}, ps = {0};
    for (size_t d = 0; d < sizeof sets / sizeof sets[0]; d++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", data, sets[d]);
        char **paths;
        size_t n;
        if (cdz_file_list(dir, ".mid", &paths, &n, NULL) != CDZ_OK) {
            CHECK(0, "cannot list %s", dir);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            cdz_score s;
            if (cdz_score_read_file(&s, paths[i], NULL) != CDZ_OK) continue;
            files++;
            cdz_melody_params mp = cdz_melody_default_params();
            cdz_melody *mel;
            size_t nm;
            if (cdz_extract_melodies(&s, &mp, &mel, &nm, &ms, NULL) == CDZ_OK) {
                for (size_t k = 0; k < nm; k++) {
                    cdz_melody_squash(&mel[k], CDZ_MELODY_MIN_NOTE, CDZ_MELODY_MAX_NOTE, 0);
                    uint16_t *tok = malloc(mel[k].n_steps * sizeof *tok + 1);
                    int16_t *ev = malloc(mel[k].n_steps * sizeof *ev + 1);
                    cdz_melody back = mel[k];
                    back.events = ev;
                    int ok = cdz_melody_encode(&mel[k], tok, NULL) == CDZ_OK &&
                             cdz_melody_decode(tok, mel[k].n_steps, &back, NULL) == CDZ_OK &&
                             memcmp(ev, mel[k].events, mel[k].n_steps * sizeof *ev) == 0;
                    /* lookback and key-melody labels decode back to the same events */
                    for (int enc = 0; enc < 2 && ok; enc++) {
                        for (size_t t = 0; t < mel[k].n_steps; t++) {
                            int label = enc ? cdz_key_melody_label(mel[k].events, t, 16) : cdz_lookback_label(mel[k].events, t, 16);
                            ev[t] = (int16_t)(enc ? cdz_key_melody_event(label, ev, t, 16) : cdz_lookback_event(label, ev, t, 16));
                        }
                        ok = memcmp(ev, mel[k].events, mel[k].n_steps * sizeof *ev) == 0;
                    }
                    if (!ok && mel_bad++ < 3) printf("melody round trip failed: %s melody %zu\n", paths[i], k);
                    melodies++;
                    free(tok);
                    free(ev);
                }
                cdz_melodies_free(mel, nm);
            }
            cdz_performance p, back;
            cdz_tokens t = {0};
            if (cdz_extract_performance(&s, 100, &p, &ps, NULL) == CDZ_OK && p.n_notes) {
                int ok = cdz_performance_encode(&p, &t, NULL) == CDZ_OK &&
                         cdz_performance_decode(t.tokens, t.n_tokens, &back, NULL) == CDZ_OK;
                if (ok) {
                    ok = back.n_notes == p.n_notes;
                    for (size_t k = 0; ok && k < p.n_notes; k++)
                        ok = back.notes[k].start_step == p.notes[k].start_step && back.notes[k].end_step == p.notes[k].end_step &&
                             back.notes[k].pitch == p.notes[k].pitch &&
                             cdz_velocity_to_bin(back.notes[k].velocity) == cdz_velocity_to_bin(p.notes[k].velocity);
                    cdz_performance_free(&back);
                }
                if (!ok && perf_bad++ < 3) printf("performance round trip failed: %s\n", paths[i]);
                perfs++;
                perf_tokens += t.n_tokens;
                cdz_tokens_free(&t);
            }
            cdz_performance_free(&p);
            /* multitrack: instrument class, pitch, steps and volume bin come back */
            cdz_tokens mt = {0};
            if (cdz_extract_multitrack(&s, 100, &p, NULL, NULL) == CDZ_OK && p.n_notes) {
                int ok = cdz_multitrack_encode(&p, &mt, NULL) == CDZ_OK &&
                         cdz_multitrack_decode(mt.tokens, mt.n_tokens, &back, NULL) == CDZ_OK;
                if (ok) {
                    ok = back.n_notes == p.n_notes;
                    for (size_t k = 0; ok && k < p.n_notes; k++)
                        ok = back.notes[k].start_step == p.notes[k].start_step && back.notes[k].end_step == p.notes[k].end_step &&
                             back.notes[k].pitch == p.notes[k].pitch && back.notes[k].instrument == p.notes[k].instrument &&
                             back.notes[k].velocity / 32 == p.notes[k].velocity / 32;
                    cdz_performance_free(&back);
                }
                if (!ok && mt_bad++ < 3) printf("multitrack round trip failed: %s\n", paths[i]);
                mts++;
                cdz_tokens_free(&mt);
            }
            cdz_performance_free(&p);
            cdz_score_free(&s);
        }
        cdz_file_list_free(paths, n);
    }
    printf("melody: %zu melodies from %zu files round-trip (%zu failed); dropped: %llu polyphonic tracks, %llu too "
           "short, %llu too few pitch classes, %llu truncated, %llu parts with a non-integer bar\n",
           melodies, files, mel_bad, (unsigned long long)ms.polyphonic_tracks, (unsigned long long)ms.too_short,
           (unsigned long long)ms.too_few_pitches, (unsigned long long)ms.truncated, (unsigned long long)ms.non_integer_bar);
    printf("performance: %zu performances (%zu tokens) round-trip (%zu failed)\n", perfs, perf_tokens, perf_bad);
    printf("multitrack: %zu pieces round-trip (%zu failed)\n", mts, mt_bad);
    CHECK(mt_bad == 0, "%zu multitrack pieces failed the round trip", mt_bad);
    CHECK(mel_bad == 0, "%zu melodies failed the round trip", mel_bad);
    CHECK(perf_bad == 0, "%zu performances failed the round trip", perf_bad);
    CHECK(melodies > 1000, "only %zu melodies extracted", melodies);
    CHECK(perfs > 5000, "only %zu performances extracted", perfs);
}

/* Performance events printed by @magenta/music 1.23.1 (bench/magenta/perf_events.js --fix-sustain):
 * token count and FNV-1a 64 of the tokens, after two adjustments for magenta-js quirks: its trailing
 * time shifts (padding to the last step) are dropped, and a VELOCITY_32 token is inserted before a
 * first note of bin 32 (magenta-js starts at bin 32, Python Magenta at 0). Files whose note-offs fall
 * on the tick of a sustain-pedal event are not here: magenta-js handles the note-off first, Python
 * Magenta and cadenza the pedal first (docs/PERF.md has the comparison). Shi05M has pedalling. */
static const struct {
    const char *path;
    size_t n_tokens;
    uint64_t fnv;
} MAGENTA_JS[] = {
    {"asap/Bach/Prelude/bwv_846/Shi05M.mid", 2170, 0x6bc26c0e5eadd6b8ULL},
    {"nottingham/melody/ashover10.mid", 1272, 0xcc507fa07a17d176ULL},
    {"asap/Bach/Fugue/bwv_888/midi_score.mid", 2184, 0x42a5e52160d11dc1ULL},
    {"nottingham/full/jigs223.mid", 1413, 0xf912bed4f10c4e9cULL},
    {"wjazzd/midi/CharlieParker_BluesForAlice.mid", 1900, 0x3d303b7c7bc7cbc5ULL},
    {"wjazzd/midi/WoodyShaw_Rosewood.mid", 3503, 0x415e47d99e0e609dULL},
};

static void test_against_magenta_js(const char *data) {
    const cdz_codec *c = cdz_codec_find("performance");
    for (size_t i = 0; i < sizeof MAGENTA_JS / sizeof MAGENTA_JS[0]; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", data, MAGENTA_JS[i].path);
        cdz_score s;
        cdz_tokens t = {0};
        if (cdz_score_read_file(&s, path, NULL) != CDZ_OK || c->encode(&s, &t, NULL, NULL) != CDZ_OK || t.n_seqs != 1) {
            CHECK(0, "%s: could not encode", MAGENTA_JS[i].path);
        } else {
            uint64_t h = cdz_fnv1a64(CDZ_FNV_OFFSET, t.tokens, t.n_tokens * sizeof *t.tokens);
            CHECK(t.n_tokens == MAGENTA_JS[i].n_tokens && h == MAGENTA_JS[i].fnv,
                  "%s: %zu tokens, hash %016llx; @magenta/music: %zu, %016llx", MAGENTA_JS[i].path, t.n_tokens,
                  (unsigned long long)h, MAGENTA_JS[i].n_tokens, (unsigned long long)MAGENTA_JS[i].fnv);
        }
        cdz_tokens_free(&t);
        cdz_score_free(&s);
    }
}

/* The JSB tokens of ../shared/bench/jsb_reference.py (its encode(), run in Python on the JSON): per
 * split, the number of pieces and tokens and the FNV-1a 64 of all tokens in order. Both ways in must
 * give them: the JSON with its split, and the MIDI files made from it (with --split-from-path). */
static void test_chorales(const char *data) {
    static const struct {
        size_t pieces, tokens;
        uint64_t fnv;
    } REF[3] = {{229, 221125, 0xaedf4644e5db1155ULL}, {76, 73036, 0x0fbd29accb635b90ULL}, {77, 74893, 0xf1d73be42e2489faULL}};
    char json[1024], midi[1024], out[64];
    snprintf(json, sizeof json, "%s/jsb_chorales/json/Jsb16thSeparated.json", data);
    snprintf(midi, sizeof midi, "%s/jsb_chorales/midi", data);
    for (int way = 0; way < 2; way++) {
        const char *inputs[] = {way ? midi : json};
        cdz_build_params p = cdz_build_default_params();
        p.codec = cdz_codec_find("chorale");
        p.inputs = inputs;
        p.n_inputs = 1;
        p.split_from_path = way;
        snprintf(out, sizeof out, "/tmp/cadenza_jsb_%d_%d.cdz", way, (int)getpid());
        cdz_build_report r;
        cdz_dataset ds;
        cdz_error err = {0};
        if (cdz_dataset_build(&p, out, &r, &err) != CDZ_OK || cdz_dataset_open(&ds, out, &err) != CDZ_OK) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        for (int sp = 0; sp < 3; sp++) {
            size_t pieces = 0, tokens = 0;
            uint64_t h = CDZ_FNV_OFFSET;
            for (uint64_t i = 0; i < ds.n_seqs; i++) {
                if (ds.splits[i] != sp) continue;
                pieces++;
                tokens += cdz_dataset_seq_len(&ds, i);
                h = cdz_fnv1a64(h, ds.tokens + ds.offsets[i], 2 * cdz_dataset_seq_len(&ds, i));
            }
            CHECK(pieces == REF[sp].pieces && tokens == REF[sp].tokens && h == REF[sp].fnv,
                  "%s, split %d: %zu pieces, %zu tokens, hash %016llx; reference %zu, %zu, %016llx", way ? "MIDI" : "JSON", sp,
                  pieces, tokens, (unsigned long long)h, REF[sp].pieces, REF[sp].tokens, (unsigned long long)REF[sp].fnv);
        }
        cdz_dataset_close(&ds);
        unlink(out);
    }
    /* A chorale grid survives tokens -> grid, and grid -> MIDI -> grid. */
    cdz_chorale *c;
    size_t n;
    CHECK_INT(cdz_chorales_read_json(json, &c, &n, NULL), CDZ_OK);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        cdz_tokens t = {0};
        cdz_chorale back, again;
        cdz_score s;
        int ok = cdz_chorale_encode(&c[i], &t, NULL, NULL) == CDZ_OK &&
                 cdz_chorale_decode(t.tokens, t.n_tokens, &back, NULL) == CDZ_OK;
        size_t steps = (t.n_tokens - 1) / 4; /* long pieces are cut at 2049 tokens */
        ok = ok && back.n_steps == steps && memcmp(back.steps, c[i].steps, steps * 4) == 0;
        if (ok) {
            ok = cdz_chorale_to_score(&back, &s, NULL) == CDZ_OK;
            if (ok) {
                ok = cdz_extract_chorale(&s, &again, NULL, NULL) == CDZ_OK && again.n_steps == steps &&
                     memcmp(again.steps, back.steps, steps * 4) == 0;
                cdz_chorale_free(&again);
                cdz_score_free(&s);
            }
        }
        if (!ok) bad++;
        cdz_chorale_free(&back);
        cdz_tokens_free(&t);
    }
    CHECK(bad == 0, "%zu of %zu chorales changed in a round trip", bad, n);
    printf("chorale: %zu pieces round-trip through tokens and through MIDI\n", n);
    cdz_chorales_free(c, n);
    /* A broken JSON file: an error with the byte offset. */
    snprintf(out, sizeof out, "/tmp/cadenza_bad_%d.json", (int)getpid());
    cdz_file_write_atomic(out, "{\"train\": [[[60, 61, 62]]]}", 27, NULL);
    cdz_error err = {0};
    CHECK_INT(cdz_chorales_read_json(out, &c, &n, &err), CDZ_ERR_FORMAT);
    CHECK_STR_CONTAINS(err.msg, "byte 23: expected ','");
    unlink(out);
}

/* A decoded melody is written in 4/4 (16 steps of 4 per quarter), 3/8 for 6 steps a bar. */
static void test_melody_time_signature(void) {
    int16_t ev[8] = {60, -2, 62, -2, 64, -2, -1, -2};
    cdz_melody m = {ev, 8, 4, 16, 120, 0, 0, 0, 0, 0, 0};
    cdz_score s;
    cdz_error err;
    CHECK(cdz_melody_to_score(&m, 120, 100, 0, &s, &err) == CDZ_OK, "%s", err.msg);
    CHECK(s.n_time_sigs == 1 && s.time_sigs[0].numerator == 4 && s.time_sigs[0].denominator == 4, "4/4, got %u/%u",
          s.n_time_sigs ? s.time_sigs[0].numerator : 0, s.n_time_sigs ? s.time_sigs[0].denominator : 0);
    cdz_score_free(&s);
    m.steps_per_bar = 6;
    CHECK(cdz_melody_to_score(&m, 120, 100, 0, &s, &err) == CDZ_OK, "%s", err.msg);
    CHECK(s.n_time_sigs == 1 && s.time_sigs[0].numerator == 3 && s.time_sigs[0].denominator == 8, "3/8");
    cdz_score_free(&s);
}

/* Training-time transposition: pitches move, other tokens stay, out-of-range shifts change nothing. */
static void test_transpose_tokens(void) {
    const cdz_codec *km = cdz_codec_find("key_melody"), *perf = cdz_codec_find("performance");
    const cdz_codec *ch = cdz_codec_find("chorale"), *mel = cdz_codec_find("melody"), *vae = cdz_codec_find("vae_drums");
    uint16_t t[5] = {0, 36, 37, 38, 35}; /* key_melody: C3, no-event, off, repeat, B5 */
    CHECK(cdz_codec_transpose(km, t, 5, 1) == 0 && t[0] == 0 && t[4] == 35, "B5 + 1 leaves the range: unchanged");
    CHECK(cdz_codec_transpose(km, t, 5, -1) == 0, "C3 - 1 leaves the range");
    uint16_t u[4] = {10, 36, 38, 20};
    CHECK(cdz_codec_transpose(km, u, 4, 3) == 1 && u[0] == 13 && u[1] == 36 && u[2] == 38 && u[3] == 23, "key_melody +3");
    uint16_t p[4] = {60, 128 + 60, 256 + 5, 356 + 3}; /* note-on 60, note-off 60, a time shift, a velocity */
    CHECK(cdz_codec_transpose(perf, p, 4, -5) == 1 && p[0] == 55 && p[1] == 128 + 55 && p[2] == 261 && p[3] == 359,
          "performance -5 moves notes only");
    const cdz_codec *acc = cdz_codec_find("accompaniment");
    uint16_t a[4] = {72, CDZ_ACC_SEP, 48, 128 + 48}; /* melody note-on, separator, piano note-on and off */
    CHECK(cdz_codec_transpose(acc, a, 4, 2) == 1 && a[0] == 74 && a[1] == CDZ_ACC_SEP && a[2] == 50 && a[3] == 128 + 50,
          "accompaniment +2 moves both parts' notes, not the separator");
    uint16_t c[4] = {47, 0, 46, 45};
    CHECK(cdz_codec_transpose(ch, c, 4, 1) == 0, "chorale: 81 + 1 leaves 36-81");
    CHECK(cdz_codec_transpose(ch, c, 4, -1) == 0, "chorale: 36 - 1 leaves 36-81");
    uint16_t c2[3] = {47, 10, 46};
    CHECK(cdz_codec_transpose(ch, c2, 3, 6) == 1 && c2[0] == 47 && c2[1] == 16 && c2[2] == 46, "chorale +6");
    uint16_t m[3] = {0, 1, 2};
    CHECK(cdz_codec_transpose(mel, m, 3, 2) == 1 && m[2] == 4 && m[1] == 1, "melody +2");
    CHECK(cdz_codec_transpose(vae, m, 3, 2) == -1, "drums do not transpose");
}

/* Pairs: a melody track and a piano track come back as the two tracks of each 10-second segment. */
static void test_accompaniment_pairs(void) {
    cdz_score s;
    cdz_error err;
    cdz_score_init(&s, 480, &err);
    cdz_score_add_tempo(&s, 0, 120);
    for (int i = 0; i < 30; i++) { /* 15 s at 120 qpm: two segments */
        cdz_score_add_note(&s, 0, 0, 0, (uint8_t)(60 + i % 7), 90, i * 480, i * 480 + 400);
        cdz_score_add_note(&s, 1, 1, 0, 48, 70, i * 480, i * 480 + 200);
        cdz_score_add_note(&s, 1, 1, 0, 55, 70, i * 480, i * 480 + 200);
    }
    cdz_score_finish(&s, &err);
    snprintf(s.tracks[0].name, sizeof s.tracks[0].name, "MELODY");
    snprintf(s.tracks[1].name, sizeof s.tracks[1].name, "PIANO");
    const cdz_codec *c = cdz_codec_find("accompaniment");
    cdz_tokens t = {0};
    cdz_extract_stats st = {0};
    CHECK(c && c->encode(&s, &t, &st, &err) == CDZ_OK, "%s", err.msg);
    CHECK(t.n_seqs == 2, "two 10-second segments, got %zu", t.n_seqs);
    if (t.n_seqs == 2) {
        cdz_score d;
        CHECK(c->decode(t.tokens, t.offsets[1], &d, &err) == CDZ_OK, "%s", err.msg);
        size_t mel = 0, acc = 0;
        for (size_t i = 0; i < d.n_notes; i++) mel += d.notes[i].track == 0, acc += d.notes[i].track == 1;
        CHECK(mel == 20 && acc == 40, "first segment: 20 melody and 40 piano notes, got %zu and %zu", mel, acc);
        CHECK(d.n_tracks == 2 && strcmp(d.tracks[1].name, "Accompaniment") == 0, "named tracks");
        cdz_score_free(&d);
    }
    cdz_tokens_free(&t);
    cdz_score_free(&s);
}

/* The one-step feature state gives, at every step, the events and inputs the whole-history functions
 * give: random labels (repeats, no-events and note-offs included) over 300 steps, past the ring of 64,
 * for both codecs. */
static void test_melody_state(void) {
    cdz_rng r;
    cdz_rng_seed(&r, 21);
    enum { LEN = 300 };
    /* meter -1: no meter token (16-step bars); else a leading meter token sets the bar */
    for (int meter = -1; meter < CDZ_MELODY_METERS; meter++)
        for (int codec = 0; codec < 2; codec++)
            for (int trial = 0; trial < (meter < 0 ? 20 : 4); trial++) {
                int16_t ev[LEN];
                cdz_melody_state st;
                cdz_melody_state_reset(&st);
                int bar = meter < 0 ? 16 : cdz_melody_meter(meter, NULL, NULL);
                int same_events = 1, same_inputs = 1;
                if (meter >= 0) {
                    int e = codec ? cdz_key_melody_push(&st, CDZ_MELODY_LABELS + meter)
                                  : cdz_lookback_push(&st, CDZ_MELODY_LABELS + meter);
                    CHECK(e == CDZ_MELODY_NO_EVENT && st.n == 0 && st.bar == bar, "meter %d: no step, bar %d", meter, st.bar);
                }
                for (int p = 0; p < LEN; p++) {
                    /* repeats often, so that lookbacks decode against the ring */
                    int label = cdz_rng_below(&r, 3) == 0 ? 38 + (int)cdz_rng_below(&r, 2) : (int)cdz_rng_below(&r, 38);
                    int e = codec ? cdz_key_melody_event(label, ev, (size_t)p, bar) : cdz_lookback_event(label, ev, (size_t)p, bar);
                    ev[p] = (int16_t)e;
                    int pushed = codec ? cdz_key_melody_push(&st, label) : cdz_lookback_push(&st, label);
                    same_events &= pushed == e;
                    float a[CDZ_LOOKBACK_INPUTS], b[CDZ_LOOKBACK_INPUTS];
                    if (codec) {
                        cdz_key_melody_inputs(ev, (size_t)p, bar, a);
                        cdz_key_melody_inputs_state(&st, b);
                        same_inputs &= memcmp(a, b, CDZ_KEY_MELODY_INPUTS * sizeof *a) == 0;
                    } else {
                        cdz_lookback_inputs(ev, (size_t)p, bar, a);
                        cdz_lookback_inputs_state(&st, b);
                        same_inputs &= memcmp(a, b, CDZ_LOOKBACK_INPUTS * sizeof *a) == 0;
                    }
                }
                CHECK(same_events, "%s meter %d trial %d: pushed events differ from the decoded ones",
                      codec ? "key_melody" : "lookback", meter, trial);
                CHECK(same_inputs, "%s meter %d trial %d: one-step inputs differ from the whole-history ones",
                      codec ? "key_melody" : "lookback", meter, trial);
            }
}

/* The meter codecs: repeats and positions against the melody's own bar. */
static void test_meter_labels(void) {
    int num = 0, den = 0;
    CHECK_INT(cdz_melody_meter_index(6, 8), 3);
    CHECK_INT(cdz_melody_meter(3, &num, &den), 12);
    CHECK(num == 6 && den == 8, "meter 3 is 6/8");
    CHECK_INT(cdz_melody_meter_index(11, 8), -1);
    CHECK_INT(cdz_melody_meter(CDZ_MELODY_METERS, NULL, NULL), 0);
    CHECK_INT(cdz_melody_meter(-1, NULL, NULL), 0);
    /* a 3/4 tune of 12-step bars whose second bar repeats its first */
    int16_t ev[36];
    const int b1[12] = {60, -2, -2, -2, 64, -2, -2, -2, 67, -2, -1, -2};
    for (int t = 0; t < 36; t++) ev[t] = t < 24 ? (int16_t)b1[t % 12] : (int16_t)72;
    CHECK_INT(cdz_key_melody_label(ev, 12, 12), 38);          /* a bar of 12 back */
    CHECK_INT(cdz_key_melody_label(ev, 12, 16), 0 + 60 - 48); /* Magenta's 16 steps see no repeat */
    CHECK_INT(cdz_lookback_label(ev, 16, 12), 38);
    CHECK_INT(cdz_key_melody_event(38, ev, 12, 12), 60);
    CHECK_INT(cdz_lookback_event(39, ev, 30, 12), ev[6]);
    float k[CDZ_KEY_MELODY_INPUTS];
    cdz_key_melody_inputs(ev, 11, 12, k);
    CHECK(k[49] == 1, "step 11 of a 12-step bar: the next starts a bar");
    cdz_key_melody_inputs(ev, 12, 12, k);
    /* the counter of the next step, 13: step 1 of bar 1 -> 1 + 16 = 10001b */
    CHECK(k[42] == 1 && k[43] == -1 && k[44] == -1 && k[45] == -1 && k[46] == 1 && k[49] == 0, "counter 1 + 16");
    CHECK(k[40] == 1, "repeats a bar ago");
    float l[CDZ_LOOKBACK_INPUTS];
    cdz_lookback_inputs(ev, 12, 12, l);
    CHECK(l[38 + 0] == 1, "next if repeating a bar ago: step 1, a no-event");
    CHECK(l[114] == 1 && l[118] == 1 && l[119] == 1, "counter 17, repeats a bar ago");
    /* with 16-step bars the counter is the step number itself, Magenta's */
    cdz_key_melody_inputs(ev, 20, 16, k);
    CHECK(k[42] == 1 && k[43] == -1 && k[44] == 1 && k[45] == -1 && k[46] == 1 && k[47] == -1, "counter 21 = 10101b");
    /* the inputs after a meter token alone: before the first step */
    cdz_melody_state st;
    cdz_melody_state_reset(&st);
    cdz_key_melody_push(&st, CDZ_MELODY_LABELS + 1); /* 3/4 */
    cdz_key_melody_inputs_state(&st, k);
    CHECK(k[37] == 1 && k[38] == 0 && k[40] == 0 && k[41] == 0 && k[42] == -1 && k[48] == -1 && k[49] == 1,
          "before the first step: nothing sounds, position 0, a bar starts next");
    cdz_lookback_inputs_state(&st, l);
    CHECK(l[0] == 1 && l[38] == 1 && l[76] == 1 && l[114] == -1, "lookback before the first step: no-events, position 0");
    /* a meter token later is a no-event step and changes nothing */
    CHECK_INT(cdz_key_melody_push(&st, 12), 60);
    CHECK_INT(cdz_key_melody_push(&st, CDZ_MELODY_LABELS + 3), CDZ_MELODY_NO_EVENT);
    CHECK(st.n == 2 && st.bar == 12, "a later meter token is a step; the bar stays 12");
}

/* key_melody2 and lookback2: the meter token first, a 6/8 round trip, meters without a token counted. */
static void test_meter_codecs(void) {
    cdz_error err = {0};
    for (int c = 0; c < 2; c++) {
        const cdz_codec *cd = cdz_codec_find(c ? "key_melody2" : "lookback2");
        CHECK(cd && cd->vocab_size == CDZ_MELODY_METER_VOCAB, "codec %d", c);
        if (!cd) continue;
        cdz_score s;
        cdz_score_init(&s, 480, &err);
        cdz_score_add_tempo(&s, 0, 100);
        cdz_score_add_time_signature(&s, 0, 6, 8);
        /* 8 bars of 6/8 (12 steps of 120 ticks): the first two repeated, enough pitches to be kept */
        const int pitches[6] = {60, 62, 64, 65, 67, 69};
        for (int bar = 0; bar < 8; bar++)
            for (int q = 0; q < 2; q++) {
                int p = pitches[(bar % 2) * 2 + q + (bar >= 4 ? 2 : 0)];
                int64_t at = (int64_t)bar * 1440 + q * 720;
                cdz_score_add_note(&s, 0, 0, 0, (uint8_t)p, 90, at, at + 600);
            }
        cdz_score_finish(&s, NULL);
        cdz_tokens t = {0};
        cdz_extract_stats stats = {0};
        CHECK(cd->encode(&s, &t, &stats, &err) == CDZ_OK, "%s", err.msg);
        CHECK(t.n_seqs == 1, "%s: one melody, got %zu (short %llu, pitches %llu, empty %llu, bar %llu)", cd->name, (size_t)t.n_seqs, (unsigned long long)stats.too_short, (unsigned long long)stats.too_few_pitches, (unsigned long long)stats.empty, (unsigned long long)stats.non_integer_bar);
        if (t.n_seqs == 1) {
            const uint16_t *q = t.tokens;
            size_t n = t.offsets[1] - t.offsets[0];
            char name[32];
            cd->token_name(q[0], name, sizeof name);
            CHECK(strcmp(name, "METER_6_8") == 0, "%s: first token %s", cd->name, name);
            CHECK(n == 1 + 8 * 12 - 1, "%s: meter + 95 steps (the last note-off stripped), got %zu", cd->name, n);
            /* bar 3 (steps 24..35) repeats bar 1 two bars (24 steps) back */
            CHECK(q[1 + 24] == 39, "%s: bar 3's first step repeats two 6/8 bars back (%u)", cd->name, q[1 + 24]);
            cdz_score d;
            CHECK(cd->decode(q, n, &d, &err) == CDZ_OK, "%s", err.msg);
            CHECK(d.n_time_sigs == 1 && d.time_sigs[0].numerator == 6 && d.time_sigs[0].denominator == 8,
                  "%s: decoded in 6/8", cd->name);
            CHECK(d.n_notes == 16, "%s: 16 notes back, got %zu", cd->name, d.n_notes);
            /* squashed into C (it is in C already), 120 ticks a step: bar 3 starts at step 24 */
            if (d.n_notes == 16)
                CHECK(d.notes[5].pitch == 62 && d.notes[5].start_tick == 30 * 120, "%s: bar 3's second note %d at %lld",
                      cd->name, d.notes[5].pitch, (long long)d.notes[5].start_tick);
            cdz_score_free(&d);
            /* tokens past the vocabulary are refused */
            uint16_t bad[2] = {43, CDZ_MELODY_METER_VOCAB};
            CHECK(cd->decode(bad, 2, &d, &err) == CDZ_ERR_RANGE, "%s: token 55 refused", cd->name);
        }
        cdz_tokens_free(&t);
        /* 11/16 (11-step bars) has no token: the melody is counted and left out */
        s.time_sigs[0].numerator = 11, s.time_sigs[0].denominator = 16;
        memset(&t, 0, sizeof t);
        memset(&stats, 0, sizeof stats);
        CHECK(cd->encode(&s, &t, &stats, &err) == CDZ_OK, "%s", err.msg);
        CHECK(t.n_seqs == 0 && stats.unsupported_meter == 1 && stats.sequences == 0, "%s: 11/16 counted (%llu) and left out",
              cd->name, (unsigned long long)stats.unsupported_meter);
        cdz_tokens_free(&t);
        cdz_score_free(&s);
    }
    /* transposition moves the labels' pitches, never the meter token */
    uint16_t u[3] = {CDZ_MELODY_LABELS + 3, 10, 38};
    CHECK(cdz_codec_transpose(cdz_codec_find("key_melody2"), u, 3, 2) == 1 && u[0] == CDZ_MELODY_LABELS + 3 && u[1] == 12 &&
          u[2] == 38, "key_melody2 +2");
}

int main(void) {
    test_melody_state();
    test_meter_labels();
    test_meter_codecs();
    test_accompaniment_pairs();
    test_transpose_tokens();
    test_melody_time_signature();
    test_melody_rules();
    test_squash();
    test_lookback_features();
    test_performance_tokens();
    test_multitrack_tokens();
    test_vae_windows();
    test_performance_length_bound();
    test_trio();
    test_decode_is_total();
    const char *data = test_data_dir();
    if (data) {
        test_against_magenta_js(data);
        test_chorales(data);
        test_vae_corpus(data);
        test_corpus_round_trips(data);
    } else
        printf("SKIPPED: corpus round trips (no corpora; set CADENZA_DATA)\n");
    return test_summary("test_codec");
}

/* Scores: note pairing, programs, the tempo map, SMPTE time, quantization, sustain, transposition,
 * slicing, and exact score -> MIDI -> score round trips (hand-made and random). */
#include "test.h"

static cdz_status score_of(cdz_score *s, const bytes *x) {
    cdz_midi m;
    cdz_error err = {0};
    cdz_status st = cdz_midi_read(&m, x->b, x->n, "test.mid", &err);
    if (st != CDZ_OK) {
        printf("read failed: %s\n", err.msg);
        return st;
    }
    st = cdz_score_from_midi(s, &m, &err);
    cdz_midi_free(&m);
    return st;
}

static const cdz_note *note(const cdz_score *s, size_t i) {
    static const cdz_note none = {.start_tick = -99};
    return i < s->n_notes ? &s->notes[i] : &none;
}

static void test_pairing(void) {
    bytes x = {0};
    by_header(&x, 0, 1, 96);
    BY_TRACK(&x, 0x00, 0x90, 60, 100, /* A on @0 */
             0x0A, 0x90, 60, 90,      /* B on @10, same key */
             0x0A, 0x80, 60, 0,       /* off @20: ends A (first in, first out) */
             0x0A, 0x90, 60, 0,       /* velocity-0 note-on @30: ends B */
             0x00, 0x80, 60, 0,       /* orphan off @30 */
             0x00, 0x91, 60, 70,      /* same key, channel 2 @30: never ended */
             0x00, 0x90, 62, 50, 0x00, 0x80, 62, 0, /* zero-length note @30 */
             0x0A, 0xFF, 0x2F, 0x00); /* end of track @40 */
    cdz_score s;
    CHECK_INT(score_of(&s, &x), CDZ_OK);
    CHECK_INT(s.n_notes, 4);
    CHECK(note(&s, 0)->start_tick == 0 && note(&s, 0)->end_tick == 20 && note(&s, 0)->velocity == 100, "A is 0-20");
    CHECK(note(&s, 1)->start_tick == 10 && note(&s, 1)->end_tick == 30 && note(&s, 1)->velocity == 90, "B is 10-30");
    CHECK(note(&s, 2)->channel == 0 && note(&s, 2)->pitch == 62 && note(&s, 2)->end_tick == 30, "zero-length note kept");
    CHECK(note(&s, 3)->channel == 1 && note(&s, 3)->end_tick == 40, "unended note ends at the track end");
    CHECK_INT(s.n_orphan_note_offs, 1);
    CHECK_INT(s.n_unended_notes, 1);
    CHECK_INT(s.end_tick, 40);
    cdz_score_free(&s);

    /* A note-off written before its note-on at one tick, with nothing sounding: a zero-length note. */
    x.n = 0;
    by_header(&x, 0, 1, 96);
    BY_TRACK(&x, 0x00, 0x99, 36, 100, 0x10, 0x89, 36, 0, 0x10, 0x89, 36, 0, 0x00, 0x99, 36, 90, 0x10, 0x99, 38, 80,
             0x10, 0x89, 38, 0, 0x00, 0xFF, 0x2F, 0x00);
    CHECK_INT(score_of(&s, &x), CDZ_OK);
    CHECK_INT(s.n_notes, 3);
    CHECK(note(&s, 1)->start_tick == 32 && note(&s, 1)->end_tick == 32 && note(&s, 1)->velocity == 90, "off-then-on pair");
    CHECK_INT(s.n_orphan_note_offs, 0);
    CHECK_INT(s.n_unended_notes, 0);
    cdz_score_free(&s);
}

static void test_programs_and_drums(void) {
    bytes x = {0};
    by_header(&x, 1, 2, 96);
    BY_TRACK(&x, 0x00, 0xC0, 40, 0x00, 0x90, 60, 100, 0x10, 0xC0, 41, 0x00, 0x90, 62, 100, /* program changes mid-track */
             0x10, 0x80, 60, 0, 0x00, 0x80, 62, 0, 0x00, 0x99, 36, 100, 0x10, 0x89, 36, 0, 0x00, 0xFF, 0x2F, 0x00);
    BY_TRACK(&x, 0x00, 0x90, 64, 100, 0x10, 0x80, 64, 0, 0x00, 0xFF, 0x2F, 0x00); /* same channel, other track */
    cdz_score s;
    CHECK_INT(score_of(&s, &x), CDZ_OK);
    CHECK_INT(s.n_notes, 4);
    CHECK(note(&s, 0)->pitch == 60 && note(&s, 0)->program == 40, "first note program 40");
    CHECK(note(&s, 1)->pitch == 64 && note(&s, 1)->program == 0 && note(&s, 1)->track == 1,
          "programs are per track: the other track's channel 1 stays at 0");
    CHECK(note(&s, 2)->pitch == 62 && note(&s, 2)->program == 41, "program at note-on");
    CHECK(note(&s, 3)->is_drum && note(&s, 3)->channel == 9, "channel 10 is drums");
    cdz_instrument *inst;
    size_t n;
    CHECK_INT(cdz_score_instruments(&s, &inst, &n, NULL), CDZ_OK);
    CHECK_INT(n, 4);
    if (n == 4) {
        CHECK(inst[0].track == 0 && inst[0].program == 40 && inst[0].n_notes == 1, "instrument 0");
        CHECK(inst[1].track == 1 && inst[1].program == 0, "instrument 1");
        CHECK(inst[3].is_drum && inst[3].channel == 9, "drums");
    }
    cdz_free(inst);
    CHECK(strcmp(cdz_gm_program_name(40, 0), "Violin") == 0, "GM name");
    CHECK(strcmp(cdz_gm_program_name(5, 1), "Drums") == 0, "drum name");
    cdz_score_free(&s);
}

static void test_tempo_map(void) {
    bytes x = {0};
    by_header(&x, 1, 2, 96);
    /* Conductor: 60 qpm at tick 192 (default 120 before), then two tempos at 384 (the last wins). */
    BY_TRACK(&x, 0x81, 0x40, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40, 0x81, 0x40, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90,
             0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, 0x00, 0xFF, 0x2F, 0x00);
    BY_TRACK(&x, 0x00, 0x90, 60, 100, 0x83, 0x00, 0x80, 60, 0, /* 0 .. 384 */
             0x00, 0x90, 62, 100, 0x60, 0x80, 62, 0,          /* 384 .. 480 */
             0x00, 0xFF, 0x2F, 0x00);
    cdz_score s;
    CHECK_INT(score_of(&s, &x), CDZ_OK);
    CHECK_INT(s.n_tempos, 3);
    /* 192 ticks at 120 qpm = 1 s; 192 ticks at 60 qpm = 2 s; 96 ticks at 120 qpm = 0.5 s */
    CHECK_NEAR(note(&s, 0)->end_s, 3.0, 1e-12);
    CHECK_NEAR(note(&s, 1)->start_s, 3.0, 1e-12);
    CHECK_NEAR(note(&s, 1)->end_s, 3.5, 1e-12);
    CHECK_NEAR(s.tempos[0].time_s, 1.0, 1e-12);
    CHECK_NEAR(s.tempos[0].qpm, 60.0, 1e-9);
    CHECK_NEAR(s.duration_s, 3.5, 1e-12);
    CHECK_INT(cdz_score_seconds_to_tick(&s, 3.0), 384);
    CHECK_INT(cdz_score_seconds_to_tick(&s, 2.0), 288);
    CHECK_INT(cdz_score_seconds_to_tick(&s, 0.5), 96);
    CHECK_INT(cdz_score_seconds_to_tick(&s, -1), 0);
    for (int64_t t = 0; t < 600; t += 7) CHECK_INT(cdz_score_seconds_to_tick(&s, cdz_score_tick_to_seconds(&s, t)), t);
    cdz_score_free(&s);

    /* SMPTE: 25 fps x 40 ticks = 1 ms per tick; tempo events do not change time. */
    x.n = 0;
    by_header(&x, 0, 1, 0xE728);
    BY_TRACK(&x, 0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40, 0x87, 0x68, 0x90, 60, 100, 0x87, 0x68, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00);
    CHECK_INT(score_of(&s, &x), CDZ_OK);
    CHECK_NEAR(note(&s, 0)->start_s, 1.0, 1e-12);
    CHECK_NEAR(note(&s, 0)->end_s, 2.0, 1e-12);
    CHECK_INT(cdz_score_seconds_to_tick(&s, 1.5), 1500);
    /* An SMPTE score writes back with its division, and reads back the same. */
    cdz_midi m;
    uint8_t *out;
    size_t len;
    cdz_score back;
    CHECK_INT(cdz_score_to_midi(&m, &s, 1, NULL), CDZ_OK);
    CHECK_INT(cdz_midi_write(&m, &out, &len, NULL), CDZ_OK);
    bytes y = {0};
    by_put(&y, out, len);
    CHECK_INT(score_of(&back, &y), CDZ_OK);
    CHECK_NEAR(note(&back, 0)->end_s, 2.0, 1e-12);
    cdz_free(out);
    cdz_midi_free(&m);
    cdz_score_free(&back);
    cdz_score_free(&s);
}

static void test_quantize(void) {
    cdz_score s;
    CHECK_INT(cdz_score_init(&s, 480, NULL), CDZ_OK);
    /* 16th note = 120 ticks. Magenta rounds half up: 59 -> 0, 60 -> 1. */
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 60, 100, 59, 61), CDZ_OK);  /* 0 .. 1 */
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 61, 100, 60, 100), CDZ_OK); /* 1 .. 1 -> 1 .. 2 */
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 62, 100, 479, 1000), CDZ_OK); /* 4 .. 8 (8.33) */
    CHECK_INT(cdz_score_finish(&s, NULL), CDZ_OK);
    CHECK_INT(cdz_score_quantize(&s, 4, NULL), CDZ_OK);
    CHECK(note(&s, 0)->start_step == 0 && note(&s, 0)->end_step == 1, "note 0 steps %lld-%lld", (long long)note(&s, 0)->start_step, (long long)note(&s, 0)->end_step);
    CHECK(note(&s, 1)->start_step == 1 && note(&s, 1)->end_step == 2, "note 1 steps %lld-%lld", (long long)note(&s, 1)->start_step, (long long)note(&s, 1)->end_step);
    CHECK(note(&s, 2)->start_step == 4 && note(&s, 2)->end_step == 8, "note 2 steps %lld-%lld", (long long)note(&s, 2)->start_step, (long long)note(&s, 2)->end_step);
    CHECK_INT(s.quantization, CDZ_QUANTIZE_PER_QUARTER);
    /* Per second at 100 steps: 120 qpm, 480 ppq: tick 59 = 0.0614583 s -> 6; 1000 ticks = 1.0417 s -> 104 */
    CHECK_INT(cdz_score_quantize_per_second(&s, 100, NULL), CDZ_OK);
    CHECK_INT(note(&s, 0)->start_step, 6);
    CHECK_INT(note(&s, 0)->end_step, 7); /* 61 ticks = 6.35 -> 6, lengthened to one step */
    CHECK_INT(note(&s, 2)->end_step, 104);
    CHECK_INT(s.quantization, CDZ_QUANTIZE_PER_SECOND);
    CHECK_INT(cdz_score_quantize(&s, 0, NULL), CDZ_ERR_ARG);
    /* Time stretch: seconds scale, ticks stay. */
    double end = note(&s, 2)->end_s;
    CHECK_INT(cdz_score_stretch(&s, 1.5, NULL), CDZ_OK);
    CHECK_NEAR(note(&s, 2)->end_s, 1.5 * end, 1e-9);
    CHECK_INT(note(&s, 2)->end_tick, 1000);
    CHECK_INT(cdz_score_stretch(&s, 0, NULL), CDZ_ERR_ARG);
    cdz_score_free(&s);
}

static cdz_note find(const cdz_score *s, uint8_t pitch, int64_t start) {
    for (size_t i = 0; i < s->n_notes; i++)
        if (s->notes[i].pitch == pitch && s->notes[i].start_tick == start) return s->notes[i];
    return (cdz_note){.end_tick = -1};
}

static void test_sustain(void) {
    cdz_score s;
    CHECK_INT(cdz_score_init(&s, 96, NULL), CDZ_OK);
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 60, 100, 0, 10), CDZ_OK);   /* held by the pedal to 20 */
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 64, 100, 0, 30), CDZ_OK);   /* outlasts the pedal: unchanged */
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 67, 100, 40, 45), CDZ_OK);  /* held, then re-struck at 50 */
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 67, 100, 50, 55), CDZ_OK);  /* held to the end (pedal never lifts) */
    CHECK_INT(cdz_score_add_note(&s, 0, 1, 0, 72, 100, 0, 10), CDZ_OK);   /* other channel: no pedal */
    CHECK_INT(cdz_score_add_note(&s, 0, 1, 0, 74, 100, 70, 80), CDZ_OK);  /* the last event of all: 80 */
    CHECK_INT(cdz_score_add_note(&s, 0, 9, 0, 36, 100, 41, 42), CDZ_OK);  /* drums are left alone */
    CHECK_INT(cdz_score_add_control(&s, 0, 9, 40, 64, 127), CDZ_OK);
    CHECK_INT(cdz_score_add_control(&s, 0, 0, 5, 64, 127), CDZ_OK);
    CHECK_INT(cdz_score_add_control(&s, 0, 0, 20, 64, 0), CDZ_OK);
    CHECK_INT(cdz_score_add_control(&s, 0, 0, 35, 64, 64), CDZ_OK);       /* 64 counts as down */
    CHECK_INT(cdz_score_finish(&s, NULL), CDZ_OK);
    s.end_tick = 100;
    CHECK_INT(cdz_score_apply_sustain(&s, NULL), CDZ_OK);
    CHECK_INT(s.n_notes, 7);
    CHECK_INT(find(&s, 60, 0).end_tick, 20);
    CHECK_INT(find(&s, 64, 0).end_tick, 30);
    CHECK_INT(find(&s, 67, 40).end_tick, 50);
    CHECK_INT(find(&s, 67, 50).end_tick, 80); /* held to the last note or pedal event, as Magenta */
    CHECK_INT(find(&s, 72, 0).end_tick, 10);
    CHECK_INT(find(&s, 36, 41).end_tick, 42);
    cdz_score_free(&s);
    /* A re-struck key at the same tick as its held note's start leaves a zero-length note: dropped. */
    CHECK_INT(cdz_score_init(&s, 96, NULL), CDZ_OK);
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 60, 100, 10, 12), CDZ_OK);
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 60, 90, 10, 15), CDZ_OK);
    CHECK_INT(cdz_score_add_control(&s, 0, 0, 0, 64, 127), CDZ_OK);
    CHECK_INT(cdz_score_add_control(&s, 0, 0, 30, 64, 0), CDZ_OK);
    CHECK_INT(cdz_score_finish(&s, NULL), CDZ_OK);
    CHECK_INT(cdz_score_apply_sustain(&s, NULL), CDZ_OK);
    CHECK_INT(s.n_notes, 1);
    CHECK_INT(note(&s, 0)->end_tick, 30);
    cdz_score_free(&s);
}

static void test_transpose_and_slice(void) {
    cdz_score s, cut;
    CHECK_INT(cdz_score_init(&s, 100, NULL), CDZ_OK);
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 60, 100, 0, 150), CDZ_OK);
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 125, 100, 300, 450), CDZ_OK);
    CHECK_INT(cdz_score_add_note(&s, 0, 9, 0, 36, 100, 350, 360), CDZ_OK);
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 64, 100, 650, 900), CDZ_OK);
    CHECK_INT(cdz_score_add_time_signature(&s, 0, 3, 4), CDZ_OK);   /* bars of 300 ticks */
    CHECK_INT(cdz_score_add_time_signature(&s, 450, 2, 4), CDZ_OK); /* mid-bar: a new bar of 200 starts */
    CHECK_INT(cdz_score_add_tempo(&s, 0, 120), CDZ_OK);
    CHECK_INT(cdz_score_add_tempo(&s, 400, 60), CDZ_OK);
    CHECK_INT(cdz_score_add_control(&s, 0, 0, 320, 7, 100), CDZ_OK);
    CHECK_INT(cdz_score_add_pitch_bend(&s, 0, 0, 310, -4096), CDZ_OK);
    CHECK_INT(cdz_score_add_pitch_bend(&s, 0, 0, 310, 8192), CDZ_ERR_ARG);
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 60, 0, 0, 10), CDZ_ERR_ARG); /* velocity 0 is not a note */
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 60, 1, 10, 5), CDZ_ERR_ARG); /* ends before it starts */
    CHECK_INT(cdz_score_add_time_signature(&s, 0, 3, 3), CDZ_ERR_ARG);
    CHECK_INT(cdz_score_finish(&s, NULL), CDZ_OK);
    cdz_error err = {0};
    CHECK_INT(cdz_score_transpose(&s, 3, &err), CDZ_ERR_RANGE);
    CHECK_STR_CONTAINS(err.msg, "out of 0-127");
    CHECK_INT(note(&s, 0)->pitch, 60); /* unchanged after a failed transposition */
    CHECK_INT(cdz_score_transpose(&s, -2, NULL), CDZ_OK);
    CHECK_INT(note(&s, 0)->pitch, 58);
    CHECK_INT(note(&s, 2)->pitch, 36); /* drums are not transposed */
    CHECK_INT(cdz_score_bar_to_tick(&s, 0), 0);
    CHECK_INT(cdz_score_bar_to_tick(&s, 1), 300);
    CHECK_INT(cdz_score_bar_to_tick(&s, 2), 450);
    CHECK_INT(cdz_score_bar_to_tick(&s, 3), 650);
    CHECK_INT(cdz_score_slice_bars(&cut, &s, 1, 3, NULL), CDZ_OK); /* ticks 300 .. 650 */
    CHECK_INT(cut.n_notes, 2);
    CHECK(note(&cut, 0)->start_tick == 0 && note(&cut, 0)->end_tick == 150, "first note of the slice");
    CHECK(note(&cut, 1)->start_tick == 50 && note(&cut, 1)->is_drum, "drum note of the slice");
    CHECK_INT(cut.end_tick, 350);
    CHECK(cut.n_time_sigs == 2 && cut.time_sigs[0].tick == 0 && cut.time_sigs[0].numerator == 3 &&
              cut.time_sigs[1].tick == 150 && cut.time_sigs[1].numerator == 2, "time signatures carried and shifted");
    CHECK(cut.n_tempos == 2 && cut.tempos[0].tick == 0 && cut.tempos[1].tick == 100, "tempos carried and shifted");
    CHECK(cut.n_controls == 1 && cut.controls[0].tick == 20, "controls shifted");
    CHECK(cut.n_bends == 1 && cut.bends[0].tick == 10 && cut.bends[0].value == -4096, "bends shifted");
    /* 100 ticks at 120 qpm (ppq 100) = 0.5 s, then 60 qpm */
    CHECK_NEAR(note(&cut, 0)->end_s, 0.5 + 50 * 0.01, 1e-12);
    cdz_score_free(&cut);
    /* Slicing by seconds: 1.5 s = tick 300 at 120 qpm; the note at 650 starts at 2 + 2.5 = 4.5 s */
    CHECK_INT(cdz_score_slice_seconds(&cut, &s, 1.5, 4.5, NULL), CDZ_OK);
    CHECK_INT(cut.n_notes, 2);
    cdz_score_free(&cut);
    CHECK_INT(cdz_score_slice_seconds(&cut, &s, 1.5, 4.51, NULL), CDZ_OK);
    CHECK_INT(cut.n_notes, 3);
    CHECK_INT(note(&cut, 2)->end_tick, cut.end_tick); /* cut at the end of the slice */
    cdz_score_free(&cut);
    CHECK_INT(cdz_score_slice_ticks(&cut, &s, 10, 5, NULL), CDZ_ERR_ARG);
    /* A slice past the end stops at the score's end. */
    CHECK_INT(cdz_score_slice_seconds(&cut, &s, 0, 1e6, NULL), CDZ_OK);
    CHECK_INT(cut.end_tick, s.end_tick);
    cdz_score_free(&cut);
    /* Quantizing ticks so late that the arithmetic would overflow is refused. */
    CHECK_INT(cdz_score_add_note(&s, 0, 0, 0, 60, 1, 0, INT64_MAX / 2), CDZ_OK);
    CHECK_INT(cdz_score_finish(&s, NULL), CDZ_OK);
    CHECK_INT(cdz_score_quantize(&s, 1, NULL), CDZ_ERR_RANGE);
    /* A note on a track the score does not have is refused by the writer, not written out of bounds. */
    cdz_midi m;
    s.notes[0].track = 7;
    CHECK_INT(cdz_score_to_midi(&m, &s, 1, NULL), CDZ_ERR_ARG);
    cdz_score_free(&s);
}

static int same_notes(const cdz_score *a, const cdz_score *b, char *why, size_t n) {
    if (a->n_notes != b->n_notes) {
        snprintf(why, n, "%zu notes, then %zu", a->n_notes, b->n_notes);
        return 0;
    }
    for (size_t i = 0; i < a->n_notes; i++) {
        const cdz_note *x = &a->notes[i], *y = &b->notes[i];
        if (x->start_tick != y->start_tick || x->end_tick != y->end_tick || x->pitch != y->pitch ||
            x->velocity != y->velocity || x->channel != y->channel || x->program != y->program ||
            x->track != y->track || x->start_s != y->start_s || x->end_s != y->end_s) {
            snprintf(why, n, "note %zu: %u@%lld-%lld v%u ch%u p%u t%u, then %u@%lld-%lld v%u ch%u p%u t%u", i, x->pitch,
                     (long long)x->start_tick, (long long)x->end_tick, x->velocity, x->channel, x->program, x->track,
                     y->pitch, (long long)y->start_tick, (long long)y->end_tick, y->velocity, y->channel, y->program,
                     y->track);
            return 0;
        }
    }
    return 1;
}

/* score -> MIDI bytes -> score */
static cdz_status rewrite(const cdz_score *s, uint16_t format, cdz_score *back) {
    cdz_midi m;
    uint8_t *out = NULL;
    size_t len = 0;
    cdz_status st = cdz_score_to_midi(&m, s, format, NULL);
    if (st) return st;
    st = cdz_midi_write(&m, &out, &len, NULL);
    cdz_midi_free(&m);
    if (st) return st;
    st = cdz_midi_read(&m, out, len, "rewritten", NULL);
    cdz_free(out);
    if (st) return st;
    st = cdz_score_from_midi(back, &m, NULL);
    cdz_midi_free(&m);
    return st;
}

/* Notes that share ticks and keys in every way the pairing rules allow. */
static void test_round_trip_ties(void) {
    bytes x = {0};
    by_header(&x, 1, 2, 96);
    BY_TRACK(&x, 0x00, 0xFF, 0x03, 0x02, 'T', '0', 0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, 0x00, 0xFF, 0x59, 0x02, 0xFE, 0x01,
             0x00, 0x90, 60, 10, 0x05, 0x90, 60, 20, 0x05, 0x80, 60, 0, /* overlap: 0-10, 5-.. */
             0x00, 0x90, 60, 30, 0x00, 0x80, 60, 0,                     /* @10: zero-length? no: ends the 5 note, 10.. */
             0x00, 0x90, 60, 40, 0x00, 0x80, 60, 0,                     /* @10 again */
             0x0A, 0x80, 60, 0, 0x00, 0x80, 60, 0,                      /* @20 */
             0x00, 0xC0, 5, 0x00, 0x90, 64, 50, 0x00, 0xC0, 7, 0x00, 0x90, 67, 60, /* two programs at one tick */
             0x00, 0xB0, 64, 127, 0x00, 0xE0, 0x7F, 0x7F, 0x0A, 0x80, 64, 0, 0x00, 0x80, 67, 0, 0x00, 0xFF, 0x2F, 0x00);
    BY_TRACK(&x, 0x00, 0xFF, 0x03, 0x02, 'T', '1', 0x00, 0x90, 60, 11, 0x00, 0x80, 60, 0, 0x00, 0x90, 60, 12, 0x14, 0x80, 60, 0,
             0x00, 0xE0, 0x00, 0x00, 0x83, 0x00, 0xFF, 0x2F, 0x00);
    cdz_score s, back;
    CHECK_INT(score_of(&s, &x), CDZ_OK);
    char why[256];
    for (uint16_t format = 0; format <= 1; format++) {
        CHECK_INT(rewrite(&s, format, &back), CDZ_OK);
        if (format == 1) {
            CHECK(same_notes(&s, &back, why, sizeof why), "format 1 round trip: %s", why);
            CHECK(back.n_tracks == 2 && strcmp(back.tracks[1].name, "T1") == 0, "track names kept");
        } else {
            CHECK_INT(back.n_notes, s.n_notes);
        }
        CHECK_INT(back.end_tick, s.end_tick);
        CHECK_INT(back.n_controls, s.n_controls);
        CHECK(back.n_bends == 2 && back.bends[0].value == 8191 && back.bends[1].value == -8192, "pitch bends kept");
        CHECK(back.n_key_sigs == 1 && back.key_sigs[0].sharps == -2 && back.key_sigs[0].minor == 1, "key signature kept");
        CHECK(back.n_tempos == 1 && back.tempos[0].usec_per_quarter == 500000, "tempo kept");
        cdz_score_free(&back);
    }
    cdz_score_free(&s);
}

/* Random event streams (any mix of note-ons and -offs on a few keys, programs, ticks that collide),
 * read as a score, must survive write -> read exactly. */
static uint64_t rng_state;
static uint32_t rnd(uint32_t n) {
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(rng_state >> 33) % n;
}

static void test_round_trip_random(void) {
    int failures = 0;
    for (int seed = 1; seed <= 2000; seed++) {
        rng_state = (uint64_t)seed;
        cdz_midi m;
        cdz_midi_init(&m, 1, 96, NULL);
        int n_tracks = 1 + (int)rnd(3);
        for (int t = 0; t < n_tracks; t++) {
            cdz_midi_add_track(&m, NULL);
            int64_t tick = 0;
            int n = (int)rnd(60);
            for (int i = 0; i < n; i++) {
                tick += rnd(4) == 0 ? (int64_t)rnd(20) : 0;
                uint8_t ch = (uint8_t)(rnd(4) == 0 ? 9 : rnd(2));
                uint8_t key = (uint8_t)(60 + rnd(3));
                uint32_t r = rnd(10);
                if (r < 4) cdz_midi_add_channel(&m, (size_t)t, tick, (uint8_t)(0x90 | ch), key, (uint8_t)(1 + rnd(127)));
                else if (r < 7) cdz_midi_add_channel(&m, (size_t)t, tick, (uint8_t)(0x80 | ch), key, 0);
                else if (r < 8) cdz_midi_add_channel(&m, (size_t)t, tick, (uint8_t)(0x90 | ch), key, 0);
                else if (r < 9) cdz_midi_add_channel(&m, (size_t)t, tick, (uint8_t)(0xC0 | ch), (uint8_t)rnd(4), 0);
                else cdz_midi_add_channel(&m, (size_t)t, tick, (uint8_t)(0xB0 | ch), 64, (uint8_t)rnd(128));
            }
        }
        cdz_score s, back;
        char why[256] = "";
        int ok = cdz_score_from_midi(&s, &m, NULL) == CDZ_OK;
        if (ok) {
            ok = rewrite(&s, 1, &back) == CDZ_OK;
            if (ok) {
                ok = same_notes(&s, &back, why, sizeof why) && back.n_controls == s.n_controls && back.end_tick == s.end_tick;
                cdz_score_free(&back);
            }
            cdz_score_free(&s);
        }
        if (!ok && failures++ < 3) printf("random round trip, seed %d: %s\n", seed, why);
        cdz_midi_free(&m);
    }
    CHECK(failures == 0, "%d of 2000 random scores changed in a round trip", failures);
}

static cdz_status copy_slice_sustain(const cdz_score *s) {
    cdz_score a, b;
    cdz_status st = cdz_score_copy(&a, s, NULL);
    if (st) return st;
    st = cdz_score_apply_sustain(&a, NULL);
    if (!st) {
        st = cdz_score_slice_ticks(&b, &a, 10, 200, NULL);
        if (!st) cdz_score_free(&b);
    }
    cdz_score_free(&a);
    return st;
}

static void test_allocation_failures(void) {
    bytes x = {0};
    by_header(&x, 1, 2, 96);
    BY_TRACK(&x, 0x00, 0xFF, 0x03, 0x01, 'A', 0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20, 0x00, 0xFF, 0x58, 0x04, 4, 2, 24, 8,
             0x00, 0xFF, 0x59, 0x02, 0, 0, 0x00, 0xB0, 64, 127, 0x00, 0x90, 60, 10, 0x10, 0x80, 60, 0, 0x40, 0xB0, 64, 0,
             0x00, 0xE0, 0, 0x50, 0x00, 0xFF, 0x2F, 0x00);
    BY_TRACK(&x, 0x00, 0xC1, 3, 0x00, 0x91, 62, 10, 0x10, 0x81, 62, 0, 0x00, 0xFF, 0x2F, 0x00);
    cdz_midi m;
    CHECK_INT(cdz_midi_read(&m, x.b, x.n, "t", NULL), CDZ_OK);
    cdz_score s;
    FAIL_EACH_ALLOCATION("score from midi", (cdz_score_from_midi(&s, &m, NULL) == CDZ_OK ? (cdz_score_free(&s), CDZ_OK) : CDZ_ERR_NOMEM));
    CHECK_INT(cdz_score_from_midi(&s, &m, NULL), CDZ_OK);
    cdz_midi out;
    FAIL_EACH_ALLOCATION("score to midi", (cdz_score_to_midi(&out, &s, 1, NULL) == CDZ_OK ? (cdz_midi_free(&out), CDZ_OK) : CDZ_ERR_NOMEM));
    FAIL_EACH_ALLOCATION("score copy, sustain, slice", copy_slice_sustain(&s));
    cdz_instrument *inst;
    size_t n;
    FAIL_EACH_ALLOCATION("score instruments", (cdz_score_instruments(&s, &inst, &n, NULL) == CDZ_OK ? (cdz_free(inst), CDZ_OK) : CDZ_ERR_NOMEM));
    cdz_score_free(&s);
    cdz_midi_free(&m);
}

/* Selecting notes by track name, program and a single tempo (the dataset builder's filters). */
static void test_filters(void) {
    cdz_score s;
    cdz_error err;
    cdz_score_init(&s, 480, &err);
    cdz_score_add_note(&s, 0, 0, 0, 60, 90, 0, 480);
    cdz_score_add_note(&s, 1, 1, 32, 36, 90, 0, 960);
    cdz_score_add_note(&s, 2, 2, 0, 64, 90, 480, 960);
    cdz_score_add_tempo(&s, 0, 100);
    cdz_score_add_tempo(&s, 480, 50);
    cdz_score_finish(&s, &err);
    snprintf(s.tracks[0].name, sizeof s.tracks[0].name, "MELODY");
    snprintf(s.tracks[1].name, sizeof s.tracks[1].name, "Bass");
    snprintf(s.tracks[2].name, sizeof s.tracks[2].name, "PIANO");
    cdz_score t;
    cdz_score_copy(&t, &s, &err);
    cdz_score_keep_tracks(&t, "piano,bass");
    CHECK(t.n_notes == 2 && t.notes[0].pitch == 36 && t.notes[1].pitch == 64, "tracks by name, any case: %zu notes", t.n_notes);
    cdz_score_free(&t);
    cdz_score_copy(&t, &s, &err);
    cdz_score_keep_programs(&t, 0, 31);
    CHECK(t.n_notes == 2 && t.notes[0].program == 0 && t.notes[1].program == 0, "programs 0-31");
    cdz_score_free(&t);
    CHECK_NEAR(s.notes[2].end_s, 0.6 + 0.6 * 2, 1e-9); /* 100 qpm, then 50 */
    CHECK(cdz_score_single_tempo(&s, &err) == CDZ_OK && s.n_tempos == 1, "one tempo");
    CHECK_NEAR(s.notes[2].end_s, 1.2, 1e-9);
    cdz_score_free(&s);
}

int main(void) {
    test_filters();
    test_pairing();
    test_programs_and_drums();
    test_tempo_map();
    test_quantize();
    test_sustain();
    test_transpose_and_slice();
    test_round_trip_ties();
    test_round_trip_random();
    test_allocation_failures();
    return test_summary("test_score");
}

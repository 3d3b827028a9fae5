/* Audio: WAV round trips and malformed WAV files; rendering through FluidSynth checked by listening
 * with a spectrum (the strongest pitch class of each note's window is the note's, the fundamental
 * stands above its neighbouring semitones), tempo changes, drums and the ringing tail. The rendering
 * checks skip, saying so, without FluidSynth or a SoundFont. */
#include <math.h>
#include <unistd.h>

#include <pthread.h>

#include "test.h"

static char tmpdir[] = "/tmp/cadenza_audio_XXXXXX";

static void path_in_tmp(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmpdir, name); }

static void test_wav_round_trip(void) {
    for (int channels = 1; channels <= 2; channels++) {
        cdz_audio a = {cdz_calloc(2 * 1000, sizeof(int16_t)), 1000, channels, 22050};
        for (size_t i = 0; i < a.frames * (size_t)channels; i++) a.samples[i] = (int16_t)(30000 * sin(0.01 * (double)i) - (i % 7));
        a.samples[0] = -32768, a.samples[1] = 32767;
        char path[128];
        path_in_tmp(path, sizeof path, "rt.wav");
        cdz_error err = {0};
        CHECK(cdz_wav_write(path, &a, &err) == CDZ_OK, "write: %s", err.msg);
        cdz_audio b;
        CHECK(cdz_wav_read(path, &b, &err) == CDZ_OK, "read: %s", err.msg);
        CHECK(b.frames == a.frames && b.channels == channels && b.sample_rate == 22050, "shape %zu x %d at %u", b.frames,
              b.channels, b.sample_rate);
        CHECK(b.samples && memcmp(a.samples, b.samples, a.frames * (size_t)channels * 2) == 0, "samples equal");
        CHECK_INT(cdz_audio_peak(&b), 32768);
        cdz_audio_free(&a), cdz_audio_free(&b);
        unlink(path);
    }
}

static size_t put_chunk(uint8_t *p, const char *id, const void *body, uint32_t n) {
    memcpy(p, id, 4);
    p[4] = (uint8_t)n, p[5] = (uint8_t)(n >> 8), p[6] = (uint8_t)(n >> 16), p[7] = (uint8_t)(n >> 24);
    memcpy(p + 8, body, n);
    if (n & 1) p[8 + n] = 0;
    return 8 + n + (n & 1);
}

/* A WAV with an odd-sized LIST chunk before fmt and data: fmt (mono 16-bit 8 kHz), data of 3 samples. */
static size_t make_wav(uint8_t *buf, int bits, int data_first) {
    const uint8_t fmt[16] = {1, 0, 1, 0, 0x40, 0x1F, 0, 0, 0x80, 0x3E, 0, 0, 2, 0, (uint8_t)bits, 0};
    const uint8_t data[6] = {1, 0, 0xFF, 0xFF, 0, 0x80};
    size_t n = 12;
    memcpy(buf, "RIFF\0\0\0\0WAVE", 12);
    n += put_chunk(buf + n, "LIST", "abc", 3);
    if (data_first) n += put_chunk(buf + n, "data", data, 6);
    n += put_chunk(buf + n, "fmt ", fmt, 16);
    if (!data_first) n += put_chunk(buf + n, "data", data, 6);
    return n;
}

static void test_wav_malformed(void) {
    uint8_t buf[128];
    size_t n = make_wav(buf, 16, 0);
    cdz_audio a;
    cdz_error err = {0};
    CHECK(cdz_wav_parse(buf, n, "ok.wav", &a, &err) == CDZ_OK, "odd LIST chunk skipped: %s", err.msg);
    CHECK(a.frames == 3 && a.samples && a.samples[0] == 1 && a.samples[1] == -1 && a.samples[2] == -32768, "3 samples");
    cdz_audio_free(&a);
    int refused = 0;
    for (size_t k = 0; k < n; k++) /* every truncation: an error, never a read past the end */
        refused += cdz_wav_parse(buf, k, "cut.wav", &a, &err) != CDZ_OK;
    CHECK_INT(refused, (int)n);
    CHECK_STR_CONTAINS(err.msg, "cut.wav");
    n = make_wav(buf, 8, 0);
    CHECK(cdz_wav_parse(buf, n, "u8.wav", &a, &err) == CDZ_ERR_UNSUPPORTED, "8-bit refused");
    CHECK_STR_CONTAINS(err.msg, "only 16-bit PCM");
    n = make_wav(buf, 16, 1);
    CHECK(cdz_wav_parse(buf, n, "order.wav", &a, &err) == CDZ_ERR_FORMAT, "data before fmt");
    CHECK_STR_CONTAINS(err.msg, "data before the fmt chunk");
    CHECK(cdz_wav_parse((const uint8_t *)"RIFX\0\0\0\0WAVE", 12, "x.wav", &a, &err) == CDZ_ERR_FORMAT, "not RIFF");
    n = make_wav(buf, 16, 0);
    buf[12 + 12 + 4 + 3] = 0x7F; /* the fmt chunk (after the 12-byte LIST) says 2 GB */
    CHECK(cdz_wav_parse(buf, n, "big.wav", &a, &err) != CDZ_OK, "a chunk larger than the file");
    CHECK(cdz_wav_read("/nonexistent/x.wav", &a, &err) != CDZ_OK, "missing file");
    CHECK_STR_CONTAINS(err.msg, "/nonexistent/x.wav");
}

/* Float samples to 16 bits: normalised to the peak asked for, or kept and clipped (and counted). */
static void test_from_float(void) {
    float x[8] = {0.1f, -0.05f, 0.02f, 0, -0.1f, 0.07f, 0.001f, -0.003f};
    cdz_audio a;
    cdz_render_report r;
    cdz_error err = {0};
    CHECK(cdz_audio_from_float(&a, x, 4, 2, 22050, 1, -1.0, &r, &err) == CDZ_OK, "normalise: %s", err.msg);
    CHECK(a.frames == 4 && a.channels == 2 && a.sample_rate == 22050, "shape %zu x %d at %u", a.frames, a.channels, a.sample_rate);
    double target = 32767 * pow(10, -1 / 20.0);
    CHECK_INT(cdz_audio_peak(&a), (int)lrint(target));
    CHECK_NEAR(r.peak_dbfs, -1.0, 0.001);
    CHECK_NEAR(r.gain_db, 20 * log10(target / 32767 / 0.1), 1e-6);
    CHECK_INT(r.clipped, 0);
    CHECK(a.samples[0] == -a.samples[4] && a.samples[1] == (int16_t)lrint(-0.5 * target), "scaled alike: %d %d %d",
          a.samples[0], a.samples[4], a.samples[1]);
    cdz_audio_free(&a);
    /* a fixed level: as they are, what exceeds full scale clipped and counted */
    float loud[6] = {1.5f, -2.0f, 0.5f, 1.0f, -1.0f, 0.99999f};
    CHECK(cdz_audio_from_float(&a, loud, 6, 1, 8000, 0, -1.0, &r, &err) == CDZ_OK, "fixed: %s", err.msg);
    CHECK_INT(r.clipped, 2);
    CHECK_NEAR(r.gain_db, 0, 0);
    CHECK(a.samples[0] == 32767 && a.samples[1] == -32767 && a.samples[2] == 16384 && a.samples[3] == 32767 &&
              a.samples[4] == -32767,
          "clipped to full scale: %d %d %d %d %d", a.samples[0], a.samples[1], a.samples[2], a.samples[3], a.samples[4]);
    cdz_audio_free(&a);
    /* normalising what would clip brings it down instead */
    CHECK(cdz_audio_from_float(&a, loud, 6, 1, 8000, 1, -3.0, &r, &err) == CDZ_OK, "normalise down: %s", err.msg);
    CHECK_INT(r.clipped, 0);
    CHECK_NEAR(r.gain_db, -3.0 - 20 * log10(2.0), 1e-6);
    CHECK_NEAR(r.peak_dbfs, -3.0, 0.001);
    cdz_audio_free(&a);
    /* silence stays silent; a bad peak is refused */
    float zero[4] = {0};
    CHECK(cdz_audio_from_float(&a, zero, 2, 2, 8000, 1, -1.0, &r, &err) == CDZ_OK, "silence: %s", err.msg);
    CHECK(cdz_audio_peak(&a) == 0 && r.gain_db == 0 && isinf(r.peak_dbfs) && r.peak_dbfs < 0, "silence: gain %g, peak %g",
          r.gain_db, r.peak_dbfs);
    cdz_audio_free(&a);
    CHECK(cdz_audio_from_float(&a, x, 4, 2, 8000, 1, 3.0, &r, &err) == CDZ_ERR_ARG, "a peak above full scale refused");
    CHECK(cdz_audio_from_float(&a, x, 4, 3, 8000, 0, 0, &r, &err) == CDZ_ERR_ARG, "three channels refused");
}

/* Power of the frequency f in x[0 .. n) at `rate` (Goertzel). */
static double goertzel(const int16_t *x, size_t n, int stride, double f, double rate) {
    double w = 2 * 3.14159265358979323846 * f / rate, c = 2 * cos(w), s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i * (size_t)stride] / 32768.0 + c * s1 - s2;
        s2 = s1, s1 = s0;
    }
    return s1 * s1 + s2 * s2 - c * s1 * s2;
}

static double midi_hz(int pitch) { return 440.0 * pow(2.0, (pitch - 69) / 12.0); }

/* Mean square of frames [a, b) of the left channel. */
static double energy(const cdz_audio *a, size_t from, size_t to) {
    double e = 0;
    if (to > a->frames) to = a->frames;
    for (size_t i = from; i < to; i++) e += (double)a->samples[2 * i] * a->samples[2 * i];
    return to > from ? e / (double)(to - from) : 0;
}

static const char *test_soundfont(void) {
    /* the small GM font when present: FluidR3_GM takes longer to open */
    if (access("/usr/share/sounds/sf2/TimGM6mb.sf2", R_OK) == 0) return "/usr/share/sounds/sf2/TimGM6mb.sf2";
    return cdz_render_find_soundfont();
}

static int render(const cdz_score *s, cdz_audio *a) {
    cdz_render_params p = cdz_render_default_params();
    p.soundfont = test_soundfont();
    p.reverb = 0; /* the spectral checks want dry notes */
    cdz_error err = {0};
    cdz_status st = cdz_render_score(s, &p, a, &err);
    CHECK(st == CDZ_OK, "render: %s", err.msg);
    return st == CDZ_OK;
}

/* A C-major scale of quarter notes at 120 qpm (0.5 s each), acoustic grand piano. */
static void test_render_scale(void) {
    static const int scale[8] = {60, 62, 64, 65, 67, 69, 71, 72};
    cdz_score s;
    cdz_error err;
    cdz_score_init(&s, 480, &err);
    cdz_score_add_tempo(&s, 0, 120);
    for (int i = 0; i < 8; i++) cdz_score_add_note(&s, 0, 0, 0, (uint8_t)scale[i], 100, i * 480, i * 480 + 470);
    cdz_score_finish(&s, &err);
    cdz_audio a;
    if (!render(&s, &a)) {
        cdz_score_free(&s);
        return;
    }
    CHECK(cdz_audio_peak(&a) > 1000, "not silent (peak %d)", cdz_audio_peak(&a));
    const double rate = a.sample_rate;
    int class_ok = 0, fundamental_ok = 0;
    for (int i = 0; i < 8; i++) {
        /* the window after the attack, before the next note */
        size_t from = (size_t)((i * 0.5 + 0.08) * rate), n = (size_t)(0.3 * rate);
        double chroma[12] = {0};
        for (int p = 36; p <= 96; p++) chroma[p % 12] += goertzel(a.samples + 2 * from, n, 2, midi_hz(p), rate);
        int best = 0;
        for (int c = 1; c < 12; c++)
            if (chroma[c] > chroma[best]) best = c;
        class_ok += best == scale[i] % 12;
        double at = goertzel(a.samples + 2 * from, n, 2, midi_hz(scale[i]), rate);
        double below = goertzel(a.samples + 2 * from, n, 2, midi_hz(scale[i] - 1), rate);
        double above = goertzel(a.samples + 2 * from, n, 2, midi_hz(scale[i] + 1), rate);
        fundamental_ok += at > 4 * below && at > 4 * above;
    }
    CHECK_INT(class_ok, 8);
    CHECK_INT(fundamental_ok, 8);
    /* the tail rings out: sound after the last note ends (3.97 s), and the file goes on past it */
    size_t end = (size_t)(3.97 * rate);
    CHECK(energy(&a, end + (size_t)(0.02 * rate), end + (size_t)(0.1 * rate)) > 0, "release after the last note-off");
    CHECK(a.frames > end + (size_t)(0.1 * rate), "%zu frames, the last note ends at %zu", a.frames, end);
    CHECK(a.frames < end + (size_t)(5.1 * rate), "the tail stops within max_tail_s");
    cdz_audio_free(&a);
    cdz_score_free(&s);
}

/* A tempo change halfway: 120 qpm, then 60 qpm from tick 960. The note at tick 1440 starts at 1 s +
 * 480 ticks at 60 qpm = 2 s (at 120 qpm throughout it would be 1.5 s). */
static void test_render_tempo_and_drums(void) {
    cdz_score s;
    cdz_error err;
    cdz_score_init(&s, 480, &err);
    cdz_score_add_tempo(&s, 0, 120);
    cdz_score_add_tempo(&s, 960, 60);
    cdz_score_add_note(&s, 0, 0, 0, 69, 100, 0, 200);
    cdz_score_add_note(&s, 0, 0, 0, 69, 100, 1440, 1700);
    cdz_score_finish(&s, &err);
    cdz_audio a;
    if (render(&s, &a)) {
        double r = a.sample_rate;
        double quiet = energy(&a, (size_t)(1.6 * r), (size_t)(1.95 * r)), loud = energy(&a, (size_t)(2.02 * r), (size_t)(2.2 * r));
        CHECK(loud > 20 * quiet && loud > 0, "the second note starts at 2.0 s (energy %.0f before, %.0f after)", quiet, loud);
        cdz_audio_free(&a);
    }
    cdz_score_free(&s);
    /* a snare on channel 10 sounds (as percussion: a pitched instrument would ring at D2 = 73 Hz) */
    cdz_score_init(&s, 480, &err);
    cdz_score_add_tempo(&s, 0, 120);
    cdz_score_add_note(&s, 0, 9, 0, 38, 110, 0, 240);
    cdz_score_finish(&s, &err);
    CHECK(s.n_notes == 1 && s.notes[0].is_drum, "a drum note");
    if (render(&s, &a)) {
        CHECK(cdz_audio_peak(&a) > 1000, "the drum sounds (peak %d)", cdz_audio_peak(&a));
        double r = a.sample_rate, total = 0, at_d2 = goertzel(a.samples + (size_t)(0.02 * r) * 2, (size_t)(0.1 * r), 2, 73.4, r);
        for (int p = 36; p <= 96; p++) total += goertzel(a.samples + (size_t)(0.02 * r) * 2, (size_t)(0.1 * r), 2, midi_hz(p), r);
        CHECK(at_d2 < 0.5 * total, "no strong D2 tone (%.3g of %.3g)", at_d2, total);
        cdz_audio_free(&a);
    }
    cdz_score_free(&s);
}

/* Twenty instruments (more than MIDI's 16 channels): every note sounds; a sustain pedal on one track
 * holds that track's note only, though both tracks use MIDI channel 1. */
static void test_render_many_tracks_and_pedal(void) {
    cdz_score s;
    cdz_error err;
    cdz_score_init(&s, 480, &err);
    cdz_score_add_tempo(&s, 0, 120);
    for (int t = 0; t < 20; t++) cdz_score_add_note(&s, (uint16_t)t, 0, (uint8_t)(t * 5), 60, 100, t * 240, t * 240 + 200);
    cdz_score_finish(&s, &err);
    cdz_audio a;
    if (render(&s, &a)) {
        int sounding = 0;
        for (int t = 0; t < 20; t++) {
            size_t from = (size_t)((t * 0.25 + 0.03) * a.sample_rate);
            sounding += energy(&a, from, from + (size_t)(0.15 * a.sample_rate)) > 1e4;
        }
        CHECK_INT(sounding, 20);
        cdz_audio_free(&a);
    }
    cdz_score_free(&s);
    cdz_score_init(&s, 480, &err);
    cdz_score_add_tempo(&s, 0, 120);
    cdz_score_add_control(&s, 1, 0, 0, 64, 127); /* track 1: pedal down */
    cdz_score_add_note(&s, 1, 0, 0, 60, 100, 0, 48);
    cdz_score_add_note(&s, 2, 0, 0, 67, 100, 0, 48); /* track 2, the same channel, no pedal */
    cdz_score_finish(&s, &err);
    if (render(&s, &a)) {
        double r = a.sample_rate;
        size_t from = (size_t)(0.5 * r), n = (size_t)(0.3 * r);
        double held = goertzel(a.samples + 2 * from, n, 2, midi_hz(60), r), released = goertzel(a.samples + 2 * from, n, 2, midi_hz(67), r);
        CHECK(held > 30 * released, "the pedalled C4 rings on (%.3g), the G4 of the other track stops (%.3g)", held, released);
        cdz_audio_free(&a);
    }
    cdz_score_free(&s);
    /* a piece longer than a WAV file holds: refused before anything is allocated */
    cdz_score_init(&s, 1, &err);
    cdz_score_add_tempo(&s, 0, 10); /* 6 s per tick */
    cdz_score_add_note(&s, 0, 0, 0, 60, 100, 10000, 10001);
    cdz_score_finish(&s, &err);
    cdz_render_params p = cdz_render_default_params();
    p.soundfont = test_soundfont();
    CHECK(cdz_render_score(&s, &p, &a, &err) == CDZ_ERR_RANGE, "17 hours refused");
    CHECK_STR_CONTAINS(err.msg, "a WAV file holds at most");
    cdz_score_free(&s);
}

/* Levels: by default the peak sits at -1 dBFS; at a fixed gain the synthesizer's own level stays (well
 * below full scale at 0.5: the quiet renders users heard), and a high gain clips and says how much. */
static void test_render_levels(void) {
    cdz_score s;
    cdz_error err = {0};
    cdz_score_init(&s, 480, &err);
    cdz_score_add_tempo(&s, 0, 120);
    for (int i = 0; i < 4; i++) cdz_score_add_note(&s, 0, 0, 0, (uint8_t)(60 + 4 * i), 100, i * 480, i * 480 + 400);
    cdz_score_finish(&s, &err);
    cdz_render_params p = cdz_render_default_params();
    p.soundfont = test_soundfont();
    p.reverb = 0;
    CHECK(p.normalize == 1 && p.peak_dbfs == -1.0, "normalised to -1 dBFS by default");
    cdz_audio a;
    cdz_render_report r;
    if (cdz_render_score_report(&s, &p, &a, &r, &err) == CDZ_OK) {
        CHECK_NEAR(r.peak_dbfs, -1.0, 0.01);
        CHECK_NEAR(20 * log10(cdz_audio_peak(&a) / 32768.0), -1.0, 0.01);
        CHECK(r.gain_db > 3 && r.clipped == 0, "normalising raised the level by %.1f dB, %zu clipped", r.gain_db, r.clipped);
        cdz_audio_free(&a);
    } else {
        CHECK(0, "render: %s", err.msg);
    }
    p.normalize = 0;
    if (cdz_render_score_report(&s, &p, &a, &r, &err) == CDZ_OK) {
        CHECK(r.peak_dbfs < -4 && r.gain_db == 0 && r.clipped == 0, "gain 0.5 as it is: peak %.1f dBFS", r.peak_dbfs);
        cdz_audio_free(&a);
    }
    p.gain = 10;
    if (cdz_render_score_report(&s, &p, &a, &r, &err) == CDZ_OK) {
        size_t full = 0;
        for (size_t i = 0; i < 2 * a.frames; i++) full += a.samples[i] == 32767 || a.samples[i] == -32767;
        CHECK(r.clipped > 0 && r.clipped <= full, "gain 10 clips: %zu reported, %zu samples at full scale", r.clipped, full);
        cdz_audio_free(&a);
    }
    p.normalize = 1, p.peak_dbfs = 1;
    CHECK(cdz_render_score(&s, &p, &a, &err) == CDZ_ERR_ARG, "a peak above 0 dBFS refused");
    cdz_score_free(&s);
}

static void test_render_errors(void) {
    cdz_score s;
    cdz_error err = {0};
    cdz_score_init(&s, 480, &err);
    cdz_score_add_note(&s, 0, 0, 0, 60, 100, 0, 480);
    cdz_score_finish(&s, &err);
    cdz_render_params p = cdz_render_default_params();
    cdz_audio a;
    p.soundfont = "/nonexistent/font.sf2";
    CHECK(cdz_render_score(&s, &p, &a, &err) != CDZ_OK, "missing SoundFont");
    CHECK_STR_CONTAINS(err.msg, cdz_render_available() ? "/nonexistent/font.sf2" : "apt-get install");
    char path[128];
    path_in_tmp(path, sizeof path, "not.sf2");
    FILE *f = fopen(path, "wb");
    fputs("RIFF....notasoundfont", f);
    fclose(f);
    p.soundfont = path;
    CHECK(cdz_render_score(&s, &p, &a, &err) != CDZ_OK, "a file that is no SoundFont");
    CHECK_STR_CONTAINS(err.msg, cdz_render_available() ? "not a SoundFont" : "apt-get install");
    p = cdz_render_default_params();
    p.sample_rate = 1000;
    CHECK(cdz_render_score(&s, &p, &a, &err) != CDZ_OK, "sample rate out of range");
    unlink(path);
    cdz_score_free(&s);
}

/* Two renders at once on two threads give what each gives alone, and each keeps its own error message
 * (FluidSynth's log is per process; the library takes turns at it). */
typedef struct render_job {
    const cdz_score *s;
    const char *soundfont;
    cdz_audio a;
    cdz_status st;
    cdz_error err;
} render_job;

static void *render_thread(void *arg) {
    render_job *j = arg;
    cdz_render_params p = cdz_render_default_params();
    p.soundfont = j->soundfont;
    p.reverb = 0;
    j->st = cdz_render_score(j->s, &p, &j->a, &j->err);
    return NULL;
}

static void test_render_threads(void) {
    cdz_score s;
    cdz_error err;
    cdz_score_init(&s, 480, &err);
    cdz_score_add_tempo(&s, 0, 120);
    for (int i = 0; i < 6; i++) cdz_score_add_note(&s, 0, 0, 0, (uint8_t)(60 + 2 * i), 100, i * 240, i * 240 + 230);
    cdz_score_finish(&s, &err);
    char bad_font[300];
    snprintf(bad_font, sizeof bad_font, "%s/broken.sf2", tmpdir);
    FILE *f = fopen(bad_font, "wb");
    if (f) fputs("RIFF....sfbk and then nothing a SoundFont needs", f), fclose(f);
    render_job alone = {&s, test_soundfont(), {0}, 0, {0}}, jobs[3] = {alone, alone, {&s, bad_font, {0}, 0, {0}}};
    render_thread(&alone);
    pthread_t th[3];
    for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, render_thread, &jobs[i]);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        CHECK(alone.st == CDZ_OK && jobs[i].st == CDZ_OK, "render %d: %s", i, jobs[i].err.msg);
        CHECK(jobs[i].a.frames == alone.a.frames &&
                  memcmp(jobs[i].a.samples, alone.a.samples, alone.a.frames * 2 * sizeof *alone.a.samples) == 0,
              "render %d on a thread: the same samples as alone", i);
        cdz_audio_free(&jobs[i].a);
    }
    CHECK(jobs[2].st != CDZ_OK && strstr(jobs[2].err.msg, "broken.sf2"), "the broken font's render names it: %s",
          jobs[2].err.msg);
    cdz_audio_free(&alone.a);
    unlink(bad_font);
    cdz_score_free(&s);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        printf("FAIL cannot make a temporary folder\n");
        return 1;
    }
    test_wav_round_trip();
    test_wav_malformed();
    test_from_float();
    test_render_errors();
    if (!cdz_render_available())
        printf("skip: rendering checks (built without FluidSynth: apt-get install libfluidsynth-dev, then rebuild)\n");
    else if (!test_soundfont())
        printf("skip: rendering checks (no General MIDI SoundFont: apt-get install fluid-soundfont-gm)\n");
    else {
        test_render_scale();
        test_render_tempo_and_drums();
        test_render_many_tracks_and_pedal();
        test_render_levels();
        test_render_threads();
    }
    rmdir(tmpdir);
    return test_summary("test_audio");
}

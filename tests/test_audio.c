/* Audio: WAV round trips and malformed WAV files; rendering through FluidSynth checked by listening
 * with a spectrum (the strongest pitch class of each note's window is the note's, the fundamental
 * stands above its neighbouring semitones), tempo changes, drums and the ringing tail. The rendering
 * checks skip, saying so, without FluidSynth or a SoundFont. */
#include <math.h>
#include <sys/stat.h>
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
    /* $CADENZA_SOUNDFONT naming a missing file: an error naming the variable and the path, never
     * another SoundFont in its place; an explicit SoundFont still wins over it */
    const char *was = getenv("CADENZA_SOUNDFONT");
    char saved[4096] = "", missing[160];
    if (was) snprintf(saved, sizeof saved, "%s", was);
    snprintf(missing, sizeof missing, "%s/gone.sf2", tmpdir);
    setenv("CADENZA_SOUNDFONT", missing, 1);
    const char *sf = "x";
    CHECK(cdz_render_find_soundfont() == NULL, "no SoundFont found in place of $CADENZA_SOUNDFONT's");
    CHECK(cdz_render_soundfont(NULL, &sf, &err) == CDZ_ERR_IO && sf == NULL, "a missing $CADENZA_SOUNDFONT refused");
    CHECK_STR_CONTAINS(err.msg, "$CADENZA_SOUNDFONT names ");
    CHECK_STR_CONTAINS(err.msg, missing);
    CHECK_STR_CONTAINS(err.msg, "does not exist");
    p = cdz_render_default_params();
    CHECK(cdz_render_score(&s, &p, &a, &err) != CDZ_OK, "a render with a missing $CADENZA_SOUNDFONT");
    CHECK_STR_CONTAINS(err.msg, cdz_render_available() ? "$CADENZA_SOUNDFONT" : "apt-get install");
    if (test_soundfont())
        CHECK(cdz_render_soundfont(test_soundfont(), &sf, &err) == CDZ_OK, "--soundfont wins: %s", err.msg);
    if (was) setenv("CADENZA_SOUNDFONT", saved, 1);
    else unsetenv("CADENZA_SOUNDFONT");
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

/* ---- streaming to disk: bounded memory, progress, the same samples as in memory ---- */

/* A counting allocator: the most bytes the library held at once (each block carries its size). */
typedef struct counting {
    size_t live, peak;
} counting;
static counting g_count;
enum { COUNT_HEADER = 16 };

static void *count_alloc(void *ctx, size_t size) {
    (void)ctx;
    unsigned char *p = malloc(size + COUNT_HEADER);
    if (!p) return NULL;
    memcpy(p, &size, sizeof size);
    g_count.live += size;
    if (g_count.live > g_count.peak) g_count.peak = g_count.live;
    return p + COUNT_HEADER;
}
static void *count_resize(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    unsigned char *base = (unsigned char *)ptr - COUNT_HEADER, *p;
    size_t old;
    memcpy(&old, base, sizeof old);
    if (!(p = realloc(base, size + COUNT_HEADER))) return NULL;
    memcpy(p, &size, sizeof size);
    g_count.live = g_count.live - old + size;
    if (g_count.live > g_count.peak) g_count.peak = g_count.live;
    return p + COUNT_HEADER;
}
static void count_release(void *ctx, void *ptr) {
    (void)ctx;
    unsigned char *base = (unsigned char *)ptr - COUNT_HEADER;
    size_t old;
    memcpy(&old, base, sizeof old);
    g_count.live -= old;
    free(base);
}

/* A short piano note every 5 s for `seconds`: long, but quick to synthesize. */
static void sparse_score(cdz_score *s, int seconds) {
    cdz_error err;
    cdz_score_init(s, 480, &err);
    cdz_score_add_tempo(s, 0, 120); /* 960 ticks a second */
    for (int t = 0; t < seconds; t += 5) cdz_score_add_note(s, 0, 0, 0, (uint8_t)(60 + t % 12), 90, t * 960, t * 960 + 240);
    cdz_score_finish(s, &err);
}

typedef struct progress_log {
    int calls, monotonic;
    int64_t done, total;
} progress_log;

static void log_progress(void *ctx, int64_t done, int64_t total) {
    progress_log *l = ctx;
    if (done < l->done || done > total || (l->calls && total > l->total)) l->monotonic = 0;
    l->calls++, l->done = done, l->total = total;
}

/* What the library holds while it streams a render to disk does not grow with the piece: 10 s and 60 s
 * take the same few blocks (in memory, 60 s of float stereo alone would be 21 MB). Progress comes about
 * once a second of audio, never going back, ending at the frames made. */
static void test_render_wav_bounded(void) {
    size_t peak[2] = {0, 0};
    const int seconds[2] = {10, 60};
    for (int k = 0; k < 2; k++) {
        cdz_score s;
        sparse_score(&s, seconds[k]);
        cdz_render_params p = cdz_render_default_params();
        p.soundfont = test_soundfont();
        progress_log log = {0, 1, 0, 0};
        p.progress = log_progress, p.progress_ctx = &log;
        char path[128];
        path_in_tmp(path, sizeof path, "long.wav");
        cdz_render_report r;
        cdz_error err = {0};
        static const cdz_allocator counter = {count_alloc, count_resize, count_release, NULL};
        g_count = (counting){0, 0};
        cdz_set_allocator(&counter);
        cdz_status st = cdz_render_score_wav(&s, &p, path, &r, &err);
        cdz_set_allocator(NULL);
        peak[k] = g_count.peak;
        CHECK(st == CDZ_OK, "render %d s: %s", seconds[k], err.msg);
        CHECK(g_count.live == 0, "render %d s: %zu bytes not freed", seconds[k], g_count.live);
        CHECK(r.frames > (size_t)(seconds[k] - 5) * p.sample_rate, "%zu frames for %d s", r.frames, seconds[k]);
        CHECK(log.monotonic && log.done == log.total && log.done == (int64_t)r.frames, "progress: monotonic %d, last %lld of %lld, %zu frames",
              log.monotonic, (long long)log.done, (long long)log.total, r.frames);
        CHECK(log.calls >= seconds[k] - 5 && log.calls <= seconds[k] + 10, "%d progress calls for %d s", log.calls, seconds[k]);
        cdz_audio a;
        CHECK(cdz_wav_read(path, &a, &err) == CDZ_OK && a.frames == r.frames && a.channels == 2, "read back: %s", err.msg);
        CHECK_NEAR(20 * log10(cdz_audio_peak(&a) / 32768.0), -1.0, 0.01);
        cdz_audio_free(&a);
        unlink(path);
        cdz_score_free(&s);
    }
    CHECK(peak[1] < (1 << 20), "streaming 60 s held at most %zu bytes at once (bound: 1 MB)", peak[1]);
    CHECK(peak[1] < peak[0] + 16384, "60 s held %zu bytes at most, 10 s %zu: the same, whatever the length", peak[1], peak[0]);
    printf("render to WAV: at most %zu bytes held for 10 s, %zu for 60 s\n", peak[0], peak[1]);
}

/* Streamed to disk and rendered in memory: the same samples, the same report; at a fixed gain that
 * clips, the report says how many samples and how far past full scale the synthesizer went. */
static void test_render_wav_same_as_memory(void) {
    cdz_score s;
    cdz_error err = {0};
    cdz_score_init(&s, 480, &err);
    cdz_score_add_tempo(&s, 0, 120);
    for (int i = 0; i < 4; i++) cdz_score_add_note(&s, 0, 0, 0, (uint8_t)(60 + 4 * i), 100, i * 480, i * 480 + 400);
    cdz_score_finish(&s, &err);
    char path[128];
    path_in_tmp(path, sizeof path, "same.wav");
    for (int fixed = 0; fixed < 2; fixed++) {
        cdz_render_params p = cdz_render_default_params();
        p.soundfont = test_soundfont();
        p.normalize = !fixed, p.gain = fixed ? 10 : 0.5;
        cdz_audio mem, disk;
        cdz_render_report rm, rd;
        CHECK(cdz_render_score_report(&s, &p, &mem, &rm, &err) == CDZ_OK, "in memory: %s", err.msg);
        CHECK(cdz_render_score_wav(&s, &p, path, &rd, &err) == CDZ_OK, "to disk: %s", err.msg);
        CHECK(cdz_wav_read(path, &disk, &err) == CDZ_OK, "read back: %s", err.msg);
        CHECK(disk.frames == mem.frames && rd.frames == mem.frames && disk.samples && mem.samples &&
                  memcmp(disk.samples, mem.samples, 2 * mem.frames * sizeof *mem.samples) == 0,
              "%s: the same %zu frames on disk as in memory (%zu)", fixed ? "gain 10" : "normalised", disk.frames, mem.frames);
        CHECK(rd.clipped == rm.clipped && rd.gain_db == rm.gain_db && rd.peak_dbfs == rm.peak_dbfs &&
                  rd.source_peak_dbfs == rm.source_peak_dbfs, "the same report: %zu/%zu clipped, peak %g/%g", rd.clipped,
              rm.clipped, rd.peak_dbfs, rm.peak_dbfs);
        if (fixed)
            CHECK(rd.clipped > 0 && rd.source_peak_dbfs > 0, "gain 10 clips: %zu samples, the synthesizer at %+.1f dBFS",
                  rd.clipped, rd.source_peak_dbfs);
        else
            CHECK(rd.clipped == 0 && rd.source_peak_dbfs < -3, "normalised: nothing clipped, the synthesizer at %+.1f dBFS",
                  rd.source_peak_dbfs);
        cdz_audio_free(&mem), cdz_audio_free(&disk);
    }
    /* a path that cannot be written fails before rendering, and leaves nothing behind */
    cdz_render_params p = cdz_render_default_params();
    p.soundfont = test_soundfont();
    char bad[160];
    snprintf(bad, sizeof bad, "%s/missing/x.wav", tmpdir);
    CHECK(cdz_render_score_wav(&s, &p, bad, NULL, &err) == CDZ_ERR_IO && strstr(err.msg, "missing"), "%s", err.msg);
    CHECK(cdz_render_score_wav(&s, &p, "", NULL, &err) == CDZ_ERR_ARG, "an empty name: %s", err.msg);
    /* every allocation failing in turn: CDZ_ERR_NOMEM, nothing leaked, no file left behind */
    FAIL_EACH_ALLOCATION("render to WAV", cdz_render_score_wav(&s, &p, path, NULL, NULL));
    cdz_audio small = {cdz_calloc(2 * 100, sizeof(int16_t)), 100, 2, 8000};
    FAIL_EACH_ALLOCATION("WAV write", cdz_wav_write(path, &small, NULL));
    cdz_audio_free(&small);
    char listing[300];
    snprintf(listing, sizeof listing, "test -z \"$(ls -A %s | grep -v '^same.wav$')\"", tmpdir);
    CHECK(system(listing) == 0, "nothing but same.wav left in %s", tmpdir);
    unlink(path);
    cdz_score_free(&s);
}

/* Reads a FIFO to its end into a buffer (a thread of its own: the render blocks until someone reads). */
typedef struct fifo_reader {
    const char *path;
    uint8_t *bytes;
    size_t n;
} fifo_reader;

static void *read_fifo(void *arg) {
    fifo_reader *r = arg;
    FILE *f = fopen(r->path, "rb");
    size_t cap = 0, k;
    uint8_t chunk[65536];
    while (f && (k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (r->n + k > cap && !(r->bytes = realloc(r->bytes, cap = 2 * (r->n + k)))) break;
        memcpy(r->bytes + r->n, chunk, k), r->n += k;
    }
    if (f) fclose(f);
    return NULL;
}

/* Where the WAV goes: a symbolic link is written through (the link stays), a FIFO gets the same bytes
 * as a file (its float frames spooled elsewhere, since a FIFO cannot be reread), a device's error is
 * reported naming it. */
static void test_render_wav_targets(void) {
    cdz_score s;
    cdz_error err = {0};
    cdz_score_init(&s, 480, &err);
    cdz_score_add_tempo(&s, 0, 120);
    cdz_score_add_note(&s, 0, 0, 0, 67, 100, 0, 400);
    cdz_score_finish(&s, &err);
    cdz_render_params p = cdz_render_default_params();
    p.soundfont = test_soundfont();
    char file[128], real[128], link_path[128], fifo[128];
    path_in_tmp(file, sizeof file, "plain.wav");
    path_in_tmp(real, sizeof real, "real.wav");
    path_in_tmp(link_path, sizeof link_path, "link.wav");
    path_in_tmp(fifo, sizeof fifo, "fifo.wav");
    CHECK(cdz_render_score_wav(&s, &p, file, NULL, &err) == CDZ_OK, "to a file: %s", err.msg);
    uint8_t *want = NULL, *got = NULL;
    size_t n_want = 0, n_got = 0;
    CHECK(cdz_file_read_all(file, &want, &n_want, &err) == CDZ_OK && n_want > 44, "read %s", file);
    CHECK(symlink("real.wav", link_path) == 0, "symlink");
    CHECK(cdz_render_score_wav(&s, &p, link_path, NULL, &err) == CDZ_OK, "through a link: %s", err.msg);
    struct stat sb;
    CHECK(lstat(link_path, &sb) == 0 && S_ISLNK(sb.st_mode), "the link is still a link");
    CHECK(cdz_file_read_all(real, &got, &n_got, &err) == CDZ_OK && n_got == n_want && memcmp(got, want, n_want) == 0,
          "the file the link names holds the render (%zu bytes of %zu)", n_got, n_want);
    cdz_free(got);
    if (mkfifo(fifo, 0600) == 0) {
        fifo_reader r = {fifo, NULL, 0};
        pthread_t th;
        pthread_create(&th, NULL, read_fifo, &r);
        CHECK(cdz_render_score_wav(&s, &p, fifo, NULL, &err) == CDZ_OK, "to a FIFO: %s", err.msg);
        pthread_join(th, NULL);
        CHECK(r.n == n_want && memcmp(r.bytes, want, n_want) == 0, "the FIFO got the file's %zu bytes (%zu)", n_want, r.n);
        free(r.bytes);
        unlink(fifo);
    }
    if (access("/dev/full", W_OK) == 0)
        CHECK(cdz_render_score_wav(&s, &p, "/dev/full", NULL, &err) == CDZ_ERR_IO && strstr(err.msg, "/dev/full"),
              "/dev/full's error: %s", err.msg);
    cdz_free(want);
    unlink(file), unlink(real), unlink(link_path);
    cdz_score_free(&s);
}

/* A minimal SoundFont: RIFF sfbk with INFO and sdta, and a pdta whose first sub-chunk is not the
 * preset headers FluidSynth expects (its loader fails, then libinstpatch's asserts through GLib). */
static void write_damaged_soundfont(const char *path) {
    static const uint8_t sf[76] = {
        'R', 'I', 'F', 'F', 68, 0, 0, 0, 's', 'f', 'b', 'k',
        'L', 'I', 'S', 'T', 16, 0, 0, 0, 'I', 'N', 'F', 'O', 'i', 'f', 'i', 'l', 4, 0, 0, 0, 2, 0, 1, 0,
        'L', 'I', 'S', 'T', 12, 0, 0, 0, 's', 'd', 't', 'a', 's', 'm', 'p', 'l', 0, 0, 0, 0,
        'L', 'I', 'S', 'T', 12, 0, 0, 0, 'p', 'd', 't', 'a', 'j', 'u', 'n', 'k', 0, 0, 0, 0};
    FILE *f = fopen(path, "wb");
    if (f) fwrite(sf, 1, sizeof sf, f), fclose(f);
}

/* The first `n` bytes of the test SoundFont, as a download cut short leaves it. */
static int write_truncated_soundfont(const char *path, size_t n) {
    FILE *in = fopen(test_soundfont(), "rb"), *out = fopen(path, "wb");
    char buf[65536];
    size_t got = 0, k;
    while (in && out && got < n && (k = fread(buf, 1, n - got < sizeof buf ? n - got : sizeof buf, in)) > 0)
        got += fwrite(buf, 1, k, out);
    if (in) fclose(in);
    if (out) fclose(out);
    return got == n;
}

/* Runs a render with stderr sent to a file; returns what reached it (in buf). */
static cdz_status render_quietly(const cdz_score *s, const char *soundfont, char *buf, size_t cap, cdz_error *err) {
    char path[128];
    path_in_tmp(path, sizeof path, "stderr.txt");
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w+");
    if (f) dup2(fileno(f), 2);
    cdz_render_params p = cdz_render_default_params();
    p.soundfont = soundfont;
    cdz_audio a;
    cdz_status st = cdz_render_score(s, &p, &a, err);
    cdz_audio_free(&a);
    fflush(stderr);
    dup2(saved, 2), close(saved);
    size_t n = 0;
    if (f) rewind(f), n = fread(buf, 1, cap - 1, f), fclose(f);
    buf[n] = 0;
    unlink(path);
    return st;
}

/* SoundFonts: a truncated one is refused naming the file and where it ends; a damaged one is refused
 * with FluidSynth's first error and nothing of FluidSynth's or GLib's reaches the terminal. */
static void test_bad_soundfonts(void) {
    cdz_score s;
    cdz_error err = {0};
    cdz_score_init(&s, 480, &err);
    cdz_score_add_note(&s, 0, 0, 0, 60, 100, 0, 480);
    cdz_score_finish(&s, &err);
    char cut[128], damaged[128], noise[4096];
    path_in_tmp(cut, sizeof cut, "cut.sf2");
    path_in_tmp(damaged, sizeof damaged, "damaged.sf2");
    const char *sf;
    CHECK(write_truncated_soundfont(cut, 200000), "a truncated copy of %s", test_soundfont());
    CHECK(cdz_render_soundfont(cut, &sf, &err) == CDZ_ERR_FORMAT && sf == NULL, "a truncated SoundFont refused");
    CHECK_STR_CONTAINS(err.msg, cut);
    CHECK_STR_CONTAINS(err.msg, "truncated or damaged SoundFont");
    CHECK_STR_CONTAINS(err.msg, "the file's end at byte 200000");
    CHECK(render_quietly(&s, cut, noise, sizeof noise, &err) == CDZ_ERR_FORMAT && strstr(err.msg, cut), "%s", err.msg);
    CHECK(noise[0] == 0, "nothing printed for a truncated SoundFont, got: %s", noise);
    write_damaged_soundfont(damaged);
    CHECK(cdz_render_soundfont(damaged, &sf, &err) == CDZ_OK, "the damaged font's chunks fit: %s", err.msg);
    CHECK(render_quietly(&s, damaged, noise, sizeof noise, &err) == CDZ_ERR_FORMAT, "a damaged SoundFont refused");
    CHECK_STR_CONTAINS(err.msg, damaged);
    CHECK_STR_CONTAINS(err.msg, "FluidSynth could not load this SoundFont: "); /* and why, in FluidSynth's words */
    CHECK(noise[0] == 0, "nothing printed for a damaged SoundFont, got: %s", noise);
    unlink(cut), unlink(damaged);
    cdz_score_free(&s);
}

/* ---- any WAV to float, and to mono at a model's rate ---- */

/* A WAV of the given format tag (1 PCM, 3 float, 0xFFFE extensible with the PCM sub-format), bits,
 * channels and rate, with the data bytes given. */
static size_t make_wav_any(uint8_t *buf, int format, int bits, int channels, uint32_t rate, const uint8_t *data, uint32_t n) {
    uint8_t fmt[40] = {0};
    uint32_t block = (uint32_t)(bits / 8 * channels), bps = rate * block, fn = format == 0xFFFE ? 40 : 16;
    fmt[0] = (uint8_t)format, fmt[1] = (uint8_t)(format >> 8), fmt[2] = (uint8_t)channels;
    for (int i = 0; i < 4; i++) fmt[4 + i] = (uint8_t)(rate >> 8 * i), fmt[8 + i] = (uint8_t)(bps >> 8 * i);
    fmt[12] = (uint8_t)block, fmt[14] = (uint8_t)bits;
    if (format == 0xFFFE) fmt[16] = 22, fmt[24] = 1; /* cbSize, then the sub-format GUID: PCM */
    size_t len = 12;
    memcpy(buf, "RIFF\0\0\0\0WAVE", 12);
    len += put_chunk(buf + len, "fmt ", fmt, fn);
    len += put_chunk(buf + len, "data", data, n);
    return len;
}

static void test_wav_any(void) {
    uint8_t buf[256];
    cdz_audio_f a;
    cdz_error err = {0};
    /* 8-bit unsigned: 128 is silence */
    const uint8_t u8[3] = {128, 255, 0};
    size_t n = make_wav_any(buf, 1, 8, 1, 8000, u8, 3);
    CHECK(cdz_wav_parse_any(buf, n, "u8.wav", &a, &err) == CDZ_OK, "%s", err.msg);
    CHECK(a.frames == 3 && a.samples[0] == 0 && fabsf(a.samples[1] - 127 / 128.0f) < 1e-7 && a.samples[2] == -1, "8-bit: %g %g %g",
          a.samples[0], a.samples[1], a.samples[2]);
    cdz_audio_f_free(&a);
    /* 24-bit signed, stereo, in an extensible header */
    const uint8_t s24[12] = {0, 0, 0x40, 0, 0, 0xC0, 0xFF, 0xFF, 0x7F, 0x01, 0, 0x80};
    n = make_wav_any(buf, 0xFFFE, 24, 2, 44100, s24, 12);
    CHECK(cdz_wav_parse_any(buf, n, "s24.wav", &a, &err) == CDZ_OK, "%s", err.msg);
    CHECK(a.frames == 2 && a.channels == 2 && a.sample_rate == 44100 && a.samples[0] == 0.5f && a.samples[1] == -0.5f &&
              fabsf(a.samples[2] - 8388607 / 8388608.0f) < 1e-7 && a.samples[3] == -1 + 1 / 8388608.0f,
          "24-bit stereo: %g %g %g %g", a.samples[0], a.samples[1], a.samples[2], a.samples[3]);
    cdz_audio_f_free(&a);
    /* 32-bit float with a NaN (read as 0, counted), 64-bit float, 32-bit PCM */
    float f32[3] = {0.25f, -2.0f, NAN};
    n = make_wav_any(buf, 3, 32, 1, 48000, (const uint8_t *)f32, sizeof f32);
    CHECK(cdz_wav_parse_any(buf, n, "f32.wav", &a, &err) == CDZ_OK && a.samples[0] == 0.25f && a.samples[1] == -2.0f &&
              a.samples[2] == 0 && a.nonfinite == 1 && a.source_float,
          "float 32: %s", err.msg);
    cdz_audio_f_free(&a);
    double f64[2] = {0.125, -0.75};
    n = make_wav_any(buf, 3, 64, 1, 48000, (const uint8_t *)f64, sizeof f64);
    CHECK(cdz_wav_parse_any(buf, n, "f64.wav", &a, &err) == CDZ_OK && a.samples[0] == 0.125f && a.samples[1] == -0.75f, "float 64");
    cdz_audio_f_free(&a);
    const uint8_t s32[4] = {0, 0, 0, 0xC0};
    n = make_wav_any(buf, 1, 32, 1, 16000, s32, 4);
    CHECK(cdz_wav_parse_any(buf, n, "s32.wav", &a, &err) == CDZ_OK && a.samples[0] == -0.5f, "32-bit PCM");
    cdz_audio_f_free(&a);
    /* refused: ADPCM, 12-bit PCM, 0 channels, truncations */
    n = make_wav_any(buf, 2, 4, 1, 8000, u8, 3);
    CHECK(cdz_wav_parse_any(buf, n, "adpcm.wav", &a, &err) == CDZ_ERR_UNSUPPORTED, "ADPCM refused");
    CHECK_STR_CONTAINS(err.msg, "adpcm.wav: byte 12: sample format 2 with 4 bits");
    CHECK_STR_CONTAINS(err.msg, "sox or ffmpeg");
    n = make_wav_any(buf, 1, 12, 1, 8000, u8, 3);
    CHECK(cdz_wav_parse_any(buf, n, "x12.wav", &a, &err) == CDZ_ERR_UNSUPPORTED, "12-bit refused");
    n = make_wav_any(buf, 1, 16, 0, 8000, u8, 2);
    CHECK(cdz_wav_parse_any(buf, n, "none.wav", &a, &err) == CDZ_ERR_UNSUPPORTED, "no channels refused");
    n = make_wav_any(buf, 3, 32, 1, 48000, (const uint8_t *)f32, sizeof f32);
    int refused = 0;
    for (size_t k = 0; k < n; k++) refused += cdz_wav_parse_any(buf, k, "cut.wav", &a, &err) != CDZ_OK;
    CHECK_INT(refused, (int)n);
    CHECK(cdz_wav_read_any("/nonexistent/y.wav", &a, &err) != CDZ_OK && strstr(err.msg, "/nonexistent/y.wav"), "missing file");
}

/* RMS of y[i] - sin(2 pi f i / rate + phase) over the middle of the signal (the filter's edges left out). */
static double sine_error(const float *y, size_t n, double f, uint32_t rate, double amp) {
    double s = 0;
    size_t lo = n / 4, hi = 3 * n / 4;
    for (size_t i = lo; i < hi; i++) {
        double d = y[i] - amp * sin(2 * 3.14159265358979323846 * f * (double)i / rate);
        s += d * d;
    }
    return sqrt(s / (double)(hi - lo));
}

static double rms_mid(const float *y, size_t n) {
    double s = 0;
    for (size_t i = n / 4; i < 3 * n / 4; i++) s += (double)y[i] * y[i];
    return sqrt(s / (double)(n / 2));
}

static void test_conform(void) {
    /* a 1 kHz sine, stereo (the right channel its negative plus twice: the mean is half the sine), at
     * 48, 44.1 and 16 kHz, to 24 kHz mono: the sine at the new rate */
    const uint32_t rates[3] = {48000, 44100, 16000};
    for (int r = 0; r < 3; r++) {
        cdz_audio_f a = {0};
        a.frames = rates[r] / 5, a.channels = 2, a.sample_rate = rates[r], a.source_bits = 16;
        a.samples = malloc(a.frames * 2 * sizeof *a.samples);
        for (size_t i = 0; i < a.frames; i++) {
            float v = (float)sin(2 * 3.14159265358979323846 * 1000.0 * (double)i / rates[r]);
            a.samples[2 * i] = v, a.samples[2 * i + 1] = 0.0f;
        }
        float *y = NULL;
        size_t n = 0;
        char did[256];
        cdz_error err = {0};
        CHECK(cdz_audio_f_conform(&a, 24000, &y, &n, did, sizeof did, &err) == CDZ_OK, "%s", err.msg);
        CHECK(n == 24000 / 5, "%u Hz: %zu frames (%zu wanted)", rates[r], n, (size_t)(24000 / 5));
        double e = sine_error(y, n, 1000, 24000, 0.5);
        CHECK(e < 1e-3, "%u Hz to 24 kHz: the sine within %.2g RMS", rates[r], e);
        CHECK(strstr(did, "2 channels averaged to mono") && strstr(did, "to 24000 Hz"), "said: %s", did);
        cdz_free(y);
        cdz_audio_f_free(&a);
    }
    /* downsampling removes what the new rate cannot hold: 15 kHz at 48 kHz to 24 kHz (Nyquist 12 kHz) */
    cdz_audio_f a = {0};
    a.frames = 9600, a.channels = 1, a.sample_rate = 48000, a.source_bits = 24;
    a.samples = malloc(a.frames * sizeof *a.samples);
    for (size_t i = 0; i < a.frames; i++) a.samples[i] = (float)sin(2 * 3.14159265358979323846 * 15000.0 * (double)i / 48000);
    float *y = NULL;
    size_t n = 0;
    char did[256];
    cdz_error err = {0};
    CHECK(cdz_audio_f_conform(&a, 24000, &y, &n, did, sizeof did, &err) == CDZ_OK, "%s", err.msg);
    double left = rms_mid(y, n);
    CHECK(left < 0.01, "15 kHz after downsampling to 24 kHz: RMS %.4f of 0.707 (no alias at 9 kHz)", left);
    CHECK(strstr(did, "24-bit PCM samples read as floats") != NULL, "said: %s", did);
    cdz_free(y);
    /* the same rate, mono, 16-bit: a copy, nothing said */
    a.source_bits = 16, a.sample_rate = 24000;
    CHECK(cdz_audio_f_conform(&a, 24000, &y, &n, did, sizeof did, &err) == CDZ_OK && n == a.frames &&
              memcmp(y, a.samples, n * sizeof *y) == 0 && did[0] == 0,
          "same rate: a copy (%s)", did);
    cdz_free(y);
    CHECK(cdz_audio_f_conform(&a, 0, &y, &n, NULL, 0, &err) == CDZ_ERR_ARG, "rate 0 refused");
    cdz_audio_f_free(&a);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        printf("FAIL cannot make a temporary folder\n");
        return 1;
    }
    test_wav_round_trip();
    test_wav_malformed();
    test_wav_any();
    test_conform();
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
        test_render_wav_bounded();
        test_render_wav_same_as_memory();
        test_render_wav_targets();
        test_bad_soundfonts();
    }
    rmdir(tmpdir);
    return test_summary("test_audio");
}

/* cadenza render: a MIDI file to a 16-bit PCM WAV through FluidSynth and a General MIDI SoundFont,
 * normalised to a peak of -1 dBFS unless a fixed --gain is asked for; also app_render_wav and
 * app_wav_beside, which generate and accompany use for --wav. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "app.h"

static const char RENDER_ABOUT[] =
    "Renders every note through FluidSynth: drums (MIDI channel 10) as GM percussion, tempo changes\n"
    "followed, each track and program on a synthesizer channel of its own. The result is normalised so\n"
    "that its peak sits at -1 dBFS (General MIDI SoundFonts at FluidSynth's gain peak near -15 dBFS);\n"
    "the 'wrote' line says the gain applied. --gain X sets a fixed synthesizer gain instead, and the\n"
    "command says how many samples clipped, if any, and how far to lower the gain. The audio streams to\n"
    "disk as it is made (memory stays small however long the piece; the disk briefly holds twice the\n"
    "WAV's size); on a terminal, long renders show their progress.";

/* A progress line on stderr for renders that take a while, when stderr is a terminal. */
typedef struct render_progress {
    double start, last;
    uint32_t rate;
    int tty, open; /* open: a progress line is on the terminal without its newline */
} render_progress;

enum { PROGRESS_AFTER_S = 1 }; /* a render shorter than this shows none: it would only flicker */

static void on_progress(void *ctx, int64_t done, int64_t total) {
    render_progress *p = ctx;
    double now = app_now();
    if (!p->tty || now - p->start < PROGRESS_AFTER_S || (now - p->last < 0.1 && done < total)) return;
    p->last = now;
    char at[32], of[32];
    app_format_duration((double)done / p->rate, at, sizeof at);
    app_format_duration((double)total / p->rate, of, sizeof of);
    p->open = done < total;
    /* the last line says what the seconds after it are for: the 16-bit pass, a few seconds an hour */
    fprintf(stderr, "\r  rendering %s of %s  %.0fx real time%s", at, of, (double)done / p->rate / fmax(now - p->start, 1e-9),
            p->open ? " " : ", writing the WAV file\n");
}

/* The level line of a "wrote" message: the normalising gain, or the samples that clipped. */
static void describe_level(const cdz_render_report *r, int normalized, char *buf, size_t n) {
    if (normalized && isfinite(r->peak_dbfs)) snprintf(buf, n, ", normalised %+.1f dB", r->gain_db);
    else if (r->clipped) snprintf(buf, n, ", %zu samples clipped", r->clipped);
    else buf[0] = 0;
}

/* The SoundFont a render will use, checked before rendering (its errors name the SoundFont or
 * $CADENZA_SOUNDFONT, not the piece): 1, with p->soundfont set, or 0 having said why. */
static int soundfont_ok(cdz_render_params *p) {
    cdz_error err = {0};
    if (cdz_render_soundfont(p->soundfont, &p->soundfont, &err) == CDZ_OK) return 1;
    app_error("%s", err.msg);
    return 0;
}

/* Whether a message starts with a path: the library names the file an error is about (the SoundFont,
 * the WAV), and the MIDI file's name in front of those would only confuse. */
static int starts_with(const char *msg, const char *path) { return path && strncmp(msg, path, strlen(path)) == 0; }

/* Renders MIDI file `mid` to WAV file `wav`, streamed (cdz_render_score_wav): EXIT_OK, -1 for a file
 * without notes (silent audio written), or EXIT_FAIL having said why. */
static int render_file(const char *mid, const char *wav, cdz_render_params *p, cdz_render_report *r, size_t *notes) {
    cdz_error err = {0};
    cdz_score s;
    if (app_read_score(&s, mid) != EXIT_OK) return EXIT_FAIL;
    if (!soundfont_ok(p)) {
        cdz_score_free(&s);
        return EXIT_FAIL;
    }
    render_progress prog = {app_now(), 0, p->sample_rate, isatty(2), 0};
    p->progress = on_progress, p->progress_ctx = &prog;
    cdz_status st = cdz_render_score_wav(&s, p, wav, r, &err);
    p->progress = NULL, p->progress_ctx = NULL;
    if (prog.open) fputc('\n', stderr);
    *notes = s.n_notes;
    cdz_score_free(&s);
    if (st != CDZ_OK) {
        if (starts_with(err.msg, p->soundfont) || starts_with(err.msg, wav)) app_error("%s", err.msg);
        else app_error("%s: %s", mid, err.msg);
        return EXIT_FAIL;
    }
    return *notes == 0 ? -1 : EXIT_OK;
}

int app_render_wav(const char *mid, const char *wav, const cdz_render_params *p) {
    cdz_render_params q = *p;
    cdz_render_report r;
    size_t notes;
    return render_file(mid, wav, &q, &r, &notes);
}

void app_wav_name(const char *mid, char *buf, size_t n) {
    size_t len = strlen(mid);
    const char *dot = strrchr(mid, '.'), *slash = strrchr(mid, '/');
    if (dot && (!slash || dot > slash)) len = (size_t)(dot - mid);
    snprintf(buf, n, "%.*s.wav", (int)len, mid);
}

int app_wav_beside(const char *mid) {
    char wav[4096], level[96];
    app_wav_name(mid, wav, sizeof wav);
    cdz_render_params p = cdz_render_default_params();
    cdz_render_report r;
    size_t notes;
    int rc = render_file(mid, wav, &p, &r, &notes);
    if (rc == EXIT_FAIL) return rc;
    if (rc < 0) snprintf(level, sizeof level, " (silent: no notes)");
    else if (isfinite(r.peak_dbfs)) snprintf(level, sizeof level, " (normalised %+.1f dB)", r.gain_db);
    else level[0] = 0;
    printf("wrote %s%s\n", wav, level);
    return EXIT_OK;
}

/* At a fixed gain, what clipped: how many samples, how far beyond full scale the synthesizer went, and
 * the gain that would have kept its peak at -1 dBFS (FluidSynth's gain scales its output linearly). */
static void warn_clipped(const char *out, const cdz_render_report *r, double gain) {
    double fits = gain * pow(10, (-1 - r->source_peak_dbfs) / 20);
    fprintf(stderr, "cadenza: warning: %zu samples of %s clipped at --gain %g (the synthesizer peaked at %+.1f dBFS): "
            "lower --gain to about %.2g, or leave it out to normalise\n", r->clipped, out, gain, r->source_peak_dbfs, fits);
}

int cmd_render(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    cdz_render_params p = cdz_render_default_params();
    long long rate = p.sample_rate;
    int force = 0;
    app_opt opts[] = {
        APP_ARG("IN.mid", &in, "the MIDI file to render"),
        APP_OPT_STRING("--out", &out, "FILE.wav", "the WAV file to write (16-bit PCM, stereo; required)"),
        APP_OPT_STRING("--soundfont", &p.soundfont, "FILE", "a General MIDI SoundFont (.sf2/.sf3); default: $CADENZA_SOUNDFONT,\n"
                                                            "else the first of Debian's fluid-soundfont-gm,\n"
                                                            "musescore-general-soundfont, timgm6mb"),
        APP_OPT_LONG("--sample-rate", &rate, 8000, 96000, "N", "8000 to 96000 Hz (default 44100)"),
        APP_OPT_DOUBLE("--gain", &p.gain, 0, 10, "X", "FluidSynth's master gain, kept as it is: no normalisation\n"
                                                     "(default: gain 0.5, then normalised to -1 dBFS)"),
        APP_OPT_DOUBLE("--reverb", &p.reverb, 0, 1, "X", "reverb level 0 to 1, 0 for none (default 0.3)"),
        APP_OPT_DOUBLE("--tail", &p.max_tail_s, 0, 60, "S", "after the last note ends, at most S seconds of ringing out\n"
                                                           "(default 5)"),
        APP_OPT_FORCE(&force),
        APP_END};
    const app_cmd cmd = {"render", "IN.mid --out OUT.wav [options]", RENDER_ABOUT, opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!in || !out) return app_usage(&cmd, "an input MIDI file and --out FILE.wav are required");
    if (!*out) return app_usage(&cmd, "--out is empty: name the WAV file to write");
    if (!app_has_extension(out, ".wav"))
        return app_usage(&cmd, "--out %s: cadenza writes WAV files only; name the output FILE.wav (and convert it "
                         "afterwards if another format is wanted)", out);
    p.sample_rate = (uint32_t)rate;
    p.normalize = !app_opt_seen(opts, "--gain");
    if (!cdz_render_available()) {
        app_error("this cadenza was built without FluidSynth: install it (apt-get install libfluidsynth-dev "
                  "fluid-soundfont-gm, or 'make deps') and rebuild");
        return EXIT_FAIL;
    }
    /* every check that needs no rendering, before it: a render can take minutes */
    if (!app_output_ok(out, force) || !app_folder_writable(out)) return EXIT_FAIL;
    double t0 = app_now();
    cdz_render_report r;
    size_t notes = 0;
    rc = render_file(in, out, &p, &r, &notes);
    if (rc == EXIT_FAIL) return rc;
    char level[96];
    describe_level(&r, p.normalize, level, sizeof level);
    printf("wrote %s (%.1f s, %u Hz stereo, peak %.1f dBFS%s, %zu notes, rendered in %.1f s)\n", out,
           (double)r.frames / p.sample_rate, p.sample_rate, r.peak_dbfs, level, notes, app_now() - t0);
    if (r.clipped) warn_clipped(out, &r, p.gain);
    if (!isfinite(r.peak_dbfs))
        fprintf(stderr, "cadenza: warning: %s is silent: %s\n", out,
                notes ? "the SoundFont played none of the notes (does it hold General MIDI instruments?)"
                      : "the MIDI file holds no notes");
    return EXIT_OK;
}

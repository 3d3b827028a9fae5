/* cadenza render: a MIDI file to a 16-bit PCM WAV through FluidSynth and a General MIDI SoundFont;
 * also app_render_wav, which generate and accompany use for --wav. */
#include <math.h>
#include <string.h>

#include "app.h"

static const char RENDER_USAGE[] =
    "usage: cadenza render IN.mid --out OUT.wav [options]\n"
    "\n"
    "  --out FILE.wav        the WAV file to write (16-bit PCM, stereo)\n"
    "  --soundfont FILE      a General MIDI SoundFont (.sf2/.sf3); default: $CADENZA_SOUNDFONT, else the\n"
    "                        first of Debian's fluid-soundfont-gm, musescore-general-soundfont, timgm6mb\n"
    "  --sample-rate N       8000 to 96000 Hz (default 44100)\n"
    "  --gain X              FluidSynth's master gain, 0 to 10 (default 0.5)\n"
    "  --reverb X            reverb level 0 to 1, 0 for none (default 0.3)\n"
    "  --tail S              after the last note ends, at most S seconds of ringing out (default 5)\n"
    "\n"
    "Drums (MIDI channel 10) sound as GM percussion; tempo changes are followed; each track and program\n"
    "gets a synthesizer channel of its own.\n";

int app_render_wav(const char *mid, const char *wav, const cdz_render_params *p) {
    cdz_error err = {0};
    cdz_score s;
    if (cdz_score_read_file(&s, mid, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    cdz_audio a;
    cdz_status st = cdz_render_score(&s, p, &a, &err);
    size_t notes = s.n_notes;
    cdz_score_free(&s);
    if (st == CDZ_OK) {
        st = cdz_wav_write(wav, &a, &err);
        cdz_audio_free(&a);
    }
    if (st != CDZ_OK) {
        app_error("%s: %s", mid, err.msg);
        return EXIT_FAIL;
    }
    return notes == 0 ? -1 : EXIT_OK;
}

int app_wav_beside(const char *mid) {
    char wav[4096];
    size_t n = strlen(mid);
    const char *dot = strrchr(mid, '.'), *slash = strrchr(mid, '/');
    if (dot && (!slash || dot > slash)) n = (size_t)(dot - mid);
    snprintf(wav, sizeof wav, "%.*s.wav", (int)n, mid);
    cdz_render_params p = cdz_render_default_params();
    int rc = app_render_wav(mid, wav, &p);
    if (rc == EXIT_FAIL) return rc;
    printf("wrote %s%s\n", wav, rc < 0 ? " (silent: no notes)" : "");
    return EXIT_OK;
}

int cmd_render(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    cdz_render_params p = cdz_render_default_params();
    long long ll;
    double d;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (app_is_help(a)) {
            fputs(RENDER_USAGE, stdout);
            return EXIT_OK;
        }
        if (a[0] != '-') {
            if (in) return app_usage_error(RENDER_USAGE, "one input file only ('%s' and '%s')", in, a);
            in = a;
            continue;
        }
        static const char *const KNOWN[] = {"--out", "--soundfont", "--sample-rate", "--gain", "--reverb", "--tail"};
        int known = 0;
        for (size_t k = 0; k < sizeof KNOWN / sizeof *KNOWN; k++) known |= strcmp(a, KNOWN[k]) == 0;
        if (!known) return app_usage_error(RENDER_USAGE, "unknown option '%s'", a);
        if (!v) return app_usage_error(RENDER_USAGE, "%s needs a value", a);
        i++;
        if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--soundfont") == 0) p.soundfont = v;
        else if (strcmp(a, "--sample-rate") == 0 && app_parse_long(v, 8000, 96000, &ll)) p.sample_rate = (uint32_t)ll;
        else if (strcmp(a, "--gain") == 0 && app_parse_double(v, 0, 10, &d)) p.gain = d;
        else if (strcmp(a, "--reverb") == 0 && app_parse_double(v, 0, 1, &d)) p.reverb = d;
        else if (strcmp(a, "--tail") == 0 && app_parse_double(v, 0, 60, &d)) p.max_tail_s = d;
        else return app_usage_error(RENDER_USAGE, "bad value '%s' for %s", v, a);
    }
    if (!in || !out) return app_usage_error(RENDER_USAGE, "an input MIDI file and --out FILE.wav are required");
    if (!cdz_render_available()) {
        app_error("this cadenza was built without FluidSynth: install it (apt-get install libfluidsynth-dev "
                  "fluid-soundfont-gm, or 'make deps') and rebuild");
        return EXIT_FAIL;
    }
    double t0 = app_now();
    cdz_error err = {0};
    cdz_score s;
    if (cdz_score_read_file(&s, in, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    cdz_audio a;
    cdz_status st = cdz_render_score(&s, &p, &a, &err);
    size_t notes = s.n_notes;
    cdz_score_free(&s);
    if (st == CDZ_OK) st = cdz_wav_write(out, &a, &err);
    if (st != CDZ_OK) {
        app_error("%s: %s", in, err.msg);
        cdz_audio_free(&a);
        return EXIT_FAIL;
    }
    int32_t peak = cdz_audio_peak(&a);
    double seconds = (double)a.frames / a.sample_rate;
    printf("wrote %s (%.1f s, %u Hz stereo, peak %.1f dBFS, %zu notes, rendered in %.1f s)\n", out, seconds, a.sample_rate,
           peak ? 20 * log10(peak / 32768.0) : -INFINITY, notes, app_now() - t0);
    cdz_audio_free(&a);
    if (peak == 0)
        fprintf(stderr, "cadenza: warning: %s is silent: %s\n", out,
                notes ? "the SoundFont played none of the notes (does it hold General MIDI instruments?)"
                      : "the MIDI file holds no notes");
    return EXIT_OK;
}

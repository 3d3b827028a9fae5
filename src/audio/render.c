/* Scores to audio through FluidSynth's synthesizer API (no audio driver, no MIDI player): the score's
 * notes and controllers become events at sample positions taken from their times in seconds (so the
 * tempo map is already applied), sorted, and the synthesizer renders the frames between them. Each
 * (track, channel, program) of pitched notes gets a synthesizer channel of its own, so files that put
 * every track on MIDI channel 1 (as generated files often do) still sound each instrument; drum notes
 * play on channel 10 (index 9), which FluidSynth treats as GM percussion. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cadenza/audio.h"

cdz_render_params cdz_render_default_params(void) {
    cdz_render_params p = {NULL, 44100, 0.5, 0.3, 5.0};
    return p;
}

/* Debian's packages, in the order the issue names them, then the alternatives link. */
static const char *const SOUNDFONTS[] = {
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",        /* fluid-soundfont-gm */
    "/usr/share/sounds/sf3/MuseScore_General.sf3", /* musescore-general-soundfont */
    "/usr/share/sounds/sf2/MuseScore_General.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2", /* timgm6mb-soundfont */
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/sounds/sf3/default-GM.sf3",
};

const char *cdz_render_find_soundfont(void) {
    const char *env = getenv("CADENZA_SOUNDFONT");
    if (env && *env && access(env, R_OK) == 0) return env;
    for (size_t i = 0; i < sizeof SOUNDFONTS / sizeof *SOUNDFONTS; i++)
        if (access(SOUNDFONTS[i], R_OK) == 0) return SOUNDFONTS[i];
    return NULL;
}

#ifndef CDZ_HAVE_FLUIDSYNTH

int cdz_render_available(void) { return 0; }

cdz_status cdz_render_score(const cdz_score *s, const cdz_render_params *p, cdz_audio *out, cdz_error *err) {
    (void)s, (void)p;
    memset(out, 0, sizeof *out);
    return cdz_error_set(err, CDZ_ERR_UNSUPPORTED,
                         "this cadenza was built without FluidSynth: install it (apt-get install libfluidsynth-dev "
                         "fluid-soundfont-gm, or 'make deps') and rebuild");
}

#else
#include <fluidsynth.h>

enum { DRUM_CHANNEL = 9, N_CHANNELS = 16, BLOCK = 1024 };
/* Events at one sample position: controllers and programs first, then note-offs, then note-ons, so
 * a note repeated at the moment the previous one ends sounds again. */
enum { EV_CONTROL, EV_BEND, EV_OFF, EV_ON };

typedef struct render_event {
    int64_t frame;
    uint8_t kind, channel, a, b; /* a, b: key and velocity, or controller and value */
    int16_t bend;                /* -8192 .. 8191 */
} render_event;

/* A synthesizer channel's owner: pitched notes of one (track, MIDI channel, program). */
typedef struct voice_key {
    uint16_t track;
    uint8_t channel, program;
} voice_key;

static int cmp_event(const void *x, const void *y) {
    const render_event *a = x, *b = y;
    if (a->frame != b->frame) return a->frame < b->frame ? -1 : 1;
    return (int)a->kind - (int)b->kind;
}

/* ---- FluidSynth's log: kept out of the terminal, its last error kept for our message ---- */
static char fluid_last_error[256];

static void catch_log(int level, const char *message, void *data) {
    (void)data;
    if (level <= FLUID_ERR) snprintf(fluid_last_error, sizeof fluid_last_error, "%s", message);
}

typedef struct saved_log {
    fluid_log_function_t fn[LAST_LOG_LEVEL];
    void *data[LAST_LOG_LEVEL];
} saved_log;

static void quiet_fluidsynth(saved_log *saved) {
    fluid_last_error[0] = 0;
    for (int l = 0; l < LAST_LOG_LEVEL; l++) {
        saved->data[l] = NULL;
        saved->fn[l] = fluid_set_log_function(l, catch_log, NULL);
    }
}

static void restore_fluidsynth(const saved_log *saved) {
    for (int l = 0; l < LAST_LOG_LEVEL; l++) fluid_set_log_function(l, saved->fn[l], saved->data[l]);
}

int cdz_render_available(void) { return 1; }

/* The synthesizer channel for a pitched note: the key's slot among those seen (up to 15 channels,
 * skipping the drum channel; beyond that, keys share channels). */
static int channel_for(voice_key *keys, int *n_keys, const cdz_note *n) {
    for (int i = 0; i < *n_keys; i++)
        if (keys[i].track == n->track && keys[i].channel == n->channel && keys[i].program == n->program)
            return i;
    if (*n_keys < N_CHANNELS - 1) {
        keys[*n_keys] = (voice_key){n->track, n->channel, n->program};
        return (*n_keys)++;
    }
    for (int i = 0; i < *n_keys; i++) /* all taken: share the first of the same program */
        if (keys[i].program == n->program) return i;
    return (int)(n->program % (N_CHANNELS - 1));
}

static int synth_channel(int slot) { return slot < DRUM_CHANNEL ? slot : slot + 1; }

static int64_t to_frame(double seconds, uint32_t rate) {
    double f = floor(seconds * rate + 0.5);
    return f < 0 ? 0 : (int64_t)f;
}

/* Every note-on/off, controller and bend of the score as events (controllers and bends go to each
 * synthesizer channel that plays notes of the same MIDI channel). */
static cdz_status collect_events(const cdz_score *s, uint32_t rate, render_event **out, size_t *n_out,
                                 voice_key *keys, int *n_keys, cdz_error *err) {
    size_t cap = 2 * s->n_notes + (s->n_controls + s->n_bends) * N_CHANNELS + 1, n = 0;
    render_event *ev = cdz_calloc(cap, sizeof *ev);
    if (!ev) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %zu notes", s->n_notes);
    uint8_t slot_of_channel[N_CHANNELS][N_CHANNELS] = {{0}}; /* [MIDI channel][slot]: plays its notes */
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *nt = &s->notes[i];
        int ch = DRUM_CHANNEL;
        if (!nt->is_drum) {
            int slot = channel_for(keys, n_keys, nt);
            slot_of_channel[nt->channel & 15][slot] = 1;
            ch = synth_channel(slot);
        }
        int64_t on = to_frame(nt->start_s, rate), off = to_frame(nt->end_s, rate);
        if (off <= on) off = on + 1;
        ev[n++] = (render_event){on, EV_ON, (uint8_t)ch, nt->pitch, nt->velocity, 0};
        ev[n++] = (render_event){off, EV_OFF, (uint8_t)ch, nt->pitch, 0, 0};
    }
    static const uint8_t KEPT[] = {1, 7, 10, 11, 64, 66, 67}; /* modulation, volume, pan, expression, pedals */
    for (size_t i = 0; i < s->n_controls; i++) {
        const cdz_control *c = &s->controls[i];
        if (!memchr(KEPT, c->number, sizeof KEPT)) continue;
        for (int slot = 0; slot < N_CHANNELS - 1; slot++)
            if (slot_of_channel[c->channel & 15][slot])
                ev[n++] = (render_event){to_frame(c->time_s, rate), EV_CONTROL, (uint8_t)synth_channel(slot), c->number,
                                         c->value, 0};
    }
    for (size_t i = 0; i < s->n_bends; i++) {
        const cdz_pitch_bend *b = &s->bends[i];
        for (int slot = 0; slot < N_CHANNELS - 1; slot++)
            if (slot_of_channel[b->channel & 15][slot])
                ev[n++] = (render_event){to_frame(b->time_s, rate), EV_BEND, (uint8_t)synth_channel(slot), 0, 0, b->value};
    }
    qsort(ev, n, sizeof *ev, cmp_event);
    *out = ev, *n_out = n;
    return CDZ_OK;
}

static void apply_event(fluid_synth_t *synth, const render_event *e) {
    switch (e->kind) {
    case EV_ON: fluid_synth_noteon(synth, e->channel, e->a, e->b); break;
    case EV_OFF: fluid_synth_noteoff(synth, e->channel, e->a); break;
    case EV_CONTROL: fluid_synth_cc(synth, e->channel, e->a, e->b); break;
    default: fluid_synth_pitch_bend(synth, e->channel, e->bend + 8192); break;
    }
}

/* Renders n frames into out->samples from frame out->frames on; returns the block's peak (0 .. 1). */
static float render_frames(fluid_synth_t *synth, cdz_audio *out, size_t n, float *left, float *right) {
    float peak = 0;
    while (n > 0) {
        int k = n < BLOCK ? (int)n : BLOCK;
        fluid_synth_write_float(synth, k, left, 0, 1, right, 0, 1);
        int16_t *dst = out->samples + 2 * out->frames;
        for (int i = 0; i < k; i++) {
            float l = fabsf(left[i]) > fabsf(right[i]) ? fabsf(left[i]) : fabsf(right[i]);
            if (l > peak) peak = l;
            float v[2] = {left[i], right[i]};
            for (int c = 0; c < 2; c++) {
                float x = v[c] > 1.0f ? 1.0f : v[c] < -1.0f ? -1.0f : v[c];
                dst[2 * i + c] = (int16_t)lrintf(x * 32767.0f);
            }
        }
        out->frames += (size_t)k, n -= (size_t)k;
    }
    return peak;
}

static cdz_status check_params(const cdz_render_params *p, cdz_error *err) {
    if (p->sample_rate < 8000 || p->sample_rate > 96000)
        return cdz_error_set(err, CDZ_ERR_ARG, "sample rate %u Hz: FluidSynth renders 8000 to 96000 Hz", p->sample_rate);
    if (!(p->gain >= 0 && p->gain <= 10)) return cdz_error_set(err, CDZ_ERR_ARG, "gain %g: 0 to 10", p->gain);
    if (!(p->reverb >= 0 && p->reverb <= 1)) return cdz_error_set(err, CDZ_ERR_ARG, "reverb %g: 0 to 1", p->reverb);
    if (!(p->max_tail_s >= 0 && p->max_tail_s <= 60)) return cdz_error_set(err, CDZ_ERR_ARG, "tail %g s: 0 to 60", p->max_tail_s);
    return CDZ_OK;
}

/* A SoundFont starts "RIFF", size, "sfbk": checked here so that other files get our message rather
 * than FluidSynth's loaders' (libinstpatch prints to the terminal on some). */
static cdz_status check_soundfont(const char *sf, cdz_error *err) {
    uint8_t head[12] = {0};
    FILE *f = fopen(sf, "rb");
    if (!f) return cdz_error_set(err, CDZ_ERR_IO, "%s: cannot read this SoundFont", sf);
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (n < sizeof head || memcmp(head, "RIFF", 4) != 0 || memcmp(head + 8, "sfbk", 4) != 0)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: not a SoundFont (.sf2/.sf3 files start with RIFF....sfbk)", sf);
    return CDZ_OK;
}

static cdz_status new_synth(fluid_synth_t **out, fluid_settings_t *settings, const cdz_render_params *p, const char *sf,
                            cdz_error *err) {
    *out = NULL;
    fluid_settings_setnum(settings, "synth.sample-rate", (double)p->sample_rate);
    fluid_settings_setnum(settings, "synth.gain", p->gain);
    fluid_settings_setint(settings, "synth.reverb.active", p->reverb > 0);
    fluid_settings_setint(settings, "synth.threadsafe-api", 0);
    /* load only the samples of the presets a piece uses: FluidR3_GM is 140 MB */
    fluid_settings_setint(settings, "synth.dynamic-sample-loading", 1);
    fluid_synth_t *synth = new_fluid_synth(settings);
    if (!synth) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "FluidSynth could not start: %s", fluid_last_error);
    if (p->reverb > 0) fluid_synth_set_reverb_group_level(synth, -1, p->reverb);
    if (fluid_synth_sfload(synth, sf, 1) == FLUID_FAILED) {
        delete_fluid_synth(synth);
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: FluidSynth could not load this SoundFont%s%s", sf,
                             fluid_last_error[0] ? ": " : "", fluid_last_error);
    }
    *out = synth;
    return CDZ_OK;
}

cdz_status cdz_render_score(const cdz_score *s, const cdz_render_params *p, cdz_audio *out, cdz_error *err) {
    memset(out, 0, sizeof *out);
    cdz_status st = check_params(p, err);
    if (st != CDZ_OK) return st;
    const char *sf = p->soundfont ? p->soundfont : cdz_render_find_soundfont();
    if (!sf)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED,
                             "no General MIDI SoundFont found: install one (apt-get install fluid-soundfont-gm, or "
                             "'make deps') or name one with --soundfont FILE.sf2");
    st = check_soundfont(sf, err);
    if (st != CDZ_OK) return st;
    voice_key keys[N_CHANNELS];
    int n_keys = 0;
    render_event *ev = NULL;
    size_t n_ev = 0;
    st = collect_events(s, p->sample_rate, &ev, &n_ev, keys, &n_keys, err);
    if (st != CDZ_OK) return st;
    int64_t last = n_ev ? ev[n_ev - 1].frame : 0, tail = to_frame(p->max_tail_s, p->sample_rate);
    size_t cap = (size_t)(last + tail) + BLOCK;
    saved_log saved;
    quiet_fluidsynth(&saved);
    fluid_settings_t *settings = new_fluid_settings();
    fluid_synth_t *synth = NULL;
    float *lr = cdz_calloc(2 * BLOCK, sizeof *lr);
    out->samples = cdz_calloc(2 * cap, sizeof *out->samples);
    out->channels = 2, out->sample_rate = p->sample_rate;
    if (!settings || !lr || !out->samples) {
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %.1f s of audio", (double)cap / p->sample_rate);
        goto done;
    }
    st = new_synth(&synth, settings, p, sf, err);
    if (st != CDZ_OK) goto done;
    for (int i = 0; i < n_keys; i++) fluid_synth_program_change(synth, synth_channel(i), keys[i].program);
    for (size_t i = 0; i < n_ev; i++) {
        if (ev[i].frame > (int64_t)out->frames) render_frames(synth, out, (size_t)ev[i].frame - out->frames, lr, lr + BLOCK);
        apply_event(synth, &ev[i]);
    }
    /* the tail: until a block is silent (below 16-bit resolution) or the cap */
    while (out->frames + BLOCK <= (size_t)(last + tail) && render_frames(synth, out, BLOCK, lr, lr + BLOCK) >= 1.0f / 32768)
        ;
done:
    restore_fluidsynth(&saved);
    if (synth) delete_fluid_synth(synth);
    if (settings) delete_fluid_settings(settings);
    cdz_free(lr), cdz_free(ev);
    if (st != CDZ_OK) cdz_audio_free(out);
    return st;
}
#endif

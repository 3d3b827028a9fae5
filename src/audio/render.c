/* Scores to audio through FluidSynth's synthesizer API (no audio driver, no MIDI player): the score's
 * notes and controllers become events at sample positions taken from their times in seconds (so the
 * tempo map is already applied), sorted, and the synthesizer renders the frames between them. Each
 * (track, channel, program) of pitched notes gets a synthesizer channel of its own, so files that put
 * every track on MIDI channel 1 (as generated files often do) still sound each instrument; drum notes
 * play on channel 10 (index 9), which FluidSynth treats as GM percussion. The synthesizer renders
 * blocks of 1,024 frames into a sink: a buffer in memory, or the spool (spool.c) that streams them to
 * the WAV file's temporary, so a render to disk holds a few blocks whatever its length. Before any of
 * that, the SoundFont is found and checked here, FluidSynth or not. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audio_internal.h"

cdz_render_params cdz_render_default_params(void) {
    cdz_render_params p = {NULL, 44100, 0.5, 1, -1.0, 0.3, 5.0, NULL, NULL};
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

/* $CADENZA_SOUNDFONT, or NULL when it is unset or empty. */
static const char *soundfont_env(void) {
    const char *env = getenv("CADENZA_SOUNDFONT");
    return env && *env ? env : NULL;
}

const char *cdz_render_find_soundfont(void) {
    const char *env = soundfont_env();
    if (env) return access(env, R_OK) == 0 ? env : NULL; /* who set it wants that file, not another */
    for (size_t i = 0; i < sizeof SOUNDFONTS / sizeof *SOUNDFONTS; i++)
        if (access(SOUNDFONTS[i], R_OK) == 0) return SOUNDFONTS[i];
    return NULL;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

/* Walks the top-level chunks of a SoundFont (RIFF "sfbk": LIST INFO, LIST sdta with the samples, LIST
 * pdta with the presets, in that order) with each length checked against the file's, so that a
 * truncated file gets a message of ours: FluidSynth's loaders print to the terminal on those
 * (libinstpatch's GLib assertions). Damage inside the chunks is left to FluidSynth. */
static cdz_status walk_soundfont(FILE *f, const char *sf, uint64_t size, cdz_error *err) {
    uint8_t h[12];
    if (size < 12 || fread(h, 1, 12, f) != 12 || memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "sfbk", 4) != 0)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: not a SoundFont (.sf2/.sf3 files start with RIFF....sfbk)", sf);
    uint64_t end = 8 + (uint64_t)le32(h + 4), off = 12;
    if (end > size) end = size; /* a RIFF size past the end is judged by the chunks it holds */
    int presets = 0;
    while (off + 12 <= end) {
        if (fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(h, 1, 12, f) != 12) break;
        uint64_t next = off + 8 + le32(h + 4) + (le32(h + 4) & 1); /* chunks are padded to an even size */
        int list = memcmp(h, "LIST", 4) == 0;
        if (next > size)
            return cdz_error_set(err, CDZ_ERR_FORMAT,
                                 "%s: truncated or damaged SoundFont: its %.4s chunk at byte %llu runs to byte %llu, "
                                 "past the file's end at byte %llu", sf, (const char *)h + (list ? 8 : 0),
                                 (unsigned long long)off, (unsigned long long)next, (unsigned long long)size);
        presets |= list && memcmp(h + 8, "pdta", 4) == 0;
        off = next;
    }
    if (!presets)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: truncated or damaged SoundFont: no presets (LIST pdta chunk) in its "
                             "%llu bytes", sf, (unsigned long long)size);
    return CDZ_OK;
}

static cdz_status check_soundfont(const char *sf, cdz_error *err) {
    FILE *f = fopen(sf, "rb");
    if (!f) return cdz_error_set(err, CDZ_ERR_IO, "%s: cannot read this SoundFont: %s", sf, strerror(errno));
    struct stat sb;
    cdz_status st;
    if (fstat(fileno(f), &sb) != 0) st = cdz_error_set(err, CDZ_ERR_IO, "%s: cannot stat: %s", sf, strerror(errno));
    else if (!S_ISREG(sb.st_mode)) st = cdz_error_set(err, CDZ_ERR_IO, "%s: not a SoundFont file", sf);
    else st = walk_soundfont(f, sf, (uint64_t)sb.st_size, err);
    fclose(f);
    return st;
}

cdz_status cdz_render_soundfont(const char *requested, const char **path, cdz_error *err) {
    *path = NULL;
    const char *env = soundfont_env(), *sf = requested;
    if (!sf && env && access(env, R_OK) != 0) /* refused rather than replaced: who set it expects that file */
        return cdz_error_set(err, CDZ_ERR_IO,
                             "$CADENZA_SOUNDFONT names %s, which %s: point it at a SoundFont, or unset it to use an "
                             "installed one", env, errno == ENOENT ? "does not exist" : strerror(errno));
    if (!sf) sf = cdz_render_find_soundfont();
    if (!sf)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED,
                             "no General MIDI SoundFont found: install one (apt-get install fluid-soundfont-gm, or "
                             "'make deps') or name one with --soundfont FILE.sf2");
    cdz_status st = check_soundfont(sf, err);
    if (st == CDZ_OK) *path = sf;
    return st;
}

#ifndef CDZ_HAVE_FLUIDSYNTH

int cdz_render_available(void) { return 0; }

static cdz_status no_fluidsynth(cdz_error *err) {
    return cdz_error_set(err, CDZ_ERR_UNSUPPORTED,
                         "this cadenza was built without FluidSynth: install it (apt-get install libfluidsynth-dev "
                         "fluid-soundfont-gm, or 'make deps') and rebuild");
}

cdz_status cdz_render_score_report(const cdz_score *s, const cdz_render_params *p, cdz_audio *out,
                                   cdz_render_report *report, cdz_error *err) {
    (void)s, (void)p;
    memset(out, 0, sizeof *out);
    if (report) memset(report, 0, sizeof *report);
    return no_fluidsynth(err);
}

cdz_status cdz_render_score_wav(const cdz_score *s, const cdz_render_params *p, const char *path,
                                cdz_render_report *report, cdz_error *err) {
    (void)s, (void)p, (void)path;
    if (report) memset(report, 0, sizeof *report);
    return no_fluidsynth(err);
}

#else
#include <fluidsynth.h>

/* Synthesizer channels: up to 256 (FluidSynth's synth.midi-channels, in sixteens), index 9 the drums,
 * the others one per (track, MIDI channel, program) of pitched notes. */
enum { DRUM_CHANNEL = 9, MAX_CHANNELS = 256, MAX_KEYS = MAX_CHANNELS - 1, BLOCK = 1024 };
/* Events at one sample position: controllers and programs first, then note-offs, then note-ons, so
 * a note repeated at the moment the previous one ends sounds again; the sort is stable, so events of
 * a kind keep the file's order (pedal up then down at one tick, the parts of an RPN). */
enum { EV_CONTROL, EV_BEND, EV_OFF, EV_ON };

typedef struct render_event {
    int64_t frame;
    uint8_t kind, a, b; /* a, b: key and velocity, or controller and value */
    uint8_t pad;
    int16_t bend;       /* -8192 .. 8191 */
    uint16_t channel;   /* synthesizer channel */
} render_event;

#define EVENT_BEFORE(x, y) ((x)->frame < (y)->frame || ((x)->frame == (y)->frame && (x)->kind < (y)->kind))
CDZ_DEFINE_SORT(sort_events, render_event, EVENT_BEFORE)

/* A synthesizer channel's owner: pitched notes of one (track, MIDI channel, program). */
typedef struct voice_key {
    uint16_t track;
    uint8_t channel, program;
} voice_key;

typedef struct channel_map {
    voice_key keys[MAX_KEYS];
    int n_keys;
    uint8_t drum_channels[16]; /* MIDI channels that carry drum notes */
} channel_map;

/* ---- FluidSynth's log: kept out of the terminal, its first error kept for our message ----
 * FluidSynth has one log function for the whole process: a render installs its own, which writes into
 * the render's own record (no buffer of the library's is shared), and puts the previous one back. Two
 * renders on two threads would swap each other's, so renders take turns at FluidSynth (a render is
 * seconds of work; their synthesis is not what threads would share well anyway). The first error is
 * the cause; those after it are FluidSynth giving up ("Couldn't parse presets", "Failed to load").
 * FluidSynth's SoundFont loaders also report through GLib's log (libinstpatch's assertions, which GLib
 * prints to stderr): a render adds handlers of its own for those domains and removes them after, which
 * leaves any a program set as they were. Those messages are dropped: FluidSynth's own say it better. */
#ifdef CDZ_HAVE_GLIB
#include <glib.h>
static const char *const GLIB_DOMAINS[] = {NULL, "GLib", "GLib-GObject", "libInstPatch"}; /* NULL: no domain */
enum { N_GLIB_DOMAINS = sizeof GLIB_DOMAINS / sizeof *GLIB_DOMAINS };

static void drop_glib(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data) {
    (void)domain, (void)level, (void)message, (void)data;
}
#else
enum { N_GLIB_DOMAINS = 1 };
#endif

typedef struct saved_log {
    fluid_log_function_t fn[LAST_LOG_LEVEL];
    void *data[LAST_LOG_LEVEL];
    unsigned glib_handler[N_GLIB_DOMAINS];
    char first_error[256];
} saved_log;

static pthread_mutex_t fluid_turn = PTHREAD_MUTEX_INITIALIZER;

static void catch_log(int level, const char *message, void *data) {
    saved_log *log = data;
    if (level <= FLUID_ERR && !log->first_error[0]) snprintf(log->first_error, sizeof log->first_error, "%s", message);
}

static void quiet_fluidsynth(saved_log *saved) {
    pthread_mutex_lock(&fluid_turn);
    saved->first_error[0] = 0;
    for (int l = 0; l < LAST_LOG_LEVEL; l++) {
        saved->data[l] = NULL;
        saved->fn[l] = fluid_set_log_function(l, catch_log, saved);
    }
#ifdef CDZ_HAVE_GLIB
    for (int d = 0; d < N_GLIB_DOMAINS; d++)
        saved->glib_handler[d] = g_log_set_handler(GLIB_DOMAINS[d], G_LOG_LEVEL_MASK | G_LOG_FLAG_FATAL | G_LOG_FLAG_RECURSION,
                                                   drop_glib, NULL);
#endif
}

static void restore_fluidsynth(const saved_log *saved) {
#ifdef CDZ_HAVE_GLIB
    for (int d = 0; d < N_GLIB_DOMAINS; d++) g_log_remove_handler(GLIB_DOMAINS[d], saved->glib_handler[d]);
#endif
    for (int l = 0; l < LAST_LOG_LEVEL; l++) fluid_set_log_function(l, saved->fn[l], saved->data[l]);
    pthread_mutex_unlock(&fluid_turn);
}

int cdz_render_available(void) { return 1; }

/* The key slot of a pitched note: its own while there are free channels; beyond 255 keys, the first
 * key of the same program (else the first key) is shared. */
static int slot_for(channel_map *map, const cdz_note *n) {
    for (int i = 0; i < map->n_keys; i++) {
        const voice_key *k = &map->keys[i];
        if (k->track == n->track && k->channel == n->channel && k->program == n->program) return i;
    }
    if (map->n_keys < MAX_KEYS) {
        map->keys[map->n_keys] = (voice_key){n->track, n->channel, n->program};
        return map->n_keys++;
    }
    for (int i = 0; i < map->n_keys; i++)
        if (map->keys[i].program == n->program) return i;
    return 0;
}

static int synth_channel(int slot) { return slot < DRUM_CHANNEL ? slot : slot + 1; }

/* Frames from seconds; callers have checked the piece fits a WAV file (render_limit_s). */
static int64_t to_frame(double seconds, uint32_t rate) {
    double f = floor(seconds * rate + 0.5);
    return f < 0 ? 0 : (int64_t)f;
}

/* Calls emit(ctx, synthesizer channel) for each channel a controller or bend of (track, MIDI channel)
 * reaches: the keys of that track and channel, else (a channel's controllers kept on another track,
 * as format-1 files may) every key of that MIDI channel; and the drum channel when the MIDI channel
 * carries drums. Returns how many. */
static size_t route(const channel_map *map, uint16_t track, uint8_t channel, void (*emit)(void *, int), void *ctx) {
    size_t n = 0;
    for (int pass = 0; pass < 2 && n == 0; pass++)
        for (int i = 0; i < map->n_keys; i++)
            if (map->keys[i].channel == channel && (pass || map->keys[i].track == track)) {
                if (emit) emit(ctx, synth_channel(i));
                n++;
            }
    if (map->drum_channels[channel & 15]) {
        if (emit) emit(ctx, DRUM_CHANNEL);
        n++;
    }
    return n;
}

/* modulation, volume, pan, expression, the pedals, and the RPN controllers that set the bend range */
static const uint8_t KEPT_CONTROLLERS[] = {1, 6, 7, 10, 11, 38, 64, 66, 67, 100, 101};

typedef struct emitter {
    render_event *ev;
    size_t n;
    render_event proto;
} emitter;

static void emit_event(void *ctx, int channel) {
    emitter *e = ctx;
    e->ev[e->n] = e->proto;
    e->ev[e->n++].channel = (uint16_t)channel;
}

/* Every note-on/off, controller and bend of the score as events, sorted. */
static cdz_status collect_events(const cdz_score *s, uint32_t rate, channel_map *map, render_event **out, size_t *n_out,
                                 cdz_error *err) {
    *out = NULL, *n_out = 0;
    for (size_t i = 0; i < s->n_notes; i++) { /* the channels first, so that routing knows them */
        if (s->notes[i].is_drum) map->drum_channels[s->notes[i].channel & 15] = 1;
        else slot_for(map, &s->notes[i]);
    }
    size_t cap = 2 * s->n_notes; /* the score holds its notes, so this does not overflow */
    for (size_t i = 0; i < s->n_controls; i++)
        if (memchr(KEPT_CONTROLLERS, s->controls[i].number, sizeof KEPT_CONTROLLERS))
            cap += route(map, s->controls[i].track, s->controls[i].channel, NULL, NULL);
    for (size_t i = 0; i < s->n_bends; i++) cap += route(map, s->bends[i].track, s->bends[i].channel, NULL, NULL);
    emitter e = {cdz_calloc(cap + 1, sizeof(render_event)), 0, {0}};
    if (!e.ev) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %zu events", cap);
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *nt = &s->notes[i];
        int ch = nt->is_drum ? DRUM_CHANNEL : synth_channel(slot_for(map, nt));
        int64_t on = to_frame(nt->start_s, rate), off = to_frame(nt->end_s, rate);
        if (off <= on) off = on + 1;
        e.ev[e.n++] = (render_event){on, EV_ON, nt->pitch, nt->velocity, 0, 0, (uint16_t)ch};
        e.ev[e.n++] = (render_event){off, EV_OFF, nt->pitch, 0, 0, 0, (uint16_t)ch};
    }
    for (size_t i = 0; i < s->n_controls; i++) {
        const cdz_control *c = &s->controls[i];
        if (!memchr(KEPT_CONTROLLERS, c->number, sizeof KEPT_CONTROLLERS)) continue;
        e.proto = (render_event){to_frame(c->time_s, rate), EV_CONTROL, c->number, c->value, 0, 0, 0};
        route(map, c->track, c->channel, emit_event, &e);
    }
    for (size_t i = 0; i < s->n_bends; i++) {
        const cdz_pitch_bend *b = &s->bends[i];
        e.proto = (render_event){to_frame(b->time_s, rate), EV_BEND, 0, 0, 0, b->value, 0};
        route(map, b->track, b->channel, emit_event, &e);
    }
    if (sort_events(e.ev, e.n) != CDZ_OK) {
        cdz_free(e.ev);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory sorting %zu events", e.n);
    }
    *out = e.ev, *n_out = e.n;
    return CDZ_OK;
}

/* The longest piece a 16-bit stereo WAV holds (4 GB of samples: about 6.7 hours at 44.1 kHz), less
 * the tail; rendering refuses longer ones before allocating anything. */
static double render_limit_s(const cdz_render_params *p) {
    return ((double)(UINT32_MAX - 64) / 4.0 - (double)BLOCK) / p->sample_rate - p->max_tail_s;
}

/* When the score's last event happens, in seconds. */
static double score_end_s(const cdz_score *s) {
    double end = 0;
    for (size_t i = 0; i < s->n_notes; i++) end = fmax(end, s->notes[i].end_s);
    for (size_t i = 0; i < s->n_controls; i++) end = fmax(end, s->controls[i].time_s);
    for (size_t i = 0; i < s->n_bends; i++) end = fmax(end, s->bends[i].time_s);
    return end;
}

static void apply_event(fluid_synth_t *synth, const render_event *e) {
    switch (e->kind) {
    case EV_ON: fluid_synth_noteon(synth, e->channel, e->a, e->b); break; /* channels < 256: ints */
    case EV_OFF: fluid_synth_noteoff(synth, e->channel, e->a); break;
    case EV_CONTROL: fluid_synth_cc(synth, e->channel, e->a, e->b); break;
    default: fluid_synth_pitch_bend(synth, e->channel, e->bend + 8192); break;
    }
}

/* Where a render's frames go, (frames, 2) interleaved: a buffer in memory (cdz_render_score_report)
 * or the spool on disk (cdz_render_score_wav). */
typedef cdz_status (*frame_sink)(void *ctx, const float *x, size_t frames, cdz_error *err);

/* Everything one render holds, from its checks to its last block. */
typedef struct render_job {
    const cdz_render_params *p;
    const char *soundfont;
    channel_map *map;
    render_event *ev;
    size_t n_ev;
    size_t end;       /* the last event's frame plus the longest tail: no render goes past it */
    saved_log log;
    int quiet;        /* FluidSynth's log is caught (and its turn held) */
    fluid_settings_t *settings;
    fluid_synth_t *synth;
    float *lr;        /* (2, BLOCK): the synthesizer's left channel, then its right */
    float *x;         /* (BLOCK, 2): the same interleaved, for the sink */
    size_t frames;    /* rendered so far */
    size_t reported;  /* frames at the last progress call */
    float peak;       /* the largest absolute sample so far */
} render_job;

static cdz_status check_params(const cdz_render_params *p, cdz_error *err) {
    if (p->sample_rate < 8000 || p->sample_rate > 96000)
        return cdz_error_set(err, CDZ_ERR_ARG, "sample rate %u Hz: FluidSynth renders 8000 to 96000 Hz", p->sample_rate);
    if (!(p->gain >= 0 && p->gain <= 10)) return cdz_error_set(err, CDZ_ERR_ARG, "gain %g: 0 to 10", p->gain);
    if (!(p->reverb >= 0 && p->reverb <= 1)) return cdz_error_set(err, CDZ_ERR_ARG, "reverb %g: 0 to 1", p->reverb);
    if (!(p->max_tail_s >= 0 && p->max_tail_s <= 60)) return cdz_error_set(err, CDZ_ERR_ARG, "tail %g s: 0 to 60", p->max_tail_s);
    if (p->normalize && !(p->peak_dbfs >= -60 && p->peak_dbfs <= 0))
        return cdz_error_set(err, CDZ_ERR_ARG, "normalising to a peak of %g dBFS: -60 to 0", p->peak_dbfs);
    return CDZ_OK;
}

static cdz_status new_synth(fluid_synth_t **out, fluid_settings_t *settings, const cdz_render_params *p, const char *sf,
                            int channels, const saved_log *log, cdz_error *err) {
    *out = NULL;
    fluid_settings_setint(settings, "synth.midi-channels", channels);
    fluid_settings_setnum(settings, "synth.sample-rate", (double)p->sample_rate);
    fluid_settings_setnum(settings, "synth.gain", p->gain);
    fluid_settings_setint(settings, "synth.reverb.active", p->reverb > 0);
    fluid_settings_setint(settings, "synth.threadsafe-api", 0);
    /* load only the samples of the presets a piece uses: FluidR3_GM is 140 MB */
    fluid_settings_setint(settings, "synth.dynamic-sample-loading", 1);
    fluid_synth_t *synth = new_fluid_synth(settings);
    if (!synth) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "FluidSynth could not start: %s", log->first_error);
    if (p->reverb > 0) fluid_synth_set_reverb_group_level(synth, -1, p->reverb);
    if (fluid_synth_sfload(synth, sf, 1) == FLUID_FAILED) {
        delete_fluid_synth(synth);
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: FluidSynth could not load this SoundFont%s%s", sf,
                             log->first_error[0] ? ": " : "", log->first_error);
    }
    *out = synth;
    return CDZ_OK;
}

/* The checks that need no memory: the parameters, the SoundFont, the piece's length. */
static cdz_status job_prepare(render_job *j, const cdz_score *s, const cdz_render_params *p, cdz_error *err) {
    memset(j, 0, sizeof *j);
    j->p = p;
    cdz_status st = check_params(p, err);
    if (st == CDZ_OK) st = cdz_render_soundfont(p->soundfont, &j->soundfont, err);
    if (st != CDZ_OK) return st;
    double end_s = score_end_s(s);
    if (!(end_s <= render_limit_s(p)))
        return cdz_error_set(err, CDZ_ERR_RANGE, "the piece lasts %.0f s; a WAV file holds at most %.0f s at %u Hz",
                             end_s, render_limit_s(p), p->sample_rate);
    return CDZ_OK;
}

/* The events, FluidSynth's turn and log, and a synthesizer with every channel's program set. */
static cdz_status job_start(render_job *j, const cdz_score *s, cdz_error *err) {
    const cdz_render_params *p = j->p;
    j->map = cdz_calloc(1, sizeof *j->map);
    if (!j->map) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    cdz_status st = collect_events(s, p->sample_rate, j->map, &j->ev, &j->n_ev, err);
    if (st != CDZ_OK) return st;
    /* both fit in 2^32 frames (render_limit_s), so the sizes below cannot overflow */
    size_t last = j->n_ev ? (size_t)j->ev[j->n_ev - 1].frame : 0;
    j->end = last + (size_t)to_frame(p->max_tail_s, p->sample_rate);
    int channels = (j->map->n_keys + 1 + 15) / 16 * 16; /* the drum channel too, in sixteens */
    quiet_fluidsynth(&j->log);
    j->quiet = 1;
    j->settings = new_fluid_settings();
    j->lr = cdz_calloc(4 * BLOCK, sizeof *j->lr);
    if (!j->settings || !j->lr) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    j->x = j->lr + 2 * BLOCK;
    st = new_synth(&j->synth, j->settings, p, j->soundfont, channels, &j->log, err);
    if (st != CDZ_OK) return st;
    for (int c = 0; c < channels; c++) /* drums on channel 9 alone (FluidSynth would make every 16th one drums) */
        fluid_synth_set_channel_type(j->synth, c, c == DRUM_CHANNEL ? CHANNEL_TYPE_DRUM : CHANNEL_TYPE_MELODIC);
    for (int c = 0; c < channels; c++) fluid_synth_program_change(j->synth, c, 0);
    for (int i = 0; i < j->map->n_keys; i++) fluid_synth_program_change(j->synth, synth_channel(i), j->map->keys[i].program);
    return CDZ_OK;
}

static void job_end(render_job *j) {
    if (j->synth) delete_fluid_synth(j->synth);
    if (j->settings) delete_fluid_settings(j->settings);
    if (j->quiet) restore_fluidsynth(&j->log); /* after the deletes, whose complaints are ours to catch too */
    cdz_free(j->lr), cdz_free(j->ev), cdz_free(j->map);
    memset(j, 0, sizeof *j);
}

/* Progress about once a second of audio, and once at the end (done == total: the frames made, which
 * the tail falling silent early leaves below the bound reported before). */
static void report_progress(render_job *j, int last) {
    const cdz_render_params *p = j->p;
    if (!p->progress || (!last && j->frames - j->reported < p->sample_rate)) return;
    j->reported = j->frames;
    p->progress(p->progress_ctx, (int64_t)j->frames, (int64_t)(last ? j->frames : j->end));
}

/* Renders n frames, a block at a time, into the sink; *block_peak (may be NULL) gets the last block's
 * largest absolute sample. */
static cdz_status render_frames(render_job *j, size_t n, frame_sink sink, void *ctx, float *block_peak, cdz_error *err) {
    float *left = j->lr, *right = j->lr + BLOCK;
    while (n > 0) {
        int k = n < BLOCK ? (int)n : BLOCK;
        fluid_synth_write_float(j->synth, k, left, 0, 1, right, 0, 1);
        float peak = 0;
        for (int i = 0; i < k; i++) {
            float l = fabsf(left[i]) > fabsf(right[i]) ? fabsf(left[i]) : fabsf(right[i]);
            if (l > peak) peak = l;
            j->x[2 * i] = left[i], j->x[2 * i + 1] = right[i];
        }
        cdz_status st = sink(ctx, j->x, (size_t)k, err);
        if (st != CDZ_OK) return st;
        j->frames += (size_t)k, n -= (size_t)k;
        if (peak > j->peak) j->peak = peak;
        if (block_peak) *block_peak = peak;
        report_progress(j, 0);
    }
    return CDZ_OK;
}

/* After the last event: blocks until one falls below 16-bit resolution at the level the result will
 * have (normalising, the gain is at most target / peak so far), or the longest tail. Block by block,
 * so it needs none of what was rendered before. */
static cdz_status render_tail(render_job *j, frame_sink sink, void *ctx, cdz_error *err) {
    const cdz_render_params *p = j->p;
    float target = p->normalize ? (float)pow(10, p->peak_dbfs / 20) : 1.0f;
    while (j->frames < j->end) {
        float block = 0;
        cdz_status st = render_frames(j, j->end - j->frames < BLOCK ? j->end - j->frames : BLOCK, sink, ctx, &block, err);
        if (st != CDZ_OK) return st;
        float silent = p->normalize ? j->peak / target / 32768 : 1.0f / 32768;
        if (block < silent || block == 0) break;
    }
    return CDZ_OK;
}

/* Every event at its frame, the frames between them rendered into the sink, then the tail. */
static cdz_status job_run(render_job *j, frame_sink sink, void *ctx, cdz_error *err) {
    for (size_t i = 0; i < j->n_ev; i++) {
        if ((size_t)j->ev[i].frame > j->frames) {
            cdz_status st = render_frames(j, (size_t)j->ev[i].frame - j->frames, sink, ctx, NULL, err);
            if (st != CDZ_OK) return st;
        }
        apply_event(j->synth, &j->ev[i]);
    }
    cdz_status st = render_tail(j, sink, ctx, err);
    if (st == CDZ_OK) report_progress(j, 1);
    return st;
}

/* The sink of a render in memory: a buffer sized for the longest render (job->end + 1 frames). */
typedef struct float_audio {
    float *x; /* (frames, 2) interleaved */
    size_t frames;
} float_audio;

static cdz_status keep_frames(void *ctx, const float *x, size_t frames, cdz_error *err) {
    (void)err;
    float_audio *a = ctx;
    memcpy(a->x + 2 * a->frames, x, 2 * frames * sizeof *x);
    a->frames += frames;
    return CDZ_OK;
}

static cdz_status spool_frames(void *ctx, const float *x, size_t frames, cdz_error *err) {
    return spool_append(ctx, x, frames, err);
}

cdz_status cdz_render_score_report(const cdz_score *s, const cdz_render_params *p, cdz_audio *out,
                                   cdz_render_report *report, cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (report) memset(report, 0, sizeof *report);
    render_job j;
    cdz_status st = job_prepare(&j, s, p, err);
    if (st != CDZ_OK) return st;
    float_audio fa = {NULL, 0};
    st = job_start(&j, s, err);
    if (st == CDZ_OK && !(fa.x = cdz_calloc(2 * (j.end + 1), sizeof(float))))
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %.1f s of audio", (double)j.end / p->sample_rate);
    if (st == CDZ_OK) st = job_run(&j, keep_frames, &fa, err);
    job_end(&j);
    if (st == CDZ_OK) st = cdz_audio_from_float(out, fa.x, fa.frames, 2, p->sample_rate, p->normalize, p->peak_dbfs, report, err);
    cdz_free(fa.x);
    return st;
}

cdz_status cdz_render_score_wav(const cdz_score *s, const cdz_render_params *p, const char *path,
                                cdz_render_report *report, cdz_error *err) {
    if (report) memset(report, 0, sizeof *report);
    render_job j;
    cdz_status st = job_prepare(&j, s, p, err);
    if (st != CDZ_OK) return st;
    audio_spool spool;
    st = spool_open(&spool, path, 2, p->sample_rate, err); /* before rendering: an unwritable path fails at once */
    if (st != CDZ_OK) return st;
    st = job_start(&j, s, err);
    if (st == CDZ_OK) st = job_run(&j, spool_frames, &spool, err);
    job_end(&j);
    if (st != CDZ_OK) {
        spool_abort(&spool);
        return st;
    }
    return spool_finish(&spool, p->normalize, p->peak_dbfs, report, err);
}
#endif

cdz_status cdz_render_score(const cdz_score *s, const cdz_render_params *p, cdz_audio *out, cdz_error *err) {
    return cdz_render_score_report(s, p, out, NULL, err);
}

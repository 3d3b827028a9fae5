/* cadenza midi info|notes: what is in a MIDI file, for people (text) and programs (--json). */
#include <string.h>

#include "app.h"

static const char MIDI_OVERVIEW[] =
    "What is in MIDI files, for people (text) and programs (--json).\n"
    "\n"
    "MIDI channels: text shows them as musicians and synthesizers number them, 1 to 16 (drums on 10);\n"
    "JSON (\"channel\") gives the number in the file's status byte, 0 to 15 (drums on 9).\n";

static const char CHANNELS_NOTE[] =
    "MIDI channels: the text numbers them 1 to 16 (drums on 10); the JSON's \"channel\" is the number\n"
    "in the file's status byte, 0 to 15 (drums on 9), one less. Tracks count from 0 in both.\n";

/* The list items to show in text mode before "... and N more". */
#define SHOW 8

typedef struct loaded {
    cdz_midi midi;
    cdz_score score;
} loaded;

/* Reads and converts one file; prints one clear line and returns EXIT_FAIL on error. */
static int load(loaded *l, const char *path) {
    cdz_error err = {0};
    memset(l, 0, sizeof *l);
    if (cdz_midi_read_file(&l->midi, path, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (cdz_score_from_midi(&l->score, &l->midi, &err) != CDZ_OK) {
        app_error("%s: %s", path, err.msg);
        cdz_midi_free(&l->midi);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

static void unload(loaded *l) {
    cdz_score_free(&l->score);
    cdz_midi_free(&l->midi);
}

static void print_division(const cdz_midi *m, FILE *f) {
    if (m->ppq)
        fprintf(f, "%d ticks per quarter note", (int)m->ppq);
    else
        fprintf(f, "SMPTE %d fps, %d ticks per frame", (int)m->smpte_fps, (int)m->ticks_per_frame);
}

static void info_text(const loaded *l, const char *path) {
    const cdz_midi *m = &l->midi;
    const cdz_score *s = &l->score;
    printf("%s\n  format %u, ", path, m->format);
    print_division(m, stdout);
    printf(", %zu track%s\n", m->n_tracks, m->n_tracks == 1 ? "" : "s");
    printf("  duration %.3f s (%lld ticks), %zu notes\n", s->duration_s, (long long)s->end_tick, s->n_notes);
    printf("  tempos:");
    if (!s->n_tempos) printf(" none (120 qpm)");
    for (size_t i = 0; i < s->n_tempos && i < SHOW; i++)
        printf("%s %.2f qpm at %.3f s", i ? "," : "", s->tempos[i].qpm, s->tempos[i].time_s);
    if (s->n_tempos > SHOW) printf(", ... and %zu more", s->n_tempos - SHOW);
    printf("\n  time signatures:");
    if (!s->n_time_sigs) printf(" none");
    for (size_t i = 0; i < s->n_time_sigs && i < SHOW; i++)
        printf("%s %u/%u at %.3f s", i ? "," : "", s->time_sigs[i].numerator, s->time_sigs[i].denominator, s->time_sigs[i].time_s);
    if (s->n_time_sigs > SHOW) printf(", ... and %zu more", s->n_time_sigs - SHOW);
    printf("\n  key signatures:");
    if (!s->n_key_sigs) printf(" none");
    for (size_t i = 0; i < s->n_key_sigs && i < SHOW; i++) {
        char key[32];
        app_key_name(s->key_sigs[i].sharps, s->key_sigs[i].minor, key, sizeof key);
        printf("%s %s at %.3f s", i ? "," : "", key, s->key_sigs[i].time_s);
    }
    if (s->n_key_sigs > SHOW) printf(", ... and %zu more", s->n_key_sigs - SHOW);
    printf("\n  instruments:");
    cdz_instrument *inst = NULL;
    size_t n_inst = 0;
    cdz_error err;
    if (cdz_score_instruments(s, &inst, &n_inst, &err) != CDZ_OK) printf(" (%s)", err.msg);
    if (!n_inst) printf(" none");
    printf("\n");
    for (size_t i = 0; i < n_inst; i++) {
        const cdz_instrument *in = &inst[i];
        const char *name = in->track < s->n_tracks ? s->tracks[in->track].name : "";
        printf("    track %u", in->track);
        if (name[0]) printf(" \"%s\"", name);
        printf(", channel %d, %s", in->channel + 1, cdz_gm_program_name(in->program, in->is_drum));
        if (!in->is_drum) printf(" (program %u)", in->program);
        printf(": %zu notes\n", in->n_notes);
    }
    cdz_free(inst);
    char buf[160];
    size_t n_score_warn = 0;
    while (cdz_score_warning(s, n_score_warn, buf, sizeof buf)) n_score_warn++;
    size_t total = m->n_warnings + n_score_warn;
    printf("  warnings: %s\n", total ? "" : "none");
    for (uint32_t i = 0; i < m->n_warnings && i < CDZ_MIDI_MAX_WARNINGS; i++) printf("    %s\n", m->warnings[i]);
    if (m->n_warnings > CDZ_MIDI_MAX_WARNINGS) printf("    ... and %u more\n", m->n_warnings - CDZ_MIDI_MAX_WARNINGS);
    for (size_t i = 0; i < n_score_warn; i++) {
        cdz_score_warning(s, i, buf, sizeof buf);
        printf("    %s\n", buf);
    }
}

static void info_json(const loaded *l, const char *path) {
    const cdz_midi *m = &l->midi;
    const cdz_score *s = &l->score;
    FILE *f = stdout;
    fputs("{\"file\":", f);
    json_string(f, path);
    fprintf(f, ",\"format\":%u,\"ppq\":%d,\"smpte_fps\":%d,\"ticks_per_frame\":%d,\"tracks\":%zu,\"tracks_declared\":%u",
            m->format, (int)m->ppq, (int)m->smpte_fps, (int)m->ticks_per_frame, m->n_tracks, m->n_tracks_header);
    fputs(",\"duration_s\":", f);
    json_number(f, s->duration_s);
    fprintf(f, ",\"end_tick\":%lld,\"notes\":%zu,\"tempos\":[", (long long)s->end_tick, s->n_notes);
    for (size_t i = 0; i < s->n_tempos; i++) {
        fprintf(f, "%s{\"tick\":%lld,\"time_s\":", i ? "," : "", (long long)s->tempos[i].tick);
        json_number(f, s->tempos[i].time_s);
        fputs(",\"qpm\":", f);
        json_number(f, s->tempos[i].qpm);
        fputc('}', f);
    }
    fputs("],\"time_signatures\":[", f);
    for (size_t i = 0; i < s->n_time_sigs; i++) {
        fprintf(f, "%s{\"tick\":%lld,\"time_s\":", i ? "," : "", (long long)s->time_sigs[i].tick);
        json_number(f, s->time_sigs[i].time_s);
        fprintf(f, ",\"numerator\":%u,\"denominator\":%u}", s->time_sigs[i].numerator, s->time_sigs[i].denominator);
    }
    fputs("],\"key_signatures\":[", f);
    for (size_t i = 0; i < s->n_key_sigs; i++) {
        char key[32];
        app_key_name(s->key_sigs[i].sharps, s->key_sigs[i].minor, key, sizeof key);
        fprintf(f, "%s{\"tick\":%lld,\"time_s\":", i ? "," : "", (long long)s->key_sigs[i].tick);
        json_number(f, s->key_sigs[i].time_s);
        fprintf(f, ",\"sharps\":%d,\"minor\":%s,\"name\":", s->key_sigs[i].sharps, s->key_sigs[i].minor ? "true" : "false");
        json_string(f, key);
        fputc('}', f);
    }
    fputs("],\"instruments\":[", f);
    cdz_instrument *inst = NULL;
    size_t n_inst = 0;
    cdz_score_instruments(s, &inst, &n_inst, NULL);
    for (size_t i = 0; i < n_inst; i++) {
        const cdz_instrument *in = &inst[i];
        fprintf(f, "%s{\"track\":%u,\"track_name\":", i ? "," : "", in->track);
        json_string(f, in->track < s->n_tracks ? s->tracks[in->track].name : "");
        fprintf(f, ",\"channel\":%u,\"program\":%u,\"program_name\":", in->channel, in->program);
        json_string(f, cdz_gm_program_name(in->program, in->is_drum));
        fprintf(f, ",\"is_drum\":%s,\"notes\":%zu}", in->is_drum ? "true" : "false", in->n_notes);
    }
    cdz_free(inst);
    fputs("],\"warnings\":[", f);
    int first = 1;
    for (uint32_t i = 0; i < m->n_warnings && i < CDZ_MIDI_MAX_WARNINGS; i++, first = 0) {
        if (!first) fputc(',', f);
        json_string(f, m->warnings[i]);
    }
    char buf[160];
    for (size_t i = 0; cdz_score_warning(s, i, buf, sizeof buf); i++, first = 0) {
        if (!first) fputc(',', f);
        json_string(f, buf);
    }
    fprintf(f, "],\"midi_warnings_total\":%u}\n", m->n_warnings);
}

static void notes_text(const loaded *l) {
    const cdz_score *s = &l->score;
    printf("%5s %3s %4s %5s %4s %12s %12s %10s %10s\n", "track", "ch", "prog", "pitch", "vel", "start_s", "end_s",
           "start_tick", "end_tick");
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *n = &s->notes[i];
        printf("%5u %3d %4u %5u %4u %12.6f %12.6f %10lld %10lld\n", n->track, n->channel + 1, n->program, n->pitch,
               n->velocity, n->start_s, n->end_s, (long long)n->start_tick, (long long)n->end_tick);
    }
}

static void notes_json(const loaded *l, const char *path) {
    const cdz_score *s = &l->score;
    FILE *f = stdout;
    fputs("{\"file\":", f);
    json_string(f, path);
    fprintf(f, ",\"ppq\":%d,\"notes\":[", (int)s->ppq);
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *n = &s->notes[i];
        fprintf(f, "%s\n{\"track\":%u,\"channel\":%u,\"program\":%u,\"is_drum\":%s,\"pitch\":%u,\"velocity\":%u,\"start_s\":",
                i ? "," : "", n->track, n->channel, n->program, n->is_drum ? "true" : "false", n->pitch, n->velocity);
        json_number(f, n->start_s);
        fputs(",\"end_s\":", f);
        json_number(f, n->end_s);
        fprintf(f, ",\"start_tick\":%lld,\"end_tick\":%lld}", (long long)n->start_tick, (long long)n->end_tick);
    }
    fputs("]}\n", f);
}

/* midi info|notes: the files, then each printed; a file that cannot be read is one line and exit
 * status 1, the others still printed. */
static int run_midi(int info, int argc, char **argv) {
    int json = 0;
    app_list files = {0};
    const char *file = NULL;
    app_opt info_opts[] = {APP_ARGS("FILE", &files, "MIDI files"),
                           APP_OPT_SWITCH("--json", &json, "one JSON object per file and line"), APP_END};
    app_opt notes_opts[] = {APP_ARG("FILE", &file, "a MIDI file"),
                            APP_OPT_SWITCH("--json", &json, "one JSON object: {\"file\", \"ppq\", \"notes\": [...]}"),
                            APP_END};
    const app_cmd cmd_info = {"midi info", "FILE... [--json]",
                              "Format, division, tracks, duration, tempos, time and key signatures, instruments\n"
                              "(by track, channel and program) with note counts, and warnings about defects the\n"
                              "reader tolerated, for each file.",
                              info_opts, CHANNELS_NOTE, NULL};
    const app_cmd cmd_notes = {"midi notes", "FILE [--json]",
                               "One line per note: track, channel (ch), program, pitch, velocity, start and end in\n"
                               "seconds and in ticks.",
                               notes_opts, CHANNELS_NOTE, NULL};
    const app_cmd *cmd = info ? &cmd_info : &cmd_notes;
    int rc = app_parse(cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!info && file) {
        files.v = &file;
        files.n = 1;
    }
    if (files.n == 0) return app_usage(cmd, "no MIDI file given");
    rc = EXIT_OK;
    for (int i = 0; i < files.n; i++) {
        loaded l;
        if (load(&l, files.v[i]) != EXIT_OK) {
            rc = EXIT_FAIL;
            continue;
        }
        if (info)
            json ? info_json(&l, files.v[i]) : info_text(&l, files.v[i]);
        else
            json ? notes_json(&l, files.v[i]) : notes_text(&l);
        unload(&l);
    }
    if (info) app_list_free(&files);
    if (fflush(stdout) != 0) {
        app_error("cannot write output");
        rc = EXIT_FAIL;
    }
    return rc;
}

static int midi_info(int argc, char **argv) { return run_midi(1, argc, argv); }
static int midi_notes(int argc, char **argv) { return run_midi(0, argc, argv); }

int cmd_midi(int argc, char **argv) {
    static const app_sub subs[] = {
        {"info", midi_info, "FILE... [--json]: format, division, tracks, duration, tempos, time and key\n"
                            "signatures, instruments, note counts and warnings of each file"},
        {"notes", midi_notes, "FILE [--json]: one line per note: track, channel, program, pitch, velocity,\n"
                              "start and end in seconds and in ticks"},
    };
    return app_dispatch("midi", MIDI_OVERVIEW, subs, 2, NULL, argc, argv);
}

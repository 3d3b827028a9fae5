/* cadenza demo: the main job until a trained model ships. Writes a short two-track piece (a melody and
 * a bass line) as MIDI, reads the file back and prints what it found, proving the write/read path. */
#include <string.h>

#include "app.h"

/* "Twinkle, Twinkle, Little Star", first phrase: pitch and length in eighth notes. */
static const uint8_t MELODY[][2] = {{60, 2}, {60, 2}, {67, 2}, {67, 2}, {69, 2}, {69, 2}, {67, 4},
                                    {65, 2}, {65, 2}, {64, 2}, {64, 2}, {62, 2}, {62, 2}, {60, 4}};
static const uint8_t BASS[][2] = {{48, 8}, {53, 4}, {48, 4}, {53, 4}, {48, 4}, {55, 4}, {48, 4}};

static cdz_status build_piece(cdz_score *s, cdz_error *err) {
    const int32_t ppq = 480, eighth = ppq / 2;
    cdz_status st = cdz_score_init(s, ppq, err);
    if (st != CDZ_OK) return st;
    int64_t t = 0;
    st = cdz_score_add_tempo(s, 0, 100.0);
    if (!st) st = cdz_score_add_time_signature(s, 0, 4, 4);
    if (!st) st = cdz_score_add_key_signature(s, 0, 0, 0);
    for (size_t i = 0; i < sizeof MELODY / sizeof MELODY[0] && !st; i++) {
        int64_t len = MELODY[i][1] * eighth;
        st = cdz_score_add_note(s, 0, 0, 0, MELODY[i][0], 90, t, t + len - eighth / 4);
        t += len;
    }
    t = 0;
    for (size_t i = 0; i < sizeof BASS / sizeof BASS[0] && !st; i++) {
        int64_t len = BASS[i][1] * eighth;
        st = cdz_score_add_note(s, 1, 1, 32, BASS[i][0], 70, t, t + len);
        t += len;
    }
    if (!st) {
        snprintf(s->tracks[0].name, sizeof s->tracks[0].name, "Melody");
        snprintf(s->tracks[1].name, sizeof s->tracks[1].name, "Bass");
        return cdz_score_finish(s, err);
    }
    cdz_score_free(s);
    return cdz_error_set(err, st, "cannot build the demo piece: %s", cdz_status_str(st));
}

int cmd_demo(int argc, char **argv) {
    const char *out = "demo.mid";
    int force = 0;
    app_opt opts[] = {APP_OPT_STRING("--out", &out, "FILE", "the MIDI file to write (default demo.mid)"),
                      APP_OPT_FORCE(&force), APP_END};
    const app_cmd cmd = {"demo", "[--out FILE] [--force]", "Writes a short piece to FILE, reads it back and prints its notes.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!app_output_ok(out, force)) return EXIT_FAIL;
    cdz_error err = {0};
    cdz_score piece, back;
    if (build_piece(&piece, &err) != CDZ_OK || cdz_score_write_file(&piece, out, 1, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        cdz_score_free(&piece);
        return EXIT_FAIL;
    }
    printf("wrote %s: %zu notes, %.2f s\n", out, piece.n_notes, piece.duration_s);
    if (cdz_score_read_file(&back, out, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        cdz_score_free(&piece);
        return EXIT_FAIL;
    }
    int same = back.n_notes == piece.n_notes;
    for (size_t i = 0; same && i < piece.n_notes; i++) {
        const cdz_note *a = &piece.notes[i], *b = &back.notes[i];
        same = a->pitch == b->pitch && a->start_tick == b->start_tick && a->end_tick == b->end_tick &&
               a->velocity == b->velocity && a->program == b->program && a->channel == b->channel;
    }
    printf("read it back: %zu notes in %zu tracks, %s\n\n", back.n_notes, back.n_tracks,
           same ? "identical to what was written" : "DIFFERENT from what was written");
    printf("%5s %-7s %5s %9s %9s\n", "track", "name", "pitch", "start_s", "end_s");
    for (size_t i = 0; i < back.n_notes; i++) {
        const cdz_note *n = &back.notes[i];
        printf("%5u %-7s %5u %9.3f %9.3f\n", n->track, back.tracks[n->track].name, n->pitch, n->start_s, n->end_s);
    }
    cdz_score_free(&piece);
    cdz_score_free(&back);
    return same ? EXIT_OK : EXIT_FAIL;
}

/* Every MIDI file of the shared corpora: read, write, read again gives the same events and the same
 * notes; and note counts and durations of several files agree with an independent reader. */
#include "test.h"

static int same_notes(const cdz_score *a, const cdz_score *b) {
    if (a->n_notes != b->n_notes || a->n_tempos != b->n_tempos || a->n_time_sigs != b->n_time_sigs ||
        a->n_key_sigs != b->n_key_sigs || a->n_controls != b->n_controls || a->n_bends != b->n_bends ||
        a->end_tick != b->end_tick)
        return 0;
    for (size_t i = 0; i < a->n_notes; i++) {
        const cdz_note *x = &a->notes[i], *y = &b->notes[i];
        if (x->start_tick != y->start_tick || x->end_tick != y->end_tick || x->pitch != y->pitch ||
            x->velocity != y->velocity || x->channel != y->channel || x->program != y->program || x->track != y->track ||
            x->start_s != y->start_s || x->end_s != y->end_s)
            return 0;
    }
    for (size_t i = 0; i < a->n_tempos; i++)
        if (a->tempos[i].tick != b->tempos[i].tick || a->tempos[i].usec_per_quarter != b->tempos[i].usec_per_quarter) return 0;
    return 1;
}

static int same_events(const cdz_midi *a, const cdz_midi *b) {
    if (a->n_tracks != b->n_tracks || a->format != b->format || a->division != b->division) return 0;
    for (size_t t = 0; t < a->n_tracks; t++) {
        const cdz_midi_track *x = &a->tracks[t], *y = &b->tracks[t];
        if (x->n_events != y->n_events) return 0;
        for (size_t i = 0; i < x->n_events; i++) {
            const cdz_midi_event *e = &x->events[i], *f = &y->events[i];
            if (e->tick != f->tick || e->kind != f->kind || e->status != f->status || e->data1 != f->data1 ||
                e->data2 != f->data2 || e->data_len != f->data_len ||
                memcmp(a->pool + e->data_off, b->pool + f->data_off, e->data_len) != 0)
                return 0;
        }
    }
    return 1;
}

/* Returns NULL if the file round-trips, else what went wrong. */
static const char *round_trip(const char *path, char *msg, size_t n) {
    cdz_midi m = {0}, m2 = {0}, m3 = {0};
    cdz_score s = {0}, s2 = {0};
    cdz_error err = {0};
    uint8_t *out = NULL, *out2 = NULL;
    size_t len, len2;
    const char *why = NULL;
    if (cdz_midi_read_file(&m, path, &err)) why = err.msg;
    /* events: write the file as read, read it again */
    else if (cdz_midi_write(&m, &out, &len, &err)) why = err.msg;
    else if (cdz_midi_read(&m2, out, len, "rewritten events", &err)) why = err.msg;
    else if (!same_events(&m, &m2)) why = "events differ after write and read";
    /* notes: score, write the score as format 1, read it again */
    else if (cdz_score_from_midi(&s, &m, &err)) why = err.msg;
    else if (cdz_score_to_midi(&m3, &s, 1, &err)) why = err.msg;
    else if (cdz_midi_write(&m3, &out2, &len2, &err)) why = err.msg;
    else if (cdz_midi_free(&m3), cdz_midi_read(&m3, out2, len2, "rewritten score", &err)) why = err.msg;
    else if (cdz_score_from_midi(&s2, &m3, &err)) why = err.msg;
    else if (!same_notes(&s, &s2)) why = "notes differ after score -> MIDI -> score";
    if (why) {
        snprintf(msg, n, "%s", why);
        why = msg;
    }
    cdz_free(out);
    cdz_free(out2);
    cdz_midi_free(&m);
    cdz_midi_free(&m2);
    cdz_midi_free(&m3);
    cdz_score_free(&s);
    cdz_score_free(&s2);
    return why;
}

static void test_round_trip_all(const char *data) {
    char **paths;
    size_t n;
    cdz_error err = {0};
    if (cdz_file_list(data, ".mid,.midi,.kar,.rmi", &paths, &n, &err) != CDZ_OK) {
        CHECK(0, "%s", err.msg);
        return;
    }
    size_t ok = 0, failed = 0;
    char msg[400];
    for (size_t i = 0; i < n; i++) {
        const char *why = round_trip(paths[i], msg, sizeof msg);
        if (!why) {
            ok++;
        } else if (failed++ < 10) {
            printf("round trip failed: %s: %s\n", paths[i], why);
        }
    }
    printf("round trip: %zu of %zu MIDI files under %s read, wrote and read back identically\n", ok, n, data);
    CHECK(failed == 0, "%zu files failed the round trip", failed);
    CHECK(n >= 7000, "only %zu MIDI files found under %s (7,658 expected)", n, data);
    cdz_file_list_free(paths, n);
}

/* Values printed by @tonejs/midi 2.0.28 (bench/tonejs/expect.js): total notes and the latest note end
 * in seconds. tonejs drops a note-on that never gets a note-off; cadenza ends it at its track's end and
 * counts it (n_unended_notes), so the comparison leaves those notes out. */
static const struct {
    const char *path;
    size_t notes;
    double last_end_s;
    int ppq;
} TONEJS[] = {
    {"nottingham/full/ashover1.mid", 158, 47.500000, 1024},
    {"nottingham/melody/ashover10.mid", 423, 130.000000, 1024},
    {"nottingham/chords/ashover11.mid", 180, 49.500000, 1024},
    {"pop909/001/001.mid", 1556, 193.943960, 480},
    {"pop909/002/002.mid", 1408, 230.475986, 480},
    {"asap/Bach/Italian_concerto/KyykhynenT03.mid", 1221, 292.450295, 384},
    {"asap/Bach/Fugue/bwv_846/midi_score.mid", 762, 53.998958, 480},
    {"groove/drummer1/session1/78_jazz-fast_290_beat_4-4.mid", 1497, 105.048858, 480},
    {"groove/drummer2/session1/1_rock_110_beat_4-4.mid", 9282, 1394.173889, 480},
    {"jsb_chorales/midi/test/test_000.mid", 197, 28.500000, 480},
    {"wjazzd/midi/ArtPepper_Anthropology.mid", 1059, 145.028788, 480},
    {"bach370_chorales_kern/midi/chor001.mid", 223, 39.000000, 480},
};

static void test_against_tonejs(const char *data) {
    for (size_t i = 0; i < sizeof TONEJS / sizeof TONEJS[0]; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", data, TONEJS[i].path);
        cdz_score s;
        cdz_error err = {0};
        if (cdz_score_read_file(&s, path, &err) != CDZ_OK) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        /* The latest end among notes that were ended by a note-off. */
        double last = 0;
        size_t ended = 0;
        for (size_t k = 0; k < s.n_notes; k++) {
            const cdz_note *nt = &s.notes[k];
            int unended = s.n_unended_notes && nt->end_tick == s.end_tick && nt->end_tick > nt->start_tick;
            if (!unended && nt->end_s > last) last = nt->end_s;
        }
        ended = s.n_notes - s.n_unended_notes;
        CHECK(ended == TONEJS[i].notes, "%s: %zu notes, @tonejs/midi counts %zu", TONEJS[i].path, ended, TONEJS[i].notes);
        CHECK(last - TONEJS[i].last_end_s < 1e-6 && TONEJS[i].last_end_s - last < 1e-6, "%s: last note ends at %.6f s, @tonejs/midi says %.6f",
              TONEJS[i].path, last, TONEJS[i].last_end_s);
        CHECK_INT(s.ppq, TONEJS[i].ppq);
        cdz_score_free(&s);
    }
}

int main(void) {
    const char *data = test_data_dir();
    if (!data) {
        printf("SKIPPED: no corpora (set CADENZA_DATA or put the shared data at ../shared/data)\n");
        return test_summary("test_corpus");
    }
    test_against_tonejs(data);
    test_round_trip_all(data);
    return test_summary("test_corpus");
}

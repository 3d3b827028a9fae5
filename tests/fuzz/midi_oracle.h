/* What must hold for any input bytes, checked by the fuzz target and by tests/test_robust.c:
 * - reading returns OK or an error with a message, never crashes, hangs or leaks (sanitizers check);
 * - a file that reads writes back, and reading that gives the same events;
 * - its score writes back, and reading that gives the same notes (in ticks and seconds).
 * A write may refuse what MIDI cannot hold (a gap over 2^28 - 1 ticks): CDZ_ERR_RANGE is allowed; and
 * a format 0 file read with other than one track (a warning) may not be written as format 0. */
#ifndef CADENZA_MIDI_ORACLE_H
#define CADENZA_MIDI_ORACLE_H

#include <string.h>

#include "cadenza.h"

static inline int oracle_same_events(const cdz_midi *a, const cdz_midi *b) {
    if (a->n_tracks != b->n_tracks) return 0;
    for (size_t t = 0; t < a->n_tracks; t++) {
        const cdz_midi_track *x = &a->tracks[t], *y = &b->tracks[t];
        size_t n = x->n_events;
        int appended_end = n + 1 == y->n_events && y->events[n].kind == CDZ_MIDI_EVENT_META &&
                           y->events[n].status == CDZ_META_END_OF_TRACK;
        if (n != y->n_events && !appended_end) return 0;
        for (size_t i = 0; i < n; i++) {
            const cdz_midi_event *e = &x->events[i], *f = &y->events[i];
            if (e->tick != f->tick || e->kind != f->kind || e->status != f->status || e->data1 != f->data1 ||
                e->data2 != f->data2 || e->data_len != f->data_len ||
                (e->data_len && memcmp(a->pool + e->data_off, b->pool + f->data_off, e->data_len) != 0))
                return 0;
        }
    }
    return 1;
}

static inline int oracle_same_notes(const cdz_score *a, const cdz_score *b) {
    if (a->n_notes != b->n_notes || a->end_tick != b->end_tick) return 0;
    for (size_t i = 0; i < a->n_notes; i++) {
        const cdz_note *x = &a->notes[i], *y = &b->notes[i];
        if (x->start_tick != y->start_tick || x->end_tick != y->end_tick || x->pitch != y->pitch ||
            x->velocity != y->velocity || x->channel != y->channel || x->program != y->program ||
            x->track != y->track || x->start_s != y->start_s || x->end_s != y->end_s)
            return 0;
    }
    return 1;
}

/* NULL if every property holds, else which one failed. */
static inline const char *midi_oracle(const uint8_t *data, size_t size) {
    cdz_midi m, m2, m3;
    cdz_score s, s2;
    cdz_error err;
    uint8_t *out = NULL;
    size_t len = 0;
    const char *fail = NULL;
    err.msg[0] = 0;
    if (cdz_midi_read(&m, data, size, "fuzz", &err) != CDZ_OK) return err.msg[0] ? NULL : "error without a message";
    cdz_status st = cdz_midi_write(&m, &out, &len, &err);
    if (st == CDZ_OK) {
        if (cdz_midi_read(&m2, out, len, "rewritten", &err) != CDZ_OK) {
            fail = "written events do not read back";
        } else {
            if (!oracle_same_events(&m, &m2)) fail = "events differ after write and read";
            cdz_midi_free(&m2);
        }
        cdz_free(out);
    } else if (st != CDZ_ERR_RANGE && !(m.format == 0 && m.n_tracks != 1)) {
        fail = "events that read do not write";
    }
    if (!fail && cdz_score_from_midi(&s, &m, &err) == CDZ_OK) {
        st = cdz_score_to_midi(&m3, &s, 1, &err);
        if (st == CDZ_OK) {
            st = cdz_midi_write(&m3, &out, &len, &err);
            cdz_midi_free(&m3);
            if (st == CDZ_OK) {
                if (cdz_midi_read(&m3, out, len, "rewritten score", &err) != CDZ_OK) {
                    fail = "written score does not read back";
                } else {
                    if (cdz_score_from_midi(&s2, &m3, &err) != CDZ_OK) {
                        fail = "written score does not convert back";
                    } else {
                        if (!oracle_same_notes(&s, &s2)) fail = "notes differ after score -> MIDI -> score";
                        cdz_score_free(&s2);
                    }
                    cdz_midi_free(&m3);
                }
                cdz_free(out);
            } else if (st != CDZ_ERR_RANGE) {
                fail = "score MIDI does not write";
            }
        } else {
            fail = "score does not convert to MIDI";
        }
        cdz_score_free(&s);
    }
    cdz_midi_free(&m);
    return fail;
}
#endif

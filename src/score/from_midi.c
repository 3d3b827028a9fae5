/* MIDI events -> score. Notes pair first-in, first-out per (track, channel, pitch): see score.h. */
#include "score_internal.h"

#include <stdio.h>
#include <string.h>

#define N_KEYS (16 * 128)
#define NONE UINT32_MAX

/* Open notes per key as FIFO linked lists threaded through the note array. A key's slots are valid only
 * when its gen matches the current track's, so starting a track costs nothing however many keys the
 * last one used; `touched` lists the keys in use for the end-of-track sweep. */
typedef struct pairing {
    uint32_t head[N_KEYS], tail[N_KEYS];
    int64_t orphan_off[N_KEYS]; /* tick of the last note-off that found nothing sounding, or -1 */
    uint32_t gen[N_KEYS], cur_gen;
    uint16_t touched[N_KEYS];
    size_t n_touched;
    uint32_t *next; /* one per note */
} pairing;

static inline void use_key(pairing *p, unsigned key) {
    if (p->gen[key] == p->cur_gen) return;
    p->gen[key] = p->cur_gen;
    p->head[key] = p->tail[key] = NONE;
    p->orphan_off[key] = -1;
    p->touched[p->n_touched++] = (uint16_t)key;
}

static void close_note(cdz_score *s, pairing *p, unsigned key, int64_t tick) {
    use_key(p, key);
    uint32_t i = p->head[key];
    if (i == NONE) {
        if (s->n_orphan_note_offs < UINT32_MAX) s->n_orphan_note_offs++;
        p->orphan_off[key] = tick;
        return;
    }
    s->notes[i].end_tick = tick;
    p->head[key] = p->next[i];
    if (p->head[key] == NONE) p->tail[key] = NONE;
}

static void open_note(cdz_score *s, pairing *p, const cdz_midi_event *e, uint16_t track, uint8_t program) {
    uint8_t ch = e->status & 0x0F;
    unsigned key = ch * 128u + (e->data1 & 0x7F);
    use_key(p, key);
    uint32_t idx = (uint32_t)s->n_notes++; /* capacity was reserved for every note-on */
    s->notes[idx] = (cdz_note){.start_tick = e->tick, .end_tick = -1, .start_step = -1, .end_step = -1, .track = track,
                               .channel = ch, .program = program, .pitch = e->data1 & 0x7F, .velocity = e->data2 & 0x7F,
                               .is_drum = ch == CDZ_DRUM_CHANNEL};
    p->next[idx] = NONE;
    if (p->orphan_off[key] == e->tick) {
        /* Off written before on at one tick, with nothing sounding: a zero-length note. */
        s->notes[idx].end_tick = e->tick;
        p->orphan_off[key] = -1;
        s->n_orphan_note_offs--;
        return;
    }
    if (p->tail[key] == NONE)
        p->head[key] = idx;
    else
        p->next[p->tail[key]] = idx;
    p->tail[key] = idx;
}

/* Counts what the score will hold, so each list is allocated once. */
typedef struct counts {
    size_t notes, controls, bends;
} counts;

static counts count_events(const cdz_midi *m) {
    counts c = {0, 0, 0};
    for (size_t t = 0; t < m->n_tracks; t++) {
        for (size_t i = 0; i < m->tracks[t].n_events; i++) {
            const cdz_midi_event *e = &m->tracks[t].events[i];
            if (e->kind != CDZ_MIDI_EVENT_CHANNEL) continue;
            uint8_t kind = e->status & 0xF0;
            c.notes += kind == CDZ_MIDI_NOTE_ON && (e->data2 & 0x7F) > 0;
            c.controls += kind == CDZ_MIDI_CONTROL_CHANGE;
            c.bends += kind == CDZ_MIDI_PITCH_BEND;
        }
    }
    return c;
}

static cdz_status read_meta(cdz_score *s, const cdz_midi *m, const cdz_midi_event *e, size_t ti, int *named) {
    uint32_t usec;
    uint8_t num, den;
    int8_t sharps;
    uint8_t minor;
    /* Malformed meta payloads (wrong lengths, zero tempo, or outside the pool in a file built in
     * memory) carry no usable meaning: they are left out and counted, for cdz_score_warning. */
    const int in_pool = e->data_off <= m->pool_len && e->data_len <= m->pool_len - e->data_off;
    switch (e->status) {
    case CDZ_META_TEMPO:
        if (in_pool && cdz_midi_meta_tempo(m, e, &usec) == CDZ_OK && usec > 0) {
            cdz_tempo t = {.tick = e->tick, .usec_per_quarter = usec};
            if (cdz_grow((void **)&s->tempos, &s->cap_tempos, s->n_tempos + 1, sizeof t)) return CDZ_ERR_NOMEM;
            s->tempos[s->n_tempos++] = t;
        } else
            s->n_bad_tempos++;
        break;
    case CDZ_META_TIME_SIGNATURE:
        if (in_pool && cdz_midi_meta_time_signature(m, e, &num, &den, NULL, NULL) == CDZ_OK && num > 0)
            return cdz_score_add_time_signature(s, e->tick, num, den);
        s->n_bad_time_sigs++;
        break;
    case CDZ_META_KEY_SIGNATURE:
        if (in_pool && cdz_midi_meta_key_signature(m, e, &sharps, &minor) == CDZ_OK)
            return cdz_score_add_key_signature(s, e->tick, sharps, minor);
        s->n_bad_key_sigs++;
        break;
    case CDZ_META_TRACK_NAME:
        if (in_pool && !*named) {
            char *name = s->tracks[ti].name;
            size_t n = e->data_len < sizeof s->tracks[ti].name ? e->data_len : sizeof s->tracks[ti].name - 1;
            if (n) memcpy(name, cdz_midi_payload(m, e), n);
            name[n] = 0;
            *named = 1;
        }
        break;
    default: break;
    }
    return CDZ_OK;
}

static cdz_status read_track(cdz_score *s, const cdz_midi *m, size_t ti, pairing *p) {
    const cdz_midi_track *t = &m->tracks[ti];
    uint8_t program[16] = {0};
    int named = 0;
    cdz_status st;
    uint16_t track = (uint16_t)ti;
    p->cur_gen++;
    p->n_touched = 0;
    for (size_t i = 0; i < t->n_events; i++) {
        const cdz_midi_event *e = &t->events[i];
        if (e->kind == CDZ_MIDI_EVENT_META) {
            if ((st = read_meta(s, m, e, ti, &named)) != CDZ_OK) return st;
            continue;
        }
        if (e->kind != CDZ_MIDI_EVENT_CHANNEL) continue;
        uint8_t ch = e->status & 0x0F;
        /* Controls and bends were counted and reserved, so they are written in place. Data bytes are
         * masked to 7 bits: a file read from bytes has no others, one built in memory might. */
        switch (e->status & 0xF0) {
        case CDZ_MIDI_NOTE_ON:
            if ((e->data2 & 0x7F) > 0)
                open_note(s, p, e, track, program[ch]);
            else
                close_note(s, p, ch * 128u + (e->data1 & 0x7F), e->tick); /* velocity 0 is a note-off */
            break;
        case CDZ_MIDI_NOTE_OFF: close_note(s, p, ch * 128u + (e->data1 & 0x7F), e->tick); break;
        case CDZ_MIDI_CONTROL_CHANGE:
            s->controls[s->n_controls++] = (cdz_control){.tick = e->tick, .track = track, .channel = ch,
                                                         .number = e->data1 & 0x7F, .value = e->data2 & 0x7F};
            break;
        case CDZ_MIDI_PROGRAM_CHANGE: program[ch] = e->data1 & 0x7F; break;
        case CDZ_MIDI_PITCH_BEND:
            s->bends[s->n_bends++] = (cdz_pitch_bend){.tick = e->tick, .track = track, .channel = ch,
                                                      .value = (int16_t)(((e->data2 & 0x7F) << 7 | (e->data1 & 0x7F)) - 8192)};
            break;
        default: break;
        }
    }
    /* Notes never ended stop at the track's last event. */
    int64_t last = t->n_events ? t->events[t->n_events - 1].tick : 0;
    if (last > s->end_tick) s->end_tick = last;
    for (size_t k = 0; k < p->n_touched; k++) {
        for (uint32_t i = p->head[p->touched[k]]; i != NONE; i = p->next[i]) {
            s->notes[i].end_tick = last;
            if (s->n_unended_notes < UINT32_MAX) s->n_unended_notes++;
        }
    }
    return CDZ_OK;
}

cdz_status cdz_score_from_midi(cdz_score *s, const cdz_midi *m, cdz_error *err) {
    memset(s, 0, sizeof *s);
    pairing *p = NULL;
    cdz_status st = CDZ_OK;
    if (m->ppq > 0) {
        s->ppq = m->ppq;
    } else {
        s->smpte_division = m->division;
        s->smpte_seconds_per_tick = cdz_midi_smpte_seconds_per_tick(m);
        if (!(s->smpte_seconds_per_tick > 0)) return cdz_error_set(err, CDZ_ERR_ARG, "MIDI file has no valid division");
    }
    if (m->n_tracks > 0xFFFF) return cdz_error_set(err, CDZ_ERR_RANGE, "%zu tracks: at most 65535", m->n_tracks);
    counts c = count_events(m);
    size_t n_on = c.notes;
    if (n_on > UINT32_MAX - 1) return cdz_error_set(err, CDZ_ERR_RANGE, "%zu notes: too many", n_on);
    /* Only gen must start zeroed: every other slot of a key is set when the key is first used. */
    p = cdz_malloc(sizeof *p);
    if (p) {
        memset(p->gen, 0, sizeof p->gen);
        p->cur_gen = 0;
        p->next = NULL;
    }
    if (!p || score_ensure_tracks(s, m->n_tracks) != CDZ_OK ||
        cdz_grow((void **)&s->notes, &s->cap_notes, n_on, sizeof *s->notes) != CDZ_OK ||
        cdz_grow((void **)&s->controls, &s->cap_controls, c.controls, sizeof *s->controls) != CDZ_OK ||
        cdz_grow((void **)&s->bends, &s->cap_bends, c.bends, sizeof *s->bends) != CDZ_OK ||
        !(p->next = cdz_calloc(n_on ? n_on : 1, sizeof *p->next))) {
        st = CDZ_ERR_NOMEM;
        goto fail;
    }
    for (size_t t = 0; t < m->n_tracks; t++)
        if ((st = read_track(s, m, t, p)) != CDZ_OK) goto fail;
    if ((st = score_sort(s)) != CDZ_OK) goto fail;
    score_fill_seconds(s);
    cdz_free(p->next);
    cdz_free(p);
    return CDZ_OK;
fail:
    if (p) cdz_free(p->next);
    cdz_free(p);
    cdz_score_free(s);
    return cdz_error_set(err, st, "%s while converting MIDI to a score", cdz_status_str(st));
}

cdz_status cdz_score_read_file(cdz_score *s, const char *path, cdz_error *err) {
    cdz_midi m;
    memset(s, 0, sizeof *s);
    cdz_status st = cdz_midi_read_file(&m, path, err);
    if (st != CDZ_OK) return st;
    st = cdz_score_from_midi(s, &m, err);
    if (st != CDZ_OK && err) {
        char msg[sizeof err->msg];
        memcpy(msg, err->msg, sizeof msg);
        cdz_error_set(err, st, "%s: %s", path, msg);
    }
    cdz_midi_free(&m);
    return st;
}

size_t cdz_score_warning(const cdz_score *s, size_t i, char *buf, size_t n) {
    size_t k = 0;
    int w = 0;
    if (s->n_orphan_note_offs && k++ == i)
        w = snprintf(buf, n, "%u note-offs with no sounding note ignored", s->n_orphan_note_offs);
    else if (s->n_unended_notes && k++ == i)
        w = snprintf(buf, n, "%u notes never ended; ended at their track's last event", s->n_unended_notes);
    else if (s->n_bad_tempos && k++ == i)
        w = snprintf(buf, n, "%u tempo events of 0 or of the wrong length left out (the tempo before them holds; "
                     "120 qpm before any)", s->n_bad_tempos);
    else if (s->n_bad_time_sigs && k++ == i)
        w = snprintf(buf, n, "%u time signatures with a numerator of 0 or a denominator past 2^7 left out (the "
                     "meter before them holds; 4/4 before any)", s->n_bad_time_sigs);
    else if (s->n_bad_key_sigs && k++ == i)
        w = snprintf(buf, n, "%u key signatures outside -7..7 sharps or major/minor left out", s->n_bad_key_sigs);
    return w > 0 ? (size_t)w : 0;
}

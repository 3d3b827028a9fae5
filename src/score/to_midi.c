/* Score -> MIDI events. The order of events that share a tick is chosen so that reading the file back
 * (first-in, first-out pairing) gives exactly the notes and programs written; see score.h. */
#include "score_internal.h"

#include <string.h>

/* What is written at one tick, in this order. */
enum {
    ORDER_NOTE_OFF = 0, /* ends of notes that started earlier */
    ORDER_META = 1,     /* track name, tempo, time and key signatures */
    ORDER_CONTROL = 2,  /* control changes and pitch bends */
    ORDER_NOTE = 3,     /* [program change] note-on [note-off if zero-length], in note order */
};

typedef struct item {
    int64_t tick;
    uint32_t order; /* ORDER_* */
    size_t seq;     /* position in the order of creation, for a stable sort */
    uint16_t track;
    cdz_midi_event ev;
    const uint8_t *payload; /* meta payload to copy, if any */
    uint8_t payload_len;
} item;

typedef struct items {
    item *v;
    size_t n, cap;
} items;

static cdz_status push(items *it, uint16_t track, int64_t tick, uint32_t order, cdz_midi_event ev,
                       const uint8_t *payload, uint8_t payload_len) {
    if (cdz_grow((void **)&it->v, &it->cap, it->n + 1, sizeof *it->v)) return CDZ_ERR_NOMEM;
    ev.tick = tick;
    it->v[it->n] = (item){tick, order, it->n, track, ev, payload, payload_len};
    it->n++;
    return CDZ_OK;
}

static cdz_status push_channel(items *it, uint16_t track, int64_t tick, uint32_t order, uint8_t status, uint8_t d1,
                               uint8_t d2) {
    cdz_midi_event ev = {.kind = CDZ_MIDI_EVENT_CHANNEL, .status = status, .data1 = d1, .data2 = d2};
    return push(it, track, tick, order, ev, NULL, 0);
}

static cdz_status push_meta(items *it, int64_t tick, uint8_t type, const uint8_t *payload, uint8_t len) {
    cdz_midi_event ev = {.kind = CDZ_MIDI_EVENT_META, .status = type};
    return push(it, 0, tick, ORDER_META, ev, payload, len);
}

static int item_cmp(const void *pa, const void *pb) {
    const item *a = pa, *b = pb;
    if (a->tick != b->tick) return a->tick < b->tick ? -1 : 1;
    if (a->order != b->order) return a->order < b->order ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Meta payloads live in a small table the items point into until they are copied into the file. */
typedef struct meta_bytes {
    uint8_t b[4];
} meta_bytes;

static cdz_status collect_meta(items *it, const cdz_score *s, meta_bytes *mb) {
    cdz_status st = CDZ_OK;
    size_t k = 0;
    for (size_t i = 0; i < s->n_tempos && !st; i++, k++) {
        uint32_t u = s->tempos[i].usec_per_quarter;
        mb[k] = (meta_bytes){{(uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u, 0}};
        st = push_meta(it, s->tempos[i].tick, CDZ_META_TEMPO, mb[k].b, 3);
    }
    for (size_t i = 0; i < s->n_time_sigs && !st; i++, k++) {
        const cdz_time_signature *ts = &s->time_sigs[i];
        uint8_t pow2 = 0;
        while ((1u << pow2) < ts->denominator) pow2++;
        mb[k] = (meta_bytes){{ts->numerator, pow2, 24, 8}};
        st = push_meta(it, ts->tick, CDZ_META_TIME_SIGNATURE, mb[k].b, 4);
    }
    for (size_t i = 0; i < s->n_key_sigs && !st; i++, k++) {
        mb[k] = (meta_bytes){{(uint8_t)s->key_sigs[i].sharps, s->key_sigs[i].minor, 0, 0}};
        st = push_meta(it, s->key_sigs[i].tick, CDZ_META_KEY_SIGNATURE, mb[k].b, 2);
    }
    return st;
}

/* Notes, with program changes where a note's program differs from its (track, channel)'s current one. */
static cdz_status collect_notes(items *it, const cdz_score *s, uint16_t (*track_of)(const cdz_score *, uint16_t)) {
    cdz_status st = CDZ_OK;
    /* Current program per (track, channel) as 16 bytes per track; the reader starts every channel at 0. */
    size_t n_tracks = s->n_tracks ? s->n_tracks : 1;
    uint8_t *program = cdz_calloc(n_tracks, 16);
    if (!program) return CDZ_ERR_NOMEM;
    for (size_t i = 0; i < s->n_notes && !st; i++) {
        const cdz_note *n = &s->notes[i];
        uint16_t tr = track_of(s, n->track);
        uint8_t *cur = &program[(size_t)tr * 16 + n->channel];
        uint8_t vel = n->velocity ? n->velocity : 1;
        if (n->program != *cur) {
            st = push_channel(it, tr, n->start_tick, ORDER_NOTE, (uint8_t)(CDZ_MIDI_PROGRAM_CHANGE | n->channel), n->program, 0);
            *cur = n->program;
        }
        if (!st) st = push_channel(it, tr, n->start_tick, ORDER_NOTE, (uint8_t)(CDZ_MIDI_NOTE_ON | n->channel), n->pitch, vel);
        if (!st)
            st = push_channel(it, tr, n->end_tick, n->end_tick == n->start_tick ? ORDER_NOTE : ORDER_NOTE_OFF,
                              (uint8_t)(CDZ_MIDI_NOTE_ON | n->channel), n->pitch, 0);
    }
    cdz_free(program);
    return st;
}

static uint16_t same_track(const cdz_score *s, uint16_t t) {
    (void)s;
    return t;
}
static uint16_t first_track(const cdz_score *s, uint16_t t) {
    (void)s;
    (void)t;
    return 0;
}

static cdz_status check_score(const cdz_score *s, cdz_error *err) {
    size_t n_tracks = s->n_tracks ? s->n_tracks : 1;
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *n = &s->notes[i];
        if (n->start_tick < 0 || n->end_tick < n->start_tick || n->pitch > 127 || n->channel > 15 ||
            n->program > 127 || n->velocity > 127 || n->track >= n_tracks)
            return cdz_error_set(err, CDZ_ERR_ARG, "note %zu: invalid (pitch %u, channel %u, ticks %lld-%lld)", i,
                                 n->pitch, n->channel, (long long)n->start_tick, (long long)n->end_tick);
        if (i && score_note_cmp(&s->notes[i - 1], n) > 0)
            return cdz_error_set(err, CDZ_ERR_ARG, "note %zu: notes are not sorted (call cdz_score_finish)", i);
    }
    for (size_t i = 0; i < s->n_controls; i++) {
        const cdz_control *c = &s->controls[i];
        if (c->tick < 0 || c->channel > 15 || c->number > 127 || c->value > 127 || c->track >= n_tracks)
            return cdz_error_set(err, CDZ_ERR_ARG, "control change %zu: invalid", i);
    }
    for (size_t i = 0; i < s->n_bends; i++) {
        const cdz_pitch_bend *b = &s->bends[i];
        if (b->tick < 0 || b->channel > 15 || b->value < -8192 || b->value > 8191 || b->track >= n_tracks)
            return cdz_error_set(err, CDZ_ERR_ARG, "pitch bend %zu: invalid", i);
    }
    for (size_t i = 0; i < s->n_tempos; i++)
        if (s->tempos[i].tick < 0 || s->tempos[i].usec_per_quarter == 0 || s->tempos[i].usec_per_quarter > 0xFFFFFF)
            return cdz_error_set(err, CDZ_ERR_ARG, "tempo %zu: invalid", i);
    for (size_t i = 0; i < s->n_time_sigs; i++) {
        const cdz_time_signature *t = &s->time_sigs[i];
        if (t->tick < 0 || t->denominator == 0 || (t->denominator & (t->denominator - 1)))
            return cdz_error_set(err, CDZ_ERR_ARG, "time signature %zu: invalid", i);
    }
    return CDZ_OK;
}

cdz_status cdz_score_to_midi(cdz_midi *m, const cdz_score *s, uint16_t format, cdz_error *err) {
    memset(m, 0, sizeof *m);
    if (format > 1) return cdz_error_set(err, CDZ_ERR_ARG, "scores are written as format 0 or 1, not %u", format);
    cdz_status st = check_score(s, err);
    if (st != CDZ_OK) return st;
    if (s->ppq > 0) {
        if ((st = cdz_midi_init(m, format, s->ppq, err)) != CDZ_OK) return st;
    } else if (s->smpte_division & 0x8000) {
        m->format = format;
        m->division = s->smpte_division;
    } else {
        return cdz_error_set(err, CDZ_ERR_ARG, "score has neither ticks per quarter nor an SMPTE division");
    }
    size_t n_tracks = format == 0 || s->n_tracks == 0 ? 1 : s->n_tracks;
    uint16_t (*track_of)(const cdz_score *, uint16_t) = format == 0 ? first_track : same_track;
    items it = {0};
    meta_bytes *mb = NULL;
    size_t n_meta = s->n_tempos + s->n_time_sigs + s->n_key_sigs;
    if (!(mb = cdz_calloc(n_meta ? n_meta : 1, sizeof *mb))) goto nomem;
    for (size_t t = 0; t < n_tracks; t++)
        if (cdz_midi_add_track(m, NULL) != CDZ_OK) goto nomem;
    /* Track names first, at tick 0. */
    for (size_t t = 0; t < s->n_tracks && t < n_tracks; t++) {
        size_t len = strnlen(s->tracks[t].name, sizeof s->tracks[t].name);
        if (len && cdz_midi_add_data(m, t, 0, CDZ_MIDI_EVENT_META, CDZ_META_TRACK_NAME, s->tracks[t].name, (uint32_t)len))
            goto nomem;
    }
    if (collect_meta(&it, s, mb) || collect_notes(&it, s, track_of)) goto nomem;
    for (size_t i = 0; i < s->n_controls; i++) {
        const cdz_control *c = &s->controls[i];
        if (push_channel(&it, track_of(s, c->track), c->tick, ORDER_CONTROL, (uint8_t)(CDZ_MIDI_CONTROL_CHANGE | c->channel),
                         c->number, c->value))
            goto nomem;
    }
    for (size_t i = 0; i < s->n_bends; i++) {
        const cdz_pitch_bend *b = &s->bends[i];
        unsigned v = (unsigned)(b->value + 8192) & 0x3FFF;
        if (push_channel(&it, track_of(s, b->track), b->tick, ORDER_CONTROL, (uint8_t)(CDZ_MIDI_PITCH_BEND | b->channel),
                         v & 0x7F, (uint8_t)(v >> 7)))
            goto nomem;
    }
    if (it.n > 1) qsort(it.v, it.n, sizeof *it.v, item_cmp);
    for (size_t i = 0; i < it.n; i++) {
        const item *x = &it.v[i];
        st = x->ev.kind == CDZ_MIDI_EVENT_META
                 ? cdz_midi_add_data(m, x->track, x->tick, CDZ_MIDI_EVENT_META, x->ev.status, x->payload, x->payload_len)
                 : cdz_midi_add_channel(m, x->track, x->tick, x->ev.status, x->ev.data1, x->ev.data2);
        if (st == CDZ_ERR_NOMEM) goto nomem;
        if (st != CDZ_OK) {
            cdz_error_set(err, st, "cannot write event at tick %lld", (long long)x->tick);
            goto fail;
        }
    }
    /* Every track ends where the score ends, so the duration survives a round trip. */
    for (size_t t = 0; t < n_tracks; t++) {
        const cdz_midi_track *tr = &m->tracks[t];
        int64_t end = s->end_tick;
        if (tr->n_events && tr->events[tr->n_events - 1].tick > end) end = tr->events[tr->n_events - 1].tick;
        if (cdz_midi_add_data(m, t, end, CDZ_MIDI_EVENT_META, CDZ_META_END_OF_TRACK, NULL, 0)) goto nomem;
    }
    cdz_free(it.v);
    cdz_free(mb);
    return CDZ_OK;
nomem:
    st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory converting a score of %zu notes to MIDI", s->n_notes);
fail:
    cdz_free(it.v);
    cdz_free(mb);
    cdz_midi_free(m);
    return st;
}

cdz_status cdz_score_write_file(const cdz_score *s, const char *path, uint16_t format, cdz_error *err) {
    cdz_midi m;
    cdz_status st = cdz_score_to_midi(&m, s, format, err);
    if (st != CDZ_OK) return st;
    st = cdz_midi_write_file(&m, path, err);
    cdz_midi_free(&m);
    return st;
}

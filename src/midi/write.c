/* Standard MIDI File writer. Two passes over the same code: the first counts bytes, the second
 * writes them into one exactly-sized buffer, so the output is deterministic and allocation is single. */
#include "midi_internal.h"

#include <string.h>

typedef struct sink {
    uint8_t *p; /* NULL while counting */
    size_t n;
} sink;

static void put(sink *s, uint8_t b) {
    if (s->p) s->p[s->n] = b;
    s->n++;
}
static void put_be(sink *s, uint32_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; i--) put(s, (uint8_t)(v >> (8 * i)));
}
static void put_vlq(sink *s, uint32_t v) {
    uint8_t tmp[4];
    int n = 0;
    do {
        tmp[n++] = v & 0x7F;
        v >>= 7;
    } while (v && n < 4);
    while (n-- > 1) put(s, tmp[n] | 0x80);
    put(s, tmp[0]);
}
static void put_bytes(sink *s, const uint8_t *b, size_t n) {
    if (s->p && n) memcpy(s->p + s->n, b, n);
    s->n += n;
}

#define MAX_VLQ 0x0FFFFFFFu

/* Checks one track before anything is written. */
static cdz_status check_track(const cdz_midi *m, size_t ti, cdz_error *err) {
    const cdz_midi_track *t = &m->tracks[ti];
    int64_t prev = 0;
    for (size_t i = 0; i < t->n_events; i++) {
        const cdz_midi_event *e = &t->events[i];
        if (e->tick < prev)
            return cdz_error_set(err, CDZ_ERR_ARG, "track %zu, event %zu: tick %lld comes before the previous event's %lld",
                                 ti, i, (long long)e->tick, (long long)prev);
        if (e->tick - prev > (int64_t)MAX_VLQ)
            return cdz_error_set(err, CDZ_ERR_RANGE, "track %zu, event %zu: gap of %lld ticks exceeds a MIDI delta time",
                                 ti, i, (long long)(e->tick - prev));
        prev = e->tick;
        if (e->kind == CDZ_MIDI_EVENT_CHANNEL) {
            if (e->status < 0x80 || e->status >= 0xF0 || e->data1 > 0x7F || e->data2 > 0x7F)
                return cdz_error_set(err, CDZ_ERR_ARG, "track %zu, event %zu: invalid channel message %02X %02X %02X",
                                     ti, i, e->status, e->data1, e->data2);
        } else if (e->kind <= CDZ_MIDI_EVENT_ESCAPE) {
            if (e->data_len > MAX_VLQ || e->data_off > m->pool_len || e->data_len > m->pool_len - e->data_off)
                return cdz_error_set(err, CDZ_ERR_ARG, "track %zu, event %zu: payload outside the pool", ti, i);
            if (e->kind == CDZ_MIDI_EVENT_META && e->status == CDZ_META_END_OF_TRACK && i + 1 != t->n_events)
                return cdz_error_set(err, CDZ_ERR_ARG, "track %zu, event %zu: end-of-track before the last event", ti, i);
        } else {
            return cdz_error_set(err, CDZ_ERR_ARG, "track %zu, event %zu: unknown event kind %u", ti, i, e->kind);
        }
    }
    return CDZ_OK;
}

static void emit_track(const cdz_midi *m, const cdz_midi_track *t, sink *s) {
    put_bytes(s, (const uint8_t *)"MTrk", 4);
    size_t len_at = s->n;
    put_be(s, 0, 4);
    size_t body = s->n;
    int64_t prev = 0;
    uint8_t running = 0;
    int ended = 0;
    for (size_t i = 0; i < t->n_events; i++) {
        const cdz_midi_event *e = &t->events[i];
        put_vlq(s, (uint32_t)(e->tick - prev));
        prev = e->tick;
        if (e->kind == CDZ_MIDI_EVENT_CHANNEL) {
            if (e->status != running) put(s, e->status);
            running = e->status;
            put(s, e->data1);
            if (midi_data_len(e->status) == 2) put(s, e->data2);
            continue;
        }
        /* Meta and sysex cancel running status for readers that follow the standard. */
        running = 0;
        if (e->kind == CDZ_MIDI_EVENT_META) {
            put(s, 0xFF);
            put(s, e->status);
            ended = e->status == CDZ_META_END_OF_TRACK;
        } else {
            put(s, e->kind == CDZ_MIDI_EVENT_SYSEX ? 0xF0 : 0xF7);
        }
        put_vlq(s, e->data_len);
        if (e->data_len) put_bytes(s, m->pool + e->data_off, e->data_len);
    }
    if (!ended) {
        put(s, 0x00);
        put(s, 0xFF);
        put(s, CDZ_META_END_OF_TRACK);
        put(s, 0x00);
    }
    if (s->p) {
        uint32_t n = (uint32_t)(s->n - body);
        for (int i = 0; i < 4; i++) s->p[len_at + i] = (uint8_t)(n >> (8 * (3 - i)));
    }
}

static void emit_file(const cdz_midi *m, sink *s) {
    put_bytes(s, (const uint8_t *)"MThd", 4);
    put_be(s, 6, 4);
    put_be(s, m->format, 2);
    put_be(s, (uint32_t)m->n_tracks, 2);
    put_be(s, m->division, 2);
    for (size_t i = 0; i < m->n_tracks; i++) emit_track(m, &m->tracks[i], s);
}

cdz_status cdz_midi_write(const cdz_midi *m, uint8_t **out, size_t *len, cdz_error *err) {
    *out = NULL;
    *len = 0;
    if (m->format > 2) return cdz_error_set(err, CDZ_ERR_ARG, "MIDI format %u: expected 0, 1 or 2", m->format);
    if (m->n_tracks > 0xFFFF) return cdz_error_set(err, CDZ_ERR_RANGE, "%zu tracks: a MIDI file holds at most 65535", m->n_tracks);
    if (m->format == 0 && m->n_tracks != 1)
        return cdz_error_set(err, CDZ_ERR_ARG, "format 0 needs exactly one track, have %zu", m->n_tracks);
    if (m->division == 0) return cdz_error_set(err, CDZ_ERR_ARG, "division is 0");
    for (size_t i = 0; i < m->n_tracks; i++) {
        cdz_status st = check_track(m, i, err);
        if (st != CDZ_OK) return st;
    }
    sink count = {NULL, 0};
    emit_file(m, &count);
    for (size_t i = 0; i < m->n_tracks; i++) {
        /* A track chunk's length field has 32 bits: bound each track by the bytes it can need. */
        size_t most = 8, per_event = 4 + 2 + 4; /* delta, status/type, length; payload added below */
        for (size_t k = 0; k < m->tracks[i].n_events; k++) most += per_event + m->tracks[i].events[k].data_len;
        if (most > UINT32_MAX)
            return cdz_error_set(err, CDZ_ERR_RANGE, "track %zu is too long for a MIDI file (over 4 GiB)", i);
    }
    sink s = {cdz_malloc(count.n), 0};
    if (!s.p) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory writing %zu bytes of MIDI", count.n);
    emit_file(m, &s);
    CDZ_ASSERT(s.n == count.n);
    *out = s.p;
    *len = s.n;
    return CDZ_OK;
}

cdz_status cdz_midi_write_file(const cdz_midi *m, const char *path, cdz_error *err) {
    uint8_t *bytes;
    size_t len;
    cdz_status st = cdz_midi_write(m, &bytes, &len, err);
    if (st != CDZ_OK) {
        if (err) {
            char msg[sizeof err->msg];
            memcpy(msg, err->msg, sizeof msg);
            cdz_error_set(err, st, "%s: %s", path, msg);
        }
        return st;
    }
    st = cdz_file_write_atomic(path, bytes, len, err);
    cdz_free(bytes);
    return st;
}

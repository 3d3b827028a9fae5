/* Standard MIDI File reader. Every read is bounds-checked against the end of its chunk; all lengths
 * from the file are checked before use. Defects that leave the music readable become warnings;
 * anything else is a CDZ_ERR_FORMAT naming the file, the track and the byte offset. */
#include "midi_internal.h"

#include <stdio.h>
#include <string.h>

typedef struct reader {
    cdz_midi *m;
    const uint8_t *b; /* the SMF bytes (inside any RIFF wrapper) */
    size_t len;
    size_t base; /* offset of b within the file, so messages give file offsets */
    const char *name;
    cdz_error *err;
} reader;

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static uint32_t le32(const uint8_t *p) {
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static void warn(reader *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void warn(reader *r, const char *fmt, ...) {
    cdz_midi *m = r->m;
    if (m->n_warnings < CDZ_MIDI_MAX_WARNINGS) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(m->warnings[m->n_warnings], sizeof m->warnings[0], fmt, ap);
        va_end(ap);
    }
    if (m->n_warnings < UINT32_MAX) m->n_warnings++;
}

#define NAME(r) ((r)->name ? (r)->name : "<memory>")

/* Errors inside a track: "<file>: track N: byte X: what". */
static cdz_status track_error(reader *r, size_t track, size_t pos, const char *what, uint8_t byte) {
    return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: track %zu: byte %zu: %s 0x%02X", NAME(r), track,
                         r->base + pos, what, byte);
}

/* A variable-length quantity of at most 4 bytes, ending before `end`. */
static cdz_status read_vlq(reader *r, size_t track, size_t *pos, size_t end, uint32_t *out) {
    uint32_t v = 0;
    size_t p = *pos;
    for (int i = 0; i < 4; i++) {
        if (p >= end) {
            cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: track %zu: byte %zu: event cut off: variable-length number runs past the end of the track",
                          NAME(r), track, r->base + *pos);
            return CDZ_ERR_FORMAT;
        }
        uint8_t c = r->b[p++];
        v = (v << 7) | (c & 0x7F);
        if (!(c & 0x80)) {
            *pos = p;
            *out = v;
            return CDZ_OK;
        }
    }
    return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: track %zu: byte %zu: variable-length number longer than 4 bytes",
                         NAME(r), track, r->base + *pos);
}

static cdz_status cut_off(reader *r, size_t track, size_t pos, const char *what) {
    return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: track %zu: byte %zu: event cut off: %s runs past the end of the track",
                         NAME(r), track, r->base + pos, what);
}

static cdz_status push(reader *r, cdz_midi_track *t, const cdz_midi_event *e) {
    if (t->n_events == t->cap_events &&
        cdz_grow((void **)&t->events, &t->cap_events, t->n_events + 1, sizeof *t->events) != CDZ_OK)
        return cdz_error_set(r->err, CDZ_ERR_NOMEM, "%s: out of memory reading events", NAME(r));
    t->events[t->n_events++] = *e;
    return CDZ_OK;
}

/* Parses one MTrk body b[start, end). The pool is the whole file, so payload offsets are file offsets. */
static cdz_status parse_track(reader *r, size_t ti, size_t start, size_t end) {
    cdz_midi_track *t = &r->m->tracks[ti];
    /* An event takes at least 2 bytes (delta + running-status data), usually 3-4 (about 3.5 over the
     * shared corpora): start near that, and grow if needed. */
    size_t hint = (end - start) / 4 + 4;
    if (cdz_grow((void **)&t->events, &t->cap_events, hint, sizeof *t->events) != CDZ_OK)
        return cdz_error_set(r->err, CDZ_ERR_NOMEM, "%s: out of memory reading track %zu", NAME(r), ti);
    const uint8_t *b = r->b;
    size_t p = start;
    int64_t tick = 0;
    uint8_t running = 0;
    int saw_end = 0;
    cdz_status st;
    while (p < end) {
        uint32_t delta;
        if ((st = read_vlq(r, ti, &p, end, &delta)) != CDZ_OK) return st;
        tick += delta;
        if (p >= end) return cut_off(r, ti, p, "a delta time with no event");
        size_t ev_pos = p;
        uint8_t status = b[p];
        if (status & 0x80) {
            p++;
        } else if (running) {
            status = running;
        } else {
            return track_error(r, ti, ev_pos, "data byte where a status byte was expected (no running status):", status);
        }
        cdz_midi_event e = {.tick = tick, .status = status};
        if (status < 0xF0) {
            running = status;
            int n = midi_data_len(status);
            if (end - p < (size_t)n) return cut_off(r, ti, ev_pos, "a channel message");
            for (int i = 0; i < n; i++) {
                if (b[p + i] & 0x80)
                    return track_error(r, ti, p + i, "status byte where a data byte was expected:", b[p + i]);
            }
            e.kind = CDZ_MIDI_EVENT_CHANNEL;
            e.data1 = b[p];
            e.data2 = n == 2 ? b[p + 1] : 0;
            p += (size_t)n;
        } else if (status == 0xFF || status == 0xF0 || status == 0xF7) {
            if (status == 0xFF) {
                if (p >= end) return cut_off(r, ti, ev_pos, "a meta event");
                e.kind = CDZ_MIDI_EVENT_META;
                e.status = b[p++];
            } else {
                e.kind = status == 0xF0 ? CDZ_MIDI_EVENT_SYSEX : CDZ_MIDI_EVENT_ESCAPE;
            }
            uint32_t n;
            if ((st = read_vlq(r, ti, &p, end, &n)) != CDZ_OK) return st;
            if (end - p < n) return cut_off(r, ti, ev_pos, e.kind == CDZ_MIDI_EVENT_META ? "a meta event" : "a sysex event");
            e.data_off = (uint32_t)(r->base + p);
            e.data_len = n;
            p += n;
        } else {
            return track_error(r, ti, ev_pos, "unexpected status byte (system common and real-time messages cannot appear in a file):", status);
        }
        if ((st = push(r, t, &e)) != CDZ_OK) return st;
        if (e.kind == CDZ_MIDI_EVENT_META && e.status == CDZ_META_END_OF_TRACK) {
            saw_end = 1;
            break;
        }
    }
    if (!saw_end)
        warn(r, "track %zu: no end-of-track event", ti);
    else if (p < end)
        warn(r, "track %zu: %zu bytes after end-of-track ignored", ti, end - p);
    return CDZ_OK;
}

static int is_chunk_id(const uint8_t *p) {
    for (int i = 0; i < 4; i++)
        if (p[i] < 0x20 || p[i] > 0x7E) return 0;
    return 1;
}

/* Finds the SMF inside a RIFF "RMID" file: its "data" chunk. */
static cdz_status unwrap_riff(reader *r) {
    size_t p = 12;
    while (r->len - p >= 8) {
        uint32_t n = le32(r->b + p + 4);
        if (memcmp(r->b + p, "data", 4) == 0) {
            size_t avail = r->len - p - 8;
            if (n > avail) {
                warn(r, "RIFF data chunk declares %u bytes, file has %zu", n, avail);
                n = (uint32_t)avail;
            }
            r->base = p + 8;
            r->b += p + 8;
            r->len = n;
            return CDZ_OK;
        }
        size_t skip = (size_t)n + (n & 1); /* RIFF chunks are padded to even length */
        if (skip > r->len - p - 8) break;
        p += 8 + skip;
    }
    return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: RIFF file without a MIDI 'data' chunk", NAME(r));
}

static cdz_status parse_header(reader *r) {
    cdz_midi *m = r->m;
    if (r->len < 4 || memcmp(r->b, "MThd", 4) != 0)
        return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: not a MIDI file (byte %zu: expected 'MThd')", NAME(r), r->base);
    if (r->len < 14)
        return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: byte %zu: header cut off (%zu bytes, need 14)", NAME(r), r->base, r->len);
    uint32_t hlen = be32(r->b + 4);
    if (hlen < 6)
        return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: byte %zu: header length %u, expected 6", NAME(r), r->base + 4, hlen);
    if (hlen > r->len - 8)
        return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: byte %zu: header length %u runs past the end of the file", NAME(r), r->base + 4, hlen);
    if (hlen > 6) warn(r, "header is %u bytes long, expected 6; extra bytes ignored", hlen);
    const uint8_t *h = r->b + 8;
    m->format = (uint16_t)((h[0] << 8) | h[1]);
    m->n_tracks_header = (uint16_t)((h[2] << 8) | h[3]);
    m->division = (uint16_t)((h[4] << 8) | h[5]);
    if (m->format > 2)
        return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: byte %zu: unknown format %u (expected 0, 1 or 2)", NAME(r), r->base + 8, m->format);
    if (m->division & 0x8000) {
        int fps = -(int8_t)(m->division >> 8);
        if (fps != 24 && fps != 25 && fps != 29 && fps != 30)
            return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: byte %zu: SMPTE division with %d frames per second (expected 24, 25, 29 or 30)",
                                 NAME(r), r->base + 12, fps);
        if ((m->division & 0xFF) == 0)
            return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: byte %zu: SMPTE division with 0 ticks per frame", NAME(r), r->base + 12);
        m->smpte_fps = fps;
        m->ticks_per_frame = m->division & 0xFF;
    } else {
        if (m->division == 0)
            return cdz_error_set(r->err, CDZ_ERR_FORMAT, "%s: byte %zu: division is 0 ticks per quarter note", NAME(r), r->base + 12);
        m->ppq = m->division;
    }
    return CDZ_OK;
}

/* Walks the chunks after the header; returns the number of MTrk chunks or an error. */
static cdz_status parse_chunks(reader *r, size_t pos) {
    cdz_midi *m = r->m;
    cdz_status st;
    while (pos < r->len) {
        size_t left = r->len - pos;
        if (left < 8 || !is_chunk_id(r->b + pos)) {
            warn(r, "%zu trailing bytes after the last chunk (byte %zu)", left, r->base + pos);
            break;
        }
        uint32_t clen = be32(r->b + pos + 4);
        size_t body = pos + 8;
        size_t end = body + (clen < r->len - body ? clen : r->len - body);
        if (memcmp(r->b + pos, "MTrk", 4) != 0) {
            if (clen > r->len - body) {
                warn(r, "unknown chunk '%.4s' at byte %zu runs past the end of the file", (const char *)r->b + pos, r->base + pos);
                break;
            }
            warn(r, "unknown chunk '%.4s' at byte %zu skipped", (const char *)r->b + pos, r->base + pos);
            pos = end;
            continue;
        }
        size_t ti = m->n_tracks;
        if (clen > r->len - body)
            warn(r, "track %zu: length %u runs %zu bytes past the end of the file; read to the end", ti, clen,
                 (size_t)clen - (r->len - body));
        if (m->n_tracks == m->cap_tracks &&
            cdz_grow((void **)&m->tracks, &m->cap_tracks, m->n_tracks + 1, sizeof *m->tracks) != CDZ_OK)
            return cdz_error_set(r->err, CDZ_ERR_NOMEM, "%s: out of memory reading tracks", NAME(r));
        memset(&m->tracks[ti], 0, sizeof m->tracks[ti]);
        m->n_tracks++;
        if ((st = parse_track(r, ti, body, end)) != CDZ_OK) return st;
        pos = end;
    }
    return CDZ_OK;
}

/* Reads from `file` (len bytes), which becomes the pool: the caller's copy or the buffer read_file made. */
static cdz_status read_pooled(cdz_midi *m, uint8_t *file, size_t len, const char *name, cdz_error *err) {
    reader r = {m, file, len, 0, name, err};
    cdz_status st;
    m->pool = file;
    m->pool_len = m->pool_cap = len;
    if (len >= 12 && memcmp(file, "RIFF", 4) == 0 && memcmp(file + 8, "RMID", 4) == 0) {
        if ((st = unwrap_riff(&r)) != CDZ_OK) goto fail;
    }
    if ((st = parse_header(&r)) != CDZ_OK) goto fail;
    size_t first_chunk = 8 + (size_t)be32(r.b + 4);
    if ((st = parse_chunks(&r, first_chunk)) != CDZ_OK) goto fail;
    if (m->n_tracks == 0 && m->n_tracks_header > 0) {
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: byte %zu: file ends before its first track (header declares %u)",
                           NAME(&r), r.base + first_chunk, m->n_tracks_header);
        goto fail;
    }
    if (m->n_tracks != m->n_tracks_header)
        warn(&r, "header declares %u tracks, file has %zu", m->n_tracks_header, m->n_tracks);
    if (m->format == 0 && m->n_tracks > 1) warn(&r, "format 0 file with %zu tracks", m->n_tracks);
    return CDZ_OK;
fail:
    cdz_midi_free(m);
    return st;
}

cdz_status cdz_midi_read(cdz_midi *m, const uint8_t *bytes, size_t len, const char *name, cdz_error *err) {
    memset(m, 0, sizeof *m);
    if (!bytes && len) return cdz_error_set(err, CDZ_ERR_ARG, "%s: no bytes given", name ? name : "<memory>");
    if (len > UINT32_MAX)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: file larger than 4 GiB", name ? name : "<memory>");
    uint8_t *copy = cdz_malloc(len);
    if (!copy) return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory (%zu bytes)", name ? name : "<memory>", len);
    if (len) memcpy(copy, bytes, len);
    return read_pooled(m, copy, len, name, err);
}

cdz_status cdz_midi_read_file(cdz_midi *m, const char *path, cdz_error *err) {
    uint8_t *bytes;
    size_t len;
    memset(m, 0, sizeof *m);
    cdz_status st = cdz_file_read_all(path, &bytes, &len, err);
    if (st != CDZ_OK) return st;
    if (len > UINT32_MAX) {
        cdz_free(bytes);
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: file larger than 4 GiB", path);
    }
    return read_pooled(m, bytes, len, path, err);
}

void cdz_midi_free(cdz_midi *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_tracks; i++) cdz_free(m->tracks[i].events);
    cdz_free(m->tracks);
    cdz_free(m->pool);
    memset(m, 0, sizeof *m);
}

/* Building MIDI files in memory, and decoding meta payloads. */
#include "midi_internal.h"

#include <string.h>

cdz_status cdz_midi_init(cdz_midi *m, uint16_t format, int32_t ppq, cdz_error *err) {
    memset(m, 0, sizeof *m);
    if (format > 2) return cdz_error_set(err, CDZ_ERR_ARG, "MIDI format %u: expected 0, 1 or 2", format);
    if (ppq <= 0 || ppq > 0x7FFF)
        return cdz_error_set(err, CDZ_ERR_ARG, "ticks per quarter note %d: expected 1 to 32767", (int)ppq);
    m->format = format;
    m->ppq = ppq;
    m->division = (uint16_t)ppq;
    return CDZ_OK;
}

cdz_status cdz_midi_add_track(cdz_midi *m, size_t *index) {
    if (m->n_tracks >= 0xFFFF) return CDZ_ERR_RANGE; /* the header counts tracks in 16 bits */
    if (cdz_grow((void **)&m->tracks, &m->cap_tracks, m->n_tracks + 1, sizeof *m->tracks) != CDZ_OK)
        return CDZ_ERR_NOMEM;
    memset(&m->tracks[m->n_tracks], 0, sizeof m->tracks[0]);
    if (index) *index = m->n_tracks;
    m->n_tracks++;
    m->n_tracks_header = (uint16_t)m->n_tracks;
    return CDZ_OK;
}

static cdz_status append(cdz_midi *m, size_t track, const cdz_midi_event *e) {
    if (track >= m->n_tracks) return CDZ_ERR_ARG;
    cdz_midi_track *t = &m->tracks[track];
    if (cdz_grow((void **)&t->events, &t->cap_events, t->n_events + 1, sizeof *t->events) != CDZ_OK)
        return CDZ_ERR_NOMEM;
    t->events[t->n_events++] = *e;
    return CDZ_OK;
}

cdz_status cdz_midi_add_channel(cdz_midi *m, size_t track, int64_t tick, uint8_t status, uint8_t data1,
                                uint8_t data2) {
    if (status < 0x80 || status >= 0xF0 || data1 > 0x7F || data2 > 0x7F || tick < 0) return CDZ_ERR_ARG;
    if (midi_data_len(status) == 1) data2 = 0;
    cdz_midi_event e = {.tick = tick, .kind = CDZ_MIDI_EVENT_CHANNEL, .status = status, .data1 = data1, .data2 = data2};
    return append(m, track, &e);
}

cdz_status cdz_midi_add_data(cdz_midi *m, size_t track, int64_t tick, cdz_midi_event_kind kind,
                             uint8_t status, const void *data, uint32_t len) {
    if (tick < 0 || track >= m->n_tracks || (len && !data)) return CDZ_ERR_ARG;
    if (kind == CDZ_MIDI_EVENT_META) {
        /* Meta types are 0-127 in the standard, but any byte reads and writes back unchanged. */
    } else if (kind == CDZ_MIDI_EVENT_SYSEX || kind == CDZ_MIDI_EVENT_ESCAPE) {
        status = kind == CDZ_MIDI_EVENT_SYSEX ? 0xF0 : 0xF7;
    } else {
        return CDZ_ERR_ARG;
    }
    size_t need;
    if (!cdz_add_ok(m->pool_len, len, &need) || need > UINT32_MAX) return CDZ_ERR_RANGE;
    if (cdz_grow((void **)&m->pool, &m->pool_cap, need, 1) != CDZ_OK) return CDZ_ERR_NOMEM;
    cdz_midi_event e = {.tick = tick, .kind = (uint8_t)kind, .status = status, .data_off = (uint32_t)m->pool_len,
                        .data_len = len};
    cdz_status st = append(m, track, &e);
    if (st != CDZ_OK) return st;
    if (len) memcpy(m->pool + m->pool_len, data, len);
    m->pool_len = need;
    return CDZ_OK;
}

const char *cdz_midi_meta_name(uint8_t type) {
    switch (type) {
    case CDZ_META_SEQUENCE_NUMBER: return "sequence_number";
    case CDZ_META_TEXT: return "text";
    case CDZ_META_COPYRIGHT: return "copyright";
    case CDZ_META_TRACK_NAME: return "track_name";
    case CDZ_META_INSTRUMENT_NAME: return "instrument_name";
    case CDZ_META_LYRIC: return "lyric";
    case CDZ_META_MARKER: return "marker";
    case CDZ_META_CUE_POINT: return "cue_point";
    case CDZ_META_PROGRAM_NAME: return "program_name";
    case CDZ_META_DEVICE_NAME: return "device_name";
    case CDZ_META_CHANNEL_PREFIX: return "channel_prefix";
    case CDZ_META_PORT: return "port";
    case CDZ_META_END_OF_TRACK: return "end_of_track";
    case CDZ_META_TEMPO: return "tempo";
    case CDZ_META_SMPTE_OFFSET: return "smpte_offset";
    case CDZ_META_TIME_SIGNATURE: return "time_signature";
    case CDZ_META_KEY_SIGNATURE: return "key_signature";
    case CDZ_META_SEQUENCER_SPECIFIC: return "sequencer_specific";
    default: return "unknown";
    }
}

static int is_meta(const cdz_midi_event *e, uint8_t type, uint32_t len) {
    return e->kind == CDZ_MIDI_EVENT_META && e->status == type && e->data_len == len;
}

cdz_status cdz_midi_meta_tempo(const cdz_midi *m, const cdz_midi_event *e, uint32_t *usec_per_quarter) {
    if (!is_meta(e, CDZ_META_TEMPO, 3)) return CDZ_ERR_FORMAT;
    const uint8_t *p = (m->pool + e->data_off);
    *usec_per_quarter = ((uint32_t)p[0] << 16) | ((uint32_t)p[1] << 8) | p[2];
    return CDZ_OK;
}

cdz_status cdz_midi_meta_time_signature(const cdz_midi *m, const cdz_midi_event *e, uint8_t *numerator,
                                        uint8_t *denominator, uint8_t *clocks_per_click,
                                        uint8_t *n32nd_per_quarter) {
    /* Some writers leave out the last two bytes; the first two carry the meaning. */
    if (e->kind != CDZ_MIDI_EVENT_META || e->status != CDZ_META_TIME_SIGNATURE || e->data_len < 2)
        return CDZ_ERR_FORMAT;
    const uint8_t *p = (m->pool + e->data_off);
    if (p[1] > 7) return CDZ_ERR_FORMAT; /* denominator is a power of two, 2^7 = 128 at most */
    *numerator = p[0];
    *denominator = (uint8_t)(1u << p[1]);
    if (clocks_per_click) *clocks_per_click = e->data_len > 2 ? p[2] : 24;
    if (n32nd_per_quarter) *n32nd_per_quarter = e->data_len > 3 ? p[3] : 8;
    return CDZ_OK;
}

cdz_status cdz_midi_meta_key_signature(const cdz_midi *m, const cdz_midi_event *e, int8_t *sharps,
                                       uint8_t *minor) {
    if (!is_meta(e, CDZ_META_KEY_SIGNATURE, 2)) return CDZ_ERR_FORMAT;
    const uint8_t *p = (m->pool + e->data_off);
    int8_t sf = (int8_t)p[0];
    if (sf < -7 || sf > 7 || p[1] > 1) return CDZ_ERR_FORMAT;
    *sharps = sf;
    *minor = p[1];
    return CDZ_OK;
}

double cdz_midi_smpte_seconds_per_tick(const cdz_midi *m) {
    if (m->smpte_fps <= 0 || m->ticks_per_frame <= 0) return 0.0;
    double fps = m->smpte_fps == 29 ? 30000.0 / 1001.0 : (double)m->smpte_fps;
    return 1.0 / (fps * m->ticks_per_frame);
}

const uint8_t *cdz_midi_payload(const cdz_midi *m, const cdz_midi_event *e) { return m->pool + e->data_off; }

int cdz_midi_event_is_note_on(const cdz_midi_event *e) {
    return e->kind == CDZ_MIDI_EVENT_CHANNEL && (e->status & 0xF0) == CDZ_MIDI_NOTE_ON && e->data2 > 0;
}

int cdz_midi_event_is_note_off(const cdz_midi_event *e) {
    return e->kind == CDZ_MIDI_EVENT_CHANNEL &&
           ((e->status & 0xF0) == CDZ_MIDI_NOTE_OFF || ((e->status & 0xF0) == CDZ_MIDI_NOTE_ON && e->data2 == 0));
}

int cdz_midi_channel_data_len(uint8_t status) { return midi_data_len(status); }

/* cadenza midi: Standard MIDI File bytes <-> tracks of timed events.
 *
 *   cdz_midi m;
 *   cdz_error err;
 *   if (cdz_midi_read_file(&m, "song.mid", &err) != CDZ_OK) { puts(err.msg); return 1; }
 *   for (size_t t = 0; t < m.n_tracks; t++)
 *       for (size_t i = 0; i < m.tracks[t].n_events; i++) { const cdz_midi_event *e = &m.tracks[t].events[i]; ... }
 *   cdz_midi_free(&m);
 *
 * Owns: the parsed file (events, and a byte pool holding meta and sysex payloads). Reading is a pure
 * function of the bytes: every read is bounds-checked, variable-length numbers are capped at 4 bytes,
 * and no input can crash, hang or leak. Real-world defects that still leave the music readable (missing
 * end-of-track, a track length past the end of the file, trailing bytes, a track count that differs
 * from the header, data after end-of-track) are read and recorded as warnings; broken input returns
 * CDZ_ERR_FORMAT with a message naming the file, the track and the byte offset.
 *
 * Running status is kept across meta and sysex events (the standard says they cancel it, but real files
 * rely on it surviving them; a file that follows the standard reads the same either way). Note-on with
 * velocity 0 is kept as recorded; cdz_midi_event_is_note_off() treats it as a note-off.
 *
 * Writing is deterministic: the same events give the same bytes. The writer uses running status
 * between channel messages and restarts it after every meta or sysex event.
 *
 * Thread safety: functions on distinct cdz_midi objects may run concurrently. */
#ifndef CADENZA_MIDI_H
#define CADENZA_MIDI_H

#include "cadenza/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cdz_midi_event_kind {
    CDZ_MIDI_EVENT_CHANNEL = 0, /* note on/off, aftertouch, control change, program, pressure, bend */
    CDZ_MIDI_EVENT_META = 1,    /* FF type length data */
    CDZ_MIDI_EVENT_SYSEX = 2,   /* F0 length data */
    CDZ_MIDI_EVENT_ESCAPE = 3,  /* F7 length data: sysex continuation or escaped bytes */
} cdz_midi_event_kind;

/* Meta event types (the byte after FF). */
enum {
    CDZ_META_SEQUENCE_NUMBER = 0x00,
    CDZ_META_TEXT = 0x01,
    CDZ_META_COPYRIGHT = 0x02,
    CDZ_META_TRACK_NAME = 0x03,
    CDZ_META_INSTRUMENT_NAME = 0x04,
    CDZ_META_LYRIC = 0x05,
    CDZ_META_MARKER = 0x06,
    CDZ_META_CUE_POINT = 0x07,
    CDZ_META_PROGRAM_NAME = 0x08,
    CDZ_META_DEVICE_NAME = 0x09,
    CDZ_META_CHANNEL_PREFIX = 0x20,
    CDZ_META_PORT = 0x21,
    CDZ_META_END_OF_TRACK = 0x2F,
    CDZ_META_TEMPO = 0x51,
    CDZ_META_SMPTE_OFFSET = 0x54,
    CDZ_META_TIME_SIGNATURE = 0x58,
    CDZ_META_KEY_SIGNATURE = 0x59,
    CDZ_META_SEQUENCER_SPECIFIC = 0x7F,
};

/* Channel message kinds (the high nibble of the status byte). */
enum {
    CDZ_MIDI_NOTE_OFF = 0x80,
    CDZ_MIDI_NOTE_ON = 0x90,
    CDZ_MIDI_POLY_AFTERTOUCH = 0xA0,
    CDZ_MIDI_CONTROL_CHANGE = 0xB0,
    CDZ_MIDI_PROGRAM_CHANGE = 0xC0,
    CDZ_MIDI_CHANNEL_PRESSURE = 0xD0,
    CDZ_MIDI_PITCH_BEND = 0xE0,
};

typedef struct cdz_midi_event {
    int64_t tick;      /* absolute ticks from the start of the track */
    uint32_t data_off; /* meta/sysex payload: offset into cdz_midi.pool */
    uint32_t data_len; /* meta/sysex payload length in bytes */
    uint8_t kind;      /* cdz_midi_event_kind */
    uint8_t status;    /* channel: status byte 0x80-0xEF; meta: meta type; sysex: 0xF0 or 0xF7 */
    uint8_t data1;     /* channel messages: first data byte (key, controller, program, bend LSB) */
    uint8_t data2;     /* channel messages: second data byte (velocity, value, bend MSB); 0 if none */
} cdz_midi_event;

typedef struct cdz_midi_track {
    cdz_midi_event *events;
    size_t n_events, cap_events;
} cdz_midi_track;

#define CDZ_MIDI_MAX_WARNINGS 8

typedef struct cdz_midi {
    uint16_t format;          /* 0, 1 or 2 */
    uint16_t division;        /* the raw header field */
    int32_t ppq;              /* ticks per quarter note; 0 for SMPTE division */
    int32_t smpte_fps;        /* 24, 25, 29 (29.97 drop-frame) or 30; 0 for PPQ division */
    int32_t ticks_per_frame;  /* SMPTE division only */
    uint16_t n_tracks_header; /* the track count the header declared (may differ from n_tracks) */
    cdz_midi_track *tracks;
    size_t n_tracks, cap_tracks;
    uint8_t *pool; /* payload bytes of meta and sysex events */
    size_t pool_len, pool_cap;
    uint32_t n_warnings;                        /* all warnings, even those not kept below */
    char warnings[CDZ_MIDI_MAX_WARNINGS][160];  /* the first few, as text */
} cdz_midi;

/* Parses `len` bytes. `name` (may be NULL) is used in messages. On error *m is left empty (safe to
 * cdz_midi_free). RIFF/RMID wrappers are unwrapped; byte offsets in messages count from the file start. */
CDZ_API cdz_status cdz_midi_read(cdz_midi *m, const uint8_t *bytes, size_t len, const char *name, cdz_error *err);
CDZ_API cdz_status cdz_midi_read_file(cdz_midi *m, const char *path, cdz_error *err);
CDZ_API void cdz_midi_free(cdz_midi *m);

/* Serialises to a new buffer (free with cdz_free). Format 0 needs exactly one track. Ticks within a
 * track must not decrease; an end-of-track event is appended where a track lacks one; one anywhere but
 * last is an error. */
CDZ_API cdz_status cdz_midi_write(const cdz_midi *m, uint8_t **out, size_t *len, cdz_error *err);
CDZ_API cdz_status cdz_midi_write_file(const cdz_midi *m, const char *path, cdz_error *err);

/* ---- building a file in memory ---- */
/* An empty file with PPQ division (ppq in 1..32767). */
CDZ_API cdz_status cdz_midi_init(cdz_midi *m, uint16_t format, int32_t ppq, cdz_error *err);
CDZ_API cdz_status cdz_midi_add_track(cdz_midi *m, size_t *index);
CDZ_API cdz_status cdz_midi_add_channel(cdz_midi *m, size_t track, int64_t tick, uint8_t status, uint8_t data1,
                                uint8_t data2);
/* kind is CDZ_MIDI_EVENT_META (status = meta type), _SYSEX or _ESCAPE (status ignored). */
CDZ_API cdz_status cdz_midi_add_data(cdz_midi *m, size_t track, int64_t tick, cdz_midi_event_kind kind,
                             uint8_t status, const void *data, uint32_t len);

/* ---- reading events ---- */
/* The bytes of a meta, sysex or escape event (e->data_len of them). */
CDZ_API const uint8_t *cdz_midi_payload(const cdz_midi *m, const cdz_midi_event *e);
/* A note-on with a velocity above 0. */
CDZ_API int cdz_midi_event_is_note_on(const cdz_midi_event *e);
/* A note-off, or a note-on with velocity 0 (which means one). */
CDZ_API int cdz_midi_event_is_note_off(const cdz_midi_event *e);
/* Number of data bytes that follow a channel status byte (1 or 2). */
CDZ_API int cdz_midi_channel_data_len(uint8_t status);
/* A lower-case name for a meta type ("track_name", "tempo", ...; "unknown" otherwise). */
CDZ_API const char *cdz_midi_meta_name(uint8_t type);
/* Decoders for meta payloads; each returns CDZ_ERR_FORMAT if the payload has the wrong length. */
CDZ_API cdz_status cdz_midi_meta_tempo(const cdz_midi *m, const cdz_midi_event *e, uint32_t *usec_per_quarter);
CDZ_API cdz_status cdz_midi_meta_time_signature(const cdz_midi *m, const cdz_midi_event *e, uint8_t *numerator,
                                        uint8_t *denominator, uint8_t *clocks_per_click,
                                        uint8_t *n32nd_per_quarter);
CDZ_API cdz_status cdz_midi_meta_key_signature(const cdz_midi *m, const cdz_midi_event *e, int8_t *sharps,
                                       uint8_t *minor);

/* Seconds per tick for SMPTE division (PPQ timing needs the tempo map: see score.h). */
CDZ_API double cdz_midi_smpte_seconds_per_tick(const cdz_midi *m);

#ifdef __cplusplus
}
#endif
#endif

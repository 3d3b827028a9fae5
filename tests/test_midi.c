/* MIDI reader and writer on hand-built byte arrays: every event kind, every division kind, every
 * tolerated defect (a warning) and every error case (message with file, track and byte offset). */
#include "fuzz/midi_oracle.h"
#include "test.h"

static const cdz_midi_event *ev(const cdz_midi *m, size_t t, size_t i) {
    static const cdz_midi_event none = {0};
    if (t >= m->n_tracks || i >= m->tracks[t].n_events) return &none;
    return &m->tracks[t].events[i];
}

static cdz_status read_bytes(cdz_midi *m, const bytes *x, cdz_error *err) {
    return cdz_midi_read(m, x->b, x->n, "test.mid", err);
}

/* Every channel message kind, each with its own status byte. */
static void test_channel_messages(void) {
    bytes x = {0};
    by_header(&x, 0, 1, 96);
    BY_TRACK(&x, 0x00, 0x90, 60, 100,    /* note on */
             0x10, 0x80, 60, 64,         /* note off */
             0x00, 0xA1, 61, 30,         /* poly aftertouch ch 2 */
             0x00, 0xB2, 64, 127,        /* control change ch 3 */
             0x00, 0xC3, 40,             /* program change ch 4 */
             0x00, 0xD4, 50,             /* channel pressure ch 5 */
             0x00, 0xEF, 0x00, 0x40,     /* pitch bend ch 16, centre */
             0x00, 0x99, 36, 0,          /* note on with velocity 0 on drums */
             0x00, 0xFF, 0x2F, 0x00);
    cdz_midi m;
    cdz_error err = {0};
    CHECK_INT(read_bytes(&m, &x, &err), CDZ_OK);
    CHECK_INT(m.format, 0);
    CHECK_INT(m.ppq, 96);
    CHECK_INT(m.n_tracks, 1);
    CHECK_INT(m.tracks[0].n_events, 9);
    CHECK_INT(m.n_warnings, 0);
    CHECK_INT(ev(&m, 0, 0)->status, 0x90);
    CHECK_INT(ev(&m, 0, 0)->data1, 60);
    CHECK_INT(ev(&m, 0, 0)->data2, 100);
    CHECK(cdz_midi_event_is_note_on(ev(&m, 0, 0)), "note on");
    CHECK_INT(ev(&m, 0, 1)->tick, 16);
    CHECK(cdz_midi_event_is_note_off(ev(&m, 0, 1)), "note off");
    CHECK_INT(ev(&m, 0, 2)->status, 0xA1);
    CHECK_INT(ev(&m, 0, 2)->data2, 30);
    CHECK_INT(ev(&m, 0, 3)->status, 0xB2);
    CHECK_INT(ev(&m, 0, 3)->data1, 64);
    CHECK_INT(ev(&m, 0, 4)->status, 0xC3);
    CHECK_INT(ev(&m, 0, 4)->data1, 40);
    CHECK_INT(ev(&m, 0, 4)->data2, 0);
    CHECK_INT(ev(&m, 0, 5)->status, 0xD4);
    CHECK_INT(ev(&m, 0, 5)->data1, 50);
    CHECK_INT(ev(&m, 0, 6)->status, 0xEF);
    CHECK_INT(ev(&m, 0, 6)->data2, 0x40);
    CHECK(cdz_midi_event_is_note_off(ev(&m, 0, 7)) && !cdz_midi_event_is_note_on(ev(&m, 0, 7)), "velocity 0 is a note-off");
    CHECK_INT(ev(&m, 0, 8)->kind, CDZ_MIDI_EVENT_META);
    CHECK_INT(ev(&m, 0, 8)->status, CDZ_META_END_OF_TRACK);
    cdz_midi_free(&m);
}

/* Running status, also across meta and sysex events, and with 1-byte messages. */
static void test_running_status(void) {
    bytes x = {0};
    by_header(&x, 0, 1, 480);
    BY_TRACK(&x, 0x00, 0x90, 60, 100,
             0x00, 62, 90,                      /* running note on */
             0x00, 0xFF, 0x01, 0x02, 'h', 'i',  /* text meta */
             0x10, 60, 0,                       /* running status survives the meta event */
             0x00, 0xF0, 0x02, 0x7E, 0xF7,      /* sysex */
             0x00, 62, 0,                       /* and the sysex */
             0x00, 0xC0, 5, 0x00, 6,            /* running program change (one data byte) */
             0x00, 0xFF, 0x2F, 0x00);
    cdz_midi m;
    cdz_error err = {0};
    CHECK_INT(read_bytes(&m, &x, &err), CDZ_OK);
    CHECK_INT(m.tracks[0].n_events, 9);
    CHECK_INT(ev(&m, 0, 1)->status, 0x90);
    CHECK_INT(ev(&m, 0, 1)->data1, 62);
    CHECK_INT(ev(&m, 0, 3)->status, 0x90);
    CHECK_INT(ev(&m, 0, 3)->tick, 16);
    CHECK_INT(ev(&m, 0, 3)->data1, 60);
    CHECK_INT(ev(&m, 0, 5)->data1, 62);
    CHECK_INT(ev(&m, 0, 5)->status, 0x90);
    CHECK_INT(ev(&m, 0, 7)->status, 0xC0);
    CHECK_INT(ev(&m, 0, 7)->data1, 6);
    cdz_midi_free(&m);
}

/* Every meta event kind, with its payload, and the decoders. */
static void test_meta_events(void) {
    bytes x = {0};
    by_header(&x, 1, 1, 480);
    unsigned char body[512];
    size_t n = 0;
#define B(...)                                              \
    do {                                                    \
        const unsigned char t_[] = {__VA_ARGS__};           \
        memcpy(body + n, t_, sizeof t_);                    \
        n += sizeof t_;                                     \
    } while (0)
    B(0x00, 0xFF, 0x00, 0x02, 0x00, 0x07);                      /* sequence number 7 */
    for (unsigned char type = 0x01; type <= 0x09; type++) B(0x00, 0xFF, type, 0x03, 'a', 'b', type); /* texts */
    B(0x00, 0xFF, 0x20, 0x01, 0x05);                            /* channel prefix */
    B(0x00, 0xFF, 0x21, 0x01, 0x02);                            /* port */
    B(0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20);                /* tempo 500000 */
    B(0x00, 0xFF, 0x54, 0x05, 0x60, 0x00, 0x03, 0x00, 0x00);    /* SMPTE offset */
    B(0x00, 0xFF, 0x58, 0x04, 0x06, 0x03, 0x24, 0x08);          /* 6/8 */
    B(0x00, 0xFF, 0x59, 0x02, 0xFD, 0x01);                      /* 3 flats, minor */
    B(0x00, 0xFF, 0x7F, 0x03, 0x00, 0x00, 0x41);                /* sequencer specific */
    B(0x00, 0xFF, 0x2F, 0x00);
#undef B
    by_track(&x, body, n);
    cdz_midi m;
    cdz_error err = {0};
    CHECK_INT(read_bytes(&m, &x, &err), CDZ_OK);
    CHECK_INT(m.tracks[0].n_events, 18);
    CHECK_INT(ev(&m, 0, 0)->status, CDZ_META_SEQUENCE_NUMBER);
    CHECK_INT(ev(&m, 0, 0)->data_len, 2);
    for (unsigned i = 1; i <= 9; i++) {
        const cdz_midi_event *e = ev(&m, 0, i);
        CHECK_INT(e->status, i);
        CHECK(e->data_len == 3 && memcmp(cdz_midi_payload(&m, e), "ab", 2) == 0 && cdz_midi_payload(&m, e)[2] == i,
              "text meta %u payload", i);
    }
    CHECK(strcmp(cdz_midi_meta_name(CDZ_META_TRACK_NAME), "track_name") == 0, "meta name");
    CHECK(strcmp(cdz_midi_meta_name(0x4B), "unknown") == 0, "unknown meta name");
    CHECK_INT(ev(&m, 0, 10)->status, CDZ_META_CHANNEL_PREFIX);
    CHECK_INT(cdz_midi_payload(&m, ev(&m, 0, 10))[0], 5);
    CHECK_INT(ev(&m, 0, 11)->status, CDZ_META_PORT);
    uint32_t usec = 0;
    CHECK_INT(cdz_midi_meta_tempo(&m, ev(&m, 0, 12), &usec), CDZ_OK);
    CHECK_INT(usec, 500000);
    CHECK_INT(ev(&m, 0, 13)->status, CDZ_META_SMPTE_OFFSET);
    CHECK_INT(ev(&m, 0, 13)->data_len, 5);
    uint8_t num = 0, den = 0, cpc = 0, n32 = 0;
    CHECK_INT(cdz_midi_meta_time_signature(&m, ev(&m, 0, 14), &num, &den, &cpc, &n32), CDZ_OK);
    CHECK(num == 6 && den == 8 && cpc == 36 && n32 == 8, "time signature %u/%u %u %u", num, den, cpc, n32);
    int8_t sf = 0;
    uint8_t mi = 0;
    CHECK_INT(cdz_midi_meta_key_signature(&m, ev(&m, 0, 15), &sf, &mi), CDZ_OK);
    CHECK(sf == -3 && mi == 1, "key signature %d %u", sf, mi);
    CHECK_INT(ev(&m, 0, 16)->status, CDZ_META_SEQUENCER_SPECIFIC);
    CHECK_INT(cdz_midi_meta_tempo(&m, ev(&m, 0, 15), &usec), CDZ_ERR_FORMAT); /* wrong kind */
    cdz_midi_free(&m);
}

static void test_sysex(void) {
    bytes x = {0};
    by_header(&x, 0, 1, 480);
    BY_TRACK(&x, 0x00, 0xF0, 0x05, 0x7E, 0x7F, 0x09, 0x01, 0xF7, /* GM on, complete */
             0x00, 0xF0, 0x02, 0x43, 0x12,                         /* a sysex in packets... */
             0x10, 0xF7, 0x02, 0x00, 0xF7,                         /* ...continued with F7 */
             0x00, 0xF7, 0x00,                                     /* an empty escape */
             0x00, 0xFF, 0x2F, 0x00);
    cdz_midi m;
    cdz_error err = {0};
    CHECK_INT(read_bytes(&m, &x, &err), CDZ_OK);
    CHECK_INT(m.tracks[0].n_events, 5);
    CHECK_INT(ev(&m, 0, 0)->kind, CDZ_MIDI_EVENT_SYSEX);
    CHECK_INT(ev(&m, 0, 0)->data_len, 5);
    CHECK_INT(cdz_midi_payload(&m, ev(&m, 0, 0))[4], 0xF7);
    CHECK_INT(ev(&m, 0, 2)->kind, CDZ_MIDI_EVENT_ESCAPE);
    CHECK_INT(ev(&m, 0, 2)->tick, 16);
    CHECK_INT(ev(&m, 0, 3)->data_len, 0);
    cdz_midi_free(&m);
}

static void test_formats_and_divisions(void) {
    for (unsigned format = 0; format <= 2; format++) {
        bytes x = {0};
        unsigned ntrks = format == 0 ? 1 : 3;
        by_header(&x, format, ntrks, 0x0180);
        for (unsigned t = 0; t < ntrks; t++) BY_TRACK(&x, 0x00, 0x90, (unsigned char)(60 + t), 1, 0x81, 0x00, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00);
        cdz_midi m;
        cdz_error err = {0};
        CHECK_INT(read_bytes(&m, &x, &err), CDZ_OK);
        CHECK_INT(m.format, format);
        CHECK_INT(m.n_tracks, ntrks);
        CHECK_INT(m.ppq, 384);
        CHECK_INT(ev(&m, ntrks - 1, 1)->tick, 128); /* 0x81 0x00 is a two-byte delta */
        CHECK_INT(m.n_warnings, 0);
        cdz_midi_free(&m);
    }
    /* SMPTE: 25 fps x 40 ticks per frame = 1 ms per tick; and 29.97 drop-frame. */
    const struct { unsigned division; int fps, tpf; double spt; } smpte[] = {
        {0xE728, 25, 40, 0.001}, {0xE350, 29, 80, 1001.0 / 30000.0 / 80}, {0xE804, 24, 4, 1.0 / 96}, {0xE278, 30, 120, 1.0 / 3600}};
    for (size_t i = 0; i < sizeof smpte / sizeof smpte[0]; i++) {
        bytes x = {0};
        by_header(&x, 0, 1, smpte[i].division);
        BY_TRACK(&x, 0x00, 0xFF, 0x2F, 0x00);
        cdz_midi m;
        cdz_error err = {0};
        CHECK_INT(read_bytes(&m, &x, &err), CDZ_OK);
        CHECK_INT(m.ppq, 0);
        CHECK_INT(m.smpte_fps, smpte[i].fps);
        CHECK_INT(m.ticks_per_frame, smpte[i].tpf);
        CHECK_NEAR(cdz_midi_smpte_seconds_per_tick(&m), smpte[i].spt, 1e-15);
        cdz_midi_free(&m);
    }
}

static void test_riff_and_unknown_chunks(void) {
    bytes smf = {0};
    by_header(&smf, 0, 1, 96);
    BY(&smf, 'X', 'F', 'I', 'H', 0, 0, 0, 2, 0xAA, 0xBB); /* an unknown chunk before the track */
    BY_TRACK(&smf, 0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00);
    cdz_midi m;
    cdz_error err = {0};
    CHECK_INT(read_bytes(&m, &smf, &err), CDZ_OK);
    CHECK_INT(m.n_tracks, 1);
    CHECK_INT(m.tracks[0].n_events, 3);
    CHECK_INT(m.n_warnings, 1);
    CHECK_STR_CONTAINS(m.warnings[0], "unknown chunk 'XFIH'");
    cdz_midi_free(&m);

    bytes x = {0};
    BY(&x, 'R', 'I', 'F', 'F');
    unsigned riff_len = (unsigned)(4 + 8 + 4 + 8 + smf.n);
    BY(&x, riff_len & 0xFF, (riff_len >> 8) & 0xFF, 0, 0, 'R', 'M', 'I', 'D');
    BY(&x, 'L', 'I', 'S', 'T', 3, 0, 0, 0, 'a', 'b', 'c', 0); /* odd length: padded */
    BY(&x, 'd', 'a', 't', 'a', smf.n & 0xFF, (smf.n >> 8) & 0xFF, 0, 0);
    by_put(&x, smf.b, smf.n);
    CHECK_INT(read_bytes(&m, &x, &err), CDZ_OK);
    CHECK_INT(m.n_tracks, 1);
    CHECK_INT(m.tracks[0].n_events, 3);
    CHECK_INT(ev(&m, 0, 1)->tick, 96);
    cdz_midi_free(&m);

    bytes bad = {0};
    BY(&bad, 'R', 'I', 'F', 'F', 4, 0, 0, 0, 'R', 'M', 'I', 'D', 'L', 'I', 'S', 'T', 0, 0, 0, 0);
    CHECK_INT(read_bytes(&m, &bad, &err), CDZ_ERR_FORMAT);
    CHECK_STR_CONTAINS(err.msg, "without a MIDI 'data' chunk");
}

/* Defects real files have: each reads, with a warning that says what was wrong. */
static void test_tolerated_defects(void) {
    struct {
        const char *what, *warning;
        size_t n_events;
    } expect[] = {
        {"missing end-of-track", "track 0: no end-of-track event", 2},
        {"track length past end of file", "track 0: length 100 runs 88 bytes past the end of the file; read to the end", 3},
        {"trailing bytes", "3 trailing bytes after the last chunk (byte 34)", 3},
        {"track count differs", "header declares 2 tracks, file has 1", 3},
        {"data after end-of-track", "track 0: 4 bytes after end-of-track ignored", 3},
        {"long header", "header is 8 bytes long, expected 6; extra bytes ignored", 3},
    };
    for (int k = 0; k < 6; k++) {
        bytes x = {0};
        if (k == 5) {
            BY(&x, 'M', 'T', 'h', 'd', 0, 0, 0, 8, 0, 0, 0, 1, 0, 96, 0xAB, 0xCD);
        } else {
            by_header(&x, 0, k == 3 ? 2 : 1, 96);
        }
        const unsigned char full[] = {0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00};
        if (k == 0) {
            by_track(&x, full, 8);
        } else if (k == 1) {
            BY(&x, 'M', 'T', 'r', 'k', 0, 0, 0, 100);
            by_put(&x, full, sizeof full);
        } else if (k == 2) {
            by_track(&x, full, sizeof full);
            BY(&x, 0, 0, 0);
        } else if (k == 4) {
            bytes body = {0};
            by_put(&body, full, sizeof full);
            BY(&body, 0x00, 0x90, 61, 1);
            by_track(&x, body.b, body.n);
        } else {
            by_track(&x, full, sizeof full);
        }
        cdz_midi m;
        cdz_error err = {0};
        cdz_status st = read_bytes(&m, &x, &err);
        CHECK(st == CDZ_OK, "%s: status %d (%s)", expect[k].what, st, err.msg);
        CHECK(m.n_warnings == 1 && strcmp(m.warnings[0], expect[k].warning) == 0, "%s: warnings %u, first '%s', expected '%s'",
              expect[k].what, m.n_warnings, m.n_warnings ? m.warnings[0] : "", expect[k].warning);
        CHECK(m.n_tracks == 1 && m.tracks[0].n_events == expect[k].n_events, "%s: events", expect[k].what);
        cdz_midi_free(&m);
    }
}

/* Broken input: an error naming the file, the track and the byte offset; nothing leaks (ASan). */
static void test_errors(void) {
    struct {
        const char *what;
        unsigned char data[64];
        size_t len;
        const char *msg;
    } cases[] = {
        {"empty file", {0}, 0, "test.mid: not a MIDI file (byte 0: expected 'MThd')"},
        {"not MIDI", {'R', 'I', 'F', 'X', 'x'}, 5, "test.mid: not a MIDI file"},
        {"cut header", {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 1}, 10, "test.mid: byte 0: header cut off (10 bytes, need 14)"},
        {"short header length", {'M', 'T', 'h', 'd', 0, 0, 0, 4, 0, 0, 0, 1, 0, 96}, 14, "byte 4: header length 4, expected 6"},
        {"header length past end", {'M', 'T', 'h', 'd', 0, 0, 0, 9, 0, 0, 0, 1, 0, 96}, 14, "header length 9 runs past the end"},
        {"format 3", {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 3, 0, 1, 0, 96}, 14, "byte 8: unknown format 3"},
        {"division 0", {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 0}, 14, "byte 12: division is 0"},
        {"SMPTE 23 fps", {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0xE9, 4}, 14, "SMPTE division with 23 frames"},
        {"SMPTE 0 ticks", {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0xE7, 0}, 14, "0 ticks per frame"},
        {"no track", {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96}, 14, "byte 14: file ends before its first track"},
        {"vlq over 4 bytes",
         {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0, 8, 0x81, 0x81, 0x81, 0x81, 0x00, 0x90, 60, 1},
         30, "test.mid: track 0: byte 22: variable-length number longer than 4 bytes"},
        {"channel message cut off",
         {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0, 3, 0x00, 0x90, 60},
         25, "test.mid: track 0: byte 23: event cut off: a channel message runs past the end of the track"},
        {"meta cut off",
         {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0, 5, 0x00, 0xFF, 0x01, 0x05, 'a'},
         27, "track 0: byte 23: event cut off: a meta event runs past the end of the track"},
        {"sysex cut off",
         {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0, 4, 0x00, 0xF0, 0x09, 0x7E},
         26, "event cut off: a sysex event runs past"},
        {"meta length vlq cut off",
         {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0, 4, 0x00, 0xFF, 0x01, 0x85},
         26, "track 0: byte 25: event cut off: variable-length number"},
        {"delta without event",
         {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0, 5, 0x00, 0x90, 60, 1, 0x10},
         27, "track 0: byte 27: event cut off: a delta time with no event"},
        {"status where data expected",
         {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0, 8, 0x00, 0x90, 60, 0x90, 0x00, 0xFF, 0x2F, 0x00},
         30, "test.mid: track 0: byte 25: status byte where a data byte was expected: 0x90"},
        {"data without running status",
         {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0, 4, 0x00, 60, 100, 0x00},
         26, "track 0: byte 23: data byte where a status byte was expected (no running status): 0x3C"},
        {"system common in file",
         {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0, 3, 0x00, 0xF2, 0x00},
         25, "track 0: byte 23: unexpected status byte (system common and real-time messages cannot appear in a file): 0xF2"},
        {"second track broken",
         {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 1, 0, 2, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0, 4, 0x00, 0xFF, 0x2F, 0x00,
          'M', 'T', 'r', 'k', 0, 0, 0, 3, 0x00, 0xC0, 0x80},
         37, "track 1: byte 36: status byte where a data byte was expected: 0x80"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdz_midi m;
        cdz_error err = {0};
        cdz_status st = cdz_midi_read(&m, cases[i].data, cases[i].len, "test.mid", &err);
        CHECK(st == CDZ_ERR_FORMAT, "%s: status %d", cases[i].what, st);
        CHECK(strstr(err.msg, cases[i].msg) != NULL, "%s: message '%s', expected it to contain '%s'", cases[i].what, err.msg,
              cases[i].msg);
        CHECK(m.tracks == NULL && m.pool == NULL && m.n_tracks == 0, "%s: left a half-read file", cases[i].what);
    }
    cdz_midi m;
    cdz_error err = {0};
    CHECK_INT(cdz_midi_read_file(&m, "/nonexistent/x.mid", &err), CDZ_ERR_IO);
    CHECK_STR_CONTAINS(err.msg, "/nonexistent/x.mid: cannot open");
}

/* Writer: exact bytes for a known file (running status, end-of-track appended), determinism, and
 * reading what was written gives the same events. */
static void test_writer(void) {
    cdz_midi m;
    cdz_error err = {0};
    CHECK_INT(cdz_midi_init(&m, 0, 96, &err), CDZ_OK);
    CHECK_INT(cdz_midi_add_track(&m, NULL), CDZ_OK);
    CHECK_INT(cdz_midi_add_data(&m, 0, 0, CDZ_MIDI_EVENT_META, CDZ_META_TEMPO, "\x07\xA1\x20", 3), CDZ_OK);
    CHECK_INT(cdz_midi_add_channel(&m, 0, 0, 0x90, 60, 100), CDZ_OK);
    CHECK_INT(cdz_midi_add_channel(&m, 0, 0, 0x90, 64, 100), CDZ_OK);
    CHECK_INT(cdz_midi_add_channel(&m, 0, 200, 0x90, 60, 0), CDZ_OK);
    CHECK_INT(cdz_midi_add_data(&m, 0, 200, CDZ_MIDI_EVENT_SYSEX, 0, "\x7E\xF7", 2), CDZ_OK);
    CHECK_INT(cdz_midi_add_channel(&m, 0, 200, 0x90, 64, 0), CDZ_OK);
    CHECK_INT(cdz_midi_add_channel(&m, 0, 200, 0xC0, 5, 99), CDZ_OK); /* 1-byte message: data2 dropped */
    uint8_t *out;
    size_t len;
    CHECK_INT(cdz_midi_write(&m, &out, &len, &err), CDZ_OK);
    const unsigned char expect[] = {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 96, 'M', 'T', 'r', 'k', 0, 0, 0, 34,
                                    0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,
                                    0x00, 0x90, 60, 100,
                                    0x00, 64, 100,          /* running status */
                                    0x81, 0x48, 60, 0,      /* delta 200, still running */
                                    0x00, 0xF0, 0x02, 0x7E, 0xF7,
                                    0x00, 0x90, 64, 0,      /* status again after sysex */
                                    0x00, 0xC0, 5,
                                    0x00, 0xFF, 0x2F, 0x00};
    CHECK(len == sizeof expect && memcmp(out, expect, len) == 0, "written bytes differ (length %zu, expected %zu)", len, sizeof expect);
    uint8_t *out2;
    size_t len2;
    CHECK_INT(cdz_midi_write(&m, &out2, &len2, &err), CDZ_OK);
    CHECK(len2 == len && memcmp(out, out2, len) == 0, "writing twice gives different bytes");
    cdz_midi back;
    CHECK_INT(cdz_midi_read(&back, out, len, "written", &err), CDZ_OK);
    CHECK(oracle_same_events(&m, &back), "events differ after write and read");
    CHECK_INT(back.n_warnings, 0);
    cdz_free(out);
    cdz_free(out2);
    cdz_midi_free(&back);

    /* Writer errors */
    CHECK_INT(cdz_midi_add_track(&m, NULL), CDZ_OK);
    CHECK_INT(cdz_midi_write(&m, &out, &len, &err), CDZ_ERR_ARG);
    CHECK_STR_CONTAINS(err.msg, "format 0 needs exactly one track");
    m.format = 1;
    CHECK_INT(cdz_midi_add_channel(&m, 1, 50, 0x90, 60, 1), CDZ_OK);
    CHECK_INT(cdz_midi_add_channel(&m, 1, 40, 0x80, 60, 1), CDZ_OK);
    CHECK_INT(cdz_midi_write(&m, &out, &len, &err), CDZ_ERR_ARG);
    CHECK_STR_CONTAINS(err.msg, "track 1, event 1: tick 40 comes before the previous event's 50");
    m.tracks[1].n_events = 0;
    CHECK_INT(cdz_midi_add_data(&m, 1, 0, CDZ_MIDI_EVENT_META, CDZ_META_END_OF_TRACK, NULL, 0), CDZ_OK);
    CHECK_INT(cdz_midi_add_channel(&m, 1, 10, 0x90, 60, 1), CDZ_OK);
    CHECK_INT(cdz_midi_write(&m, &out, &len, &err), CDZ_ERR_ARG);
    CHECK_STR_CONTAINS(err.msg, "end-of-track before the last event");
    CHECK_INT(cdz_midi_add_channel(&m, 1, 10, 0x90, 0x80, 1), CDZ_ERR_ARG);
    CHECK_INT(cdz_midi_add_channel(&m, 5, 10, 0x90, 60, 1), CDZ_ERR_ARG);
    CHECK_INT(cdz_midi_add_data(&m, 0, 0, (cdz_midi_event_kind)7, 0, NULL, 0), CDZ_ERR_ARG);
    cdz_midi_free(&m);
    CHECK_INT(cdz_midi_init(&m, 3, 96, &err), CDZ_ERR_ARG);
    CHECK_INT(cdz_midi_init(&m, 1, 0, &err), CDZ_ERR_ARG);
}

/* Round trip of a file with everything: read, write, read gives the same events. */
static void make_rich_file(bytes *x) {
    memset(x, 0, sizeof *x);
    by_header(x, 1, 3, 480);
    BY_TRACK(x, 0x00, 0xFF, 0x03, 0x04, 'S', 'o', 'n', 'g', 0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,
             0x00, 0xFF, 0x58, 0x04, 0x03, 0x02, 0x18, 0x08, 0x00, 0xFF, 0x59, 0x02, 0x01, 0x00,
             0x83, 0x60, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40, 0x00, 0xFF, 0x2F, 0x00);
    BY_TRACK(x, 0x00, 0xFF, 0x03, 0x05, 'P', 'i', 'a', 'n', 'o', 0x00, 0xC0, 0x00, 0x00, 0xB0, 0x40, 0x7F,
             0x00, 0x90, 60, 80, 0x00, 64, 70, 0x83, 0x60, 0x80, 60, 0x40, 0x00, 64, 0x40, 0x00, 0xB0, 0x40, 0x00,
             0x00, 0xE0, 0x00, 0x50, 0x00, 0xF0, 0x03, 0x7E, 0x09, 0xF7, 0x00, 0xFF, 0x2F, 0x00);
    BY_TRACK(x, 0x00, 0xFF, 0x03, 0x05, 'D', 'r', 'u', 'm', 's', 0x00, 0x99, 36, 100, 0x10, 36, 0, 0x00, 42, 90,
             0x10, 0x89, 42, 0, 0x00, 0xA9, 42, 10, 0x00, 0xD9, 20, 0x00, 0xFF, 0x2F, 0x00);
}

static cdz_status read_write_read(const bytes *x) {
    cdz_midi a, b;
    uint8_t *out = NULL;
    size_t len;
    cdz_status st = cdz_midi_read(&a, x->b, x->n, "rich.mid", NULL);
    if (st != CDZ_OK) return st;
    st = cdz_midi_write(&a, &out, &len, NULL);
    if (st == CDZ_OK) {
        st = cdz_midi_read(&b, out, len, "written", NULL);
        if (st == CDZ_OK) {
            if (!oracle_same_events(&a, &b)) st = CDZ_ERR_FORMAT;
            cdz_midi_free(&b);
        }
    }
    cdz_free(out);
    cdz_midi_free(&a);
    return st;
}

static void test_round_trip_and_allocation_failures(void) {
    bytes x;
    make_rich_file(&x);
    CHECK_INT(read_write_read(&x), CDZ_OK);
    cdz_midi m;
    FAIL_EACH_ALLOCATION("midi read", (cdz_midi_read(&m, x.b, x.n, "rich.mid", NULL) == CDZ_OK ? (cdz_midi_free(&m), CDZ_OK)
                                                                                            : CDZ_ERR_NOMEM));
    CHECK_INT(cdz_midi_read(&m, x.b, x.n, "rich.mid", NULL), CDZ_OK);
    uint8_t *out;
    size_t len;
    FAIL_EACH_ALLOCATION("midi write", (cdz_midi_write(&m, &out, &len, NULL) == CDZ_OK ? (cdz_free(out), CDZ_OK) : CDZ_ERR_NOMEM));
    cdz_midi built;
    FAIL_EACH_ALLOCATION("midi build", (cdz_midi_init(&built, 1, 96, NULL) || cdz_midi_add_track(&built, NULL) ||
                                                cdz_midi_add_data(&built, 0, 0, CDZ_MIDI_EVENT_META, 1, "abc", 3) ||
                                                cdz_midi_add_channel(&built, 0, 0, 0x90, 1, 1)
                                            ? (cdz_midi_free(&built), CDZ_ERR_NOMEM)
                                            : (cdz_midi_free(&built), CDZ_OK)));
    cdz_midi_free(&m);
}

/* With --write-seeds DIR, writes small hand-built files (every event kind, SMPTE, RIFF, running status
 * across meta events, a defect) as the fuzzer's seed corpus. */
static int write_seed(const char *dir, const char *name, const bytes *x) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    cdz_error err;
    if (cdz_file_write_atomic(path, x->b, x->n, &err) != CDZ_OK) {
        printf("%s\n", err.msg);
        return 1;
    }
    return 0;
}

static int write_seeds(const char *dir) {
    bytes x;
    int bad = 0;
    make_rich_file(&x);
    bad |= write_seed(dir, "seed_rich.mid", &x);
    memset(&x, 0, sizeof x);
    by_header(&x, 0, 1, 0xE728);
    BY_TRACK(&x, 0x00, 0xFF, 0x54, 0x05, 0x60, 0, 3, 0, 0, 0x00, 0x90, 60, 100, 0x87, 0x68, 60, 0, 0x00, 0xF0, 0x02, 0x7E, 0xF7,
             0x00, 0xFF, 0x7F, 0x02, 0x00, 0x41, 0x00, 0xFF, 0x2F, 0x00);
    bad |= write_seed(dir, "seed_smpte.mid", &x);
    bytes r = {0};
    BY(&r, 'R', 'I', 'F', 'F', (unsigned char)(x.n + 12), 0, 0, 0, 'R', 'M', 'I', 'D', 'd', 'a', 't', 'a', (unsigned char)x.n, 0, 0, 0);
    by_put(&r, x.b, x.n);
    bad |= write_seed(dir, "seed_riff.rmi", &r);
    memset(&x, 0, sizeof x);
    by_header(&x, 2, 2, 96);
    BY_TRACK(&x, 0x00, 0x90, 60, 100, 0x00, 0xFF, 0x01, 0x01, 'x', 0x10, 60, 0, 0x00, 0xA0, 60, 5, 0x00, 0xD0, 3, 0x00, 0xE0, 1, 2,
             0x00, 0xFF, 0x2F, 0x00);
    BY_TRACK(&x, 0x00, 0xFF, 0x21, 0x01, 0x00, 0x00, 0xFF, 0x20, 0x01, 0x09, 0x00, 0x99, 36, 1, 0x00, 36, 0);
    BY(&x, 0, 0, 0, 0);
    bad |= write_seed(dir, "seed_format2_defects.mid", &x);
    return bad;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0) return write_seeds(argv[2]);
    test_channel_messages();
    test_running_status();
    test_meta_events();
    test_sysex();
    test_formats_and_divisions();
    test_riff_and_unknown_chunks();
    test_tolerated_defects();
    test_errors();
    test_writer();
    test_round_trip_and_allocation_failures();
    return test_summary("test_midi");
}

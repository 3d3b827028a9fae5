/* The multi-instrument codec (MuseNet-style). A piece is: one INSTRUMENT token per instrument class
 * present, START, then events on a 10 ms grid, then END. A note-on token joins instrument class,
 * volume bin and pitch, as MuseNet's "piano:v72:G4"; a note-off joins instrument class and pitch.
 * Event order within a step and the note pairing are those of the performance codec, per
 * (instrument class, pitch). Style tokens (STYLE_0 ... STYLE_31) are added in front by
 * `cadenza dataset build --style K`; their meaning is the dataset's (a composer, a genre).
 *
 *   [0, 8704)      NOTE_ON   ((instrument * 4 + volume) * 128 + pitch)
 *   [8704, 10880)  NOTE_OFF  (instrument * 128 + pitch)
 *   [10880, 10980) TIME_SHIFT of 1-100 steps of 10 ms
 *   [10980, 10997) INSTRUMENT present (17 classes: 16 General MIDI families, drums)
 *   [10997, 11029) STYLE 0-31
 *   11029 START, 11030 END                                                       (11031 tokens) */
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"

_Static_assert(CDZ_MT_STYLE_BASE == CDZ_MT_INSTRUMENTS * 4 * 128 + CDZ_MT_INSTRUMENTS * 128 + 100 + CDZ_MT_INSTRUMENTS,
               "style tokens follow the instrument tokens");

enum {
    MT_VOLUMES = 4,
    MT_NOTE_ON = 0,
    MT_NOTE_OFF = CDZ_MT_INSTRUMENTS * MT_VOLUMES * 128,
    MT_SHIFT = MT_NOTE_OFF + CDZ_MT_INSTRUMENTS * 128,
    MT_INSTRUMENT = MT_SHIFT + 100,
    MT_STYLE = MT_INSTRUMENT + CDZ_MT_INSTRUMENTS,
    MT_START = MT_STYLE + CDZ_MT_STYLES,
    MT_END = MT_START + 1,
};

/* Volume bins of 32 velocities; decoded to the middle of the bin. */
static int volume_bin(int velocity) { return (velocity & 0x7F) / 32; }
static int bin_velocity(int bin) { return bin * 32 + 16; }

static const char *const FAMILY[CDZ_MT_INSTRUMENTS] = {
    "piano", "chromatic", "organ", "guitar", "bass", "strings", "ensemble", "brass", "reed",
    "pipe", "synth_lead", "synth_pad", "synth_fx", "ethnic", "percussive", "sound_fx", "drums"};

static int mt_note_on(void *ctx, const cdz_perf_note *n, uint16_t *out) {
    (void)ctx;
    int inst = n->instrument % CDZ_MT_INSTRUMENTS;
    out[0] = (uint16_t)(MT_NOTE_ON + (inst * MT_VOLUMES + volume_bin(n->velocity)) * 128 + (n->pitch & 0x7F));
    return 1;
}

static uint16_t mt_note_off(const cdz_perf_note *n) {
    return (uint16_t)(MT_NOTE_OFF + (n->instrument % CDZ_MT_INSTRUMENTS) * 128 + (n->pitch & 0x7F));
}

cdz_status cdz_multitrack_encode(const cdz_performance *p, cdz_tokens *out, cdz_error *err) {
    token_buf b = {NULL, 0, 0};
    if (cdz_grow((void **)&b.v, &b.cap, CDZ_MT_INSTRUMENTS + 2, sizeof *b.v))
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding a piece");
    int present[CDZ_MT_INSTRUMENTS] = {0};
    for (size_t i = 0; i < p->n_notes; i++) present[p->notes[i].instrument % CDZ_MT_INSTRUMENTS] = 1;
    for (int k = 0; k < CDZ_MT_INSTRUMENTS; k++)
        if (present[k]) b.v[b.n++] = (uint16_t)(MT_INSTRUMENT + k);
    b.v[b.n++] = MT_START;
    event_writer w = {MT_SHIFT, 100, mt_note_on, mt_note_off, NULL};
    cdz_status st = codec_write_events(p, &w, &b, err);
    if (!st && cdz_grow((void **)&b.v, &b.cap, b.n + 1, sizeof *b.v)) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding a piece");
    if (!st) {
        b.v[b.n++] = MT_END;
        if ((st = cdz_tokens_append(out, b.v, b.n))) cdz_error_set(err, st, "out of memory encoding a piece");
    }
    cdz_free(b.v);
    return st;
}

static void mt_classify(uint16_t t, token_meaning *m) {
    memset(m, 0, sizeof *m);
    if (t < MT_NOTE_OFF) {
        m->kind = TOKEN_ON;
        m->pitch = (uint8_t)(t % 128);
        m->instrument = (uint8_t)(t / 128 / MT_VOLUMES);
        m->velocity = bin_velocity((t / 128) % MT_VOLUMES);
    } else if (t < MT_SHIFT) {
        m->kind = TOKEN_OFF;
        m->pitch = (uint8_t)((t - MT_NOTE_OFF) % 128);
        m->instrument = (uint8_t)((t - MT_NOTE_OFF) / 128);
    } else if (t < MT_INSTRUMENT) {
        m->kind = TOKEN_SHIFT;
        m->steps = t - MT_SHIFT + 1;
    } else {
        m->kind = TOKEN_OTHER; /* INSTRUMENT, STYLE, START and END carry no notes */
    }
}

cdz_status cdz_multitrack_decode(const uint16_t *tokens, size_t n, cdz_performance *p, cdz_error *err) {
    static const event_reader r = {"multitrack", CDZ_MT_VOCAB, CDZ_MT_INSTRUMENTS * 128, 100, mt_classify};
    return codec_read_events(tokens, n, &r, p, err);
}

static void mt_token_name(uint16_t t, char *buf, size_t n) {
    static const char *const vol[MT_VOLUMES] = {"pp", "mp", "mf", "ff"};
    if (t < MT_NOTE_OFF) snprintf(buf, n, "%s:%s:%d", FAMILY[t / 128 / MT_VOLUMES], vol[(t / 128) % MT_VOLUMES], t % 128);
    else if (t < MT_SHIFT) snprintf(buf, n, "%s:off:%d", FAMILY[(t - MT_NOTE_OFF) / 128], (t - MT_NOTE_OFF) % 128);
    else if (t < MT_INSTRUMENT) snprintf(buf, n, "TIME_SHIFT_%d", t - MT_SHIFT + 1);
    else if (t < MT_STYLE) snprintf(buf, n, "INSTRUMENT_%s", FAMILY[t - MT_INSTRUMENT]);
    else if (t < MT_START) snprintf(buf, n, "STYLE_%d", t - MT_STYLE);
    else if (t == MT_START) snprintf(buf, n, "START");
    else if (t == MT_END) snprintf(buf, n, "END");
    else snprintf(buf, n, "INVALID_%u", t);
}

static cdz_status mt_encode_score(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    cdz_performance p;
    cdz_status st = cdz_extract_multitrack(s, 100, &p, stats, err);
    if (st) return st;
    if (p.n_notes) st = cdz_multitrack_encode(&p, out, err);
    cdz_performance_free(&p);
    return st;
}

/* One track per instrument class with its family's first program. Channels go in order, skipping 10
 * (drums); the 16 families share the 15 other channels, so the last two share channel 16. */
static cdz_status mt_decode_score(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err) {
    cdz_performance p;
    cdz_status st = cdz_multitrack_decode(tokens, n, &p, err);
    if (st) return st;
    if (!(st = cdz_score_init(out, 50, err))) st = cdz_score_add_tempo(out, 0, 120.0);
    for (size_t i = 0; i < p.n_notes && !st; i++) {
        const cdz_perf_note *x = &p.notes[i];
        int inst = x->instrument;
        uint8_t channel = inst == CDZ_MT_DRUMS ? 9 : (uint8_t)(inst < 9 ? inst : inst < 15 ? inst + 1 : 15);
        st = cdz_score_add_note(out, (uint16_t)inst, channel, inst == CDZ_MT_DRUMS ? 0 : (uint8_t)(inst * 8), x->pitch,
                                x->velocity, x->start_step, x->end_step);
    }
    if (!st) st = cdz_score_finish(out, err);
    cdz_performance_free(&p);
    if (st) {
        cdz_score_free(out);
        return cdz_error_set(err, st, "multitrack to score: %s", cdz_status_str(st));
    }
    for (size_t t = 0; t < out->n_tracks && t < CDZ_MT_INSTRUMENTS; t++) snprintf(out->tracks[t].name, sizeof out->tracks[t].name, "%s", FAMILY[t]);
    return CDZ_OK;
}

const cdz_codec codec_multitrack = {
    "multitrack", "MuseNet-style: instrument x volume x pitch note-ons, note-offs, 10 ms shifts, instrument and style tokens",
    CDZ_MT_VOCAB, mt_token_name, mt_encode_score, mt_decode_score, NULL, MT_STYLE, CDZ_MT_STYLES, NULL, NULL,
};

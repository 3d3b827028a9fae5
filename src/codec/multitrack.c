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

typedef struct mt_event {
    int64_t step;
    uint32_t idx;
    uint8_t is_off;
} mt_event;

static int event_cmp(const mt_event *a, const mt_event *b) {
    if (a->step != b->step) return a->step < b->step ? -1 : 1;
    if (a->idx != b->idx) return a->idx < b->idx ? -1 : 1;
    return a->is_off - b->is_off;
}
#define EVENT_BEFORE(x, y) (event_cmp((x), (y)) < 0)
CDZ_DEFINE_SORT(sort_events, mt_event, EVENT_BEFORE)

cdz_status cdz_multitrack_encode(const cdz_performance *p, cdz_tokens *out, cdz_error *err) {
    size_t n = p->n_notes;
    if (n > UINT32_MAX / 2) return cdz_error_set(err, CDZ_ERR_RANGE, "%zu notes: too many for one piece", n);
    mt_event *ev = cdz_malloc((2 * n + 1) * sizeof *ev);
    uint16_t *tok = NULL;
    size_t n_tok = 0, cap = 0;
    if (!ev || cdz_grow((void **)&tok, &cap, CDZ_MT_INSTRUMENTS + 2, sizeof *tok)) {
        cdz_free(ev);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding a piece");
    }
    int present[CDZ_MT_INSTRUMENTS] = {0};
    for (size_t i = 0; i < n; i++) {
        present[p->notes[i].instrument % CDZ_MT_INSTRUMENTS] = 1;
        ev[2 * i] = (mt_event){p->notes[i].start_step, (uint32_t)i, 0};
        ev[2 * i + 1] = (mt_event){p->notes[i].end_step, (uint32_t)i, 1};
    }
    for (int k = 0; k < CDZ_MT_INSTRUMENTS; k++)
        if (present[k]) tok[n_tok++] = (uint16_t)(MT_INSTRUMENT + k);
    tok[n_tok++] = MT_START;
    cdz_status st = sort_events(ev, 2 * n);
    int64_t step = 0;
    for (size_t k = 0; k < 2 * n && !st; k++) {
        const cdz_perf_note *note = &p->notes[ev[k].idx];
        int64_t gap = ev[k].step - step;
        if (gap < 0) {
            st = CDZ_ERR_ARG;
            break;
        }
        if (cdz_grow((void **)&tok, &cap, n_tok + 3 + (size_t)(gap / 100), sizeof *tok)) {
            st = CDZ_ERR_NOMEM;
            break;
        }
        for (; gap > 100; gap -= 100) tok[n_tok++] = MT_SHIFT + 99;
        if (gap > 0) tok[n_tok++] = (uint16_t)(MT_SHIFT + gap - 1);
        step = ev[k].step;
        int inst = note->instrument % CDZ_MT_INSTRUMENTS, pitch = note->pitch & 0x7F;
        tok[n_tok++] = ev[k].is_off ? (uint16_t)(MT_NOTE_OFF + inst * 128 + pitch)
                                    : (uint16_t)(MT_NOTE_ON + (inst * MT_VOLUMES + volume_bin(note->velocity)) * 128 + pitch);
    }
    if (!st && cdz_grow((void **)&tok, &cap, n_tok + 1, sizeof *tok)) st = CDZ_ERR_NOMEM;
    if (!st) {
        tok[n_tok++] = MT_END;
        st = cdz_tokens_append(out, tok, n_tok);
    }
    cdz_free(tok);
    cdz_free(ev);
    if (st == CDZ_ERR_ARG) return cdz_error_set(err, st, "notes out of order (negative time)");
    if (st) return cdz_error_set(err, st, "out of memory encoding a piece");
    return CDZ_OK;
}

cdz_status cdz_multitrack_decode(const uint16_t *tokens, size_t n, cdz_performance *p, cdz_error *err) {
    memset(p, 0, sizeof *p);
    p->steps_per_second = 100;
    enum { KEYS = CDZ_MT_INSTRUMENTS * 128 };
    int64_t head[KEYS], tail[KEYS];
    for (int i = 0; i < KEYS; i++) head[i] = tail[i] = -1;
    int64_t *next = NULL, step = 0;
    size_t cap = 0, cap_next = 0;
    cdz_status st = CDZ_OK;
    for (size_t i = 0; i < n && !st; i++) {
        uint16_t t = tokens[i];
        if (t >= CDZ_MT_VOCAB) {
            st = cdz_error_set(err, CDZ_ERR_RANGE, "token %zu: %u is not a multitrack token (0-%d)", i, t, CDZ_MT_VOCAB - 1);
        } else if (t < MT_NOTE_OFF) {
            if (cdz_grow((void **)&p->notes, &cap, p->n_notes + 1, sizeof *p->notes) ||
                cdz_grow((void **)&next, &cap_next, p->n_notes + 1, sizeof *next)) {
                st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory decoding a piece");
                break;
            }
            int pitch = t % 128, iv = t / 128, inst = iv / MT_VOLUMES;
            size_t k = p->n_notes++;
            p->notes[k] = (cdz_perf_note){step, -1, (uint8_t)pitch, (uint8_t)bin_velocity(iv % MT_VOLUMES), (uint8_t)inst};
            next[k] = -1;
            int key = inst * 128 + pitch;
            if (tail[key] < 0) head[key] = (int64_t)k;
            else next[tail[key]] = (int64_t)k;
            tail[key] = (int64_t)k;
        } else if (t < MT_SHIFT) {
            int key = t - MT_NOTE_OFF;
            int64_t k = head[key];
            if (k < 0) continue;
            head[key] = next[k];
            if (head[key] < 0) tail[key] = -1;
            p->notes[k].end_step = step;
        } else if (t < MT_INSTRUMENT) {
            step += t - MT_SHIFT + 1;
        }
        /* INSTRUMENT, STYLE, START and END carry no notes */
    }
    if (!st) {
        size_t w = 0;
        for (size_t k = 0; k < p->n_notes; k++) {
            cdz_perf_note x = p->notes[k];
            if (x.end_step < 0) x.end_step = step > x.start_step ? step : x.start_step + 1;
            if (x.end_step > x.start_step) p->notes[w++] = x;
        }
        p->n_notes = w;
    }
    cdz_free(next);
    if (st) cdz_performance_free(p);
    return st;
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
    CDZ_MT_VOCAB, mt_token_name, mt_encode_score, mt_decode_score, NULL, MT_STYLE, CDZ_MT_STYLES,
};

/* Magenta's melody encodings with lookback (note_seq LookbackEventSequenceEncoderDecoder for
 * lookback_rnn, magenta KeyMelodyEncoderDecoder for attention_rnn). Tokens are the labels the models
 * predict; the input vectors are computed from the events so far by cdz_lookback_inputs and
 * cdz_key_melody_inputs. Lookback distances are one and two bars of 16 steps (Magenta's defaults). */
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"

static const int LOOKBACK[2] = {16, 32};

/* MelodyOneHotEncoding's class of an event (0 no-event, 1 note-off, 2 + pitch - 48). Events outside
 * the squashed range (the caller's error) count as no-events rather than index out of bounds. */
static int one_hot(int e) {
    if (e == CDZ_MELODY_NOTE_OFF) return 1;
    if (e < CDZ_MELODY_MIN_NOTE || e >= CDZ_MELODY_MAX_NOTE) return 0;
    return e - CDZ_MELODY_MIN_NOTE + 2;
}
static int from_one_hot(int c) { return c == 0 ? CDZ_MELODY_NO_EVENT : c == 1 ? CDZ_MELODY_NOTE_OFF : c - 2 + CDZ_MELODY_MIN_NOTE; }

static int repeats(const int16_t *ev, size_t pos, int d) { return pos >= (size_t)d && ev[pos] == ev[pos - (size_t)d]; }

/* ---- lookback_rnn ---- */

int cdz_lookback_label(const int16_t *ev, size_t pos) {
    if (pos < (size_t)LOOKBACK[1] && ev[pos] == CDZ_MELODY_NO_EVENT) return CDZ_MELODY_CLASSES + 1;
    for (int i = 1; i >= 0; i--)
        if (repeats(ev, pos, LOOKBACK[i])) return CDZ_MELODY_CLASSES + i;
    return one_hot(ev[pos]);
}

int cdz_lookback_event(int label, const int16_t *ev, size_t pos) {
    for (int i = 1; i >= 0; i--)
        if (label == CDZ_MELODY_CLASSES + i) return pos < (size_t)LOOKBACK[i] ? CDZ_MELODY_NO_EVENT : ev[pos - (size_t)LOOKBACK[i]];
    return from_one_hot(label);
}

void cdz_lookback_inputs(const int16_t *ev, size_t pos, float *in) {
    memset(in, 0, CDZ_LOOKBACK_INPUTS * sizeof *in);
    int off = 0;
    in[one_hot(ev[pos])] = 1;
    off += CDZ_MELODY_CLASSES;
    for (int i = 0; i < 2; i++) {
        /* the event that comes next if the melody repeats what it played a lookback ago */
        int64_t at = (int64_t)pos - LOOKBACK[i] + 1;
        in[off + one_hot(at < 0 ? CDZ_MELODY_NO_EVENT : ev[at])] = 1;
        off += CDZ_MELODY_CLASSES;
    }
    size_t n = pos + 1; /* binary counter of the next step's position */
    for (int i = 0; i < 5; i++) in[off++] = (n >> i) & 1 ? 1.0f : -1.0f;
    for (int i = 0; i < 2; i++) in[off++] = repeats(ev, pos, LOOKBACK[i]) ? 1.0f : 0.0f;
}

/* ---- attention_rnn (key melody) ---- */

enum { RANGE = CDZ_MELODY_MAX_NOTE - CDZ_MELODY_MIN_NOTE }; /* 36 */

int cdz_key_melody_label(const int16_t *ev, size_t pos) {
    if (pos < (size_t)LOOKBACK[1] && ev[pos] == CDZ_MELODY_NO_EVENT) return RANGE + 3;
    for (int i = 1; i >= 0; i--)
        if (repeats(ev, pos, LOOKBACK[i])) return RANGE + 2 + i;
    if (ev[pos] == CDZ_MELODY_NOTE_OFF) return RANGE + 1;
    if (ev[pos] == CDZ_MELODY_NO_EVENT) return RANGE;
    return ev[pos] - CDZ_MELODY_MIN_NOTE;
}

int cdz_key_melody_event(int label, const int16_t *ev, size_t pos) {
    for (int i = 1; i >= 0; i--)
        if (label == RANGE + 2 + i) return pos < (size_t)LOOKBACK[i] ? CDZ_MELODY_NO_EVENT : ev[pos - (size_t)LOOKBACK[i]];
    if (label == RANGE + 1) return CDZ_MELODY_NOTE_OFF;
    if (label == RANGE) return CDZ_MELODY_NO_EVENT;
    return CDZ_MELODY_MIN_NOTE + label;
}

/* Melody.get_major_key_histogram: each note votes for the seven major keys containing it. */
static void key_votes(const int *pitch_class_counts, double *keys) {
    static const int scale[7] = {0, 2, 4, 5, 7, 9, 11};
    for (int k = 0; k < 12; k++) keys[k] = 0;
    for (int pc = 0; pc < 12; pc++)
        for (int s = 0; s < 7; s++) keys[(pc - scale[s] + 12) % 12] += pitch_class_counts[pc];
}

static void mark_best_keys(const double *keys, float *out) {
    double best = keys[0];
    for (int k = 1; k < 12; k++)
        if (keys[k] > best) best = keys[k];
    for (int k = 0; k < 12; k++) out[k] = keys[k] == best ? 1.0f : 0.0f;
}

void cdz_key_melody_inputs(const int16_t *ev, size_t pos, float *in) {
    memset(in, 0, CDZ_KEY_MELODY_INPUTS * sizeof *in);
    int current = -1, attack = 0, ascending = 0; /* ascending: 0 unknown, 1 up, -1 down */
    int last3[3], n3 = 0, counts[12] = {0};
    for (size_t i = 0; i <= pos; i++) {
        int e = ev[i];
        if (e == CDZ_MELODY_NOTE_OFF) {
            current = -1;
        } else if (e < 0 || e > 127) {
            attack = 0; /* a no-event (or an invalid event, read as one) */
        } else {
            attack = 1;
            current = e;
            counts[e % 12]++;
            if (n3) {
                if (e > last3[n3 - 1]) ascending = 1;
                if (e < last3[n3 - 1]) ascending = -1;
            }
            /* the last three distinct notes, most recent last */
            int k = 0;
            while (k < n3 && last3[k] != e) k++;
            if (k < n3) {
                memmove(last3 + k, last3 + k + 1, (size_t)(n3 - k - 1) * sizeof *last3);
                n3--;
            }
            if (n3 == 3) memmove(last3, last3 + 1, 2 * sizeof *last3), n3--;
            last3[n3++] = e;
        }
    }
    int off = 0;
    if (current >= CDZ_MELODY_MIN_NOTE && current < CDZ_MELODY_MAX_NOTE) {
        in[current - CDZ_MELODY_MIN_NOTE] = 1;
        in[RANGE] = 1;
    } else {
        in[RANGE + 1] = 1;
    }
    off = RANGE + 2;
    in[off++] = attack ? 1.0f : 0.0f;
    in[off++] = (float)ascending;
    for (int i = 0; i < 2; i++) in[off++] = repeats(ev, pos, LOOKBACK[i]) ? 1.0f : 0.0f;
    /* Binary counter of the next step's position. Magenta meant (n // 2**i) % 2; its Python 3 code
     * divides with /, which only differs in whether it reads as intended: cadenza uses the intended. */
    size_t n = pos + 1;
    for (int i = 0; i < 7; i++) in[off++] = (n >> i) & 1 ? 1.0f : -1.0f;
    in[off++] = n % 16 == 0 ? 1.0f : 0.0f;
    double keys[12];
    key_votes(counts, keys);
    mark_best_keys(keys, in + off);
    off += 12;
    int recent[12] = {0};
    for (int i = 0; i < n3; i++) recent[last3[i] % 12]++;
    key_votes(recent, keys);
    mark_best_keys(keys, in + off);
}

/* ---- one step at a time ---- */

/* All zeros: a session's fresh row block is one. (`current` starts at 0 rather than the -1 a note-off
 * leaves: the features only ask whether it lies in 48-83, which neither does.) */
void cdz_melody_state_reset(cdz_melody_state *s) { memset(s, 0, sizeof *s); }

static int16_t state_event(const cdz_melody_state *s, int64_t pos) { return s->ring[pos % CDZ_MELODY_RING]; }

/* repeats() on the ring: the event at pos equals the one d steps before */
static int state_repeats(const cdz_melody_state *s, int64_t pos, int d) {
    return pos >= d && state_event(s, pos) == state_event(s, pos - d);
}

/* Appends an event, updating what cdz_key_melody_inputs's loop over the history keeps. */
static void state_push_event(cdz_melody_state *s, int e) {
    s->ring[s->n % CDZ_MELODY_RING] = (int16_t)e;
    s->n++;
    if (e == CDZ_MELODY_NOTE_OFF) {
        s->current = -1;
    } else if (e < 0 || e > 127) {
        s->attack = 0;
    } else {
        s->attack = 1;
        s->current = (int16_t)e;
        s->counts[e % 12]++;
        if (s->n3) {
            if (e > s->last3[s->n3 - 1]) s->ascending = 1;
            if (e < s->last3[s->n3 - 1]) s->ascending = -1;
        }
        int k = 0;
        while (k < s->n3 && s->last3[k] != e) k++;
        if (k < s->n3) {
            memmove(s->last3 + k, s->last3 + k + 1, (size_t)(s->n3 - k - 1) * sizeof *s->last3);
            s->n3--;
        }
        if (s->n3 == 3) memmove(s->last3, s->last3 + 1, 2 * sizeof *s->last3), s->n3--;
        s->last3[s->n3++] = (int16_t)e;
    }
}

/* The event a repeat label stands for at position n: the one a lookback ago (no-event before it). */
static int state_decode(const cdz_melody_state *s, int label, int repeat_base) {
    for (int i = 1; i >= 0; i--)
        if (label == repeat_base + i) return s->n < LOOKBACK[i] ? CDZ_MELODY_NO_EVENT : state_event(s, s->n - LOOKBACK[i]);
    return -1000; /* not a repeat */
}

int cdz_lookback_push(cdz_melody_state *s, int label) {
    int e = state_decode(s, label, CDZ_MELODY_CLASSES);
    if (e == -1000) e = from_one_hot(label);
    state_push_event(s, e);
    return e;
}

int cdz_key_melody_push(cdz_melody_state *s, int label) {
    int e = state_decode(s, label, RANGE + 2);
    if (e == -1000) e = label == RANGE + 1 ? CDZ_MELODY_NOTE_OFF : label == RANGE ? CDZ_MELODY_NO_EVENT : CDZ_MELODY_MIN_NOTE + label;
    state_push_event(s, e);
    return e;
}

void cdz_lookback_inputs_state(const cdz_melody_state *s, float *in) {
    const int64_t pos = s->n - 1;
    memset(in, 0, CDZ_LOOKBACK_INPUTS * sizeof *in);
    int off = 0;
    in[one_hot(state_event(s, pos))] = 1;
    off += CDZ_MELODY_CLASSES;
    for (int i = 0; i < 2; i++) {
        int64_t at = pos - LOOKBACK[i] + 1;
        in[off + one_hot(at < 0 ? CDZ_MELODY_NO_EVENT : state_event(s, at))] = 1;
        off += CDZ_MELODY_CLASSES;
    }
    size_t n = (size_t)pos + 1;
    for (int i = 0; i < 5; i++) in[off++] = (n >> i) & 1 ? 1.0f : -1.0f;
    for (int i = 0; i < 2; i++) in[off++] = state_repeats(s, pos, LOOKBACK[i]) ? 1.0f : 0.0f;
}

void cdz_key_melody_inputs_state(const cdz_melody_state *s, float *in) {
    const int64_t pos = s->n - 1;
    memset(in, 0, CDZ_KEY_MELODY_INPUTS * sizeof *in);
    if (s->current >= CDZ_MELODY_MIN_NOTE && s->current < CDZ_MELODY_MAX_NOTE) {
        in[s->current - CDZ_MELODY_MIN_NOTE] = 1;
        in[RANGE] = 1;
    } else {
        in[RANGE + 1] = 1;
    }
    int off = RANGE + 2;
    in[off++] = s->attack ? 1.0f : 0.0f;
    in[off++] = (float)s->ascending;
    for (int i = 0; i < 2; i++) in[off++] = state_repeats(s, pos, LOOKBACK[i]) ? 1.0f : 0.0f;
    size_t n = (size_t)pos + 1;
    for (int i = 0; i < 7; i++) in[off++] = (n >> i) & 1 ? 1.0f : -1.0f;
    in[off++] = n % 16 == 0 ? 1.0f : 0.0f;
    int counts[12];
    for (int k = 0; k < 12; k++) counts[k] = s->counts[k];
    double keys[12];
    key_votes(counts, keys);
    mark_best_keys(keys, in + off);
    off += 12;
    int recent[12] = {0};
    for (int i = 0; i < s->n3; i++) recent[s->last3[i] % 12]++;
    key_votes(recent, keys);
    mark_best_keys(keys, in + off);
}

/* ---- the two codecs ---- */

static cdz_status lookback_tokens(const cdz_melody *m, uint16_t *tok, cdz_error *err) {
    (void)err;
    for (size_t t = 0; t < m->n_steps; t++) tok[t] = (uint16_t)cdz_lookback_label(m->events, t);
    return CDZ_OK;
}

static cdz_status key_melody_tokens(const cdz_melody *m, uint16_t *tok, cdz_error *err) {
    (void)err;
    for (size_t t = 0; t < m->n_steps; t++) tok[t] = (uint16_t)cdz_key_melody_label(m->events, t);
    return CDZ_OK;
}

static void lookback_token_name(uint16_t t, char *buf, size_t n) {
    if (t == 38) snprintf(buf, n, "REPEAT_1_BAR");
    else if (t == 39) snprintf(buf, n, "REPEAT_2_BARS");
    else if (t == 0) snprintf(buf, n, "NO_EVENT");
    else if (t == 1) snprintf(buf, n, "NOTE_OFF");
    else if (t < 38) snprintf(buf, n, "NOTE_%d", t - 2 + CDZ_MELODY_MIN_NOTE);
    else snprintf(buf, n, "INVALID_%u", t);
}

static void key_melody_token_name(uint16_t t, char *buf, size_t n) {
    if (t < RANGE) snprintf(buf, n, "NOTE_%d", t + CDZ_MELODY_MIN_NOTE);
    else if (t == RANGE) snprintf(buf, n, "NO_EVENT");
    else if (t == RANGE + 1) snprintf(buf, n, "NOTE_OFF");
    else if (t == RANGE + 2) snprintf(buf, n, "REPEAT_1_BAR");
    else if (t == RANGE + 3) snprintf(buf, n, "REPEAT_2_BARS");
    else snprintf(buf, n, "INVALID_%u", t);
}

static cdz_status lookback_encode(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *st, cdz_error *err) {
    return codec_encode_melodies(s, out, st, err, lookback_tokens);
}
static cdz_status lookback_decode(const uint16_t *t, size_t n, cdz_score *out, cdz_error *err) {
    return codec_decode_melody(t, n, CDZ_MELODY_LABELS, cdz_lookback_event, 100, out, err);
}
static cdz_status key_melody_encode(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *st, cdz_error *err) {
    return codec_encode_melodies(s, out, st, err, key_melody_tokens);
}
static cdz_status key_melody_decode(const uint16_t *t, size_t n, cdz_score *out, cdz_error *err) {
    return codec_decode_melody(t, n, CDZ_MELODY_LABELS, cdz_key_melody_event, 100, out, err);
}

const cdz_codec codec_lookback = {
    "lookback", "lookback_rnn labels: 38 melody classes, repeat 1 bar, repeat 2 bars (inputs: 121 features)",
    CDZ_MELODY_LABELS, lookback_token_name, lookback_encode, lookback_decode, NULL, 0, 0, &codec_gen_melody,
};
const cdz_codec codec_key_melody = {
    "key_melody", "attention_rnn labels: 36 pitches, no-event, note-off, repeat 1 and 2 bars (inputs: 74 features)",
    CDZ_MELODY_LABELS, key_melody_token_name, key_melody_encode, key_melody_decode, NULL, 0, 0, &codec_gen_melody,
};

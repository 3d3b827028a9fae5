/* Magenta's melody encodings with lookback (note_seq LookbackEventSequenceEncoderDecoder for
 * lookback_rnn, magenta KeyMelodyEncoderDecoder for attention_rnn). Tokens are the labels the models
 * predict; the input vectors are computed from the events so far by cdz_lookback_inputs and
 * cdz_key_melody_inputs. Lookback distances are one and two bars: Magenta's are always 16 steps (its
 * codecs lookback and key_melody keep that); lookback2 and key_melody2 start each melody with a meter
 * token and measure repeats and positions against that meter's bar, so a 6/8 jig repeats at 12 steps. */
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"

/* The two lookbacks of a bar of `bar` steps. */
#define LOOKBACK(bar, i) ((bar) * ((i) + 1))

/* The meters a melody's first token may name, and their bars in 16th-note steps. */
static const struct { uint8_t num, den; } METERS[CDZ_MELODY_METERS] = {
    {4, 4}, {3, 4}, {2, 4}, {6, 8}, {2, 2}, {3, 8}, {9, 8}, {12, 8}, {5, 4}, {6, 4}, {3, 2}, {7, 8}, {5, 8}, {7, 4}, {4, 2},
};

int cdz_melody_meter_index(int numerator, int denominator) {
    for (int i = 0; i < CDZ_MELODY_METERS; i++)
        if (METERS[i].num == numerator && METERS[i].den == denominator) return i;
    return -1;
}

int cdz_melody_meter(int i, int *numerator, int *denominator) {
    if (i < 0 || i >= CDZ_MELODY_METERS) return 0;
    if (numerator) *numerator = METERS[i].num;
    if (denominator) *denominator = METERS[i].den;
    return METERS[i].num * 16 / METERS[i].den;
}

/* The position features' counter for the step at position n: the step within its bar, plus the bar
 * number above it (x16, or x32 for bars longer than 16 steps). For 16-step bars it is n itself, the
 * counter Magenta's features use. */
static size_t bar_counter(size_t n, int bar) {
    size_t b = n % (size_t)bar, k = n / (size_t)bar;
    return b + (bar <= 16 ? 16 : 32) * k;
}

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

int cdz_lookback_label(const int16_t *ev, size_t pos, int bar) {
    if (pos < (size_t)LOOKBACK(bar, 1) && ev[pos] == CDZ_MELODY_NO_EVENT) return CDZ_MELODY_CLASSES + 1;
    for (int i = 1; i >= 0; i--)
        if (repeats(ev, pos, LOOKBACK(bar, i))) return CDZ_MELODY_CLASSES + i;
    return one_hot(ev[pos]);
}

int cdz_lookback_event(int label, const int16_t *ev, size_t pos, int bar) {
    for (int i = 1; i >= 0; i--)
        if (label == CDZ_MELODY_CLASSES + i)
            return pos < (size_t)LOOKBACK(bar, i) ? CDZ_MELODY_NO_EVENT : ev[pos - (size_t)LOOKBACK(bar, i)];
    return from_one_hot(label);
}

void cdz_lookback_inputs(const int16_t *ev, size_t pos, int bar, float *in) {
    memset(in, 0, CDZ_LOOKBACK_INPUTS * sizeof *in);
    int off = 0;
    in[one_hot(ev[pos])] = 1;
    off += CDZ_MELODY_CLASSES;
    for (int i = 0; i < 2; i++) {
        /* the event that comes next if the melody repeats what it played a lookback ago */
        int64_t at = (int64_t)pos - LOOKBACK(bar, i) + 1;
        in[off + one_hot(at < 0 ? CDZ_MELODY_NO_EVENT : ev[at])] = 1;
        off += CDZ_MELODY_CLASSES;
    }
    size_t n = bar_counter(pos + 1, bar); /* binary counter of the next step's position */
    for (int i = 0; i < 5; i++) in[off++] = (n >> i) & 1 ? 1.0f : -1.0f;
    for (int i = 0; i < 2; i++) in[off++] = repeats(ev, pos, LOOKBACK(bar, i)) ? 1.0f : 0.0f;
}

/* ---- attention_rnn (key melody) ---- */

enum { RANGE = CDZ_MELODY_MAX_NOTE - CDZ_MELODY_MIN_NOTE }; /* 36 */

int cdz_key_melody_label(const int16_t *ev, size_t pos, int bar) {
    if (pos < (size_t)LOOKBACK(bar, 1) && ev[pos] == CDZ_MELODY_NO_EVENT) return RANGE + 3;
    for (int i = 1; i >= 0; i--)
        if (repeats(ev, pos, LOOKBACK(bar, i))) return RANGE + 2 + i;
    if (ev[pos] == CDZ_MELODY_NOTE_OFF) return RANGE + 1;
    if (ev[pos] == CDZ_MELODY_NO_EVENT) return RANGE;
    return ev[pos] - CDZ_MELODY_MIN_NOTE;
}

int cdz_key_melody_event(int label, const int16_t *ev, size_t pos, int bar) {
    for (int i = 1; i >= 0; i--)
        if (label == RANGE + 2 + i)
            return pos < (size_t)LOOKBACK(bar, i) ? CDZ_MELODY_NO_EVENT : ev[pos - (size_t)LOOKBACK(bar, i)];
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

void cdz_key_melody_inputs(const int16_t *ev, size_t pos, int bar, float *in) {
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
    for (int i = 0; i < 2; i++) in[off++] = repeats(ev, pos, LOOKBACK(bar, i)) ? 1.0f : 0.0f;
    /* Binary counter of the next step's position. Magenta meant (n // 2**i) % 2; its Python 3 code
     * divides with /, which only differs in whether it reads as intended: cadenza uses the intended. */
    size_t n = bar_counter(pos + 1, bar);
    for (int i = 0; i < 7; i++) in[off++] = (n >> i) & 1 ? 1.0f : -1.0f;
    in[off++] = (pos + 1) % (size_t)bar == 0 ? 1.0f : 0.0f;
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

static int state_bar(const cdz_melody_state *s) { return s->bar > 0 ? s->bar : 16; }

/* The event a repeat label stands for at position n: the one a lookback ago (no-event before it). */
static int state_decode(const cdz_melody_state *s, int label, int repeat_base) {
    const int bar = state_bar(s);
    for (int i = 1; i >= 0; i--)
        if (label == repeat_base + i)
            return s->n < LOOKBACK(bar, i) ? CDZ_MELODY_NO_EVENT : state_event(s, s->n - LOOKBACK(bar, i));
    return -1000; /* not a repeat */
}

/* A token past the labels: a leading meter token sets the bar and is no step (returns 1); any other
 * is read as a no-event step (returns 0 with *e set). */
static int take_meter(cdz_melody_state *s, int label, int *e) {
    int bar = s->pushed == 0 ? cdz_melody_meter(label - CDZ_MELODY_LABELS, NULL, NULL) : 0;
    s->pushed++;
    if (bar) {
        s->bar = bar;
        s->meter = label - CDZ_MELODY_LABELS + 1;
        return 1;
    }
    *e = CDZ_MELODY_NO_EVENT;
    return 0;
}

int cdz_lookback_push(cdz_melody_state *s, int label) {
    int e;
    if (label >= CDZ_MELODY_LABELS) {
        if (take_meter(s, label, &e)) return CDZ_MELODY_NO_EVENT;
    } else {
        s->pushed++;
        e = state_decode(s, label, CDZ_MELODY_CLASSES);
        if (e == -1000) e = from_one_hot(label);
    }
    state_push_event(s, e);
    return e;
}

int cdz_key_melody_push(cdz_melody_state *s, int label) {
    int e;
    if (label >= CDZ_MELODY_LABELS) {
        if (take_meter(s, label, &e)) return CDZ_MELODY_NO_EVENT;
    } else {
        s->pushed++;
        e = state_decode(s, label, RANGE + 2);
        if (e == -1000)
            e = label == RANGE + 1 ? CDZ_MELODY_NOTE_OFF : label == RANGE ? CDZ_MELODY_NO_EVENT : CDZ_MELODY_MIN_NOTE + label;
    }
    state_push_event(s, e);
    return e;
}

void cdz_lookback_inputs_state(const cdz_melody_state *s, float *in) {
    const int64_t pos = s->n - 1; /* -1 after a meter token alone: before the first step */
    const int bar = state_bar(s);
    memset(in, 0, CDZ_LOOKBACK_INPUTS * sizeof *in);
    int off = 0;
    in[one_hot(pos < 0 ? CDZ_MELODY_NO_EVENT : state_event(s, pos))] = 1;
    off += CDZ_MELODY_CLASSES;
    for (int i = 0; i < 2; i++) {
        int64_t at = pos - LOOKBACK(bar, i) + 1;
        in[off + one_hot(at < 0 ? CDZ_MELODY_NO_EVENT : state_event(s, at))] = 1;
        off += CDZ_MELODY_CLASSES;
    }
    size_t n = bar_counter((size_t)(pos + 1), bar);
    for (int i = 0; i < 5; i++) in[off++] = (n >> i) & 1 ? 1.0f : -1.0f;
    for (int i = 0; i < 2; i++) in[off++] = state_repeats(s, pos, LOOKBACK(bar, i)) ? 1.0f : 0.0f;
}

void cdz_key_melody_inputs_state(const cdz_melody_state *s, float *in) {
    const int64_t pos = s->n - 1; /* -1 after a meter token alone: before the first step */
    const int bar = state_bar(s);
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
    for (int i = 0; i < 2; i++) in[off++] = state_repeats(s, pos, LOOKBACK(bar, i)) ? 1.0f : 0.0f;
    size_t n = bar_counter((size_t)(pos + 1), bar);
    for (int i = 0; i < 7; i++) in[off++] = (n >> i) & 1 ? 1.0f : -1.0f;
    in[off++] = (size_t)(pos + 1) % (size_t)bar == 0 ? 1.0f : 0.0f;
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

/* ---- the codecs ---- */

void codec_melody_meter(const cdz_melody *m, int *numerator, int *denominator) {
    if (m->numerator && m->denominator) {
        *numerator = m->numerator, *denominator = m->denominator;
    } else if (m->steps_per_bar % 4 == 0) { /* read from the bar, as cdz_melody_to_score writes it */
        *numerator = m->steps_per_bar / 4, *denominator = 4;
    } else {
        *numerator = m->steps_per_bar / 2, *denominator = 8;
    }
}

size_t codec_melody_tokens(const cdz_codec *c, const cdz_melody *m, uint16_t *tok) {
    size_t lead = 0;
    int bar = 16; /* Magenta's codecs: always */
    if (c == &codec_lookback2 || c == &codec_key_melody2) {
        int num, den;
        codec_melody_meter(m, &num, &den);
        int i = cdz_melody_meter_index(num, den);
        if (i < 0 || cdz_melody_meter(i, NULL, NULL) != m->steps_per_bar) return 0;
        tok[lead++] = (uint16_t)(CDZ_MELODY_LABELS + i);
        bar = m->steps_per_bar;
    }
    if (c == &codec_melody) {
        if (cdz_melody_encode(m, tok, NULL) != CDZ_OK) return 0; /* squashed melodies always encode */
        return m->n_steps;
    }
    const int key = c == &codec_key_melody || c == &codec_key_melody2;
    for (size_t t = 0; t < m->n_steps; t++)
        tok[lead + t] = (uint16_t)(key ? cdz_key_melody_label(m->events, t, bar) : cdz_lookback_label(m->events, t, bar));
    return lead + m->n_steps;
}

static void meter_token_name(uint16_t t, char *buf, size_t n) {
    int num, den;
    if (cdz_melody_meter(t - CDZ_MELODY_LABELS, &num, &den)) snprintf(buf, n, "METER_%d_%d", num, den);
    else snprintf(buf, n, "INVALID_%u", t);
}

static void lookback_token_name(uint16_t t, char *buf, size_t n) {
    if (t == 38) snprintf(buf, n, "REPEAT_1_BAR");
    else if (t == 39) snprintf(buf, n, "REPEAT_2_BARS");
    else if (t == 0) snprintf(buf, n, "NO_EVENT");
    else if (t == 1) snprintf(buf, n, "NOTE_OFF");
    else if (t < 38) snprintf(buf, n, "NOTE_%d", t - 2 + CDZ_MELODY_MIN_NOTE);
    else meter_token_name(t, buf, n);
}

static void key_melody_token_name(uint16_t t, char *buf, size_t n) {
    if (t < RANGE) snprintf(buf, n, "NOTE_%d", t + CDZ_MELODY_MIN_NOTE);
    else if (t == RANGE) snprintf(buf, n, "NO_EVENT");
    else if (t == RANGE + 1) snprintf(buf, n, "NOTE_OFF");
    else if (t == RANGE + 2) snprintf(buf, n, "REPEAT_1_BAR");
    else if (t == RANGE + 3) snprintf(buf, n, "REPEAT_2_BARS");
    else meter_token_name(t, buf, n);
}

static cdz_status lookback_encode(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *st, cdz_error *err) {
    return codec_encode_melodies(s, out, st, err, &codec_lookback);
}
static cdz_status decode_with_meter(const uint16_t *t, size_t n, uint32_t vocab, int (*push)(cdz_melody_state *, int),
                                    cdz_score *out, cdz_error *err);
static cdz_status lookback_decode(const uint16_t *t, size_t n, cdz_score *out, cdz_error *err) {
    return decode_with_meter(t, n, CDZ_MELODY_LABELS, cdz_lookback_push, out, err);
}
static cdz_status key_melody_encode(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *st, cdz_error *err) {
    return codec_encode_melodies(s, out, st, err, &codec_key_melody);
}
static cdz_status key_melody_decode(const uint16_t *t, size_t n, cdz_score *out, cdz_error *err) {
    return decode_with_meter(t, n, CDZ_MELODY_LABELS, cdz_key_melody_push, out, err);
}

/* Labels decoded one by one through the feature state, against the meter a first meter token names (4/4
 * and 16-step bars without one: Magenta's lookback and key_melody, whose vocabulary holds no meter
 * token); the score carries that time signature. */
static cdz_status decode_with_meter(const uint16_t *t, size_t n, uint32_t vocab, int (*push)(cdz_melody_state *, int),
                                    cdz_score *out, cdz_error *err) {
    cdz_melody m = {0};
    m.events = cdz_malloc((n + 1) * sizeof *m.events);
    if (!m.events) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory decoding a melody");
    cdz_melody_state st;
    cdz_melody_state_reset(&st);
    for (size_t i = 0; i < n; i++) {
        if (t[i] >= vocab) {
            cdz_free(m.events);
            return cdz_error_set(err, CDZ_ERR_RANGE, "token %zu: %u is not a melody token (0-%u)", i, t[i], vocab - 1);
        }
        int64_t before = st.n;
        int e = push(&st, t[i]);
        if (st.n > before) m.events[m.n_steps++] = (int16_t)e;
    }
    int num = 4, den = 4;
    m.steps_per_bar = st.meter ? cdz_melody_meter(st.meter - 1, &num, &den) : 16;
    m.numerator = (uint8_t)num, m.denominator = (uint8_t)den;
    m.steps_per_quarter = 4;
    m.qpm = 120;
    cdz_status r = cdz_melody_to_score(&m, 120.0, 100, 0, out, err);
    cdz_free(m.events);
    return r;
}

static cdz_status lookback2_encode(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *st, cdz_error *err) {
    return codec_encode_melodies(s, out, st, err, &codec_lookback2);
}
static cdz_status lookback2_decode(const uint16_t *t, size_t n, cdz_score *out, cdz_error *err) {
    return decode_with_meter(t, n, CDZ_MELODY_METER_VOCAB, cdz_lookback_push, out, err);
}
static cdz_status key_melody2_encode(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *st, cdz_error *err) {
    return codec_encode_melodies(s, out, st, err, &codec_key_melody2);
}
static cdz_status key_melody2_decode(const uint16_t *t, size_t n, cdz_score *out, cdz_error *err) {
    return decode_with_meter(t, n, CDZ_MELODY_METER_VOCAB, cdz_key_melody_push, out, err);
}

const cdz_codec codec_lookback = {
    "lookback", "lookback_rnn labels: 38 melody classes, repeat 1 bar, repeat 2 bars of 16 steps (inputs: 121 features)",
    CDZ_MELODY_LABELS, lookback_token_name, lookback_encode, lookback_decode, NULL, 0, 0, &codec_gen_melody, NULL,
};
const cdz_codec codec_key_melody = {
    "key_melody", "attention_rnn labels: 36 pitches, no-event, note-off, repeat 1 and 2 bars of 16 steps (inputs: 74 features)",
    CDZ_MELODY_LABELS, key_melody_token_name, key_melody_encode, key_melody_decode, NULL, 0, 0, &codec_gen_melody, NULL,
};
const cdz_codec codec_lookback2 = {
    "lookback2", "lookback with the melody's meter: a METER token, then labels repeating 1 and 2 of its bars (55)",
    CDZ_MELODY_METER_VOCAB, lookback_token_name, lookback2_encode, lookback2_decode, NULL, 0, 0, &codec_gen_melody_meter, NULL,
};
const cdz_codec codec_key_melody2 = {
    "key_melody2", "key_melody with the melody's meter: a METER token, then labels repeating 1 and 2 of its bars (55)",
    CDZ_MELODY_METER_VOCAB, key_melody_token_name, key_melody2_encode, key_melody2_decode, NULL, 0, 0, &codec_gen_melody_meter, NULL,
};

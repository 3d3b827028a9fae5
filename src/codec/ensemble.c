/* The ensemble codec: many instruments on a beat grid, with header tokens (MuseNet) and anticipated
 * controls (the Anticipatory Music Transformer). The layout is in cadenza/ensemble.h.
 *
 * Why this layout (docs/ensemble.md has the measurement): a note is two tokens (instrument x pitch,
 * duration) plus a position shared by the notes of one onset, where the multitrack codec spends a
 * note-on, a note-off and time shifts between them; positions on the bar grid tell the model where the
 * beat is; and because every note carries its own duration, a control can be moved ahead in the
 * sequence without a note-off to pair, which is what anticipation needs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cadenza/ensemble.h"
#include "codec_internal.h"

_Static_assert(CDZ_ENS_VOCAB < 65536, "tokens are u16");
_Static_assert((int)CDZ_ENS_DURATIONS == (int)CDZ_REMI_DURATIONS && (int)CDZ_ENS_TIME_SIGS == (int)CDZ_REMI_TIME_SIGS, "remi's tables");

/* ---- instrument groups ---- */

typedef struct group_def {
    const char *name;
    uint8_t program;   /* the GM program it decodes to */
    uint8_t lo, hi;    /* playing range */
} group_def;

/* Ranges: the usual orchestration tables (written range for the pitched instruments, sounding pitch),
 * the piano's for keyboards and the groups of many instruments. */
static const group_def GROUPS[CDZ_ENS_GROUPS] = {
    {"piano", 0, 21, 108},      {"harpsichord", 6, 29, 89},  {"chromatic", 8, 36, 108},   {"organ", 19, 24, 103},
    {"guitar", 24, 40, 88},     {"bass", 32, 28, 67},        {"violin", 40, 55, 103},     {"viola", 41, 48, 91},
    {"cello", 42, 36, 81},      {"contrabass", 43, 28, 67},  {"strings", 48, 28, 103},    {"harp", 46, 24, 103},
    {"timpani", 47, 36, 60},    {"voice", 52, 36, 84},       {"trumpet", 56, 52, 84},     {"trombone", 57, 40, 72},
    {"tuba", 58, 28, 58},       {"horn", 60, 34, 77},        {"brass", 61, 28, 84},       {"sax", 65, 44, 81},
    {"oboe", 68, 58, 91},       {"bassoon", 70, 34, 75},     {"clarinet", 71, 50, 94},    {"flute", 73, 60, 98},
    {"recorder", 74, 60, 98},   {"synth", 80, 21, 108},      {"ethnic", 105, 36, 96},     {"percussion", 112, 36, 96},
    {"drums", 0, 27, 87},
};

int cdz_ens_group_of(int program, int is_drum) {
    if (is_drum) return CDZ_ENS_DRUMS;
    int p = program & 0x7F;
    if (p <= 5) return 0;
    if (p <= 7) return 1;
    if (p <= 15) return 2;
    if (p <= 23) return 3;
    if (p <= 31) return 4;
    if (p <= 39) return 5;
    switch (p) {
    case 40: return 6;
    case 41: return 7;
    case 42: return 8;
    case 43: return 9;
    case 46: return 11;
    case 47: return 12;
    case 52: case 53: case 54: return 13;
    case 56: case 59: return 14;
    case 57: return 15;
    case 58: return 16;
    case 60: return 17;
    case 61: case 62: case 63: return 18;
    case 64: case 65: case 66: case 67: return 19;
    case 68: case 69: return 20;
    case 70: return 21;
    case 71: return 22;
    case 72: case 73: return 23;
    default: break;
    }
    if (p <= 55) return 10; /* 44, 45 (tremolo, pizzicato), 48-51 ensembles, 55 orchestra hit */
    if (p <= 79) return 24; /* recorder, pan flute, bottle, shakuhachi, whistle, ocarina */
    if (p <= 103) return 25;
    if (p <= 111) return 26;
    return 27;
}

const char *cdz_ens_group_name(int g) { return g >= 0 && g < CDZ_ENS_GROUPS ? GROUPS[g].name : NULL; }
uint8_t cdz_ens_group_program(int g) { return g >= 0 && g < CDZ_ENS_GROUPS ? GROUPS[g].program : 0; }

void cdz_ens_group_range(int g, int *lo, int *hi) {
    *lo = g >= 0 && g < CDZ_ENS_GROUPS ? GROUPS[g].lo : 0;
    *hi = g >= 0 && g < CDZ_ENS_GROUPS ? GROUPS[g].hi : 127;
}

int cdz_ens_group_find(const char *name) {
    if (!name || !*name) return -1;
    for (int g = 0; g < CDZ_ENS_GROUPS; g++)
        if (strcasecmp(name, GROUPS[g].name) == 0) return g;
    /* a few everyday names of the groups' instruments */
    static const struct { const char *word; int group; } ALSO[] = {
        {"violoncello", 8}, {"double bass", 9}, {"doublebass", 9}, {"kettledrums", 12}, {"choir", 13}, {"soprano", 13},
        {"alto", 13}, {"tenor", 13}, {"baritone", 13}, {"french horn", 17}, {"saxophone", 19}, {"english horn", 20},
        {"cor anglais", 20}, {"piccolo", 23}, {"keyboard", 0}, {"drum", CDZ_ENS_DRUMS}, {"drum kit", CDZ_ENS_DRUMS},
        {"string ensemble", 10}, {"harpsichord", 1}, {"church organ", 3}, {"electric bass", 5}, {"acoustic bass", 5}};
    for (size_t i = 0; i < sizeof ALSO / sizeof ALSO[0]; i++)
        if (strcasecmp(name, ALSO[i].word) == 0) return ALSO[i].group;
    for (int p = 0; p < 128; p++)
        if (strcasecmp(name, cdz_gm_program_name((uint8_t)p, 0)) == 0) return cdz_ens_group_of(p, 0);
    return -1;
}

static void join_names(const char *(*name)(int), int n, char *buf, size_t cap) {
    size_t at = 0;
    if (cap) buf[0] = 0;
    for (int k = 0; k < n && at + 1 < cap; k++) {
        int w = snprintf(buf + at, cap - at, "%s%s", k ? ", " : "", name(k));
        if (w < 0) break;
        at += (size_t)w < cap - at ? (size_t)w : cap - at - 1;
    }
}

void cdz_ens_group_list(char *buf, size_t n) { join_names(cdz_ens_group_name, CDZ_ENS_GROUPS, buf, n); }

/* ---- styles and composers ---- */

static const char *const STYLES[CDZ_ENS_STYLES] = {"baroque", "classical", "romantic", "renaissance", "modern",  "hymn",
                                                   "folk",    "jazz",      "pop",      "chorale",     "orchestral", "quartet",
                                                   "other"};

const char *cdz_ens_style_name(int k) { return k >= 0 && k < CDZ_ENS_STYLES ? STYLES[k] : NULL; }

int cdz_ens_style_find(const char *name) {
    for (int k = 0; name && k < CDZ_ENS_STYLES; k++)
        if (strcasecmp(name, STYLES[k]) == 0) return k;
    return -1;
}

void cdz_ens_style_list(char *buf, size_t n) { join_names(cdz_ens_style_name, CDZ_ENS_STYLES, buf, n); }

static int contains_ci(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (; hay && *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return 0;
}

int cdz_ens_style_of(const char *index_style, const char *corpus) {
    /* the index's words, most specific first ("Classical/Romantic orchestral" is orchestral) */
    static const struct { const char *word; int style; } WORDS[] = {
        {"quartet", 11}, {"orchestral", 10}, {"symphonic", 10}, {"baroque", 0}, {"renaissance", 3}, {"motet", 3},
        {"romant", 2},   {"classical", 1},   {"modern", 4},     {"hymn", 5},    {"gospel", 5},      {"folk", 6},
        {"strophic", 6}, {"jazz", 7},        {"popular", 8},    {"pop", 8},     {"dance", 8},       {"song", 12},
        {"march", 12},   {"technique", 12}};
    if (index_style && *index_style) {
        for (size_t i = 0; i < sizeof WORDS / sizeof WORDS[0]; i++)
            if (contains_ci(index_style, WORDS[i].word)) return WORDS[i].style;
        return 12;
    }
    static const struct { const char *corpus; int style; } CORPORA[] = {
        {"pop909", 8}, {"nottingham", 6}, {"jsb", 9}, {"bach370", 9}, {"chorale", 9}, {"wjazzd", 7}, {"jazz", 7}, {"groove", 8}};
    for (size_t i = 0; corpus && i < sizeof CORPORA / sizeof CORPORA[0]; i++)
        if (contains_ci(corpus, CORPORA[i].corpus)) return CORPORA[i].style;
    return -1;
}

/* The composers with the most music in the corpora (minutes in mutopia and openscore), then "traditional". */
static const char *const COMPOSERS[CDZ_ENS_COMPOSERS] = {
    "bach",     "haydn",   "beethoven", "mozart",  "brahms",  "mendelssohn", "schubert", "handel",   "chopin",    "buxtehude",
    "vivaldi",  "schumann", "dvorak",   "grieg",   "telemann", "bruckner",   "borodin",  "joplin",   "monteverdi", "liszt",
    "traditional"};

const char *cdz_ens_composer_name(int k) { return k >= 0 && k < CDZ_ENS_COMPOSERS ? COMPOSERS[k] : NULL; }

int cdz_ens_composer_of(const char *text) {
    if (!text) return -1;
    for (int k = 0; k < CDZ_ENS_COMPOSERS; k++) {
        size_t n = strlen(COMPOSERS[k]);
        for (const char *p = text; *p; p++) /* the surname at the start of a word: "BachJS", "Bach, J. S." */
            if ((p == text || !((p[-1] | 32) >= 'a' && (p[-1] | 32) <= 'z')) && strncasecmp(p, COMPOSERS[k], n) == 0) return k;
    }
    if (contains_ci(text, "dvořák")) return 12;
    return -1;
}

void cdz_ens_composer_list(char *buf, size_t n) { join_names(cdz_ens_composer_name, CDZ_ENS_COMPOSERS, buf, n); }

/* ---- tempos and meters ---- */

double cdz_ens_tempo_qpm(int bin) { return 30.0 * pow(10.0, (double)bin / (CDZ_ENS_TEMPOS - 1)); }

int cdz_ens_tempo_bin(double qpm) {
    if (!(qpm > 0)) return cdz_ens_tempo_bin(120);
    int k = (int)lround((CDZ_ENS_TEMPOS - 1) * log10(qpm / 30.0));
    return k < 0 ? 0 : k >= CDZ_ENS_TEMPOS ? CDZ_ENS_TEMPOS - 1 : k;
}

static int meter_steps(int k) {
    int num, den;
    cdz_remi_time_sig(k, &num, &den);
    return 4 * CDZ_ENS_STEPS_PER_QUARTER * num / den;
}

enum { METER_4_4 = 7, MAX_DUR = CDZ_REMI_MAX_DURATION };

/* ---- pieces ---- */

void cdz_ens_piece_free(cdz_ens_piece *p) {
    if (!p) return;
    cdz_free(p->notes);
    cdz_free(p->bars);
    memset(p, 0, sizeof *p);
}

static cdz_status add_bar(cdz_ens_piece *p, int32_t steps, int time_sig, int tempo) {
    size_t cap = (size_t)p->cap_bars;
    if (cdz_grow((void **)&p->bars, &cap, (size_t)p->n_bars + 1, sizeof *p->bars)) return CDZ_ERR_NOMEM;
    p->cap_bars = (int64_t)cap;
    p->bars[p->n_bars++] = (cdz_ens_bar){steps, (int16_t)time_sig, (int16_t)tempo};
    return CDZ_OK;
}

static cdz_status add_note(cdz_ens_piece *p, cdz_ens_note n) {
    if (cdz_grow((void **)&p->notes, &p->cap_notes, p->n_notes + 1, sizeof *p->notes)) return CDZ_ERR_NOMEM;
    p->notes[p->n_notes++] = n;
    return CDZ_OK;
}

static int note_cmp(const void *a, const void *b) {
    const cdz_ens_note *x = a, *y = b;
    if (x->bar != y->bar) return x->bar < y->bar ? -1 : 1;
    if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
    if (x->group != y->group) return x->group < y->group ? -1 : 1;
    if (x->pitch != y->pitch) return x->pitch < y->pitch ? -1 : 1;
    if (x->dur != y->dur) return x->dur > y->dur ? -1 : 1; /* the longest of a unison first */
    return x->track < y->track ? -1 : x->track > y->track;
}

void cdz_ens_piece_sort(cdz_ens_piece *p) { qsort(p->notes, p->n_notes, sizeof *p->notes, note_cmp); }

/* Sorts the notes and writes each (group, pitch, onset) once, the longest. Returns how many went. */
static size_t sort_and_merge(cdz_ens_piece *p) {
    if (!p->n_notes) return 0;
    cdz_ens_piece_sort(p);
    size_t w = 1;
    for (size_t i = 1; i < p->n_notes; i++) {
        const cdz_ens_note *a = &p->notes[w - 1], *b = &p->notes[i];
        if (a->bar == b->bar && a->pos == b->pos && a->group == b->group && a->pitch == b->pitch) continue;
        p->notes[w++] = *b;
    }
    size_t merged = p->n_notes - w;
    p->n_notes = w;
    return merged;
}

/* The meter token of a bar of `steps` steps under the time signature num/den in force at its start. */
static int meter_token_of(int num, int den, int32_t steps, cdz_extract_stats *st) {
    int k = cdz_remi_time_sig_token(num, den);
    if (k < 0 || meter_steps(k) != steps) {
        /* a partial bar (a pickup, a meter LilyPond wrote mid-bar) or a meter without a token: the
         * token of the nearest length, the bar keeping its own */
        int best = METER_4_4, bd = 1 << 30;
        for (int j = 0; j < CDZ_ENS_TIME_SIGS; j++) {
            int d = abs(meter_steps(j) - steps);
            if (d < bd) bd = d, best = j;
        }
        if (bd && st) st->odd_bars++;
        k = best;
    }
    return k;
}

static int fold_pitch(int pitch, cdz_extract_stats *st) {
    int moved = 0;
    while (pitch < CDZ_ENS_PITCH_LO) pitch += 12, moved = 1;
    while (pitch >= CDZ_ENS_PITCH_LO + CDZ_ENS_PITCHES) pitch -= 12, moved = 1;
    if (moved && st) st->folded_pitches++;
    return pitch;
}

/* Bar lines as cdz_score_bar_to_tick draws them (4/4 before the first time signature; a signature
 * inside a bar starts a new bar there), walked once: starts[0 .. n] for the bars up to the one holding
 * `last`, with each bar's time signature. */
typedef struct bar_walk {
    int64_t *starts;   /* n + 1 */
    uint8_t *num, *den;/* n */
    int64_t n;
} bar_walk;

static void bar_walk_free(bar_walk *w) {
    cdz_free(w->starts), cdz_free(w->num), cdz_free(w->den);
    memset(w, 0, sizeof *w);
}

static cdz_status walk_bars(const cdz_score *s, int64_t last, bar_walk *w, cdz_error *err) {
    memset(w, 0, sizeof *w);
    size_t cap = 0, cap_n = 0, cap_d = 0, i = 0;
    int64_t tick = 0, len = 4 * (int64_t)s->ppq;
    uint8_t num = 4, den = 4;
    for (;;) {
        for (; i < s->n_time_sigs && s->time_sigs[i].tick <= tick; i++) {
            num = s->time_sigs[i].numerator, den = s->time_sigs[i].denominator;
            int64_t l = 4 * (int64_t)s->ppq * num / (den ? den : 4);
            len = l > 0 ? l : 1;
        }
        if (w->n >= CDZ_ENS_MAX_BARS) {
            bar_walk_free(w);
            return cdz_error_set(err, CDZ_ERR_RANGE, "the piece has more than %d bars (its last note starts at tick %lld): "
                                 "more than the ensemble codec reads", CDZ_ENS_MAX_BARS, (long long)last);
        }
        if (cdz_grow((void **)&w->starts, &cap, (size_t)w->n + 2, sizeof *w->starts) ||
            cdz_grow((void **)&w->num, &cap_n, (size_t)w->n + 1, 1) || cdz_grow((void **)&w->den, &cap_d, (size_t)w->n + 1, 1)) {
            bar_walk_free(w);
            return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory reading a score's bars");
        }
        int64_t next = len > INT64_MAX - tick ? INT64_MAX : tick + len;
        if (i < s->n_time_sigs && s->time_sigs[i].tick < next) next = s->time_sigs[i].tick;
        w->starts[w->n] = tick, w->starts[w->n + 1] = next, w->num[w->n] = num, w->den[w->n] = den;
        w->n++;
        if (next > last || next == INT64_MAX) break;
        tick = next;
    }
    return CDZ_OK;
}

/* Where a tick falls: its bar and 12-per-quarter position; a tick rounded onto the next bar line
 * belongs to that bar when there is one. */
static void locate(const bar_walk *w, int32_t ppq, int64_t tick, int32_t *bar, int32_t *pos) {
    int64_t lo = 0, hi = w->n - 1; /* the last bar starting at or before the tick */
    while (lo < hi) {
        int64_t mid = (lo + hi + 1) / 2;
        if (w->starts[mid] <= tick) lo = mid;
        else hi = mid - 1;
    }
    double steps = (double)(w->starts[lo + 1] - w->starts[lo]) * CDZ_ENS_STEPS_PER_QUARTER / ppq;
    int64_t p = llround((double)(tick - w->starts[lo]) * CDZ_ENS_STEPS_PER_QUARTER / ppq);
    if (p >= llround(steps) && p > 0 && lo + 1 < w->n) lo++, p = 0;
    if (p >= CDZ_ENS_POSITIONS) p = CDZ_ENS_POSITIONS - 1;
    if (p < 0) p = 0;
    *bar = (int32_t)lo, *pos = (int32_t)p;
}

cdz_status cdz_ens_note_bars(const cdz_score *s, int32_t *bar, int64_t **starts, int64_t *n_bars, cdz_error *err) {
    if (starts) *starts = NULL;
    if (n_bars) *n_bars = 0;
    if (s->ppq <= 0) return cdz_error_set(err, CDZ_ERR_ARG, "the score keeps SMPTE time (no beats): the ensemble codec needs bars");
    int64_t last = 0;
    for (size_t i = 0; i < s->n_notes; i++)
        if (s->notes[i].start_tick > last) last = s->notes[i].start_tick;
    bar_walk w;
    cdz_status st = walk_bars(s, last, &w, err);
    if (st) return st;
    for (size_t i = 0; i < s->n_notes; i++) {
        int32_t pos;
        locate(&w, s->ppq, s->notes[i].start_tick, &bar[i], &pos);
    }
    if (n_bars) *n_bars = w.n;
    if (starts) *starts = w.starts, w.starts = NULL;
    bar_walk_free(&w);
    return CDZ_OK;
}

cdz_status cdz_ens_piece_from_score(const cdz_score *s, cdz_ens_piece *out, cdz_extract_stats *st, cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (s->ppq <= 0) return cdz_error_set(err, CDZ_ERR_ARG, "the score keeps SMPTE time (no beats): the ensemble codec needs bars");
    int64_t last = -1;
    for (size_t i = 0; i < s->n_notes; i++)
        if (s->notes[i].start_tick > last) last = s->notes[i].start_tick;
    if (last < 0) {
        if (st) st->empty++;
        return CDZ_OK;
    }
    /* the bars, from the time signatures; a bar's tempo is the one at its start */
    bar_walk w;
    cdz_status rc = walk_bars(s, last, &w, err);
    if (rc) return rc;
    size_t tempo_i = 0;
    double q = 120.0;
    for (int64_t b = 0; b < w.n && rc == CDZ_OK; b++) {
        int64_t t0 = w.starts[b];
        int32_t steps = (int32_t)llround((double)(w.starts[b + 1] - t0) * CDZ_ENS_STEPS_PER_QUARTER / s->ppq);
        if (steps < 1) steps = 1;
        for (; tempo_i < s->n_tempos && s->tempos[tempo_i].tick <= t0; tempo_i++) q = s->tempos[tempo_i].qpm;
        if (st && (q < cdz_ens_tempo_qpm(0) * 0.97 || q > cdz_ens_tempo_qpm(CDZ_ENS_TEMPOS - 1) * 1.03)) st->clamped_tempos++;
        rc = add_bar(out, steps, meter_token_of(w.num[b], w.den[b], steps, st), cdz_ens_tempo_bin(q));
    }
    for (size_t i = 0; i < s->n_notes && rc == CDZ_OK; i++) {
        const cdz_note *n = &s->notes[i];
        int32_t bar, pos;
        locate(&w, s->ppq, n->start_tick, &bar, &pos);
        int64_t dur = llround((double)(n->end_tick - n->start_tick) * CDZ_ENS_STEPS_PER_QUARTER / s->ppq);
        if (dur < 1) dur = 1;
        if (dur > MAX_DUR) {
            dur = MAX_DUR;
            if (st) st->long_notes++;
        }
        int g = cdz_ens_group_of(n->program, n->is_drum);
        rc = add_note(out, (cdz_ens_note){bar, pos, (int32_t)dur, (uint8_t)g, (uint8_t)fold_pitch(n->pitch, st), n->track});
    }
    bar_walk_free(&w);
    if (rc) {
        cdz_ens_piece_free(out);
        return cdz_error_set(err, rc, "out of memory reading a score's notes");
    }
    size_t merged = sort_and_merge(out);
    if (st) st->unisons += merged;
    return CDZ_OK;
}

cdz_status cdz_ens_piece_to_score(const cdz_ens_piece *p, cdz_score *out, cdz_error *err) {
    enum { PPQ = 480, STEP = PPQ / CDZ_ENS_STEPS_PER_QUARTER };
    cdz_status st = cdz_score_init(out, PPQ, err);
    if (st) return st;
    int track_of[CDZ_ENS_GROUPS], n_tracks = 0;
    for (int g = 0; g < CDZ_ENS_GROUPS; g++) track_of[g] = -1;
    for (size_t i = 0; i < p->n_notes; i++) track_of[p->notes[i].group] = 0;
    for (int g = 0; g < CDZ_ENS_GROUPS; g++)
        if (track_of[g] == 0) track_of[g] = n_tracks++ + 1; /* track 0 holds the tempo map */
    int64_t *start = cdz_calloc((size_t)p->n_bars + 1, sizeof *start);
    if (!start) st = CDZ_ERR_NOMEM;
    for (int64_t b = 0; b < p->n_bars && !st; b++) {
        start[b + 1] = start[b] + (int64_t)p->bars[b].steps * STEP;
        if (b == 0 || p->bars[b].time_sig != p->bars[b - 1].time_sig) {
            int num, den;
            cdz_remi_time_sig(p->bars[b].time_sig, &num, &den);
            st = cdz_score_add_time_signature(out, start[b], (uint8_t)num, (uint8_t)den);
        }
        if (!st && (b == 0 || p->bars[b].tempo != p->bars[b - 1].tempo))
            st = cdz_score_add_tempo(out, start[b], cdz_ens_tempo_qpm(p->bars[b].tempo));
    }
    if (!st && p->n_bars == 0) st = cdz_score_add_tempo(out, 0, 120.0);
    for (size_t i = 0; i < p->n_notes && !st; i++) {
        const cdz_ens_note *n = &p->notes[i];
        int64_t b = n->bar < 0 ? 0 : n->bar;
        int64_t t0 = (b < p->n_bars ? start[b] : start[p->n_bars] + (b - p->n_bars) * 48 * STEP) + (int64_t)n->pos * STEP;
        int g = n->group, drum = g == CDZ_ENS_DRUMS;
        int t = track_of[g];
        uint8_t channel = drum ? 9 : (uint8_t)((t - 1) % 15 < 9 ? (t - 1) % 15 : (t - 1) % 15 + 1);
        st = cdz_score_add_note(out, (uint16_t)t, channel, GROUPS[g].program, n->pitch, 80, t0, t0 + (int64_t)n->dur * STEP);
        if (!st && drum) out->notes[out->n_notes - 1].is_drum = 1;
    }
    cdz_free(start);
    if (!st) st = cdz_score_finish(out, err);
    if (st) {
        cdz_score_free(out);
        return cdz_error_set(err, st, "ensemble piece to score: %s", cdz_status_str(st));
    }
    for (int g = 0; g < CDZ_ENS_GROUPS; g++)
        if (track_of[g] > 0 && (size_t)track_of[g] < out->n_tracks)
            snprintf(out->tracks[track_of[g]].name, sizeof out->tracks[0].name, "%s", GROUPS[g].name);
    return CDZ_OK;
}

/* ---- tokens ---- */

cdz_ens_header cdz_ens_header_default(void) { return (cdz_ens_header){-1, -1, 0, 0}; }

size_t cdz_ens_header_tokens(const cdz_ens_header *h, uint16_t *buf) {
    size_t n = 0;
    if (h->style >= 0 && h->style < CDZ_ENS_STYLES) buf[n++] = (uint16_t)(CDZ_ENS_STYLE + h->style);
    if (h->composer >= 0 && h->composer < CDZ_ENS_COMPOSERS) buf[n++] = (uint16_t)(CDZ_ENS_COMPOSER + h->composer);
    for (int g = 0; g < CDZ_ENS_GROUPS; g++)
        if (h->groups >> g & 1u) buf[n++] = (uint16_t)(CDZ_ENS_INST + g);
    buf[n++] = (uint16_t)(h->anticipated ? CDZ_ENS_AAR : CDZ_ENS_AR);
    return n;
}

static uint16_t note_token(const cdz_ens_note *n, int control) {
    return (uint16_t)((control ? CDZ_ENS_CONTROL : CDZ_ENS_NOTE) + n->group * CDZ_ENS_PITCHES + (n->pitch - CDZ_ENS_PITCH_LO));
}

static cdz_status put(token_buf *b, int token) {
    if (cdz_grow((void **)&b->v, &b->cap, b->n + 1, sizeof *b->v)) return CDZ_ERR_NOMEM;
    b->v[b->n++] = (uint16_t)token;
    return CDZ_OK;
}

/* The first note of bar `bar` or later (notes are sorted by bar). */
static size_t first_of_bar(const cdz_ens_piece *p, int64_t bar) {
    size_t lo = 0, hi = p->n_notes;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->notes[mid].bar < bar) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* One bar's content: the events of bar `ev_bar` (-1: none) and the controls of bar `ctl_bar` (-1:
 * none), position by position, controls first at each. */
static cdz_status write_content(const cdz_ens_piece *p, const uint8_t *control, int64_t ev_bar, int64_t ctl_bar, token_buf *b) {
    size_t e = ev_bar >= 0 ? first_of_bar(p, ev_bar) : p->n_notes, c = ctl_bar >= 0 ? first_of_bar(p, ctl_bar) : p->n_notes;
    cdz_status st = CDZ_OK;
    for (;;) {
        /* skip what this pass does not write: controls among the events, events among the controls */
        while (e < p->n_notes && p->notes[e].bar == ev_bar && control && control[e]) e++;
        while (c < p->n_notes && p->notes[c].bar == ctl_bar && !(control && control[c])) c++;
        int has_e = e < p->n_notes && p->notes[e].bar == ev_bar, has_c = c < p->n_notes && p->notes[c].bar == ctl_bar;
        if (!has_e && !has_c) return st;
        int32_t pos = has_e && (!has_c || p->notes[e].pos <= p->notes[c].pos) ? p->notes[e].pos : p->notes[c].pos;
        if ((st = put(b, CDZ_ENS_POS + pos))) return st;
        for (; c < p->n_notes && p->notes[c].bar == ctl_bar && p->notes[c].pos == pos; c++)
            if (control && control[c] && ((st = put(b, note_token(&p->notes[c], 1))) || (st = put(b, CDZ_ENS_DUR + cdz_remi_duration_token(p->notes[c].dur)))))
                return st;
        for (; e < p->n_notes && p->notes[e].bar == ev_bar && p->notes[e].pos == pos; e++)
            if (!(control && control[e]) && ((st = put(b, note_token(&p->notes[e], 0))) || (st = put(b, CDZ_ENS_DUR + cdz_remi_duration_token(p->notes[e].dur)))))
                return st;
    }
}

static uint32_t groups_of(const cdz_ens_piece *p) {
    uint32_t g = 0;
    for (size_t i = 0; i < p->n_notes; i++) g |= 1u << p->notes[i].group;
    return g;
}

/* A bar's opening: BAR, then its meter and tempo when they change (or it opens the sequence). */
static cdz_status write_bar_open(const cdz_ens_piece *p, int64_t bar, int first, token_buf *b) {
    cdz_status st = put(b, CDZ_ENS_BAR);
    if (!st && (first || p->bars[bar].time_sig != p->bars[bar - 1].time_sig)) st = put(b, CDZ_ENS_TIME_SIG + p->bars[bar].time_sig);
    if (!st && (first || p->bars[bar].tempo != p->bars[bar - 1].tempo)) st = put(b, CDZ_ENS_TEMPO + p->bars[bar].tempo);
    return st;
}

static cdz_status write_range(const cdz_ens_piece *p, const cdz_ens_header *h0, const uint8_t *control, int64_t b0, int64_t b1,
                              int end, token_buf *b) {
    cdz_ens_header h = *h0;
    if (!h.groups) h.groups = groups_of(p);
    uint16_t head[3 + CDZ_ENS_GROUPS];
    size_t nh = cdz_ens_header_tokens(&h, head);
    cdz_status st = CDZ_OK;
    for (size_t i = 0; i < nh && !st; i++) st = put(b, head[i]);
    if (h.anticipated)
        for (int64_t k = b0 - CDZ_ENS_ANTICIPATION; k < b0 && !st; k++)
            if (!(st = put(b, CDZ_ENS_LEAD))) st = write_content(p, control, -1, k + CDZ_ENS_ANTICIPATION, b);
    for (int64_t bar = b0; bar < b1 && !st; bar++) {
        if (!(st = write_bar_open(p, bar, bar == b0, b)))
            st = write_content(p, control, bar, h.anticipated && bar + CDZ_ENS_ANTICIPATION < p->n_bars ? bar + CDZ_ENS_ANTICIPATION : -1, b);
    }
    if (!st && end) st = put(b, CDZ_ENS_END);
    return st;
}

cdz_status cdz_ens_write(const cdz_ens_piece *p, const cdz_ens_header *h, const uint8_t *control, int64_t b0, int64_t b1, int end,
                         cdz_tokens *out, cdz_error *err) {
    if (b0 < 0) b0 = 0;
    if (b1 > p->n_bars) b1 = p->n_bars;
    token_buf b = {NULL, 0, 0};
    cdz_status st = write_range(p, h, control, b0, b1, end, &b);
    if (!st) st = cdz_tokens_append(out, b.v, b.n);
    cdz_free(b.v);
    return st ? cdz_error_set(err, st, "out of memory writing ensemble tokens") : CDZ_OK;
}

cdz_status cdz_ens_read(const uint16_t *tok, size_t n, cdz_ens_piece *out, cdz_ens_header *h, uint8_t **control_out,
                        cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (control_out) *control_out = NULL;
    cdz_ens_header hd = cdz_ens_header_default();
    int64_t n_lead = 0;
    for (size_t i = 0; i < n; i++) {
        if (tok[i] >= CDZ_ENS_VOCAB) return cdz_error_set(err, CDZ_ERR_RANGE, "token %u at %zu is past the ensemble vocabulary (%d)", tok[i], i, CDZ_ENS_VOCAB);
        if (tok[i] == CDZ_ENS_END) break;
        if (tok[i] == CDZ_ENS_LEAD) n_lead++;
    }
    uint8_t *ctl = NULL;
    size_t cap_ctl = 0;
    int64_t bar = -n_lead, max_bar = -1;
    int opened = 0, meter = METER_4_4, tempo = cdz_ens_tempo_bin(120);
    int32_t pos = 0;
    int pending = -1; /* the note a DUR token belongs to (its index), -1 after anything else */
    cdz_status st = CDZ_OK;
    for (size_t i = 0; i < n && !st; i++) {
        int t = tok[i];
        if (t == CDZ_ENS_END) break;
        if (t < CDZ_ENS_DUR) {
            int control = t >= CDZ_ENS_CONTROL, k = t - (control ? CDZ_ENS_CONTROL : CDZ_ENS_NOTE);
            cdz_ens_note nt = {(int32_t)(bar + (control ? CDZ_ENS_ANTICIPATION : 0)), pos, CDZ_ENS_STEPS_PER_QUARTER,
                               (uint8_t)(k / CDZ_ENS_PITCHES), (uint8_t)(CDZ_ENS_PITCH_LO + k % CDZ_ENS_PITCHES), 0};
            nt.track = nt.group;
            pending = -1;
            if (nt.bar < 0) continue; /* an event in a LEAD bar sounds before the music: nothing to keep */
            if ((st = add_note(out, nt))) break;
            if (cdz_grow((void **)&ctl, &cap_ctl, out->n_notes, 1)) {
                st = CDZ_ERR_NOMEM;
                break;
            }
            ctl[out->n_notes - 1] = (uint8_t)control;
            pending = (int)(out->n_notes - 1);
            if (nt.bar > max_bar) max_bar = nt.bar;
            continue;
        }
        if (t < CDZ_ENS_POS) {
            if (pending >= 0) out->notes[pending].dur = cdz_remi_duration_steps(t - CDZ_ENS_DUR);
            pending = -1;
            continue;
        }
        pending = -1;
        if (t < CDZ_ENS_BAR) pos = t - CDZ_ENS_POS;
        else if (t == CDZ_ENS_BAR || t == CDZ_ENS_LEAD) {
            if (opened) bar++;
            opened = 1, pos = 0;
            if (t == CDZ_ENS_BAR && bar > max_bar) max_bar = bar;
            /* real bars carry the meter and tempo in force; their tokens come right after BAR */
            while (bar >= 0 && out->n_bars <= bar && !st) st = add_bar(out, meter_steps(meter), meter, tempo);
        } else if (t < CDZ_ENS_TEMPO) {
            meter = t - CDZ_ENS_TIME_SIG;
            if (bar >= 0 && bar < out->n_bars) out->bars[bar] = (cdz_ens_bar){meter_steps(meter), (int16_t)meter, (int16_t)tempo};
        } else if (t < CDZ_ENS_STYLE) {
            tempo = t - CDZ_ENS_TEMPO;
            if (bar >= 0 && bar < out->n_bars) out->bars[bar].tempo = (int16_t)tempo;
        } else if (t < CDZ_ENS_COMPOSER) hd.style = t - CDZ_ENS_STYLE;
        else if (t < CDZ_ENS_INST) hd.composer = t - CDZ_ENS_COMPOSER;
        else if (t < CDZ_ENS_AR) hd.groups |= 1u << (t - CDZ_ENS_INST);
        else if (t == CDZ_ENS_AAR) hd.anticipated = 1;
    }
    /* bars past the last BAR that notes (controls) reach keep the last meter and tempo */
    while (!st && out->n_bars <= max_bar) st = add_bar(out, meter_steps(meter), meter, tempo);
    if (st) {
        cdz_free(ctl);
        cdz_ens_piece_free(out);
        return cdz_error_set(err, st, "out of memory reading ensemble tokens");
    }
    /* notes come in sequence order; the piece keeps them sorted, with their control flags */
    if (out->n_notes) {
        for (size_t i = 0; i < out->n_notes; i++) out->notes[i].track = (uint16_t)(out->notes[i].group | (ctl[i] ? 0x100 : 0));
        cdz_ens_piece_sort(out);
        for (size_t i = 0; i < out->n_notes; i++) {
            ctl[i] = (uint8_t)(out->notes[i].track >> 8);
            out->notes[i].track &= 0xFF;
        }
    }
    if (h) *h = hd;
    if (control_out) *control_out = ctl;
    else cdz_free(ctl);
    return CDZ_OK;
}

double cdz_ens_seconds(const uint16_t *tok, size_t n) {
    double s = 0;
    int meter = METER_4_4, tempo = cdz_ens_tempo_bin(120), open = 0;
    for (size_t i = 0; i < n && tok[i] != CDZ_ENS_END; i++) {
        int t = tok[i];
        if (t == CDZ_ENS_BAR) {
            if (open) s += meter_steps(meter) / (double)CDZ_ENS_STEPS_PER_QUARTER * 60.0 / cdz_ens_tempo_qpm(tempo);
            open = 1;
        } else if (t >= CDZ_ENS_TIME_SIG && t < CDZ_ENS_TEMPO) meter = t - CDZ_ENS_TIME_SIG;
        else if (t >= CDZ_ENS_TEMPO && t < CDZ_ENS_STYLE) tempo = t - CDZ_ENS_TEMPO;
    }
    if (open) s += meter_steps(meter) / (double)CDZ_ENS_STEPS_PER_QUARTER * 60.0 / cdz_ens_tempo_qpm(tempo);
    return s;
}

/* ---- the codec ---- */

static void ens_token_name(uint16_t t, char *buf, size_t n) {
    if (t < CDZ_ENS_DUR) {
        int control = t >= CDZ_ENS_CONTROL, k = t - (control ? CDZ_ENS_CONTROL : 0);
        snprintf(buf, n, "%s%s_%d", control ? "C_" : "", GROUPS[k / CDZ_ENS_PITCHES].name, CDZ_ENS_PITCH_LO + k % CDZ_ENS_PITCHES);
    } else if (t < CDZ_ENS_POS) snprintf(buf, n, "DUR_%d", cdz_remi_duration_steps(t - CDZ_ENS_DUR));
    else if (t < CDZ_ENS_BAR) snprintf(buf, n, "POS_%d", t - CDZ_ENS_POS);
    else if (t == CDZ_ENS_BAR) snprintf(buf, n, "BAR");
    else if (t == CDZ_ENS_LEAD) snprintf(buf, n, "LEAD");
    else if (t < CDZ_ENS_TEMPO) {
        int num, den;
        cdz_remi_time_sig(t - CDZ_ENS_TIME_SIG, &num, &den);
        snprintf(buf, n, "TIME_SIG_%d/%d", num, den);
    } else if (t < CDZ_ENS_STYLE) snprintf(buf, n, "TEMPO_%d", (int)lround(cdz_ens_tempo_qpm(t - CDZ_ENS_TEMPO)));
    else if (t < CDZ_ENS_COMPOSER) snprintf(buf, n, "STYLE_%s", STYLES[t - CDZ_ENS_STYLE]);
    else if (t < CDZ_ENS_INST) snprintf(buf, n, "COMPOSER_%s", COMPOSERS[t - CDZ_ENS_COMPOSER]);
    else if (t < CDZ_ENS_AR) snprintf(buf, n, "INST_%s", GROUPS[t - CDZ_ENS_INST].name);
    else if (t == CDZ_ENS_AR) snprintf(buf, n, "AR");
    else if (t == CDZ_ENS_AAR) snprintf(buf, n, "AAR");
    else if (t == CDZ_ENS_END) snprintf(buf, n, "END");
    else snprintf(buf, n, "INVALID_%u", t);
}

/* A small deterministic random source for a piece's choices (splitmix64). */
static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double unit(uint64_t *s) { return (double)(mix(s) >> 11) / 9007199254740992.0; }

/* The controls of one anticipated sequence over bars [b0, b1) (the anticipation paper's training mix,
 * on parts): each track a control with probability one half (not none, not all, when there are two or
 * more), and in a quarter of them every note from a random bar on as well (a span to infill). */
static void choose_controls(const cdz_ens_piece *p, int64_t b0, int64_t b1, uint64_t *rng, uint8_t *control) {
    size_t i0 = first_of_bar(p, b0), i1 = first_of_bar(p, b1 + CDZ_ENS_ANTICIPATION);
    uint16_t tracks[64];
    int nt = 0;
    for (size_t i = i0; i < i1; i++) {
        int seen = 0;
        for (int k = 0; k < nt && !seen; k++) seen = tracks[k] == p->notes[i].track;
        if (!seen && nt < 64) tracks[nt++] = p->notes[i].track;
    }
    uint64_t chosen = 0;
    if (nt >= 2)
        for (int tries = 0; tries < 16 && (chosen == 0 || chosen == (nt >= 64 ? ~0ull : (1ull << nt) - 1)); tries++) {
            chosen = 0;
            for (int k = 0; k < nt; k++)
                if (unit(rng) < 0.5) chosen |= 1ull << k;
        }
    int64_t span = nt < 2 || unit(rng) < 0.25 ? b0 + 1 + (int64_t)(unit(rng) * (double)(b1 - b0)) : INT64_MAX;
    for (size_t i = i0; i < i1; i++) {
        int k = 0;
        while (k < nt && tracks[k] != p->notes[i].track) k++;
        control[i] = (uint8_t)((k < nt && (chosen >> k & 1)) || p->notes[i].bar >= span);
    }
}

/* The most tokens bar `bar` takes: BAR, a meter and a tempo, a position per onset, two per note (as
 * events or, written in an earlier bar, as controls). */
static size_t bar_tokens(const cdz_ens_piece *p, int64_t bar) {
    if (bar >= p->n_bars) return 0;
    size_t i0 = first_of_bar(p, bar), i1 = first_of_bar(p, bar + 1), n = 3 + 2 * (i1 - i0);
    for (size_t i = i0; i < i1; i++) n += i == i0 || p->notes[i].pos != p->notes[i - 1].pos;
    return n;
}

/* A piece as dataset sequences: runs of whole bars of at most CDZ_ENS_CHUNK tokens, each with the
 * header; the last ends with END. A bar too long for one sequence is written alone, its notes past the
 * limit left out and counted (truncated). */
static cdz_status encode_chunks(const cdz_ens_piece *p, const cdz_ens_header *h0, double anticipation, uint64_t seed,
                                cdz_tokens *out, cdz_extract_stats *st, cdz_error *err) {
    uint8_t *control = cdz_calloc(p->n_notes ? p->n_notes : 1, 1);
    if (!control) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding a piece");
    token_buf b = {NULL, 0, 0};
    uint64_t rng = seed;
    cdz_status rc = CDZ_OK;
    for (int64_t b0 = 0; b0 < p->n_bars && !rc;) {
        size_t budget = CDZ_ENS_CHUNK - (4 + CDZ_ENS_GROUPS) - 1 - CDZ_ENS_ANTICIPATION, used = 0;
        int64_t b1 = b0;
        for (; b1 < p->n_bars; b1++) {
            size_t ahead = 0; /* the controls the last bars may carry of the bars after the sequence */
            for (int k = 1; k <= CDZ_ENS_ANTICIPATION; k++) ahead += bar_tokens(p, b1 + k);
            if (used + bar_tokens(p, b1) + ahead > budget) break;
            used += bar_tokens(p, b1);
        }
        if (b1 == b0) b1 = b0 + 1;
        cdz_ens_header h = *h0;
        h.anticipated = anticipation > 0 && unit(&rng) < anticipation;
        memset(control, 0, p->n_notes);
        if (h.anticipated) choose_controls(p, b0, b1, &rng, control);
        b.n = 0;
        rc = write_range(p, &h, control, b0, b1, b1 >= p->n_bars, &b);
        if (!rc && b.n > CDZ_ENS_CHUNK) {
            if (st) st->truncated++;
            b.n = CDZ_ENS_CHUNK;
        }
        if (!rc) rc = cdz_tokens_append(out, b.v, b.n);
        if (!rc && st) st->sequences++;
        b0 = b1;
    }
    cdz_free(b.v);
    cdz_free(control);
    return rc ? cdz_error_set(err, rc, "out of memory encoding a piece") : CDZ_OK;
}

static uint64_t piece_hash(const cdz_ens_piece *p) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < p->n_notes; i++) {
        const cdz_ens_note *n = &p->notes[i];
        uint64_t v = (uint64_t)n->bar << 32 ^ (uint64_t)n->pos << 16 ^ (uint64_t)n->pitch << 8 ^ n->group;
        h = (h ^ v) * 1099511628211ull;
    }
    return h;
}

static cdz_status ens_encode_info(const cdz_score *s, const cdz_piece_info *info, cdz_tokens *out, cdz_extract_stats *st,
                                  cdz_error *err) {
    cdz_ens_piece p;
    cdz_status rc = cdz_ens_piece_from_score(s, &p, st, err);
    if (rc) return rc;
    if (p.n_notes) {
        cdz_ens_header h = cdz_ens_header_default();
        h.style = info ? cdz_ens_style_of(info->style, info->corpus) : -1;
        h.composer = info ? cdz_ens_composer_of(info->composer) : -1;
        double anticipation = info ? info->anticipation : 0.5;
        uint64_t seed = info && info->seed ? info->seed : piece_hash(&p);
        rc = encode_chunks(&p, &h, anticipation, seed, out, st, err);
    }
    cdz_ens_piece_free(&p);
    return rc;
}

static cdz_status ens_encode(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *st, cdz_error *err) {
    return ens_encode_info(s, NULL, out, st, err);
}

static cdz_status ens_decode(const uint16_t *tok, size_t n, cdz_score *out, cdz_error *err) {
    cdz_ens_piece p;
    cdz_status st = cdz_ens_read(tok, n, &p, NULL, NULL, err);
    if (st) return st;
    st = cdz_ens_piece_to_score(&p, out, err);
    cdz_ens_piece_free(&p);
    return st;
}

const cdz_codec codec_ensemble = {
    "ensemble",
    "many instruments on a beat grid: style, composer and instrument headers, notes as instrument x pitch and duration, "
    "anticipated controls for infilling",
    CDZ_ENS_VOCAB, ens_token_name, ens_encode, ens_decode, NULL, 0, 0, NULL, ens_encode_info,
};

/* REMI (Huang & Yang, "Pop Music Transformer", ACM Multimedia 2020; MidiTok's REMI): music as bars,
 * positions in the bar and notes with a pitch, a velocity and a duration, so that a model is told where
 * the beat is rather than left to infer it from milliseconds (the `performance` codec). Two codecs:
 *
 *   remi      one sequence a file: every non-drum note (the sustain pedal applied, as the performance
 *             extractor does), bar after bar from the bar of the first note.
 *   remi_acc  pairs [melody of a stretch of CDZ_REMI_STRETCH_BARS bars, SEP, piano of the same bars], a
 *             stretch every CDZ_REMI_STRIDE_BARS bars (overlapping by half), for the accompaniment model:
 *             stretches without melody are kept (intros are played), stretches without piano left out
 *             (counted as empty); notes keep their durations across the stretch's end. The melody is
 *             tracks named MELODY, the piano tracks named PIANO (POP909's names).
 *
 * Per bar: BAR; TIME_SIG_n/d in the first bar of a sequence and where the meter changes; then for each
 * grid step holding events, in order, POSITION_k, TEMPO_q when the tempo changes there (the first bar of a
 * sequence always states its tempo at POSITION_0), and per note PITCH_p VELOCITY_v DURATION_d, notes of
 * one step by pitch. Empty bars are a BAR (and TIME_SIG) alone, so bars count by position.
 *
 * The grid: 12 steps a quarter note. It is the smallest that holds both 16th notes (3 steps) and 8th- and
 * 16th-note triplets (4 and 2 steps): POP909's piano onsets, measured against its beat annotations, lie
 * 92% on 16ths and 2% more on triplets (the rest is played timing), and a 16th grid would move the
 * triplets and the swung 8ths of other corpora by up to a 48th of a beat. Positions count from the bar
 * line, so a 3/4 bar has 36 and a 6/8 bar 36 (of 8th-note beats), a 4/4 bar 48; bars of up to 96 steps
 * (8 quarter notes) are held. Durations are in steps (cdz_remi_duration_steps), tempos in whole qpm.
 *
 * Where bars come from: cdz_remi_align (below). The tokens say nothing of seconds except TEMPO: a decoded
 * score has the tempo map the TEMPO tokens give, at 480 ticks a quarter (40 a step).
 *
 * Decoding is total: tokens before the first BAR are in bar 0 (which that BAR then opens: it does not
 * move on); a PITCH makes a note with the VELOCITY and DURATION that follow it, or else the last ones
 * seen (before any: the bin of velocity 64 and a quarter note); VELOCITY or DURATION tokens without a
 * note before them set those defaults; a POSITION past the bar's length puts notes past its bar line
 * (in the next bar's time). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec_internal.h"

enum { DECODE_PPQ = 480, STEP_TICKS = DECODE_PPQ / CDZ_REMI_STEPS_PER_QUARTER, MAX_BAR_STEPS = CDZ_REMI_POSITIONS };

/* ---- vocabulary ---- */

static const int DURATIONS[CDZ_REMI_DURATIONS] = {
    1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12,          /* every step to a quarter */
    15, 18, 21, 24, 27, 30, 33, 36, 39, 42, 45, 48,          /* 16ths to a whole note */
    54, 60, 66, 72, 78, 84, 90, 96,                          /* 8ths to two */
    108, 120, 132, 144, 156, 168, 180, CDZ_REMI_MAX_DURATION /* quarters to four */
};

int cdz_remi_duration_steps(int k) { return k >= 0 && k < CDZ_REMI_DURATIONS ? DURATIONS[k] : 0; }

int cdz_remi_duration_token(int64_t steps) {
    if (steps >= CDZ_REMI_MAX_DURATION) return CDZ_REMI_DURATIONS - 1;
    int best = 0;
    int64_t best_d = INT64_MAX;
    for (int k = 0; k < CDZ_REMI_DURATIONS; k++) {
        int64_t d = steps > DURATIONS[k] ? steps - DURATIONS[k] : DURATIONS[k] - steps;
        if (d < best_d) best = k, best_d = d; /* ascending: a tie keeps the shorter */
    }
    return best;
}

/* TIME_SIG tokens: n/2 (n 1-4), n/4 (1-8), n/8 (1-16), n/16 (1-16): every meter of at most 96 steps. */
static const struct {
    int den, count, first;
} METER_GROUPS[4] = {{2, 4, 0}, {4, 8, 4}, {8, 16, 12}, {16, 16, 28}};

void cdz_remi_time_sig(int k, int *numerator, int *denominator) {
    *numerator = 4, *denominator = 4;
    for (int g = 0; g < 4; g++)
        if (k >= METER_GROUPS[g].first && k < METER_GROUPS[g].first + METER_GROUPS[g].count)
            *numerator = k - METER_GROUPS[g].first + 1, *denominator = METER_GROUPS[g].den;
}

int cdz_remi_time_sig_token(int numerator, int denominator) {
    for (int g = 0; g < 4; g++)
        if (denominator == METER_GROUPS[g].den && numerator >= 1 && numerator <= METER_GROUPS[g].count)
            return METER_GROUPS[g].first + numerator - 1;
    return -1;
}

static int meter_steps(int k) {
    int num, den;
    cdz_remi_time_sig(k, &num, &den);
    return 4 * CDZ_REMI_STEPS_PER_QUARTER * num / den;
}

static const int METER_4_4 = 7; /* cdz_remi_time_sig_token(4, 4) */

static void remi_token_name(uint16_t t, char *buf, size_t n) {
    if (t == CDZ_REMI_BAR) snprintf(buf, n, "BAR");
    else if (t < CDZ_REMI_PITCH) snprintf(buf, n, "POSITION_%d", t - CDZ_REMI_POSITION);
    else if (t < CDZ_REMI_VELOCITY) snprintf(buf, n, "PITCH_%d", t - CDZ_REMI_PITCH);
    else if (t < CDZ_REMI_DURATION) snprintf(buf, n, "VELOCITY_%d", t - CDZ_REMI_VELOCITY + 1);
    else if (t < CDZ_REMI_TEMPO) snprintf(buf, n, "DURATION_%d", DURATIONS[t - CDZ_REMI_DURATION]);
    else if (t < CDZ_REMI_TIME_SIG) snprintf(buf, n, "TEMPO_%d", t - CDZ_REMI_TEMPO + CDZ_REMI_MIN_QPM);
    else if (t < CDZ_REMI_VOCAB) {
        int num, den;
        cdz_remi_time_sig(t - CDZ_REMI_TIME_SIG, &num, &den);
        snprintf(buf, n, "TIME_SIG_%d/%d", num, den);
    } else snprintf(buf, n, "INVALID_%u", t);
}

static void pair_token_name(uint16_t t, char *buf, size_t n) {
    if (t == CDZ_REMI_SEP) snprintf(buf, n, "SEP");
    else remi_token_name(t, buf, n);
}

/* ---- where the bars lie ---- */

static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    if (a % b != 0 && ((a < 0) != (b < 0))) q--;
    return q;
}
static int64_t mod_floor(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

static double tri(double d, double width) {
    d = fabs(d);
    return d < width ? 1 - d / width : 0;
}

/* The beat's phase in ticks: the offset from the quarter-note grid of the ticks where onsets fall most on
 * beats, and half as much on the off-beat 8ths between them (so that a beat and its off-beat are told
 * apart); 0 when the grid itself scores within 90% of the best (a file written on its ticks' grid, played
 * a little loosely). *on_grid receives the grid's score over the best. Works on at most 960 bins of the
 * quarter note. */
static cdz_status estimate_phase(const cdz_score *s, int64_t *phase, double *on_grid) {
    const int64_t P = s->ppq;
    const int B = P < 960 ? (int)P : 960;
    double *h = cdz_calloc((size_t)B, sizeof *h);
    int *nz = cdz_calloc((size_t)B, sizeof *nz);
    if (!h || !nz) {
        cdz_free(h), cdz_free(nz);
        return CDZ_ERR_NOMEM;
    }
    for (size_t i = 0; i < s->n_notes; i++)
        if (!s->notes[i].is_drum) h[mod_floor(s->notes[i].start_tick, P) * B / P] += 1;
    int k = 0;
    for (int r = 0; r < B; r++)
        if (h[r] > 0) nz[k++] = r;
    const double width = B / 24.0 > 1 ? B / 24.0 : 1;
    double best = -1, at0 = 0;
    int best_c = 0;
    for (int c = 0; c < B; c++) {
        double score = 0;
        for (int j = 0; j < k; j++) {
            double d = mod_floor(nz[j] - c, B);
            if (d > B / 2.0) d -= B;
            double e = fmod(d + B, B / 2.0); /* to the nearest 8th-note line: beat or off-beat */
            if (e > B / 4.0) e -= B / 2.0;
            /* the off-beat's weight: its 8th-note line less the beat's own share of it */
            score += h[nz[j]] * (tri(d, width) + 0.5 * (tri(e, width) - tri(d, width)));
        }
        if (c == 0) at0 = score;
        if (score > best) best = score, best_c = c;
    }
    *phase = at0 >= 0.9 * best ? 0 : (int64_t)best_c * P / B;
    *on_grid = best > 0 ? at0 / best : 1;
    cdz_free(h), cdz_free(nz);
    return CDZ_OK;
}

/* Which of the bar's `beats` beats (counted from the phase) is the downbeat: where the notes' pitch classes
 * (summed over the `w` beats before and after, each note's first 8 beats) change most, a chord change.
 * POP909's piano, against its downbeat annotations: right for 7 songs in 10. */
static cdz_status estimate_downbeat(const cdz_score *s, int64_t phase, int beats, int *downbeat) {
    *downbeat = 0;
    const int64_t P = s->ppq;
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; i < s->n_notes; i++) {
        if (s->notes[i].is_drum) continue;
        if (s->notes[i].start_tick < lo) lo = s->notes[i].start_tick;
        if (s->notes[i].end_tick > hi) hi = s->notes[i].end_tick;
    }
    if (beats < 2 || lo > hi) return CDZ_OK;
    const int64_t b0 = floor_div(lo - phase, P), b1 = floor_div(hi - phase, P) + 1;
    if (b1 - b0 > (1 << 20)) return CDZ_OK; /* a score of more than a million beats: no estimate */
    const size_t nb = (size_t)(b1 - b0);
    double(*pc)[12] = cdz_calloc(nb, sizeof *pc);
    double *score = cdz_calloc((size_t)beats, sizeof *score);
    if (!pc || !score) {
        cdz_free(pc), cdz_free(score);
        return CDZ_ERR_NOMEM;
    }
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *n = &s->notes[i];
        if (n->is_drum) continue;
        int64_t t0 = n->start_tick, t1 = n->end_tick < t0 + 8 * P ? n->end_tick : t0 + 8 * P;
        for (int64_t b = floor_div(t0 - phase, P); b < b1 && phase + b * P < t1; b++) {
            int64_t bs = phase + b * P, be = bs + P;
            int64_t ov = (t1 < be ? t1 : be) - (t0 > bs ? t0 : bs);
            if (ov > 0 && b >= b0) pc[b - b0][n->pitch % 12] += (double)ov / (double)P;
        }
    }
    const int w = beats / 2 > 1 ? beats / 2 : 1;
    for (size_t b = (size_t)w; b + (size_t)w <= nb; b++) {
        double u[12] = {0}, v[12] = {0}, uu = 0, vv = 0, uv = 0;
        for (int j = 0; j < w; j++)
            for (int c = 0; c < 12; c++) u[c] += pc[b - 1 - (size_t)j][c], v[c] += pc[b + (size_t)j][c];
        for (int c = 0; c < 12; c++) uu += u[c] * u[c], vv += v[c] * v[c], uv += u[c] * v[c];
        if (uu > 0 && vv > 0) score[mod_floor(b0 + (int64_t)b, beats)] += 1 - uv / sqrt(uu * vv);
    }
    for (int r = 1; r < beats; r++)
        if (score[r] > score[*downbeat]) *downbeat = r;
    cdz_free(pc), cdz_free(score);
    return CDZ_OK;
}

cdz_status cdz_remi_align(const cdz_score *s, int from_start, cdz_score *out, cdz_remi_frame *frame, cdz_error *err) {
    memset(frame, 0, sizeof *frame);
    memset(out, 0, sizeof *out);
    if (s->ppq <= 0)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "remi reads bars and beats: this score is timed in SMPTE frames, "
                             "which have none");
    cdz_status st = cdz_score_copy(out, s, err);
    if (st != CDZ_OK) return st;
    int64_t first = INT64_MAX, phase = 0;
    double on_grid = 1;
    for (size_t i = 0; i < s->n_notes; i++)
        if (!s->notes[i].is_drum && s->notes[i].start_tick < first) first = s->notes[i].start_tick;
    /* a first meter of one beat (POP909's 1/4) is no bar */
    const int one_beat = s->n_time_sigs && s->time_sigs[0].tick == 0 && s->time_sigs[0].numerator == 1;
    if (first != INT64_MAX && (st = estimate_phase(s, &phase, &on_grid)) != CDZ_OK) goto nomem;
    /* the file's own bars when its notes are on its grid: the grid scores at least half the best (a file
     * whose bars were set from annotations, cdz_score_set_bars, is kept even where the estimate would put
     * the beat on its off-beats) */
    if (first == INT64_MAX || (on_grid >= 0.5 && !one_beat)) {
        for (size_t i = 0; i < out->n_time_sigs; i++) {
            cdz_time_signature *ts = &out->time_sigs[i];
            if (cdz_remi_time_sig_token(ts->numerator, ts->denominator) < 0)
                ts->numerator = 4, ts->denominator = 4, frame->meters_replaced++;
        }
        frame->numerator = out->n_time_sigs ? out->time_sigs[0].numerator : 4;
        frame->denominator = out->n_time_sigs ? out->time_sigs[0].denominator : 4;
        return CDZ_OK;
    }
    int num = 4, den = 4;
    if (s->n_time_sigs && s->time_sigs[0].numerator >= 3 &&
        cdz_remi_time_sig_token(s->time_sigs[0].numerator, s->time_sigs[0].denominator) >= 0)
        num = s->time_sigs[0].numerator, den = s->time_sigs[0].denominator;
    const int64_t P = s->ppq, bar = 4 * P * num / den > 0 ? 4 * P * num / den : 1;
    int downbeat = 0;
    if ((st = estimate_downbeat(s, phase, (int)(bar / P), &downbeat)) != CDZ_OK) goto nomem;
    /* bar 0: the bar of the first note, or of the file's start (what comes before the first note kept) */
    const int64_t d0 = phase + downbeat * P, origin = d0 + floor_div((from_start ? 0 : first) - d0, bar) * bar;
    out->n_time_sigs = 0;
    if ((st = cdz_score_shift_ticks(out, -origin, err)) == CDZ_OK) st = cdz_score_set_meter(out, (uint8_t)num, (uint8_t)den, err);
    if (st != CDZ_OK) {
        cdz_score_free(out);
        return st;
    }
    *frame = (cdz_remi_frame){1, phase, downbeat, num, den, -origin, 0};
    return CDZ_OK;
nomem:
    cdz_score_free(out);
    return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory finding the bars");
}

/* ---- a score on the grid ---- */

typedef struct remi_note {
    int64_t bar;
    int32_t pos;
    uint8_t pitch, bin, dur; /* velocity bin 1-32, DURATION token 0-39 */
    uint16_t track;
} remi_note;

typedef struct remi_tempo {
    int64_t bar;
    int32_t pos, qpm;
} remi_tempo;

/* An aligned score's bars (start tick, length in steps and TIME_SIG token each), its non-drum notes and its
 * tempo changes on the grid, in order. */
typedef struct remi_piece {
    int64_t *bar_start;
    int32_t *bar_steps;
    uint8_t *meter;
    size_t n_table, cap_table, cap_steps, cap_meter;
    int64_t table_end; /* where the table's last bar ends */
    int64_t n_bars;    /* bars up to the last note's */
    remi_note *notes;
    size_t n_notes;
    remi_tempo *tempos;
    size_t n_tempos;
} remi_piece;

static void piece_free(remi_piece *p) {
    cdz_free(p->bar_start), cdz_free(p->bar_steps), cdz_free(p->meter), cdz_free(p->notes), cdz_free(p->tempos);
    memset(p, 0, sizeof *p);
}

/* The TIME_SIG token of a bar `ticks` long cut short by a time signature: its steps rounded to 16ths (to
 * 8ths past 48 steps); *exact = 0 when that rounding changed them. */
static int partial_meter(int64_t ticks, int64_t ppq, int *exact) {
    int64_t x = ticks * CDZ_REMI_STEPS_PER_QUARTER, steps = (x + ppq / 2) / ppq;
    int64_t q = steps <= 48 ? 3 : 6, r = (steps + q / 2) / q * q;
    if (r < 3) r = 3;
    if (r > MAX_BAR_STEPS) r = MAX_BAR_STEPS;
    *exact = x % ppq == 0 && r == steps;
    if (r % 12 == 0) return cdz_remi_time_sig_token((int)(r / 12), 4);
    if (r % 6 == 0) return cdz_remi_time_sig_token((int)(r / 6), 8);
    return cdz_remi_time_sig_token((int)(r / 3), 16);
}

static cdz_status push_bar(remi_piece *p, int64_t start, int64_t ticks, int full_meter, int64_t ppq, cdz_extract_stats *st) {
    if (cdz_grow((void **)&p->bar_start, &p->cap_table, p->n_table + 1, sizeof *p->bar_start) ||
        cdz_grow((void **)&p->bar_steps, &p->cap_steps, p->n_table + 1, sizeof *p->bar_steps) ||
        cdz_grow((void **)&p->meter, &p->cap_meter, p->n_table + 1, sizeof *p->meter))
        return CDZ_ERR_NOMEM;
    int exact = 1, meter = full_meter >= 0 ? full_meter : partial_meter(ticks, ppq, &exact);
    if (!exact && st) st->odd_bars++;
    p->bar_start[p->n_table] = start;
    p->bar_steps[p->n_table] = (int32_t)((ticks * CDZ_REMI_STEPS_PER_QUARTER + ppq / 2) / ppq);
    p->meter[p->n_table++] = (uint8_t)meter;
    p->table_end = start + ticks;
    return CDZ_OK;
}

/* The bar holding tick t (the last whose start is at or before it). */
static size_t bar_of(const remi_piece *p, int64_t t) {
    size_t lo = 0, hi = p->n_table;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->bar_start[mid] <= t) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* The grid step of tick t: bar and position (a time rounded onto the next bar line goes to that bar). */
static void to_grid(const remi_piece *p, int64_t t, int64_t ppq, int64_t *bar, int32_t *pos) {
    size_t b = bar_of(p, t);
    int64_t x = (t - p->bar_start[b]) * CDZ_REMI_STEPS_PER_QUARTER, k = x < 0 ? 0 : (x + ppq / 2) / ppq;
    if (k >= p->bar_steps[b] && b + 1 < p->n_table) b++, k = 0;
    if (k >= MAX_BAR_STEPS) k = MAX_BAR_STEPS - 1;
    *bar = (int64_t)b, *pos = (int32_t)k;
}

static int note_before(const remi_note *a, const remi_note *b) {
    if (a->bar != b->bar) return a->bar < b->bar;
    if (a->pos != b->pos) return a->pos < b->pos;
    if (a->pitch != b->pitch) return a->pitch < b->pitch;
    if (a->dur != b->dur) return a->dur < b->dur;
    if (a->bin != b->bin) return a->bin < b->bin;
    return a->track < b->track;
}
#define NOTE_BEFORE(x, y) note_before((x), (y))
CDZ_DEFINE_SORT(sort_notes, remi_note, NOTE_BEFORE)

/* Puts an aligned score on the grid: its bars from tick 0 following its time signatures (one starting
 * where a signature falls inside a bar, as cdz_score_bar_to_tick), at least min_bars of them, its non-drum
 * notes and its tempo changes. */
static cdz_status piece_build(const cdz_score *s, int64_t min_bars, remi_piece *p, cdz_extract_stats *st) {
    memset(p, 0, sizeof *p);
    const int64_t P = s->ppq;
    int64_t last = -1;
    for (size_t i = 0; i < s->n_notes; i++)
        if (!s->notes[i].is_drum && s->notes[i].start_tick > last) last = s->notes[i].start_tick;
    if (min_bars > CDZ_REMI_MAX_BARS) min_bars = CDZ_REMI_MAX_BARS;
    /* the bar table: past the last note by a bar (a note may round onto its bar line) */
    int64_t tick = 0;
    int num = 4, den = 4;
    size_t ts = 0;
    cdz_status r = CDZ_OK;
    while (r == CDZ_OK) {
        while (ts < s->n_time_sigs && s->time_sigs[ts].tick <= tick)
            num = s->time_sigs[ts].numerator, den = s->time_sigs[ts].denominator, ts++;
        int meter = cdz_remi_time_sig_token(num, den);
        if (meter < 0) meter = METER_4_4, num = 4, den = 4; /* cdz_remi_align replaced these (counted there) */
        int64_t len = 4 * P * num / den, end = tick + len;
        if (ts < s->n_time_sigs && s->time_sigs[ts].tick < end) end = s->time_sigs[ts].tick;
        r = push_bar(p, tick, end - tick, end - tick == len ? meter : -1, P, st);
        int enough = tick > last && (int64_t)p->n_table >= min_bars;
        if (enough || (int64_t)p->n_table >= CDZ_REMI_MAX_BARS) break;
        tick = end;
    }
    size_t n = 0, dropped = 0;
    if (r == CDZ_OK && !(p->notes = cdz_calloc(s->n_notes + 1, sizeof *p->notes))) r = CDZ_ERR_NOMEM;
    for (size_t i = 0; r == CDZ_OK && i < s->n_notes; i++) {
        const cdz_note *x = &s->notes[i];
        if (x->is_drum) continue;
        remi_note q = {0, 0, x->pitch & 0x7F, (uint8_t)cdz_velocity_to_bin(x->velocity ? x->velocity : 1), 0, x->track};
        if (x->start_tick >= p->table_end) { /* past CDZ_REMI_MAX_BARS bars */
            dropped++;
            continue;
        }
        to_grid(p, x->start_tick, P, &q.bar, &q.pos);
        int64_t start_x = p->bar_start[q.bar] * CDZ_REMI_STEPS_PER_QUARTER + (int64_t)q.pos * P;
        int64_t end_x = x->end_tick * CDZ_REMI_STEPS_PER_QUARTER - start_x;
        int64_t steps = end_x <= 0 ? 1 : (end_x + P / 2) / P;
        if (steps < 1) steps = 1;
        if (steps > CDZ_REMI_MAX_DURATION && st) st->long_notes++;
        q.dur = (uint8_t)cdz_remi_duration_token(steps);
        p->notes[n++] = q;
        if (q.bar + 1 > p->n_bars) p->n_bars = q.bar + 1;
    }
    p->n_notes = n;
    if (dropped && st) st->truncated++;
    if (r == CDZ_OK && sort_notes(p->notes, n)) r = CDZ_ERR_NOMEM;
    /* tempos: 120 qpm until the first; those on one step: the later */
    if (r == CDZ_OK && !(p->tempos = cdz_calloc(s->n_tempos + 1, sizeof *p->tempos))) r = CDZ_ERR_NOMEM;
    if (r == CDZ_OK) {
        p->tempos[p->n_tempos++] = (remi_tempo){0, 0, 120};
        for (size_t i = 0; i < s->n_tempos; i++) {
            remi_tempo t = {0, 0, 0};
            to_grid(p, s->tempos[i].tick, P, &t.bar, &t.pos);
            double q = floor(s->tempos[i].qpm + 0.5);
            if (!(q >= CDZ_REMI_MIN_QPM && q < CDZ_REMI_MIN_QPM + CDZ_REMI_TEMPOS)) {
                if (st) st->clamped_tempos++;
                q = q >= CDZ_REMI_MIN_QPM ? CDZ_REMI_MIN_QPM + CDZ_REMI_TEMPOS - 1 : CDZ_REMI_MIN_QPM;
            }
            t.qpm = (int32_t)q;
            remi_tempo *prev = &p->tempos[p->n_tempos - 1];
            if (prev->bar == t.bar && prev->pos == t.pos) *prev = t;
            else p->tempos[p->n_tempos++] = t;
        }
    }
    if (r != CDZ_OK) piece_free(p);
    return r;
}

/* ---- writing tokens ---- */

static cdz_status put(token_buf *b, int token) {
    if (cdz_grow((void **)&b->v, &b->cap, b->n + 1, sizeof *b->v)) return CDZ_ERR_NOMEM;
    b->v[b->n++] = (uint16_t)token;
    return CDZ_OK;
}

/* The first note of bar `bar` or later. */
static size_t first_note_of(const remi_piece *p, int64_t bar) {
    size_t lo = 0, hi = p->n_notes;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->notes[mid].bar < bar) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* A bar's TIME_SIG token (bars past the table keep its last meter). */
static int meter_of(const remi_piece *p, int64_t bar) { return p->meter[(size_t)bar < p->n_table ? (size_t)bar : p->n_table - 1]; }

/* The notes of tracks keep[track] (every track when keep is NULL) that start in bars [b0, b1), with the
 * bars' meters and the tempos in force, appended to b. */
static cdz_status emit(const remi_piece *p, const uint8_t *keep, size_t n_keep, int64_t b0, int64_t b1, token_buf *b) {
#define KEPT(k) (!keep || (p->notes[k].track < n_keep && keep[p->notes[k].track]))
    size_t ti = 0;
    int qpm = 120;
    while (ti < p->n_tempos && (p->tempos[ti].bar < b0 || (p->tempos[ti].bar == b0 && p->tempos[ti].pos == 0)))
        qpm = p->tempos[ti++].qpm;
    size_t ni = first_note_of(p, b0);
    cdz_status st = CDZ_OK;
    for (int64_t bar = b0; bar < b1 && st == CDZ_OK; bar++) {
        int meter = meter_of(p, bar);
        st = put(b, CDZ_REMI_BAR);
        if (st == CDZ_OK && (bar == b0 || meter != meter_of(p, bar - 1))) st = put(b, CDZ_REMI_TIME_SIG + meter);
        int open = -1; /* the position whose POSITION token is out */
        if (bar == b0 && st == CDZ_OK) {
            open = 0;
            if ((st = put(b, CDZ_REMI_POSITION)) == CDZ_OK) st = put(b, CDZ_REMI_TEMPO + qpm - CDZ_REMI_MIN_QPM);
        }
        while (st == CDZ_OK) {
            while (ni < p->n_notes && p->notes[ni].bar == bar && !KEPT(ni)) ni++;
            int has_note = ni < p->n_notes && p->notes[ni].bar == bar;
            int has_tempo = ti < p->n_tempos && p->tempos[ti].bar == bar;
            if (!has_note && !has_tempo) break;
            int pos = has_note ? p->notes[ni].pos : MAX_BAR_STEPS;
            if (has_tempo && p->tempos[ti].pos < pos) pos = p->tempos[ti].pos;
            int change = has_tempo && p->tempos[ti].pos == pos && p->tempos[ti].qpm != qpm;
            int notes_here = has_note && p->notes[ni].pos == pos;
            if ((change || notes_here) && pos != open) st = put(b, CDZ_REMI_POSITION + pos), open = pos;
            if (st == CDZ_OK && has_tempo && p->tempos[ti].pos == pos) {
                if (change) st = put(b, CDZ_REMI_TEMPO + p->tempos[ti].qpm - CDZ_REMI_MIN_QPM), qpm = p->tempos[ti].qpm;
                ti++;
            }
            for (; st == CDZ_OK && ni < p->n_notes && p->notes[ni].bar == bar && p->notes[ni].pos == pos; ni++) {
                if (!KEPT(ni)) continue;
                const remi_note *x = &p->notes[ni];
                if ((st = put(b, CDZ_REMI_PITCH + x->pitch)) == CDZ_OK && (st = put(b, CDZ_REMI_VELOCITY + x->bin - 1)) == CDZ_OK)
                    st = put(b, CDZ_REMI_DURATION + x->dur);
            }
        }
    }
    return st;
#undef KEPT
}

/* Notes of tracks keep[] in bars [b0, b1). */
static size_t count_notes(const remi_piece *p, const uint8_t *keep, size_t n_keep, int64_t b0, int64_t b1) {
    size_t k = 0;
    for (size_t i = first_note_of(p, b0); i < p->n_notes && p->notes[i].bar < b1; i++)
        k += p->notes[i].track < n_keep && keep[p->notes[i].track];
    return k;
}

/* The score with the sustain pedal applied and its bars aligned, on the grid (at least min_bars bars). */
static cdz_status prepare(const cdz_score *s, int sustain, int align, int64_t min_bars, remi_piece *p, cdz_remi_frame *frame,
                          cdz_score *aligned_out, cdz_extract_stats *stats, cdz_error *err) {
    cdz_score held, aligned;
    cdz_remi_frame f;
    memset(&f, 0, sizeof f);
    memset(p, 0, sizeof *p);
    cdz_status st = cdz_score_copy(&held, s, err);
    if (st != CDZ_OK) return st;
    if (sustain && (st = cdz_score_apply_sustain(&held, err)) != CDZ_OK) {
        cdz_score_free(&held);
        return st;
    }
    if (align) {
        st = cdz_remi_align(&held, 0, &aligned, &f, err);
        cdz_score_free(&held);
        if (st != CDZ_OK) return st;
    } else {
        aligned = held;
    }
    if (stats) stats->estimated_bars += (uint64_t)f.estimated, stats->odd_bars += f.meters_replaced;
    if (frame) *frame = f;
    st = piece_build(&aligned, min_bars, p, stats);
    if (st != CDZ_OK) st = cdz_error_set(err, st, "out of memory putting notes on the grid");
    if (st == CDZ_OK && aligned_out) *aligned_out = aligned;
    else cdz_score_free(&aligned);
    return st;
}

static cdz_status append_buf(cdz_tokens *out, const token_buf *b, cdz_status st, cdz_error *err) {
    if (st == CDZ_OK) st = cdz_tokens_append(out, b->v, b->n);
    if (st != CDZ_OK) return cdz_error_set(err, st, "out of memory encoding bars");
    return CDZ_OK;
}

static cdz_status remi_encode(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    remi_piece p;
    cdz_status st = prepare(s, 1, 1, 0, &p, NULL, NULL, stats, err);
    if (st != CDZ_OK) return st;
    if (p.n_notes == 0) {
        if (stats) stats->empty++;
        piece_free(&p);
        return CDZ_OK;
    }
    token_buf b = {NULL, 0, 0};
    st = append_buf(out, &b, emit(&p, NULL, 0, 0, p.n_bars, &b), err);
    if (st == CDZ_OK && stats) stats->sequences++;
    cdz_free(b.v);
    piece_free(&p);
    return st;
}

/* ---- reading tokens ---- */

typedef struct remi_reader {
    cdz_score *out;
    uint16_t track;
    uint8_t channel;
    int meta;            /* write tempos and time signatures */
    int64_t bar_start;
    int bars, pos, meter, written_meter;
    int velocity, dur;   /* the defaults: the last seen */
    int pitch, p_vel, p_dur; /* the note being read (pitch -1: none) */
} remi_reader;

static int64_t bar_ticks(int meter) { return (int64_t)meter_steps(meter) * STEP_TICKS; }

static cdz_status flush(remi_reader *r) {
    if (r->pitch < 0) return CDZ_OK;
    int64_t t = r->bar_start + (int64_t)r->pos * STEP_TICKS;
    int pitch = r->pitch;
    r->pitch = -1;
    return cdz_score_add_note(r->out, r->track, r->channel, 0, (uint8_t)pitch, (uint8_t)r->p_vel, t,
                              t + (int64_t)r->p_dur * STEP_TICKS);
}

/* The bar being read ends: its meter is written where it changed. */
static cdz_status close_bar(remi_reader *r) {
    if (!r->meta || r->meter == r->written_meter) return CDZ_OK;
    int num, den;
    cdz_remi_time_sig(r->meter, &num, &den);
    r->written_meter = r->meter;
    return cdz_score_add_time_signature(r->out, r->bar_start, (uint8_t)num, (uint8_t)den);
}

static cdz_status read_tokens(remi_reader *r, const uint16_t *tok, size_t n, const char *what, uint32_t vocab, cdz_error *err) {
    cdz_status st = CDZ_OK;
    for (size_t i = 0; i < n && st == CDZ_OK; i++) {
        int t = tok[i];
        if ((uint32_t)t >= vocab)
            return cdz_error_set(err, CDZ_ERR_RANGE, "token %zu: %d is not a %s token (0-%u)", i, t, what, vocab - 1);
        if (t == CDZ_REMI_BAR) {
            if ((st = flush(r)) == CDZ_OK && r->bars++ > 0 && (st = close_bar(r)) == CDZ_OK)
                r->bar_start += bar_ticks(r->meter);
            r->pos = 0;
        } else if (t < CDZ_REMI_PITCH) {
            st = flush(r);
            r->pos = t - CDZ_REMI_POSITION;
        } else if (t < CDZ_REMI_VELOCITY) {
            st = flush(r);
            r->pitch = t - CDZ_REMI_PITCH, r->p_vel = r->velocity, r->p_dur = r->dur;
        } else if (t < CDZ_REMI_DURATION) {
            r->velocity = cdz_bin_to_velocity(t - CDZ_REMI_VELOCITY + 1);
            if (r->pitch >= 0) r->p_vel = r->velocity;
        } else if (t < CDZ_REMI_TEMPO) {
            r->dur = DURATIONS[t - CDZ_REMI_DURATION];
            if (r->pitch >= 0) r->p_dur = r->dur, st = flush(r);
        } else if (t < CDZ_REMI_TIME_SIG) {
            if (r->meta) st = cdz_score_add_tempo(r->out, r->bar_start + (int64_t)r->pos * STEP_TICKS, t - CDZ_REMI_TEMPO + CDZ_REMI_MIN_QPM);
        } else if (t < CDZ_REMI_VOCAB) {
            st = flush(r);
            r->meter = t - CDZ_REMI_TIME_SIG;
        }
        /* SEP (pair codec) is handled by the caller */
    }
    if (st == CDZ_OK) st = flush(r);
    if (st == CDZ_OK) st = close_bar(r);
    if (st != CDZ_OK) return cdz_error_set(err, st, "out of memory decoding bars");
    return CDZ_OK;
}

static remi_reader reader(cdz_score *out, uint16_t track, uint8_t channel, int meta) {
    remi_reader r;
    memset(&r, 0, sizeof r);
    r.out = out, r.track = track, r.channel = channel, r.meta = meta;
    r.meter = METER_4_4, r.written_meter = -1;
    r.velocity = cdz_bin_to_velocity(cdz_velocity_to_bin(64)), r.dur = CDZ_REMI_STEPS_PER_QUARTER, r.pitch = -1;
    return r;
}

/* Tempos written at one tick: the later stays (cdz_score keeps both, in order). */
static void dedupe_tempos(cdz_score *s) {
    size_t k = 0;
    for (size_t i = 0; i < s->n_tempos; i++) {
        if (k && s->tempos[k - 1].tick == s->tempos[i].tick) k--;
        s->tempos[k++] = s->tempos[i];
    }
    s->n_tempos = k;
}

static cdz_status remi_decode(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err) {
    cdz_status st = cdz_score_init(out, DECODE_PPQ, err);
    if (st != CDZ_OK) return st;
    remi_reader r = reader(out, 0, 0, 1);
    st = read_tokens(&r, tokens, n, "remi", CDZ_REMI_VOCAB, err);
    if (st == CDZ_OK) {
        dedupe_tempos(out);
        st = cdz_score_finish(out, err);
    }
    if (st != CDZ_OK) cdz_score_free(out);
    return st;
}

/* ---- generation: continuing a piece ---- */

static double remi_bars(const uint16_t *tok, size_t n) {
    double k = 0;
    for (size_t i = 0; i < n; i++) k += tok[i] == CDZ_REMI_BAR;
    return k;
}

/* Without a primer: a bar of 4/4 at 120 qpm, its first step open. */
static size_t remi_start(const cdz_codec *c, uint16_t *tok, size_t cap) {
    (void)c;
    if (cap < 4) return 0;
    tok[0] = CDZ_REMI_BAR, tok[1] = (uint16_t)(CDZ_REMI_TIME_SIG + METER_4_4), tok[2] = CDZ_REMI_POSITION;
    tok[3] = CDZ_REMI_TEMPO + 120 - CDZ_REMI_MIN_QPM;
    return 4;
}

static cdz_status remi_primer(const cdz_codec *c, const cdz_score *s, cdz_gen_frame *f, cdz_tokens *out, cdz_error *err) {
    (void)c;
    f->transpose = 0;
    remi_piece p;
    cdz_remi_frame fr;
    cdz_status st = prepare(s, 1, 1, 0, &p, &fr, NULL, NULL, err);
    if (st != CDZ_OK) return st;
    if (p.n_notes == 0) {
        piece_free(&p);
        return cdz_error_set(err, CDZ_ERR_ARG, "no notes to prime with (drums are left out)");
    }
    token_buf b = {NULL, 0, 0};
    st = append_buf(out, &b, emit(&p, NULL, 0, 0, p.n_bars, &b), err);
    int num, den;
    cdz_remi_time_sig(p.meter[0], &num, &den);
    f->qpm = p.tempos[0].qpm;
    for (size_t i = 1; i < p.n_tempos && p.tempos[i].bar == 0 && p.tempos[i].pos == 0; i++) f->qpm = p.tempos[i].qpm;
    f->numerator = num, f->denominator = den;
    if (fr.estimated)
        snprintf(f->note, sizeof f->note, "primer: bar lines estimated from its notes (%d/%d, beat %lld ticks past its "
                 "grid, downbeat on its beat %d; moved %+lld ticks)", fr.numerator, fr.denominator, (long long)fr.phase,
                 fr.downbeat + 1, (long long)fr.shift);
    cdz_free(b.v);
    piece_free(&p);
    return st;
}

static const cdz_codec_gen remi_gen = {0, 0, remi_start, remi_primer, NULL, NULL, 0, NULL};
static const cdz_codec_bar_gen remi_bar_gen = {remi_bars, cdz_remi_align, 0, 0, NULL, NULL, NULL};

const cdz_codec codec_remi = {
    "remi", "bars, 12-per-quarter positions, pitch, velocity (32 bins), duration (40), tempo and meter (597)",
    CDZ_REMI_VOCAB, remi_token_name, remi_encode, remi_decode, NULL, 0, 0, &remi_gen, NULL,
};

/* ---- remi_acc: melody and piano by stretches of bars ---- */

/* Tracks whose name is `name` (case ignored): a flag per track; 0 when none has notes. */
static int tracks_named(const cdz_score *s, const char *name, uint8_t *keep) {
    int any = 0;
    for (size_t t = 0; t < s->n_tracks; t++) keep[t] = strcasecmp(s->tracks[t].name, name) == 0;
    for (size_t i = 0; i < s->n_notes; i++) any |= !s->notes[i].is_drum && keep[s->notes[i].track];
    return any;
}

static cdz_status pair_encode(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    uint8_t *mel = cdz_calloc(s->n_tracks + 1, 2), *pno = mel ? mel + s->n_tracks + 1 : NULL;
    if (!mel) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding pairs");
    if (!tracks_named(s, "MELODY", mel) || !tracks_named(s, "PIANO", pno)) {
        if (stats) stats->empty++;
        cdz_free(mel);
        return CDZ_OK;
    }
    remi_piece p;
    cdz_status st = prepare(s, 1, 1, 0, &p, NULL, NULL, stats, err);
    token_buf b = {NULL, 0, 0};
    for (int64_t first = 0; st == CDZ_OK && first < p.n_bars; first += CDZ_REMI_STRIDE_BARS) {
        int64_t end = first + CDZ_REMI_STRETCH_BARS < p.n_bars ? first + CDZ_REMI_STRETCH_BARS : p.n_bars;
        if (count_notes(&p, pno, s->n_tracks, first, end) == 0) {
            if (stats) stats->empty++; /* no piano to learn from */
        } else {
            if (stats && count_notes(&p, mel, s->n_tracks, first, end) == 0) stats->silent_melody++;
            b.n = 0;
            st = emit(&p, mel, s->n_tracks, first, end, &b);
            size_t nm = b.n;
            if (st == CDZ_OK) st = put(&b, CDZ_REMI_SEP);
            if (st == CDZ_OK) st = emit(&p, pno, s->n_tracks, first, end, &b);
            if (st == CDZ_OK && (nm > CDZ_REMI_PART_MAX || b.n - nm - 1 > CDZ_REMI_PART_MAX)) {
                if (stats) stats->long_pairs++;
            } else {
                st = append_buf(out, &b, st, err);
                if (st == CDZ_OK && stats) stats->sequences++;
            }
        }
        if (end >= p.n_bars) break;
    }
    cdz_free(b.v);
    piece_free(&p);
    cdz_free(mel);
    return st;
}

/* Melody (track 0, "Melody") and piano (track 1, "Accompaniment") on the melody's clock and bars. */
static cdz_status pair_decode(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err) {
    size_t sep = 0;
    while (sep < n && tokens[sep] != CDZ_REMI_SEP) sep++;
    cdz_status st = cdz_score_init(out, DECODE_PPQ, err);
    if (st != CDZ_OK) return st;
    remi_reader m = reader(out, 0, 0, 1), a = reader(out, 1, 1, 0);
    st = read_tokens(&m, tokens, sep, "remi_acc", CDZ_REMI_PAIR_VOCAB, err);
    /* the piano: what follows the first separator, further separators left out */
    for (size_t i = sep + 1; st == CDZ_OK && i < n;) {
        size_t j = i;
        while (j < n && tokens[j] != CDZ_REMI_SEP) j++;
        st = read_tokens(&a, tokens + i, j - i, "remi_acc", CDZ_REMI_PAIR_VOCAB, err);
        i = j + 1;
    }
    if (st == CDZ_OK) {
        dedupe_tempos(out);
        st = cdz_score_finish(out, err);
    }
    if (st == CDZ_OK && out->n_tracks >= 2) {
        snprintf(out->tracks[0].name, sizeof out->tracks[0].name, "Melody");
        snprintf(out->tracks[1].name, sizeof out->tracks[1].name, "Accompaniment");
    }
    if (st != CDZ_OK) cdz_score_free(out);
    return st;
}

/* ---- generation: accompanying by overlapping stretches ---- */

static cdz_status condition_bars(const cdz_score *aligned, int64_t first, int64_t n, cdz_tokens *out, cdz_error *err) {
    if (first < 0 || n < 0 || first > CDZ_REMI_MAX_BARS || n > CDZ_REMI_MAX_BARS)
        return cdz_error_set(err, CDZ_ERR_ARG, "bars [%lld, +%lld): outside 0-%d", (long long)first, (long long)n,
                             CDZ_REMI_MAX_BARS);
    uint8_t *keep = cdz_calloc(aligned->n_tracks + 1, 1);
    if (!keep) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (!tracks_named(aligned, "MELODY", keep)) memset(keep, 1, aligned->n_tracks);
    remi_piece p;
    cdz_status st = prepare(aligned, 1, 0, first + n + 1, &p, NULL, NULL, NULL, err);
    token_buf b = {NULL, 0, 0};
    if (st == CDZ_OK) {
        st = emit(&p, keep, aligned->n_tracks, first, first + n, &b);
        if (st == CDZ_OK) st = put(&b, CDZ_REMI_SEP);
        st = append_buf(out, &b, st, err);
        piece_free(&p);
    }
    cdz_free(b.v);
    cdz_free(keep);
    return st;
}

static cdz_status part_bars(const cdz_score *aligned, int track, int64_t first, int64_t n, cdz_tokens *out, cdz_error *err) {
    if (first < 0 || n < 0 || first > CDZ_REMI_MAX_BARS || n > CDZ_REMI_MAX_BARS)
        return cdz_error_set(err, CDZ_ERR_ARG, "bars [%lld, +%lld): outside 0-%d", (long long)first, (long long)n,
                             CDZ_REMI_MAX_BARS);
    uint8_t *keep = cdz_calloc(aligned->n_tracks + 1, 1);
    if (!keep) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (track >= 0 && (size_t)track < aligned->n_tracks) keep[track] = 1;
    remi_piece p;
    cdz_status st = prepare(aligned, 0, 0, first + n + 1, &p, NULL, NULL, NULL, err);
    token_buf b = {NULL, 0, 0};
    if (st == CDZ_OK) {
        st = emit(&p, keep, aligned->n_tracks, first, first + n, &b);
        if (st == CDZ_OK) st = put(&b, CDZ_REMI_BAR);
        st = append_buf(out, &b, st, err);
        piece_free(&p);
    }
    cdz_free(b.v);
    cdz_free(keep);
    return st;
}

static const cdz_codec_gen pair_gen = {0, 0, NULL, NULL, NULL, NULL, 0, NULL};
static const cdz_codec_bar_gen pair_bar_gen = {remi_bars, cdz_remi_align, CDZ_REMI_STRETCH_BARS, CDZ_REMI_STRIDE_BARS,
                                               condition_bars, part_bars, remi_decode};

const cdz_codec codec_remi_pair = {
    "remi_acc", "melody (tracks MELODY) and piano (tracks PIANO) of 8 bars as remi tokens, SEP between, "
    "every 4 bars (598)",
    CDZ_REMI_PAIR_VOCAB, pair_token_name, pair_encode, pair_decode, NULL, 0, 0, &pair_gen, NULL,
};

const cdz_codec_bar_gen *cdz_codec_bar_gen_of(const cdz_codec *c) {
    if (c == &codec_remi) return &remi_bar_gen;
    if (c == &codec_remi_pair) return &pair_bar_gen;
    return NULL;
}

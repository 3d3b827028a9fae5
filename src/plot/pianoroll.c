/* Piano-roll pictures: one panel per score, time across on a shared scale, pitch up over the range the
 * notes use, drums in a lane below. The geometry (cdz_plot_layout) is computed once and every drawing
 * step and every caller reads positions from it, so the PNG, the SVG and the tests agree. */
#include "plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

enum {
    PAD = 6,         /* above the title and below the bar numbers */
    LEFT = 48,       /* room for "C-1" and "drums" left of the rolls */
    RIGHT = 14,
    TITLE_GAP = 8,   /* between the title line and the rolls */
    DRUM_GAP = 6,    /* between the pitched rows and the drum lane */
    AXIS = 14,       /* bar numbers under the rolls */
    MAX_PANELS = 64,
    MAX_BARS = 1000000, /* a defensive bound: absurd time signatures cannot make drawing endless */
};

/* Okabe and Ito's colour-blind-safe palette, lightened where needed to read on a dark background. */
static const cdz_rgb PALETTE[] = {{86, 180, 233}, {230, 159, 0},   {0, 200, 140},  {240, 228, 66}, {204, 121, 167},
                                  {213, 94, 0},   {150, 150, 255}, {255, 120, 120}, {160, 220, 90}, {200, 200, 200}};
#define N_PALETTE (sizeof PALETTE / sizeof PALETTE[0])

cdz_plot_params cdz_plot_default_params(void) {
    return (cdz_plot_params){
        .width = 1200,
        .height = 0,
        .pitch_margin = 2,
        .min_pitch_rows = 13,
        .background = {22, 24, 29},
        .row_white = {38, 41, 49},
        .row_black = {30, 32, 39},
        .octave_line = {62, 66, 78},
        .beat_line = {48, 51, 61},
        .bar_line = {98, 104, 120},
        .text = {205, 208, 215},
    };
}

cdz_rgb cdz_plot_note_color(size_t instrument, uint8_t velocity) {
    cdz_rgb c = PALETTE[instrument % N_PALETTE];
    /* A third of the brightness at the softest, all of it at 127: soft notes stay visible. */
    double k = 0.35 + 0.65 * (velocity > 127 ? 127 : velocity) / 127.0;
    return (cdz_rgb){(uint8_t)(c.r * k + 0.5), (uint8_t)(c.g * k + 0.5), (uint8_t)(c.b * k + 0.5)};
}

int cdz_plot_is_svg_path(const char *path) {
    size_t n = path ? strlen(path) : 0;
    return n >= 4 && strcasecmp(path + n - 4, ".svg") == 0;
}

/* ---- layout ---- */

static cdz_status check_params(const cdz_plot_params *p, size_t n, cdz_error *err) {
    if (n < 1 || n > MAX_PANELS) return cdz_error_set(err, CDZ_ERR_ARG, "piano roll: %zu scores (1 to %d)", n, MAX_PANELS);
    if (p->width < LEFT + RIGHT + 50 || p->width > 32768)
        return cdz_error_set(err, CDZ_ERR_RANGE, "piano roll: width %ld (%d to 32768)", (long)p->width, LEFT + RIGHT + 50);
    if (p->height < 0 || p->height > 32768)
        return cdz_error_set(err, CDZ_ERR_RANGE, "piano roll: height %ld (0 for automatic, or up to 32768)", (long)p->height);
    if (p->pitch_margin < 0 || p->pitch_margin > 127 || p->min_pitch_rows < 1 || p->min_pitch_rows > 128)
        return cdz_error_set(err, CDZ_ERR_RANGE, "piano roll: pitch margin %ld (0 to 127), minimum rows %ld (1 to 128)",
                             (long)p->pitch_margin, (long)p->min_pitch_rows);
    return CDZ_OK;
}

/* The pitched range, the drum pitches used and the time shown, over every score. */
static cdz_status scan_scores(cdz_plot_layout *l, const cdz_score *const *scores, size_t n, int *lo, int *hi,
                              cdz_error *err) {
    uint8_t used[128] = {0};
    *lo = 128, *hi = -1;
    l->seconds = 0;
    for (size_t i = 0; i < n; i++) {
        const cdz_score *s = scores[i];
        if (!s) return cdz_error_set(err, CDZ_ERR_ARG, "piano roll: score %zu is NULL", i + 1);
        if (s->n_notes == 0) return cdz_error_set(err, CDZ_ERR_ARG, "piano roll: score %zu of %zu has no notes", i + 1, n);
        if (s->duration_s > l->seconds) l->seconds = s->duration_s;
        for (size_t k = 0; k < s->n_notes; k++) {
            const cdz_note *nt = &s->notes[k];
            int pitch = nt->pitch & 127;
            if (nt->end_s > l->seconds) l->seconds = nt->end_s;
            if (nt->is_drum) {
                used[pitch] = 1;
                continue;
            }
            if (pitch < *lo) *lo = pitch;
            if (pitch > *hi) *hi = pitch;
        }
    }
    if (!(l->seconds > 0) || !isfinite(l->seconds)) l->seconds = 1; /* zero-length notes only */
    l->n_drum_rows = 0;
    for (int pitch = 0; pitch < 128; pitch++)
        if (used[pitch]) l->drum_pitches[l->n_drum_rows++] = (uint8_t)pitch;
    return CDZ_OK;
}

/* Widens [lo, hi] by the margin, then to the minimum number of rows, within 0..127. */
static void pitch_rows(cdz_plot_layout *l, int lo, int hi, const cdz_plot_params *p) {
    if (hi < lo) {
        l->pitch_lo = 1, l->pitch_hi = 0; /* drums only: no pitched rows */
        return;
    }
    lo = lo - p->pitch_margin < 0 ? 0 : lo - p->pitch_margin;
    hi = hi + p->pitch_margin > 127 ? 127 : hi + p->pitch_margin;
    while (hi - lo + 1 < p->min_pitch_rows) {
        if (hi < 127) hi++;
        if (hi - lo + 1 < p->min_pitch_rows && lo > 0) lo--;
    }
    l->pitch_lo = lo, l->pitch_hi = hi;
}

cdz_status cdz_plot_layout_compute(cdz_plot_layout *l, const cdz_score *const *scores, size_t n,
                                   const cdz_plot_params *p, cdz_error *err) {
    cdz_plot_params defaults = cdz_plot_default_params();
    if (!p) p = &defaults;
    memset(l, 0, sizeof *l);
    cdz_status st = check_params(p, n, err);
    int lo, hi;
    if (st == CDZ_OK) st = scan_scores(l, scores, n, &lo, &hi, err);
    if (st != CDZ_OK) return st;
    pitch_rows(l, lo, hi, p);
    int32_t n_pitch = l->pitch_hi - l->pitch_lo + 1, rows = n_pitch + l->n_drum_rows;
    l->width = p->width;
    l->n_panels = (int32_t)n;
    l->x0 = LEFT;
    l->x1 = p->width - RIGHT;
    l->title_scale = p->width >= 400 ? 2 : 1;
    l->roll_top = PAD + 7 * l->title_scale + TITLE_GAP;
    int32_t gap = n_pitch > 0 && l->n_drum_rows > 0 ? DRUM_GAP : 0;
    int32_t fixed = l->roll_top + gap + AXIS + PAD; /* everything in a panel but the rows */
    if (p->height > 0) {
        l->panel_height = p->height / (int32_t)n;
        l->row_height = (l->panel_height - fixed) / rows;
        if (l->row_height < 1)
            return cdz_error_set(err, CDZ_ERR_RANGE, "piano roll: height %ld is too small for %zu panels of %ld rows",
                                 (long)p->height, n, (long)rows);
    } else {
        /* About 420 pixels of rows, but no row thinner than 3 pixels or thicker than 12. */
        l->row_height = 420 / rows < 3 ? 3 : 420 / rows > 12 ? 12 : 420 / rows;
        l->panel_height = fixed + rows * l->row_height;
    }
    l->height = p->height > 0 ? p->height : l->panel_height * (int32_t)n;
    if (l->height > 32768)
        return cdz_error_set(err, CDZ_ERR_RANGE, "piano roll: %zu panels would be %ld pixels high (at most 32768)", n,
                             (long)l->height);
    l->drum_top = l->roll_top + n_pitch * l->row_height + gap;
    return CDZ_OK;
}

int32_t cdz_plot_layout_x(const cdz_plot_layout *l, double seconds) {
    double f = seconds / l->seconds;
    if (!(f > 0)) return l->x0;
    if (f > 1) return l->x1;
    return l->x0 + (int32_t)(f * (l->x1 - l->x0) + 0.5);
}

int32_t cdz_plot_layout_pitch_y(const cdz_plot_layout *l, size_t panel, int pitch) {
    if (panel >= (size_t)l->n_panels || pitch < l->pitch_lo || pitch > l->pitch_hi) return -1;
    return (int32_t)panel * l->panel_height + l->roll_top + (l->pitch_hi - pitch) * l->row_height;
}

int32_t cdz_plot_layout_drum_y(const cdz_plot_layout *l, size_t panel, int pitch) {
    if (panel >= (size_t)l->n_panels) return -1;
    for (int32_t k = 0; k < l->n_drum_rows; k++)
        if (l->drum_pitches[k] == pitch) /* the highest drum pitch on top, like the pitched rows */
            return (int32_t)panel * l->panel_height + l->drum_top + (l->n_drum_rows - 1 - k) * l->row_height;
    return -1;
}

/* ---- instruments: the distinct (track, channel) pairs of a score, for colours and the legend ---- */

typedef struct instrument {
    uint32_t key; /* track * 16 + channel */
    uint8_t program, is_drum;
} instrument;

static int cmp_key(const void *a, const void *b) {
    uint32_t x = ((const instrument *)a)->key, y = ((const instrument *)b)->key;
    return x < y ? -1 : x > y;
}

static uint32_t note_key(const cdz_note *nt) { return (uint32_t)nt->track * 16u + (nt->channel & 15u); }

/* Sorted distinct instruments, each with the program of its first note (in the score's order). */
static cdz_status list_instruments(const cdz_score *s, instrument **out, size_t *n, cdz_error *err) {
    instrument *v = cdz_calloc(s->n_notes ? s->n_notes : 1, sizeof *v);
    *out = NULL, *n = 0;
    if (!v) return cdz_error_set(err, CDZ_ERR_NOMEM, "piano roll: out of memory for %zu notes", s->n_notes);
    for (size_t i = 0; i < s->n_notes; i++)
        v[i] = (instrument){note_key(&s->notes[i]), s->notes[i].program, s->notes[i].is_drum};
    /* A stable sort keeps the first note of each key first, so its program names the instrument. */
    if (cdz_sort_stable(v, s->n_notes, sizeof *v, cmp_key) != CDZ_OK) {
        cdz_free(v);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "piano roll: out of memory sorting %zu notes", s->n_notes);
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n_notes; i++)
        if (k == 0 || v[k - 1].key != v[i].key) v[k++] = v[i];
    *out = v, *n = k;
    return CDZ_OK;
}

static size_t instrument_index(const instrument *v, size_t n, uint32_t key) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].key < key) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* ---- drawing one panel ---- */

typedef struct panel {
    plot_surface *surf;
    const cdz_plot_layout *l;
    const cdz_plot_params *p;
    const cdz_score *s;
    int32_t top; /* y of the panel */
    int32_t rows_bottom; /* y just below the last row */
} panel;

static int is_black_key(int pitch) {
    int pc = pitch % 12;
    return pc == 1 || pc == 3 || pc == 6 || pc == 8 || pc == 10;
}

static void draw_rows(const panel *pn) {
    const cdz_plot_layout *l = pn->l;
    int32_t w = l->x1 - l->x0 + 1, h = l->row_height;
    for (int pitch = l->pitch_lo; pitch <= l->pitch_hi; pitch++) {
        int32_t y = cdz_plot_layout_pitch_y(l, 0, pitch) + pn->top;
        plot_rect(pn->surf, l->x0, y, w, h, is_black_key(pitch) ? pn->p->row_black : pn->p->row_white, NULL);
        /* A line under each C marks the octaves; on thin rows it would hide the row itself. */
        if (pitch % 12 == 0 && h >= 3) plot_line(pn->surf, l->x0, y + h - 1, l->x1, y + h - 1, pn->p->octave_line, 1);
    }
    for (int32_t k = 0; k < l->n_drum_rows; k++) {
        int32_t y = cdz_plot_layout_drum_y(l, 0, l->drum_pitches[k]) + pn->top;
        plot_rect(pn->surf, l->x0, y, w, h, k % 2 ? pn->p->row_black : pn->p->row_white, NULL);
    }
}

/* Walks bars the way cdz_score_bar_to_tick counts them (4/4 until the first time signature; a
 * signature falling inside a bar starts a new bar there) in one pass, however many signatures. */
typedef struct bar_iter {
    const cdz_score *s;
    size_t sig;
    int64_t tick, len, beat; /* this bar's start, length and beat length, in ticks */
} bar_iter;

static void bar_apply(bar_iter *it) {
    const cdz_score *s = it->s;
    for (; it->sig < s->n_time_sigs && s->time_sigs[it->sig].tick <= it->tick; it->sig++) {
        const cdz_time_signature *ts = &s->time_sigs[it->sig];
        int64_t den = ts->denominator ? ts->denominator : 4;
        it->len = 4 * (int64_t)s->ppq * ts->numerator / den;
        it->beat = 4 * (int64_t)s->ppq / den;
        if (it->len < 1) it->len = 1;
        if (it->beat < 1) it->beat = 1;
    }
}

static void bar_begin(bar_iter *it, const cdz_score *s) {
    *it = (bar_iter){s, 0, 0, 4 * (int64_t)s->ppq, s->ppq};
    bar_apply(it);
}

/* 0 when the next bar would overflow. */
static int bar_next(bar_iter *it) {
    if (it->len > INT64_MAX - it->tick) return 0;
    int64_t next = it->tick + it->len;
    if (it->sig < it->s->n_time_sigs && it->s->time_sigs[it->sig].tick < next) next = it->s->time_sigs[it->sig].tick;
    it->tick = next;
    bar_apply(it);
    return 1;
}

static void vline(const panel *pn, int32_t x, cdz_rgb c) {
    plot_line(pn->surf, x, pn->top + pn->l->roll_top, x, pn->rows_bottom - 1, c, 1);
}

/* Beat lines inside one bar, when beats are at least 8 pixels apart. */
static void draw_beats(const panel *pn, const bar_iter *it, int64_t bar_end) {
    const cdz_score *s = pn->s;
    int32_t a = cdz_plot_layout_x(pn->l, cdz_score_tick_to_seconds(s, it->tick));
    int32_t b = cdz_plot_layout_x(pn->l, cdz_score_tick_to_seconds(s, it->tick + it->beat));
    if (b - a < 8) return;
    for (int64_t t = it->tick + it->beat; t < bar_end; t += it->beat) {
        double sec = cdz_score_tick_to_seconds(s, t);
        if (sec > pn->l->seconds) break;
        vline(pn, cdz_plot_layout_x(pn->l, sec), pn->p->beat_line);
    }
}

static void draw_bar_number(const panel *pn, int32_t x, int64_t bar, int32_t *label_end) {
    char num[24];
    snprintf(num, sizeof num, "%lld", (long long)bar + 1);
    int32_t w = cdz_canvas_text_width(num, 1);
    if (x + 2 < *label_end + 8 || x + 2 + w > pn->l->width) return;
    plot_text(pn->surf, x + 2, pn->rows_bottom + 4, num, 1, pn->p->text);
    *label_end = x + 2 + w;
}

/* The number of bars that start within the time shown. */
static int64_t count_bars(const panel *pn) {
    bar_iter it;
    bar_begin(&it, pn->s);
    int64_t n = 0;
    while (n < MAX_BARS && cdz_score_tick_to_seconds(pn->s, it.tick) <= pn->l->seconds + 1e-9) {
        n++;
        if (!bar_next(&it)) break;
    }
    return n;
}

/* The smallest power of two k such that k bars of `px` pixels span at least `min_px`. */
static int64_t bar_stride(double px, double min_px) {
    int64_t k = 1;
    while (k < MAX_BARS && k * px < min_px) k *= 2;
    return k;
}

/* Bar lines from the score's own time signatures and tempo map, numbered underneath. Where bars are
 * narrow, every 2nd, 4th, 8th... bar gets a line and a number, so phrases stay readable (1, 5, 9...). */
static void draw_bars(const panel *pn) {
    const cdz_plot_layout *l = pn->l;
    int64_t n_bars = count_bars(pn);
    double px = (double)(l->x1 - l->x0) / (double)(n_bars > 0 ? n_bars : 1);
    char widest[24];
    snprintf(widest, sizeof widest, "%lld", (long long)n_bars);
    int64_t line_k = bar_stride(px, 10), label_k = bar_stride(px, cdz_canvas_text_width(widest, 1) + 10);
    if (label_k < line_k) label_k = line_k;
    bar_iter it;
    bar_begin(&it, pn->s);
    int32_t label_end = INT32_MIN / 2;
    for (int64_t bar = 0; bar < n_bars; bar++) {
        double t = cdz_score_tick_to_seconds(pn->s, it.tick);
        bar_iter cur = it;
        int more = bar_next(&it);
        if (line_k == 1) draw_beats(pn, &cur, more ? it.tick : INT64_MAX);
        int32_t x = cdz_plot_layout_x(l, t);
        if (bar % line_k == 0) vline(pn, x, pn->p->bar_line);
        if (bar % label_k == 0) draw_bar_number(pn, x, bar, &label_end);
        if (!more) break;
    }
}

/* Without a tempo map (SMPTE timing) bars mean nothing: lines every few seconds instead. */
static void draw_seconds(const panel *pn) {
    static const double steps[] = {1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600};
    const cdz_plot_layout *l = pn->l;
    double px_per_s = (l->x1 - l->x0) / l->seconds, step = steps[0];
    for (size_t i = 1; i < sizeof steps / sizeof steps[0] && step * px_per_s < 48; i++) step = steps[i];
    while (l->seconds / step > 2000) step *= 10; /* hours-long files: a bounded number of lines */
    int32_t label_end = INT32_MIN / 2;
    for (double t = 0; t <= l->seconds + 1e-9; t += step) {
        int32_t x = cdz_plot_layout_x(l, t);
        vline(pn, x, pn->p->bar_line);
        char lab[32];
        snprintf(lab, sizeof lab, "%gs", t);
        if (x + 2 >= label_end + 8) {
            plot_text(pn->surf, x + 2, pn->rows_bottom + 4, lab, 1, pn->p->text);
            label_end = x + 2 + cdz_canvas_text_width(lab, 1);
        }
    }
}

static void draw_notes(const panel *pn, const instrument *inst, size_t n_inst) {
    const cdz_plot_layout *l = pn->l;
    /* Leave a pixel between rows and between notes, when they are thick enough to spare it, so
     * repeated notes and neighbouring pitches stay apart. */
    int32_t h = l->row_height >= 4 ? l->row_height - 1 : l->row_height;
    for (size_t i = 0; i < pn->s->n_notes; i++) {
        const cdz_note *nt = &pn->s->notes[i];
        int32_t y = nt->is_drum ? cdz_plot_layout_drum_y(l, 0, nt->pitch) : cdz_plot_layout_pitch_y(l, 0, nt->pitch);
        if (y < 0) continue;
        int32_t x = cdz_plot_layout_x(l, nt->start_s), w = cdz_plot_layout_x(l, nt->end_s) - x;
        if (w >= 4) w--;
        if (w < 1) w = 1; /* drums and very short notes still show */
        size_t k = instrument_index(inst, n_inst, note_key(nt));
        plot_rect(pn->surf, x, pn->top + y, w, h, cdz_plot_note_color(k, nt->velocity), "note");
    }
}

/* Octave names left of each C row (C4 = MIDI 60) and "drums" beside the drum lane. */
static void draw_row_labels(const panel *pn) {
    const cdz_plot_layout *l = pn->l;
    for (int pitch = l->pitch_lo; pitch <= l->pitch_hi; pitch++) {
        if (pitch % 12) continue;
        char name[16];
        snprintf(name, sizeof name, "C%d", pitch / 12 - 1);
        int32_t y = pn->top + cdz_plot_layout_pitch_y(l, 0, pitch) + (l->row_height - 7) / 2;
        plot_text(pn->surf, l->x0 - 5 - cdz_canvas_text_width(name, 1), y, name, 1, pn->p->text);
    }
    if (l->n_drum_rows > 0) {
        int32_t y = pn->top + l->drum_top + (l->n_drum_rows * l->row_height - 7) / 2;
        plot_text(pn->surf, l->x0 - 5 - cdz_canvas_text_width("drums", 1), y, "drums", 1, pn->p->text);
    }
}

static const char *base_name(const cdz_score *s, const instrument *in) {
    size_t track = in->key / 16;
    return track < s->n_tracks && s->tracks[track].name[0] ? s->tracks[track].name
                                                            : cdz_gm_program_name(in->program, in->is_drum);
}

/* The name of instrument i: its track's name, else its General MIDI program (or "Drums"); with its
 * track (or channel) added when another instrument of the score has the same name. */
static void instrument_name(const cdz_score *s, const instrument *inst, size_t n_inst, size_t i, char *buf, size_t n) {
    const char *name = base_name(s, &inst[i]);
    int twin = 0;
    for (size_t j = 0; j < n_inst && !twin; j++) twin = j != i && strcmp(base_name(s, &inst[j]), name) == 0;
    uint32_t track = inst[i].key / 16;
    int shared_track = (i > 0 && inst[i - 1].key / 16 == track) || (i + 1 < n_inst && inst[i + 1].key / 16 == track);
    /* Numbered as `cadenza midi info` numbers them: tracks from 0, channels from 1. */
    if (!twin) snprintf(buf, n, "%.24s", name);
    else if (shared_track) snprintf(buf, n, "%.24s (channel %u)", name, inst[i].key % 16 + 1);
    else snprintf(buf, n, "%.24s (track %u)", name, track);
}

/* The legend, right-aligned on the title line: a swatch and a name per instrument, as many as fit in
 * the right half, then "+N". Returns the x where it starts. */
static int32_t draw_legend(const panel *pn, const instrument *inst, size_t n_inst) {
    const cdz_plot_layout *l = pn->l;
    int32_t y = pn->top + PAD + (7 * l->title_scale - 7) / 2, right = l->width - RIGHT, x = right;
    size_t shown = 0;
    char name[48], more[24];
    for (; shown < n_inst; shown++) {
        instrument_name(pn->s, inst, n_inst, shown, name, sizeof name);
        int32_t w = 10 + 4 + cdz_canvas_text_width(name, 1) + 12;
        if (right - (x - w) > l->width / 2) break;
        x -= w;
    }
    if (shown < n_inst) {
        snprintf(more, sizeof more, "+%zu", n_inst - shown);
        x -= cdz_canvas_text_width(more, 1) + 4;
        plot_text(pn->surf, right - cdz_canvas_text_width(more, 1), y, more, 1, pn->p->text);
    }
    int32_t start = x;
    for (size_t i = 0; i < shown; i++) {
        instrument_name(pn->s, inst, n_inst, i, name, sizeof name);
        plot_rect(pn->surf, x, y - 1, 10, 9, cdz_plot_note_color(i, 127), NULL);
        plot_text(pn->surf, x + 14, y, name, 1, pn->p->text);
        x += 10 + 4 + cdz_canvas_text_width(name, 1) + 12;
    }
    return start;
}

/* The title, cut (with "...") to end before `limit`. */
static void draw_title(const panel *pn, const char *title, int32_t limit) {
    if (!title || !*title) return;
    char buf[512];
    int32_t scale = pn->l->title_scale;
    snprintf(buf, sizeof buf, "%s", title);
    size_t len = strlen(buf);
    if (pn->l->x0 + cdz_canvas_text_width(buf, scale) > limit) {
        while (len > 0 && pn->l->x0 + cdz_canvas_text_width(buf, scale) + 3 * PLOT_GLYPH_W * scale > limit) {
            do { /* back over a whole UTF-8 character */
                len--;
            } while (len > 0 && ((unsigned char)buf[len] & 0xC0) == 0x80);
            buf[len] = 0;
        }
        snprintf(buf + len, sizeof buf - len, "...");
    }
    plot_text(pn->surf, pn->l->x0, pn->top + PAD, buf, scale, pn->p->text);
}

static cdz_status draw_panel(panel *pn, const char *title, cdz_error *err) {
    instrument *inst;
    size_t n_inst;
    cdz_status st = list_instruments(pn->s, &inst, &n_inst, err);
    if (st != CDZ_OK) return st;
    const cdz_plot_layout *l = pn->l;
    pn->rows_bottom = pn->top + l->drum_top + l->n_drum_rows * l->row_height;
    if (pn->top > 0) plot_line(pn->surf, 0, pn->top, l->width - 1, pn->top, pn->p->octave_line, 1);
    draw_rows(pn);
    if (pn->s->ppq > 0) draw_bars(pn);
    else draw_seconds(pn);
    draw_notes(pn, inst, n_inst);
    draw_row_labels(pn);
    int32_t legend = draw_legend(pn, inst, n_inst);
    draw_title(pn, title, legend - 12);
    cdz_free(inst);
    return CDZ_OK;
}

static cdz_status draw_all(plot_surface *surf, const cdz_plot_layout *l, const cdz_score *const *scores,
                           const char *const *titles, const cdz_plot_params *p, cdz_error *err) {
    for (int32_t i = 0; i < l->n_panels; i++) {
        panel pn = {surf, l, p, scores[i], i * l->panel_height, 0};
        cdz_status st = draw_panel(&pn, titles ? titles[i] : NULL, err);
        if (st != CDZ_OK) return st;
    }
    return CDZ_OK;
}

cdz_status cdz_plot_pianoroll(cdz_canvas *out, const cdz_score *const *scores, const char *const *titles, size_t n,
                              const cdz_plot_params *p, cdz_error *err) {
    cdz_plot_params defaults = cdz_plot_default_params();
    if (!p) p = &defaults;
    memset(out, 0, sizeof *out);
    cdz_plot_layout l;
    cdz_status st = cdz_plot_layout_compute(&l, scores, n, p, err);
    if (st == CDZ_OK) st = cdz_canvas_init(out, l.width, l.height, p->background, err);
    if (st != CDZ_OK) return st;
    plot_surface surf = {out, NULL};
    st = draw_all(&surf, &l, scores, titles, p, err);
    if (st != CDZ_OK) cdz_canvas_free(out);
    return st;
}

cdz_status cdz_plot_pianoroll_svg(const char *path, const cdz_score *const *scores, const char *const *titles,
                                  size_t n, const cdz_plot_params *p, cdz_error *err) {
    cdz_plot_params defaults = cdz_plot_default_params();
    if (!p) p = &defaults;
    cdz_plot_layout l;
    cdz_status st = cdz_plot_layout_compute(&l, scores, n, p, err);
    if (st != CDZ_OK) return st;
    plot_svg svg;
    plot_svg_begin(&svg, l.width, l.height, p->background);
    plot_surface surf = {NULL, &svg};
    st = draw_all(&surf, &l, scores, titles, p, err);
    plot_svg_end(&svg);
    if (st != CDZ_OK) {
        cdz_free(svg.text);
        return st;
    }
    return plot_svg_finish(&svg, path, err);
}

cdz_status cdz_plot_pianoroll_write(const char *path, const cdz_score *const *scores, const char *const *titles,
                                    size_t n, const cdz_plot_params *p, cdz_error *err) {
    if (cdz_plot_is_svg_path(path)) return cdz_plot_pianoroll_svg(path, scores, titles, n, p, err);
    /* Without libpng, fail before drawing, with the message saying how to get PNG. */
    if (!cdz_png_available()) return cdz_png_write(path, NULL, err);
    cdz_canvas c;
    cdz_status st = cdz_plot_pianoroll(&c, scores, titles, n, p, err);
    if (st != CDZ_OK) return st;
    st = cdz_png_write(path, &c, err);
    cdz_canvas_free(&c);
    return st;
}

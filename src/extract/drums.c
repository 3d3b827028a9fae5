/* Drum tracks as MusicVAE extracts them (note_seq drums_lib.DrumTrack, magenta drum_pipelines): each
 * 16th-note step holds the set of drum classes hit on it. */
#include <stdlib.h>
#include <string.h>

#include "cadenza/extract.h"

/* note_seq DEFAULT_DRUM_TYPE_PITCHES; the first pitch of each class is the one decoding writes. */
static const uint8_t CLASS_PITCHES[CDZ_DRUM_CLASSES][16] = {
    {36, 35},
    {38, 27, 28, 31, 32, 33, 34, 37, 39, 40, 56, 65, 66, 75, 85},
    {42, 44, 54, 68, 69, 70, 71, 73, 78, 80, 22},
    {46, 67, 72, 74, 79, 81, 26},
    {45, 29, 41, 43, 61, 64, 84},
    {48, 47, 60, 63, 77, 86, 87},
    {50, 30, 62, 76, 83},
    {49, 52, 55, 57, 58},
    {51, 53, 59, 82},
};

int cdz_drum_class(uint8_t pitch) {
    if (pitch == 0) return -1;
    for (int c = 0; c < CDZ_DRUM_CLASSES; c++)
        for (int k = 0; k < 16 && CLASS_PITCHES[c][k]; k++)
            if (CLASS_PITCHES[c][k] == pitch) return c;
    return -1;
}

uint8_t cdz_drum_class_pitch(int cls) { return cls >= 0 && cls < CDZ_DRUM_CLASSES ? CLASS_PITCHES[cls][0] : 36; }

cdz_drum_params cdz_drum_default_params(void) {
    cdz_drum_params p = {1.0, 1, 1600, 1};
    return p;
}

void cdz_drum_tracks_free(cdz_drum_track *t, size_t n) {
    if (!t) return;
    for (size_t i = 0; i < n; i++) cdz_free(t[i].steps);
    cdz_free(t);
}

typedef struct hit {
    int64_t step;
    int cls;
} hit;

static int hit_cmp(const void *pa, const void *pb) {
    const hit *a = pa, *b = pb;
    return (a->step > b->step) - (a->step < b->step);
}

typedef struct track_list {
    cdz_drum_track *v;
    size_t n, cap;
} track_list;

/* The tracks of one quantized part with 16-step bars. */
static cdz_status tracks_of_part(const cdz_score *q, const cdz_drum_params *p, track_list *out, cdz_extract_stats *stats) {
    hit *hits = cdz_malloc((q->n_notes + 1) * sizeof *hits);
    if (!hits) return CDZ_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < q->n_notes; i++) {
        int c = q->notes[i].is_drum ? cdz_drum_class(q->notes[i].pitch) : -1;
        if (c >= 0) hits[n++] = (hit){q->notes[i].start_step, c};
    }
    qsort(hits, n, sizeof *hits, hit_cmp);
    const int64_t spb = 16, gap = (int64_t)(p->gap_bars * 16);
    cdz_status st = CDZ_OK;
    size_t i = 0;
    while (i < n && !st) {
        /* A track starts on the bar of its first hit and runs until a gap of `gap` steps. */
        int64_t start = hits[i].step - hits[i].step % spb, last = hits[i].step;
        size_t j = i;
        while (j < n && (j == i || hits[j].step - (last + 1) < gap)) last = hits[j++].step;
        int64_t len = last - start + 1;
        if (p->pad_end && len % spb) len += spb - len % spb;
        if (len < (int64_t)p->min_bars * spb) {
            stats->too_short++;
        } else {
            if (p->max_steps > 0 && len > p->max_steps) {
                len = p->max_steps;
                stats->truncated++;
            }
            if (cdz_grow((void **)&out->v, &out->cap, out->n + 1, sizeof *out->v) ||
                !(out->v[out->n].steps = cdz_calloc((size_t)len, sizeof(uint16_t)))) {
                st = CDZ_ERR_NOMEM;
                break;
            }
            cdz_drum_track *t = &out->v[out->n++];
            t->n_steps = (size_t)len;
            t->start_step = start;
            for (size_t k = i; k < j; k++)
                if (hits[k].step - start < len) t->steps[hits[k].step - start] |= (uint16_t)(1u << hits[k].cls);
            stats->sequences++;
        }
        i = j;
    }
    cdz_free(hits);
    return st;
}

typedef struct drum_ctx {
    const cdz_drum_params *p;
    track_list list;
    cdz_extract_stats *stats;
} drum_ctx;

static cdz_status drum_part(void *arg, const cdz_score *q, int64_t start_tick, int32_t steps_per_bar) {
    drum_ctx *c = arg;
    (void)start_tick, (void)steps_per_bar;
    return tracks_of_part(q, c->p, &c->list, c->stats);
}

cdz_status cdz_extract_drum_tracks(const cdz_score *s, const cdz_drum_params *p, cdz_drum_track **out, size_t *n,
                                   cdz_extract_stats *stats, cdz_error *err) {
    *out = NULL;
    *n = 0;
    cdz_extract_stats ignored = {0};
    if (!stats) stats = &ignored;
    if (s->ppq <= 0) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "drum tracks need ticks per quarter note (SMPTE timing)");
    if (!(p->gap_bars > 0) || p->min_bars < 0 || p->max_steps < 0) return cdz_error_set(err, CDZ_ERR_ARG, "drum extraction: invalid parameters");
    drum_ctx ctx = {p, {NULL, 0, 0}, stats};
    /* MusicVAE keeps 16-step bars only (4/4, 2/2, 8/8) */
    cdz_status st = cdz_extract_each_part(s, 4, 16, drum_part, &ctx, stats);
    track_list list = ctx.list;
    if (st) {
        cdz_drum_tracks_free(list.v, list.n);
        return cdz_error_set(err, st, "drum extraction: %s", cdz_status_str(st));
    }
    *out = list.v;
    *n = list.n;
    return CDZ_OK;
}

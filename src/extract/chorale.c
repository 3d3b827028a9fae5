/* Four-voice chorale grids on 16th notes: from scores, from the JSB JSON, and back to scores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cadenza/extract.h"

void cdz_chorale_free(cdz_chorale *c) {
    if (!c) return;
    cdz_free(c->steps);
    memset(c, 0, sizeof *c);
}

void cdz_chorales_free(cdz_chorale *c, size_t n) {
    if (!c) return;
    for (size_t i = 0; i < n; i++) cdz_free(c[i].steps);
    cdz_free(c);
}

typedef struct voice {
    uint16_t track;
    uint8_t channel;
    double pitch_sum;
    size_t n;
} voice;

static int by_mean_pitch_desc(const void *pa, const void *pb) {
    const voice *a = pa, *b = pb;
    double x = a->pitch_sum / (double)a->n, y = b->pitch_sum / (double)b->n;
    return (x < y) - (x > y);
}

cdz_status cdz_extract_chorale(const cdz_score *s, cdz_chorale *out, cdz_extract_stats *stats, cdz_error *err) {
    memset(out, 0, sizeof *out);
    cdz_extract_stats ignored = {0};
    if (!stats) stats = &ignored;
    if (s->ppq <= 0) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "chorales need ticks per quarter note (SMPTE timing)");
    /* The voices: distinct (track, channel) groups of non-drum notes. */
    voice v[CDZ_CHORALE_VOICES + 1];
    size_t nv = 0;
    for (size_t i = 0; i < s->n_notes && nv <= CDZ_CHORALE_VOICES; i++) {
        const cdz_note *n = &s->notes[i];
        if (n->is_drum) continue;
        size_t k = 0;
        while (k < nv && (v[k].track != n->track || v[k].channel != n->channel)) k++;
        if (k == nv) v[nv++] = (voice){n->track, n->channel, 0, 0};
        if (k < CDZ_CHORALE_VOICES + 1) v[k].pitch_sum += n->pitch, v[k].n++;
        if (n->pitch < CDZ_CHORALE_MIN_PITCH || n->pitch > CDZ_CHORALE_MAX_PITCH) {
            stats->out_of_range++;
            return CDZ_OK;
        }
    }
    if (nv != CDZ_CHORALE_VOICES) {
        if (nv == 0) stats->empty++;
        else stats->not_four_voices++;
        return CDZ_OK;
    }
    qsort(v, nv, sizeof *v, by_mean_pitch_desc);
    cdz_score q;
    cdz_status st = cdz_score_copy(&q, s, err);
    if (st) return st;
    if ((st = cdz_score_quantize(&q, 4, err))) {
        cdz_score_free(&q);
        return st;
    }
    /* The grid runs to the end of the score (its last event), in whole steps. */
    int64_t n_steps = (2 * q.end_tick * 4 + q.ppq) / (2 * (int64_t)q.ppq);
    for (size_t i = 0; i < q.n_notes; i++)
        if (!q.notes[i].is_drum && q.notes[i].end_step > n_steps) n_steps = q.notes[i].end_step;
    if (n_steps <= 0 || n_steps > (1 << 24)) {
        cdz_score_free(&q);
        stats->empty++;
        return CDZ_OK;
    }
    out->steps = cdz_malloc((size_t)n_steps * sizeof *out->steps);
    if (!out->steps) {
        cdz_score_free(&q);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory extracting a chorale");
    }
    memset(out->steps, CDZ_CHORALE_REST, (size_t)n_steps * sizeof *out->steps);
    out->n_steps = (size_t)n_steps;
    for (size_t i = 0; i < q.n_notes; i++) {
        const cdz_note *n = &q.notes[i];
        size_t k = 0;
        while (k < nv && (v[k].track != n->track || v[k].channel != n->channel)) k++;
        if (k == nv) continue; /* drums */
        for (int64_t t = n->start_step; t < n->end_step && t < n_steps; t++)
            if (out->steps[t][k] < (int8_t)n->pitch) out->steps[t][k] = (int8_t)n->pitch;
    }
    cdz_score_free(&q);
    stats->sequences++;
    return CDZ_OK;
}

/* ---- the JSB JSON: {"name": [piece, ...], ...}, piece = [[s, a, t, b], ...] ---- */

typedef struct json_in {
    const char *p, *start, *end, *path;
    cdz_error *err;
} json_in;

static void skip_ws(json_in *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t')) j->p++;
}

static cdz_status expect(json_in *j, char c) {
    skip_ws(j);
    if (j->p >= j->end || *j->p != c)
        return cdz_error_set(j->err, CDZ_ERR_FORMAT, "%s: byte %zu: expected '%c'", j->path, (size_t)(j->p - j->start), c);
    j->p++;
    return CDZ_OK;
}

static int peek(json_in *j, char c) {
    skip_ws(j);
    return j->p < j->end && *j->p == c;
}

static cdz_status read_step(json_in *j, int8_t step[CDZ_CHORALE_VOICES]) {
    cdz_status st = expect(j, '[');
    for (int v = 0; v < CDZ_CHORALE_VOICES && !st; v++) {
        if (v && (st = expect(j, ','))) break;
        skip_ws(j);
        char buf[32];
        size_t k = 0;
        while (j->p < j->end && k + 1 < sizeof buf && *j->p && strchr("+-0123456789.eE", *j->p)) buf[k++] = *j->p++;
        buf[k] = 0;
        char *e;
        double x = strtod(buf, &e);
        if (k == 0 || *e || x != floor(x) || x < -1 || x > 127)
            return cdz_error_set(j->err, CDZ_ERR_FORMAT, "%s: byte %zu: expected a pitch (0-127) or -1", j->path, (size_t)(j->p - j->start));
        step[v] = (int8_t)x;
    }
    if (!st) st = expect(j, ']');
    if (st && !j->err->msg[0]) cdz_error_set(j->err, st, "%s: byte %zu: a step needs 4 voices", j->path, (size_t)(j->p - j->start));
    return st;
}

static cdz_status read_piece(json_in *j, cdz_chorale *c) {
    size_t cap = 0;
    cdz_status st = expect(j, '[');
    if (st) return st;
    while (!peek(j, ']')) {
        if (c->n_steps && (st = expect(j, ','))) return st;
        if (cdz_grow((void **)&c->steps, &cap, c->n_steps + 1, sizeof *c->steps))
            return cdz_error_set(j->err, CDZ_ERR_NOMEM, "%s: out of memory", j->path);
        if ((st = read_step(j, c->steps[c->n_steps]))) return st;
        c->n_steps++;
    }
    return expect(j, ']');
}

cdz_status cdz_chorales_read_json(const char *path, cdz_chorale **out, size_t *n, cdz_error *err) {
    *out = NULL;
    *n = 0;
    uint8_t *text;
    size_t len;
    cdz_error local = {0};
    if (!err) err = &local;
    err->msg[0] = 0;
    cdz_status st = cdz_file_read_all(path, &text, &len, err);
    if (st) return st;
    json_in j = {(const char *)text, (const char *)text, (const char *)text + len, path, err};
    cdz_chorale *list = NULL;
    size_t count = 0, cap = 0;
    st = expect(&j, '{');
    for (int first = 1; !st && !peek(&j, '}'); first = 0) {
        if (!first && (st = expect(&j, ','))) break;
        if ((st = expect(&j, '"'))) break;
        const char *name = j.p;
        while (j.p < j.end && *j.p != '"') j.p++;
        size_t name_len = (size_t)(j.p - name);
        if ((st = expect(&j, '"')) || (st = expect(&j, ':')) || (st = expect(&j, '['))) break;
        for (int first_piece = 1; !st && !peek(&j, ']'); first_piece = 0) {
            if (!first_piece && (st = expect(&j, ','))) break;
            if (cdz_grow((void **)&list, &cap, count + 1, sizeof *list)) {
                st = cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            cdz_chorale *c = &list[count++];
            memset(c, 0, sizeof *c);
            size_t k = name_len < sizeof c->split - 1 ? name_len : sizeof c->split - 1;
            memcpy(c->split, name, k);
            c->split[k] = 0;
            st = read_piece(&j, c);
        }
        if (!st) st = expect(&j, ']');
    }
    if (!st) st = expect(&j, '}');
    cdz_free(text);
    if (st) {
        cdz_chorales_free(list, count);
        return st;
    }
    *out = list;
    *n = count;
    return CDZ_OK;
}

cdz_status cdz_chorale_to_score(const cdz_chorale *c, cdz_score *out, cdz_error *err) {
    static const char *const names[CDZ_CHORALE_VOICES] = {"Soprano", "Alto", "Tenor", "Bass"};
    const int64_t tps = 120; /* ticks per 16th at 480 per quarter */
    cdz_status st = cdz_score_init(out, 480, err);
    if (!st) st = cdz_score_add_tempo(out, 0, 120.0);
    if (!st) st = cdz_score_add_time_signature(out, 0, 4, 4);
    for (int v = 0; v < CDZ_CHORALE_VOICES && !st; v++) {
        size_t start = 0;
        for (size_t t = 1; t <= c->n_steps && !st; t++) {
            int8_t p = c->steps[start][v];
            if (t < c->n_steps && c->steps[t][v] == p) continue;
            if (p >= 0) st = cdz_score_add_note(out, (uint16_t)(v + 1), (uint8_t)v, 52, (uint8_t)p, 90, (int64_t)start * tps, (int64_t)t * tps);
            start = t;
        }
    }
    if (!st) st = cdz_score_finish(out, err);
    if (st) {
        cdz_score_free(out);
        return cdz_error_set(err, st, "chorale to score: %s", cdz_status_str(st));
    }
    for (int v = 0; v < CDZ_CHORALE_VOICES && (size_t)v + 1 < out->n_tracks; v++)
        strcpy(out->tracks[v + 1].name, names[v]);
    out->end_tick = (int64_t)c->n_steps * tps;
    out->duration_s = cdz_score_tick_to_seconds(out, out->end_tick);
    return CDZ_OK;
}

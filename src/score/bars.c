/* Bars from outside the notes: moving a score along its ticks, and bar lines from beat annotations
 * (POP909's beat_midi.txt), for codecs that read bars (src/codec/remi.c). A MIDI file's tempo map may give
 * the beat's length while its ticks say nothing of where beats and bars start: POP909's tracks were played
 * to a click that starts anywhere in the ticks' quarter notes, and their time signatures are 1/4 or 2/4. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cadenza/score.h"

static int64_t moved(int64_t tick, int64_t delta) {
    int64_t t = tick + delta;
    return t < 0 ? 0 : t;
}

cdz_status cdz_score_shift_ticks(cdz_score *s, int64_t delta, cdz_error *err) {
    if (delta > INT64_MAX / 4 || delta < -(INT64_MAX / 4))
        return cdz_error_set(err, CDZ_ERR_RANGE, "a shift of %lld ticks", (long long)delta);
    /* in force at the new tick 0: what was at or before -delta (moving earlier), or at 0 (moving later) */
    const int64_t upto = delta < 0 ? -delta : 0;
    for (size_t i = 0; i < s->n_notes; i++)
        s->notes[i].start_tick = moved(s->notes[i].start_tick, delta), s->notes[i].end_tick = moved(s->notes[i].end_tick, delta);
    for (size_t i = 0; i < s->n_tempos; i++) s->tempos[i].tick = s->tempos[i].tick <= upto ? 0 : s->tempos[i].tick + delta;
    for (size_t i = 0; i < s->n_time_sigs; i++)
        s->time_sigs[i].tick = s->time_sigs[i].tick <= upto ? 0 : s->time_sigs[i].tick + delta;
    for (size_t i = 0; i < s->n_key_sigs; i++)
        s->key_sigs[i].tick = s->key_sigs[i].tick <= upto ? 0 : s->key_sigs[i].tick + delta;
    for (size_t i = 0; i < s->n_controls; i++) s->controls[i].tick = moved(s->controls[i].tick, delta);
    for (size_t i = 0; i < s->n_bends; i++) s->bends[i].tick = moved(s->bends[i].tick, delta);
    s->end_tick = moved(s->end_tick, delta);
    return cdz_score_finish(s, err);
}

void cdz_beats_free(cdz_beats *b) {
    if (!b) return;
    cdz_free(b->seconds);
    cdz_free(b->downbeat);
    memset(b, 0, sizeof *b);
}

cdz_status cdz_beats_read(cdz_beats *b, const char *path, cdz_error *err) {
    memset(b, 0, sizeof *b);
    uint8_t *text = NULL;
    size_t len = 0, cap = 0, cap2 = 0, line = 0;
    cdz_status st = cdz_file_read_all(path, &text, &len, err);
    if (st != CDZ_OK) return st;
    const char *p = (const char *)text, *end = p + len;
    while (p < end && st == CDZ_OK) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        line++;
        char buf[256];
        size_t n = (size_t)(eol - p) < sizeof buf - 1 ? (size_t)(eol - p) : sizeof buf - 1;
        memcpy(buf, p, n);
        buf[n] = 0;
        p = eol + 1;
        char *q = buf;
        while (isspace((unsigned char)*q)) q++;
        if (!*q || *q == '#') continue;
        double first = 0, last = 0;
        int count = 0;
        for (char *e; *q; q = e) {
            double v = strtod(q, &e);
            if (e == q || !isfinite(v)) {
                st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s:%zu: expected numbers (seconds, then flags)", path, line);
                break;
            }
            if (count++ == 0) first = v;
            last = v;
            while (isspace((unsigned char)*e)) e++;
        }
        if (st != CDZ_OK) break;
        if (count < 2 || first < 0) {
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s:%zu: expected a time of 0 s or more and a downbeat flag", path, line);
            break;
        }
        if (cdz_grow((void **)&b->seconds, &cap, b->n + 1, sizeof *b->seconds) ||
            cdz_grow((void **)&b->downbeat, &cap2, b->n + 1, sizeof *b->downbeat)) {
            st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory reading %s", path);
            break;
        }
        b->seconds[b->n] = first;
        b->downbeat[b->n++] = last >= 0.5;
    }
    cdz_free(text);
    if (st != CDZ_OK) cdz_beats_free(b);
    return st;
}

cdz_status cdz_score_set_bars(cdz_score *s, const cdz_beats *b, cdz_error *err) {
    if (s->ppq <= 0) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "bar lines need ticks per quarter note (SMPTE time)");
    size_t nd = 0;
    for (size_t i = 0; i < b->n; i++) nd += b->downbeat[i] != 0;
    int64_t *d = nd ? cdz_malloc(nd * sizeof *d) : NULL;
    if (nd && !d) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory setting bars");
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->downbeat[i]) d[k++] = cdz_score_seconds_to_tick(s, b->seconds[i]);
    cdz_status st = CDZ_OK;
    for (size_t i = 1; i < nd && st == CDZ_OK; i++)
        if (d[i] <= d[i - 1]) st = cdz_error_set(err, CDZ_ERR_ARG, "downbeat %zu (tick %lld) is not after the one before", i, (long long)d[i]);
    if (st == CDZ_OK && nd < 2) st = cdz_error_set(err, CDZ_ERR_ARG, "%zu downbeats: bars need two", nd);
    if (st != CDZ_OK) {
        cdz_free(d);
        return st;
    }
    const int64_t P = s->ppq;
    int64_t note = INT64_MAX;
    for (size_t i = 0; i < s->n_notes; i++)
        if (!s->notes[i].is_drum && s->notes[i].start_tick < note) note = s->notes[i].start_tick;
    if (note == INT64_MAX) note = d[0];
    /* the bar of the first note: before the first downbeat, bars as long as the first; else the last
     * downbeat at or before it (past the last, that bar's grid) */
    int64_t origin;
    size_t from = 0;
    if (note < d[0]) {
        int64_t len = d[1] - d[0];
        origin = d[0] - (d[0] - note + len - 1) / len * len;
    } else {
        while (from + 1 < nd && d[from + 1] <= note) from++;
        int64_t len = from + 1 < nd ? d[from + 1] - d[from] : d[from] - d[from - 1];
        origin = d[from] + (from + 1 == nd ? (note - d[from]) / len * len : 0);
    }
    s->n_time_sigs = 0;
    int64_t ts_tick = 0, ts_len = 0; /* the last signature written (ts_len 0: none yet) */
    for (size_t i = from; i < nd && st == CDZ_OK; i++) {
        int64_t at = i == from ? origin : d[i], len = i + 1 < nd ? d[i + 1] - d[i] : d[i] - d[i - 1];
        int64_t beats = (len + P / 2) / P;
        if (beats < 1) beats = 1;
        if (beats > 16) beats = 16;
        if (ts_len == 0 || beats * P != ts_len || (at - ts_tick) % ts_len != 0) {
            st = cdz_score_add_time_signature(s, at - origin, (uint8_t)beats, 4);
            ts_tick = at, ts_len = beats * P;
        }
    }
    cdz_free(d);
    if (st != CDZ_OK) return cdz_error_set(err, st, "out of memory setting bars");
    /* the signatures are already where they belong: move the rest */
    size_t nts = s->n_time_sigs;
    cdz_time_signature *keep = cdz_malloc((nts + 1) * sizeof *keep);
    if (!keep) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory setting bars");
    memcpy(keep, s->time_sigs, nts * sizeof *keep);
    s->n_time_sigs = 0;
    st = cdz_score_shift_ticks(s, -origin, err);
    if (st == CDZ_OK) {
        memcpy(s->time_sigs, keep, nts * sizeof *keep);
        s->n_time_sigs = nts;
        st = cdz_score_finish(s, err);
    }
    cdz_free(keep);
    return st;
}

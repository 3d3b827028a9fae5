/* Note streams as time-shift events, shared by the performance and multitrack codecs. Writing follows
 * Magenta's Performance._from_quantized_sequence: note events sorted by (step, note index, onsets
 * before offsets), time shifts of at most `max_shift` steps between them. Reading pairs note-offs
 * with the earliest sounding note of their key (first in, first out), drops zero-length notes and
 * ends notes still sounding at the last step. */
#include <string.h>

#include "codec_internal.h"

typedef struct note_event {
    int64_t step;
    uint32_t idx; /* the note's position in the performance's order */
    uint8_t is_off;
} note_event;

static int event_cmp(const note_event *a, const note_event *b) {
    if (a->step != b->step) return a->step < b->step ? -1 : 1;
    if (a->idx != b->idx) return a->idx < b->idx ? -1 : 1;
    return a->is_off - b->is_off;
}
#define EVENT_BEFORE(x, y) (event_cmp((x), (y)) < 0)
CDZ_DEFINE_SORT(sort_events, note_event, EVENT_BEFORE)

cdz_status codec_write_events(const cdz_performance *p, const event_writer *w, token_buf *b, cdz_error *err) {
    size_t n = p->n_notes;
    if (n > UINT32_MAX / 2) return cdz_error_set(err, CDZ_ERR_RANGE, "%zu notes: too many for one sequence", n);
    note_event *ev = cdz_malloc((2 * n + 1) * sizeof *ev);
    if (!ev) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding notes");
    for (size_t i = 0; i < n; i++) {
        ev[2 * i] = (note_event){p->notes[i].start_step, (uint32_t)i, 0};
        ev[2 * i + 1] = (note_event){p->notes[i].end_step, (uint32_t)i, 1};
    }
    cdz_status st = sort_events(ev, 2 * n);
    int64_t step = 0;
    for (size_t k = 0; k < 2 * n && !st; k++) {
        const cdz_perf_note *note = &p->notes[ev[k].idx];
        int64_t gap = ev[k].step - step;
        if (gap < 0) {
            st = CDZ_ERR_ARG;
            break;
        }
        /* Room for the shifts to this event and the note's tokens (at most 2). */
        if (cdz_grow((void **)&b->v, &b->cap, b->n + 3 + (size_t)(gap / w->max_shift), sizeof *b->v)) {
            st = CDZ_ERR_NOMEM;
            break;
        }
        for (; gap > w->max_shift; gap -= w->max_shift) b->v[b->n++] = (uint16_t)(w->shift_base + w->max_shift - 1);
        if (gap > 0) b->v[b->n++] = (uint16_t)(w->shift_base + gap - 1);
        step = ev[k].step;
        if (ev[k].is_off) b->v[b->n++] = w->note_off(note);
        else b->n += (size_t)w->note_on(w->ctx, note, b->v + b->n);
    }
    cdz_free(ev);
    if (st == CDZ_ERR_ARG) return cdz_error_set(err, st, "notes out of order (negative time)");
    if (st) return cdz_error_set(err, st, "out of memory encoding notes");
    return CDZ_OK;
}

cdz_status codec_read_events(const uint16_t *tokens, size_t n, const event_reader *r, cdz_performance *p, cdz_error *err) {
    memset(p, 0, sizeof *p);
    p->steps_per_second = 100;
    int64_t *head = cdz_malloc((size_t)r->n_keys * 2 * sizeof *head), *tail = head ? head + r->n_keys : NULL;
    if (!head) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory decoding");
    for (int i = 0; i < 2 * r->n_keys; i++) head[i] = -1;
    int64_t *next = NULL, step = 0;
    size_t cap = 0, cap_next = 0;
    int velocity = r->default_velocity;
    cdz_status st = CDZ_OK;
    for (size_t i = 0; i < n && !st; i++) {
        token_meaning m;
        if (tokens[i] >= r->vocab_size) {
            st = cdz_error_set(err, CDZ_ERR_RANGE, "token %zu: %u is not a %s token (0-%u)", i, tokens[i], r->name, r->vocab_size - 1);
            break;
        }
        r->classify(tokens[i], &m);
        if (m.kind == TOKEN_VELOCITY) {
            velocity = m.velocity;
        } else if (m.kind == TOKEN_SHIFT) {
            step += m.steps;
        } else if (m.kind == TOKEN_ON) {
            if (cdz_grow((void **)&p->notes, &cap, p->n_notes + 1, sizeof *p->notes) ||
                cdz_grow((void **)&next, &cap_next, p->n_notes + 1, sizeof *next)) {
                st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory decoding");
                break;
            }
            size_t k = p->n_notes++;
            p->notes[k] = (cdz_perf_note){step, -1, m.pitch, (uint8_t)(m.velocity ? m.velocity : velocity), m.instrument};
            next[k] = -1;
            int key = m.instrument * 128 + m.pitch;
            if (tail[key] < 0) head[key] = (int64_t)k;
            else next[tail[key]] = (int64_t)k;
            tail[key] = (int64_t)k;
        } else if (m.kind == TOKEN_OFF) {
            int key = m.instrument * 128 + m.pitch;
            int64_t k = head[key];
            if (k < 0) continue; /* nothing sounding: ignored */
            head[key] = next[k];
            if (head[key] < 0) tail[key] = -1;
            p->notes[k].end_step = step;
        }
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
    cdz_free(head);
    if (st) cdz_performance_free(p);
    return st;
}

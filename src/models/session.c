/* Sessions (cadenza/model.h): one thread's mutable state for a model. The library keeps the rows
 * (each a flat block of the kind's row_bytes, zeroed when fresh, and the tokens fed to it), the kind
 * keeps its scratch (step buffers, the loss's activations) in the object its session_new returns. */
#include <stdio.h>
#include <string.h>

#include "cadenza/model_kind.h"

enum { ROW_ALIGN = 64 };

struct cdz_session {
    const cdz_model *m;
    void *ks;            /* the kind's scratch */
    int capacity, rows;  /* rows: active */
    int64_t window;      /* context (0: everything) */
    int64_t len;         /* tokens fed to each active row */
    size_t stride;       /* bytes between row blocks */
    uint8_t *state;      /* capacity blocks */
    uint8_t *spare;      /* capacity blocks: gather's scratch */
    uint16_t *hist;      /* capacity rows of hist_cap tokens */
    uint16_t *hist_spare;
    int64_t hist_cap;
    const uint16_t **hist_rows; /* (capacity) pointers into hist, for the kinds */
    uint16_t *fed;              /* (capacity) the tokens of the current feed */
    float *logits;              /* (capacity, vocab) for feeds whose caller wants no logits */
};

const cdz_model *cdz_session_model(const cdz_session *s) { return s->m; }
void *cdz_session_kind_state(cdz_session *s) { return s->ks; }
int cdz_session_rows(const cdz_session *s) { return s->rows; }
int cdz_session_capacity(const cdz_session *s) { return s->capacity; }
int64_t cdz_session_length(const cdz_session *s) { return s->len; }
int64_t cdz_session_window(const cdz_session *s) { return s->window; }
int cdz_session_can_slide(const cdz_session *s) {
    return s->window == 0 || (s->m->kind->can_slide && s->m->kind->can_slide(s->m));
}
const uint16_t *cdz_session_history(const cdz_session *s, int row) { return s->hist + (size_t)row * (size_t)s->hist_cap; }

cdz_status cdz_session_new(cdz_session **out, const cdz_model *m, int capacity, int64_t window, cdz_error *err) {
    *out = NULL;
    const cdz_model_kind *k = m->kind;
    if (capacity < 1 || capacity > 1 << 20)
        return cdz_error_set(err, CDZ_ERR_ARG, "a session needs 1 to %d rows, not %d", 1 << 20, capacity);
    int64_t dflt = k->default_window(m);
    if (window < 0 || (dflt > 0 && window > dflt))
        return cdz_error_set(err, CDZ_ERR_ARG, "a context of %lld tokens: the %s model reads at most %lld",
                             (long long)window, m->config_name, (long long)dflt);
    if (window == 0) window = dflt;
    cdz_session *s = cdz_calloc(1, sizeof *s);
    if (!s) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for a session");
    s->m = m, s->capacity = capacity, s->window = window;
    size_t row = k->row_bytes(m, window);
    s->stride = (row + ROW_ALIGN - 1) / ROW_ALIGN * ROW_ALIGN;
    size_t bytes = 0;
    cdz_status st = CDZ_OK;
    if (!cdz_mul_ok(s->stride, (size_t)capacity, &bytes))
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "a session of %d rows of %zu bytes is too large", capacity, row);
    /* the rows themselves are allocated at the first reset: a session that only computes losses (a
     * trainer's, an evaluation's) never needs them */
    if (st == CDZ_OK) {
        s->hist_rows = cdz_calloc((size_t)capacity, sizeof *s->hist_rows);
        s->fed = cdz_calloc((size_t)capacity, sizeof *s->fed);
        s->logits = cdz_calloc((size_t)capacity * m->vocab, sizeof *s->logits);
        if (!s->hist_rows || !s->fed || !s->logits) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for a session");
    }
    if (st == CDZ_OK && !(s->ks = k->session_new(m, capacity, window, err))) st = err ? err->status : CDZ_ERR_NOMEM;
    if (st != CDZ_OK) {
        cdz_session_free(s);
        return st;
    }
    *out = s;
    return CDZ_OK;
}

void cdz_session_free(cdz_session *s) {
    if (!s) return;
    if (s->ks) s->m->kind->session_free(s->ks);
    cdz_free(s->state), cdz_free(s->spare), cdz_free(s->hist), cdz_free(s->hist_spare);
    cdz_free(s->hist_rows), cdz_free(s->fed), cdz_free(s->logits);
    cdz_free(s);
}

cdz_status cdz_session_reset(cdz_session *s, int rows, cdz_error *err) {
    if (rows < 1 || rows > s->capacity)
        return cdz_error_set(err, CDZ_ERR_ARG, "%d rows in a session of %d", rows, s->capacity);
    if (!s->state && s->stride) {
        size_t bytes = s->stride * (size_t)s->capacity; /* checked in cdz_session_new */
        s->state = cdz_calloc(bytes, 1);
        s->spare = cdz_calloc(bytes, 1);
        if (!s->state || !s->spare) {
            cdz_free(s->state), cdz_free(s->spare);
            s->state = s->spare = NULL;
            return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %d rows of %zu bytes of generation state",
                                 s->capacity, s->stride);
        }
    }
    if (s->state) memset(s->state, 0, s->stride * (size_t)rows);
    s->rows = rows, s->len = 0;
    return CDZ_OK;
}

/* Room for one more token in every row's history (rows are hist_cap apart, so growing moves them). */
static cdz_status grow_history(cdz_session *s, cdz_error *err) {
    if (s->len < s->hist_cap) return CDZ_OK;
    int64_t cap = s->hist_cap ? 2 * s->hist_cap : 256;
    size_t n;
    if (!cdz_mul_ok((size_t)cap, (size_t)s->capacity, &n) || !cdz_mul_ok(n, sizeof(uint16_t), &n))
        return cdz_error_set(err, CDZ_ERR_NOMEM, "generation histories of %lld tokens are too large", (long long)cap);
    uint16_t *h = cdz_malloc(n), *spare = cdz_malloc(n);
    if (!h || !spare) {
        cdz_free(h), cdz_free(spare);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for generation histories of %lld tokens", (long long)cap);
    }
    for (int r = 0; r < s->capacity && s->hist; r++)
        memcpy(h + (size_t)r * (size_t)cap, s->hist + (size_t)r * (size_t)s->hist_cap, (size_t)s->len * sizeof *h);
    cdz_free(s->hist), cdz_free(s->hist_spare);
    s->hist = h, s->hist_spare = spare, s->hist_cap = cap;
    return CDZ_OK;
}

cdz_status cdz_session_feed(cdz_session *s, const uint16_t *tokens, float *logits, cdz_error *err) {
    const cdz_model *m = s->m;
    if (s->rows < 1) return cdz_error_set(err, CDZ_ERR_ARG, "the session has no active row (cdz_session_reset first)");
    uint32_t hv = m->history_vocab ? m->history_vocab : m->vocab;
    for (int r = 0; r < s->rows; r++)
        if (tokens[r] >= hv)
            return cdz_error_set(err, CDZ_ERR_ARG, "token %u is outside the model's vocabulary (%u, codec %s)", tokens[r],
                                 hv, m->codec);
    if (s->window > 0 && s->len >= s->window && !cdz_session_can_slide(s))
        return cdz_error_set(err, CDZ_ERR_ARG,
                             "the %s model reads at most %lld tokens and cannot slide past them (absolute positions)",
                             m->config_name, (long long)s->window);
    cdz_status st = grow_history(s, err);
    if (st != CDZ_OK) return st;
    for (int r = 0; r < s->rows; r++) {
        uint16_t *h = s->hist + (size_t)r * (size_t)s->hist_cap;
        h[s->len] = tokens[r];
        s->hist_rows[r] = h;
        s->fed[r] = tokens[r];
    }
    cdz_step_rows rows = {s->rows, s->state, s->stride, s->fed, s->hist_rows, s->len + 1, s->window};
    /* the kind's step writes logits for every row; a caller that wants none still needs room */
    st = m->kind->step(m, s->ks, &rows, logits ? logits : s->logits, err);
    if (st == CDZ_OK) s->len++;
    return st;
}

cdz_status cdz_session_gather(cdz_session *s, const int *from, int n, cdz_error *err) {
    if (n < 1 || n > s->capacity) return cdz_error_set(err, CDZ_ERR_ARG, "%d rows in a session of %d", n, s->capacity);
    for (int i = 0; i < n; i++)
        if (from[i] < 0 || from[i] >= s->rows)
            return cdz_error_set(err, CDZ_ERR_ARG, "row %d is not one of the %d active rows", from[i], s->rows);
    for (int i = 0; i < n; i++) {
        if (s->state) memcpy(s->spare + (size_t)i * s->stride, s->state + (size_t)from[i] * s->stride, s->stride);
        if (s->len)
            memcpy(s->hist_spare + (size_t)i * (size_t)s->hist_cap, s->hist + (size_t)from[i] * (size_t)s->hist_cap,
                   (size_t)s->len * sizeof *s->hist);
    }
    uint8_t *t = s->state;
    s->state = s->spare, s->spare = t;
    uint16_t *h = s->hist;
    s->hist = s->hist_spare, s->hist_spare = h;
    s->rows = n;
    return CDZ_OK;
}

cdz_status cdz_model_loss(cdz_session *s, const cdz_batch *batch, const cdz_loss_opts *opts, cdz_loss *out,
                          cdz_loss_stats *stats, cdz_error *err) {
    const cdz_model *m = s->m;
    if (opts->pass == CDZ_TRAIN && !opts->grads)
        return cdz_error_set(err, CDZ_ERR_ARG, "a training pass needs the gradient buffer (cdz_model_grads)");
    if (batch->B < 1) return cdz_error_set(err, CDZ_ERR_ARG, "%s: a batch needs at least one example", m->kind->name);
    cdz_loss local;
    return m->kind->loss(m, s->ks, batch, opts, out ? out : &local, stats, err);
}

cdz_status cdz_model_encode(cdz_session *s, const cdz_batch *batch, float *mu, float *sigma, cdz_error *err) {
    const cdz_model *m = s->m;
    if (!m->kind->encode) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "a %s model has no latent space", m->kind->name);
    return m->kind->encode(m, s->ks, batch, mu, sigma, err);
}

cdz_status cdz_session_set_latent(cdz_session *s, const float *z, cdz_error *err) {
    const cdz_model *m = s->m;
    if (!m->kind->set_latent) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "a %s model has no latent space", m->kind->name);
    if (s->rows < 1 || s->len > 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "a latent conditions fresh rows: reset the session first");
    return m->kind->set_latent(m, s->ks, s->state, s->stride, s->rows, z, err);
}

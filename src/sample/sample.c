/* Sampling over a model's step-wise API: tempered and truncated draws, plain generation, and
 * Magenta's beam search (see cadenza/sample.h). */
#include <math.h>
#include <stdlib.h> /* qsort */
#include <string.h>

#include "cadenza/sample.h"

cdz_sample_params cdz_sample_default_params(void) {
    cdz_sample_params p = {1.0f, 0, 1.0f, 0, 1, 1, NULL, NULL};
    return p;
}

int cdz_sample_logits(const float *logits, int V, const cdz_sample_params *p, cdz_rng *rng, double *logp) {
    int best = 0;
    for (int v = 1; v < V; v++)
        if (logits[v] > logits[best]) best = v;
    if (p->temperature <= 0) {
        if (logp) *logp = 0;
        return best;
    }
    /* probabilities at the temperature, in double so that long tails keep their mass */
    double stack[512], *q = V <= 512 ? stack : cdz_malloc((size_t)V * sizeof *q);
    if (!q) { /* cannot allocate: the most likely token is the safest answer */
        if (logp) *logp = 0;
        return best;
    }
    double sum = 0;
    for (int v = 0; v < V; v++) sum += q[v] = exp((double)(logits[v] - logits[best]) / p->temperature);
    for (int v = 0; v < V; v++) q[v] /= sum;
    if ((p->top_k > 0 && p->top_k < V) || p->top_p < 1) {
        /* the kept set: tokens at least as likely as the k-th, then the most likely up to mass top_p */
        double *sorted = cdz_malloc((size_t)V * sizeof *sorted);
        if (sorted) {
            memcpy(sorted, q, (size_t)V * sizeof *sorted);
            for (int i = 1; i < V; i++) { /* insertion sort, descending (V is a few hundred at most) */
                double x = sorted[i];
                int j = i - 1;
                while (j >= 0 && sorted[j] < x) sorted[j + 1] = sorted[j], j--;
                sorted[j + 1] = x;
            }
            int k = p->top_k > 0 && p->top_k < V ? p->top_k : V;
            double mass = 0, cut = sorted[k - 1];
            if (p->top_p < 1)
                for (int i = 0; i < k; i++) {
                    mass += sorted[i];
                    if (mass >= p->top_p) {
                        cut = sorted[i];
                        break;
                    }
                }
            sum = 0;
            for (int v = 0; v < V; v++) sum += q[v] = q[v] >= cut ? q[v] : 0;
            for (int v = 0; v < V; v++) q[v] /= sum;
            cdz_free(sorted);
        }
    }
    double u = cdz_rng_uniform(rng), acc = 0;
    int pick = -1;
    for (int v = 0; v < V; v++) {
        acc += q[v];
        if (q[v] > 0 && u < acc) {
            pick = v;
            break;
        }
    }
    if (pick < 0) /* rounding left u above the total: the last token with mass */
        for (int v = V - 1; v >= 0 && pick < 0; v--)
            if (q[v] > 0) pick = v;
    if (logp) *logp = log(q[pick]);
    if (q != stack) cdz_free(q);
    return pick;
}

/* Rows of generation: each with its tokens, the model state and the logits of its pending step. */
typedef struct rows {
    int n, cap;
    int64_t len, total;
    size_t S;
    int V;
    uint16_t *tok;   /* cap x total */
    float *state;    /* cap x S */
    float *logits;   /* cap x V */
    double *score;   /* cap */
    const uint16_t **hist;
} rows;

static void rows_free(rows *r) {
    cdz_free(r->tok), cdz_free(r->state), cdz_free(r->logits), cdz_free(r->score), cdz_free(r->hist);
    memset(r, 0, sizeof *r);
}

static cdz_status rows_init(rows *r, const cdz_model *m, int cap, int64_t total, cdz_error *err) {
    memset(r, 0, sizeof *r);
    r->cap = cap, r->total = total, r->S = m->kind->state_floats(m), r->V = (int)m->vocab;
    r->tok = cdz_calloc((size_t)cap * (size_t)total, sizeof *r->tok);
    r->state = cdz_calloc((size_t)cap * r->S, sizeof *r->state);
    r->logits = cdz_calloc((size_t)cap * (size_t)r->V, sizeof *r->logits);
    r->score = cdz_calloc((size_t)cap, sizeof *r->score);
    r->hist = cdz_calloc((size_t)cap, sizeof *r->hist);
    if (!r->tok || !r->state || !r->logits || !r->score || !r->hist) {
        rows_free(r);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %d generation rows", cap);
    }
    for (int i = 0; i < cap; i++) r->hist[i] = r->tok + (size_t)i * (size_t)total;
    return CDZ_OK;
}

static void row_copy(rows *r, int to, int from) {
    if (to == from) return;
    memcpy(r->tok + (size_t)to * r->total, r->tok + (size_t)from * r->total, (size_t)r->len * sizeof *r->tok);
    memcpy(r->state + (size_t)to * r->S, r->state + (size_t)from * r->S, r->S * sizeof *r->state);
    memcpy(r->logits + (size_t)to * r->V, r->logits + (size_t)from * r->V, (size_t)r->V * sizeof *r->logits);
    r->score[to] = r->score[from];
}

/* Feeds the primer to n rows (the same for all), leaving the logits of the first new token. */
static cdz_status feed_primer(cdz_model *m, rows *r, int n, const uint16_t *primer, int64_t n_primer, cdz_error *err) {
    r->n = n;
    m->kind->state_reset(m, r->state, n);
    for (int i = 0; i < n; i++) memcpy(r->tok + (size_t)i * r->total, primer, (size_t)n_primer * sizeof *primer);
    for (int64_t t = 0; t < n_primer; t++) {
        cdz_status st = m->kind->step(m, r->state, r->hist, t + 1, n, r->logits, err);
        if (st != CDZ_OK) return st;
    }
    r->len = n_primer;
    return CDZ_OK;
}

/* Whether p->stop says every row is complete. */
static int all_stopped(const rows *r, const cdz_sample_params *p) {
    if (!p->stop) return 0;
    for (int i = 0; i < r->n; i++)
        if (!p->stop(p->stop_ctx, r->tok + (size_t)i * r->total, r->len)) return 0;
    return 1;
}

/* Extends every row by k sampled tokens, adding their log-probabilities to the rows' scores (fewer
 * when p->stop ends it). */
static cdz_status extend(cdz_model *m, rows *r, int64_t k, const cdz_sample_params *p, cdz_rng *rng, int64_t *done,
                         int64_t total, void (*progress)(void *, int64_t, int64_t), void *ctx, cdz_error *err) {
    for (int64_t s = 0; s < k && !all_stopped(r, p); s++) {
        for (int i = 0; i < r->n; i++) {
            double lp = 0;
            int tok = cdz_sample_logits(r->logits + (size_t)i * r->V, r->V, p, rng, &lp);
            r->tok[(size_t)i * r->total + r->len] = (uint16_t)tok;
            r->score[i] += lp;
        }
        r->len++;
        /* the step after the last token is not needed */
        if (r->len < r->total) {
            cdz_status st = m->kind->step(m, r->state, r->hist, r->len, r->n, r->logits, err);
            if (st != CDZ_OK) return st;
        }
        ++*done;
        if (progress) progress(ctx, *done, total);
    }
    return CDZ_OK;
}

typedef struct scored {
    double score;
    int row;
} scored;
static int by_score(const void *a, const void *b) { /* ascending, ties by row: np.argsort's order */
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? -1 : 1;
    return x->row - y->row;
}

/* Magenta's _beam_search for one output. */
static cdz_status beam_search(cdz_model *m, const uint16_t *primer, int64_t n_primer, int64_t steps,
                              const cdz_sample_params *p, cdz_rng *rng, uint16_t *out, double *loglik, int64_t *done,
                              int64_t total, void (*progress)(void *, int64_t, int64_t), void *ctx, cdz_error *err) {
    int beam = p->beam_size, branch = p->branch_factor > 0 ? p->branch_factor : 1;
    int64_t spi = p->steps_per_iteration > 0 ? p->steps_per_iteration : 1;
    rows r;
    cdz_status st = rows_init(&r, m, beam * branch, n_primer + steps, err);
    if (st != CDZ_OK) return st;
    scored *order = cdz_calloc((size_t)beam * (size_t)branch, sizeof *order);
    if (!order) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (st == CDZ_OK) st = feed_primer(m, &r, beam, primer, n_primer, err);
    int64_t first = steps ? (steps - 1) % spi + 1 : 0;
    if (st == CDZ_OK) st = extend(m, &r, first, p, rng, done, total, progress, ctx, err);
    for (int64_t it = 0; st == CDZ_OK && it < (steps - first) / spi; it++) {
        /* every sequence copied branch times, copies side by side: row i becomes rows i*branch .. */
        for (int i = r.n - 1; i >= 0; i--)
            for (int c = branch - 1; c >= 0; c--) row_copy(&r, i * branch + c, i);
        r.n *= branch;
        st = extend(m, &r, spi, p, rng, done, total, progress, ctx, err);
        if (st != CDZ_OK) break;
        for (int i = 0; i < r.n; i++) order[i].score = r.score[i], order[i].row = i;
        qsort(order, (size_t)r.n, sizeof *order, by_score);
        /* keep the best `beam`, in ascending order of score, compacted to the front */
        int keep = r.n < beam ? r.n : beam;
        rows tmp;
        st = rows_init(&tmp, m, keep, r.total, err);
        if (st != CDZ_OK) break;
        tmp.len = r.len, tmp.n = keep;
        for (int i = 0; i < keep; i++) {
            int from = order[r.n - keep + i].row;
            memcpy(tmp.tok + (size_t)i * tmp.total, r.tok + (size_t)from * r.total, (size_t)r.len * sizeof *r.tok);
            memcpy(tmp.state + (size_t)i * r.S, r.state + (size_t)from * r.S, r.S * sizeof *r.state);
            memcpy(tmp.logits + (size_t)i * r.V, r.logits + (size_t)from * r.V, (size_t)r.V * sizeof *r.logits);
            tmp.score[i] = r.score[from];
        }
        for (int i = 0; i < keep; i++) {
            memcpy(r.tok + (size_t)i * r.total, tmp.tok + (size_t)i * r.total, (size_t)r.len * sizeof *r.tok);
            memcpy(r.state + (size_t)i * r.S, tmp.state + (size_t)i * r.S, r.S * sizeof *r.state);
            memcpy(r.logits + (size_t)i * r.V, tmp.logits + (size_t)i * r.V, (size_t)r.V * sizeof *r.logits);
            r.score[i] = tmp.score[i];
        }
        r.n = keep;
        rows_free(&tmp);
    }
    if (st == CDZ_OK) {
        int best = 0;
        for (int i = 1; i < r.n; i++)
            if (r.score[i] > r.score[best]) best = i;
        memcpy(out, r.tok + (size_t)best * r.total, (size_t)r.total * sizeof *out);
        if (loglik) *loglik = r.score[best];
    }
    cdz_free(order);
    rows_free(&r);
    return st;
}

cdz_status cdz_generate(cdz_model *m, const uint16_t *primer, int64_t n_primer, int64_t steps, int n_outputs,
                        const cdz_sample_params *p, cdz_rng *rng, uint16_t *out, double *loglik,
                        void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx, cdz_error *err) {
    cdz_sample_params q = *p;
    q.stop = NULL; /* a fixed length */
    int64_t generated;
    return cdz_generate_until(m, primer, n_primer, steps, n_outputs, &q, rng, out, loglik, &generated, progress, ctx, err);
}

cdz_status cdz_generate_until(cdz_model *m, const uint16_t *primer, int64_t n_primer, int64_t steps, int n_outputs,
                              const cdz_sample_params *p, cdz_rng *rng, uint16_t *out, double *loglik,
                              int64_t *generated, void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx,
                              cdz_error *err) {
    *generated = 0;
    if (m->max_len > 0 && n_primer + steps > m->max_len + 1)
        return cdz_error_set(err, CDZ_ERR_ARG, "%lld primer and %lld new tokens are more than the model's max_len (%d) + 1",
                             (long long)n_primer, (long long)steps, m->max_len);
    if (n_primer < 1 || steps < 0 || n_outputs < 1)
        return cdz_error_set(err, CDZ_ERR_ARG, "generation needs a primer of at least one token and a step count");
    uint32_t hv = m->history_vocab ? m->history_vocab : m->vocab;
    for (int64_t i = 0; i < n_primer; i++)
        if (primer[i] >= hv)
            return cdz_error_set(err, CDZ_ERR_ARG, "primer token %u is outside the model's vocabulary (%u)", primer[i], hv);
    if (p->beam_size < 0 || p->beam_size > 4096 || p->branch_factor < 0 || p->branch_factor > 4096 ||
        (int64_t)p->beam_size * (p->branch_factor ? p->branch_factor : 1) > 65536)
        return cdz_error_set(err, CDZ_ERR_ARG, "beam size %d x branch factor %d is out of range", p->beam_size,
                             p->branch_factor);
    int64_t done = 0, total = steps * n_outputs, len = n_primer + steps;
    if (p->beam_size > 0) {
        for (int o = 0; o < n_outputs; o++) {
            cdz_status st = beam_search(m, primer, n_primer, steps, p, rng, out + (size_t)o * (size_t)len,
                                        loglik ? loglik + o : NULL, &done, total, progress, ctx, err);
            if (st != CDZ_OK) return st;
        }
        *generated = steps;
        return CDZ_OK;
    }
    rows r;
    cdz_status st = rows_init(&r, m, n_outputs, len, err);
    if (st == CDZ_OK) st = feed_primer(m, &r, n_outputs, primer, n_primer, err);
    if (st == CDZ_OK) st = extend(m, &r, steps, p, rng, &done, total, progress, ctx, err);
    if (st == CDZ_OK) {
        memcpy(out, r.tok, (size_t)n_outputs * (size_t)len * sizeof *out);
        if (loglik) memcpy(loglik, r.score, (size_t)n_outputs * sizeof *loglik);
        *generated = r.len - n_primer;
    }
    rows_free(&r);
    return st;
}

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

static int descending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

int cdz_sample_logits(const float *logits, int V, const cdz_sample_params *p, cdz_rng *rng, double *logp) {
    /* the most likely token; NaN logits never win (all NaN: nothing can be drawn) */
    int best = -1;
    for (int v = 0; v < V; v++)
        if (!isnan(logits[v]) && (best < 0 || logits[v] > logits[best])) best = v;
    if (best < 0) return -1;
    if (isinf(logits[best])) { /* +inf: all the mass on the first such token (exp(inf - inf) is NaN) */
        if (logp) *logp = 0;
        return best;
    }
    if (p->temperature <= 0) {
        /* greedy: the token's log-probability under the model's own distribution (temperature 1) */
        if (logp) {
            double sum = 0;
            for (int v = 0; v < V; v++)
                if (!isnan(logits[v])) sum += exp((double)logits[v] - logits[best]);
            *logp = -log(sum);
        }
        return best;
    }
    /* probabilities at the temperature, in double so that long tails keep their mass */
    double stack[512], *q = V <= 512 ? stack : cdz_malloc((size_t)V * sizeof *q);
    if (!q) { /* cannot allocate: the most likely token is the safest answer */
        if (logp) *logp = 0;
        return best;
    }
    double sum = 0;
    for (int v = 0; v < V; v++)
        sum += q[v] = isnan(logits[v]) ? 0.0 : exp((double)(logits[v] - logits[best]) / p->temperature);
    for (int v = 0; v < V; v++) q[v] /= sum;
    if ((p->top_k > 0 && p->top_k < V) || p->top_p < 1) {
        /* the kept set: tokens at least as likely as the k-th, then the most likely up to mass top_p */
        double *sorted = cdz_malloc((size_t)V * sizeof *sorted);
        if (sorted) {
            memcpy(sorted, q, (size_t)V * sizeof *sorted);
            qsort(sorted, (size_t)V, sizeof *sorted, descending); /* vocabularies reach thousands (ensemble: 5,480) */
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
    if (pick < 0) { /* no token has a probability (a NaN temperature): nothing can be drawn */
        if (q != stack) cdz_free(q);
        return -1;
    }
    if (logp) *logp = log(q[pick]);
    if (q != stack) cdz_free(q);
    return pick;
}

/* Rows of generation: a session (the model's state per row) and, beside it, each row's tokens (the
 * primer and what was drawn, including a last token never fed), the logits of its pending step and
 * its score. Rearranged together (rows_gather). */
typedef struct rows {
    cdz_session *s;
    int n, cap;
    int64_t len, total;
    int V;
    uint16_t *tok, *tok_spare;     /* cap x total */
    float *logits, *logits_spare;  /* cap x V */
    double *score, *score_spare;   /* cap */
} rows;

static void rows_free(rows *r) {
    cdz_free(r->tok), cdz_free(r->tok_spare), cdz_free(r->logits), cdz_free(r->logits_spare);
    cdz_free(r->score), cdz_free(r->score_spare);
    memset(r, 0, sizeof *r);
}

static cdz_status rows_init(rows *r, cdz_session *s, int cap, int64_t total, cdz_error *err) {
    memset(r, 0, sizeof *r);
    r->s = s, r->cap = cap, r->total = total, r->V = (int)cdz_model_vocab(cdz_session_model(s));
    size_t nt = (size_t)cap * (size_t)total, nl = (size_t)cap * (size_t)r->V;
    r->tok = cdz_calloc(nt, sizeof *r->tok), r->tok_spare = cdz_calloc(nt, sizeof *r->tok);
    r->logits = cdz_calloc(nl, sizeof *r->logits), r->logits_spare = cdz_calloc(nl, sizeof *r->logits);
    r->score = cdz_calloc((size_t)cap, sizeof *r->score), r->score_spare = cdz_calloc((size_t)cap, sizeof *r->score);
    if (!r->tok || !r->tok_spare || !r->logits || !r->logits_spare || !r->score || !r->score_spare) {
        rows_free(r);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %d generation rows", cap);
    }
    return CDZ_OK;
}

/* New row i = old row from[i], for i < n: the session's state and our tokens, logits and scores. */
static cdz_status rows_gather(rows *r, const int *from, int n, cdz_error *err) {
    cdz_status st = cdz_session_gather(r->s, from, n, err);
    if (st != CDZ_OK) return st;
    for (int i = 0; i < n; i++) {
        memcpy(r->tok_spare + (size_t)i * r->total, r->tok + (size_t)from[i] * r->total, (size_t)r->len * sizeof *r->tok);
        memcpy(r->logits_spare + (size_t)i * r->V, r->logits + (size_t)from[i] * r->V, (size_t)r->V * sizeof *r->logits);
        r->score_spare[i] = r->score[from[i]];
    }
    uint16_t *t = r->tok;
    r->tok = r->tok_spare, r->tok_spare = t;
    float *l = r->logits;
    r->logits = r->logits_spare, r->logits_spare = l;
    double *sc = r->score;
    r->score = r->score_spare, r->score_spare = sc;
    r->n = n;
    return CDZ_OK;
}

/* The tokens of column t of every row, for a feed. */
static void column(const rows *r, int64_t t, uint16_t *out) {
    for (int i = 0; i < r->n; i++) out[i] = r->tok[(size_t)i * r->total + t];
}

/* Feeds the primer to n rows (the same for all), leaving the logits of the first new token. */
static cdz_status feed_primer(rows *r, int n, const uint16_t *primer, int64_t n_primer, uint16_t *col, cdz_error *err) {
    cdz_status st = cdz_session_reset(r->s, n, err);
    if (st != CDZ_OK) return st;
    r->n = n;
    for (int i = 0; i < n; i++) memcpy(r->tok + (size_t)i * r->total, primer, (size_t)n_primer * sizeof *primer);
    for (int64_t t = 0; t < n_primer; t++) {
        column(r, t, col);
        st = cdz_session_feed(r->s, col, r->logits, err);
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
static cdz_status extend(rows *r, int64_t k, const cdz_sample_params *p, cdz_rng *rng, uint16_t *col, int64_t *done,
                         int64_t per_step, int64_t total, void (*progress)(void *, int64_t, int64_t), void *ctx,
                         cdz_error *err) {
    for (int64_t s = 0; s < k && !all_stopped(r, p); s++) {
        for (int i = 0; i < r->n; i++) {
            double lp = 0;
            int tok = cdz_sample_logits(r->logits + (size_t)i * r->V, r->V, p, rng, &lp);
            if (tok < 0)
                return cdz_error_set(err, CDZ_ERR_RANGE, "the model's scores at step %lld are not numbers (NaN), or the "
                                     "temperature is not one: its weights may be damaged", (long long)r->len + 1);
            r->tok[(size_t)i * r->total + r->len] = (uint16_t)tok;
            r->score[i] += lp;
        }
        r->len++;
        /* the step after the last token is not needed */
        if (r->len < r->total) {
            column(r, r->len - 1, col);
            cdz_status st = cdz_session_feed(r->s, col, r->logits, err);
            if (st != CDZ_OK) return st;
        }
        *done += per_step; /* the outputs' tokens (a beam's rows make one output's) */
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
static cdz_status beam_search(cdz_session *s, const uint16_t *primer, int64_t n_primer, int64_t steps,
                              const cdz_sample_params *p, cdz_rng *rng, uint16_t *out, double *loglik, int64_t *done,
                              int64_t total, void (*progress)(void *, int64_t, int64_t), void *ctx, cdz_error *err) {
    int beam = p->beam_size, branch = p->branch_factor > 0 ? p->branch_factor : 1;
    int64_t spi = p->steps_per_iteration > 0 ? p->steps_per_iteration : 1;
    rows r;
    cdz_status st = rows_init(&r, s, beam * branch, n_primer + steps, err);
    if (st != CDZ_OK) return st;
    scored *order = cdz_calloc((size_t)beam * (size_t)branch, sizeof *order);
    int *from = cdz_calloc((size_t)beam * (size_t)branch, sizeof *from);
    uint16_t *col = cdz_calloc((size_t)beam * (size_t)branch, sizeof *col);
    if (!order || !from || !col) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (st == CDZ_OK) st = feed_primer(&r, beam, primer, n_primer, col, err);
    int64_t first = steps ? (steps - 1) % spi + 1 : 0;
    if (st == CDZ_OK) st = extend(&r, first, p, rng, col, done, 1, total, progress, ctx, err);
    for (int64_t it = 0; st == CDZ_OK && it < (steps - first) / spi; it++) {
        /* every sequence copied branch times, copies side by side: row i becomes rows i*branch .. */
        for (int i = 0; i < r.n * branch; i++) from[i] = i / branch;
        st = rows_gather(&r, from, r.n * branch, err);
        if (st == CDZ_OK) st = extend(&r, spi, p, rng, col, done, 1, total, progress, ctx, err);
        if (st != CDZ_OK) break;
        for (int i = 0; i < r.n; i++) order[i].score = r.score[i], order[i].row = i;
        qsort(order, (size_t)r.n, sizeof *order, by_score);
        /* keep the best `beam`, in ascending order of score, compacted to the front */
        int keep = r.n < beam ? r.n : beam;
        for (int i = 0; i < keep; i++) from[i] = order[r.n - keep + i].row;
        st = rows_gather(&r, from, keep, err);
    }
    if (st == CDZ_OK) {
        int best = 0;
        for (int i = 1; i < r.n; i++)
            if (r.score[i] > r.score[best]) best = i;
        memcpy(out, r.tok + (size_t)best * r.total, (size_t)r.total * sizeof *out);
        if (loglik) *loglik = r.score[best];
    }
    cdz_free(order), cdz_free(from), cdz_free(col);
    rows_free(&r);
    return st;
}

int cdz_sample_rows_needed(const cdz_sample_params *p, int n_outputs) {
    return p->beam_size > 0 ? p->beam_size * (p->branch_factor > 0 ? p->branch_factor : 1) : n_outputs;
}

static cdz_status check_request(const cdz_session *s, const uint16_t *primer, int64_t n_primer, int64_t steps,
                                int n_outputs, const cdz_sample_params *p, cdz_error *err) {
    const cdz_model *m = cdz_session_model(s);
    int64_t window = cdz_session_window(s);
    if (!cdz_session_can_slide(s) && window > 0 && n_primer + steps > window + 1)
        return cdz_error_set(err, CDZ_ERR_ARG, "%lld primer and %lld new tokens are more than the model's max_len (%lld) + 1",
                             (long long)n_primer, (long long)steps, (long long)window);
    if (n_primer < 1 || steps < 0 || n_outputs < 1)
        return cdz_error_set(err, CDZ_ERR_ARG, "generation needs a primer of at least one token and a step count");
    uint32_t hv = cdz_model_history_vocab(m);
    for (int64_t i = 0; i < n_primer; i++)
        if (primer[i] >= hv)
            return cdz_error_set(err, CDZ_ERR_ARG, "primer token %u is outside the model's vocabulary (%u)", primer[i], hv);
    if (p->beam_size < 0 || p->beam_size > 4096 || p->branch_factor < 0 || p->branch_factor > 4096 ||
        (int64_t)p->beam_size * (p->branch_factor ? p->branch_factor : 1) > 65536)
        return cdz_error_set(err, CDZ_ERR_ARG, "beam size %d x branch factor %d is out of range", p->beam_size,
                             p->branch_factor);
    if (p->beam_size > 0 && p->stop)
        return cdz_error_set(err, CDZ_ERR_ARG, "beam search draws a fixed number of tokens: give the length in tokens or "
                             "steps, not in seconds");
    if (!(p->temperature >= 0 && p->temperature < 1e6) || !(p->top_p > 0 && p->top_p <= 1) || p->top_k < 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "temperature %g, top-k %d, top-p %g: expected a temperature of 0 or more, "
                             "top-k of 0 or more, top-p above 0 and at most 1", p->temperature, p->top_k, p->top_p);
    if (cdz_sample_rows_needed(p, n_outputs) > cdz_session_capacity(s))
        return cdz_error_set(err, CDZ_ERR_ARG, "the generation needs %d rows; the session has %d", cdz_sample_rows_needed(p, n_outputs),
                             cdz_session_capacity(s));
    return CDZ_OK;
}

cdz_status cdz_generate_session(cdz_session *s, const uint16_t *primer, int64_t n_primer, int64_t steps, int n_outputs,
                                const cdz_sample_params *p, cdz_rng *rng, uint16_t *out, double *loglik,
                                int64_t *generated, void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx,
                                cdz_error *err) {
    *generated = 0;
    cdz_status st = check_request(s, primer, n_primer, steps, n_outputs, p, err);
    if (st != CDZ_OK) return st;
    int64_t done = 0, total = steps * n_outputs, len = n_primer + steps;
    if (p->beam_size > 0) {
        for (int o = 0; o < n_outputs; o++) {
            st = beam_search(s, primer, n_primer, steps, p, rng, out + (size_t)o * (size_t)len, loglik ? loglik + o : NULL,
                             &done, total, progress, ctx, err);
            if (st != CDZ_OK) return st;
        }
        *generated = steps;
        return CDZ_OK;
    }
    rows r;
    uint16_t *col = cdz_calloc((size_t)n_outputs, sizeof *col);
    st = col ? rows_init(&r, s, n_outputs, len, err) : cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (st != CDZ_OK) {
        cdz_free(col);
        return st;
    }
    st = feed_primer(&r, n_outputs, primer, n_primer, col, err);
    if (st == CDZ_OK) st = extend(&r, steps, p, rng, col, &done, n_outputs, total, progress, ctx, err);
    if (st == CDZ_OK) {
        memcpy(out, r.tok, (size_t)n_outputs * (size_t)len * sizeof *out);
        if (loglik) memcpy(loglik, r.score, (size_t)n_outputs * sizeof *loglik);
        *generated = r.len - n_primer;
    }
    rows_free(&r);
    cdz_free(col);
    return st;
}

cdz_status cdz_generate_until(const cdz_model *m, const uint16_t *primer, int64_t n_primer, int64_t steps, int n_outputs,
                              const cdz_sample_params *p, cdz_rng *rng, uint16_t *out, double *loglik,
                              int64_t *generated, void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx,
                              cdz_error *err) {
    *generated = 0;
    if (n_outputs < 1 || p->beam_size < 0 || p->beam_size > 4096 || p->branch_factor < 0 || p->branch_factor > 4096)
        return cdz_error_set(err, CDZ_ERR_ARG, "%d outputs, beam size %d x branch factor %d: out of range", n_outputs,
                             p->beam_size, p->branch_factor);
    cdz_session *s = NULL;
    cdz_status st = cdz_session_new(&s, m, cdz_sample_rows_needed(p, n_outputs), 0, err);
    if (st != CDZ_OK) return st;
    st = cdz_generate_session(s, primer, n_primer, steps, n_outputs, p, rng, out, loglik, generated, progress, ctx, err);
    cdz_session_free(s);
    return st;
}

cdz_status cdz_generate(const cdz_model *m, const uint16_t *primer, int64_t n_primer, int64_t steps, int n_outputs,
                        const cdz_sample_params *p, cdz_rng *rng, uint16_t *out, double *loglik,
                        void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx, cdz_error *err) {
    cdz_sample_params q = *p;
    q.stop = NULL; /* a fixed length */
    int64_t generated;
    return cdz_generate_until(m, primer, n_primer, steps, n_outputs, &q, rng, out, loglik, &generated, progress, ctx, err);
}

/* Backends (cadenza/backend.h): the registry; the CPU backend against the plain-loop reference, layer
 * pass by layer pass, on random inputs at several shapes including awkward ones (odd sizes, B > 1,
 * T > R so relative distances clip, more query rows than the CPU's block of 64, masked keys and a
 * fully masked row, ignored targets, dropout with keep < 1, LSTMs with and without an initial state,
 * the attention-LSTM with T > L and T < L), every output and every gradient, with the worst
 * difference of each pass printed; and finite-difference gradient checks of the reference's
 * backward passes.
 *
 * How the comparisons are made: each backend runs on its own copies; outputs a pass must overwrite
 * start as NaN (a pass that leaves one unwritten fails); gradients start as the same random values
 * (a pass that overwrote instead of adding fails); scratch buffers have exactly the size nn.h's size
 * functions give, start as NaN (a pass must not rely on zeros it did not write) and are followed by
 * guard floats that must come back untouched. A backward pass reads the activations its own
 * backend's forward pass saved, as a model's does. The difference of two arrays is the worst
 * |cpu - ref| / max(1, |ref|): relative for large values, absolute below 1. */
#include <math.h>

#include "cadenza/backend.h"
#include "test.h"

static const cdz_backend *CPU, *REF;
static cdz_rng rng;

/* ---- buffers: every allocation of a test case is freed together ---- */

enum { POOL = 4096, GUARD = 16 };
static void *pool[POOL];
static int npool;
static const float SENTINEL = -12345.25f;

static void *pooled(void *p) {
    if (!p || npool == POOL) abort();
    return pool[npool++] = p;
}
static void pool_free(void) {
    while (npool) free(pool[--npool]);
}
static float *fzero(size_t n) { return pooled(calloc(n ? n : 1, sizeof(float))); }
static float *frand(size_t n, double scale) { /* uniform in [-scale, scale) */
    float *p = fzero(n);
    for (size_t i = 0; i < n; i++) p[i] = (float)(scale * (2 * cdz_rng_uniform(&rng) - 1));
    return p;
}
static float *fnan(size_t n) {
    float *p = fzero(n);
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    return p;
}
static float *fdup(const float *a, size_t n) {
    float *p = fzero(n);
    memcpy(p, a, n * sizeof *p);
    return p;
}
/* n floats of scratch (NaN) and GUARD sentinels after them. */
static float *scratch_new(size_t n) {
    float *p = pooled(malloc((n + GUARD) * sizeof(float)));
    for (size_t i = 0; i < n; i++) p[i] = NAN;
    for (size_t i = 0; i < GUARD; i++) p[n + i] = SENTINEL;
    return p;
}
static void check_guard(const char *pass, const char *backend, const float *scratch, size_t n) {
    int ok = 1;
    for (size_t i = 0; i < GUARD; i++) ok &= scratch[n + i] == SENTINEL;
    CHECK(ok, "%s (%s) wrote past the %zu floats of scratch nn.h sizes", pass, backend, n);
}
static double dotd(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- comparisons ---- */

/* The tolerances, in |cpu - ref| / max(1, |ref|), and why they are what they are. The inputs are of
 * order 1, so the outputs and gradients are of order 1 to 10. (Measured on x86-64 with OpenBLAS and
 * with the CPU's plain loops: every pass is at least 3 times inside its tolerance.) */
/* Copies and selections of floats on both sides (embedding rows, ReLU, the dropout mask): equal. */
#define TOL_EXACT 0.0
/* A few products or quotients rounded to float on the CPU's side, in double on the reference's
 * (x * (1 / keep) against x / keep; libm's expf and erff against exp and erf; Adam's moments): a few
 * ulps of 2^-24 = 6e-8 each. */
#define TOL_ULPS 1e-6
/* fp32 sums of K <= 129 products of order 1 (OpenBLAS's blocked sgemm with FMA, or the CPU's loops)
 * against double: the rounding errors of the partial sums, of order 2^-24 |partial sum| each, add up
 * like sqrt(K) 2^-24 |sum| for random signs, about 1e-6 at K = 129 and |sum| ~ 10; 1e-5 covers an
 * unlucky order. */
#define TOL_SUM 1e-5
/* The CPU's polynomial exp (relative error below 3e-7), and the sigmoid and tanh made from it
 * (tanh's absolute error below 1e-7), each activation rounded to float: a few times 3e-7. */
#define TOL_EXP 1e-6
/* Recurrences (LSTM, attention-LSTM): those activation errors and fp32 sums of up to 4H = 24 terms
 * per step, carried through up to 9 steps forwards and again backwards, and gathered into weight
 * gradients summed over every (step, row): a few times TOL_EXP. */
#define TOL_RECUR 5e-6
/* Attention: fp32 q . k sums of D <= 6 terms, the CPU's polynomial exp in the softmax, fp32 sums of
 * up to 70 probability-weighted values, and backwards the softmax's p (dp - p . dp), which subtracts
 * numbers of order 1 to get ones of order 0.1: about 3 times TOL_EXP. */
#define TOL_ATT 3e-6
/* Layer norm: the CPU's mean is a float sum, a few ulps of the mean off; on the row with mean 5 and
 * spread 0.1 (rstd ~ 10) that error, ~5e-7, is multiplied by rstd in y and dx. */
#define TOL_LN 1e-5

typedef struct pass_worst {
    const char *pass;
    double worst, tol;
} pass_worst;
static pass_worst worsts[96];
static int nworst;

static void note(const char *pass, double d, double tol) {
    int i = 0;
    while (i < nworst && strcmp(worsts[i].pass, pass) != 0) i++;
    if (i == nworst) {
        if (nworst == 96) abort();
        worsts[nworst++] = (pass_worst){pass, 0, tol};
    }
    if (isnan(d) || d > worsts[i].worst || isnan(worsts[i].worst)) worsts[i].worst = d;
    if (tol > worsts[i].tol) worsts[i].tol = tol;
}

static double rel_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - (double)b[i]) / fmax(1.0, fabs((double)b[i]));
        if (isnan(e)) return NAN;
        if (e > worst) worst = e;
    }
    return worst;
}

/* cpu against ref over n floats, within tol. */
static void same(const char *pass, const char *what, const float *cpu, const float *ref, size_t n, double tol) {
    double d = rel_diff(cpu, ref, n);
    note(pass, d, tol);
    CHECK(d <= tol, "%s, %s: cpu and reference differ by %.3g (tolerance %.3g)", pass, what, d, tol);
}

/* ---- the registry and the buffers ---- */

static void test_registry(void) {
    CHECK(REF != NULL, "cdz_backend_find(\"reference\") found nothing");
    CHECK(CPU != NULL && CPU == cdz_backend_cpu(), "cdz_backend_find(\"cpu\") is not cdz_backend_cpu()");
    if (!REF || !CPU) return;
    CHECK(REF == cdz_backend_reference(), "find and cdz_backend_reference disagree");
    CHECK(strcmp(REF->name, "reference") == 0 && REF->host_memory == 1, "name %s, host_memory %d", REF->name,
          REF->host_memory);
    CHECK(cdz_backend_find("no-such-backend") == NULL, "an unknown name found a backend");
    const cdz_backend *const *list;
    size_t n = cdz_backend_list(&list);
    CHECK(n >= 2 && list[0] == CPU && list[1] == REF, "the list holds %zu backends, the CPU's then the reference",
          n);
    const cdz_backend *both[2] = {CPU, REF};
    for (int i = 0; i < 2; i++) {
        char missing[1024] = "?";
        cdz_backend_missing(both[i], missing, sizeof missing);
        CHECK(missing[0] == 0, "%s lacks: %s", both[i]->name, missing);
        cdz_error err;
        CHECK(cdz_backend_check(both[i], &err) == CDZ_OK, "%s: %s", both[i]->name, err.msg);
    }
    /* the buffer operations on host memory */
    float *buf = NULL, host[5] = {1, 2, 3, 4, 5}, back[5] = {0}, twice[5] = {2, 4, 6, 8, 10};
    cdz_error err;
    CHECK(REF->alloc((void **)&buf, sizeof host, &err) == CDZ_OK, "alloc: %s", err.msg);
    if (!buf) return;
    int zeroed = 1;
    for (int i = 0; i < 5; i++) zeroed &= buf[i] == 0;
    CHECK(zeroed, "alloc gives zeroed memory");
    REF->upload(buf, host, sizeof host);
    REF->add(buf, host, 5);
    REF->download(back, buf, sizeof back);
    CHECK(memcmp(back, twice, sizeof back) == 0, "upload, add, download: %g %g .. %g", back[0], back[1], back[4]);
    REF->copy(buf, buf + 2, 3 * sizeof *buf); /* overlapping: a move */
    REF->download(back, buf, sizeof back);
    CHECK(back[0] == 6 && back[1] == 8 && back[2] == 10 && back[3] == 8, "copy: %g %g %g %g", back[0], back[1],
          back[2], back[3]);
    REF->zero(buf, sizeof host);
    REF->download(back, buf, sizeof back);
    CHECK(back[0] == 0 && back[4] == 0, "zero");
    REF->release(buf);
}

/* ---- linear, embedding, softmax cross-entropy ---- */

static void test_linear(void) {
    /* N <= 4 takes the CPU's few-rows path, larger N OpenBLAS (or its loops) */
    static const int shapes[][3] = {{1, 1, 1}, {3, 13, 5}, {37, 70, 19}, {65, 129, 33}};
    for (int s = 0; s < 4; s++) {
        int N = shapes[s][0], C = shapes[s][1], OC = shapes[s][2];
        size_t nx = (size_t)N * C, nw = (size_t)OC * C, ny = (size_t)N * OC;
        float *x = frand(nx, 1), *w = frand(nw, 1), *b = frand(OC, 1), *dy = frand(ny, 1);
        const float *bias = s == 1 ? NULL : b;
        float *yc = fnan(ny), *yr = fnan(ny);
        CPU->linear_forward(yc, x, w, bias, N, C, OC);
        REF->linear_forward(yr, x, w, bias, N, C, OC);
        same("linear_forward", "y", yc, yr, ny, TOL_SUM);
        float *dxc = frand(nx, 1), *dwc = frand(nw, 1), *dbc = frand(OC, 1);
        float *dxr = fdup(dxc, nx), *dwr = fdup(dwc, nw), *dbr = fdup(dbc, OC);
        int no_dx = s == 2, no_db = s == 1; /* the optional gradients left out once each */
        CPU->linear_backward(no_dx ? NULL : dxc, dwc, no_db ? NULL : dbc, dy, x, w, N, C, OC);
        REF->linear_backward(no_dx ? NULL : dxr, dwr, no_db ? NULL : dbr, dy, x, w, N, C, OC);
        same("linear_backward", "dx", dxc, dxr, nx, TOL_SUM);
        same("linear_backward", "dw", dwc, dwr, nw, TOL_SUM);
        same("linear_backward", "db", dbc, dbr, OC, TOL_SUM);
        pool_free();
    }
}

static void test_embedding(void) {
    enum { N = 11, C = 9, V = 7 };
    static const uint16_t tokens[N] = {3, 1, 3, 0, 6, 3, 1, 5, 0, 3, 2}; /* repeats; row 4 unused */
    float *table = frand((size_t)V * C, 1), *dy = frand((size_t)N * C, 1);
    float *yc = fnan((size_t)N * C), *yr = fnan((size_t)N * C);
    CPU->embedding_forward(yc, tokens, table, N, C);
    REF->embedding_forward(yr, tokens, table, N, C);
    same("embedding_forward", "y", yc, yr, (size_t)N * C, TOL_EXACT);
    float *dc = frand((size_t)V * C, 1), *dr = fdup(dc, (size_t)V * C);
    CPU->embedding_backward(dc, dy, tokens, N, C);
    REF->embedding_backward(dr, dy, tokens, N, C);
    /* up to four dy rows added to a table row, in another order and with one rounding instead of four */
    same("embedding_backward", "dtable", dc, dr, (size_t)V * C, TOL_ULPS);
    pool_free();
}

static void test_softmax_xent(void) {
    static const int shapes[][2] = {{9, 13}, {1, 1}, {5, 388}};
    for (int s = 0; s < 3; s++) {
        int N = shapes[s][0], V = shapes[s][1];
        size_t nv = (size_t)N * V;
        float *logits = frand(nv, 4);
        uint16_t targets[16];
        for (int n = 0; n < N; n++) targets[n] = (uint16_t)cdz_rng_below(&rng, (uint64_t)V);
        if (N > 6) targets[2] = targets[6] = CDZ_IGNORE_TARGET;
        float *pc = fnan(nv), *pr = fnan(nv), lc, lr;
        lc = CPU->softmax_xent_forward(pc, logits, targets, N, V);
        lr = REF->softmax_xent_forward(pr, logits, targets, N, V);
        /* the CPU's expf and its float normalisation against exp in double */
        same("softmax_xent_forward", "probs", pc, pr, nv, TOL_ULPS);
        same("softmax_xent_forward", "loss", &lc, &lr, 1, TOL_ULPS);
        float *dc = frand(nv, 1), *dr = fdup(dc, nv);
        CPU->softmax_xent_backward(dc, pc, targets, N, V);
        REF->softmax_xent_backward(dr, pr, targets, N, V);
        same("softmax_xent_backward", "dlogits", dc, dr, nv, TOL_ULPS);
        pool_free();
    }
    /* every target ignored: a loss of 0 and no gradient at all */
    enum { N = 3, V = 4 };
    uint16_t none[N] = {CDZ_IGNORE_TARGET, CDZ_IGNORE_TARGET, CDZ_IGNORE_TARGET};
    float *logits = frand(N * V, 2), *p = fnan(N * V), *d = frand(N * V, 1), *d0 = fdup(d, N * V);
    const cdz_backend *both[2] = {CPU, REF};
    for (int i = 0; i < 2; i++) {
        float loss = both[i]->softmax_xent_forward(p, logits, none, N, V);
        both[i]->softmax_xent_backward(d, p, none, N, V);
        CHECK(loss == 0.0f && memcmp(d, d0, N * V * sizeof *d) == 0, "%s: all targets ignored gives loss %g",
              both[i]->name, loss);
    }
    pool_free();
}

/* ---- LSTM ---- */

static void lstm_case(int T, int B, int C, int H, int with_state, int with_optional) {
    const size_t nx = (size_t)T * B * C, nh = (size_t)T * B * H, ng = nh * 4, bh = (size_t)B * H;
    const size_t nih = (size_t)4 * H * C, nhh = (size_t)4 * H * H;
    float *x = frand(nx, 1), *w_ih = frand(nih, 0.7), *w_hh = frand(nhh, 0.7), *b = frand(4 * (size_t)H, 0.5);
    float *h0 = with_state ? frand(bh, 1) : NULL, *c0 = with_state ? frand(bh, 1) : NULL;
    const float *bias = with_optional ? b : NULL;
    float *hc = fnan(nh), *cc = fnan(nh), *gc = fnan(ng), *hr = fnan(nh), *cr = fnan(nh), *gr = fnan(ng);
    CPU->lstm_forward(hc, cc, gc, x, h0, c0, w_ih, w_hh, bias, T, B, C, H);
    REF->lstm_forward(hr, cr, gr, x, h0, c0, w_ih, w_hh, bias, T, B, C, H);
    same("lstm_forward", "h", hc, hr, nh, TOL_RECUR);
    same("lstm_forward", "c", cc, cr, nh, TOL_RECUR);
    same("lstm_forward", "gates", gc, gr, ng, TOL_RECUR);

    float *dh = frand(nh, 1), *dc_T = with_optional ? frand(bh, 1) : NULL;
    float *dxc = frand(nx, 1), *dh0c = frand(bh, 1), *dc0c = frand(bh, 1), *dwihc = frand(nih, 1),
          *dwhhc = frand(nhh, 1), *dbc = frand(4 * (size_t)H, 1);
    float *dxr = fdup(dxc, nx), *dh0r = fdup(dh0c, bh), *dc0r = fdup(dc0c, bh), *dwihr = fdup(dwihc, nih),
          *dwhhr = fdup(dwhhc, nhh), *dbr = fdup(dbc, 4 * (size_t)H);
    size_t ns = ng + 2 * bh; /* nn.h: T * B * 4H + 2 * B * H */
    float *sc = scratch_new(ns), *sr = scratch_new(ns);
    int o = with_optional;
    CPU->lstm_backward(o ? dxc : NULL, o ? dh0c : NULL, o ? dc0c : NULL, dwihc, dwhhc, o ? dbc : NULL, sc, dh, dc_T,
                       hc, cc, gc, x, h0, c0, w_ih, w_hh, T, B, C, H);
    REF->lstm_backward(o ? dxr : NULL, o ? dh0r : NULL, o ? dc0r : NULL, dwihr, dwhhr, o ? dbr : NULL, sr, dh, dc_T,
                       hr, cr, gr, x, h0, c0, w_ih, w_hh, T, B, C, H);
    check_guard("lstm_backward", "cpu", sc, ns);
    check_guard("lstm_backward", "reference", sr, ns);
    same("lstm_backward", "dx", dxc, dxr, nx, TOL_RECUR);
    same("lstm_backward", "dh0", dh0c, dh0r, bh, TOL_RECUR);
    same("lstm_backward", "dc0", dc0c, dc0r, bh, TOL_RECUR);
    same("lstm_backward", "dw_ih", dwihc, dwihr, nih, TOL_RECUR);
    same("lstm_backward", "dw_hh", dwhhc, dwhhr, nhh, TOL_RECUR);
    same("lstm_backward", "db", dbc, dbr, 4 * (size_t)H, TOL_RECUR);
    pool_free();
}

static void test_lstm(void) {
    lstm_case(5, 3, 7, 6, 1, 1);
    lstm_case(5, 3, 7, 6, 0, 1); /* no h0, c0: zeros, whose gradients still flow */
    lstm_case(9, 2, 4, 5, 1, 0); /* no dx, dh0, dc0, db, bias or dc_T */
    lstm_case(1, 1, 1, 1, 0, 1);
}

static void test_lstm_cell(void) {
    enum { B = 3, H = 5 };
    for (int with_prev = 0; with_prev < 2; with_prev++) {
        float *pre = frand(B * 4 * H, 2), *c_prev = with_prev ? frand(B * H, 1) : NULL;
        float *gc = fdup(pre, B * 4 * H), *gr = fdup(pre, B * 4 * H);
        float *hc = fnan(B * H), *cc = fnan(B * H), *hr = fnan(B * H), *cr = fnan(B * H);
        CPU->lstm_cell_forward(hc, cc, gc, c_prev, B, H);
        REF->lstm_cell_forward(hr, cr, gr, c_prev, B, H);
        same("lstm_cell_forward", "h", hc, hr, B * H, TOL_EXP);
        same("lstm_cell_forward", "c", cc, cr, B * H, TOL_EXP);
        same("lstm_cell_forward", "gates", gc, gr, B * 4 * H, TOL_EXP);
        float *dh = frand(B * H, 1), *dc = frand(B * H, 1);
        float *dgc = fnan(B * 4 * H), *dgr = fnan(B * 4 * H), *dpc = fnan(B * H), *dpr = fnan(B * H);
        CPU->lstm_cell_backward(dgc, dpc, dh, dc, gc, cc, c_prev, B, H);
        REF->lstm_cell_backward(dgr, dpr, dh, dc, gr, cr, c_prev, B, H);
        same("lstm_cell_backward", "dgates", dgc, dgr, B * 4 * H, TOL_EXP);
        same("lstm_cell_backward", "dc_prev", dpc, dpr, B * H, TOL_EXP);
        /* dc_prev may be dc */
        float *dcc = fdup(dc, B * H), *dcr = fdup(dc, B * H);
        CPU->lstm_cell_backward(dgc, dcc, dh, dcc, gc, cc, c_prev, B, H);
        REF->lstm_cell_backward(dgr, dcr, dh, dcr, gr, cr, c_prev, B, H);
        same("lstm_cell_backward", "dc_prev in place", dcc, dcr, B * H, TOL_EXP);
        /* (the reference's own result, in place or not: the same arithmetic) */
        same("lstm_cell_backward", "dc_prev in place against apart", dcr, dpr, B * H, TOL_EXACT);
        pool_free();
    }
}

static void test_lstm_step(void) {
    enum { T = 4, B = 2, C = 5, H = 6 };
    float *x = frand(T * B * C, 1), *w_ih = frand(4 * H * C, 0.7), *w_hh = frand(4 * H * H, 0.7);
    float *b = frand(4 * H, 0.5);
    float *h0 = frand(B * H, 1), *c0 = frand(B * H, 1);
    float *hc = fdup(h0, B * H), *cc = fdup(c0, B * H), *hr = fdup(h0, B * H), *cr = fdup(c0, B * H);
    float *gc = fnan(B * 4 * H), *gr = fnan(B * 4 * H);
    float *hf = fnan(T * B * H), *cf = fnan(T * B * H), *gf = fnan(T * B * 4 * H);
    REF->lstm_forward(hf, cf, gf, x, h0, c0, w_ih, w_hh, b, T, B, C, H);
    for (int t = 0; t < T; t++) {
        CPU->lstm_step(hc, cc, gc, x + t * B * C, w_ih, w_hh, b, B, C, H);
        REF->lstm_step(hr, cr, gr, x + t * B * C, w_ih, w_hh, b, B, C, H);
        same("lstm_step", "h", hc, hr, B * H, TOL_RECUR);
        same("lstm_step", "c", cc, cr, B * H, TOL_RECUR);
        same("lstm_step", "gates", gc, gr, B * 4 * H, TOL_RECUR);
        /* the reference's step and its layer are the same sums on the same floats */
        CHECK(memcmp(hr, hf + t * B * H, B * H * sizeof *hr) == 0 &&
                  memcmp(cr, cf + t * B * H, B * H * sizeof *cr) == 0,
              "reference lstm_step differs from its lstm_forward at step %d", t);
    }
    pool_free();
}

/* ---- dropout ---- */

static void test_dropout(void) {
    /* batch-major with an odd width and a share that starts at sample 5; time-major as the LSTMs */
    static const cdz_dropout_site sites[2] = {{0x1234abcdULL, 5, 3, 7, 47, 0}, {99, 0, 4, 5, 33, 1}};
    for (int k = 0; k < 4; k++) {
        const cdz_dropout_site *site = &sites[k % 2];
        const int N = site->B * site->T * site->C;
        float keep = k < 2 ? 0.7f : 1.0f;
        float *x = frand(N, 2), *dy = frand(N, 1);
        uint8_t *mc = malloc((size_t)N), *mr = malloc((size_t)N);
        float *yc = fnan(N), *yr = fdup(x, N); /* the reference in place: y may be x */
        memset(mc, 7, (size_t)N), memset(mr, 7, (size_t)N);
        CPU->dropout_forward(yc, mc, x, site, keep);
        REF->dropout_forward(yr, mr, yr, site, keep);
        CHECK(memcmp(mc, mr, (size_t)N) == 0, "keep %g, site %d: the masks differ", keep, k % 2);
        int kept = 0;
        for (int i = 0; i < N; i++) kept += mr[i] == 1;
        /* about 1000 draws at 0.7: the standard deviation of the kept fraction is 0.0145 */
        CHECK(fabs(kept / (double)N - keep) < 0.06, "keep %g: kept %d of %d", keep, kept, N);
        same("dropout_forward", "y", yc, yr, N, keep < 1 ? TOL_ULPS : TOL_EXACT);
        float *dc = frand(N, 1), *dr = fdup(dc, N);
        CPU->dropout_backward(dc, dy, mc, (size_t)N, keep);
        REF->dropout_backward(dr, dy, mr, (size_t)N, keep);
        same("dropout_backward", "dx", dc, dr, N, keep < 1 ? TOL_ULPS : TOL_EXACT);
        free(mc), free(mr);
    }
    pool_free();
}

/* ---- the attention-LSTM ---- */

enum { AL_N = 11 };
static const char *const AL_NAMES[AL_N] = {"w_in", "b_in", "w_ih", "w_hh", "b", "k", "w_q", "b_q", "v", "w_o", "b_o"};

static void al_sizes(size_t *n, int C, int H) {
    const size_t c = (size_t)C, h = (size_t)H;
    size_t s[AL_N] = {c * (c + h), c, 4 * h * c, 4 * h * h, 4 * h, h * h, h * 2 * h, h, h, h * 2 * h, h};
    memcpy(n, s, sizeof s);
}
/* The parameters (or their gradients) in one buffer, sliced in AL_NAMES order. */
static void al_slice(float **t, float *buf, int C, int H) {
    size_t n[AL_N];
    al_sizes(n, C, H);
    for (int i = 0; i < AL_N; i++) t[i] = buf, buf += n[i];
}
static size_t al_total(int C, int H) {
    size_t n[AL_N], s = 0;
    al_sizes(n, C, H);
    for (int i = 0; i < AL_N; i++) s += n[i];
    return s;
}
static cdz_attn_lstm_params al_params(float *const *t) {
    cdz_attn_lstm_params p = {t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10]};
    return p;
}
static cdz_attn_lstm_grads al_grads(float *const *t) {
    cdz_attn_lstm_grads g = {t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], t[10]};
    return g;
}

static void attn_lstm_case(int T, int B, int C, int H, int L) {
    const size_t np = al_total(C, H), no = (size_t)T * B * H, nx = (size_t)T * B * C;
    const size_t na = (size_t)T * B * cdz_attn_lstm_act_floats(C, H, L);
    float *pbuf = frand(np, 0.6), *pt[AL_N];
    al_slice(pt, pbuf, C, H);
    cdz_attn_lstm_params p = al_params(pt);
    float *x = frand(nx, 1);
    float *oc = fnan(no), *orf = fnan(no), *abc = fnan(na), *abr = fnan(na);
    cdz_attn_lstm_acts ac, ar;
    cdz_attn_lstm_acts_slice(&ac, abc, T, B, C, H, L);
    cdz_attn_lstm_acts_slice(&ar, abr, T, B, C, H, L);
    CPU->attn_lstm_forward(oc, &ac, x, &p, T, B, C, H, L);
    REF->attn_lstm_forward(orf, &ar, x, &p, T, B, C, H, L);
    same("attn_lstm_forward", "o", oc, orf, no, TOL_RECUR);
    const size_t tb = (size_t)T * B;
    same("attn_lstm_forward", "xp", ac.xp, ar.xp, tb * C, TOL_RECUR);
    same("attn_lstm_forward", "h", ac.h, ar.h, tb * H, TOL_RECUR);
    same("attn_lstm_forward", "c", ac.c, ar.c, tb * H, TOL_RECUR);
    same("attn_lstm_forward", "gates", ac.gates, ar.gates, tb * 4 * H, TOL_RECUR);
    same("attn_lstm_forward", "y", ac.y, ar.y, tb * H, TOL_RECUR);
    same("attn_lstm_forward", "hf", ac.hf, ar.hf, tb * H, TOL_RECUR);
    same("attn_lstm_forward", "a", ac.a, ar.a, tb * L, TOL_RECUR);
    same("attn_lstm_forward", "d", ac.d, ar.d, tb * H, TOL_RECUR);

    float *doc = frand(no, 1), *dor = fdup(doc, no);
    float *gbc = frand(np, 1), *gbr = fdup(gbc, np), *gtc[AL_N], *gtr[AL_N];
    al_slice(gtc, gbc, C, H), al_slice(gtr, gbr, C, H);
    cdz_attn_lstm_grads gc = al_grads(gtc), gr = al_grads(gtr);
    float *dxc = frand(nx, 1), *dxr = fdup(dxc, nx);
    size_t ns = cdz_attn_lstm_scratch_floats(T, B, C, H, L);
    float *sc = scratch_new(ns), *sr = scratch_new(ns);
    CPU->attn_lstm_backward(dxc, &gc, sc, doc, oc, &ac, x, &p, T, B, C, H, L);
    REF->attn_lstm_backward(dxr, &gr, sr, dor, orf, &ar, x, &p, T, B, C, H, L);
    check_guard("attn_lstm_backward", "cpu", sc, ns);
    check_guard("attn_lstm_backward", "reference", sr, ns);
    same("attn_lstm_backward", "dx", dxc, dxr, nx, TOL_RECUR);
    size_t n[AL_N];
    al_sizes(n, C, H);
    for (int i = 0; i < AL_N; i++) same("attn_lstm_backward", AL_NAMES[i], gtc[i], gtr[i], n[i], TOL_RECUR);

    /* step by step from the zero state gives the forward pass's outputs */
    const size_t bh = (size_t)B * H, nsl = bh * L, nss = cdz_attn_lstm_step_scratch_floats(B, C, H, L);
    float *hc = fzero(bh), *cc = fzero(bh), *dc = fzero(bh), *soc = fzero(nsl), *shc = fzero(nsl);
    float *hr = fzero(bh), *cr = fzero(bh), *dr = fzero(bh), *sor = fzero(nsl), *shr = fzero(nsl);
    float *ssc = scratch_new(nss), *ssr = scratch_new(nss), *stc = fnan(bh), *str = fnan(bh);
    for (int t = 0; t < T; t++) {
        CPU->attn_lstm_step(stc, hc, cc, dc, soc, shc, ssc, x + t * B * C, &p, B, C, H, L);
        REF->attn_lstm_step(str, hr, cr, dr, sor, shr, ssr, x + t * B * C, &p, B, C, H, L);
        same("attn_lstm_step", "o", stc, str, bh, TOL_RECUR);
        /* the reference's step and its forward pass: the same sums on the same floats */
        CHECK(rel_diff(str, orf + t * bh, bh) == 0, "reference attn_lstm_step differs from its forward at step %d: %g",
              t, rel_diff(str, orf + t * bh, bh));
    }
    check_guard("attn_lstm_step", "cpu", ssc, nss);
    check_guard("attn_lstm_step", "reference", ssr, nss);
    same("attn_lstm_step", "h", hc, hr, bh, TOL_RECUR);
    same("attn_lstm_step", "c", cc, cr, bh, TOL_RECUR);
    same("attn_lstm_step", "d", dc, dr, bh, TOL_RECUR);
    same("attn_lstm_step", "slots_o", soc, sor, nsl, TOL_RECUR);
    same("attn_lstm_step", "slots_hf", shc, shr, nsl, TOL_RECUR);
    pool_free();
}

static void test_attn_lstm(void) {
    attn_lstm_case(7, 2, 5, 6, 3); /* T > L: slots leave */
    attn_lstm_case(3, 2, 4, 5, 6); /* T < L: empty slots throughout */
    attn_lstm_case(1, 1, 2, 3, 1);
}

/* ---- optimisation ---- */

static void test_optim(void) {
    enum { N = 1001 };
    cdz_adamw_params ap = cdz_adamw_default_params();
    ap.lr = 0.01f;
    static const int64_t steps[2] = {1, 7};
    for (int s = 0; s < 2; s++) {
        float *pc = frand(N, 1), *g = frand(N, 1), *mc = frand(N, 0.1), *vc = frand(N, 0.01);
        for (int i = 0; i < N; i++) vc[i] = fabsf(vc[i]);
        if (s == 0) memset(mc, 0, N * sizeof *mc), memset(vc, 0, N * sizeof *vc); /* the first step */
        float *pr = fdup(pc, N), *mr = fdup(mc, N), *vr = fdup(vc, N);
        CPU->adamw_step(pc, g, mc, vc, N, &ap, steps[s]);
        REF->adamw_step(pr, g, mr, vr, N, &ap, steps[s]);
        same("adamw_step", "params", pc, pr, N, TOL_ULPS);
        same("adamw_step", "m", mc, mr, N, TOL_ULPS);
        same("adamw_step", "v", vc, vr, N, TOL_ULPS);
        pool_free();
    }
    for (int s = 0; s < 2; s++) {
        float *gc = frand(N, 1), *gr = fdup(gc, N);
        float max_norm = s ? 1.0f : 100.0f; /* the norm is about 18: clipped, then not */
        float nc = CPU->clip_grad_norm(gc, N, max_norm), nr = REF->clip_grad_norm(gr, N, max_norm);
        /* both sum the squares in double; the CPU scales in float */
        same("clip_grad_norm", "norm", &nc, &nr, 1, TOL_ULPS);
        same("clip_grad_norm", "grads", gc, gr, N, TOL_ULPS);
        if (!s) CHECK(rel_diff(gr, gc, N) == 0 && nr > 10, "under max_norm nothing is scaled (norm %g)", nr);
        pool_free();
    }
}

/* ---- layer norm, GELU, ReLU ---- */

static void test_layernorm(void) {
    static const int shapes[][2] = {{7, 33}, {1, 1}, {4, 128}};
    for (int s = 0; s < 3; s++) {
        int N = shapes[s][0], C = shapes[s][1];
        size_t nx = (size_t)N * C;
        float *x = frand(nx, 2), *w = frand(C, 1), *b = frand(C, 1), *dy = frand(nx, 1);
        for (int c = 0; c < C && N > 1; c++) x[c] = 5 + 0.1f * x[c]; /* a large mean, a small spread */
        float *yc = fnan(nx), *yr = fnan(nx), *mc = fnan(N), *mr = fnan(N), *rc = fnan(N), *rr = fnan(N);
        CPU->layernorm_forward(yc, mc, rc, x, w, b, N, C);
        REF->layernorm_forward(yr, mr, rr, x, w, b, N, C);
        /* (C = 1: rstd = 1/sqrt(1e-5) ~ 316 multiplies deviations that are exactly 0) */
        same("layernorm_forward", "y", yc, yr, nx, TOL_LN);
        same("layernorm_forward", "mean", mc, mr, N, TOL_LN);
        same("layernorm_forward", "rstd", rc, rr, N, TOL_LN);
        float *dxc = frand(nx, 1), *dwc = frand(C, 1), *dbc = frand(C, 1);
        float *dxr = fdup(dxc, nx), *dwr = fdup(dwc, C), *dbr = fdup(dbc, C);
        CPU->layernorm_backward(dxc, dwc, dbc, dy, x, mc, rc, w, N, C);
        REF->layernorm_backward(dxr, dwr, dbr, dy, x, mr, rr, w, N, C);
        same("layernorm_backward", "dx", dxc, dxr, nx, TOL_LN);
        same("layernorm_backward", "dw", dwc, dwr, C, TOL_LN);
        same("layernorm_backward", "db", dbc, dbr, C, TOL_LN);
        pool_free();
    }
}

static void test_gelu_relu(void) {
    enum { N = 1001 };
    float *x = frand(N, 6), *dy = frand(N, 1);
    x[0] = 0, x[1] = -0.0f, x[2] = 10, x[3] = -10, x[4] = -30, x[5] = 1e-8f;
    float *yc = fnan(N), *yr = fdup(x, N); /* the reference in place: y may be x */
    CPU->gelu_forward(yc, x, N);
    REF->gelu_forward(yr, yr, N);
    same("gelu_forward", "y", yc, yr, N, TOL_ULPS);
    float *dc = frand(N, 1), *dr = fdup(dc, N);
    CPU->gelu_backward(dc, dy, x, N);
    REF->gelu_backward(dr, dy, x, N);
    same("gelu_backward", "dx", dc, dr, N, TOL_ULPS);
    yc = fnan(N), yr = fnan(N);
    CPU->relu_forward(yc, x, N);
    REF->relu_forward(yr, x, N);
    same("relu_forward", "y", yc, yr, N, TOL_EXACT);
    dc = frand(N, 1), dr = fdup(dc, N);
    CPU->relu_backward(dc, dy, x, N);
    REF->relu_backward(dr, dy, x, N);
    same("relu_backward", "dx", dc, dr, N, TOL_EXACT);
    pool_free();
}

/* ---- attention ---- */

/* Entries of att above the diagonal (keys after the query) are exactly 0 and every row sums to 1. */
static void check_causal(const char *backend, const float *att, int B, int NH, int T) {
    int zeros = 1;
    double worst_sum = 0;
    for (size_t m = 0; m < (size_t)B * NH; m++)
        for (int i = 0; i < T; i++) {
            const float *row = att + (m * T + i) * T;
            double sum = 0;
            for (int j = 0; j < T; j++) {
                if (j > i) zeros &= row[j] == 0.0f;
                sum += row[j];
            }
            worst_sum = fmax(worst_sum, fabs(sum - 1));
        }
    CHECK(zeros, "%s: an attention weight after its query is not 0", backend);
    CHECK(worst_sum < 1e-5, "%s: an attention row sums to 1 %+.3g", backend, worst_sum);
}

static void self_attention_case(int B, int T, int C, int NH, int R) {
    const int D = C / NH;
    const size_t nq = (size_t)B * T * 3 * C, ny = (size_t)B * T * C, na = (size_t)B * NH * T * T;
    const size_t ne = R ? (size_t)NH * R * D : 0;
    float *qkv = frand(nq, 1.5), *er = R ? frand(ne, 1.5) : NULL;
    size_t ns = cdz_self_attention_scratch_floats(T, R);
    /* the forward takes no scratch in absolute mode */
    float *fsc = R ? scratch_new(ns) : NULL, *fsr = R ? scratch_new(ns) : NULL;
    float *yc = fnan(ny), *yr = fnan(ny), *ac = fnan(na), *ar = fnan(na);
    CPU->self_attention_forward(yc, ac, fsc, qkv, er, B, T, C, NH, R);
    REF->self_attention_forward(yr, ar, fsr, qkv, er, B, T, C, NH, R);
    if (R) {
        check_guard("self_attention_forward", "cpu", fsc, ns);
        check_guard("self_attention_forward", "reference", fsr, ns);
    }
    same("self_attention_forward", "y", yc, yr, ny, TOL_ATT);
    same("self_attention_forward", "att", ac, ar, na, TOL_ATT);
    check_causal("cpu", ac, B, NH, T);
    check_causal("reference", ar, B, NH, T);

    float *dy = frand(ny, 1), *dqc = frand(nq, 1), *dqr = fdup(dqc, nq);
    float *derc = R ? frand(ne, 1) : NULL, *derr = R ? fdup(derc, ne) : NULL;
    float *sc = scratch_new(ns), *sr = scratch_new(ns);
    CPU->self_attention_backward(dqc, derc, sc, dy, ac, qkv, er, B, T, C, NH, R);
    REF->self_attention_backward(dqr, derr, sr, dy, ar, qkv, er, B, T, C, NH, R);
    check_guard("self_attention_backward", "cpu", sc, ns);
    check_guard("self_attention_backward", "reference", sr, ns);
    same("self_attention_backward", "dqkv", dqc, dqr, nq, TOL_ATT);
    if (R) same("self_attention_backward", "der", derc, derr, ne, TOL_ATT);

    /* one position at a time against a cache (the step reads the relative embeddings transposed) */
    float *er_t = R ? fzero(ne) : NULL;
    if (R) cdz_self_attention_er_transpose(er_t, er, NH, R, D);
    const int S_max = T + 3;
    const size_t ncache = (size_t)B * NH * S_max * D, nss = cdz_self_attention_step_scratch_floats(S_max, R);
    float *kc = fzero(ncache), *vc = fzero(ncache), *kr = fzero(ncache), *vr = fzero(ncache);
    float *ssc = scratch_new(nss), *ssr = scratch_new(nss), *row = fzero((size_t)B * 3 * C);
    float *sy_c = fnan((size_t)B * C), *sy_r = fnan((size_t)B * C);
    double worst_own = 0;
    for (int pos = 0; pos < T; pos++) {
        for (int b = 0; b < B; b++)
            memcpy(row + (size_t)b * 3 * C, qkv + ((size_t)b * T + pos) * 3 * C, 3 * C * sizeof *row);
        CPU->self_attention_step(sy_c, kc, vc, ssc, row, er_t, pos, B, C, NH, R, S_max);
        REF->self_attention_step(sy_r, kr, vr, ssr, row, er_t, pos, B, C, NH, R, S_max);
        same("self_attention_step", "y", sy_c, sy_r, (size_t)B * C, TOL_ATT);
        for (int b = 0; b < B; b++)
            worst_own = fmax(worst_own, rel_diff(sy_r + (size_t)b * C, yr + ((size_t)b * T + pos) * C, C));
    }
    /* the reference's step is its forward pass's row: the same sums on the same floats */
    CHECK(worst_own == 0, "reference self_attention_step differs from its forward pass by %g", worst_own);
    check_guard("self_attention_step", "cpu", ssc, nss);
    check_guard("self_attention_step", "reference", ssr, nss);
    same("self_attention_step", "k_cache", kc, kr, ncache, TOL_EXACT);
    same("self_attention_step", "v_cache", vc, vr, ncache, TOL_EXACT);

    /* a ring smaller than the sequence: past S_max the step slides over the cache */
    const int S_ring = T > 2 ? T / 2 : 1;
    const size_t nring = (size_t)B * NH * S_ring * D, nrs = cdz_self_attention_step_scratch_floats(S_ring, R);
    float *rkc = fzero(nring), *rvc = fzero(nring), *rkr = fzero(nring), *rvr = fzero(nring);
    float *rsc = scratch_new(nrs), *rsr = scratch_new(nrs);
    for (int pos = 0; pos < T; pos++) {
        for (int b = 0; b < B; b++)
            memcpy(row + (size_t)b * 3 * C, qkv + ((size_t)b * T + pos) * 3 * C, 3 * C * sizeof *row);
        CPU->self_attention_step(sy_c, rkc, rvc, rsc, row, er_t, pos, B, C, NH, R, S_ring);
        REF->self_attention_step(sy_r, rkr, rvr, rsr, row, er_t, pos, B, C, NH, R, S_ring);
        same("self_attention_step (ring)", "y", sy_c, sy_r, (size_t)B * C, TOL_ATT);
    }
    check_guard("self_attention_step (ring)", "cpu", rsc, nrs);
    check_guard("self_attention_step (ring)", "reference", rsr, nrs);
    same("self_attention_step (ring)", "k_cache", rkc, rkr, nring, TOL_EXACT);
    pool_free();
}

static void test_self_attention(void) {
    self_attention_case(2, 11, 12, 3, 0);  /* absolute */
    self_attention_case(2, 11, 12, 3, 4);  /* relative, T > R: distances clip */
    self_attention_case(2, 11, 12, 3, 16); /* relative, T < R */
    self_attention_case(1, 70, 8, 2, 0);   /* more rows than the CPU's block of 64 */
    self_attention_case(1, 70, 8, 2, 5);
    self_attention_case(1, 1, 4, 1, 0); /* T = 1 */
    self_attention_case(1, 1, 4, 1, 3);
    self_attention_case(3, 5, 5, 1, 5); /* odd head size, T = R */
    self_attention_case(2, 6, 6, 2, 1); /* R = 1: every key shares distance 0's embedding */
}

static void cross_attention_case(int B, int Tq, int Tk, int C, int NH, const uint8_t *mask) {
    const size_t nq = (size_t)B * Tq * C, nkv = (size_t)B * Tk * 2 * C, na = (size_t)B * NH * Tq * Tk;
    float *q = frand(nq, 1.5), *kv = frand(nkv, 1.5);
    float *yc = fnan(nq), *yr = fnan(nq), *ac = fnan(na), *ar = fnan(na);
    CPU->cross_attention_forward(yc, ac, q, kv, mask, B, Tq, Tk, C, NH);
    REF->cross_attention_forward(yr, ar, q, kv, mask, B, Tq, Tk, C, NH);
    same("cross_attention_forward", "y", yc, yr, nq, TOL_ATT);
    same("cross_attention_forward", "att", ac, ar, na, TOL_ATT);
    if (mask) {
        /* masked keys get exactly 0; a sequence with every key masked reads zeros */
        const float *both[2] = {ac, ar}, *ys[2] = {yc, yr};
        for (int k = 0; k < 2; k++) {
            int zeros = 1;
            for (int b = 0; b < B; b++) {
                int any = 0;
                for (int j = 0; j < Tk; j++) any |= mask[b * Tk + j] != 0;
                for (size_t r = 0; r < (size_t)NH * Tq; r++)
                    for (int j = 0; j < Tk; j++)
                        if (!mask[b * Tk + j]) zeros &= both[k][((size_t)b * NH * Tq + r) * Tk + j] == 0.0f;
                if (!any)
                    for (size_t e = 0; e < (size_t)Tq * C; e++) zeros &= ys[k][(size_t)b * Tq * C + e] == 0.0f;
            }
            CHECK(zeros, "%s: a masked key has weight, or a fully masked row reads something", k ? "reference" : "cpu");
        }
    }
    float *dy = frand(nq, 1), *dqc = frand(nq, 1), *dqr = fdup(dqc, nq), *dkc = frand(nkv, 1), *dkr = fdup(dkc, nkv);
    size_t ns = cdz_cross_attention_scratch_floats(Tq, Tk);
    float *sc = scratch_new(ns), *sr = scratch_new(ns);
    CPU->cross_attention_backward(dqc, dkc, sc, dy, ac, q, kv, B, Tq, Tk, C, NH);
    REF->cross_attention_backward(dqr, dkr, sr, dy, ar, q, kv, B, Tq, Tk, C, NH);
    check_guard("cross_attention_backward", "cpu", sc, ns);
    check_guard("cross_attention_backward", "reference", sr, ns);
    same("cross_attention_backward", "dq", dqc, dqr, nq, TOL_ATT);
    same("cross_attention_backward", "dkv", dkc, dkr, nkv, TOL_ATT);
    pool_free();
}

static void test_cross_attention(void) {
    /* sequence 0 with keys 1 and 4 masked, sequence 1 with every key masked */
    static const uint8_t mask2[2 * 7] = {1, 0, 1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0};
    cross_attention_case(2, 5, 7, 12, 2, mask2);
    static const uint8_t mask1[9] = {1, 1, 0, 1, 0, 0, 1, 1, 1};
    cross_attention_case(1, 1, 9, 8, 4, mask1); /* one query, as in decoding */
    cross_attention_case(2, 67, 5, 8, 2, NULL); /* more rows than the CPU's block of 64 */
    cross_attention_case(1, 3, 1, 6, 3, NULL);  /* one key */
}

/* ---- finite differences of the reference's backward passes ---- */

static void gradcheck_layers(void) {
    { /* linear */
        enum { N = 3, C = 4, OC = 5 };
        float *x = frand(N * C, 1), *w = frand(OC * C, 1), *b = frand(OC, 1), *dy = frand(N * OC, 1);
        float *y = fzero(N * OC);
        float *dx = fzero(N * C), *dw = fzero(OC * C), *db = fzero(OC);
        REF->linear_backward(dx, dw, db, dy, x, w, N, C, OC);
#define LOSS (REF->linear_forward(y, x, w, b, N, C, OC), dotd(y, dy, N * OC))
        GRAD_CHECK("reference linear dx", x, (size_t)N * C, dx, LOSS);
        GRAD_CHECK("reference linear dw", w, (size_t)OC * C, dw, LOSS);
        GRAD_CHECK("reference linear db", b, (size_t)OC, db, LOSS);
#undef LOSS
    }
    { /* embedding */
        enum { N = 6, C = 3, V = 5 };
        static const uint16_t tok[N] = {4, 0, 4, 2, 4, 0};
        float *table = frand(V * C, 1), *dy = frand(N * C, 1), *y = fzero(N * C), *dt = fzero(V * C);
        REF->embedding_backward(dt, dy, tok, N, C);
        GRAD_CHECK("reference embedding dtable", table, (size_t)V * C, dt,
                   (REF->embedding_forward(y, tok, table, N, C), dotd(y, dy, N * C)));
    }
    { /* softmax cross-entropy, one target ignored */
        enum { N = 4, V = 5 };
        static const uint16_t t[N] = {1, CDZ_IGNORE_TARGET, 4, 0};
        float *logits = frand(N * V, 2), *p = fzero(N * V), *d = fzero(N * V);
        REF->softmax_xent_forward(p, logits, t, N, V);
        REF->softmax_xent_backward(d, p, t, N, V);
        GRAD_CHECK("reference softmax_xent dlogits", logits, (size_t)N * V, d,
                   REF->softmax_xent_forward(p, logits, t, N, V));
    }
    { /* dropout: a fixed mask (the same site for every evaluation) */
        enum { N = 9 };
        const cdz_dropout_site site = {3, 0, 1, 3, 3, 0};
        float *x = frand(N, 1), *dy = frand(N, 1), *y = fzero(N), *dx = fzero(N);
        uint8_t mask[N];
        REF->dropout_forward(y, mask, x, &site, 0.6f);
        REF->dropout_backward(dx, dy, mask, N, 0.6f);
        GRAD_CHECK("reference dropout dx", x, (size_t)N, dx,
                   (REF->dropout_forward(y, mask, x, &site, 0.6f), dotd(y, dy, N)));
    }
    { /* layer norm */
        enum { N = 3, C = 7 };
        float *x = frand(N * C, 1.5), *w = frand(C, 1), *b = frand(C, 1), *dy = frand(N * C, 1);
        float *y = fzero(N * C), *mean = fzero(N), *rstd = fzero(N), *dx = fzero(N * C), *dw = fzero(C), *db = fzero(C);
        REF->layernorm_forward(y, mean, rstd, x, w, b, N, C);
        REF->layernorm_backward(dx, dw, db, dy, x, mean, rstd, w, N, C);
#define LOSS (REF->layernorm_forward(y, mean, rstd, x, w, b, N, C), dotd(y, dy, N * C))
        GRAD_CHECK("reference layernorm dx", x, (size_t)N * C, dx, LOSS);
        GRAD_CHECK("reference layernorm dw", w, (size_t)C, dw, LOSS);
        GRAD_CHECK("reference layernorm db", b, (size_t)C, db, LOSS);
#undef LOSS
    }
    { /* GELU and ReLU (ReLU's inputs kept away from the kink at 0 by more than the step) */
        enum { N = 24 };
        float *x = frand(N, 3), *dy = frand(N, 1), *y = fzero(N), *dx = fzero(N), *dr = fzero(N);
        for (int i = 0; i < N; i++) x[i] += x[i] < 0 ? -0.05f : 0.05f;
        REF->gelu_backward(dx, dy, x, N);
        GRAD_CHECK("reference gelu dx", x, (size_t)N, dx, (REF->gelu_forward(y, x, N), dotd(y, dy, N)));
        REF->relu_backward(dr, dy, x, N);
        GRAD_CHECK("reference relu dx", x, (size_t)N, dr, (REF->relu_forward(y, x, N), dotd(y, dy, N)));
    }
    pool_free();
}

static void gradcheck_lstm(void) {
    enum { T = 3, B = 2, C = 3, H = 4, G = 4 * H };
    float *x = frand(T * B * C, 1), *h0 = frand(B * H, 1), *c0 = frand(B * H, 1), *w_ih = frand(G * C, 0.8);
    float *w_hh = frand(G * H, 0.8), *b = frand(G, 0.5), *dh = frand(T * B * H, 1), *dc_T = frand(B * H, 1);
    float *h = fzero(T * B * H), *c = fzero(T * B * H), *g = fzero(T * B * G);
    float *scratch = scratch_new(T * B * G + 2 * B * H);
    float *dx = fzero(T * B * C), *dh0 = fzero(B * H), *dc0 = fzero(B * H), *dw_ih = fzero(G * C);
    float *dw_hh = fzero(G * H), *db = fzero(G);
    REF->lstm_forward(h, c, g, x, h0, c0, w_ih, w_hh, b, T, B, C, H);
    REF->lstm_backward(dx, dh0, dc0, dw_ih, dw_hh, db, scratch, dh, dc_T, h, c, g, x, h0, c0, w_ih, w_hh, T, B, C, H);
#define LOSS                                                                   \
    (REF->lstm_forward(h, c, g, x, h0, c0, w_ih, w_hh, b, T, B, C, H),         \
     dotd(h, dh, T * B * H) + dotd(c + (T - 1) * B * H, dc_T, B * H))
    GRAD_CHECK("reference lstm dx", x, (size_t)T * B * C, dx, LOSS);
    GRAD_CHECK("reference lstm dh0", h0, (size_t)B * H, dh0, LOSS);
    GRAD_CHECK("reference lstm dc0", c0, (size_t)B * H, dc0, LOSS);
    GRAD_CHECK("reference lstm dw_ih", w_ih, (size_t)G * C, dw_ih, LOSS);
    GRAD_CHECK("reference lstm dw_hh", w_hh, (size_t)G * H, dw_hh, LOSS);
    GRAD_CHECK("reference lstm db", b, (size_t)G, db, LOSS);
#undef LOSS
    pool_free();
}

static void gradcheck_attn_lstm(void) {
    enum { T = 5, B = 2, C = 3, H = 4, L = 2 }; /* T > L: slots both empty and filled */
    const size_t np = al_total(C, H), no = (size_t)T * B * H;
    float *pbuf = frand(np, 0.8), *pt[AL_N], *gbuf = fzero(np), *gt[AL_N];
    al_slice(pt, pbuf, C, H), al_slice(gt, gbuf, C, H);
    cdz_attn_lstm_params p = al_params(pt);
    cdz_attn_lstm_grads g = al_grads(gt);
    float *x = frand((size_t)T * B * C, 1), *dout = frand(no, 1), *o = fzero(no), *dx = fzero((size_t)T * B * C);
    float *abuf = fzero((size_t)T * B * cdz_attn_lstm_act_floats(C, H, L));
    cdz_attn_lstm_acts a;
    cdz_attn_lstm_acts_slice(&a, abuf, T, B, C, H, L);
    REF->attn_lstm_forward(o, &a, x, &p, T, B, C, H, L);
    size_t ns = cdz_attn_lstm_scratch_floats(T, B, C, H, L);
    REF->attn_lstm_backward(dx, &g, scratch_new(ns), fdup(dout, no), o, &a, x, &p, T, B, C, H, L);
#define LOSS (REF->attn_lstm_forward(o, &a, x, &p, T, B, C, H, L), dotd(o, dout, no))
    GRAD_CHECK("reference attn_lstm dx", x, (size_t)T * B * C, dx, LOSS);
    size_t n[AL_N];
    al_sizes(n, C, H);
    char name[64];
    for (int i = 0; i < AL_N; i++) {
        snprintf(name, sizeof name, "reference attn_lstm d%s", AL_NAMES[i]);
        GRAD_CHECK(name, pt[i], n[i], gt[i], LOSS);
    }
#undef LOSS
    pool_free();
}

static void gradcheck_attention(void) {
    enum { B = 2, T = 6, C = 8, NH = 2, D = C / NH };
    for (int R = 0; R <= 3; R += 3) { /* absolute, then relative with R = 3 < T (clipped distances) */
        const size_t nq = (size_t)B * T * 3 * C, ny = (size_t)B * T * C, ne = R ? (size_t)NH * R * D : 0;
        float *qkv = frand(nq, 1.5), *er = R ? frand(ne, 1.5) : NULL, *dy = frand(ny, 1);
        float *y = fzero(ny), *att = fzero((size_t)B * NH * T * T), *dqkv = fzero(nq), *der = R ? fzero(ne) : NULL;
        float *scratch = scratch_new(cdz_self_attention_scratch_floats(T, R));
        REF->self_attention_forward(y, att, scratch, qkv, er, B, T, C, NH, R);
        REF->self_attention_backward(dqkv, der, scratch, dy, att, qkv, er, B, T, C, NH, R);
#define LOSS (REF->self_attention_forward(y, att, scratch, qkv, er, B, T, C, NH, R), dotd(y, dy, ny))
        GRAD_CHECK(R ? "reference self_attention (relative) dqkv" : "reference self_attention (absolute) dqkv", qkv, nq,
                   dqkv, LOSS);
        if (R) GRAD_CHECK("reference self_attention der", er, ne, der, LOSS);
#undef LOSS
        pool_free();
    }
    enum { Tq = 3, Tk = 4 };
    static const uint8_t mask[B * Tk] = {1, 0, 1, 1, 0, 0, 0, 0}; /* a masked key; a fully masked sequence */
    const size_t nq = (size_t)B * Tq * C, nkv = (size_t)B * Tk * 2 * C;
    float *q = frand(nq, 1.5), *kv = frand(nkv, 1.5), *dy = frand(nq, 1), *y = fzero(nq);
    float *att = fzero((size_t)B * NH * Tq * Tk), *dq = fzero(nq), *dkv = fzero(nkv);
    REF->cross_attention_forward(y, att, q, kv, mask, B, Tq, Tk, C, NH);
    REF->cross_attention_backward(dq, dkv, scratch_new(cdz_cross_attention_scratch_floats(Tq, Tk)), dy, att, q, kv, B,
                                  Tq, Tk, C, NH);
#define LOSS (REF->cross_attention_forward(y, att, q, kv, mask, B, Tq, Tk, C, NH), dotd(y, dy, nq))
    GRAD_CHECK("reference cross_attention dq", q, nq, dq, LOSS);
    GRAD_CHECK("reference cross_attention dkv", kv, nkv, dkv, LOSS);
#undef LOSS
    pool_free();
}

/* ---- audio layers (issue 17) ---- */

static void conv_parity(int transpose, cdz_conv1d_shape sh, int with_bias) {
    const char *fw = transpose ? "conv_transpose1d_forward" : "conv1d_forward";
    const char *bw = transpose ? "conv_transpose1d_backward" : "conv1d_backward";
    int to = transpose ? cdz_conv_transpose1d_out_len(&sh) : cdz_conv1d_out_len(&sh);
    CHECK(to > 0, "%s: a valid shape", fw);
    if (to <= 0) return;
    size_t nx = (size_t)sh.B * sh.C * sh.T, ny = (size_t)sh.B * sh.OC * to;
    size_t nw = transpose ? (size_t)sh.C * (sh.OC / sh.groups) * sh.K : (size_t)sh.OC * (sh.C / sh.groups) * sh.K;
    size_t ns = transpose ? cdz_conv_transpose1d_scratch_floats(&sh) : cdz_conv1d_scratch_floats(&sh);
    float *x = frand(nx, 1), *w = frand(nw, 1), *b = frand(sh.OC, 1), *dy = frand(ny, 1);
    float *yc = fnan(ny), *yr = fnan(ny), *sc = scratch_new(ns), *sr = scratch_new(ns);
    const cdz_backend *be[2] = {CPU, REF};
    float *y[2] = {yc, yr}, *scr[2] = {sc, sr};
    for (int i = 0; i < 2; i++) {
        if (transpose) be[i]->conv_transpose1d_forward(y[i], scr[i], x, w, with_bias ? b : NULL, &sh);
        else be[i]->conv1d_forward(y[i], scr[i], x, w, with_bias ? b : NULL, &sh);
        check_guard(fw, be[i]->name, scr[i], ns);
    }
    /* sums of C/groups K products; TOL_SUM's argument holds for them */
    same(fw, "y", yc, yr, ny, TOL_SUM);
    float *dxc = frand(nx, 1), *dwc = frand(nw, 1), *dbc = frand(sh.OC, 1);
    float *dxr = fdup(dxc, nx), *dwr = fdup(dwc, nw), *dbr = fdup(dbc, sh.OC);
    float *dx[2] = {dxc, dxr}, *dw[2] = {dwc, dwr}, *db[2] = {dbc, dbr};
    for (int i = 0; i < 2; i++) {
        float *s = scratch_new(ns);
        if (transpose) be[i]->conv_transpose1d_backward(dx[i], dw[i], with_bias ? db[i] : NULL, s, dy, x, w, &sh);
        else be[i]->conv1d_backward(dx[i], dw[i], with_bias ? db[i] : NULL, s, dy, x, w, &sh);
        check_guard(bw, be[i]->name, s, ns);
    }
    /* weight gradients sum over B T_out products (up to 2 x 40 here) */
    same(bw, "dx", dxc, dxr, nx, TOL_SUM);
    same(bw, "dw", dwc, dwr, nw, TOL_SUM);
    same(bw, "db", dbc, dbr, sh.OC, TOL_SUM);
    pool_free();
}

static void test_audio_layers(void) {
    /* B, C, T, OC, K, stride, dilation, pad_left, pad_right, groups */
    conv_parity(0, (cdz_conv1d_shape){2, 4, 23, 6, 3, 2, 2, 2, 1, 2}, 1);
    conv_parity(0, (cdz_conv1d_shape){1, 3, 40, 5, 7, 1, 3, 18, 0, 1}, 0); /* causal, dilated */
    conv_parity(0, (cdz_conv1d_shape){2, 6, 17, 6, 5, 1, 1, 2, 2, 6}, 1);  /* depthwise */
    conv_parity(0, (cdz_conv1d_shape){1, 8, 64, 16, 16, 8, 1, 4, 4, 1}, 1); /* a downsampling block */
    conv_parity(1, (cdz_conv1d_shape){1, 16, 8, 8, 16, 8, 1, 4, 4, 1}, 1); /* and its transpose */
    conv_parity(1, (cdz_conv1d_shape){2, 4, 9, 6, 3, 3, 2, 1, 0, 2}, 0);
    conv_parity(1, (cdz_conv1d_shape){1, 2, 1, 3, 1, 1, 1, 0, 0, 1}, 1);  /* one sample, a 1x1 kernel */
    for (int m = 0; m < 3; m++) {
        enum { R = 3, T = 6, L = 4, Rt = 5, NY = R * (L + T + Rt) };
        float *x = frand(R * T, 1), *yc = fnan(NY), *yr = fnan(NY), *dy = frand(NY, 1);
        CPU->pad1d_forward(yc, x, R, T, L, Rt, (cdz_pad_mode)m);
        REF->pad1d_forward(yr, x, R, T, L, Rt, (cdz_pad_mode)m);
        same("pad1d_forward", "y", yc, yr, NY, TOL_EXACT);
        float *dxc = frand(R * T, 1), *dxr = fdup(dxc, R * T);
        CPU->pad1d_backward(dxc, dy, R, T, L, Rt, (cdz_pad_mode)m);
        REF->pad1d_backward(dxr, dy, R, T, L, Rt, (cdz_pad_mode)m);
        same("pad1d_backward", "dx", dxc, dxr, R * T, TOL_ULPS);
        pool_free();
    }
    {
        enum { B = 2, C = 5, T = 9, N = B * C * T };
        float *x = frand(N, 3), *dy = frand(N, 1), *alpha = frand(C, 1), *yc = fnan(N), *yr = fnan(N);
        for (int c = 0; c < C; c++) alpha[c] = 0.2f + fabsf(alpha[c]);
        CPU->elu_forward(yc, x, N, 1.0f);
        REF->elu_forward(yr, x, N, 1.0f);
        same("elu_forward", "y", yc, yr, N, TOL_ULPS);
        float *dxc = frand(N, 1), *dxr = fdup(dxc, N);
        CPU->elu_backward(dxc, dy, x, N, 1.0f);
        REF->elu_backward(dxr, dy, x, N, 1.0f);
        same("elu_backward", "dx", dxc, dxr, N, TOL_ULPS);
        CPU->snake_forward(yc, x, alpha, B, C, T);
        REF->snake_forward(yr, x, alpha, B, C, T);
        /* sinf against sin in double, then divided by alpha down to 0.2: a few ulps, times 5 */
        same("snake_forward", "y", yc, yr, N, 1e-5);
        float *dac = frand(C, 1), *dar = fdup(dac, C);
        dxr = fdup(dxc, N);
        CPU->snake_backward(dxc, dac, dy, x, alpha, B, C, T);
        REF->snake_backward(dxr, dar, dy, x, alpha, B, C, T);
        same("snake_backward", "dx", dxc, dxr, N, 1e-5);
        /* dalpha: 18 terms with 1 / alpha^2 up to 25 */
        same("snake_backward", "dalpha", dac, dar, C, 1e-4);
        pool_free();
    }
    {
        enum { O = 4, N = 9 };
        float *v = frand(O * N, 1), *g = frand(O, 2), *dw = frand(O * N, 1);
        float *wc = fnan(O * N), *wr = fnan(O * N), *nc = fnan(O), *nr = fnan(O);
        CPU->weight_norm_forward(wc, nc, v, g, O, N);
        REF->weight_norm_forward(wr, nr, v, g, O, N);
        same("weight_norm_forward", "w", wc, wr, O * N, TOL_ULPS);
        same("weight_norm_forward", "norm", nc, nr, O, TOL_ULPS);
        float *dvc = frand(O * N, 1), *dvr = fdup(dvc, O * N), *dgc = frand(O, 1), *dgr = fdup(dgc, O);
        CPU->weight_norm_backward(dvc, dgc, dw, v, g, nc, O, N);
        REF->weight_norm_backward(dvr, dgr, dw, v, g, nr, O, N);
        same("weight_norm_backward", "dv", dvc, dvr, O * N, TOL_ULPS);
        same("weight_norm_backward", "dg", dgc, dgr, O, TOL_ULPS);
        pool_free();
    }
    {
        /* residual VQ: the CPU's expanded distances by one matrix product against the reference's direct
         * sums pick the same codes (random data: no near ties), the same sums and gradients */
        enum { NV = 40, D = 6, K = 12, NQ = 3, USE = 2 };
        float *z = frand(NV * D, 1), *books = frand(NQ * K * D, 1);
        float *qc = fnan(NV * D), *qr = fnan(NV * D), *rc = fnan(USE * NV * D), *rr = fnan(USE * NV * D);
        float *sc = fnan(USE * NV * D), *sr = fnan(USE * NV * D), *scratch = fnan((int)(cdz_vq_scratch_floats(NV, K) + NV));
        int32_t cc[NV * NQ], cr[NV * NQ];
        CPU->rvq_forward(qc, cc, rc, sc, scratch, z, books, NV, D, K, NQ, USE);
        REF->rvq_forward(qr, cr, rr, sr, scratch, z, books, NV, D, K, NQ, USE);
        CHECK(memcmp(cc, cr, sizeof cc) == 0, "rvq_forward: the same codes (and -1 past the stages used)");
        same("rvq_forward", "q", qc, qr, NV * D, TOL_ULPS);
        same("rvq_forward", "residuals", rc, rr, USE * NV * D, TOL_ULPS);
        float *dq = frand(NV * D, 1), *dzc = frand(NV * D, 1), *dzr = fdup(dzc, NV * D);
        CPU->rvq_backward(dzc, dq, rc, sc, NV, D, USE, 0.25f);
        REF->rvq_backward(dzr, dq, rr, sr, NV, D, USE, 0.25f);
        same("rvq_backward", "dz", dzc, dzr, NV * D, TOL_ULPS);
        pool_free();
    }
}

/* The reference's audio-layer backward passes against central differences. */
static void gradcheck_audio_layers(void) {
    const cdz_conv1d_shape cs = {2, 4, 9, 6, 3, 2, 2, 2, 1, 2}, ts = {1, 4, 5, 6, 4, 2, 1, 1, 0, 2};
    for (int tr = 0; tr < 2; tr++) {
        const cdz_conv1d_shape *sh = tr ? &ts : &cs;
        int to = tr ? cdz_conv_transpose1d_out_len(sh) : cdz_conv1d_out_len(sh);
        size_t nx = (size_t)sh->B * sh->C * sh->T, ny = (size_t)sh->B * sh->OC * to;
        size_t nw = tr ? (size_t)sh->C * (sh->OC / sh->groups) * sh->K : (size_t)sh->OC * (sh->C / sh->groups) * sh->K;
        float *x = frand(nx, 1), *w = frand(nw, 1), *b = frand(sh->OC, 1), *dy = frand(ny, 1), *y = fzero(ny);
        float *dx = fzero(nx), *dw = fzero(nw), *db = fzero(sh->OC);
        if (tr) REF->conv_transpose1d_backward(dx, dw, db, NULL, dy, x, w, sh);
        else REF->conv1d_backward(dx, dw, db, NULL, dy, x, w, sh);
#define LOSS                                                                                                \
    ((tr ? REF->conv_transpose1d_forward(y, NULL, x, w, b, sh) : REF->conv1d_forward(y, NULL, x, w, b, sh)), \
     dotd(y, dy, ny))
        GRAD_CHECK(tr ? "reference conv_transpose1d dx" : "reference conv1d dx", x, nx, dx, LOSS);
        GRAD_CHECK(tr ? "reference conv_transpose1d dw" : "reference conv1d dw", w, nw, dw, LOSS);
        GRAD_CHECK(tr ? "reference conv_transpose1d db" : "reference conv1d db", b, (size_t)sh->OC, db, LOSS);
#undef LOSS
        pool_free();
    }
    for (int m = 0; m < 3; m++) {
        enum { R = 2, T = 4, L = 3, Rt = 3, NY = R * (L + T + Rt) };
        float *x = frand(R * T, 1), *dy = frand(NY, 1), *y = fzero(NY), *dx = fzero(R * T);
        REF->pad1d_backward(dx, dy, R, T, L, Rt, (cdz_pad_mode)m);
        GRAD_CHECK("reference pad1d dx", x, (size_t)R * T, dx, (REF->pad1d_forward(y, x, R, T, L, Rt, (cdz_pad_mode)m), dotd(y, dy, NY)));
        pool_free();
    }
    {
        enum { B = 1, C = 3, T = 6, N = B * C * T };
        float *x = frand(N, 1), *dy = frand(N, 1), *alpha = frand(C, 0.3), *y = fzero(N), *dx = fzero(N), *da = fzero(C);
        for (int c = 0; c < C; c++) alpha[c] += 1.0f;
        for (int i = 0; i < N; i++) x[i] += x[i] < 0 ? -0.05f : 0.05f;
        REF->elu_backward(dx, dy, x, N, 0.7f);
        GRAD_CHECK("reference elu dx", x, (size_t)N, dx, (REF->elu_forward(y, x, N, 0.7f), dotd(y, dy, N)));
        memset(dx, 0, N * sizeof *dx);
        REF->snake_backward(dx, da, dy, x, alpha, B, C, T);
        GRAD_CHECK("reference snake dx", x, (size_t)N, dx, (REF->snake_forward(y, x, alpha, B, C, T), dotd(y, dy, N)));
        GRAD_CHECK("reference snake dalpha", alpha, (size_t)C, da, (REF->snake_forward(y, x, alpha, B, C, T), dotd(y, dy, N)));
        pool_free();
    }
    {
        enum { O = 3, N = 4 };
        float *v = frand(O * N, 1), *g = frand(O, 1), *dw = frand(O * N, 1), *w = fzero(O * N), *nrm = fzero(O);
        float *dv = fzero(O * N), *dg = fzero(O);
        REF->weight_norm_forward(w, nrm, v, g, O, N);
        REF->weight_norm_backward(dv, dg, dw, v, g, nrm, O, N);
        GRAD_CHECK("reference weight_norm dv", v, (size_t)O * N, dv, (REF->weight_norm_forward(w, nrm, v, g, O, N), dotd(w, dw, O * N)));
        GRAD_CHECK("reference weight_norm dg", g, (size_t)O, dg, (REF->weight_norm_forward(w, nrm, v, g, O, N), dotd(w, dw, O * N)));
        pool_free();
    }
}

int main(void) {
    cdz_rng_seed(&rng, 2026);
    CPU = cdz_backend_find("cpu");
    REF = cdz_backend_find("reference");
    test_registry();
    if (!CPU || !REF) return test_summary("test_backend");
    test_linear();
    test_embedding();
    test_softmax_xent();
    test_lstm();
    test_lstm_cell();
    test_lstm_step();
    test_dropout();
    test_attn_lstm();
    test_optim();
    test_layernorm();
    test_gelu_relu();
    test_self_attention();
    test_cross_attention();
    test_audio_layers();
    gradcheck_layers();
    gradcheck_audio_layers();
    gradcheck_lstm();
    gradcheck_attn_lstm();
    gradcheck_attention();
    printf("worst difference, cpu against reference (|cpu - ref| / max(1, |ref|)), by pass:\n");
    for (int i = 0; i < nworst; i++)
        printf("  %-26s %.3g  (tolerance %.3g)\n", worsts[i].pass, worsts[i].worst, worsts[i].tol);
    return test_summary("test_backend");
}

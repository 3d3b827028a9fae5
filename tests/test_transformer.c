/* Transformer layers: finite-difference gradient checks (loss = sum(out * random dout)) for layer norm,
 * GELU, ReLU, causal self-attention (absolute and relative, T below, at and above R, T = 1, and more
 * steps than one block of rows) and cross-attention with a key mask; known values; the forward passes
 * against plain O(T^2 D) computations written directly from the formulas; the causal mask's zeros;
 * and the cached step function against the full forward pass at every position. */
#include <math.h>

#include "test.h"

static uint64_t rng = 7;
static float frand(void) { /* uniform in [-1, 1) */
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}
static void fill(float *a, size_t n) {
    for (size_t i = 0; i < n; i++) a[i] = frand();
}
static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
static float *falloc(size_t n) { /* exact sizes, so that AddressSanitizer sees any overrun */
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) abort();
    return p;
}
static double max_diff(const float *a, const double *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]));
    return worst;
}

/* ---- layer norm, GELU, ReLU ---- */

enum { LN = 4, LC = 9 };

static double layernorm_loss(const float *x, const float *w, const float *b, const float *dy) {
    float y[LN * LC], mean[LN], rstd[LN];
    cdz_layernorm_forward(y, mean, rstd, x, w, b, LN, LC);
    return dot(y, dy, LN * LC);
}

static void test_layernorm(void) {
    float x[LN * LC], w[LC], b[LC], dy[LN * LC], y[LN * LC], mean[LN], rstd[LN];
    float dx[LN * LC] = {0}, dw[LC] = {0}, db[LC] = {0};
    fill(x, LN * LC), fill(w, LC), fill(b, LC), fill(dy, LN * LC);
    for (int i = 0; i < LC; i++) x[i] = 5 + 0.1f * x[i]; /* a row with a large mean and a small spread */
    cdz_layernorm_forward(y, mean, rstd, x, w, b, LN, LC);
    cdz_layernorm_backward(dx, dw, db, dy, x, mean, rstd, w, LN, LC);
    GRAD_CHECK("layernorm dx", x + LC, (size_t)(LN - 1) * LC, dx + LC, layernorm_loss(x, w, b, dy));
    GRAD_CHECK("layernorm dw", w, (size_t)LC, dw, layernorm_loss(x, w, b, dy));
    GRAD_CHECK("layernorm db", b, (size_t)LC, db, layernorm_loss(x, w, b, dy));
    /* Row 0's spread is 0.1: its rstd is ~10, so the 1e-2 step above is too coarse; check it with a
     * finer step in double against the analytic value instead. */
    {
        double worst = 0;
        for (int i = 0; i < LC; i++) {
            float keep = x[i], h = 1e-3f;
            x[i] = keep + h;
            double up = layernorm_loss(x, w, b, dy);
            x[i] = keep - h;
            double down = layernorm_loss(x, w, b, dy);
            x[i] = keep;
            double num = (up - down) / (2 * h);
            worst = fmax(worst, fabs(num - dx[i]) / fmax(1.0, fabs(num)));
        }
        /* a 1e-3 step on values near 5 carries float rounding of about 5e-7 / 2e-3 * |dy w| rstd */
        CHECK(worst < 1e-2, "layernorm dx, large-mean row: worst relative gradient error %.3g", worst);
    }
    /* A constant row: mean = the value, variance 0, rstd = 1/sqrt(eps), y = b. */
    float cx[LC], cy[LC], cm, cr;
    for (int i = 0; i < LC; i++) cx[i] = 3.0f;
    cdz_layernorm_forward(cy, &cm, &cr, cx, w, b, 1, LC);
    CHECK_NEAR(cm, 3.0, 0);
    CHECK_NEAR(cr, 1.0 / sqrt(1e-5), 1e-1);
    CHECK(memcmp(cy, b, sizeof cy) == 0, "a constant row normalises to the bias");
    /* Unit weights, zero bias: each row has mean 0 and variance var / (var + eps). */
    float one[LC], zero[LC] = {0};
    for (int i = 0; i < LC; i++) one[i] = 1;
    cdz_layernorm_forward(y, mean, rstd, x, one, zero, LN, LC);
    double m = 0, v = 0;
    for (int i = 0; i < LC; i++) m += y[LC + i];
    for (int i = 0; i < LC; i++) v += (y[LC + i] - m / LC) * (y[LC + i] - m / LC);
    CHECK_NEAR(m / LC, 0, 1e-6);
    CHECK_NEAR(v / LC, 1, 1e-3);
    /* Backward accumulates. */
    float db2[LC];
    memcpy(db2, db, sizeof db);
    cdz_layernorm_backward(dx, dw, db2, dy, x, mean, rstd, w, LN, LC);
    CHECK_NEAR(db2[2], 2 * db[2], 1e-6);
}

enum { AN = 40 };

static double gelu_loss(const float *x, const float *dy) {
    float y[AN];
    cdz_gelu_forward(y, x, AN);
    return dot(y, dy, AN);
}
static double relu_loss(const float *x, const float *dy) {
    float y[AN];
    cdz_relu_forward(y, x, AN);
    return dot(y, dy, AN);
}

static void test_activations(void) {
    float x[AN], dy[AN], dx[AN] = {0}, y[AN];
    fill(x, AN), fill(dy, AN);
    for (int i = 0; i < AN; i++) x[i] *= 4; /* both tails and the middle */
    cdz_gelu_backward(dx, dy, x, AN);
    GRAD_CHECK("gelu dx", x, (size_t)AN, dx, gelu_loss(x, dy));
    /* PyTorch: F.gelu(tensor([1., -1., 3.])) = 0.8413447, -0.1586553, 2.9959502 */
    float kx[3] = {1, -1, 3}, ky[3];
    cdz_gelu_forward(ky, kx, 3);
    CHECK_NEAR(ky[0], 0.8413447460685429, 1e-6);
    CHECK_NEAR(ky[1], -0.15865525393145707, 1e-6);
    CHECK_NEAR(ky[2], 2.9959502, 1e-6);
    cdz_gelu_forward(kx, kx, 3); /* in place */
    CHECK(memcmp(kx, ky, sizeof ky) == 0, "gelu in place");

    for (int i = 0; i < AN; i++) /* away from the kink at 0, where differences straddle it */
        if (fabsf(x[i]) < 0.05f) x[i] = 0.5f;
    memset(dx, 0, sizeof dx);
    cdz_relu_backward(dx, dy, x, AN);
    GRAD_CHECK("relu dx", x, (size_t)AN, dx, relu_loss(x, dy));
    cdz_relu_forward(y, x, AN);
    int ok = 1;
    for (int i = 0; i < AN; i++) ok &= y[i] == (x[i] > 0 ? x[i] : 0);
    CHECK(ok, "relu values");
}

/* ---- self-attention ---- */

/* The layer written plainly from its formula, in double: S_rel as a direct dot product per (i, j)
 * with the clipped distance, no skew. */
static void naive_self_attention(double *y, double *att, const float *qkv, const float *er, int B, int T, int C, int NH,
                                 int R) {
    int D = C / NH;
    double *logit = malloc((size_t)T * sizeof *logit);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < T; i++) {
                const float *q = qkv + ((size_t)b * T + i) * 3 * C + h * D;
                double max = -INFINITY, sum = 0;
                for (int j = 0; j <= i; j++) {
                    const float *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * D;
                    double s = 0;
                    for (int d = 0; d < D; d++) s += (double)q[d] * k[d];
                    if (er) {
                        int dist = i - j, row = dist > R - 1 ? 0 : R - 1 - dist;
                        for (int d = 0; d < D; d++) s += (double)q[d] * er[((size_t)h * R + row) * D + d];
                    }
                    logit[j] = s / sqrt(D);
                    if (logit[j] > max) max = logit[j];
                }
                for (int j = 0; j <= i; j++) sum += logit[j] = exp(logit[j] - max);
                double *a = att + (((size_t)b * NH + h) * T + i) * T;
                for (int j = 0; j < T; j++) a[j] = j <= i ? logit[j] / sum : 0;
                for (int d = 0; d < D; d++) {
                    double acc = 0;
                    for (int j = 0; j <= i; j++) acc += a[j] * qkv[((size_t)b * T + j) * 3 * C + 2 * C + h * D + d];
                    y[((size_t)b * T + i) * C + h * D + d] = acc;
                }
            }
    free(logit);
}

typedef struct sa_case {
    int B, T, C, NH, R; /* R = 0: absolute */
    float *qkv, *er, *dy, *y, *att, *scratch;
} sa_case;

static double sa_loss(sa_case *k) {
    cdz_self_attention_forward(k->y, k->att, k->scratch, k->qkv, k->R ? k->er : NULL, k->B, k->T, k->C, k->NH, k->R);
    return dot(k->y, k->dy, (size_t)k->B * k->T * k->C);
}

static void test_self_attention_case(int B, int T, int C, int NH, int R, int grad_check) {
    sa_case k = {B, T, C, NH, R, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t nqkv = (size_t)B * T * 3 * C, ny = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    size_t ner = (size_t)NH * (R ? R : 1) * (C / NH);
    k.qkv = falloc(nqkv), k.er = falloc(ner), k.dy = falloc(ny), k.y = falloc(ny), k.att = falloc(natt);
    k.scratch = falloc(cdz_self_attention_scratch_floats(T, R));
    float *dqkv = falloc(nqkv), *der = falloc(ner);
    double *ny_ = malloc(ny * sizeof *ny_), *natt_ = malloc(natt * sizeof *natt_);
    fill(k.qkv, nqkv), fill(k.er, ner), fill(k.dy, ny);
    char label[96];
    snprintf(label, sizeof label, "self-attention B=%d T=%d C=%d NH=%d %s R=%d", B, T, C, NH, R ? "relative" : "absolute", R);

    sa_loss(&k);
    naive_self_attention(ny_, natt_, k.qkv, R ? k.er : NULL, B, T, C, NH, R);
    double dyv = max_diff(k.y, ny_, ny), datt = max_diff(k.att, natt_, natt);
    CHECK(dyv < 1e-5, "%s: y differs from the direct computation by %.3g", label, dyv);
    CHECK(datt < 1e-6, "%s: att differs from the direct computation by %.3g", label, datt);
    int masked_zero = 1;
    double worst_sum = 0;
    for (int bh = 0; bh < B * NH; bh++)
        for (int i = 0; i < T; i++) {
            const float *a = k.att + ((size_t)bh * T + i) * T;
            double s = 0;
            for (int j = 0; j < T; j++) {
                if (j > i) masked_zero &= a[j] == 0.0f;
                s += a[j];
            }
            worst_sum = fmax(worst_sum, fabs(s - 1));
        }
    CHECK(masked_zero, "%s: attention to later steps is not exactly 0", label);
    CHECK(worst_sum < 1e-6, "%s: attention rows sum to 1 within %.3g", label, worst_sum);

    if (grad_check) {
        cdz_self_attention_backward(dqkv, R ? der : NULL, k.scratch, k.dy, k.att, k.qkv, R ? k.er : NULL, B, T, C, NH, R);
        char name[128];
        snprintf(name, sizeof name, "%s: dqkv", label);
        GRAD_CHECK(name, k.qkv, nqkv, dqkv, sa_loss(&k));
        if (R) {
            snprintf(name, sizeof name, "%s: der", label);
            GRAD_CHECK(name, k.er, ner, der, sa_loss(&k));
        }
    }
    free(k.qkv), free(k.er), free(k.dy), free(k.y), free(k.att), free(k.scratch), free(dqkv), free(der);
    free(ny_), free(natt_);
}

static void test_self_attention(void) {
    test_self_attention_case(2, 5, 8, 2, 0, 1);  /* absolute */
    test_self_attention_case(2, 5, 8, 2, 8, 1);  /* relative, T < R */
    test_self_attention_case(2, 5, 8, 2, 5, 1);  /* T = R */
    test_self_attention_case(1, 7, 8, 2, 3, 1);  /* T > R: distances clipped */
    test_self_attention_case(2, 1, 8, 2, 0, 1);  /* one step */
    test_self_attention_case(2, 1, 8, 2, 4, 1);
    test_self_attention_case(1, 67, 4, 2, 10, 1); /* more steps than one block of rows, T > R */
    test_self_attention_case(1, 67, 4, 2, 0, 1);
    test_self_attention_case(2, 150, 32, 4, 100, 0); /* several blocks, forward only */
    test_self_attention_case(1, 130, 16, 2, 200, 0);

    /* One step attends to itself only: y = its v, exactly. */
    enum { C1 = 8 };
    float qkv[3 * C1], y[C1], att[2];
    fill(qkv, 3 * C1);
    cdz_self_attention_forward(y, att, NULL, qkv, NULL, 1, 1, C1, 2, 0);
    CHECK(memcmp(y, qkv + 2 * C1, sizeof y) == 0, "one key: y = v");
    CHECK(att[0] == 1.0f && att[1] == 1.0f, "one key: probability 1");

    /* Backward accumulates into dqkv and der. */
    enum { T2 = 4, C2 = 4, R2 = 3 };
    float q2[T2 * 3 * C2], er2[2 * R2 * 2], dy2[T2 * C2], y2[T2 * C2], a2[2 * T2 * T2], sc[T2 * (T2 + R2)];
    float d1[T2 * 3 * C2] = {0}, d2[T2 * 3 * C2] = {0}, e1[2 * R2 * 2] = {0}, e2[2 * R2 * 2] = {0};
    CHECK(cdz_self_attention_scratch_floats(T2, R2) <= sizeof sc / sizeof sc[0], "scratch size");
    fill(q2, sizeof q2 / 4), fill(er2, sizeof er2 / 4), fill(dy2, sizeof dy2 / 4);
    cdz_self_attention_forward(y2, a2, sc, q2, er2, 1, T2, C2, 2, R2);
    cdz_self_attention_backward(d1, e1, sc, dy2, a2, q2, er2, 1, T2, C2, 2, R2);
    memcpy(d2, d1, sizeof d1), memcpy(e2, e1, sizeof e1);
    cdz_self_attention_backward(d2, e2, sc, dy2, a2, q2, er2, 1, T2, C2, 2, R2);
    CHECK_NEAR(d2[5], 2 * d1[5], 1e-6);
    CHECK_NEAR(e2[1], 2 * e1[1], 1e-6);
}

/* ---- the cached step ---- */

static void test_step_case(int B, int T, int C, int NH, int R) {
    int D = C / NH, S_max = T + 3;
    size_t nqkv = (size_t)B * T * 3 * C, ny = (size_t)B * T * C, ner = (size_t)NH * (R ? R : 1) * D;
    size_t ncache = (size_t)B * NH * S_max * D;
    float *qkv = falloc(nqkv), *er = falloc(ner), *y = falloc(ny), *att = falloc((size_t)B * NH * T * T);
    float *scratch = falloc(cdz_self_attention_scratch_floats(T, R));
    float *kc = falloc(ncache), *vc = falloc(ncache), *row = falloc((size_t)B * 3 * C), *ys = falloc((size_t)B * C);
    float *sscratch = falloc(cdz_self_attention_step_scratch_floats(S_max, R));
    fill(qkv, nqkv), fill(er, ner);
    const float *e = R ? er : NULL;
    float *er_t = falloc(ner); /* the step reads the embeddings transposed */
    if (R) cdz_self_attention_er_transpose(er_t, er, NH, R, D);
    cdz_self_attention_forward(y, att, scratch, qkv, e, B, T, C, NH, R);
    double worst = 0;
    for (int pos = 0; pos < T; pos++) {
        for (int b = 0; b < B; b++)
            memcpy(row + (size_t)b * 3 * C, qkv + ((size_t)b * T + pos) * 3 * C, (size_t)3 * C * sizeof *row);
        cdz_self_attention_step(ys, kc, vc, sscratch, row, R ? er_t : NULL, pos, B, C, NH, R, S_max);
        for (int b = 0; b < B; b++)
            for (int c = 0; c < C; c++)
                worst = fmax(worst, fabs(ys[(size_t)b * C + c] - y[((size_t)b * T + pos) * C + c]));
    }
    /* the same sums in another order (matrix products of other shapes): float rounding only */
    CHECK(worst < 1e-5, "step B=%d T=%d NH=%d R=%d: differs from the full forward pass by %.3g", B, T, NH, R, worst);
    int cached = 1;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++)
                for (int d = 0; d < D; d++) {
                    const float *src = qkv + ((size_t)b * T + t) * 3 * C + h * D + d;
                    size_t head = ((size_t)b * NH + h) * S_max * D; /* keys (D, S_max), values (S_max, D) */
                    cached &= kc[head + (size_t)d * S_max + t] == src[C] && vc[head + (size_t)t * D + d] == src[2 * C];
                }
    CHECK(cached, "step B=%d T=%d NH=%d R=%d: the cache holds k and v at their positions", B, T, NH, R);
    free(qkv), free(er), free(er_t), free(y), free(att), free(scratch), free(kc), free(vc), free(row), free(ys), free(sscratch);
}

static void test_step(void) {
    test_step_case(2, 6, 8, 2, 0);   /* absolute */
    test_step_case(2, 6, 8, 2, 9);   /* relative, T < R */
    test_step_case(2, 7, 8, 2, 3);   /* T > R */
    test_step_case(1, 70, 16, 4, 20); /* beyond one block of rows in the full pass */
}

/* ---- cross-attention ---- */

static void naive_cross_attention(double *y, double *att, const float *q, const float *kv, const uint8_t *mask, int B,
                                  int Tq, int Tk, int C, int NH) {
    int D = C / NH;
    double *logit = malloc((size_t)Tk * sizeof *logit);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < Tq; i++) {
                double max = -INFINITY, sum = 0;
                for (int j = 0; j < Tk; j++) {
                    double s = 0;
                    for (int d = 0; d < D; d++)
                        s += (double)q[((size_t)b * Tq + i) * C + h * D + d] * kv[((size_t)b * Tk + j) * 2 * C + h * D + d];
                    logit[j] = s / sqrt(D);
                    if ((!mask || mask[b * Tk + j]) && logit[j] > max) max = logit[j];
                }
                for (int j = 0; j < Tk; j++) sum += logit[j] = !mask || mask[b * Tk + j] ? exp(logit[j] - max) : 0;
                double *a = att + (((size_t)b * NH + h) * Tq + i) * Tk;
                for (int j = 0; j < Tk; j++) a[j] = sum > 0 ? logit[j] / sum : 0;
                for (int d = 0; d < D; d++) {
                    double acc = 0;
                    for (int j = 0; j < Tk; j++) acc += a[j] * kv[((size_t)b * Tk + j) * 2 * C + C + h * D + d];
                    y[((size_t)b * Tq + i) * C + h * D + d] = acc;
                }
            }
    free(logit);
}

typedef struct ca_case {
    int B, Tq, Tk, C, NH;
    float *q, *kv, *dy, *y, *att;
    const uint8_t *mask;
} ca_case;

static double ca_loss(ca_case *k) {
    cdz_cross_attention_forward(k->y, k->att, k->q, k->kv, k->mask, k->B, k->Tq, k->Tk, k->C, k->NH);
    return dot(k->y, k->dy, (size_t)k->B * k->Tq * k->C);
}

static void test_cross_case(int B, int Tq, int Tk, int C, int NH, const uint8_t *mask) {
    ca_case k = {B, Tq, Tk, C, NH, NULL, NULL, NULL, NULL, NULL, mask};
    size_t nq = (size_t)B * Tq * C, nkv = (size_t)B * Tk * 2 * C, natt = (size_t)B * NH * Tq * Tk;
    k.q = falloc(nq), k.kv = falloc(nkv), k.dy = falloc(nq), k.y = falloc(nq), k.att = falloc(natt);
    float *dq = falloc(nq), *dkv = falloc(nkv), *scratch = falloc(cdz_cross_attention_scratch_floats(Tq, Tk));
    double *ny = malloc(nq * sizeof *ny), *natt_ = malloc(natt * sizeof *natt_);
    fill(k.q, nq), fill(k.kv, nkv), fill(k.dy, nq);
    char label[96];
    snprintf(label, sizeof label, "cross-attention B=%d Tq=%d Tk=%d%s", B, Tq, Tk, mask ? " masked" : "");
    ca_loss(&k);
    naive_cross_attention(ny, natt_, k.q, k.kv, mask, B, Tq, Tk, C, NH);
    double dyv = max_diff(k.y, ny, nq), datt = max_diff(k.att, natt_, natt);
    CHECK(dyv < 1e-5, "%s: y differs from the direct computation by %.3g", label, dyv);
    CHECK(datt < 1e-6, "%s: att differs from the direct computation by %.3g", label, datt);
    if (mask) {
        int zero = 1;
        for (int b = 0; b < B; b++)
            for (int r = 0; r < NH * Tq; r++)
                for (int j = 0; j < Tk; j++)
                    if (!mask[b * Tk + j]) zero &= k.att[((size_t)b * NH * Tq + r) * Tk + j] == 0.0f;
        CHECK(zero, "%s: masked keys get probability exactly 0", label);
    }
    cdz_cross_attention_backward(dq, dkv, scratch, k.dy, k.att, k.q, k.kv, B, Tq, Tk, C, NH);
    char name[128];
    snprintf(name, sizeof name, "%s: dq", label);
    GRAD_CHECK(name, k.q, nq, dq, ca_loss(&k));
    snprintf(name, sizeof name, "%s: dkv", label);
    GRAD_CHECK(name, k.kv, nkv, dkv, ca_loss(&k));
    if (mask) {
        int zero = 1;
        for (int b = 0; b < B; b++)
            for (int j = 0; j < Tk; j++)
                for (int c = 0; c < 2 * C && !mask[b * Tk + j]; c++) zero &= dkv[((size_t)b * Tk + j) * 2 * C + c] == 0.0f;
        CHECK(zero, "%s: masked keys get no gradient", label);
    }
    free(k.q), free(k.kv), free(k.dy), free(k.y), free(k.att), free(dq), free(dkv), free(scratch), free(ny), free(natt_);
}

static void test_cross_attention(void) {
    static const uint8_t mask[2 * 6] = {1, 1, 0, 1, 0, 1, /* */ 1, 1, 1, 1, 1, 0};
    test_cross_case(2, 4, 6, 8, 2, mask);
    test_cross_case(2, 4, 6, 8, 2, NULL);
    static uint8_t mask_long[2 * 5] = {0, 1, 1, 0, 1, /* every key padded: */ 0, 0, 0, 0, 0};
    test_cross_case(2, 67, 5, 4, 2, mask_long); /* more queries than one block of rows */

    /* One kept key: y = its v, whatever the query. */
    enum { C1 = 8, TK = 3 };
    float q[C1], kv[TK * 2 * C1], y[C1], att[2 * TK];
    static const uint8_t one[TK] = {0, 1, 0};
    fill(q, C1), fill(kv, TK * 2 * C1);
    cdz_cross_attention_forward(y, att, q, kv, one, 1, 1, TK, C1, 2);
    CHECK(memcmp(y, kv + 2 * C1 + C1, sizeof y) == 0, "cross-attention with one kept key: y = its v");
}

int main(void) {
    test_layernorm();
    test_activations();
    test_self_attention();
    test_step();
    test_cross_attention();
    return test_summary("test_transformer");
}

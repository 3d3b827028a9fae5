/* Neural-network layers: finite-difference gradient checks (loss = sum(out * random dout), as STYLE.md
 * asks) for linear, embedding and softmax cross-entropy, and known values. */
#include <math.h>

#include "test.h"

static uint64_t rng = 42;
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

enum { N = 5, C = 7, OC = 4, V = 6 };

static double linear_loss(const float *x, const float *w, const float *b, const float *dy) {
    float y[N * OC];
    cdz_linear_forward(y, x, w, b, N, C, OC);
    return dot(y, dy, N * OC);
}

static void test_linear(void) {
    float x[N * C], w[OC * C], b[OC], dy[N * OC], dx[N * C] = {0}, dw[OC * C] = {0}, db[OC] = {0};
    fill(x, N * C), fill(w, OC * C), fill(b, OC), fill(dy, N * OC);
    cdz_linear_backward(dx, dw, db, dy, x, w, N, C, OC);
    GRAD_CHECK("linear dx", x, (size_t)N * C, dx, linear_loss(x, w, b, dy));
    GRAD_CHECK("linear dw", w, (size_t)OC * C, dw, linear_loss(x, w, b, dy));
    GRAD_CHECK("linear db", b, (size_t)OC, db, linear_loss(x, w, b, dy));
    /* A known product: identity weights copy x into y (plus bias). */
    float id[C * C] = {0}, y[N * C];
    for (int i = 0; i < C; i++) id[i * C + i] = 1;
    cdz_linear_forward(y, x, id, NULL, N, C, C);
    CHECK(memcmp(y, x, sizeof y) == 0, "identity weights");
    /* Backward accumulates. */
    float dw2[OC * C];
    memcpy(dw2, dw, sizeof dw);
    cdz_linear_backward(NULL, dw2, NULL, dy, x, w, N, C, OC);
    CHECK_NEAR(dw2[3], 2 * dw[3], 1e-5);
    printf("matrix products: %s\n", cdz_nn_backend());
}

static double embed_loss(const uint16_t *tok, const float *table, const float *dy) {
    float y[N * C];
    cdz_embedding_forward(y, tok, table, N, C);
    return dot(y, dy, N * C);
}

static void test_embedding(void) {
    uint16_t tok[N] = {1, 3, 1, 0, 5};
    float table[V * C], dy[N * C], dt[V * C] = {0};
    fill(table, V * C), fill(dy, N * C);
    cdz_embedding_backward(dt, dy, tok, N, C);
    GRAD_CHECK("embedding dtable", table, (size_t)V * C, dt, embed_loss(tok, table, dy));
    CHECK(dt[2 * C] == 0, "an unused row gets no gradient");
}

static double xent_loss(const float *logits, const uint16_t *t) {
    float p[N * V];
    return cdz_softmax_xent_forward(p, logits, t, N, V);
}

static double xent_loss_t(const float *logits, const uint16_t *t) {
    float p[N * V];
    return cdz_softmax_xent_forward(p, logits, t, N, V);
}

static void test_softmax_xent(void) {
    uint16_t t[N] = {0, 5, 2, 2, 1};
    float logits[N * V], p[N * V], d[N * V] = {0};
    fill(logits, N * V);
    for (int i = 0; i < N * V; i++) logits[i] *= 3;
    cdz_softmax_xent_forward(p, logits, t, N, V);
    cdz_softmax_xent_backward(d, p, t, N, V);
    GRAD_CHECK("softmax cross-entropy dlogits", logits, (size_t)N * V, d, xent_loss(logits, t));
    float sum = 0;
    for (int v = 0; v < V; v++) sum += p[v];
    CHECK_NEAR(sum, 1.0, 1e-6);
    float flat[N * V] = {0};
    CHECK_NEAR(cdz_softmax_xent_forward(p, flat, t, N, V), log(V), 1e-6); /* uniform: log V */
    float big[N * V];
    for (int i = 0; i < N * V; i++) big[i] = 1e4f * (float)(i % 3); /* no overflow with huge logits */
    CHECK(isfinite(cdz_softmax_xent_forward(p, big, t, N, V)), "huge logits");
}

enum { T = 3, LB = 2, LC = 3, LH = 4 };

typedef struct lstm_case {
    float x[T * LB * LC], h0[LB * LH], c0[LB * LH], wih[4 * LH * LC], whh[4 * LH * LH], b[4 * LH];
    float dh[T * LB * LH], dcT[LB * LH];
} lstm_case;

/* loss = sum(h * dh) + sum(c_T * dc_T) */
static double lstm_loss(const lstm_case *k) {
    float h[T * LB * LH], c[T * LB * LH], g[T * LB * 4 * LH];
    cdz_lstm_forward(h, c, g, k->x, k->h0, k->c0, k->wih, k->whh, k->b, T, LB, LC, LH);
    return dot(h, k->dh, T * LB * LH) + dot(c + (T - 1) * LB * LH, k->dcT, LB * LH);
}

static void test_lstm(void) {
    static lstm_case k;
    fill(k.x, sizeof k.x / 4), fill(k.h0, sizeof k.h0 / 4), fill(k.c0, sizeof k.c0 / 4);
    fill(k.wih, sizeof k.wih / 4), fill(k.whh, sizeof k.whh / 4), fill(k.b, sizeof k.b / 4);
    fill(k.dh, sizeof k.dh / 4), fill(k.dcT, sizeof k.dcT / 4);
    float h[T * LB * LH], c[T * LB * LH], g[T * LB * 4 * LH], scratch[T * LB * 4 * LH + 2 * LB * LH];
    float dx[T * LB * LC] = {0}, dh0[LB * LH] = {0}, dc0[LB * LH] = {0}, dwih[4 * LH * LC] = {0},
          dwhh[4 * LH * LH] = {0}, db[4 * LH] = {0};
    cdz_lstm_forward(h, c, g, k.x, k.h0, k.c0, k.wih, k.whh, k.b, T, LB, LC, LH);
    cdz_lstm_backward(dx, dh0, dc0, dwih, dwhh, db, scratch, k.dh, k.dcT, h, c, g, k.x, k.h0, k.c0, k.wih, k.whh, T, LB,
                      LC, LH);
    GRAD_CHECK("lstm dx", k.x, sizeof k.x / 4, dx, lstm_loss(&k));
    GRAD_CHECK("lstm dh0", k.h0, sizeof k.h0 / 4, dh0, lstm_loss(&k));
    GRAD_CHECK("lstm dc0", k.c0, sizeof k.c0 / 4, dc0, lstm_loss(&k));
    GRAD_CHECK("lstm dw_ih", k.wih, sizeof k.wih / 4, dwih, lstm_loss(&k));
    GRAD_CHECK("lstm dw_hh", k.whh, sizeof k.whh / 4, dwhh, lstm_loss(&k));
    GRAD_CHECK("lstm db", k.b, sizeof k.b / 4, db, lstm_loss(&k));
    /* A known value: zero weights and bias give gates of 1/2 and g = 0, so c_t = c_{t-1} / 2. */
    float zc[LB * LH];
    for (int i = 0; i < LB * LH; i++) zc[i] = 1.0f;
    static float zw[4 * LH * LH], zx[4 * LH * LC];
    cdz_lstm_forward(h, c, g, k.x, NULL, zc, zx, zw, NULL, T, LB, LC, LH);
    CHECK_NEAR(c[(T - 1) * LB * LH], 0.125, 1e-7);
    CHECK_NEAR(h[0], 0.5 * tanh(0.5), 1e-6);
}

/* The attention-wrapped LSTM layer on a tiny shape with T > L, so that steps read both empty slots
 * and real outputs. Every parameter, in one buffer sliced like a model's. */
enum { AT = 6, AB = 2, AC = 3, AH = 4, AL = 3 };
typedef struct attn_case {
    float params[AC * (AC + AH) + AC + 4 * AH * AC + 4 * AH * AH + 4 * AH + AH * AH + AH * 2 * AH + AH + AH +
                 AH * 2 * AH + AH];
    float x[AT * AB * AC], dout[AT * AB * AH];
} attn_case;

static void attn_slice(float *buf, cdz_attn_lstm_params *p, cdz_attn_lstm_grads *g) {
    float **slots[11];
    float *q = buf;
    const int sizes[11] = {AC * (AC + AH), AC, 4 * AH * AC, 4 * AH * AH, 4 * AH, AH * AH, AH * 2 * AH, AH, AH, AH * 2 * AH, AH};
    cdz_attn_lstm_grads tmp;
    cdz_attn_lstm_grads *t = g ? g : &tmp;
    slots[0] = &t->w_in, slots[1] = &t->b_in, slots[2] = &t->w_ih, slots[3] = &t->w_hh, slots[4] = &t->b;
    slots[5] = &t->k, slots[6] = &t->w_q, slots[7] = &t->b_q, slots[8] = &t->v, slots[9] = &t->w_o, slots[10] = &t->b_o;
    for (int i = 0; i < 11; i++) *slots[i] = q, q += sizes[i];
    if (p) {
        p->w_in = t->w_in, p->b_in = t->b_in, p->w_ih = t->w_ih, p->w_hh = t->w_hh, p->b = t->b, p->k = t->k;
        p->w_q = t->w_q, p->b_q = t->b_q, p->v = t->v, p->w_o = t->w_o, p->b_o = t->b_o;
    }
}

static float attn_acts[AT * AB * (AC + 9 * AH + AL)], attn_o[AT * AB * AH];

static double attn_loss(attn_case *k) {
    cdz_attn_lstm_params p;
    cdz_attn_lstm_acts a;
    attn_slice(k->params, &p, NULL);
    cdz_attn_lstm_acts_slice(&a, attn_acts, AT, AB, AC, AH, AL);
    cdz_attn_lstm_forward(attn_o, &a, k->x, &p, AT, AB, AC, AH, AL);
    return dot(attn_o, k->dout, AT * AB * AH);
}

static void test_attn_lstm(void) {
    static attn_case k;
    static float grads[sizeof k.params / 4], dx[AT * AB * AC], dout[AT * AB * AH];
    static float scratch[AT * AB * (6 * AH + AC) + 5 * AB * AH + AB * AL];
    CHECK(cdz_attn_lstm_act_floats(AC, AH, AL) * AT * AB == sizeof attn_acts / 4, "activation size");
    CHECK(cdz_attn_lstm_scratch_floats(AT, AB, AC, AH, AL) == sizeof scratch / 4, "scratch size");
    fill(k.params, sizeof k.params / 4), fill(k.x, sizeof k.x / 4), fill(k.dout, sizeof k.dout / 4);
    attn_loss(&k);
    cdz_attn_lstm_params p;
    cdz_attn_lstm_grads g;
    cdz_attn_lstm_acts a;
    attn_slice(k.params, &p, NULL);
    attn_slice(grads, NULL, &g);
    cdz_attn_lstm_acts_slice(&a, attn_acts, AT, AB, AC, AH, AL);
    memcpy(dout, k.dout, sizeof dout);
    cdz_attn_lstm_backward(dx, &g, scratch, dout, attn_o, &a, k.x, &p, AT, AB, AC, AH, AL);
    GRAD_CHECK("attention lstm dx", k.x, sizeof k.x / 4, dx, attn_loss(&k));
    const char *names[11] = {"w_in", "b_in", "w_ih", "w_hh", "b", "k", "w_q", "b_q", "v", "w_o", "b_o"};
    const int sizes[11] = {AC * (AC + AH), AC, 4 * AH * AC, 4 * AH * AH, 4 * AH, AH * AH, AH * 2 * AH, AH, AH, AH * 2 * AH, AH};
    size_t off = 0;
    for (int i = 0; i < 11; i++) {
        char name[64];
        snprintf(name, sizeof name, "attention lstm d%s", names[i]);
        GRAD_CHECK(name, k.params + off, (size_t)sizes[i], grads + off, attn_loss(&k));
        off += (size_t)sizes[i];
    }
    /* Attention weights are a distribution over the L slots at every step. */
    attn_loss(&k);
    double worst = 0;
    for (int r = 0; r < AT * AB; r++) {
        double sum = 0;
        for (int j = 0; j < AL; j++) sum += a.a[r * AL + j];
        worst = fmax(worst, fabs(sum - 1));
    }
    CHECK(worst < 1e-6, "attention weights sum to 1 (worst %g)", worst);
    /* Step-wise generation gives the forward pass's outputs. */
    static float h[AB * AH], c[AB * AH], d[AB * AH], so[AB * AL * AH], sh[AB * AL * AH], o[AB * AH], xs[AB * AC];
    static float step_scratch[AB * (AC + 6 * AH + AL)];
    CHECK(cdz_attn_lstm_step_scratch_floats(AB, AC, AH, AL) == sizeof step_scratch / 4, "step scratch size");
    worst = 0;
    for (int t = 0; t < AT; t++) {
        memcpy(xs, k.x + t * AB * AC, sizeof xs);
        cdz_attn_lstm_step(o, h, c, d, so, sh, step_scratch, xs, &p, AB, AC, AH, AL);
        for (int i = 0; i < AB * AH; i++) worst = fmax(worst, fabs(o[i] - attn_o[t * AB * AH + i]));
    }
    CHECK(worst < 1e-6, "step-wise outputs equal the forward pass's (worst %g)", worst);
}

/* Rows are independent: a batch of 20 gives the gradients of the same rows run as two batches of 10
 * (the shared weights' gradients summed), so no state leaks between rows or from one call to the next. */
static void test_attn_lstm_threads(void) {
    enum { TB = 20, HB = 10, TT = 5, TC = 3, TH = 4, TL = 2 };
    static float params[sizeof ((attn_case *)0)->params / 4], x[TT * TB * TC], dout[TT * TB * TH];
    static float gfull[sizeof params / 4], ghalf[sizeof params / 4];
    fill(params, sizeof params / 4), fill(x, sizeof x / 4), fill(dout, sizeof dout / 4);
    cdz_attn_lstm_params p;
    cdz_attn_lstm_grads g;
    attn_slice(params, &p, NULL);
    for (int half = 0; half < 3; half++) {
        int B = half ? HB : TB, b0 = half == 2 ? HB : 0;
        static float xs[TT * TB * TC], ds[TT * TB * TH], o[TT * TB * TH];
        static float acts[TT * TB * (TC + 9 * TH + TL)], scratch[TT * TB * (6 * TH + TC) + 5 * TB * TH + TB * TL];
        for (int t = 0; t < TT; t++) {
            memcpy(xs + t * B * TC, x + (t * TB + b0) * TC, (size_t)B * TC * 4);
            memcpy(ds + t * B * TH, dout + (t * TB + b0) * TH, (size_t)B * TH * 4);
        }
        cdz_attn_lstm_acts a;
        cdz_attn_lstm_acts_slice(&a, acts, TT, B, TC, TH, TL);
        cdz_attn_lstm_forward(o, &a, xs, &p, TT, B, TC, TH, TL);
        attn_slice(half ? ghalf : gfull, NULL, &g);
        cdz_attn_lstm_backward(NULL, &g, scratch, ds, o, &a, xs, &p, TT, B, TC, TH, TL);
    }
    double worst = 0;
    for (size_t i = 0; i < sizeof params / 4; i++) worst = fmax(worst, fabs(gfull[i] - ghalf[i]));
    CHECK(worst < 1e-4, "20 rows at once and in two halves: gradients differ by %g", worst);
}

/* Dropout's units are drawn by their place alone (cadenza/nn.h): a batch of 4 samples gives the masks
 * of its halves drawn with first 0 and 2; the time-major layout the same units transposed; a longer T
 * the same units at the shared positions; another key other units. */
static void test_dropout_places(void) {
    enum { DB = 4, DT = 6, DC = 10, DT2 = 9, DN = DB * DT * DC };
    static float x[DB * DT2 * DC], y[DB * DT2 * DC];
    static uint8_t whole[DN], half[DN], tm[DN], longer[DB * DT2 * DC], other[DN];
    fill(x, DB * DT2 * DC);
    const float keep = 0.6f;
    cdz_dropout_site s = {0xfeedULL, 0, DB, DT, DC, 0};
    cdz_dropout_forward(y, whole, x, &s, keep);
    cdz_dropout_site h0 = {0xfeedULL, 0, 2, DT, DC, 0}, h1 = {0xfeedULL, 2, 2, DT, DC, 0};
    cdz_dropout_forward(y, half, x, &h0, keep);
    cdz_dropout_forward(y + DN / 2, half + DN / 2, x + DN / 2, &h1, keep);
    CHECK(memcmp(whole, half, DN) == 0, "4 samples at once and as 2 + 2 with first 0 and 2: the masks differ");
    cdz_dropout_site st = {0xfeedULL, 0, DB, DT, DC, 1};
    cdz_dropout_forward(y, tm, x, &st, keep);
    int same_tm = 1, same_long = 1, differ = 0, kept = 0;
    cdz_dropout_site sl = {0xfeedULL, 0, DB, DT2, DC, 0}, so = {0xbeefULL, 0, DB, DT, DC, 0};
    cdz_dropout_forward(y, longer, x, &sl, keep);
    cdz_dropout_forward(y, other, x, &so, keep);
    for (int b = 0; b < DB; b++)
        for (int t = 0; t < DT; t++)
            for (int c = 0; c < DC; c++) {
                uint8_t u = whole[((size_t)b * DT + t) * DC + c];
                same_tm &= tm[((size_t)t * DB + b) * DC + c] == u;
                same_long &= longer[((size_t)b * DT2 + t) * DC + c] == u;
                differ += other[((size_t)b * DT + t) * DC + c] != u;
                kept += u;
            }
    CHECK(same_tm, "the time-major layout draws other units");
    CHECK(same_long, "a longer window draws other units at the same positions");
    /* two independent masks at 0.6 differ on 48% of 240 units (sd 3%) */
    CHECK(differ > 70 && differ < 160, "another key: %d of %d units differ", differ, DN);
    CHECK(kept > 110 && kept < 178, "keep 0.6: %d of %d kept", kept, DN);
}

static void test_dropout_and_ignore(void) {
    enum { D = 4000 };
    static float x[D], y[D], dx[D], dy[D];
    static uint8_t mask[D];
    fill(x, D), fill(dy, D);
    cdz_dropout_site site = {7, 0, 4, 10, D / 40, 0};
    cdz_dropout_forward(y, mask, x, &site, 0.5f);
    int kept = 0, right = 1;
    for (int i = 0; i < D; i++) {
        kept += mask[i];
        right &= mask[i] ? y[i] == x[i] * 2.0f : y[i] == 0.0f;
    }
    CHECK(kept > 1800 && kept < 2200, "dropout keeps about half: %d of %d", kept, D);
    CHECK(right, "kept values scaled by 1/keep, others zero");
    cdz_dropout_backward(dx, dy, mask, D, 0.5f);
    right = 1;
    for (int i = 0; i < D; i++) right &= dx[i] == (mask[i] ? dy[i] * 2.0f : 0.0f);
    CHECK(right, "dropout backward follows the mask");
    cdz_dropout_forward(y, mask, x, &site, 1.0f);
    CHECK(memcmp(y, x, sizeof y) == 0, "keep 1 copies");
    /* Ignored targets take no part in the loss or its gradient. */
    uint16_t t[N] = {0, CDZ_IGNORE_TARGET, 2, CDZ_IGNORE_TARGET, 1}, t3[3] = {0, 2, 1};
    float logits[N * V], l3[3 * V], p[N * V], d[N * V] = {0};
    fill(logits, N * V);
    memcpy(l3, logits, V * 4), memcpy(l3 + V, logits + 2 * V, V * 4), memcpy(l3 + 2 * V, logits + 4 * V, V * 4);
    float full = cdz_softmax_xent_forward(p, logits, t, N, V);
    CHECK_NEAR(full, cdz_softmax_xent_forward(p, l3, t3, 3, V), 1e-6);
    cdz_softmax_xent_forward(p, logits, t, N, V);
    cdz_softmax_xent_backward(d, p, t, N, V);
    double zero = 0;
    for (int v = 0; v < V; v++) zero += fabs(d[V + v]) + fabs(d[3 * V + v]);
    CHECK(zero == 0, "no gradient on ignored rows");
    GRAD_CHECK("softmax cross-entropy with ignored rows", logits, (size_t)N * V, d, xent_loss_t(logits, t));
}

/* AdamW against the update written out in double precision, and clipping. */
static void test_optim(void) {
    enum { P = 5 };
    float w[P], m[P] = {0}, v[P] = {0};
    double rw[P], rm[P] = {0}, rv[P] = {0};
    fill(w, P);
    for (int i = 0; i < P; i++) rw[i] = w[i];
    cdz_adamw_params p = cdz_adamw_default_params();
    p.lr = 0.01f;
    for (int step = 1; step <= 20; step++) {
        float g[P];
        for (int i = 0; i < P; i++) g[i] = (float)(w[i] * (i + 1)) + 0.1f * (float)step; /* any gradient */
        double gd[P];
        for (int i = 0; i < P; i++) gd[i] = g[i];
        cdz_adamw_step(w, g, m, v, P, &p, step);
        for (int i = 0; i < P; i++) {
            rw[i] -= 0.01 * 0.01 * rw[i];
            rm[i] = 0.9 * rm[i] + 0.1 * gd[i];
            rv[i] = 0.999 * rv[i] + 0.001 * gd[i] * gd[i];
            rw[i] -= 0.01 * (rm[i] / (1 - pow(0.9, step))) / (sqrt(rv[i] / (1 - pow(0.999, step))) + 1e-8);
        }
    }
    double worst = 0;
    for (int i = 0; i < P; i++) worst = fmax(worst, fabs(rw[i] - w[i]));
    CHECK(worst < 1e-5, "AdamW differs from the written-out update by %g", worst);
    float g[4] = {3, 4, 0, 0};
    CHECK_NEAR(cdz_clip_grad_norm(g, 4, 1.0f), 5.0, 1e-6);
    CHECK_NEAR(g[0], 0.6, 1e-5);
    CHECK_NEAR(g[1], 0.8, 1e-5);
    float small[2] = {0.3f, 0.4f};
    cdz_clip_grad_norm(small, 2, 1.0f);
    CHECK(small[0] == 0.3f && small[1] == 0.4f, "under the limit: unchanged");
}

/* NaN and infinities through the vectorised exp, sigmoid and tanh (an LSTM cell's gates, an attention
 * softmax): defined results (run under UBSan, a conversion of NaN to an integer would stop it), NaN
 * staying NaN; and sampling draws no NaN logit, and none at all when every logit is NaN. */
static void test_non_finite(void) {
    const int H = 4;
    float gates[16], c_prev[4] = {0, 1, -1, 0}, h[4], c[4];
    const float odd[4] = {NAN, INFINITY, -INFINITY, 0.5f};
    for (int i = 0; i < 16; i++) gates[i] = odd[i % 4];
    cdz_lstm_cell_forward(h, c, gates, c_prev, 1, H);
    CHECK(isnan(h[0]) && isfinite(h[3]), "NaN stays NaN (h[0] = %g), finite stays finite (h[3] = %g)", h[0], h[3]);
    CHECK(gates[1] > 0.99f && gates[2] < 0.01f, "sigmoid(+inf) = %g, sigmoid(-inf) = %g", gates[1], gates[2]);
    float logits[5] = {NAN, 1.0f, NAN, 3.0f, NAN};
    cdz_sample_params p = cdz_sample_default_params();
    cdz_rng r;
    cdz_rng_seed(&r, 1);
    int drew_nan = 0;
    for (int k = 0; k < 200; k++) {
        int t = cdz_sample_logits(logits, 5, &p, &r, NULL);
        drew_nan |= t != 1 && t != 3;
    }
    CHECK(!drew_nan, "a NaN logit was drawn");
    float all_nan[3] = {NAN, NAN, NAN};
    CHECK_INT(cdz_sample_logits(all_nan, 3, &p, &r, NULL), -1);
    p.temperature = 0;
    CHECK_INT(cdz_sample_logits(all_nan, 3, &p, &r, NULL), -1);
    CHECK_INT(cdz_sample_logits(logits, 5, &p, &r, NULL), 3);
}

int main(void) {
    test_non_finite();
    test_linear();
    test_embedding();
    test_softmax_xent();
    test_lstm();
    test_attn_lstm();
    test_attn_lstm_threads();
    test_dropout_and_ignore();
    test_dropout_places();
    test_optim();
    return test_summary("test_nn");
}

/* The audio layers of cadenza/nn.h (issue 17): 1-D convolution and its transpose (strides,
 * dilations, padding, groups), padding modes, ELU, Snake and weight normalisation. Finite-difference
 * gradient checks of every backward pass at several shapes (loss = sum(out * random dout), STYLE.md),
 * hand-computed values, PyTorch's output lengths, and the transpose as the convolution's adjoint.
 * The CPU against the reference backend, pass by pass, is in test_backend. */
#include <math.h>

#include "../src/nn/cpu/nn_internal.h" /* nn_conv_use_direct: both ways of computing a convolution */
#include "cadenza/backend.h"
#include "test.h"

static uint64_t rng = 17;
static float frand(void) { /* uniform in [-1, 1) */
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}
static float *rnd(size_t n) {
    float *a = malloc((n ? n : 1) * sizeof *a);
    for (size_t i = 0; i < n; i++) a[i] = frand();
    return a;
}
static float *zeros(size_t n) { return calloc(n ? n : 1, sizeof(float)); }
static double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static double conv_loss(int transpose, const cdz_conv1d_shape *s, const float *x, const float *w, const float *b,
                        const float *dy, float *y, float *scratch, size_t ny) {
    if (transpose) cdz_conv_transpose1d_forward(y, scratch, x, w, b, s);
    else cdz_conv1d_forward(y, scratch, x, w, b, s);
    return dot(y, dy, ny);
}

/* Gradient checks of one shape, the convolution or its transpose. */
static void conv_case(int transpose, cdz_conv1d_shape s) {
    int to = transpose ? cdz_conv_transpose1d_out_len(&s) : cdz_conv1d_out_len(&s);
    CHECK(to > 0, "shape valid (out %d)", to);
    if (to <= 0) return;
    size_t nx = (size_t)s.B * s.C * s.T, ny = (size_t)s.B * s.OC * to;
    size_t nw = transpose ? (size_t)s.C * (s.OC / s.groups) * s.K : (size_t)s.OC * (s.C / s.groups) * s.K;
    size_t ns = transpose ? cdz_conv_transpose1d_scratch_floats(&s) : cdz_conv1d_scratch_floats(&s);
    float *x = rnd(nx), *w = rnd(nw), *b = rnd(s.OC), *dy = rnd(ny), *y = zeros(ny), *scratch = zeros(ns);
    float *dx = zeros(nx), *dw = zeros(nw), *db = zeros(s.OC);
    if (transpose) cdz_conv_transpose1d_backward(dx, dw, db, scratch, dy, x, w, &s);
    else cdz_conv1d_backward(dx, dw, db, scratch, dy, x, w, &s);
    char name[160];
    const char *what = transpose ? "conv_transpose1d" : "conv1d";
#define LOSS conv_loss(transpose, &s, x, w, b, dy, y, scratch, ny)
    snprintf(name, sizeof name, "%s (B %d C %d T %d OC %d K %d stride %d dilation %d pad %d,%d groups %d) dx", what, s.B, s.C,
             s.T, s.OC, s.K, s.stride, s.dilation, s.pad_left, s.pad_right, s.groups);
    GRAD_CHECK(name, x, nx, dx, LOSS);
    name[strlen(name) - 2] = 'w';
    GRAD_CHECK(name, w, nw, dw, LOSS);
    name[strlen(name) - 2] = 'b';
    GRAD_CHECK(name, b, (size_t)s.OC, db, LOSS);
#undef LOSS
    /* dx and db may be left out; dw alone comes out the same */
    float *dw2 = zeros(nw);
    if (transpose) cdz_conv_transpose1d_backward(NULL, dw2, NULL, scratch, dy, x, w, &s);
    else cdz_conv1d_backward(NULL, dw2, NULL, scratch, dy, x, w, &s);
    CHECK(memcmp(dw, dw2, nw * sizeof *dw) == 0, "%s: dw without dx and db", what);
    free(x), free(w), free(b), free(dy), free(y), free(scratch), free(dx), free(dw), free(db), free(dw2);
}

static void test_conv_gradients(void) {
    /* B, C, T, OC, K, stride, dilation, pad_left, pad_right, groups */
    conv_case(0, (cdz_conv1d_shape){1, 1, 5, 1, 1, 1, 1, 0, 0, 1});  /* a 1x1 convolution */
    conv_case(0, (cdz_conv1d_shape){2, 4, 11, 6, 3, 2, 2, 2, 1, 2}); /* strided, dilated, padded, grouped */
    conv_case(0, (cdz_conv1d_shape){1, 3, 9, 5, 3, 1, 3, 6, 0, 1}); /* causal: all the padding before */
    conv_case(0, (cdz_conv1d_shape){2, 4, 8, 4, 5, 1, 1, 2, 2, 4}); /* depthwise */
    conv_case(0, (cdz_conv1d_shape){1, 2, 16, 3, 8, 4, 1, 2, 2, 1}); /* a downsampling block: K = 2 stride */
    conv_case(1, (cdz_conv1d_shape){2, 4, 6, 6, 4, 2, 1, 1, 0, 2});  /* upsampling by 2, grouped, cropped */
    conv_case(1, (cdz_conv1d_shape){1, 3, 5, 2, 3, 3, 2, 0, 0, 1});  /* stride 3, dilation 2 */
    conv_case(1, (cdz_conv1d_shape){1, 2, 4, 3, 8, 4, 1, 2, 2, 1});  /* the block above, transposed */
}

/* Values worked by hand, and PyTorch's lengths. */
static void test_conv_values(void) {
    const float x[5] = {1, 2, 3, 4, 5};
    /* scratch for every shape below, which the scratch functions must not exceed (checked) */
    enum { SCRATCH = 16384 };
    static float scratch[SCRATCH];
    float y[8];
    const float diff[2] = {1, -1};
    cdz_conv1d_shape s = {1, 1, 5, 1, 2, 2, 1, 0, 0, 1};
#define FITS(f) CHECK(f(&s) <= SCRATCH, #f " %zu within the test's %d", f(&s), SCRATCH)
    FITS(cdz_conv1d_scratch_floats);
    CHECK_INT(cdz_conv1d_out_len(&s), 2);
    cdz_conv1d_forward(y, scratch, x, diff, NULL, &s);
    CHECK(y[0] == -1 && y[1] == -1, "x[2t] - x[2t+1]: %g %g", y[0], y[1]);
    s.stride = 1, s.dilation = 2;
    FITS(cdz_conv1d_scratch_floats);
    CHECK_INT(cdz_conv1d_out_len(&s), 3);
    const float bias = 0.5f;
    cdz_conv1d_forward(y, scratch, x, diff, &bias, &s);
    CHECK(y[0] == -1.5f && y[1] == -1.5f && y[2] == -1.5f, "x[t] - x[t+2] + 0.5: %g %g %g", y[0], y[1], y[2]);
    const float mid[3] = {0, 1, 0};
    s = (cdz_conv1d_shape){1, 1, 5, 1, 3, 1, 1, 1, 1, 1};
    FITS(cdz_conv1d_scratch_floats);
    cdz_conv1d_forward(y, scratch, x, mid, NULL, &s);
    CHECK(memcmp(y, x, sizeof x) == 0, "the centre tap with padding 1 copies x");
    const float ones[3] = {1, 1, 1};
    cdz_conv1d_forward(y, scratch, x, ones, NULL, &s);
    CHECK(y[0] == 3 && y[1] == 6 && y[4] == 9, "sums of three with zero padding: %g %g %g", y[0], y[1], y[4]);
    /* transposed: each input spread over K outputs, stride apart */
    const float in[2] = {1, 10}, w2[2] = {1, 2};
    s = (cdz_conv1d_shape){1, 1, 2, 1, 2, 3, 1, 0, 0, 1};
    FITS(cdz_conv_transpose1d_scratch_floats);
    CHECK_INT(cdz_conv_transpose1d_out_len(&s), 5);
    cdz_conv_transpose1d_forward(y, scratch, in, w2, NULL, &s);
    CHECK(y[0] == 1 && y[1] == 2 && y[2] == 0 && y[3] == 10 && y[4] == 20, "spread: %g %g %g %g %g", y[0], y[1], y[2],
          y[3], y[4]);
    s.stride = 1; /* overlapping: outputs add */
    FITS(cdz_conv_transpose1d_scratch_floats);
#undef FITS
    cdz_conv_transpose1d_forward(y, scratch, in, w2, NULL, &s);
    CHECK(y[0] == 1 && y[1] == 12 && y[2] == 20, "overlap: %g %g %g", y[0], y[1], y[2]);
    /* PyTorch's lengths for a 24 kHz codec at hop 320: Conv1d(k 7, padding 3) keeps 24000; a
     * downsampling block Conv1d(k 16, stride 8, padding 4) gives 3000, its ConvTranspose1d back 24000 */
    s = (cdz_conv1d_shape){1, 1, 24000, 1, 7, 1, 1, 3, 3, 1};
    CHECK_INT(cdz_conv1d_out_len(&s), 24000);
    s = (cdz_conv1d_shape){1, 1, 24000, 1, 16, 8, 1, 4, 4, 1};
    CHECK_INT(cdz_conv1d_out_len(&s), 3000);
    s.T = 3000;
    CHECK_INT(cdz_conv_transpose1d_out_len(&s), 24000);
    /* ConvTranspose1d(k 3, stride 2, padding 1, output_padding 1) doubles: pad_right = 1 - 1 */
    s = (cdz_conv1d_shape){1, 1, 10, 1, 3, 2, 1, 1, 0, 1};
    CHECK_INT(cdz_conv_transpose1d_out_len(&s), 20);
    /* invalid shapes */
    cdz_conv1d_shape bad[] = {
        {1, 3, 10, 4, 3, 1, 1, 0, 0, 2}, /* groups do not divide C */
        {1, 4, 10, 6, 3, 1, 1, 0, 0, 4}, /* nor OC */
        {1, 1, 4, 1, 3, 1, 2, 0, 0, 1},  /* a dilated kernel wider than the input */
        {1, 1, 4, 1, 3, 0, 1, 0, 0, 1},  /* stride 0 */
        {0, 1, 4, 1, 3, 1, 1, 0, 0, 1},  /* no signal */
        {1, 1, 4, 1, 3, 1, 1, -1, 0, 1}, /* negative padding */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(cdz_conv1d_out_len(&bad[i]) == -1, "bad shape %zu refused", i);
        CHECK(cdz_conv1d_scratch_floats(&bad[i]) == 0, "bad shape %zu: no scratch", i);
    }
    cdz_conv1d_shape crop = {1, 1, 1, 1, 1, 1, 1, 1, 0, 1}; /* a transpose cropped to nothing */
    CHECK_INT(cdz_conv_transpose1d_out_len(&crop), -1);
}

/* <convT(x), y> = <x, conv(y)>: the transpose of (C -> OC, groups) is the adjoint of the convolution
 * OC -> C with the same weight tensor, at the same stride, dilation and padding. */
static void test_adjoint(void) {
    cdz_conv1d_shape t = {2, 4, 7, 6, 5, 3, 2, 3, 1, 2};
    int to = cdz_conv_transpose1d_out_len(&t);
    cdz_conv1d_shape c = {2, 6, to, 4, 5, 3, 2, 3, 1, 2};
    CHECK_INT(cdz_conv1d_out_len(&c), 7);
    size_t nx = (size_t)2 * 4 * 7, ny = (size_t)2 * 6 * to, nw = (size_t)4 * 3 * 5;
    float *x = rnd(nx), *yv = rnd(ny), *w = rnd(nw), *tx = zeros(ny), *cy = zeros(nx);
    float *s1 = zeros(cdz_conv_transpose1d_scratch_floats(&t)), *s2 = zeros(cdz_conv1d_scratch_floats(&c));
    cdz_conv_transpose1d_forward(tx, s1, x, w, NULL, &t);
    cdz_conv1d_forward(cy, s2, yv, w, NULL, &c);
    double a = dot(tx, yv, ny), b = dot(x, cy, nx);
    CHECK(fabs(a - b) < 1e-4 * fmax(1, fabs(a)), "adjoint: %.6f against %.6f", a, b);
    free(x), free(yv), free(w), free(tx), free(cy), free(s1), free(s2);
}

static double pad_loss(const float *x, int rows, int T, int l, int r, cdz_pad_mode m, const float *dy, float *y) {
    cdz_pad1d_forward(y, x, rows, T, l, r, m);
    return dot(y, dy, (size_t)rows * (l + T + r));
}

static void test_pad(void) {
    const float x[3] = {1, 2, 3};
    float y[9];
    cdz_pad1d_forward(y, x, 1, 3, 2, 2, CDZ_PAD_REFLECT);
    const float reflect[7] = {3, 2, 1, 2, 3, 2, 1};
    CHECK(memcmp(y, reflect, sizeof reflect) == 0, "reflect: %g %g %g %g %g %g %g", y[0], y[1], y[2], y[3], y[4], y[5], y[6]);
    cdz_pad1d_forward(y, x, 1, 3, 2, 1, CDZ_PAD_REPLICATE);
    const float repl[6] = {1, 1, 1, 2, 3, 3};
    CHECK(memcmp(y, repl, sizeof repl) == 0, "replicate");
    cdz_pad1d_forward(y, x, 1, 3, 1, 2, CDZ_PAD_ZEROS);
    const float zs[6] = {0, 1, 2, 3, 0, 0};
    CHECK(memcmp(y, zs, sizeof zs) == 0, "zeros");
    cdz_pad1d_forward(y, x, 1, 3, 4, 0, CDZ_PAD_REFLECT); /* longer than the contract asks: folded again, in bounds */
    const float fold[7] = {1, 2, 3, 2, 1, 2, 3};
    CHECK(memcmp(y, fold, sizeof fold) == 0, "reflect folded: %g %g %g %g", y[0], y[1], y[2], y[3]);
    for (int m = 0; m < 3; m++) {
        enum { R = 2, T = 5, L = 3, Rt = 2 };
        float *xx = rnd(R * T), *dy = rnd(R * (L + T + Rt)), *yy = zeros(R * (L + T + Rt)), *dx = zeros(R * T);
        cdz_pad1d_backward(dx, dy, R, T, L, Rt, (cdz_pad_mode)m);
        char name[64];
        snprintf(name, sizeof name, "pad1d mode %d dx", m);
        GRAD_CHECK(name, xx, (size_t)R * T, dx, pad_loss(xx, R, T, L, Rt, (cdz_pad_mode)m, dy, yy));
        free(xx), free(dy), free(yy), free(dx);
    }
}

static double act_loss(int which, const float *x, const float *alpha, int B, int C, int T, const float *dy, float *y) {
    size_t n = (size_t)B * C * T;
    if (which == 0) cdz_elu_forward(y, x, n, 1.3f);
    else cdz_snake_forward(y, x, alpha, B, C, T);
    return dot(y, dy, n);
}

static void test_activations(void) {
    enum { B = 2, C = 3, T = 7, NN = B * C * T };
    float *x = rnd(NN), *dy = rnd(NN), *y = zeros(NN), *dx = zeros(NN), *alpha = zeros(C), *da = zeros(C);
    for (int i = 0; i < NN; i++) x[i] = 3 * x[i] + (x[i] < 0 ? -0.05f : 0.05f); /* away from ELU's kink */
    for (int c = 0; c < C; c++) alpha[c] = 0.5f + 0.5f * (float)c;
    cdz_elu_backward(dx, dy, x, NN, 1.3f);
    GRAD_CHECK("elu dx", x, (size_t)NN, dx, act_loss(0, x, alpha, B, C, T, dy, y));
    /* Snake on x in [-1, 1]: the central difference's own error, h^2/6 times the third derivative in
     * alpha (up to (2x)^3 per sample), stays well inside the check's tolerance there */
    for (int i = 0; i < NN; i++) x[i] /= 3.05f;
    memset(dx, 0, NN * sizeof *dx);
    cdz_snake_backward(dx, da, dy, x, alpha, B, C, T);
    GRAD_CHECK("snake dx", x, (size_t)NN, dx, act_loss(1, x, alpha, B, C, T, dy, y));
    GRAD_CHECK("snake dalpha", alpha, (size_t)C, da, act_loss(1, x, alpha, B, C, T, dy, y));
    /* values */
    float v = -1, e, s2, one = 1, half_pi = 1.57079632679489662f;
    cdz_elu_forward(&e, &v, 1, 1.0f);
    CHECK(fabs(e - (exp(-1) - 1)) < 1e-6, "elu(-1) = %g", e);
    cdz_elu_forward(&e, &one, 1, 1.0f);
    CHECK(e == 1, "elu(1) = 1");
    cdz_snake_forward(&s2, &half_pi, &one, 1, 1, 1);
    CHECK(fabs(s2 - (1.57079632679489662 + 1)) < 1e-5, "snake(pi/2), alpha 1 = %g", s2);
    free(x), free(dy), free(y), free(dx), free(alpha), free(da);
}

static double wn_loss(const float *v, const float *g, int O, int n, const float *dw, float *w, float *norm) {
    cdz_weight_norm_forward(w, norm, v, g, O, n);
    return dot(w, dw, (size_t)O * n);
}

static void test_weight_norm(void) {
    const float v0[2] = {3, 4}, g0 = 10;
    float w[2], nrm;
    cdz_weight_norm_forward(w, &nrm, v0, &g0, 1, 2);
    CHECK(w[0] == 6 && w[1] == 8 && nrm == 5, "g v / |v|: %g %g (norm %g)", w[0], w[1], nrm);
    enum { O = 3, N = 5 };
    float *v = rnd(O * N), *g = rnd(O), *dw = rnd(O * N), *ww = zeros(O * N), *norm = zeros(O);
    float *dv = zeros(O * N), *dg = zeros(O);
    cdz_weight_norm_forward(ww, norm, v, g, O, N);
    cdz_weight_norm_backward(dv, dg, dw, v, g, norm, O, N);
    GRAD_CHECK("weight_norm dv", v, (size_t)O * N, dv, wn_loss(v, g, O, N, dw, ww, norm));
    GRAD_CHECK("weight_norm dg", g, (size_t)O, dg, wn_loss(v, g, O, N, dw, ww, norm));
    /* a zero row: zero weights, no gradient, no NaN */
    const float z[2] = {0, 0}, dz[2] = {1, 1};
    float dvz[2] = {0, 0}, dgz = 0;
    cdz_weight_norm_forward(w, &nrm, z, &g0, 1, 2);
    cdz_weight_norm_backward(dvz, &dgz, dz, z, &g0, &nrm, 1, 2);
    CHECK(w[0] == 0 && w[1] == 0 && dvz[0] == 0 && dgz == 0, "zero row");
    free(v), free(g), free(dw), free(ww), free(norm), free(dv), free(dg);
}

/* ---- vector quantisation ---- */

/* The nearest code by brute force in double (the reference the BLAS-expanded search must match). */
static int brute_nearest(const float *z, const float *book, int D, int K) {
    int best = 0;
    double bd = INFINITY;
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (int d = 0; d < D; d++) s += ((double)z[d] - book[(size_t)k * D + d]) * ((double)z[d] - book[(size_t)k * D + d]);
        if (s < bd) bd = s, best = k;
    }
    return best;
}

static double vq_loss(const float *z, const float *book, const float *dq, float beta, int N, int D, int K, float *q,
                      int32_t *codes, float *scratch) {
    cdz_vq_nearest(codes, q, NULL, scratch, z, book, N, D, K);
    /* the straight-through surrogate: q + (z - sg(z)) has gradient dq in z; with the commitment term */
    double s = 0, c = 0;
    for (int i = 0; i < N * D; i++) s += (double)dq[i] * z[i], c += ((double)z[i] - q[i]) * ((double)z[i] - q[i]);
    return s + beta * c / (N * D);
}

static void test_vq(void) {
    enum { N = 37, D = 6, K = 50 };
    float *z = rnd(N * D), *book = rnd(K * D), *q = zeros(N * D), *dist = zeros(N), *scratch = zeros(cdz_vq_scratch_floats(N, K));
    int32_t codes[N];
    cdz_vq_nearest(codes, q, dist, scratch, z, book, N, D, K);
    int agree = 0, rows = 1;
    for (int n = 0; n < N; n++) {
        agree += codes[n] == brute_nearest(z + n * D, book, D, K);
        rows &= memcmp(q + n * D, book + (size_t)codes[n] * D, D * sizeof *q) == 0;
    }
    CHECK(agree == N && rows, "nearest codes: %d of %d as brute force; q their rows", agree, N);
    /* the straight-through gradient with the commitment term, by finite differences of the surrogate
     * (codes fixed: a step of 1e-2 keeps each z nearest the same code unless it is within 1e-2 of a
     * boundary, so those vectors are moved to their code first, half way) */
    for (int n = 0; n < N; n++)
        for (int d = 0; d < D; d++) z[n * D + d] = 0.5f * (z[n * D + d] + book[(size_t)codes[n] * D + d]);
    cdz_vq_nearest(codes, q, dist, scratch, z, book, N, D, K);
    float *dq = rnd(N * D), *dz = zeros(N * D);
    cdz_vq_backward(dz, dq, z, q, (size_t)N * D, 0.25f);
    GRAD_CHECK("vq straight-through dz", z, (size_t)N * D, dz, vq_loss(z, book, dq, 0.25f, N, D, K, q, codes, scratch));
    /* EMA: with decay 0 the codebook becomes the mean of its vectors; unchosen codes are counted */
    float *count = zeros(K), *sum = zeros(K * D);
    int unused = cdz_vq_ema_update(book, count, sum, z, codes, N, D, K, 0.0f, 1e-5f);
    int used = 0;
    for (int k = 0; k < K; k++) {
        int m = 0;
        double mean0 = 0;
        for (int n = 0; n < N; n++)
            if (codes[n] == k) m++, mean0 += z[n * D];
        used += m > 0;
        if (m) CHECK(fabs(book[(size_t)k * D] - mean0 / m) < 1e-3, "code %d: the mean of its %d vectors (%g, %g)", k, m, book[(size_t)k * D], mean0 / m);
    }
    CHECK_INT(unused, K - used);
    /* dead codes: every code below the threshold moves onto a vector of the batch */
    int moved = cdz_vq_restart_dead(book, count, sum, z, N, D, K, 0.5f / N, 7);
    int on_vectors = 0;
    for (int k = 0; k < K; k++)
        for (int n = 0; n < N; n++)
            if (memcmp(book + (size_t)k * D, z + n * D, D * sizeof *z) == 0) {
                on_vectors++;
                break;
            }
    CHECK(moved == K - used && on_vectors >= moved, "%d dead codes restarted (%d unused), %d codes on batch vectors", moved, K - used,
          on_vectors);
    free(z), free(book), free(q), free(dist), free(scratch), free(dq), free(dz), free(count), free(sum);
}

static void test_rvq(void) {
    enum { N = 40, D = 4, K = 16, NQ = 4 };
    float *z = rnd(N * D), *books = rnd(NQ * K * D), *q = zeros(N * D), *res = zeros(NQ * N * D), *sq = zeros(NQ * N * D);
    float *scratch = zeros(cdz_vq_scratch_floats(N, K) + N);
    for (int i = 1; i < NQ; i++) /* later books finer, as trained ones are */
        for (int j = 0; j < K * D; j++) books[i * K * D + j] *= powf(0.4f, (float)i);
    int32_t codes[NQ][N * NQ];
    double err[NQ + 1];
    for (int use = 1; use <= NQ; use++) {
        cdz_rvq_forward(q, codes[use - 1], res, sq, scratch, z, books, N, D, K, NQ, use);
        double e = 0;
        for (int j = 0; j < N * D; j++) e += ((double)z[j] - q[j]) * ((double)z[j] - q[j]);
        err[use] = e;
        /* stage by stage: each stage's code is the brute-force nearest to what the stages before left */
        float r[D];
        int ok = 1, tail = 1;
        for (int n = 0; n < N; n++) {
            memcpy(r, z + n * D, sizeof r);
            for (int i = 0; i < use; i++) {
                int k = brute_nearest(r, books + (size_t)i * K * D, D, K);
                ok &= codes[use - 1][n * NQ + i] == k;
                for (int d = 0; d < D; d++) r[d] -= books[((size_t)i * K + k) * D + d];
            }
            for (int i = use; i < NQ; i++) tail &= codes[use - 1][n * NQ + i] == -1;
        }
        CHECK(ok && tail, "%d stages: codes as brute force, the rest -1", use);
    }
    /* bitrates nest: the codes of fewer stages are a prefix of those of more */
    int nest = 1;
    for (int use = 1; use < NQ; use++)
        for (int n = 0; n < N; n++)
            for (int i = 0; i < use; i++) nest &= codes[use - 1][n * NQ + i] == codes[NQ - 1][n * NQ + i];
    CHECK(nest, "fewer stages give a prefix of the codes");
    CHECK(err[2] < err[1] && err[3] < err[2] && err[4] < err[3], "each stage lowers the error: %.3f %.3f %.3f %.3f", err[1], err[2],
          err[3], err[4]);
    /* the backward pass: dq plus each stage's commitment gradient; the commitment sum by hand */
    float *dq = rnd(N * D), *dz = zeros(N * D);
    cdz_rvq_forward(q, codes[NQ - 1], res, sq, scratch, z, books, N, D, K, NQ, 3);
    cdz_rvq_backward(dz, dq, res, sq, N, D, 3, 0.5f);
    double worst = 0, commit = 0;
    for (int j = 0; j < N * D; j++) {
        double want = dq[j];
        for (int i = 0; i < 3; i++) {
            double d = (double)res[i * N * D + j] - sq[i * N * D + j];
            want += 2 * 0.5 * d / (N * D);
            commit += d * d / (N * D);
        }
        worst = fmax(worst, fabs(want - dz[j]));
    }
    CHECK(worst < 1e-6, "rvq dz: worst error %.3g", worst);
    CHECK(fabs(cdz_rvq_commitment(res, sq, N, D, 3) - commit) < 1e-9, "commitment %.6f", commit);
    free(z), free(books), free(q), free(res), free(sq), free(scratch), free(dq), free(dz);
}

/* Signals longer than the CPU's tiles (1,024 unfolded outputs; 192 and 1,024 for the direct kernels)
 * and not a multiple of them: forward and both gradients against the reference backend's direct
 * sums, for convolutions strided, dilated and both, and transposed ones. */
static void test_long_signals(void) {
    const cdz_backend *ref = cdz_backend_find("reference"), *cpu = cdz_backend_find("cpu");
    CHECK(ref && cpu, "both backends");
    if (!ref || !cpu) return;
    static const struct { int transpose; cdz_conv1d_shape s; } cases[] = {
        /* B, C, T, OC, K, stride, dilation, pad_left, pad_right, groups */
        {0, {2, 3, 2600, 4, 7, 2, 3, 9, 8, 1}},  /* strided and dilated: always unfolded */
        {0, {2, 3, 2601, 5, 10, 5, 1, 3, 3, 1}}, /* the codec's downsampling, 5 phases */
        {0, {1, 6, 2500, 7, 7, 1, 3, 9, 9, 1}},  /* a dilated residual convolution */
        {0, {1, 5, 2000, 3, 1, 1, 1, 0, 0, 1}},  /* 1 x 1 */
        {1, {2, 3, 1300, 4, 8, 4, 1, 2, 2, 1}},  /* transposed, stride 4 */
        {1, {1, 4, 700, 3, 10, 5, 1, 3, 2, 1}},  /* transposed, odd stride (output padding) */
        {0, {1, 2, 10, 3, 3, 1, 1, 300, 300, 1}},  /* padding longer than a tile of outputs */
        {0, {1, 2, 10, 2, 3, 1, 2, 1500, 40, 1}},  /* and than a weight-gradient tile */
        {0, {1, 2, 50, 3, 4, 2, 1, 400, 20, 1}},   /* strided, the same */
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
        const int transpose = cases[ci].transpose;
        cdz_conv1d_shape s = cases[ci].s;
        const int to = transpose ? cdz_conv_transpose1d_out_len(&s) : cdz_conv1d_out_len(&s);
        const size_t nx = (size_t)s.B * s.C * s.T, ny = (size_t)s.B * s.OC * (size_t)to,
                     nw = (size_t)s.OC * s.C * s.K;
        CHECK(to > 0, "case %zu: a valid shape", ci);
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)s.OC * 4), *dy = malloc(ny * 4);
        float *y1 = malloc(ny * 4), *y2 = malloc(ny * 4), *dx1 = calloc(nx, 4), *dx2 = calloc(nx, 4), *dw1 = calloc(nw, 4),
              *dw2 = calloc(nw, 4), *db1 = calloc((size_t)s.OC, 4), *db2 = calloc((size_t)s.OC, 4);
        size_t sc = transpose ? cdz_conv_transpose1d_scratch_floats(&s) : cdz_conv1d_scratch_floats(&s);
        float *scratch = malloc((sc ? sc : 1) * 4), *big = malloc(((size_t)s.C * s.K * (size_t)(to > s.T ? to : s.T) + 1) * 4);
        cdz_rng r;
        cdz_rng_seed(&r, 41 + (uint64_t)transpose);
        for (size_t i = 0; i < nx; i++) x[i] = (float)(2 * cdz_rng_uniform(&r) - 1);
        for (size_t i = 0; i < nw; i++) w[i] = (float)(2 * cdz_rng_uniform(&r) - 1);
        for (int i = 0; i < s.OC; i++) b[i] = (float)(2 * cdz_rng_uniform(&r) - 1);
        for (size_t i = 0; i < ny; i++) dy[i] = (float)(2 * cdz_rng_uniform(&r) - 1);
        if (transpose) {
            cpu->conv_transpose1d_forward(y1, scratch, x, w, b, &s);
            ref->conv_transpose1d_forward(y2, big, x, w, b, &s);
            cpu->conv_transpose1d_backward(dx1, dw1, db1, scratch, dy, x, w, &s);
            ref->conv_transpose1d_backward(dx2, dw2, db2, big, dy, x, w, &s);
        } else {
            cpu->conv1d_forward(y1, scratch, x, w, b, &s);
            ref->conv1d_forward(y2, big, x, w, b, &s);
            cpu->conv1d_backward(dx1, dw1, db1, scratch, dy, x, w, &s);
            ref->conv1d_backward(dx2, dw2, db2, big, dy, x, w, &s);
        }
        double ey = 0, ex = 0, ew = 0;
        for (size_t i = 0; i < ny; i++) ey = fmax(ey, fabs(y1[i] - y2[i]));
        for (size_t i = 0; i < nx; i++) ex = fmax(ex, fabs(dx1[i] - dx2[i]));
        for (size_t i = 0; i < nw; i++) ew = fmax(ew, fabs(dw1[i] - dw2[i]) / fmax(1, fabs(dw2[i])));
        CHECK(ey < 1e-4 && ex < 1e-4 && ew < 1e-4,
              "%s (stride %d, dilation %d, K %d) over %d samples (%d outputs), %s, as the reference: y %.2g, dx %.2g, dw %.2g",
              transpose ? "transposed convolution" : "convolution", s.stride, s.dilation, s.K, s.T, to,
              nn_conv_direct_enabled() ? "direct" : "unfolded", ey, ex, ew);
        free(x), free(w), free(b), free(dy), free(y1), free(y2), free(dx1), free(dx2), free(dw1), free(dw2), free(db1), free(db2);
        free(scratch), free(big);
    }
}

int main(void) {
    /* the convolutions both ways: the direct kernels (where the CPU has AVX2 and FMA), then unfolded */
    for (int direct = 1; direct >= 0; direct--) {
        nn_conv_use_direct(direct);
        if (direct && !nn_conv_direct_enabled()) {
            printf("skipped: direct convolutions (this CPU has no AVX2 and FMA); unfolded only\n");
            continue;
        }
        printf("convolutions %s\n", direct ? "direct" : "unfolded");
        test_long_signals();
        test_conv_gradients();
        test_conv_values();
        test_adjoint();
        test_activations();
    }
    test_pad();
    test_weight_norm();
    test_vq();
    test_rvq();
    return test_summary("test_conv");
}

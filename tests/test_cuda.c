/* The cuda backend against the CPU's, pass by pass (STYLE.md: "CPU vs CUDA on the same weights"):
 * random inputs at several shapes (those of the kernel workbench's --validate: awkward widths, tails
 * of float4 loops, ignored targets, in-place calls, pointers off 16-byte alignment), uploaded, run
 * on both, downloaded and compared with a tolerance written beside each check with its reason. A
 * check passes when every |cuda - cpu| <= atol + rtol |cpu| (a NaN on either side fails).
 * Backward passes start from non-zero gradients (they must add, not overwrite) and read the CPU's
 * saved activations, so each checks the backward alone. Outputs are filled with NaN before the pass
 * runs, so that a value it never writes fails.
 *
 * Without the cuda backend in the build it prints "SKIPPED: built without CUDA"; without a device
 * (as on a machine with no GPU or no driver) "SKIPPED: no CUDA device (why)", after checking what
 * needs no device. Both pass. */
#include <float.h>
#include <stdint.h>

#include "cadenza/backend.h"
#include "test.h"

static const cdz_backend *gpu;
static cdz_rng rng;

/* ---- helpers ---- */

static void *dev_alloc(size_t size) {
    void *p = NULL;
    cdz_error err = {0};
    if (gpu->alloc(&p, size, &err) != CDZ_OK) {
        printf("FAIL: cuda alloc of %zu bytes: %s\n", size, err.msg);
        t_failed++;
        exit(test_summary("test_cuda"));
    }
    return p;
}

static void *host_alloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) {
        printf("FAIL: out of host memory (%zu bytes)\n", size);
        t_failed++;
        exit(test_summary("test_cuda"));
    }
    return p;
}
#define HOST(T, n) ((T *)host_alloc((size_t)(n) * sizeof(T)))

/* A device copy of n floats (or tokens). */
static float *dev_floats(const float *h, size_t n) {
    float *d = dev_alloc(n * sizeof *d);
    gpu->upload(d, h, n * sizeof *d);
    return d;
}
static uint16_t *dev_tokens(const uint16_t *h, size_t n) {
    uint16_t *d = dev_alloc(n * sizeof *d);
    gpu->upload(d, h, n * sizeof *d);
    return d;
}

/* All bits set: NaN, so that an output the pass does not write fails the comparison. */
static void dev_poison(float *d, size_t n) {
    float *nan = HOST(float, n);
    memset(nan, 0xff, n * sizeof *nan);
    gpu->upload(d, nan, n * sizeof *nan);
    free(nan);
}

static void fill(float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)cdz_rng_uniform(&rng);
}

/* Device d (n floats) against the CPU's want: one check. */
static void compare(const char *what, const float *d, const float *want, size_t n, double atol, double rtol) {
    float *got = HOST(float, n);
    gpu->download(got, d, n * sizeof *got);
    size_t bad = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = want[i], a = got[i], diff = fabs(a - e), tol = atol + rtol * fabs(e);
        if (!(diff <= tol)) {
            if (bad < 3)
                printf("  %s[%zu]: expected %.9g, got %.9g (|diff| %.3g > tolerance %.3g)\n", what, i, e, a, diff, tol);
            bad++;
        } else if (diff > worst) {
            worst = diff;
        }
    }
    CHECK(bad == 0, "%s: %zu of %zu values outside %.3g + %.3g |cpu|", what, bad, n, atol, rtol);
    if (!bad)
        printf("  ok %-34s max |diff| %.3g (tolerance %.3g + %.3g |cpu|, %zu values)\n", what, worst, atol, rtol, n);
    free(got);
}

/* The tolerance for a sum of K float terms, each at most `scale` in size, taken in another order than
 * the CPU's (a block tree, atomics, cuBLAS's blocking): the roundings of partial sums add up like a
 * random walk to about eps K scale / 2; this allows 4 eps K scale (the workbench's sum_tol, where a
 * CPU emulation of the block order at K = 8192 stayed 8x inside it), while one missing term still
 * fails. */
static double sum_tol(double K, double scale) { return 4.0 * FLT_EPSILON * K * scale; }

/* ---- buffers ---- */

static void test_buffers(void) {
    printf("== buffers\n");
    const size_t n = 1003;
    float *h = HOST(float, n), *want = HOST(float, n);
    fill(h, n, -1, 1);

    float *d = dev_alloc(n * sizeof *d);
    float zeros[1003] = {0};
    compare("alloc is zeroed", d, zeros, n, 0, 0);
    gpu->upload(d, h, n * sizeof *h);
    compare("upload, download", d, h, n, 0, 0);

    /* copy within the device, and overlapping both ways as memmove (the CPU's copy is memmove) */
    float *e = dev_alloc(n * sizeof *e);
    gpu->copy(e, d, n * sizeof *d);
    compare("copy", e, h, n, 0, 0);
    memcpy(want, h, n * sizeof *h);
    memmove(want + 7, want, (n - 7) * sizeof *want);
    gpu->copy(e + 7, e, (n - 7) * sizeof *e);
    compare("copy overlapping, forward", e, want, n, 0, 0);
    memmove(want, want + 5, (n - 5) * sizeof *want);
    gpu->copy(e, e + 5, (n - 5) * sizeof *e);
    compare("copy overlapping, backward", e, want, n, 0, 0);

    /* add: the same single float addition on both sides, so exact; aligned (float4 and a tail of
     * 1003 % 4 = 3) and one float off alignment (one element per thread) */
    gpu->upload(e, want, n * sizeof *want);
    for (size_t i = 0; i < n; i++) want[i] += h[i];
    gpu->add(e, d, n);
    compare("add (aligned)", e, want, n, 0, 0);
    for (size_t i = 1; i < n; i++) want[i] += h[i - 1];
    gpu->add(e + 1, d, n - 1);
    compare("add (unaligned)", e, want, n, 0, 0);

    gpu->zero(d + 2, (n - 4) * sizeof *d);
    memcpy(want, h, n * sizeof *h);
    memset(want + 2, 0, (n - 4) * sizeof *want);
    compare("zero (a middle range)", d, want, n, 0, 0);

    /* a failed alloc returns an error naming the size, and is not a pass's error: the check stays OK */
    void *huge = NULL;
    cdz_error err = {0};
    cdz_status st = gpu->alloc(&huge, (size_t)1 << 60, &err);
    CHECK(st == CDZ_ERR_NOMEM && huge == NULL, "alloc of 2^60 bytes: status %d, pointer %p", st, huge);
    CHECK_STR_CONTAINS(err.msg, "1152921504606846976 bytes");
    CHECK(cdz_backend_check(gpu, &err) == CDZ_OK, "check after a failed alloc: %s", err.msg);

    gpu->release(d), gpu->release(e);
    free(h), free(want);
}

/* ---- layer norm ---- */

static void test_layernorm(int N, int C) {
    printf("== layernorm N=%d C=%d\n", N, C);
    size_t nc = (size_t)N * C;
    float *x = HOST(float, nc), *w = HOST(float, C), *b = HOST(float, C), *dy = HOST(float, nc);
    float *dx = HOST(float, nc), *dw = HOST(float, C), *db = HOST(float, C);
    float *y = HOST(float, nc), *mean = HOST(float, N), *rstd = HOST(float, N);
    /* x around 2: a mean well away from 0, where a one-pass E[x^2] - E[x]^2 would lose the variance */
    fill(x, nc, 1, 3), fill(w, C, -1, 1), fill(b, C, -1, 1), fill(dy, nc, -1, 1);
    fill(dx, nc, -1, 1), fill(dw, C, -1, 1), fill(db, C, -1, 1);
    float *d_x = dev_floats(x, nc), *d_w = dev_floats(w, C), *d_b = dev_floats(b, C), *d_dy = dev_floats(dy, nc);
    float *d_dx = dev_floats(dx, nc), *d_dw = dev_floats(dw, C), *d_db = dev_floats(db, C);
    float *d_y = dev_alloc(nc * sizeof(float)), *d_mean = dev_alloc(N * sizeof(float)),
          *d_rstd = dev_alloc(N * sizeof(float));
    dev_poison(d_y, nc), dev_poison(d_mean, N), dev_poison(d_rstd, N);

    cdz_layernorm_forward(y, mean, rstd, x, w, b, N, C);
    gpu->layernorm_forward(d_y, d_mean, d_rstd, d_x, d_w, d_b, N, C);
    /* The row sums run in another order (a warp's lanes, then shuffles) than the CPU's vector lanes.
     * With inputs near 2 the partial sums grow along the row: a CPU emulation of both orders at
     * C = 512 put the means 2.4e-6 apart, so y (|xhat w| < 1.8) 4.1e-6; the difference grows like
     * sqrt(C). Tolerances: 5x that, scaled by sqrt(C / 512); rsqrtf adds 2 ulp to rstd. */
    double f = C > 512 ? sqrt(C / 512.0) : 1.0;
    compare("forward y", d_y, y, nc, 2e-5 * f, 1e-5);
    compare("forward mean", d_mean, mean, N, 1e-5 * f, 1e-5);
    compare("forward rstd", d_rstd, rstd, N, 1e-6, 1e-5 * f);

    /* the backward reads the CPU's mean and rstd */
    gpu->upload(d_mean, mean, N * sizeof *mean), gpu->upload(d_rstd, rstd, N * sizeof *rstd);
    cdz_layernorm_backward(dx, dw, db, dy, x, mean, rstd, w, N, C);
    gpu->layernorm_backward(d_dx, d_dw, d_db, d_dy, d_x, d_mean, d_rstd, d_w, N, C);
    /* dx: per-row sums as above, then a few roundings of terms of size ~1 to ~5 (plus the start) */
    compare("backward dx", d_dx, dx, nc, 1e-5 * f, 1e-5);
    /* dw, db: sums over N rows (plus the start value) of |dy xhat| < 2 and |dy| < 1, in another
     * order (shared-memory and global atomics, or a thread per column for wide rows) */
    compare("backward dw", d_dw, dw, C, sum_tol(N + 1, 2.0), 1e-5);
    compare("backward db", d_db, db, C, sum_tol(N + 1, 1.0), 1e-5);

    float *all[] = {d_x, d_w, d_b, d_dy, d_dx, d_dw, d_db, d_y, d_mean, d_rstd};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gpu->release(all[i]);
    free(x), free(w), free(b), free(dy), free(dx), free(dw), free(db), free(y), free(mean), free(rstd);
}

/* ---- GELU, ReLU ---- */

/* off: how many floats the pointers sit past an aligned start (1: the one-element path); in_place:
 * the forward writes over its input (y = x, which nn.h allows). */
static void test_activations(size_t n, int off, int in_place) {
    printf("== gelu, relu n=%zu, pointers %d floats past alignment%s\n", n, off, in_place ? ", forward in place" : "");
    float *x = HOST(float, n), *dy = HOST(float, n), *dx0 = HOST(float, n), *ref = HOST(float, n);
    fill(x, n, -5, 5); /* both tails of erf and the region around 0 */
    for (size_t i = 0; i < n; i += 97) x[i] = 0.0f; /* ReLU's kink: the gradient at exactly 0 is 0 */
    fill(dy, n, -1, 1), fill(dx0, n, -1, 1);
    float *bx = dev_alloc((n + off) * sizeof(float)), *bdy = dev_alloc((n + off) * sizeof(float)),
          *bout = dev_alloc((n + off) * sizeof(float));
    float *d_x = bx + off, *d_dy = bdy + off, *d_out = bout + off;
    gpu->upload(d_x, x, n * sizeof *x), gpu->upload(d_dy, dy, n * sizeof *dy);

    /* GELU: CUDA's erff and expf are within 2 ulp of glibc's. Where erf(x / sqrt 2) nears -1 the sum
     * 1 + erf cancels, so y's relative error grows while its absolute error stays near
     * 0.5 |x| 3 ulp(1) < 1e-6 for |x| <= 5: hence 2e-6 absolute beside 1e-5 relative. The backward's
     * Phi + x phi has the same absolute error, times |dy| <= 1, plus dx's rounding (perhaps fused). */
    cdz_gelu_forward(ref, x, n);
    if (in_place) {
        gpu->gelu_forward(d_x, d_x, n);
        compare("gelu forward (in place)", d_x, ref, n, 2e-6, 1e-5);
        gpu->upload(d_x, x, n * sizeof *x);
    } else {
        dev_poison(d_out, n);
        gpu->gelu_forward(d_out, d_x, n);
        compare("gelu forward", d_out, ref, n, 2e-6, 1e-5);
    }
    memcpy(ref, dx0, n * sizeof *ref);
    cdz_gelu_backward(ref, dy, x, n);
    gpu->upload(d_out, dx0, n * sizeof *dx0);
    gpu->gelu_backward(d_out, d_dy, d_x, n);
    compare("gelu backward", d_out, ref, n, 2e-6, 1e-5);

    /* ReLU: a comparison and one addition, the same IEEE operations on both sides: exact */
    cdz_relu_forward(ref, x, n);
    if (in_place) {
        gpu->relu_forward(d_x, d_x, n);
        compare("relu forward (in place)", d_x, ref, n, 0, 0);
        gpu->upload(d_x, x, n * sizeof *x);
    } else {
        dev_poison(d_out, n);
        gpu->relu_forward(d_out, d_x, n);
        compare("relu forward", d_out, ref, n, 0, 0);
    }
    memcpy(ref, dx0, n * sizeof *ref);
    cdz_relu_backward(ref, dy, x, n);
    gpu->upload(d_out, dx0, n * sizeof *dx0);
    gpu->relu_backward(d_out, d_dy, d_x, n);
    compare("relu backward", d_out, ref, n, 0, 0);

    gpu->release(bx), gpu->release(bdy), gpu->release(bout);
    free(x), free(dy), free(dx0), free(ref);
}

/* ---- dropout ---- */

/* The same counter-based draws and the same float operations on both sides: the masks, y and dx
 * exactly. The forward in place when in_place (y = x, which nn.h allows). */
static void test_dropout(const cdz_dropout_site *site, float keep, int in_place) {
    size_t n = (size_t)site->B * site->T * site->C;
    printf("== dropout B=%d T=%d C=%d first=%lld%s keep %g%s\n", site->B, site->T, site->C, (long long)site->first,
           site->time_major ? " time-major" : "", keep, in_place ? ", in place" : "");
    float *x = HOST(float, n), *dy = HOST(float, n), *dx0 = HOST(float, n), *ref = HOST(float, n);
    uint8_t *mref = HOST(uint8_t, n), *mgot = HOST(uint8_t, n);
    fill(x, n, -2, 2), fill(dy, n, -1, 1), fill(dx0, n, -1, 1);
    float *d_x = dev_floats(x, n), *d_y = dev_alloc(n * sizeof(float)), *d_dx = dev_floats(dx0, n);
    float *d_dy = dev_floats(dy, n);
    uint8_t *d_mask = dev_alloc(n);
    cdz_dropout_forward(ref, mref, x, site, keep);
    float *out = in_place ? d_x : d_y;
    if (!in_place) dev_poison(d_y, n);
    gpu->dropout_forward(out, d_mask, d_x, site, keep);
    compare(in_place ? "dropout forward (in place)" : "dropout forward", out, ref, n, 0, 0);
    gpu->download(mgot, d_mask, n);
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) differ += mgot[i] != mref[i];
    CHECK(differ == 0, "dropout masks: %zu of %zu units differ from the CPU's", differ, n);
    memcpy(ref, dx0, n * sizeof *ref);
    cdz_dropout_backward(ref, dy, mref, n, keep);
    gpu->dropout_backward(d_dx, d_dy, d_mask, n, keep);
    compare("dropout backward", d_dx, ref, n, 0, 0);
    gpu->release(d_x), gpu->release(d_y), gpu->release(d_dx), gpu->release(d_dy), gpu->release(d_mask);
    free(x), free(dy), free(dx0), free(ref), free(mref), free(mgot);
}

/* ---- softmax cross-entropy ---- */

/* ignore_every: every how many rows a target is CDZ_IGNORE_TARGET (1: all of them). */
static void test_softmax_xent(int N, int V, int ignore_every) {
    printf("== softmax_xent N=%d V=%d, one target in %d ignored\n", N, V, ignore_every);
    size_t nv = (size_t)N * V;
    float *logits = HOST(float, nv), *probs = HOST(float, nv), *dlogits = HOST(float, nv);
    uint16_t *targets = HOST(uint16_t, N);
    fill(logits, nv, -4, 4); /* probabilities across e^8 = 3000x */
    int count = 0;
    for (int n = 0; n < N; n++) {
        targets[n] =
            n % ignore_every == ignore_every - 1 ? CDZ_IGNORE_TARGET : (uint16_t)cdz_rng_below(&rng, (uint64_t)V);
        count += targets[n] != CDZ_IGNORE_TARGET;
    }
    /* starting gradients of the size of the gradient itself, 1/(V count), so that an addition error
     * shows rather than vanishing in the start value's rounding */
    double gscale = count ? 1.0 / ((double)V * count) : 1.0;
    fill(dlogits, nv, -(float)gscale, (float)gscale);
    float *d_logits = dev_floats(logits, nv), *d_dlogits = dev_floats(dlogits, nv), *d_probs = dev_alloc(nv * 4);
    uint16_t *d_targets = dev_tokens(targets, N);
    dev_poison(d_probs, nv);

    float loss = cdz_softmax_xent_forward(probs, logits, targets, N, V);
    float d_loss = gpu->softmax_xent_forward(d_probs, d_logits, d_targets, N, V);
    /* probs: expf within 2 ulp of glibc's, and a row sum of V terms in another order (a float block
     * tree against the CPU's double): a CPU emulation of the tree at V = 50257 erred by 9.4e-7
     * relative at most; 1e-5 relative leaves a 10x margin */
    compare("forward probs", d_probs, probs, nv, 1e-12, 1e-5);
    /* the loss: the mean of per-row -log p, each known to ~1e-6 relative (as probs), in double */
    CHECK(fabs(d_loss - loss) <= 1e-6 + 1e-5 * fabs(loss),
          "forward loss: cuda %.9g, cpu %.9g (tolerance 1e-6 + 1e-5 |cpu|)", d_loss, loss);
    printf("  loss: cuda %.9g, cpu %.9g over %d counted rows\n", d_loss, loss, count);

    /* the backward reads the CPU's probs. The CPU's float operations in the CPU's order (its
     * scale 1/count, d + p scale rounded twice, then - scale at the target; no fused multiply-add):
     * exact. */
    gpu->upload(d_probs, probs, nv * sizeof *probs);
    cdz_softmax_xent_backward(dlogits, probs, targets, N, V);
    gpu->softmax_xent_backward(d_dlogits, d_probs, d_targets, N, V);
    compare("backward dlogits", d_dlogits, dlogits, nv, 0, 0);

    gpu->release(d_logits), gpu->release(d_dlogits), gpu->release(d_probs), gpu->release(d_targets);
    free(logits), free(probs), free(dlogits), free(targets);
}

/* ---- embedding ---- */

static void test_embedding(int N, int C, int V) {
    printf("== embedding N=%d C=%d V=%d\n", N, C, V);
    size_t nc = (size_t)N * C, vc = (size_t)V * C;
    float *table = HOST(float, vc), *dy = HOST(float, nc), *dtable = HOST(float, vc), *y = HOST(float, nc);
    uint16_t *tokens = HOST(uint16_t, N);
    fill(table, vc, -1, 1), fill(dy, nc, -1, 1), fill(dtable, vc, -1, 1);
    /* skewed like music tokens (a few time shifts are most of a performance): a quarter of the rows
     * draw from the first 4 tokens, the rest from all V */
    for (int n = 0; n < N; n++)
        tokens[n] = (uint16_t)cdz_rng_below(&rng, cdz_rng_below(&rng, 4) == 0 && V > 4 ? 4 : (uint64_t)V);
    int *per = HOST(int, V), most = 0; /* rows of the most frequent token: the longest sum */
    memset(per, 0, (size_t)V * sizeof *per);
    for (int n = 0; n < N; n++)
        if (++per[tokens[n]] > most) most = per[tokens[n]];
    free(per);
    float *d_table = dev_floats(table, vc), *d_dy = dev_floats(dy, nc), *d_dtable = dev_floats(dtable, vc);
    float *d_y = dev_alloc(nc * sizeof(float));
    uint16_t *d_tokens = dev_tokens(tokens, N);
    dev_poison(d_y, nc);

    cdz_embedding_forward(y, tokens, table, N, C);
    gpu->embedding_forward(d_y, d_tokens, d_table, N, C);
    compare("forward y", d_y, y, nc, 0, 0); /* a copy: exact */
    cdz_embedding_backward(dtable, dy, tokens, N, C);
    gpu->embedding_backward(d_dtable, d_dy, d_tokens, N, C);
    /* up to `most` + 1 terms of size <= 1 (the start value and the rows of one token) added by
     * atomics in any order */
    compare("backward dtable", d_dtable, dtable, vc, sum_tol(most + 1, 1.0), 1e-6);

    gpu->release(d_table), gpu->release(d_dy), gpu->release(d_dtable), gpu->release(d_y), gpu->release(d_tokens);
    free(table), free(dy), free(dtable), free(y), free(tokens);
}

/* ---- LSTM cell ---- */

enum { PREV_NONE, PREV_SEPARATE, PREV_IS_C }; /* c_prev NULL (the first step), its own array, or c itself */

/* prev: PREV_*; dc_in_place: dc_prev written over dc, as the CPU's backpropagation through time. */
static void test_lstm_cell(int B, int H, int prev, int dc_in_place) {
    printf("== lstm_cell B=%d H=%d, c_prev %s, dc_prev %s\n", B, H,
           prev == PREV_NONE ? "NULL" : prev == PREV_IS_C ? "= c (in place, as lstm_step)" : "separate",
           dc_in_place ? "over dc" : "separate");
    size_t bh = (size_t)B * H, bg = 4 * bh;
    float *z = HOST(float, bg), *c_prev = HOST(float, bh), *dh = HOST(float, bh), *dc = HOST(float, bh);
    float *gates = HOST(float, bg), *h = HOST(float, bh), *c = HOST(float, bh), *dgates = HOST(float, bg),
          *dc_prev = HOST(float, bh);
    fill(z, bg, -4, 4); /* pre-activations: the saturated ends and the linear middle */
    fill(c_prev, bh, -2, 2), fill(dh, bh, -1, 1), fill(dc, bh, -1, 1);

    memcpy(gates, z, bg * sizeof *gates);
    float *d_gates = dev_floats(z, bg), *d_h = dev_alloc(bh * 4), *d_c = dev_alloc(bh * 4);
    dev_poison(d_h, bh);
    float *d_cp = NULL;
    if (prev == PREV_IS_C) {
        memcpy(c, c_prev, bh * sizeof *c);
        cdz_lstm_cell_forward(h, c, gates, c, B, H);
        gpu->upload(d_c, c_prev, bh * sizeof *c_prev);
        gpu->lstm_cell_forward(d_h, d_c, d_gates, d_c, B, H);
    } else {
        if (prev == PREV_SEPARATE) d_cp = dev_floats(c_prev, bh);
        dev_poison(d_c, bh);
        cdz_lstm_cell_forward(h, c, gates, prev == PREV_SEPARATE ? c_prev : NULL, B, H);
        gpu->lstm_cell_forward(d_h, d_c, d_gates, d_cp, B, H);
    }
    /* The CPU's own exp and tanh (nn_internal.h: relative error < 3e-7, tanh absolute < 1e-7)
     * against CUDA's expf and tanhf (2 ulp) make the activations differ by < 5e-7; c = f c_prev + i g
     * with |c_prev| <= 2 carries about 3x that, h = o tanh(c) a little more, plus fused multiply-adds
     * on the GPU: a bound of ~2.5e-6, so 1e-5 absolute and relative. */
    compare("forward gates", d_gates, gates, bg, 1e-5, 1e-5);
    compare("forward c", d_c, c, bh, 1e-5, 1e-5);
    compare("forward h", d_h, h, bh, 1e-5, 1e-5);

    /* the backward reads the CPU's activations, c and (for PREV_IS_C) the c_prev it started from */
    const float *cp = prev == PREV_NONE ? NULL : c_prev;
    if (prev == PREV_IS_C) d_cp = dev_floats(c_prev, bh);
    gpu->upload(d_gates, gates, bg * sizeof *gates), gpu->upload(d_c, c, bh * sizeof *c);
    float *d_dh = dev_floats(dh, bh), *d_dc = dev_floats(dc, bh), *d_dgates = dev_alloc(bg * 4);
    float *d_dc_prev = dc_in_place ? d_dc : dev_alloc(bh * 4);
    dev_poison(d_dgates, bg);
    if (!dc_in_place) dev_poison(d_dc_prev, bh);
    memcpy(dc_prev, dc, bh * sizeof *dc_prev);
    cdz_lstm_cell_backward(dgates, dc_prev, dh, dc_in_place ? dc_prev : dc, gates, c, cp, B, H);
    gpu->lstm_cell_backward(d_dgates, d_dc_prev, d_dh, d_dc, d_gates, d_c, d_cp, B, H);
    /* products of up to four factors (|dc_t| <= 2, |c_prev| <= 2, the rest <= 1), each with the error
     * of one tanh or of the rounding above: a bound of ~5e-6, so 2e-5 */
    compare("backward dgates", d_dgates, dgates, bg, 2e-5, 2e-5);
    compare("backward dc_prev", d_dc_prev, dc_prev, bh, 2e-5, 2e-5);

    gpu->release(d_gates), gpu->release(d_h), gpu->release(d_c), gpu->release(d_cp), gpu->release(d_dh);
    gpu->release(d_dc), gpu->release(d_dgates);
    if (!dc_in_place) gpu->release(d_dc_prev);
    free(z), free(c_prev), free(dh), free(dc), free(gates), free(h), free(c), free(dgates), free(dc_prev);
}

/* ---- AdamW, clipping ---- */

static void test_adamw(size_t n, int off) {
    printf("== adamw n=%zu, pointers %d floats past alignment, steps 1 to 3\n", n, off);
    cdz_adamw_params hp = cdz_adamw_default_params();
    hp.weight_decay = 0.1f; /* 10x the default, so that a missing or coupled decay shows */
    float *params = HOST(float, n), *m = HOST(float, n), *v = HOST(float, n), *g = HOST(float, n);
    fill(params, n, -1, 1);
    memset(m, 0, n * sizeof *m), memset(v, 0, n * sizeof *v);
    float *bp = dev_alloc((n + off) * 4), *bm = dev_alloc((n + off) * 4), *bv = dev_alloc((n + off) * 4),
          *bg = dev_alloc((n + off) * 4);
    float *d_p = bp + off, *d_m = bm + off, *d_v = bv + off, *d_g = bg + off; /* m, v start at zero */
    gpu->upload(d_p, params, n * sizeof *params);
    for (int step = 1; step <= 3; step++) { /* from zero moments: the bias corrections matter most */
        fill(g, n, -1, 1);
        gpu->upload(d_g, g, n * sizeof *g);
        cdz_adamw_step(params, g, m, v, n, &hp, step);
        gpu->adamw_step(d_p, d_g, d_m, d_v, n, &hp, step);
    }
    /* The CPU's IEEE float operations in its order (rounding intrinsics, no fused multiply-add), the
     * bias corrections computed on the host as the CPU's: the results should be identical. The slack
     * of 2 float epsilons relative only covers a CPU library built with FMA contraction. */
    compare("params", d_p, params, n, 0, 2 * FLT_EPSILON);
    compare("m", d_m, m, n, 0, 2 * FLT_EPSILON);
    compare("v", d_v, v, n, 0, 2 * FLT_EPSILON);
    gpu->release(bp), gpu->release(bm), gpu->release(bv), gpu->release(bg);
    free(params), free(m), free(v), free(g);
}

static void test_clip(size_t n, int off, float max_norm) {
    printf("== clip_grad_norm n=%zu, pointers %d floats past alignment, max_norm %g\n", n, off, max_norm);
    float *g = HOST(float, n);
    fill(g, n, -1, 1);
    float *bg = dev_alloc((n + off) * 4), *d_g = bg + off;
    gpu->upload(d_g, g, n * sizeof *g);
    float norm = cdz_clip_grad_norm(g, n, max_norm), d_norm = gpu->clip_grad_norm(d_g, n, max_norm);
    /* Both sum the exact double squares in double, in another order: they differ by ~1e-16
     * relative, which rounding to float turns into at most one ulp (FLT_EPSILON relative). A scale
     * from a norm one ulp off is one or two ulps off, and so are the scaled gradients. */
    CHECK(fabs(d_norm - norm) <= FLT_EPSILON * norm, "norm: cuda %.9g, cpu %.9g (tolerance 1 ulp)", d_norm, norm);
    compare(norm > max_norm ? "grads (clipped)" : "grads (unchanged)", d_g, g, n, 0, 2 * FLT_EPSILON);
    gpu->release(bg);
    free(g);
}

/* ---- linear (cuBLAS) ---- */

static void test_linear(int N, int C, int OC, int with_bias, int with_dx) {
    printf("== linear N=%d C=%d OC=%d%s%s\n", N, C, OC, with_bias ? "" : ", no bias", with_dx ? "" : ", no dx");
    size_t nc = (size_t)N * C, no = (size_t)N * OC, oc = (size_t)OC * C;
    float *x = HOST(float, nc), *w = HOST(float, oc), *b = HOST(float, OC), *y = HOST(float, no),
          *dy = HOST(float, no), *dx = HOST(float, nc), *dw = HOST(float, oc), *db = HOST(float, OC);
    fill(x, nc, -1, 1), fill(w, oc, -1, 1), fill(b, OC, -1, 1), fill(dy, no, -1, 1);
    fill(dx, nc, -1, 1), fill(dw, oc, -1, 1), fill(db, OC, -1, 1);
    float *d_x = dev_floats(x, nc), *d_w = dev_floats(w, oc), *d_b = dev_floats(b, OC), *d_dy = dev_floats(dy, no);
    float *d_dx = dev_floats(dx, nc), *d_dw = dev_floats(dw, oc), *d_db = dev_floats(db, OC);
    float *d_y = dev_alloc(no * 4);
    dev_poison(d_y, no);

    cdz_linear_forward(y, x, w, with_bias ? b : NULL, N, C, OC);
    gpu->linear_forward(d_y, d_x, d_w, with_bias ? d_b : NULL, N, C, OC);
    /* each output a sum of C products of size <= 1 (plus the bias) in cuBLAS's blocked order, with
     * fused multiply-adds, against OpenBLAS's or the loops' order */
    compare("forward y", d_y, y, no, sum_tol(C + 1, 1.0), 1e-5);

    cdz_linear_backward(with_dx ? dx : NULL, dw, with_bias ? db : NULL, dy, x, w, N, C, OC);
    gpu->linear_backward(with_dx ? d_dx : NULL, d_dw, with_bias ? d_db : NULL, d_dy, d_x, d_w, N, C, OC);
    /* dx: sums of OC products; dw: of N; db: N values of dy, each plus the start value, in another
     * order (without dx or db the start values must come back untouched: the same tolerance holds) */
    compare("backward dx", d_dx, dx, nc, sum_tol(OC + 1, 1.0), 1e-5);
    compare("backward dw", d_dw, dw, oc, sum_tol(N + 1, 1.0), 1e-5);
    compare("backward db", d_db, db, OC, sum_tol(N + 1, 1.0), 1e-5);

    float *all[] = {d_x, d_w, d_b, d_dy, d_dx, d_dw, d_db, d_y};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) gpu->release(all[i]);
    free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db);
}

/* Passes called with nothing to do launch nothing (a grid of 0 blocks would be a launch error). */
static void test_empty(void) {
    printf("== empty shapes\n");
    float *d = dev_alloc(64);
    uint16_t *t = dev_alloc(16);
    gpu->gelu_forward(d, d, 0), gpu->relu_backward(d, d, d, 0), gpu->add(d, d, 0);
    gpu->layernorm_forward(d, d, d, d, d, d, 0, 8), gpu->layernorm_backward(d, d, d, d, d, d, d, d, 0, 8);
    gpu->embedding_forward(d, t, d, 0, 8), gpu->embedding_backward(d, d, t, 0, 8);
    gpu->lstm_cell_forward(d, d, d, NULL, 0, 4), gpu->lstm_cell_backward(d, d, d, d, d, d, NULL, 0, 4);
    gpu->linear_forward(d, d, d, NULL, 0, 4, 4), gpu->linear_backward(d, d, d, d, d, d, 0, 4, 4);
    gpu->softmax_xent_backward(d, d, t, 0, 4);
    const cdz_dropout_site none = {1, 0, 0, 4, 4, 0};
    gpu->dropout_forward(d, (uint8_t *)t, d, &none, 0.5f), gpu->dropout_backward(d, d, (uint8_t *)t, 0, 0.5f);
    cdz_adamw_params p = cdz_adamw_default_params();
    gpu->adamw_step(d, d, d, d, 0, &p, 1);
    CHECK(gpu->softmax_xent_forward(d, d, t, 0, 4) == 0.0f, "softmax_xent_forward over no rows is not 0");
    CHECK(gpu->clip_grad_norm(d, 0, 1.0f) == 0.0f, "clip_grad_norm over no values is not 0");
    gpu->release(d), gpu->release(t);
}

int main(void) {
    gpu = cdz_backend_find("cuda");
    if (!gpu) {
        printf("SKIPPED: built without CUDA\n");
        return test_summary("test_cuda");
    }
    /* what needs no device: the table */
    CHECK(strcmp(gpu->name, "cuda") == 0 && gpu->host_memory == 0, "name %s, host_memory %d", gpu->name,
          gpu->host_memory);
    char missing[1024];
    cdz_backend_missing(gpu, missing, sizeof missing);
    CHECK(strcmp(missing, "lstm_forward, lstm_backward, lstm_step, "
                          "attn_lstm_forward, attn_lstm_backward, attn_lstm_step, self_attention_forward, "
                          "self_attention_backward, self_attention_step, cross_attention_forward, "
                          "cross_attention_backward, conv1d_forward, conv1d_backward, conv_transpose1d_forward, "
                          "conv_transpose1d_backward, pad1d_forward, pad1d_backward, elu_forward, elu_backward, "
                          "snake_forward, snake_backward, weight_norm_forward, weight_norm_backward, rvq_forward, "
                          "rvq_backward") == 0,
          "missing: %s", missing);
    const cdz_backend *const *list;
    size_t nlist = cdz_backend_list(&list), listed = 0;
    for (size_t i = 0; i < nlist; i++) listed += list[i] == gpu;
    CHECK(listed == 1, "cdz_backend_list has the cuda backend %zu times", listed);

    cdz_error err = {0};
    cdz_status st = cdz_backend_check(gpu, &err);
    if (st != CDZ_OK) {
        /* No device (no GPU, no driver) is a skip; a device this build cannot use is a failure. */
        const char *prefix = "no CUDA device: ";
        if (st == CDZ_ERR_UNSUPPORTED && strncmp(err.msg, prefix, strlen(prefix)) == 0) {
            printf("SKIPPED: no CUDA device (%s)\n", err.msg + strlen(prefix));
            return test_summary("test_cuda");
        }
        CHECK(0, "cdz_backend_check(cuda): %s", err.msg);
        return test_summary("test_cuda");
    }

    cdz_rng_seed(&rng, 1);
    test_buffers();
    test_layernorm(8 * 1024, 512);
    test_layernorm(97, 1003); /* a width no multiple of 32 or 4, a row count no multiple of 8 */
    test_layernorm(33, 20);   /* rows narrower than a warp: idle lanes in every reduction */
    test_layernorm(9, 8192);  /* 64 KiB of shared memory: past the default 48 KiB, opted in */
    test_layernorm(5, 40000); /* 2C floats past a block's shared memory: the thread-per-row fallback */
    test_activations(1000003, 0, 0); /* a prime: a tail of 3 after the float4s */
    test_activations(4099, 1, 0);    /* off alignment: one element per thread */
    test_activations(4096, 0, 1);    /* y = x */
    {
        const cdz_dropout_site big = {0x5eedULL, 0, 8, 512, 512, 0}, share = {77, 6, 3, 101, 129, 0},
                               lstm = {0xabcULL, 12, 4, 33, 200, 1};
        test_dropout(&big, 0.9f, 0);
        test_dropout(&share, 0.5f, 1);  /* a rank's share (first 6), odd sizes, in place */
        test_dropout(&lstm, 0.5f, 0);   /* time-major, as melody_rnn's layers */
        test_dropout(&share, 1.0f, 0);  /* keep 1: a copy, every mask byte 1 */
    }
    test_softmax_xent(8 * 1024, 388, 10); /* the performance vocabulary */
    test_softmax_xent(129, 50257, 7);     /* GPT-2's vocabulary: 196 elements per thread of a row */
    test_softmax_xent(5, 33, 1);          /* every target ignored: loss 0, no gradient */
    test_softmax_xent(3, 1, 2);           /* a vocabulary of one: probability 1, loss 0 */
    test_embedding(8 * 1024, 512, 388);
    test_embedding(1001, 77, 50257); /* C no multiple of 4 (one float per thread), sparse tokens */
    test_embedding(64, 12, 3);       /* three tokens: long sums, heavy atomic contention */
    test_lstm_cell(1024, 1024, PREV_SEPARATE, 1);
    test_lstm_cell(37, 203, PREV_SEPARATE, 0); /* H no multiple of 4: one unit per thread */
    test_lstm_cell(16, 64, PREV_NONE, 1);      /* the first step: no previous cell state */
    test_lstm_cell(8, 96, PREV_IS_C, 0);       /* lstm_step's in-place state */
    test_adamw(1000003, 0);
    test_adamw(4099, 1);
    test_clip(1000003, 0, 1.0f);    /* norm ~577: clipped */
    test_clip(4099, 1, 1.0f);       /* off alignment, clipped */
    test_clip(1000, 0, 1000.0f);    /* under the limit: unchanged */
    test_linear(64, 96, 80, 1, 1);
    test_linear(7, 33, 5, 0, 0);    /* awkward sizes, no bias, no dx */
    test_linear(1, 1000, 388, 1, 1); /* one row, as in generation */
    test_linear(512, 512, 388, 1, 1);
    test_empty();

    /* every pass above queued without a CUDA error, and no kernel faulted */
    CHECK(cdz_backend_check(gpu, &err) == CDZ_OK, "cdz_backend_check after the passes: %s", err.msg);

    /* Last, the error contract (backend_cuda.h), since a fault spoils the CUDA context for the rest of
     * the process: a kernel sent to an unmapped device address faults; the check reports it, and
     * from then on a pass that returns a float returns NaN and a download gives NaN. */
    float *bogus = (float *)(uintptr_t)256, *d = dev_alloc(4 * sizeof *d), back[4] = {1, 2, 3, 4};
    gpu->gelu_forward(bogus, bogus, 1024);
    st = cdz_backend_check(gpu, &err);
    CHECK(st != CDZ_OK && strstr(err.msg, "CUDA error in"), "check after a faulting kernel: status %d, \"%s\"", st,
          err.msg);
    printf("  after a fault: %s\n", err.msg);
    CHECK(isnan(gpu->clip_grad_norm(d, 4, 1.0f)), "clip_grad_norm after a fault is not NaN");
    gpu->download(back, d, sizeof back);
    CHECK(isnan(back[0]) && isnan(back[3]), "download after a fault gave %g .. %g, not NaN", back[0], back[3]);
    return test_summary("test_cuda");
}

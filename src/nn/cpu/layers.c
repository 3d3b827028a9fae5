/* CPU reference layers: linear, embedding, softmax cross-entropy. Matrix products go through one
 * function that uses OpenBLAS where the build found it and plain loops otherwise, so both builds give
 * the same results up to rounding. */
#include <math.h>
#include <string.h>

#include "cadenza/nn.h"
#include "nn_internal.h"

#include <unistd.h>

#ifdef CDZ_HAVE_OPENBLAS
#include <cblas.h>
#endif

const char *cdz_nn_backend(void) {
#ifdef CDZ_HAVE_OPENBLAS
    return "openblas";
#else
    return "loops";
#endif
}

static int threads_set; /* cdz_nn_set_threads; 0: the default */

int cdz_nn_conv_direct(void) { return nn_conv_direct_enabled(); }

void cdz_nn_set_threads(int n) { threads_set = n > 0 ? n : 0; }

int cdz_nn_threads(void) {
    if (threads_set) return threads_set;
#ifdef CDZ_HAVE_OPENBLAS
    int n = openblas_get_num_threads();
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    return n > 0 ? (int)n : 1;
}

/* Products with a few rows against a weight matrix (x w^T): step-wise generation runs one or a few
 * sequences, where a BLAS call's packing and threading cost more than the arithmetic. Dot products
 * along contiguous rows, compiled for AVX-512, AVX2+FMA and baseline x86-64 and picked at load time
 * (the shipped build stays portable). */
NN_CLONES static void gemm_rows_nt(int M, int N, int K, const float *a, int lda, const float *b, int ldb, float *c,
                                   int ldc) {
    for (int i = 0; i < M; i++) {
        const float *ai = a + (size_t)i * lda;
        float *ci = c + (size_t)i * ldc;
        int j = 0;
        for (; j + 4 <= N; j += 4) { /* four rows of b at once: one pass over a's row */
            const float *b0 = b + (size_t)j * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
            for (int k = 0; k < K; k++) {
                float x = ai[k];
                s0 += x * b0[k], s1 += x * b1[k], s2 += x * b2[k], s3 += x * b3[k];
            }
            ci[j] += s0, ci[j + 1] += s1, ci[j + 2] += s2, ci[j + 3] += s3;
        }
        for (; j < N; j++) {
            const float *bj = b + (size_t)j * ldb;
            float s = 0;
#pragma omp simd reduction(+ : s)
            for (int k = 0; k < K; k++) s += ai[k] * bj[k];
            ci[j] += s;
        }
    }
}

void nn_gemm_ld(int ta, int tb, int M, int N, int K, const float *a, int lda, const float *b, int ldb, float *c, int ldc) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    if (M <= 4 && !ta && tb) {
        gemm_rows_nt(M, N, K, a, lda, b, ldb, c, ldc);
        return;
    }
#ifdef CDZ_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, a, lda, b,
                ldb, 1.0f, c, ldc);
#else
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            float av = ta ? a[(size_t)k * lda + i] : a[(size_t)i * lda + k];
            if (av == 0.0f) continue;
            float *ci = c + (size_t)i * ldc;
            if (tb)
                for (int j = 0; j < N; j++) ci[j] += av * b[(size_t)j * ldb + k];
            else
                for (int j = 0; j < N; j++) ci[j] += av * b[(size_t)k * ldb + j];
        }
#endif
}

void nn_gemm_acc(int ta, int tb, int M, int N, int K, const float *a, const float *b, float *c) {
    nn_gemm_ld(ta, tb, M, N, K, a, ta ? M : K, b, tb ? K : N, c, N);
}

void cdz_linear_forward(float *y, const float *x, const float *w, const float *b, int N, int C, int OC) {
    for (int n = 0; n < N; n++) {
        float *yn = y + (size_t)n * OC;
        if (b) memcpy(yn, b, (size_t)OC * sizeof *yn);
        else memset(yn, 0, (size_t)OC * sizeof *yn);
    }
    nn_gemm_acc(0, 1, N, OC, C, x, w, y);
}

void cdz_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N, int C,
                         int OC) {
    if (dx) nn_gemm_acc(0, 0, N, C, OC, dy, w, dx);
    nn_gemm_acc(1, 0, OC, C, N, dy, x, dw);
    if (db)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) db[o] += dy[(size_t)n * OC + o];
}

void cdz_embedding_forward(float *y, const uint16_t *tokens, const float *table, int N, int C) {
    for (int n = 0; n < N; n++) memcpy(y + (size_t)n * C, table + (size_t)tokens[n] * C, (size_t)C * sizeof *y);
}

void cdz_embedding_backward(float *dtable, const float *dy, const uint16_t *tokens, int N, int C) {
    for (int n = 0; n < N; n++) {
        float *row = dtable + (size_t)tokens[n] * C;
        const float *g = dy + (size_t)n * C;
        for (int c = 0; c < C; c++) row[c] += g[c];
    }
}

static int counted(const uint16_t *targets, int N) {
    int n = 0;
    for (int i = 0; i < N; i++) n += targets[i] != CDZ_IGNORE_TARGET;
    return n;
}

float cdz_softmax_xent_forward(float *probs, const float *logits, const uint16_t *targets, int N, int V) {
    double loss = 0;
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * V;
        float *p = probs + (size_t)n * V;
        float max = l[0];
        for (int v = 1; v < V; v++)
            if (l[v] > max) max = l[v];
        double sum = 0;
        for (int v = 0; v < V; v++) sum += p[v] = expf(l[v] - max); /* shifted by the max: no overflow */
        float inv = (float)(1.0 / sum);
        for (int v = 0; v < V; v++) p[v] *= inv;
        if (targets[n] != CDZ_IGNORE_TARGET) { /* a NaN stays NaN: the trainer must see it */
            float pt = p[targets[n]];
            loss -= log(pt > 1e-30f || isnan(pt) ? pt : 1e-30f);
        }
    }
    int count = counted(targets, N);
    return count ? (float)(loss / count) : 0.0f;
}

void cdz_softmax_xent_backward(float *dlogits, const float *probs, const uint16_t *targets, int N, int V) {
    int count = counted(targets, N);
    if (!count) return;
    float scale = 1.0f / (float)count;
    for (int n = 0; n < N; n++) {
        if (targets[n] == CDZ_IGNORE_TARGET) continue;
        const float *p = probs + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        for (int v = 0; v < V; v++) d[v] += p[v] * scale;
        d[targets[n]] -= scale;
    }
}

void cdz_dropout_forward(float *y, uint8_t *mask, const float *x, const cdz_dropout_site *s, float keep) {
    CDZ_ASSERT(keep > 0.0f); /* NaN too: the keep threshold below is a cast of keep * 2^24 */
    const size_t C = (size_t)s->C, rows = (size_t)s->B * (size_t)s->T;
    if (keep >= 1.0f) {
        if (y != x) memmove(y, x, rows * C * sizeof *y);
        memset(mask, 1, rows * C);
        return;
    }
    /* 24 random bits per unit against the keep probability; kept values are scaled by 1/keep so the
     * expected output equals the input (inverted dropout, as PyTorch and TensorFlow). Each row of C
     * units is one (sample, position): its stream is keyed once, then its units are values 0 .. C-1
     * of it, drawn a run at a time. */
    enum { RUN = 256 };
    uint64_t bits[RUN];
    uint32_t threshold = (uint32_t)((double)keep * (1u << 24));
    float scale = 1.0f / keep;
    for (size_t r = 0; r < rows; r++) {
        size_t b = s->time_major ? r % (size_t)s->B : r / (size_t)s->T, t = s->time_major ? r / (size_t)s->B : r % (size_t)s->T;
        uint64_t row = cdz_random_at(cdz_random_at(s->key, (uint64_t)(s->first + (int64_t)b)), t);
        for (size_t c0 = 0; c0 < C; c0 += RUN) {
            size_t len = C - c0 < RUN ? C - c0 : RUN;
            cdz_random_fill(row, c0, bits, len);
            uint8_t *m = mask + r * C + c0;
            const float *xr = x + r * C + c0;
            float *yr = y + r * C + c0;
            for (size_t c = 0; c < len; c++) {
                uint8_t kept = (uint32_t)(bits[c] >> 40) < threshold;
                m[c] = kept;
                yr[c] = kept ? xr[c] * scale : 0.0f;
            }
        }
    }
}

void cdz_dropout_backward(float *dx, const float *dy, const uint8_t *mask, size_t n, float keep) {
    float scale = keep >= 1.0f ? 1.0f : 1.0f / keep;
    for (size_t i = 0; i < n; i++)
        if (mask[i]) dx[i] += dy[i] * scale;
}

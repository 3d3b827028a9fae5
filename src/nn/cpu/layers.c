/* CPU reference layers: linear, embedding, softmax cross-entropy. Matrix products go through one
 * function that uses OpenBLAS where the build found it and plain loops otherwise, so both builds give
 * the same results up to rounding. */
#include <math.h>
#include <string.h>

#include "cadenza/nn.h"
#include "nn_internal.h"

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

void nn_gemm_acc(int ta, int tb, int M, int N, int K, const float *a, const float *b, float *c) {
#ifdef CDZ_HAVE_OPENBLAS
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, a,
                ta ? M : K, b, tb ? K : N, 1.0f, c, N);
#else
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            float av = ta ? a[(size_t)k * M + i] : a[(size_t)i * K + k];
            if (av == 0.0f) continue;
            float *ci = c + (size_t)i * N;
            if (tb)
                for (int j = 0; j < N; j++) ci[j] += av * b[(size_t)j * K + k];
            else
                for (int j = 0; j < N; j++) ci[j] += av * b[(size_t)k * N + j];
        }
#endif
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
        loss -= log(p[targets[n]] > 1e-30f ? p[targets[n]] : 1e-30f);
    }
    return (float)(loss / N);
}

void cdz_softmax_xent_backward(float *dlogits, const float *probs, const uint16_t *targets, int N, int V) {
    float scale = 1.0f / (float)N;
    for (int n = 0; n < N; n++) {
        const float *p = probs + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        for (int v = 0; v < V; v++) d[v] += p[v] * scale;
        d[targets[n]] -= scale;
    }
}

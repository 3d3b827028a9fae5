/* Vector quantisation and residual VQ (cadenza/nn.h): nearest codes by one matrix product
 * (|z - e|^2 = |z|^2 - 2 z.e + |e|^2), the straight-through gradient with the commitment loss, EMA
 * codebook updates and dead-code restarts. */
#include <math.h>
#include <string.h>

#include "cadenza/nn.h"
#include "nn_internal.h"

size_t cdz_vq_scratch_floats(int N, int K) { return (size_t)N * K + (size_t)K; }

NN_CLONES void cdz_vq_nearest(int32_t *codes, float *q, float *dist, float *scratch, const float *z, const float *codebook, int N,
                    int D, int K) {
    float *dots = scratch, *enorm = scratch + (size_t)N * K;
    for (int k = 0; k < K; k++) {
        double s = 0;
        for (int d = 0; d < D; d++) s += (double)codebook[(size_t)k * D + d] * codebook[(size_t)k * D + d];
        enorm[k] = (float)s;
    }
    memset(dots, 0, (size_t)N * K * sizeof *dots);
    nn_gemm_acc(0, 1, N, K, D, z, codebook, dots);
    for (int n = 0; n < N; n++) {
        const float *zr = z + (size_t)n * D, *row = dots + (size_t)n * K;
        /* the smallest |e_k|^2 - 2 z.e_k (|z|^2 is the same for every k), then the first k that has it:
         * two passes that vectorise, where one pass carrying the index does not */
        float bd = INFINITY;
#pragma omp simd reduction(min : bd)
        for (int k = 0; k < K; k++) bd = fminf(bd, enorm[k] - 2 * row[k]);
        int best = 0; /* (0 where no distance is a number, as a strict comparison would leave it) */
        while (bd < INFINITY && best < K - 1 && !(enorm[best] - 2 * row[best] <= bd)) best++;
        codes[n] = best;
        /* the exact distance of the chosen code, not the expanded one (which cancels badly when close) */
        const float *e = codebook + (size_t)best * D;
        double s = 0;
        for (int d = 0; d < D; d++) {
            q[(size_t)n * D + d] = e[d];
            double diff = (double)zr[d] - e[d];
            s += diff * diff;
        }
        if (dist) dist[n] = (float)s;
    }
}

void cdz_vq_backward(float *dz, const float *dq, const float *z, const float *q, size_t n, float beta) {
    const float k = n ? 2.0f * beta / (float)n : 0.0f;
    for (size_t i = 0; i < n; i++) dz[i] += dq[i] + k * (z[i] - q[i]);
}

int cdz_vq_ema_update(float *codebook, float *count, float *sum, const float *z, const int32_t *codes, int N, int D, int K,
                      float decay, float eps) {
    const float keep = decay, add = 1.0f - decay;
    for (int k = 0; k < K; k++) {
        count[k] *= keep;
        for (int d = 0; d < D; d++) sum[(size_t)k * D + d] *= keep;
    }
    int unused = 0;
    for (int n = 0; n < N; n++) {
        int k = codes[n];
        if (k < 0 || k >= K) continue;
        count[k] += add;
        for (int d = 0; d < D; d++) sum[(size_t)k * D + d] += add * z[(size_t)n * D + d];
    }
    double total = 0;
    for (int k = 0; k < K; k++) total += count[k];
    for (int k = 0; k < K; k++) {
        /* Laplace smoothing: (count + eps) / (total + K eps) * total */
        double c = ((double)count[k] + eps) / (total + (double)K * eps) * total;
        if (!(c > 0)) continue;
        for (int d = 0; d < D; d++) codebook[(size_t)k * D + d] = (float)(sum[(size_t)k * D + d] / c);
    }
    /* codes no vector of this batch chose */
    for (int k = 0; k < K; k++) {
        int used = 0;
        for (int n = 0; n < N && !used; n++) used = codes[n] == k;
        unused += !used;
    }
    return unused;
}

int cdz_vq_restart_dead(float *codebook, float *count, float *sum, const float *z, int N, int D, int K, float threshold,
                        uint64_t seed) {
    int moved = 0;
    if (N <= 0) return 0;
    for (int k = 0; k < K; k++) {
        if (count[k] >= threshold) continue;
        int n = (int)(cdz_random_at(seed, (uint64_t)k) % (uint64_t)N);
        for (int d = 0; d < D; d++) {
            codebook[(size_t)k * D + d] = z[(size_t)n * D + d];
            sum[(size_t)k * D + d] = threshold * z[(size_t)n * D + d];
        }
        count[k] = threshold;
        moved++;
    }
    return moved;
}

void cdz_rvq_forward(float *q, int32_t *codes, float *residuals, float *stage_q, float *scratch, const float *z,
                     const float *codebooks, int N, int D, int K, int n_q, int use) {
    const size_t nd = (size_t)N * D;
    int32_t *stage_codes = (int32_t *)(scratch + cdz_vq_scratch_floats(N, K)); /* N ints in N floats */
    memset(q, 0, nd * sizeof *q);
    memcpy(residuals, z, nd * sizeof *z);
    for (int i = 0; i < n_q; i++) {
        if (i >= use) {
            for (int n = 0; n < N; n++) codes[(size_t)n * n_q + i] = -1;
            continue;
        }
        float *r = residuals + (size_t)i * nd, *qi = stage_q + (size_t)i * nd;
        cdz_vq_nearest(stage_codes, qi, NULL, scratch, r, codebooks + (size_t)i * K * D, N, D, K);
        for (int n = 0; n < N; n++) codes[(size_t)n * n_q + i] = stage_codes[n];
        for (size_t j = 0; j < nd; j++) q[j] += qi[j];
        if (i + 1 < use)
            for (size_t j = 0; j < nd; j++) residuals[(size_t)(i + 1) * nd + j] = r[j] - qi[j];
    }
}

void cdz_rvq_backward(float *dz, const float *dq, const float *residuals, const float *stage_q, int N, int D, int use,
                      float beta) {
    const size_t nd = (size_t)N * D;
    const float k = nd ? 2.0f * beta / (float)nd : 0.0f;
    for (size_t j = 0; j < nd; j++) {
        float s = 0;
        for (int i = 0; i < use; i++) s += residuals[(size_t)i * nd + j] - stage_q[(size_t)i * nd + j];
        dz[j] += dq[j] + k * s;
    }
}

double cdz_rvq_commitment(const float *residuals, const float *stage_q, int N, int D, int use) {
    const size_t nd = (size_t)N * D;
    double total = 0;
    for (int i = 0; i < use; i++) {
        double s = 0;
        for (size_t j = 0; j < nd; j++) {
            double d = (double)residuals[(size_t)i * nd + j] - stage_q[(size_t)i * nd + j];
            s += d * d;
        }
        total += nd ? s / (double)nd : 0;
    }
    return total;
}

/* Linear, embedding and softmax cross-entropy on the GPU: the mirror of src/nn/cpu/layers.c, with
 * its contracts (cadenza/nn.h).
 *
 * Linear: cuBLAS SGEMM (fp32, cuBLAS's default math mode, so no TF32), row-major as nn.h states,
 * which in cuBLAS's column-major terms is y^T = w x^T: a row-major (r, c) matrix is a column-major
 * (c, r) one with the same bytes. The bias is written into y first and the product added (beta 1);
 * db is a column sum by a kernel, in a fixed order.
 * Embedding (from dev/cuda/embedding.cu): forward four floats per thread when C % 4 == 0 and the
 * pointers are 16-byte aligned (else one); backward atomicAdd per element into the table's rows
 * (the workbench's version 1): the order of the additions into a row varies between runs. The
 * workbench's deterministic backward sorts the tokens on the host, which needs them on the host and
 * scratch sized by the vocabulary, neither of which this signature gives.
 * Softmax cross-entropy (from dev/cuda/softmax_xent.cu, version 2): one block per row, the max and
 * the sum of exponentials in one pass (the online normaliser of Milakov and Gimelshein, "Online
 * normalizer calculation for softmax", 2018), then one pass that writes probs; the loss is summed
 * over the counted rows by one block in double, in a fixed order, and copied back (so the forward
 * waits for the device). The backward adds the CPU's float operations in the CPU's order.
 * Dropout: one thread per unit (grid-stride), each drawing its unit's bits by cadenza/nn.h's
 * definition (the key chain of cdz_random_at, src/core/rng.c, written again here for the device), so
 * the masks equal the CPU's bit for bit; y and dx are the CPU's float operations, unfused. */
#include <math.h>

#include "cuda_internal.h"

/* ---------------- linear ---------------- */

/* y (N, OC) = b broadcast over the rows */
static __global__ void bias_rows(float *y, const float *b, size_t N, int OC) {
    size_t stride = (size_t)gridDim.x * blockDim.x, total = N * (size_t)OC;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) y[i] = b[i % OC];
}

/* db (OC) += the column sums of dy (N, OC). A block of 32 x 32 threads takes 32 columns: each of
 * its 32 rows of threads adds every 32nd row of dy (coalesced across the columns), then the first
 * adds the 32 partials in order. Deterministic. */
static __global__ void column_sums(float *db, const float *dy, int N, int OC) {
    __shared__ float part[32][33]; /* padded: no bank conflicts in the column read */
    int o = blockIdx.x * 32 + threadIdx.x;
    float s = 0;
    if (o < OC)
        for (int n = threadIdx.y; n < N; n += 32) s += dy[(size_t)n * OC + o];
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && o < OC) {
        float t = 0;
        for (int r = 0; r < 32; r++) t += part[r][threadIdx.x];
        db[o] += t;
    }
}

extern "C" void cdz_cuda_linear_forward(float *y, const float *x, const float *w, const float *b, int N, int C,
                                        int OC) {
    if (N <= 0 || OC <= 0) return;
    if (b) {
        bias_rows<<<nn_cuda_blocks((size_t)N * OC, CUDA_BLOCK), CUDA_BLOCK>>>(y, b, (size_t)N, OC);
        CUDA_LAUNCHED("linear_forward");
    } else if (C <= 0) {
        nn_cuda_record(cudaMemsetAsync(y, 0, (size_t)N * OC * sizeof *y, 0), "linear_forward");
    }
    if (C <= 0) return; /* y = b (or 0): no product */
    /* y^T (OC, N) = w (OC, C) x^T: column-major, w is (C, OC) as stored, so transposed */
    nn_cuda_sgemm(true, false, OC, N, C, w, C, x, C, b ? 1.0f : 0.0f, y, OC, "linear_forward");
}

extern "C" void cdz_cuda_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                         const float *w, int N, int C, int OC) {
    if (N <= 0 || OC <= 0) return;
    if (C > 0) {
        /* dx^T (C, N) += w^T dy^T: w column-major (C, OC), dy column-major (OC, N) */
        if (dx) nn_cuda_sgemm(false, false, C, N, OC, w, C, dy, OC, 1.0f, dx, C, "linear_backward");
        /* dw^T (C, OC) += x^T dy: x column-major (C, N), dy as stored (OC, N), so transposed */
        nn_cuda_sgemm(false, true, C, OC, N, x, C, dy, OC, 1.0f, dw, C, "linear_backward");
    }
    if (db) {
        column_sums<<<(OC + 31) / 32, dim3(32, 32)>>>(db, dy, N, OC);
        CUDA_LAUNCHED("linear_backward");
    }
}

/* ---------------- embedding ---------------- */

static __global__ void embedding_forward_kernel(float *y, const uint16_t *tokens, const float *table, size_t N, int C) {
    size_t stride = (size_t)gridDim.x * blockDim.x, total = N * (size_t)C;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride)
        y[i] = table[(size_t)tokens[i / C] * C + i % C];
}

/* C4 = C / 4 float4s per row. */
static __global__ void embedding_forward4(float4 *y, const uint16_t *tokens, const float4 *table, size_t N, int C4) {
    size_t stride = (size_t)gridDim.x * blockDim.x, total = N * (size_t)C4;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride)
        y[i] = table[(size_t)tokens[i / C4] * C4 + i % C4];
}

static __global__ void embedding_backward_kernel(float *dtable, const float *dy, const uint16_t *tokens, size_t N,
                                                 int C) {
    size_t stride = (size_t)gridDim.x * blockDim.x, total = N * (size_t)C;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride)
        atomicAdd(&dtable[(size_t)tokens[i / C] * C + i % C], dy[i]);
}

extern "C" void cdz_cuda_embedding_forward(float *y, const uint16_t *tokens, const float *table, int N, int C) {
    if (N <= 0 || C <= 0) return;
    if (C % 4 == 0 && nn_cuda_aligned16(y) && nn_cuda_aligned16(table))
        embedding_forward4<<<nn_cuda_blocks((size_t)N * C / 4, CUDA_BLOCK), CUDA_BLOCK>>>(
            (float4 *)y, tokens, (const float4 *)table, (size_t)N, C / 4);
    else
        embedding_forward_kernel<<<nn_cuda_blocks((size_t)N * C, CUDA_BLOCK), CUDA_BLOCK>>>(y, tokens, table,
                                                                                             (size_t)N, C);
    CUDA_LAUNCHED("embedding_forward");
}

extern "C" void cdz_cuda_embedding_backward(float *dtable, const float *dy, const uint16_t *tokens, int N, int C) {
    if (N <= 0 || C <= 0) return;
    embedding_backward_kernel<<<nn_cuda_blocks((size_t)N * C, CUDA_BLOCK), CUDA_BLOCK>>>(dtable, dy, tokens,
                                                                                          (size_t)N, C);
    CUDA_LAUNCHED("embedding_backward");
}

/* ---------------- softmax cross-entropy ---------------- */

#define ROW_THREADS 256     /* a block per row */
#define REDUCE_THREADS 1024 /* the one block of the loss and the count */

/* A running softmax normaliser: the max m of the values seen and s = sum exp(value - m). Two of them
 * combine into the normaliser of the union, in any order. */
struct normaliser {
    float m, s;
};
static __device__ inline normaliser combine(normaliser a, normaliser b) {
    float m = fmaxf(a.m, b.m);
    if (m == -INFINITY) return {m, 0.0f}; /* both empty: exp(-inf - -inf) would be NaN */
    return {m, a.s * expf(a.m - m) + b.s * expf(b.m - m)};
}
static __device__ inline normaliser warp_combine(normaliser a) {
    for (int o = 16; o > 0; o /= 2)
        a = combine(a, {__shfl_xor_sync(0xffffffffu, a.m, o), __shfl_xor_sync(0xffffffffu, a.s, o)});
    return a;
}

static __global__ void softmax_rows(float *probs, const float *logits, int V) {
    __shared__ normaliser part[ROW_THREADS / 32];
    __shared__ normaliser row;
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    const float *l = logits + (size_t)blockIdx.x * V;
    float *p = probs + (size_t)blockIdx.x * V;
    normaliser t = {-INFINITY, 0.0f}; /* an empty one: threads past V keep it */
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float x = l[v];
        if (x > t.m) t.s = t.s * expf(t.m - x) + 1.0f, t.m = x; /* a new max rescales the sum */
        else t.s += expf(x - t.m);
    }
    t = warp_combine(t);
    if (lane == 0) part[warp] = t;
    __syncthreads();
    if (warp == 0) {
        t = warp_combine(lane < ROW_THREADS / 32 ? part[lane] : normaliser{-INFINITY, 0.0f});
        if (lane == 0) row = t;
    }
    __syncthreads();
    float max = row.m, inv = 1.0f / row.s;
    for (int v = threadIdx.x; v < V; v += blockDim.x) p[v] = expf(l[v] - max) * inv;
}

/* *loss = the mean over the counted rows of -log probs[target], as the CPU takes it: in double, p
 * clamped at 1e-30 (a loss of 69 at most) but a NaN kept, so that the trainer sees it; 0 when no
 * row counts. One block; each thread's rows in order, then the block's fixed tree. */
static __global__ void xent_mean(float *loss, const float *probs, const uint16_t *targets, int N, int V) {
    double sum = 0;
    int count = 0;
    for (int n = threadIdx.x; n < N; n += blockDim.x) {
        int t = targets[n];
        if (t == CDZ_IGNORE_TARGET) continue;
        float pt = probs[(size_t)n * V + t];
        sum -= log((double)(pt > 1e-30f || isnan(pt) ? pt : 1e-30f));
        count++;
    }
    sum = block_sum(sum);
    count = block_sum(count);
    if (threadIdx.x == 0) *loss = count ? (float)(sum / count) : 0.0f;
}

/* The backward's count of counted rows (the CPU's counted()). */
static __global__ void xent_count(int *count, const uint16_t *targets, int N) {
    int c = 0;
    for (int n = threadIdx.x; n < N; n += blockDim.x) c += targets[n] != CDZ_IGNORE_TARGET;
    c = block_sum(c);
    if (threadIdx.x == 0) *count = c;
}

/* A block per row; an ignored row costs one read of its target. The rounding intrinsics keep nvcc
 * from fusing the multiply-add: the CPU's two roundings, then a third at the target, exactly. */
static __global__ void xent_backward_rows(float *dlogits, const float *probs, const uint16_t *targets, const int *count,
                                   int V) {
    int n = blockIdx.x, t = targets[n], cnt = *count;
    if (t == CDZ_IGNORE_TARGET || cnt == 0) return; /* the same for the whole block */
    float scale = 1.0f / (float)cnt, *d = dlogits + (size_t)n * V;
    const float *p = probs + (size_t)n * V;
    for (int v = threadIdx.x; v < V; v += blockDim.x) {
        float g = __fadd_rn(d[v], __fmul_rn(p[v], scale));
        if (v == t) g = __fsub_rn(g, scale);
        d[v] = g;
    }
}

extern "C" float cdz_cuda_softmax_xent_forward(float *probs, const float *logits, const uint16_t *targets, int N,
                                               int V) {
    if (N <= 0 || V <= 0) return 0.0f; /* as the CPU: no counted row */
    float loss = NAN, *d_loss = NULL;
    softmax_rows<<<N, ROW_THREADS>>>(probs, logits, V);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) {
        if (!(d_loss = (float *)nn_cuda_scratch(sizeof(float), "softmax_xent_forward"))) return NAN;
        xent_mean<<<1, REDUCE_THREADS>>>(d_loss, probs, targets, N, V);
        e = cudaGetLastError();
        if (e == cudaSuccess) e = cudaMemcpy(&loss, d_loss, sizeof loss, cudaMemcpyDeviceToHost); /* waits */
    }
    nn_cuda_record(e, "softmax_xent_forward");
    nn_cuda_scratch_free(d_loss, "softmax_xent_forward");
    return e == cudaSuccess ? loss : NAN;
}

extern "C" void cdz_cuda_softmax_xent_backward(float *dlogits, const float *probs, const uint16_t *targets, int N,
                                               int V) {
    if (N <= 0 || V <= 0) return;
    int *d_count = (int *)nn_cuda_scratch(sizeof(int), "softmax_xent_backward");
    if (!d_count) return;
    xent_count<<<1, REDUCE_THREADS>>>(d_count, targets, N);
    CUDA_LAUNCHED("softmax_xent_backward");
    xent_backward_rows<<<N, ROW_THREADS>>>(dlogits, probs, targets, d_count, V);
    CUDA_LAUNCHED("softmax_xent_backward");
    nn_cuda_scratch_free(d_count, "softmax_xent_backward");
}

/* ---------------- dropout ---------------- */

/* cdz_random_at (src/core/rng.c), bit for bit: splitmix64's output for key + (index + 1) * gamma. */
static __device__ __forceinline__ uint64_t random_at(uint64_t key, uint64_t index) {
    uint64_t z = key + (index + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Unit i of a (B, T, C) tensor, or (T, B, C) with time_major: kept when the top 24 bits of its value
 * fall below threshold; y may be x (each unit read and written by one thread). */
static __global__ void dropout_forward_kernel(float *y, uint8_t *mask, const float *x, uint64_t key, int64_t first,
                                              int B, int T, int C, int time_major, uint32_t threshold, float scale,
                                              size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        size_t row = i / (size_t)C, c = i % (size_t)C;
        size_t b = time_major ? row % (size_t)B : row / (size_t)T, t = time_major ? row / (size_t)B : row % (size_t)T;
        uint64_t bits = random_at(random_at(random_at(key, (uint64_t)(first + (int64_t)b)), t), c);
        bool keep = (uint32_t)(bits >> 40) < threshold;
        mask[i] = keep;
        y[i] = keep ? __fmul_rn(x[i], scale) : 0.0f;
    }
}

/* keep >= 1: y = x, every mask byte 1 */
static __global__ void dropout_copy_kernel(float *y, uint8_t *mask, const float *x, size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) y[i] = x[i], mask[i] = 1;
}

static __global__ void dropout_backward_kernel(float *dx, const float *dy, const uint8_t *mask, float scale, size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        if (mask[i]) dx[i] = __fadd_rn(dx[i], __fmul_rn(dy[i], scale)); /* unfused, as the CPU */
}

extern "C" void cdz_cuda_dropout_forward(float *y, uint8_t *mask, const float *x, const cdz_dropout_site *s, float keep) {
    size_t n = (size_t)s->B * (size_t)s->T * (size_t)s->C;
    if (!n) return;
    if (keep >= 1.0f) {
        dropout_copy_kernel<<<nn_cuda_blocks(n, CUDA_BLOCK), CUDA_BLOCK>>>(y, mask, x, n);
    } else {
        uint32_t threshold = (uint32_t)((double)keep * (1u << 24)); /* the CPU's threshold and scale */
        float scale = 1.0f / keep;
        dropout_forward_kernel<<<nn_cuda_blocks(n, CUDA_BLOCK), CUDA_BLOCK>>>(y, mask, x, s->key, s->first, s->B, s->T,
                                                                              s->C, s->time_major, threshold, scale, n);
    }
    CUDA_LAUNCHED("dropout_forward");
}

extern "C" void cdz_cuda_dropout_backward(float *dx, const float *dy, const uint8_t *mask, size_t n, float keep) {
    if (!n) return;
    float scale = keep >= 1.0f ? 1.0f : 1.0f / keep;
    dropout_backward_kernel<<<nn_cuda_blocks(n, CUDA_BLOCK), CUDA_BLOCK>>>(dx, dy, mask, scale, n);
    CUDA_LAUNCHED("dropout_backward");
}

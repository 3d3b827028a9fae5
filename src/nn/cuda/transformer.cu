/* Layer norm, exact GELU and ReLU on the GPU: the mirror of src/nn/cpu/transformer.c, with its
 * contracts (cadenza/nn.h). Moved from the kernel workbench (dev/cuda/layernorm.cu and
 * gelu_relu.cu, version 2 there); the workbench now times and validates these as its "library"
 * versions.
 *
 * Layer norm forward: one warp per row, the row sums by shuffles, two passes over the row as the
 * CPU (mean, then the squared deviations: no cancellation when the mean is large against the
 * spread), rsqrtf for rstd (2 ulp). Backward: dx per row as the forward; dw and db gathered per
 * block in shared memory, then one global atomicAdd per column and block, so their order of
 * additions varies from run to run. A row wider than the shared memory of a block allows (2C floats;
 * C over about 29,000 on an H100) takes a thread per row for dx and a thread per column for dw, db.
 * GELU, ReLU: four elements per thread through float4 when every pointer is 16-byte aligned, else
 * one; the erf and exp are CUDA's erff and expf (2 ulp), not the faster intrinsics. */
#include "cuda_internal.h"

#define LN_EPS 1e-5f /* LAYERNORM_EPS of src/nn/cpu/transformer.c */
#define LN_WARPS 8   /* rows per block: 256 threads */

/* ---------------- layer norm ---------------- */

static __global__ void layernorm_forward_kernel(float *y, float *mean, float *rstd, const float *x, const float *w,
                                         const float *b, int N, int C) {
    int lane = threadIdx.x % 32, n = blockIdx.x * LN_WARPS + threadIdx.x / 32;
    if (n >= N) return; /* n is the same for the whole warp, so the shuffles below see all 32 lanes */
    const float *xr = x + (size_t)n * C;
    float *yr = y + (size_t)n * C;
    float sum = 0, var = 0;
    for (int c = lane; c < C; c += 32) sum += xr[c];
    float m = warp_sum(sum) / (float)C;
    for (int c = lane; c < C; c += 32) var += (xr[c] - m) * (xr[c] - m); /* the row is in L1 by now */
    float s = rsqrtf(warp_sum(var) / (float)C + LN_EPS);
    for (int c = lane; c < C; c += 32) yr[c] = (xr[c] - m) * s * w[c] + b[c];
    if (lane == 0) mean[n] = m, rstd[n] = s;
}

/* Each warp takes rows blockIdx.x * LN_WARPS + warp, stepping by the whole grid; shared memory holds
 * the block's dw and db (2C floats). */
static __global__ void layernorm_backward_kernel(float *dx, float *dw, float *db, const float *dy, const float *x,
                                          const float *mean, const float *rstd, const float *w, int N, int C) {
    extern __shared__ float shared[];
    float *dw_s = shared, *db_s = shared + C;
    for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) shared[c] = 0;
    __syncthreads();
    int lane = threadIdx.x % 32;
    for (int n = blockIdx.x * LN_WARPS + threadIdx.x / 32; n < N; n += gridDim.x * LN_WARPS) {
        const float *dyr = dy + (size_t)n * C, *xr = x + (size_t)n * C;
        float *dxr = dx + (size_t)n * C;
        float m = mean[n], s = rstd[n], g_sum = 0, gx_sum = 0;
        for (int c = lane; c < C; c += 32) {
            float g = dyr[c] * w[c];
            g_sum += g;
            gx_sum += g * (xr[c] - m) * s;
        }
        float g_mean = warp_sum(g_sum) / (float)C, gx_mean = warp_sum(gx_sum) / (float)C;
        for (int c = lane; c < C; c += 32) {
            float d = dyr[c], xhat = (xr[c] - m) * s;
            dxr[c] += s * (d * w[c] - g_mean - xhat * gx_mean);
            atomicAdd(&dw_s[c], d * xhat); /* lanes hit distinct columns: contention only between warps */
            atomicAdd(&db_s[c], d);
        }
    }
    __syncthreads(); /* no thread returned early: every one reaches this barrier */
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        atomicAdd(&dw[c], dw_s[c]);
        atomicAdd(&db[c], db_s[c]);
    }
}

/* The wide-row fallback: a thread per row for dx ... */
static __global__ void layernorm_backward_dx_rows(float *dx, const float *dy, const float *x, const float *mean,
                                           const float *rstd, const float *w, int N, int C) {
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const float *dyr = dy + (size_t)n * C, *xr = x + (size_t)n * C;
    float *dxr = dx + (size_t)n * C;
    float m = mean[n], s = rstd[n], g_sum = 0, gx_sum = 0;
    for (int c = 0; c < C; c++) {
        float g = dyr[c] * w[c];
        g_sum += g;
        gx_sum += g * (xr[c] - m) * s;
    }
    float g_mean = g_sum / (float)C, gx_mean = gx_sum / (float)C;
    for (int c = 0; c < C; c++) dxr[c] += s * (dyr[c] * w[c] - g_mean - (xr[c] - m) * s * gx_mean);
}

/* ... and a thread per column for dw, db, in row order as the CPU adds them (coalesced across the
 * neighbouring columns). */
static __global__ void layernorm_backward_dwdb_cols(float *dw, float *db, const float *dy, const float *x,
                                                    const float *mean, const float *rstd, int N, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float dw_acc = dw[c], db_acc = db[c];
    for (int n = 0; n < N; n++) {
        float d = dy[(size_t)n * C + c];
        dw_acc += d * ((x[(size_t)n * C + c] - mean[n]) * rstd[n]);
        db_acc += d;
    }
    dw[c] = dw_acc, db[c] = db_acc;
}

extern "C" void cdz_cuda_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                                           const float *b, int N, int C) {
    if (N <= 0 || C <= 0) return;
    layernorm_forward_kernel<<<(N + LN_WARPS - 1) / LN_WARPS, LN_WARPS * 32>>>(y, mean, rstd, x, w, b, N, C);
    CUDA_LAUNCHED("layernorm_forward");
}

extern "C" void cdz_cuda_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                                            const float *mean, const float *rstd, const float *w, int N, int C) {
    if (N <= 0 || C <= 0) return;
    size_t smem = 2 * (size_t)C * sizeof(float);
    if (smem <= (size_t)nn_cuda_smem_optin()) {
        if (smem > 48 * 1024) /* past the default limit of dynamic shared memory: opt in */
            nn_cuda_record(cudaFuncSetAttribute(layernorm_backward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                (int)smem),
                           "layernorm_backward");
        /* two blocks per SM: enough warps to hide latency, few partials for the global atomics */
        int rows_blocks = (N + LN_WARPS - 1) / LN_WARPS, grid = 2 * nn_cuda_sm_count();
        if (rows_blocks < grid) grid = rows_blocks;
        layernorm_backward_kernel<<<grid, LN_WARPS * 32, smem>>>(dx, dw, db, dy, x, mean, rstd, w, N, C);
        CUDA_LAUNCHED("layernorm_backward");
        return;
    }
    layernorm_backward_dx_rows<<<(N + 255) / 256, 256>>>(dx, dy, x, mean, rstd, w, N, C);
    CUDA_LAUNCHED("layernorm_backward");
    layernorm_backward_dwdb_cols<<<(C + 255) / 256, 256>>>(dw, db, dy, x, mean, rstd, N, C);
    CUDA_LAUNCHED("layernorm_backward");
}

/* ---------------- GELU and ReLU ---------------- */

#define SQRT1_2 0.70710678118654752f     /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143268f /* 1/sqrt(2 pi) */

struct gelu_op {
    static __device__ float forward(float x) { return 0.5f * x * (1.0f + erff(x * SQRT1_2)); }
    /* dy (Phi(x) + x phi(x)) */
    static __device__ float backward(float x, float dy) {
        float cdf = 0.5f * (1.0f + erff(x * SQRT1_2)), pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
        return dy * (cdf + x * pdf);
    }
};

struct relu_op {
    static __device__ float forward(float x) { return x > 0.0f ? x : 0.0f; }
    static __device__ float backward(float x, float dy) { return x > 0.0f ? dy : 0.0f; } /* 0 at 0, as PyTorch */
};

/* Elements 4i .. 4i+3 as float4s for i < n4, then the rest one by one; n4 = 0 when a pointer is not
 * 16-byte aligned. y may be x: each element is read before it is written, by the same thread. */
template <class Op> static __global__ void unary_forward(float *y, const float *x, size_t n4, size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x, first = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (size_t i = first; i < n4; i += stride) {
        float4 v = reinterpret_cast<const float4 *>(x)[i];
        reinterpret_cast<float4 *>(y)[i] = make_float4(Op::forward(v.x), Op::forward(v.y), Op::forward(v.z),
                                                       Op::forward(v.w));
    }
    for (size_t i = 4 * n4 + first; i < n; i += stride) y[i] = Op::forward(x[i]);
}

/* dx += Op::backward(x, dy), laid out as unary_forward. */
template <class Op>
static __global__ void unary_backward(float *dx, const float *dy, const float *x, size_t n4, size_t n) {
    size_t stride = (size_t)gridDim.x * blockDim.x, first = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (size_t i = first; i < n4; i += stride) {
        float4 v = reinterpret_cast<const float4 *>(x)[i], g = reinterpret_cast<const float4 *>(dy)[i];
        float4 d = reinterpret_cast<float4 *>(dx)[i];
        d.x += Op::backward(v.x, g.x), d.y += Op::backward(v.y, g.y), d.z += Op::backward(v.z, g.z),
            d.w += Op::backward(v.w, g.w);
        reinterpret_cast<float4 *>(dx)[i] = d;
    }
    for (size_t i = 4 * n4 + first; i < n; i += stride) dx[i] += Op::backward(x[i], dy[i]);
}

template <class Op> static void forward(float *y, const float *x, size_t n, const char *where) {
    if (!n) return;
    size_t n4 = nn_cuda_aligned16(y) && nn_cuda_aligned16(x) ? n / 4 : 0;
    unary_forward<Op><<<nn_cuda_blocks(n4 ? n4 : n, CUDA_BLOCK), CUDA_BLOCK>>>(y, x, n4, n);
    CUDA_LAUNCHED(where);
}

template <class Op> static void backward(float *dx, const float *dy, const float *x, size_t n, const char *where) {
    if (!n) return;
    size_t n4 = nn_cuda_aligned16(dx) && nn_cuda_aligned16(dy) && nn_cuda_aligned16(x) ? n / 4 : 0;
    unary_backward<Op><<<nn_cuda_blocks(n4 ? n4 : n, CUDA_BLOCK), CUDA_BLOCK>>>(dx, dy, x, n4, n);
    CUDA_LAUNCHED(where);
}

extern "C" void cdz_cuda_gelu_forward(float *y, const float *x, size_t n) { forward<gelu_op>(y, x, n, "gelu_forward"); }
extern "C" void cdz_cuda_gelu_backward(float *dx, const float *dy, const float *x, size_t n) {
    backward<gelu_op>(dx, dy, x, n, "gelu_backward");
}
extern "C" void cdz_cuda_relu_forward(float *y, const float *x, size_t n) { forward<relu_op>(y, x, n, "relu_forward"); }
extern "C" void cdz_cuda_relu_backward(float *dx, const float *dy, const float *x, size_t n) {
    backward<relu_op>(dx, dy, x, n, "relu_backward");
}

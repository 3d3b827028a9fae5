/* AdamW and global-norm gradient clipping on the GPU: the mirror of src/nn/cpu/optim.c.
 *
 * AdamW (PyTorch's torch.optim.AdamW; Loshchilov and Hutter, "Decoupled weight decay
 * regularization", ICLR 2019): the CPU's float operations in the CPU's order, through the rounding
 * intrinsics (__fmul_rn, ...) so that nvcc fuses no multiply-add (the workbench's version 1,
 * dev/cuda/adamw.cu), and four parameters per thread through float4 (its version 2's layout) when
 * every pointer is 16-byte aligned. The two bias corrections are computed on the host in double
 * exactly as the CPU does. So the result should equal the CPU's bit for bit (the CPU is built with
 * -std=c11, where GCC contracts nothing into FMAs).
 * Clipping: the sum of squares in double as the CPU's, in a fixed order (each block's grid-stride
 * share, a block tree, then one block over the blocks' sums), copied back to the host, which
 * decides the scale exactly as the CPU does; the scaling is one multiply per element. */
#include <math.h>

#include "cuda_internal.h"

/* ---------------- AdamW ---------------- */

struct adamw_consts {
    float lr, beta1, beta2, eps, weight_decay, step_size, root_c2;
};

static __device__ inline void adamw_one(float &p, float g, float &m, float &v, const adamw_consts &k) {
    p = __fsub_rn(p, __fmul_rn(__fmul_rn(k.lr, k.weight_decay), p)); /* p -= lr * wd * p: decoupled decay */
    m = __fadd_rn(__fmul_rn(k.beta1, m), __fmul_rn(__fsub_rn(1.0f, k.beta1), g));
    v = __fadd_rn(__fmul_rn(k.beta2, v), __fmul_rn(__fmul_rn(__fsub_rn(1.0f, k.beta2), g), g));
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), k.root_c2), k.eps); /* sqrt(v) / root_c2 + eps */
    p = __fsub_rn(p, __fdiv_rn(__fmul_rn(k.step_size, m), denom));     /* p -= step_size * m / denom */
}

/* Parameters 4i .. 4i+3 as float4s for i < n4, then the rest one by one. */
static __global__ void adamw_kernel(float *params, const float *grads, float *m, float *v, size_t n4, size_t n,
                             adamw_consts k) {
    size_t stride = (size_t)gridDim.x * blockDim.x, first = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (size_t i = first; i < n4; i += stride) {
        float4 p = reinterpret_cast<float4 *>(params)[i], g = reinterpret_cast<const float4 *>(grads)[i];
        float4 mm = reinterpret_cast<float4 *>(m)[i], vv = reinterpret_cast<float4 *>(v)[i];
        adamw_one(p.x, g.x, mm.x, vv.x, k), adamw_one(p.y, g.y, mm.y, vv.y, k);
        adamw_one(p.z, g.z, mm.z, vv.z, k), adamw_one(p.w, g.w, mm.w, vv.w, k);
        reinterpret_cast<float4 *>(params)[i] = p, reinterpret_cast<float4 *>(m)[i] = mm;
        reinterpret_cast<float4 *>(v)[i] = vv;
    }
    for (size_t j = 4 * n4 + first; j < n; j += stride) adamw_one(params[j], grads[j], m[j], v[j], k);
}

extern "C" void cdz_cuda_adamw_step(float *params, const float *grads, float *m, float *v, size_t n,
                                    const cdz_adamw_params *p, int64_t step) {
    if (!n) return;
    /* exactly src/nn/cpu/optim.c: double corrections, rounded to float once */
    double c1 = 1.0 - pow(p->beta1, (double)step), c2 = 1.0 - pow(p->beta2, (double)step);
    adamw_consts k = {p->lr, p->beta1, p->beta2, p->eps, p->weight_decay, (float)(p->lr / c1), (float)sqrt(c2)};
    bool vec = nn_cuda_aligned16(params) && nn_cuda_aligned16(grads) && nn_cuda_aligned16(m) && nn_cuda_aligned16(v);
    size_t n4 = vec ? n / 4 : 0;
    adamw_kernel<<<nn_cuda_blocks(n4 ? n4 : n, CUDA_BLOCK), CUDA_BLOCK>>>(params, grads, m, v, n4, n, k);
    CUDA_LAUNCHED("adamw_step");
}

/* ---------------- gradient clipping ---------------- */

#define NORM_BLOCKS 1024 /* at most this many partial sums; a function of n alone, so the order is fixed */

static __global__ void sum_squares(double *partial, const float *g, size_t n) {
    double s = 0;
    size_t stride = (size_t)gridDim.x * blockDim.x;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) s += (double)g[i] * g[i];
    s = block_sum(s);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

/* One block: *norm = sqrt of the sum of the partials, rounded to float as the CPU's. */
static __global__ void norm_of(float *norm, const double *partial, int nblocks) {
    double s = 0;
    for (int i = threadIdx.x; i < nblocks; i += blockDim.x) s += partial[i];
    s = block_sum(s);
    if (threadIdx.x == 0) *norm = (float)sqrt(s);
}

static __global__ void scale_kernel(float *x, size_t n4, size_t n, float scale) {
    size_t stride = (size_t)gridDim.x * blockDim.x, first = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    for (size_t i = first; i < n4; i += stride) {
        float4 a = reinterpret_cast<float4 *>(x)[i];
        a.x *= scale, a.y *= scale, a.z *= scale, a.w *= scale;
        reinterpret_cast<float4 *>(x)[i] = a;
    }
    for (size_t i = 4 * n4 + first; i < n; i += stride) x[i] *= scale;
}

extern "C" float cdz_cuda_clip_grad_norm(float *grads, size_t n, float max_norm) {
    if (!n) return 0.0f; /* the CPU's sqrt(0) */
    unsigned nblocks = nn_cuda_blocks(n, CUDA_BLOCK);
    if (nblocks > NORM_BLOCKS) nblocks = NORM_BLOCKS;
    /* the partials (doubles) first, then the norm, in one piece of scratch */
    char *scratch = (char *)nn_cuda_scratch(nblocks * sizeof(double) + sizeof(double), "clip_grad_norm");
    if (!scratch) return NAN;
    double *partial = (double *)scratch;
    float *d_norm = (float *)(scratch + nblocks * sizeof(double)), norm = NAN;
    sum_squares<<<nblocks, CUDA_BLOCK>>>(partial, grads, n);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) {
        norm_of<<<1, 1024>>>(d_norm, partial, (int)nblocks);
        e = cudaGetLastError();
    }
    if (e == cudaSuccess) e = cudaMemcpy(&norm, d_norm, sizeof norm, cudaMemcpyDeviceToHost); /* waits */
    nn_cuda_record(e, "clip_grad_norm");
    nn_cuda_scratch_free(scratch, "clip_grad_norm");
    if (e != cudaSuccess) return NAN;
    if (norm > max_norm) { /* the CPU's test and scale, on the host in the same float operations */
        float scale = max_norm / (norm + 1e-6f);
        size_t n4 = nn_cuda_aligned16(grads) ? n / 4 : 0;
        scale_kernel<<<nn_cuda_blocks(n4 ? n4 : n, CUDA_BLOCK), CUDA_BLOCK>>>(grads, n4, n, scale);
        CUDA_LAUNCHED("clip_grad_norm");
    }
    return norm;
}

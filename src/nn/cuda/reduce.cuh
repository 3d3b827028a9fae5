/* Warp and block reductions for the row kernels of src/nn/cuda/, also used by the kernel workbench
 * (dev/cuda/common.h), so that both build on the same code. CUDA device code only.
 * Requirements: blockDim.x a multiple of 32 (at most 1024), and every thread of the block calling. */
#ifndef CADENZA_NN_CUDA_REDUCE_CUH
#define CADENZA_NN_CUDA_REDUCE_CUH

template <class T> __device__ inline T warp_sum(T v) {
    for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v; /* the butterfly leaves the total in every lane */
}

__device__ inline float warp_max(float v) {
    for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

/* The sum over the block, returned to every thread: each warp reduces with shuffles, the first warp
 * reduces the warps' totals. For a given blockDim the order of the additions is fixed, so the result
 * is the same from run to run. Calling it again at once is safe: a warp rewrites part[] only after
 * the second barrier, by which time the first warp has read it, and total only after the first
 * barrier of the next call, which every thread reaches after reading it. */
template <class T> __device__ inline T block_sum(T v) {
    __shared__ T part[32];
    __shared__ T total;
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = warp_sum(v);
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        T s = warp_sum(lane < nwarps ? part[lane] : (T)0);
        if (lane == 0) total = s;
    }
    __syncthreads();
    return total;
}

#endif

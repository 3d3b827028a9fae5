/* Shared by the files of src/nn/cuda/ only (CUDA C++): the error record, launch helpers, device
 * facts, stream-ordered scratch memory and the cuBLAS product. Everything runs on the legacy default
 * stream (stream 0) of the current device, so the passes, the buffer operations and cuBLAS are
 * ordered among themselves without events. */
#ifndef CADENZA_NN_CUDA_INTERNAL_H
#define CADENZA_NN_CUDA_INTERNAL_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "backend_cuda.h"
#include "cadenza/nn.h"
#include "reduce.cuh"

/* Records the first CUDA error of the process (nothing for cudaSuccess); `where` is a string
 * literal naming the pass or operation. Reported by cdz_cuda_check. */
void nn_cuda_record(cudaError_t e, const char *where);

/* After a launch: a refused launch (bad configuration, no kernel image, an earlier fault) becomes
 * the recorded error. cudaGetLastError also clears the thread's error, so that a later check does
 * not blame another pass for it. */
#define CUDA_LAUNCHED(where) nn_cuda_record(cudaGetLastError(), where)

/* Threads per block of the elementwise kernels. */
#define CUDA_BLOCK 256

/* Blocks for `work` items at `block` threads each, capped: the elementwise kernels loop over the
 * grid (grid-stride), so any count of items fits the grid's limits. At least 1; callers return
 * before launching when there is no work (a grid of 0 blocks is a launch error). */
static inline unsigned nn_cuda_blocks(size_t work, int block) {
    size_t b = (work + (size_t)block - 1) / (size_t)block;
    return b < 1 ? 1u : b > ((size_t)1 << 20) ? (1u << 20) : (unsigned)b;
}

/* 16-byte aligned: float4 loads and stores are allowed. cudaMalloc'ed buffers are (256 bytes), but
 * a pass may get a slice of a larger buffer (a model's parameters live in one), so the float4 paths
 * check every pointer and fall back to one element per thread. */
static inline bool nn_cuda_aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

/* The current device's multiprocessor count and the largest opt-in dynamic shared memory of a
 * block, asked once per process (defaults 1 and 48 KiB, and an error recorded, if that fails). */
int nn_cuda_sm_count(void);
int nn_cuda_smem_optin(void);

/* Scratch device memory, stream-ordered (cudaMallocAsync on stream 0) where the device has memory
 * pools: free it with nn_cuda_scratch_free after the work that uses it is queued. NULL, with the
 * error recorded, when none could be had. */
void *nn_cuda_scratch(size_t bytes, const char *where);
void nn_cuda_scratch_free(void *p, const char *where);

/* C (m, n) = A (m, k) B (k, n) + beta C in cuBLAS's column-major terms, fp32, alpha 1: ta / tb
 * transpose A / B as stored. Errors (cuBLAS not loadable, a failed call) are recorded. */
void nn_cuda_sgemm(bool ta, bool tb, int m, int n, int k, const float *A, int lda, const float *B, int ldb, float beta,
                float *C, int ldc, const char *where);

#endif

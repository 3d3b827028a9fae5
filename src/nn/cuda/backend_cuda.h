/* The CUDA backend's functions (src/nn/cuda/), for the table in backend_cuda.c, the registry in
 * src/nn/backend.c and the kernel workbench (dev/cuda/), which times and validates these shipped
 * kernels as its "library" versions. C and C++; no CUDA types, so C files can include it.
 *
 * Each cdz_cuda_<layer>_<pass> mirrors cdz_<layer>_<pass> of cadenza/nn.h (src/nn/cpu/): the same
 * arguments in the same order, the same contract (what is overwritten, what is added into, what may
 * alias), with every pointer a device pointer. They run on the CUDA default stream of device 0, in
 * call order, asynchronously to the host except where a value comes back to the host (the loss of
 * softmax_xent_forward, the norm of clip_grad_norm, a download).
 *
 * Errors: a pass cannot return a status. A CUDA or cuBLAS error met by any pass or buffer operation
 * (a launch refused, a fault found at the next synchronisation, scratch memory that could not be
 * had) is recorded once per process, the first one winning, and then reported by cdz_cuda_check
 * (so by cdz_backend_check) from then on: a failed kernel leaves its outputs undefined, so every
 * later result is suspect. The passes that return a float return NaN when their own work failed;
 * a failed download fills the host buffer with all-ones bytes (NaN floats). Thread safety: the
 * passes keep no state of their own beyond that error record and the cuBLAS handle (created once,
 * used under a lock). */
#ifndef CADENZA_NN_CUDA_BACKEND_CUDA_H
#define CADENZA_NN_CUDA_BACKEND_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "cadenza/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

extern const cdz_backend cdz_backend_cuda_table;

/* CDZ_OK when device 0 answers, can run this build's kernels, cuBLAS loads, and no pass has met an
 * error so far (it waits for the queued work first, so a fault in a kernel shows here). Otherwise
 * CDZ_ERR_UNSUPPORTED (no device, no driver, a GPU this build has no code for, no cuBLAS, a failed
 * pass) or CDZ_ERR_NOMEM (a pass could not get device memory), with CUDA's message. Only this and
 * the passes touch CUDA: a program that never asks for the cuda backend never initialises it. */
cdz_status cdz_cuda_check(cdz_error *err);

/* ---- buffers (cadenza/backend.h) ---- */
cdz_status cdz_cuda_alloc(void **buf, size_t bytes, cdz_error *err);
void cdz_cuda_release(void *buf);
void cdz_cuda_upload(void *dst, const void *host_src, size_t bytes);
void cdz_cuda_download(void *host_dst, const void *src, size_t bytes);
void cdz_cuda_zero(void *buf, size_t bytes);
void cdz_cuda_copy(void *dst, const void *src, size_t bytes); /* the ranges may overlap, as memmove */
void cdz_cuda_add(float *x, const float *y, size_t n);

/* ---- layers.cu ---- */
/* cuBLAS SGEMM in fp32 (its default math mode: no TF32), the bias and db by kernels. */
void cdz_cuda_linear_forward(float *y, const float *x, const float *w, const float *b, int N, int C, int OC);
void cdz_cuda_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N,
                              int C, int OC);
void cdz_cuda_embedding_forward(float *y, const uint16_t *tokens, const float *table, int N, int C);
/* atomicAdd into the table's rows: the order of the additions into a row varies between runs. */
void cdz_cuda_embedding_backward(float *dtable, const float *dy, const uint16_t *tokens, int N, int C);
float cdz_cuda_softmax_xent_forward(float *probs, const float *logits, const uint16_t *targets, int N, int V);
void cdz_cuda_softmax_xent_backward(float *dlogits, const float *probs, const uint16_t *targets, int N, int V);
/* The CPU's masks bit for bit (the same counter-based draws), the CPU's y and dx exactly. */
void cdz_cuda_dropout_forward(float *y, uint8_t *mask, const float *x, const cdz_dropout_site *s, float keep);
void cdz_cuda_dropout_backward(float *dx, const float *dy, const uint8_t *mask, size_t n, float keep);

/* ---- lstm.cu ---- */
void cdz_cuda_lstm_cell_forward(float *h, float *c, float *gates, const float *c_prev, int B, int H);
void cdz_cuda_lstm_cell_backward(float *dgates, float *dc_prev, const float *dh, const float *dc, const float *gates,
                                 const float *c, const float *c_prev, int B, int H);

/* ---- optim.cu ---- */
void cdz_cuda_adamw_step(float *params, const float *grads, float *m, float *v, size_t n, const cdz_adamw_params *p,
                         int64_t step);
float cdz_cuda_clip_grad_norm(float *grads, size_t n, float max_norm);

/* ---- transformer.cu ---- */
void cdz_cuda_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b,
                                int N, int C);
void cdz_cuda_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                                 const float *rstd, const float *w, int N, int C);
void cdz_cuda_gelu_forward(float *y, const float *x, size_t n);
void cdz_cuda_gelu_backward(float *dx, const float *dy, const float *x, size_t n);
void cdz_cuda_relu_forward(float *y, const float *x, size_t n);
void cdz_cuda_relu_backward(float *dx, const float *dy, const float *x, size_t n);

#ifdef __cplusplus
}
#endif
#endif

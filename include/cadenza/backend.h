/* cadenza backend: where the neural-network layers run. A backend is a table of buffer operations
 * and layer passes with the signatures of cadenza/nn.h, so a model calls its layers through the table
 * and the same model runs on the CPU, on a plain-loop reference, or on a GPU.
 *
 *   const cdz_backend *be = cdz_backend_find("reference");       // "cpu" (the default), "reference", "cuda"
 *   if (cdz_backend_check(be, &err) != CDZ_OK) ...                // a backend this build or machine lacks
 *   be->linear_forward(y, x, w, b, N, C, OC);                     // pointers are this backend's buffers
 *
 * The backends:
 *   cpu        the library's fp32 layers (src/nn/cpu/): OpenBLAS matrix products when the build found
 *              it, vectorised row loops. What every model uses unless told otherwise.
 *   reference  plain loops in fp32 with double accumulators and libm's exp, tanh and erf
 *              (src/nn/ref/): slow and obviously right, the yardstick the others are tested against
 *              (tests/test_backend.c compares every layer and whole models, with tolerances written
 *              beside each check).
 *   cuda       NVIDIA GPUs (src/nn/cuda/, built where nvcc exists): the kernels it has so far; the
 *              passes it lacks are NULL, and cdz_backend_missing names them. Its buffers are device
 *              memory: move data with upload and download. Its passes are queued on the GPU and
 *              return at once (except a returned float or a download, which wait); a CUDA error in
 *              any of them is kept, the first one, and reported by cdz_backend_check from then on
 *              (docs/backends.md).
 *
 * Buffers: cpu and reference share host memory (host_memory 1: their buffers are plain pointers and
 * upload/download are copies), so a model's parameters can be read by either without moving them.
 * Thread safety: the tables are constant; the passes keep no state (as cadenza/nn.h). */
#ifndef CADENZA_BACKEND_H
#define CADENZA_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "cadenza/core.h"
#include "cadenza/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cdz_backend {
    const char *name;  /* "cpu", "reference", "cuda" */
    int host_memory;   /* 1: buffers are host memory that the caller may read and write directly */

    /* ---- buffers ---- */
    /* *buf = bytes of this backend's memory, zeroed; CDZ_ERR_NOMEM (naming the size) on failure. */
    cdz_status (*alloc)(void **buf, size_t bytes, cdz_error *err);
    void (*release)(void *buf);
    void (*upload)(void *dst, const void *host_src, size_t bytes);    /* host -> backend */
    void (*download)(void *host_dst, const void *src, size_t bytes);  /* backend -> host */
    void (*zero)(void *buf, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);           /* within the backend */
    void (*add)(float *x, const float *y, size_t n);                  /* x += y */

    /* ---- layer passes: the contracts of cadenza/nn.h, function for function ---- */
    void (*linear_forward)(float *y, const float *x, const float *w, const float *b, int N, int C, int OC);
    void (*linear_backward)(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N,
                            int C, int OC);
    void (*embedding_forward)(float *y, const uint16_t *tokens, const float *table, int N, int C);
    void (*embedding_backward)(float *dtable, const float *dy, const uint16_t *tokens, int N, int C);
    float (*softmax_xent_forward)(float *probs, const float *logits, const uint16_t *targets, int N, int V);
    void (*softmax_xent_backward)(float *dlogits, const float *probs, const uint16_t *targets, int N, int V);
    void (*lstm_forward)(float *h, float *c, float *gates, const float *x, const float *h0, const float *c0,
                         const float *w_ih, const float *w_hh, const float *b, int T, int B, int C, int H);
    void (*lstm_backward)(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh, float *db, float *dgates,
                          const float *dh, const float *dc_T, const float *h, const float *c, const float *gates,
                          const float *x, const float *h0, const float *c0, const float *w_ih, const float *w_hh,
                          int T, int B, int C, int H);
    void (*lstm_cell_forward)(float *h, float *c, float *gates, const float *c_prev, int B, int H);
    void (*lstm_cell_backward)(float *dgates, float *dc_prev, const float *dh, const float *dc, const float *gates,
                               const float *c, const float *c_prev, int B, int H);
    void (*lstm_step)(float *h, float *c, float *gates, const float *x, const float *w_ih, const float *w_hh,
                      const float *b, int B, int C, int H);
    void (*dropout_forward)(float *y, uint8_t *mask, const float *x, const cdz_dropout_site *s, float keep);
    void (*dropout_backward)(float *dx, const float *dy, const uint8_t *mask, size_t n, float keep);
    void (*attn_lstm_forward)(float *o, const cdz_attn_lstm_acts *acts, const float *x, const cdz_attn_lstm_params *p,
                              int T, int B, int C, int H, int L);
    void (*attn_lstm_backward)(float *dx, const cdz_attn_lstm_grads *g, float *scratch, float *do_, const float *o,
                               const cdz_attn_lstm_acts *acts, const float *x, const cdz_attn_lstm_params *p, int T,
                               int B, int C, int H, int L);
    void (*attn_lstm_step)(float *o, float *h, float *c, float *d, float *slots_o, float *slots_hf, float *scratch,
                           const float *x, const cdz_attn_lstm_params *p, int B, int C, int H, int L);
    void (*adamw_step)(float *params, const float *grads, float *m, float *v, size_t n, const cdz_adamw_params *p,
                       int64_t step);
    float (*clip_grad_norm)(float *grads, size_t n, float max_norm);
    void (*layernorm_forward)(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                              int C);
    void (*layernorm_backward)(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                               const float *rstd, const float *w, int N, int C);
    void (*gelu_forward)(float *y, const float *x, size_t n);
    void (*gelu_backward)(float *dx, const float *dy, const float *x, size_t n);
    void (*relu_forward)(float *y, const float *x, size_t n);
    void (*relu_backward)(float *dx, const float *dy, const float *x, size_t n);
    void (*self_attention_forward)(float *y, float *att, float *scratch, const float *qkv, const float *er, int B, int T,
                                   int C, int NH, int R);
    void (*self_attention_backward)(float *dqkv, float *der, float *scratch, const float *dy, const float *att,
                                    const float *qkv, const float *er, int B, int T, int C, int NH, int R);
    void (*self_attention_step)(float *y, float *k_cache, float *v_cache, float *scratch, const float *qkv,
                                const float *er_t, int pos, int B, int C, int NH, int R, int S_max);
    void (*cross_attention_forward)(float *y, float *att, const float *q, const float *kv, const uint8_t *key_mask,
                                    int B, int Tq, int Tk, int C, int NH);
    void (*cross_attention_backward)(float *dq, float *dkv, float *scratch, const float *dy, const float *att,
                                     const float *q, const float *kv, int B, int Tq, int Tk, int C, int NH);
    /* audio layers (issue 17) */
    void (*conv1d_forward)(float *y, float *scratch, const float *x, const float *w, const float *b,
                           const cdz_conv1d_shape *s);
    void (*conv1d_backward)(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *x,
                            const float *w, const cdz_conv1d_shape *s);
    void (*conv_transpose1d_forward)(float *y, float *scratch, const float *x, const float *w, const float *b,
                                     const cdz_conv1d_shape *s);
    void (*conv_transpose1d_backward)(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *x,
                                      const float *w, const cdz_conv1d_shape *s);
    void (*pad1d_forward)(float *y, const float *x, int rows, int T, int left, int right, cdz_pad_mode mode);
    void (*pad1d_backward)(float *dx, const float *dy, int rows, int T, int left, int right, cdz_pad_mode mode);
    void (*elu_forward)(float *y, const float *x, size_t n, float alpha);
    void (*elu_backward)(float *dx, const float *dy, const float *x, size_t n, float alpha);
    void (*snake_forward)(float *y, const float *x, const float *alpha, int B, int C, int T);
    void (*snake_backward)(float *dx, float *dalpha, const float *dy, const float *x, const float *alpha, int B, int C,
                           int T);
    void (*weight_norm_forward)(float *w, float *norm, const float *v, const float *g, int O, int n);
    void (*weight_norm_backward)(float *dv, float *dg, const float *dw, const float *v, const float *g,
                                 const float *norm, int O, int n);
    void (*rvq_forward)(float *q, int32_t *codes, float *residuals, float *stage_q, float *scratch, const float *z,
                        const float *codebooks, int N, int D, int K, int n_q, int use);
    void (*rvq_backward)(float *dz, const float *dq, const float *residuals, const float *stage_q, int N, int D, int use,
                         float beta);
} cdz_backend;

/* The backends this build has, for listings: returns how many and sets *list. */
CDZ_API size_t cdz_backend_list(const cdz_backend *const **list);
/* The backend with this name ("cpu", "reference", "cuda"), or NULL when this build has none by it. */
CDZ_API const cdz_backend *cdz_backend_find(const char *name);
/* The default backend: the CPU's. */
CDZ_API const cdz_backend *cdz_backend_cpu(void);
/* The plain-loop reference backend (src/nn/ref/), the yardstick of the tests. */
CDZ_API const cdz_backend *cdz_backend_reference(void);
/* CDZ_OK when the backend can run here, else CDZ_ERR_UNSUPPORTED naming why. cuda: a device answered,
 * this build has code for it and cuBLAS loads (else the message starts with "no CUDA device" when
 * none answered, with the driver's message), and no pass has failed so far: it waits for the queued
 * work and reports the first error of any pass (CDZ_ERR_NOMEM when that was device memory). */
CDZ_API cdz_status cdz_backend_check(const cdz_backend *be, cdz_error *err);
/* The names of the layer passes the backend lacks, comma-separated into buf ("" when it has all). */
CDZ_API void cdz_backend_missing(const cdz_backend *be, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif

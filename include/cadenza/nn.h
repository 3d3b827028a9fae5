/* cadenza nn: layer passes, forward and backward, on flat fp32 buffers.
 *
 *   cdz_linear_forward(y, x, w, b, N, C, OC);                  // y (N, OC) = x (N, C) w^T + b
 *   float loss = cdz_softmax_xent_forward(probs, logits, targets, N, V);
 *   cdz_softmax_xent_backward(dlogits, probs, targets, N, V);
 *   cdz_linear_backward(dx, dw, db, dlogits, x, w, N, C, OC);  // accumulates into dx, dw, db
 *
 * Conventions (STYLE.md, "Numerical code"): outputs first, then saved activations, then inputs and
 * weights, then dimensions; backward passes add into gradients (the model zeroes them). This is the
 * CPU reference (src/nn/cpu/): matrix products use OpenBLAS when the build found it, plain loops
 * otherwise. Thread safety: the functions keep no state. */
#ifndef CADENZA_NN_H
#define CADENZA_NN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Which matrix-product code the library was built with: "openblas" or "loops". */
const char *cdz_nn_backend(void);

/* y (N, OC) = x (N, C) @ w (OC, C)^T + b (OC); b may be NULL. */
void cdz_linear_forward(float *y, const float *x, const float *w, const float *b, int N, int C, int OC);
/* dx (N, C) += dy @ w; dw (OC, C) += dy^T @ x; db (OC) += column sums of dy. dx or db may be NULL. */
void cdz_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N, int C,
                         int OC);

/* y (N, C) = rows of table (V, C) picked by tokens (N). Tokens must be below V (checked by the caller). */
void cdz_embedding_forward(float *y, const uint16_t *tokens, const float *table, int N, int C);
/* dtable (V, C) += dy rows at their tokens. */
void cdz_embedding_backward(float *dtable, const float *dy, const uint16_t *tokens, int N, int C);

/* probs (N, V) = softmax(logits); returns the mean over N of -log probs[target]. */
float cdz_softmax_xent_forward(float *probs, const float *logits, const uint16_t *targets, int N, int V);
/* dlogits (N, V) += (probs - onehot(target)) / N, the gradient of the mean loss. */
void cdz_softmax_xent_backward(float *dlogits, const float *probs, const uint16_t *targets, int N, int V);

/* One LSTM layer over T steps of B sequences (gate order i, f, g, o as PyTorch; fused: one matrix
 * product for the inputs of all steps, one per step for the recurrence).
 *   h (T, B, H) outputs; c (T, B, H) and gates (T, B, 4H, after their activations) saved for backward;
 *   x (T, B, C); h0, c0 (B, H) or NULL for zeros; w_ih (4H, C); w_hh (4H, H); b (4H) or NULL. */
void cdz_lstm_forward(float *h, float *c, float *gates, const float *x, const float *h0, const float *c0,
                      const float *w_ih, const float *w_hh, const float *b, int T, int B, int C, int H);
/* Backpropagation through time. dh (T, B, H) is the gradient of the outputs; dc_T (B, H) of the last
 * cell state, or NULL. Adds into dx (T, B, C; may be NULL), dh0, dc0 (B, H; may be NULL), dw_ih, dw_hh,
 * db (may be NULL). dgates is scratch space of T * B * 4H + 2 * B * H floats. */
void cdz_lstm_backward(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh, float *db, float *dgates,
                       const float *dh, const float *dc_T, const float *h, const float *c, const float *gates,
                       const float *x, const float *h0, const float *c0, const float *w_ih, const float *w_hh, int T,
                       int B, int C, int H);

/* ---- optimisation ---- */
typedef struct cdz_adamw_params {
    float lr, beta1, beta2, eps, weight_decay;
} cdz_adamw_params;
/* PyTorch's defaults: lr 1e-3, betas 0.9 and 0.999, eps 1e-8, weight decay 0.01. */
cdz_adamw_params cdz_adamw_default_params(void);
/* One AdamW step (PyTorch torch.optim.AdamW) over n parameters with their gradients and moments;
 * `step` counts from 1. */
void cdz_adamw_step(float *params, const float *grads, float *m, float *v, size_t n, const cdz_adamw_params *p, int64_t step);
/* Scales the gradients so their global L2 norm is at most max_norm (PyTorch clip_grad_norm_: by
 * max_norm / (norm + 1e-6) when over). Returns the norm before clipping. */
float cdz_clip_grad_norm(float *grads, size_t n, float max_norm);

#ifdef __cplusplus
}
#endif
#endif

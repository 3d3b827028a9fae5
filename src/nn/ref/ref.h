/* Shared by the files of src/nn/ref/ only: the reference backend's layer passes (each with the
 * signature and the contract of the cadenza/nn.h function of the same name without "ref_") and the
 * few scalar helpers they share.
 *
 * The rules every file here keeps: fp32 in and out as the contracts say, every sum accumulated in
 * double, the transcendental functions from libm in double (exp, log, tanh, erf, sqrt), no BLAS, no
 * vectorisation hints, no approximation. A gradient that gathers one sum is added to its (float)
 * destination once, so "accumulate" rounds once per call. */
#ifndef CADENZA_NN_REF_H
#define CADENZA_NN_REF_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "cadenza/nn.h"

/* dst += s, rounded once to float. */
static inline void ref_add(float *dst, double s) { *dst = (float)((double)*dst + s); }
/* sum over i < n of a[i] b[i], in double. */
static inline double ref_dot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}
static inline double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* ---- ref_layers.c ---- */
void ref_linear_forward(float *y, const float *x, const float *w, const float *b, int N, int C, int OC);
void ref_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N, int C,
                         int OC);
void ref_embedding_forward(float *y, const uint16_t *tokens, const float *table, int N, int C);
void ref_embedding_backward(float *dtable, const float *dy, const uint16_t *tokens, int N, int C);
float ref_softmax_xent_forward(float *probs, const float *logits, const uint16_t *targets, int N, int V);
void ref_softmax_xent_backward(float *dlogits, const float *probs, const uint16_t *targets, int N, int V);
void ref_dropout_forward(float *y, uint8_t *mask, const float *x, const cdz_dropout_site *s, float keep);
void ref_dropout_backward(float *dx, const float *dy, const uint8_t *mask, size_t n, float keep);
void ref_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                           int C);
void ref_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                            const float *rstd, const float *w, int N, int C);
void ref_gelu_forward(float *y, const float *x, size_t n);
void ref_gelu_backward(float *dx, const float *dy, const float *x, size_t n);
void ref_relu_forward(float *y, const float *x, size_t n);
void ref_relu_backward(float *dx, const float *dy, const float *x, size_t n);

/* ---- ref_lstm.c ---- */
void ref_lstm_cell_forward(float *h, float *c, float *gates, const float *c_prev, int B, int H);
void ref_lstm_cell_backward(float *dgates, float *dc_prev, const float *dh, const float *dc, const float *gates,
                            const float *c, const float *c_prev, int B, int H);
void ref_lstm_forward(float *h, float *c, float *gates, const float *x, const float *h0, const float *c0,
                      const float *w_ih, const float *w_hh, const float *b, int T, int B, int C, int H);
void ref_lstm_backward(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh, float *db, float *dgates,
                       const float *dh, const float *dc_T, const float *h, const float *c, const float *gates,
                       const float *x, const float *h0, const float *c0, const float *w_ih, const float *w_hh, int T,
                       int B, int C, int H);
void ref_lstm_step(float *h, float *c, float *gates, const float *x, const float *w_ih, const float *w_hh,
                   const float *b, int B, int C, int H);

/* ---- ref_attn_lstm.c ---- */
void ref_attn_lstm_forward(float *o, const cdz_attn_lstm_acts *acts, const float *x, const cdz_attn_lstm_params *p,
                           int T, int B, int C, int H, int L);
void ref_attn_lstm_backward(float *dx, const cdz_attn_lstm_grads *g, float *scratch, float *do_, const float *o,
                            const cdz_attn_lstm_acts *acts, const float *x, const cdz_attn_lstm_params *p, int T,
                            int B, int C, int H, int L);
void ref_attn_lstm_step(float *o, float *h, float *c, float *d, float *slots_o, float *slots_hf, float *scratch,
                        const float *x, const cdz_attn_lstm_params *p, int B, int C, int H, int L);

/* ---- ref_optim.c ---- */
void ref_adamw_step(float *params, const float *grads, float *m, float *v, size_t n, const cdz_adamw_params *p,
                    int64_t step);
float ref_clip_grad_norm(float *grads, size_t n, float max_norm);

/* ---- ref_attention.c ---- */
void ref_self_attention_forward(float *y, float *att, float *scratch, const float *qkv, const float *er, int B, int T,
                                int C, int NH, int R);
void ref_self_attention_backward(float *dqkv, float *der, float *scratch, const float *dy, const float *att,
                                 const float *qkv, const float *er, int B, int T, int C, int NH, int R);
void ref_self_attention_step(float *y, float *k_cache, float *v_cache, float *scratch, const float *qkv,
                             const float *er, int pos, int B, int C, int NH, int R, int S_max);
void ref_cross_attention_forward(float *y, float *att, const float *q, const float *kv, const uint8_t *key_mask, int B,
                                 int Tq, int Tk, int C, int NH);
void ref_cross_attention_backward(float *dq, float *dkv, float *scratch, const float *dy, const float *att,
                                  const float *q, const float *kv, int B, int Tq, int Tk, int C, int NH);


/* ---- ref_conv.c ---- */
void ref_conv1d_forward(float *y, float *scratch, const float *x, const float *w, const float *b, const cdz_conv1d_shape *s);
void ref_conv1d_backward(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *x, const float *w,
                         const cdz_conv1d_shape *s);
void ref_conv_transpose1d_forward(float *y, float *scratch, const float *x, const float *w, const float *b,
                                  const cdz_conv1d_shape *s);
void ref_conv_transpose1d_backward(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *x,
                                   const float *w, const cdz_conv1d_shape *s);
void ref_pad1d_forward(float *y, const float *x, int rows, int T, int left, int right, cdz_pad_mode mode);
void ref_pad1d_backward(float *dx, const float *dy, int rows, int T, int left, int right, cdz_pad_mode mode);
void ref_elu_forward(float *y, const float *x, size_t n, float alpha);
void ref_elu_backward(float *dx, const float *dy, const float *x, size_t n, float alpha);
void ref_snake_forward(float *y, const float *x, const float *alpha, int B, int C, int T);
void ref_snake_backward(float *dx, float *dalpha, const float *dy, const float *x, const float *alpha, int B, int C, int T);
void ref_weight_norm_forward(float *w, float *norm, const float *v, const float *g, int O, int n);
void ref_rvq_forward(float *q, int32_t *codes, float *residuals, float *stage_q, float *scratch, const float *z,
                     const float *codebooks, int N, int D, int K, int n_q, int use);
void ref_rvq_backward(float *dz, const float *dq, const float *residuals, const float *stage_q, int N, int D, int use, float beta);
void ref_weight_norm_backward(float *dv, float *dg, const float *dw, const float *v, const float *g, const float *norm,
                              int O, int n);

#endif

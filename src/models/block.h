/* The halves of a pre-norm transformer block that music_transformer.c and accompaniment.c share
 * (internal to src/models): the projection back into the residual stream that ends every half,
 * out = x + dropout(W y + b), and the whole feed-forward half, out = x + dropout(ff2(act(ff1(ln(x))))).
 * Each forward has its backward beside it; dropout is PyTorch-style (keep = 1 - p; keep 1: none).
 * Every layer pass goes through the backend nn (cadenza/backend.h). */
#ifndef CADENZA_MODELS_BLOCK_H
#define CADENZA_MODELS_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "cadenza/core.h"
#include "cadenza/model_kind.h"

/* Offsets of a feed-forward half's tensors into a model's params / grads. */
typedef struct blk_ff_off {
    size_t ln_w, ln_b, w1, b1, w2, b2;
} blk_ff_off;

/* A feed-forward half's saved activations for N rows: ln (N, C), mean and rstd (N), h = ff1 (N, F)
 * before the activation, act (N, F) after it, drop (N, C) the dropout mask (unused with keep 1). */
typedef struct blk_ff_acts {
    float *ln, *mean, *rstd, *h, *act;
    uint8_t *drop;
} blk_ff_acts;

/* dx (n) = the gradient through a dropout from dy (a copy with keep 1). */
void blk_dropout_grad(const cdz_backend *nn, float *dx, const float *dy, const uint8_t *mask, size_t n, float keep);

/* out (N, C) = x + dropout(y W^T + b), y (N, K); out may be x. tmp: (N, C), not x, y or out. site: where
 * the dropout draws (N = its B x T rows of C; unused with keep 1, may then be NULL). */
void blk_proj_residual_forward(const cdz_backend *nn, float *out, const float *x, const float *y, const float *w, const float *b, uint8_t *drop,
                               int N, int K, int C, float keep, const cdz_dropout_site *site, float *tmp);
/* From dout (N, C), the gradient of out: dy (N, K) = the gradient of y (overwritten); dw, db
 * accumulate. The residual's share, dout itself, stays with the caller. tmp: (N, C). */
void blk_proj_residual_backward(const cdz_backend *nn, float *dy, float *dw, float *db, const float *dout, const float *y, const float *w,
                                const uint8_t *drop, int N, int K, int C, float keep, float *tmp);

/* out (N, C) = x + dropout(ff2(act(ff1(ln(x))))), GELU (gelu 1) or ReLU; out may be x. Saves into a.
 * tmp: (N, C), none of the others. site as blk_proj_residual_forward's. */
void blk_ff_forward(const cdz_backend *nn, float *out, const float *x, const blk_ff_acts *a, const float *P, const blk_ff_off *o, int N, int C,
                    int F, int gelu, float keep, const cdz_dropout_site *site, float *tmp);
/* dx (N, C): on entry the gradient of out, on return that of x (the residual's plus the half's);
 * grads accumulate into G. x and a as the forward saw them. Scratch: da, db (N, C), dwide (N, 2F). */
void blk_ff_backward(const cdz_backend *nn, float *dx, float *G, const float *P, const blk_ff_off *o, const blk_ff_acts *a, const float *x, int N,
                     int C, int F, int gelu, float keep, float *da, float *db, float *dwide);

/* Offsets of the output head's tensors: ln_f, then the output projection to the vocabulary. */
typedef struct blk_head_off {
    size_t ln_w, ln_b, w, b;
} blk_head_off;

/* The head's saved activations for N rows: ln (N, C), mean and rstd (N), logits, probs and the
 * backward's dlogits (N, V). */
typedef struct blk_head_acts {
    float *ln, *mean, *rstd, *logits, *probs, *dlogits;
} blk_head_acts;

/* logits = output(ln_f(x)); returns the mean cross-entropy over the targets that are not
 * CDZ_IGNORE_TARGET and adds them to stats (may be NULL). */
float blk_head_forward(const cdz_backend *nn, const blk_head_acts *a, const float *x, const uint16_t *targets, const float *P,
                       const blk_head_off *o, int N, int C, int V, cdz_loss_stats *stats);
/* dx (N, C) = the gradient of x (overwritten); grads accumulate into G; da (N, C) is scratch. */
void blk_head_backward(const cdz_backend *nn, float *dx, float *G, const float *P, const blk_head_off *o, const blk_head_acts *a, const float *x,
                       const uint16_t *targets, int N, int C, int V, float *da);

/* The relative embeddings of `layers` layers (each (NH, R, D) at params + offsets[l]) transposed into
 * one new buffer of layers x (NH, D, R), the layout the attention step reads (cdz_self_attention_step);
 * NULL when out of memory. A session makes it at its first step: it sees the weights as they are then
 * (the model does not change while sessions use it). */
float *blk_transposed_er(const float *params, const size_t *offsets, int layers, int NH, int R, int D);

#endif

/* Pre-norm transformer block halves shared by the transformer model kinds (see block.h). */
#include <string.h>

#include "block.h"
#include "cadenza/model_kind.h"

void blk_dropout_grad(const cdz_backend *nn, float *dx, const float *dy, const uint8_t *mask, size_t n, float keep) {
    if (keep >= 1.0f) {
        nn->copy(dx, dy, n * sizeof *dx);
        return;
    }
    nn->zero(dx, n * sizeof *dx);
    nn->dropout_backward(dx, dy, mask, n, keep);
}

void blk_proj_residual_forward(const cdz_backend *nn, float *out, const float *x, const float *y, const float *w, const float *b, uint8_t *drop,
                               int N, int K, int C, float keep, const cdz_dropout_site *site, float *tmp) {
    const size_t NC = (size_t)N * C;
    nn->linear_forward(tmp, y, w, b, N, K, C);
    if (keep < 1.0f) nn->dropout_forward(tmp, drop, tmp, site, keep);
    if (out != x) nn->copy(out, x, NC * sizeof *out);
    nn->add(out, tmp, NC);
}

void blk_proj_residual_backward(const cdz_backend *nn, float *dy, float *dw, float *db, const float *dout, const float *y, const float *w,
                                const uint8_t *drop, int N, int K, int C, float keep, float *tmp) {
    blk_dropout_grad(nn, tmp, dout, drop, (size_t)N * C, keep);
    nn->zero(dy, (size_t)N * K * sizeof *dy);
    nn->linear_backward(dy, dw, db, tmp, y, w, N, K, C);
}

void blk_ff_forward(const cdz_backend *nn, float *out, const float *x, const blk_ff_acts *a, const float *P, const blk_ff_off *o, int N, int C,
                    int F, int gelu, float keep, const cdz_dropout_site *site, float *tmp) {
    const size_t NF = (size_t)N * F;
    nn->layernorm_forward(a->ln, a->mean, a->rstd, x, P + o->ln_w, P + o->ln_b, N, C);
    nn->linear_forward(a->h, a->ln, P + o->w1, P + o->b1, N, C, F);
    if (gelu) nn->gelu_forward(a->act, a->h, NF);
    else nn->relu_forward(a->act, a->h, NF);
    blk_proj_residual_forward(nn, out, x, a->act, P + o->w2, P + o->b2, a->drop, N, F, C, keep, site, tmp);
}

float blk_head_forward(const cdz_backend *nn, const blk_head_acts *a, const float *x, const uint16_t *targets, const float *P,
                       const blk_head_off *o, int N, int C, int V, cdz_loss_stats *stats) {
    nn->layernorm_forward(a->ln, a->mean, a->rstd, x, P + o->ln_w, P + o->ln_b, N, C);
    nn->linear_forward(a->logits, a->ln, P + o->w, P + o->b, N, C, V);
    float mean = nn->softmax_xent_forward(a->probs, a->logits, targets, N, V);
    if (stats) cdz_loss_stats_add(stats, a->probs, targets, N, V);
    return mean;
}

void blk_head_backward(const cdz_backend *nn, float *dx, float *G, const float *P, const blk_head_off *o, const blk_head_acts *a, const float *x,
                       const uint16_t *targets, int N, int C, int V, float *da) {
    const size_t NC = (size_t)N * C;
    nn->zero(a->dlogits, (size_t)N * V * sizeof *a->dlogits);
    nn->softmax_xent_backward(a->dlogits, a->probs, targets, N, V);
    nn->zero(da, NC * sizeof *da);
    nn->linear_backward(da, G + o->w, G + o->b, a->dlogits, a->ln, P + o->w, N, C, V);
    nn->zero(dx, NC * sizeof *dx);
    nn->layernorm_backward(dx, G + o->ln_w, G + o->ln_b, da, x, a->mean, a->rstd, P + o->ln_w, N, C);
}

void blk_ff_backward(const cdz_backend *nn, float *dx, float *G, const float *P, const blk_ff_off *o, const blk_ff_acts *a, const float *x, int N,
                     int C, int F, int gelu, float keep, float *da, float *db, float *dwide) {
    const size_t NF = (size_t)N * F;
    float *dact = dwide, *dh = dwide + NF;
    blk_proj_residual_backward(nn, dact, G + o->w2, G + o->b2, dx, a->act, P + o->w2, a->drop, N, F, C, keep, da);
    nn->zero(dh, NF * sizeof *dh);
    if (gelu) nn->gelu_backward(dh, dact, a->h, NF);
    else nn->relu_backward(dh, dact, a->h, NF);
    nn->zero(db, (size_t)N * C * sizeof *db);
    nn->linear_backward(db, G + o->w1, G + o->b1, dh, a->ln, P + o->w1, N, C, F);
    nn->layernorm_backward(dx, G + o->ln_w, G + o->ln_b, db, x, a->mean, a->rstd, P + o->ln_w, N, C);
}

float *blk_transposed_er(const float *params, const size_t *offsets, int layers, int NH, int R, int D) {
    const size_t per = (size_t)NH * (size_t)R * (size_t)D;
    float *t = cdz_calloc((size_t)layers * per, sizeof *t);
    for (int l = 0; t && l < layers; l++) cdz_self_attention_er_transpose(t + (size_t)l * per, params + offsets[l], NH, R, D);
    return t;
}

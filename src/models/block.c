/* Pre-norm transformer block halves shared by the transformer model kinds (see block.h). */
#include <string.h>

#include "block.h"
#include "cadenza/nn.h"

void blk_add(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
}

void blk_dropout_grad(float *dx, const float *dy, const uint8_t *mask, size_t n, float keep) {
    if (keep >= 1.0f) {
        memcpy(dx, dy, n * sizeof *dx);
        return;
    }
    memset(dx, 0, n * sizeof *dx);
    cdz_dropout_backward(dx, dy, mask, n, keep);
}

void blk_proj_residual_forward(float *out, const float *x, const float *y, const float *w, const float *b, uint8_t *drop,
                               int N, int K, int C, float keep, cdz_rng *rng, float *tmp) {
    const size_t NC = (size_t)N * C;
    cdz_linear_forward(tmp, y, w, b, N, K, C);
    if (keep < 1.0f) cdz_dropout_forward(tmp, drop, tmp, NC, keep, rng);
    if (out != x) memcpy(out, x, NC * sizeof *out);
    blk_add(out, tmp, NC);
}

void blk_proj_residual_backward(float *dy, float *dw, float *db, const float *dout, const float *y, const float *w,
                                const uint8_t *drop, int N, int K, int C, float keep, float *tmp) {
    blk_dropout_grad(tmp, dout, drop, (size_t)N * C, keep);
    memset(dy, 0, (size_t)N * K * sizeof *dy);
    cdz_linear_backward(dy, dw, db, tmp, y, w, N, K, C);
}

void blk_ff_forward(float *out, const float *x, const blk_ff_acts *a, const float *P, const blk_ff_off *o, int N, int C,
                    int F, int gelu, float keep, cdz_rng *rng, float *tmp) {
    const size_t NF = (size_t)N * F;
    cdz_layernorm_forward(a->ln, a->mean, a->rstd, x, P + o->ln_w, P + o->ln_b, N, C);
    cdz_linear_forward(a->h, a->ln, P + o->w1, P + o->b1, N, C, F);
    if (gelu) cdz_gelu_forward(a->act, a->h, NF);
    else cdz_relu_forward(a->act, a->h, NF);
    blk_proj_residual_forward(out, x, a->act, P + o->w2, P + o->b2, a->drop, N, F, C, keep, rng, tmp);
}

float blk_head_forward(const blk_head_acts *a, const float *x, const uint16_t *targets, const float *P,
                       const blk_head_off *o, int N, int C, int V, cdz_loss_stats *stats) {
    cdz_layernorm_forward(a->ln, a->mean, a->rstd, x, P + o->ln_w, P + o->ln_b, N, C);
    cdz_linear_forward(a->logits, a->ln, P + o->w, P + o->b, N, C, V);
    float mean = cdz_softmax_xent_forward(a->probs, a->logits, targets, N, V);
    if (stats) cdz_loss_stats_add(stats, a->probs, targets, N, V);
    return mean;
}

void blk_head_backward(float *dx, float *G, const float *P, const blk_head_off *o, const blk_head_acts *a, const float *x,
                       const uint16_t *targets, int N, int C, int V, float *da) {
    const size_t NC = (size_t)N * C;
    memset(a->dlogits, 0, (size_t)N * V * sizeof *a->dlogits);
    cdz_softmax_xent_backward(a->dlogits, a->probs, targets, N, V);
    memset(da, 0, NC * sizeof *da);
    cdz_linear_backward(da, G + o->w, G + o->b, a->dlogits, a->ln, P + o->w, N, C, V);
    memset(dx, 0, NC * sizeof *dx);
    cdz_layernorm_backward(dx, G + o->ln_w, G + o->ln_b, da, x, a->mean, a->rstd, P + o->ln_w, N, C);
}

void blk_ff_backward(float *dx, float *G, const float *P, const blk_ff_off *o, const blk_ff_acts *a, const float *x, int N,
                     int C, int F, int gelu, float keep, float *da, float *db, float *dwide) {
    const size_t NF = (size_t)N * F;
    float *dact = dwide, *dh = dwide + NF;
    blk_proj_residual_backward(dact, G + o->w2, G + o->b2, dx, a->act, P + o->w2, a->drop, N, F, C, keep, da);
    memset(dh, 0, NF * sizeof *dh);
    if (gelu) cdz_gelu_backward(dh, dact, a->h, NF);
    else cdz_relu_backward(dh, dact, a->h, NF);
    memset(db, 0, (size_t)N * C * sizeof *db);
    cdz_linear_backward(db, G + o->w1, G + o->b1, dh, a->ln, P + o->w1, N, C, F);
    cdz_layernorm_backward(dx, G + o->ln_w, G + o->ln_b, db, x, a->mean, a->rstd, P + o->ln_w, N, C);
}

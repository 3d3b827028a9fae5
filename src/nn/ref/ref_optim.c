/* The reference backend's optimiser passes: one AdamW step and global-norm gradient clipping, as
 * PyTorch's torch.optim.AdamW (decoupled weight decay, bias-corrected moments) and
 * torch.nn.utils.clip_grad_norm_ define them, each element in double, the moments stored as floats. */
#include <math.h>

#include "ref.h"

/* PyTorch's AdamW, for each parameter:
 *   p <- p (1 - lr wd)
 *   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2
 *   p <- p - (lr / (1 - b1^step)) m / (sqrt(v) / sqrt(1 - b2^step) + eps) */
void ref_adamw_step(float *params, const float *grads, float *m, float *v, size_t n, const cdz_adamw_params *p,
                    int64_t step) {
    double lr = p->lr, b1 = p->beta1, b2 = p->beta2, eps = p->eps, wd = p->weight_decay;
    double bc1 = 1.0 - pow(b1, (double)step), bc2 = 1.0 - pow(b2, (double)step);
    for (size_t i = 0; i < n; i++) {
        double g = grads[i], w = (double)params[i] * (1.0 - lr * wd);
        double mi = b1 * m[i] + (1.0 - b1) * g, vi = b2 * v[i] + (1.0 - b2) * g * g;
        w -= lr / bc1 * mi / (sqrt(vi) / sqrt(bc2) + eps);
        m[i] = (float)mi, v[i] = (float)vi, params[i] = (float)w;
    }
}

/* The global L2 norm, summed in double; when it is over max_norm every gradient is scaled by
 * max_norm / (norm + 1e-6) (PyTorch's clip coefficient). Returns the norm before clipping. */
float ref_clip_grad_norm(float *grads, size_t n, float max_norm) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)grads[i] * grads[i];
    double norm = sqrt(sum);
    if (norm > max_norm) {
        double scale = max_norm / (norm + 1e-6);
        for (size_t i = 0; i < n; i++) grads[i] = (float)(grads[i] * scale);
    }
    return (float)norm;
}

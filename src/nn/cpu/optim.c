/* AdamW and global-norm gradient clipping, as PyTorch does them. */
#include <math.h>

#include "cadenza/nn.h"

cdz_adamw_params cdz_adamw_default_params(void) {
    cdz_adamw_params p = {1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f};
    return p;
}

void cdz_adamw_step(float *params, const float *grads, float *m, float *v, size_t n, const cdz_adamw_params *p, int64_t step) {
    double c1 = 1.0 - pow(p->beta1, (double)step), c2 = 1.0 - pow(p->beta2, (double)step);
    float step_size = (float)(p->lr / c1), root_c2 = (float)sqrt(c2);
    for (size_t i = 0; i < n; i++) {
        float g = grads[i];
        params[i] -= p->lr * p->weight_decay * params[i]; /* decoupled weight decay */
        m[i] = p->beta1 * m[i] + (1 - p->beta1) * g;
        v[i] = p->beta2 * v[i] + (1 - p->beta2) * g * g;
        params[i] -= step_size * m[i] / (sqrtf(v[i]) / root_c2 + p->eps);
    }
}

float cdz_clip_grad_norm(float *grads, size_t n, float max_norm) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)grads[i] * grads[i];
    float norm = (float)sqrt(sum);
    if (norm > max_norm) {
        float scale = max_norm / (norm + 1e-6f);
        for (size_t i = 0; i < n; i++) grads[i] *= scale;
    }
    return norm;
}

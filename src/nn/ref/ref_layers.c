/* The reference backend's row and element layers: linear, embedding, softmax cross-entropy, dropout,
 * layer norm, GELU and ReLU, each written from its formula in cadenza/nn.h (and PyTorch's definitions
 * that nn.h names) as plain loops over the elements: every sum in double, libm's exp, log, erf and
 * sqrt in double, each result rounded to float once. Nothing here is fast; everything here should be
 * checkable by reading it against the formula beside it. */
#include <math.h>
#include <string.h>

#include "ref.h"

/* y[n][o] = b[o] + sum_c x[n][c] w[o][c]. */
void ref_linear_forward(float *y, const float *x, const float *w, const float *b, int N, int C, int OC) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = b ? (double)b[o] : 0.0;
            s += ref_dot(x + (size_t)n * C, w + (size_t)o * C, C);
            y[(size_t)n * OC + o] = (float)s;
        }
}

/* dx[n][c] += sum_o dy[n][o] w[o][c]; dw[o][c] += sum_n dy[n][o] x[n][c]; db[o] += sum_n dy[n][o]. */
void ref_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N, int C,
                         int OC) {
    if (dx)
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int o = 0; o < OC; o++) s += (double)dy[(size_t)n * OC + o] * w[(size_t)o * C + c];
                ref_add(&dx[(size_t)n * C + c], s);
            }
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += (double)dy[(size_t)n * OC + o] * x[(size_t)n * C + c];
            ref_add(&dw[(size_t)o * C + c], s);
        }
    if (db)
        for (int o = 0; o < OC; o++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += dy[(size_t)n * OC + o];
            ref_add(&db[o], s);
        }
}

void ref_embedding_forward(float *y, const uint16_t *tokens, const float *table, int N, int C) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) y[(size_t)n * C + c] = table[(size_t)tokens[n] * C + c];
}

/* Each table row used gets one add: the sum, in double, of the dy rows of every position holding
 * its token (found at the token's first position). */
void ref_embedding_backward(float *dtable, const float *dy, const uint16_t *tokens, int N, int C) {
    for (int n = 0; n < N; n++) {
        int seen = 0;
        for (int m = 0; m < n && !seen; m++) seen = tokens[m] == tokens[n];
        if (seen) continue;
        for (int c = 0; c < C; c++) {
            double s = 0;
            for (int m = n; m < N; m++)
                if (tokens[m] == tokens[n]) s += dy[(size_t)m * C + c];
            ref_add(&dtable[(size_t)tokens[n] * C + c], s);
        }
    }
}

/* probs = exp(l - max) / sum exp(l - max); the loss of a row is -log probs[t] = log(sum) - (l[t] - max),
 * taken from the logits rather than the rounded probability, so it stays exact when that underflows. */
float ref_softmax_xent_forward(float *probs, const float *logits, const uint16_t *targets, int N, int V) {
    double loss = 0;
    int count = 0;
    for (int n = 0; n < N; n++) {
        const float *l = logits + (size_t)n * V;
        double max = l[0], sum = 0;
        for (int v = 1; v < V; v++)
            if (l[v] > max) max = l[v];
        for (int v = 0; v < V; v++) sum += exp((double)l[v] - max);
        for (int v = 0; v < V; v++) probs[(size_t)n * V + v] = (float)(exp((double)l[v] - max) / sum);
        if (targets[n] != CDZ_IGNORE_TARGET) {
            /* capped at -log(1e-30), as nn.h states (a NaN passes: fmin would drop it) */
            double term = log(sum) - ((double)l[targets[n]] - max), cap = -log((double)1e-30f);
            loss += term > cap ? cap : term;
            count++;
        }
    }
    return count ? (float)(loss / count) : 0.0f;
}

/* dlogits[n][v] += (probs[n][v] - [v == target]) / count over the counted rows. */
void ref_softmax_xent_backward(float *dlogits, const float *probs, const uint16_t *targets, int N, int V) {
    int count = 0;
    for (int n = 0; n < N; n++) count += targets[n] != CDZ_IGNORE_TARGET;
    for (int n = 0; n < N; n++) {
        if (targets[n] == CDZ_IGNORE_TARGET) continue;
        for (int v = 0; v < V; v++) {
            double onehot = v == targets[n] ? 1.0 : 0.0;
            ref_add(&dlogits[(size_t)n * V + v], ((double)probs[(size_t)n * V + v] - onehot) / count);
        }
    }
}

/* Inverted dropout. The mask must be the CPU backend's for the same site (a model that trains on one
 * backend and is checked on another draws the same units), so each unit is drawn by the definition in
 * cadenza/nn.h, the key chain computed afresh for every unit: (b, t) from the unit's index by the
 * layout, then the top 24 bits of its value kept when below floor(keep * 2^24). */
void ref_dropout_forward(float *y, uint8_t *mask, const float *x, const cdz_dropout_site *s, float keep) {
    size_t n = (size_t)s->B * (size_t)s->T * (size_t)s->C;
    if (keep >= 1.0f) {
        for (size_t i = 0; i < n; i++) y[i] = x[i], mask[i] = 1;
        return;
    }
    double threshold = keep > 0.0f ? floor((double)keep * 16777216.0) : 0.0;
    for (size_t i = 0; i < n; i++) {
        size_t row = i / (size_t)s->C, c = i % (size_t)s->C;
        size_t b = s->time_major ? row % (size_t)s->B : row / (size_t)s->T;
        size_t t = s->time_major ? row / (size_t)s->B : row % (size_t)s->T;
        uint64_t bits = cdz_random_at(cdz_random_at(cdz_random_at(s->key, (uint64_t)(s->first + (int64_t)b)), t), c);
        mask[i] = (double)(bits >> 40) < threshold;
        y[i] = mask[i] ? (float)((double)x[i] / (double)keep) : 0.0f;
    }
}

void ref_dropout_backward(float *dx, const float *dy, const uint8_t *mask, size_t n, float keep) {
    double scale = keep >= 1.0f ? 1.0 : 1.0 / (double)keep;
    for (size_t i = 0; i < n; i++)
        if (mask[i]) ref_add(&dx[i], (double)dy[i] * scale);
}

#define REF_LAYERNORM_EPS 1e-5 /* PyTorch nn.LayerNorm's default */

/* mean and the biased variance of each row, both in double and by definition (the deviations from
 * the mean, not E[x^2] - E[x]^2); y = (x - mean) rstd w + b. mean and rstd are saved as floats, and
 * the backward pass reads them back as they were saved. */
void ref_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                           int C) {
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C;
        double mu = 0, var = 0;
        for (int c = 0; c < C; c++) mu += xn[c];
        mu /= C;
        for (int c = 0; c < C; c++) var += ((double)xn[c] - mu) * ((double)xn[c] - mu);
        var /= C;
        double rs = 1.0 / sqrt(var + REF_LAYERNORM_EPS);
        for (int c = 0; c < C; c++) y[(size_t)n * C + c] = (float)(((double)xn[c] - mu) * rs * w[c] + b[c]);
        mean[n] = (float)mu;
        rstd[n] = (float)rs;
    }
}

/* With xhat = (x - mean) rstd and g = dy w, the row's
 *   dx = rstd (g - mean_c(g) - xhat mean_c(g xhat)),
 * since xhat depends on every x of its row through the mean and rstd; dw += sum_n dy xhat, db += sum_n dy. */
void ref_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                            const float *rstd, const float *w, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * C, *dyn = dy + (size_t)n * C;
        double mu = mean[n], rs = rstd[n], g_mean = 0, gx_mean = 0;
        for (int c = 0; c < C; c++) {
            double g = (double)dyn[c] * w[c], xhat = ((double)xn[c] - mu) * rs;
            g_mean += g;
            gx_mean += g * xhat;
        }
        g_mean /= C;
        gx_mean /= C;
        for (int c = 0; c < C; c++) {
            double g = (double)dyn[c] * w[c], xhat = ((double)xn[c] - mu) * rs;
            ref_add(&dx[(size_t)n * C + c], rs * (g - g_mean - xhat * gx_mean));
        }
    }
    for (int c = 0; c < C; c++) {
        double sw = 0, sb = 0;
        for (int n = 0; n < N; n++) {
            double d = dy[(size_t)n * C + c], xhat = ((double)x[(size_t)n * C + c] - mean[n]) * (double)rstd[n];
            sw += d * xhat;
            sb += d;
        }
        ref_add(&dw[c], sw);
        ref_add(&db[c], sb);
    }
}

/* GELU(x) = x Phi(x) with Phi the standard normal CDF, Phi(x) = (1 + erf(x / sqrt 2)) / 2 (PyTorch
 * F.gelu's exact form). */
static double phi_cdf(double x) { return 0.5 * (1.0 + erf(x / sqrt(2.0))); }

void ref_gelu_forward(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (float)((double)x[i] * phi_cdf(x[i]));
}

/* d/dx [x Phi(x)] = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi). */
void ref_gelu_backward(float *dx, const float *dy, const float *x, size_t n) {
    const double pi = 3.14159265358979323846;
    for (size_t i = 0; i < n; i++) {
        double xi = x[i], pdf = exp(-0.5 * xi * xi) / sqrt(2.0 * pi);
        ref_add(&dx[i], (double)dy[i] * (phi_cdf(xi) + xi * pdf));
    }
}

void ref_relu_forward(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* The gradient at 0 is 0, as PyTorch's. */
void ref_relu_backward(float *dx, const float *dy, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (x[i] > 0.0f) ref_add(&dx[i], dy[i]);
}

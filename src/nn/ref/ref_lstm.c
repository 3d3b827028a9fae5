/* The reference backend's LSTM: the cell (PyTorch's gate order i, f, g, o), the layer over T steps
 * with backpropagation through time, and one step for generation, as plain loops in double from the
 * equations
 *   i = sigmoid(a_i), f = sigmoid(a_f), g = tanh(a_g), o = sigmoid(a_o)
 *   c_t = f c_{t-1} + i g,   h_t = o tanh(c_t)
 *   a = x_t w_ih^T + h_{t-1} w_hh^T + b
 * with the layouts of cadenza/nn.h: gates (.., 4H) saved after their activations, c saved for
 * backward, h0 / c0 NULL for zeros. */
#include <math.h>
#include <string.h>

#include "ref.h"

/* The activations overwrite the pre-activations in gates; c_prev may be c (read before written). */
void ref_lstm_cell_forward(float *h, float *c, float *gates, const float *c_prev, int B, int H) {
    for (int b = 0; b < B; b++) {
        float *g = gates + (size_t)b * 4 * H;
        for (int k = 0; k < H; k++) {
            double i = ref_sigmoid(g[k]), f = ref_sigmoid(g[H + k]), gg = tanh((double)g[2 * H + k]),
                   o = ref_sigmoid(g[3 * H + k]);
            double cp = c_prev ? (double)c_prev[(size_t)b * H + k] : 0.0;
            double ct = f * cp + i * gg;
            g[k] = (float)i, g[H + k] = (float)f, g[2 * H + k] = (float)gg, g[3 * H + k] = (float)o;
            c[(size_t)b * H + k] = (float)ct;
            h[(size_t)b * H + k] = (float)(o * tanh(ct));
        }
    }
}

/* From the saved activations: with dc_t = dc + dh o (1 - tanh^2 c_t), the total gradient of c_t,
 *   da_i = dc_t g i (1 - i),  da_f = dc_t c_{t-1} f (1 - f),  da_g = dc_t i (1 - g^2),
 *   da_o = dh tanh(c_t) o (1 - o),  dc_{t-1} = dc_t f.
 * dc_prev may be dc (each element is read before it is written). */
void ref_lstm_cell_backward(float *dgates, float *dc_prev, const float *dh, const float *dc, const float *gates,
                            const float *c, const float *c_prev, int B, int H) {
    for (int b = 0; b < B; b++) {
        const float *g = gates + (size_t)b * 4 * H;
        float *dg = dgates + (size_t)b * 4 * H;
        for (int k = 0; k < H; k++) {
            size_t e = (size_t)b * H + k;
            double i = g[k], f = g[H + k], gg = g[2 * H + k], o = g[3 * H + k];
            double cp = c_prev ? (double)c_prev[e] : 0.0, tc = tanh((double)c[e]), dhe = dh[e];
            double dct = (double)dc[e] + dhe * o * (1.0 - tc * tc);
            dg[k] = (float)(dct * gg * i * (1.0 - i));
            dg[H + k] = (float)(dct * cp * f * (1.0 - f));
            dg[2 * H + k] = (float)(dct * i * (1.0 - gg * gg));
            dg[3 * H + k] = (float)(dhe * tc * o * (1.0 - o));
            dc_prev[e] = (float)(dct * f);
        }
    }
}

/* The pre-activations of rows (B) of one step: a = b + x w_ih^T (+ hp w_hh^T when hp is given). */
static void preactivations(float *gates, const float *x, const float *hp, const float *w_ih, const float *w_hh,
                           const float *bias, int B, int C, int H) {
    for (int b = 0; b < B; b++)
        for (int q = 0; q < 4 * H; q++) {
            double s = bias ? (double)bias[q] : 0.0;
            s += ref_dot(x + (size_t)b * C, w_ih + (size_t)q * C, C);
            if (hp) s += ref_dot(hp + (size_t)b * H, w_hh + (size_t)q * H, H);
            gates[(size_t)b * 4 * H + q] = (float)s;
        }
}

void ref_lstm_forward(float *h, float *c, float *gates, const float *x, const float *h0, const float *c0,
                      const float *w_ih, const float *w_hh, const float *b, int T, int B, int C, int H) {
    const size_t bh = (size_t)B * H;
    for (int t = 0; t < T; t++) {
        float *gt = gates + (size_t)t * B * 4 * H;
        const float *hp = t ? h + (size_t)(t - 1) * bh : h0, *cp = t ? c + (size_t)(t - 1) * bh : c0;
        preactivations(gt, x + (size_t)t * B * C, hp, w_ih, w_hh, b, B, C, H);
        ref_lstm_cell_forward(h + (size_t)t * bh, c + (size_t)t * bh, gt, cp, B, H);
    }
}

/* Backpropagation through time. The scratch (T B 4H + 2 B H floats, as nn.h sizes it) holds the
 * pre-activation gradients of every step, then the gradient of c_t carried from step t + 1 to t,
 * then the total gradient of h_t of the step at hand. The gradient of h_t is dh_t plus what step
 * t + 1 sends back through its recurrence, w_hh^T da_{t+1}, read from the saved step t + 1. The weight
 * gradients are sums over every (step, row), each taken once in double at the end. */
void ref_lstm_backward(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh, float *db, float *dgates,
                       const float *dh, const float *dc_T, const float *h, const float *c, const float *gates,
                       const float *x, const float *h0, const float *c0, const float *w_ih, const float *w_hh, int T,
                       int B, int C, int H) {
    const int G = 4 * H;
    const size_t bh = (size_t)B * H, n = (size_t)T * B;
    float *dc_carry = dgates + n * G, *dh_total = dc_carry + bh;
    for (size_t e = 0; e < bh; e++) dc_carry[e] = dc_T ? dc_T[e] : 0.0f;
    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++)
            for (int k = 0; k < H; k++) {
                double s = dh[(size_t)t * bh + (size_t)b * H + k];
                if (t + 1 < T)
                    for (int q = 0; q < G; q++)
                        s += (double)dgates[((size_t)(t + 1) * B + b) * G + q] * w_hh[(size_t)q * H + k];
                dh_total[(size_t)b * H + k] = (float)s;
            }
        const float *cp = t ? c + (size_t)(t - 1) * bh : c0;
        ref_lstm_cell_backward(dgates + (size_t)t * B * G, dc_carry, dh_total, dc_carry, gates + (size_t)t * B * G,
                               c + (size_t)t * bh, cp, B, H);
    }
    /* into the initial state: h0 fed step 0's recurrence, c0 its cell */
    for (int b = 0; b < B; b++)
        for (int k = 0; k < H; k++) {
            size_t e = (size_t)b * H + k;
            if (dh0) {
                double s = 0;
                for (int q = 0; q < G; q++) s += (double)dgates[(size_t)b * G + q] * w_hh[(size_t)q * H + k];
                ref_add(&dh0[e], s);
            }
            if (dc0) ref_add(&dc0[e], dc_carry[e]);
        }
    if (dx)
        for (size_t r = 0; r < n; r++)
            for (int k = 0; k < C; k++) {
                double s = 0;
                for (int q = 0; q < G; q++) s += (double)dgates[r * G + q] * w_ih[(size_t)q * C + k];
                ref_add(&dx[r * C + k], s);
            }
    for (int q = 0; q < G; q++) {
        for (int k = 0; k < C; k++) {
            double s = 0;
            for (size_t r = 0; r < n; r++) s += (double)dgates[r * G + q] * x[r * C + k];
            ref_add(&dw_ih[(size_t)q * C + k], s);
        }
        /* step t's recurrence read h_{t-1}: h0 (zeros when NULL) for step 0, the saved h after */
        for (int k = 0; k < H; k++) {
            double s = 0;
            for (int t = 0; t < T; t++)
                for (int b = 0; b < B; b++) {
                    const float *hp = NULL;
                    if (t) hp = h + ((size_t)(t - 1) * B + b) * H;
                    else if (h0) hp = h0 + (size_t)b * H;
                    if (hp) s += (double)dgates[((size_t)t * B + b) * G + q] * hp[k];
                }
            ref_add(&dw_hh[(size_t)q * H + k], s);
        }
        if (db) {
            double s = 0;
            for (size_t r = 0; r < n; r++) s += dgates[r * G + q];
            ref_add(&db[q], s);
        }
    }
}

/* h, c (B, H) carried and updated in place; gates (B, 4H) scratch, left holding the activations. */
void ref_lstm_step(float *h, float *c, float *gates, const float *x, const float *w_ih, const float *w_hh,
                   const float *b, int B, int C, int H) {
    preactivations(gates, x, h, w_ih, w_hh, b, B, C, H);
    ref_lstm_cell_forward(h, c, gates, c, B, H);
}

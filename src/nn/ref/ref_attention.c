/* The reference backend's attention cores: causal multi-head self-attention, absolute or relative
 * (Huang et al., "Music Transformer", ICLR 2019, section 3.4.1, with distances clipped at R - 1 as
 * Shaw et al. 2018), one cached step of it, and the encoder-decoder cross-attention with a key mask,
 * with the layouts of cadenza/nn.h.
 *
 * Every logit is computed from its definition, one (query, key) pair at a time,
 *   logit[i][j] = (q_i . k_j + q_i . er[R-1-min(i-j, R-1)]) / sqrt(D),
 * rather than through the paper's skew of q er^T: that is the form the skew is an efficient way to
 * compute, so the optimised backends are checked against the definition itself. A softmax row is
 * taken in three passes in double (the row's max, the sum of exp(logit - max), the probabilities),
 * recomputing the logits rather than storing them. Masked entries are exactly 0.
 *
 * The backward passes go row by row: for query i, with p its probabilities and dp_j = dy_i . v_j,
 *   ds_j = p_j (dp_j - sum_l p_l dp_l) / sqrt(D)     (the gradient of q_i . k_j + the relative term)
 *   dq_i += sum_j ds_j (k_j + er[row(i, j)]),  dk_j += ds_j q_i,  dv_j += p_j dy_i,
 *   der[row(i, j)] += ds_j q_i,
 * each sum over j in double; keys and embedding rows gather their rows' shares with one add per row.
 * ds of one row is kept in the scratch: T (self) or Tk (cross) floats, within what nn.h sizes. */
#include <math.h>
#include <string.h>

#include "ref.h"

/* One (sequence, head): row i of q at q + i * ldq, row j of k and v at k + j * ldkv, v + j * ldkv;
 * er the head's (R, D) embeddings, or NULL. */
typedef struct ref_head {
    const float *q, *k, *v, *er;
    int ldq, ldkv, D, R;
    double scale;
} ref_head;

/* The embedding row of the distance i - j, clipped at R - 1 (row 0, the farthest). */
static int rel_row(int i, int j, int R) {
    int dist = i - j;
    return R - 1 - (dist < R - 1 ? dist : R - 1);
}

/* The logit of query row qi, at position i, against key j. */
static double logit(const ref_head *h, const float *qi, int i, int j) {
    double s = ref_dot(qi, h->k + (size_t)j * h->ldkv, h->D);
    if (h->er) s += ref_dot(qi, h->er + (size_t)rel_row(i, j, h->R) * h->D, h->D);
    return s * h->scale;
}

/* p[0..Tk) = the softmax of the logits of query row qi (position i) over the keys j < n with
 * keep[j] != 0 (keep NULL: all); 0 elsewhere, and all 0 when no key takes part. */
static void softmax_row(float *p, const ref_head *h, const float *qi, int i, int n, const uint8_t *keep, int Tk) {
    double max = -INFINITY, sum = 0;
    int any = 0;
    for (int j = 0; j < n; j++)
        if (!keep || keep[j]) {
            double l = logit(h, qi, i, j);
            if (!any || l > max) max = l;
            any = 1;
        }
    for (int j = 0; j < n; j++)
        if (any && (!keep || keep[j])) sum += exp(logit(h, qi, i, j) - max);
    for (int j = 0; j < Tk; j++)
        p[j] = any && j < n && (!keep || keep[j]) ? (float)(exp(logit(h, qi, i, j) - max) / sum) : 0.0f;
}

/* y row (D) = sum over j < n of p_j v_j. */
static void read_values(float *y, const float *p, const ref_head *h, int n) {
    for (int d = 0; d < h->D; d++) {
        double s = 0;
        for (int j = 0; j < n; j++) s += (double)p[j] * h->v[(size_t)j * h->ldkv + d];
        y[d] = (float)s;
    }
}

/* The gradients of query i (probabilities p over keys j < n) from dy_i (D): into dq_i, the dk_j and
 * dv_j rows (same offsets and strides as q, k, v) and der (NULL in absolute mode). ds: n floats. */
static void row_backward(float *dq, float *dk, float *dv, float *der, float *ds, const float *dyi, const float *p,
                         const ref_head *h, int i, int n) {
    const int D = h->D;
    const float *qi = h->q + (size_t)i * h->ldq;
    double pdp = 0;
    for (int j = 0; j < n; j++) pdp += (double)p[j] * ref_dot(dyi, h->v + (size_t)j * h->ldkv, D);
    for (int j = 0; j < n; j++) ds[j] = (float)(p[j] * (ref_dot(dyi, h->v + (size_t)j * h->ldkv, D) - pdp) * h->scale);
    for (int d = 0; d < D; d++) {
        double s = 0;
        for (int j = 0; j < n; j++) {
            s += (double)ds[j] * h->k[(size_t)j * h->ldkv + d];
            if (h->er) s += (double)ds[j] * h->er[(size_t)rel_row(i, j, h->R) * D + d];
        }
        ref_add(&dq[(size_t)i * h->ldq + d], s);
    }
    for (int j = 0; j < n; j++)
        for (int d = 0; d < D; d++) {
            ref_add(&dk[(size_t)j * h->ldkv + d], (double)ds[j] * qi[d]);
            ref_add(&dv[(size_t)j * h->ldkv + d], (double)p[j] * dyi[d]);
        }
    if (der) {
        /* a distance below R - 1 has its embedding row to itself; every key at distance R - 1 or more
         * shares row 0, which gets the sum of their ds */
        double far = 0;
        int any_far = 0;
        for (int j = 0; j < n; j++) {
            int r = rel_row(i, j, h->R);
            if (r == 0) {
                far += ds[j], any_far = 1;
                continue;
            }
            for (int d = 0; d < D; d++) ref_add(&der[(size_t)r * D + d], (double)ds[j] * qi[d]);
        }
        if (any_far)
            for (int d = 0; d < D; d++) ref_add(&der[d], far * qi[d]);
    }
}

/* ---- causal self-attention ---- */

/* Head hh of sequence b in qkv (B, T, 3C) = (B, T, 3, NH, D); er (NH, R, D) or NULL. */
static ref_head self_head(const float *qkv, const float *er, int b, int hh, int T, int C, int NH, int R) {
    int D = C / NH;
    const float *q = qkv + (size_t)b * T * 3 * C + (size_t)hh * D;
    ref_head h = {q, q + C, q + 2 * C, er ? er + (size_t)hh * R * D : NULL, 3 * C, 3 * C, D, R, 1.0 / sqrt((double)D)};
    return h;
}

/* The forward needs no scratch (it may be NULL in both modes here). */
void ref_self_attention_forward(float *y, float *att, float *scratch, const float *qkv, const float *er, int B, int T,
                                int C, int NH, int R) {
    CDZ_ASSERT(NH > 0 && C % NH == 0 && (!er || R > 0));
    (void)scratch;
    const int D = C / NH;
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < NH; hh++) {
            ref_head h = self_head(qkv, er, b, hh, T, C, NH, R);
            float *a = att + ((size_t)b * NH + hh) * T * T;
            for (int i = 0; i < T; i++) {
                float *p = a + (size_t)i * T;
                softmax_row(p, &h, h.q + (size_t)i * h.ldq, i, i + 1, NULL, T);
                read_values(y + ((size_t)b * T + i) * C + (size_t)hh * D, p, &h, i + 1);
            }
        }
}

/* scratch: T floats (one row's ds). */
void ref_self_attention_backward(float *dqkv, float *der, float *scratch, const float *dy, const float *att,
                                 const float *qkv, const float *er, int B, int T, int C, int NH, int R) {
    CDZ_ASSERT(NH > 0 && C % NH == 0 && (!er || (R > 0 && der)));
    const int D = C / NH;
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < NH; hh++) {
            ref_head h = self_head(qkv, er, b, hh, T, C, NH, R);
            float *dq = dqkv + (h.q - qkv);
            const float *a = att + ((size_t)b * NH + hh) * T * T;
            for (int i = 0; i < T; i++)
                row_backward(dq, dq + C, dq + 2 * C, er ? der + (size_t)hh * R * D : NULL, scratch,
                             dy + ((size_t)b * T + i) * C + (size_t)hh * D, a + (size_t)i * T, &h, i, i + 1);
        }
}

/* The new token at position pos against the cached keys 0..pos: row pos of the forward pass, the
 * probabilities (pos + 1 floats) in the scratch. */
/* The caches are rings of S_max entries: the token at position j sits at index j mod S_max (keys
 * transposed, (D, S_max) per head; values (S_max, D)), and the query at pos sees the last
 * n = min(pos + 1, S_max) positions, pos - n + 1 .. pos, at their true distances; er_t is the head's
 * relative embeddings transposed, (D, R). The probabilities are kept in the scratch (n floats). */
static double step_logit(const float *q, const float *kt, const float *er_t, int pos, int j, int D, int R, int S_max,
                         double scale) {
    double l = 0;
    for (int d = 0; d < D; d++) l += (double)q[d] * kt[(size_t)d * S_max + (size_t)(j % S_max)];
    if (er_t) {
        int row = rel_row(pos, j, R);
        for (int d = 0; d < D; d++) l += (double)q[d] * er_t[(size_t)d * R + (size_t)row];
    }
    return l * scale;
}

void ref_self_attention_step(float *y, float *k_cache, float *v_cache, float *scratch, const float *qkv,
                             const float *er_t, int pos, int B, int C, int NH, int R, int S_max) {
    CDZ_ASSERT(NH > 0 && C % NH == 0 && pos >= 0 && S_max > 0 && (!er_t || R > 0));
    const int D = C / NH, n = pos + 1 < S_max ? pos + 1 : S_max, first = pos + 1 - n;
    const double scale = 1.0 / sqrt((double)D);
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < NH; hh++) {
            const float *q = qkv + (size_t)b * 3 * C + (size_t)hh * D;
            const float *eh = er_t ? er_t + (size_t)hh * D * R : NULL;
            float *kt = k_cache + ((size_t)b * NH + hh) * S_max * D, *vc = v_cache + ((size_t)b * NH + hh) * S_max * D;
            size_t slot = (size_t)(pos % S_max);
            for (int d = 0; d < D; d++) kt[(size_t)d * S_max + slot] = q[C + d], vc[slot * D + d] = q[2 * C + d];
            double max = -INFINITY, sum = 0;
            for (int t = 0; t < n; t++) {
                double l = step_logit(q, kt, eh, pos, first + t, D, R, S_max, scale);
                if (l > max) max = l;
            }
            for (int t = 0; t < n; t++) sum += exp(step_logit(q, kt, eh, pos, first + t, D, R, S_max, scale) - max);
            for (int t = 0; t < n; t++)
                scratch[t] = (float)(exp(step_logit(q, kt, eh, pos, first + t, D, R, S_max, scale) - max) / sum);
            float *yh = y + (size_t)b * C + (size_t)hh * D;
            for (int d = 0; d < D; d++) {
                double acc = 0;
                for (int t = 0; t < n; t++) acc += (double)scratch[t] * vc[(size_t)((first + t) % S_max) * D + d];
                yh[d] = (float)acc;
            }
        }
}

/* ---- cross-attention ---- */

/* Head hh of sequence b: q from (B, Tq, C), k and v from kv (B, Tk, 2C). */
static ref_head cross_head(const float *q, const float *kv, int b, int hh, int Tq, int Tk, int C, int NH) {
    int D = C / NH;
    const float *qh = q + (size_t)b * Tq * C + (size_t)hh * D, *kh = kv + (size_t)b * Tk * 2 * C + (size_t)hh * D;
    ref_head h = {qh, kh, kh + C, NULL, C, 2 * C, D, 0, 1.0 / sqrt((double)D)};
    return h;
}

void ref_cross_attention_forward(float *y, float *att, const float *q, const float *kv, const uint8_t *key_mask, int B,
                                 int Tq, int Tk, int C, int NH) {
    CDZ_ASSERT(NH > 0 && C % NH == 0);
    const int D = C / NH;
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < NH; hh++) {
            ref_head h = cross_head(q, kv, b, hh, Tq, Tk, C, NH);
            for (int i = 0; i < Tq; i++) {
                float *p = att + (((size_t)b * NH + hh) * Tq + i) * Tk;
                softmax_row(p, &h, h.q + (size_t)i * h.ldq, i, Tk, key_mask ? key_mask + (size_t)b * Tk : NULL, Tk);
                read_values(y + ((size_t)b * Tq + i) * C + (size_t)hh * D, p, &h, Tk);
            }
        }
}

/* The mask acts through att, whose masked entries are 0: they give ds = 0 and no value gradient.
 * scratch: Tk floats. */
void ref_cross_attention_backward(float *dq, float *dkv, float *scratch, const float *dy, const float *att,
                                  const float *q, const float *kv, int B, int Tq, int Tk, int C, int NH) {
    CDZ_ASSERT(NH > 0 && C % NH == 0);
    const int D = C / NH;
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < NH; hh++) {
            ref_head h = cross_head(q, kv, b, hh, Tq, Tk, C, NH);
            float *dqh = dq + (h.q - q), *dk = dkv + (h.k - kv);
            for (int i = 0; i < Tq; i++)
                row_backward(dqh, dk, dk + C, NULL, scratch, dy + ((size_t)b * Tq + i) * C + (size_t)hh * D,
                             att + (((size_t)b * NH + hh) * Tq + i) * Tk, &h, i, Tk);
        }
}

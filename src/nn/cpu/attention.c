/* Transformer attention cores, CPU reference (fp32): causal multi-head self-attention with absolute
 * positions or with relative ones (Huang et al., "Music Transformer", ICLR 2019, section 3.4.1), the
 * encoder-decoder cross-attention, and one step of self-attention against a key/value cache for
 * generation. The formulas and layouts are in cadenza/nn.h.
 *
 * Promises: heads are read in place from the caller's qkv layout (leading dimensions, no copies); the
 * only per-head T x T tensor is the attention matrix the caller saves, plus scratch of a few rows of
 * it; no T x T x D tensor exists (the relative term is q @ er^T, then an index remapping). Masked
 * entries of the attention matrix are exactly 0. The step function gives the full forward pass's
 * output at its position, up to the rounding of the matrix products. */
#include <math.h>
#include <string.h>

#include "cadenza/nn.h"
#include "nn_internal.h"

/* Queries handled per matrix product. In the causal passes row block [i0, i1) only meets keys
 * 0 .. i1-1, so the products skip most of the masked upper triangle, and scratch holds a block of
 * rows instead of a whole T x T matrix. */
enum { ROWS = 64 };

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }

/* One (sequence, head) of an attention, read in place from the caller's layouts. */
typedef struct head {
    const float *q;       /* (Tq, D), row stride ldq */
    const float *k, *v;   /* (Tk, D), row stride ldkv */
    const float *er;      /* (Tr, D): er rows R-Tr .. R-1, i.e. distances Tr-1 .. 0; NULL when absolute */
    const uint8_t *keep;  /* (Tk) keys that take part, or NULL for all */
    int Tq, Tk, Tr, D, ldq, ldkv;
    int causal;           /* query i sees keys 0..i (self-attention, Tq == Tk) */
} head;

/* Where a head's gradients go: the same offsets and strides as its inputs. */
typedef struct head_grad {
    float *dq, *dk, *dv, *der;
} head_grad;

/* ---- row kernels ---- */

/* p[0..len) = softmax(scale * p[0..len)), shifted by the row's max so exp cannot overflow;
 * p[len..n) = 0 exactly (the causal mask). */
NN_CLONES static void softmax_prefix(float *p, int len, int n, float scale) {
    float max = p[0], sum = 0;
#pragma omp simd reduction(max : max)
    for (int j = 1; j < len; j++) max = p[j] > max ? p[j] : max;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < len; j++) {
        p[j] = nn_exp((p[j] - max) * scale);
        sum += p[j];
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < len; j++) p[j] *= inv;
    for (int j = len; j < n; j++) p[j] = 0.0f;
}

/* The same over the keys with keep[j] != 0; the others get 0 exactly. A row with no key to attend
 * to (every encoder step padded) gets all zeros, so its read is zero rather than NaN. */
NN_CLONES static void softmax_kept(float *p, const uint8_t *keep, int n, float scale) {
    float max = -INFINITY, sum = 0;
#pragma omp simd reduction(max : max)
    for (int j = 0; j < n; j++) {
        float x = keep[j] ? p[j] : -INFINITY;
        max = x > max ? x : max;
    }
    if (max == -INFINITY) {
        memset(p, 0, (size_t)n * sizeof *p);
        return;
    }
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) {
        p[j] = keep[j] ? nn_exp((p[j] - max) * scale) : 0.0f;
        sum += p[j];
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < n; j++) p[j] *= inv;
}

/* d holds dL/dp of one row and becomes dL/dlogit (before the 1/sqrt(D) scaling, i.e. the gradient of
 * q.k + S_rel): p (d - p.d) scale. Masked entries have p = 0 and so get 0. */
NN_CLONES static void softmax_backward_row(float *d, const float *p, int n, float scale) {
    float pd = 0;
#pragma omp simd reduction(+ : pd)
    for (int j = 0; j < n; j++) pd += p[j] * d[j];
#pragma omp simd
    for (int j = 0; j < n; j++) d[j] = scale * p[j] * (d[j] - pd);
}

/* The skew of Huang et al. as an index remapping. qe (Tr) is query i's row of QEr = q er^T, where
 * qe[r] belongs to distance Tr-1-r. The logit of key j <= i gets S_rel[i][j] = qe[Tr-1-(i-j)]:
 * for the keys jc = i-(Tr-1) .. i that is the contiguous run qe[j - jc]; the keys before jc lie
 * further back than the embeddings reach and share qe[0], the largest distance (clipped, as Shaw et
 * al. 2018 clip relative positions).
 *
 * Equivalence with the paper's pad-reshape-slice (for Tr = T): left-pad each row of QEr with one zero
 * column, giving (T, T+1), reshape the same memory to (T+1, T) and drop the first row. Element (i, j)
 * of the result sits at flat offset (i+1)T + j of the padded matrix, i.e. padded row
 * i' = ((i+1)T + j) / (T+1), column ((i+1)T + j) mod (T+1); for j <= i that is row i, column
 * T - i + j, which is QEr[i][T-1-i+j] = qe[Tr-1-(i-j)] as above. The entries for j > i come out as
 * padding or the next row's values and are masked. Indexing directly skips the copy. */
NN_CLONES static void skew_add_row(float *logit, const float *qe, int i, int Tr) {
    int jc = i - (Tr - 1), j0 = imax(jc, 0);
    float far = qe[0];
    for (int j = 0; j < jc; j++) logit[j] += far;
    const float *src = qe + (j0 - jc);
    float *dst = logit + j0;
#pragma omp simd
    for (int t = 0; t <= i - j0; t++) dst[t] += src[t];
}

/* The adjoint of skew_add_row: dqe (Tr) += the logit gradients ds of query i, gathered back. */
NN_CLONES static void skew_backward_row(float *dqe, const float *ds, int i, int Tr) {
    int jc = i - (Tr - 1), j0 = imax(jc, 0);
    float far = 0;
#pragma omp simd reduction(+ : far)
    for (int j = 0; j < jc; j++) far += ds[j];
    dqe[0] += far;
    float *dst = dqe + (j0 - jc);
    const float *src = ds + j0;
#pragma omp simd
    for (int t = 0; t <= i - j0; t++) dst[t] += src[t];
}

/* ---- one head ---- */

/* Keys that queries [.., i1) see: all of them, or 0 .. i1-1 under the causal mask. */
static int keys_seen(const head *h, int i1) { return h->causal ? i1 : h->Tk; }

/* The first column of QEr that rows i0 .. i0+n-1 of a block read: row i reads columns
 * max(0, Tr-1-i) .. Tr-1, so the block's last row reaches furthest. Columns before it are distances
 * no row of the block has (early rows of the first block, with few keys behind them), and are
 * neither computed nor read. */
static int first_qe_column(const head *h, int i0, int n) { return imax(0, h->Tr - (i0 + n)); }

/* logits rows i0 .. i0+n-1 (a, row stride Tk) += S_rel, computed as QEr = q er^T, one matrix product
 * for the block (qe: n x Tr scratch), then the skew. */
static void add_relative(float *a, float *qe, const head *h, int i0, int n) {
    int Tr = h->Tr, r0 = first_qe_column(h, i0, n);
    memset(qe, 0, (size_t)n * Tr * sizeof *qe);
    nn_gemm_ld(0, 1, n, Tr - r0, h->D, h->q + (size_t)i0 * h->ldq, h->ldq, h->er + (size_t)r0 * h->D, h->D, qe + r0, Tr);
    for (int r = 0; r < n; r++) skew_add_row(a + (size_t)r * h->Tk, qe + (size_t)r * Tr, i0 + r, Tr);
}

/* y (Tq, D; row stride ldy) = softmax(mask((q k^T + S_rel) scale)) v; att (Tq, Tk) saves the
 * probabilities. qe: ROWS x Tr scratch, used in relative mode. */
static void head_forward(float *y, int ldy, float *att, float *qe, const head *h, float scale) {
    memset(att, 0, (size_t)h->Tq * h->Tk * sizeof *att);
    for (int i0 = 0; i0 < h->Tq; i0 += ROWS) {
        int n = imin(ROWS, h->Tq - i0), nk = keys_seen(h, i0 + n);
        float *a = att + (size_t)i0 * h->Tk;
        nn_gemm_ld(0, 1, n, nk, h->D, h->q + (size_t)i0 * h->ldq, h->ldq, h->k, h->ldkv, a, h->Tk);
        if (h->er) add_relative(a, qe, h, i0, n);
        for (int r = 0; r < n; r++) {
            float *row = a + (size_t)r * h->Tk;
            if (h->causal) softmax_prefix(row, i0 + r + 1, nk, scale);
            else if (h->keep) softmax_kept(row, h->keep, nk, scale);
            else softmax_prefix(row, nk, nk, scale);
        }
        nn_gemm_ld(0, 0, n, h->D, nk, a, h->Tk, h->v, h->ldkv, y + (size_t)i0 * ldy, ldy);
    }
}

/* The relative term's share of a block's backward: ds (n rows of stride nk) are the logit gradients;
 * dqe (n x Tr scratch) gathers them back through the skew, then dq += dqe er and der += dqe^T q. */
static void relative_backward(const head_grad *g, float *dqe, const float *ds, int nk, const head *h, int i0, int n) {
    int Tr = h->Tr, D = h->D, r0 = first_qe_column(h, i0, n);
    const float *q = h->q + (size_t)i0 * h->ldq;
    memset(dqe, 0, (size_t)n * Tr * sizeof *dqe);
    for (int r = 0; r < n; r++) skew_backward_row(dqe + (size_t)r * Tr, ds + (size_t)r * nk, i0 + r, Tr);
    nn_gemm_ld(0, 0, n, D, Tr - r0, dqe + r0, Tr, h->er + (size_t)r0 * D, D, g->dq + (size_t)i0 * h->ldq, h->ldq);
    nn_gemm_ld(1, 0, Tr - r0, D, n, dqe + r0, Tr, q, h->ldq, g->der + (size_t)r0 * D, D);
}

/* Adds the gradients of one head from dy (Tq, D; row stride ldy). Block by block of queries: dv +=
 * p^T dy, dp = dy v^T, ds through the softmax, dq += ds k, dk += ds^T q, and the relative term.
 * scratch: ROWS x (Tk + Tr). */
static void head_backward(const head_grad *g, float *scratch, const float *dy, int ldy, const float *att, const head *h,
                          float scale) {
    int D = h->D;
    for (int i0 = 0; i0 < h->Tq; i0 += ROWS) {
        int n = imin(ROWS, h->Tq - i0), nk = keys_seen(h, i0 + n);
        const float *a = att + (size_t)i0 * h->Tk, *q = h->q + (size_t)i0 * h->ldq, *dyb = dy + (size_t)i0 * ldy;
        float *ds = scratch, *dqe = scratch + (size_t)n * nk;
        nn_gemm_ld(1, 0, nk, D, n, a, h->Tk, dyb, ldy, g->dv, h->ldkv);
        memset(ds, 0, (size_t)n * nk * sizeof *ds);
        nn_gemm_ld(0, 1, n, nk, D, dyb, ldy, h->v, h->ldkv, ds, nk);
        for (int r = 0; r < n; r++) softmax_backward_row(ds + (size_t)r * nk, a + (size_t)r * h->Tk, nk, scale);
        nn_gemm_ld(0, 0, n, D, nk, ds, nk, h->k, h->ldkv, g->dq + (size_t)i0 * h->ldq, h->ldq);
        nn_gemm_ld(1, 0, nk, D, n, ds, nk, q, h->ldq, g->dk, h->ldkv);
        if (h->er) relative_backward(g, dqe, ds, nk, h, i0, n);
    }
}

/* ---- causal self-attention ---- */

/* How many embedding rows a pass over T steps reads: the distances 0 .. min(T, R)-1. */
static int rel_rows(int T, const float *er, int R) { return er ? imin(T, R) : 0; }

/* Head hh of sequence b in the (B, T, 3, NH, D) layout: q, k and v blocks C apart, rows 3C apart. */
static head self_head(const float *qkv, const float *er, int b, int hh, int T, int C, int NH, int R) {
    int D = C / NH, Tr = rel_rows(T, er, R);
    const float *q = qkv + (size_t)b * T * 3 * C + (size_t)hh * D;
    head h = {q, q + C, q + 2 * C, NULL, NULL, T, T, Tr, D, 3 * C, 3 * C, 1};
    if (er) h.er = er + ((size_t)hh * R + (size_t)(R - Tr)) * D;
    return h;
}

size_t cdz_self_attention_scratch_floats(int T, int R) {
    int Tr = R > 0 ? imin(T, R) : 0;
    return (size_t)imin(T, ROWS) * (size_t)(T + Tr);
}

static float inv_sqrt(int D) { return 1.0f / sqrtf((float)D); }

void cdz_self_attention_forward(float *y, float *att, float *scratch, const float *qkv, const float *er, int B, int T,
                                int C, int NH, int R) {
    CDZ_ASSERT(NH > 0 && C % NH == 0 && (!er || R > 0) && (!er || scratch));
    int D = C / NH;
    memset(y, 0, (size_t)B * T * C * sizeof *y);
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < NH; hh++) {
            head h = self_head(qkv, er, b, hh, T, C, NH, R);
            head_forward(y + (size_t)b * T * C + (size_t)hh * D, C, att + ((size_t)b * NH + hh) * T * T, scratch, &h,
                         inv_sqrt(D));
        }
}

void cdz_self_attention_backward(float *dqkv, float *der, float *scratch, const float *dy, const float *att,
                                 const float *qkv, const float *er, int B, int T, int C, int NH, int R) {
    CDZ_ASSERT(NH > 0 && C % NH == 0 && (!er || (R > 0 && der)));
    int D = C / NH;
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < NH; hh++) {
            head h = self_head(qkv, er, b, hh, T, C, NH, R);
            float *dq = dqkv + (h.q - qkv);
            head_grad g = {dq, dq + C, dq + 2 * C, NULL};
            if (er) g.der = der + (h.er - er);
            head_backward(&g, scratch, dy + (size_t)b * T * C + (size_t)hh * D, C, att + ((size_t)b * NH + hh) * T * T,
                          &h, inv_sqrt(D));
        }
}

/* ---- cross-attention ---- */

/* Head hh of sequence b: q from (B, Tq, C), k and v from (B, Tk, 2C). */
static head cross_head(const float *q, const float *kv, const uint8_t *key_mask, int b, int hh, int Tq, int Tk, int C,
                       int NH) {
    int D = C / NH;
    const float *qh = q + (size_t)b * Tq * C + (size_t)hh * D, *kh = kv + (size_t)b * Tk * 2 * C + (size_t)hh * D;
    head h = {qh, kh, kh + C, NULL, key_mask ? key_mask + (size_t)b * Tk : NULL, Tq, Tk, 0, D, C, 2 * C, 0};
    return h;
}

size_t cdz_cross_attention_scratch_floats(int Tq, int Tk) { return (size_t)imin(Tq, ROWS) * (size_t)Tk; }

void cdz_cross_attention_forward(float *y, float *att, const float *q, const float *kv, const uint8_t *key_mask, int B,
                                 int Tq, int Tk, int C, int NH) {
    CDZ_ASSERT(NH > 0 && C % NH == 0);
    int D = C / NH;
    memset(y, 0, (size_t)B * Tq * C * sizeof *y);
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < NH; hh++) {
            head h = cross_head(q, kv, key_mask, b, hh, Tq, Tk, C, NH);
            head_forward(y + (h.q - q), C, att + ((size_t)b * NH + hh) * Tq * Tk, NULL, &h, inv_sqrt(D));
        }
}

void cdz_cross_attention_backward(float *dq, float *dkv, float *scratch, const float *dy, const float *att,
                                  const float *q, const float *kv, int B, int Tq, int Tk, int C, int NH) {
    CDZ_ASSERT(NH > 0 && C % NH == 0);
    int D = C / NH;
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < NH; hh++) {
            head h = cross_head(q, kv, NULL, b, hh, Tq, Tk, C, NH);
            float *dk = dkv + (h.k - kv);
            head_grad g = {dq + (h.q - q), dk, dk + C, NULL};
            head_backward(&g, scratch, dy + (h.q - q), C, att + ((size_t)b * NH + hh) * Tq * Tk, &h, inv_sqrt(D));
        }
}

/* ---- one step with a key/value cache ---- */

size_t cdz_self_attention_step_scratch_floats(int S_max, int R) { return (size_t)S_max + (size_t)(R > 0 ? imin(S_max, R) : 0); }

/* y (D) += sum_j s[j] v[j] over n cached rows of v (D floats each): the attention read of one query,
 * as row updates that vectorise over D (a matrix product with one row pays more in set-up than in
 * arithmetic). */
NN_CLONES static void read_values(float *y, const float *s, const float *v, int n, int D) {
    for (int j = 0; j < n; j++) {
        const float sj = s[j], *vj = v + (size_t)j * D;
#pragma omp simd
        for (int d = 0; d < D; d++) y[d] += sj * vj[d];
    }
}

/* s (n) += q . columns of a transposed matrix: s[t] += sum_d q[d] m[d * ld + t], row updates that
 * vectorise over t (the keys, or the relative distances), each a contiguous run. */
NN_CLONES static void dot_columns(float *s, const float *q, const float *m, int ld, int n, int D) {
    for (int d = 0; d < D; d++) {
        const float qd = q[d], *row = m + (size_t)d * ld;
#pragma omp simd
        for (int t = 0; t < n; t++) s[t] += qd * row[t];
    }
}

void cdz_self_attention_er_transpose(float *er_t, const float *er, int NH, int R, int D) {
    for (int h = 0; h < NH; h++)
        for (int r = 0; r < R; r++)
            for (int d = 0; d < D; d++) er_t[((size_t)h * D + d) * R + r] = er[((size_t)h * R + r) * D + d];
}

/* The new query of one head against the n cached keys it sees, the newest last: the same logits, skew
 * and softmax as row n-1 of the full pass over those keys, with the relative embeddings of distances
 * 0 .. min(n, R)-1. The keys sit transposed (D, S_max) in a ring: the oldest seen at column `first`,
 * so they are columns [first, S_max) then [0, first) (one piece while first is 0, always so before
 * the ring wraps); er_t is the head's (D, R) transposed embeddings. */
static void step_head(float *y, float *s, float *qe, const float *q, const float *kt, const float *vc, const float *er_t,
                      int n, int first, int D, int R, int S_max) {
    int n1 = first ? n - first : n; /* keys in the first piece, from column `first` on */
    memset(s, 0, (size_t)n * sizeof *s);
    dot_columns(s, q, kt + first, S_max, n1, D);
    if (first) dot_columns(s + n1, q, kt, S_max, n - n1, D);
    if (er_t) {
        int Tr = imin(n, R);
        memset(qe, 0, (size_t)Tr * sizeof *qe);
        dot_columns(qe, q, er_t + (R - Tr), R, Tr, D);
        skew_add_row(s, qe, n - 1, Tr);
    }
    softmax_prefix(s, n, n, inv_sqrt(D));
    read_values(y, s, vc + (size_t)first * D, n1, D);
    if (first) read_values(y, s + n1, vc, n - n1, D);
}

void cdz_self_attention_step(float *y, float *k_cache, float *v_cache, float *scratch, const float *qkv, const float *er_t,
                             int pos, int B, int C, int NH, int R, int S_max) {
    CDZ_ASSERT(NH > 0 && C % NH == 0 && pos >= 0 && S_max > 0 && (!er_t || R > 0));
    int D = C / NH, n = pos + 1 < S_max ? pos + 1 : S_max, slot = pos % S_max, first = (pos + 1 - n) % S_max;
    memset(y, 0, (size_t)B * C * sizeof *y);
    for (int b = 0; b < B; b++)
        for (int hh = 0; hh < NH; hh++) {
            const float *q = qkv + (size_t)b * 3 * C + (size_t)hh * D;
            size_t cache = ((size_t)b * NH + hh) * S_max * D;
            float *kt = k_cache + cache, *vc = v_cache + cache;
            for (int d = 0; d < D; d++) kt[(size_t)d * S_max + slot] = q[C + d];
            memcpy(vc + (size_t)slot * D, q + 2 * C, (size_t)D * sizeof *vc);
            step_head(y + (size_t)b * C + (size_t)hh * D, scratch, scratch + S_max, q, kt, vc,
                      er_t ? er_t + (size_t)hh * D * R : NULL, n, first, D, R, S_max);
        }
}

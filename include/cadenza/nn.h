/* cadenza nn: layer passes, forward and backward, on flat fp32 buffers.
 *
 *   cdz_linear_forward(y, x, w, b, N, C, OC);                  // y (N, OC) = x (N, C) w^T + b
 *   float loss = cdz_softmax_xent_forward(probs, logits, targets, N, V);
 *   cdz_softmax_xent_backward(dlogits, probs, targets, N, V);
 *   cdz_linear_backward(dx, dw, db, dlogits, x, w, N, C, OC);  // accumulates into dx, dw, db
 *
 * Conventions (STYLE.md, "Numerical code"): outputs first, then saved activations, then inputs and
 * weights, then dimensions; backward passes add into gradients (the model zeroes them). This is the
 * CPU reference (src/nn/cpu/): matrix products use OpenBLAS when the build found it, plain loops
 * otherwise. Thread safety: the functions keep no state. */
#ifndef CADENZA_NN_H
#define CADENZA_NN_H

#include <stddef.h>
#include <stdint.h>

#include "cadenza/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which matrix-product code the library was built with: "openblas" or "loops". */
CDZ_API const char *cdz_nn_backend(void);
/* Threads a layer's caller may split independent work over: what cdz_nn_set_threads set, else the
 * matrix library's own count where cadenza was built with OpenBLAS (OPENBLAS_NUM_THREADS, else the
 * cores it found), otherwise the cores online. Models that split a batch over threads (the audio
 * codec) ask here, so one setting governs both. cdz_nn_set_threads(0) returns to the default; call
 * it while no other thread is in the library. */
CDZ_API int cdz_nn_threads(void);
CDZ_API void cdz_nn_set_threads(int n);
/* 1 where the CPU backend's 1-D convolutions run on its own direct kernels (AVX2 and FMA), which call
 * no matrix library and so may run on several threads at once; 0 where they are OpenBLAS products
 * (then callers keep to one thread and let OpenBLAS use the cores). */
CDZ_API int cdz_nn_conv_direct(void);

/* y (N, OC) = x (N, C) @ w (OC, C)^T + b (OC); b may be NULL. */
CDZ_API void cdz_linear_forward(float *y, const float *x, const float *w, const float *b, int N, int C, int OC);
/* dx (N, C) += dy @ w; dw (OC, C) += dy^T @ x; db (OC) += column sums of dy. dx or db may be NULL. */
CDZ_API void cdz_linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w, int N, int C,
                         int OC);

/* y (N, C) = rows of table (V, C) picked by tokens (N). Tokens must be below V (checked by the caller). */
CDZ_API void cdz_embedding_forward(float *y, const uint16_t *tokens, const float *table, int N, int C);
/* dtable (V, C) += dy rows at their tokens. */
CDZ_API void cdz_embedding_backward(float *dtable, const float *dy, const uint16_t *tokens, int N, int C);

/* A target that takes no part in the loss (padding after the end of a sequence). */
#define CDZ_IGNORE_TARGET 0xFFFFu
/* probs (N, V) = softmax(logits); returns the mean of -log probs[target] over the rows whose target is
 * not CDZ_IGNORE_TARGET (0 when there are none), each row's term capped at -log(1e-30) = 69.08 (a
 * target with less probability than that counts as that; a NaN stays NaN, so callers see it). */
CDZ_API float cdz_softmax_xent_forward(float *probs, const float *logits, const uint16_t *targets, int N, int V);
/* dlogits (N, V) += (probs - onehot(target)) / count, the gradient of the mean loss (ignored rows get none). */
CDZ_API void cdz_softmax_xent_backward(float *dlogits, const float *probs, const uint16_t *targets, int N, int V);

/* One LSTM layer over T steps of B sequences (gate order i, f, g, o as PyTorch; fused: one matrix
 * product for the inputs of all steps, one per step for the recurrence).
 *   h (T, B, H) outputs; c (T, B, H) and gates (T, B, 4H, after their activations) saved for backward;
 *   x (T, B, C); h0, c0 (B, H) or NULL for zeros; w_ih (4H, C); w_hh (4H, H); b (4H) or NULL. */
CDZ_API void cdz_lstm_forward(float *h, float *c, float *gates, const float *x, const float *h0, const float *c0,
                      const float *w_ih, const float *w_hh, const float *b, int T, int B, int C, int H);
/* Backpropagation through time. dh (T, B, H) is the gradient of the outputs; dc_T (B, H) of the last
 * cell state, or NULL. Adds into dx (T, B, C; may be NULL), dh0, dc0 (B, H; may be NULL), dw_ih, dw_hh,
 * db (may be NULL). dgates is scratch space of T * B * 4H + 2 * B * H floats. */
CDZ_API void cdz_lstm_backward(float *dx, float *dh0, float *dc0, float *dw_ih, float *dw_hh, float *db, float *dgates,
                       const float *dh, const float *dc_T, const float *h, const float *c, const float *gates,
                       const float *x, const float *h0, const float *c0, const float *w_ih, const float *w_hh, int T,
                       int B, int C, int H);

/* Where a dropout draws its units from. The draws are counter-based: a unit's depends only on its place
 * (its sample's index in the whole batch, its position, its channel) and the site's key, not on the
 * order of drawing or on what else the call holds, so a sample's masks are the same whichever rank or
 * call holds it. The tensor is B samples x T positions x C channels, laid out (B, T, C), or (T, B, C)
 * with time_major; unit (b, t, c) is kept when the top 24 bits of
 *     cdz_random_at(cdz_random_at(cdz_random_at(key, first + b), t), c)
 * fall below keep * 2^24 (probability keep, to 2^-24). */
typedef struct cdz_dropout_site {
    uint64_t key;    /* the site's stream (models: of the run's seed, the step and the site, cdz_loss_dropout_site) */
    int64_t first;   /* the index of sample 0 in the whole batch (a data-parallel rank's share starts there) */
    int B, T, C;
    int time_major;  /* 1: (T, B, C), the LSTM layers' layout; 0: (B, T, C), the transformers' */
} cdz_dropout_site;

/* Inverted dropout over the B x T x C units of site s: y = x * mask / keep, the mask (drawn as above)
 * saved for backward; keep >= 1 copies x and sets every mask byte to 1. keep must be above 0. y may
 * be x. */
CDZ_API void cdz_dropout_forward(float *y, uint8_t *mask, const float *x, const cdz_dropout_site *s, float keep);
/* dx += dy * mask / keep. */
CDZ_API void cdz_dropout_backward(float *dx, const float *dy, const uint8_t *mask, size_t n, float keep);

/* The widest LSTM layer (H) the cell functions take. */
#define CDZ_LSTM_MAX_WIDTH 8192

/* One LSTM cell step for B rows, the building block of the layers above and of step-wise generation.
 * gates (B, 4H) holds the pre-activations (inputs, recurrence and bias already summed) and is
 * overwritten with the activations; c_prev may be NULL (zeros). */
CDZ_API void cdz_lstm_cell_forward(float *h, float *c, float *gates, const float *c_prev, int B, int H);
/* From dh, dc (B, H) at the step's outputs: dgates (B, 4H) = the pre-activation gradients
 * (overwritten), dc_prev (B, H) = the gradient into the previous cell state (overwritten; may be dc). */
CDZ_API void cdz_lstm_cell_backward(float *dgates, float *dc_prev, const float *dh, const float *dc, const float *gates,
                            const float *c, const float *c_prev, int B, int H);

/* One step of an LSTM layer for generation: h, c (B, H) carried state, updated in place; x (B, C);
 * gates (B, 4H) left holding the gates' activations (what cdz_lstm_forward saves for the step, so a
 * model that runs a layer step by step can still call cdz_lstm_backward). */
CDZ_API void cdz_lstm_step(float *h, float *c, float *gates, const float *x, const float *w_ih, const float *w_hh, const float *b,
                   int B, int C, int H);

/* Magenta's AttentionCellWrapper (Bahdanau-style additive attention, arXiv 1601.06733, as
 * tf.contrib.rnn.AttentionCellWrapper) around one LSTM layer, over T steps of B sequences:
 *   xp_t  = [x_t ; d_{t-1}] w_in^T + b_in                 the inputs mixed with the last attention read
 *   h_t, c_t = LSTM(xp_t, h_{t-1}, c_{t-1})
 *   e_tj  = v . tanh(K o_j + [c_t ; h_t] w_q^T + b_q)    over the last L outputs o_j (zeros before the start)
 *   d_t   = sum_j softmax(e_t)_j o_j
 *   o_t   = [h_t ; d_t] w_o^T + b_o                      the layer's output, and the newest attended state
 * The attention size equals H. Parameters: cdz_attn_lstm_params; sizes from cdz_attn_lstm_sizes. */
enum { CDZ_ATTN_MAX_LENGTH = 256 }; /* the longest attention (L) the layer takes */
typedef struct cdz_attn_lstm_params {
    const float *w_in, *b_in;       /* (C, C + H), (C) */
    const float *w_ih, *w_hh, *b;   /* (4H, C), (4H, H), (4H) */
    const float *k;                 /* (H, H): attended state -> attention features (no bias, a 1x1 conv in TF) */
    const float *w_q, *b_q;         /* (H, 2H), (H): query from [c ; h] */
    const float *v;                 /* (H) */
    const float *w_o, *b_o;         /* (H, 2H), (H) */
} cdz_attn_lstm_params;
typedef struct cdz_attn_lstm_grads {
    float *w_in, *b_in, *w_ih, *w_hh, *b, *k, *w_q, *b_q, *v, *w_o, *b_o;
} cdz_attn_lstm_grads;
/* Activations saved by the forward pass, each (T, B, size): xp C, h H, c H, gates 4H, y H (the query
 * projection), hf H (K o_t), a L (attention weights), d H. The layer's output o (T, B, H) is separate. */
typedef struct cdz_attn_lstm_acts {
    float *xp, *h, *c, *gates, *y, *hf, *a, *d;
} cdz_attn_lstm_acts;
/* Floats of activations per (step, row): xp..d above. */
CDZ_API size_t cdz_attn_lstm_act_floats(int C, int H, int L);
/* Points the activation arrays into one buffer of T * B * cdz_attn_lstm_act_floats floats. */
CDZ_API void cdz_attn_lstm_acts_slice(cdz_attn_lstm_acts *a, float *buf, int T, int B, int C, int H, int L);
CDZ_API void cdz_attn_lstm_forward(float *o, const cdz_attn_lstm_acts *acts, const float *x, const cdz_attn_lstm_params *p,
                           int T, int B, int C, int H, int L);
/* Adds into dx (T, B, C; may be NULL) and the parameter gradients. do_ (T, B, H) is the gradient of the
 * outputs and is used as scratch (overwritten). scratch: cdz_attn_lstm_scratch_floats floats. */
CDZ_API size_t cdz_attn_lstm_scratch_floats(int T, int B, int C, int H, int L);
CDZ_API void cdz_attn_lstm_backward(float *dx, const cdz_attn_lstm_grads *g, float *scratch, float *do_, const float *o,
                            const cdz_attn_lstm_acts *acts, const float *x, const cdz_attn_lstm_params *p, int T, int B,
                            int C, int H, int L);
/* One step for generation, B rows: h, c, d (B, H) are the carried state (LSTM state and last attention
 * read), slots_o and slots_hf (B, L, H) the last L outputs and their features K o, oldest first, zeros
 * at the start; all updated in place. o (B, H) receives the output. Gives the same outputs as the
 * forward pass over the whole sequence. scratch: cdz_attn_lstm_step_scratch_floats. */
CDZ_API size_t cdz_attn_lstm_step_scratch_floats(int B, int C, int H, int L);
CDZ_API void cdz_attn_lstm_step(float *o, float *h, float *c, float *d, float *slots_o, float *slots_hf, float *scratch,
                        const float *x, const cdz_attn_lstm_params *p, int B, int C, int H, int L);

/* ---- optimisation ---- */
typedef struct cdz_adamw_params {
    float lr, beta1, beta2, eps, weight_decay;
} cdz_adamw_params;
/* PyTorch's defaults: lr 1e-3, betas 0.9 and 0.999, eps 1e-8, weight decay 0.01. */
CDZ_API cdz_adamw_params cdz_adamw_default_params(void);
/* One AdamW step (PyTorch torch.optim.AdamW) over n parameters with their gradients and moments;
 * `step` counts from 1. */
CDZ_API void cdz_adamw_step(float *params, const float *grads, float *m, float *v, size_t n, const cdz_adamw_params *p, int64_t step);
/* Scales the gradients so their global L2 norm is at most max_norm (PyTorch clip_grad_norm_: by
 * max_norm / (norm + 1e-6) when over). Returns the norm before clipping. */
CDZ_API float cdz_clip_grad_norm(float *grads, size_t n, float max_norm);

/* ---- transformer layers (Music Transformer, GPT-style) ---- */

/* Layer norm over the last dimension (PyTorch nn.LayerNorm, eps 1e-5, biased variance):
 *   y (N, C) = (x - mean) * rstd * w + b,  rstd = 1 / sqrt(var + 1e-5)
 * mean, rstd (N) are saved for backward; w, b (C). */
CDZ_API void cdz_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w, const float *b, int N,
                           int C);
/* dx (N, C) += ..., dw (C) += sum over rows of dy * xhat, db (C) += sum over rows of dy. */
CDZ_API void cdz_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *mean,
                            const float *rstd, const float *w, int N, int C);

/* Exact GELU (PyTorch F.gelu's default): y = 0.5 x (1 + erf(x / sqrt 2)), n elements; y may be x. */
CDZ_API void cdz_gelu_forward(float *y, const float *x, size_t n);
/* dx += dy * (Phi(x) + x phi(x)), from the forward's input x. */
CDZ_API void cdz_gelu_backward(float *dx, const float *dy, const float *x, size_t n);
/* y = max(x, 0); y may be x. */
CDZ_API void cdz_relu_forward(float *y, const float *x, size_t n);
/* dx += dy where x > 0 (the gradient at 0 is 0, as PyTorch). */
CDZ_API void cdz_relu_backward(float *dx, const float *dy, const float *x, size_t n);

/* Causal multi-head self-attention, the core between the caller's QKV projection and its output
 * projection, over B sequences of T steps, NH heads of size D = C / NH:
 *   qkv (B, T, 3C): PyTorch's qkv.view(B, T, 3, NH, D), the q block, then k, then v, heads-major
 *   logits[b,h,i,j] = (q_i . k_j + S_rel[i][j]) / sqrt(D)   for keys j <= i (the causal mask)
 *   att (B, NH, T, T) = softmax over j (row max subtracted); masked entries are exactly 0; saved
 *   y (B, T, C) = att @ v, heads concatenated (a.transpose(1, 2).reshape(B, T, C))
 * Absolute mode: er = NULL, S_rel = 0 (the model adds positions to its embeddings); R is ignored.
 * Relative mode (Huang et al., "Music Transformer", ICLR 2019, section 3.4.1): er (NH, R, D) holds
 * one embedding per head and distance, row R-1 for distance 0, row R-1-k for distance k, and
 *   S_rel[i][j] = q_i . er[R-1-min(i-j, R-1)]
 * computed as QEr = q er^T then the paper's skew (an index remapping, no T x T x D tensor). When
 * T > R, distances beyond R-1 share row 0, the largest distance (clipped, as Shaw et al. 2018): R is
 * the "maximum relative distance". With T <= R this is the reference's er[:, R-T:] with the skew.
 * scratch: cdz_self_attention_scratch_floats(T, R) floats (R = 0 for absolute mode), for forward and
 * backward; the forward needs none in absolute mode (may be NULL). */
CDZ_API size_t cdz_self_attention_scratch_floats(int T, int R);
CDZ_API void cdz_self_attention_forward(float *y, float *att, float *scratch, const float *qkv, const float *er, int B, int T,
                                int C, int NH, int R);
/* From dy (B, T, C): dqkv (B, T, 3C) += the gradients of q, k and v (same layout as qkv); der (NH, R,
 * D) += the gradient of er (relative mode; may be NULL in absolute mode). */
CDZ_API void cdz_self_attention_backward(float *dqkv, float *der, float *scratch, const float *dy, const float *att,
                                 const float *qkv, const float *er, int B, int T, int C, int NH, int R);

/* One step of the self-attention above for generation, B rows: the new token's qkv (B, 3C) at
 * position pos (0-based) writes its key and value into the caches at index pos mod S_max (rings: past
 * S_max tokens the oldest is overwritten), and attends to the last n = min(pos + 1, S_max) positions j:
 *   y (B, C) = softmax_j((q . k_j + q . er[R-1-min(pos-j, R-1)]) / sqrt(D)) v_j
 * While pos < S_max that is row pos of cdz_self_attention_forward over the whole sequence (clipped the
 * same way); past it, row n-1 of the forward pass over the last n tokens, with keys and values as they
 * were cached (a sliding window over the cache, which relative attention allows).
 * Layouts, for the step's row-wise reads: k_cache (B, NH, D, S_max), each head's keys transposed;
 * v_cache (B, NH, S_max, D); er_t (NH, D, R), the relative embeddings transposed
 * (cdz_self_attention_er_transpose of the (NH, R, D) parameter), or NULL for absolute mode (whose
 * positions the caller adds and must keep below its table). scratch:
 * cdz_self_attention_step_scratch_floats. */
CDZ_API size_t cdz_self_attention_step_scratch_floats(int S_max, int R);
CDZ_API void cdz_self_attention_step(float *y, float *k_cache, float *v_cache, float *scratch, const float *qkv,
                                     const float *er_t, int pos, int B, int C, int NH, int R, int S_max);
/* er_t (NH, D, R) = er (NH, R, D) transposed per head, the layout cdz_self_attention_step reads. */
CDZ_API void cdz_self_attention_er_transpose(float *er_t, const float *er, int NH, int R, int D);

/* Encoder-decoder cross-attention core, NH heads of size D = C / NH, no causal mask, no relative term:
 *   q (B, Tq, C) heads-major; kv (B, Tk, 2C): the k block, then v, heads-major
 *   att (B, NH, Tq, Tk) = softmax_j(q_i . k_j / sqrt(D)) over the keys with key_mask[b, j] != 0
 *   y (B, Tq, C) = att @ v
 * key_mask (B, Tk), 1 = keep (0 for padded encoder steps), or NULL for all keys; masked entries are
 * exactly 0, and a row with every key masked gets all zeros (y = 0). For decoding one step at a time,
 * call it with Tq = 1. */
CDZ_API void cdz_cross_attention_forward(float *y, float *att, const float *q, const float *kv, const uint8_t *key_mask, int B,
                                 int Tq, int Tk, int C, int NH);
/* From dy (B, Tq, C): dq (B, Tq, C) += ..., dkv (B, Tk, 2C) += ... (the mask acts through att).
 * scratch: cdz_cross_attention_scratch_floats(Tq, Tk) floats. */
CDZ_API size_t cdz_cross_attention_scratch_floats(int Tq, int Tk);
CDZ_API void cdz_cross_attention_backward(float *dq, float *dkv, float *scratch, const float *dy, const float *att,
                                  const float *q, const float *kv, int B, int Tq, int Tk, int C, int NH);

/* ==== audio layers (issue 17): 1-D convolutions over (channels, time), activations, weight norm ==== */

/* The shape of a 1-D convolution over B signals of C channels and T samples, laid out (B, C, T) as
 * PyTorch's Conv1d. Output channels OC; kernel K; stride >= 1; dilation >= 1; pad_left, pad_right >= 0
 * zeros before and after (unequal for causal convolutions; other padding modes: cdz_pad1d first);
 * groups divides C and OC (C = groups for a depthwise convolution). */
typedef struct cdz_conv1d_shape {
    int B, C, T, OC, K;
    int stride, dilation, pad_left, pad_right, groups;
} cdz_conv1d_shape;

/* The convolution's output length, floor((T + pad_left + pad_right - dilation (K - 1) - 1) / stride) + 1,
 * or -1 when the shape is invalid (a size below 1, groups not dividing C and OC, or a kernel that
 * reaches past the padded input). */
CDZ_API int cdz_conv1d_out_len(const cdz_conv1d_shape *s);
/* Scratch for forward and backward: (C / groups) K T_out floats (the unfolded input of one group). */
CDZ_API size_t cdz_conv1d_scratch_floats(const cdz_conv1d_shape *s);
/* y (B, OC, T_out)[b, o, t] = bias[o] + sum over the group's c and k of
 *     w[o, c, k] x[b, g C/groups + c, t stride + k dilation - pad_left]   (0 outside 0 .. T-1)
 * w (OC, C / groups, K) as PyTorch; b (OC) or NULL. The shape must be valid (cdz_conv1d_out_len). */
CDZ_API void cdz_conv1d_forward(float *y, float *scratch, const float *x, const float *w, const float *b,
                                const cdz_conv1d_shape *s);
/* From dy (B, OC, T_out): dx (B, C, T) += ..., dw (OC, C / groups, K) += ..., db (OC) += the sums of
 * dy over b and t. dx and db may be NULL. */
CDZ_API void cdz_conv1d_backward(float *dx, float *dw, float *db, float *scratch, const float *dy, const float *x,
                                 const float *w, const cdz_conv1d_shape *s);

/* The transposed convolution (PyTorch ConvTranspose1d), the adjoint of the convolution above in x:
 * B signals of C channels and T samples to OC channels, every input sample t spread over outputs
 * t stride + k dilation - pad_left, k < K; pad_left and pad_right crop the ends (PyTorch's padding p
 * with output_padding q is pad_left p, pad_right p - q). Output length
 * (T - 1) stride + dilation (K - 1) + 1 - pad_left - pad_right, or -1 when invalid. w (C, OC / groups, K)
 * as PyTorch; b (OC) or NULL. Scratch: (OC / groups) K T floats. */
CDZ_API int cdz_conv_transpose1d_out_len(const cdz_conv1d_shape *s);
CDZ_API size_t cdz_conv_transpose1d_scratch_floats(const cdz_conv1d_shape *s);
CDZ_API void cdz_conv_transpose1d_forward(float *y, float *scratch, const float *x, const float *w, const float *b,
                                          const cdz_conv1d_shape *s);
/* From dy (B, OC, T_out): dx (B, C, T) += ..., dw (C, OC / groups, K) += ..., db (OC) += ...; dx and db
 * may be NULL. */
CDZ_API void cdz_conv_transpose1d_backward(float *dx, float *dw, float *db, float *scratch, const float *dy,
                                           const float *x, const float *w, const cdz_conv1d_shape *s);

/* How cdz_pad1d fills the samples it adds: zeros; a reflection about the end sample (PyTorch's
 * "reflect": x[1], x[2], ... before x[0]; needs left, right < T); copies of the end sample. */
typedef enum { CDZ_PAD_ZEROS = 0, CDZ_PAD_REFLECT = 1, CDZ_PAD_REPLICATE = 2 } cdz_pad_mode;
/* y (rows, left + T + right) = each row of x (rows, T) with left samples before and right after. */
CDZ_API void cdz_pad1d_forward(float *y, const float *x, int rows, int T, int left, int right, cdz_pad_mode mode);
/* dx (rows, T) += the gradient through the padding (a reflected or replicated sample's flows back to
 * the sample it copies). */
CDZ_API void cdz_pad1d_backward(float *dx, const float *dy, int rows, int T, int left, int right, cdz_pad_mode mode);

/* ELU: y = x for x > 0, alpha (exp(x) - 1) otherwise; y may be x. */
CDZ_API void cdz_elu_forward(float *y, const float *x, size_t n, float alpha);
/* dx += dy where x > 0, dy alpha exp(x) otherwise. */
CDZ_API void cdz_elu_backward(float *dx, const float *dy, const float *x, size_t n, float alpha);
/* Snake (Ziyin et al. 2020, as DAC): y = x + sin^2(alpha_c x) / (alpha_c + 1e-9) per channel c, over
 * x (B, C, T); alpha (C). y may be x. */
CDZ_API void cdz_snake_forward(float *y, const float *x, const float *alpha, int B, int C, int T);
/* dx (B, C, T) += dy (1 + sin(2 alpha x) alpha / (alpha + 1e-9)); dalpha (C) += the sum over b and t of dy dy/dalpha
 * (dx or dalpha may be NULL). */
CDZ_API void cdz_snake_backward(float *dx, float *dalpha, const float *dy, const float *x, const float *alpha, int B,
                                int C, int T);

/* Weight normalisation (Salimans and Kingma 2016; PyTorch weight_norm with dim 0): the weight's rows
 * w (O, n)[o] = g[o] v[o] / |v[o]|, with norm (O) = |v[o]| saved for backward. A zero row gives 0. */
CDZ_API void cdz_weight_norm_forward(float *w, float *norm, const float *v, const float *g, int O, int n);
/* From dw (O, n): dv (O, n) += g / |v| (dw - (dw . u) u), u = v / |v|; dg (O) += dw . u. */
CDZ_API void cdz_weight_norm_backward(float *dv, float *dg, const float *dw, const float *v, const float *g,
                                      const float *norm, int O, int n);

/* ---- vector quantisation (VQ-VAE, van den Oord et al. 2017; residual VQ as SoundStream and DAC) ---- */

/* The nearest code of each of N vectors z (N, D) in a codebook (K, D), by squared Euclidean
 * distance (the lowest index on ties): codes (N); q (N, D) = the chosen rows; dist (N) = the squared
 * distances. scratch: cdz_vq_scratch_floats(N, K) floats. A NaN vector gets code 0. */
CDZ_API size_t cdz_vq_scratch_floats(int N, int K);
CDZ_API void cdz_vq_nearest(int32_t *codes, float *q, float *dist, float *scratch, const float *z, const float *codebook,
                            int N, int D, int K);
/* The straight-through estimator with the commitment loss beta mean((z - sg(q))^2) over the n = N D
 * numbers: dz += dq + beta 2 (z - q) / n. (The codebook learns by cdz_vq_ema_update, not by gradient.) */
CDZ_API void cdz_vq_backward(float *dz, const float *dq, const float *z, const float *q, size_t n, float beta);
/* EMA codebook update (van den Oord et al. 2017, appendix; Razavi et al. 2019), after a batch:
 *   count[k] = decay count[k] + (1 - decay) (vectors that chose k)
 *   sum[k]   = decay sum[k]   + (1 - decay) (their sum)          (sum (K, D))
 *   codebook[k] = sum[k] / smoothed count[k], counts Laplace-smoothed with eps so none is 0.
 * Returns the number of codes no vector of this batch chose. */
CDZ_API int cdz_vq_ema_update(float *codebook, float *count, float *sum, const float *z, const int32_t *codes, int N, int D,
                              int K, float decay, float eps);
/* Dead-code restarts (as Jukebox and DAC's implementations do): every code whose EMA count fell below
 * threshold is moved onto a vector of the batch, picked by the stream seed, and its count and sum
 * reset to (threshold, that vector threshold) so it is not at once dead again. Returns how many moved. */
CDZ_API int cdz_vq_restart_dead(float *codebook, float *count, float *sum, const float *z, int N, int D, int K,
                                float threshold, uint64_t seed);

/* Residual VQ over n_q codebooks (n_q, K, D): stage i quantises what the stages before left,
 *   r_0 = z, codes[:, i] = nearest(r_i, book i), r_{i+1} = r_i - q_i,   q = sum of q_i (N, D)
 * over the first `use` stages only (quantizer dropout: the caller draws use in 1 .. n_q per batch, so
 * one model serves every bitrate; the codes of fewer stages are a prefix of those of more). codes (N,
 * n_q), stages past use set to -1; residuals (use, N, D) = r_0 .. r_{use-1}, saved for the commitment
 * gradient; stage_q (use, N, D) the q_i. scratch: cdz_vq_scratch_floats(N, K) + N floats. */
CDZ_API void cdz_rvq_forward(float *q, int32_t *codes, float *residuals, float *stage_q, float *scratch, const float *z,
                             const float *codebooks, int N, int D, int K, int n_q, int use);
/* The straight-through gradient of the residual quantiser with each stage's commitment loss
 * beta mean((r_i - sg(q_i))^2). Each r_i is z minus the stopped q_j of the stages before, so d r_i / dz
 * is the identity: dz += dq + (2 beta / n) sum over i < use of (r_i - q_i), n = N D. */
CDZ_API void cdz_rvq_backward(float *dz, const float *dq, const float *residuals, const float *stage_q, int N, int D,
                              int use, float beta);
/* The commitment loss of those stages, sum over i < use of mean((r_i - q_i)^2). */
CDZ_API double cdz_rvq_commitment(const float *residuals, const float *stage_q, int N, int D, int use);

#ifdef __cplusplus
}
#endif
#endif

/* cadenza sample: drawing tokens from a model's step-wise API (cadenza/model.h).
 *
 *   cdz_sample_params p = cdz_sample_default_params();   // temperature 1, no beam
 *   p.temperature = 0.9f;
 *   cdz_generate(model, primer, n_primer, 128, 1, &p, &rng, out, loglik, NULL, NULL, &err);
 *
 * Plain sampling draws every output independently (all outputs in one batch). Beam search follows
 * Magenta's EventSequenceRnnModel._beam_search: beam_size sequences, each iteration copies every
 * sequence branch_factor times, extends each copy by steps_per_iteration sampled tokens, and keeps
 * the beam_size copies with the highest log-likelihood; the best one is returned. With beam 1 and
 * branch 1 it draws exactly what plain sampling draws. Randomness comes only from the given rng. */
#ifndef CADENZA_SAMPLE_H
#define CADENZA_SAMPLE_H

#include "cadenza/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cdz_sample_params {
    float temperature;       /* logits / temperature; 0 takes the most likely token */
    int top_k;               /* keep the k most likely tokens (0: all) */
    float top_p;             /* keep the smallest set whose probability reaches p (1: all) */
    int beam_size;           /* 0: plain sampling */
    int branch_factor;       /* copies of each beam per iteration */
    int steps_per_iteration; /* tokens sampled between beam selections */
    /* Plain sampling only (may be NULL): called after each new token with a row's tokens so far; when
     * it returns nonzero for every row, generation ends early (the rest of out is left as zeros and
     * *generated tells how many new tokens there are). */
    int (*stop)(void *ctx, const uint16_t *tokens, int64_t len);
    void *stop_ctx;
} cdz_sample_params;

CDZ_API cdz_sample_params cdz_sample_default_params(void);

/* Draws one token from logits (V) under the parameters; *logp receives the log-probability of the
 * drawn token under the tempered, truncated distribution (may be NULL), or with temperature 0 (the
 * most likely token) under the model's own distribution. NaN logits are never drawn; when every logit
 * is NaN, returns -1. */
CDZ_API int cdz_sample_logits(const float *logits, int V, const cdz_sample_params *p, cdz_rng *rng, double *logp);

/* The rows a generation needs at once: the outputs, or a beam and its copies (the capacity of a
 * session for cdz_generate_session). */
CDZ_API int cdz_sample_rows_needed(const cdz_sample_params *p, int n_outputs);

/* Generates n_outputs sequences, each the primer (n_primer >= 1 tokens) followed by `steps` new
 * tokens, into out (n_outputs rows of n_primer + steps). loglik (n_outputs, may be NULL) receives each
 * output's summed log-probability of its new tokens. progress (may be NULL) is called after each
 * new token with (ctx, tokens done, tokens total). */
CDZ_API cdz_status cdz_generate(const cdz_model *m, const uint16_t *primer, int64_t n_primer, int64_t steps, int n_outputs,
                        const cdz_sample_params *p, cdz_rng *rng, uint16_t *out, double *loglik,
                        void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx, cdz_error *err);
/* The same, stopping early when p->stop says so for every row; *generated receives the number of new
 * tokens in each row. */
CDZ_API cdz_status cdz_generate_until(const cdz_model *m, const uint16_t *primer, int64_t n_primer, int64_t max_steps, int n_outputs,
                              const cdz_sample_params *p, cdz_rng *rng, uint16_t *out, double *loglik,
                              int64_t *generated, void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx,
                              cdz_error *err);
/* The same on a session of the caller's (cdz_session_new: capacity at least n_outputs, or beam size x
 * branch factor; its window bounds the length unless the model can slide past it). */
CDZ_API cdz_status cdz_generate_session(cdz_session *s, const uint16_t *primer, int64_t n_primer, int64_t max_steps, int n_outputs,
                                const cdz_sample_params *p, cdz_rng *rng, uint16_t *out, double *loglik,
                                int64_t *generated, void (*progress)(void *ctx, int64_t done, int64_t total), void *ctx,
                                cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

/* cadenza models: what the training loop, the evaluator and the samplers see of a model.
 *
 *   cdz_model m;
 *   cdz_model_create(&m, "melody_rnn", "attention_rnn", &err);   // a model kind and a named config
 *   cdz_model_init_params(&m, seed);
 *   float loss = m.kind->loss(&m, windows, B, CDZ_TRAIN, &rng, &stats);  // adds into m.grads
 *   ...
 *   cdz_model_free(&m);
 *
 * A model owns its parameters and gradients as single fp32 buffers, sliced by a table of named
 * tensors (the names and shapes written to checkpoints), and its activations, sized for the largest
 * batch it has seen. Its config is a JSON object (saved in checkpoints), so a checkpoint alone
 * rebuilds the model. Generation goes through a step-wise API with a per-row state that samplers may
 * copy between rows (beam search). Thread safety: one model per thread. */
#ifndef CADENZA_MODEL_H
#define CADENZA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cadenza/core.h"
#include "cadenza/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A training or evaluation example: the tokens seq[start .. start + n) of one sequence, n >= 2; the
 * model predicts seq[start + 1 .. start + n) from what comes before, and may read seq[0 .. start) for
 * context (the melody models compute features from the whole history). */
typedef struct cdz_window {
    const uint16_t *seq;
    int64_t start, n;
} cdz_window;

typedef struct cdz_tensor_info {
    char name[48];
    int ndim;
    int64_t shape[4];
    size_t offset, numel; /* in floats, into params / grads */
} cdz_tensor_info;

typedef struct cdz_loss_stats {
    double loss_sum; /* summed over predicted tokens, nats */
    int64_t tokens;  /* predicted tokens (padding excluded) */
    int64_t correct; /* tokens whose most likely prediction was right */
} cdz_loss_stats;

typedef enum cdz_pass { CDZ_EVAL = 0, CDZ_TRAIN = 1 } cdz_pass;

/* Training defaults a config carries (Magenta's for the melody models). */
typedef struct cdz_train_defaults {
    int batch, seq;
    float lr, clip, weight_decay;
    int warmup_steps;
} cdz_train_defaults;

typedef struct cdz_model cdz_model;

/* What a model kind provides. */
typedef struct cdz_model_kind {
    const char *name;                                /* "melody_rnn" */
    const char *description;                         /* one line for listings */
    const char *default_config;                      /* the named config used when none is given */
    const char *const *config_names;                 /* its named configs, NULL-terminated */
    const char *(*named_config)(const char *name);   /* a named config as JSON text, or NULL */
    /* Builds the model from a config object (as config_json writes it) and allocates parameters. */
    cdz_status (*from_config)(cdz_model *m, const cdz_json *config, const char *what, cdz_error *err);
    char *(*config_json)(const cdz_model *m);        /* cdz_malloc'd JSON object text */
    void (*init_params)(cdz_model *m, cdz_rng *rng);
    /* Mean loss over the windows' predicted tokens. CDZ_TRAIN also applies dropout (drawn from rng)
     * and adds the gradient of that mean into m->grads. Adds into *stats when not NULL. */
    cdz_status (*loss)(cdz_model *m, const cdz_window *w, int B, cdz_pass pass, cdz_rng *rng, cdz_loss_stats *stats,
                       float *mean_loss, cdz_error *err);
    /* Step-wise generation for B rows that share a length: state_reset zeroes the per-row states
     * (state_floats each, contiguous per row, so rows can be copied); step feeds the last token of
     * each row's history (history[b][0 .. len)) and writes the next token's logits (B, vocab). */
    size_t (*state_floats)(const cdz_model *m);
    void (*state_reset)(const cdz_model *m, float *state, int B);
    cdz_status (*step)(cdz_model *m, float *state, const uint16_t *const *history, int64_t len, int B, float *logits,
                       cdz_error *err);
    void (*free_impl)(cdz_model *m);
} cdz_model_kind;

struct cdz_model {
    const cdz_model_kind *kind;
    char config_name[48];     /* "attention_rnn", or "custom" */
    char codec[32];           /* the codec of its tokens (cadenza/codec.h) */
    uint32_t vocab;
    cdz_train_defaults train; /* from the config */
    int max_len;              /* the most tokens a window may predict (0: no limit) */
    uint32_t history_vocab;   /* tokens a history may hold, when more than the predicted vocab (the
                                 accompaniment model's separator); 0: vocab */
    float *params, *grads;    /* n_params each, one buffer each */
    size_t n_params;
    cdz_tensor_info *tensors; /* the table that slices them */
    size_t n_tensors;
    void *impl;               /* the kind's own state (activations, sizes) */
};

/* The kinds cadenza knows. */
const cdz_model_kind *cdz_model_kind_find(const char *name);
/* All kinds, for listings: returns how many there are and sets *list. */
size_t cdz_model_kind_list(const cdz_model_kind *const **list);
extern const cdz_model_kind cdz_melody_rnn;
extern const cdz_model_kind cdz_music_transformer;
extern const cdz_model_kind cdz_accompaniment; /* melody -> accompaniment, src/models/accompaniment.c */

/* Builds kind `kind` with its named config `config` (e.g. "melody_rnn", "attention_rnn"). */
cdz_status cdz_model_create(cdz_model *m, const char *kind, const char *config, cdz_error *err);
/* Builds a model from a config JSON text (with its "kind" and "config_name" keys). */
cdz_status cdz_model_from_json(cdz_model *m, const char *json, size_t len, const char *what, cdz_error *err);
/* The full config (kind, config_name and the kind's fields) as JSON text, cdz_malloc'd. */
char *cdz_model_config_json(const cdz_model *m);
void cdz_model_init_params(cdz_model *m, uint64_t seed);
void cdz_model_zero_grads(cdz_model *m);
const cdz_tensor_info *cdz_model_tensor(const cdz_model *m, const char *name);
void cdz_model_free(cdz_model *m);

/* For kinds: a config field within [lo, hi] (dflt when absent); errors name the source, the kind and
 * the key. */
cdz_status cdz_config_int(const cdz_json *c, const char *key, int64_t dflt, int64_t lo, int64_t hi, int *out,
                          const char *kind, const char *what, cdz_error *err);
cdz_status cdz_config_float(const cdz_json *c, const char *key, double dflt, double lo, double hi, float *out,
                            const char *kind, const char *what, cdz_error *err);
/* For kinds: the training defaults a config may carry (batch, seq of at most max_seq, lr, clip,
 * weight_decay, warmup_steps), each dflt's value when absent, into m->train. */
cdz_status cdz_config_train(const cdz_json *c, cdz_train_defaults dflt, int max_seq, const char *kind, const char *what,
                            cdz_model *m, cdz_error *err);
/* For kinds' config_json: those fields as JSON members, "batch":B,...,"warmup_steps":W (no braces). */
void cdz_config_train_json(const cdz_train_defaults *t, char *buf, size_t n);
/* For transformer kinds: GPT-2's initialisation. Matrices and embeddings N(0, 0.02) times
 * residual_scale(m, name) (1 for most; 1/sqrt(2 layers) for the projections into the residual stream),
 * biases 0, layer norms ("ln" in the name) weight 1. */
void cdz_init_gpt2(cdz_model *m, cdz_rng *rng, double (*residual_scale)(const cdz_model *m, const char *name));
/* For kinds: adds the rows of a softmax output (probs, N x V) whose target is not CDZ_IGNORE_TARGET
 * to the statistics: summed -log p(target), count, and how often the most likely token was right. */
void cdz_loss_stats_add(cdz_loss_stats *st, const float *probs, const uint16_t *targets, int N, int V);
/* For kinds: appends a tensor to the table (offsets assigned in order). Call before
 * cdz_model_alloc_params. */
cdz_status cdz_model_add_tensor(cdz_model *m, const char *name, int ndim, const int64_t *shape, cdz_error *err);
cdz_status cdz_model_alloc_params(cdz_model *m, cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

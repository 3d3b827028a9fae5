/* cadenza model kinds: the contract between the library and a kind of model (melody_rnn,
 * music_transformer, accompaniment), and the model object they fill in. For the code that implements
 * or drives kinds inside the library (src/models, src/train, the tests); programs and bindings use the
 * opaque handles of cadenza/model.h instead, whose layout this header may change between versions.
 *
 * A kind builds a model from its config (tensor table, parameters), computes a batch's loss on a
 * session's activation buffers, and steps a session's rows one token at a time:
 *
 *   from_config(m, config)         sizes, tensor table (cdz_model_add_tensor), cdz_model_alloc_params
 *   session_new(m, rows, window)   the kind's per-session scratch (steps, and the loss's activations)
 *   row_bytes(m, window)           one row's generation state, a flat block the library copies freely
 *   step(m, ks, rows, logits)      feeds rows->tokens (one per row), writes the next token's logits
 *   loss(m, ks, batch, opts)       the objective and its named terms, gradients into opts->grads
 *
 * The library owns the rows: each is row_bytes bytes, zeroed on reset (a zero block must mean "nothing
 * fed yet"), copied by cdz_session_gather, so a kind keeps nothing about a row outside its block. The
 * model is const in step and loss: anything that changes lives in the session. Layers are called
 * through m->backend (cadenza/backend.h). */
#ifndef CADENZA_MODEL_KIND_H
#define CADENZA_MODEL_KIND_H

#include "cadenza/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What a session hands a kind's step: B active rows with their state blocks, the token fed to each,
 * and the rows' histories (every token fed so far, this one included: len tokens each). */
typedef struct cdz_step_rows {
    int B;
    uint8_t *state;            /* B blocks of row_bytes, `stride` apart */
    size_t stride;
    const uint16_t *tokens;    /* (B) the token fed now, history[b][len - 1] */
    const uint16_t *const *history;
    int64_t len;               /* tokens fed so far, this one included */
    int64_t window;            /* the session's context (its key/value caches hold this many tokens) */
} cdz_step_rows;

struct cdz_model_kind {
    const char *name;                                /* "melody_rnn" */
    const char *description;                         /* one line for listings */
    const char *default_config;                      /* the named config used when none is given */
    const char *const *config_names;                 /* its named configs, NULL-terminated */
    const char *(*named_config)(const char *name);   /* a named config as JSON text, or NULL */
    /* Builds the model from a config object (as config_json writes it) and allocates parameters. */
    cdz_status (*from_config)(cdz_model *m, const cdz_json *config, const char *what, cdz_error *err);
    char *(*config_json)(const cdz_model *m);        /* cdz_malloc'd JSON object text */
    void (*init_params)(cdz_model *m, cdz_rng *rng);
    /* The kind's scratch for one session: step buffers for up to `rows` rows and the loss's activation
     * buffers (grown on demand). Freed by session_free. */
    void *(*session_new)(const cdz_model *m, int rows, int64_t window, cdz_error *err);
    void (*session_free)(void *ks);
    /* The bytes of one row's generation state for a context of `window` tokens. */
    size_t (*row_bytes)(const cdz_model *m, int64_t window);
    /* The window a session gets when asked for 0 (the model's longest context; 0: unbounded). */
    int64_t (*default_window)(const cdz_model *m);
    /* 1 when rows may be fed past the window (the oldest tokens leave the context); NULL: never. */
    int (*can_slide)(const cdz_model *m);
    /* 1 when the model writes a part for a condition it reads first (an accompaniment for a melody:
     * [condition, separator, part]); the generator then needs its codec's condition hook. A conditional
     * model reads at most half its window on each side of the separator. */
    int conditional;
    /* Feeds rows->tokens and writes the next token's logits (B, vocab). */
    cdz_status (*step)(const cdz_model *m, void *ks, const cdz_step_rows *rows, float *logits, cdz_error *err);
    /* The loss of a batch (see cdz_model_loss). */
    cdz_status (*loss)(const cdz_model *m, void *ks, const cdz_batch *batch, const cdz_loss_opts *opts, cdz_loss *out,
                       cdz_loss_stats *stats, cdz_error *err);
    /* Latent-space hooks (NULL for kinds without one): latent_dim, the posterior of a batch, and the
     * conditioning of fresh rows on z. */
    int (*latent_dim)(const cdz_model *m);
    cdz_status (*encode)(const cdz_model *m, void *ks, const cdz_batch *batch, float *mu, float *sigma, cdz_error *err);
    cdz_status (*set_latent)(const cdz_model *m, void *ks, uint8_t *state, size_t stride, int B, const float *z,
                             cdz_error *err);
    /* Called by the trainer after each optimiser step (NULL: nothing), with the session whose loss
     * computed the step: state that learns by other rules than the gradient (an EMA codebook) moves here. */
    void (*after_step)(cdz_model *m, void *ks, int64_t step);
    /* Frees m->impl; NULL when it is one cdz_malloc'd block (the library frees it). */
    void (*free_impl)(cdz_model *m);
};

struct cdz_model {
    const cdz_model_kind *kind;
    const cdz_backend *backend;   /* where the layers run (cdz_backend_cpu() unless set) */
    char config_name[48];         /* "attention_rnn", or "custom" */
    char codec[32];               /* the codec of its tokens (cadenza/codec.h) */
    uint32_t vocab;
    cdz_train_defaults train;     /* from the config */
    int max_len;                  /* the most tokens a window may predict (0: no limit) */
    uint32_t audio_rate;          /* models of audio: the rate of the samples they read (CDZ_BATCH_AUDIO);
                                     0: models of tokens */
    uint32_t history_vocab;       /* tokens a history may hold, when more than the predicted vocab (the
                                     accompaniment model's separator); 0: vocab */
    float *params, *grads;        /* n_params each, one buffer each; grads NULL until cdz_model_grads */
    size_t n_params;
    cdz_tensor_info *tensors;     /* the table that slices them */
    size_t n_tensors;
    void *impl;                   /* the kind's sizes and offsets, fixed once built */
    size_t max_params;            /* while building: the most parameters the config may describe (0: no
                                     limit); a checkpoint's, what its file holds */
};

/* The kinds cadenza knows (cdz_model_kind_find and cdz_model_kind_list in cadenza/model.h). */
extern const cdz_model_kind cdz_melody_rnn;
extern const cdz_model_kind cdz_music_transformer;
extern const cdz_model_kind cdz_accompaniment; /* melody -> accompaniment, src/models/accompaniment.c */
extern const cdz_model_kind cdz_music_vae;     /* MusicVAE, src/models/music_vae.c */
extern const cdz_model_kind cdz_audio_codec;   /* a residual-VQ audio codec, src/models/audio_codec.c */

/* The kind's scratch of a session (what its session_new returned), for library code that drives a
 * kind directly (the trainer's after_step, the audio codec's encode and decode). */
void *cdz_session_kind_state(cdz_session *s);

/* ---- for kinds ---- */

/* A config field within [lo, hi] (dflt when absent); errors name the source, the kind and the key. */
cdz_status cdz_config_int(const cdz_json *c, const char *key, int64_t dflt, int64_t lo, int64_t hi, int *out,
                          const char *kind, const char *what, cdz_error *err);
cdz_status cdz_config_float(const cdz_json *c, const char *key, double dflt, double lo, double hi, float *out,
                            const char *kind, const char *what, cdz_error *err);
/* The training defaults a config may carry (batch, seq of at most max_seq, lr, clip, weight_decay,
 * warmup_steps), each dflt's value when absent, into m->train. */
cdz_status cdz_config_train(const cdz_json *c, cdz_train_defaults dflt, int max_seq, const char *kind, const char *what,
                            cdz_model *m, cdz_error *err);
/* For config_json: those fields as JSON members, "batch":B,...,"warmup_steps":W (no braces). */
void cdz_config_train_json(const cdz_train_defaults *t, char *buf, size_t n);
/* For transformer kinds: GPT-2's initialisation. Matrices and embeddings N(0, 0.02) times
 * residual_scale(m, name) (1 for most; 1/sqrt(2 layers) for the projections into the residual stream),
 * biases 0, layer norms ("ln" in the name) weight 1. */
void cdz_init_gpt2(cdz_model *m, cdz_rng *rng, double (*residual_scale)(const cdz_model *m, const char *name));
/* Adds the rows of a softmax output (probs, N x V) whose target is not CDZ_IGNORE_TARGET to the
 * statistics: summed -log p(target), count, and how often the most likely token was right. */
void cdz_loss_stats_add(cdz_loss_stats *st, const float *probs, const uint16_t *targets, int N, int V);
/* The one-term loss of token models: objective and "nll" both `mean`, over `tokens` tokens. */
void cdz_loss_set_nll(cdz_loss *out, float mean, int64_t tokens);
/* Dropout site number `site` of a training pass over batch (a kind numbers its sites in its forward
 * pass's order, the same for every batch): T positions x C channels per example, time_major as
 * cdz_dropout_site. Its key is cdz_random_at(cdz_random_at(cdz_random_at(opts->seed, a constant that
 * names dropout), opts->step), site); first is batch->offset. */
cdz_dropout_site cdz_loss_dropout_site(const cdz_loss_opts *opts, const cdz_batch *batch, int site, int T, int C,
                                       int time_major);
/* Appends a tensor to the table (offsets assigned in order). Call before cdz_model_alloc_params. */
cdz_status cdz_model_add_tensor(cdz_model *m, const char *name, int ndim, const int64_t *shape, cdz_error *err);
/* Allocates the parameters the table describes; refuses more than m->max_params (CDZ_ERR_FORMAT). */
cdz_status cdz_model_alloc_params(cdz_model *m, cdz_error *err);
/* cdz_model_from_json for a config that comes with its parameters (a checkpoint holding max_params
 * values): a config that describes more is refused before anything is allocated, so a small file cannot
 * make the loader reserve (and zero) gigabytes. */
cdz_status cdz_model_from_json_bounded(cdz_model **out, const char *json, size_t len, const char *what, size_t max_params,
                                       cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

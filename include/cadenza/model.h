/* cadenza models: a loaded model (weights and config, read-only while in use) and sessions (one
 * thread's generation or training state each).
 *
 *   cdz_model *m = NULL;
 *   if (cdz_checkpoint_load("models/attention_rnn.safetensors", &m, &err) != CDZ_OK) ...
 *   cdz_session *s = NULL;
 *   cdz_session_new(&s, m, 1, 0, &err);                 // one row, the model's own context
 *   uint16_t tok = first;
 *   float logits[64];                                    // cdz_model_vocab(m) floats per row
 *   cdz_session_feed(s, &tok, logits, &err);             // the next token's logits; feed it next
 *   cdz_session_free(s);
 *   cdz_model_free(m);
 *
 * A model holds its config (a JSON object, saved in checkpoints, so a checkpoint alone rebuilds the
 * model), its parameters in one fp32 buffer sliced by a table of named tensors, and, once a trainer
 * asks for them, their gradients. Everything that changes while the model is used lives in a session:
 * the per-row state of generation (recurrent state, key/value caches, decoded melody features), the
 * tokens fed so far, and the activations of the loss. Any number of sessions may use one model at
 * once, each from its own thread; the model must not change meanwhile (a trainer changes it between
 * steps, from the thread that owns it).
 *
 * Generation is row-wise: a session has up to `capacity` rows that share a length; each feed appends
 * one token to every active row and returns the next token's logits for each. Rows can be
 * rearranged (cdz_session_gather), which is how beam search copies and keeps sequences. A session's
 * context is a window of the most recent tokens: models that can slide (relative attention, RNNs) go
 * on past it; the others refuse to feed past their longest sequence (cdz_session_can_slide).
 *
 * Thread safety: a model may be shared by sessions on several threads while nothing modifies it; a
 * session belongs to one thread at a time. How to write a model kind: cadenza/model_kind.h. */
#ifndef CADENZA_MODEL_H
#define CADENZA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "cadenza/backend.h"
#include "cadenza/core.h"
#include "cadenza/json.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cdz_model cdz_model;             /* opaque: see cadenza/model_kind.h for kinds */
typedef struct cdz_session cdz_session;         /* opaque */
typedef struct cdz_model_kind cdz_model_kind;   /* a model kind's table (cadenza/model_kind.h) */

/* ---- batches and losses ---- */

/* A training or evaluation example of token models: the tokens seq[start .. start + n) of one
 * sequence, n >= 2; the model predicts seq[start + 1 .. start + n) from what comes before, and may read
 * seq[0 .. start) for context (the melody models compute features from the whole history). */
typedef struct cdz_window {
    union {
        const uint16_t *seq;  /* CDZ_BATCH_TOKENS */
        const int16_t *audio; /* CDZ_BATCH_AUDIO: the sequence's samples; the window is audio[start .. start + n) */
    };
    int64_t start, n;
} cdz_window;

/* What a batch holds. Token windows are what every kind reads today; a model with a latent space or
 * one over audio adds its own kind of batch here, with its fields below. */
typedef enum cdz_batch_kind {
    CDZ_BATCH_TOKENS = 0,
    CDZ_BATCH_AUDIO = 1, /* windows of int16 mono samples of an audio shard (models whose cdz_model_audio_rate > 0) */
} cdz_batch_kind;

typedef struct cdz_batch {
    cdz_batch_kind kind;
    int B;                     /* examples */
    const cdz_window *windows; /* (B) for CDZ_BATCH_TOKENS */
    int64_t offset;            /* the index of example 0 in the step's whole batch: example b is example
                                  offset + b of it, whose dropout masks it draws (0 for a batch that is
                                  the whole; a data-parallel rank's share starts at rank x B) */
} cdz_batch;

/* A batch of B token windows, offset 0. */
CDZ_API cdz_batch cdz_batch_tokens(const cdz_window *windows, int B);
/* A batch of B audio windows (cdz_window.audio), offset 0. */
CDZ_API cdz_batch cdz_batch_audio(const cdz_window *windows, int B);

typedef enum cdz_pass { CDZ_EVAL = 0, CDZ_TRAIN = 1 } cdz_pass;

/* Dropout (CDZ_TRAIN) is counter-based: each unit's draw is a function of (seed, step, the example's
 * index in the whole batch (batch->offset + b), the dropout site, the position, the channel) alone
 * (cdz_dropout_site in cadenza/nn.h), so an example gets the same masks however the batch is split:
 * the loss of a batch equals the token-weighted losses of its parts with their offsets, with dropout
 * as without, and a data-parallel run equals one process. Another seed or step draws other masks. */
typedef struct cdz_loss_opts {
    cdz_pass pass;  /* CDZ_TRAIN applies dropout and adds the gradient of the objective into grads */
    int64_t step;   /* the training step about to be taken (0-based): schedules such as KL annealing, and
                       dropout's masks */
    uint64_t seed;  /* dropout's key with step (CDZ_TRAIN; the trainer passes its run's seed) */
    float *grads;   /* (n_params) the gradient buffer, cdz_model_grads (CDZ_TRAIN) */
} cdz_loss_opts;

/* Counters summed over predicted tokens (padding excluded), kept across calls. */
typedef struct cdz_loss_stats {
    double loss_sum; /* summed over predicted tokens, nats */
    int64_t tokens;  /* predicted tokens */
    int64_t correct; /* tokens whose most likely prediction was right */
} cdz_loss_stats;

enum { CDZ_LOSS_MAX_TERMS = 4 };

/* A loss, by named terms: the objective is what training descends, each term is reported and logged
 * on its own (a VAE's "reconstruction" and "kl"). Token models have one term, "nll": the mean
 * negative log-likelihood per predicted token, equal to the objective. */
typedef struct cdz_loss {
    float objective;
    int n_terms;
    struct {
        const char *name;  /* a static string of the kind */
        double value;      /* the term's mean over the batch */
    } terms[CDZ_LOSS_MAX_TERMS];
    int64_t tokens;        /* predicted tokens in the batch (the weight of its mean) */
} cdz_loss;

/* ---- model kinds (melody_rnn, music_transformer, accompaniment) ---- */

/* The kind with this name, or NULL. */
CDZ_API const cdz_model_kind *cdz_model_kind_find(const char *name);
/* All kinds, for listings: returns how many there are and sets *list. */
CDZ_API size_t cdz_model_kind_list(const cdz_model_kind *const **list);
CDZ_API const char *cdz_kind_name(const cdz_model_kind *k);
CDZ_API const char *cdz_kind_description(const cdz_model_kind *k);   /* one line */
CDZ_API const char *cdz_kind_default_config(const cdz_model_kind *k);
CDZ_API const char *const *cdz_kind_config_names(const cdz_model_kind *k); /* NULL-terminated */
/* A named config of the kind as JSON text (static), or NULL when it has none by that name. */
CDZ_API const char *cdz_kind_named_config(const cdz_model_kind *k, const char *name);

/* ---- models ---- */

/* Builds kind `kind` with its named config `config` (NULL: the kind's default), parameters zero. */
CDZ_API cdz_status cdz_model_create(cdz_model **out, const char *kind, const char *config, cdz_error *err);
/* Builds a model from a config JSON text (with its "kind" and "config_name" keys); `what` names the
 * source in errors. */
CDZ_API cdz_status cdz_model_from_json(cdz_model **out, const char *json, size_t len, const char *what, cdz_error *err);
CDZ_API void cdz_model_free(cdz_model *m);
/* The full config (kind, config_name and the kind's fields) as JSON text, cdz_malloc'd. */
CDZ_API char *cdz_model_config_json(const cdz_model *m);
/* The kind's initialisation, drawn from a generator seeded with `seed`. */
CDZ_API void cdz_model_init_params(cdz_model *m, uint64_t seed);

CDZ_API const cdz_model_kind *cdz_model_kind_of(const cdz_model *m);
CDZ_API const char *cdz_model_kind_name(const cdz_model *m);    /* "melody_rnn" */
CDZ_API const char *cdz_model_config_name(const cdz_model *m);  /* "attention_rnn", or "custom" */
CDZ_API const char *cdz_model_codec(const cdz_model *m);        /* the codec of its tokens (cadenza/codec.h) */
CDZ_API uint32_t cdz_model_vocab(const cdz_model *m);           /* tokens it predicts (logits per row) */
CDZ_API uint32_t cdz_model_history_vocab(const cdz_model *m);   /* tokens it may be fed (>= vocab) */
CDZ_API int cdz_model_max_len(const cdz_model *m);              /* the most tokens a window may predict, 0: any */
/* The sample rate of the audio a model reads (an audio codec's), 0 for models of tokens. */
CDZ_API uint32_t cdz_model_audio_rate(const cdz_model *m);
CDZ_API size_t cdz_model_n_params(const cdz_model *m);

/* The parameters, one buffer (n_params floats), in the host memory of the model's backend. */
CDZ_API float *cdz_model_params(cdz_model *m);
CDZ_API const float *cdz_model_params_const(const cdz_model *m);
/* The gradient buffer (n_params floats), allocated zeroed on the first call; NULL when out of memory. */
CDZ_API float *cdz_model_grads(cdz_model *m);
CDZ_API void cdz_model_zero_grads(cdz_model *m);

/* The named tensors that slice the parameters (the names and shapes checkpoints hold). */
typedef struct cdz_tensor_info {
    char name[48];
    int ndim;
    int64_t shape[4];
    size_t offset, numel; /* in floats, into params / grads */
} cdz_tensor_info;
CDZ_API size_t cdz_model_n_tensors(const cdz_model *m);
CDZ_API const cdz_tensor_info *cdz_model_tensor_at(const cdz_model *m, size_t i);
CDZ_API const cdz_tensor_info *cdz_model_tensor(const cdz_model *m, const char *name); /* NULL if none */

/* Training defaults a config carries (Magenta's for the melody models). */
typedef struct cdz_train_defaults {
    int batch, seq;
    float lr, clip, weight_decay;
    int warmup_steps;
    /* the config's own learning-rate schedule (a cdz_lr_decay of cadenza/train.h; 0: none, and the
       trainer's defaults apply): per-step rate and floor, as a share of lr */
    int decay;
    float decay_rate, min_lr_ratio;
} cdz_train_defaults;
CDZ_API cdz_train_defaults cdz_model_train_defaults(const cdz_model *m);

/* The backend the model's layers run on (cadenza/backend.h; the CPU's unless set). Models keep their
 * parameters and activations in host memory so far, so only host-memory backends (cpu, reference)
 * can run them; others are refused with a message naming what is missing. Set it before creating
 * sessions. */
CDZ_API cdz_status cdz_model_set_backend(cdz_model *m, const cdz_backend *be, cdz_error *err);
CDZ_API const cdz_backend *cdz_model_backend(const cdz_model *m);

/* ---- sessions ---- */

/* A session over m with room for `capacity` rows (at least 1) and a context of `window` tokens (0: the
 * model's own: a transformer's max_len, an accompaniment model's 2 * max_len (the melody half and the
 * part it writes); recurrent models keep everything). No row is active until the first
 * cdz_session_reset; the rows' memory is allocated then. A session reads the model's weights as they
 * are at its first step: do not train the model under a live session. */
CDZ_API cdz_status cdz_session_new(cdz_session **out, const cdz_model *m, int capacity, int64_t window, cdz_error *err);
CDZ_API void cdz_session_free(cdz_session *s);
CDZ_API const cdz_model *cdz_session_model(const cdz_session *s);
/* Empties the session and makes `rows` rows (1 .. capacity) active, all of length 0. */
CDZ_API cdz_status cdz_session_reset(cdz_session *s, int rows, cdz_error *err);
CDZ_API int cdz_session_rows(const cdz_session *s);
CDZ_API int cdz_session_capacity(const cdz_session *s);
CDZ_API int64_t cdz_session_length(const cdz_session *s);          /* tokens fed to each row so far */
CDZ_API int64_t cdz_session_window(const cdz_session *s);          /* the context it keeps (0: everything) */
/* Whether feeding may go on past the window (the oldest tokens then leave the context). */
CDZ_API int cdz_session_can_slide(const cdz_session *s);
/* The tokens fed to `row` so far (cdz_session_length of them). */
CDZ_API const uint16_t *cdz_session_history(const cdz_session *s, int row);
/* Feeds tokens[r] to each active row r and writes the next token's logits, (rows, vocab), into logits
 * (NULL: not wanted, e.g. for all but the last token of a primer). A token outside the model's history
 * vocabulary, or a feed past the window of a model that cannot slide, is CDZ_ERR_ARG and changes
 * nothing. */
CDZ_API cdz_status cdz_session_feed(cdz_session *s, const uint16_t *tokens, float *logits, cdz_error *err);
/* Rearranges rows: new row i is old row from[i] (state, history and length), for i < n (n <=
 * capacity; entries may repeat). The active rows become these n. */
CDZ_API cdz_status cdz_session_gather(cdz_session *s, const int *from, int n, cdz_error *err);

/* ---- latent spaces (models that have one, e.g. a VAE; 0 / CDZ_ERR_UNSUPPORTED for the others) ---- */
/* The size of the model's latent vectors, 0 when it has none. */
CDZ_API int cdz_model_latent_dim(const cdz_model *m);
/* The posterior of each example of the batch: mu and sigma (B, latent_dim) each. */
CDZ_API cdz_status cdz_model_encode(cdz_session *s, const cdz_batch *batch, float *mu, float *sigma, cdz_error *err);
/* Conditions the active rows' generation on latent vectors z (rows, latent_dim); call after
 * cdz_session_reset, before the first feed. */
CDZ_API cdz_status cdz_session_set_latent(cdz_session *s, const float *z, cdz_error *err);

/* The loss of a batch on the session's model: adds the gradient of the objective into opts->grads
 * when training, adds the token counters into stats (may be NULL). Uses the session's activation
 * buffers (sized for the largest batch seen), not its rows. */
CDZ_API cdz_status cdz_model_loss(cdz_session *s, const cdz_batch *batch, const cdz_loss_opts *opts, cdz_loss *out,
                          cdz_loss_stats *stats, cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

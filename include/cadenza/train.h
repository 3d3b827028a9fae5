/* cadenza train: the training loop over any model (cadenza/model.h), evaluation, checkpoints.
 *
 *   cdz_model *model = NULL;
 *   cdz_model_create(&model, "melody_rnn", "attention_rnn", &err);
 *   cdz_model_init_params(model, 1);
 *   cdz_trainer t;
 *   cdz_train_config cfg = cdz_train_config_for(model);    // the model config's defaults
 *   cfg.steps = 2000;
 *   cdz_trainer_init(&t, model, &dataset, &cfg, &err);
 *   while (t.step < cfg.steps) { cdz_train_step_info info; cdz_trainer_step(&t, &info, &err); }
 *   cdz_checkpoint_save("model.safetensors", model, &t, NULL, 0, &err);
 *   cdz_trainer_free(&t);
 *   cdz_model_free(model);
 *
 * A step draws `batch` random windows of up to seq + 1 tokens from the training split (each start
 * position of each sequence equally likely; sequences shorter than a window are taken whole and
 * padded), runs the model's forward and backward passes (cdz_model_loss on the trainer's own session,
 * the step passed in for schedules such as KL annealing, each named loss term kept in the step's info),
 * clips the global gradient norm, sets the learning rate from the schedule and applies AdamW. The windows
 * and their transpositions come from the trainer's one rng, which checkpoints store with the moments
 * and the step; dropout's masks are keyed by (seed, step, each window's index in the batch)
 * (cdz_loss_opts), so a resumed run repeats an unbroken one exactly. Checkpoints are safetensors files
 * (docs/checkpoints.md).
 *
 * Data parallelism (cdz_trainer_distribute, cadenza/dist.h): every rank draws the same global batch
 * from the same rng (positions only) and runs the model on its own contiguous B/N windows; the ranks'
 * gradients, each weighted by its predicted tokens, are summed by an all-reduce and divided by the
 * batch's tokens (the gradient of the global mean loss), then every rank clips and steps identically,
 * so the parameters stay the same everywhere and the losses match one process up to the order of float
 * sums. This holds with dropout too: each rank's share keeps its windows' indices in the global batch
 * (cdz_batch.offset), and a window's masks depend on that index, not on the rank that holds it. */
#ifndef CADENZA_TRAIN_H
#define CADENZA_TRAIN_H

#include "cadenza/data.h"
#include "cadenza/dist.h"
#include "cadenza/model.h"
#include "cadenza/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cdz_lr_decay { CDZ_DECAY_NONE, CDZ_DECAY_COSINE, CDZ_DECAY_EXPONENTIAL, CDZ_DECAY_EXPONENTIAL_FLOOR } cdz_lr_decay;

typedef struct cdz_train_config {
    int batch, seq;           /* windows per step, tokens predicted per window */
    int64_t steps;            /* total optimiser steps of the run */
    float lr, clip, weight_decay, beta1, beta2, eps;
    int warmup_steps;         /* linear warm-up from 0 */
    cdz_lr_decay decay;       /* after warm-up: none, cosine to lr * min_lr_ratio at `steps`, or
                                 exponential (lr * rate^(step / decay_steps), stepwise, as Magenta's
                                 RNNs), or exponential_floor (lr * ((1 - min_lr_ratio) *
                                 rate^(step / decay_steps) + min_lr_ratio), smooth, as MusicVAE) */
    float min_lr_ratio, decay_rate;
    int decay_steps;
    uint64_t seed;
    int whole_sequences;          /* draw sequences uniformly and take each from its start (up to seq + 1
                                     tokens) instead of windows at random positions */
    int transpose_min, transpose_max; /* augmentation: each window moved by a shift drawn uniformly from
                                     those in [min, max] that keep it in the codec's range (0, 0: none) */
} cdz_train_config;

/* The model config's defaults (batch, seq, lr, clip, weight decay, warm-up), no decay, seed 1. */
CDZ_API cdz_train_config cdz_train_config_for(const cdz_model *m);
/* The learning rate at step `step` (0-based: the step about to be taken). */
CDZ_API float cdz_train_lr(const cdz_train_config *c, int64_t step);
CDZ_API const char *cdz_lr_decay_name(cdz_lr_decay d);
CDZ_API cdz_status cdz_lr_decay_parse(const char *s, cdz_lr_decay *d);

/* Random training windows over one split (see above). */
typedef struct cdz_window_sampler {
    const cdz_dataset *ds;
    int seq;
    uint64_t *seqs, *cum, n_seqs, n_windows;
} cdz_window_sampler;
CDZ_API cdz_status cdz_window_sampler_init(cdz_window_sampler *s, const cdz_dataset *ds, cdz_split split, int seq, cdz_error *err);
CDZ_API void cdz_window_sampler_draw(const cdz_window_sampler *s, cdz_rng *rng, cdz_window *out, int B);
/* Whole sequences from their start, each sequence equally likely. */
CDZ_API void cdz_window_sampler_draw_whole(const cdz_window_sampler *s, cdz_rng *rng, cdz_window *out, int B);
CDZ_API void cdz_window_sampler_free(cdz_window_sampler *s);

typedef struct cdz_trainer {
    cdz_model *model;
    cdz_train_config cfg;
    cdz_window_sampler sampler;
    float *m, *v;             /* AdamW moments, one buffer each, sliced like the parameters */
    int64_t step;             /* steps taken */
    cdz_rng rng;              /* windows and transpositions (dropout is keyed by cfg.seed and step) */
    cdz_session *session;     /* the loss's activation buffers */
    cdz_window *windows;
    uint16_t *shifted;        /* transposed copies of the windows' sequences (batch x longest) */
    size_t longest;
    cdz_dist *dist;           /* the ranks sharing each batch (cdz_trainer_distribute); NULL: one process */
    int failed_elsewhere;     /* the last step failed only because another rank's did (which holds the
                                 message) */
} cdz_trainer;

typedef struct cdz_train_step_info {
    float loss, grad_norm, lr;  /* loss: the objective */
    cdz_loss terms;             /* the loss by named terms (terms.terms[k].name, .value), for logs */
    int64_t tokens;             /* predicted tokens in the step */
} cdz_train_step_info;

CDZ_API cdz_status cdz_trainer_init(cdz_trainer *t, cdz_model *m, const cdz_dataset *ds, const cdz_train_config *cfg,
                            cdz_error *err);
/* One optimiser step. A loss that is not finite stops before the update (CDZ_ERR_RANGE) and leaves
 * the parameters as they were. */
CDZ_API cdz_status cdz_trainer_step(cdz_trainer *t, cdz_train_step_info *info, cdz_error *err);
CDZ_API void cdz_trainer_free(cdz_trainer *t);
/* Shares each step's batch among the ranks of d (see above; every rank calls each step). The batch
 * must be a multiple of the ranks (CDZ_ERR_ARG naming both otherwise). A group of one changes nothing. */
CDZ_API cdz_status cdz_trainer_distribute(cdz_trainer *t, cdz_dist *d, cdz_error *err);
/* Checks that every rank holds the same parameters and AdamW moments (an FNV-1a hash of each rank's
 * bytes against rank 0's); where one differs, copies rank 0's to every rank. *differ: the ranks that
 * differed (0 when all agreed). Collective; cheap next to writing a checkpoint. */
CDZ_API cdz_status cdz_trainer_check_replicas(cdz_trainer *t, int *differ, cdz_error *err);

/* Mean loss, perplexity and accuracy over every sequence of a split: each sequence from its start in
 * windows of up to max_len predicted tokens (at most the model's own max_len; the state starts afresh
 * in each window), `batch` windows at a time. */
CDZ_API cdz_status cdz_evaluate(const cdz_model *m, const cdz_dataset *ds, cdz_split split, int batch, int max_len,
                        int64_t max_tokens, cdz_loss_stats *stats, cdz_error *err);
/* The same over the ranks of d (collective): the batches, in cdz_evaluate's order, go to the ranks in
 * turn and each round's statistics are all-reduced, so every rank gets cdz_evaluate's numbers (up to
 * the order of double sums) in about 1/N of its time. d NULL or of one rank: cdz_evaluate. */
CDZ_API cdz_status cdz_evaluate_dist(const cdz_model *m, const cdz_dataset *ds, cdz_split split, int batch, int max_len,
                             int64_t max_tokens, cdz_dist *d, cdz_loss_stats *stats, cdz_error *err);

/* ---- checkpoints ---- */
/* Writes the parameters and, with a trainer, the AdamW moments, step, rng and training config
 * (temporary file, fsync, rename). `extra` adds metadata pairs (key, value; may be NULL). */
CDZ_API cdz_status cdz_checkpoint_save(const char *path, const cdz_model *m, const cdz_trainer *t, const char *const *extra,
                               size_t n_extra, cdz_error *err);
/* Rebuilds the model from the checkpoint's config and loads its parameters. With a trainer (already
 * initialised for this model with the run's settings, cdz_checkpoint_train_config), restores moments,
 * step, rng and the training config too (the caller may then change cfg.steps and the learning-rate
 * settings). Rejects a truncated, foreign or mismatched file with an error naming it. */
CDZ_API cdz_status cdz_checkpoint_load(const char *path, cdz_model **m, cdz_error *err);
CDZ_API cdz_status cdz_checkpoint_load_trainer(const char *path, cdz_trainer *t, cdz_error *err);
/* The training settings a checkpoint's run used (to set up the trainer that resumes it). */
CDZ_API cdz_status cdz_checkpoint_train_config(const char *path, cdz_train_config *c, cdz_error *err);
/* A metadata value of a checkpoint (cdz_malloc'd copy), or NULL. */
CDZ_API char *cdz_checkpoint_meta(const char *path, const char *key, cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

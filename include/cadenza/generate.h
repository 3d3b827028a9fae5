/* cadenza generate: music from a model, score in and score out. The library's generator turns a
 * request (a primer or none, a condition such as a melody to accompany, a length in steps, bars,
 * seconds or tokens, sampling settings, a seed) into scores, with the model's codec doing the music's
 * side (cadenza/codec.h: cdz_codec_gen): where a generation starts, the primer's tokens and its frame
 * (tempo, meter, the transposition into the model's range), the seconds tokens span, the tokens back to
 * a score in that frame. Magenta's SequenceGenerator is the pattern: the CLI, the studio and bindings
 * are thin callers.
 *
 *   cdz_gen_request rq = cdz_gen_default_request();
 *   rq.primer = &score;                 // NULL: from the codec's start
 *   rq.length = 8, rq.unit = CDZ_LEN_BARS;
 *   rq.n_outputs = 3, rq.seed = 1;
 *   cdz_gen_result res;
 *   if (cdz_generate_score(model, &rq, &res, &err) == CDZ_OK)
 *       for (int i = 0; i < res.n; i++) cdz_score_write_file(&res.scores[i], path_i, 1, &err);
 *   cdz_gen_result_free(&res);
 *
 * Lengths past the model's context: models that can slide (RNNs, relative attention) go on with a
 * window over their cache; the others start again from the tail of what they wrote (the last half
 * context), and the result's notes say so. Nothing is cut silently: what was cut, and why, is in
 * res.notes. Thread safety: any number of calls may share one model (each makes its own session). */
#ifndef CADENZA_GENERATE_H
#define CADENZA_GENERATE_H

#include "cadenza/codec.h"
#include "cadenza/model.h"
#include "cadenza/sample.h"
#include "cadenza/score.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cdz_length_unit {
    CDZ_LEN_STEPS = 0,  /* 16th-note steps for grid codecs (melodies, chorales); tokens for event codecs */
    CDZ_LEN_BARS = 1,   /* bars of the primer's meter (4/4 without one) */
    CDZ_LEN_SECONDS = 2,/* seconds of music at the output's tempo */
    CDZ_LEN_TOKENS = 3, /* the model's tokens */
} cdz_length_unit;

typedef struct cdz_gen_request {
    const cdz_score *primer;   /* music to continue (kept at the start of each output), or NULL */
    int primer_track;          /* >= 0: only this score track of the primer; -1: all of it */
    double primer_bars;        /* > 0: only the primer's first N bars (its own bar lines); 0: all */
    const cdz_score *condition;/* accompaniment models: the melody to accompany (required for them): its
                                  tracks named MELODY when it has some, else every note but drums */
    int keep_all;              /* accompaniment: 1 keeps every track of the condition's file in the output;
                                  0 keeps the melody's tracks only (their notes; the others are emptied) */
    double length;             /* how much to generate after the primer, in `unit` (> 0) */
    cdz_length_unit unit;
    cdz_sample_params sampling;
    uint64_t seed;
    int n_outputs;             /* >= 1 */
    double qpm;                /* > 0: the output's tempo; 0: the primer's (120 without one) */
    int64_t context;           /* tokens the model attends to; 0: the window it was trained on */
    void (*progress)(void *ctx, int64_t done, int64_t total);
    void *progress_ctx;
} cdz_gen_request;

/* A request with nothing set: no primer, 128 steps, default sampling, seed 1, one output. */
CDZ_API cdz_gen_request cdz_gen_default_request(void);

typedef struct cdz_gen_result {
    int n;
    cdz_score *scores;         /* (n): the primer and its continuation; accompaniment: the condition's
                                  score with the new part as a track of its own */
    double *loglik;            /* (n): summed log-probability of the new tokens */
    int64_t *new_tokens;       /* (n): tokens generated after the primer */
    int64_t primer_tokens;     /* the primer's tokens (its start tokens without one) */
    double qpm;                /* the output's tempo */
    int numerator, denominator;/* the output's meter */
    int transpose;             /* semitones the primer was moved into the model's range (undone) */
    int64_t context;           /* the context the model attended to */
    char notes[1024];          /* what the caller should tell its user ("" when nothing): where the primer
                                  was cut, that a window slid, that a melody was folded into range */
} cdz_gen_result;

/* The context a generation attends to when the request gives none: for models that slide over their
 * cache, the window they were trained on (what they learnt to attend to); for the others their longest
 * sequence; 0 for models without a limit (RNNs). */
CDZ_API int64_t cdz_gen_default_context(const cdz_model *m);

/* Generates rq->n_outputs pieces from model m (any kind whose codec has generation hooks). Errors name
 * what is wrong with the request (a length of 0, a primer with nothing the codec reads, a track that
 * is not in the primer, an accompaniment without a melody). */
CDZ_API cdz_status cdz_generate_score(const cdz_model *m, const cdz_gen_request *rq, cdz_gen_result *out, cdz_error *err);
CDZ_API void cdz_gen_result_free(cdz_gen_result *r);

/* The sampling a checkpoint recommends: its "sampling" metadata, a JSON object of any of
 * "temperature", "top_k" and "top_p" (written by 'cadenza export --temperature X'; a model card says
 * why). Sets the fields it names in *p and *named to how many it names (0 when the file has none).
 * A value out of range or a malformed object is an error naming the file. */
CDZ_API cdz_status cdz_gen_checkpoint_sampling(const char *path, cdz_sample_params *p, int *named, cdz_error *err);
/* The metadata value for sampling settings (cdz_malloc'd JSON text, e.g. {"temperature":0.7}), from
 * the fields of p that differ from cdz_sample_default_params(); NULL when none does. */
CDZ_API char *cdz_gen_sampling_json(const cdz_sample_params *p);

#ifdef __cplusplus
}
#endif
#endif

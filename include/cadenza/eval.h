/* cadenza eval: measures of models and data.
 *
 *   cdz_loss_stats st;
 *   cdz_ngram_eval(&dataset, 2, 0.1, CDZ_SPLIT_EVAL, &st, &err);   // a bigram baseline's loss
 *
 * The n-gram baselines are fitted on the training split and evaluated like a model (cdz_evaluate in
 * cadenza/train.h): every token after the first of each sequence is predicted, in nats. */
#ifndef CADENZA_EVAL_H
#define CADENZA_EVAL_H

#include "cadenza/data.h"
#include "cadenza/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Order 1 (unigram) or 2 (bigram), add-k smoothing (k > 0) over the dataset's vocabulary. */
CDZ_API cdz_status cdz_ngram_eval(const cdz_dataset *ds, int order, double k, cdz_split split, cdz_loss_stats *stats,
                          cdz_error *err);

/* Statistics of monophonic melodies (cadenza/extract.h events, 16th-note steps): how many notes lie
 * in a major key, how long notes last, and the intervals between consecutive notes. */
enum { CDZ_STATS_MAX_LENGTH = 16, CDZ_STATS_MAX_INTERVAL = 12 };
typedef struct cdz_melody_stats {
    int64_t melodies, notes, in_key;
    int64_t length[CDZ_STATS_MAX_LENGTH + 1];       /* notes lasting 1 .. 16 steps at [0 .. 15], longer at [16] */
    int64_t interval[2 * CDZ_STATS_MAX_INTERVAL + 1]; /* -12 .. +12 semitones (clamped) at [0 .. 24] */
    int64_t intervals;
} cdz_melody_stats;

/* The major key (tonic pitch class 0-11) whose scale holds most of the melody's notes from step
 * `from` on; ties go to the lowest tonic. -1 if it has no notes. */
CDZ_API int cdz_melody_major_key(const int16_t *events, size_t n, size_t from);
/* Adds the notes that start at or after step `from` to the statistics; `key` is the major key to test
 * notes against (-1: the melody's own, by cdz_melody_major_key). */
CDZ_API void cdz_melody_stats_add(cdz_melody_stats *st, const int16_t *events, size_t n, size_t from, int key);
/* Overlap of two histograms as distributions (sum of the minima of their shares): 1 = identical. */
CDZ_API double cdz_histogram_overlap(const int64_t *a, const int64_t *b, size_t n);

#ifdef __cplusplus
}
#endif
#endif

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
cdz_status cdz_ngram_eval(const cdz_dataset *ds, int order, double k, cdz_split split, cdz_loss_stats *stats,
                          cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

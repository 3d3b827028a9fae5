/* Unigram and bigram baselines with add-k smoothing: counts from the training split, the loss and
 * accuracy of their predictions on another split (the floor a sequence model has to beat). */
#include <math.h>
#include <string.h>

#include "cadenza/eval.h"

cdz_status cdz_ngram_eval(const cdz_dataset *ds, int order, double k, cdz_split split, cdz_loss_stats *stats,
                          cdz_error *err) {
    memset(stats, 0, sizeof *stats);
    if ((order != 1 && order != 2) || !(k > 0))
        return cdz_error_set(err, CDZ_ERR_ARG, "n-gram baseline: order must be 1 or 2 and smoothing above 0");
    if (!ds->tokens)
        return cdz_error_set(err, CDZ_ERR_ARG, "n-gram baselines are over tokens; the dataset holds %s",
                             cdz_dtype_name(ds->dtype));
    const size_t V = ds->vocab_size, rows = order == 2 ? V : 1;
    if (V == 0 || V > 4096) return cdz_error_set(err, CDZ_ERR_RANGE, "n-gram baseline: vocabulary of %zu tokens", V);
    double *counts = cdz_calloc(rows * V, sizeof *counts), *totals = cdz_calloc(rows, sizeof *totals);
    if (!counts || !totals) {
        cdz_free(counts), cdz_free(totals);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    }
    /* the same predicted positions as a model's: every token after the first of a sequence */
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t i = 0; i < ds->n_seqs; i++) {
            if (pass == 0 ? ds->splits[i] != CDZ_SPLIT_TRAIN : split != CDZ_SPLIT_ALL && ds->splits[i] != split) continue;
            const uint16_t *s = ds->tokens + ds->offsets[i];
            uint64_t len = cdz_dataset_seq_len(ds, i);
            for (uint64_t t = 1; t < len; t++) {
                size_t row = order == 2 ? s[t - 1] : 0;
                if (s[t] >= V || row >= rows) continue;
                if (pass == 0) {
                    counts[row * V + s[t]] += 1;
                    totals[row] += 1;
                    continue;
                }
                const double *c = counts + row * V;
                size_t best = 0;
                for (size_t v = 1; v < V; v++)
                    if (c[v] > c[best]) best = v;
                stats->loss_sum -= log((c[s[t]] + k) / (totals[row] + k * (double)V));
                stats->correct += best == s[t];
                stats->tokens++;
            }
        }
    }
    cdz_free(counts), cdz_free(totals);
    if (!stats->tokens) return cdz_error_set(err, CDZ_ERR_ARG, "the dataset has no %s tokens to evaluate", cdz_split_name(split));
    return CDZ_OK;
}

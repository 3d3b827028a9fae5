/* Random training windows over the sequences of a dataset split. */
#include <string.h>

#include "cadenza/data.h"

cdz_status cdz_batcher_init(cdz_batcher *b, const cdz_dataset *ds, cdz_split split, int64_t B, int64_t T,
                            uint64_t seed, int rank, int world, cdz_error *err) {
    memset(b, 0, sizeof *b);
    if (B <= 0 || T <= 0 || world <= 0 || rank < 0 || rank >= world)
        return cdz_error_set(err, CDZ_ERR_ARG, "batches: B=%lld T=%lld rank %d of %d", (long long)B, (long long)T, rank, world);
    /* the dataset's type comes from its file: audio or features are refused here, not read as tokens */
    if (!ds->tokens)
        return cdz_error_set(err, CDZ_ERR_ARG, "batches are token windows; the dataset holds %s", cdz_dtype_name(ds->dtype));
    b->ds = ds;
    b->B = B;
    b->T = T;
    cdz_rng_seed(&b->rng, seed ^ (0x51ed27a1u * (uint64_t)(rank + 1)));
    b->seqs = cdz_calloc(ds->n_seqs + 1, sizeof *b->seqs);
    b->cum = cdz_calloc(ds->n_seqs + 1, sizeof *b->cum);
    if (!b->seqs || !b->cum) {
        cdz_batcher_free(b);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory preparing batches");
    }
    for (uint64_t i = (uint64_t)rank; i < ds->n_seqs; i += (uint64_t)world) {
        uint64_t len = cdz_dataset_seq_len(ds, i);
        if ((split != CDZ_SPLIT_ALL && ds->splits[i] != split) || len < (uint64_t)T + 1) continue;
        b->n_windows += len - (uint64_t)T; /* start positions 0 .. len - T - 1 */
        b->seqs[b->n_seqs] = i;
        b->cum[b->n_seqs++] = b->n_windows;
    }
    if (b->n_windows == 0) {
        cdz_batcher_free(b);
        return cdz_error_set(err, CDZ_ERR_ARG, "no %s sequence of at least %lld tokens for rank %d of %d",
                             cdz_split_name(split), (long long)T + 1, rank, world);
    }
    return CDZ_OK;
}

void cdz_batcher_next(cdz_batcher *b, uint16_t *out) {
    for (int64_t i = 0; i < b->B; i++) {
        uint64_t w = cdz_rng_below(&b->rng, b->n_windows);
        /* The sequence whose cumulative count first exceeds w. */
        uint64_t lo = 0, hi = b->n_seqs - 1;
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (b->cum[mid] > w) hi = mid;
            else lo = mid + 1;
        }
        uint64_t before = lo ? b->cum[lo - 1] : 0;
        const uint16_t *src = b->ds->tokens + b->ds->offsets[b->seqs[lo]] + (w - before);
        memcpy(out + i * (b->T + 1), src, (size_t)(b->T + 1) * sizeof *out);
    }
}

void cdz_batcher_free(cdz_batcher *b) {
    cdz_free(b->seqs);
    cdz_free(b->cum);
    memset(b, 0, sizeof *b);
}

/* Evaluation measures on hand-made inputs with hand-computed answers: n-gram baselines and melody
 * statistics. */
#include <math.h>

#include "test.h"

static void test_ngram(void) {
    /* train: "0 1 0 1" and "0 1"; eval: "0 1 1". Predicted eval tokens: 1 (after 0), 1 (after 1). */
    static const uint16_t tokens[] = {0, 1, 0, 1, 0, 1, 0, 1, 1};
    static const uint64_t offsets[] = {0, 4, 6, 9};
    static const uint8_t splits[] = {CDZ_SPLIT_TRAIN, CDZ_SPLIT_TRAIN, CDZ_SPLIT_EVAL};
    cdz_dataset ds;
    memset(&ds, 0, sizeof ds);
    snprintf(ds.codec, sizeof ds.codec, "melody");
    ds.vocab_size = 3, ds.n_seqs = 3, ds.n_tokens = 9;
    ds.offsets = offsets, ds.splits = splits, ds.tokens = tokens;
    cdz_loss_stats st;
    cdz_error err;
    /* unigram counts over predicted train tokens (1, 0, 1, 1): c(0) = 1, c(1) = 3, N = 4; k = 0.5, V = 3 */
    CHECK(cdz_ngram_eval(&ds, 1, 0.5, CDZ_SPLIT_EVAL, &st, &err) == CDZ_OK, "%s", err.msg);
    double p1 = (3 + 0.5) / (4 + 1.5);
    CHECK_NEAR(st.loss_sum, -2 * log(p1), 1e-9);
    CHECK_INT(st.tokens, 2);
    CHECK_INT(st.correct, 2); /* the most frequent token is 1 */
    /* bigram: after 0: 1 three times; after 1: 0 once. Eval: P(1|0) = 3.5/4.5, P(1|1) = 0.5/2.5 */
    CHECK(cdz_ngram_eval(&ds, 2, 0.5, CDZ_SPLIT_EVAL, &st, &err) == CDZ_OK, "%s", err.msg);
    CHECK_NEAR(st.loss_sum, -log(3.5 / 4.5) - log(0.5 / 2.5), 1e-9);
    CHECK_INT(st.correct, 1);
    CHECK(cdz_ngram_eval(&ds, 3, 0.5, CDZ_SPLIT_EVAL, &st, &err) == CDZ_ERR_ARG, "order 3 refused");
    CHECK(cdz_ngram_eval(&ds, 2, 0.5, CDZ_SPLIT_TEST, &st, &err) == CDZ_ERR_ARG, "an empty split is an error");
}

static void test_melody_stats(void) {
    enum { H = CDZ_MELODY_NO_EVENT, O = CDZ_MELODY_NOTE_OFF };
    /* C (2 steps), E (1), F# (4, ended by an off), rest, C5 (1, runs to the end) */
    const int16_t ev[] = {60, H, 64, 66, H, H, H, O, H, 72};
    CHECK_INT(cdz_melody_major_key(ev, 10, 0), 7); /* C, E, F#, C: G major holds all four (C major 3) */
    cdz_melody_stats st;
    memset(&st, 0, sizeof st);
    cdz_melody_stats_add(&st, ev, 10, 0, 0); /* against C major */
    CHECK_INT(st.notes, 4);
    CHECK_INT(st.in_key, 3); /* F# is not in C major */
    CHECK_INT(st.length[1], 1);  /* C: 2 steps */
    CHECK_INT(st.length[0], 2);  /* E and the last C: 1 step */
    CHECK_INT(st.length[3], 1);  /* F#: 4 steps */
    CHECK_INT(st.intervals, 3);
    CHECK_INT(st.interval[12 + 4], 1);  /* C -> E */
    CHECK_INT(st.interval[12 + 2], 1);  /* E -> F# */
    CHECK_INT(st.interval[12 + 6], 1);  /* F# -> C5 */
    cdz_melody_stats_add(&st, ev, 10, 3, -1); /* from step 3: F#, C5; own key */
    CHECK_INT(st.notes, 6);
    CHECK_INT(st.melodies, 2);
    int64_t a[3] = {1, 1, 2}, b[3] = {0, 1, 1};
    CHECK_NEAR(cdz_histogram_overlap(a, b, 3), 0.25 + 0.5, 1e-12);
    CHECK_NEAR(cdz_histogram_overlap(a, a, 3), 1.0, 1e-12);
}

int main(void) {
    test_ngram();
    test_melody_stats();
    return test_summary("test_eval");
}

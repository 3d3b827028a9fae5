/* Sessions: one model shared by several threads, each with its own session, gives what running them one
 * after the other gives; rows rearranged by gather carry their whole state; bad feeds change nothing. */
#include <pthread.h>

#include "test.h"

enum { STEPS = 96, PRIMER = 4, THREADS = 4 };

typedef struct job {
    const cdz_model *m;
    uint64_t seed;
    uint16_t out[PRIMER + STEPS];
    double loglik;
    cdz_status st;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    uint16_t primer[PRIMER] = {1, 2, 3, 4};
    cdz_sample_params p = cdz_sample_default_params();
    cdz_rng r;
    cdz_rng_seed(&r, j->seed);
    cdz_error err;
    j->st = cdz_generate(j->m, primer, PRIMER, STEPS, 1, &p, &r, j->out, &j->loglik, NULL, NULL, &err);
    return NULL;
}

/* THREADS threads generate at once from one model; each output equals the same job run alone. */
static void check_threads(const char *what, const cdz_model *m) {
    job alone[THREADS], together[THREADS];
    for (int i = 0; i < THREADS; i++) {
        alone[i] = (job){m, 100 + (uint64_t)i, {0}, 0, 0};
        together[i] = alone[i];
        run_job(&alone[i]);
    }
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&th[i], NULL, run_job, &together[i]) == 0, "thread %d", i);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        CHECK(alone[i].st == CDZ_OK && together[i].st == CDZ_OK, "%s job %d: status %d / %d", what, i, alone[i].st,
              together[i].st);
        CHECK(memcmp(alone[i].out, together[i].out, sizeof alone[i].out) == 0, "%s job %d: threads changed the tokens",
              what, i);
        CHECK(alone[i].loglik == together[i].loglik, "%s job %d: log-likelihood %.9g alone, %.9g in a thread", what, i,
              alone[i].loglik, together[i].loglik);
    }
    int differ = 0; /* different seeds give different music: the comparison above is not vacuous */
    for (int i = 1; i < THREADS; i++) differ |= memcmp(alone[0].out, alone[i].out, sizeof alone[0].out) != 0;
    CHECK(differ, "%s: every seed gave the same tokens", what);
}

/* melody_rnn's test-sized config (attention_rnn's structure) with random parameters */
static int tiny_melody(cdz_model **m, uint64_t seed) {
    cdz_error err;
    if (cdz_model_create(m, "melody_rnn", "tiny_attention", &err) != CDZ_OK) {
        CHECK(0, "tiny_attention: %s", err.msg);
        return 0;
    }
    cdz_model_init_params(*m, seed);
    return 1;
}

static void test_threads(void) {
    cdz_model *mel = NULL, *tr = NULL;
    if (tiny_melody(&mel, 1)) {
        test_shake(mel, 2);
        check_threads("melody_rnn", mel);
    }
    if (test_tiny_model(&cdz_music_transformer, &tr, "", 1)) {
        test_shake(tr, 2);
        check_threads("music_transformer", tr);
    }
    cdz_model_free(mel);
    cdz_model_free(tr);
    /* an odd width: the melody state that follows the floats of a row must still be aligned (the
     * sanitized build's alignment check reads it) */
    static const char odd[] = "{\"kind\":\"melody_rnn\",\"config_name\":\"odd\",\"codec\":\"lookback\",\"input\":"
                              "\"lookback\",\"layers\":1,\"hidden\":5,\"attn_length\":3,\"dropout_keep\":1}";
    cdz_error err;
    cdz_model *o = NULL;
    CHECK(cdz_model_from_json(&o, odd, strlen(odd), "odd", &err) == CDZ_OK, "odd: %s", err.msg);
    if (o) {
        cdz_model_init_params(o, 5);
        test_shake(o, 2);
        check_threads("melody_rnn, 5 wide", o);
    }
    cdz_model_free(o);
}

/* Feeding a row, gathering it elsewhere and feeding on gives the logits a row fed straight through
 * gives: the row's state moved with it. */
static void check_gather(const char *what, cdz_model *m) {
    cdz_session *a = NULL, *b = NULL;
    cdz_error err;
    CHECK(cdz_session_new(&a, m, 3, 0, &err) == CDZ_OK && cdz_session_new(&b, m, 1, 0, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_session_reset(a, 3, &err) == CDZ_OK && cdz_session_reset(b, 1, &err) == CDZ_OK, "%s", err.msg);
    const uint32_t V = cdz_model_vocab(m);
    float la[3 * 64], lb[64];
    uint16_t rows3[3];
    for (int t = 0; t < 10; t++) { /* three different rows */
        for (int i = 0; i < 3; i++) rows3[i] = (uint16_t)((t * 7 + i * 5 + 1) % V);
        CHECK(cdz_session_feed(a, rows3, la, &err) == CDZ_OK, "%s", err.msg);
        CHECK(cdz_session_feed(b, &rows3[2], lb, &err) == CDZ_OK, "%s", err.msg); /* b follows row 2 */
    }
    int from[2] = {2, 2}; /* row 2 twice */
    CHECK(cdz_session_gather(a, from, 2, &err) == CDZ_OK && cdz_session_rows(a) == 2, "%s", err.msg);
    CHECK(memcmp(cdz_session_history(a, 1), cdz_session_history(b, 0), 10 * sizeof(uint16_t)) == 0,
          "%s: the history moved with the row", what);
    int same = 1;
    for (int t = 0; t < 6; t++) {
        uint16_t tok = (uint16_t)((t * 3 + 2) % V), two[2] = {tok, tok};
        CHECK(cdz_session_feed(a, two, la, &err) == CDZ_OK && cdz_session_feed(b, &tok, lb, &err) == CDZ_OK, "%s",
              err.msg);
        same &= memcmp(la, lb, V * sizeof *la) == 0 && memcmp(la + V, lb, V * sizeof *la) == 0;
    }
    CHECK(same, "%s: gathered rows go on as the row they came from", what);
    /* errors change nothing: a token outside the vocabulary, a row that is not active */
    uint16_t bad[2] = {(uint16_t)cdz_model_history_vocab(m), 0};
    int64_t len = cdz_session_length(a);
    CHECK(cdz_session_feed(a, bad, la, &err) == CDZ_ERR_ARG && strstr(err.msg, "vocabulary") &&
              cdz_session_length(a) == len,
          "%s: a bad token: %s", what, err.msg);
    int bad_from[1] = {2};
    CHECK(cdz_session_gather(a, bad_from, 1, &err) == CDZ_ERR_ARG && cdz_session_rows(a) == 2, "%s: gather of row 2",
          what);
    CHECK(cdz_session_reset(a, 4, &err) == CDZ_ERR_ARG, "%s: 4 rows in a session of 3", what);
    cdz_session_free(a);
    cdz_session_free(b);
}

static void test_gather(void) {
    cdz_model *mel = NULL, *tr = NULL;
    if (tiny_melody(&mel, 3)) check_gather("melody_rnn", mel);
    if (test_tiny_model(&cdz_music_transformer, &tr, "", 3)) check_gather("music_transformer", tr);
    /* a window longer than the model reads, and a session without rows, are refused */
    cdz_session *s = NULL;
    cdz_error err;
    if (tr) {
        CHECK(cdz_session_new(&s, tr, 1, 65, &err) == CDZ_ERR_ARG && strstr(err.msg, "64"), "window 65: %s", err.msg);
        CHECK(cdz_session_new(&s, tr, 1, 0, &err) == CDZ_OK, "%s", err.msg);
        uint16_t t0 = 0;
        CHECK(cdz_session_feed(s, &t0, NULL, &err) == CDZ_ERR_ARG && strstr(err.msg, "reset"), "feed before reset: %s",
              err.msg);
        CHECK(cdz_model_latent_dim(tr) == 0 && cdz_session_set_latent(s, NULL, &err) == CDZ_ERR_UNSUPPORTED,
              "a transformer has no latent space");
        cdz_session_free(s);
    }
    cdz_model_free(mel);
    cdz_model_free(tr);
}

/* A model whose weights went NaN in memory: generation stops with a message, no token is drawn from
 * nothing (checkpoints with such weights are refused at load, tests/test_checkpoint.c). */
static void test_nan_model(void) {
    cdz_model *m = NULL;
    if (!tiny_melody(&m, 8)) return;
    const cdz_tensor_info *ti = cdz_model_tensor(m, "output.bias");
    for (size_t i = 0; ti && i < ti->numel; i++) m->params[ti->offset + i] = NAN;
    uint16_t primer = 1, out[10];
    cdz_sample_params p = cdz_sample_default_params();
    cdz_rng r;
    cdz_rng_seed(&r, 1);
    cdz_error err;
    CHECK(cdz_generate(m, &primer, 1, 8, 1, &p, &r, out, NULL, NULL, NULL, &err) == CDZ_ERR_RANGE && strstr(err.msg, "NaN"),
          "generation from NaN weights: %s", err.msg);
    p.beam_size = 2, p.branch_factor = 2;
    CHECK(cdz_generate(m, &primer, 1, 8, 1, &p, &r, out, NULL, NULL, NULL, &err) == CDZ_ERR_RANGE, "beam search: %s", err.msg);
    cdz_model_free(m);
}

int main(void) {
    test_nan_model();
    test_threads();
    test_gather();
    return test_summary("test_session");
}

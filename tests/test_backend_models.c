/* Whole models on two backends: every model kind, built once, runs its loss and gradients, and its
 * step-wise generation, on the CPU backend and on the plain-loop reference backend (cadenza/backend.h)
 * with the same parameters, windows and dropout draws; the results must agree within the tolerances
 * written beside each check. The layer-by-layer comparison is tests/test_backend.c. */
#include "test.h"

/* The loss (objective) of B windows and its gradient, on the model's current backend, dropout drawn
 * from a generator seeded with `seed`. grads receives a copy of the gradient. */
static float loss_and_grads(cdz_model *m, const cdz_window *w, int B, uint64_t seed, float *grads) {
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    cdz_model_zero_grads(m);
    float loss = NAN;
    cdz_error err;
    CHECK(test_loss(m, w, B, CDZ_TRAIN, &r, NULL, &loss, &err) == CDZ_OK, "%s", err.msg);
    memcpy(grads, m->grads, m->n_params * sizeof *grads);
    return loss;
}

/* The largest |a - b| over n values, relative to the largest |b| (at least 1e-6). */
static double worst_rel(const float *a, const float *b, size_t n) {
    double d = 0, scale = 1e-6;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        scale = fmax(scale, fabs((double)b[i]));
    }
    return d / scale;
}

/* The next-token logits of `len` fed tokens on the model's current backend (one row). */
static void step_logits(cdz_model *m, const uint16_t *seq, int len, float *logits) {
    cdz_session *s = NULL;
    cdz_error err;
    CHECK(cdz_session_new(&s, m, 1, 0, &err) == CDZ_OK && cdz_session_reset(s, 1, &err) == CDZ_OK, "%s", err.msg);
    for (int t = 0; t < len; t++) CHECK(cdz_session_feed(s, &seq[t], logits, &err) == CDZ_OK, "%s", err.msg);
    cdz_session_free(s);
}

/* Compares the two backends on model m over B windows of seq (each row `len` tokens, SEP-free
 * windows for the token models; for accompaniment, whole [melody, SEP, accompaniment] rows). */
static void compare(const char *what, cdz_model *m, const cdz_window *w, int B, int step_len) {
    cdz_error err;
    size_t n = m->n_params;
    float *gc = calloc(n, sizeof *gc), *gr = calloc(n, sizeof *gr);
    float lc[512], lr[512];
    const uint32_t V = m->vocab;
    CHECK(cdz_model_set_backend(m, cdz_backend_cpu(), &err) == CDZ_OK, "%s", err.msg);
    float loss_c = loss_and_grads(m, w, B, 77, gc);
    step_logits(m, w[0].seq, step_len, lc);
    CHECK(cdz_model_set_backend(m, cdz_backend_find("reference"), &err) == CDZ_OK, "%s", err.msg);
    CHECK(strcmp(cdz_model_backend(m)->name, "reference") == 0, "%s: the backend was set", what);
    float loss_r = loss_and_grads(m, w, B, 77, gr);
    step_logits(m, w[0].seq, step_len, lr);
    double dl = fabs((double)loss_c - loss_r) / fmax(1.0, fabs((double)loss_r));
    double dg = worst_rel(gc, gr, n), ds = worst_rel(lc, lr, V);
    /* fp32 layers (sums in other orders, the CPU's polynomial exp) against double sums: per layer
     * about 1e-6 (tests/test_backend.c); through a few layers and a mean over the batch, 1e-5 for the
     * loss and logits; gradients add the backward's own sums, relative to the largest component: 1e-4 */
    CHECK(dl < 1e-5, "%s: loss %.9g on cpu, %.9g on reference", what, loss_c, loss_r);
    CHECK(dg < 1e-4, "%s: gradients differ by %.3g of the largest", what, dg);
    CHECK(ds < 1e-5, "%s: step logits differ by %.3g", what, ds);
    printf("%s: loss %.7f (cpu) %.7f (reference), worst difference: loss %.2g, gradients %.2g, step logits %.2g\n", what,
           loss_c, loss_r, dl, dg, ds);
    CHECK(cdz_model_set_backend(m, cdz_backend_cpu(), &err) == CDZ_OK, "%s", err.msg);
    free(gc), free(gr);
}

static void random_seq(cdz_rng *r, uint16_t *s, int n, uint32_t V) {
    for (int i = 0; i < n; i++) s[i] = (uint16_t)cdz_rng_below(r, V);
}

static void test_melody_rnn(void) {
    static const char *const configs[] = {"tiny_attention", "basic_rnn", "lookback_rnn"};
    cdz_rng r;
    cdz_rng_seed(&r, 5);
    for (int c = 0; c < 3; c++) {
        cdz_model *m = NULL;
        cdz_error err;
        char json[1024];
        /* the named config at a small size, with dropout so that the masks must match too */
        snprintf(json, sizeof json, "{\"hidden\":8,\"layers\":2,\"attn_length\":%d,\"dropout_keep\":0.7,%s",
                 c == 0 ? 3 : 0, cdz_melody_rnn.named_config(configs[c]) + 1);
        if (cdz_model_from_json(&m, json, strlen(json), configs[c], &err) != CDZ_OK) {
            CHECK(0, "%s: %s", configs[c], err.msg);
            continue;
        }
        cdz_model_init_params(m, 11);
        cdz_model_grads(m);
        uint16_t seq[3][30];
        cdz_window w[3];
        for (int b = 0; b < 3; b++) {
            random_seq(&r, seq[b], 30, m->vocab);
            w[b] = (cdz_window){seq[b], b * 4, 30 - b * 4}; /* windows inside their sequences */
        }
        compare(configs[c], m, w, 3, 20);
        cdz_model_free(m);
    }
}

static void test_music_transformer(void) {
    static const char *const variants[] = {"\"dropout\":0.2", "\"attention\":\"absolute\",\"dropout\":0.2",
                                           "\"max_relative\":5,\"activation\":\"relu\""};
    cdz_rng r;
    cdz_rng_seed(&r, 6);
    for (int v = 0; v < 3; v++) {
        cdz_model *m = NULL;
        if (!test_tiny_model(&cdz_music_transformer, &m, variants[v], 12)) continue;
        test_shake(m, 13);
        uint16_t seq[2][40];
        random_seq(&r, seq[0], 40, m->vocab);
        random_seq(&r, seq[1], 25, m->vocab);
        cdz_window w[2] = {{seq[0], 0, 40}, {seq[1], 0, 25}};
        char what[96];
        snprintf(what, sizeof what, "music_transformer {%s}", variants[v]);
        compare(what, m, w, 2, 40);
        cdz_model_free(m);
    }
}

static void test_accompaniment(void) {
    cdz_model *m = NULL;
    if (!test_tiny_model(&cdz_accompaniment, &m, "\"dropout\":0.2", 14)) return;
    test_shake(m, 15);
    cdz_rng r;
    cdz_rng_seed(&r, 7);
    const uint16_t SEP = (uint16_t)m->vocab;
    uint16_t seq[2][30];
    random_seq(&r, seq[0], 30, m->vocab);
    random_seq(&r, seq[1], 30, m->vocab);
    seq[0][10] = SEP, seq[1][14] = SEP; /* melodies of 10 and 14 tokens */
    cdz_window w[2] = {{seq[0], 0, 30}, {seq[1], 0, 26}};
    compare("accompaniment {\"dropout\":0.2}", m, w, 2, 25);
    cdz_model_free(m);
}

int main(void) {
    const cdz_backend *ref = cdz_backend_find("reference");
    CHECK(ref != NULL, "the reference backend is built in");
    if (!ref) return test_summary("test_backend_models");
    cdz_model *m = NULL;
    cdz_error err;
    /* a backend the build has not is refused by name */
    CHECK(cdz_backend_find("no_such") == NULL, "an unknown backend");
    if (cdz_model_create(&m, "melody_rnn", "tiny_attention", &err) == CDZ_OK) {
        CHECK(cdz_model_set_backend(m, NULL, &err) == CDZ_ERR_UNSUPPORTED, "a NULL backend is refused");
        cdz_model_free(m);
    }
    test_melody_rnn();
    test_music_transformer();
    test_accompaniment();
    return test_summary("test_backend_models");
}

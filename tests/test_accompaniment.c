/* The accompaniment model kind (encoder-decoder, [melody, SEP, accompaniment] sequences):
 * finite-difference gradient checks of the whole loss (with and without dropout, deeper stacks,
 * clipped relative distances), the cached step-wise log-likelihood against the full forward pass
 * (rows with melodies of different lengths), the tiny config overfitting one batch, config and window
 * errors, save / reload giving the same loss, and the config JSON round trip. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "cadenza/train.h"
#include "test.h"

static char tmpdir[64];

/* out = [melody (nm random tokens), SEP, accompaniment (na random tokens)]; returns its length. */
static int64_t make_seq(cdz_rng *r, uint16_t *out, int nm, int na, uint32_t V) {
    for (int i = 0; i < nm; i++) out[i] = (uint16_t)cdz_rng_below(r, V);
    out[nm] = (uint16_t)V;
    for (int i = 0; i < na; i++) out[nm + 1 + i] = (uint16_t)cdz_rng_below(r, V);
    return nm + 1 + na;
}

static double loss_sum(cdz_model *m, const cdz_window *w, int B, int train, uint64_t seed) {
    cdz_loss_stats st = {0};
    cdz_error err;
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    cdz_status s = test_loss(m, w, B, train ? CDZ_TRAIN : CDZ_EVAL, &r, &st, NULL, &err);
    return s == CDZ_OK ? st.loss_sum : NAN;
}

/* Central difference along u, Richardson-extrapolated from steps h and h/2 (cancels the h^2 term). */
static double richardson(cdz_model *m, const cdz_window *w, int B, int train, uint64_t seed, size_t off, const float *u,
                         size_t numel, const float *keep, double h) {
    double d[2];
    for (int half = 0; half < 2; half++) {
        double step = half ? h / 2 : h, f[2];
        for (int side = 0; side < 2; side++) {
            for (size_t k = 0; k < numel; k++) m->params[off + k] = keep[off + k] + (float)((side ? -step : step) * u[k]);
            f[side] = loss_sum(m, w, B, train, seed);
        }
        d[half] = (f[0] - f[1]) / (2 * step);
    }
    memcpy(m->params + off, keep + off, numel * sizeof *keep);
    return (4 * d[1] - d[0]) / 3;
}

static void check_gradients(const char *overrides, int train) {
    cdz_model *m = NULL;
    if (!test_tiny_model(&cdz_accompaniment, &m, overrides, 3)) return;
    test_shake(m, 4);
    cdz_rng r;
    cdz_rng_seed(&r, 11);
    uint16_t seqs[3][40];
    /* melodies and accompaniments of different lengths: both sides padded */
    cdz_window w[3] = {{seqs[0], 0, make_seq(&r, seqs[0], 9, 12, m->vocab)},
                       {seqs[1], 0, make_seq(&r, seqs[1], 5, 7, m->vocab)},
                       {seqs[2], 0, make_seq(&r, seqs[2], 12, 3, m->vocab)}};
    const uint64_t drop_seed = 99;
    cdz_model_zero_grads(m);
    cdz_error err;
    cdz_loss_stats st = {0};
    cdz_rng dr;
    cdz_rng_seed(&dr, drop_seed);
    CHECK(test_loss(m, w, 3, CDZ_TRAIN, &dr, &st, NULL, &err) == CDZ_OK, "%s", err.msg);
    CHECK(st.tokens == 12 + 7 + 3, "{%s}: counted %lld tokens (the accompaniments')", overrides, (long long)st.tokens);
    double scale = (double)st.tokens; /* d(sum) = tokens * d(mean) */
    float *grads = malloc(m->n_params * sizeof *grads), *u = malloc(m->n_params * sizeof *u),
          *keep = malloc(m->n_params * sizeof *keep), one = 1;
    memcpy(grads, m->grads, m->n_params * sizeof *grads);
    memcpy(keep, m->params, m->n_params * sizeof *keep);
    double worst_dir = 0, worst_el = 0, *nums = calloc(m->n_tensors, sizeof *nums), *ana = calloc(m->n_tensors, sizeof *ana),
           *nums2 = calloc(m->n_tensors, sizeof *nums2);
    double biggest = 0;
    const char *worst_dir_name = "", *worst_el_name = "";
    const double h = 4e-2;
    for (size_t t = 0; t < m->n_tensors; t++) {
        const cdz_tensor_info *ti = &m->tensors[t];
        double analytic = 0;
        for (size_t k = 0; k < ti->numel; k++) {
            u[k] = (float)(cdz_rng_uniform(&r) * 2 - 1);
            analytic += scale * grads[ti->offset + k] * u[k];
        }
        nums[t] = richardson(m, w, 3, train, drop_seed, ti->offset, u, ti->numel, keep, h), ana[t] = analytic;
        nums2[t] = richardson(m, w, 3, train, drop_seed, ti->offset, u, ti->numel, keep, h / 2);
        biggest = fmax(biggest, fabs(nums[t]));
        for (int s = 0; s < 3; s++) {
            size_t i = ti->offset + (size_t)cdz_rng_below(&r, ti->numel);
            double n1 = richardson(m, w, 3, train, drop_seed, i, &one, 1, keep, 2 * h);
            double e1 = fabs(n1 - scale * grads[i]) / fmax(1e-2, fabs(n1));
            if (e1 > worst_el) worst_el = e1, worst_el_name = ti->name;
        }
    }
    /* Errors relative to the larger of the derivative and 1e-3 of the largest one: float forward
     * passes resolve a derivative of the summed loss (about 70 nats here) only to some 1e-4, the
     * rounding that is left once Richardson extrapolation has removed the h^2 term. The tolerances are
     * music_transformer's (same layers, same sizes): 5e-3 relative along a direction (a wrong or
     * missing term is off by its whole size), 1e-2 per element against the larger of the derivative
     * and 1e-2. Along a direction, two Richardson estimates are made, from steps h and h/2, and the
     * analytic value must match either: the h^4 term still shows at h for the decoder's embedding
     * under dropout (measured: qkv.weight 2.7e-2 off at h, 1.8e-3 at h/2, the analytic value the same),
     * while derivatives near the floor are rounding-limited at h/2 (ln2.bias 9e-3 off at h/2, 1e-4 at
     * h). A bug moves the analytic value away from both. */
    for (size_t t = 0; t < m->n_tensors; t++) {
        double floor_ = 1e-3 * biggest;
        double e = fmin(fabs(nums[t] - ana[t]) / fmax(fabs(nums[t]), floor_),
                        fabs(nums2[t] - ana[t]) / fmax(fabs(nums2[t]), floor_));
        if (e > worst_dir) worst_dir = e, worst_dir_name = m->tensors[t].name;
        if (getenv("ACC_DEBUG")) printf("  %-28s num %.6g ana %.6g err %.3g\n", m->tensors[t].name, nums[t], ana[t], e);
        /* every tensor takes part: a path the backward pass drops would show as an analytic 0 */
        CHECK(fabs(ana[t]) > 0, "{%s}: %s has no gradient", overrides, m->tensors[t].name);
    }
    CHECK(worst_dir < 5e-3, "{%s}: directional gradient: worst relative error %.3g in %s", overrides, worst_dir,
          worst_dir_name);
    CHECK(worst_el < 1e-2, "{%s}: element gradient: worst relative error %.3g in %s", overrides, worst_el, worst_el_name);
    printf("{%s}%s: worst gradient errors: directional %.2g (%s), element %.2g (%s)\n", overrides,
           train ? " (dropout masks fixed)" : "", worst_dir, worst_dir_name, worst_el, worst_el_name);
    free(grads), free(u), free(keep), free(nums), free(nums2), free(ana);
    cdz_model_free(m);
}

static void test_gradients(void) {
    check_gradients("", 0);
    check_gradients("\"enc_layers\":2,\"dec_layers\":2,\"max_relative\":5", 0); /* distances beyond R share row 0 */
    check_gradients("\"dropout\":0.2", 1);
}

/* The cached step-wise API gives the full forward pass's log-likelihood, for two rows whose melodies
 * (and so SEP positions) differ; before SEP, step writes zero logits. */
static void check_step(const char *overrides) {
    cdz_model *m = NULL;
    if (!test_tiny_model(&cdz_accompaniment, &m, overrides, 5)) return;
    test_shake(m, 6);
    cdz_rng r;
    cdz_rng_seed(&r, 12);
    enum { LEN = 45 };          /* row 0: 12 melody tokens, SEP, 32 (all of max_len) accompaniment tokens */
    uint16_t seq[2][LEN];
    make_seq(&r, seq[0], 12, 32, m->vocab);
    make_seq(&r, seq[1], 20, 24, m->vocab); /* row 1: 20, SEP, 24 */
    const int sep[2] = {12, 20};
    cdz_window w[2] = {{seq[0], 0, LEN}, {seq[1], 0, LEN}};
    cdz_loss_stats st = {0};
    cdz_error err;
    CHECK(test_loss(m, w, 2, CDZ_EVAL, NULL, &st, NULL, &err) == CDZ_OK, "%s", err.msg);
    CHECK(m->vocab == 48, "the model samples over the codec's tokens (%u)", m->vocab);
    cdz_session *s = NULL;
    CHECK(cdz_session_new(&s, m, 2, 0, &err) == CDZ_OK && cdz_session_reset(s, 2, &err) == CDZ_OK, "%s", err.msg);
    float logits[2 * 48];
    double sum = 0;
    int zero_ok = 1;
    for (int t = 0; t + 1 < LEN; t++) {
        uint16_t tok[2] = {seq[0][t], seq[1][t]};
        CHECK(cdz_session_feed(s, tok, logits, &err) == CDZ_OK, "%s", err.msg);
        for (int b = 0; b < 2; b++) {
            const float *l = logits + b * m->vocab;
            if (t < sep[b]) { /* the melody: no prediction */
                for (uint32_t v = 0; v < m->vocab; v++) zero_ok &= l[v] == 0;
                continue;
            }
            double mx = l[0], z = 0;
            for (uint32_t v = 1; v < m->vocab; v++) mx = fmax(mx, l[v]);
            for (uint32_t v = 0; v < m->vocab; v++) z += exp(l[v] - mx);
            sum -= l[seq[b][t + 1]] - mx - log(z);
        }
    }
    CHECK(zero_ok, "zero logits before SEP");
    CHECK(st.tokens == 32 + 24, "{%s}: counted %lld tokens", overrides, (long long)st.tokens);
    /* float rounding only (different summation orders over padded and unpadded keys), as
     * music_transformer's 1e-4 */
    CHECK(fabs(sum - st.loss_sum) < 1e-4 * st.loss_sum, "{%s}: step-wise NLL %.6f, forward %.6f", overrides, sum,
          st.loss_sum);
    printf("{%s}: step-wise NLL %.6f, forward %.6f\n", overrides, sum, st.loss_sum);
    /* row 0's accompaniment is at max_len: one more step is refused, naming the limit, and changes
     * nothing */
    uint16_t more[2] = {seq[0][LEN - 1], seq[1][LEN - 1]};
    cdz_status fs = cdz_session_feed(s, more, logits, &err);
    CHECK(fs == CDZ_ERR_ARG && strstr(err.msg, "max_len (32)") && cdz_session_length(s) == LEN - 1,
          "step past max_len: %s", err.msg);
    /* a second SEP */
    CHECK(cdz_session_reset(s, 1, &err) == CDZ_OK, "%s", err.msg);
    uint16_t two[4] = {3, 48, 5, 48};
    for (int t = 0; t < 3; t++) CHECK(cdz_session_feed(s, &two[t], logits, &err) == CDZ_OK, "%s", err.msg);
    fs = cdz_session_feed(s, &two[3], logits, &err);
    CHECK(fs == CDZ_ERR_ARG && strstr(err.msg, "second SEP"), "second SEP: %s", err.msg);
    cdz_session_free(s);
    cdz_model_free(m);
}

static void test_step_matches_forward(void) {
    check_step("");
    check_step("\"enc_layers\":2,\"dec_layers\":2,\"max_relative\":7");
}

/* The tiny model learns one fixed batch by heart: the loss falls by 90%. */
static void test_overfit(void) {
    cdz_model *m = NULL;
    if (!test_tiny_model(&cdz_accompaniment, &m, "", 7)) return;
    cdz_rng r;
    cdz_rng_seed(&r, 13);
    uint16_t seq[4][24];
    cdz_window w[4];
    for (int b = 0; b < 4; b++) w[b] = (cdz_window){seq[b], 0, make_seq(&r, seq[b], 10, 13, m->vocab)};
    test_overfit_batch(m, w, 4, &r, 400);
    cdz_model_free(m);
}

/* Bad configs and windows give errors that say what is wrong. */
static void test_errors(void) {
    struct {
        const char *json, *needle;
    } bad[] = {
        {"{\"kind\":\"accompaniment\",\"d_model\":30,\"heads\":8}", "heads = 8 does not divide d_model = 30"},
        {"{\"kind\":\"accompaniment\",\"codec\":\"nope\"}", "codec 'nope'"},
        {"{\"kind\":\"accompaniment\",\"codec\":\"chorale\",\"vocab\":48}", "\"vocab\" is given by the codec"},
        {"{\"kind\":\"accompaniment\",\"enc_layers\":0}", "enc_layers = 0 is outside"},
        {"{\"kind\":\"accompaniment\",\"dec_layers\":65}", "dec_layers = 65 is outside"},
        {"{\"kind\":\"accompaniment\",\"max_len\":64,\"max_relative\":65}", "max_relative = 65 is outside 1..64"},
        {"{\"kind\":\"accompaniment\",\"dropout\":1}", "dropout = 1 is outside"},
        {"{\"kind\":\"accompaniment\",\"max_len\":16,\"seq\":33}", "seq = 33 is outside 1..32"},
        {"{\"kind\":\"accompaniment\",\"d_ff\":0}", "d_ff = 0 is outside"},
    };
    cdz_model *x = NULL;
    cdz_error err;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cdz_status st = cdz_model_from_json(&x, bad[i].json, strlen(bad[i].json), "cfg.json", &err);
        CHECK(st == CDZ_ERR_FORMAT && strstr(err.msg, bad[i].needle) && strstr(err.msg, "cfg.json"),
              "config %zu: status %d, message '%s' (expected '%s')", i, st, st ? err.msg : "", bad[i].needle);
        if (st == CDZ_OK) cdz_model_free(x);
    }
    CHECK(cdz_model_create(&x, "accompaniment", "acc_huge", &err) == CDZ_ERR_ARG && strstr(err.msg, "acc_small"),
          "unknown config lists the known ones: %s", err.msg);
    CHECK(cdz_model_create(&x, "nope", "tiny", &err) == CDZ_ERR_ARG && strstr(err.msg, "accompaniment"),
          "unknown kind lists accompaniment: %s", err.msg);
    for (const char *const *n = cdz_accompaniment.config_names; *n; n++) {
        cdz_status st = cdz_model_create(&x, "accompaniment", *n, &err);
        CHECK(st == CDZ_OK, "named config %s: %s", *n, err.msg);
        if (st != CDZ_OK) continue;
        if (strcmp(*n, "acc_small") == 0)
            CHECK(x->vocab == 388 && cdz_model_tensor(x, "dec.embedding.weight")->shape[0] == 389 &&
                      cdz_model_tensor(x, "dec.blocks.1.cross_kv.weight") && cdz_model_tensor(x, "enc.blocks.1.kv.weight") &&
                      !cdz_model_tensor(x, "enc.blocks.2.q.weight") && cdz_model_tensor(x, "dec.blocks.0.er")->shape[1] == 1024 &&
                      x->max_len == 2048,
                  "acc_small shape");
        cdz_model_free(x);
    }
    /* windows */
    cdz_model *m = NULL;
    if (!test_tiny_model(&cdz_accompaniment, &m, "", 1)) return;
    uint16_t seq[80] = {0};
    float loss;
    struct {
        cdz_window w;
        int sep; /* where SEP goes, or -1 */
        cdz_status st;
        const char *needle;
    } win[] = {
        {{seq, 0, 20}, 5, CDZ_OK, ""},
        {{seq, 0, 20}, -1, CDZ_ERR_FORMAT, "no SEP"},
        {{seq, 2, 18}, 5, CDZ_ERR_ARG, "must start at 0"},
        {{seq, 0, 20}, 0, CDZ_ERR_FORMAT, "at least one melody token"},
        {{seq, 0, 20}, 19, CDZ_ERR_FORMAT, "one accompaniment token"},
        {{seq, 0, 65}, 32, CDZ_OK, ""},                          /* 32 + SEP + 32: both at max_len */
        {{seq, 0, 66}, 33, CDZ_ERR_ARG, "max_len (32)"},          /* a melody of 33 */
        {{seq, 0, 66}, 32, CDZ_ERR_ARG, "max_len (32)"},          /* an accompaniment of 33 */
    };
    for (size_t i = 0; i < sizeof win / sizeof *win; i++) {
        memset(seq, 0, sizeof seq);
        if (win[i].sep >= 0) seq[win[i].sep] = 48;
        cdz_status st = test_loss(m, &win[i].w, 1, CDZ_EVAL, NULL, NULL, &loss, &err);
        CHECK(st == win[i].st && (st == CDZ_OK || strstr(err.msg, win[i].needle)), "window %zu: status %d, '%s'", i, st,
              st ? err.msg : "");
    }
    memset(seq, 0, sizeof seq);
    seq[5] = 48, seq[9] = 48;
    cdz_window w2 = {seq, 0, 20};
    CHECK(test_loss(m, &w2, 1, CDZ_EVAL, NULL, NULL, &loss, &err) == CDZ_ERR_FORMAT && strstr(err.msg, "second SEP"),
          "a second SEP: %s", err.msg);
    seq[9] = 49;
    CHECK(test_loss(m, &w2, 1, CDZ_EVAL, NULL, NULL, &loss, &err) == CDZ_ERR_FORMAT && strstr(err.msg, "vocabulary"),
          "a token outside the vocabulary: %s", err.msg);
    cdz_model_free(m);
}

/* Save, reload: the same config, parameters and loss. */
static void test_save_reload(void) {
    const char *variants[] = {"", "\"enc_layers\":2,\"max_relative\":9,\"dropout\":0.15"};
    for (int v = 0; v < 2; v++) {
        cdz_model *a = NULL, *b = NULL;
        if (!test_tiny_model(&cdz_accompaniment, &a, variants[v], 8)) return;
        test_shake(a, 9);
        cdz_rng r;
        cdz_rng_seed(&r, 14);
        uint16_t seq[3][40];
        cdz_window w[3] = {{seq[0], 0, make_seq(&r, seq[0], 8, 20, a->vocab)},
                           {seq[1], 0, make_seq(&r, seq[1], 3, 5, a->vocab)},
                           {seq[2], 0, make_seq(&r, seq[2], 15, 9, a->vocab)}};
        char path[128];
        snprintf(path, sizeof path, "%s/acc%d.safetensors", tmpdir, v);
        cdz_error err;
        CHECK(cdz_checkpoint_save(path, a, NULL, NULL, 0, &err) == CDZ_OK, "save: %s", err.msg);
        CHECK(cdz_checkpoint_load(path, &b, &err) == CDZ_OK, "load: %s", err.msg);
        if (!b->kind) {
            cdz_model_free(a);
            continue;
        }
        char *ja = cdz_model_config_json(a), *jb = cdz_model_config_json(b);
        CHECK(strcmp(ja, jb) == 0, "config round trip:\n  %s\n  %s", ja, jb);
        CHECK(a->n_params == b->n_params && memcmp(a->params, b->params, a->n_params * sizeof *a->params) == 0,
              "reloaded parameters");
        double la = loss_sum(a, w, 3, 0, 0), lb = loss_sum(b, w, 3, 0, 0);
        CHECK(la == lb && isfinite(la), "{%s}: loss %.9g before saving, %.9g after reloading", variants[v], la, lb);
        cdz_free(ja), cdz_free(jb);
        cdz_model_free(a), cdz_model_free(b);
    }
}

/* The sampler takes a primer of melody and separator and draws an accompaniment after it. */
static void test_generate(void) {
    cdz_model *m = NULL;
    if (!test_tiny_model(&cdz_accompaniment, &m, "", 5)) return;
    cdz_rng r;
    cdz_rng_seed(&r, 6);
    uint16_t primer[12], out[2 * (12 + 10)];
    int64_t np = make_seq(&r, primer, 8, 0, m->vocab); /* 8 melody tokens and the separator */
    cdz_sample_params p = cdz_sample_default_params();
    cdz_error err;
    CHECK(cdz_generate(m, primer, np, 10, 2, &p, &r, out, NULL, NULL, NULL, &err) == CDZ_OK, "%s", err.msg);
    const uint16_t *second = out + np + 10; /* rows of primer + new tokens, back to back */
    int ok = memcmp(second, primer, (size_t)np * sizeof *primer) == 0;
    for (int i = 0; i < 10; i++) ok &= second[np + i] < m->vocab;
    CHECK(ok, "melody and separator kept, accompaniment tokens drawn from the codec's vocabulary");
    cdz_model_free(m);
}

/* Dropout drawn by each window's place in the whole batch: 4 [melody, SEP, accompaniment] rows at once
 * and as 2 + 2 at offsets 0 and 2 (test_split_batch), the second pair shorter on both sides (its own
 * Tm and Ta: other padding in the encoder and the decoder). */
static void test_split_dropout(void) {
    cdz_model *m = NULL;
    if (!test_tiny_model(&cdz_accompaniment, &m, "\"dropout\":0.2", 3)) return;
    test_shake(m, 4);
    cdz_rng r;
    cdz_rng_seed(&r, 17);
    uint16_t seqs[4][40];
    cdz_window w[4] = {{seqs[0], 0, make_seq(&r, seqs[0], 9, 12, m->vocab)},
                       {seqs[1], 0, make_seq(&r, seqs[1], 11, 7, m->vocab)},
                       {seqs[2], 0, make_seq(&r, seqs[2], 6, 5, m->vocab)},
                       {seqs[3], 0, make_seq(&r, seqs[3], 4, 3, m->vocab)}};
    /* measured: the loss equal to 1e-7 relative and the gradients to 4e-7 of the largest; 1e-5 for
     * both allows the order of float sums, while the second pair drawn at offset 0 moves the gradients
     * by 0.65 */
    test_split_batch("accompaniment {\"dropout\":0.2}", m, w, 4, 2, 1e-5, 1e-5);
    cdz_model_free(m);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cdz_acc_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_gradients();
    test_split_dropout();
    test_step_matches_forward();
    test_overfit();
    test_errors();
    test_save_reload();
    test_generate();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("could not remove %s\n", tmpdir);
    return test_summary("test_accompaniment");
}

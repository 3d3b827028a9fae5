/* Models, training, checkpoints and sampling: finite-difference gradient checks of whole melody_rnn
 * losses (attention_rnn's structure on a tiny shape, and the other inputs), step-wise generation
 * against the full forward pass, a tiny model overfitting one batch, save / reload / replay giving
 * identical losses, rejected checkpoints, and beam search against plain sampling. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "cadenza/safetensors.h"
#include "cadenza/sample.h"
#include "cadenza/train.h"
#include "test.h"

static char tmpdir[64];

/* A random melody's events (notes in 48..83, note-offs, no-events, some repeated bars so that repeat
 * labels occur) turned into labels of the model's codec; the meter codecs' melodies are in 3/4 (bars of
 * 12 steps), their meter token first. */
static void random_labels(cdz_rng *r, const char *codec, uint16_t *out, size_t n) {
    const int meter = strcmp(codec, "key_melody2") == 0 || strcmp(codec, "lookback2") == 0;
    const size_t bar = meter ? 12 : 16;
    if (meter) {
        *out++ = (uint16_t)(CDZ_MELODY_LABELS + cdz_melody_meter_index(3, 4));
        n--;
    }
    int16_t *ev = calloc(n, sizeof *ev);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = cdz_rng_below(r, 10);
        if (i >= bar && k == 0) ev[i] = ev[i - bar];
        else if (k < 4) ev[i] = CDZ_MELODY_NO_EVENT;
        else if (k == 4) ev[i] = CDZ_MELODY_NOTE_OFF;
        else ev[i] = (int16_t)(48 + cdz_rng_below(r, 36));
    }
    for (size_t i = 0; i < n; i++) {
        if (strncmp(codec, "key_melody", 10) == 0) out[i] = (uint16_t)cdz_key_melody_label(ev, i, (int)bar);
        else if (strncmp(codec, "lookback", 8) == 0) out[i] = (uint16_t)cdz_lookback_label(ev, i, (int)bar);
        else out[i] = (uint16_t)(ev[i] == CDZ_MELODY_NO_EVENT ? 0 : ev[i] == CDZ_MELODY_NOTE_OFF ? 1 : ev[i] - 48 + 2);
    }
    free(ev);
}

static const char *const TINY[] = {
    "{\"kind\":\"melody_rnn\",\"config_name\":\"tiny_attention\",\"codec\":\"key_melody\",\"input\":\"key_melody\","
    "\"layers\":2,\"hidden\":6,\"attn_length\":3,\"dropout_keep\":1,\"batch\":4,\"seq\":12,\"lr\":0.01,\"clip\":3}",
    "{\"kind\":\"melody_rnn\",\"config_name\":\"tiny_lookback\",\"codec\":\"lookback\",\"input\":\"lookback\","
    "\"layers\":2,\"hidden\":5,\"attn_length\":0,\"dropout_keep\":1,\"batch\":4,\"seq\":12,\"lr\":0.01,\"clip\":3}",
    "{\"kind\":\"melody_rnn\",\"config_name\":\"tiny_basic\",\"codec\":\"melody\",\"input\":\"one_hot\","
    "\"layers\":1,\"hidden\":5,\"attn_length\":0,\"dropout_keep\":1,\"batch\":4,\"seq\":12,\"lr\":0.01,\"clip\":3}",
    "{\"kind\":\"melody_rnn\",\"config_name\":\"tiny_embedding\",\"codec\":\"melody\",\"input\":\"embedding\","
    "\"input_size\":4,\"layers\":3,\"hidden\":5,\"attn_length\":0,\"dropout_keep\":1,\"batch\":4,\"seq\":12}",
    /* the meter codecs: a meter token read first, never predicted */
    "{\"kind\":\"melody_rnn\",\"config_name\":\"tiny_attention2\",\"codec\":\"key_melody2\",\"input\":\"key_melody\","
    "\"layers\":2,\"hidden\":6,\"attn_length\":3,\"dropout_keep\":1,\"batch\":4,\"seq\":12,\"lr\":0.01,\"clip\":3}",
    "{\"kind\":\"melody_rnn\",\"config_name\":\"tiny_lookback2\",\"codec\":\"lookback2\",\"input\":\"lookback\","
    "\"layers\":2,\"hidden\":5,\"attn_length\":0,\"dropout_keep\":1,\"batch\":4,\"seq\":12,\"lr\":0.01,\"clip\":3}",
};
enum { N_TINY = sizeof TINY / sizeof *TINY };

static int tiny_model(cdz_model **m, int which, uint64_t seed) {
    cdz_error err;
    if (cdz_model_from_json(m, TINY[which], strlen(TINY[which]), "tiny", &err) != CDZ_OK) {
        CHECK(0, "tiny config %d: %s", which, err.msg);
        return 0;
    }
    cdz_model_init_params(*m, seed);
    cdz_model_grads(*m);
    return 1;
}

/* The summed loss (nats over all predicted tokens), accumulated in double: the gradient check
 * compares against it because the mean's gradients are too small for float differences. */
static double eval_sum(cdz_model *m, const cdz_window *w, int B) {
    cdz_loss_stats st = {0};
    cdz_error err;
    cdz_status s = test_loss(m, w, B, CDZ_EVAL, NULL, &st, NULL, &err);
    return s == CDZ_OK ? st.loss_sum : NAN;
}

static double eval_loss(cdz_model *m, const cdz_window *w, int B) {
    float loss = 0;
    cdz_error err;
    cdz_status st = test_loss(m, w, B, CDZ_EVAL, NULL, NULL, &loss, &err);
    return st == CDZ_OK ? loss : NAN;
}

/* d(loss)/d(parameters) against central differences of the summed loss, per tensor along a random
 * direction (so that every element takes part) and on single elements. */
static void test_whole_loss_gradients(void) {
    for (int which = 0; which < N_TINY; which++) {
        cdz_model *m = NULL;
        if (!tiny_model(&m, which, 3)) return;
        cdz_rng r;
        cdz_rng_seed(&r, 11);
        enum { LEN = 40 };
        uint16_t seqs[3][LEN];
        for (int i = 0; i < 3; i++) random_labels(&r, m->codec, seqs[i], LEN);
        /* windows inside, at the start of, and shorter than the others (padding) */
        cdz_window w[3] = {{seqs[0], 17, 9}, {seqs[1], 0, 9}, {seqs[2], 30, 5}};
        cdz_model_zero_grads(m);
        cdz_error err;
        cdz_loss_stats st = {0};
        float loss;
        CHECK(test_loss(m, w, 3, CDZ_TRAIN, &r, &st, &loss, &err) == CDZ_OK, "%s", err.msg);
        double scale = (double)st.tokens; /* d(sum) = tokens * d(mean) */
        double worst_dir = 0, worst_el = 0, nums[64], analytics[64], biggest = 0;
        const char *worst_dir_name = "", *worst_el_name = "";
        float *u = calloc(m->n_params, sizeof *u), *keep = calloc(m->n_params, sizeof *keep);
        memcpy(keep, m->params, m->n_params * sizeof *keep);
        for (size_t t = 0; t < m->n_tensors; t++) {
            const cdz_tensor_info *ti = &m->tensors[t];
            double analytic = 0;
            for (size_t k = 0; k < ti->numel; k++) {
                u[k] = (float)(cdz_rng_uniform(&r) * 2 - 1);
                analytic += scale * m->grads[ti->offset + k] * u[k];
            }
            const double h = 1e-2;
            double f[2];
            for (int side = 0; side < 2; side++) {
                for (size_t k = 0; k < ti->numel; k++)
                    m->params[ti->offset + k] = keep[ti->offset + k] + (float)((side ? -h : h) * u[k]);
                f[side] = eval_sum(m, w, 3);
            }
            memcpy(m->params + ti->offset, keep + ti->offset, ti->numel * sizeof *keep);
            nums[t] = (f[0] - f[1]) / (2 * h), analytics[t] = analytic;
            biggest = fmax(biggest, fabs(nums[t]));
            for (int s = 0; s < 6; s++) {
                size_t i = ti->offset + (size_t)cdz_rng_below(&r, ti->numel);
                m->params[i] = keep[i] + (float)h;
                double up = eval_sum(m, w, 3);
                m->params[i] = keep[i] - (float)h;
                double down = eval_sum(m, w, 3);
                m->params[i] = keep[i];
                double n1 = (up - down) / (2 * h), e1 = fabs(n1 - scale * m->grads[i]) / fmax(1e-2, fabs(n1));
                if (e1 > worst_el) worst_el = e1, worst_el_name = ti->name;
            }
        }
        /* Float forward passes resolve a derivative of the summed loss to about 3e-5: the attention's
         * own parameters have gradients of that size at initialisation (its weights start nearly
         * uniform), so errors count relative to the larger of the derivative and 1e-3 of the model's
         * largest one. (The layer itself is checked sharply in test_nn.) */
        for (size_t t = 0; t < m->n_tensors; t++) {
            double e = fabs(nums[t] - analytics[t]) / fmax(fabs(nums[t]), 1e-3 * biggest);
            if (e > worst_dir) worst_dir = e, worst_dir_name = m->tensors[t].name;
        }
        /* float forward passes, a 1e-2 step and second-order terms: 1e-2 relative along a direction
         * (a wrong term is off by its whole size), 5e-3 (floor 1e-2 absolute) per element */
        CHECK(worst_dir < 1e-2, "%s: directional gradient: worst relative error %.3g in %s", m->config_name, worst_dir,
              worst_dir_name);
        CHECK(worst_el < 5e-3, "%s: element gradient: worst relative error %.3g in %s", m->config_name, worst_el, worst_el_name);
        printf("%s: worst gradient errors: directional %.2g (%s), element %.2g (%s)\n", m->config_name, worst_dir,
               worst_dir_name, worst_el, worst_el_name);
        free(u), free(keep);
        cdz_model_free(m);
    }
}

/* The step-wise API gives the log-likelihood the full forward pass gives, for every input kind. */
static void test_step_matches_forward(void) {
    for (int which = 0; which < N_TINY; which++) {
        cdz_model *m = NULL;
        if (!tiny_model(&m, which, 5)) return;
        cdz_rng r;
        cdz_rng_seed(&r, 12);
        enum { LEN = 50 };
        uint16_t seq[2][LEN];
        random_labels(&r, m->codec, seq[0], LEN);
        random_labels(&r, m->codec, seq[1], LEN);
        cdz_window w[2] = {{seq[0], 0, LEN}, {seq[1], 0, LEN}};
        cdz_loss_stats st = {0};
        cdz_error err;
        CHECK(test_loss(m, w, 2, CDZ_EVAL, NULL, &st, NULL, &err) == CDZ_OK, "%s", err.msg);
        cdz_session *s = NULL;
        CHECK(cdz_session_new(&s, m, 2, 0, &err) == CDZ_OK && cdz_session_reset(s, 2, &err) == CDZ_OK, "%s", err.msg);
        float logits[2 * 64];
        double sum = 0;
        for (int t = 0; t + 1 < LEN; t++) {
            uint16_t tok[2] = {seq[0][t], seq[1][t]};
            CHECK(cdz_session_feed(s, tok, logits, &err) == CDZ_OK, "%s", err.msg);
            for (int b = 0; b < 2; b++) {
                const float *l = logits + b * m->vocab;
                double mx = l[0], z = 0;
                for (uint32_t v = 1; v < m->vocab; v++) mx = fmax(mx, l[v]);
                for (uint32_t v = 0; v < m->vocab; v++) z += exp(l[v] - mx);
                sum -= l[seq[b][t + 1]] - mx - log(z);
            }
        }
        CHECK(st.tokens == 2 * (LEN - 1), "%s: counted %lld tokens", m->config_name, (long long)st.tokens);
        CHECK(fabs(sum - st.loss_sum) < 1e-4 * st.loss_sum, "%s: step-wise NLL %.6f, forward %.6f", m->config_name, sum,
              st.loss_sum);
        cdz_session_free(s);
        cdz_model_free(m);
    }
}

/* A tiny attention model learns one fixed batch by heart: the loss falls by 90%. */
static void test_overfit(void) {
    cdz_model *m = NULL;
    cdz_error err;
    const char *json = "{\"kind\":\"melody_rnn\",\"codec\":\"key_melody\",\"input\":\"key_melody\",\"layers\":2,"
                       "\"hidden\":16,\"attn_length\":4,\"dropout_keep\":1}";
    CHECK(cdz_model_from_json(&m, json, strlen(json), "overfit", &err) == CDZ_OK, "%s", err.msg);
    cdz_model_init_params(m, 7);
    cdz_rng r;
    cdz_rng_seed(&r, 13);
    enum { LEN = 24 };
    uint16_t seq[4][LEN];
    cdz_window w[4];
    /* random notes: nothing to learn but the batch itself */
    for (int b = 0; b < 4; b++) {
        for (int i = 0; i < LEN; i++) seq[b][i] = (uint16_t)cdz_rng_below(&r, 36);
        w[b] = (cdz_window){seq[b], 0, LEN};
    }
    float *mom = calloc(2 * m->n_params, sizeof *mom), first = 0, loss = 0;
    cdz_adamw_params p = {0.01f, 0.9f, 0.999f, 1e-8f, 0};
    for (int step = 1; step <= 500; step++) {
        p.lr = step > 300 ? 0.003f : 0.01f;
        cdz_model_zero_grads(m);
        CHECK(test_loss(m, w, 4, CDZ_TRAIN, &r, NULL, &loss, &err) == CDZ_OK, "%s", err.msg);
        if (step == 1) first = loss;
        cdz_clip_grad_norm(m->grads, m->n_params, 3);
        cdz_adamw_step(m->params, m->grads, mom, mom + m->n_params, m->n_params, &p, step);
    }
    loss = (float)eval_loss(m, w, 4);
    CHECK(loss < 0.1 * first, "overfitting one batch: loss %.4f -> %.4f (needs a 90%% fall)", first, loss);
    free(mom);
    cdz_model_free(m);
}

/* An in-memory dataset of random melodies in one codec. */
typedef struct mem_ds {
    cdz_dataset ds;
    uint64_t offsets[33];
    uint8_t splits[32];
    uint16_t tokens[32 * 60];
} mem_ds;

static void make_dataset(mem_ds *d, const char *codec, uint32_t vocab) {
    memset(d, 0, sizeof *d);
    cdz_rng r;
    cdz_rng_seed(&r, 21);
    size_t at = 0;
    for (int i = 0; i < 32; i++) {
        size_t len = 10 + (size_t)cdz_rng_below(&r, 50);
        d->offsets[i] = at;
        random_labels(&r, codec, d->tokens + at, len);
        at += len;
        d->splits[i] = i % 8 == 7 ? CDZ_SPLIT_EVAL : CDZ_SPLIT_TRAIN;
    }
    d->offsets[32] = at;
    snprintf(d->ds.codec, sizeof d->ds.codec, "%s", codec);
    d->ds.vocab_size = vocab;
    d->ds.n_seqs = 32, d->ds.n_tokens = at;
    d->ds.offsets = d->offsets, d->ds.splits = d->splits, d->ds.tokens = d->tokens;
}

/* Stopping at step 5, saving, reloading and going on gives the losses of an unbroken run. */
static void test_resume_exact(void) {
    static mem_ds d;
    make_dataset(&d, "key_melody", 40);
    const char *json = "{\"kind\":\"melody_rnn\",\"config_name\":\"small\",\"codec\":\"key_melody\",\"input\":\"key_melody\","
                       "\"layers\":2,\"hidden\":8,\"attn_length\":4,\"dropout_keep\":0.5,\"batch\":6,\"seq\":16,"
                       "\"lr\":0.01,\"clip\":3}";
    cdz_model *a = NULL, *b = NULL;
    cdz_error err;
    CHECK(cdz_model_from_json(&a, json, strlen(json), "small", &err) == CDZ_OK, "%s", err.msg);
    cdz_model_init_params(a, 9);
    cdz_train_config cfg = cdz_train_config_for(a);
    cfg.steps = 10, cfg.warmup_steps = 2, cfg.decay = CDZ_DECAY_COSINE, cfg.seed = 77;
    cfg.transpose_min = -3, cfg.transpose_max = 4; /* augmentation draws from the same random state */
    cdz_trainer ta, tb;
    CHECK(cdz_trainer_init(&ta, a, &d.ds, &cfg, &err) == CDZ_OK, "%s", err.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/run.safetensors", tmpdir);
    float unbroken[10];
    cdz_train_step_info info;
    for (int s = 0; s < 10; s++) {
        CHECK(cdz_trainer_step(&ta, &info, &err) == CDZ_OK, "%s", err.msg);
        unbroken[s] = info.loss;
        if (s == 4) CHECK(cdz_checkpoint_save(path, a, &ta, NULL, 0, &err) == CDZ_OK, "save: %s", err.msg);
    }
    CHECK(cdz_checkpoint_load(path, &b, &err) == CDZ_OK, "load: %s", err.msg);
    cdz_train_config other = cdz_train_config_for(b);
    CHECK(cdz_trainer_init(&tb, b, &d.ds, &other, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_checkpoint_load_trainer(path, &tb, &err) == CDZ_ERR_ARG && strstr(err.msg, "transposition"),
          "a trainer set up without the run's augmentation is refused: %s", err.msg);
    cdz_trainer_free(&tb);
    CHECK(cdz_checkpoint_train_config(path, &other, &err) == CDZ_OK, "%s", err.msg);
    CHECK(other.transpose_min == -3 && other.transpose_max == 4 && other.steps == 10, "the run's settings come back");
    CHECK(cdz_trainer_init(&tb, b, &d.ds, &other, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_checkpoint_load_trainer(path, &tb, &err) == CDZ_OK, "load trainer: %s", err.msg);
    CHECK(tb.step == 5, "resumed at step %lld", (long long)tb.step);
    int same = 1;
    for (int s = 5; s < 10; s++) {
        CHECK(cdz_trainer_step(&tb, &info, &err) == CDZ_OK, "%s", err.msg);
        same &= info.loss == unbroken[s];
    }
    CHECK(same, "resumed losses equal the unbroken run's bit for bit");
    CHECK(memcmp(a->params, b->params, a->n_params * sizeof *a->params) == 0, "and so do the final parameters");
    /* evaluation: same numbers from the reloaded weights */
    cdz_loss_stats sa, sb;
    CHECK(cdz_evaluate(a, &d.ds, CDZ_SPLIT_EVAL, 3, 100, 0, &sa, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_checkpoint_save(path, a, NULL, NULL, 0, &err) == CDZ_OK, "%s", err.msg);
    cdz_model *c = NULL;
    CHECK(cdz_checkpoint_load(path, &c, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_evaluate(c, &d.ds, CDZ_SPLIT_EVAL, 2, 7, 0, &sb, &err) == CDZ_OK, "%s", err.msg);
    CHECK(sa.tokens > 0 && sa.tokens == sb.tokens, "eval tokens %lld and %lld", (long long)sa.tokens, (long long)sb.tokens);
    /* a weights-only checkpoint cannot resume */
    cdz_trainer tc;
    CHECK(cdz_trainer_init(&tc, c, &d.ds, &cfg, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_checkpoint_load_trainer(path, &tc, &err) == CDZ_ERR_FORMAT && strstr(err.msg, "resume"), "weights only: %s",
          err.msg);
    cdz_trainer_free(&tc);
    cdz_model_free(c);
    /* a dataset of another codec is refused with the fix in the message */
    static mem_ds other_ds;
    make_dataset(&other_ds, "melody", 38);
    CHECK(cdz_trainer_init(&tc, a, &other_ds.ds, &cfg, &err) == CDZ_ERR_UNSUPPORTED && strstr(err.msg, "--codec key_melody"),
          "codec mismatch: %s", err.msg);
    cdz_trainer_free(&ta), cdz_trainer_free(&tb);
    cdz_model_free(a), cdz_model_free(b);
}

/* Truncated, foreign and mismatched files are rejected with the file named. */
static void test_bad_checkpoints(void) {
    cdz_model *m = NULL, *x = NULL;
    cdz_error err;
    if (!tiny_model(&m, 0, 1)) return;
    char path[128], bad[128];
    snprintf(path, sizeof path, "%s/good.safetensors", tmpdir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", tmpdir);
    CHECK(cdz_checkpoint_save(path, m, NULL, NULL, 0, &err) == CDZ_OK, "%s", err.msg);
    uint8_t *file;
    size_t len;
    CHECK(cdz_file_read_all(path, &file, &len, &err) == CDZ_OK, "%s", err.msg);
    int rejected = 0, tried = 0;
    for (size_t cut = 0; cut < len; cut += 1 + cut / 7) {
        cdz_file_write_atomic(bad, file, cut, &err);
        tried++;
        if (cdz_checkpoint_load(bad, &x, &err) != CDZ_OK && strstr(err.msg, bad)) rejected++;
        else if (x->kind) cdz_model_free(x);
    }
    CHECK(rejected == tried, "truncated checkpoints rejected: %d of %d", rejected, tried);
    /* a valid safetensors file from elsewhere */
    float w[4] = {1, 2, 3, 4};
    cdz_st_tensor t = {"weight", 1, {4}, w};
    const char *meta[2] = {"producer", "someone else"};
    CHECK(cdz_safetensors_write(bad, &t, 1, meta, 1, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_checkpoint_load(bad, &x, &err) == CDZ_ERR_FORMAT && strstr(err.msg, "not a cadenza checkpoint"), "foreign: %s",
          err.msg);
    /* a config whose shapes do not match the tensors */
    cdz_model *big = NULL;
    const char *json = "{\"kind\":\"melody_rnn\",\"codec\":\"key_melody\",\"input\":\"key_melody\",\"layers\":2,"
                       "\"hidden\":7,\"attn_length\":3}";
    CHECK(cdz_model_from_json(&big, json, strlen(json), "t", &err) == CDZ_OK, "%s", err.msg);
    const char *cfg = "{\"kind\":\"melody_rnn\",\"codec\":\"key_melody\",\"input\":\"key_melody\",\"layers\":2,\"hidden\":6,\"attn_length\":3}";
    cdz_st_tensor *ts = calloc(big->n_tensors, sizeof *ts);
    for (size_t i = 0; i < big->n_tensors; i++) {
        ts[i].name = big->tensors[i].name, ts[i].ndim = big->tensors[i].ndim, ts[i].data = big->params + big->tensors[i].offset;
        memcpy(ts[i].shape, big->tensors[i].shape, sizeof ts[i].shape);
    }
    const char *meta2[4] = {"format", "cadenza checkpoint 1", "model", cfg};
    CHECK(cdz_safetensors_write(bad, ts, big->n_tensors, meta2, 2, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_checkpoint_load(bad, &x, &err) == CDZ_ERR_FORMAT && strstr(err.msg, "shape"), "mismatch: %s", err.msg);
    free(ts);
    /* config errors */
    const char *bad_cfgs[] = {"{\"kind\":\"melody_rnn\",\"codec\":\"melody\",\"input\":\"key_melody\"}",
                              "{\"kind\":\"melody_rnn\",\"codec\":\"key_melody\",\"input\":\"key_melody\",\"hidden\":-3}",
                              "{\"kind\":\"melody_rnn\",\"codec\":\"nope\",\"input\":\"one_hot\"}",
                              "{\"kind\":\"transformer9\"}", "[1,2]", "{\"kind\":\"melody_rnn\",\"hidden\":\"big\"}"};
    for (size_t i = 0; i < sizeof bad_cfgs / sizeof *bad_cfgs; i++) {
        cdz_status st = cdz_model_from_json(&x, bad_cfgs[i], strlen(bad_cfgs[i]), "cfg", &err);
        CHECK(st != CDZ_OK && strstr(err.msg, "cfg"), "bad config %zu accepted or unnamed: %s", i, err.msg);
    }
    CHECK(cdz_model_create(&x, "melody_rnn", "nope_rnn", &err) == CDZ_ERR_ARG && strstr(err.msg, "attention_rnn"),
          "unknown config lists the known ones: %s", err.msg);
    cdz_free(file);
    cdz_model_free(big);
    cdz_model_free(m);
}

/* Mutated model configs (as a hostile checkpoint would carry) build a model or give an error; never a
 * crash (the sanitized build runs this too). */
static void test_config_mutations(void) {
    const char *base = TINY[0];
    size_t n = strlen(base);
    char *buf = malloc(n + 1);
    cdz_rng r;
    cdz_rng_seed(&r, 31);
    int built = 0, refused = 0, named = 0;
    for (int i = 0; i < 3000; i++) {
        memcpy(buf, base, n + 1);
        for (int k = 0, edits = 1 + (int)cdz_rng_below(&r, 3); k < edits; k++) {
            size_t at = (size_t)cdz_rng_below(&r, n);
            static const char alphabet[] = "0123456789-.e\"{}[],:x \\";
            buf[at] = alphabet[cdz_rng_below(&r, sizeof alphabet - 1)];
        }
        cdz_model *m = NULL;
        cdz_error err = {0};
        if (cdz_model_from_json(&m, buf, n, "mutant", &err) == CDZ_OK) {
            built++;
            cdz_model_free(m);
        } else {
            refused++;
            named += strstr(err.msg, "mutant") != NULL || strstr(err.msg, "memory") != NULL;
        }
    }
    CHECK(named == refused, "every refusal names the source: %d of %d", named, refused);
    printf("config mutations: %d built, %d refused\n", built, refused);
    free(buf);
}

static void test_sampling(void) {
    cdz_model *m = NULL;
    if (!tiny_model(&m, 0, 4)) return;
    uint16_t primer[5] = {24, 36, 37, 26, 36}; /* C, no-event, off, D, no-event */
    enum { STEPS = 30 };
    uint16_t plain[5 + STEPS], beam[5 + STEPS];
    double lp = 0, lb = 0;
    cdz_rng r1, r2;
    cdz_error err;
    for (int spi = 1; spi <= 7; spi += 3) {
        cdz_sample_params p = cdz_sample_default_params();
        p.temperature = 1.3f;
        cdz_rng_seed(&r1, 99), cdz_rng_seed(&r2, 99);
        CHECK(cdz_generate(m, primer, 5, STEPS, 1, &p, &r1, plain, &lp, NULL, NULL, &err) == CDZ_OK, "%s", err.msg);
        p.beam_size = 1, p.branch_factor = 1, p.steps_per_iteration = spi;
        CHECK(cdz_generate(m, primer, 5, STEPS, 1, &p, &r2, beam, &lb, NULL, NULL, &err) == CDZ_OK, "%s", err.msg);
        CHECK(memcmp(plain, beam, sizeof plain) == 0 && lp == lb, "beam 1, branch 1 (%d steps per iteration) = plain sampling",
              spi);
    }
    CHECK(memcmp(plain, primer, sizeof primer) == 0, "the primer starts the output");
    /* a wider beam keeps the most likely of its candidates: at least as likely as its first sequence */
    cdz_sample_params p = cdz_sample_default_params();
    p.beam_size = 4, p.branch_factor = 3, p.steps_per_iteration = 2;
    uint16_t out[2][5 + STEPS];
    double ll[2];
    cdz_rng_seed(&r1, 5);
    CHECK(cdz_generate(m, primer, 5, STEPS, 2, &p, &r1, out[0], ll, NULL, NULL, &err) == CDZ_OK, "%s", err.msg);
    CHECK(memcmp(out[1], primer, sizeof primer) == 0 && isfinite(ll[0]) && ll[0] < 0, "beam outputs: primer kept, loglik %g",
          ll[0]);
    /* a zero temperature is greedy and the same every time */
    p = cdz_sample_default_params();
    p.temperature = 0;
    cdz_rng_seed(&r1, 1), cdz_rng_seed(&r2, 2);
    cdz_generate(m, primer, 5, STEPS, 1, &p, &r1, plain, NULL, NULL, NULL, &err);
    cdz_generate(m, primer, 5, STEPS, 1, &p, &r2, beam, NULL, NULL, NULL, &err);
    CHECK(memcmp(plain, beam, sizeof plain) == 0, "greedy decoding ignores the seed");
    uint16_t badp[1] = {40};
    CHECK(cdz_generate(m, badp, 1, 3, 1, &p, &r1, plain, NULL, NULL, NULL, &err) == CDZ_ERR_ARG, "primer outside vocabulary");
    /* draws follow the distribution; top-k 1 and top-p tiny are greedy */
    float logits[3] = {0, logf(2), logf(5)};
    int count[3] = {0};
    cdz_sample_params q = cdz_sample_default_params();
    cdz_rng_seed(&r1, 8);
    for (int i = 0; i < 8000; i++) count[cdz_sample_logits(logits, 3, &q, &r1, NULL)]++;
    CHECK(abs(count[0] - 1000) < 150 && abs(count[2] - 5000) < 250, "draws %d %d %d for 1:2:5", count[0], count[1], count[2]);
    q.top_k = 1;
    int greedy = 1;
    for (int i = 0; i < 100; i++) greedy &= cdz_sample_logits(logits, 3, &q, &r1, NULL) == 2;
    q.top_k = 0, q.top_p = 0.1f;
    for (int i = 0; i < 100; i++) greedy &= cdz_sample_logits(logits, 3, &q, &r1, NULL) == 2;
    CHECK(greedy, "top-k 1 and top-p 0.1 keep only the most likely token");
    q.top_p = 0.8f, q.top_k = 0; /* 5/8 < 0.8: the two most likely */
    int none0 = 1;
    for (int i = 0; i < 400; i++) none0 &= cdz_sample_logits(logits, 3, &q, &r1, NULL) != 0;
    CHECK(none0, "top-p 0.8 drops the least likely token");
    cdz_model_free(m);
}

/* Dropout drawn by each window's place in the whole batch: 4 windows at once and as 2 + 2 at offsets 0
 * and 2 (test_split_batch), the second pair shorter (its own T, so padding differs), for the attention
 * model and the 3-layer embedding one, each with dropout on every layer's output. */
static void test_split_dropout(void) {
    static const int which[2] = {0, 3};
    for (int k = 0; k < 2; k++) {
        char json[1024];
        const char *base = TINY[which[k]], *at = strstr(base, "\"dropout_keep\":1");
        snprintf(json, sizeof json, "%.*s\"dropout_keep\":0.5%s", (int)(at - base), base, at + strlen("\"dropout_keep\":1"));
        cdz_model *m = NULL;
        cdz_error err;
        if (cdz_model_from_json(&m, json, strlen(json), "tiny", &err) != CDZ_OK) {
            CHECK(0, "%s: %s", json, err.msg);
            continue;
        }
        cdz_model_init_params(m, 3);
        cdz_rng r;
        cdz_rng_seed(&r, 17);
        enum { LEN = 40 };
        uint16_t seqs[4][LEN];
        for (int i = 0; i < 4; i++) random_labels(&r, m->codec, seqs[i], LEN);
        cdz_window w[4] = {{seqs[0], 5, 13}, {seqs[1], 0, 9}, {seqs[2], 20, 7}, {seqs[3], 2, 5}};
        /* measured: the loss equal to 2e-8 relative and the gradients to 1e-7 of the largest (the
         * softmax's mean and the matrix products over other row counts); 1e-5 for both allows the
         * order of float sums, while the second pair drawn at offset 0 moves the gradients by 8e-2 */
        test_split_batch(cdz_model_config_name(m), m, w, 4, 2, 1e-5, 1e-5);
        cdz_model_free(m);
    }
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/cdz_models_XXXXXX");
    if (!mkdtemp(tmpdir)) return 1;
    test_whole_loss_gradients();
    test_split_dropout();
    test_step_matches_forward();
    test_overfit();
    test_resume_exact();
    test_bad_checkpoints();
    test_config_mutations();
    test_sampling();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("could not remove %s\n", tmpdir);
    return test_summary("test_models");
}

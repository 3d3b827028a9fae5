/* The ensemble Music Transformer's speed (music_transformer, named config ensemble_small), the
 * protocol of ../shared/bench/torch_reference.py and bench/torch_ensemble.py (run them side by side,
 * bench/ensemble.sh): random tokens, warm-up steps, timed steps, one JSON line per measurement.
 *   train   tokens/s of a full training step (forward with the config's dropout, backward, clip at
 *           1.0, AdamW lr 1e-3 and weight decay 0.01), tokens = batch x seq of the config (4 x 2048)
 *   gen     tokens/s of batch-1 sampling from the full softmax at temperature 1 on a session (the
 *           key/value cache), one token fed at a time from an empty context, as a music app generates
 * The configs: ensemble_small as src/models/music_transformer.c names it, and ensemble_tiny, the same
 * structure small enough for a quick check (relative distances clipped there too: max_relative < seq).
 * While the codec "ensemble" is not registered, the model is built from the same JSON with codec
 * "none" and its vocabulary (CDZ_ENS_VOCAB): the same shapes and work; the JSON lines say which codec.
 *
 * --check DIR writes what torch_ensemble.py --check DIR compares against its own model loaded with
 * the same weights: DIR/model.safetensors (the initial weights made sharp, see sharpen()),
 * DIR/tokens.u16 (batch x (seq + 1) random tokens), DIR/step_logits.f32 (the session's logits after
 * feeding row 0's first seq tokens one at a time) and DIR/check.json (the batch's evaluation loss).
 * Usage: bench_ensemble [--configs a,b|all] [--warmup N] [--steps N] [--gen-tokens N] [--check DIR] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cadenza.h"
#include "cadenza/ensemble.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char TINY[] =
    "{\"kind\":\"music_transformer\",\"config_name\":\"ensemble_tiny\",\"codec\":\"ensemble\","
    "\"attention\":\"relative\",\"layers\":2,\"d_model\":64,\"heads\":2,\"d_ff\":256,\"max_len\":256,"
    "\"max_relative\":128,\"activation\":\"gelu\",\"dropout\":0.1,\"batch\":2,\"seq\":256,\"lr\":0.001,"
    "\"clip\":1,\"weight_decay\":0.01,\"warmup_steps\":0}";

static const char *const NAMES[] = {"ensemble_small", "ensemble_tiny"};

/* The config's JSON, with codec "none" and the ensemble vocabulary while the codec is not registered
 * (as gpt_base builds its model in music_transformer.c). *codec_out says which. */
static cdz_model *make(const char *name, const char **codec_out, cdz_error *err) {
    const cdz_model_kind *kind = cdz_model_kind_find("music_transformer");
    const char *base = strcmp(name, "ensemble_tiny") == 0 ? TINY : cdz_kind_named_config(kind, name);
    if (!base) {
        cdz_error_set(err, CDZ_ERR_ARG, "music_transformer has no named config '%s' in this build", name);
        return NULL;
    }
    char json[2048];
    const char *key = "\"codec\":\"ensemble\"", *at = strstr(base, key);
    *codec_out = "ensemble";
    if (!cdz_codec_find("ensemble") && at) {
        snprintf(json, sizeof json, "%.*s\"codec\":\"none\",\"vocab\":%d%s", (int)(at - base), base, (int)CDZ_ENS_VOCAB,
                 at + strlen(key));
        *codec_out = "none";
    } else {
        snprintf(json, sizeof json, "%s", base);
    }
    cdz_model *m = NULL;
    if (cdz_model_from_json(&m, json, strlen(json), name, err) != CDZ_OK) return NULL;
    cdz_model_init_params(m, 1);
    return m;
}

/* B windows of T + 1 uniformly random tokens. */
static uint16_t *random_tokens(const cdz_model *m, int B, int T, cdz_window *w) {
    uint16_t *x = malloc((size_t)B * (T + 1) * sizeof *x);
    if (!x) return NULL;
    cdz_rng r;
    cdz_rng_seed(&r, 0);
    for (size_t i = 0; i < (size_t)B * (T + 1); i++) x[i] = (uint16_t)cdz_rng_below(&r, cdz_model_vocab(m));
    for (int b = 0; b < B; b++) w[b] = (cdz_window){x + (size_t)b * (T + 1), 0, T + 1};
    return x;
}

static int fail(const char *name, const cdz_error *err) {
    fprintf(stderr, "bench_ensemble: %s: %s\n", name, err->msg);
    return 1;
}

static int bench_one(const char *name, int warmup, int steps, int gen_tokens) {
    cdz_error err = {0};
    const char *codec;
    cdz_model *m = make(name, &codec, &err);
    if (!m) return fail(name, &err);
    const cdz_train_defaults td = cdz_model_train_defaults(m);
    const int B = td.batch, T = td.seq, V = (int)cdz_model_vocab(m);
    const size_t n = cdz_model_n_params(m);
    cdz_window *w = malloc((size_t)B * sizeof *w);
    uint16_t *x = w ? random_tokens(m, B, T, w) : NULL;
    float *g = cdz_model_grads(m), *mo = calloc(n, sizeof *mo), *vo = calloc(n, sizeof *vo);
    float *logits = malloc((size_t)V * sizeof *logits);
    cdz_session *s = NULL;
    int rc = 1;
    if (!x || !g || !mo || !vo || !logits) {
        fprintf(stderr, "bench_ensemble: %s: out of memory\n", name);
        goto done;
    }
    if (cdz_session_new(&s, m, 1, 0, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    /* train: the config's own optimiser settings (lr 1e-3, clip 1, weight decay 0.01) */
    cdz_adamw_params ap = cdz_adamw_default_params();
    ap.lr = td.lr, ap.weight_decay = td.weight_decay;
    cdz_batch batch = cdz_batch_tokens(w, B);
    cdz_loss l = {0};
    double t0 = now();
    for (int it = 0; it < warmup + steps; it++) {
        if (it == warmup) t0 = now();
        cdz_model_zero_grads(m);
        cdz_loss_opts o = {CDZ_TRAIN, it, 1, g};
        if (cdz_model_loss(s, &batch, &o, &l, NULL, &err) != CDZ_OK) {
            fail(name, &err);
            goto done;
        }
        cdz_clip_grad_norm(g, n, td.clip);
        cdz_adamw_step(cdz_model_params(m), g, mo, vo, n, &ap, it + 1);
    }
    double dt = now() - t0;
    printf("{\"impl\":\"cadenza\",\"config\":\"%s\",\"what\":\"train\",\"tokens_per_s\":%.1f,\"step_ms\":%.2f,\"params\":%zu,"
           "\"batch\":%d,\"seq\":%d,\"vocab\":%d,\"codec\":\"%s\",\"loss\":%.4f,\"matmul\":\"%s\"}\n",
           name, (double)B * T * steps / dt, dt / steps * 1e3, n, B, T, V, codec, l.objective, cdz_nn_backend());
    fflush(stdout);

    /* gen: as the reference, min(gen tokens, seq); 8 warm-up tokens, then from an empty context again */
    if (gen_tokens > T) gen_tokens = T;
    cdz_sample_params sp = cdz_sample_default_params();
    cdz_rng r;
    cdz_rng_seed(&r, 0);
    for (int round = 0; round < 2; round++) {
        int count = round == 0 ? 8 : gen_tokens;
        uint16_t tok = 0;
        if (cdz_session_reset(s, 1, &err) != CDZ_OK) {
            fail(name, &err);
            goto done;
        }
        t0 = now();
        for (int i = 0; i < count; i++) {
            if (cdz_session_feed(s, &tok, logits, &err) != CDZ_OK) {
                fail(name, &err);
                goto done;
            }
            int k = cdz_sample_logits(logits, V, &sp, &r, NULL);
            tok = (uint16_t)(k < 0 ? 0 : k);
        }
        dt = now() - t0;
    }
    printf("{\"impl\":\"cadenza\",\"config\":\"%s\",\"what\":\"gen\",\"tokens_per_s\":%.1f,\"step_ms\":%.3f,\"tokens\":%d,"
           "\"params\":%zu,\"window\":%lld}\n",
           name, gen_tokens / dt, dt / gen_tokens * 1e3, gen_tokens, n, (long long)cdz_session_window(s));
    fflush(stdout);
    rc = 0;
done:
    free(w), free(x), free(mo), free(vo), free(logits);
    cdz_session_free(s);
    cdz_model_free(m);
    return rc;
}

/* Weights whose attention is sharp and whose relative term is as large as the content term, so the
 * comparison sees a difference in how distances are read (at the GPT-2 initialisation, std 0.02, the
 * relative logits are too small to move the loss): uniform noise of +-0.3 on every parameter, of
 * +-1.5 on the relative embeddings. */
static void sharpen(cdz_model *m) {
    float *p = cdz_model_params(m);
    cdz_rng r;
    cdz_rng_seed(&r, 7);
    for (size_t i = 0; i < cdz_model_n_tensors(m); i++) {
        const cdz_tensor_info *t = cdz_model_tensor_at(m, i);
        const size_t len = strlen(t->name);
        const double a = len > 3 && strcmp(t->name + len - 3, ".er") == 0 ? 1.5 : 0.3;
        for (size_t k = 0; k < t->numel; k++) p[t->offset + k] += (float)(a * (2 * cdz_rng_uniform(&r) - 1));
    }
}

/* dir/file := n items of size bytes; 0 on success, else says which file. */
static int write_file(const char *dir, const char *file, const void *data, size_t size, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, size, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "bench_ensemble: cannot write %s\n", path);
    return !ok;
}

/* Writes the files torch_ensemble.py --check compares with (see the top of the file). */
static int check(const char *name, const char *dir) {
    cdz_error err = {0};
    const char *codec;
    cdz_model *m = make(name, &codec, &err);
    if (!m) return fail(name, &err);
    const cdz_train_defaults td = cdz_model_train_defaults(m);
    const int B = td.batch, T = td.seq, V = (int)cdz_model_vocab(m);
    cdz_window *w = malloc((size_t)B * sizeof *w);
    uint16_t *x = w ? random_tokens(m, B, T, w) : NULL;
    float *logits = malloc((size_t)V * sizeof *logits);
    cdz_session *s = NULL;
    char path[4096];
    int rc = 1;
    if (!x || !logits) {
        fprintf(stderr, "bench_ensemble: out of memory\n");
        goto done;
    }
    sharpen(m);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (cdz_checkpoint_save(path, m, NULL, NULL, 0, &err) != CDZ_OK || cdz_session_new(&s, m, 1, 0, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    cdz_batch batch = cdz_batch_tokens(w, B);
    cdz_loss l = {0};
    cdz_loss_opts o = {CDZ_EVAL, 0, 1, NULL};
    if (cdz_model_loss(s, &batch, &o, &l, NULL, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    if (cdz_session_reset(s, 1, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    for (int i = 0; i < T; i++)
        if (cdz_session_feed(s, &x[i], logits, &err) != CDZ_OK) {
            fail(name, &err);
            goto done;
        }
    char js[512];
    int len = snprintf(js, sizeof js, "{\"config\":\"%s\",\"loss\":%.9g,\"batch\":%d,\"seq\":%d,\"vocab\":%d,\"params\":%zu}\n",
                       name, l.objective, B, T, V, cdz_model_n_params(m));
    /* tokens as raw uint16: little-endian hosts only, as the bench machines */
    if (write_file(dir, "tokens.u16", x, sizeof *x, (size_t)B * (T + 1)) ||
        write_file(dir, "step_logits.f32", logits, sizeof *logits, (size_t)V) || write_file(dir, "check.json", js, 1, (size_t)len))
        goto done;
    printf("{\"impl\":\"cadenza\",\"config\":\"%s\",\"what\":\"check\",\"loss\":%.6f,\"params\":%zu,\"dir\":\"%s\"}\n", name,
           l.objective, cdz_model_n_params(m), dir);
    rc = 0;
done:
    free(w), free(x), free(logits);
    cdz_session_free(s);
    cdz_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    const char *configs = "ensemble_small", *check_dir = NULL;
    int warmup = 3, steps = 10, gen_tokens = 512;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--configs") == 0 && i + 1 < argc) configs = argv[++i];
        else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--gen-tokens") == 0 && i + 1 < argc) gen_tokens = atoi(argv[++i]);
        else if (strcmp(argv[i], "--check") == 0 && i + 1 < argc) check_dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench_ensemble [--configs ensemble_small,ensemble_tiny|all] [--warmup N] [--steps N] "
                            "[--gen-tokens N] [--check DIR]\n");
            return 2;
        }
    }
    if (steps < 1 || gen_tokens < 1 || warmup < 0) {
        fprintf(stderr, "bench_ensemble: --steps and --gen-tokens at least 1, --warmup at least 0\n");
        return 2;
    }
    int failed = 0, ran = 0;
    char want[256];
    snprintf(want, sizeof want, ",%s,", configs);
    for (size_t i = 0; i < sizeof NAMES / sizeof *NAMES; i++) {
        char key[64];
        snprintf(key, sizeof key, ",%s,", NAMES[i]);
        if (strcmp(configs, "all") != 0 && !strstr(want, key)) continue;
        if (check_dir && ran) {
            fprintf(stderr, "bench_ensemble: --check takes one config\n");
            return 2;
        }
        failed |= check_dir ? check(NAMES[i], check_dir) : bench_one(NAMES[i], warmup, steps, gen_tokens);
        ran++;
    }
    if (!ran) fprintf(stderr, "bench_ensemble: no config named in '%s' (ensemble_small, ensemble_tiny, all)\n", configs);
    return failed || !ran;
}

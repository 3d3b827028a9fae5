/* The audio codec's speed (audio_codec, named config codec_small), the protocol of
 * ../shared/bench/torch_reference.py and bench/torch_audio_codec.py (run them side by side,
 * bench/audio_codec.sh): random audio, warm-up steps, timed steps, one JSON line per measurement.
 *   train   samples/s of a whole training step (forward with every book, backward, clip at the
 *           config's 100, AdamW lr 3e-4 weight decay 0, then the kind's after_step: the EMA codebook
 *           update and dead-code restarts, as the trainer calls it), samples = batch x seq (8 x 7680)
 *   encode  x real time of cdz_audio_codec_encode of one clip of --seconds (10 s) with every book
 *   decode  x real time of cdz_audio_codec_decode of that clip's codes
 * The audio is uniform noise in [-0.5, 0.5] as int16 windows (the codec reads cdz_window.audio / 32768).
 * The configs are the named ones with "q_dropout":0, so every training step uses every book (the
 * PyTorch side has no dropout to draw); codec_tiny is for quick checks. Threads: OpenBLAS's
 * (OPENBLAS_NUM_THREADS); audio_codec.sh runs train at THREADS and encode/decode at 1.
 *
 * --check DIR writes what torch_audio_codec.py --check DIR compares against its own model loaded with
 * the same weights. The model is initialised, then one training loss and after_step move the codebooks
 * onto the batch's encodings (initial codebooks are N(0, 1) with zero EMA counts, far from them), and:
 *   DIR/init.safetensors   the initial weights (before that step: the PyTorch side replays the update)
 *   DIR/model.safetensors  the weights after it (cdz_checkpoint_save, no trainer)
 *   DIR/input.f32          the batch as raw little-endian f32, (batch, seq), the int16 samples / 32768
 *   DIR/grads.f32          the training gradient of the objective on those weights, every tensor in the
 *                          checkpoint's order (codebooks and EMA statistics get none: zeros)
 *   DIR/codes.i32          cdz_audio_codec_encode of each window, (batch, frames, books)
 *   DIR/check.json         the evaluation loss (all books) and its terms, the tensor table of grads.f32
 * Usage: bench_audio_codec [--configs a,b|all] [--what train,encode,decode] [--warmup N] [--steps N]
 *                          [--seconds S] [--reps N] [--check DIR] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cadenza.h"
#include "cadenza/audio_codec.h"
#include "cadenza/model_kind.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const char *const NAMES[] = {"codec_small", "codec_lite", "codec_tiny"};

/* The named config with "q_dropout":0 (replacing its value, or added when it has none). */
static cdz_model *make(const char *name, cdz_error *err) {
    const char *base = cdz_kind_named_config(cdz_model_kind_find("audio_codec"), name);
    if (!base) {
        cdz_error_set(err, CDZ_ERR_ARG, "audio_codec has no named config '%s' in this build", name);
        return NULL;
    }
    char json[2048];
    const char *key = "\"q_dropout\":", *at = strstr(base, key);
    if (at) {
        const char *rest = at + strlen(key);
        while (*rest && *rest != ',' && *rest != '}') rest++;
        snprintf(json, sizeof json, "%.*s%s0%s", (int)(at - base), base, key, rest);
    } else {
        snprintf(json, sizeof json, "{%s0,%s", key, base + 1);
    }
    cdz_model *m = NULL;
    if (cdz_model_from_json(&m, json, strlen(json), name, err) != CDZ_OK) return NULL;
    cdz_model_init_params(m, 1);
    return m;
}

/* n int16 samples uniform in [-16384, 16384] (noise in [-0.5, 0.5] once divided by 32768). */
static int16_t *random_audio(size_t n, uint64_t seed) {
    int16_t *a = malloc((n ? n : 1) * sizeof *a);
    if (!a) return NULL;
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) a[i] = (int16_t)((int64_t)cdz_rng_below(&r, 32769) - 16384);
    return a;
}

/* Parameters with a gradient: every tensor but the codebooks and their EMA statistics ("rvq."). */
static size_t trainable(const cdz_model *m) {
    size_t n = 0;
    for (size_t i = 0; i < cdz_model_n_tensors(m); i++) {
        const cdz_tensor_info *t = cdz_model_tensor_at(m, i);
        if (strncmp(t->name, "rvq.", 4) != 0) n += t->numel;
    }
    return n;
}

static int fail(const char *name, const cdz_error *err) {
    fprintf(stderr, "bench_audio_codec: %s: %s\n", name, err->msg);
    return 1;
}

static int wants(const char *list, const char *what) {
    char l[128], k[32];
    snprintf(l, sizeof l, ",%s,", list);
    snprintf(k, sizeof k, ",%s,", what);
    return strstr(l, k) != NULL;
}

static int bench_train(cdz_model *m, const char *name, int warmup, int steps) {
    cdz_error err = {0};
    const cdz_train_defaults td = cdz_model_train_defaults(m);
    const int B = td.batch, T = td.seq;
    const size_t n = cdz_model_n_params(m);
    int16_t *audio = random_audio((size_t)B * T, 0);
    cdz_window *w = malloc((size_t)B * sizeof *w);
    float *g = cdz_model_grads(m), *mo = calloc(n, sizeof *mo), *vo = calloc(n, sizeof *vo);
    cdz_session *s = NULL;
    int rc = 1;
    if (!audio || !w || !g || !mo || !vo) {
        fprintf(stderr, "bench_audio_codec: %s: out of memory\n", name);
        goto done;
    }
    for (int b = 0; b < B; b++) w[b] = (cdz_window){.audio = audio + (size_t)b * T, .start = 0, .n = T};
    if (cdz_session_new(&s, m, 1, 0, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    const cdz_model_kind *kind = cdz_model_kind_of(m);
    cdz_adamw_params ap = cdz_adamw_default_params();
    ap.lr = td.lr, ap.weight_decay = td.weight_decay;
    cdz_batch batch = cdz_batch_audio(w, B);
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
        if (kind->after_step) kind->after_step(m, cdz_session_kind_state(s), it);
    }
    double dt = now() - t0;
    printf("{\"impl\":\"cadenza\",\"config\":\"%s\",\"what\":\"train\",\"samples_per_s\":%.1f,\"step_ms\":%.2f,\"params\":%zu,"
           "\"trainable\":%zu,\"batch\":%d,\"seq\":%d,\"loss\":%.4f,\"mel\":%.4f,\"stft\":%.4f,\"matmul\":\"%s\"}\n",
           name, (double)B * T * steps / dt, dt / steps * 1e3, n, trainable(m), B, T, l.objective, l.terms[0].value,
           l.terms[1].value, cdz_nn_backend());
    fflush(stdout);
    rc = 0;
done:
    free(audio), free(w), free(mo), free(vo);
    cdz_session_free(s);
    return rc;
}

/* encode and/or decode of one clip: a warm-up call (whose codes decode reads), then reps timed calls. */
static int bench_codec(const cdz_model *m, const char *name, int do_enc, int do_dec, double seconds, int reps) {
    cdz_error err = {0};
    const cdz_audio_codec_shape sh = cdz_audio_codec_shape_of(m);
    const size_t n = (size_t)(seconds * sh.rate + 0.5);
    int16_t *a = random_audio(n, 1);
    float *x = malloc((n ? n : 1) * sizeof *x);
    int32_t *codes = NULL;
    size_t frames = 0;
    int rc = 1;
    if (!a || !x) {
        fprintf(stderr, "bench_audio_codec: %s: out of memory\n", name);
        goto done;
    }
    for (size_t i = 0; i < n; i++) x[i] = a[i] * (1.0f / 32768.0f);
    if (cdz_audio_codec_encode(m, x, n, sh.books, &codes, &frames, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    for (int dec = 0; dec < 2; dec++) {
        if (!(dec ? do_dec : do_enc)) continue;
        double t0 = now();
        for (int it = dec ? -1 : 0; it < reps; it++) { /* decode: a warm-up call of its own first */
            if (it == 0) t0 = now();
            cdz_status st;
            if (dec) {
                float *y = NULL;
                size_t ny = 0;
                st = cdz_audio_codec_decode(m, codes, frames, sh.books, &y, &ny, &err);
                cdz_free(y);
            } else {
                int32_t *c = NULL;
                size_t f = 0;
                st = cdz_audio_codec_encode(m, x, n, sh.books, &c, &f, &err);
                cdz_free(c);
            }
            if (st != CDZ_OK) {
                fail(name, &err);
                goto done;
            }
        }
        const double dt = now() - t0;
        printf("{\"impl\":\"cadenza\",\"config\":\"%s\",\"what\":\"%s\",\"x_real_time\":%.2f,\"ms\":%.2f,\"seconds\":%.2f,"
               "\"samples\":%zu,\"frames\":%zu,\"books\":%d,\"reps\":%d,\"matmul\":\"%s\"}\n",
               name, dec ? "decode" : "encode", seconds * reps / dt, dt / reps * 1e3, seconds, n, frames, sh.books, reps,
               cdz_nn_backend());
        fflush(stdout);
    }
    rc = 0;
done:
    free(a), free(x);
    cdz_free(codes);
    return rc;
}

static int bench_one(const char *name, const char *what, int warmup, int steps, double seconds, int reps) {
    cdz_error err = {0};
    cdz_model *m = make(name, &err);
    if (!m) return fail(name, &err);
    int rc = 0;
    if (wants(what, "train")) rc |= bench_train(m, name, warmup, steps);
    if (!rc && (wants(what, "encode") || wants(what, "decode")))
        rc |= bench_codec(m, name, wants(what, "encode"), wants(what, "decode"), seconds, reps);
    cdz_model_free(m);
    return rc;
}

/* dir/file := n items of size bytes; 0 on success, else says which file. */
static int write_file(const char *dir, const char *file, const void *data, size_t size, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(data, size, n, f) == n;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "bench_audio_codec: cannot write %s\n", path);
    return !ok;
}

/* Writes the files torch_audio_codec.py --check compares with (see the top of the file). */
static int check(const char *name, const char *dir) {
    cdz_error err = {0};
    cdz_model *m = make(name, &err);
    if (!m) return fail(name, &err);
    const cdz_train_defaults td = cdz_model_train_defaults(m);
    const cdz_audio_codec_shape sh = cdz_audio_codec_shape_of(m);
    const int B = td.batch, T = td.seq, F = T / sh.hop;
    const size_t n = cdz_model_n_params(m), nt = cdz_model_n_tensors(m);
    int16_t *audio = random_audio((size_t)B * T, 2);
    cdz_window *w = malloc((size_t)B * sizeof *w);
    float *x = malloc((size_t)B * T * sizeof *x), *g = cdz_model_grads(m);
    int32_t *codes = malloc((size_t)B * F * sh.books * sizeof *codes);
    char *js = malloc(512 + nt * 128);
    cdz_session *s = NULL;
    char path[4096];
    int rc = 1;
    if (!audio || !w || !x || !g || !codes || !js) {
        fprintf(stderr, "bench_audio_codec: out of memory\n");
        goto done;
    }
    for (int b = 0; b < B; b++) w[b] = (cdz_window){.audio = audio + (size_t)b * T, .start = 0, .n = T};
    for (size_t i = 0; i < (size_t)B * T; i++) x[i] = audio[i] * (1.0f / 32768.0f);
    if (cdz_session_new(&s, m, 1, 0, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    cdz_batch batch = cdz_batch_audio(w, B);
    cdz_loss l = {0}, lt = {0};
    /* one training loss and after_step: the codebooks onto the batch's encodings */
    snprintf(path, sizeof path, "%s/init.safetensors", dir);
    if (cdz_checkpoint_save(path, m, NULL, NULL, 0, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    cdz_model_zero_grads(m);
    cdz_loss_opts ot = {CDZ_TRAIN, 0, 1, g};
    if (cdz_model_loss(s, &batch, &ot, &lt, NULL, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    cdz_model_kind_of(m)->after_step(m, cdz_session_kind_state(s), 0);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (cdz_checkpoint_save(path, m, NULL, NULL, 0, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    cdz_loss_opts oe = {CDZ_EVAL, 0, 1, NULL};
    if (cdz_model_loss(s, &batch, &oe, &l, NULL, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    /* the gradient on the saved weights (q_dropout 0: every book, the evaluation's forward pass) */
    cdz_model_zero_grads(m);
    ot.step = 1;
    if (cdz_model_loss(s, &batch, &ot, &lt, NULL, &err) != CDZ_OK) {
        fail(name, &err);
        goto done;
    }
    for (int b = 0; b < B; b++) {
        int32_t *c = NULL;
        size_t frames = 0;
        if (cdz_audio_codec_encode(m, x + (size_t)b * T, (size_t)T, sh.books, &c, &frames, &err) != CDZ_OK) {
            fail(name, &err);
            goto done;
        }
        memcpy(codes + (size_t)b * F * sh.books, c, (size_t)F * sh.books * sizeof *c);
        cdz_free(c);
    }
    int len = snprintf(js, 512, "{\"config\":\"%s\",\"loss\":%.9g,\"mel\":%.9g,\"stft\":%.9g,\"wave\":%.9g,\"commit\":%.9g,"
                                "\"train_loss\":%.9g,\"batch\":%d,\"seq\":%d,\"hop\":%d,\"books\":%d,\"params\":%zu,\"tensors\":[",
                       name, l.objective, l.terms[0].value, l.terms[1].value, l.terms[2].value, l.terms[3].value, lt.objective,
                       B, T, sh.hop, sh.books, n);
    for (size_t i = 0; i < nt; i++) {
        const cdz_tensor_info *t = cdz_model_tensor_at(m, i);
        len += snprintf(js + len, 128, "%s[\"%s\",%zu,%zu]", i ? "," : "", t->name, t->offset, t->numel);
    }
    len += snprintf(js + len, 8, "]}\n");
    /* raw arrays: little-endian hosts only, as the bench machines */
    if (write_file(dir, "input.f32", x, sizeof *x, (size_t)B * T) || write_file(dir, "grads.f32", g, sizeof *g, n) ||
        write_file(dir, "codes.i32", codes, sizeof *codes, (size_t)B * F * sh.books) ||
        write_file(dir, "check.json", js, 1, (size_t)len))
        goto done;
    printf("{\"impl\":\"cadenza\",\"config\":\"%s\",\"what\":\"check\",\"loss\":%.6f,\"mel\":%.6f,\"stft\":%.6f,\"wave\":%.6f,"
           "\"commit\":%.6f,\"params\":%zu,\"dir\":\"%s\"}\n",
           name, l.objective, l.terms[0].value, l.terms[1].value, l.terms[2].value, l.terms[3].value, n, dir);
    rc = 0;
done:
    free(audio), free(w), free(x), free(codes), free(js);
    cdz_session_free(s);
    cdz_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    const char *configs = "codec_small", *check_dir = NULL, *what = "train,encode,decode";
    int warmup = 2, steps = 5, reps = 3;
    double seconds = 10;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--configs") == 0 && i + 1 < argc) configs = argv[++i];
        else if (strcmp(argv[i], "--what") == 0 && i + 1 < argc) what = argv[++i];
        else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--check") == 0 && i + 1 < argc) check_dir = argv[++i];
        else {
            fprintf(stderr, "usage: bench_audio_codec [--configs codec_small,codec_lite,codec_tiny|all] [--what train,encode,decode] "
                            "[--warmup N] [--steps N] [--seconds S] [--reps N] [--check DIR]\n");
            return 2;
        }
    }
    if (steps < 1 || warmup < 0 || reps < 1 || !(seconds > 0.1 && seconds <= 3600)) {
        fprintf(stderr, "bench_audio_codec: --steps and --reps at least 1, --warmup at least 0, --seconds 0.1 to 3600\n");
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
            fprintf(stderr, "bench_audio_codec: --check takes one config\n");
            return 2;
        }
        failed |= check_dir ? check(NAMES[i], check_dir) : bench_one(NAMES[i], what, warmup, steps, seconds, reps);
        ran++;
    }
    if (!ran) fprintf(stderr, "bench_audio_codec: no config named in '%s' (codec_small, codec_lite, codec_tiny, all)\n", configs);
    return failed || !ran;
}

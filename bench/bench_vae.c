/* MusicVAE speed, the protocol of ../shared/bench/torch_reference.py and bench/torch_music_vae.py (run
 * them side by side, bench/run.sh vae): random windows, warm-up steps, timed steps, one JSON line per
 * measurement.
 *   train   tokens/s of a full training step (forward, backward, clip at 1.0, Adam), teacher forcing
 *           (scheduled sampling off, as the PyTorch reference), tokens = batch x window tokens
 *   sample  milliseconds for one sample of batch 1: z ~ N(0, 1), the window decoded token by token at
 *           temperature 1 (cdz_vae_decode: a session, set_latent, the steps)
 * The configs are the PyTorch script's: Magenta's cat-mel_2bar_small and cadenza's shipped shapes.
 * Usage: bench_vae [--configs a,b|all] [--warmup N] [--steps N] [--samples N] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cadenza.h"
#include "cadenza/vae.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct bench_cfg {
    const char *name, *named, *batch;
} bench_cfg;

/* Each as the music_vae named config with scheduled sampling off and the PyTorch script's batch. */
static const bench_cfg CONFIGS[] = {
    {"mel_2bar_small", "cat-mel_2bar_small", "512"},
    {"mel_2bar", "mel_2bar", "64"},
    {"mel_16bar", "mel_16bar", "32"},
    {"mel_16bar_flat", "mel_16bar_flat", "32"},
    {"drums_2bar", "drums_2bar", "64"},
};

static cdz_model *make(const bench_cfg *c, cdz_error *err) {
    const char *base = cdz_kind_named_config(cdz_model_kind_find("music_vae"), c->named);
    char json[2048];
    snprintf(json, sizeof json, "{\"sampling_rate\":0,\"batch\":%s,%s", c->batch, base + 1);
    cdz_model *m = NULL;
    if (cdz_model_from_json(&m, json, strlen(json), c->name, err) != CDZ_OK) return NULL;
    cdz_model_init_params(m, 1);
    return m;
}

/* Random valid windows: melody classes mostly no-events; drum sets sparse. */
static void random_windows(const cdz_model *m, cdz_rng *r, uint16_t *tok, int n) {
    const int L = cdz_vae_window_tokens(m), drums = strcmp(cdz_model_codec(m), "vae_drums") == 0;
    for (int i = 0; i < n * L; i++) {
        uint64_t k = cdz_rng_below(r, 6);
        tok[i] = drums ? (uint16_t)(k < 3 ? 0 : cdz_rng_below(r, 512)) : (uint16_t)(k < 3 ? 0 : k == 3 ? 1 : 30 + cdz_rng_below(r, 30));
    }
}

static int bench_one(const bench_cfg *c, int warmup, int steps, int samples) {
    cdz_error err = {0};
    cdz_model *m = make(c, &err);
    if (!m) {
        fprintf(stderr, "%s: %s\n", c->name, err.msg);
        return 1;
    }
    const int B = atoi(c->batch), L = cdz_vae_window_tokens(m), Z = cdz_vae_latent_dim(m);
    uint16_t *tok = malloc((size_t)B * L * sizeof *tok);
    cdz_window *w = malloc((size_t)B * sizeof *w);
    cdz_rng r;
    cdz_rng_seed(&r, 1);
    random_windows(m, &r, tok, B);
    for (int b = 0; b < B; b++) w[b] = (cdz_window){tok + (size_t)b * L, 0, L};
    cdz_batch batch = cdz_batch_tokens(w, B);
    cdz_session *s = NULL;
    cdz_session_new(&s, m, 1, 0, &err);
    size_t n = cdz_model_n_params(m);
    float *g = cdz_model_grads(m), *mo = calloc(n, sizeof *mo), *vo = calloc(n, sizeof *vo);
    cdz_adamw_params ap = cdz_adamw_default_params();
    ap.weight_decay = 0;
    double t0 = 0;
    cdz_loss l = {0};
    for (int it = 0; it < warmup + steps; it++) {
        if (it == warmup) t0 = now();
        cdz_model_zero_grads(m);
        cdz_loss_opts o = {CDZ_TRAIN, it, 1, g};
        if (cdz_model_loss(s, &batch, &o, &l, NULL, &err) != CDZ_OK) {
            fprintf(stderr, "%s: %s\n", c->name, err.msg);
            return 1;
        }
        cdz_clip_grad_norm(g, n, 1.0f);
        cdz_adamw_step(cdz_model_params(m), g, mo, vo, n, &ap, it + 1);
    }
    double dt = now() - t0;
    printf("{\"impl\":\"cadenza\",\"config\":\"%s\",\"what\":\"train\",\"tokens_per_s\":%.1f,\"step_ms\":%.2f,\"params\":%zu,"
           "\"loss\":%.4f}\n",
           c->name, (double)B * L * steps / dt, dt / steps * 1e3, n, l.objective);
    /* sampling: one latent at a time, as a musician asks for one */
    float *z = malloc((size_t)Z * sizeof *z);
    uint16_t *out = malloc((size_t)L * sizeof *out);
    for (int k = 0; k < warmup + samples; k++) {
        if (k == warmup) t0 = now();
        cdz_vae_random_latent(z, Z, 1.0f, (uint64_t)k);
        if (cdz_vae_decode(m, z, 1, 1.0f, (uint64_t)k, out, &err) != CDZ_OK) {
            fprintf(stderr, "%s: %s\n", c->name, err.msg);
            return 1;
        }
    }
    dt = now() - t0;
    printf("{\"impl\":\"cadenza\",\"config\":\"%s\",\"what\":\"sample\",\"ms_per_sample\":%.3f,\"tokens_per_s\":%.1f}\n", c->name,
           dt / samples * 1e3, (double)L * samples / dt);
    fflush(stdout);
    free(z), free(out), free(tok), free(w), free(mo), free(vo);
    cdz_session_free(s);
    cdz_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    const char *configs = "all";
    int warmup = 3, steps = 10, samples = 20;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--configs") == 0 && i + 1 < argc) configs = argv[++i];
        else if (strcmp(argv[i], "--warmup") == 0 && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) steps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc) samples = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_vae [--configs a,b|all] [--warmup N] [--steps N] [--samples N]\n");
            return 2;
        }
    }
    if (steps < 1 || samples < 1 || warmup < 0) {
        fprintf(stderr, "bench_vae: --steps and --samples at least 1, --warmup at least 0\n");
        return 2;
    }
    int failed = 0, ran = 0;
    for (size_t i = 0; i < sizeof CONFIGS / sizeof CONFIGS[0]; i++) {
        char want[256];
        snprintf(want, sizeof want, ",%s,", configs);
        char key[64];
        snprintf(key, sizeof key, ",%s,", CONFIGS[i].name);
        if (strcmp(configs, "all") != 0 && !strstr(want, key)) continue;
        failed |= bench_one(&CONFIGS[i], warmup, steps, samples);
        ran++;
    }
    if (!ran) fprintf(stderr, "bench_vae: no config named in '%s'\n", configs);
    return failed || !ran;
}

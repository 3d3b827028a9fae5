/* Cost per generated step against the length already generated: each shipped model generates from a
 * one-token primer, one row, plain sampling, runs of 128, 512, 1024 and 2048 new steps; the time per step of
 * each run, and its ratio to the 128-step run's (the engine's promise: a step does not grow dearer with
 * the length behind it, at most 1.2 times the short run's per step at 2048). Each length is timed over
 * enough repeats for about a second of work, after an untimed warm-up run, best of three.
 * Prints one JSON line per (model, length), then a summary line per model.
 * The window is what `cadenza generate` uses (cdz_gen_default_context) unless --window gives one.
 * Usage: bench_steps [--models DIR] [--model NAME]... [--window N] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cadenza.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seconds per step generating `steps` new tokens after a one-token primer on session s. */
static double per_step(cdz_session *s, int64_t steps, uint16_t *out, cdz_error *err) {
    uint16_t primer = 0;
    cdz_sample_params p = cdz_sample_default_params();
    int64_t made = 0;
    double best = 1e30;
    int reps = steps >= 1024 ? 1 : (int)(2048 / steps);
    for (int round = 0; round < 4; round++) { /* round 0 warms up */
        cdz_rng r;
        cdz_rng_seed(&r, 1);
        double t0 = now();
        for (int k = 0; k < reps; k++)
            if (cdz_generate_session(s, &primer, 1, steps, 1, &p, &r, out, NULL, &made, NULL, NULL, err) != CDZ_OK) return -1;
        double dt = (now() - t0) / ((double)reps * (double)steps);
        if (round > 0 && dt < best) best = dt;
    }
    return best;
}

int main(int argc, char **argv) {
    const char *dir = "models", *names[8];
    int n_names = 0;
    int64_t window = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--models") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc && n_names < 8) names[n_names++] = argv[++i];
        else if (!strcmp(argv[i], "--window") && i + 1 < argc) window = atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_steps [--models DIR] [--model NAME]... [--window N]\n");
            return 2;
        }
    }
    if (!n_names) names[n_names++] = "attention_rnn", names[n_names++] = "performance";
    static const int64_t LENS[4] = {128, 512, 1024, 2048};
    uint16_t *out = malloc(4096 * sizeof *out);
    for (int k = 0; k < n_names; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.safetensors", dir, names[k]);
        cdz_model *m = NULL;
        cdz_session *s = NULL;
        cdz_error err = {0};
        if (cdz_checkpoint_load(path, &m, &err) != CDZ_OK ||
            cdz_session_new(&s, m, 1, window ? window : cdz_gen_default_context(m), &err) != CDZ_OK) {
            fprintf(stderr, "bench_steps: %s\n", err.msg);
            cdz_model_free(m);
            return 1;
        }
        double t[4];
        for (int l = 0; l < 4; l++) {
            t[l] = per_step(s, LENS[l], out, &err);
            if (t[l] < 0) {
                fprintf(stderr, "bench_steps: %s: %s\n", names[k], err.msg);
                return 1;
            }
            printf("{\"model\":\"%s\",\"config\":\"%s\",\"window\":%lld,\"steps\":%lld,\"us_per_step\":%.2f,"
                   "\"ratio_to_128\":%.3f}\n",
                   names[k], cdz_model_config_name(m), (long long)cdz_session_window(s), (long long)LENS[l], t[l] * 1e6,
                   t[l] / t[0]);
        }
        printf("%s (%s, window %lld): %.1f us/step at 128 steps, %.1f at 512, %.1f at 1024, %.1f at 2048: ratio %.2f "
               "at 2048\n",
               names[k], cdz_model_config_name(m), (long long)cdz_session_window(s), t[0] * 1e6, t[1] * 1e6, t[2] * 1e6,
               t[3] * 1e6, t[3] / t[0]);
        cdz_session_free(s);
        cdz_model_free(m);
    }
    free(out);
    return 0;
}

/* cadenza bench: training and batch-1 generation speed on random tokens, the work that
 * ../shared/bench/torch_reference.py measures for PyTorch (same shapes, same step: forward, backward,
 * clipping at 1.0, AdamW; generation samples from the full softmax with carried state), printed one
 * line per measurement, or with --json one object per line with that script's keys. */
#include <math.h>
#include <string.h>

#include "app.h"

static const char BENCH_ABOUT[] =
    "Training and generation tokens/s on random tokens, the same work as ../shared/bench/torch_reference.py.\n"
    "\n"
    "configs (../shared/docs/BENCHMARKS.md): melody_rnn (2 x 128 LSTM over 38 tokens, batch 128 x 128;\n"
    "the same model as the PyTorch reference), lstm_big (3 x 512 over 388 tokens, batch 64 x 512), and\n"
    "cadenza's own attention_rnn (melody_rnn's shape plus Magenta's attention wrapper and key features),\n"
    "mt_small and mt_base (relative attention, 388 tokens), gpt_base (absolute attention, 1024 tokens).";

typedef struct bench_config {
    const char *name, *model_json;
} bench_config;

static const bench_config CONFIGS[] = {
    {"melody_rnn", "{\"kind\":\"melody_rnn\",\"config_name\":\"melody_rnn\",\"codec\":\"melody\",\"input\":\"embedding\","
                   "\"input_size\":128,\"layers\":2,\"hidden\":128,\"dropout_keep\":1,\"batch\":128,\"seq\":128}"},
    {"lstm_big", "{\"kind\":\"melody_rnn\",\"config_name\":\"lstm_big\",\"codec\":\"performance\",\"input\":\"embedding\","
                 "\"input_size\":512,\"layers\":3,\"hidden\":512,\"dropout_keep\":1,\"batch\":64,\"seq\":512}"},
    {"attention_rnn", "{\"kind\":\"melody_rnn\",\"config_name\":\"attention_rnn\",\"codec\":\"key_melody2\","
                      "\"input\":\"key_melody\",\"layers\":2,\"hidden\":128,\"attn_length\":40,\"dropout_keep\":0.5,"
                      "\"batch\":128,\"seq\":128}"},
    /* the transformers as the reference builds them: no dropout, relative or absolute attention */
    {"mt_small", "{\"kind\":\"music_transformer\",\"config_name\":\"mt_small\",\"codec\":\"performance\","
                 "\"attention\":\"relative\",\"layers\":4,\"d_model\":256,\"heads\":8,\"d_ff\":1024,\"max_len\":1024,"
                 "\"activation\":\"gelu\",\"dropout\":0,\"batch\":8,\"seq\":1024}"},
    {"mt_base", "{\"kind\":\"music_transformer\",\"config_name\":\"mt_base\",\"codec\":\"performance\","
                "\"attention\":\"relative\",\"layers\":6,\"d_model\":512,\"heads\":8,\"d_ff\":2048,\"max_len\":2048,"
                "\"activation\":\"gelu\",\"dropout\":0,\"batch\":8,\"seq\":2048}"},
    {"gpt_base", "{\"kind\":\"music_transformer\",\"config_name\":\"gpt_base\",\"codec\":\"none\",\"vocab\":1024,"
                 "\"attention\":\"absolute\",\"layers\":6,\"d_model\":512,\"heads\":8,\"d_ff\":2048,\"max_len\":2048,"
                 "\"activation\":\"gelu\",\"dropout\":0,\"batch\":8,\"seq\":2048}"},
};

typedef struct bench_result {
    double tokens_per_s, step_ms;
    long long tokens;
} bench_result;

static cdz_status bench_train(cdz_model *m, int steps, bench_result *r, cdz_error *err) {
    cdz_train_defaults td = cdz_model_train_defaults(m);
    int B = td.batch, T = td.seq;
    size_t n_params = cdz_model_n_params(m);
    uint16_t *x = cdz_calloc((size_t)B * (size_t)(T + 1), sizeof *x);
    cdz_window *w = cdz_calloc((size_t)B, sizeof *w);
    float *mom = cdz_calloc(2 * n_params, sizeof *mom), *params = cdz_model_params(m), *grads = cdz_model_grads(m);
    cdz_session *s = NULL;
    if (!x || !w || !mom || !grads || cdz_session_new(&s, m, 1, 0, err) != CDZ_OK) {
        cdz_free(x), cdz_free(w), cdz_free(mom);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    }
    cdz_rng rng;
    cdz_rng_seed(&rng, 0);
    for (size_t i = 0; i < (size_t)B * (size_t)(T + 1); i++) x[i] = (uint16_t)cdz_rng_below(&rng, cdz_model_vocab(m));
    for (int b = 0; b < B; b++) w[b] = (cdz_window){x + (size_t)b * (size_t)(T + 1), 0, T + 1};
    cdz_adamw_params p = {1e-4f, 0.9f, 0.999f, 1e-8f, 0.01f}; /* torch.optim.AdamW(lr=1e-4) */
    cdz_status st = CDZ_OK;
    double t0 = 0;
    cdz_batch batch = cdz_batch_tokens(w, B);
    for (int k = 0; k < steps + 3 && st == CDZ_OK; k++) { /* 3 warm-up steps, as the reference */
        if (k == 3) t0 = app_now();
        cdz_model_zero_grads(m);
        cdz_loss_opts opts = {CDZ_TRAIN, k, 0, grads}; /* dropout keyed by seed 0 and the step */
        st = cdz_model_loss(s, &batch, &opts, NULL, NULL, err);
        cdz_clip_grad_norm(grads, n_params, 1.0f);
        cdz_adamw_step(params, grads, mom, mom + n_params, n_params, &p, k + 1);
    }
    double dt = (app_now() - t0) / steps;
    r->tokens_per_s = (double)B * T / dt, r->step_ms = dt * 1e3, r->tokens = (long long)B * T * steps;
    cdz_free(x), cdz_free(w), cdz_free(mom);
    cdz_session_free(s);
    return st;
}

static cdz_status bench_gen(const cdz_model *m, int n, bench_result *r, cdz_error *err) {
    int seq = cdz_model_train_defaults(m).seq;
    if (n > seq) n = seq; /* as the reference: min(gen tokens, seq) */
    uint16_t primer = 0, *out = cdz_calloc((size_t)n + 9, sizeof *out);
    if (!out) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    cdz_sample_params p = cdz_sample_default_params();
    cdz_rng rng;
    cdz_rng_seed(&rng, 0);
    cdz_status st = cdz_generate(m, &primer, 1, 8, 1, &p, &rng, out, NULL, NULL, NULL, err); /* warm-up */
    double t0 = app_now();
    if (st == CDZ_OK) st = cdz_generate(m, &primer, 1, n, 1, &p, &rng, out, NULL, NULL, NULL, err);
    double dt = app_now() - t0;
    r->tokens_per_s = n / dt, r->step_ms = dt / n * 1e3, r->tokens = n;
    cdz_free(out);
    return st;
}

int cmd_bench(int argc, char **argv) {
    const char *configs = "melody_rnn", *what = "train,gen", *device = "cpu";
    long long steps = 10, gen_tokens = 512;
    int json = 0;
    app_opt opts[] = {
        APP_OPT_STRING("--config", &configs, "NAME[,NAME...]", "the configs to measure, or all (default melody_rnn)"),
        APP_OPT_STRING("--configs", &configs, "LIST", NULL), /* an alias */
        APP_OPT_STRING("--what", &what, "train,gen", "what to measure (default both)"),
        APP_OPT_STRING("--device", &device, "cpu", "the backend (this build: cpu)"),
        APP_OPT_LONG("--steps", &steps, 1, 100000, "N", "timed training steps after 3 warm-up steps (default 10)"),
        APP_OPT_LONG("--gen-tokens", &gen_tokens, 1, 1 << 20, "N", "tokens to generate (default 512)"),
        APP_OPT_SWITCH("--json", &json, "one JSON object per measurement, with the reference script's keys"),
        APP_END};
    const app_cmd cmd = {"bench", "[--config NAME[,NAME...]] [--what train,gen] [--json] [options]", BENCH_ABOUT, opts,
                         NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (strcmp(device, "cpu") != 0) {
        app_error("--device %s: this build has only the CPU backend (the CUDA backend is not written yet)", device);
        return EXIT_FAIL;
    }
    char list[256];
    snprintf(list, sizeof list, "%s", strcmp(configs, "all") == 0 ? "melody_rnn,lstm_big,attention_rnn,mt_small,mt_base,gpt_base" : configs);
    const char *names[sizeof CONFIGS / sizeof *CONFIGS];
    for (size_t i = 0; i < sizeof CONFIGS / sizeof *CONFIGS; i++) names[i] = CONFIGS[i].name;
    char check[256];
    snprintf(check, sizeof check, "%s", list);
    for (char *save = NULL, *name = strtok_r(check, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        int known = 0;
        for (size_t i = 0; i < sizeof CONFIGS / sizeof *CONFIGS; i++) known |= strcmp(CONFIGS[i].name, name) == 0;
        const char *near = known ? NULL : app_closest(name, names, sizeof names / sizeof *names);
        if (!known)
            return app_usage(&cmd, "unknown bench config '%s'%s%s%s (known: melody_rnn, lstm_big, attention_rnn, "
                             "mt_small, mt_base, gpt_base, or all)", name, near ? "; did you mean '" : "", near ? near : "",
                             near ? "'?" : "");
    }
    snprintf(check, sizeof check, "%s", what);
    for (char *save = NULL, *w = strtok_r(check, ",", &save); w; w = strtok_r(NULL, ",", &save))
        if (strcmp(w, "train") != 0 && strcmp(w, "gen") != 0)
            return app_usage(&cmd, "bad value '%s' for --what: train, gen or both (train,gen)", what);
    rc = EXIT_OK;
    if (!json) printf("%-14s %-6s %12s %10s %10s\n", "config", "what", "tokens/s", "ms/step", "params");
    for (char *save = NULL, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        const bench_config *c = NULL;
        for (size_t i = 0; i < sizeof CONFIGS / sizeof *CONFIGS; i++)
            if (strcmp(CONFIGS[i].name, name) == 0) c = &CONFIGS[i];
        if (!c) continue; /* checked above */
        cdz_error err = {0};
        cdz_model *m = NULL;
        if (cdz_model_from_json(&m, c->model_json, strlen(c->model_json), name, &err) != CDZ_OK) {
            app_error("%s", err.msg);
            return EXIT_FAIL;
        }
        cdz_model_init_params(m, 0);
        char wl[64];
        snprintf(wl, sizeof wl, "%s", what);
        for (char *s2 = NULL, *w = strtok_r(wl, ",", &s2); w; w = strtok_r(NULL, ",", &s2)) {
            bench_result r = {0};
            cdz_status st;
            if (strcmp(w, "train") == 0) st = bench_train(m, (int)steps, &r, &err);
            else if (strcmp(w, "gen") == 0) st = bench_gen(m, (int)gen_tokens, &r, &err);
            else st = cdz_error_set(&err, CDZ_ERR_ARG, "--what takes train and gen, not '%s'", w);
            if (st != CDZ_OK) {
                app_error("%s", err.msg);
                rc = EXIT_FAIL;
                continue;
            }
            if (json)
                printf("{\"config\":\"%s\",\"what\":\"%s\",\"tokens_per_s\":%.1f,\"step_ms\":%.3f,\"params\":%zu,"
                       "\"tokens\":%lld,\"device\":\"cpu\",\"impl\":\"cadenza\",\"matmul\":\"%s\"}\n",
                       name, w, r.tokens_per_s, r.step_ms, cdz_model_n_params(m), r.tokens, cdz_nn_backend());
            else
                printf("%-14s %-6s %12.0f %10.3f %10zu\n", name, w, r.tokens_per_s, r.step_ms, cdz_model_n_params(m));
            fflush(stdout);
        }
        cdz_model_free(m);
    }
    return rc;
}

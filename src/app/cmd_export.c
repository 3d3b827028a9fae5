/* cadenza export: a checkpoint without its training state (AdamW moments, step, random state), the
 * file to ship or to share: a third of the size, loadable by generate, accompany and eval, not by
 * train --resume. */
#include <string.h>

#include "app.h"

int cmd_export(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    int force = 0;
    cdz_sample_params sp = cdz_sample_default_params();
    app_opt opts[] = {APP_ARG("CHECKPOINT", &in, "a checkpoint written by 'cadenza train'"),
                      APP_OPT_STRING("--out", &out, "FILE", "the file to write (required)"),
                      APP_OPT_FLOAT("--temperature", &sp.temperature, 0, 100, "X",
                                    "the temperature generate and accompany use for this model unless told otherwise"),
                      APP_OPT_INT("--top-k", &sp.top_k, 0, 1 << 20, "N", "the same for top-k"),
                      APP_OPT_FLOAT("--top-p", &sp.top_p, 0.001f, 1, "X", "the same for top-p"), APP_OPT_FORCE(&force),
                      APP_END};
    const app_cmd cmd = {"export", "CHECKPOINT --out FILE.safetensors [--temperature X] [--top-k N] [--top-p X] [--force]",
                         "Writes the model's config and weights only (no optimiser state), keeping the checkpoint's\n"
                         "dataset, command and eval_loss notes. The result generates like the checkpoint; it cannot be\n"
                         "resumed. --temperature, --top-k and --top-p record the sampling the model is meant to be\n"
                         "used with (its card should say why); generate and accompany use it when not given their own.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!in || !out) return app_usage(&cmd, "a CHECKPOINT and --out FILE are required");
    if (strcmp(in, out) == 0) return app_usage(&cmd, "--out must differ from the checkpoint it reads");
    if (!app_output_ok(out, force)) return EXIT_FAIL;
    cdz_error err = {0};
    cdz_model *m = NULL;
    if (cdz_checkpoint_load(in, &m, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    static const char *const keys[] = {"dataset", "command", "eval_loss", "sampling"};
    char *vals[4] = {NULL, NULL, NULL, NULL};
    const char *extra[8];
    size_t n = 0;
    /* new sampling flags replace the checkpoint's recommendation; without them it is kept */
    const int flags = app_opt_seen(opts, "--temperature") || app_opt_seen(opts, "--top-k") || app_opt_seen(opts, "--top-p");
    for (int k = 0; k < 4; k++) {
        vals[k] = k == 3 && flags ? cdz_gen_sampling_json(&sp) : cdz_checkpoint_meta(in, keys[k], &err);
        if (vals[k]) extra[2 * n] = keys[k], extra[2 * n + 1] = vals[k], n++;
    }
    cdz_status st = cdz_checkpoint_save(out, m, NULL, extra, n, &err);
    if (st == CDZ_OK && vals[3]) fprintf(stderr, "recommended sampling: %s\n", vals[3]);
    for (int k = 0; k < 4; k++) cdz_free(vals[k]);
    size_t params = cdz_model_n_params(m);
    cdz_model_free(m);
    if (st != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    fprintf(stderr, "%s: %zu parameters (weights only) from %s\n", out, params, in);
    return EXIT_OK;
}

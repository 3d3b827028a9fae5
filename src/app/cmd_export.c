/* cadenza export: a checkpoint without its training state (AdamW moments, step, random state), the
 * file to ship or to share: a third of the size, loadable by generate, accompany and eval, not by
 * train --resume. */
#include <string.h>

#include "app.h"

static const char EXPORT_USAGE[] =
    "usage: cadenza export CHECKPOINT --out FILE.safetensors\n"
    "\n"
    "Writes the model's config and weights only (no optimiser state), keeping the checkpoint's dataset,\n"
    "command and eval_loss notes. The result generates like the checkpoint; it cannot be resumed.\n";

int cmd_export(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (app_is_help(argv[i])) {
            fputs(EXPORT_USAGE, stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) out = argv[++i];
        else if (argv[i][0] != '-' && !in) in = argv[i];
        else return app_usage_error(EXPORT_USAGE, "unexpected argument '%s'", argv[i]);
    }
    if (!in || !out) return app_usage_error(EXPORT_USAGE, "a CHECKPOINT and --out FILE are required");
    if (strcmp(in, out) == 0) return app_usage_error(EXPORT_USAGE, "--out must differ from the checkpoint it reads");
    cdz_error err = {0};
    cdz_model *m = NULL;
    if (cdz_checkpoint_load(in, &m, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    static const char *const keys[] = {"dataset", "command", "eval_loss"};
    char *vals[3] = {NULL, NULL, NULL};
    const char *extra[6];
    size_t n = 0;
    for (int k = 0; k < 3; k++) {
        vals[k] = cdz_checkpoint_meta(in, keys[k], &err);
        if (vals[k]) extra[2 * n] = keys[k], extra[2 * n + 1] = vals[k], n++;
    }
    cdz_status st = cdz_checkpoint_save(out, m, NULL, extra, n, &err);
    for (int k = 0; k < 3; k++) cdz_free(vals[k]);
    size_t params = cdz_model_n_params(m);
    cdz_model_free(m);
    if (st != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    fprintf(stderr, "%s: %zu parameters (weights only) from %s\n", out, params, in);
    return EXIT_OK;
}

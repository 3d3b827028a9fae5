/* cadenza eval loss|ngram: mean loss (nats per token), perplexity and accuracy of a trained model, or
 * of a unigram or bigram baseline, on a split of a dataset. */
#include <math.h>
#include <string.h>

#include "app.h"

static const char EVAL_USAGE[] =
    "usage: cadenza eval <command> [options]\n"
    "\n"
    "commands:\n"
    "  loss --checkpoint FILE --data FILE.cdz [--split eval|train|test|all] [--json]\n"
    "       [--batch N] [--max-len N] [--max-tokens N]\n"
    "      the model's mean loss over every sequence of the split (default eval), each read from its start\n"
    "      in windows of --max-len tokens (default 1024)\n"
    "  ngram --data FILE.cdz --order 1|2 [--smoothing K] [--split ...] [--json]\n"
    "      a unigram or bigram baseline fitted on the train split (add-K smoothing, default 0.1)\n";

static int parse_split(const char *s, cdz_split *out) {
    if (strcmp(s, "train") == 0) *out = CDZ_SPLIT_TRAIN;
    else if (strcmp(s, "eval") == 0 || strcmp(s, "valid") == 0) *out = CDZ_SPLIT_EVAL;
    else if (strcmp(s, "test") == 0) *out = CDZ_SPLIT_TEST;
    else if (strcmp(s, "all") == 0) *out = CDZ_SPLIT_ALL;
    else return 0;
    return 1;
}

static void print_result(const char *what, const char *data, cdz_split split, const cdz_loss_stats *st, double seconds,
                         int json) {
    double loss = st->loss_sum / (double)st->tokens, acc = (double)st->correct / (double)st->tokens;
    const char *sname = split == CDZ_SPLIT_ALL ? "all" : cdz_split_name(split);
    if (json) {
        printf("{\"model\":");
        json_string(stdout, what);
        printf(",\"data\":");
        json_string(stdout, data);
        printf(",\"split\":\"%s\",\"loss\":%.6f,\"perplexity\":%.6f,\"accuracy\":%.6f,\"tokens\":%lld,\"seconds\":%.3f}\n",
               sname, loss, exp(loss), acc, (long long)st->tokens, seconds);
    } else {
        printf("%s on %s (%s split): loss %.4f nats/token, perplexity %.3f, accuracy %.2f%%, %lld tokens, %.1f s\n", what,
               data, sname, loss, exp(loss), 100 * acc, (long long)st->tokens, seconds);
    }
}

static int eval_loss(int argc, char **argv) {
    const char *ckpt = NULL, *data = NULL;
    cdz_split split = CDZ_SPLIT_EVAL;
    long long batch = 32, max_len = 1024, max_tokens = 0;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (app_is_help(a)) {
            fputs(EVAL_USAGE, stdout);
            return EXIT_OK;
        }
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (!v) return app_usage_error(EVAL_USAGE, "unexpected argument '%s'", a);
        i++;
        if (strcmp(a, "--checkpoint") == 0) ckpt = v;
        else if (strcmp(a, "--data") == 0) data = v;
        else if (strcmp(a, "--split") == 0 && parse_split(v, &split)) continue;
        else if (strcmp(a, "--batch") == 0 && app_parse_long(v, 1, 4096, &batch)) continue;
        else if (strcmp(a, "--max-len") == 0 && app_parse_long(v, 1, 1 << 20, &max_len)) continue;
        else if (strcmp(a, "--max-tokens") == 0 && app_parse_long(v, 0, (long long)1 << 50, &max_tokens)) continue;
        else return app_usage_error(EVAL_USAGE, "bad argument '%s %s'", a, v);
    }
    if (!ckpt || !data) return app_usage_error(EVAL_USAGE, "eval loss needs --checkpoint FILE and --data FILE.cdz");
    cdz_error err = {0};
    cdz_model m;
    cdz_dataset ds;
    if (cdz_checkpoint_load(ckpt, &m, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (cdz_dataset_open(&ds, data, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        cdz_model_free(&m);
        return EXIT_FAIL;
    }
    cdz_loss_stats st;
    double t0 = app_now();
    int rc = EXIT_OK;
    if (cdz_evaluate(&m, &ds, split, (int)batch, (int)max_len, max_tokens, &st, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        rc = EXIT_FAIL;
    } else {
        print_result(ckpt, data, split, &st, app_now() - t0, json);
    }
    cdz_dataset_close(&ds);
    cdz_model_free(&m);
    return rc;
}

static int eval_ngram(int argc, char **argv) {
    const char *data = NULL;
    cdz_split split = CDZ_SPLIT_EVAL;
    long long order = 0;
    double k = 0.1;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (app_is_help(a)) {
            fputs(EVAL_USAGE, stdout);
            return EXIT_OK;
        }
        if (strcmp(a, "--json") == 0) {
            json = 1;
            continue;
        }
        if (!v) return app_usage_error(EVAL_USAGE, "unexpected argument '%s'", a);
        i++;
        if (strcmp(a, "--data") == 0) data = v;
        else if (strcmp(a, "--split") == 0 && parse_split(v, &split)) continue;
        else if (strcmp(a, "--order") == 0 && app_parse_long(v, 1, 2, &order)) continue;
        else if (strcmp(a, "--smoothing") == 0 && app_parse_double(v, 1e-9, 1e6, &k)) continue;
        else return app_usage_error(EVAL_USAGE, "bad argument '%s %s'", a, v);
    }
    if (!data || !order) return app_usage_error(EVAL_USAGE, "eval ngram needs --data FILE.cdz and --order 1 or 2");
    cdz_error err = {0};
    cdz_dataset ds;
    if (cdz_dataset_open(&ds, data, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    cdz_loss_stats st;
    double t0 = app_now();
    int rc = EXIT_OK;
    if (cdz_ngram_eval(&ds, (int)order, k, split, &st, &err) != CDZ_OK) {
        app_error("%s: %s", data, err.msg);
        rc = EXIT_FAIL;
    } else {
        print_result(order == 1 ? "unigram" : "bigram", data, split, &st, app_now() - t0, json);
    }
    cdz_dataset_close(&ds);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    if (argc < 1) return app_usage_error(EVAL_USAGE, "which evaluation?");
    if (app_is_help(argv[0])) {
        fputs(EVAL_USAGE, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[0], "loss") == 0) return eval_loss(argc - 1, argv + 1);
    if (strcmp(argv[0], "ngram") == 0) return eval_ngram(argc - 1, argv + 1);
    return app_usage_error(EVAL_USAGE, "unknown evaluation '%s'", argv[0]);
}

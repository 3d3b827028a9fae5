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
    "      a unigram or bigram baseline fitted on the train split (add-K smoothing, default 0.1)\n"
    "  melodies --generated DIR --reference DIR [--key NOTE] [--skip-steps N] [--json]\n"
    "      generated melodies against a corpus: share of notes in the key (--key C, G, Bb, ...: the primer's\n"
    "      major key for generated files; the reference uses each melody's own), note-length and interval\n"
    "      histograms and their overlap; --skip-steps leaves out each generated file's primer\n";

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

static int parse_key(const char *s) {
    static const char *const names[12] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
    static const char *const alt[12] = {"", "Db", "", "D#", "", "", "Gb", "", "G#", "", "A#", ""};
    for (int k = 0; k < 12; k++)
        if (strcmp(s, names[k]) == 0 || strcmp(s, alt[k]) == 0) return k;
    return strcmp(s, "auto") == 0 ? -1 : -2;
}

/* Adds every melody of every MIDI file under `root` (the first `skip` steps of each left out). */
static int collect(const char *root, int generated, size_t skip, int key, cdz_melody_stats *st, size_t *files) {
    char **paths = NULL;
    size_t n = 0;
    cdz_error err = {0};
    if (cdz_file_list(root, ".mid,.midi", &paths, &n, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return 0;
    }
    cdz_melody_params p = cdz_melody_default_params();
    if (generated) /* a generated file is one melody, however short: take it whole */
        p.min_bars = 0, p.min_unique_pitches = 1, p.keep_highest = 1, p.gap_bars = 1e6, p.max_steps = 0;
    for (size_t i = 0; i < n; i++) {
        cdz_score s;
        cdz_melody *mel = NULL;
        size_t k = 0;
        cdz_extract_stats es = {0};
        if (cdz_score_read_file(&s, paths[i], &err) != CDZ_OK) {
            fprintf(stderr, "skipped: %s\n", err.msg);
            continue;
        }
        if (cdz_extract_melodies(&s, &p, &mel, &k, &es, &err) == CDZ_OK) {
            for (size_t j = 0; j < k; j++) cdz_melody_stats_add(st, mel[j].events, mel[j].n_steps, generated ? skip : 0, key);
            cdz_melodies_free(mel, k);
            (*files)++;
        }
        cdz_score_free(&s);
    }
    cdz_file_list_free(paths, n);
    return 1;
}

static void print_hist(const char *name, const int64_t *h, size_t n, int64_t total, int first, int json) {
    if (json) {
        printf(",\"%s\":[", name);
        for (size_t i = 0; i < n; i++) printf("%s%.5f", i ? "," : "", total ? (double)h[i] / (double)total : 0.0);
        printf("]");
        return;
    }
    printf("  %-10s", name);
    for (size_t i = 0; i < n; i++) printf(" %3d:%4.1f", first + (int)i, total ? 100.0 * (double)h[i] / (double)total : 0.0);
    printf("\n");
}

static int eval_melodies(int argc, char **argv) {
    const char *gen = NULL, *ref = NULL;
    int key = -1, json = 0;
    long long skip = 0;
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
        if (strcmp(a, "--generated") == 0) gen = v;
        else if (strcmp(a, "--reference") == 0) ref = v;
        else if (strcmp(a, "--key") == 0 && (key = parse_key(v)) >= -1) continue;
        else if (strcmp(a, "--skip-steps") == 0 && app_parse_long(v, 0, 1 << 20, &skip)) continue;
        else return app_usage_error(EVAL_USAGE, "bad argument '%s %s'", a, v);
    }
    if (!gen || !ref) return app_usage_error(EVAL_USAGE, "eval melodies needs --generated DIR and --reference DIR");
    cdz_melody_stats g, r;
    memset(&g, 0, sizeof g);
    memset(&r, 0, sizeof r);
    size_t gf = 0, rf = 0;
    if (!collect(gen, 1, (size_t)skip, key, &g, &gf) || !collect(ref, 0, 0, -1, &r, &rf)) return EXIT_FAIL;
    if (!g.notes || !r.notes) {
        app_error("%s: no notes found", !g.notes ? gen : ref);
        return EXIT_FAIL;
    }
    double lo = cdz_histogram_overlap(g.length, r.length, CDZ_STATS_MAX_LENGTH + 1);
    double io = cdz_histogram_overlap(g.interval, r.interval, 2 * CDZ_STATS_MAX_INTERVAL + 1);
    const cdz_melody_stats *sets[2] = {&g, &r};
    const char *names[2] = {"generated", "reference"};
    size_t files[2] = {gf, rf};
    for (int i = 0; i < 2; i++) {
        const cdz_melody_stats *s = sets[i];
        if (json) {
            printf("{\"set\":\"%s\",\"files\":%zu,\"melodies\":%lld,\"notes\":%lld,\"in_key\":%.5f", names[i], files[i],
                   (long long)s->melodies, (long long)s->notes, (double)s->in_key / (double)s->notes);
        } else {
            printf("%s: %zu files, %lld melodies, %lld notes, %.1f%% in key (%s)\n", names[i], files[i],
                   (long long)s->melodies, (long long)s->notes, 100.0 * (double)s->in_key / (double)s->notes,
                   i == 0 && key >= 0 ? "the given key" : "each melody's own major key");
        }
        print_hist("length", s->length, CDZ_STATS_MAX_LENGTH + 1, s->notes, 1, json);
        print_hist("interval", s->interval, 2 * CDZ_STATS_MAX_INTERVAL + 1, s->intervals, -CDZ_STATS_MAX_INTERVAL, json);
        if (json) printf("}\n");
    }
    if (json) printf("{\"length_overlap\":%.5f,\"interval_overlap\":%.5f}\n", lo, io);
    else printf("overlap with the reference: note lengths %.3f, intervals %.3f (1 = the same distribution)\n", lo, io);
    return EXIT_OK;
}

int cmd_eval(int argc, char **argv) {
    if (argc < 1) return app_usage_error(EVAL_USAGE, "which evaluation?");
    if (app_is_help(argv[0])) {
        fputs(EVAL_USAGE, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[0], "loss") == 0) return eval_loss(argc - 1, argv + 1);
    if (strcmp(argv[0], "ngram") == 0) return eval_ngram(argc - 1, argv + 1);
    if (strcmp(argv[0], "melodies") == 0) return eval_melodies(argc - 1, argv + 1);
    return app_usage_error(EVAL_USAGE, "unknown evaluation '%s'", argv[0]);
}

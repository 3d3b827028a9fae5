/* cadenza eval loss|ngram: mean loss (nats per token), perplexity and accuracy of a trained model, or
 * of a unigram or bigram baseline, on a split of a dataset; eval melodies|music: generated files against
 * a corpus. */
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "app.h"

static const char EVAL_OVERVIEW[] =
    "Mean loss (nats per token), perplexity and accuracy of a trained model or of an n-gram baseline on a\n"
    "split of a dataset; generated files against a corpus (docs/metrics.md).\n";

static int parse_split(const char *s, void *dest, char *why, size_t n) {
    cdz_split *out = dest;
    if (strcmp(s, "train") == 0) *out = CDZ_SPLIT_TRAIN;
    else if (strcmp(s, "eval") == 0 || strcmp(s, "valid") == 0) *out = CDZ_SPLIT_EVAL;
    else if (strcmp(s, "test") == 0) *out = CDZ_SPLIT_TEST;
    else if (strcmp(s, "all") == 0) *out = CDZ_SPLIT_ALL;
    else {
        snprintf(why, n, "eval, train, test or all");
        return 0;
    }
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
    app_opt opts[] = {
        APP_OPT_STRING("--checkpoint", &ckpt, "FILE", "the model (required)"),
        APP_OPT_STRING("--data", &data, "FILE.cdz", "the dataset (required)"),
        APP_OPT_CUSTOM("--split", parse_split, &split, "SPLIT", "eval (default), train, test or all"),
        APP_OPT_LONG("--batch", &batch, 1, 4096, "N", "sequences per batch (default 32)"),
        APP_OPT_LONG("--max-len", &max_len, 1, 1 << 20, "N", "window length in tokens (default 1024)"),
        APP_OPT_LONG("--max-tokens", &max_tokens, 0, (long long)1 << 50, "N",
                     "stop after the batch that reaches N tokens (default 0: all)"),
        APP_OPT_JSON(&json),
        APP_END};
    const app_cmd cmd = {"eval loss", "--checkpoint FILE --data FILE.cdz [--split eval|train|test|all] [--json]",
                         "The model's mean loss over every sequence of the split, each read from its start in windows\n"
                         "of --max-len tokens.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!ckpt || !data) return app_usage(&cmd, "eval loss needs --checkpoint FILE and --data FILE.cdz");
    cdz_error err = {0};
    cdz_model *m = NULL;
    cdz_dataset ds;
    if (cdz_checkpoint_load(ckpt, &m, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (cdz_dataset_open(&ds, data, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        cdz_model_free(m);
        return EXIT_FAIL;
    }
    cdz_loss_stats st;
    double t0 = app_now();
    rc = EXIT_OK;
    if (cdz_evaluate(m, &ds, split, (int)batch, (int)max_len, max_tokens, &st, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        rc = EXIT_FAIL;
    } else {
        print_result(ckpt, data, split, &st, app_now() - t0, json);
    }
    cdz_dataset_close(&ds);
    cdz_model_free(m);
    return rc;
}

static int eval_ngram(int argc, char **argv) {
    const char *data = NULL;
    cdz_split split = CDZ_SPLIT_EVAL;
    long long order = 0;
    double k = 0.1;
    int json = 0;
    app_opt opts[] = {
        APP_OPT_STRING("--data", &data, "FILE.cdz", "the dataset (required)"),
        APP_OPT_LONG("--order", &order, 1, 2, "1|2", "unigram or bigram (required)"),
        APP_OPT_DOUBLE("--smoothing", &k, 1e-9, 1e6, "K", "add-K smoothing (default 0.1)"),
        APP_OPT_CUSTOM("--split", parse_split, &split, "SPLIT", "eval (default), train, test or all"),
        APP_OPT_JSON(&json),
        APP_END};
    const app_cmd cmd = {"eval ngram", "--data FILE.cdz --order 1|2 [--smoothing K] [--split ...] [--json]",
                         "A unigram or bigram baseline fitted on the train split.", opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!data || !order) return app_usage(&cmd, "eval ngram needs --data FILE.cdz and --order 1 or 2");
    cdz_error err = {0};
    cdz_dataset ds;
    if (cdz_dataset_open(&ds, data, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    cdz_loss_stats st;
    double t0 = app_now();
    rc = EXIT_OK;
    if (cdz_ngram_eval(&ds, (int)order, k, split, &st, &err) != CDZ_OK) {
        app_error("%s: %s", data, err.msg);
        rc = EXIT_FAIL;
    } else {
        print_result(order == 1 ? "unigram" : "bigram", data, split, &st, app_now() - t0, json);
    }
    cdz_dataset_close(&ds);
    return rc;
}

static int key_number(const char *s) {
    static const char *const names[12] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
    static const char *const alt[12] = {"", "Db", "", "D#", "", "", "Gb", "", "G#", "", "A#", ""};
    for (int k = 0; k < 12; k++)
        if (strcmp(s, names[k]) == 0 || strcmp(s, alt[k]) == 0) return k;
    return strcmp(s, "auto") == 0 ? -1 : -2;
}

static int parse_key(const char *value, void *dest, char *why, size_t n) {
    int k = key_number(value);
    if (k < -1) {
        snprintf(why, n, "a major key's tonic (C, C#, Db, D, ... B) or auto");
        return 0;
    }
    *(int *)dest = k;
    return 1;
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
    app_opt opts[] = {
        APP_OPT_STRING("--generated", &gen, "DIR", "the generated melodies (required)"),
        APP_OPT_STRING("--reference", &ref, "DIR", "the corpus (required)"),
        APP_OPT_CUSTOM("--key", parse_key, &key, "NOTE", "the generated files' major key (C, G, Bb, ...; default auto: each\n"
                                                         "melody's own); the reference uses each melody's own"),
        APP_OPT_LONG("--skip-steps", &skip, 0, 1 << 20, "N", "leave out each generated file's first N steps (its primer)"),
        APP_OPT_JSON(&json),
        APP_END};
    const app_cmd cmd = {"eval melodies", "--generated DIR --reference DIR [--key NOTE] [--skip-steps N] [--json]",
                         "Generated melodies against a corpus: share of notes in the key, note-length and interval\n"
                         "histograms and their overlap.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!gen || !ref) return app_usage(&cmd, "eval melodies needs --generated DIR and --reference DIR");
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

/* ---- eval music: cadenza/metrics.h over two folders ---- */

/* Features of the MIDI files under `root` (at most max_files of them, evenly spaced over the sorted
 * list; 0 = all). Unreadable files and files without notes are skipped with a line each. */
static int music_collect(const char *root, long long max_files, cdz_music_features **out, size_t *n_out,
                         size_t *skipped) {
    char **paths = NULL;
    size_t n = 0;
    cdz_error err = {0};
    *out = NULL;
    *n_out = *skipped = 0;
    if (cdz_file_list(root, ".mid,.midi", &paths, &n, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return 0;
    }
    size_t take = max_files > 0 && (size_t)max_files < n ? (size_t)max_files : n;
    cdz_music_features *f = take ? cdz_calloc(take, sizeof *f) : NULL;
    if (take && !f) {
        app_error("%s: out of memory for %zu files", root, take);
        cdz_file_list_free(paths, n);
        return 0;
    }
    for (size_t i = 0; i < take; i++) {
        const char *path = paths[take == n ? i : (size_t)((double)i * (double)n / (double)take)];
        size_t notes = 0;
        if (cdz_metrics_read_file(path, &f[*n_out], &notes, &err) != CDZ_OK) {
            fprintf(stderr, "skipped: %s\n", err.msg);
            (*skipped)++;
        } else if (notes == 0) {
            fprintf(stderr, "skipped: %s: no notes\n", path);
            (*skipped)++;
        } else {
            (*n_out)++;
        }
    }
    cdz_file_list_free(paths, n);
    *out = f;
    return 1;
}

static const char *const PITCH_NAMES[12] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
static const char *const LENGTH_NAMES[12] = {"1",  "1/2",  "1/4",  "1/8",   "1/16",  "3/4",
                                             "3/8", "3/16", "3/32", "1/2t", "1/4t", "1/8t"};

static void json_values(const double *v, size_t n) {
    if (n > 1) putchar('[');
    for (size_t i = 0; i < n; i++) {
        if (i) putchar(',');
        json_number(stdout, v[i]);
    }
    if (n > 1) putchar(']');
}

static void music_json_set(const char *key, const char *dir, const cdz_metrics_comparison *c, int s, size_t skipped) {
    printf("\"%s\":{\"dir\":", key);
    json_string(stdout, dir);
    printf(",\"files\":%zu,\"skipped\":%zu", c->n_files[s], skipped);
    const char *what[2] = {"mean", "std"};
    const cdz_music_features *rec[2] = {&c->mean[s], &c->std[s]};
    for (int w = 0; w < 2; w++) {
        printf(",\"%s\":{", what[w]);
        for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) {
            const cdz_metrics_feature_info *fi = cdz_metrics_describe(f);
            printf("%s\"%s\":", f ? "," : "", fi->name);
            json_values(cdz_metrics_values(rec[w], f), fi->dim);
        }
        putchar('}');
    }
    putchar('}');
}

static void music_print_json(const char *gen, const char *ref, const cdz_metrics_comparison *c, const size_t *skipped) {
    putchar('{');
    music_json_set("generated", gen, c, CDZ_METRICS_GENERATED, skipped[0]);
    putchar(',');
    music_json_set("reference", ref, c, CDZ_METRICS_REFERENCE, skipped[1]);
    printf(",\"features\":[");
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) {
        const cdz_metrics_feature_info *fi = cdz_metrics_describe(f);
        const cdz_metrics_row *r = &c->rows[f];
        const double v[] = {r->intra_mean[0], r->intra_std[0], r->intra_mean[1], r->intra_std[1], r->inter_mean,
                            r->inter_std,     r->kl,           r->oa,            r->kl_ref,        r->oa_ref};
        const char *k[] = {"intra_generated", "intra_generated_std", "intra_reference", "intra_reference_std",
                           "inter",           "inter_std",           "kl",              "oa",
                           "kl_reference",    "oa_reference"};
        printf("%s{\"name\":\"%s\",\"abbrev\":\"%s\",\"unit\":\"%s\",\"dim\":%zu", f ? "," : "", fi->name, fi->abbrev,
               fi->unit, fi->dim);
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
            printf(",\"%s\":", k[i]);
            json_number(stdout, v[i]);
        }
        putchar('}');
    }
    printf("],\"mean_kl\":");
    json_number(stdout, c->mean_kl);
    printf(",\"mean_oa\":");
    json_number(stdout, c->mean_oa);
    printf("}\n");
}

static void music_print_histogram(const char *label, const double *m, const char *const *names) {
    printf("  %-25s", label);
    for (int k = 0; k < 12; k++) printf(" %s %.3f", names[k], m[k]);
    printf("\n");
}

static void music_print_text(const char *gen, const char *ref, const cdz_metrics_comparison *c, const size_t *skipped) {
    const char *dirs[2] = {gen, ref}, *names[2] = {"generated", "reference"};
    for (int s = 0; s < 2; s++)
        printf("%s: %zu files under %s (%zu skipped)\n", names[s], c->n_files[s], dirs[s], skipped[s]);
    printf("\nfeature (mean +- sd over files)        generated               reference\n");
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) {
        const cdz_metrics_feature_info *fi = cdz_metrics_describe(f);
        if (fi->dim != 1) continue;
        char label[64];
        snprintf(label, sizeof label, "%s%s%s%s, %s", fi->name, fi->abbrev[0] ? " (" : "", fi->abbrev,
                 fi->abbrev[0] ? ")" : "", fi->unit);
        printf("  %-36s", label);
        for (int s = 0; s < 2; s++)
            printf(" %10.3f +- %-9.3f", *cdz_metrics_values(&c->mean[s], f), *cdz_metrics_values(&c->std[s], f));
        printf("\n");
    }
    printf("pitch-class histogram (PCH), mean share:\n");
    for (int s = 0; s < 2; s++) music_print_histogram(names[s], c->mean[s].pitch_class_histogram, PITCH_NAMES);
    printf("note-length histogram (NLH, whole note = 1, t = triplet), mean share:\n");
    for (int s = 0; s < 2; s++) music_print_histogram(names[s], c->mean[s].note_length_histogram, LENGTH_NAMES);
    printf("(the transition matrices PCTM and NLTM are in --json)\n");

    printf("\ncomparison: mean Euclidean distance between files' features within each set and between the\n"
           "sets; KL (nats) and overlapping area OA of the generated set's intra-set distance density with\n"
           "the inter-set density (Yang & Lerch 2019; OA near 1 and KL near 0: the generated files lie as\n"
           "close to the reference as to each other)\n");
    printf("  %-26s %10s %10s %10s %8s %7s\n", "feature", "intra gen", "intra ref", "inter", "KL", "OA");
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) {
        const cdz_metrics_row *r = &c->rows[f];
        printf("  %-26s %10.4f %10.4f %10.4f %8.4f %7.4f\n", cdz_metrics_describe(f)->name, r->intra_mean[0],
               r->intra_mean[1], r->inter_mean, r->kl, r->oa);
    }
    printf("  %-26s %10s %10s %10s %8.4f %7.4f\n", "mean over features", "", "", "", c->mean_kl, c->mean_oa);
}

/* The picture of feature f in dir. */
static void plot_path(const char *dir, int f, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s.%s", dir, cdz_metrics_describe(f)->name, cdz_png_available() ? "png" : "svg");
}

/* Whether --plot DIR may be written: none of its pictures there yet, or --force. */
static int plots_ok(const char *dir, int force) {
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) {
        char path[4096];
        plot_path(dir, f, path, sizeof path);
        if (!app_output_ok(path, force)) return 0;
    }
    return 1;
}

/* --plot DIR: per feature, the densities of the intra-set distances of each set and of the inter-set
 * distances (Yang & Lerch's figures), one PNG each (SVG where cadenza has no libpng). */
static int music_plot(const char *dir, const cdz_metrics_comparison *c) {
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        app_error("%s: cannot create the folder: %s", dir, strerror(errno));
        return 0;
    }
    static const char *const names[3] = {"generated (intra-set)", "reference (intra-set)", "inter-set"};
    const char *ext = cdz_png_available() ? "png" : "svg";
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) {
        const cdz_metrics_feature_info *info = cdz_metrics_describe(f);
        const cdz_metrics_curve *cv = &c->curves[f];
        if (!info || cv->n == 0) continue;
        char path[4096], title[160], xlabel[96];
        plot_path(dir, f, path, sizeof path);
        snprintf(title, sizeof title, "%s%s%s: KL %.3f, overlap %.3f", info->name, info->abbrev[0] ? " / " : "",
                 info->abbrev, c->rows[f].kl, c->rows[f].oa);
        snprintf(xlabel, sizeof xlabel, "distance between files (%s)", info->unit);
        const double *ys[3] = {cv->intra[0], cv->intra[1], cv->inter};
        cdz_error err = {0};
        if (cdz_plot_curves(path, title, xlabel, cv->x, cv->n, ys, names, 3, &err) != CDZ_OK) {
            app_error("%s", err.msg);
            return 0;
        }
    }
    fprintf(stderr, "wrote %d %s pictures to %s/\n", CDZ_METRICS_N_FEATURES, ext, dir);
    return 1;
}

static int eval_music(int argc, char **argv) {
    const char *gen = NULL, *ref = NULL, *plot_dir = NULL;
    long long max_files = 0;
    int json = 0, force = 0;
    app_opt opts[] = {
        APP_OPT_STRING("--generated", &gen, "DIR", "the generated files (required)"),
        APP_OPT_STRING("--reference", &ref, "DIR", "the corpus (required)"),
        APP_OPT_LONG("--max-files", &max_files, 2, 1 << 24, "N", "take N files of each set, evenly spaced over the sorted list"),
        APP_OPT_STRING("--plot", &plot_dir, "DIR", "write one picture per feature with the densities of the distances"),
        APP_OPT_SWITCH("--force", &force, "replace pictures already in the --plot folder"),
        APP_OPT_JSON(&json),
        APP_END};
    const app_cmd cmd = {"eval music", "--generated DIR --reference DIR [--max-files N] [--json] [--plot DIR]",
                         "Objective metrics of every .mid/.midi under each folder (pitch, rhythm and texture features)\n"
                         "and the sets compared as in Yang & Lerch 2019: intra- and inter-set distances per feature, KL\n"
                         "divergence and overlapping area of their densities (docs/metrics.md).",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!gen || !ref) return app_usage(&cmd, "eval music needs --generated DIR and --reference DIR");
    if (plot_dir && !plots_ok(plot_dir, force)) return EXIT_FAIL;
    cdz_music_features *f[2] = {NULL, NULL};
    size_t n[2] = {0, 0}, skipped[2] = {0, 0};
    const char *dirs[2] = {gen, ref};
    rc = EXIT_FAIL;
    for (int s = 0; s < 2; s++) {
        if (!music_collect(dirs[s], max_files, &f[s], &n[s], &skipped[s])) goto done;
        if (n[s] < 2) {
            app_error("%s: %zu readable MIDI file%s with notes (%zu skipped); comparing needs at least 2", dirs[s], n[s],
                      n[s] == 1 ? "" : "s", skipped[s]);
            goto done;
        }
    }
    cdz_metrics_comparison c;
    cdz_error err = {0};
    if (cdz_metrics_compare(f[0], n[0], f[1], n[1], NULL, &c, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        goto done;
    }
    if (json) music_print_json(gen, ref, &c, skipped);
    else music_print_text(gen, ref, &c, skipped);
    rc = plot_dir && !music_plot(plot_dir, &c) ? EXIT_FAIL : EXIT_OK;
    cdz_metrics_comparison_free(&c);
done:
    cdz_free(f[0]);
    cdz_free(f[1]);
    return rc;
}

int cmd_eval(int argc, char **argv) {
    static const app_sub subs[] = {
        {"loss", eval_loss, "--checkpoint FILE --data FILE.cdz: a model's mean loss, perplexity and accuracy"},
        {"ngram", eval_ngram, "--data FILE.cdz --order 1|2: a unigram or bigram baseline"},
        {"melodies", eval_melodies, "--generated DIR --reference DIR: in-key share, note-length and interval\n"
                                    "histograms against a corpus"},
        {"music", eval_music, "--generated DIR --reference DIR: the objective features of Yang & Lerch 2019 and\n"
                              "MusPy per set, and the sets compared"},
    };
    return app_dispatch("eval", EVAL_OVERVIEW, subs, 4, NULL, argc, argv);
}

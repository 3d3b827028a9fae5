/* cadenza eval loss|ngram: mean loss (nats per token), perplexity and accuracy of a trained model, or
 * of a unigram or bigram baseline, on a split of a dataset; eval melodies|music: generated files against
 * a corpus; eval stability|style: a long piece's stability, and a style classifier. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app.h"
#include "cadenza/ensemble.h"
#include "cadenza/listen.h"
#include "cadenza/piece_eval.h"

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

/* rate: an audio model's sample rate (its loss is an objective per sample: no perplexity, no accuracy), else 0 */
static void print_result(const char *what, const char *data, cdz_split split, const cdz_loss_stats *st, double seconds,
                         int json, unsigned rate) {
    double loss = st->loss_sum / (double)st->tokens, acc = (double)st->correct / (double)st->tokens;
    const char *sname = split == CDZ_SPLIT_ALL ? "all" : cdz_split_name(split);
    if (rate && json) {
        printf("{\"model\":");
        json_string(stdout, what);
        printf(",\"data\":");
        json_string(stdout, data);
        printf(",\"split\":\"%s\",\"loss\":%.6f,\"samples\":%lld,\"audio_seconds\":%.3f,\"seconds\":%.3f}\n", sname, loss,
               (long long)st->tokens, (double)st->tokens / rate, seconds);
    } else if (rate) {
        printf("%s on %s (%s split): loss %.4f (the model's objective per sample) over %.1f s of audio, %.1f s\n", what, data,
               sname, loss, (double)st->tokens / rate, seconds);
    } else if (json) {
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
    long long batch = 32, max_len = 0, max_tokens = 0;
    int json = 0;
    app_opt opts[] = {
        APP_OPT_STRING("--checkpoint", &ckpt, "FILE", "the model (required)"),
        APP_OPT_STRING("--data", &data, "FILE.cdz", "the dataset (required)"),
        APP_OPT_CUSTOM("--split", parse_split, &split, "SPLIT", "eval (default), train, test or all"),
        APP_OPT_LONG("--batch", &batch, 1, 4096, "N", "sequences per batch (default 32)"),
        APP_OPT_LONG("--max-len", &max_len, 1, 1 << 20, "N",
                     "window length in tokens (default 1024; an accompaniment model's whole pairs)"),
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
    if (max_len == 0) max_len = app_eval_window(m);
    if (cdz_evaluate(m, &ds, split, (int)batch, (int)max_len, max_tokens, &st, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        rc = EXIT_FAIL;
    } else {
        print_result(ckpt, data, split, &st, app_now() - t0, json, cdz_model_audio_rate(m));
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
        print_result(order == 1 ? "unigram" : "bigram", data, split, &st, app_now() - t0, json, 0);
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

/* ---- eval music: cadenza/metrics.h and cadenza/listen.h over two folders ---- */

/* One folder's files: every MIDI file under it (sorted), the ones taken (--max-files), and for each
 * usable one its features (the reference's also with its random baseline). */
typedef struct music_set {
    const char *dir, *name; /* "generated", "reference" */
    char **paths;
    size_t n_paths;
    size_t *take, n_take;         /* indices into paths */
    cdz_music_features *f;        /* (n_take) for the first n usable files */
    cdz_listen_features *l, *rnd; /* rnd: the reference's random baseline */
    size_t n, skipped;
    size_t no_melody, no_acc;     /* usable files without melody notes, without accompaniment notes */
    const char *no_melody_eg, *no_acc_eg;
} music_set;

static void music_set_free(music_set *m) {
    if (m->paths) cdz_file_list_free(m->paths, m->n_paths);
    cdz_free(m->take);
    cdz_free(m->f);
    cdz_free(m->l);
    cdz_free(m->rnd);
}

/* Lists the folder and picks the files to read (max_files of them evenly spaced over the sorted list;
 * 0 = all): 1, or 0 having said why. */
static int music_list(music_set *m, long long max_files) {
    cdz_error err = {0};
    if (cdz_file_list(m->dir, ".mid,.midi", &m->paths, &m->n_paths, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return 0;
    }
    size_t n = m->n_paths, take = max_files > 0 && (size_t)max_files < n ? (size_t)max_files : n;
    m->take = cdz_calloc(take + 1, sizeof *m->take);
    m->f = cdz_calloc(take + 1, sizeof *m->f);
    m->l = cdz_calloc(take + 1, sizeof *m->l);
    m->rnd = cdz_calloc(take + 1, sizeof *m->rnd);
    if (!m->take || !m->f || !m->l || !m->rnd) {
        app_error("%s: out of memory for %zu files", m->dir, take);
        return 0;
    }
    for (size_t i = 0; i < take; i++) m->take[i] = take == n ? i : (size_t)((double)i * (double)n / (double)take);
    m->n_take = take;
    return 1;
}

/* "dir/sub/001.mid" -> "001" */
static void path_stem(const char *path, char *buf, size_t n) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(buf, n, "%s", base);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf) *dot = 0;
}

/* The reference file a generated one is paired with: the same name without extension, or the longest
 * reference name the generated one starts with followed by a character other than a letter or digit
 * ("001_seed2.mid" -> "001.mid"). -1 if none. */
static ptrdiff_t music_pair(const char *gen_path, const music_set *ref) {
    char g[512], r[512];
    path_stem(gen_path, g, sizeof g);
    ptrdiff_t best = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < ref->n_paths; i++) {
        path_stem(ref->paths[i], r, sizeof r);
        size_t k = strlen(r);
        if (k == 0 || strncmp(g, r, k) != 0) continue;
        if (!g[k]) return (ptrdiff_t)i; /* the same name */
        if (isalnum((unsigned char)g[k]) || k <= best_len) continue; /* "0010" is not "001" */
        best = (ptrdiff_t)i, best_len = k;
    }
    return best;
}

/* A file's own seed for its random baseline: the same file gets the same random notes whatever else
 * is in the folder. */
static uint64_t music_seed(long long seed, const char *path) {
    char stem[512];
    path_stem(path, stem, sizeof stem);
    uint64_t h = cdz_fnv1a64(CDZ_FNV_OFFSET, &seed, sizeof seed);
    return cdz_fnv1a64(h, stem, strlen(stem));
}

/* The self-similarity picture of the k-th file of a set (k from 0) in dir. */
static void ssm_path(const char *dir, const char *set, size_t k, const char *path, char *buf, size_t n) {
    char stem[256];
    path_stem(path, stem, sizeof stem);
    for (char *c = stem; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.') *c = '_';
    snprintf(buf, n, "%s/ssm_%s_%zu_%s.%s", dir, set, k + 1, stem, cdz_png_available() ? "png" : "svg");
}

static int write_ssm(const char *file, const char *label, const cdz_score *s, const cdz_listen_params *lp,
                     const cdz_listen_features *l) {
    double *m = NULL;
    size_t n = 0;
    int64_t first = 0;
    cdz_error err = {0};
    if (cdz_listen_self_similarity(s, lp, 1024, &m, &n, &first, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return 0;
    }
    int ok = 1;
    if (n > 0) {
        char title[1024];
        snprintf(title, sizeof title, "%s: %.0f bars, %.0f%% equal to an earlier bar, longest repeat %.0f bars%s", label,
                 l->bars, 100 * l->bar_repeat, l->longest_repeat, n < (size_t)l->bars ? " (the first 1024 bars)" : "");
        if (cdz_listen_plot_self_similarity(file, m, n, first, title, &err) != CDZ_OK) {
            app_error("%s", err.msg);
            ok = 0;
        }
    }
    cdz_free(m);
    return ok;
}

/* Reads the taken files of a set: per usable file the features of cadenza/metrics.h and cadenza/listen.h
 * (for the reference also its random baseline), and for generated files paired by name with a
 * reference file, the paired measures, with those of the original against itself and of a random
 * accompaniment against the original in orig[] and rnd_pair[]. Unreadable files and files without
 * notes are skipped with a line each. 0 when out of memory or a picture could not be written. */
static int music_collect(music_set *m, const music_set *ref, const cdz_listen_params *lp, long long seed,
                         const char *plot_dir, size_t plot_pieces, cdz_listen_features *orig,
                         cdz_listen_features *rnd_pair, size_t *n_pairs, size_t *n_named) {
    int is_ref = ref == NULL;
    for (size_t i = 0; i < m->n_take; i++) {
        const char *path = m->paths[m->take[i]];
        cdz_score s;
        cdz_error err = {0};
        if (cdz_score_read_file(&s, path, &err) != CDZ_OK) {
            fprintf(stderr, "skipped: %s\n", err.msg);
            m->skipped++;
            continue;
        }
        cdz_music_features *f = &m->f[m->n];
        cdz_listen_features *l = &m->l[m->n];
        cdz_status st = CDZ_OK;
        if (s.n_notes == 0) {
            fprintf(stderr, "skipped: %s: no notes\n", path);
            m->skipped++;
            cdz_score_free(&s);
            continue;
        }
        if ((st = cdz_metrics_compute(&s, f, &err)) == CDZ_OK) st = cdz_listen_compute(&s, lp, l, &err);
        if (st == CDZ_OK && is_ref) st = cdz_listen_baseline(&s, lp, music_seed(seed, path), 0, &m->rnd[m->n], &err);
        if (st == CDZ_ERR_NOMEM) {
            app_error("%s: %s", path, err.msg);
            cdz_score_free(&s);
            return 0;
        }
        if (st != CDZ_OK) {
            fprintf(stderr, "skipped: %s: %s\n", path, err.msg);
            m->skipped++;
            cdz_score_free(&s);
            continue;
        }
        if (!l->two_part) {
            if (l->melody_notes == 0 && m->no_melody++ == 0) m->no_melody_eg = path;
            if (l->accompaniment_notes == 0 && m->no_acc++ == 0) m->no_acc_eg = path;
        }
        if (plot_dir && i < plot_pieces) { /* the k-th file taken, as the names checked before */
            char file[4096], stem[256], label[300];
            ssm_path(plot_dir, m->name, i, path, file, sizeof file);
            path_stem(path, stem, sizeof stem);
            snprintf(label, sizeof label, "%s (%s)", stem, m->name);
            if (!write_ssm(file, label, &s, lp, l)) {
                cdz_score_free(&s);
                return 0;
            }
        }
        ptrdiff_t pr = is_ref ? -1 : music_pair(path, ref);
        if (pr >= 0) {
            const char *rpath = ref->paths[pr];
            (*n_named)++;
            cdz_score o, noise;
            if (cdz_score_read_file(&o, rpath, &err) != CDZ_OK) {
                fprintf(stderr, "not paired: %s: %s\n", path, err.msg);
            } else {
                cdz_listen_features *a = &orig[*n_pairs], *b = &rnd_pair[*n_pairs];
                memset(a, 0, sizeof *a);
                memset(b, 0, sizeof *b);
                st = cdz_listen_compare(&s, &o, lp, l, &err);
                if (st == CDZ_OK) st = cdz_listen_compare(&o, &o, lp, a, &err);
                if (st == CDZ_OK)
                    st = cdz_listen_randomize(&noise, &o, CDZ_LISTEN_RANDOM_ACCOMPANIMENT, lp, music_seed(seed, rpath) + 1,
                                              &err);
                if (st == CDZ_OK) {
                    st = cdz_listen_compare(&noise, &o, lp, b, &err);
                    cdz_score_free(&noise);
                }
                cdz_score_free(&o);
                if (st != CDZ_OK) {
                    app_error("%s against %s: %s", path, rpath, err.msg);
                    cdz_score_free(&s);
                    return 0;
                }
                if (l->paired && a->paired) (*n_pairs)++;
                else l->paired = 0;
            }
        }
        m->n++;
        cdz_score_free(&s);
    }
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
    /* the object stays open: the listening measures follow */
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

/* ---- the listening measures: text and JSON ---- */
enum { L_GEN = 0, L_REF = 1, L_RND = 2 };

static void listen_cell(const cdz_listen_stat *st) {
    if (st->n == 0) printf("  %-19s", "-");
    else printf("  %8.3f +- %-7.3f", st->mean, st->sd);
}

static void listen_curve_row(const char *label, const double *v) {
    printf("    %-18s", label);
    for (int k = 0; k < CDZ_LISTEN_N_LAGS; k++) {
        if (isnan(v[k])) printf(" %5s", "-");
        else printf(" %5.2f", v[k]);
    }
    printf("\n");
}

static void listen_curve_head(void) {
    printf("    %-18s", "shift (s)");
    for (int k = 0; k < CDZ_LISTEN_N_LAGS; k++) printf(" %5.1f", CDZ_LISTEN_LAG_S(k));
    printf("\n");
}

static void listen_rows(const cdz_listen_summary *sum, int scope, const char *group) {
    printf("  %s\n", group);
    for (int m = 0; m < CDZ_LISTEN_N_MEASURES; m++) {
        const cdz_listen_measure_info *mi = cdz_listen_describe(m);
        if ((int)mi->scope != scope || strcmp(mi->group, group) != 0) continue;
        printf("    %-21s %-7s", mi->name, mi->unit);
        for (int c = 0; c < 3; c++) listen_cell(&sum[c].stat[m]);
        printf("  %s\n", mi->about);
    }
}

static void listen_print_text(const cdz_listen_summary *sum, const cdz_listen_summary *pair, const cdz_listen_params *lp,
                              long long seed) {
    static const char *const cols[3] = {"generated", "reference", "random"};
    printf("\nlistening measures (docs/metrics.md: repetition, pulse, note endings, two-part harmony), mean +- sd\n"
           "over files. random: for each reference file, its notes at random onsets with random pitches in its\n"
           "range (two-part rows: its melody with a random accompaniment in its key), seed %lld\n",
           seed);
    printf("    %-21s %-7s  %-19s  %-19s  %-19s\n", "measure", "unit", cols[0], cols[1], cols[2]);
    printf("  (files: %zu, %zu, %zu)\n", sum[0].files, sum[1].files, sum[2].files);
    listen_rows(sum, CDZ_LISTEN_ALL, "repetition");
    listen_rows(sum, CDZ_LISTEN_ALL, "pulse");
    listen_rows(sum, CDZ_LISTEN_ALL, "note endings");
    printf("  (long notes: over %g s)\n", lp->long_note_s);
    if (sum[0].two_part_files + sum[1].two_part_files == 0) {
        printf("  two-part: no file has notes on both the melody tracks (%s) and the accompaniment tracks (%s)\n",
               lp->melody_tracks, lp->accompaniment_tracks);
        return;
    }
    printf("  (two-part files, melody tracks %s, accompaniment tracks %s: %zu, %zu, %zu)\n", lp->melody_tracks,
           lp->accompaniment_tracks, sum[0].two_part_files, sum[1].two_part_files, sum[2].two_part_files);
    listen_rows(sum, CDZ_LISTEN_TWO_PART, "two-part");
    printf("  chord fit against the melody's chords (bar by bar) with the accompaniment moved, mean over files:\n");
    listen_curve_head();
    for (int c = 0; c < 3; c++)
        if (sum[c].two_part_files) listen_curve_row(cols[c], sum[c].chord_lag);
    if (!pair || pair[0].paired_files == 0) return;
    static const char *const pcols[3] = {"generated", "original (itself)", "random accompaniment"};
    printf("\nagainst the original piece: %zu generated files paired by name with a reference file; chords from\n"
           "the original's accompaniment, beat by beat\n",
           pair[0].paired_files);
    printf("    %-21s %-7s  %-19s  %-19s  %-19s\n", "measure", "unit", pcols[0], pcols[1], pcols[2]);
    listen_rows(pair, CDZ_LISTEN_PAIRED, "paired");
    printf("  chord fit against the original's chords with the accompaniment moved, mean over files:\n");
    listen_curve_head();
    static const char *const short_cols[3] = {"generated", "original", "random"};
    for (int c = 0; c < 3; c++) listen_curve_row(short_cols[c], pair[c].ref_chord_lag);
}

static void json_stat(const char *key, const cdz_listen_stat *st) {
    printf("\"%s\":{\"mean\":", key);
    json_number(stdout, st->n ? st->mean : NAN);
    printf(",\"sd\":");
    json_number(stdout, st->n ? st->sd : NAN);
    printf(",\"n\":%zu}", st->n);
}

static void json_curve(const char *key, const double *v) {
    printf("\"%s\":", key);
    json_values(v, CDZ_LISTEN_N_LAGS);
}

static void listen_print_json(const cdz_listen_summary *sum, const cdz_listen_summary *pair, const cdz_listen_params *lp,
                              long long seed, const size_t *no_melody, const size_t *no_acc) {
    static const char *const cols[3] = {"generated", "reference", "random"};
    static const char *const pcols[3] = {"generated", "original", "random"};
    printf(",\"listen\":{\"params\":{\"melody_tracks\":");
    json_string(stdout, lp->melody_tracks);
    printf(",\"accompaniment_tracks\":");
    json_string(stdout, lp->accompaniment_tracks);
    printf(",\"long_note_s\":");
    json_number(stdout, lp->long_note_s);
    printf(",\"count_empty_bars\":%s,\"min_bar_sixteenths\":%d,\"grid_window_s\":", lp->count_empty_bars ? "true" : "false",
           lp->min_bar_sixteenths);
    json_number(stdout, lp->grid_window_s);
    printf(",\"seed\":%lld}", seed);
    printf(",\"files\":{\"generated\":%zu,\"reference\":%zu,\"random\":%zu}", sum[0].files, sum[1].files, sum[2].files);
    printf(",\"two_part_files\":{\"generated\":%zu,\"reference\":%zu,\"random\":%zu}", sum[0].two_part_files,
           sum[1].two_part_files, sum[2].two_part_files);
    printf(",\"without_melody\":{\"generated\":%zu,\"reference\":%zu}", no_melody[0], no_melody[1]);
    printf(",\"without_accompaniment\":{\"generated\":%zu,\"reference\":%zu}", no_acc[0], no_acc[1]);
    printf(",\"measures\":[");
    int first = 1;
    for (int m = 0; m < CDZ_LISTEN_N_MEASURES; m++) {
        const cdz_listen_measure_info *mi = cdz_listen_describe(m);
        if (mi->scope == CDZ_LISTEN_PAIRED) continue;
        printf("%s{\"name\":\"%s\",\"group\":\"%s\",\"unit\":\"%s\"", first ? "" : ",", mi->name, mi->group, mi->unit);
        for (int c = 0; c < 3; c++) {
            putchar(',');
            json_stat(cols[c], &sum[c].stat[m]);
        }
        putchar('}');
        first = 0;
    }
    printf("],\"lags_s\":[");
    for (int k = 0; k < CDZ_LISTEN_N_LAGS; k++) printf("%s%.1f", k ? "," : "", CDZ_LISTEN_LAG_S(k));
    printf("],\"chord_lag\":{");
    for (int c = 0; c < 3; c++) {
        if (c) putchar(',');
        json_curve(cols[c], sum[c].chord_lag);
    }
    printf("},\"paired\":{\"files\":%zu,\"measures\":[", pair[0].paired_files);
    first = 1;
    for (int m = 0; m < CDZ_LISTEN_N_MEASURES; m++) {
        const cdz_listen_measure_info *mi = cdz_listen_describe(m);
        if (mi->scope != CDZ_LISTEN_PAIRED) continue;
        printf("%s{\"name\":\"%s\",\"unit\":\"%s\"", first ? "" : ",", mi->name, mi->unit);
        for (int c = 0; c < 3; c++) {
            putchar(',');
            json_stat(pcols[c], &pair[c].stat[m]);
        }
        putchar('}');
        first = 0;
    }
    printf("],\"ref_chord_lag\":{");
    for (int c = 0; c < 3; c++) {
        if (c) putchar(',');
        json_curve(pcols[c], pair[c].ref_chord_lag);
    }
    printf("}}}");
}

/* --melody-track, --accompaniment-track: names or numbers, comma-separated */
static int parse_tracks(const char *s, void *dest, char *why, size_t n) {
    if (!s[0] || strspn(s, ", \t") == strlen(s)) {
        snprintf(why, n, "track names or numbers, comma-separated (MELODY or 1 or PIANO,Accompaniment)");
        return 0;
    }
    *(const char **)dest = s;
    return 1;
}

static int eval_music(int argc, char **argv) {
    const char *gen = NULL, *ref = NULL, *plot_dir = NULL;
    long long max_files = 0, seed = 1, plot_pieces = 4;
    int json = 0, force = 0;
    cdz_listen_params lp = cdz_listen_default_params();
    app_opt opts[] = {
        APP_OPT_STRING("--generated", &gen, "DIR", "the generated files (required)"),
        APP_OPT_STRING("--reference", &ref, "DIR", "the corpus (required)"),
        APP_OPT_LONG("--max-files", &max_files, 2, 1 << 24, "N", "take N files of each set, evenly spaced over the sorted list"),
        APP_OPT_CUSTOM("--melody-track", parse_tracks, &lp.melody_tracks, "NAME|N",
                       "the melody's tracks: names (case ignored) or numbers from 0, comma-separated\n"
                       "(default MELODY)"),
        APP_OPT_CUSTOM("--accompaniment-track", parse_tracks, &lp.accompaniment_tracks, "NAME|N",
                       "the accompaniment's tracks (default PIANO,Accompaniment: POP909's and what\n"
                       "cadenza accompany writes)"),
        APP_OPT_DOUBLE("--long-note", &lp.long_note_s, 0.01, 1e6, "S", "notes longer than S seconds are long (default 4)"),
        APP_OPT_SWITCH("--count-empty-bars", &lp.count_empty_bars, "count bars without onsets in the repetition measures"),
        APP_OPT_LONG("--seed", &seed, 0, LLONG_MAX, "N", "seed of the random baseline (default 1)"),
        APP_OPT_STRING("--plot", &plot_dir, "DIR", "write one picture per feature with the densities of the distances,\n"
                                                   "and bar self-similarity matrices of the first files of each set"),
        APP_OPT_LONG("--plot-pieces", &plot_pieces, 0, 1 << 20, "N", "self-similarity pictures of the first N files of each\n"
                                                                  "set (default 4)"),
        APP_OPT_SWITCH("--force", &force, "replace pictures already in the --plot folder"),
        APP_OPT_JSON(&json),
        APP_END};
    const app_cmd cmd = {"eval music", "--generated DIR --reference DIR [--max-files N] [--json] [--plot DIR]",
                         "Objective metrics of every .mid/.midi under each folder (pitch, rhythm and texture features)\n"
                         "and the sets compared as in Yang & Lerch 2019: intra- and inter-set distances per feature, KL\n"
                         "divergence and overlapping area of their densities; then what a listener hears first:\n"
                         "repetition, pulse, note endings and, for a melody with an accompaniment, harmony, beside the\n"
                         "reference and a random baseline; generated files named like a reference file are compared\n"
                         "with it (docs/metrics.md).",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!gen || !ref) return app_usage(&cmd, "eval music needs --generated DIR and --reference DIR");
    music_set set[2];
    memset(set, 0, sizeof set);
    set[0].dir = gen, set[0].name = "generated";
    set[1].dir = ref, set[1].name = "reference";
    cdz_listen_features *orig = NULL, *rnd_pair = NULL;
    size_t n_pairs = 0, n_named = 0;
    rc = EXIT_FAIL;
    for (int s = 0; s < 2; s++)
        if (!music_list(&set[s], max_files)) goto done;
    if (plot_dir) {
        if (!plots_ok(plot_dir, force)) goto done;
        if (mkdir(plot_dir, 0777) != 0 && errno != EEXIST) {
            app_error("%s: cannot create the folder: %s", plot_dir, strerror(errno));
            goto done;
        }
        for (int s = 0; s < 2; s++) {
            for (size_t k = 0; k < set[s].n_take && k < (size_t)plot_pieces; k++) {
                char file[4096];
                ssm_path(plot_dir, set[s].name, k, set[s].paths[set[s].take[k]], file, sizeof file);
                if (!app_output_ok(file, force)) goto done;
            }
        }
    }
    orig = cdz_calloc(set[0].n_take + 1, sizeof *orig);
    rnd_pair = cdz_calloc(set[0].n_take + 1, sizeof *rnd_pair);
    if (!orig || !rnd_pair) {
        app_error("out of memory for %zu files", set[0].n_take);
        goto done;
    }
    if (!music_collect(&set[1], NULL, &lp, seed, plot_dir, (size_t)plot_pieces, NULL, NULL, NULL, NULL) ||
        !music_collect(&set[0], &set[1], &lp, seed, plot_dir, (size_t)plot_pieces, orig, rnd_pair, &n_pairs, &n_named))
        goto done;
    for (int s = 0; s < 2; s++) {
        if (set[s].n < 2) {
            app_error("%s: %zu readable MIDI file%s with notes (%zu skipped); comparing needs at least 2", set[s].dir,
                      set[s].n, set[s].n == 1 ? "" : "s", set[s].skipped);
            goto done;
        }
    }
    /* what the two-part and paired measures leave out, said on stderr whatever the output */
    for (int s = 0; s < 2; s++) {
        const music_set *m = &set[s];
        if (m->no_melody)
            fprintf(stderr, "two-part measures: %zu of %zu %s files have no notes on the melody tracks (%s), e.g. %s: "
                            "skipped for them (--melody-track chooses the tracks)\n",
                    m->no_melody, m->n, m->name, lp.melody_tracks, m->no_melody_eg);
        if (m->no_acc)
            fprintf(stderr, "two-part measures: %zu of %zu %s files have no notes on the accompaniment tracks (%s), "
                            "e.g. %s: skipped for them (--accompaniment-track chooses the tracks)\n",
                    m->no_acc, m->n, m->name, lp.accompaniment_tracks, m->no_acc_eg);
    }
    if (n_named == 0)
        fprintf(stderr, "paired measures: none of the %zu generated files has the name of a reference file: skipped\n",
                set[0].n);
    else if (n_pairs < set[0].n)
        fprintf(stderr, "paired measures: %zu of %zu generated files have the name of a reference file, %zu of them with "
                        "accompaniment notes in both: %s\n",
                n_named, set[0].n, n_pairs, n_pairs ? "the others are left out of them" : "skipped");
    cdz_metrics_comparison c;
    cdz_error err = {0};
    if (cdz_metrics_compare(set[0].f, set[0].n, set[1].f, set[1].n, NULL, &c, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        goto done;
    }
    cdz_listen_summary sum[3], pair[3];
    cdz_listen_summarize(set[0].l, set[0].n, &sum[L_GEN]);
    cdz_listen_summarize(set[1].l, set[1].n, &sum[L_REF]);
    cdz_listen_summarize(set[1].rnd, set[1].n, &sum[L_RND]);
    cdz_listen_summarize(set[0].l, set[0].n, &pair[0]);
    cdz_listen_summarize(orig, n_pairs, &pair[1]);
    cdz_listen_summarize(rnd_pair, n_pairs, &pair[2]);
    size_t skipped[2] = {set[0].skipped, set[1].skipped};
    if (json) {
        size_t no_mel[2] = {set[0].no_melody, set[1].no_melody}, no_acc[2] = {set[0].no_acc, set[1].no_acc};
        music_print_json(gen, ref, &c, skipped);
        listen_print_json(sum, pair, &lp, seed, no_mel, no_acc);
        printf("}\n");
    } else {
        music_print_text(gen, ref, &c, skipped);
        listen_print_text(sum, pair, &lp, seed);
    }
    rc = plot_dir && !music_plot(plot_dir, &c) ? EXIT_FAIL : EXIT_OK;
    if (rc == EXIT_OK && plot_dir && plot_pieces > 0)
        fprintf(stderr, "wrote bar self-similarity pictures of the first %lld files of each set to %s/ (ssm_*)\n",
                plot_pieces, plot_dir);
    cdz_metrics_comparison_free(&c);
done:
    music_set_free(&set[0]);
    music_set_free(&set[1]);
    cdz_free(orig);
    cdz_free(rnd_pair);
    return rc;
}

/* ---- eval stability, eval style: cadenza/piece_eval.h ---- */

static void stability_text(const char *path, const cdz_piece_stability *st) {
    char dur[32];
    app_format_duration(st->duration_s, dur, sizeof dur);
    printf("%s: %s, %lld notes (%.2f/s), %d instrument%s", path, dur, (long long)st->n_notes, st->notes_per_s,
           st->instruments, st->instruments == 1 ? "" : "s");
    if (st->lowest >= 0) printf(", pitches %d-%d", st->lowest, st->highest);
    printf(", %lld bars\n", (long long)st->n_bars);
    if (st->n_minutes) printf("  minute  start  notes  notes/s  instruments  lowest  highest  span\n");
    for (size_t m = 0; m < st->n_minutes; m++) {
        const cdz_piece_minute *w = &st->minutes[m];
        char at[32];
        app_format_duration(w->start_s, at, sizeof at);
        printf("  %6zu %6s %6lld %8.2f %12d ", m + 1, at, (long long)w->notes, w->notes_per_s, w->instruments);
        if (w->lowest >= 0) printf("%7d %8d %5d\n", w->lowest, w->highest, w->span);
        else printf("%7s %8s %5s\n", "-", "-", "-");
    }
    if (st->n_bars == 0 && st->n_notes) printf("  no bars (SMPTE timing): silence and loops not measured\n");
    else if (st->n_bars) {
        printf("  longest silence: %lld bar%s", (long long)st->longest_silence_bars, st->longest_silence_bars == 1 ? "" : "s");
        if (st->longest_silence_bars)
            printf(" (bars %lld-%lld)", (long long)st->silence_start_bar + 1,
                   (long long)(st->silence_start_bar + st->longest_silence_bars));
        printf("; longest run of one bar repeated: %lld bar%s", (long long)st->longest_loop_bars,
               st->longest_loop_bars == 1 ? "" : "s");
        if (st->longest_loop_bars > 1)
            printf(" (bars %lld-%lld)", (long long)st->loop_start_bar + 1,
                   (long long)(st->loop_start_bar + st->longest_loop_bars));
        printf("\n");
    }
    if (st->n_minutes)
        printf("  variation across %zu minute%s (sd / mean): notes/s %.3f, instruments %.3f, pitch span %.3f\n",
               st->n_cv_minutes, st->n_cv_minutes == 1 ? "" : "s", st->cv_notes_per_s, st->cv_instruments, st->cv_span);
}

static void stability_json(const char *path, const cdz_piece_stability *st, int check, int pass) {
    printf("{\"file\":");
    json_string(stdout, path);
    printf(",\"duration_s\":");
    json_number(stdout, st->duration_s);
    printf(",\"notes\":%lld,\"notes_per_s\":", (long long)st->n_notes);
    json_number(stdout, st->notes_per_s);
    printf(",\"instruments\":%d,\"lowest\":%d,\"highest\":%d,\"bars\":%lld,\"longest_silence_bars\":%lld,"
           "\"silence_start_bar\":%lld,\"longest_loop_bars\":%lld,\"loop_start_bar\":%lld,\"cv_minutes\":%zu,"
           "\"cv_notes_per_s\":",
           st->instruments, st->lowest, st->highest, (long long)st->n_bars, (long long)st->longest_silence_bars,
           (long long)st->silence_start_bar, (long long)st->longest_loop_bars, (long long)st->loop_start_bar,
           st->n_cv_minutes);
    json_number(stdout, st->cv_notes_per_s);
    printf(",\"cv_instruments\":");
    json_number(stdout, st->cv_instruments);
    printf(",\"cv_span\":");
    json_number(stdout, st->cv_span);
    printf(",\"minutes\":[");
    for (size_t m = 0; m < st->n_minutes; m++) {
        const cdz_piece_minute *w = &st->minutes[m];
        printf("%s{\"start_s\":", m ? "," : "");
        json_number(stdout, w->start_s);
        printf(",\"end_s\":");
        json_number(stdout, w->end_s);
        printf(",\"notes\":%lld,\"notes_per_s\":", (long long)w->notes);
        json_number(stdout, w->notes_per_s);
        printf(",\"instruments\":%d,\"lowest\":%d,\"highest\":%d,\"span\":%d}", w->instruments, w->lowest, w->highest,
               w->span);
    }
    printf("]");
    if (check) printf(",\"pass\":%s", pass ? "true" : "false");
    printf("}\n");
}

static int eval_stability(int argc, char **argv) {
    app_list files = {0};
    int json = 0;
    long long max_silence = -1, max_loop = -1;
    app_opt opts[] = {
        APP_ARGS("FILE.mid", &files, "MIDI files (a generated piece, or a corpus's for comparison)"),
        APP_OPT_LONG("--max-silence", &max_silence, 0, 1 << 20, "BARS",
                     "fail (exit status 1) when a piece has more silent bars in a row"),
        APP_OPT_LONG("--max-loop", &max_loop, 1, 1 << 20, "BARS",
                     "fail (exit status 1) when one bar is played more times in a row"),
        APP_OPT_JSON(&json),
        APP_END};
    const app_cmd cmd = {"eval stability", "FILE.mid... [--max-silence BARS] [--max-loop BARS] [--json]",
                         "Whether a long piece stays alive: per minute the notes started per second, the instruments\n"
                         "playing and the lowest and highest pitch; for the piece the longest silence and the longest\n"
                         "run of one bar repeated note for note, in bars, and how much the minutes vary (sd / mean).\n"
                         "Bars are counted from 1; in --json from 0.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (files.n == 0) return app_usage(&cmd, "no MIDI file given");
    int check = max_silence >= 0 || max_loop >= 0;
    rc = EXIT_OK;
    for (int i = 0; i < files.n; i++) {
        cdz_score s;
        cdz_piece_stability st;
        cdz_error err = {0};
        if (app_read_score(&s, files.v[i]) != EXIT_OK) {
            rc = EXIT_FAIL;
            continue;
        }
        if (cdz_piece_stability_compute(&s, &st, &err) != CDZ_OK) {
            app_error("%s: %s", files.v[i], err.msg);
            cdz_score_free(&s);
            rc = EXIT_FAIL;
            continue;
        }
        int pass = (max_silence < 0 || st.longest_silence_bars <= max_silence) &&
                   (max_loop < 0 || st.longest_loop_bars <= max_loop);
        if (json) {
            stability_json(files.v[i], &st, check, pass);
        } else {
            stability_text(files.v[i], &st);
            if (check)
                printf("  check (silence <= %lld bars, repeats <= %lld): %s\n", max_silence, max_loop,
                       pass ? "pass" : "FAIL");
        }
        if (!pass) rc = EXIT_FAIL;
        cdz_piece_stability_free(&st);
        cdz_score_free(&s);
    }
    app_list_free(&files);
    return rc;
}

/* One piece for the style classifier: its path and its label ("" when not known). */
typedef struct style_item {
    char *path;
    char label[CDZ_PIECE_LABEL_MAX];
    int pick; /* style_select's choice */
} style_item;

typedef struct style_set {
    style_item *v;
    size_t n, cap;
} style_set;

static void style_set_free(style_set *s) {
    for (size_t i = 0; i < s->n; i++) cdz_free(s->v[i].path);
    cdz_free(s->v);
    memset(s, 0, sizeof *s);
}

/* A label as the user writes it (LABEL=DIR, --labels, --expect): lower case, spaces trimmed. */
static void style_label(const char *in, char *out, size_t n) {
    while (*in == ' ') in++;
    size_t k = 0;
    for (; in[k] && k + 1 < n; k++) out[k] = (char)tolower((unsigned char)in[k]);
    while (k > 0 && out[k - 1] == ' ') k--;
    out[k] = 0;
}

static int style_add(style_set *s, const char *path, const char *label) {
    if (cdz_grow((void **)&s->v, &s->cap, s->n + 1, sizeof *s->v) != CDZ_OK) {
        app_error("out of memory listing files");
        return 0;
    }
    size_t len = strlen(path);
    style_item *it = &s->v[s->n];
    if (!(it->path = cdz_malloc(len + 1))) {
        app_error("out of memory listing files");
        return 0;
    }
    memcpy(it->path, path, len + 1);
    style_label(label, it->label, sizeof it->label);
    s->n++;
    return 1;
}

/* An index.json: a list of objects with "path" (relative to the index's folder) and "style". Styles
 * become the ensemble model's style names (cdz_ens_style_of: "Romantique" -> romantic, "string quartet"
 * -> quartet), so a classifier's labels are the styles a generator is asked for; entries without a
 * style are left unlabelled. */
static int style_read_index(style_set *s, const char *index) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    cdz_json *j = NULL;
    cdz_error err = {0};
    if (cdz_file_read_all(index, &bytes, &len, &err) != CDZ_OK ||
        cdz_json_parse((const char *)bytes, len, index, &j, &err) != CDZ_OK) {
        cdz_free(bytes);
        app_error("%s", err.msg);
        return 0;
    }
    cdz_free(bytes);
    int ok = 1;
    if (j->type != CDZ_JSON_ARRAY) {
        app_error("%s: expected a JSON list of objects with \"path\" and \"style\"", index);
        ok = 0;
    }
    const char *slash = strrchr(index, '/');
    int dir_len = slash ? (int)(slash - index) : 1;
    const char *dir = slash ? index : ".";
    char corpus[256]; /* the index's folder's name: "mutopia" */
    snprintf(corpus, sizeof corpus, "%.*s", dir_len, dir);
    const char *base = strrchr(corpus, '/');
    if (base) memmove(corpus, base + 1, strlen(base + 1) + 1);
    for (size_t i = 0; ok && i < j->n; i++) {
        const char *path = cdz_json_get_string(&j->items[i], "path", NULL);
        const char *style = cdz_json_get_string(&j->items[i], "style", "");
        if (!path) {
            app_error("%s: entry %zu has no \"path\" string", index, i);
            ok = 0;
            break;
        }
        char full[PATH_MAX];
        if (snprintf(full, sizeof full, "%.*s/%s", dir_len, dir, path) >= (int)sizeof full) {
            app_error("%s: entry %zu: the path is too long", index, i);
            ok = 0;
            break;
        }
        int k = style[0] ? cdz_ens_style_of(style, corpus) : -1;
        ok = style_add(s, full, k >= 0 ? cdz_ens_style_name(k) : "");
    }
    cdz_json_free(j);
    return ok;
}

/* The inputs: LABEL=FILE_OR_DIR or FILE_OR_DIR (a folder walked for .mid and .midi), and indexes. */
static int style_gather(style_set *s, const app_list *args, const app_list *indexes) {
    for (int i = 0; i < args->n; i++) {
        const char *a = args->v[i], *eq = strchr(a, '=');
        struct stat sb;
        char label[CDZ_PIECE_LABEL_MAX] = "";
        const char *path = a;
        if (eq && stat(a, &sb) != 0) { /* a file whose name holds '=' is taken as it is */
            snprintf(label, sizeof label, "%.*s", (int)(eq - a), a);
            path = eq + 1;
        }
        char **paths = NULL;
        size_t n = 0;
        cdz_error err = {0};
        if (cdz_file_list(path, ".mid,.midi", &paths, &n, &err) != CDZ_OK) {
            app_error("%s", err.msg);
            return 0;
        }
        if (n == 0) fprintf(stderr, "note: %s holds no .mid or .midi file\n", path);
        int ok = 1;
        for (size_t k = 0; ok && k < n; k++) ok = style_add(s, paths[k], label);
        cdz_file_list_free(paths, n);
        if (!ok) return 0;
    }
    for (int i = 0; i < indexes->n; i++)
        if (!style_read_index(s, indexes->v[i])) return 0;
    return 1;
}

static int style_item_cmp(const void *a, const void *b) {
    return strcmp(((const style_item *)a)->path, ((const style_item *)b)->path);
}

/* The length of a path's folder part ("a/b/c.mid" -> 3). */
static size_t folder_len(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? (size_t)(slash - path) : 0;
}

/* Sorts by path and keeps every K-th file from the J-th (or, with complement, the others), so that
 * two runs with the same inputs and K, J, one with --complement, see disjoint files. With by_folder
 * the K-th folders are taken whole (a corpus kept by composer gives a split by composer). */
static void style_select(style_set *s, long long every, long long offset, int complement, int by_folder) {
    qsort(s->v, s->n, sizeof *s->v, style_item_cmp);
    size_t unit = 0;
    for (size_t i = 0; i < s->n; i++) { /* every path is still there to compare with */
        if (!by_folder) unit = i;
        else if (i > 0) {
            size_t a = folder_len(s->v[i].path), b = folder_len(s->v[i - 1].path);
            unit += a != b || strncmp(s->v[i].path, s->v[i - 1].path, a) != 0;
        }
        s->v[i].pick = ((long long)(unit % (size_t)every) == offset) != complement;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].pick) s->v[k++] = s->v[i];
        else cdz_free(s->v[i].path);
    }
    s->n = k;
}

/* Reads a piece and computes its features: 1, or 0 having said why on stderr (the file is skipped). */
static int style_features(const char *path, double *x) {
    cdz_score sc;
    cdz_error err = {0};
    if (cdz_score_read_file(&sc, path, &err) != CDZ_OK) {
        fprintf(stderr, "skipped: %s\n", err.msg);
        return 0;
    }
    cdz_status st = cdz_piece_features(&sc, x, &err);
    cdz_score_free(&sc);
    if (st != CDZ_OK) fprintf(stderr, "skipped: %s: %s\n", path, err.msg);
    return st == CDZ_OK;
}

/* 1 when `label` is in the comma-separated list (labels as style_label writes them). */
static int in_list(const char *list, const char *label) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char norm[CDZ_PIECE_LABEL_MAX];
        style_label(t, norm, sizeof norm);
        if (strcmp(norm, label) == 0) return 1;
    }
    return 0;
}

#define STYLE_SPLIT_OPTS(every, offset, complement, by_folder)                                                         \
    APP_OPT_LONG("--every", (every), 1, 1 << 20, "K", "take every K-th file of the inputs sorted by path (default 1)"), \
    APP_OPT_LONG("--offset", (offset), 0, 1 << 20, "J", "starting at the J-th (from 0; default 0)"),                      \
    APP_OPT_SWITCH("--complement", (complement), "take the other files instead (a training set disjoint from\n"          \
                                                 "--every K --offset J)"),                                               \
    APP_OPT_SWITCH("--by-folder", (by_folder), "count folders instead of files, each taken whole (mutopia's folders\n"   \
                                               "are composers: a split by composer)")

static int style_train(int argc, char **argv) {
    const char *out = NULL, *keep = NULL;
    app_list args = {0}, indexes = {0};
    long long every = 1, offset = 0, min_files = 10;
    int complement = 0, by_folder = 0, force = 0, unbalanced = 0;
    cdz_piece_style_params p = cdz_piece_style_default_params();
    app_opt opts[] = {
        APP_ARGS("LABEL=FILE_OR_DIR", &args, "files or folders of one style (folders walked for .mid and .midi)"),
        APP_OPT_STRING("--out", &out, "STYLE.json", "the model to write (required)"),
        APP_OPT_LIST("--index", &indexes, "INDEX.json",
                     "a corpus index: a JSON list of {\"path\" (relative to its folder), \"style\"}; repeatable"),
        STYLE_SPLIT_OPTS(&every, &offset, &complement, &by_folder),
        APP_OPT_STRING("--labels", &keep, "A,B,...", "train on these labels only (default: every label with enough files)"),
        APP_OPT_LONG("--min-files", &min_files, 1, 1 << 20, "N", "leave out labels with fewer files (default 10)"),
        APP_OPT_DOUBLE("--l2", &p.l2, 0, 1e6, "X", "weight decay (default 0.001)"),
        APP_OPT_INT("--steps", &p.steps, 1, 1 << 20, "N", "gradient steps (default 1000)"),
        APP_OPT_SWITCH("--unbalanced", &unbalanced, "weight every file alike (default: every label alike)"),
        APP_OPT_FORCE(&force),
        APP_END};
    const app_cmd cmd = {"eval style train", "--out STYLE.json [LABEL=FILE_OR_DIR ...] [--index INDEX.json ...] [options]",
                         "Trains a small style classifier (softmax regression on features of how a piece is written:\n"
                         "key-relative pitch classes, intervals, rhythm, harmony; cadenza/piece_eval.h). Labels are\n"
                         "taken in lower case; an index's styles become the ensemble codec's style names (baroque,\n"
                         "classical, romantic, hymn, folk, quartet, orchestral, ...).",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    style_set set = {0};
    double *x = NULL;
    int32_t *y = NULL;
    char (*names)[CDZ_PIECE_LABEL_MAX] = NULL;
    size_t *count = NULL, n_names = 0, cap_names = 0;
    const char **label_ptr = NULL;
    cdz_piece_style_model m = {0};
    rc = EXIT_FAIL;
    if (!out) {
        rc = app_usage(&cmd, "--out STYLE.json is required");
        goto done;
    }
    if (args.n == 0 && indexes.n == 0) {
        rc = app_usage(&cmd, "no input: give LABEL=FILE_OR_DIR or --index INDEX.json");
        goto done;
    }
    if (offset >= every) {
        rc = app_usage(&cmd, "--offset %lld must be below --every %lld", offset, every);
        goto done;
    }
    if (!app_output_ok(out, force) || !style_gather(&set, &args, &indexes)) goto done;
    style_select(&set, every, offset, complement, by_folder);
    /* the labels: those asked for, with files, and enough of them */
    for (size_t i = 0; i < set.n; i++) {
        const char *l = set.v[i].label;
        if (!l[0] || (keep && !in_list(keep, l))) continue;
        size_t k = 0;
        while (k < n_names && strcmp(names[k], l) != 0) k++;
        if (k == n_names) {
            size_t cap = cap_names;
            if (cdz_grow((void **)&names, &cap_names, n_names + 1, sizeof *names) != CDZ_OK ||
                cdz_grow((void **)&count, &cap, n_names + 1, sizeof *count) != CDZ_OK) {
                app_error("out of memory");
                goto done;
            }
            snprintf(names[n_names], sizeof *names, "%s", l);
            count[n_names++] = 0;
        }
        count[k]++;
    }
    size_t n_kept = 0;
    for (size_t k = 0; k < n_names; k++) {
        if (count[k] >= (size_t)min_files) {
            memmove(names[n_kept], names[k], sizeof *names);
            count[n_kept++] = count[k];
        } else {
            fprintf(stderr, "note: label \"%s\" left out: %zu file%s, fewer than --min-files %lld\n", names[k], count[k],
                    count[k] == 1 ? "" : "s", min_files);
        }
    }
    n_names = n_kept;
    if (n_names < 2) {
        app_error("training needs at least 2 labels with %lld or more files each; the inputs give %zu", min_files, n_names);
        goto done;
    }
    x = cdz_calloc(set.n + 1, CDZ_PIECE_N_FEATURES * sizeof *x);
    y = cdz_calloc(set.n + 1, sizeof *y);
    label_ptr = cdz_calloc(n_names, sizeof *label_ptr);
    if (!x || !y || !label_ptr) {
        app_error("out of memory for %zu files", set.n);
        goto done;
    }
    for (size_t k = 0; k < n_names; k++) label_ptr[k] = names[k], count[k] = 0;
    size_t n = 0, skipped = 0;
    double t0 = app_now();
    for (size_t i = 0; i < set.n; i++) {
        size_t k = 0;
        while (k < n_names && strcmp(names[k], set.v[i].label) != 0) k++;
        if (k == n_names) continue;
        if (!style_features(set.v[i].path, x + n * CDZ_PIECE_N_FEATURES)) {
            skipped++;
            continue;
        }
        y[n++] = (int32_t)k;
        count[k]++;
    }
    cdz_error err = {0};
    p.balanced = !unbalanced;
    if (cdz_piece_style_train(&m, x, y, n, label_ptr, (int32_t)n_names, &p, &err) != CDZ_OK ||
        cdz_piece_style_save(&m, out, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        goto done;
    }
    printf("trained on %zu files (%zu skipped) in %.1f s:", n, skipped, app_now() - t0);
    for (size_t k = 0; k < n_names; k++) printf("%s %s %zu", k ? "," : "", names[k], count[k]);
    printf("\ntraining accuracy %.1f%%%s, loss %.4f; wrote %s\n", 100 * m.train_accuracy,
           unbalanced ? "" : " (labels weighted alike)", m.train_loss, out);
    rc = EXIT_OK;
done:
    cdz_piece_style_free(&m);
    style_set_free(&set);
    app_list_free(&args);
    app_list_free(&indexes);
    cdz_free(x);
    cdz_free(y);
    cdz_free(names);
    cdz_free(count);
    cdz_free(label_ptr);
    return rc;
}

static int style_predict(int argc, char **argv) {
    const char *model = NULL, *expect = NULL;
    app_list args = {0}, indexes = {0};
    long long every = 1, offset = 0;
    int complement = 0, by_folder = 0, json = 0, quiet = 0;
    app_opt opts[] = {
        APP_ARGS("FILE_OR_DIR", &args, "pieces to label (LABEL=FILE_OR_DIR gives their true label)"),
        APP_OPT_STRING("--model", &model, "STYLE.json", "the classifier (required; from eval style train)"),
        APP_OPT_LIST("--index", &indexes, "INDEX.json", "a corpus index (its styles are the true labels); repeatable"),
        STYLE_SPLIT_OPTS(&every, &offset, &complement, &by_folder),
        APP_OPT_STRING("--expect", &expect, "LABEL", "report the share of files recognised as LABEL"),
        APP_OPT_SWITCH("--quiet", &quiet, "only the summary, not a line per file"),
        APP_OPT_JSON(&json),
        APP_END};
    const app_cmd cmd = {"eval style predict", "--model STYLE.json FILE_OR_DIR... [--index INDEX.json ...] [--expect LABEL]",
                         "The most probable style of each piece, with its probability; where the true labels are\n"
                         "known (LABEL=DIR, --index) the accuracy, each label's recall and the confusion matrix.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    style_set set = {0};
    cdz_piece_style_model m = {0};
    size_t *confusion = NULL;
    double *prob = NULL;
    rc = EXIT_FAIL;
    if (!model) {
        rc = app_usage(&cmd, "--model STYLE.json is required");
        goto done;
    }
    if (args.n == 0 && indexes.n == 0) {
        rc = app_usage(&cmd, "no input: give FILE_OR_DIR or --index INDEX.json");
        goto done;
    }
    if (offset >= every) {
        rc = app_usage(&cmd, "--offset %lld must be below --every %lld", offset, every);
        goto done;
    }
    cdz_error err = {0};
    if (cdz_piece_style_load(&m, model, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        goto done;
    }
    const size_t K = (size_t)m.n_classes;
    int32_t want = -1;
    if (expect) {
        char norm[CDZ_PIECE_LABEL_MAX];
        style_label(expect, norm, sizeof norm);
        for (int32_t k = 0; k < m.n_classes; k++)
            if (strcmp(m.labels[k], norm) == 0) want = k;
        if (want < 0) {
            char list[512] = "";
            for (int32_t k = 0; k < m.n_classes; k++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? ", " : "", m.labels[k]);
            rc = app_usage(&cmd, "--expect %s: %s knows the labels %s", expect, model, list);
            goto done;
        }
    }
    if (!style_gather(&set, &args, &indexes)) goto done;
    style_select(&set, every, offset, complement, by_folder);
    confusion = cdz_calloc(K * K, sizeof *confusion);
    prob = cdz_calloc(K, sizeof *prob);
    if (!confusion || !prob) {
        app_error("out of memory");
        goto done;
    }
    size_t n = 0, skipped = 0, as_want = 0, known = 0, right = 0, unknown_truth = 0;
    for (size_t i = 0; i < set.n; i++) {
        double x[CDZ_PIECE_N_FEATURES];
        if (!style_features(set.v[i].path, x)) {
            skipped++;
            continue;
        }
        int32_t k = cdz_piece_style_predict(&m, x, prob);
        n++;
        as_want += k == want;
        int32_t truth = -1;
        for (int32_t c = 0; set.v[i].label[0] && c < m.n_classes; c++)
            if (strcmp(m.labels[c], set.v[i].label) == 0) truth = c;
        if (truth >= 0) {
            known++;
            right += truth == k;
            confusion[(size_t)truth * K + (size_t)k]++;
        } else if (set.v[i].label[0]) {
            unknown_truth++;
        }
        if (quiet) continue;
        if (json) {
            printf("{\"file\":");
            json_string(stdout, set.v[i].path);
            printf(",\"style\":");
            json_string(stdout, m.labels[k]);
            printf(",\"p\":");
            json_number(stdout, prob[k]);
            if (set.v[i].label[0]) {
                printf(",\"truth\":");
                json_string(stdout, set.v[i].label);
            }
            printf("}\n");
        } else {
            printf("%-12s %.2f  %s%s%s%s\n", m.labels[k], prob[k], set.v[i].path, set.v[i].label[0] ? "  (" : "",
                   set.v[i].label, set.v[i].label[0] ? ")" : "");
        }
    }
    if (json) {
        printf("{\"files\":%zu,\"skipped\":%zu", n, skipped);
        if (want >= 0) {
            printf(",\"expect\":");
            json_string(stdout, m.labels[want]);
            printf(",\"recognised\":%zu,\"share\":", as_want);
            json_number(stdout, n ? (double)as_want / (double)n : 0);
        }
        if (known) {
            printf(",\"labelled\":%zu,\"accuracy\":", known);
            json_number(stdout, (double)right / (double)known);
        }
        printf("}\n");
    } else {
        printf("%zu file%s labelled (%zu skipped)\n", n, n == 1 ? "" : "s", skipped);
        if (want >= 0)
            printf("recognised as %s: %zu of %zu (%.1f%%)\n", m.labels[want], as_want, n,
                   n ? 100.0 * (double)as_want / (double)n : 0.0);
        if (known) {
            printf("accuracy on the %zu files with a known label: %.1f%% (chance with %zu labels: %.1f%%)\n", known,
                   100.0 * (double)right / (double)known, K, 100.0 / (double)K);
            printf("  %-14s %6s %7s   predicted:", "true label", "files", "recall");
            for (size_t c = 0; c < K; c++) printf(" %.10s", m.labels[c]);
            printf("\n");
            for (size_t t = 0; t < K; t++) {
                size_t row = 0;
                for (size_t c = 0; c < K; c++) row += confusion[t * K + c];
                if (!row) continue;
                printf("  %-14.14s %6zu %6.1f%%             ", m.labels[t], row,
                       100.0 * (double)confusion[t * K + t] / (double)row);
                for (size_t c = 0; c < K; c++) printf(" %*zu", (int)(strlen(m.labels[c]) < 10 ? strlen(m.labels[c]) : 10), confusion[t * K + c]);
                printf("\n");
            }
        }
        if (unknown_truth)
            printf("%zu file%s with labels the model does not know left out of the accuracy\n", unknown_truth,
                   unknown_truth == 1 ? "" : "s");
    }
    rc = n ? EXIT_OK : EXIT_FAIL;
    if (!n) app_error("no piece could be labelled");
done:
    cdz_piece_style_free(&m);
    style_set_free(&set);
    app_list_free(&args);
    app_list_free(&indexes);
    cdz_free(confusion);
    cdz_free(prob);
    return rc;
}

static int eval_style(int argc, char **argv) {
    static const app_sub subs[] = {
        {"train", style_train, "--out STYLE.json LABEL=DIR ... | --index INDEX.json: train a style classifier"},
        {"predict", style_predict, "--model STYLE.json FILE_OR_DIR...: the style of each piece, and the accuracy"},
    };
    return app_dispatch("eval style", "A small style classifier of pieces (cadenza/piece_eval.h).\n", subs, 2, NULL, argc,
                        argv);
}

int cmd_eval(int argc, char **argv) {
    static const app_sub subs[] = {
        {"loss", eval_loss, "--checkpoint FILE --data FILE.cdz: a model's mean loss, perplexity and accuracy"},
        {"ngram", eval_ngram, "--data FILE.cdz --order 1|2: a unigram or bigram baseline"},
        {"melodies", eval_melodies, "--generated DIR --reference DIR: in-key share, note-length and interval\n"
                                    "histograms against a corpus"},
        {"music", eval_music, "--generated DIR --reference DIR: the objective features of Yang & Lerch 2019 and\n"
                              "MusPy per set, and the sets compared"},
        {"stability", eval_stability, "FILE.mid...: per minute density, instruments and pitch range; the longest\n"
                                      "silence and bar loop"},
        {"style", eval_style, "train|predict: a small style classifier of pieces"},
        {"ensemble", app_eval_ensemble, "--checkpoint FILE --in DIR: held-out log-loss of ensemble models on\n"
                                        "continuation and infilling (nats per token, bits per second)"},
        {"instruments", app_eval_instruments, "FILE.mid... --instruments LIST: the share of notes on the instruments\n"
                                               "asked for and outside their playing ranges"},
        {"audio-stats", app_eval_audio_stats, "--reference REF.wav --generated GEN.wav (repeatable): chroma and onset\n"
                                              "rates of generated audio against held-out audio"},
        {"audio", app_eval_audio, "--reference REF.wav --generated GEN.wav: DAC's mel and STFT distances and SI-SDR\n"
                                   "between two clips"},
        {"controls", app_eval_controls, "FILE.mid... --checkpoint FILE --track NAME: whether an ensemble model\n"
                                         "reads anticipated controls (scored with them in place, moved, left out)"},
    };
    return app_dispatch("eval", EVAL_OVERVIEW, subs, sizeof subs / sizeof *subs, NULL, argc, argv);
}

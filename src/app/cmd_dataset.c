/* cadenza dataset build|info: token datasets from folders of MIDI, and what is in one. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"

static const char DATASET_USAGE[] =
    "usage: cadenza dataset <command> [options]\n"
    "\n"
    "commands:\n"
    "  build --codec NAME --in DIR_OR_FILE [--in ...] --out FILE.cdz [options]\n"
    "      --transpose A:B       also encode every transposition from A to B semitones (e.g. -3:3)\n"
    "      --stretch F,F,...     also encode time-stretched copies (e.g. 0.95,1,1.05; for performances)\n"
    "      --style K             put style token K first in every sequence (multitrack: 0-31)\n"
    "      --eval-fraction F     put files whose content hash falls below F in the eval split\n"
    "      --split-from-path     use the corpus's split: folders test/ -> test, valid/ or eval/ -> eval\n"
    "      --programs A:B        keep only notes of General MIDI programs A to B (0-127; drums stay)\n"
    "      --tracks NAMES        keep only tracks with these names (comma-separated, any case), e.g. PIANO\n"
    "      --one-tempo           read each file at its first tempo (for files with a tempo per beat, whose\n"
    "                            melodies would otherwise be cut at every tempo change)\n"
    "      --threads N           workers (default 2)\n"
    "  info FILE.cdz [--json]    counts by split, a length histogram and token frequencies\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct progress {
    double start, last;
    int tty;
} progress;

/* A bar with rate and ETA on a terminal; a plain line every 10% otherwise. */
static void show_progress(void *ctx, size_t done, size_t total) {
    progress *p = ctx;
    double t = now_s(), el = t - p->start;
    if (done < total && t - p->last < (p->tty ? 0.1 : 5.0)) return;
    p->last = t;
    double rate = el > 0 ? done / el : 0;
    double eta = rate > 0 ? (total - done) / rate : 0;
    if (p->tty) {
        int width = 30, fill = total ? (int)(width * done / total) : width;
        fprintf(stderr, "\r  [%.*s%*s] %zu/%zu files  %.0f files/s  ETA %d:%02d ", fill, "==============================",
                width - fill, "", done, total, rate, (int)eta / 60, (int)eta % 60);
        if (done == total) fputc('\n', stderr);
    } else {
        fprintf(stderr, "  %zu/%zu files, %.0f files/s, ETA %.0f s\n", done, total, rate, eta);
    }
}

static int parse_range(const char *s, int *a, int *b) {
    char *end;
    long x = strtol(s, &end, 10);
    if (*end != ':') return 0;
    long y = strtol(end + 1, &end, 10);
    if (*end || x > y || x < -127 || y > 127) return 0;
    *a = (int)x;
    *b = (int)y;
    return 1;
}

static int cmd_build(int argc, char **argv) {
    cdz_build_params p = cdz_build_default_params();
    double stretch[16];
    const char *out = NULL;
    const char **inputs = calloc((size_t)argc + 1, sizeof *inputs);
    size_t n_in = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int v = i + 1 < argc;
        if (app_is_help(a)) {
            fputs(DATASET_USAGE, stdout);
            free(inputs);
            return EXIT_OK;
        } else if (strcmp(a, "--codec") == 0 && v) {
            if (!(p.codec = cdz_codec_find(argv[++i]))) {
                free(inputs);
                return app_usage_error(DATASET_USAGE, "unknown codec '%s' (see 'cadenza codec list')", argv[i]);
            }
        } else if (strcmp(a, "--in") == 0 && v) {
            inputs[n_in++] = argv[++i];
        } else if (strcmp(a, "--out") == 0 && v) {
            out = argv[++i];
        } else if (strcmp(a, "--transpose") == 0 && v) {
            if (!parse_range(argv[++i], &p.transpose_min, &p.transpose_max)) {
                free(inputs);
                return app_usage_error(DATASET_USAGE, "--transpose needs A:B with -127 <= A <= B <= 127, not '%s'", argv[i]);
            }
        } else if (strcmp(a, "--stretch") == 0 && v) {
            const char *list = argv[++i];
            p.n_stretch = 0;
            while (*list && p.n_stretch < sizeof stretch / sizeof stretch[0]) {
                char *end;
                stretch[p.n_stretch] = strtod(list, &end);
                if (end == list || !(stretch[p.n_stretch] >= 0.1 && stretch[p.n_stretch] <= 10) || (*end && *end != ',')) {
                    free(inputs);
                    return app_usage_error(DATASET_USAGE, "--stretch needs factors between 0.1 and 10, like 0.95,1,1.05, not '%s'", argv[i]);
                }
                p.n_stretch++;
                list = *end ? end + 1 : end;
            }
            p.stretch = stretch;
        } else if (strcmp(a, "--eval-fraction") == 0 && v) {
            char *end;
            p.eval_fraction = strtod(argv[++i], &end);
            if (*end || !(p.eval_fraction >= 0 && p.eval_fraction < 1)) {
                free(inputs);
                return app_usage_error(DATASET_USAGE, "--eval-fraction needs a number in [0, 1), not '%s'", argv[i]);
            }
        } else if (strcmp(a, "--style") == 0 && v) {
            char *end;
            long k = strtol(argv[++i], &end, 10);
            if (*end || k < 0 || k > 65535) {
                free(inputs);
                return app_usage_error(DATASET_USAGE, "--style needs a number >= 0, not '%s'", argv[i]);
            }
            p.style = (int)k;
        } else if (strcmp(a, "--programs") == 0 && v) {
            if (!parse_range(argv[++i], &p.program_min, &p.program_max) || p.program_min < 0) {
                free(inputs);
                return app_usage_error(DATASET_USAGE, "--programs needs A:B with 0 <= A <= B <= 127, not '%s'", argv[i]);
            }
        } else if (strcmp(a, "--tracks") == 0 && v) {
            p.tracks = argv[++i];
        } else if (strcmp(a, "--one-tempo") == 0) {
            p.single_tempo = 1;
        } else if (strcmp(a, "--split-from-path") == 0) {
            p.split_from_path = 1;
        } else if (strcmp(a, "--threads") == 0 && v) {
            p.threads = atoi(argv[++i]);
            if (p.threads < 1 || p.threads > 64) {
                free(inputs);
                return app_usage_error(DATASET_USAGE, "--threads needs 1-64, not '%s'", argv[i]);
            }
        } else {
            free(inputs);
            return app_usage_error(DATASET_USAGE, "unexpected argument '%s'", a);
        }
    }
    const char *missing = !p.codec ? "--codec NAME" : !n_in ? "--in DIR_OR_FILE" : !out ? "--out FILE.cdz" : NULL;
    if (missing) {
        free(inputs);
        return app_usage_error(DATASET_USAGE, "%s is required", missing);
    }
    p.inputs = inputs;
    p.n_inputs = n_in;
    progress prog = {now_s(), 0, isatty(2)};
    p.progress = show_progress;
    p.progress_ctx = &prog;
    cdz_build_report r;
    cdz_error err = {0};
    cdz_status st = cdz_dataset_build(&p, out, &r, &err);
    free(inputs);
    if (st != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    double el = now_s() - prog.start;
    size_t seqs = r.seqs[0] + r.seqs[1] + r.seqs[2], toks = r.tokens[0] + r.tokens[1] + r.tokens[2];
    printf("wrote %s (%s, %u tokens) in %.1f s: %.0f files/s, %.0f tokens/s\n", out, p.codec->name, p.codec->vocab_size,
           el, r.files / el, toks / el);
    printf("  files        %8zu found, %zu used\n", r.files, r.files_used);
    printf("  skipped      %8zu unreadable, %zu broken MIDI, %zu with nothing to extract\n", r.skipped_unreadable,
           r.skipped_broken, r.skipped_empty);
    if (r.first_problem[0]) printf("               first problem: %s\n", r.first_problem);
    printf("  sequences    %8zu (train %zu, eval %zu, test %zu)\n", seqs, r.seqs[0], r.seqs[1], r.seqs[2]);
    printf("  tokens       %8zu (train %zu, eval %zu, test %zu)\n", toks, r.tokens[0], r.tokens[1], r.tokens[2]);
    printf("  extractor    %llu sequences kept; dropped: %llu polyphonic tracks, %llu too short, %llu too few pitch "
           "classes, %llu parts with a non-integer bar, %llu empty; %llu truncated\n",
           (unsigned long long)r.stats.sequences, (unsigned long long)r.stats.polyphonic_tracks,
           (unsigned long long)r.stats.too_short, (unsigned long long)r.stats.too_few_pitches,
           (unsigned long long)r.stats.non_integer_bar, (unsigned long long)r.stats.empty,
           (unsigned long long)r.stats.truncated);
    if (seqs == 0) {
        app_error("%s: no sequences: nothing in the inputs could be encoded with '%s'", out, p.codec->name);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

typedef struct freq {
    uint64_t count;
    uint32_t token;
} freq;
static int by_count_desc(const void *a, const void *b) {
    const freq *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return (x->token > y->token) - (x->token < y->token);
}

static int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 0; i < argc; i++) {
        if (app_is_help(argv[i])) {
            fputs(DATASET_USAGE, stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] == '-' || path) {
            return app_usage_error(DATASET_USAGE, "unexpected argument '%s'", argv[i]);
        } else {
            path = argv[i];
        }
    }
    if (!path) return app_usage_error(DATASET_USAGE, "no dataset given");
    cdz_dataset ds;
    cdz_error err = {0};
    if (cdz_dataset_open(&ds, path, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    const cdz_codec *c = cdz_codec_find(ds.codec);
    uint64_t seqs[3] = {0}, toks[3] = {0}, hist[65] = {0};
    for (uint64_t i = 0; i < ds.n_seqs; i++) {
        uint64_t len = cdz_dataset_seq_len(&ds, i);
        seqs[ds.splits[i]]++;
        toks[ds.splits[i]] += len;
        int b = 0;
        while (b < 64 && (1ULL << (b + 1)) <= len) b++;
        hist[len ? b + 1 : 0]++;
    }
    freq *f = calloc(ds.vocab_size, sizeof *f);
    for (uint32_t t = 0; t < ds.vocab_size; t++) f[t].token = t;
    for (uint64_t i = 0; i < ds.n_tokens; i++) f[ds.tokens[i]].count++;
    qsort(f, ds.vocab_size, sizeof *f, by_count_desc);
    char name[64];
    if (json) {
        printf("{\"file\":");
        json_string(stdout, path);
        printf(",\"codec\":\"%s\",\"vocab_size\":%u,\"sequences\":%llu,\"tokens\":%llu", ds.codec, ds.vocab_size,
               (unsigned long long)ds.n_seqs, (unsigned long long)ds.n_tokens);
        for (int s = 0; s < 3; s++)
            printf(",\"%s\":{\"sequences\":%llu,\"tokens\":%llu}", cdz_split_name((cdz_split)s), (unsigned long long)seqs[s],
                   (unsigned long long)toks[s]);
        printf(",\"length_histogram\":[");
        int first = 1;
        for (int b = 0; b < 65; b++) {
            if (!hist[b]) continue;
            printf("%s{\"min\":%llu,\"max\":%llu,\"sequences\":%llu}", first ? "" : ",", b ? 1ULL << (b - 1) : 0ULL,
                   b ? (1ULL << (b - 1)) * 2 - 1 : 0ULL, (unsigned long long)hist[b]);
            first = 0;
        }
        printf("],\"token_counts\":{");
        first = 1;
        for (uint32_t t = 0; t < ds.vocab_size; t++) {
            if (!f[t].count) continue;
            if (c) c->token_name((uint16_t)f[t].token, name, sizeof name);
            else snprintf(name, sizeof name, "%u", f[t].token);
            printf("%s\"%s\":%llu", first ? "" : ",", name, (unsigned long long)f[t].count);
            first = 0;
        }
        printf("}}\n");
    } else {
        printf("%s: codec %s (%u tokens)\n", path, ds.codec, ds.vocab_size);
        printf("  sequences %llu, tokens %llu\n", (unsigned long long)ds.n_seqs, (unsigned long long)ds.n_tokens);
        for (int s = 0; s < 3; s++)
            printf("  %-5s     %llu sequences, %llu tokens\n", cdz_split_name((cdz_split)s), (unsigned long long)seqs[s],
                   (unsigned long long)toks[s]);
        printf("  lengths:\n");
        for (int b = 0; b < 65; b++)
            if (hist[b]) printf("    %8llu - %-8llu %llu\n", b ? 1ULL << (b - 1) : 0ULL, b ? (1ULL << (b - 1)) * 2 - 1 : 0ULL,
                                (unsigned long long)hist[b]);
        printf("  most frequent tokens:\n");
        for (uint32_t t = 0; t < ds.vocab_size && t < 20 && f[t].count; t++) {
            if (c) c->token_name((uint16_t)f[t].token, name, sizeof name);
            else snprintf(name, sizeof name, "%u", f[t].token);
            printf("    %-16s %llu (%.2f%%)\n", name, (unsigned long long)f[t].count, 100.0 * f[t].count / (double)ds.n_tokens);
        }
    }
    free(f);
    cdz_dataset_close(&ds);
    return EXIT_OK;
}

int cmd_dataset(int argc, char **argv) {
    if (argc < 1) return app_usage_error(DATASET_USAGE, "missing command");
    if (app_is_help(argv[0])) {
        fputs(DATASET_USAGE, stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[0], "build") == 0) return cmd_build(argc - 1, argv + 1);
    if (strcmp(argv[0], "info") == 0) return cmd_info(argc - 1, argv + 1);
    return app_usage_error(DATASET_USAGE, "unknown command 'dataset %s'", argv[0]);
}

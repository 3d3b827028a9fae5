/* cadenza dataset build|info: token datasets from folders of MIDI, and what is in one. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "app.h"

static const char DATASET_OVERVIEW[] = "Token datasets from folders of MIDI, and what is in one (docs/formats.md).\n";

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

/* --stretch F,F,...: up to 16 factors from 0.1 to 10 into a stretch_list. */
typedef struct stretch_list {
    double f[16];
    size_t n;
} stretch_list;

static int parse_stretch(const char *list, void *dest, char *why, size_t n) {
    stretch_list *s = dest;
    s->n = 0;
    while (*list) {
        char *end;
        double f = strtod(list, &end);
        if (end == list || !(f >= 0.1 && f <= 10) || (*end && *end != ',') || s->n == 16) {
            snprintf(why, n, "up to 16 factors from 0.1 to 10 separated by commas, like 0.95,1,1.05");
            return 0;
        }
        s->f[s->n++] = f;
        list = *end ? end + 1 : end;
    }
    if (s->n == 0) snprintf(why, n, "factors from 0.1 to 10 separated by commas, like 0.95,1,1.05");
    return s->n > 0;
}

static int parse_programs(const char *value, void *dest, char *why, size_t n) {
    int r[2];
    if (!app_parse_range(value, r, why, n) || r[0] < 0) {
        snprintf(why, n, "A:B with 0 <= A <= B <= 127");
        return 0;
    }
    memcpy(dest, r, sizeof r);
    return 1;
}

static int parse_fraction(const char *value, void *dest, char *why, size_t n) {
    double f;
    if (app_parse_double(value, 0, 1, &f) && f < 1) {
        *(double *)dest = f;
        return 1;
    }
    snprintf(why, n, "a number from 0 up to (not including) 1");
    return 0;
}

/* The largest reason the extractor gave for dropping material, as the counter's name. */
static const char *dominant_reason(const cdz_extract_stats *s, uint64_t *count) {
    const struct {
        uint64_t v;
        const char *what;
    } c[] = {{s->too_short, "too short"}, {s->polyphonic_tracks, "polyphonic tracks"}, {s->empty, "empty"},
             {s->too_few_pitches, "too few pitch classes"}, {s->non_integer_bar, "parts with an unusable bar length"},
             {s->not_four_voices, "not four voices"}, {s->out_of_range, "pitches out of range"},
             {s->unsupported_meter, "in a meter the codec has no token for"}};
    size_t best = 0;
    for (size_t i = 1; i < sizeof c / sizeof *c; i++)
        if (c[i].v > c[best].v) best = i;
    *count = c[best].v;
    return c[best].v ? c[best].what : NULL;
}

/* After a build that gave no sequence: what went wrong and what to try. */
static void explain_empty(const cdz_build_params *p, const cdz_build_report *r, const char *out) {
    size_t unreadable = r->skipped_unreadable + r->skipped_broken;
    app_error("no sequences: none of the %zu files gave one for codec %s; %s was not written%s", r->files, p->codec->name,
              out, access(out, F_OK) == 0 ? " (the file there is as it was)" : "");
    if (unreadable == r->files) {
        fprintf(stderr, "  every file was unreadable or broken; the first: %s\n", r->first_problem);
        return;
    }
    uint64_t count;
    const char *why = dominant_reason(&r->stats, &count);
    if (why) fprintf(stderr, "  the extractor's main reason: %llu %s\n", (unsigned long long)count, why);
    int melody_like = strcmp(p->codec->name, "melody") == 0 || strncmp(p->codec->name, "lookback", 8) == 0 ||
                      strncmp(p->codec->name, "key_melody", 10) == 0 || strncmp(p->codec->name, "vae_", 4) == 0;
    if (why && (strcmp(why, "too short") == 0 || strcmp(why, "empty") == 0) && r->tempo_changes && !p->single_tempo &&
        melody_like) {
        fprintf(stderr, "  %zu of the %zu files change tempo, and melodies are cut at every change (files with a tempo\n"
                        "  per beat leave nothing long enough): try --one-tempo, which reads each file at its first tempo\n",
                r->tempo_changes, r->files);
    } else if (p->tracks || p->program_min > 0 || p->program_max < 127) {
        fprintf(stderr, "  --tracks or --programs may have left nothing: 'cadenza midi info FILE' lists each file's\n"
                        "  tracks and programs\n");
    } else if (why && (strcmp(why, "empty") == 0 || strcmp(why, "polyphonic tracks") == 0)) {
        fprintf(stderr, "  the codec found no tracks it could use: choose them with --tracks NAMES or --programs A:B\n"
                        "  ('cadenza midi info FILE' lists each file's tracks; 'cadenza codec list' says what each\n"
                        "  codec reads)\n");
    } else if (why && (strcmp(why, "not four voices") == 0 || strcmp(why, "pitches out of range") == 0)) {
        fprintf(stderr, "  the chorale codec reads four voices (tracks or channels) within pitches 36-81\n");
    } else if (!why) {
        fprintf(stderr, "  the files hold no notes the codec could use ('cadenza codec list' says what each reads)\n");
    }
}

/* An audio build's table: files, and hours of audio by split. */
static void print_audio_report(const cdz_build_report *r, uint32_t rate, FILE *f) {
    fprintf(f, "  files        %8zu found, %zu used\n", r->files, r->files_used);
    fprintf(f, "  skipped      %8zu unreadable, %zu broken or not renderable\n", r->skipped_unreadable, r->skipped_broken);
    if (r->first_problem[0]) fprintf(f, "               first problem: %s\n", r->first_problem);
    if (r->skipped_licence) fprintf(f, "  licence      %8zu left out\n", r->skipped_licence);
    if (r->converted) fprintf(f, "  converted    %8zu WAV files made mono or resampled to %u Hz\n", r->converted, rate);
    fprintf(f, "  clips        %8zu (train %zu, eval %zu, test %zu)\n", r->seqs[0] + r->seqs[1] + r->seqs[2], r->seqs[0],
            r->seqs[1], r->seqs[2]);
    fprintf(f, "  hours        %8.3f (train %.3f, eval %.3f, test %.3f)\n",
            (double)(r->tokens[0] + r->tokens[1] + r->tokens[2]) / rate / 3600, (double)r->tokens[0] / rate / 3600,
            (double)r->tokens[1] / rate / 3600, (double)r->tokens[2] / rate / 3600);
}

static int cmd_build(int argc, char **argv) {
    cdz_build_params p = cdz_build_default_params();
    stretch_list stretch = {{0}, 0};
    const char *out = NULL;
    app_list inputs = {0};
    int transpose[2] = {0, 0}, programs[2] = {0, 127}, force = 0;
    long long style = -1, threads = p.threads, rate = 24000;
    int audio = 0;
    app_opt opts[] = {
        APP_OPT_CUSTOM("--codec", app_parse_codec, &p.codec, "NAME", "the codec (required for tokens; 'cadenza codec list')"),
        APP_OPT_SWITCH("--audio", &audio, "an audio dataset instead: MIDI files rendered with FluidSynth, WAV files\n"
                                          "read, as int16 mono at --sample-rate (for the audio codec)"),
        APP_OPT_LONG("--sample-rate", &rate, 8000, 96000, "HZ", "the audio dataset's rate (default 24000)"),
        APP_OPT_STRING("--soundfont", &p.soundfont, "FILE.sf2", "the SoundFont MIDI files are rendered with (default: as\n"
                                                                "'cadenza render')"),
        APP_OPT_LIST("--in", &inputs, "DIR_OR_FILE", "a folder (walked for .mid, .midi, .kar, .rmi) or a file; repeatable\n"
                                                      "(required)"),
        APP_OPT_STRING("--out", &out, "FILE.cdz", "the dataset to write (required)"),
        APP_OPT_CUSTOM("--transpose", app_parse_range, transpose, "A:B",
                       "also encode every transposition from A to B semitones (e.g. -3:3)"),
        APP_OPT_CUSTOM("--stretch", parse_stretch, &stretch, "F,F,...",
                       "also encode time-stretched copies (e.g. 0.95,1,1.05; for performances)"),
        APP_OPT_LONG("--style", &style, 0, 65535, "K", "put style token K first in every sequence (multitrack: 0-31)"),
        APP_OPT_CUSTOM("--eval-fraction", parse_fraction, &p.eval_fraction, "F",
                       "put files whose content hash falls below F in the eval split"),
        APP_OPT_SWITCH("--split-from-path", &p.split_from_path,
                       "use the corpus's split: folders test/ -> test, valid/ or eval/ -> eval"),
        APP_OPT_CUSTOM("--programs", parse_programs, programs, "A:B",
                       "keep only notes of General MIDI programs A to B (0-127; drums stay)"),
        APP_OPT_STRING("--tracks", &p.tracks, "NAMES",
                       "keep only tracks with these names (comma-separated, any case), e.g. PIANO"),
        APP_OPT_STRING("--beats", &p.beats, "NAME",
                       "bar lines from the beat annotation of that name beside each file (POP909:\n"
                       "beat_midi.txt, whose last column marks each bar's first beat; for the remi codecs,\n"
                       "which otherwise estimate POP909's bars from the notes)"),
        APP_OPT_SWITCH("--one-tempo", &p.single_tempo,
                       "read each file at its first tempo (for files with a tempo per beat, whose\n"
                       "melodies would otherwise be cut at every tempo change)"),
        APP_OPT_STRING("--licence", &p.licences, "CLASSES",
                       "keep only files whose licence (index.json beside the files) is of these classes,\n"
                       "comma-separated: public-domain, cc0, cc-by, cc-by-sa, cc-by-nc, cc-by-nd, mit, gpl,\n"
                       "odbl, unknown (e.g. public-domain,cc0,cc-by,mit for a model to ship)"),
        APP_OPT_STRING("--assume-licence", &p.assume_licence, "TEXT",
                       "the licence of files no index.json describes (e.g. MIT for POP909)"),
        APP_OPT_CUSTOM("--anticipation", parse_fraction, &p.anticipation, "F",
                       "ensemble codec: the share of sequences with anticipated parts (default 0.5; 0:\n"
                       "a plain autoregressive dataset)"),
        APP_OPT_LONG("--threads", &threads, 1, 64, "N", "workers (default 2)"),
        APP_OPT_FORCE(&force),
        APP_END};
    const app_cmd cmd = {"dataset build", "--codec NAME --in DIR_OR_FILE [--in ...] --out FILE.cdz [options]",
                         "Reads, extracts and encodes every MIDI file of the inputs into one dataset, with a progress\n"
                         "bar and a table of what was used and skipped. When no file gives a sequence nothing is\n"
                         "written, and the command says what to try.",
                         opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (audio && p.codec) {
        app_list_free(&inputs);
        return app_usage(&cmd, "--audio builds audio, not tokens: leave out --codec");
    }
    if (!audio && app_opt_seen(opts, "--sample-rate")) {
        app_list_free(&inputs);
        return app_usage(&cmd, "--sample-rate is for --audio datasets");
    }
    if (audio) p.audio_rate = (uint32_t)rate;
    const char *missing = !p.codec && !audio ? "--codec NAME" : !inputs.n ? "--in DIR_OR_FILE" : !out ? "--out FILE.cdz" : NULL;
    if (missing) {
        app_list_free(&inputs);
        return app_usage(&cmd, "%s is required", missing);
    }
    if (!app_output_ok(out, force)) {
        app_list_free(&inputs);
        return EXIT_FAIL;
    }
    p.transpose_min = transpose[0], p.transpose_max = transpose[1];
    p.program_min = programs[0], p.program_max = programs[1];
    p.stretch = stretch.n ? stretch.f : NULL, p.n_stretch = stretch.n;
    p.style = (int)style, p.threads = (int)threads;
    p.inputs = inputs.v;
    p.n_inputs = (size_t)inputs.n;
    progress prog = {now_s(), 0, isatty(2)};
    p.progress = show_progress;
    p.progress_ctx = &prog;
    cdz_build_report r;
    cdz_error err = {0};
    cdz_status st = cdz_dataset_build(&p, out, &r, &err);
    app_list_free(&inputs);
    size_t seqs = r.seqs[0] + r.seqs[1] + r.seqs[2], toks = r.tokens[0] + r.tokens[1] + r.tokens[2];
    if (st != CDZ_OK && !(st == CDZ_ERR_RANGE && seqs == 0)) { /* no sequence: explained below */
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    double el = now_s() - prog.start;
    if (st == CDZ_OK && audio) {
        printf("wrote %s (audio, int16 mono at %u Hz) in %.1f s: %.1f s of audio a second\n", out, p.audio_rate, el,
               (double)toks / p.audio_rate / el);
        print_audio_report(&r, p.audio_rate, stdout);
        return EXIT_OK;
    }
    if (audio) { /* nothing written */
        print_audio_report(&r, p.audio_rate, stderr);
        app_error("%s: not written: no file gave audio", out);
        return EXIT_FAIL;
    }
    if (st == CDZ_OK)
        printf("wrote %s (%s, %u tokens) in %.1f s: %.0f files/s, %.0f tokens/s\n", out, p.codec->name,
               p.codec->vocab_size, el, r.files / el, toks / el);
    FILE *f = st == CDZ_OK ? stdout : stderr; /* a failed build's table explains the failure */
    fprintf(f, "  files        %8zu found, %zu used\n", r.files, r.files_used);
    fprintf(f, "  skipped      %8zu unreadable, %zu broken MIDI, %zu with nothing to extract\n", r.skipped_unreadable,
            r.skipped_broken, r.skipped_empty);
    if (r.first_problem[0]) fprintf(f, "               first problem: %s\n", r.first_problem);
    if (p.licences) fprintf(f, "  licence      %8zu left out (not %s)\n", r.skipped_licence, p.licences);
    if (r.indexed) fprintf(f, "  index        %8zu files described by an index.json (style, composer, licence)\n", r.indexed);
    if (r.stats.unisons) fprintf(f, "  unisons      %8llu notes of one instrument group at one pitch and onset, written once\n",
                                 (unsigned long long)r.stats.unisons);
    if (r.stats.folded_pitches)
        fprintf(f, "  pitches      %8llu outside 21-108 moved by octaves into it\n", (unsigned long long)r.stats.folded_pitches);
    if (p.beats) {
        fprintf(f, "  beats        %8zu files with bars from their %s, %zu without\n", r.beats_used, p.beats, r.beats_missing);
        if (r.beats_problem[0]) fprintf(f, "               first problem: %s\n", r.beats_problem);
    }
    fprintf(f, "  sequences    %8zu (train %zu, eval %zu, test %zu)\n", seqs, r.seqs[0], r.seqs[1], r.seqs[2]);
    fprintf(f, "  tokens       %8zu (train %zu, eval %zu, test %zu)\n", toks, r.tokens[0], r.tokens[1], r.tokens[2]);
    char dropped[400];
    app_describe_stats(&r.stats, dropped, sizeof dropped);
    fprintf(f, "  extractor    %llu sequences kept%s; %llu truncated\n", (unsigned long long)r.stats.sequences,
            dropped[0] ? dropped : " (nothing dropped)", (unsigned long long)r.stats.truncated);
    const cdz_extract_stats *x = &r.stats;
    if (x->estimated_bars || x->long_notes || x->clamped_tempos || x->silent_melody || x->odd_bars || x->long_pairs)
        fprintf(f, "  bars         %llu scores with bar lines estimated from their notes, %llu bars of a length no meter "
                "token holds (the nearest written), %llu notes shortened to the longest duration, %llu tempos outside the "
                "tokens' range (the nearest written), %llu stretches without melody (kept), %llu pairs with a side of "
                "more than %d tokens (left out)\n",
                (unsigned long long)x->estimated_bars, (unsigned long long)x->odd_bars, (unsigned long long)x->long_notes,
                (unsigned long long)x->clamped_tempos, (unsigned long long)x->silent_melody,
                (unsigned long long)x->long_pairs, CDZ_REMI_PART_MAX);
    if (st != CDZ_OK) {
        explain_empty(&p, &r, out);
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
    app_opt opts[] = {APP_ARG("FILE.cdz", &path, "a dataset written by 'cadenza dataset build'"), APP_OPT_JSON(&json),
                      APP_END};
    const app_cmd cmd = {"dataset info", "FILE.cdz [--json]",
                         "Counts by split, a length histogram and token frequencies.", opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!path) return app_usage(&cmd, "no dataset given");
    cdz_dataset ds;
    cdz_error err = {0};
    if (cdz_dataset_open(&ds, path, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    if (!ds.tokens) { /* audio or feature shards: counts only, no token table */
        printf("%s: %s shard (version %u), %s, width %u: %llu sequences, %llu elements\n", path, cdz_dtype_name(ds.dtype),
               ds.version, ds.codec, ds.width, (unsigned long long)ds.n_seqs, (unsigned long long)ds.n_tokens);
        cdz_dataset_close(&ds);
        return EXIT_OK;
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
    static const app_sub subs[] = {
        {"build", cmd_build, "--codec NAME --in DIR_OR_FILE --out FILE.cdz [options]: a token dataset from\n"
                             "folders of MIDI"},
        {"info", cmd_info, "FILE.cdz [--json]: counts by split, a length histogram and token frequencies"},
    };
    return app_dispatch("dataset", DATASET_OVERVIEW, subs, 2, NULL, argc, argv);
}

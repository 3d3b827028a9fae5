/* cadenza codec list|encode|decode: music as tokens, readable by people and programs. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

static const char CODEC_OVERVIEW[] = "Music as tokens, readable by people and programs.\n";

/* The codecs, from the codec table: for --help and for messages about --codec. */
static void print_codecs(FILE *f) {
    const cdz_codec *const *list;
    size_t n = cdz_codec_list(&list);
    fprintf(f, "\ncodecs (%zu; 'cadenza codec list' gives their vocabulary sizes):\n", n);
    for (size_t i = 0; i < n; i++) fprintf(f, "  %-18s %s\n", list[i]->name, list[i]->description);
}

int app_parse_codec(const char *value, void *dest, char *why, size_t n) {
    const cdz_codec *c = cdz_codec_find(value);
    if (c) {
        *(const cdz_codec **)dest = c;
        return 1;
    }
    const cdz_codec *const *list;
    size_t k = cdz_codec_list(&list);
    const char *names[64];
    for (size_t i = 0; i < k && i < 64; i++) names[i] = list[i]->name;
    const char *near = app_closest(value, names, k < 64 ? k : 64);
    int at = snprintf(why, n, "no such codec");
    if (near) snprintf(why + at, n - (size_t)at, "; did you mean '%s'?", near);
    else snprintf(why + at, n - (size_t)at, " (see 'cadenza codec list')");
    return 0;
}

static int cmd_list(int argc, char **argv) {
    app_opt opts[] = {APP_END};
    const app_cmd cmd = {"codec list", "", "The codecs, their vocabulary sizes and what each encodes.", opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    const cdz_codec *const *list;
    size_t n = cdz_codec_list(&list);
    for (size_t i = 0; i < n; i++) printf("%-12s %4u tokens  %s\n", list[i]->name, list[i]->vocab_size, list[i]->description);
    return EXIT_OK;
}

static void write_text(FILE *f, const cdz_codec *c, const cdz_tokens *t) {
    char name[64];
    for (size_t s = 0; s < t->n_seqs; s++) {
        fprintf(f, "# sequence %zu: %zu tokens\n", s, t->offsets[s + 1] - t->offsets[s]);
        for (size_t i = t->offsets[s]; i < t->offsets[s + 1]; i++) {
            c->token_name(t->tokens[i], name, sizeof name);
            fprintf(f, "%s\n", name);
        }
    }
}

static void write_json(FILE *f, const cdz_codec *c, const cdz_tokens *t) {
    fprintf(f, "{\"codec\":\"%s\",\"vocab_size\":%u,\"sequences\":[", c->name, c->vocab_size);
    for (size_t s = 0; s < t->n_seqs; s++) {
        fputs(s ? ",\n[" : "\n[", f);
        for (size_t i = t->offsets[s]; i < t->offsets[s + 1]; i++) fprintf(f, i > t->offsets[s] ? ",%u" : "%u", t->tokens[i]);
        fputc(']', f);
    }
    fputs("]}\n", f);
}

typedef struct codec_args {
    const cdz_codec *codec;
    const char *in, *out;
    int json, force;
    long long sequence;
} codec_args;

static int cmd_encode(int argc, char **argv) {
    codec_args args = {0}, *a = &args;
    app_opt opts[] = {
        APP_ARG("IN.mid", &a->in, "the MIDI file to encode"),
        APP_OPT_CUSTOM("--codec", app_parse_codec, &a->codec, "NAME", "the codec (required; listed below)"),
        APP_OPT_SWITCH("--json", &a->json, "write {\"codec\", \"vocab_size\", \"sequences\": [[ids], ...]}"),
        APP_OPT_STRING("--out", &a->out, "FILE", "write the tokens to FILE (default: standard output)"),
        APP_OPT_FORCE(&a->force),
        APP_END};
    const app_cmd cmd = {"codec encode", "--codec NAME IN.mid [--json] [--out FILE]",
                         "Extracts and encodes: one token name per line, each sequence under a '# sequence N'\n"
                         "line; --json: the token ids.",
                         opts, NULL, print_codecs};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!a->codec) return app_usage(&cmd, "--codec NAME is required");
    if (!a->in) return app_usage(&cmd, "no input file given");
    if (a->out && !app_output_ok(a->out, a->force)) return EXIT_FAIL;
    cdz_error err = {0};
    cdz_score s;
    if (app_read_score(&s, a->in) != EXIT_OK) return EXIT_FAIL;
    cdz_tokens t = {0};
    cdz_extract_stats stats = {0};
    cdz_status st = a->codec->encode(&s, &t, &stats, &err);
    cdz_score_free(&s);
    if (st != CDZ_OK) {
        app_error("%s: %s", a->in, err.msg);
        cdz_tokens_free(&t);
        return EXIT_FAIL;
    }
    FILE *f = a->out ? fopen(a->out, "w") : stdout;
    if (!f) {
        app_error("%s: cannot write: %s", a->out, strerror(errno));
        cdz_tokens_free(&t);
        return EXIT_FAIL;
    }
    a->json ? write_json(f, a->codec, &t) : write_text(f, a->codec, &t);
    int bad = ferror(f) || (a->out ? fclose(f) != 0 : fflush(f) != 0);
    if (bad) app_error("%s: write failed", a->out ? a->out : "standard output");
    if (t.n_seqs == 0) {
        char why[256];
        app_describe_stats(&stats, why, sizeof why);
        fprintf(stderr, "cadenza: %s: nothing to encode with '%s'%s\n", a->in, a->codec->name, why);
    }
    cdz_tokens_free(&t);
    return bad ? EXIT_FAIL : EXIT_OK;
}

/* Token names to ids: an open-addressing table built once per decode, so reading is linear. */
typedef struct name_table {
    uint32_t *slots; /* token + 1, 0 = empty */
    size_t mask;
    const cdz_codec *c;
} name_table;

static uint64_t name_hash(const char *s) { return cdz_fnv1a64(CDZ_FNV_OFFSET, s, strlen(s)); }

static cdz_status name_table_init(name_table *nt, const cdz_codec *c) {
    size_t size = 16;
    while (size < 2 * (size_t)c->vocab_size) size *= 2;
    nt->slots = cdz_calloc(size, sizeof *nt->slots);
    nt->mask = size - 1;
    nt->c = c;
    if (!nt->slots) return CDZ_ERR_NOMEM;
    char name[64];
    for (uint32_t t = 0; t < c->vocab_size; t++) {
        c->token_name((uint16_t)t, name, sizeof name);
        size_t i = (size_t)name_hash(name) & nt->mask;
        while (nt->slots[i]) i = (i + 1) & nt->mask;
        nt->slots[i] = t + 1;
    }
    return CDZ_OK;
}

static int name_table_find(const name_table *nt, const char *word, uint16_t *tok) {
    char name[64];
    for (size_t i = (size_t)name_hash(word) & nt->mask; nt->slots[i]; i = (i + 1) & nt->mask) {
        nt->c->token_name((uint16_t)(nt->slots[i] - 1), name, sizeof name);
        if (strcmp(name, word) == 0) {
            *tok = (uint16_t)(nt->slots[i] - 1);
            return 1;
        }
    }
    return 0;
}

/* Reads token sequences from text (names or numbers, '# sequence' lines between sequences) or from
 * the JSON that encode writes (every integer inside "sequences", one sequence per inner array). */
static cdz_status read_tokens(const cdz_codec *c, const char *text, size_t len, cdz_tokens *t, cdz_error *err) {
    uint16_t *seq = NULL;
    size_t n = 0, cap = 0;
    cdz_status st = CDZ_OK;
    const char *p = text, *end = text + len;
    while (p < end && isspace((unsigned char)*p)) p++;
    if (p < end && *p == '{') {
        /* The text ends in a NUL (cdz_file_read_all), so the string searches stop at the end. */
        const char *q = strstr(p, "\"sequences\"");
        q = q ? strchr(q, '[') : NULL;
        if (!q) return cdz_error_set(err, CDZ_ERR_FORMAT, "JSON without a \"sequences\" array");
        int depth = 0;
        for (; q < end && !st; q++) {
            if (*q == '[') {
                depth++;
            } else if (*q == ']') {
                if (depth == 2) st = cdz_tokens_append(t, seq, n), n = 0;
                if (--depth == 0) break;
            } else if (*q == '-' || *q == '.' || isdigit((unsigned char)*q)) {
                char *num_end;
                long v = strtol(q, &num_end, 10);
                if (depth != 2 || *q == '-' || *q == '.' || *num_end == '.' || *num_end == 'e' || *num_end == 'E' ||
                    v >= (long)c->vocab_size) {
                    st = cdz_error_set(err, CDZ_ERR_FORMAT, "byte %zu: expected a token id 0-%u inside \"sequences\"",
                                       (size_t)(q - text), c->vocab_size - 1);
                    break;
                }
                q = num_end - 1;
                if (cdz_grow((void **)&seq, &cap, n + 1, sizeof *seq)) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory reading tokens");
                else seq[n++] = (uint16_t)v;
            }
        }
        if (!st && depth != 0) st = cdz_error_set(err, CDZ_ERR_FORMAT, "the \"sequences\" array is not closed");
        cdz_free(seq);
        return st;
    }
    size_t line_no = 0;
    int started = 0;
    name_table names;
    if (name_table_init(&names, c) != CDZ_OK) {
        cdz_free(names.slots);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory reading tokens");
    }
    while (p < end && !st) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol) eol = end;
        line_no++;
        char word[64];
        size_t k = 0;
        while (p < eol && isspace((unsigned char)*p)) p++;
        while (p < eol && !isspace((unsigned char)*p) && k + 1 < sizeof word) word[k++] = *p++;
        word[k] = 0;
        p = eol + 1;
        if (k == 0) continue;
        if (word[0] == '#') {
            if (started) st = cdz_tokens_append(t, seq, n), n = 0;
            started = 1;
            continue;
        }
        uint16_t tok;
        char *num_end;
        long v = strtol(word, &num_end, 10);
        if (*num_end == 0 && v >= 0 && v < (long)c->vocab_size) tok = (uint16_t)v;
        else if (!name_table_find(&names, word, &tok)) {
            cdz_free(seq);
            cdz_free(names.slots);
            return cdz_error_set(err, CDZ_ERR_FORMAT, "line %zu: '%s' is not a %s token", line_no, word, c->name);
        }
        if (cdz_grow((void **)&seq, &cap, n + 1, sizeof *seq)) st = CDZ_ERR_NOMEM;
        else seq[n++] = tok;
        started = 1;
    }
    if (!st && (n || started)) st = cdz_tokens_append(t, seq, n);
    cdz_free(seq);
    cdz_free(names.slots);
    if (st == CDZ_ERR_NOMEM) cdz_error_set(err, st, "out of memory reading tokens");
    return st;
}

static int cmd_decode(int argc, char **argv) {
    codec_args args = {0}, *a = &args;
    app_opt opts[] = {
        APP_ARG("IN", &a->in, "tokens: a text file (names or numbers) or the JSON that encode writes"),
        APP_OPT_CUSTOM("--codec", app_parse_codec, &a->codec, "NAME", "the codec (required; listed below)"),
        APP_OPT_STRING("--out", &a->out, "OUT.mid", "the MIDI file to write (required)"),
        APP_OPT_LONG("--sequence", &a->sequence, 0, LLONG_MAX, "N", "which of several sequences (default 0)"),
        APP_OPT_FORCE(&a->force),
        APP_END};
    const app_cmd cmd = {"codec decode", "--codec NAME IN.txt|IN.json --out OUT.mid [--sequence N]",
                         "Tokens (names or numbers, or the JSON of 'codec encode --json') back to MIDI.", opts, NULL,
                         print_codecs};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    if (!a->codec) return app_usage(&cmd, "--codec NAME is required");
    if (!a->in) return app_usage(&cmd, "no input file given");
    if (!a->out) return app_usage(&cmd, "--out OUT.mid is required");
    if (!app_output_ok(a->out, a->force)) return EXIT_FAIL;
    cdz_error err = {0};
    uint8_t *text;
    size_t len;
    if (cdz_file_read_all(a->in, &text, &len, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    cdz_tokens t = {0};
    cdz_status st = read_tokens(a->codec, (const char *)text, len, &t, &err);
    cdz_free(text);
    if (st != CDZ_OK) {
        app_error("%s: %s", a->in, err.msg);
        cdz_tokens_free(&t);
        return EXIT_FAIL;
    }
    if ((size_t)a->sequence >= t.n_seqs) {
        app_error("%s: has %zu sequence%s, no sequence %lld", a->in, t.n_seqs, t.n_seqs == 1 ? "" : "s", a->sequence);
        cdz_tokens_free(&t);
        return EXIT_FAIL;
    }
    size_t from = t.offsets[a->sequence], to = t.offsets[a->sequence + 1];
    cdz_score s;
    st = a->codec->decode(t.tokens + from, to - from, &s, &err);
    cdz_tokens_free(&t);
    if (st == CDZ_OK) {
        st = cdz_score_write_file(&s, a->out, 1, &err);
        if (st == CDZ_OK) printf("wrote %s: %zu notes, %.2f s\n", a->out, s.n_notes, s.duration_s);
        cdz_score_free(&s);
    }
    if (st != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

int cmd_codec(int argc, char **argv) {
    static const app_sub subs[] = {
        {"list", cmd_list, "the codecs and their vocabulary sizes"},
        {"encode", cmd_encode, "--codec NAME IN.mid [--json] [--out FILE]: extract and encode, one token\n"
                               "name per line (--json: ids)"},
        {"decode", cmd_decode, "--codec NAME IN.txt|IN.json --out OUT.mid: tokens back to MIDI"},
    };
    return app_dispatch("codec", CODEC_OVERVIEW, subs, 3, print_codecs, argc, argv);
}

/* The flag parser every command uses (declared in app.h): a command's flags and positional arguments
 * are a table; the parser stores the values, prints the help from the table, and gives one set of
 * messages for mistakes, each followed by one usage line (not the whole help) and exit status 2. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

/* The help's option column: "  --checkpoint-every N  " is 24 wide. */
enum { HELP_COLUMN = 24 };

void app_list_free(app_list *l) {
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ---- suggestions ---- */

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions), for words up to 63
 * characters; longer ones are far from every flag anyway. */
static size_t edit_distance(const char *a, const char *b) {
    size_t n = strlen(a), m = strlen(b);
    if (n > 63 || m > 63) return 64;
    size_t d[64][64];
    for (size_t i = 0; i <= n; i++) d[i][0] = i;
    for (size_t j = 0; j <= m; j++) d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1], best = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

static const char *skip_dashes(const char *s) {
    while (*s == '-') s++;
    return s;
}

const char *app_closest(const char *word, const char *const *candidates, size_t n) {
    const char *w = skip_dashes(word), *best = NULL, *prefix_of = NULL;
    size_t best_d = (size_t)-1, len = strlen(w), prefixes = 0;
    if (!*w) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!candidates[i]) continue;
        const char *c = skip_dashes(candidates[i]);
        size_t d = edit_distance(w, c);
        if (d < best_d) best_d = d, best = candidates[i];
        if (len >= 3 && strncmp(c, w, len) == 0) prefixes++, prefix_of = candidates[i];
    }
    /* close enough to be a slip of the fingers: one edit in four characters, at least two */
    size_t allowed = len / 4 > 2 ? len / 4 : 2;
    if (best && best_d <= allowed && best_d < len) return best;
    return prefixes == 1 ? prefix_of : NULL;
}

/* ---- messages ---- */

/* "render" from "usage: cadenza render IN.mid ...": the lower-case words after "cadenza". */
static void command_words(const char *usage_line, char *buf, size_t n) {
    const char *p = strstr(usage_line, "cadenza");
    size_t k = 0;
    buf[0] = 0;
    if (!p) return;
    p += strlen("cadenza");
    for (;;) {
        while (*p == ' ') p++;
        size_t w = 0;
        while ((p[w] >= 'a' && p[w] <= 'z') || (w > 0 && p[w] == '_')) w++;
        if (w == 0 || (p[w] != ' ' && p[w] != '\n' && p[w] != 0) || k + w + 2 > n) break;
        k += (size_t)snprintf(buf + k, n - k, "%s%.*s", k ? " " : "", (int)w, p);
        p += w;
    }
}

/* The one line after a usage error: the first form of the usage and where the rest is. */
static void usage_line(FILE *f, const char *name, const char *usage) {
    size_t first = strcspn(usage, "\n");
    fprintf(f, "usage: cadenza%s%s%s%.*s (cadenza%s%s --help for all %s)\n", *name ? " " : "", name, first ? " " : "",
            (int)first, usage, *name ? " " : "", name, strncmp(usage, "<command>", 9) == 0 ? "commands" : "options");
}

static int vusage(const app_cmd *cmd, const char *fmt, va_list ap) {
    fputs("cadenza: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    usage_line(stderr, cmd->name, cmd->usage);
    return EXIT_USAGE;
}

int app_usage(const app_cmd *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = vusage(cmd, fmt, ap);
    va_end(ap);
    return rc;
}

int app_usage_error(const char *usage, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("cadenza: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    char name[64];
    command_words(usage, name, sizeof name);
    const char *line = strncmp(usage, "usage: ", 7) == 0 ? usage + 7 : usage;
    size_t first = strcspn(line, "\n");
    fprintf(stderr, "usage: %.*s (cadenza%s%s --help for all options)\n", (int)first, line, *name ? " " : "", name);
    return EXIT_USAGE;
}

/* ---- help ---- */

/* Help text of an entry: its first line beside the flag, the others under it at the column. */
static void print_entry(FILE *f, const char *left, const char *help) {
    int width = fprintf(f, "  %s", left);
    const char *line = help ? help : "";
    int first = 1;
    do {
        size_t len = strcspn(line, "\n");
        if (first && width + 2 <= HELP_COLUMN) fprintf(f, "%*s", HELP_COLUMN - width, "");
        else fprintf(f, "\n%*s", HELP_COLUMN, "");
        fprintf(f, "%.*s", (int)len, line);
        line += len + (line[len] == '\n');
        first = 0;
    } while (*line);
    fputc('\n', f);
}

void app_print_help(const app_cmd *cmd, FILE *f) {
    const char *usage = cmd->usage;
    int line_no = 0;
    do { /* each form on a line of its own */
        size_t len = strcspn(usage, "\n");
        fprintf(f, "%s cadenza %s%s%.*s\n", line_no++ ? "      " : "usage:", cmd->name, len ? " " : "", (int)len, usage);
        usage += len + (usage[len] == '\n');
    } while (*usage);
    if (cmd->about) fprintf(f, "\n%s%s", cmd->about, cmd->about[strlen(cmd->about) - 1] == '\n' ? "" : "\n");
    int any_arg = 0;
    for (const app_opt *o = cmd->opts; o->kind != APP_END_KIND; o++)
        if ((o->kind == APP_POSITIONAL || o->kind == APP_POSITIONALS) && o->help) {
            if (!any_arg++) fputs("\narguments:\n", f);
            char left[96];
            snprintf(left, sizeof left, "%s%s", o->name, o->kind == APP_POSITIONALS ? "..." : "");
            print_entry(f, left, o->help);
        }
    fputs("\noptions:\n", f);
    for (const app_opt *o = cmd->opts; o->kind != APP_END_KIND; o++) {
        if (o->kind == APP_POSITIONAL || o->kind == APP_POSITIONALS || !o->help) continue;
        char left[128];
        int k = snprintf(left, sizeof left, "%s", o->name);
        for (int v = 0; o->kind != APP_SWITCH && v < (o->nargs > 1 ? o->nargs : 1) && k < (int)sizeof left; v++)
            k += snprintf(left + k, sizeof left - (size_t)k, " %s", o->value ? o->value : "VALUE");
        print_entry(f, left, o->help);
    }
    print_entry(f, "-h, --help", "this help");
    if (cmd->notes) fprintf(f, "\n%s%s", cmd->notes, cmd->notes[strlen(cmd->notes) - 1] == '\n' ? "" : "\n");
    if (cmd->more_help) cmd->more_help(f);
}

/* ---- values ---- */

/* A bound for messages: whole numbers as such, others as %g. */
static void format_bound(double v, char *buf, size_t n) {
    if (fabs(v) < 1e15 && v == floor(v)) snprintf(buf, n, "%.0f", v);
    else snprintf(buf, n, "%g", v);
}

/* What a kind of value takes, for the message after a bad one. */
static void describe(const app_opt *o, char *buf, size_t n) {
    char a[32], b[32];
    if (o->kind == APP_LONG || o->kind == APP_INT) {
        if (o->hi == LLONG_MAX) snprintf(buf, n, "a whole number from %lld up", o->lo);
        else snprintf(buf, n, "a whole number from %lld to %lld", o->lo, o->hi);
    } else {
        format_bound(o->flo, a, sizeof a);
        format_bound(o->fhi, b, sizeof b);
        snprintf(buf, n, "a number from %s to %s", a, b);
    }
}

/* Stores one value of o: 1, or 0 with what the flag takes in why. */
static int store(app_opt *o, const char *v, int index, char *why, size_t n) {
    long long ll;
    double d;
    switch (o->kind) {
    case APP_STRING: ((const char **)o->dest)[index] = v; return 1;
    case APP_LONG:
    case APP_INT:
        if (!app_parse_long(v, o->lo, o->hi, &ll)) break;
        if (o->kind == APP_LONG) *(long long *)o->dest = ll;
        else *(int *)o->dest = (int)ll;
        return 1;
    case APP_DOUBLE:
    case APP_FLOAT:
        if (!app_parse_double(v, o->flo, o->fhi, &d)) break;
        if (o->kind == APP_DOUBLE) *(double *)o->dest = d;
        else *(float *)o->dest = (float)d;
        return 1;
    case APP_CUSTOM:
        why[0] = 0;
        if (o->parse(v, o->dest, why, n)) return 1;
        if (!why[0]) snprintf(why, n, "not a valid %s", o->value ? o->value : "value");
        return 0;
    default: return 0;
    }
    describe(o, why, n);
    return 0;
}

/* Appends v to a list whose room (argc entries) is made on first use. */
static int append(app_list *l, const char *v, int argc) {
    if (!l->v && !(l->v = calloc((size_t)argc + 1, sizeof *l->v))) return 0;
    l->v[l->n++] = v;
    return 1;
}

static app_opt *find(app_opt *opts, const char *name, size_t len) {
    for (app_opt *o = opts; o->kind != APP_END_KIND; o++)
        if (o->kind != APP_POSITIONAL && o->kind != APP_POSITIONALS && strlen(o->name) == len &&
            strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static void free_lists(app_opt *opts) {
    for (app_opt *o = opts; o->kind != APP_END_KIND; o++)
        if (o->kind == APP_LIST || o->kind == APP_POSITIONALS) app_list_free(o->dest);
}

static int unknown_option(const app_cmd *cmd, const char *arg, size_t len) {
    const char *names[128];
    size_t n = 0;
    for (const app_opt *o = cmd->opts; o->kind != APP_END_KIND && n < 127; o++)
        if (o->kind != APP_POSITIONAL && o->kind != APP_POSITIONALS) names[n++] = o->name;
    names[n++] = "--help";
    char word[128];
    snprintf(word, sizeof word, "%.*s", (int)(len < 127 ? len : 127), arg);
    const char *near = app_closest(word, names, n);
    if (near) return app_usage(cmd, "unknown option '%s'; did you mean '%s'?", word, near);
    return app_usage(cmd, "unknown option '%s'", word);
}

static int parse(const app_cmd *cmd, int argc, char **argv) {
    app_opt *opts = cmd->opts;
    for (app_opt *o = opts; o->kind != APP_END_KIND; o++) o->seen = 0;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--") == 0) break;
        else if (app_is_help(argv[i])) {
            app_print_help(cmd, stdout);
            return EXIT_OK;
        }
    int only_positional = 0;
    app_opt *next_pos = opts;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!only_positional && strcmp(a, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (!only_positional && a[0] == '-' && a[1]) {
            const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            app_opt *o = find(opts, a, len);
            if (!o) return unknown_option(cmd, a, len);
            o->seen++;
            if (o->kind == APP_SWITCH) {
                if (eq) return app_usage(cmd, "option '%s' takes no value", o->name);
                *(int *)o->dest = 1;
                continue;
            }
            int nargs = o->kind == APP_STRING && o->nargs > 1 ? o->nargs : 1;
            for (int k = 0; k < nargs; k++) {
                const char *v;
                if (eq && k == 0) {
                    v = eq + 1;
                } else {
                    /* the next argument, unless it is one of this command's flags (a forgotten value) */
                    v = i + 1 < argc ? argv[i + 1] : NULL;
                    if (v && v[0] == '-' && v[1] == '-' && find(opts, v, strcspn(v, "="))) v = NULL;
                    if (!v) {
                        if (nargs > 1) return app_usage(cmd, "option '%s' needs %d values", o->name, nargs);
                        return app_usage(cmd, "option '%s' needs a value", o->name);
                    }
                    i++;
                }
                char why[256];
                if (o->kind == APP_LIST) {
                    if (!append(o->dest, v, argc)) return app_usage(cmd, "out of memory");
                } else if (!store(o, v, k, why, sizeof why)) {
                    return app_usage(cmd, "bad value '%s' for %s: %s", v, o->name, why);
                }
            }
            continue;
        }
        while (next_pos->kind != APP_END_KIND && next_pos->kind != APP_POSITIONAL && next_pos->kind != APP_POSITIONALS)
            next_pos++;
        if (next_pos->kind == APP_END_KIND) return app_usage(cmd, "unexpected argument '%s'", a);
        next_pos->seen++;
        if (next_pos->kind == APP_POSITIONALS) {
            if (!append(next_pos->dest, a, argc)) return app_usage(cmd, "out of memory");
        } else {
            *(const char **)next_pos->dest = a;
            next_pos++;
        }
    }
    return APP_GO_ON;
}

int app_parse(const app_cmd *cmd, int argc, char **argv) {
    int rc = parse(cmd, argc, argv);
    if (rc != APP_GO_ON) free_lists(cmd->opts);
    return rc;
}

int app_opt_seen(const app_opt *opts, const char *name) {
    for (const app_opt *o = opts; o->kind != APP_END_KIND; o++)
        if (strcmp(o->name, name) == 0) return o->seen;
    return 0;
}

/* ---- commands with subcommands ---- */

int app_dispatch(const char *group, const char *overview, const app_sub *subs, size_t n, void (*more_help)(FILE *f),
                 int argc, char **argv) {
    char usage[160];
    snprintf(usage, sizeof usage, "<command> [options]");
    app_opt none[] = {APP_END};
    const app_cmd cmd = {group, usage, NULL, none, NULL, NULL};
    if (argc < 1) return app_usage(&cmd, "missing command (%s)", n ? "see the list with --help" : "none");
    if (app_is_help(argv[0]) || strcmp(argv[0], "help") == 0) {
        fprintf(stdout, "usage: cadenza%s%s <command> [options]\n", *group ? " " : "", group);
        if (overview) fprintf(stdout, "\n%s", overview);
        fputs("\ncommands:\n", stdout);
        for (size_t i = 0; i < n; i++) print_entry(stdout, subs[i].name, subs[i].summary);
        if (more_help) more_help(stdout);
        fprintf(stdout, "\nRun 'cadenza%s%s <command> --help' for a command's options.\n", *group ? " " : "", group);
        return EXIT_OK;
    }
    const char *names[64];
    for (size_t i = 0; i < n; i++) {
        if (strcmp(argv[0], subs[i].name) == 0) return subs[i].run(argc - 1, argv + 1);
        if (i < 64) names[i] = subs[i].name;
    }
    const char *near = app_closest(argv[0], names, n < 64 ? n : 64);
    if (near)
        return app_usage(&cmd, "unknown command '%s%s%s'; did you mean '%s'?", group, *group ? " " : "", argv[0], near);
    return app_usage(&cmd, "unknown command '%s%s%s'", group, *group ? " " : "", argv[0]);
}

int app_parse_range(const char *value, void *dest, char *why, size_t n) {
    char *end;
    errno = 0;
    long a = strtol(value, &end, 10), b = 0;
    int ok = end != value && *end == ':';
    if (ok) {
        const char *second = end + 1;
        b = strtol(second, &end, 10);
        ok = end != second && *end == 0 && errno == 0 && a <= b && a >= -127 && b <= 127;
    }
    if (!ok) {
        snprintf(why, n, "A:B with -127 <= A <= B <= 127");
        return 0;
    }
    ((int *)dest)[0] = (int)a, ((int *)dest)[1] = (int)b;
    return 1;
}

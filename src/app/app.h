/* The cadenza command: shared helpers of the subcommands (the only code that prints or parses flags). */
#ifndef CADENZA_APP_H
#define CADENZA_APP_H

#include <limits.h>
#include <stdio.h>

#include "cadenza.h"

/* Exit statuses: 0 ok, 1 a file or the work failed, 2 bad usage. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

int cmd_midi(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_codec(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_accompany(int argc, char **argv);
int cmd_infill(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_vae(int argc, char **argv);
int cmd_audio(int argc, char **argv);

int cmd_models(int argc, char **argv);

/* ---- flags: one table-driven parser for every command (src/app/args.c) ----
 *
 * A command declares its flags and positional arguments in a table, ended by APP_END, and a
 * description of itself; app_parse stores each value where its entry points, prints the full help for
 * --help (stdout) and one consistent message plus one usage line for a mistake (stderr):
 *
 *   const char *in = NULL, *out = NULL;
 *   long long steps = 128;
 *   double gain = -1;
 *   int force = 0;
 *   cdz_sample_params sp = cdz_sample_default_params();
 *   long long seed = 1;
 *   app_opt opts[] = {
 *       APP_ARG("IN.mid", &in, "the MIDI file to read"),
 *       APP_OPT_STRING("--out", &out, "FILE.wav", "the file to write"),
 *       APP_OPT_LONG("--steps", &steps, 1, 1 << 20, "N", "steps to generate (default 128)"),
 *       APP_OPT_DOUBLE("--gain", &gain, 0, 10, "X", "a fixed gain instead of normalising\n(second line)"),
 *       APP_SAMPLING_OPTS(&sp, &seed),                 // --temperature --top-k --top-p --seed
 *       APP_OPT_FORCE(&force),                         // --force, as every command that writes has it
 *       APP_END};
 *   const app_cmd cmd = {"render", "IN.mid --out OUT.wav [options]", "What it does.", opts, NULL, NULL};
 *   int rc = app_parse(&cmd, argc, argv);
 *   if (rc != APP_GO_ON) return rc;                    // after --help (EXIT_OK) or a usage error (EXIT_USAGE)
 *   if (!out) return app_usage(&cmd, "--out FILE.wav is required");
 *   if (!app_output_ok(out, force)) return EXIT_FAIL;
 *
 * Messages: "unknown option '--temprature'; did you mean '--temperature'?", "option '--steps' needs a
 * value", "bad value '0.5' for --steps: a whole number from 1 to 1048576", "unexpected argument 'x'",
 * each followed by one line, "usage: cadenza render IN.mid --out OUT.wav [options] (cadenza render
 * --help for all options)", and exit status 2. Values may follow as the next argument or after '='
 * (--steps=8); a value may start with '-' (--transpose -3:3); "--" ends the options. A flag given
 * twice keeps the last value (lists keep all). Whether a flag was given: app_opt_seen. Required flags
 * and combinations are the command's to check after parsing (app_usage gives the same message form). */
enum { APP_GO_ON = -1 };

typedef enum app_kind {
    APP_END_KIND = 0, /* ends a table */
    APP_SWITCH,       /* no value: *(int *)dest = 1 */
    APP_STRING,       /* *(const char **)dest = the value (nargs values: dest is an array of nargs) */
    APP_LIST,         /* repeatable: appended to *(app_list *)dest */
    APP_LONG,         /* a whole number in [lo, hi]: *(long long *)dest */
    APP_INT,          /* a whole number in [lo, hi]: *(int *)dest */
    APP_DOUBLE,       /* a decimal in [flo, fhi]: *(double *)dest */
    APP_FLOAT,        /* a decimal in [flo, fhi]: *(float *)dest */
    APP_CUSTOM,       /* parse(value, dest, why, n): 1 when stored, else 0 with what it takes in why */
    APP_POSITIONAL,   /* a positional argument: *(const char **)dest, in table order */
    APP_POSITIONALS,  /* the remaining positional arguments: *(app_list *)dest */
} app_kind;

/* Strings gathered from the command line (they point into argv). Free v with app_list_free. */
typedef struct app_list {
    const char **v;
    int n;
} app_list;
void app_list_free(app_list *l);

typedef int (*app_parse_fn)(const char *value, void *dest, char *why, size_t n);

typedef struct app_opt {
    const char *name;  /* "--steps"; for positionals the name shown in messages and help ("IN.mid") */
    app_kind kind;
    void *dest;
    const char *value; /* the value's name in the help ("N", "FILE.wav") */
    const char *help;  /* one line, or several separated by \n; NULL: a hidden alias */
    long long lo, hi;  /* APP_LONG, APP_INT */
    double flo, fhi;   /* APP_DOUBLE, APP_FLOAT */
    app_parse_fn parse;/* APP_CUSTOM */
    int nargs;         /* APP_STRING: values after the flag (0 means 1) */
    int seen;          /* set by app_parse: how many times it was given */
} app_opt;

/* Type-checked table entries: a `dest` of the wrong type is a compiler warning. */
#define APP_CHECK_PTR(T, p) ((void *)(1 ? (p) : (T *)0))
#define APP_OPT_SWITCH(name_, dest_, help_) {.name = name_, .kind = APP_SWITCH, .dest = APP_CHECK_PTR(int, dest_), .help = help_}
#define APP_OPT_STRING(name_, dest_, value_, help_) \
    {.name = name_, .kind = APP_STRING, .dest = APP_CHECK_PTR(const char *, dest_), .value = value_, .help = help_}
#define APP_OPT_STRINGS(name_, dest_, nargs_, value_, help_) \
    {.name = name_, .kind = APP_STRING, .dest = APP_CHECK_PTR(const char *, dest_), .value = value_, .help = help_, .nargs = nargs_}
#define APP_OPT_LIST(name_, dest_, value_, help_) \
    {.name = name_, .kind = APP_LIST, .dest = APP_CHECK_PTR(app_list, dest_), .value = value_, .help = help_}
#define APP_OPT_LONG(name_, dest_, lo_, hi_, value_, help_) \
    {.name = name_, .kind = APP_LONG, .dest = APP_CHECK_PTR(long long, dest_), .value = value_, .help = help_, .lo = (lo_), .hi = (hi_)}
#define APP_OPT_INT(name_, dest_, lo_, hi_, value_, help_) \
    {.name = name_, .kind = APP_INT, .dest = APP_CHECK_PTR(int, dest_), .value = value_, .help = help_, .lo = (lo_), .hi = (hi_)}
#define APP_OPT_DOUBLE(name_, dest_, lo_, hi_, value_, help_) \
    {.name = name_, .kind = APP_DOUBLE, .dest = APP_CHECK_PTR(double, dest_), .value = value_, .help = help_, .flo = (lo_), .fhi = (hi_)}
#define APP_OPT_FLOAT(name_, dest_, lo_, hi_, value_, help_) \
    {.name = name_, .kind = APP_FLOAT, .dest = APP_CHECK_PTR(float, dest_), .value = value_, .help = help_, .flo = (lo_), .fhi = (hi_)}
#define APP_OPT_CUSTOM(name_, fn_, dest_, value_, help_) \
    {.name = name_, .kind = APP_CUSTOM, .dest = (dest_), .value = value_, .help = help_, .parse = (fn_)}
#define APP_ARG(name_, dest_, help_) {.name = name_, .kind = APP_POSITIONAL, .dest = APP_CHECK_PTR(const char *, dest_), .help = help_}
#define APP_ARGS(name_, dest_, help_) {.name = name_, .kind = APP_POSITIONALS, .dest = APP_CHECK_PTR(app_list, dest_), .help = help_}
#define APP_OPT_FORCE(dest_) APP_OPT_SWITCH("--force", dest_, "replace the output file if it exists")
#define APP_OPT_JSON(dest_) APP_OPT_SWITCH("--json", dest_, "machine-readable output")
#define APP_END {.name = NULL, .kind = APP_END_KIND}
/* The sampling flags generate and accompany share, into a cdz_sample_params * and a long long *. */
#define APP_SAMPLING_OPTS(sp, seed)                                                                                  \
    APP_OPT_FLOAT("--temperature", &(sp)->temperature, 0, 100, "X",                                                 \
                  "above 1 more random, below 1 more conservative, 0 greedy (default 1)"),                          \
    APP_OPT_INT("--top-k", &(sp)->top_k, 0, 1 << 20, "N", "sample only from the N most likely tokens (default 0: all)"), \
    APP_OPT_FLOAT("--top-p", &(sp)->top_p, 1e-6, 1, "X",                                                            \
                  "sample only from the smallest set of tokens whose probability reaches X\n(default 1: all)"),     \
    APP_OPT_LONG("--seed", (seed), 0, LLONG_MAX, "N",                                                               \
                 "random seed (default 1); the same seed and settings give the same music")

typedef struct app_cmd {
    const char *name;     /* the words after "cadenza": "render", "dataset build" */
    const char *usage;    /* what follows the name: "IN.mid --out OUT.wav [options]"; further forms on
                             further lines (the usage line of an error shows the first) */
    const char *about;    /* --help: what the command does, under the usage (NULL: nothing) */
    app_opt *opts;        /* ended by APP_END */
    const char *notes;    /* --help: text after the options (NULL: nothing) */
    void (*more_help)(FILE *f); /* --help: generated text after the notes (NULL: none) */
} app_cmd;

/* Parses argv[0 .. argc) (the arguments after the command's name) into the table: APP_GO_ON, or the
 * exit status after --help (EXIT_OK) or a usage error (EXIT_USAGE, message printed). */
int app_parse(const app_cmd *cmd, int argc, char **argv);
/* Prints "cadenza: <message>" and the command's usage line to stderr; returns EXIT_USAGE. */
int app_usage(const app_cmd *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The full help (what --help prints). */
void app_print_help(const app_cmd *cmd, FILE *f);
/* How many times the flag `name` of the table was given (after app_parse). */
int app_opt_seen(const app_opt *opts, const char *name);
/* When none of --temperature, --top-k, --top-p was given, the sampling the checkpoint recommends (its
 * card says why), said on stderr; EXIT_FAIL (said) when that metadata is malformed. */
int app_model_sampling(const char *ckpt, const app_opt *opts, cdz_sample_params *sp);
/* The evaluation window: 1024 tokens, or for an accompaniment model its longest window (a pair is read
 * whole from its start, melody and accompaniment: 2 x max_len). */
int app_eval_window(const cdz_model *m);
/* The candidate closest to `word` by edit distance (transpositions count one), or one it is a prefix
 * of when that is unique; NULL when none is close enough to suggest. */
const char *app_closest(const char *word, const char *const *candidates, size_t n);

/* A command with subcommands ("midi info", "codec list"): runs the one argv[0] names with the rest of
 * the arguments; --help prints `overview`, the subcommands and their summaries; none or an unknown one
 * is a usage error (the closest suggested). more_help (may be NULL) adds generated text to the help. */
typedef struct app_sub {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} app_sub;
int app_dispatch(const char *group, const char *overview, const app_sub *subs, size_t n, void (*more_help)(FILE *f),
                 int argc, char **argv);

/* APP_CUSTOM parsers shared by commands: a codec name (dest: const cdz_codec **; the closest name
 * suggested) and a range "A:B" of whole numbers within -127 .. 127 (dest: int[2]). */
int app_parse_codec(const char *value, void *dest, char *why, size_t n);
int app_parse_range(const char *value, void *dest, char *why, size_t n);

/* Seconds on a monotonic clock. */
double app_now(void);
/* Whole numbers and decimals from flags: 1 when s is entirely a number within [lo, hi]. */
int app_parse_long(const char *s, long long lo, long long hi, long long *out);
int app_parse_double(const char *s, double lo, double hi, double *out);
/* "1:23:45" or "3:07" for a duration in seconds */
void app_format_duration(double s, char *buf, size_t n);

/* The path of a shipped model, models/NAME.safetensors, looked for in $CADENZA_MODELS, ./models and
 * beside the program: 1 when found; else 0, having printed an error naming it. */
int app_find_model(const char *name, char *buf, size_t n);

/* The folders app_find_model searches, in order: $CADENZA_MODELS alone when set, else ./models and
 * models/ beside the program (build/../models, build/san/../../models). Returns how many (at most cap). */
size_t app_model_dirs(char dirs[][PATH_MAX], size_t cap);

/* Renders a MIDI file to a WAV file (generate and accompany --wav): EXIT_OK, -1 when the file holds
 * no notes (silent audio written), or EXIT_FAIL having printed why. */
int app_render_wav(const char *mid, const char *wav, const cdz_render_params *p);
/* --wav: renders FILE.mid to FILE.wav with the default settings (normalised to -1 dBFS) and says so,
 * with the gain applied (EXIT_OK or EXIT_FAIL). It replaces FILE.wav: check app_wav_name's path with
 * app_output_ok first. */
int app_wav_beside(const char *mid);
/* The WAV beside a MIDI file: "out/a.mid" -> "out/a.wav". */
void app_wav_name(const char *mid, char *buf, size_t n);

/* The sampling flags generate and accompany share (--seed, --temperature, --top-k, --top-p, with the
 * ranges of APP_SAMPLING_OPTS): 1 when `flag` is one of them and `value` is valid for it (stored), else 0. */
int app_parse_sampling(const char *flag, const char *value, cdz_sample_params *sp, long long *seed);

/* Whether a command may write `path`: 1 when nothing is there, or when force is set and it is a
 * file (not a folder); else 0, having printed "cadenza: PATH exists; use --force to replace it" (or
 * why not). Call it before any work, for every file a command will write. */
int app_output_ok(const char *path, int force);
/* Whether the folder a file would be written in exists and takes new files: 1, or 0 having printed
 * why (missing, not a folder, read-only, not writable by you). */
int app_folder_writable(const char *path);
/* --backend NAME: runs the model's layers on that backend (cadenza/backend.h): EXIT_OK, or EXIT_FAIL
 * having said which backends this build has or why that one cannot run the model. */
int app_set_backend(cdz_model *m, const char *name);
/* Reads a MIDI file into s, printing "note: PATH: ..." on stderr for each thing reading it left out or
 * repaired (cdz_score_warning): EXIT_OK, or EXIT_FAIL having printed why (s is then empty). */
int app_read_score(cdz_score *s, const char *path);
/* Those notes alone, for a score read by other means. */
void app_note_score_warnings(const cdz_score *s, const char *path);
/* Writes a score as a format-1 MIDI file with `text` (may be NULL) as a text event at its start, for
 * what made it (model, seed, settings): EXIT_OK, or EXIT_FAIL having printed why. */
int app_write_score(const cdz_score *s, const char *path, const char *text);
/* 1 when `path` ends in `ext` (".wav"), in any case. */
int app_has_extension(const char *path, const char *ext);

/* Prints "cadenza: <message>" to stderr. */
void app_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* For commands that keep a usage text of their own: prints "cadenza: <message>" and the first line of
 * `usage` (which starts "usage: cadenza NAME ...") with a pointer to --help, and returns EXIT_USAGE. */
int app_usage_error(const char *usage, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int app_is_help(const char *arg);

/* ", dropped: 3 polyphonic tracks, 2 too short" for the nonzero counters, or "" */
void app_describe_stats(const cdz_extract_stats *s, char *buf, size_t n);

/* JSON output */
void json_string(FILE *f, const char *s);
void json_string_n(FILE *f, const char *s, size_t n);
/* A number: finite doubles with up to 6 decimals; non-finite values as null. */
void json_number(FILE *f, double v);

/* "G major", "E minor" into buf */
void app_key_name(int sharps, int minor, char *buf, size_t n);
/* `cadenza generate` with an ensemble model (cmd_ensemble.c): the options generate parsed. */
typedef struct app_ens_opts {
    const char *style, *composer, *instruments, *meter;
    double minutes, seconds, qpm;
    int unconstrained, wav, plot, force;
    cdz_sample_params sampling;
    long long seed, outputs, context;
    const char *out, *out_dir;
} app_ens_opts;
int app_ensemble_generate(const cdz_model *m, const char *ckpt, const app_ens_opts *o);
/* cadenza eval ensemble (cmd_ensemble.c) */
int app_eval_ensemble(int argc, char **argv);
int app_eval_instruments(int argc, char **argv);
int app_eval_controls(int argc, char **argv);
int app_eval_audio(int argc, char **argv);
int app_eval_audio_stats(int argc, char **argv);

#endif

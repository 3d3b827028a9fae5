/* The cadenza command: shared helpers of the subcommands (the only code that prints or parses flags). */
#ifndef CADENZA_APP_H
#define CADENZA_APP_H

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
int cmd_export(int argc, char **argv);
int cmd_render(int argc, char **argv);
int cmd_plot(int argc, char **argv);

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

/* Renders a MIDI file to a WAV file (generate and accompany --wav): EXIT_OK, -1 when the file holds
 * no notes (silent audio written), or EXIT_FAIL having printed why. */
int app_render_wav(const char *mid, const char *wav, const cdz_render_params *p);
/* --wav: renders FILE.mid to FILE.wav with the default settings and says so (EXIT_OK or EXIT_FAIL). */
int app_wav_beside(const char *mid);

/* The sampling flags generate and accompany share (--seed, --temperature, --top-k, --top-p): 1 when
 * `flag` is one of them and `value` is valid for it (stored), else 0. */
int app_parse_sampling(const char *flag, const char *value, cdz_sample_params *sp, long long *seed);

/* Prints "cadenza: <message>" to stderr. */
void app_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Prints a usage text to stderr with an error line above it, and returns EXIT_USAGE. */
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
#endif

/* cadenza train: trains a model on a dataset, with a progress bar, JSON-lines logs, periodic
 * evaluation and checkpoints, a checkpoint at Ctrl-C and a clear stop when the loss is not finite.
 * Under mpirun it trains data-parallel over the ranks (cadenza/dist.h): the same run, each rank
 * computing its share of every batch; rank 0 alone prints, logs and writes checkpoints. */
#include <fcntl.h>
#include <math.h>
#include <errno.h>
#include <limits.h>
#include <sys/file.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"

static const char TRAIN_ABOUT[] =
    "Trains a model on a dataset with a progress bar, evaluation every --eval-every steps, JSON-lines logs,\n"
    "checkpoints (safetensors) and a clear stop if the loss stops being finite. Without --config the\n"
    "kind's default config is used (listed below); --print-config prints a config's JSON to start a file\n"
    "of one's own (--config FILE.json).";

static const char TRAIN_NOTES[] =
    "The checkpoint (--out, default CONFIG.safetensors) is not replaced without --force, unless the run\n"
    "resumes that very file. Ctrl-C stops after the current step and writes the checkpoint; a second\n"
    "Ctrl-C stops at once.\n"
    "\n"
    "Data-parallel on CPUs: 'mpirun -np N cadenza train ...' shares each batch (--batch, the global batch, a\n"
    "multiple of N) among N ranks and gives the losses of one process; rank 0 prints, logs and writes the\n"
    "checkpoint (docs/training.md).\n";

/* The codec a named config reads (from its JSON), into buf; "" when it names none. */
static void config_codec(const cdz_model_kind *k, const char *name, char *buf, size_t n) {
    const char *text = cdz_kind_named_config(k, name);
    cdz_json *j = NULL;
    buf[0] = 0;
    if (text && cdz_json_parse(text, strlen(text), name, &j, NULL) == CDZ_OK)
        snprintf(buf, n, "%s", cdz_json_get_string(j, "codec", ""));
    cdz_json_free(j);
}

/* --help: every model kind and its named configs, from the kinds' tables. */
static void print_kinds(FILE *f) {
    const cdz_model_kind *const *kinds;
    size_t n = cdz_model_kind_list(&kinds);
    fputs("\nmodel kinds (--model KIND) and their configs (--config NAME, the codec its dataset needs;\n"
          "* marks the default):\n", f);
    for (size_t i = 0; i < n; i++) {
        const cdz_model_kind *k = kinds[i];
        fprintf(f, "  %s%s: %s\n", cdz_kind_name(k), i == 0 ? " (the default kind)" : "", cdz_kind_description(k));
        int col = fprintf(f, "   ");
        for (const char *const *c = cdz_kind_config_names(k); *c; c++) {
            char codec[32], item[96];
            config_codec(k, *c, codec, sizeof codec);
            int len = snprintf(item, sizeof item, " %s%s%s%s%s%s", *c, strcmp(*c, cdz_kind_default_config(k)) == 0 ? "*" : "",
                               codec[0] ? " (" : "", codec, codec[0] ? ")" : "", c[1] ? "," : "");
            if (col + len > 100) col = fprintf(f, "\n   ");
            col += fprintf(f, "%s", item);
        }
        fputc('\n', f);
    }
}

static volatile sig_atomic_t interrupted, signal_seen;
/* Ctrl-C (SIGINT) and SIGTERM stop the run in order: the step ends, the checkpoint is written. A second
 * one ends the program at once. */
static void on_stop_signal(int sig) {
    interrupted = 1;
    signal_seen = sig;
    signal(sig, SIG_DFL);
}

typedef struct train_opts {
    const char *model, *config, *data, *out, *resume, *log, *backend, *init_from;
    long long steps, batch, seq, warmup, seed, eval_every, eval_tokens, ckpt_every, log_every;
    double lr, clip, wd, min_lr;
    const char *decay;
    int have_steps, whole, transpose[2], model_given, print_config, force;
} train_opts;

/* --model: a model kind, the closest suggested. */
static int parse_kind(const char *value, void *dest, char *why, size_t n) {
    if (cdz_model_kind_find(value)) {
        *(const char **)dest = value;
        return 1;
    }
    const cdz_model_kind *const *kinds;
    size_t k = cdz_model_kind_list(&kinds);
    const char *names[16];
    int at = snprintf(why, n, "the kinds are");
    for (size_t i = 0; i < k && i < 16; i++) {
        names[i] = cdz_kind_name(kinds[i]);
        at += snprintf(why + at, n > (size_t)at ? n - (size_t)at : 0, "%s %s", i ? "," : "", cdz_kind_name(kinds[i]));
    }
    const char *near = app_closest(value, names, k < 16 ? k : 16);
    if (near) snprintf(why, n, "no such model kind; did you mean '%s'?", near);
    return 0;
}

/* --decay: none, cosine, exponential or exponential_floor. */
static int parse_decay(const char *value, void *dest, char *why, size_t n) {
    cdz_lr_decay d;
    if (cdz_lr_decay_parse(value, &d) == CDZ_OK) {
        *(const char **)dest = value;
        return 1;
    }
    snprintf(why, n, "none, cosine, exponential or exponential_floor");
    return 0;
}

static int parse_opts(int argc, char **argv, train_opts *o, app_cmd *cmd, app_opt *opts_out, size_t cap) {
    memset(o, 0, sizeof *o);
    o->model = "melody_rnn";
    o->steps = 1000, o->batch = -1, o->seq = -1, o->warmup = -1, o->seed = 1;
    o->eval_every = 200, o->eval_tokens = 200000, o->ckpt_every = 500, o->log_every = 20;
    o->lr = o->clip = o->wd = o->min_lr = -1;
    const long long big = (long long)1 << 40;
    app_opt opts[] = {
        APP_OPT_STRING("--data", &o->data, "FILE.cdz", "dataset built with the config's codec ('cadenza dataset build --codec ...')"),
        APP_OPT_CUSTOM("--model", parse_kind, &o->model, "KIND", "model kind (default melody_rnn; listed below)"),
        APP_OPT_STRING("--config", &o->config, "NAME", "a named config of the kind (default: the kind's, listed below) or a\n"
                                                       "FILE.json of one's own"),
        APP_OPT_STRING("--out", &o->out, "FILE", "checkpoint to write (default CONFIG.safetensors)"),
        APP_OPT_SWITCH("--force", &o->force, "replace the checkpoint if it exists (not needed to resume it)"),
        APP_OPT_LONG("--steps", &o->steps, 1, 1 << 30, "N", "total optimiser steps (default 1000)"),
        APP_OPT_LONG("--batch", &o->batch, 1, 1 << 16, "N", "windows per step (default: the config's)"),
        APP_OPT_LONG("--seq", &o->seq, 1, 1 << 20, "N", "tokens per window (default: the config's)"),
        APP_OPT_DOUBLE("--lr", &o->lr, 0, 1e6, "X", "AdamW learning rate (default: the config's)"),
        APP_OPT_DOUBLE("--clip", &o->clip, 0, 1e6, "X", "gradient-norm clip (default: the config's)"),
        APP_OPT_DOUBLE("--weight-decay", &o->wd, 0, 1e6, "X", "AdamW weight decay (default: the config's)"),
        APP_OPT_LONG("--warmup", &o->warmup, 0, 1 << 30, "N", "linear learning-rate warm-up steps, at most --steps (default: the\n"
                                                              "config's, mostly 0)"),
        APP_OPT_CUSTOM("--decay", parse_decay, &o->decay, "KIND",
                       "the config's (MusicVAE's: exponential_floor), else none; cosine (to --min-lr-ratio at\nthe last step), exponential (x0.95 per 1000 steps) or exponential_floor (x0.9999 per step\ndown to --min-lr-ratio)"),
        APP_OPT_DOUBLE("--min-lr-ratio", &o->min_lr, 0, 1e6, "R", "where cosine decay ends, as a share of --lr (default 0.1)"),
        APP_OPT_LONG("--seed", &o->seed, 0, big, "N", "seeds initialisation, windows and dropout (default 1)"),
        APP_OPT_SWITCH("--whole-sequences", &o->whole, "each step takes whole sequences from their start (each equally\n"
                                                       "likely) instead of windows at random positions"),
        APP_OPT_CUSTOM("--transpose", app_parse_range, o->transpose, "A:B",
                       "move each window by a random shift from A to B semitones that keeps it in the\n"
                       "codec's range (e.g. -5:6; melody, performance and chorale codecs)"),
        APP_OPT_LONG("--eval-every", &o->eval_every, 0, big, "N", "evaluation loss on the eval split every N steps (default 200;\n"
                                                                  "0: only at the end)"),
        APP_OPT_LONG("--eval-tokens", &o->eval_tokens, 0, big, "N", "end each evaluation with the batch that reaches N tokens\n"
                                                                    "(default 200000; 0: all)"),
        APP_OPT_LONG("--checkpoint-every", &o->ckpt_every, 1, big, "N", "write the checkpoint every N steps (default 500)"),
        APP_OPT_STRING("--log", &o->log, "FILE.jsonl", "append one JSON object per logged step and per evaluation"),
        APP_OPT_LONG("--log-every", &o->log_every, 1, big, "N", "log (and print, when not on a terminal) every N steps (default 20)"),
        APP_OPT_STRING("--backend", &o->backend, "NAME",
                       "where the layers run: cpu (default) or reference (plain loops, slow: a check)"),
        APP_OPT_SWITCH("--print-config", &o->print_config, "print the config's JSON (of --model and --config) and stop"),
        APP_OPT_STRING("--resume", &o->resume, "CHECKPOINT", "go on from a checkpoint written by cadenza train (same data): the\n"
                                                             "model, optimiser, step and random state come from it; --steps\n"
                                                             "sets the new total"),
        APP_OPT_STRING("--init-from", &o->init_from, "CHECKPOINT",
                       "fine-tune: a new run (step 0, fresh optimiser, this run's config and flags)\n"
                       "whose weights start as the checkpoint's; every tensor must have the same name\n"
                       "and shape (a config that changes only training settings: beta, sampling, lr)"),
        APP_END};
    if (sizeof opts / sizeof *opts > cap) return app_usage(cmd, "internal error: too many flags");
    memcpy(opts_out, opts, sizeof opts);
    cmd->opts = opts_out;
    int rc = app_parse(cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    o->have_steps = app_opt_seen(opts_out, "--steps") > 0;
    o->model_given = app_opt_seen(opts_out, "--model") > 0;
    if (!o->data && !o->print_config) return app_usage(cmd, "--data FILE.cdz is required");
    if (o->init_from && o->resume)
        return app_usage(cmd, "--init-from starts a new run from another model's weights; --resume goes on with a run: one or the other");
    /* a warm-up that never ends leaves the learning rate below --lr for the whole run */
    if (o->warmup > 0 && o->warmup > o->steps && (o->have_steps || !o->resume))
        return app_usage(cmd, "--warmup %lld is longer than --steps %lld: the learning rate would never reach --lr",
                         o->warmup, o->steps);
    return APP_GO_ON;
}

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

/* The model of --config: a named config of --model, or a JSON file whose "kind" names the model (and
 * must agree with --model when both are given). */
static cdz_status create_model(const train_opts *o, cdz_model **m, cdz_error *err) {
    const cdz_model_kind *kind = cdz_model_kind_find(o->model);
    const char *config = o->config ? o->config : kind ? cdz_kind_default_config(kind) : "";
    if (!ends_with(config, ".json")) {
        cdz_status st = cdz_model_create(m, o->model, config, err);
        if (st == CDZ_ERR_ARG && kind && !cdz_kind_named_config(kind, config)) { /* another kind's config? */
            const cdz_model_kind *const *kinds;
            size_t n = cdz_model_kind_list(&kinds);
            for (size_t i = 0; i < n; i++)
                if (kinds[i] != kind && cdz_kind_named_config(kinds[i], config))
                    return cdz_error_set(err, CDZ_ERR_ARG, "'%s' is a %s config, not a %s one: add --model %s", config,
                                         cdz_kind_name(kinds[i]), cdz_kind_name(kind), cdz_kind_name(kinds[i]));
        }
        return st;
    }
    uint8_t *text = NULL;
    size_t len = 0;
    cdz_status st = cdz_file_read_all(config, &text, &len, err);
    if (st != CDZ_OK) return st;
    st = cdz_model_from_json(m, (const char *)text, len, config, err);
    cdz_free(text);
    if (st == CDZ_OK && o->model_given && strcmp(cdz_model_kind_name(*m), o->model) != 0) {
        st = cdz_error_set(err, CDZ_ERR_ARG, "%s: the config is for model kind '%s', not --model %s", config,
                           cdz_model_kind_name(*m), o->model);
        cdz_model_free(*m);
        *m = NULL;
    }
    return st;
}

/* Whether two paths name the same file (both exist). */
static int same_file(const char *a, const char *b) {
    struct stat x, y;
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* --print-config: the full config JSON of --config (a starting point for a file of one's own). */
static int print_config(const train_opts *o, const app_cmd *cmd) {
    cdz_error err = {0};
    cdz_model *m = NULL;
    if (create_model(o, &m, &err) != CDZ_OK) return app_usage(cmd, "%s", err.msg);
    char *json = cdz_model_config_json(m);
    if (json) printf("%s\n", json);
    cdz_free(json);
    cdz_model_free(m);
    return json ? EXIT_OK : EXIT_FAIL;
}

/* Applies the flags given over the config's (or the checkpoint's) training settings. */
static void apply_flags(const train_opts *o, cdz_train_config *c) {
    if (o->have_steps) c->steps = o->steps;
    if (o->batch > 0) c->batch = (int)o->batch;
    if (o->seq > 0) c->seq = (int)o->seq;
    if (o->warmup >= 0) c->warmup_steps = (int)o->warmup;
    if (o->lr >= 0) c->lr = (float)o->lr;
    if (o->clip >= 0) c->clip = (float)o->clip;
    if (o->wd >= 0) c->weight_decay = (float)o->wd;
    if (o->min_lr >= 0) c->min_lr_ratio = (float)o->min_lr;
    if (o->decay) {
        cdz_lr_decay was = c->decay;
        cdz_lr_decay_parse(o->decay, &c->decay); /* checked when parsed */
        if (c->decay == CDZ_DECAY_EXPONENTIAL_FLOOR && was != c->decay) /* MusicVAE's rate, per step, to 1% */
            c->decay_rate = 0.9999f, c->decay_steps = 1, c->min_lr_ratio = o->min_lr >= 0 ? (float)o->min_lr : 0.01f;
    }
}

typedef struct run {
    const train_opts *o;
    cdz_model *m;
    cdz_trainer *t;
    cdz_dist *d;
    const char *out;
    FILE *log;
    int tty;
    double start, last_draw;
    int64_t tokens, start_step;
    double eval_loss;
    char command[1024];
    int real_stderr;   /* ranks other than 0: where their own failures go (the rest of their output is muted) */
    char why[400];     /* this rank's last failure, for the others to hear of */
    int log_failed;    /* the errno of the first failed log write, or 0 */
    int lock_fd;       /* the lock on the checkpoint's name (rank 0), or -1 */
    const app_cmd *cmd; /* for the usage line after a usage error */
} run;

/* Prints "cadenza: <message>" (muted on ranks other than 0), keeps it for agree() and returns code. */
static int fail(run *r, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int fail(run *r, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    if (r->tty) fputc('\n', stderr);
    if (code == EXIT_USAGE && r->cmd) app_usage(r->cmd, "%s", r->why);
    else app_error("%s", r->why);
    return code;
}

/* Ranks other than 0 print nothing of their own (rank 0 speaks for the run): stdout and stderr go to
 * /dev/null. Returns a descriptor of the real stderr, for failures only this rank saw, or -1. */
static int mute_output(int saved[2]) {
    fflush(stdout), fflush(stderr);
    saved[0] = dup(1), saved[1] = dup(2);
    int nul = open("/dev/null", O_WRONLY);
    if (nul >= 0) {
        dup2(nul, 1), dup2(nul, 2);
        close(nul);
    }
    return saved[1];
}

static void unmute_output(int saved[2]) {
    fflush(stdout), fflush(stderr);
    for (int k = 0; k < 2; k++)
        if (saved[k] >= 0) dup2(saved[k], k + 1), close(saved[k]);
}

/* Every rank says whether it failed (and whether Ctrl-C reached it); returns how many ranks failed and
 * sets *stop when any was interrupted. A failure rank 0 shared is rank 0's to report; one it did not is
 * reported by the rank that saw it, and rank 0 says the run stops because of it. One process: no
 * communication. A failed all-reduce ends every rank (nothing else is safe then). */
static int agree(run *r, int failed, int *stop) {
    cdz_dist *d = r->d;
    if (d->size <= 1) return failed;
    double flags[2 + 64] = {0}; /* failures, interrupts, then which of the first 64 ranks failed */
    flags[0] = failed;
    flags[1] = stop && *stop;
    if (failed && d->rank < 64) flags[2 + d->rank] = 1;
    cdz_error err = {0};
    if (cdz_dist_allreduce_sum_f64(d, flags, d->size < 64 ? 2 + (size_t)d->size : 66, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        if (r->real_stderr >= 0) dprintf(r->real_stderr, "cadenza: rank %d: %s\n", d->rank, err.msg);
        cdz_dist_abort(d, EXIT_FAIL);
        return 1;
    }
    if (stop && flags[1] > 0) *stop = 1;
    if (flags[0] > 0 && flags[2] == 0) { /* rank 0 did not fail: the ranks that did say why */
        if (failed && r->real_stderr >= 0) dprintf(r->real_stderr, "cadenza: rank %d: %s\n", d->rank, r->why);
        int first = 0;
        while (first < 64 && first < d->size && flags[2 + first] == 0) first++;
        if (d->rank == 0) {
            if (r->tty) fputc('\n', stderr);
            /* one write, so that the failing rank's line (through mpirun) cannot cut into it */
            fprintf(stderr, "cadenza: %.0f of %d ranks failed (rank %d says why); stopping every rank\n", flags[0],
                    d->size, first);
        }
    }
    return (int)flags[0];
}

/* The lock that keeps two runs from writing one checkpoint: ".NAME.cadenza-lock" beside it, held with
 * flock for the run's life (the kernel lets go when the process ends, however it ends). The file stays:
 * removing it would let a run that had just opened it lock a name no longer in the folder. Returns the
 * descriptor, or -1 having said who holds it. */
static int lock_output(const char *out) {
    const char *slash = strrchr(out, '/');
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%.*s.%s.cadenza-lock", slash ? (int)(slash - out + 1) : 0, out, slash ? slash + 1 : out);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        app_error("%s: cannot make the lock file %s: %s", out, path, strerror(errno));
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[32] = "";
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = 0;
        holder[strcspn(holder, "\n")] = 0;
        app_error("%s is being written by another cadenza train (process %s): wait for it, or give another --out", out,
                  holder[0] ? holder : "unknown");
        close(fd);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    /* who holds it, for the message above: a failure here costs only that */
    int noted = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)len, 0) == len;
    (void)noted;
    return fd;
}

/* Rewrites the log keeping the lines of steps up to `step` (and lines without a step). */
static int trim_log(const char *log, int64_t step) {
    uint8_t *text = NULL;
    size_t len = 0;
    cdz_error err = {0};
    if (access(log, F_OK) != 0) return EXIT_OK; /* nothing logged yet */
    if (cdz_file_read_all(log, &text, &len, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    char *out = malloc(len + 1);
    size_t n = 0, dropped = 0;
    for (size_t i = 0; out && i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n') e++;
        const char *at = strstr((const char *)text + i, "\"step\":");
        long long s = -1;
        if (at && (size_t)(at - (const char *)text) < e) s = strtoll(at + 7, NULL, 10);
        if (s <= step) memcpy(out + n, text + i, e - i + (e < len)), n += e - i + (e < len);
        else dropped++;
        i = e + 1;
    }
    int rc = EXIT_OK;
    if (!out) {
        app_error("out of memory");
        rc = EXIT_FAIL;
    } else if (dropped) {
        if (cdz_file_write_atomic(log, out, n, &err) != CDZ_OK) {
            app_error("%s", err.msg);
            rc = EXIT_FAIL;
        } else {
            fprintf(stderr, "%s: %zu line%s past step %lld taken out (logged after the last checkpoint)\n", log, dropped,
                    dropped == 1 ? "" : "s", (long long)step);
        }
    }
    free(out);
    cdz_free(text);
    return rc;
}

/* After each log line: a log that cannot be written (a full disk, /dev/full) is said at once and makes
 * the run end with a failure status (training goes on: the checkpoint is what matters most). */
static void log_written(run *r) {
    if ((fflush(r->log) == 0 && !ferror(r->log)) || r->log_failed) return;
    r->log_failed = errno ? errno : EIO;
    if (r->tty) fputc('\n', stderr);
    fprintf(stderr, "cadenza: %s: the log cannot be written: %s (training goes on; the run will end with status 1)\n",
            r->o->log, strerror(r->log_failed));
}

static int save(run *r, const char *why) {
    cdz_error err = {0};
    if (r->d->size > 1) { /* the ranks' copies must still agree (they stepped identically) */
        int differ = 0;
        if (cdz_trainer_check_replicas(r->t, &differ, &err) != CDZ_OK) {
            fail(r, 0, "%s", err.msg);
            return 0;
        }
        if (differ) {
            if (r->tty) fputc('\n', stderr);
            fprintf(stderr, "warning: at step %lld, %d rank(s) held parameters or moments different from rank 0's; "
                    "copied rank 0's to every rank\n", (long long)r->t->step, differ);
        }
    }
    if (r->d->rank != 0) return 1; /* rank 0 alone writes */
    char eval[32];
    snprintf(eval, sizeof eval, "%.6f", r->eval_loss);
    const char *extra[6] = {"dataset", r->o->data, "command", r->command, "eval_loss", eval};
    if (cdz_checkpoint_save(r->out, r->m, r->t, extra, r->eval_loss >= 0 ? 3 : 2, &err) != CDZ_OK) {
        fail(r, 0, "%s", err.msg);
        return 0;
    }
    if (!why) return 1; /* a quiet save */
    if (r->tty) fputc('\n', stderr);
    fprintf(stderr, "checkpoint: %s (step %lld, %s)\n", r->out, (long long)r->t->step, why);
    return 1;
}

/* With several ranks every rank evaluates its share of the batches (cdz_evaluate_dist); rank 0 prints
 * and logs. */
static int evaluate(run *r, const cdz_dataset *ds) {
    cdz_loss_stats st;
    cdz_error err = {0};
    double t0 = app_now();
    int len = app_eval_window(r->m);
    cdz_status s = cdz_evaluate_dist(r->m, ds, CDZ_SPLIT_EVAL, 32, len, r->o->eval_tokens, r->d, &st, &err);
    if (s != CDZ_OK) {
        if (r->tty) fputc('\n', stderr);
        fprintf(stderr, "evaluation skipped: %s\n", err.msg);
        return 0;
    }
    double loss = st.loss_sum / (double)st.tokens, acc = (double)st.correct / (double)st.tokens;
    r->eval_loss = loss;
    if (r->tty) fputc('\n', stderr);
    if (cdz_model_audio_rate(r->m)) { /* an audio model's loss is its objective per sample, not nats */
        fprintf(stderr, "eval at step %lld: loss %.4f over %.1f s of audio (%.1f s)\n", (long long)r->t->step, loss,
                (double)st.tokens / cdz_model_audio_rate(r->m), app_now() - t0);
        if (r->log) {
            fprintf(r->log, "{\"step\":%lld,\"eval_loss\":%.6f,\"eval_samples\":%lld}\n", (long long)r->t->step, loss,
                    (long long)st.tokens);
            log_written(r);
        }
        r->last_draw = 0;
        return 1;
    }
    fprintf(stderr, "eval at step %lld: loss %.4f nats/token, perplexity %.3f, accuracy %.1f%% over %lld tokens (%.1f s)\n",
            (long long)r->t->step, loss, exp(loss), 100 * acc, (long long)st.tokens, app_now() - t0);
    if (r->log) {
        fprintf(r->log, "{\"step\":%lld,\"eval_loss\":%.6f,\"eval_perplexity\":%.6f,\"eval_accuracy\":%.6f,\"eval_tokens\":%lld}\n",
                (long long)r->t->step, loss, exp(loss), acc, (long long)st.tokens);
        log_written(r);
    }
    r->last_draw = 0;
    return 1;
}

/* --init-from: the weights of another checkpoint of the same kind and tensor table (names and shapes),
 * into m. */
static cdz_status init_from_checkpoint(cdz_model *m, const char *path, cdz_error *err) {
    cdz_model *src = NULL;
    cdz_status st = cdz_checkpoint_load(path, &src, err);
    if (st) return st;
    if (strcmp(cdz_model_kind_name(src), cdz_model_kind_name(m)) != 0) {
        st = cdz_error_set(err, CDZ_ERR_ARG, "--init-from %s: a %s model; this run trains a %s", path, cdz_model_kind_name(src),
                           cdz_model_kind_name(m));
    } else if (cdz_model_n_tensors(src) != cdz_model_n_tensors(m)) {
        st = cdz_error_set(err, CDZ_ERR_ARG, "--init-from %s: %zu tensors; this run's config has %zu (the shapes must match)", path,
                           cdz_model_n_tensors(src), cdz_model_n_tensors(m));
    }
    for (size_t i = 0; !st && i < cdz_model_n_tensors(m); i++) {
        const cdz_tensor_info *a = cdz_model_tensor_at(m, i), *b = cdz_model_tensor_at(src, i);
        int same = strcmp(a->name, b->name) == 0 && a->ndim == b->ndim && a->numel == b->numel;
        for (int k = 0; same && k < a->ndim; k++) same = a->shape[k] == b->shape[k];
        if (!same)
            st = cdz_error_set(err, CDZ_ERR_ARG, "--init-from %s: tensor %zu is %s with %zu values; this run's is %s with %zu "
                               "(the shapes must match)", path, i, b->name, b->numel, a->name, a->numel);
    }
    if (!st && strcmp(cdz_model_codec(src), cdz_model_codec(m)) != 0)
        fprintf(stderr, "note: --init-from %s: its codec is %s, this run's %s (the shapes match; the tokens mean other things)\n",
                path, cdz_model_codec(src), cdz_model_codec(m));
    if (!st) memcpy(cdz_model_params(m), cdz_model_params_const(src), cdz_model_n_params(m) * sizeof(float));
    cdz_model_free(src);
    return st;
}

/* " (recon 2.05, kl 12.3, ...)" for a loss of several named terms, "" for one. */
static void format_terms(const cdz_train_step_info *info, char *buf, size_t n) {
    buf[0] = 0;
    if (info->terms.n_terms < 2) return;
    size_t k = 0;
    for (int i = 0; i < info->terms.n_terms && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "%s%s %.4g", i ? ", " : " (", info->terms.terms[i].name, info->terms.terms[i].value);
    if (k < n) snprintf(buf + k, n - k, ")");
}

static void report_step(run *r, const cdz_train_step_info *info) {
    double now = app_now(), el = now - r->start;
    int64_t done = r->t->step - r->start_step, total = r->t->cfg.steps - r->start_step;
    double tps = el > 0 ? (double)r->tokens / el : 0, eta = done > 0 ? el / (double)done * (double)(total - done) : 0;
    char eta_s[32];
    app_format_duration(eta, eta_s, sizeof eta_s);
    int logged = r->t->step % r->o->log_every == 0 || r->t->step == r->t->cfg.steps;
    char terms[160];
    format_terms(info, terms, sizeof terms);
    if (r->tty && (now - r->last_draw > 0.2 || r->t->step == r->t->cfg.steps)) {
        int width = 24, fill = total > 0 ? (int)(width * done / total) : width;
        fprintf(stderr, "\r  step %lld/%lld [%.*s%*s] loss %.4f%s  %.0f %s/s  ETA %s   ", (long long)r->t->step,
                (long long)r->t->cfg.steps, fill, "========================", width - fill, "", info->loss, terms, tps,
                cdz_model_audio_rate(r->m) ? "samples" : "tok", eta_s);
        r->last_draw = now;
    } else if (!r->tty && logged) {
        fprintf(stderr, "step %lld/%lld loss %.4f%s lr %.3g grad_norm %.3f %.0f %s/s ETA %s\n", (long long)r->t->step,
                (long long)r->t->cfg.steps, info->loss, terms, info->lr, info->grad_norm, tps,
                cdz_model_audio_rate(r->m) ? "samples" : "tok", eta_s);
    }
    if (r->log && logged) {
        /* the objective, then each named term on its own ("loss_nll", or a VAE's "loss_kl") */
        fprintf(r->log, "{\"step\":%lld,\"loss\":%.6f,", (long long)r->t->step, info->loss);
        for (int k = 0; k < info->terms.n_terms; k++)
            fprintf(r->log, "\"loss_%s\":%.6f,", info->terms.terms[k].name, info->terms.terms[k].value);
        fprintf(r->log, "\"lr\":%.6g,\"grad_norm\":%.6f,\"tokens_per_s\":%.1f,\"elapsed_s\":%.3f}\n", info->lr,
                info->grad_norm, tps, el);
        log_written(r);
    }
}

/* The run on one rank: set-up (every rank the same; one agreement at its end, so that a rank that could
 * not start stops the others), the steps (an agreement after each, for Ctrl-C and failures), the last
 * evaluation and checkpoint. */
static int train(cdz_dist *d, int argc, char **argv, int real_stderr) {
    train_opts o;
    app_opt opts[40];
    app_cmd cmd = {"train", "--data FILE.cdz [--model KIND] [--config NAME] [options]\n"
                            "--data FILE.cdz --resume CHECKPOINT [--steps N] [options]",
                   TRAIN_ABOUT, NULL, TRAIN_NOTES, print_kinds};
    int rc = parse_opts(argc, argv, &o, &cmd, opts, sizeof opts / sizeof *opts);
    if (rc != APP_GO_ON) return rc; /* the same on every rank: none goes on to wait for another */
    if (o.print_config) return print_config(&o, &cmd);
    rc = EXIT_OK;
    cdz_error err = {0};
    cdz_dataset ds;
    cdz_model *m = NULL;
    cdz_trainer t;
    int have_ds = 0, have_m = 0, have_t = 0;
    char default_out[96] = "";
    run r = {&o, NULL, &t, d, NULL, NULL, d->rank == 0 && isatty(2), 0, 0, 0, 0, -1, "", real_stderr, "", 0, -1, &cmd};
    cdz_status st;
    if (cdz_dataset_open(&ds, o.data, &err) != CDZ_OK) {
        rc = fail(&r, EXIT_FAIL, "%s", err.msg);
        goto agree_setup;
    }
    have_ds = 1;
    st = o.resume ? cdz_checkpoint_load(o.resume, &m, &err) : create_model(&o, &m, &err);
    r.m = m;
    if (st != CDZ_OK) {
        rc = fail(&r, o.resume ? EXIT_FAIL : EXIT_USAGE, "%s", err.msg);
        goto agree_setup;
    }
    have_m = 1;
    if (o.backend) {
        const cdz_backend *be = cdz_backend_find(o.backend);
        if (!be) {
            rc = fail(&r, EXIT_USAGE, "no backend '%s' in this build (cpu, reference%s)", o.backend,
                      cdz_backend_find("cuda") ? ", cuda" : "");
            goto agree_setup;
        }
        if (cdz_model_set_backend(m, be, &err) != CDZ_OK) {
            rc = fail(&r, EXIT_FAIL, "%s", err.msg);
            goto agree_setup;
        }
    }
    cdz_train_config cfg = cdz_train_config_for(m);
    cfg.seed = (uint64_t)o.seed;
    cfg.whole_sequences = o.whole;
    cfg.transpose_min = o.transpose[0], cfg.transpose_max = o.transpose[1];
    if (o.resume && cdz_checkpoint_train_config(o.resume, &cfg, &err) != CDZ_OK) {
        rc = fail(&r, EXIT_FAIL, "%s", err.msg);
        goto agree_setup;
    }
    if (!o.resume) apply_flags(&o, &cfg);
    snprintf(default_out, sizeof default_out, "%s.safetensors", cdz_model_config_name(m));
    r.out = o.out ? o.out : o.resume ? o.resume : default_out;
    /* the checkpoint a run writes replaces a file only with --force, or when it resumes that file */
    if (!(o.resume && same_file(o.resume, r.out)) && !app_output_ok(r.out, o.force)) {
        rc = EXIT_FAIL;
        snprintf(r.why, sizeof r.why, "%s exists", r.out);
        goto agree_setup;
    }
    /* a checkpoint that could not be written would be found out at the first save, hours in: now */
    if (d->rank == 0 && !app_folder_writable(r.out)) {
        rc = EXIT_FAIL;
        snprintf(r.why, sizeof r.why, "%s cannot be written", r.out);
        goto agree_setup;
    }
    if (!o.resume) cdz_model_init_params(m, cfg.seed);
    if (o.init_from && init_from_checkpoint(m, o.init_from, &err) != CDZ_OK) {
        rc = fail(&r, EXIT_FAIL, "%s", err.msg);
        goto agree_setup;
    }
    for (int i = 0, at = 0; i < argc && at < (int)sizeof r.command - 1; i++)
        at += snprintf(r.command + at, sizeof r.command - (size_t)at, "%s%s", i ? " " : "cadenza train ", argv[i]);
    st = cdz_trainer_init(&t, m, &ds, &cfg, &err);
    have_t = 1; /* freeing a trainer whose init failed is safe */
    if (st == CDZ_OK && o.resume) {
        st = cdz_checkpoint_load_trainer(o.resume, &t, &err);
        /* the windows are the run's: a resumed run keeps its batch, length and augmentation */
        if (st == CDZ_OK && ((o.batch > 0 && o.batch != t.cfg.batch) || (o.seq > 0 && o.seq != t.cfg.seq) || o.whole ||
                             o.transpose[0] || o.transpose[1]))
            st = cdz_error_set(&err, CDZ_ERR_ARG, "%s: a resumed run keeps its batch (%d), window (%d) and augmentation; "
                               "only --steps and the learning-rate flags may change", o.resume, t.cfg.batch, t.cfg.seq);
        if (st == CDZ_OK) apply_flags(&o, &t.cfg);
        if (st == CDZ_OK && t.cfg.steps < t.step)
            st = cdz_error_set(&err, CDZ_ERR_ARG, "%s is at step %lld already: --steps is the run's new total (more than "
                               "%lld)", o.resume, (long long)t.step, (long long)t.step);
        if (st == CDZ_OK && o.warmup > t.cfg.steps)
            st = cdz_error_set(&err, CDZ_ERR_ARG, "--warmup %lld is longer than the run's %lld steps: the learning rate "
                               "would never reach --lr", o.warmup, (long long)t.cfg.steps);
    }
    /* a warm-up from the config (or the resumed run) longer than a short run: allowed (a quick try), but said */
    if (st == CDZ_OK && o.warmup < 0 && t.cfg.warmup_steps > t.cfg.steps && d->rank == 0)
        fprintf(stderr, "warning: the warm-up of %d steps (the %s's) is longer than the run's %lld steps: the learning "
                "rate never reaches %g (set --warmup)\n", t.cfg.warmup_steps, o.resume ? "resumed run" : "config",
                (long long)t.cfg.steps, t.cfg.lr);
    if (st == CDZ_OK) st = cdz_trainer_distribute(&t, d, &err); /* --batch must be a multiple of the ranks */
    if (st != CDZ_OK) {
        rc = fail(&r, st == CDZ_ERR_ARG ? EXIT_USAGE : EXIT_FAIL, "%s", err.msg);
        goto agree_setup;
    }
    /* one writer per checkpoint: a second run with the same --out is refused while this one runs */
    if (d->rank == 0 && (r.lock_fd = lock_output(r.out)) < 0) {
        rc = EXIT_FAIL;
        snprintf(r.why, sizeof r.why, "%s is being written by another run", r.out);
        goto agree_setup;
    }
    /* a resumed run's log goes on from the checkpoint's step: lines the run logged past it (after its
     * last checkpoint, before it stopped) are taken out, so no step is logged twice */
    if (o.log && o.resume && d->rank == 0 && trim_log(o.log, t.step) != EXIT_OK) {
        rc = EXIT_FAIL;
        snprintf(r.why, sizeof r.why, "%s could not be trimmed", o.log);
        goto agree_setup;
    }
    if (o.log && d->rank == 0 && !(r.log = fopen(o.log, "a"))) {
        rc = fail(&r, EXIT_FAIL, "%s: cannot open the log for appending", o.log);
        goto agree_setup;
    }
agree_setup:
    if (agree(&r, rc != EXIT_OK, NULL) > 0) {
        if (rc == EXIT_OK) rc = EXIT_FAIL; /* another rank could not start */
        goto done;
    }
    if (d->size > 1)
        fprintf(stderr, "data-parallel over %d ranks (%s), batch %d = %d x %d\n", d->size,
                strcmp(d->ops->name, "mpi") == 0 ? "MPI" : d->ops->name, t.cfg.batch, d->size, t.cfg.batch / d->size);
    /* each rank starts OpenBLAS's threads for every core: N ranks oversubscribe the machine N times */
    if (d->size > 1 && strcmp(cdz_nn_backend(), "openblas") == 0 && !getenv("OPENBLAS_NUM_THREADS") &&
        !getenv("GOTO_NUM_THREADS") && !getenv("OMP_NUM_THREADS"))
        fprintf(stderr, "  note: every rank runs OpenBLAS's threads on all cores; 'mpirun -x OPENBLAS_NUM_THREADS=1' "
                "is several times faster when the ranks fill the cores (docs/training.md)\n");
    fprintf(stderr, "training %s/%s: %zu parameters, %s, dataset %s (%llu sequences, codec %s)\n", cdz_model_kind_name(m),
            cdz_model_config_name(m), cdz_model_n_params(m),
            strcmp(cdz_model_backend(m)->name, "cpu") == 0 ? cdz_nn_backend() : cdz_model_backend(m)->name, o.data, (unsigned long long)ds.n_seqs, ds.codec);
    fprintf(stderr, "  steps %lld to %lld, batch %d x %d %s, lr %g (%s, warm-up %d), clip %g, weight decay %g, seed %llu\n",
            (long long)t.step, (long long)t.cfg.steps, t.cfg.batch, t.cfg.seq, cdz_model_audio_rate(m) ? "samples" : "tokens",
            t.cfg.lr, cdz_lr_decay_name(t.cfg.decay),
            t.cfg.warmup_steps, t.cfg.clip, t.cfg.weight_decay, (unsigned long long)t.cfg.seed);
    interrupted = 0, signal_seen = 0;
    /* Ctrl-C, and SIGTERM (a job scheduler's stop; Open MPI's mpirun turns a Ctrl-C into SIGTERM for
     * every rank): the same orderly stop, caught until the last checkpoint is written */
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    r.start = app_now();
    r.start_step = t.step;
    int stop = 0;
    while (t.step < t.cfg.steps && !stop) {
        cdz_train_step_info info;
        int failed = 0;
        st = cdz_trainer_step(&t, &info, &err);
        if (st != CDZ_OK) {
            rc = EXIT_FAIL;
            failed = !t.failed_elsewhere; /* else the rank that failed says why (agree) */
            if (failed) {
                fail(&r, 0, "%s", err.msg);
                if (st == CDZ_ERR_RANGE)
                    fprintf(stderr, "  training stopped; %s holds the last good checkpoint, if one was written. Try a "
                            "lower --lr or a --warmup.\n", r.out);
            }
        } else {
            r.tokens += info.tokens;
            if (d->rank == 0) report_step(&r, &info);
            if (o.eval_every > 0 && t.step % o.eval_every == 0 && t.step < t.cfg.steps) evaluate(&r, &ds);
            if (t.step % o.ckpt_every == 0 && t.step < t.cfg.steps && !save(&r, "periodic")) rc = EXIT_FAIL, failed = 1;
        }
        stop = interrupted;
        if (agree(&r, failed, &stop) > 0 || rc != EXIT_OK) {
            rc = EXIT_FAIL;
            break;
        }
    }
    if (rc == EXIT_OK) {
        const int code = signal_seen == SIGTERM ? 143 : 130;
        if (stop) {
            if (r.tty) fputc('\n', stderr);
            fprintf(stderr, "interrupted at step %lld\n", (long long)t.step);
            if (!save(&r, "interrupted; resume with --resume")) rc = EXIT_FAIL;
            else rc = code;
        } else {
            /* the run is on disk before the last evaluation, so a stop during it loses nothing; the
             * evaluation's loss is written with it afterwards */
            double before = r.eval_loss;
            r.eval_loss = -1;
            if (!save(&r, NULL)) rc = EXIT_FAIL;
            r.eval_loss = before;
            if (rc == EXIT_OK && !interrupted) evaluate(&r, &ds);
            if (rc == EXIT_OK && interrupted && d->size == 1) {
                if (r.tty) fputc('\n', stderr);
                fprintf(stderr, "interrupted during the last evaluation: checkpoint: %s (step %lld, done, without "
                        "the last evaluation's loss)\n", r.out, (long long)t.step);
                rc = code;
            } else if (rc == EXIT_OK && !save(&r, "done")) {
                rc = EXIT_FAIL;
            }
        }
        double el = app_now() - r.start;
        char dur[32];
        app_format_duration(el, dur, sizeof dur);
        fprintf(stderr, "%lld steps in %s (%.0f %s/s)\n", (long long)(t.step - r.start_step), dur,
                el > 0 ? (double)r.tokens / el : 0, cdz_model_audio_rate(m) ? "samples" : "tokens");
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
done:
    if (r.lock_fd >= 0) close(r.lock_fd);
    if (r.log && (fclose(r.log) != 0 || r.log_failed) && rc == EXIT_OK) {
        if (!r.log_failed) app_error("%s: the log cannot be written: %s", o.log, strerror(errno));
        rc = EXIT_FAIL;
    }
    if (have_t) cdz_trainer_free(&t);
    if (have_m) cdz_model_free(m);
    if (have_ds) cdz_dataset_close(&ds);
    return rc;
}

/* Under mpirun (cadenza/dist.h) every rank runs train(); rank 0 alone prints, logs and writes. */
int cmd_train(int argc, char **argv) {
    cdz_dist d;
    cdz_error err = {0};
    if (cdz_dist_init(&d, &argc, &argv, &err) != CDZ_OK) {
        app_error("%s", err.msg);
        return EXIT_FAIL;
    }
    int saved[2] = {-1, -1};
    int real_stderr = d.rank > 0 ? mute_output(saved) : -1;
    int rc = train(&d, argc, argv, real_stderr);
    if (d.rank > 0) unmute_output(saved);
    cdz_dist_finalize(&d);
    return rc;
}

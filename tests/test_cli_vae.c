/* The cadenza vae command: sample, interpolate, reconstruct, encode and attribute on a tiny MusicVAE
 * trained here (cadenza dataset build --codec vae_mel_2bar, cadenza train --model music_vae --config
 * tiny_mel_2bar), their outputs checked against the library (cadenza/vae.h), and every bad input: a
 * clear one-line error, a non-zero exit status, nothing written, nothing replaced without --force.
 * Runs the built program given as argv[1] (default: cadenza beside this test's build folder). */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "cadenza/vae.h"

/* snprintf into a buffer, a truncated text being a failed check (paths here are short). */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void set_text(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    CHECK(k >= 0 && (size_t)k < n, "text of %d bytes fits %zu", k, n);
}
#define SET(buf, ...) set_text(buf, sizeof buf, __VA_ARGS__)

static const char *prog;
static char out_path[64], err_path[64];
static char out[1 << 18], err[1 << 14];

/* Runs `cadenza <args>`, capturing stdout and stderr; returns the exit status. */
static int run(const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s", prog, args);
    return test_shell(cmd, out_path, err_path, out, sizeof out, err, sizeof err);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* A failure: exit status rc, one line on stderr, naming `what`. */
static void check_one_line_error(int rc, int expected, const char *what) {
    CHECK_INT(rc, expected);
    CHECK_STR_CONTAINS(err, what);
    CHECK(count_lines(err) == 1, "one line of error, got: %s", err);
}

/* A usage error: exit status 2, the message, then one usage line naming --help. */
static void check_usage_error(int rc, const char *message) {
    CHECK_INT(rc, 2);
    CHECK_STR_CONTAINS(err, message);
    CHECK(count_lines(err) == 2 && strstr(err, "\nusage: cadenza vae ") && strstr(err, "--help for all"),
          "one message line and one usage line, got: %s", err);
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* Files in a folder (not . and ..); -1 when it cannot be opened. */
static int count_files(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* Whether the file's bytes hold `needle` (a MIDI file's text event). */
static int file_holds(const char *path, const char *needle) {
    uint8_t *b = NULL;
    size_t n = 0, k = strlen(needle);
    if (cdz_file_read_all(path, &b, &n, NULL) != CDZ_OK) return 0;
    int found = 0;
    for (size_t i = 0; i + k <= n && !found; i++) found = memcmp(b + i, needle, k) == 0;
    cdz_free(b);
    return found;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) fputs(text, f), fclose(f);
}

/* Whether two MIDI files hold the same notes (pitch, start and end tick), in order. */
static int same_notes(const char *a, const char *b) {
    cdz_score x, y;
    cdz_error e;
    if (cdz_score_read_file(&x, a, &e) != CDZ_OK) return 0;
    if (cdz_score_read_file(&y, b, &e) != CDZ_OK) {
        cdz_score_free(&x);
        return 0;
    }
    int same = x.n_notes == y.n_notes;
    for (size_t i = 0; same && i < x.n_notes; i++)
        same = x.notes[i].pitch == y.notes[i].pitch && x.notes[i].start_tick == y.notes[i].start_tick &&
               x.notes[i].end_tick == y.notes[i].end_tick;
    cdz_score_free(&x);
    cdz_score_free(&y);
    return same;
}

/* Notes in a MIDI file; -1 when it cannot be read. */
static long notes_in(const char *path) {
    cdz_score s;
    cdz_error e;
    if (cdz_score_read_file(&s, path, &e) != CDZ_OK) return -1;
    long n = (long)s.n_notes;
    cdz_score_free(&s);
    return n;
}

/* A melody one beat long: no 2-bar window in it. */
static void write_short(const char *path) {
    cdz_score s;
    cdz_error e;
    cdz_score_init(&s, 480, &e);
    cdz_score_add_note(&s, 0, 0, 0, 60, 90, 0, 480);
    cdz_score_finish(&s, &e);
    cdz_score_write_file(&s, path, 1, &e);
    cdz_score_free(&s);
}

/* The windows of a MIDI file and their mu, by the library: the number of windows (0 on failure). */
static int library_mu(const cdz_model *m, const char *path, float *mu, int cap, cdz_tokens *w) {
    cdz_score s;
    cdz_error e;
    memset(w, 0, sizeof *w);
    if (cdz_score_read_file(&s, path, &e) != CDZ_OK) return 0;
    cdz_status st = cdz_vae_windows(m, &s, w, &e);
    cdz_score_free(&s);
    if (st != CDZ_OK) return 0;
    int n = (int)w->n_seqs < cap ? (int)w->n_seqs : cap;
    if (cdz_vae_encode(m, w->tokens, n, mu, NULL, &e) != CDZ_OK) return 0;
    return (int)w->n_seqs;
}

int main(int argc, char **argv) {
    static char prog_buf[PATH_MAX];
    if (argc > 1) prog = argv[1];
    else { /* build/tests/test_cli_vae -> build/cadenza */
        SET(prog_buf, "%s", argv[0]);
        char *slash = strrchr(prog_buf, '/');
        if (slash) snprintf(slash, sizeof prog_buf - (size_t)(slash - prog_buf), "/../cadenza");
        else SET(prog_buf, "build/cadenza");
        prog = prog_buf;
    }
    char dir[] = "/tmp/cadenza_cli_vae_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    SET(out_path, "%s/out", dir);
    SET(err_path, "%s/err", dir);
    char args[2048], mel[96], data[96], ckpt[96], a[128], b[128], p[256], q[256];
    SET(mel, "%s/mel", dir);
    SET(data, "%s/mel.cdz", dir);
    SET(ckpt, "%s/vae.safetensors", dir);
    mkdir(mel, 0777);
    test_write_melodies(mel, 12, 1);
    SET(a, "%s/tune00.mid", mel);
    SET(b, "%s/tune05.mid", mel);

    /* ---- help and usage, before any model ---- */
    CHECK_INT(run("--help"), 0);
    CHECK_STR_CONTAINS(out, "vae");
    CHECK_INT(run("vae --help"), 0);
    for (const char *const *s = (const char *const[]){"sample", "interpolate", "reconstruct", "encode", "attribute", NULL}; *s; s++)
        CHECK_STR_CONTAINS(out, *s);
    CHECK_INT(run("vae sample --help"), 0);
    for (const char *const *s = (const char *const[]){"--model", "--n", "--temperature", "--seed", "--out-dir", "--out", "--wav",
                                                      "--plot", "--attribute", "--similar", "--amount", "--force", NULL};
         *s; s++)
        CHECK_STR_CONTAINS(out, *s);
    CHECK_INT(run("vae interpolate --help"), 0);
    for (const char *const *s = (const char *const[]){"A.mid", "B.mid", "--steps", "--temperature", "--out-dir", "--wav", "--plot",
                                                      "--attribute", NULL};
         *s; s++)
        CHECK_STR_CONTAINS(out, *s);
    CHECK_INT(run("vae reconstruct --help"), 0);
    CHECK_STR_CONTAINS(out, "--all-windows");
    CHECK_INT(run("vae encode --help"), 0);
    CHECK_STR_CONTAINS(out, "--json");
    CHECK_INT(run("vae attribute --help"), 0);
    CHECK_STR_CONTAINS(out, "--name");
    CHECK_STR_CONTAINS(out, "in_key");
    check_usage_error(run("vae sampel"), "did you mean 'sample'?");
    check_usage_error(run("vae"), "missing command");
    SET(args, "vae sample --model %s --temprature 1", ckpt);
    check_usage_error(run(args), "unknown option '--temprature'; did you mean '--temperature'?");
    check_usage_error(run("vae sample"), "--model M is required");
    SET(args, "vae sample --model %s --n 0", ckpt);
    check_usage_error(run(args), "bad value '0' for --n");
    SET(args, "vae sample --model %s --n 2 --out x.mid", ckpt);
    check_usage_error(run(args), "--out names one file");
    SET(args, "vae sample --model %s --amount 0.3", ckpt);
    check_usage_error(run(args), "--amount goes with --similar");
    SET(args, "vae sample --model %s --attribute density", ckpt);
    check_usage_error(run(args), "bad value 'density' for --attribute: NAME_OR_PATH:AMOUNT");
    SET(args, "vae sample --model %s --attribute density:lots", ckpt);
    check_usage_error(run(args), "the amount 'lots' is not a number");
    SET(args, "vae sample --model %s --attribute loudness:1", ckpt);
    check_usage_error(run(args), "bad value 'loudness:1' for --attribute");
    CHECK(strstr(err, "density") && strstr(err, "range") && strstr(err, "syncopation") && strstr(err, "in_key"),
          "the valid attribute names listed: %s", err);
    SET(args, "vae interpolate %s %s --model %s --steps 1", a, b, ckpt);
    check_usage_error(run(args), "bad value '1' for --steps");
    SET(args, "vae interpolate %s --model %s", a, ckpt);
    check_usage_error(run(args), "two MIDI files are needed");
    SET(args, "vae attribute --model %s --name loudness --in %s", ckpt, mel);
    check_usage_error(run(args), "bad value 'loudness' for --name");
    CHECK(strstr(err, "density") && strstr(err, "range") && strstr(err, "syncopation") && strstr(err, "in_key"),
          "the valid attribute names listed: %s", err);
    check_usage_error(run("vae attribute --model x --in y"), "--model, --name and --in are required");
    check_usage_error(run("vae reconstruct --model x"), "an input MIDI file is required");
    check_usage_error(run("vae encode in.mid"), "--model M is required");

    /* ---- a tiny model ---- */
    SET(args, "dataset build --codec vae_mel_2bar --in %s --out %s --eval-fraction 0", mel, data);
    CHECK(run(args) == 0, "dataset build: %s%s", out, err);
    SET(args, "train --model music_vae --config tiny_mel_2bar --data %s --steps 30 --eval-every 0 --out %s", data,
             ckpt);
    int trained = run(args) == 0;
    CHECK(trained, "train: %s%s", out, err);
    cdz_model *m = NULL;
    cdz_error e;
    if (!trained || cdz_checkpoint_load(ckpt, &m, &e) != CDZ_OK || !cdz_vae_is(m)) {
        printf("FAIL: no music_vae model to test with; stopping\n");
        t_failed++;
        SET(args, "rm -rf %s", dir);
        if (system(args) != 0) printf("could not clean up %s\n", dir);
        return test_summary("test_cli_vae");
    }
    const int Z = cdz_vae_latent_dim(m), L = cdz_vae_window_tokens(m);

    /* ---- the model: a path, a shipped name, the wrong kind, missing ---- */
    SET(args, "vae sample --model %s/nothing.safetensors", dir);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "nothing.safetensors");
    CHECK_INT(count_lines(err), 1);
    char models[PATH_MAX], rnn[PATH_MAX];
    SET(models, "%s", prog);
    char *slash = strrchr(models, '/');
    if (slash) *slash = 0;
    SET(rnn, "%s/../models/attention_rnn.safetensors", slash ? models : ".");
    if (exists(rnn)) {
        SET(args, "vae sample --model %s --out-dir %s/never", rnn, dir);
        check_one_line_error(run(args), 1, "attention_rnn.safetensors: a melody_rnn model; 'cadenza vae' needs a music_vae model");
        SET(p, "%s/never", dir);
        CHECK(!exists(p), "nothing made for a wrong-kind model");
    } else {
        printf("note: %s not found: the wrong-kind check skipped\n", rnn);
    }
    setenv("CADENZA_MODELS", dir, 1); /* --model vae: dir/vae.safetensors */
    SET(args, "vae sample --model vae --out %s/named.mid", dir);
    CHECK(run(args) == 0, "a shipped model's name: %s", err);
    unsetenv("CADENZA_MODELS");

    /* ---- sample ---- */
    SET(p, "%s/s", dir);
    SET(args, "vae sample --model %s --n 3 --seed 7 --out-dir %s", ckpt, p);
    CHECK(run(args) == 0, "sample: %s", err);
    CHECK_INT(count_files(p), 3);
    CHECK_INT(count_lines(out), 3);
    CHECK_STR_CONTAINS(out, "vae_seed7_1.mid");
    CHECK_STR_CONTAINS(out, "density");
    SET(q, "%s/vae_seed7_3.mid", p);
    CHECK(notes_in(q) >= 0, "%s is a MIDI file", q);
    CHECK(file_holds(q, "cadenza vae sample: model") && file_holds(q, "seed 7, sample 3 of 3, temperature 0.5"),
          "the text event records the model, seed and settings");
    /* the same samples whatever --n is */
    SET(args, "vae sample --model %s --n 2 --seed 7 --out-dir %s/s2", ckpt, dir);
    CHECK(run(args) == 0, "sample: %s", err);
    for (int i = 1; i <= 2; i++) {
        char x[PATH_MAX + 32], y[PATH_MAX + 32];
        SET(x, "%s/vae_seed7_%d.mid", p, i);
        SET(y, "%s/s2/vae_seed7_%d.mid", dir, i);
        CHECK(same_notes(x, y), "sample %d of seed 7 is the same with --n 3 and --n 2", i);
    }
    /* never replaced without --force: the whole run refused, before any work */
    write_file(q, "keep");
    SET(args, "vae sample --model %s --n 3 --seed 7 --out-dir %s", ckpt, p);
    check_one_line_error(run(args), 1, "vae_seed7_1.mid exists; use --force to replace it");
    CHECK(file_holds(q, "keep") && notes_in(q) < 0, "the file is as it was");
    SET(args, "vae sample --model %s --n 3 --seed 7 --out-dir %s --force", ckpt, p);
    CHECK(run(args) == 0, "sample --force: %s", err);
    CHECK(notes_in(q) >= 0, "replaced with --force");
    /* --out, --plot */
    SET(q, "%s/one.mid", dir);
    SET(args, "vae sample --model %s --out %s --plot --temperature 1", ckpt, q);
    if (cdz_png_available()) {
        CHECK(run(args) == 0, "sample --plot: %s", err);
        SET(p, "%s/one.png", dir);
        CHECK(exists(p) || (notes_in(q) == 0 && strstr(err, "no notes")), "the picture beside it (or why not): %s", err);
    } else {
        check_one_line_error(run(args), 1, "libpng");
        CHECK(!exists(q), "nothing written without libpng");
    }
    /* --wav: rendered, or refused before any work */
    SET(q, "%s/sound.mid", dir);
    SET(args, "vae sample --model %s --out %s --wav", ckpt, q);
    int wav_ok = cdz_render_available() && cdz_render_find_soundfont() != NULL;
    if (wav_ok) {
        CHECK(run(args) == 0, "sample --wav: %s", err);
        SET(p, "%s/sound.wav", dir);
        CHECK(exists(p), "the WAV beside it");
    } else {
        CHECK_INT(run(args), 1);
        CHECK_STR_CONTAINS(err, "--wav");
        CHECK(!exists(q), "nothing written when --wav cannot render");
    }
    /* a failure after the first files are written (the WAVs past a file-size limit): every file it wrote
     * removed, and the folder it made */
    if (wav_ok) {
        char cmd[1024];
        SET(p, "%s/rollback", dir);
        SET(cmd, "trap '' XFSZ; ulimit -f 8; %s vae sample --model %s --n 2 --wav --out-dir %s", prog, ckpt, p);
        CHECK_INT(test_shell(cmd, out_path, err_path, out, sizeof out, err, sizeof err), 1);
        CHECK_STR_CONTAINS(err, "File too large");
        CHECK_STR_CONTAINS(err, "removed the 2 files this command had written");
        CHECK(!exists(p), "nothing left of a failed run: %s", err);
    }
    /* --similar at amount 1 and temperature 0 decodes mu of A's first window: A reconstructed */
    SET(p, "%s/similar.mid", dir);
    SET(args, "vae sample --model %s --similar %s --amount 1 --temperature 0 --out %s", ckpt, a, p);
    CHECK(run(args) == 0, "sample --similar: %s", err);
    CHECK(file_holds(p, "similar to"), "the text event records --similar");
    SET(q, "%s/recon_a.mid", dir);
    SET(args, "vae reconstruct %s --model %s --out %s", a, ckpt, q);
    CHECK(run(args) == 0, "reconstruct: %s", err);
    CHECK(same_notes(p, q), "--similar A --amount 1 at temperature 0 is A's reconstruction");
    SET(args, "vae sample --model %s --similar %s/missing.mid --out %s/x.mid", ckpt, dir, dir);
    check_one_line_error(run(args), 1, "missing.mid");

    /* ---- reconstruct ---- */
    SET(args, "vae reconstruct %s --model %s --out %s", a, ckpt, q);
    check_one_line_error(run(args), 1, "recon_a.mid exists; use --force to replace it");
    SET(args, "vae reconstruct %s --model %s --out %s --force --all-windows", a, ckpt, q);
    CHECK(run(args) == 0, "reconstruct --all-windows: %s", err);
    float *mu = calloc((size_t)64 * (size_t)Z, sizeof *mu);
    cdz_tokens w;
    int nw = library_mu(m, a, mu, 64, &w);
    CHECK(nw >= 2, "%s has windows: %d", a, nw);
    char want[64];
    SET(want, "window %d: ", nw - 1);
    CHECK_STR_CONTAINS(out, want);
    SET(want, "window %d: ", nw);
    CHECK(!strstr(out, want), "one line per window (%d): %s", nw, out);
    /* the accuracy printed is the library's reconstruction compared token by token */
    uint16_t *rec = calloc((size_t)L, sizeof *rec);
    if (nw > 0 && rec && cdz_vae_decode(m, mu, 1, 0, 1, rec, &e) == CDZ_OK) {
        int same = 0;
        for (int k = 0; k < L; k++) same += rec[k] == w.tokens[k];
        SET(want, "window 0: %d of %d tokens as in", same, L);
        CHECK_STR_CONTAINS(out, want);
    }
    free(rec);
    SET(p, "%s/short.mid", dir);
    write_short(p);
    SET(args, "vae reconstruct %s --model %s --out %s/never.mid", p, ckpt, dir);
    check_one_line_error(run(args), 1, "short.mid: ");
    CHECK_STR_CONTAINS(err, "window");
    SET(q, "%s/never.mid", dir);
    CHECK(!exists(q), "nothing written for a file without a window");
    SET(args, "vae reconstruct %s/missing.mid --model %s --out %s", dir, ckpt, q);
    check_one_line_error(run(args), 1, "missing.mid");
    CHECK(!exists(q), "nothing written for a missing file");

    /* ---- encode ---- */
    SET(args, "vae encode %s --model %s --json", a, ckpt);
    CHECK(run(args) == 0, "encode --json: %s", err);
    cdz_json *j = NULL;
    CHECK(cdz_json_parse(out, strlen(out), "encode --json", &j, &e) == CDZ_OK, "encode --json is JSON: %s", out);
    const cdz_json *wins = cdz_json_get(j, "windows");
    CHECK(wins && wins->type == CDZ_JSON_ARRAY && (int)wins->n == nw, "every window: %s", out);
    CHECK(strcmp(cdz_json_get_string(j, "model", ""), "vae.safetensors") == 0, "the model named: %s", out);
    double worst = 0;
    int sigma_ok = 1;
    for (size_t i = 0; wins && wins->type == CDZ_JSON_ARRAY && i < wins->n && i < 64; i++) {
        const cdz_json *jm = cdz_json_get(&wins->items[i], "mu"), *js = cdz_json_get(&wins->items[i], "sigma");
        CHECK(jm && js && (int)jm->n == Z && (int)js->n == Z, "window %zu: mu and sigma of %d", i, Z);
        for (int k = 0; jm && js && k < Z && (int)jm->n == Z && (int)js->n == Z; k++) {
            worst = fmax(worst, fabs(jm->items[k].number - mu[i * (size_t)Z + k]));
            sigma_ok &= js->items[k].number > 0;
        }
        const cdz_json *ji = cdz_json_get(&wins->items[i], "index");
        CHECK(ji && ji->number == (double)i, "window %zu: its index", i);
    }
    CHECK(worst <= 1e-6, "encode --json mu is the library's (6 decimals): off by %g", worst);
    CHECK(sigma_ok, "sigma > 0");
    cdz_json_free(j);
    SET(args, "vae encode %s --model %s", a, ckpt);
    CHECK(run(args) == 0, "encode: %s", err);
    CHECK(strstr(out, "window 0") && strstr(out, "mu") && strstr(out, "sigma"), "encode: %s", out);
    SET(args, "vae encode %s --model %s", p, ckpt);
    check_one_line_error(run(args), 1, "short.mid: ");

    /* ---- attribute ---- */
    char vec[256];
    SET(vec, "%s/vae.density.json", dir);
    SET(args, "vae attribute --model %s --name density --in %s", ckpt, mel);
    CHECK(run(args) == 0, "attribute: %s", err);
    CHECK_STR_CONTAINS(out, vec);
    uint8_t *jbytes = NULL;
    size_t len = 0;
    j = NULL;
    CHECK(cdz_file_read_all(vec, &jbytes, &len, &e) == CDZ_OK && cdz_json_parse((char *)jbytes, len, vec, &j, &e) == CDZ_OK,
          "%s is JSON", vec);
    const cdz_json *v = cdz_json_get(j, "vector");
    CHECK(strcmp(cdz_json_get_string(j, "model", ""), "vae.safetensors") == 0, "the model named");
    CHECK(strcmp(cdz_json_get_string(j, "attribute", ""), "density") == 0, "the attribute named");
    CHECK(v && v->type == CDZ_JSON_ARRAY && (int)v->n == Z, "a vector of %d", Z);
    CHECK(cdz_json_get(j, "latent_dim") && cdz_json_get(j, "latent_dim")->number == Z, "latent_dim %d", Z);
    CHECK(cdz_json_get(j, "windows") && cdz_json_get(j, "windows")->number >= 8, "windows");
    CHECK(cdz_json_get(j, "top_mean") && cdz_json_get(j, "bottom_mean") &&
          cdz_json_get(j, "top_mean")->number >= cdz_json_get(j, "bottom_mean")->number, "top_mean >= bottom_mean");
    cdz_json_free(j);
    cdz_free(jbytes);
    check_one_line_error(run(args), 1, "vae.density.json exists; use --force to replace it");
    SET(args, "vae attribute --model %s --name density --in %s --force", ckpt, mel);
    CHECK(run(args) == 0, "attribute --force: %s", err);
    SET(p, "%s/empty", dir);
    mkdir(p, 0777);
    SET(args, "vae attribute --model %s --name range --in %s", ckpt, p);
    check_one_line_error(run(args), 1, "empty: no MIDI files");
    SET(args, "vae attribute --model %s --name range --in %s --out %s/r.json", ckpt, a, dir);
    {
        /* one file: fewer than 8 windows is the library's error; with 8 or more, a feature that is the same
         * at both ends (one tune's range) is refused as giving no direction */
        int rc = run(args);
        if (nw < 8) {
            CHECK_INT(rc, 1);
            CHECK_STR_CONTAINS(err, "tune00.mid");
        } else {
            CHECK(rc == 0 || (rc == 1 && strstr(err, "no direction")), "range over one tune: %d %s", rc, err);
        }
    }

    /* ---- --attribute ---- */
    SET(p, "%s/plain.mid", dir);
    SET(args, "vae sample --model %s --seed 3 --out %s", ckpt, p);
    CHECK(run(args) == 0, "sample: %s", err);
    SET(q, "%s/moved.mid", dir);
    SET(args, "vae sample --model %s --seed 3 --out %s --attribute density:+1.5", ckpt, q);
    CHECK(run(args) == 0, "sample --attribute: %s", err);
    CHECK(file_holds(q, "attributes density:+1.5"), "the text event records the attribute");
    /* several add up: +1 and -1 of the same vector cancel exactly */
    SET(args, "vae sample --model %s --seed 3 --out %s --force --attribute density:+1 --attribute %s:-1", ckpt,
             q, vec);
    CHECK(run(args) == 0, "sample --attribute twice: %s", err);
    CHECK(same_notes(p, q), "density:+1 and density:-1 add up to nothing");
    SET(args, "vae sample --model %s --out %s/x.mid --attribute syncopation:1", ckpt, dir);
    check_one_line_error(run(args), 1, "vae.syncopation.json: no such file");
    CHECK_STR_CONTAINS(err, "cadenza vae attribute");
    SET(p, "%s/wrong_dim.json", dir);
    SET(args, "{\"model\": \"vae.safetensors\", \"attribute\": \"density\", \"latent_dim\": %d, \"vector\": [1]}",
             Z + 1);
    write_file(p, args);
    SET(args, "vae sample --model %s --out %s/x.mid --attribute %s:1", ckpt, dir, p);
    check_one_line_error(run(args), 1, "wrong_dim.json: a vector of latent size");
    SET(p, "%s/wrong_model.json", dir);
    {
        char text[8192];
        int k = snprintf(text, sizeof text, "{\"model\": \"other.safetensors\", \"attribute\": \"density\", "
                                            "\"latent_dim\": %d, \"vector\": [", Z);
        for (int i = 0; i < Z && k < (int)sizeof text - 16; i++) k += snprintf(text + k, sizeof text - (size_t)k, "%s0.5", i ? "," : "");
        snprintf(text + k, sizeof text - (size_t)k, "]}");
        write_file(p, text);
    }
    SET(args, "vae interpolate %s %s --model %s --out-dir %s/never --attribute %s:1", a, b, ckpt, dir, p);
    check_one_line_error(run(args), 1, "wrong_model.json: measured on the model other.safetensors, not vae.safetensors");
    SET(p, "%s/never", dir);
    CHECK(!exists(p), "nothing made for a refused vector");
    SET(q, "%s/x.mid", dir);
    CHECK(!exists(q), "no output from the refused runs");

    /* ---- interpolate ---- */
    SET(p, "%s/i", dir);
    SET(args, "vae interpolate %s %s --model %s --steps 5 --out-dir %s%s", a, b, ckpt, p,
             cdz_png_available() ? " --plot" : "");
    CHECK(run(args) == 0, "interpolate: %s", err);
    for (int i = 0; i < 5; i++) {
        SET(q, "%s/interp_%02d.mid", p, i);
        CHECK(notes_in(q) >= 0, "%s written", q);
    }
    SET(q, "%s/interp_05.mid", p);
    CHECK(!exists(q), "5 steps, no more");
    SET(q, "%s/interpolation.mid", p);
    CHECK(notes_in(q) >= 0, "%s written", q);
    CHECK(file_holds(q, "cadenza vae interpolate: model"), "the text event records the model");
    SET(q, "%s/interp_00.mid", p);
    SET(vec, "%s/recon_a.mid", dir);
    SET(args, "vae reconstruct %s --model %s --out %s --force", a, ckpt, vec);
    CHECK(run(args) == 0, "reconstruct: %s", err);
    CHECK(same_notes(q, vec), "the first step is A reconstructed");
    SET(q, "%s/interp_04.mid", p);
    SET(args, "vae reconstruct %s --model %s --out %s --force", b, ckpt, vec);
    CHECK(run(args) == 0, "reconstruct: %s", err);
    CHECK(same_notes(q, vec), "the last step is B reconstructed");
    if (cdz_png_available()) {
        SET(q, "%s/interpolation.png", p);
        CHECK(exists(q) || strstr(err, "nothing to draw"), "the picture (or why not): %s", err);
    }
    /* nothing replaced, nothing added, when one output exists */
    SET(p, "%s/i2", dir);
    mkdir(p, 0777);
    SET(q, "%s/interp_02.mid", p);
    write_file(q, "keep");
    SET(args, "vae interpolate %s %s --model %s --steps 5 --out-dir %s", a, b, ckpt, p);
    check_one_line_error(run(args), 1, "interp_02.mid exists; use --force to replace it");
    CHECK(count_files(p) == 1 && file_holds(q, "keep"), "the folder is as it was");
    SET(args, "vae interpolate %s %s --model %s --steps 3 --out-dir %s --force --temperature 1 --seed 4", a, b,
             ckpt, p);
    CHECK(run(args) == 0, "interpolate --force: %s", err);
    CHECK(notes_in(q) >= 0, "replaced with --force");
    /* bad inputs: nothing made */
    SET(p, "%s/i3", dir);
    SET(args, "vae interpolate %s/missing.mid %s --model %s --out-dir %s", dir, b, ckpt, p);
    check_one_line_error(run(args), 1, "missing.mid");
    CHECK(!exists(p), "no folder made for a missing input");
    SET(q, "%s/short.mid", dir);
    SET(args, "vae interpolate %s %s --model %s --out-dir %s", a, q, ckpt, p);
    check_one_line_error(run(args), 1, "short.mid: ");
    CHECK(!exists(p), "no folder made for a file without a window");

    /* ---- fine-tuning: a new run from the model's weights (train --init-from) ---- */
    {
        char cfg[PATH_MAX + 64], tuned[PATH_MAX + 64];
        SET(cfg, "%s/ft.json", dir);
        const char *base = cdz_kind_named_config(cdz_model_kind_find("music_vae"), "tiny_mel_2bar");
        char json[2048];
        snprintf(json, sizeof json, "{\"max_beta\":0.01,\"sampling_rate\":5,%s", base + 1);
        write_file(cfg, json);
        SET(tuned, "%s/tuned.safetensors", dir);
        SET(args, "train --model music_vae --config %s --init-from %s --data %s --steps 3 --eval-every 0 --out %s", cfg, ckpt, data,
            tuned);
        CHECK(run(args) == 0, "train --init-from: %s", err);
        cdz_model *t = NULL;
        cdz_error te = {0};
        if (cdz_checkpoint_load(tuned, &t, &te) == CDZ_OK) {
            /* three steps from the model's weights: near them, not a fresh initialisation */
            double d = 0, n = 0;
            const float *pa = cdz_model_params_const(t), *pb = cdz_model_params_const(m);
            for (size_t i = 0; i < cdz_model_n_params(t); i++) d += fabs(pa[i] - pb[i]), n += fabs(pb[i]);
            CHECK(d < 0.05 * n, "fine-tuned weights start from the checkpoint's (moved %.3g of %.3g)", d, n);
            cdz_model_free(t);
        } else {
            CHECK(0, "load the fine-tuned model: %s", te.msg);
        }
        SET(args, "train --model music_vae --config tiny_hier --init-from %s --data %s --steps 3 --out %s/x.safetensors", ckpt, data,
            dir);
        CHECK(run(args) == 1 && strstr(err, "shapes must match"), "another shape refused: %s", err);
        SET(args, "train --resume %s --init-from %s --data %s --steps 3", ckpt, ckpt, data);
        CHECK(run(args) == 2 && strstr(err, "one or the other"), "--init-from with --resume refused: %s", err);
    }

    /* ---- the shipped models (run from the repository's root, as tests/run.sh does) ---- */
    if (exists("models/vae_mel_2bar.safetensors") && exists("examples/vae/twinkle.mid")) {
        CHECK(run("models") == 0, "models: %s", err);
        CHECK_STR_CONTAINS(out, "cadenza vae sample|interpolate|reconstruct --model vae_mel_2bar");
        CHECK_STR_CONTAINS(out, "vae_drums");
        SET(p, "%s/demo", dir);
        SET(args, "vae interpolate examples/vae/twinkle.mid examples/vae/ode_to_joy.mid --model vae_mel_2bar --steps 3 --out-dir %s", p);
        CHECK(run(args) == 0, "the demo's interpolation: %s", err);
        SET(q, "%s/interp_00.mid", p);
        CHECK(notes_in(q) >= 6, "Twinkle reconstructed with its notes: %ld", (long)notes_in(q));
        SET(args, "vae reconstruct examples/vae/ode_to_joy.mid --model vae_mel_2bar --out %s/ode.mid", dir);
        CHECK(run(args) == 0 && strstr(out, "token accuracy"), "reconstruct with the shipped model: %s", err);
        SET(args, "vae sample --model vae_drums --n 2 --attribute density:+1 --out-dir %s/drums", dir);
        CHECK(run(args) == 0, "the shipped drum model with its density vector: %s", err);
    } else {
        printf("skipped: the shipped VAE models (models/vae_mel_2bar.safetensors) are not here\n");
    }

    /* ---- other commands send a MusicVAE to 'vae' ---- */
    SET(args, "generate --checkpoint %s --bars 2 --out %s/g.mid", ckpt, dir);
    check_one_line_error(run(args), 1, "through 'cadenza vae sample'");

    /* ---- evaluate ---- */
    SET(args, "vae evaluate --model %s --data %s --split train --pairs 3 --steps 5", ckpt, data);
    CHECK(run(args) == 0, "evaluate: %s", err);
    CHECK_STR_CONTAINS(out, "sampled accuracy");
    CHECK_STR_CONTAINS(out, "Hamming distance between steps");
    SET(args, "vae evaluate --model %s --data %s --split train --pairs 3 --json", ckpt, data);
    CHECK(run(args) == 0, "evaluate --json: %s", err);
    {
        cdz_json *ej = NULL;
        cdz_error je = {0};
        CHECK(cdz_json_parse(out, strlen(out), "evaluate --json", &ej, &je) == CDZ_OK, "evaluate --json parses: %s", je.msg);
        if (ej) {
            const cdz_json *acc = cdz_json_get(ej, "sampled_accuracy"), *tf = cdz_json_get(ej, "tf_accuracy");
            const cdz_json *ip = cdz_json_get(ej, "interpolation");
            CHECK(acc && tf && acc->number >= 0 && acc->number <= 1 && tf->number >= 0 && tf->number <= 1, "accuracies in [0, 1]");
            CHECK(ip && cdz_json_get(ip, "latent") && cdz_json_get(ip, "data"), "both interpolations reported");
            cdz_json_free(ej);
        }
    }
    SET(p, "%s/heard", dir);
    SET(args, "vae evaluate --model %s --data %s --split train --pairs 0 --write 2 --out-dir %s", ckpt, data, p);
    CHECK(run(args) == 0, "evaluate --write: %s", err);
    SET(q, "%s/window_0001_recon.mid", p);
    CHECK(notes_in(q) >= 0 && count_files(p) == 4, "two windows and their reconstructions written");
    CHECK(run(args) == 1 && strstr(err, "exists; use --force"), "not replaced without --force: %s", err);
    check_usage_error(run("vae evaluate --model x --data y --write 3"), "--write N needs --out-dir DIR");
    SET(args, "vae evaluate --model %s --data %s", ckpt, data);
    check_one_line_error(run(args), 1, "the eval split has no window");
    check_usage_error(run("vae evaluate --model x"), "--data FILE.cdz is required");
    SET(args, "vae evaluate --model %s --data %s --split nine", ckpt, data);
    CHECK(run(args) == 2 && strstr(err, "train, eval or test"), "a bad split: %s", err);

    cdz_tokens_free(&w);
    free(mu);
    cdz_model_free(m);
    SET(args, "rm -rf %s", dir);
    if (system(args) != 0) printf("could not clean up %s\n", dir);
    return test_summary("test_cli_vae");
}

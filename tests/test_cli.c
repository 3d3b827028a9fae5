/* The cadenza command: help, exit statuses (0 ok, 1 failed file, 2 bad usage), one-line errors, and
 * the output of midi info/notes and demo. Runs the built program given as argv[1]. */
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static const char *prog;
static char out_path[64], err_path[64];
static char out[1 << 16], err[1 << 14];

static void slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

/* Runs `cadenza <args>`, capturing stdout and stderr; returns the exit status. */
static int run(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", prog, args, out_path, err_path);
    int st = system(cmd);
    slurp(out_path, out, sizeof out);
    slurp(err_path, err, sizeof err);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

int main(int argc, char **argv) {
    prog = argc > 1 ? argv[1] : "build/cadenza";
    char dir[] = "/tmp/cadenza_cli_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    char args[1024], mid[256], bad[256];
    snprintf(mid, sizeof mid, "%s/demo.mid", dir);
    snprintf(bad, sizeof bad, "%s/bad.mid", dir);

    CHECK_INT(run("--help"), 0);
    CHECK_STR_CONTAINS(out, "usage: cadenza <command>");
    CHECK_INT(run("midi --help"), 0);
    CHECK_STR_CONTAINS(out, "midi <command>");
    CHECK_INT(run("midi info --help"), 0);
    CHECK_INT(run(""), 2);
    CHECK_INT(run("frobnicate"), 2);
    CHECK_STR_CONTAINS(err, "unknown command 'frobnicate'");
    CHECK_INT(run("midi info --bogus x.mid"), 2);
    CHECK_STR_CONTAINS(err, "unknown option '--bogus'");
    CHECK_STR_CONTAINS(err, "usage: cadenza midi");
    CHECK_INT(run("midi info"), 2);
    CHECK_INT(run("midi play x.mid"), 2);
    CHECK_INT(run("midi notes a.mid b.mid"), 2);

    CHECK_INT(run("midi info /nonexistent/song.mid"), 1);
    CHECK_STR_CONTAINS(err, "/nonexistent/song.mid");
    CHECK_INT(count_lines(err), 1);
    FILE *f = fopen(bad, "wb");
    fwrite("MThd\0\0\0\6\0\0\0\1\0\140MTrk\0\0\0\4\0\220\074\220", 1, 26, f);
    fclose(f);
    snprintf(args, sizeof args, "midi info %s", bad);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "bad.mid: track 0: byte 25: status byte where a data byte was expected");
    CHECK_INT(count_lines(err), 1);

    snprintf(args, sizeof args, "demo --out %s", mid);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "identical to what was written");
    snprintf(args, sizeof args, "midi info %s", mid);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "format 1, 480 ticks per quarter note, 2 tracks");
    CHECK_STR_CONTAINS(out, "21 notes");
    CHECK_STR_CONTAINS(out, "100.00 qpm");
    CHECK_STR_CONTAINS(out, "track 1 \"Bass\", channel 2, Acoustic Bass (program 32): 7 notes");
    snprintf(args, sizeof args, "midi info --json %s %s", mid, mid);
    CHECK_INT(run(args), 0);
    CHECK_INT(count_lines(out), 2);
    CHECK_STR_CONTAINS(out, "\"notes\":21,");
    CHECK_STR_CONTAINS(out, "\"duration_s\":9.6,");
    snprintf(args, sizeof args, "midi info %s /nonexistent.mid", mid);
    CHECK_INT(run(args), 1); /* the good file is still printed */
    CHECK_STR_CONTAINS(out, "21 notes");
    snprintf(args, sizeof args, "midi notes %s", mid);
    CHECK_INT(run(args), 0);
    CHECK_INT(count_lines(out), 22);
    CHECK_STR_CONTAINS(out, "    0   1    0    60   90     0.000000     0.525000          0        420");
    snprintf(args, sizeof args, "midi notes --json %s", mid);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "{\"track\":0,\"channel\":0,\"program\":0,\"is_drum\":false,\"pitch\":60,\"velocity\":90,\"start_s\":0,\"end_s\":0.525,\"start_tick\":0,\"end_tick\":420}");

    /* codec: list, encode to text and JSON, decode back to MIDI, and bad input */
    char tok[256], js[256], out_mid[256];
    snprintf(tok, sizeof tok, "%s/demo.txt", dir);
    snprintf(js, sizeof js, "%s/demo.json", dir);
    snprintf(out_mid, sizeof out_mid, "%s/back.mid", dir);
    CHECK_INT(run("codec list"), 0);
    CHECK_STR_CONTAINS(out, "performance   388 tokens");
    snprintf(args, sizeof args, "codec encode --codec performance %s --out %s", mid, tok);
    CHECK_INT(run(args), 0);
    slurp(tok, out, sizeof out);
    CHECK_STR_CONTAINS(out, "# sequence 0: ");
    CHECK_STR_CONTAINS(out, "VELOCITY_18\nNOTE_ON_48\nVELOCITY_23\nNOTE_ON_60\nTIME_SHIFT_53\nNOTE_OFF_60\n");
    snprintf(args, sizeof args, "codec decode --codec performance %s --out %s", tok, out_mid);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "21 notes");
    snprintf(args, sizeof args, "codec encode --codec performance --json %s --out %s", mid, js);
    CHECK_INT(run(args), 0);
    snprintf(args, sizeof args, "codec decode --codec performance %s --out %s", js, out_mid);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "21 notes");
    CHECK_INT(run("codec encode x.mid"), 2);
    CHECK_STR_CONTAINS(err, "--codec NAME is required");
    CHECK_INT(run("codec encode --codec nope x.mid"), 2);
    CHECK_INT(run("codec decode --codec melody x.txt"), 2);
    FILE *g = fopen(tok, "w");
    fputs("NOTE_ON_60\nBANANA\n", g);
    fclose(g);
    snprintf(args, sizeof args, "codec decode --codec performance %s --out %s", tok, out_mid);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "line 2: 'BANANA' is not a performance token");
    snprintf(args, sizeof args, "codec decode --codec performance %s --out %s --sequence 3", js, out_mid);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "has 1 sequence, no sequence 3");
    unlink(tok);
    unlink(js);
    unlink(out_mid);

    /* dataset build and info on the demo file */
    char cdz[256];
    snprintf(cdz, sizeof cdz, "%s/demo.cdz", dir);
    snprintf(args, sizeof args, "dataset build --codec performance --in %s --out %s --transpose -2:2", mid, cdz);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "files               1 found, 1 used");
    CHECK_STR_CONTAINS(out, "sequences           5 (train 5, eval 0, test 0)");
    snprintf(args, sizeof args, "dataset info %s", cdz);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "codec performance (388 tokens)");
    snprintf(args, sizeof args, "dataset info --json %s", cdz);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "\"sequences\":5,");
    CHECK_INT(run("dataset build --codec melody --out x.cdz"), 2);
    CHECK_STR_CONTAINS(err, "--in DIR_OR_FILE is required");
    CHECK_INT(run("dataset build --codec melody --in /nonexistent --out x.cdz"), 1);
    CHECK_STR_CONTAINS(err, "/nonexistent");
    snprintf(args, sizeof args, "dataset info %s", mid);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "not a cadenza dataset");
    snprintf(args, sizeof args, "dataset build --codec melody --in %s --out %s", bad, cdz);
    CHECK_INT(run(args), 1); /* nothing could be encoded */
    CHECK_STR_CONTAINS(err, "no sequences");
    /* token JSON that is not what encode writes */
    g = fopen(js, "w");
    fputs("{\"codec\":\"melody\", \"sequences\":[[1,-5]]}", g);
    fclose(g);
    snprintf(args, sizeof args, "codec decode --codec melody %s --out %s", js, out_mid);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "expected a token id 0-37");
    g = fopen(js, "w");
    fputs("{\"codec\":\"melody\"", g);
    fclose(g);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "without a \"sequences\" array");
    unlink(js);
    unlink(out_mid);
    unlink(cdz);

    unlink(mid);
    unlink(bad);
    unlink(out_path);
    unlink(err_path);
    rmdir(dir);
    return test_summary("test_cli");
}

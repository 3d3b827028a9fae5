/* The ensemble commands: cadenza generate with --style, --instruments, --minutes; cadenza infill; eval
 * ensemble and eval instruments; dataset build's index, licence filter and anticipation; on a tiny
 * ensemble model saved here (and the shipped one when models/ensemble.safetensors is there). Every bad
 * request: a clear error naming the valid choices, a non-zero exit status, nothing written.
 * Runs the built program given as argv[1] (default: cadenza beside this test's build folder). */
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cadenza/ensemble.h"
#include "cadenza/train.h"
#include "test.h"

static const char *prog;
static char out_path[96], err_path[96];
static char out[1 << 18], err[1 << 14];

static int run(const char *fmt, ...) {
    char args[4096], cmd[4400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s", prog, args);
    return test_shell(cmd, out_path, err_path, out, sizeof out, err, sizeof err);
}

static int exists(const char *path) { return access(path, F_OK) == 0; }

/* A quartet-like file: tracks "Violin I", "Violin II", "Viola", "Cello", 8 bars of 4/4. */
static void write_quartet(const char *path) {
    cdz_score s;
    cdz_error e;
    cdz_score_init(&s, 480, &e);
    cdz_score_add_tempo(&s, 0, 90);
    cdz_score_add_time_signature(&s, 0, 4, 4);
    static const uint8_t prog_of[4] = {40, 40, 41, 42}, base[4] = {76, 67, 60, 48};
    for (int b = 0; b < 8; b++)
        for (int q = 0; q < 4; q++)
            for (int v = 0; v < 4; v++) {
                int64_t t = (b * 4 + q) * 480;
                cdz_score_add_note(&s, (uint16_t)(v + 1), (uint8_t)v, prog_of[v], (uint8_t)(base[v] + (b + q * v) % 5), 80, t, t + 400);
            }
    cdz_score_finish(&s, &e);
    static const char *names[4] = {"Violin I", "Violin II", "Viola", "Cello"};
    for (int v = 0; v < 4; v++) snprintf(s.tracks[v + 1].name, sizeof s.tracks[0].name, "%s", names[v]);
    cdz_score_write_file(&s, path, 1, &e);
    cdz_score_free(&s);
}

int main(int argc, char **argv) {
    static char prog_buf[PATH_MAX];
    if (argc > 1) prog = argv[1];
    else {
        snprintf(prog_buf, sizeof prog_buf, "%s", argv[0]);
        char *slash = strrchr(prog_buf, '/');
        if (slash) snprintf(slash, sizeof prog_buf - (size_t)(slash - prog_buf), "/../cadenza");
        else snprintf(prog_buf, sizeof prog_buf, "build/cadenza");
        prog = prog_buf;
    }
    char dir[] = "/tmp/cadenza_cli_ens_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    char ckpt[128], quartet[256], corpus[128], path[256], x[256];
    snprintf(ckpt, sizeof ckpt, "%s/tiny.safetensors", dir);
    snprintf(corpus, sizeof corpus, "%s/corpus", dir);
    snprintf(quartet, sizeof quartet, "%s/quartet.mid", corpus);
    mkdir(corpus, 0777);
    write_quartet(quartet);
    cdz_model *m = NULL;
    cdz_error e = {0};
    CHECK(cdz_model_create(&m, "music_transformer", "tiny_ensemble", &e) == CDZ_OK, "%s", e.msg);
    cdz_model_init_params(m, 5);
    CHECK(cdz_checkpoint_save(ckpt, m, NULL, NULL, 0, &e) == CDZ_OK, "%s", e.msg);
    cdz_model_free(m);

    /* generate */
    snprintf(path, sizeof path, "%s/g.mid", dir);
    int rc = run("generate --checkpoint %s --style baroque --composer bach --instruments violin,viola,cello --seconds 6 --meter 3/4 "
                 "--qpm 100 --out %s", ckpt, path);
    CHECK(rc == 0 && exists(path), "generate: rc %d: %s", rc, err);
    CHECK_STR_CONTAINS(out, "wrote ");
    cdz_score g;
    if (cdz_score_read_file(&g, path, &e) == CDZ_OK) {
        int ok = g.n_notes > 0;
        for (size_t i = 0; i < g.n_notes; i++) {
            int grp = cdz_ens_group_of(g.notes[i].program, 0);
            ok &= grp == cdz_ens_group_find("violin") || grp == cdz_ens_group_find("viola") || grp == cdz_ens_group_find("cello");
        }
        CHECK(ok, "the notes are on the violin, viola and cello (%zu)", g.n_notes);
        CHECK(g.n_time_sigs >= 1 && g.time_sigs[0].numerator == 3, "in 3/4");
        cdz_score_free(&g);
    }
    rc = run("generate --checkpoint %s --instruments violin --seconds 3 --out %s", ckpt, path);
    CHECK(rc != 0 && strstr(err, "exists") && strstr(err, "--force"), "an existing output is not replaced: %s", err);
    rc = run("generate --checkpoint %s --instruments violin,kazoo --seconds 3 --out %s/k.mid", ckpt, dir);
    CHECK(rc == 2 && strstr(err, "unknown instrument 'kazoo'") && strstr(err, "violin, viola, cello"), "unknown instrument: %s", err);
    snprintf(x, sizeof x, "%s/k.mid", dir);
    CHECK(!exists(x), "nothing written");
    rc = run("generate --checkpoint %s --style polka --seconds 3 --out %s", ckpt, x);
    CHECK(rc == 2 && strstr(err, "unknown style 'polka'") && strstr(err, "baroque, classical, romantic"), "unknown style: %s", err);
    rc = run("generate --checkpoint %s --composer nobody --seconds 3 --out %s", ckpt, x);
    CHECK(rc == 2 && strstr(err, "unknown composer") && strstr(err, "bach, haydn"), "unknown composer: %s", err);
    rc = run("generate --checkpoint %s --meter 5/3 --seconds 3 --out %s", ckpt, x);
    CHECK(rc == 2 && strstr(err, "--meter 5/3"), "a meter without a token: %s", err);
    rc = run("generate --checkpoint %s --bars 4 --out %s", ckpt, x);
    CHECK(rc == 2 && strstr(err, "--minutes or --seconds") && strstr(err, "infill"), "bars for an ensemble model: %s", err);
    rc = run("generate --style baroque --bars 2 --out %s", x); /* the default model is a melody model */
    CHECK(rc == 2 && strstr(err, "are for ensemble models"), "--style on another model: %s", err);
    CHECK(!exists(x), "nothing written");

    /* infill */
    snprintf(path, sizeof path, "%s/filled.mid", dir);
    rc = run("infill %s --keep \"Violin I,cello\" --bars 3:6 --checkpoint %s --out %s", quartet, ckpt, path);
    CHECK(rc == 0 && exists(path), "infill: rc %d: %s", rc, err);
    cdz_score a, b;
    if (cdz_score_read_file(&a, quartet, &e) == CDZ_OK && cdz_score_read_file(&b, path, &e) == CDZ_OK) {
        int64_t t0 = cdz_score_bar_to_tick(&a, 2), t1 = cdz_score_bar_to_tick(&a, 6);
        size_t want = 0, have = 0, new_out = 0;
        for (size_t i = 0; i < a.n_notes; i++) {
            const cdz_note *n = &a.notes[i];
            int kept = n->track == 1 || n->track == 4, inside = n->start_tick >= t0 && n->start_tick < t1;
            if (!kept && inside) continue;
            want++;
            for (size_t j = 0; j < b.n_notes; j++)
                if (b.notes[j].track == n->track && b.notes[j].pitch == n->pitch && b.notes[j].start_tick == n->start_tick &&
                    b.notes[j].end_tick == n->end_tick) {
                    have++;
                    break;
                }
        }
        for (size_t j = 0; j < b.n_notes; j++) new_out += b.notes[j].track > 4 && (b.notes[j].start_tick < t0 || b.notes[j].start_tick >= t1);
        CHECK(want == have, "kept parts, and the others outside bars 3-6, note for note: %zu of %zu", have, want);
        CHECK_INT(new_out, 0);
        cdz_score_free(&a), cdz_score_free(&b);
    }
    rc = run("infill %s --keep \"Viola I\" --checkpoint %s --out %s/v.mid", quartet, ckpt, dir);
    CHECK(rc == 2 && strstr(err, "no track named \"Viola I\"") && strstr(err, "track 3 \"Viola\" (Viola)"), "an unknown part: %s", err);
    rc = run("infill %s --keep 2 --bars 6:3 --checkpoint %s --out %s/v.mid", quartet, ckpt, dir);
    CHECK(rc == 2 && strstr(err, "--bars 6:3"), "bars backwards: %s", err);
    rc = run("infill %s --keep 2 --bars 20:30 --checkpoint %s --out %s/v.mid", quartet, ckpt, dir);
    CHECK(rc == 2 && strstr(err, "the file has bars 1 to 8"), "bars past the end: %s", err);
    rc = run("infill %s --keep 2 --instruments tuba --checkpoint %s --out %s/v.mid --unconstrained", quartet, ckpt, dir);
    CHECK(rc == 0, "a new instrument asked for: %s", err);
    rc = run("infill %s/none.mid --keep 2 --checkpoint %s --out %s/w.mid", dir, ckpt, dir);
    CHECK(rc != 0 && strstr(err, "none.mid"), "a missing input: %s", err);
    rc = run("infill %s --checkpoint %s --out %s/w.mid", quartet, ckpt, dir);
    CHECK(rc == 2 && strstr(err, "--keep"), "no --keep: %s", err);
    snprintf(x, sizeof x, "%s/w.mid", dir);
    CHECK(!exists(x), "nothing written");

    /* eval instruments, eval ensemble */
    rc = run("eval instruments %s --instruments violin,viola,cello", path);
    CHECK(rc == 0 && strstr(out, "on the instruments asked for"), "eval instruments: %s", err);
    rc = run("eval instruments %s --instruments oboe,kazoo", path);
    CHECK(rc == 2 && strstr(err, "kazoo"), "eval instruments, unknown: %s", err);
    /* eval controls: the six variants scored on the same tokens; a missing track skipped and said */
    rc = run("eval controls %s --checkpoint %s --track \"violin i\" --style quartet --json", quartet, ckpt);
    CHECK(rc == 0 && strstr(out, "\"pieces\":1") && strstr(out, "\"layout\":") && strstr(out, "\"none\":"), "eval controls: %s %s",
          out, err);
    rc = run("eval controls %s --checkpoint %s --track Oboe", quartet, ckpt);
    CHECK(rc == 1 && strstr(err, "has no track 'Oboe'") && strstr(err, "no piece could be scored"), "eval controls, no such track: %s",
          err);
    rc = run("eval controls %s --checkpoint %s --track 1 --style nonsense", quartet, ckpt);
    CHECK(rc == 2 && strstr(err, "unknown style 'nonsense'"), "eval controls, unknown style: %s", err);
    rc = run("eval ensemble --checkpoint %s --in %s --eval-fraction 0.99 --json", ckpt, corpus);
    CHECK(rc == 0 && strstr(out, "\"infill_controls_nats_per_note\"") && strstr(out, "\"pieces\":1"), "eval ensemble: %s %s", out, err);

    /* dataset build: the index's licence filter and style */
    snprintf(x, sizeof x, "%s/index.json", corpus);
    FILE *f = fopen(x, "w");
    if (f) {
        fputs("[{\"path\":\"quartet.mid\",\"style\":\"string quartet\",\"composer\":\"Haydn, Joseph\",\"licence\":\"CC0 1.0 Universal\"}]", f);
        fclose(f);
    }
    snprintf(x, sizeof x, "%s/q.cdz", dir);
    rc = run("dataset build --codec ensemble --in %s --out %s --licence public-domain,cc0", corpus, x);
    CHECK(rc == 0 && strstr(out, "1 files described by an index.json") && strstr(out, "0 left out"), "licence kept: %s %s", out, err);
    rc = run("codec encode --codec ensemble %s", quartet);
    CHECK(rc == 0 && strstr(out, "INST_violin") && strstr(out, "POS_0"), "codec encode: %s", err);
    rc = run("dataset build --codec ensemble --in %s --out %s --licence cc-by --force", corpus, x);
    CHECK(rc != 0 && strstr(err, "1 left out (not cc-by)"), "licence filtered out: %s %s", out, err);
    rc = run("dataset build --codec ensemble --in %s --out %s --licence bogus --force", corpus, x);
    CHECK(rc != 0 && strstr(err, "unknown licence class 'bogus'") && strstr(err, "cc0"), "bad licence class: %s", err);

    /* the shipped model, when there is one */
    snprintf(x, sizeof x, "%s/shipped.mid", dir);
    if (exists("models/ensemble.safetensors")) {
        rc = run("generate --model ensemble --style baroque --instruments violin,viola,cello --seconds 10 --out %s", x);
        CHECK(rc == 0 && exists(x), "the shipped model: %s", err);
        rc = run("eval instruments %s --instruments violin,viola,cello", x);
        CHECK(rc == 0 && strstr(out, "100.00% on the instruments asked for") && strstr(out, " 0.00% outside their"),
              "the shipped model keeps to the instruments and their ranges: %s %s", out, err);
        snprintf(path, sizeof path, "%s/shipped_filled.mid", dir);
        rc = run("infill %s --keep \"Violin I,Cello\" --model ensemble --seed 2 --out %s", quartet, path);
        CHECK(rc == 0 && exists(path), "the shipped model infills: %s", err);
        rc = run("models");
        CHECK(strstr(out, "ensemble") && strstr(out, "cadenza infill"), "cadenza models lists it");
    } else printf("SKIPPED: the shipped ensemble model (models/ensemble.safetensors not here)\n");
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "cleaned up");
    return test_summary("test_cli_ensemble");
}

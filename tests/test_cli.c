/* The cadenza command: help, exit statuses (0 ok, 1 failed file, 2 bad usage), one-line errors, and
 * the output of midi info/notes and demo. Runs the built program given as argv[1]. */
#include <math.h>
#include <signal.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cadenza/audio_metrics.h"
#include "cadenza/plot.h"
#include "test.h"

static const char *prog;
static char out_path[64], err_path[64];
static char out[1 << 16], err[1 << 14];

/* Runs `cadenza <args>`, capturing stdout and stderr; returns the exit status. */
static int run(const char *args) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s", prog, args);
    return test_shell(cmd, out_path, err_path, out, sizeof out, err, sizeof err);
}


/* Writes melodies with a tempo event on every beat (each a slightly different tempo), as the Weimar
 * Jazz Database's solos have: Magenta's melody extraction cuts them into one-beat pieces. */
static void write_tempo_per_beat(const char *dir, int n) {
    for (int f = 0; f < n; f++) {
        cdz_score s;
        cdz_error e;
        cdz_score_init(&s, 480, &e);
        for (int beat = 0; beat < 32; beat++) cdz_score_add_tempo(&s, beat * 480, 100 + (beat + f) % 7);
        for (int i = 0; i < 64; i++) cdz_score_add_note(&s, 0, 0, 0, (uint8_t)(60 + (i * (f + 2)) % 12), 90, i * 240, i * 240 + 200);
        cdz_score_finish(&s, &e);
        char path[4096];
        snprintf(path, sizeof path, "%s/solo%02d.mid", dir, f);
        cdz_score_write_file(&s, path, 1, &e);
        cdz_score_free(&s);
    }
}

/* The whole file as a string (for comparing before and after), into buf. */
static size_t file_bytes(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap, f) : 0;
    if (f) fclose(f);
    return n;
}

/* A usage error: exit status 2, the message, then exactly one usage line naming --help. */
static void check_usage_error(int rc, const char *message) {
    CHECK_INT(rc, 2);
    CHECK_STR_CONTAINS(err, message);
    int lines = 0;
    for (const char *p = err; *p; p++) lines += *p == '\n';
    CHECK(lines == 2 && strstr(err, "\nusage: cadenza ") && strstr(err, "--help for all"),
          "one message line and one usage line, got: %s", err);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

int main(int argc, char **argv) {
    prog = argc > 1 ? argv[1] : "build/cadenza";
    static char prog_abs[4096], here[2048];
    if (prog[0] != '/' && getcwd(here, sizeof here)) { /* one check runs in another folder */
        snprintf(prog_abs, sizeof prog_abs, "%s/%s", here, prog);
        prog = prog_abs;
    }
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
    /* a tempo of 0 and a time signature of 0/2^255 mean nothing: left out, and said (midi info lists
     * them; a command reading the file notes them) */
    static const unsigned char meaningless[] = {
        'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 0, 0, 1, 0, 0x60, 'M', 'T', 'r', 'k', 0, 0, 0, 27,
        0, 0xFF, 0x51, 3, 0, 0, 0,             /* tempo 0 */
        0, 0xFF, 0x58, 4, 0, 0xFF, 24, 8,      /* 0/2^255 */
        0, 0x90, 60, 90, 0x60, 0x80, 60, 0,    /* one note */
        0, 0xFF, 0x2F, 0};
    f = fopen(bad, "wb");
    fwrite(meaningless, 1, sizeof meaningless, f);
    fclose(f);
    snprintf(args, sizeof args, "midi info %s", bad);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "1 tempo events of 0 or of the wrong length left out");
    CHECK_STR_CONTAINS(out, "1 time signatures with a numerator of 0 or a denominator past 2^7 left out");
    snprintf(args, sizeof args, "codec encode --codec performance %s", bad);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(err, "bad.mid: 1 tempo events of 0");

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

    /* render: the demo to WAV (when FluidSynth and a SoundFont are here), bad flags and files */
    char wav[300];
    snprintf(wav, sizeof wav, "%s/demo.wav", dir);
    snprintf(args, sizeof args, "render %s --out %s --sample-rate 22050 --reverb 0", mid, wav);
    if (cdz_render_available() && cdz_render_find_soundfont()) {
        CHECK_INT(run(args), 0);
        CHECK_STR_CONTAINS(out, "22050 Hz stereo");
        cdz_audio au;
        cdz_error ae;
        CHECK(cdz_wav_read(wav, &au, &ae) == CDZ_OK && au.sample_rate == 22050 && au.frames > 9 * 22050 &&
                  cdz_audio_peak(&au) > 1000,
              "a WAV of the demo's 9.6 s and more, not silent");
        cdz_audio_free(&au);
        snprintf(args, sizeof args, "render %s --out %s --soundfont %s --force", mid, wav, mid);
        CHECK_INT(run(args), 1);
        CHECK_STR_CONTAINS(err, "not a SoundFont");
    } else {
        CHECK_INT(run(args), 1); /* says how to install what is missing */
        CHECK_STR_CONTAINS(err, "apt-get install");
        printf("skip: render output checks (no FluidSynth or no SoundFont)\n");
    }
    snprintf(args, sizeof args, "render %s/nothing.mid --out %s --force", dir, wav);
    CHECK_INT(run(args), 1); /* without FluidSynth, render says so before it reads anything */
    CHECK_STR_CONTAINS(err, cdz_render_available() ? "nothing.mid" : "apt-get install");
    snprintf(args, sizeof args, "render %s --out %s --sample-rate 5", mid, wav);
    CHECK_INT(run(args), 2);
    CHECK_INT(run("render --out x.wav"), 2);
    unlink(wav);

    /* codec: list, encode to text and JSON, decode back to MIDI, and bad input */
    char tok[256], js[256], out_mid[256];
    snprintf(tok, sizeof tok, "%s/demo.txt", dir);
    snprintf(js, sizeof js, "%s/demo.json", dir);
    snprintf(out_mid, sizeof out_mid, "%s/back.mid", dir);
    CHECK_INT(run("codec list"), 0);
    CHECK_STR_CONTAINS(out, "performance   388 tokens");
    snprintf(args, sizeof args, "codec encode --codec performance %s --out %s", mid, tok);
    CHECK_INT(run(args), 0);
    test_slurp(tok, out, sizeof out);
    CHECK_STR_CONTAINS(out, "# sequence 0: ");
    CHECK_STR_CONTAINS(out, "VELOCITY_18\nNOTE_ON_48\nVELOCITY_23\nNOTE_ON_60\nTIME_SHIFT_53\nNOTE_OFF_60\n");
    snprintf(args, sizeof args, "codec decode --codec performance %s --out %s", tok, out_mid);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "21 notes");
    snprintf(args, sizeof args, "codec encode --codec performance --json %s --out %s", mid, js);
    CHECK_INT(run(args), 0);
    snprintf(args, sizeof args, "codec decode --codec performance %s --out %s --force", js, out_mid);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "21 notes");
    CHECK_INT(run("codec encode x.mid"), 2);
    CHECK_STR_CONTAINS(err, "--codec NAME is required");
    CHECK_INT(run("codec encode --codec nope x.mid"), 2);
    CHECK_INT(run("codec decode --codec melody x.txt"), 2);
    FILE *g = fopen(tok, "w");
    fputs("NOTE_ON_60\nBANANA\n", g);
    fclose(g);
    snprintf(args, sizeof args, "codec decode --codec performance %s --out %s --force", tok, out_mid);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "line 2: 'BANANA' is not a performance token");
    snprintf(args, sizeof args, "codec decode --codec performance %s --out %s --sequence 3 --force", js, out_mid);
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
    snprintf(args, sizeof args, "dataset build --codec melody --in %s --out %s --force", bad, cdz);
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

    /* train, resume, generate, evaluate: a few steps of attention_rnn on small made-up tunes */
    char tunes[256], data[256], ckpt[256], log[300], gen[256];
    snprintf(tunes, sizeof tunes, "%s/tunes", dir);
    snprintf(data, sizeof data, "%s/tunes.cdz", dir);
    snprintf(ckpt, sizeof ckpt, "%s/model.safetensors", dir);
    snprintf(log, sizeof log, "%s/train.jsonl", dir);
    snprintf(gen, sizeof gen, "%s/gen", dir);
    mkdir(tunes, 0777);
    test_write_melodies(tunes, 12, 0);
    snprintf(args, sizeof args, "dataset build --codec key_melody2 --in %s --out %s --eval-fraction 0.3", tunes, data);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "12 found, 11 used"); /* one tune has too few pitch classes */
    snprintf(args, sizeof args, "train --data %s --steps 3 --batch 4 --seq 32 --eval-every 2 --out %s --log %s", data, ckpt, log);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(err, "training melody_rnn/attention_rnn");
    CHECK_STR_CONTAINS(err, "eval at step 2: loss");
    CHECK_STR_CONTAINS(err, "checkpoint: ");
    test_slurp(log, out, sizeof out);
    CHECK_STR_CONTAINS(out, "{\"step\":3,\"loss\":");
    CHECK_STR_CONTAINS(out, "\"eval_loss\":");
    snprintf(args, sizeof args, "train --data %s --resume %s --steps 5 --log %s", data, ckpt, log);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(err, "steps 3 to 5, batch 4 x 32 tokens");
    snprintf(args, sizeof args, "train --data %s --steps 2 --batch 3 --seq 16 --whole-sequences --transpose -2:2 --out %s/aug.safetensors",
             data, dir);
    CHECK_INT(run(args), 0);
    snprintf(args, sizeof args, "train --data %s --resume %s/aug.safetensors --steps 3", data, dir);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(err, "steps 2 to 3, batch 3 x 16 tokens");
    snprintf(args, sizeof args, "train --data %s --resume %s/aug.safetensors --steps 4 --batch 9", data, dir);
    CHECK_INT(run(args), 2);
    CHECK_STR_CONTAINS(err, "a resumed run keeps its batch (3)");
    snprintf(args, sizeof args, "%s/aug.safetensors", dir);
    unlink(args);
    /* a config of one's own: --print-config, edited, then --config FILE.json */
    CHECK_INT(run("train --config basic_rnn --print-config"), 0);
    CHECK_STR_CONTAINS(out, "\"config_name\":\"basic_rnn\"");
    char cfg[300];
    snprintf(cfg, sizeof cfg, "%s/mine.json", dir);
    FILE *cf = fopen(cfg, "w");
    fputs("{\"kind\":\"melody_rnn\",\"config_name\":\"mine\",\"codec\":\"key_melody2\",\"input\":\"key_melody\",\"layers\":1,"
          "\"hidden\":24,\"attn_length\":0,\"batch\":4,\"seq\":16}", cf);
    fclose(cf);
    snprintf(args, sizeof args, "train --data %s --config %s --steps 2 --eval-every 0 --out %s/mine.safetensors", data, cfg, dir);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(err, "training melody_rnn/mine");
    snprintf(args, sizeof args, "train --data %s --model music_transformer --config %s", data, cfg);
    CHECK_INT(run(args), 2);
    CHECK_STR_CONTAINS(err, "mine.json: the config is for model kind 'melody_rnn', not --model music_transformer");
    cf = fopen(cfg, "w");
    fputs("{\"kind\":\"melody_rnn\",\"config_name\":\"../escape\",\"codec\":\"key_melody\",\"input\":\"key_melody\"}", cf);
    fclose(cf);
    snprintf(args, sizeof args, "train --data %s --config %s --steps 1", data, cfg);
    CHECK_INT(run(args), 2); /* the name becomes the checkpoint's file name: no paths */
    CHECK_STR_CONTAINS(err, "config_name \"../escape\"");
    snprintf(args, sizeof args, "train --data %s --config %s/missing.json", data, dir);
    CHECK_INT(run(args), 2);
    CHECK_STR_CONTAINS(err, "missing.json");
    /* export: weights only, a third of the file; generates, does not resume */
    snprintf(args, sizeof args, "export %s --out %s/shipped.safetensors", ckpt, dir);
    CHECK_INT(run(args), 0);
    struct stat full_st, small_st;
    char shipped[300];
    snprintf(shipped, sizeof shipped, "%s/shipped.safetensors", dir);
    CHECK(stat(ckpt, &full_st) == 0 && stat(shipped, &small_st) == 0 && small_st.st_size * 5 / 2 < full_st.st_size,
          "exported file smaller than a third-plus of the checkpoint");
    snprintf(args, sizeof args, "generate --checkpoint %s --steps 8 --out %s/from_export.mid", shipped, dir);
    CHECK_INT(run(args), 0);
    snprintf(args, sizeof args, "train --data %s --resume %s --steps 9", data, shipped);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "weights only");
    snprintf(args, sizeof args, "export %s --out %s", ckpt, ckpt);
    CHECK_INT(run(args), 2);
    snprintf(args, sizeof args, "export %s/nothing.safetensors --out %s/x.safetensors", dir, dir);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "nothing.safetensors");
    /* a recommended sampling: recorded by export, used by generate unless the user gives one */
    snprintf(args, sizeof args, "export %s --out %s/cool.safetensors --temperature 0.5 --top-p 0.9", ckpt, dir);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(err, "recommended sampling: {\"temperature\":0.5,\"top_p\":0.9}");
    snprintf(args, sizeof args, "generate --checkpoint %s/cool.safetensors --steps 8 --out %s/cool.mid --force", dir, dir);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(err, "sampling at temperature 0.5, top-k 0, top-p 0.9: the model's recommended setting");
    snprintf(args, sizeof args, "generate --checkpoint %s/cool.safetensors --steps 8 --out %s/cool.mid --force --temperature 1",
             dir, dir);
    CHECK_INT(run(args), 0);
    CHECK(strstr(err, "recommended") == NULL, "a --temperature of one's own wins: %s", err);
    /* re-exported without flags it keeps the recommendation */
    snprintf(args, sizeof args, "export %s/cool.safetensors --out %s/cool2.safetensors", dir, dir);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(err, "recommended sampling: {\"temperature\":0.5,\"top_p\":0.9}");
    {
        /* a malformed recommendation is refused, naming the file */
        cdz_model *cm = NULL;
        char badck[300];
        snprintf(badck, sizeof badck, "%s/badsampling.safetensors", dir);
        const char *extra[2] = {"sampling", "{\"temperature\":-2}"};
        CHECK(cdz_checkpoint_load(shipped, &cm, NULL) == CDZ_OK && cdz_checkpoint_save(badck, cm, NULL, extra, 1, NULL) == CDZ_OK,
              "a checkpoint with bad sampling metadata");
        cdz_model_free(cm);
        snprintf(args, sizeof args, "generate --checkpoint %s --steps 8 --out %s/cool.mid --force", badck, dir);
        CHECK_INT(run(args), 1);
        CHECK_STR_CONTAINS(err, "badsampling.safetensors: sampling metadata: temperature -2 is out of range");
        unlink(badck);
    }
    snprintf(args, sizeof args, "%s/cool.safetensors", dir);
    unlink(args);
    snprintf(args, sizeof args, "%s/cool2.safetensors", dir);
    unlink(args);
    snprintf(args, sizeof args, "%s/cool.mid", dir);
    unlink(args);
    snprintf(args, sizeof args, "%s/from_export.mid", dir);
    unlink(args);
    snprintf(args, sizeof args, "%s/mine.safetensors", dir);
    unlink(args);
    unlink(cfg);
    snprintf(args, sizeof args, "train --data %s --transpose 5:1", data);
    CHECK_INT(run(args), 2);
    CHECK_STR_CONTAINS(err, "bad value '5:1' for --transpose: A:B with -127 <= A <= B <= 127");
    snprintf(args, sizeof args, "eval loss --checkpoint %s --data %s --json", ckpt, data);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "\"split\":\"eval\",\"loss\":");
    /* eval music: the tunes against themselves, with one picture per feature */
    char plots[300];
    snprintf(plots, sizeof plots, "%s/plots", dir);
    snprintf(args, sizeof args, "eval music --generated %s --reference %s --plot %s", tunes, tunes, plots);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "pitch_range");
    /* the listening measures, and what they leave out said on stderr: one-part tunes, no accompaniment */
    CHECK_STR_CONTAINS(out, "bar_repeat");
    CHECK_STR_CONTAINS(out, "grid_fit");
    CHECK_STR_CONTAINS(err, "two-part measures: 12 of 12 generated files have no notes on the melody tracks (MELODY)");
    CHECK_STR_CONTAINS(err, "paired measures: 12 of 12 generated files have the name of a reference file, 0 of them with "
                            "accompaniment notes in both: skipped");
    int pictures = 0;
    for (int k = 0; k < CDZ_METRICS_N_FEATURES; k++) {
        char pic[400];
        snprintf(pic, sizeof pic, "%s/%s.%s", plots, cdz_metrics_describe(k)->name, cdz_png_available() ? "png" : "svg");
        pictures += access(pic, R_OK) == 0;
        unlink(pic);
    }
    CHECK_INT(pictures, CDZ_METRICS_N_FEATURES);
    pictures = 0; /* bar self-similarity of the first 4 files of each set */
    for (int k = 0; k < 8; k++) {
        char pic[400];
        snprintf(pic, sizeof pic, "%s/ssm_%s_%d_tune%02d.%s", plots, k < 4 ? "generated" : "reference", k % 4 + 1, k % 4,
                 cdz_png_available() ? "png" : "svg");
        pictures += access(pic, R_OK) == 0;
        unlink(pic);
    }
    CHECK_INT(pictures, 8);
    CHECK(rmdir(plots) == 0, "nothing else written to %s", plots);
    /* the tracks by number: every tune is one part on track 0 (the accompaniment: none on track 5) */
    snprintf(args, sizeof args, "eval music --generated %s --reference %s --melody-track 0 --accompaniment-track 5 --json",
             tunes, tunes);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "\"listen\":{\"params\":{\"melody_tracks\":\"0\",\"accompaniment_tracks\":\"5\"");
    CHECK_STR_CONTAINS(out, "\"without_accompaniment\":{\"generated\":12,\"reference\":12}");
    CHECK_STR_CONTAINS(out, "{\"name\":\"bar_repeat\",\"group\":\"repetition\",\"unit\":\"share\",\"generated\":{\"mean\":");
    CHECK_STR_CONTAINS(err, "have no notes on the accompaniment tracks (5)");
    snprintf(args, sizeof args, "eval music --generated %s --reference %s --melody-track ,", tunes, tunes);
    CHECK_INT(run(args), 2);
    snprintf(args, sizeof args, "eval ngram --data %s --order 2", data);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "bigram on");
    snprintf(args, sizeof args, "generate --checkpoint %s --primer-pitches \"60,-2,62,-2,64\" --bars 2 --seed 7 --num-outputs 2 --out-dir %s", ckpt, gen);
    CHECK_INT(run(args), 0);
    /* outputs are named after the checkpoint they come from (model.safetensors) */
    CHECK_STR_CONTAINS(out, "model_seed7_2.mid (5 primer + 32 new steps");
    char g1[300];
    snprintf(g1, sizeof g1, "%s/model_seed7_1.mid", gen);
    snprintf(args, sizeof args, "midi notes %s", g1);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "   60  100     0.000000     0.250000"); /* the primer's first note, 2 steps */
    snprintf(args, sizeof args, "generate --checkpoint %s --primer %s/tune00.mid --steps 16 --beam-size 2 --branch-factor 2 "
             "--steps-per-iteration 4 --out %s/beam.mid", ckpt, tunes, gen);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "beam.mid (");
    /* an event model (a tiny untrained Music Transformer on performances): primer file, --seconds */
    cdz_model *pm = NULL;
    cdz_error pe;
    const char *pj = "{\"kind\":\"music_transformer\",\"config_name\":\"perf_tiny\",\"codec\":\"performance\","
                     "\"layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":512,\"dropout\":0}";
    char perf_ckpt[300];
    snprintf(perf_ckpt, sizeof perf_ckpt, "%s/perf.safetensors", dir);
    if (cdz_model_from_json(&pm, pj, strlen(pj), "perf_tiny", &pe) == CDZ_OK) {
        cdz_model_init_params(pm, 3);
        cdz_checkpoint_save(perf_ckpt, pm, NULL, NULL, 0, &pe);
        cdz_model_free(pm);
    }
    snprintf(args, sizeof args, "generate --checkpoint %s --primer %s --seconds 2 --top-k 20 --out %s/perf.mid", perf_ckpt, mid, dir);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "perf.mid (");
    CHECK_STR_CONTAINS(out, "primer + ");
    if (cdz_render_available() && cdz_render_find_soundfont()) {
        snprintf(args, sizeof args, "generate --checkpoint %s --seconds 2 --out %s/perf.mid --wav --force", perf_ckpt, dir);
        CHECK_INT(run(args), 0);
        CHECK_STR_CONTAINS(out, "perf.wav");
        snprintf(args, sizeof args, "%s/perf.wav", dir);
        CHECK(access(args, R_OK) == 0, "generate --wav wrote %s", args);
        unlink(args);
    }
    /* past the model's 512 tokens: relative attention slides on, and says so */
    snprintf(args, sizeof args, "generate --checkpoint %s --steps 2000 --out %s/perf.mid --force", perf_ckpt, dir);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "(1 primer + 2000 new tokens");
    CHECK_STR_CONTAINS(err, "slid over the cache");
    /* beam search works for event models too (the session copies their caches) */
    snprintf(args, sizeof args, "generate --checkpoint %s --beam-size 2 --steps 8 --out %s/perf.mid --force", perf_ckpt, dir);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "(1 primer + 8 new tokens");
    snprintf(args, sizeof args, "%s/perf.mid", dir);
    unlink(args);

    /* accompany: an untrained accompaniment model adds a track and leaves the melody as it was */
    const char *aj = "{\"kind\":\"accompaniment\",\"config_name\":\"acc_tiny\",\"codec\":\"accompaniment\","
                     "\"enc_layers\":1,\"dec_layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":256,\"dropout\":0}";
    char acc_ckpt[300], acc_out[300];
    snprintf(acc_ckpt, sizeof acc_ckpt, "%s/acc.safetensors", dir);
    snprintf(acc_out, sizeof acc_out, "%s/acc.mid", dir);
    if (cdz_model_from_json(&pm, aj, strlen(aj), "acc_tiny", &pe) == CDZ_OK) {
        cdz_model_init_params(pm, 4);
        cdz_checkpoint_save(acc_ckpt, pm, NULL, NULL, 0, &pe);
        cdz_model_free(pm);
    }
    {
        /* an accompaniment model is evaluated on whole pairs: one of 1,500 tokens (past the 1,024 other
         * models' windows take) is read from its start, in training's evaluation and in eval loss */
        const char *lj = "{\"kind\":\"accompaniment\",\"config_name\":\"acc_long\",\"codec\":\"accompaniment\","
                         "\"enc_layers\":1,\"dec_layers\":1,\"d_model\":8,\"heads\":2,\"d_ff\":16,\"max_len\":1024,"
                         "\"dropout\":0,\"batch\":1}";
        char long_ckpt[300], long_data[300];
        snprintf(long_ckpt, sizeof long_ckpt, "%s/acc_long.safetensors", dir);
        snprintf(long_data, sizeof long_data, "%s/acc_long.cdz", dir);
        static uint16_t pair[1500];
        for (int i = 0; i < 1500; i++) pair[i] = (uint16_t)(i < 600 ? 256 + i % 50 : i == 600 ? CDZ_ACC_SEP : 256 + i % 30);
        cdz_tokens tk = {0};
        cdz_tokens_append(&tk, pair, 1500);
        cdz_shard_writer w;
        cdz_shard_writer_init(&w, "accompaniment", CDZ_ACC_VOCAB, NULL);
        cdz_shard_writer_add(&w, &tk, CDZ_SPLIT_TRAIN, NULL);
        cdz_shard_writer_add(&w, &tk, CDZ_SPLIT_EVAL, NULL);
        CHECK(cdz_shard_writer_finish(&w, long_data, NULL) == CDZ_OK, "a dataset of one long pair");
        cdz_shard_writer_free(&w);
        cdz_tokens_free(&tk);
        if (cdz_model_from_json(&pm, lj, strlen(lj), "acc_long", &pe) == CDZ_OK) {
            cdz_model_init_params(pm, 4);
            cdz_checkpoint_save(long_ckpt, pm, NULL, NULL, 0, &pe);
            cdz_model_free(pm);
        }
        snprintf(args, sizeof args, "eval loss --checkpoint %s --data %s", long_ckpt, long_data);
        CHECK_INT(run(args), 0);
        CHECK_STR_CONTAINS(out, "899 tokens"); /* the accompaniment's, after the separator */
        unlink(long_ckpt);
        snprintf(long_ckpt, sizeof long_ckpt, "%s/acc_long.json", dir);
        FILE *cf2 = fopen(long_ckpt, "w");
        if (cf2) fputs(lj, cf2), fclose(cf2);
        snprintf(args, sizeof args, "train --model accompaniment --config %s --data %s --whole-sequences --steps 1 --eval-every 1 "
                 "--out %s/acc_long_t.safetensors --force", long_ckpt, long_data, dir);
        CHECK_INT(run(args), 0);
        CHECK(strstr(err, "evaluation skipped") == NULL, "training's evaluation reads the long pair: %s", err);
        CHECK_STR_CONTAINS(err, "eval at step 1: loss");
        unlink(long_ckpt), unlink(long_data);
        snprintf(long_ckpt, sizeof long_ckpt, "%s/acc_long_t.safetensors", dir);
        unlink(long_ckpt);
    }
    snprintf(args, sizeof args, "accompany --melody %s --out %s --checkpoint %s --top-k 30 --keep all", mid, acc_out,
             acc_ckpt);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "accompaniment notes on track 2");
    cdz_score before, after;
    if (cdz_score_read_file(&before, mid, &pe) == CDZ_OK && cdz_score_read_file(&after, acc_out, &pe) == CDZ_OK) {
        size_t kept = 0, added = 0;
        for (size_t i = 0; i < after.n_notes; i++) {
            if (after.notes[i].track == 2) {
                added++;
                continue;
            }
            for (size_t j = 0; j < before.n_notes; j++) {
                const cdz_note *x = &after.notes[i], *y = &before.notes[j];
                if (x->track == y->track && x->pitch == y->pitch && x->start_tick == y->start_tick &&
                    x->end_tick == y->end_tick && x->velocity == y->velocity && x->program == y->program) {
                    kept++;
                    break;
                }
            }
        }
        CHECK(kept == before.n_notes && after.n_notes == before.n_notes + added && added > 0,
              "the melody's %zu notes kept (%zu found), %zu accompaniment notes added", before.n_notes, kept, added);
        CHECK(after.n_tracks == 3 && strcmp(after.tracks[2].name, "Accompaniment") == 0, "a track of its own");
        /* on a channel no other track of the file uses */
        int shared = 0;
        for (size_t i = 0; i < after.n_notes; i++)
            for (size_t j = 0; j < after.n_notes; j++)
                shared |= after.notes[i].track == 2 && after.notes[j].track != 2 && after.notes[i].channel == after.notes[j].channel;
        CHECK(!shared, "the accompaniment shares a MIDI channel with another track");
        cdz_score_free(&before);
        cdz_score_free(&after);
    } else {
        CHECK(0, "reading the accompanied file: %s", pe.msg);
    }
    /* --keep melody (the default): the melody's track stays, the file's other parts go */
    snprintf(args, sizeof args, "accompany --melody %s --out %s --checkpoint %s --force", mid, acc_out, acc_ckpt);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(err, "besides the melody left out");
    if (cdz_score_read_file(&after, acc_out, &pe) == CDZ_OK) {
        size_t melody = 0, other = 0, added = 0;
        for (size_t i = 0; i < after.n_notes; i++) {
            melody += after.notes[i].track == 0;
            other += after.notes[i].track == 1;
            added += after.notes[i].track == 2;
        }
        CHECK(melody > 0 && other == 0 && added > 0, "--keep melody: %zu melody, %zu bass, %zu new notes", melody, other, added);
        cdz_score_free(&after);
    }
    snprintf(args, sizeof args, "accompany --melody %s --out %s --checkpoint %s --keep some", mid, acc_out, acc_ckpt);
    CHECK_INT(run(args), 2);
    CHECK_STR_CONTAINS(err, "melody (the melody's tracks only) or all");
    /* a file already there is not replaced without --force */
    snprintf(args, sizeof args, "accompany --melody %s --out %s --checkpoint %s", mid, acc_out, acc_ckpt);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "exists; use --force to replace it");
    snprintf(args, sizeof args, "accompany --melody %s --out %s --checkpoint %s --force", mid, acc_out, perf_ckpt);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "accompany needs an accompaniment model");
    /* a model that reads too little melody for any stretch writes no notes: a failure that says why,
     * and the file already there is left as it was */
    const char *short_json = "{\"kind\":\"accompaniment\",\"config_name\":\"acc_short\",\"codec\":\"accompaniment\","
                             "\"enc_layers\":1,\"dec_layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":4,"
                             "\"dropout\":0}";
    char short_ckpt[300];
    snprintf(short_ckpt, sizeof short_ckpt, "%s/acc_short.safetensors", dir);
    if (cdz_model_from_json(&pm, short_json, strlen(short_json), "acc_short", &pe) == CDZ_OK) {
        cdz_model_init_params(pm, 4);
        cdz_checkpoint_save(short_ckpt, pm, NULL, NULL, 0, &pe);
        cdz_model_free(pm);
    }
    static char acc_before[1 << 16], acc_now[1 << 16];
    size_t n_before = file_bytes(acc_out, acc_before, sizeof acc_before);
    snprintf(args, sizeof args, "accompany --melody %s --out %s --checkpoint %s --force", mid, acc_out, short_ckpt);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "hold more melody than the model reads (4 tokens)");
    CHECK_STR_CONTAINS(err, "no accompaniment: the model wrote no notes for this melody");
    CHECK(n_before > 0 && file_bytes(acc_out, acc_now, sizeof acc_now) == n_before &&
          memcmp(acc_before, acc_now, n_before) == 0, "the earlier accompaniment is left as it was");
    /* shipped models by name: --model NAME and accompany's default, from $CADENZA_MODELS */
    char models[300], shipped_perf[340], shipped_acc[340];
    snprintf(models, sizeof models, "%s/models", dir);
    mkdir(models, 0777);
    snprintf(shipped_perf, sizeof shipped_perf, "%s/performance.safetensors", models);
    snprintf(shipped_acc, sizeof shipped_acc, "%s/accompaniment.safetensors", models);
    setenv("CADENZA_MODELS", models, 1);
    snprintf(args, sizeof args, "generate --model performance --seconds 1 --out %s/perf.mid --force", dir);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "the model 'performance' (models/performance.safetensors) was not found");
    CHECK(rename(perf_ckpt, shipped_perf) == 0 && rename(acc_ckpt, shipped_acc) == 0, "models in place");
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "perf.mid (");
    snprintf(args, sizeof args, "generate --model performance --checkpoint %s --out %s/perf.mid", shipped_perf, dir);
    CHECK_INT(run(args), 2);
    snprintf(args, sizeof args, "accompany --melody %s --out %s --force", mid, acc_out);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "accompaniment notes on track 2");
    unsetenv("CADENZA_MODELS");
    CHECK(rename(shipped_perf, perf_ckpt) == 0 && rename(shipped_acc, acc_ckpt) == 0 && rmdir(models) == 0, "models back");
    snprintf(args, sizeof args, "%s/perf.mid", dir);
    unlink(args);
    CHECK_INT(run("accompany --melody x.mid"), 2);
    unlink(acc_out);
    unlink(acc_ckpt);
    unlink(perf_ckpt);

    /* output that cannot be written is a failure: standard output on a full device, a log, a folder that
     * is not there (said before training starts) */
    if (access("/dev/full", W_OK) == 0) {
        snprintf(args, sizeof args, "%s version > /dev/full 2>/dev/null", prog);
        CHECK(system(args) != 0, "version > /dev/full exits non-zero");
        snprintf(args, sizeof args, "%s codec list > /dev/full 2>/dev/null", prog);
        CHECK(system(args) != 0, "codec list > /dev/full exits non-zero");
        snprintf(args, sizeof args, "train --data %s --steps 2 --batch 4 --seq 32 --eval-every 0 --eval-tokens 500 "
                 "--out %s/full_log.safetensors --log /dev/full", data, dir);
        CHECK_INT(run(args), 1);
        CHECK_STR_CONTAINS(err, "/dev/full: the log cannot be written");
        snprintf(args, sizeof args, "%s/full_log.safetensors", dir);
        unlink(args);
    }
    snprintf(args, sizeof args, "train --data %s --steps 100000 --out %s/missing/x.safetensors", data, dir);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "the folder");
    CHECK_STR_CONTAINS(err, "does not exist");
    CHECK(!strstr(err, "step "), "refused before the first step: %s", err);

    /* Ctrl-C: the step finishes, the checkpoint is written, the exit status says interrupted */
    char sig_ckpt[300];
    snprintf(sig_ckpt, sizeof sig_ckpt, "%s/sig.safetensors", dir);
    fflush(stdout); /* else the child's freopen writes this program's buffered lines a second time */
    pid_t pid = fork();
    if (pid == 0) {
        freopen(err_path, "w", stderr);
        freopen(out_path, "w", stdout);
        execl(prog, prog, "train", "--data", data, "--steps", "100000", "--batch", "4", "--seq", "32", "--out", sig_ckpt,
              (char *)NULL);
        _exit(127);
    }
    struct timespec pause = {1, 500 * 1000 * 1000};
    nanosleep(&pause, NULL);
    kill(pid, SIGINT);
    int wst = 0;
    waitpid(pid, &wst, 0);
    test_slurp(err_path, err, sizeof err);
    CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 130, "Ctrl-C: exit status %d", WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    CHECK_STR_CONTAINS(err, "interrupted at step");
    CHECK_STR_CONTAINS(err, "interrupted; resume with --resume");
    CHECK(access(sig_ckpt, R_OK) == 0, "the checkpoint was written at Ctrl-C");
    unlink(sig_ckpt);
    /* SIGTERM (a scheduler's stop) in one process: the same orderly stop, exit status 143 */
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        freopen(err_path, "w", stderr);
        freopen(out_path, "w", stdout);
        execl(prog, prog, "train", "--data", data, "--steps", "100000", "--batch", "4", "--seq", "32", "--out", sig_ckpt,
              (char *)NULL);
        _exit(127);
    }
    nanosleep(&pause, NULL);
    kill(pid, SIGTERM);
    waitpid(pid, &wst, 0);
    test_slurp(err_path, err, sizeof err);
    CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 143, "SIGTERM: exit status %d", WIFEXITED(wst) ? WEXITSTATUS(wst) : -1);
    CHECK_STR_CONTAINS(err, "interrupted; resume with --resume");
    CHECK(access(sig_ckpt, R_OK) == 0, "the checkpoint was written at SIGTERM");
    unlink(sig_ckpt);
    /* one writer per checkpoint: a second run with the same --out is refused while the first runs */
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        freopen(err_path, "w", stderr);
        freopen(out_path, "w", stdout);
        execl(prog, prog, "train", "--data", data, "--steps", "100000", "--batch", "4", "--seq", "32", "--out", sig_ckpt,
              (char *)NULL);
        _exit(127);
    }
    nanosleep(&pause, NULL);
    char err2[300], out2[300], eb[4096], ob[4096];
    snprintf(err2, sizeof err2, "%s/err2", dir);
    snprintf(out2, sizeof out2, "%s/out2", dir);
    snprintf(args, sizeof args, "%s train --data %s --steps 3 --batch 4 --seq 32 --out %s --force", prog, data, sig_ckpt);
    CHECK_INT(test_shell(args, out2, err2, ob, sizeof ob, eb, sizeof eb), 1);
    CHECK_STR_CONTAINS(eb, "is being written by another cadenza train (process");
    kill(pid, SIGINT);
    waitpid(pid, &wst, 0);
    unlink(sig_ckpt);
    /* a resumed run's log goes on from the checkpoint: steps logged past it are not logged twice */
    char rlog[300];
    snprintf(rlog, sizeof rlog, "%s/resume.jsonl", dir);
    snprintf(args, sizeof args, "train --data %s --steps 10 --batch 4 --seq 32 --eval-every 0 --eval-tokens 500 --log-every 1 "
             "--out %s --log %s", data, sig_ckpt, rlog);
    CHECK_INT(run(args), 0);
    FILE *lf = fopen(rlog, "a"); /* what a run killed after step 12 (its last checkpoint at 10) had logged */
    if (lf) fputs("{\"step\":11,\"loss\":9.9}\n{\"step\":12,\"loss\":9.9}\n", lf), fclose(lf);
    snprintf(args, sizeof args, "train --data %s --resume %s --steps 12 --eval-every 0 --eval-tokens 500 --log-every 1 --log %s",
             data, sig_ckpt, rlog);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(err, "2 lines past step 10 taken out");
    char logtext[1 << 14];
    test_slurp(rlog, logtext, sizeof logtext);
    int n11 = 0, n12 = 0, fake = 0;
    for (const char *q = logtext; (q = strstr(q, "\"step\":")) != NULL; q++) {
        n11 += strncmp(q, "\"step\":11,\"loss\"", 16) == 0;
        n12 += strncmp(q, "\"step\":12,\"loss\"", 16) == 0;
    }
    fake = strstr(logtext, "\"loss\":9.9}") != NULL;
    CHECK(n11 == 1 && n12 == 1 && !fake, "steps 11 and 12 logged once each (%d, %d), the killed run's lines gone (%d)", n11,
          n12, fake);
    snprintf(args, sizeof args, "train --data %s --resume %s --steps 5", data, sig_ckpt);
    CHECK_INT(run(args), 2);
    CHECK_STR_CONTAINS(err, "is at step 12 already");
    unlink(rlog), unlink(sig_ckpt);
    /* Ctrl-C twice during the last evaluation (a long one: 240,000 tokens to score): the program ends at
     * once, and the run is not lost, as the checkpoint was written before the evaluation began */
    char big[300];
    snprintf(big, sizeof big, "%s/big_eval.cdz", dir);
    {
        cdz_shard_writer w;
        cdz_tokens tr = {0}, ev = {0};
        uint16_t seq[1200];
        for (int i = 0; i < 1200; i++) seq[i] = (uint16_t)((i * 7 + i / 13) % 40);
        cdz_tokens_append(&tr, seq, 200);
        for (int k = 0; k < 200; k++) cdz_tokens_append(&ev, seq, 1200);
        cdz_shard_writer_init(&w, "key_melody2", CDZ_MELODY_METER_VOCAB, NULL);
        cdz_shard_writer_add(&w, &tr, CDZ_SPLIT_TRAIN, NULL);
        cdz_shard_writer_add(&w, &ev, CDZ_SPLIT_EVAL, NULL);
        cdz_shard_writer_finish(&w, big, NULL);
        cdz_shard_writer_free(&w);
        cdz_tokens_free(&tr), cdz_tokens_free(&ev);
    }
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        freopen(err_path, "w", stderr);
        freopen(out_path, "w", stdout);
        execl(prog, prog, "train", "--data", big, "--steps", "1", "--batch", "2", "--seq", "16", "--eval-tokens", "0",
              "--out", sig_ckpt, (char *)NULL);
        _exit(127);
    }
    struct timespec into_eval = {1, 200 * 1000 * 1000}, gap = {0, 100 * 1000 * 1000};
    nanosleep(&into_eval, NULL);
    kill(pid, SIGINT);
    nanosleep(&gap, NULL);
    kill(pid, SIGINT);
    waitpid(pid, &wst, 0);
    test_slurp(err_path, err, sizeof err);
    CHECK(WIFSIGNALED(wst) || (WIFEXITED(wst) && WEXITSTATUS(wst) == 130), "two Ctrl-C during the last evaluation: %s",
          err);
    cdz_model *sm = NULL;
    cdz_error se;
    CHECK(cdz_checkpoint_load(sig_ckpt, &sm, &se) == CDZ_OK, "the checkpoint written before the last evaluation: %s",
          se.msg);
    char *step = cdz_checkpoint_meta(sig_ckpt, "step", &se);
    CHECK(step && strcmp(step, "1") == 0, "it holds step 1 (%s)", step ? step : "none");
    cdz_free(step);
    cdz_model_free(sm);
    unlink(sig_ckpt), unlink(big);
    /* bad input: each a one-line error naming the problem, and no crash */
    snprintf(args, sizeof args, "train --data %s --config nope_rnn", data);
    CHECK_INT(run(args), 2);
    CHECK_STR_CONTAINS(err, "unknown melody_rnn config 'nope_rnn'");
    /* a dataset the model cannot read is an unsuitable file, not a bad flag: exit 1, as eval loss */
    snprintf(args, sizeof args, "train --data %s --config basic_rnn --steps 1", data);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "build the dataset with --codec melody");
    /* a run whose weights hold a NaN stops at once, says so, and leaves its checkpoint alone */
    cdz_model *nm = NULL;
    cdz_error ne;
    char nan_ckpt[300];
    snprintf(nan_ckpt, sizeof nan_ckpt, "%s/nan.safetensors", dir);
    if (cdz_checkpoint_load(ckpt, &nm, &ne) == CDZ_OK) {
        cdz_trainer nt;
        cdz_dataset nd;
        if (cdz_dataset_open(&nd, data, &ne) == CDZ_OK) {
            cdz_train_config nc = cdz_train_config_for(nm);
            cdz_checkpoint_train_config(ckpt, &nc, &ne);
            if (cdz_trainer_init(&nt, nm, &nd, &nc, &ne) == CDZ_OK && cdz_checkpoint_load_trainer(ckpt, &nt, &ne) == CDZ_OK) {
                /* finite weights (a NaN one is refused at load) so large that the next step overflows */
                for (size_t i = 0; i < nm->n_params; i++) nm->params[i] *= 3e37f;
                cdz_checkpoint_save(nan_ckpt, nm, &nt, NULL, 0, &ne);
            }
            cdz_trainer_free(&nt);
            cdz_dataset_close(&nd);
        }
        cdz_model_free(nm);
    }
    snprintf(args, sizeof args, "train --data %s --resume %s --steps 9", data, nan_ckpt);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "at step 6");
    CHECK(strstr(err, "the loss became NaN") || strstr(err, "the loss became infinite") || strstr(err, "gradient norm"),
          "a loss that stops being finite: %s", err);
    CHECK_STR_CONTAINS(err, "training stopped");
    /* a checkpoint holding a NaN weight is refused when loaded, naming the tensor */
    if (cdz_checkpoint_load(ckpt, &nm, &ne) == CDZ_OK) {
        nm->params[nm->n_params - 1] = NAN; /* the output bias */
        cdz_checkpoint_save(nan_ckpt, nm, NULL, NULL, 0, &ne);
        cdz_model_free(nm);
    }
    snprintf(args, sizeof args, "generate --checkpoint %s --out %s/nan.mid", nan_ckpt, dir);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "tensor 'output.bias' holds NaN");
    CHECK_INT(run("train --steps 3"), 2);
    CHECK_STR_CONTAINS(err, "--data FILE.cdz is required");
    CHECK_INT(run("train --data x.cdz --steps many"), 2);
    uint8_t *file;
    size_t blen;
    cdz_error e;
    if (cdz_file_read_all(ckpt, &file, &blen, &e) == CDZ_OK) {
        char cut[300];
        snprintf(cut, sizeof cut, "%s/cut.safetensors", dir);
        cdz_file_write_atomic(cut, file, blen / 2, &e);
        cdz_free(file);
        snprintf(args, sizeof args, "generate --checkpoint %s --out %s/x.mid", cut, gen);
        CHECK_INT(run(args), 1);
        CHECK_STR_CONTAINS(err, "cut.safetensors: ");
        CHECK_INT(count_lines(err), 1);
        snprintf(args, sizeof args, "train --data %s --resume %s", data, cut);
        CHECK_INT(run(args), 1);
        unlink(cut);
    }
    snprintf(args, sizeof args, "generate --checkpoint %s --primer-pitches 60,banana", ckpt);
    CHECK_INT(run(args), 2);
    CHECK_STR_CONTAINS(err, "--primer-pitches needs up to 4096 numbers");
    snprintf(args, sizeof args, "generate --checkpoint %s --temperature -1", ckpt);
    CHECK_INT(run(args), 2);
    snprintf(args, sizeof args, "eval loss --checkpoint %s --data %s", mid, data);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "demo.mid: ");
    CHECK_INT(run("bench --config mt_huge --what train"), 2);
    CHECK_STR_CONTAINS(err, "unknown bench config 'mt_huge'");

    /* ---- the flag parser: one set of messages for every command, one usage line after them ---- */
    snprintf(args, sizeof args, "train --data %s --stpes 3", data);
    check_usage_error(run(args), "unknown option '--stpes'; did you mean '--steps'?");
    snprintf(args, sizeof args, "train --data %s --steps", data);
    check_usage_error(run(args), "option '--steps' needs a value");
    snprintf(args, sizeof args, "train --data %s --steps --lr 0.1", data); /* a forgotten value */
    check_usage_error(run(args), "option '--steps' needs a value");
    snprintf(args, sizeof args, "train --data %s --steps 0.5", data);
    check_usage_error(run(args), "bad value '0.5' for --steps: a whole number from 1 to 1073741824");
    snprintf(args, sizeof args, "render %s extra.mid --out x.wav", mid);
    check_usage_error(run(args), "unexpected argument 'extra.mid'");
    CHECK_STR_CONTAINS(err, "usage: cadenza render IN.mid --out OUT.wav [options] (cadenza render --help for all options)");
    snprintf(args, sizeof args, "midi info --json=yes %s", mid);
    check_usage_error(run(args), "option '--json' takes no value");
    check_usage_error(run("dataset build --codec melodi --in x --out y.cdz"),
                      "bad value 'melodi' for --codec: no such codec; did you mean 'melody'?");
    check_usage_error(run("eval loss --checkpoint a --data b --split nope"), "bad value 'nope' for --split: eval, train, test or all");
    check_usage_error(run("generat"), "unknown command 'generat'; did you mean 'generate'?");
    check_usage_error(run("dataset biuld"), "unknown command 'dataset biuld'; did you mean 'build'?");
    check_usage_error(run("eval los"), "unknown command 'eval los'; did you mean 'loss'?");
    snprintf(args, sizeof args, "midi notes --json %s --", mid); /* "--" ends the options */
    CHECK_INT(run(args), 0);
    snprintf(args, sizeof args, "eval loss --checkpoint=%s --data=%s --max-tokens=100", ckpt, data); /* --flag=value */
    CHECK_INT(run(args), 0);
    static const char *const commands[] = {"midi info", "midi notes", "codec list", "codec encode", "codec decode",
                                           "dataset build", "dataset info", "train", "eval loss", "eval ngram",
                                           "eval melodies", "eval music", "bench", "export", "render", "plot", "demo",
                                           "models", "version"};
    for (size_t c = 0; c < sizeof commands / sizeof *commands; c++) {
        char expect[160];
        snprintf(args, sizeof args, "%s --bogus", commands[c]);
        check_usage_error(run(args), "unknown option '--bogus'");
        snprintf(expect, sizeof expect, "(cadenza %s --help for all options)", commands[c]);
        CHECK_STR_CONTAINS(err, expect);
        snprintf(args, sizeof args, "%s --help", commands[c]);
        CHECK_INT(run(args), 0);
        snprintf(expect, sizeof expect, "usage: cadenza %s", commands[c]);
        CHECK_STR_CONTAINS(out, expect);
        CHECK_STR_CONTAINS(out, "-h, --help");
        CHECK_INT((int)strlen(err), 0);
    }

    /* ---- no file replaced without --force, and nothing done bytes_before saying so ---- */
    char keep[300], bytes_before[4096], bytes_after[4096];
    snprintf(keep, sizeof keep, "%s/keep.out", dir);
    const char *kept = "precious\n";
    const char *writers[][2] = {
        {"demo --out %s", ""},
        {"codec encode --codec performance %s --out %s", "mid"},
        {"codec decode --codec performance %s --out %s", "tok"},
        {"dataset build --codec performance --in %s --out %s", "mid"},
        {"export %s --out %s", "ckpt"},
        {"plot %s --out %s", "mid"},
        {"train --data %s --steps 1 --out %s", "data"},
    };
    g = fopen(tok, "w");
    fputs("NOTE_ON_60\n", g);
    fclose(g);
    for (size_t w = 0; w < sizeof writers / sizeof *writers; w++) {
        const char *in = !writers[w][1][0] ? NULL : strcmp(writers[w][1], "mid") == 0 ? mid
                       : strcmp(writers[w][1], "tok") == 0 ? tok : strcmp(writers[w][1], "ckpt") == 0 ? ckpt : data;
        char cmdline[1024], plot_out[320];
        /* plot and others take their kind of file; the name only has to exist */
        const char *target = keep;
        if (strncmp(writers[w][0], "plot", 4) == 0) snprintf(plot_out, sizeof plot_out, "%s/keep.png", dir), target = plot_out;
        g = fopen(target, "w");
        fputs(kept, g);
        fclose(g);
        if (in) snprintf(cmdline, sizeof cmdline, writers[w][0], in, target);
        else snprintf(cmdline, sizeof cmdline, writers[w][0], target);
        CHECK_INT(run(cmdline), 1);
        char expect[400];
        snprintf(expect, sizeof expect, "cadenza: %s exists; use --force to replace it", target);
        CHECK_STR_CONTAINS(err, expect);
        CHECK_INT(count_lines(err), 1);
        CHECK(strstr(out, "wrote") == NULL, "%s: said it wrote: %s", cmdline, out);
        size_t nb = file_bytes(target, bytes_before, sizeof bytes_before);
        CHECK(nb == strlen(kept) && memcmp(bytes_before, kept, nb) == 0, "%s: the file was changed", cmdline);
        snprintf(cmdline + strlen(cmdline), sizeof cmdline - strlen(cmdline), " --force");
        CHECK(run(cmdline) == 0, "%s: %s", cmdline, err);
        nb = file_bytes(target, bytes_after, sizeof bytes_after);
        CHECK(!(nb == strlen(kept) && memcmp(bytes_after, kept, nb) == 0), "%s: --force did not replace the file", cmdline);
        unlink(target);
    }
    unlink(tok);
    /* train's default output, CONFIG.safetensors in the current folder, and --resume of that very file */
    char cwd[4096], dflt[320];
    snprintf(dflt, sizeof dflt, "%s/attention_rnn.safetensors", dir);
    if (getcwd(cwd, sizeof cwd) && chdir(dir) == 0) {
        g = fopen(dflt, "w");
        fputs(kept, g);
        fclose(g);
        snprintf(args, sizeof args, "train --data %s --steps 1 --batch 2 --seq 16", data);
        CHECK_INT(run(args), 1);
        CHECK_STR_CONTAINS(err, "cadenza: attention_rnn.safetensors exists; use --force to replace it");
        CHECK_INT(file_bytes(dflt, bytes_before, sizeof bytes_before), strlen(kept));
        snprintf(args, sizeof args, "train --data %s --steps 1 --batch 2 --seq 16 --force", data);
        CHECK_INT(run(args), 0);
        snprintf(args, sizeof args, "train --data %s --resume attention_rnn.safetensors --steps 2", data);
        CHECK_INT(run(args), 0); /* resuming writes back to the file it read: no --force needed */
        CHECK_STR_CONTAINS(err, "checkpoint: attention_rnn.safetensors (step 2, done)");
        snprintf(args, sizeof args, "train --data %s --resume attention_rnn.safetensors --steps 3 --out %s", data, ckpt);
        CHECK_INT(run(args), 1); /* resuming into another file that exists */
        CHECK_STR_CONTAINS(err, "exists; use --force to replace it");
        CHECK(chdir(cwd) == 0, "back to %s", cwd);
    }
    unlink(dflt);
    /* eval music --plot: pictures already there */
    snprintf(plots, sizeof plots, "%s/plots", dir);
    mkdir(plots, 0777);
    char pic[400];
    snprintf(pic, sizeof pic, "%s/%s.%s", plots, cdz_metrics_describe(0)->name, cdz_png_available() ? "png" : "svg");
    g = fopen(pic, "w");
    fputs(kept, g);
    fclose(g);
    snprintf(args, sizeof args, "eval music --generated %s --reference %s --plot %s", tunes, tunes, plots);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "exists; use --force to replace it");
    snprintf(args, sizeof args, "rm -rf %s", plots);
    CHECK(system(args) == 0, "removed %s", plots);

    /* ---- dataset build that gives nothing: says what to try, writes nothing ---- */
    char solos[300], solo_cdz[320];
    snprintf(solos, sizeof solos, "%s/solos", dir);
    snprintf(solo_cdz, sizeof solo_cdz, "%s/solos.cdz", dir);
    mkdir(solos, 0777);
    write_tempo_per_beat(solos, 4);
    snprintf(args, sizeof args, "dataset build --codec melody --in %s --out %s", solos, solo_cdz);
    CHECK_INT(run(args), 1);
    CHECK(strstr(out, "wrote") == NULL, "no 'wrote' line: %s", out);
    CHECK_STR_CONTAINS(err, "no sequences: none of the 4 files gave one for codec melody");
    CHECK_STR_CONTAINS(err, "main reason: ");
    CHECK_STR_CONTAINS(err, "too short");
    CHECK_STR_CONTAINS(err, "4 of the 4 files change tempo");
    CHECK_STR_CONTAINS(err, "try --one-tempo");
    CHECK(access(solo_cdz, F_OK) != 0, "a failed build wrote %s", solo_cdz);
    snprintf(args, sizeof args, "dataset build --codec melody --in %s --out %s --one-tempo", solos, solo_cdz);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "wrote ");
    size_t good = file_bytes(solo_cdz, bytes_before, sizeof bytes_before);
    snprintf(args, sizeof args, "dataset build --codec melody --in %s --out %s --force", solos, solo_cdz);
    CHECK_INT(run(args), 1); /* fails again: the good dataset stays as it was */
    CHECK_STR_CONTAINS(err, "was not written (the file there is as it was)");
    CHECK(file_bytes(solo_cdz, bytes_after, sizeof bytes_after) == good && memcmp(bytes_before, bytes_after, good) == 0 && good > 72,
          "the dataset of %zu bytes is untouched", good);
    snprintf(args, sizeof args, "dataset build --codec melody --in %s --out %s --force --one-tempo --tracks NOPE", solos,
             solo_cdz);
    CHECK_INT(run(args), 1);
    CHECK_STR_CONTAINS(err, "--tracks or --programs may have left nothing");
    snprintf(args, sizeof args, "dataset build --codec accompaniment --in %s --out %s --force", solos, solo_cdz);
    CHECK_INT(run(args), 1); /* no tracks named MELODY and PIANO */
    CHECK_STR_CONTAINS(err, "choose them with --tracks NAMES or --programs A:B");
    snprintf(args, sizeof args, "rm -rf %s %s", solos, solo_cdz);
    CHECK(system(args) == 0, "removed %s", solos);

    /* ---- train --print-config for every kind, --help lists every kind and config from the tables ---- */
    const cdz_model_kind *const *kinds;
    size_t n_kinds = cdz_model_kind_list(&kinds);
    CHECK(n_kinds >= 3, "%zu kinds", n_kinds);
    CHECK_INT(run("train --help"), 0);
    char help[sizeof out];
    memcpy(help, out, sizeof help);
    for (size_t k = 0; k < n_kinds; k++) {
        char expect[160];
        snprintf(args, sizeof args, "train --model %s --print-config", kinds[k]->name);
        CHECK(run(args) == 0, "%s: %s", args, err);
        snprintf(expect, sizeof expect, "\"config_name\":\"%s\"", kinds[k]->default_config);
        CHECK_STR_CONTAINS(out, expect);
        snprintf(expect, sizeof expect, "  %s", kinds[k]->name);
        CHECK_STR_CONTAINS(help, expect);
        CHECK_STR_CONTAINS(help, kinds[k]->description);
        for (const char *const *c = kinds[k]->config_names; *c; c++) {
            snprintf(expect, sizeof expect, " %s%s", *c, strcmp(*c, kinds[k]->default_config) == 0 ? "*" : "");
            CHECK_STR_CONTAINS(help, expect);
        }
    }
    CHECK_INT(run("train --model music_transformer --config jsb_small_relative --print-config"), 0);
    CHECK_STR_CONTAINS(out, "\"codec\":\"chorale\"");
    snprintf(args, sizeof args, "train --data %s --config perf_pop", data);
    CHECK_INT(run(args), 2); /* another kind's config: says which */
    CHECK_STR_CONTAINS(err, "'perf_pop' is a music_transformer config, not a melody_rnn one: add --model music_transformer");
    check_usage_error(run("train --model melody_rn --print-config"), "bad value 'melody_rn' for --model: no such model kind; did you mean 'melody_rnn'?");

    /* ---- codec --help lists every codec of the table; channels explained ---- */
    CHECK_INT(run("codec --help"), 0);
    const cdz_codec *const *codecs;
    size_t n_codecs = cdz_codec_list(&codecs);
    for (size_t c = 0; c < n_codecs; c++) {
        char expect[96];
        snprintf(expect, sizeof expect, "  %s ", codecs[c]->name);
        CHECK_STR_CONTAINS(out, expect);
    }
    CHECK_INT(run("codec encode --help"), 0);
    CHECK_STR_CONTAINS(out, "vae_trio_16bar");
    CHECK_INT(run("midi --help"), 0);
    CHECK_STR_CONTAINS(out, "text shows them as musicians and synthesizers number them, 1 to 16");
    CHECK_STR_CONTAINS(out, "JSON (\"channel\") gives the number in the file's status byte, 0 to 15");
    CHECK_INT(run("midi notes --help"), 0);
    CHECK_STR_CONTAINS(out, "the JSON's \"channel\" is the number");
    /* the demo's bass is on the second channel: 2 in every text, 1 in every JSON */
    snprintf(args, sizeof args, "midi notes %s", mid);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "    1   2   32    48   70");
    snprintf(args, sizeof args, "midi notes --json %s", mid);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "{\"track\":1,\"channel\":1,\"program\":32");
    snprintf(args, sizeof args, "midi info --json %s", mid);
    CHECK_INT(run(args), 0);
    CHECK_STR_CONTAINS(out, "\"track\":1,\"track_name\":\"Bass\",\"channel\":1,");

    /* ---- render: normalised by default, --gain fixed with clipping counted, WAV names only ---- */
    snprintf(args, sizeof args, "render %s --out %s/x.mp3", mid, dir);
    check_usage_error(run(args), "--out ");
    CHECK_STR_CONTAINS(err, "x.mp3: cadenza writes WAV files only");
    if (cdz_render_available() && cdz_render_find_soundfont()) {
        snprintf(wav, sizeof wav, "%s/LOUD.WAV", dir);
        snprintf(args, sizeof args, "render %s --out %s --reverb 0", mid, wav);
        CHECK_INT(run(args), 0); /* any case of .wav */
        CHECK_STR_CONTAINS(out, "peak -1.0 dBFS, normalised +");
        cdz_audio au;
        cdz_error ae;
        if (cdz_wav_read(wav, &au, &ae) == CDZ_OK) {
            CHECK_NEAR(20 * log10(cdz_audio_peak(&au) / 32768.0), -1.0, 0.05);
            cdz_audio_free(&au);
        }
        CHECK(strstr(err, "rendering") == NULL, "no progress line where stderr is no terminal: %s", err);
        snprintf(args, sizeof args, "render %s --out %s --reverb 0 --gain 10 --force", mid, wav);
        CHECK_INT(run(args), 0);
        CHECK_STR_CONTAINS(out, " samples clipped");
        CHECK_STR_CONTAINS(err, "clipped at --gain 10 (the synthesizer peaked at +");
        CHECK_STR_CONTAINS(err, "dBFS): lower --gain to about ");
        snprintf(args, sizeof args, "render %s --out %s --reverb 0 --gain 0.5 --force", mid, wav);
        CHECK_INT(run(args), 0);
        CHECK(strstr(out, "normalised") == NULL && strstr(out, "clipped") == NULL, "a fixed gain: %s", out);
        unlink(wav);
        /* --wav of generate goes through app_wav_beside: normalised too, and says so */
        snprintf(args, sizeof args, "generate --checkpoint %s --primer-pitches 60,-2,62,-2 --steps 8 --out %s/w.mid --wav", ckpt, gen);
        CHECK_INT(run(args), 0);
        CHECK_STR_CONTAINS(out, "w.wav (normalised +");
        snprintf(args, sizeof args, "%s/w.wav", gen);
        cdz_audio wa;
        cdz_error we;
        if (cdz_wav_read(args, &wa, &we) == CDZ_OK) {
            CHECK_NEAR(20 * log10(cdz_audio_peak(&wa) / 32768.0), -1.0, 0.05);
            cdz_audio_free(&wa);
        }
    }

    /* ---- eval audio: two clips of different formats and rates compared at one rate ---- */
    {
        char ra[300], rb[300];
        snprintf(ra, sizeof ra, "%s/ref.wav", dir);
        snprintf(rb, sizeof rb, "%s/gen.wav", dir);
        cdz_audio a = {0}, b = {0};
        a.frames = 12000, a.channels = 1, a.sample_rate = 24000, b.frames = 24000, b.channels = 2, b.sample_rate = 48000;
        a.samples = calloc(a.frames, sizeof *a.samples), b.samples = calloc(b.frames * 2, sizeof *b.samples);
        for (size_t i = 0; i < a.frames; i++) a.samples[i] = (int16_t)(8000 * sin(0.05 * (double)i));
        for (size_t i = 0; i < b.frames; i++) b.samples[2 * i] = b.samples[2 * i + 1] = (int16_t)(4000 * sin(0.025 * (double)i));
        cdz_error we;
        CHECK(cdz_wav_write(ra, &a, &we) == CDZ_OK && cdz_wav_write(rb, &b, &we) == CDZ_OK, "wrote the clips: %s", we.msg);
        free(a.samples), free(b.samples);
        snprintf(args, sizeof args, "eval audio --reference %s --generated %s --json", ra, rb);
        int rc_audio = run(args);
        if (cdz_audio_metrics_available()) {
            /* the same sine at half the amplitude, after resampling: SI-SDR high, mel distance near 7 log10 2 */
            CHECK(rc_audio == 0 && strstr(out, "\"rate\":24000") && strstr(out, "\"mel_distance\":"), "eval audio: %s %s", out, err);
            CHECK_STR_CONTAINS(err, "resampled from 48000 Hz to 24000 Hz");
            const char *p = strstr(out, "\"si_sdr_db\":");
            CHECK(p && atof(p + 12) > 30, "a scaled copy scores high: %s", out);
        } else {
            CHECK(rc_audio == 1 && strstr(err, "libkissfft-dev"), "eval audio without KissFFT: %s", err);
        }
        snprintf(args, sizeof args, "eval audio --reference %s/none.wav --generated %s", dir, rb);
        CHECK(run(args) == 1 && strstr(err, "none.wav"), "a missing reference named: %s", err);
        CHECK(run("eval audio --reference x.wav") == 2, "no --generated: usage");
        char png[320];
        snprintf(png, sizeof png, "%s/spec.png", dir);
        snprintf(args, sizeof args, "plot --spectrogram %s --out %s", rb, png);
        int rc_spec = run(args);
        if (cdz_audio_metrics_available() && cdz_png_available())
            CHECK(rc_spec == 0 && strstr(out, "spectrogram, PNG, 1200 x 400") && access(png, F_OK) == 0 &&
                      strstr(err, "2 channels averaged to mono"),
                  "plot --spectrogram: %s %s", out, err);
        else
            CHECK(rc_spec == 1, "plot --spectrogram without KissFFT or libpng: %s", err);
        snprintf(args, sizeof args, "plot --spectrogram %s --out %s/spec.svg", rb, dir);
        CHECK(run(args) == 2 && strstr(err, "PNG, not SVG"), "an SVG spectrogram refused: %s", err);
        snprintf(args, sizeof args, "plot --spectrogram %s/gone.wav --out %s/g.png", dir, dir);
        CHECK(run(args) == 1 && strstr(err, "gone.wav"), "a missing WAV named: %s", err);
        unlink(png);
        unlink(ra), unlink(rb);
    }

    /* ---- render: what can be checked before rendering is, and FluidSynth's noise stays away ---- */
    snprintf(args, sizeof args, "render %s --out \"\"", mid);
    check_usage_error(run(args), "--out is empty: name the WAV file to write");
    if (cdz_render_available() && cdz_render_find_soundfont()) {
        /* half an hour of music (two notes) to a folder that does not exist: refused at once, not after
         * rendering it (which took 14 s) */
        char longmid[300], sf[300];
        snprintf(longmid, sizeof longmid, "%s/half_hour.mid", dir);
        cdz_score ls;
        cdz_error le;
        cdz_score_init(&ls, 480, &le);
        cdz_score_add_tempo(&ls, 0, 120);
        cdz_score_add_note(&ls, 0, 0, 0, 60, 90, 0, 480);
        cdz_score_add_note(&ls, 0, 0, 0, 62, 90, 1800 * 960, 1800 * 960 + 480);
        cdz_score_finish(&ls, &le);
        cdz_score_write_file(&ls, longmid, 1, &le);
        cdz_score_free(&ls);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        snprintf(args, sizeof args, "render %s --out %s/missing/x.wav", longmid, dir);
        CHECK_INT(run(args), 1);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        CHECK_STR_CONTAINS(err, "missing/x.wav cannot be written: the folder");
        CHECK(took < 3, "refused in %.1f s, before rendering", took);
        unlink(longmid);
        /* $CADENZA_SOUNDFONT naming a missing file: an error naming it, not another SoundFont */
        snprintf(wav, sizeof wav, "%s/sf.wav", dir);
        snprintf(sf, sizeof sf, "%s/gone.sf2", dir);
        setenv("CADENZA_SOUNDFONT", sf, 1);
        snprintf(args, sizeof args, "render %s --out %s", mid, wav);
        CHECK_INT(run(args), 1);
        CHECK_STR_CONTAINS(err, "cadenza: $CADENZA_SOUNDFONT names ");
        CHECK_STR_CONTAINS(err, "gone.sf2, which does not exist");
        CHECK(count_lines(err) == 1 && access(wav, F_OK) != 0, "one line, nothing written: %s", err);
        unsetenv("CADENZA_SOUNDFONT");
        unlink(wav);
        /* a truncated SoundFont (the first 200,000 bytes of the installed one) and a damaged one: one
         * line naming the file, no FluidSynth or GLib text */
        snprintf(sf, sizeof sf, "%s/cut.sf2", dir);
        snprintf(args, sizeof args, "head -c 200000 '%s' > %s", cdz_render_find_soundfont(), sf);
        CHECK(system(args) == 0, "%s", args);
        snprintf(args, sizeof args, "render %s --out %s --soundfont %s --force", mid, wav, sf);
        CHECK_INT(run(args), 1);
        CHECK_STR_CONTAINS(err, "cadenza: ");
        CHECK_STR_CONTAINS(err, "cut.sf2: truncated or damaged SoundFont: its sdta chunk at byte ");
        CHECK(count_lines(err) == 1 && strstr(err, "demo.mid") == NULL, "one line about the SoundFont: %s", err);
        static const uint8_t damaged[76] = {
            'R', 'I', 'F', 'F', 68, 0, 0, 0, 's', 'f', 'b', 'k',
            'L', 'I', 'S', 'T', 16, 0, 0, 0, 'I', 'N', 'F', 'O', 'i', 'f', 'i', 'l', 4, 0, 0, 0, 2, 0, 1, 0,
            'L', 'I', 'S', 'T', 12, 0, 0, 0, 's', 'd', 't', 'a', 's', 'm', 'p', 'l', 0, 0, 0, 0,
            'L', 'I', 'S', 'T', 12, 0, 0, 0, 'p', 'd', 't', 'a', 'j', 'u', 'n', 'k', 0, 0, 0, 0};
        FILE *df = fopen(sf, "wb");
        if (df) fwrite(damaged, 1, sizeof damaged, df), fclose(df);
        CHECK_INT(run(args), 1);
        CHECK_STR_CONTAINS(err, "cut.sf2: FluidSynth could not load this SoundFont: ");
        CHECK(count_lines(err) == 1 && strstr(err, "CRITICAL") == NULL && strstr(err, "demo.mid") == NULL,
              "one line about the SoundFont, no GLib assertion: %s", err);
        CHECK(access(wav, F_OK) != 0, "nothing written for a broken SoundFont");
        unlink(sf);
    }

    /* ---- train: a warm-up longer than the run ---- */
    snprintf(args, sizeof args, "train --data %s --steps 10 --warmup 20 --out %s/w.safetensors", data, dir);
    check_usage_error(run(args), "--warmup 20 is longer than --steps 10: the learning rate would never reach --lr");
    snprintf(args, sizeof args, "train --data %s --warmup 2000 --batch 2 --seq 16 --out %s/w.safetensors", data, dir); /* 1000 steps */
    check_usage_error(run(args), "--warmup 2000 is longer than --steps 1000");
    snprintf(args, sizeof args, "train --data %s --resume %s --warmup 50", data, ckpt); /* the run's own 5 steps */
    CHECK_INT(run(args), 2);
    CHECK_STR_CONTAINS(err, "--warmup 50 is longer than the run's 5 steps");
    snprintf(args, sizeof args, "%s/w.safetensors", dir);
    CHECK(access(args, F_OK) != 0, "nothing trained");

    /* ---- cadenza models: the shipped ones, from their cards and checkpoints ---- */
    char shelf[300], card_path[340];
    snprintf(shelf, sizeof shelf, "%s/shelf", dir);
    mkdir(shelf, 0777);
    setenv("CADENZA_MODELS", shelf, 1);
    CHECK_INT(run("models"), 1);
    CHECK_STR_CONTAINS(err, "no shipped models found");
    char cp[2048];
    snprintf(cp, sizeof cp, "cp %s %s/tunes_rnn.safetensors && cp %s %s/bare.safetensors", ckpt, shelf, shipped, shelf);
    CHECK(system(cp) == 0, "models copied");
    snprintf(card_path, sizeof card_path, "%s/tunes_rnn.md", shelf);
    g = fopen(card_path, "w");
    fputs("# tunes_rnn: scale tunes for the tests\nData: twelve made-up tunes\nLicence: CC0\n\n| table | here |\n", g);
    fclose(g);
    CHECK_INT(run("models"), 0);
    CHECK_STR_CONTAINS(out, "tunes_rnn: scale tunes for the tests");
    CHECK_STR_CONTAINS(out, "  data      twelve made-up tunes\n  licence   CC0\n");
    CHECK_STR_CONTAINS(out, "melody_rnn / attention_rnn, codec key_melody2");
    CHECK_STR_CONTAINS(out, "weights and optimiser state");
    CHECK_STR_CONTAINS(out, "cadenza generate --model tunes_rnn");
    CHECK_STR_CONTAINS(out, "bare: (no description");
    CHECK_STR_CONTAINS(out, "no card (");
    snprintf(card_path, sizeof card_path, "%s/bare.md", shelf);
    g = fopen(card_path, "w");
    fputs("# bare: exported\nData: the same tunes\n", g);
    fclose(g);
    snprintf(args, sizeof args, "%s/broken.safetensors", shelf);
    g = fopen(args, "w");
    fputs("not a checkpoint", g);
    fclose(g);
    CHECK_INT(run("models --json"), 1); /* a broken file is listed, and the status says so */
    CHECK_INT(count_lines(out), 3);
    CHECK_STR_CONTAINS(out, "{\"name\":\"bare\",");
    CHECK_STR_CONTAINS(out, "\"card_problem\":\"the card lacks a 'Licence:' line in its header\"");
    CHECK_STR_CONTAINS(out, "\"resumable\":false");
    CHECK_STR_CONTAINS(out, "{\"name\":\"broken\",");
    CHECK_STR_CONTAINS(out, "\"loaded\":false");
    CHECK_STR_CONTAINS(out, "\"licence\":\"CC0\"");
    CHECK_STR_CONTAINS(out, "\"parameters\":");
    snprintf(args, sizeof args, "rm -rf %s", shelf);
    CHECK(system(args) == 0, "removed %s", shelf);
    /* the cards shipped in models/ have the header */
    char shipped_dir[4096];
    snprintf(shipped_dir, sizeof shipped_dir, "%s", prog);
    char *slash = strrchr(shipped_dir, '/');
    if (slash) { /* beside build/ (or build/san/) */
        snprintf(slash, sizeof shipped_dir - (size_t)(slash - shipped_dir), "/../models");
        if (access(shipped_dir, R_OK) != 0) snprintf(slash, sizeof shipped_dir - (size_t)(slash - shipped_dir), "/../../models");
        setenv("CADENZA_MODELS", shipped_dir, 1);
        CHECK_INT(run("models --json"), 0);
        CHECK(count_lines(out) >= 3 && strstr(out, "\"card_problem\":\"") == NULL && strstr(out, "\"licence\":null") == NULL,
              "every shipped model has a card with its header: %s", out);
        CHECK_STR_CONTAINS(out, "{\"name\":\"attention_rnn\",");
    }
    unsetenv("CADENZA_MODELS");

    char rm[2048];
    snprintf(rm, sizeof rm, "rm -rf %s %s %s %s %s/nan.safetensors", tunes, gen, data, log, dir);
    if (system(rm) != 0) printf("could not clean up\n");
    unlink(ckpt);
    unlink(shipped);

    unlink(mid);
    unlink(bad);
    unlink(out_path);
    unlink(err_path);
    rmdir(dir);
    return test_summary("test_cli");
}

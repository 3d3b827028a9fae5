/* cadenza: the command-line program. Subcommands in the style of git. */
#include <errno.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "app.h"

static const char OVERVIEW[] = "cadenza " CDZ_VERSION ": music generation toolkit\n";

static int cmd_version(int argc, char **argv) {
    app_opt opts[] = {APP_END};
    const app_cmd cmd = {"version", "", "Prints the version.", opts, NULL, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    printf("cadenza %s\n", CDZ_VERSION);
    return EXIT_OK;
}

static const app_sub COMMANDS[] = {
    {"midi", cmd_midi, "info|notes FILE: what is in MIDI files (format, tracks, tempos, instruments,\n"
                       "warnings), every note in seconds and ticks"},
    {"codec", cmd_codec, "list|encode|decode: music as tokens"},
    {"dataset", cmd_dataset, "build|info: token datasets from folders of MIDI"},
    {"train", cmd_train, "train a model on a dataset"},
    {"generate", cmd_generate, "music from a trained model (default: the shipped attention_rnn)"},
    {"accompany", cmd_accompany, "add a generated accompaniment to a melody"},
    {"infill", cmd_infill, "IN.mid --keep NAMES --out OUT.mid: fill in the other parts of a piece with an\n"
                           "ensemble model (a melody's accompaniment, a quartet's missing viola)"},
    {"vae", cmd_vae, "sample|interpolate|reconstruct|encode|attribute: the latent space of a MusicVAE\n"
                     "model"},
    {"models", cmd_models, "the shipped models: what each does, its data and that data's licence"},
    {"eval", cmd_eval, "loss|ngram|melodies|music|stability|style|ensemble: model loss, n-gram baselines,\n"
                       "melody and music statistics, long pieces, styles, ensemble models"},
    {"audio", cmd_audio, "encode|decode: sound to a neural audio codec's codes and back"},
    {"render", cmd_render, "IN.mid --out OUT.wav: MIDI to audio through FluidSynth and a General MIDI\n"
                           "SoundFont"},
    {"plot", cmd_plot, "IN.mid --out OUT.png: a piano-roll picture (PNG or SVG; --compare A.mid B.mid)"},
    {"export", cmd_export, "CKPT --out FILE: a checkpoint's weights without the training state"},
    {"bench", cmd_bench, "training and generation speed on random tokens"},
    {"demo", cmd_demo, "write a short piece, read it back and print it"},
    {"version", cmd_version, "print the version"},
};

/* What coreutils' close_stdout does: output the program could not write (a full disk, a closed pipe,
 * /dev/full) is a failure, not a success with lost lines. Returns the exit status to use. */
static int close_stdout(int rc) {
    errno = 0;
    int bad = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    if (fclose(stdout) != 0 && !bad) bad = 1, e = errno;
    if (!bad) return rc;
    fprintf(stderr, "cadenza: write error on standard output%s%s\n", e ? ": " : "", e ? strerror(e) : "");
    return rc == EXIT_OK ? EXIT_FAIL : rc;
}

int main(int argc, char **argv) {
#ifdef __GLIBC__
    /* Commands read thousands of files in a row: keep freed memory for the next one instead of
     * returning it to the kernel (about a quarter of the parse time went to page faults). */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
#endif
    int rc = argc >= 2 && strcmp(argv[1], "--version") == 0
                 ? cmd_version(0, argv + 2)
                 : app_dispatch("", OVERVIEW, COMMANDS, sizeof COMMANDS / sizeof *COMMANDS, NULL, argc - 1, argv + 1);
    return close_stdout(rc);
}

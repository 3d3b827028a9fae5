/* cadenza: the command-line program. Subcommands in the style of git. */
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "app.h"

static const char USAGE[] =
    "cadenza " CDZ_VERSION ": music generation toolkit\n"
    "\n"
    "usage: cadenza <command> [options]\n"
    "\n"
    "commands:\n"
    "  midi info FILE...   what is in MIDI files: format, tracks, tempos, instruments, warnings\n"
    "  midi notes FILE     every note of a MIDI file, in seconds and ticks\n"
    "  codec list|encode|decode   music as tokens: see 'cadenza codec --help'\n"
    "  dataset build|info  token datasets from folders of MIDI: see 'cadenza dataset --help'\n"
    "  train               train a model on a dataset: see 'cadenza train --help'\n"
    "  generate            melodies from a trained model (default: the shipped one)\n"
    "  accompany           add a generated accompaniment to a melody (accompaniment models)\n"
    "  eval loss|ngram|melodies|music   model loss, n-gram baselines, melody and music statistics\n"
    "  render IN.mid --out OUT.wav   MIDI to audio through FluidSynth and a General MIDI SoundFont\n"
    "  plot IN.mid --out OUT.png     a piano-roll picture (PNG or SVG; --compare A.mid B.mid)\n"
    "  export CKPT --out F  a checkpoint's weights without the training state (to ship or share)\n"
    "  bench               training and generation speed on random tokens\n"
    "  demo [--out FILE]   write a short piece, read it back and print it\n"
    "  version             print the version\n"
    "\n"
    "Run 'cadenza <command> --help' for a command's options.\n";

int main(int argc, char **argv) {
#ifdef __GLIBC__
    /* Commands read thousands of files in a row: keep freed memory for the next one instead of
     * returning it to the kernel (about a quarter of the parse time went to page faults). */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
#endif
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (app_is_help(cmd) || strcmp(cmd, "help") == 0) {
        fputs(USAGE, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("cadenza %s\n", CDZ_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "midi") == 0) return cmd_midi(argc - 2, argv + 2);
    if (strcmp(cmd, "demo") == 0) return cmd_demo(argc - 2, argv + 2);
    if (strcmp(cmd, "codec") == 0) return cmd_codec(argc - 2, argv + 2);
    if (strcmp(cmd, "dataset") == 0) return cmd_dataset(argc - 2, argv + 2);
    if (strcmp(cmd, "train") == 0) return cmd_train(argc - 2, argv + 2);
    if (strcmp(cmd, "generate") == 0) return cmd_generate(argc - 2, argv + 2);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 2, argv + 2);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 2, argv + 2);
    if (strcmp(cmd, "accompany") == 0) return cmd_accompany(argc - 2, argv + 2);
    if (strcmp(cmd, "export") == 0) return cmd_export(argc - 2, argv + 2);
    if (strcmp(cmd, "render") == 0) return cmd_render(argc - 2, argv + 2);
    if (strcmp(cmd, "plot") == 0) return cmd_plot(argc - 2, argv + 2);
    return app_usage_error(USAGE, "unknown command '%s'", cmd);
}

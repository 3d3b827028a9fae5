/* The audio commands end to end on tiny models made here: dataset build --audio from WAV files of other
 * rates and channel counts, train --model audio_codec, audio encode (bitrates) and decode, audio tokens,
 * a tiny prior trained by train, audio generate (with and without a primer), eval audio-stats; then
 * every bad request: a clear error naming the problem, a non-zero exit status, nothing written. With the
 * shipped models (models/audio_codec, models/audio_prior) present, their defaults too.
 * Runs the built program given as argv[1] (default: cadenza beside this test's build folder). */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cadenza/audio.h"
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

/* A WAV of two tones, at rate with channels channels. */
static void write_tones(const char *path, double seconds, uint32_t rate, int channels, double f1, double f2) {
    size_t n = (size_t)(seconds * rate);
    cdz_audio a = {malloc(n * (size_t)channels * sizeof(int16_t)), n, channels, rate};
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < channels; c++)
            a.samples[i * (size_t)channels + (size_t)c] =
                (int16_t)lrint(9000 * sin(2 * 3.14159265358979 * f1 * (double)i / rate) + 6000 * sin(2 * 3.14159265358979 * f2 * (double)i / rate + c));
    cdz_error e;
    CHECK(cdz_wav_write(path, &a, &e) == CDZ_OK, "%s", e.msg);
    free(a.samples);
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
    char dir[] = "/tmp/cadenza_cli_audio_XXXXXX";
    if (!mkdtemp(dir)) return 1;
    snprintf(out_path, sizeof out_path, "%s/out", dir);
    snprintf(err_path, sizeof err_path, "%s/err", dir);
    char wavs[128], a_cdz[128], codec[128], codes[128], dec[128], p_cdz[128], prior[128], gen[128], cfg[128], path[PATH_MAX + 64];
    snprintf(wavs, sizeof wavs, "%s/wavs", dir);
    snprintf(a_cdz, sizeof a_cdz, "%s/a.cdz", dir);
    snprintf(codec, sizeof codec, "%s/codec.safetensors", dir);
    snprintf(codes, sizeof codes, "%s/x.codes", dir);
    snprintf(dec, sizeof dec, "%s/dec.wav", dir);
    snprintf(p_cdz, sizeof p_cdz, "%s/p.cdz", dir);
    snprintf(prior, sizeof prior, "%s/prior.safetensors", dir);
    snprintf(gen, sizeof gen, "%s/gen.wav", dir);
    snprintf(cfg, sizeof cfg, "%s/prior.json", dir);
    mkdir(wavs, 0777);
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/t%d.wav", wavs, i);
        /* 24 kHz mono, 48 kHz stereo, 16 kHz mono, 44.1 kHz stereo */
        static const uint32_t rates[4] = {24000, 48000, 16000, 44100};
        write_tones(path, 1.5 + 0.25 * i, rates[i], 1 + (i % 2), 220 * (i + 1), 330 * (i + 1));
    }

    /* dataset build --audio: WAVs converted, hours by split */
    CHECK_INT(run("dataset build --audio --in %s --out %s", wavs, a_cdz), 0);
    CHECK_STR_CONTAINS(out, "4 found, 4 used");
    CHECK_STR_CONTAINS(out, "3 WAV files made mono or resampled to 24000 Hz");
    CHECK_STR_CONTAINS(out, "hours");
    CHECK_INT(run("dataset build --audio --codec melody --in %s --out %s --force", wavs, a_cdz), 2);
    CHECK_STR_CONTAINS(err, "leave out --codec");
    CHECK_INT(run("dataset build --codec melody --sample-rate 16000 --in %s --out %s --force", wavs, a_cdz), 2);
    CHECK_STR_CONTAINS(err, "--sample-rate is for --audio datasets");

    /* train a tiny codec (no quantizer dropout for a steady few steps) */
    CHECK_INT(run("train --data %s --model audio_codec --config codec_tiny --steps 4 --warmup 1 --eval-every 0 --out %s", a_cdz,
                  codec), 0);
    CHECK_STR_CONTAINS(err, "samples/s");
    CHECK(exists(codec), "the codec checkpoint");
    /* its held-out loss is an objective per sample of audio: no perplexity or accuracy to print */
    CHECK_INT(run("eval loss --checkpoint %s --data %s --split all", codec, a_cdz), 0);
    CHECK_STR_CONTAINS(out, "objective per sample");
    CHECK(!strstr(out, "perplexity"), "no perplexity for a codec: %s", out);
    CHECK_INT(run("train --data %s --model music_transformer --config audio_prior --steps 1 --out %s/no.safetensors", a_cdz, dir), 1);
    CHECK_STR_CONTAINS(err, "the dataset holds audio");

    /* encode and decode; bitrates of this codec are multiples of 24000 / 16 x 4 bits = 6 kbps */
    snprintf(path, sizeof path, "%s/t1.wav", wavs);
    CHECK_INT(run("audio encode %s --checkpoint %s --bitrate 12 --out %s", path, codec, codes), 0);
    CHECK_STR_CONTAINS(out, "x 2 books (12.00 kbps)");
    CHECK_STR_CONTAINS(err, "2 channels averaged to mono");
    CHECK_INT(run("audio encode %s --checkpoint %s --bitrate 7 --out %s/b.codes", path, codec, dir), 2);
    CHECK_STR_CONTAINS(err, "multiples of 6 kbps");
    CHECK_INT(run("audio encode %s --checkpoint %s --out %s", path, codec, codes), 1); /* exists */
    CHECK_INT(run("audio encode %s --checkpoint %s --books 4 --out %s --force", path, codec, codes), 0);
    CHECK_INT(run("audio decode %s --checkpoint %s --out %s", codes, codec, dec), 0);
    CHECK_STR_CONTAINS(out, "1.75 s at 24000 Hz from 4 books");
    CHECK_INT(run("eval audio --reference %s --generated %s --rate 24000", path, dec), 0);
    CHECK_STR_CONTAINS(out, "mel distance");
    /* a damaged codes file, a missing one, and another kind of model */
    FILE *f = fopen(codes, "r+b");
    if (f) {
        fseek(f, 70, SEEK_SET);
        fputc(0x55, f);
        fclose(f);
    }
    CHECK_INT(run("audio decode %s --checkpoint %s --out %s/d2.wav", codes, codec, dir), 1);
    CHECK_STR_CONTAINS(err, "checksum does not match");
    snprintf(path, sizeof path, "%s/d2.wav", dir);
    CHECK(!exists(path), "nothing written for a damaged file");
    CHECK_INT(run("audio decode %s/none.codes --checkpoint %s --out %s/d3.wav", dir, codec, dir), 1);
    CHECK_STR_CONTAINS(err, "none.codes");
    CHECK_INT(run("audio encode %s/wavs/t0.wav --checkpoint %s --out %s/c.codes", dir, a_cdz, dir), 1);
    CHECK_STR_CONTAINS(err, a_cdz);

    /* the prior: tokens, a tiny transformer over 4 books of 16 + 8 styles, generation */
    CHECK_INT(run("audio tokens --data %s --style jazz --checkpoint %s --books 2 --out %s", a_cdz, codec, p_cdz), 0);
    CHECK_STR_CONTAINS(out, "vocabulary 40 (2 books of 16 codes + 8 styles)");
    CHECK_INT(run("audio tokens --data %s --style metal --checkpoint %s --out %s/q.cdz", a_cdz, codec, dir), 2);
    CHECK_STR_CONTAINS(err, "the styles are pop");
    CHECK_INT(run("audio tokens --data %s --data %s --style pop --checkpoint %s --out %s/q.cdz", a_cdz, a_cdz, codec, dir), 2);
    CHECK_STR_CONTAINS(err, "one each, in order");
    f = fopen(cfg, "w");
    if (f) {
        fputs("{\"kind\":\"music_transformer\",\"config_name\":\"tiny_prior\",\"codec\":\"none\",\"vocab\":40,"
              "\"attention\":\"relative\",\"layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":64,\"max_relative\":64,"
              "\"dropout\":0,\"batch\":2,\"seq\":32}", f);
        fclose(f);
    }
    CHECK_INT(run("train --data %s --model music_transformer --config %s --steps 3 --warmup 1 --eval-every 0 --out %s", p_cdz, cfg,
                  prior), 0);
    CHECK_INT(run("audio generate --seconds 1 --style jazz --prior %s --codec %s --seed 3 --out %s --codes %s/g.codes", prior, codec,
                  gen, dir), 0);
    CHECK_STR_CONTAINS(out, "1.00 s at 24000 Hz (jazz, 2 books, no primer)");
    CHECK(exists(gen), "the generated clip");
    snprintf(path, sizeof path, "%s/g.codes", dir);
    CHECK_INT(run("audio decode %s --checkpoint %s --out %s/g2.wav", path, codec, dir), 0);
    snprintf(path, sizeof path, "%s/t0.wav", wavs);
    CHECK_INT(run("audio generate --seconds 2 --primer %s --primer-seconds 0.5 --prior %s --codec %s --out %s/gp.wav", path, prior,
                  codec, dir), 0);
    CHECK_STR_CONTAINS(out, "0.50 s of primer");
    CHECK_INT(run("audio generate --seconds 0.1 --prior %s --codec %s --out %s/short.wav", prior, codec, dir), 0);
    CHECK_INT(run("eval audio-stats --reference %s --generated %s/short.wav", path, dir), 1); /* 0.1 s: too short */
    CHECK_STR_CONTAINS(err, "too short");
    snprintf(path, sizeof path, "%s/t3.wav", wavs);
    CHECK_INT(run("eval audio-stats --reference %s --generated %s/gp.wav --json", path, dir), 0);
    CHECK_STR_CONTAINS(out, "\"chroma_l1\":");
    CHECK_INT(run("audio generate --seconds 1 --prior %s --codec %s --out %s/x.wav", codec, codec, dir), 1);
    CHECK_STR_CONTAINS(err, "books x 16 codes");
    CHECK_INT(run("audio generate --seconds 1 --style nope --prior %s --codec %s --out %s/x.wav", prior, codec, dir), 2);
    CHECK_INT(run("audio generate --seconds 1 --primer-seconds 1 --prior %s --codec %s --out %s/x.wav", prior, codec, dir), 2);
    CHECK_STR_CONTAINS(err, "--primer-seconds goes with --primer");
    CHECK_INT(run("audio generate --seconds 1 --prior %s --codec %s --out %s", prior, codec, gen), 1); /* exists */

    /* the shipped models, when present */
    char models[PATH_MAX];
    snprintf(models, sizeof models, "%s", prog);
    char *slash = strrchr(models, '/');
    if (slash) *slash = 0;
    snprintf(path, sizeof path, "%s/../models/audio_prior.safetensors", models);
    if (exists(path)) {
        CHECK_INT(run("audio generate --seconds 2 --seed 1 --out %s/shipped.wav", dir), 0);
        CHECK_STR_CONTAINS(out, "2.00 s at 24000 Hz (pop, 2 books, no primer)");
        snprintf(path, sizeof path, "%s/wavs/t0.wav", dir);
        CHECK_INT(run("audio encode %s --bitrate 6 --out %s/s.codes", path, dir), 0);
        CHECK_STR_CONTAINS(out, "x 8 books (6.00 kbps)");
    } else {
        printf("skipped: the shipped audio models (models/audio_prior.safetensors is not there)\n");
    }
    snprintf(path, sizeof path, "rm -rf %s", dir);
    if (system(path) != 0) printf("could not remove %s\n", dir);
    return test_summary("test_cli_audio");
}

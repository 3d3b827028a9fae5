/* libFuzzer target for the .codes reader (cadenza/audio_codec.h: an audio codec's codes of one clip).
 * For any bytes:
 * - cdz_codes_parse returns OK or an error whose message names the input;
 * - codes that parse have a codec's shape (rate, hop, 1 or more books of 2 to 65,536 entries), every
 *   code inside its codebook, samples that fit their frames, and all frames x books codes readable;
 * - written back (cdz_codes_write, through a temporary file) and read again, they are the same;
 * - nothing crashes, hangs or leaks (the sanitizers check).
 * Random bytes seldom carry the right checksum (FNV-1a 64 of the codes), so an input is tried a second
 * time with its checksum made right, which takes the reader past that check to the codes themselves.
 * Build and run: make fuzz FUZZ_TARGET=codes. Without libFuzzer, replay_main.c gives it a main. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cadenza/audio_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { HEADER = 64, CHECKSUM_AT = 48 };

/* The round trip's file: in a folder of the process's own (made once under $TMPDIR or /tmp), removed
 * at exit. (cdz_codes_write renames a temporary file over it, so it must be an ordinary path.) */
static char dir_[4096], path_[4200];

static void remove_dir(void) {
    unlink(path_);
    rmdir(dir_);
}

static const char *round_trip_path(void) {
    if (!path_[0]) {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir_, sizeof dir_, "%s/cadenza-fuzz-codes-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir_)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        snprintf(path_, sizeof path_, "%s/round_trip.codes", dir_);
        atexit(remove_dir);
    }
    return path_;
}

static void fail(const char *what) {
    fprintf(stderr, "codes oracle: %s\n", what);
    abort();
}

static void check(const uint8_t *data, size_t size) {
    cdz_codes c;
    cdz_error err = {0};
    cdz_status st = cdz_codes_parse(data, size, "fuzz input", &c, &err);
    if (st != CDZ_OK) {
        if (!strstr(err.msg, "fuzz input")) fail("an error that does not name the input");
        return;
    }
    const cdz_audio_codec_shape *s = &c.shape;
    if (!s->rate || s->hop < 1 || s->books < 1 || s->codebook < 2 || s->codebook > 65536) fail("not a codec's shape");
    if (c.samples > c.frames * (uint64_t)s->hop) fail("more samples than the frames hold");
    if (c.frames && !c.codes) fail("frames without codes");
    for (uint64_t i = 0; i < c.frames * (uint64_t)s->books; i++)
        if (c.codes[i] >= (uint32_t)s->codebook) fail("a code past its codebook");
    /* the round trip */
    const char *path = round_trip_path();
    if (cdz_codes_write(path, &c, &err) != CDZ_OK) fail("codes that read do not write");
    cdz_codes back;
    if (cdz_codes_read(path, &back, &err) != CDZ_OK) fail("codes written do not read back");
    if (memcmp(&back.shape, &c.shape, sizeof c.shape) || back.frames != c.frames || back.samples != c.samples ||
        memcmp(back.codes, c.codes, (size_t)(c.frames * (uint64_t)s->books) * sizeof *c.codes))
        fail("codes read back differ");
    cdz_codes_free(&back);
    cdz_codes_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check(data, size);
    if (size < HEADER) return 0;
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    uint64_t sum = cdz_fnv1a64(CDZ_FNV_OFFSET, fixed + HEADER, size - HEADER);
    for (int i = 0; i < 8; i++) fixed[CHECKSUM_AT + i] = (uint8_t)(sum >> (8 * i));
    check(fixed, size);
    free(fixed);
    return 0;
}

/* libFuzzer target for the .cdz dataset reader (versions 1 and 2; tokens, audio and features) and what
 * reads a dataset once it is open. For any bytes:
 * - cdz_dataset_open returns OK or an error whose message names the file;
 * - a dataset that opens is consistent: offsets start at 0, never fall and end at n_tokens, splits are
 *   train, eval or test, tokens are inside the vocabulary, and every element of every sequence is
 *   readable (the sanitizers check the bounds);
 * - training windows (cdz_window_sampler) and batches (cdz_batcher) over each split start or fail with
 *   a message, and what they hand out lies inside the sequences;
 * - nothing crashes, hangs or leaks.
 * The file's checksum stops almost every mutation at the door, so each input is tried twice: as it is,
 * and with its checksum (bytes 48-55) set to what it should be, so the checks behind it are reached.
 * Build and run: make fuzz FUZZ_TARGET=cdz. Without libFuzzer, replay_main.c gives it a main. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what) {
    fprintf(stderr, "cdz oracle: %s\n", what);
    abort();
}

static void check_windows(const cdz_dataset *ds, const char *path) {
    static const cdz_split SPLITS[4] = {CDZ_SPLIT_ALL, CDZ_SPLIT_TRAIN, CDZ_SPLIT_EVAL, CDZ_SPLIT_TEST};
    for (int k = 0; k < 4; k++) {
        cdz_split split = SPLITS[k];
        cdz_error err = {0, ""};
        cdz_window_sampler s;
        cdz_status st = cdz_window_sampler_init(&s, ds, split, 3, &err);
        if (st != CDZ_OK && !err.msg[0]) fail("a sampler error without a message");
        if (st == CDZ_OK) {
            cdz_rng r;
            cdz_rng_seed(&r, 1);
            cdz_window w[4];
            for (int whole = 0; whole < 2; whole++) {
                if (!whole) cdz_window_sampler_draw(&s, &r, w, 4);
                else cdz_window_sampler_draw_whole(&s, &r, w, 4);
                for (int b = 0; b < 4; b++) {
                    if (w[b].start < 0 || w[b].n < 1 || w[b].n > 4) fail("a window outside its bounds");
                    if (ds->dtype == CDZ_DTYPE_AUDIO) { /* audio windows: read every sample (ASan finds a stray one) */
                        int64_t sum = 0;
                        for (int64_t i = 0; i < w[b].n; i++) sum += w[b].audio[w[b].start + i];
                        if (sum > 32767 * (int64_t)w[b].n) fail("impossible samples");
                        continue;
                    }
                    for (int64_t i = 0; i < w[b].n; i++)
                        if (w[b].seq[w[b].start + i] >= ds->vocab_size) fail("a window token outside the vocabulary");
                }
            }
            cdz_window_sampler_free(&s);
        }
        cdz_batcher b;
        err.msg[0] = 0;
        st = cdz_batcher_init(&b, ds, split, 2, 3, 7, 0, 1, &err);
        if (st != CDZ_OK && !err.msg[0]) fail("a batcher error without a message");
        if (st == CDZ_OK) {
            uint16_t out[2 * 4];
            cdz_batcher_next(&b, out);
            for (int i = 0; i < 8; i++)
                if (out[i] >= ds->vocab_size) fail("a batch token outside the vocabulary");
            cdz_batcher_free(&b);
        }
    }
    (void)path;
}

static void check_dataset(const cdz_dataset *ds, const char *path) {
    size_t eb = cdz_dtype_element_bytes(ds->dtype, ds->width);
    if (!eb) fail("an element size of 0");
    if (ds->offsets[0] != 0 || ds->offsets[ds->n_seqs] != ds->n_tokens) fail("offsets do not cover the elements");
    uint8_t mix = 0;
    for (uint64_t i = 0; i < ds->n_seqs; i++) {
        if (ds->offsets[i + 1] < ds->offsets[i]) fail("a sequence of negative length");
        if (ds->splits[i] > CDZ_SPLIT_TEST) fail("a split that is none of train, eval, test");
        const uint8_t *p = (const uint8_t *)ds->data + ds->offsets[i] * eb;
        for (uint64_t k = 0; k < cdz_dataset_seq_len(ds, i) * eb; k++) mix ^= p[k];
    }
    if ((ds->dtype == CDZ_DTYPE_TOKENS) != (ds->tokens != NULL)) fail("tokens without the tokens type, or the reverse");
    for (uint64_t i = 0; ds->tokens && i < ds->n_tokens; i++)
        if (ds->tokens[i] >= ds->vocab_size) fail("a token outside the vocabulary");
    volatile uint8_t sink = mix;
    (void)sink;
    check_windows(ds, path);
}

static void try_open(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    cdz_dataset ds;
    cdz_error err = {0, ""};
    cdz_status st = cdz_dataset_open(&ds, path, &err);
    fuzz_check_error("cdz_dataset_open", st, &err, path);
    if (st != CDZ_OK) return;
    check_dataset(&ds, path);
    cdz_dataset_close(&ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    try_open(data, size);
    if (size < CDZ_SHARD_HEADER_SIZE) return 0;
    /* the same bytes with the checksum they should carry: FNV-1a 64 of all but bytes 48-55 */
    uint8_t *fixed = malloc(size);
    if (!fixed) return 0;
    memcpy(fixed, data, size);
    uint64_t sum = cdz_fnv1a64(cdz_fnv1a64(CDZ_FNV_OFFSET, fixed, 48), fixed + 56, size - 56);
    for (int i = 0; i < 8; i++) fixed[48 + i] = (uint8_t)(sum >> (8 * i));
    if (memcmp(fixed, data, size) != 0) try_open(fixed, size);
    free(fixed);
    return 0;
}

/* Makes the seed corpora of the safetensors, .cdz and .codes fuzz targets: small valid files written by the
 * library's own writers (checkpoints of tiny models of each kind, weights only and resumable; plain
 * safetensors files; token datasets of versions 1 and 2, audio and feature datasets), and a few made
 * wrong on purpose (a NaN weight, a truncation, a foreign dtype, an unknown kind, a config far larger
 * than its file, a broken checksum, a token outside the vocabulary). Each is a few kB at most, so the
 * corpora stay small enough to commit and quick to replay under the sanitizers.
 *   make fuzz-seeds   (runs build/fuzz/make_seeds tests/fuzz/corpus_safetensors tests/fuzz/corpus_cdz
 *                      tests/fuzz/corpus_codes)
 * Beside these named seeds, the corpora hold the inputs (named by their SHA-1) that 10-minute libFuzzer
 * runs found with new coverage, merged in with ./build/fuzz/fuzz_NAME -merge=1 CORPUS build/fuzz/work/NAME. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cadenza.h"
#include "cadenza/audio_codec.h"
#include "cadenza/model_kind.h"
#include "cadenza/safetensors.h"

static int g_failed;

static void check(cdz_status st, const cdz_error *err, const char *what) {
    if (st != CDZ_OK) {
        fprintf(stderr, "make_seeds: %s: %s\n", what, err->msg);
        g_failed = 1;
    }
}

static const char *join(const char *dir, const char *name) {
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Rewrites a file with its bytes changed by `edit` (which may shorten it through *len). */
static void rewrite(const char *path, void (*edit)(uint8_t *b, size_t *len)) {
    uint8_t *b;
    size_t len;
    cdz_error err;
    if (cdz_file_read_all(path, &b, &len, &err) != CDZ_OK) {
        check(CDZ_ERR_IO, &err, path);
        return;
    }
    edit(b, &len);
    check(cdz_file_write_atomic(path, b, len, &err), &err, path);
    cdz_free(b);
}

/* ---- checkpoints ---- */

/* A model from a config, its parameters set from seed (small, distinct values). */
static cdz_model *model(const char *config, uint64_t seed) {
    cdz_model *m = NULL;
    cdz_error err;
    check(cdz_model_from_json(&m, config, strlen(config), "seed config", &err), &err, config);
    if (m) cdz_model_init_params(m, seed);
    return m;
}

static void save(const char *path, cdz_model *m, int resumable) {
    cdz_error err;
    if (!m) return;
    if (!resumable) {
        check(cdz_checkpoint_save(path, m, NULL, NULL, 0, &err), &err, path);
        return;
    }
    /* what cdz_checkpoint_save reads of a trainer: settings, moments, step and random state */
    cdz_trainer t;
    memset(&t, 0, sizeof t);
    t.model = m;
    t.cfg = cdz_train_config_for(m);
    t.cfg.steps = 100;
    t.step = 42;
    cdz_rng_seed(&t.rng, 7);
    t.m = cdz_calloc(m->n_params, sizeof *t.m);
    t.v = cdz_calloc(m->n_params, sizeof *t.v);
    for (size_t i = 0; t.m && t.v && i < m->n_params; i++) t.m[i] = 0.001f * (float)(i % 7), t.v[i] = 1e-6f * (float)(i % 5);
    const char *extra[2] = {"note", "a fuzz seed"};
    check(cdz_checkpoint_save(path, m, &t, extra, 1, &err), &err, path);
    cdz_free(t.m);
    cdz_free(t.v);
}

static void cut_in_half(uint8_t *b, size_t *len) {
    (void)b;
    *len /= 2;
}

static void checkpoints(const char *dir) {
    static const char *const MT_RELATIVE =
        "{\"kind\":\"music_transformer\",\"config_name\":\"seed\",\"codec\":\"none\",\"vocab\":6,\"attention\":\"relative\","
        "\"layers\":1,\"d_model\":4,\"heads\":2,\"d_ff\":4,\"max_len\":8,\"max_relative\":4,\"dropout\":0,\"batch\":2,\"seq\":8}";
    static const char *const MT_ABSOLUTE =
        "{\"kind\":\"music_transformer\",\"config_name\":\"seed\",\"codec\":\"none\",\"vocab\":5,\"attention\":\"absolute\","
        "\"activation\":\"relu\",\"layers\":1,\"d_model\":2,\"heads\":1,\"d_ff\":3,\"max_len\":6,\"dropout\":0.1,\"batch\":2,"
        "\"seq\":6}";
    static const char *const RNN =
        "{\"kind\":\"melody_rnn\",\"config_name\":\"seed\",\"codec\":\"melody\",\"input\":\"embedding\",\"input_size\":2,"
        "\"layers\":1,\"hidden\":2,\"attn_length\":0,\"dropout_keep\":1,\"batch\":2,\"seq\":8}";
    static const char *const RNN_ATTENTION =
        "{\"kind\":\"melody_rnn\",\"config_name\":\"seed\",\"codec\":\"melody\",\"input\":\"embedding\",\"input_size\":1,"
        "\"layers\":2,\"hidden\":1,\"attn_length\":2,\"dropout_keep\":0.5,\"batch\":2,\"seq\":8}";
    static const char *const ACCOMPANIMENT =
        "{\"kind\":\"accompaniment\",\"config_name\":\"seed\",\"codec\":\"chorale\",\"enc_layers\":1,\"dec_layers\":1,"
        "\"d_model\":2,\"heads\":1,\"d_ff\":2,\"max_len\":4,\"max_relative\":2,\"dropout\":0,\"batch\":2,\"seq\":4}";
    struct {
        const char *file, *config;
        int resumable;
    } ck[] = {
        {"mt_relative.safetensors", MT_RELATIVE, 0},        {"mt_absolute_resumable.safetensors", MT_ABSOLUTE, 1},
        {"rnn.safetensors", RNN, 0},                         {"rnn_attention_resumable.safetensors", RNN_ATTENTION, 1},
        {"accompaniment.safetensors", ACCOMPANIMENT, 0},
    };
    for (size_t i = 0; i < sizeof ck / sizeof *ck; i++) {
        cdz_model *m = model(ck[i].config, 100 + i);
        save(join(dir, ck[i].file), m, ck[i].resumable);
        cdz_model_free(m);
    }
    /* wrong on purpose: a NaN weight, and the first checkpoint cut in half */
    cdz_model *m = model(MT_RELATIVE, 1);
    if (m) m->params[m->n_params / 2] = NAN;
    save(join(dir, "bad_nan_weight.safetensors"), m, 0);
    cdz_model_free(m);
    save(join(dir, "bad_truncated.safetensors"), (m = model(MT_RELATIVE, 2)), 0);
    cdz_model_free(m);
    rewrite(join(dir, "bad_truncated.safetensors"), cut_in_half);
    /* a config that describes 3.2e9 parameters in a file of 4 values (the loader once allocated and
     * zeroed them all, 12.6 GB, before finding the tensors missing) */
    static const float w[4] = {1, 2, 3, 4};
    const cdz_st_tensor t[1] = {{"embedding.weight", 2, {2, 2}, w}};
    const char *meta[4] = {"format", "cadenza checkpoint 1", "model",
                           "{\"kind\":\"music_transformer\",\"config_name\":\"huge\",\"codec\":\"none\",\"vocab\":6,"
                           "\"layers\":16,\"d_model\":4096,\"heads\":2,\"d_ff\":16384,\"max_len\":8}"};
    cdz_error err;
    check(cdz_safetensors_write(join(dir, "bad_huge_config.safetensors"), t, 1, meta, 2, &err), &err, "huge config");
}

/* ---- plain safetensors files ---- */
static void plain(const char *dir) {
    static const float v[24] = {0, 1, -1, 0.5f, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21};
    cdz_error err;
    const cdz_st_tensor t[4] = {
        {"scalar", 0, {0}, v},
        {"empty", 2, {0, 3}, v},
        {"four_d", 4, {1, 2, 3, 2}, v + 2},
        {"row", 1, {4}, v + 4},
    };
    const char *meta[4] = {"format", "pt", "author", "fuzz"};
    check(cdz_safetensors_write(join(dir, "plain.safetensors"), t, 4, meta, 2, &err), &err, "plain");
    check(cdz_safetensors_write(join(dir, "empty.safetensors"), NULL, 0, NULL, 0, &err), &err, "empty");
    /* headers written by hand: another dtype, and a checkpoint of a kind that does not exist */
    static const char f16[] = "{\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
    static const char unknown[] =
        "{\"__metadata__\":{\"format\":\"cadenza checkpoint 1\",\"model\":\"{\\\"kind\\\":\\\"nope\\\"}\"},"
        "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    const char *heads[2] = {f16, unknown}, *names[2] = {"bad_dtype_f16.safetensors", "bad_unknown_kind.safetensors"};
    for (int i = 0; i < 2; i++) {
        uint8_t b[512];
        size_t n = strlen(heads[i]);
        for (int k = 0; k < 8; k++) b[k] = (uint8_t)((uint64_t)n >> (8 * k));
        memcpy(b + 8, heads[i], n);
        memset(b + 8 + n, 0, 4);
        check(cdz_file_write_atomic(join(dir, names[i]), b, 8 + n + 4, &err), &err, names[i]);
    }
}

/* ---- datasets ---- */
static void put_sum(uint8_t *b, size_t len) {
    uint64_t sum = cdz_fnv1a64(cdz_fnv1a64(CDZ_FNV_OFFSET, b, 48), b + 56, len - 56);
    for (int i = 0; i < 8; i++) b[48 + i] = (uint8_t)(sum >> (8 * i));
}

static void to_version_1(uint8_t *b, size_t *len) { /* tokens only, bytes 56-63 zero */
    b[8] = 1;
    memset(b + 56, 0, 8);
    put_sum(b, *len);
}
static void flip_last_byte(uint8_t *b, size_t *len) { b[*len - 1] ^= 0x10; }
static void token_outside(uint8_t *b, size_t *len) {
    b[*len - 2] = 0xFF, b[*len - 1] = 0x7F;
    put_sum(b, *len);
}

static void token_shard(const char *path) {
    cdz_shard_writer w;
    cdz_error err;
    cdz_tokens t[3] = {{0}, {0}, {0}};
    cdz_status st = cdz_shard_writer_init(&w, "melody", 38, &err);
    for (int s = 0; st == CDZ_OK && s < 9; s++) {
        uint16_t seq[12];
        size_t n = (size_t)(1 + s);
        for (size_t i = 0; i < n; i++) seq[i] = (uint16_t)((i * 5 + (size_t)s) % 38);
        if (cdz_tokens_append(&t[s % 3], seq, n)) st = cdz_error_set(&err, CDZ_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < 3 && st == CDZ_OK; k++) st = cdz_shard_writer_add(&w, &t[k], (cdz_split)(CDZ_SPLIT_TRAIN + k), &err);
    if (st == CDZ_OK) st = cdz_shard_writer_finish(&w, path, &err);
    check(st, &err, path);
    cdz_shard_writer_free(&w);
    for (int k = 0; k < 3; k++) cdz_tokens_free(&t[k]);
}

static void element_shard(const char *path, cdz_dtype dtype, uint32_t width) {
    cdz_shard_writer w;
    cdz_error err;
    cdz_status st = cdz_shard_writer_init_typed(&w, dtype == CDZ_DTYPE_AUDIO ? "audio" : "features", dtype, width, &err);
    size_t eb = cdz_dtype_element_bytes(dtype, width);
    for (int s = 0; st == CDZ_OK && s < 4; s++) {
        uint8_t e[64];
        size_t n = (size_t)(s + 1);
        for (size_t i = 0; i < n * eb && i < sizeof e; i++) e[i] = (uint8_t)(i * 37 + (size_t)s);
        if (dtype == CDZ_DTYPE_FEATURES)
            for (size_t i = 0; i < n * width; i++) {
                float f = 0.25f * (float)i - 1;
                memcpy(e + 4 * i, &f, 4);
            }
        st = cdz_shard_writer_add_elements(&w, e, n, (cdz_split)(CDZ_SPLIT_TRAIN + s % 3), &err);
    }
    if (st == CDZ_OK) st = cdz_shard_writer_finish(&w, path, &err);
    check(st, &err, path);
    cdz_shard_writer_free(&w);
}

static void datasets(const char *dir) {
    token_shard(join(dir, "tokens_v2.cdz"));
    token_shard(join(dir, "tokens_v1.cdz"));
    rewrite(join(dir, "tokens_v1.cdz"), to_version_1);
    element_shard(join(dir, "audio.cdz"), CDZ_DTYPE_AUDIO, 8000);
    element_shard(join(dir, "features.cdz"), CDZ_DTYPE_FEATURES, 3);
    cdz_shard_writer w;
    cdz_error err;
    check(cdz_shard_writer_init(&w, "melody", 38, &err), &err, "empty");
    check(cdz_shard_writer_finish(&w, join(dir, "empty.cdz"), &err), &err, "empty.cdz");
    cdz_shard_writer_free(&w);
    token_shard(join(dir, "bad_checksum.cdz"));
    rewrite(join(dir, "bad_checksum.cdz"), flip_last_byte);
    token_shard(join(dir, "bad_truncated.cdz"));
    rewrite(join(dir, "bad_truncated.cdz"), cut_in_half);
    token_shard(join(dir, "bad_token.cdz"));
    rewrite(join(dir, "bad_token.cdz"), token_outside);
}

/* ---- .codes files ---- */

static void codes_file(const char *path, int books, int codebook, uint64_t frames, uint64_t samples) {
    uint16_t c[64];
    for (uint64_t i = 0; i < frames * (uint64_t)books && i < 64; i++) c[i] = (uint16_t)((i * 7919) % (uint64_t)codebook);
    cdz_codes k = {{24000, 320, books, codebook}, frames, samples, c};
    cdz_error err;
    check(cdz_codes_write(path, &k, &err), &err, path);
}

static void code_past_book(uint8_t *b, size_t *len) { /* the first code set to the codebook's size (16): the checksum breaks too */
    if (*len > 64) b[64] = 16, b[65] = 0;
}

static void codes(const char *dir) {
    codes_file(join(dir, "8x1024.codes"), 8, 1024, 6, 1900);
    codes_file(join(dir, "2x16.codes"), 2, 16, 20, 6400);
    codes_file(join(dir, "1x65536.codes"), 1, 65536, 3, 960);
    codes_file(join(dir, "empty.codes"), 4, 1024, 0, 0);
    codes_file(join(dir, "bad_truncated.codes"), 8, 1024, 6, 1900);
    rewrite(join(dir, "bad_truncated.codes"), cut_in_half);
    codes_file(join(dir, "bad_checksum.codes"), 2, 16, 20, 6400);
    rewrite(join(dir, "bad_checksum.codes"), flip_last_byte);
    codes_file(join(dir, "bad_code.codes"), 2, 16, 20, 6400);
    rewrite(join(dir, "bad_code.codes"), code_past_book);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: make_seeds SAFETENSORS_DIR CDZ_DIR CODES_DIR\n");
        return 2;
    }
    checkpoints(argv[1]);
    plain(argv[1]);
    datasets(argv[2]);
    codes(argv[3]);
    return g_failed;
}

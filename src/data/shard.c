/* The .cdz shard: writing (in memory, then atomically to disk) and reading (into memory, fully verified
 * before use). Layout in docs/formats.md and include/cadenza/data.h. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cadenza/data.h"

const char *cdz_split_name(cdz_split s) {
    switch (s) {
    case CDZ_SPLIT_TRAIN: return "train";
    case CDZ_SPLIT_EVAL: return "eval";
    case CDZ_SPLIT_TEST: return "test";
    default: return "all";
    }
}

const char *cdz_dtype_name(cdz_dtype t) {
    return t == CDZ_DTYPE_TOKENS ? "tokens" : t == CDZ_DTYPE_AUDIO ? "audio" : t == CDZ_DTYPE_FEATURES ? "features" : "unknown";
}

size_t cdz_dtype_element_bytes(cdz_dtype t, uint32_t width) {
    switch (t) {
    case CDZ_DTYPE_TOKENS: return 2;
    case CDZ_DTYPE_AUDIO: return 2;
    case CDZ_DTYPE_FEATURES: return width > 0 && width <= (1u << 20) ? 4 * (size_t)width : 0;
    }
    return 0;
}

uint64_t cdz_dataset_seq_len(const cdz_dataset *ds, uint64_t i) { return ds->offsets[i + 1] - ds->offsets[i]; }

static int little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void put_le(uint8_t *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_le(const uint8_t *p, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static size_t pad8(size_t n) { return (n + 7) & ~(size_t)7; }

/* FNV-1a 64 of the whole file except the checksum field (bytes 48-55). */
static uint64_t shard_checksum(const uint8_t *p, size_t len) {
    return cdz_fnv1a64(cdz_fnv1a64(CDZ_FNV_OFFSET, p, 48), p + 56, len - 56);
}

cdz_status cdz_shard_writer_init(cdz_shard_writer *w, const char *codec, uint32_t vocab_size, cdz_error *err) {
    memset(w, 0, sizeof *w);
    if (!codec || !*codec || strlen(codec) >= sizeof w->codec)
        return cdz_error_set(err, CDZ_ERR_ARG, "codec name must have 1-15 characters");
    if (vocab_size == 0 || vocab_size > 65536) return cdz_error_set(err, CDZ_ERR_ARG, "vocabulary size %u: expected 1-65536", vocab_size);
    snprintf(w->codec, sizeof w->codec, "%s", codec);
    w->vocab_size = vocab_size;
    w->dtype = CDZ_DTYPE_TOKENS;
    return CDZ_OK;
}

cdz_status cdz_shard_writer_init_typed(cdz_shard_writer *w, const char *codec, cdz_dtype dtype, uint32_t width,
                                       cdz_error *err) {
    memset(w, 0, sizeof *w);
    if (dtype == CDZ_DTYPE_TOKENS) return cdz_error_set(err, CDZ_ERR_ARG, "token shards: cdz_shard_writer_init");
    if (!cdz_dtype_element_bytes(dtype, width) || width == 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "data type %d with width %u: expected audio (a sample rate) or features "
                             "(1 to %u values a frame)", (int)dtype, width, 1u << 20);
    if (!codec || !*codec || strlen(codec) >= sizeof w->codec)
        return cdz_error_set(err, CDZ_ERR_ARG, "codec name must have 1-15 characters");
    snprintf(w->codec, sizeof w->codec, "%s", codec);
    w->dtype = dtype, w->width = width;
    return CDZ_OK;
}

cdz_status cdz_shard_writer_add_elements(cdz_shard_writer *w, const void *elements, size_t n, cdz_split split,
                                         cdz_error *err) {
    if (w->dtype == CDZ_DTYPE_TOKENS) return cdz_error_set(err, CDZ_ERR_ARG, "token shards take cdz_tokens (cdz_shard_writer_add)");
    if (split > CDZ_SPLIT_TEST) return cdz_error_set(err, CDZ_ERR_ARG, "split %d", (int)split);
    size_t eb = cdz_dtype_element_bytes(w->dtype, w->width), bytes, need;
    if (!cdz_mul_ok(n, eb, &bytes) || !cdz_mul_ok(w->n_elems, eb, &need) || !cdz_add_ok(need, bytes, &need))
        return cdz_error_set(err, CDZ_ERR_NOMEM, "a shard of that many elements is too large");
    if (cdz_grow((void **)&w->data, &w->cap_bytes, need, 1) ||
        cdz_grow((void **)&w->offsets, &w->cap_offsets, w->n_data_seqs + 2, sizeof *w->offsets) ||
        cdz_grow((void **)&w->splits, &w->cap_splits, w->n_data_seqs + 1, 1))
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory adding a sequence to a shard");
    if (bytes) memcpy(w->data + need - bytes, elements, bytes);
    w->offsets[0] = 0;
    w->n_elems += n;
    w->offsets[w->n_data_seqs + 1] = w->n_elems;
    w->splits[w->n_data_seqs++] = (uint8_t)split;
    return CDZ_OK;
}

cdz_status cdz_shard_writer_add(cdz_shard_writer *w, const cdz_tokens *t, cdz_split split, cdz_error *err) {
    if (split > CDZ_SPLIT_TEST) return cdz_error_set(err, CDZ_ERR_ARG, "split %d", (int)split);
    for (size_t s = 0; s < t->n_seqs; s++) {
        const uint16_t *seq = t->tokens + t->offsets[s];
        size_t n = t->offsets[s + 1] - t->offsets[s];
        for (size_t i = 0; i < n; i++)
            if (seq[i] >= w->vocab_size)
                return cdz_error_set(err, CDZ_ERR_RANGE, "token %u outside the %s vocabulary (%u)", seq[i], w->codec, w->vocab_size);
        if (cdz_grow((void **)&w->splits, &w->cap_splits, w->seqs.n_seqs + 1, 1) || cdz_tokens_append(&w->seqs, seq, n))
            return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory adding sequences to a shard");
        w->splits[w->seqs.n_seqs - 1] = (uint8_t)split;
    }
    return CDZ_OK;
}

cdz_status cdz_shard_writer_finish(cdz_shard_writer *w, const char *path, cdz_error *err) {
    if (!little_endian()) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: shards are written on little-endian machines only", path);
    const int tokens = w->dtype == CDZ_DTYPE_TOKENS;
    size_t n = tokens ? w->seqs.n_seqs : w->n_data_seqs, nt = tokens ? w->seqs.n_tokens : w->n_elems;
    const size_t *offsets = tokens ? w->seqs.offsets : w->offsets;
    size_t off_bytes = 8 * (n + 1), split_bytes = pad8(n), data_bytes = cdz_dtype_element_bytes(w->dtype, w->width) * nt;
    size_t total = CDZ_SHARD_HEADER_SIZE + off_bytes + split_bytes + data_bytes;
    uint8_t *buf = cdz_calloc(total, 1);
    if (!buf) return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, total);
    uint8_t *body = buf + CDZ_SHARD_HEADER_SIZE;
    for (size_t i = 0; i <= n; i++) put_le(body + 8 * i, n ? offsets[i] : 0, 8);
    if (n) memcpy(body + off_bytes, w->splits, n);
    if (nt) memcpy(body + off_bytes + split_bytes, tokens ? (const void *)w->seqs.tokens : (const void *)w->data, data_bytes);
    memcpy(buf, CDZ_SHARD_MAGIC, 8);
    put_le(buf + 8, CDZ_SHARD_VERSION, 4);
    put_le(buf + 12, w->vocab_size, 4);
    memcpy(buf + 16, w->codec, strlen(w->codec));
    put_le(buf + 32, n, 8);
    put_le(buf + 40, nt, 8);
    put_le(buf + 56, (uint64_t)w->dtype, 2);
    put_le(buf + 60, w->width, 4);
    put_le(buf + 48, shard_checksum(buf, total), 8);
    cdz_status st = cdz_file_write_atomic(path, buf, total, err);
    cdz_free(buf);
    return st;
}

void cdz_shard_writer_free(cdz_shard_writer *w) {
    cdz_tokens_free(&w->seqs);
    cdz_free(w->splits);
    cdz_free(w->data);
    cdz_free(w->offsets);
    memset(w, 0, sizeof *w);
}

/* Checks everything a reader relies on; returns an error naming what is wrong. */
static cdz_status verify(cdz_dataset *ds, const uint8_t *p, size_t len, const char *path, cdz_error *err) {
    if (len < CDZ_SHARD_HEADER_SIZE || memcmp(p, CDZ_SHARD_MAGIC, 8) != 0)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: not a cadenza dataset (no CDZSHARD header)", path);
    uint32_t version = (uint32_t)get_le(p + 8, 4);
    if (version < 1 || version > CDZ_SHARD_VERSION)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED,
                             "%s: dataset version %u; this cadenza reads versions 1 to %u (rebuild it with 'cadenza dataset "
                             "build', or use the cadenza that wrote it)",
                             path, version, CDZ_SHARD_VERSION);
    ds->version = version;
    ds->vocab_size = (uint32_t)get_le(p + 12, 4);
    memcpy(ds->codec, p + 16, 15);
    ds->codec[15] = 0;
    ds->n_seqs = get_le(p + 32, 8);
    ds->n_tokens = get_le(p + 40, 8);
    /* version 1 held tokens only, its bytes 56-63 reserved as zeros; version 2 names the type there */
    uint64_t dtype = version == 1 ? CDZ_DTYPE_TOKENS : get_le(p + 56, 2);
    ds->width = version == 1 ? 0 : (uint32_t)get_le(p + 60, 4);
    if ((version == 1 && get_le(p + 56, 8) != 0) || (version > 1 && get_le(p + 58, 2) != 0))
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: reserved header bytes are not zero", path);
    ds->dtype = (cdz_dtype)dtype;
    size_t elem = dtype <= CDZ_DTYPE_FEATURES ? cdz_dtype_element_bytes(ds->dtype, ds->width) : 0;
    if (!elem || (dtype == CDZ_DTYPE_TOKENS && ds->width != 0) || (dtype == CDZ_DTYPE_AUDIO && ds->width == 0))
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: unknown data type %llu (width %u)", path, (unsigned long long)dtype,
                             ds->width);
    if (dtype == CDZ_DTYPE_TOKENS ? ds->vocab_size == 0 || ds->vocab_size > 65536 : ds->vocab_size != 0)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: vocabulary size %u for %s", path, ds->vocab_size,
                             cdz_dtype_name(ds->dtype));
    size_t off_bytes, tok_bytes, total;
    if (ds->n_seqs >= SIZE_MAX / 16 || ds->n_tokens >= SIZE_MAX / 4 || !cdz_mul_ok((size_t)ds->n_seqs + 1, 8, &off_bytes) ||
        !cdz_mul_ok((size_t)ds->n_tokens, elem, &tok_bytes) ||
        !cdz_add_ok(CDZ_SHARD_HEADER_SIZE + off_bytes, pad8((size_t)ds->n_seqs), &total) || !cdz_add_ok(total, tok_bytes, &total))
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: impossible counts (%llu sequences, %llu tokens)", path,
                             (unsigned long long)ds->n_seqs, (unsigned long long)ds->n_tokens);
    if (total != len)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: %zu bytes, but its header describes %zu (truncated or extended)", path, len, total);
    uint64_t sum = get_le(p + 48, 8);
    if (shard_checksum(p, len) != sum)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: checksum mismatch (the file was altered or damaged)", path);
    ds->offsets = (const uint64_t *)(const void *)(p + CDZ_SHARD_HEADER_SIZE);
    ds->splits = p + CDZ_SHARD_HEADER_SIZE + off_bytes;
    ds->data = p + CDZ_SHARD_HEADER_SIZE + off_bytes + pad8((size_t)ds->n_seqs);
    ds->tokens = ds->dtype == CDZ_DTYPE_TOKENS ? (const uint16_t *)ds->data : NULL;
    if (ds->offsets[0] != 0 || ds->offsets[ds->n_seqs] != ds->n_tokens)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: sequence offsets do not cover the tokens", path);
    for (uint64_t i = 0; i < ds->n_seqs; i++) {
        if (ds->offsets[i + 1] < ds->offsets[i])
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: sequence %llu has a negative length", path, (unsigned long long)i);
        if (ds->splits[i] > CDZ_SPLIT_TEST)
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: sequence %llu has split %u", path, (unsigned long long)i, ds->splits[i]);
    }
    for (uint64_t i = 0; ds->tokens && i < ds->n_tokens; i++)
        if (ds->tokens[i] >= ds->vocab_size)
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: token %llu is %u, outside the vocabulary of %u", path,
                                 (unsigned long long)i, ds->tokens[i], ds->vocab_size);
    return CDZ_OK;
}

/* The file is read into memory rather than mapped: a mapping of a file that someone truncates while a
 * run reads it ends the process with SIGBUS, and the datasets cadenza trains on fit in memory. */
cdz_status cdz_dataset_open(cdz_dataset *ds, const char *path, cdz_error *err) {
    memset(ds, 0, sizeof *ds);
    if (!little_endian()) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: datasets are read on little-endian machines only", path);
    struct stat sb;
    if (stat(path, &sb) != 0) return cdz_error_set(err, CDZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return cdz_error_set(err, CDZ_ERR_IO, "%s: not a regular file", path);
    uint8_t *bytes = NULL;
    size_t len = 0;
    cdz_status st = cdz_file_read_all(path, &bytes, &len, err);
    if (st != CDZ_OK) return st;
    ds->map = bytes;
    ds->map_len = len;
    if (len < CDZ_SHARD_HEADER_SIZE)
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: %zu bytes, too short for a cadenza dataset", path, len);
    else
        st = verify(ds, bytes, len, path, err);
    if (st != CDZ_OK) cdz_dataset_close(ds);
    return st;
}

void cdz_dataset_close(cdz_dataset *ds) {
    cdz_free(ds->map);
    memset(ds, 0, sizeof *ds);
}

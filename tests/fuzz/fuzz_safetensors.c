/* libFuzzer target for the safetensors reader and the checkpoint loader built on it. For any bytes:
 * - cdz_safetensors_read returns OK or an error whose message names the file; a file that reads is
 *   whole: every tensor's data is there for its shape (the sanitizers check each byte is readable),
 *   cdz_safetensors_find finds each tensor by its name, metadata keys and values are strings;
 * - cdz_checkpoint_load builds a model only from a cadenza checkpoint whose config is valid and which
 *   holds every tensor of that model at its shape, finite, and nothing else;
 * - cdz_checkpoint_train_config, cdz_checkpoint_load_trainer (into a trainer for the loaded model, set
 *   up with the checkpoint's own settings) and cdz_checkpoint_meta likewise read or fail with a message;
 * - nothing crashes, hangs or leaks (the sanitizers check).
 * The reader takes a path, so each input goes through a temporary file (fuzz_file.h). An input whose
 * header length disagrees with its JSON is tried a second time with the length fixed.
 * Build and run: make fuzz FUZZ_TARGET=safetensors. Without libFuzzer, replay_main.c gives it a main. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cadenza/model_kind.h"
#include "cadenza/safetensors.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what) {
    fprintf(stderr, "safetensors oracle: %s\n", what);
    abort();
}

static void check_file(const cdz_safetensors *f) {
    uint32_t mix = 0;
    for (size_t i = 0; i < f->n; i++) {
        const cdz_st_tensor *t = &f->tensors[i];
        /* (a name may be empty: the format allows any string) */
        if (!t->name || t->ndim < 0 || t->ndim > CDZ_ST_MAX_DIMS) fail("a tensor without a name or with bad dimensions");
        if (cdz_safetensors_find(f, t->name) != t) fail("find does not give the tensor by its name");
        int64_t n = cdz_st_numel(t);
        if (n < 0 || (n > 0 && !t->data)) fail("a tensor without its data");
        if ((uintptr_t)t->data % sizeof(float)) fail("tensor data not aligned for floats");
        for (int64_t k = 0; k < n; k++) { /* every element readable: ASan checks the bounds */
            uint32_t u;
            memcpy(&u, &t->data[k], sizeof u);
            mix ^= u;
        }
    }
    for (size_t k = 0; k < f->n_meta; k++) {
        const char *key = f->meta[2 * k], *value = f->meta[2 * k + 1];
        if (!key || !value) fail("a metadata pair without a key or a value");
        if (cdz_safetensors_meta(f, key) != value) fail("meta does not give the value of its key");
        mix ^= (uint32_t)strlen(key) ^ (uint32_t)strlen(value);
    }
    volatile uint32_t sink = mix;
    (void)sink;
}

static void check_finite(const float *x, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) fail(what);
}

static void check_input(const uint8_t *data, size_t size) {
    const char *path = fuzz_file(data, size);
    cdz_error err = {0, ""};
    cdz_safetensors f;
    cdz_status st = cdz_safetensors_read(&f, path, &err);
    fuzz_check_error("cdz_safetensors_read", st, &err, path);
    if (st != CDZ_OK) {
        cdz_safetensors_free(&f); /* harmless on a failed read */
        return;
    }
    check_file(&f);
    cdz_safetensors_free(&f);

    cdz_model *m = NULL;
    err.msg[0] = 0;
    st = cdz_checkpoint_load(path, &m, &err);
    fuzz_check_error("cdz_checkpoint_load", st, &err, path);
    if ((st == CDZ_OK) != (m != NULL)) fail("a model without success, or success without a model");
    if (m) check_finite(m->params, m->n_params, "a loaded parameter is not finite");

    cdz_train_config c;
    err.msg[0] = 0;
    st = cdz_checkpoint_train_config(path, &c, &err);
    fuzz_check_error("cdz_checkpoint_train_config", st, &err, path);
    if (st == CDZ_OK && m) {
        /* what cdz_checkpoint_load_trainer reads of a trainer: its model, settings and moment buffers */
        cdz_trainer t;
        memset(&t, 0, sizeof t);
        t.model = m;
        t.cfg = c;
        t.m = cdz_calloc(m->n_params, sizeof *t.m);
        t.v = cdz_calloc(m->n_params, sizeof *t.v);
        if (t.m && t.v) {
            err.msg[0] = 0;
            st = cdz_checkpoint_load_trainer(path, &t, &err);
            fuzz_check_error("cdz_checkpoint_load_trainer", st, &err, path);
            if (st == CDZ_OK) {
                if (t.step < 0) fail("a negative step");
                check_finite(t.m, m->n_params, "a loaded first moment is not finite");
                check_finite(t.v, m->n_params, "a loaded second moment is not finite");
            }
        }
        cdz_free(t.m);
        cdz_free(t.v);
    }
    cdz_model_free(m);

    err.msg[0] = 0;
    char *meta = cdz_checkpoint_meta(path, "model", &err);
    cdz_free(meta);
}

/* Where the JSON object after the 8-byte length ends, with the spaces after it (the writer's padding):
 * the header length the bytes should declare. 0 when no balanced object starts there. */
static size_t header_end(const uint8_t *d, size_t n) {
    size_t i = 8;
    int depth = 0, in_string = 0, escaped = 0;
    if (n <= i || d[i] != '{') return 0;
    for (; i < n; i++) {
        uint8_t c = d[i];
        if (in_string) {
            if (escaped) escaped = 0;
            else if (c == '\\') escaped = 1;
            else if (c == '"') in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth == 0) {
            for (i++; i < n && d[i] == ' ';) i++;
            return i - 8;
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check_input(data, size);
    /* A mutation that lengthens or shortens the JSON header leaves its declared length wrong, and the
     * reader stops at that: the same bytes are tried again with the length they should declare, so the
     * checks behind it are reached. */
    size_t end = header_end(data, size);
    uint64_t declared = 0;
    for (int i = 7; size >= 8 && i >= 0; i--) declared = declared << 8 | data[i];
    if (end && end != declared) {
        uint8_t *fixed = malloc(size);
        if (!fixed) return 0;
        memcpy(fixed, data, size);
        for (int i = 0; i < 8; i++) fixed[i] = (uint8_t)((uint64_t)end >> (8 * i));
        check_input(fixed, size);
        free(fixed);
    }
    return 0;
}

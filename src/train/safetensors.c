/* Checkpoints in the Hugging Face safetensors format: an fp32 writer that replaces files atomically and
 * a reader that validates every field of untrusted files before using them (see safetensors.h for what
 * is accepted and refused, and docs/checkpoints.md for the layout). */
#include "cadenza/safetensors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cadenza/json.h"

static const char METADATA_KEY[] = "__metadata__";

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static int cmp_str_ptr(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Sorts v[0..n) and returns a name that occurs twice, or NULL: O(n log n), since hostile files may hold
 * millions of names. */
static const char *sorted_duplicate(const char **v, size_t n) {
    if (n < 2) return NULL;
    qsort(v, n, sizeof *v, cmp_str_ptr);
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i - 1], v[i]) == 0) return v[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------------------
 * Writing */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static char *sb_reserve(sbuf *b, size_t extra) {
    size_t need;
    if (b->oom) return NULL;
    if (!cdz_add_ok(b->n, extra, &need) || cdz_grow((void **)&b->p, &b->cap, need, 1)) {
        b->oom = 1;
        return NULL;
    }
    return b->p + b->n;
}
static void sb_bytes(sbuf *b, const void *s, size_t k) {
    char *at = sb_reserve(b, k);
    if (!at) return;
    memcpy(at, s, k);
    b->n += k;
}
static void sb_text(sbuf *b, const char *s) { sb_bytes(b, s, strlen(s)); }
static void sb_quoted(sbuf *b, const char *s) {
    size_t k = cdz_json_quote(NULL, 0, s);
    char *at = sb_reserve(b, k + 1);
    if (!at) return;
    cdz_json_quote(at, k + 1, s);
    b->n += k;
}
static void sb_u64(sbuf *b, uint64_t v) {
    char t[24];
    int k = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
    sb_bytes(b, t, (size_t)k);
}

static int valid_text(const char *s) { return s && cdz_json_utf8_valid(s, strlen(s)); }

/* Checks the caller's arguments and sums the data bytes. */
static cdz_status check_write_args(const char *path, const cdz_st_tensor *tensors, size_t n, const char *const *meta,
                                   size_t n_meta, size_t *data_bytes, cdz_error *err) {
    if (n && !tensors) return cdz_error_set(err, CDZ_ERR_ARG, "%s: %zu tensors but no array", path, n);
    if (n_meta && !meta) return cdz_error_set(err, CDZ_ERR_ARG, "%s: %zu metadata pairs but no array", path, n_meta);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const cdz_st_tensor *t = &tensors[i];
        if (!t->name || !t->name[0])
            return cdz_error_set(err, CDZ_ERR_ARG, "%s: tensor %zu has no name", path, i);
        if (!valid_text(t->name))
            return cdz_error_set(err, CDZ_ERR_ARG, "%s: tensor %zu: name is not valid UTF-8", path, i);
        if (strcmp(t->name, METADATA_KEY) == 0)
            return cdz_error_set(err, CDZ_ERR_ARG, "%s: \"%s\" is reserved and cannot name a tensor", path, METADATA_KEY);
        if (t->ndim < 0 || t->ndim > CDZ_ST_MAX_DIMS)
            return cdz_error_set(err, CDZ_ERR_ARG, "%s: tensor '%s' has %d dimensions (0 to %d allowed)", path, t->name,
                                 t->ndim, CDZ_ST_MAX_DIMS);
        size_t bytes = sizeof(float);
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] < 0)
                return cdz_error_set(err, CDZ_ERR_ARG, "%s: tensor '%s': shape[%d] is %lld", path, t->name, d,
                                     (long long)t->shape[d]);
            if ((uint64_t)t->shape[d] > SIZE_MAX || !cdz_mul_ok(bytes, (size_t)t->shape[d], &bytes))
                return cdz_error_set(err, CDZ_ERR_ARG, "%s: tensor '%s' is too large", path, t->name);
        }
        if (bytes && !t->data) return cdz_error_set(err, CDZ_ERR_ARG, "%s: tensor '%s' has no data", path, t->name);
        if (!cdz_add_ok(total, bytes, &total)) return cdz_error_set(err, CDZ_ERR_ARG, "%s: tensors too large", path);
    }
    for (size_t i = 0; i < n_meta; i++) {
        const char *k = meta[2 * i], *v = meta[2 * i + 1];
        if (!k || !v) return cdz_error_set(err, CDZ_ERR_ARG, "%s: metadata pair %zu has a NULL key or value", path, i);
        if (!valid_text(k) || !valid_text(v))
            return cdz_error_set(err, CDZ_ERR_ARG, "%s: metadata '%s' is not valid UTF-8", path, k);
    }
    /* Duplicates, in sorted copies of the names. */
    size_t most = n > n_meta ? n : n_meta;
    const char **names = most ? cdz_calloc(most, sizeof *names) : NULL;
    if (most && !names) return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) names[i] = tensors[i].name;
    const char *dup = sorted_duplicate(names, n);
    if (dup) {
        cdz_status st = cdz_error_set(err, CDZ_ERR_ARG, "%s: two tensors are called '%s'", path, dup);
        cdz_free(names);
        return st;
    }
    for (size_t i = 0; i < n_meta; i++) names[i] = meta[2 * i];
    dup = sorted_duplicate(names, n_meta);
    cdz_status st = dup ? cdz_error_set(err, CDZ_ERR_ARG, "%s: metadata key '%s' given twice", path, dup) : CDZ_OK;
    cdz_free(names);
    if (st) return st;
    *data_bytes = total;
    return CDZ_OK;
}

cdz_status cdz_safetensors_write(const char *path, const cdz_st_tensor *tensors, size_t n, const char *const *meta,
                                 size_t n_meta, cdz_error *err) {
    if (!path) return cdz_error_set(err, CDZ_ERR_ARG, "safetensors: no path");
    size_t data_bytes = 0;
    cdz_status st = check_write_args(path, tensors, n, meta, n_meta, &data_bytes, err);
    if (st) return st;

    sbuf b = {0};
    sb_bytes(&b, "\0\0\0\0\0\0\0\0", 8); /* the header length, filled in below */
    sb_text(&b, "{");
    if (n_meta) {
        sb_quoted(&b, METADATA_KEY);
        sb_text(&b, ":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i) sb_text(&b, ",");
            sb_quoted(&b, meta[2 * i]);
            sb_text(&b, ":");
            sb_quoted(&b, meta[2 * i + 1]);
        }
        sb_text(&b, "}");
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < n; i++) {
        const cdz_st_tensor *t = &tensors[i];
        if (i || n_meta) sb_text(&b, ",");
        sb_quoted(&b, t->name);
        sb_text(&b, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            if (d) sb_text(&b, ",");
            sb_u64(&b, (uint64_t)t->shape[d]);
        }
        sb_text(&b, "],\"data_offsets\":[");
        sb_u64(&b, offset);
        sb_text(&b, ",");
        offset += (uint64_t)cdz_st_numel(t) * sizeof(float); /* no overflow: checked above */
        sb_u64(&b, offset);
        sb_text(&b, "]}");
    }
    sb_text(&b, "}");
    /* Spaces after the JSON (which the format allows) make the data start 8-byte aligned. */
    while (!b.oom && b.n % 8) sb_text(&b, " ");
    uint64_t header_len = b.n - 8;
    unsigned char *data = (unsigned char *)sb_reserve(&b, data_bytes);
    if (!data) {
        cdz_free(b.p);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory building %zu bytes of tensors", path, data_bytes);
    }
    for (int i = 0; i < 8; i++) b.p[i] = (char)(header_len >> (8 * i));
    for (size_t i = 0; i < n; i++) {
        size_t count = (size_t)cdz_st_numel(&tensors[i]);
        const float *src = tensors[i].data;
        for (size_t k = 0; k < count; k++) {
            uint32_t u;
            memcpy(&u, &src[k], 4); /* the bits, NaN payloads and all */
            data[0] = (unsigned char)u;
            data[1] = (unsigned char)(u >> 8);
            data[2] = (unsigned char)(u >> 16);
            data[3] = (unsigned char)(u >> 24);
            data += 4;
        }
    }
    b.n += data_bytes;
    st = cdz_file_write_atomic(path, b.p, b.n, err);
    cdz_free(b.p);
    return st;
}

/* ---------------------------------------------------------------------------------------------------
 * Reading */

typedef struct entry {
    const char *name;
    int ndim;
    int64_t shape[CDZ_ST_MAX_DIMS];
    uint64_t begin, end;
} entry;

#define ENTRY_BEFORE(x, y) ((x)->begin < (y)->begin || ((x)->begin == (y)->begin && (x)->end < (y)->end))
CDZ_DEFINE_SORT(sort_by_offset, entry, ENTRY_BEFORE)

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* A JSON number that is a whole number in [0, limit]. */
static int whole_number(const cdz_json *v, double limit, uint64_t *out) {
    if (!v || v->type != CDZ_JSON_NUMBER || !(v->number >= 0) || v->number > limit || v->number != floor(v->number))
        return 0;
    *out = (uint64_t)v->number;
    return 1;
}

/* Checks one tensor entry and fills e (begin, end, shape) from it. */
static cdz_status read_entry(const char *path, const char *name, const cdz_json *info, entry *e, cdz_error *err) {
    e->name = name;
    if (info->type != CDZ_JSON_OBJECT)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, name);
    const cdz_json *dtype = cdz_json_get(info, "dtype"), *shape = cdz_json_get(info, "shape"),
                   *offsets = cdz_json_get(info, "data_offsets");
    if (!dtype || !shape || !offsets)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensor '%s': no \"%s\"", path, name,
                             !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    if (dtype->type != CDZ_JSON_STRING)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensor '%s': \"dtype\" is not a string", path, name);
    if (strcmp(dtype->string, "F32") != 0)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s; cadenza reads only F32", path,
                             name, dtype->string);
    if (shape->type != CDZ_JSON_ARRAY)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensor '%s': \"shape\" is not an array", path, name);
    if (shape->n > CDZ_ST_MAX_DIMS)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: tensor '%s' has %zu dimensions; cadenza reads at most %d",
                             path, name, shape->n, CDZ_ST_MAX_DIMS);
    e->ndim = (int)shape->n;
    uint64_t numel = 1;
    int overflow = 0, has_zero = 0;
    for (size_t d = 0; d < shape->n; d++) {
        uint64_t dim;
        if (!whole_number(&shape->items[d], 9223372036854775807.0, &dim) || dim > (uint64_t)INT64_MAX)
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensor '%s': shape[%zu] is not a non-negative integer", path,
                                 name, d);
        e->shape[d] = (int64_t)dim;
        if (dim && numel > UINT64_MAX / dim) overflow = 1;
        numel *= dim; /* wraps after an overflow; then unused */
        has_zero |= dim == 0;
    }
    if (numel > UINT64_MAX / sizeof(float)) overflow = 1;
    if (has_zero) numel = 0, overflow = 0; /* [0, 2^40, 2^40] is empty, not too large */
    uint64_t begin, end;
    if (offsets->type != CDZ_JSON_ARRAY || offsets->n != 2 || !whole_number(&offsets->items[0], 1.8e19, &begin) ||
        !whole_number(&offsets->items[1], 1.8e19, &end) || end < begin)
        return cdz_error_set(err, CDZ_ERR_FORMAT,
                             "%s: tensor '%s': \"data_offsets\" must be [begin, end], integers with 0 <= begin <= end",
                             path, name);
    if (overflow)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensor '%s': the shape's byte size overflows 64 bits", path, name);
    if (numel * sizeof(float) != end - begin)
        return cdz_error_set(err, CDZ_ERR_FORMAT,
                             "%s: tensor '%s': the shape holds %llu F32 values (%llu bytes) but data_offsets [%llu, "
                             "%llu] span %llu bytes",
                             path, name, (unsigned long long)numel, (unsigned long long)(numel * sizeof(float)),
                             (unsigned long long)begin, (unsigned long long)end, (unsigned long long)(end - begin));
    e->begin = begin;
    e->end = end;
    return CDZ_OK;
}

/* The tensors must tile [0, data_len) exactly: sorted by offset, each begins where the last ended. */
static cdz_status check_tiling(const char *path, const entry *e, size_t n, size_t data_len, cdz_error *err) {
    uint64_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].begin > at) {
            if (i == 0)
                return cdz_error_set(err, CDZ_ERR_FORMAT,
                                     "%s: bytes 0 to %llu of the data section belong to no tensor (the first, '%s', "
                                     "begins at %llu); the format forbids holes",
                                     path, (unsigned long long)e[i].begin, e[i].name, (unsigned long long)e[i].begin);
            return cdz_error_set(err, CDZ_ERR_FORMAT,
                                 "%s: a hole of %llu bytes between tensors '%s' (ends at %llu) and '%s' (begins at %llu); "
                                 "the format forbids holes",
                                 path, (unsigned long long)(e[i].begin - at), e[i - 1].name, (unsigned long long)at,
                                 e[i].name, (unsigned long long)e[i].begin);
        }
        if (e[i].begin < at)
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", path,
                                 e[i - 1].name, (unsigned long long)e[i - 1].begin, (unsigned long long)e[i - 1].end,
                                 e[i].name, (unsigned long long)e[i].begin, (unsigned long long)e[i].end);
        at = e[i].end;
    }
    if (at > data_len)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: truncated: the header says %llu bytes of tensor data, the file has %zu",
                             path, (unsigned long long)at, data_len);
    if (at < data_len)
        return cdz_error_set(err, CDZ_ERR_FORMAT,
                             "%s: %zu bytes of data after the tensors (the header accounts for %llu of %zu); the format "
                             "forbids trailing bytes",
                             path, data_len - (size_t)at, (unsigned long long)at, data_len);
    return CDZ_OK;
}

static char *pool_put(char **pool, const char *s) {
    size_t k = strlen(s) + 1;
    char *at = *pool;
    memcpy(at, s, k);
    *pool += k;
    return at;
}

cdz_status cdz_safetensors_read(cdz_safetensors *f, const char *path, cdz_error *err) {
    memset(f, 0, sizeof *f);
    uint8_t *buf = NULL;
    size_t len;
    cdz_json *j = NULL;
    entry *ents = NULL;
    cdz_st_tensor *tensors = NULL;
    char **meta = NULL;
    const char **meta_keys = NULL;
    cdz_status st = cdz_file_read_all(path, &buf, &len, err);
    if (st) return st;
    if (len < 8) {
        st = cdz_error_set(err, CDZ_ERR_FORMAT,
                           "%s: not a safetensors file (%zu bytes, shorter than the 8-byte header length)", path, len);
        goto fail;
    }
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = header_len << 8 | buf[i];
    if (header_len > CDZ_ST_MAX_HEADER) {
        st = cdz_error_set(err, CDZ_ERR_FORMAT,
                           "%s: not a safetensors file (header length 0x%llx is over the %u-byte limit)", path,
                           (unsigned long long)header_len, CDZ_ST_MAX_HEADER);
        goto fail;
    }
    if (header_len > len - 8) {
        st = cdz_error_set(err, CDZ_ERR_FORMAT,
                           "%s: not a safetensors file, or truncated (header length 0x%llx exceeds the %zu bytes "
                           "after it)",
                           path, (unsigned long long)header_len, len - 8);
        goto fail;
    }
    char what[320];
    snprintf(what, sizeof what, "%s: JSON header", path);
    if ((st = cdz_json_parse((const char *)buf + 8, (size_t)header_len, what, &j, err))) goto fail;
    if (j->type != CDZ_JSON_OBJECT) {
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: the JSON header is not an object", path);
        goto fail;
    }

    /* Metadata: one object of strings. */
    const cdz_json *md = NULL;
    size_t n = 0, n_meta = 0, pool_bytes = 0;
    for (size_t i = 0; i < j->n; i++) {
        if (strcmp(j->keys[i], METADATA_KEY) != 0) {
            n++;
            pool_bytes += strlen(j->keys[i]) + 1;
            continue;
        }
        if (md) {
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"%s\" appears twice", path, METADATA_KEY);
            goto fail;
        }
        md = &j->items[i];
        if (md->type != CDZ_JSON_OBJECT) {
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"%s\" is not an object", path, METADATA_KEY);
            goto fail;
        }
        for (size_t k = 0; k < md->n; k++) {
            const cdz_json *v = &md->items[k];
            if (v->type != CDZ_JSON_STRING) {
                st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: metadata '%s' is not a string (the format allows only strings)",
                                   path, md->keys[k]);
                goto fail;
            }
            if (strlen(v->string) != v->string_len) {
                st = cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: metadata '%s' contains U+0000, which cadenza cannot hold",
                                   path, md->keys[k]);
                goto fail;
            }
            pool_bytes += strlen(md->keys[k]) + 1 + v->string_len + 1;
        }
        n_meta = md->n;
    }
    if (n_meta) {
        if (!(meta_keys = cdz_calloc(n_meta, sizeof *meta_keys))) goto nomem;
        for (size_t k = 0; k < n_meta; k++) meta_keys[k] = md->keys[k];
        const char *dup = sorted_duplicate(meta_keys, n_meta);
        if (dup) {
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: metadata key '%s' appears twice", path, dup);
            goto fail;
        }
    }

    /* Tensors: each entry checked on its own, then all together. */
    if (n && !(ents = cdz_calloc(n, sizeof *ents))) goto nomem;
    for (size_t i = 0, k = 0; i < j->n; i++) {
        if (strcmp(j->keys[i], METADATA_KEY) == 0) continue;
        if ((st = read_entry(path, j->keys[i], &j->items[i], &ents[k++], err))) goto fail;
    }
    /* By name first, to find duplicates without extra memory, and so that tensors sharing an offset
     * (only possible when empty) come out in name order from the stable sort by offset. */
    if (n > 1) qsort(ents, n, sizeof *ents, cmp_entry_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(ents[i - 1].name, ents[i].name) == 0) {
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensor '%s' appears twice", path, ents[i].name);
            goto fail;
        }
    if (sort_by_offset(ents, n)) goto nomem;
    size_t data_len = len - 8 - (size_t)header_len;
    if ((st = check_tiling(path, ents, n, data_len, err))) goto fail;

    if (n && !(tensors = cdz_calloc(n, sizeof *tensors))) goto nomem;
    if (n_meta && !(meta = cdz_calloc(2 * n_meta, sizeof *meta))) goto nomem;

    /* Everything is checked: move the data to the front of the buffer (malloc-aligned, so every tensor,
     * a multiple of 4 bytes from the start, is float-aligned) and the strings after it. They fit: each
     * string took at least its length plus two quotes in the header, which now lies unused. */
    CDZ_ASSERT(data_len + pool_bytes <= len);
    memmove(buf, buf + 8 + header_len, data_len);
    if (!host_is_little_endian())
        for (size_t i = 0; i + 4 <= data_len; i += 4) {
            uint8_t t0 = buf[i], t1 = buf[i + 1];
            buf[i] = buf[i + 3];
            buf[i + 1] = buf[i + 2];
            buf[i + 2] = t1;
            buf[i + 3] = t0;
        }
    char *pool = (char *)buf + data_len;
    for (size_t i = 0; i < n; i++) {
        tensors[i].name = pool_put(&pool, ents[i].name);
        tensors[i].ndim = ents[i].ndim;
        memcpy(tensors[i].shape, ents[i].shape, sizeof tensors[i].shape);
        tensors[i].data = (const float *)(const void *)(buf + ents[i].begin);
    }
    for (size_t k = 0; k < n_meta; k++) {
        meta[2 * k] = pool_put(&pool, md->keys[k]);
        meta[2 * k + 1] = pool_put(&pool, md->items[k].string);
    }
    cdz_free(meta_keys);
    cdz_free(ents);
    cdz_json_free(j);
    f->tensors = tensors;
    f->n = n;
    f->meta = meta;
    f->n_meta = n_meta;
    f->mem = buf;
    return CDZ_OK;

nomem:
    st = cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", path);
fail:
    cdz_free(meta);
    cdz_free(tensors);
    cdz_free(meta_keys);
    cdz_free(ents);
    cdz_json_free(j);
    cdz_free(buf);
    return st;
}

const cdz_st_tensor *cdz_safetensors_find(const cdz_safetensors *f, const char *name) {
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *cdz_safetensors_meta(const cdz_safetensors *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

int64_t cdz_st_numel(const cdz_st_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

void cdz_safetensors_free(cdz_safetensors *f) {
    if (!f) return;
    cdz_free(f->tensors);
    cdz_free(f->meta);
    cdz_free(f->mem);
    memset(f, 0, sizeof *f);
}

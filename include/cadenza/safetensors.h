/* cadenza safetensors: reading and writing checkpoints in the Hugging Face safetensors format, fp32 only.
 *
 *   const cdz_st_tensor t[2] = {{"wte", 2, {V, C}, wte}, {"lnf.w", 1, {C}, lnfw}};
 *   const char *meta[2] = {"model", "melody_rnn"};
 *   if (cdz_safetensors_write("model.safetensors", t, 2, meta, 1, &err) != CDZ_OK) { puts(err.msg); ... }
 *
 *   cdz_safetensors f;
 *   if (cdz_safetensors_read(&f, "model.safetensors", &err) != CDZ_OK) { puts(err.msg); ... }
 *   const cdz_st_tensor *w = cdz_safetensors_find(&f, "wte");   // NULL if absent
 *   const char *model = cdz_safetensors_meta(&f, "model");       // NULL if absent
 *   cdz_safetensors_free(&f);
 *
 * The file (docs/checkpoints.md): an 8-byte little-endian header length N, N bytes of JSON
 *   {"__metadata__": {"key": "value", ...}, "name": {"dtype": "F32", "shape": [...], "data_offsets": [b, e]}, ...}
 * then the tensors, contiguous, little-endian and row-major, at offsets relative to the end of the header.
 * The writer puts tensors in the order given, pads the header with spaces so the data starts at a
 * multiple of 8 bytes, and replaces the target atomically (temporary file, fsync, rename).
 *
 * The reader accepts any valid safetensors file whose tensors are all F32 with at most 4 dimensions,
 * whoever wrote it (any key order, any padding). It checks everything before trusting it: the header
 * length against the file size (and a 100 MB cap), the JSON, every entry's fields, shape products
 * against byte spans (overflow-checked), and that the tensors tile the data section exactly, without
 * overlaps, holes or trailing bytes. Broken files give CDZ_ERR_FORMAT with a message naming the file and
 * the fault; a valid file with another dtype or more than 4 dimensions gives CDZ_ERR_UNSUPPORTED naming
 * the tensor; duplicate tensor or metadata names are refused as ambiguous. No input can crash or leak.
 *
 * Owns: a read file owns its tensor data (4-byte aligned, in host order), names and metadata until
 * cdz_safetensors_free. Thread safety: calls on distinct objects may run concurrently; a read file is
 * read-only and may be shared. */
#ifndef CADENZA_SAFETENSORS_H
#define CADENZA_SAFETENSORS_H

#include "cadenza/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CDZ_ST_MAX_DIMS 4
#define CDZ_ST_MAX_HEADER 100000000u /* bytes, the limit the reference implementation uses */

typedef struct cdz_st_tensor {
    const char *name;
    int ndim;                        /* 0 (a scalar) to 4 */
    int64_t shape[CDZ_ST_MAX_DIMS];  /* the first ndim are used */
    const float *data;               /* writer: the caller's; reader: 4-byte aligned, owned by the file */
} cdz_st_tensor;

/* Writes tensors (in the given order) and metadata pairs (meta[2*i] = key, meta[2*i+1] = value) to
 * `path` atomically. Names must be unique, non-empty, not "__metadata__", and valid UTF-8; so must
 * metadata keys; values must be valid UTF-8. Breaking these is CDZ_ERR_ARG and nothing is written. */
CDZ_API cdz_status cdz_safetensors_write(const char *path, const cdz_st_tensor *tensors, size_t n, const char *const *meta,
                                 size_t n_meta, cdz_error *err);

typedef struct cdz_safetensors {
    cdz_st_tensor *tensors; /* (n) in file order, sorted by data offset */
    size_t n;
    char **meta;            /* (2 * n_meta) key, value pairs in header order */
    size_t n_meta;
    void *mem;              /* private: the file's data and strings */
} cdz_safetensors;

/* Reads a whole file. On failure f is left empty (cdz_safetensors_free on it is harmless). */
CDZ_API cdz_status cdz_safetensors_read(cdz_safetensors *f, const char *path, cdz_error *err);
/* The tensor called `name`, or NULL. */
CDZ_API const cdz_st_tensor *cdz_safetensors_find(const cdz_safetensors *f, const char *name);
/* The metadata value under `key`, or NULL. */
CDZ_API const char *cdz_safetensors_meta(const cdz_safetensors *f, const char *key);
/* The number of elements: the product of the shape (1 for a scalar). */
CDZ_API int64_t cdz_st_numel(const cdz_st_tensor *t);
CDZ_API void cdz_safetensors_free(cdz_safetensors *f);

#ifdef __cplusplus
}
#endif
#endif

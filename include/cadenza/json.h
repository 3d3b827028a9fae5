/* cadenza json: a small, strict JSON reader (RFC 8259) for checkpoint headers and configuration files.
 *
 *   cdz_json *j;
 *   cdz_error err;
 *   if (cdz_json_parse(text, len, "config.json", &j, &err) != CDZ_OK) { puts(err.msg); return 1; }
 *   int64_t layers;
 *   if (cdz_json_get_int(j, "n_layers", 2, &layers, "config.json", &err) != CDZ_OK) ...
 *   const char *codec = cdz_json_get_string(j, "codec", "melody");
 *   cdz_json_free(j);
 *
 * The whole grammar and nothing more: no comments, no trailing commas, no NaN or Infinity, no leading
 * zeros, no single quotes. Strings must be valid UTF-8 (no overlong forms, no encoded surrogates, nothing
 * past U+10FFFF) without raw control characters; \uXXXX escapes must not leave a surrogate unpaired.
 * Nesting is limited to CDZ_JSON_MAX_DEPTH arrays and objects, so hostile input cannot exhaust the
 * stack. Numbers are read as doubles (integers beyond 2^53 are rounded, as in JavaScript); a number too
 * large for a double is an error. Duplicate object keys are kept (cdz_json_get returns the first). An
 * object key may not contain U+0000, since keys are returned as C strings.
 *
 * Errors are CDZ_ERR_FORMAT with "<what>, byte <offset>: <what was expected>", or CDZ_ERR_NOMEM; either
 * way nothing is leaked. Owns: the parsed tree (free the root with cdz_json_free). Thread safety: the
 * parser keeps no state between calls; a parsed tree may be read from several threads. */
#ifndef CADENZA_JSON_H
#define CADENZA_JSON_H

#include "cadenza/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CDZ_JSON_MAX_DEPTH 64

typedef enum cdz_json_type {
    CDZ_JSON_NULL,
    CDZ_JSON_BOOL,
    CDZ_JSON_NUMBER,
    CDZ_JSON_STRING,
    CDZ_JSON_ARRAY,
    CDZ_JSON_OBJECT
} cdz_json_type;

typedef struct cdz_json {
    cdz_json_type type;
    int boolean;            /* BOOL: 0 or 1 */
    double number;          /* NUMBER */
    char *string;           /* STRING: decoded UTF-8, NUL-terminated (may hold U+0000 before string_len) */
    size_t string_len;      /* STRING: bytes, not counting the terminating NUL */
    size_t n;               /* ARRAY / OBJECT: element count */
    struct cdz_json *items; /* ARRAY / OBJECT: elements (n) */
    char **keys;            /* OBJECT: keys (n), parallel to items */
} cdz_json;

/* Parses text[0..len) (need not be NUL-terminated) into a new tree. `what` names the source in errors
 * ("model.safetensors: JSON header, byte 12: expected ':'"); NULL reads as "JSON". */
CDZ_API cdz_status cdz_json_parse(const char *text, size_t len, const char *what, cdz_json **out, cdz_error *err);
/* Frees a tree returned by cdz_json_parse (only the root; NULL is allowed). */
CDZ_API void cdz_json_free(cdz_json *j);

/* The first value under `key`; NULL if absent or obj is NULL or not an object. */
CDZ_API const cdz_json *cdz_json_get(const cdz_json *obj, const char *key);

/* Readers for configuration fields: *out = dflt when the key is absent (or obj is NULL or not an
 * object); CDZ_ERR_FORMAT naming the key and `what` when it is present with the wrong type or, for
 * cdz_json_get_int, a value that is not an integer within int64_t. */
CDZ_API cdz_status cdz_json_get_int(const cdz_json *obj, const char *key, int64_t dflt, int64_t *out, const char *what,
                            cdz_error *err);
CDZ_API cdz_status cdz_json_get_number(const cdz_json *obj, const char *key, double dflt, double *out, const char *what,
                               cdz_error *err);
/* The string under `key`, or dflt when absent or not a string. */
CDZ_API const char *cdz_json_get_string(const cdz_json *obj, const char *key, const char *dflt);

/* Writes s as a JSON string literal (quotes and escapes; other bytes are copied as they are) into buf,
 * NUL-terminated and truncated to size like snprintf; returns the length it needs, not counting the
 * NUL. buf may be NULL when size is 0. */
CDZ_API size_t cdz_json_quote(char *buf, size_t size, const char *s);

/* 1 if s[0..n) is valid UTF-8 by the rules above (the check strings go through), else 0. Writers use it
 * to refuse text that a reader would reject. */
CDZ_API int cdz_json_utf8_valid(const char *s, size_t n);

#ifdef __cplusplus
}
#endif
#endif

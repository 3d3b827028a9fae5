/* Status text, error formatting, the allocation hook and assertion failure. The hook exists so tests
 * can inject allocation failures; by default it is the C library's allocator. */
#include "cadenza/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cdz_status_str(cdz_status s) {
    switch (s) {
    case CDZ_OK: return "ok";
    case CDZ_ERR_NOMEM: return "out of memory";
    case CDZ_ERR_IO: return "input/output error";
    case CDZ_ERR_FORMAT: return "malformed input";
    case CDZ_ERR_ARG: return "invalid argument";
    case CDZ_ERR_RANGE: return "value out of range";
    case CDZ_ERR_UNSUPPORTED: return "unsupported";
    default: return "unknown error";
    }
}

cdz_status cdz_error_set(cdz_error *err, cdz_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->status = status;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}

static void *libc_alloc(void *ctx, size_t size) {
    (void)ctx;
    return malloc(size);
}
static void *libc_resize(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    return realloc(ptr, size);
}
static void libc_release(void *ctx, void *ptr) {
    (void)ctx;
    free(ptr);
}

static cdz_allocator g_alloc = {libc_alloc, libc_resize, libc_release, NULL};

void cdz_set_allocator(const cdz_allocator *a) {
    if (a)
        g_alloc = *a;
    else
        g_alloc = (cdz_allocator){libc_alloc, libc_resize, libc_release, NULL};
}

void *cdz_malloc(size_t size) { return g_alloc.alloc(g_alloc.ctx, size ? size : 1); }

void *cdz_calloc(size_t n, size_t size) {
    size_t total;
    if (!cdz_mul_ok(n, size, &total)) return NULL;
    void *p = cdz_malloc(total);
    if (p) memset(p, 0, total);
    return p;
}

void *cdz_realloc(void *ptr, size_t size) {
    if (!ptr) return cdz_malloc(size);
    return g_alloc.resize(g_alloc.ctx, ptr, size ? size : 1);
}

void cdz_free(void *ptr) {
    if (ptr) g_alloc.release(g_alloc.ctx, ptr);
}

cdz_status cdz_grow(void **ptr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return CDZ_OK;
    size_t new_cap = *cap ? *cap : 8;
    while (new_cap < need) {
        if (new_cap > SIZE_MAX / 2) return CDZ_ERR_NOMEM;
        new_cap *= 2;
    }
    size_t bytes;
    if (!cdz_mul_ok(new_cap, elem, &bytes)) return CDZ_ERR_NOMEM;
    void *p = cdz_realloc(*ptr, bytes);
    if (!p) return CDZ_ERR_NOMEM;
    *ptr = p;
    *cap = new_cap;
    return CDZ_OK;
}

/* Bottom-up merge sort between the array and a scratch copy: stable, O(n log n), no recursion. */
cdz_status cdz_sort_stable(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
    if (n < 2) return CDZ_OK;
    size_t bytes;
    if (!cdz_mul_ok(n, size, &bytes)) return CDZ_ERR_NOMEM;
    char *tmp = cdz_malloc(bytes);
    if (!tmp) return CDZ_ERR_NOMEM;
    char *src = base, *dst = tmp;
    for (size_t width = 1; width < n; width = width > n / 2 ? n : width * 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = mid + width < n ? mid + width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) {
                if (cmp(src + j * size, src + i * size) < 0)
                    memcpy(dst + size * k++, src + size * j++, size);
                else
                    memcpy(dst + size * k++, src + size * i++, size);
            }
            if (i < mid) memcpy(dst + size * k, src + size * i, (mid - i) * size), k += mid - i;
            if (j < hi) memcpy(dst + size * k, src + size * j, (hi - j) * size);
        }
        char *swap = src;
        src = dst;
        dst = swap;
    }
    if (src != (char *)base) memcpy(base, src, bytes);
    cdz_free(tmp);
    return CDZ_OK;
}

uint64_t cdz_fnv1a64(uint64_t h, const void *bytes, size_t n) {
    const uint8_t *p = bytes;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

void cdz_assert_fail(const char *expr, const char *file, int line) {
    /* An assertion is a bug in cadenza or in the caller, never bad input: stop loudly. */
    fprintf(stderr, "cadenza: internal error: assertion '%s' failed at %s:%d\n", expr, file, line);
    abort();
}

/* cadenza core: status codes, error messages, the allocation hook, checked size arithmetic, and
 * whole-file I/O that never leaves a half-written file behind.
 *
 *   cdz_error err = {0};
 *   uint8_t *bytes; size_t len;
 *   if (cdz_file_read_all("song.mid", &bytes, &len, &err) != CDZ_OK)
 *       fprintf(stderr, "%s\n", err.msg);
 *   ...
 *   cdz_free(bytes);
 *
 * Owns: nothing global except the allocator and file-output hooks. Thread safety: every function is
 * thread-safe except cdz_set_allocator and cdz_set_file_ops, which must be called before any other thread
 * uses the library. */
#ifndef CADENZA_CORE_H
#define CADENZA_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CDZ_VERSION "0.1.0"

/* Marks the functions of the public API, the ones libcadenza.so exports (src/libcadenza.map keeps the
 * library's internal symbols out of it). */
#if defined(__GNUC__) || defined(__clang__)
#define CDZ_API __attribute__((visibility("default")))
#else
#define CDZ_API
#endif

/* 0 is success; every error is negative. */
typedef int cdz_status;
enum {
    CDZ_OK = 0,
    CDZ_ERR_NOMEM = -1,       /* an allocation failed */
    CDZ_ERR_IO = -2,          /* a file could not be opened, read or written */
    CDZ_ERR_FORMAT = -3,      /* input bytes are not what the format allows */
    CDZ_ERR_ARG = -4,         /* the caller passed something invalid */
    CDZ_ERR_RANGE = -5,       /* a value is outside what the operation supports */
    CDZ_ERR_UNSUPPORTED = -6, /* valid, but not something cadenza handles */
};

/* Text for any status, including unknown ones. Never NULL. */
CDZ_API const char *cdz_status_str(cdz_status s);

/* Filled by a failing call when the caller passes one (NULL is allowed everywhere). The message names
 * the file, the place in it (track, byte offset, line) and what was expected. */
typedef struct cdz_error {
    cdz_status status;
    char msg[320];
} cdz_error;

/* Sets err (if not NULL) and returns status, so callers can write `return cdz_error_set(...)`. */
CDZ_API cdz_status cdz_error_set(cdz_error *err, cdz_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- allocation ----
 * All library allocations go through one hook, so tests can fail the n-th allocation and check that
 * every reader and writer reports CDZ_ERR_NOMEM and frees what it took. */
typedef struct cdz_allocator {
    void *(*alloc)(void *ctx, size_t size);              /* NULL on failure */
    void *(*resize)(void *ctx, void *ptr, size_t size);  /* realloc semantics; NULL leaves ptr alone */
    void (*release)(void *ctx, void *ptr);
    void *ctx;
} cdz_allocator;

/* Installs a hook; NULL restores the C library's malloc/realloc/free. The library calls it from threads
 * of its own too (dataset build's workers, the audio codec's lanes: cdz_nn_threads), so a hook must be
 * thread-safe. */
CDZ_API void cdz_set_allocator(const cdz_allocator *a);
CDZ_API void *cdz_malloc(size_t size);                     /* size 0 allocates 1 byte */
CDZ_API void *cdz_calloc(size_t n, size_t size);           /* overflow-checked */
CDZ_API void *cdz_realloc(void *ptr, size_t size);
CDZ_API void cdz_free(void *ptr);
/* Grows *ptr (an array of elem-sized items with capacity *cap) to hold at least `need` items,
 * at least doubling. Returns CDZ_ERR_NOMEM (leaving the array intact) on overflow or failure. */
CDZ_API cdz_status cdz_grow(void **ptr, size_t *cap, size_t need, size_t elem);

/* A stable merge sort (qsort's interface). Needs a temporary copy: CDZ_ERR_NOMEM if that fails, with
 * the array left as it was. */
CDZ_API cdz_status cdz_sort_stable(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));

/* A stable merge sort specialised per element type, so comparisons inline and elements move as whole
 * structs. It returns at once when the list is already in order, insertion-sorts blocks of
 * CDZ_SORT_BLOCK (cheap on nearly sorted input), then merges blocks bottom-up. BEFORE(x, y) takes two
 * pointers and is true when *x must come before *y. Defines `static cdz_status name(T *a, size_t n)`,
 * which fails only when its scratch allocation does (leaving the array as it was). */
#define CDZ_SORT_BLOCK 32
#define CDZ_DEFINE_SORT(name, T, BEFORE)                                                   \
    static cdz_status name(T *a, size_t n) {                                           \
        size_t i = 1;                                                                  \
        while (i < n && !BEFORE(&a[i], &a[i - 1])) i++;                                \
        if (i >= n) return CDZ_OK;                                                     \
        T *tmp = cdz_malloc(n * sizeof *tmp); /* no overflow: `a` already holds n */   \
        if (!tmp) return CDZ_ERR_NOMEM;                                                \
        for (size_t lo = 0; lo < n; lo += CDZ_SORT_BLOCK) {                                \
            size_t hi = lo + CDZ_SORT_BLOCK < n ? lo + CDZ_SORT_BLOCK : n;                     \
            for (size_t j = lo + 1; j < hi; j++) {                                     \
                T x = a[j];                                                            \
                size_t k = j;                                                          \
                for (; k > lo && BEFORE(&x, &a[k - 1]); k--) a[k] = a[k - 1];          \
                a[k] = x;                                                              \
            }                                                                          \
        }                                                                              \
        T *src = a, *dst = tmp;                                                        \
        for (size_t w = CDZ_SORT_BLOCK; w < n; w = w > n / 2 ? n : 2 * w) {                \
            for (size_t lo = 0; lo < n; lo += 2 * w) {                                 \
                size_t mid = lo + w < n ? lo + w : n, hi = mid + w < n ? mid + w : n;  \
                size_t l = lo, r = mid, k = lo;                                        \
                while (l < mid && r < hi) dst[k++] = BEFORE(&src[r], &src[l]) ? src[r++] : src[l++]; \
                while (l < mid) dst[k++] = src[l++];                                   \
                while (r < hi) dst[k++] = src[r++];                                    \
            }                                                                          \
            T *swap = src;                                                             \
            src = dst;                                                                 \
            dst = swap;                                                                \
        }                                                                              \
        if (src != a) memcpy(a, src, n * sizeof *a);                                   \
        cdz_free(tmp);                                                                 \
        return CDZ_OK;                                                                 \
    }

/* FNV-1a 64 of bytes, continuing from h (start with CDZ_FNV_OFFSET): checksums and content hashes. */
#define CDZ_FNV_OFFSET 0xcbf29ce484222325ULL
/* ---- seeded randomness ---- */
/* Random source with explicit state (splitmix64 seeding, xoshiro256** steps): every random choice
 * in cadenza comes from one of these, seeded by the user, so results can be made again. */
typedef struct cdz_rng {
    uint64_t s[4];
} cdz_rng;
CDZ_API void cdz_rng_seed(cdz_rng *r, uint64_t seed);
CDZ_API uint64_t cdz_rng_next(cdz_rng *r);
CDZ_API uint64_t cdz_rng_below(cdz_rng *r, uint64_t n); /* uniform in [0, n), n > 0 */
CDZ_API double cdz_rng_uniform(cdz_rng *r);              /* uniform in [0, 1), 53 bits */
CDZ_API double cdz_rng_normal(cdz_rng *r);               /* standard normal (Box-Muller) */
/* Counter-based randomness: value `index` (0, 1, ...) of the stream `key`, splitmix64's output for the
 * state key + (index + 1) * 0x9e3779b97f4a7c15 (so cdz_random_at(seed, 0 .. 3) are what cdz_rng_seed
 * puts into a generator's state). A pure function of its arguments: any rank, thread or backend gets
 * the same bits for the same (key, index) in any order. Keys of several parts are chained, the output
 * of one call the key of the next: cdz_random_at(cdz_random_at(seed, step), site). */
CDZ_API uint64_t cdz_random_at(uint64_t key, uint64_t index);
/* out[i] = cdz_random_at(key, index + i) for i < n: a run of a stream at once (for loops over units). */
CDZ_API void cdz_random_fill(uint64_t key, uint64_t index, uint64_t *out, size_t n);

CDZ_API uint64_t cdz_fnv1a64(uint64_t h, const void *bytes, size_t n);

/* ---- checked size arithmetic: return 1 and store the result, or 0 on overflow ---- */
static inline int cdz_add_ok(size_t a, size_t b, size_t *out) {
    if (a > SIZE_MAX - b) return 0;
    *out = a + b;
    return 1;
}
static inline int cdz_mul_ok(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* ---- files ---- */
/* Reads a whole file into a new buffer (free with cdz_free), followed by a NUL byte not counted in
 * *len, so text can be scanned safely. Errors name the path. */
CDZ_API cdz_status cdz_file_read_all(const char *path, uint8_t **out, size_t *len, cdz_error *err);
/* Writes bytes to `path` safely: to a temporary file beside it (".NAME.cadenza-tmp.PID", hidden), fsync,
 * then rename over the target, so an existing file is never left truncated. A symbolic link is written
 * through (the file it names is replaced, the link stays); a device or FIFO is written to as it is (so
 * /dev/full reports its error); a folder is refused. Temporaries that a killed process left beside the
 * target are removed. Every failure (open, write, fsync, close, rename) is CDZ_ERR_IO with a message
 * naming the path, the system's reason ("No space left on device") and, for a write, the byte it failed
 * at; the temporary is removed and an existing target left as it was. */
CDZ_API cdz_status cdz_file_write_atomic(const char *path, const void *bytes, size_t len, cdz_error *err);

/* The same safety for a file written piece by piece (too large to hold in memory):
 *
 *   cdz_file_out f;
 *   if (cdz_file_out_open(&f, "song.wav", &err) != CDZ_OK) return ...;   // fails before any work
 *   st = cdz_file_out_write(&f, header, 44, &err);                       // then more, in order
 *   if (st == CDZ_OK && f.seekable) st = cdz_file_out_pwrite(&f, sizes, 8, 4, &err);  // fill in later
 *   st == CDZ_OK ? (st = cdz_file_out_commit(&f, &err)) : (cdz_file_out_abort(&f), st);
 *
 * open follows cdz_file_write_atomic's rules: the temporary beside the target (opened for reading and
 * writing, so a writer may reread what it wrote), links written through, stale temporaries removed, a
 * folder refused; a device or FIFO is opened as it is and is not seekable (no temporary: the bytes go
 * straight to it). commit fsyncs and renames the temporary over the target; abort removes it, leaving
 * the target as it was. Either frees the handle, which must not be used again. */
typedef struct cdz_file_out {
    int fd;       /* the temporary (or the device) */
    int seekable; /* 1: a temporary regular file (pwrite, pread, ftruncate work); 0: a device or FIFO */
    char *path;   /* the name as given, for messages */
    char *target; /* the file the temporary replaces (links followed) */
    char *tmp;    /* the temporary's name; NULL for a device */
    uint64_t written; /* bytes appended so far (for messages) */
} cdz_file_out;
CDZ_API cdz_status cdz_file_out_open(cdz_file_out *f, const char *path, cdz_error *err);
/* Appends at the descriptor's position. */
CDZ_API cdz_status cdz_file_out_write(cdz_file_out *f, const void *bytes, size_t len, cdz_error *err);
/* Writes at a byte offset (seekable outputs only; the position is left alone). */
CDZ_API cdz_status cdz_file_out_pwrite(cdz_file_out *f, const void *bytes, size_t len, uint64_t offset, cdz_error *err);
CDZ_API cdz_status cdz_file_out_commit(cdz_file_out *f, cdz_error *err);
CDZ_API void cdz_file_out_abort(cdz_file_out *f);

/* ---- the file-output hook ----
 * Every file the library writes (cdz_file_write_atomic, cdz_file_out) goes through these six calls, so
 * that tests (and embedders) can make the n-th one fail as a full disk, a quota or a failing device
 * would: a short write, ENOSPC, EIO from fsync or close, a rename refused. tests/test_faults.c fails
 * each in turn for every writer and checks that each call reports the error and leaves the previous
 * file as it was. Each has its system call's contract: the result, or -1 with errno set; close releases
 * fd even when it fails (as Linux does); write and pwrite may write fewer bytes than asked (the caller
 * loops). By default they are the system calls. */
typedef struct cdz_file_ops {
    int (*open)(void *ctx, const char *path, int flags, unsigned mode);                 /* open(2), for writing */
    ptrdiff_t (*write)(void *ctx, int fd, const void *buf, size_t n);                   /* write(2) */
    ptrdiff_t (*pwrite)(void *ctx, int fd, const void *buf, size_t n, uint64_t offset); /* pwrite(2) */
    int (*sync)(void *ctx, int fd);                                                      /* fsync(2) */
    int (*close)(void *ctx, int fd);                                                     /* close(2) */
    int (*rename)(void *ctx, const char *from, const char *to);                          /* rename(2) */
    void *ctx;
} cdz_file_ops;

/* Installs a hook (every field must be set: start from cdz_file_ops_default() and replace some); NULL
 * restores the system calls. Like cdz_set_allocator: call it before other threads use the library. */
CDZ_API void cdz_set_file_ops(const cdz_file_ops *ops);
/* The system calls, for a hook to wrap. */
CDZ_API cdz_file_ops cdz_file_ops_default(void);

/* Lists the regular files under the folder `root`, recursively, whose names end with one of the
 * comma-separated suffixes, case-insensitively (".mid,.midi"; NULL or "" for all), sorted by path.
 * Symbolic links are followed, each folder entered once. A `root` that is not a folder is listed as it
 * is, whatever its name (the caller named it). Unreadable subfolders are skipped; a missing or
 * unreadable root is an error. Free with cdz_file_list_free. */
CDZ_API cdz_status cdz_file_list(const char *root, const char *suffixes, char ***paths, size_t *n, cdz_error *err);
CDZ_API void cdz_file_list_free(char **paths, size_t n);

/* ---- programmer errors (on in release builds too) ---- */
CDZ_API void cdz_assert_fail(const char *expr, const char *file, int line);
#define CDZ_ASSERT(x) ((x) ? (void)0 : cdz_assert_fail(#x, __FILE__, __LINE__))

#ifdef __cplusplus
}
#endif
#endif

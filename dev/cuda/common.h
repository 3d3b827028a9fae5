/* dev/cuda/common.h: what the kernel workbench programs share (STYLE.md, "dev/cuda/ as a kernel
 * workbench"): checked CUDA calls, flags, the device check that turns "no GPU" into a skip, random
 * inputs, validation against the library's CPU reference with a stated tolerance, cudaEvent timing,
 * and the warp and block reductions of the row kernels (src/nn/cuda/reduce.cuh, the library's own).
 *
 * Each program's version 2 is the library's shipped kernel (src/nn/cuda/, through the cdz_cuda_*
 * functions of backend_cuda.h, linked from build/libcadenza.a), so the workbench validates and times
 * exactly what ships and there is no second copy of it here. Version 1 is the workbench's simple
 * one; new candidates get the next numbers and replace the library's code when they win.
 *
 * Each program counts one check per compared array and ends with the line "cuda_NAME: N passed,
 * M failed" that tests/run.sh adds up; it exits non-zero when a check failed. These are programs, not
 * the library: they print, and a failed CUDA call ends them (CUDA_CHECK), which tests/run.sh counts
 * as a failure. Device memory comes from cudaMalloc only (no managed memory), so a timing never
 * includes page migration. */
#ifndef CADENZA_DEV_CUDA_COMMON_H
#define CADENZA_DEV_CUDA_COMMON_H

#include <cuda_runtime.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cadenza/nn.h" /* the CPU reference (extern "C" inside) */
#include "../../src/nn/cuda/backend_cuda.h" /* the library's kernels: every version 2 */
#include "../../src/nn/cuda/reduce.cuh"      /* warp_sum, warp_max, block_sum */

/* Every CUDA call goes through this: file:line, the error's name and text, then exit(1). Kernel
 * launches are checked by the cudaGetLastError() after them (launch errors) and by the next checked
 * synchronising call (errors while the kernel ran). */
#define CUDA_CHECK(call)                                                                                \
    do {                                                                                                \
        cudaError_t err_ = (call);                                                                      \
        if (err_ != cudaSuccess) {                                                                      \
            fprintf(stderr, "%s:%d: CUDA error %s: %s\n  in %s\n", __FILE__, __LINE__,                 \
                    cudaGetErrorName(err_), cudaGetErrorString(err_), #call);                           \
            exit(EXIT_FAILURE);                                                                         \
        }                                                                                               \
    } while (0)

#define N_ELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static inline int ceil_div(long long a, long long b) { return (int)((a + b - 1) / b); }

/* ---- flags ---- */

typedef struct bench_flag {
    const char *name; /* "-C" */
    int *value;       /* holds the default until parsed */
    int lo, hi;       /* accepted range */
    const char *help;
} bench_flag;

typedef struct bench_opts {
    int version;  /* 0: every version */
    int validate; /* --validate: every version's checks on the default and the awkward shapes, short timing */
    int repeat;   /* timed calls per measurement */
    int seed;
} bench_opts;

static inline void bench_usage(FILE *f, const char *prog, const char *about, const bench_flag *flags, int nflags,
                               int versions) {
    fprintf(f, "usage: %s [--version 0..%d] [--validate] [--repeat R] [--seed S]", prog, versions);
    for (int i = 0; i < nflags; i++) fprintf(f, " [%s %d]", flags[i].name, *flags[i].value);
    fprintf(f, "\n%s\n", about);
    fprintf(f, "  --version N   run kernel version N only (0, the default: all of them)\n");
    fprintf(f, "  --validate    check every version, also on awkward sizes, with a short timing (make test)\n");
    fprintf(f, "  --repeat R    timed calls per measurement (default 100; 5 with --validate)\n");
    fprintf(f, "  --seed S      seed of the random inputs (default 1)\n");
    for (int i = 0; i < nflags; i++)
        fprintf(f, "  %-13s %s (default %d)\n", flags[i].name, flags[i].help, *flags[i].value);
}

/* Parses the common flags and the program's size flags; a bad flag prints the usage and exits 2. */
static inline bench_opts bench_parse(int argc, char **argv, const char *about, bench_flag *flags, int nflags,
                                     int versions) {
    bench_opts o = {0, 0, -1, 1};
    const char *prog = argc > 0 ? argv[0] : "bench";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            bench_usage(stdout, prog, about, flags, nflags, versions);
            exit(0);
        }
        if (!strcmp(a, "--validate")) {
            o.validate = 1;
            continue;
        }
        int *dst = NULL;
        long lo = 0, hi = 0;
        if (!strcmp(a, "--version")) dst = &o.version, lo = 0, hi = versions;
        else if (!strcmp(a, "--repeat")) dst = &o.repeat, lo = 1, hi = 1000000;
        else if (!strcmp(a, "--seed")) dst = &o.seed, lo = 0, hi = 2147483647;
        for (int k = 0; !dst && k < nflags; k++)
            if (!strcmp(a, flags[k].name)) dst = flags[k].value, lo = flags[k].lo, hi = flags[k].hi;
        if (!dst) {
            fprintf(stderr, "%s: unknown option '%s'\n", prog, a);
            bench_usage(stderr, prog, about, flags, nflags, versions);
            exit(2);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", prog, a);
            exit(2);
        }
        const char *s = argv[++i];
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < lo || v > hi) {
            fprintf(stderr, "%s: %s takes an integer from %ld to %ld, not '%s'\n", prog, a, lo, hi, s);
            exit(2);
        }
        *dst = (int)v;
    }
    if (o.repeat < 0) o.repeat = o.validate ? 5 : 100;
    return o;
}

/* ---- the device ---- */

static int bench_passed, bench_failed;

/* True when there is a device these programs can run on. Without one (no driver, no GPU) it prints
 * "SKIPPED: no CUDA device" and returns false: the caller then ends with bench_summary(), which reads
 * "0 passed, 0 failed" and exits 0, so `make test` passes on machines without a GPU. A GPU older than
 * the sm_90 the Makefile builds for cannot run the kernels: that is a failure, not a skip. */
static inline bool bench_device(void) {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n == 0) {
        printf("SKIPPED: no CUDA device (%s)\n", err != cudaSuccess ? cudaGetErrorString(err) : "none listed");
        return false;
    }
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    if (prop.major < 9) {
        printf("FAIL: %s is sm_%d%d; these programs are built for sm_90 (change CUDA_GENCODE in the Makefile)\n",
               prop.name, prop.major, prop.minor);
        bench_failed++;
        return false;
    }
    CUDA_CHECK(cudaSetDevice(0));
    printf("device: %s, sm_%d%d, %d SMs, %.1f GiB\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount,
           (double)prop.totalGlobalMem / (1 << 30));
    return true;
}

/* The summary line tests/run.sh reads; the program's exit status. */
static inline int bench_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, bench_passed, bench_failed);
    return bench_failed ? 1 : 0;
}

/* ---- memory and inputs ---- */

static inline void *host_alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        fprintf(stderr, "out of host memory (%zu bytes)\n", bytes);
        exit(EXIT_FAILURE);
    }
    return p;
}
#define HOST_ALLOC(T, n) ((T *)host_alloc((size_t)(n) * sizeof(T)))

template <class T> static T *dev_alloc(size_t n) {
    T *p = NULL;
    CUDA_CHECK(cudaMalloc((void **)&p, (n ? n : 1) * sizeof(T)));
    return p;
}
template <class T> static void to_dev(T *d, const T *h, size_t n) {
    CUDA_CHECK(cudaMemcpy(d, h, n * sizeof(T), cudaMemcpyHostToDevice));
}
template <class T> static T *dev_copy(const T *h, size_t n) {
    T *d = dev_alloc<T>(n);
    to_dev(d, h, n);
    return d;
}
static inline void dev_free1(void *d) { CUDA_CHECK(cudaFree(d)); }
template <class... P> static void dev_free(P... d) { (dev_free1((void *)d), ...); }
/* Fills outputs with NaN (all bits set) before a kernel runs, so a value it never writes fails the check. */
template <class T> static void dev_poison(T *d, size_t n) { CUDA_CHECK(cudaMemset(d, 0xff, n * sizeof(T))); }

static inline void fill_uniform(float *x, size_t n, float lo, float hi, cdz_rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * (float)cdz_rng_uniform(rng);
}

static inline double host_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* ---- validation ---- */

/* The tolerance for a sum of K float terms, each at most `scale` in size, taken in another order than
 * the CPU's (a block tree, atomics): the roundings of partial sums that grow like sqrt(k) add up like
 * a random walk to about u K scale / 2 (u = 2^-23 the float epsilon); this allows 4 u K scale. A CPU
 * emulation of the block order (K = 8192 rows, terms up to 1.7) differed from the CPU's sequential sum
 * by at most 5.0e-4, against 3.9e-3 from here: an 8x margin, while one missing term (about 0.5 there)
 * still fails. */
static inline double sum_tol(double K, double scale) { return 4.0 * FLT_EPSILON * K * scale; }

/* One check: n values copied back from the device against the CPU reference; it passes when every
 * |gpu - cpu| <= atol + rtol |cpu| (a NaN on either side fails). Prints the largest difference, or the
 * first mismatches with their expected and actual values. */
static inline bool check_close(const char *what, const float *d_gpu, const float *cpu, size_t n, double atol,
                               double rtol) {
    float *gpu = HOST_ALLOC(float, n);
    CUDA_CHECK(cudaMemcpy(gpu, d_gpu, n * sizeof(float), cudaMemcpyDeviceToHost));
    size_t bad = 0;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = cpu[i], a = gpu[i], diff = fabs(a - e), tol = atol + rtol * fabs(e);
        if (!(diff <= tol)) {
            if (bad < 5)
                printf("  FAIL %s[%zu]: expected %.9g, got %.9g (|diff| %.3g > tolerance %.3g)\n", what, i, e, a, diff,
                       tol);
            bad++;
        } else if (diff > worst) {
            worst = diff;
        }
    }
    if (bad) {
        printf("  FAIL %s: %zu of %zu values outside %.3g + %.3g |ref|\n", what, bad, n, atol, rtol);
        bench_failed++;
    } else {
        printf("  ok   %-26s max |diff| %-9.3g (tolerance %.3g + %.3g |ref|, %zu values)\n", what, worst, atol, rtol,
               n);
        bench_passed++;
    }
    free(gpu);
    return bad == 0;
}

/* One value already on the host (a loss the library's pass returned) against the CPU's. */
static inline bool check_value(const char *what, float got, float want, double atol, double rtol) {
    double diff = fabs((double)got - want), tol = atol + rtol * fabs((double)want);
    if (!(diff <= tol)) {
        printf("  FAIL %s: expected %.9g, got %.9g (|diff| %.3g > tolerance %.3g)\n", what, want, got, diff, tol);
        bench_failed++;
        return false;
    }
    printf("  ok   %-26s max |diff| %-9.3g (tolerance %.3g + %.3g |ref|, 1 value)\n", what, diff, atol, rtol);
    bench_passed++;
    return true;
}

/* The library's kernels do not exit on a CUDA error: they record it, and cdz_cuda_check reports it
 * (after waiting for the device). Call this after running or timing version 2; an error ends the
 * program as CUDA_CHECK does. */
static inline void lib_check(const char *what) {
    cdz_error err = {};
    if (cdz_cuda_check(&err) != CDZ_OK) {
        fprintf(stderr, "%s: the library's kernel failed: %s\n", what, err.msg);
        exit(EXIT_FAILURE);
    }
}

/* ---- timing ---- */

/* Mean milliseconds per call of fn (which launches and checks its kernels) over `repeat` calls on the
 * default stream, measured with CUDA events after one untimed warm-up call (module loading and the
 * first touch of the buffers stay out). Inputs that fit the 50 MB L2 of an H100 stay warm in it. */
template <class F> static float bench_time_ms(int repeat, F &&fn) {
    fn();
    cudaEvent_t t0, t1;
    CUDA_CHECK(cudaEventCreate(&t0));
    CUDA_CHECK(cudaEventCreate(&t1));
    CUDA_CHECK(cudaEventRecord(t0));
    for (int r = 0; r < repeat; r++) fn();
    CUDA_CHECK(cudaEventRecord(t1));
    CUDA_CHECK(cudaEventSynchronize(t1));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, t0, t1));
    CUDA_CHECK(cudaEventDestroy(t0));
    CUDA_CHECK(cudaEventDestroy(t1));
    return ms / (float)repeat;
}

/* `bytes`: the traffic the pass cannot avoid (each input read once, each output written once), so
 * GB/s compares with the card's memory bandwidth (about 3.3 TB/s on an H100 SXM). */
static inline void bench_report(const char *what, float ms, double bytes) {
    printf("  time %-25s %9.4f ms  %8.1f GB/s\n", what, ms, bytes / (ms * 1e6));
}

#endif

/* This core's floating-point peak as it is now: 12 independent chains of 8-wide fused multiply-adds
 * (AVX2 + FMA), FLOP/s over a fixed count, repeated. On a shared VM the figure drifts with other
 * tenants' load; run it beside a benchmark to see how far (docs/PERF.md quotes it).
 * Usage: build/bench/fma_peak [ROUNDS] [SLEEP_MS]   (default 6 rounds, 1000 ms apart) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

__attribute__((target("avx2,fma"))) static double gflops(long n) {
    __m256 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i * 0.001f);
    const __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(0.0001f);
    double t = now();
    for (long k = 0; k < n; k++)
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], m, c);
    t = now() - t;
    float s = 0, out[8];
    for (int i = 0; i < 12; i++) {
        _mm256_storeu_ps(out, a[i]);
        s += out[0];
    }
    volatile float sink = s; /* keeps the loop */
    (void)sink;
    return (double)n * 12 * 16 / t / 1e9;
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 6, sleep_ms = argc > 2 ? atoi(argv[2]) : 1000;
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("fma_peak: this CPU has no AVX2 and FMA\n");
        return 0;
    }
    for (int r = 0; r < rounds; r++) {
        printf("{\"what\":\"fma_peak\",\"round\":%d,\"gflops\":%.1f}\n", r + 1, gflops(200000000L));
        fflush(stdout);
        struct timespec d = {sleep_ms / 1000, (long)(sleep_ms % 1000) * 1000000L};
        if (r + 1 < rounds) nanosleep(&d, NULL);
    }
    return 0;
}
#else
int main(void) {
    printf("fma_peak: x86-64 only\n");
    return 0;
}
#endif

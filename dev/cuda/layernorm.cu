/* Layer norm, forward and backward, on the GPU: the kernel workbench for src/nn/cuda/ (STYLE.md).
 * The reference is the library's own cdz_layernorm_forward / cdz_layernorm_backward
 * (src/nn/cpu/transformer.c): PyTorch nn.LayerNorm over the last dimension, eps 1e-5, biased
 * variance taken in two passes, mean and rstd saved for backward;
 *   dx += rstd (dy w - mean(dy w) - xhat mean(dy w xhat)),  dw += sum_rows dy xhat,  db += sum_rows dy.
 *
 *   build/cuda-dev/layernorm [--version 0|1|2] [--validate] [-B 8] [-T 1024] [-C 512] [--repeat 100]
 *
 * Version 1: one thread per row (forward, backward dx) and one per column (dw, db): simple and
 *            deterministic, but a thread walks its row alone, so a warp's loads are C floats apart.
 * Version 2: the library's (cdz_cuda_layernorm_forward / _backward, src/nn/cuda/transformer.cu):
 *            one warp per row, the row sums by shuffles, loads coalesced across the lanes; backward
 *            gathers dw, db per block in shared memory (shared atomics), then adds each block's
 *            partial with one global atomicAdd per column, one kernel in all (the order of those
 *            additions varies between runs: not bit-reproducible). Rows wider than a block's shared
 *            memory holds (2C floats) fall back to version 1's kernels there. */
#include "common.h"

#define LN_EPS 1e-5f /* LAYERNORM_EPS of src/nn/cpu/transformer.c */

/* ---------------- version 1: a thread per row ---------------- */

__global__ void layernorm_forward1(float *y, float *mean, float *rstd, const float *x, const float *w,
                                   const float *b, int N, int C) {
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const float *xr = x + (size_t)n * C;
    float *yr = y + (size_t)n * C;
    float sum = 0, var = 0;
    for (int c = 0; c < C; c++) sum += xr[c];
    float m = sum / (float)C;
    for (int c = 0; c < C; c++) var += (xr[c] - m) * (xr[c] - m); /* two passes, as the CPU: no cancellation */
    float s = 1.0f / sqrtf(var / (float)C + LN_EPS);
    for (int c = 0; c < C; c++) yr[c] = (xr[c] - m) * s * w[c] + b[c];
    mean[n] = m, rstd[n] = s;
}

__global__ void layernorm_backward_dx1(float *dx, const float *dy, const float *x, const float *mean,
                                       const float *rstd, const float *w, int N, int C) {
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const float *dyr = dy + (size_t)n * C, *xr = x + (size_t)n * C;
    float *dxr = dx + (size_t)n * C;
    float m = mean[n], s = rstd[n], g_sum = 0, gx_sum = 0;
    for (int c = 0; c < C; c++) {
        float g = dyr[c] * w[c];
        g_sum += g;
        gx_sum += g * (xr[c] - m) * s;
    }
    float g_mean = g_sum / (float)C, gx_mean = gx_sum / (float)C;
    for (int c = 0; c < C; c++) dxr[c] += s * (dyr[c] * w[c] - g_mean - (xr[c] - m) * s * gx_mean);
}

/* Column c's sums over the rows, in row order as the CPU adds them; neighbouring threads read
 * neighbouring columns, so these loads are coalesced. */
__global__ void layernorm_backward_dwdb1(float *dw, float *db, const float *dy, const float *x, const float *mean,
                                         const float *rstd, int N, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float dw_acc = dw[c], db_acc = db[c];
    for (int n = 0; n < N; n++) {
        float d = dy[(size_t)n * C + c];
        dw_acc += d * ((x[(size_t)n * C + c] - mean[n]) * rstd[n]);
        db_acc += d;
    }
    dw[c] = dw_acc, db[c] = db_acc;
}

/* ---------------- dispatch ---------------- */

static const char *const versions[] = {"", "a thread per row (dw, db: a thread per column)",
                                       "the library's: a warp per row, shuffles; dw, db: shared-memory partials + "
                                       "atomics"};

static void layernorm_forward(int version, float *y, float *mean, float *rstd, const float *x, const float *w,
                              const float *b, int N, int C) {
    if (version == 1) layernorm_forward1<<<ceil_div(N, 256), 256>>>(y, mean, rstd, x, w, b, N, C);
    else cdz_cuda_layernorm_forward(y, mean, rstd, x, w, b, N, C); /* records its errors: lib_check */
    CUDA_CHECK(cudaGetLastError());
}

static void layernorm_backward(int version, float *dx, float *dw, float *db, const float *dy, const float *x,
                               const float *mean, const float *rstd, const float *w, int N, int C) {
    if (version == 1) {
        layernorm_backward_dx1<<<ceil_div(N, 256), 256>>>(dx, dy, x, mean, rstd, w, N, C);
        CUDA_CHECK(cudaGetLastError());
        layernorm_backward_dwdb1<<<ceil_div(C, 256), 256>>>(dw, db, dy, x, mean, rstd, N, C);
    } else {
        cdz_cuda_layernorm_backward(dx, dw, db, dy, x, mean, rstd, w, N, C);
    }
    CUDA_CHECK(cudaGetLastError());
}

/* ---------------- one shape: the CPU reference, then every chosen version ---------------- */

static void run_shape(int N, int C, const bench_opts *o) {
    printf("== layernorm N=%d C=%d\n", N, C);
    size_t nc = (size_t)N * C;
    cdz_rng rng;
    cdz_rng_seed(&rng, (uint64_t)o->seed);
    float *x = HOST_ALLOC(float, nc), *w = HOST_ALLOC(float, C), *b = HOST_ALLOC(float, C);
    float *dy = HOST_ALLOC(float, nc), *dx0 = HOST_ALLOC(float, nc), *dw0 = HOST_ALLOC(float, C),
          *db0 = HOST_ALLOC(float, C);
    /* x around 2: a mean well away from 0, where a one-pass E[x^2] - E[x]^2 would lose the variance */
    fill_uniform(x, nc, 1.0f, 3.0f, &rng);
    fill_uniform(w, C, -1.0f, 1.0f, &rng);
    fill_uniform(b, C, -1.0f, 1.0f, &rng);
    fill_uniform(dy, nc, -1.0f, 1.0f, &rng);
    /* non-zero starting gradients: backward must add into them, not overwrite */
    fill_uniform(dx0, nc, -1.0f, 1.0f, &rng);
    fill_uniform(dw0, C, -1.0f, 1.0f, &rng);
    fill_uniform(db0, C, -1.0f, 1.0f, &rng);

    float *y = HOST_ALLOC(float, nc), *mean = HOST_ALLOC(float, N), *rstd = HOST_ALLOC(float, N);
    float *dx = HOST_ALLOC(float, nc), *dw = HOST_ALLOC(float, C), *db = HOST_ALLOC(float, C);
    memcpy(dx, dx0, nc * sizeof *dx), memcpy(dw, dw0, C * sizeof *dw), memcpy(db, db0, C * sizeof *db);
    double t0 = host_ms();
    cdz_layernorm_forward(y, mean, rstd, x, w, b, N, C);
    double t1 = host_ms();
    cdz_layernorm_backward(dx, dw, db, dy, x, mean, rstd, w, N, C);
    printf("cpu reference: forward %.3f ms, backward %.3f ms\n", t1 - t0, host_ms() - t1);

    float *d_x = dev_copy(x, nc), *d_w = dev_copy(w, C), *d_b = dev_copy(b, C), *d_dy = dev_copy(dy, nc);
    float *d_y = dev_alloc<float>(nc), *d_mean = dev_alloc<float>(N), *d_rstd = dev_alloc<float>(N);
    /* the backward reads the CPU's saved mean and rstd, so its check measures the backward alone */
    float *d_mean_ref = dev_copy(mean, N), *d_rstd_ref = dev_copy(rstd, N);
    float *d_dx = dev_alloc<float>(nc), *d_dw = dev_alloc<float>(C), *d_db = dev_alloc<float>(C);

    for (int v = 1; v <= 2; v++) {
        if (o->version && o->version != v) continue;
        printf("version %d: %s\n", v, versions[v]);
        dev_poison(d_y, nc), dev_poison(d_mean, N), dev_poison(d_rstd, N);
        to_dev(d_dx, dx0, nc), to_dev(d_dw, dw0, C), to_dev(d_db, db0, C);
        layernorm_forward(v, d_y, d_mean, d_rstd, d_x, d_w, d_b, N, C);
        layernorm_backward(v, d_dx, d_dw, d_db, d_dy, d_x, d_mean_ref, d_rstd_ref, d_w, N, C);
        CUDA_CHECK(cudaDeviceSynchronize());
        /* Forward: the row sums run in another order than the CPU's vector lanes. With inputs all near 2
         * the partial sums grow with the row, and a CPU emulation of both orders at C = 512 found the
         * means up to 2.4e-6 apart, so y (|xhat w| < 1.8) up to 4.1e-6; that difference grows like
         * sqrt(C). Tolerances: 5x that, scaled by sqrt(C / 512); rsqrtf (version 2) adds 2 ulp to rstd. */
        double f = C > 512 ? sqrt(C / 512.0) : 1.0;
        check_close("forward y", d_y, y, nc, 2e-5 * f, 1e-5);
        check_close("forward mean", d_mean, mean, N, 1e-5 * f, 1e-5);
        check_close("forward rstd", d_rstd, rstd, N, 1e-6, 1e-5 * f);
        /* dx: per-row sums as above, then a few roundings of terms of size ~1 to ~5 (plus the start value) */
        check_close("backward dx", d_dx, dx, nc, 1e-5, 1e-5);
        /* dw, db: sums over N rows (plus the start value) of terms up to |dy xhat| < 2 and |dy| < 1 */
        check_close("backward dw", d_dw, dw, C, sum_tol(N + 1, 2.0), 1e-5);
        check_close("backward db", d_db, db, C, sum_tol(N + 1, 1.0), 1e-5);
        if (v == 2) lib_check("layernorm");

        float ms = bench_time_ms(o->repeat, [&] { layernorm_forward(v, d_y, d_mean, d_rstd, d_x, d_w, d_b, N, C); });
        bench_report("forward", ms, 2.0 * nc * sizeof(float));
        ms = bench_time_ms(o->repeat, [&] {
            layernorm_backward(v, d_dx, d_dw, d_db, d_dy, d_x, d_mean_ref, d_rstd_ref, d_w, N, C);
        });
        bench_report("backward", ms, 4.0 * nc * sizeof(float)); /* dy, x, dx read; dx written */
        if (v == 2) lib_check("layernorm");
    }

    dev_free(d_x, d_w, d_b, d_dy, d_y, d_mean, d_rstd, d_mean_ref, d_rstd_ref, d_dx, d_dw, d_db);
    free(x), free(w), free(b), free(dy), free(dx0), free(dw0), free(db0);
    free(y), free(mean), free(rstd), free(dx), free(dw), free(db);
}

int main(int argc, char **argv) {
    int B = 8, T = 1024, C = 512;
    bench_flag flags[] = {{"-B", &B, 1, 4096, "batch size"},
                          {"-T", &T, 1, 65536, "sequence length (rows N = B*T)"},
                          {"-C", &C, 1, 16384, "channels (the normalised width)"}};
    bench_opts o = bench_parse(argc, argv, "Layer norm forward and backward: CPU reference vs GPU kernel versions.",
                               flags, N_ELEMS(flags), 2);
    if ((long long)B * T > 16 * 1024 * 1024) {
        fprintf(stderr, "layernorm: B*T = %lld rows is more than this workbench allocates\n", (long long)B * T);
        return 2;
    }
    if (!bench_device()) return bench_summary("cuda_layernorm");
    run_shape(B * T, C, &o);
    if (o.validate) {
        run_shape(97, 1003, &o); /* a width that is no multiple of 32 or 4, a row count no multiple of 8 */
        run_shape(33, 20, &o);   /* rows narrower than a warp: idle lanes in every reduction */
        run_shape(9, 8192, &o);  /* 64 KiB of shared memory: past the default 48 KiB, opted in */
        run_shape(5, 40000, &o); /* 2C floats past a block's shared memory: version 2's fallback */
    }
    return bench_summary("cuda_layernorm");
}

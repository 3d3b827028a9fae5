/* AdamW on the GPU: the kernel workbench for src/nn/cuda/ (STYLE.md). The reference is the
 * library's cdz_adamw_step (src/nn/cpu/optim.c), PyTorch's torch.optim.AdamW (Loshchilov and Hutter,
 * "Decoupled weight decay regularization", ICLR 2019): for step t counted from 1,
 *   p -= lr wd p                                      the decay first, on the weights, not via the gradient
 *   m  = b1 m + (1 - b1) g,   v = b2 v + (1 - b2) g^2
 *   p -= (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)     PyTorch's arrangement of the bias corrections
 * The two corrections are computed once per step on the host, in double as the CPU does, and passed
 * to the kernel as the same two floats (step_size, root_c2).
 *
 *   build/cuda-dev/adamw [--version 0|1|2] [--validate] [-n 16777216] [--repeat 100]
 *
 * Version 1: one thread per parameter doing the CPU's float operations in the CPU's order, with the
 *            rounding intrinsics (__fmul_rn, ...) so that nvcc fuses no multiply-add: the result
 *            should agree with the CPU's bit for bit.
 * Version 2: the library's (cdz_cuda_adamw_step, src/nn/cuda/optim.cu): version 1's operations,
 *            four parameters per thread through float4 loads and stores (one per thread when a
 *            pointer is not 16-byte aligned), so also bit for bit. (The workbench's earlier version 2,
 *            float4 with plain expressions that nvcc may fuse into FMAs, was dropped for it: the same
 *            traffic, and results a few ulp from the CPU's.) Memory-bound: 7 floats of traffic per
 *            parameter either way. */
#include "common.h"

/* The constants of one step. */
struct adamw_step_consts {
    float lr, beta1, beta2, eps, weight_decay, step_size, root_c2;
};

static adamw_step_consts step_consts(const cdz_adamw_params *p, int64_t step) {
    /* exactly src/nn/cpu/optim.c: double corrections, rounded to float once */
    double c1 = 1.0 - pow(p->beta1, (double)step), c2 = 1.0 - pow(p->beta2, (double)step);
    adamw_step_consts k = {p->lr, p->beta1, p->beta2, p->eps, p->weight_decay, (float)(p->lr / c1),
                           (float)sqrt(c2)};
    return k;
}

/* ---------------- version 1: the CPU's operations, bit for bit ---------------- */

__global__ void adamw1(float *params, const float *grads, float *m, float *v, size_t n, adamw_step_consts k) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float g = grads[i], p = params[i];
    p = __fsub_rn(p, __fmul_rn(__fmul_rn(k.lr, k.weight_decay), p));     /* p -= lr * wd * p */
    float mi = __fadd_rn(__fmul_rn(k.beta1, m[i]), __fmul_rn(__fsub_rn(1.0f, k.beta1), g));
    float vi = __fadd_rn(__fmul_rn(k.beta2, v[i]), __fmul_rn(__fmul_rn(__fsub_rn(1.0f, k.beta2), g), g));
    float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), k.root_c2), k.eps); /* sqrt(v) / root_c2 + eps */
    p = __fsub_rn(p, __fdiv_rn(__fmul_rn(k.step_size, mi), denom));       /* p -= step_size * m / denom */
    params[i] = p, m[i] = mi, v[i] = vi;
}

/* ---------------- dispatch ---------------- */

static const char *const versions[] = {"", "a thread per parameter, the CPU's roundings exactly",
                                       "the library's: float4, four parameters per thread, the CPU's roundings"};

static void adamw_step(int version, float *params, const float *grads, float *m, float *v, size_t n,
                       const cdz_adamw_params *p, int64_t step) {
    if (version == 1) {
        adamw1<<<ceil_div((long long)n, 256), 256>>>(params, grads, m, v, n, step_consts(p, step));
    } else {
        cdz_cuda_adamw_step(params, grads, m, v, n, p, step); /* records its errors: lib_check */
    }
    CUDA_CHECK(cudaGetLastError());
}

/* ---------------- one size: the CPU reference, then every chosen version ---------------- */

#define STEPS 3 /* steps 1 to 3 from zero moments, as at the start of training: the bias corrections matter most */

static void run_size(size_t n, const bench_opts *o) {
    printf("== adamw n=%zu, %d steps\n", n, STEPS);
    cdz_rng rng;
    cdz_rng_seed(&rng, (uint64_t)o->seed);
    cdz_adamw_params hp = cdz_adamw_default_params();
    /* 10x the default decay, so that a missing or coupled (L2-style) decay shows far above the tolerance */
    hp.weight_decay = 0.1f;
    float *params0 = HOST_ALLOC(float, n), *grads[STEPS];
    fill_uniform(params0, n, -1.0f, 1.0f, &rng);
    for (int s = 0; s < STEPS; s++) {
        grads[s] = HOST_ALLOC(float, n);
        fill_uniform(grads[s], n, -1.0f, 1.0f, &rng);
    }
    float *params = HOST_ALLOC(float, n), *m = HOST_ALLOC(float, n), *v = HOST_ALLOC(float, n);
    memcpy(params, params0, n * sizeof *params);
    memset(m, 0, n * sizeof *m), memset(v, 0, n * sizeof *v);
    double t0 = host_ms();
    for (int s = 0; s < STEPS; s++) cdz_adamw_step(params, grads[s], m, v, n, &hp, s + 1);
    printf("cpu reference: %.3f ms a step\n", (host_ms() - t0) / STEPS);

    float *d_params = dev_alloc<float>(n), *d_m = dev_alloc<float>(n), *d_v = dev_alloc<float>(n), *d_grads[STEPS];
    for (int s = 0; s < STEPS; s++) d_grads[s] = dev_copy(grads[s], n);
    for (int ver = 1; ver <= 2; ver++) {
        if (o->version && o->version != ver) continue;
        printf("version %d: %s\n", ver, versions[ver]);
        to_dev(d_params, params0, n);
        CUDA_CHECK(cudaMemset(d_m, 0, n * sizeof(float)));
        CUDA_CHECK(cudaMemset(d_v, 0, n * sizeof(float)));
        for (int s = 0; s < STEPS; s++) adamw_step(ver, d_params, d_grads[s], d_m, d_v, n, &hp, s + 1);
        CUDA_CHECK(cudaDeviceSynchronize());
        /* Both versions do the same IEEE float operations in the same order as the CPU (the CPU is
         * built with -std=c11, where GCC contracts nothing into FMAs), so they should agree bit for
         * bit; the slack of 2 FLT_EPSILON relative only covers a CPU built with contraction. */
        double rtol = 2 * FLT_EPSILON, atol = 1e-30;
        check_close("params", d_params, params, n, atol, rtol);
        check_close("m", d_m, m, n, atol, rtol);
        check_close("v", d_v, v, n, atol, rtol);
        if (ver == 2) lib_check("adamw");
        { /* a report, not a check: how many parameters came out identical */
            float *gp = HOST_ALLOC(float, n);
            CUDA_CHECK(cudaMemcpy(gp, d_params, n * sizeof(float), cudaMemcpyDeviceToHost));
            size_t same = 0;
            for (size_t i = 0; i < n; i++) same += memcmp(&gp[i], &params[i], sizeof(float)) == 0;
            printf("  info params bit-identical to the CPU: %zu of %zu\n", same, n);
            free(gp);
        }

        int64_t step = STEPS;
        float ms = bench_time_ms(o->repeat, [&] { adamw_step(ver, d_params, d_grads[0], d_m, d_v, n, &hp, ++step); });
        bench_report("step", ms, 7.0 * n * sizeof(float)); /* params, m, v read and written; grads read */
        if (ver == 2) lib_check("adamw");
    }
    dev_free(d_params, d_m, d_v);
    for (int s = 0; s < STEPS; s++) dev_free(d_grads[s]), free(grads[s]);
    free(params0), free(params), free(m), free(v);
}

int main(int argc, char **argv) {
    int n = 1 << 24;
    bench_flag flags[] = {{"-n", &n, 1, 1 << 30, "number of parameters (16M: 64 MB per array, past the L2)"}};
    bench_opts o = bench_parse(argc, argv, "AdamW step: CPU reference vs GPU kernel versions.", flags, N_ELEMS(flags), 2);
    if (!bench_device()) return bench_summary("cuda_adamw");
    run_size((size_t)n, &o);
    if (o.validate) run_size(1000003, &o); /* n % 4 = 3: version 2's tail */
    return bench_summary("cuda_adamw");
}

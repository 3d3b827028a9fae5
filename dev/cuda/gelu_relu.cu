/* GELU (the exact erf form) and ReLU, forward and backward, on the GPU: the kernel workbench for
 * src/nn/cuda/ (STYLE.md). The reference is the library's cdz_gelu_forward / cdz_gelu_backward /
 * cdz_relu_forward / cdz_relu_backward (src/nn/cpu/transformer.c):
 *   gelu(x) = 0.5 x (1 + erf(x / sqrt 2))          (PyTorch F.gelu's default, not the tanh form)
 *   dx += dy (Phi(x) + x phi(x))                    Phi, phi the standard normal CDF and density
 *   relu(x) = max(x, 0),  dx += dy where x > 0      (the gradient at 0 is 0, as PyTorch)
 *
 *   build/cuda-dev/gelu_relu [--version 0|1|2] [--validate] [-B 8] [-T 1024] [-C 512] [--repeat 100]
 * The size is that of a GPT MLP's hidden layer, n = B*T*4C, where the activation sits.
 *
 * Version 1: one thread per element.
 * Version 2: the library's (cdz_cuda_gelu_* / cdz_cuda_relu_*, src/nn/cuda/transformer.cu): four
 *            elements per thread through 16-byte loads and stores (float4), a quarter of the memory
 *            instructions for the same bytes; the last n % 4 elements go one per thread, and so does
 *            everything when a pointer is not 16-byte aligned. Both should be bound by memory
 *            bandwidth (an erf is some 20 instructions per 8 bytes moved): the timings will tell. */
#include "common.h"

#define SQRT1_2 0.70710678118654752f     /* 1/sqrt(2) */
#define INV_SQRT_2PI 0.39894228040143268f /* 1/sqrt(2 pi) */

/* CUDA's erff and expf: within 2 ulp (CUDA C Programming Guide, "Mathematical Functions"), not the
 * faster __expf, so the GPU stays within a few ulp of the CPU's libm. */
__device__ inline float gelu(float x) { return 0.5f * x * (1.0f + erff(x * SQRT1_2)); }
__device__ inline float gelu_grad(float x) {
    float cdf = 0.5f * (1.0f + erff(x * SQRT1_2)), pdf = INV_SQRT_2PI * expf(-0.5f * x * x);
    return cdf + x * pdf;
}
__device__ inline float relu(float x) { return x > 0.0f ? x : 0.0f; }
__device__ inline float relu_grad_times(float x, float dy) { return x > 0.0f ? dy : 0.0f; }

/* ---------------- version 1: a thread per element ---------------- */

__global__ void gelu_forward1(float *y, const float *x, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = gelu(x[i]);
}
__global__ void gelu_backward1(float *dx, const float *dy, const float *x, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dx[i] += dy[i] * gelu_grad(x[i]);
}
__global__ void relu_forward1(float *y, const float *x, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) y[i] = relu(x[i]);
}
__global__ void relu_backward1(float *dx, const float *dy, const float *x, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dx[i] += relu_grad_times(x[i], dy[i]);
}

/* ---------------- dispatch ---------------- */

static const char *const versions[] = {"", "a thread per element", "the library's: float4, four elements per thread"};
enum { GELU_FWD, GELU_BWD, RELU_FWD, RELU_BWD };
static const char *const pass_names[] = {"gelu forward", "gelu backward", "relu forward", "relu backward"};

/* pass: GELU_FWD etc. Forward: out = f(x). Backward: out (dx) += dy f'(x). */
static void activation(int version, int pass, float *out, const float *dy, const float *x, size_t n) {
    const int block = 256;
    if (version == 1) {
        int grid = ceil_div((long long)n, block);
        switch (pass) {
        case GELU_FWD: gelu_forward1<<<grid, block>>>(out, x, n); break;
        case GELU_BWD: gelu_backward1<<<grid, block>>>(out, dy, x, n); break;
        case RELU_FWD: relu_forward1<<<grid, block>>>(out, x, n); break;
        default: relu_backward1<<<grid, block>>>(out, dy, x, n); break;
        }
    } else { /* the library's: records its errors (lib_check) */
        switch (pass) {
        case GELU_FWD: cdz_cuda_gelu_forward(out, x, n); break;
        case GELU_BWD: cdz_cuda_gelu_backward(out, dy, x, n); break;
        case RELU_FWD: cdz_cuda_relu_forward(out, x, n); break;
        default: cdz_cuda_relu_backward(out, dy, x, n); break;
        }
    }
    CUDA_CHECK(cudaGetLastError());
}

/* ---------------- one size: the CPU reference, then every chosen version ---------------- */

static void run_size(size_t n, const bench_opts *o) {
    printf("== gelu_relu n=%zu\n", n);
    cdz_rng rng;
    cdz_rng_seed(&rng, (uint64_t)o->seed);
    float *x = HOST_ALLOC(float, n), *dy = HOST_ALLOC(float, n), *dx0 = HOST_ALLOC(float, n);
    fill_uniform(x, n, -5.0f, 5.0f, &rng); /* both tails of erf and the region around 0 */
    for (size_t i = 0; i < n; i += 97) x[i] = 0.0f; /* ReLU's kink: the gradient at exactly 0 is 0 */
    fill_uniform(dy, n, -1.0f, 1.0f, &rng);
    fill_uniform(dx0, n, -1.0f, 1.0f, &rng); /* backward adds into dx */

    float *ref[4];
    double cpu_ms[4];
    for (int p = 0; p < 4; p++) {
        ref[p] = HOST_ALLOC(float, n);
        if (p == GELU_BWD || p == RELU_BWD) memcpy(ref[p], dx0, n * sizeof(float));
        double t = host_ms();
        if (p == GELU_FWD) cdz_gelu_forward(ref[p], x, n);
        else if (p == GELU_BWD) cdz_gelu_backward(ref[p], dy, x, n);
        else if (p == RELU_FWD) cdz_relu_forward(ref[p], x, n);
        else cdz_relu_backward(ref[p], dy, x, n);
        cpu_ms[p] = host_ms() - t;
    }
    printf("cpu reference: gelu %.3f + %.3f ms, relu %.3f + %.3f ms (forward + backward)\n", cpu_ms[0], cpu_ms[1],
           cpu_ms[2], cpu_ms[3]);

    float *d_x = dev_copy(x, n), *d_dy = dev_copy(dy, n), *d_out = dev_alloc<float>(n);
    /* Tolerances. GELU: erff and expf differ from glibc's by a few ulp. Where erf(x/sqrt 2) nears -1
     * (x << 0) the sum 1 + erf cancels, so the relative error of y grows but its absolute error stays
     * near 0.5 |x| 3 ulp(1) < 1e-6 for |x| <= 5: hence an absolute floor of 2e-6 beside 1e-5 relative.
     * The backward's Phi + x phi has the same absolute error, times |dy| <= 1, plus dx's rounding.
     * ReLU: a comparison and one addition, the same IEEE operations on both sides: exact. */
    const double atol[4] = {2e-6, 2e-6, 0, 0}, rtol[4] = {1e-5, 1e-5, 0, 0};
    for (int v = 1; v <= 2; v++) {
        if (o->version && o->version != v) continue;
        printf("version %d: %s\n", v, versions[v]);
        for (int p = 0; p < 4; p++) {
            bool bwd = p == GELU_BWD || p == RELU_BWD;
            if (bwd) to_dev(d_out, dx0, n);
            else dev_poison(d_out, n);
            activation(v, p, d_out, bwd ? d_dy : NULL, d_x, n);
            CUDA_CHECK(cudaDeviceSynchronize());
            check_close(pass_names[p], d_out, ref[p], n, atol[p], rtol[p]);
        }
        if (v == 2) lib_check("gelu_relu");
        for (int p = 0; p < 4; p++) {
            bool bwd = p == GELU_BWD || p == RELU_BWD;
            float ms = bench_time_ms(o->repeat, [&] { activation(v, p, d_out, bwd ? d_dy : NULL, d_x, n); });
            bench_report(pass_names[p], ms, (bwd ? 4.0 : 2.0) * n * sizeof(float)); /* x (dy, dx) read, out written */
        }
        if (v == 2) lib_check("gelu_relu");
    }
    dev_free(d_x, d_dy, d_out);
    for (int p = 0; p < 4; p++) free(ref[p]);
    free(x), free(dy), free(dx0);
}

int main(int argc, char **argv) {
    int B = 8, T = 1024, C = 512;
    bench_flag flags[] = {{"-B", &B, 1, 4096, "batch size"},
                          {"-T", &T, 1, 65536, "sequence length"},
                          {"-C", &C, 1, 16384, "channels (n = B*T*4C elements, a GPT MLP's hidden layer)"}};
    bench_opts o = bench_parse(argc, argv, "GELU and ReLU forward and backward: CPU reference vs GPU kernel versions.",
                               flags, N_ELEMS(flags), 2);
    size_t n = (size_t)B * T * 4 * C;
    if (n > ((size_t)1 << 30)) {
        fprintf(stderr, "gelu_relu: B*T*4C = %zu elements is more than this workbench allocates\n", n);
        return 2;
    }
    if (!bench_device()) return bench_summary("cuda_gelu_relu");
    run_size(n, &o);
    if (o.validate) run_size(1000003, &o); /* a prime: version 2's tail of n % 4 = 3 elements */
    return bench_summary("cuda_gelu_relu");
}

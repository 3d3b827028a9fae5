/* The LSTM cell's fused elementwise step, forward and backward, on the GPU: the kernel workbench for
 * src/nn/cuda/ (STYLE.md). The matrix products around it (z = x W_ih^T + h W_hh^T + b) are cuBLAS's
 * work; this is what runs between them at every time step. The reference is the library's
 * cdz_lstm_cell_forward / cdz_lstm_cell_backward (src/nn/cpu/lstm.c), gate order i, f, g, o as
 * PyTorch, each gate a block of H in a row of 4H:
 *   i = sigmoid(z_i), f = sigmoid(z_f), g = tanh(z_g), o = sigmoid(z_o)    (written over z: saved)
 *   c = f c_prev + i g,  h = o tanh(c)                                    (c_prev NULL: zeros)
 * and back, from dh, dc at the step's outputs:
 *   dc_t = dc + dh o (1 - tanh(c)^2)
 *   dz_i = dc_t g i (1 - i),  dz_f = dc_t c_prev f (1 - f),  dz_g = dc_t i (1 - g^2),
 *   dz_o = dh tanh(c) o (1 - o),  dc_prev = dc_t f                         (dc_prev may be dc itself)
 *
 *   build/cuda-dev/lstm_gates [--version 0|1|2] [--validate] [-B 1024] [-H 1024] [--repeat 100]
 *
 * Version 1: one thread per (row, unit): four gate loads 4 H floats apart, each coalesced across the warp.
 * Version 2: the library's (cdz_cuda_lstm_cell_forward / _backward, src/nn/cuda/lstm.cu): four units
 *            per thread through float4 loads and stores when H is a multiple of 4 (every gate block
 *            then starts 16-byte aligned) and the pointers are aligned; otherwise one unit per
 *            thread, as version 1. */
#include "common.h"

/* CUDA's expf and tanhf (2 ulp), not the faster __expf: the CPU's own are accurate to a few ulp too. */
__device__ inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* One unit's forward: z holds the four pre-activations in, the activations out. */
__device__ inline void cell_forward(float4 &z, float &c, float &h, float c_prev) {
    float i = sigmoid(z.x), f = sigmoid(z.y), g = tanhf(z.z), o = sigmoid(z.w);
    z = make_float4(i, f, g, o);
    c = f * c_prev + i * g;
    h = o * tanhf(c);
}

/* One unit's backward: a holds the saved activations (i, f, g, o); dz receives the pre-activation
 * gradients; returns dc_prev. */
__device__ inline float cell_backward(float4 &dz, float4 a, float dh, float dc, float c, float c_prev) {
    float tc = tanhf(c), dct = dc + dh * a.w * (1 - tc * tc);
    dz = make_float4(dct * a.z * a.x * (1 - a.x), dct * c_prev * a.y * (1 - a.y), dct * a.x * (1 - a.z * a.z),
                     dh * tc * a.w * (1 - a.w));
    return dct * a.y;
}

/* ---------------- version 1: a thread per (row, unit) ---------------- */

__global__ void lstm_cell_forward1(float *h, float *c, float *gates, const float *c_prev, int B, int H) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * H) return;
    size_t b = i / H, k = i % H;
    float *z = gates + b * 4 * H + k; /* the unit's four gates, H apart */
    float4 g = make_float4(z[0], z[H], z[2 * H], z[3 * H]);
    cell_forward(g, c[i], h[i], c_prev ? c_prev[i] : 0.0f);
    z[0] = g.x, z[H] = g.y, z[2 * H] = g.z, z[3 * H] = g.w;
}

/* dc_prev may alias dc: each thread reads its dc before writing its dc_prev (no __restrict__ there). */
__global__ void lstm_cell_backward1(float *dgates, float *dc_prev, const float *dh, const float *dc,
                                    const float *gates, const float *c, const float *c_prev, int B, int H) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)B * H) return;
    size_t b = i / H, k = i % H;
    const float *a = gates + b * 4 * H + k;
    float *dz = dgates + b * 4 * H + k;
    float4 d;
    dc_prev[i] = cell_backward(d, make_float4(a[0], a[H], a[2 * H], a[3 * H]), dh[i], dc[i], c[i],
                               c_prev ? c_prev[i] : 0.0f);
    dz[0] = d.x, dz[H] = d.y, dz[2 * H] = d.z, dz[3 * H] = d.w;
}

/* ---------------- dispatch ---------------- */

static const char *const versions[] = {"", "a thread per (row, unit)", "the library's: float4, four units per thread"};

/* Version 2 calls the library, which records its errors (lib_check). */
static void lstm_cell_forward(int version, float *h, float *c, float *gates, const float *c_prev, int B, int H) {
    if (version == 2) cdz_cuda_lstm_cell_forward(h, c, gates, c_prev, B, H);
    else lstm_cell_forward1<<<ceil_div((long long)B * H, 256), 256>>>(h, c, gates, c_prev, B, H);
    CUDA_CHECK(cudaGetLastError());
}

static void lstm_cell_backward(int version, float *dgates, float *dc_prev, const float *dh, const float *dc,
                               const float *gates, const float *c, const float *c_prev, int B, int H) {
    if (version == 2) cdz_cuda_lstm_cell_backward(dgates, dc_prev, dh, dc, gates, c, c_prev, B, H);
    else lstm_cell_backward1<<<ceil_div((long long)B * H, 256), 256>>>(dgates, dc_prev, dh, dc, gates, c, c_prev, B, H);
    CUDA_CHECK(cudaGetLastError());
}

/* ---------------- one shape: the CPU reference, then every chosen version ---------------- */

/* with_prev: a previous cell state (else NULL, the first step); in_place: dc_prev written over dc, as
 * the CPU's backpropagation through time calls it. */
static void run_shape(int B, int H, bool with_prev, bool in_place, const bench_opts *o) {
    printf("== lstm_gates B=%d H=%d, %s, dc_prev %s\n", B, H, with_prev ? "c_prev given" : "c_prev NULL (zeros)",
           in_place ? "over dc" : "separate");
    size_t bh = (size_t)B * H, bg = 4 * bh;
    cdz_rng rng;
    cdz_rng_seed(&rng, (uint64_t)o->seed);
    float *z = HOST_ALLOC(float, bg), *c_prev = HOST_ALLOC(float, bh), *dh = HOST_ALLOC(float, bh),
          *dc = HOST_ALLOC(float, bh);
    fill_uniform(z, bg, -4.0f, 4.0f, &rng); /* pre-activations: the saturated ends and the linear middle */
    fill_uniform(c_prev, bh, -2.0f, 2.0f, &rng);
    fill_uniform(dh, bh, -1.0f, 1.0f, &rng);
    fill_uniform(dc, bh, -1.0f, 1.0f, &rng);
    const float *cp = with_prev ? c_prev : NULL;

    float *gates = HOST_ALLOC(float, bg), *h = HOST_ALLOC(float, bh), *c = HOST_ALLOC(float, bh);
    float *dgates = HOST_ALLOC(float, bg), *dc_prev = HOST_ALLOC(float, bh);
    memcpy(gates, z, bg * sizeof *gates);
    memcpy(dc_prev, dc, bh * sizeof *dc_prev); /* the in-place call's dc */
    double t0 = host_ms();
    cdz_lstm_cell_forward(h, c, gates, cp, B, H);
    double t1 = host_ms();
    cdz_lstm_cell_backward(dgates, dc_prev, dh, in_place ? dc_prev : dc, gates, c, cp, B, H);
    printf("cpu reference: forward %.3f ms, backward %.3f ms\n", t1 - t0, host_ms() - t1);

    float *d_z = dev_copy(z, bg), *d_gates = dev_alloc<float>(bg), *d_h = dev_alloc<float>(bh),
          *d_c = dev_alloc<float>(bh);
    float *d_cp = with_prev ? dev_copy(c_prev, bh) : NULL, *d_dh = dev_copy(dh, bh), *d_dc = dev_alloc<float>(bh);
    float *d_dgates = dev_alloc<float>(bg), *d_dc_prev = in_place ? d_dc : dev_alloc<float>(bh);
    /* the backward reads the CPU's saved activations and c: its check is of the backward alone */
    float *d_gates_ref = dev_copy(gates, bg), *d_c_ref = dev_copy(c, bh);

    for (int v = 1; v <= 2; v++) {
        if (o->version && o->version != v) continue;
        printf("version %d: %s\n", v, versions[v]);
        CUDA_CHECK(cudaMemcpy(d_gates, d_z, bg * sizeof(float), cudaMemcpyDeviceToDevice));
        dev_poison(d_h, bh), dev_poison(d_c, bh), dev_poison(d_dgates, bg);
        to_dev(d_dc, dc, bh);
        if (!in_place) dev_poison(d_dc_prev, bh);
        lstm_cell_forward(v, d_h, d_c, d_gates, d_cp, B, H);
        lstm_cell_backward(v, d_dgates, d_dc_prev, d_dh, d_dc, d_gates_ref, d_c_ref, d_cp, B, H);
        CUDA_CHECK(cudaDeviceSynchronize());
        /* Forward: the CPU's exp and tanh (nn_internal.h: relative error < 3e-7, tanh absolute < 1e-7)
         * against CUDA's expf and tanhf (2 ulp) make the activations differ by < 5e-7; c = f c_prev + i g
         * with |c_prev| <= 2 carries about 3x that, h = o tanh(c) a little more, plus fused multiply-adds
         * on the GPU. 1e-5 absolute and relative: a 4x margin over a bound of ~2.5e-6. */
        check_close("forward gates", d_gates, gates, bg, 1e-5, 1e-5);
        check_close("forward c", d_c, c, bh, 1e-5, 1e-5);
        check_close("forward h", d_h, h, bh, 1e-5, 1e-5);
        /* Backward: products of up to four factors (|dc_t| <= 2, |c_prev| <= 2, the rest <= 1), each with
         * the error of one tanh or of the rounding above: a bound of ~5e-6; 2e-5 leaves a 4x margin. */
        check_close("backward dgates", d_dgates, dgates, bg, 2e-5, 2e-5);
        check_close("backward dc_prev", d_dc_prev, dc_prev, bh, 2e-5, 2e-5);
        if (v == 2) lib_check("lstm_gates");

        /* Timing reruns the forward over its own output (activations of activations): the same work. */
        float ms = bench_time_ms(o->repeat, [&] { lstm_cell_forward(v, d_h, d_c, d_gates, d_cp, B, H); });
        bench_report("forward", ms, (2.0 * bg + (with_prev ? 3.0 : 2.0) * bh) * sizeof(float));
        ms = bench_time_ms(o->repeat, [&] {
            lstm_cell_backward(v, d_dgates, d_dc_prev, d_dh, d_dc, d_gates_ref, d_c_ref, d_cp, B, H);
        });
        bench_report("backward", ms, (2.0 * bg + (with_prev ? 5.0 : 4.0) * bh) * sizeof(float));
        if (v == 2) lib_check("lstm_gates");
    }
    dev_free(d_z, d_gates, d_h, d_c, d_dh, d_dc, d_dgates, d_gates_ref, d_c_ref);
    if (d_cp) dev_free(d_cp);
    if (!in_place) dev_free(d_dc_prev);
    free(z), free(c_prev), free(dh), free(dc), free(gates), free(h), free(c), free(dgates), free(dc_prev);
}

int main(int argc, char **argv) {
    int B = 1024, H = 1024;
    bench_flag flags[] = {{"-B", &B, 1, 1 << 20, "rows (sequences in the batch at one step)"},
                          {"-H", &H, 1, CDZ_LSTM_MAX_WIDTH, "units (the CPU cell takes at most CDZ_LSTM_MAX_WIDTH)"}};
    bench_opts o = bench_parse(argc, argv, "LSTM cell gate step forward and backward: CPU reference vs GPU kernel versions.",
                               flags, N_ELEMS(flags), 2);
    if ((long long)B * H * 4 > (1LL << 30)) {
        fprintf(stderr, "lstm_gates: 4*B*H = %lld gates is more than this workbench allocates\n", 4LL * B * H);
        return 2;
    }
    if (!bench_device()) return bench_summary("cuda_lstm_gates");
    run_shape(B, H, true, true, &o);
    if (o.validate) {
        run_shape(37, 203, true, false, &o); /* H no multiple of 4: version 2 takes a unit per thread; dc_prev separate */
        run_shape(16, 64, false, true, &o);  /* the first step: no previous cell state */
    }
    return bench_summary("cuda_lstm_gates");
}

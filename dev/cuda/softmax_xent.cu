/* Fused softmax + cross-entropy, forward and backward, on the GPU: the kernel workbench for
 * src/nn/cuda/ (STYLE.md). The reference is the library's cdz_softmax_xent_forward / _backward
 * (src/nn/cpu/layers.c):
 *   probs (N, V) = softmax(logits), the row max subtracted;
 *   loss = mean over the rows whose target is not CDZ_IGNORE_TARGET of -log probs[target]
 *          (probs below 1e-30 count as 1e-30; 0 when no row counts);
 *   dlogits (N, V) += (probs - onehot(target)) / count, nothing for ignored rows.
 *
 *   build/cuda-dev/softmax_xent [--version 0|1|2] [--validate] [-B 8] [-T 1024] [-V 388] [--repeat 100]
 * V defaults to 388, the performance vocabulary (codec/); -V 50257 gives GPT-2's.
 *
 * Forward, both versions: the row kernel writes probs, then one block sums the counted rows' losses
 * in double, as the CPU does, in a fixed order (deterministic), and the loss comes back to the host
 * (both versions time that copy). Backward, both versions: one block counts the counted targets,
 * then the gradient kernel.
 * Version 1: one thread per row walks it three times (max, exponentials and their sum, scaling),
 *            the sum in double as the CPU's, and writes each row's loss; a warp's loads are V floats
 *            apart. Backward: one thread per element.
 * Version 2: the library's (cdz_cuda_softmax_xent_forward / _backward, src/nn/cuda/layers.cu): one
 *            block per row, loads coalesced; the max and the sum of exponentials in one pass (the
 *            online normaliser of Milakov and Gimelshein, "Online normalizer calculation for
 *            softmax", 2018), then one pass that writes probs; the loss block reads each counted
 *            row's probability back from probs. Backward: one block per row, so an ignored row costs
 *            one read of its target, with the CPU's roundings exactly (no fused multiply-add). */
#include "common.h"

/* ---------------- version 1: the loss and the count ---------------- */

#define REDUCE_THREADS 1024

/* loss = the mean of losses over the counted rows; one block, double sums as the CPU's. */
__global__ void xent_mean(float *loss, const float *losses, const uint16_t *targets, int N) {
    double sum = 0;
    int count = 0;
    for (int n = threadIdx.x; n < N; n += blockDim.x)
        if (targets[n] != CDZ_IGNORE_TARGET) sum += losses[n], count++;
    sum = block_sum(sum);
    count = block_sum(count);
    if (threadIdx.x == 0) *loss = count ? (float)(sum / count) : 0.0f;
}

/* The backward's count of counted rows, as the CPU's counted(). */
__global__ void xent_count(int *count, const uint16_t *targets, int N) {
    int c = 0;
    for (int n = threadIdx.x; n < N; n += blockDim.x) c += targets[n] != CDZ_IGNORE_TARGET;
    c = block_sum(c);
    if (threadIdx.x == 0) *count = c;
}

/* -log p as the CPU takes it: p clamped at 1e-30 (a loss of 69 at most), but a NaN kept, so that the
 * trainer sees it. */
__device__ inline float row_loss(float pt) { return -logf(pt > 1e-30f || isnan(pt) ? pt : 1e-30f); }

/* ---------------- version 1: a thread per row ---------------- */

__global__ void softmax_xent_forward1(float *probs, float *losses, const float *logits, const uint16_t *targets,
                                      int N, int V) {
    int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    const float *l = logits + (size_t)n * V;
    float *p = probs + (size_t)n * V;
    float max = l[0];
    for (int v = 1; v < V; v++) max = fmaxf(max, l[v]);
    double sum = 0;
    for (int v = 0; v < V; v++) sum += p[v] = expf(l[v] - max); /* shifted by the max: no overflow */
    float inv = (float)(1.0 / sum);
    for (int v = 0; v < V; v++) p[v] *= inv;
    losses[n] = targets[n] != CDZ_IGNORE_TARGET ? row_loss(p[targets[n]]) : 0.0f;
}

__global__ void softmax_xent_backward1(float *dlogits, const float *probs, const uint16_t *targets, const int *count,
                                       int N, int V) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * V) return;
    int n = (int)(i / V), v = (int)(i % V), t = targets[n], cnt = *count;
    if (t == CDZ_IGNORE_TARGET || cnt == 0) return;
    float scale = 1.0f / (float)cnt, d = dlogits[i] + probs[i] * scale;
    if (v == t) d -= scale; /* a second rounding, as the CPU's separate subtraction */
    dlogits[i] = d;
}

/* ---------------- dispatch ---------------- */

static const char *const versions[] = {"", "a thread per row; backward a thread per element",
                                       "the library's: a block per row, online max and sum; backward a block per row"};

/* Returns the loss (copied back to the host). losses (N) and loss (1) are version 1's scratch. */
static float softmax_xent_forward(int version, float *loss, float *probs, float *losses, const float *logits,
                                  const uint16_t *targets, int N, int V) {
    if (version == 2) return cdz_cuda_softmax_xent_forward(probs, logits, targets, N, V); /* errors: lib_check */
    softmax_xent_forward1<<<ceil_div(N, 128), 128>>>(probs, losses, logits, targets, N, V);
    CUDA_CHECK(cudaGetLastError());
    xent_mean<<<1, REDUCE_THREADS>>>(loss, losses, targets, N);
    CUDA_CHECK(cudaGetLastError());
    float h_loss;
    CUDA_CHECK(cudaMemcpy(&h_loss, loss, sizeof h_loss, cudaMemcpyDeviceToHost));
    return h_loss;
}

/* count (1) is version 1's scratch. */
static void softmax_xent_backward(int version, float *dlogits, int *count, const float *probs,
                                  const uint16_t *targets, int N, int V) {
    if (version == 2) {
        cdz_cuda_softmax_xent_backward(dlogits, probs, targets, N, V);
        return;
    }
    xent_count<<<1, REDUCE_THREADS>>>(count, targets, N);
    CUDA_CHECK(cudaGetLastError());
    softmax_xent_backward1<<<ceil_div((long long)N * V, 256), 256>>>(dlogits, probs, targets, count, N, V);
    CUDA_CHECK(cudaGetLastError());
}

/* ---------------- one shape: the CPU reference, then every chosen version ---------------- */

/* ignore_every: every how many rows a target is CDZ_IGNORE_TARGET (1: all of them). */
static void run_shape(int N, int V, int ignore_every, const bench_opts *o) {
    printf("== softmax_xent N=%d V=%d, one target in %d ignored\n", N, V, ignore_every);
    size_t nv = (size_t)N * V;
    cdz_rng rng;
    cdz_rng_seed(&rng, (uint64_t)o->seed);
    float *logits = HOST_ALLOC(float, nv), *dlogits0 = HOST_ALLOC(float, nv);
    uint16_t *targets = HOST_ALLOC(uint16_t, N);
    fill_uniform(logits, nv, -4.0f, 4.0f, &rng); /* probabilities across e^8 = 3000x */
    int count = 0;
    for (int n = 0; n < N; n++) {
        targets[n] = n % ignore_every == ignore_every - 1 ? CDZ_IGNORE_TARGET : (uint16_t)cdz_rng_below(&rng, (uint64_t)V);
        count += targets[n] != CDZ_IGNORE_TARGET;
    }
    /* Starting gradients (backward adds into them) of the size of the gradient itself, 1/(V count),
     * so that an addition error shows rather than vanishing in the start value's rounding. */
    double gscale = count ? 1.0 / ((double)V * count) : 1.0;
    fill_uniform(dlogits0, nv, -(float)gscale, (float)gscale, &rng);

    float *probs = HOST_ALLOC(float, nv), *dlogits = HOST_ALLOC(float, nv);
    memcpy(dlogits, dlogits0, nv * sizeof *dlogits);
    double t0 = host_ms();
    float loss = cdz_softmax_xent_forward(probs, logits, targets, N, V);
    double t1 = host_ms();
    cdz_softmax_xent_backward(dlogits, probs, targets, N, V);
    printf("cpu reference: forward %.3f ms, backward %.3f ms, loss %.6f over %d rows\n", t1 - t0, host_ms() - t1, loss,
           count);

    float *d_logits = dev_copy(logits, nv), *d_probs = dev_alloc<float>(nv), *d_losses = dev_alloc<float>(N);
    float *d_loss = dev_alloc<float>(1), *d_dlogits = dev_alloc<float>(nv);
    float *d_probs_ref = dev_copy(probs, nv); /* the backward reads the CPU's probs: its check is of the backward alone */
    uint16_t *d_targets = dev_copy(targets, N);
    int *d_count = dev_alloc<int>(1);

    for (int v = 1; v <= 2; v++) {
        if (o->version && o->version != v) continue;
        printf("version %d: %s\n", v, versions[v]);
        dev_poison(d_probs, nv), dev_poison(d_loss, 1);
        to_dev(d_dlogits, dlogits0, nv);
        float gpu_loss = softmax_xent_forward(v, d_loss, d_probs, d_losses, d_logits, d_targets, N, V);
        softmax_xent_backward(v, d_dlogits, d_count, d_probs_ref, d_targets, N, V);
        CUDA_CHECK(cudaDeviceSynchronize());
        /* probs: expf within 2 ulp of glibc's, and a row sum of V terms in another order (a float block
         * tree against the CPU's double): a CPU emulation of the tree at V = 50257 erred by 9.4e-7
         * relative at most. 1e-5 relative leaves a 10x margin. */
        check_close("forward probs", d_probs, probs, nv, 1e-12, 1e-5);
        /* loss: the mean of per-row -log p, each within ~1e-6 relative (as probs), in double */
        check_value("forward loss", gpu_loss, loss, 1e-6, 1e-5);
        /* dlogits: start value + probs/count, and -1/count at the target: two roundings on values of
         * size ~1/(V count) (1/count at the target), the product perhaps fused (FMA) in version 1;
         * version 2 does the CPU's roundings exactly (tests/test_cuda.c checks it bit for bit) */
        check_close("backward dlogits", d_dlogits, dlogits, nv, 1e-5 * gscale, 1e-5);
        if (v == 2) lib_check("softmax_xent");

        float ms = bench_time_ms(o->repeat, [&] {
            softmax_xent_forward(v, d_loss, d_probs, d_losses, d_logits, d_targets, N, V);
        });
        bench_report("forward", ms, 2.0 * nv * sizeof(float)); /* logits read, probs written */
        ms = bench_time_ms(o->repeat, [&] { softmax_xent_backward(v, d_dlogits, d_count, d_probs_ref, d_targets, N, V); });
        bench_report("backward", ms, 3.0 * nv * sizeof(float)); /* probs, dlogits read; dlogits written */
        if (v == 2) lib_check("softmax_xent");
    }
    dev_free(d_logits, d_probs, d_losses, d_loss, d_dlogits, d_probs_ref, d_targets, d_count);
    free(logits), free(dlogits0), free(targets), free(probs), free(dlogits);
}

int main(int argc, char **argv) {
    int B = 8, T = 1024, V = 388;
    bench_flag flags[] = {{"-B", &B, 1, 4096, "batch size"},
                          {"-T", &T, 1, 65536, "sequence length (rows N = B*T)"},
                          {"-V", &V, 1, 65535, "vocabulary size (targets are uint16; 65535 is CDZ_IGNORE_TARGET)"}};
    bench_opts o = bench_parse(argc, argv,
                               "Softmax + cross-entropy forward and backward: CPU reference vs GPU kernel versions.",
                               flags, N_ELEMS(flags), 2);
    if ((long long)B * T * V > (1LL << 31) - 1) { /* the products index with int rows, size_t elements */
        fprintf(stderr, "softmax_xent: B*T*V = %lld is more than this workbench allocates\n", (long long)B * T * V);
        return 2;
    }
    if (!bench_device()) return bench_summary("cuda_softmax_xent");
    run_shape(B * T, V, 10, &o);
    if (o.validate) {
        run_shape(129, 50257, 7, &o); /* GPT-2's vocabulary: rows of 196 elements per thread (version 2) */
        run_shape(5, 33, 1, &o);      /* every target ignored: loss 0, no gradient */
        run_shape(3, 1, 2, &o);       /* a vocabulary of one: probability 1, loss 0 */
    }
    return bench_summary("cuda_softmax_xent");
}

/* Token embedding, forward and backward, on the GPU: the kernel workbench for src/nn/cuda/
 * (STYLE.md). The reference is the library's cdz_embedding_forward / cdz_embedding_backward
 * (src/nn/cpu/layers.c):
 *   y (N, C) = rows of table (V, C) picked by tokens (N);   dtable (V, C) += dy rows at their tokens.
 *
 *   build/cuda-dev/embedding [--version 0|1|2] [--validate] [-B 8] [-T 1024] [-C 512] [-V 388] [--repeat 100]
 *
 * Version 1: forward one thread per element; backward one thread per element of dy, atomicAdd into
 *   the table row: simple, but the order of the additions into a row varies from run to run (not
 *   bit-reproducible) and a frequent token serialises its atomics.
 * Version 2, the library's (cdz_cuda_embedding_forward / _backward, src/nn/cuda/layers.cu): forward
 *   four elements per thread (float4) when C is a multiple of 4 (so that every row starts 16-byte
 *   aligned) and the pointers are aligned, otherwise one; backward version 1's atomics.
 * Version 3: the library's forward; backward deterministic: the host sorts the rows by token (a
 *   counting sort, stable, so each token's rows stay in ascending order: O(N + V) per batch, whose
 *   tokens the host has anyway) and one thread per (token, column) adds that token's rows in that
 *   order into a register and writes the table once. The additions are the CPU's, in the CPU's
 *   order: bit for bit the same. Not in the library: it needs the tokens on the host and scratch
 *   sized by V, which the backend's embedding_backward (device tokens, no V) does not give. */
#include "common.h"

/* ---------------- forward ---------------- */

__global__ void embedding_forward1(float *y, const uint16_t *tokens, const float *table, int N, int C) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * C) return;
    size_t n = i / C, c = i % C;
    y[i] = table[(size_t)tokens[n] * C + c];
}

/* ---------------- backward ---------------- */

__global__ void embedding_backward1(float *dtable, const float *dy, const uint16_t *tokens, int N, int C) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (size_t)N * C) return;
    size_t n = i / C, c = i % C;
    atomicAdd(&dtable[(size_t)tokens[n] * C + c], dy[i]);
}

/* The rows of dy grouped by token: bucket b holds token bucket_token[b] and the rows
 * rows[bucket_start[b] .. bucket_start[b + 1]), ascending. Only tokens that occur get a bucket. */
struct token_buckets {
    int nb;
    int *bucket_token, *bucket_start, *rows; /* nb, nb + 1, N */
};

static token_buckets buckets_build(const uint16_t *tokens, int N, int V) {
    token_buckets k;
    int *count = HOST_ALLOC(int, V), *next = HOST_ALLOC(int, V);
    memset(count, 0, V * sizeof *count);
    for (int n = 0; n < N; n++) count[tokens[n]]++;
    k.nb = 0;
    for (int v = 0; v < V; v++) k.nb += count[v] > 0;
    k.bucket_token = HOST_ALLOC(int, k.nb), k.bucket_start = HOST_ALLOC(int, k.nb + 1), k.rows = HOST_ALLOC(int, N);
    int b = 0, start = 0;
    for (int v = 0; v < V; v++) {
        next[v] = start;
        if (!count[v]) continue;
        k.bucket_token[b] = v, k.bucket_start[b++] = start;
        start += count[v];
    }
    k.bucket_start[k.nb] = N;
    for (int n = 0; n < N; n++) k.rows[next[tokens[n]]++] = n; /* in row order: stable */
    free(count), free(next);
    return k;
}

static void buckets_free(token_buckets *k) { free(k->bucket_token), free(k->bucket_start), free(k->rows); }

#define BWD3_THREADS 128

/* Block (b, j) adds bucket b's rows into columns j*128 .. j*128+127 of its token's table row. */
__global__ void embedding_backward3(float *dtable, const float *dy, const int *bucket_token,
                                    const int *bucket_start, const int *rows, int C) {
    int b = blockIdx.x, c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float *row = dtable + (size_t)bucket_token[b] * C;
    float acc = row[c];
    for (int j = bucket_start[b]; j < bucket_start[b + 1]; j++) acc += dy[(size_t)rows[j] * C + c];
    row[c] = acc;
}

/* ---------------- dispatch ---------------- */

static const char *const versions[] = {"",
                                       "forward a thread per element; backward atomicAdd per element",
                                       "the library's: forward float4; backward atomicAdd per element",
                                       "the library's forward; backward deterministic, one thread per (token, column)"};

/* Versions 2 and 3 call the library, which records its errors (lib_check). */
static void embedding_forward(int version, float *y, const uint16_t *tokens, const float *table, int N, int C) {
    if (version >= 2) cdz_cuda_embedding_forward(y, tokens, table, N, C);
    else embedding_forward1<<<ceil_div((long long)N * C, 256), 256>>>(y, tokens, table, N, C);
    CUDA_CHECK(cudaGetLastError());
}

/* Version 3 takes the buckets (on the device) built from the same tokens. */
static void embedding_backward(int version, float *dtable, const float *dy, const uint16_t *tokens,
                               const token_buckets *d_buckets, int N, int C) {
    if (version == 1) {
        embedding_backward1<<<ceil_div((long long)N * C, 256), 256>>>(dtable, dy, tokens, N, C);
    } else if (version == 2) {
        cdz_cuda_embedding_backward(dtable, dy, tokens, N, C);
    } else if (d_buckets->nb > 0) {
        dim3 grid(d_buckets->nb, ceil_div(C, BWD3_THREADS));
        embedding_backward3<<<grid, BWD3_THREADS>>>(dtable, dy, d_buckets->bucket_token, d_buckets->bucket_start,
                                                    d_buckets->rows, C);
    }
    CUDA_CHECK(cudaGetLastError());
}

/* ---------------- one shape: the CPU reference, then every chosen version ---------------- */

static void run_shape(int N, int C, int V, const bench_opts *o) {
    printf("== embedding N=%d C=%d V=%d\n", N, C, V);
    size_t nc = (size_t)N * C, vc = (size_t)V * C;
    cdz_rng rng;
    cdz_rng_seed(&rng, (uint64_t)o->seed);
    float *table = HOST_ALLOC(float, vc), *dy = HOST_ALLOC(float, nc), *dtable0 = HOST_ALLOC(float, vc);
    uint16_t *tokens = HOST_ALLOC(uint16_t, N);
    fill_uniform(table, vc, -1.0f, 1.0f, &rng);
    fill_uniform(dy, nc, -1.0f, 1.0f, &rng);
    fill_uniform(dtable0, vc, -1.0f, 1.0f, &rng); /* backward adds into the table's gradient */
    /* Skewed like music tokens (a few time shifts are most of a performance): a quarter of the rows
     * draw from the first 4 tokens, the rest from all V. */
    for (int n = 0; n < N; n++)
        tokens[n] = (uint16_t)cdz_rng_below(&rng, cdz_rng_below(&rng, 4) == 0 && V > 4 ? 4 : (uint64_t)V);

    float *y = HOST_ALLOC(float, nc), *dtable = HOST_ALLOC(float, vc);
    memcpy(dtable, dtable0, vc * sizeof *dtable);
    double t0 = host_ms();
    cdz_embedding_forward(y, tokens, table, N, C);
    double t1 = host_ms();
    cdz_embedding_backward(dtable, dy, tokens, N, C);
    double t2 = host_ms();
    token_buckets hb = buckets_build(tokens, N, V);
    printf("cpu reference: forward %.3f ms, backward %.3f ms; version 3's token sort on the host %.3f ms\n", t1 - t0,
           t2 - t1, host_ms() - t2);
    int most = 0; /* rows of the most frequent token: the longest sum */
    for (int b = 0; b < hb.nb; b++)
        if (hb.bucket_start[b + 1] - hb.bucket_start[b] > most) most = hb.bucket_start[b + 1] - hb.bucket_start[b];

    float *d_table = dev_copy(table, vc), *d_dy = dev_copy(dy, nc), *d_y = dev_alloc<float>(nc);
    float *d_dtable = dev_alloc<float>(vc);
    uint16_t *d_tokens = dev_copy(tokens, N);
    token_buckets db = {hb.nb, dev_copy(hb.bucket_token, hb.nb), dev_copy(hb.bucket_start, hb.nb + 1),
                        dev_copy(hb.rows, N)};

    for (int v = 1; v <= 3; v++) {
        if (o->version && o->version != v) continue;
        printf("version %d: %s\n", v, versions[v]);
        dev_poison(d_y, nc);
        to_dev(d_dtable, dtable0, vc);
        embedding_forward(v, d_y, d_tokens, d_table, N, C);
        embedding_backward(v, d_dtable, d_dy, d_tokens, &db, N, C);
        CUDA_CHECK(cudaDeviceSynchronize());
        check_close("forward y", d_y, y, nc, 0, 0); /* a copy: exact */
        if (v <= 2) /* up to `most` + 1 terms of size <= 1 summed in the atomics' order (common.h, sum_tol) */
            check_close("backward dtable (atomics)", d_dtable, dtable, vc, sum_tol(most + 1, 1.0), 1e-6);
        else /* the CPU's additions in the CPU's order */
            check_close("backward dtable (ordered)", d_dtable, dtable, vc, 0, 0);
        if (v >= 2) lib_check("embedding");

        float ms = bench_time_ms(o->repeat, [&] { embedding_forward(v, d_y, d_tokens, d_table, N, C); });
        bench_report("forward", ms, 2.0 * nc * sizeof(float)); /* the picked rows read, y written */
        ms = bench_time_ms(o->repeat, [&] { embedding_backward(v, d_dtable, d_dy, d_tokens, &db, N, C); });
        bench_report("backward", ms, (nc + 2.0 * hb.nb * C) * sizeof(float)); /* dy read; used rows read, written */
        if (v >= 2) lib_check("embedding");
    }
    dev_free(d_table, d_dy, d_y, d_dtable, d_tokens, db.bucket_token, db.bucket_start, db.rows);
    buckets_free(&hb);
    free(table), free(dy), free(dtable0), free(tokens), free(y), free(dtable);
}

int main(int argc, char **argv) {
    int B = 8, T = 1024, C = 512, V = 388;
    bench_flag flags[] = {{"-B", &B, 1, 4096, "batch size"},
                          {"-T", &T, 1, 65536, "sequence length (rows N = B*T)"},
                          {"-C", &C, 1, 16384, "channels"},
                          {"-V", &V, 1, 65536, "vocabulary size (388: the performance codec)"}};
    bench_opts o = bench_parse(argc, argv, "Embedding forward and backward: CPU reference vs GPU kernel versions.",
                               flags, N_ELEMS(flags), 3);
    if ((long long)B * T * C > (1LL << 30) || (long long)V * C > (1LL << 30)) {
        fprintf(stderr, "embedding: more than 2^30 floats per array is more than this workbench allocates\n");
        return 2;
    }
    if (!bench_device()) return bench_summary("cuda_embedding");
    run_shape(B * T, C, V, &o);
    if (o.validate) {
        run_shape(1001, 77, 50257, &o); /* C no multiple of 4 (the library's forward: one per thread), sparse tokens */
        run_shape(64, 12, 3, &o);       /* three tokens: long buckets, heavy atomic contention */
    }
    return bench_summary("cuda_embedding");
}

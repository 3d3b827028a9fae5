/* The LSTM cell's fused elementwise step on the GPU: the mirror of cdz_lstm_cell_forward and
 * cdz_lstm_cell_backward (src/nn/cpu/lstm.c), gate order i, f, g, o as PyTorch, each gate a block of
 * H in a row of 4H. Moved from the kernel workbench (dev/cuda/lstm_gates.cu, version 2 there): four
 * units per thread through float4 when H % 4 == 0 and every pointer is 16-byte aligned (every gate
 * block then starts aligned), else one unit per thread. CUDA's expf and tanhf (2 ulp) against the
 * CPU's own polynomial exp and tanh (nn_internal.h: a few ulp).
 * As the CPU's, the forward may take c_prev == c (lstm_step updates the state in place) and the
 * backward dc_prev == dc (backpropagation through time): each thread reads an element before it
 * writes the same element, and no other thread touches it. */
#include "cuda_internal.h"

static __device__ inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* One unit's forward: z holds the four pre-activations in, the activations out. */
static __device__ inline void cell_forward(float4 &z, float &c, float &h, float c_prev) {
    float i = sigmoid(z.x), f = sigmoid(z.y), g = tanhf(z.z), o = sigmoid(z.w);
    z = make_float4(i, f, g, o);
    c = f * c_prev + i * g;
    h = o * tanhf(c);
}

/* One unit's backward: a holds the saved activations (i, f, g, o); dz receives the pre-activation
 * gradients; returns dc_prev. */
static __device__ inline float cell_backward(float4 &dz, float4 a, float dh, float dc, float c, float c_prev) {
    float tc = tanhf(c), dct = dc + dh * a.w * (1 - tc * tc);
    dz = make_float4(dct * a.z * a.x * (1 - a.x), dct * c_prev * a.y * (1 - a.y), dct * a.x * (1 - a.z * a.z),
                     dh * tc * a.w * (1 - a.w));
    return dct * a.y;
}

/* ---------------- one unit per thread ---------------- */

static __global__ void cell_forward1(float *h, float *c, float *gates, const float *c_prev, size_t B, int H) {
    size_t stride = (size_t)gridDim.x * blockDim.x, total = B * (size_t)H;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        size_t b = i / H, k = i % H;
        float *z = gates + b * 4 * H + k; /* the unit's four gates, H apart */
        float4 g = make_float4(z[0], z[H], z[2 * H], z[3 * H]);
        cell_forward(g, c[i], h[i], c_prev ? c_prev[i] : 0.0f); /* c_prev[i] is read before c[i] is written */
        z[0] = g.x, z[H] = g.y, z[2 * H] = g.z, z[3 * H] = g.w;
    }
}

static __global__ void cell_backward1(float *dgates, float *dc_prev, const float *dh, const float *dc,
                                      const float *gates, const float *c, const float *c_prev, size_t B, int H) {
    size_t stride = (size_t)gridDim.x * blockDim.x, total = B * (size_t)H;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        size_t b = i / H, k = i % H;
        const float *a = gates + b * 4 * H + k;
        float *dz = dgates + b * 4 * H + k;
        float4 d;
        dc_prev[i] = cell_backward(d, make_float4(a[0], a[H], a[2 * H], a[3 * H]), dh[i], dc[i], c[i],
                                   c_prev ? c_prev[i] : 0.0f);
        dz[0] = d.x, dz[H] = d.y, dz[2 * H] = d.z, dz[3 * H] = d.w;
    }
}

/* ---------------- four units per thread ---------------- */

/* The arrays as float4s: H4 = H / 4 per (B, H) row, 4 H4 per gates row. Thread i takes units
 * 4k .. 4k+3 of row b. */
static __global__ void cell_forward4(float4 *h, float4 *c, float4 *gates, const float4 *c_prev, size_t B, int H4) {
    size_t stride = (size_t)gridDim.x * blockDim.x, total = B * (size_t)H4;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        size_t b = i / H4, k = i % H4;
        float4 *z = gates + b * 4 * H4 + k;
        float4 zi = z[0], zf = z[H4], zg = z[2 * H4], zo = z[3 * H4];
        float4 cp = c_prev ? c_prev[i] : make_float4(0, 0, 0, 0), cc, hh;
        /* unit by unit: regroup so that each float4 holds one unit's four gates */
        float4 u0 = make_float4(zi.x, zf.x, zg.x, zo.x), u1 = make_float4(zi.y, zf.y, zg.y, zo.y);
        float4 u2 = make_float4(zi.z, zf.z, zg.z, zo.z), u3 = make_float4(zi.w, zf.w, zg.w, zo.w);
        cell_forward(u0, cc.x, hh.x, cp.x), cell_forward(u1, cc.y, hh.y, cp.y);
        cell_forward(u2, cc.z, hh.z, cp.z), cell_forward(u3, cc.w, hh.w, cp.w);
        z[0] = make_float4(u0.x, u1.x, u2.x, u3.x), z[H4] = make_float4(u0.y, u1.y, u2.y, u3.y);
        z[2 * H4] = make_float4(u0.z, u1.z, u2.z, u3.z), z[3 * H4] = make_float4(u0.w, u1.w, u2.w, u3.w);
        c[i] = cc, h[i] = hh;
    }
}

static __global__ void cell_backward4(float4 *dgates, float4 *dc_prev, const float4 *dh, const float4 *dc,
                               const float4 *gates, const float4 *c, const float4 *c_prev, size_t B, int H4) {
    size_t stride = (size_t)gridDim.x * blockDim.x, total = B * (size_t)H4;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += stride) {
        size_t b = i / H4, k = i % H4;
        const float4 *a = gates + b * 4 * H4 + k;
        float4 ai = a[0], af = a[H4], ag = a[2 * H4], ao = a[3 * H4];
        float4 cp = c_prev ? c_prev[i] : make_float4(0, 0, 0, 0), hd = dh[i], cd = dc[i], cc = c[i], d0, d1, d2, d3,
               out;
        out.x = cell_backward(d0, make_float4(ai.x, af.x, ag.x, ao.x), hd.x, cd.x, cc.x, cp.x);
        out.y = cell_backward(d1, make_float4(ai.y, af.y, ag.y, ao.y), hd.y, cd.y, cc.y, cp.y);
        out.z = cell_backward(d2, make_float4(ai.z, af.z, ag.z, ao.z), hd.z, cd.z, cc.z, cp.z);
        out.w = cell_backward(d3, make_float4(ai.w, af.w, ag.w, ao.w), hd.w, cd.w, cc.w, cp.w);
        float4 *dz = dgates + b * 4 * H4 + k;
        dz[0] = make_float4(d0.x, d1.x, d2.x, d3.x), dz[H4] = make_float4(d0.y, d1.y, d2.y, d3.y);
        dz[2 * H4] = make_float4(d0.z, d1.z, d2.z, d3.z), dz[3 * H4] = make_float4(d0.w, d1.w, d2.w, d3.w);
        dc_prev[i] = out; /* after dc[i] was read: in place is fine */
    }
}

/* NULL counts as aligned: it is not dereferenced */
static bool aligned(const void *p) { return !p || nn_cuda_aligned16(p); }

extern "C" void cdz_cuda_lstm_cell_forward(float *h, float *c, float *gates, const float *c_prev, int B, int H) {
    if (B <= 0 || H <= 0) return;
    size_t bh = (size_t)B * H;
    if (H % 4 == 0 && aligned(h) && aligned(c) && aligned(gates) && aligned(c_prev))
        cell_forward4<<<nn_cuda_blocks(bh / 4, CUDA_BLOCK), CUDA_BLOCK>>>(
            (float4 *)h, (float4 *)c, (float4 *)gates, (const float4 *)c_prev, (size_t)B, H / 4);
    else cell_forward1<<<nn_cuda_blocks(bh, CUDA_BLOCK), CUDA_BLOCK>>>(h, c, gates, c_prev, (size_t)B, H);
    CUDA_LAUNCHED("lstm_cell_forward");
}

extern "C" void cdz_cuda_lstm_cell_backward(float *dgates, float *dc_prev, const float *dh, const float *dc,
                                            const float *gates, const float *c, const float *c_prev, int B, int H) {
    if (B <= 0 || H <= 0) return;
    size_t bh = (size_t)B * H;
    if (H % 4 == 0 && aligned(dgates) && aligned(dc_prev) && aligned(dh) && aligned(dc) && aligned(gates) &&
        aligned(c) && aligned(c_prev))
        cell_backward4<<<nn_cuda_blocks(bh / 4, CUDA_BLOCK), CUDA_BLOCK>>>(
            (float4 *)dgates, (float4 *)dc_prev, (const float4 *)dh, (const float4 *)dc, (const float4 *)gates,
            (const float4 *)c, (const float4 *)c_prev, (size_t)B, H / 4);
    else
        cell_backward1<<<nn_cuda_blocks(bh, CUDA_BLOCK), CUDA_BLOCK>>>(dgates, dc_prev, dh, dc, gates, c, c_prev,
                                                                       (size_t)B, H);
    CUDA_LAUNCHED("lstm_cell_backward");
}

/* The audio codec (issue 17): a convolutional encoder, a residual vector quantizer and a mirrored
 * decoder over mono audio, as SoundStream (Zeghidour et al. 2021), EnCodec (Defossez et al. 2022) and
 * the Descript Audio Codec (Kumar et al. 2023), at a size two CPU cores train.
 *
 *   encoder: conv k7 (1 -> C); per stride s (2, 4, 5, 8): residual units (ELU, conv k7 dilated,
 *            ELU, conv k1, added to their input), ELU, conv k 2s stride s (channels doubled);
 *            ELU, conv k3 to the latent width D: one D-vector per hop (320 samples at 24 kHz: 75 a second)
 *   bottleneck: residual VQ over n_q books of K entries (EMA codebooks, dead-code restarts, straight-
 *            through gradients with the commitment loss, quantizer dropout: cadenza/nn.h)
 *   decoder: conv k7 (D -> C 2^stages); per stride, reversed: ELU, transposed conv k 2s stride s
 *            (channels halved), residual units; ELU, conv k7 to 1 channel, tanh
 *
 * Every convolution is weight-normalised (w = g v / |v| per output row; per input row for the
 * transposed ones, as PyTorch's weight_norm with dim 0). Padding as DAC's: "same" for the stride-1
 * convolutions, ceil(s / 2) for the strided ones (with output padding s mod 2 on the transposed), so a
 * window of T samples (a multiple of the hop) gives T / hop vectors and T samples back.
 *
 * Loss of a batch of windows: w_mel DAC's mel distance + w_stft its STFT distance (cadenza/
 * audio_metrics.h, with their gradients) + w_wave mean |y - x| + beta times the commitment loss,
 * each the mean over the windows. Training uses a random number of books per batch (all of them with
 * probability 1 - q_dropout, else 1 .. n_q uniformly, drawn from (seed, step)); evaluation uses all.
 * The codebooks learn by EMA after each optimiser step (after_step), from the encodings the step's
 * loss kept; their EMA counts and sums are tensors of the model, so a checkpoint resumes them (they
 * get no gradient: Adam leaves them; weight decay scales a count and its sum alike, and each codebook
 * row is their ratio, so it leaves the codes too).
 *
 * The network is a list of operations over activation slots (forward in order, backward reversed),
 * built once from the config; every layer goes through m->backend. Host-memory backends only. A
 * batch's windows are split over cdz_nn_threads() lanes (threads), each running the encoder, the
 * decoder, the losses and the backward passes of its own windows; the quantizer, which the windows
 * share through its codebooks, runs between those phases on all of them. Encoding and decoding a clip
 * keep one lane and share buffers between slots by liveness (plan_pool). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cadenza/audio_codec.h"
#include "cadenza/audio_metrics.h"
#include "cadenza/model_kind.h"
#include "cadenza/nn.h"

#define KIND "audio_codec"
enum { MAX_STAGES = 6, MAX_RES = 3, MAX_OPS = 128, MAX_CONVS = 64, MAX_BOOKS = 32, MAX_LANES = 16 };

typedef enum { OP_CONV, OP_CONVT, OP_ELU, OP_ADD, OP_TANH } op_type;

typedef struct op {
    op_type type;
    int in, in2, out;                        /* activation slots (in2: OP_ADD's second) */
    int conv;                                /* OP_CONV, OP_CONVT: the weights */
    int K, stride, dil, pad_l, pad_r;
} op;

typedef struct conv_w {
    size_t v, g, b;     /* parameter offsets: v (rows, n), g (rows), b (out channels) */
    int rows, n;        /* weight norm's rows (dim 0) and row length */
    int oc;             /* output channels: the bias's length */
    size_t weff;        /* offset of the effective weight in the session's buffer */
    size_t bo;          /* offset of the bias in a lane's bias-gradient buffer */
} conv_w;

typedef struct slot {
    int C, div;         /* channels; time = window / div (div 0: not yet known) */
} slot;

typedef struct codec {
    int rate, C, n_strides, strides[MAX_STAGES], n_dil, dil[MAX_RES], D, n_q, K;
    float w_mel, w_stft, w_wave, beta, decay, dead, q_dropout;
    int hop;
    op ops[MAX_OPS];
    int n_ops, enc_end;                      /* ops [0, enc_end): encoder; [enc_end, n_ops): decoder */
    slot slots[MAX_OPS + 2];
    int n_slots, latent, quant, output;      /* slot 0: the input */
    int pool_of[MAX_OPS + 2], n_pool;        /* encoding and decoding: the buffer each slot lives in */
    conv_w convs[MAX_CONVS];
    int n_convs;
    size_t weff_floats, bias_floats;
    size_t books, ema_count, ema_sum;        /* (n_q, K, D), (n_q, K), (n_q, K, D) */
} codec;

/* ---- configs ---- */

static const char *const CONFIG_NAMES[] = {"codec_lite", "codec_small", "codec_tiny", NULL};

#define CODEC_TRAIN "\"lr\":0.0003,\"clip\":100,\"weight_decay\":0,\"warmup_steps\":100"

static const char *named_config(const char *name) {
#define CFG(name, fields) {name, "{\"kind\":\"" KIND "\",\"config_name\":\"" name "\"," fields "," CODEC_TRAIN "}"}
    static const struct { const char *name, *json; } table[] = {
        /* hop 320 at 24 kHz, 8 books of 1,024: 6 kbps */
        CFG("codec_small", "\"rate\":24000,\"channels\":16,\"strides\":[2,4,5,8],\"dilations\":[1,3],\"latent\":64,"
                           "\"books\":8,\"codebook\":1024,\"w_mel\":1,\"w_stft\":1,\"w_wave\":5,\"beta\":0.25,"
                           "\"ema_decay\":0.99,\"dead_threshold\":0.005,\"q_dropout\":0.5,\"batch\":8,\"seq\":7680"),
        /* the same at half the width: a quarter of the multiply-adds (5,200 a sample each way) */
        CFG("codec_lite", "\"rate\":24000,\"channels\":8,\"strides\":[2,4,5,8],\"dilations\":[1,3],\"latent\":64,"
                          "\"books\":8,\"codebook\":1024,\"w_mel\":1,\"w_stft\":1,\"w_wave\":5,\"beta\":0.25,"
                          "\"ema_decay\":0.99,\"dead_threshold\":0.005,\"q_dropout\":0.5,\"batch\":8,\"seq\":7680"),
        /* for tests: a hop of 16 */
        CFG("codec_tiny", "\"rate\":24000,\"channels\":4,\"strides\":[2,8],\"dilations\":[1],\"latent\":8,"
                          "\"books\":4,\"codebook\":16,\"w_mel\":1,\"w_stft\":1,\"w_wave\":5,\"beta\":0.25,"
                          "\"ema_decay\":0.9,\"dead_threshold\":0.01,\"q_dropout\":0.5,\"batch\":2,\"seq\":2048"),
    };
#undef CFG
    for (size_t i = 0; i < sizeof table / sizeof *table; i++)
        if (strcmp(table[i].name, name) == 0) return table[i].json;
    return NULL;
}

/* An integer list of 1 .. cap entries, each within [lo, hi]. */
static cdz_status get_list(const cdz_json *c, const char *key, const int *dflt, int n_dflt, int cap, int lo, int hi, int *out,
                           int *n, const char *what, cdz_error *err) {
    const cdz_json *a = cdz_json_get(c, key);
    if (!a) {
        memcpy(out, dflt, (size_t)n_dflt * sizeof *out);
        *n = n_dflt;
        return CDZ_OK;
    }
    if (a->type != CDZ_JSON_ARRAY || a->n < 1 || a->n > (size_t)cap)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: " KIND " config: \"%s\" must be a list of 1 to %d numbers", what, key, cap);
    for (size_t i = 0; i < a->n; i++) {
        double v = a->items[i].number;
        if (a->items[i].type != CDZ_JSON_NUMBER || v != floor(v) || v < lo || v > hi)
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: " KIND " config: \"%s\" entries must be whole numbers %d to %d", what,
                                 key, lo, hi);
        out[i] = (int)v;
    }
    *n = (int)a->n;
    return CDZ_OK;
}

/* ---- building the network ---- */

static int add_slot(codec *c, int C, int div) {
    c->slots[c->n_slots] = (slot){C, div};
    return c->n_slots++;
}

static cdz_status add_tensor(cdz_model *m, const char *name, const char *part, int ndim, int64_t a, int64_t b, int64_t k,
                             size_t *offset, cdz_error *err) {
    char full[48];
    snprintf(full, sizeof full, "%s.%s", name, part);
    int64_t shape[3] = {a, b, k};
    size_t before = m->n_tensors;
    cdz_status st = cdz_model_add_tensor(m, full, ndim, shape, err);
    if (st == CDZ_OK) *offset = m->tensors[before].offset;
    return st;
}

/* A weight-normalised convolution (or transposed one) from slot `in` to OC channels; returns the new
 * slot, or -1 with err set. */
static int add_conv(cdz_model *m, codec *c, const char *name, int in, int OC, int K, int stride, int dil, int transpose,
                    cdz_error *err) {
    if (c->n_ops >= MAX_OPS || c->n_convs >= MAX_CONVS) {
        cdz_error_set(err, CDZ_ERR_FORMAT, KIND " config: too many layers (at most %d)", MAX_CONVS);
        return -1;
    }
    const int C = c->slots[in].C;
    conv_w *w = &c->convs[c->n_convs];
    w->rows = transpose ? C : OC;
    w->n = (transpose ? OC : C) * K;
    if (add_tensor(m, name, "weight_v", 3, w->rows, transpose ? OC : C, K, &w->v, err) ||
        add_tensor(m, name, "weight_g", 1, w->rows, 0, 0, &w->g, err) || add_tensor(m, name, "bias", 1, OC, 0, 0, &w->b, err))
        return -1;
    w->weff = c->weff_floats;
    c->weff_floats += (size_t)w->rows * (size_t)w->n;
    w->oc = OC;
    w->bo = c->bias_floats;
    c->bias_floats += (size_t)OC;
    op *o = &c->ops[c->n_ops++];
    memset(o, 0, sizeof *o);
    o->type = transpose ? OP_CONVT : OP_CONV;
    o->in = in, o->conv = c->n_convs++, o->K = K, o->stride = stride, o->dil = dil;
    int div = c->slots[in].div;
    if (stride > 1 && !transpose) { /* DAC: kernel 2s, padding ceil(s / 2) */
        o->pad_l = o->pad_r = (stride + 1) / 2;
        div *= stride;
    } else if (transpose) { /* kernel 2s, padding ceil(s / 2), output padding s mod 2 */
        o->pad_l = (stride + 1) / 2;
        o->pad_r = o->pad_l - stride % 2;
        div /= stride;
    } else {
        o->pad_l = o->pad_r = dil * (K - 1) / 2;
    }
    o->out = add_slot(c, OC, div);
    return o->out;
}

static int add_simple(codec *c, op_type type, int in, int in2) {
    op *o = &c->ops[c->n_ops++];
    memset(o, 0, sizeof *o);
    o->type = type, o->in = in, o->in2 = in2;
    o->out = add_slot(c, c->slots[in].C, c->slots[in].div);
    return o->out;
}

/* Residual units at slot x (channels C): x + conv1(ELU(conv7_dilated(ELU(x)))), halved inside. */
static int add_res_units(cdz_model *m, codec *c, const char *prefix, int x, cdz_error *err) {
    const int C = c->slots[x].C, mid = C / 2 > 0 ? C / 2 : 1;
    for (int r = 0; r < c->n_dil && x >= 0; r++) {
        char name[40];
        if (c->n_ops + 6 > MAX_OPS) {
            cdz_error_set(err, CDZ_ERR_FORMAT, KIND " config: too many layers");
            return -1;
        }
        int h = add_simple(c, OP_ELU, x, -1);
        snprintf(name, sizeof name, "%s.res%d.conv1", prefix, r);
        if ((h = add_conv(m, c, name, h, mid, 7, 1, c->dil[r], 0, err)) < 0) return -1;
        h = add_simple(c, OP_ELU, h, -1);
        snprintf(name, sizeof name, "%s.res%d.conv2", prefix, r);
        if ((h = add_conv(m, c, name, h, C, 1, 1, 1, 0, err)) < 0) return -1;
        x = add_simple(c, OP_ADD, x, h);
    }
    return x;
}

static cdz_status build(cdz_model *m, codec *c, cdz_error *err) {
    char name[40];
    int x = add_slot(c, 1, 1);
    if ((x = add_conv(m, c, "enc.in", x, c->C, 7, 1, 1, 0, err)) < 0) return err->status;
    for (int s = 0; s < c->n_strides; s++) {
        snprintf(name, sizeof name, "enc.%d", s);
        if ((x = add_res_units(m, c, name, x, err)) < 0) return err->status;
        x = add_simple(c, OP_ELU, x, -1);
        snprintf(name, sizeof name, "enc.%d.down", s);
        if ((x = add_conv(m, c, name, x, c->slots[x].C * 2, 2 * c->strides[s], c->strides[s], 1, 0, err)) < 0) return err->status;
    }
    x = add_simple(c, OP_ELU, x, -1);
    if ((x = add_conv(m, c, "enc.out", x, c->D, 3, 1, 1, 0, err)) < 0) return err->status;
    c->latent = x;
    c->enc_end = c->n_ops;
    c->quant = add_slot(c, c->D, c->hop);
    const int top = c->C << c->n_strides;
    if ((x = add_conv(m, c, "dec.in", c->quant, top, 7, 1, 1, 0, err)) < 0) return err->status;
    for (int s = c->n_strides - 1; s >= 0; s--) {
        x = add_simple(c, OP_ELU, x, -1);
        snprintf(name, sizeof name, "dec.%d.up", s);
        if ((x = add_conv(m, c, name, x, c->slots[x].C / 2, 2 * c->strides[s], c->strides[s], 1, 1, err)) < 0) return err->status;
        snprintf(name, sizeof name, "dec.%d", s);
        if ((x = add_res_units(m, c, name, x, err)) < 0) return err->status;
    }
    x = add_simple(c, OP_ELU, x, -1);
    if ((x = add_conv(m, c, "dec.out", x, 1, 7, 1, 1, 0, err)) < 0) return err->status;
    c->output = add_simple(c, OP_TANH, x, -1);
    int64_t books[3] = {c->n_q, c->K, c->D}, counts[2] = {c->n_q, c->K};
    cdz_status st = cdz_model_add_tensor(m, "rvq.codebooks", 3, books, err);
    if (!st) st = cdz_model_add_tensor(m, "rvq.ema_count", 2, counts, err);
    if (!st) st = cdz_model_add_tensor(m, "rvq.ema_sum", 3, books, err);
    if (!st) {
        size_t n = m->n_tensors;
        c->books = m->tensors[n - 3].offset, c->ema_count = m->tensors[n - 2].offset, c->ema_sum = m->tensors[n - 1].offset;
    }
    return st;
}

/* Encoding and decoding keep no activations for a backward pass, so slots share buffers: a slot's
 * buffer is free again after the last operation that reads it, and ELU, ADD and TANH write over an
 * input that they read last (elementwise, so in place is safe). The input, the latent, the quantized
 * latent and the output keep buffers of their own (the caller reads or writes them around the ops).
 * About 6 buffers where there are 80 slots: less memory to fault in and more of it in cache. */
static void plan_pool(codec *c) {
    int last[MAX_OPS + 2], free_list[MAX_OPS + 2], n_free = 0;
    const int big = c->n_ops + 1;
    for (int i = 0; i < c->n_slots; i++) last[i] = -1, c->pool_of[i] = -1;
    for (int i = 0; i < c->n_ops; i++) {
        last[c->ops[i].in] = i;
        if (c->ops[i].type == OP_ADD) last[c->ops[i].in2] = i;
    }
    const int pinned[4] = {0, c->latent, c->quant, c->output};
    c->n_pool = 0;
    for (int k = 0; k < 4; k++) last[pinned[k]] = big, c->pool_of[pinned[k]] = c->n_pool++;
    for (int i = 0; i < c->n_ops; i++) {
        const op *o = &c->ops[i];
        int ins[2] = {o->in, o->type == OP_ADD && o->in2 != o->in ? o->in2 : -1}; /* each input once */
        int taken = -1; /* the input whose buffer the output took */
        if (c->pool_of[o->out] < 0) {
            int buf = -1;
            for (int k = 0; k < 2 && buf < 0; k++) /* in place over an input read for the last time */
                if (ins[k] >= 0 && last[ins[k]] == i && o->type != OP_CONV && o->type != OP_CONVT) buf = c->pool_of[ins[k]], taken = k;
            if (buf < 0) buf = n_free ? free_list[--n_free] : c->n_pool++;
            c->pool_of[o->out] = buf;
        }
        for (int k = 0; k < 2; k++)
            if (k != taken && ins[k] >= 0 && last[ins[k]] == i) free_list[n_free++] = c->pool_of[ins[k]];
    }
}

static cdz_status from_config(cdz_model *m, const cdz_json *j, const char *what, cdz_error *err) {
    codec *c = cdz_calloc(1, sizeof *c);
    if (!c) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    m->impl = c;
    static const int d_strides[4] = {2, 4, 5, 8}, d_dil[2] = {1, 3};
    cdz_status st = cdz_config_int(j, "rate", 24000, 8000, 96000, &c->rate, KIND, what, err);
    if (!st) st = cdz_config_int(j, "channels", 16, 1, 512, &c->C, KIND, what, err);
    if (!st) st = get_list(j, "strides", d_strides, 4, MAX_STAGES, 1, 16, c->strides, &c->n_strides, what, err);
    if (!st) st = get_list(j, "dilations", d_dil, 2, MAX_RES, 1, 27, c->dil, &c->n_dil, what, err);
    if (!st) st = cdz_config_int(j, "latent", 64, 1, 1024, &c->D, KIND, what, err);
    if (!st) st = cdz_config_int(j, "books", 8, 1, MAX_BOOKS, &c->n_q, KIND, what, err);
    if (!st) st = cdz_config_int(j, "codebook", 1024, 2, 65536, &c->K, KIND, what, err);
    if (!st) st = cdz_config_float(j, "w_mel", 1, 0, 1e4, &c->w_mel, KIND, what, err);
    if (!st) st = cdz_config_float(j, "w_stft", 1, 0, 1e4, &c->w_stft, KIND, what, err);
    if (!st) st = cdz_config_float(j, "w_wave", 5, 0, 1e4, &c->w_wave, KIND, what, err);
    if (!st) st = cdz_config_float(j, "beta", 0.25, 0, 1e4, &c->beta, KIND, what, err);
    if (!st) st = cdz_config_float(j, "ema_decay", 0.99, 0, 0.99999, &c->decay, KIND, what, err);
    if (!st) st = cdz_config_float(j, "dead_threshold", 0.005, 0, 1e6, &c->dead, KIND, what, err);
    if (!st) st = cdz_config_float(j, "q_dropout", 0.5, 0, 1, &c->q_dropout, KIND, what, err);
    if (st) return st;
    if ((c->C << c->n_strides) > 4096)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: " KIND " config: %d channels doubled %d times is more than 4,096", what,
                             c->C, c->n_strides);
    c->hop = 1;
    for (int s = 0; s < c->n_strides; s++) c->hop *= c->strides[s];
    cdz_train_defaults dflt = {8, 32 * c->hop, 3e-4f, 100, 0, 100, 0, 0, 0};
    st = cdz_config_train(j, dflt, 1 << 24, KIND, what, m, err);
    if (st) return st;
    if (m->train.seq % c->hop || m->train.seq <= 1024)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: " KIND " config: seq %d must be a multiple of the hop (%d) above 1,024 "
                             "samples", what, m->train.seq, c->hop);
    snprintf(m->codec, sizeof m->codec, "audio");
    m->audio_rate = (uint32_t)c->rate;
    m->vocab = (uint32_t)c->K;
    m->max_len = 0;
    st = build(m, c, err);
    if (!st) plan_pool(c);
    if (!st) st = cdz_model_alloc_params(m, err);
    return st;
}

static void list_json(char *buf, size_t n, const int *v, int k) {
    size_t at = 0;
    at += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < k && at < n; i++) at += (size_t)snprintf(buf + at, n - at, "%s%d", i ? "," : "", v[i]);
    if (at < n) snprintf(buf + at, n - at, "]");
}

static char *config_json(const cdz_model *m) {
    const codec *c = m->impl;
    char *s = cdz_malloc(1200);
    if (!s) return NULL;
    char name[160], train[400], strides[80], dil[40];
    cdz_json_quote(name, sizeof name, m->config_name);
    cdz_config_train_json(&m->train, train, sizeof train);
    list_json(strides, sizeof strides, c->strides, c->n_strides);
    list_json(dil, sizeof dil, c->dil, c->n_dil);
    snprintf(s, 1200,
             "{\"kind\":\"" KIND "\",\"config_name\":%s,\"rate\":%d,\"channels\":%d,\"strides\":%s,\"dilations\":%s,"
             "\"latent\":%d,\"books\":%d,\"codebook\":%d,\"w_mel\":%.9g,\"w_stft\":%.9g,\"w_wave\":%.9g,\"beta\":%.9g,"
             "\"ema_decay\":%.9g,\"dead_threshold\":%.9g,\"q_dropout\":%.9g,%s}",
             name, c->rate, c->C, strides, dil, c->D, c->n_q, c->K, c->w_mel, c->w_stft, c->w_wave, c->beta, c->decay, c->dead,
             c->q_dropout, train);
    return s;
}

/* PyTorch's Conv1d initialisation (uniform within 1 / sqrt(fan in), weights and biases), g = |v| so
 * that w = v at the start; codebooks N(0, 1) with zero EMA counts, so the first step's restarts put
 * every unused code on an encoding of the batch. */
static void init_params(cdz_model *m, cdz_rng *rng) {
    codec *c = m->impl;
    for (int i = 0; i < c->n_convs; i++) {
        const conv_w *w = &c->convs[i];
        /* fan in: weight.size(1) x K, as PyTorch takes it: in channels x K of a convolution, out channels x K of a
         * transposed one, which is the weight-norm row length either way */
        double bound = 1 / sqrt((double)w->n);
        float *v = m->params + w->v, *g = m->params + w->g, *b = m->params + w->b;
        for (size_t k = 0; k < (size_t)w->rows * (size_t)w->n; k++) v[k] = (float)((2 * cdz_rng_uniform(rng) - 1) * bound);
        for (int r = 0; r < w->rows; r++) {
            double s = 0;
            for (int k = 0; k < w->n; k++) s += (double)v[(size_t)r * w->n + k] * v[(size_t)r * w->n + k];
            g[r] = (float)sqrt(s);
        }
        for (int k = 0; k < w->oc; k++) b[k] = (float)((2 * cdz_rng_uniform(rng) - 1) * bound);
    }
    float *books = m->params + c->books;
    for (size_t k = 0; k < (size_t)c->n_q * c->K * c->D; k++) books[k] = (float)cdz_rng_normal(rng);
    memset(m->params + c->ema_count, 0, (size_t)c->n_q * c->K * sizeof(float));
    memset(m->params + c->ema_sum, 0, (size_t)c->n_q * c->K * c->D * sizeof(float));
}

/* ---- sessions: activation buffers sized for the largest (B, T) seen ---- */

typedef struct codec_session {
    int n_slots;
    int B, T;                  /* the buffers' sizes */
    int pooled;                /* act[] are views into the shared buffers of plan_pool (no gradients) */
    int lanes;                 /* threads a batch's windows are split over (training and evaluation) */
    float **act, **dact;       /* per slot */
    float **pool;              /* pooled: the shared buffers */
    float *weff, *norms;
    float *scratch[MAX_LANES], *dweff[MAX_LANES], *dbias[MAX_LANES]; /* per lane; gradients summed into lane 0's */
    cdz_spectral_plan *plan[MAX_LANES];
    float *zt, *qt, *residuals, *stage_q, *vq_scratch;
    int32_t *codes, *stage_codes;
    /* what after_step reads: the last training loss's encodings */
    int pending, use, N;
} codec_session;

static void free_activations(codec_session *s) {
    for (int i = 0; s->pool && i <= s->n_slots; i++) cdz_free(s->pool[i]), s->pool[i] = NULL;
    for (int i = 0; s->act && i < s->n_slots; i++) {
        if (!s->pooled) cdz_free(s->act[i]);
        s->act[i] = NULL;
    }
    for (int i = 0; s->dact && i < s->n_slots; i++) cdz_free(s->dact[i]), s->dact[i] = NULL;
    for (int l = 0; l < MAX_LANES; l++) {
        cdz_free(s->scratch[l]), cdz_free(s->dweff[l]), cdz_free(s->dbias[l]);
        s->scratch[l] = s->dweff[l] = s->dbias[l] = NULL;
    }
    s->pooled = 0, s->lanes = 0;
}

static void session_free(void *p) {
    codec_session *s = p;
    if (!s) return;
    free_activations(s);
    cdz_free(s->act), cdz_free(s->dact), cdz_free(s->pool);
    cdz_free(s->weff), cdz_free(s->norms);
    cdz_free(s->zt), cdz_free(s->qt), cdz_free(s->residuals), cdz_free(s->stage_q), cdz_free(s->vq_scratch);
    cdz_free(s->codes), cdz_free(s->stage_codes);
    for (int l = 0; l < MAX_LANES; l++) cdz_spectral_plan_free(s->plan[l]);
    cdz_free(s);
}

static void *session_new(const cdz_model *m, int rows, int64_t window, cdz_error *err) {
    (void)rows, (void)window;
    const codec *c = m->impl;
    codec_session *s = cdz_calloc(1, sizeof *s);
    if (s) {
        s->n_slots = c->n_slots;
        s->act = cdz_calloc((size_t)c->n_slots + 1, sizeof *s->act);
        s->dact = cdz_calloc((size_t)c->n_slots + 1, sizeof *s->dact);
        s->pool = cdz_calloc((size_t)c->n_slots + 1, sizeof *s->pool);
        s->weff = cdz_malloc(c->weff_floats * sizeof *s->weff);
        size_t rows_total = 0;
        for (int i = 0; i < c->n_convs; i++) rows_total += (size_t)c->convs[i].rows;
        s->norms = cdz_malloc(rows_total * sizeof *s->norms);
    }
    if (!s || !s->act || !s->dact || !s->pool || !s->weff || !s->norms) {
        session_free(s);
        cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for an audio codec session");
        return NULL;
    }
    return s;
}

static size_t row_bytes(const cdz_model *m, int64_t window) {
    (void)m, (void)window;
    return 1;
}
static int64_t default_window(const cdz_model *m) {
    (void)m;
    return 1;
}

static cdz_status step(const cdz_model *m, void *ks, const cdz_step_rows *rows, float *logits, cdz_error *err) {
    (void)ks, (void)rows, (void)logits;
    return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "an %s model turns audio into codes and back (cadenza audio encode, "
                         "decode); it does not generate tokens", m->kind->name);
}

static size_t slot_floats(const codec *c, int i, int B, int T) { return (size_t)B * c->slots[i].C * (size_t)(T / c->slots[i].div); }


static cdz_conv1d_shape conv_shape(const codec *c, const op *o, int B, int T) {
    cdz_conv1d_shape sh = {B, c->slots[o->in].C, T / c->slots[o->in].div, c->slots[o->out].C, o->K,
                           o->stride, o->dil, o->pad_l, o->pad_r, 1};
    return sh;
}

/* How the activations are kept: shared by liveness (encoding and decoding one clip), one buffer per
 * slot (evaluation), or with the gradients' too (training). */
typedef enum { BUF_POOLED, BUF_FULL, BUF_GRADS } buf_mode;

/* Threads for a batch of B windows: as many as the matrix library may use (OPENBLAS_NUM_THREADS),
 * at most one per window; one where the convolutions are OpenBLAS products (which thread themselves). */
static int lanes_for(int B) {
    if (!cdz_nn_conv_direct()) return 1;
    int n = cdz_nn_threads();
    n = n < B ? n : B;
    n = n < MAX_LANES ? n : MAX_LANES;
    return n > 0 ? n : 1;
}

/* Buffers for B windows of T samples (grown, never shrunk). */
static cdz_status ensure_buffers(const cdz_model *m, codec_session *s, int B, int T, buf_mode mode, cdz_error *err) {
    const codec *c = m->impl;
    const int pooled = mode == BUF_POOLED, lanes = pooled ? 1 : lanes_for(B);
    int grads = mode == BUF_GRADS;
    if (s->act[0] && B <= s->B && T <= s->T && pooled == s->pooled && lanes <= s->lanes && (!grads || s->dact[0]))
        return CDZ_OK; /* slots laid out for (B, T) within */
    grads |= !pooled && s->dact[0] != NULL;
    const int Bn = B > s->B ? B : s->B, Tn = T > s->T ? T : s->T;
    free_activations(s);
    size_t scratch = 0;
    for (int i = 0; i < c->n_ops; i++) {
        const op *o = &c->ops[i];
        if (o->type != OP_CONV && o->type != OP_CONVT) continue;
        cdz_conv1d_shape sh = conv_shape(c, o, Bn, Tn);
        size_t need = o->type == OP_CONV ? cdz_conv1d_scratch_floats(&sh) : cdz_conv_transpose1d_scratch_floats(&sh);
        if (need > scratch) scratch = need;
    }
    const int N = Bn * (Tn / c->hop);
    if (!pooled) {
        for (int i = 0; i < c->n_slots; i++) {
            s->act[i] = cdz_malloc(slot_floats(c, i, Bn, Tn) * sizeof(float));
            s->dact[i] = grads ? cdz_malloc(slot_floats(c, i, Bn, Tn) * sizeof(float)) : NULL;
            if (!s->act[i] || (grads && !s->dact[i])) goto nomem;
        }
    } else {
        s->pooled = 1;
        for (int b = 0; b < c->n_pool; b++) {
            size_t need = 1;
            for (int i = 0; i < c->n_slots; i++)
                if (c->pool_of[i] == b && slot_floats(c, i, Bn, Tn) > need) need = slot_floats(c, i, Bn, Tn);
            if (!(s->pool[b] = cdz_malloc(need * sizeof(float)))) goto nomem;
        }
        for (int i = 0; i < c->n_slots; i++) s->act[i] = s->pool[c->pool_of[i]];
    }
    s->lanes = lanes;
    for (int l = 0; l < lanes; l++) {
        s->scratch[l] = cdz_malloc((scratch ? scratch : 1) * sizeof(float));
        if (!s->scratch[l]) goto nomem;
        if (!grads) continue;
        s->dweff[l] = cdz_malloc(c->weff_floats * sizeof(float));
        s->dbias[l] = cdz_malloc((c->bias_floats ? c->bias_floats : 1) * sizeof(float));
        if (!s->dweff[l] || !s->dbias[l]) goto nomem;
    }
    cdz_free(s->zt), cdz_free(s->qt), cdz_free(s->residuals), cdz_free(s->stage_q);
    cdz_free(s->vq_scratch), cdz_free(s->codes), cdz_free(s->stage_codes);
    s->zt = cdz_malloc((size_t)N * c->D * sizeof(float));
    s->qt = cdz_malloc((size_t)N * c->D * sizeof(float));
    s->residuals = cdz_malloc((size_t)c->n_q * N * c->D * sizeof(float));
    s->stage_q = cdz_malloc((size_t)c->n_q * N * c->D * sizeof(float));
    s->vq_scratch = cdz_malloc((cdz_vq_scratch_floats(N, c->K) + (size_t)N) * sizeof(float));
    s->codes = cdz_malloc((size_t)N * c->n_q * sizeof *s->codes);
    s->stage_codes = cdz_malloc((size_t)N * sizeof *s->stage_codes);
    if (!s->zt || !s->qt || !s->residuals || !s->stage_q || !s->vq_scratch || !s->codes || !s->stage_codes) goto nomem;
    s->B = Bn, s->T = Tn, s->pending = 0;
    return CDZ_OK;
nomem:
    free_activations(s);
    s->B = s->T = 0;
    return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %d audio windows of %d samples", Bn, Tn);
}

/* The effective weights of every convolution, w = g v / |v|. */
static void weights_forward(const cdz_model *m, codec_session *s) {
    const codec *c = m->impl;
    size_t at = 0;
    for (int i = 0; i < c->n_convs; i++) {
        const conv_w *w = &c->convs[i];
        m->backend->weight_norm_forward(s->weff + w->weff, s->norms + at, m->params + w->v, m->params + w->g, w->rows, w->n);
        at += (size_t)w->rows;
    }
}

/* Slot i of windows b0 .. : the windows are laid out one after another, (B, C, T / div). */
static float *slot_at(float *base, const codec *c, int i, int b0, int T) { return base + slot_floats(c, i, b0, T); }

/* Ops [from, to) forward over nb windows from b0, with the lane's scratch. */
static void run_forward(const cdz_model *m, codec_session *s, int from, int to, int b0, int nb, int T, int lane) {
    const codec *c = m->impl;
    const cdz_backend *be = m->backend;
    for (int i = from; i < to; i++) {
        const op *o = &c->ops[i];
        float *y = slot_at(s->act[o->out], c, o->out, b0, T);
        const float *x = slot_at(s->act[o->in], c, o->in, b0, T);
        size_t n = slot_floats(c, o->out, nb, T);
        switch (o->type) {
        case OP_CONV:
        case OP_CONVT: {
            cdz_conv1d_shape sh = conv_shape(c, o, nb, T);
            const conv_w *w = &c->convs[o->conv];
            if (o->type == OP_CONV) be->conv1d_forward(y, s->scratch[lane], x, s->weff + w->weff, m->params + w->b, &sh);
            else be->conv_transpose1d_forward(y, s->scratch[lane], x, s->weff + w->weff, m->params + w->b, &sh);
            break;
        }
        case OP_ELU: be->elu_forward(y, x, n, 1.0f); break;
        case OP_ADD: {
            const float *x2 = slot_at(s->act[o->in2], c, o->in2, b0, T);
            for (size_t k = 0; k < n; k++) y[k] = x[k] + x2[k];
            break;
        }
        case OP_TANH:
            for (size_t k = 0; k < n; k++) y[k] = tanhf(x[k]);
            break;
        }
    }
}

/* Backward over ops [from, to) reversed for nb windows from b0; the slots' gradients must be zeroed
 * first, the output's set. Weight and bias gradients go to the lane's buffers. */
static void run_backward(const cdz_model *m, codec_session *s, int from, int to, int b0, int nb, int T, int lane) {
    const codec *c = m->impl;
    const cdz_backend *be = m->backend;
    for (int i = to - 1; i >= from; i--) {
        const op *o = &c->ops[i];
        const float *dy = slot_at(s->dact[o->out], c, o->out, b0, T);
        float *dx = slot_at(s->dact[o->in], c, o->in, b0, T);
        const float *x = slot_at(s->act[o->in], c, o->in, b0, T);
        size_t n = slot_floats(c, o->out, nb, T);
        switch (o->type) {
        case OP_CONV:
        case OP_CONVT: {
            cdz_conv1d_shape sh = conv_shape(c, o, nb, T);
            const conv_w *w = &c->convs[o->conv];
            float *dxx = o->in == 0 ? NULL : dx; /* the input audio needs none */
            float *dw = s->dweff[lane] + w->weff, *db = s->dbias[lane] + w->bo;
            if (o->type == OP_CONV)
                be->conv1d_backward(dxx, dw, db, s->scratch[lane], dy, x, s->weff + w->weff, &sh);
            else
                be->conv_transpose1d_backward(dxx, dw, db, s->scratch[lane], dy, x, s->weff + w->weff, &sh);
            break;
        }
        case OP_ELU: be->elu_backward(dx, dy, x, n, 1.0f); break;
        case OP_ADD: {
            float *dx2 = slot_at(s->dact[o->in2], c, o->in2, b0, T);
            for (size_t k = 0; k < n; k++) dx[k] += dy[k], dx2[k] += dy[k];
            break;
        }
        case OP_TANH: {
            const float *y = slot_at(s->act[o->out], c, o->out, b0, T);
            for (size_t k = 0; k < n; k++) dx[k] += dy[k] * (1 - y[k] * y[k]);
            break;
        }
        }
    }
}

static void weights_backward(const cdz_model *m, codec_session *s, float *grads) {
    const codec *c = m->impl;
    size_t at = 0;
    for (int i = 0; i < c->n_convs; i++) {
        const conv_w *w = &c->convs[i];
        m->backend->weight_norm_backward(grads + w->v, grads + w->g, s->dweff[0] + w->weff, m->params + w->v, m->params + w->g,
                                         s->norms + at, w->rows, w->n);
        at += (size_t)w->rows;
    }
}

/* (B, D, F) <-> (B F, D) */
static void to_rows(float *rows, const float *chan, int B, int D, int F) {
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++)
            for (int f = 0; f < F; f++) rows[((size_t)b * F + f) * D + d] = chan[((size_t)b * D + d) * F + f];
}
static void to_channels(float *chan, const float *rows, int B, int D, int F, int add) {
    for (int b = 0; b < B; b++)
        for (int d = 0; d < D; d++)
            for (int f = 0; f < F; f++) {
                float v = rows[((size_t)b * F + f) * D + d];
                float *o = &chan[((size_t)b * D + d) * F + f];
                *o = add ? *o + v : v;
            }
}

/* How many books a training batch uses: all with probability 1 - q_dropout, else 1 .. n_q uniformly. */
#define QDROP_STREAM 0x71647270ULL /* "qdrp" */
static int books_for_step(const codec *c, const cdz_loss_opts *opts) {
    if (opts->pass != CDZ_TRAIN || c->q_dropout <= 0) return c->n_q;
    uint64_t k = cdz_random_at(cdz_random_at(opts->seed, QDROP_STREAM), (uint64_t)opts->step);
    double u = (double)(k >> 11) * (1.0 / 9007199254740992.0);
    if (u >= c->q_dropout) return c->n_q;
    return 1 + (int)(cdz_random_at(k, 1) % (uint64_t)c->n_q);
}

/* ---- the loss of a batch, its windows split over lanes (threads) ---- */

typedef enum { PHASE_ENCODE, PHASE_DECODE, PHASE_ENCODER_BACK } lane_phase;

typedef struct lane_job {
    const cdz_model *m;
    codec_session *s;
    const cdz_batch *batch;
    int B, T, train, lanes;
    lane_phase phase;
    double mel[MAX_LANES], stft[MAX_LANES], wave[MAX_LANES]; /* sums over the lane's windows */
    cdz_status st[MAX_LANES];
    cdz_error err[MAX_LANES];
} lane_job;

static void lane_windows(const lane_job *j, int lane, int *b0, int *nb) {
    *b0 = (int)((int64_t)j->B * lane / j->lanes);
    *nb = (int)((int64_t)j->B * (lane + 1) / j->lanes) - *b0;
}

/* The decoder's output against the input for the lane's windows: the losses, and their gradient set
 * on the output's slot when training (every other slot's gradient zeroed for the backward pass). */
static cdz_status window_losses(lane_job *j, int lane, int b0, int nb) {
    const cdz_model *m = j->m;
    const codec *c = m->impl;
    codec_session *s = j->s;
    const int B = j->B, T = j->T;
    const float *x = s->act[0], *y = s->act[c->output];
    float *dy = s->dact[c->output];
    if (j->train) {
        memset(dy + (size_t)b0 * T, 0, (size_t)nb * T * sizeof *dy);
        for (int i = 0; i < c->n_slots; i++)
            if (i != c->output) memset(slot_at(s->dact[i], c, i, b0, T), 0, slot_floats(c, i, nb, T) * sizeof(float));
    }
    for (int b = b0; b < b0 + nb; b++) {
        double mb = 0, sb = 0, wb = 0;
        const float *xb = x + (size_t)b * T, *yb = y + (size_t)b * T;
        float *db = j->train ? dy + (size_t)b * T : NULL;
        cdz_status st = cdz_spectral_loss(s->plan[lane], xb, yb, (size_t)T, c->w_mel / (float)B, c->w_stft / (float)B, db, &mb,
                                          &sb, &j->err[lane]);
        if (st) return st;
        const float g = c->w_wave / ((float)T * B);
        for (int t = 0; t < T; t++) {
            float d = yb[t] - xb[t];
            wb += fabsf(d);
            if (db) db[t] += g * (float)((d > 0) - (d < 0));
        }
        j->mel[lane] += mb, j->stft[lane] += sb, j->wave[lane] += wb / T;
    }
    return CDZ_OK;
}

static void lane_run(lane_job *j, int lane) {
    const codec *c = j->m->impl;
    codec_session *s = j->s;
    int b0, nb;
    lane_windows(j, lane, &b0, &nb);
    if (nb <= 0) return;
    switch (j->phase) {
    case PHASE_ENCODE: {
        float *x = s->act[0];
        for (int b = b0; b < b0 + nb; b++) {
            const int16_t *a = j->batch->windows[b].audio + j->batch->windows[b].start;
            for (int t = 0; t < j->T; t++) x[(size_t)b * j->T + t] = a[t] * (1.0f / 32768.0f);
        }
        run_forward(j->m, s, 0, c->enc_end, b0, nb, j->T, lane);
        break;
    }
    case PHASE_DECODE:
        run_forward(j->m, s, c->enc_end, c->n_ops, b0, nb, j->T, lane);
        j->st[lane] = window_losses(j, lane, b0, nb);
        if (!j->st[lane] && j->train) run_backward(j->m, s, c->enc_end, c->n_ops, b0, nb, j->T, lane);
        break;
    case PHASE_ENCODER_BACK: run_backward(j->m, s, 0, c->enc_end, b0, nb, j->T, lane); break;
    }
}

typedef struct lane_arg {
    lane_job *job;
    int lane;
} lane_arg;

static void *lane_thread(void *p) {
    lane_arg *a = p;
    lane_run(a->job, a->lane);
    return NULL;
}

/* One phase on every lane: lane 0 on the calling thread, the others on threads of their own (run here
 * in turn where a thread cannot be made). The lanes touch disjoint windows. */
static cdz_status run_phase(lane_job *j, lane_phase phase, cdz_error *err) {
    j->phase = phase;
    pthread_t tid[MAX_LANES];
    lane_arg arg[MAX_LANES];
    int started[MAX_LANES] = {0};
    for (int l = 1; l < j->lanes; l++) {
        arg[l] = (lane_arg){j, l};
        started[l] = pthread_create(&tid[l], NULL, lane_thread, &arg[l]) == 0;
    }
    lane_run(j, 0);
    for (int l = 1; l < j->lanes; l++) {
        if (started[l]) pthread_join(tid[l], NULL);
        else lane_run(j, l);
    }
    for (int l = 0; l < j->lanes; l++)
        if (j->st[l]) {
            *err = j->err[l];
            return j->st[l];
        }
    return CDZ_OK;
}

static cdz_status loss(const cdz_model *m, void *ks, const cdz_batch *batch, const cdz_loss_opts *opts, cdz_loss *out,
                       cdz_loss_stats *stats, cdz_error *err) {
    const codec *c = m->impl;
    codec_session *s = ks;
    if (batch->kind != CDZ_BATCH_AUDIO)
        return cdz_error_set(err, CDZ_ERR_ARG, "an %s model reads audio windows, not tokens", KIND);
    const int B = batch->B;
    const int64_t T64 = B > 0 ? batch->windows[0].n : 0;
    if (B < 1 || T64 % c->hop || T64 <= 1024 || T64 > (1 << 26))
        return cdz_error_set(err, CDZ_ERR_ARG, "audio windows of %lld samples: the codec needs a multiple of its hop (%d) above "
                             "1,024", (long long)T64, c->hop);
    for (int b = 0; b < B; b++)
        if (batch->windows[b].n != T64 || !batch->windows[b].audio)
            return cdz_error_set(err, CDZ_ERR_ARG, "the windows of an audio batch must all be %lld samples", (long long)T64);
    const int T = (int)T64, F = T / c->hop, N = B * F, D = c->D;
    const int train = opts->pass == CDZ_TRAIN;
    cdz_status st = ensure_buffers(m, s, B, T, train ? BUF_GRADS : BUF_FULL, err);
    if (st) return st;
    for (int l = 0; l < s->lanes; l++)
        if (!s->plan[l] && (st = cdz_spectral_plan_new(&s->plan[l], c->rate, err)) != CDZ_OK) return st;
    lane_job *j = cdz_calloc(1, sizeof *j);
    if (!j) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    const int lanes = lanes_for(B); /* (the session may hold buffers for more) */
    j->m = m, j->s = s, j->batch = batch, j->B = B, j->T = T, j->train = train, j->lanes = lanes < s->lanes ? lanes : s->lanes;
    if (train)
        for (int l = 0; l < s->lanes; l++) {
            memset(s->dweff[l], 0, c->weff_floats * sizeof(float));
            memset(s->dbias[l], 0, c->bias_floats * sizeof(float));
        }
    weights_forward(m, s);
    st = run_phase(j, PHASE_ENCODE, err);
    const int use = books_for_step(c, opts);
    if (!st) {
        to_rows(s->zt, s->act[c->latent], B, D, F);
        m->backend->rvq_forward(s->qt, s->codes, s->residuals, s->stage_q, s->vq_scratch, s->zt, m->params + c->books, N, D,
                                c->K, c->n_q, use);
        to_channels(s->act[c->quant], s->qt, B, D, F, 0);
        st = run_phase(j, PHASE_DECODE, err);
    }
    double mel = 0, stft = 0, wave = 0;
    for (int l = 0; l < j->lanes; l++) mel += j->mel[l], stft += j->stft[l], wave += j->wave[l];
    if (st) {
        cdz_free(j);
        return st;
    }
    mel /= B, stft /= B, wave /= B;
    const double commit = cdz_rvq_commitment(s->residuals, s->stage_q, N, D, use);
    const double objective = c->w_mel * mel + c->w_stft * stft + c->w_wave * wave + c->beta * commit;
    if (out) {
        memset(out, 0, sizeof *out);
        out->objective = (float)objective;
        out->n_terms = 4;
        out->terms[0].name = "mel", out->terms[0].value = mel;
        out->terms[1].name = "stft", out->terms[1].value = stft;
        out->terms[2].name = "wave", out->terms[2].value = wave;
        out->terms[3].name = "commit", out->terms[3].value = commit;
        out->tokens = (int64_t)B * T;
    }
    if (stats) {
        stats->loss_sum += objective * B * T;
        stats->tokens += (int64_t)B * T;
    }
    if (!train) {
        cdz_free(j);
        return CDZ_OK;
    }
    float *dz = s->qt; /* the quantized rows are no longer needed: their buffer takes the gradient */
    float *dq = s->zt; /* (the encodings are kept in residuals[0]) */
    to_rows(dq, s->dact[c->quant], B, D, F);
    memset(dz, 0, (size_t)N * D * sizeof *dz);
    m->backend->rvq_backward(dz, dq, s->residuals, s->stage_q, N, D, use, c->beta);
    to_channels(s->dact[c->latent], dz, B, D, F, 1);
    st = run_phase(j, PHASE_ENCODER_BACK, err);
    cdz_free(j);
    if (st) return st;
    /* the lanes' gradients summed in lane 0's, then through the weight norm; biases straight to grads */
    for (int l = 1; l < s->lanes; l++) {
        float *d0 = s->dweff[0];
        const float *dl = s->dweff[l];
        for (size_t k = 0; k < c->weff_floats; k++) d0[k] += dl[k];
    }
    for (int i = 0; i < c->n_convs; i++) {
        const conv_w *w = &c->convs[i];
        float *g = opts->grads + w->b;
        for (int l = 0; l < s->lanes; l++)
            for (int k = 0; k < w->oc; k++) g[k] += s->dbias[l][w->bo + (size_t)k];
    }
    weights_backward(m, s, opts->grads);
    s->pending = 1, s->use = use, s->N = N;
    return CDZ_OK;
}

/* The codebooks' EMA update and dead-code restarts from the last training loss's encodings: book i
 * learns from the residual it quantised (r_i, kept by the forward pass). */
static void after_step(cdz_model *m, void *ks, int64_t step_done) {
    const codec *c = m->impl;
    codec_session *s = ks;
    if (!s->pending) return;
    s->pending = 0;
    const int N = s->N, D = c->D, K = c->K;
    for (int i = 0; i < s->use; i++) {
        for (int n = 0; n < N; n++) s->stage_codes[n] = s->codes[(size_t)n * c->n_q + i];
        const float *r = s->residuals + (size_t)i * N * D;
        float *book = m->params + c->books + (size_t)i * K * D, *count = m->params + c->ema_count + (size_t)i * K,
              *sum = m->params + c->ema_sum + (size_t)i * K * D;
        cdz_vq_ema_update(book, count, sum, r, s->stage_codes, N, D, K, c->decay, 1e-5f);
        if (c->dead > 0) cdz_vq_restart_dead(book, count, sum, r, N, D, K, c->dead, cdz_random_at((uint64_t)step_done, (uint64_t)i));
    }
}

/* ---- encoding and decoding whole clips (cadenza/audio_codec.h) ---- */

cdz_audio_codec_shape cdz_audio_codec_shape_of(const cdz_model *m) {
    cdz_audio_codec_shape sh = {0, 0, 0, 0};
    if (!m || m->kind != &cdz_audio_codec) return sh;
    const codec *c = m->impl;
    sh.rate = (uint32_t)c->rate, sh.hop = c->hop, sh.books = c->n_q, sh.codebook = c->K;
    return sh;
}

double cdz_audio_codec_kbps(const cdz_audio_codec_shape *s, int n_q) {
    if (!s->hop || s->codebook < 2) return 0;
    return n_q * log2((double)s->codebook) * s->rate / s->hop / 1000.0;
}

/* How far (in samples, either side) an output of ops [from, to) can see: a convolution reads
 * (K - 1) dilation + stride input positions around an output, a transposed one ceil(K / stride) + 1,
 * at its input's rate; summed along the chain (residual branches counted as if in series: an upper
 * bound). */
static double reach_of(const codec *c, int from, int to) {
    double r = 0;
    for (int i = from; i < to; i++) {
        const op *o = &c->ops[i];
        if (o->type == OP_CONV) r += (double)((o->K - 1) * o->dil + o->stride) * c->slots[o->in].div;
        if (o->type == OP_CONVT) r += (double)((o->K + o->stride - 1) / o->stride + 1) * c->slots[o->in].div;
    }
    return r;
}

/* Chunks of 4 s of frames with, on each side, context beyond the encoder's or the decoder's reach,
 * so that chunked coding gives what one pass over the whole clip would (to rounding). Short chunks
 * keep the activations in cache (codec_lite: 3.3 MB for each of its widest); the context costs
 * 2 ctx / core more work (codec_lite: 16 frames a side, 11%). */
static void chunking(const codec *c, int *core, int *ctx) {
    double reach = fmax(reach_of(c, 0, c->enc_end), reach_of(c, c->enc_end, c->n_ops));
    *core = (int)ceil(4.0 * c->rate / c->hop);
    *ctx = (int)ceil(reach / c->hop) + 1;
}

/* The chunk from frame f0 of F: its core frames [f0, *f1) and, with the context, [*a, *z). */
static void chunk_span(size_t f0, size_t F, int core, int ctx, size_t *f1, size_t *a, size_t *z) {
    *f1 = f0 + (size_t)core < F ? f0 + (size_t)core : F;
    *a = f0 > (size_t)ctx ? f0 - (size_t)ctx : 0;
    *z = *f1 + (size_t)ctx < F ? *f1 + (size_t)ctx : F;
}

static cdz_status check_model(const cdz_model *m, int n_q, cdz_error *err) {
    if (!m || m->kind != &cdz_audio_codec)
        return cdz_error_set(err, CDZ_ERR_ARG, "the model is a %s, not an %s", m ? m->kind->name : "(none)", KIND);
    const codec *c = m->impl;
    if (n_q < 1 || n_q > c->n_q)
        return cdz_error_set(err, CDZ_ERR_ARG, "%d codebooks: the codec has 1 to %d", n_q, c->n_q);
    return CDZ_OK;
}

cdz_status cdz_audio_codec_encode(const cdz_model *m, const float *x, size_t n, int n_q, int32_t **codes, size_t *frames,
                                  cdz_error *err) {
    *codes = NULL, *frames = 0;
    cdz_status st = check_model(m, n_q, err);
    if (st) return st;
    const codec *c = m->impl;
    if (n == 0) return cdz_error_set(err, CDZ_ERR_ARG, "no samples to encode");
    const size_t F = (n + (size_t)c->hop - 1) / (size_t)c->hop;
    int core, ctx;
    chunking(c, &core, &ctx);
    codec_session *s = session_new(m, 1, 0, err);
    int32_t *out = cdz_malloc(F * (size_t)n_q * sizeof *out);
    if (!s || !out) {
        session_free(s), cdz_free(out);
        return err->status ? err->status : cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %zu frames of codes", F);
    }
    int weights_done = 0;
    for (size_t f0 = 0; f0 < F && !st; f0 += (size_t)core) {
        size_t f1, a, z;
        chunk_span(f0, F, core, ctx, &f1, &a, &z);
        const int Fc = (int)(z - a), T = Fc * c->hop;
        int Tpad = T > 1024 ? T : (1024 / c->hop + 1) * c->hop; /* buffers (and convolutions) of at least this */
        if ((st = ensure_buffers(m, s, 1, Tpad, BUF_POOLED, err)) != CDZ_OK) break;
        if (!weights_done) weights_forward(m, s), weights_done = 1;
        float *in = s->act[0];
        for (int t = 0; t < Tpad; t++) {
            size_t i = a * (size_t)c->hop + (size_t)t;
            in[t] = t < T && i < n ? x[i] : 0.0f;
        }
        const int Fp = Tpad / c->hop;
        run_forward(m, s, 0, c->enc_end, 0, 1, Tpad, 0);
        to_rows(s->zt, s->act[c->latent], 1, c->D, Fp);
        m->backend->rvq_forward(s->qt, s->codes, s->residuals, s->stage_q, s->vq_scratch, s->zt, m->params + c->books, Fp, c->D,
                                c->K, c->n_q, n_q);
        for (size_t f = f0; f < f1; f++)
            for (int q = 0; q < n_q; q++) out[f * (size_t)n_q + (size_t)q] = s->codes[(f - a) * (size_t)c->n_q + (size_t)q];
    }
    session_free(s);
    if (st) {
        cdz_free(out);
        return st;
    }
    *codes = out, *frames = F;
    return CDZ_OK;
}

cdz_status cdz_audio_codec_decode(const cdz_model *m, const int32_t *codes, size_t frames, int n_q, float **y, size_t *n,
                                  cdz_error *err) {
    *y = NULL, *n = 0;
    cdz_status st = check_model(m, n_q, err);
    if (st) return st;
    const codec *c = m->impl;
    if (frames == 0) return cdz_error_set(err, CDZ_ERR_ARG, "no codes to decode");
    for (size_t i = 0; i < frames * (size_t)n_q; i++)
        if (codes[i] < 0 || codes[i] >= c->K)
            return cdz_error_set(err, CDZ_ERR_RANGE, "code %d at frame %zu, book %d: the codebooks have %d entries", codes[i],
                                 i / (size_t)n_q, (int)(i % (size_t)n_q), c->K);
    int core, ctx;
    chunking(c, &core, &ctx);
    codec_session *s = session_new(m, 1, 0, err);
    float *out = cdz_malloc(frames * (size_t)c->hop * sizeof *out);
    if (!s || !out) {
        session_free(s), cdz_free(out);
        return err->status ? err->status : cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %zu frames of audio", frames);
    }
    int weights_done = 0;
    const float *books = m->params + c->books;
    for (size_t f0 = 0; f0 < frames && !st; f0 += (size_t)core) {
        size_t f1, a, z;
        chunk_span(f0, frames, core, ctx, &f1, &a, &z);
        const int Fc = (int)(z - a);
        const int Fp = Fc * c->hop > 1024 ? Fc : 1024 / c->hop + 1;
        if ((st = ensure_buffers(m, s, 1, Fp * c->hop, BUF_POOLED, err)) != CDZ_OK) break;
        if (!weights_done) weights_forward(m, s), weights_done = 1;
        memset(s->qt, 0, (size_t)Fp * c->D * sizeof *s->qt);
        for (int f = 0; f < Fc; f++)
            for (int q = 0; q < n_q; q++) {
                const float *row = books + ((size_t)q * c->K + (size_t)codes[(a + (size_t)f) * (size_t)n_q + (size_t)q]) * c->D;
                for (int d = 0; d < c->D; d++) s->qt[(size_t)f * c->D + d] += row[d];
            }
        to_channels(s->act[c->quant], s->qt, 1, c->D, Fp, 0);
        run_forward(m, s, c->enc_end, c->n_ops, 0, 1, Fp * c->hop, 0);
        const float *o = s->act[c->output];
        memcpy(out + f0 * (size_t)c->hop, o + (f0 - a) * (size_t)c->hop, (f1 - f0) * (size_t)c->hop * sizeof *out);
    }
    session_free(s);
    if (st) {
        cdz_free(out);
        return st;
    }
    *y = out, *n = frames * (size_t)c->hop;
    return CDZ_OK;
}

const cdz_model_kind cdz_audio_codec = {
    .name = KIND,
    .description = "a residual-VQ neural audio codec (SoundStream, EnCodec, DAC): audio to codes of 1 to 8 books and back",
    .default_config = "codec_lite",
    .config_names = CONFIG_NAMES,
    .named_config = named_config,
    .from_config = from_config,
    .config_json = config_json,
    .init_params = init_params,
    .session_new = session_new,
    .session_free = session_free,
    .row_bytes = row_bytes,
    .default_window = default_window,
    .step = step,
    .loss = loss,
    .after_step = after_step,
};

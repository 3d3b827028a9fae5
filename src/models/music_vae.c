/* MusicVAE (Roberts et al. 2018; Magenta's music_vae: base_model.py, lstm_models.py): a bidirectional
 * LSTM encoder gives the posterior of a latent z; a decoder rebuilds the window from z, flat (one LSTM
 * over every step, z read at each) or hierarchical (a conductor LSTM gives one embedding per bar, each
 * bar's own decoder starts from and reads its embedding). The trio has three bar decoders, one per
 * part (melody, bass, drums), under one conductor. docs/music_vae.md has the equations.
 *
 * Windows: S 16th-note steps of P parts, interleaved (token i is part i % P of step i / P, offset by
 * the part's first class). What each part's class looks like to the LSTMs: a one-hot vector, or for
 * 2-bar drums Magenta's roll (the 9 drum bits and a "nothing hit" bit).
 *
 * Loss (base_model.py): per window, the summed cross-entropy of every token plus beta times
 * max(KL - free_bits * ln 2, 0), averaged over the batch; beta = max_beta * (1 - beta_rate^step).
 * Training draws z = mu + sigma * eps; evaluation and encode use z = mu. With scheduled sampling
 * (sampling_rate k > 0, training only) each decoder input within a row (a bar of the hierarchical
 * decoder, the whole window of the flat one) after its first is, with probability 1 - k / (k + e^(step/k)),
 * the model's own sample instead of the data; the decoder then runs step by step (stack_step, which
 * relies on lstm_step leaving the gates' activations for backward, as nn.h says). A bar's first input,
 * the previous bar's last class, is always the data's.
 *
 * Generation (cdz_session_set_latent, then a START token, then each drawn token): a row's block holds
 * z, the conductor's and the decoders' states and each part's last class.
 *
 * Forward is a list of layer calls; backward is the same list reversed (STYLE.md). Host-memory
 * backends only (cpu, reference): the small tanh, softplus and copy loops run here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cadenza/codec.h"
#include "cadenza/model_kind.h"
#include "cadenza/nn.h"
#include "cadenza/vae.h"

enum { MAX_PARTS = 3, MAX_LAYERS = 4, BAR_STEPS = 16, DRUM_ROLL = 10 };
#define KIND "music_vae"

typedef struct vae_part {
    int K;      /* classes */
    int offset; /* its first token */
    int width;  /* its input vector: K (one-hot) or DRUM_ROLL */
    int melodic; /* classes no-event, note-off, pitches (else drum sets) */
} vae_part;

typedef struct lstm_off { size_t w_ih, w_hh, b; } lstm_off;
typedef struct dense_off { size_t w, b; } dense_off;

typedef struct vae {
    int S, P, V, D;              /* steps, parts, classes of all parts (the vocabulary), encoder input width */
    vae_part part[MAX_PARTS];
    int Le, He, Z;               /* encoder layers and width per direction, latent size */
    int hier, Lc, Hc, Ld, Hd;    /* conductor and decoder layers and widths */
    float free_bits, max_beta, beta_rate, sampling_rate;
    /* parameter offsets */
    lstm_off enc[MAX_LAYERS][2];
    dense_off mu, sigma, cond_init, dec_init[MAX_PARTS], out[MAX_PARTS];
    lstm_off cond[MAX_LAYERS], dec[MAX_PARTS][MAX_LAYERS];
} vae;

/* Decoder geometry: rows per window, steps per row, and the context each row reads (z, or its bar's
 * embedding). */
static int dec_rows_per_window(const vae *v) { return v->hier ? v->S / BAR_STEPS : 1; }
static int dec_steps(const vae *v) { return v->hier ? BAR_STEPS : v->S; }
static int ctx_width(const vae *v) { return v->hier ? v->Hc : v->Z; }
static int window_tokens(const vae *v) { return v->S * v->P; }

/* ---- configs ---- */

static const char *const CONFIG_NAMES[] = {"mel_2bar", "mel_16bar", "mel_16bar_flat", "drums_2bar", "trio_16bar",
                                           "cat-mel_2bar_small", "hierdec-mel_16bar", "cat-drums_2bar_small",
                                           "hierdec-trio_16bar", "tiny_mel_2bar", "tiny_hier", "tiny_trio", "tiny_drums",
                                           NULL};

/* Magenta's shared hyperparameters: Adam at 1e-3 decaying by 0.9999 per step to 1e-5, clip 1.0,
 * beta_rate 0.99999, max_beta 0.2, inverse-sigmoid scheduled sampling at rate 1000. */
#define MAGENTA_TRAIN "\"lr\":0.001,\"clip\":1,\"weight_decay\":0,\"warmup_steps\":0,\"decay\":\"exponential_floor\"," \
                      "\"decay_rate\":0.9999,\"min_lr_ratio\":0.01"

static const char *named_config(const char *name) {
/* A named config's whole JSON, built by the compiler (no buffer filled at run time). */
#define CFG(name, fields) {name, "{\"kind\":\"" KIND "\",\"config_name\":\"" name "\"," fields "," MAGENTA_TRAIN "}"}
    static const struct { const char *name, *json; } table[] = {
        /* Magenta's shapes (configs.py) */
        CFG("cat-mel_2bar_small", "\"codec\":\"vae_mel_2bar\",\"enc_layers\":1,\"enc_hidden\":512,\"z\":256,\"decoder\":\"flat\","
                               "\"dec_layers\":2,\"dec_hidden\":256,\"free_bits\":0,\"max_beta\":0.2,\"beta_rate\":0.99999,"
                               "\"sampling_rate\":1000,\"batch\":512"),
        CFG("hierdec-mel_16bar", "\"codec\":\"vae_mel_16bar\",\"enc_layers\":2,\"enc_hidden\":2048,\"z\":512,\"decoder\":\"hier\","
                              "\"cond_layers\":2,\"cond_hidden\":1024,\"dec_layers\":2,\"dec_hidden\":1024,\"free_bits\":256,"
                              "\"max_beta\":0.2,\"beta_rate\":0.99999,\"sampling_rate\":1000,\"batch\":512"),
        CFG("cat-drums_2bar_small", "\"codec\":\"vae_drums\",\"enc_layers\":1,\"enc_hidden\":512,\"z\":256,\"decoder\":\"flat\","
                                 "\"dec_layers\":2,\"dec_hidden\":256,\"free_bits\":48,\"max_beta\":0.2,\"beta_rate\":0.99999,"
                                 "\"sampling_rate\":1000,\"batch\":512"),
        CFG("hierdec-trio_16bar", "\"codec\":\"vae_trio_16bar\",\"enc_layers\":2,\"enc_hidden\":2048,\"z\":512,\"decoder\":\"hier\","
                               "\"cond_layers\":2,\"cond_hidden\":1024,\"dec_layers\":2,\"dec_hidden\":1024,\"free_bits\":256,"
                               "\"max_beta\":0.2,\"beta_rate\":0.99999,\"sampling_rate\":1000,\"batch\":512"),
        /* reduced: the same structures at sizes two cores train in under an hour (docs/music_vae.md) */
        CFG("mel_2bar", "\"codec\":\"vae_mel_2bar\",\"enc_layers\":1,\"enc_hidden\":128,\"z\":128,\"decoder\":\"flat\","
                     "\"dec_layers\":2,\"dec_hidden\":192,\"free_bits\":0,\"max_beta\":0.2,\"beta_rate\":0.9999,"
                     "\"sampling_rate\":1000,\"batch\":64"),
        CFG("mel_16bar", "\"codec\":\"vae_mel_16bar\",\"enc_layers\":1,\"enc_hidden\":128,\"z\":128,\"decoder\":\"hier\","
                      "\"cond_layers\":1,\"cond_hidden\":128,\"dec_layers\":1,\"dec_hidden\":192,\"free_bits\":48,"
                      "\"max_beta\":0.2,\"beta_rate\":0.9999,\"sampling_rate\":1000,\"batch\":32"),
        CFG("mel_16bar_flat", "\"codec\":\"vae_mel_16bar\",\"enc_layers\":1,\"enc_hidden\":128,\"z\":128,\"decoder\":\"flat\","
                           "\"dec_layers\":1,\"dec_hidden\":256,\"free_bits\":48,\"max_beta\":0.2,\"beta_rate\":0.9999,"
                           "\"sampling_rate\":1000,\"batch\":32"),
        CFG("drums_2bar", "\"codec\":\"vae_drums\",\"enc_layers\":1,\"enc_hidden\":128,\"z\":128,\"decoder\":\"flat\","
                       "\"dec_layers\":2,\"dec_hidden\":192,\"free_bits\":48,\"max_beta\":0.2,\"beta_rate\":0.9999,"
                       "\"sampling_rate\":1000,\"batch\":64"),
        CFG("trio_16bar", "\"codec\":\"vae_trio_16bar\",\"enc_layers\":1,\"enc_hidden\":128,\"z\":128,\"decoder\":\"hier\","
                       "\"cond_layers\":1,\"cond_hidden\":128,\"dec_layers\":1,\"dec_hidden\":128,\"free_bits\":64,"
                       "\"max_beta\":0.2,\"beta_rate\":0.9999,\"sampling_rate\":1000,\"batch\":16"),
        /* for tests: every structure at sizes whose gradients can be checked numerically */
        CFG("tiny_mel_2bar", "\"codec\":\"vae_mel_2bar\",\"enc_layers\":2,\"enc_hidden\":5,\"z\":4,\"decoder\":\"flat\","
                          "\"dec_layers\":2,\"dec_hidden\":6,\"free_bits\":0,\"max_beta\":0.2,\"beta_rate\":0.99,"
                          "\"sampling_rate\":0,\"batch\":4"),
        CFG("tiny_hier", "\"codec\":\"vae_mel_16bar\",\"enc_layers\":1,\"enc_hidden\":4,\"z\":3,\"decoder\":\"hier\","
                      "\"cond_layers\":2,\"cond_hidden\":5,\"dec_layers\":2,\"dec_hidden\":4,\"free_bits\":0,\"max_beta\":0.2,"
                      "\"beta_rate\":0.99,\"sampling_rate\":0,\"batch\":2"),
        CFG("tiny_trio", "\"codec\":\"vae_trio_16bar\",\"enc_layers\":1,\"enc_hidden\":4,\"z\":3,\"decoder\":\"hier\","
                      "\"cond_layers\":1,\"cond_hidden\":4,\"dec_layers\":1,\"dec_hidden\":3,\"free_bits\":0,\"max_beta\":0.2,"
                      "\"beta_rate\":0.99,\"sampling_rate\":0,\"batch\":2"),
        CFG("tiny_drums", "\"codec\":\"vae_drums\",\"enc_layers\":1,\"enc_hidden\":4,\"z\":3,\"decoder\":\"flat\","
                       "\"dec_layers\":1,\"dec_hidden\":5,\"free_bits\":0,\"max_beta\":0.2,\"beta_rate\":0.99,"
                       "\"sampling_rate\":0,\"batch\":2"),
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(name, table[i].name) == 0) return table[i].json;
    return NULL;
#undef CFG
}

/* The windows of a codec: steps and parts. */
static int codec_shape(vae *v, const char *codec) {
    if (strcmp(codec, "vae_mel_2bar") == 0 || strcmp(codec, "vae_mel_16bar") == 0) {
        v->S = codec[8] == '2' ? 32 : 256, v->P = 1;
        v->part[0] = (vae_part){90, 0, 90, 1};
    } else if (strcmp(codec, "vae_drums") == 0) {
        v->S = 32, v->P = 1;
        v->part[0] = (vae_part){512, 0, DRUM_ROLL, 0};
    } else if (strcmp(codec, "vae_trio_16bar") == 0) {
        v->S = 256, v->P = 3;
        v->part[0] = (vae_part){90, 0, 90, 1};
        v->part[1] = (vae_part){90, 90, 90, 1};
        v->part[2] = (vae_part){512, 180, 512, 0};
    } else {
        return 0;
    }
    v->V = v->D = 0;
    for (int p = 0; p < v->P; p++) v->V += v->part[p].K, v->D += v->part[p].width;
    return 1;
}

static cdz_status add(cdz_model *m, size_t *off, const char *name, int ndim, int64_t d0, int64_t d1, cdz_error *err) {
    int64_t shape[2] = {d0, d1};
    *off = m->n_params;
    return cdz_model_add_tensor(m, name, ndim, shape, err);
}

static cdz_status add_lstm(cdz_model *m, lstm_off *o, const char *prefix, int C, int H, cdz_error *err) {
    char name[64];
    snprintf(name, sizeof name, "%s.weight_ih", prefix);
    cdz_status st = add(m, &o->w_ih, name, 2, 4 * H, C, err);
    snprintf(name, sizeof name, "%s.weight_hh", prefix);
    if (!st) st = add(m, &o->w_hh, name, 2, 4 * H, H, err);
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!st) st = add(m, &o->b, name, 1, 4 * H, 0, err);
    return st;
}

static cdz_status add_dense(cdz_model *m, dense_off *o, const char *prefix, int C, int OC, cdz_error *err) {
    char name[64];
    snprintf(name, sizeof name, "%s.weight", prefix);
    cdz_status st = add(m, &o->w, name, 2, OC, C, err);
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!st) st = add(m, &o->b, name, 1, OC, 0, err);
    return st;
}

static cdz_status layout(cdz_model *m, vae *v, cdz_error *err) {
    static const char *const PART_NAMES[MAX_PARTS] = {"0", "1", "2"};
    char name[64];
    cdz_status st = CDZ_OK;
    for (int l = 0; l < v->Le && !st; l++)
        for (int d = 0; d < 2 && !st; d++) {
            snprintf(name, sizeof name, "enc.%d.%s", l, d ? "bwd" : "fwd");
            st = add_lstm(m, &v->enc[l][d], name, l ? 2 * v->He : v->D, v->He, err);
        }
    if (!st) st = add_dense(m, &v->mu, "enc.mu", 2 * v->He, v->Z, err);
    if (!st) st = add_dense(m, &v->sigma, "enc.sigma", 2 * v->He, v->Z, err);
    if (v->hier) {
        if (!st) st = add_dense(m, &v->cond_init, "cond.init", v->Z, 2 * v->Lc * v->Hc, err);
        for (int l = 0; l < v->Lc && !st; l++) {
            snprintf(name, sizeof name, "cond.%d", l);
            st = add_lstm(m, &v->cond[l], name, l ? v->Hc : 1, v->Hc, err);
        }
    }
    const int Cx = ctx_width(v);
    for (int p = 0; p < v->P && !st; p++) {
        snprintf(name, sizeof name, "dec.%s.init", PART_NAMES[p]);
        st = add_dense(m, &v->dec_init[p], name, Cx, 2 * v->Ld * v->Hd, err);
        for (int l = 0; l < v->Ld && !st; l++) {
            snprintf(name, sizeof name, "dec.%s.%d", PART_NAMES[p], l);
            st = add_lstm(m, &v->dec[p][l], name, l ? v->Hd : v->part[p].width + Cx, v->Hd, err);
        }
        snprintf(name, sizeof name, "dec.%s.out", PART_NAMES[p]);
        if (!st) st = add_dense(m, &v->out[p], name, v->Hd, v->part[p].K, err);
    }
    return st;
}

static cdz_status get_int(const cdz_json *c, const char *key, int64_t dflt, int64_t lo, int64_t hi, int *out,
                          const char *what, cdz_error *err) {
    return cdz_config_int(c, key, dflt, lo, hi, out, KIND, what, err);
}

static cdz_status get_float(const cdz_json *c, const char *key, double dflt, double lo, double hi, float *out,
                            const char *what, cdz_error *err) {
    return cdz_config_float(c, key, dflt, lo, hi, out, KIND, what, err);
}

static cdz_status from_config(cdz_model *m, const cdz_json *c, const char *what, cdz_error *err) {
    vae *v = cdz_calloc(1, sizeof *v);
    if (!v) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    m->impl = v;
    const char *codec = cdz_json_get_string(c, "codec", "vae_mel_2bar");
    if (!codec_shape(v, codec))
        return cdz_error_set(err, CDZ_ERR_FORMAT,
                             "%s: " KIND " config: codec '%s' is not a MusicVAE codec (vae_mel_2bar, vae_mel_16bar, vae_drums, "
                             "vae_trio_16bar)", what, codec);
    snprintf(m->codec, sizeof m->codec, "%s", codec);
    const char *dec = cdz_json_get_string(c, "decoder", "flat");
    if (strcmp(dec, "flat") != 0 && strcmp(dec, "hier") != 0)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: " KIND " config: decoder '%s' is not flat or hier", what, dec);
    v->hier = strcmp(dec, "hier") == 0;
    if (!v->hier && v->P > 1)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: " KIND " config: the trio needs the hierarchical decoder (\"decoder\":\"hier\")",
                             what);
    cdz_status st = get_int(c, "enc_layers", 1, 1, MAX_LAYERS, &v->Le, what, err);
    if (!st) st = get_int(c, "enc_hidden", 256, 1, 4096, &v->He, what, err);
    if (!st) st = get_int(c, "z", 128, 1, 4096, &v->Z, what, err);
    if (!st) st = get_int(c, "dec_layers", 2, 1, MAX_LAYERS, &v->Ld, what, err);
    if (!st) st = get_int(c, "dec_hidden", 256, 1, 4096, &v->Hd, what, err);
    if (!st && v->hier) st = get_int(c, "cond_layers", 2, 1, MAX_LAYERS, &v->Lc, what, err);
    if (!st && v->hier) st = get_int(c, "cond_hidden", 256, 1, 4096, &v->Hc, what, err);
    if (!st) st = get_float(c, "free_bits", 0, 0, 1e6, &v->free_bits, what, err);
    if (!st) st = get_float(c, "max_beta", 0.2, 0, 1e3, &v->max_beta, what, err);
    if (!st) st = get_float(c, "beta_rate", 0.99999, 0, 1, &v->beta_rate, what, err);
    if (!st) st = get_float(c, "sampling_rate", 0, 0, 1e9, &v->sampling_rate, what, err);
    const int L = window_tokens(v);
    cdz_train_defaults dflt = {64, L - 1, 1e-3f, 1, 0, 0, 0, 0, 0};
    if (!st) st = cdz_config_train(c, dflt, L - 1, KIND, what, m, err);
    if (st) return st;
    /* a window is predicted whole: seq + 1 = the window's tokens */
    if (m->train.seq != L - 1)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: " KIND " config: seq %d; a %s window is %d tokens, so seq is %d", what,
                             m->train.seq, codec, L, L - 1);
    m->vocab = (uint32_t)v->V;
    m->history_vocab = (uint32_t)v->V + 1; /* START, fed first in generation */
    m->max_len = L - 1;
    st = layout(m, v, err);
    if (!st) st = cdz_model_alloc_params(m, err);
    return st;
}

static char *config_json(const cdz_model *m) {
    const vae *v = m->impl;
    char *s = cdz_malloc(1200);
    if (!s) return NULL;
    char name[160], train[400], hier[96] = "";
    cdz_json_quote(name, sizeof name, m->config_name);
    cdz_config_train_json(&m->train, train, sizeof train);
    if (v->hier) snprintf(hier, sizeof hier, "\"cond_layers\":%d,\"cond_hidden\":%d,", v->Lc, v->Hc);
    snprintf(s, 1200,
             "{\"kind\":\"" KIND "\",\"config_name\":%s,\"codec\":\"%s\",\"enc_layers\":%d,\"enc_hidden\":%d,\"z\":%d,"
             "\"decoder\":\"%s\",%s\"dec_layers\":%d,\"dec_hidden\":%d,\"free_bits\":%.9g,\"max_beta\":%.9g,"
             "\"beta_rate\":%.9g,\"sampling_rate\":%.9g,%s}",
             name, m->codec, v->Le, v->He, v->Z, v->hier ? "hier" : "flat", hier, v->Ld, v->Hd, v->free_bits, v->max_beta,
             v->beta_rate, v->sampling_rate, train);
    return s;
}

/* Glorot uniform over each LSTM's [input + recurrent, 4H] kernel and each dense layer, biases zero,
 * LSTM forget gates at 1 (TensorFlow's defaults, which Magenta keeps). */
static void init_params(cdz_model *m, cdz_rng *rng) {
    for (size_t i = 0; i < m->n_tensors; i++) {
        const cdz_tensor_info *t = &m->tensors[i];
        float *p = m->params + t->offset;
        size_t len = strlen(t->name);
        int is_bias = len > 5 && strcmp(t->name + len - 5, ".bias") == 0;
        if (is_bias) {
            memset(p, 0, t->numel * sizeof *p);
            if (i >= 2 && strstr(m->tensors[i - 1].name, "weight_hh")) /* an LSTM's: forget gates at 1 */
                for (int64_t k = t->shape[0] / 4; k < t->shape[0] / 2; k++) p[k] = 1.0f;
            continue;
        }
        double fan_out = (double)t->shape[0], fan_in = (double)t->shape[1];
        if (strstr(t->name, "weight_ih")) fan_in += (double)m->tensors[i + 1].shape[1]; /* + H of weight_hh */
        if (strstr(t->name, "weight_hh")) fan_in += (double)m->tensors[i - 1].shape[1];
        double bound = sqrt(6.0 / (fan_in + fan_out));
        for (size_t k = 0; k < t->numel; k++) p[k] = (float)((2 * cdz_rng_uniform(rng) - 1) * bound);
    }
}

/* ---- scratch: one arena per session, laid out the same way on every call of the same shape ---- */

typedef struct arena {
    float *buf;
    size_t cap, used, peak;
} arena;

/* n floats from the arena, or NULL when it is full (the call then grows it to the peak and retries). */
static float *take(arena *a, size_t n) {
    size_t at = a->used;
    a->used += (n + 15) / 16 * 16;
    if (a->used > a->peak) a->peak = a->used;
    return a->used <= a->cap ? a->buf + at : NULL;
}

static float *take0(arena *a, size_t n) {
    float *p = take(a, n);
    if (p) memset(p, 0, n * sizeof *p);
    return p;
}

typedef struct vae_ws {
    arena a;
    int trained_B;   /* the largest batch a training call has completed with the arena as it is */
    int step_B;
    float *step_buf; /* generation: per row the layer inputs, h, c, gates, logits */
} vae_ws;

static void *session_new(const cdz_model *m, int rows, int64_t window, cdz_error *err) {
    (void)window;
    const vae *v = m->impl;
    vae_ws *ws = cdz_calloc(1, sizeof *ws);
    int wide = v->Hd > v->Hc ? v->Hd : v->Hc;
    int Cx = ctx_width(v), widest_in = 0;
    for (int p = 0; p < v->P; p++)
        if (v->part[p].width + Cx > widest_in) widest_in = v->part[p].width + Cx;
    if (widest_in < wide) widest_in = wide;
    size_t init = 2 * (size_t)(v->Ld * v->Hd > v->Lc * v->Hc ? v->Ld * v->Hd : v->Lc * v->Hc);
    size_t per_row = (size_t)widest_in + (size_t)v->Z + 6 * (size_t)wide + init + (size_t)v->V + 1;
    if (ws) ws->step_buf = cdz_calloc((size_t)rows * per_row, sizeof *ws->step_buf);
    if (!ws || !ws->step_buf) {
        if (ws) cdz_free(ws);
        cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for a " KIND " session of %d rows", rows);
        return NULL;
    }
    ws->step_B = rows;
    return ws;
}

static void session_free(void *kws) {
    vae_ws *ws = kws;
    cdz_free(ws->a.buf), cdz_free(ws->step_buf);
    cdz_free(ws);
}

/* ---- small layers computed here ---- */

static void tanh_inplace(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}
/* dx = dy * (1 - y^2), in place on dy. */
static void tanh_backward_inplace(float *dy, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) dy[i] *= 1 - y[i] * y[i];
}
static double softplus(double x) { return x > 20 ? x : log1p(exp(x)); }
static double sigmoid(double x) { return 1 / (1 + exp(-x)); }
/* log softplus(x), exact where softplus underflows */
static double log_softplus(double x) { return x < -20 ? x : log(softplus(x)); }

/* Writes part p's input vector for class k (k < 0: nothing, zeros) at x (width floats). */
static void encode_class(const vae *v, int p, int k, float *x) {
    const vae_part *pt = &v->part[p];
    memset(x, 0, (size_t)pt->width * sizeof *x);
    if (k < 0) return;
    if (pt->width == DRUM_ROLL) {
        for (int c = 0; c < 9; c++) x[c] = (float)((k >> c) & 1);
        x[9] = k == 0;
    } else {
        x[k] = 1;
    }
}

/* ---- an LSTM stack over T steps of R rows, initial states given (or NULL: zeros) ---- */

typedef struct stack {
    int L, H, C, T, R;             /* layers, width, input width, steps, rows */
    const lstm_off *off;
    float *h[MAX_LAYERS], *c[MAX_LAYERS], *g[MAX_LAYERS];
    float *h0[MAX_LAYERS], *c0[MAX_LAYERS]; /* (R, H) each, or NULL */
} stack;

static int stack_alloc(arena *a, stack *s, int L, int H, int C, int T, int R, const lstm_off *off, int with_init) {
    *s = (stack){L, H, C, T, R, off, {0}, {0}, {0}, {0}, {0}};
    size_t n = (size_t)T * R * H;
    int ok = 1;
    for (int l = 0; l < L; l++) {
        ok &= (s->h[l] = take(a, n)) && (s->c[l] = take(a, n)) && (s->g[l] = take(a, 4 * n));
        if (with_init) ok &= (s->h0[l] = take(a, (size_t)R * H)) && (s->c0[l] = take(a, (size_t)R * H));
    }
    return ok;
}

static void stack_forward(const cdz_backend *nn, const float *P, stack *s, const float *x) {
    for (int l = 0; l < s->L; l++) {
        const lstm_off *o = &s->off[l];
        nn->lstm_forward(s->h[l], s->c[l], s->g[l], l ? s->h[l - 1] : x, s->h0[l], s->c0[l], P + o->w_ih, P + o->w_hh, P + o->b,
                         s->T, s->R, l ? s->H : s->C, s->H);
    }
}

/* One step t of every layer (what lstm_forward does at t), for decoders whose input at t depends on
 * their output at t - 1. x_t: (R, C). */
static void stack_step(const cdz_backend *nn, const float *P, stack *s, const float *x_t, int t) {
    const size_t rh = (size_t)s->R * s->H;
    for (int l = 0; l < s->L; l++) {
        const lstm_off *o = &s->off[l];
        float *h = s->h[l] + (size_t)t * rh, *c = s->c[l] + (size_t)t * rh;
        const float *hp = t ? h - rh : s->h0[l], *cp = t ? c - rh : s->c0[l];
        if (hp) memcpy(h, hp, rh * sizeof *h);
        else memset(h, 0, rh * sizeof *h);
        if (cp) memcpy(c, cp, rh * sizeof *c);
        else memset(c, 0, rh * sizeof *c);
        nn->lstm_step(h, c, s->g[l] + (size_t)t * 4 * rh, l ? s->h[l - 1] + (size_t)t * rh : x_t, P + o->w_ih, P + o->w_hh,
                      P + o->b, s->R, l ? s->H : s->C, s->H);
    }
}

/* Backward through the stack: dh_top (T, R, H) is consumed (overwritten); adds into dx (T, R, C, may be
 * NULL) and, where the stack has initial states, dh0/dc0 (R, H each, zeroed here first). */
static int stack_backward(const cdz_backend *nn, const float *P, float *G, arena *a, stack *s, float *dh_top, const float *x,
                          float *dx, float **dh0, float **dc0) {
    const size_t n = (size_t)s->T * s->R;
    float *scratch = take(a, n * 4 * s->H + 2 * (size_t)s->R * s->H), *below = s->L > 1 ? take(a, n * s->H) : NULL;
    if (!scratch || (s->L > 1 && !below)) return 0;
    float *dh = dh_top;
    for (int l = s->L - 1; l >= 0; l--) {
        const lstm_off *o = &s->off[l];
        float *dxl = l ? below : dx;
        if (l) memset(below, 0, n * s->H * sizeof *below);
        if (dh0 && dh0[l]) memset(dh0[l], 0, (size_t)s->R * s->H * sizeof(float)), memset(dc0[l], 0, (size_t)s->R * s->H * sizeof(float));
        nn->lstm_backward(dxl, dh0 ? dh0[l] : NULL, dc0 ? dc0[l] : NULL, G + o->w_ih, G + o->w_hh, G + o->b, scratch, dh, NULL,
                          s->h[l], s->c[l], s->g[l], l ? s->h[l - 1] : x, s->h0[l], s->c0[l], P + o->w_ih, P + o->w_hh, s->T,
                          s->R, l ? s->H : s->C, s->H);
        if (l) memcpy(dh, below, n * s->H * sizeof *dh); /* dh_top holds T x R x H: room for the layer below */
    }
    return 1;
}

/* Initial states of a stack from a context: y = tanh(ctx W^T + b) (R, 2 L H), split as layer l's h, c. */
static void init_forward(const cdz_backend *nn, const float *P, const dense_off *o, const float *ctx, int R, int Cx, stack *s,
                         float *y) {
    const int L = s->L, H = s->H;
    nn->linear_forward(y, ctx, P + o->w, P + o->b, R, Cx, 2 * L * H);
    tanh_inplace(y, (size_t)R * 2 * L * H);
    for (int r = 0; r < R; r++)
        for (int l = 0; l < L; l++) {
            memcpy(s->h0[l] + (size_t)r * H, y + ((size_t)r * L + l) * 2 * H, (size_t)H * sizeof(float));
            memcpy(s->c0[l] + (size_t)r * H, y + ((size_t)r * L + l) * 2 * H + H, (size_t)H * sizeof(float));
        }
}

/* Adds into dctx (R, Cx) and the dense layer's gradients from dh0/dc0; dy is scratch (R, 2 L H). */
static void init_backward(const cdz_backend *nn, const float *P, float *G, const dense_off *o, const float *ctx, int R, int Cx,
                          const stack *s, float *const *dh0, float *const *dc0, const float *y, float *dy, float *dctx) {
    const int L = s->L, H = s->H;
    for (int r = 0; r < R; r++)
        for (int l = 0; l < L; l++) {
            memcpy(dy + ((size_t)r * L + l) * 2 * H, dh0[l] + (size_t)r * H, (size_t)H * sizeof(float));
            memcpy(dy + ((size_t)r * L + l) * 2 * H + H, dc0[l] + (size_t)r * H, (size_t)H * sizeof(float));
        }
    tanh_backward_inplace(dy, y, (size_t)R * 2 * L * H);
    nn->linear_backward(dctx, G + o->w, G + o->b, dy, ctx, P + o->w, R, Cx, 2 * L * H);
}

/* ---- the loss ---- */

/* Keys of the random draws of a training step (constants name what is drawn). */
enum { KEY_EPS = 0x7e5, KEY_COIN = 0xc01, KEY_DRAW = 0xd4a };

static uint64_t draw_key(const cdz_loss_opts *o, uint64_t what, int64_t example) {
    return cdz_random_at(cdz_random_at(cdz_random_at(o->seed, what), (uint64_t)o->step), (uint64_t)example);
}
static double unit(uint64_t bits) { return (double)(bits >> 11) * (1.0 / 9007199254740992.0); }

static double sampling_probability(const vae *v, int64_t step) {
    if (v->sampling_rate <= 0) return 0;
    double k = v->sampling_rate, e = (double)step / k;
    return e > 50 ? 1.0 : 1.0 - k / (k + exp(e));
}

static double beta_at(const vae *v, int64_t step) { return v->max_beta * (1.0 - pow(v->beta_rate, (double)step)); }

/* The class of part p at step s of window b. */
static int class_at(const vae *v, const cdz_window *w, int s, int p) {
    return (int)w->seq[w->start + (int64_t)s * v->P + p] - v->part[p].offset;
}

static cdz_status check_windows(const vae *v, const cdz_batch *batch, cdz_error *err) {
    if (batch->kind != CDZ_BATCH_TOKENS) return cdz_error_set(err, CDZ_ERR_ARG, KIND " reads token windows");
    const int L = window_tokens(v);
    for (int b = 0; b < batch->B; b++) {
        const cdz_window *w = &batch->windows[b];
        if (w->n != L || w->start < 0)
            return cdz_error_set(err, CDZ_ERR_ARG, KIND ": a window is %d tokens (%d steps x %d parts), not %lld", L, v->S, v->P,
                                 (long long)w->n);
        for (int i = 0; i < L; i++) {
            int p = i % v->P, k = (int)w->seq[w->start + i] - v->part[p].offset;
            if (k < 0 || k >= v->part[p].K)
                return cdz_error_set(err, CDZ_ERR_FORMAT, "token %u at position %d is not a class of part %d (tokens %d-%d)",
                                     w->seq[w->start + i], i, p, v->part[p].offset, v->part[p].offset + v->part[p].K - 1);
        }
    }
    return CDZ_OK;
}

/* The encoder's activations for B windows. */
typedef struct enc_acts {
    int B;
    float *x[2];                 /* (S, B, D): the inputs forward in time, and reversed */
    float *in[MAX_LAYERS][2];    /* layer l > 0: its inputs (S, B, 2He) forward and reversed */
    stack dir[MAX_LAYERS][2];
    float *fin;                  /* (B, 2He) */
    float *mu, *sp, *sigma;      /* (B, Z) */
} enc_acts;

static int encoder_forward(const cdz_model *m, arena *a, enc_acts *e, const cdz_window *w, int B) {
    const vae *v = m->impl;
    const cdz_backend *nn = m->backend;
    const float *P = m->params;
    const int S = v->S, He = v->He, Z = v->Z;
    e->B = B;
    if (!(e->x[0] = take(a, (size_t)S * B * v->D)) || !(e->x[1] = take(a, (size_t)S * B * v->D))) return 0;
    for (int s = 0; s < S; s++)
        for (int b = 0; b < B; b++) {
            float *x = e->x[0] + ((size_t)s * B + b) * v->D;
            for (int p = 0, at = 0; p < v->P; at += v->part[p].width, p++) encode_class(v, p, class_at(v, &w[b], s, p), x + at);
            memcpy(e->x[1] + ((size_t)(S - 1 - s) * B + b) * v->D, x, (size_t)v->D * sizeof *x);
        }
    for (int l = 0; l < v->Le; l++) {
        int C = l ? 2 * He : v->D;
        for (int d = 0; d < 2; d++) {
            if (l && !(e->in[l][d] = take(a, (size_t)S * B * C))) return 0;
            if (!stack_alloc(a, &e->dir[l][d], 1, He, C, S, B, &v->enc[l][d], 0)) return 0;
        }
        if (l) /* inputs: [fwd h_s ; bwd h_s] at s, and reversed */
            for (int s = 0; s < S; s++)
                for (int b = 0; b < B; b++) {
                    const float *hf = e->dir[l - 1][0].h[0] + ((size_t)s * B + b) * He;
                    const float *hb = e->dir[l - 1][1].h[0] + ((size_t)(S - 1 - s) * B + b) * He;
                    float *f = e->in[l][0] + ((size_t)s * B + b) * C, *r = e->in[l][1] + ((size_t)(S - 1 - s) * B + b) * C;
                    memcpy(f, hf, (size_t)He * sizeof *f), memcpy(f + He, hb, (size_t)He * sizeof *f);
                    memcpy(r, f, (size_t)C * sizeof *r);
                }
        for (int d = 0; d < 2; d++) stack_forward(nn, P, &e->dir[l][d], l ? e->in[l][d] : e->x[d]);
    }
    if (!(e->fin = take(a, (size_t)B * 2 * He)) || !(e->mu = take(a, (size_t)B * Z)) || !(e->sp = take(a, (size_t)B * Z)) ||
        !(e->sigma = take(a, (size_t)B * Z)))
        return 0;
    const stack *top = e->dir[v->Le - 1];
    for (int b = 0; b < B; b++) {
        memcpy(e->fin + (size_t)b * 2 * He, top[0].h[0] + ((size_t)(S - 1) * B + b) * He, (size_t)He * sizeof(float));
        memcpy(e->fin + (size_t)b * 2 * He + He, top[1].h[0] + ((size_t)(S - 1) * B + b) * He, (size_t)He * sizeof(float));
    }
    nn->linear_forward(e->mu, e->fin, P + v->mu.w, P + v->mu.b, B, 2 * He, Z);
    nn->linear_forward(e->sp, e->fin, P + v->sigma.w, P + v->sigma.b, B, 2 * He, Z);
    for (size_t i = 0; i < (size_t)B * Z; i++) e->sigma[i] = (float)softplus(e->sp[i]);
    return 1;
}

/* dfin (B, 2He) into the encoder's parameters. */
static int encoder_backward(const cdz_model *m, arena *a, enc_acts *e, const float *dfin, float *G) {
    const vae *v = m->impl;
    const cdz_backend *nn = m->backend;
    const float *P = m->params;
    const int S = v->S, He = v->He, B = e->B;
    const size_t n = (size_t)S * B;
    float *dh[2] = {take0(a, n * He), take0(a, n * He)};
    float *dx[2] = {take(a, n * 2 * He), take(a, n * 2 * He)};
    if (!dh[0] || !dh[1] || !dx[0] || !dx[1]) return 0;
    for (int b = 0; b < B; b++) { /* the final states: each direction's last step */
        memcpy(dh[0] + ((size_t)(S - 1) * B + b) * He, dfin + (size_t)b * 2 * He, (size_t)He * sizeof(float));
        memcpy(dh[1] + ((size_t)(S - 1) * B + b) * He, dfin + (size_t)b * 2 * He + He, (size_t)He * sizeof(float));
    }
    for (int l = v->Le - 1; l >= 0; l--) {
        const int C = l ? 2 * He : v->D;
        for (int d = 0; d < 2; d++) {
            if (l) memset(dx[d], 0, n * C * sizeof(float));
            if (!stack_backward(nn, P, G, a, &e->dir[l][d], dh[d], l ? e->in[l][d] : e->x[d], l ? dx[d] : NULL, NULL, NULL))
                return 0;
        }
        if (!l) break;
        /* the layer below's outputs: fwd h_s feeds in_f[s][:He] and in_b[S-1-s][:He]; bwd h_s (its own
         * time) feeds in_f[S-1-s][He:] and in_b[s][He:] */
        for (int s = 0; s < S; s++)
            for (int b = 0; b < B; b++) {
                float *gf = dh[0] + ((size_t)s * B + b) * He, *gb = dh[1] + ((size_t)s * B + b) * He;
                const float *f1 = dx[0] + ((size_t)s * B + b) * C, *b1 = dx[1] + ((size_t)(S - 1 - s) * B + b) * C;
                const float *f2 = dx[0] + ((size_t)(S - 1 - s) * B + b) * C + He, *b2 = dx[1] + ((size_t)s * B + b) * C + He;
                for (int k = 0; k < He; k++) gf[k] = f1[k] + b1[k], gb[k] = f2[k] + b2[k];
            }
    }
    return 1;
}

/* Part p's decoder over a batch of B windows: U rows per window (bars, or 1), T steps per row, R = B U
 * rows, the context width Cx, the part's input width W and classes K, the layer-0 input width C, N = T R. */
typedef struct dec_geom {
    int U, T, R, Cx, W, K, C;
    size_t N;
} dec_geom;

static dec_geom dec_geometry(const vae *v, int p, int B) {
    dec_geom g;
    g.U = dec_rows_per_window(v), g.T = dec_steps(v), g.R = B * g.U, g.Cx = ctx_width(v);
    g.W = v->part[p].width, g.K = v->part[p].K, g.C = g.W + g.Cx, g.N = (size_t)g.T * g.R;
    return g;
}

/* One part's decoder over R rows of T steps (teacher forced, or with scheduled sampling). */
typedef struct dec_acts {
    stack st;
    float *init_y;     /* (R, 2 Ld Hd) */
    float *x;          /* (T, R, W + Cx) */
    float *logits, *probs; /* (T R, K) */
    uint16_t *targets; /* (T R) */
} dec_acts;

static cdz_status decoder_loss(const cdz_model *m, arena *a, int p, const cdz_window *w, int B, const float *ctx,
                               const cdz_loss_opts *opts, const cdz_batch *batch, double p_sample, dec_acts *d,
                               uint16_t *targets_buf, double *sum, cdz_loss_stats *stats, cdz_error *err) {
    const vae *v = m->impl;
    const cdz_backend *nn = m->backend;
    const float *P = m->params;
    const dec_geom g = dec_geometry(v, p, B);
    const int U = g.U, T = g.T, R = g.R, Cx = g.Cx, W = g.W, K = g.K, C = g.C;
    const size_t N = g.N;
    if (!stack_alloc(a, &d->st, v->Ld, v->Hd, C, T, R, v->dec[p], 1) || !(d->init_y = take(a, (size_t)R * 2 * v->Ld * v->Hd)) ||
        !(d->x = take(a, N * C)) || !(d->logits = take(a, N * K)) || !(d->probs = take(a, N * K)))
        return CDZ_ERR_NOMEM;
    d->targets = targets_buf;
    init_forward(nn, P, &v->dec_init[p], ctx, R, Cx, &d->st, d->init_y);
    /* rows: r = u * B + b (bar u of window b); the previous class of a bar's first step is the last of
     * the bar before */
    for (int t = 0; t < T; t++)
        for (int r = 0; r < R; r++) {
            int u = r / B, b = r % B, s = u * T + t;
            d->targets[(size_t)t * R + r] = (uint16_t)class_at(v, &w[b], s, p);
            float *x = d->x + ((size_t)t * R + r) * C;
            encode_class(v, p, s ? class_at(v, &w[b], s - 1, p) : -1, x);
            memcpy(x + W, ctx + (size_t)r * Cx, (size_t)Cx * sizeof *x);
        }
    const float *Wo = P + v->out[p].w, *bo = P + v->out[p].b;
    const float *top = d->st.h[v->Ld - 1];
    if (p_sample <= 0) {
        stack_forward(nn, P, &d->st, d->x);
        nn->linear_forward(d->logits, top, Wo, bo, (int)N, v->Hd, K);
    } else {
        /* step by step: each input after the first may be the model's own draw from its last output */
        const size_t rh = (size_t)R * v->Hd;
        for (int t = 0; t < T; t++) {
            if (t > 0)
                for (int r = 0; r < R; r++) {
                    int u = r / B, b = r % B;
                    uint64_t key = cdz_random_at(draw_key(opts, KEY_COIN, batch->offset + b), (uint64_t)((p * U + u) * T + t));
                    if (unit(cdz_random_at(key, 0)) >= p_sample) continue;
                    const float *lg = d->logits + ((size_t)(t - 1) * R + r) * K;
                    float mx = lg[0];
                    for (int k = 1; k < K; k++) mx = lg[k] > mx ? lg[k] : mx;
                    double total = 0;
                    for (int k = 0; k < K; k++) total += exp((double)lg[k] - mx);
                    double target = unit(cdz_random_at(key, 1)) * total, acc = 0;
                    int pick = K - 1;
                    for (int k = 0; k < K; k++)
                        if ((acc += exp((double)lg[k] - mx)) > target) {
                            pick = k;
                            break;
                        }
                    encode_class(v, p, pick, d->x + ((size_t)t * R + r) * C);
                }
            stack_step(nn, P, &d->st, d->x + (size_t)t * R * C, t);
            nn->linear_forward(d->logits + (size_t)t * R * K, top + (size_t)t * rh, Wo, bo, R, v->Hd, K);
        }
    }
    nn->softmax_xent_forward(d->probs, d->logits, d->targets, (int)N, K);
    /* summed in double from the probabilities (each term capped as softmax_xent_forward caps it): the
     * loss of a 16-bar window is thousands of nats, beyond what a float mean times N keeps */
    for (size_t i = 0; i < N; i++) {
        double pt = d->probs[i * K + d->targets[i]];
        *sum -= log(pt > 1e-30 ? pt : 1e-30);
    }
    if (stats) cdz_loss_stats_add(stats, d->probs, d->targets, (int)N, K);
    (void)err;
    return CDZ_OK;
}

/* Backward of one part's decoder: adds into dctx (R, Cx) and the parameters. */
static int decoder_backward(const cdz_model *m, arena *a, int p, int B, const float *ctx, dec_acts *d, float *G, float *dctx) {
    const vae *v = m->impl;
    const cdz_backend *nn = m->backend;
    const float *P = m->params;
    const dec_geom geo = dec_geometry(v, p, B);
    const int T = geo.T, R = geo.R, Cx = geo.Cx, W = geo.W, K = geo.K, C = geo.C;
    const size_t N = geo.N;
    float *dlogits = take0(a, N * K), *dh = take0(a, N * v->Hd), *dx = take0(a, N * C), *dy = take(a, (size_t)R * 2 * v->Ld * v->Hd);
    float *dh0[MAX_LAYERS], *dc0[MAX_LAYERS];
    for (int l = 0; l < v->Ld; l++)
        if (!(dh0[l] = take(a, (size_t)R * v->Hd)) || !(dc0[l] = take(a, (size_t)R * v->Hd))) return 0;
    if (!dlogits || !dh || !dx || !dy) return 0;
    /* softmax_xent_backward gives the gradient of the mean over N; the objective sums over tokens and
     * averages over the B windows */
    nn->softmax_xent_backward(dlogits, d->probs, d->targets, (int)N, K);
    const float scale = (float)N / (float)B;
    for (size_t i = 0; i < N * K; i++) dlogits[i] *= scale;
    nn->linear_backward(dh, G + v->out[p].w, G + v->out[p].b, dlogits, d->st.h[v->Ld - 1], P + v->out[p].w, (int)N, v->Hd, K);
    if (!stack_backward(nn, P, G, a, &d->st, dh, d->x, dx, dh0, dc0)) return 0;
    /* the context is read at every step */
    for (size_t t = 0; t < (size_t)T; t++)
        for (int r = 0; r < R; r++) {
            const float *g = dx + (t * R + r) * C + W;
            float *o = dctx + (size_t)r * Cx;
            for (int k = 0; k < Cx; k++) o[k] += g[k];
        }
    init_backward(nn, P, G, &v->dec_init[p], ctx, R, Cx, &d->st, dh0, dc0, d->init_y, dy, dctx);
    return 1;
}

static cdz_status run_loss(const cdz_model *m, arena *a, const cdz_batch *batch, const cdz_loss_opts *opts, cdz_loss *out,
                           cdz_loss_stats *stats, cdz_error *err) {
    const vae *v = m->impl;
    const cdz_backend *nn = m->backend;
    const float *P = m->params;
    const cdz_window *w = batch->windows;
    const int B = batch->B, Z = v->Z, U = dec_rows_per_window(v), Cx = ctx_width(v);
    const int train = opts->pass == CDZ_TRAIN;
    enc_acts e;
    memset(&e, 0, sizeof e);
    if (!encoder_forward(m, a, &e, w, B)) return CDZ_ERR_NOMEM;
    /* z = mu + sigma * eps (training), mu otherwise */
    float *eps = take0(a, (size_t)B * Z), *z = take(a, (size_t)B * Z);
    double *kl = (double *)take(a, (size_t)B * 2);
    if (!eps || !z || !kl) return CDZ_ERR_NOMEM;
    for (int b = 0; b < B; b++) {
        uint64_t key = draw_key(opts, KEY_EPS, batch->offset + b);
        kl[b] = 0;
        for (int k = 0; k < Z; k++) {
            size_t i = (size_t)b * Z + k;
            if (train) {
                double u1 = unit(cdz_random_at(key, 2 * (uint64_t)k)), u2 = unit(cdz_random_at(key, 2 * (uint64_t)k + 1));
                eps[i] = (float)(sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * 3.14159265358979323846 * u2));
            }
            z[i] = e.mu[i] + e.sigma[i] * eps[i];
            double mu = e.mu[i], sg = e.sigma[i];
            kl[b] += 0.5 * (mu * mu + sg * sg - 1) - log_softplus(e.sp[i]);
        }
    }
    /* the conductor: one embedding per bar from z */
    stack cond;
    float *cond_y = NULL, *cond_x = NULL;
    const float *ctx = z;
    if (v->hier) {
        if (!stack_alloc(a, &cond, v->Lc, v->Hc, 1, U, B, v->cond, 1) || !(cond_y = take(a, (size_t)B * 2 * v->Lc * v->Hc)) ||
            !(cond_x = take0(a, (size_t)U * B)))
            return CDZ_ERR_NOMEM;
        init_forward(nn, P, &v->cond_init, z, B, Z, &cond, cond_y);
        stack_forward(nn, P, &cond, cond_x);
        ctx = cond.h[v->Lc - 1]; /* (U, B, Hc): row u * B + b */
    }
    const double p_sample = train ? sampling_probability(v, opts->step) : 0;
    dec_acts d[MAX_PARTS];
    uint16_t *tg = (uint16_t *)take(a, ((size_t)v->S * B + 1) / 2 * (size_t)v->P + 1);
    if (!tg) return CDZ_ERR_NOMEM;
    double recon = 0;
    for (int p = 0; p < v->P; p++) {
        cdz_status st = decoder_loss(m, a, p, w, B, ctx, opts, batch, p_sample, &d[p], tg + (size_t)p * v->S * B, &recon, stats, err);
        if (st) return st;
    }
    const double beta = beta_at(v, opts->step), free_nats = v->free_bits * log(2.0);
    double kl_mean = 0, kl_cost = 0;
    for (int b = 0; b < B; b++) kl_mean += kl[b] / B, kl_cost += (kl[b] > free_nats ? kl[b] - free_nats : 0) / B;
    const int64_t tokens = (int64_t)B * window_tokens(v);
    out->objective = (float)(recon / B + beta * kl_cost);
    out->n_terms = 4;
    out->terms[0].name = "recon", out->terms[0].value = recon / (double)tokens;
    out->terms[1].name = "kl", out->terms[1].value = kl_mean;
    out->terms[2].name = "kl_bits", out->terms[2].value = kl_mean / log(2.0);
    out->terms[3].name = "beta", out->terms[3].value = beta;
    out->tokens = tokens;
    if (!train) return CDZ_OK;

    float *G = opts->grads;
    float *dctx = take0(a, (size_t)B * U * Cx);
    if (!dctx) return CDZ_ERR_NOMEM;
    for (int p = v->P - 1; p >= 0; p--)
        if (!decoder_backward(m, a, p, B, ctx, &d[p], G, dctx)) return CDZ_ERR_NOMEM;
    float *dz = dctx;
    if (v->hier) {
        float *dh0[MAX_LAYERS], *dc0[MAX_LAYERS], *dy = take(a, (size_t)B * 2 * v->Lc * v->Hc);
        dz = take0(a, (size_t)B * Z);
        if (!dy || !dz) return CDZ_ERR_NOMEM;
        for (int l = 0; l < v->Lc; l++)
            if (!(dh0[l] = take(a, (size_t)B * v->Hc)) || !(dc0[l] = take(a, (size_t)B * v->Hc))) return CDZ_ERR_NOMEM;
        if (!stack_backward(nn, P, G, a, &cond, dctx, cond_x, NULL, dh0, dc0)) return CDZ_ERR_NOMEM;
        init_backward(nn, P, G, &v->cond_init, z, B, Z, &cond, dh0, dc0, cond_y, dy, dz);
    }
    /* z = mu + sigma eps; KL's gradient where it is above the free bits */
    float *dmu = take(a, (size_t)B * Z), *dsp = take(a, (size_t)B * Z), *dfin = take0(a, (size_t)B * 2 * v->He);
    if (!dmu || !dsp || !dfin) return CDZ_ERR_NOMEM;
    for (int b = 0; b < B; b++) {
        double c = kl[b] > free_nats ? beta / B : 0;
        for (int k = 0; k < Z; k++) {
            size_t i = (size_t)b * Z + k;
            double sp = e.sp[i], sg = e.sigma[i], sig = sigmoid(sp);
            double sig_over_sigma = sp < -20 ? 1.0 : sig / sg; /* d log(sigma) / d sp */
            dmu[i] = (float)(dz[i] + c * e.mu[i]);
            dsp[i] = (float)(dz[i] * eps[i] * sig + c * (sg * sig - sig_over_sigma));
        }
    }
    nn->linear_backward(dfin, G + v->mu.w, G + v->mu.b, dmu, e.fin, P + v->mu.w, B, 2 * v->He, Z);
    nn->linear_backward(dfin, G + v->sigma.w, G + v->sigma.b, dsp, e.fin, P + v->sigma.w, B, 2 * v->He, Z);
    if (!encoder_backward(m, a, &e, dfin, G)) return CDZ_ERR_NOMEM;
    return CDZ_OK;
}

/* Runs f on the session's arena. An attempt that runs out stops at the first take that fails, so it
 * learns only part of what the call needs: grow (at least doubling) and run again until one
 * completes. `before_retry` (may be NULL) undoes what a failed attempt left behind. */
static cdz_status with_arena(vae_ws *ws, cdz_status (*f)(const cdz_model *, arena *, const void *, void *, cdz_error *),
                             const cdz_model *m, const void *in, void *outp, void (*before_retry)(const void *in),
                             cdz_error *err) {
    for (;;) {
        ws->a.used = 0;
        cdz_status st = f(m, &ws->a, in, outp, err);
        if (st != CDZ_ERR_NOMEM || ws->a.peak <= ws->a.cap) return st;
        size_t cap = ws->a.peak > 2 * ws->a.cap ? ws->a.peak : 2 * ws->a.cap;
        float *buf = cdz_malloc(cap * sizeof *buf);
        if (!buf) {
            if (before_retry) before_retry(in); /* no half-added gradient left behind */
            return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for " KIND " activations (%zu MB)", cap * 4 >> 20);
        }
        cdz_free(ws->a.buf);
        ws->a.buf = buf, ws->a.cap = cap;
        ws->trained_B = 0;
        if (before_retry) before_retry(in);
    }
}

typedef struct loss_call {
    const cdz_batch *batch;
    const cdz_loss_opts *opts;
    cdz_loss_stats *stats;
    const float *saved_grads; /* the gradients before the call, when an attempt may fail half-way */
    float *grads;
    size_t n_params;
} loss_call;

static cdz_status loss_fn(const cdz_model *m, arena *a, const void *in, void *outp, cdz_error *err) {
    const loss_call *c = in;
    /* statistics are added only by the attempt that completes */
    cdz_loss_stats local = {0};
    cdz_status st = run_loss(m, a, c->batch, c->opts, outp, c->stats ? &local : NULL, err);
    if (!st && c->stats) c->stats->loss_sum += local.loss_sum, c->stats->tokens += local.tokens, c->stats->correct += local.correct;
    return st;
}

/* A training attempt that ran out of arena may have added part of its gradient: put them back. */
static void restore_grads(const void *in) {
    const loss_call *c = in;
    if (c->saved_grads) memcpy(c->grads, c->saved_grads, c->n_params * sizeof(float));
}

static cdz_status loss(const cdz_model *m, void *kws, const cdz_batch *batch, const cdz_loss_opts *opts, cdz_loss *out,
                       cdz_loss_stats *stats, cdz_error *err) {
    if (!m->backend->host_memory)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, KIND " runs on host-memory backends (cpu, reference), not %s", m->backend->name);
    cdz_status st = check_windows(m->impl, batch, err);
    if (st) return st;
    const int train = opts->pass == CDZ_TRAIN;
    if (train && !opts->grads) return cdz_error_set(err, CDZ_ERR_ARG, KIND ": training needs gradients");
    vae_ws *ws = kws;
    loss_call c = {batch, opts, stats, NULL, opts->grads, m->n_params};
    float *saved = NULL;
    if (train && batch->B > ws->trained_B) {
        /* the arena may not hold this batch's backward pass yet: keep the gradients to retry from */
        saved = cdz_malloc(m->n_params * sizeof *saved);
        if (!saved) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for " KIND " gradients");
        memcpy(saved, opts->grads, m->n_params * sizeof *saved);
        c.saved_grads = saved;
    }
    st = with_arena(ws, loss_fn, m, &c, out, restore_grads, err);
    cdz_free(saved);
    if (!st && train && batch->B > ws->trained_B) ws->trained_B = batch->B;
    return st;
}

/* ---- the latent hooks ---- */

static int latent_dim(const cdz_model *m) { return ((const vae *)m->impl)->Z; }

typedef struct encode_call {
    const cdz_batch *batch;
    float *mu, *sigma;
} encode_call;

static cdz_status encode_fn(const cdz_model *m, arena *a, const void *in, void *outp, cdz_error *err) {
    (void)outp, (void)err;
    const encode_call *c = in;
    const vae *v = m->impl;
    enc_acts e;
    memset(&e, 0, sizeof e);
    if (!encoder_forward(m, a, &e, c->batch->windows, c->batch->B)) return CDZ_ERR_NOMEM;
    memcpy(c->mu, e.mu, (size_t)c->batch->B * v->Z * sizeof(float));
    if (c->sigma) memcpy(c->sigma, e.sigma, (size_t)c->batch->B * v->Z * sizeof(float));
    return CDZ_OK;
}

static cdz_status encode(const cdz_model *m, void *kws, const cdz_batch *batch, float *mu, float *sigma, cdz_error *err) {
    if (!m->backend->host_memory)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, KIND " runs on host-memory backends (cpu, reference), not %s", m->backend->name);
    cdz_status st = check_windows(m->impl, batch, err);
    if (st) return st;
    encode_call c = {batch, mu, sigma};
    return with_arena(kws, encode_fn, m, &c, NULL, NULL, err);
}

/* ---- step-wise generation ----
 * A row's block (floats): z (Z); hierarchical: the conductor's h, c per layer and the bar embedding;
 * each part's decoder h, c per layer; each part's last class (-1: none yet). */

static size_t off_cond(const vae *v) { return (size_t)v->Z; }
static size_t off_emb(const vae *v) { return off_cond(v) + (v->hier ? 2 * (size_t)v->Lc * v->Hc : 0); }
static size_t off_dec(const vae *v, int p) {
    return off_emb(v) + (v->hier ? (size_t)v->Hc : 0) + (size_t)p * 2 * v->Ld * v->Hd;
}
static size_t off_last(const vae *v) { return off_dec(v, v->P); }
static size_t state_floats(const vae *v) { return off_last(v) + (size_t)v->P; }

static size_t row_bytes(const cdz_model *m, int64_t window) {
    (void)window;
    return state_floats(m->impl) * sizeof(float);
}

static int64_t default_window(const cdz_model *m) { return window_tokens(m->impl) + 1; } /* START and the window */

static cdz_status set_latent(const cdz_model *m, void *kws, uint8_t *state, size_t stride, int B, const float *z,
                             cdz_error *err) {
    (void)kws, (void)err;
    const vae *v = m->impl;
    for (int b = 0; b < B; b++) memcpy(state + (size_t)b * stride, z + (size_t)b * v->Z, (size_t)v->Z * sizeof(float));
    return CDZ_OK;
}

/* Starts each part's decoder of every row from a context (rows' z, or bar embedding): h, c of every
 * layer = tanh(dense(ctx)). */
static void start_decoders(const cdz_model *m, float *buf, uint8_t *state, size_t stride, int B, size_t ctx_off, int Cx) {
    const vae *v = m->impl;
    const float *P = m->params;
    const size_t n = 2 * (size_t)v->Ld * v->Hd;
    float *ctx = buf, *y = buf + (size_t)B * Cx;
    for (int b = 0; b < B; b++) memcpy(ctx + (size_t)b * Cx, state + (size_t)b * stride + ctx_off * sizeof(float), (size_t)Cx * sizeof(float));
    for (int p = 0; p < v->P; p++) {
        m->backend->linear_forward(y, ctx, P + v->dec_init[p].w, P + v->dec_init[p].b, B, Cx, (int)n);
        tanh_inplace(y, (size_t)B * n);
        for (int b = 0; b < B; b++) memcpy(state + (size_t)b * stride + off_dec(v, p) * sizeof(float), y + (size_t)b * n, n * sizeof(float));
    }
}

/* One step of a stack whose h, c live in the rows' blocks at `at` (layer l: h then c); x (B, C) is
 * overwritten with the top layer's h. */
static void stack_step_rows(const cdz_model *m, const lstm_off *off, int L, int H, int C, float *x, float *tmp, uint8_t *state,
                            size_t stride, int B, size_t at) {
    const float *P = m->params;
    float *h = tmp, *c = h + (size_t)B * H, *g = c + (size_t)B * H;
    for (int l = 0; l < L; l++) {
        size_t hl = at + 2 * (size_t)l * H;
        for (int b = 0; b < B; b++) {
            const float *row = (const float *)(state + (size_t)b * stride) + hl;
            memcpy(h + (size_t)b * H, row, (size_t)H * sizeof(float));
            memcpy(c + (size_t)b * H, row + H, (size_t)H * sizeof(float));
        }
        m->backend->lstm_step(h, c, g, x, P + off[l].w_ih, P + off[l].w_hh, P + off[l].b, B, l ? H : C, H);
        for (int b = 0; b < B; b++) {
            float *row = (float *)(state + (size_t)b * stride) + hl;
            memcpy(row, h + (size_t)b * H, (size_t)H * sizeof(float));
            memcpy(row + H, c + (size_t)b * H, (size_t)H * sizeof(float));
        }
        memcpy(x, h, (size_t)B * H * sizeof(float));
    }
}

static cdz_status step(const cdz_model *m, void *kws, const cdz_step_rows *rows, float *logits, cdz_error *err) {
    const vae *v = m->impl;
    vae_ws *ws = kws;
    const int B = rows->B, L = window_tokens(v), Cx = ctx_width(v);
    const size_t S = rows->stride;
    uint8_t *state = rows->state;
    const float *P = m->params;
    if (B > ws->step_B) return cdz_error_set(err, CDZ_ERR_ARG, KIND ": %d rows in a session of %d", B, ws->step_B);
    const int64_t len = rows->len;
    if (len - 1 >= L)
        return cdz_error_set(err, CDZ_ERR_RANGE, KIND ": the window is complete (%d tokens); decode another latent for more", L);
    for (int b = 0; b < B; b++) {
        float *row = (float *)(state + (size_t)b * S);
        uint16_t tok = rows->tokens[b];
        if (len == 1) {
            if (tok != (uint16_t)v->V)
                return cdz_error_set(err, CDZ_ERR_ARG, KIND ": generation starts with the START token (%d), not %u", v->V, tok);
            for (int p = 0; p < v->P; p++) row[off_last(v) + p] = -1;
            continue;
        }
        int i = (int)(len - 2), p = i % v->P, k = (int)tok - v->part[p].offset;
        if (k < 0 || k >= v->part[p].K)
            return cdz_error_set(err, CDZ_ERR_ARG, KIND ": token %u at position %d is not a class of part %d (tokens %d-%d)", tok, i,
                                 p, v->part[p].offset, v->part[p].offset + v->part[p].K - 1);
        row[off_last(v) + p] = (float)k;
    }
    const int j = (int)(len - 1), q = j % v->P, s = j / v->P;
    float *buf = ws->step_buf;
    if (len == 1 && !v->hier) start_decoders(m, buf, state, S, B, 0, v->Z);
    if (v->hier && q == 0 && s % BAR_STEPS == 0) {
        /* a new bar: the conductor's next embedding, and every part's decoder starts from it */
        if (len == 1) {
            const size_t n = 2 * (size_t)v->Lc * v->Hc;
            float *z = buf, *y = buf + (size_t)B * v->Z;
            for (int b = 0; b < B; b++) memcpy(z + (size_t)b * v->Z, state + (size_t)b * S, (size_t)v->Z * sizeof(float));
            m->backend->linear_forward(y, z, P + v->cond_init.w, P + v->cond_init.b, B, v->Z, (int)n);
            tanh_inplace(y, (size_t)B * n);
            for (int b = 0; b < B; b++) memcpy(state + (size_t)b * S + off_cond(v) * sizeof(float), y + (size_t)b * n, n * sizeof(float));
        }
        int wide = v->Hc > 1 ? v->Hc : 1;
        float *x = buf, *tmp = buf + (size_t)B * wide;
        memset(x, 0, (size_t)B * sizeof *x); /* the conductor reads zeros */
        stack_step_rows(m, v->cond, v->Lc, v->Hc, 1, x, tmp, state, S, B, off_cond(v));
        for (int b = 0; b < B; b++) memcpy(state + (size_t)b * S + off_emb(v) * sizeof(float), x + (size_t)b * v->Hc, (size_t)v->Hc * sizeof(float));
        start_decoders(m, buf, state, S, B, off_emb(v), v->Hc);
    }
    /* part q's decoder: [its last class ; context] */
    const int W = v->part[q].width, C = W + Cx, K = v->part[q].K;
    int wide = C > v->Hd ? C : v->Hd;
    float *x = buf, *tmp = buf + (size_t)B * wide, *lg = tmp + (size_t)B * 6 * v->Hd;
    for (int b = 0; b < B; b++) {
        const float *row = (const float *)(state + (size_t)b * S);
        int last = (int)row[off_last(v) + q];
        encode_class(v, q, s == 0 ? -1 : last, x + (size_t)b * C);
        memcpy(x + (size_t)b * C + W, row + (v->hier ? off_emb(v) : 0), (size_t)Cx * sizeof(float));
    }
    stack_step_rows(m, v->dec[q], v->Ld, v->Hd, C, x, tmp, state, S, B, off_dec(v, q));
    m->backend->linear_forward(lg, x, P + v->out[q].w, P + v->out[q].b, B, v->Hd, K);
    for (int b = 0; b < B; b++) {
        float *o = logits + (size_t)b * v->V;
        for (int t = 0; t < v->V; t++) o[t] = -1e30f; /* another part's tokens: never */
        memcpy(o + v->part[q].offset, lg + (size_t)b * K, (size_t)K * sizeof(float));
    }
    return CDZ_OK;
}

/* ---- what the latent-space library reads of a window (cadenza/vae.h) ---- */

int cdz_vae_parts(const cdz_model *m) { return m && m->kind == &cdz_music_vae ? ((const vae *)m->impl)->P : 0; }

cdz_vae_part cdz_vae_part_at(const cdz_model *m, int p) {
    cdz_vae_part out = {0, 0, 0};
    if (p < 0 || p >= cdz_vae_parts(m)) return out;
    const vae_part *pt = &((const vae *)m->impl)->part[p];
    out.offset = pt->offset, out.classes = pt->K, out.melodic = pt->melodic;
    return out;
}

const cdz_model_kind cdz_music_vae = {
    .name = KIND,
    .description = "MusicVAE (Magenta): a latent space of 2- and 16-bar melodies, drums and trios; flat and hierarchical decoders",
    .default_config = "mel_2bar",
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
    .latent_dim = latent_dim,
    .encode = encode,
    .set_latent = set_latent,
};

/* Music Transformer (Huang et al., "Music Transformer", ICLR 2019): a decoder-only transformer over
 * event tokens, pre-norm (GPT-2 style), with relative attention (section 3.4.1, the skewing trick, in
 * cdz_self_attention_forward) or learned absolute positions, GELU or ReLU feed-forward layers, and
 * dropout (PyTorch style: the probability of dropping) on the embeddings, after each attention
 * projection and after each feed-forward layer. The shape and names follow
 * ../shared/bench/torch_reference.py (class Block and Transformer):
 *
 *   x = dropout(embedding[tokens] (+ position[0 .. T)))
 *   per block:  x += dropout(proj(attention(qkv(ln1(x)))))
 *               x += dropout(ff2(act(ff1(ln2(x)))))
 *   logits = output(ln_f(x))
 *
 * Promises: the forward pass is a flat list of layer calls and the backward pass the same list
 * reversed (STYLE.md); a window reads only its own tokens (positions 0 .. T-1 of the window, so a
 * window's loss does not depend on where it starts in its sequence); shorter windows are padded after
 * their end, which causal attention keeps from touching the real positions; step-wise generation with
 * a key/value cache per row gives the full forward pass's logits. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cadenza/codec.h"
#include "cadenza/model_kind.h"
#include "cadenza/nn.h"
#include "block.h"

enum { MAX_LAYERS = 64, MAX_LEN = 1 << 15 };

/* Offsets of one block's tensors into params / grads. */
typedef struct block_off {
    size_t ln1_w, ln1_b, qkv_w, qkv_b, er, proj_w, proj_b;
    blk_ff_off ff; /* ln2, ff1, ff2 */
} block_off;

/* One block's saved activations for a batch of N = B * T rows (slices of mt_ws.buf). */
typedef struct block_acts {
    float *x;               /* (N, C) the block's input (the residual stream) */
    float *ln1, *m1, *r1;   /* (N, C), (N), (N) */
    float *qkv;             /* (N, 3C) */
    float *att;             /* (B, NH, T, T) */
    float *ay;              /* (N, C) attention output, before the projection */
    float *xm;              /* (N, C) the residual stream after the attention half */
    uint8_t *drop1;         /* (N, C) dropout mask after the projection */
    blk_ff_acts ff;         /* the feed-forward half's: ln2 and its mean, rstd; ff1; act; the mask after ff2 */
} block_acts;

typedef struct mt {
    int V, C, NH, F, L, max_len, R; /* R: relative distances (0 in absolute mode) */
    int relative, gelu;
    float dropout;                  /* probability of dropping in training */
    size_t off_emb, off_pos, off_lnf_w, off_lnf_b, off_out_w, off_out_b;
    block_off off[MAX_LAYERS];
} mt;

/* One session's scratch: the loss's activations for up to cap_B windows of cap_T steps, and step-wise
 * generation's buffers for up to step_B rows. */
typedef struct mt_ws {
    int cap_T, cap_B;
    float *buf;
    uint8_t *masks;
    uint16_t *tokens, *targets;   /* (N) */
    block_acts acts[MAX_LAYERS];
    uint8_t *drop0;               /* (N, C) embedding dropout mask */
    float *xf, *lnf, *mf, *rf;    /* (N, C) the last block's output, ln_f of it, (N), (N) */
    float *logits, *probs;        /* (N, V) */
    float *tmp;                   /* (N, C) a forward temporary, then backward's */
    float *dx, *da, *db;          /* (N, C) backward: the residual stream's gradient and two more */
    float *dwide;                 /* (N, max(3C, 2F)) backward: dqkv, or d(act) and d(ff1) */
    float *dlogits;               /* (N, V) */
    float *scratch;               /* cdz_self_attention_scratch_floats(cap_T, R) */
    int step_B;
    float *step_buf;
    float *er_t;                  /* (L, NH, D, R) the relative embeddings transposed, as the step reads them */
} mt_ws;

/* ---- configs ---- */

static const char *const CONFIG_NAMES[] = {"mt_small", "mt_base", "gpt_base", "jsb_relative", "jsb_absolute",
                                           "jsb_small_relative", "jsb_small_absolute", "perf_small", "perf_pop",
                                           "remi_pop", "ensemble_small", "audio_prior", "tiny", "tiny_ensemble", NULL};

static const char *named_config(const char *name) {
    /* The benchmark shapes of ../shared/docs/BENCHMARKS.md (mt_small, mt_base, gpt_base); the
     * reference trains them without dropout, cadenza's named configs carry the dropout one trains
     * with. */
    if (strcmp(name, "mt_small") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"mt_small\",\"codec\":\"performance\","
               "\"attention\":\"relative\",\"layers\":4,\"d_model\":256,\"heads\":8,\"d_ff\":1024,\"max_len\":1024,"
               "\"activation\":\"gelu\",\"dropout\":0.1,\"batch\":8,\"seq\":1024,\"lr\":0.0003,\"clip\":1,"
               "\"weight_decay\":0.01,\"warmup_steps\":200}";
    if (strcmp(name, "mt_base") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"mt_base\",\"codec\":\"performance\","
               "\"attention\":\"relative\",\"layers\":6,\"d_model\":512,\"heads\":8,\"d_ff\":2048,\"max_len\":2048,"
               "\"activation\":\"gelu\",\"dropout\":0.1,\"batch\":8,\"seq\":2048,\"lr\":0.0003,\"clip\":1,"
               "\"weight_decay\":0.01,\"warmup_steps\":200}";
    /* MuseNet-style: absolute positions over a 1024-token vocabulary of no codec (benchmarks only) */
    if (strcmp(name, "gpt_base") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"gpt_base\",\"codec\":\"none\",\"vocab\":1024,"
               "\"attention\":\"absolute\",\"layers\":6,\"d_model\":512,\"heads\":8,\"d_ff\":2048,\"max_len\":2048,"
               "\"activation\":\"gelu\",\"dropout\":0.1,\"batch\":8,\"seq\":2048,\"lr\":0.0003,\"clip\":1,"
               "\"weight_decay\":0.01,\"warmup_steps\":200}";
    /* JSB Chorales, the protocol and defaults of ../shared/bench/jsb_reference.py: whole chorales up to
     * 2049 tokens (train with --whole-sequences --transpose -5:6 --decay cosine --min-lr-ratio 0) */
    if (strcmp(name, "jsb_relative") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"jsb_relative\",\"codec\":\"chorale\","
               "\"attention\":\"relative\",\"layers\":4,\"d_model\":256,\"heads\":8,\"d_ff\":1024,\"max_len\":2048,"
               "\"activation\":\"gelu\",\"dropout\":0.2,\"batch\":16,\"seq\":2048,\"lr\":0.0005,\"clip\":1,"
               "\"weight_decay\":0.01,\"warmup_steps\":200}";
    if (strcmp(name, "jsb_absolute") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"jsb_absolute\",\"codec\":\"chorale\","
               "\"attention\":\"absolute\",\"layers\":4,\"d_model\":256,\"heads\":8,\"d_ff\":1024,\"max_len\":2048,"
               "\"activation\":\"gelu\",\"dropout\":0.2,\"batch\":16,\"seq\":2048,\"lr\":0.0005,\"clip\":1,"
               "\"weight_decay\":0.01,\"warmup_steps\":200}";
    /* The same comparison at a size two CPU cores train in under an hour (docs/transformer.md) */
    if (strcmp(name, "jsb_small_relative") == 0 || strcmp(name, "jsb_small_absolute") == 0)
        return strcmp(name, "jsb_small_relative") == 0
                   ? "{\"kind\":\"music_transformer\",\"config_name\":\"jsb_small_relative\",\"codec\":\"chorale\","
                     "\"attention\":\"relative\",\"layers\":3,\"d_model\":128,\"heads\":4,\"d_ff\":512,\"max_len\":2048,"
                     "\"activation\":\"gelu\",\"dropout\":0.1,\"batch\":8,\"seq\":2048,\"lr\":0.001,\"clip\":1,"
                     "\"weight_decay\":0.01,\"warmup_steps\":100}"
                   : "{\"kind\":\"music_transformer\",\"config_name\":\"jsb_small_absolute\",\"codec\":\"chorale\","
                     "\"attention\":\"absolute\",\"layers\":3,\"d_model\":128,\"heads\":4,\"d_ff\":512,\"max_len\":2048,"
                     "\"activation\":\"gelu\",\"dropout\":0.1,\"batch\":8,\"seq\":2048,\"lr\":0.001,\"clip\":1,"
                     "\"weight_decay\":0.01,\"warmup_steps\":100}";
    if (strcmp(name, "perf_small") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"perf_small\",\"codec\":\"performance\","
               "\"attention\":\"relative\",\"layers\":4,\"d_model\":256,\"heads\":4,\"d_ff\":1024,\"max_len\":2048,"
               "\"activation\":\"gelu\",\"dropout\":0.1,\"batch\":8,\"seq\":512,\"lr\":0.0003,\"clip\":1,"
               "\"weight_decay\":0.01,\"warmup_steps\":200}";
    /* The shipped piano performance model (models/performance.safetensors): small enough to ship
     * (about 1.2M parameters) and to train on two cores; relative attention reaches 512 events back. */
    if (strcmp(name, "perf_pop") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"perf_pop\",\"codec\":\"performance\","
               "\"attention\":\"relative\",\"layers\":4,\"d_model\":128,\"heads\":4,\"d_ff\":512,\"max_len\":2048,"
               "\"max_relative\":512,\"activation\":\"gelu\",\"dropout\":0.1,\"batch\":8,\"seq\":512,\"lr\":0.001,"
               "\"clip\":1,\"weight_decay\":0.01,\"warmup_steps\":200}";
    /* perf_pop's shape on remi tokens (POP909's piano, its tracks PIANO): a window of 512 tokens holds
     * about 7 bars where 512 performance events held about 8 seconds. */
    if (strcmp(name, "remi_pop") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"remi_pop\",\"codec\":\"remi\","
               "\"attention\":\"relative\",\"layers\":4,\"d_model\":128,\"heads\":4,\"d_ff\":512,\"max_len\":2048,"
               "\"max_relative\":512,\"activation\":\"gelu\",\"dropout\":0.1,\"batch\":8,\"seq\":512,\"lr\":0.001,"
               "\"clip\":1,\"weight_decay\":0.01,\"warmup_steps\":200}";
    /* Many instruments (the ensemble codec, docs/ensemble.md): perf_pop's shape over a 2,048-token
     * context, relative attention reaching 1,024 tokens back; whole dataset sequences (each opens with
     * its header: train with --whole-sequences). */
    if (strcmp(name, "ensemble_small") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"ensemble_small\",\"codec\":\"ensemble\","
               "\"attention\":\"relative\",\"layers\":4,\"d_model\":128,\"heads\":4,\"d_ff\":512,\"max_len\":2048,"
               "\"max_relative\":1024,\"activation\":\"gelu\",\"dropout\":0.1,\"batch\":4,\"seq\":2048,\"lr\":0.001,"
               "\"clip\":1,\"weight_decay\":0.01,\"warmup_steps\":100}";
    /* The audio prior (cadenza/audio_prior.h): 2 books of 1,024 codes + 8 styles, 150 tokens a second
     * of audio at hop 320 and 24 kHz; relative attention reaching 512 tokens (3.4 s) back, sliding in
     * generation. */
    if (strcmp(name, "audio_prior") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"audio_prior\",\"codec\":\"none\",\"vocab\":2056,"
               "\"attention\":\"relative\",\"layers\":4,\"d_model\":128,\"heads\":4,\"d_ff\":512,\"max_len\":2048,"
               "\"max_relative\":512,\"activation\":\"gelu\",\"dropout\":0.1,\"batch\":8,\"seq\":512,\"lr\":0.001,"
               "\"clip\":1,\"weight_decay\":0.01,\"warmup_steps\":200}";
    /* For tests: the full structure at a size whose gradients can be checked numerically. */
    if (strcmp(name, "tiny") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"tiny\",\"codec\":\"chorale\","
               "\"attention\":\"relative\",\"layers\":2,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":64,"
               "\"activation\":\"gelu\",\"dropout\":0,\"batch\":4,\"seq\":24,\"lr\":0.003,\"clip\":1,"
               "\"weight_decay\":0,\"warmup_steps\":0}";
    if (strcmp(name, "tiny_ensemble") == 0)
        return "{\"kind\":\"music_transformer\",\"config_name\":\"tiny_ensemble\",\"codec\":\"ensemble\","
               "\"attention\":\"relative\",\"layers\":2,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":256,"
               "\"activation\":\"gelu\",\"dropout\":0,\"batch\":4,\"seq\":128,\"lr\":0.01,\"clip\":1,"
               "\"weight_decay\":0,\"warmup_steps\":0}";
    return NULL;
}

/* Range-checked config fields (cdz_config_int / cdz_config_float name the kind in errors). */
static cdz_status get_int(const cdz_json *c, const char *key, int64_t dflt, int64_t lo, int64_t hi, int *out,
                          const char *what, cdz_error *err) {
    return cdz_config_int(c, key, dflt, lo, hi, out, "music_transformer", what, err);
}

static cdz_status get_float(const cdz_json *c, const char *key, double dflt, double lo, double hi, float *out,
                            const char *what, cdz_error *err) {
    return cdz_config_float(c, key, dflt, lo, hi, out, "music_transformer", what, err);
}

/* A string key that must be one of two values: *out = 0 for a (or absent: dflt), 1 for b. */
static cdz_status get_choice(const cdz_json *c, const char *key, const char *a, const char *b, int dflt, int *out,
                             const char *what, cdz_error *err) {
    const cdz_json *v = cdz_json_get(c, key);
    if (!v) {
        *out = dflt;
        return CDZ_OK;
    }
    if (v->type == CDZ_JSON_STRING && strcmp(v->string, a) == 0) *out = 0;
    else if (v->type == CDZ_JSON_STRING && strcmp(v->string, b) == 0) *out = 1;
    else
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: music_transformer config: %s must be \"%s\" or \"%s\"%s%s%s", what,
                             key, a, b, v->type == CDZ_JSON_STRING ? " (not \"" : "",
                             v->type == CDZ_JSON_STRING ? v->string : "", v->type == CDZ_JSON_STRING ? "\")" : "");
    return CDZ_OK;
}

static cdz_status add(cdz_model *m, size_t *off, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2,
                      cdz_error *err) {
    int64_t shape[3] = {d0, d1, d2};
    *off = m->n_params;
    return cdz_model_add_tensor(m, name, ndim, shape, err);
}

static cdz_status layout(cdz_model *m, mt *t, cdz_error *err) {
    const int C = t->C, F = t->F;
    cdz_status st = add(m, &t->off_emb, "embedding.weight", 2, t->V, C, 0, err);
    if (st == CDZ_OK && !t->relative) st = add(m, &t->off_pos, "position.weight", 2, t->max_len, C, 0, err);
    for (int l = 0; l < t->L && st == CDZ_OK; l++) {
        block_off *o = &t->off[l];
        struct {
            size_t *off;
            const char *name;
            int ndim;
            int64_t d0, d1, d2;
        } ts[] = {
            {&o->ln1_w, "ln1.weight", 1, C, 0, 0},   {&o->ln1_b, "ln1.bias", 1, C, 0, 0},
            {&o->qkv_w, "qkv.weight", 2, 3 * C, C, 0}, {&o->qkv_b, "qkv.bias", 1, 3 * C, 0, 0},
            {&o->er, "er", 3, t->NH, t->R, C / t->NH}, {&o->proj_w, "proj.weight", 2, C, C, 0},
            {&o->proj_b, "proj.bias", 1, C, 0, 0},   {&o->ff.ln_w, "ln2.weight", 1, C, 0, 0},
            {&o->ff.ln_b, "ln2.bias", 1, C, 0, 0},   {&o->ff.w1, "ff1.weight", 2, F, C, 0},
            {&o->ff.b1, "ff1.bias", 1, F, 0, 0},     {&o->ff.w2, "ff2.weight", 2, C, F, 0},
            {&o->ff.b2, "ff2.bias", 1, C, 0, 0},
        };
        for (size_t i = 0; i < sizeof ts / sizeof *ts && st == CDZ_OK; i++) {
            if (ts[i].off == &o->er && !t->relative) continue;
            char name[48];
            snprintf(name, sizeof name, "blocks.%d.%s", l, ts[i].name);
            st = add(m, ts[i].off, name, ts[i].ndim, ts[i].d0, ts[i].d1, ts[i].d2, err);
        }
    }
    if (st == CDZ_OK) st = add(m, &t->off_lnf_w, "ln_f.weight", 1, C, 0, 0, err);
    if (st == CDZ_OK) st = add(m, &t->off_lnf_b, "ln_f.bias", 1, C, 0, 0, err);
    if (st == CDZ_OK) st = add(m, &t->off_out_w, "output.weight", 2, t->V, C, 0, err);
    if (st == CDZ_OK) st = add(m, &t->off_out_b, "output.bias", 1, t->V, 0, 0, err);
    return st;
}

static cdz_status from_config(cdz_model *m, const cdz_json *c, const char *what, cdz_error *err) {
    mt *t = cdz_calloc(1, sizeof *t);
    if (!t) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    m->impl = t;
    const char *codec = cdz_json_get_string(c, "codec", "performance");
    int has_vocab = cdz_json_get(c, "vocab") != NULL;
    cdz_status st = CDZ_OK;
    if (strcmp(codec, "none") == 0) {
        /* tokens of no codec (benchmarks): the vocabulary must be given; below 0xFFFF, the ignored target */
        if (!has_vocab)
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: music_transformer config: codec \"none\" needs a \"vocab\"", what);
        st = get_int(c, "vocab", 0, 2, CDZ_IGNORE_TARGET, &t->V, what, err);
        if (st != CDZ_OK) return st;
    } else {
        const cdz_codec *cd = cdz_codec_find(codec);
        if (!cd || cd->vocab_size >= CDZ_IGNORE_TARGET)
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: music_transformer config: unknown or unsuitable codec '%s'", what,
                                 codec);
        if (has_vocab)
            return cdz_error_set(err, CDZ_ERR_FORMAT,
                                 "%s: music_transformer config: \"vocab\" is given by codec '%s' (%u tokens); an explicit "
                                 "vocab goes only with codec \"none\"",
                                 what, codec, cd->vocab_size);
        t->V = (int)cd->vocab_size;
    }
    snprintf(m->codec, sizeof m->codec, "%s", codec);
    m->vocab = (uint32_t)t->V;
    int absolute = 0;
    st = get_choice(c, "attention", "relative", "absolute", 0, &absolute, what, err);
    t->relative = !absolute;
    int relu = 0;
    if (st == CDZ_OK) st = get_choice(c, "activation", "gelu", "relu", 0, &relu, what, err);
    t->gelu = !relu;
    if (st == CDZ_OK) st = get_int(c, "layers", 4, 1, MAX_LAYERS, &t->L, what, err);
    if (st == CDZ_OK) st = get_int(c, "d_model", 256, 1, 16384, &t->C, what, err);
    if (st == CDZ_OK) st = get_int(c, "heads", 8, 1, 1024, &t->NH, what, err);
    if (st == CDZ_OK) st = get_int(c, "d_ff", 4 * (int64_t)t->C, 1, 65536, &t->F, what, err);
    if (st == CDZ_OK) st = get_int(c, "max_len", 1024, 1, MAX_LEN, &t->max_len, what, err);
    m->max_len = t->max_len;
    if (st == CDZ_OK && t->relative) st = get_int(c, "max_relative", t->max_len, 1, t->max_len, &t->R, what, err);
    if (st == CDZ_OK && !t->relative && cdz_json_get(c, "max_relative"))
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: music_transformer config: max_relative goes only with relative attention",
                           what);
    if (st == CDZ_OK) st = get_float(c, "dropout", 0.1, 0, 0.99, &t->dropout, what, err);
    if (st == CDZ_OK)
        st = cdz_config_train(c, (cdz_train_defaults){8, t->max_len, 3e-4f, 1, 0.01f, 0, 0, 0, 0}, t->max_len, "music_transformer", what,
                              m, err);
    if (st != CDZ_OK) return st;
    if (t->C % t->NH != 0)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: music_transformer config: heads = %d does not divide d_model = %d", what,
                             t->NH, t->C);
    st = layout(m, t, err);
    if (st == CDZ_OK) st = cdz_model_alloc_params(m, err);
    return st;
}

static char *config_json(const cdz_model *m) {
    const mt *t = m->impl;
    enum { SIZE = 1024 };
    char *s = cdz_malloc(SIZE);
    if (!s) return NULL;
    char name[160], vocab[32] = "", rel[32] = "", train[256];
    cdz_json_quote(name, sizeof name, m->config_name);
    cdz_config_train_json(&m->train, train, sizeof train);
    if (strcmp(m->codec, "none") == 0) snprintf(vocab, sizeof vocab, "\"vocab\":%d,", t->V);
    if (t->relative) snprintf(rel, sizeof rel, "\"max_relative\":%d,", t->R);
    snprintf(s, SIZE,
             "{\"kind\":\"music_transformer\",\"config_name\":%s,\"codec\":\"%s\",%s\"attention\":\"%s\",%s"
             "\"layers\":%d,\"d_model\":%d,\"heads\":%d,\"d_ff\":%d,\"max_len\":%d,\"activation\":\"%s\","
             "\"dropout\":%.9g,%s}",
             name, m->codec, vocab, t->relative ? "relative" : "absolute", rel, t->L, t->C, t->NH, t->F, t->max_len,
             t->gelu ? "gelu" : "relu", t->dropout, train);
    return s;
}

static double residual_scale(const cdz_model *m, const char *n) {
    const mt *t = m->impl;
    return strstr(n, ".proj.weight") || strstr(n, ".ff2.weight") ? 1.0 / sqrt(2.0 * t->L) : 1.0;
}

static void init_params(cdz_model *m, cdz_rng *rng) { cdz_init_gpt2(m, rng, residual_scale); }

/* ---- activations ---- */

static size_t wide_floats(const mt *t) { return (size_t)(3 * t->C > 2 * t->F ? 3 * t->C : 2 * t->F); }

/* Floats of activations for B windows of T steps (see reserve for the slices). */
static size_t floats_for(const mt *t, size_t T, size_t B) {
    size_t N = T * B, C = (size_t)t->C, F = (size_t)t->F, V = (size_t)t->V;
    size_t per_block = 6 * N * C + 4 * N + 3 * N * C + (size_t)t->NH * B * T * T + 2 * N * F;
    return (size_t)t->L * per_block + 2 * N * C + 2 * N + 3 * N * V + 4 * N * C + N * wide_floats(t) +
           cdz_self_attention_scratch_floats((int)T, t->R);
}

static cdz_status reserve(const mt *t, mt_ws *ws, int T, int B, cdz_error *err) {
    if (T <= ws->cap_T && B <= ws->cap_B) return CDZ_OK;
    if (T < ws->cap_T) T = ws->cap_T;
    if (B < ws->cap_B) B = ws->cap_B;
    size_t N = (size_t)T * B, C = (size_t)t->C, F = (size_t)t->F, V = (size_t)t->V, NC = N * C;
    float *buf = cdz_calloc(floats_for(t, (size_t)T, (size_t)B), sizeof *buf);
    uint8_t *masks = cdz_calloc((2 * (size_t)t->L + 1) * NC, 1);
    uint16_t *tok = cdz_calloc(2 * N, sizeof *tok);
    if (!buf || !masks || !tok) {
        cdz_free(buf), cdz_free(masks), cdz_free(tok);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "music_transformer: out of memory for activations of %d x %d steps", B, T);
    }
    cdz_free(ws->buf), cdz_free(ws->masks), cdz_free(ws->tokens);
    ws->buf = buf, ws->masks = masks, ws->tokens = tok, ws->targets = tok + N;
    ws->cap_T = T, ws->cap_B = B;
    float *q = buf;
    uint8_t *mk = masks;
    ws->drop0 = mk, mk += NC;
    for (int l = 0; l < t->L; l++) {
        block_acts *a = &ws->acts[l];
        a->x = q, q += NC;
        a->ln1 = q, q += NC;
        a->m1 = q, q += N;
        a->r1 = q, q += N;
        a->qkv = q, q += 3 * NC;
        a->att = q, q += (size_t)t->NH * B * (size_t)T * T;
        a->ay = q, q += NC;
        a->xm = q, q += NC;
        a->ff.ln = q, q += NC;
        a->ff.mean = q, q += N;
        a->ff.rstd = q, q += N;
        a->ff.h = q, q += N * F;
        a->ff.act = q, q += N * F;
        a->drop1 = mk, mk += NC;
        a->ff.drop = mk, mk += NC;
    }
    ws->xf = q, q += NC;
    ws->lnf = q, q += NC;
    ws->mf = q, q += N;
    ws->rf = q, q += N;
    ws->logits = q, q += N * V;
    ws->probs = q, q += N * V;
    ws->dlogits = q, q += N * V;
    ws->tmp = q, q += NC;
    ws->dx = q, q += NC;
    ws->da = q, q += NC;
    ws->db = q, q += NC;
    ws->dwide = q, q += N * wide_floats(t);
    ws->scratch = q;
    return CDZ_OK;
}

/* ---- loss ---- */

/* Batch-major (B, T) inputs and targets of B windows, each window's own tokens at positions 0 ..;
 * after a short window's end, token 0 in and ignored targets. */
static cdz_status prepare(const cdz_model *m, mt_ws *ws, const cdz_window *w, int B, int T, int64_t *tokens,
                          cdz_error *err) {
    const mt *t = m->impl;
    *tokens = 0;
    for (int b = 0; b < B; b++) {
        const uint16_t *seq = w[b].seq + w[b].start;
        for (int64_t p = 0; p < w[b].n; p++)
            if (seq[p] >= (uint16_t)t->V)
                return cdz_error_set(err, CDZ_ERR_FORMAT,
                                     "token %u at position %lld is outside the model's vocabulary (%d, codec %s)", seq[p],
                                     (long long)(w[b].start + p), t->V, m->codec);
        for (int i = 0; i < T; i++) {
            size_t k = (size_t)b * T + i;
            int live = i < w[b].n - 1;
            ws->tokens[k] = live ? seq[i] : 0;
            ws->targets[k] = live ? seq[i + 1] : CDZ_IGNORE_TARGET;
            *tokens += live;
        }
    }
    return CDZ_OK;
}

static cdz_status loss(const cdz_model *m, void *kws, const cdz_batch *batch, const cdz_loss_opts *opts, cdz_loss *out,
                       cdz_loss_stats *stats, cdz_error *err) {
    const mt *t = m->impl;
    mt_ws *ws = kws;
    const cdz_backend *nn = m->backend;
    const cdz_window *w = batch->windows;
    const int B = batch->B;
    if (batch->kind != CDZ_BATCH_TOKENS) return cdz_error_set(err, CDZ_ERR_ARG, "music_transformer reads token windows");
    int T = 0;
    for (int b = 0; b < B; b++) {
        if (w[b].n < 2 || w[b].start < 0) return cdz_error_set(err, CDZ_ERR_ARG, "music_transformer: a window needs 2 tokens");
        if (w[b].n - 1 > t->max_len)
            return cdz_error_set(err, CDZ_ERR_ARG,
                                 "music_transformer: a window of %lld tokens is longer than the model's max_len (%d) + 1; "
                                 "use windows of at most %d tokens",
                                 (long long)w[b].n, t->max_len, t->max_len + 1);
        if (w[b].n - 1 > T) T = (int)(w[b].n - 1);
    }
    if ((int64_t)B * T > INT32_MAX)
        return cdz_error_set(err, CDZ_ERR_ARG, "music_transformer: a batch of %d x %d steps is too large", B, T);
    int64_t n_tokens = 0;
    cdz_status st = reserve(t, ws, T, B, err);
    if (st == CDZ_OK) st = prepare(m, ws, w, B, T, &n_tokens, err);
    if (st != CDZ_OK) return st;
    const int C = t->C, F = t->F, V = t->V, NH = t->NH, R = t->relative ? t->R : 0, N = B * T;
    const size_t NC = (size_t)N * C;
    const float *P = m->params;
    const int train = opts->pass == CDZ_TRAIN;
    const float keep = train ? 1.0f - t->dropout : 1.0f;
    const int drop = keep < 1.0f;
    /* dropout sites: 0 the embeddings, then per block 1 + 2l after the attention, 2 + 2l after the
     * feed-forward half; all (B, T, C) */
    cdz_dropout_site site = {0};

    /* forward */
    float *x = t->L ? ws->acts[0].x : ws->xf;
    nn->embedding_forward(x, ws->tokens, P + t->off_emb, N, C);
    if (!t->relative)
        for (int b = 0; b < B; b++) nn->add(x + (size_t)b * T * C, P + t->off_pos, (size_t)T * C);
    if (drop) {
        site = cdz_loss_dropout_site(opts, batch, 0, T, C, 0);
        nn->dropout_forward(x, ws->drop0, x, &site, keep);
    }
    for (int l = 0; l < t->L; l++) {
        const block_off *o = &t->off[l];
        block_acts *a = &ws->acts[l];
        float *next = l + 1 < t->L ? ws->acts[l + 1].x : ws->xf;
        nn->layernorm_forward(a->ln1, a->m1, a->r1, a->x, P + o->ln1_w, P + o->ln1_b, N, C);
        nn->linear_forward(a->qkv, a->ln1, P + o->qkv_w, P + o->qkv_b, N, C, 3 * C);
        nn->self_attention_forward(a->ay, a->att, ws->scratch, a->qkv, R ? P + o->er : NULL, B, T, C, NH, R);
        if (drop) site = cdz_loss_dropout_site(opts, batch, 1 + 2 * l, T, C, 0);
        blk_proj_residual_forward(nn, a->xm, a->x, a->ay, P + o->proj_w, P + o->proj_b, a->drop1, N, C, C, keep, &site,
                                  ws->tmp);
        if (drop) site = cdz_loss_dropout_site(opts, batch, 2 + 2 * l, T, C, 0);
        blk_ff_forward(nn, next, a->xm, &a->ff, P, &o->ff, N, C, F, t->gelu, keep, &site, ws->tmp);
    }
    const blk_head_off head = {t->off_lnf_w, t->off_lnf_b, t->off_out_w, t->off_out_b};
    const blk_head_acts head_acts = {ws->lnf, ws->mf, ws->rf, ws->logits, ws->probs, ws->dlogits};
    float mean = blk_head_forward(nn, &head_acts, ws->xf, ws->targets, P, &head, N, C, V, stats);
    cdz_loss_set_nll(out, mean, n_tokens);
    if (!train) return CDZ_OK;

    /* backward: the same calls in reverse; dx carries the residual stream's gradient */
    float *G = opts->grads, *dx = ws->dx, *da = ws->da, *db = ws->db;
    blk_head_backward(nn, dx, G, P, &head, &head_acts, ws->xf, ws->targets, N, C, V, da);
    for (int l = t->L - 1; l >= 0; l--) {
        const block_off *o = &t->off[l];
        const block_acts *a = &ws->acts[l];
        blk_ff_backward(nn, dx, G, P, &o->ff, &a->ff, a->xm, N, C, F, t->gelu, keep, da, db, ws->dwide);
        /* attention half: xm = x + dropout(proj(attention(qkv(ln1(x))))) */
        float *dqkv = ws->dwide;
        blk_proj_residual_backward(nn, db, G + o->proj_w, G + o->proj_b, dx, a->ay, P + o->proj_w, a->drop1, N, C, C, keep,
                                   da);
        nn->zero(dqkv, 3 * NC * sizeof *dqkv);
        nn->self_attention_backward(dqkv, R ? G + o->er : NULL, ws->scratch, db, a->att, a->qkv, R ? P + o->er : NULL, B,
                                    T, C, NH, R);
        nn->zero(da, NC * sizeof *da);
        nn->linear_backward(da, G + o->qkv_w, G + o->qkv_b, dqkv, a->ln1, P + o->qkv_w, N, C, 3 * C);
        nn->layernorm_backward(dx, G + o->ln1_w, G + o->ln1_b, da, a->x, a->m1, a->r1, P + o->ln1_w, N, C);
    }
    blk_dropout_grad(nn, da, dx, ws->drop0, NC, keep);
    if (!t->relative)
        for (int b = 0; b < B; b++) nn->add(G + t->off_pos, da + (size_t)b * T * C, (size_t)T * C);
    nn->embedding_backward(G + t->off_emb, da, ws->tokens, N, C);
    return CDZ_OK;
}

/* ---- step-wise generation ---- */

/* A row's state: per layer the key cache (NH, D, window), then the value cache (NH, window, D): rings
 * of the last `window` tokens' keys and values (cdz_self_attention_step). */
static size_t row_bytes(const cdz_model *m, int64_t window) {
    const mt *t = m->impl;
    return 2 * (size_t)t->L * (size_t)window * (size_t)t->C * sizeof(float);
}

static int64_t default_window(const cdz_model *m) { return ((const mt *)m->impl)->max_len; }

/* Relative attention reads distances only, so the cache can slide; absolute positions end at max_len. */
static int can_slide(const cdz_model *m) { return ((const mt *)m->impl)->relative; }

static void *session_new(const cdz_model *m, int rows, int64_t window, cdz_error *err) {
    const mt *t = m->impl;
    mt_ws *ws = cdz_calloc(1, sizeof *ws);
    size_t C = (size_t)t->C, F = (size_t)t->F;
    /* x, h, y (B, C); qkv (B, 3C); ff1 and its activation (B, F); mean, rstd (B); the attention step's
     * scratch */
    size_t n = (size_t)rows * (3 * C + 3 * C + 2 * F + 2) + cdz_self_attention_step_scratch_floats((int)window, t->R);
    if (ws) ws->step_buf = cdz_calloc(n, sizeof *ws->step_buf);
    if (!ws || !ws->step_buf) {
        cdz_free(ws);
        cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for a music_transformer session of %d rows", rows);
        return NULL;
    }
    ws->step_B = rows;
    return ws;
}

static void session_free(void *kws) {
    mt_ws *ws = kws;
    cdz_free(ws->buf), cdz_free(ws->masks), cdz_free(ws->tokens), cdz_free(ws->step_buf), cdz_free(ws->er_t);
    cdz_free(ws);
}

static cdz_status step(const cdz_model *m, void *kws, const cdz_step_rows *rows, float *logits, cdz_error *err) {
    const mt *t = m->impl;
    mt_ws *ws = kws;
    const cdz_backend *nn = m->backend;
    const int B = rows->B, W = (int)rows->window;
    const int64_t pos64 = rows->len - 1;
    if (!t->relative && pos64 >= t->max_len)
        return cdz_error_set(err, CDZ_ERR_ARG,
                             "music_transformer: token %lld of a row is past the model's max_len (%d): with absolute "
                             "positions it reads sequences of at most %d tokens",
                             (long long)rows->len, t->max_len, t->max_len);
    if (pos64 > INT32_MAX) return cdz_error_set(err, CDZ_ERR_ARG, "music_transformer: position %lld is too far", (long long)pos64);
    const int C = t->C, F = t->F, NH = t->NH, R = t->relative ? t->R : 0, pos = (int)pos64;
    const size_t cache = (size_t)W * C, BC = (size_t)B * C;
    CDZ_ASSERT(B <= ws->step_B);
    size_t offs[MAX_LAYERS];
    for (int l = 0; R && l < t->L; l++) offs[l] = t->off[l].er;
    if (R && !ws->er_t && !(ws->er_t = blk_transposed_er(m->params, offs, t->L, NH, R, C / NH)))
        return cdz_error_set(err, CDZ_ERR_NOMEM, "music_transformer: out of memory for the session's embeddings");
    float *x = ws->step_buf, *h = x + BC, *y = h + BC, *qkv = y + BC, *ff = qkv + 3 * BC, *ffa = ff + (size_t)B * F;
    float *mean = ffa + (size_t)B * F, *rstd = mean + B, *scratch = rstd + B;
    const blk_ff_acts ff_acts = {h, mean, rstd, ff, ffa, NULL};
    const float *P = m->params;
    for (int b = 0; b < B; b++) {
        uint16_t tok = rows->tokens[b];
        if (tok >= (uint16_t)t->V)
            return cdz_error_set(err, CDZ_ERR_ARG, "token %u is outside the model's vocabulary (%d)", tok, t->V);
    }
    for (int b = 0; b < B; b++) {
        nn->copy(x + (size_t)b * C, P + t->off_emb + (size_t)rows->tokens[b] * C, (size_t)C * sizeof *x);
        if (!t->relative) nn->add(x + (size_t)b * C, P + t->off_pos + (size_t)pos * C, (size_t)C);
    }
    for (int l = 0; l < t->L; l++) {
        const block_off *o = &t->off[l];
        nn->layernorm_forward(h, mean, rstd, x, P + o->ln1_w, P + o->ln1_b, B, C);
        nn->linear_forward(qkv, h, P + o->qkv_w, P + o->qkv_b, B, C, 3 * C);
        for (int b = 0; b < B; b++) {
            float *kc = (float *)(rows->state + (size_t)b * rows->stride) + 2 * (size_t)l * cache;
            nn->self_attention_step(y + (size_t)b * C, kc, kc + cache, scratch, qkv + (size_t)b * 3 * C,
                                    R ? ws->er_t + (size_t)l * NH * R * (C / NH) : NULL, pos, 1, C, NH, R, W);
        }
        blk_proj_residual_forward(nn, x, x, y, P + o->proj_w, P + o->proj_b, NULL, B, C, C, 1.0f, NULL, h);
        blk_ff_forward(nn, x, x, &ff_acts, P, &o->ff, B, C, F, t->gelu, 1.0f, NULL, y);
    }
    nn->layernorm_forward(h, mean, rstd, x, P + t->off_lnf_w, P + t->off_lnf_b, B, C);
    nn->linear_forward(logits, h, P + t->off_out_w, P + t->off_out_b, B, C, t->V);
    return CDZ_OK;
}

const cdz_model_kind cdz_music_transformer = {
    .name = "music_transformer",
    .description = "Music Transformer: decoder-only transformer with relative attention over event tokens",
    .default_config = "perf_pop",
    .config_names = CONFIG_NAMES,
    .named_config = named_config,
    .from_config = from_config,
    .config_json = config_json,
    .init_params = init_params,
    .session_new = session_new,
    .session_free = session_free,
    .row_bytes = row_bytes,
    .default_window = default_window,
    .can_slide = can_slide,
    .step = step,
    .loss = loss,
};

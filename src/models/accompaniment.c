/* Melody-conditioned accompaniment (Huang et al., "Music Transformer", ICLR 2019, section 5: an
 * encoder-decoder transformer that reads a melody and writes its accompaniment), pre-norm, GELU
 * feed-forward layers, dropout (the probability of dropping) as music_transformer.c.
 *
 * Data: each sequence is ONE token sequence [melody ..., SEP, accompaniment ...] with SEP = the
 * codec's vocabulary size V. A window must start at 0 (the whole sequence: the melody is read as a
 * whole) and hold a SEP with at least one melody token before it and one accompaniment token after
 * it; the model splits it at its first SEP. The accompaniment must not hold another SEP.
 *
 *   encoder:  e = dropout(enc_embedding[melody] + enc_position[0 .. Tm))
 *             per block:  e += dropout(proj(attend(q(ln1(e)), kv(ln1(e)))))   bidirectional, padded melody
 *                         e += dropout(ff2(gelu(ff1(ln2(e)))))                  steps masked as keys
 *             enc = ln_f(e)
 *   decoder:  x = dropout(dec_embedding[SEP, acc_0 .. acc_{n-2}])             (V + 1 rows: SEP included)
 *             per block:  x += dropout(proj(self_attention(qkv(ln1(x)), er)))  causal, relative (er)
 *                         x += dropout(cproj(attend(cq(ln2(x)), ckv(enc))))    melody key mask
 *                         x += dropout(ff2(gelu(ff1(ln3(x)))))
 *             logits = output(ln_f(x))                                         over the codec's V tokens
 *   loss = mean NLL of acc_0 .. acc_{n-1}
 *
 * "attend" is cdz_cross_attention_forward (non-causal attention with a key mask); the encoder uses it
 * for its self-attention with q and kv projected from the same normalised input.
 *
 * m->vocab is the codec's V (what step's logits cover: the model never predicts SEP); the embeddings
 * of the decoder take V + 1 tokens. m->max_len is 2 max_len: a whole sequence holds at most max_len
 * melody tokens, SEP and max_len accompaniment tokens, 2 max_len + 1 tokens (a window of n tokens
 * "predicts" n - 1 in the model.h convention; only the accompaniment's tokens are scored). Windows
 * drawn at random starts (the trainer's default) are refused: train on whole sequences.
 *
 * Step-wise generation: history[b] is [melody ..., SEP, accompaniment so far]. While the history holds
 * only melody tokens, step checks the token and writes zero logits (nothing is computed: the melody is
 * read as a whole). When the history ends with its SEP, step runs the encoder over the row's melody,
 * keeps each decoder layer's cross-attention keys and values of it in the row's state, and feeds SEP
 * to the decoder; each later call feeds the last accompaniment token through the decoder with its
 * key/value cache. Logits are (B, V): the distribution of the next accompaniment token. Rows may have
 * melodies of different lengths (their SEPs at different positions). A SEP after the first one is an
 * error. The result equals the full forward pass's (tests/test_accompaniment.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cadenza/codec.h"
#include "cadenza/model_kind.h"
#include "cadenza/nn.h"
#include "block.h"

enum { MAX_LAYERS = 64, MAX_LEN = 1 << 14 };

typedef struct enc_off {
    size_t ln1_w, ln1_b, q_w, q_b, kv_w, kv_b, proj_w, proj_b;
    blk_ff_off ff; /* ln2, ff1, ff2 */
} enc_off;

typedef struct dec_off {
    size_t ln1_w, ln1_b, qkv_w, qkv_b, er, proj_w, proj_b, ln2_w, ln2_b, cq_w, cq_b, ckv_w, ckv_b, cproj_w, cproj_b;
    blk_ff_off ff; /* ln3, ff1, ff2 */
} dec_off;

/* One encoder block's saved activations, Ne = B * Tm rows. */
typedef struct enc_acts {
    float *x, *ln1, *m1, *r1, *q, *kv, *att, *ay, *xm;
    uint8_t *drop1;
    blk_ff_acts ff;
} enc_acts;

/* One decoder block's saved activations, Nd = B * Ta rows (ckv and catt also over the melody). */
typedef struct dec_acts {
    float *x, *ln1, *m1, *r1, *qkv, *att, *ay, *xm, *ln2, *m2, *r2, *cq, *ckv, *catt, *cy, *xc;
    uint8_t *drop1, *drop2;
    blk_ff_acts ff;
} dec_acts;

typedef struct acc {
    int V, C, NH, F, E, D, max_len, R;
    float dropout;
    size_t off_eemb, off_epos, off_elnf_w, off_elnf_b, off_demb, off_lnf_w, off_lnf_b, off_out_w, off_out_b;
    enc_off eo[MAX_LAYERS];
    dec_off dof[MAX_LAYERS];
} acc;

/* One session's scratch: the loss's activations for up to cap_B sequences of cap_Tm melody and cap_Ta
 * accompaniment steps, and step-wise generation's buffers for up to step_B rows. */
typedef struct acc_ws {
    int cap_B, cap_Tm, cap_Ta;
    float *buf;
    uint8_t *masks;
    uint16_t *etok, *dtok, *targets;
    uint8_t *key_mask; /* (B, Tm) */
    enc_acts ea[MAX_LAYERS];
    dec_acts da[MAX_LAYERS];
    uint8_t *edrop0, *ddrop0;
    float *ex, *enc, *emf, *erf;        /* (Ne, C) encoder's last output, ln_f of it (the memory), (Ne), (Ne) */
    float *xf, *lnf, *mf, *rf;          /* (Nd, C), (Nd, C), (Nd), (Nd) */
    float *logits, *probs, *dlogits;    /* (Nd, V) */
    float *tmp;                         /* (max(Ne, Nd), C) */
    float *dx, *dA, *dB, *dwide;        /* backward: (Nm, C) x 3, (Nm, max(3C, 2F)), Nm = max(Ne, Nd) */
    float *denc, *dckv;                 /* (Ne, C), (Ne, 2C) */
    float *scratch;
    int step_B;
    float *step_buf;
    float *er_t; /* (D layers, NH, C/NH, R) the decoder's relative embeddings transposed, as the step reads them */
} acc_ws;

/* ---- configs ---- */

static const char *const CONFIG_NAMES[] = {"acc_small", "acc_pop", "acc_remi_pop", "tiny", NULL};

static const char *named_config(const char *name) {
    if (strcmp(name, "acc_small") == 0)
        return "{\"kind\":\"accompaniment\",\"config_name\":\"acc_small\",\"codec\":\"accompaniment\",\"enc_layers\":2,"
               "\"dec_layers\":2,\"d_model\":256,\"heads\":4,\"d_ff\":1024,\"max_len\":1024,\"max_relative\":1024,"
               "\"dropout\":0.1,\"batch\":8,\"seq\":2048,\"lr\":0.0003,\"clip\":1,\"weight_decay\":0.01,"
               "\"warmup_steps\":200}";
    /* The shipped model (models/accompaniment.safetensors): about 1.3M parameters, trains on two cores;
     * POP909's pairs are at most 1,023 tokens. */
    if (strcmp(name, "acc_pop") == 0)
        return "{\"kind\":\"accompaniment\",\"config_name\":\"acc_pop\",\"codec\":\"accompaniment\",\"enc_layers\":2,"
               "\"dec_layers\":2,\"d_model\":128,\"heads\":4,\"d_ff\":512,\"max_len\":1024,\"max_relative\":512,"
               "\"dropout\":0.1,\"batch\":16,\"seq\":1024,\"lr\":0.001,\"clip\":1,\"weight_decay\":0.01,"
               "\"warmup_steps\":200}";
    /* acc_pop's size on remi_acc's pairs (8 bars of melody, SEP, 8 bars of piano, a pair every 4
     * bars): each side reads up to 1,024 tokens and a whole pair is one window. */
    if (strcmp(name, "acc_remi_pop") == 0)
        return "{\"kind\":\"accompaniment\",\"config_name\":\"acc_remi_pop\",\"codec\":\"remi_acc\","
               "\"enc_layers\":2,\"dec_layers\":2,\"d_model\":128,\"heads\":4,\"d_ff\":512,\"max_len\":1024,"
               "\"max_relative\":512,\"dropout\":0.1,\"batch\":16,\"seq\":2048,\"lr\":0.001,\"clip\":1,"
               "\"weight_decay\":0.01,\"warmup_steps\":200}";
    /* For tests: the full structure at a size whose gradients can be checked numerically. */
    if (strcmp(name, "tiny") == 0)
        return "{\"kind\":\"accompaniment\",\"config_name\":\"tiny\",\"codec\":\"chorale\",\"enc_layers\":1,"
               "\"dec_layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":32,\"max_relative\":32,"
               "\"dropout\":0,\"batch\":4,\"seq\":64,\"lr\":0.003,\"clip\":1,\"weight_decay\":0,\"warmup_steps\":0}";
    return NULL;
}

/* Range-checked config fields (cdz_config_int / cdz_config_float name the kind in errors). */
static cdz_status get_int(const cdz_json *c, const char *key, int64_t dflt, int64_t lo, int64_t hi, int *out,
                          const char *what, cdz_error *err) {
    return cdz_config_int(c, key, dflt, lo, hi, out, "accompaniment", what, err);
}

static cdz_status get_float(const cdz_json *c, const char *key, double dflt, double lo, double hi, float *out,
                            const char *what, cdz_error *err) {
    return cdz_config_float(c, key, dflt, lo, hi, out, "accompaniment", what, err);
}

typedef struct tdesc {
    size_t *off;
    const char *name;
    int ndim;
    int64_t d0, d1, d2;
} tdesc;

static cdz_status add_all(cdz_model *m, const char *prefix, const tdesc *ts, size_t n, cdz_error *err) {
    cdz_status st = CDZ_OK;
    for (size_t i = 0; i < n && st == CDZ_OK; i++) {
        char name[48];
        snprintf(name, sizeof name, "%s%s", prefix, ts[i].name);
        int64_t shape[3] = {ts[i].d0, ts[i].d1, ts[i].d2};
        *ts[i].off = m->n_params;
        st = cdz_model_add_tensor(m, name, ts[i].ndim, shape, err);
    }
    return st;
}

static cdz_status layout(cdz_model *m, acc *t, cdz_error *err) {
    const int C = t->C, F = t->F, V = t->V;
    tdesc head[] = {{&t->off_eemb, "enc.embedding.weight", 2, V, C, 0},
                    {&t->off_epos, "enc.position.weight", 2, t->max_len, C, 0}};
    cdz_status st = add_all(m, "", head, 2, err);
    for (int l = 0; l < t->E && st == CDZ_OK; l++) {
        enc_off *o = &t->eo[l];
        tdesc ts[] = {
            {&o->ln1_w, "ln1.weight", 1, C, 0, 0},  {&o->ln1_b, "ln1.bias", 1, C, 0, 0},
            {&o->q_w, "q.weight", 2, C, C, 0},      {&o->q_b, "q.bias", 1, C, 0, 0},
            {&o->kv_w, "kv.weight", 2, 2 * C, C, 0}, {&o->kv_b, "kv.bias", 1, 2 * C, 0, 0},
            {&o->proj_w, "proj.weight", 2, C, C, 0}, {&o->proj_b, "proj.bias", 1, C, 0, 0},
            {&o->ff.ln_w, "ln2.weight", 1, C, 0, 0}, {&o->ff.ln_b, "ln2.bias", 1, C, 0, 0},
            {&o->ff.w1, "ff1.weight", 2, F, C, 0},   {&o->ff.b1, "ff1.bias", 1, F, 0, 0},
            {&o->ff.w2, "ff2.weight", 2, C, F, 0},   {&o->ff.b2, "ff2.bias", 1, C, 0, 0},
        };
        char prefix[32];
        snprintf(prefix, sizeof prefix, "enc.blocks.%d.", l);
        st = add_all(m, prefix, ts, sizeof ts / sizeof *ts, err);
    }
    tdesc mid[] = {{&t->off_elnf_w, "enc.ln_f.weight", 1, C, 0, 0},
                   {&t->off_elnf_b, "enc.ln_f.bias", 1, C, 0, 0},
                   {&t->off_demb, "dec.embedding.weight", 2, V + 1, C, 0}};
    if (st == CDZ_OK) st = add_all(m, "", mid, 3, err);
    for (int l = 0; l < t->D && st == CDZ_OK; l++) {
        dec_off *o = &t->dof[l];
        tdesc ts[] = {
            {&o->ln1_w, "ln1.weight", 1, C, 0, 0},       {&o->ln1_b, "ln1.bias", 1, C, 0, 0},
            {&o->qkv_w, "qkv.weight", 2, 3 * C, C, 0},   {&o->qkv_b, "qkv.bias", 1, 3 * C, 0, 0},
            {&o->er, "er", 3, t->NH, t->R, C / t->NH},  {&o->proj_w, "proj.weight", 2, C, C, 0},
            {&o->proj_b, "proj.bias", 1, C, 0, 0},       {&o->ln2_w, "ln2.weight", 1, C, 0, 0},
            {&o->ln2_b, "ln2.bias", 1, C, 0, 0},         {&o->cq_w, "cross_q.weight", 2, C, C, 0},
            {&o->cq_b, "cross_q.bias", 1, C, 0, 0},      {&o->ckv_w, "cross_kv.weight", 2, 2 * C, C, 0},
            {&o->ckv_b, "cross_kv.bias", 1, 2 * C, 0, 0}, {&o->cproj_w, "cross_proj.weight", 2, C, C, 0},
            {&o->cproj_b, "cross_proj.bias", 1, C, 0, 0}, {&o->ff.ln_w, "ln3.weight", 1, C, 0, 0},
            {&o->ff.ln_b, "ln3.bias", 1, C, 0, 0},       {&o->ff.w1, "ff1.weight", 2, F, C, 0},
            {&o->ff.b1, "ff1.bias", 1, F, 0, 0},         {&o->ff.w2, "ff2.weight", 2, C, F, 0},
            {&o->ff.b2, "ff2.bias", 1, C, 0, 0},
        };
        char prefix[32];
        snprintf(prefix, sizeof prefix, "dec.blocks.%d.", l);
        st = add_all(m, prefix, ts, sizeof ts / sizeof *ts, err);
    }
    tdesc tail[] = {{&t->off_lnf_w, "dec.ln_f.weight", 1, C, 0, 0},
                    {&t->off_lnf_b, "dec.ln_f.bias", 1, C, 0, 0},
                    {&t->off_out_w, "output.weight", 2, V, C, 0},
                    {&t->off_out_b, "output.bias", 1, V, 0, 0}};
    if (st == CDZ_OK) st = add_all(m, "", tail, 4, err);
    return st;
}

static cdz_status from_config(cdz_model *m, const cdz_json *c, const char *what, cdz_error *err) {
    acc *t = cdz_calloc(1, sizeof *t);
    if (!t) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    m->impl = t;
    const char *codec = cdz_json_get_string(c, "codec", "accompaniment");
    const cdz_codec *cd = cdz_codec_find(codec);
    /* SEP = vocab_size must stay below the ignored target */
    if (!cd || cd->vocab_size + 1 >= CDZ_IGNORE_TARGET)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: accompaniment config: unknown or unsuitable codec '%s'", what, codec);
    if (cdz_json_get(c, "vocab"))
        return cdz_error_set(err, CDZ_ERR_FORMAT,
                             "%s: accompaniment config: \"vocab\" is given by the codec (its tokens, plus SEP)", what);
    /* The pair codecs ("accompaniment", "remi_acc") already hold the separator, their last token
     * (the part's tokens, then SEP): the model predicts the tokens below it. */
    const cdz_codec_bar_gen *bg = cdz_codec_bar_gen_of(cd);
    t->V = strcmp(codec, "accompaniment") == 0 ? CDZ_ACC_SEP
         : bg && bg->condition_bars ? (int)cd->vocab_size - 1 : (int)cd->vocab_size;
    snprintf(m->codec, sizeof m->codec, "%s", codec);
    m->vocab = (uint32_t)t->V;
    m->history_vocab = (uint32_t)t->V + 1; /* the separator may be in a history, never sampled */
    cdz_status st = get_int(c, "enc_layers", 2, 1, MAX_LAYERS, &t->E, what, err);
    if (st == CDZ_OK) st = get_int(c, "dec_layers", 2, 1, MAX_LAYERS, &t->D, what, err);
    if (st == CDZ_OK) st = get_int(c, "d_model", 256, 1, 16384, &t->C, what, err);
    if (st == CDZ_OK) st = get_int(c, "heads", 4, 1, 1024, &t->NH, what, err);
    if (st == CDZ_OK) st = get_int(c, "d_ff", 4 * (int64_t)t->C, 1, 65536, &t->F, what, err);
    if (st == CDZ_OK) st = get_int(c, "max_len", 1024, 1, MAX_LEN, &t->max_len, what, err);
    if (st == CDZ_OK) st = get_int(c, "max_relative", t->max_len, 1, t->max_len, &t->R, what, err);
    if (st == CDZ_OK) st = get_float(c, "dropout", 0.1, 0, 0.99, &t->dropout, what, err);
    m->max_len = 2 * t->max_len;
    if (st == CDZ_OK)
        st = cdz_config_train(c, (cdz_train_defaults){8, m->max_len, 3e-4f, 1, 0.01f, 0, 0, 0, 0}, m->max_len, "accompaniment", what, m,
                              err);
    if (st != CDZ_OK) return st;
    if (t->C % t->NH != 0)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: accompaniment config: heads = %d does not divide d_model = %d", what,
                             t->NH, t->C);
    st = layout(m, t, err);
    if (st == CDZ_OK) st = cdz_model_alloc_params(m, err);
    return st;
}

static char *config_json(const cdz_model *m) {
    const acc *t = m->impl;
    enum { SIZE = 1024 };
    char *s = cdz_malloc(SIZE);
    if (!s) return NULL;
    char name[160], train[256];
    cdz_json_quote(name, sizeof name, m->config_name);
    cdz_config_train_json(&m->train, train, sizeof train);
    snprintf(s, SIZE,
             "{\"kind\":\"accompaniment\",\"config_name\":%s,\"codec\":\"%s\",\"enc_layers\":%d,\"dec_layers\":%d,"
             "\"d_model\":%d,\"heads\":%d,\"d_ff\":%d,\"max_len\":%d,\"max_relative\":%d,\"dropout\":%.9g,%s}",
             name, m->codec, t->E, t->D, t->C, t->NH, t->F, t->max_len, t->R, t->dropout, train);
    return s;
}

/* As music_transformer.c (GPT-2's): matrices, embeddings and er N(0, 0.02), the residual projections
 * scaled by 1/sqrt(2 layers) of their stack (the decoder's three per block count as its depth too),
 * biases 0, layer norms weight 1, bias 0. */
static double residual_scale(const cdz_model *m, const char *n) {
    const acc *t = m->impl;
    if (!strstr(n, "proj.weight") && !strstr(n, ".ff2.weight")) return 1.0;
    return 1.0 / sqrt(2.0 * (strncmp(n, "enc.", 4) == 0 ? t->E : t->D));
}

static void init_params(cdz_model *m, cdz_rng *rng) { cdz_init_gpt2(m, rng, residual_scale); }

/* ---- activations ---- */

static size_t wide(const acc *t) { return (size_t)(3 * t->C > 2 * t->F ? 3 * t->C : 2 * t->F); }

static size_t scratch_floats(const acc *t, int Tm, int Ta) {
    size_t a = cdz_self_attention_scratch_floats(Ta, t->R), b = cdz_cross_attention_scratch_floats(Ta, Tm),
           c = cdz_cross_attention_scratch_floats(Tm, Tm);
    return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

/* Slices fbuf / mbuf for B sequences of Tm, Ta steps (or, with NULL buffers, counts floats and mask
 * bytes). */
static void slice(const acc *t, acc_ws *ws, float *fbuf, uint8_t *mbuf, int B, int Tm, int Ta, size_t *nf, size_t *nm) {
    const size_t C = (size_t)t->C, F = (size_t)t->F, V = (size_t)t->V, NH = (size_t)t->NH;
    const size_t Ne = (size_t)B * Tm, Nd = (size_t)B * Ta, Nm = Ne > Nd ? Ne : Nd;
    size_t f = 0, k = 0;
#define TF(p, n) ((p) = fbuf ? fbuf + f : NULL, f += (n))
#define TM(p, n) ((p) = mbuf ? mbuf + k : NULL, k += (n))
    TM(ws->edrop0, Ne * C);
    TM(ws->ddrop0, Nd * C);
    for (int l = 0; l < t->E; l++) {
        enc_acts *a = &ws->ea[l];
        TF(a->x, Ne * C), TF(a->ln1, Ne * C), TF(a->m1, Ne), TF(a->r1, Ne), TF(a->q, Ne * C), TF(a->kv, 2 * Ne * C);
        TF(a->att, NH * B * (size_t)Tm * Tm), TF(a->ay, Ne * C), TF(a->xm, Ne * C), TF(a->ff.ln, Ne * C);
        TF(a->ff.mean, Ne), TF(a->ff.rstd, Ne), TF(a->ff.h, Ne * F), TF(a->ff.act, Ne * F);
        TM(a->drop1, Ne * C), TM(a->ff.drop, Ne * C);
    }
    TF(ws->ex, Ne * C), TF(ws->enc, Ne * C), TF(ws->emf, Ne), TF(ws->erf, Ne);
    for (int l = 0; l < t->D; l++) {
        dec_acts *a = &ws->da[l];
        TF(a->x, Nd * C), TF(a->ln1, Nd * C), TF(a->m1, Nd), TF(a->r1, Nd), TF(a->qkv, 3 * Nd * C);
        TF(a->att, NH * B * (size_t)Ta * Ta), TF(a->ay, Nd * C), TF(a->xm, Nd * C), TF(a->ln2, Nd * C), TF(a->m2, Nd);
        TF(a->r2, Nd), TF(a->cq, Nd * C), TF(a->ckv, 2 * Ne * C), TF(a->catt, NH * B * (size_t)Ta * Tm);
        TF(a->cy, Nd * C), TF(a->xc, Nd * C), TF(a->ff.ln, Nd * C), TF(a->ff.mean, Nd), TF(a->ff.rstd, Nd);
        TF(a->ff.h, Nd * F), TF(a->ff.act, Nd * F);
        TM(a->drop1, Nd * C), TM(a->drop2, Nd * C), TM(a->ff.drop, Nd * C);
    }
    TF(ws->xf, Nd * C), TF(ws->lnf, Nd * C), TF(ws->mf, Nd), TF(ws->rf, Nd);
    TF(ws->logits, Nd * V), TF(ws->probs, Nd * V), TF(ws->dlogits, Nd * V);
    TF(ws->tmp, Nm * C), TF(ws->dx, Nm * C), TF(ws->dA, Nm * C), TF(ws->dB, Nm * C), TF(ws->dwide, Nm * wide(t));
    TF(ws->denc, Ne * C), TF(ws->dckv, 2 * Ne * C), TF(ws->scratch, scratch_floats(t, Tm, Ta));
    TM(ws->key_mask, Ne);
#undef TF
#undef TM
    *nf = f, *nm = k;
}

static cdz_status reserve(const acc *t, acc_ws *ws, int B, int Tm, int Ta, cdz_error *err) {
    if (B <= ws->cap_B && Tm <= ws->cap_Tm && Ta <= ws->cap_Ta) return CDZ_OK;
    if (B < ws->cap_B) B = ws->cap_B;
    if (Tm < ws->cap_Tm) Tm = ws->cap_Tm;
    if (Ta < ws->cap_Ta) Ta = ws->cap_Ta;
    size_t nf, nm;
    slice(t, ws, NULL, NULL, B, Tm, Ta, &nf, &nm);
    const size_t Ne = (size_t)B * Tm, Nd = (size_t)B * Ta;
    float *buf = cdz_calloc(nf, sizeof *buf);
    uint8_t *masks = cdz_calloc(nm, 1);
    uint16_t *tok = cdz_calloc(Ne + 2 * Nd, sizeof *tok);
    if (!buf || !masks || !tok) {
        cdz_free(buf), cdz_free(masks), cdz_free(tok);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "accompaniment: out of memory for activations of %d x (%d + %d) steps", B,
                             Tm, Ta);
    }
    cdz_free(ws->buf), cdz_free(ws->masks), cdz_free(ws->etok);
    ws->buf = buf, ws->masks = masks;
    ws->etok = tok, ws->dtok = tok + Ne, ws->targets = tok + Ne + Nd;
    ws->cap_B = B, ws->cap_Tm = Tm, ws->cap_Ta = Ta;
    slice(t, ws, buf, masks, B, Tm, Ta, &nf, &nm);
    return CDZ_OK;
}

/* ---- loss ---- */

/* The melody length of a window (the index of its first SEP), or an error. */
static cdz_status split_window(const cdz_model *m, const cdz_window *w, int64_t *tm, cdz_error *err) {
    const acc *t = m->impl;
    const uint16_t SEP = (uint16_t)t->V;
    if (w->start != 0)
        return cdz_error_set(err, CDZ_ERR_ARG,
                             "accompaniment: a window must start at 0 (start %lld): the model reads the whole "
                             "[melody, SEP, accompaniment] sequence",
                             (long long)w->start);
    int64_t s = -1;
    for (int64_t p = 0; p < w->n; p++) {
        if (w->seq[p] > SEP)
            return cdz_error_set(err, CDZ_ERR_FORMAT,
                                 "token %u at position %lld is outside the model's vocabulary (%d, codec %s, plus SEP %u)",
                                 w->seq[p], (long long)p, t->V, m->codec, SEP);
        if (w->seq[p] == SEP) {
            if (s < 0) s = p;
            else
                return cdz_error_set(err, CDZ_ERR_FORMAT,
                                     "accompaniment: a second SEP (%u) at position %lld (the first at %lld)", SEP,
                                     (long long)p, (long long)s);
        }
    }
    if (s < 0)
        return cdz_error_set(err, CDZ_ERR_FORMAT,
                             "accompaniment: a window of %lld tokens holds no SEP (token %u) between melody and "
                             "accompaniment",
                             (long long)w->n, SEP);
    if (s < 1 || s + 1 >= w->n)
        return cdz_error_set(err, CDZ_ERR_FORMAT,
                             "accompaniment: a window needs at least one melody token before SEP and one accompaniment "
                             "token after it (SEP at %lld of %lld tokens)",
                             (long long)s, (long long)w->n);
    if (s > t->max_len || w->n - s - 1 > t->max_len)
        return cdz_error_set(err, CDZ_ERR_ARG,
                             "accompaniment: a melody of %lld or accompaniment of %lld tokens is longer than the "
                             "model's max_len (%d)",
                             (long long)s, (long long)(w->n - s - 1), t->max_len);
    *tm = s;
    return CDZ_OK;
}

/* Dropout sites (all (B, T, C)): 0 the encoder's embeddings, 1 + 2l and 2 + 2l its block l's halves
 * (Tm positions); then 1 + 2E the decoder's embeddings and 2 + 2E + 3l .. 4 + 2E + 3l its block l's
 * self-attention, cross-attention and feed-forward halves (Ta positions). */
static cdz_dropout_site dropout_site(const cdz_loss_opts *opts, const cdz_batch *batch, int site, int T, int C,
                                     float keep) {
    cdz_dropout_site s = {0};
    return keep < 1.0f ? cdz_loss_dropout_site(opts, batch, site, T, C, 0) : s;
}

/* The encoder over ws->etok (B, Tm) with ws->key_mask: ws->enc (B * Tm, C); opts and batch place its
 * dropout (NULL both with keep 1). */
static void encode(const cdz_model *m, acc_ws *ws, int B, int Tm, float keep, const cdz_loss_opts *opts,
                   const cdz_batch *batch) {
    const acc *t = m->impl;
    const cdz_backend *nn = m->backend;
    const int C = t->C, F = t->F, NH = t->NH, Ne = B * Tm;
    const float *P = m->params;
    const int drop = keep < 1.0f;
    float *x = ws->ea[0].x;
    nn->embedding_forward(x, ws->etok, P + t->off_eemb, Ne, C);
    for (int b = 0; b < B; b++) nn->add(x + (size_t)b * Tm * C, P + t->off_epos, (size_t)Tm * C);
    cdz_dropout_site site = dropout_site(opts, batch, 0, Tm, C, keep);
    if (drop) nn->dropout_forward(x, ws->edrop0, x, &site, keep);
    for (int l = 0; l < t->E; l++) {
        const enc_off *o = &t->eo[l];
        enc_acts *a = &ws->ea[l];
        float *next = l + 1 < t->E ? ws->ea[l + 1].x : ws->ex;
        nn->layernorm_forward(a->ln1, a->m1, a->r1, a->x, P + o->ln1_w, P + o->ln1_b, Ne, C);
        nn->linear_forward(a->q, a->ln1, P + o->q_w, P + o->q_b, Ne, C, C);
        nn->linear_forward(a->kv, a->ln1, P + o->kv_w, P + o->kv_b, Ne, C, 2 * C);
        nn->cross_attention_forward(a->ay, a->att, a->q, a->kv, ws->key_mask, B, Tm, Tm, C, NH);
        site = dropout_site(opts, batch, 1 + 2 * l, Tm, C, keep);
        blk_proj_residual_forward(nn, a->xm, a->x, a->ay, P + o->proj_w, P + o->proj_b, a->drop1, Ne, C, C, keep, &site, ws->tmp);
        site = dropout_site(opts, batch, 2 + 2 * l, Tm, C, keep);
        blk_ff_forward(nn, next, a->xm, &a->ff, P, &o->ff, Ne, C, F, 1, keep, &site, ws->tmp);
    }
    nn->layernorm_forward(ws->enc, ws->emf, ws->erf, ws->ex, P + t->off_elnf_w, P + t->off_elnf_b, Ne, C);
}

static cdz_status loss(const cdz_model *m, void *kws, const cdz_batch *batch, const cdz_loss_opts *opts, cdz_loss *out,
                       cdz_loss_stats *stats, cdz_error *err) {
    const acc *t = m->impl;
    acc_ws *ws = kws;
    const cdz_backend *nn = m->backend;
    const cdz_window *w = batch->windows;
    const int B = batch->B;
    if (batch->kind != CDZ_BATCH_TOKENS) return cdz_error_set(err, CDZ_ERR_ARG, "accompaniment reads token windows");
    int Tm = 0, Ta = 0;
    for (int b = 0; b < B; b++) {
        int64_t s = 0;
        cdz_status st = split_window(m, &w[b], &s, err);
        if (st != CDZ_OK) return st;
        if (s > Tm) Tm = (int)s;
        if (w[b].n - s - 1 > Ta) Ta = (int)(w[b].n - s - 1);
    }
    if ((int64_t)B * (Tm > Ta ? Tm : Ta) > INT32_MAX / 4)
        return cdz_error_set(err, CDZ_ERR_ARG, "accompaniment: a batch of %d x (%d + %d) steps is too large", B, Tm, Ta);
    cdz_status st = reserve(t, ws, B, Tm, Ta, err);
    if (st != CDZ_OK) return st;
    const uint16_t SEP = (uint16_t)t->V;
    int64_t n_tokens = 0;
    for (int b = 0; b < B; b++) {
        int64_t s = 0;
        while (w[b].seq[s] != SEP) s++;
        for (int i = 0; i < Tm; i++) {
            ws->etok[(size_t)b * Tm + i] = i < s ? w[b].seq[i] : 0;
            ws->key_mask[(size_t)b * Tm + i] = i < s;
        }
        int64_t na = w[b].n - s - 1;
        for (int i = 0; i < Ta; i++) {
            size_t k = (size_t)b * Ta + i;
            ws->dtok[k] = i < na ? w[b].seq[s + i] : 0; /* SEP, then acc_0 .. */
            ws->targets[k] = i < na ? w[b].seq[s + 1 + i] : CDZ_IGNORE_TARGET;
        }
        n_tokens += na;
    }
    const int C = t->C, F = t->F, V = t->V, NH = t->NH, R = t->R, Ne = B * Tm, Nd = B * Ta;
    const size_t NeC = (size_t)Ne * C, NC = (size_t)Nd * C;
    const float *P = m->params;
    const int train = opts->pass == CDZ_TRAIN;
    const float keep = train ? 1.0f - t->dropout : 1.0f;
    const int drop = keep < 1.0f;

    /* forward: encoder, then decoder */
    encode(m, ws, B, Tm, keep, opts, batch);
    float *x = ws->da[0].x;
    nn->embedding_forward(x, ws->dtok, P + t->off_demb, Nd, C);
    const int dsite = 1 + 2 * t->E; /* the decoder's first dropout site */
    cdz_dropout_site site = dropout_site(opts, batch, dsite, Ta, C, keep);
    if (drop) nn->dropout_forward(x, ws->ddrop0, x, &site, keep);
    for (int l = 0; l < t->D; l++) {
        const dec_off *o = &t->dof[l];
        dec_acts *a = &ws->da[l];
        float *next = l + 1 < t->D ? ws->da[l + 1].x : ws->xf;
        nn->layernorm_forward(a->ln1, a->m1, a->r1, a->x, P + o->ln1_w, P + o->ln1_b, Nd, C);
        nn->linear_forward(a->qkv, a->ln1, P + o->qkv_w, P + o->qkv_b, Nd, C, 3 * C);
        nn->self_attention_forward(a->ay, a->att, ws->scratch, a->qkv, P + o->er, B, Ta, C, NH, R);
        site = dropout_site(opts, batch, dsite + 1 + 3 * l, Ta, C, keep);
        blk_proj_residual_forward(nn, a->xm, a->x, a->ay, P + o->proj_w, P + o->proj_b, a->drop1, Nd, C, C, keep, &site, ws->tmp);
        nn->layernorm_forward(a->ln2, a->m2, a->r2, a->xm, P + o->ln2_w, P + o->ln2_b, Nd, C);
        nn->linear_forward(a->cq, a->ln2, P + o->cq_w, P + o->cq_b, Nd, C, C);
        nn->linear_forward(a->ckv, ws->enc, P + o->ckv_w, P + o->ckv_b, Ne, C, 2 * C);
        nn->cross_attention_forward(a->cy, a->catt, a->cq, a->ckv, ws->key_mask, B, Ta, Tm, C, NH);
        site = dropout_site(opts, batch, dsite + 2 + 3 * l, Ta, C, keep);
        blk_proj_residual_forward(nn, a->xc, a->xm, a->cy, P + o->cproj_w, P + o->cproj_b, a->drop2, Nd, C, C, keep, &site,
                                  ws->tmp);
        site = dropout_site(opts, batch, dsite + 3 + 3 * l, Ta, C, keep);
        blk_ff_forward(nn, next, a->xc, &a->ff, P, &o->ff, Nd, C, F, 1, keep, &site, ws->tmp);
    }
    const blk_head_off head = {t->off_lnf_w, t->off_lnf_b, t->off_out_w, t->off_out_b};
    const blk_head_acts head_acts = {ws->lnf, ws->mf, ws->rf, ws->logits, ws->probs, ws->dlogits};
    float mean = blk_head_forward(nn, &head_acts, ws->xf, ws->targets, P, &head, Nd, C, V, stats);
    cdz_loss_set_nll(out, mean, n_tokens);
    if (!train) return CDZ_OK;

    /* backward: the same calls in reverse; dx carries the residual stream's gradient, denc the
     * encoder output's (summed over the decoder's cross-attentions) */
    float *G = opts->grads, *dx = ws->dx, *da = ws->dA, *db = ws->dB;
    blk_head_backward(nn, dx, G, P, &head, &head_acts, ws->xf, ws->targets, Nd, C, V, da);
    nn->zero(ws->denc, NeC * sizeof *ws->denc);
    for (int l = t->D - 1; l >= 0; l--) {
        const dec_off *o = &t->dof[l];
        const dec_acts *a = &ws->da[l];
        /* feed-forward: next = xc + dropout(ff2(gelu(ff1(ln3(xc))))) */
        blk_ff_backward(nn, dx, G, P, &o->ff, &a->ff, a->xc, Nd, C, F, 1, keep, da, db, ws->dwide);
        /* cross-attention: xc = xm + dropout(cproj(attend(cq(ln2(xm)), ckv(enc)))) */
        float *dcq = ws->dwide;
        blk_proj_residual_backward(nn, db, G + o->cproj_w, G + o->cproj_b, dx, a->cy, P + o->cproj_w, a->drop2, Nd, C, C, keep,
                                   da);
        nn->zero(dcq, NC * sizeof *dcq);
        nn->zero(ws->dckv, 2 * NeC * sizeof *ws->dckv);
        nn->cross_attention_backward(dcq, ws->dckv, ws->scratch, db, a->catt, a->cq, a->ckv, B, Ta, Tm, C, NH);
        nn->linear_backward(ws->denc, G + o->ckv_w, G + o->ckv_b, ws->dckv, ws->enc, P + o->ckv_w, Ne, C, 2 * C);
        nn->zero(da, NC * sizeof *da);
        nn->linear_backward(da, G + o->cq_w, G + o->cq_b, dcq, a->ln2, P + o->cq_w, Nd, C, C);
        nn->layernorm_backward(dx, G + o->ln2_w, G + o->ln2_b, da, a->xm, a->m2, a->r2, P + o->ln2_w, Nd, C);
        /* self-attention: xm = x + dropout(proj(self_attention(qkv(ln1(x))))) */
        float *dqkv = ws->dwide;
        blk_proj_residual_backward(nn, db, G + o->proj_w, G + o->proj_b, dx, a->ay, P + o->proj_w, a->drop1, Nd, C, C, keep, da);
        nn->zero(dqkv, 3 * NC * sizeof *dqkv);
        nn->self_attention_backward(dqkv, G + o->er, ws->scratch, db, a->att, a->qkv, P + o->er, B, Ta, C, NH, R);
        nn->zero(da, NC * sizeof *da);
        nn->linear_backward(da, G + o->qkv_w, G + o->qkv_b, dqkv, a->ln1, P + o->qkv_w, Nd, C, 3 * C);
        nn->layernorm_backward(dx, G + o->ln1_w, G + o->ln1_b, da, a->x, a->m1, a->r1, P + o->ln1_w, Nd, C);
    }
    blk_dropout_grad(nn, da, dx, ws->ddrop0, NC, keep);
    nn->embedding_backward(G + t->off_demb, da, ws->dtok, Nd, C);

    /* the encoder, reversed */
    nn->zero(dx, NeC * sizeof *dx);
    nn->layernorm_backward(dx, G + t->off_elnf_w, G + t->off_elnf_b, ws->denc, ws->ex, ws->emf, ws->erf, P + t->off_elnf_w,
                           Ne, C);
    for (int l = t->E - 1; l >= 0; l--) {
        const enc_off *o = &t->eo[l];
        const enc_acts *a = &ws->ea[l];
        blk_ff_backward(nn, dx, G, P, &o->ff, &a->ff, a->xm, Ne, C, F, 1, keep, da, db, ws->dwide);
        float *dq = ws->dwide, *dkv = ws->dwide + NeC;
        blk_proj_residual_backward(nn, db, G + o->proj_w, G + o->proj_b, dx, a->ay, P + o->proj_w, a->drop1, Ne, C, C, keep, da);
        nn->zero(dq, 3 * NeC * sizeof *dq);
        nn->cross_attention_backward(dq, dkv, ws->scratch, db, a->att, a->q, a->kv, B, Tm, Tm, C, NH);
        nn->zero(da, NeC * sizeof *da);
        nn->linear_backward(da, G + o->kv_w, G + o->kv_b, dkv, a->ln1, P + o->kv_w, Ne, C, 2 * C);
        nn->linear_backward(da, G + o->q_w, G + o->q_b, dq, a->ln1, P + o->q_w, Ne, C, C);
        nn->layernorm_backward(dx, G + o->ln1_w, G + o->ln1_b, da, a->x, a->m1, a->r1, P + o->ln1_w, Ne, C);
    }
    blk_dropout_grad(nn, da, dx, ws->edrop0, NeC, keep);
    for (int b = 0; b < B; b++) nn->add(G + t->off_epos, da + (size_t)b * Tm * C, (size_t)Tm * C);
    nn->embedding_backward(G + t->off_eemb, da, ws->etok, Ne, C);
    return CDZ_OK;
}

/* ---- step-wise generation ---- */

/* A row's state (floats): a header of 2 (the melody's length + 1 once it is encoded, else 0; unused),
 * then per decoder layer the cross-attention keys and values of the encoded melody (max_len, 2C), then
 * per decoder layer the self-attention key and value caches, each (NH, max_len, D). */
enum { HEADER = 2 };

static size_t row_bytes(const cdz_model *m, int64_t window) {
    (void)window;
    const acc *t = m->impl;
    return (HEADER + 4 * (size_t)t->D * (size_t)t->max_len * (size_t)t->C) * sizeof(float);
}

/* A row's history is [melody, SEP, accompaniment]: at most max_len tokens on each side of SEP. */
static int64_t default_window(const cdz_model *m) { return 2 * (int64_t)((const acc *)m->impl)->max_len; }

static void *session_new(const cdz_model *m, int rows, int64_t window, cdz_error *err) {
    (void)window;
    const acc *t = m->impl;
    acc_ws *ws = cdz_calloc(1, sizeof *ws);
    size_t C = (size_t)t->C, F = (size_t)t->F;
    /* x, h, y, cq (B, C); qkv (B, 3C); ff (B, F) twice; mean, rstd (B); pos, tm (B); att (NH, max_len);
     * the attention step's scratch */
    size_t n = (size_t)rows * (4 * C + 3 * C + 2 * F + 4) + (size_t)t->NH * t->max_len +
               cdz_self_attention_step_scratch_floats(t->max_len, t->R);
    if (ws) ws->step_buf = cdz_calloc(n, sizeof *ws->step_buf);
    if (!ws || !ws->step_buf) {
        cdz_free(ws);
        cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for an accompaniment session of %d rows", rows);
        return NULL;
    }
    ws->step_B = rows;
    return ws;
}

static void session_free(void *kws) {
    acc_ws *ws = kws;
    cdz_free(ws->buf), cdz_free(ws->masks), cdz_free(ws->etok), cdz_free(ws->step_buf), cdz_free(ws->er_t);
    cdz_free(ws);
}

static cdz_status step(const cdz_model *m, void *kws, const cdz_step_rows *rows, float *logits, cdz_error *err) {
    const acc *t = m->impl;
    acc_ws *ws = kws;
    const cdz_backend *nn = m->backend;
    const int B = rows->B;
    const int64_t len = rows->len;
    const uint16_t *const *history = rows->history;
    const int C = t->C, F = t->F, NH = t->NH, R = t->R, V = t->V, L = t->max_len;
    const uint16_t SEP = (uint16_t)V;
    const size_t BC = (size_t)B * C, ckv_size = (size_t)L * 2 * C, cache = (size_t)L * C;
    CDZ_ASSERT(B <= ws->step_B);
    size_t offs[MAX_LAYERS];
    for (int l = 0; l < t->D; l++) offs[l] = t->dof[l].er;
    if (!ws->er_t && !(ws->er_t = blk_transposed_er(m->params, offs, t->D, NH, R, C / NH)))
        return cdz_error_set(err, CDZ_ERR_NOMEM, "accompaniment: out of memory for the session's embeddings");
    float *x = ws->step_buf, *h = x + BC, *y = h + BC, *cq = y + BC, *qkv = cq + BC, *ff = qkv + 3 * BC;
    float *ffa = ff + (size_t)B * F, *mean = ffa + (size_t)B * F, *rstd = mean + B, *posf = rstd + B, *tmf = posf + B;
    float *catt = tmf + B, *scratch = catt + (size_t)NH * L;
    const blk_ff_acts ff_acts = {h, mean, rstd, ff, ffa, NULL};
    const float *P = m->params;
    /* per row: melody (before SEP: write zero logits) or which decoder position this token is; every
     * check (and the one allocation) comes before any row's state changes */
    int encodes = 0;
    for (int b = 0; b < B; b++) {
        const float *sb = (const float *)(rows->state + (size_t)b * rows->stride);
        uint16_t tok = rows->tokens[b];
        encodes |= sb[0] == 0 && tok == SEP;
        if (tok > SEP)
            return cdz_error_set(err, CDZ_ERR_ARG, "token %u is outside the model's vocabulary (%d, plus SEP %u)", tok, V, SEP);
        if (sb[0] == 0 && tok != SEP && len > L)
            return cdz_error_set(err, CDZ_ERR_ARG, "accompaniment: a melody of %lld tokens is longer than the model's max_len (%d)",
                                 (long long)len, L);
        if (sb[0] == 0 && tok == SEP && len - 1 < 1)
            return cdz_error_set(err, CDZ_ERR_ARG, "accompaniment: SEP before any melody token");
        if (sb[0] != 0 && tok == SEP)
            return cdz_error_set(err, CDZ_ERR_ARG, "accompaniment: a second SEP at position %lld", (long long)(len - 1));
        if (sb[0] != 0 && len - 1 - ((int64_t)sb[0] - 1) >= L)
            return cdz_error_set(err, CDZ_ERR_ARG,
                                 "accompaniment: accompaniment position %lld is past the model's max_len (%d)",
                                 (long long)(len - 1 - ((int64_t)sb[0] - 1)), L);
    }
    if (encodes) { /* the rows whose SEP comes now all have melodies of len - 1 tokens */
        cdz_status st = reserve(t, ws, 1, (int)(len - 1), 1, err);
        if (st != CDZ_OK) return st;
    }
    for (int b = 0; b < B; b++) {
        float *sb = (float *)(rows->state + (size_t)b * rows->stride);
        uint16_t tok = rows->tokens[b];
        posf[b] = -1;
        if (sb[0] == 0) {
            if (tok != SEP) continue; /* a melody token: nothing to compute until SEP */
            /* encode this row's melody with the loss's activations, keep its cross-attention k/v */
            int tm = (int)(len - 1);
            for (int i = 0; i < tm; i++) ws->etok[i] = history[b][i], ws->key_mask[i] = 1;
            encode(m, ws, 1, tm, 1.0f, NULL, NULL);
            for (int l = 0; l < t->D; l++)
                nn->linear_forward(sb + HEADER + l * ckv_size, ws->enc, P + t->dof[l].ckv_w, P + t->dof[l].ckv_b, tm, C,
                                   2 * C);
            sb[0] = (float)(tm + 1);
        }
        int tm = (int)sb[0] - 1;
        posf[b] = (float)(len - 1 - tm), tmf[b] = (float)tm;
    }
    for (int b = 0; b < B; b++) {
        uint16_t tok = posf[b] < 0 ? SEP : rows->tokens[b];
        nn->copy(x + (size_t)b * C, P + t->off_demb + (size_t)tok * C, (size_t)C * sizeof *x);
    }
    for (int l = 0; l < t->D; l++) {
        const dec_off *o = &t->dof[l];
        nn->layernorm_forward(h, mean, rstd, x, P + o->ln1_w, P + o->ln1_b, B, C);
        nn->linear_forward(qkv, h, P + o->qkv_w, P + o->qkv_b, B, C, 3 * C);
        nn->zero(y, BC * sizeof *y);
        for (int b = 0; b < B; b++) {
            if (posf[b] < 0) continue;
            float *kc = (float *)(rows->state + (size_t)b * rows->stride) + HEADER + (size_t)t->D * ckv_size +
                        2 * (size_t)l * cache;
            nn->self_attention_step(y + (size_t)b * C, kc, kc + cache, scratch, qkv + (size_t)b * 3 * C,
                                    ws->er_t + (size_t)l * NH * R * (C / NH), (int)posf[b], 1, C, NH, R, L);
        }
        blk_proj_residual_forward(nn, x, x, y, P + o->proj_w, P + o->proj_b, NULL, B, C, C, 1.0f, NULL, h);
        nn->layernorm_forward(h, mean, rstd, x, P + o->ln2_w, P + o->ln2_b, B, C);
        nn->linear_forward(cq, h, P + o->cq_w, P + o->cq_b, B, C, C);
        nn->zero(y, BC * sizeof *y);
        for (int b = 0; b < B; b++) {
            if (posf[b] < 0) continue;
            const float *kv = (const float *)(rows->state + (size_t)b * rows->stride) + HEADER + l * ckv_size;
            nn->cross_attention_forward(y + (size_t)b * C, catt, cq + (size_t)b * C, kv, NULL, 1, 1, (int)tmf[b], C, NH);
        }
        blk_proj_residual_forward(nn, x, x, y, P + o->cproj_w, P + o->cproj_b, NULL, B, C, C, 1.0f, NULL, h);
        blk_ff_forward(nn, x, x, &ff_acts, P, &o->ff, B, C, F, 1, 1.0f, NULL, y);
    }
    nn->layernorm_forward(h, mean, rstd, x, P + t->off_lnf_w, P + t->off_lnf_b, B, C);
    nn->linear_forward(logits, h, P + t->off_out_w, P + t->off_out_b, B, C, V);
    for (int b = 0; b < B; b++)
        if (posf[b] < 0) nn->zero(logits + (size_t)b * V, (size_t)V * sizeof *logits);
    return CDZ_OK;
}

const cdz_model_kind cdz_accompaniment = {
    .name = "accompaniment",
    .description = "encoder-decoder Music Transformer: reads a melody, writes its accompaniment",
    .default_config = "acc_pop",
    .config_names = CONFIG_NAMES,
    .named_config = named_config,
    .from_config = from_config,
    .config_json = config_json,
    .init_params = init_params,
    .session_new = session_new,
    .session_free = session_free,
    .row_bytes = row_bytes,
    .default_window = default_window,
    .conditional = 1,
    .step = step,
    .loss = loss,
};

/* MelodyRNN (Magenta's melody_rnn): a stack of LSTM layers over melody events, the first optionally
 * wrapped in Magenta's attention cell wrapper, dropout on every layer's output (Magenta's
 * DropoutWrapper, output_keep_prob), and a softmax over the next event's label.
 *
 * Inputs per step, by the config's "input":
 *   one_hot     the token's one-hot vector (basic_rnn, codec "melody")
 *   lookback    cdz_lookback_inputs, 121 features (lookback_rnn, codec "lookback")
 *   key_melody  cdz_key_melody_inputs, 74 features (attention_rnn, codec "key_melody")
 *   embedding   a learned embedding of the token (the shape ../shared/bench/torch_reference.py uses)
 * Features come from the melody events decoded from the labels of the whole sequence so far, so a
 * training window that starts inside a sequence sees the same inputs as the full sequence would.
 *
 * Forward is a flat list of layer calls; backward is the same list reversed (STYLE.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cadenza/codec.h"
#include "cadenza/extract.h"
#include "cadenza/model_kind.h"
#include "cadenza/nn.h"

typedef enum { IN_ONE_HOT, IN_LOOKBACK, IN_KEY_MELODY, IN_EMBEDDING } input_kind;
static const char *const INPUT_NAMES[] = {"one_hot", "lookback", "key_melody", "embedding"};
enum { MAX_LAYERS = 8, ATTN_TENSORS = 11 };

/* The model's sizes and parameter offsets, fixed once built. */
typedef struct mrnn {
    input_kind input;
    int V, C, H, layers, L; /* vocabulary, layer-0 input size, width, depth, attention length (0: none) */
    int HV;                 /* tokens an input may be: V, or V and the meter tokens (lookback2, key_melody2) */
    float keep;             /* dropout keep probability in training */
    size_t off_embed, off_attn[ATTN_TENSORS], off_lstm[MAX_LAYERS][3], off_out_w, off_out_b;
} mrnn;

/* One session's scratch: the loss's activations for up to cap_T steps of cap_B rows (and their
 * slices), and step-wise generation's buffers for up to step_B rows. */
typedef struct mrnn_ws {
    int cap_T, cap_B;
    float *buf;
    uint8_t *masks;
    uint16_t *tokens, *targets;
    float *x, *out[MAX_LAYERS], *cst[MAX_LAYERS], *gates[MAX_LAYERS], *drop[MAX_LAYERS], *attn_acts, *logits, *probs;
    float *grad_a, *grad_b, *scratch, *dlogits;
    int step_B;
    float *step_buf;
} mrnn_ws;

/* ---- configs ---- */

static const char *const CONFIG_NAMES[] = {"basic_rnn", "lookback_rnn", "attention_rnn", "embedding_rnn", "tiny_attention",
                                           NULL};

static const char *named_config(const char *name) {
    /* Magenta's melody_rnn_model.py defaults: 2 x 128 LSTM, batch 128, learning rate 0.001, dropout
     * keep 0.5, gradient clip 5 (3 for attention_rnn, whose attention length is 40). */
    if (strcmp(name, "basic_rnn") == 0)
        return "{\"kind\":\"melody_rnn\",\"config_name\":\"basic_rnn\",\"codec\":\"melody\",\"input\":\"one_hot\","
               "\"layers\":2,\"hidden\":128,\"attn_length\":0,\"dropout_keep\":0.5,\"batch\":128,\"seq\":128,"
               "\"lr\":0.001,\"clip\":5,\"weight_decay\":0,\"warmup_steps\":0}";
    if (strcmp(name, "lookback_rnn") == 0)
        return "{\"kind\":\"melody_rnn\",\"config_name\":\"lookback_rnn\",\"codec\":\"lookback2\",\"input\":\"lookback\","
               "\"layers\":2,\"hidden\":128,\"attn_length\":0,\"dropout_keep\":0.5,\"batch\":128,\"seq\":128,"
               "\"lr\":0.001,\"clip\":5,\"weight_decay\":0,\"warmup_steps\":0}";
    if (strcmp(name, "attention_rnn") == 0)
        return "{\"kind\":\"melody_rnn\",\"config_name\":\"attention_rnn\",\"codec\":\"key_melody2\","
               "\"input\":\"key_melody\",\"layers\":2,\"hidden\":128,\"attn_length\":40,\"dropout_keep\":0.5,"
               "\"batch\":128,\"seq\":128,\"lr\":0.001,\"clip\":3,\"weight_decay\":0,\"warmup_steps\":0}";
    /* The benchmark shape of ../shared/docs/BENCHMARKS.md (melody_rnn): token embedding, 2 x 128 LSTM. */
    if (strcmp(name, "embedding_rnn") == 0)
        return "{\"kind\":\"melody_rnn\",\"config_name\":\"embedding_rnn\",\"codec\":\"melody\",\"input\":\"embedding\","
               "\"input_size\":128,\"layers\":2,\"hidden\":128,\"attn_length\":0,\"dropout_keep\":1,\"batch\":128,"
               "\"seq\":128,\"lr\":0.001,\"clip\":1,\"weight_decay\":0.01,\"warmup_steps\":0}";
    /* For tests: attention_rnn's structure at a size whose gradients can be checked numerically. */
    if (strcmp(name, "tiny_attention") == 0)
        return "{\"kind\":\"melody_rnn\",\"config_name\":\"tiny_attention\",\"codec\":\"key_melody2\","
               "\"input\":\"key_melody\",\"layers\":2,\"hidden\":6,\"attn_length\":3,\"dropout_keep\":1,"
               "\"batch\":4,\"seq\":12,\"lr\":0.01,\"clip\":3,\"weight_decay\":0,\"warmup_steps\":0}";
    return NULL;
}

/* Range-checked config fields (cdz_config_int / cdz_config_float name the kind in errors). */
static cdz_status get_int(const cdz_json *c, const char *key, int64_t dflt, int64_t lo, int64_t hi, int *out,
                          const char *what, cdz_error *err) {
    return cdz_config_int(c, key, dflt, lo, hi, out, "melody_rnn", what, err);
}

static cdz_status get_float(const cdz_json *c, const char *key, double dflt, double lo, double hi, float *out,
                            const char *what, cdz_error *err) {
    return cdz_config_float(c, key, dflt, lo, hi, out, "melody_rnn", what, err);
}

static cdz_status add(cdz_model *m, size_t *off, const char *name, int ndim, int64_t d0, int64_t d1, cdz_error *err) {
    int64_t shape[2] = {d0, d1};
    *off = m->n_params;
    return cdz_model_add_tensor(m, name, ndim, shape, err);
}

static cdz_status layout(cdz_model *m, mrnn *r, cdz_error *err) {
    const int H = r->H, C = r->C;
    cdz_status st = CDZ_OK;
    if (r->input == IN_EMBEDDING) st = add(m, &r->off_embed, "embedding.weight", 2, r->V, C, err);
    if (st == CDZ_OK && r->L) {
        static const char *const names[ATTN_TENSORS] = {"attn.input.weight", "attn.input.bias", "lstm.0.weight_ih",
                                                          "lstm.0.weight_hh",  "lstm.0.bias",     "attn.k",
                                                          "attn.query.weight", "attn.query.bias", "attn.v",
                                                          "attn.output.weight", "attn.output.bias"};
        const int64_t shapes[ATTN_TENSORS][3] = {{2, C, C + H}, {1, C, 0},     {2, 4 * H, C}, {2, 4 * H, H},
                                                 {1, 4 * H, 0}, {2, H, H},     {2, H, 2 * H}, {1, H, 0},
                                                 {1, H, 0},     {2, H, 2 * H}, {1, H, 0}};
        for (int i = 0; i < ATTN_TENSORS && st == CDZ_OK; i++)
            st = add(m, &r->off_attn[i], names[i], (int)shapes[i][0], shapes[i][1], shapes[i][2], err);
    }
    for (int l = r->L ? 1 : 0; l < r->layers && st == CDZ_OK; l++) {
        char name[48];
        snprintf(name, sizeof name, "lstm.%d.weight_ih", l);
        st = add(m, &r->off_lstm[l][0], name, 2, 4 * H, l ? H : C, err);
        snprintf(name, sizeof name, "lstm.%d.weight_hh", l);
        if (st == CDZ_OK) st = add(m, &r->off_lstm[l][1], name, 2, 4 * H, H, err);
        snprintf(name, sizeof name, "lstm.%d.bias", l);
        if (st == CDZ_OK) st = add(m, &r->off_lstm[l][2], name, 1, 4 * H, 0, err);
    }
    if (st == CDZ_OK) st = add(m, &r->off_out_w, "output.weight", 2, r->V, H, err);
    if (st == CDZ_OK) st = add(m, &r->off_out_b, "output.bias", 1, r->V, 0, err);
    return st;
}

static cdz_status from_config(cdz_model *m, const cdz_json *c, const char *what, cdz_error *err) {
    mrnn *r = cdz_calloc(1, sizeof *r);
    if (!r) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    m->impl = r;
    const char *codec = cdz_json_get_string(c, "codec", "key_melody");
    const cdz_codec *cd = cdz_codec_find(codec);
    if (!cd || cd->vocab_size > 4096)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: melody_rnn config: unknown or unsuitable codec '%s'", what, codec);
    snprintf(m->codec, sizeof m->codec, "%s", codec);
    const int meter = strcmp(codec, "lookback2") == 0 || strcmp(codec, "key_melody2") == 0;
    /* a meter codec's first token names the meter: read, never predicted */
    r->HV = (int)cd->vocab_size;
    r->V = meter ? CDZ_MELODY_LABELS : r->HV;
    m->vocab = (uint32_t)r->V;
    if (meter) m->history_vocab = (uint32_t)r->HV;
    const char *input = cdz_json_get_string(c, "input", "");
    int found = 0;
    for (int i = 0; i < 4; i++)
        if (strcmp(input, INPUT_NAMES[i]) == 0) r->input = (input_kind)i, found = 1;
    if (!found)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: melody_rnn config: input '%s' is not one_hot, lookback, key_melody or embedding",
                             what, input);
    /* Features that read melody events need the codec whose labels they decode. */
    if ((r->input == IN_LOOKBACK && strcmp(codec, "lookback") != 0 && strcmp(codec, "lookback2") != 0) ||
        (r->input == IN_KEY_MELODY && strcmp(codec, "key_melody") != 0 && strcmp(codec, "key_melody2") != 0) ||
        (r->input == IN_ONE_HOT && strcmp(codec, "melody") != 0))
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: melody_rnn config: input '%s' does not go with codec '%s'", what, input,
                             codec);
    int emb = 0;
    cdz_status st = get_int(c, "input_size", 128, 1, 4096, &emb, what, err);
    if (st == CDZ_OK) st = get_int(c, "layers", 2, 1, MAX_LAYERS, &r->layers, what, err);
    if (st == CDZ_OK) st = get_int(c, "hidden", 128, 1, 4096, &r->H, what, err);
    if (st == CDZ_OK) st = get_int(c, "attn_length", 0, 0, CDZ_ATTN_MAX_LENGTH, &r->L, what, err);
    if (st == CDZ_OK) st = get_float(c, "dropout_keep", 1, 0.01, 1, &r->keep, what, err);
    if (st == CDZ_OK)
        st = cdz_config_train(c, (cdz_train_defaults){128, 128, 1e-3f, 5, 0, 0, 0, 0, 0}, 1 << 20, "melody_rnn", what, m, err);
    if (st != CDZ_OK) return st;
    r->C = r->input == IN_ONE_HOT ? r->V
         : r->input == IN_LOOKBACK ? CDZ_LOOKBACK_INPUTS
         : r->input == IN_KEY_MELODY ? CDZ_KEY_MELODY_INPUTS
                                     : emb;
    /* a config may state the size the input gives (checkpoints do): it must be that size */
    if (r->input != IN_EMBEDDING && cdz_json_get(c, "input_size") && emb != r->C)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: melody_rnn config: input_size %d contradicts the %s input (%d values)",
                             what, emb, INPUT_NAMES[r->input], r->C);
    st = layout(m, r, err);
    if (st == CDZ_OK) st = cdz_model_alloc_params(m, err);
    return st;
}

static char *config_json(const cdz_model *m) {
    const mrnn *r = m->impl;
    char *s = cdz_malloc(1024);
    if (!s) return NULL;
    char name[160], train[256];
    cdz_json_quote(name, sizeof name, m->config_name);
    cdz_config_train_json(&m->train, train, sizeof train);
    snprintf(s, 1024,
             "{\"kind\":\"melody_rnn\",\"config_name\":%s,\"codec\":\"%s\",\"input\":\"%s\",\"input_size\":%d,"
             "\"layers\":%d,\"hidden\":%d,\"attn_length\":%d,\"dropout_keep\":%.9g,%s}",
             name, m->codec, INPUT_NAMES[r->input], r->C, r->layers, r->H, r->L, r->keep, train);
    return s;
}

/* Glorot (Xavier) uniform weights, TensorFlow's default and so Magenta's: +-sqrt(6 / (fan_in +
 * fan_out)), with an LSTM's input and recurrent matrices counted as the one kernel TensorFlow keeps
 * ([C + H, 4H]) and a vector's fans both its length. Biases zero except the LSTM forget gates at 1
 * (BasicLSTMCell's forget_bias); embeddings with unit variance. (PyTorch's smaller +-1/sqrt(fan_in)
 * shrinks the signal through each of attention_rnn's extra projections, and training stalls at the
 * unigram loss for hundreds of steps.) */
static void init_params(cdz_model *m, cdz_rng *rng) {
    const mrnn *r = m->impl;
    for (size_t i = 0; i < m->n_tensors; i++) {
        const cdz_tensor_info *t = &m->tensors[i];
        float *p = m->params + t->offset;
        int is_bias = strstr(t->name, "bias") != NULL;
        double fan_out = (double)t->shape[0], fan_in = t->ndim == 2 ? (double)t->shape[1] : (double)t->shape[0];
        if (strncmp(t->name, "lstm.", 5) == 0 && t->ndim == 2) {
            /* [C + H, 4H]: C is the input width of this layer */
            int layer = atoi(t->name + 5);
            fan_in = (double)((layer == 0 ? r->C : r->H) + r->H);
        }
        double bound = sqrt(6.0 / (fan_in + fan_out));
        if (strcmp(t->name, "embedding.weight") == 0) bound = sqrt(3.0);
        for (size_t k = 0; k < t->numel; k++) p[k] = is_bias ? 0.0f : (float)((2 * cdz_rng_uniform(rng) - 1) * bound);
        if (is_bias && strncmp(t->name, "lstm.", 5) == 0)
            for (int k = r->H; k < 2 * r->H; k++) p[k] = 1.0f;
    }
}

/* ---- activations ---- */

static size_t floats_for(const mrnn *r, int T, int B) {
    size_t n = (size_t)T * B, H = (size_t)r->H, C = (size_t)r->C, V = (size_t)r->V, wide = H > C ? H : C;
    size_t per_layer = 4 * H + 4 * H; /* out, c, drop + gates (4H) ... counted generously below */
    size_t total = n * C + n * per_layer * r->layers + 2 * n * V + 2 * n * wide + n * V;
    if (r->L) total += n * cdz_attn_lstm_act_floats(r->C, r->H, r->L);
    size_t lstm_scratch = n * 4 * H + 2 * (size_t)B * H;
    size_t attn_scratch = r->L ? cdz_attn_lstm_scratch_floats(T, B, r->C, r->H, r->L) : 0;
    return total + (lstm_scratch > attn_scratch ? lstm_scratch : attn_scratch);
}

static cdz_status reserve(const mrnn *r, mrnn_ws *ws, int T, int B, cdz_error *err) {
    if (T <= ws->cap_T && B <= ws->cap_B) return CDZ_OK;
    if (T < ws->cap_T) T = ws->cap_T;
    if (B < ws->cap_B) B = ws->cap_B;
    size_t n = (size_t)T * B, H = (size_t)r->H, C = (size_t)r->C, V = (size_t)r->V, wide = H > C ? H : C;
    float *buf = cdz_calloc(floats_for(r, T, B), sizeof *buf);
    uint8_t *masks = cdz_calloc(n * H * (size_t)r->layers, 1);
    uint16_t *tok = cdz_calloc(2 * n, sizeof *tok);
    if (!buf || !masks || !tok) {
        cdz_free(buf), cdz_free(masks), cdz_free(tok);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for activations of %d x %d steps", B, T);
    }
    cdz_free(ws->buf), cdz_free(ws->masks), cdz_free(ws->tokens);
    ws->buf = buf, ws->masks = masks, ws->tokens = tok, ws->targets = tok + n;
    ws->cap_T = T, ws->cap_B = B;
    float *q = buf;
    ws->x = q, q += n * C;
    for (int l = 0; l < r->layers; l++) {
        ws->out[l] = q, q += n * H;
        ws->cst[l] = q, q += n * H;
        ws->drop[l] = q, q += n * H;
        ws->gates[l] = q, q += n * 4 * H;
    }
    if (r->L) ws->attn_acts = q, q += n * cdz_attn_lstm_act_floats(r->C, r->H, r->L);
    ws->logits = q, q += n * V;
    ws->probs = q, q += n * V;
    ws->dlogits = q, q += n * V;
    ws->grad_a = q, q += n * wide;
    ws->grad_b = q, q += n * wide;
    ws->scratch = q;
    return CDZ_OK;
}

/* Pushes a label onto a melody feature state (lookback and key_melody inputs decode repeat labels
 * against the events before them). */
static void push_label(const mrnn *r, cdz_melody_state *st, uint16_t label) {
    if (r->input == IN_LOOKBACK) cdz_lookback_push(st, label);
    else cdz_key_melody_push(st, label);
}

/* Layer-0 inputs for the last position pushed onto st (the token `tok` is that position's), into x
 * (C floats); embedding inputs are looked up from the tokens afterwards. */
static void features(const mrnn *r, const cdz_melody_state *st, uint16_t tok, float *x) {
    switch (r->input) {
    case IN_ONE_HOT:
        memset(x, 0, (size_t)r->C * sizeof *x);
        x[tok] = 1;
        break;
    case IN_LOOKBACK: cdz_lookback_inputs_state(st, x); break;
    case IN_KEY_MELODY: cdz_key_melody_inputs_state(st, x); break;
    case IN_EMBEDDING: break;
    }
}

static int reads_events(const mrnn *r) { return r->input == IN_LOOKBACK || r->input == IN_KEY_MELODY; }

static cdz_attn_lstm_params attn_params(const mrnn *r, const float *base) {
    const size_t *o = r->off_attn;
    cdz_attn_lstm_params p = {base + o[0], base + o[1], base + o[2], base + o[3], base + o[4], base + o[5],
                              base + o[6], base + o[7], base + o[8], base + o[9], base + o[10]};
    return p;
}

static cdz_attn_lstm_grads attn_grads(const mrnn *r, float *g) {
    const size_t *o = r->off_attn;
    cdz_attn_lstm_grads d = {g + o[0], g + o[1], g + o[2], g + o[3], g + o[4], g + o[5],
                             g + o[6], g + o[7], g + o[8], g + o[9], g + o[10]};
    return d;
}

/* Fills the time-major inputs and targets of B windows; padding after a short window has zero
 * inputs and ignored targets. The features of a window that starts inside its sequence come from the
 * melody before it, pushed through the same one-step state generation uses. */
static cdz_status prepare(const cdz_model *m, mrnn_ws *ws, const cdz_window *w, int B, int T, int64_t *tokens,
                          cdz_error *err) {
    const mrnn *r = m->impl;
    const size_t C = (size_t)r->C;
    memset(ws->x, 0, (size_t)T * B * C * sizeof *ws->x);
    *tokens = 0;
    for (int b = 0; b < B; b++) {
        size_t end = (size_t)(w[b].start + w[b].n);
        for (size_t p = 0; p < end; p++)
            if (w[b].seq[p] >= (uint16_t)r->HV || (p > 0 && w[b].seq[p] >= (uint16_t)r->V))
                return cdz_error_set(err, CDZ_ERR_FORMAT, "token %u at position %zu is outside the model's vocabulary (%d, codec %s%s)",
                                     w[b].seq[p], p, r->V, m->codec, r->HV > r->V ? ", whose meter token comes first only" : "");
        cdz_melody_state st;
        cdz_melody_state_reset(&st);
        if (reads_events(r))
            for (int64_t p = 0; p < w[b].start; p++) push_label(r, &st, w[b].seq[p]);
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)t * B + b, pos = (size_t)w[b].start + (size_t)t;
            int live = t < w[b].n - 1;
            ws->tokens[i] = live ? w[b].seq[pos] : 0;
            ws->targets[i] = live ? w[b].seq[pos + 1] : CDZ_IGNORE_TARGET;
            if (!live) continue;
            ++*tokens;
            if (reads_events(r)) push_label(r, &st, w[b].seq[pos]);
            features(r, &st, w[b].seq[pos], ws->x + i * C);
        }
    }
    if (r->input == IN_EMBEDDING) m->backend->embedding_forward(ws->x, ws->tokens, m->params + r->off_embed, T * B, r->C);
    return CDZ_OK;
}

static cdz_status loss(const cdz_model *m, void *kws, const cdz_batch *batch, const cdz_loss_opts *opts, cdz_loss *out,
                       cdz_loss_stats *stats, cdz_error *err) {
    const mrnn *r = m->impl;
    mrnn_ws *ws = kws;
    const cdz_backend *nn = m->backend;
    const cdz_window *w = batch->windows;
    const int B = batch->B;
    if (batch->kind != CDZ_BATCH_TOKENS) return cdz_error_set(err, CDZ_ERR_ARG, "melody_rnn reads token windows");
    int T = 0;
    for (int b = 0; b < B; b++) {
        if (w[b].n < 2 || w[b].start < 0) return cdz_error_set(err, CDZ_ERR_ARG, "melody_rnn: a window needs 2 tokens");
        if (w[b].n - 1 > T) T = (int)(w[b].n - 1);
    }
    int64_t n_tokens = 0;
    cdz_status st = reserve(r, ws, T, B, err);
    if (st == CDZ_OK) st = prepare(m, ws, w, B, T, &n_tokens, err);
    if (st != CDZ_OK) return st;
    const int H = r->H, V = r->V, N = T * B;
    const size_t nh = (size_t)N * H;
    const float *P = m->params;
    const int train = opts->pass == CDZ_TRAIN;
    float keep = train ? r->keep : 1.0f;
    cdz_attn_lstm_acts acts = {0};
    if (r->L) cdz_attn_lstm_acts_slice(&acts, ws->attn_acts, T, B, r->C, H, r->L);
    /* forward: layer by layer over the whole window */
    const float *in = ws->x;
    for (int l = 0; l < r->layers; l++) {
        if (l == 0 && r->L) {
            cdz_attn_lstm_params p = attn_params(r, P);
            nn->attn_lstm_forward(ws->out[0], &acts, in, &p, T, B, r->C, H, r->L);
        } else {
            const size_t *o = r->off_lstm[l];
            nn->lstm_forward(ws->out[l], ws->cst[l], ws->gates[l], in, NULL, NULL, P + o[0], P + o[1], P + o[2], T, B,
                             l ? H : r->C, H);
        }
        if (keep < 1.0f) {
            /* site l: layer l's output, (T, B, H) */
            cdz_dropout_site site = cdz_loss_dropout_site(opts, batch, l, T, H, 1);
            nn->dropout_forward(ws->drop[l], ws->masks + (size_t)l * nh, ws->out[l], &site, keep);
            in = ws->drop[l];
        } else {
            in = ws->out[l];
        }
    }
    nn->linear_forward(ws->logits, in, P + r->off_out_w, P + r->off_out_b, N, H, V);
    float mean = nn->softmax_xent_forward(ws->probs, ws->logits, ws->targets, N, V);
    cdz_loss_set_nll(out, mean, n_tokens);
    if (stats) cdz_loss_stats_add(stats, ws->probs, ws->targets, N, V);
    if (!train) return CDZ_OK;
    /* backward: the same calls in reverse */
    float *G = opts->grads;
    nn->zero(ws->dlogits, (size_t)N * V * sizeof *ws->dlogits);
    nn->softmax_xent_backward(ws->dlogits, ws->probs, ws->targets, N, V);
    float *d_in = ws->grad_a, *d_out = ws->grad_b;
    nn->zero(d_in, nh * sizeof *d_in);
    nn->linear_backward(d_in, G + r->off_out_w, G + r->off_out_b, ws->dlogits, in, P + r->off_out_w, N, H, V);
    for (int l = r->layers - 1; l >= 0; l--) {
        /* d_in holds the gradient of this layer's (dropped) output */
        nn->zero(d_out, nh * sizeof *d_out);
        if (keep < 1.0f) nn->dropout_backward(d_out, d_in, ws->masks + (size_t)l * nh, nh, keep);
        else nn->copy(d_out, d_in, nh * sizeof *d_out);
        const float *layer_in = l == 0 ? ws->x : keep < 1.0f ? ws->drop[l - 1] : ws->out[l - 1];
        int C = l ? H : r->C;
        float *dx = l > 0 || r->input == IN_EMBEDDING ? d_in : NULL;
        if (dx) nn->zero(dx, (size_t)N * C * sizeof *dx);
        if (l == 0 && r->L) {
            cdz_attn_lstm_params p = attn_params(r, P);
            cdz_attn_lstm_grads g = attn_grads(r, G);
            nn->attn_lstm_backward(dx, &g, ws->scratch, d_out, ws->out[0], &acts, layer_in, &p, T, B, r->C, H, r->L);
        } else {
            const size_t *o = r->off_lstm[l];
            nn->lstm_backward(dx, NULL, NULL, G + o[0], G + o[1], G + o[2], ws->scratch, d_out, NULL, ws->out[l], ws->cst[l],
                              ws->gates[l], layer_in, NULL, NULL, P + o[0], P + o[1], T, B, C, H);
        }
    }
    if (r->input == IN_EMBEDDING) nn->embedding_backward(G + r->off_embed, d_in, ws->tokens, N, r->C);
    return CDZ_OK;
}

/* ---- step-wise generation ---- */

/* A row's state: h and c of every layer, then for an attention layer the last read d and the L slots
 * of outputs and of their features (floats); then the melody features' state, so that a step reads
 * only the newest label (the history is never decoded again). */
static size_t state_floats(const mrnn *r) {
    size_t n = 2 * (size_t)r->H * r->layers;
    if (r->L) n += (size_t)r->H + 2 * (size_t)r->L * r->H;
    return n;
}

/* Where a row's melody state starts: after the floats, at its own alignment (it holds an int64). */
static size_t melody_state_at(const mrnn *r) {
    const size_t a = _Alignof(cdz_melody_state), f = state_floats(r) * sizeof(float);
    return (f + a - 1) / a * a;
}

static size_t row_bytes(const cdz_model *m, int64_t window) {
    (void)window;
    return melody_state_at(m->impl) + sizeof(cdz_melody_state);
}

/* A recurrent state carries the whole history in a fixed size: no window to run out of. */
static int can_slide(const cdz_model *m) {
    (void)m;
    return 1;
}

static int64_t default_window(const cdz_model *m) {
    (void)m;
    return 0; /* a recurrent state: any length */
}

static void *session_new(const cdz_model *m, int rows, int64_t window, cdz_error *err) {
    (void)window;
    const mrnn *r = m->impl;
    mrnn_ws *ws = cdz_calloc(1, sizeof *ws);
    size_t H = (size_t)r->H, L = (size_t)r->L, C = (size_t)r->C;
    /* x (inputs, then each layer's output), h, c, d, o, gates, the slots, the attention step's scratch */
    size_t per_row = (C > H ? C : H) + 4 * H + 4 * H + 2 * L * H + (C + 6 * H + L);
    if (ws) ws->step_buf = cdz_calloc((size_t)rows * per_row, sizeof *ws->step_buf);
    if (!ws || !ws->step_buf) {
        cdz_free(ws);
        cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for a melody_rnn session of %d rows", rows);
        return NULL;
    }
    ws->step_B = rows;
    return ws;
}

static void session_free(void *kws) {
    mrnn_ws *ws = kws;
    cdz_free(ws->buf), cdz_free(ws->masks), cdz_free(ws->tokens), cdz_free(ws->step_buf);
    cdz_free(ws);
}

/* Copies a strided block (rows of n floats, `stride` bytes apart) into a packed one, or back. */
static void gather(float *dst, const uint8_t *src, int B, size_t n, size_t stride) {
    for (int b = 0; b < B; b++) memcpy(dst + (size_t)b * n, src + (size_t)b * stride, n * sizeof *dst);
}
static void scatter(uint8_t *dst, const float *src, int B, size_t n, size_t stride) {
    for (int b = 0; b < B; b++) memcpy(dst + (size_t)b * stride, src + (size_t)b * n, n * sizeof *src);
}

static cdz_status step(const cdz_model *m, void *kws, const cdz_step_rows *rows, float *logits, cdz_error *err) {
    const mrnn *r = m->impl;
    mrnn_ws *ws = kws;
    const cdz_backend *nn = m->backend;
    const int B = rows->B;
    const size_t H = (size_t)r->H, L = (size_t)r->L, C = (size_t)r->C, S = rows->stride, bh = (size_t)B * H;
    float *x = ws->step_buf, *h = x + (size_t)B * (C > H ? C : H), *c = h + bh, *d = c + bh, *o = d + bh, *gates = o + bh;
    float *so = gates + 4 * bh, *sh = so + bh * L, *scratch = sh + bh * L;
    const float *P = m->params;
    uint8_t *state = rows->state;
    const size_t melody_at = melody_state_at(r);
    for (int b = 0; b < B; b++) {
        uint16_t tok = rows->tokens[b];
        if (tok >= (uint16_t)r->HV)
            return cdz_error_set(err, CDZ_ERR_ARG, "token %u is outside the model's vocabulary (%d)", tok, r->HV);
    }
    for (int b = 0; b < B; b++) {
        uint16_t tok = rows->tokens[b];
        cdz_melody_state *st = (cdz_melody_state *)(state + (size_t)b * S + melody_at);
        if (reads_events(r)) push_label(r, st, tok);
        if (r->input == IN_EMBEDDING) nn->copy(x + b * C, P + r->off_embed + (size_t)tok * C, C * sizeof *x);
        else features(r, st, tok, x + b * C);
    }
    const float *in = x;
    for (int l = 0; l < r->layers; l++) {
        uint8_t *row_h = state + 2 * H * l * sizeof(float), *row_c = row_h + H * sizeof(float);
        gather(h, row_h, B, H, S);
        gather(c, row_c, B, H, S);
        if (l == 0 && r->L) {
            uint8_t *row_d = state + 2 * H * r->layers * sizeof(float), *row_so = row_d + H * sizeof(float);
            uint8_t *row_sh = row_so + L * H * sizeof(float);
            gather(d, row_d, B, H, S);
            gather(so, row_so, B, L * H, S);
            gather(sh, row_sh, B, L * H, S);
            cdz_attn_lstm_params p = attn_params(r, P);
            nn->attn_lstm_step(o, h, c, d, so, sh, scratch, in, &p, B, r->C, r->H, r->L);
            scatter(row_d, d, B, H, S);
            scatter(row_so, so, B, L * H, S);
            scatter(row_sh, sh, B, L * H, S);
            nn->copy(x, o, bh * sizeof *x); /* the next layer's input */
        } else {
            const size_t *off = r->off_lstm[l];
            nn->lstm_step(h, c, gates, in, P + off[0], P + off[1], P + off[2], B, l ? r->H : r->C, r->H);
            nn->copy(x, h, bh * sizeof *x);
        }
        scatter(row_h, h, B, H, S);
        scatter(row_c, c, B, H, S);
        in = x;
    }
    nn->linear_forward(logits, in, P + r->off_out_w, P + r->off_out_b, B, r->H, r->V);
    return CDZ_OK;
}

const cdz_model_kind cdz_melody_rnn = {
    .name = "melody_rnn",
    .description = "MelodyRNN (Magenta): LSTM over melody events, basic, lookback and attention configurations",
    .default_config = "attention_rnn",
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

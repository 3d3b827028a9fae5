/* What every model kind shares: the tensor table that slices the parameter and gradient buffers,
 * building from a named config or a config JSON (the one checkpoints carry), initialisation. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cadenza/model_kind.h"
#include "cadenza/nn.h"
#include "cadenza/train.h"

static const cdz_model_kind *const KINDS[] = {&cdz_melody_rnn, &cdz_music_transformer, &cdz_accompaniment, &cdz_music_vae, &cdz_audio_codec};

size_t cdz_model_kind_list(const cdz_model_kind *const **list) {
    *list = KINDS;
    return sizeof KINDS / sizeof *KINDS;
}

const cdz_model_kind *cdz_model_kind_find(const char *name) {
    for (size_t i = 0; i < sizeof KINDS / sizeof *KINDS; i++)
        if (strcmp(KINDS[i]->name, name) == 0) return KINDS[i];
    return NULL;
}

static cdz_status build(cdz_model **out, const cdz_model_kind *k, const cdz_json *config, const char *what,
                        size_t max_params, cdz_error *err) {
    cdz_model *m = cdz_calloc(1, sizeof *m);
    if (!m) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory building a %s model", k->name);
    m->kind = k;
    m->backend = cdz_backend_cpu();
    const char *name = cdz_json_get_string(config, "config_name", "custom");
    /* the name becomes file names (train's default NAME.safetensors, generate's outputs): no paths */
    if (!*name || strlen(name) >= sizeof m->config_name || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                                     "0123456789_-.") != strlen(name) ||
        name[0] == '.') {
        cdz_free(m);
        return cdz_error_set(err, CDZ_ERR_FORMAT,
                             "%s: config_name \"%s\": use letters, digits, '_', '-' and '.' (not first), at most %zu",
                             what, name, sizeof m->config_name - 1);
    }
    snprintf(m->config_name, sizeof m->config_name, "%s", name);
    m->max_params = max_params;
    cdz_status st = k->from_config(m, config, what, err);
    if (st != CDZ_OK && max_params && !m->params && m->n_params > max_params)
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: its %s config describes %zu parameters, more than the %zu values it holds",
                           what, k->name, m->n_params, max_params);
    m->max_params = 0;
    if (st != CDZ_OK) {
        cdz_model_free(m);
        m = NULL;
    }
    *out = m;
    return st;
}

cdz_status cdz_model_from_json(cdz_model **m, const char *json, size_t len, const char *what, cdz_error *err) {
    return cdz_model_from_json_bounded(m, json, len, what, 0, err);
}

cdz_status cdz_model_from_json_bounded(cdz_model **m, const char *json, size_t len, const char *what, size_t max_params,
                                       cdz_error *err) {
    *m = NULL;
    cdz_json *config = NULL;
    cdz_status st = cdz_json_parse(json, len, what, &config, err);
    if (st != CDZ_OK) return st;
    const char *kind = cdz_json_get_string(config, "kind", NULL);
    const cdz_model_kind *k = kind ? cdz_model_kind_find(kind) : NULL;
    if (config->type != CDZ_JSON_OBJECT || !k)
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: model config names no known model kind (\"kind\": %s%s%s)", what,
                           kind ? "\"" : "", kind ? kind : "missing", kind ? "\"" : "");
    else
        st = build(m, k, config, what, max_params, err);
    cdz_json_free(config);
    return st;
}

cdz_status cdz_model_create(cdz_model **m, const char *kind, const char *config, cdz_error *err) {
    *m = NULL;
    const cdz_model_kind *k = cdz_model_kind_find(kind);
    if (!k) {
        char names[256] = "";
        for (size_t i = 0; i < sizeof KINDS / sizeof *KINDS; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", KINDS[i]->name);
        return cdz_error_set(err, CDZ_ERR_ARG, "unknown model '%s' (known: %s)", kind, names);
    }
    if (!config) config = k->default_config;
    const char *text = k->named_config(config);
    if (!text) {
        char names[256] = "";
        for (const char *const *n = k->config_names; *n; n++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", n == k->config_names ? "" : ", ", *n);
        return cdz_error_set(err, CDZ_ERR_ARG, "unknown %s config '%s' (known: %s)", kind, config, names);
    }
    return cdz_model_from_json(m, text, strlen(text), config, err);
}

char *cdz_model_config_json(const cdz_model *m) { return m->kind->config_json(m); }

cdz_status cdz_model_add_tensor(cdz_model *m, const char *name, int ndim, const int64_t *shape, cdz_error *err) {
    cdz_tensor_info *grown = cdz_realloc(m->tensors, (m->n_tensors + 1) * sizeof *m->tensors); /* a few dozen */
    if (!grown) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory building the model");
    m->tensors = grown;
    cdz_tensor_info *t = &m->tensors[m->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i], t->numel *= (size_t)shape[i];
    t->offset = m->n_params;
    m->n_params += t->numel;
    return CDZ_OK;
}

cdz_status cdz_model_alloc_params(cdz_model *m, cdz_error *err) {
    if (m->max_params && m->n_params > m->max_params)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "the config describes %zu parameters, more than the %zu allowed", m->n_params,
                             m->max_params);
    m->params = cdz_calloc(m->n_params, sizeof *m->params);
    if (!m->params) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %zu parameters", m->n_params);
    return CDZ_OK;
}

void cdz_model_init_params(cdz_model *m, uint64_t seed) {
    cdz_rng rng;
    cdz_rng_seed(&rng, seed);
    m->kind->init_params(m, &rng);
}

float *cdz_model_grads(cdz_model *m) {
    if (!m->grads) m->grads = cdz_calloc(m->n_params, sizeof *m->grads);
    return m->grads;
}

void cdz_model_zero_grads(cdz_model *m) {
    if (m->grads) memset(m->grads, 0, m->n_params * sizeof *m->grads);
}

const char *cdz_kind_name(const cdz_model_kind *k) { return k->name; }
const char *cdz_kind_description(const cdz_model_kind *k) { return k->description; }
const char *cdz_kind_default_config(const cdz_model_kind *k) { return k->default_config; }
const char *const *cdz_kind_config_names(const cdz_model_kind *k) { return k->config_names; }
const char *cdz_kind_named_config(const cdz_model_kind *k, const char *name) { return k->named_config(name); }

const cdz_model_kind *cdz_model_kind_of(const cdz_model *m) { return m->kind; }
const char *cdz_model_kind_name(const cdz_model *m) { return m->kind->name; }
const char *cdz_model_config_name(const cdz_model *m) { return m->config_name; }
const char *cdz_model_codec(const cdz_model *m) { return m->codec; }
uint32_t cdz_model_vocab(const cdz_model *m) { return m->vocab; }
uint32_t cdz_model_history_vocab(const cdz_model *m) { return m->history_vocab ? m->history_vocab : m->vocab; }
int cdz_model_max_len(const cdz_model *m) { return m->max_len; }
uint32_t cdz_model_audio_rate(const cdz_model *m) { return m->audio_rate; }
size_t cdz_model_n_params(const cdz_model *m) { return m->n_params; }
float *cdz_model_params(cdz_model *m) { return m->params; }
const float *cdz_model_params_const(const cdz_model *m) { return m->params; }
size_t cdz_model_n_tensors(const cdz_model *m) { return m->n_tensors; }
const cdz_tensor_info *cdz_model_tensor_at(const cdz_model *m, size_t i) { return i < m->n_tensors ? &m->tensors[i] : NULL; }
cdz_train_defaults cdz_model_train_defaults(const cdz_model *m) { return m->train; }
const cdz_backend *cdz_model_backend(const cdz_model *m) { return m->backend; }
int cdz_model_latent_dim(const cdz_model *m) { return m->kind->latent_dim ? m->kind->latent_dim(m) : 0; }

cdz_status cdz_model_set_backend(cdz_model *m, const cdz_backend *be, cdz_error *err) {
    cdz_status st = cdz_backend_check(be, err);
    if (st != CDZ_OK) return st;
    if (!be->host_memory) {
        char missing[1024];
        cdz_backend_missing(be, missing, sizeof missing);
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED,
                             "%s models keep their parameters and activations in host memory so far; the %s backend works "
                             "on its own memory%s%s",
                             m->kind->name, be->name, missing[0] ? " and lacks " : "", missing);
    }
    char missing[1024];
    cdz_backend_missing(be, missing, sizeof missing);
    if (missing[0]) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "the %s backend lacks %s", be->name, missing);
    m->backend = be;
    return CDZ_OK;
}

void cdz_loss_set_nll(cdz_loss *out, float mean, int64_t tokens) {
    out->objective = mean;
    out->n_terms = 1;
    out->terms[0].name = "nll";
    out->terms[0].value = mean;
    out->tokens = tokens;
}

cdz_batch cdz_batch_tokens(const cdz_window *windows, int B) {
    cdz_batch b = {CDZ_BATCH_TOKENS, B, windows, 0};
    return b;
}

cdz_batch cdz_batch_audio(const cdz_window *windows, int B) {
    cdz_batch b = {CDZ_BATCH_AUDIO, B, windows, 0};
    return b;
}

/* "dropout" in ASCII: an index no other stream of a run's seed uses (cdz_rng_seed takes 0 .. 3). */
#define DROPOUT_STREAM 0x64726f706f7574ULL

cdz_dropout_site cdz_loss_dropout_site(const cdz_loss_opts *opts, const cdz_batch *batch, int site, int T, int C,
                                       int time_major) {
    cdz_dropout_site s;
    uint64_t step = cdz_random_at(cdz_random_at(opts->seed, DROPOUT_STREAM), (uint64_t)opts->step);
    s.key = cdz_random_at(step, (uint64_t)site);
    s.first = batch->offset;
    s.B = batch->B, s.T = T, s.C = C;
    s.time_major = time_major;
    return s;
}

const cdz_tensor_info *cdz_model_tensor(const cdz_model *m, const char *name) {
    for (size_t i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
    return NULL;
}

cdz_status cdz_config_int(const cdz_json *c, const char *key, int64_t dflt, int64_t lo, int64_t hi, int *out,
                          const char *kind, const char *what, cdz_error *err) {
    int64_t v;
    cdz_status st = cdz_json_get_int(c, key, dflt, &v, what, err);
    if (st != CDZ_OK) return st;
    if (v < lo || v > hi)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: %s config: %s = %lld is outside %lld..%lld", what, kind, key,
                             (long long)v, (long long)lo, (long long)hi);
    *out = (int)v;
    return CDZ_OK;
}

cdz_status cdz_config_float(const cdz_json *c, const char *key, double dflt, double lo, double hi, float *out,
                            const char *kind, const char *what, cdz_error *err) {
    double v;
    cdz_status st = cdz_json_get_number(c, key, dflt, &v, what, err);
    if (st != CDZ_OK) return st;
    if (!(v >= lo && v <= hi))
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: %s config: %s = %g is outside %g..%g", what, kind, key, v, lo, hi);
    *out = (float)v;
    return CDZ_OK;
}

cdz_status cdz_config_train(const cdz_json *c, cdz_train_defaults dflt, int max_seq, const char *kind, const char *what,
                            cdz_model *m, cdz_error *err) {
    cdz_train_defaults *t = &m->train;
    cdz_status st = cdz_config_int(c, "batch", dflt.batch, 1, 1 << 16, &t->batch, kind, what, err);
    if (st == CDZ_OK) st = cdz_config_int(c, "seq", dflt.seq, 1, max_seq, &t->seq, kind, what, err);
    if (st == CDZ_OK) st = cdz_config_float(c, "lr", dflt.lr, 0, 10, &t->lr, kind, what, err);
    if (st == CDZ_OK) st = cdz_config_float(c, "clip", dflt.clip, 0, 1e9, &t->clip, kind, what, err);
    if (st == CDZ_OK) st = cdz_config_float(c, "weight_decay", dflt.weight_decay, 0, 10, &t->weight_decay, kind, what, err);
    if (st == CDZ_OK) st = cdz_config_int(c, "warmup_steps", dflt.warmup_steps, 0, 1 << 30, &t->warmup_steps, kind, what, err);
    t->decay = dflt.decay, t->decay_rate = dflt.decay_rate, t->min_lr_ratio = dflt.min_lr_ratio;
    const char *decay = cdz_json_get_string(c, "decay", NULL);
    if (st == CDZ_OK && decay) {
        cdz_lr_decay d;
        if (cdz_lr_decay_parse(decay, &d) != CDZ_OK)
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: %s config: decay '%s' is not none, cosine, exponential or exponential_floor",
                                 what, kind, decay);
        t->decay = (int)d;
    }
    if (st == CDZ_OK) st = cdz_config_float(c, "decay_rate", dflt.decay_rate, 0, 1, &t->decay_rate, kind, what, err);
    if (st == CDZ_OK) st = cdz_config_float(c, "min_lr_ratio", dflt.min_lr_ratio, 0, 1, &t->min_lr_ratio, kind, what, err);
    return st;
}

void cdz_config_train_json(const cdz_train_defaults *t, char *buf, size_t n) {
    int k = snprintf(buf, n, "\"batch\":%d,\"seq\":%d,\"lr\":%.9g,\"clip\":%.9g,\"weight_decay\":%.9g,\"warmup_steps\":%d",
                     t->batch, t->seq, t->lr, t->clip, t->weight_decay, t->warmup_steps);
    /* a schedule only when the config has one, so configs without stay as they were */
    if (t->decay && k >= 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, ",\"decay\":\"%s\",\"decay_rate\":%.9g,\"min_lr_ratio\":%.9g",
                 cdz_lr_decay_name((cdz_lr_decay)t->decay), t->decay_rate, t->min_lr_ratio);
}

void cdz_init_gpt2(cdz_model *m, cdz_rng *rng, double (*residual_scale)(const cdz_model *m, const char *name)) {
    for (size_t i = 0; i < m->n_tensors; i++) {
        const cdz_tensor_info *ti = &m->tensors[i];
        float *p = m->params + ti->offset;
        const char *n = ti->name;
        size_t len = strlen(n);
        int is_ln = strstr(n, "ln") != NULL, is_bias = len > 5 && strcmp(n + len - 5, ".bias") == 0;
        if (is_bias) {
            memset(p, 0, ti->numel * sizeof *p);
        } else if (is_ln) {
            for (size_t k = 0; k < ti->numel; k++) p[k] = 1.0f;
        } else {
            double std = 0.02 * residual_scale(m, n);
            for (size_t k = 0; k < ti->numel; k++) p[k] = (float)(std * cdz_rng_normal(rng));
        }
    }
}

void cdz_loss_stats_add(cdz_loss_stats *st, const float *probs, const uint16_t *targets, int N, int V) {
    for (int i = 0; i < N; i++) {
        if (targets[i] == CDZ_IGNORE_TARGET) continue;
        const float *p = probs + (size_t)i * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (p[v] > p[best]) best = v;
        st->correct += best == targets[i];
        st->tokens++;
        float pt = p[targets[i]]; /* a NaN stays NaN: callers must see it */
        st->loss_sum -= log(pt > 1e-30f || isnan(pt) ? pt : 1e-30f);
    }
}

void cdz_model_free(cdz_model *m) {
    if (!m) return;
    if (m->kind && m->kind->free_impl) m->kind->free_impl(m);
    else cdz_free(m->impl); /* a kind's impl is one block unless it says otherwise */
    cdz_free(m->params);
    cdz_free(m->grads);
    cdz_free(m->tensors);
    cdz_free(m);
}

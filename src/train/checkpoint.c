/* Checkpoints: a model's parameters, and for resuming its AdamW moments, step, random state and
 * training config, in one safetensors file (docs/checkpoints.md lists the names and keys). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cadenza/model_kind.h"
#include "cadenza/safetensors.h"
#include "cadenza/train.h"

#define FORMAT_KEY "format"
#define FORMAT_VALUE "cadenza checkpoint 1"
#define OPT_M "optimizer.exp_avg."
#define OPT_V "optimizer.exp_avg_sq."

static char *train_config_json(const cdz_train_config *c) {
    char *s = cdz_malloc(768);
    if (!s) return NULL;
    snprintf(s, 768,
             "{\"batch\":%d,\"seq\":%d,\"steps\":%lld,\"lr\":%.9g,\"clip\":%.9g,\"weight_decay\":%.9g,\"beta1\":%.9g,"
             "\"beta2\":%.9g,\"eps\":%.9g,\"warmup_steps\":%d,\"decay\":\"%s\",\"min_lr_ratio\":%.9g,\"decay_rate\":%.9g,"
             "\"decay_steps\":%d,\"seed\":%" PRIu64 ",\"whole_sequences\":%d,\"transpose_min\":%d,\"transpose_max\":%d}",
             c->batch, c->seq, (long long)c->steps, c->lr, c->clip, c->weight_decay, c->beta1, c->beta2, c->eps,
             c->warmup_steps, cdz_lr_decay_name(c->decay), c->min_lr_ratio, c->decay_rate, c->decay_steps, c->seed,
             c->whole_sequences, c->transpose_min, c->transpose_max);
    return s;
}

cdz_status cdz_checkpoint_save(const char *path, const cdz_model *m, const cdz_trainer *t, const char *const *extra,
                               size_t n_extra, cdz_error *err) {
    size_t nt = m->n_tensors * (t ? 3 : 1);
    cdz_st_tensor *tensors = cdz_calloc(nt, sizeof *tensors);
    char *names = cdz_calloc(nt, 80);
    const char **meta = cdz_calloc(2 * (5 + n_extra), sizeof *meta);
    char *config = cdz_model_config_json(m), *train = t ? train_config_json(&t->cfg) : NULL;
    cdz_status st = CDZ_OK;
    if (!tensors || !names || !meta || !config || (t && !train)) {
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory writing %s", path);
        goto out;
    }
    for (size_t k = 0; k < nt; k++) {
        size_t i = k % m->n_tensors, part = k / m->n_tensors;
        const cdz_tensor_info *ti = &m->tensors[i];
        char *name = names + k * 80;
        snprintf(name, 80, "%s%s", part == 0 ? "" : part == 1 ? OPT_M : OPT_V, ti->name);
        const float *base = part == 0 ? m->params : part == 1 ? t->m : t->v;
        tensors[k].name = name;
        tensors[k].ndim = ti->ndim;
        memcpy(tensors[k].shape, ti->shape, sizeof ti->shape);
        tensors[k].data = base + ti->offset;
    }
    size_t nm = 0;
    char step[32], rng[96];
    meta[nm++] = FORMAT_KEY, meta[nm++] = FORMAT_VALUE;
    meta[nm++] = "model", meta[nm++] = config;
    if (t) {
        snprintf(step, sizeof step, "%lld", (long long)t->step);
        snprintf(rng, sizeof rng, "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64, t->rng.s[0], t->rng.s[1],
                 t->rng.s[2], t->rng.s[3]);
        meta[nm++] = "step", meta[nm++] = step;
        meta[nm++] = "rng", meta[nm++] = rng;
        meta[nm++] = "train", meta[nm++] = train;
    }
    for (size_t i = 0; i < n_extra; i++) meta[nm++] = extra[2 * i], meta[nm++] = extra[2 * i + 1];
    st = cdz_safetensors_write(path, tensors, nt, meta, nm / 2, err);
out:
    cdz_free(tensors), cdz_free(names), cdz_free(meta), cdz_free(config), cdz_free(train);
    return st;
}

/* Opens a checkpoint and checks it is one of cadenza's. */
static cdz_status open_checkpoint(cdz_safetensors *f, const char *path, cdz_error *err) {
    cdz_status st = cdz_safetensors_read(f, path, err);
    if (st != CDZ_OK) return st;
    const char *format = cdz_safetensors_meta(f, FORMAT_KEY);
    if (!format || strcmp(format, FORMAT_VALUE) != 0 || !cdz_safetensors_meta(f, "model")) {
        cdz_safetensors_free(f);
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: a safetensors file, but not a cadenza checkpoint (%s)", path,
                             format ? "unknown format version" : "no cadenza metadata");
    }
    return CDZ_OK;
}

/* A tensor that holds NaN or an infinity: its first such element, or -1. */
static int64_t first_non_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (int64_t)i;
    return -1;
}

/* Copies the tensors named prefix + each model tensor's name into base, checking shapes. */
static cdz_status copy_tensors(const cdz_safetensors *f, const cdz_model *m, const char *prefix, float *base,
                               const char *path, cdz_error *err) {
    for (size_t i = 0; i < m->n_tensors; i++) {
        const cdz_tensor_info *ti = &m->tensors[i];
        char name[96];
        snprintf(name, sizeof name, "%s%s", prefix, ti->name);
        const cdz_st_tensor *t = cdz_safetensors_find(f, name);
        if (!t) return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensor '%s' is missing", path, name);
        int same = t->ndim == ti->ndim;
        for (int d = 0; same && d < ti->ndim; d++) same = t->shape[d] == ti->shape[d];
        if (!same) return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensor '%s' has another shape than its config gives", path, name);
        memcpy(base + ti->offset, t->data, ti->numel * sizeof *base);
        /* a NaN or infinite weight poisons every output (and NaN logits index nothing): refused */
        int64_t bad = first_non_finite(base + ti->offset, ti->numel);
        if (bad >= 0)
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensor '%s' holds %s at element %lld of %zu: the checkpoint is "
                                 "damaged (retrain, or resume from an earlier checkpoint)",
                                 path, name, isnan(base[ti->offset + (size_t)bad]) ? "NaN" : "an infinity", (long long)bad,
                                 ti->numel);
    }
    return CDZ_OK;
}

cdz_status cdz_checkpoint_load(const char *path, cdz_model **out, cdz_error *err) {
    *out = NULL;
    cdz_model *m = NULL;
    cdz_safetensors f;
    cdz_status st = open_checkpoint(&f, path, err);
    if (st != CDZ_OK) return st;
    const char *config = cdz_safetensors_meta(&f, "model");
    /* the file holds every parameter of its model: a config that describes more is refused before the
     * model is allocated (the file's values are at most its size / 4, so the sum cannot overflow) */
    size_t held = 0;
    for (size_t i = 0; i < f.n; i++) held += (size_t)cdz_st_numel(&f.tensors[i]);
    if (held == 0)
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: a cadenza checkpoint without tensors", path);
    else
        st = cdz_model_from_json_bounded(&m, config, strlen(config), path, held, err);
    if (st == CDZ_OK) st = copy_tensors(&f, m, "", m->params, path, err);
    /* every tensor must be the model's or its optimiser's: anything else means a mismatched file */
    for (size_t i = 0; st == CDZ_OK && i < f.n; i++) {
        const char *name = f.tensors[i].name;
        if (strncmp(name, OPT_M, strlen(OPT_M)) == 0) name += strlen(OPT_M);
        else if (strncmp(name, OPT_V, strlen(OPT_V)) == 0) name += strlen(OPT_V);
        if (!cdz_model_tensor(m, name))
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: tensor '%s' is not part of a %s model", path, f.tensors[i].name,
                               m->kind->name);
    }
    if (st != CDZ_OK) cdz_model_free(m);
    else *out = m;
    cdz_safetensors_free(&f);
    return st;
}

static cdz_status parse_train(const char *text, cdz_train_config *c, const char *path, cdz_error *err) {
    cdz_json *j = NULL;
    cdz_status st = cdz_json_parse(text, strlen(text), path, &j, err);
    if (st != CDZ_OK) return st;
    int64_t v[10];
    double f[9];
    const char *ik[10] = {"batch", "seq", "steps", "warmup_steps", "decay_steps", "seed", "whole_sequences", "transpose_min",
                          "transpose_max", NULL};
    const char *fk[9] = {"lr", "clip", "weight_decay", "beta1", "beta2", "eps", "min_lr_ratio", "decay_rate", NULL};
    for (int i = 0; ik[i] && st == CDZ_OK; i++) st = cdz_json_get_int(j, ik[i], i >= 6 ? 0 : -1, &v[i], path, err);
    for (int i = 0; fk[i] && st == CDZ_OK; i++) st = cdz_json_get_number(j, fk[i], -1, &f[i], path, err);
    if (st == CDZ_OK && (v[0] < 1 || v[1] < 1 || v[2] < 0 || v[0] > 1 << 20 || v[1] > 1 << 24 || v[3] < 0 || v[4] < 0 ||
                         v[3] > 1 << 30 || v[4] > 1 << 30 || v[5] < 0 || v[6] < 0 || v[6] > 1 || v[7] < -127 ||
                         v[8] > 127 || v[7] > v[8]))
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: training config out of range", path);
    if (st == CDZ_OK && cdz_lr_decay_parse(cdz_json_get_string(j, "decay", "none"), &c->decay) != CDZ_OK)
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: training config: unknown learning-rate decay", path);
    if (st == CDZ_OK) {
        c->batch = (int)v[0], c->seq = (int)v[1], c->steps = v[2], c->warmup_steps = (int)v[3];
        c->decay_steps = (int)v[4], c->seed = (uint64_t)v[5];
        c->whole_sequences = (int)v[6], c->transpose_min = (int)v[7], c->transpose_max = (int)v[8];
        c->lr = (float)f[0], c->clip = (float)f[1], c->weight_decay = (float)f[2], c->beta1 = (float)f[3];
        c->beta2 = (float)f[4], c->eps = (float)f[5], c->min_lr_ratio = (float)f[6], c->decay_rate = (float)f[7];
    }
    cdz_json_free(j);
    return st;
}

cdz_status cdz_checkpoint_load_trainer(const char *path, cdz_trainer *t, cdz_error *err) {
    cdz_safetensors f;
    cdz_status st = open_checkpoint(&f, path, err);
    if (st != CDZ_OK) return st;
    const char *step = cdz_safetensors_meta(&f, "step"), *rng = cdz_safetensors_meta(&f, "rng");
    const char *train = cdz_safetensors_meta(&f, "train");
    long long s = -1;
    cdz_rng r;
    if (!step || !rng || !train)
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: holds weights only (no optimiser state): it can generate, but a run "
                           "cannot resume from it", path);
    else if (sscanf(step, "%lld", &s) != 1 || s < 0 ||
             sscanf(rng, "%" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64, &r.s[0], &r.s[1], &r.s[2], &r.s[3]) != 4)
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: unreadable step or random state", path);
    cdz_train_config c = t->cfg;
    if (st == CDZ_OK) st = parse_train(train, &c, path, err);
    if (st == CDZ_OK && (c.batch != t->cfg.batch || c.seq != t->cfg.seq || c.whole_sequences != t->cfg.whole_sequences ||
                         c.transpose_min != t->cfg.transpose_min || c.transpose_max != t->cfg.transpose_max))
        st = cdz_error_set(err, CDZ_ERR_ARG, "%s: the run drew batches of %d x %d tokens%s; set the trainer up with the "
                           "checkpoint's settings (cdz_checkpoint_train_config)", path, c.batch, c.seq,
                           c.transpose_min || c.transpose_max ? " with transposition" : "");
    if (st == CDZ_OK) st = copy_tensors(&f, t->model, "", t->model->params, path, err);
    if (st == CDZ_OK) st = copy_tensors(&f, t->model, OPT_M, t->m, path, err);
    if (st == CDZ_OK) st = copy_tensors(&f, t->model, OPT_V, t->v, path, err);
    if (st == CDZ_OK) {
        t->step = s;
        t->rng = r;
        t->cfg = c;
    }
    cdz_safetensors_free(&f);
    return st;
}

cdz_status cdz_checkpoint_train_config(const char *path, cdz_train_config *c, cdz_error *err) {
    cdz_safetensors f;
    cdz_status st = open_checkpoint(&f, path, err);
    if (st != CDZ_OK) return st;
    const char *train = cdz_safetensors_meta(&f, "train");
    if (!train)
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: holds weights only (no optimiser state): it can generate, but a run "
                           "cannot resume from it", path);
    else
        st = parse_train(train, c, path, err);
    cdz_safetensors_free(&f);
    return st;
}

char *cdz_checkpoint_meta(const char *path, const char *key, cdz_error *err) {
    cdz_safetensors f;
    if (open_checkpoint(&f, path, err) != CDZ_OK) return NULL;
    const char *v = cdz_safetensors_meta(&f, key);
    char *copy = NULL;
    if (v && (copy = cdz_malloc(strlen(v) + 1))) memcpy(copy, v, strlen(v) + 1);
    cdz_safetensors_free(&f);
    return copy;
}

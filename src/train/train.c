/* The training loop: window sampling, the learning-rate schedule, one optimiser step, evaluation.
 * See cadenza/train.h for what a step does. */
#include <math.h>
#include <string.h>

#include "cadenza/model_kind.h"
#include "cadenza/train.h"

cdz_train_config cdz_train_config_for(const cdz_model *m) {
    cdz_train_config c;
    memset(&c, 0, sizeof c);
    c.batch = m->train.batch;
    c.seq = m->train.seq;
    c.steps = 1000;
    c.lr = m->train.lr;
    c.clip = m->train.clip;
    c.weight_decay = m->train.weight_decay;
    c.beta1 = 0.9f, c.beta2 = 0.999f, c.eps = 1e-8f;
    c.warmup_steps = m->train.warmup_steps;
    c.decay = CDZ_DECAY_NONE;
    c.min_lr_ratio = 0.1f;
    c.decay_rate = 0.95f;
    c.decay_steps = 1000;
    c.seed = 1;
    if (m->train.decay != CDZ_DECAY_NONE) { /* the config's own schedule (MusicVAE's) */
        c.decay = (cdz_lr_decay)m->train.decay;
        c.decay_rate = m->train.decay_rate;
        c.decay_steps = 1;
        c.min_lr_ratio = m->train.min_lr_ratio;
    }
    return c;
}

float cdz_train_lr(const cdz_train_config *c, int64_t step) {
    if (c->warmup_steps > 0 && step < c->warmup_steps) return c->lr * (float)(step + 1) / (float)c->warmup_steps;
    int64_t after = step - c->warmup_steps;
    switch (c->decay) {
    case CDZ_DECAY_COSINE: {
        int64_t span = c->steps - c->warmup_steps;
        double frac = span > 0 ? (double)after / (double)span : 1.0;
        if (frac > 1) frac = 1;
        double ratio = c->min_lr_ratio + (1 - c->min_lr_ratio) * 0.5 * (1 + cos(3.14159265358979323846 * frac));
        return (float)(c->lr * ratio);
    }
    case CDZ_DECAY_EXPONENTIAL: /* tf.train.exponential_decay(staircase=True), as Magenta's events_rnn_graph */
        return (float)(c->lr * pow(c->decay_rate, (double)(after / (c->decay_steps > 0 ? c->decay_steps : 1))));
    case CDZ_DECAY_EXPONENTIAL_FLOOR: /* MusicVAE: (lr - min) * rate^step + min */
        return (float)(c->lr * ((1 - c->min_lr_ratio) * pow(c->decay_rate, (double)after / (c->decay_steps > 0 ? c->decay_steps : 1)) +
                                c->min_lr_ratio));
    case CDZ_DECAY_NONE: break;
    }
    return c->lr;
}

const char *cdz_lr_decay_name(cdz_lr_decay d) {
    return d == CDZ_DECAY_COSINE ? "cosine" : d == CDZ_DECAY_EXPONENTIAL ? "exponential"
         : d == CDZ_DECAY_EXPONENTIAL_FLOOR ? "exponential_floor" : "none";
}

cdz_status cdz_lr_decay_parse(const char *s, cdz_lr_decay *d) {
    if (strcmp(s, "none") == 0) *d = CDZ_DECAY_NONE;
    else if (strcmp(s, "cosine") == 0) *d = CDZ_DECAY_COSINE;
    else if (strcmp(s, "exponential") == 0) *d = CDZ_DECAY_EXPONENTIAL;
    else if (strcmp(s, "exponential_floor") == 0) *d = CDZ_DECAY_EXPONENTIAL_FLOOR;
    else return CDZ_ERR_ARG;
    return CDZ_OK;
}

/* ---- windows ---- */

cdz_status cdz_window_sampler_init(cdz_window_sampler *s, const cdz_dataset *ds, cdz_split split, int seq, cdz_error *err) {
    memset(s, 0, sizeof *s);
    const int audio = ds->dtype == CDZ_DTYPE_AUDIO;
    if (!ds->tokens && !audio)
        return cdz_error_set(err, CDZ_ERR_ARG, "training windows are of tokens or audio; the dataset holds %s",
                             cdz_dtype_name(ds->dtype));
    s->ds = ds;
    s->seq = seq;
    s->seqs = cdz_calloc(ds->n_seqs + 1, sizeof *s->seqs);
    s->cum = cdz_calloc(ds->n_seqs + 1, sizeof *s->cum);
    if (!s->seqs || !s->cum) {
        cdz_window_sampler_free(s);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory preparing training windows");
    }
    for (uint64_t i = 0; i < ds->n_seqs; i++) {
        uint64_t len = cdz_dataset_seq_len(ds, i);
        if ((split != CDZ_SPLIT_ALL && ds->splits[i] != split) || len < 2) continue;
        if (audio && len < (uint64_t)seq) continue; /* audio windows are whole: seq samples each */
        /* start positions 0 .. len - seq - 1 for a full window; one whole-sequence window if shorter
         * (audio: 0 .. len - seq) */
        s->n_windows += audio ? len - (uint64_t)seq + 1 : len > (uint64_t)seq + 1 ? len - (uint64_t)seq : 1;
        s->seqs[s->n_seqs] = i;
        s->cum[s->n_seqs++] = s->n_windows;
    }
    if (!s->n_windows) {
        cdz_window_sampler_free(s);
        return audio ? cdz_error_set(err, CDZ_ERR_ARG, "the dataset has no %s clip of %d samples or more", cdz_split_name(split), seq)
                     : cdz_error_set(err, CDZ_ERR_ARG, "the dataset has no %s sequence of 2 tokens or more", cdz_split_name(split));
    }
    return CDZ_OK;
}

void cdz_window_sampler_draw(const cdz_window_sampler *s, cdz_rng *rng, cdz_window *out, int B) {
    for (int b = 0; b < B; b++) {
        uint64_t w = cdz_rng_below(rng, s->n_windows), lo = 0, hi = s->n_seqs - 1;
        while (lo < hi) { /* the first sequence whose cumulative count exceeds w */
            uint64_t mid = lo + (hi - lo) / 2;
            if (s->cum[mid] > w) hi = mid;
            else lo = mid + 1;
        }
        uint64_t i = s->seqs[lo], len = cdz_dataset_seq_len(s->ds, i), start = w - (lo ? s->cum[lo - 1] : 0);
        if (s->ds->dtype == CDZ_DTYPE_AUDIO) {
            out[b] = (cdz_window){.audio = (const int16_t *)s->ds->data + s->ds->offsets[i], .start = (int64_t)start, .n = s->seq};
            continue;
        }
        out[b].seq = s->ds->tokens + s->ds->offsets[i];
        out[b].start = (int64_t)start;
        out[b].n = (int64_t)(len - start < (uint64_t)s->seq + 1 ? len - start : (uint64_t)s->seq + 1);
    }
}

void cdz_window_sampler_draw_whole(const cdz_window_sampler *s, cdz_rng *rng, cdz_window *out, int B) {
    for (int b = 0; b < B; b++) {
        uint64_t i = s->seqs[cdz_rng_below(rng, s->n_seqs)], len = cdz_dataset_seq_len(s->ds, i);
        if (s->ds->dtype == CDZ_DTYPE_AUDIO) { /* every clip holds seq samples at least (init) */
            out[b] = (cdz_window){.audio = (const int16_t *)s->ds->data + s->ds->offsets[i], .start = 0, .n = s->seq};
            continue;
        }
        out[b].seq = s->ds->tokens + s->ds->offsets[i];
        out[b].start = 0;
        out[b].n = (int64_t)(len < (uint64_t)s->seq + 1 ? len : (uint64_t)s->seq + 1);
    }
}

void cdz_window_sampler_free(cdz_window_sampler *s) {
    cdz_free(s->seqs);
    cdz_free(s->cum);
    memset(s, 0, sizeof *s);
}

/* ---- the trainer ---- */

/* A dataset a model can read: its codec, and its tokens (those the model predicts, or more when the
 * model's history holds more, as the accompaniment model's separator). */
/* The model reads the dataset's tokens: CDZ_OK, else CDZ_ERR_UNSUPPORTED saying which codec to build
 * with (a mismatch of files, not of flags: the commands exit 1 for it, as for any unsuitable file). */
static cdz_status check_dataset_fits(const cdz_dataset *ds, const cdz_model *m, cdz_error *err) {
    if (m->audio_rate || ds->dtype == CDZ_DTYPE_AUDIO) {
        if (m->audio_rate && ds->dtype == CDZ_DTYPE_AUDIO && ds->width == m->audio_rate) return CDZ_OK;
        if (!m->audio_rate)
            return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "the dataset holds audio; the %s model reads '%s' tokens",
                                 m->kind->name, m->codec);
        if (ds->dtype != CDZ_DTYPE_AUDIO)
            return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "the %s model reads audio at %u Hz; the dataset holds %s: build "
                                 "one with 'cadenza dataset build --audio --sample-rate %u'", m->kind->name, m->audio_rate,
                                 cdz_dtype_name(ds->dtype), m->audio_rate);
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "the dataset's audio is at %u Hz; the model reads %u Hz: build it with "
                             "--sample-rate %u", ds->width, m->audio_rate, m->audio_rate);
    }
    if (ds->tokens && strcmp(ds->codec, m->codec) == 0 && (ds->vocab_size == m->vocab || ds->vocab_size == m->history_vocab))
        return CDZ_OK;
    return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "the dataset holds '%s' tokens (vocabulary %u) but the model reads "
                         "'%s' (%u): build the dataset with --codec %s", ds->codec, ds->vocab_size, m->codec,
                         m->history_vocab ? m->history_vocab : m->vocab, m->codec);
}

cdz_status cdz_trainer_init(cdz_trainer *t, cdz_model *m, const cdz_dataset *ds, const cdz_train_config *cfg,
                            cdz_error *err) {
    memset(t, 0, sizeof *t);
    t->model = m;
    t->cfg = *cfg;
    if (cfg->batch < 1 || cfg->seq < 1 || cfg->steps < 0 || !(cfg->lr >= 0) || !(cfg->clip >= 0))
        return cdz_error_set(err, CDZ_ERR_ARG, "training: batch %d, seq %d, steps %lld, lr %g, clip %g: each must be positive",
                             cfg->batch, cfg->seq, (long long)cfg->steps, cfg->lr, cfg->clip);
    if (m->max_len > 0 && cfg->seq > m->max_len)
        return cdz_error_set(err, CDZ_ERR_ARG, "training windows of %d tokens are longer than the model's max_len (%d)",
                             cfg->seq, m->max_len);
    cdz_status st = check_dataset_fits(ds, m, err);
    if (st != CDZ_OK) return st;
    if (m->audio_rate && (cfg->whole_sequences || cfg->transpose_min || cfg->transpose_max))
        return cdz_error_set(err, CDZ_ERR_ARG, "audio windows are drawn at random positions, untransposed: whole sequences and "
                             "transposition are for token models");
    st = cdz_window_sampler_init(&t->sampler, ds, CDZ_SPLIT_TRAIN, cfg->seq, err);
    if (st != CDZ_OK) return st;
    st = cdz_session_new(&t->session, m, 1, 0, err);
    if (st != CDZ_OK) {
        cdz_trainer_free(t);
        return st;
    }
    t->m = cdz_calloc(m->n_params, sizeof *t->m);
    t->v = cdz_calloc(m->n_params, sizeof *t->v);
    t->windows = cdz_calloc((size_t)cfg->batch, sizeof *t->windows);
    if (!t->m || !t->v || !t->windows || !cdz_model_grads(m)) {
        cdz_trainer_free(t);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for the optimiser state");
    }
    if (cfg->transpose_min || cfg->transpose_max) {
        const cdz_codec *c = cdz_codec_find(ds->codec);
        uint16_t probe = 0;
        if (cfg->transpose_min > cfg->transpose_max || !c || cdz_codec_transpose(c, &probe, 0, 0) < 0) {
            cdz_trainer_free(t);
            return cdz_error_set(err, CDZ_ERR_ARG, "training-time transposition %d:%d is not possible with codec '%s'",
                                 cfg->transpose_min, cfg->transpose_max, ds->codec);
        }
        for (uint64_t i = 0; i < t->sampler.n_seqs; i++) {
            uint64_t len = cdz_dataset_seq_len(ds, t->sampler.seqs[i]);
            if (len > t->longest) t->longest = len;
        }
        t->shifted = cdz_calloc((size_t)cfg->batch * t->longest, sizeof *t->shifted);
        if (!t->shifted) {
            cdz_trainer_free(t);
            return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for transposed windows");
        }
    }
    cdz_rng_seed(&t->rng, cfg->seed);
    return CDZ_OK;
}

/* Moves each window (with the sequence before it, which melody models read) by a random shift among
 * those the codec allows for it, as ../shared/bench/jsb_reference.py does per piece. */
static void transpose_windows(cdz_trainer *t) {
    const cdz_codec *c = cdz_codec_find(t->sampler.ds->codec);
    for (int b = 0; b < t->cfg.batch; b++) {
        cdz_window *w = &t->windows[b];
        size_t len = (size_t)(w->start + w->n);
        uint16_t *row = t->shifted + (size_t)b * t->longest;
        int ok[256], n_ok = 0;
        for (int s = t->cfg.transpose_min; s <= t->cfg.transpose_max && n_ok < 256; s++) {
            memcpy(row, w->seq, len * sizeof *row);
            if (cdz_codec_transpose(c, row, len, s) == 1) ok[n_ok++] = s;
        }
        if (!n_ok) continue; /* no shift fits: the window stays as it is */
        memcpy(row, w->seq, len * sizeof *row);
        cdz_codec_transpose(c, row, len, ok[cdz_rng_below(&t->rng, (uint64_t)n_ok)]);
        w->seq = row;
    }
}

cdz_status cdz_trainer_distribute(cdz_trainer *t, cdz_dist *d, cdz_error *err) {
    if (!d || d->size <= 1) {
        t->dist = NULL;
        return CDZ_OK;
    }
    if (t->cfg.batch % d->size != 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "a batch of %d windows cannot be shared equally among %d ranks: "
                             "make the batch a multiple of %d", t->cfg.batch, d->size, d->size);
    t->dist = d;
    return CDZ_OK;
}

/* This rank's share of the global batch: the loss and the token-weighted gradient of the global mean.
 * Rank r takes windows [r B/N, (r+1) B/N); its model returns the mean over its own tokens n_r and the
 * gradient of that mean, so the gradient of the global mean is sum_r n_r grad_r / sum_r n_r, and the
 * loss sum_r n_r loss_r / sum_r n_r. One small all-reduce carries the sums (and any rank's failure, so
 * that no rank waits in the large one), the second the gradients. */
static cdz_status distributed_loss(cdz_trainer *t, cdz_loss *loss, cdz_error *err) {
    cdz_model *m = t->model;
    cdz_dist *d = t->dist;
    int share = t->cfg.batch / d->size;
    /* the share's windows keep their indices in the global batch, so their dropout masks are those
     * one process draws for them */
    cdz_batch batch = t->model->audio_rate ? cdz_batch_audio(t->windows + (size_t)d->rank * (size_t)share, share)
                                           : cdz_batch_tokens(t->windows + (size_t)d->rank * (size_t)share, share);
    batch.offset = (int64_t)d->rank * share;
    cdz_loss_opts opts = {CDZ_TRAIN, t->step, t->cfg.seed, m->grads};
    cdz_loss mine_loss = {0};
    cdz_status st = cdz_model_loss(t->session, &batch, &opts, &mine_loss, NULL, err);
    int ok = st == CDZ_OK;
    /* token-weighted sums: the objective, each term, the tokens, and whether this rank failed */
    enum { MAXN = CDZ_LOSS_MAX_TERMS + 3 };
    double sums[MAXN] = {0}, w = ok ? (double)mine_loss.tokens : 0;
    int nt = ok ? mine_loss.n_terms : 0;
    sums[0] = ok && w ? (double)mine_loss.objective * w : 0;
    for (int k = 0; k < CDZ_LOSS_MAX_TERMS; k++) sums[1 + k] = k < nt ? mine_loss.terms[k].value * w : 0;
    sums[1 + CDZ_LOSS_MAX_TERMS] = w;
    sums[2 + CDZ_LOSS_MAX_TERMS] = !ok;
    cdz_error mine = {0};
    cdz_status rs = cdz_dist_allreduce_sum_f64(d, sums, MAXN, &mine);
    if (rs != CDZ_OK) return cdz_error_set(err, rs, "step %lld: %s", (long long)t->step + 1, mine.msg);
    if (!ok) return st;
    double total = sums[1 + CDZ_LOSS_MAX_TERMS];
    if (sums[2 + CDZ_LOSS_MAX_TERMS] > 0) {
        t->failed_elsewhere = 1;
        return cdz_error_set(err, CDZ_ERR_IO, "step %lld failed on %.0f other rank(s)", (long long)t->step + 1,
                             sums[2 + CDZ_LOSS_MAX_TERMS]);
    }
    if (total < 1) return cdz_error_set(err, CDZ_ERR_ARG, "step %lld: the batch has no token to predict", (long long)t->step + 1);
    float wf = (float)mine_loss.tokens, inv = (float)(1.0 / total);
    if (wf != 1.0f)
        for (size_t i = 0; i < m->n_params; i++) m->grads[i] *= wf;
    rs = cdz_dist_allreduce_sum_f32(d, m->grads, m->n_params, &mine);
    if (rs != CDZ_OK) return cdz_error_set(err, rs, "step %lld: %s", (long long)t->step + 1, mine.msg);
    for (size_t i = 0; i < m->n_params; i++) m->grads[i] *= inv;
    *loss = mine_loss;
    loss->objective = (float)(sums[0] / total);
    for (int k = 0; k < nt; k++) loss->terms[k].value = sums[1 + k] / total;
    loss->tokens = (int64_t)total;
    return CDZ_OK;
}

cdz_status cdz_trainer_step(cdz_trainer *t, cdz_train_step_info *info, cdz_error *err) {
    cdz_model *m = t->model;
    const cdz_train_config *c = &t->cfg;
    t->failed_elsewhere = 0;
    /* every rank draws (and transposes) the whole batch, so the one rng stays in step everywhere */
    if (c->whole_sequences) cdz_window_sampler_draw_whole(&t->sampler, &t->rng, t->windows, c->batch);
    else cdz_window_sampler_draw(&t->sampler, &t->rng, t->windows, c->batch);
    if (t->shifted) transpose_windows(t);
    cdz_model_zero_grads(m);
    cdz_loss out = {0};
    cdz_status st;
    if (t->dist) {
        st = distributed_loss(t, &out, err);
    } else {
        cdz_batch batch = m->audio_rate ? cdz_batch_audio(t->windows, c->batch) : cdz_batch_tokens(t->windows, c->batch);
        cdz_loss_opts opts = {CDZ_TRAIN, t->step, t->cfg.seed, m->grads};
        st = cdz_model_loss(t->session, &batch, &opts, &out, NULL, err);
    }
    if (st != CDZ_OK) return st;
    float loss = out.objective;
    info->loss = loss;
    info->terms = out;
    info->tokens = out.tokens;
    info->lr = cdz_train_lr(c, t->step);
    if (!isfinite(loss))
        return cdz_error_set(err, CDZ_ERR_RANGE, "the loss became %s at step %lld (learning rate %g); the parameters "
                             "were not updated", isnan(loss) ? "NaN" : "infinite", (long long)t->step + 1, info->lr);
    info->grad_norm = c->clip > 0 ? cdz_clip_grad_norm(m->grads, m->n_params, c->clip) : 0.0f;
    if (!isfinite(info->grad_norm))
        return cdz_error_set(err, CDZ_ERR_RANGE, "the gradient norm became %g at step %lld; the parameters were not "
                             "updated", info->grad_norm, (long long)t->step + 1);
    cdz_adamw_params p = {info->lr, c->beta1, c->beta2, c->eps, c->weight_decay};
    t->step++;
    cdz_adamw_step(m->params, m->grads, t->m, t->v, m->n_params, &p, t->step);
    if (m->kind->after_step) m->kind->after_step(m, cdz_session_kind_state(t->session), t->step - 1);
    return CDZ_OK;
}

cdz_status cdz_trainer_check_replicas(cdz_trainer *t, int *differ, cdz_error *err) {
    *differ = 0;
    cdz_dist *d = t->dist;
    if (!d || d->size <= 1) return CDZ_OK;
    cdz_model *m = t->model;
    size_t bytes = m->n_params * sizeof *m->params;
    uint64_t h = cdz_fnv1a64(CDZ_FNV_OFFSET, m->params, bytes);
    h = cdz_fnv1a64(h, t->m, bytes);
    h = cdz_fnv1a64(h, t->v, bytes);
    uint64_t h0 = h; /* becomes rank 0's */
    cdz_status st = cdz_dist_broadcast(d, &h0, sizeof h0, 0, err);
    double n_differ = h != h0;
    if (st == CDZ_OK) st = cdz_dist_allreduce_sum_f64(d, &n_differ, 1, err);
    if (st != CDZ_OK || n_differ == 0) return st;
    *differ = (int)n_differ;
    st = cdz_dist_broadcast(d, m->params, bytes, 0, err);
    if (st == CDZ_OK) st = cdz_dist_broadcast(d, t->m, bytes, 0, err);
    if (st == CDZ_OK) st = cdz_dist_broadcast(d, t->v, bytes, 0, err);
    return st;
}

void cdz_trainer_free(cdz_trainer *t) {
    cdz_window_sampler_free(&t->sampler);
    cdz_session_free(t->session);
    cdz_free(t->m);
    cdz_free(t->v);
    cdz_free(t->windows);
    cdz_free(t->shifted);
    memset(t, 0, sizeof *t);
}

/* ---- evaluation ---- */

/* The evaluation window of sequence i (len elements) from start: max_len + 1 tokens (the last one's
 * tokens fewer), or exactly max_len audio samples (0 for an audio tail shorter than that, left out). */
static int eval_window(const cdz_dataset *ds, uint64_t i, int64_t start, int64_t len, int max_len, cdz_window *w) {
    if (ds->dtype == CDZ_DTYPE_AUDIO) {
        if (start + max_len > len) return 0;
        *w = (cdz_window){.audio = (const int16_t *)ds->data + ds->offsets[i], .start = start, .n = max_len};
        return 1;
    }
    *w = (cdz_window){.seq = ds->tokens + ds->offsets[i], .start = start,
                      .n = len - start < (int64_t)max_len + 1 ? len - start : (int64_t)max_len + 1};
    return 1;
}

/* One evaluation batch's loss, added into stats. */
static cdz_status eval_batch(cdz_session *s, const cdz_window *w, int n, cdz_loss_stats *stats, cdz_error *err) {
    cdz_batch b = cdz_session_model(s)->audio_rate ? cdz_batch_audio(w, n) : cdz_batch_tokens(w, n);
    cdz_loss_opts opts = {CDZ_EVAL, 0, 0, NULL};
    return cdz_model_loss(s, &b, &opts, NULL, stats, err);
}

cdz_status cdz_evaluate(const cdz_model *m, const cdz_dataset *ds, cdz_split split, int batch, int max_len,
                        int64_t max_tokens, cdz_loss_stats *stats, cdz_error *err) {
    if (batch < 1 || max_len < 1) return cdz_error_set(err, CDZ_ERR_ARG, "evaluation: batch and length must be positive");
    if (m->max_len > 0 && max_len > m->max_len) max_len = m->max_len; /* the model's longest window */
    cdz_status fit = check_dataset_fits(ds, m, err);
    if (fit != CDZ_OK) return fit;
    cdz_session *s = NULL;
    cdz_status st0 = cdz_session_new(&s, m, 1, 0, err);
    if (st0 != CDZ_OK) return st0;
    cdz_window *w = cdz_calloc((size_t)batch, sizeof *w);
    if (!w) {
        cdz_session_free(s);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    }
    memset(stats, 0, sizeof *stats);
    cdz_status st = CDZ_OK;
    int n = 0;
    for (uint64_t i = 0; i < ds->n_seqs && st == CDZ_OK; i++) {
        if (split != CDZ_SPLIT_ALL && ds->splits[i] != split) continue;
        int64_t len = (int64_t)cdz_dataset_seq_len(ds, i);
        /* windows overlap by one token so that every token after the first is predicted once; audio
         * windows are whole (max_len samples each, the tail shorter than one left out) */
        for (int64_t start = 0; start + 1 < len && st == CDZ_OK; start += max_len) {
            if (!eval_window(ds, i, start, len, max_len, &w[n])) break;
            if (++n == batch) {
                st = eval_batch(s, w, n, stats, err);
                n = 0;
                if (max_tokens > 0 && stats->tokens >= max_tokens) goto done;
            }
        }
    }
    if (st == CDZ_OK && n) st = eval_batch(s, w, n, stats, err);
done:
    cdz_free(w);
    cdz_session_free(s);
    if (st == CDZ_OK && stats->tokens == 0)
        st = cdz_error_set(err, CDZ_ERR_ARG, "the dataset has no %s sequence to evaluate on", cdz_split_name(split));
    return st;
}

/* The evaluation windows in cdz_evaluate's order, a batch at a time. */
typedef struct eval_cursor {
    const cdz_dataset *ds;
    cdz_split split;
    int max_len;
    uint64_t i;    /* the sequence */
    int64_t start; /* the next window's start in it */
} eval_cursor;

static int eval_next_batch(eval_cursor *c, cdz_window *w, int batch) {
    const cdz_dataset *ds = c->ds;
    int n = 0;
    for (; c->i < ds->n_seqs && n < batch; c->i++, c->start = 0) {
        if (c->split != CDZ_SPLIT_ALL && ds->splits[c->i] != c->split) continue;
        int64_t len = (int64_t)cdz_dataset_seq_len(ds, c->i);
        for (; c->start + 1 < len && n < batch; c->start += c->max_len, n++)
            if (!eval_window(ds, c->i, c->start, len, c->max_len, &w[n])) break;
        if (n == batch && c->start + 1 < len) break; /* the sequence goes on in the next batch */
    }
    return n;
}

cdz_status cdz_evaluate_dist(const cdz_model *m, const cdz_dataset *ds, cdz_split split, int batch, int max_len,
                             int64_t max_tokens, cdz_dist *d, cdz_loss_stats *stats, cdz_error *err) {
    if (!d || d->size <= 1) return cdz_evaluate(m, ds, split, batch, max_len, max_tokens, stats, err);
    if (batch < 1 || max_len < 1) return cdz_error_set(err, CDZ_ERR_ARG, "evaluation: batch and length must be positive");
    if (m->max_len > 0 && max_len > m->max_len) max_len = m->max_len;
    cdz_status fit = check_dataset_fits(ds, m, err);
    if (fit != CDZ_OK) return fit;
    const int N = d->size;
    cdz_window *w = cdz_calloc((size_t)batch, sizeof *w);
    double *round = cdz_calloc(3 * (size_t)N + 1, sizeof *round); /* per batch of the round: loss, tokens,
                                                                    correct; then the failures */
    cdz_session *s = NULL;
    cdz_error serr = {0};
    cdz_session_new(&s, m, 1, 0, &serr);
    /* every rank knows of an allocation failure anywhere before the first all-reduce */
    double failed = !w || !round || !s;
    cdz_error mine = {0};
    cdz_status st = cdz_dist_allreduce_sum_f64(d, &failed, 1, &mine);
    memset(stats, 0, sizeof *stats);
    if (st == CDZ_OK && failed > 0)
        st = cdz_error_set(&mine, CDZ_ERR_NOMEM, "evaluation: out of memory%s", !w || !round || !s ? "" : " on another rank");
    eval_cursor cur = {ds, split, max_len, 0, 0};
    /* Each round hands the next N batches to ranks 0 .. N-1; the all-reduced statistics are added in
     * batch order, stopping after the batch that reaches max_tokens as cdz_evaluate does. */
    for (int more = 1; st == CDZ_OK && more;) {
        memset(round, 0, (3 * (size_t)N + 1) * sizeof *round);
        int in_round = 0;
        cdz_status here = CDZ_OK;
        for (int k = 0; k < N; k++) {
            int n = eval_next_batch(&cur, w, batch);
            if (!n) break;
            in_round++;
            if (k != d->rank) continue;
            cdz_loss_stats b = {0};
            if ((here = eval_batch(s, w, n, &b, &mine)) != CDZ_OK) {
                round[3 * N] = 1;
                continue;
            }
            round[3 * k] = b.loss_sum, round[3 * k + 1] = (double)b.tokens, round[3 * k + 2] = (double)b.correct;
        }
        cdz_error comm = {0};
        if ((st = cdz_dist_allreduce_sum_f64(d, round, 3 * (size_t)N + 1, &comm)) != CDZ_OK) {
            mine = comm;
            break;
        }
        if (round[3 * N] > 0) {
            st = here != CDZ_OK ? here : cdz_error_set(&mine, CDZ_ERR_IO, "evaluation failed on another rank");
            break;
        }
        for (int k = 0; k < in_round && more; k++) {
            stats->loss_sum += round[3 * k];
            stats->tokens += (int64_t)round[3 * k + 1];
            stats->correct += (int64_t)round[3 * k + 2];
            if (max_tokens > 0 && stats->tokens >= max_tokens) more = 0;
        }
        if (in_round < N) more = 0;
    }
    cdz_free(w);
    cdz_free(round);
    cdz_session_free(s);
    if (st != CDZ_OK) return cdz_error_set(err, st, "%s", mine.msg);
    if (stats->tokens == 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "the dataset has no %s sequence to evaluate on", cdz_split_name(split));
    return CDZ_OK;
}

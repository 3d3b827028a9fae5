/* MusicVAE's latent space (cadenza/vae.h): windows of scores in, latents out and back, through the
 * music_vae kind's hooks (encode, set_latent and step; src/models/music_vae.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cadenza/codec.h"
#include "cadenza/metrics.h"
#include "cadenza/model_kind.h"
#include "cadenza/sample.h"
#include "cadenza/vae.h"

enum { STEP_TICKS = 120, PPQ = 480 }; /* how the MusicVAE codecs decode: a 16th at 480 ticks per quarter */

int cdz_vae_is(const cdz_model *m) { return m && m->kind == &cdz_music_vae; }

static cdz_status need_vae(const cdz_model *m, cdz_error *err) {
    if (cdz_vae_is(m)) return CDZ_OK;
    return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "a %s model has no latent space: this needs a music_vae model",
                         m ? m->kind->name : "missing");
}

int cdz_vae_latent_dim(const cdz_model *m) { return cdz_vae_is(m) ? m->kind->latent_dim(m) : 0; }
int cdz_vae_window_tokens(const cdz_model *m) { return cdz_vae_is(m) ? m->max_len + 1 : 0; }

/* Parts per step (the trio interleaves three), as the model describes them. */
static int parts(const cdz_model *m) { return cdz_vae_parts(m); }
static int window_steps(const cdz_model *m) { return cdz_vae_window_tokens(m) / parts(m); }
int cdz_vae_window_bars(const cdz_model *m) { return cdz_vae_is(m) ? window_steps(m) / 16 : 0; }
/* A drum model: its one part is drum sets. */
static int is_drums(const cdz_model *m) { return parts(m) == 1 && !cdz_vae_part_at(m, 0).melodic; }

cdz_status cdz_vae_windows(const cdz_model *m, const cdz_score *s, cdz_tokens *out, cdz_error *err) {
    memset(out, 0, sizeof *out);
    cdz_status st = need_vae(m, err);
    if (st) return st;
    const cdz_codec *c = cdz_codec_find(m->codec);
    if (!c) return cdz_error_set(err, CDZ_ERR_FORMAT, "the model's codec '%s' is not in this build", m->codec);
    cdz_extract_stats stats;
    memset(&stats, 0, sizeof stats);
    st = c->encode(s, out, &stats, err);
    if (st) return st;
    if (out->n_seqs) return CDZ_OK;
    cdz_tokens_free(out);
    const int bars = cdz_vae_window_bars(m);
    const char *what = is_drums(m) ? "drum pattern" : parts(m) == 3 ? "trio (melody, bass and drums together)" : "melody";
    char found[240];
    if (stats.sequences > 0 && !is_drums(m) && parts(m) == 1)
        return cdz_error_set(err, CDZ_ERR_RANGE, "no %d-bar melody window: the %llu melody(ies) found are shorter than %d bars of "
                             "16th notes in 4/4", bars, (unsigned long long)stats.sequences, bars);
    if (stats.sequences > 0 && is_drums(m))
        return cdz_error_set(err, CDZ_ERR_RANGE, "no 2-bar drum window: the %llu drum track(s) found are shorter than 2 bars of "
                             "16th notes in 4/4", (unsigned long long)stats.sequences);
    snprintf(found, sizeof found,
             "%llu polyphonic track(s) left, %llu melody(ies) too short, %llu part(s) not in a 16-step bar (4/4 or 2/2), "
             "%llu empty part(s)",
             (unsigned long long)stats.polyphonic_tracks, (unsigned long long)stats.too_short,
             (unsigned long long)stats.non_integer_bar, (unsigned long long)stats.empty);
    return cdz_error_set(err, CDZ_ERR_RANGE, "no %d-bar %s window: the model reads %d bars of 16th notes in 4/4 (%s)", bars, what,
                         bars, found);
}

/* A batch of n whole windows. */
static cdz_status window_batch(const cdz_model *m, const uint16_t *tokens, int n, cdz_window **w, cdz_error *err) {
    const int L = cdz_vae_window_tokens(m);
    *w = cdz_calloc((size_t)n, sizeof **w);
    if (!*w) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) (*w)[i] = (cdz_window){tokens + (size_t)i * L, 0, L};
    return CDZ_OK;
}

cdz_status cdz_vae_encode(const cdz_model *m, const uint16_t *tokens, int n, float *mu, float *sigma, cdz_error *err) {
    cdz_status st = need_vae(m, err);
    if (st) return st;
    if (n < 1) return cdz_error_set(err, CDZ_ERR_ARG, "nothing to encode");
    cdz_session *s = NULL;
    cdz_window *w = NULL;
    st = cdz_session_new(&s, m, 1, 0, err);
    if (!st) st = window_batch(m, tokens, n, &w, err);
    const int chunk = 256; /* windows per pass: bounds the activations */
    for (int i = 0; i < n && !st; i += chunk) {
        int k = n - i < chunk ? n - i : chunk;
        cdz_batch b = cdz_batch_tokens(w + i, k);
        st = cdz_model_encode(s, &b, mu + (size_t)i * m->kind->latent_dim(m), sigma ? sigma + (size_t)i * m->kind->latent_dim(m) : NULL,
                              err);
    }
    cdz_free(w);
    cdz_session_free(s);
    return st;
}

cdz_status cdz_vae_decode(const cdz_model *m, const float *z, int n, float temperature, uint64_t seed, uint16_t *tokens,
                          cdz_error *err) {
    cdz_status st = need_vae(m, err);
    if (st) return st;
    if (n < 1) return cdz_error_set(err, CDZ_ERR_ARG, "nothing to decode");
    if (!(temperature >= 0)) return cdz_error_set(err, CDZ_ERR_ARG, "temperature %g: must be 0 or more", temperature);
    const int L = cdz_vae_window_tokens(m), V = (int)m->vocab;
    cdz_session *s = NULL;
    float *logits = cdz_malloc((size_t)n * V * sizeof *logits);
    uint16_t *fed = cdz_malloc((size_t)n * sizeof *fed);
    cdz_rng *rng = cdz_malloc((size_t)n * sizeof *rng);
    if (!logits || !fed || !rng) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory decoding %d latents", n);
    if (!st) st = cdz_session_new(&s, m, n, 0, err);
    if (!st) st = cdz_session_reset(s, n, err);
    if (!st) st = cdz_session_set_latent(s, z, err);
    cdz_sample_params sp = cdz_sample_default_params();
    sp.temperature = temperature;
    for (int b = 0; !st && b < n; b++) {
        fed[b] = (uint16_t)V; /* START */
        cdz_rng_seed(&rng[b], cdz_random_at(seed, (uint64_t)b));
    }
    /* A melody part's note-off ends a sounding note: one with nothing sounding means nothing (it decodes to
     * silence either way) and never occurs in the data, so it is not drawn (the "valid melody" of
     * docs/music_vae.md holds by construction). sounding: per row and part. */
    const int P = parts(m);
    uint8_t *sounding = cdz_calloc((size_t)n * P, 1);
    if (!sounding && !st) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory decoding %d latents", n);
    for (int t = 0; t < L && !st; t++) {
        if ((st = cdz_session_feed(s, fed, logits, err))) break;
        const int p = t % P;
        const cdz_vae_part part = cdz_vae_part_at(m, p);
        const int off = part.offset, melodic = part.melodic;
        for (int b = 0; b < n; b++) {
            float *lg = logits + (size_t)b * V;
            if (melodic && !sounding[(size_t)b * P + p]) lg[off + 1] = -1e30f;
            int pick = 0;
            if (temperature == 0) {
                for (int k = 1; k < V; k++)
                    if (lg[k] > lg[pick]) pick = k;
            } else {
                pick = cdz_sample_logits(lg, V, &sp, &rng[b], NULL);
            }
            tokens[(size_t)b * L + t] = fed[b] = (uint16_t)pick;
            if (melodic && pick - off >= 2) sounding[(size_t)b * P + p] = 1;
            else if (melodic && pick - off == 1) sounding[(size_t)b * P + p] = 0;
        }
    }
    cdz_session_free(s);
    cdz_free(logits), cdz_free(fed), cdz_free(rng), cdz_free(sounding);
    return st;
}

cdz_status cdz_vae_to_score(const cdz_model *m, const uint16_t *tokens, int n, cdz_score *out, cdz_error *err) {
    memset(out, 0, sizeof *out);
    cdz_status st = need_vae(m, err);
    if (st) return st;
    const cdz_codec *c = cdz_codec_find(m->codec);
    if (!c) return cdz_error_set(err, CDZ_ERR_FORMAT, "the model's codec '%s' is not in this build", m->codec);
    const int L = cdz_vae_window_tokens(m);
    const int64_t span = (int64_t)window_steps(m) * STEP_TICKS;
    st = cdz_score_init(out, PPQ, err);
    if (!st) st = cdz_score_add_tempo(out, 0, 120.0);
    if (!st) st = cdz_score_add_time_signature(out, 0, 4, 4);
    /* each window decoded on its own, so its notes end at its edge, then placed after the one before */
    for (int i = 0; i < n && !st; i++) {
        cdz_score one;
        if ((st = c->decode(tokens + (size_t)i * L, (size_t)L, &one, err))) break;
        for (size_t k = 0; k < one.n_notes && !st; k++) {
            const cdz_note *nt = &one.notes[k];
            st = cdz_score_add_note(out, nt->track, nt->channel, nt->program, nt->pitch, nt->velocity, nt->start_tick + i * span,
                                    nt->end_tick + i * span);
        }
        cdz_score_free(&one);
    }
    if (!st) st = cdz_score_finish(out, err);
    if (st) {
        if (out->ppq) cdz_score_free(out);
        return err && err->msg[0] ? st : cdz_error_set(err, st, "windows to a score: %s", cdz_status_str(st));
    }
    out->end_tick = (int64_t)n * span;
    out->duration_s = cdz_score_tick_to_seconds(out, out->end_tick);
    return CDZ_OK;
}

void cdz_vae_random_latent(float *z, int Z, float scale, uint64_t seed) {
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    for (int k = 0; k < Z; k++) z[k] = (float)(scale * cdz_rng_normal(&r));
}

void cdz_vae_slerp(const float *a, const float *b, int d, double t, float *out) {
    double na = 0, nb = 0, dot = 0;
    for (int k = 0; k < d; k++) na += (double)a[k] * a[k], nb += (double)b[k] * b[k], dot += (double)a[k] * b[k];
    double c = na > 0 && nb > 0 ? dot / sqrt(na * nb) : 1;
    if (c > 1) c = 1;
    if (c < -1) c = -1;
    double omega = acos(c), so = sin(omega);
    /* Magenta's slerp: sin((1-t) w) / sin w and sin(t w) / sin w; nearly parallel vectors: linear */
    double wa = so < 1e-6 ? 1 - t : sin((1 - t) * omega) / so, wb = so < 1e-6 ? t : sin(t * omega) / so;
    for (int k = 0; k < d; k++) out[k] = (float)(wa * a[k] + wb * b[k]);
}

void cdz_vae_similar(const float *za, int d, double s, uint64_t seed, float *out) {
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    for (int k = 0; k < d; k++) out[k] = (float)(s * za[k] + (1 - s) * cdz_rng_normal(&r));
}

/* ---- features ---- */

static const char *const FEATURE_NAMES[CDZ_VAE_FEATURES] = {"density", "range", "syncopation", "in_key"};

const char *cdz_vae_feature_name(cdz_vae_feature f) {
    return (unsigned)f < CDZ_VAE_FEATURES ? FEATURE_NAMES[f] : "unknown";
}

cdz_status cdz_vae_feature_parse(const char *name, cdz_vae_feature *f, cdz_error *err) {
    for (int i = 0; i < CDZ_VAE_FEATURES; i++)
        if (strcmp(name, FEATURE_NAMES[i]) == 0) {
            *f = (cdz_vae_feature)i;
            return CDZ_OK;
        }
    return cdz_error_set(err, CDZ_ERR_ARG, "'%s' is not a feature: density, range, syncopation or in_key", name);
}

/* The share of notes in the key that holds most of them (1 without notes). */
static double in_key_fraction(const double *pc, int total) { return total ? cdz_metrics_scale_consistency(pc) : 1; }

double cdz_vae_feature_value(const cdz_model *m, cdz_vae_feature f, const uint16_t *window) {
    if (!cdz_vae_is(m)) return 0;
    const int P = parts(m), S = window_steps(m), bars = S / 16;
    int onsets = 0, odd = 0, lo = 128, hi = -1;
    double pc[12] = {0};
    unsigned classes = 0;
    for (int s = 0; s < S; s++) {
        int k = window[(size_t)s * P]; /* the first part: melody classes, or drum bits */
        if (is_drums(m)) {
            for (int c = 0; c < 9; c++)
                if (k & (1 << c)) onsets++, odd += s & 1, classes |= 1u << c;
            continue;
        }
        if (k < 2) continue;
        int pitch = k - 2 + 21;
        onsets++, odd += s & 1, pc[pitch % 12]++;
        if (pitch < lo) lo = pitch;
        if (pitch > hi) hi = pitch;
    }
    switch (f) {
    case CDZ_VAE_DENSITY: return (double)onsets / bars;
    case CDZ_VAE_RANGE:
        if (is_drums(m)) return __builtin_popcount(classes);
        return hi >= 0 ? hi - lo : 0;
    case CDZ_VAE_SYNCOPATION: return onsets ? (double)odd / onsets : 0;
    case CDZ_VAE_IN_KEY: return is_drums(m) ? 1 : in_key_fraction(pc, onsets);
    }
    return 0;
}

typedef struct ranked {
    double value;
    int index;
} ranked;

static int by_value(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return x->index - y->index;
}

cdz_status cdz_vae_attribute_vector(const cdz_model *m, cdz_vae_feature f, const uint16_t *windows, int n, float *vec,
                                    double *top_mean, double *bottom_mean, cdz_error *err) {
    cdz_status st = need_vae(m, err);
    if (st) return st;
    if (n < 8)
        return cdz_error_set(err, CDZ_ERR_RANGE, "an attribute vector needs at least 8 windows (a quarter of them at each end); %d given", n);
    const int Z = cdz_vae_latent_dim(m), L = cdz_vae_window_tokens(m), q = n / 4;
    float *mu = cdz_malloc((size_t)n * Z * sizeof *mu);
    ranked *r = cdz_malloc((size_t)n * sizeof *r);
    if (!mu || !r) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %d windows", n);
    if (!st) st = cdz_vae_encode(m, windows, n, mu, NULL, err);
    if (!st) {
        for (int i = 0; i < n; i++) r[i] = (ranked){cdz_vae_feature_value(m, f, windows + (size_t)i * L), i};
        qsort(r, (size_t)n, sizeof *r, by_value);
        double tm = 0, bm = 0;
        for (int k = 0; k < Z; k++) vec[k] = 0;
        for (int i = 0; i < q; i++) {
            const float *lo = mu + (size_t)r[i].index * Z, *hi = mu + (size_t)r[n - 1 - i].index * Z;
            for (int k = 0; k < Z; k++) vec[k] += (hi[k] - lo[k]) / (float)q;
            bm += r[i].value / q, tm += r[n - 1 - i].value / q;
        }
        if (tm == bm)
            st = cdz_error_set(err, CDZ_ERR_RANGE, "%s is %g in the top and the bottom quarter of the %d windows: no direction to "
                               "learn (choose another feature or other music)", cdz_vae_feature_name(f), tm, n);
        if (top_mean) *top_mean = tm;
        if (bottom_mean) *bottom_mean = bm;
    }
    cdz_free(mu), cdz_free(r);
    return st;
}

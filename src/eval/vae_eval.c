/* Measuring a MusicVAE (cadenza/vae.h): reconstruction accuracy of held-out windows, teacher-forced and
 * sampled, and interpolations in latent space against the naive data-space baseline. */
#include <math.h>
#include <string.h>

#include "cadenza/vae.h"

enum { CHUNK = 64 }; /* windows per pass */

/* The split's windows of the model's length, the first max (0: all). */
static cdz_status split_windows(const cdz_model *m, const cdz_dataset *ds, cdz_split split, int max, uint64_t **idx, int *n,
                                cdz_error *err) {
    const int L = cdz_vae_window_tokens(m);
    if (strcmp(ds->codec, cdz_model_codec(m)) != 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "the dataset holds %s windows; the model reads %s", ds->codec, cdz_model_codec(m));
    *idx = cdz_calloc(ds->n_seqs + 1, sizeof **idx);
    if (!*idx) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    *n = 0;
    for (uint64_t i = 0; i < ds->n_seqs && (max <= 0 || *n < max); i++)
        if (ds->splits[i] == split && cdz_dataset_seq_len(ds, i) == (uint64_t)L) (*idx)[(*n)++] = i;
    if (*n == 0) {
        cdz_free(*idx);
        *idx = NULL;
        return cdz_error_set(err, CDZ_ERR_RANGE, "the %s split has no window of %d tokens", cdz_split_name(split), L);
    }
    return CDZ_OK;
}

cdz_status cdz_vae_evaluate(const cdz_model *m, const cdz_dataset *ds, cdz_split split, int max_windows, cdz_vae_eval *out,
                            cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (!cdz_vae_is(m)) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "a %s model has no latent space", cdz_model_kind_name(m));
    uint64_t *idx = NULL;
    int n = 0;
    cdz_status st = split_windows(m, ds, split, max_windows, &idx, &n, err);
    if (st) return st;
    const int L = cdz_vae_window_tokens(m), Z = cdz_vae_latent_dim(m);
    cdz_session *s = NULL;
    cdz_window *w = cdz_calloc(CHUNK, sizeof *w);
    float *mu = cdz_calloc((size_t)CHUNK * Z, sizeof *mu), *sg = cdz_calloc((size_t)CHUNK * Z, sizeof *sg);
    uint16_t *in = cdz_calloc((size_t)CHUNK * L, sizeof *in), *dec = cdz_calloc((size_t)CHUNK * L, sizeof *dec);
    if (!w || !mu || !sg || !in || !dec) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (!st) st = cdz_session_new(&s, m, 1, 0, err);
    cdz_loss_stats stats = {0};
    int64_t same = 0;
    double kl = 0;
    for (int i = 0; i < n && !st; i += CHUNK) {
        int k = n - i < CHUNK ? n - i : CHUNK;
        for (int b = 0; b < k; b++) {
            memcpy(in + (size_t)b * L, ds->tokens + ds->offsets[idx[i + b]], (size_t)L * sizeof *in);
            w[b] = (cdz_window){in + (size_t)b * L, 0, L};
        }
        cdz_batch batch = cdz_batch_tokens(w, k);
        cdz_loss_opts o = {CDZ_EVAL, 0, 0, NULL};
        cdz_loss l;
        if ((st = cdz_model_loss(s, &batch, &o, &l, &stats, err))) break;
        kl += l.terms[1].value * k;
        if ((st = cdz_vae_encode(m, in, k, mu, sg, err))) break;
        if ((st = cdz_vae_decode(m, mu, k, 0, 0, dec, err))) break;
        for (size_t t = 0; t < (size_t)k * L; t++) same += dec[t] == in[t];
    }
    if (!st) {
        out->windows = n;
        out->tokens = (int64_t)n * L;
        out->tf_accuracy = stats.tokens ? (double)stats.correct / (double)stats.tokens : 0;
        out->recon_nats = stats.tokens ? stats.loss_sum / (double)stats.tokens : 0;
        out->sampled_accuracy = (double)same / (double)out->tokens;
        out->kl_nats = kl / n;
    }
    cdz_session_free(s);
    cdz_free(idx), cdz_free(w), cdz_free(mu), cdz_free(sg), cdz_free(in), cdz_free(dec);
    return st;
}

/* ---- interpolation ---- */

/* A window is valid when each note-off of its first part ends a sounding note (drum models: always). */
static int valid_melody(const cdz_model *m, const uint16_t *w, int S, int P) {
    const cdz_vae_part part = cdz_vae_part_at(m, 0);
    if (!part.melodic) return 1;
    int sounding = 0;
    for (int s = 0; s < S; s++) {
        int k = w[(size_t)s * P] - part.offset;
        if (k == 1) {
            if (!sounding) return 0;
            sounding = 0;
        } else if (k >= 2) {
            sounding = 1;
        }
    }
    return 1;
}

/* Kendall's tau between step index and f[0..n), signed toward f[n-1] - f[0]; NAN when the ends agree. */
static double directed_tau(const double *f, int n) {
    double dir = f[n - 1] - f[0];
    if (fabs(dir) < 1e-12) return NAN;
    int conc = 0, disc = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double d = (f[j] - f[i]) * dir;
            conc += d > 0, disc += d < 0;
        }
    return (double)(conc - disc) / (n * (n - 1) / 2);
}

typedef struct side_acc {
    double valid, tau_key, tau_den, ham, ham_max;
    int n_steps, n_key, n_den, n_pairs;
} side_acc;

static void measure(const cdz_model *m, const uint16_t *rows, int steps, side_acc *a) {
    const int L = cdz_vae_window_tokens(m), P = cdz_vae_parts(m), S = L / P;
    double key[64], den[64], worst = 0;
    for (int k = 0; k < steps; k++) {
        const uint16_t *w = rows + (size_t)k * L;
        a->valid += valid_melody(m, w, S, P), a->n_steps++;
        key[k] = cdz_vae_feature_value(m, CDZ_VAE_IN_KEY, w);
        den[k] = cdz_vae_feature_value(m, CDZ_VAE_DENSITY, w);
        if (k) {
            int d = 0;
            for (int t = 0; t < L; t++) d += w[t] != w[t - L];
            a->ham += d;
            if (d > worst) worst = d;
        }
    }
    double tk = directed_tau(key, steps), td = directed_tau(den, steps);
    if (!isnan(tk)) a->tau_key += tk, a->n_key++;
    if (!isnan(td)) a->tau_den += td, a->n_den++;
    a->ham_max += worst, a->n_pairs++;
}

static cdz_vae_interp_side finish_side(const side_acc *a, int steps) {
    cdz_vae_interp_side s;
    s.valid = a->n_steps ? a->valid / a->n_steps : 0;
    s.tau_in_key = a->n_key ? a->tau_key / a->n_key : NAN;
    s.tau_density = a->n_den ? a->tau_den / a->n_den : NAN;
    s.hamming = a->n_pairs ? a->ham / ((double)a->n_pairs * (steps - 1)) : 0;
    s.hamming_max = a->n_pairs ? a->ham_max / a->n_pairs : 0;
    s.pairs_in_key = a->n_key, s.pairs_density = a->n_den;
    return s;
}

cdz_status cdz_vae_interpolation_study(const cdz_model *m, const cdz_dataset *ds, cdz_split split, int pairs, int steps,
                                       uint64_t seed, cdz_vae_interp_report *out, cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (!cdz_vae_is(m)) return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "a %s model has no latent space", cdz_model_kind_name(m));
    if (steps < 2 || steps > 64) return cdz_error_set(err, CDZ_ERR_ARG, "%d interpolation steps: 2 to 64", steps);
    if (pairs < 1) return cdz_error_set(err, CDZ_ERR_ARG, "%d pairs: at least 1", pairs);
    uint64_t *idx = NULL;
    int n = 0;
    cdz_status st = split_windows(m, ds, split, 0, &idx, &n, err);
    if (st) return st;
    if (n < 2) {
        cdz_free(idx);
        return cdz_error_set(err, CDZ_ERR_RANGE, "interpolation needs two windows; the %s split has %d", cdz_split_name(split), n);
    }
    const int L = cdz_vae_window_tokens(m), Z = cdz_vae_latent_dim(m);
    uint16_t *ends = cdz_malloc(2 * (size_t)L * sizeof *ends), *rows = cdz_malloc((size_t)steps * L * sizeof *rows);
    float *mu = cdz_malloc(2 * (size_t)Z * sizeof *mu), *zs = cdz_malloc((size_t)steps * Z * sizeof *zs);
    int *rank = cdz_malloc((size_t)L * sizeof *rank);
    if (!ends || !rows || !mu || !zs || !rank) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    side_acc lat = {0}, naive = {0};
    for (int p = 0; p < pairs && !st; p++) {
        uint64_t a = cdz_rng_below(&r, (uint64_t)n), b = cdz_rng_below(&r, (uint64_t)n - 1);
        if (b >= a) b++;
        memcpy(ends, ds->tokens + ds->offsets[idx[a]], (size_t)L * sizeof *ends);
        memcpy(ends + L, ds->tokens + ds->offsets[idx[b]], (size_t)L * sizeof *ends);
        if ((st = cdz_vae_encode(m, ends, 2, mu, NULL, err))) break;
        for (int k = 0; k < steps; k++) cdz_vae_slerp(mu, mu + Z, Z, (double)k / (steps - 1), zs + (size_t)k * Z);
        if ((st = cdz_vae_decode(m, zs, steps, 0, 0, rows, err))) break;
        measure(m, rows, steps, &lat);
        /* data space: a random order of the positions; step k takes B's token at the first k/(steps-1) */
        for (int t = 0; t < L; t++) rank[t] = t;
        for (int t = L - 1; t > 0; t--) {
            int j = (int)cdz_rng_below(&r, (uint64_t)t + 1), x = rank[t];
            rank[t] = rank[j], rank[j] = x;
        }
        for (int k = 0; k < steps; k++) {
            int take_b = (int)lround((double)k * L / (steps - 1));
            uint16_t *row = rows + (size_t)k * L;
            memcpy(row, ends, (size_t)L * sizeof *row);
            for (int t = 0; t < take_b; t++) row[rank[t]] = ends[L + rank[t]];
        }
        measure(m, rows, steps, &naive);
    }
    if (!st) {
        out->pairs = pairs, out->steps = steps;
        out->latent = finish_side(&lat, steps);
        out->naive = finish_side(&naive, steps);
    }
    cdz_free(idx), cdz_free(ends), cdz_free(rows), cdz_free(mu), cdz_free(zs), cdz_free(rank);
    return st;
}

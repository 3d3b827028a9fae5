/* Comparing a generated set of files with a reference set (cadenza/metrics.h), after Yang & Lerch 2019,
 * section 3: per feature, the distributions of intra-set and inter-set distances between files, as
 * Gaussian kernel density estimates, compared by KL divergence and overlapping area.
 *
 * The densities are evaluated on a grid by linear binning and a discrete convolution (as R's density()
 * does, without the FFT): a 909-file set has 412,686 intra-set and, against another of that size,
 * 826,281 inter-set distances per feature, which a direct sum over a 1024-point grid would take
 * 16 features x 1.7 G kernel evaluations to cover. */
#include <math.h>
#include <stdio.h>

#include "cadenza/metrics.h"

cdz_metrics_params cdz_metrics_default_params(void) {
    cdz_metrics_params p = {.grid_points = 1024, .bandwidth_floor = 0.01};
    return p;
}

/* ---- order statistics (3-way quickselect: distances repeat a lot, e.g. many zeros) ---- */
static double select_kth(double *x, size_t n, size_t k) {
    size_t lo = 0, hi = n; /* the k-th smallest lies in x[lo, hi) */
    uint64_t r = 0x9E3779B97F4A7C15ULL;
    while (hi - lo > 1) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17; /* a pivot at random keeps sorted input linear */
        double pivot = x[lo + (size_t)(r % (hi - lo))];
        size_t lt = lo, i = lo, gt = hi; /* [lo,lt) < pivot, [lt,i) == pivot, [gt,hi) > pivot */
        while (i < gt) {
            if (x[i] < pivot) {
                double t = x[lt];
                x[lt++] = x[i];
                x[i++] = t;
            } else if (x[i] > pivot) {
                double t = x[--gt];
                x[gt] = x[i];
                x[i] = t;
            } else {
                i++;
            }
        }
        if (k < lt) hi = lt;
        else if (k >= gt) lo = gt;
        else return pivot;
    }
    return x[lo];
}

/* The q-quantile with linear interpolation between order statistics (numpy's default). */
static double quantile(double *x, size_t n, double q) {
    double pos = q * (double)(n - 1);
    size_t k = (size_t)pos;
    double a = select_kth(x, n, k);
    if (k + 1 >= n || pos == (double)k) return a;
    double b = x[k + 1]; /* after selection, x[k+1 ..] >= a: the next order statistic is their minimum */
    for (size_t i = k + 2; i < n; i++)
        if (x[i] < b) b = x[i];
    return a + (pos - (double)k) * (b - a);
}

static void mean_std(const double *x, size_t n, double *mean, double *sd) {
    double m = 0, v = 0;
    for (size_t i = 0; i < n; i++) m += x[i];
    m = n ? m / (double)n : 0;
    for (size_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    *mean = m;
    *sd = n > 1 ? sqrt(v / (double)(n - 1)) : 0;
}

double cdz_metrics_silverman_bandwidth(double *x, size_t n) {
    if (!x || n < 2) return 0;
    double m, sd;
    mean_std(x, n, &m, &sd);
    double q1 = quantile(x, n, 0.25), q3 = quantile(x, n, 0.75);
    double iqr = (q3 - q1) / 1.34, s = iqr > 0 && iqr < sd ? iqr : sd;
    return 0.9 * s * pow((double)n, -0.2);
}

cdz_status cdz_metrics_kde(const double *x, size_t n, double h, double lo, double hi, size_t n_grid,
                           double *density, cdz_error *err) {
    if ((!x && n) || !density || n_grid < 2 || !(h > 0) || !(hi > lo) || !isfinite(hi - lo))
        return cdz_error_set(err, CDZ_ERR_ARG, "metrics: bad density estimate (bandwidth %g, grid [%g, %g] x %zu)", h,
                             lo, hi, n_grid);
    double dx = (hi - lo) / (double)(n_grid - 1);
    /* the kernel over +-6 bandwidths (mass beyond: 2e-9), at least one point each side */
    double reach = ceil(6 * h / dx);
    size_t half = reach < (double)n_grid ? (size_t)reach : n_grid;
    if (half < 1) half = 1;
    size_t nk;
    if (!cdz_mul_ok(half, 2, &nk) || !cdz_add_ok(nk, 1, &nk) || !cdz_add_ok(nk, n_grid, &nk))
        return cdz_error_set(err, CDZ_ERR_NOMEM, "metrics: density grid too large");
    double *kernel = cdz_malloc(nk * sizeof *kernel), *bins = kernel + 2 * half + 1;
    if (!kernel) return cdz_error_set(err, CDZ_ERR_NOMEM, "metrics: out of memory for a %zu-point density", n_grid);
    double ksum = 0;
    for (size_t k = 0; k <= 2 * half; k++) {
        double u = ((double)k - (double)half) * dx / h;
        kernel[k] = exp(-0.5 * u * u);
        ksum += kernel[k];
    }
    for (size_t k = 0; k <= 2 * half; k++) kernel[k] /= ksum * dx; /* sums to 1 / dx: a density on the grid */
    memset(bins, 0, n_grid * sizeof *bins);
    for (size_t i = 0; i < n; i++) { /* linear binning: each sample split between its two grid points */
        double g = (x[i] - lo) / dx;
        if (!(g > 0)) g = 0; /* also NaN */
        if (g > (double)(n_grid - 1)) g = (double)(n_grid - 1);
        size_t j = (size_t)g;
        if (j >= n_grid - 1) j = n_grid - 2;
        double f = g - (double)j;
        bins[j] += 1 - f;
        bins[j + 1] += f;
    }
    double w = n ? 1.0 / (double)n : 0;
    for (size_t i = 0; i < n_grid; i++) {
        double sum = 0;
        size_t k0 = i >= half ? i - half : 0, k1 = i + half < n_grid ? i + half : n_grid - 1;
        for (size_t j = k0; j <= k1; j++) sum += bins[j] * kernel[j + half - i];
        density[i] = sum * w;
    }
    cdz_free(kernel);
    return CDZ_OK;
}

double cdz_metrics_kl(const double *p, const double *q, size_t n, double dx) {
    double kl = 0;
    for (size_t i = 0; i < n; i++) {
        double a = p[i] * dx, b = q[i] * dx;
        if (a > 0) kl += a * log((a + 1e-10) / (b + 1e-10));
    }
    return kl;
}

double cdz_metrics_overlap(const double *p, const double *q, size_t n, double dx) {
    double oa = 0;
    for (size_t i = 0; i < n; i++) oa += (p[i] < q[i] ? p[i] : q[i]) * dx;
    return oa;
}

/* ---- distances ---- */
static double distance(const double *a, const double *b, size_t dim) {
    double s = 0;
    for (size_t k = 0; k < dim; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
    return sqrt(s);
}

static void intra_distances(const double *v, size_t n, size_t dim, double *out) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) out[m++] = distance(v + i * dim, v + j * dim, dim);
}

static void inter_distances(const double *a, size_t na, const double *b, size_t nb, size_t dim, double *out) {
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++) out[i * nb + j] = distance(a + i * dim, b + j * dim, dim);
}

/* A set's values of one feature, one row per file: (n, dim) */
static void gather(const cdz_music_features *f, size_t n, int feature, size_t dim, double *out) {
    for (size_t i = 0; i < n; i++) memcpy(out + i * dim, cdz_metrics_values(&f[i], feature), dim * sizeof *out);
}

void cdz_metrics_comparison_free(cdz_metrics_comparison *c) {
    if (!c) return;
    for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++) {
        cdz_free(c->curves[f].x); /* one block holds x and the three densities */
        memset(&c->curves[f], 0, sizeof c->curves[f]);
    }
}

static void set_moments(const cdz_music_features *f, size_t n, cdz_music_features *mean, cdz_music_features *sd) {
    enum { N = sizeof(cdz_music_features) / sizeof(double) };
    double *m = (double *)(void *)mean, *s = (double *)(void *)sd;
    memset(mean, 0, sizeof *mean);
    memset(sd, 0, sizeof *sd);
    for (size_t i = 0; i < n; i++) {
        const double *v = (const double *)(const void *)&f[i];
        for (size_t k = 0; k < N; k++) m[k] += v[k];
    }
    for (size_t k = 0; k < N; k++) m[k] /= (double)n;
    for (size_t i = 0; i < n; i++) {
        const double *v = (const double *)(const void *)&f[i];
        for (size_t k = 0; k < N; k++) s[k] += (v[k] - m[k]) * (v[k] - m[k]);
    }
    for (size_t k = 0; k < N; k++) s[k] = sqrt(s[k] / (double)(n - 1));
}

static void range_of(const double *x, size_t n, double *lo, double *hi) {
    for (size_t i = 0; i < n; i++) {
        if (x[i] < *lo) *lo = x[i];
        if (x[i] > *hi) *hi = x[i];
    }
}

cdz_status cdz_metrics_compare(const cdz_music_features *gen, size_t n_gen, const cdz_music_features *ref,
                               size_t n_ref, const cdz_metrics_params *params, cdz_metrics_comparison *out,
                               cdz_error *err) {
    if (!out) return cdz_error_set(err, CDZ_ERR_ARG, "metrics: no output for the comparison");
    memset(out, 0, sizeof *out);
    cdz_metrics_params p = params ? *params : cdz_metrics_default_params();
    if ((!gen && n_gen) || (!ref && n_ref))
        return cdz_error_set(err, CDZ_ERR_ARG, "metrics: no feature records given");
    if (n_gen < 2 || n_ref < 2)
        return cdz_error_set(err, CDZ_ERR_ARG, "metrics: the %s set has %zu file%s; comparing needs at least 2 in each",
                             n_gen < 2 ? "generated" : "reference", n_gen < 2 ? n_gen : n_ref,
                             (n_gen < 2 ? n_gen : n_ref) == 1 ? "" : "s");
    if (p.grid_points < 16 || p.grid_points > ((size_t)1 << 24) || !(p.bandwidth_floor > 0) || !(p.bandwidth_floor < 1))
        return cdz_error_set(err, CDZ_ERR_ARG, "metrics: grid_points must be 16 to 2^24 and bandwidth_floor in (0, 1)");
    size_t n_intra_g = n_gen * (n_gen - 1) / 2, n_intra_r = n_ref * (n_ref - 1) / 2, n_inter, total, bytes, vbytes;
    size_t max_dim = 144, n_vals;
    if (!cdz_mul_ok(n_gen, n_gen, &total) || !cdz_mul_ok(n_ref, n_ref, &total) || !cdz_mul_ok(n_gen, n_ref, &n_inter) ||
        !cdz_add_ok(n_inter, n_intra_g, &total) || !cdz_add_ok(total, n_intra_r, &total) ||
        !cdz_mul_ok(total, sizeof(double), &bytes) || !cdz_add_ok(n_gen, n_ref, &n_vals) ||
        !cdz_mul_ok(n_vals, max_dim * sizeof(double), &vbytes))
        return cdz_error_set(err, CDZ_ERR_NOMEM, "metrics: %zu x %zu files are too many to compare", n_gen, n_ref);
    double *dist = cdz_malloc(bytes), *vals = cdz_malloc(vbytes);
    if (!dist || !vals) {
        cdz_free(dist);
        cdz_free(vals);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "metrics: out of memory for the distances of %zu x %zu files", n_gen,
                             n_ref);
    }
    out->n_files[0] = n_gen;
    out->n_files[1] = n_ref;
    set_moments(gen, n_gen, &out->mean[0], &out->std[0]);
    set_moments(ref, n_ref, &out->mean[1], &out->std[1]);

    cdz_status st = CDZ_OK;
    size_t G = p.grid_points;
    for (int f = 0; f < CDZ_METRICS_N_FEATURES && st == CDZ_OK; f++) {
        const cdz_metrics_feature_info *fi = cdz_metrics_describe(f);
        double *vg = vals, *vr = vals + n_gen * fi->dim;
        double *set[3] = {dist, dist + n_intra_g, dist + n_intra_g + n_intra_r}; /* intra gen, intra ref, inter */
        size_t cnt[3] = {n_intra_g, n_intra_r, n_inter};
        gather(gen, n_gen, f, fi->dim, vg);
        gather(ref, n_ref, f, fi->dim, vr);
        intra_distances(vg, n_gen, fi->dim, set[0]);
        intra_distances(vr, n_ref, fi->dim, set[1]);
        inter_distances(vg, n_gen, vr, n_ref, fi->dim, set[2]);

        cdz_metrics_row *row = &out->rows[f];
        mean_std(set[0], cnt[0], &row->intra_mean[0], &row->intra_std[0]);
        mean_std(set[1], cnt[1], &row->intra_mean[1], &row->intra_std[1]);
        mean_std(set[2], cnt[2], &row->inter_mean, &row->inter_std);
        double lo = INFINITY, hi = -INFINITY;
        for (int k = 0; k < 3; k++) range_of(set[k], cnt[k], &lo, &hi);
        double floor_h = hi > lo ? p.bandwidth_floor * (hi - lo) : 1e-3 * (1 + fabs(lo)), h[3], hmax = 0;
        for (int k = 0; k < 3; k++) {
            h[k] = cdz_metrics_silverman_bandwidth(set[k], cnt[k]); /* reorders the distances: no matter */
            if (!(h[k] >= floor_h)) h[k] = floor_h;
            if (h[k] > hmax) hmax = h[k];
        }
        cdz_metrics_curve *cv = &out->curves[f];
        double *block = cdz_calloc(G, 4 * sizeof(double));
        if (!block) {
            st = cdz_error_set(err, CDZ_ERR_NOMEM, "metrics: out of memory for the densities of %s", fi->name);
            break;
        }
        cv->n = G;
        cv->x = block;
        cv->intra[0] = block + G;
        cv->intra[1] = block + 2 * G;
        cv->inter = block + 3 * G;
        cv->bandwidth_intra[0] = h[0];
        cv->bandwidth_intra[1] = h[1];
        cv->bandwidth_inter = h[2];
        double glo = lo - 5 * hmax, ghi = hi + 5 * hmax, dx = (ghi - glo) / (double)(G - 1);
        for (size_t i = 0; i < G; i++) cv->x[i] = glo + dx * (double)i;
        double *dens[3] = {cv->intra[0], cv->intra[1], cv->inter};
        for (int k = 0; k < 3 && st == CDZ_OK; k++) st = cdz_metrics_kde(set[k], cnt[k], h[k], glo, ghi, G, dens[k], err);
        if (st != CDZ_OK) break;
        row->kl = cdz_metrics_kl(cv->intra[0], cv->inter, G, dx);
        row->oa = cdz_metrics_overlap(cv->intra[0], cv->inter, G, dx);
        row->kl_ref = cdz_metrics_kl(cv->intra[1], cv->inter, G, dx);
        row->oa_ref = cdz_metrics_overlap(cv->intra[1], cv->inter, G, dx);
        out->mean_kl += row->kl / CDZ_METRICS_N_FEATURES;
        out->mean_oa += row->oa / CDZ_METRICS_N_FEATURES;
    }
    cdz_free(dist);
    cdz_free(vals);
    if (st != CDZ_OK) cdz_metrics_comparison_free(out);
    return st;
}

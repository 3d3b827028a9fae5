/* A tiny test harness: CHECK macros that count and print failures with expected and actual values,
 * a summary line "<name>: N passed, M failed" that tests/run.sh adds up, and helpers shared by tests. */
#ifndef CADENZA_TEST_H
#define CADENZA_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cadenza.h"
#include "cadenza/model_kind.h" /* tests look inside models (tensors, gradients) */

static int t_passed, t_failed;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (cond) {                                                        \
            t_passed++;                                                    \
        } else {                                                           \
            t_failed++;                                                    \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);         \
            printf(__VA_ARGS__);                                           \
            printf("\n");                                                  \
        }                                                                  \
    } while (0)

#define CHECK_INT(actual, expected)                                                          \
    do {                                                                                     \
        long long a_ = (long long)(actual), e_ = (long long)(expected);                      \
        CHECK(a_ == e_, "%s = %lld, expected %lld", #actual, a_, e_);                        \
    } while (0)

#define CHECK_NEAR(actual, expected, tol)                                                    \
    do {                                                                                     \
        double a_ = (double)(actual), e_ = (double)(expected);                               \
        CHECK(a_ - e_ <= (tol) && e_ - a_ <= (tol), "%s = %.9g, expected %.9g (tolerance %g)", #actual, a_, e_, (double)(tol)); \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle) \
    CHECK(strstr((hay), (needle)) != NULL, "\"%s\" does not contain \"%s\"", (hay), (needle))

/* Reads a small file as text into buf (cut at cap - 1 bytes); "" when it cannot be read. */
static inline void test_slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

/* Runs a shell command line with its stdout and stderr sent to out_path and err_path and read back
 * into out and err; returns the exit status (-1 when it was killed). */
static inline int test_shell(const char *cmd, const char *out_path, const char *err_path, char *out, size_t out_cap,
                             char *err, size_t err_cap) {
    char line[8192];
    snprintf(line, sizeof line, "%s >%s 2>%s", cmd, out_path, err_path);
    int st = system(line);
    test_slurp(out_path, out, out_cap);
    test_slurp(err_path, err, err_cap);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Writes n small melodic MIDI files, tune00.mid ..., into dir: quarter and eighth notes in C major at
 * 100 qpm, 8 bars each; with vary, 8 to 12 bars and another walk through the scale (so that files hold
 * different numbers of tokens). */
static inline void test_write_melodies(const char *dir, int n, int vary) {
    static const int scale[7] = {60, 62, 64, 65, 67, 69, 71};
    for (int f = 0; f < n; f++) {
        cdz_score s;
        cdz_error e;
        cdz_score_init(&s, 480, &e);
        cdz_score_add_tempo(&s, 0, 100);
        int64_t t = 0;
        for (int i = 0; t < 480 * 4 * (8 + (vary ? f % 5 : 0)); i++) {
            int len = (i + f) % 3 == 0 ? 240 : 480, step = vary ? i * (f + 3) + 2 * f : i * (f + 2) + f;
            cdz_score_add_note(&s, 0, 0, 0, (uint8_t)scale[step % 7], 90, t, t + len);
            t += len;
        }
        cdz_score_finish(&s, &e);
        char path[4096];
        snprintf(path, sizeof path, "%s/tune%02d.mid", dir, f);
        cdz_score_write_file(&s, path, 1, &e);
        cdz_score_free(&s);
    }
}

/* The loss of B windows on a session of its own (created and freed here): CDZ_TRAIN adds the
 * gradient into the model's gradient buffer (allocated on first use); stats and mean may be NULL.
 * Dropout is keyed by one draw from rng (NULL: 0), so a generator seeded alike gives the same masks
 * and one that goes on gives new ones. */
static inline cdz_status test_loss(cdz_model *m, const cdz_window *w, int B, cdz_pass pass, cdz_rng *rng,
                                   cdz_loss_stats *stats, float *mean, cdz_error *err) {
    cdz_session *s = NULL;
    cdz_status st = cdz_session_new(&s, m, 1, 0, err);
    if (st != CDZ_OK) return st;
    cdz_batch b = cdz_batch_tokens(w, B);
    cdz_loss_opts o = {pass, 0, rng ? cdz_rng_next(rng) : 0, pass == CDZ_TRAIN ? cdz_model_grads(m) : NULL};
    cdz_loss out = {0};
    st = cdz_model_loss(s, &b, &o, &out, stats, err);
    if (st == CDZ_OK && mean) *mean = out.objective;
    cdz_session_free(s);
    return st;
}

/* One CDZ_TRAIN loss of the windows w[0 .. B) at `offset` in the whole batch (dropout keyed by seed and
 * step 3) on session s: the objective and its tokens; the gradient of the objective copied into g. */
static inline float test_loss_at(cdz_session *s, cdz_model *m, const cdz_window *w, int B, int64_t offset, uint64_t seed,
                                 float *g, int64_t *tokens) {
    cdz_batch b = cdz_batch_tokens(w, B);
    b.offset = offset;
    cdz_loss_opts o = {CDZ_TRAIN, 3, seed, cdz_model_grads(m)};
    cdz_loss out = {0};
    cdz_error err;
    cdz_model_zero_grads(m);
    cdz_status st = cdz_model_loss(s, &b, &o, &out, NULL, &err);
    CHECK(st == CDZ_OK, "%s", err.msg);
    memcpy(g, m->grads, m->n_params * sizeof *g);
    *tokens = out.tokens;
    return st == CDZ_OK ? out.objective : NAN;
}

/* Dropout drawn by each window's place in the whole batch (cadenza/model.h): the training loss and
 * gradient of B windows at once (m with dropout) equal the token-weighted means of those of windows
 * [0, split) at offset 0 and [split, B) at offset split, as a data-parallel run's ranks compute them,
 * up to the order of float sums: the loss within ltol relative, the gradients within gtol of the
 * largest component. The second part at offset 0 instead draws the masks of other windows, and its
 * gradients must then differ by far more, so the check sees the masks. */
static inline void test_split_batch(const char *what, cdz_model *m, const cdz_window *w, int B, int split, double ltol,
                                    double gtol) {
    cdz_session *s = NULL;
    cdz_error err;
    if (cdz_session_new(&s, m, 1, 0, &err) != CDZ_OK) {
        CHECK(0, "%s: %s", what, err.msg);
        return;
    }
    const size_t n = m->n_params;
    float *g = calloc(3 * n, sizeof *g), *ga = g + n, *gb = g + 2 * n;
    int64_t nw = 0, na = 0, nb = 0, nx = 0;
    const uint64_t seed = 1234;
    double whole = test_loss_at(s, m, w, B, 0, seed, g, &nw);
    double la = test_loss_at(s, m, w, split, 0, seed, ga, &na);
    double lb = test_loss_at(s, m, w + split, B - split, split, seed, gb, &nb);
    double parts = (la * (double)na + lb * (double)nb) / (double)(na + nb), gworst = 0, gscale = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double sum = ((double)ga[i] * (double)na + (double)gb[i] * (double)nb) / (double)(na + nb);
        gworst = fmax(gworst, fabs(sum - g[i]));
        gscale = fmax(gscale, fabs((double)g[i]));
    }
    CHECK_INT(nw, na + nb);
    double dl = fabs(parts - whole) / fmax(1.0, fabs(whole)), dg = gworst / gscale;
    CHECK(dl <= ltol, "%s: loss %.9g of %d windows at once, %.9g as %d + %d (tolerance %.1g)", what, whole, B, parts, split,
          B - split, ltol);
    CHECK(dg <= gtol, "%s: gradients of %d windows at once and as %d + %d differ by %.3g of the largest (tolerance %.1g)",
          what, B, split, B - split, dg, gtol);
    test_loss_at(s, m, w + split, B - split, 0, seed, gb, &nx);
    double wrong = 0;
    for (size_t i = 0; i < n; i++)
        wrong = fmax(wrong, fabs(((double)ga[i] * (double)na + (double)gb[i] * (double)nx) / (double)(na + nx) - g[i]));
    wrong /= gscale;
    CHECK(wrong > 100 * gtol, "%s: the second part at offset 0 gives the gradients of offset %d (%.3g off): the masks do "
          "not follow the offset", what, split, wrong);
    printf("%s: %d windows at once and as %d + %d: loss %.7f, %.7f (off by %.2g), gradients off by %.2g of the largest; "
           "the second part at offset 0: gradients %.2g off\n", what, B, split, B - split, whole, parts, dl, dg, wrong);
    free(g);
    cdz_session_free(s);
}

/* Trains m on one batch of B windows for `steps` AdamW steps (lr 0.01, clip 1) and checks that the
 * evaluation loss falls by 90%: a model that can learn can memorise a batch. */
static inline void test_overfit_batch(cdz_model *m, const cdz_window *w, int B, cdz_rng *r, int steps) {
    float *mom = calloc(2 * m->n_params, sizeof *mom), first = 0, loss = 0;
    cdz_adamw_params p = {0.01f, 0.9f, 0.999f, 1e-8f, 0};
    cdz_error err;
    cdz_model_grads(m);
    for (int s = 1; s <= steps && mom; s++) {
        cdz_model_zero_grads(m);
        CHECK(test_loss(m, w, B, CDZ_TRAIN, r, NULL, &loss, &err) == CDZ_OK, "%s", err.msg);
        if (s == 1) first = loss;
        cdz_clip_grad_norm(m->grads, m->n_params, 1);
        cdz_adamw_step(m->params, m->grads, mom, mom + m->n_params, m->n_params, &p, s);
    }
    CHECK(test_loss(m, w, B, CDZ_EVAL, NULL, NULL, &loss, &err) == CDZ_OK, "%s", err.msg);
    CHECK(loss < 0.1 * first, "overfitting one batch: loss %.4f -> %.4f (needs a 90%% fall)", first, loss);
    printf("overfit: loss %.4f -> %.4f\n", first, loss);
    free(mom);
}

/* Compares an analytic gradient with central differences of f over every element of p. */
#define GRAD_CHECK(name, p, n, grad, f)                                                                   \
    do {                                                                                                 \
        double worst_ = 0;                                                                               \
        for (size_t i_ = 0; i_ < (n); i_++) {                                                            \
            float keep_ = (p)[i_];                                                                       \
            const float h_ = 1e-2f;                                                                      \
            (p)[i_] = keep_ + h_;                                                                        \
            double up_ = (f);                                                                            \
            (p)[i_] = keep_ - h_;                                                                        \
            double down_ = (f);                                                                          \
            (p)[i_] = keep_;                                                                             \
            double num_ = (up_ - down_) / (2 * h_), err_ = fabs(num_ - (grad)[i_]) / fmax(1.0, fabs(num_)); \
            if (err_ > worst_) worst_ = err_;                                                            \
        }                                                                                                \
        /* fp32 forward passes and a 1e-2 step: agreement to 1e-3 relative is what float allows */    \
        CHECK(worst_ < 1e-3, "%s: worst relative gradient error %.3g", name, worst_);                   \
    } while (0)

/* A kind's "tiny" named config with some keys replaced (the JSON text of the overrides goes first:
 * the first occurrence of a key wins in cdz_json_get), initialised from seed. 0 (a failed check) if
 * it does not build. */
static inline int test_tiny_model(const cdz_model_kind *kind, cdz_model **m, const char *overrides, uint64_t seed) {
    char json[1024];
    const char *base = kind->named_config("tiny");
    snprintf(json, sizeof json, "{%s%s%s", overrides, overrides[0] ? "," : "", base + 1);
    cdz_error err;
    if (cdz_model_from_json(m, json, strlen(json), "tiny", &err) != CDZ_OK) {
        CHECK(0, "tiny config (%s): %s", overrides, err.msg);
        return 0;
    }
    cdz_model_init_params(*m, seed);
    cdz_model_grads(*m);
    return 1;
}

/* Moves every parameter by up to +-0.3 so that attention weights are far from uniform and every
 * path carries a gradient well above float resolution (at GPT-2 initialisation the attention logits
 * are nearly 0 and their parameters' gradients are tiny). */
static inline void test_shake(cdz_model *m, uint64_t seed) {
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] += (float)(0.6 * cdz_rng_uniform(&r) - 0.3);
}

static inline int test_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, t_passed, t_failed);
    return t_failed ? 1 : 0;
}

/* The corpora: $CADENZA_DATA, else ../shared/data (from the repository root). NULL if neither exists. */
static inline const char *test_data_dir(void) {
    const char *env = getenv("CADENZA_DATA");
    FILE *f;
    static char probe[4096];
    const char *dirs[2] = {env, "../shared/data"};
    for (int i = 0; i < 2; i++) {
        if (!dirs[i] || !dirs[i][0]) continue;
        snprintf(probe, sizeof probe, "%s/README.md", dirs[i]);
        if ((f = fopen(probe, "rb"))) {
            fclose(f);
            return dirs[i];
        }
    }
    return NULL;
}

/* ---- building byte arrays ---- */
typedef struct bytes {
    unsigned char b[1 << 16];
    size_t n;
} bytes;

static inline void by_put(bytes *x, const unsigned char *p, size_t n) {
    memcpy(x->b + x->n, p, n);
    x->n += n;
}
#define BY(x, ...)                                                  \
    do {                                                            \
        const unsigned char tmp_[] = {__VA_ARGS__};                 \
        by_put((x), tmp_, sizeof tmp_);                             \
    } while (0)
static inline void by_be32(bytes *x, unsigned v) { BY(x, (unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v); }
static inline void by_header(bytes *x, unsigned format, unsigned ntrks, unsigned division) {
    BY(x, 'M', 'T', 'h', 'd', 0, 0, 0, 6, (unsigned char)(format >> 8), (unsigned char)format,
       (unsigned char)(ntrks >> 8), (unsigned char)ntrks, (unsigned char)(division >> 8), (unsigned char)division);
}
/* A track chunk around body bytes */
static inline void by_track(bytes *x, const unsigned char *body, size_t n) {
    BY(x, 'M', 'T', 'r', 'k');
    by_be32(x, (unsigned)n);
    by_put(x, body, n);
}
#define BY_TRACK(x, ...)                                            \
    do {                                                            \
        const unsigned char body_[] = {__VA_ARGS__};                \
        by_track((x), body_, sizeof body_);                         \
    } while (0)

#endif

/* ---- allocation failure injection ----
 * fail_at = n makes the n-th allocation (1-based) from now fail; live counts blocks not yet freed. */
typedef struct fail_alloc {
    long count, fail_at, live;
    int failed;
} fail_alloc;
static fail_alloc g_fa;

static void *fa_alloc(void *ctx, size_t size) {
    (void)ctx;
    if (++g_fa.count == g_fa.fail_at) {
        g_fa.failed = 1;
        return NULL;
    }
    void *p = malloc(size);
    if (p) g_fa.live++;
    return p;
}
static void *fa_resize(void *ctx, void *ptr, size_t size) {
    (void)ctx;
    if (++g_fa.count == g_fa.fail_at) {
        g_fa.failed = 1;
        return NULL;
    }
    return realloc(ptr, size);
}
static void fa_release(void *ctx, void *ptr) {
    (void)ctx;
    if (ptr) g_fa.live--;
    free(ptr);
}
static inline void fa_install(long fail_at) {
    static const cdz_allocator a = {fa_alloc, fa_resize, fa_release, NULL};
    g_fa = (fail_alloc){0, fail_at, 0, 0};
    cdz_set_allocator(&a);
}
static inline void fa_remove(void) { cdz_set_allocator(NULL); }

/* Runs `op` (which must free all it allocates on success too) failing allocation 1, 2, ... until it
 * succeeds without a failure. Checks each failure returns CDZ_ERR_NOMEM and leaks nothing. Returns the
 * number of allocation points covered. */
#define FAIL_EACH_ALLOCATION(label, op)                                                              \
    do {                                                                                             \
        long n_ = 1;                                                                                 \
        for (; n_ < 100000; n_++) {                                                                  \
            fa_install(n_);                                                                          \
            cdz_status st_ = (op);                                                                   \
            long live_ = g_fa.live;                                                                  \
            int failed_ = g_fa.failed;                                                               \
            fa_remove();                                                                             \
            if (!failed_) {                                                                          \
                CHECK(st_ == CDZ_OK, "%s: status %d with no allocation failure", label, st_);        \
                CHECK(live_ == 0, "%s: %ld blocks leaked on success", label, live_);                 \
                break;                                                                               \
            }                                                                                        \
            if (st_ != CDZ_ERR_NOMEM || live_ != 0) {                                                \
                CHECK(0, "%s: failing allocation %ld gave status %d, %ld blocks leaked", label, n_, st_, live_); \
                break;                                                                               \
            }                                                                                        \
        }                                                                                            \
        printf("%s: failed each of %ld allocations in turn\n", label, n_ - 1);                       \
        CHECK(n_ > 1, "%s: no allocation was made", label);                                          \
    } while (0)

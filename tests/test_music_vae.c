/* MusicVAE (src/models/music_vae.c, src/sample/vae.c): finite-difference gradient checks of the whole
 * loss for every structure (flat, hierarchical, the trio's three decoders, drum rolls, two encoder
 * layers), the KL term alone (beta large) and below the free bits, scheduled sampling's step-wise path
 * against the layer-wise one, step-wise generation against the training pass, a small model that
 * overfits a batch and reconstructs it, deterministic decoding, latents that matter, checkpoints,
 * refused inputs, slerp and the window features. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "cadenza/train.h"
#include "cadenza/vae.h"
#include "test.h"

/* A config by name with some fields replaced: "key":value pairs appended (later keys win). */
static cdz_model *model_with(const char *name, const char *extra, uint64_t seed) {
    const char *base = cdz_kind_named_config(&cdz_music_vae, name);
    char json[2048];
    /* the extra fields first: a JSON object's first member of a name is the one read */
    snprintf(json, sizeof json, "{%s%s%s", extra ? extra : "", extra && *extra ? "," : "", base + 1);
    cdz_model *m = NULL;
    cdz_error err = {0};
    if (cdz_model_from_json(&m, json, strlen(json), "test", &err) != CDZ_OK) {
        printf("config %s: %s\n", name, err.msg);
        return NULL;
    }
    char *back = cdz_model_config_json(m);
    if (extra && !strchr(extra, ',') && strncmp(extra, "\"sampling_rate\"", 15) != 0) CHECK(back && strstr(back, extra + 1) != NULL, "config %s takes %s: %s", name, extra, back);
    cdz_free(back);
    cdz_model_init_params(m, seed);
    return m;
}

/* Random valid windows of the model: each part's classes, melody-like (mostly no-events; a note-off only
 * ends a sounding note, as in the data). */
static void random_windows(const cdz_model *m, cdz_rng *r, uint16_t *tok, int n) {
    const int L = cdz_vae_window_tokens(m), P = strcmp(m->codec, "vae_trio_16bar") == 0 ? 3 : 1;
    const int drums = strcmp(m->codec, "vae_drums") == 0;
    int sounding[3] = {0};
    for (int i = 0; i < n * L; i++) {
        int p = (i % L) % P;
        if (i % L == 0) sounding[0] = sounding[1] = sounding[2] = 0;
        if (drums || p == 2) tok[i] = (uint16_t)((p == 2 ? 180 : 0) + cdz_rng_below(r, 512) * (cdz_rng_below(r, 3) == 0));
        else {
            uint64_t k = cdz_rng_below(r, 6);
            int cls = k < 3 ? 0 : k == 3 ? (sounding[p] ? 1 : 0) : 2 + 30 + (int)cdz_rng_below(r, 30);
            sounding[p] = cls >= 2 ? 1 : cls == 1 ? 0 : sounding[p];
            tok[i] = (uint16_t)(p * 90 + cls);
        }
    }
}

/* Whole-loss gradient check: in training the draws of eps make the loss a fixed function of the
 * parameters; an evaluation pass would use z = mu, so compare against a training pass's objective
 * computed on zeroed gradients. */
static double test_free_bits;

static double train_loss(cdz_model *m, cdz_session *s, const cdz_batch *b, const cdz_loss_opts *o, float *grads) {
    cdz_error err = {0};
    cdz_loss l;
    memset(grads, 0, m->n_params * sizeof *grads);
    cdz_loss_opts t = *o;
    t.grads = grads;
    if (cdz_model_loss(s, b, &t, &l, NULL, &err)) printf("train loss: %s\n", err.msg);
    /* the objective in double from its terms (the float objective rounds a sum of thousands of nats):
     * recon per token x tokens / windows + beta x (KL - free bits) where above them (the tests' free
     * bits are 0 or far above every window's KL) */
    double free_nats = test_free_bits * log(2.0), kl = l.terms[1].value;
    return l.terms[0].value * (double)l.tokens / b->B + l.terms[3].value * (kl > free_nats ? kl - free_nats : 0);
}

static void grad_check(const char *name, const char *extra, int B, int64_t step) {
    cdz_model *m = model_with(name, extra, 3);
    test_free_bits = extra && strstr(extra, "free_bits") ? 1000 : 0;
    if (!m) {
        CHECK(0, "model %s", name);
        return;
    }
    const int L = cdz_vae_window_tokens(m);
    uint16_t *tok = calloc((size_t)B * L, sizeof *tok);
    cdz_rng r;
    cdz_rng_seed(&r, 11);
    random_windows(m, &r, tok, B);
    cdz_window w[8];
    for (int b = 0; b < B; b++) w[b] = (cdz_window){tok + (size_t)b * L, 0, L};
    cdz_batch batch = cdz_batch_tokens(w, B);
    cdz_session *s = NULL;
    cdz_error err = {0};
    cdz_session_new(&s, m, 1, 0, &err);
    cdz_loss_opts o = {CDZ_TRAIN, step, 7, NULL};
    float *g = calloc(m->n_params, sizeof *g), *scratch = calloc(m->n_params, sizeof *scratch);
    train_loss(m, s, &batch, &o, g);
    int bad = 0, checked = 0;
    double worst = 0;
    char worst_name[64] = "";
    for (size_t t = 0; t < m->n_tensors; t++) {
        const cdz_tensor_info *ti = &m->tensors[t];
        /* three entries per tensor: the largest gradient and two at random */
        size_t pick[3] = {0, cdz_rng_below(&r, ti->numel), cdz_rng_below(&r, ti->numel)};
        for (size_t k = 1; k < ti->numel; k++)
            if (fabsf(g[ti->offset + k]) > fabsf(g[ti->offset + pick[0]])) pick[0] = k;
        for (int j = 0; j < 3; j++) {
            size_t i = ti->offset + pick[j];
            float keep = m->params[i], h = 1e-2f * fmaxf(1.0f, fabsf(keep));
            m->params[i] = keep + h;
            double up = train_loss(m, s, &batch, &o, scratch);
            m->params[i] = keep - h;
            double down = train_loss(m, s, &batch, &o, scratch);
            m->params[i] = keep;
            double num = (up - down) / (2 * h), ana = g[i];
            /* central differences in fp32 of a loss summed over the window's tokens */
            double diff = fabs(num - ana), tol = 2e-2 * fmax(fabs(num), fabs(ana)) + 2e-3;
            checked++;
            if (diff > tol) {
                bad++;
                if (bad <= 30) printf("  %s %s[%zu]: numeric %.6g analytic %.6g\n", name, ti->name, pick[j], num, ana);
            }
            if (diff / (fabs(num) + 1e-3) > worst) worst = diff / (fabs(num) + 1e-3), snprintf(worst_name, sizeof worst_name, "%s", ti->name);
        }
    }
    CHECK(bad == 0, "%s%s%s: %d of %d gradient entries off (worst relative %.3g at %s)", name, extra ? " " : "", extra ? extra : "",
          bad, checked, worst, worst_name);
    free(g), free(scratch), free(tok);
    cdz_session_free(s);
    cdz_model_free(m);
}

/* The eval loss (z = mu) against feeding the same tokens step by step from z = mu: the summed
 * -log p of every token must agree. */
static void step_matches_loss(const char *name) {
    cdz_model *m = model_with(name, NULL, 5);
    const int L = cdz_vae_window_tokens(m), Z = cdz_vae_latent_dim(m), V = (int)cdz_model_vocab(m), B = 2;
    uint16_t *tok = calloc((size_t)B * L, sizeof *tok);
    cdz_rng r;
    cdz_rng_seed(&r, 2);
    random_windows(m, &r, tok, B);
    cdz_error err = {0};
    float *mu = calloc((size_t)B * Z, sizeof *mu);
    CHECK(cdz_vae_encode(m, tok, B, mu, NULL, &err) == CDZ_OK, "%s encode: %s", name, err.msg);
    cdz_window w[2] = {{tok, 0, L}, {tok + L, 0, L}};
    cdz_batch batch = cdz_batch_tokens(w, B);
    cdz_session *s = NULL;
    cdz_session_new(&s, m, B, 0, &err);
    cdz_loss l;
    cdz_loss_opts o = {CDZ_EVAL, 0, 1, NULL};
    cdz_model_loss(s, &batch, &o, &l, NULL, &err);
    double want = l.terms[0].value * (double)B * L; /* recon: mean per token */
    cdz_session_reset(s, B, &err);
    cdz_session_set_latent(s, mu, &err);
    float *logits = calloc((size_t)B * V, sizeof *logits);
    uint16_t fed[2] = {(uint16_t)V, (uint16_t)V};
    double got = 0;
    for (int t = 0; t < L; t++) {
        if (cdz_session_feed(s, fed, logits, &err)) {
            CHECK(0, "%s feed %d: %s", name, t, err.msg);
            break;
        }
        for (int b = 0; b < B; b++) {
            const float *lg = logits + (size_t)b * V;
            double mx = -1e300, sum = 0;
            for (int k = 0; k < V; k++) mx = lg[k] > mx ? lg[k] : mx;
            for (int k = 0; k < V; k++) sum += exp(lg[k] - mx);
            uint16_t y = tok[(size_t)b * L + t];
            got += -(lg[y] - mx - log(sum));
            fed[b] = y;
        }
    }
    CHECK(fabs(got - want) < 1e-3 * fabs(want) + 1e-3, "%s: step-wise -log p %.6f, training pass %.6f", name, got, want);
    /* past the window: refused, saying why */
    cdz_status st = cdz_session_feed(s, fed, logits, &err);
    CHECK(st != CDZ_OK && strstr(err.msg, "window"), "%s: feeding past the window refused (%s)", name, err.msg);
    free(tok), free(mu), free(logits);
    cdz_session_free(s);
    cdz_model_free(m);
}

/* Scheduled sampling that never samples (rate huge: probability ~1e-9) must be teacher forcing, run step
 * by step: the same loss and gradients as the layer-wise path. */
static void stepwise_equals_layerwise(void) {
    cdz_model *a = model_with("tiny_hier", NULL, 9), *b = model_with("tiny_hier", "\"sampling_rate\":1e9", 9);
    const int L = cdz_vae_window_tokens(a), B = 2;
    uint16_t *tok = calloc((size_t)B * L, sizeof *tok);
    cdz_rng r;
    cdz_rng_seed(&r, 4);
    random_windows(a, &r, tok, B);
    cdz_window w[2] = {{tok, 0, L}, {tok + L, 0, L}};
    cdz_batch batch = cdz_batch_tokens(w, B);
    cdz_error err = {0};
    cdz_session *sa = NULL, *sb = NULL;
    cdz_session_new(&sa, a, 1, 0, &err), cdz_session_new(&sb, b, 1, 0, &err);
    cdz_loss_opts o = {CDZ_TRAIN, 3, 5, NULL};
    float *ga = calloc(a->n_params, sizeof *ga), *gb = calloc(b->n_params, sizeof *gb);
    double la = train_loss(a, sa, &batch, &o, ga), lb = train_loss(b, sb, &batch, &o, gb);
    double worst = 0;
    for (size_t i = 0; i < a->n_params; i++) worst = fmax(worst, fabs(ga[i] - gb[i]));
    CHECK(fabs(la - lb) < 1e-4 * fabs(la) && worst < 1e-4, "step-wise decoder: loss %g vs %g, worst gradient difference %g",
          lb, la, worst);
    /* with sampling on (rate 1: probability ~1 after a few steps) the loss changes, and stays finite */
    cdz_model *c = model_with("tiny_hier", "\"sampling_rate\":1", 9);
    cdz_session *sc = NULL;
    cdz_session_new(&sc, c, 1, 0, &err);
    o.step = 50;
    double lc = train_loss(c, sc, &batch, &o, gb);
    CHECK(isfinite(lc) && fabs(lc - la) > 1e-3, "scheduled sampling changes the loss: %g vs teacher-forced %g", lc, la);
    free(ga), free(gb), free(tok);
    cdz_session_free(sa), cdz_session_free(sb), cdz_session_free(sc);
    cdz_model_free(a), cdz_model_free(b), cdz_model_free(c);
}

/* A small model learns four windows, reconstructs them from their mu exactly, decodes deterministically
 * for a seed, and gives different melodies for different latents. */
static void overfit_and_decode(void) {
    cdz_model *m = model_with("tiny_mel_2bar", "\"enc_layers\":1,\"enc_hidden\":24,\"z\":8,\"dec_hidden\":48,\"max_beta\":0.01", 1);
    const int L = cdz_vae_window_tokens(m), Z = cdz_vae_latent_dim(m), B = 4;
    uint16_t tok[4 * 32];
    cdz_rng r;
    cdz_rng_seed(&r, 21);
    random_windows(m, &r, tok, B);
    cdz_window w[4];
    for (int b = 0; b < B; b++) w[b] = (cdz_window){tok + b * L, 0, L};
    cdz_batch batch = cdz_batch_tokens(w, B);
    cdz_error err = {0};
    cdz_session *s = NULL;
    cdz_session_new(&s, m, 1, 0, &err);
    float *g = cdz_model_grads(m), *mo = calloc(m->n_params, sizeof *mo), *vo = calloc(m->n_params, sizeof *vo);
    cdz_adamw_params ap = cdz_adamw_default_params();
    ap.lr = 1e-2f, ap.weight_decay = 0;
    cdz_loss l = {0};
    for (int it = 0; it < 600; it++) {
        cdz_model_zero_grads(m);
        cdz_loss_opts o = {CDZ_TRAIN, it, 3, g};
        cdz_model_loss(s, &batch, &o, &l, NULL, &err);
        cdz_clip_grad_norm(g, m->n_params, 1.0f);
        cdz_adamw_step(m->params, g, mo, vo, m->n_params, &ap, it + 1);
    }
    float mu[4 * 8], sg[4 * 8];
    cdz_vae_encode(m, tok, B, mu, sg, &err);
    uint16_t out[4 * 32], again[4 * 32];
    CHECK(cdz_vae_decode(m, mu, B, 0, 1, out, &err) == CDZ_OK, "decode: %s", err.msg);
    int same = 0;
    for (int i = 0; i < B * L; i++) same += out[i] == tok[i];
    CHECK(same == B * L, "overfit reconstruction: %d of %d tokens (recon %.4f nats/token, kl %.3f)", same, B * L, l.terms[0].value,
          l.terms[1].value);
    CHECK(l.n_terms == 4 && strcmp(l.terms[0].name, "recon") == 0 && strcmp(l.terms[1].name, "kl") == 0, "named loss terms");
    /* sampling is deterministic for a seed, and the seed matters */
    cdz_vae_decode(m, mu, B, 4.0f, 77, out, &err);
    cdz_vae_decode(m, mu, B, 4.0f, 77, again, &err);
    CHECK(memcmp(out, again, sizeof out) == 0, "decoding is deterministic for a seed");
    cdz_vae_decode(m, mu, B, 4.0f, 78, again, &err);
    CHECK(memcmp(out, again, sizeof out) != 0, "another seed draws other tokens");
    /* one row decoded alone draws what it draws among others */
    uint16_t one[32];
    cdz_vae_decode(m, mu, 1, 4.0f, 77, one, &err);
    CHECK(memcmp(one, out, sizeof one) == 0, "a latent's draws do not depend on the batch");
    /* the decoder reads z: the reconstructions of two different latents differ */
    uint16_t a[32], b[32];
    cdz_vae_decode(m, mu, 1, 0, 1, a, &err);
    cdz_vae_decode(m, mu + Z, 1, 0, 1, b, &err);
    CHECK(memcmp(a, b, sizeof a) != 0, "two latents give two melodies");
    /* the windows' features */
    double d = cdz_vae_feature_value(m, CDZ_VAE_DENSITY, tok);
    int onsets = 0;
    for (int i = 0; i < L; i++) onsets += tok[i] >= 2;
    CHECK_NEAR(d, onsets / 2.0, 1e-9);
    /* checkpoints: saved and loaded, the same reconstructions */
    char path[] = "/tmp/cdz_vae_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(cdz_checkpoint_save(path, m, NULL, NULL, 0, &err) == CDZ_OK, "save: %s", err.msg);
    cdz_model *back = NULL;
    CHECK(cdz_checkpoint_load(path, &back, &err) == CDZ_OK, "load: %s", err.msg);
    if (back) {
        uint16_t c[4 * 32];
        cdz_vae_decode(back, mu, B, 0, 1, c, &err);
        cdz_vae_decode(m, mu, B, 0, 1, out, &err);
        CHECK(memcmp(c, out, sizeof c) == 0 && cdz_vae_is(back), "a reloaded model decodes the same");
        cdz_model_free(back);
    }
    unlink(path);
    free(mo), free(vo);
    cdz_session_free(s);
    cdz_model_free(m);
}

static void refusals(void) {
    cdz_error err = {0};
    cdz_model *m = NULL;
    const char *bad_codec = "{\"kind\":\"music_vae\",\"codec\":\"melody\"}";
    CHECK(cdz_model_from_json(&m, bad_codec, strlen(bad_codec), "x.json", &err) == CDZ_ERR_FORMAT && strstr(err.msg, "MusicVAE codec"),
          "a foreign codec refused: %s", err.msg);
    const char *bad_seq = "{\"kind\":\"music_vae\",\"codec\":\"vae_mel_2bar\",\"seq\":64}";
    CHECK(cdz_model_from_json(&m, bad_seq, strlen(bad_seq), "x.json", &err) != CDZ_OK && strstr(err.msg, "seq"),
          "a window length that is not the codec's refused: %s", err.msg);
    const char *flat_trio = "{\"kind\":\"music_vae\",\"codec\":\"vae_trio_16bar\",\"decoder\":\"flat\"}";
    CHECK(cdz_model_from_json(&m, flat_trio, strlen(flat_trio), "x.json", &err) == CDZ_ERR_FORMAT, "a flat trio refused: %s", err.msg);
    /* another kind has no latent space */
    cdz_model *rnn = NULL;
    cdz_model_create(&rnn, "melody_rnn", "basic_rnn", &err);
    float z[4] = {0};
    uint16_t out[32];
    CHECK(cdz_vae_decode(rnn, z, 1, 0, 1, out, &err) == CDZ_ERR_UNSUPPORTED && strstr(err.msg, "music_vae"),
          "a melody_rnn refused by vae decode: %s", err.msg);
    cdz_model_free(rnn);
    /* tokens of the wrong part, and windows of the wrong length */
    m = model_with("tiny_trio", NULL, 1);
    const int L = cdz_vae_window_tokens(m);
    uint16_t *tok = calloc((size_t)L, sizeof *tok);
    cdz_rng r;
    cdz_rng_seed(&r, 1);
    random_windows(m, &r, tok, 1);
    tok[1] = 5; /* a bass token must be 90-179 */
    cdz_window w = {tok, 0, L};
    cdz_batch b = cdz_batch_tokens(&w, 1);
    cdz_session *s = NULL;
    cdz_session_new(&s, m, 1, 0, &err);
    cdz_loss l;
    cdz_loss_opts o = {CDZ_EVAL, 0, 1, NULL};
    CHECK(cdz_model_loss(s, &b, &o, &l, NULL, &err) == CDZ_ERR_FORMAT && strstr(err.msg, "part 1"), "a melody token in the bass: %s",
          err.msg);
    w.n = L - 3;
    CHECK(cdz_model_loss(s, &b, &o, &l, NULL, &err) == CDZ_ERR_ARG && strstr(err.msg, "window"), "a short window: %s", err.msg);
    free(tok);
    cdz_session_free(s);
    cdz_model_free(m);
    /* a score without a 2-bar melody says so */
    m = model_with("tiny_mel_2bar", NULL, 1);
    cdz_score sc;
    cdz_score_init(&sc, 480, &err);
    cdz_score_add_tempo(&sc, 0, 120);
    cdz_score_add_note(&sc, 0, 0, 0, 60, 80, 0, 240);
    cdz_score_finish(&sc, &err);
    cdz_tokens t;
    cdz_status st = cdz_vae_windows(m, &sc, &t, &err);
    CHECK(st == CDZ_ERR_RANGE && strstr(err.msg, "2-bar"), "one short note: %s", err.msg);
    cdz_score_free(&sc);
    cdz_model_free(m);
}

static void latent_math(void) {
    float a[3] = {1, 0, 0}, b[3] = {0, 2, 0}, o[3];
    cdz_vae_slerp(a, b, 3, 0, o);
    CHECK(fabsf(o[0] - 1) < 1e-6f && fabsf(o[1]) < 1e-6f, "slerp at 0 is a");
    cdz_vae_slerp(a, b, 3, 1, o);
    CHECK(fabsf(o[0]) < 1e-6f && fabsf(o[1] - 2) < 1e-6f, "slerp at 1 is b");
    cdz_vae_slerp(a, b, 3, 0.5, o);
    CHECK(fabsf(o[0] - (float)(sin(3.14159265358979 / 4))) < 1e-6f && fabsf(o[1] - 2 * o[0]) < 1e-6f, "slerp halfway: %g %g", o[0],
          o[1]);
    cdz_vae_slerp(a, a, 3, 0.3, o);
    CHECK(fabsf(o[0] - 1) < 1e-6f, "slerp of parallel vectors");
    cdz_vae_similar(a, 3, 1.0, 5, o);
    CHECK(o[0] == 1 && o[1] == 0, "similar at 1 is the latent itself");
    cdz_error err = {0};
    cdz_vae_feature f;
    CHECK(cdz_vae_feature_parse("loudness", &f, &err) == CDZ_ERR_ARG && strstr(err.msg, "syncopation"), "unknown feature: %s", err.msg);
    /* features of a known window: C D E G on beats and one off-beat F#, range 7, one of five off the grid */
    cdz_model *m = model_with("tiny_mel_2bar", NULL, 1);
    uint16_t w[32] = {0};
    const int pitches[5] = {60, 62, 64, 67, 66}, at[5] = {0, 4, 8, 12, 17};
    for (int i = 0; i < 5; i++) w[at[i]] = (uint16_t)(pitches[i] - 21 + 2);
    CHECK_NEAR(cdz_vae_feature_value(m, CDZ_VAE_DENSITY, w), 2.5, 1e-9);
    CHECK_NEAR(cdz_vae_feature_value(m, CDZ_VAE_RANGE, w), 7, 1e-9);
    CHECK_NEAR(cdz_vae_feature_value(m, CDZ_VAE_SYNCOPATION, w), 0.2, 1e-9);
    CHECK_NEAR(cdz_vae_feature_value(m, CDZ_VAE_IN_KEY, w), 1.0, 1e-9); /* G major holds all five */
    /* the attribute vector points from low to high density */
    uint16_t many[16 * 32] = {0};
    for (int i = 0; i < 16; i++)
        for (int s = 0; s < 32; s += 1 + i) many[i * 32 + s] = 41;
    float vec[4];
    double top = 0, bottom = 0;
    CHECK(cdz_vae_attribute_vector(m, CDZ_VAE_DENSITY, many, 16, vec, &top, &bottom, &err) == CDZ_OK && top > bottom,
          "attribute vector: top %g bottom %g", top, bottom);
    CHECK(cdz_vae_attribute_vector(m, CDZ_VAE_DENSITY, many, 5, vec, &top, &bottom, &err) == CDZ_ERR_RANGE && strstr(err.msg, "5"),
          "too few windows: %s", err.msg);
    cdz_model_free(m);
}

/* The same model on the reference backend (plain loops, double sums) and the CPU's: the loss, its
 * gradient and the decoded windows agree (a decoder that draws from slightly different logits could
 * differ by one token at a near tie; greedy decoding of a random model keeps clear margins here). */
static void backend_parity(const char *name) {
    cdz_model *a = model_with(name, "\"sampling_rate\":1", 4), *b = model_with(name, "\"sampling_rate\":1", 4);
    cdz_error err = {0};
    CHECK(cdz_model_set_backend(b, cdz_backend_reference(), &err) == CDZ_OK, "reference backend: %s", err.msg);
    const int L = cdz_vae_window_tokens(a), Z = cdz_vae_latent_dim(a), B = 2;
    uint16_t *tok = calloc((size_t)B * L, sizeof *tok);
    cdz_rng r;
    cdz_rng_seed(&r, 6);
    random_windows(a, &r, tok, B);
    cdz_window w[2] = {{tok, 0, L}, {tok + L, 0, L}};
    cdz_batch batch = cdz_batch_tokens(w, B);
    cdz_session *sa = NULL, *sb = NULL;
    cdz_session_new(&sa, a, 1, 0, &err), cdz_session_new(&sb, b, 1, 0, &err);
    cdz_loss_opts o = {CDZ_TRAIN, 40, 5, NULL}; /* scheduled sampling on: the step-wise path too */
    float *ga = calloc(a->n_params, sizeof *ga), *gb = calloc(b->n_params, sizeof *gb);
    double la = train_loss(a, sa, &batch, &o, ga), lb = train_loss(b, sb, &batch, &o, gb);
    double gmax = 0, worst = 0;
    for (size_t i = 0; i < a->n_params; i++) gmax = fmax(gmax, fabs(gb[i])), worst = fmax(worst, fabs(ga[i] - gb[i]));
    CHECK(fabs(la - lb) <= 1e-5 * fmax(1, fabs(lb)) && worst <= 1e-4 * gmax, "%s cpu vs reference: loss %.8g vs %.8g, gradient %.3g of %.3g",
          name, la, lb, worst, gmax);
    float *mu = calloc((size_t)B * Z, sizeof *mu);
    uint16_t *da = calloc((size_t)B * L, sizeof *da), *db = calloc((size_t)B * L, sizeof *db);
    cdz_vae_encode(b, tok, B, mu, NULL, &err);
    cdz_vae_decode(a, mu, B, 0, 1, da, &err);
    cdz_vae_decode(b, mu, B, 0, 1, db, &err);
    int same = 0;
    for (int i = 0; i < B * L; i++) same += da[i] == db[i];
    CHECK(same >= B * L - 1, "%s cpu vs reference greedy decoding: %d of %d tokens agree", name, same, B * L);
    free(tok), free(ga), free(gb), free(mu), free(da), free(db);
    cdz_session_free(sa), cdz_session_free(sb);
    cdz_model_free(a), cdz_model_free(b);
}

/* A note-off is drawn only while a note sounds, even from a random model at a high temperature. */
static void decoding_keeps_melodies_valid(const char *name) {
    cdz_model *m = model_with(name, NULL, 8);
    const int L = cdz_vae_window_tokens(m), Z = cdz_vae_latent_dim(m), n = 16, P = strcmp(name, "tiny_trio") == 0 ? 3 : 1;
    float *z = calloc((size_t)n * Z, sizeof *z);
    for (int i = 0; i < n; i++) cdz_vae_random_latent(z + (size_t)i * Z, Z, 1.0f, (uint64_t)i);
    uint16_t *tok = calloc((size_t)n * L, sizeof *tok);
    cdz_error err = {0};
    CHECK(cdz_vae_decode(m, z, n, 3.0f, 2, tok, &err) == CDZ_OK, "decode: %s", err.msg);
    int bad = 0, offs = 0;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < P && p < 2; p++) {
            int sounding = 0;
            for (int t = p; t < L; t += P) {
                int k = tok[(size_t)i * L + t] - p * 90;
                if (k == 1) bad += !sounding, offs++, sounding = 0;
                else if (k >= 2) sounding = 1;
            }
        }
    CHECK(bad == 0 && offs > 0, "%s: %d of %d note-offs after silence", name, bad, offs);
    free(z), free(tok);
    cdz_model_free(m);
}

int main(void) {
    grad_check("tiny_mel_2bar", NULL, 3, 50);
    grad_check("tiny_mel_2bar", "\"max_beta\":50", 2, 100);        /* the KL term dominates */
    grad_check("tiny_mel_2bar", "\"free_bits\":1000", 2, 100);     /* KL below the free bits: no KL gradient */
    grad_check("tiny_hier", NULL, 2, 50);
    grad_check("tiny_trio", NULL, 2, 50);
    grad_check("tiny_drums", NULL, 2, 50);
    step_matches_loss("tiny_mel_2bar");
    step_matches_loss("tiny_hier");
    step_matches_loss("tiny_trio");
    step_matches_loss("tiny_drums");
    stepwise_equals_layerwise();
    decoding_keeps_melodies_valid("tiny_mel_2bar");
    decoding_keeps_melodies_valid("tiny_trio");
    backend_parity("tiny_mel_2bar");
    backend_parity("tiny_trio");
    backend_parity("tiny_drums");
    overfit_and_decode();
    refusals();
    latent_math();
    printf("test_music_vae: %d passed, %d failed\n", t_passed, t_failed);
    return t_failed != 0;
}

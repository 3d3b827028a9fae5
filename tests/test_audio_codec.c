/* The audio codec (src/models/audio_codec.c, cadenza/audio_codec.h): its configs, the decoder's
 * gradient and the encoder's commitment gradient against finite differences, the whole codec
 * overfitting a short clip through the trainer (audio shards, the EMA codebooks' after_step), nested
 * bitrates, chunked coding of a long clip equal to one pass, and the .codes file: a round trip, and
 * truncated, altered and out-of-range files refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cadenza/audio_codec.h"
#include "cadenza/audio_metrics.h"
#include "cadenza/audio_prior.h"
#include "cadenza/model_kind.h"
#include "cadenza/train.h"
#include "test.h"

static char tmpdir[] = "/tmp/cadenza_codec_XXXXXX";

/* codec_tiny with some keys replaced (the overrides' JSON first: the first occurrence wins). */
static cdz_model *tiny(const char *overrides, uint64_t seed) {
    char json[2048];
    const char *base = cdz_audio_codec.named_config("codec_tiny");
    snprintf(json, sizeof json, "{%s%s%s", overrides, overrides[0] ? "," : "", base + 1);
    cdz_model *m = NULL;
    cdz_error err = {0};
    if (cdz_model_from_json(&m, json, strlen(json), "tiny", &err) != CDZ_OK) {
        CHECK(0, "codec_tiny (%s): %s", overrides, err.msg);
        return NULL;
    }
    cdz_model_init_params(m, seed);
    cdz_model_grads(m);
    return m;
}

/* Two sines and a little noise, int16. */
static int16_t *clip(size_t n, double f1, double f2, uint64_t seed) {
    int16_t *x = malloc(n * sizeof *x);
    cdz_rng r;
    cdz_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (int16_t)lrint(32767 * (0.3 * sin(2 * 3.14159265358979 * f1 * i / 24000) + 0.2 * sin(2 * 3.14159265358979 * f2 * i / 24000) +
                                       0.02 * (2 * cdz_rng_uniform(&r) - 1)));
    return x;
}

static void test_configs(void) {
    cdz_model *m = NULL;
    cdz_error err = {0};
    CHECK(cdz_model_create(&m, "audio_codec", NULL, &err) == CDZ_OK, "%s", err.msg);
    if (m) {
        cdz_audio_codec_shape s = cdz_audio_codec_shape_of(m);
        CHECK(s.rate == 24000 && s.hop == 320 && s.books == 8 && s.codebook == 1024, "codec_small: %u Hz, hop %d, %d x %d", s.rate,
              s.hop, s.books, s.codebook);
        CHECK(fabs(cdz_audio_codec_kbps(&s, 8) - 6.0) < 1e-9 && fabs(cdz_audio_codec_kbps(&s, 1) - 0.75) < 1e-9,
              "8 books are 6 kbps, one 0.75");
        CHECK(cdz_model_audio_rate(m) == 24000, "reads audio at 24 kHz");
        cdz_model_free(m);
    }
    const char *bad[] = {"{\"kind\":\"audio_codec\",\"seq\":1000}", "{\"kind\":\"audio_codec\",\"strides\":[2,0]}",
                         "{\"kind\":\"audio_codec\",\"channels\":512,\"strides\":[2,2,2,2,2,2]}",
                         "{\"kind\":\"audio_codec\",\"books\":0}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        m = NULL;
        CHECK(cdz_model_from_json(&m, bad[i], strlen(bad[i]), "bad", &err) == CDZ_ERR_FORMAT, "refused %s: %s", bad[i], err.msg);
        cdz_model_free(m);
    }
}

static double loss_of(cdz_session *s, const cdz_window *w, int B, float *grads) {
    cdz_batch b = cdz_batch_audio(w, B);
    cdz_loss_opts o = {grads ? CDZ_TRAIN : CDZ_EVAL, 0, 1, grads};
    cdz_loss out;
    cdz_error err = {0};
    if (cdz_model_loss(s, &b, &o, &out, NULL, &err) != CDZ_OK) {
        CHECK(0, "loss: %s", err.msg);
        return NAN;
    }
    return out.objective;
}

/* Central differences over a few entries of a tensor, against the analytic gradient, at steps h and
 * h / 2: an entry passes when either agrees (a quantizer's code that flips within one step makes that
 * difference jump; it seldom flips within both). */
static void grad_check(cdz_model *m, cdz_session *s, const cdz_window *w, int B, const char *tensor, int count, float h, double tol) {
    const cdz_tensor_info *t = cdz_model_tensor(m, tensor);
    CHECK(t != NULL, "tensor %s", tensor);
    if (!t) return;
    cdz_model_zero_grads(m);
    loss_of(s, w, B, m->grads);
    double worst = 0;
    for (int k = 0; k < count; k++) {
        size_t i = t->offset + (size_t)k * t->numel / (size_t)count;
        float keep = m->params[i];
        double best = INFINITY, fds[2];
        for (int a = 0; a < 2; a++) {
            float step = a ? h / 2 : h;
            m->params[i] = keep + step;
            double up = loss_of(s, w, B, NULL);
            m->params[i] = keep - step;
            double down = loss_of(s, w, B, NULL);
            m->params[i] = keep;
            fds[a] = (up - down) / (2 * (double)step);
            best = fmin(best, fabs(fds[a] - m->grads[i]) / fmax(0.05, fabs(fds[a])));
        }
        if (best > worst) worst = best;
        if (best > tol) printf("  %s[%zu]: analytic %g, differences %g, %g\n", tensor, i - t->offset, m->grads[i], fds[0], fds[1]);
    }
    CHECK(worst <= tol, "%s: gradient by differences, worst relative error %.3g", tensor, worst);
}

static void test_gradients(void) {
    if (!cdz_audio_metrics_available()) {
        printf("skipped: codec gradients (no KissFFT in this build)\n");
        return;
    }
    enum { T = 2048, B = 2 };
    int16_t *a = clip(T, 440, 1234, 1), *b2 = clip(T, 300, 2000, 2);
    cdz_window w[B] = {{.audio = a, .start = 0, .n = T}, {.audio = b2, .start = 0, .n = T}};
    /* the decoder, through the waveform loss (no quantizer dropout: the same books each pass). The
     * spectral losses' gradients are checked in test_audio_metrics: their log terms curve too sharply
     * at an untrained decoder's tiny output for differences of a whole network's loss in float. */
    cdz_model *m = tiny("\"q_dropout\":0,\"w_mel\":0,\"w_stft\":0,\"w_wave\":1", 3);
    cdz_session *s = NULL;
    cdz_error err = {0};
    if (m && cdz_session_new(&s, m, 1, 0, &err) == CDZ_OK) {
        loss_of(s, w, B, m->grads);                       /* the first step's restarts put the codes on the data */
        cdz_model_kind_of(m)->after_step(m, cdz_session_kind_state(s), 0);
        grad_check(m, s, w, B, "dec.out.weight_v", 6, 1e-3f, 0.02);
        grad_check(m, s, w, B, "dec.out.bias", 1, 1e-3f, 0.02);
        grad_check(m, s, w, B, "dec.in.weight_g", 4, 1e-3f, 0.02);
        grad_check(m, s, w, B, "dec.1.up.weight_v", 6, 1e-3f, 0.02);
        grad_check(m, s, w, B, "dec.0.res0.conv1.weight_v", 6, 1e-3f, 0.02);
    }
    cdz_session_free(s);
    cdz_model_free(m);
    /* the encoder through the commitment loss alone: with the codes fixed by small steps, its gradient
     * is what the straight-through estimator adds to the decoder's */
    m = tiny("\"q_dropout\":0,\"w_mel\":0,\"w_stft\":0,\"w_wave\":0,\"beta\":1", 4);
    s = NULL;
    if (m && cdz_session_new(&s, m, 1, 0, &err) == CDZ_OK) {
        loss_of(s, w, B, m->grads);
        cdz_model_kind_of(m)->after_step(m, cdz_session_kind_state(s), 0);
        grad_check(m, s, w, B, "enc.out.weight_v", 6, 1e-4f, 0.05);
        grad_check(m, s, w, B, "enc.0.down.weight_g", 4, 1e-4f, 0.05);
        grad_check(m, s, w, B, "enc.in.bias", 2, 1e-4f, 0.05);
        const cdz_tensor_info *t = cdz_model_tensor(m, "dec.out.weight_v");
        double dec = 0;
        for (size_t i = 0; t && i < t->numel; i++) dec += fabs(m->grads[t->offset + i]);
        CHECK(t && dec == 0, "the commitment loss gives the decoder no gradient (%g)", dec);
    }
    cdz_session_free(s);
    cdz_model_free(m);
    /* refusals */
    m = tiny("", 5);
    s = NULL;
    if (m && cdz_session_new(&s, m, 1, 0, &err) == CDZ_OK) {
        cdz_window odd = {.audio = a, .start = 0, .n = 2001};
        cdz_batch bb = cdz_batch_audio(&odd, 1);
        cdz_loss_opts o = {CDZ_EVAL, 0, 1, NULL};
        CHECK(cdz_model_loss(s, &bb, &o, NULL, NULL, &err) == CDZ_ERR_ARG && strstr(err.msg, "multiple of its hop"),
              "a window of 2001 samples (not a multiple of the hop of 16) refused: %s", err.msg);
        uint16_t toks[8] = {0};
        cdz_window tw = {.seq = toks, .start = 0, .n = 8};
        bb = cdz_batch_tokens(&tw, 1);
        CHECK(cdz_model_loss(s, &bb, &o, NULL, NULL, &err) == CDZ_ERR_ARG && strstr(err.msg, "audio windows"), "tokens refused: %s",
              err.msg);
    }
    cdz_session_free(s);
    cdz_model_free(m);
    free(a), free(b2);
}

/* An audio shard of the clips, train split; returns its path. */
static const char *write_shard(const char *name, int16_t *const *clips, const size_t *lens, int n) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    cdz_shard_writer w;
    cdz_error err = {0};
    CHECK_INT(cdz_shard_writer_init_typed(&w, "render", CDZ_DTYPE_AUDIO, 24000, &err), CDZ_OK);
    for (int i = 0; i < n; i++) CHECK_INT(cdz_shard_writer_add_elements(&w, clips[i], lens[i], CDZ_SPLIT_TRAIN, &err), CDZ_OK);
    CHECK_INT(cdz_shard_writer_finish(&w, path, &err), CDZ_OK);
    cdz_shard_writer_free(&w);
    return path;
}

/* The codec learns a short clip through the trainer: SI-SDR of its decoding climbs far above that of
 * the untrained codec, and every book's codes are used. */
static void test_overfit(void) {
    if (!cdz_audio_metrics_available()) {
        printf("skipped: codec overfit (no KissFFT in this build)\n");
        return;
    }
    enum { T = 2048 };
    int16_t *a = clip(T, 440, 1234, 7);
    size_t len = T;
    const char *path = write_shard("overfit.cdz", &a, &len, 1);
    cdz_dataset ds;
    cdz_error err = {0};
    cdz_model *m = tiny("\"q_dropout\":0,\"seq\":2048,\"batch\":1", 9);
    if (!m || cdz_dataset_open(&ds, path, &err) != CDZ_OK) {
        CHECK(0, "%s", err.msg);
        free(a);
        cdz_model_free(m);
        return;
    }
    float x[T];
    for (int i = 0; i < T; i++) x[i] = a[i] / 32768.0f;
    double before = 0, after = 0;
    for (int phase = 0; phase < 2; phase++) {
        if (phase == 1) {
            cdz_trainer t;
            cdz_train_config cfg = cdz_train_config_for(m);
            cfg.steps = 300, cfg.lr = 3e-3f, cfg.warmup_steps = 10;
            CHECK_INT(cdz_trainer_init(&t, m, &ds, &cfg, &err), CDZ_OK);
            cdz_train_step_info info;
            float first = 0;
            while (t.step < cfg.steps && cdz_trainer_step(&t, &info, &err) == CDZ_OK)
                if (t.step == 1) first = info.loss;
            CHECK(t.step == cfg.steps, "300 steps: %s", err.msg);
            printf("codec overfit: loss %.3f -> %.3f\n", first, info.loss);
            cdz_trainer_free(&t);
        }
        int32_t *codes = NULL;
        size_t frames = 0, n = 0;
        float *y = NULL;
        CHECK_INT(cdz_audio_codec_encode(m, x, T, 4, &codes, &frames, &err), CDZ_OK);
        CHECK_INT(cdz_audio_codec_decode(m, codes, frames, 4, &y, &n, &err), CDZ_OK);
        CHECK(frames == T / 16 && n == T, "%zu frames, %zu samples", frames, n);
        double sdr = y ? cdz_si_sdr(x, y, T) : -INFINITY;
        if (phase == 0) before = sdr;
        else after = sdr;
        if (phase == 1) {
            int used[4][16] = {{0}}, distinct = 0;
            for (size_t f = 0; codes && f < frames; f++)
                for (int q = 0; q < 4; q++) used[q][codes[f * 4 + (size_t)q]] = 1;
            for (int q = 0; q < 4; q++)
                for (int k = 0; k < 16; k++) distinct += used[q][k];
            CHECK(distinct >= 16, "the books' codes in use: %d of 64", distinct);
        }
        free(codes), free(y);
    }
    printf("codec overfit: SI-SDR %.2f dB untrained, %.2f dB after 300 steps\n", before, after);
    CHECK(after > 10 && after > before + 10, "the codec overfits a clip: SI-SDR %.2f dB (untrained %.2f)", after, before);
    cdz_dataset_close(&ds);
    cdz_model_free(m);
    free(a);
}

/* Fewer books give the prefix of the codes of more; a clip longer than one chunk is coded as one
 * pass would (frames around the chunk border against a clip that holds them in one chunk). */
static void test_bitrates_and_chunks(void) {
    cdz_model *m = tiny("", 11);
    if (!m) return;
    cdz_error err = {0};
    const size_t n = 24000 * 15; /* 15 s: chunks of 4 s */
    int16_t *a16 = clip(n, 220, 3100, 12);
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = a16[i] / 32768.0f;
    /* codebooks spread over the encodings' scale: run one loss and its after_step */
    cdz_session *s = NULL;
    cdz_window w = {.audio = a16, .start = 0, .n = 2048};
    if (cdz_session_new(&s, m, 1, 0, &err) == CDZ_OK) {
        loss_of(s, &w, 1, m->grads);
        cdz_model_kind_of(m)->after_step(m, cdz_session_kind_state(s), 0);
    }
    cdz_session_free(s);
    int32_t *c4 = NULL, *c2 = NULL;
    size_t f4 = 0, f2 = 0;
    CHECK_INT(cdz_audio_codec_encode(m, x, n, 4, &c4, &f4, &err), CDZ_OK);
    CHECK_INT(cdz_audio_codec_encode(m, x, n, 2, &c2, &f2, &err), CDZ_OK);
    size_t same = 0;
    for (size_t f = 0; c4 && c2 && f < f4; f++) same += c2[f * 2] == c4[f * 4] && c2[f * 2 + 1] == c4[f * 4 + 1];
    CHECK(f2 == f4 && same == f4, "2 books are the prefix of 4: %zu of %zu frames", same, f4);
    /* chunks are 4 s (6,000 frames at hop 16): frames 11,000 .. 13,000 straddle the second chunk's end
     * (12,000); the sub-clip from frame 10,000 holds them in one chunk with more than the codec's reach
     * around them */
    const size_t from = 10000, hop = 16;
    int32_t *cs = NULL;
    size_t fs = 0;
    CHECK_INT(cdz_audio_codec_encode(m, x + from * hop, 5000 * hop, 4, &cs, &fs, &err), CDZ_OK);
    size_t agree = 0, total = 0;
    for (size_t f = 11000; cs && c4 && f < 13000; f++, total++) agree += memcmp(&cs[(f - from) * 4], &c4[f * 4], 4 * sizeof *cs) == 0;
    CHECK(agree >= total * 99 / 100, "chunked codes as one pass's: %zu of %zu frames", agree, total);
    float *y = NULL, *ys = NULL;
    size_t ny = 0, nys = 0;
    CHECK_INT(cdz_audio_codec_decode(m, c4, f4, 4, &y, &ny, &err), CDZ_OK);
    CHECK_INT(cdz_audio_codec_decode(m, cs, fs, 4, &ys, &nys, &err), CDZ_OK);
    double worst = 0;
    for (size_t i = 11000 * hop; y && ys && i < 13000 * hop; i++) worst = fmax(worst, fabs(y[i] - ys[i - from * hop]));
    CHECK(y && ys && worst < 1e-3, "chunked decoding as one pass's (worst difference %.3g)", worst);
    free(ys), free(c2);
    ys = NULL, c2 = NULL;
    c4[5] = 16;
    CHECK(cdz_audio_codec_decode(m, c4, f4, 4, &ys, &nys, &err) == CDZ_ERR_RANGE && strstr(err.msg, "16 entries"), "%s", err.msg);
    CHECK(cdz_audio_codec_encode(m, x, n, 5, &c2, &f2, &err) == CDZ_ERR_ARG, "5 books of 4 refused: %s", err.msg);
    free(c4), free(c2), free(cs), free(y), free(ys), free(x), free(a16);
    cdz_model_free(m);
}

static void test_codes_file(void) {
    char path[4200];
    snprintf(path, sizeof path, "%s/x.codes", tmpdir);
    enum { F = 37, Q = 3 };
    uint16_t codes[F * Q];
    for (int i = 0; i < F * Q; i++) codes[i] = (uint16_t)((i * 97) % 1024);
    cdz_codes c = {{24000, 320, Q, 1024}, F, F * 320 - 100, codes}, r;
    cdz_error err = {0};
    CHECK_INT(cdz_codes_write(path, &c, &err), CDZ_OK);
    CHECK_INT(cdz_codes_read(path, &r, &err), CDZ_OK);
    CHECK(r.shape.rate == 24000 && r.shape.hop == 320 && r.shape.books == Q && r.shape.codebook == 1024 && r.frames == F &&
              r.samples == F * 320 - 100 && r.codes && memcmp(r.codes, codes, sizeof codes) == 0,
          "round trip");
    cdz_codes_free(&r);
    uint8_t *raw = NULL;
    size_t len = 0;
    CHECK_INT(cdz_file_read_all(path, &raw, &len, &err), CDZ_OK);
    CHECK(len == 64 + sizeof codes, "%zu raw", len);
    int refused = 0;
    for (size_t cut = 0; cut < len; cut += cut < 70 ? 1 : 13) refused += cdz_codes_parse(raw, cut, "cut", &r, &err) == CDZ_ERR_FORMAT;
    size_t cuts = 0;
    for (size_t cut = 0; cut < len; cut += cut < 70 ? 1 : 13) cuts++;
    CHECK(refused == (int)cuts, "every truncation refused (%d of %zu): %s", refused, cuts, err.msg);
    CHECK(cdz_codes_parse(raw, len - 1, "short", &r, &err) == CDZ_ERR_FORMAT && strstr(err.msg, "truncated"), "%s", err.msg);
    raw[64 + 5] ^= 1;
    CHECK(cdz_codes_parse(raw, len, "flip", &r, &err) == CDZ_ERR_FORMAT && strstr(err.msg, "checksum"), "%s", err.msg);
    raw[64 + 5] ^= 1;
    raw[8] = 2;
    CHECK(cdz_codes_parse(raw, len, "v2", &r, &err) == CDZ_ERR_FORMAT && strstr(err.msg, "version 2"), "%s", err.msg);
    raw[8] = 1;
    raw[20] = 0; /* no books */
    CHECK(cdz_codes_parse(raw, len, "books", &r, &err) == CDZ_ERR_FORMAT, "%s", err.msg);
    free(raw);
    codes[4] = 1024;
    CHECK(cdz_codes_write(path, &c, &err) == CDZ_ERR_RANGE, "a code past the codebook is not written: %s", err.msg);
    /* a file whose checksum is right but whose code is past the codebook (a codebook of 512 claimed) */
    codes[4] = 600;
    c.shape.codebook = 1024;
    CHECK_INT(cdz_codes_write(path, &c, &err), CDZ_OK);
    CHECK_INT(cdz_file_read_all(path, &raw, &len, &err), CDZ_OK);
    raw[24] = 0, raw[25] = 2; /* 512 */
    CHECK(cdz_codes_parse(raw, len, "past", &r, &err) == CDZ_ERR_FORMAT && strstr(err.msg, "past the codebook"), "%s", err.msg);
    free(raw);
    CHECK(cdz_codes_read("/nonexistent/x.codes", &r, &err) != CDZ_OK && strstr(err.msg, "/nonexistent/x.codes"), "%s", err.msg);
}

/* The prior's tokens: the layout against a codec, a dataset from an audio shard (splits kept, one
 * sequence per clip, style first), and generation: the primer's codes kept, every code in range, the
 * same seed the same codes. */
static void test_prior(void) {
    cdz_model *codec = tiny("", 21);
    if (!codec) return;
    cdz_error err = {0};
    cdz_audio_codec_shape sh = cdz_audio_codec_shape_of(codec);
    const char *pj = "{\"kind\":\"music_transformer\",\"config_name\":\"p\",\"codec\":\"none\",\"vocab\":40,"
                     "\"attention\":\"relative\",\"layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":32,"
                     "\"max_relative\":32,\"dropout\":0,\"batch\":2,\"seq\":16}";
    cdz_model *prior = NULL;
    CHECK_INT(cdz_model_from_json(&prior, pj, strlen(pj), "prior", &err), CDZ_OK);
    if (!prior) {
        cdz_model_free(codec);
        return;
    }
    cdz_model_init_params(prior, 3);
    cdz_audio_prior_layout L;
    CHECK(cdz_audio_prior_layout_of(prior, &sh, &L, &err) == CDZ_OK && L.books == 2 && L.codebook == 16, "2 books of 16: %s", err.msg);
    cdz_audio_codec_shape other = sh;
    other.codebook = 24;
    CHECK(cdz_audio_prior_layout_of(prior, &other, &L, &err) == CDZ_ERR_ARG && strstr(err.msg, "another codec"), "%s", err.msg);
    cdz_audio_prior_layout_of(prior, &sh, &L, &err);
    int32_t codes[6] = {1, 2, 3, 4, 15, 0};
    uint16_t toks[7];
    cdz_audio_prior_tokens(&L, 3, codes, 3, 2, toks);
    const uint16_t want[7] = {35, 1, 18, 3, 20, 15, 16};
    CHECK(memcmp(toks, want, sizeof want) == 0, "tokens: style 32 + 3, then q 16 + code");
    CHECK(cdz_audio_prior_style_find("jazz") == 4 && strcmp(cdz_audio_prior_style_name(0), "pop") == 0 &&
              cdz_audio_prior_style_find("metal") == -1, "style names");
    /* generation, past the prior's 32-token window (it slides) */
    enum { FR = 40 };
    int32_t a[FR * 2], b[FR * 2], primer[6] = {5, 6, 7, 8, 9, 10};
    cdz_sample_params sp = cdz_sample_default_params();
    cdz_rng r1, r2;
    cdz_rng_seed(&r1, 7), cdz_rng_seed(&r2, 7);
    CHECK_INT(cdz_audio_prior_generate(prior, &L, 0, primer, 3, FR, &sp, &r1, a, NULL, NULL, &err), CDZ_OK);
    CHECK_INT(cdz_audio_prior_generate(prior, &L, 0, primer, 3, FR, &sp, &r2, b, NULL, NULL, &err), CDZ_OK);
    int in_range = 1;
    for (int i = 0; i < FR * 2; i++) in_range &= a[i] >= 0 && a[i] < 16;
    CHECK(in_range && memcmp(a, primer, sizeof primer) == 0 && memcmp(a, b, sizeof a) == 0,
          "primer kept, codes in range, the same seed the same codes");
    float *y = NULL;
    size_t ny = 0;
    CHECK(cdz_audio_codec_decode(codec, a, FR, 2, &y, &ny, &err) == CDZ_OK && ny == FR * 16, "generated codes decode: %s", err.msg);
    free(y);
    CHECK(cdz_audio_prior_generate(prior, &L, 8, NULL, 0, 4, &sp, &r1, a, NULL, NULL, &err) == CDZ_ERR_ARG, "style 8 refused");
    /* the dataset */
    int16_t *c1 = clip(3000, 440, 880, 1), *c2 = clip(1700, 300, 600, 2);
    char path[4200], out[4200];
    snprintf(path, sizeof path, "%s/audio.cdz", tmpdir);
    snprintf(out, sizeof out, "%s/prior.cdz", tmpdir);
    cdz_shard_writer w;
    CHECK_INT(cdz_shard_writer_init_typed(&w, "render", CDZ_DTYPE_AUDIO, 24000, &err), CDZ_OK);
    CHECK_INT(cdz_shard_writer_add_elements(&w, c1, 3000, CDZ_SPLIT_TRAIN, &err), CDZ_OK);
    CHECK_INT(cdz_shard_writer_add_elements(&w, c2, 1700, CDZ_SPLIT_EVAL, &err), CDZ_OK);
    CHECK_INT(cdz_shard_writer_finish(&w, path, &err), CDZ_OK);
    cdz_shard_writer_free(&w);
    cdz_dataset ds, pd;
    size_t frames[3];
    if (cdz_dataset_open(&ds, path, &err) == CDZ_OK) {
        const cdz_dataset *dp[1] = {&ds};
        int sty[1] = {5};
        CHECK_INT(cdz_audio_prior_dataset(codec, dp, sty, 1, 2, out, frames, NULL, NULL, &err), CDZ_OK);
        CHECK(frames[0] == 188 && frames[1] == 107 && frames[2] == 0, "frames by split: %zu %zu %zu", frames[0], frames[1], frames[2]);
        if (cdz_dataset_open(&pd, out, &err) == CDZ_OK) {
            CHECK(pd.vocab_size == 40 && strcmp(pd.codec, "none") == 0 && pd.n_seqs == 2 && cdz_dataset_seq_len(&pd, 0) == 1 + 188 * 2 &&
                      cdz_dataset_seq_len(&pd, 1) == 1 + 107 * 2 && pd.splits[0] == 0 && pd.splits[1] == 1 && pd.tokens[0] == 37,
                  "the prior's shard: 2 clips, style first, splits kept");
            int32_t *cc = NULL;
            size_t F = 0;
            float x[1700];
            for (int i = 0; i < 1700; i++) x[i] = c2[i] / 32768.0f;
            cdz_audio_codec_encode(codec, x, 1700, 2, &cc, &F, &err);
            int same = cc != NULL;
            for (size_t f = 0; cc && f < F; f++)
                same &= pd.tokens[pd.offsets[1] + 1 + 2 * f] == cc[2 * f] && pd.tokens[pd.offsets[1] + 2 + 2 * f] == 16 + cc[2 * f + 1];
            CHECK(same, "the eval clip's tokens are its codes");
            free(cc);
            cdz_dataset_close(&pd);
        }
        CHECK(cdz_audio_prior_dataset(codec, dp, sty, 1, 5, out, frames, NULL, NULL, &err) == CDZ_ERR_ARG, "5 books of 4: %s", err.msg);
        /* two datasets, two styles: the clips in order, each with its style */
        const cdz_dataset *two[2] = {&ds, &ds};
        int sty2[2] = {0, 1};
        CHECK_INT(cdz_audio_prior_dataset(codec, two, sty2, 2, 2, out, frames, NULL, NULL, &err), CDZ_OK);
        if (cdz_dataset_open(&pd, out, &err) == CDZ_OK) {
            CHECK(pd.n_seqs == 4 && pd.tokens[pd.offsets[0]] == 32 && pd.tokens[pd.offsets[2]] == 33 && frames[0] == 2 * 188,
                  "two datasets: 4 clips, styles 0 and 1");
            cdz_dataset_close(&pd);
        }
        cdz_dataset_close(&ds);
    }
    free(c1), free(c2);
    cdz_model_free(prior);
    cdz_model_free(codec);
}

/* A batch's windows split over 1, 2 and 3 threads (cdz_nn_set_threads): the same loss and gradients,
 * to rounding (each window's sums are the same; only the order of adding the lanes' differs). */
static void test_lanes(void) {
    if (!cdz_audio_metrics_available()) {
        printf("skipped: codec lanes (no KissFFT in this build)\n");
        return;
    }
    enum { T = 2048, B = 3 };
    int16_t *a[B];
    cdz_window w[B];
    for (int b = 0; b < B; b++) a[b] = clip(T, 200 + 110 * b, 1500 + 300 * b, 20 + (uint64_t)b), w[b] = (cdz_window){.audio = a[b], .start = 0, .n = T};
    cdz_model *m = tiny("\"q_dropout\":0", 5);
    float *g1 = m ? malloc(m->n_params * sizeof *g1) : NULL;
    double l1 = 0;
    for (int threads = 1; m && g1 && threads <= 3; threads++) {
        cdz_nn_set_threads(threads);
        cdz_session *s = NULL;
        cdz_error err = {0};
        if (cdz_session_new(&s, m, 1, 0, &err) != CDZ_OK) break;
        cdz_model_zero_grads(m);
        double l = loss_of(s, w, B, m->grads);
        double worst = 0, scale = 0;
        if (threads == 1) memcpy(g1, m->grads, m->n_params * sizeof *g1), l1 = l;
        for (size_t i = 0; i < m->n_params; i++) worst = fmax(worst, fabs(m->grads[i] - g1[i])), scale = fmax(scale, fabs(g1[i]));
        CHECK(fabs(l - l1) <= 1e-5 * fabs(l1) && worst <= 1e-4 * scale,
              "%d thread(s): loss %.7f (1 thread %.7f), gradients within %.3g of %.3g", threads, l, l1, worst, scale);
        cdz_session_free(s);
    }
    cdz_nn_set_threads(0);
    free(g1);
    for (int b = 0; b < B; b++) free(a[b]);
    cdz_model_free(m);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_configs();
    test_codes_file();
    test_gradients();
    test_lanes();
    test_bitrates_and_chunks();
    test_overfit();
    test_prior();
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) printf("could not remove %s\n", tmpdir);
    return test_summary("test_audio_codec");
}

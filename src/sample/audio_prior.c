/* The audio prior (cadenza/audio_prior.h): the token layout of codec codes, the prior's dataset, and
 * generation with each token masked to its book. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cadenza/audio_prior.h"

static const char *const STYLES[CDZ_AUDIO_PRIOR_STYLES] = {"pop", "classical", "baroque", "romantic",
                                                           "jazz", "folk", "choral", "other"};

const char *cdz_audio_prior_style_name(int s) { return s >= 0 && s < CDZ_AUDIO_PRIOR_STYLES ? STYLES[s] : NULL; }

int cdz_audio_prior_style_find(const char *name) {
    for (int s = 0; name && s < CDZ_AUDIO_PRIOR_STYLES; s++)
        if (strcmp(STYLES[s], name) == 0) return s;
    return -1;
}

uint32_t cdz_audio_prior_vocab(const cdz_audio_prior_layout *L) {
    return (uint32_t)L->books * (uint32_t)L->codebook + CDZ_AUDIO_PRIOR_STYLES;
}

cdz_status cdz_audio_prior_layout_of(const cdz_model *prior, const cdz_audio_codec_shape *codec, cdz_audio_prior_layout *out,
                                     cdz_error *err) {
    memset(out, 0, sizeof *out);
    const uint32_t V = cdz_model_vocab(prior);
    if (codec->codebook < 2 || codec->books < 1)
        return cdz_error_set(err, CDZ_ERR_ARG, "the codec model is not an audio codec");
    if (V <= CDZ_AUDIO_PRIOR_STYLES || (V - CDZ_AUDIO_PRIOR_STYLES) % (uint32_t)codec->codebook != 0 ||
        (int)((V - CDZ_AUDIO_PRIOR_STYLES) / (uint32_t)codec->codebook) > codec->books)
        return cdz_error_set(err, CDZ_ERR_ARG, "the prior's vocabulary of %u tokens is not books x %d codes + %d styles for a "
                             "codec of %d books of %d: it was trained on another codec's codes", V, codec->codebook,
                             CDZ_AUDIO_PRIOR_STYLES, codec->books, codec->codebook);
    out->codebook = codec->codebook;
    out->books = (int)((V - CDZ_AUDIO_PRIOR_STYLES) / (uint32_t)codec->codebook);
    return CDZ_OK;
}

void cdz_audio_prior_tokens(const cdz_audio_prior_layout *L, int style, const int32_t *codes, size_t frames, int stride,
                            uint16_t *out) {
    out[0] = (uint16_t)(L->books * L->codebook + style);
    for (size_t f = 0; f < frames; f++)
        for (int q = 0; q < L->books; q++)
            out[1 + f * (size_t)L->books + (size_t)q] = (uint16_t)(q * L->codebook + codes[f * (size_t)stride + (size_t)q]);
}

cdz_status cdz_audio_prior_generate(const cdz_model *prior, const cdz_audio_prior_layout *L, int style, const int32_t *primer,
                                    size_t primer_frames, size_t frames, const cdz_sample_params *p, cdz_rng *rng,
                                    int32_t *codes_out, void (*progress)(void *ctx, size_t done, size_t total), void *ctx,
                                    cdz_error *err) {
    if (style < 0 || style >= CDZ_AUDIO_PRIOR_STYLES) return cdz_error_set(err, CDZ_ERR_ARG, "style %d: there are %d", style, CDZ_AUDIO_PRIOR_STYLES);
    if (primer_frames > frames) return cdz_error_set(err, CDZ_ERR_ARG, "a primer of %zu frames is longer than the %zu asked for", primer_frames, frames);
    if (cdz_model_vocab(prior) != cdz_audio_prior_vocab(L))
        return cdz_error_set(err, CDZ_ERR_ARG, "the prior's vocabulary (%u) is not the layout's (%u)", cdz_model_vocab(prior),
                             cdz_audio_prior_vocab(L));
    cdz_session *s = NULL;
    cdz_status st = cdz_session_new(&s, prior, 1, 0, err);
    if (st) return st;
    if (!cdz_session_can_slide(s) && (int64_t)(1 + frames * (size_t)L->books) > cdz_session_window(s)) {
        cdz_session_free(s);
        return cdz_error_set(err, CDZ_ERR_ARG, "%zu frames need %zu tokens; this prior reads %lld and cannot slide past them",
                             frames, 1 + frames * (size_t)L->books, (long long)cdz_session_window(s));
    }
    const int V = (int)cdz_audio_prior_vocab(L);
    float *logits = cdz_malloc((size_t)V * sizeof *logits);
    if (!logits) {
        cdz_session_free(s);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    }
    if ((st = cdz_session_reset(s, 1, err)) == CDZ_OK) {
        uint16_t tok = (uint16_t)(L->books * L->codebook + style);
        st = cdz_session_feed(s, &tok, logits, err);
        for (size_t f = 0; f < frames && st == CDZ_OK; f++) {
            for (int q = 0; q < L->books && st == CDZ_OK; q++) {
                int code;
                if (f < primer_frames) {
                    code = primer[f * (size_t)L->books + (size_t)q];
                } else {
                    /* only book q's codes may come next */
                    const int lo = q * L->codebook;
                    for (int v = 0; v < V; v++)
                        if (v < lo || v >= lo + L->codebook) logits[v] = -1e30f;
                    int drawn = cdz_sample_logits(logits, V, p, rng, NULL);
                    if (drawn < lo || drawn >= lo + L->codebook) {
                        st = cdz_error_set(err, CDZ_ERR_RANGE, "the prior gave no finite logit for book %d at frame %zu", q, f);
                        break;
                    }
                    code = drawn - lo;
                }
                codes_out[f * (size_t)L->books + (size_t)q] = code;
                tok = (uint16_t)(q * L->codebook + code);
                const int last = f + 1 == frames && q + 1 == L->books;
                if (!last) st = cdz_session_feed(s, &tok, logits, err);
            }
            if (progress) progress(ctx, f + 1, frames);
        }
    }
    cdz_free(logits);
    cdz_session_free(s);
    return st;
}

/* One audio dataset's clips into the writer. */
static cdz_status add_clips(const cdz_model *codec, const cdz_dataset *audio, const cdz_audio_prior_layout *L, int style,
                            cdz_shard_writer *w, size_t frames[3], size_t *done, size_t total,
                            void (*progress)(void *ctx, size_t done, size_t total), void *ctx, cdz_error *err) {
    const int books = L->books;
    const int16_t *samples = audio->data;
    cdz_status st = CDZ_OK;
    for (uint64_t i = 0; i < audio->n_seqs && st == CDZ_OK; i++) {
        const size_t n = (size_t)cdz_dataset_seq_len(audio, i);
        float *x = cdz_malloc((n ? n : 1) * sizeof *x);
        int32_t *codes = NULL;
        size_t F = 0;
        if (!x) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for clip %llu", (unsigned long long)i);
        for (size_t k = 0; st == CDZ_OK && k < n; k++) x[k] = samples[audio->offsets[i] + k] * (1.0f / 32768.0f);
        if (st == CDZ_OK && n > 0) st = cdz_audio_codec_encode(codec, x, n, books, &codes, &F, err);
        cdz_free(x);
        uint16_t *toks = st == CDZ_OK && F ? cdz_malloc((1 + F * (size_t)books) * sizeof *toks) : NULL;
        if (st == CDZ_OK && F && !toks) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for clip %llu", (unsigned long long)i);
        if (st == CDZ_OK && F) {
            cdz_audio_prior_tokens(L, style, codes, F, books, toks);
            cdz_tokens t = {0};
            st = cdz_tokens_append(&t, toks, 1 + F * (size_t)books);
            if (st == CDZ_OK) st = cdz_shard_writer_add(w, &t, (cdz_split)audio->splits[i], err);
            else cdz_error_set(err, st, "out of memory");
            cdz_tokens_free(&t);
            if (frames && audio->splits[i] < 3) frames[audio->splits[i]] += F;
        }
        cdz_free(toks);
        cdz_free(codes);
        ++*done;
        if (progress) progress(ctx, *done, total);
    }
    return st;
}

cdz_status cdz_audio_prior_dataset(const cdz_model *codec, const cdz_dataset *const *audio, const int *styles, int n_audio,
                                   int books, const char *out_path, size_t frames[3],
                                   void (*progress)(void *ctx, size_t done, size_t total), void *ctx, cdz_error *err) {
    if (frames) frames[0] = frames[1] = frames[2] = 0;
    cdz_audio_codec_shape sh = cdz_audio_codec_shape_of(codec);
    if (!sh.hop) return cdz_error_set(err, CDZ_ERR_ARG, "the codec model is a %s, not an audio_codec", cdz_model_kind_name(codec));
    if (books < 1 || books > sh.books) return cdz_error_set(err, CDZ_ERR_ARG, "%d books: the codec has 1 to %d", books, sh.books);
    if (n_audio < 1) return cdz_error_set(err, CDZ_ERR_ARG, "no audio dataset");
    size_t total = 0, done = 0;
    for (int d = 0; d < n_audio; d++) {
        if (audio[d]->dtype != CDZ_DTYPE_AUDIO || audio[d]->width != sh.rate)
            return cdz_error_set(err, CDZ_ERR_ARG, "dataset %d holds %s%s; the codec reads audio at %u Hz", d + 1,
                                 cdz_dtype_name(audio[d]->dtype), audio[d]->dtype == CDZ_DTYPE_AUDIO ? " at another rate" : "",
                                 sh.rate);
        if (styles[d] < 0 || styles[d] >= CDZ_AUDIO_PRIOR_STYLES)
            return cdz_error_set(err, CDZ_ERR_ARG, "style %d: there are %d", styles[d], CDZ_AUDIO_PRIOR_STYLES);
        total += (size_t)audio[d]->n_seqs;
    }
    cdz_audio_prior_layout L = {books, sh.codebook};
    cdz_shard_writer w;
    cdz_status st = cdz_shard_writer_init(&w, "none", cdz_audio_prior_vocab(&L), err);
    if (st) return st;
    for (int d = 0; d < n_audio && st == CDZ_OK; d++)
        st = add_clips(codec, audio[d], &L, styles[d], &w, frames, &done, total, progress, ctx, err);
    if (st == CDZ_OK) st = cdz_shard_writer_finish(&w, out_path, err);
    cdz_shard_writer_free(&w);
    return st;
}

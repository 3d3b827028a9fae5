/* Token buffers and the codec table. */
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"

void cdz_tokens_free(cdz_tokens *t) {
    if (!t) return;
    cdz_free(t->tokens);
    cdz_free(t->offsets);
    memset(t, 0, sizeof *t);
}

cdz_status cdz_tokens_append(cdz_tokens *t, const uint16_t *tokens, size_t n) {
    size_t need;
    if (!cdz_add_ok(t->n_tokens, n, &need)) return CDZ_ERR_NOMEM;
    if (cdz_grow((void **)&t->tokens, &t->cap_tokens, need, sizeof *t->tokens) ||
        cdz_grow((void **)&t->offsets, &t->cap_offsets, t->n_seqs + 2, sizeof *t->offsets))
        return CDZ_ERR_NOMEM;
    if (t->n_seqs == 0) t->offsets[0] = 0;
    if (n) memcpy(t->tokens + t->n_tokens, tokens, n * sizeof *tokens);
    t->n_tokens = need;
    t->offsets[++t->n_seqs] = need;
    return CDZ_OK;
}

static const cdz_codec *const CODECS[] = {&codec_melody, &codec_lookback, &codec_key_melody, &codec_performance, &codec_multitrack, &codec_chorale,
                                        &codec_vae_mel_2bar, &codec_vae_mel_16bar, &codec_vae_drums, &codec_vae_trio_16bar};

size_t cdz_codec_list(const cdz_codec *const **list) {
    *list = CODECS;
    return sizeof CODECS / sizeof CODECS[0];
}

const cdz_codec *cdz_codec_find(const char *name) {
    for (size_t i = 0; i < sizeof CODECS / sizeof CODECS[0]; i++)
        if (strcmp(CODECS[i]->name, name) == 0) return CODECS[i];
    return NULL;
}

cdz_status cdz_codec_token_from_name(const cdz_codec *c, const char *name, uint16_t *token) {
    char buf[64];
    for (uint32_t t = 0; t < c->vocab_size; t++) {
        c->token_name((uint16_t)t, buf, sizeof buf);
        if (strcmp(buf, name) == 0) {
            *token = (uint16_t)t;
            return CDZ_OK;
        }
    }
    return CDZ_ERR_ARG;
}

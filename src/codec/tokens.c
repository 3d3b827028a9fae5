/* Token buffers and the codec table. */
#include <stdio.h>
#include <string.h>

#include "cadenza/ensemble.h"
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

static const cdz_codec *const CODECS[] = {&codec_melody, &codec_lookback, &codec_key_melody, &codec_lookback2, &codec_key_melody2,
                                        &codec_performance, &codec_accompaniment, &codec_remi, &codec_remi_pair, &codec_multitrack, &codec_ensemble,
                                        &codec_chorale, &codec_vae_mel_2bar, &codec_vae_mel_16bar, &codec_vae_drums,
                                        &codec_vae_trio_16bar};

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

/* The pitch a token stands for under a codec, or -1 for a token without one (rests, repeats, time
 * shifts); with the codec's pitch range and the token of pitch `lo` (see cdz_codec_transpose). */
typedef struct pitch_map {
    int first_token, n_tokens, stride; /* pitched tokens: first_token + k (and + stride + k), k = 0..n-1 */
    int lo;                            /* the pitch of first_token */
} pitch_map;

static int map_for(const cdz_codec *c, pitch_map *m) {
    const char *n = c->name;
    /* (the meter tokens of lookback2 and key_melody2 lie past the pitches: untouched) */
    if (strcmp(n, "melody") == 0 || strcmp(n, "lookback") == 0 || strcmp(n, "lookback2") == 0)
        *m = (pitch_map){2, 36, 0, CDZ_MELODY_MIN_NOTE};
    else if (strcmp(n, "key_melody") == 0 || strcmp(n, "key_melody2") == 0) *m = (pitch_map){0, 36, 0, CDZ_MELODY_MIN_NOTE};
    else if (strcmp(n, "chorale") == 0) *m = (pitch_map){0, 46, 0, 36};
    /* accompaniment pairs are performance events around one separator token (not pitched) */
    else if (strcmp(n, "performance") == 0 || strcmp(n, "accompaniment") == 0) *m = (pitch_map){CDZ_PERF_NOTE_ON, 128, CDZ_PERF_NOTE_OFF, 0};
    /* remi and its pairs: PITCH tokens (the pairs' separator is not pitched) */
    else if (strcmp(n, "remi") == 0 || strcmp(n, "remi_acc") == 0) *m = (pitch_map){CDZ_REMI_PITCH, 128, 0, 0};
    else return 0;
    return 1;
}

/* The ensemble's notes and controls: every group but drums, within 21-108. */
static int transpose_ensemble(uint16_t *tokens, size_t n, int shift) {
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            if (tokens[i] >= CDZ_ENS_DUR) continue;
            int base = tokens[i] >= CDZ_ENS_CONTROL ? CDZ_ENS_CONTROL : CDZ_ENS_NOTE, k = tokens[i] - base;
            int g = k / CDZ_ENS_PITCHES, pitch = k % CDZ_ENS_PITCHES + shift;
            if (g == CDZ_ENS_DRUMS) continue;
            if (pitch < 0 || pitch >= CDZ_ENS_PITCHES) return 0;
            if (pass) tokens[i] = (uint16_t)(base + g * CDZ_ENS_PITCHES + pitch);
        }
    return 1;
}

int cdz_codec_transpose(const cdz_codec *c, uint16_t *tokens, size_t n, int shift) {
    if (strcmp(c->name, "ensemble") == 0) return transpose_ensemble(tokens, n, shift);
    pitch_map m;
    if (!map_for(c, &m)) return -1;
    for (int pass = 0; pass < 2; pass++) /* check every token first, then change them */
        for (size_t i = 0; i < n; i++) {
            int t = tokens[i], base = -1;
            if (t >= m.first_token && t < m.first_token + m.n_tokens) base = m.first_token;
            else if (m.stride && t >= m.stride && t < m.stride + m.n_tokens) base = m.stride;
            if (base < 0) continue;
            int k = t - base + shift;
            if (k < 0 || k >= m.n_tokens) return 0;
            if (pass) tokens[i] = (uint16_t)(base + k);
        }
    return 1;
}

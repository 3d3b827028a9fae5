/* The chorale codec: the tokens of ../shared/bench/jsb_reference.py (the Music Transformer paper's
 * JSB setting). A piece is BOS, then each 16th-note step as soprano, alto, tenor, bass: a pitch 36-81
 * as 0-45, or 46 for silence; 48 tokens. Sequences are cut at 2049 tokens, as the reference does. */
#include <stdio.h>
#include <string.h>

#include "codec_internal.h"

#define CHORALE_MAX_TOKENS 2049

cdz_status cdz_chorale_encode(const cdz_chorale *c, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    size_t n = 1 + c->n_steps * CDZ_CHORALE_VOICES;
    if (n > CHORALE_MAX_TOKENS) {
        n = CHORALE_MAX_TOKENS;
        if (stats) stats->truncated++;
    }
    uint16_t *tok = cdz_malloc(n * sizeof *tok);
    if (!tok) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding a chorale");
    tok[0] = CDZ_CHORALE_BOS;
    for (size_t i = 1; i < n; i++) {
        int p = c->steps[(i - 1) / CDZ_CHORALE_VOICES][(i - 1) % CDZ_CHORALE_VOICES];
        if (p >= 0 && (p < CDZ_CHORALE_MIN_PITCH || p > CDZ_CHORALE_MAX_PITCH)) {
            cdz_free(tok);
            return cdz_error_set(err, CDZ_ERR_RANGE, "chorale step %zu: pitch %d outside 36-81", (i - 1) / 4, p);
        }
        tok[i] = p < 0 ? CDZ_CHORALE_REST_TOKEN : (uint16_t)(p - CDZ_CHORALE_MIN_PITCH);
    }
    cdz_status st = cdz_tokens_append(out, tok, n);
    cdz_free(tok);
    if (st) return cdz_error_set(err, st, "out of memory encoding a chorale");
    return CDZ_OK;
}

cdz_status cdz_chorale_decode(const uint16_t *tokens, size_t n, cdz_chorale *c, cdz_error *err) {
    memset(c, 0, sizeof *c);
    size_t voices = 0;
    for (size_t i = 0; i < n; i++) {
        if (tokens[i] >= CDZ_CHORALE_VOCAB)
            return cdz_error_set(err, CDZ_ERR_RANGE, "token %zu: %u is not a chorale token (0-47)", i, tokens[i]);
        voices += tokens[i] != CDZ_CHORALE_BOS;
    }
    size_t steps = (voices + CDZ_CHORALE_VOICES - 1) / CDZ_CHORALE_VOICES;
    c->steps = cdz_malloc((steps ? steps : 1) * sizeof *c->steps);
    if (!c->steps) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory decoding a chorale");
    memset(c->steps, CDZ_CHORALE_REST, (steps ? steps : 1) * sizeof *c->steps);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (tokens[i] == CDZ_CHORALE_BOS) continue; /* a BOS anywhere but first carries nothing */
        c->steps[k / 4][k % 4] = tokens[i] == CDZ_CHORALE_REST_TOKEN ? CDZ_CHORALE_REST : (int8_t)(tokens[i] + CDZ_CHORALE_MIN_PITCH);
        k++;
    }
    c->n_steps = steps;
    return CDZ_OK;
}

static void chorale_token_name(uint16_t t, char *buf, size_t n) {
    if (t < CDZ_CHORALE_REST_TOKEN) snprintf(buf, n, "PITCH_%d", t + CDZ_CHORALE_MIN_PITCH);
    else if (t == CDZ_CHORALE_REST_TOKEN) snprintf(buf, n, "REST");
    else if (t == CDZ_CHORALE_BOS) snprintf(buf, n, "BOS");
    else snprintf(buf, n, "INVALID_%u", t);
}

static cdz_status chorale_encode_score(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    cdz_chorale c;
    cdz_status st = cdz_extract_chorale(s, &c, stats, err);
    if (!st && c.n_steps) st = cdz_chorale_encode(&c, out, stats, err);
    cdz_chorale_free(&c);
    return st;
}

static cdz_status chorale_decode_score(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err) {
    cdz_chorale c;
    cdz_status st = cdz_chorale_decode(tokens, n, &c, err);
    if (!st) st = cdz_chorale_to_score(&c, out, err);
    cdz_chorale_free(&c);
    return st;
}

/* A JSB JSON file: every piece, in the split its key names (valid -> eval). */
static cdz_status chorale_encode_corpus(const char *path, cdz_tokens out[3], cdz_extract_stats *stats, cdz_error *err) {
    cdz_chorale *c;
    size_t n;
    cdz_status st = cdz_chorales_read_json(path, &c, &n, err);
    for (size_t i = 0; i < n && !st; i++) {
        int split = strcmp(c[i].split, "test") == 0 ? 2 : strcmp(c[i].split, "valid") == 0 || strcmp(c[i].split, "eval") == 0 ? 1 : 0;
        st = cdz_chorale_encode(&c[i], &out[split], stats, err);
        if (!st && stats) stats->sequences++;
    }
    cdz_chorales_free(c, n);
    return st;
}

/* ---- generation ---- */

static size_t chorale_start(const cdz_codec *c, uint16_t *tok, size_t cap) {
    (void)c;
    if (cap < 1) return 0;
    tok[0] = CDZ_CHORALE_BOS;
    return 1;
}

/* The four voices of the score on the 16th-note grid, BOS first. */
static cdz_status chorale_primer(const cdz_codec *c, const cdz_score *s, cdz_gen_frame *f, cdz_tokens *out,
                                 cdz_error *err) {
    (void)c;
    f->transpose = 0;
    size_t before = out->n_seqs;
    cdz_extract_stats st = {0};
    cdz_status r = chorale_encode_score(s, out, &st, err);
    if (r == CDZ_OK && out->n_seqs == before)
        r = cdz_error_set(err, CDZ_ERR_ARG, "no chorale to prime with: it needs exactly four voices%s",
                          st.out_of_range ? " within pitches 36-81" : " (one track or channel each)");
    if (r == CDZ_OK && st.truncated)
        snprintf(f->note, sizeof f->note, "primer: the chorale's first %u tokens (the codec's longest)",
                 (unsigned)(out->offsets[out->n_seqs] - out->offsets[out->n_seqs - 1]));
    return r;
}

static const cdz_codec_gen chorale_gen = {CDZ_CHORALE_VOICES, 1, chorale_start, chorale_primer, NULL, NULL, 0, NULL};

const cdz_codec codec_chorale = {
    "chorale", "JSB chorales: BOS, then soprano, alto, tenor, bass per 16th (pitches 36-81, rest): 48 tokens",
    CDZ_CHORALE_VOCAB, chorale_token_name, chorale_encode_score, chorale_decode_score, chorale_encode_corpus, 0, 0,
    &chorale_gen, NULL,
};

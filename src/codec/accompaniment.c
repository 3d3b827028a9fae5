/* Melody and accompaniment pairs for the Music Transformer's accompaniment model: one sequence
 * [melody performance tokens, SEP, accompaniment performance tokens], both parts encoded from the same
 * file on the same clock (100 steps per second from the file's start), so that the model can line
 * them up. The melody is the notes of tracks named MELODY, the accompaniment those of tracks named
 * PIANO: the track names of POP909, the corpus this is for. A piece is cut into segments of
 * CDZ_ACC_SEGMENT_SECONDS (a note crossing a cut is shortened, Magenta's extract_subsequence), one pair
 * each, so that a pair fits a model's window; segments with no melody or no accompaniment are left out. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "codec_internal.h"

static cdz_status perf_decode_part(const uint16_t *tok, size_t n, cdz_score *out, cdz_error *err) {
    return codec_performance.decode(tok, n, out, err);
}

/* The performance tokens of the score's tracks with these names, appended to out (nothing if none). */
static cdz_status part_tokens(const cdz_score *s, const char *tracks, cdz_tokens *out, cdz_extract_stats *st,
                              cdz_error *err) {
    cdz_score part;
    cdz_status r = cdz_score_copy(&part, s, err);
    if (r) return r;
    cdz_score_keep_tracks(&part, tracks);
    r = codec_performance.encode(&part, out, st, err);
    cdz_score_free(&part);
    return r;
}

static cdz_status segment_pair(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    cdz_tokens mel = {0}, acc = {0};
    cdz_status st = part_tokens(s, "MELODY", &mel, stats, err);
    if (!st) st = part_tokens(s, "PIANO", &acc, stats, err);
    if (!st && mel.n_seqs && acc.n_seqs) {
        size_t nm = mel.offsets[1], na = acc.offsets[1];
        uint16_t *seq = cdz_malloc((nm + 1 + na) * sizeof *seq);
        if (!seq) {
            st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory encoding a pair");
        } else {
            memcpy(seq, mel.tokens, nm * sizeof *seq);
            seq[nm] = CDZ_ACC_SEP;
            memcpy(seq + nm + 1, acc.tokens, na * sizeof *seq);
            if ((st = cdz_tokens_append(out, seq, nm + 1 + na))) cdz_error_set(err, st, "out of memory encoding a pair");
            cdz_free(seq);
        }
    }
    cdz_tokens_free(&mel);
    cdz_tokens_free(&acc);
    return st;
}

static cdz_status pair_encode(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err) {
    cdz_status st = CDZ_OK;
    for (double t = 0; t < s->duration_s && !st; t += CDZ_ACC_SEGMENT_SECONDS) {
        cdz_score seg;
        if ((st = cdz_score_slice_seconds(&seg, s, t, t + CDZ_ACC_SEGMENT_SECONDS, err))) break;
        st = segment_pair(&seg, out, stats, err);
        cdz_score_free(&seg);
    }
    return st;
}

/* Two tracks: the melody (track 0) and the accompaniment (track 1), on the performance decoder's clock. */
static cdz_status pair_decode(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err) {
    size_t sep = 0;
    while (sep < n && tokens[sep] != CDZ_ACC_SEP) sep++;
    /* the accompaniment: what follows the first separator, any further separator left out (any token
     * sequence decodes) */
    size_t na = 0;
    uint16_t *rest = cdz_malloc((n - (sep < n ? sep : n) + 1) * sizeof *rest);
    if (!rest) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory decoding a pair");
    for (size_t i = sep + 1; i < n; i++)
        if (tokens[i] != CDZ_ACC_SEP) rest[na++] = tokens[i];
    cdz_score acc;
    cdz_status st = codec_performance.decode(tokens, sep, out, err);
    if (!st) {
        st = codec_performance.decode(rest, na, &acc, err);
        if (st) cdz_score_free(out);
    }
    cdz_free(rest);
    if (st) return st;
    for (size_t i = 0; i < acc.n_notes && !st; i++) {
        const cdz_note *a = &acc.notes[i];
        st = cdz_score_add_note(out, 1, 1, a->program, a->pitch, a->velocity, a->start_tick, a->end_tick);
    }
    cdz_score_free(&acc);
    if (!st) st = cdz_score_finish(out, err);
    else cdz_error_set(err, st, "out of memory decoding a pair");
    if (!st && out->n_tracks >= 2) {
        snprintf(out->tracks[0].name, sizeof out->tracks[0].name, "Melody");
        snprintf(out->tracks[1].name, sizeof out->tracks[1].name, "Accompaniment");
    }
    if (st) cdz_score_free(out);
    return st;
}

static void pair_token_name(uint16_t t, char *buf, size_t n) {
    if (t == CDZ_ACC_SEP) snprintf(buf, n, "SEP");
    else codec_performance.token_name(t, buf, n);
}

/* ---- generation: accompanying a melody stretch by stretch, as the pairs were cut ---- */

/* The melody of [start, end) as performance tokens, then SEP: its tracks named MELODY when the score has
 * one (POP909's layout), else every note but drums. */
static cdz_status pair_condition(const cdz_score *melody, double start, double end, cdz_tokens *out, cdz_error *err) {
    cdz_score seg;
    cdz_status st = cdz_score_slice_seconds(&seg, melody, start, end, err);
    if (st) return st;
    int named = 0;
    for (size_t t = 0; t < seg.n_tracks; t++) named |= strcasecmp(seg.tracks[t].name, "MELODY") == 0;
    if (named) cdz_score_keep_tracks(&seg, "MELODY");
    cdz_tokens t = {0};
    cdz_extract_stats es = {0};
    st = codec_performance.encode(&seg, &t, &es, err);
    cdz_score_free(&seg);
    size_t nm = st == CDZ_OK && t.n_seqs ? t.offsets[1] : 0;
    uint16_t *seq = st == CDZ_OK ? cdz_malloc((nm + 1) * sizeof *seq) : NULL;
    if (st == CDZ_OK && !seq) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (st == CDZ_OK) {
        if (nm) memcpy(seq, t.tokens, nm * sizeof *seq);
        seq[nm] = CDZ_ACC_SEP;
        if ((st = cdz_tokens_append(out, seq, nm + 1)) != CDZ_OK) cdz_error_set(err, st, "out of memory");
    }
    cdz_free(seq);
    cdz_tokens_free(&t);
    return st;
}

static const cdz_codec_gen pair_gen = {0, 0, NULL, NULL, cdz_performance_seconds, pair_condition,
                                       CDZ_ACC_SEGMENT_SECONDS, perf_decode_part};

const cdz_codec codec_accompaniment = {
    "accompaniment", "melody (tracks MELODY) and accompaniment (tracks PIANO) as performance events, SEP between (389)",
    CDZ_ACC_VOCAB, pair_token_name, pair_encode, pair_decode, NULL, 0, 0, &pair_gen, NULL,
};

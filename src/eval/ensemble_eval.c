/* Held-out log-loss of ensemble models on continuation and infilling (cadenza/ensemble.h), the
 * Anticipatory Music Transformer's comparison: the same stretch of a piece scored as a plain sequence
 * and, for infilling, with the other parts as anticipated controls. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cadenza/ensemble.h"

/* -log p of tok[i] for each i >= 1 with count[i] set, fed one token at a time. */
static cdz_status score_tokens(cdz_session *s, const uint16_t *tok, size_t n, const uint8_t *count, double *nats, double *counted,
                               float *logits, int V, cdz_error *err) {
    cdz_status st = cdz_session_reset(s, 1, err);
    for (size_t i = 0; i + 1 < n && !st; i++) {
        int want = count[i + 1];
        st = cdz_session_feed(s, &tok[i], want ? logits : NULL, err);
        if (st || !want) continue;
        double mx = -INFINITY, sum = 0;
        for (int k = 0; k < V; k++)
            if (logits[k] > mx) mx = logits[k];
        for (int k = 0; k < V; k++) sum += exp(logits[k] - mx);
        *nats += -(logits[tok[i + 1]] - mx - log(sum));
        *counted += 1;
    }
    return st;
}

static size_t header_length(const uint16_t *tok, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (tok[i] == CDZ_ENS_AR || tok[i] == CDZ_ENS_AAR) return i + 1;
    return 0;
}

/* Marks the note tokens of group g (events, not controls) and the durations after them. */
static size_t mark_group(const uint16_t *tok, size_t n, int g, uint8_t *count) {
    size_t notes = 0;
    memset(count, 0, n);
    for (size_t i = 0; i < n; i++)
        if (tok[i] < CDZ_ENS_CONTROL && tok[i] / CDZ_ENS_PITCHES == g) {
            count[i] = 1, notes++;
            if (i + 1 < n && tok[i + 1] >= CDZ_ENS_DUR && tok[i + 1] < CDZ_ENS_POS) count[i + 1] = 1;
        }
    return notes;
}

cdz_status cdz_ens_eval_piece(const cdz_model *m, const cdz_score *score, const cdz_ens_header *h0, uint64_t seed, int anticipated,
                              cdz_ens_eval *acc, cdz_error *err) {
    if (strcmp(cdz_model_codec(m), "ensemble") != 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "the model reads %s tokens, not ensemble tokens", cdz_model_codec(m));
    cdz_ens_piece p;
    cdz_status st = cdz_ens_piece_from_score(score, &p, NULL, err);
    if (st || !p.n_notes) {
        cdz_ens_piece_free(&p);
        return st;
    }
    cdz_ens_header h = h0 ? *h0 : cdz_ens_header_default();
    h.groups = 0, h.anticipated = 0;
    /* the first bars whose plain sequence fits a window */
    cdz_tokens plain = {0};
    int64_t bars = 0;
    for (int64_t b = 1; b <= p.n_bars && !st; b++) {
        cdz_tokens t = {0};
        st = cdz_ens_write(&p, &h, NULL, 0, b, 0, &t, err);
        if (!st && t.n_tokens > CDZ_ENS_CHUNK - 1 - 64 && bars > 0) { /* room for the controls' extra positions */
            cdz_tokens_free(&t);
            break;
        }
        cdz_tokens_free(&plain);
        plain = t, bars = b;
    }
    const int V = (int)cdz_model_vocab(m);
    float *logits = cdz_malloc((size_t)V * sizeof *logits);
    uint8_t *count = cdz_calloc(CDZ_ENS_CHUNK * 2, 1);
    cdz_session *s = NULL;
    if (!st && (!logits || !count)) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (!st) st = cdz_session_new(&s, m, 1, 0, err);
    if (!st && plain.n_tokens > CDZ_ENS_CHUNK * 2) st = cdz_error_set(err, CDZ_ERR_RANGE, "a bar of %zu tokens", plain.n_tokens);
    /* continuation: everything after the header */
    if (!st) {
        size_t hl = header_length(plain.tokens, plain.n_tokens);
        for (size_t i = 0; i < plain.n_tokens; i++) count[i] = i >= hl;
        st = score_tokens(s, plain.tokens, plain.n_tokens, count, &acc->cont_nats, &acc->cont_tokens, logits, V, err);
        acc->cont_seconds += cdz_ens_seconds(plain.tokens, plain.n_tokens);
        for (size_t i = 0; i < plain.n_tokens; i++) acc->cont_notes += plain.tokens[i] < CDZ_ENS_CONTROL;
        acc->pieces += !st;
    }
    /* infilling: one group of those in the stretch, by the seed */
    int groups[CDZ_ENS_GROUPS], ng = 0;
    uint32_t seen = 0;
    for (size_t i = 0; i < p.n_notes && !st; i++)
        if (p.notes[i].bar < bars && !(seen >> p.notes[i].group & 1u)) seen |= 1u << p.notes[i].group, groups[ng++] = p.notes[i].group;
    if (!st && ng >= 2) {
        int g = groups[seed % (uint64_t)ng];
        cdz_tokens ant = {0};
        const cdz_tokens *seq = &plain;
        uint8_t *control = NULL;
        if (anticipated) {
            control = cdz_calloc(p.n_notes, 1);
            if (!control) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
            for (size_t i = 0; control && i < p.n_notes; i++) control[i] = p.notes[i].group != g;
            cdz_ens_header ha = h;
            ha.anticipated = 1;
            if (!st) st = cdz_ens_write(&p, &ha, control, 0, bars, 0, &ant, err);
            seq = &ant;
            if (!st && ant.n_tokens > CDZ_ENS_CHUNK * 2) st = cdz_error_set(err, CDZ_ERR_RANGE, "a stretch of %zu tokens", ant.n_tokens);
        }
        if (!st) {
            size_t notes = mark_group(seq->tokens, seq->n_tokens, g, count);
            st = score_tokens(s, seq->tokens, seq->n_tokens, count, &acc->infill_nats, &acc->infill_tokens, logits, V, err);
            acc->infill_notes += (double)notes;
            acc->infill_seconds += cdz_ens_seconds(plain.tokens, plain.n_tokens);
            acc->infill_pieces += !st;
        }
        cdz_free(control);
        cdz_tokens_free(&ant);
    }
    cdz_session_free(s);
    cdz_free(logits);
    cdz_free(count);
    cdz_tokens_free(&plain);
    cdz_ens_piece_free(&p);
    return st;
}

void cdz_ens_instrumentation_add(const cdz_score *s, uint32_t groups, cdz_ens_instrumentation *acc) {
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *n = &s->notes[i];
        int g = cdz_ens_group_of(n->program, n->is_drum), lo, hi;
        cdz_ens_group_range(g, &lo, &hi);
        acc->notes++;
        acc->on_requested += (groups >> g & 1u) != 0;
        acc->out_of_range += n->pitch < lo || n->pitch > hi;
    }
}

/* ---- does a model read the controls? ---- */

const char *cdz_ens_probe_name(int v) {
    static const char *names[CDZ_ENS_PROBES] = {
        "controls two bars ahead (the layout)", "controls one bar ahead", "controls three bars ahead",
        "controls half a beat late", "controls of four bars later", "no controls"};
    return v >= 0 && v < CDZ_ENS_PROBES ? names[v] : "?";
}

/* The piece with the track's notes moved as variant v says (dropped where they leave bars 0 .. bars-1),
 * sorted again, and which notes are controls. */
static cdz_status probe_variant(const cdz_ens_piece *p, int track, int v, int64_t bars, cdz_ens_piece *out, uint8_t **control,
                                cdz_error *err) {
    *out = *p;
    out->notes = cdz_malloc((p->n_notes + 1) * sizeof *out->notes);
    *control = cdz_calloc(p->n_notes + 1, 1);
    if (!out->notes || !*control) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    size_t w = 0;
    for (size_t i = 0; i < p->n_notes; i++) {
        cdz_ens_note n = p->notes[i];
        if (n.track == track) {
            if (v == CDZ_ENS_PROBE_NONE) continue;
            if (v == CDZ_ENS_PROBE_ONE_BAR) n.bar += 1; /* its slot, two bars before, is one bar before the note */
            if (v == CDZ_ENS_PROBE_THREE_BARS) n.bar -= 1;
            if (v == CDZ_ENS_PROBE_OTHER_BARS) n.bar -= 4;
            if (v == CDZ_ENS_PROBE_OFFBEAT) n.pos += 6;
            if (n.bar < 0 || n.bar >= bars || n.pos >= p->bars[n.bar].steps) continue;
        }
        out->notes[w++] = n;
    }
    out->n_notes = w;
    cdz_ens_piece_sort(out);
    for (size_t i = 0; i < w; i++) (*control)[i] = out->notes[i].track == track;
    return CDZ_OK;
}

cdz_status cdz_ens_probe_controls(const cdz_model *m, const cdz_score *s, int track, const cdz_ens_header *h0,
                                  cdz_ens_probe *acc, cdz_error *err) {
    if (strcmp(cdz_model_codec(m), "ensemble") != 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "the model reads %s tokens, not ensemble tokens", cdz_model_codec(m));
    if (track < 0 || (size_t)track >= s->n_tracks) return cdz_error_set(err, CDZ_ERR_ARG, "the score has no track %d", track);
    cdz_ens_piece p;
    cdz_status st = cdz_ens_piece_from_score(s, &p, NULL, err);
    if (st) return st;
    size_t kept = 0;
    for (size_t i = 0; i < p.n_notes; i++) kept += p.notes[i].track == track;
    if (!kept || kept == p.n_notes) {
        cdz_ens_piece_free(&p);
        return cdz_error_set(err, CDZ_ERR_ARG, "track %d has %s notes: nothing to give or nothing to score", track,
                             kept ? "all the" : "none of the");
    }
    cdz_ens_header h = h0 ? *h0 : cdz_ens_header_default();
    h.groups = 0, h.anticipated = 1;
    /* the first bars whose layout fits a window, with room for the variants' moved controls */
    int64_t bars = 0;
    uint8_t *ctl0 = cdz_calloc(p.n_notes + 1, 1);
    if (!ctl0) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < p.n_notes; i++) ctl0[i] = p.notes[i].track == track;
    for (int64_t b = 1; b <= p.n_bars && !st; b++) {
        cdz_tokens t = {0};
        st = cdz_ens_write(&p, &h, ctl0, 0, b, 0, &t, err);
        size_t len = t.n_tokens;
        cdz_tokens_free(&t);
        if (!st && len > CDZ_ENS_CHUNK - 1 - 128 && bars > 0) break;
        bars = b;
    }
    cdz_free(ctl0);
    const int V = (int)cdz_model_vocab(m);
    float *logits = cdz_malloc((size_t)V * sizeof *logits);
    uint8_t *count = cdz_calloc(CDZ_ENS_CHUNK * 2, 1);
    cdz_session *ses = NULL;
    if (!st && (!logits || !count)) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (!st) st = cdz_session_new(&ses, m, 1, 0, err);
    double nats[CDZ_ENS_PROBES] = {0}, toks[CDZ_ENS_PROBES] = {0};
    for (int v = 0; v < CDZ_ENS_PROBES && !st; v++) {
        cdz_ens_piece q = {0};
        uint8_t *control = NULL;
        cdz_tokens t = {0};
        st = probe_variant(&p, track, v, bars, &q, &control, err);
        if (!st) st = cdz_ens_write(&q, &h, control, 0, bars, 0, &t, err);
        if (!st && t.n_tokens > CDZ_ENS_CHUNK * 2) st = cdz_error_set(err, CDZ_ERR_RANGE, "%zu tokens in %lld bars", t.n_tokens, (long long)bars);
        if (!st) { /* the other tracks' notes and their durations, in the music's bars (not the LEAD bars) */
            int64_t bar = -1;
            for (size_t i = 0; i < t.n_tokens; i++) {
                uint16_t k = t.tokens[i];
                if (k == CDZ_ENS_BAR) bar++;
                count[i] = bar >= 0 && (k < CDZ_ENS_CONTROL || (k >= CDZ_ENS_DUR && k < CDZ_ENS_POS && i > 0 && t.tokens[i - 1] < CDZ_ENS_CONTROL));
            }
            st = score_tokens(ses, t.tokens, t.n_tokens, count, &nats[v], &toks[v], logits, V, err);
        }
        cdz_tokens_free(&t);
        cdz_free(control);
        cdz_free(q.notes);
    }
    if (!st) {
        for (int v = 0; v < CDZ_ENS_PROBES; v++) acc->nats[v] += nats[v], acc->tokens[v] += toks[v];
        acc->pieces++;
    }
    cdz_session_free(ses);
    cdz_free(logits);
    cdz_free(count);
    cdz_ens_piece_free(&p);
    return st;
}

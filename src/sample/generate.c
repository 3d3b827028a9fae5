/* The library's generator (cadenza/generate.h): a request and a model in, scores out. The model's codec
 * supplies the music's side (cdz_codec_gen); this file turns lengths into tokens, picks the context,
 * runs the sampler over a session, and puts the frame (tempo, meter, key) back on what the codec
 * decodes. Two shapes of generation: continuation (a primer, or the codec's start, continued) and
 * conditioned (an accompaniment written stretch by stretch against a melody). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cadenza/generate.h"
#include "cadenza/model_kind.h"

cdz_gen_request cdz_gen_default_request(void) {
    cdz_gen_request rq;
    memset(&rq, 0, sizeof rq);
    rq.primer_track = -1;
    rq.length = 128;
    rq.unit = CDZ_LEN_STEPS;
    rq.sampling = cdz_sample_default_params();
    rq.seed = 1;
    rq.n_outputs = 1;
    return rq;
}

void cdz_gen_result_free(cdz_gen_result *r) {
    for (int i = 0; r->scores && i < r->n; i++) cdz_score_free(&r->scores[i]);
    cdz_free(r->scores), cdz_free(r->loglik), cdz_free(r->new_tokens);
    memset(r, 0, sizeof *r);
}

/* Appends a sentence to the result's notes ("; " between). */
static void say(cdz_gen_result *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void say(cdz_gen_result *r, const char *fmt, ...) {
    size_t used = strlen(r->notes);
    if (used && used + 2 < sizeof r->notes) strcat(r->notes, "; "), used += 2;
    va_list ap;
    va_start(ap, fmt);
    if (used < sizeof r->notes) vsnprintf(r->notes + used, sizeof r->notes - used, fmt, ap);
    va_end(ap);
}

/* ---- the primer and its frame ---- */

/* Tempo and meter of a score at its start (120 qpm, 4/4 without them). */
static void frame_of(const cdz_score *s, cdz_gen_frame *f) {
    f->qpm = s && s->n_tempos && s->tempos[0].tick == 0 ? s->tempos[0].qpm : 120;
    f->numerator = 4, f->denominator = 4;
    if (s && s->n_time_sigs && s->time_sigs[0].tick == 0)
        f->numerator = s->time_sigs[0].numerator, f->denominator = s->time_sigs[0].denominator;
    f->transpose = 0;
}

/* The primer as asked: one of its tracks, its first bars. Says what was left out. */
static cdz_status cut_primer(const cdz_gen_request *rq, cdz_score *out, cdz_gen_result *res, cdz_error *err) {
    const cdz_score *p = rq->primer;
    cdz_status st = cdz_score_copy(out, p, err);
    if (st != CDZ_OK) return st;
    if (rq->primer_track >= 0) {
        if ((size_t)rq->primer_track >= p->n_tracks) {
            char names[256] = "";
            for (size_t t = 0; t < p->n_tracks && strlen(names) + 40 < sizeof names; t++)
                snprintf(names + strlen(names), sizeof names - strlen(names), "%s%zu%s%s%s", t ? ", " : "", t,
                         p->tracks[t].name[0] ? " \"" : "", p->tracks[t].name, p->tracks[t].name[0] ? "\"" : "");
            cdz_score_free(out);
            return cdz_error_set(err, CDZ_ERR_ARG, "the primer has no track %d (its tracks: %s)", rq->primer_track,
                                 p->n_tracks ? names : "none");
        }
        size_t k = 0;
        for (size_t i = 0; i < out->n_notes; i++)
            if (out->notes[i].track == (uint16_t)rq->primer_track) out->notes[k++] = out->notes[i];
        if (k != out->n_notes) say(res, "primer: track %d only", rq->primer_track);
        out->n_notes = k;
        if ((st = cdz_score_finish(out, err)) != CDZ_OK) return st;
    }
    if (rq->primer_bars > 0) {
        int64_t bars = (int64_t)ceil(rq->primer_bars), end = cdz_score_bar_to_tick(out, bars);
        if (end < out->end_tick) {
            cdz_score cut;
            st = cdz_score_slice_ticks(&cut, out, 0, end, err);
            cdz_score_free(out);
            if (st != CDZ_OK) return st;
            *out = cut;
            say(res, "primer: its first %lld bar%s (cut at %.2f s of %.2f s)", (long long)bars, bars == 1 ? "" : "s",
                cdz_score_tick_to_seconds(p, end), p->duration_s);
        }
    }
    return CDZ_OK;
}

/* ---- lengths ---- */

/* 16th-note steps per bar of the frame's meter. */
static double steps_per_bar(const cdz_gen_frame *f) { return 16.0 * f->numerator / f->denominator; }

/* The seconds of `length` in the request's unit, for timed codecs (0 when the unit is tokens). */
static double length_seconds(const cdz_gen_request *rq, const cdz_gen_frame *f) {
    switch (rq->unit) {
    case CDZ_LEN_SECONDS: return rq->length;
    case CDZ_LEN_BARS: return rq->length * steps_per_bar(f) / 4.0 * 60.0 / f->qpm;
    case CDZ_LEN_STEPS:
    case CDZ_LEN_TOKENS: break;
    }
    return 0;
}

/* Grid codecs: new tokens for the request's length (whole steps, rounded). */
static int64_t grid_tokens(const cdz_gen_request *rq, const cdz_codec_gen *g, const cdz_gen_frame *f) {
    double steps = rq->unit == CDZ_LEN_STEPS ? rq->length
                 : rq->unit == CDZ_LEN_BARS ? rq->length * steps_per_bar(f)
                 : rq->unit == CDZ_LEN_SECONDS ? rq->length * f->qpm / 60.0 * 4.0
                                               : rq->length / g->tokens_per_step;
    return rq->unit == CDZ_LEN_TOKENS ? (int64_t)llround(rq->length) : (int64_t)llround(steps) * g->tokens_per_step;
}

typedef struct seconds_stop {
    const cdz_codec_gen *g;
    int64_t from;    /* the first new token */
    double seconds;
} seconds_stop;

/* Timed codecs: the new tokens span the wanted seconds. */
static int enough_seconds(void *ctx, const uint16_t *tok, int64_t len) {
    const seconds_stop *s = ctx;
    return s->g->seconds(tok + s->from, (size_t)(len - s->from)) >= s->seconds;
}

int64_t cdz_gen_default_context(const cdz_model *m) {
    int64_t longest = m->kind->default_window(m);
    int slides = m->kind->can_slide && m->kind->can_slide(m);
    if (slides && m->train.seq > 0 && (longest == 0 || m->train.seq < longest)) return m->train.seq;
    return longest;
}

/* The context a generation uses: the request's (at most the model's longest), else the default. */
static int64_t context_of(const cdz_model *m, const cdz_gen_request *rq, cdz_error *err, cdz_status *st) {
    int64_t longest = m->kind->default_window(m);
    *st = CDZ_OK;
    if (rq->context > 0) {
        if (longest > 0 && rq->context > longest)
            *st = cdz_error_set(err, CDZ_ERR_ARG, "a context of %lld tokens: the %s model reads at most %lld",
                                (long long)rq->context, m->config_name, (long long)longest);
        return rq->context;
    }
    return cdz_gen_default_context(m);
}

/* ---- continuation ---- */

/* The frame put back on a decoded score: the key the primer was in, its tempo and meter. Grid codecs
 * decode at 120 qpm on their steps (stretched to the tempo); timed ones in seconds (kept, the ticks
 * recomputed at the tempo). */
static cdz_status apply_frame(cdz_score *s, const cdz_codec_gen *g, const cdz_gen_frame *f, cdz_error *err) {
    cdz_status st = f->transpose ? cdz_score_transpose(s, -f->transpose, err) : CDZ_OK;
    if (st == CDZ_OK && g->tokens_per_step) {
        if (f->qpm != 120) st = cdz_score_stretch(s, 120.0 / f->qpm, err);
    } else if (st == CDZ_OK) {
        st = cdz_score_retime(s, f->qpm, err);
    }
    if (st == CDZ_OK && (f->numerator != 4 || f->denominator != 4 || s->n_time_sigs))
        st = cdz_score_set_meter(s, (uint8_t)f->numerator, (uint8_t)f->denominator, err);
    return st;
}

/* Rows a generation needs at once: the outputs, or a beam and its copies. */
static int rows_for(const cdz_sample_params *p, int n_outputs) {
    return p->beam_size > 0 ? p->beam_size * (p->branch_factor > 0 ? p->branch_factor : 1) : n_outputs;
}

/* One output of a model that cannot slide past its context, written in pieces: whenever the context
 * is full, the next piece is primed with the last half of it. tok holds the primer (n_primer) and room
 * for `steps` more; *made receives the new tokens. A seconds stop counts every new token, those the
 * piece's primer no longer holds included. */
static cdz_status generate_in_pieces(cdz_session *s, uint16_t *tok, int64_t n_primer, int64_t steps, int64_t window,
                                     const cdz_sample_params *p, cdz_rng *rng, double *loglik, int64_t *made,
                                     const seconds_stop *stop, cdz_error *err) {
    int64_t len = n_primer, keep = window / 2 > 0 ? window / 2 : 1;
    uint16_t *piece = cdz_malloc((size_t)(window + 1) * sizeof *piece);
    if (!piece) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    cdz_status st = CDZ_OK;
    *loglik = 0;
    while (st == CDZ_OK && len < n_primer + steps) {
        int64_t from = len > window ? len - keep : 0; /* the piece's primer: all so far, or the last half */
        int64_t np = len - from, room = window + 1 - np, want = n_primer + steps - len;
        if (room > want) room = want;
        cdz_sample_params q = *p;
        seconds_stop piece_stop;
        if (stop) {
            int64_t first_new = n_primer > from ? n_primer : from; /* the piece's first token that is new */
            double before = stop->g->seconds(tok + n_primer, (size_t)(first_new - n_primer));
            if (stop->g->seconds(tok + n_primer, (size_t)(len - n_primer)) >= stop->seconds) break;
            piece_stop = (seconds_stop){stop->g, first_new - from, stop->seconds - before};
            q.stop = enough_seconds, q.stop_ctx = &piece_stop;
        }
        double ll = 0;
        int64_t got = 0;
        st = cdz_generate_session(s, tok + from, np, room, 1, &q, rng, piece, &ll, &got, NULL, NULL, err);
        if (st != CDZ_OK) break;
        memcpy(tok + len, piece + np, (size_t)got * sizeof *tok);
        len += got;
        *loglik += ll;
        if (got < room) break; /* the stop said enough */
    }
    *made = len - n_primer;
    cdz_free(piece);
    return st;
}

static cdz_status continue_primer(const cdz_model *m, const cdz_codec *c, const cdz_gen_request *rq,
                                  cdz_gen_result *res, cdz_error *err) {
    const cdz_codec_gen *g = c->gen;
    cdz_gen_frame f;
    frame_of(rq->primer, &f);
    cdz_tokens pt = {0};
    cdz_status st = CDZ_OK;
    if (rq->primer) {
        cdz_score cut;
        if ((st = cut_primer(rq, &cut, res, err)) != CDZ_OK) return st;
        frame_of(&cut, &f);
        st = g->primer(c, &cut, &f, &pt, err);
        cdz_score_free(&cut);
    } else {
        uint16_t start[16];
        size_t n = g->start(c, start, 16);
        st = n ? cdz_tokens_append(&pt, start, n) : cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "codec %s has no start", c->name);
    }
    if (st != CDZ_OK) {
        cdz_tokens_free(&pt);
        return st;
    }
    if (rq->qpm > 0) f.qpm = rq->qpm;
    if (f.transpose) say(res, "primer: moved %+d semitones into the model's range and key, and back", f.transpose);
    const int64_t np = (int64_t)pt.offsets[1];
    cdz_status cs;
    const int64_t window = context_of(m, rq, err, &cs);
    if (cs != CDZ_OK) {
        cdz_tokens_free(&pt);
        return cs;
    }
    const int slides = window == 0 || (m->kind->can_slide && m->kind->can_slide(m));
    /* the length: whole tokens for grid codecs, seconds for timed ones (with a cap that is reported) */
    seconds_stop stop = {g, np, 0}, *stopp = NULL;
    int64_t steps;
    double seconds = g->tokens_per_step ? 0 : length_seconds(rq, &f);
    if (g->tokens_per_step) {
        steps = grid_tokens(rq, g, &f);
    } else if (seconds > 0) {
        stop.seconds = seconds, stopp = &stop;
        steps = (int64_t)ceil(seconds * 400) + 64; /* far above the densest piano (POP909: about 60 a second) */
    } else {
        steps = (int64_t)llround(rq->length);
    }
    if (steps < 1) {
        cdz_tokens_free(&pt);
        return cdz_error_set(err, CDZ_ERR_ARG, "a length of %g %s is less than one token", rq->length,
                             rq->unit == CDZ_LEN_BARS ? "bars" : rq->unit == CDZ_LEN_SECONDS ? "seconds" : "steps");
    }
    const int64_t total = np + steps;
    int outs = rq->n_outputs;
    uint16_t *tok = cdz_calloc((size_t)outs * (size_t)total, sizeof *tok);
    res->scores = cdz_calloc((size_t)outs, sizeof *res->scores);
    res->loglik = cdz_calloc((size_t)outs, sizeof *res->loglik);
    res->new_tokens = cdz_calloc((size_t)outs, sizeof *res->new_tokens);
    cdz_session *s = NULL;
    if (!tok || !res->scores || !res->loglik || !res->new_tokens) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (st == CDZ_OK) st = cdz_session_new(&s, m, rows_for(&rq->sampling, outs), window, err);
    cdz_rng rng;
    cdz_rng_seed(&rng, rq->seed);
    cdz_sample_params sp = rq->sampling;
    if (stopp) sp.stop = enough_seconds, sp.stop_ctx = stopp;
    if (st == CDZ_OK && (slides || total <= window + 1)) {
        int64_t made = 0;
        if (rq->sampling.beam_size > 0 && stopp)
            st = cdz_error_set(err, CDZ_ERR_ARG, "beam search draws a fixed number of tokens: give the length in tokens");
        else
            st = cdz_generate_session(s, pt.tokens, np, steps, outs, &sp, &rng, tok, res->loglik, &made, rq->progress,
                                      rq->progress_ctx, err);
        for (int o = 0; o < outs; o++) res->new_tokens[o] = made;
    } else if (st == CDZ_OK) {
        for (int o = 0; o < outs && st == CDZ_OK; o++) {
            uint16_t *row = tok + (size_t)o * (size_t)total;
            memcpy(row, pt.tokens, (size_t)np * sizeof *row);
            st = generate_in_pieces(s, row, np, steps, window, &rq->sampling, &rng, &res->loglik[o], &res->new_tokens[o],
                                    stopp, err);
            if (rq->progress) rq->progress(rq->progress_ctx, o + 1, outs);
        }
    }
    if (st == CDZ_OK && window > 0 && np + res->new_tokens[0] > window + 1)
        say(res, slides ? "the model attends to the last %lld tokens: past them its window slid over the cache"
                        : "the model reads at most %lld tokens: past them each new part was primed with the last half",
            (long long)window);
    if (st == CDZ_OK && stopp && res->new_tokens[0] >= steps &&
        g->seconds(tok + np, (size_t)res->new_tokens[0]) < seconds)
        say(res, "stopped at %lld tokens before reaching %.1f s", (long long)steps, seconds);
    for (int o = 0; o < outs && st == CDZ_OK; o++) {
        cdz_score *out = &res->scores[o];
        st = c->decode(tok + (size_t)o * (size_t)total, (size_t)(np + res->new_tokens[o]), out, err);
        if (st == CDZ_OK) {
            res->n = o + 1;
            st = apply_frame(out, g, &f, err);
        }
    }
    res->primer_tokens = np, res->qpm = f.qpm, res->numerator = f.numerator, res->denominator = f.denominator;
    res->transpose = f.transpose, res->context = window;
    cdz_session_free(s);
    cdz_free(tok);
    cdz_tokens_free(&pt);
    return st;
}

/* ---- conditioned: an accompaniment for a melody ---- */

/* Empties the tracks that are not the melody's (its tracks named MELODY; with none, the melody is all
 * of it and nothing goes): their notes, controls and bends. Returns how many tracks lost notes. */
static int keep_melody_tracks(cdz_score *s) {
    uint8_t melody[65536 / 8] = {0};
    int named = 0;
    for (size_t t = 0; t < s->n_tracks; t++)
        if (strcasecmp(s->tracks[t].name, "MELODY") == 0) melody[t / 8] |= (uint8_t)(1 << (t % 8)), named = 1;
    if (!named) return 0;
#define IS_MELODY(track) (melody[(track) / 8] & (1 << ((track) % 8)))
    uint8_t lost[65536 / 8] = {0};
    size_t k = 0;
    for (size_t i = 0; i < s->n_notes; i++)
        if (IS_MELODY(s->notes[i].track)) s->notes[k++] = s->notes[i];
        else lost[s->notes[i].track / 8] |= (uint8_t)(1 << (s->notes[i].track % 8));
    s->n_notes = k;
    k = 0;
    for (size_t i = 0; i < s->n_controls; i++)
        if (IS_MELODY(s->controls[i].track)) s->controls[k++] = s->controls[i];
    s->n_controls = k;
    k = 0;
    for (size_t i = 0; i < s->n_bends; i++)
        if (IS_MELODY(s->bends[i].track)) s->bends[k++] = s->bends[i];
    s->n_bends = k;
#undef IS_MELODY
    int n = 0;
    for (size_t t = 0; t < s->n_tracks; t++) n += (lost[t / 8] >> (t % 8)) & 1;
    return n;
}

/* A MIDI channel no note of the score uses (not the drums'), or -1. */
static int free_channel(const cdz_score *s) {
    int used[16] = {0};
    used[CDZ_DRUM_CHANNEL] = 1;
    for (size_t i = 0; i < s->n_notes; i++) used[s->notes[i].channel & 15] = 1;
    for (int c = 0; c < 16; c++)
        if (!used[c]) return c;
    return -1;
}

static cdz_status accompany(const cdz_model *m, const cdz_codec *c, const cdz_gen_request *rq, cdz_gen_result *res,
                            cdz_error *err) {
    const cdz_codec_gen *g = c->gen;
    const cdz_score *mel = rq->condition;
    if (!mel) return cdz_error_set(err, CDZ_ERR_ARG, "an accompaniment model needs a melody to accompany");
    if (rq->sampling.beam_size > 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "accompaniments are sampled (no beam search): each stretch stops when it "
                             "covers its seconds");
    const int outs = rq->n_outputs;
    const double seg = g->segment_seconds;
    const int64_t fed_max = m->kind->default_window(m); /* [melody, SEP, accompaniment] tokens fed */
    res->scores = cdz_calloc((size_t)outs, sizeof *res->scores);
    res->loglik = cdz_calloc((size_t)outs, sizeof *res->loglik);
    res->new_tokens = cdz_calloc((size_t)outs, sizeof *res->new_tokens);
    if (!res->scores || !res->loglik || !res->new_tokens) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    cdz_status st = CDZ_OK;
    for (int o = 0; o < outs && st == CDZ_OK; o++)
        if ((st = cdz_score_copy(&res->scores[o], mel, err)) == CDZ_OK) res->n = o + 1;
    if (st != CDZ_OK) return st;
    if (!rq->keep_all) {
        int emptied = 0;
        for (int o = 0; o < outs; o++) emptied = keep_melody_tracks(&res->scores[o]);
        if (emptied) say(res, "%d track%s besides the melody left out (keep them with keep_all)", emptied, emptied == 1 ? "" : "s");
    }
    const uint16_t track = (uint16_t)mel->n_tracks;
    int channel = free_channel(&res->scores[0]);
    if (channel < 0) {
        channel = 0;
        say(res, "every MIDI channel of the melody's file is taken: the accompaniment shares channel 1");
    }
    cdz_session *s = NULL;
    st = cdz_session_new(&s, m, outs, 0, err);
    cdz_rng rng;
    cdz_rng_seed(&rng, rq->seed);
    int silent = 0, too_long = 0, n_seg = 0;
    uint16_t *tok = NULL;
    for (double start = 0; start < mel->duration_s && st == CDZ_OK; start += seg) {
        n_seg++;
        cdz_tokens cond = {0};
        st = g->condition(mel, start, start + seg, &cond, err);
        const int64_t np = st == CDZ_OK ? (int64_t)cond.offsets[1] : 0, room = fed_max + 1 - np;
        if (st == CDZ_OK && np <= 1) silent++;
        else if (st == CDZ_OK && room < 1) too_long++;
        else if (st == CDZ_OK) {
            cdz_free(tok);
            tok = cdz_malloc((size_t)outs * (size_t)(np + room) * sizeof *tok);
            if (!tok) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
            seconds_stop stop = {g, np, seg};
            cdz_sample_params sp = rq->sampling;
            sp.stop = enough_seconds, sp.stop_ctx = &stop;
            int64_t made = 0;
            double ll[64], *llp = outs <= 64 ? ll : cdz_calloc((size_t)outs, sizeof *llp);
            if (st == CDZ_OK && !llp) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
            if (st == CDZ_OK)
                st = cdz_generate_session(s, cond.tokens, np, room, outs, &sp, &rng, tok, llp, &made, NULL, NULL, err);
            for (int o = 0; o < outs && st == CDZ_OK; o++) {
                res->loglik[o] += llp[o], res->new_tokens[o] += made;
                cdz_score part;
                st = g->decode_part(tok + (size_t)o * (size_t)(np + room) + np, (size_t)made, &part, err);
                if (st != CDZ_OK) break;
                cdz_score *out = &res->scores[o];
                for (size_t i = 0; st == CDZ_OK && i < part.n_notes; i++) {
                    const cdz_note *a = &part.notes[i];
                    if (a->start_s >= seg) continue; /* past the stretch: the next one plays there */
                    int64_t t0 = cdz_score_seconds_to_tick(out, start + a->start_s);
                    int64_t t1 = cdz_score_seconds_to_tick(out, start + a->end_s);
                    st = cdz_score_add_note(out, track, (uint8_t)channel, 0, a->pitch, a->velocity, t0, t1 > t0 ? t1 : t0 + 1);
                    if (st) cdz_error_set(err, st, "out of memory");
                }
                cdz_score_free(&part);
            }
            if (llp != ll) cdz_free(llp);
        }
        cdz_tokens_free(&cond);
        if (rq->progress) rq->progress(rq->progress_ctx, (int64_t)(start / seg) + 1, (int64_t)ceil(mel->duration_s / seg));
    }
    cdz_free(tok);
    cdz_session_free(s);
    for (int o = 0; o < outs && st == CDZ_OK; o++) {
        cdz_score *out = &res->scores[o];
        st = cdz_score_finish(out, err);
        if (st == CDZ_OK && out->n_tracks > track)
            snprintf(out->tracks[track].name, sizeof out->tracks[track].name, "Accompaniment");
    }
    if (silent)
        say(res, "%d of %d stretches of %.0f s have no melody and were left without accompaniment", silent, n_seg, seg);
    if (too_long)
        say(res, "%d of %d stretches hold more melody than the model reads (%lld tokens) and were left without "
            "accompaniment", too_long, n_seg, (long long)(fed_max / 2));
    res->qpm = mel->n_tempos ? mel->tempos[0].qpm : 120;
    res->context = fed_max;
    return st;
}

cdz_status cdz_generate_score(const cdz_model *m, const cdz_gen_request *rq, cdz_gen_result *out, cdz_error *err) {
    memset(out, 0, sizeof *out);
    const cdz_codec *c = cdz_codec_find(m->codec);
    if (!c || !c->gen)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "the %s model reads codec '%s', which cadenza cannot generate from",
                             m->config_name, m->codec);
    if (rq->n_outputs < 1 || rq->n_outputs > 100000)
        return cdz_error_set(err, CDZ_ERR_ARG, "%d outputs: expected 1 to 100000", rq->n_outputs);
    if (!c->gen->condition && !(rq->length > 0 && rq->length < 1e9))
        return cdz_error_set(err, CDZ_ERR_ARG, "a length of %g: expected a positive number", rq->length);
    if (rq->qpm < 0 || rq->qpm > 1000) return cdz_error_set(err, CDZ_ERR_ARG, "tempo %g qpm: expected 1 to 1000", rq->qpm);
    if (c->gen->condition && rq->primer)
        return cdz_error_set(err, CDZ_ERR_ARG, "an accompaniment model continues no primer: give it a melody to accompany");
    if (!c->gen->condition && rq->condition)
        return cdz_error_set(err, CDZ_ERR_ARG, "the %s model (%s) takes a primer, not a melody to accompany",
                             m->config_name, m->kind->name);
    cdz_status st = c->gen->condition ? accompany(m, c, rq, out, err) : continue_primer(m, c, rq, out, err);
    if (st != CDZ_OK) cdz_gen_result_free(out);
    return st;
}

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
#include "cadenza/json.h"
#include "cadenza/train.h"
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
    memset(f, 0, sizeof *f);
    f->qpm = s && s->n_tempos && s->tempos[0].tick == 0 ? s->tempos[0].qpm : 120;
    f->numerator = 4, f->denominator = 4;
    if (s && s->n_time_sigs && s->time_sigs[0].tick == 0)
        f->numerator = s->time_sigs[0].numerator, f->denominator = s->time_sigs[0].denominator;
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
        if ((st = cdz_score_finish(out, err)) != CDZ_OK) {
            cdz_score_free(out);
            return st;
        }
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

enum { STOP_ROWS = 64 }; /* rows whose running seconds a stop keeps; beyond, it sums again each time */

/* A stop once the new tokens measure enough: seconds (timed codecs) or bars (bar codecs). */
typedef double (*measure_fn)(const uint16_t *tok, size_t n);

typedef struct seconds_stop {
    measure_fn measure;
    int64_t from;    /* the first new token */
    double seconds;
    /* per row (by the address of its tokens): how far it was summed, and the seconds so far, so that a
     * step costs one token's seconds rather than the whole row's */
    const uint16_t *row[STOP_ROWS];
    int64_t upto[STOP_ROWS];
    double sum[STOP_ROWS];
} seconds_stop;

static seconds_stop make_stop(measure_fn measure, int64_t from, double seconds) {
    seconds_stop s;
    memset(&s, 0, sizeof s);
    s.measure = measure, s.from = from, s.seconds = seconds;
    return s;
}

/* Timed codecs: the new tokens span the wanted seconds. */
static int enough_seconds(void *ctx, const uint16_t *tok, int64_t len) {
    seconds_stop *s = ctx;
    int k = 0;
    while (k < STOP_ROWS && s->row[k] && s->row[k] != tok) k++;
    if (k == STOP_ROWS) return s->measure(tok + s->from, (size_t)(len - s->from)) >= s->seconds;
    if (!s->row[k] || len < s->upto[k]) s->row[k] = tok, s->upto[k] = s->from, s->sum[k] = 0;
    s->sum[k] += s->measure(tok + s->upto[k], (size_t)(len - s->upto[k]));
    s->upto[k] = len;
    /* a sum of many small shifts (0.01 s each) drifts below the same sum taken at once (1000 steps of
     * 0.01 s add to 9.99999999...): a microsecond's slack keeps the stop where the whole row's sum puts it */
    return s->sum[k] >= s->seconds - 1e-6;
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
    if (rq->context > 0 && longest == 0) {
        *st = cdz_error_set(err, CDZ_ERR_ARG, "the %s model (%s) carries its whole history in its state: it has no "
                            "context to set", m->config_name, m->kind->name);
        return 0;
    }
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

/* One output of a model that cannot slide past its context, written in pieces: whenever the context
 * is full, the next piece is primed with the codec's start tokens and the last half of what was written
 * (whole steps of a grid codec, so a chorale's voices stay in their places). tok holds the primer
 * (n_primer) and room for `steps` more; *made receives the new tokens. A seconds stop counts every new
 * token, those the piece's primer no longer holds included. */
static cdz_status generate_in_pieces(cdz_session *s, const cdz_codec *c, uint16_t *tok, int64_t n_primer, int64_t steps,
                                     int64_t window, const cdz_sample_params *p, cdz_rng *rng, double *loglik,
                                     int64_t *made, const seconds_stop *stop, cdz_error *err) {
    const cdz_codec_gen *g = c->gen;
    const cdz_codec_bar_gen *bg = cdz_codec_bar_gen_of(c);
    uint16_t start[16];
    const int64_t n_start = (int64_t)g->start(c, start, sizeof start / sizeof *start);
    int64_t len = n_primer, keep = window / 2 > n_start + 1 ? window / 2 - n_start : 1;
    uint16_t *piece = cdz_malloc((size_t)(window + 1) * sizeof *piece), *pprimer = cdz_malloc((size_t)window * sizeof *pprimer);
    if (!piece || !pprimer) {
        cdz_free(piece), cdz_free(pprimer);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    }
    cdz_status st = CDZ_OK;
    *loglik = 0;
    while (st == CDZ_OK && len < n_primer + steps) {
        /* the piece's primer: everything while it fits, else the start tokens and the last `keep` tokens */
        int64_t from = 0, lead = 0;
        if (len > window) {
            from = len - keep;
            if (g->tokens_per_step) { /* whole steps */
                int64_t off = (from - g->lead) % g->tokens_per_step;
                if (off) from += g->tokens_per_step - off;
            }
            if (bg) { /* from a bar line, which states where the notes lie (no start tokens: their bar would be empty) */
                int64_t b = from;
                while (b < len && bg->bars(tok + b, 1) == 0) b++;
                if (b < len) from = b;
            } else {
                memcpy(pprimer, start, (size_t)n_start * sizeof *pprimer);
                lead = n_start;
            }
        }
        int64_t np = lead + (len - from), room = window + 1 - np, want = n_primer + steps - len;
        memcpy(pprimer + lead, tok + from, (size_t)(len - from) * sizeof *pprimer);
        if (room > want) room = want;
        cdz_sample_params q = *p;
        seconds_stop piece_stop;
        if (stop) {
            /* the piece sees the new tokens from first_new on; those before it have been counted */
            int64_t first_new = n_primer > from ? n_primer : from;
            double before = stop->measure(tok + n_primer, (size_t)(first_new - n_primer));
            if (stop->measure(tok + n_primer, (size_t)(len - n_primer)) >= stop->seconds) break;
            piece_stop = make_stop(stop->measure, lead + (first_new - from), stop->seconds - before);
            q.stop = enough_seconds, q.stop_ctx = &piece_stop;
        }
        double ll = 0;
        int64_t got = 0;
        st = cdz_generate_session(s, pprimer, np, room, 1, &q, rng, piece, &ll, &got, NULL, NULL, err);
        if (st != CDZ_OK) break;
        memcpy(tok + len, piece + np, (size_t)got * sizeof *tok);
        len += got;
        *loglik += ll;
        if (got < room) break; /* the stop said enough */
    }
    *made = len - n_primer;
    cdz_free(piece), cdz_free(pprimer);
    return st;
}

/* The primer's tokens (or the codec's start) and the frame the output takes from it. */
static cdz_status primer_tokens(const cdz_codec *c, const cdz_gen_request *rq, cdz_gen_frame *f, cdz_tokens *pt,
                                cdz_gen_result *res, cdz_error *err) {
    const cdz_codec_gen *g = c->gen;
    frame_of(NULL, f);
    cdz_status st;
    if (rq->primer) {
        cdz_score cut;
        if ((st = cut_primer(rq, &cut, res, err)) != CDZ_OK) return st;
        frame_of(&cut, f);
        st = g->primer(c, &cut, f, pt, err);
        cdz_score_free(&cut);
    } else {
        uint16_t start[16];
        size_t n = g->start(c, start, 16);
        st = n ? cdz_tokens_append(pt, start, n) : cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "codec %s has no start", c->name);
    }
    if (st != CDZ_OK) return st;
    if (rq->qpm > 0) f->qpm = rq->qpm;
    if (f->note[0]) say(res, "%s", f->note);
    if (f->transpose) say(res, "primer: moved %+d semitones into the model's range and key, and back", f->transpose);
    return CDZ_OK;
}

/* How many tokens to generate: whole steps for grid codecs; for timed ones a number of tokens, or (for
 * seconds and bars) a stop once the new tokens span them, with a cap far above any real density (reached,
 * it is reported). Bar codecs count bars: a length in bars stops at the bar line after the last one (the
 * BAR that would open the next), one in seconds is that many bars at the frame's tempo and meter. *amount
 * is what the stop waits for (seconds, or BAR tokens), 0 for a fixed number of tokens. */
static cdz_status length_in_tokens(const cdz_gen_request *rq, const cdz_codec *c, const cdz_gen_frame *f,
                                   int64_t *steps, double *amount, cdz_gen_result *res, cdz_error *err) {
    const cdz_codec_gen *g = c->gen;
    const cdz_codec_bar_gen *bg = cdz_codec_bar_gen_of(c);
    if (bg) {
        double bar_s = steps_per_bar(f) / 4.0 * 60.0 / f->qpm;
        double bars = rq->unit == CDZ_LEN_BARS ? ceil(rq->length - 1e-9)
                    : rq->unit == CDZ_LEN_SECONDS ? ceil(rq->length / bar_s - 1e-9) : 0;
        if (bars > 1e6) return cdz_error_set(err, CDZ_ERR_ARG, "%g bars: at most a million", bars);
        /* the start's BAR opens the first new bar; after a primer the first new BAR does */
        *amount = bars > 0 ? bars + (rq->primer ? 1 : 0) : 0;
        *steps = bars > 0 ? (int64_t)bars * 512 + 64 : (int64_t)llround(rq->length); /* POP909: 49 a bar */
        if (rq->unit == CDZ_LEN_SECONDS && bars > 0)
            say(res, "%g s taken as %.0f bar%s of %d/%d at %g qpm", rq->length, bars, bars == 1 ? "" : "s", f->numerator,
                f->denominator, f->qpm);
    } else {
        *amount = g->tokens_per_step ? 0 : length_seconds(rq, f);
        if (g->tokens_per_step) *steps = grid_tokens(rq, g, f);
        else if (*amount > 0) *steps = (int64_t)ceil(*amount * 400) + 64; /* POP909's piano: about 60 tokens a second */
        else *steps = (int64_t)llround(rq->length);
    }
    if (*steps < 1)
        return cdz_error_set(err, CDZ_ERR_ARG, "a length of %g %s is less than one token", rq->length,
                             rq->unit == CDZ_LEN_BARS ? "bars" : rq->unit == CDZ_LEN_SECONDS ? "seconds" : "steps");
    return CDZ_OK;
}

/* Bar codecs decode with their own tempo and meter (their TEMPO and TIME_SIG tokens): what is put back is
 * the key, and the tempo asked for (the piece stretched so that it starts at it). */
static cdz_status apply_bar_frame(cdz_score *s, const cdz_gen_frame *f, double qpm, cdz_error *err) {
    cdz_status st = f->transpose ? cdz_score_transpose(s, -f->transpose, err) : CDZ_OK;
    double first = s->n_tempos && s->tempos[0].tick == 0 ? s->tempos[0].qpm : 120;
    if (st == CDZ_OK && qpm > 0 && fabs(first - qpm) > 1e-9) st = cdz_score_stretch(s, first / qpm, err);
    return st;
}

static cdz_status continue_primer(const cdz_model *m, const cdz_codec *c, const cdz_gen_request *rq,
                                  cdz_gen_result *res, cdz_error *err) {
    const cdz_codec_gen *g = c->gen;
    const cdz_codec_bar_gen *bg = cdz_codec_bar_gen_of(c);
    cdz_gen_frame f;
    cdz_tokens pt = {0};
    int64_t steps = 0, window = 0;
    double seconds = 0; /* what the stop waits for: seconds, or bars for bar codecs */
    cdz_status st = primer_tokens(c, rq, &f, &pt, res, err);
    if (st == CDZ_OK) st = length_in_tokens(rq, c, &f, &steps, &seconds, res, err);
    if (st == CDZ_OK) window = context_of(m, rq, err, &st);
    if (st == CDZ_OK && seconds > 0 && rq->sampling.beam_size > 0)
        st = cdz_error_set(err, CDZ_ERR_ARG, "beam search draws a fixed number of tokens: give the length in tokens or "
                           "steps, not in seconds or bars");
    if (st != CDZ_OK) {
        cdz_tokens_free(&pt);
        return st;
    }
    const int64_t np = (int64_t)pt.offsets[1], total = np + steps;
    const int outs = rq->n_outputs;
    seconds_stop stop = make_stop(bg ? bg->bars : g->seconds, np, seconds);
    uint16_t *tok = cdz_calloc((size_t)outs * (size_t)total, sizeof *tok);
    res->scores = cdz_calloc((size_t)outs, sizeof *res->scores);
    res->loglik = cdz_calloc((size_t)outs, sizeof *res->loglik);
    res->new_tokens = cdz_calloc((size_t)outs, sizeof *res->new_tokens);
    cdz_session *s = NULL;
    if (!tok || !res->scores || !res->loglik || !res->new_tokens) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (st == CDZ_OK) st = cdz_session_new(&s, m, cdz_sample_rows_needed(&rq->sampling, outs), window, err);
    const int slides = st == CDZ_OK && cdz_session_can_slide(s);
    cdz_rng rng;
    cdz_rng_seed(&rng, rq->seed);
    if (st == CDZ_OK && (slides || total <= window + 1)) {
        cdz_sample_params sp = rq->sampling;
        if (seconds > 0) sp.stop = enough_seconds, sp.stop_ctx = &stop;
        int64_t made = 0;
        st = cdz_generate_session(s, pt.tokens, np, steps, outs, &sp, &rng, tok, res->loglik, &made, rq->progress,
                                  rq->progress_ctx, err);
        for (int o = 0; o < outs; o++) res->new_tokens[o] = made;
    } else if (st == CDZ_OK) {
        for (int o = 0; o < outs && st == CDZ_OK; o++) {
            uint16_t *row = tok + (size_t)o * (size_t)total;
            memcpy(row, pt.tokens, (size_t)np * sizeof *row);
            st = generate_in_pieces(s, c, row, np, steps, window, &rq->sampling, &rng, &res->loglik[o],
                                    &res->new_tokens[o], seconds > 0 ? &stop : NULL, err);
            if (rq->progress) rq->progress(rq->progress_ctx, o + 1, outs);
        }
    }
    int past = 0, short_of = 0;
    for (int o = 0; st == CDZ_OK && o < outs; o++) {
        past |= window > 0 && np + res->new_tokens[o] > window + 1;
        const uint16_t *row = tok + (size_t)o * (size_t)total + np;
        if (bg && seconds > 0) {
            /* rows sampled on past their stop (others were not done) end at it, without its BAR */
            int64_t k = 0;
            for (double bars = 0; k < res->new_tokens[o]; k++)
                if ((bars += bg->bars(row + k, 1)) >= seconds - 1e-6) break;
            short_of += k == res->new_tokens[o];
            res->new_tokens[o] = k;
        } else {
            short_of += seconds > 0 && g->seconds(row, (size_t)res->new_tokens[o]) < seconds;
        }
    }
    if (past)
        say(res, slides ? "the model attends to the last %lld tokens: past them its window slid over the cache"
                        : "the model reads at most %lld tokens: past them each new part was primed with the last half",
            (long long)window);
    if (short_of && bg)
        say(res, "%d output%s stopped at %lld tokens before the end of the last bar", short_of, short_of == 1 ? "" : "s",
            (long long)steps);
    else if (short_of)
        say(res, "%d output%s stopped at %lld tokens before reaching %.1f s", short_of, short_of == 1 ? "" : "s",
            (long long)steps, seconds);
    for (int o = 0; o < outs && st == CDZ_OK; o++) {
        cdz_score *out = &res->scores[o];
        st = c->decode(tok + (size_t)o * (size_t)total, (size_t)(np + res->new_tokens[o]), out, err);
        if (st == CDZ_OK) {
            res->n = o + 1;
            st = bg ? apply_bar_frame(out, &f, rq->qpm, err) : apply_frame(out, g, &f, err);
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

/* What writing an accompaniment stretch by stretch needs to carry along. */
typedef struct acc_run {
    const cdz_codec_gen *g;
    cdz_session *s;
    cdz_rng rng;
    int outs, channel;
    uint16_t track;
    int64_t half;               /* tokens the model reads on each side of the separator */
    int silent, too_long, uncovered;
} acc_run;

/* Every output's score finished, the new part's track named "Accompaniment". */
static cdz_status finish_accompaniments(const acc_run *a, cdz_gen_result *res, cdz_error *err) {
    cdz_status st = CDZ_OK;
    for (int o = 0; o < a->outs && st == CDZ_OK; o++) {
        cdz_score *out = &res->scores[o];
        st = cdz_score_finish(out, err);
        if (st == CDZ_OK && out->n_tracks > a->track)
            snprintf(out->tracks[a->track].name, sizeof out->tracks[a->track].name, "Accompaniment");
    }
    return st;
}

/* Samples the accompaniment of the stretch whose condition half is cond (np tokens) starting at `start`
 * seconds, and adds its notes to every output on the run's track and channel. */
static cdz_status accompany_stretch(acc_run *a, const cdz_gen_request *rq, const uint16_t *cond, int64_t np, double start,
                                    cdz_gen_result *res, cdz_error *err) {
    const double seg = a->g->segment_seconds;
    const int64_t room = a->half; /* accompaniment tokens: the decoder's positions */
    uint16_t *tok = cdz_malloc((size_t)a->outs * (size_t)(np + room) * sizeof *tok);
    double *ll = cdz_calloc((size_t)a->outs, sizeof *ll);
    if (!tok || !ll) {
        cdz_free(tok), cdz_free(ll);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    }
    seconds_stop stop = make_stop(a->g->seconds, np, seg);
    cdz_sample_params sp = rq->sampling;
    sp.stop = enough_seconds, sp.stop_ctx = &stop;
    int64_t made = 0;
    cdz_status st = cdz_generate_session(a->s, cond, np, room, a->outs, &sp, &a->rng, tok, ll, &made, NULL, NULL, err);
    int short_of = 0;
    for (int o = 0; o < a->outs && st == CDZ_OK; o++) {
        const uint16_t *part_tok = tok + (size_t)o * (size_t)(np + room) + np;
        short_of |= a->g->seconds(part_tok, (size_t)made) < seg;
        res->loglik[o] += ll[o], res->new_tokens[o] += made;
        cdz_score part;
        if ((st = a->g->decode_part(part_tok, (size_t)made, &part, err)) != CDZ_OK) break;
        cdz_score *out = &res->scores[o];
        for (size_t i = 0; st == CDZ_OK && i < part.n_notes; i++) {
            const cdz_note *n = &part.notes[i];
            if (n->start_s >= seg) continue; /* past the stretch: the next one plays there */
            int64_t t0 = cdz_score_seconds_to_tick(out, start + n->start_s), t1 = cdz_score_seconds_to_tick(out, start + n->end_s);
            st = cdz_score_add_note(out, a->track, (uint8_t)a->channel, 0, n->pitch, n->velocity, t0, t1 > t0 ? t1 : t0 + 1);
            if (st) cdz_error_set(err, st, "out of memory");
        }
        cdz_score_free(&part);
    }
    a->uncovered += st == CDZ_OK && short_of;
    cdz_free(tok), cdz_free(ll);
    return st;
}

/* ---- conditioned by bars: overlapping stretches ---- */

/* The bar of a score holding tick t (bars from its time signatures), searched from bar 0 up to `limit`. */
static int64_t bar_holding(const cdz_score *s, int64_t t, int64_t limit) {
    int64_t b = 0;
    while (b + 1 < limit && cdz_score_bar_to_tick(s, b + 1) <= t) b++;
    return b;
}

/* The accompaniment of stretch [first, first + nb) bars for output o: the decoder primed with the output's
 * accompaniment of the stretch's first `done` bars (written by the stretch before) and the BAR opening the
 * next, then sampled until it opens bar nb; the new bars' notes added to the output, whole (a note may
 * sound past the stretch). Returns in *covered whether the stretch's bars were all written. */
static cdz_status accompany_bar_stretch(acc_run *a, const cdz_codec_bar_gen *bg, const cdz_gen_request *rq,
                                        const cdz_tokens *cond, int64_t first, int64_t nb, int64_t done, int o,
                                        cdz_gen_result *res, int *covered, cdz_error *err) {
    cdz_score *out = &res->scores[o];
    cdz_tokens prime = {0};
    *covered = 0;
    cdz_status st = bg->part_bars(out, a->track, first, done, &prime, err);
    const int64_t nc = (int64_t)cond->offsets[1], npr = st == CDZ_OK ? (int64_t)prime.offsets[1] : 0;
    const int64_t room = a->half - npr;
    if (st != CDZ_OK || room < 1) {
        cdz_tokens_free(&prime);
        return st;
    }
    uint16_t *prompt = cdz_malloc((size_t)(nc + npr) * sizeof *prompt), *tok = cdz_malloc((size_t)(nc + npr + room) * sizeof *tok);
    if (!prompt || !tok) {
        cdz_free(prompt), cdz_free(tok), cdz_tokens_free(&prime);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    }
    memcpy(prompt, cond->tokens, (size_t)nc * sizeof *prompt);
    memcpy(prompt + nc, prime.tokens, (size_t)npr * sizeof *prompt);
    cdz_tokens_free(&prime);
    /* the part after the separator (the primed bars' BARs included) ends when it opens bar nb */
    seconds_stop stop = make_stop(bg->bars, nc, (double)nb + 1);
    cdz_sample_params sp = rq->sampling;
    sp.stop = enough_seconds, sp.stop_ctx = &stop;
    int64_t made = 0;
    double ll = 0;
    st = cdz_generate_session(a->s, prompt, nc + npr, room, 1, &sp, &a->rng, tok, &ll, &made, NULL, NULL, err);
    cdz_free(prompt);
    int64_t part = npr + made, k = 0;
    const uint16_t *ptok = tok + nc;
    for (double bars = 0; st == CDZ_OK && k < part; k++)
        if ((bars += bg->bars(ptok + k, 1)) >= (double)nb + 1 - 1e-6) break;
    *covered = k < part;
    cdz_score ps;
    if (st == CDZ_OK) {
        res->loglik[o] += ll, res->new_tokens[o] += made;
        st = bg->decode_part(ptok, (size_t)k, &ps, err);
    }
    cdz_free(tok);
    if (st != CDZ_OK) return st;
    for (size_t i = 0; st == CDZ_OK && i < ps.n_notes; i++) {
        const cdz_note *n = &ps.notes[i];
        int64_t j = bar_holding(&ps, n->start_tick, nb + 1);
        if (j < done || j >= nb) continue; /* the primed bars (written before), or past the stretch */
        int64_t off = n->start_tick - cdz_score_bar_to_tick(&ps, j), len = n->end_tick - n->start_tick;
        int64_t t0 = cdz_score_bar_to_tick(out, first + j) + off * out->ppq / ps.ppq, t1 = t0 + len * out->ppq / ps.ppq;
        st = cdz_score_add_note(out, a->track, (uint8_t)a->channel, 0, n->pitch, n->velocity, t0, t1 > t0 ? t1 : t0 + 1);
        if (st != CDZ_OK) cdz_error_set(err, st, "out of memory");
    }
    cdz_score_free(&ps);
    if (st == CDZ_OK) st = cdz_score_finish(out, err);
    return st;
}

/* An accompaniment written over overlapping stretches of bars: stretch k covers bars [k s, k s + n) (n the
 * codec's segment_bars, s its stride_bars), its encoder reading the melody of all n bars (what comes
 * next included), its decoder primed with the accompaniment already written for the first n - s bars; it
 * writes the last s (the first stretch all n). Stretches without melody are played too. The melody's bar
 * lines are the codec's (cdz_remi_align: estimated from its notes where the file's cannot be trusted); the
 * model writes on those, and the output is moved back so that the melody keeps its file's own timing. */
static cdz_status accompany_bars(const cdz_model *m, const cdz_codec_bar_gen *bg, const cdz_gen_request *rq,
                                 cdz_gen_result *res, cdz_error *err) {
    const cdz_score *mel = rq->condition;
    acc_run a = {NULL, NULL, {{0}}, rq->n_outputs, 0, 0, m->kind->default_window(m) / 2, 0, 0, 0};
    res->scores = cdz_calloc((size_t)a.outs, sizeof *res->scores);
    res->loglik = cdz_calloc((size_t)a.outs, sizeof *res->loglik);
    res->new_tokens = cdz_calloc((size_t)a.outs, sizeof *res->new_tokens);
    if (!res->scores || !res->loglik || !res->new_tokens) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    cdz_score base, aligned;
    cdz_remi_frame fr;
    cdz_status st = cdz_score_copy(&base, mel, err);
    if (st != CDZ_OK) return st;
    if (!rq->keep_all) {
        int emptied = keep_melody_tracks(&base);
        if (emptied)
            say(res, "%d track%s besides the melody left out (keep_all, 'accompany --keep all', keeps them)", emptied,
                emptied == 1 ? "" : "s");
    }
    st = bg->align(&base, 1, &aligned, &fr, err); /* from the file's start: its intro is accompanied */
    cdz_score_free(&base);
    if (st != CDZ_OK) return st;
    if (fr.estimated)
        say(res, "the melody's bar lines were estimated from its notes (%d/%d, its beat %lld ticks past its grid, the "
            "downbeat on its beat %d)", fr.numerator, fr.denominator, (long long)fr.phase, fr.downbeat + 1);
    if (fr.meters_replaced) say(res, "%u time signature%s no bar token holds read as 4/4", fr.meters_replaced,
                                fr.meters_replaced == 1 ? "" : "s");
    for (int o = 0; o < a.outs && st == CDZ_OK; o++)
        if ((st = cdz_score_copy(&res->scores[o], &aligned, err)) == CDZ_OK) res->n = o + 1;
    a.track = (uint16_t)aligned.n_tracks;
    if (st == CDZ_OK && (a.channel = free_channel(&aligned)) < 0) {
        a.channel = 0;
        say(res, "every MIDI channel of the melody's file is taken: the accompaniment shares channel 1");
    }
    /* the bars: through the end of the last note */
    int64_t last_end = -1, n_bars = 0;
    for (size_t i = 0; i < aligned.n_notes; i++)
        if (!aligned.notes[i].is_drum && aligned.notes[i].end_tick > last_end) last_end = aligned.notes[i].end_tick;
    while (last_end >= 0 && n_bars < CDZ_REMI_MAX_BARS && cdz_score_bar_to_tick(&aligned, n_bars) < last_end) n_bars++;
    const int64_t N = bg->segment_bars, stride = bg->stride_bars > 0 && bg->stride_bars <= N ? bg->stride_bars : N;
    const int64_t total = n_bars > N ? 1 + (n_bars - N + stride - 1) / stride : n_bars > 0;
    if (st == CDZ_OK) st = cdz_session_new(&a.s, m, 1, 0, err);
    cdz_rng_seed(&a.rng, rq->seed);
    int64_t k = 0;
    for (int64_t first = 0; st == CDZ_OK && k < total; k++, first += stride) {
        const int64_t nb = n_bars - first < N ? n_bars - first : N, done = k ? N - stride : 0;
        cdz_tokens cond = {0};
        st = bg->condition_bars(&aligned, first, nb, &cond, err);
        if (st == CDZ_OK && (int64_t)cond.offsets[1] - 1 > a.half) a.too_long++;
        for (int o = 0; st == CDZ_OK && o < a.outs && (int64_t)cond.offsets[1] - 1 <= a.half; o++) {
            int covered = 0;
            st = accompany_bar_stretch(&a, bg, rq, &cond, first, nb, done, o, res, &covered, err);
            a.uncovered += st == CDZ_OK && !covered && o == 0;
        }
        cdz_tokens_free(&cond);
        if (rq->progress) rq->progress(rq->progress_ctx, k + 1, total);
    }
    cdz_session_free(a.s);
    if (st == CDZ_OK) st = finish_accompaniments(&a, res, err);
    /* back to the melody's own clock: the user's melody stays where it was (accompaniment written in a
     * first bar that begins before the file does starts at the file's start) */
    for (int o = 0; o < res->n && st == CDZ_OK && fr.shift; o++)
        if ((st = cdz_score_shift_ticks(&res->scores[o], -fr.shift, err)) == CDZ_OK) st = cdz_score_finish(&res->scores[o], err);
    if (a.too_long)
        say(res, "%d of %lld stretches of %lld bars hold more melody than the model reads (%lld tokens) and were left "
            "without accompaniment", a.too_long, (long long)total, (long long)N, (long long)a.half);
    if (a.uncovered)
        say(res, "%d of %lld stretches end before their last bar: the model writes at most %lld tokens of accompaniment a "
            "stretch", a.uncovered, (long long)total, (long long)a.half);
    res->qpm = aligned.n_tempos && aligned.tempos[0].tick == 0 ? aligned.tempos[0].qpm : 120;
    res->numerator = fr.numerator, res->denominator = fr.denominator;
    res->context = 2 * a.half;
    cdz_score_free(&aligned);
    return st;
}

static cdz_status accompany(const cdz_model *m, const cdz_codec *c, const cdz_gen_request *rq, cdz_gen_result *res,
                            cdz_error *err) {
    const cdz_codec_gen *g = c->gen;
    const cdz_score *mel = rq->condition;
    if (!mel) return cdz_error_set(err, CDZ_ERR_ARG, "an accompaniment model needs a melody to accompany");
    if (rq->sampling.beam_size > 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "accompaniments are sampled (no beam search): each stretch stops when it "
                             "covers its seconds");
    const cdz_codec_bar_gen *bg = cdz_codec_bar_gen_of(c);
    if (bg && bg->segment_bars > 0) return accompany_bars(m, bg, rq, res, err);
    acc_run a = {g, NULL, {{0}}, rq->n_outputs, 0, (uint16_t)mel->n_tracks, m->kind->default_window(m) / 2, 0, 0, 0};
    const double seg = g->segment_seconds;
    res->scores = cdz_calloc((size_t)a.outs, sizeof *res->scores);
    res->loglik = cdz_calloc((size_t)a.outs, sizeof *res->loglik);
    res->new_tokens = cdz_calloc((size_t)a.outs, sizeof *res->new_tokens);
    if (!res->scores || !res->loglik || !res->new_tokens) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    cdz_status st = CDZ_OK;
    for (int o = 0; o < a.outs && st == CDZ_OK; o++)
        if ((st = cdz_score_copy(&res->scores[o], mel, err)) == CDZ_OK) res->n = o + 1;
    if (st != CDZ_OK) return st;
    if (!rq->keep_all) {
        int emptied = 0;
        for (int o = 0; o < a.outs; o++) emptied = keep_melody_tracks(&res->scores[o]);
        if (emptied)
            say(res, "%d track%s besides the melody left out (keep_all, 'accompany --keep all', keeps them)", emptied,
                emptied == 1 ? "" : "s");
    }
    if ((a.channel = free_channel(&res->scores[0])) < 0) {
        a.channel = 0;
        say(res, "every MIDI channel of the melody's file is taken: the accompaniment shares channel 1");
    }
    st = cdz_session_new(&a.s, m, a.outs, 0, err);
    cdz_rng_seed(&a.rng, rq->seed);
    int n_seg = 0;
    for (double start = 0; start < mel->duration_s && st == CDZ_OK; start += seg) {
        n_seg++;
        cdz_tokens cond = {0};
        st = g->condition(mel, start, start + seg, &cond, err);
        const int64_t np = st == CDZ_OK ? (int64_t)cond.offsets[1] : 0;
        if (st == CDZ_OK && np <= 1) a.silent++;
        else if (st == CDZ_OK && np - 1 > a.half) a.too_long++;
        else if (st == CDZ_OK) st = accompany_stretch(&a, rq, cond.tokens, np, start, res, err);
        cdz_tokens_free(&cond);
        if (rq->progress) rq->progress(rq->progress_ctx, (int64_t)(start / seg) + 1, (int64_t)ceil(mel->duration_s / seg));
    }
    cdz_session_free(a.s);
    if (st == CDZ_OK) st = finish_accompaniments(&a, res, err);
    if (a.silent)
        say(res, "%d of %d stretches of %.0f s have no melody and were left without accompaniment", a.silent, n_seg, seg);
    if (a.too_long)
        say(res, "%d of %d stretches hold more melody than the model reads (%lld tokens) and were left without "
            "accompaniment", a.too_long, n_seg, (long long)a.half);
    if (a.uncovered)
        say(res, "%d of %d stretches end before their %.0f s: the model writes at most %lld tokens of accompaniment a "
            "stretch", a.uncovered, n_seg, seg, (long long)a.half);
    res->qpm = mel->n_tempos ? mel->tempos[0].qpm : 120;
    res->context = 2 * a.half;
    return st;
}

cdz_status cdz_generate_score(const cdz_model *m, const cdz_gen_request *rq, cdz_gen_result *out, cdz_error *err) {
    memset(out, 0, sizeof *out);
    const cdz_codec *c = cdz_codec_find(m->codec);
    if (m->kind->latent_dim && m->kind->latent_dim(m) > 0)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "the %s model is a %s: it writes a window from a latent vector, "
                             "through 'cadenza vae sample' (or interpolate, reconstruct)", m->config_name, m->kind->name);
    if (!c || !c->gen)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "the %s model reads codec '%s', which cadenza cannot generate from",
                             m->config_name, m->codec);
    if (rq->n_outputs < 1 || rq->n_outputs > 100000)
        return cdz_error_set(err, CDZ_ERR_ARG, "%d outputs: expected 1 to 100000", rq->n_outputs);
    if (!m->kind->conditional && !(rq->length > 0 && rq->length < 1e9))
        return cdz_error_set(err, CDZ_ERR_ARG, "a length of %g: expected a positive number", rq->length);
    if (rq->qpm < 0 || rq->qpm > 1000) return cdz_error_set(err, CDZ_ERR_ARG, "tempo %g qpm: expected 1 to 1000", rq->qpm);
    if (m->kind->conditional && rq->primer)
        return cdz_error_set(err, CDZ_ERR_ARG, "an accompaniment model continues no primer: give it a melody to accompany");
    if (!m->kind->conditional && rq->condition)
        return cdz_error_set(err, CDZ_ERR_ARG, "the %s model (%s) takes a primer, not a melody to accompany",
                             m->config_name, m->kind->name);
    const cdz_codec_bar_gen *bg = cdz_codec_bar_gen_of(c);
    if (m->kind->conditional && !c->gen->condition && !(bg && bg->condition_bars))
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "the %s model writes a part for a condition, but its codec '%s' has "
                             "no condition half (accompaniment models read the accompaniment codec)", m->config_name,
                             m->codec);
    cdz_status st = m->kind->conditional ? accompany(m, c, rq, out, err) : continue_primer(m, c, rq, out, err);
    if (st != CDZ_OK) cdz_gen_result_free(out);
    return st;
}

/* ---- a checkpoint's recommended sampling ---- */

cdz_status cdz_gen_checkpoint_sampling(const char *path, cdz_sample_params *p, int *named, cdz_error *err) {
    *named = 0;
    cdz_error ignored;
    char *text = cdz_checkpoint_meta(path, "sampling", &ignored);
    if (!text) return CDZ_OK;
    cdz_json *j = NULL;
    cdz_status st = cdz_json_parse(text, strlen(text), path, &j, err);
    if (st == CDZ_OK && cdz_json_get(j, "temperature")) {
        double t = 1;
        st = cdz_json_get_number(j, "temperature", 1, &t, path, err);
        if (st == CDZ_OK && !(t >= 0 && t < 1e6))
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: sampling metadata: temperature %g is out of range", path, t);
        if (st == CDZ_OK) p->temperature = (float)t, ++*named;
    }
    if (st == CDZ_OK && cdz_json_get(j, "top_p")) {
        double v = 1;
        st = cdz_json_get_number(j, "top_p", 1, &v, path, err);
        if (st == CDZ_OK && !(v > 0 && v <= 1))
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: sampling metadata: top_p %g is out of range", path, v);
        if (st == CDZ_OK) p->top_p = (float)v, ++*named;
    }
    if (st == CDZ_OK && cdz_json_get(j, "top_k")) {
        int64_t k = 0;
        st = cdz_json_get_int(j, "top_k", 0, &k, path, err);
        if (st == CDZ_OK && (k < 0 || k > 1 << 20))
            st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: sampling metadata: top_k %lld is out of range", path, (long long)k);
        if (st == CDZ_OK) p->top_k = (int)k, ++*named;
    }
    cdz_json_free(j);
    cdz_free(text);
    if (st != CDZ_OK) *named = 0;
    return st;
}

char *cdz_gen_sampling_json(const cdz_sample_params *p) {
    const cdz_sample_params d = cdz_sample_default_params();
    char buf[160];
    size_t k = 0;
    if (p->temperature != d.temperature) k += (size_t)snprintf(buf + k, sizeof buf - k, ",\"temperature\":%g", p->temperature);
    if (p->top_k != d.top_k) k += (size_t)snprintf(buf + k, sizeof buf - k, ",\"top_k\":%d", p->top_k);
    if (p->top_p != d.top_p) k += (size_t)snprintf(buf + k, sizeof buf - k, ",\"top_p\":%g", p->top_p);
    if (!k) return NULL;
    char *out = cdz_malloc(k + 2); /* "{" + the fields without their first comma + "}" + NUL */
    if (out) {
        out[0] = '{';
        memcpy(out + 1, buf + 1, k - 1);
        out[k] = '}', out[k + 1] = 0;
    }
    return out;
}

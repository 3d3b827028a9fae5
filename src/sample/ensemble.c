/* Generation and infilling with an `ensemble` model (cadenza/ensemble.h).
 *
 * The sampler keeps the token grammar (a note is followed by its duration, positions rise within a
 * bar, a meter or tempo only right after BAR) by masking the logits, so whatever the model's weights,
 * what it writes decodes to the music it stands for. Requested instruments and their playing ranges
 * are masks too (`constrain`); every masked draw is counted and reported.
 *
 * Infilling follows the Anticipatory Music Transformer's sampling: the kept parts are controls, each
 * written CDZ_ENS_ANTICIPATION bars before it sounds. The model writes the other parts; whenever it
 * moves past the slot of a control not yet written (a later position, or the next bar), the sampler
 * writes that control first and lets the model draw again from there, as in training, where a control
 * comes before the events of its slot. Bars keep the input's meters and tempos (the sampler writes
 * BAR, TIME_SIG and TEMPO). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cadenza/ensemble.h"

cdz_ens_request cdz_ens_default_request(void) {
    cdz_ens_request r;
    memset(&r, 0, sizeof r);
    r.header = cdz_ens_header_default();
    r.seconds = 30;
    r.constrain = 1;
    r.sampling = cdz_sample_default_params();
    r.seed = 1;
    return r;
}

void cdz_ens_result_free(cdz_ens_result *r) {
    if (!r) return;
    cdz_score_free(&r->score);
    memset(r, 0, sizeof *r);
}

static int meter_steps(int k) {
    int num, den;
    cdz_remi_time_sig(k, &num, &den);
    return 4 * CDZ_ENS_STEPS_PER_QUARTER * num / den;
}

static double bar_seconds(int meter, int tempo) {
    return meter_steps(meter) / (double)CDZ_ENS_STEPS_PER_QUARTER * 60.0 / cdz_ens_tempo_qpm(tempo);
}

/* ---- the sampler ---- */

typedef struct ctl_item {
    int64_t slot_bar; /* the bar it is written in (its own bar - CDZ_ENS_ANTICIPATION) */
    int32_t pos;
    uint16_t note, dur;
} ctl_item;

typedef struct sampler {
    cdz_session *s;
    const cdz_ens_request *rq;
    cdz_rng rng;
    int V;
    float *logits, *masked;
    uint16_t *toks;           /* everything fed, for decoding */
    size_t n_toks, cap_toks;
    /* where the sequence is */
    int64_t bar;              /* the bar being written (-1 before the first BAR) */
    int32_t pos;              /* the last position written in it (-1: none yet) */
    int meter, tempo;         /* of the current bar */
    int bar_open;             /* BAR written and no position yet: a meter or tempo may follow */
    int pos_empty;            /* a position written and no note or control at it yet (training has none) */
    /* what may be written */
    uint32_t groups;          /* groups the model may write notes for */
    int constrain;
    const ctl_item *ctl;      /* controls still to write, in sequence order */
    size_t n_ctl, next_ctl;
    int64_t generated, forced;
    double masked_mass;         /* summed over draws: the model's probability the masks took out */
    int64_t draws;              /* the model's draws, kept or not (a bar line drawn, a draw a control preempts) */
    double loglik;
    cdz_error *err;
} sampler;

static cdz_status feed(sampler *z, uint16_t t) {
    if (cdz_grow((void **)&z->toks, &z->cap_toks, z->n_toks + 1, sizeof *z->toks))
        return cdz_error_set(z->err, CDZ_ERR_NOMEM, "out of memory generating");
    z->toks[z->n_toks++] = t;
    cdz_status st = cdz_session_feed(z->s, &t, z->logits, z->err);
    if (st) return st;
    if (t == CDZ_ENS_BAR || t == CDZ_ENS_LEAD) z->bar++, z->pos = -1, z->bar_open = t == CDZ_ENS_BAR, z->pos_empty = 0;
    else if (t >= CDZ_ENS_POS && t < CDZ_ENS_BAR) z->pos = t - CDZ_ENS_POS, z->bar_open = 0, z->pos_empty = 1;
    else if (t < CDZ_ENS_DUR) z->pos_empty = 0; /* a note or a control */
    else if (t >= CDZ_ENS_TIME_SIG && t < CDZ_ENS_TEMPO) z->meter = t - CDZ_ENS_TIME_SIG;
    else if (t >= CDZ_ENS_TEMPO && t < CDZ_ENS_STYLE) z->tempo = t - CDZ_ENS_TEMPO;
    return CDZ_OK;
}

static cdz_status force(sampler *z, uint16_t t) {
    z->forced++;
    return feed(z, t);
}

/* Whether the model may write token t now (the grammar, then the requested instruments). */
static int allowed(const sampler *z, int t, int expect_dur, int infill, int32_t bar_steps) {
    if (expect_dur) return t >= CDZ_ENS_DUR && t < CDZ_ENS_POS;
    if (t < CDZ_ENS_CONTROL) {
        if (z->pos < 0) return 0; /* a note needs a position */
        int g = t / CDZ_ENS_PITCHES, pitch = CDZ_ENS_PITCH_LO + t % CDZ_ENS_PITCHES;
        if (!(z->groups >> g & 1u)) return 0;
        if (z->constrain) {
            int lo, hi;
            cdz_ens_group_range(g, &lo, &hi);
            if (pitch < lo || pitch > hi) return 0;
        }
        return 1;
    }
    /* a position holds at least one note: no position or bar line straight after an empty one */
    if (t >= CDZ_ENS_POS && t < CDZ_ENS_BAR) return !z->pos_empty && t - CDZ_ENS_POS > z->pos && t - CDZ_ENS_POS < bar_steps;
    if (t == CDZ_ENS_BAR) return z->bar >= 0 && !z->pos_empty;
    /* a meter or tempo the request fixed stays; infilling keeps the input's */
    if (t >= CDZ_ENS_TIME_SIG && t < CDZ_ENS_TEMPO) return !infill && z->bar_open && z->rq->numerator <= 0;
    if (t >= CDZ_ENS_TEMPO && t < CDZ_ENS_STYLE) return !infill && z->bar_open && !(z->rq->qpm > 0);
    return 0; /* controls, durations out of place, header tokens, LEAD, END: the sampler's to write */
}

/* Draws the model's next token under the masks. */
static int draw(sampler *z, int expect_dur, int infill, int32_t bar_steps) {
    int any = 0;
    for (int t = 0; t < z->V; t++) {
        int ok = allowed(z, t, expect_dur, infill, bar_steps);
        z->masked[t] = ok ? z->logits[t] : NAN;
        any |= ok;
    }
    if (!any) return -1;
    double lp = 0;
    int t = cdz_sample_logits(z->masked, z->V, &z->rq->sampling, &z->rng, &lp);
    if (t < 0) return -1;
    /* how much the masks turned the model away: its probability on what they took out */
    double mx = -INFINITY, all = 0, kept = 0;
    for (int k = 0; k < z->V; k++)
        if (z->logits[k] > mx) mx = z->logits[k];
    for (int k = 0; k < z->V; k++) {
        double e = exp(z->logits[k] - mx);
        all += e;
        if (!isnan(z->masked[k])) kept += e;
    }
    z->masked_mass += 1.0 - kept / all;
    z->draws++;
    z->loglik += lp;
    return t;
}

/* Writes the controls whose slot comes before (bar, pos) (or at it when `at` is set). */
static cdz_status write_controls_before(sampler *z, int64_t bar, int32_t pos, int at) {
    cdz_status st = CDZ_OK;
    while (z->next_ctl < z->n_ctl && !st) {
        const ctl_item *c = &z->ctl[z->next_ctl];
        if (c->slot_bar > bar || (c->slot_bar == bar && (at ? c->pos > pos : c->pos >= pos))) break;
        if (c->slot_bar == z->bar && c->pos != z->pos) st = force(z, (uint16_t)(CDZ_ENS_POS + c->pos));
        if (!st) st = force(z, c->note);
        if (!st) st = force(z, c->dur);
        z->next_ctl++;
    }
    return st;
}

/* ---- pieces into score time ---- */

/* The groups of a header that the model may write in: the request's, or (none given) every group. */
static uint32_t all_groups(void) { return (1u << CDZ_ENS_GROUPS) - 1; }

static cdz_status sampler_init(sampler *z, const cdz_model *m, const cdz_ens_request *rq, cdz_error *err) {
    memset(z, 0, sizeof *z);
    z->rq = rq, z->err = err, z->bar = -1, z->pos = -1, z->meter = 7, z->tempo = cdz_ens_tempo_bin(120);
    if (strcmp(cdz_model_codec(m), "ensemble") != 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "the model reads %s tokens; ensemble generation needs a model of the ensemble codec",
                             cdz_model_codec(m));
    z->V = (int)cdz_model_vocab(m);
    if (z->V != CDZ_ENS_VOCAB) return cdz_error_set(err, CDZ_ERR_ARG, "the model predicts %d tokens, the ensemble codec has %d", z->V, CDZ_ENS_VOCAB);
    int64_t window = rq->context > 0 ? rq->context : cdz_model_max_len(m);
    cdz_status st = cdz_session_new(&z->s, m, 1, window, err);
    if (!st) st = cdz_session_reset(z->s, 1, err);
    if (!st && !cdz_session_can_slide(z->s))
        st = cdz_error_set(err, CDZ_ERR_ARG, "ensemble generation needs a model that slides over its cache (relative attention)");
    z->logits = cdz_malloc((size_t)z->V * sizeof *z->logits);
    z->masked = cdz_malloc((size_t)z->V * sizeof *z->masked);
    if (!st && (!z->logits || !z->masked)) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory generating");
    cdz_rng_seed(&z->rng, rq->seed);
    z->constrain = rq->constrain;
    return st;
}

static void sampler_free(sampler *z) {
    cdz_session_free(z->s);
    cdz_free(z->logits);
    cdz_free(z->masked);
    cdz_free(z->toks);
}

static void describe(const sampler *z, cdz_ens_result *out, const char *extra) {
    out->tokens = z->generated, out->forced = z->forced, out->loglik = z->loglik;
    out->masked_share = z->draws ? z->masked_mass / (double)z->draws : 0;
    snprintf(out->notes, sizeof out->notes, "%s%sthe masks (instruments, ranges, grammar) took out %.2f%% of the model's probability "
             "per token on average",
             extra ? extra : "", extra && *extra ? "; " : "", 100 * out->masked_share);
}

cdz_status cdz_ens_generate(const cdz_model *m, const cdz_ens_request *rq, cdz_ens_result *out, cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (!(rq->seconds > 0) || !isfinite(rq->seconds))
        return cdz_error_set(err, CDZ_ERR_ARG, "%g seconds: give a length above 0 and finite", rq->seconds);
    sampler z;
    cdz_status st = sampler_init(&z, m, rq, err);
    cdz_ens_header h = rq->header;
    h.anticipated = 0;
    z.groups = h.groups ? h.groups : all_groups();
    if (!h.groups) z.constrain = 0; /* no instruments asked for: ranges are the model's */
    uint16_t head[3 + CDZ_ENS_GROUPS];
    size_t nh = cdz_ens_header_tokens(&h, head);
    for (size_t i = 0; i < nh && !st; i++) st = force(&z, head[i]);
    if (!st) st = force(&z, CDZ_ENS_BAR);
    if (!st && rq->numerator > 0) {
        int k = cdz_remi_time_sig_token(rq->numerator, rq->denominator);
        if (k < 0) st = cdz_error_set(err, CDZ_ERR_ARG, "no meter token for %d/%d", rq->numerator, rq->denominator);
        else st = force(&z, (uint16_t)(CDZ_ENS_TIME_SIG + k));
    }
    if (!st && rq->qpm > 0) st = force(&z, (uint16_t)(CDZ_ENS_TEMPO + cdz_ens_tempo_bin(rq->qpm)));
    double elapsed = 0;
    int expect_dur = 0;
    int64_t bar_tokens = 0, forced_bars = 0;
    while (!st) {
        int t = draw(&z, expect_dur, 0, meter_steps(z.meter) < CDZ_ENS_POSITIONS ? meter_steps(z.meter) : CDZ_ENS_POSITIONS);
        if (t < 0) {
            st = cdz_error_set(err, CDZ_ERR_RANGE, "the model gave no usable next token (NaN logits)");
            break;
        }
        /* a bar that never ends (the model stuck on positions it cannot take) is closed by the sampler */
        if (!expect_dur && bar_tokens > 4 * CDZ_ENS_CHUNK / 2) t = CDZ_ENS_BAR, forced_bars++;
        if (t == CDZ_ENS_BAR) {
            elapsed += bar_seconds(z.meter, z.tempo);
            if (rq->progress) rq->progress(rq->progress_ctx, elapsed < rq->seconds ? elapsed : rq->seconds, rq->seconds);
            if (elapsed >= rq->seconds) break;
            bar_tokens = 0;
        }
        z.generated++, bar_tokens++;
        st = feed(&z, (uint16_t)t);
        expect_dur = t < CDZ_ENS_DUR;
    }
    if (!st) {
        cdz_ens_piece p;
        st = cdz_ens_read(z.toks, z.n_toks, &p, NULL, NULL, err);
        if (!st) {
            st = cdz_ens_piece_to_score(&p, &out->score, err);
            cdz_ens_piece_free(&p);
        }
    }
    char extra[160] = "";
    if (forced_bars) snprintf(extra, sizeof extra, "%lld bars ran past %d tokens and were closed", (long long)forced_bars, 4 * CDZ_ENS_CHUNK / 2);
    describe(&z, out, extra);
    sampler_free(&z);
    return st;
}

/* ---- infilling ---- */

/* Which of the score's tracks `keep` names (track names, or instrument group names), into kept[track].
 * Refuses a name that matches nothing, listing the file's track names. */
static cdz_status kept_tracks(const cdz_score *s, const cdz_ens_piece *p, const char *keep, uint8_t *kept, cdz_error *err) {
    for (const char *q = keep; q && *q;) {
        const char *e = strchr(q, ',');
        size_t len = e ? (size_t)(e - q) : strlen(q);
        while (len && (*q == ' ')) q++, len--;
        while (len && q[len - 1] == ' ') len--;
        char name[80];
        snprintf(name, sizeof name, "%.*s", (int)(len < 79 ? len : 79), q);
        int found = 0;
        for (size_t t = 0; t < s->n_tracks; t++)
            if (name[0] && strcasecmp(s->tracks[t].name, name) == 0) kept[t] = 1, found = 1;
        /* a track's number, as 'cadenza midi info' shows it ("2" or "track 2") */
        const char *digits = strncasecmp(name, "track ", 6) == 0 ? name + 6 : name;
        char *end;
        long num = digits[0] >= '0' && digits[0] <= '9' ? strtol(digits, &end, 10) : -1;
        if (!found && num >= 0 && !*end && (size_t)num < s->n_tracks) kept[num] = 1, found = 1;
        int g = found ? -1 : cdz_ens_group_find(name);
        for (size_t i = 0; g >= 0 && i < p->n_notes; i++)
            if (p->notes[i].group == g) kept[p->notes[i].track] = 1, found = 1;
        if (!found && name[0]) {
            char list[600] = "";
            size_t at = 0;
            for (size_t t = 0; t < s->n_tracks && at + 2 < sizeof list; t++) {
                int has = 0;
                for (size_t i = 0; i < s->n_notes && !has; i++) has = s->notes[i].track == t;
                if (!has) continue;
                uint8_t prog = 0, drum = 0;
                for (size_t i = 0; i < s->n_notes; i++)
                    if (s->notes[i].track == t) {
                        prog = s->notes[i].program, drum = s->notes[i].is_drum;
                        break;
                    }
                int w = snprintf(list + at, sizeof list - at, "%strack %zu \"%s\" (%s)", at ? ", " : "", t, s->tracks[t].name,
                                 cdz_gm_program_name(prog, drum));
                at += w > 0 ? (size_t)w : 0;
            }
            return cdz_error_set(err, CDZ_ERR_ARG, "no track named \"%s\" in the file (nor an instrument of it, nor a track number); its tracks with notes are: %s (name a track by its name or number, or an instrument)",
                                 name, at ? list : "(none has a name)");
        }
        q = e ? e + 1 : NULL;
    }
    return CDZ_OK;
}

static int ctl_cmp(const void *a, const void *b) {
    const ctl_item *x = a, *y = b;
    if (x->slot_bar != y->slot_bar) return x->slot_bar < y->slot_bar ? -1 : 1;
    if (x->pos != y->pos) return x->pos < y->pos ? -1 : 1;
    return (x->note > y->note) - (x->note < y->note);
}

/* A channel for a new track of `program`: one no note of the score uses (not 10), else one whose
 * notes all play that program, else -1. */
static int free_channel(const cdz_score *s, const uint8_t *taken, uint8_t program) {
    int used[16] = {0}, same[16];
    for (int c = 0; c < 16; c++) same[c] = 1;
    for (size_t i = 0; i < s->n_notes; i++) {
        used[s->notes[i].channel & 15] = 1;
        if (s->notes[i].program != program) same[s->notes[i].channel & 15] = 0;
    }
    for (int c = 0; c < 16; c++)
        if (c != 9 && !used[c] && !taken[c]) return c;
    for (int c = 0; c < 16; c++)
        if (c != 9 && same[c] && !taken[c]) return c;
    return -1;
}

cdz_status cdz_ens_infill(const cdz_model *m, const cdz_score *in, const char *keep, int64_t bar0, int64_t bar1,
                          const cdz_ens_request *rq, cdz_ens_result *out, cdz_error *err) {
    memset(out, 0, sizeof *out);
    cdz_ens_piece p;
    cdz_status st = cdz_ens_piece_from_score(in, &p, NULL, err);
    if (st) return st;
    if (!p.n_notes) {
        cdz_ens_piece_free(&p);
        return cdz_error_set(err, CDZ_ERR_ARG, "the file has no notes to keep or to fill in around");
    }
    if (bar0 < 0 || bar0 >= p.n_bars || (bar1 > 0 && bar1 <= bar0)) {
        st = cdz_error_set(err, CDZ_ERR_ARG, "bars %lld to %lld: the file has bars 1 to %lld", (long long)bar0 + 1,
                           (long long)(bar1 > 0 ? bar1 : p.n_bars), (long long)p.n_bars);
        cdz_ens_piece_free(&p);
        return st;
    }
    if (bar1 <= 0 || bar1 > p.n_bars) bar1 = p.n_bars; /* to the end */
    if (in->n_tracks + CDZ_ENS_GROUPS > 65535) {
        cdz_ens_piece_free(&p);
        return cdz_error_set(err, CDZ_ERR_ARG, "the file has %zu tracks: no room for the new parts' tracks", in->n_tracks);
    }
    uint8_t *kept = cdz_calloc(in->n_tracks + 1, 1), *control = cdz_calloc(p.n_notes, 1);
    ctl_item *ctl = cdz_calloc(p.n_notes, sizeof *ctl);
    int32_t *note_bar = cdz_calloc(in->n_notes + 1, sizeof *note_bar);
    int64_t *starts = NULL, n_starts = 0;
    if (!kept || !control || !ctl || !note_bar) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    if (!st) st = kept_tracks(in, &p, keep, kept, err);
    if (!st) st = cdz_ens_note_bars(in, note_bar, &starts, &n_starts, err);
    /* the groups to write: those asked for, or those of the tracks not kept; a track not kept whose
     * group is not among them stays as it is (given to the model like the kept ones) */
    uint32_t gen_groups = rq->header.groups, all = 0;
    if (!gen_groups)
        for (size_t i = 0; i < p.n_notes; i++)
            if (!(p.notes[i].track < in->n_tracks && kept[p.notes[i].track])) gen_groups |= 1u << p.notes[i].group;
    size_t n_also = 0;
    for (size_t i = 0; i < in->n_notes && !st; i++) {
        const cdz_note *n = &in->notes[i];
        if (n->track < in->n_tracks && !kept[n->track] && !(gen_groups >> cdz_ens_group_of(n->program, n->is_drum) & 1u))
            kept[n->track] = 2, n_also++;
    }
    size_t n_ctl = 0, n_kept = 0;
    for (size_t i = 0; i < p.n_notes && !st; i++) {
        const cdz_ens_note *n = &p.notes[i];
        all |= 1u << n->group;
        int k = n->track < in->n_tracks && kept[n->track];
        n_kept += (size_t)k;
        /* kept parts everywhere, and every part after the bars to fill, are given ahead */
        control[i] = (uint8_t)(k || n->bar >= bar1);
    }
    if (!st && !n_kept) st = cdz_error_set(err, CDZ_ERR_ARG, "the parts to keep have no notes");
    if (!st && !gen_groups) st = cdz_error_set(err, CDZ_ERR_ARG, "every part is kept: nothing to fill in (name the instruments to write with --instruments)");
    /* the controls the sampler writes as it goes: those written in bars bar0 on */
    for (size_t i = 0; i < p.n_notes && !st; i++)
        if (control[i] && p.notes[i].bar - CDZ_ENS_ANTICIPATION >= bar0)
            ctl[n_ctl++] = (ctl_item){p.notes[i].bar - CDZ_ENS_ANTICIPATION, p.notes[i].pos,
                                      (uint16_t)(CDZ_ENS_CONTROL + p.notes[i].group * CDZ_ENS_PITCHES + p.notes[i].pitch - CDZ_ENS_PITCH_LO),
                                      (uint16_t)(CDZ_ENS_DUR + cdz_remi_duration_token(p.notes[i].dur))};
    if (n_ctl) qsort(ctl, n_ctl, sizeof *ctl, ctl_cmp);
    sampler z;
    int z_live = 0;
    if (!st) {
        st = sampler_init(&z, m, rq, err);
        z_live = 1;
    }
    cdz_tokens prefix = {0};
    if (!st) {
        /* the prefix: header, LEAD bars, bars before bar0 as they are (their controls included) */
        cdz_ens_header h = rq->header;
        h.groups = all | gen_groups;
        h.anticipated = 1;
        st = cdz_ens_write(&p, &h, control, 0, bar0, 0, &prefix, err);
        z.groups = gen_groups;
        z.ctl = ctl, z.n_ctl = n_ctl;
        z.bar = -1 - CDZ_ENS_ANTICIPATION; /* the LEAD bars come first */
    }
    for (size_t i = 0; !st && i < prefix.n_tokens; i++) st = force(&z, prefix.tokens[i]);
    cdz_tokens_free(&prefix);
    /* then bar by bar: the sampler opens each bar, writes its controls as their slots come, the model the rest */
    for (int64_t b = bar0; b < bar1 && !st; b++) {
        st = force(&z, CDZ_ENS_BAR);
        /* the stream runs on from the piece's first bar (the prefix holds the bars before bar0), so the
         * meter and tempo are stated as training states them: in bar 1 and where they change */
        if (!st && (b == 0 || p.bars[b].time_sig != p.bars[b - 1].time_sig)) st = force(&z, (uint16_t)(CDZ_ENS_TIME_SIG + p.bars[b].time_sig));
        if (!st && (b == 0 || p.bars[b].tempo != p.bars[b - 1].tempo)) st = force(&z, (uint16_t)(CDZ_ENS_TEMPO + p.bars[b].tempo));
        int expect_dur = 0;
        int64_t bar_tokens = 0;
        while (!st) {
            int32_t steps = p.bars[b].steps < CDZ_ENS_POSITIONS ? p.bars[b].steps : CDZ_ENS_POSITIONS;
            int t = draw(&z, expect_dur, 1, steps);
            if (t < 0) {
                st = cdz_error_set(err, CDZ_ERR_RANGE, "the model gave no usable next token (NaN logits)");
                break;
            }
            if (!expect_dur && bar_tokens > 4 * CDZ_ENS_CHUNK / 2) t = CDZ_ENS_BAR;
            if (t == CDZ_ENS_BAR) {
                /* the bar ends: controls of it still to come are written first, and the model draws
                 * again from there (each time at least one control goes, so this ends) */
                if (z.next_ctl < z.n_ctl && z.ctl[z.next_ctl].slot_bar == b) {
                    st = write_controls_before(&z, b, CDZ_ENS_POSITIONS, 0);
                    continue;
                }
                break;
            }
            if (t >= CDZ_ENS_POS && t < CDZ_ENS_BAR) {
                int32_t q = t - CDZ_ENS_POS;
                if (z.next_ctl < z.n_ctl && z.ctl[z.next_ctl].slot_bar == b && z.ctl[z.next_ctl].pos < q) {
                    st = write_controls_before(&z, b, q, 0); /* controls between: written, then the model draws again */
                    continue;
                }
                z.generated++, bar_tokens++;
                if (!(st = feed(&z, (uint16_t)t))) st = write_controls_before(&z, b, q, 1);
                expect_dur = 0;
                continue;
            }
            z.generated++, bar_tokens++;
            st = feed(&z, (uint16_t)t);
            expect_dur = t < CDZ_ENS_DUR;
        }
    }
    /* the filled piece: the input as it was, less the parts written anew in the bars filled (by the
     * bars the model read them in), plus the new parts on the input's bar grid */
    cdz_ens_piece gen = {0};
    uint8_t *gen_ctl = NULL;
    int shared_channel = 0;
    if (!st) st = cdz_ens_read(z_live ? z.toks : NULL, z_live ? z.n_toks : 0, &gen, NULL, &gen_ctl, err);
    if (!st) st = cdz_score_copy(&out->score, in, err);
    if (!st) {
        size_t w = 0;
        for (size_t i = 0; i < out->score.n_notes; i++) {
            const cdz_note *n = &out->score.notes[i]; /* a copy keeps the notes' order */
            int drop = !(n->track < in->n_tracks && kept[n->track]) && note_bar[i] >= bar0 && note_bar[i] < bar1;
            if (!drop) out->score.notes[w++] = *n;
        }
        out->score.n_notes = w;
        uint16_t first = (uint16_t)out->score.n_tracks;
        int track_of[CDZ_ENS_GROUPS], channel_of[CDZ_ENS_GROUPS], next = 0;
        uint8_t taken[16] = {0};
        for (int g = 0; g < CDZ_ENS_GROUPS; g++) track_of[g] = -1, channel_of[g] = -1;
        for (size_t i = 0; i < gen.n_notes && !st; i++) {
            const cdz_ens_note *n = &gen.notes[i];
            if (gen_ctl[i] || n->bar < bar0 || n->bar >= bar1) continue;
            int g = n->group, drum = g == CDZ_ENS_DRUMS;
            if (track_of[g] < 0) {
                track_of[g] = next++;
                channel_of[g] = drum ? 9 : free_channel(in, taken, cdz_ens_group_program(g));
                if (channel_of[g] < 0) channel_of[g] = 15, shared_channel = 1;
                taken[channel_of[g]] = 1;
            }
            int64_t bs = n->bar < n_starts ? starts[n->bar] : starts[n_starts];
            int64_t start = bs + (int64_t)n->pos * in->ppq / CDZ_ENS_STEPS_PER_QUARTER;
            int64_t end = start + (int64_t)n->dur * in->ppq / CDZ_ENS_STEPS_PER_QUARTER;
            st = cdz_score_add_note(&out->score, (uint16_t)(first + track_of[g]), (uint8_t)channel_of[g], cdz_ens_group_program(g),
                                    n->pitch, 80, start, end > start ? end : start + 1);
            if (st) st = cdz_error_set(err, st, "out of memory writing the new parts");
            if (!st && drum) out->score.notes[out->score.n_notes - 1].is_drum = 1;
        }
        if (!st) st = cdz_score_finish(&out->score, err);
        for (int g = 0; g < CDZ_ENS_GROUPS && !st; g++)
            if (track_of[g] >= 0 && (size_t)(first + track_of[g]) < out->score.n_tracks)
                snprintf(out->score.tracks[first + track_of[g]].name, sizeof out->score.tracks[0].name, "%s (cadenza)", cdz_ens_group_name(g));
    }
    if (z_live) {
        char extra[300];
        snprintf(extra, sizeof extra, "bars %lld-%lld filled; %zu notes kept as they were%s%s", (long long)bar0 + 1, (long long)bar1, n_kept,
                 n_also ? " (with the tracks of instruments not asked for)" : "",
                 shared_channel ? "; every MIDI channel is in use: a new part shares channel 16" : "");
        describe(&z, out, extra);
        sampler_free(&z);
    }
    if (st) cdz_score_free(&out->score);
    cdz_ens_piece_free(&gen);
    cdz_free(gen_ctl);
    cdz_free(kept);
    cdz_free(control);
    cdz_free(ctl);
    cdz_free(note_bar);
    cdz_free(starts);
    cdz_ens_piece_free(&p);
    return st;
}

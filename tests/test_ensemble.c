/* The ensemble codec, generation and infilling (src/codec/ensemble.c, src/sample/ensemble.c):
 * instrument groups, styles and composers; pieces and tokens round trip (plain and anticipated, and
 * every piece of the multi-instrument corpora); dataset sequences fit their windows and hold every note
 * once; transposition; generation keeps its grammar, instruments and ranges and is deterministic; a
 * tiny model overfit on two pieces follows the style and instruments of its header; infilling keeps the
 * kept parts note for note and writes only the bars asked for; bad requests are refused with the list
 * of valid ones. */
#include <math.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "cadenza/data.h"
#include "cadenza/ensemble.h"
#include "cadenza/train.h"
#include "test.h"

/* ---- helpers ---- */

/* A score of `bars` bars: a meter change to 3/4 at bar `bars/2`, a tempo change, three instruments
 * (violin, cello, flute) on their own tracks, notes on the 12-per-quarter grid. */
static void make_trio(cdz_score *s, int bars) {
    cdz_error e;
    cdz_score_init(s, 480, &e);
    cdz_score_add_tempo(s, 0, 100);
    cdz_score_add_time_signature(s, 0, 4, 4);
    int64_t tick = 0;
    for (int b = 0; b < bars; b++) {
        int beats = b < bars / 2 ? 4 : 3;
        if (b == bars / 2) {
            cdz_score_add_time_signature(s, tick, 3, 4);
            cdz_score_add_tempo(s, tick, 140);
        }
        for (int q = 0; q < beats; q++) {
            int64_t t = tick + q * 480;
            cdz_score_add_note(s, 1, 0, 40, (uint8_t)(67 + (b * 3 + q) % 12), 90, t, t + 240);       /* violin eighths */
            cdz_score_add_note(s, 1, 0, 40, (uint8_t)(72 + (b + q) % 5), 90, t + 240, t + 400);       /* and off-beats */
            if (q == 0) cdz_score_add_note(s, 2, 1, 42, (uint8_t)(36 + b % 12), 70, t, t + 480 * beats); /* cello bar notes */
            if (q % 2 == 1) cdz_score_add_note(s, 3, 2, 73, (uint8_t)(79 + q), 60, t + 160, t + 320); /* flute triplet 8th */
        }
        tick += beats * 480;
    }
    cdz_score_finish(s, &e);
    snprintf(s->tracks[1].name, sizeof s->tracks[1].name, "Violin I");
    snprintf(s->tracks[2].name, sizeof s->tracks[2].name, "Cello");
    snprintf(s->tracks[3].name, sizeof s->tracks[3].name, "Flute");
}

/* Whether two pieces hold the same notes (bar, position, duration, group, pitch). */
static int same_notes(const cdz_ens_piece *a, const cdz_ens_piece *b, char *why, size_t n) {
    if (a->n_notes != b->n_notes) {
        snprintf(why, n, "%zu notes against %zu", a->n_notes, b->n_notes);
        return 0;
    }
    for (size_t i = 0; i < a->n_notes; i++) {
        const cdz_ens_note *x = &a->notes[i], *y = &b->notes[i];
        if (x->bar != y->bar || x->pos != y->pos || x->group != y->group || x->pitch != y->pitch ||
            cdz_remi_duration_token(x->dur) != cdz_remi_duration_token(y->dur)) {
            snprintf(why, n, "note %zu: bar %d pos %d dur %d group %d pitch %d against bar %d pos %d dur %d group %d pitch %d", i, x->bar,
                     x->pos, x->dur, x->group, x->pitch, y->bar, y->pos, y->dur, y->group, y->pitch);
            return 0;
        }
    }
    return 1;
}

/* ---- the header's vocabularies ---- */

static void test_groups_styles_composers(void) {
    int seen[CDZ_ENS_GROUPS] = {0};
    for (int p = 0; p < 128; p++) {
        int g = cdz_ens_group_of(p, 0);
        CHECK(g >= 0 && g < CDZ_ENS_DRUMS, "program %d has group %d", p, g);
        if (g >= 0 && g < CDZ_ENS_GROUPS) seen[g] = 1;
    }
    seen[cdz_ens_group_of(0, 1)] = 1;
    CHECK_INT(cdz_ens_group_of(5, 1), CDZ_ENS_DRUMS);
    for (int g = 0; g < CDZ_ENS_GROUPS; g++) {
        CHECK(seen[g], "group %s has a program", cdz_ens_group_name(g));
        CHECK_INT(cdz_ens_group_find(cdz_ens_group_name(g)), g);
        int lo, hi;
        cdz_ens_group_range(g, &lo, &hi);
        CHECK(lo >= CDZ_ENS_PITCH_LO && hi < CDZ_ENS_PITCH_LO + CDZ_ENS_PITCHES && lo < hi, "%s's range %d-%d", cdz_ens_group_name(g), lo, hi);
        if (g != CDZ_ENS_DRUMS) CHECK_INT(cdz_ens_group_of(cdz_ens_group_program(g), 0), g);
    }
    CHECK_INT(cdz_ens_group_of(40, 0), cdz_ens_group_find("violin"));
    CHECK_INT(cdz_ens_group_of(41, 0), cdz_ens_group_find("Viola"));
    CHECK_INT(cdz_ens_group_of(42, 0), cdz_ens_group_find("CELLO"));
    CHECK_INT(cdz_ens_group_find("French Horn"), cdz_ens_group_find("horn"));
    CHECK_INT(cdz_ens_group_find("Acoustic Grand Piano"), 0);
    CHECK_INT(cdz_ens_group_find("kazoo"), -1);
    CHECK_INT(cdz_ens_group_find(""), -1);
    char list[800];
    cdz_ens_group_list(list, sizeof list);
    CHECK_STR_CONTAINS(list, "violin, viola, cello");

    CHECK_INT(cdz_ens_style_of("Baroque", "mutopia"), cdz_ens_style_find("baroque"));
    CHECK_INT(cdz_ens_style_of("Romantique", ""), cdz_ens_style_find("romantic"));
    CHECK_INT(cdz_ens_style_of("Classical/Romantic orchestral", "openscore"), cdz_ens_style_find("orchestral"));
    CHECK_INT(cdz_ens_style_of("string quartet", "openscore"), cdz_ens_style_find("quartet"));
    CHECK_INT(cdz_ens_style_of("", "pop909"), cdz_ens_style_find("pop"));
    CHECK_INT(cdz_ens_style_of(NULL, "nottingham"), cdz_ens_style_find("folk"));
    CHECK_INT(cdz_ens_style_of("Technique", ""), cdz_ens_style_find("other"));
    CHECK_INT(cdz_ens_style_of("", "somewhere"), -1);
    CHECK_INT(cdz_ens_style_find("jazz"), 7);
    CHECK_INT(cdz_ens_style_find("polka"), -1);

    CHECK_INT(cdz_ens_composer_of("BachJS"), 0);
    CHECK_INT(cdz_ens_composer_of("Bach, Johann Sebastian"), 0);
    CHECK_INT(cdz_ens_composer_of("Mendelssohn-BartholdyF"), 5);
    CHECK_INT(cdz_ens_composer_of("Offenbach, Jacques"), -1); /* a surname only at a word's start */
    CHECK_INT(cdz_ens_composer_of("Traditional"), CDZ_ENS_COMPOSERS - 1);
    CHECK_INT(cdz_ens_composer_of(""), -1);
}

/* ---- pieces and tokens ---- */

static void test_round_trips(void) {
    cdz_score s;
    make_trio(&s, 8);
    cdz_ens_piece p, q, r;
    cdz_extract_stats st = {0};
    cdz_error err = {0};
    CHECK(cdz_ens_piece_from_score(&s, &p, &st, &err) == CDZ_OK, "%s", err.msg);
    CHECK_INT(p.n_bars, 8);
    CHECK_INT(p.bars[0].steps, 48);
    CHECK_INT(p.bars[7].steps, 36);
    CHECK(p.bars[4].tempo != p.bars[3].tempo, "the tempo changes at bar 5");
    CHECK_INT(st.odd_bars, 0);
    /* plain: every note an event */
    cdz_tokens t = {0};
    cdz_ens_header h = cdz_ens_header_default();
    h.style = cdz_ens_style_find("baroque"), h.composer = 0;
    CHECK(cdz_ens_write(&p, &h, NULL, 0, p.n_bars, 1, &t, &err) == CDZ_OK, "%s", err.msg);
    const uint16_t *tok = t.tokens;
    CHECK_INT(tok[0], CDZ_ENS_STYLE + h.style);
    CHECK_INT(tok[1], CDZ_ENS_COMPOSER + 0);
    CHECK_INT(tok[2], CDZ_ENS_INST + cdz_ens_group_find("violin"));
    CHECK_INT(tok[t.n_tokens - 1], CDZ_ENS_END);
    cdz_ens_header hb;
    uint8_t *ctl = NULL;
    CHECK(cdz_ens_read(tok, t.n_tokens, &q, &hb, &ctl, &err) == CDZ_OK, "%s", err.msg);
    char why[300] = "";
    CHECK(same_notes(&p, &q, why, sizeof why), "plain round trip: %s", why);
    CHECK(hb.style == h.style && hb.composer == 0 && hb.anticipated == 0, "the header comes back");
    CHECK_INT(hb.groups, (1u << 6) | (1u << 8) | (1u << 23));
    int none = 1;
    for (size_t i = 0; i < q.n_notes; i++) none &= !ctl[i];
    CHECK(none, "no controls in a plain sequence");
    cdz_free(ctl);
    /* seconds: 4 bars of 4/4 at 100 qpm, 4 of 3/4 at 140 */
    CHECK_NEAR(cdz_ens_seconds(tok, t.n_tokens), 4 * 4 * 0.6 + 4 * 3 * 60.0 / cdz_ens_tempo_qpm(cdz_ens_tempo_bin(140)), 0.2);
    /* score and back */
    cdz_score back;
    CHECK(cdz_ens_piece_to_score(&q, &back, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_ens_piece_from_score(&back, &r, NULL, &err) == CDZ_OK, "%s", err.msg);
    CHECK(same_notes(&p, &r, why, sizeof why), "score round trip: %s", why);
    CHECK_INT(back.n_time_sigs, 2);
    cdz_score_free(&back);
    cdz_ens_piece_free(&q), cdz_ens_piece_free(&r);
    cdz_tokens_free(&t);
    /* anticipated: the cello and the flute as controls, written two bars early */
    uint8_t *control = calloc(p.n_notes, 1);
    for (size_t i = 0; i < p.n_notes; i++) control[i] = p.notes[i].group != 6;
    h.anticipated = 1;
    CHECK(cdz_ens_write(&p, &h, control, 0, p.n_bars, 1, &t, &err) == CDZ_OK, "%s", err.msg);
    int leads = 0, before_first_bar_controls = 0, in_bar = 0;
    for (size_t i = 0; i < t.n_tokens; i++) {
        leads += t.tokens[i] == CDZ_ENS_LEAD;
        in_bar |= t.tokens[i] == CDZ_ENS_BAR;
        before_first_bar_controls += !in_bar && t.tokens[i] >= CDZ_ENS_CONTROL && t.tokens[i] < CDZ_ENS_DUR;
    }
    CHECK_INT(leads, CDZ_ENS_ANTICIPATION);
    CHECK(before_first_bar_controls > 0, "the first bars' controls come in the LEAD bars");
    CHECK(cdz_ens_read(t.tokens, t.n_tokens, &q, &hb, &ctl, &err) == CDZ_OK, "%s", err.msg);
    CHECK(hb.anticipated, "AAR read back");
    CHECK(same_notes(&p, &q, why, sizeof why), "anticipated round trip: %s", why);
    int flags_ok = 1;
    for (size_t i = 0; i < q.n_notes && i < p.n_notes; i++) flags_ok &= ctl[i] == control[i];
    CHECK(flags_ok, "the controls come back as controls");
    cdz_free(ctl);
    cdz_ens_piece_free(&q);
    cdz_tokens_free(&t);
    /* a stretch: bars 3-5 of the piece; controls past its end are those of the two bars after it */
    CHECK(cdz_ens_write(&p, &h, control, 2, 5, 0, &t, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_ens_read(t.tokens, t.n_tokens, &q, NULL, &ctl, &err) == CDZ_OK, "%s", err.msg);
    int in_range = 1;
    for (size_t i = 0; i < q.n_notes; i++) in_range &= ctl[i] ? q.notes[i].bar >= 0 && q.notes[i].bar < 5 : q.notes[i].bar < 3;
    CHECK(in_range, "a stretch's events are its bars, its controls reach two bars past it");
    cdz_free(ctl);
    cdz_ens_piece_free(&q);
    cdz_tokens_free(&t);
    free(control);
    cdz_ens_piece_free(&p);
    cdz_score_free(&s);
}

/* Dataset sequences: each fits a window of CDZ_ENS_CHUNK tokens, opens with the header, and (plain)
 * every note is an event of exactly one. */
static void test_chunks(void) {
    const cdz_codec *c = cdz_codec_find("ensemble");
    CHECK(c && c->encode_info && c->vocab_size == CDZ_ENS_VOCAB, "the ensemble codec is registered");
    if (!c) return;
    cdz_score s;
    make_trio(&s, 400); /* about 22 tokens a beat: several sequences */
    cdz_ens_piece p;
    cdz_error err = {0};
    CHECK(cdz_ens_piece_from_score(&s, &p, NULL, &err) == CDZ_OK, "%s", err.msg);
    for (int ant = 0; ant < 2; ant++) {
        cdz_piece_info info = {"Baroque", "BachJS", "mutopia", ant ? 0.5 : 0, 42};
        cdz_tokens t = {0};
        cdz_extract_stats st = {0};
        CHECK(c->encode_info(&s, &info, &t, &st, &err) == CDZ_OK, "%s", err.msg);
        CHECK(t.n_seqs >= 3, "%zu sequences", t.n_seqs);
        size_t events = 0, longest = 0, aar = 0;
        int headers = 1, ends = 0;
        for (size_t k = 0; k < t.n_seqs; k++) {
            const uint16_t *q = t.tokens + t.offsets[k];
            size_t n = t.offsets[k + 1] - t.offsets[k];
            if (n > longest) longest = n;
            headers &= q[0] == CDZ_ENS_STYLE + cdz_ens_style_find("baroque") && q[1] == CDZ_ENS_COMPOSER;
            for (size_t i = 0; i < n; i++) {
                events += q[i] < CDZ_ENS_CONTROL;
                aar += q[i] == CDZ_ENS_AAR;
                ends += q[i] == CDZ_ENS_END;
            }
        }
        CHECK(longest <= CDZ_ENS_CHUNK && longest > CDZ_ENS_CHUNK / 2, "sequences of up to %zu tokens", longest);
        CHECK(headers, "every sequence opens with the style and composer");
        CHECK_INT(ends, 1);
        CHECK_INT(st.truncated, 0);
        if (!ant) CHECK_INT(events, p.n_notes);
        else CHECK(aar > 0 && aar < t.n_seqs, "some sequences anticipated (%zu of %zu)", aar, t.n_seqs);
        cdz_tokens_free(&t);
    }
    cdz_ens_piece_free(&p);
    cdz_score_free(&s);
}

static void test_transpose(void) {
    const cdz_codec *c = cdz_codec_find("ensemble");
    int violin = cdz_ens_group_find("violin");
    uint16_t tok[6] = {CDZ_ENS_BAR, (uint16_t)(CDZ_ENS_NOTE + violin * CDZ_ENS_PITCHES + 40), CDZ_ENS_DUR + 3,
                       (uint16_t)(CDZ_ENS_CONTROL + violin * CDZ_ENS_PITCHES + 10), (uint16_t)(CDZ_ENS_NOTE + CDZ_ENS_DRUMS * CDZ_ENS_PITCHES + 15),
                       CDZ_ENS_DUR};
    CHECK_INT(cdz_codec_transpose(c, tok, 6, 2), 1);
    CHECK_INT(tok[1], CDZ_ENS_NOTE + violin * CDZ_ENS_PITCHES + 42);
    CHECK_INT(tok[3], CDZ_ENS_CONTROL + violin * CDZ_ENS_PITCHES + 12);
    CHECK_INT(tok[4], CDZ_ENS_NOTE + CDZ_ENS_DRUMS * CDZ_ENS_PITCHES + 15); /* drums stay */
    CHECK_INT(tok[2], CDZ_ENS_DUR + 3);
    CHECK_INT(cdz_codec_transpose(c, tok, 6, -13), 0); /* the control would leave 21-108 */
    CHECK_INT(tok[3], CDZ_ENS_CONTROL + violin * CDZ_ENS_PITCHES + 12);
}

/* Every piece of the multi-instrument corpora: notes on the grid come back (plain tokens, the whole
 * piece), and what could not be kept is counted. */
static void test_corpora(const char *data) {
    const char *corpora[2] = {"mutopia", "openscore"};
    for (int k = 0; k < 2; k++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/%s", data, corpora[k]);
        char **files;
        size_t n;
        cdz_error err = {0};
        if (cdz_file_list(dir, ".mid", &files, &n, &err) != CDZ_OK || n == 0) {
            printf("SKIPPED: %s (not in %s)\n", corpora[k], data);
            continue;
        }
        const size_t listed = n;
#if defined(__SANITIZE_ADDRESS__)
        if (n > 60) n = 60; /* under the sanitizers a sample: the plain build reads them all */
#endif
        size_t ok = 0, unreadable = 0, notes = 0;
        cdz_extract_stats st = {0};
        char first[400] = "";
        for (size_t i = 0; i < n; i++) {
            cdz_score s;
            if (cdz_score_read_file(&s, files[i], &err) != CDZ_OK) {
                unreadable++;
                continue;
            }
            cdz_ens_piece p, q;
            cdz_tokens t = {0};
            char why[300] = "";
            cdz_ens_header h = cdz_ens_header_default();
            int good = cdz_ens_piece_from_score(&s, &p, &st, &err) == CDZ_OK;
            if (good) {
                good = cdz_ens_write(&p, &h, NULL, 0, p.n_bars, 1, &t, &err) == CDZ_OK &&
                       cdz_ens_read(t.tokens, t.n_tokens, &q, NULL, NULL, &err) == CDZ_OK;
                if (good) {
                    good = same_notes(&p, &q, why, sizeof why);
                    cdz_ens_piece_free(&q);
                }
                notes += p.n_notes;
                cdz_ens_piece_free(&p);
            }
            if (good) ok++;
            else if (!first[0]) snprintf(first, sizeof first, "%s: %s%s", files[i], why, err.msg);
            cdz_tokens_free(&t);
            cdz_score_free(&s);
        }
        CHECK(ok + unreadable == n, "%s: %zu of %zu pieces round trip (first failure: %s)", corpora[k], ok, n, first);
        printf("%s: %zu pieces, %zu notes round trip; %zu unreadable; %llu unisons written once, %llu pitches moved by octaves, "
               "%llu notes shortened to %d steps, %llu odd bars\n",
               corpora[k], ok, notes, unreadable, (unsigned long long)st.unisons, (unsigned long long)st.folded_pitches,
               (unsigned long long)st.long_notes, CDZ_REMI_MAX_DURATION, (unsigned long long)st.odd_bars);
        cdz_file_list_free(files, listed);
    }
}

/* ---- generation and infilling ---- */

static cdz_model *tiny_model(uint64_t seed) {
    cdz_model *m = NULL;
    cdz_error err = {0};
    CHECK(cdz_model_create(&m, "music_transformer", "tiny_ensemble", &err) == CDZ_OK, "%s", err.msg);
    if (m) cdz_model_init_params(m, seed);
    return m;
}

static void test_generate_masks(void) {
    cdz_model *m = tiny_model(3);
    if (!m) return;
    cdz_ens_request rq = cdz_ens_default_request();
    rq.header.style = cdz_ens_style_find("baroque");
    rq.header.groups = 1u << cdz_ens_group_find("violin") | 1u << cdz_ens_group_find("cello");
    rq.seconds = 12, rq.qpm = 120, rq.numerator = 3, rq.denominator = 4, rq.seed = 5;
    cdz_ens_result a, b;
    cdz_error err = {0};
    CHECK(cdz_ens_generate(m, &rq, &a, &err) == CDZ_OK, "%s", err.msg);
    CHECK(cdz_ens_generate(m, &rq, &b, &err) == CDZ_OK, "%s", err.msg);
    CHECK(a.score.n_notes > 0, "a random model still writes notes (%zu)", a.score.n_notes);
    int on = 1, in_range = 1, same = a.score.n_notes == b.score.n_notes;
    for (size_t i = 0; i < a.score.n_notes; i++) {
        const cdz_note *n = &a.score.notes[i];
        int g = cdz_ens_group_of(n->program, n->is_drum), lo, hi;
        on &= (rq.header.groups >> g & 1u) != 0;
        cdz_ens_group_range(g, &lo, &hi);
        in_range &= n->pitch >= lo && n->pitch <= hi;
        if (same) same = n->pitch == b.score.notes[i].pitch && n->start_tick == b.score.notes[i].start_tick;
    }
    CHECK(on, "every note on the requested instruments");
    CHECK(in_range, "every note in its instrument's range");
    CHECK(same, "the same seed gives the same piece");
    double last = 0;
    for (size_t i = 0; i < a.score.n_notes; i++)
        if (a.score.notes[i].start_s > last) last = a.score.notes[i].start_s;
    CHECK(last < 12 + 1.5 && last > 6, "12 s asked (bars of 1.5 s), the last note starts at %.2f s", last);
    CHECK(a.score.n_tempos == 1 && a.score.n_time_sigs == 1, "the tempo and meter asked for hold (%zu, %zu)", a.score.n_tempos,
          a.score.n_time_sigs);
    CHECK(a.score.n_time_sigs >= 1 && a.score.time_sigs[0].numerator == 3, "the meter asked for");
    CHECK(a.masked_share > 0.5, "a random model's mass mostly masked (%.2f)", a.masked_share);
    cdz_ens_result_free(&a), cdz_ens_result_free(&b);
    /* refusals */
    rq.seconds = 0;
    CHECK(cdz_ens_generate(m, &rq, &a, &err) == CDZ_ERR_ARG, "0 seconds refused");
    cdz_model_free(m);
    cdz_model *other = NULL;
    CHECK(cdz_model_create(&other, "music_transformer", "tiny", &err) == CDZ_OK, "%s", err.msg);
    rq.seconds = 2;
    CHECK(cdz_ens_generate(other, &rq, &a, &err) == CDZ_ERR_ARG && strstr(err.msg, "chorale"), "a chorale model refused: %s", err.msg);
    cdz_model_free(other);
}

/* A tiny model overfit on two pieces, one per style, follows its header: baroque violin ascending,
 * folk flute descending. */
static void test_header_honoured(const char *tmpdir) {
    cdz_shard_writer w;
    cdz_error err = {0};
    CHECK(cdz_shard_writer_init(&w, "ensemble", CDZ_ENS_VOCAB, &err) == CDZ_OK, "%s", err.msg);
    int violin = cdz_ens_group_find("violin"), flute = cdz_ens_group_find("flute");
    for (int style = 0; style < 2; style++) {
        cdz_tokens t = {0};
        uint16_t seq[128];
        size_t n = 0;
        seq[n++] = (uint16_t)(CDZ_ENS_STYLE + (style ? cdz_ens_style_find("folk") : cdz_ens_style_find("baroque")));
        seq[n++] = (uint16_t)(CDZ_ENS_INST + (style ? flute : violin));
        seq[n++] = CDZ_ENS_AR;
        for (int bar = 0; bar < 6; bar++) {
            seq[n++] = CDZ_ENS_BAR;
            if (bar == 0) seq[n++] = CDZ_ENS_TIME_SIG + 7, seq[n++] = (uint16_t)(CDZ_ENS_TEMPO + cdz_ens_tempo_bin(120));
            for (int q = 0; q < 4; q++) {
                int pitch = style ? 84 - 2 * (bar % 3) - q : 60 + 2 * (bar % 3) + q;
                seq[n++] = (uint16_t)(CDZ_ENS_POS + 12 * q);
                seq[n++] = (uint16_t)(CDZ_ENS_NOTE + (style ? flute : violin) * CDZ_ENS_PITCHES + pitch - CDZ_ENS_PITCH_LO);
                seq[n++] = (uint16_t)(CDZ_ENS_DUR + cdz_remi_duration_token(12));
            }
        }
        cdz_tokens_append(&t, seq, n);
        for (int k = 0; k < 2; k++) cdz_shard_writer_add(&w, &t, k ? CDZ_SPLIT_EVAL : CDZ_SPLIT_TRAIN, &err);
        cdz_tokens_free(&t);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/two.cdz", tmpdir);
    CHECK(cdz_shard_writer_finish(&w, path, &err) == CDZ_OK, "%s", err.msg);
    cdz_shard_writer_free(&w);
    cdz_dataset ds;
    CHECK(cdz_dataset_open(&ds, path, &err) == CDZ_OK, "%s", err.msg);
    cdz_model *m = tiny_model(11);
    if (!m) return;
    cdz_train_config cfg = cdz_train_config_for(m);
    cfg.steps = 300, cfg.batch = 2, cfg.seq = 127, cfg.whole_sequences = 1, cfg.lr = 0.01f;
    cdz_trainer tr;
    CHECK(cdz_trainer_init(&tr, m, &ds, &cfg, &err) == CDZ_OK, "%s", err.msg);
    cdz_train_step_info info = {0};
    for (int s = 0; s < cfg.steps; s++)
        if (cdz_trainer_step(&tr, &info, &err) != CDZ_OK) break;
    CHECK(info.loss < 0.2, "the two pieces learnt (loss %.3f)", info.loss);
    cdz_trainer_free(&tr);
    for (int style = 0; style < 2; style++) {
        cdz_ens_request rq = cdz_ens_default_request();
        rq.header.style = style ? cdz_ens_style_find("folk") : cdz_ens_style_find("baroque");
        rq.header.groups = 1u << (style ? flute : violin);
        rq.constrain = 0; /* the header alone */
        rq.sampling.temperature = 0;
        rq.seconds = 8;
        cdz_ens_result r;
        CHECK(cdz_ens_generate(m, &rq, &r, &err) == CDZ_OK, "%s", err.msg);
        int right = r.score.n_notes >= 12, rising = 0;
        for (size_t i = 0; i < r.score.n_notes; i++) {
            right &= cdz_ens_group_of(r.score.notes[i].program, 0) == (style ? flute : violin);
            if (i) rising += r.score.notes[i].pitch > r.score.notes[i - 1].pitch;
        }
        CHECK(right, "%s: %zu notes, all on the %s", style ? "folk" : "baroque", r.score.n_notes, style ? "flute" : "violin");
        CHECK(style ? rising < (int)r.score.n_notes / 3 : rising > (int)r.score.n_notes / 2, "%s's own line (%d rises in %zu notes)",
              style ? "folk" : "baroque", rising, r.score.n_notes);
        cdz_ens_result_free(&r);
    }
    cdz_model_free(m);
    cdz_dataset_close(&ds);
    unlink(path);
}

static void test_infill(void) {
    cdz_model *m = tiny_model(7);
    if (!m) return;
    cdz_score s;
    make_trio(&s, 12);
    cdz_ens_request rq = cdz_ens_default_request();
    cdz_ens_result r;
    cdz_error err = {0};
    /* keep the violin and the cello; the flute is written anew in bars 4-8 only */
    CHECK(cdz_ens_infill(m, &s, "Violin I, cello", 3, 8, &rq, &r, &err) == CDZ_OK, "%s", err.msg);
    int64_t t0 = cdz_score_bar_to_tick(&s, 3), t1 = cdz_score_bar_to_tick(&s, 8);
    size_t kept_in = 0, kept_out = 0, flute_outside_in = 0, flute_outside_out = 0, new_notes = 0, new_outside = 0;
    for (size_t i = 0; i < s.n_notes; i++) {
        const cdz_note *n = &s.notes[i];
        int inside = n->start_tick >= t0 && n->start_tick < t1;
        if (n->track == 3 && inside) continue;
        kept_in += n->track != 3, flute_outside_in += n->track == 3;
        for (size_t j = 0; j < r.score.n_notes; j++) {
            const cdz_note *o = &r.score.notes[j];
            if (o->track == n->track && o->pitch == n->pitch && o->start_tick == n->start_tick && o->end_tick == n->end_tick &&
                o->velocity == n->velocity) {
                kept_out += n->track != 3, flute_outside_out += n->track == 3;
                break;
            }
        }
    }
    for (size_t j = 0; j < r.score.n_notes; j++) {
        const cdz_note *o = &r.score.notes[j];
        if (o->track < 4) continue;
        new_notes++;
        new_outside += o->start_tick < t0 || o->start_tick >= t1;
        CHECK(cdz_ens_group_of(o->program, o->is_drum) == cdz_ens_group_find("flute"), "the new part is a flute's");
    }
    CHECK(kept_out == kept_in, "kept parts note for note: %zu of %zu", kept_out, kept_in);
    CHECK(flute_outside_out == flute_outside_in, "the flute outside bars 4-8 as it was: %zu of %zu", flute_outside_out, flute_outside_in);
    CHECK(new_notes > 0 && new_outside == 0, "%zu new notes, %zu outside the bars", new_notes, new_outside);
    /* a share of the model's probability per draw: a bar line drawn or a draw a control preempts counts too */
    CHECK(r.masked_share > 0 && r.masked_share <= 1, "masked share per draw %.3f", r.masked_share);
    /* the controls probe: every variant scores the same tokens (the other tracks' notes); a track that
     * leaves nothing to score, or none, is refused */
    cdz_ens_probe pr = {0};
    CHECK(cdz_ens_probe_controls(m, &s, 1, NULL, &pr, &err) == CDZ_OK, "%s", err.msg);
    int same_tokens = pr.pieces == 1 && pr.tokens[0] > 0;
    for (int v = 0; v < CDZ_ENS_PROBES; v++) same_tokens &= pr.tokens[v] == pr.tokens[0] && isfinite(pr.nats[v]) && pr.nats[v] > 0;
    CHECK(same_tokens, "probe: %.0f tokens in each variant", pr.tokens[0]);
    CHECK(cdz_ens_probe_controls(m, &s, 9, NULL, &pr, &err) == CDZ_ERR_ARG, "no track 9");
    CHECK(strcmp(cdz_ens_probe_name(CDZ_ENS_PROBE_NONE), "no controls") == 0, "variant names");
    CHECK(r.score.n_tracks >= 5 && strstr(r.score.tracks[4].name, "flute (cadenza)"), "the new track is named");
    cdz_ens_result_free(&r);
    /* every bar, keeping the flute by its instrument's name */
    CHECK(cdz_ens_infill(m, &s, "flute", 0, 0, &rq, &r, &err) == CDZ_OK, "%s", err.msg);
    size_t flute = 0;
    for (size_t j = 0; j < r.score.n_notes; j++) flute += r.score.notes[j].track == 3;
    size_t flute_in = 0;
    for (size_t j = 0; j < s.n_notes; j++) flute_in += s.notes[j].track == 3;
    CHECK_INT(flute, flute_in);
    cdz_ens_result_free(&r);
    /* refusals name the valid choices */
    CHECK(cdz_ens_infill(m, &s, "Viola", 0, 0, &rq, &r, &err) == CDZ_ERR_ARG && strstr(err.msg, "track 1 \"Violin I\" (Violin), track 2 \"Cello\" (Cello), track 3 \"Flute\" (Flute)"),
          "an unknown part: %s", err.msg);
    CHECK(cdz_ens_infill(m, &s, "Violin I,Cello,Flute", 0, 0, &rq, &r, &err) == CDZ_ERR_ARG && strstr(err.msg, "nothing to fill"),
          "everything kept: %s", err.msg);
    CHECK(cdz_ens_infill(m, &s, "Cello", 20, 30, &rq, &r, &err) == CDZ_ERR_ARG && strstr(err.msg, "bars 1 to 12"), "bars past the end: %s",
          err.msg);
    cdz_score_free(&s);
    cdz_model_free(m);
}


/* A hostile file's ticks (notes 2^28 ticks apart at 1 tick a quarter) are refused at once, not
 * walked bar by bar into gigabytes. */
static void test_hostile_bars(void) {
    cdz_score s;
    cdz_error e = {0};
    cdz_score_init(&s, 1, &e);
    for (int i = 0; i < 3; i++) cdz_score_add_note(&s, 0, 0, 0, 60, 80, (int64_t)i * 0x0FFFFFFF, (int64_t)i * 0x0FFFFFFF + 1);
    cdz_score_finish(&s, &e);
    cdz_ens_piece p;
    CHECK(cdz_ens_piece_from_score(&s, &p, NULL, &e) == CDZ_ERR_RANGE && strstr(e.msg, "more than 100000 bars"), "refused: %s", e.msg);
    cdz_score_free(&s);
}

static void test_licence_classes(void) {
    static const struct { const char *text, *cls; } T[] = {
        {"Public Domain", "public-domain"}, {"CC0 1.0 Universal", "cc0"}, {"Creative Commons Attribution 4.0", "cc-by"},
        {"Creative Commons Attribution-ShareAlike 3.0", "cc-by-sa"}, {"CC BY SA 4.0", "cc-by-sa"}, {"CC BY-NC 4.0", "cc-by-nc"},
        {"Attribution Non Commercial", "cc-by-nc"}, {"CC BY-ND 4.0", "cc-by-nd"}, {"Creative Commons Attribution-NoDerivatives", "cc-by-nd"},
        {"MIT", "mit"}, {"GNU General Public License v3", "gpl"}, {"ODbL", "odbl"}, {"", "unknown"}, {"all rights reserved", "unknown"}};
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) CHECK(strcmp(cdz_licence_class(T[i].text), T[i].cls) == 0, "%s: %s", T[i].text, cdz_licence_class(T[i].text));
    const char *bad;
    size_t len;
    CHECK(cdz_licence_classes_valid("public-domain,cc0,cc-by,mit", &bad, &len), "valid classes");
    CHECK(!cdz_licence_classes_valid("cc0,cc-bx", &bad, &len) && len == 5 && strncmp(bad, "cc-bx", 5) == 0, "an invalid one named");
}

/* Infilling's edges: a note rounded onto the next bar line is dropped or kept with its bar (never
 * lost, never doubled); a new part takes a channel no one uses; --instruments writes those alone and
 * leaves the other parts as they are. */
static void test_infill_edges(void) {
    cdz_model *m = tiny_model(13);
    if (!m) return;
    cdz_score s;
    make_trio(&s, 8);
    cdz_error err = {0};
    /* a flute note a tick before bar 3's line: it belongs to bar 3 */
    int64_t line = cdz_score_bar_to_tick(&s, 3);
    cdz_score_add_note(&s, 3, 2, 73, 90, 70, line - 1, line + 200);
    cdz_score_finish(&s, &err);
    cdz_ens_request rq = cdz_ens_default_request();
    cdz_ens_result r;
    for (int fill = 0; fill < 2; fill++) {
        /* fill bar 3 only (the note is replaced) or bar 2 only (the note stays, once) */
        int64_t b0 = fill ? 3 : 2, b1 = fill ? 4 : 3; /* bar indices from 0: the note sits in bar 3 */
        CHECK(cdz_ens_infill(m, &s, "Violin I,Cello", b0, b1, &rq, &r, &err) == CDZ_OK, "%s", err.msg);
        int copies = 0;
        for (size_t j = 0; j < r.score.n_notes; j++)
            copies += r.score.notes[j].track == 3 && r.score.notes[j].pitch == 90 && r.score.notes[j].start_tick == line - 1;
        CHECK_INT(copies, fill ? 0 : 1);
        int used[16] = {0}, clash = 0;
        for (size_t j = 0; j < s.n_notes; j++) used[s.notes[j].channel] = 1;
        for (size_t j = 0; j < r.score.n_notes; j++) clash += r.score.notes[j].track >= 4 && used[r.score.notes[j].channel];
        CHECK_INT(clash, 0);
        cdz_ens_result_free(&r);
    }
    /* only the cello written anew: the flute stays as it is */
    rq.header.groups = 1u << cdz_ens_group_find("cello");
    CHECK(cdz_ens_infill(m, &s, "Violin I", 0, 0, &rq, &r, &err) == CDZ_OK, "%s", err.msg);
    size_t flute_in = 0, flute_out = 0, cello_out = 0;
    for (size_t j = 0; j < s.n_notes; j++) flute_in += s.notes[j].track == 3;
    for (size_t j = 0; j < r.score.n_notes; j++) flute_out += r.score.notes[j].track == 3, cello_out += r.score.notes[j].track == 2;
    CHECK(flute_out == flute_in && cello_out == 0, "the flute kept (%zu of %zu), the old cello replaced (%zu left)", flute_out, flute_in, cello_out);
    CHECK_STR_CONTAINS(r.notes, "instruments not asked for");
    cdz_ens_result_free(&r);
    cdz_score_free(&s);
    cdz_model_free(m);
}

int main(void) {
    test_groups_styles_composers();
    test_round_trips();
    test_chunks();
    test_transpose();
    test_generate_masks();
    test_infill();
    test_infill_edges();
    test_hostile_bars();
    test_licence_classes();
    char tmpdir[] = "/tmp/cdz_ens_XXXXXX";
    if (mkdtemp(tmpdir)) {
        test_header_honoured(tmpdir);
        rmdir(tmpdir);
    }
    const char *data = test_data_dir();
    if (data) test_corpora(data);
    else printf("SKIPPED: corpus round trips (no corpora; set CADENZA_DATA)\n");
    return test_summary("test_ensemble");
}

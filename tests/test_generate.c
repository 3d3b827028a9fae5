/* The library's generator (cadenza/generate.h), score in and score out, on tiny untrained models of
 * every kind: lengths in steps, bars, seconds and tokens; the primer's track, bars, meter and tempo
 * kept; context windows that slide or restart, said in the notes; accompaniments on a channel of their
 * own; the same seed giving the same music. With the built program as argv[1], also the generate
 * command's flags for these (--primer-track, --primer-bars, outputs named after the checkpoint). */
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

/* A melody in `num`/4 at `qpm`: `bars` bars of quarter notes walking the C major scale, on track `track`
 * (named "Tune") of a score whose tracks below it (named "Drone") hold a low note, so that a track
 * choice matters. */
static void melody_score(cdz_score *s, int num, double qpm, int bars, int track) {
    static const int scale[7] = {60, 62, 64, 65, 67, 69, 71};
    cdz_error e;
    cdz_score_init(s, 480, &e);
    cdz_score_add_tempo(s, 0, qpm);
    cdz_score_add_time_signature(s, 0, (uint8_t)num, 4);
    for (int i = 0; i < num * bars; i++) {
        cdz_score_add_note(s, (uint16_t)track, 0, 0, (uint8_t)scale[i % 7], 90, (int64_t)i * 480, (int64_t)i * 480 + 400);
        for (int t = 0; t < track; t++) cdz_score_add_note(s, (uint16_t)t, 1, 0, 40, 60, (int64_t)i * 480, (int64_t)i * 480 + 480);
    }
    cdz_score_finish(s, &e);
    for (int t = 0; t <= track; t++) snprintf(s->tracks[t].name, sizeof s->tracks[t].name, t == track ? "Tune" : "Drone");
}

/* The same notes (pitch, velocity, ticks, track, channel), the first n of each. */
static int same_notes(const cdz_score *a, const cdz_score *b, size_t n) {
    if (a->n_notes < n || b->n_notes < n) return 0;
    for (size_t i = 0; i < n; i++) {
        const cdz_note *x = &a->notes[i], *y = &b->notes[i];
        if (x->pitch != y->pitch || x->velocity != y->velocity || x->start_tick != y->start_tick ||
            x->end_tick != y->end_tick || x->track != y->track || x->channel != y->channel)
            return 0;
    }
    return 1;
}

static cdz_model *tiny(const char *kind, const char *json) {
    cdz_model *m = NULL;
    cdz_error err;
    if (cdz_model_from_json(&m, json, strlen(json), kind, &err) != CDZ_OK) {
        CHECK(0, "%s: %s", kind, err.msg);
        return NULL;
    }
    cdz_model_init_params(m, 3);
    test_shake(m, 4);
    return m;
}

static cdz_status gen(const cdz_model *m, const cdz_gen_request *rq, cdz_gen_result *res, cdz_error *err) {
    memset(err, 0, sizeof *err);
    return cdz_generate_score(m, rq, res, err);
}

/* Notes of a score's track starting before `seconds`. */
static size_t notes_before(const cdz_score *s, double seconds) {
    size_t n = 0;
    for (size_t i = 0; i < s->n_notes; i++) n += s->notes[i].start_s < seconds - 1e-9;
    return n;
}

static void test_melody(void) {
    cdz_model *m = tiny("melody", "{\"kind\":\"melody_rnn\",\"config_name\":\"tiny_attention\",\"codec\":\"key_melody\","
                                  "\"input\":\"key_melody\",\"layers\":2,\"hidden\":6,\"attn_length\":3,\"dropout_keep\":1}");
    if (!m) return;
    cdz_error err;
    cdz_gen_result res;
    /* a 3/4 primer at 90 qpm, 4 bars: the output keeps 3/4 and 90 qpm, and --bars counts 3/4 bars */
    cdz_score waltz;
    melody_score(&waltz, 3, 90, 4, 0); /* the tune on track 0, a drone on none */
    cdz_gen_request rq = cdz_gen_default_request();
    rq.primer = &waltz;
    rq.unit = CDZ_LEN_BARS, rq.length = 2;
    rq.n_outputs = 2, rq.seed = 5;
    CHECK(gen(m, &rq, &res, &err) == CDZ_OK, "%s", err.msg);
    if (res.n == 2) {
        const cdz_score *o = &res.scores[0];
        CHECK(res.numerator == 3 && res.denominator == 4 && o->n_time_sigs == 1 && o->time_sigs[0].numerator == 3,
              "the primer's 3/4 kept (%d/%d)", res.numerator, res.denominator);
        CHECK(fabs(res.qpm - 90) < 0.01 && o->n_tempos == 1 && fabs(o->tempos[0].qpm - 90) < 0.01, "90 qpm kept (%g)",
              o->n_tempos ? o->tempos[0].qpm : 0);
        CHECK_INT(res.new_tokens[0], 2 * 12); /* two bars of 12 sixteenths */
        CHECK(res.primer_tokens >= 4 * 12 - 2, "the primer's 4 bars (%lld steps)", (long long)res.primer_tokens);
        /* the primer's notes come back where they were, in its key (squashed and moved back) */
        size_t same = 0;
        for (size_t i = 0; i < o->n_notes && i < 12; i++) same += o->notes[i].pitch == waltz.notes[i].pitch;
        CHECK(same == 12, "the primer's first notes kept (%zu of 12)", same);
        CHECK(same_notes(o, &res.scores[1], 12), "both outputs start with the primer");
    }
    cdz_gen_result_free(&res);
    /* the same seed gives the same music; another gives other music */
    cdz_gen_result a, b, c;
    rq.n_outputs = 1;
    CHECK(gen(m, &rq, &a, &err) == CDZ_OK && gen(m, &rq, &b, &err) == CDZ_OK, "%s", err.msg);
    rq.seed = 6;
    CHECK(gen(m, &rq, &c, &err) == CDZ_OK, "%s", err.msg);
    if (a.n && b.n && c.n) {
        CHECK(a.scores[0].n_notes == b.scores[0].n_notes && same_notes(&a.scores[0], &b.scores[0], a.scores[0].n_notes),
              "the same seed, the same notes");
        CHECK(a.scores[0].n_notes != c.scores[0].n_notes || !same_notes(&a.scores[0], &c.scores[0], a.scores[0].n_notes),
              "another seed, other notes");
    }
    cdz_gen_result_free(&a), cdz_gen_result_free(&b), cdz_gen_result_free(&c);
    /* --seconds on a melody model: 4 s at 90 qpm are 24 sixteenths */
    rq.unit = CDZ_LEN_SECONDS, rq.length = 4;
    CHECK(gen(m, &rq, &res, &err) == CDZ_OK && res.n == 1 && res.new_tokens[0] == 24, "%s (%lld steps)", err.msg,
          res.n ? (long long)res.new_tokens[0] : -1);
    cdz_gen_result_free(&res);
    /* the primer's track and first bars: the tune on track 1 above a drone on track 0 (the first line
     * the melody extraction finds, so without a track choice the primer would be the drone) */
    cdz_score_free(&waltz);
    melody_score(&waltz, 3, 90, 4, 1);
    rq.unit = CDZ_LEN_STEPS, rq.length = 8;
    rq.primer_track = 1, rq.primer_bars = 2;
    CHECK(gen(m, &rq, &res, &err) == CDZ_OK, "%s", err.msg);
    if (res.n) {
        /* the melody ends where its last note does: 2 bars less the last note's rest */
        CHECK(res.primer_tokens <= 2 * 12 && res.primer_tokens >= 2 * 12 - 2, "two bars of primer (%lld steps)",
              (long long)res.primer_tokens);
        CHECK_STR_CONTAINS(res.notes, "first 2 bars");
        CHECK_STR_CONTAINS(res.notes, "track 1 only");
        CHECK(res.scores[0].notes[0].pitch == 60, "the tune's first note, not the drone's (%u)", res.scores[0].notes[0].pitch);
    }
    cdz_gen_result_free(&res);
    rq.primer_track = 7;
    CHECK(gen(m, &rq, &res, &err) == CDZ_ERR_ARG && strstr(err.msg, "no track 7") && strstr(err.msg, "1 \"Tune\""),
          "a track the primer lacks: %s", err.msg);
    /* no primer: Magenta's middle C; greedy decoding reports the model's log-likelihood, not 0 */
    rq = cdz_gen_default_request();
    rq.sampling.temperature = 0;
    rq.length = 16;
    CHECK(gen(m, &rq, &res, &err) == CDZ_OK && res.n == 1, "%s", err.msg);
    if (res.n) {
        CHECK(res.scores[0].n_notes && res.scores[0].notes[0].pitch == 60, "starts on middle C");
        CHECK(res.loglik[0] < 0 && isfinite(res.loglik[0]), "greedy log-likelihood %g", res.loglik[0]);
    }
    cdz_gen_result_free(&res);
    /* requests that cannot be met say why */
    rq.length = 0;
    CHECK(gen(m, &rq, &res, &err) == CDZ_ERR_ARG && strstr(err.msg, "length"), "length 0: %s", err.msg);
    rq.length = 8, rq.condition = &waltz;
    CHECK(gen(m, &rq, &res, &err) == CDZ_ERR_ARG && strstr(err.msg, "not a melody to accompany"), "%s", err.msg);
    rq.condition = NULL, rq.context = 16; /* an RNN reads its whole past: there is no context to set */
    CHECK(gen(m, &rq, &res, &err) == CDZ_ERR_ARG && strstr(err.msg, "context"), "context on an RNN: %s", err.msg);
    rq.context = 0, rq.sampling.temperature = NAN;
    CHECK(gen(m, &rq, &res, &err) == CDZ_ERR_ARG && strstr(err.msg, "temperature"), "NaN temperature: %s", err.msg);
    rq.sampling.temperature = 1, rq.sampling.top_p = 1.5;
    CHECK(gen(m, &rq, &res, &err) == CDZ_ERR_ARG && strstr(err.msg, "top"), "top-p 1.5: %s", err.msg);
    cdz_score_free(&waltz);
    cdz_model_free(m);
}

/* A meter model (key_melody2): the primer's meter is its first token; a waltz's bars are 12 steps and
 * its output says 3/4; a jig comes out in 6/8; a meter without a token is refused, naming it. */
static void test_melody_meter(void) {
    cdz_model *m = tiny("melody", "{\"kind\":\"melody_rnn\",\"config_name\":\"tiny_attention\",\"codec\":\"key_melody2\","
                                  "\"input\":\"key_melody\",\"layers\":2,\"hidden\":6,\"attn_length\":3,\"dropout_keep\":1}");
    if (!m) return;
    CHECK(cdz_model_vocab(m) == CDZ_MELODY_LABELS && cdz_model_history_vocab(m) == CDZ_MELODY_METER_VOCAB,
          "predicts the 40 labels, reads the meter tokens too (%u, %u)", cdz_model_vocab(m), cdz_model_history_vocab(m));
    cdz_error err;
    cdz_gen_result res;
    cdz_score waltz;
    melody_score(&waltz, 3, 90, 4, 0);
    cdz_gen_request rq = cdz_gen_default_request();
    rq.primer = &waltz;
    rq.unit = CDZ_LEN_BARS, rq.length = 3;
    rq.seed = 2;
    CHECK(gen(m, &rq, &res, &err) == CDZ_OK, "%s", err.msg);
    if (res.n == 1) {
        const cdz_score *o = &res.scores[0];
        CHECK(o->n_time_sigs == 1 && o->time_sigs[0].numerator == 3 && o->time_sigs[0].denominator == 4, "3/4 out");
        CHECK_INT(res.new_tokens[0], 3 * 12);
        /* the meter token and the primer's steps (its last note's rest may be stripped) */
        CHECK(res.primer_tokens >= 1 + 4 * 12 - 2 && res.primer_tokens <= 1 + 4 * 12, "primer %lld tokens",
              (long long)res.primer_tokens);
        size_t same = 0;
        for (size_t i = 0; i < o->n_notes && i < 12; i++) same += o->notes[i].pitch == waltz.notes[i].pitch;
        CHECK(same == 12, "the primer's first notes kept (%zu of 12)", same);
    }
    cdz_gen_result_free(&res);
    waltz.time_sigs[0].numerator = 6, waltz.time_sigs[0].denominator = 8;
    CHECK(gen(m, &rq, &res, &err) == CDZ_OK, "%s", err.msg);
    if (res.n == 1)
        CHECK(res.scores[0].n_time_sigs == 1 && res.scores[0].time_sigs[0].numerator == 6 &&
              res.scores[0].time_sigs[0].denominator == 8 && res.new_tokens[0] == 3 * 12, "6/8 out, bars of 12 steps");
    cdz_gen_result_free(&res);
    waltz.time_sigs[0].numerator = 11, waltz.time_sigs[0].denominator = 16;
    CHECK(gen(m, &rq, &res, &err) == CDZ_ERR_ARG && strstr(err.msg, "11/16") && strstr(err.msg, "key_melody2"),
          "a meter without a token: %s", err.msg);
    cdz_gen_result_free(&res);
    /* no primer: 4/4 and middle C */
    rq = cdz_gen_default_request();
    rq.length = 16;
    CHECK(gen(m, &rq, &res, &err) == CDZ_OK && res.n == 1, "%s", err.msg);
    if (res.n == 1)
        CHECK(res.scores[0].n_notes && res.scores[0].notes[0].pitch == 60 && res.primer_tokens == 2 &&
              res.scores[0].n_time_sigs == 1 && res.scores[0].time_sigs[0].numerator == 4, "4/4 from middle C");
    cdz_gen_result_free(&res);
    cdz_score_free(&waltz);
    cdz_model_free(m);
}

static const char *PERF_REL = "{\"kind\":\"music_transformer\",\"config_name\":\"perf_rel\",\"codec\":\"performance\","
                              "\"layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":64,\"dropout\":0,\"seq\":64}";
static const char *PERF_ABS = "{\"kind\":\"music_transformer\",\"config_name\":\"perf_abs\",\"codec\":\"performance\","
                              "\"attention\":\"absolute\",\"layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":64,"
                              "\"dropout\":0,\"seq\":64}";

static void test_performance(void) {
    cdz_model *rel = tiny("perf_rel", PERF_REL), *abs_m = tiny("perf_abs", PERF_ABS);
    if (!rel || !abs_m) return;
    cdz_error err;
    cdz_gen_result res;
    /* a primer at 90 qpm: the output is written at 90 qpm, its notes at the seconds they had */
    cdz_score prim;
    melody_score(&prim, 4, 90, 2, 0);
    cdz_gen_request rq = cdz_gen_default_request();
    rq.primer = &prim;
    rq.unit = CDZ_LEN_SECONDS, rq.length = 3;
    CHECK(gen(rel, &rq, &res, &err) == CDZ_OK && res.n == 1, "%s", err.msg);
    if (res.n) {
        const cdz_score *o = &res.scores[0];
        CHECK(o->n_tempos == 1 && fabs(o->tempos[0].qpm - 90) < 0.01, "written at the primer's 90 qpm (%g)",
              o->n_tempos ? o->tempos[0].qpm : 0);
        CHECK(fabs(o->notes[1].start_s - prim.notes[1].start_s) < 0.011, "primer note at %.3f s, was %.3f s",
              o->notes[1].start_s, prim.notes[1].start_s);
        /* the new part spans at least the 3 seconds asked for (its last time shift reaches them) */
        cdz_codec const *pc = cdz_codec_find("performance");
        CHECK(pc && res.new_tokens[0] > 0, "new tokens");
    }
    cdz_gen_result_free(&res);
    /* past the context (64 tokens): relative attention slides; absolute positions start over */
    rq = cdz_gen_default_request();
    rq.unit = CDZ_LEN_TOKENS, rq.length = 200;
    CHECK(gen(rel, &rq, &res, &err) == CDZ_OK && res.n == 1 && res.new_tokens[0] == 200, "%s", err.msg);
    if (res.n) CHECK_STR_CONTAINS(res.notes, "slid over the cache");
    cdz_gen_result_free(&res);
    CHECK(gen(abs_m, &rq, &res, &err) == CDZ_OK && res.n == 1 && res.new_tokens[0] == 200, "%s", err.msg);
    if (res.n) CHECK_STR_CONTAINS(res.notes, "primed with the last half");
    cdz_gen_result_free(&res);
    /* beam search draws a fixed number of tokens: a length in seconds is refused, not cut short */
    rq = cdz_gen_default_request();
    rq.unit = CDZ_LEN_SECONDS, rq.length = 2, rq.sampling.beam_size = 2, rq.sampling.branch_factor = 2;
    CHECK(gen(rel, &rq, &res, &err) == CDZ_ERR_ARG && strstr(err.msg, "beam search"), "beam in seconds: %s", err.msg);
    rq = cdz_gen_default_request();
    rq.unit = CDZ_LEN_TOKENS, rq.length = 200;
    /* a context longer than the model reads is refused */
    rq.context = 65;
    CHECK(gen(rel, &rq, &res, &err) == CDZ_ERR_ARG && strstr(err.msg, "at most 64"), "context 65: %s", err.msg);
    rq.context = 16;
    CHECK(gen(rel, &rq, &res, &err) == CDZ_OK && res.context == 16, "context 16: %s", err.msg);
    cdz_gen_result_free(&res);
    /* a performance model takes a melody primer as well (all its notes) */
    rq = cdz_gen_default_request();
    rq.primer = &prim, rq.primer_bars = 1, rq.unit = CDZ_LEN_BARS, rq.length = 1;
    CHECK(gen(abs_m, &rq, &res, &err) == CDZ_OK && res.n == 1, "%s", err.msg);
    if (res.n) CHECK(notes_before(&res.scores[0], 60.0 / 90 * 4 - 0.01) >= 4, "the primer's bar of 4 notes is there");
    cdz_gen_result_free(&res);
    cdz_score_free(&prim);
    cdz_model_free(rel);
    cdz_model_free(abs_m);
}

static void test_accompaniment(void) {
    cdz_model *m = tiny("acc", "{\"kind\":\"accompaniment\",\"config_name\":\"acc_tiny\",\"codec\":\"accompaniment\","
                               "\"enc_layers\":1,\"dec_layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":256,"
                               "\"dropout\":0}");
    if (!m) return;
    /* a melody track named MELODY (and a drone track), 24 s long, silent from 10 s to 20 s */
    cdz_score mel;
    cdz_error e;
    cdz_score_init(&mel, 480, &e);
    cdz_score_add_tempo(&mel, 0, 120);
    for (int i = 0; i < 48; i++) {
        if (i >= 20 && i < 40) continue;
        cdz_score_add_note(&mel, 0, 0, 0, (uint8_t)(60 + i % 7), 90, (int64_t)i * 480, (int64_t)i * 480 + 400);
        cdz_score_add_note(&mel, 1, 1, 0, 40, 60, (int64_t)i * 480, (int64_t)i * 480 + 480);
    }
    cdz_score_finish(&mel, &e);
    snprintf(mel.tracks[0].name, sizeof mel.tracks[0].name, "MELODY");
    snprintf(mel.tracks[1].name, sizeof mel.tracks[1].name, "Drone");
    cdz_gen_request rq = cdz_gen_default_request();
    rq.condition = &mel;
    rq.sampling.top_k = 20;
    cdz_gen_result res;
    cdz_error err;
    CHECK(gen(m, &rq, &res, &err) == CDZ_OK && res.n == 1, "%s", err.msg);
    if (res.n) {
        const cdz_score *o = &res.scores[0];
        size_t melody = 0, drone = 0, added = 0, mid = 0;
        int channel = -1;
        for (size_t i = 0; i < o->n_notes; i++) {
            melody += o->notes[i].track == 0, drone += o->notes[i].track == 1;
            if (o->notes[i].track == 2) {
                added++, channel = o->notes[i].channel;
                mid += o->notes[i].start_s >= 10 && o->notes[i].start_s < 20;
            }
        }
        CHECK(melody == 28 && drone == 0 && added > 0, "the melody kept (%zu), the drone left out (%zu), %zu added", melody,
              drone, added);
        int shared = 0;
        for (size_t i = 0; i < o->n_notes; i++) shared |= o->notes[i].track != 2 && o->notes[i].channel == channel;
        CHECK(channel >= 0 && !shared && channel != CDZ_DRUM_CHANNEL, "a channel of its own (%d)", channel);
        CHECK(mid == 0, "the stretch without melody stays silent (%zu notes) and says so", mid);
        CHECK_STR_CONTAINS(res.notes, "1 of 3 stretches of 10 s have no melody");
        CHECK_STR_CONTAINS(res.notes, "besides the melody left out");
        CHECK(o->n_tracks == 3 && strcmp(o->tracks[2].name, "Accompaniment") == 0, "a track of its own");
    }
    cdz_gen_result_free(&res);
    rq.keep_all = 1;
    CHECK(gen(m, &rq, &res, &err) == CDZ_OK && res.n == 1, "%s", err.msg);
    if (res.n) {
        size_t drone = 0;
        for (size_t i = 0; i < res.scores[0].n_notes; i++) drone += res.scores[0].notes[i].track == 1;
        CHECK(drone == 28, "keep_all keeps the drone (%zu)", drone);
    }
    cdz_gen_result_free(&res);
    rq.condition = NULL;
    CHECK(gen(m, &rq, &res, &err) == CDZ_ERR_ARG && strstr(err.msg, "needs a melody"), "%s", err.msg);
    cdz_model_free(m);
    /* a model that reads 8 melody tokens: the stretches with melody hold more, and are left silent, saying so */
    m = tiny("acc", "{\"kind\":\"accompaniment\",\"config_name\":\"acc_short\",\"codec\":\"accompaniment\","
                    "\"enc_layers\":1,\"dec_layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,\"max_len\":8,"
                    "\"dropout\":0}");
    rq.condition = &mel, rq.keep_all = 0;
    if (m) {
        CHECK(gen(m, &rq, &res, &err) == CDZ_OK && res.n == 1, "%s", err.msg);
        if (res.n) {
            size_t added = 0;
            for (size_t i = 0; i < res.scores[0].n_notes; i++) added += res.scores[0].notes[i].track == 2;
            CHECK(added == 0, "no stretch fits: nothing added (%zu)", added);
            CHECK_STR_CONTAINS(res.notes, "2 of 3 stretches hold more melody than the model reads (8 tokens)");
        }
        cdz_gen_result_free(&res);
        cdz_model_free(m);
    }
    cdz_score_free(&mel);
}

/* A grid model with absolute positions written past its context: each piece starts from the codec's
 * start token (a chorale's BOS) and whole steps of four voices, and the length asked for comes out. */
static void test_chorale_pieces(void) {
    cdz_model *m = tiny("chorale", "{\"kind\":\"music_transformer\",\"config_name\":\"jsb_tiny\",\"codec\":\"chorale\","
                                   "\"attention\":\"absolute\",\"layers\":1,\"d_model\":16,\"heads\":2,\"d_ff\":32,"
                                   "\"max_len\":34,\"dropout\":0,\"seq\":34}");
    if (!m) return;
    cdz_gen_request rq = cdz_gen_default_request();
    rq.unit = CDZ_LEN_STEPS, rq.length = 40; /* 160 tokens: five windows */
    cdz_gen_result res;
    cdz_error err;
    CHECK(gen(m, &rq, &res, &err) == CDZ_OK && res.n == 1, "%s", err.msg);
    if (res.n) {
        CHECK(res.new_tokens[0] == 160, "40 steps of 4 voices (%lld tokens)", (long long)res.new_tokens[0]);
        CHECK_STR_CONTAINS(res.notes, "primed with the last half");
        double end = 0;
        for (size_t i = 0; i < res.scores[0].n_notes; i++)
            if (res.scores[0].notes[i].end_s > end) end = res.scores[0].notes[i].end_s;
        CHECK(fabs(end - 40 * 0.125) < 0.01 || end < 40 * 0.125, "the chorale lasts at most 40 16ths (%.3f s)", end);
    }
    cdz_gen_result_free(&res);
    cdz_model_free(m);
}

/* The command: flags that reach the generator, outputs named after the checkpoint, no silent overwrite. */
static void test_command(const char *prog) {
    char dir[] = "/tmp/cadenza_gen_XXXXXX";
    if (!mkdtemp(dir)) return;
    char ckpt[300], primer[300], cmd[2048], out[1 << 14], errs[1 << 14], outp[320], errp[320], file[400];
    snprintf(ckpt, sizeof ckpt, "%s/folk.safetensors", dir);
    snprintf(primer, sizeof primer, "%s/waltz.mid", dir);
    snprintf(outp, sizeof outp, "%s/out", dir);
    snprintf(errp, sizeof errp, "%s/err", dir);
    cdz_model *m = NULL;
    cdz_error e;
    if (cdz_model_create(&m, "melody_rnn", "tiny_attention", &e) == CDZ_OK) {
        cdz_model_init_params(m, 1);
        cdz_checkpoint_save(ckpt, m, NULL, NULL, 0, &e);
        cdz_model_free(m);
    }
    cdz_score w;
    melody_score(&w, 3, 90, 4, 1);
    cdz_score_write_file(&w, primer, 1, &e);
    cdz_score_free(&w);
    snprintf(cmd, sizeof cmd, "%s generate --checkpoint %s --primer %s --primer-track Tune --primer-bars 2 --bars 1 "
             "--out-dir %s", prog, ckpt, primer, dir);
    CHECK_INT(test_shell(cmd, outp, errp, out, sizeof out, errs, sizeof errs), 0);
    CHECK_STR_CONTAINS(out, "folk_seed1_1.mid (23 primer + 12 new steps"); /* 2 bars to the last note's end */
    CHECK_STR_CONTAINS(errs, "first 2 bars");
    snprintf(file, sizeof file, "%s/folk_seed1_1.mid", dir);
    cdz_score got;
    if (cdz_score_read_file(&got, file, &e) == CDZ_OK) {
        CHECK(got.n_time_sigs && got.time_sigs[0].numerator == 3 && got.time_sigs[0].denominator == 4, "written in 3/4");
        CHECK(got.n_tempos && fabs(got.tempos[0].qpm - 90) < 0.01, "written at 90 qpm");
        cdz_score_free(&got);
    } else {
        CHECK(0, "%s", e.msg);
    }
    CHECK_INT(test_shell(cmd, outp, errp, out, sizeof out, errs, sizeof errs), 1); /* exists: not replaced */
    CHECK_STR_CONTAINS(errs, "folk_seed1_1.mid exists; use --force");
    snprintf(cmd, sizeof cmd, "%s generate --checkpoint %s --primer %s --primer-track Bass --out-dir %s --force", prog, ckpt,
             primer, dir);
    CHECK_INT(test_shell(cmd, outp, errp, out, sizeof out, errs, sizeof errs), 1);
    CHECK_STR_CONTAINS(errs, "no track numbered or named 'Bass'");
    snprintf(cmd, sizeof cmd, "%s generate --checkpoint %s --bars 2 --seconds 3 --out-dir %s", prog, ckpt, dir);
    CHECK_INT(test_shell(cmd, outp, errp, out, sizeof out, errs, sizeof errs), 2);
    CHECK_STR_CONTAINS(errs, "give one length");
    /* the reference backend draws the same melody (its sums differ in the last bits only) */
    char a_path[400], b_path[400];
    snprintf(a_path, sizeof a_path, "%s/cpu.mid", dir);
    snprintf(b_path, sizeof b_path, "%s/ref.mid", dir);
    snprintf(cmd, sizeof cmd, "(%s generate --checkpoint %s --bars 2 --seed 4 --out %s && %s generate --checkpoint %s --bars 2 "
             "--seed 4 --backend reference --out %s)", prog, ckpt, a_path, prog, ckpt, b_path);
    CHECK_INT(test_shell(cmd, outp, errp, out, sizeof out, errs, sizeof errs), 0);
    cdz_score sa, sb;
    if (cdz_score_read_file(&sa, a_path, &e) == CDZ_OK && cdz_score_read_file(&sb, b_path, &e) == CDZ_OK) {
        CHECK(sa.n_notes == sb.n_notes && same_notes(&sa, &sb, sa.n_notes), "cpu and reference backends, the same melody");
        cdz_score_free(&sa), cdz_score_free(&sb);
    }
    snprintf(cmd, sizeof cmd, "%s generate --checkpoint %s --backend gpu --out %s/x.mid", prog, ckpt, dir);
    CHECK_INT(test_shell(cmd, outp, errp, out, sizeof out, errs, sizeof errs), 1);
    CHECK_STR_CONTAINS(errs, "no backend 'gpu' in this build (it has: cpu, reference");
    snprintf(cmd, sizeof cmd, "%s generate --checkpoint %s --temprature 0.5", prog, ckpt);
    CHECK_INT(test_shell(cmd, outp, errp, out, sizeof out, errs, sizeof errs), 2);
    CHECK_STR_CONTAINS(errs, "did you mean '--temperature'?");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "clean up");
}

int main(int argc, char **argv) {
    test_melody();
    test_melody_meter();
    test_performance();
    test_accompaniment();
    test_chorale_pieces();
    if (argc > 1) test_command(argv[1]);
    else printf("SKIPPED: the generate command's flags (give the built program as the argument)\n");
    return test_summary("test_generate");
}

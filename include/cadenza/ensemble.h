/* cadenza ensemble: music for many instruments as tokens (MuseNet's header tokens, the Anticipatory
 * Music Transformer's anticipated controls, on a beat grid), and the generation and infilling built on
 * them.
 *
 *   cdz_ens_piece p;
 *   cdz_ens_piece_from_score(&score, &p, &stats, &err);     // notes on the bar grid, one group each
 *   cdz_ens_header h = cdz_ens_header_default();
 *   h.style = cdz_ens_style_find("baroque");
 *   ... cdz_ens_write(&p, &h, controls, 0, p.n_bars, &tokens, &err) ...
 *
 * The codec `ensemble` (src/codec/ensemble.c) lays out a piece as
 *
 *   STYLE_s [COMPOSER_c] INST_g ... (AR | AAR)
 *   [LEAD ...]                                  AAR only: CDZ_ENS_ANTICIPATION bars before the first
 *   BAR [TIME_SIG] [TEMPO] (POS_p [C_NOTE DUR]* [NOTE DUR]*)* BAR ...
 *   [END]                                       the piece's last sequence
 *
 * A note is one token joining the instrument group and the pitch (the anticipation paper's
 * instrument x pitch), then its duration; positions count 12 steps a quarter note from the bar line
 * (as the remi codec). Controls (C_NOTE) are notes given to the model rather than generated: a control
 * of bar c at position q is written in bar c - CDZ_ENS_ANTICIPATION at position q, so the model reads
 * it that many bars before it sounds (the paper's anticipation interval, in bars instead of 5 s: the
 * grid keeps controls and events in one order without absolute time tokens). A sequence opening with
 * AAR carries LEAD bars whose only content is the controls of its first bars.
 *
 * Owns: the instrument groups, styles and composers of the header, pieces (cdz_ens_piece) and their
 * tokens. Thread safety: everything here is reentrant. */
#ifndef CADENZA_ENSEMBLE_H
#define CADENZA_ENSEMBLE_H

#include "cadenza/codec.h"
#include "cadenza/model.h"
#include "cadenza/sample.h"
#include "cadenza/score.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    CDZ_ENS_GROUPS = 29,      /* instrument groups: GM programs grouped where the data is thin, and drums */
    CDZ_ENS_DRUMS = 28,       /* the drum group (channel 10) */
    CDZ_ENS_PITCH_LO = 21,    /* pitches 21-108 (the piano's); others move by octaves into it */
    CDZ_ENS_PITCHES = 88,
    CDZ_ENS_STEPS_PER_QUARTER = 12,
    CDZ_ENS_POSITIONS = 192,  /* bars of up to 16 quarter notes */
    CDZ_ENS_DURATIONS = 40,   /* the remi codec's duration steps (cdz_remi_duration_steps) */
    CDZ_ENS_TEMPOS = 32,      /* tempo bins, 30-300 qpm on a geometric scale */
    CDZ_ENS_TIME_SIGS = 44,   /* the remi codec's meters (cdz_remi_time_sig) */
    CDZ_ENS_STYLES = 13,
    CDZ_ENS_COMPOSERS = 21,
    CDZ_ENS_ANTICIPATION = 2, /* bars a control is read before it sounds */
    CDZ_ENS_CHUNK = 2049,     /* tokens a dataset sequence holds at most (a window of 2048 and its target) */
    CDZ_ENS_MAX_BARS = 100000,/* bars a piece may have (a longer one is refused: a hostile file's ticks) */

    /* the vocabulary */
    CDZ_ENS_NOTE = 0,
    CDZ_ENS_CONTROL = CDZ_ENS_NOTE + CDZ_ENS_GROUPS * CDZ_ENS_PITCHES,
    CDZ_ENS_DUR = CDZ_ENS_CONTROL + CDZ_ENS_GROUPS * CDZ_ENS_PITCHES,
    CDZ_ENS_POS = CDZ_ENS_DUR + CDZ_ENS_DURATIONS,
    CDZ_ENS_BAR = CDZ_ENS_POS + CDZ_ENS_POSITIONS,
    CDZ_ENS_LEAD = CDZ_ENS_BAR + 1,
    CDZ_ENS_TIME_SIG = CDZ_ENS_LEAD + 1,
    CDZ_ENS_TEMPO = CDZ_ENS_TIME_SIG + CDZ_ENS_TIME_SIGS,
    CDZ_ENS_STYLE = CDZ_ENS_TEMPO + CDZ_ENS_TEMPOS,
    CDZ_ENS_COMPOSER = CDZ_ENS_STYLE + CDZ_ENS_STYLES,
    CDZ_ENS_INST = CDZ_ENS_COMPOSER + CDZ_ENS_COMPOSERS,
    CDZ_ENS_AR = CDZ_ENS_INST + CDZ_ENS_GROUPS,
    CDZ_ENS_AAR = CDZ_ENS_AR + 1,
    CDZ_ENS_END = CDZ_ENS_AAR + 1,
    CDZ_ENS_VOCAB = CDZ_ENS_END + 1,
};

/* ---- instrument groups ---- */
CDZ_API int cdz_ens_group_of(int program, int is_drum); /* the group of a GM program (0-127) or of drums */
CDZ_API const char *cdz_ens_group_name(int g);          /* "violin", "drums"; NULL out of range */
/* The group a user names: a group's name ("cello"), a GM program's name ("Acoustic Grand Piano", any
 * case) or a few plain words ("violin1", "Violin I", "vln" are not known: -1). */
CDZ_API int cdz_ens_group_find(const char *name);
CDZ_API uint8_t cdz_ens_group_program(int g);            /* the GM program a decoded group plays */
/* The group's playing range (lowest and highest MIDI pitch, the usual orchestration tables'). */
CDZ_API void cdz_ens_group_range(int g, int *lo, int *hi);
/* Writes the groups' names, comma-separated, into buf (for "valid instruments are ..."). */
CDZ_API void cdz_ens_group_list(char *buf, size_t n);

/* ---- styles and composers of the header ---- */
CDZ_API const char *cdz_ens_style_name(int k);   /* "baroque"; NULL out of range */
CDZ_API int cdz_ens_style_find(const char *name);  /* -1 when none */
/* The style of a piece from its index's style field ("Baroque", "Romantique", "string quartet") and
 * its corpus's folder name ("pop909", "nottingham"); -1 when neither says one. */
CDZ_API int cdz_ens_style_of(const char *index_style, const char *corpus);
CDZ_API void cdz_ens_style_list(char *buf, size_t n);
CDZ_API const char *cdz_ens_composer_name(int k);
/* The composer token for a name as the indexes write it ("BachJS", "Bach, Johann Sebastian",
 * "Traditional"): a surname at the start of a word; -1 for the others. */
CDZ_API int cdz_ens_composer_of(const char *text);
CDZ_API void cdz_ens_composer_list(char *buf, size_t n);

/* ---- pieces on the bar grid ---- */
typedef struct cdz_ens_note {
    int32_t bar, pos;   /* bar index and 12-per-quarter step in it */
    int32_t dur;        /* steps (1 .. the longest duration token's) */
    uint8_t group, pitch;
    uint16_t track;     /* the score track it came from (decoded pieces: the group) */
} cdz_ens_note;

typedef struct cdz_ens_bar {
    int32_t steps;      /* the bar's length in steps */
    int16_t time_sig;   /* its meter token index (cdz_remi_time_sig) */
    int16_t tempo;      /* its tempo bin (at its start) */
} cdz_ens_bar;

typedef struct cdz_ens_piece {
    cdz_ens_note *notes; /* sorted by bar, pos, group, pitch */
    size_t n_notes, cap_notes;
    cdz_ens_bar *bars;
    int64_t n_bars, cap_bars;
} cdz_ens_piece;

/* A score's notes on its own bar lines (its time signatures; 4/4 without one). Counts what it had to
 * change in stats: pitches moved by octaves into 21-108 (out_of_range), notes longer than the longest
 * duration shortened to it (long_notes), bars longer than CDZ_ENS_POSITIONS steps or without a meter
 * token (odd_bars), tempos outside the bins (clamped_tempos). An empty score gives CDZ_OK and no notes. */
CDZ_API cdz_status cdz_ens_piece_from_score(const cdz_score *s, cdz_ens_piece *out, cdz_extract_stats *stats, cdz_error *err);
/* Puts a piece's notes in the order cdz_ens_write reads them: bar, position, group, pitch, the longest
 * of a unison first, then track (after moving or adding notes by hand). */
CDZ_API void cdz_ens_piece_sort(cdz_ens_piece *p);
/* The bar each note of the score starts in, as cdz_ens_piece_from_score places it (a note less than
 * half a step before a bar line belongs to the next bar), into bar[0 .. s->n_notes); with starts
 * (may be NULL) the bars' first ticks, n_bars + 1 of them (cdz_free it). */
CDZ_API cdz_status cdz_ens_note_bars(const cdz_score *s, int32_t *bar, int64_t **starts, int64_t *n_bars, cdz_error *err);
/* A piece back to a score at 480 ticks a quarter: a track per group (named by it, its GM program,
 * drums on channel 10), the bars' meters and tempos. Velocity is not in the tokens: notes get 80. */
CDZ_API cdz_status cdz_ens_piece_to_score(const cdz_ens_piece *p, cdz_score *out, cdz_error *err);
CDZ_API void cdz_ens_piece_free(cdz_ens_piece *p);
CDZ_API double cdz_ens_tempo_qpm(int bin);
CDZ_API int cdz_ens_tempo_bin(double qpm);

/* ---- tokens ---- */
typedef struct cdz_ens_header {
    int style;          /* -1: none */
    int composer;       /* -1: none */
    uint32_t groups;    /* bit g: group g plays in the piece (0: the groups of the notes) */
    int anticipated;    /* 1: AAR (controls and LEAD bars follow), 0: AR */
} cdz_ens_header;
CDZ_API cdz_ens_header cdz_ens_header_default(void);

/* Appends the header's tokens to buf. Returns how many (at most 3 + CDZ_ENS_GROUPS). */
CDZ_API size_t cdz_ens_header_tokens(const cdz_ens_header *h, uint16_t *buf);

/* Writes bars [b0, b1) of the piece as one token sequence appended to out: the header, LEAD bars when
 * anticipated, every bar (the first states its meter and tempo), END when `end`. `control[i]` (NULL:
 * none) makes note i a control, written CDZ_ENS_ANTICIPATION bars early; controls of bars before b0
 * are left out, those of bars past b1 - CDZ_ENS_ANTICIPATION are written as far as b1 reaches. */
CDZ_API cdz_status cdz_ens_write(const cdz_ens_piece *p, const cdz_ens_header *h, const uint8_t *control, int64_t b0,
                                 int64_t b1, int end, cdz_tokens *out, cdz_error *err);
/* Reads any token sequence (total, as every codec's decoding): notes from events and controls, bars
 * from BAR tokens (LEAD bars count before bar 0), the header into *h (may be NULL). Controls get
 * is_control set in *control_out (cdz_malloc'd, one per note; may be NULL). */
CDZ_API cdz_status cdz_ens_read(const uint16_t *tok, size_t n, cdz_ens_piece *out, cdz_ens_header *h, uint8_t **control_out,
                                cdz_error *err);
/* Seconds of music the tokens span (bars and their tempos), for bits per second. */
CDZ_API double cdz_ens_seconds(const uint16_t *tok, size_t n);

/* ---- generation and infilling (src/sample/ensemble.c) ---- */
typedef struct cdz_ens_request {
    cdz_ens_header header;     /* style, composer, instruments (groups 0: the model chooses) */
    double seconds;            /* generate: music to write (> 0) */
    double qpm;                /* generate: the tempo, held for the whole piece (0: the model's choice) */
    int numerator, denominator;/* generate: the meter, held (0: the model's choice) */
    int constrain;             /* 1: notes only on header.groups and within each group's range */
    cdz_sample_params sampling;
    uint64_t seed;
    int64_t context;           /* tokens attended to (0: the model's window) */
    void (*progress)(void *ctx, double done_s, double total_s);
    void *progress_ctx;
} cdz_ens_request;
CDZ_API cdz_ens_request cdz_ens_default_request(void);

typedef struct cdz_ens_result {
    cdz_score score;
    int64_t tokens;            /* generated */
    int64_t forced;            /* controls and structure tokens put in by the sampler */
    double masked_share;       /* the model's probability the masks took out, per token on average */
    double loglik;
    char notes[512];           /* what the user should hear of */
} cdz_ens_result;
CDZ_API void cdz_ens_result_free(cdz_ens_result *r);

/* Generates a piece from scratch for an `ensemble` model. */
CDZ_API cdz_status cdz_ens_generate(const cdz_model *m, const cdz_ens_request *rq, cdz_ens_result *out, cdz_error *err);
/* Fills in a score: the tracks named in `keep` (comma-separated track names, or group names) stay note
 * for note; the model writes the other instruments of the header (rq->header.groups; 0: the groups of
 * the tracks not kept) in bars [bar0, bar1) (bar1 <= 0: to the end), reading the kept parts as
 * anticipated controls and everything outside the bars as it is. A name not in the file is refused with
 * the list of the file's track names. */
CDZ_API cdz_status cdz_ens_infill(const cdz_model *m, const cdz_score *in, const char *keep, int64_t bar0, int64_t bar1,
                                  const cdz_ens_request *rq, cdz_ens_result *out, cdz_error *err);

/* ---- held-out measures (src/eval/ensemble_eval.c) ---- */

/* The anticipation paper's protocol on pieces of several instruments: per piece, its first bars up to
 * CDZ_ENS_CHUNK tokens, and one instrument group drawn by the piece's hash as the part to infill.
 * Continuation: the plain (AR) sequence, every token after the header scored. Infilling: the part's
 * note and duration tokens scored, the other parts given: as anticipated controls when the model reads
 * them (`anticipated`), else as the plain sequence's events (what a model without controls can see:
 * only the other parts' past). Nats are natural-log losses; seconds are the stretches' music. */
typedef struct cdz_ens_eval {
    int64_t pieces;                   /* scored (with two groups or more: infilling too) */
    int64_t infill_pieces;
    double cont_nats, cont_tokens, cont_notes, cont_seconds; /* cont_notes: events (notes) of the stretches */
    double infill_nats, infill_tokens, infill_notes, infill_seconds;
} cdz_ens_eval;

/* Scores `score` (one piece; h gives its style and composer, NULL: none) and adds to *acc. anticipated: 1 gives the infilled part's context as
 * controls (an anticipatory model), 0 as plain events. */
CDZ_API cdz_status cdz_ens_eval_piece(const cdz_model *m, const cdz_score *score, const cdz_ens_header *h, uint64_t seed,
                                      int anticipated, cdz_ens_eval *acc, cdz_error *err);

/* How a piece keeps to the instruments asked for: of its notes, how many are on the groups in
 * `groups`, and how many lie outside their own group's playing range (cdz_ens_group_range). */
typedef struct cdz_ens_instrumentation {
    int64_t notes, on_requested, out_of_range;
} cdz_ens_instrumentation;
CDZ_API void cdz_ens_instrumentation_add(const cdz_score *s, uint32_t groups, cdz_ens_instrumentation *acc);

/* Does a model read the controls? One track of a piece (a melody) given as controls, and the other
 * tracks' note and duration tokens scored over the piece's first bars that fit one window, with the
 * controls where the layout puts them and moved: if the model reads them, the layout scores best.
 *   LAYOUT       each control CDZ_ENS_ANTICIPATION bars before its note, at its position (the codec's)
 *   ONE_BAR      one bar before instead                 THREE_BARS   three bars before
 *   OFFBEAT      half a beat (6 steps) late in its bar (dropped past the bar's end)
 *   OTHER_BARS   the controls of four bars later in their place (the right texture, the wrong notes)
 *   NONE         no controls at all (the header still says anticipated) */
enum {
    CDZ_ENS_PROBE_LAYOUT, CDZ_ENS_PROBE_ONE_BAR, CDZ_ENS_PROBE_THREE_BARS, CDZ_ENS_PROBE_OFFBEAT, CDZ_ENS_PROBE_OTHER_BARS,
    CDZ_ENS_PROBE_NONE, CDZ_ENS_PROBES
};
typedef struct cdz_ens_probe {
    double nats[CDZ_ENS_PROBES], tokens[CDZ_ENS_PROBES]; /* summed over pieces; the same tokens in every variant */
    int64_t pieces;
} cdz_ens_probe;
CDZ_API const char *cdz_ens_probe_name(int variant);
/* Adds one piece to acc: track `track` of s as the controls, h's style and composer in the header (its
 * groups: the piece's). CDZ_ERR_ARG for a track the score lacks or one that leaves no other notes. */
CDZ_API cdz_status cdz_ens_probe_controls(const cdz_model *m, const cdz_score *s, int track, const cdz_ens_header *h,
                                          cdz_ens_probe *acc, cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

/* cadenza codec: music as tokens. Each codec has a named vocabulary, turns a score into token
 * sequences (through its extractor) and turns any token sequence back into a score.
 *
 *   const cdz_codec *c = cdz_codec_find("performance");
 *   cdz_tokens t = {0};
 *   if (c->encode(&score, &t, &stats, &err) == CDZ_OK)
 *       for (size_t i = 0; i < t.n_seqs; i++) { const uint16_t *seq = t.tokens + t.offsets[i]; ... }
 *   cdz_tokens_free(&t);
 *
 * Owns: the codec table and token buffers. Codecs are stateless and thread-safe.
 *
 * melody       Magenta MelodyRNN basic_rnn one-hot: 0 no-event, 1 note-off, 2 + (pitch - 48) for
 *              pitches 48-83 (38 classes). Melodies are extracted with Magenta's pipeline and squashed
 *              into [48, 84) and to C major (Melody.squash) before encoding.
 * performance  Performance RNN / Music Transformer events: note-on 0-127, note-off 128-255, time shift
 *              of 1-100 steps of 10 ms at 256-355, velocity bin 1-32 at 356-387 (388 tokens), with
 *              Magenta's binning ((v - 1) * 32 / 127 + 1) and order of events.
 * lookback     lookback_rnn: the melody's labels, 0-37 as `melody`, 38 repeat one bar, 39 repeat two bars
 *              (Magenta LookbackEventSequenceEncoderDecoder); 121 input features per step.
 * key_melody   attention_rnn: 0-35 pitch - 48, 36 no-event, 37 note-off, 38 and 39 repeats (Magenta
 *              KeyMelodyEncoderDecoder); 74 input features per step.
 * multitrack   MuseNet-style pieces of several instruments: note-on tokens joining instrument class (16
 *              General MIDI families and drums), volume (4 bins) and pitch; note-offs; 10 ms time shifts;
 *              instrument-present tokens, START, END, and 32 style tokens (11031 tokens).
 * vae_mel_2bar, vae_mel_16bar, vae_drums, vae_trio_16bar
 *              MusicVAE's windows (src/codec/vae.c): a token per 16th-note step; 90 melody classes
 *              (pitches 21-108, no-event, note-off) or 512 drum classes (9 drum classes as bits); a
 *              trio has three tokens per step (melody 0-89, bass 90-179, drums 180-691).
 * chorale      JSB chorales as ../shared/bench/jsb_reference.py: BOS (47), then per 16th-note step the
 *              soprano, alto, tenor and bass as pitch - 36 (36-81) or 46 for silence (48 tokens),
 *              cut at 2049 tokens. Reads MIDI with four voices, or the JSB JSON with its split.
 * remi         beat-aware piano (REMI, Huang & Yang 2020; MidiTok's REMI): per bar BAR, TIME_SIG when the
 *              meter changes, then per grid step with events POSITION_k (12 steps a quarter note), TEMPO_q
 *              when the tempo changes, and per note PITCH_p VELOCITY_v DURATION_d (597 tokens; layout
 *              below and in src/codec/remi.c). Every non-drum note, sustain applied, one sequence a file.
 * remi_acc     pairs [melody (tracks MELODY) of 8 bars as remi tokens, SEP, piano (tracks PIANO) of the
 *              same bars] every 4 bars, melody-less stretches included, notes whole (598 tokens). */
#ifndef CADENZA_CODEC_H
#define CADENZA_CODEC_H

#include "cadenza/extract.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Token sequences, back to back: sequence i is tokens[offsets[i] .. offsets[i + 1]). */
typedef struct cdz_tokens {
    uint16_t *tokens;
    size_t n_tokens, cap_tokens;
    size_t *offsets; /* n_seqs + 1 entries once a sequence is added */
    size_t n_seqs, cap_offsets;
} cdz_tokens;

CDZ_API void cdz_tokens_free(cdz_tokens *t);
/* Appends one sequence. */
CDZ_API cdz_status cdz_tokens_append(cdz_tokens *t, const uint16_t *tokens, size_t n);

typedef struct cdz_codec cdz_codec;
struct cdz_piece_info;

/* ---- what generation needs of a codec (cadenza/generate.h) ---- */

/* The frame of a generated piece, from its primer: what decoding puts back. */
typedef struct cdz_gen_frame {
    double qpm;                 /* tempo (120 without a primer) */
    int numerator, denominator; /* meter (4/4 without one) */
    int transpose;              /* semitones the primer was moved by into the codec's range (undone on decode) */
    char note[200];             /* what the primer hook chose that the user should hear of ("" if nothing) */
} cdz_gen_frame;

typedef struct cdz_codec_gen {
    /* Grid codecs: tokens per 16th-note step (melodies 1, chorales 4), after `lead` tokens that are no
     * step (a chorale's BOS); 0: timed events, whose length is their time shifts. */
    int tokens_per_step, lead;
    /* The tokens a generation without a primer starts from (at most cap); returns how many. */
    size_t (*start)(const cdz_codec *c, uint16_t *tok, size_t cap);
    /* The primer's tokens, one sequence appended to out, from a score already cut to the wanted track
     * and bars; sets f->transpose. CDZ_ERR_ARG, saying what the codec looked for, when the score has
     * nothing it reads. */
    cdz_status (*primer)(const cdz_codec *c, const cdz_score *s, cdz_gen_frame *f, cdz_tokens *out, cdz_error *err);
    /* Timed codecs: the seconds of music that tokens span. */
    double (*seconds)(const uint16_t *tok, size_t n);
    /* Conditional codecs (accompaniment): the condition half for the stretch [start, end) seconds of a
     * melody score, [melody tokens..., separator], appended to out as one sequence (only the separator
     * when the stretch has no melody), and the length of the stretches (seconds). NULL otherwise. */
    cdz_status (*condition)(const cdz_score *melody, double start, double end, cdz_tokens *out, cdz_error *err);
    double segment_seconds;
    /* Conditional codecs: decodes the generated half (after the separator) into a score on the
     * stretch's clock (from 0 s). */
    cdz_status (*decode_part)(const uint16_t *tok, size_t n, cdz_score *out, cdz_error *err);
} cdz_codec_gen;

struct cdz_codec {
    const char *name;
    const char *description;
    uint32_t vocab_size;
    /* Writes the token's name ("NOTE_ON_60", "TIME_SHIFT_10") into buf. */
    void (*token_name)(uint16_t token, char *buf, size_t n);
    /* Extracts from the score and appends one token sequence per extracted sequence. */
    cdz_status (*encode)(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err);
    /* Any sequence of tokens below vocab_size gives a valid score; larger tokens are an error. */
    cdz_status (*decode)(const uint16_t *tokens, size_t n, cdz_score *out, cdz_error *err);
    /* For codecs whose corpus comes in another form (the JSB JSON): encodes such a file, sequences
     * going to out[0] train, out[1] eval, out[2] test. NULL when the codec reads MIDI only. */
    cdz_status (*encode_corpus)(const char *path, cdz_tokens out[3], cdz_extract_stats *stats, cdz_error *err);
    /* Conditioning tokens a dataset may put first in every sequence (0 styles: none). */
    uint32_t style_base, n_styles;
    /* What generation needs (NULL: no model generates this codec's tokens yet). */
    const cdz_codec_gen *gen;
    /* Codecs whose tokens say what a piece is (the ensemble's style and composer): encode with what the
     * dataset's index says of the piece. NULL: encode is all there is. */
    cdz_status (*encode_info)(const cdz_score *s, const struct cdz_piece_info *info, cdz_tokens *out, cdz_extract_stats *stats,
                              cdz_error *err);
};

/* What a dataset's index (or its folder) says of one piece, for codecs with encode_info. */
typedef struct cdz_piece_info {
    const char *style;       /* the index's style field, or "" */
    const char *composer;    /* the index's composer, or "" */
    const char *corpus;      /* the corpus folder's name ("mutopia", "pop909"), or "" */
    double anticipation;     /* ensemble: the share of sequences with anticipated controls (0: none) */
    uint64_t seed;           /* the file's content hash: the codec's random choices follow it */
} cdz_piece_info;

/* Transposes a token sequence by `shift` semitones in place, for training-time augmentation: 1 when
 * every pitch stays within the codec's range (tokens changed), 0 when one would leave it (tokens left
 * as they were), -1 when the codec has no transposition (multitrack, the VAE codecs). Melody codecs
 * keep their range 48-83; performances, remi and the pairs 0-127; chorales 36-81. */
CDZ_API int cdz_codec_transpose(const cdz_codec *c, uint16_t *tokens, size_t n, int shift);

/* The codec with this name, or NULL. */
CDZ_API const cdz_codec *cdz_codec_find(const char *name);
/* All codecs, for listings: returns how many there are and sets *list. */
CDZ_API size_t cdz_codec_list(const cdz_codec *const **list);
/* The token with this name, or CDZ_ERR_ARG. */
CDZ_API cdz_status cdz_codec_token_from_name(const cdz_codec *c, const char *name, uint16_t *token);

/* ---- the codecs' own layers, for tests and for models that hold extracted sequences ---- */
enum { CDZ_MELODY_MIN_NOTE = 48, CDZ_MELODY_MAX_NOTE = 84, CDZ_MELODY_CLASSES = 38 };
/* A squashed melody (events in [48, 84) or no-event/note-off) to one token per step. */
CDZ_API cdz_status cdz_melody_encode(const cdz_melody *m, uint16_t *tokens, cdz_error *err);
/* Tokens to melody events (m->events must hold n). */
CDZ_API cdz_status cdz_melody_decode(const uint16_t *tokens, size_t n, cdz_melody *m, cdz_error *err);

/* lookback_rnn and attention_rnn: tokens are the labels; inputs are computed from the melody events
 * (squashed into 48-83) up to and including position `pos`. `bar` is the melody's bar in steps (16 for
 * 4/4 at 16th notes, Magenta's only one; 12 for 3/4 and 6/8): the repeat labels and lookbacks reach one
 * and two bars back, the position features count within the bar. With bar 16 every value is Magenta's. */
enum { CDZ_MELODY_LABELS = 40, CDZ_LOOKBACK_INPUTS = 121, CDZ_KEY_MELODY_INPUTS = 74 };
CDZ_API int cdz_lookback_label(const int16_t *events, size_t pos, int bar);            /* 0-37 one-hot class, 38/39 repeats */
CDZ_API int cdz_lookback_event(int label, const int16_t *events, size_t pos, int bar); /* events[0..pos) known */
CDZ_API void cdz_lookback_inputs(const int16_t *events, size_t pos, int bar, float *in);   /* in: 121 floats */
CDZ_API int cdz_key_melody_label(const int16_t *events, size_t pos, int bar);          /* 0-35 pitch, 36 no-event, 37 off, 38/39 */
CDZ_API int cdz_key_melody_event(int label, const int16_t *events, size_t pos, int bar);
CDZ_API void cdz_key_melody_inputs(const int16_t *events, size_t pos, int bar, float *in); /* in: 74 floats */

/* The meters the codecs lookback2 and key_melody2 name in their first token (METER_3_4 ...): the
 * labels 0-39 are lookback's and key_melody's, measured against the meter's bar, and token
 * CDZ_MELODY_LABELS + i is meter i. Bars of 6 to 32 sixteenths. */
enum { CDZ_MELODY_METERS = 15, CDZ_MELODY_METER_VOCAB = CDZ_MELODY_LABELS + CDZ_MELODY_METERS };
/* The meter's index (0 .. CDZ_MELODY_METERS - 1), or -1 when it has no token. */
CDZ_API int cdz_melody_meter_index(int numerator, int denominator);
/* Meter i's time signature and its bar in 16th-note steps (0 when i is out of range). */
CDZ_API int cdz_melody_meter(int i, int *numerator, int *denominator);

/* The same features one step at a time, for training windows and step-wise generation: a bounded state
 * (the last CDZ_MELODY_RING events and the running counts the key features keep) that gives exactly the
 * inputs the functions above compute from the whole history, without reading it again each step.
 *   cdz_melody_state st; cdz_melody_state_reset(&st);
 *   for each label: cdz_key_melody_push(&st, label); cdz_key_melody_inputs_state(&st, in);   // inputs at that step
 * A meter token (CDZ_MELODY_LABELS + i) pushed first sets the bar and is no step; the inputs after it
 * alone are those before the first step (nothing sounding, position 0). A meter token after the first
 * position is read as a no-event (a generator never samples one). Without one the bar is 16. */
enum { CDZ_MELODY_RING = 128 };
typedef struct cdz_melody_state {
    int64_t n;                      /* events pushed: positions 0 .. n-1 */
    int16_t ring[CDZ_MELODY_RING];  /* the event at position p is ring[p % CDZ_MELODY_RING] (the last 128) */
    int16_t current, attack, ascending, n3, last3[3]; /* the key_melody features' running values */
    int32_t counts[12];             /* pitch classes of every note so far */
    int32_t bar;                    /* steps per bar (0: 16, the default) */
    int32_t meter;                  /* the meter token's index + 1, 0 when none was pushed (all zeros: reset) */
    int32_t pushed;                 /* tokens pushed, the meter token included */
} cdz_melody_state;
CDZ_API void cdz_melody_state_reset(cdz_melody_state *s);
/* Decodes `label` at position n (after the events pushed before it) and pushes its event; returns it
 * (for a leading meter token: CDZ_MELODY_NO_EVENT, and no event is pushed). */
CDZ_API int cdz_lookback_push(cdz_melody_state *s, int label);
CDZ_API int cdz_key_melody_push(cdz_melody_state *s, int label);
/* The inputs at the last pushed position (n - 1; before the first step when n is 0): 121 / 74 floats. */
CDZ_API void cdz_lookback_inputs_state(const cdz_melody_state *s, float *in);
CDZ_API void cdz_key_melody_inputs_state(const cdz_melody_state *s, float *in);

/* multitrack: see src/codec/multitrack.c for the layout. */
enum { CDZ_MT_STYLES = 32, CDZ_MT_STYLE_BASE = 10997, CDZ_MT_VOCAB = 11031 };
CDZ_API cdz_status cdz_multitrack_encode(const cdz_performance *p, cdz_tokens *out, cdz_error *err);
CDZ_API cdz_status cdz_multitrack_decode(const uint16_t *tokens, size_t n, cdz_performance *p, cdz_error *err);

enum { CDZ_CHORALE_REST_TOKEN = 46, CDZ_CHORALE_BOS = 47, CDZ_CHORALE_VOCAB = 48 };
/* A chorale grid to tokens (appended as one sequence; truncation counted in stats if given). */
CDZ_API cdz_status cdz_chorale_encode(const cdz_chorale *c, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err);
/* Tokens to a grid: BOS tokens are skipped, the rest fill steps voice by voice (a last partial step
 * is completed with silence). */
CDZ_API cdz_status cdz_chorale_decode(const uint16_t *tokens, size_t n, cdz_chorale *c, cdz_error *err);

/* ---- remi (src/codec/remi.c) ----
 * Token layout: BAR 0; POSITION_0-95 at 1 (steps of a 12th of a quarter note from the bar line); PITCH_0-127
 * at 97; VELOCITY_1-32 at 225 (Magenta's 32 bins, cdz_velocity_to_bin); DURATION at 257, 40 lengths in
 * steps (cdz_remi_duration_steps: every step to a quarter, 16ths to a whole note, 8ths to two, quarters to
 * four, 192 steps the longest); TEMPO_20-275 qpm at 297 (whole qpm); TIME_SIG at 553, 44 meters (n/2 for
 * n 1-4, n/4 for 1-8, n/8 and n/16 for 1-16: bars of at most 96 steps). remi_acc adds SEP 597. */
enum {
    CDZ_REMI_STEPS_PER_QUARTER = 12,
    CDZ_REMI_BAR = 0,
    CDZ_REMI_POSITION = 1, CDZ_REMI_POSITIONS = 96,
    CDZ_REMI_PITCH = 97,
    CDZ_REMI_VELOCITY = 225,
    CDZ_REMI_DURATION = 257, CDZ_REMI_DURATIONS = 40, CDZ_REMI_MAX_DURATION = 192,
    CDZ_REMI_TEMPO = 297, CDZ_REMI_MIN_QPM = 20, CDZ_REMI_TEMPOS = 256,
    CDZ_REMI_TIME_SIG = 553, CDZ_REMI_TIME_SIGS = 44,
    CDZ_REMI_VOCAB = 597,
    CDZ_REMI_SEP = 597, CDZ_REMI_PAIR_VOCAB = 598,
    CDZ_REMI_STRETCH_BARS = 8, CDZ_REMI_STRIDE_BARS = 4,
    CDZ_REMI_PART_MAX = 1024, /* remi_acc: the longest side of a pair (a model of max_len 1024 reads it whole) */
    CDZ_REMI_MAX_BARS = 100000 /* a piece ends there (later notes left out, counted as truncated) */
};
/* The length in steps of DURATION token k (0-39), and the token of a length (the nearest; ties go to the
 * shorter; lengths past 192 steps give the longest). */
CDZ_API int cdz_remi_duration_steps(int k);
CDZ_API int cdz_remi_duration_token(int64_t steps);
/* The meter of TIME_SIG token k (0-43), and the token of a meter (-1 when there is none). */
CDZ_API void cdz_remi_time_sig(int k, int *numerator, int *denominator);
CDZ_API int cdz_remi_time_sig_token(int numerator, int denominator);

/* Where a score's bars lie, as the remi codecs read them (cdz_remi_align). */
typedef struct cdz_remi_frame {
    int estimated;        /* 1: the bar lines were estimated from the notes (the file's cannot be trusted) */
    int64_t phase;        /* the beat's offset from the quarter-note grid of the ticks (estimated), in ticks */
    int downbeat;         /* which beat of the bar the estimate put first (0 = the phase's own beat) */
    int numerator, denominator; /* the meter of an estimated frame */
    int64_t shift;        /* ticks added to every event (bar 0 of the aligned score starts at tick 0) */
    uint32_t meters_replaced; /* time signatures no TIME_SIG token holds, read as 4/4 */
} cdz_remi_frame;

/* A copy of the score whose bar lines are its time signatures from tick 0. A file whose notes lie on its
 * ticks' quarter-note grid (the grid scores at least half as well as the best phase below) and whose first
 * meter is not one beat keeps its bars: a written file, or one whose bars were set from annotations
 * (cdz_score_set_bars). Others (POP909 as it comes: its tempo map gives the beat's length, but the beat
 * starts anywhere in the ticks and its meters are 1/4 or 2/4) get bar lines estimated from their notes: the
 * beat's phase where most onsets fall on beats (and half as much on off-beat 8ths), the meter of the file's
 * first time signature of 3 beats or more (else 4/4), and the downbeat on the beat where the notes' pitch
 * classes change most (a chord change); bar 0 is then the bar of the first note (from_start: the bar of
 * tick 0, keeping what comes before the first note: a melody's intro), and every event moves by
 * frame->shift ticks (cdz_score_shift_ticks). Measured against POP909's annotations (its PIANO tracks):
 * the beat right for 94% of the songs, the downbeat for 70%. Meters no TIME_SIG token holds are read as
 * 4/4 (counted). */
CDZ_API cdz_status cdz_remi_align(const cdz_score *s, int from_start, cdz_score *out, cdz_remi_frame *frame, cdz_error *err);

/* What generation needs of a codec whose tokens open bars (remi, remi_acc), beside its
 * cdz_codec_gen: lengths in bars, stops at a bar line, and the accompaniment written stretch by stretch on
 * overlapping bars, the decoder primed with what was written of the overlap. */
typedef struct cdz_codec_bar_gen {
    /* The bars tokens open (their BAR tokens). */
    double (*bars)(const uint16_t *tok, size_t n);
    /* The score as the codec reads its bars (cdz_remi_align; frame says what was estimated). */
    cdz_status (*align)(const cdz_score *s, int from_start, cdz_score *out, cdz_remi_frame *frame, cdz_error *err);
    /* Conditional codecs: stretches of segment_bars bars, one every stride_bars bars (0: none). */
    int segment_bars, stride_bars;
    /* The condition half for bars [first, first + n) of an aligned score: its melody (tracks named MELODY,
     * else every note but drums) as tokens, then the separator, appended to out as one sequence. */
    cdz_status (*condition_bars)(const cdz_score *aligned, int64_t first, int64_t n, cdz_tokens *out, cdz_error *err);
    /* The notes of one track of an aligned score that start in bars [first, first + n), as the part after
     * the separator, and the BAR that opens bar first + n (what the decoder is primed with), appended to
     * out as one sequence. */
    cdz_status (*part_bars)(const cdz_score *aligned, int track, int64_t first, int64_t n, cdz_tokens *out, cdz_error *err);
    /* The part after the separator back to a score (bar 0 at tick 0). */
    cdz_status (*decode_part)(const uint16_t *tok, size_t n, cdz_score *out, cdz_error *err);
} cdz_codec_bar_gen;

/* The bar hooks of a codec (NULL for codecs without bars). */
CDZ_API const cdz_codec_bar_gen *cdz_codec_bar_gen_of(const cdz_codec *c);

/* accompaniment: [melody performance tokens, SEP, accompaniment performance tokens] (src/codec/accompaniment.c). */
enum { CDZ_ACC_SEP = 388, CDZ_ACC_VOCAB = 389, CDZ_ACC_SEGMENT_SECONDS = 10 };
enum { CDZ_PERF_NOTE_ON = 0, CDZ_PERF_NOTE_OFF = 128, CDZ_PERF_TIME_SHIFT = 256, CDZ_PERF_VELOCITY = 356,
       CDZ_PERF_VOCAB = 388, CDZ_PERF_MAX_SHIFT = 100, CDZ_PERF_VELOCITY_BINS = 32 };
CDZ_API int cdz_velocity_to_bin(int velocity); /* Magenta's: (velocity - 1) * 32 / 127 + 1 */
CDZ_API int cdz_bin_to_velocity(int bin);      /* the bin's lowest velocity, 1 + (bin - 1) * 4 (bin width ceil(127 / 32)) */
/* Performance -> events (appended to *out as one sequence). */
CDZ_API cdz_status cdz_performance_encode(const cdz_performance *p, cdz_tokens *out, cdz_error *err);
/* Events -> performance (100 steps per second). Note-offs with nothing sounding are ignored; notes
 * still sounding at the end end there (given one step if they would have none). Velocities are the
 * bins' lowest values. */
CDZ_API cdz_status cdz_performance_decode(const uint16_t *tokens, size_t n, cdz_performance *p, cdz_error *err);
/* The music's length in seconds that performance tokens span: their time shifts added up. */
CDZ_API double cdz_performance_seconds(const uint16_t *tokens, size_t n);

#ifdef __cplusplus
}
#endif
#endif

/* Shared by the files of src/codec/ only. */
#ifndef CADENZA_CODEC_INTERNAL_H
#define CADENZA_CODEC_INTERNAL_H
#include "cadenza/codec.h"

extern const cdz_codec codec_melody;
extern const cdz_codec codec_performance;
extern const cdz_codec codec_chorale;
extern const cdz_codec codec_accompaniment;
extern const cdz_codec codec_lookback;
extern const cdz_codec codec_key_melody;
extern const cdz_codec codec_lookback2;
extern const cdz_codec codec_key_melody2;
extern const cdz_codec codec_multitrack;
extern const cdz_codec codec_vae_mel_2bar;
extern const cdz_codec codec_vae_mel_16bar;
extern const cdz_codec codec_vae_drums;
extern const cdz_codec codec_vae_trio_16bar;
extern const cdz_codec codec_remi;
extern const cdz_codec codec_remi_pair;
extern const cdz_codec codec_ensemble;

/* Generation hooks shared by the melody codecs (melody.c): without a meter token, and with one. */
extern const cdz_codec_gen codec_gen_melody;
extern const cdz_codec_gen codec_gen_melody_meter;

/* The tokens of a squashed melody in melody codec c (lookback.c): melody, lookback and key_melody one
 * per step; lookback2 and key_melody2 the meter token, then one per step. Returns how many (at most
 * n_steps + 1), or 0 when the melody's meter has no token (cdz_melody_meter_index). */
size_t codec_melody_tokens(const cdz_codec *c, const cdz_melody *m, uint16_t *tok);
/* The meter of a melody: its time signature, or one read from its bar when it has none. */
void codec_melody_meter(const cdz_melody *m, int *numerator, int *denominator);

/* Extracts the score's melodies (MelodyRNN's settings), squashes each into [48, 84) and C, and appends
 * their tokens in codec c (codec_melody_tokens). Melodies in a meter the codec has no token for are
 * counted in stats->unsupported_meter and left out. */
cdz_status codec_encode_melodies(const cdz_score *s, cdz_tokens *out, cdz_extract_stats *stats, cdz_error *err,
                                 const cdz_codec *c);

/* Names of one-hot melody classes: NO_EVENT (0), NOTE_OFF (1), NOTE_<min_note + t - 2> up to `classes`. */
void codec_melody_token_name(uint16_t t, int min_note, int classes, char *buf, size_t n);

/* Tokens (each below vocab) to a one-track melody score at 120 qpm, 4 steps a quarter: `event` gives a
 * token's melody event, knowing the events before it (for lookback repeats). */
typedef int (*melody_event_fn)(int token, const int16_t *events_so_far, size_t pos);
cdz_status codec_decode_melody(const uint16_t *tokens, size_t n, uint32_t vocab, melody_event_fn event,
                               uint8_t velocity, cdz_score *out, cdz_error *err);

/* ---- note streams as time-shift events (events.c), for the performance and multitrack codecs ---- */
typedef struct token_buf {
    uint16_t *v;
    size_t n, cap;
} token_buf;

typedef struct event_writer {
    uint16_t shift_base; /* the token of a one-step shift; longer shifts follow it */
    int max_shift;
    /* Writes a note-on's tokens (a velocity change, the note) into out; returns how many (1 or 2). */
    int (*note_on)(void *ctx, const cdz_perf_note *n, uint16_t *out);
    uint16_t (*note_off)(const cdz_perf_note *n);
    void *ctx;
} event_writer;

/* Appends the events of p's notes to b. */
cdz_status codec_write_events(const cdz_performance *p, const event_writer *w, token_buf *b, cdz_error *err);

typedef enum { TOKEN_ON, TOKEN_OFF, TOKEN_SHIFT, TOKEN_VELOCITY, TOKEN_OTHER } token_kind;
typedef struct token_meaning {
    token_kind kind;
    uint8_t pitch, instrument;
    int velocity; /* TOKEN_VELOCITY: the new velocity; TOKEN_ON: the note's, or 0 for the current one */
    int steps;    /* TOKEN_SHIFT */
} token_meaning;

typedef struct event_reader {
    const char *name;
    uint32_t vocab_size;
    int n_keys;           /* instruments x 128 */
    int default_velocity; /* before any velocity token */
    void (*classify)(uint16_t token, token_meaning *m);
} event_reader;

/* Decodes an event stream into notes (100 steps per second). */
cdz_status codec_read_events(const uint16_t *tokens, size_t n, const event_reader *r, cdz_performance *p, cdz_error *err);
#endif

/* cadenza extract: musical views of a score that the codecs encode.
 *
 *   cdz_melody_params p = cdz_melody_default_params();   // Magenta's MelodyRNN pipeline settings
 *   cdz_melody *mel; size_t n;
 *   cdz_extract_stats st = {0};
 *   if (cdz_extract_melodies(&score, &p, &mel, &n, &st, &err) == CDZ_OK) { ...; cdz_melodies_free(mel, n); }
 *
 * Owns: monophonic melodies (Magenta's melody pipeline) and performances (every non-drum note with
 * velocity, sustain applied, on a grid of steps per second). Each extractor counts, in
 * cdz_extract_stats, why it dropped material. Thread safety: pure functions of their inputs. */
#ifndef CADENZA_EXTRACT_H
#define CADENZA_EXTRACT_H

#include "cadenza/score.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Why material was dropped or changed; extractors add to these (callers may sum over many files). */
typedef struct cdz_extract_stats {
    uint64_t sequences;              /* extracted and kept */
    uint64_t polyphonic_tracks;      /* melody: a track whose notes start together (search stopped) */
    uint64_t too_short;              /* melody: shorter than min_bars */
    uint64_t too_few_pitches;        /* melody: fewer distinct pitch classes than min_unique_pitches */
    uint64_t truncated;              /* melody: cut to max_steps */
    uint64_t non_integer_bar;        /* a part whose bar is not a whole number of steps (MusicVAE: not 16) */
    uint64_t empty;                  /* a score (or a part of one) with no usable notes */
    uint64_t not_four_voices;        /* chorale: not exactly four voices (non-drum track/channel groups) */
    uint64_t out_of_range;           /* chorale: a pitch outside 36-81 */
    uint64_t unsupported_meter;      /* melody codecs with meter tokens: a meter they have no token for */
    uint64_t long_notes;             /* remi: notes longer than the longest DURATION, shortened to it */
    uint64_t estimated_bars;         /* remi: scores whose bar lines were estimated from their notes */
    uint64_t clamped_tempos;         /* remi: tempos outside the TEMPO tokens' range, written at its nearest end */
    uint64_t silent_melody;          /* remi_acc: stretches without melody (kept: intros, interludes) */
    uint64_t odd_bars;               /* remi: bars whose length no TIME_SIG token holds (written with the nearest) */
    uint64_t long_pairs;             /* remi_acc: pairs with a side of more than CDZ_REMI_PART_MAX tokens (left out) */
    uint64_t unisons;                /* ensemble: notes of one instrument group at one pitch and onset, written once */
    uint64_t folded_pitches;         /* ensemble: pitches outside 21-108 moved by octaves into it */
} cdz_extract_stats;

/* Calls fn on each part of the score between real changes of tempo or time signature (Magenta's
 * TimeChangeSplitter), moved to start at 0 and quantized at steps_per_quarter, with its bar length in
 * steps. Parts without notes count as empty; parts whose bar is not a whole number of steps, or not
 * steps_per_bar when that is > 0, count as non_integer_bar. Stops at fn's first error. */
typedef cdz_status (*cdz_part_fn)(void *ctx, const cdz_score *part, int64_t start_tick, int32_t steps_per_bar);
CDZ_API cdz_status cdz_extract_each_part(const cdz_score *s, int32_t steps_per_quarter, int32_t steps_per_bar, cdz_part_fn fn,
                                 void *ctx, cdz_extract_stats *stats);

/* ---- melodies (Magenta melodies_lib / melody_pipelines, MelodyRNN settings) ---- */

enum { CDZ_MELODY_NO_EVENT = -2, CDZ_MELODY_NOTE_OFF = -1 };

typedef struct cdz_melody {
    int16_t *events;         /* one per step: CDZ_MELODY_NO_EVENT, CDZ_MELODY_NOTE_OFF or a pitch 0-127 */
    size_t n_steps;
    int32_t steps_per_quarter;
    int32_t steps_per_bar;
    double qpm;              /* tempo of the part it came from */
    int64_t start_tick;      /* where step 0 lies in the source score */
    uint16_t track;          /* source instrument: track, channel, program */
    uint8_t channel, program;
    uint8_t numerator, denominator; /* the part's time signature (0/0: unknown, read from steps_per_bar) */
} cdz_melody;

typedef struct cdz_melody_params {
    int32_t steps_per_quarter;  /* 4: sixteenth notes */
    double gap_bars;            /* 1.0: a melody ends after this much silence */
    int32_t min_bars;           /* 7: shorter melodies are dropped */
    int32_t max_steps;          /* 512: longer melodies are cut (0: no limit) */
    int32_t min_unique_pitches; /* 5: distinct pitch classes a melody needs (Magenta counts classes) */
    int keep_highest;           /* 0 (MelodyRNN's default): polyphony drops the rest of the track;
                                   1: keep the highest of notes that start together */
    int pad_end;                /* pad each melody with no-events to a whole bar (MusicVAE) */
    int min_pitch, max_pitch;   /* notes outside [min, max] are left out first (0, 127: none) */
    int min_program, max_program; /* only notes of these programs (0, 127: all) */
    int steps_per_bar;          /* > 0: parts whose bar has another length are skipped (MusicVAE: 16) */
} cdz_melody_params;

CDZ_API cdz_melody_params cdz_melody_default_params(void);

/* Magenta's pipeline: split the score where the tempo or time signature changes, quantize each part,
 * then scan each non-drum instrument (track, channel, program) for monophonic runs. A melody ends after
 * gap_bars of silence; a note that overlaps the next is cut where the next starts. */
CDZ_API cdz_status cdz_extract_melodies(const cdz_score *s, const cdz_melody_params *p, cdz_melody **out, size_t *n,
                                cdz_extract_stats *stats, cdz_error *err);
CDZ_API void cdz_melodies_free(cdz_melody *m, size_t n);

/* Magenta Melody.squash: transposes the melody to `key` (0 = C major; the key is guessed from its
 * pitch classes) and by octaves to centre it in [min_note, max_note), folding outliers in by octaves.
 * Returns the transposition applied (add its negative to go back). */
CDZ_API int cdz_melody_squash(cdz_melody *m, int min_note, int max_note, int key);

/* A score of the melody: one track, the given tempo (<= 0: the melody's), velocity and program. */
CDZ_API cdz_status cdz_melody_to_score(const cdz_melody *m, double qpm, uint8_t velocity, uint8_t program, cdz_score *out,
                               cdz_error *err);

/* ---- performances (Performance RNN / Music Transformer) ---- */

typedef struct cdz_perf_note {
    int64_t start_step, end_step; /* end > start */
    uint8_t pitch, velocity;
    uint8_t instrument; /* multi-instrument performances: cdz_instrument_class; 0 otherwise */
} cdz_perf_note;

typedef struct cdz_performance {
    cdz_perf_note *notes; /* by start step, then start time before quantization, then pitch (Magenta's
                             order of note events at one step) */
    size_t n_notes;
    int32_t steps_per_second;
} cdz_performance;

/* Every non-drum note of the score, sustain pedal applied, quantized to steps_per_second (100 for
 * Performance RNN and Music Transformer). Notes of one pitch are paired first-in, first-out across all
 * instruments, so overlapping notes end in the order they began (what the event encoding can say).
 * A performance ends at CDZ_PERF_MAX_STEPS (later notes cut or left out, counted as truncated). */
enum { CDZ_PERF_MAX_STEPS = 10000000 }; /* 27.8 hours at 100 steps per second */
CDZ_API cdz_status cdz_extract_performance(const cdz_score *s, int32_t steps_per_second, cdz_performance *out,
                                   cdz_extract_stats *stats, cdz_error *err);
CDZ_API void cdz_performance_free(cdz_performance *p);

/* Multi-instrument performances (MuseNet-style): as cdz_extract_performance, but drums are kept and
 * every note carries its instrument class: the General MIDI family (program / 8: 0 piano, 4 bass,
 * 5 strings, ...) or CDZ_MT_DRUMS. Notes pair first-in, first-out per (instrument class, pitch). */
enum { CDZ_MT_DRUMS = 16, CDZ_MT_INSTRUMENTS = 17 };
CDZ_API uint8_t cdz_instrument_class(uint8_t program, int is_drum);
CDZ_API cdz_status cdz_extract_multitrack(const cdz_score *s, int32_t steps_per_second, cdz_performance *out,
                                  cdz_extract_stats *stats, cdz_error *err);
/* A one-track piano score of the performance at 120 qpm. */
CDZ_API cdz_status cdz_performance_to_score(const cdz_performance *p, cdz_score *out, cdz_error *err);

/* ---- drum tracks (Magenta drums_lib / drum_pipelines, as MusicVAE uses them) ---- */

/* The 9 drum classes (note_seq DEFAULT_DRUM_TYPE_PITCHES): kick, snare, closed hi-hat, open hi-hat,
 * low, mid and high tom, crash, ride. Returns the class of a drum pitch, or -1. */
enum { CDZ_DRUM_CLASSES = 9 };
CDZ_API int cdz_drum_class(uint8_t pitch);
/* The pitch written for a class when decoding (36, 38, 42, 46, 45, 48, 50, 49, 51). */
CDZ_API uint8_t cdz_drum_class_pitch(int cls);

typedef struct cdz_drum_track {
    uint16_t *steps; /* per 16th-note step: bit c set when class c is hit */
    size_t n_steps;
    int64_t start_step; /* where step 0 lies in its part of the score (parts split at time changes) */
} cdz_drum_track;

typedef struct cdz_drum_params {
    double gap_bars;   /* 1.0: a track ends after this much silence between hits */
    int32_t min_bars;  /* 1 */
    int32_t max_steps; /* 1600: longer tracks are cut */
    int pad_end;       /* 1: pad with silence to a whole bar */
} cdz_drum_params;
CDZ_API cdz_drum_params cdz_drum_default_params(void);

/* DrumTrack.from_quantized_sequence over parts split at tempo and time signature changes, quantized
 * at 4 steps per quarter, 16 steps a bar (other bars skipped): all drum notes of mapped pitches pooled;
 * a track starts on the bar of its first hit and ends before a gap of gap_bars. */
CDZ_API cdz_status cdz_extract_drum_tracks(const cdz_score *s, const cdz_drum_params *p, cdz_drum_track **out, size_t *n,
                                   cdz_extract_stats *stats, cdz_error *err);
CDZ_API void cdz_drum_tracks_free(cdz_drum_track *t, size_t n);

/* ---- chorales (JSB Chorales as the Music Transformer paper used them) ---- */

enum { CDZ_CHORALE_VOICES = 4, CDZ_CHORALE_REST = -1, CDZ_CHORALE_MIN_PITCH = 36, CDZ_CHORALE_MAX_PITCH = 81 };

typedef struct cdz_chorale {
    int8_t (*steps)[CDZ_CHORALE_VOICES]; /* per 16th-note step: soprano, alto, tenor, bass pitch or REST */
    size_t n_steps;
    char split[8]; /* from a corpus file: "train", "valid" or "test"; else "" */
} cdz_chorale;

/* A four-voice grid on 16th notes from a score with exactly four voices (non-drum notes grouped by
 * track and channel), ordered soprano to bass by mean pitch. A voice holds the highest pitch sounding
 * at each step; the grid runs to the score's end. Counts not_four_voices or out_of_range (pitches
 * outside 36-81) and returns CDZ_OK with out->n_steps == 0 when it cannot. */
CDZ_API cdz_status cdz_extract_chorale(const cdz_score *s, cdz_chorale *out, cdz_extract_stats *stats, cdz_error *err);
/* The pieces of a JSB JSON file such as Jsb16thSeparated.json ({"train": [piece, ...], "valid": ...,
 * "test": ...}, a piece a list of [s, a, t, b] steps, -1 for silence). Errors name the byte offset. */
CDZ_API cdz_status cdz_chorales_read_json(const char *path, cdz_chorale **out, size_t *n, cdz_error *err);
CDZ_API void cdz_chorale_free(cdz_chorale *c);
CDZ_API void cdz_chorales_free(cdz_chorale *c, size_t n);
/* Four tracks (Soprano, Alto, Tenor, Bass; channels 1-4, program 52), a step = a 16th note at 120 qpm;
 * equal pitches on consecutive steps of a voice become one held note. */
CDZ_API cdz_status cdz_chorale_to_score(const cdz_chorale *c, cdz_score *out, cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

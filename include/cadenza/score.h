/* cadenza score: the note sequence every later stage works on.
 *
 *   cdz_score s;
 *   cdz_error err;
 *   if (cdz_score_read_file(&s, "song.mid", &err) != CDZ_OK) { puts(err.msg); return 1; }
 *   for (size_t i = 0; i < s.n_notes; i++)
 *       printf("%d %.3f-%.3f\n", s.notes[i].pitch, s.notes[i].start_s, s.notes[i].end_s);
 *   cdz_score_quantize(&s, 4, &err);          // 16th notes, Magenta's rounding
 *   cdz_score_write_file(&s, "out.mid", 1, &err);
 *   cdz_score_free(&s);
 *
 * Owns: notes (pitch, velocity, start/end in ticks and in seconds through the full tempo map, program,
 * channel, track, is_drum), tempo changes, time and key signatures, control changes, pitch bends and
 * track names. Instruments stay apart by track, channel and program.
 *
 * From MIDI:
 * - Notes pair note-on and note-off per (track, channel, pitch) first-in, first-out: a note-off ends the
 *   earliest-started note of that key still sounding. Overlapping notes of one key therefore end in the
 *   order they began, which is also what the writer reproduces, so read -> write -> read is exact.
 *   A note-on with velocity 0 is a note-off. A note-off with nothing sounding is ignored (counted in
 *   n_orphan_note_offs), unless a note-on of its key follows at the same tick: then the two make a
 *   zero-length note (as @tonejs/midi reads it). A note never ended is ended at the last event of its
 *   track (n_unended_notes). Zero-length notes (on and off at one tick) are kept.
 * - Programs are tracked per (track, channel), starting at 0, as pretty_midi does; a note takes the
 *   program in force at its note-on. Channel 10 (index 9) is drums.
 * - Tempo, time and key signatures are taken from every track into one map (format 2 files too). Times
 *   in seconds follow the tempo map (120 qpm before the first tempo); SMPTE divisions ignore tempo.
 * - Notes are sorted by (start tick, track, channel, pitch, end tick, velocity, program); the other
 *   lists by tick (stable).
 *
 * Thread safety: functions on distinct cdz_score objects may run concurrently. */
#ifndef CADENZA_SCORE_H
#define CADENZA_SCORE_H

#include "cadenza/core.h"
#include "cadenza/midi.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CDZ_DRUM_CHANNEL 9

typedef struct cdz_note {
    int64_t start_tick, end_tick;
    double start_s, end_s;
    int64_t start_step, end_step; /* set by cdz_score_quantize*; -1 before */
    uint16_t track;
    uint8_t channel; /* 0-15 */
    uint8_t program; /* 0-127 */
    uint8_t pitch;   /* 0-127 */
    uint8_t velocity; /* 1-127 */
    uint8_t is_drum;
} cdz_note;

typedef struct cdz_tempo {
    int64_t tick;
    double time_s;
    uint32_t usec_per_quarter;
    double qpm; /* 60e6 / usec_per_quarter */
} cdz_tempo;

typedef struct cdz_time_signature {
    int64_t tick;
    double time_s;
    uint8_t numerator, denominator; /* denominator is a power of two */
} cdz_time_signature;

typedef struct cdz_key_signature {
    int64_t tick;
    double time_s;
    int8_t sharps; /* -7 (7 flats) to 7 (7 sharps) */
    uint8_t minor; /* 0 major, 1 minor */
} cdz_key_signature;

typedef struct cdz_control {
    int64_t tick;
    double time_s;
    uint16_t track;
    uint8_t channel, number, value;
} cdz_control;

typedef struct cdz_pitch_bend {
    int64_t tick;
    double time_s;
    uint16_t track;
    uint8_t channel;
    int16_t value; /* -8192 to 8191 */
} cdz_pitch_bend;

typedef struct cdz_track_info {
    char name[64]; /* the first track-name meta event, truncated; "" if none */
} cdz_track_info;

typedef enum cdz_quantization {
    CDZ_QUANTIZE_NONE = 0,
    CDZ_QUANTIZE_PER_QUARTER = 1, /* steps per quarter note (melodies, drums) */
    CDZ_QUANTIZE_PER_SECOND = 2,  /* steps per second (performances) */
} cdz_quantization;

typedef struct cdz_score {
    int32_t ppq;             /* ticks per quarter note; 0 for SMPTE timing */
    uint16_t smpte_division; /* the raw MIDI division for SMPTE timing, else 0 */
    double smpte_seconds_per_tick; /* > 0 for SMPTE timing: fixed time per tick, tempo ignored */
    cdz_note *notes;
    size_t n_notes, cap_notes;
    cdz_tempo *tempos; /* sorted by tick; 120 qpm holds before the first */
    size_t n_tempos, cap_tempos;
    cdz_time_signature *time_sigs;
    size_t n_time_sigs, cap_time_sigs;
    cdz_key_signature *key_sigs;
    size_t n_key_sigs, cap_key_sigs;
    cdz_control *controls;
    size_t n_controls, cap_controls;
    cdz_pitch_bend *bends;
    size_t n_bends, cap_bends;
    cdz_track_info *tracks; /* n_tracks entries */
    size_t n_tracks;
    int64_t end_tick;  /* the last tick of any event or note end */
    double duration_s; /* end_tick in seconds */
    cdz_quantization quantization;
    int32_t steps_per_quarter; /* when quantized per quarter */
    int32_t steps_per_second;  /* when quantized per second */
    uint32_t n_orphan_note_offs; /* note-offs with no sounding note */
    uint32_t n_unended_notes;    /* notes ended at the end of their track */
    /* meta events that carry no usable meaning, left out (cdz_score_warning says so): tempos of 0 or of
     * the wrong length, time signatures with a numerator of 0 or a denominator past 2^7, key
     * signatures outside -7..7 sharps */
    uint32_t n_bad_tempos, n_bad_time_sigs, n_bad_key_sigs;
} cdz_score;

/* An empty score with the given resolution (ticks per quarter note) and no tracks. */
CDZ_API cdz_status cdz_score_init(cdz_score *s, int32_t ppq, cdz_error *err);
CDZ_API void cdz_score_free(cdz_score *s);
CDZ_API cdz_status cdz_score_copy(cdz_score *dst, const cdz_score *src, cdz_error *err);

/* Adds a note (times in ticks; seconds are filled by cdz_score_finish). Grows n_tracks as needed. */
CDZ_API cdz_status cdz_score_add_note(cdz_score *s, uint16_t track, uint8_t channel, uint8_t program, uint8_t pitch,
                              uint8_t velocity, int64_t start_tick, int64_t end_tick);
CDZ_API cdz_status cdz_score_add_tempo(cdz_score *s, int64_t tick, double qpm);
CDZ_API cdz_status cdz_score_add_time_signature(cdz_score *s, int64_t tick, uint8_t numerator, uint8_t denominator);
CDZ_API cdz_status cdz_score_add_key_signature(cdz_score *s, int64_t tick, int8_t sharps, uint8_t minor);
CDZ_API cdz_status cdz_score_add_control(cdz_score *s, uint16_t track, uint8_t channel, int64_t tick, uint8_t number,
                                 uint8_t value);
CDZ_API cdz_status cdz_score_add_pitch_bend(cdz_score *s, uint16_t track, uint8_t channel, int64_t tick, int16_t value);
/* After adding or changing things by hand: sorts every list, fills seconds, end_tick and duration. */
CDZ_API cdz_status cdz_score_finish(cdz_score *s, cdz_error *err);

/* ---- MIDI conversion ---- */
CDZ_API cdz_status cdz_score_from_midi(cdz_score *s, const cdz_midi *m, cdz_error *err);
/* Format 1: track 0 carries tempo, time and key signatures (and the notes of score track 0), then one
 * MIDI track per score track. Format 0: everything in one track. Notes that share a tick are written
 * note-offs first, then zero-length notes as on/off pairs, then note-ons, so reading gives them back. */
CDZ_API cdz_status cdz_score_to_midi(cdz_midi *m, const cdz_score *s, uint16_t format, cdz_error *err);
CDZ_API cdz_status cdz_score_read_file(cdz_score *s, const char *path, cdz_error *err);
/* The i-th of what reading the file left out or repaired (note-offs with no note, notes never ended,
 * meaningless tempos and signatures), as one line of text in buf; returns its length, 0 past the last
 * (i = 0, 1, ... lists them all). */
CDZ_API size_t cdz_score_warning(const cdz_score *s, size_t i, char *buf, size_t n);
CDZ_API cdz_status cdz_score_write_file(const cdz_score *s, const char *path, uint16_t format, cdz_error *err);

/* ---- time ---- */
CDZ_API double cdz_score_tick_to_seconds(const cdz_score *s, int64_t tick);
CDZ_API int64_t cdz_score_seconds_to_tick(const cdz_score *s, double seconds); /* nearest tick */
/* The tick where bar `bar` (0-based) starts, following the time signatures (4/4 before the first). */
CDZ_API int64_t cdz_score_bar_to_tick(const cdz_score *s, int64_t bar);

/* ---- editing ---- */
/* Magenta's sustain handling (note_seq.apply_sustain_control_changes) per (track, channel): while CC 64
 * is >= 64, note-offs are held until the pedal lifts; a re-struck key ends its held note; notes still
 * held at the end ring to the last note or pedal event. Drums are left alone. */
CDZ_API cdz_status cdz_score_apply_sustain(cdz_score *s, cdz_error *err);
/* Fills start_step/end_step with Magenta's rounding (a step starts counting once half of it has passed:
 * floor(x + 0.5)); a note that would have no length gets one step. Per quarter works on ticks, so it also
 * holds across tempo changes; per second works on seconds. */
CDZ_API cdz_status cdz_score_quantize(cdz_score *s, int32_t steps_per_quarter, cdz_error *err);
CDZ_API cdz_status cdz_score_quantize_per_second(cdz_score *s, int32_t steps_per_second, cdz_error *err);
/* Time stretch: every duration multiplied by `factor` (> 1 slower), by scaling the tempo map (or the
 * SMPTE time per tick). Ticks do not change, so notes stay on their beats. */
CDZ_API cdz_status cdz_score_stretch(cdz_score *s, double factor, cdz_error *err);
/* Expresses the score at one tempo, qpm, keeping every time in seconds: ticks are recomputed from the
 * seconds (nearest tick; a note keeps at least one tick), the tempo map becomes that one tempo. For a
 * score whose seconds are what matters (a performance) written at a given tempo. */
CDZ_API cdz_status cdz_score_retime(cdz_score *s, double qpm, cdz_error *err);
/* Replaces the time signatures with one at tick 0. */
CDZ_API cdz_status cdz_score_set_meter(cdz_score *s, uint8_t numerator, uint8_t denominator, cdz_error *err);
/* Moves every non-drum note by `semitones`; fails with CDZ_ERR_RANGE, changing nothing, if a note
 * would leave [0, 127]. */
CDZ_API cdz_status cdz_score_transpose(cdz_score *s, int semitones, cdz_error *err);
/* Drops the non-drum notes whose program is outside [lo, hi]. */
CDZ_API void cdz_score_keep_programs(cdz_score *s, int lo, int hi);
/* Drops the notes of tracks whose name is not in the comma-separated list (case ignored): "PIANO". */
CDZ_API void cdz_score_keep_tracks(cdz_score *s, const char *names);
/* Keeps only the first tempo (moved to tick 0) and recomputes the seconds. Ticks do not change, so
 * quantization per quarter gives the same steps; it keeps melody extraction, which splits where the
 * tempo changes, from cutting a piece whose tempo map follows a performance beat by beat. */
CDZ_API cdz_status cdz_score_single_tempo(cdz_score *s, cdz_error *err);
/* A new score with what lies in [start, end) moved to start at 0: notes that start inside (ends cut at
 * `end`, as Magenta's extract_subsequence does), the tempo, time and key signature in force at `start`
 * and those inside, controls and bends inside. The slice ends at `end` or at the score's end if sooner. */
CDZ_API cdz_status cdz_score_slice_ticks(cdz_score *out, const cdz_score *s, int64_t start, int64_t end, cdz_error *err);
CDZ_API cdz_status cdz_score_slice_seconds(cdz_score *out, const cdz_score *s, double start, double end, cdz_error *err);
CDZ_API cdz_status cdz_score_slice_bars(cdz_score *out, const cdz_score *s, int64_t first_bar, int64_t end_bar,
                                cdz_error *err);

/* Moves every event by delta ticks (seconds follow); what would fall before tick 0 goes to 0, and the
 * tempos and key signatures in force at the new tick 0 are put there (moving later, a file's first tempo
 * stays at 0 and holds over the room made before its events). */
CDZ_API cdz_status cdz_score_shift_ticks(cdz_score *s, int64_t delta, cdz_error *err);

/* ---- beat annotations (src/score/bars.c) ---- */
/* Beats as an annotation gives them: each beat's time in seconds and whether a bar starts on it. */
typedef struct cdz_beats {
    double *seconds;
    uint8_t *downbeat;
    size_t n;
} cdz_beats;
/* Reads one beat a line, "SECONDS ... FLAG": the first number is the beat's time, the last is 1 when a
 * bar starts on it (POP909's beat_midi.txt: "time beat_flag downbeat_flag", the last marking its 4-beat
 * bars). Blank lines and '#' lines are skipped; errors name the line. */
CDZ_API cdz_status cdz_beats_read(cdz_beats *b, const char *path, cdz_error *err);
CDZ_API void cdz_beats_free(cdz_beats *b);
/* Bar lines from annotated downbeats: every event moves (cdz_score_shift_ticks) so that the bar of the
 * first non-drum note starts at tick 0 (bars before the first downbeat as long as the first annotated
 * bar), and the time signatures become n/4 bars (n: the bar's length in quarter notes, rounded, at most
 * 16) wherever a bar's length changes or a downbeat falls off the bar lines before it, so the bars are the
 * annotation's. CDZ_ERR_ARG with fewer than two downbeats, or downbeats not in order. */
CDZ_API cdz_status cdz_score_set_bars(cdz_score *s, const cdz_beats *b, cdz_error *err);

/* ---- summaries ---- */
typedef struct cdz_instrument {
    uint16_t track;
    uint8_t channel, program, is_drum;
    size_t n_notes;
} cdz_instrument;
/* Distinct (track, channel, program) groups with their note counts, in order of first appearance in
 * the sorted note list. Free *out with cdz_free. */
CDZ_API cdz_status cdz_score_instruments(const cdz_score *s, cdz_instrument **out, size_t *n, cdz_error *err);
/* General MIDI program name ("Acoustic Grand Piano"), or "Drums" for is_drum. */
CDZ_API const char *cdz_gm_program_name(uint8_t program, int is_drum);

#ifdef __cplusplus
}
#endif
#endif

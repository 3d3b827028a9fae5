/* cadenza listen: what a listener hears first, measured on a score: whether material comes back
 * (repetition), whether there is a beat (pulse), whether notes end (note endings), and, for music of
 * a melody and an accompaniment, whether the accompaniment fits the harmony and plays where the
 * original plays. `cadenza eval music` prints these beside the features of cadenza/metrics.h, which
 * measure none of them.
 *
 *   cdz_listen_params p = cdz_listen_default_params();      // melody "MELODY", accompaniment "PIANO,Accompaniment"
 *   cdz_listen_features f, rnd;
 *   cdz_error err = {0};
 *   if (cdz_listen_compute(&score, &p, &f, &err) != CDZ_OK) { puts(err.msg); ... }
 *   printf("%.0f%% of bars repeat an earlier bar; %.0f%% of onsets on the best 8th-note grid\n",
 *          100 * f.bar_repeat, 100 * f.grid_fit);
 *   if (f.two_part) printf("%.0f%% of accompaniment notes are chord tones\n", 100 * f.chord_fit);
 *   cdz_listen_compare(&generated, &original, &p, &f, &err);  // fills the paired measures (f.paired = 1)
 *   cdz_listen_baseline(&original, &p, 42, 1, &rnd, &err);    // the same measures on random notes
 *   cdz_listen_summary sum;
 *   cdz_listen_summarize(records, n, &sum);                   // mean and sd of each measure over a set
 *   for (int m = 0; m < CDZ_LISTEN_N_MEASURES; m++)
 *       printf("%s %.3f\n", cdz_listen_describe(m)->name, sum.stat[m].mean);
 *
 * Owns: cdz_listen_features and cdz_listen_summary are plain records (no heap memory). A matrix from
 * cdz_listen_self_similarity and a score from cdz_listen_randomize belong to the caller (cdz_free,
 * cdz_score_free). Nothing global.
 * Thread safety: every function is thread-safe (no shared state).
 *
 * ---- repetition ----
 * Bars follow the score's time signatures as cdz_score_bar_to_tick counts them (4/4 before the first;
 * a signature inside a bar starts a new bar), except that a signature whose bar is shorter than
 * `min_bar_sixteenths` 16th notes (default 6: 1/4, 2/8, 1/8) is read as 4/4: POP909 writes 1/4 in 694
 * of its 909 files as a placeholder. A bar's content is the set of (16th-note step, pitch) of the notes
 * that start in it, every track together (drum pitches apart from pitched ones; a pitch struck twice at
 * one step counts once); onsets are rounded to the nearest 16th of the bar (a 3/4 or 6/8 bar has 12
 * steps, 4/4 16), and one that rounds to the bar's end belongs to the next bar's first step. Held notes
 * are not part of the content: two bars are equal when the same pitches start at the same steps. The
 * bars considered run from the bar of the first onset to the bar of the last. Scores without a ppq
 * (SMPTE timing) have no bars: bars and the repetition measures are 0.
 *   bars             the bars considered
 *   bar_repeat       share of the bars with at least one onset whose content equals that of an
 *                    earlier bar (exactly: same steps, same pitches)
 *   two_bar_repeat   share of the windows of two consecutive bars (stepping by one bar) with at least
 *                    one onset that equal an earlier such window
 *   longest_repeat   the most consecutive bars, holding at least one onset, equal to the same number
 *                    of consecutive bars starting earlier (the two may overlap: 4 equal bars in a row
 *                    give 3)
 * With count_empty_bars, bars and windows without onsets count too (they repeat each other). A score
 * whose notes reach past bar 32768 is refused (CDZ_ERR_RANGE).
 *
 * ---- pulse ---- (in seconds, so the file's tempo map is not trusted)
 * Onsets: the distinct note starts of every note (drums too), an onset within onset_merge_s of the
 * previous one kept being merged into it (a chord played unevenly is one onset).
 *   onsets           that many onsets
 *   grid_fit         share of onsets closer than grid_tolerance x step to a line of the best grid: the
 *                    onsets from the first to the last are cut into windows of grid_window_s to twice
 *                    that (equal lengths); in each window the step (a beat of qpm_min to qpm_max split
 *                    in two: an 8th-note grid) and phase that hold the most onsets are searched (step
 *                    frequencies 1/8 cycle over the window apart, scanned with phases in 1/128-cycle
 *                    bins; at the frequency chosen, every phase exactly), so tempo drift between
 *                    windows costs nothing. Random onsets score about 0.5 (the tolerance covers half of
 *                    every step) plus what the search finds by chance: more in short or sparse pieces
 *                    (0.64 for POP909's, 0.70 for Nottingham's shapes; see docs/metrics.md). An onset
 *                    exactly half a step off does not fit (else 8th notes would fit a grid of quarters
 *                    placed between them).
 *   grid_qpm         the median over windows of the best grid's tempo (qpm of the beat of two steps;
 *                    where several steps tie, the middle of the slowest run of them)
 *   onset_autocorr   the highest autocorrelation of the onset signal at a beat lag (60/qpm_max to
 *                    60/qpm_min seconds): onsets as Gaussian bumps (sd 20 ms) on a 10 ms grid, the mean
 *                    taken off, r(l) = [sum_t x_t x_(t+l) / (N - l)] / [sum_t x_t^2 / N]: 1 for onsets
 *                    repeating at that lag, about 0 for random ones
 *   autocorr_qpm     60 / the shortest lag at a local maximum of r within 0.05 of onset_autocorr (a
 *                    pulse peaks about as high at twice and three times its period)
 *   ioi_entropy      Shannon entropy (bits) of the intervals between consecutive onsets, in bins of
 *                    ioi_bin_s centred on multiples of it (0.125 s is a bin's centre), intervals of
 *                    ioi_max_s or more in one bin
 * With fewer than 2 onsets every pulse measure but `onsets` is 0.
 *
 * ---- note endings ---- (pitched notes: drums have no meaningful ends)
 *   polyphony_mean   mean number of notes sounding over the time (seconds) when at least one does
 *   polyphony_p95    the smallest k such that k or fewer notes sound for 95% of that time
 *   polyphony_max    the most notes sounding at once
 *   long_notes       share of notes longer than long_note_s seconds
 *   open_at_end      share of notes that end within one tick of the end of the file (the score's
 *                    end_tick, its last event) and last longer than long_note_s: notes left sounding
 *                    until the file stops. (The score does not keep which notes the MIDI reader had to
 *                    end; a final chord shorter than long_note_s is not counted.)
 *   unended          share of all notes the MIDI reader found never ended (score n_unended_notes /
 *                    n_notes; 0 for scores not read from MIDI)
 *
 * ---- two-part music ---- (two_part = 1 when the melody tracks and the accompaniment tracks both hold
 * pitched notes; else every measure here is 0 but the two note counts, which say which part is missing)
 * Tracks are named by melody_tracks and accompaniment_tracks: comma-separated track names (case
 * ignored) or track numbers (0-based, as `cadenza midi info` counts them). POP909 names its tracks
 * MELODY and PIANO; `cadenza accompany` keeps the melody's tracks and adds "Accompaniment".
 * Chords: for each segment (a bar of the score, as above, for chords from the melody; a beat, a
 * quarter note of the reference's tick grid, for chords from a reference accompaniment), the
 * duration-weighted pitch-class histogram h of the source notes sounding in it (seconds of overlap) is
 * matched against the 48 templates of major, minor, dominant-7th and diminished chords on 12 roots by
 * cosine similarity, h.t / (|h| |t|); ties go to the first in the order major, minor, 7th, diminished,
 * roots C to B. A segment where no source note sounds has no chord; a score without bars (SMPTE timing,
 * or notes ending past bar 32768) has no chords from its melody, a reference without a ppq none from
 * its accompaniment: the chord measures are then 0 and the lag curve NaN.
 *   melody_notes, accompaniment_notes   pitched notes of each part
 *   chord_fit        share of accompaniment notes, among those whose onset falls in a segment with a
 *                    chord, whose pitch class is a tone of that chord (chords from the melody, bar by bar)
 *   chord_fit_time   the same weighted by time: seconds of accompaniment notes inside chord segments
 *                    that are chord tones there, over all their seconds inside chord segments
 *   chord_lag[k]     chord_fit with the accompaniment moved by CDZ_LISTEN_LAG_S(k) seconds (-4 to +4 in
 *                    steps of 0.5; k = CDZ_LISTEN_ZERO_LAG is chord_fit): NaN where no moved note lands
 *                    on a chord. A real accompaniment peaks at 0.
 *   lag_contrast     chord_lag at 0 minus the mean of chord_lag at the other lags
 *   lag_peak_s       the lag of the highest chord_lag (ties: the lag where more moved notes land on a
 *                    chord, then the smallest shift, the earlier first)
 *   clash            share of accompaniment notes that sound with a melody note a minor second or a
 *                    major seventh away (interval 1 or 11 mod 12, so compound intervals too), among the
 *                    accompaniment notes that sound with any melody note; "sound with" means overlapping
 *                    by more than clash_overlap_s seconds
 *
 * ---- paired (cdz_listen_compare: a generated file against the original piece) ---- (paired = 1)
 * The generated file's accompaniment against the original's accompaniment (the reference), by time
 * in seconds: chords from the reference accompaniment, beat by beat.
 *   ref_chord_fit, ref_chord_fit_time, ref_chord_lag[k], ref_lag_contrast, ref_lag_peak_s
 *                    as chord_fit ... lag_peak_s, against the reference's chords
 *   silence          share of the time the reference accompaniment sounds (union of its notes) during
 *                    which the generated accompaniment is silent
 *
 * ---- random baseline (cdz_listen_randomize, cdz_listen_baseline) ----
 * CDZ_LISTEN_RANDOM_NOTES: every note keeps its track, channel, velocity and length in seconds and gets
 * an onset uniform in [0, duration - length] of the piece and, if pitched, a pitch uniform in the
 * piece's pitched range (drums keep theirs). CDZ_LISTEN_RANDOM_ACCOMPANIMENT: the melody and other
 * tracks stay; each accompaniment note gets a random onset as above and a pitch uniform among the
 * accompaniment's range's pitches in the piece's key (the major or natural-minor scale holding most of
 * its pitched notes). cdz_listen_baseline takes the repetition, pulse and ending measures from random
 * notes and the two-part (and, asked, paired: against the piece itself) measures from a random
 * accompaniment. */
#ifndef CADENZA_LISTEN_H
#define CADENZA_LISTEN_H

#include "cadenza/core.h"
#include "cadenza/score.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { CDZ_LISTEN_N_LAGS = 17, CDZ_LISTEN_ZERO_LAG = 8 };
#define CDZ_LISTEN_LAG_S(k) (0.5 * ((double)(k) - CDZ_LISTEN_ZERO_LAG))

typedef struct cdz_listen_params {
    int count_empty_bars;       /* 0: bars and 2-bar windows without onsets are left out (default) */
    int min_bar_sixteenths;     /* shorter bars are read as 4/4 (default 6; 0 keeps every signature) */
    double onset_merge_s;       /* default 0.025 */
    double qpm_min, qpm_max;    /* beat tempos searched (default 40 and 200) */
    double grid_tolerance;      /* share of a grid step (default 0.25) */
    double grid_window_s;       /* default 30 */
    double ioi_bin_s, ioi_max_s; /* default 0.025 and 4 */
    double long_note_s;         /* default 4 */
    const char *melody_tracks;         /* default "MELODY" */
    const char *accompaniment_tracks;  /* default "PIANO,Accompaniment" */
    double clash_overlap_s;     /* default 0.05 */
} cdz_listen_params;
CDZ_API cdz_listen_params cdz_listen_default_params(void);

/* One file's measures, in the order of the table of cdz_listen_describe (the two flags, two_part and
 * paired, and the lag curves are not in the table). */
typedef struct cdz_listen_features {
    /* repetition */
    double bars, bar_repeat, two_bar_repeat, longest_repeat;
    /* pulse */
    double onsets, grid_fit, grid_qpm, onset_autocorr, autocorr_qpm, ioi_entropy;
    /* note endings */
    double polyphony_mean, polyphony_p95, polyphony_max, long_notes, open_at_end, unended;
    /* two-part */
    double melody_notes, accompaniment_notes, chord_fit, chord_fit_time, lag_contrast, lag_peak_s, clash;
    /* paired */
    double ref_chord_fit, ref_chord_fit_time, ref_lag_contrast, ref_lag_peak_s, silence;
    /* flags and curves */
    double two_part, paired;
    double chord_lag[CDZ_LISTEN_N_LAGS];
    double ref_chord_lag[CDZ_LISTEN_N_LAGS];
} cdz_listen_features;

/* Which files a measure is defined for. */
typedef enum cdz_listen_scope {
    CDZ_LISTEN_ALL = 0,      /* every file */
    CDZ_LISTEN_TWO_PART = 1, /* files with two_part */
    CDZ_LISTEN_PAIRED = 2,   /* records with paired */
} cdz_listen_scope;

typedef enum cdz_listen_measure {
    CDZ_LISTEN_BARS = 0,
    CDZ_LISTEN_BAR_REPEAT,
    CDZ_LISTEN_TWO_BAR_REPEAT,
    CDZ_LISTEN_LONGEST_REPEAT,
    CDZ_LISTEN_ONSETS,
    CDZ_LISTEN_GRID_FIT,
    CDZ_LISTEN_GRID_QPM,
    CDZ_LISTEN_ONSET_AUTOCORR,
    CDZ_LISTEN_AUTOCORR_QPM,
    CDZ_LISTEN_IOI_ENTROPY,
    CDZ_LISTEN_POLYPHONY_MEAN,
    CDZ_LISTEN_POLYPHONY_P95,
    CDZ_LISTEN_POLYPHONY_MAX,
    CDZ_LISTEN_LONG_NOTES,
    CDZ_LISTEN_OPEN_AT_END,
    CDZ_LISTEN_UNENDED,
    CDZ_LISTEN_MELODY_NOTES,
    CDZ_LISTEN_ACCOMPANIMENT_NOTES,
    CDZ_LISTEN_CHORD_FIT,
    CDZ_LISTEN_CHORD_FIT_TIME,
    CDZ_LISTEN_LAG_CONTRAST,
    CDZ_LISTEN_LAG_PEAK_S,
    CDZ_LISTEN_CLASH,
    CDZ_LISTEN_REF_CHORD_FIT,
    CDZ_LISTEN_REF_CHORD_FIT_TIME,
    CDZ_LISTEN_REF_LAG_CONTRAST,
    CDZ_LISTEN_REF_LAG_PEAK_S,
    CDZ_LISTEN_SILENCE,
    CDZ_LISTEN_N_MEASURES
} cdz_listen_measure;

typedef struct cdz_listen_measure_info {
    const char *name;  /* the field's name, used as the JSON key */
    const char *group; /* "repetition", "pulse", "note endings", "two-part", "paired" */
    const char *unit;  /* "share", "bars", "qpm", "bits", "notes", "s", ... */
    const char *about; /* a few words for a table */
    cdz_listen_scope scope;
    size_t offset;     /* of the field in cdz_listen_features */
} cdz_listen_measure_info;

/* The measure's description; NULL when out of range. */
CDZ_API const cdz_listen_measure_info *cdz_listen_describe(int measure);
/* The measure's value in a record; NAN when out of range. */
CDZ_API double cdz_listen_value(const cdz_listen_features *f, int measure);

/* Fills *out (the paired measures 0, paired 0) from a score (not changed). params NULL for the
 * defaults. CDZ_ERR_ARG for bad parameters, CDZ_ERR_NOMEM. */
CDZ_API cdz_status cdz_listen_compute(const cdz_score *s, const cdz_listen_params *p, cdz_listen_features *out,
                                      cdz_error *err);
/* The paired measures of a generated score against the original (reference) score, into the paired
 * fields of *out (the others are not touched); paired = 1 when both have accompaniment notes, else 0 and
 * the paired fields 0. */
CDZ_API cdz_status cdz_listen_compare(const cdz_score *generated, const cdz_score *reference, const cdz_listen_params *p,
                                      cdz_listen_features *out, cdz_error *err);

/* ---- random baseline ---- */
typedef enum cdz_listen_random {
    CDZ_LISTEN_RANDOM_NOTES = 0,
    CDZ_LISTEN_RANDOM_ACCOMPANIMENT = 1,
} cdz_listen_random;
/* A new score: `like` with its notes made random as described above, from seed. */
CDZ_API cdz_status cdz_listen_randomize(cdz_score *out, const cdz_score *like, cdz_listen_random mode,
                                        const cdz_listen_params *p, uint64_t seed, cdz_error *err);
/* The measures of random music shaped like `like` (see above): seed for the notes, seed + 1 for the
 * accompaniment. with_pair: also the paired measures of the random accompaniment against `like`. */
CDZ_API cdz_status cdz_listen_baseline(const cdz_score *like, const cdz_listen_params *p, uint64_t seed, int with_pair,
                                       cdz_listen_features *out, cdz_error *err);

/* ---- a set of files ---- */
typedef struct cdz_listen_stat {
    double mean, sd; /* sd: sample standard deviation (0 for fewer than 2 files) */
    size_t n;        /* files the measure is defined for (its scope) */
} cdz_listen_stat;

typedef struct cdz_listen_summary {
    size_t files, two_part_files, paired_files;
    cdz_listen_stat stat[CDZ_LISTEN_N_MEASURES];
    double chord_lag[CDZ_LISTEN_N_LAGS];     /* mean over two-part files of the defined values; NaN if none */
    double ref_chord_lag[CDZ_LISTEN_N_LAGS]; /* over paired records */
} cdz_listen_summary;
CDZ_API void cdz_listen_summarize(const cdz_listen_features *f, size_t n, cdz_listen_summary *out);

/* ---- self-similarity of bars ---- */
/* The bars' self-similarity (the bars of the repetition measures, at most max_bars of them from the
 * first): *matrix (n x n, row-major, cdz_free it) holds the Jaccard similarity of the bars' contents
 * (|A and B| / |A or B|; 1 exactly when the bars are equal), 0 against a bar without onsets (1 between
 * two empty ones with count_empty_bars). *first_bar: the score's bar number of row 0. No bars: *matrix
 * NULL, *n 0. */
CDZ_API cdz_status cdz_listen_self_similarity(const cdz_score *s, const cdz_listen_params *p, size_t max_bars,
                                              double **matrix, size_t *n, int64_t *first_bar, cdz_error *err);
/* A picture of such a matrix: bars across and down from first_bar (numbered from 1), darker for more
 * similar, equal bars off the diagonal in red, the diagonal grey; title may be NULL. SVG when the path
 * ends in ".svg", else PNG (CDZ_ERR_UNSUPPORTED without libpng). Written atomically. */
CDZ_API cdz_status cdz_listen_plot_self_similarity(const char *path, const double *matrix, size_t n, int64_t first_bar,
                                                   const char *title, cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

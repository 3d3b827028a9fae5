/* cadenza metrics: objective music features of a score, and the comparison of a generated set of files
 * with a reference set by the distributions of their distances (Yang & Lerch 2019, "On the evaluation
 * of generative models in music", Neural Computing and Applications; feature definitions after the
 * paper's mgeval and MusPy's muspy.metrics).
 *
 *   cdz_music_features *gen = cdz_calloc(n_gen, sizeof *gen), *ref = cdz_calloc(n_ref, sizeof *ref);
 *   cdz_error err = {0};
 *   for (size_t i = 0; i < n_gen; i++)
 *       if (cdz_metrics_read_file(gen_paths[i], &gen[i], NULL, &err) != CDZ_OK) { puts(err.msg); ... }
 *   ... the same for ref ...
 *   cdz_metrics_comparison c;
 *   if (cdz_metrics_compare(gen, n_gen, ref, n_ref, NULL, &c, &err) != CDZ_OK) { puts(err.msg); ... }
 *   for (int f = 0; f < CDZ_METRICS_N_FEATURES; f++)
 *       printf("%-28s KL %.3f  OA %.3f\n", cdz_metrics_describe(f)->name, c.rows[f].kl, c.rows[f].oa);
 *   // c.curves[f]: the grid and the densities, for a plot of the distance distributions
 *   cdz_metrics_comparison_free(&c);
 *
 * Owns: cdz_music_features is a plain record (no heap memory). A cdz_metrics_comparison owns the arrays
 * of its curves; cdz_metrics_comparison_free releases them. Nothing global.
 * Thread safety: every function is thread-safe (no shared state); a comparison may be read from several
 * threads once made.
 *
 * ---- per-file features (cdz_metrics_compute) ----
 * "Pitched notes" are the notes with is_drum == 0; drums are left out of every pitch feature and of the
 * note lengths (a drum hit's length means nothing), and counted in note count, inter-onset interval,
 * empty beats and groove. A beat is a quarter note (ticks / ppq; for SMPTE timing, 0.5 s as at 120 qpm).
 * Pitched notes are taken in order of (onset tick, pitch) wherever an order matters (intervals,
 * transitions), so notes of a chord follow from low to high, as mgeval's sorted note list does.
 * A feature that is undefined for the file (no pitched notes, no two onsets) is 0.
 *
 *   pitch_count (PC)           distinct MIDI pitches among the pitched notes
 *   pitch_classes_used         distinct pitch classes (0-12)
 *   pitch_class_histogram (PCH)  12 shares of pitched notes per pitch class (C = 0), summing to 1
 *   pitch_class_transitions (PCTM)  12x12 shares of consecutive pitched-note pairs (row = first note's
 *                              class, column = the next one's), summing to 1 over the matrix
 *   pitch_range (PR)           highest minus lowest pitch, semitones
 *   pitch_interval (PI)        mean absolute interval between consecutive pitched notes, semitones
 *   note_count (NC)            number of notes, drums included
 *   inter_onset_interval (IOI) mean time between consecutive distinct onsets, seconds (all notes);
 *                              equals (last onset - first onset) / (distinct onsets - 1)
 *   note_length_histogram (NLH)  12 shares of pitched notes per length class. A note's length in beats
 *                              (quarter notes) goes to the nearest of, in this order (mgeval's 12
 *                              classes): whole 4, half 2, quarter 1, 8th 1/2, 16th 1/4, dotted half 3,
 *                              dotted quarter 3/2, dotted 8th 3/4, dotted 16th 3/8, half-note triplet
 *                              4/3, quarter triplet 2/3, 8th triplet 1/3 (ties to the earlier class;
 *                              longer than a whole note is a whole note)
 *   note_length_transitions (NLTM)  12x12 shares of consecutive pitched-note pairs by length class
 *   polyphony                  mean number of pitched notes sounding over the time when at least one
 *                              sounds (MusPy's polyphony, measured exactly on ticks rather than steps)
 *   polyphony_rate             share of the time from 0 to the last pitched note's end during which
 *                              two or more pitched notes sound (MusPy's polyphony_rate, threshold 2)
 *   pitch_class_entropy        Shannon entropy of the pitch-class histogram, bits (0 to log2 12)
 *   scale_consistency          the largest share of pitched notes inside one major or natural-minor
 *                              scale, over the 24 scales (MusPy); a minor scale holds the same classes
 *                              as its relative major, so this is the best of the 12 diatonic sets
 *   empty_beat_rate            share of the beats [k, k+1) from beat 0 to the end of the last note
 *                              (rounded up to a whole beat) in which no note, drums included, sounds; a
 *                              note sounds in [start, end), a zero-length note in the beat of its onset
 *   groove_consistency         1 - mean over consecutive bars of the Hamming distance between their
 *                              onset patterns divided by the longer bar's positions (MusPy). Onsets of
 *                              all notes are rounded to 12 positions per beat (16ths and triplets);
 *                              bars follow the time signatures (4/4 before the first; a signature that
 *                              falls inside a bar starts a new bar, as cdz_score_bar_to_tick does),
 *                              from the bar of the first onset to that of the last; 1 with one bar
 *
 * ---- set comparison (cdz_metrics_compare), Yang & Lerch section 3 ----
 * For each feature, every file is a point (a vector of `dim` numbers) and distances are Euclidean:
 * intra-set distances are those between the n(n-1)/2 pairs of files of one set, inter-set distances
 * those between each generated and each reference file. Each of the three collections of distances
 * gets a Gaussian kernel density estimate with Silverman's bandwidth, 0.9 min(sd, IQR/1.34) n^(-1/5)
 * (sd alone when the IQR is 0), raised to a floor of `bandwidth_floor` times the range spanned by all
 * three collections (so a set whose distances are all equal still gets a density the grid resolves;
 * when every distance is the same value v, the bandwidth is 1e-3 (1 + |v|)). The densities are
 * evaluated on one grid of `grid_points` evenly spaced distances from min - 5h to max + 5h (h the
 * largest bandwidth), by linear binning and a discrete Gaussian kernel normalised on the grid, so each
 * integrates to 1 by the Riemann sum on the grid up to the kernel's tails outside it (< 1e-6).
 *   KL = sum_i P_i ln((P_i + 1e-10) / (Q_i + 1e-10)), nats, with P the generated set's intra-set
 *        density and Q the inter-set density as probabilities per grid cell (density * dx): how far the
 *        generated files' spread among themselves is from their distance to the reference (the floor
 *        keeps it finite where Q vanishes; it then stays below ~23).
 *   OA = sum_i min(P_i, Q_i): the overlapping area of the two densities, 0 (disjoint) to 1 (identical).
 * The same two numbers for the reference set's intra-set density against the inter-set density are
 * given too (kl_ref, oa_ref), as the paper reports them for both sets. */
#ifndef CADENZA_METRICS_H
#define CADENZA_METRICS_H

#include "cadenza/core.h"
#include "cadenza/score.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One file's features; see the table above. Every field is a double, so a feature can be read as a
 * vector through cdz_metrics_values. */
typedef struct cdz_music_features {
    double pitch_count;
    double pitch_classes_used;
    double pitch_class_histogram[12];
    double pitch_class_transitions[12][12]; /* [from][to] */
    double pitch_range;
    double pitch_interval;
    double note_count;
    double inter_onset_interval;
    double note_length_histogram[12];
    double note_length_transitions[12][12]; /* [from][to] */
    double polyphony;
    double polyphony_rate;
    double pitch_class_entropy;
    double scale_consistency;
    double empty_beat_rate;
    double groove_consistency;
} cdz_music_features;

/* The features, in the order of the comparison's rows. */
typedef enum cdz_metrics_feature {
    CDZ_METRICS_PITCH_COUNT = 0,
    CDZ_METRICS_PITCH_CLASSES_USED,
    CDZ_METRICS_PITCH_CLASS_HISTOGRAM,
    CDZ_METRICS_PITCH_CLASS_TRANSITIONS,
    CDZ_METRICS_PITCH_RANGE,
    CDZ_METRICS_PITCH_INTERVAL,
    CDZ_METRICS_NOTE_COUNT,
    CDZ_METRICS_INTER_ONSET_INTERVAL,
    CDZ_METRICS_NOTE_LENGTH_HISTOGRAM,
    CDZ_METRICS_NOTE_LENGTH_TRANSITIONS,
    CDZ_METRICS_POLYPHONY,
    CDZ_METRICS_POLYPHONY_RATE,
    CDZ_METRICS_PITCH_CLASS_ENTROPY,
    CDZ_METRICS_SCALE_CONSISTENCY,
    CDZ_METRICS_EMPTY_BEAT_RATE,
    CDZ_METRICS_GROOVE_CONSISTENCY,
    CDZ_METRICS_N_FEATURES
} cdz_metrics_feature;

/* The 12 note-length classes of note_length_histogram, in beats (quarter notes), in their order. */
extern const double cdz_metrics_length_classes[12];

typedef struct cdz_metrics_feature_info {
    const char *name;   /* "pitch_class_histogram": the field's name, used as the JSON key */
    const char *abbrev; /* Yang & Lerch's abbreviation ("PCH"), or "" for the MusPy features */
    const char *unit;   /* "semitones", "notes", "s", "bits", "share", ... */
    size_t dim;         /* 1, 12 or 144 numbers */
    size_t offset;      /* of the feature's first number in cdz_music_features */
} cdz_metrics_feature_info;

/* Name, size and place of a feature; NULL when `feature` is out of range. */
CDZ_API const cdz_metrics_feature_info *cdz_metrics_describe(int feature);
/* The feature's `dim` numbers inside a record; NULL when `feature` is out of range. */
CDZ_API const double *cdz_metrics_values(const cdz_music_features *f, int feature);

/* Fills *out from a score (not changed; quantization is not needed or used). An empty score gives
 * zeros (groove_consistency 1). CDZ_ERR_NOMEM if the working copy of the notes cannot be made. */
CDZ_API cdz_status cdz_metrics_compute(const cdz_score *s, cdz_music_features *out, cdz_error *err);
/* scale_consistency of pitch-class weights pc[12] (counts or durations): the largest share inside one
 * major or natural-minor scale; 0 when they sum to 0. */
CDZ_API double cdz_metrics_scale_consistency(const double pc[12]);
/* Reads a MIDI file and computes its features; errors name the file. *n_notes (may be NULL) receives
 * the number of notes read, so a caller can leave out files that have none. */
CDZ_API cdz_status cdz_metrics_read_file(const char *path, cdz_music_features *out, size_t *n_notes, cdz_error *err);

/* ---- comparing sets ---- */
typedef struct cdz_metrics_params {
    size_t grid_points;     /* points of the density grid (default 1024, at least 16) */
    double bandwidth_floor; /* share of the range of all distances (default 0.01, in (0, 1)) */
} cdz_metrics_params;
CDZ_API cdz_metrics_params cdz_metrics_default_params(void);

enum { CDZ_METRICS_GENERATED = 0, CDZ_METRICS_REFERENCE = 1 };

/* One feature's comparison. Distances are in the feature's unit (Euclidean over its numbers). */
typedef struct cdz_metrics_row {
    double intra_mean[2], intra_std[2]; /* [CDZ_METRICS_GENERATED], [CDZ_METRICS_REFERENCE] */
    double inter_mean, inter_std;
    double kl, oa;         /* the generated set's intra-set density against the inter-set density */
    double kl_ref, oa_ref; /* the reference set's intra-set density against the inter-set density */
} cdz_metrics_row;

/* One feature's densities on a common grid: what a plot of the distance distributions draws. */
typedef struct cdz_metrics_curve {
    size_t n;     /* grid points */
    double *x;    /* (n) distances, evenly spaced, increasing */
    double *intra[2]; /* (n) intra-set densities: [CDZ_METRICS_GENERATED], [CDZ_METRICS_REFERENCE] */
    double *inter;    /* (n) inter-set density */
    double bandwidth_intra[2], bandwidth_inter;
} cdz_metrics_curve;

typedef struct cdz_metrics_comparison {
    size_t n_files[2];                    /* generated, reference */
    cdz_music_features mean[2], std[2];   /* per number: mean and sample standard deviation of each set */
    cdz_metrics_row rows[CDZ_METRICS_N_FEATURES];
    cdz_metrics_curve curves[CDZ_METRICS_N_FEATURES];
    double mean_kl, mean_oa; /* over the features, of kl and oa */
} cdz_metrics_comparison;

/* Compares n_gen generated records with n_ref reference records (each at least 2) as described above;
 * params NULL for the defaults. On failure *out holds nothing to free. Memory: three distance arrays of
 * one feature at a time, n_gen * n_ref + (n_gen^2 + n_ref^2) / 2 doubles. */
CDZ_API cdz_status cdz_metrics_compare(const cdz_music_features *gen, size_t n_gen, const cdz_music_features *ref,
                               size_t n_ref, const cdz_metrics_params *params, cdz_metrics_comparison *out,
                               cdz_error *err);
CDZ_API void cdz_metrics_comparison_free(cdz_metrics_comparison *c);

/* ---- the pieces, for other uses (plots of other samples, tests) ---- */
/* Silverman's rule of thumb for samples x (reordered in place), without the floor; 0 when n < 2. */
CDZ_API double cdz_metrics_silverman_bandwidth(double *x, size_t n);
/* A Gaussian KDE of samples x with bandwidth h > 0 on n_grid >= 2 points evenly spaced from lo to
 * hi > lo, into density (n_grid), by linear binning and a discrete kernel normalised on the grid (see
 * above). Samples outside [lo, hi] are clamped to the ends. */
CDZ_API cdz_status cdz_metrics_kde(const double *x, size_t n, double h, double lo, double hi, size_t n_grid,
                           double *density, cdz_error *err);
/* KL divergence (nats) and overlapping area of two densities on one grid of spacing dx (see above). */
CDZ_API double cdz_metrics_kl(const double *p, const double *q, size_t n, double dx);
CDZ_API double cdz_metrics_overlap(const double *p, const double *q, size_t n, double dx);

#ifdef __cplusplus
}
#endif
#endif

/* cadenza piece_eval: two measures for a model that writes long pieces for many instruments (a
 * MuseNet-style generator): whether a long piece stays alive (stability), and which style a piece
 * sounds like (a small classifier that a generated piece's requested style can be checked against).
 *
 *   cdz_piece_stability st;
 *   cdz_error err = {0};
 *   if (cdz_piece_stability_compute(&score, &st, &err) != CDZ_OK) { puts(err.msg); ... }
 *   for (size_t m = 0; m < st.n_minutes; m++)
 *       printf("%zu: %.2f notes/s, %d instruments\n", m, st.minutes[m].notes_per_s, st.minutes[m].instruments);
 *   if (st.longest_silence_bars > 8 || st.longest_loop_bars > 8) puts("stalls or loops");
 *   cdz_piece_stability_free(&st);
 *
 *   double x[CDZ_PIECE_N_FEATURES * N];  int32_t y[N];       // features of N scores and their labels
 *   cdz_piece_features(&score, x + i * CDZ_PIECE_N_FEATURES, &err);
 *   cdz_piece_style_model m;
 *   cdz_piece_style_params p = cdz_piece_style_default_params();
 *   cdz_piece_style_train(&m, x, y, N, labels, n_labels, &p, &err);
 *   double prob[8];
 *   int k = cdz_piece_style_predict(&m, x, prob);              // labels[k], with probability prob[k]
 *   cdz_piece_style_save(&m, "style.json", &err);  ...  cdz_piece_style_load(&m2, "style.json", &err);
 *   cdz_piece_style_free(&m);
 *
 * Owns: a cdz_piece_stability owns its per-minute array, a cdz_piece_style_model its arrays and
 * labels; the _free functions release them (and leave the struct empty, safe to free again).
 * Thread safety: every function is reentrant; a model may be used for prediction from several threads.
 *
 * ---- stability ----
 * Minutes: the piece from 0 s to the end of its last note (in seconds through the tempo map), cut into
 * windows of 60 s; the last is shorter unless the piece is a whole number of minutes long. Per window:
 *   notes        notes that start in it (drums too)
 *   notes_per_s  notes / the window's length
 *   instruments  distinct instruments sounding in it: a (track, program) pair for pitched notes, all
 *                drum notes (channel 10) as one more
 *   lowest, highest, span   the lowest and highest pitched (non-drum) note sounding in it, and
 *                highest - lowest; -1, -1, 0 when none sounds
 * A note sounds in [start, end) (a zero-length note at its start). The coefficient of variation
 * (population sd / mean; 0 when the mean is 0 or fewer than two windows count) of notes_per_s,
 * instruments and span is taken over the windows of at least 30 s (all but a short last one), so a
 * piece's final seconds do not pass for a change of texture.
 * Bars: the score's bar lines as cdz_score_bar_to_tick draws them (4/4 before the first time
 * signature; a signature inside a bar starts a new bar there), from bar 0 to the bar holding the last
 * note's end.
 *   longest_silence_bars  the most consecutive bars in which no note sounds (held notes sound: a bar
 *                under a tied whole note is not silent); silence before the first note counts, after
 *                the last note there is none
 *   longest_loop_bars     the most consecutive bars, each holding at least one note start, whose
 *                contents are identical: the same bar length and the same notes starting in it, every
 *                track together, as (onset relative to the bar's start, duration, pitch, track, program,
 *                drum) in ticks (velocity left out). A bar played 12 times in a row gives 12, a piece
 *                with no bar repeated at once gives 1, a silent piece 0.
 * A check such as "no silence longer than 8 bars, no bar repeated more than 8 times" reads these two.
 * Scores with SMPTE timing have no bars: n_bars and the bar measures are 0. Pieces longer than
 * CDZ_PIECE_MAX_MINUTES minutes or CDZ_PIECE_MAX_BARS bars are refused (CDZ_ERR_RANGE).
 *
 * ---- style features ----
 * Numbers that describe how a piece is written rather than what plays it (drums are left out; a
 * score without pitched notes is CDZ_ERR_ARG): the pitch-class histogram rotated to the key found by
 * the Krumhansl-Schmuckler algorithm (Krumhansl 1990, the Krumhansl-Kessler profiles, correlated with
 * the duration-weighted histogram), whether that key is minor and how clearly it wins; melodic
 * intervals of the top voice (the highest pitch at each onset, every instrument together) and within
 * each part (a track and channel's highest pitch at each of its onsets), as |semitones| 0 .. 11 and 12+;
 * note lengths in beats (log2 classes from 1/8 or less to 8 or more); where onsets fall in the beat
 * (on it, on the 8th, on a 16th, on a triplet, elsewhere); onsets and notes per beat; polyphony (notes
 * sounding at each onset); chromaticism (the share of notes outside the key's scale: the major scale,
 * or the natural and harmonic minor together); pitch-class entropy; range and spread of pitch; log tempo;
 * triple meter; harmony: the share of onsets whose sounding pitch classes (every part) hold each interval
 * class 1 .. 6, and how many pitch classes sound; modulation: the share of 16-beat windows whose own key
 * differs from the piece's, and how far on the circle of fifths. Velocities and tempo changes are left
 * out: a generator's output (the ensemble codec's notes all have velocity 80) would be told apart by them.
 * Beats are quarter notes of ticks (tempo changes do not move them); SMPTE scores use 0.5 s.
 * cdz_piece_feature_name names each, and a saved model lists the names so a model made with another
 * feature set is refused.
 *
 * ---- the classifier ----
 * Multinomial logistic regression (softmax) on standardised features (each feature's mean and sd over
 * the training set; a constant feature gets sd 1), trained by full-batch gradient descent with
 * Nesterov momentum on the mean cross-entropy plus l2/2 |W|^2 (the bias is not penalised), the step
 * 1 / (lambda_max / 2 + l2) from Böhning's bound on the softmax loss's Hessian unless one is given; with
 * `balanced`, each example is weighted by n / (K n_class) so a large class does not drown a small one
 * (scikit-learn's class_weight="balanced"). The model file is JSON: {"format": "cadenza-style",
 * "version": 1, "features": [names], "labels": [...], "mean": [...], "scale": [...], "weights":
 * [[...] per label], "bias": [...], "train": {...}}, numbers written with 17 significant digits so a
 * loaded model predicts exactly what the saved one did. Loading checks every field and names the file
 * in its errors. */
#ifndef CADENZA_PIECE_EVAL_H
#define CADENZA_PIECE_EVAL_H

#include "cadenza/core.h"
#include "cadenza/score.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { CDZ_PIECE_MAX_MINUTES = 10000, CDZ_PIECE_MAX_BARS = 1 << 20 };

/* ---- stability ---- */
typedef struct cdz_piece_minute {
    double start_s, end_s;   /* the window */
    int64_t notes;           /* notes starting in it */
    double notes_per_s;
    int32_t instruments;     /* distinct (track, program) pairs sounding, drums as one */
    int32_t lowest, highest; /* pitched notes sounding; -1 when none */
    int32_t span;            /* highest - lowest, 0 when none */
} cdz_piece_minute;

typedef struct cdz_piece_stability {
    cdz_piece_minute *minutes; /* (n_minutes), cdz_malloc'd */
    size_t n_minutes;
    double duration_s;         /* the end of the last note */
    int64_t n_notes;
    int32_t instruments;       /* over the whole piece */
    int32_t lowest, highest;   /* over the whole piece; -1 when no pitched note */
    double notes_per_s;        /* over the whole piece */
    int64_t n_bars;
    int64_t longest_silence_bars, silence_start_bar; /* start: -1 when there is no silent bar */
    int64_t longest_loop_bars, loop_start_bar;       /* start: -1 when no bar holds a note start */
    double cv_notes_per_s, cv_instruments, cv_span;  /* over the windows of at least 30 s */
    size_t n_cv_minutes;                             /* how many windows those are */
} cdz_piece_stability;

/* Fills *out (on failure it holds nothing to free). An empty score gives zeros, no minutes. */
CDZ_API cdz_status cdz_piece_stability_compute(const cdz_score *s, cdz_piece_stability *out, cdz_error *err);
CDZ_API void cdz_piece_stability_free(cdz_piece_stability *st);

/* ---- style features ---- */
enum { CDZ_PIECE_N_FEATURES = 70 };
/* The name of feature i ("pc_rel_0", "top_interval_12", "log_qpm"), NULL out of range. */
CDZ_API const char *cdz_piece_feature_name(int i);
/* out: (CDZ_PIECE_N_FEATURES). CDZ_ERR_ARG when the score has no pitched note, CDZ_ERR_NOMEM. */
CDZ_API cdz_status cdz_piece_features(const cdz_score *s, double *out, cdz_error *err);

/* ---- the classifier ---- */
enum { CDZ_PIECE_LABEL_MAX = 64 }; /* bytes of a label, with its NUL */

typedef struct cdz_piece_style_params {
    double l2;       /* weight decay on the weights (default 1e-3) */
    double lr;       /* step size (default 0: 1 / the bound on the loss's curvature, which cannot diverge) */
    int32_t steps;   /* full-batch steps (default 1000) */
    int balanced;    /* 1 (default): weight classes equally */
} cdz_piece_style_params;
CDZ_API cdz_piece_style_params cdz_piece_style_default_params(void);

typedef struct cdz_piece_style_model {
    int32_t n_classes, n_features;
    char (*labels)[CDZ_PIECE_LABEL_MAX]; /* (n_classes) */
    double *mean, *scale;                /* (n_features): x' = (x - mean) / scale */
    double *weights;                     /* (n_classes, n_features) */
    double *bias;                        /* (n_classes) */
    /* what training saw (saved in the file's "train" object) */
    int64_t n_train;
    double train_loss, train_accuracy;
} cdz_piece_style_model;

/* Trains on x (n, CDZ_PIECE_N_FEATURES) with labels y[i] in [0, n_labels), naming them labels[k]
 * (non-empty, shorter than CDZ_PIECE_LABEL_MAX, valid UTF-8). Needs n >= 1 and n_labels >= 2;
 * non-finite features are CDZ_ERR_ARG naming the example. On failure *m holds nothing to free. */
CDZ_API cdz_status cdz_piece_style_train(cdz_piece_style_model *m, const double *x, const int32_t *y, size_t n,
                                         const char *const *labels, int32_t n_labels, const cdz_piece_style_params *p,
                                         cdz_error *err);
/* The most probable label of one piece's features x (CDZ_PIECE_N_FEATURES); prob (n_classes, may be
 * NULL) receives every label's probability. Ties go to the lower index. */
CDZ_API int32_t cdz_piece_style_predict(const cdz_piece_style_model *m, const double *x, double *prob);
CDZ_API cdz_status cdz_piece_style_save(const cdz_piece_style_model *m, const char *path, cdz_error *err);
/* On failure *m holds nothing to free; errors name the file and what was wrong. */
CDZ_API cdz_status cdz_piece_style_load(cdz_piece_style_model *m, const char *path, cdz_error *err);
CDZ_API void cdz_piece_style_free(cdz_piece_style_model *m);

#ifdef __cplusplus
}
#endif
#endif

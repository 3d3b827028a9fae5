/* cadenza vae: the latent space of a MusicVAE model (kind music_vae): encode windows of music into
 * latent vectors, decode latent vectors into windows, interpolate, and move along attribute directions.
 *
 *   cdz_model *m = NULL;
 *   cdz_checkpoint_load("models/vae_mel_2bar.safetensors", &m, &err);
 *   int Z = cdz_vae_latent_dim(m), L = cdz_vae_window_tokens(m);
 *   float z[256];                                        // Z floats
 *   cdz_vae_random_latent(z, Z, 1.0f, seed);
 *   uint16_t tok[32];                                    // L tokens
 *   cdz_vae_decode(m, z, 1, 0.5f, seed, tok, &err);      // temperature 0.5
 *   cdz_score sc;
 *   cdz_vae_to_score(m, tok, 1, &sc, &err);              // then cdz_score_to_midi, render, plot ...
 *
 * A window is what the model's codec cuts from a score (cadenza/codec.h: vae_mel_2bar, vae_mel_16bar,
 * vae_drums, vae_trio_16bar): a fixed number of 16th-note steps (2 or 16 bars of 16), one token per
 * step and part (the trio's three parts interleaved), cdz_vae_window_tokens(m) tokens in all.
 *
 * Decoding runs the model's decoder one token at a time from z (a session's rows with
 * cdz_session_set_latent), each token drawn at `temperature` (0: the most likely one) from a random
 * stream keyed by (seed, the latent's index), so a call gives the same windows for a seed however many
 * latents it decodes at once (up to the last bit of the products of a different batch size, which can
 * only matter at an exact tie). Thread safety: as cadenza/model.h (the model is read-only). */
#ifndef CADENZA_VAE_H
#define CADENZA_VAE_H

#include "cadenza/data.h"
#include "cadenza/model.h"
#include "cadenza/score.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when m is a music_vae model (the functions below refuse others with CDZ_ERR_UNSUPPORTED). */
CDZ_API int cdz_vae_is(const cdz_model *m);
/* The latent size Z, the tokens of one window, and the bars of one window (0 for other kinds). */
CDZ_API int cdz_vae_latent_dim(const cdz_model *m);
CDZ_API int cdz_vae_window_tokens(const cdz_model *m);
CDZ_API int cdz_vae_window_bars(const cdz_model *m);

/* The parts of a window (1, or 3 for the trio: melody, bass, drums), interleaved: token i belongs to
 * part i % parts. Part p's tokens are offset .. offset + classes - 1; a melodic part's classes are
 * no-event (offset), note-off (offset + 1) and pitches 21-108 (offset + 2 on); a drum part's are sets of
 * the 9 drum classes as bits. Parts of another kind of model: 0. */
typedef struct cdz_vae_part {
    int offset, classes, melodic;
} cdz_vae_part;
CDZ_API int cdz_vae_parts(const cdz_model *m);
CDZ_API cdz_vae_part cdz_vae_part_at(const cdz_model *m, int p);

/* Every window the model's codec cuts from a score, in order (out->n_seqs windows, each
 * cdz_vae_window_tokens long). None: CDZ_ERR_RANGE, with a message that says what the model needs
 * (e.g. "no 2-bar melody window: ...") and what the extraction found. */
CDZ_API cdz_status cdz_vae_windows(const cdz_model *m, const cdz_score *s, cdz_tokens *out, cdz_error *err);

/* The posterior of n windows (n x cdz_vae_window_tokens tokens, one after another): mu and sigma,
 * (n, Z) each (sigma may be NULL). */
CDZ_API cdz_status cdz_vae_encode(const cdz_model *m, const uint16_t *tokens, int n, float *mu, float *sigma,
                                  cdz_error *err);

/* Decodes n latents (n, Z) into n windows (n x cdz_vae_window_tokens tokens). A melody's (or the trio
 * bass's) note-off is drawn only while a note sounds: one after silence means nothing and never occurs
 * in the data. */
CDZ_API cdz_status cdz_vae_decode(const cdz_model *m, const float *z, int n, float temperature, uint64_t seed,
                                  uint16_t *tokens, cdz_error *err);

/* Windows to one score, one after another (n windows, n x window bars), as the codec decodes them. */
CDZ_API cdz_status cdz_vae_to_score(const cdz_model *m, const uint16_t *tokens, int n, cdz_score *out, cdz_error *err);

/* z ~ N(0, scale^2) (Z floats), from a stream keyed by seed. */
CDZ_API void cdz_vae_random_latent(float *z, int Z, float scale, uint64_t seed);
/* Spherical interpolation between a and b at t in [0, 1] (Magenta's slerp: the angle between them;
 * linear when they are nearly parallel), into out (d floats; out may not alias a or b). */
CDZ_API void cdz_vae_slerp(const float *a, const float *b, int d, double t, float *out);
/* magenta.js's "similar": z = s * z_a + (1 - s) * noise, noise ~ N(0, 1) from seed. */
CDZ_API void cdz_vae_similar(const float *za, int d, double s, uint64_t seed, float *out);

/* ---- features of a window, for attribute vectors and for measuring interpolations ----
 * Read from the window's first part (the melody, or the drums of a drum model):
 *   density      note onsets per bar
 *   range        highest minus lowest pitch, semitones (0 without notes; drum models: distinct drum
 *                classes hit)
 *   syncopation  the fraction of onsets off the 8th-note grid (odd 16th steps)
 *   in_key       the fraction of notes in the major or minor key that holds most of them (1 without
 *                notes; drum models: 1) */
typedef enum cdz_vae_feature {
    CDZ_VAE_DENSITY = 0,
    CDZ_VAE_RANGE = 1,
    CDZ_VAE_SYNCOPATION = 2,
    CDZ_VAE_IN_KEY = 3,
} cdz_vae_feature;
enum { CDZ_VAE_FEATURES = 4 };
/* "density", "range", "syncopation", "in_key" */
CDZ_API const char *cdz_vae_feature_name(cdz_vae_feature f);
/* The feature named `name`; CDZ_ERR_ARG listing the valid names when it is none of them. */
CDZ_API cdz_status cdz_vae_feature_parse(const char *name, cdz_vae_feature *f, cdz_error *err);
/* The feature of one window (cdz_vae_window_tokens tokens). */
CDZ_API double cdz_vae_feature_value(const cdz_model *m, cdz_vae_feature f, const uint16_t *window);

/* An attribute vector (MusicVAE's attribute arithmetic): the mean mu of the windows in the top quarter
 * of the feature minus the mean mu of those in the bottom quarter (ties broken by order), from n >= 8
 * windows (fewer: CDZ_ERR_RANGE naming how many there were). vec: Z floats. *top_mean and *bottom_mean
 * (may be NULL): the feature's mean in each quarter. */
CDZ_API cdz_status cdz_vae_attribute_vector(const cdz_model *m, cdz_vae_feature f, const uint16_t *windows, int n,
                                            float *vec, double *top_mean, double *bottom_mean, cdz_error *err);

/* ---- measuring a model (docs/music_vae.md) ---- */

/* Reconstruction of held-out windows from their posterior mean z = mu: teacher-forced (each token
 * predicted from the true ones before it) and sampled (the decoder runs on its own most likely
 * tokens, as a listener hears a reconstruction); accuracy is the share of tokens equal to the input. */
typedef struct cdz_vae_eval {
    int64_t windows, tokens;
    double tf_accuracy, sampled_accuracy;
    double recon_nats;   /* teacher-forced cross-entropy per token */
    double kl_nats;      /* mean KL of the posterior per window */
} cdz_vae_eval;

/* Over the windows of one split of a dataset of the model's codec, at most max_windows of them (0:
 * all; the first ones, in order). CDZ_ERR_RANGE when the split has none. */
CDZ_API cdz_status cdz_vae_evaluate(const cdz_model *m, const cdz_dataset *ds, cdz_split split, int max_windows,
                                    cdz_vae_eval *out, cdz_error *err);

/* Interpolations between pairs of held-out windows (MusicVAE's section 5.3), in latent space (slerp
 * between the mus, each step decoded greedily) and in data space (the naive baseline: step k takes B's
 * token at a fixed random k/(steps-1) share of the positions, A's elsewhere). Per method: */
typedef struct cdz_vae_interp_side {
    double valid;      /* share of steps that are valid melodies: every note-off ends a sounding note
                          (drum models: 1) */
    double tau_in_key; /* mean Kendall tau between step and in-key ratio, signed so that +1 is a
                          steady move from the first step's value to the last's (the decoded ends; pairs
                          whose ends agree are left out) */
    double tau_density;/* the same for note density */
    double hamming;    /* mean Hamming distance (tokens) between adjacent steps */
    double hamming_max;/* mean over pairs of the largest adjacent distance */
    int pairs_in_key, pairs_density; /* the pairs each tau is the mean of (NAN when none) */
} cdz_vae_interp_side;
typedef struct cdz_vae_interp_report {
    int pairs, steps;
    cdz_vae_interp_side latent, naive;
} cdz_vae_interp_report;

/* `pairs` pairs drawn from the split's windows by seed, `steps` >= 2 steps each, endpoints included. */
CDZ_API cdz_status cdz_vae_interpolation_study(const cdz_model *m, const cdz_dataset *ds, cdz_split split, int pairs, int steps,
                                               uint64_t seed, cdz_vae_interp_report *out, cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

/* cadenza audio_metrics: how close a decoded or generated clip is to a reference, with the
 * definitions of the Descript Audio Codec (Kumar et al. 2023, descript-audio-codec's dac/nn/loss.py
 * and conf/base.yml), so figures compare with its tables:
 *
 *   cdz_error err;
 *   double mel, stft, sisdr;
 *   cdz_mel_distance(ref, gen, n, 24000, &mel, &err);   // DAC's multi-scale mel distance
 *   cdz_stft_distance(ref, gen, n, &stft, &err);        // DAC's multi-scale STFT distance
 *   sisdr = cdz_si_sdr(ref, gen, n);                    // dB, higher is better
 *
 * Spectra: torch.stft with center=True (each end reflected by half a window), a periodic Hann window,
 * hop = window / 4, magnitudes |X|. Mel filters: librosa's (Slaney's mel scale and area
 * normalisation), 0 Hz to rate / 2, applied to magnitudes. Means are over every (frame, bin) as
 * torch's L1Loss. The FFT is KissFFT's (BSD-3-Clause); a build without it returns
 * CDZ_ERR_UNSUPPORTED from the spectral functions, saying how to install it. Thread safety: none kept. */
#ifndef CADENZA_AUDIO_METRICS_H
#define CADENZA_AUDIO_METRICS_H

#include <stddef.h>

#include "cadenza/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether this build has the FFT (KissFFT). */
CDZ_API int cdz_audio_metrics_available(void);

/* Magnitude spectrogram of x (n samples): *mag (cdz_malloc'd) is (*frames, win / 2 + 1), frames =
 * 1 + n / hop. win even, n > win / 2 (the reflection needs it), else CDZ_ERR_ARG. */
CDZ_API cdz_status cdz_stft_magnitude(const float *x, size_t n, int win, int hop, float **mag, int *frames, cdz_error *err);

/* librosa.filters.mel(sr=rate, n_fft, n_mels, fmin=0, fmax=rate/2) with its defaults (htk=False,
 * norm="slaney"): weights (n_mels, n_fft / 2 + 1). */
CDZ_API void cdz_mel_filters(float *weights, int rate, int n_fft, int n_mels);
/* Slaney's mel scale as librosa (linear below 1 kHz, logarithmic above), and its inverse. */
CDZ_API double cdz_hz_to_mel(double hz);
CDZ_API double cdz_mel_to_hz(double mel);

/* DAC's mel distance (its MelSpectrogramLoss as trained: windows 32 .. 2048, 5 .. 320 mels, pow 1,
 * clamp 1e-5, log weight 1, magnitude weight 0): the sum over the seven scales of the mean
 * |log10 max(mel_ref, 1e-5) - log10 max(mel_gen, 1e-5)|. n above 1,024 samples. */
CDZ_API cdz_status cdz_mel_distance(const float *ref, const float *gen, size_t n, int rate, double *out, cdz_error *err);
/* DAC's STFT distance (its MultiScaleSTFTLoss: windows 2048 and 512, pow 2, clamp 1e-5, both weights
 * 1): the sum over the two of mean |log10 max(|R|, 1e-5)^2 - log10 max(|G|, 1e-5)^2| + mean ||R| - |G||. */
CDZ_API cdz_status cdz_stft_distance(const float *ref, const float *gen, size_t n, double *out, cdz_error *err);
/* The two distances above as training losses, with their gradients: a plan holds the windows, FFT
 * set-ups and mel filters of the seven scales at one rate (made once; KissFFT's set-ups keep scratch,
 * so a plan belongs to one thread at a time). cdz_spectral_loss writes the mel distance and the STFT
 * distance of gen against ref (n > 1,024 samples; either output may be NULL) and, when dgen is not
 * NULL, adds w_mel times the mel distance's gradient plus w_stft times the STFT distance's with
 * respect to gen into dgen (n). At a tie (a difference of exactly 0) or below the 1e-5 clamp the
 * gradient is 0, as torch's. cdz_mel_distance and cdz_stft_distance are this with a plan of their own. */
typedef struct cdz_spectral_plan cdz_spectral_plan;
CDZ_API cdz_status cdz_spectral_plan_new(cdz_spectral_plan **out, int rate, cdz_error *err);
CDZ_API void cdz_spectral_plan_free(cdz_spectral_plan *p);
CDZ_API cdz_status cdz_spectral_loss(const cdz_spectral_plan *p, const float *ref, const float *gen, size_t n, float w_mel,
                                     float w_stft, float *dgen, double *mel, double *stft, cdz_error *err);

/* Scale-invariant signal-to-distortion ratio in dB (DAC's SISDRLoss with zero mean and scaling, its
 * eps 1e-8; the loss is minus this): both zero-meaned, a = (<gen, ref> + eps) / (|ref|^2 + eps),
 * 10 log10(|a ref|^2 / |gen - a ref|^2 + eps). +infinity when gen is exactly a scaled ref. */
CDZ_API double cdz_si_sdr(const float *ref, const float *gen, size_t n);

/* What a listener hears of a clip, for comparing generated audio with held-out audio (issue 17): its
 * chroma (the share of spectral energy, 55 Hz to 5 kHz, in each pitch class C .. B; 4,096-sample
 * frames), its onsets a second (peaks of the spectral flux above its mean plus one deviation, 50 ms
 * apart; 1,024-sample frames, hop 256) and its level (mean square in dB). n above 4,096 samples. */
typedef struct cdz_audio_clip_stats {
    double chroma[12];
    double onset_rate;
    double rms_db;
    double seconds;
} cdz_audio_clip_stats;
CDZ_API cdz_status cdz_audio_stats(const float *x, size_t n, int rate, cdz_audio_clip_stats *out, cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

/* cadenza audio: 16-bit PCM WAV files, and scores rendered to audio through FluidSynth with a General
 * MIDI SoundFont.
 *
 *   cdz_render_params p = cdz_render_default_params();      // 44.1 kHz stereo, reverb on, peak at -1 dBFS
 *   cdz_render_report r;                                     // the gain applied, samples clipped, length
 *   if (cdz_render_score_wav(&score, &p, "song.wav", &r, &err) == CDZ_OK)  // p.soundfont NULL: the usual places
 *       printf("%.1f s\n", (double)r.frames / p.sample_rate);
 *
 * cdz_render_score_wav streams to disk: its memory stays a few blocks whatever the piece's length.
 * cdz_render_score_report gives the audio in memory instead (interleaved int16 frames, 4 bytes each:
 * about 600 MB an hour), for programs that go on working with the samples.
 *
 * Owns: the audio buffer of a cdz_audio (interleaved int16 frames). Rendering is available when the
 * library was built with FluidSynth (cdz_render_available); without it, the render functions return
 * CDZ_ERR_UNSUPPORTED with a message saying how to install it. FluidSynth's own log lines are caught
 * (the library never prints) and its last error is put in the cdz_error. Thread-safety: the WAV
 * functions are; rendering changes FluidSynth's process-wide log handlers, so renders take turns at
 * FluidSynth (a second thread's render waits for the first's to end). */
#ifndef CADENZA_AUDIO_H
#define CADENZA_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "cadenza/core.h"
#include "cadenza/score.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cdz_audio {
    int16_t *samples;   /* (frames, channels) interleaved */
    size_t frames;
    int channels;       /* 1 or 2 */
    uint32_t sample_rate;
} cdz_audio;

CDZ_API void cdz_audio_free(cdz_audio *a);
/* The largest absolute sample, 0 .. 32768 (0: silence). */
CDZ_API int32_t cdz_audio_peak(const cdz_audio *a);

/* What turning float samples into 16-bit ones did. */
typedef struct cdz_render_report {
    double gain_db;          /* the gain normalisation applied, in dB (0 without normalisation or for silence) */
    double peak_dbfs;        /* the peak of the 16-bit result, dBFS (-INFINITY for silence) */
    size_t clipped;          /* samples beyond full scale, clipped to it (0 with normalisation) */
    double source_peak_dbfs; /* the float samples' own peak, before any gain, dBFS: above 0 where they went
                                beyond full scale (how far to lower a fixed gain); -INFINITY for silence */
    size_t frames;           /* frames of audio made */
} cdz_render_report;

/* Float samples x (frames x channels, interleaved; full scale is 1.0) to 16-bit audio in out. With
 * normalize, every sample is scaled so that the peak sits at peak_dbfs (-60 .. 0; silence stays
 * silent); else the samples are taken as they are and those beyond full scale are clipped and counted.
 * report may be NULL. */
CDZ_API cdz_status cdz_audio_from_float(cdz_audio *out, const float *x, size_t frames, int channels, uint32_t sample_rate,
                                int normalize, double peak_dbfs, cdz_render_report *report, cdz_error *err);

/* Writes 16-bit PCM WAV (RIFF, WAVE, fmt, data), to a temporary name beside `path`, then renamed. */
CDZ_API cdz_status cdz_wav_write(const char *path, const cdz_audio *a, cdz_error *err);
/* Reads a 16-bit PCM WAV file (mono or stereo; other chunks skipped). A truncated or malformed file,
 * or another sample format, is an error naming the file and the byte offset. */
CDZ_API cdz_status cdz_wav_read(const char *path, cdz_audio *a, cdz_error *err);
CDZ_API cdz_status cdz_wav_parse(const uint8_t *bytes, size_t len, const char *what, cdz_audio *a, cdz_error *err);

/* Audio as float samples (full scale 1.0), for models: any channel count and sample rate. */
typedef struct cdz_audio_f {
    float *samples;     /* (frames, channels) interleaved */
    size_t frames;
    int channels;
    uint32_t sample_rate;
    int source_bits;    /* what the file held: 8, 16, 24, 32 or 64 bits */
    int source_float;   /* 1: IEEE float samples */
    size_t nonfinite;   /* float samples that were NaN or infinite, read as 0 */
} cdz_audio_f;
CDZ_API void cdz_audio_f_free(cdz_audio_f *a);
/* Reads a WAV file of PCM (8-bit unsigned, 16, 24 or 32-bit signed) or IEEE float (32 or 64-bit)
 * samples, any number of channels and any rate (WAVE_FORMAT_EXTENSIBLE too). Other encodings (ADPCM,
 * mu-law, ...) are refused naming the format; a truncated or malformed file names the byte offset. */
CDZ_API cdz_status cdz_wav_read_any(const char *path, cdz_audio_f *a, cdz_error *err);
CDZ_API cdz_status cdz_wav_parse_any(const uint8_t *bytes, size_t len, const char *what, cdz_audio_f *a, cdz_error *err);
/* Mono at `rate` for a model: the channels averaged, then resampled where the rates differ by a
 * windowed-sinc filter (Blackman window, 32 zero crossings, cut off at the lower Nyquist frequency, so
 * downsampling removes what the new rate cannot hold). *out (cdz_malloc'd) holds *frames samples;
 * did (may be NULL) says in words what was converted ("" when nothing was). */
CDZ_API cdz_status cdz_audio_f_conform(const cdz_audio_f *in, uint32_t rate, float **out, size_t *frames, char *did, size_t did_n,
                                       cdz_error *err);

typedef struct cdz_render_params {
    const char *soundfont; /* a .sf2/.sf3 file; NULL: the first of cdz_render_find_soundfont's places */
    uint32_t sample_rate;  /* 8000 .. 96000 (default 44100) */
    double gain;           /* FluidSynth's master gain, 0 .. 10 (default 0.5) */
    int normalize;         /* scale the result so that its peak sits at peak_dbfs (default 1); 0: keep
                              the synthesizer's level (set by gain), clipping what exceeds full scale */
    double peak_dbfs;      /* -60 .. 0 (default -1: General MIDI SoundFonts at gain 0.5 peak near -15) */
    double reverb;         /* reverb level 0 .. 1; 0 turns reverb off (default 0.3) */
    double max_tail_s;     /* after the last note-off, render until silence or this long (default 5) */
    /* Called (when not NULL) about once per second of audio rendered and once at the end, from the
     * rendering thread: `done` frames of at most `total` (the piece plus the longest tail); done never
     * goes down, and the last call has done == total (the frames made: the tail may end early). It may
     * not start another render. */
    void (*progress)(void *ctx, int64_t done, int64_t total);
    void *progress_ctx;
} cdz_render_params;

CDZ_API cdz_render_params cdz_render_default_params(void);
/* 1 when the library was built with FluidSynth. */
CDZ_API int cdz_render_available(void);
/* $CADENZA_SOUNDFONT when it is set (and not empty), else the first General MIDI SoundFont found among
 * Debian's locations (fluid-soundfont-gm, musescore-general-soundfont, timgm6mb-soundfont, the
 * default-GM.sf2 alternative); NULL when none is found, or when $CADENZA_SOUNDFONT names a file that
 * cannot be read (who set it wants that file: no other is put in its place). */
CDZ_API const char *cdz_render_find_soundfont(void);
/* The SoundFont a render uses: `requested` (a render's p->soundfont) or else cdz_render_find_soundfont's,
 * checked: readable, a RIFF sfbk file whose chunks all fit in it (a truncated SoundFont is refused
 * naming the file, before FluidSynth's loaders see it). A $CADENZA_SOUNDFONT naming a file that cannot
 * be read is an error naming the variable and the path. Needs no FluidSynth. */
CDZ_API cdz_status cdz_render_soundfont(const char *requested, const char **path, cdz_error *err);

/* Renders every note of the score (times from its tempo map) as stereo audio: one synthesizer
 * channel per (track, MIDI channel, program) of pitched notes (up to 255), drums on MIDI channel 10 as
 * GM percussion; pedals, volume, expression, pan, modulation, the bend-range RPN and pitch bends go to
 * the channels of their track and MIDI channel (else of their MIDI channel). After the last note-off
 * the tail rings out until it falls silent (or max_tail_s). A piece longer than a WAV file holds
 * (about 6.7 hours at 44.1 kHz) is refused with CDZ_ERR_RANGE before anything is allocated. The
 * synthesizer renders in float; the result becomes 16-bit at the end (cdz_audio_from_float), normalised
 * by default, so quiet SoundFonts lose no resolution. */
CDZ_API cdz_status cdz_render_score(const cdz_score *s, const cdz_render_params *p, cdz_audio *out, cdz_error *err);
/* The same, saying in *report (may be NULL) what normalisation applied or how many samples clipped. */
CDZ_API cdz_status cdz_render_score_report(const cdz_score *s, const cdz_render_params *p, cdz_audio *out,
                                   cdz_render_report *report, cdz_error *err);
/* The same rendering (the same samples) straight into the 16-bit stereo WAV file `path`, in memory
 * bounded whatever the piece's length: the float frames are streamed to the file's temporary (beside
 * it, as cdz_file_write_atomic's), then converted in place, the header filled in, and the temporary
 * renamed over `path`; a failure leaves `path` as it was. The output is opened before rendering, so a
 * path that cannot be written fails at once. Disk: up to twice the WAV's size while rendering (for a
 * device or FIFO target: an unlinked scratch file in $TMPDIR). report may be NULL. */
CDZ_API cdz_status cdz_render_score_wav(const cdz_score *s, const cdz_render_params *p, const char *path,
                                cdz_render_report *report, cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

/* Shared by the files of src/audio/ only: the WAV header, float-to-16-bit conversion (one rounding and
 * clipping rule for audio in memory and audio streamed to disk, so both give the same samples), and
 * the spool that streams a render to a WAV file. */
#ifndef CADENZA_AUDIO_INTERNAL_H
#define CADENZA_AUDIO_INTERNAL_H
#include "cadenza/audio.h"

enum { WAV_HEADER = 44 };

/* The 44-byte header of a 16-bit PCM WAV whose data chunk holds data_bytes (the caller has checked
 * that the whole file's size fits the RIFF's 32 bits). */
void wav_header(uint8_t h[WAV_HEADER], int channels, uint32_t sample_rate, uint32_t data_bytes);

/* The scale factor from float samples (full scale 1.0) of this peak to what the 16-bit samples get:
 * with normalize, the peak lands at peak_dbfs (silence keeps 1); else 1. */
double audio_gain(double peak, int normalize, double peak_dbfs);

/* n float samples times gain into 16-bit ones (32767 is full scale, as FluidSynth's own 16-bit
 * output); what lies beyond full scale is clipped and counted in *clipped, and *top keeps the largest
 * absolute result. */
void audio_quantize(int16_t *dst, const float *x, size_t n, double gain, size_t *clipped, int32_t *top);

/* Fills the parts of a report the gain, the clipping and the result's peak decide. */
void audio_report(cdz_render_report *r, double gain, int normalize, double source_peak, size_t clipped, int32_t top,
                  size_t frames);

/* ---- the spool: float frames streamed to disk, turned into 16-bit WAV at the end (spool.c) ----
 * The float frames go into the output's own temporary file after room for the header (for a device
 * or FIFO target, which cannot be reread, into an unlinked scratch file in $TMPDIR); finishing
 * rereads them in blocks, writes the 16-bit samples over the start of the same file (each block's
 * 16-bit form is half its float form, so writing never overtakes reading), truncates it, fills in the
 * header and renames it over the target. Memory: a few blocks, whatever the length; disk: the float
 * frames, twice the WAV's size, until the end. */
typedef struct audio_spool {
    cdz_file_out out;
    int scratch;       /* where the float frames are: out.fd, or an unlinked file of our own */
    uint64_t base;     /* the scratch's byte offset of frame 0 */
    uint64_t frames;
    double peak;       /* the largest absolute float sample so far */
    int channels;
    uint32_t sample_rate;
} audio_spool;

/* Opens the output (before any work, so a path that cannot be written fails at once). */
cdz_status spool_open(audio_spool *s, const char *path, int channels, uint32_t sample_rate, cdz_error *err);
/* Appends (frames, channels) interleaved float frames. */
cdz_status spool_append(audio_spool *s, const float *x, size_t frames, cdz_error *err);
/* Converts, writes the header and commits the file; the spool is closed whatever happens. */
cdz_status spool_finish(audio_spool *s, int normalize, double peak_dbfs, cdz_render_report *report, cdz_error *err);
/* Closes the spool, removing its temporary: the target stays as it was. */
void spool_abort(audio_spool *s);
#endif

/* cadenza audio_codec: sound to discrete codes and back with a trained audio_codec model (a
 * residual-VQ codec, src/models/audio_codec.c, docs/audio_model.md), and the .codes file that holds
 * them.
 *
 *   cdz_model *m = NULL;
 *   cdz_checkpoint_load("models/audio_codec.safetensors", &m, &err);
 *   cdz_audio_codec_shape sh = cdz_audio_codec_shape_of(m);         // 24000 Hz, hop 320, 8 x 1024
 *   int32_t *codes; size_t frames;
 *   cdz_audio_codec_encode(m, samples, n, 8, &codes, &frames, &err);  // (frames, 8) codes, 6 kbps
 *   float *y; size_t ny;
 *   cdz_audio_codec_decode(m, codes, frames, 8, &y, &ny, &err);      // frames x hop samples
 *
 * Fewer codebooks give a lower bitrate (n_q x log2(K) x rate / hop bits a second): the codes of n_q
 * books are the first n_q columns of those of more (the quantizer was trained with dropout for it).
 * Clips are coded in chunks of 4 s with context on each side wider than the encoder's (or decoder's)
 * reach, so memory stays small (in cache) and the result is that of one pass over the whole clip, to
 * rounding. Encoding and decoding run on the calling thread (a stream each).
 *
 * The .codes file (docs/formats.md): a 64-byte little-endian header (magic "CDZCODES", version 1,
 * rate, hop, books, codebook size, frames, the source's length in samples, an FNV-1a 64 checksum of
 * the codes), then frames x books u16 codes, frame-major. Readers refuse a truncated file, a changed
 * byte (the checksum), codes past the codebook and a header that does not describe the file. Thread
 * safety: the functions keep no state; a model may be shared. */
#ifndef CADENZA_AUDIO_CODEC_H
#define CADENZA_AUDIO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "cadenza/model.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cdz_audio_codec_shape {
    uint32_t rate;  /* samples a second */
    int hop;        /* samples per frame of codes */
    int books;      /* codebooks (the most n_q) */
    int codebook;   /* entries per book */
} cdz_audio_codec_shape;

/* The shape of an audio_codec model (all zero for another kind). */
CDZ_API cdz_audio_codec_shape cdz_audio_codec_shape_of(const cdz_model *m);
/* The bitrate of n_q books, in kbps. */
CDZ_API double cdz_audio_codec_kbps(const cdz_audio_codec_shape *s, int n_q);

/* n samples (mono, full scale 1, at the model's rate) to *codes (cdz_malloc'd, (*frames, n_q)), frames =
 * ceil(n / hop) (the last frame's missing samples read as silence). 1 <= n_q <= books. */
CDZ_API cdz_status cdz_audio_codec_encode(const cdz_model *m, const float *x, size_t n, int n_q, int32_t **codes,
                                          size_t *frames, cdz_error *err);
/* Codes (frames, n_q) to *y (cdz_malloc'd, frames x hop samples). Codes must be below the codebook
 * size. */
CDZ_API cdz_status cdz_audio_codec_decode(const cdz_model *m, const int32_t *codes, size_t frames, int n_q, float **y,
                                          size_t *n, cdz_error *err);

/* ---- .codes files ---- */
typedef struct cdz_codes {
    cdz_audio_codec_shape shape; /* books: the file's n_q */
    uint64_t frames, samples;    /* samples: the length of the audio they came from */
    uint16_t *codes;             /* (frames, shape.books) */
} cdz_codes;
CDZ_API void cdz_codes_free(cdz_codes *c);
/* Writes a .codes file (temporary name, then renamed over path). */
CDZ_API cdz_status cdz_codes_write(const char *path, const cdz_codes *c, cdz_error *err);
CDZ_API cdz_status cdz_codes_read(const char *path, cdz_codes *c, cdz_error *err);
CDZ_API cdz_status cdz_codes_parse(const uint8_t *bytes, size_t len, const char *what, cdz_codes *c, cdz_error *err);

#ifdef __cplusplus
}
#endif
#endif

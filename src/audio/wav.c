/* 16-bit PCM WAV: a RIFF file with a "fmt " chunk (PCM, 1 or 2 channels, 16 bits) and a "data"
 * chunk, little-endian. The reader walks the chunks with every length checked against the bytes
 * left, skips chunks it does not need (LIST, fact, ...) and their pad bytes, and names the byte
 * offset of what it could not read. */
#include <math.h>
#include <string.h>

#include "audio_internal.h"

enum { WAV_PCM = 1, WAV_FLOAT = 3, WAV_EXTENSIBLE = 0xFFFE };

void cdz_audio_free(cdz_audio *a) {
    if (!a) return;
    cdz_free(a->samples);
    memset(a, 0, sizeof *a);
}

int32_t cdz_audio_peak(const cdz_audio *a) {
    int32_t peak = 0;
    for (size_t i = 0; i < a->frames * (size_t)a->channels; i++) {
        int32_t v = a->samples[i] < 0 ? -(int32_t)a->samples[i] : a->samples[i];
        if (v > peak) peak = v;
    }
    return peak;
}

double audio_gain(double peak, int normalize, double peak_dbfs) {
    /* silence stays silence: no gain to speak of */
    return normalize && peak > 0 ? pow(10, peak_dbfs / 20) / peak : 1;
}

void audio_quantize(int16_t *dst, const float *x, size_t n, double gain, size_t *clipped, int32_t *top) {
    for (size_t i = 0; i < n; i++) {
        double v = (double)x[i] * gain * 32767.0; /* +1.0 and -1.0 both fit */
        if (v >= 32767.5 || v <= -32767.5) { /* what does not round into 16 bits */
            ++*clipped;
            v = v > 0 ? 32767.0 : -32767.0;
        }
        int32_t q = (int32_t)lrint(v);
        dst[i] = (int16_t)q;
        if ((q < 0 ? -q : q) > *top) *top = q < 0 ? -q : q;
    }
}

void audio_report(cdz_render_report *r, double gain, int normalize, double source_peak, size_t clipped, int32_t top,
                  size_t frames) {
    r->gain_db = normalize && source_peak > 0 ? 20 * log10(gain) : 0;
    r->peak_dbfs = top ? 20 * log10(top / 32768.0) : -INFINITY;
    r->clipped = clipped;
    r->source_peak_dbfs = source_peak > 0 ? 20 * log10(source_peak) : -INFINITY;
    r->frames = frames;
}

cdz_status cdz_audio_from_float(cdz_audio *out, const float *x, size_t frames, int channels, uint32_t sample_rate,
                                int normalize, double peak_dbfs, cdz_render_report *report, cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (report) audio_report(report, 1, 0, 0, 0, 0, 0);
    size_t n = 0;
    if (channels < 1 || channels > 2 || !cdz_mul_ok(frames, (size_t)channels, &n))
        return cdz_error_set(err, CDZ_ERR_ARG, "audio of %zu frames of %d channels", frames, channels);
    if (normalize && !(peak_dbfs >= -60 && peak_dbfs <= 0))
        return cdz_error_set(err, CDZ_ERR_ARG, "a peak of %g dBFS: -60 to 0", peak_dbfs);
    out->samples = cdz_calloc(n + 1, sizeof *out->samples);
    if (!out->samples) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory for %zu samples", n);
    out->frames = frames, out->channels = channels, out->sample_rate = sample_rate;
    double peak = 0;
    for (size_t i = 0; i < n; i++) peak = fmax(peak, fabs((double)x[i]));
    double gain = audio_gain(peak, normalize, peak_dbfs);
    size_t clipped = 0;
    int32_t top = 0;
    audio_quantize(out->samples, x, n, gain, &clipped, &top);
    if (report) audio_report(report, gain, normalize, peak, clipped, top, frames);
    return CDZ_OK;
}

static void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, v & 0xFFFF), put16(p + 2, v >> 16); }
static uint32_t get16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t get32(const uint8_t *p) { return get16(p) | get16(p + 2) << 16; }

void wav_header(uint8_t h[WAV_HEADER], int channels, uint32_t sample_rate, uint32_t data_bytes) {
    uint32_t block = 2u * (uint32_t)channels;
    memcpy(h, "RIFF", 4), put32(h + 4, data_bytes + WAV_HEADER - 8), memcpy(h + 8, "WAVE", 4);
    memcpy(h + 12, "fmt ", 4), put32(h + 16, 16), put16(h + 20, WAV_PCM), put16(h + 22, (uint32_t)channels);
    put32(h + 24, sample_rate), put32(h + 28, sample_rate * block), put16(h + 32, block), put16(h + 34, 16);
    memcpy(h + 36, "data", 4), put32(h + 40, data_bytes);
}

cdz_status cdz_wav_write(const char *path, const cdz_audio *a, cdz_error *err) {
    if (a->channels < 1 || a->channels > 2 || a->sample_rate == 0)
        return cdz_error_set(err, CDZ_ERR_ARG, "%s: audio of %d channels at %u Hz cannot be written", path, a->channels,
                             a->sample_rate);
    size_t data = 0, total = 0;
    /* a RIFF size is 32 bits: about 6.7 hours of 44.1 kHz stereo */
    if (!cdz_mul_ok(a->frames, 2 * (size_t)a->channels, &data) || !cdz_add_ok(data, WAV_HEADER, &total) ||
        total - 8 > UINT32_MAX)
        return cdz_error_set(err, CDZ_ERR_RANGE, "%s: %zu frames are too many for a WAV file", path, a->frames);
    /* written a block at a time: the samples are in memory already, a second copy of them need not be */
    enum { CHUNK = 16384 };
    uint8_t *buf = cdz_malloc(2 * CHUNK);
    if (!buf) return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", path);
    cdz_file_out f;
    cdz_status st = cdz_file_out_open(&f, path, err);
    if (st != CDZ_OK) {
        cdz_free(buf);
        return st;
    }
    wav_header(buf, a->channels, a->sample_rate, (uint32_t)data);
    st = cdz_file_out_write(&f, buf, WAV_HEADER, err);
    for (size_t i = 0, n = data / 2; st == CDZ_OK && i < n; i += CHUNK) {
        size_t k = n - i < CHUNK ? n - i : CHUNK;
        for (size_t j = 0; j < k; j++) put16(buf + 2 * j, (uint16_t)a->samples[i + j]);
        st = cdz_file_out_write(&f, buf, 2 * k, err);
    }
    cdz_free(buf);
    if (st != CDZ_OK) {
        cdz_file_out_abort(&f);
        return st;
    }
    return cdz_file_out_commit(&f, err);
}

/* What a "fmt " chunk says, and where the data chunk is. */
typedef struct wav_layout {
    uint32_t format, channels, rate, bits;
    size_t fmt_off, data_off;
    const uint8_t *data;
    uint32_t data_bytes;
} wav_layout;

/* Walks the chunks: the fmt chunk's fields and the data chunk (which must follow it), every length
 * checked against the bytes left; other chunks and pad bytes skipped. */
static cdz_status wav_walk(const uint8_t *bytes, size_t len, const char *what, wav_layout *w, cdz_error *err) {
    memset(w, 0, sizeof *w);
    if (len < 12 || memcmp(bytes, "RIFF", 4) != 0 || memcmp(bytes + 8, "WAVE", 4) != 0)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: not a WAV file (no RIFF/WAVE header)", what);
    size_t off = 12;
    int have_fmt = 0;
    while (off + 8 <= len) {
        uint32_t n = get32(bytes + off + 4);
        const uint8_t *body = bytes + off + 8;
        size_t left = len - off - 8;
        if (memcmp(bytes + off, "fmt ", 4) == 0) {
            if (n > left) break;
            if (n < 16) return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: byte %zu: a fmt chunk of %u bytes (16 needed)", what, off, n);
            w->format = get16(body), w->channels = get16(body + 2), w->rate = get32(body + 4), w->bits = get16(body + 14);
            if (w->format == WAV_EXTENSIBLE && n >= 26) w->format = get16(body + 24); /* the sub-format GUID's first two bytes */
            w->fmt_off = off, have_fmt = 1;
        } else if (memcmp(bytes + off, "data", 4) == 0) {
            if (!have_fmt) return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: byte %zu: data before the fmt chunk", what, off);
            if (n > left)
                return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: byte %zu: a data chunk of %u bytes, %zu in the file (truncated)",
                                     what, off, n, left);
            w->data = body, w->data_bytes = n, w->data_off = off;
            return CDZ_OK;
        }
        size_t step = (size_t)n + (n & 1); /* chunks are padded to an even size */
        if (step > left) break;
        off += 8 + step;
    }
    return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: byte %zu: %s", what, off,
                         have_fmt ? "no data chunk (truncated?)" : "no fmt chunk (truncated?)");
}

cdz_status cdz_wav_parse(const uint8_t *bytes, size_t len, const char *what, cdz_audio *a, cdz_error *err) {
    memset(a, 0, sizeof *a);
    wav_layout w;
    cdz_status st = wav_walk(bytes, len, what, &w, err);
    if (st != CDZ_OK) return st;
    if (w.format != WAV_PCM || w.bits != 16)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: byte %zu: sample format %u with %u bits (only 16-bit PCM is read)",
                             what, w.fmt_off, w.format, w.bits);
    if (w.channels < 1 || w.channels > 2 || w.rate == 0)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: byte %zu: %u channels at %u Hz (1 or 2 channels are read)", what,
                             w.fmt_off, w.channels, w.rate);
    a->channels = (int)w.channels, a->sample_rate = w.rate;
    size_t block = 2 * (size_t)a->channels;
    a->frames = w.data_bytes / block;
    a->samples = cdz_calloc(a->frames * (size_t)a->channels + 1, sizeof *a->samples);
    if (!a->samples) return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", what);
    for (size_t i = 0; i < a->frames * (size_t)a->channels; i++) a->samples[i] = (int16_t)get16(w.data + 2 * i);
    return CDZ_OK;
}

/* ---- any PCM or float WAV, as float samples ---- */

void cdz_audio_f_free(cdz_audio_f *a) {
    if (!a) return;
    cdz_free(a->samples);
    memset(a, 0, sizeof *a);
}

/* Sample i of the data as a float, full scale 1.0: 8-bit PCM is unsigned (128 is silence), wider PCM
 * signed little-endian, float IEEE. */
static float wav_sample(const uint8_t *p, uint32_t format, uint32_t bits) {
    if (format == WAV_FLOAT) {
        if (bits == 32) {
            float f;
            uint32_t u = get32(p);
            memcpy(&f, &u, sizeof f);
            return f;
        }
        uint64_t u = (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
        double d;
        memcpy(&d, &u, sizeof d);
        return (float)d;
    }
    switch (bits) {
    case 8: return ((int)p[0] - 128) / 128.0f;
    case 16: return (int16_t)get16(p) / 32768.0f;
    case 24: {
        int32_t v = (int32_t)((uint32_t)p[0] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 24) >> 8;
        return (float)(v / 8388608.0);
    }
    default: return (float)((int32_t)get32(p) / 2147483648.0);
    }
}

cdz_status cdz_wav_parse_any(const uint8_t *bytes, size_t len, const char *what, cdz_audio_f *a, cdz_error *err) {
    memset(a, 0, sizeof *a);
    wav_layout w;
    cdz_status st = wav_walk(bytes, len, what, &w, err);
    if (st != CDZ_OK) return st;
    int pcm = w.format == WAV_PCM && (w.bits == 8 || w.bits == 16 || w.bits == 24 || w.bits == 32);
    int flt = w.format == WAV_FLOAT && (w.bits == 32 || w.bits == 64);
    if (!pcm && !flt)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED,
                             "%s: byte %zu: sample format %u with %u bits (read: PCM of 8, 16, 24 or 32 bits, float of 32 or 64; "
                             "convert others first, e.g. with sox or ffmpeg)",
                             what, w.fmt_off, w.format, w.bits);
    if (w.channels < 1 || w.channels > 64 || w.rate == 0)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: byte %zu: %u channels at %u Hz", what, w.fmt_off, w.channels, w.rate);
    const size_t width = w.bits / 8, block = width * w.channels;
    a->channels = (int)w.channels, a->sample_rate = w.rate, a->source_bits = (int)w.bits, a->source_float = flt;
    a->frames = w.data_bytes / block;
    a->samples = cdz_malloc((a->frames * (size_t)a->channels + 1) * sizeof *a->samples);
    if (!a->samples) return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory for %zu frames", what, a->frames);
    for (size_t i = 0; i < a->frames * (size_t)a->channels; i++) {
        float v = wav_sample(w.data + i * width, w.format, w.bits);
        a->samples[i] = isfinite(v) ? v : 0.0f; /* a float file's NaN or infinity: silence, counted */
        a->nonfinite += !isfinite(v);
    }
    return CDZ_OK;
}

cdz_status cdz_wav_read_any(const char *path, cdz_audio_f *a, cdz_error *err) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    memset(a, 0, sizeof *a);
    cdz_status st = cdz_file_read_all(path, &bytes, &len, err);
    if (st != CDZ_OK) return st;
    st = cdz_wav_parse_any(bytes, len, path, a, err);
    cdz_free(bytes);
    return st;
}

cdz_status cdz_wav_read(const char *path, cdz_audio *a, cdz_error *err) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    memset(a, 0, sizeof *a);
    cdz_status st = cdz_file_read_all(path, &bytes, &len, err);
    if (st != CDZ_OK) return st;
    st = cdz_wav_parse(bytes, len, path, a, err);
    cdz_free(bytes);
    return st;
}

/* 16-bit PCM WAV: a RIFF file with a "fmt " chunk (PCM, 1 or 2 channels, 16 bits) and a "data"
 * chunk, little-endian. The reader walks the chunks with every length checked against the bytes
 * left, skips chunks it does not need (LIST, fact, ...) and their pad bytes, and names the byte
 * offset of what it could not read. */
#include <math.h>
#include <string.h>

#include "audio_internal.h"

enum { WAV_PCM = 1, WAV_EXTENSIBLE = 0xFFFE };

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

/* Checks the "fmt " chunk at body (n bytes, at offset off of the file) describes 16-bit PCM. */
static cdz_status parse_fmt(const uint8_t *body, uint32_t n, size_t off, const char *what, cdz_audio *a, cdz_error *err) {
    if (n < 16) return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: byte %zu: a fmt chunk of %u bytes (16 needed)", what, off, n);
    uint32_t format = get16(body), channels = get16(body + 2), rate = get32(body + 4), bits = get16(body + 14);
    if (format == WAV_EXTENSIBLE && n >= 26) format = get16(body + 24); /* the sub-format GUID's first two bytes */
    if (format != WAV_PCM || bits != 16)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: byte %zu: sample format %u with %u bits (only 16-bit PCM is read)",
                             what, off, format, bits);
    if (channels < 1 || channels > 2 || rate == 0)
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: byte %zu: %u channels at %u Hz (1 or 2 channels are read)", what,
                             off, channels, rate);
    a->channels = (int)channels, a->sample_rate = rate;
    return CDZ_OK;
}

cdz_status cdz_wav_parse(const uint8_t *bytes, size_t len, const char *what, cdz_audio *a, cdz_error *err) {
    memset(a, 0, sizeof *a);
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
            cdz_status st = parse_fmt(body, n, off, what, a, err);
            if (st != CDZ_OK) return st;
            have_fmt = 1;
        } else if (memcmp(bytes + off, "data", 4) == 0) {
            if (!have_fmt) return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: byte %zu: data before the fmt chunk", what, off);
            if (n > left)
                return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: byte %zu: a data chunk of %u bytes, %zu in the file (truncated)",
                                     what, off, n, left);
            size_t block = 2 * (size_t)a->channels;
            a->frames = n / block;
            a->samples = cdz_calloc(a->frames * (size_t)a->channels + 1, sizeof *a->samples);
            if (!a->samples) return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", what);
            for (size_t i = 0; i < a->frames * (size_t)a->channels; i++) a->samples[i] = (int16_t)get16(body + 2 * i);
            return CDZ_OK;
        }
        size_t step = (size_t)n + (n & 1); /* chunks are padded to an even size */
        if (step > left) break;
        off += 8 + step;
    }
    return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: byte %zu: %s", what, off,
                         have_fmt ? "no data chunk (truncated?)" : "no fmt chunk (truncated?)");
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

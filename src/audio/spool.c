/* The spool: a render's float frames streamed to disk as they are made, and turned into a 16-bit WAV
 * file at the end. Normalising needs the whole piece's peak before the first 16-bit sample can be
 * written; keeping the float frames on disk instead of in memory lets a render of any length run in a
 * few blocks of memory and still be normalised from its true peak, to the same samples as a render in
 * memory (both convert with audio_quantize). See audio_internal.h for the layout on disk. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio_internal.h"

enum { SPOOL_BLOCK = 16384 }; /* frames converted at a time */

/* Writes all of p to fd: 0 or an errno. */
static int write_fd(int fd, const void *p, size_t n) {
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t k = write(fd, b, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return k < 0 ? errno : EIO;
        b += k, n -= (size_t)k;
    }
    return 0;
}

/* Reads exactly n bytes at offset off: 0 or an errno (EIO for a file shorter than what was written). */
static int read_at(int fd, void *p, size_t n, uint64_t off) {
    uint8_t *b = p;
    while (n > 0) {
        ssize_t k = pread(fd, b, n, (off_t)off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return k < 0 ? errno : EIO;
        b += k, n -= (size_t)k, off += (uint64_t)k;
    }
    return 0;
}

/* An unlinked scratch file in $TMPDIR (else /tmp), for a target that cannot be reread (a device, a
 * FIFO): it disappears with the process, however that ends. */
static int open_scratch(const char *path, cdz_error *err) {
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    char name[4096];
    snprintf(name, sizeof name, "%s/cadenza-render-XXXXXX", dir);
    int fd = mkstemp(name);
    if (fd < 0) {
        cdz_error_set(err, CDZ_ERR_IO, "%s: cannot create a scratch file in %s: %s", path, dir, strerror(errno));
        return -1;
    }
    unlink(name);
    return fd;
}

cdz_status spool_open(audio_spool *s, const char *path, int channels, uint32_t sample_rate, cdz_error *err) {
    memset(s, 0, sizeof *s);
    s->scratch = -1, s->channels = channels, s->sample_rate = sample_rate;
    cdz_status st = cdz_file_out_open(&s->out, path, err);
    if (st != CDZ_OK) return st;
    if (s->out.seekable) {
        uint8_t room[WAV_HEADER] = {0}; /* the header's place, filled in at the end */
        s->scratch = s->out.fd, s->base = WAV_HEADER;
        st = cdz_file_out_write(&s->out, room, WAV_HEADER, err);
    } else {
        s->scratch = open_scratch(path, err);
        if (s->scratch < 0) st = CDZ_ERR_IO;
    }
    if (st != CDZ_OK) spool_abort(s);
    return st;
}

void spool_abort(audio_spool *s) {
    if (s->scratch >= 0 && s->scratch != s->out.fd) close(s->scratch);
    if (s->out.path) cdz_file_out_abort(&s->out);
    s->scratch = -1;
}

cdz_status spool_append(audio_spool *s, const float *x, size_t frames, cdz_error *err) {
    size_t n = frames * (size_t)s->channels; /* a block of the caller's, in memory already */
    for (size_t i = 0; i < n; i++) s->peak = fmax(s->peak, fabs((double)x[i]));
    s->frames += frames;
    if (s->scratch == s->out.fd) return cdz_file_out_write(&s->out, x, n * sizeof *x, err);
    int e = write_fd(s->scratch, x, n * sizeof *x);
    return e ? cdz_error_set(err, CDZ_ERR_IO, "%s: writing the scratch file failed: %s", s->out.path, strerror(e)) : CDZ_OK;
}

/* Rereads the float frames a block at a time and writes them as 16-bit little-endian samples: over
 * the start of the same file, or after the header to a device. */
static cdz_status convert(audio_spool *s, double gain, size_t *clipped, int32_t *top, cdz_error *err) {
    size_t ch = (size_t)s->channels;
    float *x = cdz_malloc(SPOOL_BLOCK * ch * sizeof *x);
    int16_t *q = cdz_malloc(SPOOL_BLOCK * ch * sizeof *q);
    cdz_status st = x && q ? CDZ_OK : cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", s->out.path);
    for (uint64_t i = 0; st == CDZ_OK && i < s->frames; i += SPOOL_BLOCK) {
        size_t n = (size_t)(s->frames - i < SPOOL_BLOCK ? s->frames - i : SPOOL_BLOCK) * ch;
        int e = read_at(s->scratch, x, n * sizeof *x, s->base + i * ch * sizeof *x);
        if (e) {
            st = cdz_error_set(err, CDZ_ERR_IO, "%s: rereading the rendered audio failed: %s", s->out.path, strerror(e));
            break;
        }
        audio_quantize(q, x, n, gain, clipped, top);
        uint8_t *b = (uint8_t *)q; /* little-endian in place: q[j] is read before its two bytes are written */
        for (size_t j = 0; j < n; j++) {
            uint16_t v = (uint16_t)q[j];
            b[2 * j] = (uint8_t)v, b[2 * j + 1] = (uint8_t)(v >> 8);
        }
        st = s->out.seekable ? cdz_file_out_pwrite(&s->out, b, 2 * n, WAV_HEADER + i * ch * 2, err)
                             : cdz_file_out_write(&s->out, b, 2 * n, err);
    }
    cdz_free(x), cdz_free(q);
    return st;
}

cdz_status spool_finish(audio_spool *s, int normalize, double peak_dbfs, cdz_render_report *report, cdz_error *err) {
    uint64_t data = s->frames * 2 * (uint64_t)s->channels;
    if (data + WAV_HEADER - 8 > UINT32_MAX) { /* the RIFF size is 32 bits */
        spool_abort(s);
        return cdz_error_set(err, CDZ_ERR_RANGE, "%s: %llu frames are too many for a WAV file", s->out.path,
                             (unsigned long long)s->frames);
    }
    uint8_t h[WAV_HEADER];
    wav_header(h, s->channels, s->sample_rate, (uint32_t)data);
    double gain = audio_gain(s->peak, normalize, peak_dbfs);
    size_t clipped = 0;
    int32_t top = 0;
    /* a device gets the header first (the sizes are known now); a file gets it last, over its room */
    cdz_status st = s->out.seekable ? CDZ_OK : cdz_file_out_write(&s->out, h, WAV_HEADER, err);
    if (st == CDZ_OK) st = convert(s, gain, &clipped, &top, err);
    if (st == CDZ_OK && s->out.seekable && ftruncate(s->out.fd, (off_t)(WAV_HEADER + data)) != 0)
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: cannot truncate: %s", s->out.path, strerror(errno));
    if (st == CDZ_OK && s->out.seekable) st = cdz_file_out_pwrite(&s->out, h, WAV_HEADER, 0, err);
    if (st != CDZ_OK) {
        spool_abort(s);
        return st;
    }
    if (report) audio_report(report, gain, normalize, s->peak, clipped, top, (size_t)s->frames);
    if (s->scratch != s->out.fd) close(s->scratch);
    s->scratch = -1;
    return cdz_file_out_commit(&s->out, err);
}

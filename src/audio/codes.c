/* .codes files (cadenza/audio_codec.h): an audio codec's codes of one clip. Header, 64 bytes, little-
 * endian: magic "CDZCODES" (8), version u32, rate u32, hop u32, books u32, codebook u32, reserved u32,
 * frames u64, samples u64, checksum u64 (FNV-1a 64 of the code bytes), 8 reserved bytes (zero); then
 * frames x books u16 codes. */
#include <stdio.h>
#include <string.h>

#include "cadenza/audio_codec.h"

#define CODES_MAGIC "CDZCODES"
enum { CODES_VERSION = 1, CODES_HEADER = 64 };

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint64_t get64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

void cdz_codes_free(cdz_codes *c) {
    if (!c) return;
    cdz_free(c->codes);
    memset(c, 0, sizeof *c);
}

cdz_status cdz_codes_write(const char *path, const cdz_codes *c, cdz_error *err) {
    const cdz_audio_codec_shape *s = &c->shape;
    if (s->books < 1 || s->codebook < 2 || s->codebook > 65536 || s->hop < 1 || !s->rate)
        return cdz_error_set(err, CDZ_ERR_ARG, "%s: codes of %d books of %d entries, hop %d, rate %u: not a codec's shape", path,
                             s->books, s->codebook, s->hop, s->rate);
    size_t n = 0, bytes = 0;
    if (!cdz_mul_ok((size_t)c->frames, (size_t)s->books, &n) || !cdz_mul_ok(n, 2, &bytes) || bytes > SIZE_MAX - CODES_HEADER)
        return cdz_error_set(err, CDZ_ERR_RANGE, "%s: %llu frames are too many", path, (unsigned long long)c->frames);
    for (size_t i = 0; i < n; i++)
        if (c->codes[i] >= (uint32_t)s->codebook)
            return cdz_error_set(err, CDZ_ERR_RANGE, "%s: code %u at %zu is past the codebook (%d)", path, c->codes[i], i, s->codebook);
    uint8_t *buf = cdz_malloc(CODES_HEADER + bytes);
    if (!buf) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory writing %s", path);
    memset(buf, 0, CODES_HEADER);
    memcpy(buf, CODES_MAGIC, 8);
    put32(buf + 8, CODES_VERSION);
    put32(buf + 12, s->rate);
    put32(buf + 16, (uint32_t)s->hop);
    put32(buf + 20, (uint32_t)s->books);
    put32(buf + 24, (uint32_t)s->codebook);
    put64(buf + 32, c->frames);
    put64(buf + 40, c->samples);
    for (size_t i = 0; i < n; i++) buf[CODES_HEADER + 2 * i] = (uint8_t)c->codes[i], buf[CODES_HEADER + 2 * i + 1] = (uint8_t)(c->codes[i] >> 8);
    put64(buf + 48, cdz_fnv1a64(CDZ_FNV_OFFSET, buf + CODES_HEADER, bytes));
    cdz_status st = cdz_file_write_atomic(path, buf, CODES_HEADER + bytes, err);
    cdz_free(buf);
    return st;
}

cdz_status cdz_codes_parse(const uint8_t *b, size_t len, const char *what, cdz_codes *c, cdz_error *err) {
    memset(c, 0, sizeof *c);
    if (len < CODES_HEADER || memcmp(b, CODES_MAGIC, 8) != 0)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: not a cadenza .codes file (%s)", what,
                             len < CODES_HEADER ? "shorter than its 64-byte header" : "no CDZCODES magic");
    uint32_t version = get32(b + 8);
    if (version != CODES_VERSION)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: .codes version %u; this build reads version %d", what, version, CODES_VERSION);
    cdz_audio_codec_shape s = {get32(b + 12), (int)get32(b + 16), (int)get32(b + 20), (int)get32(b + 24)};
    if (s.rate < 1000 || s.rate > 384000 || s.hop < 1 || s.hop > 1 << 20 || s.books < 1 || s.books > 64 || s.codebook < 2 ||
        s.codebook > 65536)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: the header describes no codec (rate %u, hop %d, %d books of %d)", what,
                             s.rate, s.hop, s.books, s.codebook);
    uint64_t frames = get64(b + 32), samples = get64(b + 40);
    size_t n = 0, bytes = 0;
    if (!cdz_mul_ok((size_t)frames, (size_t)s.books, &n) || !cdz_mul_ok(n, 2, &bytes) || frames != (size_t)frames)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: the header's %llu frames cannot be", what, (unsigned long long)frames);
    if (len - CODES_HEADER != bytes)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: %s: the header describes %zu bytes of codes, the file has %zu", what,
                             len - CODES_HEADER < bytes ? "truncated" : "trailing bytes", bytes, len - CODES_HEADER);
    if (samples > frames * (uint64_t)s.hop)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: %llu samples do not fit in %llu frames of %d", what,
                             (unsigned long long)samples, (unsigned long long)frames, s.hop);
    if (cdz_fnv1a64(CDZ_FNV_OFFSET, b + CODES_HEADER, bytes) != get64(b + 48))
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: the checksum does not match: the codes were changed or damaged", what);
    uint16_t *codes = cdz_malloc((n ? n : 1) * sizeof *codes);
    if (!codes) return cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory reading %s", what);
    for (size_t i = 0; i < n; i++) {
        codes[i] = (uint16_t)(b[CODES_HEADER + 2 * i] | b[CODES_HEADER + 2 * i + 1] << 8);
        if (codes[i] >= s.codebook) {
            unsigned bad = codes[i];
            cdz_free(codes);
            return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: code %u at frame %zu is past the codebook of %d", what, bad,
                                 i / (size_t)s.books, s.codebook);
        }
    }
    c->shape = s, c->frames = frames, c->samples = samples, c->codes = codes;
    return CDZ_OK;
}

cdz_status cdz_codes_read(const char *path, cdz_codes *c, cdz_error *err) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    memset(c, 0, sizeof *c);
    cdz_status st = cdz_file_read_all(path, &bytes, &len, err);
    if (st) return st;
    st = cdz_codes_parse(bytes, len, path, c, err);
    cdz_free(bytes);
    return st;
}

/* Whole-file reading and crash-safe writing (temporary file, fsync, rename). */
#define _POSIX_C_SOURCE 200809L
#include "cadenza/core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

cdz_status cdz_file_read_all(const char *path, uint8_t **out, size_t *len, cdz_error *err) {
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return cdz_error_set(err, CDZ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    cdz_status st = CDZ_OK;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: is a directory, not a file", path);
        goto fail;
    }
    /* Regular files are read in one go; pipes and devices grow the buffer as they deliver. */
    size_t cap = (S_ISREG(sb.st_mode) && sb.st_size > 0) ? (size_t)sb.st_size : 65536;
    size_t used = 0;
    buf = cdz_malloc(cap + 1);
    if (!buf) {
        st = cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, cap);
        goto fail;
    }
    for (;;) {
        if (used == cap) {
            size_t c = cap + 1;
            if (cdz_grow((void **)&buf, &c, cap * 2 + 1, 1) != CDZ_OK) {
                st = cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory after %zu bytes", path, used);
                goto fail;
            }
            cap = c - 1;
        }
        ssize_t n = read(fd, buf + used, cap - used);
        if (n < 0) {
            if (errno == EINTR) continue;
            st = cdz_error_set(err, CDZ_ERR_IO, "%s: read failed at byte %zu: %s", path, used, strerror(errno));
            goto fail;
        }
        if (n == 0) break;
        used += (size_t)n;
    }
    close(fd);
    *out = buf;
    *len = used;
    return CDZ_OK;
fail:
    cdz_free(buf);
    close(fd);
    return st;
}

cdz_status cdz_file_write_atomic(const char *path, const void *bytes, size_t len, cdz_error *err) {
    size_t plen = strlen(path);
    size_t tlen;
    if (!cdz_add_ok(plen, 32, &tlen)) return cdz_error_set(err, CDZ_ERR_ARG, "path too long");
    char *tmp = cdz_malloc(tlen);
    if (!tmp) return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, tlen, "%s.tmp%ld", path, (long)getpid());
    cdz_status st = CDZ_OK;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    const uint8_t *p = bytes;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            st = cdz_error_set(err, CDZ_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (st == CDZ_OK && fsync(fd) != 0)
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    if (close(fd) != 0 && st == CDZ_OK)
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == CDZ_OK && rename(tmp, path) != 0)
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: cannot rename from %s: %s", path, tmp, strerror(errno));
    if (st != CDZ_OK) unlink(tmp);
done:
    cdz_free(tmp);
    return st;
}

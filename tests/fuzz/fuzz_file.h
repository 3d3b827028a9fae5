/* For fuzz targets whose reader takes a path: the input's bytes in a temporary file of the process's own
 * (made once under $TMPDIR or /tmp, rewritten for every input). Where /proc/self/fd exists (Linux) the
 * file is unlinked at once and read through that path, so not even a crash leaves it behind; elsewhere
 * it is removed at exit. */
#ifndef CADENZA_FUZZ_FILE_H
#define CADENZA_FUZZ_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cadenza.h"

static char fuzz_path_[4096];

static void fuzz_file_remove_(void) {
    if (fuzz_path_[0]) unlink(fuzz_path_);
}

/* The temporary file, holding exactly `size` bytes of data; aborts if it cannot be written (the
 * machine's fault, not the reader's). */
static inline const char *fuzz_file(const uint8_t *data, size_t size) {
    static int fd = -1;
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(fuzz_path_, sizeof fuzz_path_, "%s/cadenza-fuzz-XXXXXX", dir && *dir ? dir : "/tmp");
        if ((fd = mkstemp(fuzz_path_)) < 0) {
            perror("fuzz: mkstemp");
            abort();
        }
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        if (access(proc, R_OK) == 0 && unlink(fuzz_path_) == 0)
            snprintf(fuzz_path_, sizeof fuzz_path_, "%s", proc);
        else
            atexit(fuzz_file_remove_);
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        if (n <= 0) {
            perror("fuzz: pwrite");
            abort();
        }
        done += (size_t)n;
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        perror("fuzz: ftruncate");
        abort();
    }
    return fuzz_path_;
}

/* A failed call must say what failed and where: a message that names the file. */
static inline void fuzz_check_error(const char *what, cdz_status st, const cdz_error *err, const char *path) {
    if (st == CDZ_OK) return;
    if (!err->msg[0] || !strstr(err->msg, path)) {
        fprintf(stderr, "%s: status %d with the message \"%s\" (it must name %s)\n", what, st, err->msg, path);
        abort();
    }
}
#endif

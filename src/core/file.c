/* Whole-file reading and crash-safe writing (temporary file, fsync, rename). */
#define _POSIX_C_SOURCE 200809L
#include "cadenza/core.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>
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
    buf[used] = 0; /* text readers may rely on it; not counted in len */
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

typedef struct file_list {
    char **v;
    size_t n, cap;
    struct folder_id {
        dev_t dev;
        ino_t ino;
    } *seen; /* folders entered, so symbolic links cannot make the walk loop */
    size_t n_seen, cap_seen;
} file_list;

/* Returns 1 if the folder was entered before, else records it (0), or -1 when out of memory. */
static int seen_before(file_list *l, const struct stat *sb) {
    for (size_t i = 0; i < l->n_seen; i++)
        if (l->seen[i].dev == sb->st_dev && l->seen[i].ino == sb->st_ino) return 1;
    if (cdz_grow((void **)&l->seen, &l->cap_seen, l->n_seen + 1, sizeof *l->seen)) return -1;
    l->seen[l->n_seen].dev = sb->st_dev;
    l->seen[l->n_seen].ino = sb->st_ino;
    l->n_seen++;
    return 0;
}

static int has_suffix(const char *name, const char *suffixes) {
    if (!suffixes || !*suffixes) return 1;
    size_t len = strlen(name);
    const char *p = suffixes;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t k = comma ? (size_t)(comma - p) : strlen(p);
        if (k && k <= len && strncasecmp(name + len - k, p, k) == 0) return 1;
        p += k + (comma ? 1 : 0);
    }
    return 0;
}

static cdz_status list_add(file_list *l, const char *path) {
    if (cdz_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v)) return CDZ_ERR_NOMEM;
    size_t len = strlen(path) + 1;
    char *copy = cdz_malloc(len);
    if (!copy) return CDZ_ERR_NOMEM;
    memcpy(copy, path, len);
    l->v[l->n++] = copy;
    return CDZ_OK;
}

/* Depth-first walk; each folder is entered once, however many links lead to it. */
static cdz_status walk(const char *dir, const struct stat *dir_stat, const char *suffixes, file_list *l) {
    int seen = seen_before(l, dir_stat);
    if (seen < 0) return CDZ_ERR_NOMEM;
    if (seen) return CDZ_OK;
    DIR *d = opendir(dir);
    if (!d) return CDZ_OK;
    cdz_status st = CDZ_OK;
    struct dirent *e;
    size_t dlen = strlen(dir);
    while (st == CDZ_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue; /* also skips hidden files and folders */
        size_t len = dlen + strlen(e->d_name) + 2;
        char *path = cdz_malloc(len);
        if (!path) {
            st = CDZ_ERR_NOMEM;
            break;
        }
        snprintf(path, len, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) == 0) {
            if (S_ISDIR(sb.st_mode))
                st = walk(path, &sb, suffixes, l);
            else if (S_ISREG(sb.st_mode) && has_suffix(e->d_name, suffixes))
                st = list_add(l, path);
        }
        cdz_free(path);
    }
    closedir(d);
    return st;
}

static int path_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

cdz_status cdz_file_list(const char *root, const char *suffixes, char ***paths, size_t *n, cdz_error *err) {
    *paths = NULL;
    *n = 0;
    struct stat sb;
    if (stat(root, &sb) != 0) return cdz_error_set(err, CDZ_ERR_IO, "%s: %s", root, strerror(errno));
    file_list l = {0};
    cdz_status st;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(root);
        if (!d) return cdz_error_set(err, CDZ_ERR_IO, "%s: cannot open folder: %s", root, strerror(errno));
        closedir(d);
        st = walk(root, &sb, suffixes, &l);
    } else {
        st = list_add(&l, root);
    }
    cdz_free(l.seen);
    if (st != CDZ_OK) {
        cdz_file_list_free(l.v, l.n);
        return cdz_error_set(err, st, "%s: out of memory listing files", root);
    }
    if (l.n > 1) qsort(l.v, l.n, sizeof *l.v, path_cmp);
    *paths = l.v;
    *n = l.n;
    return CDZ_OK;
}

void cdz_file_list_free(char **paths, size_t n) {
    for (size_t i = 0; i < n; i++) cdz_free(paths[i]);
    cdz_free(paths);
}

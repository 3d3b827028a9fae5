/* Whole-file reading and crash-safe writing (temporary file, fsync, rename). */
#define _POSIX_C_SOURCE 200809L
#include "cadenza/core.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>
#include <fcntl.h>
#include <signal.h>
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

/* Writes all of bytes to fd; 0 or an errno. */
static int write_all(int fd, const uint8_t *p, size_t left) {
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0) return EIO;
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

/* The file a path names after following symbolic links (at most 40), into a new string; NULL when out
 * of memory or the links loop (errno ELOOP). A missing final target is fine: it is what gets created. */
static char *follow_links(const char *path) {
    char *cur = cdz_malloc(strlen(path) + 1);
    if (!cur) return NULL;
    strcpy(cur, path);
    for (int hops = 0; hops < 40; hops++) {
        struct stat sb;
        if (lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode)) return cur;
        size_t cap = (size_t)sb.st_size + 1 > 256 ? (size_t)sb.st_size + 1 : 256;
        char *target = cdz_malloc(cap);
        ssize_t n = target ? readlink(cur, target, cap - 1) : -1;
        if (n < 0) {
            cdz_free(target);
            return cur; /* unreadable link: let the write report it */
        }
        target[n] = 0;
        char *next = target;
        if (target[0] != '/') { /* relative to the link's folder */
            const char *slash = strrchr(cur, '/');
            size_t dir = slash ? (size_t)(slash - cur) + 1 : 0;
            next = cdz_malloc(dir + (size_t)n + 1);
            if (next) memcpy(next, cur, dir), memcpy(next + dir, target, (size_t)n + 1);
            cdz_free(target);
        }
        cdz_free(cur);
        if (!next) return NULL;
        cur = next;
    }
    cdz_free(cur);
    errno = ELOOP;
    return NULL;
}

/* Temporaries are hidden beside their target and carry the writing process's id: ".NAME.cadenza-tmp.PID".
 * A process killed while writing leaves one behind; the next write of the same file removes those
 * whose process no longer runs. */
#define TMP_TAG ".cadenza-tmp."

static void remove_stale_temporaries(const char *dir, const char *base) {
    DIR *d = opendir(dir[0] ? dir : ".");
    if (!d) return;
    size_t bl = strlen(base), tl = strlen(TMP_TAG);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (n[0] != '.' || strncmp(n + 1, base, bl) != 0 || strncmp(n + 1 + bl, TMP_TAG, tl) != 0) continue;
        char *end;
        long pid = strtol(n + 1 + bl + tl, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its writer still runs (or is not ours) */
        char *full = cdz_malloc(strlen(dir) + strlen(n) + 2);
        if (!full) break;
        sprintf(full, "%s%s", dir, n);
        unlink(full);
        cdz_free(full);
    }
    closedir(d);
}

cdz_status cdz_file_write_atomic(const char *path, const void *bytes, size_t len, cdz_error *err) {
    if (!path || !*path) return cdz_error_set(err, CDZ_ERR_ARG, "no file name to write to");
    /* a symbolic link is written through: the file it names is replaced, the link stays */
    char *real = follow_links(path);
    if (!real)
        return cdz_error_set(err, errno == ELOOP ? CDZ_ERR_IO : CDZ_ERR_NOMEM, "%s: %s", path,
                             errno == ELOOP ? "too many levels of symbolic links" : "out of memory");
    cdz_status st = CDZ_OK;
    struct stat sb;
    if (stat(real, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        /* a device, a FIFO: write to it as it is (what it does with the bytes is its business); a folder
         * or a socket is no file to write */
        if (S_ISDIR(sb.st_mode) || S_ISSOCK(sb.st_mode)) {
            st = cdz_error_set(err, CDZ_ERR_IO, "%s: is a %s, not a file", path, S_ISDIR(sb.st_mode) ? "folder" : "socket");
        } else {
            int fd = open(real, O_WRONLY);
            int e = fd < 0 ? errno : write_all(fd, bytes, len);
            if (fd >= 0 && close(fd) != 0 && !e) e = errno;
            if (e) st = cdz_error_set(err, CDZ_ERR_IO, "%s: write failed: %s", path, strerror(e));
        }
        cdz_free(real);
        return st;
    }
    const char *slash = strrchr(real, '/');
    size_t dir_len = slash ? (size_t)(slash - real) + 1 : 0, tlen;
    const char *base = real + dir_len;
    if (!cdz_add_ok(strlen(real), 64, &tlen)) {
        cdz_free(real);
        return cdz_error_set(err, CDZ_ERR_ARG, "path too long");
    }
    char *tmp = cdz_malloc(tlen), *dir = cdz_malloc(dir_len + 1);
    if (!tmp || !dir) {
        cdz_free(tmp), cdz_free(dir), cdz_free(real);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(dir, real, dir_len);
    dir[dir_len] = 0;
    snprintf(tmp, tlen, "%s.%s" TMP_TAG "%ld", dir, base, (long)getpid());
    remove_stale_temporaries(dir, base);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: cannot create a file in %s: %s", path, dir_len ? dir : "this folder",
                           strerror(errno));
        goto done;
    }
    int e = write_all(fd, bytes, len);
    if (e) st = cdz_error_set(err, CDZ_ERR_IO, "%s: write failed: %s", path, strerror(e));
    if (st == CDZ_OK && fsync(fd) != 0) st = cdz_error_set(err, CDZ_ERR_IO, "%s: fsync failed: %s", path, strerror(errno));
    if (close(fd) != 0 && st == CDZ_OK) st = cdz_error_set(err, CDZ_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    if (st == CDZ_OK && rename(tmp, real) != 0)
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: cannot rename from %s: %s", path, tmp, strerror(errno));
    if (st != CDZ_OK) unlink(tmp);
done:
    cdz_free(tmp), cdz_free(dir), cdz_free(real);
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

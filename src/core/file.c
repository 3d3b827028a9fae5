/* Whole-file reading and crash-safe writing (temporary file, fsync, rename). Writing goes through the
 * replaceable file-output hook, so tests can inject a full disk at any step. */
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

/* ---- the file-output hook (cadenza/core.h): the system calls unless a test replaces them ---- */
static int sys_open(void *ctx, const char *path, int flags, unsigned mode) {
    (void)ctx;
    return open(path, flags, (mode_t)mode);
}
static ptrdiff_t sys_write(void *ctx, int fd, const void *buf, size_t n) {
    (void)ctx;
    return write(fd, buf, n);
}
static ptrdiff_t sys_pwrite(void *ctx, int fd, const void *buf, size_t n, uint64_t offset) {
    (void)ctx;
    return pwrite(fd, buf, n, (off_t)offset);
}
static int sys_sync(void *ctx, int fd) {
    (void)ctx;
    return fsync(fd);
}
static int sys_close(void *ctx, int fd) {
    (void)ctx;
    return close(fd);
}
static int sys_rename(void *ctx, const char *from, const char *to) {
    (void)ctx;
    return rename(from, to);
}

cdz_file_ops cdz_file_ops_default(void) {
    return (cdz_file_ops){sys_open, sys_write, sys_pwrite, sys_sync, sys_close, sys_rename, NULL};
}

static cdz_file_ops g_ops = {sys_open, sys_write, sys_pwrite, sys_sync, sys_close, sys_rename, NULL};

void cdz_set_file_ops(const cdz_file_ops *ops) { g_ops = ops ? *ops : cdz_file_ops_default(); }

/* Writes all of bytes to fd, however short each write: at offset `at`, or appended when `at` is NULL.
 * 0 or an errno, with *done the bytes written. */
static int write_all(int fd, const uint8_t *p, size_t left, const uint64_t *at, size_t *done) {
    *done = 0;
    while (left > 0) {
        ptrdiff_t n = at ? g_ops.pwrite(g_ops.ctx, fd, p, left, *at + *done) : g_ops.write(g_ops.ctx, fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (n == 0 || (size_t)n > left) return EIO; /* no progress, or a write that claims too much */
        p += n;
        left -= (size_t)n;
        *done += (size_t)n;
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

/* Opens what a device or FIFO target takes as it is (no temporary: what it does with the bytes is its
 * business); a folder or a socket is no file to write. */
static cdz_status open_through(cdz_file_out *f, const struct stat *sb, cdz_error *err) {
    if (S_ISDIR(sb->st_mode) || S_ISSOCK(sb->st_mode))
        return cdz_error_set(err, CDZ_ERR_IO, "%s: is a %s, not a file", f->path, S_ISDIR(sb->st_mode) ? "folder" : "socket");
    f->fd = g_ops.open(g_ops.ctx, f->target, O_WRONLY, 0);
    if (f->fd < 0) return cdz_error_set(err, CDZ_ERR_IO, "%s: cannot open for writing: %s", f->path, strerror(errno));
    return CDZ_OK;
}

/* Creates the hidden temporary beside the (link-followed) target. */
static cdz_status open_temporary(cdz_file_out *f, cdz_error *err) {
    const char *slash = strrchr(f->target, '/');
    size_t dir_len = slash ? (size_t)(slash - f->target) + 1 : 0, tlen;
    const char *base = f->target + dir_len;
    if (!cdz_add_ok(strlen(f->target), 64, &tlen)) return cdz_error_set(err, CDZ_ERR_ARG, "path too long");
    char *dir = cdz_malloc(dir_len + 1);
    f->tmp = cdz_malloc(tlen);
    if (!f->tmp || !dir) {
        cdz_free(dir);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", f->path);
    }
    memcpy(dir, f->target, dir_len);
    dir[dir_len] = 0;
    snprintf(f->tmp, tlen, "%s.%s" TMP_TAG "%ld", dir, base, (long)getpid());
    remove_stale_temporaries(dir, base);
    cdz_status st = CDZ_OK;
    f->fd = g_ops.open(g_ops.ctx, f->tmp, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (f->fd < 0)
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: cannot create a file in %s: %s", f->path, dir_len ? dir : "this folder",
                           strerror(errno));
    f->seekable = f->fd >= 0;
    cdz_free(dir);
    return st;
}

/* Frees what a handle holds (the descriptor is closed by the caller). */
static void release_out(cdz_file_out *f) {
    cdz_free(f->path), cdz_free(f->target), cdz_free(f->tmp);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

cdz_status cdz_file_out_open(cdz_file_out *f, const char *path, cdz_error *err) {
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!path || !*path) return cdz_error_set(err, CDZ_ERR_ARG, "no file name to write to");
    f->path = cdz_malloc(strlen(path) + 1);
    if (!f->path) return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", path);
    strcpy(f->path, path);
    /* a symbolic link is written through: the file it names is replaced, the link stays */
    f->target = follow_links(path);
    if (!f->target) {
        int loop = errno == ELOOP;
        release_out(f);
        return cdz_error_set(err, loop ? CDZ_ERR_IO : CDZ_ERR_NOMEM, "%s: %s", path,
                             loop ? "too many levels of symbolic links" : "out of memory");
    }
    struct stat sb;
    cdz_status st = stat(f->target, &sb) == 0 && !S_ISREG(sb.st_mode) ? open_through(f, &sb, err) : open_temporary(f, err);
    if (st != CDZ_OK) {
        if (f->fd >= 0) g_ops.close(g_ops.ctx, f->fd);
        if (f->tmp && f->fd >= 0) unlink(f->tmp);
        release_out(f);
    }
    return st;
}

cdz_status cdz_file_out_write(cdz_file_out *f, const void *bytes, size_t len, cdz_error *err) {
    size_t done;
    int e = write_all(f->fd, bytes, len, NULL, &done);
    f->written += done;
    return e ? cdz_error_set(err, CDZ_ERR_IO, "%s: write failed at byte %llu: %s", f->path, (unsigned long long)f->written,
                             strerror(e))
             : CDZ_OK;
}

cdz_status cdz_file_out_pwrite(cdz_file_out *f, const void *bytes, size_t len, uint64_t offset, cdz_error *err) {
    if (!f->seekable) return cdz_error_set(err, CDZ_ERR_ARG, "%s: not a file that can be written at an offset", f->path);
    size_t done;
    int e = write_all(f->fd, bytes, len, &offset, &done);
    return e ? cdz_error_set(err, CDZ_ERR_IO, "%s: write failed at byte %llu: %s", f->path,
                             (unsigned long long)(offset + done), strerror(e))
             : CDZ_OK;
}

cdz_status cdz_file_out_commit(cdz_file_out *f, cdz_error *err) {
    cdz_status st = CDZ_OK;
    if (f->tmp && g_ops.sync(g_ops.ctx, f->fd) != 0)
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: fsync failed: %s", f->path, strerror(errno));
    if (g_ops.close(g_ops.ctx, f->fd) != 0 && st == CDZ_OK)
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: %s failed: %s", f->path, f->tmp ? "close" : "write", strerror(errno));
    if (f->tmp && st == CDZ_OK && g_ops.rename(g_ops.ctx, f->tmp, f->target) != 0)
        st = cdz_error_set(err, CDZ_ERR_IO, "%s: cannot rename from %s: %s", f->path, f->tmp, strerror(errno));
    if (f->tmp && st != CDZ_OK) unlink(f->tmp);
    release_out(f);
    return st;
}

void cdz_file_out_abort(cdz_file_out *f) {
    if (f->fd >= 0) g_ops.close(g_ops.ctx, f->fd);
    if (f->tmp) unlink(f->tmp);
    release_out(f);
}

cdz_status cdz_file_write_atomic(const char *path, const void *bytes, size_t len, cdz_error *err) {
    cdz_file_out f;
    cdz_status st = cdz_file_out_open(&f, path, err);
    if (st != CDZ_OK) return st;
    st = cdz_file_out_write(&f, bytes, len, err);
    if (st != CDZ_OK) {
        cdz_file_out_abort(&f);
        return st;
    }
    return cdz_file_out_commit(&f, err);
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

/* Core: status text, errors, checked arithmetic, growth, the stable sort, files, counter-based
 * randomness. */
#define _DEFAULT_SOURCE
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

typedef struct pair {
    int key, order;
} pair;
static int pair_cmp(const void *a, const void *b) { return ((const pair *)a)->key - ((const pair *)b)->key; }

static void test_status_and_errors(void) {
    CHECK(strcmp(cdz_status_str(CDZ_OK), "ok") == 0, "ok text");
    CHECK(strcmp(cdz_status_str(CDZ_ERR_FORMAT), "malformed input") == 0, "format text");
    CHECK(strcmp(cdz_status_str(-999), "unknown error") == 0, "unknown status text");
    cdz_error err;
    CHECK_INT(cdz_error_set(&err, CDZ_ERR_IO, "%s: %d", "x", 5), CDZ_ERR_IO);
    CHECK(strcmp(err.msg, "x: 5") == 0 && err.status == CDZ_ERR_IO, "error message '%s'", err.msg);
    CHECK_INT(cdz_error_set(NULL, CDZ_ERR_ARG, "ignored"), CDZ_ERR_ARG);
    size_t r;
    CHECK(cdz_mul_ok(SIZE_MAX / 2, 3, &r) == 0, "multiplication overflow detected");
    CHECK(cdz_add_ok(SIZE_MAX, 1, &r) == 0, "addition overflow detected");
    CHECK(cdz_mul_ok(1000, 1000, &r) && r == 1000000, "multiplication");
    CHECK(cdz_calloc(SIZE_MAX / 2, 4) == NULL, "calloc overflow returns NULL");
    int *v = NULL;
    size_t cap = 0;
    CHECK_INT(cdz_grow((void **)&v, &cap, 5, sizeof *v), CDZ_OK);
    CHECK(cap >= 5, "grow capacity %zu", cap);
    CHECK_INT(cdz_grow((void **)&v, &cap, SIZE_MAX / 2, sizeof *v), CDZ_ERR_NOMEM);
    CHECK(v != NULL && cap >= 5, "failed growth keeps the array");
    cdz_free(v);
}

static void test_sort_stable(void) {
    for (int n = 0; n < 300; n += 7) {
        pair *p = malloc(sizeof *p * (size_t)(n + 1));
        for (int i = 0; i < n; i++) p[i] = (pair){(i * 7919) % 13, i};
        CHECK_INT(cdz_sort_stable(p, (size_t)n, sizeof *p, pair_cmp), CDZ_OK);
        int ok = 1;
        for (int i = 1; i < n; i++)
            if (p[i - 1].key > p[i].key || (p[i - 1].key == p[i].key && p[i - 1].order > p[i].order)) ok = 0;
        CHECK(ok, "sort of %d items is not sorted and stable", n);
        free(p);
    }
}

static void test_files(void) {
    char dir[] = "/tmp/cadenza_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256], sub[256], other[256];
    snprintf(path, sizeof path, "%s/a.mid", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    snprintf(other, sizeof other, "%s/sub/b.MID", dir);
    cdz_error err = {0};
    CHECK_INT(cdz_file_write_atomic(path, "hello", 5, &err), CDZ_OK);
    CHECK_INT(cdz_file_write_atomic(path, "hi", 2, &err), CDZ_OK); /* replaces */
    uint8_t *b;
    size_t n;
    CHECK_INT(cdz_file_read_all(path, &b, &n, &err), CDZ_OK);
    CHECK(n == 2 && memcmp(b, "hi", 2) == 0, "read back what was written");
    cdz_free(b);
    mkdir(sub, 0755);
    CHECK_INT(cdz_file_write_atomic(other, "", 0, &err), CDZ_OK);
    char bad[300];
    snprintf(bad, sizeof bad, "%s/missing/x.mid", dir);
    CHECK_INT(cdz_file_write_atomic(bad, "x", 1, &err), CDZ_ERR_IO);
    CHECK_STR_CONTAINS(err.msg, "cannot create");
    CHECK_INT(cdz_file_read_all(sub, &b, &n, &err), CDZ_ERR_IO);
    CHECK_STR_CONTAINS(err.msg, "is a directory");
    char **paths;
    CHECK_INT(cdz_file_list(dir, ".mid", &paths, &n, &err), CDZ_OK);
    CHECK(n == 2 && strcmp(paths[0], path) == 0 && strcmp(paths[1], other) == 0, "listed %zu files", n);
    cdz_file_list_free(paths, n);
    /* Links back up the tree are followed once, never round in circles. */
    char loop[300], up[300];
    snprintf(loop, sizeof loop, "%s/sub/self", dir);
    snprintf(up, sizeof up, "%s/sub/up", dir);
    CHECK(symlink(".", loop) == 0 && symlink("..", up) == 0, "symlinks");
    CHECK_INT(cdz_file_list(dir, ".mid", &paths, &n, &err), CDZ_OK);
    CHECK(n == 2, "with link loops, listed %zu files, expected 2", n);
    cdz_file_list_free(paths, n);
    unlink(loop);
    unlink(up);
    CHECK_INT(cdz_file_list(dir, ".wav", &paths, &n, &err), CDZ_OK);
    CHECK_INT(n, 0);
    cdz_file_list_free(paths, n);
    CHECK_INT(cdz_file_list(bad, NULL, &paths, &n, &err), CDZ_ERR_IO);
    /* A failed atomic write leaves the old file whole and no temporary behind. */
    CHECK_INT(cdz_file_read_all(path, &b, &n, &err), CDZ_OK);
    CHECK(n == 2, "old file intact");
    cdz_free(b);
    FAIL_EACH_ALLOCATION("file list", (cdz_file_list(dir, NULL, &paths, &n, NULL) == CDZ_OK ? (cdz_file_list_free(paths, n), CDZ_OK) : CDZ_ERR_NOMEM));
    unlink(other);
    rmdir(sub);
    unlink(path);
    CHECK(rmdir(dir) == 0, "temporary folder left files behind");
}

/* What a path names is what gets written: a symbolic link is written through (the link stays), a
 * device gets the bytes (and /dev/full its error), a folder is refused; temporaries a killed writer left
 * beside the target are removed by the next write, a running writer's are not. */
static void test_write_targets(void) {
    char dir[] = "/tmp/cadenza_core_XXXXXX";
    if (!mkdtemp(dir)) return;
    char real[300], link_path[300], cmd[400];
    cdz_error err;
    snprintf(real, sizeof real, "%s/real.txt", dir);
    snprintf(link_path, sizeof link_path, "%s/link.txt", dir);
    CHECK_INT(cdz_file_write_atomic(real, "one", 3, &err), CDZ_OK);
    CHECK(symlink("real.txt", link_path) == 0, "symlink");
    CHECK_INT(cdz_file_write_atomic(link_path, "two!", 4, &err), CDZ_OK);
    struct stat sb;
    CHECK(lstat(link_path, &sb) == 0 && S_ISLNK(sb.st_mode), "the link is still a link");
    uint8_t *got = NULL;
    size_t n = 0;
    CHECK(cdz_file_read_all(real, &got, &n, &err) == CDZ_OK && n == 4 && memcmp(got, "two!", 4) == 0,
          "written through the link to its file");
    cdz_free(got);
    CHECK(access("/dev/null", W_OK) != 0 || cdz_file_write_atomic("/dev/null", "x", 1, &err) == CDZ_OK,
          "a device is written to: %s", err.msg);
    CHECK(lstat("/dev/null", &sb) == 0 && S_ISCHR(sb.st_mode), "/dev/null is still a device");
    if (access("/dev/full", W_OK) == 0)
        CHECK(cdz_file_write_atomic("/dev/full", "x", 1, &err) == CDZ_ERR_IO && strstr(err.msg, "/dev/full"),
              "/dev/full reports its error: %s", err.msg);
    CHECK(cdz_file_write_atomic(dir, "x", 1, &err) == CDZ_ERR_IO && strstr(err.msg, "folder"), "a folder: %s", err.msg);
    /* a loop of links */
    char loop_a[300], loop_b[300];
    snprintf(loop_a, sizeof loop_a, "%s/a", dir);
    snprintf(loop_b, sizeof loop_b, "%s/b", dir);
    CHECK(symlink("b", loop_a) == 0 && symlink("a", loop_b) == 0, "looping links");
    CHECK(cdz_file_write_atomic(loop_a, "x", 1, &err) == CDZ_ERR_IO && strstr(err.msg, "symbolic links"), "%s", err.msg);
    /* temporaries: one of a process that is gone, one of a running process (our parent) */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    char stale[320], live[320];
    snprintf(stale, sizeof stale, "%s/.real.txt.cadenza-tmp.%ld", dir, (long)child);
    snprintf(live, sizeof live, "%s/.real.txt.cadenza-tmp.%ld", dir, (long)getppid());
    CHECK(cdz_file_write_atomic(stale, "junk", 4, &err) == CDZ_OK && cdz_file_write_atomic(live, "junk", 4, &err) == CDZ_OK,
          "%s", err.msg);
    CHECK_INT(cdz_file_write_atomic(real, "three", 5, &err), CDZ_OK);
    CHECK(access(stale, F_OK) != 0, "a dead writer's temporary is removed");
    CHECK(access(live, F_OK) == 0, "a running writer's temporary is kept");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "clean up");
}

/* cdz_random_at is splitmix64 indexed: the reference implementation's outputs for seed 1234567
 * (Vigna's splitmix64.c), and the state cdz_rng_seed gives a generator. */
static void test_random_at(void) {
    static const uint64_t want[5] = {6457827717110365317ULL, 3203168211198807973ULL, 9817491932198370423ULL,
                                     4593380528125082431ULL, 16408922859458223821ULL};
    for (uint64_t i = 0; i < 5; i++)
        CHECK(cdz_random_at(1234567, i) == want[i], "cdz_random_at(1234567, %llu) = %llu, splitmix64 gives %llu",
              (unsigned long long)i, (unsigned long long)cdz_random_at(1234567, i), (unsigned long long)want[i]);
    cdz_rng r;
    cdz_rng_seed(&r, 42);
    for (int i = 0; i < 4; i++) CHECK(r.s[i] == cdz_random_at(42, (uint64_t)i), "generator state word %d", i);
}

static cdz_status open_and_commit(const char *path) {
    cdz_file_out f;
    cdz_status st = cdz_file_out_open(&f, path, NULL);
    return st == CDZ_OK ? cdz_file_out_commit(&f, NULL) : st;
}

/* The streaming writer: pieces written in order and at offsets land in the target only on commit; an
 * abort leaves the old file as it was and no temporary; a device is not seekable; an empty name and a
 * missing folder fail at open. */
static void test_file_out(void) {
    char dir[] = "/tmp/cadenza_out_XXXXXX";
    if (!mkdtemp(dir)) return;
    char path[300], cmd[400];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    cdz_error err = {0};
    CHECK_INT(cdz_file_write_atomic(path, "old", 3, &err), CDZ_OK);
    cdz_file_out f;
    CHECK_INT(cdz_file_out_open(&f, path, &err), CDZ_OK);
    CHECK(f.seekable && f.fd >= 0, "a file's temporary is seekable");
    CHECK(cdz_file_out_write(&f, "....world", 9, &err) == CDZ_OK && cdz_file_out_pwrite(&f, "hell", 4, 0, &err) == CDZ_OK &&
              cdz_file_out_write(&f, "!", 1, &err) == CDZ_OK,
          "%s", err.msg);
    uint8_t *b = NULL;
    size_t n = 0;
    CHECK(cdz_file_read_all(path, &b, &n, &err) == CDZ_OK && n == 3, "the target untouched before commit");
    cdz_free(b);
    CHECK_INT(cdz_file_out_commit(&f, &err), CDZ_OK);
    CHECK(cdz_file_read_all(path, &b, &n, &err) == CDZ_OK && n == 10 && memcmp(b, "hellworld!", 10) == 0,
          "committed: %.*s", (int)n, b ? (const char *)b : "");
    cdz_free(b);
    CHECK_INT(cdz_file_out_open(&f, path, &err), CDZ_OK);
    CHECK_INT(cdz_file_out_write(&f, "new", 3, &err), CDZ_OK);
    cdz_file_out_abort(&f);
    CHECK(cdz_file_read_all(path, &b, &n, &err) == CDZ_OK && n == 10, "an abort leaves the old file");
    cdz_free(b);
    snprintf(cmd, sizeof cmd, "test $(ls -A %s | wc -l) -eq 1", dir);
    CHECK(system(cmd) == 0, "no temporary left in %s", dir);
    if (access("/dev/null", W_OK) == 0) {
        CHECK(cdz_file_out_open(&f, "/dev/null", &err) == CDZ_OK && !f.seekable, "a device: not seekable");
        CHECK(cdz_file_out_pwrite(&f, "x", 1, 0, &err) == CDZ_ERR_ARG, "no writing at an offset to a device");
        CHECK_INT(cdz_file_out_commit(&f, &err), CDZ_OK);
    }
    CHECK(cdz_file_out_open(&f, "", &err) == CDZ_ERR_ARG && f.fd == -1, "an empty name");
    snprintf(path, sizeof path, "%s/missing/out.bin", dir);
    CHECK(cdz_file_out_open(&f, path, &err) == CDZ_ERR_IO && strstr(err.msg, "cannot create"), "%s", err.msg);
    snprintf(path, sizeof path, "%s/out.bin", dir);
    FAIL_EACH_ALLOCATION("file out", open_and_commit(path));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "clean up");
}

int main(void) {
    test_random_at();
    test_write_targets();
    test_status_and_errors();
    test_sort_stable();
    test_files();
    test_file_out();
    return test_summary("test_core");
}

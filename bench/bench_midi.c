/* Parsing benchmark: every MIDI file under a folder (default ../shared/data) read from disk, parsed
 * and converted to a score, one pass timed after an untimed warm-up pass (so the page cache is hot
 * for this program and for the reference alike). Also times parsing from memory (no file I/O) and
 * the same work on several threads. Prints one JSON line per measurement.
 * Usage: bench_midi [--threads N] [--list FILE | DIR] */
#define _POSIX_C_SOURCE 200809L
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cadenza.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct job {
    char **paths;
    uint8_t **bufs; /* NULL: read from files */
    size_t *lens;
    size_t begin, end;
    size_t bytes, failed, notes;
} job;

static void *run_job(void *arg) {
    job *j = arg;
    for (size_t i = j->begin; i < j->end; i++) {
        cdz_midi m;
        cdz_score s;
        cdz_status st = j->bufs ? cdz_midi_read(&m, j->bufs[i], j->lens[i], j->paths[i], NULL)
                                : cdz_midi_read_file(&m, j->paths[i], NULL);
        if (st != CDZ_OK) {
            j->failed++;
            continue;
        }
        j->bytes += m.pool_len;
        if (cdz_score_from_midi(&s, &m, NULL) == CDZ_OK) {
            j->notes += s.n_notes;
            cdz_score_free(&s);
        } else {
            j->failed++;
        }
        cdz_midi_free(&m);
    }
    return NULL;
}

/* One timed pass over all files on `threads` threads. */
static void measure(const char *what, char **paths, uint8_t **bufs, size_t *lens, size_t n, int threads) {
    job jobs[64];
    pthread_t tid[64];
    double t0 = now();
    for (int t = 0; t < threads; t++) {
        jobs[t] = (job){paths, bufs, lens, n * (size_t)t / (size_t)threads, n * (size_t)(t + 1) / (size_t)threads, 0, 0, 0};
        pthread_create(&tid[t], NULL, run_job, &jobs[t]);
    }
    size_t bytes = 0, failed = 0, notes = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        bytes += jobs[t].bytes;
        failed += jobs[t].failed;
        notes += jobs[t].notes;
    }
    double secs = now() - t0;
    printf("{\"reader\":\"cadenza\",\"what\":\"%s\",\"threads\":%d,\"files\":%zu,\"failed\":%zu,\"bytes\":%zu,\"notes\":%zu,"
           "\"seconds\":%.6f,\"files_per_s\":%.1f,\"mb_per_s\":%.2f}\n",
           what, threads, n, failed, bytes, notes, secs, n / secs, bytes / secs / 1e6);
    fflush(stdout);
}

static int read_list(const char *list, char ***paths, size_t *n) {
    FILE *f = fopen(list, "r");
    if (!f) return 0;
    size_t cap = 0;
    char line[4096];
    *paths = NULL;
    *n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!line[0]) continue;
        if (cdz_grow((void **)paths, &cap, *n + 1, sizeof **paths)) break;
        (*paths)[(*n)++] = strdup(line);
    }
    fclose(f);
    return 1;
}

int main(int argc, char **argv) {
    const char *dir = "../shared/data", *list = NULL;
    int threads = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--list") == 0 && i + 1 < argc) list = argv[++i];
        else dir = argv[i];
    }
    if (threads < 1 || threads > 64) threads = 2;
#ifdef __GLIBC__
    /* As the cadenza program does (src/app/main.c): keep freed memory for the next file instead of
     * returning it to the kernel and taking page faults to get it back. */
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
    mallopt(M_MMAP_THRESHOLD, 64 << 20);
#endif
    char **paths;
    size_t n;
    cdz_error err;
    if (list) {
        if (!read_list(list, &paths, &n)) {
            fprintf(stderr, "bench_midi: cannot read %s\n", list);
            return 1;
        }
    } else if (cdz_file_list(dir, ".mid,.midi", &paths, &n, &err) != CDZ_OK) {
        fprintf(stderr, "bench_midi: %s\n", err.msg);
        return 1;
    }
    if (n == 0) {
        fprintf(stderr, "bench_midi: no MIDI files\n");
        return 1;
    }
    measure("warm-up (untimed)", paths, NULL, NULL, n, 1);
    measure("file->score", paths, NULL, NULL, n, 1);
    if (threads > 1) measure("file->score", paths, NULL, NULL, n, threads);
    /* From memory: the parser alone, without the kernel's file reads. */
    uint8_t **bufs = calloc(n, sizeof *bufs);
    size_t *lens = calloc(n, sizeof *lens);
    for (size_t i = 0; i < n; i++)
        if (cdz_file_read_all(paths[i], &bufs[i], &lens[i], NULL) != CDZ_OK) bufs[i] = NULL, lens[i] = 0;
    measure("memory->score", paths, bufs, lens, n, 1);
    if (threads > 1) measure("memory->score", paths, bufs, lens, n, threads);
    for (size_t i = 0; i < n; i++) cdz_free(bufs[i]);
    free(bufs);
    free(lens);
    if (list) {
        for (size_t i = 0; i < n; i++) free(paths[i]);
        free(paths);
    } else {
        cdz_file_list_free(paths, n);
    }
    return 0;
}

/* Write faults: a full disk, a quota or a failing device at every step of every writer. Through the
 * file-output hook (cdz_set_file_ops) each writer (shard, checkpoint, WAV, PNG, SVG, MIDI, and a WAV
 * rendered straight to disk where FluidSynth and a SoundFont are found) is made to fail at its 1st,
 * 2nd, ... call of each kind until it gets through untouched: ENOSPC from a write or a pwrite, a short
 * one then ENOSPC, ENOSPC from open, EIO from fsync, EDQUOT from close (as NFS reports a quota), ENOSPC
 * from rename. Each failure must return CDZ_ERR_IO with a message naming the file and the system's
 * reason (and, for a write, the byte it failed at), leave the previous file byte for byte as it was,
 * leave no temporary (".NAME.cadenza-tmp.PID") and no open descriptor behind. Writes are also cut into
 * pieces, so that every file takes several writes and each one fails in turn. `make test` runs this
 * under AddressSanitizer and UndefinedBehaviorSanitizer too (no leak on any failure path). */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

/* ---- the fault-injecting hook ---- */
typedef enum fault {
    FAULT_NONE,
    FAULT_WRITE,        /* the at-th write fails with ENOSPC */
    FAULT_SHORT_WRITE,  /* the at-th write writes half of what it is asked, the next fails with ENOSPC */
    FAULT_PWRITE,       /* the same for pwrite (writing at an offset) */
    FAULT_SHORT_PWRITE,
    FAULT_OPEN,        /* the at-th open fails with ENOSPC (no inode left) */
    FAULT_SYNC,        /* the at-th fsync fails with EIO */
    FAULT_CLOSE,       /* the at-th close fails with EDQUOT (after releasing the descriptor, as Linux does) */
    FAULT_RENAME,      /* the at-th rename fails with ENOSPC (no room for the directory entry) */
} fault;

static const char *const FAULT_NAME[] = {"none",
                                         "ENOSPC from write",
                                         "short write, then ENOSPC",
                                         "ENOSPC from pwrite",
                                         "short pwrite, then ENOSPC",
                                         "ENOSPC from open",
                                         "EIO from fsync",
                                         "EDQUOT from close",
                                         "ENOSPC from rename"};
static const int FAULT_ERRNO[] = {0, ENOSPC, ENOSPC, ENOSPC, ENOSPC, ENOSPC, EIO, EDQUOT, ENOSPC};

static struct {
    fault kind;
    long at;         /* 1-based: which call of the kind fails */
    size_t chunk;    /* every write cut to at most this many bytes (0: as asked) */
    long opens, writes, pwrites, syncs, closes, renames;
    long open_fds;   /* opened and not yet closed */
    uint64_t written; /* bytes appended since the last open */
    uint64_t failed_at; /* the byte a failing write or pwrite would have written first */
    int reached;     /* the at-th call of the kind happened */
    int injected;    /* an error was returned */
} g;

static cdz_file_ops g_sys;

static int fail_with(int e) {
    g.injected = 1;
    errno = e;
    return -1;
}

static int f_open(void *ctx, const char *path, int flags, unsigned mode) {
    if (++g.opens == g.at && g.kind == FAULT_OPEN) {
        g.reached = 1;
        return fail_with(ENOSPC);
    }
    int fd = g_sys.open(ctx, path, flags, mode);
    if (fd >= 0) g.open_fds++, g.written = 0;
    return fd;
}

/* Decides the fate of the k-th write (or pwrite) of n bytes, which would start at byte `at`: -1 to
 * fail it, else how many bytes it may write. */
static ptrdiff_t write_fate(fault plain, fault shortened, long k, size_t n, uint64_t at) {
    if (g.chunk && n > g.chunk) n = g.chunk;
    if ((g.kind == plain && k == g.at) || (g.kind == shortened && k == g.at + 1)) {
        g.reached |= g.kind == plain;
        g.failed_at = at;
        return fail_with(ENOSPC);
    }
    if (g.kind == shortened && k == g.at) {
        g.reached = 1;
        if (n > 1) n /= 2; /* a single byte cannot be cut: then the file may simply be done */
    }
    return (ptrdiff_t)n;
}

static ptrdiff_t f_write(void *ctx, int fd, const void *buf, size_t n) {
    ptrdiff_t m = write_fate(FAULT_WRITE, FAULT_SHORT_WRITE, ++g.writes, n, g.written);
    if (m < 0) return m;
    ptrdiff_t w = g_sys.write(ctx, fd, buf, (size_t)m);
    if (w > 0) g.written += (uint64_t)w;
    return w;
}

static ptrdiff_t f_pwrite(void *ctx, int fd, const void *buf, size_t n, uint64_t offset) {
    ptrdiff_t m = write_fate(FAULT_PWRITE, FAULT_SHORT_PWRITE, ++g.pwrites, n, offset);
    return m < 0 ? m : g_sys.pwrite(ctx, fd, buf, (size_t)m, offset);
}

/* The data reaching the disk is not what is tested: the real fsync is skipped (it costs milliseconds a
 * call on a busy disk, and the test makes hundreds). */
static int f_sync(void *ctx, int fd) {
    (void)ctx, (void)fd;
    if (++g.syncs == g.at && g.kind == FAULT_SYNC) {
        g.reached = 1;
        return fail_with(EIO);
    }
    return 0;
}

static int f_close(void *ctx, int fd) {
    int r = g_sys.close(ctx, fd);
    if (r == 0) g.open_fds--;
    if (++g.closes == g.at && g.kind == FAULT_CLOSE) {
        g.reached = 1;
        return fail_with(EDQUOT);
    }
    return r;
}

static int f_rename(void *ctx, const char *from, const char *to) {
    if (++g.renames == g.at && g.kind == FAULT_RENAME) {
        g.reached = 1;
        return fail_with(ENOSPC);
    }
    return g_sys.rename(ctx, from, to);
}

static void fault_install(fault kind, long at, size_t chunk) {
    memset(&g, 0, sizeof g);
    g.kind = kind, g.at = at, g.chunk = chunk;
    cdz_file_ops ops = {f_open, f_write, f_pwrite, f_sync, f_close, f_rename, NULL};
    cdz_set_file_ops(&ops);
}

static void fault_remove(void) { cdz_set_file_ops(NULL); }

/* ---- files ---- */
static char g_dir[] = "/tmp/cadenza_faults_XXXXXX";

static unsigned char *slurp(const char *path, size_t *n) {
    uint8_t *b = NULL;
    *n = 0;
    if (cdz_file_read_all(path, &b, n, NULL) != CDZ_OK) return NULL;
    return b;
}

static int same_bytes(const char *path, const unsigned char *want, size_t n) {
    size_t len;
    unsigned char *b = slurp(path, &len);
    int same = b && len == n && memcmp(b, want, n) == 0;
    cdz_free(b);
    return same;
}

/* The number of temporaries (".*.cadenza-tmp.*") in the test's folder. */
static int temporaries(void) {
    DIR *d = opendir(g_dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] == '.' && strstr(e->d_name, ".cadenza-tmp.")) n++;
    if (d) closedir(d);
    return n;
}

/* ---- the writers, each writing version 1 or 2 of its file (different bytes) ---- */
static cdz_model *g_model;
static cdz_score g_score[2];
static cdz_audio g_audio[2];
static cdz_canvas g_canvas[2];

static cdz_status write_shard(const char *path, int v, cdz_error *err) {
    cdz_shard_writer w;
    cdz_tokens t = {0};
    cdz_status st = cdz_shard_writer_init(&w, "melody", 40, err);
    for (int s = 0; st == CDZ_OK && s < 20 + 5 * v; s++) {
        uint16_t seq[64];
        size_t n = (size_t)(8 + (s * 7 + v) % 50);
        for (size_t i = 0; i < n; i++) seq[i] = (uint16_t)((i * 3 + (size_t)s + (size_t)v) % 40);
        if (cdz_tokens_append(&t, seq, n)) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    }
    if (st == CDZ_OK) st = cdz_shard_writer_add(&w, &t, CDZ_SPLIT_TRAIN, err);
    if (st == CDZ_OK) st = cdz_shard_writer_finish(&w, path, err);
    cdz_shard_writer_free(&w);
    cdz_tokens_free(&t);
    return st;
}

static cdz_status write_checkpoint(const char *path, int v, cdz_error *err) {
    const char *extra[2] = {"version", v == 1 ? "one" : "two"};
    g_model->params[0] = (float)v;
    return cdz_checkpoint_save(path, g_model, NULL, extra, 1, err);
}

static cdz_status write_wav(const char *path, int v, cdz_error *err) { return cdz_wav_write(path, &g_audio[v - 1], err); }
static cdz_status write_png(const char *path, int v, cdz_error *err) { return cdz_png_write(path, &g_canvas[v - 1], err); }
static cdz_status write_svg(const char *path, int v, cdz_error *err) {
    const cdz_score *s = &g_score[v - 1];
    return cdz_plot_pianoroll_svg(path, &s, NULL, 1, NULL, err);
}
static cdz_status write_midi(const char *path, int v, cdz_error *err) { return cdz_score_write_file(&g_score[v - 1], path, 1, err); }

/* A short score rendered straight to disk: float frames streamed to the temporary, converted in place
 * with pwrite, the header written last (src/audio/spool.c). The smallest SoundFont found is used. */
static cdz_render_params g_render;
static cdz_status write_render(const char *path, int v, cdz_error *err) {
    return cdz_render_score_wav(&g_score[v - 1], &g_render, path, NULL, err);
}

typedef struct writer {
    const char *name, *file;
    cdz_status (*write)(const char *path, int v, cdz_error *err);
    int pwrites; /* streams: many writes, and writes at offsets too */
} writer;

static int make_fixtures(void) {
    cdz_error err;
    if (!test_tiny_model(&cdz_music_transformer, &g_model, "", 1)) return 0;
    for (int v = 0; v < 2; v++) {
        cdz_score *s = &g_score[v];
        if (cdz_score_init(s, 480, &err)) return 0;
        cdz_score_add_tempo(s, 0, 100 + 20 * v);
        for (int i = 0; i < 40 + 10 * v; i++)
            cdz_score_add_note(s, 0, 0, 0, (uint8_t)(60 + (i * (3 + v)) % 12), (uint8_t)(60 + i), i * 24, i * 24 + 20);
        if (cdz_score_finish(s, &err)) return 0;
        cdz_audio *a = &g_audio[v];
        a->channels = 2, a->sample_rate = 22050, a->frames = (size_t)(4000 + 1000 * v);
        if (!(a->samples = cdz_calloc(a->frames * 2, sizeof *a->samples))) return 0;
        for (size_t i = 0; i < a->frames * 2; i++) a->samples[i] = (int16_t)((i * (7 + (size_t)v)) % 20000 - 10000);
        if (cdz_canvas_init(&g_canvas[v], 160 + 40 * v, 90, (cdz_rgb){(uint8_t)(10 * v), 20, 30}, &err)) return 0;
        cdz_canvas_line(&g_canvas[v], 0, 0, 150, 80, (cdz_rgb){250, 200, 100});
        cdz_canvas_text(&g_canvas[v], 4, 4, v ? "two" : "one", 2, (cdz_rgb){255, 255, 255});
    }
    return 1;
}

static void free_fixtures(void) {
    cdz_model_free(g_model);
    for (int v = 0; v < 2; v++) {
        cdz_score_free(&g_score[v]);
        cdz_audio_free(&g_audio[v]);
        cdz_canvas_free(&g_canvas[v]);
    }
}

/* One writer under one kind of fault: fails call 1, 2, ... of that kind until the write gets through
 * without reaching the fault; returns the number of failures injected. */
static long fail_each(const writer *w, const char *path, fault kind, size_t chunk, const unsigned char *v1, size_t n1,
                      const unsigned char *v2, size_t n2) {
    long at = 1, failures = 0;
    for (; at < 10000; at++) {
        cdz_error err = {0, ""};
        fault_install(kind, at, chunk);
        cdz_status st = w->write(path, 2, &err);
        int reached = g.reached, injected = g.injected;
        long open_fds = g.open_fds;
        uint64_t failed_at = g.failed_at;
        fault_remove();
        CHECK(open_fds == 0, "%s, %s at %ld: %ld descriptors left open", w->name, FAULT_NAME[kind], at, open_fds);
        if (!injected) {
            /* the fault was not reached (or a 1-byte write could not be cut): the write must succeed */
            CHECK(st == CDZ_OK, "%s, %s at %ld (not injected): status %d: %s", w->name, FAULT_NAME[kind], at, st, err.msg);
            CHECK(same_bytes(path, v2, n2), "%s, %s at %ld: the new file is not what was written", w->name, FAULT_NAME[kind], at);
            CHECK_INT(temporaries(), 0);
            cdz_file_write_atomic(path, v1, n1, NULL); /* back to version 1 for the next round */
            if (!reached) break;
            continue;
        }
        failures++;
        char want[128];
        snprintf(want, sizeof want, "%s", strerror(FAULT_ERRNO[kind]));
        int ok = st == CDZ_ERR_IO && strstr(err.msg, path) && strstr(err.msg, want);
        if (ok && kind >= FAULT_WRITE && kind <= FAULT_SHORT_PWRITE) {
            /* a write's message says where it failed */
            char far[64];
            snprintf(far, sizeof far, "write failed at byte %llu", (unsigned long long)failed_at);
            ok = strstr(err.msg, far) != NULL;
            if (!ok) printf("expected \"%s\" in the message\n", far);
        }
        CHECK(ok, "%s, %s at %ld: status %d, message \"%s\" (expected CDZ_ERR_IO naming %s and \"%s\")", w->name,
              FAULT_NAME[kind], at, st, err.msg, path, want);
        CHECK(same_bytes(path, v1, n1), "%s, %s at %ld: the previous file was changed", w->name, FAULT_NAME[kind], at);
        int tmps = temporaries();
        CHECK(tmps == 0, "%s, %s at %ld: %d temporaries left behind", w->name, FAULT_NAME[kind], at, tmps);
        if (t_failed > 20) break; /* something is broken throughout: stop repeating it */
    }
    return failures;
}

static void test_writer(const writer *w) {
    char path[512], ref[512];
    snprintf(path, sizeof path, "%s/%s", g_dir, w->file);
    snprintf(ref, sizeof ref, "%s/ref2-%s", g_dir, w->file);
    cdz_error err;
    /* versions 1 and 2, written without faults: what the file must hold after a failure and a success */
    if (w->write(path, 1, &err) != CDZ_OK || w->write(ref, 2, &err) != CDZ_OK) {
        CHECK(0, "%s: %s", w->name, err.msg);
        return;
    }
    size_t n1, n2;
    unsigned char *v1 = slurp(path, &n1), *v2 = slurp(ref, &n2);
    unlink(ref);
    CHECK(v1 && v2 && (n1 != n2 || memcmp(v1, v2, n1) != 0), "%s: versions 1 and 2 differ", w->name);
    /* whole writes (one write a file), then writes cut into about seven pieces each (not for a writer
     * that streams, whose file takes many writes already) */
    size_t chunks[2] = {0, n2 / 7 + 1};
    long total = 0;
    for (int c = 0; c < (w->pwrites ? 1 : 2); c++)
        for (fault k = FAULT_WRITE; k <= FAULT_RENAME; k++) {
            int pwrite_kind = k == FAULT_PWRITE || k == FAULT_SHORT_PWRITE;
            long f = fail_each(w, path, k, chunks[c], v1, n1, v2, n2);
            CHECK(f >= 1 || (pwrite_kind && !w->pwrites), "%s, %s: no fault was injected", w->name, FAULT_NAME[k]);
            CHECK(f == 0 || !pwrite_kind || w->pwrites, "%s writes at offsets", w->name);
            total += f;
        }
    printf("%s (%zu -> %zu bytes): %ld failures injected\n", w->name, n1, n2, total);
    unlink(path);
    cdz_free(v1), cdz_free(v2);
}

/* A device (here /dev/null) is written as it is, through the same hook: its errors are reported too. */
static void test_device(void) {
    if (access("/dev/null", W_OK) != 0) return;
    cdz_error err = {0, ""};
    fault_install(FAULT_WRITE, 1, 0);
    cdz_status st = cdz_file_write_atomic("/dev/null", "abc", 3, &err);
    long fds = g.open_fds;
    fault_remove();
    CHECK(st == CDZ_ERR_IO && strstr(err.msg, "/dev/null") && strstr(err.msg, "write failed at byte 0") &&
              strstr(err.msg, strerror(ENOSPC)),
          "a device's write error: %d %s", st, err.msg);
    fault_install(FAULT_CLOSE, 1, 0);
    st = cdz_file_write_atomic("/dev/null", "abc", 3, &err);
    fds += g.open_fds;
    fault_remove();
    CHECK(st == CDZ_ERR_IO && strstr(err.msg, strerror(EDQUOT)), "a device's close error: %d %s", st, err.msg);
    CHECK_INT(fds, 0);
}

int main(void) {
    g_sys = cdz_file_ops_default();
    if (!mkdtemp(g_dir)) {
        printf("cannot make a folder under /tmp\n");
        return 1;
    }
    if (!make_fixtures()) {
        CHECK(0, "could not make the fixtures");
        return test_summary("test_faults");
    }
    const writer writers[] = {
        {"shard", "train.cdz", write_shard, 0},     {"checkpoint", "model.safetensors", write_checkpoint, 0},
        {"WAV", "song.wav", write_wav, 0},          {"PNG", "roll.png", write_png, 0},
        {"SVG", "roll.svg", write_svg, 0},          {"MIDI", "song.mid", write_midi, 0},
        {"rendered WAV", "render.wav", write_render, 1},
    };
    /* the render: the smallest General MIDI SoundFont of Debian's, else whichever is found */
    g_render = cdz_render_default_params();
    g_render.sample_rate = 8000, g_render.max_tail_s = 0.2, g_render.reverb = 0;
    g_render.soundfont = access("/usr/share/sounds/sf2/TimGM6mb.sf2", R_OK) == 0 ? "/usr/share/sounds/sf2/TimGM6mb.sf2"
                                                                               : cdz_render_find_soundfont();
    for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++) {
        if (strcmp(writers[i].name, "PNG") == 0 && !cdz_png_available()) {
            printf("SKIPPED: PNG (built without libpng)\n");
            continue;
        }
        if (writers[i].write == write_render && (!cdz_render_available() || !g_render.soundfont)) {
            printf("SKIPPED: rendered WAV (%s)\n", cdz_render_available() ? "no SoundFont found" : "built without FluidSynth");
            continue;
        }
        test_writer(&writers[i]);
    }
    test_device();
    free_fixtures();
    rmdir(g_dir);
    return test_summary("test_faults");
}

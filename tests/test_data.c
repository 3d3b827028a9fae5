/* Datasets: the shard format round trip, rejection of truncated and altered files, batches (valid
 * windows, reproducible, disjoint ranks), and building from MIDI files the same way on 1 or 2 threads. */
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static char dir[64];

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

static void make_tokens(cdz_tokens *t, int n_seqs, int base) {
    memset(t, 0, sizeof *t);
    uint16_t seq[300];
    for (int s = 0; s < n_seqs; s++) {
        int len = 5 + (s * 37) % 200;
        for (int i = 0; i < len; i++) seq[i] = (uint16_t)((base + s * 7 + i) % 38);
        cdz_tokens_append(t, seq, (size_t)len);
    }
}

static void test_shard_round_trip_and_corruption(void) {
    char path[256];
    path_in(path, sizeof path, "a.cdz");
    cdz_shard_writer w;
    cdz_tokens train, eval;
    make_tokens(&train, 20, 0);
    make_tokens(&eval, 3, 5);
    CHECK_INT(cdz_shard_writer_init(&w, "melody", 38, NULL), CDZ_OK);
    CHECK_INT(cdz_shard_writer_add(&w, &train, CDZ_SPLIT_TRAIN, NULL), CDZ_OK);
    CHECK_INT(cdz_shard_writer_add(&w, &eval, CDZ_SPLIT_EVAL, NULL), CDZ_OK);
    cdz_tokens bad = {0};
    uint16_t big = 38;
    cdz_tokens_append(&bad, &big, 1);
    cdz_error err = {0};
    CHECK_INT(cdz_shard_writer_add(&w, &bad, CDZ_SPLIT_TRAIN, &err), CDZ_ERR_RANGE);
    cdz_tokens_free(&bad);
    CHECK_INT(cdz_shard_writer_finish(&w, path, NULL), CDZ_OK);
    cdz_shard_writer_free(&w);

    cdz_dataset ds;
    CHECK_INT(cdz_dataset_open(&ds, path, &err), CDZ_OK);
    CHECK(strcmp(ds.codec, "melody") == 0 && ds.vocab_size == 38, "header");
    CHECK_INT(ds.n_seqs, 23);
    CHECK_INT(ds.n_tokens, train.n_tokens + eval.n_tokens);
    int same = 1;
    for (size_t s = 0; s < 20; s++)
        same &= cdz_dataset_seq_len(&ds, s) == train.offsets[s + 1] - train.offsets[s] &&
                memcmp(ds.tokens + ds.offsets[s], train.tokens + train.offsets[s], 2 * cdz_dataset_seq_len(&ds, s)) == 0 &&
                ds.splits[s] == CDZ_SPLIT_TRAIN;
    CHECK(same && ds.splits[22] == CDZ_SPLIT_EVAL, "sequences read back as written");
    size_t size = ds.map_len;
    cdz_dataset_close(&ds);

    /* Every truncation, and a changed byte in each region, is rejected with a message naming the file. */
    uint8_t *file;
    size_t len;
    CHECK_INT(cdz_file_read_all(path, &file, &len, NULL), CDZ_OK);
    CHECK_INT(len, size);
    char cut[256];
    path_in(cut, sizeof cut, "cut.cdz");
    int accepted = 0;
    for (size_t n = 0; n < len; n += (n < 200 ? 1 : 97)) {
        cdz_file_write_atomic(cut, file, n, NULL);
        if (cdz_dataset_open(&ds, cut, &err) == CDZ_OK) accepted++, cdz_dataset_close(&ds);
        else if (!strstr(err.msg, "cut.cdz")) accepted++;
    }
    CHECK(accepted == 0, "%d truncated files accepted (or rejected without naming the file)", accepted);
    size_t spots[] = {0, 8, 12, 33, 48, 64, 64 + 8 * 24 + 1, len - 1};
    for (size_t k = 0; k < sizeof spots / sizeof spots[0]; k++) {
        file[spots[k]] ^= 0x40;
        cdz_file_write_atomic(cut, file, len, NULL);
        CHECK(cdz_dataset_open(&ds, cut, &err) != CDZ_OK, "a change at byte %zu was not noticed", spots[k]);
        file[spots[k]] ^= 0x40;
    }
    file[len - 1] ^= 0x40;
    cdz_file_write_atomic(cut, file, len, NULL);
    cdz_dataset_open(&ds, cut, &err);
    CHECK_STR_CONTAINS(err.msg, "checksum mismatch");
    file[len - 1] ^= 0x40;
    file[8] = 9;
    cdz_file_write_atomic(cut, file, len, NULL);
    cdz_dataset_open(&ds, cut, &err);
    CHECK_STR_CONTAINS(err.msg, "dataset version 9");
    CHECK_INT(cdz_dataset_open(&ds, "/nonexistent.cdz", &err), CDZ_ERR_IO);
    cdz_free(file);
    unlink(cut);

    FAIL_EACH_ALLOCATION("shard write", (cdz_shard_writer_init(&w, "melody", 38, NULL) || cdz_shard_writer_add(&w, &train, 0, NULL) ||
                                                 cdz_shard_writer_finish(&w, path, NULL)
                                             ? (cdz_shard_writer_free(&w), CDZ_ERR_NOMEM)
                                             : (cdz_shard_writer_free(&w), CDZ_OK)));
    cdz_tokens_free(&train);
    cdz_tokens_free(&eval);
}

static void test_batches(void) {
    char path[256];
    path_in(path, sizeof path, "a.cdz");
    cdz_dataset ds;
    CHECK_INT(cdz_dataset_open(&ds, path, NULL), CDZ_OK);
    cdz_batcher b, c;
    const int64_t B = 8, T = 50;
    CHECK_INT(cdz_batcher_init(&b, &ds, CDZ_SPLIT_TRAIN, B, T, 7, 0, 1, NULL), CDZ_OK);
    CHECK_INT(cdz_batcher_init(&c, &ds, CDZ_SPLIT_TRAIN, B, T, 7, 0, 1, NULL), CDZ_OK);
    uint16_t x[8 * 51], y[8 * 51];
    int valid = 1, same = 1;
    for (int step = 0; step < 50; step++) {
        cdz_batcher_next(&b, x);
        cdz_batcher_next(&c, y);
        same &= memcmp(x, y, sizeof x) == 0;
        for (int64_t i = 0; i < B; i++) {
            /* Each window must be a slice of one train sequence. */
            int found = 0;
            for (uint64_t s = 0; s < ds.n_seqs && !found; s++) {
                if (ds.splits[s] != CDZ_SPLIT_TRAIN || cdz_dataset_seq_len(&ds, s) < (uint64_t)T + 1) continue;
                for (uint64_t o = 0; o + T + 1 <= cdz_dataset_seq_len(&ds, s) && !found; o++)
                    found = memcmp(ds.tokens + ds.offsets[s] + o, x + i * (T + 1), (size_t)(T + 1) * 2) == 0;
            }
            valid &= found;
        }
    }
    CHECK(valid, "a window is not a slice of a train sequence");
    CHECK(same, "the same seed gave different batches");
    cdz_batcher_free(&b);
    cdz_batcher_free(&c);
    /* Ranks see disjoint sequences. */
    cdz_batcher r0, r1;
    CHECK_INT(cdz_batcher_init(&r0, &ds, CDZ_SPLIT_TRAIN, 1, 10, 1, 0, 2, NULL), CDZ_OK);
    CHECK_INT(cdz_batcher_init(&r1, &ds, CDZ_SPLIT_TRAIN, 1, 10, 1, 1, 2, NULL), CDZ_OK);
    int disjoint = 1;
    for (uint64_t i = 0; i < r0.n_seqs; i++)
        for (uint64_t k = 0; k < r1.n_seqs; k++) disjoint &= r0.seqs[i] != r1.seqs[k];
    CHECK(disjoint && r0.n_seqs + r1.n_seqs > 0, "ranks share sequences");
    cdz_batcher_free(&r0);
    cdz_batcher_free(&r1);
    cdz_error err = {0};
    CHECK_INT(cdz_batcher_init(&b, &ds, CDZ_SPLIT_TEST, 4, 10, 1, 0, 1, &err), CDZ_ERR_ARG);
    CHECK_STR_CONTAINS(err.msg, "no test sequence");
    cdz_dataset_close(&ds);
    unlink(path);
}

/* Writes a few MIDI files made here (some good, one broken, one in a test/ folder). */
static void make_midi_files(void) {
    char p[256];
    path_in(p, sizeof p, "midi");
    mkdir(p, 0755);
    path_in(p, sizeof p, "midi/test");
    mkdir(p, 0755);
    for (int f = 0; f < 6; f++) {
        cdz_score s;
        cdz_score_init(&s, 480, NULL);
        cdz_score_add_tempo(&s, 0, 100 + f);
        for (int i = 0; i < 64; i++)
            cdz_score_add_note(&s, 0, 0, 0, (uint8_t)(60 + (i * 5 + f) % 12), (uint8_t)(40 + i), i * 480, i * 480 + 400);
        cdz_score_finish(&s, NULL);
        char name[64];
        snprintf(name, sizeof name, f == 5 ? "midi/test/t%d.mid" : "midi/f%d.mid", f);
        path_in(p, sizeof p, name);
        cdz_score_write_file(&s, p, 1, NULL);
        cdz_score_free(&s);
    }
    path_in(p, sizeof p, "midi/broken.mid");
    cdz_file_write_atomic(p, "MThd\0\0\0\6\0\0\0\1\0\140MTrk\0\0\0\3\0\220\074", 25, NULL);
}

static void test_build(void) {
    make_midi_files();
    char in[256], out1[256], out2[256];
    path_in(in, sizeof in, "midi");
    path_in(out1, sizeof out1, "one.cdz");
    path_in(out2, sizeof out2, "two.cdz");
    const char *inputs[] = {in};
    cdz_build_params p = cdz_build_default_params();
    p.codec = cdz_codec_find("performance");
    p.inputs = inputs;
    p.n_inputs = 1;
    p.transpose_min = -1;
    p.transpose_max = 1;
    p.split_from_path = 1;
    cdz_build_report r1, r2;
    p.threads = 1;
    CHECK_INT(cdz_dataset_build(&p, out1, &r1, NULL), CDZ_OK);
    p.threads = 2;
    CHECK_INT(cdz_dataset_build(&p, out2, &r2, NULL), CDZ_OK);
    CHECK_INT(r1.files, 7);
    CHECK_INT(r1.files_used, 6);
    CHECK_INT(r1.skipped_broken, 1);
    CHECK_STR_CONTAINS(r1.first_problem, "broken.mid: track 0: byte 23: event cut off");
    CHECK_INT(r1.seqs[CDZ_SPLIT_TRAIN], 15); /* 5 files x 3 transpositions */
    CHECK_INT(r1.seqs[CDZ_SPLIT_TEST], 3);
    uint8_t *a, *b;
    size_t la, lb;
    CHECK_INT(cdz_file_read_all(out1, &a, &la, NULL), CDZ_OK);
    CHECK_INT(cdz_file_read_all(out2, &b, &lb, NULL), CDZ_OK);
    CHECK(la == lb && memcmp(a, b, la) == 0, "1 and 2 threads built different shards");
    cdz_free(a);
    cdz_free(b);
    cdz_dataset ds;
    CHECK_INT(cdz_dataset_open(&ds, out1, NULL), CDZ_OK);
    CHECK(strcmp(ds.codec, "performance") == 0 && ds.vocab_size == 388, "built shard header");
    /* The first sequence decodes to the first file transposed down a semitone. */
    cdz_score s;
    CHECK_INT(cdz_codec_find("performance")->decode(ds.tokens, cdz_dataset_seq_len(&ds, 0), &s, NULL), CDZ_OK);
    CHECK(s.n_notes == 64 && s.notes[0].pitch == 59, "decoded %zu notes, first pitch %d", s.n_notes, s.n_notes ? s.notes[0].pitch : -1);
    cdz_score_free(&s);
    cdz_dataset_close(&ds);
    /* eval by content hash: deterministic, and roughly the fraction asked for */
    p.split_from_path = 0;
    p.eval_fraction = 0.5;
    p.transpose_min = p.transpose_max = 0;
    CHECK_INT(cdz_dataset_build(&p, out2, &r2, NULL), CDZ_OK);
    const double stretch[] = {0.9, 1.0, 1.1};
    p.stretch = stretch;
    p.n_stretch = 3;
    CHECK_INT(cdz_dataset_build(&p, out1, &r1, NULL), CDZ_OK);
    CHECK_INT(r1.seqs[0] + r1.seqs[1], 18); /* 6 files x 3 stretches */
    cdz_dataset sd;
    CHECK_INT(cdz_dataset_open(&sd, out1, NULL), CDZ_OK);
    /* a file's copies come in the order of the factors: 0.9 then 1.0 */
    CHECK(cdz_dataset_seq_len(&sd, 0) == cdz_dataset_seq_len(&sd, 1) &&
              memcmp(sd.tokens + sd.offsets[0], sd.tokens + sd.offsets[1], 2 * cdz_dataset_seq_len(&sd, 0)) != 0,
          "stretching changed no time shift");
    cdz_dataset_close(&sd);
    p.n_stretch = 0;
    CHECK_INT(cdz_dataset_build(&p, out1, &r1, NULL), CDZ_OK);
    CHECK(r1.seqs[CDZ_SPLIT_EVAL] == r2.seqs[CDZ_SPLIT_EVAL] && r1.seqs[CDZ_SPLIT_EVAL] + r1.seqs[CDZ_SPLIT_TRAIN] == 6,
          "hash split: %zu eval, %zu train", r1.seqs[CDZ_SPLIT_EVAL], r1.seqs[CDZ_SPLIT_TRAIN]);
    cdz_error err = {0};
    p.eval_fraction = 1.5;
    CHECK_INT(cdz_dataset_build(&p, out1, &r1, &err), CDZ_ERR_ARG);
    /* The corpus's split from relative paths too: "midi/test/t5.mid" and "test/t5.mid" */
    char cwd[1024];
    CHECK(getcwd(cwd, sizeof cwd) != NULL && chdir(in) == 0, "chdir");
    const char *rel[] = {"test", "f0.mid"};
    p.inputs = rel;
    p.n_inputs = 2;
    p.split_from_path = 1;
    p.eval_fraction = 0;
    CHECK_INT(cdz_dataset_build(&p, out1, &r1, NULL), CDZ_OK);
    CHECK(r1.seqs[CDZ_SPLIT_TEST] == 1 && r1.seqs[CDZ_SPLIT_TRAIN] == 1, "relative paths: %zu test, %zu train",
          r1.seqs[CDZ_SPLIT_TEST], r1.seqs[CDZ_SPLIT_TRAIN]);
    CHECK(chdir(cwd) == 0, "chdir back");
    /* Nothing to encode (the chorale codec finds four voices nowhere): no shard written, the one there
     * left exactly as it was, the report filled in for the caller to explain. */
    uint8_t *kept, *now;
    size_t lk, ln;
    CHECK_INT(cdz_file_read_all(out1, &kept, &lk, NULL), CDZ_OK);
    const char *all[] = {in};
    p.inputs = all;
    p.n_inputs = 1;
    p.codec = cdz_codec_find("chorale");
    CHECK_INT(cdz_dataset_build(&p, out1, &r1, &err), CDZ_ERR_RANGE);
    CHECK_STR_CONTAINS(err.msg, "not written: none of the 7 files gave a sequence for codec chorale");
    CHECK(r1.files == 7 && r1.seqs[0] + r1.seqs[1] + r1.seqs[2] == 0 && r1.skipped_empty == 6 && r1.stats.not_four_voices > 0,
          "report: %zu files, %zu empty, %llu not four voices", r1.files, r1.skipped_empty,
          (unsigned long long)r1.stats.not_four_voices);
    CHECK_INT(cdz_file_read_all(out1, &now, &ln, NULL), CDZ_OK);
    CHECK(lk == ln && lk > 72 && memcmp(kept, now, lk) == 0, "the dataset of %zu bytes is as it was (%zu now)", lk, ln);
    cdz_free(kept);
    cdz_free(now);
    unlink(out2);
    CHECK_INT(cdz_dataset_build(&p, out2, &r1, &err), CDZ_ERR_RANGE);
    CHECK(access(out2, F_OK) != 0, "no shard where none was");
    unlink(out1);
    unlink(out2);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s/midi", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

/* Little-endian field writes into a shard file's bytes, then its checksum recomputed (FNV-1a 64 of all
 * but bytes 48-55), for hand-made headers. */
static void patch_shard(const char *path, size_t at, uint64_t value, int width) {
    uint8_t *buf = NULL;
    size_t len = 0;
    if (cdz_file_read_all(path, &buf, &len, NULL) != CDZ_OK) return;
    for (int i = 0; i < width; i++) buf[at + (size_t)i] = (uint8_t)(value >> (8 * i));
    uint64_t h = cdz_fnv1a64(cdz_fnv1a64(CDZ_FNV_OFFSET, buf, 48), buf + 56, len - 56);
    for (int i = 0; i < 8; i++) buf[48 + i] = (uint8_t)(h >> (8 * i));
    cdz_file_write_atomic(path, buf, len, NULL);
    cdz_free(buf);
}

/* The data type in the header: audio samples and feature frames round-trip; token models refuse them;
 * a version 1 file (tokens, no type) still opens; an unknown type or a newer version is refused. */
static void test_shard_types(void) {
    char path[256];
    path_in(path, sizeof path, "audio.cdz");
    cdz_shard_writer w;
    cdz_error err;
    int16_t samples[100];
    for (int i = 0; i < 100; i++) samples[i] = (int16_t)(i * 300 - 15000);
    CHECK_INT(cdz_shard_writer_init_typed(&w, "render", CDZ_DTYPE_AUDIO, 24000, &err), CDZ_OK);
    CHECK_INT(cdz_shard_writer_add_elements(&w, samples, 60, CDZ_SPLIT_TRAIN, &err), CDZ_OK);
    CHECK_INT(cdz_shard_writer_add_elements(&w, samples + 60, 40, CDZ_SPLIT_EVAL, &err), CDZ_OK);
    CHECK_INT(cdz_shard_writer_finish(&w, path, &err), CDZ_OK);
    cdz_shard_writer_free(&w);
    cdz_dataset ds;
    CHECK(cdz_dataset_open(&ds, path, &err) == CDZ_OK, "%s", err.msg);
    if (ds.map) {
        CHECK(ds.dtype == CDZ_DTYPE_AUDIO && ds.width == 24000 && ds.version == 2 && ds.n_seqs == 2 && ds.n_tokens == 100 &&
                  !ds.tokens && ds.splits[1] == CDZ_SPLIT_EVAL && cdz_dataset_seq_len(&ds, 1) == 40,
              "audio shard: type %d width %u", (int)ds.dtype, ds.width);
        CHECK(memcmp(ds.data, samples, sizeof samples) == 0, "the samples come back");
        /* audio windows (the audio codec's): whole windows of 16 samples within the 60-sample train clip */
        cdz_window_sampler sm;
        CHECK(cdz_window_sampler_init(&sm, &ds, CDZ_SPLIT_TRAIN, 16, &err) == CDZ_OK && sm.n_windows == 45, "audio windows: %s",
              err.msg);
        if (sm.n_windows) {
            cdz_rng r;
            cdz_rng_seed(&r, 3);
            cdz_window aw[8];
            cdz_window_sampler_draw(&sm, &r, aw, 8);
            int ok = 1;
            for (int k = 0; k < 8; k++) ok &= aw[k].audio == (const int16_t *)ds.data && aw[k].n == 16 && aw[k].start >= 0 && aw[k].start <= 44;
            cdz_window_sampler_draw_whole(&sm, &r, aw, 8);
            for (int k = 0; k < 8; k++) ok &= aw[k].audio == (const int16_t *)ds.data && aw[k].n == 16 && aw[k].start == 0;
            CHECK(ok, "audio windows lie within the train clip");
            cdz_window_sampler_free(&sm);
        }
        CHECK(cdz_window_sampler_init(&sm, &ds, CDZ_SPLIT_TRAIN, 61, &err) == CDZ_ERR_ARG && strstr(err.msg, "no train clip of 61"),
              "no clip long enough: %s", err.msg);
        /* found by fuzz_cdz: the batcher read an audio dataset's missing tokens (a NULL pointer) */
        cdz_batcher b;
        CHECK(cdz_batcher_init(&b, &ds, CDZ_SPLIT_TRAIN, 2, 8, 1, 0, 1, &err) == CDZ_ERR_ARG && strstr(err.msg, "holds audio"),
              "token batches from audio: %s", err.msg);
        cdz_dataset_close(&ds);
    }
    float frames[4 * 3];
    for (int i = 0; i < 12; i++) frames[i] = 0.25f * (float)i;
    path_in(path, sizeof path, "feat.cdz");
    CHECK_INT(cdz_shard_writer_init_typed(&w, "chroma", CDZ_DTYPE_FEATURES, 3, &err), CDZ_OK);
    CHECK_INT(cdz_shard_writer_add_elements(&w, frames, 4, CDZ_SPLIT_TEST, &err), CDZ_OK);
    CHECK_INT(cdz_shard_writer_finish(&w, path, &err), CDZ_OK);
    cdz_shard_writer_free(&w);
    CHECK(cdz_dataset_open(&ds, path, &err) == CDZ_OK, "%s", err.msg);
    if (ds.map) {
        CHECK(ds.dtype == CDZ_DTYPE_FEATURES && ds.width == 3 && ds.n_tokens == 4 && memcmp(ds.data, frames, sizeof frames) == 0,
              "feature frames come back");
        cdz_dataset_close(&ds);
    }
    /* an unknown type, and a version this cadenza does not read */
    patch_shard(path, 56, 9, 2);
    CHECK(cdz_dataset_open(&ds, path, &err) == CDZ_ERR_FORMAT && strstr(err.msg, "unknown data type 9"), "%s", err.msg);
    patch_shard(path, 56, CDZ_DTYPE_FEATURES, 2);
    patch_shard(path, 8, 3, 4);
    CHECK(cdz_dataset_open(&ds, path, &err) == CDZ_ERR_UNSUPPORTED && strstr(err.msg, "rebuild it"), "%s", err.msg);
    /* version 1: tokens only, bytes 56-63 zero */
    path_in(path, sizeof path, "v1.cdz");
    cdz_tokens t;
    make_tokens(&t, 3, 1);
    CHECK_INT(cdz_shard_writer_init(&w, "melody", 38, NULL), CDZ_OK);
    CHECK_INT(cdz_shard_writer_add(&w, &t, CDZ_SPLIT_TRAIN, NULL), CDZ_OK);
    CHECK_INT(cdz_shard_writer_finish(&w, path, NULL), CDZ_OK);
    cdz_shard_writer_free(&w);
    cdz_tokens_free(&t);
    patch_shard(path, 56, 0, 8);
    patch_shard(path, 8, 1, 4);
    CHECK(cdz_dataset_open(&ds, path, &err) == CDZ_OK, "a version 1 shard: %s", err.msg);
    if (ds.map) {
        CHECK(ds.version == 1 && ds.dtype == CDZ_DTYPE_TOKENS && ds.tokens && ds.vocab_size == 38, "read as tokens");
        cdz_dataset_close(&ds);
    }
    path_in(path, sizeof path, "audio.cdz"), unlink(path);
    path_in(path, sizeof path, "feat.cdz"), unlink(path);
    path_in(path, sizeof path, "v1.cdz"), unlink(path);
}

/* A dataset truncated while a run reads it: the run has its own copy (a mapping would end the process
 * with SIGBUS at the next read of a page past the new end). */
static void test_truncated_under_a_run(void) {
    char path[256];
    path_in(path, sizeof path, "shrinks.cdz");
    cdz_shard_writer w;
    cdz_tokens t;
    make_tokens(&t, 200, 3);
    CHECK_INT(cdz_shard_writer_init(&w, "melody", 38, NULL), CDZ_OK);
    CHECK_INT(cdz_shard_writer_add(&w, &t, CDZ_SPLIT_TRAIN, NULL), CDZ_OK);
    CHECK_INT(cdz_shard_writer_finish(&w, path, NULL), CDZ_OK);
    cdz_shard_writer_free(&w);
    cdz_tokens_free(&t);
    cdz_dataset ds;
    cdz_error err;
    CHECK(cdz_dataset_open(&ds, path, &err) == CDZ_OK, "%s", err.msg);
    if (!ds.map) return;
    CHECK(truncate(path, 64) == 0, "truncate");
    uint64_t sum = 0;
    for (uint64_t i = 0; i < ds.n_tokens; i++) sum += ds.tokens[i]; /* every page, after the truncation */
    CHECK(sum > 0, "the tokens are still there (%llu)", (unsigned long long)sum);
    cdz_dataset_close(&ds);
    CHECK(cdz_dataset_open(&ds, path, &err) == CDZ_ERR_FORMAT, "the truncated file itself is refused: %s", err.msg);
    unlink(path);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/cadenza_data_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    test_shard_round_trip_and_corruption();
    test_shard_types();
    test_truncated_under_a_run();
    test_batches();
    test_build();
    rmdir(dir);
    return test_summary("test_data");
}

/* Robustness: every truncation of a few real files (at each byte offset) and thousands of seeded
 * random mutations must read or fail cleanly, and whatever reads must round-trip (midi_oracle.h).
 * `make test` runs this under AddressSanitizer and UndefinedBehaviorSanitizer too. */
#include "fuzz/midi_oracle.h"
#include "test.h"

/* Real files of different kinds (running status, drums, format 0 and 1, many tempos); about 1.5-16 kB
 * each, so every truncation stays quick under the sanitizers. */
static const char *const REAL[] = {
    "asap/Bach/Prelude/bwv_846/Shi05M.mid",
    "pop909/044/044.mid",
    "groove/drummer1/session1/100_neworleans-secondline_94_beat_4-4.mid",
    "nottingham/full/ashover1.mid",
    "wjazzd/midi/ArtPepper_Anthropology.mid",
};

typedef struct input {
    char name[256];
    uint8_t *b;
    size_t n;
} input;

/* A file made here, so the test has inputs without the corpora: a score with the things that matter. */
static int make_generated(input *in) {
    cdz_score s;
    if (cdz_score_init(&s, 480, NULL)) return 0;
    cdz_score_add_tempo(&s, 0, 100);
    cdz_score_add_tempo(&s, 1920, 80);
    cdz_score_add_time_signature(&s, 0, 3, 4);
    cdz_score_add_key_signature(&s, 0, -2, 0);
    for (int i = 0; i < 64; i++) {
        cdz_score_add_note(&s, (uint16_t)(i % 3), (uint8_t)(i % 3 == 2 ? 9 : i % 3), (uint8_t)(i % 5), (uint8_t)(48 + i % 24),
                           (uint8_t)(20 + i), i * 120, i * 120 + (i % 4) * 100);
        cdz_score_add_control(&s, (uint16_t)(i % 3), 0, i * 120, (uint8_t)(i % 2 ? 64 : 7), (uint8_t)(i * 2));
    }
    cdz_score_finish(&s, NULL);
    cdz_midi m;
    int ok = cdz_score_to_midi(&m, &s, 1, NULL) == CDZ_OK && cdz_midi_write(&m, &in->b, &in->n, NULL) == CDZ_OK;
    if (ok) cdz_midi_free(&m);
    cdz_score_free(&s);
    snprintf(in->name, sizeof in->name, "generated score");
    return ok;
}

static void check_truncations(const input *in) {
    size_t failures = 0;
    for (size_t len = 0; len <= in->n; len++) {
        /* A fresh heap copy of exactly `len` bytes, so ASan catches any read past the end. */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, in->b, len);
        const char *fail = midi_oracle(copy, len);
        if (fail && failures++ < 3) printf("%s cut to %zu bytes: %s\n", in->name, len, fail);
        free(copy);
    }
    printf("%s: %zu truncations checked\n", in->name, in->n + 1);
    CHECK(failures == 0, "%s: %zu truncations broke a property", in->name, failures);
}

static uint64_t rng;
static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* One to eight edits: random bytes, bit flips, values parsers trip on, insertions, deletions. */
static size_t mutate(uint8_t *b, size_t n, size_t cap) {
    static const uint8_t special[] = {0x00, 0x7F, 0x80, 0x81, 0xFF, 0xF0, 0xF7, 0x2F, 0x90, 0x51};
    int edits = 1 + (int)rnd(8);
    for (int e = 0; e < edits && n > 0; e++) {
        size_t at = rnd((uint32_t)n);
        switch (rnd(5)) {
        case 0: b[at] = (uint8_t)rnd(256); break;
        case 1: b[at] ^= (uint8_t)(1u << rnd(8)); break;
        case 2: b[at] = special[rnd(sizeof special)]; break;
        case 3:
            if (n + 4 <= cap) {
                memmove(b + at + 4, b + at, n - at);
                for (int k = 0; k < 4; k++) b[at + k] = special[rnd(sizeof special)];
                n += 4;
            }
            break;
        default: {
            size_t k = 1 + rnd(16);
            if (at + k > n) k = n - at;
            memmove(b + at, b + at + k, n - at - k);
            n -= k;
        }
        }
    }
    return n;
}

static void check_mutations(const input *in, int count, uint64_t seed) {
    size_t failures = 0;
    size_t cap = in->n + 64;
    uint8_t *work = malloc(cap);
    rng = seed;
    for (int i = 0; i < count; i++) {
        memcpy(work, in->b, in->n);
        size_t n = mutate(work, in->n, cap);
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, work, n);
        const char *fail = midi_oracle(copy, n);
        if (fail && failures++ < 3) printf("%s, mutation %d (seed %llu): %s\n", in->name, i, (unsigned long long)seed, fail);
        free(copy);
    }
    free(work);
    printf("%s: %d mutations checked\n", in->name, count);
    CHECK(failures == 0, "%s: %zu mutations broke a property", in->name, failures);
}

int main(void) {
    input inputs[8];
    int n = 0;
    if (make_generated(&inputs[n])) n++;
    else CHECK(0, "could not make the generated input");
    const char *data = test_data_dir();
    if (!data) printf("SKIPPED: real-file truncations (no corpora; set CADENZA_DATA); using generated input only\n");
    for (size_t i = 0; data && i < sizeof REAL / sizeof REAL[0]; i++) {
        input *in = &inputs[n];
        snprintf(in->name, sizeof in->name, "%s", REAL[i]);
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", data, REAL[i]);
        cdz_error err;
        if (cdz_file_read_all(path, &in->b, &in->n, &err) == CDZ_OK) n++;
        else CHECK(0, "%s", err.msg);
    }
    for (int i = 0; i < n; i++) {
        check_truncations(&inputs[i]);
        check_mutations(&inputs[i], 2000, 0x9E3779B97F4A7C15ULL + (uint64_t)i);
    }
    for (int i = 0; i < n; i++) cdz_free(inputs[i].b);
    return test_summary("test_robust");
}

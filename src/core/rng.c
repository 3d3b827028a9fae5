/* The seeded random source: splitmix64 expands the seed, xoshiro256** draws (Blackman and Vigna); and
 * splitmix64 as a counter-based stream (cdz_random_at), whose values need no state. */
#include <math.h>

#include "cadenza/core.h"

#define GOLDEN_GAMMA 0x9e3779b97f4a7c15ULL

/* splitmix64's output function (Steele, Lea and Flood, "Fast splittable pseudorandom number
 * generators", 2014, with Stafford's "Mix13" constants). */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t splitmix64(uint64_t *x) { return mix64(*x += GOLDEN_GAMMA); }

void cdz_rng_seed(cdz_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

uint64_t cdz_random_at(uint64_t key, uint64_t index) { return mix64(key + (index + 1) * GOLDEN_GAMMA); }

void cdz_random_fill(uint64_t key, uint64_t index, uint64_t *out, size_t n) {
    uint64_t x = key + (index + 1) * GOLDEN_GAMMA;
    for (size_t i = 0; i < n; i++, x += GOLDEN_GAMMA) out[i] = mix64(x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t cdz_rng_next(cdz_rng *r) { /* xoshiro256** */
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t cdz_rng_below(cdz_rng *r, uint64_t n) {
    /* Rejection keeps every value equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = cdz_rng_next(r);
    while (x >= limit);
    return x % n;
}

double cdz_rng_uniform(cdz_rng *r) { return (double)(cdz_rng_next(r) >> 11) * 0x1.0p-53; }

double cdz_rng_normal(cdz_rng *r) { /* Box-Muller, one of the pair */
    double u = cdz_rng_uniform(r), v = cdz_rng_uniform(r);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * 3.14159265358979323846 * v);
}

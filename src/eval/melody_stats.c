/* Melody statistics for judging generated melodies against a corpus: in-key share, note lengths,
 * intervals (see cadenza/eval.h). */
#include <string.h>

#include "cadenza/eval.h"
#include "cadenza/extract.h"

static int in_major(int pitch, int tonic) {
    static const int scale[12] = {1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1};
    return scale[((pitch - tonic) % 12 + 12) % 12];
}

int cdz_melody_major_key(const int16_t *ev, size_t n, size_t from) {
    int counts[12] = {0}, any = 0;
    for (size_t i = from; i < n; i++)
        if (ev[i] >= 0) counts[ev[i] % 12]++, any = 1;
    if (!any) return -1;
    int best = 0, best_score = -1;
    for (int k = 0; k < 12; k++) {
        int score = 0;
        for (int pc = 0; pc < 12; pc++) score += in_major(pc, k) * counts[pc];
        if (score > best_score) best = k, best_score = score;
    }
    return best;
}

void cdz_melody_stats_add(cdz_melody_stats *st, const int16_t *ev, size_t n, size_t from, int key) {
    if (key < 0) key = cdz_melody_major_key(ev, n, from);
    if (key < 0) return;
    st->melodies++;
    int prev = -1;
    for (size_t i = from; i < n; i++) {
        if (ev[i] < 0) continue;
        size_t end = i + 1; /* a note lasts until the next note or note-off */
        while (end < n && ev[end] == CDZ_MELODY_NO_EVENT) end++;
        size_t len = end - i;
        st->length[len > CDZ_STATS_MAX_LENGTH ? CDZ_STATS_MAX_LENGTH : len - 1]++;
        st->notes++;
        st->in_key += in_major(ev[i], key);
        if (prev >= 0) {
            int d = ev[i] - prev;
            d = d < -CDZ_STATS_MAX_INTERVAL ? -CDZ_STATS_MAX_INTERVAL : d > CDZ_STATS_MAX_INTERVAL ? CDZ_STATS_MAX_INTERVAL : d;
            st->interval[d + CDZ_STATS_MAX_INTERVAL]++;
            st->intervals++;
        }
        prev = ev[i];
    }
}

double cdz_histogram_overlap(const int64_t *a, const int64_t *b, size_t n) {
    double ta = 0, tb = 0, sum = 0;
    for (size_t i = 0; i < n; i++) ta += (double)a[i], tb += (double)b[i];
    if (ta <= 0 || tb <= 0) return 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)a[i] / ta, y = (double)b[i] / tb;
        sum += x < y ? x : y;
    }
    return sum;
}

/* Shared by the files of src/score/ only. */
#ifndef CADENZA_SCORE_INTERNAL_H
#define CADENZA_SCORE_INTERNAL_H
#include "cadenza/score.h"

#include <stdlib.h>

cdz_status score_ensure_tracks(cdz_score *s, size_t n);
int score_note_cmp(const void *a, const void *b);
/* Sorts every list (notes by the full key of score.h, the others stably by tick). */
cdz_status score_sort(cdz_score *s);
/* Fills the seconds of everything from ticks, and raises end_tick/duration_s to cover it all. */
void score_fill_seconds(cdz_score *s);
#endif

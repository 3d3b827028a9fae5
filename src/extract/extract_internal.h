/* Shared by the files of src/extract/ only. */
#ifndef CADENZA_EXTRACT_INTERNAL_H
#define CADENZA_EXTRACT_INTERNAL_H
#include "cadenza/extract.h"

/* Where the tempo or time signature really changes (Magenta's TimeChangeSplitter): 0, the change
 * ticks, and the score's end, as a new array of *n ticks. */
cdz_status extract_split_ticks(const cdz_score *s, int64_t **out, size_t *n);
#endif

/* cadenza data: datasets of token sequences in .cdz shards, and batches for training.
 *
 *   cdz_dataset ds;
 *   if (cdz_dataset_open(&ds, "nottingham_melody.cdz", &err) != CDZ_OK) { puts(err.msg); return 1; }
 *   cdz_batcher b;
 *   cdz_batcher_init(&b, &ds, CDZ_SPLIT_TRAIN, 64, 128, 42, 0, 1, &err);   // B=64, T=128, seed, rank 0 of 1
 *   uint16_t x[64 * 129];
 *   cdz_batcher_next(&b, x);                                             // B windows of T+1 tokens
 *   cdz_dataset_close(&ds);
 *
 * The shard format (docs/formats.md): a 64-byte little-endian header (magic "CDZSHARD", version,
 * vocabulary size, codec name, counts, an FNV-1a 64 checksum of the whole file but itself, the data
 * type), the sequence offsets (u64, n_seqs + 1), one split byte per sequence (train, eval, test), then
 * the elements: u16 tokens, or int16 audio samples, or f32 feature frames. Readers read the whole
 * file into memory (so a file changed or truncated under a run cannot bring it down) and verify all
 * of it before use; a truncated or altered file is rejected with an error naming
 * it. Version 1 files (tokens only, before the data type) still open. Thread safety: an open dataset
 * is read-only and may be shared; a batcher belongs to one thread. */
#ifndef CADENZA_DATA_H
#define CADENZA_DATA_H

#include "cadenza/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CDZ_SHARD_MAGIC "CDZSHARD"
#define CDZ_SHARD_VERSION 2u /* 2: the data type in the header; 1 (tokens only) is still read */
#define CDZ_SHARD_HEADER_SIZE 64u

typedef enum cdz_split { CDZ_SPLIT_TRAIN = 0, CDZ_SPLIT_EVAL = 1, CDZ_SPLIT_TEST = 2, CDZ_SPLIT_ALL = 255 } cdz_split;
CDZ_API const char *cdz_split_name(cdz_split s); /* "train", "eval", "test" */

/* What a shard's elements are. */
typedef enum cdz_dtype {
    CDZ_DTYPE_TOKENS = 1, /* u16 tokens below the vocabulary size */
    CDZ_DTYPE_AUDIO = 2,  /* int16 mono samples; `width` is the sample rate in Hz */
    CDZ_DTYPE_FEATURES = 3, /* f32 frames of `width` values each (an element is a frame) */
} cdz_dtype;
CDZ_API const char *cdz_dtype_name(cdz_dtype t); /* "tokens", "audio", "features" */
/* The bytes of one element of a shard of type t and width (0 for an unknown type). */
CDZ_API size_t cdz_dtype_element_bytes(cdz_dtype t, uint32_t width);

/* ---- writing ---- */
typedef struct cdz_shard_writer {
    char codec[16];
    uint32_t vocab_size;
    cdz_dtype dtype;
    uint32_t width;    /* audio: sample rate; features: values per frame */
    cdz_tokens seqs;   /* every token sequence so far (tokens) */
    uint8_t *data;     /* every element so far (audio, features) */
    size_t n_elems, cap_bytes;
    size_t *offsets;   /* audio, features: element offsets, one more than sequences */
    size_t n_data_seqs, cap_offsets;
    uint8_t *splits;   /* one per sequence */
    size_t cap_splits;
} cdz_shard_writer;

/* A writer of token sequences (codec name, vocabulary size). */
CDZ_API cdz_status cdz_shard_writer_init(cdz_shard_writer *w, const char *codec, uint32_t vocab_size, cdz_error *err);
/* A writer of another data type: audio (width = sample rate) or features (width = values per frame);
 * `codec` names what made them ("render", a feature extractor). */
CDZ_API cdz_status cdz_shard_writer_init_typed(cdz_shard_writer *w, const char *codec, cdz_dtype dtype, uint32_t width,
                                       cdz_error *err);
/* Adds the sequences of `t` with one split. Tokens must be below vocab_size. */
CDZ_API cdz_status cdz_shard_writer_add(cdz_shard_writer *w, const cdz_tokens *t, cdz_split split, cdz_error *err);
/* Adds one sequence of n elements of the writer's type (int16 samples, or frames of width floats). */
CDZ_API cdz_status cdz_shard_writer_add_elements(cdz_shard_writer *w, const void *elements, size_t n, cdz_split split,
                                         cdz_error *err);
/* Writes the shard to a temporary file, fsyncs and renames it over `path`. */
CDZ_API cdz_status cdz_shard_writer_finish(cdz_shard_writer *w, const char *path, cdz_error *err);
CDZ_API void cdz_shard_writer_free(cdz_shard_writer *w);

/* ---- reading ---- */
typedef struct cdz_dataset {
    char codec[16];
    uint32_t vocab_size;     /* tokens: the vocabulary; 0 for other types */
    cdz_dtype dtype;
    uint32_t width;          /* audio: the sample rate; features: values per frame */
    uint32_t version;        /* the file's format version */
    uint64_t n_seqs, n_tokens; /* n_tokens: elements (tokens, samples or frames) */
    const uint64_t *offsets; /* (n_seqs + 1) into the elements */
    const uint8_t *splits;   /* (n_seqs) */
    const uint16_t *tokens;  /* (n_tokens) when dtype is CDZ_DTYPE_TOKENS, else NULL */
    const void *data;        /* the elements, whatever their type */
    void *map;               /* the file's bytes, read into memory when opened */
    size_t map_len;
} cdz_dataset;

CDZ_API cdz_status cdz_dataset_open(cdz_dataset *ds, const char *path, cdz_error *err);
CDZ_API void cdz_dataset_close(cdz_dataset *ds);
/* The length of sequence i, in elements. */
CDZ_API uint64_t cdz_dataset_seq_len(const cdz_dataset *ds, uint64_t i);

/* ---- batches ---- */
/* (the random source cdz_rng is in cadenza/core.h) */

/* Random windows of T + 1 tokens (inputs and next-token targets) from the sequences of one split that
 * are at least T + 1 long, every start position equally likely. With world > 1, rank r sees only the
 * sequences i with i % world == r, so data-parallel workers read disjoint data. */
typedef struct cdz_batcher {
    const cdz_dataset *ds;
    int64_t B, T;
    cdz_rng rng;
    uint64_t *seqs;    /* eligible sequences */
    uint64_t *cum;     /* cumulative window counts, one per eligible sequence */
    uint64_t n_seqs, n_windows;
} cdz_batcher;

CDZ_API cdz_status cdz_batcher_init(cdz_batcher *b, const cdz_dataset *ds, cdz_split split, int64_t B, int64_t T,
                            uint64_t seed, int rank, int world, cdz_error *err);
/* Fills out (B, T + 1). */
CDZ_API void cdz_batcher_next(cdz_batcher *b, uint16_t *out);
CDZ_API void cdz_batcher_free(cdz_batcher *b);

/* ---- building a dataset from MIDI files ---- */
typedef struct cdz_build_params {
    const cdz_codec *codec;
    const char *const *inputs; /* files and folders (walked for .mid, .midi, .kar, .rmi) */
    size_t n_inputs;
    int transpose_min, transpose_max; /* augmentation: every shift in [min, max] (0, 0: none) */
    const double *stretch;            /* augmentation: time stretch factors (NULL: none; 1.0 = as is) */
    size_t n_stretch;
    int style;             /* >= 0: put the codec's style token `style` first in every sequence */
    double eval_fraction;  /* files whose content hash falls below it go to the eval split */
    int split_from_path;   /* use the corpus's own split: a folder named test/ -> test, valid/ or eval/ -> eval */
    int program_min, program_max; /* keep only non-drum notes of these programs (0, 127: all) */
    int single_tempo;      /* read every file at its first tempo (see cdz_score_single_tempo) */
    const char *tracks;    /* keep only the notes of tracks with these names (comma-separated; NULL: all) */
    const char *beats;     /* bar lines from a beat annotation beside each file: this file name in its folder
                              (POP909: "beat_midi.txt"; cdz_beats_read, cdz_score_set_bars); NULL: none */
    /* What the corpora's index.json files say (a JSON list of objects with "path" relative to the
     * index's folder, "style", "composer" or "composer_name", "licence"): an input folder holding an
     * index.json gives its files' entries to codecs that read them (encode_info) and to the licence
     * filter; the folder's name is the corpus (a style for codecs that read one from it). */
    const char *licences;  /* keep only files whose licence is of these classes (cdz_licence_class, comma-
                              separated: "public-domain,cc0,cc-by,mit"); NULL: every file */
    const char *assume_licence; /* the licence of files no index covers (the user vouches); NULL: unknown */
    double anticipation;   /* codecs with anticipated controls (ensemble): the share of sequences with them */
    /* Audio datasets (issue 17): with audio_rate > 0 each MIDI file is rendered (cdz_render_score, the
     * default render settings, its stereo averaged) and each WAV file (any format cdz_wav_read_any reads)
     * made mono at this rate, into one int16 sequence per file in a CDZ_DTYPE_AUDIO shard (codec
     * "render", width the rate); splits as for tokens (by the file's bytes). codec must be NULL, and
     * style, transposition and stretch unset. 8000 .. 96000. */
    uint32_t audio_rate;
    const char *soundfont; /* the render's SoundFont (NULL: cdz_render_find_soundfont's) */
    int threads;           /* workers (1 or more) */
    /* Called from the calling thread as files finish (may be NULL). */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
} cdz_build_params;

typedef struct cdz_build_report {
    size_t files;              /* files found */
    size_t files_used;         /* files that gave at least one sequence */
    size_t skipped_unreadable; /* could not be read */
    size_t skipped_broken;     /* not MIDI, or broken MIDI */
    size_t skipped_empty;      /* read, but nothing extracted */
    size_t skipped_licence;    /* left out by the licence filter (params.licences) */
    size_t indexed;            /* files an index.json described */
    size_t tempo_changes;      /* files with more than one tempo (before single_tempo): melodies are cut
                                  at each change, the usual reason why files give nothing */
    size_t beats_used;         /* files whose bars came from their beat annotation (params.beats) */
    size_t beats_missing;      /* files without a usable one (encoded with the codec's own bars) */
    char beats_problem[320];   /* the first annotation that could not be used, and why */
    size_t converted;          /* audio builds: WAV files made mono or resampled */
    size_t seqs[3], tokens[3]; /* by split (tokens: elements, samples for audio) */
    cdz_extract_stats stats;   /* the extractor's counters, summed */
    char first_problem[320];   /* the first file skipped as unreadable or broken, and why */
} cdz_build_report;

/* The class of a licence as corpora write it: "public-domain", "cc0", "cc-by", "cc-by-sa", "cc-by-nc"
 * (any non-commercial one), "cc-by-nd" (no derivatives), "mit", "gpl", "odbl", or "unknown". */
CDZ_API const char *cdz_licence_class(const char *text);
/* Whether every class in the comma-separated list is one cdz_licence_class returns; else names the
 * first that is not in *bad. */
CDZ_API int cdz_licence_classes_valid(const char *list, const char **bad, size_t *bad_len);

/* Whether a file of these bytes goes to the eval split under eval_fraction (by content, as
 * cdz_dataset_build does, so a measure can pick the same held-out files). */
CDZ_API int cdz_build_in_eval(const uint8_t *bytes, size_t len, double eval_fraction);

CDZ_API cdz_build_params cdz_build_default_params(void);
/* Reads, extracts and encodes every file on `threads` workers, then writes one shard with the
 * sequences in file order (so the result does not depend on the number of threads). When no file
 * gives a sequence, nothing is written (a file already at out_path is left as it was) and the result
 * is CDZ_ERR_RANGE with the report filled in, so the caller can say why. */
CDZ_API cdz_status cdz_dataset_build(const cdz_build_params *p, const char *out_path, cdz_build_report *report, cdz_error *err);


#ifdef __cplusplus
}
#endif
#endif

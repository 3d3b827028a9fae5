/* Building a dataset: files -> scores -> codec tokens -> one shard, on several threads. Each file's
 * result is kept in its slot and written in file order, so the shard is the same for any thread count. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cadenza/audio.h"
#include "cadenza/data.h"
#include "cadenza/json.h"

cdz_build_params cdz_build_default_params(void) {
    cdz_build_params p;
    memset(&p, 0, sizeof p);
    p.threads = 2;
    p.style = -1;
    p.program_max = 127;
    p.anticipation = 0.5;
    return p;
}

typedef struct file_result {
    cdz_tokens tokens[3]; /* by split: a MIDI file's all go to one, a corpus file's (JSB JSON) to each */
    cdz_status status; /* CDZ_OK, or why the file was skipped */
    int tempo_changes; /* the file changes tempo (two tempo events with different qpm) */
    int licence_skipped; /* left out by the licence filter (not read) */
    int beats;         /* 1: bars from its beat annotation; -1: it had none that could be used */
    char beats_problem[320];
    cdz_extract_stats stats;
    char problem[320];
    int16_t *audio;    /* audio builds: the file's mono samples, all in split audio_split */
    size_t n_audio;
    cdz_split audio_split;
    int converted;     /* audio builds: a WAV file that was made mono or resampled */
} file_result;

/* What an index says of one file (strings inside the parsed index, which outlives the build). */
typedef struct piece_meta {
    const char *style, *composer, *licence, *corpus;
    int indexed;
} piece_meta;

typedef struct build_job {
    const cdz_build_params *p;
    char **paths;
    piece_meta *meta;
    size_t n;
    file_result *results;
    size_t next, done; /* guarded by lock */
    int failed;        /* out of memory: stop */
    pthread_mutex_t lock;
    pthread_cond_t progressed;
} build_job;

const char *cdz_licence_class(const char *t) {
    if (!t || !*t) return "unknown";
    char low[256];
    size_t n = 0;
    for (; t[n] && n + 1 < sizeof low; n++) low[n] = (char)(t[n] >= 'A' && t[n] <= 'Z' ? t[n] + 32 : t[n]);
    low[n] = 0;
    if (strstr(low, "noncommercial") || strstr(low, "non-commercial") || strstr(low, "non commercial") || strstr(low, "by-nc") ||
        strstr(low, "by nc"))
        return "cc-by-nc";
    if (strstr(low, "noderiv") || strstr(low, "no deriv") || strstr(low, "no-deriv") || strstr(low, "by-nd") || strstr(low, "by nd"))
        return "cc-by-nd";
    if (strstr(low, "sharealike") || strstr(low, "share-alike") || strstr(low, "share alike") || strstr(low, "by-sa") ||
        strstr(low, "by sa"))
        return "cc-by-sa";
    if (strstr(low, "cc0") || strstr(low, "cc-0")) return "cc0";
    if (strstr(low, "public domain") || strstr(low, "public-domain")) return "public-domain";
    if (strstr(low, "attribution") || strstr(low, "cc by") || strstr(low, "cc-by")) return "cc-by";
    if (strstr(low, "gpl") || strstr(low, "general public")) return "gpl";
    if (strstr(low, "odbl") || strstr(low, "open database")) return "odbl";
    if (strcmp(low, "mit") == 0 || strstr(low, "mit license") || strstr(low, "mit licence")) return "mit";
    return "unknown";
}

static const char *const LICENCE_CLASSES[] = {"public-domain", "cc0", "cc-by", "cc-by-sa", "cc-by-nc", "cc-by-nd", "mit", "gpl", "odbl", "unknown"};

static int class_in(const char *list, const char *cls) {
    size_t k = strlen(cls);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == k && strncasecmp(p, cls, k) == 0) return 1;
        p = e ? e + 1 : NULL;
    }
    return 0;
}

int cdz_licence_classes_valid(const char *list, const char **bad, size_t *bad_len) {
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p), ok = 0;
        for (size_t i = 0; i < sizeof LICENCE_CLASSES / sizeof *LICENCE_CLASSES; i++)
            ok |= strlen(LICENCE_CLASSES[i]) == len && strncasecmp(p, LICENCE_CLASSES[i], len) == 0;
        if (!ok) {
            if (bad) *bad = p;
            if (bad_len) *bad_len = len;
            return 0;
        }
        p = e ? e + 1 : NULL;
    }
    return 1;
}

/* Whether a folder of the path is named `dir` ("test" matches "test/x.mid" and "a/test/x.mid"). */
static int has_folder(const char *path, const char *dir) {
    size_t k = strlen(dir);
    for (const char *p = path; (p = strstr(p, dir)) != NULL; p++)
        if ((p == path || p[-1] == '/') && p[k] == '/') return 1;
    return 0;
}

static cdz_split split_of(const cdz_build_params *p, const char *path, const uint8_t *bytes, size_t len) {
    if (p->split_from_path) {
        if (has_folder(path, "test")) return CDZ_SPLIT_TEST;
        if (has_folder(path, "valid") || has_folder(path, "eval")) return CDZ_SPLIT_EVAL;
        return CDZ_SPLIT_TRAIN;
    }
    return cdz_build_in_eval(bytes, len, p->eval_fraction) ? CDZ_SPLIT_EVAL : CDZ_SPLIT_TRAIN;
}

int cdz_build_in_eval(const uint8_t *bytes, size_t len, double eval_fraction) {
    if (!(eval_fraction > 0)) return 0;
    /* By content, so renaming or moving a file keeps it in its split. */
    double u = (double)(cdz_fnv1a64(CDZ_FNV_OFFSET, bytes, len) >> 11) * (1.0 / 9007199254740992.0);
    return u < eval_fraction;
}

static int is_midi_name(const char *path) {
    static const char *const ext[] = {".mid", ".midi", ".kar", ".rmi"};
    size_t n = strlen(path);
    for (size_t i = 0; i < 4; i++) {
        size_t k = strlen(ext[i]);
        if (n >= k && strncasecmp(path + n - k, ext[i], k) == 0) return 1;
    }
    return 0;
}

/* Bar lines from the annotation named p->beats in the file's folder; a file without a usable one keeps
 * its own (counted, the first reason kept). */
static void apply_beats(const cdz_build_params *p, const char *path, cdz_score *s, file_result *r) {
    char ann[4096];
    const char *slash = strrchr(path, '/');
    int dir = slash ? (int)(slash - path + 1) : 0;
    snprintf(ann, sizeof ann, "%.*s%s", dir, path, p->beats);
    cdz_beats b;
    cdz_error e = {0};
    cdz_status st = cdz_beats_read(&b, ann, &e); /* its errors name the file */
    if (st != CDZ_OK) {
        snprintf(r->beats_problem, sizeof r->beats_problem, "%.300s", e.msg);
    } else {
        cdz_score copy;
        if ((st = cdz_score_copy(&copy, s, &e)) == CDZ_OK && (st = cdz_score_set_bars(&copy, &b, &e)) == CDZ_OK) {
            cdz_score_free(s);
            *s = copy;
        } else {
            if (st != CDZ_ERR_NOMEM) cdz_score_free(&copy);
            snprintf(r->beats_problem, sizeof r->beats_problem, "%.150s: %.160s", ann, e.msg);
        }
        cdz_beats_free(&b);
    }
    if (st == CDZ_ERR_NOMEM) r->status = st;
    r->beats = st == CDZ_OK ? 1 : -1;
}

/* Encodes with what the index says when the codec reads it. */
static cdz_status encode_one(const cdz_build_params *p, const piece_meta *meta, uint64_t seed, const cdz_score *s, cdz_tokens *out,
                             file_result *r, cdz_error *err) {
    if (!p->codec->encode_info) return p->codec->encode(s, out, &r->stats, err);
    cdz_piece_info info = {meta->style ? meta->style : "", meta->composer ? meta->composer : "", meta->corpus ? meta->corpus : "",
                           p->anticipation, seed};
    return p->codec->encode_info(s, &info, out, &r->stats, err);
}

static int is_wav_name(const char *path) {
    size_t n = strlen(path);
    return n >= 4 && strncasecmp(path + n - 4, ".wav", 4) == 0;
}

/* Float samples (full scale 1) to int16, rounded and clipped. */
static int16_t *to_int16(const float *x, size_t n) {
    int16_t *out = cdz_malloc((n ? n : 1) * sizeof *out);
    for (size_t i = 0; out && i < n; i++) {
        float v = x[i] * 32767.0f;
        out[i] = (int16_t)(v >= 32767.0f ? 32767 : v <= -32768.0f ? -32768 : lrintf(v));
    }
    return out;
}

/* An audio build's file: a WAV read and conformed to mono at the rate, or a MIDI file rendered there
 * with FluidSynth (the channels of the stereo render averaged). */
static void process_audio_file(const cdz_build_params *p, const char *path, file_result *r) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    cdz_error err = {0};
    r->status = cdz_file_read_all(path, &bytes, &len, &err);
    if (r->status != CDZ_OK) {
        snprintf(r->problem, sizeof r->problem, "%s", err.msg);
        return;
    }
    r->audio_split = split_of(p, path, bytes, len);
    float *mono = NULL;
    size_t frames = 0;
    if (is_wav_name(path)) {
        cdz_audio_f a = {0};
        char did[160] = "";
        r->status = cdz_wav_parse_any(bytes, len, path, &a, &err);
        if (r->status == CDZ_OK) r->status = cdz_audio_f_conform(&a, p->audio_rate, &mono, &frames, did, sizeof did, &err);
        r->converted = did[0] != 0;
        cdz_audio_f_free(&a);
    } else {
        cdz_midi m;
        cdz_score s = {0};
        cdz_audio a = {0};
        r->status = cdz_midi_read(&m, bytes, len, path, &err);
        if (r->status == CDZ_OK) {
            r->status = cdz_score_from_midi(&s, &m, &err);
            cdz_midi_free(&m);
        }
        cdz_render_params rp = cdz_render_default_params();
        rp.sample_rate = p->audio_rate;
        rp.soundfont = p->soundfont;
        if (r->status == CDZ_OK) r->status = cdz_render_score(&s, &rp, &a, &err);
        cdz_score_free(&s);
        if (r->status == CDZ_OK && !(mono = cdz_malloc((a.frames ? a.frames : 1) * sizeof *mono)))
            r->status = cdz_error_set(&err, CDZ_ERR_NOMEM, "out of memory for %zu samples", a.frames);
        for (size_t i = 0; r->status == CDZ_OK && i < a.frames; i++) {
            float sum = 0;
            for (int c = 0; c < a.channels; c++) sum += a.samples[i * (size_t)a.channels + (size_t)c];
            mono[i] = sum / (32768.0f * (float)a.channels);
        }
        frames = a.frames;
        cdz_audio_free(&a);
    }
    cdz_free(bytes);
    if (r->status == CDZ_OK && frames == 0) r->status = cdz_error_set(&err, CDZ_ERR_FORMAT, "no audio");
    if (r->status == CDZ_OK && !(r->audio = to_int16(mono, frames)))
        r->status = cdz_error_set(&err, CDZ_ERR_NOMEM, "out of memory for %zu samples", frames);
    if (r->status == CDZ_OK) r->n_audio = frames;
    cdz_free(mono);
    if (r->status != CDZ_OK) {
        if (strstr(err.msg, path)) snprintf(r->problem, sizeof r->problem, "%s", err.msg);
        else snprintf(r->problem, sizeof r->problem, "%.150s: %.160s", path, err.msg);
    }
}

static void process_file(const cdz_build_params *p, const char *path, const piece_meta *meta, file_result *r) {
    if (p->audio_rate) {
        process_audio_file(p, path, r);
        return;
    }
    uint8_t *bytes = NULL;
    size_t len = 0;
    cdz_error err = {0};
    cdz_midi m;
    cdz_score s = {0};
    if (p->codec->encode_corpus && !is_midi_name(path)) {
        r->status = p->codec->encode_corpus(path, r->tokens, &r->stats, &err);
        /* reading errors already name the file; encoding errors do not */
        if (r->status != CDZ_OK && strstr(err.msg, path))
            snprintf(r->problem, sizeof r->problem, "%s", err.msg);
        else if (r->status != CDZ_OK)
            snprintf(r->problem, sizeof r->problem, "%.150s: %.160s", path, err.msg);
        return;
    }
    r->status = cdz_file_read_all(path, &bytes, &len, &err);
    if (r->status != CDZ_OK) {
        snprintf(r->problem, sizeof r->problem, "%s", err.msg);
        return;
    }
    cdz_tokens *out = &r->tokens[split_of(p, path, bytes, len)];
    uint64_t seed = cdz_fnv1a64(CDZ_FNV_OFFSET, bytes, len);
    r->status = cdz_midi_read(&m, bytes, len, path, &err);
    cdz_free(bytes);
    if (r->status == CDZ_OK) {
        r->status = cdz_score_from_midi(&s, &m, &err);
        cdz_midi_free(&m);
    }
    for (size_t i = 1; r->status == CDZ_OK && i < s.n_tempos; i++)
        r->tempo_changes |= s.tempos[i].qpm != s.tempos[i - 1].qpm;
    if (r->status == CDZ_OK && p->single_tempo) r->status = cdz_score_single_tempo(&s, &err);
    if (r->status == CDZ_OK && (p->program_min > 0 || p->program_max < 127))
        cdz_score_keep_programs(&s, p->program_min, p->program_max);
    if (r->status == CDZ_OK && p->tracks) cdz_score_keep_tracks(&s, p->tracks);
    if (r->status == CDZ_OK && p->beats) apply_beats(p, path, &s, r);
    if (r->status != CDZ_OK) {
        snprintf(r->problem, sizeof r->problem, "%s", err.msg);
        cdz_score_free(&s);
        return;
    }
    static const double as_is = 1.0;
    const double *factors = p->n_stretch ? p->stretch : &as_is;
    size_t n_factors = p->n_stretch ? p->n_stretch : 1;
    for (size_t f = 0; f < n_factors && r->status == CDZ_OK; f++) {
        for (int shift = p->transpose_min; shift <= p->transpose_max && r->status == CDZ_OK; shift++) {
            cdz_score t;
            if (shift == 0 && factors[f] == 1.0) {
                r->status = encode_one(p, meta, seed + (uint64_t)(shift + 128) * 7919u + f, &s, out, r, &err);
                continue;
            }
            if ((r->status = cdz_score_copy(&t, &s, &err)) != CDZ_OK) break;
            /* a shift that leaves 0-127 is skipped */
            if (cdz_score_transpose(&t, shift, NULL) == CDZ_OK &&
                (factors[f] == 1.0 || (r->status = cdz_score_stretch(&t, factors[f], &err)) == CDZ_OK))
                r->status = encode_one(p, meta, seed + (uint64_t)(shift + 128) * 7919u + f, &t, out, r, &err);
            cdz_score_free(&t);
        }
    }
    if (r->status != CDZ_OK) snprintf(r->problem, sizeof r->problem, "%.150s: %.160s", path, err.msg);
    cdz_score_free(&s);
}

/* Puts one token in front of every sequence (a style for the model to condition on). */
static cdz_status prefix_each(cdz_tokens *t, uint16_t token) {
    cdz_tokens with = {0};
    uint16_t *buf = NULL;
    size_t cap = 0;
    cdz_status st = CDZ_OK;
    for (size_t s = 0; s < t->n_seqs && !st; s++) {
        size_t n = t->offsets[s + 1] - t->offsets[s];
        if (cdz_grow((void **)&buf, &cap, n + 1, sizeof *buf)) {
            st = CDZ_ERR_NOMEM;
            break;
        }
        buf[0] = token;
        memcpy(buf + 1, t->tokens + t->offsets[s], n * sizeof *buf);
        st = cdz_tokens_append(&with, buf, n + 1);
    }
    cdz_free(buf);
    if (st) {
        cdz_tokens_free(&with);
        return st;
    }
    cdz_tokens_free(t);
    *t = with;
    return CDZ_OK;
}

static void *worker(void *arg) {
    build_job *j = arg;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        size_t i = j->next < j->n && !j->failed ? j->next++ : j->n;
        pthread_mutex_unlock(&j->lock);
        if (i >= j->n) break;
        const piece_meta *meta = &j->meta[i];
        const char *lic = meta->indexed ? meta->licence : j->p->assume_licence; /* an index without one: unknown */
        if (j->p->licences && !class_in(j->p->licences, cdz_licence_class(lic))) j->results[i].licence_skipped = 1;
        else process_file(j->p, j->paths[i], meta, &j->results[i]);
        for (int sp = 0; sp < 3 && !j->p->audio_rate && j->p->style >= 0 && j->results[i].status == CDZ_OK; sp++)
            j->results[i].status = prefix_each(&j->results[i].tokens[sp], (uint16_t)(j->p->codec->style_base + (uint32_t)j->p->style));
        pthread_mutex_lock(&j->lock);
        if (j->results[i].status == CDZ_ERR_NOMEM) j->failed = 1;
        j->done++;
        pthread_cond_signal(&j->progressed);
        pthread_mutex_unlock(&j->lock);
    }
    return NULL;
}

/* The folder's own name ("pop909" of "../shared/data/pop909/"). */
static void folder_name(const char *dir, char *out, size_t cap) {
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/') len--;
    size_t b = len;
    while (b > 0 && dir[b - 1] != '/') b--;
    snprintf(out, cap, "%.*s", (int)(len - b), dir + b);
}

/* The parsed index.json of each input folder that has one (NULL where none). */
typedef struct indexes {
    cdz_json **json;
    char (*corpus)[64];
    size_t n;
} indexes;

static void indexes_free(indexes *x) {
    for (size_t i = 0; i < x->n; i++) cdz_json_free(x->json[i]);
    cdz_free(x->json);
    cdz_free(x->corpus);
}

static cdz_status read_index(const char *dir, cdz_json **out, cdz_error *err) {
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/index.json", dir);
    uint8_t *bytes;
    size_t len;
    cdz_error e2 = {0};
    if (cdz_file_read_all(path, &bytes, &len, &e2) != CDZ_OK) return CDZ_OK; /* no index: nothing to read */
    cdz_status st = cdz_json_parse((const char *)bytes, len, path, out, err);
    cdz_free(bytes);
    if (st == CDZ_OK && (*out)->type != CDZ_JSON_ARRAY) {
        cdz_json_free(*out);
        *out = NULL;
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: expected a list of pieces", path);
    }
    return st;
}

/* The entry of `path` (found under input folder `dir`) in that folder's index, or NULL. */
static const cdz_json *index_entry(const cdz_json *index, const char *dir, const char *path) {
    size_t k = strlen(dir);
    while (k > 0 && dir[k - 1] == '/') k--;
    if (strncmp(path, dir, k) != 0 || path[k] != '/') return NULL;
    const char *rel = path + k + 1;
    for (size_t i = 0; i < index->n; i++) {
        const char *p = cdz_json_get_string(&index->items[i], "path", NULL);
        if (p && strcmp(p, rel) == 0) return &index->items[i];
    }
    return NULL;
}

/* Every input file, in order: folders walked, files taken as given. */
static cdz_status gather(const cdz_build_params *p, char ***paths, size_t *n, cdz_error *err) {
    *paths = NULL;
    *n = 0;
    size_t cap = 0;
    for (size_t i = 0; i < p->n_inputs; i++) {
        char **found;
        size_t k;
        cdz_status st = cdz_file_list(p->inputs[i], p->audio_rate ? ".mid,.midi,.kar,.rmi,.wav" : ".mid,.midi,.kar,.rmi", &found,
                                      &k, err);
        if (st == CDZ_OK && cdz_grow((void **)paths, &cap, *n + k + 1, sizeof **paths)) {
            cdz_file_list_free(found, k);
            st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory listing files");
        }
        if (st != CDZ_OK) {
            cdz_file_list_free(*paths, *n);
            *paths = NULL;
            *n = 0;
            return st;
        }
        memcpy(*paths + *n, found, k * sizeof *found);
        *n += k;
        cdz_free(found); /* the strings now belong to *paths */
    }
    return CDZ_OK;
}

static void add_stats(cdz_extract_stats *a, const cdz_extract_stats *b) {
    a->sequences += b->sequences;
    a->polyphonic_tracks += b->polyphonic_tracks;
    a->too_short += b->too_short;
    a->too_few_pitches += b->too_few_pitches;
    a->truncated += b->truncated;
    a->non_integer_bar += b->non_integer_bar;
    a->empty += b->empty;
    a->not_four_voices += b->not_four_voices;
    a->out_of_range += b->out_of_range;
    a->unsupported_meter += b->unsupported_meter;
    a->long_notes += b->long_notes;
    a->estimated_bars += b->estimated_bars;
    a->clamped_tempos += b->clamped_tempos;
    a->silent_melody += b->silent_melody;
    a->odd_bars += b->odd_bars;
    a->long_pairs += b->long_pairs;
    a->unisons += b->unisons;
    a->folded_pitches += b->folded_pitches;
}

cdz_status cdz_dataset_build(const cdz_build_params *p, const char *out_path, cdz_build_report *report, cdz_error *err) {
    memset(report, 0, sizeof *report);
    if (p->audio_rate && (p->audio_rate < 8000 || p->audio_rate > 96000))
        return cdz_error_set(err, CDZ_ERR_ARG, "a sample rate of %u Hz: expected 8000 to 96000", p->audio_rate);
    if (p->audio_rate && (p->codec || p->style >= 0 || p->transpose_min || p->transpose_max || p->n_stretch))
        return cdz_error_set(err, CDZ_ERR_ARG, "an audio dataset has no codec, style token, transposition or stretch");
    if (!p->codec && !p->audio_rate) return cdz_error_set(err, CDZ_ERR_ARG, "no codec given");
    if (p->transpose_min > p->transpose_max || p->transpose_min < -127 || p->transpose_max > 127)
        return cdz_error_set(err, CDZ_ERR_ARG, "transposition range %d:%d", p->transpose_min, p->transpose_max);
    if (p->style >= 0 && p->codec && (uint32_t)p->style >= p->codec->n_styles)
        return cdz_error_set(err, CDZ_ERR_ARG, "codec %s has %u style tokens, no style %d", p->codec->name,
                             p->codec->n_styles, p->style);
    for (size_t i = 0; i < p->n_stretch; i++)
        if (!(p->stretch[i] >= 0.1 && p->stretch[i] <= 10))
            return cdz_error_set(err, CDZ_ERR_ARG, "stretch factor %g: expected 0.1 to 10", p->stretch[i]);
    if (!(p->eval_fraction >= 0 && p->eval_fraction < 1))
        return cdz_error_set(err, CDZ_ERR_ARG, "eval fraction %g: expected 0 <= f < 1", p->eval_fraction);
    char **paths;
    size_t n;
    cdz_status st = gather(p, &paths, &n, err);
    if (st != CDZ_OK) return st;
    report->files = n;
    if (n == 0) {
        cdz_file_list_free(paths, n);
        return cdz_error_set(err, CDZ_ERR_ARG, p->audio_rate ? "no MIDI or WAV files found in the inputs"
                                                             : "no MIDI files found in the inputs");
    }
    if (p->licences) {
        const char *bad;
        size_t bad_len;
        if (!cdz_licence_classes_valid(p->licences, &bad, &bad_len)) {
            cdz_file_list_free(paths, n);
            return cdz_error_set(err, CDZ_ERR_ARG, "unknown licence class '%.*s'; the classes are public-domain, cc0, cc-by, "
                                 "cc-by-sa, cc-by-nc, cc-by-nd, mit, gpl, odbl, unknown", (int)bad_len, bad);
        }
    }
    indexes ix = {cdz_calloc(p->n_inputs + 1, sizeof *ix.json), cdz_calloc(p->n_inputs + 1, sizeof *ix.corpus), p->n_inputs};
    piece_meta *meta = cdz_calloc(n, sizeof *meta);
    if (!ix.json || !ix.corpus || !meta) st = cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n_inputs && st == CDZ_OK; i++) {
        folder_name(p->inputs[i], ix.corpus[i], sizeof ix.corpus[i]);
        st = read_index(p->inputs[i], &ix.json[i], err);
    }
    for (size_t f = 0; f < n && st == CDZ_OK; f++)
        for (size_t i = 0; i < p->n_inputs; i++) {
            size_t k = strlen(p->inputs[i]);
            while (k > 0 && p->inputs[i][k - 1] == '/') k--;
            if (strncmp(paths[f], p->inputs[i], k) != 0 || paths[f][k] != '/') continue;
            meta[f].corpus = ix.corpus[i];
            const cdz_json *e = ix.json[i] ? index_entry(ix.json[i], p->inputs[i], paths[f]) : NULL;
            if (e) {
                meta[f].indexed = 1;
                meta[f].style = cdz_json_get_string(e, "style", "");
                meta[f].composer = cdz_json_get_string(e, "composer_name", cdz_json_get_string(e, "composer", ""));
                meta[f].licence = cdz_json_get_string(e, "licence", cdz_json_get_string(e, "license", NULL));
                report->indexed++;
            }
            break;
        }
    build_job j = {p, paths, meta, n, st == CDZ_OK ? cdz_calloc(n, sizeof(file_result)) : NULL, 0, 0, 0, PTHREAD_MUTEX_INITIALIZER,
                   PTHREAD_COND_INITIALIZER};
    if (!j.results) {
        cdz_file_list_free(paths, n);
        cdz_free(meta);
        indexes_free(&ix);
        return st ? st : cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory");
    }
    int threads = p->threads < 1 ? 1 : p->threads > 64 ? 64 : p->threads;
    pthread_t tid[64];
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, worker, &j) != 0) break;
    if (started == 0) worker(&j); /* no threads to be had: do it here */
    /* Report progress from this thread while the workers run. */
    pthread_mutex_lock(&j.lock);
    while (started && j.done < n && !(j.failed && j.done >= j.next)) {
        size_t done = j.done;
        pthread_mutex_unlock(&j.lock);
        if (p->progress) p->progress(p->progress_ctx, done, n);
        pthread_mutex_lock(&j.lock);
        if (j.done == done) pthread_cond_wait(&j.progressed, &j.lock);
    }
    pthread_mutex_unlock(&j.lock);
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    if (p->progress) p->progress(p->progress_ctx, j.done, n);

    cdz_shard_writer w;
    st = j.failed ? cdz_error_set(err, CDZ_ERR_NOMEM, "out of memory building the dataset")
                  : p->audio_rate ? cdz_shard_writer_init_typed(&w, "render", CDZ_DTYPE_AUDIO, p->audio_rate, err)
                  : cdz_shard_writer_init(&w, p->codec->name, p->codec->vocab_size, err);
    for (size_t i = 0; i < n && st == CDZ_OK; i++) {
        file_result *r = &j.results[i];
        add_stats(&report->stats, &r->stats);
        report->tempo_changes += (size_t)r->tempo_changes;
        report->beats_used += r->beats > 0;
        report->beats_missing += r->beats < 0;
        if (r->beats < 0 && !report->beats_problem[0])
            snprintf(report->beats_problem, sizeof report->beats_problem, "%s", r->beats_problem);
        size_t seqs = r->tokens[0].n_seqs + r->tokens[1].n_seqs + r->tokens[2].n_seqs + (r->n_audio > 0);
        report->converted += (size_t)r->converted;
        if (r->licence_skipped) report->skipped_licence++;
        else if (r->status == CDZ_ERR_IO) report->skipped_unreadable++;
        else if (r->status != CDZ_OK) report->skipped_broken++;
        else if (seqs == 0) report->skipped_empty++;
        else report->files_used++;
        if (r->n_audio && r->status == CDZ_OK && st == CDZ_OK) {
            report->seqs[r->audio_split]++;
            report->tokens[r->audio_split] += r->n_audio;
            st = cdz_shard_writer_add_elements(&w, r->audio, r->n_audio, r->audio_split, err);
        }
        for (int sp = 0; sp < 3 && !p->audio_rate && r->status == CDZ_OK && st == CDZ_OK; sp++) {
            report->seqs[sp] += r->tokens[sp].n_seqs;
            report->tokens[sp] += r->tokens[sp].n_tokens;
            st = cdz_shard_writer_add(&w, &r->tokens[sp], (cdz_split)sp, err);
        }
        if (r->status != CDZ_OK && r->problem[0] && !report->first_problem[0]) snprintf(report->first_problem, sizeof report->first_problem, "%s", r->problem);
    }
    size_t seqs = report->seqs[0] + report->seqs[1] + report->seqs[2];
    if (st == CDZ_OK && seqs == 0) /* an empty shard would replace what is there for nothing */
        st = p->audio_rate ? cdz_error_set(err, CDZ_ERR_RANGE, "%s: not written: none of the %zu files gave audio", out_path, n)
                           : cdz_error_set(err, CDZ_ERR_RANGE, "%s: not written: none of the %zu files gave a sequence for codec %s",
                                           out_path, n, p->codec->name);
    if (st == CDZ_OK) st = cdz_shard_writer_finish(&w, out_path, err);
    if (!j.failed) cdz_shard_writer_free(&w);
    for (size_t i = 0; i < n; i++) {
        for (int sp = 0; sp < 3; sp++) cdz_tokens_free(&j.results[i].tokens[sp]);
        cdz_free(j.results[i].audio);
    }
    cdz_free(j.results);
    cdz_free(meta);
    indexes_free(&ix);
    cdz_file_list_free(paths, n);
    pthread_mutex_destroy(&j.lock);
    pthread_cond_destroy(&j.progressed);
    return st;
}

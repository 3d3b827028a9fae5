/* cadenza models: the shipped models (the models/NAME.safetensors that --model NAME finds), each with
 * what it does, its training data and that data's licence from its card (models/NAME.md), and its kind,
 * config and size from the checkpoint itself. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "app.h"

static const char MODELS_ABOUT[] =
    "Lists the shipped models: the models/NAME.safetensors files that '--model NAME' finds (in\n"
    "$CADENZA_MODELS alone when it is set, else in ./models and in models/ beside the program; the first\n"
    "of a name wins), each with what it does, its kind, config, codec and parameters (from the\n"
    "checkpoint), and its training data and that data's licence (from its card, models/NAME.md).";

static const char MODELS_NOTES[] =
    "The card header: a card's first lines, before its first blank line, are\n"
    "\n"
    "  # NAME: what the model does, in one line\n"
    "  Data: the training data, where it comes from and its version\n"
    "  Licence: the data's licence (and what it means for the weights)\n"
    "\n"
    "(License: is read too.) The rest of the card is free text. A card that is missing or lacks a header\n"
    "line is reported as such.\n";

/* What a card's header says; problem[0] when something is missing. */
typedef struct card {
    char path[PATH_MAX];
    char title[256], data[512], licence[512];
    char problem[160];
} card;

/* "Key: value" of a header line into buf, when the line starts with the key. */
static int header_value(const char *line, size_t len, const char *key, char *buf, size_t n) {
    size_t k = strlen(key);
    if (len <= k || strncmp(line, key, k) != 0) return 0;
    const char *v = line + k;
    while (v < line + len && *v == ' ') v++;
    snprintf(buf, n, "%.*s", (int)(line + len - v), v);
    return 1;
}

static void read_card(const char *dir, const char *name, card *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s/%s.md", dir, name);
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (cdz_file_read_all(c->path, &bytes, &len, NULL) != CDZ_OK) {
        snprintf(c->problem, sizeof c->problem, "no card (%s)", c->path);
        c->path[0] = 0;
        return;
    }
    const char *text = (const char *)bytes, *end = text + len;
    char want[300];
    snprintf(want, sizeof want, "# %s:", name);
    for (int line_no = 0; text < end; line_no++) {
        const char *eol = memchr(text, '\n', (size_t)(end - text));
        size_t n = (size_t)((eol ? eol : end) - text);
        if (n && text[n - 1] == '\r') n--;
        if (n == 0) break; /* the header ends at the first blank line */
        if (line_no == 0) header_value(text, n, want, c->title, sizeof c->title);
        else if (!header_value(text, n, "Data:", c->data, sizeof c->data) &&
                 !header_value(text, n, "Licence:", c->licence, sizeof c->licence))
            header_value(text, n, "License:", c->licence, sizeof c->licence);
        if (!eol) break;
        text = eol + 1;
    }
    cdz_free(bytes);
    const char *lacks = !c->title[0] ? "a first line '# NAME: what it does'" : !c->data[0] ? "a 'Data:' line"
                      : !c->licence[0] ? "a 'Licence:' line" : NULL;
    if (lacks) snprintf(c->problem, sizeof c->problem, "the card lacks %s in its header", lacks);
}

/* One model: what the checkpoint and its card say. */
typedef struct entry {
    char name[256], path[PATH_MAX];
    long long bytes;
    int loaded, resumable;
    char kind[48], config[48], codec[32], error[400];
    size_t params;
    char *dataset, *eval_loss; /* checkpoint metadata, or NULL */
    cdz_sample_params sampling; /* its recommended sampling, when `sampled` names any */
    int sampled;
    card card;
} entry;

static void inspect(entry *e, const char *dir) {
    struct stat st;
    e->bytes = stat(e->path, &st) == 0 ? (long long)st.st_size : -1;
    cdz_error err = {0};
    cdz_model *m = NULL;
    if (cdz_checkpoint_load(e->path, &m, &err) == CDZ_OK) {
        e->loaded = 1;
        snprintf(e->kind, sizeof e->kind, "%s", cdz_model_kind_name(m));
        snprintf(e->config, sizeof e->config, "%s", cdz_model_config_name(m));
        snprintf(e->codec, sizeof e->codec, "%s", cdz_model_codec(m));
        e->params = cdz_model_n_params(m);
        cdz_model_free(m);
        char *step = cdz_checkpoint_meta(e->path, "step", NULL);
        e->resumable = step != NULL;
        cdz_free(step);
        e->dataset = cdz_checkpoint_meta(e->path, "dataset", NULL);
        e->eval_loss = cdz_checkpoint_meta(e->path, "eval_loss", NULL);
        e->sampling = cdz_sample_default_params();
        if (cdz_gen_checkpoint_sampling(e->path, &e->sampling, &e->sampled, NULL) != CDZ_OK) e->sampled = 0;
    } else {
        snprintf(e->error, sizeof e->error, "%s", err.msg);
    }
    read_card(dir, e->name, &e->card);
}

/* How a person uses it. */
static void usage_of(const entry *e, char *buf, size_t n) {
    if (strcmp(e->kind, "accompaniment") == 0)
        snprintf(buf, n, "cadenza accompany --melody IN.mid --out OUT.mid%s%s", strcmp(e->name, "accompaniment") ? " --checkpoint " : "",
                 strcmp(e->name, "accompaniment") ? e->path : "");
    else if (strcmp(e->kind, "music_vae") == 0)
        snprintf(buf, n, "cadenza vae sample|interpolate|reconstruct --model %s", e->name);
    else if (strcmp(e->kind, "audio_codec") == 0)
        snprintf(buf, n, "cadenza audio encode IN.wav --out X.codes --model %s; cadenza audio decode X.codes --out OUT.wav "
                 "--model %s", e->name, e->name);
    else if (strcmp(e->codec, "none") == 0 && strncmp(e->name, "audio", 5) == 0)
        snprintf(buf, n, "cadenza audio generate --seconds S --style NAME --out OUT.wav%s%s", strcmp(e->name, "audio_prior") ? " --prior " : "",
                 strcmp(e->name, "audio_prior") ? e->path : "");
    else if (strcmp(e->codec, "ensemble") == 0)
        snprintf(buf, n, "cadenza generate --model %s --style NAME --instruments LIST --minutes N; cadenza infill IN.mid --keep "
                 "PARTS --model %s --out OUT.mid", e->name, e->name);
    else snprintf(buf, n, "cadenza generate --model %s", e->name);
}

/* "1,337,860" */
static void with_commas(size_t v, char *buf, size_t n) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%zu", v), k = 0;
    for (int i = 0; i < len && (size_t)k + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[k++] = ',';
        buf[k++] = digits[i];
    }
    buf[k] = 0;
}

static void print_text(const entry *e) {
    printf("%s: %s\n", e->name, e->card.title[0] ? e->card.title : "(no description: see below)");
    printf("  file      %s (%.2f MB, %s)\n", e->path, (double)e->bytes / 1e6,
           !e->loaded ? "unreadable" : e->resumable ? "weights and optimiser state" : "weights only");
    if (e->loaded) {
        char params[32], use[PATH_MAX + 96];
        with_commas(e->params, params, sizeof params);
        printf("  model     %s / %s, codec %s, %s parameters\n", e->kind, e->config, e->codec, params);
        usage_of(e, use, sizeof use);
        printf("  use       %s\n", use);
    } else {
        printf("  problem   %s\n", e->error);
    }
    if (e->card.data[0]) printf("  data      %s\n", e->card.data);
    if (e->card.licence[0]) printf("  licence   %s\n", e->card.licence);
    if (e->eval_loss && strcmp(e->kind, "audio_codec") == 0)
        printf("  eval loss %.3f (the codec's objective, mel + STFT + waveform + commitment) on its dataset's eval split\n",
               strtod(e->eval_loss, NULL));
    else if (e->eval_loss)
        printf("  eval loss %.3f nats per token on its dataset's eval split (the checkpoint's note)\n", strtod(e->eval_loss, NULL));
    if (e->sampled)
        printf("  sampling  temperature %g, top-k %d, top-p %g by default (its card says why; --temperature overrides)\n",
               e->sampling.temperature, e->sampling.top_k, e->sampling.top_p);
    if (e->card.path[0]) printf("  card      %s\n", e->card.path);
    if (e->card.problem[0]) printf("  card problem: %s\n", e->card.problem);
}

static void json_or_null(const char *s) {
    if (s && *s) json_string(stdout, s);
    else fputs("null", stdout);
}

static void print_json(const entry *e) {
    printf("{\"name\":");
    json_string(stdout, e->name);
    printf(",\"file\":");
    json_string(stdout, e->path);
    printf(",\"bytes\":%lld,\"loaded\":%s", e->bytes, e->loaded ? "true" : "false");
    if (e->loaded) {
        printf(",\"kind\":");
        json_string(stdout, e->kind);
        printf(",\"config\":");
        json_string(stdout, e->config);
        printf(",\"codec\":");
        json_string(stdout, e->codec);
        printf(",\"parameters\":%zu,\"resumable\":%s", e->params, e->resumable ? "true" : "false");
    }
    printf(",\"error\":");
    json_or_null(e->error);
    printf(",\"description\":");
    json_or_null(e->card.title);
    printf(",\"data\":");
    json_or_null(e->card.data);
    printf(",\"licence\":");
    json_or_null(e->card.licence);
    printf(",\"card\":");
    json_or_null(e->card.path);
    printf(",\"card_problem\":");
    json_or_null(e->card.problem);
    printf(",\"dataset\":");
    json_or_null(e->dataset);
    printf(",\"eval_loss\":");
    if (e->eval_loss) json_number(stdout, strtod(e->eval_loss, NULL));
    else fputs("null", stdout);
    char *sampling = e->sampled ? cdz_gen_sampling_json(&e->sampling) : NULL;
    printf(",\"sampling\":%s", sampling ? sampling : "null");
    cdz_free(sampling);
    printf("}\n");
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

int cmd_models(int argc, char **argv) {
    int json = 0;
    app_opt opts[] = {APP_OPT_SWITCH("--json", &json, "one JSON object per model and line"), APP_END};
    const app_cmd cmd = {"models", "[--json]", MODELS_ABOUT, opts, MODELS_NOTES, NULL};
    int rc = app_parse(&cmd, argc, argv);
    if (rc != APP_GO_ON) return rc;
    char dirs[4][PATH_MAX];
    size_t nd = app_model_dirs(dirs, 4), n = 0, cap = 0;
    entry *list = NULL;
    for (size_t d = 0; d < nd; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        size_t first_here = n;
        for (struct dirent *de; (de = readdir(dir)) != NULL;) {
            size_t len = strlen(de->d_name), ext = strlen(".safetensors");
            if (len <= ext || strcmp(de->d_name + len - ext, ".safetensors") != 0 || len - ext >= sizeof list->name) continue;
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)(len - ext), de->d_name);
            int known = 0; /* a name found in an earlier folder wins, as with --model */
            for (size_t i = 0; i < first_here && !known; i++) known = strcmp(list[i].name, name) == 0;
            if (known) continue;
            if (cdz_grow((void **)&list, &cap, n + 1, sizeof *list) != CDZ_OK) {
                closedir(dir);
                app_error("out of memory listing models");
                goto done;
            }
            memset(&list[n], 0, sizeof list[n]);
            snprintf(list[n].name, sizeof list[n].name, "%s", name);
            snprintf(list[n].path, sizeof list[n].path, "%s/%s", dirs[d], de->d_name);
            n++;
        }
        closedir(dir);
        if (n - first_here > 1) qsort(list + first_here, n - first_here, sizeof *list, by_name);
        for (size_t i = first_here; i < n; i++) inspect(&list[i], dirs[d]);
    }
    rc = EXIT_OK;
    if (n == 0) {
        app_error("no shipped models found (looked in %s%s%s)", nd ? dirs[0] : "nothing", nd > 1 ? " and " : "",
                  nd > 1 ? "models/ beside the program" : "");
        rc = EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        if (json) print_json(&list[i]);
        else print_text(&list[i]);
        if (!json && i + 1 < n) putchar('\n');
        if (!list[i].loaded) rc = EXIT_FAIL;
    }
done:
    for (size_t i = 0; i < n; i++) cdz_free(list[i].dataset), cdz_free(list[i].eval_loss);
    cdz_free(list);
    return rc;
}

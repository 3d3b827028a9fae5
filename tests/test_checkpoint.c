/* Checkpoints: the JSON reader (grammar, escapes, numbers, depth, helpers), safetensors round trips with
 * exact float bits, files written by other programs, every truncation, hand-made corrupt headers, seeded
 * random mutations, allocation failure at every allocation, and atomic replacement on disk. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "cadenza/json.h"
#include "cadenza/safetensors.h"

static char g_dir[] = "/tmp/cadenza_ckpt_XXXXXX";

static const char *tpath(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static int write_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* The whole file in a malloc'd buffer (NULL if unreadable). */
static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16;
    unsigned char *b = malloc(cap);
    *n = 0;
    size_t k;
    while ((k = fread(b + *n, 1, cap - *n, f)) > 0) {
        *n += k;
        if (*n == cap) b = realloc(b, cap *= 2);
    }
    fclose(f);
    return b;
}

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void) { /* xorshift64*, seeded above: the same mutations every run */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545f4914f6cdd1dULL;
}

/* A file: 8-byte little-endian length, the header as given, then data_len bytes (a counting pattern). */
static size_t assemble(unsigned char *out, const char *header, size_t data_len) {
    size_t n = strlen(header);
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)n >> (8 * i));
    memcpy(out + 8, header, n);
    for (size_t i = 0; i < data_len; i++) out[8 + n + i] = (unsigned char)(i * 7);
    return 8 + n + data_len;
}

/* ------------------------------------------------------------------------------------------------ */

static cdz_json *parse_ok(const char *text) {
    cdz_json *j = NULL;
    cdz_error err = {0};
    cdz_status st = cdz_json_parse(text, strlen(text), "t.json", &j, &err);
    CHECK(st == CDZ_OK, "parse of %s failed: %s", text, err.msg);
    return j;
}

static void test_json_valid(void) {
    cdz_json *j = parse_ok(" {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\n\"], \"b\": {\"c\": {}}, \"d\": [],"
                           " \"a\": 7}\r\n\t");
    if (j) {
        CHECK(j->type == CDZ_JSON_OBJECT && j->n == 4, "object of %zu", j->n);
        const cdz_json *a = cdz_json_get(j, "a");
        CHECK(a && a->type == CDZ_JSON_ARRAY && a->n == 6, "duplicate key: get returns the first");
        if (a && a->n == 6) {
            CHECK(a->items[0].type == CDZ_JSON_NUMBER && a->items[0].number == 1, "1");
            CHECK(a->items[1].number == -2500, "-2.5e3 = %g", a->items[1].number);
            CHECK(a->items[2].type == CDZ_JSON_BOOL && a->items[2].boolean == 1, "true");
            CHECK(a->items[3].type == CDZ_JSON_BOOL && a->items[3].boolean == 0, "false");
            CHECK(a->items[4].type == CDZ_JSON_NULL, "null");
            CHECK(a->items[5].type == CDZ_JSON_STRING && strcmp(a->items[5].string, "x\xc3\xa9\n") == 0 &&
                      a->items[5].string_len == 4, "string");
        }
        const cdz_json *c = cdz_json_get(cdz_json_get(j, "b"), "c");
        CHECK(c && c->type == CDZ_JSON_OBJECT && c->n == 0, "empty object");
        CHECK(cdz_json_get(j, "d") && cdz_json_get(j, "d")->n == 0, "empty array");
        CHECK(cdz_json_get(j, "zz") == NULL && cdz_json_get(a, "a") == NULL && cdz_json_get(NULL, "a") == NULL,
              "get on missing keys and non-objects");
    }
    cdz_json_free(j);

    /* Every escape, a BMP character, a pair of surrogates, and an escaped NUL inside a value. */
    j = parse_ok("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\ud83c\\udfb5\\u0000z\"");
    const char want[] = "\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\xb5\0z";
    CHECK(j && j->string_len == sizeof want - 1 && memcmp(j->string, want, sizeof want) == 0, "escapes decoded");
    cdz_json_free(j);
    j = parse_ok("\"raw \xc3\xa9 \xe2\x99\xaa \xf0\x9f\x8e\xb5 \xf4\x8f\xbf\xbf\"");
    CHECK(j && j->string_len == 20, "raw UTF-8 passes through (%zu bytes)", j ? j->string_len : 0);
    cdz_json_free(j);

    /* Numbers. */
    struct {
        const char *text;
        double value;
    } nums[] = {{"0", 0},          {"-0", -0.0},     {"7", 7},         {"-12", -12},       {"1e2", 100},
                {"1E+2", 100},     {"2e-1", 0.2},    {"-1.5e-3", -1.5e-3}, {"0.1", 0.1},   {"1e-400", 0},
                {"123456789012345678901234567890", 123456789012345678901234567890.0},
                {"1.7976931348623157e308", 1.7976931348623157e308}, {"4.9e-324", 4.9e-324},
                {"10000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                 "00000",
                 1e99}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        j = parse_ok(nums[i].text);
        CHECK(j && j->type == CDZ_JSON_NUMBER && j->number == nums[i].value &&
                  signbit(j->number) == signbit(nums[i].value),
              "%s read as %.17g", nums[i].text, j ? j->number : 0);
        cdz_json_free(j);
    }

    /* The text need not be NUL-terminated: only len bytes are read. */
    cdz_error err = {0};
    CHECK_INT(cdz_json_parse("1234", 3, "t.json", &j, &err), CDZ_OK);
    CHECK(j && j->number == 123, "bounded number %g", j ? j->number : 0);
    cdz_json_free(j);
    CHECK_INT(cdz_json_parse("[1,2]x", 5, "t.json", &j, &err), CDZ_OK);
    cdz_json_free(j);
    CHECK_INT(cdz_json_parse("\"ab\"", 3, "t.json", &j, &err), CDZ_ERR_FORMAT);
    CHECK_INT(cdz_json_parse("true", 3, "t.json", &j, &err), CDZ_ERR_FORMAT);
    CHECK(j == NULL, "*out is NULL after a failure");

    /* Depth: 64 nested containers are fine, 65 are not. */
    char deep[200];
    for (int depth = 63; depth <= 65; depth++) {
        for (int i = 0; i < depth; i++) deep[i] = '[';
        for (int i = 0; i < depth; i++) deep[depth + i] = ']';
        cdz_status st = cdz_json_parse(deep, 2 * (size_t)depth, "t.json", &j, &err);
        CHECK(st == (depth <= CDZ_JSON_MAX_DEPTH ? CDZ_OK : CDZ_ERR_FORMAT), "depth %d gave %d", depth, st);
        if (st) CHECK_STR_CONTAINS(err.msg, "nested deeper than 64");
        cdz_json_free(j);
    }
    char objs[400];
    size_t k = 0;
    for (int i = 0; i < 65; i++) k += (size_t)snprintf(objs + k, sizeof objs - k, "{\"a\":");
    objs[k++] = '1';
    for (int i = 0; i < 65; i++) objs[k++] = '}';
    CHECK_INT(cdz_json_parse(objs, k, "t.json", &j, &err), CDZ_ERR_FORMAT);

    /* Helpers. */
    j = parse_ok("{\"i\": 42, \"neg\": -9.2e18, \"f\": 1.5, \"big\": 1e19, \"top\": 9223372036854775808, \"s\": \"str\","
                 " \"b\": true, \"w\": 3e2}");
    int64_t v;
    double d;
    CHECK_INT(cdz_json_get_int(j, "i", 0, &v, "cfg.json", &err), CDZ_OK);
    CHECK_INT(v, 42);
    CHECK_INT(cdz_json_get_int(j, "w", 0, &v, "cfg.json", &err), CDZ_OK);
    CHECK_INT(v, 300);
    CHECK_INT(cdz_json_get_int(j, "neg", 0, &v, "cfg.json", &err), CDZ_OK);
    CHECK(v == -9200000000000000000LL, "neg = %lld", (long long)v);
    CHECK_INT(cdz_json_get_int(j, "absent", -3, &v, "cfg.json", &err), CDZ_OK);
    CHECK_INT(v, -3);
    CHECK_INT(cdz_json_get_int(NULL, "i", 5, &v, "cfg.json", &err), CDZ_OK);
    CHECK_INT(v, 5);
    CHECK_INT(cdz_json_get_int(j, "f", 0, &v, "cfg.json", &err), CDZ_ERR_FORMAT);
    CHECK_STR_CONTAINS(err.msg, "cfg.json");
    CHECK_STR_CONTAINS(err.msg, "\"f\"");
    CHECK_INT(cdz_json_get_int(j, "big", 0, &v, "cfg.json", &err), CDZ_ERR_FORMAT);
    CHECK_INT(cdz_json_get_int(j, "top", 0, &v, "cfg.json", &err), CDZ_ERR_FORMAT);
    CHECK_INT(cdz_json_get_int(j, "s", 0, &v, "cfg.json", &err), CDZ_ERR_FORMAT);
    CHECK_STR_CONTAINS(err.msg, "not a string");
    CHECK_INT(cdz_json_get_number(j, "f", 0, &d, "cfg.json", &err), CDZ_OK);
    CHECK(d == 1.5, "f = %g", d);
    CHECK_INT(cdz_json_get_number(j, "absent", 2.5, &d, "cfg.json", &err), CDZ_OK);
    CHECK(d == 2.5, "default %g", d);
    CHECK_INT(cdz_json_get_number(j, "b", 0, &d, "cfg.json", &err), CDZ_ERR_FORMAT);
    CHECK_STR_CONTAINS(err.msg, "\"b\" must be a number, not a boolean");
    CHECK(strcmp(cdz_json_get_string(j, "s", "x"), "str") == 0, "string");
    CHECK(strcmp(cdz_json_get_string(j, "i", "x"), "x") == 0, "wrong type gives the default");
    CHECK(strcmp(cdz_json_get_string(j, "absent", "x"), "x") == 0, "absent gives the default");
    cdz_json_free(j);

    /* Quoting: escapes, snprintf-like truncation, and a round trip of every byte. */
    char q[64];
    size_t need = cdz_json_quote(q, sizeof q, "a\"b\\c\n\x01\xc3\xa9\x7f");
    CHECK(strcmp(q, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\x7f\"") == 0 && need == strlen(q), "quoted: %s", q);
    CHECK_INT(cdz_json_quote(q, 4, "abcdef"), 8);
    CHECK(strcmp(q, "\"ab") == 0, "truncated to '%s'", q);
    CHECK_INT(cdz_json_quote(NULL, 0, ""), 2);
    char all[300];
    for (int i = 1; i < 128; i++) all[i - 1] = (char)i;
    strcpy(all + 127, "\xe2\x99\xaa\xf0\x9f\x8e\xb5");
    need = cdz_json_quote(NULL, 0, all);
    char *lit = malloc(need + 1);
    CHECK_INT(cdz_json_quote(lit, need + 1, all), need);
    j = parse_ok(lit);
    CHECK(j && j->type == CDZ_JSON_STRING && strcmp(j->string, all) == 0, "quote round trip");
    cdz_json_free(j);
    free(lit);

    CHECK(cdz_json_utf8_valid("abc\xc3\xa9\xf0\x9f\x8e\xb5", 9), "valid UTF-8");
    CHECK(!cdz_json_utf8_valid("\xc3", 1) && !cdz_json_utf8_valid("\xc0\x80", 2) &&
              !cdz_json_utf8_valid("\xed\xa0\x80", 3) && !cdz_json_utf8_valid("\xf4\x90\x80\x80", 4) &&
              !cdz_json_utf8_valid("\xff", 1),
          "invalid UTF-8");
}

static void test_json_invalid(void) {
    static const struct {
        const char *text;
        const char *msg;
    } bad[] = {
        {"", "byte 0: unexpected end of input"},
        {"   ", "byte 3: unexpected end of input"},
        {"{", "byte 1: expected a string key"},
        {"[", "byte 1: unexpected end of input"},
        {"[1,]", "byte 3: expected a value"},
        {"[1 2]", "byte 3: expected ',' or ']'"},
        {"[1,,2]", "byte 3: expected a value"},
        {"{\"a\" 1}", "t.json, byte 5: expected ':'"},
        {"{\"a\":1,}", "byte 7: expected a string key"},
        {"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
        {"{a:1}", "byte 1: expected a string key"},
        {"{'a':1}", "expected a string key"},
        {"{\"a\\u0000b\":1}", "object key contains \\u0000"},
        {"tru", "expected a value (true"},
        {"nul", "expected a value"},
        {"True", "expected a value, found 'T'"},
        {"01", "byte 1: unexpected characters after"},
        {"-", "byte 1: expected a digit"},
        {"+1", "expected a value, found '+'"},
        {".5", "expected a value"},
        {"1.", "byte 2: expected a digit after '.'"},
        {"1.e5", "expected a digit after '.'"},
        {"1e", "expected a digit in the exponent"},
        {"1e+", "expected a digit in the exponent"},
        {"-a", "expected a digit"},
        {"0x10", "unexpected characters"},
        {"NaN", "expected a value"},
        {"Infinity", "expected a value"},
        {"-Infinity", "expected a digit"},
        {"1e400", "out of range"},
        {"-1e400", "out of range"},
        {"\"abc", "byte 0: unterminated string"},
        {"\"abc\\\"", "unterminated string"},
        {"\"\\", "unterminated string"},
        {"\"a\\x\"", "byte 2: invalid escape: a backslash followed by 'x'"},
        {"\"\\u12\"", "four hexadecimal digits"},
        {"\"\\u12g4\"", "four hexadecimal digits"},
        {"\"\\ud800\"", "lone high surrogate"},
        {"\"\\udc00\"", "lone low surrogate"},
        {"\"\\ud800\\u0041\"", "lone high surrogate"},
        {"\"\\ud800\\ud800\"", "lone high surrogate"},
        {"\"\\ud800x\"", "lone high surrogate"},
        {"\"a\tb\"", "byte 2: control character 0x09"},
        {"\"\x01\"", "control character 0x01"},
        {"\"\xc0\x80\"", "invalid UTF-8"},
        {"\"\xe0\x80\x80\"", "invalid UTF-8"},
        {"\"\xed\xa0\x80\"", "invalid UTF-8"},
        {"\"\xf4\x90\x80\x80\"", "invalid UTF-8"},
        {"\"\xf5\x80\x80\x80\"", "invalid UTF-8"},
        {"\"\xc3\"", "invalid UTF-8"},
        {"\"\x80\"", "invalid UTF-8"},
        {"\"\xff\"", "invalid UTF-8"},
        {"1 2", "byte 2: unexpected characters after the JSON value"},
        {"{} x", "unexpected characters"},
        {"[]]", "unexpected characters"},
        {"/* c */ 1", "expected a value, found '/'"},
        {"\xef\xbb\xbf{}", "expected a value, found 0xef"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cdz_json *j = (cdz_json *)1;
        cdz_error err = {0};
        cdz_status st = cdz_json_parse(bad[i].text, strlen(bad[i].text), "t.json", &j, &err);
        CHECK(st == CDZ_ERR_FORMAT && j == NULL, "case %zu (%s): status %d", i, bad[i].text, st);
        CHECK(strstr(err.msg, bad[i].msg) && strncmp(err.msg, "t.json, byte ", 13) == 0,
              "case %zu (%s): message \"%s\", expected \"%s\"", i, bad[i].text, err.msg, bad[i].msg);
    }
    cdz_json *j;
    cdz_error err = {0};
    CHECK_INT(cdz_json_parse("[x]", 3, NULL, &j, &err), CDZ_ERR_FORMAT);
    CHECK_STR_CONTAINS(err.msg, "JSON, byte 1");
}

/* ------------------------------------------------------------------------------------------------ */

enum { N_T4 = 2 * 1 * 3 * 2 };
static float g_scalar[1], g_vec[7], g_mat[12], g_t4[N_T4];
static cdz_st_tensor g_tensors[7];
static const char *const g_meta[] = {
    "model",   "melody_rnn",
    "quote",   "he said \"hi\" \\ back",
    "lines",   "a\nb\r\nc\td",
    "unicode", "\xc3\xa9 \xe2\x99\xaa \xf0\x9f\x8e\xb5 \xe4\xb8\xad",
    "empty",   "",
    "ctrl",    "\x01\x1f\x7f",
    "\xe2\x99\xaa key", "value",
};
enum { N_META = 7 };

static void make_tensors(void) {
    g_scalar[0] = -0.0f;
    const uint32_t special[7] = {0x7fc12345u, 0x7f800001u /* signalling */, 0xffc00000u, 0x00000001u /* denormal */,
                                 0x807fffffu, 0x7f800000u /* inf */, 0x7f7fffffu /* max */};
    for (int i = 0; i < 7; i++) g_vec[i] = float_of(special[i]);
    for (int i = 0; i < 12; i++) g_mat[i] = (float)i * 0.5f - 1.0f;
    for (int i = 0; i < N_T4; i++) g_t4[i] = float_of((uint32_t)rnd());
    static const cdz_st_tensor t[7] = {
        {"scalar", 0, {0}, g_scalar},
        {"vec \xe2\x99\xaa", 1, {7}, g_vec},
        {"mat", 2, {3, 4}, g_mat},
        {"empty", 1, {0}, NULL},
        {"t4 \"q\" \\", 4, {2, 1, 3, 2}, g_t4},
        {"empty2", 3, {2, 0, 3}, NULL},
        {"z.last", 1, {1}, g_mat},
    };
    memcpy(g_tensors, t, sizeof t);
}

static int same_tensor(const cdz_st_tensor *a, const cdz_st_tensor *b) {
    if (strcmp(a->name, b->name) != 0 || a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    int64_t n = cdz_st_numel(a);
    return n == 0 || memcmp(a->data, b->data, (size_t)n * 4) == 0;
}

static void test_round_trip(void) {
    const char *path = tpath("model.safetensors");
    cdz_error err = {0};
    CHECK_INT(cdz_safetensors_write(path, g_tensors, 7, g_meta, N_META, &err), CDZ_OK);
    cdz_safetensors f;
    CHECK_INT(cdz_safetensors_read(&f, path, &err), CDZ_OK);
    CHECK_INT(f.n, 7);
    CHECK_INT(f.n_meta, N_META);
    for (size_t i = 0; i < f.n && i < 7; i++) {
        CHECK(same_tensor(&f.tensors[i], &g_tensors[i]), "tensor %zu ('%s') differs", i, g_tensors[i].name);
        CHECK(((uintptr_t)f.tensors[i].data & 3) == 0, "tensor %zu data not 4-byte aligned", i);
    }
    for (size_t i = 0; i < f.n_meta && i < N_META; i++)
        CHECK(strcmp(f.meta[2 * i], g_meta[2 * i]) == 0 && strcmp(f.meta[2 * i + 1], g_meta[2 * i + 1]) == 0,
              "metadata %zu: '%s' = '%s'", i, f.meta[2 * i], f.meta[2 * i + 1]);
    const cdz_st_tensor *m = cdz_safetensors_find(&f, "mat");
    CHECK(m && m->ndim == 2 && m->shape[1] == 4 && m->data[5] == 1.5f, "find mat");
    CHECK(cdz_safetensors_find(&f, "nope") == NULL, "find absent");
    CHECK(cdz_safetensors_meta(&f, "quote") && strcmp(cdz_safetensors_meta(&f, "quote"), g_meta[3]) == 0, "meta");
    CHECK(cdz_safetensors_meta(&f, "nope") == NULL, "meta absent");
    CHECK_INT(cdz_st_numel(&f.tensors[0]), 1);
    CHECK(bits_of(f.tensors[0].data[0]) == 0x80000000u, "-0 kept");

    /* Writing what was read gives the same bytes. */
    const char *again = tpath("again.safetensors");
    CHECK_INT(cdz_safetensors_write(again, f.tensors, f.n, (const char *const *)f.meta, f.n_meta, &err), CDZ_OK);
    size_t n1, n2;
    unsigned char *b1 = slurp(path, &n1), *b2 = slurp(again, &n2);
    CHECK(b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0, "rewrite is byte-identical (%zu vs %zu bytes)", n1, n2);
    cdz_safetensors_free(&f);
    CHECK(f.tensors == NULL && f.mem == NULL, "free empties");
    cdz_safetensors_free(&f); /* harmless twice */

    /* The layout: padded header, JSON that stands alone, little-endian data. */
    if (b1 && n1 >= 8) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = hl << 8 | b1[i];
        CHECK((8 + hl) % 8 == 0, "data starts at %llu, not a multiple of 8", (unsigned long long)(8 + hl));
        cdz_json *j;
        CHECK_INT(cdz_json_parse((const char *)b1 + 8, (size_t)hl, "header", &j, &err), CDZ_OK);
        CHECK(j && j->n == 8 && strcmp(j->keys[0], "__metadata__") == 0, "header keys");
        cdz_json_free(j);
        CHECK(b1[8] == '{' && (b1[8 + hl - 1] == '}' || b1[8 + hl - 1] == ' '), "header shape");
        const unsigned char *data = b1 + 8 + hl;
        CHECK(data[0] == 0 && data[3] == 0x80, "-0 stored little-endian");
        CHECK(data[4] == 0x45 && data[5] == 0x23 && data[6] == 0xc1 && data[7] == 0x7f, "NaN payload stored");
        CHECK_INT(n1 - 8 - hl, 4 * (1 + 7 + 12 + N_T4 + 1));
    }
    free(b1);
    free(b2);
    unlink(again);

    /* Nothing at all is a valid file too. */
    const char *empty = tpath("empty.safetensors");
    CHECK_INT(cdz_safetensors_write(empty, NULL, 0, NULL, 0, &err), CDZ_OK);
    b1 = slurp(empty, &n1);
    CHECK(b1 && n1 == 16 && memcmp(b1 + 8, "{}      ", 8) == 0, "empty file (%zu bytes)", n1);
    free(b1);
    CHECK_INT(cdz_safetensors_read(&f, empty, &err), CDZ_OK);
    CHECK(f.n == 0 && f.n_meta == 0, "empty read");
    cdz_safetensors_free(&f);
    unlink(empty);
}

/* Files as another program might write them: no padding, keys in any order, the header not ending at an
 * aligned offset, tensors listed out of offset order, whitespace. */
static void test_foreign_files(void) {
    unsigned char buf[1024];
    const char *h = "{\"b\":{\"data_offsets\":[8,20],\"shape\":[3],\"dtype\":\"F32\"},\n"
                    " \"a\" : {\"shape\":[2],\"dtype\":\"F32\",\"data_offsets\":[0,8], \"extra\": [1]},"
                    "\"__metadata__\":{\"format\":\"pt\"}}";
    size_t hl = strlen(h);
    CHECK((8 + hl) % 4 != 0, "the test header should leave the data unaligned (%zu)", hl);
    size_t n = assemble(buf, h, 20);
    const float vals[5] = {1.0f, -2.0f, 0.25f, 3e-40f, -1e30f};
    for (int i = 0; i < 5; i++) {
        uint32_t u = bits_of(vals[i]);
        for (int b = 0; b < 4; b++) buf[8 + hl + 4 * (size_t)i + (size_t)b] = (unsigned char)(u >> (8 * b));
    }
    const char *path = tpath("foreign.safetensors");
    CHECK(write_file(path, buf, n), "write");
    cdz_safetensors f;
    cdz_error err = {0};
    CHECK_INT(cdz_safetensors_read(&f, path, &err), CDZ_OK);
    if (f.n == 2) {
        CHECK(strcmp(f.tensors[0].name, "a") == 0 && strcmp(f.tensors[1].name, "b") == 0, "sorted by offset");
        CHECK(f.tensors[0].data[0] == 1.0f && f.tensors[0].data[1] == -2.0f && f.tensors[1].data[0] == 0.25f &&
                  f.tensors[1].data[1] == 3e-40f && f.tensors[1].data[2] == -1e30f,
              "values");
        CHECK(((uintptr_t)f.tensors[1].data & 3) == 0, "aligned");
        CHECK(f.n_meta == 1 && strcmp(cdz_safetensors_meta(&f, "format"), "pt") == 0, "meta");
    } else
        CHECK(0, "read %zu tensors: %s", f.n, err.msg);
    cdz_safetensors_free(&f);

    /* Several empty tensors at one offset, and leading spaces in the header. */
    h = "  {\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
        "\"y\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},"
        "\"x\":{\"dtype\":\"F32\",\"shape\":[5,0],\"data_offsets\":[4,4]},"
        "\"w\":{\"dtype\":\"F32\",\"shape\":[0,1099511627776,1099511627776],\"data_offsets\":[0,0]}}   ";
    n = assemble(buf, h, 4);
    CHECK(write_file(path, buf, n), "write");
    CHECK_INT(cdz_safetensors_read(&f, path, &err), CDZ_OK);
    CHECK(f.n == 4 && strcmp(f.tensors[0].name, "w") == 0 && strcmp(f.tensors[1].name, "y") == 0 &&
              strcmp(f.tensors[2].name, "x") == 0 && strcmp(f.tensors[3].name, "z") == 0 && f.tensors[1].ndim == 0,
          "empty tensors ordered by offset then name: %s", err.msg);
    cdz_safetensors_free(&f);

    /* The format takes any string as a name, the empty one too (cadenza writes none; fuzz_safetensors
     * met one and its oracle wrongly wanted a name to be non-empty). */
    h = "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    n = assemble(buf, h, 4);
    CHECK(write_file(path, buf, n), "write");
    CHECK_INT(cdz_safetensors_read(&f, path, &err), CDZ_OK);
    CHECK(f.n == 1 && cdz_safetensors_find(&f, "") == &f.tensors[0] && f.tensors[0].ndim == 1, "a tensor named \"\": %s",
          err.msg);
    cdz_safetensors_free(&f);
    unlink(path);
}

static void test_truncations(void) {
    size_t n;
    unsigned char *whole = slurp(tpath("model.safetensors"), &n);
    CHECK(whole != NULL, "read the model file");
    if (!whole) return;
    const char *path = tpath("cut.safetensors");
    size_t bad = 0, first_bad = SIZE_MAX;
    char first_msg[400] = "";
    for (size_t len = 0; len < n; len++) {
        write_file(path, whole, len);
        cdz_safetensors f;
        cdz_error err = {0};
        cdz_status st = cdz_safetensors_read(&f, path, &err);
        if (st != CDZ_ERR_FORMAT || !strstr(err.msg, path)) {
            if (!bad++) first_bad = len, snprintf(first_msg, sizeof first_msg, "status %d: %s", st, err.msg);
        }
        if (st == CDZ_OK) cdz_safetensors_free(&f);
    }
    CHECK(bad == 0, "%zu of %zu truncations not rejected; first at length %zu: %s", bad, n, first_bad, first_msg);
    free(whole);
    unlink(path);
}

static void test_corrupt_headers(void) {
    static const struct {
        const char *header;
        size_t data_len;
        cdz_status status;
        const char *msg;
    } cases[] = {
        {"hello", 0, CDZ_ERR_FORMAT, "JSON header, byte 0: expected a value"},
        {"", 0, CDZ_ERR_FORMAT, "JSON header, byte 0: unexpected end of input"},
        {"      ", 0, CDZ_ERR_FORMAT, "unexpected end of input"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4, CDZ_ERR_FORMAT, "expected ',' or '}'"},
        {"[1,2]", 0, CDZ_ERR_FORMAT, "header is not an object"},
        {"{\"a\":5}", 0, CDZ_ERR_FORMAT, "tensor 'a': entry is not an object"},
        {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CDZ_ERR_FORMAT, "tensor 'a': no \"dtype\""},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, CDZ_ERR_FORMAT, "tensor 'a': no \"shape\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, CDZ_ERR_FORMAT, "tensor 'a': no \"data_offsets\""},
        {"{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, CDZ_ERR_FORMAT, "\"dtype\" is not a string"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4, CDZ_ERR_FORMAT, "\"shape\" is not an array"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, CDZ_ERR_FORMAT, "shape[0] is not a non-negative integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,1.5],\"data_offsets\":[0,4]}}", 4, CDZ_ERR_FORMAT, "shape[1] is not"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, CDZ_ERR_FORMAT, "shape[0] is not"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, CDZ_ERR_FORMAT, "shape[0] is not"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, CDZ_ERR_FORMAT, "\"data_offsets\" must be [begin, end]"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, CDZ_ERR_FORMAT, "\"data_offsets\" must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"b\":0}}}", 4, CDZ_ERR_FORMAT, "\"data_offsets\" must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, CDZ_ERR_FORMAT, "\"data_offsets\" must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", 4, CDZ_ERR_FORMAT, "\"data_offsets\" must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 4, CDZ_ERR_FORMAT, "0 <= begin <= end"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1e30]}}", 4, CDZ_ERR_FORMAT, "\"data_offsets\" must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,12]}}", 12, CDZ_ERR_FORMAT,
         "tensor 'a': the shape holds 2 F32 values (8 bytes) but data_offsets [0, 12] span 12 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4,
         CDZ_ERR_FORMAT, "overflows 64 bits"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}", 0, CDZ_ERR_FORMAT,
         "overflows 64 bits"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, CDZ_ERR_FORMAT,
         "truncated: the header says 8 bytes of tensor data, the file has 4"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],"
         "\"data_offsets\":[4,12]}}",
         12, CDZ_ERR_FORMAT, "tensors 'a' [0, 8) and 'b' [4, 12) overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],"
         "\"data_offsets\":[8,12]}}",
         12, CDZ_ERR_FORMAT, "a hole of 4 bytes between tensors 'a' (ends at 4) and 'b' (begins at 8)"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, CDZ_ERR_FORMAT,
         "bytes 0 to 4 of the data section belong to no tensor"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8, CDZ_ERR_FORMAT,
         "4 bytes of data after the tensors"},
        {"{}", 1, CDZ_ERR_FORMAT, "1 bytes of data after the tensors"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
         "\"data_offsets\":[4,8]}}",
         8, CDZ_ERR_FORMAT, "tensor 'a' appears twice"},
        {"{\"__metadata__\":[]}", 0, CDZ_ERR_FORMAT, "\"__metadata__\" is not an object"},
        {"{\"__metadata__\":{\"k\":1}}", 0, CDZ_ERR_FORMAT, "metadata 'k' is not a string"},
        {"{\"__metadata__\":{\"k\":null}}", 0, CDZ_ERR_FORMAT, "metadata 'k' is not a string"},
        {"{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, CDZ_ERR_FORMAT, "metadata key 'k' appears twice"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, CDZ_ERR_FORMAT, "\"__metadata__\" appears twice"},
        {"{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, CDZ_ERR_UNSUPPORTED, "metadata 'k' contains U+0000"},
        {"{\"a\\u0000b\":{}}", 0, CDZ_ERR_FORMAT, "object key contains \\u0000"},
        {"{\"\xff\":{}}", 0, CDZ_ERR_FORMAT, "JSON header, byte 2: invalid UTF-8"},
        {"{\"w\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, CDZ_ERR_UNSUPPORTED,
         "tensor 'w' has dtype BF16; cadenza reads only F32"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"h\":{\"dtype\":\"F16\",\"shape\":[2],"
         "\"data_offsets\":[4,8]}}",
         8, CDZ_ERR_UNSUPPORTED, "tensor 'h' has dtype F16"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, CDZ_ERR_UNSUPPORTED,
         "tensor 'w' has 5 dimensions"},
    };
    static unsigned char buf[4096];
    const char *path = tpath("corrupt.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = assemble(buf, cases[i].header, cases[i].data_len);
        write_file(path, buf, n);
        cdz_safetensors f;
        cdz_error err = {0};
        cdz_status st = cdz_safetensors_read(&f, path, &err);
        CHECK(st == cases[i].status && strstr(err.msg, cases[i].msg) && strstr(err.msg, path) &&
                  f.tensors == NULL && f.mem == NULL,
              "case %zu: status %d (expected %d), message \"%s\", expected \"%s\"", i, st, cases[i].status, err.msg,
              cases[i].msg);
        if (st == CDZ_OK) cdz_safetensors_free(&f);
    }
    /* Broken length fields. */
    static const struct {
        uint64_t header_len;
        size_t file_len;
        const char *msg;
    } lens[] = {
        {0x7fffffffffffffffULL, 64, "not a safetensors file (header length 0x7fffffffffffffff is over the"},
        {100000001, 64, "over the 100000000-byte limit"},
        {1000, 40, "not a safetensors file, or truncated (header length 0x3e8 exceeds the 32 bytes after it)"},
        {3, 7, "not a safetensors file (7 bytes, shorter than the 8-byte header length)"},
    };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        memset(buf, ' ', sizeof buf);
        for (int b = 0; b < 8; b++) buf[b] = (unsigned char)(lens[i].header_len >> (8 * b));
        write_file(path, buf, lens[i].file_len);
        cdz_safetensors f;
        cdz_error err = {0};
        cdz_status st = cdz_safetensors_read(&f, path, &err);
        CHECK(st == CDZ_ERR_FORMAT && strstr(err.msg, lens[i].msg) && strstr(err.msg, path),
              "length case %zu: status %d, message \"%s\"", i, st, err.msg);
    }
    cdz_safetensors f;
    cdz_error err = {0};
    CHECK_INT(cdz_safetensors_read(&f, tpath("does-not-exist.safetensors"), &err), CDZ_ERR_IO);
    CHECK_STR_CONTAINS(err.msg, "does-not-exist.safetensors");
    unlink(path);
}

/* Seeded random damage: each read must end in a clean error or a good read, never a crash, a hang, an
 * out-of-bounds access or a leak (the sanitized build watches for those). */
static void test_mutations(void) {
    size_t n;
    unsigned char *whole = slurp(tpath("model.safetensors"), &n);
    if (!whole) return;
    size_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | whole[i];
    unsigned char *m = malloc(n + 16);
    const char *path = tpath("mutant.safetensors");
    static const unsigned char interesting[] = {'"', '{', '}', '[', ']', ',', ':', '0', '1', '9', '-', '.', 'e',
                                                '\\', 'u', ' ', 0, 0x80, 0xff, 'F', '3', '2'};
    long ok = 0, errors = 0, bad = 0;
    char first_msg[400] = "";
    for (int it = 0; it < 3000; it++) {
        memcpy(m, whole, n);
        size_t len = n;
        int edits = 1 + (int)(rnd() % 4);
        for (int e = 0; e < edits; e++) {
            uint64_t r = rnd();
            /* Mostly the header, where the parsing is; sometimes the length field or the data. */
            size_t at = r % 10 < 7 ? 8 + (size_t)(rnd() % hl) : r % 10 < 8 ? (size_t)(rnd() % 8) : (size_t)(rnd() % len);
            unsigned char v = rnd() % 2 ? interesting[rnd() % sizeof interesting] : (unsigned char)rnd();
            switch (rnd() % 4) {
            case 0: /* delete a byte */
                memmove(m + at, m + at + 1, len - at - 1);
                len--;
                break;
            case 1: /* insert one */
                if (len < n + 16) {
                    memmove(m + at + 1, m + at, len - at);
                    m[at] = v;
                    len++;
                }
                break;
            default: m[at] = v; break;
            }
        }
        write_file(path, m, len);
        cdz_safetensors f;
        cdz_error err = {0};
        cdz_status st = cdz_safetensors_read(&f, path, &err);
        if (st == CDZ_OK) {
            ok++;
            uint32_t h = 0; /* touch every byte the reader hands out */
            for (size_t i = 0; i < f.n; i++) {
                h += (uint32_t)strlen(f.tensors[i].name);
                int64_t k = cdz_st_numel(&f.tensors[i]);
                for (int64_t j = 0; j < k; j++) h += bits_of(f.tensors[i].data[j]);
            }
            for (size_t i = 0; i < 2 * f.n_meta; i++) h += (uint32_t)strlen(f.meta[i]);
            (void)h;
            cdz_safetensors_free(&f);
        } else if ((st == CDZ_ERR_FORMAT || st == CDZ_ERR_UNSUPPORTED) && strstr(err.msg, path) &&
                   f.tensors == NULL) {
            errors++;
        } else if (!bad++) {
            snprintf(first_msg, sizeof first_msg, "iteration %d: status %d: %s", it, st, err.msg);
        }
    }
    printf("mutations: %ld read, %ld rejected, %ld wrong\n", ok, errors, bad);
    CHECK(bad == 0, "%ld mutations gave an unclean result; first %s", bad, first_msg);
    CHECK(ok > 0 && errors > 0, "mutations should give both outcomes (%ld, %ld)", ok, errors);
    free(m);
    free(whole);
    unlink(path);
}

/* ------------------------------------------------------------------------------------------------ */

static cdz_status op_parse(void) {
    static const char doc[] =
        "{\"a\": [1, 2, {\"b\": \"x\\u00e9\\ud83c\\udfb5\"}, [], {}, null, true],"
        " \"long\": 1234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890,"
        " \"c\": {\"d\": [[[\"e\"]]], \"f\": \"g\"}, \"k1\": 1, \"k2\": 2, \"k3\": 3, \"k4\": 4, \"k5\": 5, \"k6\": 6,"
        " \"k7\": 7, \"k8\": 8, \"k9\": 9}";
    cdz_json *j;
    cdz_error err;
    cdz_status st = cdz_json_parse(doc, sizeof doc - 1, "t.json", &j, &err);
    if (st == CDZ_OK) cdz_json_free(j);
    return st;
}

static cdz_status op_read(void) {
    cdz_safetensors f;
    cdz_error err;
    cdz_status st = cdz_safetensors_read(&f, tpath("model.safetensors"), &err);
    if (st == CDZ_OK) cdz_safetensors_free(&f);
    return st;
}

/* Tensors out of offset order in the file's header, so the reader's sort needs its scratch memory. */
static cdz_status op_read_unsorted(void) {
    cdz_safetensors f;
    cdz_error err;
    cdz_status st = cdz_safetensors_read(&f, tpath("foreign.safetensors"), &err);
    if (st == CDZ_OK) cdz_safetensors_free(&f);
    return st;
}

static cdz_status op_write(void) {
    cdz_error err;
    return cdz_safetensors_write(tpath("alloc.safetensors"), g_tensors, 7, g_meta, N_META, &err);
}

static void test_allocation_failures(void) {
    FAIL_EACH_ALLOCATION("json parse", op_parse());
    FAIL_EACH_ALLOCATION("safetensors read", op_read());
    FAIL_EACH_ALLOCATION("safetensors write", op_write());
    unsigned char buf[1024];
    size_t n = assemble(buf,
                        "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                        "\"__metadata__\":{\"x\":\"y\",\"z\":\"w\"}}",
                        8);
    write_file(tpath("foreign.safetensors"), buf, n);
    FAIL_EACH_ALLOCATION("safetensors read, unsorted", op_read_unsorted());
    unlink(tpath("foreign.safetensors"));
    unlink(tpath("alloc.safetensors"));
}

/* Names of files in the test folder that look like an atomic writer's leftovers. */
static int count_temporaries(void) {
    DIR *d = opendir(g_dir);
    int k = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp")) k++;
    if (d) closedir(d);
    return k;
}

static void test_writing_on_disk(void) {
    cdz_error err = {0};
    const char *missing = tpath("no/such/folder/m.safetensors");
    CHECK_INT(cdz_safetensors_write(missing, g_tensors, 7, g_meta, N_META, &err), CDZ_ERR_IO);
    CHECK_STR_CONTAINS(err.msg, missing);
    CHECK_STR_CONTAINS(err.msg, "No such file or directory");
    CHECK_INT(count_temporaries(), 0);

    /* Replacing: a reader holding the old file still sees all of it, the path shows all of the new one. */
    const char *path = tpath("replace.safetensors");
    static float big[4096];
    for (int i = 0; i < 4096; i++) big[i] = (float)i;
    cdz_st_tensor t = {"w", 1, {4096}, big};
    CHECK_INT(cdz_safetensors_write(path, &t, 1, NULL, 0, &err), CDZ_OK);
    struct stat before, after;
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && fstat(fd, &before) == 0, "open the old file");
    size_t old_n;
    unsigned char *old_bytes = slurp(path, &old_n);
    t.shape[0] = 3;
    const char *meta[2] = {"version", "2"};
    CHECK_INT(cdz_safetensors_write(path, &t, 1, meta, 1, &err), CDZ_OK);
    CHECK(stat(path, &after) == 0 && after.st_ino != before.st_ino, "the path names a new file");
    unsigned char *held = malloc(old_n + 1);
    ssize_t got = pread(fd, held, old_n + 1, 0);
    CHECK(got == (ssize_t)old_n && memcmp(held, old_bytes, old_n) == 0, "the old file is whole (%zd bytes)", got);
    free(held);
    free(old_bytes);
    close(fd);
    cdz_safetensors f;
    CHECK_INT(cdz_safetensors_read(&f, path, &err), CDZ_OK);
    CHECK(f.n == 1 && f.tensors[0].shape[0] == 3 && cdz_safetensors_meta(&f, "version"), "the new file is read");
    cdz_safetensors_free(&f);
    CHECK_INT(count_temporaries(), 0);

    /* Bad arguments: refused before anything is written. */
    size_t n_before;
    unsigned char *kept = slurp(path, &n_before);
    static const float one[1] = {1};
    const cdz_st_tensor dup[2] = {{"a", 1, {1}, one}, {"a", 0, {0}, one}};
    const cdz_st_tensor unnamed[1] = {{"", 1, {1}, one}};
    const cdz_st_tensor null_name[1] = {{NULL, 1, {1}, one}};
    const cdz_st_tensor reserved[1] = {{"__metadata__", 1, {1}, one}};
    const cdz_st_tensor five[1] = {{"a", 5, {1, 1, 1, 1}, one}};
    const cdz_st_tensor minus[1] = {{"a", -1, {1}, one}};
    const cdz_st_tensor negative[1] = {{"a", 2, {1, -1}, one}};
    const cdz_st_tensor huge[1] = {{"a", 4, {INT64_MAX, INT64_MAX, 2, 2}, one}};
    const cdz_st_tensor no_data[1] = {{"a", 1, {1}, NULL}};
    const cdz_st_tensor bad_utf8[1] = {{"a\xff", 1, {1}, one}};
    const cdz_st_tensor ok1[1] = {{"a", 1, {1}, one}};
    const char *dup_meta[4] = {"k", "v", "k", "w"};
    const char *bad_meta[2] = {"k", "\xc0\x80"};
    const char *null_meta[2] = {"k", NULL};
    const struct {
        const cdz_st_tensor *t;
        size_t n;
        const char *const *meta;
        size_t n_meta;
        const char *msg;
    } cases[] = {
        {dup, 2, NULL, 0, "two tensors are called 'a'"},
        {unnamed, 1, NULL, 0, "tensor 0 has no name"},
        {null_name, 1, NULL, 0, "tensor 0 has no name"},
        {reserved, 1, NULL, 0, "reserved"},
        {five, 1, NULL, 0, "5 dimensions"},
        {minus, 1, NULL, 0, "-1 dimensions"},
        {negative, 1, NULL, 0, "shape[1] is -1"},
        {huge, 1, NULL, 0, "too large"},
        {no_data, 1, NULL, 0, "has no data"},
        {bad_utf8, 1, NULL, 0, "not valid UTF-8"},
        {ok1, 1, dup_meta, 2, "metadata key 'k' given twice"},
        {ok1, 1, bad_meta, 1, "metadata 'k' is not valid UTF-8"},
        {ok1, 1, null_meta, 1, "NULL key or value"},
        {NULL, 1, NULL, 0, "no array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cdz_status st = cdz_safetensors_write(path, cases[i].t, cases[i].n, cases[i].meta, cases[i].n_meta, &err);
        CHECK(st == CDZ_ERR_ARG && strstr(err.msg, cases[i].msg) && strstr(err.msg, path),
              "argument case %zu: status %d, message \"%s\"", i, st, err.msg);
    }
    size_t n_after;
    unsigned char *now = slurp(path, &n_after);
    CHECK(kept && now && n_before == n_after && memcmp(kept, now, n_after) == 0, "refused writes left the file alone");
    free(kept);
    free(now);
    CHECK_INT(count_temporaries(), 0);
    unlink(path);
}

/* Removes the test folder, which must hold only what the tests left on purpose. */
static void remove_dir(void) {
    unlink(tpath("model.safetensors"));
    DIR *d = opendir(g_dir);
    struct dirent *e;
    int left = 0;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            printf("left behind: %s\n", e->d_name);
            unlink(tpath(e->d_name));
            left++;
        }
    if (d) closedir(d);
    CHECK_INT(left, 0);
    CHECK(rmdir(g_dir) == 0, "remove %s", g_dir);
}

/* A checkpoint holding one NaN or infinite weight is refused, naming the tensor (sampling would index
 * nothing with NaN logits); config metadata that contradicts what the config builds is refused. */
static void test_non_finite_weights(void) {
    static const char *const tensors[] = {"output.weight", "lstm.1.weight_hh", "attn.v"};
    const float bad_values[3] = {NAN, INFINITY, -INFINITY};
    for (int k = 0; k < 3; k++) {
        cdz_model *m = NULL, *back = NULL;
        cdz_error err;
        if (cdz_model_create(&m, "melody_rnn", "tiny_attention", &err) != CDZ_OK) {
            CHECK(0, "%s", err.msg);
            return;
        }
        cdz_model_init_params(m, 1);
        const cdz_tensor_info *ti = cdz_model_tensor(m, tensors[k]);
        CHECK(ti != NULL, "tensor %s", tensors[k]);
        if (ti) m->params[ti->offset + ti->numel / 2] = bad_values[k];
        const char *path = tpath("nan.safetensors");
        CHECK(cdz_checkpoint_save(path, m, NULL, NULL, 0, &err) == CDZ_OK, "%s", err.msg);
        cdz_status st = cdz_checkpoint_load(path, &back, &err);
        CHECK(st == CDZ_ERR_FORMAT && strstr(err.msg, tensors[k]) && strstr(err.msg, k ? "infinity" : "NaN") && !back,
              "a checkpoint with %g in %s: %s", (double)bad_values[k], tensors[k], err.msg);
        cdz_model_free(back);
        cdz_model_free(m);
        unlink(path);
    }
    /* a key_melody model's input is 74 features: a config saying 78 contradicts it */
    const char *j = "{\"kind\":\"melody_rnn\",\"config_name\":\"x\",\"codec\":\"key_melody\",\"input\":\"key_melody\","
                    "\"input_size\":78,\"layers\":1,\"hidden\":4}";
    cdz_model *m = NULL;
    cdz_error err;
    CHECK(cdz_model_from_json(&m, j, strlen(j), "meta", &err) == CDZ_ERR_FORMAT && strstr(err.msg, "input_size 78") && !m,
          "input_size 78: %s", err.msg);
    cdz_model_free(m);
}

/* A small file whose config describes a huge model: refused before the model is allocated (it took 23 s
 * and 12.6 GB to say "another shape" when the parameters were allocated and zeroed first). */
static void test_config_larger_than_file(void) {
    static const float w[4] = {1, 2, 3, 4};
    const cdz_st_tensor t[1] = {{"embedding.weight", 2, {2, 2}, w}};
    const char *meta[4] = {"format", "cadenza checkpoint 1", "model",
                           "{\"kind\":\"music_transformer\",\"config_name\":\"huge\",\"codec\":\"none\",\"vocab\":6,"
                           "\"layers\":16,\"d_model\":4096,\"heads\":2,\"d_ff\":16384,\"max_len\":8}"};
    const char *path = tpath("huge.safetensors");
    cdz_error err;
    CHECK(cdz_safetensors_write(path, t, 1, meta, 2, &err) == CDZ_OK, "%s", err.msg);
    cdz_model *m = NULL;
    cdz_status st = cdz_checkpoint_load(path, &m, &err);
    CHECK(st == CDZ_ERR_FORMAT && !m && strstr(err.msg, path) && strstr(err.msg, "more than the 4 values it holds"),
          "a config of 3.2e9 parameters in a file of 4 values: %d %s", st, err.msg);
    cdz_model_free(m);
    /* no tensors at all */
    CHECK(cdz_safetensors_write(path, NULL, 0, meta, 2, &err) == CDZ_OK, "%s", err.msg);
    st = cdz_checkpoint_load(path, &m, &err);
    CHECK(st == CDZ_ERR_FORMAT && !m && strstr(err.msg, "without tensors"), "a checkpoint without tensors: %s", err.msg);
    cdz_model_free(m);
    unlink(path);
}

int main(void) {
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_json_valid();
    test_json_invalid();
    make_tensors();
    test_round_trip();
    test_foreign_files();
    test_truncations();
    test_corrupt_headers();
    test_mutations();
    test_allocation_failures();
    test_writing_on_disk();
    test_non_finite_weights();
    test_config_larger_than_file();
    remove_dir();
    return test_summary("test_checkpoint");
}

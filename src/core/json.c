/* A strict recursive-descent JSON reader (RFC 8259) and a string quoter. Every read is bounds-checked
 * against the given length, nesting is capped so the recursion is bounded, and every failure (bad input
 * or a failed allocation) frees the partial tree before returning. */
#include "cadenza/json.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    const char *what;
    cdz_error *err;
    int depth;
} parser;

static cdz_status syntax_error(parser *p, size_t at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static cdz_status syntax_error(parser *p, size_t at, const char *fmt, ...) {
    if (p->err) {
        char detail[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        cdz_error_set(p->err, CDZ_ERR_FORMAT, "%s, byte %zu: %s", p->what, at, detail);
    }
    return CDZ_ERR_FORMAT;
}

static cdz_status out_of_memory(parser *p) {
    return cdz_error_set(p->err, CDZ_ERR_NOMEM, "%s: out of memory", p->what);
}

/* The character at `at` for a message: itself when printable ASCII, else its byte value. */
static const char *show_byte(const parser *p, size_t at, char buf[8]) {
    if (at >= p->len) return "end of input";
    unsigned c = p->s[at];
    if (c >= 0x20 && c < 0x7f)
        snprintf(buf, 8, "'%c'", (char)c);
    else
        snprintf(buf, 8, "0x%02x", c);
    return buf;
}

/* Length (1 to 4) of the valid UTF-8 sequence starting s[0], with `avail` bytes readable; 0 if the
 * bytes are not one (overlong forms, UTF-16 surrogates and code points past U+10FFFF included). */
static size_t utf8_sequence(const unsigned char *s, size_t avail) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t n;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;      /* overlong */
        else if (c == 0xed) hi = 0x9f; /* U+D800..U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;      /* overlong */
        else if (c == 0xf4) hi = 0x8f; /* past U+10FFFF */
    } else
        return 0;
    if (avail < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

int cdz_json_utf8_valid(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_sequence(u + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

static void skip_space(parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int hex4(const unsigned char *s, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

static size_t utf8_encode(unsigned cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads the string literal at p->pos (a '"') into a new NUL-terminated buffer. */
static cdz_status parse_string(parser *p, char **out, size_t *out_len) {
    size_t start = p->pos, end = start + 1;
    /* Find the closing quote first: the decoded text is never longer than the literal, so one
     * allocation of the literal's size holds it. */
    while (end < p->len && p->s[end] != '"') end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->len) return syntax_error(p, start, "unterminated string");
    char *buf = cdz_malloc(end - start);
    if (!buf) return out_of_memory(p);
    size_t n = 0, i = start + 1;
    char shown[8];
    while (i < end) {
        unsigned c = p->s[i];
        if (c < 0x20) {
            cdz_free(buf);
            return syntax_error(p, i, "control character 0x%02x in a string (it must be escaped)", c);
        }
        if (c >= 0x80) {
            size_t k = utf8_sequence(p->s + i, end - i);
            if (!k) {
                cdz_free(buf);
                return syntax_error(p, i, "invalid UTF-8 in a string");
            }
            memcpy(buf + n, p->s + i, k);
            n += k;
            i += k;
            continue;
        }
        if (c != '\\') {
            buf[n++] = (char)c;
            i++;
            continue;
        }
        unsigned e = p->s[i + 1]; /* i + 1 < end: the scan above stepped over escapes in pairs */
        const char *simple = strchr("\"\\/bfnrt", (int)e);
        if (e && simple) {
            static const char decoded[] = "\"\\/\b\f\n\r\t";
            buf[n++] = decoded[simple - "\"\\/bfnrt"];
            i += 2;
            continue;
        }
        if (e != 'u') {
            cdz_free(buf);
            return syntax_error(p, i, "invalid escape: a backslash followed by %s", show_byte(p, i + 1, shown));
        }
        unsigned cp, lo;
        if (end - i < 6 || !hex4(p->s + i + 2, &cp)) {
            cdz_free(buf);
            return syntax_error(p, i, "\\u must be followed by four hexadecimal digits");
        }
        size_t at = i;
        i += 6;
        if (cp >= 0xdc00 && cp <= 0xdfff) {
            cdz_free(buf);
            return syntax_error(p, at, "lone low surrogate \\u%04x", cp);
        }
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (end - i < 6 || p->s[i] != '\\' || p->s[i + 1] != 'u' || !hex4(p->s + i + 2, &lo) || lo < 0xdc00 ||
                lo > 0xdfff) {
                cdz_free(buf);
                return syntax_error(p, at, "lone high surrogate \\u%04x (not followed by a low one)", cp);
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
        }
        n += utf8_encode(cp, buf + n);
    }
    buf[n] = 0;
    p->pos = end + 1;
    *out = buf;
    *out_len = n;
    return CDZ_OK;
}

static int is_digit(const parser *p, size_t at) { return at < p->len && p->s[at] >= '0' && p->s[at] <= '9'; }

static cdz_status parse_number(parser *p, double *out) {
    size_t start = p->pos, i = start;
    char shown[8];
    if (i < p->len && p->s[i] == '-') i++;
    if (!is_digit(p, i)) return syntax_error(p, i, "expected a digit, found %s", show_byte(p, i, shown));
    if (p->s[i] == '0')
        i++;
    else
        while (is_digit(p, i)) i++;
    size_t dot = SIZE_MAX;
    if (i < p->len && p->s[i] == '.') {
        dot = i++;
        if (!is_digit(p, i))
            return syntax_error(p, i, "expected a digit after '.', found %s", show_byte(p, i, shown));
        while (is_digit(p, i)) i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (!is_digit(p, i))
            return syntax_error(p, i, "expected a digit in the exponent, found %s", show_byte(p, i, shown));
        while (is_digit(p, i)) i++;
    }
    /* strtod needs a NUL-terminated copy, and reads the decimal point of the current locale: put that
     * in place of '.', so the result does not depend on what the program set with setlocale. */
    const char *point = localeconv()->decimal_point;
    size_t plen = point && *point ? strlen(point) : 1, span = i - start;
    size_t need = span + plen + 1;
    char small[80], *copy = small;
    if (need > sizeof small) {
        copy = cdz_malloc(need);
        if (!copy) return out_of_memory(p);
    }
    size_t k = 0;
    for (size_t j = start; j < i; j++) {
        if (j == dot) {
            memcpy(copy + k, point && *point ? point : ".", plen);
            k += plen;
        } else
            copy[k++] = (char)p->s[j];
    }
    copy[k] = 0;
    char *stop;
    double v = strtod(copy, &stop);
    int whole = stop == copy + k;
    if (copy != small) cdz_free(copy);
    if (!whole) return syntax_error(p, start, "number could not be converted");
    if (isinf(v)) return syntax_error(p, start, "number out of range for a double");
    *out = v;
    p->pos = i;
    return CDZ_OK;
}

static cdz_status parse_value(parser *p, cdz_json *v);

/* Containers fill v as they go, with v->n counting only complete elements, so that on failure the
 * caller frees v like any finished value. */
static cdz_status parse_array(parser *p, cdz_json *v) {
    v->type = CDZ_JSON_ARRAY;
    p->pos++;
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        return CDZ_OK;
    }
    size_t cap = 0;
    char shown[8];
    for (;;) {
        if (cdz_grow((void **)&v->items, &cap, v->n + 1, sizeof *v->items)) return out_of_memory(p);
        memset(&v->items[v->n], 0, sizeof *v->items);
        v->n++;
        cdz_status st = parse_value(p, &v->items[v->n - 1]);
        if (st) return st;
        skip_space(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ']') {
            p->pos++;
            return CDZ_OK;
        }
        return syntax_error(p, p->pos, "expected ',' or ']', found %s", show_byte(p, p->pos, shown));
    }
}

static cdz_status parse_object(parser *p, cdz_json *v) {
    v->type = CDZ_JSON_OBJECT;
    p->pos++;
    skip_space(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        return CDZ_OK;
    }
    size_t cap_items = 0, cap_keys = 0;
    char shown[8];
    for (;;) {
        skip_space(p);
        if (p->pos >= p->len || p->s[p->pos] != '"')
            return syntax_error(p, p->pos, "expected a string key, found %s", show_byte(p, p->pos, shown));
        size_t key_at = p->pos, key_len;
        char *key;
        cdz_status st = parse_string(p, &key, &key_len);
        if (st) return st;
        if (strlen(key) != key_len) {
            cdz_free(key);
            return syntax_error(p, key_at, "object key contains \\u0000");
        }
        if (cdz_grow((void **)&v->items, &cap_items, v->n + 1, sizeof *v->items) ||
            cdz_grow((void **)&v->keys, &cap_keys, v->n + 1, sizeof *v->keys)) {
            cdz_free(key);
            return out_of_memory(p);
        }
        memset(&v->items[v->n], 0, sizeof *v->items);
        v->keys[v->n] = key;
        v->n++;
        skip_space(p);
        if (p->pos >= p->len || p->s[p->pos] != ':')
            return syntax_error(p, p->pos, "expected ':', found %s", show_byte(p, p->pos, shown));
        p->pos++;
        if ((st = parse_value(p, &v->items[v->n - 1]))) return st;
        skip_space(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            return CDZ_OK;
        }
        return syntax_error(p, p->pos, "expected ',' or '}', found %s", show_byte(p, p->pos, shown));
    }
}

static int literal(parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) return 0;
    p->pos += n;
    return 1;
}

static cdz_status parse_value(parser *p, cdz_json *v) {
    skip_space(p);
    if (p->pos >= p->len) return syntax_error(p, p->pos, "unexpected end of input, expected a value");
    unsigned char c = p->s[p->pos];
    char shown[8];
    switch (c) {
    case '{':
    case '[': {
        if (p->depth >= CDZ_JSON_MAX_DEPTH)
            return syntax_error(p, p->pos, "nested deeper than %d arrays and objects", CDZ_JSON_MAX_DEPTH);
        p->depth++;
        cdz_status st = c == '{' ? parse_object(p, v) : parse_array(p, v);
        p->depth--;
        return st;
    }
    case '"':
        v->type = CDZ_JSON_STRING;
        return parse_string(p, &v->string, &v->string_len);
    case 't':
    case 'f':
    case 'n':
        if (literal(p, "true") || literal(p, "false")) {
            v->type = CDZ_JSON_BOOL;
            v->boolean = c == 't';
            return CDZ_OK;
        }
        if (literal(p, "null")) {
            v->type = CDZ_JSON_NULL;
            return CDZ_OK;
        }
        return syntax_error(p, p->pos, "expected a value (true, false or null?)");
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            v->type = CDZ_JSON_NUMBER;
            return parse_number(p, &v->number);
        }
        return syntax_error(p, p->pos, "expected a value, found %s", show_byte(p, p->pos, shown));
    }
}

static void free_contents(cdz_json *j) {
    cdz_free(j->string);
    for (size_t i = 0; i < j->n; i++) {
        free_contents(&j->items[i]);
        if (j->keys) cdz_free(j->keys[i]);
    }
    cdz_free(j->items);
    cdz_free(j->keys);
}

void cdz_json_free(cdz_json *j) {
    if (!j) return;
    free_contents(j);
    cdz_free(j);
}

cdz_status cdz_json_parse(const char *text, size_t len, const char *what, cdz_json **out, cdz_error *err) {
    parser p = {(const unsigned char *)text, len, 0, what ? what : "JSON", err, 0};
    *out = NULL;
    cdz_json *root = cdz_calloc(1, sizeof *root);
    if (!root) return out_of_memory(&p);
    cdz_status st = parse_value(&p, root);
    if (st == CDZ_OK) {
        skip_space(&p);
        if (p.pos < p.len) st = syntax_error(&p, p.pos, "unexpected characters after the JSON value");
    }
    if (st) {
        cdz_json_free(root);
        return st;
    }
    *out = root;
    return CDZ_OK;
}

const cdz_json *cdz_json_get(const cdz_json *obj, const char *key) {
    if (!obj || obj->type != CDZ_JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

static const char *type_name(cdz_json_type t) {
    switch (t) {
    case CDZ_JSON_NULL: return "null";
    case CDZ_JSON_BOOL: return "a boolean";
    case CDZ_JSON_NUMBER: return "a number";
    case CDZ_JSON_STRING: return "a string";
    case CDZ_JSON_ARRAY: return "an array";
    default: return "an object";
    }
}

cdz_status cdz_json_get_int(const cdz_json *obj, const char *key, int64_t dflt, int64_t *out, const char *what,
                            cdz_error *err) {
    const cdz_json *v = cdz_json_get(obj, key);
    if (!what) what = "JSON";
    if (!v) {
        *out = dflt;
        return CDZ_OK;
    }
    if (v->type != CDZ_JSON_NUMBER)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"%s\" must be an integer, not %s", what, key,
                             type_name(v->type));
    /* 2^63 is exact in a double; the int64_t range is [-2^63, 2^63). */
    if (v->number != floor(v->number) || v->number < -9223372036854775808.0 || v->number >= 9223372036854775808.0)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"%s\" must be an integer within 64 bits, not %.17g", what,
                             key, v->number);
    *out = (int64_t)v->number;
    return CDZ_OK;
}

cdz_status cdz_json_get_number(const cdz_json *obj, const char *key, double dflt, double *out, const char *what,
                               cdz_error *err) {
    const cdz_json *v = cdz_json_get(obj, key);
    if (!v) {
        *out = dflt;
        return CDZ_OK;
    }
    if (v->type != CDZ_JSON_NUMBER)
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: \"%s\" must be a number, not %s", what ? what : "JSON", key,
                             type_name(v->type));
    *out = v->number;
    return CDZ_OK;
}

const char *cdz_json_get_string(const cdz_json *obj, const char *key, const char *dflt) {
    const cdz_json *v = cdz_json_get(obj, key);
    return v && v->type == CDZ_JSON_STRING ? v->string : dflt;
}

size_t cdz_json_quote(char *buf, size_t size, const char *s) {
    size_t n = 0;
#define PUT(ch)                               \
    do {                                      \
        if (n + 1 < size) buf[n] = (char)(ch); \
        n++;                                  \
    } while (0)
    PUT('"');
    for (const unsigned char *u = (const unsigned char *)s; *u; u++) {
        unsigned c = *u;
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            for (; *esc; esc++) PUT(*esc);
        } else if (c < 0x20) {
            static const char hexdig[] = "0123456789abcdef";
            PUT('\\');
            PUT('u');
            PUT('0');
            PUT('0');
            PUT(hexdig[c >> 4]);
            PUT(hexdig[c & 15]);
        } else
            PUT(c);
    }
    PUT('"');
#undef PUT
    if (size) buf[n < size ? n : size - 1] = 0;
    return n;
}

/* The picture of a bar self-similarity matrix (cadenza/listen.h): a PNG through the canvas of
 * cadenza/plot.h, or an SVG of the same layout, written atomically. Bar 1 is the top-left cell. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cadenza/listen.h"
#include "cadenza/plot.h"

enum { LEFT = 56, TOP = 40, RIGHT = 24, BOTTOM = 44, AREA = 720 };

static const cdz_rgb BG = {255, 255, 255}, TEXT = {30, 30, 30}, DIAG = {150, 150, 150}, EQUAL = {205, 35, 35};

/* Darker blue for more similar; equal bars red; the diagonal grey; 0 stays the background. */
static cdz_rgb cell_color(double v, int diagonal) {
    if (diagonal && v > 0) return DIAG;
    if (v >= 1) return EQUAL;
    double a = v < 0 ? 0 : v;
    return (cdz_rgb){(uint8_t)lround(255 - 225 * a), (uint8_t)lround(255 - 190 * a), (uint8_t)lround(255 - 80 * a)};
}

typedef struct layout {
    int32_t cell, grid, width, height, label_every;
} layout;

static layout make_layout(size_t n, const char *title) {
    layout l;
    l.cell = (int32_t)(AREA / (int64_t)n);
    if (l.cell > 16) l.cell = 16;
    if (l.cell < 1) l.cell = 1;
    l.grid = l.cell * (int32_t)n;
    l.width = LEFT + l.grid + RIGHT;
    int32_t tw = title ? cdz_canvas_text_width(title, 1) + 2 * 12 : 0;
    if (l.width < tw) l.width = tw;
    if (l.width < 240) l.width = 240;
    l.height = TOP + l.grid + BOTTOM;
    l.label_every = 1;
    while (l.label_every * l.cell < 28) l.label_every *= 2; /* labels at least 28 px apart */
    return l;
}

/* ---- SVG: the same drawing as text ---- */
typedef struct text {
    char *s;
    size_t len, cap;
    int failed;
} text;

static void put(text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void put(text *t, const char *fmt, ...) {
    if (t->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            t->failed = 1;
            return;
        }
        if (t->s && t->len + (size_t)k < t->cap) {
            t->len += (size_t)k;
            return;
        }
        if (cdz_grow((void **)&t->s, &t->cap, t->len + (size_t)k + 1, 1) != CDZ_OK) {
            t->failed = 1;
            return;
        }
    }
}

static void put_escaped(text *t, const char *s) {
    for (; *s; s++) {
        if (*s == '<') put(t, "&lt;");
        else if (*s == '>') put(t, "&gt;");
        else if (*s == '&') put(t, "&amp;");
        else if (*s == '"') put(t, "&quot;");
        else put(t, "%c", *s);
    }
}

static cdz_status write_svg(const char *path, const double *m, size_t n, int64_t first_bar, const char *title,
                            const layout *l, cdz_error *err) {
    text t = {0};
    put(&t, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"monospace\" "
            "font-size=\"10\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
        (int)l->width, (int)l->height);
    if (title) {
        put(&t, "<text x=\"12\" y=\"22\" font-size=\"12\">");
        put_escaped(&t, title);
        put(&t, "</text>\n");
    }
    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < n; b++) {
            double v = m[a * n + b];
            if (!(v > 0)) continue;
            cdz_rgb c = cell_color(v, a == b);
            put(&t, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#%02x%02x%02x\"/>\n",
                (int)(LEFT + (int32_t)b * l->cell), (int)(TOP + (int32_t)a * l->cell), (int)l->cell, (int)l->cell, c.r,
                c.g, c.b);
        }
    }
    put(&t, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#1e1e1e\"/>\n", LEFT, TOP,
        (int)l->grid, (int)l->grid);
    for (size_t k = 0; k < n; k += (size_t)l->label_every) {
        int32_t at = (int32_t)k * l->cell + l->cell / 2;
        put(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%lld</text>\n", LEFT - 4, TOP + at + 3,
            (long long)(first_bar + (int64_t)k + 1));
        put(&t, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%lld</text>\n", LEFT + at, TOP + l->grid + 14,
            (long long)(first_bar + (int64_t)k + 1));
    }
    put(&t, "<text x=\"%d\" y=\"%d\">bar (red: equal to the other bar; darker: more alike)</text>\n</svg>\n", LEFT,
        TOP + l->grid + 34);
    if (t.failed) {
        cdz_free(t.s);
        return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory for the picture", path);
    }
    cdz_status st = cdz_file_write_atomic(path, t.s, t.len, err);
    cdz_free(t.s);
    return st;
}

cdz_status cdz_listen_plot_self_similarity(const char *path, const double *m, size_t n, int64_t first_bar,
                                           const char *title, cdz_error *err) {
    if (!path || (!m && n)) return cdz_error_set(err, CDZ_ERR_ARG, "listen: no path or no matrix to draw");
    if (n == 0) return cdz_error_set(err, CDZ_ERR_ARG, "%s: no bars to draw", path);
    if (n > 8192) return cdz_error_set(err, CDZ_ERR_RANGE, "%s: %zu bars are too many to draw (at most 8192)", path, n);
    layout l = make_layout(n, title);
    if (cdz_plot_is_svg_path(path)) return write_svg(path, m, n, first_bar, title, &l, err);
    if (!cdz_png_available()) return cdz_png_write(path, NULL, err); /* says how to get PNG support */
    cdz_canvas c;
    cdz_status st = cdz_canvas_init(&c, l.width, l.height, BG, err);
    if (st != CDZ_OK) return st;
    if (title) cdz_canvas_text(&c, 12, 14, title, 1, TEXT);
    for (size_t a = 0; a < n; a++)
        for (size_t b = 0; b < n; b++)
            if (m[a * n + b] > 0)
                cdz_canvas_fill_rect(&c, LEFT + (int32_t)b * l.cell, TOP + (int32_t)a * l.cell, l.cell, l.cell,
                                     cell_color(m[a * n + b], a == b));
    cdz_canvas_line(&c, LEFT - 1, TOP - 1, LEFT + l.grid, TOP - 1, TEXT);
    cdz_canvas_line(&c, LEFT - 1, TOP + l.grid, LEFT + l.grid, TOP + l.grid, TEXT);
    cdz_canvas_line(&c, LEFT - 1, TOP - 1, LEFT - 1, TOP + l.grid, TEXT);
    cdz_canvas_line(&c, LEFT + l.grid, TOP - 1, LEFT + l.grid, TOP + l.grid, TEXT);
    for (size_t k = 0; k < n; k += (size_t)l.label_every) {
        char num[24];
        snprintf(num, sizeof num, "%lld", (long long)(first_bar + (int64_t)k + 1));
        int32_t at = (int32_t)k * l.cell + l.cell / 2, w = cdz_canvas_text_width(num, 1);
        cdz_canvas_line(&c, LEFT - 4, TOP + at, LEFT - 2, TOP + at, TEXT);
        cdz_canvas_text(&c, LEFT - 6 - w, TOP + at - 3, num, 1, TEXT);
        cdz_canvas_line(&c, LEFT + at, TOP + l.grid + 1, LEFT + at, TOP + l.grid + 3, TEXT);
        cdz_canvas_text(&c, LEFT + at - w / 2, TOP + l.grid + 6, num, 1, TEXT);
    }
    cdz_canvas_text(&c, LEFT, TOP + l.grid + 24, "bar (red: equal to the other bar; darker: more alike)", 1, TEXT);
    st = cdz_png_write(path, &c, err);
    cdz_canvas_free(&c);
    return st;
}

/* One set of drawing calls for both outputs: on a canvas they paint pixels, on an SVG document they
 * append elements. Coordinates are the same pixels in both, so the two pictures match. */
#include "plot_internal.h"

#include <stdarg.h>
#include <stdio.h>

static void svg_append(plot_svg *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void svg_append(plot_svg *s, const char *fmt, ...) {
    if (s->failed) return;
    for (int attempt = 0; attempt < 2; attempt++) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = s->cap - s->len;
        int n = vsnprintf(s->text ? s->text + s->len : NULL, s->text ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) break;
        if ((size_t)n < room) {
            s->len += (size_t)n;
            return;
        }
        size_t need;
        if (!cdz_add_ok(s->len, (size_t)n + 1, &need) || cdz_grow((void **)&s->text, &s->cap, need, 1) != CDZ_OK) break;
    }
    s->failed = 1;
}

void plot_svg_begin(plot_svg *s, int32_t width, int32_t height, cdz_rgb bg) {
    memset(s, 0, sizeof *s);
    svg_append(s,
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%ld\" height=\"%ld\" viewBox=\"0 0 %ld %ld\" "
               "shape-rendering=\"crispEdges\" font-family=\"monospace\">\n"
               "<rect class=\"background\" x=\"0\" y=\"0\" width=\"%ld\" height=\"%ld\" fill=\"#%02x%02x%02x\"/>\n",
               (long)width, (long)height, (long)width, (long)height, (long)width, (long)height, bg.r, bg.g, bg.b);
}

void plot_svg_end(plot_svg *s) { svg_append(s, "</svg>\n"); }

cdz_status plot_svg_finish(plot_svg *s, const char *path, cdz_error *err) {
    cdz_status st = s->failed ? cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory building the SVG", path)
                              : cdz_file_write_atomic(path, s->text, s->len, err);
    cdz_free(s->text);
    memset(s, 0, sizeof *s);
    return st;
}

void plot_rect(plot_surface *s, int32_t x, int32_t y, int32_t w, int32_t h, cdz_rgb c, const char *cls) {
    if (w <= 0 || h <= 0) return;
    if (s->canvas) {
        cdz_canvas_fill_rect(s->canvas, x, y, w, h, c);
        return;
    }
    svg_append(s->svg, "<rect%s%s%s x=\"%ld\" y=\"%ld\" width=\"%ld\" height=\"%ld\" fill=\"#%02x%02x%02x\"/>\n",
               cls ? " class=\"" : "", cls ? cls : "", cls ? "\"" : "", (long)x, (long)y, (long)w, (long)h, c.r, c.g, c.b);
}

void plot_line(plot_surface *s, int32_t x0, int32_t y0, int32_t x1, int32_t y1, cdz_rgb c, int32_t width) {
    if (width < 1) width = 1;
    int flat = (x1 > x0 ? x1 - (int64_t)x0 : x0 - (int64_t)x1) >= (y1 > y0 ? y1 - (int64_t)y0 : y0 - (int64_t)y1);
    if (s->canvas) {
        for (int32_t k = 0; k < width; k++)
            cdz_canvas_line(s->canvas, x0 + (flat ? 0 : k), y0 + (flat ? k : 0), x1 + (flat ? 0 : k), y1 + (flat ? k : 0), c);
        return;
    }
    /* A stroke is centred on its line: offset by half the width so it covers the same pixels. */
    double off = width / 2.0;
    double ox = flat ? 0.5 : off, oy = flat ? off : 0.5;
    /* The canvas line includes both end pixels; extend an axis-aligned stroke to match. */
    double ex = (y0 == y1) ? 0.5 : 0, ey = (x0 == x1) ? 0.5 : 0;
    double dx0 = x0 <= x1 ? -ex : ex, dy0 = y0 <= y1 ? -ey : ey;
    svg_append(s->svg, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#%02x%02x%02x\" stroke-width=\"%ld\"/>\n",
               x0 + ox + dx0, y0 + oy + dy0, x1 + ox - dx0, y1 + oy - dy0, c.r, c.g, c.b, (long)width);
}

/* Appends text escaped for XML, keeping valid UTF-8 and turning anything else into '?'. */
static void svg_escaped(plot_svg *s, const char *text) {
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : *p >= 0xF5 ? 0 : *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : *p >= 0xC2 ? 2 : 0;
        size_t k = 1;
        while (k < n && p[k] >= 0x80 && p[k] < 0xC0) k++;
        if (n == 0 || k < n) {
            svg_append(s, "?");
            p += k;
        } else if (n > 1) {
            svg_append(s, "%.*s", (int)n, (const char *)p);
            p += n;
        } else {
            switch (*p) {
            case '<': svg_append(s, "&lt;"); break;
            case '>': svg_append(s, "&gt;"); break;
            case '&': svg_append(s, "&amp;"); break;
            case '"': svg_append(s, "&quot;"); break;
            default: svg_append(s, "%c", *p >= 0x20 && *p < 0x7F ? *p : '?');
            }
            p++;
        }
    }
}

void plot_text(plot_surface *s, int32_t x, int32_t y, const char *text, int32_t scale, cdz_rgb c) {
    if (!text || !*text) return;
    if (scale < 1) scale = 1;
    if (s->canvas) {
        cdz_canvas_text(s->canvas, x, y, text, scale, c);
        return;
    }
    /* A monospace font at 10 px per scale advances about 6 px per character, like the canvas font;
     * the baseline sits under the 7-pixel capitals. xml:space keeps runs of spaces. */
    svg_append(s->svg, "<text x=\"%ld\" y=\"%ld\" font-size=\"%ld\" fill=\"#%02x%02x%02x\" xml:space=\"preserve\">",
               (long)x, (long)y + 7 * scale, (long)(10 * scale), c.r, c.g, c.b);
    svg_escaped(s->svg, text);
    svg_append(s->svg, "</text>\n");
}

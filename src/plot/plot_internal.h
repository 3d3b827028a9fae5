/* What the plot files share: a drawing surface that is either a raster canvas or an SVG document, so
 * one drawing routine makes the PNG and the SVG picture alike. */
#ifndef CADENZA_PLOT_INTERNAL_H
#define CADENZA_PLOT_INTERNAL_H

#include "cadenza/plot.h"

/* The SVG text built in memory, written in one go (atomically) when complete. */
typedef struct plot_svg {
    char *text;
    size_t len, cap;
    int failed; /* an append ran out of memory; the document is unusable */
} plot_svg;

typedef struct plot_surface {
    cdz_canvas *canvas; /* exactly one of the two is set */
    plot_svg *svg;
} plot_surface;

/* Starts an SVG document of the given size on a background colour. */
void plot_svg_begin(plot_svg *s, int32_t width, int32_t height, cdz_rgb background);
void plot_svg_end(plot_svg *s);
/* Writes the finished document to path (atomically); frees the text either way. */
cdz_status plot_svg_finish(plot_svg *s, const char *path, cdz_error *err);

/* `cls` (may be NULL) becomes the SVG class attribute, so a reader can find the notes. */
void plot_rect(plot_surface *s, int32_t x, int32_t y, int32_t w, int32_t h, cdz_rgb c, const char *cls);
/* A line `width` pixels thick, widened downward for lines flatter than 45 degrees, else rightward. */
void plot_line(plot_surface *s, int32_t x0, int32_t y0, int32_t x1, int32_t y1, cdz_rgb c, int32_t width);
/* Text whose top-left corner is (x, y), in the canvas font or a monospace SVG font of the same size. */
void plot_text(plot_surface *s, int32_t x, int32_t y, const char *text, int32_t scale, cdz_rgb c);

#define PLOT_GLYPH_W 6 /* advance per character at scale 1 */
#define PLOT_GLYPH_H 7 /* height of a capital at scale 1 */

#endif

/* cadenza plot: piano-roll pictures of scores and simple line charts, as PNG (through libpng) or SVG.
 *
 *   cdz_score s;
 *   cdz_error err;
 *   if (cdz_score_read_file(&s, "tune.mid", &err) != CDZ_OK) { puts(err.msg); return 1; }
 *   const cdz_score *scores[1] = {&s};
 *   const char *titles[1] = {"tune.mid - 0:32"};
 *   cdz_plot_params p = cdz_plot_default_params();
 *   if (cdz_plot_pianoroll_write("tune.png", scores, titles, 1, &p, &err) != CDZ_OK) puts(err.msg);
 *   cdz_score_free(&s);
 *
 *   // or draw on a canvas of your own and add to it:
 *   cdz_canvas c;
 *   cdz_plot_pianoroll(&c, scores, titles, 1, &p, &err);
 *   cdz_canvas_text(&c, 10, 10, "hello", 2, (cdz_rgb){255, 255, 255});
 *   cdz_png_write("tune.png", &c, &err);
 *   cdz_canvas_free(&c);
 *
 * The piano roll: time runs left to right on one scale for every panel (bar lines and bar numbers
 * from each score's time signatures), pitch bottom to top over the range the notes use plus a margin
 * (octave labels C2, C3, ... with C4 = MIDI 60), one colour per instrument (track and channel), brighter
 * for louder notes, drums in a lane of their own below the pitched rows (one row per drum pitch used).
 * Several scores give panels one above the other on the same pitch range, drum rows and time scale.
 *
 * Owns: a canvas owns its pixel buffer (cdz_canvas_free). Nothing else is kept between calls.
 * Files are written to a temporary name beside the target and renamed, so a failed write never
 * leaves a half-written picture. Without libpng (built without CDZ_HAVE_PNG) the PNG functions fail
 * with CDZ_ERR_UNSUPPORTED and a message saying how to get them; SVG always works.
 *
 * Thread safety: every function may run concurrently on distinct canvases; nothing is global. */
#ifndef CADENZA_PLOT_H
#define CADENZA_PLOT_H

#include "cadenza/core.h"
#include "cadenza/score.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cdz_rgb {
    uint8_t r, g, b;
} cdz_rgb;

/* ---- raster canvas: 8-bit RGB, rows top to bottom, (0, 0) the top-left pixel ---- */
typedef struct cdz_canvas {
    int32_t width, height;
    uint8_t *pixels; /* (height, width, 3) */
} cdz_canvas;

/* A width x height canvas filled with `background`; both sides in [1, 32768]. */
CDZ_API cdz_status cdz_canvas_init(cdz_canvas *c, int32_t width, int32_t height, cdz_rgb background, cdz_error *err);
CDZ_API void cdz_canvas_free(cdz_canvas *c);
/* The pixel at (x, y); black outside the canvas. */
CDZ_API cdz_rgb cdz_canvas_get(const cdz_canvas *c, int32_t x, int32_t y);
/* Drawing clips to the canvas, so any coordinates are safe. */
CDZ_API void cdz_canvas_fill_rect(cdz_canvas *c, int32_t x, int32_t y, int32_t w, int32_t h, cdz_rgb color);
/* A 1-pixel line from (x0, y0) to (x1, y1), both ends included (Bresenham). */
CDZ_API void cdz_canvas_line(cdz_canvas *c, int32_t x0, int32_t y0, int32_t x1, int32_t y1, cdz_rgb color);
/* Text in the built-in 5x7 font, each font pixel a scale x scale square; (x, y) is the top-left
 * corner. Characters advance 6 * scale pixels; '\n' starts a new line 9 * scale pixels lower.
 * Printable ASCII is drawn; an en or em dash in UTF-8 as '-', anything else as '?'. */
CDZ_API void cdz_canvas_text(cdz_canvas *c, int32_t x, int32_t y, const char *text, int32_t scale, cdz_rgb color);
/* The width in pixels cdz_canvas_text takes for the longest line of `text`. */
CDZ_API int32_t cdz_canvas_text_width(const char *text, int32_t scale);

/* ---- PNG (libpng) ---- */
/* Writes an 8-bit RGB PNG to a temporary file beside `path`, then renames it over `path`. */
CDZ_API cdz_status cdz_png_write(const char *path, const cdz_canvas *c, cdz_error *err);
/* Reads any PNG into a new RGB canvas (alpha dropped over black, 16-bit and palettes converted). */
CDZ_API cdz_status cdz_png_read(const char *path, cdz_canvas *c, cdz_error *err);
/* 1 when this build can read and write PNG (built with libpng). */
CDZ_API int cdz_png_available(void);

/* ---- piano roll ---- */
typedef struct cdz_plot_params {
    int32_t width;          /* the whole picture, pixels; default 1200 */
    int32_t height;         /* the whole picture; 0 (default) sizes the rows from the pitch range */
    int32_t pitch_margin;   /* semitones drawn above and below the notes; default 2 */
    int32_t min_pitch_rows; /* at least this many pitch rows (default 13, so a C is always labelled) */
    cdz_rgb background;     /* around the rolls */
    cdz_rgb row_white;      /* rows of white keys and the drum rows */
    cdz_rgb row_black;      /* rows of black keys */
    cdz_rgb octave_line;    /* under each C row */
    cdz_rgb beat_line;      /* at beats, where they are far enough apart */
    cdz_rgb bar_line;       /* at bars */
    cdz_rgb text;
} cdz_plot_params;

CDZ_API cdz_plot_params cdz_plot_default_params(void);

/* Where things are in a piano-roll picture, so callers (and tests) can find a note's pixels. Every
 * panel has the same geometry; panel i starts at y = i * panel_height. */
typedef struct cdz_plot_layout {
    int32_t width, height;  /* the whole picture */
    int32_t n_panels;
    int32_t panel_height;
    int32_t x0, x1;         /* x of time 0 and of time `seconds` */
    double seconds;         /* the time shown: the longest score */
    int32_t pitch_lo, pitch_hi; /* the pitch rows, inclusive; pitch_lo > pitch_hi when all notes are drums */
    int32_t row_height;     /* pixels per row, pitch and drum alike */
    int32_t roll_top;       /* y of the highest pitch row, within a panel */
    int32_t drum_top;       /* y of the first drum row, within a panel */
    int32_t n_drum_rows;
    uint8_t drum_pitches[128]; /* the drum pitches any score uses, ascending; the highest is the top row */
    int32_t title_scale;    /* font scale of the titles */
} cdz_plot_layout;

/* The geometry cdz_plot_pianoroll uses for these scores; fails when a score has no notes or the
 * picture is too small for its rows. */
CDZ_API cdz_status cdz_plot_layout_compute(cdz_plot_layout *l, const cdz_score *const *scores, size_t n,
                                   const cdz_plot_params *p, cdz_error *err);
/* The x of a time in seconds (clamped to the time axis). */
CDZ_API int32_t cdz_plot_layout_x(const cdz_plot_layout *l, double seconds);
/* The top y of a pitch row or a drum row in panel `panel`; -1 when there is no such row. */
CDZ_API int32_t cdz_plot_layout_pitch_y(const cdz_plot_layout *l, size_t panel, int pitch);
CDZ_API int32_t cdz_plot_layout_drum_y(const cdz_plot_layout *l, size_t panel, int pitch);

/* The colour of a note of instrument `instrument` (the rank of its (track, channel) among the score's
 * distinct pairs, in that order) at `velocity`: the instrument's hue, brighter when louder. */
CDZ_API cdz_rgb cdz_plot_note_color(size_t instrument, uint8_t velocity);

/* Draws n scores (panels, top to bottom) on a new canvas *out (free with cdz_canvas_free; left
 * empty on failure). titles may be NULL, as may any title. p NULL means the defaults. */
CDZ_API cdz_status cdz_plot_pianoroll(cdz_canvas *out, const cdz_score *const *scores, const char *const *titles, size_t n,
                              const cdz_plot_params *p, cdz_error *err);
/* The same picture as an SVG file: one <rect class="note"> per note, lines and text. */
CDZ_API cdz_status cdz_plot_pianoroll_svg(const char *path, const cdz_score *const *scores, const char *const *titles,
                                  size_t n, const cdz_plot_params *p, cdz_error *err);
/* SVG when the path ends in ".svg" (any case), else PNG. */
CDZ_API cdz_status cdz_plot_pianoroll_write(const char *path, const cdz_score *const *scores, const char *const *titles,
                                    size_t n, const cdz_plot_params *p, cdz_error *err);
/* 1 when the path ends in ".svg", any case. */
CDZ_API int cdz_plot_is_svg_path(const char *path);

/* ---- line charts ---- */
/* n_curves curves over the same x (ys[k] holds n_points values; non-finite values leave gaps), with
 * axes, tick labels, an x label, a title and a legend of `names`, in a 900 x 500 picture: SVG when
 * the path ends in ".svg", else PNG. x must be finite. title, x_label and names may be NULL. */
CDZ_API cdz_status cdz_plot_curves(const char *path, const char *title, const char *x_label, const double *x, size_t n_points,
                           const double *const *ys, const char *const *names, size_t n_curves, cdz_error *err);

/* ---- spectrograms (audio) ---- */
/* A width x height picture of x (n samples at rate, mono): STFT magnitudes (a 1,024-sample periodic
 * Hann window, the hop chosen for about one frame a pixel column) in dB from 80 below the loudest
 * bin up to it, time across, frequency up from 0 to rate / 2 (linear), with the title and labelled
 * axes. Needs the FFT (KissFFT): CDZ_ERR_UNSUPPORTED without it. */
CDZ_API cdz_status cdz_plot_spectrogram(cdz_canvas *out, const float *x, size_t n, int rate, const char *title, int32_t width,
                                        int32_t height, cdz_error *err);
/* The pixel row at which that picture draws frequency hz (for tests and overlays). */
CDZ_API int32_t cdz_plot_spectrogram_row(int32_t height, double hz, int rate);

#ifdef __cplusplus
}
#endif
#endif

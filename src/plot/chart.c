/* Line charts: several curves over one x axis, with "nice" tick steps (1, 2 or 5 times a power of
 * ten), grid lines, tick labels, a title, an x label and a legend; PNG or SVG like the piano roll. */
#include "plot_internal.h"

#include <math.h>
#include <stdio.h>

enum { W = 900, H = 500, LEFT = 74, RIGHT = W - 20, TOP = 40, BOTTOM = H - 52, MAX_CURVES = 64, MAX_TICKS = 40 };

/* Okabe and Ito's palette in its original strength, which reads well on white. */
static const cdz_rgb CURVE_COLORS[] = {{0, 114, 178}, {213, 94, 0},  {0, 158, 115}, {204, 121, 167},
                                       {230, 159, 0}, {86, 180, 233}, {0, 0, 0},    {120, 120, 120}};
#define N_COLORS (sizeof CURVE_COLORS / sizeof CURVE_COLORS[0])

static const cdz_rgb BG = {255, 255, 255}, AXIS = {60, 60, 60}, GRID = {228, 228, 228}, TEXT = {30, 30, 30};

typedef struct axis {
    double lo, hi, step;
} axis;

/* A step of 1, 2 or 5 times a power of ten giving about `target` intervals over the range. */
static double nice_step(double range, int target) {
    double raw = range / target, mag = pow(10, floor(log10(raw))), norm = raw / mag;
    return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

/* An axis over [lo, hi]; a degenerate range is widened so it still has a length. `round_out` moves
 * the ends out to whole steps (the y axis, so curves do not touch the frame). */
static axis make_axis(double lo, double hi, int round_out) {
    if (!(hi > lo)) {
        double d = fabs(lo) > 1 ? fabs(lo) * 0.1 : 1;
        lo -= d, hi += d;
    }
    axis a = {lo, hi, nice_step(hi - lo, 6)};
    if (round_out) a.lo = floor(lo / a.step) * a.step, a.hi = ceil(hi / a.step) * a.step;
    return a;
}

static void tick_label(double v, double step, char *buf, size_t n) {
    if (fabs(v) < step * 1e-9) v = 0; /* no "-0" */
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (fabs(v) >= 1e6 || decimals > 6) snprintf(buf, n, "%g", v);
    else snprintf(buf, n, "%.*f", decimals, v);
}

static int32_t to_px(const axis *a, double v, int32_t p0, int32_t p1) {
    double f = (v - a->lo) / (a->hi - a->lo);
    return p0 + (int32_t)lround(f * (p1 - p0));
}

static void draw_axes(plot_surface *s, const axis *ax, const axis *ay) {
    char lab[40];
    double k0 = ceil(ax->lo / ax->step - 1e-9);
    for (int i = 0; i < MAX_TICKS && (k0 + i) * ax->step <= ax->hi + ax->step * 1e-9; i++) {
        double v = (k0 + i) * ax->step;
        int32_t x = to_px(ax, v, LEFT, RIGHT);
        plot_line(s, x, TOP, x, BOTTOM, GRID, 1);
        plot_line(s, x, BOTTOM, x, BOTTOM + 4, AXIS, 1);
        tick_label(v, ax->step, lab, sizeof lab);
        plot_text(s, x - cdz_canvas_text_width(lab, 1) / 2, BOTTOM + 8, lab, 1, TEXT);
    }
    k0 = ceil(ay->lo / ay->step - 1e-9);
    for (int i = 0; i < MAX_TICKS && (k0 + i) * ay->step <= ay->hi + ay->step * 1e-9; i++) {
        double v = (k0 + i) * ay->step;
        int32_t y = to_px(ay, v, BOTTOM, TOP);
        plot_line(s, LEFT, y, RIGHT, y, GRID, 1);
        plot_line(s, LEFT - 4, y, LEFT, y, AXIS, 1);
        tick_label(v, ay->step, lab, sizeof lab);
        plot_text(s, LEFT - 7 - cdz_canvas_text_width(lab, 1), y - 3, lab, 1, TEXT);
    }
    plot_line(s, LEFT, TOP, LEFT, BOTTOM, AXIS, 1);
    plot_line(s, LEFT, BOTTOM, RIGHT, BOTTOM, AXIS, 1);
}

/* Segments join consecutive finite points; a finite point between gaps shows as a dot. */
static void draw_curve(plot_surface *s, const axis *ax, const axis *ay, const double *x, const double *y, size_t n,
                       cdz_rgb c) {
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) continue;
        int32_t px = to_px(ax, x[i], LEFT, RIGHT), py = to_px(ay, y[i], BOTTOM, TOP);
        int prev = i > 0 && isfinite(y[i - 1]), next = i + 1 < n && isfinite(y[i + 1]);
        if (next) plot_line(s, px, py, to_px(ax, x[i + 1], LEFT, RIGHT), to_px(ay, y[i + 1], BOTTOM, TOP), c, 2);
        else if (!prev) plot_rect(s, px - 1, py - 1, 3, 3, c, NULL);
    }
}

static void draw_legend(plot_surface *s, const char *const *names, size_t n) {
    if (!names) return;
    int32_t w = 0, rows = 0;
    for (size_t k = 0; k < n; k++) {
        if (!names[k]) continue;
        int32_t tw = cdz_canvas_text_width(names[k], 1);
        if (tw > w) w = tw;
        rows++;
    }
    if (rows == 0) return;
    int32_t bw = w + 36, bh = rows * 14 + 8, bx = RIGHT - bw - 8, by = TOP + 8;
    plot_rect(s, bx, by, bw, bh, AXIS, NULL);
    plot_rect(s, bx + 1, by + 1, bw - 2, bh - 2, BG, NULL);
    int32_t y = by + 6;
    for (size_t k = 0; k < n; k++) {
        if (!names[k]) continue;
        plot_line(s, bx + 6, y + 3, bx + 22, y + 3, CURVE_COLORS[k % N_COLORS], 2);
        plot_text(s, bx + 28, y, names[k], 1, TEXT);
        y += 14;
    }
}

static cdz_status check_curves(const char *path, const double *x, size_t n_points, const double *const *ys,
                               size_t n_curves, axis *ax, axis *ay, cdz_error *err) {
    if (!path || !x || !ys || n_points == 0 || n_curves == 0 || n_curves > MAX_CURVES)
        return cdz_error_set(err, CDZ_ERR_ARG, "%s: a chart needs points and 1 to %d curves", path ? path : "chart",
                             MAX_CURVES);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t i = 0; i < n_points; i++) {
        if (!isfinite(x[i])) return cdz_error_set(err, CDZ_ERR_ARG, "%s: x[%zu] is not a finite number", path, i);
        xlo = fmin(xlo, x[i]), xhi = fmax(xhi, x[i]);
    }
    for (size_t k = 0; k < n_curves; k++) {
        if (!ys[k]) return cdz_error_set(err, CDZ_ERR_ARG, "%s: curve %zu has no values", path, k + 1);
        for (size_t i = 0; i < n_points; i++)
            if (isfinite(ys[k][i])) ylo = fmin(ylo, ys[k][i]), yhi = fmax(yhi, ys[k][i]);
    }
    if (!(yhi >= ylo)) return cdz_error_set(err, CDZ_ERR_ARG, "%s: no finite values to plot", path);
    if (!isfinite(xhi - xlo) || !isfinite(yhi - ylo))
        return cdz_error_set(err, CDZ_ERR_RANGE, "%s: values too far apart to plot", path);
    *ax = make_axis(xlo, xhi, 0);
    *ay = make_axis(ylo, yhi, 1);
    return CDZ_OK;
}

static void draw_chart(plot_surface *s, const char *title, const char *x_label, const double *x, size_t n_points,
                       const double *const *ys, const char *const *names, size_t n_curves, const axis *ax,
                       const axis *ay) {
    draw_axes(s, ax, ay);
    for (size_t k = 0; k < n_curves; k++) draw_curve(s, ax, ay, x, ys[k], n_points, CURVE_COLORS[k % N_COLORS]);
    /* Axes again over the curves' ends, so the frame stays crisp. */
    plot_line(s, LEFT, TOP, LEFT, BOTTOM, AXIS, 1);
    plot_line(s, LEFT, BOTTOM, RIGHT, BOTTOM, AXIS, 1);
    draw_legend(s, names, n_curves);
    if (title) plot_text(s, LEFT, 12, title, 2, TEXT);
    if (x_label) plot_text(s, (LEFT + RIGHT - cdz_canvas_text_width(x_label, 1)) / 2, H - 22, x_label, 1, TEXT);
}

cdz_status cdz_plot_curves(const char *path, const char *title, const char *x_label, const double *x, size_t n_points,
                           const double *const *ys, const char *const *names, size_t n_curves, cdz_error *err) {
    axis ax, ay;
    cdz_status st = check_curves(path, x, n_points, ys, n_curves, &ax, &ay, err);
    if (st != CDZ_OK) return st;
    if (cdz_plot_is_svg_path(path)) {
        plot_svg svg;
        plot_svg_begin(&svg, W, H, BG);
        plot_surface s = {NULL, &svg};
        draw_chart(&s, title, x_label, x, n_points, ys, names, n_curves, &ax, &ay);
        plot_svg_end(&svg);
        return plot_svg_finish(&svg, path, err);
    }
    if (!cdz_png_available()) return cdz_png_write(path, NULL, err);
    cdz_canvas c;
    st = cdz_canvas_init(&c, W, H, BG, err);
    if (st != CDZ_OK) return st;
    plot_surface s = {&c, NULL};
    draw_chart(&s, title, x_label, x, n_points, ys, names, n_curves, &ax, &ay);
    st = cdz_png_write(path, &c, err);
    cdz_canvas_free(&c);
    return st;
}

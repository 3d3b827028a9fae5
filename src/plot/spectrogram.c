/* A spectrogram picture of a clip (cadenza/plot.h): STFT magnitudes in dB (80 dB below the loudest
 * bin up to it) through a dark-to-bright colour ramp, time across, frequency up (linear, 0 to the
 * Nyquist frequency), with a title and labelled axes, on the piano roll's dark background. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cadenza/audio_metrics.h"
#include "cadenza/plot.h"

enum { LEFT = 60, RIGHT = 10, TOP = 30, BOTTOM = 24, WIN = 1024 };
static const cdz_rgb BG = {22, 24, 29}, INK = {200, 200, 205}, GRID = {70, 72, 80};

/* black, purple, red, orange, pale yellow: a ramp bright where loud (as magma and inferno) */
static cdz_rgb ramp(double v) {
    static const double stops[5][3] = {{0, 0, 4}, {87, 16, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    double p = v * 4;
    int i = p >= 4 ? 3 : (int)p;
    double t = p - i;
    cdz_rgb c;
    c.r = (uint8_t)lround(stops[i][0] + t * (stops[i + 1][0] - stops[i][0]));
    c.g = (uint8_t)lround(stops[i][1] + t * (stops[i + 1][1] - stops[i][1]));
    c.b = (uint8_t)lround(stops[i][2] + t * (stops[i + 1][2] - stops[i][2]));
    return c;
}

/* A round step for about `want` ticks over span. */
static double tick_step(double span, int want) {
    double raw = span / want, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

int32_t cdz_plot_spectrogram_row(int32_t height, double hz, int rate) {
    const int32_t h = height - TOP - BOTTOM;
    return TOP + (h - 1) - (int32_t)lround(hz / (rate / 2.0) * (h - 1));
}

cdz_status cdz_plot_spectrogram(cdz_canvas *out, const float *x, size_t n, int rate, const char *title, int32_t width,
                                int32_t height, cdz_error *err) {
    memset(out, 0, sizeof *out);
    if (width < LEFT + RIGHT + 50 || height < TOP + BOTTOM + 50)
        return cdz_error_set(err, CDZ_ERR_ARG, "a spectrogram of %d x %d pixels is too small (at least %d x %d)", width, height,
                             LEFT + RIGHT + 50, TOP + BOTTOM + 50);
    if (rate <= 0) return cdz_error_set(err, CDZ_ERR_ARG, "a sample rate of %d", rate);
    if (n <= WIN / 2) return cdz_error_set(err, CDZ_ERR_ARG, "%zu samples: too short to draw (more than %d needed)", n, WIN / 2);
    const int32_t w = width - LEFT - RIGHT, h = height - TOP - BOTTOM, bins = WIN / 2 + 1;
    int hop = (int)(n / (size_t)w);
    if (hop < 16) hop = 16;
    float *mag = NULL;
    int frames = 0;
    cdz_status st = cdz_stft_magnitude(x, n, WIN, hop, &mag, &frames, err);
    if (st) return st;
    st = cdz_canvas_init(out, width, height, BG, err);
    if (st) {
        cdz_free(mag);
        return st;
    }
    double top = -INFINITY;
    for (size_t i = 0; i < (size_t)frames * bins; i++) top = fmax(top, 20 * log10(fmax(mag[i], 1e-10)));
    for (int32_t px = 0; px < w; px++) {
        int f = (int)((int64_t)px * frames / w);
        for (int32_t py = 0; py < h; py++) {
            int k = (int)lround((double)(h - 1 - py) / (h - 1) * (bins - 1));
            double db = 20 * log10(fmax(mag[(size_t)f * bins + k], 1e-10));
            cdz_canvas_fill_rect(out, LEFT + px, TOP + py, 1, 1, ramp((db - (top - 80)) / 80));
        }
    }
    cdz_free(mag);
    /* axes: frequency ticks in kHz at the left, seconds below */
    char label[64];
    double fs = tick_step(rate / 2.0, 6);
    for (double hz = 0; hz <= rate / 2.0 + 1e-9; hz += fs) {
        int32_t y = cdz_plot_spectrogram_row(height, hz, rate);
        snprintf(label, sizeof label, "%g kHz", hz / 1000);
        cdz_canvas_line(out, LEFT - 4, y, LEFT - 1, y, GRID);
        cdz_canvas_text(out, LEFT - 6 - cdz_canvas_text_width(label, 1), y - 3, label, 1, INK);
    }
    double secs = (double)n / rate, ts = tick_step(secs, 8);
    for (double t = 0; t <= secs + 1e-9; t += ts) {
        int32_t xx = LEFT + (int32_t)lround(t / secs * (w - 1));
        snprintf(label, sizeof label, "%gs", t);
        cdz_canvas_line(out, xx, TOP + h, xx, TOP + h + 3, GRID);
        cdz_canvas_text(out, xx - cdz_canvas_text_width(label, 1) / 2, TOP + h + 6, label, 1, INK);
    }
    cdz_canvas_text(out, LEFT, 8, title ? title : "", 2, INK);
    return CDZ_OK;
}

/* Plots: the canvas primitives and font, PNG write/read through libpng, the piano roll's pixels (notes
 * where the layout says, background elsewhere, velocity as brightness, bar lines at the score's bars
 * across a time-signature change, the drum lane, labels), its SVG twin, --compare, the line chart,
 * allocation failures, and the `cadenza plot` command. PNG checks are skipped (and said so) in a build
 * without libpng. */
#include <dirent.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

static char dir[] = "/tmp/cadenza_plot_XXXXXX";

static int same_rgb(cdz_rgb a, cdz_rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }
static int brightness(cdz_rgb c) { return c.r + c.g + c.b; }

#define CHECK_RGB(actual, expected)                                                                           \
    do {                                                                                                      \
        cdz_rgb a__ = (actual), e__ = (expected);                                                             \
        CHECK(same_rgb(a__, e__), "%s = (%d,%d,%d), expected (%d,%d,%d)", #actual, a__.r, a__.g, a__.b, e__.r, \
              e__.g, e__.b);                                                                                  \
    } while (0)

/* Bar 0-1 in 4/4, then 3/4 (bars at ticks 0, 1920, 3840, 5280, 6720) at 120 qpm: 0.5 s a beat.
 * Track 0 (channel 0): C4 soft, E4 loud, G4, D4; track 1 (channel 1, bass): C3; optionally drums. */
static void make_score(cdz_score *s, int with_drums) {
    cdz_error e;
    cdz_score_init(s, 480, &e);
    cdz_score_add_tempo(s, 0, 120);
    cdz_score_add_time_signature(s, 0, 4, 4);
    cdz_score_add_time_signature(s, 3840, 3, 4);
    cdz_score_add_note(s, 0, 0, 0, 60, 40, 0, 960);
    cdz_score_add_note(s, 0, 0, 0, 64, 120, 960, 1920);
    cdz_score_add_note(s, 0, 0, 0, 67, 100, 1920, 3840);
    cdz_score_add_note(s, 0, 0, 0, 62, 90, 3840, 6720);
    cdz_score_add_note(s, 1, 1, 32, 48, 100, 0, 1920);
    if (with_drums) {
        cdz_score_add_note(s, 2, 9, 0, 36, 110, 0, 240);
        cdz_score_add_note(s, 2, 9, 0, 42, 80, 480, 720);
    }
    cdz_score_finish(s, &e);
}

static void path_in_dir(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", dir, name); }

/* Reads a whole text file into a new string (NULL if missing). */
static char *slurp(const char *path) {
    uint8_t *b;
    size_t n;
    cdz_error e;
    return cdz_file_read_all(path, &b, &n, &e) == CDZ_OK ? (char *)b : NULL;
}

static size_t count(const char *hay, const char *needle) {
    size_t k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) k++;
    return k;
}

/* No "*.tmp*" file left in the temporary folder: every write finished or cleaned up. */
static int leftover_tmp_files(void) {
    DIR *d = opendir(dir);
    struct dirent *de;
    int k = 0;
    while (d && (de = readdir(d)))
        if (strstr(de->d_name, ".tmp")) k++;
    if (d) closedir(d);
    return k;
}

/* Any pixel of colour c in the rectangle. */
static int has_color(const cdz_canvas *c, int32_t x, int32_t y, int32_t w, int32_t h, cdz_rgb col) {
    for (int32_t j = y; j < y + h; j++)
        for (int32_t i = x; i < x + w; i++)
            if (same_rgb(cdz_canvas_get(c, i, j), col)) return 1;
    return 0;
}

static void test_canvas(void) {
    cdz_canvas c;
    cdz_error e;
    const cdz_rgb bg = {1, 2, 3}, red = {255, 0, 0};
    CHECK_INT(cdz_canvas_init(&c, 0, 10, bg, &e), CDZ_ERR_RANGE);
    CHECK_INT(cdz_canvas_init(&c, 40, 30, bg, &e), CDZ_OK);
    CHECK_RGB(cdz_canvas_get(&c, 39, 29), bg);
    cdz_canvas_fill_rect(&c, -5, -5, 8, 7, red); /* clipped to (0,0)-(2,1) */
    CHECK_RGB(cdz_canvas_get(&c, 2, 1), red);
    CHECK_RGB(cdz_canvas_get(&c, 3, 1), bg);
    CHECK_RGB(cdz_canvas_get(&c, 2, 2), bg);
    cdz_canvas_fill_rect(&c, 30, 20, INT32_MAX, INT32_MAX, red); /* no overflow, clipped */
    CHECK_RGB(cdz_canvas_get(&c, 39, 29), red);
    cdz_canvas_line(&c, 5, 10, 25, 20, red);
    CHECK_RGB(cdz_canvas_get(&c, 5, 10), red);
    CHECK_RGB(cdz_canvas_get(&c, 25, 20), red);
    CHECK_RGB(cdz_canvas_get(&c, 15, 15), red);
    CHECK_RGB(cdz_canvas_get(&c, 15, 10), bg);
    cdz_canvas_line(&c, INT32_MIN, 25, INT32_MAX, 25, red); /* axis-aligned, far ends */
    CHECK_RGB(cdz_canvas_get(&c, 20, 25), red);
    cdz_canvas_line(&c, -2000000000, -2000000000, 2000000000, 2000000000, red); /* diagonal, clipped first */
    CHECK_RGB(cdz_canvas_get(&c, 7, 7), red);
    cdz_canvas_free(&c);

    CHECK_INT(cdz_canvas_text_width("abc", 2), 3 * 12 - 2);
    CHECK_INT(cdz_canvas_text_width("ab\nwxyz", 1), 4 * 6 - 1);
    CHECK_INT(cdz_canvas_text_width("a\xE2\x80\x94z", 1), 3 * 6 - 1); /* an em dash is one character */
    cdz_canvas_init(&c, 20, 10, bg, &e);
    cdz_canvas_text(&c, 1, 1, "I", 1, red); /* the I glyph: a bar across the top, column 2 down */
    CHECK_RGB(cdz_canvas_get(&c, 2, 1), red);
    CHECK_RGB(cdz_canvas_get(&c, 3, 4), red);
    CHECK_RGB(cdz_canvas_get(&c, 1, 4), bg);
    cdz_canvas_text(&c, 8, 1, "-", 2, red); /* the '-' row is the fourth: y = 1 + 3 * 2 */
    CHECK_RGB(cdz_canvas_get(&c, 8, 7), red);
    CHECK_RGB(cdz_canvas_get(&c, 8, 5), bg);
    cdz_canvas_free(&c);
}

static void test_png_roundtrip(void) {
    char path[300], bad[300];
    cdz_canvas c, back;
    cdz_error e = {0};
    path_in_dir(path, sizeof path, "round.png");
    cdz_canvas_init(&c, 37, 23, (cdz_rgb){0, 0, 0}, &e);
    cdz_rng r;
    cdz_rng_seed(&r, 7);
    for (size_t i = 0; i < (size_t)37 * 23 * 3; i++) c.pixels[i] = (uint8_t)cdz_rng_below(&r, 256);
    if (!cdz_png_available()) {
        printf("skipped: PNG checks (built without libpng)\n");
        CHECK_INT(cdz_png_write(path, &c, &e), CDZ_ERR_UNSUPPORTED);
        CHECK_STR_CONTAINS(e.msg, "libpng-dev");
        CHECK_STR_CONTAINS(e.msg, "--svg");
        cdz_canvas_free(&c);
        return;
    }
    CHECK_INT(cdz_png_write(path, &c, &e), CDZ_OK);
    CHECK_INT(cdz_png_read(path, &back, &e), CDZ_OK);
    CHECK_INT(back.width, 37);
    CHECK_INT(back.height, 23);
    CHECK(back.pixels && memcmp(back.pixels, c.pixels, (size_t)37 * 23 * 3) == 0, "PNG pixels differ after a round trip");
    cdz_canvas_free(&back);
    /* libpng allocates through the library's hook too: every failure reported, nothing leaked. */
    FAIL_EACH_ALLOCATION("png write", cdz_png_write(path, &c, NULL));
    CHECK_INT(leftover_tmp_files(), 0);
    cdz_canvas_free(&c);

    path_in_dir(bad, sizeof bad, "not_a.png");
    cdz_file_write_atomic(bad, "hello", 5, &e);
    CHECK(cdz_png_read(bad, &back, &e) != CDZ_OK, "a text file read as PNG");
    CHECK_STR_CONTAINS(e.msg, "not_a.png");
    CHECK(back.pixels == NULL, "a failed read left pixels");
    CHECK(cdz_png_write("/nonexistent/dir/x.png", &c, &e) != CDZ_OK, "wrote into a missing folder");
    CHECK_STR_CONTAINS(e.msg, "/nonexistent/dir/x.png");
}

static void test_layout(void) {
    cdz_score s, d;
    cdz_error e = {0};
    make_score(&s, 0);
    make_score(&d, 1);
    cdz_plot_params p = cdz_plot_default_params();
    CHECK_INT(p.width, 1200);
    cdz_plot_layout l, ld;
    const cdz_score *one[1] = {&s}, *drums[1] = {&d};
    CHECK_INT(cdz_plot_layout_compute(&l, one, 1, &p, &e), CDZ_OK);
    CHECK_INT(l.width, 1200);
    CHECK_INT(l.pitch_lo, 48 - 2);
    CHECK_INT(l.pitch_hi, 67 + 2);
    CHECK_INT(l.n_drum_rows, 0);
    CHECK_NEAR(l.seconds, 7.0, 1e-9); /* 6720 ticks at 120 qpm */
    CHECK(cdz_plot_layout_pitch_y(&l, 0, 69) < cdz_plot_layout_pitch_y(&l, 0, 46), "higher pitches are not higher");
    CHECK_INT(cdz_plot_layout_pitch_y(&l, 0, 45), -1);
    CHECK_INT(cdz_plot_layout_pitch_y(&l, 0, 70), -1);
    CHECK_INT(cdz_plot_layout_x(&l, 0), l.x0);
    CHECK_INT(cdz_plot_layout_x(&l, 7.0), l.x1);
    CHECK_INT(cdz_plot_layout_drum_y(&l, 0, 36), -1);

    CHECK_INT(cdz_plot_layout_compute(&ld, drums, 1, &p, &e), CDZ_OK);
    CHECK_INT(ld.n_drum_rows, 2);
    CHECK_INT(ld.drum_pitches[0], 36);
    CHECK_INT(ld.drum_pitches[1], 42);
    CHECK(cdz_plot_layout_drum_y(&ld, 0, 36) > cdz_plot_layout_pitch_y(&ld, 0, 46), "the drum lane is not below");
    CHECK(ld.height > l.height, "drum rows did not add height (%ld vs %ld)", (long)ld.height, (long)l.height);
    CHECK_INT(ld.pitch_lo, l.pitch_lo); /* drum pitches do not widen the pitched range */

    /* A narrow range still shows a C: at least 13 rows. */
    cdz_score narrow;
    cdz_score_init(&narrow, 480, &e);
    cdz_score_add_note(&narrow, 0, 0, 0, 65, 90, 0, 480);
    cdz_score_finish(&narrow, &e);
    const cdz_score *nr[1] = {&narrow};
    CHECK_INT(cdz_plot_layout_compute(&l, nr, 1, &p, &e), CDZ_OK);
    CHECK_INT(l.pitch_hi - l.pitch_lo + 1, 13);

    /* Bad parameters and empty scores are errors, not crashes. */
    p.width = 10;
    CHECK_INT(cdz_plot_layout_compute(&l, one, 1, &p, &e), CDZ_ERR_RANGE);
    p = cdz_plot_default_params();
    p.height = 40;
    CHECK_INT(cdz_plot_layout_compute(&l, one, 1, &p, &e), CDZ_ERR_RANGE);
    CHECK_STR_CONTAINS(e.msg, "too small");
    p.height = 600;
    CHECK_INT(cdz_plot_layout_compute(&l, one, 1, &p, &e), CDZ_OK);
    CHECK_INT(l.height, 600);
    cdz_score empty;
    cdz_score_init(&empty, 480, &e);
    cdz_score_finish(&empty, &e);
    const cdz_score *two[2] = {&s, &empty};
    CHECK_INT(cdz_plot_layout_compute(&l, two, 2, NULL, &e), CDZ_ERR_ARG);
    CHECK_STR_CONTAINS(e.msg, "score 2 of 2 has no notes");
    CHECK_INT(cdz_plot_layout_compute(&l, one, 0, NULL, &e), CDZ_ERR_ARG);
    cdz_score_free(&empty);
    cdz_score_free(&narrow);
    cdz_score_free(&d);
    cdz_score_free(&s);
}

/* The middle pixel of a note's rectangle. */
static cdz_rgb note_pixel(const cdz_canvas *c, const cdz_plot_layout *l, size_t panel, const cdz_score *s, size_t i) {
    const cdz_note *n = &s->notes[i];
    int32_t x = (cdz_plot_layout_x(l, n->start_s) + cdz_plot_layout_x(l, n->end_s)) / 2;
    int32_t y = n->is_drum ? cdz_plot_layout_drum_y(l, panel, n->pitch) : cdz_plot_layout_pitch_y(l, panel, n->pitch);
    return cdz_canvas_get(c, x, y + l->row_height / 2);
}

/* Note index of (pitch, start tick) in the sorted note list. */
static size_t find_note(const cdz_score *s, int pitch, int64_t start) {
    for (size_t i = 0; i < s->n_notes; i++)
        if (s->notes[i].pitch == pitch && s->notes[i].start_tick == start) return i;
    return 0;
}

static void check_notes(const cdz_canvas *c, const cdz_plot_layout *l, const cdz_score *s) {
    for (size_t i = 0; i < s->n_notes; i++) {
        const cdz_note *n = &s->notes[i];
        size_t instrument = n->is_drum ? 2 : n->track; /* tracks 0, 1, 2 use channels 0, 1, 9 */
        CHECK_RGB(note_pixel(c, l, 0, s, i), cdz_plot_note_color(instrument, n->velocity));
    }
    cdz_rgb soft = note_pixel(c, l, 0, s, find_note(s, 60, 0)), loud = note_pixel(c, l, 0, s, find_note(s, 64, 960));
    CHECK(brightness(loud) > brightness(soft) + 60, "velocity 120 (%d) is not brighter than velocity 40 (%d)",
          brightness(loud), brightness(soft));
    CHECK(!same_rgb(cdz_plot_note_color(0, 100), cdz_plot_note_color(1, 100)), "two instruments share a colour");
}

static void check_background_and_bars(const cdz_canvas *c, const cdz_plot_layout *l, const cdz_score *s,
                                      const cdz_plot_params *p) {
    /* 0.25 s is half a beat into bar 1: G3 (55, white) and C#4 (61, black) hold no note there. */
    int32_t x = cdz_plot_layout_x(l, 0.25), y55 = cdz_plot_layout_pitch_y(l, 0, 55) + l->row_height / 2;
    CHECK_RGB(cdz_canvas_get(c, x, y55), p->row_white);
    CHECK_RGB(cdz_canvas_get(c, x, cdz_plot_layout_pitch_y(l, 0, 61) + l->row_height / 2), p->row_black);
    /* Bar lines where cdz_score_bar_to_tick puts bars, 4/4 then 3/4. */
    for (int64_t bar = 1; bar <= 4; bar++) {
        int32_t bx = cdz_plot_layout_x(l, cdz_score_tick_to_seconds(s, cdz_score_bar_to_tick(s, bar)));
        cdz_rgb got = cdz_canvas_get(c, bx, y55);
        CHECK(same_rgb(got, p->bar_line), "no bar line at bar %lld (x %ld)", (long long)bar + 1, (long)bx);
    }
    CHECK_INT(cdz_score_bar_to_tick(s, 3), 5280);
    /* Where a fourth 4/4 bar would have started (tick 5760) there is only a beat of the 3/4 bar. */
    int32_t wrong = cdz_plot_layout_x(l, cdz_score_tick_to_seconds(s, 5760));
    CHECK_RGB(cdz_canvas_get(c, wrong, y55), p->beat_line);
    CHECK_RGB(cdz_canvas_get(c, cdz_plot_layout_x(l, 1.5), y55), p->beat_line); /* beat 4 of bar 1 */
}

static void check_labels(const cdz_canvas *c, const cdz_plot_layout *l, const cdz_plot_params *p) {
    /* Octave labels beside the C rows only, "drums" beside the drum lane, the title above. */
    int32_t y60 = cdz_plot_layout_pitch_y(l, 0, 60), y55 = cdz_plot_layout_pitch_y(l, 0, 55);
    CHECK(has_color(c, 0, y60, l->x0, l->row_height, p->text), "no C4 label");
    CHECK(has_color(c, 0, cdz_plot_layout_pitch_y(l, 0, 48), l->x0, l->row_height, p->text), "no C3 label");
    CHECK(!has_color(c, 0, y55 - 2, l->x0, 5, p->text), "a label beside G3");
    CHECK(has_color(c, 0, 0, l->width, l->roll_top, p->text), "no title");
    if (l->n_drum_rows)
        CHECK(has_color(c, 0, l->drum_top, l->x0, l->n_drum_rows * l->row_height, p->text), "no drums label");
}

static void test_pianoroll_png(void) {
    if (!cdz_png_available()) {
        printf("skipped: piano-roll PNG checks (built without libpng)\n");
        return;
    }
    cdz_score s;
    make_score(&s, 1);
    cdz_error e = {0};
    cdz_plot_params p = cdz_plot_default_params();
    const cdz_score *one[1] = {&s};
    const char *titles[1] = {"tune.mid \xE2\x80\x94 0:07"};
    char path[300];
    path_in_dir(path, sizeof path, "roll.png");
    CHECK_INT(cdz_plot_pianoroll_write(path, one, titles, 1, &p, &e), CDZ_OK);
    cdz_canvas c, drawn;
    cdz_plot_layout l;
    CHECK_INT(cdz_png_read(path, &c, &e), CDZ_OK);
    CHECK_INT(cdz_plot_layout_compute(&l, one, 1, &p, &e), CDZ_OK);
    CHECK_INT(c.width, 1200);
    CHECK_INT(c.height, l.height);
    CHECK_INT(cdz_plot_pianoroll(&drawn, one, titles, 1, &p, &e), CDZ_OK);
    CHECK(c.pixels && drawn.pixels && c.height == drawn.height &&
              memcmp(c.pixels, drawn.pixels, (size_t)c.width * (size_t)c.height * 3) == 0,
          "the PNG file differs from the canvas");
    if (c.pixels && c.height == l.height) {
        check_notes(&c, &l, &s);
        check_background_and_bars(&c, &l, &s, &p);
        check_labels(&c, &l, &p);
        CHECK_RGB(cdz_canvas_get(&c, 2, 2), p.background);
    }
    cdz_canvas_free(&drawn);
    cdz_canvas_free(&c);

    /* Every allocation of drawing may fail; each failure is reported and leaks nothing. */
    FAIL_EACH_ALLOCATION("piano roll", (cdz_plot_pianoroll(&drawn, one, titles, 1, &p, NULL) == CDZ_OK
                                            ? (cdz_canvas_free(&drawn), CDZ_OK)
                                            : CDZ_ERR_NOMEM));
    CHECK_INT(leftover_tmp_files(), 0);
    cdz_score_free(&s);
}

static void test_compare(void) {
    cdz_score a, b;
    cdz_error e = {0};
    make_score(&a, 0);
    /* The continuation: higher and longer, so both the pitch range and the time scale are shared. */
    cdz_score_init(&b, 480, &e);
    cdz_score_add_tempo(&b, 0, 120);
    cdz_score_add_note(&b, 0, 0, 0, 80, 100, 0, 480);
    cdz_score_add_note(&b, 0, 0, 0, 72, 100, 480, 480 * 28);
    cdz_score_finish(&b, &e);
    const cdz_score *one[1] = {&a}, *two[2] = {&a, &b};
    const char *titles[2] = {"primer", "continuation"};
    cdz_plot_layout l1, l2;
    CHECK_INT(cdz_plot_layout_compute(&l1, one, 1, NULL, &e), CDZ_OK);
    CHECK_INT(cdz_plot_layout_compute(&l2, two, 2, NULL, &e), CDZ_OK);
    CHECK_INT(l2.n_panels, 2);
    CHECK_INT(l2.pitch_hi, 82);
    CHECK_INT(l2.pitch_lo, 46);
    CHECK_NEAR(l2.seconds, 14.0, 1e-9);
    CHECK_INT(l2.height, 2 * l2.panel_height);
    CHECK_INT(cdz_plot_layout_pitch_y(&l2, 1, 60), cdz_plot_layout_pitch_y(&l2, 0, 60) + l2.panel_height);
    if (!cdz_png_available()) {
        printf("skipped: --compare PNG checks (built without libpng)\n");
    } else {
        char p1[300], p2[300];
        path_in_dir(p1, sizeof p1, "one.png");
        path_in_dir(p2, sizeof p2, "two.png");
        CHECK_INT(cdz_plot_pianoroll_write(p1, one, titles, 1, NULL, &e), CDZ_OK);
        CHECK_INT(cdz_plot_pianoroll_write(p2, two, titles, 2, NULL, &e), CDZ_OK);
        cdz_canvas c1, c2;
        CHECK_INT(cdz_png_read(p1, &c1, &e), CDZ_OK);
        CHECK_INT(cdz_png_read(p2, &c2, &e), CDZ_OK);
        CHECK(c2.height > c1.height, "--compare is not taller: %ld vs %ld", (long)c2.height, (long)c1.height);
        CHECK_INT(c2.width, c1.width);
        /* Each panel's notes at its own rows on the shared scale; a title in each panel. */
        if (c2.pixels) {
            CHECK_RGB(note_pixel(&c2, &l2, 0, &a, find_note(&a, 67, 1920)), cdz_plot_note_color(0, 100));
            CHECK_RGB(note_pixel(&c2, &l2, 1, &b, find_note(&b, 80, 0)), cdz_plot_note_color(0, 100));
            CHECK_RGB(note_pixel(&c2, &l2, 1, &b, find_note(&b, 72, 480)), cdz_plot_note_color(0, 100));
            CHECK(has_color(&c2, 0, l2.panel_height, c2.width, l2.roll_top, cdz_plot_default_params().text),
                  "no title in the second panel");
        }
        cdz_canvas_free(&c1);
        cdz_canvas_free(&c2);
    }
    cdz_score_free(&a);
    cdz_score_free(&b);
}

static void test_svg(void) {
    cdz_score s;
    make_score(&s, 1);
    cdz_error e = {0};
    const cdz_score *one[1] = {&s}, *two[2] = {&s, &s};
    const char *titles[2] = {"a<b & \"c\" \xE2\x80\x94 0:07", "bad \xFF byte"};
    char path[300];
    path_in_dir(path, sizeof path, "roll.svg");
    CHECK_INT(cdz_plot_pianoroll_write(path, one, titles, 1, NULL, &e), CDZ_OK);
    char *svg = slurp(path);
    CHECK(svg != NULL, "no SVG written");
    if (svg) {
        CHECK(strncmp(svg, "<svg", 4) == 0, "SVG does not start with <svg: %.20s", svg);
        size_t n = strlen(svg);
        CHECK(n > 7 && strcmp(svg + n - 7, "</svg>\n") == 0, "SVG does not end with </svg>");
        CHECK_INT(count(svg, "<rect class=\"note\""), s.n_notes);
        CHECK_INT(count(svg, "<svg"), 1);
        CHECK_STR_CONTAINS(svg, "width=\"1200\"");
        CHECK_STR_CONTAINS(svg, ">drums</text>");
        CHECK_STR_CONTAINS(svg, ">C4</text>");
        CHECK_STR_CONTAINS(svg, "a&lt;b &amp; &quot;c&quot; \xE2\x80\x94 0:07");
        CHECK(strstr(svg, "a<b") == NULL, "an unescaped title");
        CHECK(count(svg, "<line") >= 4, "no bar lines in the SVG");
        cdz_free(svg);
    }
    CHECK_INT(cdz_plot_pianoroll_svg(path, two, titles, 2, NULL, &e), CDZ_OK);
    svg = slurp(path);
    if (svg) {
        CHECK_INT(count(svg, "<rect class=\"note\""), 2 * s.n_notes);
        CHECK_STR_CONTAINS(svg, "bad ? byte"); /* invalid UTF-8 never reaches the XML */
        cdz_free(svg);
    }
    FAIL_EACH_ALLOCATION("piano roll svg", cdz_plot_pianoroll_svg(path, two, titles, 2, NULL, NULL));
    CHECK_INT(leftover_tmp_files(), 0);
    cdz_score_free(&s);
}

static void test_curves(void) {
    double x[50], y0[50], y1[50];
    for (int i = 0; i < 50; i++) {
        x[i] = i * 0.1;
        y0[i] = i * i * 0.01;
        y1[i] = i == 20 ? NAN : 25 - i * 0.5; /* a gap */
    }
    const double *ys[2] = {y0, y1};
    const char *names[2] = {"reference", "generated"};
    char png[300], svgp[300];
    cdz_error e = {0};
    path_in_dir(png, sizeof png, "chart.png");
    path_in_dir(svgp, sizeof svgp, "chart.svg");
    CHECK_INT(cdz_plot_curves(svgp, "pitch range", "semitones", x, 50, ys, names, 2, &e), CDZ_OK);
    char *svg = slurp(svgp);
    if (svg) {
        CHECK(strncmp(svg, "<svg", 4) == 0, "chart SVG does not start with <svg");
        CHECK_STR_CONTAINS(svg, ">generated</text>");
        CHECK_STR_CONTAINS(svg, ">semitones</text>");
        CHECK(count(svg, "<line") > 90, "too few segments: %zu", count(svg, "<line"));
        cdz_free(svg);
    }
    FAIL_EACH_ALLOCATION("chart svg", cdz_plot_curves(svgp, "t", "x", x, 50, ys, names, 2, NULL));
    x[3] = NAN;
    CHECK_INT(cdz_plot_curves(svgp, NULL, NULL, x, 50, ys, NULL, 2, &e), CDZ_ERR_ARG);
    CHECK_STR_CONTAINS(e.msg, "x[3]");
    x[3] = 0.3;
    CHECK_INT(cdz_plot_curves(svgp, NULL, NULL, x, 50, ys, NULL, 0, &e), CDZ_ERR_ARG);
    if (!cdz_png_available()) {
        printf("skipped: chart PNG checks (built without libpng)\n");
        return;
    }
    CHECK_INT(cdz_plot_curves(png, "pitch range", "semitones", x, 50, ys, names, 2, &e), CDZ_OK);
    FAIL_EACH_ALLOCATION("chart png", cdz_plot_curves(png, "t", "x", x, 50, ys, names, 2, NULL));
    cdz_canvas c;
    CHECK_INT(cdz_png_read(png, &c, &e), CDZ_OK);
    CHECK_INT(c.width, 900);
    CHECK_INT(c.height, 500);
    /* Both curve colours (Okabe-Ito blue and vermillion) are drawn. */
    CHECK(has_color(&c, 0, 0, c.width, c.height, (cdz_rgb){0, 114, 178}), "the first curve is missing");
    CHECK(has_color(&c, 0, 0, c.width, c.height, (cdz_rgb){213, 94, 0}), "the second curve is missing");
    cdz_canvas_free(&c);
}

/* ---- the command ---- */

static char prog[512];

static int run(const char *args, char *err, size_t n) {
    char cmd[2048], errp[300];
    path_in_dir(errp, sizeof errp, "stderr");
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>%s", prog, args, errp);
    int st = system(cmd);
    char *text = slurp(errp);
    snprintf(err, n, "%s", text ? text : "");
    cdz_free(text);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* build/tests/test_plot runs build/cadenza; build/san/tests/test_plot runs build/san/cadenza, or
 * build/cadenza when the sanitized program was not built. */
static int find_program(const char *argv0) {
    snprintf(prog, sizeof prog, "%s", argv0);
    char *slash = strrchr(prog, '/');
    if (slash) {
        *slash = 0;
        slash = strrchr(prog, '/');
    }
    if (slash) {
        snprintf(slash, sizeof prog - (size_t)(slash - prog), "/cadenza");
        if (access(prog, X_OK) == 0) return 1;
    }
    snprintf(prog, sizeof prog, "build/cadenza");
    return access(prog, X_OK) == 0;
}

static void test_command(const char *argv0) {
    if (!find_program(argv0)) {
        printf("skipped: cadenza plot checks (no built cadenza program found)\n");
        return;
    }
    char mid[300], bad[300], empty[300], out[300], args[1500], err[4096];
    path_in_dir(mid, sizeof mid, "tune.mid");
    path_in_dir(bad, sizeof bad, "corrupt.mid");
    path_in_dir(empty, sizeof empty, "empty.mid");
    cdz_score s;
    cdz_error e;
    make_score(&s, 1);
    cdz_score_write_file(&s, mid, 1, &e);
    cdz_score_free(&s);
    cdz_score_init(&s, 480, &e);
    cdz_score_add_tempo(&s, 0, 120);
    cdz_score_finish(&s, &e);
    cdz_score_write_file(&s, empty, 1, &e);
    cdz_score_free(&s);
    cdz_file_write_atomic(bad, "MThd\0\0\0\6\0\0\0\1\0\140MTrk\0\0\0\4\0\220\074\220", 26, &e);

    CHECK_INT(run("plot --help", err, sizeof err), 0);
    path_in_dir(out, sizeof out, "cli.svg");
    snprintf(args, sizeof args, "plot %s --out %s", mid, out);
    CHECK_INT(run(args, err, sizeof err), 0);
    char *svg = slurp(out);
    CHECK(svg && strncmp(svg, "<svg", 4) == 0, "plot --out x.svg did not write SVG");
    if (svg) CHECK_STR_CONTAINS(svg, "tune.mid \xE2\x80\x94 0:07");
    cdz_free(svg);
    path_in_dir(out, sizeof out, "cli.png");
    snprintf(args, sizeof args, "plot %s --out %s --width 800 --height 400", mid, out);
    if (cdz_png_available()) {
        CHECK_INT(run(args, err, sizeof err), 0);
        cdz_canvas c;
        CHECK_INT(cdz_png_read(out, &c, &e), CDZ_OK);
        CHECK_INT(c.width, 800);
        CHECK_INT(c.height, 400);
        cdz_canvas_free(&c);
        snprintf(args, sizeof args, "plot --compare %s %s --out %s --width 800 --force", mid, mid, out);
        CHECK_INT(run(args, err, sizeof err), 0);
        CHECK_INT(cdz_png_read(out, &c, &e), CDZ_OK);
        CHECK(c.height > 400, "--compare picture only %ld high", (long)c.height);
        cdz_canvas_free(&c);
    }

    /* Failures: one line naming the file, exit 1; bad usage exit 2; no picture left behind. */
    path_in_dir(out, sizeof out, "never.png");
    snprintf(args, sizeof args, "plot %s/missing.mid --out %s", dir, out);
    CHECK_INT(run(args, err, sizeof err), 1);
    CHECK_STR_CONTAINS(err, "missing.mid");
    CHECK_INT(count(err, "\n"), 1);
    snprintf(args, sizeof args, "plot %s --out %s", bad, out);
    CHECK_INT(run(args, err, sizeof err), 1);
    CHECK_STR_CONTAINS(err, "corrupt.mid");
    CHECK_INT(count(err, "\n"), 1);
    snprintf(args, sizeof args, "plot %s --out %s", empty, out);
    CHECK_INT(run(args, err, sizeof err), 1);
    CHECK_STR_CONTAINS(err, "empty.mid: no notes to plot");
    snprintf(args, sizeof args, "plot --compare %s %s --out %s", mid, bad, out);
    CHECK_INT(run(args, err, sizeof err), 1);
    CHECK_STR_CONTAINS(err, "corrupt.mid");
    CHECK(access(out, F_OK) != 0, "a failed plot left %s", out);
    snprintf(args, sizeof args, "plot %s", mid);
    CHECK_INT(run(args, err, sizeof err), 2);
    CHECK_STR_CONTAINS(err, "--out FILE is required");
    snprintf(args, sizeof args, "plot %s --out %s --bogus", mid, out);
    CHECK_INT(run(args, err, sizeof err), 2);
    CHECK_STR_CONTAINS(err, "unknown option '--bogus'");
    snprintf(args, sizeof args, "plot %s --out %s --width 12", mid, out);
    CHECK_INT(run(args, err, sizeof err), 2);
    CHECK_STR_CONTAINS(err, "bad value '12' for --width: a whole number from 200 to 32768");
    snprintf(args, sizeof args, "plot %s --out %s --compare %s", mid, out, mid);
    CHECK_INT(run(args, err, sizeof err), 2);
    CHECK_INT(run("plot --out x.png", err, sizeof err), 2);
    CHECK_INT(leftover_tmp_files(), 0);
}

/* Removes the files this test made, then the folder. */
static void clean_up(void) {
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[600];
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d) closedir(d);
    rmdir(dir);
}

int main(int argc, char **argv) {
    (void)argc;
    if (!mkdtemp(dir)) {
        printf("FAIL: cannot make a temporary folder\n");
        return 1;
    }
    test_canvas();
    test_png_roundtrip();
    test_layout();
    test_pianoroll_png();
    test_compare();
    test_svg();
    test_curves();
    test_command(argv[0]);
    clean_up();
    return test_summary("test_plot");
}

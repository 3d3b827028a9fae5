/* PNG files through libpng: canvases written as 8-bit RGB (to a temporary name, fsynced, renamed) and
 * any PNG read back as RGB. libpng's messages are caught, never printed. Without libpng (no
 * CDZ_HAVE_PNG) both calls fail with a message saying how to get PNG support. */
#include "plot_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef CDZ_HAVE_PNG
#include <png.h>
#include <setjmp.h>

int cdz_png_available(void) { return 1; }

/* libpng reports errors through a callback that must not return: it records the message and jumps
 * back to the setjmp in encode(). */
typedef struct png_ctx {
    jmp_buf jump;
    char msg[200];
    int nomem; /* an allocation failed (libpng's and zlib's words for it vary) */
} png_ctx;

static void on_error(png_structp png, png_const_charp msg) {
    png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
    longjmp(ctx->jump, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

/* libpng's own allocations go through the library's hook too, so failure injection reaches them. */
static png_voidp on_alloc(png_structp png, png_alloc_size_t size) {
    png_voidp p = cdz_malloc(size);
    if (!p) ((png_ctx *)png_get_mem_ptr(png))->nomem = 1;
    return p;
}

static void on_free(png_structp png, png_voidp ptr) {
    (void)png;
    cdz_free(ptr);
}

/* Encodes the canvas to f; 0 on success, else -1 with ctx->msg set. Nothing here changes a local
 * after setjmp that is read after the jump, so the jump is safe. */
static int encode(FILE *f, const cdz_canvas *c, png_ctx *ctx) {
    png_structp png = png_create_write_struct_2(PNG_LIBPNG_VER_STRING, ctx, on_error, on_warning, ctx, on_alloc, on_free);
    if (!png) {
        snprintf(ctx->msg, sizeof ctx->msg, "out of memory");
        ctx->nomem = 1;
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(ctx->msg, sizeof ctx->msg, "out of memory");
        ctx->nomem = 1;
        return -1;
    }
    if (setjmp(ctx->jump)) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c->width, (png_uint_32)c->height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int32_t y = 0; y < c->height; y++) png_write_row(png, c->pixels + (size_t)y * (size_t)c->width * 3);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* Encodes into memory (open_memstream), then cdz_file_write_atomic writes the bytes to a temporary name
 * beside `path`, fsyncs and renames: an existing picture is never left half-written. */
cdz_status cdz_png_write(const char *path, const cdz_canvas *c, cdz_error *err) {
    if (!c || !c->pixels || c->width < 1 || c->height < 1)
        return cdz_error_set(err, CDZ_ERR_ARG, "%s: nothing to write (empty canvas)", path);
    char *bytes = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&bytes, &len);
    if (!f) return cdz_error_set(err, CDZ_ERR_NOMEM, "%s: out of memory", path);
    png_ctx ctx = {.msg = ""};
    int bad = encode(f, c, &ctx);
    if (fclose(f) != 0 && !bad) bad = 1, ctx.nomem = 1, snprintf(ctx.msg, sizeof ctx.msg, "out of memory");
    cdz_status st = bad ? cdz_error_set(err, ctx.nomem ? CDZ_ERR_NOMEM : CDZ_ERR_IO, "%s: cannot write PNG: %s", path, ctx.msg)
                        : cdz_file_write_atomic(path, bytes, len, err);
    free(bytes); /* open_memstream's buffer comes from libc's malloc */
    return st;
}

/* The simplified read API converts every PNG flavour (palette, gray, 16-bit, alpha) to 8-bit RGB. */
cdz_status cdz_png_read(const char *path, cdz_canvas *c, cdz_error *err) {
    memset(c, 0, sizeof *c);
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path))
        return cdz_error_set(err, CDZ_ERR_FORMAT, "%s: cannot read PNG: %s", path, im.message);
    im.format = PNG_FORMAT_RGB;
    if (im.width < 1 || im.height < 1 || im.width > 32768 || im.height > 32768) {
        png_image_free(&im);
        return cdz_error_set(err, CDZ_ERR_UNSUPPORTED, "%s: %lu x %lu pixels is outside 1 to 32768 a side", path,
                             (unsigned long)im.width, (unsigned long)im.height);
    }
    cdz_status st = cdz_canvas_init(c, (int32_t)im.width, (int32_t)im.height, (cdz_rgb){0, 0, 0}, err);
    if (st != CDZ_OK) {
        png_image_free(&im);
        return st;
    }
    const png_color black = {0, 0, 0};
    if (!png_image_finish_read(&im, &black, c->pixels, 0, NULL)) {
        st = cdz_error_set(err, CDZ_ERR_FORMAT, "%s: cannot decode PNG: %s", path, im.message);
        png_image_free(&im);
        cdz_canvas_free(c);
    }
    return st;
}

#else

int cdz_png_available(void) { return 0; }

static cdz_status no_png(const char *path, cdz_error *err) {
    return cdz_error_set(err, CDZ_ERR_UNSUPPORTED,
                         "%s: PNG support is not built in: install libpng-dev, rebuild cadenza, or write SVG (--svg)",
                         path);
}

cdz_status cdz_png_write(const char *path, const cdz_canvas *c, cdz_error *err) {
    (void)c;
    return no_png(path, err);
}

cdz_status cdz_png_read(const char *path, cdz_canvas *c, cdz_error *err) {
    memset(c, 0, sizeof *c);
    return no_png(path, err);
}

#endif

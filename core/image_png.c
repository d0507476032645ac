#include "image.h"
#include "atomic_file.h"
#include "error.h"
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#define KEY_PARAMETERS "parameters"   /* A1111 infotext */
#define KEY_SCFLOW "scflow"           /* our JSON */

/* libpng reports a failure by calling on_error, which keeps the message for
 * the GError and jumps back to the setjmp of the running read or write. */
typedef struct {
    FILE *fp;
    char msg[256];
} png_io;

static void on_error(png_structp png, png_const_charp msg)
{
    png_io *io = png_get_error_ptr(png);
    g_strlcpy(io->msg, msg, sizeof io->msg);
    png_longjmp(png, 1);
}

/* Warnings are for damage libpng repairs or skips (a bad sRGB profile …);
 * they do not stop a read. */
static void on_warning(png_structp png, png_const_charp msg)
{
}

static void on_read(png_structp png, png_bytep buf, size_t n)
{
    png_io *io = png_get_io_ptr(png);
    if (fread(buf, 1, n, io->fp) != n)
        png_error(png, ferror(io->fp) ? g_strerror(errno) : "the file ends early (truncated)");
}

static void on_write(png_structp png, png_bytep buf, size_t n)
{
    png_io *io = png_get_io_ptr(png);
    if (fwrite(buf, 1, n, io->fp) != n)
        png_error(png, g_strerror(errno));
}

static void on_flush(png_structp png)
{
}

/* ---- reading ----------------------------------------------------------- */

/* Everything a read owns lives here, on the heap, so that after libpng
 * longjmps back nothing depends on locals changed since setjmp. */
typedef struct {
    png_io io;
    png_structp png;
    png_infop info;
    scf_image *img;
    png_bytep *rows;
    png_bytep scratch;
    char *parameters;    /* A1111 text as UTF-8 */
    char *json;          /* scflow chunk */
} png_reader;

/* tEXt and zTXt hold Latin-1 (A1111 writes tEXt whenever the text fits it),
 * iTXt holds UTF-8. */
static char *text_to_utf8(const png_text *t)
{
    if (t->compression == PNG_ITXT_COMPRESSION_NONE || t->compression == PNG_ITXT_COMPRESSION_zTXt)
        return g_utf8_make_valid(t->text, (gssize)t->itxt_length);
    return g_convert(t->text, (gssize)t->text_length, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
}

static void collect_text(png_reader *r)
{
    png_textp text;
    int n = png_get_text(r->png, r->info, &text, NULL);
    for (int i = 0; i < n; i++) {
        char **slot = strcmp(text[i].key, KEY_SCFLOW) == 0 ? &r->json
                      : strcmp(text[i].key, KEY_PARAMETERS) == 0 ? &r->parameters : NULL;
        if (slot) {
            g_free(*slot);
            *slot = text_to_utf8(&text[i]);
        }
    }
}

/* Runs the libpng calls; any failure longjmps to the caller's setjmp. Without
 * want_pixels it stops at the first image data when the settings came before
 * it, and otherwise decodes rows into one scratch row to reach the chunks
 * after the image. */
static void decode(png_reader *r, gboolean want_pixels)
{
    png_structp png = r->png;
    png_infop info = r->info;
    png_set_read_fn(png, &r->io, on_read);
    png_set_sig_bytes(png, 8);
    /* a damaged chunk is an error, so damaged settings are never silently dropped */
    png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
    png_set_user_limits(png, SCF_IMAGE_MAX_SIDE, SCF_IMAGE_MAX_SIDE);
    png_read_info(png, info);
    collect_text(r);
    if (!want_pixels && (r->json || r->parameters))
        return;

    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    if (depth == 16)
        png_set_scale_16(png); /* rounds to nearest, unlike strip_16 */
    if (!(color & PNG_COLOR_MASK_COLOR))
        png_set_gray_to_rgb(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int width = (int)png_get_image_width(png, info);
    int height = (int)png_get_image_height(png, info);
    int channels = png_get_channels(png, info);
    if ((channels != 3 && channels != 4) || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)width * (size_t)channels)
        png_error(png, "unexpected pixel layout after conversion to RGB8");
    if (want_pixels) {
        r->img = scf_image_new(width, height, channels, NULL);
        if (!r->img)
            png_error(png, "out of memory for the pixels");
        r->rows = g_new(png_bytep, height);
        for (int y = 0; y < height; y++)
            r->rows[y] = r->img->data + (size_t)y * (size_t)width * (size_t)channels;
        png_read_image(png, r->rows);
    } else {
        r->scratch = g_malloc(png_get_rowbytes(png, info));
        for (int pass = 0; pass < passes; pass++)
            for (int y = 0; y < height; y++)
                png_read_row(png, r->scratch, NULL);
    }
    png_read_end(png, info);
    collect_text(r);
}

static void reader_free(png_reader *r)
{
    if (r->png)
        png_destroy_read_struct(&r->png, r->info ? &r->info : NULL, NULL);
    if (r->io.fp)
        fclose(r->io.fp);
    scf_image_free(r->img);
    g_free(r->rows);
    g_free(r->scratch);
    g_free(r->parameters);
    g_free(r->json);
    g_free(r);
}

/* Returns the reader with its pixels (when asked) on success, NULL on error. */
static png_reader *read_png(const char *path, gboolean want_pixels, scf_gen_params *params,
                            gboolean *found, GError **error)
{
    if (params)
        scf_gen_params_init(params);
    if (found)
        *found = FALSE;
    png_reader *r = g_new0(png_reader, 1);
    r->io.fp = g_fopen(path, "rb");
    if (!r->io.fp) {
        int e = errno;
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot open %s: %s", path, g_strerror(e));
        goto fail;
    }
    png_byte sig[8];
    if (fread(sig, 1, sizeof sig, r->io.fp) != sizeof sig || png_sig_cmp(sig, 0, sizeof sig)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: not a PNG file", path);
        goto fail;
    }
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r->io, on_error, on_warning);
    r->info = r->png ? png_create_info_struct(r->png) : NULL;
    if (!r->info) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM, "%s: out of memory for the PNG reader", path);
        goto fail;
    }
    if (setjmp(png_jmpbuf(r->png))) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: damaged PNG: %s", path, r->io.msg);
        goto fail;
    }
    decode(r, want_pixels);

    if (found)
        *found = r->json || r->parameters;
    if (params && (r->json || r->parameters)) {
        gboolean ok = r->json ? scf_gen_params_from_json(params, r->json, error)
                              : scf_gen_params_from_infotext(params, r->parameters, error);
        if (!ok) {
            g_prefix_error(error, "%s: ", path);
            goto fail;
        }
    }
    return r;

fail:
    reader_free(r);
    return NULL;
}

scf_image *scf_png_read(const char *path, scf_gen_params *params, gboolean *found,
                        GError **error)
{
    png_reader *r = read_png(path, TRUE, params, found, error);
    if (!r)
        return NULL;
    scf_image *img = r->img;
    r->img = NULL;
    reader_free(r);
    return img;
}

gboolean scf_png_read_params(const char *path, scf_gen_params *params, gboolean *found,
                             GError **error)
{
    png_reader *r = read_png(path, FALSE, params, found, error);
    if (!r)
        return FALSE;
    reader_free(r);
    return TRUE;
}

/* ---- writing ----------------------------------------------------------- */

/* Encodes into io->fp; FALSE with io->msg set on failure. */
static gboolean encode(png_io *io, const scf_image *img, png_text *texts, int ntexts)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, io, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *rows = g_new(png_bytep, img->height);
    for (int y = 0; y < img->height; y++)
        rows[y] = img->data + (size_t)y * (size_t)img->width * (size_t)img->channels;
    gboolean ok = FALSE;
    if (!info)
        g_strlcpy(io->msg, "out of memory for the PNG writer", sizeof io->msg);
    else if (setjmp(png_jmpbuf(png)) == 0) {
        png_set_write_fn(png, io, on_write, on_flush);
        png_set_IHDR(png, info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                     img->channels == 4 ? PNG_COLOR_TYPE_RGB_ALPHA : PNG_COLOR_TYPE_RGB,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        if (ntexts)
            png_set_text(png, info, texts, ntexts); /* written with the header, before the pixels */
        png_write_info(png, info);
        png_write_image(png, rows);
        png_write_end(png, NULL);
        ok = TRUE;
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    g_free(rows);
    return ok;
}

static png_text make_text(const char *key, char *value, int compression)
{
    png_text t = { 0 };
    t.compression = compression;
    t.key = (char *)key;
    t.text = value;
    t.text_length = strlen(value);
    return t;
}

gboolean scf_png_write(const char *path, const scf_image *img, const scf_gen_params *params,
                       GError **error)
{
    if (!scf_image_check(img, error)) {
        g_prefix_error(error, "cannot write %s: ", path);
        return FALSE;
    }
    g_autofree char *infotext = NULL, *latin1 = NULL, *json = NULL;
    png_text texts[2];
    int ntexts = 0;
    if (params) {
        if (!scf_gen_params_check(params, error)) {
            g_prefix_error(error, "cannot write %s: ", path);
            return FALSE;
        }
        infotext = scf_gen_params_to_infotext(params);
        json = scf_gen_params_to_json(params);
        /* Pillow's PngInfo.add_text, as A1111 calls it: tEXt when Latin-1 holds the text */
        latin1 = g_convert(infotext, -1, "ISO-8859-1", "UTF-8", NULL, NULL, NULL);
        texts[ntexts++] = latin1 ? make_text(KEY_PARAMETERS, latin1, PNG_TEXT_COMPRESSION_NONE)
                                 : make_text(KEY_PARAMETERS, infotext, PNG_ITXT_COMPRESSION_NONE);
        texts[ntexts++] = make_text(KEY_SCFLOW, json, PNG_ITXT_COMPRESSION_NONE);
    }

    scf_atomic_file out;
    png_io io = { scf_atomic_file_open(&out, path, error), "" };
    if (!io.fp)
        return FALSE;
    if (!encode(&io, img, texts, ntexts)) {
        scf_atomic_file_abort(&out);
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot write %s: %s", path, io.msg);
        return FALSE;
    }
    return scf_atomic_file_commit(&out, error);
}

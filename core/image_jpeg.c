#include "image_jpeg.h"
#include "error.h"
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <glib/gstdio.h>
#include <jpeglib.h>
#include <jerror.h>

/* libjpeg reports a failure through error_exit, which must not return: keep
 * the message and jump back to the reader. */
typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err;

static void on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    e->mgr.format_message(cinfo, e->msg);
    longjmp(e->jump, 1);
}

/* Warnings about stray bytes are harmless, but a file that ends early would
 * be padded with grey: that one is an error. */
static void on_message(j_common_ptr cinfo, int level)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    if (level < 0 && e->mgr.msg_code == JWRN_JPEG_EOF) {
        g_strlcpy(e->msg, "the file ends early (truncated)", sizeof e->msg);
        longjmp(e->jump, 1);
    }
}

/* Everything the read owns, on the heap, so nothing depends on locals
 * changed between setjmp and longjmp. */
typedef struct {
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    FILE *fp;
    scf_image *img;
} jpeg_reader;

static void decode(jpeg_reader *r)
{
    struct jpeg_decompress_struct *c = &r->cinfo;
    jpeg_stdio_src(c, r->fp);
    jpeg_read_header(c, TRUE);
    if (c->jpeg_color_space == JCS_CMYK || c->jpeg_color_space == JCS_YCCK) {
        g_strlcpy(r->err.msg, "CMYK JPEG is not supported", sizeof r->err.msg);
        longjmp(r->err.jump, 1);
    }
    if (c->image_width > SCF_IMAGE_MAX_SIDE || c->image_height > SCF_IMAGE_MAX_SIDE) {
        g_snprintf(r->err.msg, sizeof r->err.msg, "%ux%u pixels is larger than %d on a side",
                   c->image_width, c->image_height, SCF_IMAGE_MAX_SIDE);
        longjmp(r->err.jump, 1);
    }
    c->out_color_space = JCS_RGB;
    jpeg_start_decompress(c);
    r->img = scf_image_new((int)c->output_width, (int)c->output_height, 3, NULL);
    if (!r->img || c->output_components != 3) {
        g_strlcpy(r->err.msg, r->img ? "unexpected pixel layout" : "out of memory for the pixels",
                  sizeof r->err.msg);
        longjmp(r->err.jump, 1);
    }
    while (c->output_scanline < c->output_height) {
        JSAMPROW row = r->img->data + (size_t)c->output_scanline * c->output_width * 3;
        jpeg_read_scanlines(c, &row, 1);
    }
    jpeg_finish_decompress(c);
}

scf_image *scf_jpeg_read(const char *path, GError **error)
{
    jpeg_reader *r = g_new0(jpeg_reader, 1);
    scf_image *img = NULL;
    r->fp = g_fopen(path, "rb");
    if (!r->fp) {
        int e = errno;
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot open %s: %s", path, g_strerror(e));
        g_free(r);
        return NULL;
    }
    r->cinfo.err = jpeg_std_error(&r->err.mgr);
    r->err.mgr.error_exit = on_error;
    r->err.mgr.emit_message = on_message;
    jpeg_create_decompress(&r->cinfo);
    if (setjmp(r->err.jump) == 0) {
        decode(r);
        img = r->img;
        r->img = NULL;
    } else {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: damaged JPEG: %s", path, r->err.msg);
    }
    jpeg_destroy_decompress(&r->cinfo);
    fclose(r->fp);
    scf_image_free(r->img);
    g_free(r);
    return img;
}

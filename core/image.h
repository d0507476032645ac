/* 8-bit images on the host: what generation produces, what PNG files hold and
 * what the training data loader reads, with the conversions to and from the
 * engine's float CHW tensors and a plain grid tiler for sample sheets.
 *
 * PNG files (image_png.c) carry the generation settings (genparams.h) in two
 * chunks: a `parameters` text chunk in the A1111 style (tEXt when the text is
 * Latin-1, else uncompressed iTXt, as Pillow's PngInfo.add_text does for
 * stable-diffusion-webui) and an iTXt chunk `scflow` with the exact settings
 * as JSON, which wins when both are present. */
#pragma once
#include <stdint.h>
#include <stddef.h>
#include <glib.h>
#include "genparams.h"

G_BEGIN_DECLS

/* Larger sides are refused, so a hostile header cannot ask for gigabytes. */
#define SCF_IMAGE_MAX_SIDE 16384

typedef struct {
    int width, height;
    int channels;          /* 3 = RGB8, 4 = RGBA8 (straight alpha) */
    uint8_t *data;         /* rows top to bottom, height * width * channels bytes */
} scf_image;

/* A zeroed (black, transparent) image; channels 3 or 4. */
scf_image *scf_image_new(int width, int height, int channels, GError **error);
void scf_image_free(scf_image *img);
/* Sides 1..SCF_IMAGE_MAX_SIDE, channels 3 or 4, pixels present. */
gboolean scf_image_check(const scf_image *img, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(scf_image, scf_image_free)

/* From a float CHW image in [-1, 1] (channels 3 or 4): clamped, then
 * round((x + 1) * 127.5); NaN becomes 0. */
scf_image *scf_image_from_chw(const float *chw, int channels, int height, int width,
                              GError **error);
/* Back to CHW floats u / 127.5 - 1 (img->channels planes); exact inverse of
 * from_chw on its output. */
void scf_image_to_chw(const scf_image *img, float *chw);

/* n images of one size and channel count tiled left to right, top to bottom
 * in ceil(n / cols) rows, with pad pixels of colour rgb around and between
 * them; empty cells are filled with the colour (alpha 255 for RGBA). */
scf_image *scf_image_grid(scf_image *const *images, int n, int cols, int pad,
                          const uint8_t rgb[3], GError **error);

/* Writes path atomically (path.tmp-XXXXXX in the same folder, fsync, rename):
 * on failure nothing new is left and an existing file is untouched. params
 * may be NULL for a PNG without settings. */
gboolean scf_png_write(const char *path, const scf_image *img, const scf_gen_params *params,
                       GError **error);

/* Reads any PNG (1-16 bits, grey, palette, alpha, interlaced) as RGB8, or
 * RGBA8 when it has alpha or transparency. When params is not NULL it is
 * initialised (the caller clears it) and filled from the scflow chunk, else
 * the parameters chunk; *found tells whether either was there. Truncated or
 * corrupt files are errors naming the path and the reason. */
scf_image *scf_png_read(const char *path, scf_gen_params *params, gboolean *found,
                        GError **error);

/* Like scf_png_read without decoding the pixels when the settings come
 * before the image data (as every known writer puts them); only the settings
 * are returned. */
gboolean scf_png_read_params(const char *path, scf_gen_params *params, gboolean *found,
                             GError **error);

G_END_DECLS

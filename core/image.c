#include "image.h"
#include "error.h"
#include <math.h>
#include <string.h>

static gboolean check_shape(int width, int height, int channels, GError **error)
{
    if (width < 1 || height < 1 || width > SCF_IMAGE_MAX_SIDE || height > SCF_IMAGE_MAX_SIDE ||
        (channels != 3 && channels != 4)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "image %dx%d with %d channels: sides must be 1..%d and channels 3 or 4",
                    width, height, channels, SCF_IMAGE_MAX_SIDE);
        return FALSE;
    }
    return TRUE;
}

gboolean scf_image_check(const scf_image *img, GError **error)
{
    if (!check_shape(img->width, img->height, img->channels, error))
        return FALSE;
    if (!img->data) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "image %dx%d has no pixels",
                    img->width, img->height);
        return FALSE;
    }
    return TRUE;
}

scf_image *scf_image_new(int width, int height, int channels, GError **error)
{
    if (!check_shape(width, height, channels, error))
        return NULL;
    size_t bytes = (size_t)width * (size_t)height * (size_t)channels;
    uint8_t *data = g_try_malloc0(bytes);
    if (!data) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM, "image %dx%d: cannot allocate %zu bytes",
                    width, height, bytes);
        return NULL;
    }
    scf_image *img = g_new(scf_image, 1);
    *img = (scf_image){ width, height, channels, data };
    return img;
}

void scf_image_free(scf_image *img)
{
    if (!img)
        return;
    g_free(img->data);
    g_free(img);
}

scf_image *scf_image_from_chw(const float *chw, int channels, int height, int width,
                              GError **error)
{
    scf_image *img = scf_image_new(width, height, channels, error);
    if (!img)
        return NULL;
    size_t plane = (size_t)width * (size_t)height;
    for (int c = 0; c < channels; c++)
        for (size_t i = 0; i < plane; i++) {
            /* fmaxf/fminf return the number when the other side is NaN: NaN -> -1 -> 0 */
            float x = fminf(fmaxf(chw[c * plane + i], -1.0f), 1.0f);
            img->data[i * (size_t)channels + (size_t)c] = (uint8_t)floorf((x + 1.0f) * 127.5f + 0.5f);
        }
    return img;
}

void scf_image_to_chw(const scf_image *img, float *chw)
{
    size_t plane = (size_t)img->width * (size_t)img->height;
    for (int c = 0; c < img->channels; c++)
        for (size_t i = 0; i < plane; i++)
            chw[c * plane + i] = img->data[i * (size_t)img->channels + (size_t)c] / 127.5f - 1.0f;
}

scf_image *scf_image_grid(scf_image *const *images, int n, int cols, int pad,
                          const uint8_t rgb[3], GError **error)
{
    if (n < 1 || cols < 1 || pad < 0) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "image grid: %d images in %d columns with padding %d", n, cols, pad);
        return NULL;
    }
    const scf_image *first = images[0];
    for (int i = 1; i < n; i++)
        if (images[i]->width != first->width || images[i]->height != first->height ||
            images[i]->channels != first->channels) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                        "image grid: image %d is %dx%dx%d but image 0 is %dx%dx%d", i,
                        images[i]->width, images[i]->height, images[i]->channels,
                        first->width, first->height, first->channels);
            return NULL;
        }
    int rows = (n + cols - 1) / cols;
    int ch = first->channels;
    /* 64-bit sums: a large grid must fail the size check, not wrap */
    gint64 gw = (gint64)cols * ((gint64)first->width + pad) + pad;
    gint64 gh = (gint64)rows * ((gint64)first->height + pad) + pad;
    scf_image *grid = scf_image_new((int)MIN(gw, G_MAXINT), (int)MIN(gh, G_MAXINT), ch, error);
    if (!grid) {
        g_prefix_error(error, "image grid of %d x %d: ", rows, cols);
        return NULL;
    }
    uint8_t fill[4] = { rgb[0], rgb[1], rgb[2], 255 };
    size_t npix = (size_t)grid->width * (size_t)grid->height;
    for (size_t i = 0; i < npix; i++)
        memcpy(grid->data + i * (size_t)ch, fill, (size_t)ch);
    size_t row_bytes = (size_t)first->width * (size_t)ch;
    for (int i = 0; i < n; i++) {
        size_t x0 = (size_t)(pad + (i % cols) * (first->width + pad));
        size_t y0 = (size_t)(pad + (i / cols) * (first->height + pad));
        for (int y = 0; y < first->height; y++)
            memcpy(grid->data + ((y0 + (size_t)y) * (size_t)grid->width + x0) * (size_t)ch,
                   images[i]->data + (size_t)y * row_bytes, row_bytes);
    }
    return grid;
}

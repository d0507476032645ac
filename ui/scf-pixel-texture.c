#include "scf-pixel-texture.h"
#include <string.h>

GdkTexture *scf_pixel_texture_scale(GdkTexture *texture, int factor)
{
    g_return_val_if_fail(GDK_IS_TEXTURE(texture) && factor >= 1, NULL);
    if (factor == 1)
        return g_object_ref(texture);
    const int w = gdk_texture_get_width(texture), h = gdk_texture_get_height(texture);
    const gsize stride = (gsize)w * 4, big_stride = stride * factor;
    g_autofree guchar *src = g_malloc(stride * h);
    /* GDK_MEMORY_DEFAULT: 4 bytes a pixel, whatever the texture holds. */
    gdk_texture_download(texture, src, stride);
    guchar *dst = g_malloc(big_stride * h * factor);
    for (int y = 0; y < h; y++) {
        guchar *row = dst + (gsize)y * factor * big_stride;
        const guint32 *in = (const guint32 *)(src + y * stride);
        guint32 *out = (guint32 *)row;
        for (int x = 0; x < w; x++)
            for (int k = 0; k < factor; k++)
                *out++ = in[x];
        for (int k = 1; k < factor; k++)
            memcpy(row + k * big_stride, row, big_stride);
    }
    g_autoptr(GBytes) bytes = g_bytes_new_take(dst, big_stride * h * factor);
    return gdk_memory_texture_new(w * factor, h * factor, GDK_MEMORY_DEFAULT, bytes, big_stride);
}

/* Enlarging small images with square pixels. GtkPicture (GTK 4.8) always
 * filters linearly, which turns a 32×32 image into a blur; a texture
 * enlarged here with nearest-neighbour pixels stays sharp when shown at its
 * own size, and nearly so when GtkPicture shrinks it. */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

/* texture with each pixel repeated factor × factor times (factor >= 1). */
GdkTexture *scf_pixel_texture_scale(GdkTexture *texture, int factor);

G_END_DECLS

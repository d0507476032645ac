/* JPEG reading (libjpeg-turbo) for training folders: people keep photos as
 * JPEG. The engine writes PNG only. */
#pragma once
#include <glib.h>
#include "image.h"

G_BEGIN_DECLS

/* Baseline or progressive, colour or grey, as RGB8. CMYK files, truncated
 * files and other damage are errors naming the path and the reason. The
 * EXIF orientation tag is not applied. */
scf_image *scf_jpeg_read(const char *path, GError **error);

G_END_DECLS

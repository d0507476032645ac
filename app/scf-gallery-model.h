/* The images of a gallery as a GListModel of ScfGalleryItem, newest first,
 * for a GtkGridView of thousands of rows: the length is one count query, and
 * items are read in pages of SCF_GALLERY_MODEL_PAGE rows when first asked
 * for and cached, so scrolling anywhere reads only the pages on screen.
 * Runs on the main thread with a gallery handle of its own (gallery.h). */
#pragma once
#include <gio/gio.h>
#include "gallery.h"

G_BEGIN_DECLS

#define SCF_GALLERY_MODEL_PAGE 60

#define SCF_TYPE_GALLERY_MODEL (scf_gallery_model_get_type())
G_DECLARE_FINAL_TYPE(ScfGalleryModel, scf_gallery_model, SCF, GALLERY_MODEL, GObject)

/* Takes gallery, closed with the model. */
ScfGalleryModel *scf_gallery_model_new(scf_gallery *gallery);
scf_gallery *scf_gallery_model_get_gallery(ScfGalleryModel *self);

/* Selects what the model lists (copied; NULL = everything) and reloads. */
gboolean scf_gallery_model_set_filter(ScfGalleryModel *self, const scf_gallery_filter *filter,
                                      GError **error);
/* Forgets the cached pages and counts again: after the gallery changed. */
gboolean scf_gallery_model_reload(ScfGalleryModel *self, GError **error);

G_END_DECLS

/* One image of the gallery as the Gallery view shows it: its settings as
 * read-only construct properties (id, prompt, negative-prompt, seed, steps,
 * guidance, width, height, model, device, created-ms, duration-ms,
 * image-path, thumb-path) and the one the user changes, favourite.
 *
 * The item is also a GdkPaintable that draws its thumbnail, decoded when it
 * is first drawn: GtkGridView (4.8) binds a few hundred items around the
 * ones on screen, and decoding only what is drawn keeps a jump across a
 * gallery of thousands to the cost of what is visible. */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SCF_TYPE_GALLERY_ITEM (scf_gallery_item_get_type())
G_DECLARE_FINAL_TYPE(ScfGalleryItem, scf_gallery_item, SCF, GALLERY_ITEM, GObject)

gint64 scf_gallery_item_get_id(ScfGalleryItem *self);
/* The thumbnail, decoded from thumb-path on the first call; NULL when the
 * file cannot be read. */
GdkTexture *scf_gallery_item_get_thumbnail(ScfGalleryItem *self);

G_END_DECLS

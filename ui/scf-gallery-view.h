/* The Gallery page: a grid of thumbnails of ScfGalleryItem, a search entry
 * (debounced as it is typed; Escape clears it, then leaves it for the
 * grid), filters by model and steps and favourites
 * only, and a pane with the selected image at its own pixels, every setting
 * it was made with, a favourite star, "Use These Settings", Export and
 * Delete, and a banner that offers Undo after a delete.
 *
 * The view only shows and asks; whoever owns the gallery answers:
 *  - "filter-changed": search-text, model-filter (NULL = any), steps-filter
 *    (0 = any) or favourites-only changed;
 *  - "favourite-toggled" (item, gboolean), "use-settings" (item),
 *    "delete" (item), "undo" (gint64 id of the image deleted last),
 *    "export" (item, GFile folder the user chose). */
#pragma once
#include <gtk/gtk.h>
#include "scf-gallery-item.h"

G_BEGIN_DECLS

#define SCF_TYPE_GALLERY_VIEW (scf_gallery_view_get_type())
G_DECLARE_FINAL_TYPE(ScfGalleryView, scf_gallery_view, SCF, GALLERY_VIEW, GtkWidget)

/* The list shown (of ScfGalleryItem), its first item selected. */
void scf_gallery_view_set_items(ScfGalleryView *self, GListModel *items);
/* What the filters offer besides "any": model names and step counts. */
void scf_gallery_view_set_filter_choices(ScfGalleryView *self, const char *const *models,
                                         const int *steps, guint n_steps);
ScfGalleryItem *scf_gallery_view_get_selected(ScfGalleryView *self);

/* Says that the image id was deleted, with Undo, until dismissed. */
void scf_gallery_view_show_deleted(ScfGalleryView *self, gint64 id);
/* A banner with message (an error, a result) until dismissed. */
void scf_gallery_view_show_message(ScfGalleryView *self, const char *message);
void scf_gallery_view_focus_search(ScfGalleryView *self);

G_END_DECLS

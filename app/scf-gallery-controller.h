/* Joins a window's Gallery view to the gallery in the output folder (the
 * one the Generate page writes into): opens it on a worker thread the first
 * time the page is shown, lists it through an ScfGalleryModel, answers the
 * view's search, filters, favourite, delete and undo, export and "use these
 * settings" (the Generate page, filled in), reloads after every generation
 * and provides the window action win.search-gallery. */
#pragma once
#include <gtk/gtk.h>
#include "scf-gallery-view.h"
#include "scf-generate-controller.h"

G_BEGIN_DECLS

#define SCF_TYPE_GALLERY_CONTROLLER (scf_gallery_controller_get_type())
G_DECLARE_FINAL_TYPE(ScfGalleryController, scf_gallery_controller, SCF, GALLERY_CONTROLLER,
                     GObject)

/* Lives as long as window, which must hold view and generate_view, as the
 * window's data. */
ScfGalleryController *scf_gallery_controller_attach(GtkApplicationWindow *window,
                                                    ScfGalleryView *view,
                                                    ScfGenerateView *generate_view,
                                                    ScfGenerateController *generate,
                                                    GSettings *settings);

/* The list shown; NULL until the gallery is open. */
GListModel *scf_gallery_controller_get_items(ScfGalleryController *self);

G_END_DECLS

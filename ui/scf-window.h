/* The main window: a header bar whose view switcher selects one of the pages
 * Generate, Compare, Gallery and Training. The window action "win.page"
 * (string parameter: the page name) switches pages. Escape activates
 * "win.cancel" when the focused widget does not use the key itself. */
#pragma once
#include <gtk/gtk.h>
#include "scf-gallery-view.h"
#include "scf-compare-view.h"
#include "scf-generate-view.h"
#include "scf-training-view.h"

G_BEGIN_DECLS

#define SCF_TYPE_WINDOW (scf_window_get_type())
G_DECLARE_FINAL_TYPE(ScfWindow, scf_window, SCF, WINDOW, GtkApplicationWindow)

ScfWindow *scf_window_new(GtkApplication *application);

/* The view of the Generate page. */
ScfGenerateView *scf_window_get_generate_view(ScfWindow *self);

/* The view of the Gallery page. */
ScfGalleryView *scf_window_get_gallery_view(ScfWindow *self);
/* The view of the Compare page. */
ScfCompareView *scf_window_get_compare_view(ScfWindow *self);
/* The view of the Training page. */
ScfTrainingView *scf_window_get_training_view(ScfWindow *self);

/* Presents the keyboard shortcuts window (scf-shortcuts-window.ui). */
void scf_window_show_shortcuts(ScfWindow *self);

G_END_DECLS

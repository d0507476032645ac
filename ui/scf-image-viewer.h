/* Shows small generated images large, with square pixels: zoom in powers of
 * two or best fit, copy, save as and open the containing folder (from an
 * on-screen toolbar, or Ctrl+plus / minus / 0, Ctrl+Shift+C and Ctrl+S
 * while the focus is in it), a grid of thumbnails to pick from when there are several, a
 * caption, and an error banner. The property "placeholder" is the widget
 * shown while there is no image. Its actions are named viewer.zoom-in,
 * viewer.zoom-out, viewer.zoom-fit, viewer.copy, viewer.save and
 * viewer.open-folder. */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SCF_TYPE_IMAGE_VIEWER (scf_image_viewer_get_type())
G_DECLARE_FINAL_TYPE(ScfImageViewer, scf_image_viewer, SCF, IMAGE_VIEWER, GtkWidget)

/* Shows textures[0..n): textures[i] is stored in files[i] (NULL when not
 * saved; files may be NULL) and captioned captions[i] (may be NULL).
 * description is the images' text alternative (the prompt). */
void scf_image_viewer_show(ScfImageViewer *self, GdkTexture *const *textures,
                           GFile *const *files, const char *const *captions, guint n,
                           const char *description);
/* The image shown, at its own size; NULL while there is none. */
GdkTexture *scf_image_viewer_get_image(ScfImageViewer *self);

/* Makes the keyboard shortcuts work while the focus is anywhere in scope,
 * an ancestor (such as the page the viewer is part of). */
void scf_image_viewer_add_shortcuts(ScfImageViewer *self, GtkWidget *scope);

/* Replaces the caption under the image until the next image is picked. */
void scf_image_viewer_set_caption(ScfImageViewer *self, const char *text);
/* A banner above the image until dismissed or a new image comes. */
void scf_image_viewer_show_error(ScfImageViewer *self, const char *message);

G_END_DECLS

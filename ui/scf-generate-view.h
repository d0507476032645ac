/* The Generate page: the prompt and the settings of a generation, progress,
 * and the images made, with zoom, copy, save and open-folder.
 *
 * The view only shows and asks. Its Generate and Cancel buttons activate the
 * window actions win.generate and win.cancel, which whoever runs the engine
 * provides. Properties hold the settings (prompt, negative-prompt, steps,
 * seed, random-seed, guidance, batch, model, live); the signal "changed"
 * tells that the user edited one of them, and "model-folder-chosen" (GFile)
 * that the user picked a folder of models from the empty state shown while
 * no model is known. Setting a property from code does not emit "changed". */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SCF_TYPE_GENERATE_VIEW (scf_generate_view_get_type())
G_DECLARE_FINAL_TYPE(ScfGenerateView, scf_generate_view, SCF, GENERATE_VIEW, GtkWidget)

/* The models to choose from (ids[i] is what the property "model" holds when
 * names[i] is chosen), with selected chosen; no models shows the empty state. */
void scf_generate_view_set_models(ScfGenerateView *self, const char *const *ids,
                                  const char *const *names, const char *selected);

/* Whether a generation is under way: Cancel replaces Generate. */
void scf_generate_view_set_busy(ScfGenerateView *self, gboolean busy);
/* step of steps done; the property "progress-step" holds step. */
void scf_generate_view_set_progress(ScfGenerateView *self, int step, int steps);

/* Shows the images of a generation from prompt: textures[i] is stored in
 * files[i] (NULL when not saved) and described by captions[i]. Several make
 * a grid of thumbnails to pick from. */
void scf_generate_view_show_images(ScfGenerateView *self, GdkTexture *const *textures,
                                   GFile *const *files, const char *const *captions, guint n,
                                   const char *prompt);
/* The image shown, at its own size; NULL before the first. */
GdkTexture *scf_generate_view_get_image(ScfGenerateView *self);

/* A line under the image (a finished or cancelled run). */
void scf_generate_view_show_status(ScfGenerateView *self, const char *text);
/* A banner at the top of the image area until dismissed. */
void scf_generate_view_show_error(ScfGenerateView *self, const char *message);

G_END_DECLS

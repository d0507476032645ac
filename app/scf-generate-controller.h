/* Joins a window's Generate view to the engine: lists the models, provides
 * the window actions win.generate and win.cancel, turns the view's settings
 * into generation jobs on the job runner, shows their progress and results,
 * and generates as the user types when the model makes an image in one step
 * and the setting live-generation is on.
 *
 * Generated images are written as PNGs with their settings to the setting
 * output-folder (empty: USER_DATA_DIR/scflow-studio/gallery), and the signal
 * "generation-finished" tells that they are there. */
#pragma once
#include <gtk/gtk.h>
#include "scf-generate-view.h"
#include "scf-job-runner.h"

G_BEGIN_DECLS

#define SCF_TYPE_GENERATE_CONTROLLER (scf_generate_controller_get_type())
G_DECLARE_FINAL_TYPE(ScfGenerateController, scf_generate_controller, SCF, GENERATE_CONTROLLER,
                     GObject)

/* Adds the actions to window, which must hold view. The controller lives as
 * long as the window (it is kept as the window's data) and stops its jobs
 * when the window is destroyed. */
ScfGenerateController *scf_generate_controller_attach(GtkApplicationWindow *window,
                                                      ScfGenerateView *view, GSettings *settings,
                                                      ScfJobRunner *runner);

/* The view's id (property "model") of the model named name; NULL when no
 * model of that name is known. */
const char *scf_generate_controller_find_model(ScfGenerateController *self, const char *name);

/* Puts settings on the Generate page and shows it: the model first (a
 * chosen model sets its own default steps and guidance, which these
 * replace), then prompt, negative prompt, a fixed seed, steps and guidance.
 * A model that is not installed is said in the view; the rest still apply. */
void scf_generate_controller_apply_settings(ScfGenerateController *self, const char *prompt,
                                            const char *negative, const char *model,
                                            guint64 seed, int steps, double guidance);

/* Restores the settings stored in a PNG (ours, or written the A1111 way), as
 * dropping it on the window does; FALSE with an error naming the file when it
 * is not a PNG or holds no settings. */
gboolean scf_generate_controller_restore_from_png(ScfGenerateController *self, const char *path,
                                                  GError **error);

/* The folder generated images are written to. */
char *scf_generate_controller_output_folder(GSettings *settings);

G_END_DECLS

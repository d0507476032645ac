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

/* The folder generated images are written to. */
char *scf_generate_controller_output_folder(GSettings *settings);

G_END_DECLS

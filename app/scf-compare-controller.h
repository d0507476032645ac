/* Joins a window's Compare view to the engine: compares the model chosen on
 * the Generate page at the step counts asked for (and a teacher at its own),
 * as a job on the job runner, provides the window actions win.compare and
 * win.compare-cancel, shows the images, their times and the step-consistency
 * figures, and saves the comparison as the PNG `scflow compare` writes. */
#pragma once
#include <gtk/gtk.h>
#include "scf-compare-view.h"
#include "scf-generate-view.h"
#include "scf-job-runner.h"

G_BEGIN_DECLS

#define SCF_TYPE_COMPARE_CONTROLLER (scf_compare_controller_get_type())
G_DECLARE_FINAL_TYPE(ScfCompareController, scf_compare_controller, SCF, COMPARE_CONTROLLER,
                     GObject)

/* Adds the actions to window, which must hold view and generate_view. The
 * controller lives as long as the window (it is kept as the window's data)
 * and stops its job when the window is destroyed. */
ScfCompareController *scf_compare_controller_attach(GtkApplicationWindow *window,
                                                    ScfCompareView *view,
                                                    ScfGenerateView *generate_view,
                                                    GSettings *settings, ScfJobRunner *runner);

/* The comparison shown, or NULL. */
ScfComparison *scf_compare_controller_get_comparison(ScfCompareController *self);

G_END_DECLS

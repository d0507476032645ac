/* Joins a window's Training page to the `scflow train` / `scflow distill`
 * command line tools: builds the command from the view's settings (first
 * `scflow dataset emoji` when the built-in set is chosen and not built yet),
 * runs it as a child process (found next to this program, else on PATH)
 * that outlives the window, stops it with SIGTERM (the tool checkpoints,
 * then exits), resumes stopped runs, and follows the shown run folder once a
 * second off the main thread: metrics.jsonl, the tool's log RUN/studio.log
 * and the newest sample grid. Runs live in USER_DATA_DIR/scflow-studio/runs
 * unless the run folder says otherwise; those found there are listed.
 * The run uses the preferences' device (--device), or with several GPUs
 * chosen on the page, the first N of them (--gpus N); the GPUs are counted
 * once, off the main thread, and the choice is open only when the device is
 * cuda or auto and there are at least two.
 * What keeps a run from starting, or ends it early, is shown in the page's
 * error banner: a folder another process trains in (core/run.h's lock), a
 * tool that fails.
 *
 * Window actions: win.training-start, win.training-stop,
 * win.training-resume, win.training-open (a finished run's model on the
 * Generate page). */
#pragma once
#include <gtk/gtk.h>
#include "scf-training-view.h"

G_BEGIN_DECLS

#define SCF_TYPE_TRAINING_CONTROLLER (scf_training_controller_get_type())
G_DECLARE_FINAL_TYPE(ScfTrainingController, scf_training_controller, SCF, TRAINING_CONTROLLER,
                     GObject)

/* Adds the actions to window, which must hold view; the controller lives as
 * long as the window. */
ScfTrainingController *scf_training_controller_attach(GtkApplicationWindow *window,
                                                      ScfTrainingView *view, GSettings *settings);

/* The command a run of view's settings is: `scflow train|distill ...`, or
 * with resume `--resume` in its run folder; on device ("auto" is left out:
 * it is the tools' default), or, when gpus > 1, data-parallel on the first
 * gpus GPUs (--gpus N instead of --device). The controller passes 1 unless
 * the page's GPUs choice is open. */
GStrv scf_training_controller_argv(ScfTrainingView *view, const char *device, int gpus,
                                   gboolean resume);

/* The folder runs are listed from (and new ones made in). */
char *scf_training_controller_runs_folder(void);
/* Where the built-in emoji set at that size is built (once) when a run asks
 * for it: USER_DATA_DIR/scflow-studio/datasets/emoji-SIZE. */
char *scf_training_controller_builtin_dataset(int image_size);

G_END_DECLS

/* The Training page: what to run (teacher training or SCFlow distillation,
 * its dataset: the built-in emoji set or a folder, config or teacher, run
 * folder and ablation preset, each path typed or picked with a file
 * chooser, and how many GPUs), the exact command line it will run, and how
 * the run goes (progress, loss curves, the latest sample grid, an error
 * banner), beside the runs found on disk.
 *
 * The view only shows and asks. Its buttons activate the window actions
 * win.training-start, win.training-stop, win.training-resume and
 * win.training-open, which the training controller provides and enables.
 * The signal "changed" tells that the user edited a setting (not emitted for
 * changes made from code); "run-selected" (string: the run folder) that the
 * user picked a run in the list. */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SCF_TYPE_TRAINING_VIEW (scf_training_view_get_type())
G_DECLARE_FINAL_TYPE(ScfTrainingView, scf_training_view, SCF, TRAINING_VIEW, GtkWidget)

typedef enum {
    SCF_TRAINING_KIND_TEACHER,
    SCF_TRAINING_KIND_DISTILL,
} ScfTrainingKind;

/* Where the training images come from. */
typedef enum {
    SCF_TRAINING_DATA_BUILTIN,   /* the built-in emoji set (the controller builds it) */
    SCF_TRAINING_DATA_FOLDER,    /* the folder in SCF_TRAINING_FIELD_DATA */
} ScfTrainingDataSource;

/* The path entries of the settings. */
typedef enum {
    SCF_TRAINING_FIELD_DATA,     /* dataset folder */
    SCF_TRAINING_FIELD_CONFIG,   /* model config (teacher) */
    SCF_TRAINING_FIELD_TEACHER,  /* teacher model folder (distill) */
    SCF_TRAINING_FIELD_RUN,      /* run folder */
    SCF_TRAINING_N_FIELDS,
} ScfTrainingField;

ScfTrainingKind scf_training_view_get_kind(ScfTrainingView *self);
void scf_training_view_set_kind(ScfTrainingView *self, ScfTrainingKind kind);
ScfTrainingDataSource scf_training_view_get_data_source(ScfTrainingView *self);
void scf_training_view_set_data_source(ScfTrainingView *self, ScfTrainingDataSource source);
const char *scf_training_view_get_path(ScfTrainingView *self, ScfTrainingField field);
void scf_training_view_set_path(ScfTrainingView *self, ScfTrainingField field, const char *path);
/* The distillation preset: "full", "cd", "cd+trunc", ... */
const char *scf_training_view_get_ablation(ScfTrainingView *self);
void scf_training_view_set_ablation(ScfTrainingView *self, const char *name);

/* The GPUs a run trains on at once (data-parallel): 1 is one device. */
int scf_training_view_get_gpus(ScfTrainingView *self);
void scf_training_view_set_gpus(ScfTrainingView *self, int gpus);
/* At most limit GPUs can be chosen; below 2 the choice is insensitive and
 * shows 1. why, shown beside it and as its tooltip, says what the limit
 * comes from. */
void scf_training_view_set_gpu_limit(ScfTrainingView *self, int limit, const char *why);

/* The command line shown (read-only) under the settings. */
void scf_training_view_set_command(ScfTrainingView *self, const char *text);
const char *scf_training_view_get_command(ScfTrainingView *self);

/* step of total; rate: images/s and ETA as text, NULL for none. */
void scf_training_view_set_progress(ScfTrainingView *self, gint64 step, gint64 total,
                                    const char *rate);
/* A line about the run: started, stopped, finished, failed. */
void scf_training_view_set_status(ScfTrainingView *self, const char *text);
const char *scf_training_view_get_status(ScfTrainingView *self);

/* The curves: points are added to the series of that name (a new name makes
 * a new curve, drawn in its own colour with a legend). */
void scf_training_view_clear_curves(ScfTrainingView *self);
void scf_training_view_add_point(ScfTrainingView *self, const char *series, double step,
                                 double value);
/* Points in all series. */
guint scf_training_view_count_points(ScfTrainingView *self);

/* A banner above the run's progress with message (an error) until the user
 * dismisses it or it is called with NULL. get_error: the message shown, or
 * NULL. */
void scf_training_view_show_error(ScfTrainingView *self, const char *message);
const char *scf_training_view_get_error(ScfTrainingView *self);

/* The latest sample grid; NULL shows none. */
void scf_training_view_set_sample(ScfTrainingView *self, GFile *png);

/* The runs found: dirs[i] is a run folder, described by descriptions[i]. */
void scf_training_view_set_runs(ScfTrainingView *self, const char *const *dirs,
                                const char *const *descriptions, guint n);

G_END_DECLS

/* One comparison as the studio runs it: a prompt and seed sampled by a model
 * at several step counts (and by a teacher at its own), the same noise for
 * every column, with the time per image and the step-consistency figures
 * (mean absolute difference of every pair of columns); saved as the
 * labelled grid `scflow compare` writes. */
#pragma once
#include <gtk/gtk.h>
#include "scflow.h"

G_BEGIN_DECLS

#define SCF_COMPARISON_MAX_STEPS 8

typedef struct {
    char *model_dir;
    char *teacher_dir;       /* NULL: no teacher column */
    char *device;            /* "auto", "cpu", "cuda" */
    scf_precision precision; /* of CUDA's products; the CPU computes in fp32 whatever it says */
    int threads;             /* 0: one per core */
    char *prompt;
    guint64 seed;
    int steps[SCF_COMPARISON_MAX_STEPS];
    int n_steps;             /* columns of the model, 1 to SCF_COMPARISON_MAX_STEPS */
    int teacher_steps;       /* the teacher's steps, when there is one */
} ScfComparisonRequest;

ScfComparisonRequest *scf_comparison_request_copy(const ScfComparisonRequest *r);
void scf_comparison_request_free(ScfComparisonRequest *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScfComparisonRequest, scf_comparison_request_free)

/* Sampling steps the whole comparison takes, the teacher's included. */
int scf_comparison_request_total_steps(const ScfComparisonRequest *r);

typedef struct {
    GdkTexture *texture;     /* RGB, the model's size */
    scf_image *image;
    float *pixels;           /* CHW in [0, 1], what the figures are computed on */
    int steps;
    gboolean teacher;
    double seconds;          /* sampling this image, warm (see scf_comparison_add_column) */
} ScfComparisonColumn;

/* Shared between the main thread and a saving thread: reference counted
 * (scf_comparison_ref / unref), read-only once finished. */
typedef struct {
    GPtrArray *columns;      /* of ScfComparisonColumn, model's first, then the teacher */
    double *mad;             /* mad[i * n + j]: mean absolute difference, 0-1 intensity */
    scf_gen_params params;   /* the model's settings, as `scflow compare` stores them */
} ScfComparison;

ScfComparison *scf_comparison_new(void);
ScfComparison *scf_comparison_ref(ScfComparison *c);
void scf_comparison_unref(ScfComparison *c);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScfComparison, scf_comparison_unref)

/* Samples one column of r with s (a sampler of m on be). warm_up runs one
 * untimed step first, so the time shown is that of an image once the model
 * is ready (as `scflow compare` measures). Engine work: call it on a worker
 * thread. Cancelling through progress gives SCF_ERROR_CANCELLED. */
gboolean scf_comparison_add_column(ScfComparison *c, scf_sampler *s, scf_model *m,
                                   scf_backend *be, const ScfComparisonRequest *r, int steps,
                                   gboolean teacher, gboolean warm_up, scf_progress_fn progress,
                                   gpointer user, GError **error);

/* Computes the figures once every column is in. */
void scf_comparison_finish(ScfComparison *c);

/* Writes the labelled grid, each image enlarged scale times, with the
 * settings. Blocking file work: call it off the main thread. */
gboolean scf_comparison_save(const ScfComparison *c, const char *path, int scale,
                             GError **error);

G_END_DECLS

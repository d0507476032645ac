/* The run folder shared by teacher training and distillation: checkpoints
 * of named buffers written atomically and pruned only after the new one is
 * safely on disk, a JSON-lines metrics log that a resume trims back to the
 * checkpoint, and sample grids. */
#pragma once
#include <glib.h>
#include "backend.h"
#include "model.h"

G_BEGIN_DECLS

typedef struct {
    int64_t step, total;
    double loss, lr, grad_norm;
    double images_per_s;
    double eta_s;
    const char *event;           /* NULL, or "checkpoint", "samples", "done" */
    const char *path;            /* the file the event wrote */
} scf_train_progress;

/* Called after every step; return FALSE to stop (a checkpoint is written first). */
typedef gboolean (*scf_train_progress_fn)(const scf_train_progress *p, gpointer user);

/* A run's schedule and the steps it is made of: scf_run_loop drives
 * teacher training and distillation alike. */
typedef struct {
    const char *run_dir;
    int64_t steps, log_every, sample_every, checkpoint_every;
    int batch_size;
} scf_run_schedule;

typedef struct {
    int64_t (*current_step)(gpointer run);
    /* one optimisation step: advances the step, fills loss, lr, grad_norm */
    gboolean (*step)(gpointer run, scf_train_progress *p, GError **error);
    /* this step's metrics as one JSON object holding "step" (g_free) */
    char *(*metrics)(gpointer run, const scf_train_progress *p);
    gboolean (*samples)(gpointer run, char **path, GError **error);
    gboolean (*checkpoint)(gpointer run, GError **error);
    /* after the last step: export the model */
    gboolean (*finish)(gpointer run, GError **error);
} scf_run_ops;

/* Steps until the schedule's end (or max_steps more when > 0): metrics,
 * samples and checkpoints on schedule, progress after every step; when
 * progress returns FALSE a checkpoint is written and SCF_ERROR_CANCELLED
 * returned. */
gboolean scf_run_loop(const scf_run_schedule *s, const scf_run_ops *ops, gpointer run,
                      int64_t max_steps, scf_train_progress_fn progress, gpointer user,
                      GError **error);

typedef struct {
    const char *name;       /* tensor name in the checkpoint */
    float *data;            /* device memory */
    size_t n;               /* floats */
} scf_run_buffer;

/* RUN/checkpoints/step-00001234.safetensors */
char *scf_run_checkpoint_path(const char *run_dir, int64_t step);
/* RUN/samples and RUN/checkpoints, made where missing: for a new run, and
 * again before a run writes into them (they may have been deleted while it
 * ran, to free space, say). */
gboolean scf_run_make_folders(const char *run_dir, GError **error);
/* Removes them where empty (a new run that did not start). */
void scf_run_remove_empty_folders(const char *run_dir);
/* Steps of the checkpoints present, newest first. */
GArray *scf_run_list_checkpoints(const char *run_dir);

/* Writes every buffer at step (metadata: format = kind, step), then removes
 * all but the newest keep checkpoints. */
gboolean scf_run_save_checkpoint(const char *run_dir, const char *kind, int64_t step,
                                 scf_backend *be, const scf_run_buffer *bufs, int n, int keep,
                                 GError **error);
/* Loads the newest readable checkpoint of kind into the buffers and returns
 * its step in *step (0 and TRUE when there is none yet). An unreadable newer
 * one is skipped with a warning naming it and why. */
gboolean scf_run_load_latest(const char *run_dir, const char *kind, scf_backend *be,
                             const scf_run_buffer *bufs, int n, int64_t *step, GError **error);

/* One process trains in a run folder at a time. The lock is RUN/run.lock
 * held with flock(2) for as long as the run lives: the kernel drops it when
 * the holder ends however it ends (exit, crash, SIGKILL), so a lock is never
 * left stale and nothing has to clean up after a crash. The file holds the
 * holder's pid so that a refusal can say who holds it. */
#define SCF_RUN_LOCK_FILE "run.lock"
typedef struct scf_run_lock scf_run_lock;

/* Takes the lock of run_dir, which must exist. A folder locked by another
 * process, or by another scf_run_lock of this one, is an SCF_ERROR_IO error
 * whose message names the folder and the holder's pid. Never blocks. */
scf_run_lock *scf_run_lock_acquire(const char *run_dir, GError **error);
/* Releases the lock (NULL is allowed). */
void scf_run_lock_release(scf_run_lock *lock);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(scf_run_lock, scf_run_lock_release)

/* Appends one line to RUN/metrics.jsonl (the object must hold "step"). */
gboolean scf_run_append_metrics(const char *run_dir, const char *json_line, GError **error);
/* Keeps only metrics lines of steps <= step. */
gboolean scf_run_trim_metrics(const char *run_dir, int64_t step, GError **error);

/* Writes text to path atomically. */
gboolean scf_run_write_file(const char *path, const char *text, GError **error);

/* Samples one image per prompt (seed i for prompt i) with m at steps and
 * guidance, and writes them as a grid PNG at path. */
gboolean scf_run_sample_grid(scf_model *m, const char *const *prompts, int n, int steps,
                             float guidance, const char *path, GError **error);

G_END_DECLS

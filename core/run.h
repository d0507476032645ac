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
    const char *name;       /* tensor name in the checkpoint */
    float *data;            /* device memory */
    size_t n;               /* floats */
} scf_run_buffer;

/* RUN/checkpoints/step-00001234.safetensors */
char *scf_run_checkpoint_path(const char *run_dir, int64_t step);
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

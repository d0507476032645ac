/* Runs engine work on one worker thread, so that the main thread never does:
 * loading a model (the last one is kept loaded for the next job) and
 * sampling, for a generation or a comparison. Jobs run one at a time in the order given; each can be cancelled
 * through its GCancellable and then stops within one sampling step. Progress
 * and results come back on the main context of the thread that started the
 * job, which must be the thread that owns it. */
#pragma once
#include <gio/gio.h>
#include "scf-comparison.h"
#include "scf-generation.h"

G_BEGIN_DECLS

#define SCF_TYPE_JOB_RUNNER (scf_job_runner_get_type())
G_DECLARE_FINAL_TYPE(ScfJobRunner, scf_job_runner, SCF, JOB_RUNNER, GObject)

/* Called on the main context after a step. Reports of one job are merged
 * when they come faster than the main loop takes them, and none comes after
 * the job is cancelled or finished. */
typedef void (*ScfJobProgressFunc)(int step, int steps, gpointer user_data);

ScfJobRunner *scf_job_runner_new(void);

/* Queues a generation. When supersede is not NULL, the jobs queued or
 * running that were given the same supersede tag are cancelled first
 * (generate-as-you-type wants only the newest of its own jobs).
 * progress_data is released with progress_destroy on the main context. */
void scf_job_runner_generate_async(ScfJobRunner *self, const ScfGenerationRequest *request,
                                   gconstpointer supersede, GCancellable *cancellable,
                                   ScfJobProgressFunc progress, gpointer progress_data,
                                   GDestroyNotify progress_destroy,
                                   GAsyncReadyCallback callback, gpointer user_data);

/* The generation, or NULL with the engine's error (a cancelled job gives
 * G_IO_ERROR_CANCELLED). steps_done, when not NULL, gets the number of
 * sampling steps the job completed, cancelled or not. */
ScfGeneration *scf_job_runner_generate_finish(ScfJobRunner *self, GAsyncResult *result,
                                              int *steps_done, GError **error);

/* Queues a comparison; progress counts the steps of all its columns. */
void scf_job_runner_compare_async(ScfJobRunner *self, const ScfComparisonRequest *request,
                                  GCancellable *cancellable, ScfJobProgressFunc progress,
                                  gpointer progress_data, GDestroyNotify progress_destroy,
                                  GAsyncReadyCallback callback, gpointer user_data);

/* The comparison, or NULL as for scf_job_runner_generate_finish. */
ScfComparison *scf_job_runner_compare_finish(ScfJobRunner *self, GAsyncResult *result,
                                             int *steps_done, GError **error);

/* Cancels every job and waits for the worker to end (at most the step or
 * model load under way); later jobs fail at once. Finalizing does it too. */
void scf_job_runner_shutdown(ScfJobRunner *self);

G_END_DECLS

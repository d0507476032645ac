#include "scf-job-runner.h"
#include <glib/gstdio.h>
#include <string.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* The engine's threads run at this nice value, so that the main thread gets
 * a core at once when it wakes, however busy they keep the machine: on two
 * cores with other work running, the longest main-loop stall measured while
 * sampling went from 65-100 ms at 0 to about 40 ms at 10 (tests/
 * test-ui-generate.c). An otherwise idle machine still gives the engine all
 * its cores. */
#define ENGINE_NICE 10

/* The engine state kept between jobs; touched by the worker thread only. */
typedef struct {
    char *model_dir, *device;
    int threads;
    scf_precision precision;
    gint64 weights_mtime;    /* a model trained again in place is loaded again */
    scf_backend *be;
    scf_model *model;
    scf_sampler *sampler;
} ScfEngine;

/* A job's task data. Freed with its GTask, on the main context: the worker
 * hands its reference back there (see scf_job_runner_release). A job is a
 * generation or a comparison: one of request and compare is set. */
typedef struct {
    ScfGenerationRequest *request;
    ScfComparisonRequest *compare;
    int total_steps;         /* of every sampling run of the job */
    int step_base;           /* worker: steps of the comparison's columns done */
    ScfJobProgressFunc progress;
    gpointer progress_data;
    GDestroyNotify progress_destroy;
    gconstpointer tag;       /* supersede tag, or NULL */
    int step;                /* atomic: steps completed, of total_steps */
    int progress_pending;    /* atomic: a report is queued on the main context */
} ScfJob;

struct _ScfJobRunner {
    GObject parent_instance;
    GThread *worker;
    GAsyncQueue *queue;      /* GTask, or &stop_marker */
    GMutex lock;
    GPtrArray *jobs;         /* GTask queued or running, not owned; under lock */
    gboolean stopped;        /* main thread only */
    ScfEngine engine;        /* worker only */
};

G_DEFINE_FINAL_TYPE(ScfJobRunner, scf_job_runner, G_TYPE_OBJECT)

static char stop_marker;

static void scf_engine_clear(ScfEngine *e)
{
    scf_sampler_free(e->sampler);
    scf_model_free(e->model);
    if (e->be)
        scf_backend_free(e->be);
    g_free(e->model_dir);
    g_free(e->device);
    *e = (ScfEngine){ 0 };
}

static gint64 scf_engine_weights_mtime(const char *model_dir)
{
    g_autofree char *path = g_build_filename(model_dir, SCF_MODEL_WEIGHTS, NULL);
    GStatBuf st;
    return g_stat(path, &st) == 0 ? (gint64)st.st_mtime : -1;
}

/* Loads model_dir unless it is the model loaded already. The precision is
 * CUDA's: a device asked for as "cpu" computes in fp32 (which is all it can)
 * instead of refusing, and "auto" without a GPU falls back the same way
 * (scf_device_open_precision). */
static gboolean scf_engine_ensure(ScfEngine *e, const char *model_dir, const char *device,
                                  int threads, scf_precision precision, GError **error)
{
    if (!model_dir) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "generation request: no model chosen");
        return FALSE;
    }
    device = device ? device : "auto";
    if (strcmp(device, "cpu") == 0)
        precision = SCF_PRECISION_FP32;
    gint64 mtime = scf_engine_weights_mtime(model_dir);
    if (e->sampler && strcmp(e->model_dir, model_dir) == 0 && strcmp(e->device, device) == 0 &&
        e->threads == threads && e->precision == precision && e->weights_mtime == mtime)
        return TRUE;
    scf_engine_clear(e);
    e->be = scf_device_open_precision(device, precision, threads, NULL, error);
    if (e->be)
        e->model = scf_model_load(model_dir, e->be, FALSE, error);
    if (!e->model) {
        scf_engine_clear(e);
        return FALSE;
    }
    e->sampler = scf_sampler_new(e->model);
    e->model_dir = g_strdup(model_dir);
    e->device = g_strdup(device);
    e->threads = threads;
    e->precision = precision;
    e->weights_mtime = mtime;
    return TRUE;
}

static void scf_job_free(gpointer data)
{
    ScfJob *job = data;
    scf_generation_request_free(job->request);
    scf_comparison_request_free(job->compare);
    if (job->progress_destroy)
        job->progress_destroy(job->progress_data);
    g_free(job);
}

/* Main context: hands the newest step to the job's progress function. */
static gboolean scf_job_runner_report(gpointer data)
{
    GTask *task = data;
    ScfJob *job = g_task_get_task_data(task);
    /* Cleared before reading the step, so a step finished from here on
     * queues a report of its own. */
    g_atomic_int_set(&job->progress_pending, FALSE);
    int step = g_atomic_int_get(&job->step);
    if (!g_task_get_completed(task) && !g_cancellable_is_cancelled(g_task_get_cancellable(task)))
        job->progress(step, job->total_steps, job->progress_data);
    return G_SOURCE_REMOVE;
}

/* Worker: the sampler's per-step callback. One report at a time is queued,
 * so a fast model cannot flood the main loop. */
static gboolean scf_job_runner_step(int step, int steps, gpointer user)
{
    GTask *task = user;
    ScfJob *job = g_task_get_task_data(task);
    g_atomic_int_set(&job->step, job->step_base + step);
    if (job->progress && g_atomic_int_compare_and_exchange(&job->progress_pending, FALSE, TRUE))
        g_main_context_invoke_full(g_task_get_context(task), G_PRIORITY_DEFAULT,
                                   scf_job_runner_report, g_object_ref(task), g_object_unref);
    return !g_cancellable_is_cancelled(g_task_get_cancellable(task));
}

static gboolean scf_job_runner_release(gpointer task)
{
    return G_SOURCE_REMOVE;
}

/* Loads model_dir for the job unless it is cancelled. */
static gboolean scf_job_runner_load(ScfJobRunner *self, GTask *task, const char *model_dir,
                                    const char *device, int threads, scf_precision precision,
                                    GError **error)
{
    GCancellable *cancellable = g_task_get_cancellable(task);
    return !g_cancellable_set_error_if_cancelled(cancellable, error) &&
           scf_engine_ensure(&self->engine, model_dir, device, threads, precision, error) &&
           !g_cancellable_set_error_if_cancelled(cancellable, error);
}

static ScfGeneration *scf_job_runner_run_generation(ScfJobRunner *self, GTask *task,
                                                    GError **error)
{
    ScfJob *job = g_task_get_task_data(task);
    const ScfGenerationRequest *r = job->request;
    if (!scf_job_runner_load(self, task, r->model_dir, r->device, r->threads, r->precision,
                             error))
        return NULL;
    return scf_generation_run(self->engine.sampler, self->engine.model, self->engine.be, r,
                              scf_job_runner_step, task, error);
}

/* The model's columns, then the teacher's: with one model kept loaded, the
 * model is loaded once and the teacher once. */
static ScfComparison *scf_job_runner_run_comparison(ScfJobRunner *self, GTask *task,
                                                    GError **error)
{
    ScfJob *job = g_task_get_task_data(task);
    const ScfComparisonRequest *r = job->compare;
    g_autoptr(ScfComparison) c = scf_comparison_new();
    int n = r->n_steps + (r->teacher_dir ? 1 : 0);
    for (int i = 0; i < n; i++) {
        gboolean teacher = i >= r->n_steps;
        int steps = teacher ? r->teacher_steps : r->steps[i];
        if (!scf_job_runner_load(self, task, teacher ? r->teacher_dir : r->model_dir, r->device,
                                 r->threads, r->precision, error))
            return NULL;
        /* A sampler's first run with a prompt is slower than the next: the
         * first column of each model warms it up. */
        if (!scf_comparison_add_column(c, self->engine.sampler, self->engine.model,
                                       self->engine.be, r, steps, teacher, i == 0 || teacher,
                                       scf_job_runner_step, task, error))
            return NULL;
        job->step_base += steps;
    }
    scf_comparison_finish(c);
    return g_steal_pointer(&c);
}

static void scf_job_runner_run(ScfJobRunner *self, GTask *task)
{
    ScfJob *job = g_task_get_task_data(task);
    GError *error = NULL;
    gpointer result = job->compare ? (gpointer)scf_job_runner_run_comparison(self, task, &error)
                                   : (gpointer)scf_job_runner_run_generation(self, task, &error);
    /* One cancellation error for callers, whichever layer saw it. */
    if (error && error->domain == SCF_ERROR && error->code == SCF_ERROR_CANCELLED) {
        error->domain = G_IO_ERROR;
        error->code = G_IO_ERROR_CANCELLED;
    }

    g_mutex_lock(&self->lock);
    g_ptr_array_remove_fast(self->jobs, task);
    g_mutex_unlock(&self->lock);

    /* Queued after the job's last progress report, so it comes after it. */
    if (result)
        g_task_return_pointer(task, result,
                              job->compare ? (GDestroyNotify)scf_comparison_unref
                                           : (GDestroyNotify)scf_generation_free);
    else
        g_task_return_error(task, error);
    /* The last reference may be this one: dropping it on the main context
     * frees the job, and the caller's progress data, there. */
    g_main_context_invoke_full(g_task_get_context(task), G_PRIORITY_DEFAULT,
                               scf_job_runner_release, task, g_object_unref);
}

/* On Linux a nice value belongs to a thread, and the threads OpenMP (and
 * OpenBLAS through it) starts from this one inherit it. Elsewhere the
 * engine keeps the process's priority. */
static void scf_job_runner_lower_priority(void)
{
#ifdef __linux__
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), ENGINE_NICE);
#endif
}

static gpointer scf_job_runner_work(gpointer data)
{
    ScfJobRunner *self = data;
    scf_job_runner_lower_priority();
    for (gpointer item; (item = g_async_queue_pop(self->queue)) != &stop_marker;)
        scf_job_runner_run(self, item);
    scf_engine_clear(&self->engine);
    return NULL;
}

/* Cancels the jobs with tag (all of them for NULL), outside the lock:
 * cancelling runs the cancellable's handlers. */
static void scf_job_runner_cancel(ScfJobRunner *self, gconstpointer tag)
{
    g_autoptr(GPtrArray) cancellables = g_ptr_array_new_with_free_func(g_object_unref);
    g_mutex_lock(&self->lock);
    for (guint i = 0; i < self->jobs->len; i++) {
        GTask *task = self->jobs->pdata[i];
        const ScfJob *job = g_task_get_task_data(task);
        if (!tag || job->tag == tag)
            g_ptr_array_add(cancellables, g_object_ref(g_task_get_cancellable(task)));
    }
    g_mutex_unlock(&self->lock);
    for (guint i = 0; i < cancellables->len; i++)
        g_cancellable_cancel(cancellables->pdata[i]);
}

/* Queues job (taken) as a task tagged source_tag. */
static void scf_job_runner_queue(ScfJobRunner *self, ScfJob *job, gpointer source_tag,
                                 gconstpointer supersede, GCancellable *cancellable,
                                 ScfJobProgressFunc progress, gpointer progress_data,
                                 GDestroyNotify progress_destroy,
                                 GAsyncReadyCallback callback, gpointer user_data)
{
    /* Every job needs a cancellable: superseding and shutting down use it. */
    g_autoptr(GCancellable) own = cancellable ? NULL : g_cancellable_new();
    GTask *task = g_task_new(self, cancellable ? cancellable : own, callback, user_data);
    g_task_set_source_tag(task, source_tag);
    job->progress = progress;
    job->progress_data = progress_data;
    job->progress_destroy = progress_destroy;
    job->tag = supersede;
    g_task_set_task_data(task, job, scf_job_free);

    if (self->stopped) {
        g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CLOSED,
                                "the engine has stopped: the application is closing");
        g_object_unref(task);
        return;
    }
    if (supersede)
        scf_job_runner_cancel(self, supersede);
    g_mutex_lock(&self->lock);
    g_ptr_array_add(self->jobs, task);
    g_mutex_unlock(&self->lock);
    g_async_queue_push(self->queue, task);
}

void scf_job_runner_generate_async(ScfJobRunner *self, const ScfGenerationRequest *request,
                                   gconstpointer supersede, GCancellable *cancellable,
                                   ScfJobProgressFunc progress, gpointer progress_data,
                                   GDestroyNotify progress_destroy,
                                   GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(SCF_IS_JOB_RUNNER(self));
    ScfJob *job = g_new0(ScfJob, 1);
    job->request = scf_generation_request_copy(request);
    job->total_steps = request->steps;
    scf_job_runner_queue(self, job, scf_job_runner_generate_async, supersede, cancellable,
                         progress, progress_data, progress_destroy, callback, user_data);
}

void scf_job_runner_compare_async(ScfJobRunner *self, const ScfComparisonRequest *request,
                                  GCancellable *cancellable, ScfJobProgressFunc progress,
                                  gpointer progress_data, GDestroyNotify progress_destroy,
                                  GAsyncReadyCallback callback, gpointer user_data)
{
    g_return_if_fail(SCF_IS_JOB_RUNNER(self));
    ScfJob *job = g_new0(ScfJob, 1);
    job->compare = scf_comparison_request_copy(request);
    job->total_steps = scf_comparison_request_total_steps(request);
    scf_job_runner_queue(self, job, scf_job_runner_compare_async, NULL, cancellable, progress,
                         progress_data, progress_destroy, callback, user_data);
}

static gpointer scf_job_runner_finish(ScfJobRunner *self, GAsyncResult *result, gpointer tag,
                                      int *steps_done, GError **error)
{
    g_return_val_if_fail(g_task_is_valid(result, self), NULL);
    g_return_val_if_fail(g_task_get_source_tag(G_TASK(result)) == tag, NULL);
    ScfJob *job = g_task_get_task_data(G_TASK(result));
    if (steps_done)
        *steps_done = g_atomic_int_get(&job->step);
    return g_task_propagate_pointer(G_TASK(result), error);
}

ScfGeneration *scf_job_runner_generate_finish(ScfJobRunner *self, GAsyncResult *result,
                                              int *steps_done, GError **error)
{
    return scf_job_runner_finish(self, result, scf_job_runner_generate_async, steps_done, error);
}

ScfComparison *scf_job_runner_compare_finish(ScfJobRunner *self, GAsyncResult *result,
                                             int *steps_done, GError **error)
{
    return scf_job_runner_finish(self, result, scf_job_runner_compare_async, steps_done, error);
}

void scf_job_runner_shutdown(ScfJobRunner *self)
{
    if (self->stopped)
        return;
    self->stopped = TRUE;
    scf_job_runner_cancel(self, NULL);
    g_async_queue_push(self->queue, &stop_marker);
    g_thread_join(self->worker);
    self->worker = NULL;
}

static void scf_job_runner_finalize(GObject *object)
{
    ScfJobRunner *self = SCF_JOB_RUNNER(object);
    /* Tasks hold the runner, so none is left once it is finalized. */
    scf_job_runner_shutdown(self);
    g_async_queue_unref(self->queue);
    g_ptr_array_unref(self->jobs);
    g_mutex_clear(&self->lock);
    G_OBJECT_CLASS(scf_job_runner_parent_class)->finalize(object);
}

static void scf_job_runner_class_init(ScfJobRunnerClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = scf_job_runner_finalize;
}

static void scf_job_runner_init(ScfJobRunner *self)
{
    g_mutex_init(&self->lock);
    self->jobs = g_ptr_array_new();
    self->queue = g_async_queue_new();
    self->worker = g_thread_new("scf-engine", scf_job_runner_work, self);
}

ScfJobRunner *scf_job_runner_new(void)
{
    return g_object_new(SCF_TYPE_JOB_RUNNER, NULL);
}

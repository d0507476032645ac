#include "scf-compare-controller.h"
#include "model-catalog.h"
#include <glib/gi18n.h>
#include <string.h>

/* Each image of a saved comparison is enlarged this many times, as `scflow
 * compare` does by default. */
#define SAVE_SCALE 4

struct _ScfCompareController {
    GObject parent_instance;
    GtkApplicationWindow *window;   /* not owned: it owns the controller */
    ScfCompareView *view;
    ScfGenerateView *generate_view;
    GSettings *settings;
    ScfJobRunner *runner;
    GSimpleAction *compare_action, *cancel_action;
    GPtrArray *models;              /* scf_model_entry, the catalog */
    GCancellable *scan;
    GCancellable *job;              /* the comparison under way; NULL when idle */
    int job_steps;
    ScfComparison *shown;
    char *listed_model;             /* the model the teacher list was last made for */
    char *followed_prompt;          /* the Generate page's prompt last copied here */
    gboolean closed;
};

G_DEFINE_FINAL_TYPE(ScfCompareController, scf_compare_controller, G_TYPE_OBJECT)

static const scf_model_entry *scf_compare_controller_find(ScfCompareController *self,
                                                          const char *dir)
{
    for (guint i = 0; dir && self->models && i < self->models->len; i++) {
        const scf_model_entry *e = self->models->pdata[i];
        if (strcmp(e->dir, dir) == 0)
            return e;
    }
    return NULL;
}

/* The model compared is the one chosen on the Generate page. */
static const scf_model_entry *scf_compare_controller_model(ScfCompareController *self)
{
    g_autofree char *dir = NULL;
    g_object_get(self->generate_view, "model", &dir, NULL);
    return scf_compare_controller_find(self, dir);
}

static void scf_compare_controller_update(ScfCompareController *self)
{
    g_simple_action_set_enabled(self->compare_action,
                                !self->closed && !self->job &&
                                    scf_compare_controller_model(self) != NULL);
    g_simple_action_set_enabled(self->cancel_action,
                                self->job && !g_cancellable_is_cancelled(self->job));
}

/* ---- the models ---- */

static void scf_compare_controller_show_models(ScfCompareController *self)
{
    const scf_model_entry *model = scf_compare_controller_model(self);
    g_autoptr(GPtrArray) ids = g_ptr_array_new();
    g_autoptr(GPtrArray) names = g_ptr_array_new();
    for (guint i = 0; self->models && i < self->models->len; i++) {
        const scf_model_entry *e = self->models->pdata[i];
        if (e->teacher) {
            g_ptr_array_add(ids, e->dir);
            g_ptr_array_add(names, e->name);
        }
    }
    g_ptr_array_add(ids, NULL);
    g_ptr_array_add(names, NULL);
    scf_compare_view_set_models(self->view, model ? model->name : NULL,
                                (const char *const *)ids->pdata,
                                (const char *const *)names->pdata);
    /* A student newly chosen on the Generate page starts beside the teacher
     * it was distilled from, when that is listed (the embedded student and
     * teacher); the user's choice stands until the model changes. */
    if (model && g_strcmp0(model->dir, self->listed_model) != 0) {
        g_free(self->listed_model);
        self->listed_model = g_strdup(model->dir);
        for (guint i = 0; model->teacher_name && i < self->models->len; i++) {
            const scf_model_entry *e = self->models->pdata[i];
            if (e->teacher && g_strcmp0(e->name, model->teacher_name) == 0) {
                g_object_set(self->view, "teacher", e->dir, NULL);
                break;
            }
        }
    }
    scf_compare_controller_update(self);
}

static void scf_compare_controller_scan_thread(GTask *task, gpointer source, gpointer folder,
                                               GCancellable *cancellable)
{
    g_task_return_pointer(task, scf_model_catalog_scan(folder), (GDestroyNotify)g_ptr_array_unref);
}

static void scf_compare_controller_scanned(GObject *source, GAsyncResult *result, gpointer data)
{
    ScfCompareController *self = SCF_COMPARE_CONTROLLER(source);
    GPtrArray *models = g_task_propagate_pointer(G_TASK(result), NULL);
    if (!models)
        return; /* a newer scan replaced this one */
    g_clear_pointer(&self->models, g_ptr_array_unref);
    self->models = models;
    scf_compare_controller_show_models(self);
}

static void scf_compare_controller_rescan(ScfCompareController *self)
{
    if (self->scan)
        g_cancellable_cancel(self->scan);
    g_clear_object(&self->scan);
    self->scan = g_cancellable_new();
    g_autofree char *setting = g_settings_get_string(self->settings, "models-folder");
    g_autoptr(GTask) task = g_task_new(self, self->scan, scf_compare_controller_scanned, NULL);
    g_task_set_task_data(task, scf_model_catalog_folder(setting), g_free);
    g_task_run_in_thread(task, scf_compare_controller_scan_thread);
}

/* The page offers the Generate page's prompt, so that comparing what was just
 * generated takes no typing: it follows that prompt for as long as the user
 * has not typed another here (or has emptied it). */
static void scf_compare_controller_generate_prompt_changed(ScfCompareController *self)
{
    g_autofree char *generate = NULL, *here = NULL;
    g_object_get(self->generate_view, "prompt", &generate, NULL);
    g_object_get(self->view, "prompt", &here, NULL);
    if (here && *here && g_strcmp0(here, self->followed_prompt) != 0)
        return;
    g_object_set(self->view, "prompt", generate, NULL);
    g_free(self->followed_prompt);
    self->followed_prompt = g_steal_pointer(&generate);
}

/* A model the catalog read before it was added is found by reading it again. */
static void scf_compare_controller_generate_model_changed(ScfCompareController *self)
{
    g_autofree char *dir = NULL;
    g_object_get(self->generate_view, "model", &dir, NULL);
    if (dir && self->models && !scf_compare_controller_find(self, dir))
        scf_compare_controller_rescan(self);
    else
        scf_compare_controller_show_models(self);
}

/* A teacher chosen starts at the step count it was made for. */
static void scf_compare_controller_teacher_changed(ScfCompareController *self)
{
    g_autofree char *dir = NULL;
    g_object_get(self->view, "teacher", &dir, NULL);
    const scf_model_entry *teacher = scf_compare_controller_find(self, dir);
    if (teacher)
        g_object_set(self->view, "teacher-steps", teacher->default_steps, NULL);
}

/* ---- comparing ---- */

static char *scf_compare_controller_column_name(const ScfComparisonColumn *column)
{
    g_autofree char *steps = g_strdup_printf(ngettext("%d step", "%d steps", column->steps),
                                             column->steps);
    /* TRANSLATORS: "teacher, 32 steps" */
    return column->teacher ? g_strdup_printf(_("teacher, %s"), steps) : g_steal_pointer(&steps);
}

static void scf_compare_controller_show(ScfCompareController *self, ScfComparison *c)
{
    guint n = c->columns->len;
    g_autofree GdkTexture **textures = g_new0(GdkTexture *, n);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GStrvBuilder) times = g_strv_builder_new();
    for (guint i = 0; i < n; i++) {
        const ScfComparisonColumn *column = c->columns->pdata[i];
        textures[i] = column->texture;
        g_ptr_array_add(names, scf_compare_controller_column_name(column));
        g_autofree char *time = g_strdup_printf(_("%.0f ms per image"), column->seconds * 1000);
        g_strv_builder_add(times, time);
    }
    g_autoptr(GStrvBuilder) figures = g_strv_builder_new();
    for (guint i = 0; i < n; i++)
        for (guint j = i + 1; j < n; j++) {
            /* TRANSLATORS: "1 step vs 4 steps: 0.012" */
            g_autofree char *line = g_strdup_printf(_("%s vs %s: %.3f"), (char *)names->pdata[i],
                                                    (char *)names->pdata[j], c->mad[i * n + j]);
            g_strv_builder_add(figures, line);
        }
    g_ptr_array_add(names, NULL);
    g_auto(GStrv) time_strv = g_strv_builder_end(times);
    g_auto(GStrv) figure_strv = g_strv_builder_end(figures);
    scf_compare_view_show_results(self->view, textures, (const char *const *)names->pdata,
                                  (const char *const *)time_strv, n,
                                  (const char *const *)figure_strv, c->params.prompt);
    if (self->shown)
        scf_comparison_unref(self->shown);
    self->shown = scf_comparison_ref(c);
}

static void scf_compare_controller_progress(int step, int steps, gpointer data)
{
    ScfCompareController *self = data;
    if (!self->closed)
        scf_compare_view_set_progress(self->view, step, steps);
}

static void scf_compare_controller_compared(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(ScfCompareController) self = data;
    int done = 0;
    g_autoptr(GError) error = NULL;
    g_autoptr(ScfComparison) c =
        scf_job_runner_compare_finish(SCF_JOB_RUNNER(source), result, &done, &error);
    if (self->closed)
        return;
    g_clear_object(&self->job);
    scf_compare_view_set_busy(self->view, FALSE);
    scf_compare_controller_update(self);
    if (c) {
        scf_compare_controller_show(self, c);
    } else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        g_autofree char *text = g_strdup_printf(_("Cancelled after step %d of %d"), done,
                                                self->job_steps);
        scf_compare_view_show_status(self->view, text);
    } else {
        scf_compare_view_show_error(self->view, error->message);
    }
}

static void scf_compare_controller_compare(ScfCompareController *self)
{
    const scf_model_entry *model = scf_compare_controller_model(self);
    if (self->closed || self->job || !model)
        return;
    g_autofree char *prompt = NULL, *teacher = NULL;
    g_autofree char *device = g_settings_get_string(self->settings, "device");
    g_autofree char *precision = g_settings_get_string(self->settings, "precision");
    ScfComparisonRequest r = {
        .model_dir = model->dir, .device = device,
        .threads = g_settings_get_int(self->settings, "threads"),
    };
    scf_precision_parse(precision, &r.precision, NULL);  /* the schema allows only valid ones */
    g_object_get(self->view, "prompt", &prompt, "seed", &r.seed, "teacher", &teacher,
                 "teacher-steps", &r.teacher_steps, NULL);
    r.prompt = prompt;
    r.teacher_dir = teacher;
    r.n_steps = scf_compare_view_get_step_counts(self->view, r.steps, SCF_COMPARISON_MAX_STEPS);
    self->job = g_cancellable_new();
    self->job_steps = scf_comparison_request_total_steps(&r);
    scf_compare_view_set_progress(self->view, 0, self->job_steps);
    scf_compare_view_set_busy(self->view, TRUE);
    scf_job_runner_compare_async(self->runner, &r, self->job, scf_compare_controller_progress,
                                 g_object_ref(self), g_object_unref,
                                 scf_compare_controller_compared, g_object_ref(self));
    scf_compare_controller_update(self);
}

static void scf_compare_controller_compare_activated(GSimpleAction *action, GVariant *param,
                                                     gpointer data)
{
    scf_compare_controller_compare(data);
}

static void scf_compare_controller_cancel_activated(GSimpleAction *action, GVariant *param,
                                                    gpointer data)
{
    ScfCompareController *self = data;
    if (self->job)
        g_cancellable_cancel(self->job);
    scf_compare_controller_update(self);
}

/* ---- saving: the grid is drawn and written on a thread ---- */

static void scf_compare_controller_save_thread(GTask *task, gpointer source, gpointer data,
                                               GCancellable *cancellable)
{
    ScfComparison *c = data;
    const char *path = g_object_get_data(G_OBJECT(task), "path");
    GError *error = NULL;
    if (scf_comparison_save(c, path, SAVE_SCALE, &error))
        g_task_return_boolean(task, TRUE);
    else
        g_task_return_error(task, error);
}

static void scf_compare_controller_saved(GObject *source, GAsyncResult *result, gpointer data)
{
    ScfCompareController *self = SCF_COMPARE_CONTROLLER(source);
    g_autoptr(GError) error = NULL;
    if (self->closed)
        return;
    if (g_task_propagate_boolean(G_TASK(result), &error)) {
        const char *path = g_object_get_data(G_OBJECT(result), "path");
        g_autofree char *name = g_filename_display_name(path);
        g_autofree char *text = g_strdup_printf(_("Saved as %s"), name);
        scf_compare_view_show_status(self->view, text);
    } else {
        scf_compare_view_show_error(self->view, error->message);
    }
}

static void scf_compare_controller_save(ScfCompareController *self, GFile *file)
{
    g_autofree char *path = g_file_get_path(file);
    if (!self->shown || !path)
        return;
    g_autoptr(GTask) task = g_task_new(self, NULL, scf_compare_controller_saved, NULL);
    g_object_set_data_full(G_OBJECT(task), "path", g_steal_pointer(&path), g_free);
    g_task_set_task_data(task, scf_comparison_ref(self->shown),
                         (GDestroyNotify)scf_comparison_unref);
    g_task_run_in_thread(task, scf_compare_controller_save_thread);
}

ScfComparison *scf_compare_controller_get_comparison(ScfCompareController *self)
{
    g_return_val_if_fail(SCF_IS_COMPARE_CONTROLLER(self), NULL);
    return self->shown;
}

static void scf_compare_controller_window_destroyed(ScfCompareController *self)
{
    self->closed = TRUE;
    if (self->scan)
        g_cancellable_cancel(self->scan);
    if (self->job)
        g_cancellable_cancel(self->job);
    g_simple_action_set_enabled(self->compare_action, FALSE);
    g_simple_action_set_enabled(self->cancel_action, FALSE);
}

/* ---- GObject ---- */

static void scf_compare_controller_dispose(GObject *object)
{
    ScfCompareController *self = SCF_COMPARE_CONTROLLER(object);
    g_clear_object(&self->view);
    g_clear_object(&self->generate_view);
    g_clear_object(&self->settings);
    g_clear_object(&self->runner);
    g_clear_object(&self->compare_action);
    g_clear_object(&self->cancel_action);
    g_clear_object(&self->scan);
    g_clear_object(&self->job);
    g_clear_pointer(&self->models, g_ptr_array_unref);
    g_clear_pointer(&self->shown, scf_comparison_unref);
    g_clear_pointer(&self->listed_model, g_free);
    g_clear_pointer(&self->followed_prompt, g_free);
    G_OBJECT_CLASS(scf_compare_controller_parent_class)->dispose(object);
}

static void scf_compare_controller_class_init(ScfCompareControllerClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = scf_compare_controller_dispose;
}

static void scf_compare_controller_init(ScfCompareController *self)
{
}

static GSimpleAction *scf_compare_controller_add_action(ScfCompareController *self,
                                                        const char *name, GCallback activate)
{
    GSimpleAction *action = g_simple_action_new(name, NULL);
    g_signal_connect_object(action, "activate", activate, self, 0);
    g_action_map_add_action(G_ACTION_MAP(self->window), G_ACTION(action));
    return action;
}

ScfCompareController *scf_compare_controller_attach(GtkApplicationWindow *window,
                                                    ScfCompareView *view,
                                                    ScfGenerateView *generate_view,
                                                    GSettings *settings, ScfJobRunner *runner)
{
    ScfCompareController *self = g_object_new(SCF_TYPE_COMPARE_CONTROLLER, NULL);
    self->window = window;
    self->view = g_object_ref(view);
    self->generate_view = g_object_ref(generate_view);
    self->settings = g_object_ref(settings);
    self->runner = g_object_ref(runner);
    g_object_set_data_full(G_OBJECT(window), "scf-compare-controller", self, g_object_unref);

    self->compare_action = scf_compare_controller_add_action(
        self, "compare", G_CALLBACK(scf_compare_controller_compare_activated));
    self->cancel_action = scf_compare_controller_add_action(
        self, "compare-cancel", G_CALLBACK(scf_compare_controller_cancel_activated));

    g_object_set(view, "seed", (guint64)g_random_int(), NULL);
    g_signal_connect_object(generate_view, "notify::model",
                            G_CALLBACK(scf_compare_controller_generate_model_changed), self,
                            G_CONNECT_SWAPPED);
    g_signal_connect_object(generate_view, "notify::prompt",
                            G_CALLBACK(scf_compare_controller_generate_prompt_changed), self,
                            G_CONNECT_SWAPPED);
    g_signal_connect_object(view, "notify::teacher",
                            G_CALLBACK(scf_compare_controller_teacher_changed), self,
                            G_CONNECT_SWAPPED);
    g_signal_connect_object(view, "save-requested", G_CALLBACK(scf_compare_controller_save),
                            self, G_CONNECT_SWAPPED);
    g_signal_connect_object(settings, "changed::models-folder",
                            G_CALLBACK(scf_compare_controller_rescan), self, G_CONNECT_SWAPPED);
    g_signal_connect_object(window, "destroy",
                            G_CALLBACK(scf_compare_controller_window_destroyed), self,
                            G_CONNECT_SWAPPED);
    scf_compare_controller_update(self);
    scf_compare_controller_generate_prompt_changed(self);
    scf_compare_controller_rescan(self);
    return self;
}

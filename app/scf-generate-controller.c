#include "build-config.h"
#include "scf-generate-controller.h"
#include "model-catalog.h"
#include <glib/gi18n.h>
#include <string.h>

/* Typing pauses shorter than this do not start a live generation. */
#define LIVE_DELAY_MS 300

struct _ScfGenerateController {
    GObject parent_instance;
    GtkApplicationWindow *window;   /* not owned: it owns the controller */
    ScfGenerateView *view;
    GSettings *settings;
    ScfJobRunner *runner;
    GSimpleAction *generate_action, *cancel_action;
    GPtrArray *models;              /* scf_model_entry, in the view's order */
    gboolean listing;               /* the view's model changes because of a new list */
    gboolean first_listed;          /* a model has been shown since the window opened */
    GCancellable *scan;             /* the model scan under way */
    GCancellable *job;              /* the generation the view shows; NULL when idle */
    int job_steps;
    guint live_source;
    gboolean closed;                /* the window is gone */
};

G_DEFINE_FINAL_TYPE(ScfGenerateController, scf_generate_controller, G_TYPE_OBJECT)

enum { SIGNAL_GENERATION_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

char *scf_generate_controller_output_folder(GSettings *settings)
{
    g_autofree char *setting = g_settings_get_string(settings, "output-folder");
    if (*setting)
        return g_steal_pointer(&setting);
    return g_build_filename(g_get_user_data_dir(), "scflow-studio", "gallery", NULL);
}

const char *scf_generate_controller_find_model(ScfGenerateController *self, const char *name)
{
    g_return_val_if_fail(SCF_IS_GENERATE_CONTROLLER(self), NULL);
    for (guint i = 0; name && self->models && i < self->models->len; i++) {
        const scf_model_entry *e = self->models->pdata[i];
        if (strcmp(e->name, name) == 0)
            return e->dir;
    }
    return NULL;
}

void scf_generate_controller_apply_settings(ScfGenerateController *self, const char *prompt,
                                            const char *negative, const char *model,
                                            guint64 seed, int steps, double guidance)
{
    const char *id = scf_generate_controller_find_model(self, model);
    if (id)
        g_object_set(self->view, "model", id, NULL);
    /* Out-of-range values (a seed above the view's range from another tool)
     * are clamped by the view's property ranges rather than refused. */
    GParamSpec *seed_spec = g_object_class_find_property(G_OBJECT_GET_CLASS(self->view), "seed");
    guint64 max_seed = G_PARAM_SPEC_UINT64(seed_spec)->maximum;
    g_object_set(self->view, "prompt", prompt ? prompt : "", "negative-prompt",
                 negative ? negative : "", "random-seed", FALSE, "seed", MIN(seed, max_seed),
                 "steps", CLAMP(steps, 1, 1000), "guidance", CLAMP(guidance, 0, 30), NULL);
    gtk_widget_activate_action(GTK_WIDGET(self->window), "win.page", "s", "generate");
    if (model && *model && !id) {
        g_autofree char *text = g_strdup_printf(
            _("The model “%s” is not installed; the settings were taken without it"), model);
        scf_generate_view_show_error(self->view, text);
    }
}

gboolean scf_generate_controller_restore_from_png(ScfGenerateController *self, const char *path,
                                                  GError **error)
{
    scf_gen_params p;
    gboolean found = FALSE;
    /* only the text chunks are read: fast enough for the main thread */
    if (!scf_png_read_params(path, &p, &found, error))
        return FALSE;
    if (!found) {
        scf_gen_params_clear(&p);
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, _("%s holds no generation settings"), path);
        return FALSE;
    }
    scf_generate_controller_apply_settings(self, p.prompt, p.negative_prompt, p.model_name, p.seed,
                                           p.steps > 0 ? p.steps : 1,
                                           p.guidance > 0 ? p.guidance : 1.0);
    scf_gen_params_clear(&p);
    return TRUE;
}

static gboolean scf_generate_controller_dropped(GtkDropTarget *target, const GValue *value,
                                                double x, double y, gpointer data)
{
    ScfGenerateController *self = data;
    GFile *file = g_value_get_object(value);
    g_autofree char *path = file ? g_file_get_path(file) : NULL;
    g_autoptr(GError) error = NULL;
    if (!path) {
        scf_generate_view_show_error(self->view, _("Only local PNG files can be dropped here"));
        return FALSE;
    }
    if (!scf_generate_controller_restore_from_png(self, path, &error)) {
        scf_generate_view_show_error(self->view, error->message);
        return FALSE;
    }
    return TRUE;
}

static const scf_model_entry *scf_generate_controller_model(ScfGenerateController *self)
{
    g_autofree char *id = NULL;
    g_object_get(self->view, "model", &id, NULL);
    for (guint i = 0; id && self->models && i < self->models->len; i++) {
        const scf_model_entry *e = self->models->pdata[i];
        if (strcmp(e->dir, id) == 0)
            return e;
    }
    return NULL;
}

/* Live generation is for models that make an image in one step: a slower
 * one would start a job on every pause in typing and finish few of them. */
static gboolean scf_generate_controller_live_available(ScfGenerateController *self)
{
    const scf_model_entry *model = scf_generate_controller_model(self);
    return model && model->default_steps == 1;
}

static void scf_generate_controller_update(ScfGenerateController *self)
{
    gboolean ready = !self->closed && scf_generate_controller_model(self) != NULL;
    g_simple_action_set_enabled(self->generate_action, ready);
    g_simple_action_set_enabled(self->cancel_action,
                                self->job && !g_cancellable_is_cancelled(self->job));
    g_object_set(self->view, "live-available", scf_generate_controller_live_available(self), NULL);
}

/* ---- the models ---- */

static void scf_generate_controller_scan_thread(GTask *task, gpointer source, gpointer folder,
                                                GCancellable *cancellable)
{
    g_task_return_pointer(task, scf_model_catalog_scan(folder), (GDestroyNotify)g_ptr_array_unref);
}

/* The model to select: the one default-model names (model-catalog.h),
 * else the first listed, the embedded default. */
static const scf_model_entry *scf_generate_controller_default(ScfGenerateController *self)
{
    g_autofree char *name = g_settings_get_string(self->settings, "default-model");
    for (guint i = 0; i < self->models->len; i++)
        if (scf_model_catalog_entry_is(self->models->pdata[i], name))
            return self->models->pdata[i];
    return self->models->len ? self->models->pdata[0] : NULL;
}

static void scf_generate_controller_scanned(GObject *source, GAsyncResult *result, gpointer data)
{
    ScfGenerateController *self = SCF_GENERATE_CONTROLLER(source);
    GPtrArray *models = g_task_propagate_pointer(G_TASK(result), NULL);
    if (!models)
        return; /* a newer scan replaced this one */
    g_clear_pointer(&self->models, g_ptr_array_unref);
    self->models = models;

    g_autoptr(GPtrArray) ids = g_ptr_array_new();
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < models->len; i++) {
        const scf_model_entry *e = models->pdata[i];
        g_ptr_array_add(ids, e->dir);
        g_ptr_array_add(names, e->embedded ? g_strdup_printf(_("%s (built in)"), e->name)
                                           : g_strdup(e->name));
    }
    g_ptr_array_add(ids, NULL);
    g_ptr_array_add(names, NULL);
    const scf_model_entry *selected = scf_generate_controller_default(self);
    self->listing = TRUE;
    scf_generate_view_set_models(self->view, (const char *const *)ids->pdata,
                                 (const char *const *)names->pdata, selected ? selected->dir : NULL);
    self->listing = FALSE;
    /* The first model shown brings its own steps and guidance (32 and 1.5
     * for a teacher, 1 and 1 for a one-step student) unless the user chose
     * default steps and guidance in the preferences. */
    if (selected && !self->first_listed) {
        g_autoptr(GVariant) steps = g_settings_get_user_value(self->settings, "default-steps");
        g_autoptr(GVariant) guidance = g_settings_get_user_value(self->settings, "default-guidance");
        if (!steps)
            g_object_set(self->view, "steps", selected->default_steps, NULL);
        if (!guidance)
            g_object_set(self->view, "guidance", selected->default_guidance, NULL);
    }
    self->first_listed = self->first_listed || selected;
    scf_generate_controller_update(self);
}

static void scf_generate_controller_rescan(ScfGenerateController *self)
{
    if (self->scan)
        g_cancellable_cancel(self->scan);
    g_clear_object(&self->scan);
    self->scan = g_cancellable_new();
    g_autofree char *setting = g_settings_get_string(self->settings, "models-folder");
    g_autoptr(GTask) task = g_task_new(self, self->scan, scf_generate_controller_scanned, NULL);
    g_task_set_task_data(task, scf_model_catalog_folder(setting), g_free);
    g_task_run_in_thread(task, scf_generate_controller_scan_thread);
}

/* A model the user chose: its own defaults suit it best, and it is the one
 * to start with next time. */
static void scf_generate_controller_model_changed(ScfGenerateController *self)
{
    const scf_model_entry *model = scf_generate_controller_model(self);
    if (model && !self->listing) {
        g_object_set(self->view, "steps", model->default_steps, "guidance",
                     model->default_guidance, NULL);
        g_autofree char *setting = scf_model_catalog_setting_of(model);
        g_settings_set_string(self->settings, "default-model", setting);
    }
    scf_generate_controller_update(self);
}

/* A folder chosen in the empty state: a model folder itself, or a folder
 * of them. */
static void scf_generate_controller_folder_chosen(ScfGenerateController *self, GFile *folder)
{
    g_autofree char *path = g_file_get_path(folder);
    if (!path)
        return;
    g_autofree char *config = g_build_filename(path, "config.json", NULL);
    if (g_file_test(config, G_FILE_TEST_IS_REGULAR)) {
        g_autofree char *parent = g_path_get_dirname(path);
        g_autofree char *base = g_path_get_basename(path);
        g_settings_set_string(self->settings, "default-model", base);
        g_settings_set_string(self->settings, "models-folder", parent);
    } else {
        g_settings_set_string(self->settings, "default-model", "");
        g_settings_set_string(self->settings, "models-folder", path);
    }
    /* Also when the folder setting did not change. */
    scf_generate_controller_rescan(self);
}

/* ---- generating ---- */

/* Every finished generation passes here, the one place to hand it on: the
 * view shows it, and the gallery is to store it (its PNGs are written). */
static void scf_generate_controller_on_generation_finished(ScfGenerateController *self,
                                                           const ScfGeneration *generation)
{
    guint n = generation->images->len;
    g_autofree GdkTexture **textures = g_new0(GdkTexture *, n);
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_object_unref);
    g_autoptr(GStrvBuilder) captions = g_strv_builder_new();
    for (guint i = 0; i < n; i++) {
        const ScfGeneratedImage *image = generation->images->pdata[i];
        const scf_gen_params *p = &image->params;
        textures[i] = image->texture;
        g_ptr_array_add(files, image->path ? g_file_new_for_path(image->path) : NULL);
        g_autofree char *steps = g_strdup_printf(ngettext("%d step", "%d steps", p->steps),
                                                 p->steps);
        g_autofree char *seed = g_strdup_printf("%" G_GUINT64_FORMAT, p->seed);
        /* TRANSLATORS: seed, "N steps", guidance scale, seconds, device */
        g_autofree char *caption = g_strdup_printf(_("Seed %s · %s · guidance %.1f · %.2f s on %s"),
                                                   seed, steps, p->guidance, generation->seconds,
                                                   p->device);
        g_strv_builder_add(captions, caption);
    }
    g_auto(GStrv) caption_strv = g_strv_builder_end(captions);
    const ScfGeneratedImage *first = generation->images->pdata[0];
    scf_generate_view_show_images(self->view, textures, (GFile *const *)files->pdata,
                                  (const char *const *)caption_strv, n, first->params.prompt);
    g_signal_emit(self, signals[SIGNAL_GENERATION_FINISHED], 0);
}

static void scf_generate_controller_progress(int step, int steps, gpointer data)
{
    ScfGenerateController *self = data;
    if (!self->closed)
        scf_generate_view_set_progress(self->view, step, steps);
}

static void scf_generate_controller_generated(GObject *source, GAsyncResult *result, gpointer data)
{
    g_autoptr(ScfGenerateController) self = data;
    int done = 0;
    g_autoptr(GError) error = NULL;
    g_autoptr(ScfGeneration) generation =
        scf_job_runner_generate_finish(SCF_JOB_RUNNER(source), result, &done, &error);
    /* A newer job owns the view once this one is superseded. */
    if (self->closed || g_task_get_cancellable(G_TASK(result)) != self->job)
        return;
    g_clear_object(&self->job);
    scf_generate_view_set_busy(self->view, FALSE);
    scf_generate_controller_update(self);
    if (generation) {
        scf_generate_controller_on_generation_finished(self, generation);
    } else if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
        scf_generate_view_set_progress(self->view, done, self->job_steps);
        g_autofree char *text = g_strdup_printf(_("Cancelled after step %d of %d"), done,
                                                self->job_steps);
        scf_generate_view_show_status(self->view, text);
    } else {
        scf_generate_view_show_error(self->view, error->message);
    }
}

/* Starts a generation from the view's settings, replacing the one under way.
 * A random seed is drawn for a generation the user asks for; a live one
 * keeps the seed, so that only the words typed change the image. */
static void scf_generate_controller_generate(ScfGenerateController *self, gboolean asked)
{
    const scf_model_entry *model = scf_generate_controller_model(self);
    g_clear_handle_id(&self->live_source, g_source_remove);
    if (self->closed || !model)
        return;
    gboolean random_seed = FALSE;
    g_object_get(self->view, "random-seed", &random_seed, NULL);
    if (asked && random_seed)
        g_object_set(self->view, "seed", (guint64)g_random_int(), NULL);

    g_autofree char *prompt = NULL, *negative = NULL;
    g_autofree char *device = g_settings_get_string(self->settings, "device");
    g_autofree char *precision = g_settings_get_string(self->settings, "precision");
    g_autofree char *output = scf_generate_controller_output_folder(self->settings);
    ScfGenerationRequest r = {
        .model_dir = model->dir, .device = device, .output_dir = output,
        .threads = g_settings_get_int(self->settings, "threads"),
    };
    scf_precision_parse(precision, &r.precision, NULL);  /* the schema allows only valid ones */
    g_object_get(self->view, "prompt", &prompt, "negative-prompt", &negative, "steps", &r.steps,
                 "seed", &r.seed, "guidance", &r.guidance, "batch", &r.batch, NULL);
    r.prompt = prompt;
    r.negative = negative;

    /* Cancelled now rather than when the runner reaches the new job, so
     * that the worker stops within a step. */
    if (self->job)
        g_cancellable_cancel(self->job);
    g_clear_object(&self->job);
    self->job = g_cancellable_new();
    self->job_steps = r.steps;
    scf_generate_view_set_progress(self->view, 0, r.steps);
    scf_generate_view_set_busy(self->view, TRUE);
    scf_job_runner_generate_async(self->runner, &r, self, self->job,
                                  scf_generate_controller_progress, g_object_ref(self),
                                  g_object_unref, scf_generate_controller_generated,
                                  g_object_ref(self));
    scf_generate_controller_update(self);
}

static gboolean scf_generate_controller_live_timeout(gpointer data)
{
    ScfGenerateController *self = data;
    self->live_source = 0;
    scf_generate_controller_generate(self, FALSE);
    return G_SOURCE_REMOVE;
}

static void scf_generate_controller_view_changed(ScfGenerateController *self)
{
    if (!g_settings_get_boolean(self->settings, "live-generation") ||
        !scf_generate_controller_live_available(self))
        return;
    g_clear_handle_id(&self->live_source, g_source_remove);
    self->live_source = g_timeout_add(LIVE_DELAY_MS, scf_generate_controller_live_timeout, self);
}

static void scf_generate_controller_generate_activated(GSimpleAction *action, GVariant *param,
                                                       gpointer data)
{
    scf_generate_controller_generate(data, TRUE);
}

static void scf_generate_controller_cancel_activated(GSimpleAction *action, GVariant *param,
                                                     gpointer data)
{
    ScfGenerateController *self = data;
    if (self->job)
        g_cancellable_cancel(self->job);
    scf_generate_controller_update(self);
}

static void scf_generate_controller_window_destroyed(ScfGenerateController *self)
{
    self->closed = TRUE;
    g_clear_handle_id(&self->live_source, g_source_remove);
    if (self->scan)
        g_cancellable_cancel(self->scan);
    if (self->job)
        g_cancellable_cancel(self->job);
    g_simple_action_set_enabled(self->generate_action, FALSE);
    g_simple_action_set_enabled(self->cancel_action, FALSE);
}

/* ---- GObject ---- */

static void scf_generate_controller_dispose(GObject *object)
{
    ScfGenerateController *self = SCF_GENERATE_CONTROLLER(object);
    g_clear_handle_id(&self->live_source, g_source_remove);
    g_clear_object(&self->view);
    g_clear_object(&self->settings);
    g_clear_object(&self->runner);
    g_clear_object(&self->generate_action);
    g_clear_object(&self->cancel_action);
    g_clear_object(&self->scan);
    g_clear_object(&self->job);
    g_clear_pointer(&self->models, g_ptr_array_unref);
    G_OBJECT_CLASS(scf_generate_controller_parent_class)->dispose(object);
}

static void scf_generate_controller_class_init(ScfGenerateControllerClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = scf_generate_controller_dispose;
    signals[SIGNAL_GENERATION_FINISHED] =
        g_signal_new("generation-finished", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 0);
}

static void scf_generate_controller_init(ScfGenerateController *self)
{
}

static GSimpleAction *scf_generate_controller_add_action(ScfGenerateController *self,
                                                         const char *name, GCallback activate)
{
    GSimpleAction *action = g_simple_action_new(name, NULL);
    g_signal_connect_object(action, "activate", activate, self, 0);
    g_action_map_add_action(G_ACTION_MAP(self->window), G_ACTION(action));
    return action;
}

ScfGenerateController *scf_generate_controller_attach(GtkApplicationWindow *window,
                                                      ScfGenerateView *view, GSettings *settings,
                                                      ScfJobRunner *runner)
{
    ScfGenerateController *self = g_object_new(SCF_TYPE_GENERATE_CONTROLLER, NULL);
    self->window = window;
    self->view = g_object_ref(view);
    self->settings = g_object_ref(settings);
    self->runner = g_object_ref(runner);
    g_object_set_data_full(G_OBJECT(window), "scf-generate-controller", self, g_object_unref);

    self->generate_action = scf_generate_controller_add_action(
        self, "generate", G_CALLBACK(scf_generate_controller_generate_activated));
    self->cancel_action = scf_generate_controller_add_action(
        self, "cancel", G_CALLBACK(scf_generate_controller_cancel_activated));

    g_object_set(view, "steps", g_settings_get_int(settings, "default-steps"), "guidance",
                 g_settings_get_double(settings, "default-guidance"), "random-seed", TRUE,
                 "seed", (guint64)g_random_int(), NULL);
    g_settings_bind(settings, "live-generation", view, "live", G_SETTINGS_BIND_DEFAULT);
    g_signal_connect_object(view, "changed", G_CALLBACK(scf_generate_controller_view_changed),
                            self, G_CONNECT_SWAPPED);
    g_signal_connect_object(view, "notify::model",
                            G_CALLBACK(scf_generate_controller_model_changed), self,
                            G_CONNECT_SWAPPED);
    g_signal_connect_object(view, "model-folder-chosen",
                            G_CALLBACK(scf_generate_controller_folder_chosen), self,
                            G_CONNECT_SWAPPED);
    g_signal_connect_object(settings, "changed::models-folder",
                            G_CALLBACK(scf_generate_controller_rescan), self, G_CONNECT_SWAPPED);
    g_signal_connect_object(window, "destroy",
                            G_CALLBACK(scf_generate_controller_window_destroyed), self,
                            G_CONNECT_SWAPPED);
    /* a PNG dropped anywhere on the window restores its settings */
    GtkDropTarget *drop = gtk_drop_target_new(G_TYPE_FILE, GDK_ACTION_COPY);
    g_signal_connect_object(drop, "drop", G_CALLBACK(scf_generate_controller_dropped), self, 0);
    gtk_widget_add_controller(GTK_WIDGET(window), GTK_EVENT_CONTROLLER(drop));
    scf_generate_controller_update(self);
    scf_generate_controller_rescan(self);
    return self;
}

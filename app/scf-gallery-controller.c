#include "scf-gallery-controller.h"
#include "scf-gallery-model.h"
#include <glib/gi18n.h>

/* Rows read at a time when listing the models and steps for the filters. */
#define SCAN_PAGE 1000
/* Rows looked at after a generation for a new model or step count: a batch
 * is at most 16 images. */
#define NEWEST_ROWS 16

struct _ScfGalleryController {
    GObject parent_instance;
    GtkApplicationWindow *window;       /* not owned: it owns the controller */
    ScfGalleryView *view;
    ScfGenerateView *generate_view;
    ScfGenerateController *generate;    /* not owned: the window owns it too */
    GSettings *settings;
    ScfGalleryModel *model;             /* NULL until open */
    GCancellable *opening;
    GHashTable *model_names;            /* the filter's choices: set of strings */
    GHashTable *step_counts;            /* set of GINT_TO_POINTER(steps) */
};

G_DEFINE_FINAL_TYPE(ScfGalleryController, scf_gallery_controller, G_TYPE_OBJECT)

GListModel *scf_gallery_controller_get_items(ScfGalleryController *self)
{
    g_return_val_if_fail(SCF_IS_GALLERY_CONTROLLER(self), NULL);
    return self->model ? G_LIST_MODEL(self->model) : NULL;
}

/* ---- the filters' choices ---- */

static void scf_gallery_controller_collect(GHashTable *names, GHashTable *steps, GPtrArray *rows)
{
    for (guint i = 0; i < rows->len; i++) {
        const scf_gallery_entry *e = rows->pdata[i];
        if (!g_hash_table_contains(names, e->params.model_name))
            g_hash_table_add(names, g_strdup(e->params.model_name));
        g_hash_table_add(steps, GINT_TO_POINTER(e->params.steps));
    }
}

static int scf_gallery_controller_compare_ints(gconstpointer a, gconstpointer b)
{
    return *(const int *)a - *(const int *)b;
}

static int scf_gallery_controller_compare_strings(gconstpointer a, gconstpointer b)
{
    return g_utf8_collate(*(char *const *)a, *(char *const *)b);
}

static void scf_gallery_controller_offer_choices(ScfGalleryController *self)
{
    guint n_names = 0;
    g_autofree gpointer *names =
        g_hash_table_get_keys_as_array(self->model_names, &n_names);
    qsort(names, n_names, sizeof *names, scf_gallery_controller_compare_strings);
    g_autoptr(GArray) steps = g_array_new(FALSE, FALSE, sizeof(int));
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init(&it, self->step_counts);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        int s = GPOINTER_TO_INT(key);
        g_array_append_val(steps, s);
    }
    g_array_sort(steps, scf_gallery_controller_compare_ints);
    /* get_keys_as_array ends the array with NULL: a string vector. */
    scf_gallery_view_set_filter_choices(self->view, (const char *const *)names,
                                        (const int *)steps->data, steps->len);
}

/* ---- opening ---- */

typedef struct {
    scf_gallery *gallery;
    GHashTable *names, *steps;
} scf_gallery_opened;

static void scf_gallery_opened_free(scf_gallery_opened *o)
{
    g_clear_pointer(&o->gallery, scf_gallery_close);
    g_clear_pointer(&o->names, g_hash_table_unref);
    g_clear_pointer(&o->steps, g_hash_table_unref);
    g_free(o);
}

/* Opening checks every file against its row, and the filters need every
 * model and step count used: work proportional to the gallery, kept off
 * the main thread. */
static void scf_gallery_controller_open_thread(GTask *task, gpointer source, gpointer dir,
                                               GCancellable *cancellable)
{
    scf_gallery_opened *o = g_new0(scf_gallery_opened, 1);
    o->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    o->steps = g_hash_table_new(NULL, NULL);
    GError *error = NULL;
    o->gallery = scf_gallery_open(dir, NULL, &error);
    for (gint64 offset = 0; o->gallery && !g_cancellable_is_cancelled(cancellable);
         offset += SCAN_PAGE) {
        g_autoptr(GPtrArray) rows = scf_gallery_query(o->gallery, NULL, offset, SCAN_PAGE, &error);
        if (!rows) {
            g_clear_pointer(&o->gallery, scf_gallery_close);
            break;
        }
        scf_gallery_controller_collect(o->names, o->steps, rows);
        if (rows->len < SCAN_PAGE)
            break;
    }
    if (!o->gallery) {
        scf_gallery_opened_free(o);
        g_task_return_error(task, error);
        return;
    }
    g_task_return_pointer(task, o, (GDestroyNotify)scf_gallery_opened_free);
}

static void scf_gallery_controller_opened(GObject *source, GAsyncResult *result, gpointer data)
{
    ScfGalleryController *self = SCF_GALLERY_CONTROLLER(source);
    g_autoptr(GError) error = NULL;
    scf_gallery_opened *o = g_task_propagate_pointer(G_TASK(result), &error);
    if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return; /* closed, or a newer folder replaced this one */
    g_clear_object(&self->opening);
    if (!o) {
        scf_gallery_view_show_message(self->view, error->message);
        return;
    }
    g_clear_pointer(&self->model_names, g_hash_table_unref);
    g_clear_pointer(&self->step_counts, g_hash_table_unref);
    self->model_names = g_steal_pointer(&o->names);
    self->step_counts = g_steal_pointer(&o->steps);
    g_clear_object(&self->model);
    self->model = scf_gallery_model_new(g_steal_pointer(&o->gallery));
    scf_gallery_opened_free(o);
    scf_gallery_controller_offer_choices(self);
    scf_gallery_view_set_items(self->view, G_LIST_MODEL(self->model));
}

static void scf_gallery_controller_open(ScfGalleryController *self)
{
    if (self->opening)
        g_cancellable_cancel(self->opening);
    g_clear_object(&self->opening);
    self->opening = g_cancellable_new();
    g_autoptr(GTask) task = g_task_new(self, self->opening, scf_gallery_controller_opened, NULL);
    g_task_set_return_on_cancel(task, TRUE);
    g_task_set_task_data(task, scf_generate_controller_output_folder(self->settings), g_free);
    g_task_run_in_thread(task, scf_gallery_controller_open_thread);
}

/* The gallery is opened when first shown, so that starting the app never
 * waits on a large one. */
static void scf_gallery_controller_view_mapped(ScfGalleryController *self)
{
    if (!self->model && !self->opening)
        scf_gallery_controller_open(self);
}

static void scf_gallery_controller_folder_changed(ScfGalleryController *self)
{
    if (self->model || self->opening)
        scf_gallery_controller_open(self);
}

/* ---- what the view asks ---- */

static void scf_gallery_controller_report(ScfGalleryController *self, gboolean ok, GError *error)
{
    if (!ok)
        scf_gallery_view_show_message(self->view, error->message);
    g_clear_error(&error);
}

static void scf_gallery_controller_reload(ScfGalleryController *self)
{
    GError *error = NULL;
    scf_gallery_controller_report(self, scf_gallery_model_reload(self->model, &error), error);
}

/* A generation added rows at the top: they may bring a model or a step
 * count the filters do not offer yet. */
static void scf_gallery_controller_generation_finished(ScfGalleryController *self)
{
    if (!self->model)
        return;
    scf_gallery_controller_reload(self);
    GError *error = NULL;
    g_autoptr(GPtrArray) rows = scf_gallery_query(scf_gallery_model_get_gallery(self->model),
                                                  NULL, 0, NEWEST_ROWS, &error);
    scf_gallery_controller_report(self, rows != NULL, error);
    if (rows) {
        scf_gallery_controller_collect(self->model_names, self->step_counts, rows);
        scf_gallery_controller_offer_choices(self);
    }
}

static void scf_gallery_controller_filter_changed(ScfGalleryController *self)
{
    if (!self->model)
        return;
    g_autofree char *text = NULL, *model = NULL;
    scf_gallery_filter f = { 0 };
    g_object_get(self->view, "search-text", &text, "model-filter", &model, "steps-filter",
                 &f.steps, "favourites-only", &f.favourites, NULL);
    f.text = text;
    f.model = model;
    GError *error = NULL;
    scf_gallery_controller_report(self, scf_gallery_model_set_filter(self->model, &f, &error),
                                  error);
}

static void scf_gallery_controller_favourite_toggled(ScfGalleryController *self,
                                                     ScfGalleryItem *item, gboolean favourite)
{
    GError *error = NULL;
    gboolean ok = scf_gallery_set_favourite(scf_gallery_model_get_gallery(self->model),
                                            scf_gallery_item_get_id(item), favourite, &error);
    if (ok)
        g_object_set(item, "favourite", favourite, NULL);
    scf_gallery_controller_report(self, ok, error);
}

static void scf_gallery_controller_delete(ScfGalleryController *self, ScfGalleryItem *item)
{
    gint64 id = scf_gallery_item_get_id(item);
    GError *error = NULL;
    if (!scf_gallery_delete(scf_gallery_model_get_gallery(self->model), id, &error)) {
        scf_gallery_controller_report(self, FALSE, error);
        return;
    }
    scf_gallery_controller_reload(self);
    scf_gallery_view_show_deleted(self->view, id);
}

static void scf_gallery_controller_undo(ScfGalleryController *self, gint64 id)
{
    GError *error = NULL;
    gboolean ok = scf_gallery_undo(scf_gallery_model_get_gallery(self->model), id, &error);
    scf_gallery_controller_report(self, ok, error);
    if (ok)
        scf_gallery_controller_reload(self);
}

static void scf_gallery_controller_export(ScfGalleryController *self, ScfGalleryItem *item,
                                          GFile *folder)
{
    g_autofree char *path = g_file_get_path(folder);
    gint64 id = scf_gallery_item_get_id(item);
    GError *error = NULL;
    if (!path) {
        scf_gallery_view_show_message(self->view, _("Images can only be exported to a local folder"));
        return;
    }
    if (!scf_gallery_export(scf_gallery_model_get_gallery(self->model), &id, 1, path, &error)) {
        scf_gallery_controller_report(self, FALSE, error);
        return;
    }
    g_autofree char *text = g_strdup_printf(_("Image exported to %s"), path);
    scf_gallery_view_show_message(self->view, text);
}

/* The Generate page takes the image's settings. */
static void scf_gallery_controller_use_settings(ScfGalleryController *self, ScfGalleryItem *item)
{
    g_autofree char *prompt = NULL, *negative = NULL, *model = NULL;
    guint64 seed = 0;
    int steps = 1;
    double guidance = 1;
    g_object_get(item, "prompt", &prompt, "negative-prompt", &negative, "model", &model, "seed",
                 &seed, "steps", &steps, "guidance", &guidance, NULL);
    scf_generate_controller_apply_settings(self->generate, prompt, negative, model, seed, steps,
                                           guidance);
}

static void scf_gallery_controller_search_activated(GSimpleAction *action, GVariant *param,
                                                    gpointer data)
{
    ScfGalleryController *self = data;
    gtk_widget_activate_action(GTK_WIDGET(self->window), "win.page", "s", "gallery");
    scf_gallery_view_focus_search(self->view);
}

/* ---- GObject ---- */

static void scf_gallery_controller_window_destroyed(ScfGalleryController *self)
{
    if (self->opening)
        g_cancellable_cancel(self->opening);
}

static void scf_gallery_controller_dispose(GObject *object)
{
    ScfGalleryController *self = SCF_GALLERY_CONTROLLER(object);
    if (self->opening)
        g_cancellable_cancel(self->opening);
    g_clear_object(&self->opening);
    g_clear_object(&self->model);
    g_clear_object(&self->view);
    g_clear_object(&self->generate_view);
    g_clear_object(&self->settings);
    g_clear_pointer(&self->model_names, g_hash_table_unref);
    g_clear_pointer(&self->step_counts, g_hash_table_unref);
    G_OBJECT_CLASS(scf_gallery_controller_parent_class)->dispose(object);
}

static void scf_gallery_controller_class_init(ScfGalleryControllerClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = scf_gallery_controller_dispose;
}

static void scf_gallery_controller_init(ScfGalleryController *self)
{
}

ScfGalleryController *scf_gallery_controller_attach(GtkApplicationWindow *window,
                                                    ScfGalleryView *view,
                                                    ScfGenerateView *generate_view,
                                                    ScfGenerateController *generate,
                                                    GSettings *settings)
{
    ScfGalleryController *self = g_object_new(SCF_TYPE_GALLERY_CONTROLLER, NULL);
    self->window = window;
    self->view = g_object_ref(view);
    self->generate_view = g_object_ref(generate_view);
    self->generate = generate;
    self->settings = g_object_ref(settings);
    g_object_set_data_full(G_OBJECT(window), "scf-gallery-controller", self, g_object_unref);

    g_autoptr(GSimpleAction) search = g_simple_action_new("search-gallery", NULL);
    g_signal_connect_object(search, "activate",
                            G_CALLBACK(scf_gallery_controller_search_activated), self, 0);
    g_action_map_add_action(G_ACTION_MAP(window), G_ACTION(search));

#define CONNECT(object, signal, handler)                                                      \
    g_signal_connect_object(object, signal, G_CALLBACK(handler), self, G_CONNECT_SWAPPED)
    CONNECT(view, "map", scf_gallery_controller_view_mapped);
    CONNECT(view, "filter-changed", scf_gallery_controller_filter_changed);
    CONNECT(view, "favourite-toggled", scf_gallery_controller_favourite_toggled);
    CONNECT(view, "use-settings", scf_gallery_controller_use_settings);
    CONNECT(view, "delete", scf_gallery_controller_delete);
    CONNECT(view, "undo", scf_gallery_controller_undo);
    CONNECT(view, "export", scf_gallery_controller_export);
    CONNECT(generate, "generation-finished", scf_gallery_controller_generation_finished);
    CONNECT(settings, "changed::output-folder", scf_gallery_controller_folder_changed);
    CONNECT(window, "destroy", scf_gallery_controller_window_destroyed);
#undef CONNECT
    return self;
}

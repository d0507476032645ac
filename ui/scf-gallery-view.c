#include "scf-gallery-view.h"
#include "scf-image-viewer.h"
#include "scf-status-page.h"
#include <glib/gi18n.h>

struct _ScfGalleryView {
    GtkWidget parent_instance;
    GtkSearchEntry *search_entry;
    GtkDropDown *model_dropdown, *steps_dropdown;
    GtkStringList *model_names, *steps_names;
    GtkToggleButton *favourites_toggle, *favourite_toggle;
    GtkRevealer *banner;
    GtkLabel *banner_label;
    GtkWidget *undo_button, *detail;
    GtkStack *grid_stack;
    GtkGridView *grid;
    ScfImageViewer *viewer;
    GtkLabel *detail_prompt, *detail_negative, *detail_seed, *detail_steps, *detail_guidance,
        *detail_size, *detail_model, *detail_device, *detail_created, *detail_duration;

    GtkSingleSelection *selection;
    char **models;              /* model_dropdown's choices after "any" */
    GArray *steps;              /* steps_dropdown's choices after "any" (int) */
    gboolean updating;          /* widgets change because of code, not the user */
    gint64 deleted_id;          /* what Undo restores */
};

G_DEFINE_FINAL_TYPE(ScfGalleryView, scf_gallery_view, GTK_TYPE_WIDGET)

enum {
    PROP_0,
    PROP_SEARCH_TEXT,
    PROP_MODEL_FILTER,
    PROP_STEPS_FILTER,
    PROP_FAVOURITES_ONLY,
    N_PROPS
};
static GParamSpec *props[N_PROPS];

enum {
    SIGNAL_FILTER_CHANGED,
    SIGNAL_FAVOURITE_TOGGLED,
    SIGNAL_USE_SETTINGS,
    SIGNAL_DELETE,
    SIGNAL_UNDO,
    SIGNAL_EXPORT,
    N_SIGNALS
};
static guint signals[N_SIGNALS];

/* ---- the grid ---- */

static gboolean scf_gallery_view_cell_tooltip(GtkWidget *picture, int x, int y, gboolean keyboard,
                                              GtkTooltip *tooltip)
{
    const char *prompt = gtk_picture_get_alternative_text(GTK_PICTURE(picture));
    gtk_tooltip_set_text(tooltip, prompt);
    return prompt && *prompt;
}

static void scf_gallery_view_setup_cell(GtkListItemFactory *factory, GtkListItem *cell)
{
    GtkWidget *picture = gtk_picture_new();
    /* Thumbnails are made at 128 pixels on the longer side: shown at that
     * size, each of their pixels is one on screen. */
    gtk_widget_set_size_request(picture, 128, 128);
    gtk_picture_set_can_shrink(GTK_PICTURE(picture), FALSE);
    /* The prompt as a tooltip, asked for when shown: a tooltip text set on
     * every bind costs more than all the rest of a jump across the gallery
     * (GtkGridView binds a few hundred cells). */
    gtk_widget_set_has_tooltip(picture, TRUE);
    g_signal_connect(picture, "query-tooltip", G_CALLBACK(scf_gallery_view_cell_tooltip), NULL);
    gtk_list_item_set_child(cell, picture);
}

static void scf_gallery_view_bind_cell(GtkListItemFactory *factory, GtkListItem *cell)
{
    ScfGalleryItem *item = gtk_list_item_get_item(cell);
    GtkPicture *picture = GTK_PICTURE(gtk_list_item_get_child(cell));
    g_autofree char *prompt = NULL;
    g_object_get(item, "prompt", &prompt, NULL);
    gtk_picture_set_paintable(picture, GDK_PAINTABLE(item));
    gtk_picture_set_alternative_text(picture, prompt);
}

static void scf_gallery_view_unbind_cell(GtkListItemFactory *factory, GtkListItem *cell)
{
    gtk_picture_set_paintable(GTK_PICTURE(gtk_list_item_get_child(cell)), NULL);
}

/* ---- the detail pane ---- */

static void scf_gallery_view_set_favourite_icon(ScfGalleryView *self, gboolean favourite)
{
    gtk_button_set_icon_name(GTK_BUTTON(self->favourite_toggle),
                             favourite ? "starred-symbolic" : "non-starred-symbolic");
}

static void scf_gallery_view_show_detail(ScfGalleryView *self)
{
    ScfGalleryItem *item = scf_gallery_view_get_selected(self);
    gtk_widget_set_sensitive(self->detail, item != NULL);
    if (!item) {
        scf_image_viewer_show(self->viewer, NULL, NULL, NULL, 0, NULL);
        return;
    }
    g_autofree char *prompt = NULL, *negative = NULL, *model = NULL, *device = NULL,
                    *image_path = NULL;
    guint64 seed = 0;
    int steps = 0, width = 0, height = 0;
    double guidance = 0;
    gint64 created_ms = 0, duration_ms = 0;
    gboolean favourite = FALSE;
    g_object_get(item, "prompt", &prompt, "negative-prompt", &negative, "model", &model, "device",
                 &device, "image-path", &image_path, "seed", &seed, "steps", &steps, "width",
                 &width, "height", &height, "guidance", &guidance, "created-ms", &created_ms,
                 "duration-ms", &duration_ms, "favourite", &favourite, NULL);

    g_autoptr(GFile) file = g_file_new_for_path(image_path);
    g_autoptr(GError) error = NULL;
    g_autoptr(GdkTexture) texture = gdk_texture_new_from_file(file, &error);
    if (texture) {
        scf_image_viewer_show(self->viewer, &texture, &file, NULL, 1, prompt);
    } else {
        scf_image_viewer_show(self->viewer, NULL, NULL, NULL, 0, NULL);
        scf_image_viewer_show_error(self->viewer, error->message);
    }

    g_autofree char *seed_text = g_strdup_printf("%" G_GUINT64_FORMAT, seed);
    g_autofree char *steps_text = g_strdup_printf("%d", steps);
    g_autofree char *guidance_text = g_strdup_printf("%.2f", guidance);
    /* TRANSLATORS: image width × height in pixels */
    g_autofree char *size_text = g_strdup_printf(_("%d × %d"), width, height);
    g_autoptr(GDateTime) created = g_date_time_new_from_unix_local(created_ms / 1000);
    g_autofree char *created_text = created ? g_date_time_format(created, "%x %X") : NULL;
    g_autofree char *duration_text =
        duration_ms ? g_strdup_printf(_("%.2f s"), duration_ms / 1000.0) : g_strdup(_("Unknown"));
    gtk_label_set_text(self->detail_prompt, prompt);
    gtk_label_set_text(self->detail_negative, *negative ? negative : _("None"));
    gtk_label_set_text(self->detail_seed, seed_text);
    gtk_label_set_text(self->detail_steps, steps_text);
    gtk_label_set_text(self->detail_guidance, guidance_text);
    gtk_label_set_text(self->detail_size, size_text);
    gtk_label_set_text(self->detail_model, model);
    gtk_label_set_text(self->detail_device, device);
    gtk_label_set_text(self->detail_created, created_text ? created_text : "");
    gtk_label_set_text(self->detail_duration, duration_text);

    self->updating = TRUE;
    gtk_toggle_button_set_active(self->favourite_toggle, favourite);
    scf_gallery_view_set_favourite_icon(self, favourite);
    self->updating = FALSE;
}

static void scf_gallery_view_favourite_toggled(ScfGalleryView *self)
{
    gboolean active = gtk_toggle_button_get_active(self->favourite_toggle);
    scf_gallery_view_set_favourite_icon(self, active);
    ScfGalleryItem *item = scf_gallery_view_get_selected(self);
    if (!self->updating && item)
        g_signal_emit(self, signals[SIGNAL_FAVOURITE_TOGGLED], 0, item, active);
}

ScfGalleryItem *scf_gallery_view_get_selected(ScfGalleryView *self)
{
    g_return_val_if_fail(SCF_IS_GALLERY_VIEW(self), NULL);
    return self->selection ? gtk_single_selection_get_selected_item(self->selection) : NULL;
}

/* ---- the filters ---- */

static void scf_gallery_view_filter_changed(ScfGalleryView *self)
{
    if (!self->updating)
        g_signal_emit(self, signals[SIGNAL_FILTER_CHANGED], 0);
}

static const char *scf_gallery_view_model_filter(ScfGalleryView *self)
{
    guint i = gtk_drop_down_get_selected(self->model_dropdown);
    return i > 0 && self->models && i <= g_strv_length(self->models) ? self->models[i - 1] : NULL;
}

static int scf_gallery_view_steps_filter(ScfGalleryView *self)
{
    guint i = gtk_drop_down_get_selected(self->steps_dropdown);
    return i > 0 && i <= self->steps->len ? g_array_index(self->steps, int, i - 1) : 0;
}

/* Replaces list's strings by names, which it empties. */
static void scf_gallery_view_fill(GtkStringList *list, GPtrArray *names)
{
    g_ptr_array_add(names, NULL);
    gtk_string_list_splice(list, 0, g_list_model_get_n_items(G_LIST_MODEL(list)),
                           (const char *const *)names->pdata);
    g_ptr_array_set_size(names, 0);
}

void scf_gallery_view_set_filter_choices(ScfGalleryView *self, const char *const *models,
                                         const int *steps, guint n_steps)
{
    g_return_if_fail(SCF_IS_GALLERY_VIEW(self));
    /* The choices made stay chosen when they are still offered. */
    g_autofree char *model = g_strdup(scf_gallery_view_model_filter(self));
    int step = scf_gallery_view_steps_filter(self);
    self->updating = TRUE;
    g_strfreev(self->models);
    self->models = g_strdupv((char **)models);
    guint n_models = self->models ? g_strv_length(self->models) : 0;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(names, g_strdup(_("All Models")));
    guint model_choice = 0;
    for (guint i = 0; i < n_models; i++) {
        g_ptr_array_add(names, g_strdup(self->models[i]));
        if (g_strcmp0(model, self->models[i]) == 0)
            model_choice = i + 1;
    }
    scf_gallery_view_fill(self->model_names, names);
    g_array_set_size(self->steps, 0);
    g_array_append_vals(self->steps, steps, n_steps);
    g_ptr_array_add(names, g_strdup(_("Any Steps")));
    guint steps_choice = 0;
    for (guint i = 0; i < n_steps; i++) {
        g_ptr_array_add(names, g_strdup_printf(ngettext("%d step", "%d steps", steps[i]),
                                               steps[i]));
        if (steps[i] == step)
            steps_choice = i + 1;
    }
    scf_gallery_view_fill(self->steps_names, names);
    gtk_drop_down_set_selected(self->model_dropdown, model_choice);
    gtk_drop_down_set_selected(self->steps_dropdown, steps_choice);
    self->updating = FALSE;
    if ((model_choice == 0 && model) || (steps_choice == 0 && step))
        scf_gallery_view_filter_changed(self);
}

/* ---- items, banner ---- */

static void scf_gallery_view_items_changed(ScfGalleryView *self)
{
    guint n = g_list_model_get_n_items(G_LIST_MODEL(self->selection));
    gtk_stack_set_visible_child_name(self->grid_stack, n ? "grid" : "empty");
    scf_gallery_view_show_detail(self);
}

void scf_gallery_view_set_items(ScfGalleryView *self, GListModel *items)
{
    g_return_if_fail(SCF_IS_GALLERY_VIEW(self));
    if (self->selection)
        g_signal_handlers_disconnect_by_data(self->selection, self);
    g_clear_object(&self->selection);
    self->selection = gtk_single_selection_new(items ? g_object_ref(items) : NULL);
    gtk_grid_view_set_model(self->grid, GTK_SELECTION_MODEL(self->selection));
    g_signal_connect_swapped(self->selection, "notify::selected-item",
                             G_CALLBACK(scf_gallery_view_show_detail), self);
    g_signal_connect_swapped(self->selection, "items-changed",
                             G_CALLBACK(scf_gallery_view_items_changed), self);
    scf_gallery_view_items_changed(self);
}

static void scf_gallery_view_show_banner(ScfGalleryView *self, const char *text, gboolean undo)
{
    gtk_label_set_text(self->banner_label, text);
    gtk_widget_set_visible(self->undo_button, undo);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "gallery.undo", undo);
    gtk_revealer_set_reveal_child(self->banner, TRUE);
}

void scf_gallery_view_show_deleted(ScfGalleryView *self, gint64 id)
{
    g_return_if_fail(SCF_IS_GALLERY_VIEW(self));
    self->deleted_id = id;
    scf_gallery_view_show_banner(self, _("Image deleted"), TRUE);
}

void scf_gallery_view_show_message(ScfGalleryView *self, const char *message)
{
    g_return_if_fail(SCF_IS_GALLERY_VIEW(self));
    scf_gallery_view_show_banner(self, message, FALSE);
}

/* Escape in the search entry: the search is cleared, then left for the
 * grid, as in GNOME's search bars. */
static void scf_gallery_view_stop_search(ScfGalleryView *self)
{
    if (*gtk_editable_get_text(GTK_EDITABLE(self->search_entry)))
        gtk_editable_set_text(GTK_EDITABLE(self->search_entry), "");
    else
        gtk_widget_grab_focus(GTK_WIDGET(self->grid));
}

void scf_gallery_view_focus_search(ScfGalleryView *self)
{
    g_return_if_fail(SCF_IS_GALLERY_VIEW(self));
    gtk_widget_grab_focus(GTK_WIDGET(self->search_entry));
}

/* ---- actions ---- */

static void scf_gallery_view_emit_for_selected(ScfGalleryView *self, guint signal)
{
    ScfGalleryItem *item = scf_gallery_view_get_selected(self);
    if (item)
        g_signal_emit(self, signals[signal], 0, item);
}

static void scf_gallery_view_use_settings(GtkWidget *widget, const char *action, GVariant *param)
{
    scf_gallery_view_emit_for_selected(SCF_GALLERY_VIEW(widget), SIGNAL_USE_SETTINGS);
}

static void scf_gallery_view_delete(GtkWidget *widget, const char *action, GVariant *param)
{
    scf_gallery_view_emit_for_selected(SCF_GALLERY_VIEW(widget), SIGNAL_DELETE);
}

static void scf_gallery_view_undo(GtkWidget *widget, const char *action, GVariant *param)
{
    ScfGalleryView *self = SCF_GALLERY_VIEW(widget);
    gtk_revealer_set_reveal_child(self->banner, FALSE);
    if (self->deleted_id)
        g_signal_emit(self, signals[SIGNAL_UNDO], 0, self->deleted_id);
    self->deleted_id = 0;
}

static void scf_gallery_view_dismiss(GtkWidget *widget, const char *action, GVariant *param)
{
    ScfGalleryView *self = SCF_GALLERY_VIEW(widget);
    gtk_revealer_set_reveal_child(self->banner, FALSE);
    self->deleted_id = 0;
}

static void scf_gallery_view_export_response(GtkNativeDialog *dialog, int response, gpointer data)
{
    ScfGalleryView *self = data;
    ScfGalleryItem *item = g_object_get_data(G_OBJECT(dialog), "item");
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) folder = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        if (folder)
            g_signal_emit(self, signals[SIGNAL_EXPORT], 0, item, folder);
    }
    g_object_unref(dialog);
    g_object_unref(self);
}

static void scf_gallery_view_export(GtkWidget *widget, const char *action, GVariant *param)
{
    ScfGalleryItem *item = scf_gallery_view_get_selected(SCF_GALLERY_VIEW(widget));
    if (!item)
        return;
    GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
        _("Export Image To"), GTK_WINDOW(gtk_widget_get_root(widget)),
        GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Export"), _("_Cancel"));
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(dialog), TRUE);
    /* The image chosen when the dialog opened, whatever is selected later. */
    g_object_set_data_full(G_OBJECT(dialog), "item", g_object_ref(item), g_object_unref);
    g_signal_connect(dialog, "response", G_CALLBACK(scf_gallery_view_export_response),
                     g_object_ref(widget));
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

/* ---- GObject ---- */

static void scf_gallery_view_get_property(GObject *object, guint prop_id, GValue *value,
                                          GParamSpec *pspec)
{
    ScfGalleryView *self = SCF_GALLERY_VIEW(object);
    switch (prop_id) {
    case PROP_SEARCH_TEXT:
        g_value_set_string(value, gtk_editable_get_text(GTK_EDITABLE(self->search_entry)));
        break;
    case PROP_MODEL_FILTER:
        g_value_set_string(value, scf_gallery_view_model_filter(self));
        break;
    case PROP_STEPS_FILTER:
        g_value_set_int(value, scf_gallery_view_steps_filter(self));
        break;
    case PROP_FAVOURITES_ONLY:
        g_value_set_boolean(value, gtk_toggle_button_get_active(self->favourites_toggle));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void scf_gallery_view_dispose(GObject *object)
{
    ScfGalleryView *self = SCF_GALLERY_VIEW(object);
    if (self->selection)
        g_signal_handlers_disconnect_by_data(self->selection, self);
    gtk_widget_dispose_template(GTK_WIDGET(object), SCF_TYPE_GALLERY_VIEW);
    g_clear_object(&self->selection);
    G_OBJECT_CLASS(scf_gallery_view_parent_class)->dispose(object);
}

static void scf_gallery_view_finalize(GObject *object)
{
    ScfGalleryView *self = SCF_GALLERY_VIEW(object);
    g_strfreev(self->models);
    g_array_unref(self->steps);
    G_OBJECT_CLASS(scf_gallery_view_parent_class)->finalize(object);
}

static void scf_gallery_view_install_signals(GObjectClass *klass)
{
    GType type = G_TYPE_FROM_CLASS(klass);
    signals[SIGNAL_FILTER_CHANGED] = g_signal_new("filter-changed", type, G_SIGNAL_RUN_LAST, 0,
                                                  NULL, NULL, NULL, G_TYPE_NONE, 0);
    signals[SIGNAL_FAVOURITE_TOGGLED] =
        g_signal_new("favourite-toggled", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                     G_TYPE_NONE, 2, SCF_TYPE_GALLERY_ITEM, G_TYPE_BOOLEAN);
    signals[SIGNAL_USE_SETTINGS] = g_signal_new("use-settings", type, G_SIGNAL_RUN_LAST, 0, NULL,
                                                NULL, NULL, G_TYPE_NONE, 1,
                                                SCF_TYPE_GALLERY_ITEM);
    signals[SIGNAL_DELETE] = g_signal_new("delete", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 1, SCF_TYPE_GALLERY_ITEM);
    signals[SIGNAL_UNDO] = g_signal_new("undo", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                        G_TYPE_NONE, 1, G_TYPE_INT64);
    signals[SIGNAL_EXPORT] = g_signal_new("export", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 2, SCF_TYPE_GALLERY_ITEM, G_TYPE_FILE);
}

static void scf_gallery_view_class_init(ScfGalleryViewClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    object_class->get_property = scf_gallery_view_get_property;
    object_class->dispose = scf_gallery_view_dispose;
    object_class->finalize = scf_gallery_view_finalize;
    const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
    props[PROP_SEARCH_TEXT] = g_param_spec_string("search-text", NULL, NULL, "", ro);
    props[PROP_MODEL_FILTER] = g_param_spec_string("model-filter", NULL, NULL, NULL, ro);
    props[PROP_STEPS_FILTER] = g_param_spec_int("steps-filter", NULL, NULL, 0, G_MAXINT, 0, ro);
    props[PROP_FAVOURITES_ONLY] = g_param_spec_boolean("favourites-only", NULL, NULL, FALSE, ro);
    g_object_class_install_properties(object_class, N_PROPS, props);
    scf_gallery_view_install_signals(object_class);

    gtk_widget_class_install_action(widget_class, "gallery.use-settings", NULL,
                                    scf_gallery_view_use_settings);
    gtk_widget_class_install_action(widget_class, "gallery.delete", NULL,
                                    scf_gallery_view_delete);
    gtk_widget_class_install_action(widget_class, "gallery.export", NULL,
                                    scf_gallery_view_export);
    gtk_widget_class_install_action(widget_class, "gallery.undo", NULL, scf_gallery_view_undo);
    gtk_widget_class_install_action(widget_class, "gallery.dismiss", NULL,
                                    scf_gallery_view_dismiss);

    g_type_ensure(SCF_TYPE_STATUS_PAGE);
    g_type_ensure(SCF_TYPE_IMAGE_VIEWER);
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/io/github/scflow/Studio/scf-gallery-view.ui");
#define BIND(name) gtk_widget_class_bind_template_child(widget_class, ScfGalleryView, name)
    BIND(search_entry);
    BIND(model_dropdown);
    BIND(steps_dropdown);
    BIND(model_names);
    BIND(steps_names);
    BIND(favourites_toggle);
    BIND(favourite_toggle);
    BIND(banner);
    BIND(banner_label);
    BIND(undo_button);
    BIND(detail);
    BIND(grid_stack);
    BIND(grid);
    BIND(viewer);
    BIND(detail_prompt);
    BIND(detail_negative);
    BIND(detail_seed);
    BIND(detail_steps);
    BIND(detail_guidance);
    BIND(detail_size);
    BIND(detail_model);
    BIND(detail_device);
    BIND(detail_created);
    BIND(detail_duration);
#undef BIND
}

static void scf_gallery_view_init(ScfGalleryView *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    self->steps = g_array_new(FALSE, FALSE, sizeof(int));

    GtkListItemFactory *factory = gtk_signal_list_item_factory_new();
    g_signal_connect(factory, "setup", G_CALLBACK(scf_gallery_view_setup_cell), NULL);
    g_signal_connect(factory, "bind", G_CALLBACK(scf_gallery_view_bind_cell), NULL);
    g_signal_connect(factory, "unbind", G_CALLBACK(scf_gallery_view_unbind_cell), NULL);
    gtk_grid_view_set_factory(self->grid, factory);
    g_object_unref(factory);

    scf_gallery_view_set_filter_choices(self, NULL, NULL, 0);
    g_signal_connect_swapped(self->search_entry, "search-changed",
                             G_CALLBACK(scf_gallery_view_filter_changed), self);
    g_signal_connect_swapped(self->search_entry, "stop-search",
                             G_CALLBACK(scf_gallery_view_stop_search), self);
    g_signal_connect_swapped(self->model_dropdown, "notify::selected",
                             G_CALLBACK(scf_gallery_view_filter_changed), self);
    g_signal_connect_swapped(self->steps_dropdown, "notify::selected",
                             G_CALLBACK(scf_gallery_view_filter_changed), self);
    g_signal_connect_swapped(self->favourites_toggle, "toggled",
                             G_CALLBACK(scf_gallery_view_filter_changed), self);
    g_signal_connect_swapped(self->favourite_toggle, "toggled",
                             G_CALLBACK(scf_gallery_view_favourite_toggled), self);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "gallery.undo", FALSE);
    scf_gallery_view_set_items(self, NULL);
}

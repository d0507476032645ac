#include "scf-generate-view.h"
#include "scf-image-viewer.h"
#include "scf-status-page.h"
#include <glib/gi18n.h>

struct _ScfGenerateView {
    GtkWidget parent_instance;

    GtkStack *pages;
    GtkTextView *prompt_view, *negative_view;
    GtkDropDown *model_dropdown;
    GtkStringList *model_names;
    GtkToggleButton *steps_1, *steps_2, *steps_4, *steps_8;
    GtkSpinButton *steps_spin, *seed_spin, *guidance_spin, *batch_spin;
    GtkToggleButton *random_toggle;
    GtkSwitch *live_switch;
    GtkWidget *live_row;
    GtkStack *action_stack;
    GtkRevealer *progress_revealer;
    GtkProgressBar *progress_bar;
    ScfImageViewer *viewer;

    GStrv model_ids;
    int progress_step;
    gboolean busy, live_available;
    /* Set while code (not the user) changes a control, so that "changed"
     * reports only the user's edits. */
    gboolean syncing;
};

G_DEFINE_FINAL_TYPE(ScfGenerateView, scf_generate_view, GTK_TYPE_WIDGET)

enum {
    PROP_0,
    PROP_PROMPT,
    PROP_NEGATIVE_PROMPT,
    PROP_STEPS,
    PROP_SEED,
    PROP_RANDOM_SEED,
    PROP_GUIDANCE,
    PROP_BATCH,
    PROP_MODEL,
    PROP_LIVE,
    PROP_LIVE_AVAILABLE,
    PROP_BUSY,
    PROP_PROGRESS_STEP,
    N_PROPS
};
static GParamSpec *props[N_PROPS];

enum { SIGNAL_CHANGED, SIGNAL_MODEL_FOLDER_CHOSEN, N_SIGNALS };
static guint signals[N_SIGNALS];

static void scf_generate_view_user_changed(ScfGenerateView *self)
{
    if (!self->syncing)
        g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
}

static char *scf_generate_view_buffer_text(GtkTextView *view)
{
    GtkTextBuffer *buffer = gtk_text_view_get_buffer(view);
    GtkTextIter start, end;
    gtk_text_buffer_get_bounds(buffer, &start, &end);
    return gtk_text_buffer_get_text(buffer, &start, &end, FALSE);
}

static void scf_generate_view_set_buffer_text(ScfGenerateView *self, GtkTextView *view,
                                              const char *text)
{
    self->syncing = TRUE;
    gtk_text_buffer_set_text(gtk_text_view_get_buffer(view), text ? text : "", -1);
    self->syncing = FALSE;
}

static void scf_generate_view_set_spin(ScfGenerateView *self, GtkSpinButton *spin, double value)
{
    self->syncing = TRUE;
    gtk_spin_button_set_value(spin, value);
    self->syncing = FALSE;
}

/* ---- steps: the toggles are shortcuts for the spin button's value ---- */

static GtkToggleButton *scf_generate_view_steps_toggle(ScfGenerateView *self, int steps)
{
    switch (steps) {
    case 1: return self->steps_1;
    case 2: return self->steps_2;
    case 4: return self->steps_4;
    case 8: return self->steps_8;
    default: return NULL;
    }
}

static void scf_generate_view_sync_steps_toggles(ScfGenerateView *self)
{
    int steps = gtk_spin_button_get_value_as_int(self->steps_spin);
    GtkToggleButton *on = scf_generate_view_steps_toggle(self, steps);
    gboolean syncing = self->syncing;
    self->syncing = TRUE;
    GtkToggleButton *all[] = { self->steps_1, self->steps_2, self->steps_4, self->steps_8 };
    for (gsize i = 0; i < G_N_ELEMENTS(all); i++)
        gtk_toggle_button_set_active(all[i], all[i] == on);
    self->syncing = syncing;
}

static void scf_generate_view_steps_toggled(ScfGenerateView *self, GtkToggleButton *toggle)
{
    if (self->syncing || !gtk_toggle_button_get_active(toggle))
        return;
    int steps = (int)g_ascii_strtoll(gtk_button_get_label(GTK_BUTTON(toggle)), NULL, 10);
    gtk_spin_button_set_value(self->steps_spin, steps);
}

static void scf_generate_view_steps_changed(ScfGenerateView *self)
{
    scf_generate_view_sync_steps_toggles(self);
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_STEPS]);
    scf_generate_view_user_changed(self);
}

/* ---- seed ---- */

static void scf_generate_view_seed_changed(ScfGenerateView *self)
{
    /* A seed typed in is a seed the user wants to keep. */
    if (!self->syncing)
        gtk_toggle_button_set_active(self->random_toggle, FALSE);
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_SEED]);
    scf_generate_view_user_changed(self);
}

static void scf_generate_view_random_toggled(ScfGenerateView *self)
{
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_RANDOM_SEED]);
}

static void scf_generate_view_reroll(GtkWidget *widget, const char *action, GVariant *param)
{
    ScfGenerateView *self = SCF_GENERATE_VIEW(widget);
    gtk_spin_button_set_value(self->seed_spin, g_random_int());
}

/* ---- the other settings ---- */

static void scf_generate_view_guidance_changed(ScfGenerateView *self)
{
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_GUIDANCE]);
    scf_generate_view_user_changed(self);
}

static void scf_generate_view_batch_changed(ScfGenerateView *self)
{
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_BATCH]);
    scf_generate_view_user_changed(self);
}

static void scf_generate_view_model_selected(ScfGenerateView *self)
{
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_MODEL]);
    scf_generate_view_user_changed(self);
}

static void scf_generate_view_prompt_changed(ScfGenerateView *self)
{
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PROMPT]);
    scf_generate_view_user_changed(self);
}

static void scf_generate_view_negative_changed(ScfGenerateView *self)
{
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_NEGATIVE_PROMPT]);
    scf_generate_view_user_changed(self);
}

static const char *scf_generate_view_model(ScfGenerateView *self)
{
    guint i = gtk_drop_down_get_selected(self->model_dropdown);
    if (!self->model_ids || i == GTK_INVALID_LIST_POSITION || i >= g_strv_length(self->model_ids))
        return NULL;
    return self->model_ids[i];
}

static void scf_generate_view_select_model(ScfGenerateView *self, const char *id)
{
    guint n = self->model_ids ? g_strv_length(self->model_ids) : 0;
    for (guint i = 0; i < n; i++)
        if (g_strcmp0(self->model_ids[i], id) == 0) {
            self->syncing = TRUE;
            gtk_drop_down_set_selected(self->model_dropdown, i);
            self->syncing = FALSE;
            return;
        }
}

void scf_generate_view_set_models(ScfGenerateView *self, const char *const *ids,
                                  const char *const *names, const char *selected)
{
    g_return_if_fail(SCF_IS_GENERATE_VIEW(self));
    guint n = ids ? g_strv_length((GStrv)ids) : 0;
    self->syncing = TRUE;
    g_strfreev(self->model_ids);
    self->model_ids = g_strdupv((GStrv)ids);
    guint old = g_list_model_get_n_items(G_LIST_MODEL(self->model_names));
    gtk_string_list_splice(self->model_names, 0, old, names);
    self->syncing = FALSE;
    scf_generate_view_select_model(self, selected);
    gtk_stack_set_visible_child_name(self->pages, n > 0 ? "main" : "empty");
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_MODEL]);
}

/* ---- progress ---- */

void scf_generate_view_set_busy(ScfGenerateView *self, gboolean busy)
{
    g_return_if_fail(SCF_IS_GENERATE_VIEW(self));
    if (self->busy == busy)
        return;
    self->busy = busy;
    gtk_stack_set_visible_child_name(self->action_stack, busy ? "cancel" : "generate");
    gtk_revealer_set_reveal_child(self->progress_revealer, busy);
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_BUSY]);
}

void scf_generate_view_set_progress(ScfGenerateView *self, int step, int steps)
{
    g_return_if_fail(SCF_IS_GENERATE_VIEW(self));
    gtk_progress_bar_set_fraction(self->progress_bar, steps > 0 ? (double)step / steps : 0);
    g_autofree char *text = g_strdup_printf(_("Step %d of %d"), step, steps);
    gtk_progress_bar_set_text(self->progress_bar, text);
    if (self->progress_step != step) {
        self->progress_step = step;
        g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PROGRESS_STEP]);
    }
}

/* ---- the images ---- */

GdkTexture *scf_generate_view_get_image(ScfGenerateView *self)
{
    g_return_val_if_fail(SCF_IS_GENERATE_VIEW(self), NULL);
    return scf_image_viewer_get_image(self->viewer);
}

void scf_generate_view_show_images(ScfGenerateView *self, GdkTexture *const *textures,
                                   GFile *const *files, const char *const *captions, guint n,
                                   const char *prompt)
{
    g_return_if_fail(SCF_IS_GENERATE_VIEW(self));
    scf_image_viewer_show(self->viewer, textures, files, captions, n, prompt);
}

void scf_generate_view_show_status(ScfGenerateView *self, const char *text)
{
    g_return_if_fail(SCF_IS_GENERATE_VIEW(self));
    scf_image_viewer_set_caption(self->viewer, text);
}

void scf_generate_view_show_error(ScfGenerateView *self, const char *message)
{
    g_return_if_fail(SCF_IS_GENERATE_VIEW(self));
    scf_image_viewer_show_error(self->viewer, message);
}

/* ---- the empty state's folder chooser ---- */

static void scf_generate_view_folder_response(GtkNativeDialog *dialog, int response, gpointer data)
{
    ScfGenerateView *self = data;
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) folder = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        if (folder)
            g_signal_emit(self, signals[SIGNAL_MODEL_FOLDER_CHOSEN], 0, folder);
    }
    g_object_unref(dialog);
    g_object_unref(self);
}

static void scf_generate_view_choose_folder(GtkWidget *widget, const char *action, GVariant *param)
{
    GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
        _("Choose Model Folder"), GTK_WINDOW(gtk_widget_get_root(widget)),
        GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER, _("_Choose"), _("_Cancel"));
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(dialog), TRUE);
    g_signal_connect(dialog, "response", G_CALLBACK(scf_generate_view_folder_response),
                     g_object_ref(widget));
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

/* ---- GObject ---- */

static void scf_generate_view_get_property(GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec)
{
    ScfGenerateView *self = SCF_GENERATE_VIEW(object);
    switch (prop_id) {
    case PROP_PROMPT:
        g_value_take_string(value, scf_generate_view_buffer_text(self->prompt_view));
        break;
    case PROP_NEGATIVE_PROMPT:
        g_value_take_string(value, scf_generate_view_buffer_text(self->negative_view));
        break;
    case PROP_STEPS:
        g_value_set_int(value, gtk_spin_button_get_value_as_int(self->steps_spin));
        break;
    case PROP_SEED:
        g_value_set_uint64(value, (guint64)gtk_spin_button_get_value(self->seed_spin));
        break;
    case PROP_RANDOM_SEED:
        g_value_set_boolean(value, gtk_toggle_button_get_active(self->random_toggle));
        break;
    case PROP_GUIDANCE:
        g_value_set_double(value, gtk_spin_button_get_value(self->guidance_spin));
        break;
    case PROP_BATCH:
        g_value_set_int(value, gtk_spin_button_get_value_as_int(self->batch_spin));
        break;
    case PROP_MODEL:
        g_value_set_string(value, scf_generate_view_model(self));
        break;
    case PROP_LIVE:
        g_value_set_boolean(value, gtk_switch_get_active(self->live_switch));
        break;
    case PROP_LIVE_AVAILABLE:
        g_value_set_boolean(value, self->live_available);
        break;
    case PROP_BUSY:
        g_value_set_boolean(value, self->busy);
        break;
    case PROP_PROGRESS_STEP:
        g_value_set_int(value, self->progress_step);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void scf_generate_view_set_property(GObject *object, guint prop_id, const GValue *value,
                                           GParamSpec *pspec)
{
    ScfGenerateView *self = SCF_GENERATE_VIEW(object);
    switch (prop_id) {
    case PROP_PROMPT:
        scf_generate_view_set_buffer_text(self, self->prompt_view, g_value_get_string(value));
        break;
    case PROP_NEGATIVE_PROMPT:
        scf_generate_view_set_buffer_text(self, self->negative_view, g_value_get_string(value));
        break;
    case PROP_STEPS:
        scf_generate_view_set_spin(self, self->steps_spin, g_value_get_int(value));
        break;
    case PROP_SEED:
        scf_generate_view_set_spin(self, self->seed_spin, (double)g_value_get_uint64(value));
        break;
    case PROP_RANDOM_SEED:
        gtk_toggle_button_set_active(self->random_toggle, g_value_get_boolean(value));
        break;
    case PROP_GUIDANCE:
        scf_generate_view_set_spin(self, self->guidance_spin, g_value_get_double(value));
        break;
    case PROP_BATCH:
        scf_generate_view_set_spin(self, self->batch_spin, g_value_get_int(value));
        break;
    case PROP_MODEL:
        scf_generate_view_select_model(self, g_value_get_string(value));
        break;
    case PROP_LIVE:
        gtk_switch_set_active(self->live_switch, g_value_get_boolean(value));
        break;
    case PROP_LIVE_AVAILABLE:
        self->live_available = g_value_get_boolean(value);
        gtk_widget_set_sensitive(self->live_row, self->live_available);
        g_object_notify_by_pspec(object, pspec);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void scf_generate_view_live_toggled(ScfGenerateView *self)
{
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_LIVE]);
}

static void scf_generate_view_dispose(GObject *object)
{
    gtk_widget_dispose_template(GTK_WIDGET(object), SCF_TYPE_GENERATE_VIEW);
    G_OBJECT_CLASS(scf_generate_view_parent_class)->dispose(object);
}

static void scf_generate_view_finalize(GObject *object)
{
    g_strfreev(SCF_GENERATE_VIEW(object)->model_ids);
    G_OBJECT_CLASS(scf_generate_view_parent_class)->finalize(object);
}

static void scf_generate_view_install_properties(GObjectClass *object_class)
{
    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
    const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
    props[PROP_PROMPT] = g_param_spec_string("prompt", NULL, NULL, "", rw);
    props[PROP_NEGATIVE_PROMPT] = g_param_spec_string("negative-prompt", NULL, NULL, "", rw);
    props[PROP_STEPS] = g_param_spec_int("steps", NULL, NULL, 1, 1000, 1, rw);
    props[PROP_SEED] = g_param_spec_uint64("seed", NULL, NULL, 0, G_MAXUINT32, 0, rw);
    props[PROP_RANDOM_SEED] = g_param_spec_boolean("random-seed", NULL, NULL, FALSE, rw);
    props[PROP_GUIDANCE] = g_param_spec_double("guidance", NULL, NULL, 0, 30, 1, rw);
    props[PROP_BATCH] = g_param_spec_int("batch", NULL, NULL, 1, 16, 1, rw);
    props[PROP_MODEL] = g_param_spec_string("model", NULL, NULL, NULL, rw);
    props[PROP_LIVE] = g_param_spec_boolean("live", NULL, NULL, FALSE, rw);
    props[PROP_LIVE_AVAILABLE] = g_param_spec_boolean("live-available", NULL, NULL, FALSE, rw);
    props[PROP_BUSY] = g_param_spec_boolean("busy", NULL, NULL, FALSE, ro);
    props[PROP_PROGRESS_STEP] = g_param_spec_int("progress-step", NULL, NULL, 0, G_MAXINT, 0, ro);
    g_object_class_install_properties(object_class, N_PROPS, props);
}

static void scf_generate_view_install_actions(GtkWidgetClass *widget_class)
{
    gtk_widget_class_install_action(widget_class, "generate.reroll", NULL,
                                    scf_generate_view_reroll);
    gtk_widget_class_install_action(widget_class, "generate.choose-folder", NULL,
                                    scf_generate_view_choose_folder);
}

static void scf_generate_view_class_init(ScfGenerateViewClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    object_class->get_property = scf_generate_view_get_property;
    object_class->set_property = scf_generate_view_set_property;
    object_class->dispose = scf_generate_view_dispose;
    object_class->finalize = scf_generate_view_finalize;
    scf_generate_view_install_properties(object_class);

    signals[SIGNAL_CHANGED] = g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
    signals[SIGNAL_MODEL_FOLDER_CHOSEN] =
        g_signal_new("model-folder-chosen", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_FILE);

    g_type_ensure(SCF_TYPE_STATUS_PAGE);
    g_type_ensure(SCF_TYPE_IMAGE_VIEWER);
    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/io/github/scflow/Studio/scf-generate-view.ui");
#define BIND(name) gtk_widget_class_bind_template_child(widget_class, ScfGenerateView, name)
    BIND(pages);
    BIND(prompt_view);
    BIND(negative_view);
    BIND(model_dropdown);
    BIND(model_names);
    BIND(steps_1);
    BIND(steps_2);
    BIND(steps_4);
    BIND(steps_8);
    BIND(steps_spin);
    BIND(seed_spin);
    BIND(guidance_spin);
    BIND(batch_spin);
    BIND(random_toggle);
    BIND(live_switch);
    BIND(live_row);
    BIND(action_stack);
    BIND(progress_revealer);
    BIND(progress_bar);
    BIND(viewer);
#undef BIND
    gtk_widget_class_bind_template_callback(widget_class, scf_generate_view_model_selected);
    gtk_widget_class_bind_template_callback(widget_class, scf_generate_view_steps_toggled);
    gtk_widget_class_bind_template_callback(widget_class, scf_generate_view_steps_changed);
    gtk_widget_class_bind_template_callback(widget_class, scf_generate_view_seed_changed);
    gtk_widget_class_bind_template_callback(widget_class, scf_generate_view_random_toggled);
    gtk_widget_class_bind_template_callback(widget_class, scf_generate_view_guidance_changed);
    gtk_widget_class_bind_template_callback(widget_class, scf_generate_view_batch_changed);

    scf_generate_view_install_actions(widget_class);
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
    gtk_widget_class_set_css_name(widget_class, "generateview");
}

static void scf_generate_view_init(ScfGenerateView *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    scf_image_viewer_add_shortcuts(self->viewer, GTK_WIDGET(self));
    g_signal_connect_swapped(gtk_text_view_get_buffer(self->prompt_view), "changed",
                             G_CALLBACK(scf_generate_view_prompt_changed), self);
    g_signal_connect_swapped(gtk_text_view_get_buffer(self->negative_view), "changed",
                             G_CALLBACK(scf_generate_view_negative_changed), self);
    g_signal_connect_swapped(self->live_switch, "notify::active",
                             G_CALLBACK(scf_generate_view_live_toggled), self);
    scf_generate_view_sync_steps_toggles(self);
    gtk_widget_set_sensitive(self->live_row, FALSE);
}

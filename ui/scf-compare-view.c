#include "scf-compare-view.h"
#include "scf-pixel-texture.h"
#include "scf-status-page.h"
#include <glib/gi18n.h>

/* Images are enlarged to about this size (whole multiples of their own), so
 * that a 32×32 image shows its pixels; four columns and more get less room
 * so that they fit beside the settings in a window of default size. */
#define SHOWN_SIZE 160
#define SHOWN_SIZE_MANY 128

struct _ScfCompareView {
    GtkWidget parent_instance;

    GtkStack *pages, *action_stack, *result_stack;
    GtkEntry *prompt_entry;
    GtkLabel *model_label, *figures_label, *status_label, *error_label;
    GtkSpinButton *seed_spin, *teacher_steps_spin;
    GtkToggleButton *steps_1, *steps_2, *steps_4;
    GtkDropDown *teacher_dropdown;
    GtkStringList *teacher_names;
    GtkWidget *teacher_steps_row, *columns_box;
    GtkRevealer *progress_revealer, *error_revealer;
    GtkProgressBar *progress_bar;

    GStrv teacher_ids;
    gboolean busy, syncing;
};

G_DEFINE_FINAL_TYPE(ScfCompareView, scf_compare_view, GTK_TYPE_WIDGET)

enum { PROP_0, PROP_PROMPT, PROP_SEED, PROP_TEACHER, PROP_TEACHER_STEPS, PROP_BUSY, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIGNAL_SAVE_REQUESTED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* ---- settings ---- */

static const char *scf_compare_view_teacher(ScfCompareView *self)
{
    guint i = gtk_drop_down_get_selected(self->teacher_dropdown);
    /* position 0 is "None" */
    if (!self->teacher_ids || i == 0 || i == GTK_INVALID_LIST_POSITION ||
        i > g_strv_length(self->teacher_ids))
        return NULL;
    return self->teacher_ids[i - 1];
}

static void scf_compare_view_select_teacher(ScfCompareView *self, const char *id)
{
    guint n = self->teacher_ids ? g_strv_length(self->teacher_ids) : 0, at = 0;
    for (guint i = 0; id && i < n; i++)
        if (g_strcmp0(self->teacher_ids[i], id) == 0)
            at = i + 1;
    gtk_drop_down_set_selected(self->teacher_dropdown, at);
}

static void scf_compare_view_teacher_selected(ScfCompareView *self)
{
    gtk_widget_set_sensitive(self->teacher_steps_row, scf_compare_view_teacher(self) != NULL);
    if (!self->syncing)
        g_object_notify_by_pspec(G_OBJECT(self), props[PROP_TEACHER]);
}

/* At least one step count stays on: a comparison of nothing is no use. */
static void scf_compare_view_steps_toggled(ScfCompareView *self, GtkToggleButton *toggle)
{
    int steps[3];
    if (scf_compare_view_get_step_counts(self, steps, 3) == 0)
        gtk_toggle_button_set_active(toggle, TRUE);
}

int scf_compare_view_get_step_counts(ScfCompareView *self, int *steps, int max)
{
    g_return_val_if_fail(SCF_IS_COMPARE_VIEW(self), 0);
    GtkToggleButton *all[] = { self->steps_1, self->steps_2, self->steps_4 };
    int n = 0;
    for (gsize i = 0; i < G_N_ELEMENTS(all) && n < max; i++)
        if (gtk_toggle_button_get_active(all[i]))
            steps[n++] = (int)g_ascii_strtoll(gtk_button_get_label(GTK_BUTTON(all[i])), NULL, 10);
    return n;
}

static void scf_compare_view_prompt_activated(ScfCompareView *self)
{
    gtk_widget_activate_action(GTK_WIDGET(self), "win.compare", NULL);
}

void scf_compare_view_set_models(ScfCompareView *self, const char *model_name,
                                 const char *const *teacher_ids,
                                 const char *const *teacher_names)
{
    g_return_if_fail(SCF_IS_COMPARE_VIEW(self));
    g_autofree char *kept = g_strdup(scf_compare_view_teacher(self));
    self->syncing = TRUE;
    g_strfreev(self->teacher_ids);
    self->teacher_ids = g_strdupv((GStrv)teacher_ids);
    guint old = g_list_model_get_n_items(G_LIST_MODEL(self->teacher_names));
    const char *none[] = { _("None"), NULL };
    gtk_string_list_splice(self->teacher_names, 0, old, none);
    gtk_string_list_splice(self->teacher_names, 1, 0, teacher_names);
    scf_compare_view_select_teacher(self, kept);
    self->syncing = FALSE;
    g_autofree char *text = model_name ? g_strdup_printf(_("Model: %s (chosen on the Generate page)"),
                                                         model_name)
                                       : NULL;
    gtk_label_set_label(self->model_label, text ? text : "");
    gtk_stack_set_visible_child_name(self->pages, model_name ? "main" : "empty");
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_TEACHER]);
}

/* ---- progress ---- */

void scf_compare_view_set_busy(ScfCompareView *self, gboolean busy)
{
    g_return_if_fail(SCF_IS_COMPARE_VIEW(self));
    if (self->busy == busy)
        return;
    self->busy = busy;
    gtk_stack_set_visible_child_name(self->action_stack, busy ? "cancel" : "compare");
    gtk_revealer_set_reveal_child(self->progress_revealer, busy);
    if (busy)
        gtk_revealer_set_reveal_child(self->error_revealer, FALSE);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "compare.save",
                                  !busy && gtk_widget_get_first_child(self->columns_box));
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_BUSY]);
}

void scf_compare_view_set_progress(ScfCompareView *self, int step, int steps)
{
    g_return_if_fail(SCF_IS_COMPARE_VIEW(self));
    gtk_progress_bar_set_fraction(self->progress_bar, steps > 0 ? (double)step / steps : 0);
    g_autofree char *text = g_strdup_printf(_("Step %d of %d"), step, steps);
    gtk_progress_bar_set_text(self->progress_bar, text);
}

/* ---- results ---- */

static GtkWidget *scf_compare_view_label(const char *text, const char *css_class)
{
    GtkWidget *label = gtk_label_new(text);
    gtk_label_set_wrap(GTK_LABEL(label), TRUE);
    gtk_label_set_justify(GTK_LABEL(label), GTK_JUSTIFY_CENTER);
    gtk_widget_add_css_class(label, css_class);
    return label;
}

/* The picture on top, so that the pictures line up whatever their labels. */
static GtkWidget *scf_compare_view_column(GdkTexture *texture, const char *title,
                                          const char *caption, const char *prompt, int shown)
{
    int size = MAX(gdk_texture_get_width(texture), gdk_texture_get_height(texture));
    g_autoptr(GdkTexture) big = scf_pixel_texture_scale(texture, MAX(1, shown / size));
    GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
    GtkWidget *heading = scf_compare_view_label(title, "heading");
    GtkWidget *time = scf_compare_view_label(caption, "dim-label");
    GtkWidget *picture = gtk_picture_new_for_paintable(GDK_PAINTABLE(big));
    gtk_widget_set_name(picture, "compare-picture");
    gtk_picture_set_can_shrink(GTK_PICTURE(picture), FALSE);
    gtk_widget_set_halign(picture, GTK_ALIGN_CENTER);
    gtk_picture_set_alternative_text(GTK_PICTURE(picture), prompt);
    gtk_accessible_update_relation(GTK_ACCESSIBLE(picture), GTK_ACCESSIBLE_RELATION_LABELLED_BY,
                                   heading, NULL, GTK_ACCESSIBLE_RELATION_DESCRIBED_BY, time,
                                   NULL, -1);
    gtk_box_append(GTK_BOX(box), picture);
    gtk_box_append(GTK_BOX(box), heading);
    gtk_box_append(GTK_BOX(box), time);
    return box;
}

void scf_compare_view_show_results(ScfCompareView *self, GdkTexture *const *textures,
                                   const char *const *titles, const char *const *captions,
                                   guint n,
                                   const char *const *figures, const char *prompt)
{
    g_return_if_fail(SCF_IS_COMPARE_VIEW(self));
    for (GtkWidget *child; (child = gtk_widget_get_first_child(self->columns_box));)
        gtk_box_remove(GTK_BOX(self->columns_box), child);
    for (guint i = 0; i < n; i++)
        gtk_box_append(GTK_BOX(self->columns_box),
                       scf_compare_view_column(textures[i], titles[i], captions[i], prompt,
                                               n > 3 ? SHOWN_SIZE_MANY : SHOWN_SIZE));
    g_autofree char *text = g_strjoinv("\n", (GStrv)figures);
    gtk_label_set_label(self->figures_label, text);
    gtk_label_set_label(self->status_label, "");
    gtk_stack_set_visible_child_name(self->result_stack, "results");
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "compare.save", n > 0 && !self->busy);
}

void scf_compare_view_show_status(ScfCompareView *self, const char *text)
{
    g_return_if_fail(SCF_IS_COMPARE_VIEW(self));
    gtk_label_set_label(self->status_label, text);
}

void scf_compare_view_show_error(ScfCompareView *self, const char *message)
{
    g_return_if_fail(SCF_IS_COMPARE_VIEW(self));
    gtk_label_set_label(self->error_label, message);
    gtk_revealer_set_reveal_child(self->error_revealer, TRUE);
}

/* ---- saving ---- */

static void scf_compare_view_save_response(GtkNativeDialog *dialog, int response, gpointer data)
{
    ScfCompareView *self = data;
    if (response == GTK_RESPONSE_ACCEPT) {
        g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
        if (file)
            g_signal_emit(self, signals[SIGNAL_SAVE_REQUESTED], 0, file);
    }
    g_object_unref(dialog);
    g_object_unref(self);
}

static void scf_compare_view_save(GtkWidget *widget, const char *action, GVariant *param)
{
    GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
        _("Save Comparison"), GTK_WINDOW(gtk_widget_get_root(widget)),
        GTK_FILE_CHOOSER_ACTION_SAVE, _("_Save"), _("_Cancel"));
    gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(dialog), TRUE);
    gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(dialog), _("comparison.png"));
    g_autoptr(GtkFileFilter) filter = gtk_file_filter_new();
    gtk_file_filter_set_name(filter, _("PNG images"));
    gtk_file_filter_add_mime_type(filter, "image/png");
    gtk_file_chooser_add_filter(GTK_FILE_CHOOSER(dialog), filter);
    g_signal_connect(dialog, "response", G_CALLBACK(scf_compare_view_save_response),
                     g_object_ref(widget));
    gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

/* ---- GObject ---- */

static void scf_compare_view_get_property(GObject *object, guint prop_id, GValue *value,
                                          GParamSpec *pspec)
{
    ScfCompareView *self = SCF_COMPARE_VIEW(object);
    switch (prop_id) {
    case PROP_PROMPT:
        g_value_set_string(value, gtk_editable_get_text(GTK_EDITABLE(self->prompt_entry)));
        break;
    case PROP_SEED:
        g_value_set_uint64(value, (guint64)gtk_spin_button_get_value(self->seed_spin));
        break;
    case PROP_TEACHER:
        g_value_set_string(value, scf_compare_view_teacher(self));
        break;
    case PROP_TEACHER_STEPS:
        g_value_set_int(value, gtk_spin_button_get_value_as_int(self->teacher_steps_spin));
        break;
    case PROP_BUSY:
        g_value_set_boolean(value, self->busy);
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void scf_compare_view_set_property(GObject *object, guint prop_id, const GValue *value,
                                          GParamSpec *pspec)
{
    ScfCompareView *self = SCF_COMPARE_VIEW(object);
    switch (prop_id) {
    case PROP_PROMPT: {
        const char *text = g_value_get_string(value);
        gtk_editable_set_text(GTK_EDITABLE(self->prompt_entry), text ? text : "");
        break;
    }
    case PROP_SEED:
        gtk_spin_button_set_value(self->seed_spin, (double)g_value_get_uint64(value));
        break;
    case PROP_TEACHER:
        scf_compare_view_select_teacher(self, g_value_get_string(value));
        break;
    case PROP_TEACHER_STEPS:
        gtk_spin_button_set_value(self->teacher_steps_spin, g_value_get_int(value));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void scf_compare_view_dispose(GObject *object)
{
    gtk_widget_dispose_template(GTK_WIDGET(object), SCF_TYPE_COMPARE_VIEW);
    G_OBJECT_CLASS(scf_compare_view_parent_class)->dispose(object);
}

static void scf_compare_view_finalize(GObject *object)
{
    g_strfreev(SCF_COMPARE_VIEW(object)->teacher_ids);
    G_OBJECT_CLASS(scf_compare_view_parent_class)->finalize(object);
}

static void scf_compare_view_class_init(ScfCompareViewClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    object_class->get_property = scf_compare_view_get_property;
    object_class->set_property = scf_compare_view_set_property;
    object_class->dispose = scf_compare_view_dispose;
    object_class->finalize = scf_compare_view_finalize;

    const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
    props[PROP_PROMPT] = g_param_spec_string("prompt", NULL, NULL, "", rw);
    props[PROP_SEED] = g_param_spec_uint64("seed", NULL, NULL, 0, G_MAXUINT32, 0, rw);
    props[PROP_TEACHER] = g_param_spec_string("teacher", NULL, NULL, NULL,
                                              rw | G_PARAM_EXPLICIT_NOTIFY);
    props[PROP_TEACHER_STEPS] = g_param_spec_int("teacher-steps", NULL, NULL, 1, 1000, 32, rw);
    props[PROP_BUSY] = g_param_spec_boolean("busy", NULL, NULL, FALSE,
                                            G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, props);

    signals[SIGNAL_SAVE_REQUESTED] =
        g_signal_new("save-requested", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_FILE);

    g_type_ensure(SCF_TYPE_STATUS_PAGE);
    gtk_widget_class_set_template_from_resource(widget_class,
                                                "/io/github/scflow/Studio/scf-compare-view.ui");
#define BIND(name) gtk_widget_class_bind_template_child(widget_class, ScfCompareView, name)
    BIND(pages);
    BIND(action_stack);
    BIND(result_stack);
    BIND(prompt_entry);
    BIND(model_label);
    BIND(figures_label);
    BIND(status_label);
    BIND(error_label);
    BIND(seed_spin);
    BIND(teacher_steps_spin);
    BIND(steps_1);
    BIND(steps_2);
    BIND(steps_4);
    BIND(teacher_dropdown);
    BIND(teacher_names);
    BIND(teacher_steps_row);
    BIND(columns_box);
    BIND(progress_revealer);
    BIND(error_revealer);
    BIND(progress_bar);
#undef BIND
    gtk_widget_class_bind_template_callback(widget_class, scf_compare_view_teacher_selected);
    gtk_widget_class_bind_template_callback(widget_class, scf_compare_view_steps_toggled);
    gtk_widget_class_bind_template_callback(widget_class, scf_compare_view_prompt_activated);

    gtk_widget_class_install_action(widget_class, "compare.save", NULL, scf_compare_view_save);
    /* Escape cancels while the focus is anywhere on the page; the window's
     * own Escape belongs to the Generate page. */
    gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Escape, 0, "win.compare-cancel",
                                        NULL);
    gtk_widget_class_set_layout_manager_type(widget_class, GTK_TYPE_BIN_LAYOUT);
    gtk_widget_class_set_css_name(widget_class, "compareview");
}

static void scf_compare_view_init(ScfCompareView *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    const char *none[] = { _("None"), NULL };
    gtk_string_list_splice(self->teacher_names, 0, 0, none);
    gtk_widget_set_sensitive(self->teacher_steps_row, FALSE);
    gtk_widget_action_set_enabled(GTK_WIDGET(self), "compare.save", FALSE);
}

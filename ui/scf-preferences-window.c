#include "scf-preferences-window.h"
#include <glib/gi18n.h>

struct _ScfPreferencesWindow {
    GtkWindow parent_instance;
    GtkDropDown *device_dropdown, *precision_dropdown;
    GtkSpinButton *threads_spin;
};

G_DEFINE_FINAL_TYPE(ScfPreferencesWindow, scf_preferences_window, GTK_TYPE_WINDOW)

enum { PROP_0, PROP_DEVICE, PROP_PRECISION, PROP_THREADS, N_PROPS };
static GParamSpec *props[N_PROPS];

/* In the order of the drop-downs' items. */
static const char *const device_ids[] = { "auto", "cpu", "cuda" };
static const char *const precision_ids[] = { "fp32", "tf32", "bf16", "fp16" };

/* The id of the drop-down's item; the first when none is selected. */
static const char *scf_preferences_window_selected_id(GtkDropDown *dropdown,
                                                      const char *const *ids, guint n_ids)
{
    guint selected = gtk_drop_down_get_selected(dropdown);
    return selected < n_ids ? ids[selected] : ids[0];
}

static void scf_preferences_window_select_id(GtkDropDown *dropdown, const char *const *ids,
                                             guint n_ids, const char *id, const char *what)
{
    for (guint i = 0; i < n_ids; i++) {
        if (g_strcmp0(id, ids[i]) == 0) {
            gtk_drop_down_set_selected(dropdown, i);
            return;
        }
    }
    g_warning("Preferences: unknown %s “%s”", what, id);
}

/* The processor computes in fp32 only: the precision is CUDA's, and says so
 * where it cannot apply. */
static void scf_preferences_window_update_precision(ScfPreferencesWindow *self)
{
    gboolean cpu = gtk_drop_down_get_selected(self->device_dropdown) == 1;
    GtkWidget *precision = GTK_WIDGET(self->precision_dropdown);
    gtk_widget_set_sensitive(precision, !cpu);
    gtk_widget_set_tooltip_text(precision,
                                cpu ? _("The processor always computes in FP32: choose "
                                        "Automatic or GPU (CUDA) as the device to change this.")
                                    : NULL);
}

static void scf_preferences_window_device_changed(ScfPreferencesWindow *self)
{
    scf_preferences_window_update_precision(self);
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_DEVICE]);
}

static void scf_preferences_window_precision_changed(ScfPreferencesWindow *self)
{
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PRECISION]);
}

static void scf_preferences_window_threads_changed(ScfPreferencesWindow *self)
{
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_THREADS]);
}

static void scf_preferences_window_get_property(GObject *object, guint prop_id, GValue *value,
                                                GParamSpec *pspec)
{
    ScfPreferencesWindow *self = SCF_PREFERENCES_WINDOW(object);
    switch (prop_id) {
    case PROP_DEVICE:
        g_value_set_string(value, scf_preferences_window_selected_id(
                                      self->device_dropdown, device_ids,
                                      G_N_ELEMENTS(device_ids)));
        break;
    case PROP_PRECISION:
        g_value_set_string(value, scf_preferences_window_selected_id(
                                      self->precision_dropdown, precision_ids,
                                      G_N_ELEMENTS(precision_ids)));
        break;
    case PROP_THREADS:
        g_value_set_int(value, gtk_spin_button_get_value_as_int(self->threads_spin));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void scf_preferences_window_set_property(GObject *object, guint prop_id,
                                                const GValue *value, GParamSpec *pspec)
{
    ScfPreferencesWindow *self = SCF_PREFERENCES_WINDOW(object);
    switch (prop_id) {
    case PROP_DEVICE:
        scf_preferences_window_select_id(self->device_dropdown, device_ids,
                                         G_N_ELEMENTS(device_ids), g_value_get_string(value),
                                         "device");
        break;
    case PROP_PRECISION:
        scf_preferences_window_select_id(self->precision_dropdown, precision_ids,
                                         G_N_ELEMENTS(precision_ids), g_value_get_string(value),
                                         "precision");
        break;
    case PROP_THREADS:
        gtk_spin_button_set_value(self->threads_spin, g_value_get_int(value));
        break;
    default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
    }
}

static void scf_preferences_window_dispose(GObject *object)
{
    gtk_widget_dispose_template(GTK_WIDGET(object), SCF_TYPE_PREFERENCES_WINDOW);
    G_OBJECT_CLASS(scf_preferences_window_parent_class)->dispose(object);
}

static void scf_preferences_window_class_init(ScfPreferencesWindowClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

    object_class->get_property = scf_preferences_window_get_property;
    object_class->set_property = scf_preferences_window_set_property;
    object_class->dispose = scf_preferences_window_dispose;

    /* Notification comes from the widgets' own signals, so that a change
     * made by the user and one made through the property both notify once. */
    GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
    props[PROP_DEVICE] = g_param_spec_string("device", NULL, NULL, "auto", flags);
    props[PROP_PRECISION] = g_param_spec_string("precision", NULL, NULL, "fp32", flags);
    props[PROP_THREADS] = g_param_spec_int("threads", NULL, NULL, 0, 256, 0, flags);
    g_object_class_install_properties(object_class, N_PROPS, props);

    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/scflow/Studio/scf-preferences-window.ui");
    gtk_widget_class_bind_template_child(widget_class, ScfPreferencesWindow, device_dropdown);
    gtk_widget_class_bind_template_child(widget_class, ScfPreferencesWindow, precision_dropdown);
    gtk_widget_class_bind_template_child(widget_class, ScfPreferencesWindow, threads_spin);
    gtk_widget_class_bind_template_callback(widget_class, scf_preferences_window_device_changed);
    gtk_widget_class_bind_template_callback(widget_class,
                                            scf_preferences_window_precision_changed);
    gtk_widget_class_bind_template_callback(widget_class, scf_preferences_window_threads_changed);

    gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void scf_preferences_window_init(ScfPreferencesWindow *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
    scf_preferences_window_update_precision(self);
}

ScfPreferencesWindow *scf_preferences_window_new(void)
{
    return g_object_new(SCF_TYPE_PREFERENCES_WINDOW, NULL);
}

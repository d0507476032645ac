#include "scf-preferences-window.h"

struct _ScfPreferencesWindow {
    GtkWindow parent_instance;
    GtkDropDown *device_dropdown;
    GtkSpinButton *threads_spin;
};

G_DEFINE_FINAL_TYPE(ScfPreferencesWindow, scf_preferences_window, GTK_TYPE_WINDOW)

enum { PROP_0, PROP_DEVICE, PROP_THREADS, N_PROPS };
static GParamSpec *props[N_PROPS];

/* In the order of the drop-down's items. */
static const char *const device_ids[] = { "auto", "cpu", "cuda" };

static void scf_preferences_window_device_changed(ScfPreferencesWindow *self)
{
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_DEVICE]);
}

static void scf_preferences_window_threads_changed(ScfPreferencesWindow *self)
{
    g_object_notify_by_pspec(G_OBJECT(self), props[PROP_THREADS]);
}

static void scf_preferences_window_set_device(ScfPreferencesWindow *self, const char *device)
{
    for (guint i = 0; i < G_N_ELEMENTS(device_ids); i++) {
        if (g_strcmp0(device, device_ids[i]) == 0) {
            gtk_drop_down_set_selected(self->device_dropdown, i);
            return;
        }
    }
    g_warning("Preferences: unknown device “%s”; expected auto, cpu or cuda", device);
}

static void scf_preferences_window_get_property(GObject *object, guint prop_id, GValue *value,
                                                GParamSpec *pspec)
{
    ScfPreferencesWindow *self = SCF_PREFERENCES_WINDOW(object);
    switch (prop_id) {
    case PROP_DEVICE: {
        guint selected = gtk_drop_down_get_selected(self->device_dropdown);
        g_value_set_string(value, selected < G_N_ELEMENTS(device_ids) ? device_ids[selected]
                                                                      : device_ids[0]);
        break;
    }
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
        scf_preferences_window_set_device(self, g_value_get_string(value));
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
    props[PROP_THREADS] = g_param_spec_int("threads", NULL, NULL, 0, 256, 0, flags);
    g_object_class_install_properties(object_class, N_PROPS, props);

    gtk_widget_class_set_template_from_resource(
        widget_class, "/io/github/scflow/Studio/scf-preferences-window.ui");
    gtk_widget_class_bind_template_child(widget_class, ScfPreferencesWindow, device_dropdown);
    gtk_widget_class_bind_template_child(widget_class, ScfPreferencesWindow, threads_spin);
    gtk_widget_class_bind_template_callback(widget_class, scf_preferences_window_device_changed);
    gtk_widget_class_bind_template_callback(widget_class, scf_preferences_window_threads_changed);

    gtk_widget_class_add_binding_action(widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void scf_preferences_window_init(ScfPreferencesWindow *self)
{
    gtk_widget_init_template(GTK_WIDGET(self));
}

ScfPreferencesWindow *scf_preferences_window_new(void)
{
    return g_object_new(SCF_TYPE_PREFERENCES_WINDOW, NULL);
}

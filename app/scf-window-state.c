#include "scf-window-state.h"

/* Saved on close rather than bound to the window's properties: a binding
 * would write the settings on every step of an interactive resize. */
static gboolean scf_window_state_save(GtkWindow *window, GSettings *settings)
{
    int width = 0, height = 0;
    /* While maximized this is still the unmaximized size, which is the one
     * to come back to. */
    gtk_window_get_default_size(window, &width, &height);
    if (width > 0 && height > 0) {
        g_settings_set_int(settings, "window-width", width);
        g_settings_set_int(settings, "window-height", height);
    }
    g_settings_set_boolean(settings, "window-maximized", gtk_window_is_maximized(window));
    return GDK_EVENT_PROPAGATE;
}

void scf_window_state_track(GtkWindow *window, GSettings *settings)
{
    gtk_window_set_default_size(window, g_settings_get_int(settings, "window-width"),
                                g_settings_get_int(settings, "window-height"));
    if (g_settings_get_boolean(settings, "window-maximized"))
        gtk_window_maximize(window);
    g_signal_connect_object(window, "close-request", G_CALLBACK(scf_window_state_save), settings,
                            0);
}

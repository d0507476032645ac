/* The main window's size and maximized state, kept in GSettings
 * (window-width, window-height, window-maximized). */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

/* Gives window the size stored in settings, and stores its size there again
 * when it closes. Call before the window is first shown. */
void scf_window_state_track(GtkWindow *window, GSettings *settings);

G_END_DECLS

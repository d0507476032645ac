/* What the UI tests share: waiting on the main loop for a condition or a
 * drawn frame, finding widgets, and screenshots into $SCF_TEST_OUT. */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef gboolean (*ui_condition)(gpointer data);

/* Runs the main loop until cond holds; FALSE after seconds. */
gboolean ui_wait_until(ui_condition cond, gpointer data, double seconds);
/* Waits until widget has been laid out and drawn with its current state. */
void ui_wait_drawn(GtkWidget *widget);

/* The first mapped window of app of the given type, or NULL. */
GtkWindow *ui_app_window_of_type(GtkApplication *app, GType type);
/* Depth-first search for a descendant of the given type, widget included. */
GtkWidget *ui_find_descendant(GtkWidget *widget, GType type);
/* The descendant whose gtk_widget_get_name() is name, or NULL. */
GtkWidget *ui_find_named(GtkWidget *widget, const char *name);
void ui_collect_descendants(GtkWidget *widget, GType type, GPtrArray *into);

/* Makes fresh home, data, config and cache folders under a new temporary
 * folder (its name from template, as g_dir_make_tmp takes it) and points
 * the XDG variables at them; call it before anything reads them. Returns
 * the temporary folder. */
char *ui_isolate_folders(const char *template);
/* Deletes path and everything under it. */
void ui_remove_tree(const char *path);

/* Renders widget as it is on screen into $SCF_TEST_OUT/name. */
void ui_save_screenshot(GtkWidget *widget, const char *name);

G_END_DECLS

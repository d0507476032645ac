/* What the UI tests share: waiting on the main loop for a condition or a
 * drawn frame, measuring its stalls, finding widgets, and screenshots into
 * $SCF_TEST_OUT. */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

typedef gboolean (*ui_condition)(gpointer data);

/* The start of an application UI test (name for messages): private home and
 * XDG folders (their root in *root), the Cairo renderer unless GSK_RENDERER
 * says otherwise, g_test_init, a display, settings in memory, no
 * animations. Returns -1 to go on, else the status to exit with (77 when no
 * display can be opened). */
int ui_test_begin(const char *name, int *argc, char ***argv, char **root);

/* Runs the main loop until cond holds; FALSE after seconds. */
gboolean ui_wait_until(ui_condition cond, gpointer data, double seconds);
/* Waits until widget has been laid out and drawn with its current state. */
void ui_wait_drawn(GtkWidget *widget);

/* The main-loop stall monitor: a 5 ms timer that records the longest gap
 * between two of its runs, that is the longest time the main loop was kept
 * from running, by work on the main thread or by waiting for a core. It
 * also records the most processor time the main thread used between two
 * runs (longest_busy, µs): the work part alone, which other load on the
 * machine does not inflate. */
typedef struct {
    gint64 last, longest;             /* µs of wall time */
    gint64 last_cpu, longest_busy;    /* µs of the main thread's processor time */
    guint source;
} ui_stall_monitor;
void ui_stall_start(ui_stall_monitor *m);
/* Stops it; the longest gap in milliseconds (longest_busy stays readable). */
double ui_stall_stop_ms(ui_stall_monitor *m);

/* Registers app (aborting the test with the reason when it cannot). */
void ui_app_register(GApplication *app);
/* Activates app.quit and asserts that every window is gone within seconds. */
void ui_app_quit(GtkApplication *app, double seconds);

/* The first mapped window of app of the given type, or NULL. */
GtkWindow *ui_app_window_of_type(GtkApplication *app, GType type);
/* Depth-first search for a descendant of the given type, widget included. */
GtkWidget *ui_find_descendant(GtkWidget *widget, GType type);
/* The descendant whose gtk_widget_get_name() is name, or NULL. */
GtkWidget *ui_find_named(GtkWidget *widget, const char *name);
void ui_collect_descendants(GtkWidget *widget, GType type, GPtrArray *into);

/* Points HOME and the XDG data, config and cache folders at fresh folders
 * under a new temporary folder (named after prefix), returned; call before
 * anything reads them. */
char *ui_isolate_folders(const char *prefix);
/* Removes path and everything under it (symbolic links, not their targets). */
void ui_remove_tree(const char *path);

/* Renders widget as it is on screen into $SCF_TEST_OUT/name. */
void ui_save_screenshot(GtkWidget *widget, const char *name);

G_END_DECLS

/* What the UI tests share: the studio application under test and its
 * setup, waiting on the main loop for a condition or a drawn frame,
 * measuring its stalls, finding widgets, and screenshots into
 * $SCF_TEST_OUT. */
#pragma once
#include <gtk/gtk.h>
#include "scf-application.h"
#include "scf-job-runner.h"
#include "scf-window.h"

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
/* Runs the main loop for ms milliseconds. */
void ui_run_for_ms(int ms);
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

/* The limits the UI tests hold a stall to while the engine works (a
 * generation on a worker thread, a run in its child process). The goal is
 * 50 ms. What the main thread itself does within one stall (longest_busy)
 * must stay under it; that part does not grow with other load. The wall
 * stall also holds the time the main thread waits for a core, which the
 * engine and parallel tests keep busy on a 2-core machine: 283 ms was
 * measured at a load average of 250 and 341 ms while the whole suite ran,
 * so its limit is 500 ms, which still catches the main thread running
 * engine work or blocking on it (a 1000-step generation takes seconds). */
#define UI_BUSY_LIMIT_MS 50
#define UI_STALL_LIMIT_MS 500
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
/* The visible page of the stack within widget that has a page named
 * a_page_name (an error when there is none). */
const char *ui_stack_page(GtkWidget *within, const char *a_page_name);

/* Points HOME and the XDG data, config and cache folders at fresh folders
 * under a new temporary folder (named after prefix), returned; call before
 * anything reads them. */
char *ui_isolate_folders(const char *prefix);

/* Renders widget as it is on screen into $SCF_TEST_OUT/name. */
void ui_save_screenshot(GtkWidget *widget, const char *name);

/* The studio application a UI test drives: one a process, shared by its
 * cases, which run in order. */
typedef struct {
    ScfApplication *app;
    GSettings *settings;   /* the application's, in memory */
    char *root;            /* the private home and XDG folders */
    char *models_dir;      /* root/models, for ui_studio_write_model */
} ui_studio_state;
extern ui_studio_state ui_studio;

/* ui_test_begin, the settings schema asserted installed, and the settings,
 * which a test may change (and write its files) before ui_studio_start
 * makes the application. Returns ui_test_begin's -1 or exit status. */
int ui_studio_begin(const char *name, int *argc, char ***argv);
/* A tiny random-weight model models_dir/name (chk_tiny_model_write) with
 * the given default steps and guidance 1. */
void ui_studio_write_model(const char *name, int default_steps);
/* Makes and registers the application. */
void ui_studio_start(void);
/* g_test_run, then frees the application and settings and removes the
 * folders; the status to exit with. */
int ui_studio_run(void);

/* Activates the application and waits up to seconds for its main window. */
void ui_studio_activate(double seconds);
/* The main window, asserted to be shown. */
ScfWindow *ui_studio_window(void);
/* Whether the main window's action name ("generate", not "win.generate") is
 * enabled. */
gboolean ui_studio_action_enabled(const char *name);
/* models_dir/name (g_free it). */
char *ui_studio_model_path(const char *name);
/* The main window, once drawn as it is, into $SCF_TEST_OUT/name. */
void ui_studio_screenshot(const char *name);

/* What a generation on a job runner ended with. */
typedef struct {
    gboolean done;
    int steps_done;
    GError *error;
    ScfGeneration *generation;
} ui_job_outcome;
/* The callback of scf_job_runner_generate_async that fills the
 * ui_job_outcome it is given. */
void ui_job_finished(GObject *source, GAsyncResult *result, gpointer outcome);
/* ui_condition: the ui_job_outcome's job is done. */
gboolean ui_job_done(gpointer outcome);

G_END_DECLS

#include "build-config.h"
#include "scf-application.h"
#include "scf-gallery-controller.h"
#include "scf-compare-controller.h"
#include "scf-training-controller.h"
#include "scf-generate-controller.h"
#include "scf-job-runner.h"
#include "scf-preferences-window.h"
#include "scf-window-state.h"
#include "scf-window.h"
#include <glib/gi18n.h>

struct _ScfApplication {
    GtkApplication parent_instance;
    GSettings *settings;
    ScfJobRunner *runner;    /* engine work of every window, one job at a time */
};

G_DEFINE_FINAL_TYPE(ScfApplication, scf_application, GTK_TYPE_APPLICATION)

gboolean scf_application_schema_installed(void)
{
    GSettingsSchemaSource *source = g_settings_schema_source_get_default();
    if (!source)
        return FALSE;
    g_autoptr(GSettingsSchema) schema = g_settings_schema_source_lookup(source, SCF_APP_ID, TRUE);
    return schema != NULL;
}

/* The main window dialogs belong to; NULL before the first activation. */
static ScfWindow *scf_application_main_window(ScfApplication *self)
{
    for (GList *l = gtk_application_get_windows(GTK_APPLICATION(self)); l; l = l->next)
        if (SCF_IS_WINDOW(l->data))
            return SCF_WINDOW(l->data);
    return NULL;
}

/* A dialog that is transient for the main window and closes with it. */
static void scf_application_present_dialog(ScfApplication *self, GtkWindow *dialog)
{
    gtk_window_set_transient_for(dialog, GTK_WINDOW(scf_application_main_window(self)));
    gtk_window_set_destroy_with_parent(dialog, TRUE);
    gtk_window_set_application(dialog, GTK_APPLICATION(self));
    gtk_window_present(dialog);
}

static void scf_application_quit_activated(GSimpleAction *action, GVariant *parameter,
                                           gpointer user_data)
{
    GtkApplication *app = user_data;
    /* Closing, unlike destroying, lets each main window save its size; its
     * dialogs go with it. */
    g_autoptr(GPtrArray) main_windows = g_ptr_array_new_with_free_func(g_object_unref);
    for (GList *l = gtk_application_get_windows(app); l; l = l->next)
        if (SCF_IS_WINDOW(l->data))
            g_ptr_array_add(main_windows, g_object_ref(l->data));
    for (guint i = 0; i < main_windows->len; i++)
        gtk_window_close(main_windows->pdata[i]);
    g_application_quit(G_APPLICATION(app));
}

static void scf_application_about_activated(GSimpleAction *action, GVariant *parameter,
                                            gpointer user_data)
{
    ScfApplication *self = user_data;
    GtkWindow *about = g_object_new(GTK_TYPE_ABOUT_DIALOG,
        "modal", TRUE,
        "program-name", _("SCFlow Studio"),
        "logo-icon-name", SCF_APP_ID,
        "version", SCF_VERSION,
        "comments", _("Text-to-image generation with one-step flow models distilled by SCFlow"),
        "copyright", _("© 2026 The SCFlow Studio developers"),
        "license-type", GTK_LICENSE_MIT_X11,
        NULL);
    scf_application_present_dialog(self, about);
}

static void scf_application_shortcuts_activated(GSimpleAction *action, GVariant *parameter,
                                                gpointer user_data)
{
    ScfWindow *window = scf_application_main_window(user_data);
    if (window)
        scf_window_show_shortcuts(window);
}

static void scf_application_preferences_activated(GSimpleAction *action, GVariant *parameter,
                                                  gpointer user_data)
{
    ScfApplication *self = user_data;
    ScfPreferencesWindow *preferences = scf_preferences_window_new();
    /* The bindings end with the window. */
    g_settings_bind(self->settings, "device", preferences, "device", G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(self->settings, "precision", preferences, "precision",
                    G_SETTINGS_BIND_DEFAULT);
    g_settings_bind(self->settings, "threads", preferences, "threads", G_SETTINGS_BIND_DEFAULT);
    scf_application_present_dialog(self, GTK_WINDOW(preferences));
}

static const GActionEntry app_actions[] = {
    { .name = "quit", .activate = scf_application_quit_activated },
    { .name = "about", .activate = scf_application_about_activated },
    { .name = "shortcuts", .activate = scf_application_shortcuts_activated },
    { .name = "preferences", .activate = scf_application_preferences_activated },
};

/* The shortcuts window reads its keys from here, so this is the one list,
 * but for Escape (cancel), which ui/scf-window.c binds: an application
 * accelerator runs before the focused widget sees the key, and Escape must
 * first close what is open (a popover, the gallery's search). */
static const struct {
    const char *action;
    const char *accels[3];
} app_accels[] = {
    { "win.generate", { "<Control>Return", "<Control>KP_Enter", NULL } },
    { "win.search-gallery", { "<Control>f", NULL } },
    { "app.quit", { "<Control>q", NULL } },
    { "app.preferences", { "<Control>comma", NULL } },
    { "app.shortcuts", { "<Control>question", NULL } },
    { "win.page::generate", { "<Alt>1", NULL } },
    { "win.page::compare", { "<Alt>2", NULL } },
    { "win.page::gallery", { "<Alt>3", NULL } },
    { "win.page::training", { "<Alt>4", NULL } },
};

static void scf_application_startup(GApplication *application)
{
    ScfApplication *self = SCF_APPLICATION(application);

    G_APPLICATION_CLASS(scf_application_parent_class)->startup(application);

    self->settings = g_settings_new(SCF_APP_ID);
    self->runner = scf_job_runner_new();
    gtk_window_set_default_icon_name(SCF_APP_ID);

    g_autoptr(GtkCssProvider) css = gtk_css_provider_new();
    gtk_css_provider_load_from_resource(css, "/io/github/scflow/Studio/style.css");
    gtk_style_context_add_provider_for_display(gdk_display_get_default(), GTK_STYLE_PROVIDER(css),
                                               GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);

    g_action_map_add_action_entries(G_ACTION_MAP(self), app_actions, G_N_ELEMENTS(app_actions),
                                    self);
    for (gsize i = 0; i < G_N_ELEMENTS(app_accels); i++)
        gtk_application_set_accels_for_action(GTK_APPLICATION(self), app_accels[i].action,
                                              app_accels[i].accels);
}

static void scf_application_activate(GApplication *application)
{
    ScfApplication *self = SCF_APPLICATION(application);
    ScfWindow *window = scf_application_main_window(self);
    if (!window) {
        window = scf_window_new(GTK_APPLICATION(self));
        scf_window_state_track(GTK_WINDOW(window), self->settings);
        ScfGenerateController *generate = scf_generate_controller_attach(
            GTK_APPLICATION_WINDOW(window), scf_window_get_generate_view(window), self->settings,
            self->runner);
        scf_gallery_controller_attach(GTK_APPLICATION_WINDOW(window),
                                      scf_window_get_gallery_view(window),
                                      scf_window_get_generate_view(window), generate,
                                      self->settings);
        scf_compare_controller_attach(GTK_APPLICATION_WINDOW(window),
                                      scf_window_get_compare_view(window),
                                      scf_window_get_generate_view(window), self->settings,
                                      self->runner);
        scf_training_controller_attach(GTK_APPLICATION_WINDOW(window),
                                       scf_window_get_training_view(window), self->settings);
    }
    gtk_window_present(GTK_WINDOW(window));
}

/* Stops the engine before the process ends: a job under way finishes its
 * step, a model being loaded finishes loading. */
static void scf_application_shutdown(GApplication *application)
{
    ScfApplication *self = SCF_APPLICATION(application);
    if (self->runner)
        scf_job_runner_shutdown(self->runner);
    G_APPLICATION_CLASS(scf_application_parent_class)->shutdown(application);
}

static void scf_application_dispose(GObject *object)
{
    g_clear_object(&SCF_APPLICATION(object)->runner);
    g_clear_object(&SCF_APPLICATION(object)->settings);
    G_OBJECT_CLASS(scf_application_parent_class)->dispose(object);
}

static void scf_application_class_init(ScfApplicationClass *klass)
{
    G_OBJECT_CLASS(klass)->dispose = scf_application_dispose;
    G_APPLICATION_CLASS(klass)->startup = scf_application_startup;
    G_APPLICATION_CLASS(klass)->activate = scf_application_activate;
    G_APPLICATION_CLASS(klass)->shutdown = scf_application_shutdown;
}

static void scf_application_init(ScfApplication *self)
{
}

ScfApplication *scf_application_new(GApplicationFlags flags)
{
    return g_object_new(SCF_TYPE_APPLICATION, "application-id", SCF_APP_ID, "flags", flags, NULL);
}

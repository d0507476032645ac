/* scflow-studio's GtkApplication: owns the settings, the job runner that
 * does the engine's work off the main thread, the application actions
 * (app.quit, app.about, app.shortcuts, app.preferences) and the keyboard
 * accelerators of every action, and opens the main window on activation,
 * with its Generate page joined to the engine (scf-generate-controller.h). */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SCF_TYPE_APPLICATION (scf_application_get_type())
G_DECLARE_FINAL_TYPE(ScfApplication, scf_application, SCF, APPLICATION, GtkApplication)

/* The settings schema must be installed (or found via GSETTINGS_SCHEMA_DIR)
 * before the application starts up: see scf_application_schema_installed(). */
ScfApplication *scf_application_new(GApplicationFlags flags);

/* TRUE when the settings schema io.github.scflow.Studio can be loaded. */
gboolean scf_application_schema_installed(void);

G_END_DECLS

/* The preferences window. It shows the values of its properties and notifies
 * when the user changes them; storing them is the caller's business (the
 * application binds them to GSettings).
 *   device:    "auto", "cpu" or "cuda"
 *   precision: "fp32", "tf32", "bf16" or "fp16": how a CUDA GPU's matrix
 *              products round; its choice is insensitive (with a tooltip
 *              saying why) while the device is "cpu"
 *   threads:   processor threads, 0 for one per core */
#pragma once
#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SCF_TYPE_PREFERENCES_WINDOW (scf_preferences_window_get_type())
G_DECLARE_FINAL_TYPE(ScfPreferencesWindow, scf_preferences_window, SCF, PREFERENCES_WINDOW,
                     GtkWindow)

ScfPreferencesWindow *scf_preferences_window_new(void);

G_END_DECLS

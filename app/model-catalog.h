/* Where models are found: the embedded default (data/models/default names
 * its folder), then the model folders inside the models folder. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    char *dir;               /* the model folder */
    char *name;              /* config.json (scflow.json) "name", else the folder's name */
    gboolean embedded;       /* the default shipped with the application */
    gboolean teacher;        /* config.json "kind" is "teacher" (its default) */
    int default_steps;       /* config.json defaults, as scf_model_load reads them */
    double default_guidance;
} scf_model_entry;

void scf_model_entry_free(scf_model_entry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(scf_model_entry, scf_model_entry_free)

/* DATADIR/relative of the installed application, else data/relative of the
 * source tree when running uninstalled (SCFLOW_DATADIR replaces both); NULL
 * when it exists in neither. */
char *scf_model_catalog_data_path(const char *relative);

/* The embedded default model's folder, installed or in the source tree when
 * running uninstalled; NULL when none is installed. */
char *scf_model_catalog_default_dir(void);

/* The models folder a setting names: the setting itself, or when it is empty
 * USER_DATA_DIR/scflow-studio/models. */
char *scf_model_catalog_folder(const char *setting);

/* The embedded default first, then every folder of models_folder holding a
 * config.json or a diffusers pipeline's model_index.json, by name. A
 * missing folder gives the embedded model alone.
 * Blocking file reads: call it off the main thread. */
GPtrArray *scf_model_catalog_scan(const char *models_folder);

G_END_DECLS

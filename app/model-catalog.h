/* Where models are found: the embedded ones (data/models; data/models/default
 * names the default, e.g. the one-step student, beside its teacher), then the
 * model folders inside the models folder. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    char *dir;               /* the model folder */
    char *name;              /* config.json (scflow.json) "name", else the folder's name */
    gboolean embedded;       /* shipped with the application */
    gboolean is_default;     /* the embedded default (data/models/default) */
    gboolean teacher;        /* config.json "kind" is "teacher" (its default) */
    char *teacher_name;      /* a student's config.json "teacher": the name of the
                              * model it was distilled from; NULL when not given */
    int default_steps;       /* config.json defaults, as scf_model_load reads them */
    double default_guidance;
} scf_model_entry;

void scf_model_entry_free(scf_model_entry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(scf_model_entry, scf_model_entry_free)

/* DATADIR/relative of the installed application, else data/relative of the
 * source tree when running uninstalled (SCFLOW_DATADIR replaces both); NULL
 * when it exists in neither. */
char *scf_model_catalog_data_path(const char *relative);

/* The embedded model folder data/models/name, installed or in the source
 * tree when running uninstalled; NULL when there is none of that name. */
char *scf_model_catalog_embedded_dir(const char *name);

/* The embedded default model's folder (data/models/default names it); NULL
 * when none is installed. */
char *scf_model_catalog_default_dir(void);

/* The first embedded teacher (the default if it is one, else by name): what
 * a distillation distils unless told otherwise. NULL when none. */
char *scf_model_catalog_embedded_teacher_dir(void);

/* The "default-model" setting that selects e: its folder's name for a model
 * of the models folder, "" for the embedded default, "built-in:NAME" for
 * another embedded model. */
#define SCF_MODEL_SETTING_BUILTIN "built-in:"
char *scf_model_catalog_setting_of(const scf_model_entry *e);
gboolean scf_model_catalog_entry_is(const scf_model_entry *e, const char *setting);

/* The models folder a setting names: the setting itself, or when it is empty
 * USER_DATA_DIR/scflow-studio/models. */
char *scf_model_catalog_folder(const char *setting);

/* The embedded models (the default first, the others by name), then every
 * folder of models_folder holding a config.json or a diffusers pipeline's
 * model_index.json, by name. A missing folder gives the embedded models
 * alone.
 * Blocking file reads: call it off the main thread. */
GPtrArray *scf_model_catalog_scan(const char *models_folder);

G_END_DECLS

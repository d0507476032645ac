#include "build-config.h"
#include "model-catalog.h"
#include "config.h"
#include "model.h"
#include <stdlib.h>
#include <string.h>

void scf_model_entry_free(scf_model_entry *e)
{
    if (!e)
        return;
    g_free(e->dir);
    g_free(e->name);
    g_free(e);
}

char *scf_model_catalog_data_path(const char *relative)
{
    /* SCFLOW_DATADIR replaces both places (a relocated install, or tests
     * that need a machine without the embedded model) */
    const char *env = g_getenv("SCFLOW_DATADIR");
    const char *roots[] = { env ? env : SCF_DATADIR, env ? env : SCF_SOURCE_DATADIR };
    for (size_t i = 0; i < G_N_ELEMENTS(roots); i++) {
        char *path = g_build_filename(roots[i], relative, NULL);
        if (g_file_test(path, G_FILE_TEST_EXISTS))
            return path;
        g_free(path);
    }
    return NULL;
}

char *scf_model_catalog_default_dir(void)
{
    g_autofree char *file = scf_model_catalog_data_path("models" G_DIR_SEPARATOR_S "default");
    g_autofree char *name = NULL;
    if (!file || !g_file_get_contents(file, &name, NULL, NULL))
        return NULL;
    g_autofree char *models = g_path_get_dirname(file);
    char *dir = g_build_filename(models, g_strstrip(name), NULL);
    if (g_file_test(dir, G_FILE_TEST_IS_DIR))
        return dir;
    g_free(dir);
    return NULL;
}

char *scf_model_catalog_folder(const char *setting)
{
    if (setting && *setting)
        return g_strdup(setting);
    return g_build_filename(g_get_user_data_dir(), "scflow-studio", "models", NULL);
}

/* Only what a chooser shows is read here; a config that is wrong in any
 * other way is still listed, so that loading it reports what is wrong
 * instead of the model silently missing from the list. A diffusers pipeline
 * keeps its name, kind and defaults in the optional scflow.json. */
static scf_model_entry *scf_model_catalog_read(const char *dir, gboolean embedded)
{
    g_autofree char *path = g_build_filename(dir, SCF_MODEL_CONFIG, NULL);
    g_autofree char *index = g_build_filename(dir, SCF_PIPELINE_INDEX, NULL);
    if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
        if (!g_file_test(index, G_FILE_TEST_IS_REGULAR))
            return NULL;
        g_free(path);
        path = g_build_filename(dir, SCF_PIPELINE_SETTINGS, NULL);
    }
    scf_model_entry *e = g_new0(scf_model_entry, 1);
    e->dir = g_strdup(dir);
    e->embedded = embedded;
    e->default_steps = 32;
    e->default_guidance = 1;
    e->teacher = TRUE;
    scf_config c;
    if (scf_config_load(&c, path, NULL)) {
        e->name = scf_config_string(&c, "name", NULL, FALSE);
        g_autofree char *kind = scf_config_string(&c, "kind", "teacher", FALSE);
        e->teacher = g_strcmp0(kind, "teacher") == 0;
        scf_config defaults;
        if (scf_config_has(&c, "defaults") && scf_config_child(&c, "defaults", &defaults)) {
            e->default_steps = (int)scf_config_int(&defaults, "steps", 32, 1, 1000, FALSE);
            e->default_guidance = scf_config_double(&defaults, "guidance", 1, 0, 100, FALSE);
            scf_config_clear(&defaults);
        }
        scf_config_clear(&c);
    }
    if (!e->name || !*e->name) {
        g_free(e->name);
        e->name = g_path_get_basename(dir);
    }
    return e;
}

static int scf_model_entry_compare(gconstpointer a, gconstpointer b)
{
    const scf_model_entry *x = *(scf_model_entry *const *)a, *y = *(scf_model_entry *const *)b;
    int c = g_utf8_collate(x->name, y->name);
    return c ? c : strcmp(x->dir, y->dir);
}

GPtrArray *scf_model_catalog_scan(const char *models_folder)
{
    GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)scf_model_entry_free);
    g_autofree char *embedded_dir = scf_model_catalog_default_dir();
    scf_model_entry *embedded = embedded_dir ? scf_model_catalog_read(embedded_dir, TRUE) : NULL;
    if (embedded)
        g_ptr_array_add(entries, embedded);

    g_autoptr(GDir) folder = g_dir_open(models_folder, 0, NULL);
    if (!folder)
        return entries;
    guint first = entries->len;
    for (const char *name; (name = g_dir_read_name(folder));) {
        g_autofree char *dir = g_build_filename(models_folder, name, NULL);
        scf_model_entry *e = g_file_test(dir, G_FILE_TEST_IS_DIR)
                                 ? scf_model_catalog_read(dir, FALSE) : NULL;
        if (e)
            g_ptr_array_add(entries, e);
    }
    qsort(entries->pdata + first, entries->len - first, sizeof(gpointer), scf_model_entry_compare);
    return entries;
}

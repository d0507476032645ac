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
    g_free(e->teacher_name);
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

char *scf_model_catalog_embedded_dir(const char *name)
{
    g_autofree char *models = scf_model_catalog_data_path("models");
    if (!models || !name || !*name || strchr(name, G_DIR_SEPARATOR))
        return NULL;
    char *dir = g_build_filename(models, name, NULL);
    if (g_file_test(dir, G_FILE_TEST_IS_DIR))
        return dir;
    g_free(dir);
    return NULL;
}

char *scf_model_catalog_default_dir(void)
{
    g_autofree char *file = scf_model_catalog_data_path("models" G_DIR_SEPARATOR_S "default");
    g_autofree char *name = NULL;
    if (!file || !g_file_get_contents(file, &name, NULL, NULL))
        return NULL;
    return scf_model_catalog_embedded_dir(g_strstrip(name));
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
        e->teacher_name = scf_config_string(&c, "teacher", NULL, FALSE);
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

/* Every model folder of folder (embedded: of the application's data), by
 * name, added to entries. */
static void scf_model_catalog_add_folder(GPtrArray *entries, const char *folder, gboolean embedded,
                                         const char *skip)
{
    g_autoptr(GDir) dir = g_dir_open(folder, 0, NULL);
    if (!dir)
        return;
    guint first = entries->len;
    for (const char *name; (name = g_dir_read_name(dir));) {
        g_autofree char *path = g_build_filename(folder, name, NULL);
        scf_model_entry *e = g_strcmp0(path, skip) != 0 && g_file_test(path, G_FILE_TEST_IS_DIR)
                                 ? scf_model_catalog_read(path, embedded) : NULL;
        if (e)
            g_ptr_array_add(entries, e);
    }
    qsort(entries->pdata + first, entries->len - first, sizeof(gpointer), scf_model_entry_compare);
}

/* The embedded models: the default first, then the others by name. */
static GPtrArray *scf_model_catalog_scan_embedded(void)
{
    GPtrArray *entries = g_ptr_array_new_with_free_func((GDestroyNotify)scf_model_entry_free);
    g_autofree char *default_dir = scf_model_catalog_default_dir();
    scf_model_entry *def = default_dir ? scf_model_catalog_read(default_dir, TRUE) : NULL;
    if (def) {
        def->is_default = TRUE;
        g_ptr_array_add(entries, def);
    }
    g_autofree char *models = scf_model_catalog_data_path("models");
    if (models)
        scf_model_catalog_add_folder(entries, models, TRUE, default_dir);
    return entries;
}

GPtrArray *scf_model_catalog_scan(const char *models_folder)
{
    GPtrArray *entries = scf_model_catalog_scan_embedded();
    scf_model_catalog_add_folder(entries, models_folder, FALSE, NULL);
    return entries;
}

char *scf_model_catalog_embedded_teacher_dir(void)
{
    g_autoptr(GPtrArray) entries = scf_model_catalog_scan_embedded();
    for (guint i = 0; i < entries->len; i++) {
        const scf_model_entry *e = entries->pdata[i];
        if (e->teacher)
            return g_strdup(e->dir);
    }
    return NULL;
}

char *scf_model_catalog_setting_of(const scf_model_entry *e)
{
    g_autofree char *base = g_path_get_basename(e->dir);
    if (!e->embedded)
        return g_steal_pointer(&base);
    return e->is_default ? g_strdup("") : g_strconcat(SCF_MODEL_SETTING_BUILTIN, base, NULL);
}

gboolean scf_model_catalog_entry_is(const scf_model_entry *e, const char *setting)
{
    g_autofree char *mine = scf_model_catalog_setting_of(e);
    return g_strcmp0(mine, setting) == 0;
}

/* What every `scflow` subcommand shares: option parsing, the compute
 * device, and finding and loading a model. */
#include "build-config.h"
#include "cli.h"
#include "model-catalog.h"
#include <stdio.h>
#include <stdlib.h>

gboolean scf_cli_parse(const char *name, const char *summary, GOptionEntry *entries,
                       int *argc, char ***argv)
{
    g_autofree char *param = g_strdup_printf("- %s", summary);
    g_autoptr(GOptionContext) ctx = g_option_context_new(param);
    g_autofree char *prgname = g_strdup_printf("scflow %s", name);
    g_set_prgname(prgname);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(ctx, argc, argv, &error)) {
        fprintf(stderr, "scflow %s: %s\nTry 'scflow %s --help'.\n", name, error->message, name);
        return FALSE;
    }
    return TRUE;
}

gboolean scf_cli_parse_steps(const char *text, int *out, int max, int *n)
{
    g_auto(GStrv) parts = g_strsplit(text, ",", -1);
    *n = 0;
    for (char **p = parts; *p; p++) {
        char *end;
        long v = strtol(*p, &end, 10);
        if (end == *p || *end || v < 1 || v > 1000 || *n == max)
            return FALSE;
        out[(*n)++] = (int)v;
    }
    return *n > 0;
}

gboolean scf_cli_parse_precision(const char *name, const char *text, scf_precision *out)
{
    g_autoptr(GError) error = NULL;
    *out = SCF_PRECISION_FP32;
    if (!text || scf_precision_parse(text, out, &error))
        return TRUE;
    fprintf(stderr, "scflow %s: %s\nTry 'scflow %s --help'.\n", name, error->message, name);
    return FALSE;
}

scf_backend *scf_cli_open_device(const char *name, const char *device, int threads, gboolean quiet)
{
    return scf_cli_open_device_precision(name, device, SCF_PRECISION_FP32, threads, quiet);
}

scf_backend *scf_cli_open_device_precision(const char *name, const char *device,
                                           scf_precision precision, int threads, gboolean quiet)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *notice = NULL;
    scf_backend *be = scf_device_open_precision(device ? device : "auto", precision, threads,
                                                &notice, &error);
    if (!be)
        fprintf(stderr, "scflow %s: %s\n", name, error->message);
    else if (notice && !quiet)
        fprintf(stderr, "scflow %s: %s\n", name, notice);
    return be;
}

scf_model *scf_cli_load_model(const char *name, const char *dir, scf_backend *be)
{
    g_autofree char *fallback = dir ? NULL : scf_model_catalog_default_dir();
    if (!dir && !fallback) {
        fprintf(stderr, "scflow %s: no model given and no embedded default model is installed; "
                        "pass --model DIR\n", name);
        return NULL;
    }
    g_autoptr(GError) error = NULL;
    scf_model *m = scf_model_load(dir ? dir : fallback, be, FALSE, &error);
    if (!m)
        fprintf(stderr, "scflow %s: %s\n", name, error->message);
    return m;
}

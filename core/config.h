/* Typed reading of JSON config files (diffusers / transformers config.json,
 * our run configs). Errors are sticky: the first bad or missing key is
 * recorded with the file and key named, later reads return their defaults,
 * and scf_config_check reports it once. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The JSON text of node (g_free it; length may be NULL). Use this rather
 * than json_to_string or JsonGenerator: json-glib 1.6 (Debian 12) writes
 * doubles such as 1e-08 as "1e-08.0", which no parser (itself included)
 * reads back, so a run config with an AdamW eps of 1e-8 could not resume. */
char *scf_json_to_string(JsonNode *node, gboolean pretty, gsize *length);

typedef struct {
    JsonParser *parser;
    JsonObject *root;
    char *path;
    GError *error;
} scf_config;

/* Loads path; FALSE when it cannot be read or is not a JSON object. */
gboolean scf_config_load(scf_config *c, const char *path, GError **error);
/* Reads an object given in memory (label names it in errors). */
gboolean scf_config_load_data(scf_config *c, const char *data, const char *label, GError **error);
void scf_config_clear(scf_config *c);
/* A view on the object member key (errors then name "path [key]"); FALSE
 * (recorded in c) when missing or not an object. Clear the child after use. */
gboolean scf_config_child(scf_config *c, const char *key, scf_config *child);

gboolean scf_config_has(const scf_config *c, const char *key);
/* Missing keys give def unless required; out-of-range values are errors. */
gint64 scf_config_int(scf_config *c, const char *key, gint64 def, gint64 min, gint64 max,
                      gboolean required);
double scf_config_double(scf_config *c, const char *key, double def, double min, double max,
                         gboolean required);
gboolean scf_config_bool(scf_config *c, const char *key, gboolean def);
/* Returns a newly allocated string (def duplicated when missing; NULL stays NULL). */
char *scf_config_string(scf_config *c, const char *key, const char *def, gboolean required);
/* An integer or a list of integers: a single value is repeated n_expected
 * times; a list must have exactly n_expected entries (when n_expected > 0).
 * Returns the count read (0 on error). */
int scf_config_int_list(scf_config *c, const char *key, int *out, int max, int n_expected,
                        gint64 min, gint64 max_value, gboolean required);
/* A list of strings; returns a NULL-terminated vector (free with g_strfreev). */
char **scf_config_string_list(scf_config *c, const char *key, gboolean required);

/* Records an error about key (for checks the caller makes itself). */
void scf_config_fail(scf_config *c, const char *key, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
gboolean scf_config_check(scf_config *c, GError **error);

G_END_DECLS

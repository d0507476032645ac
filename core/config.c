#include "config.h"
#include <string.h>
#include "error.h"

gboolean scf_config_load_data(scf_config *c, const char *data, const char *label, GError **error)
{
    memset(c, 0, sizeof *c);
    c->path = g_strdup(label);
    c->parser = json_parser_new();
    GError *e = NULL;
    if (!json_parser_load_from_data(c->parser, data, -1, &e)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: not valid JSON: %s", label, e->message);
        g_error_free(e);
        scf_config_clear(c);
        return FALSE;
    }
    JsonNode *root = json_parser_get_root(c->parser);
    if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: expected a JSON object", label);
        scf_config_clear(c);
        return FALSE;
    }
    c->root = json_node_get_object(root);
    return TRUE;
}

gboolean scf_config_load(scf_config *c, const char *path, GError **error)
{
    char *data = NULL;
    GError *e = NULL;
    if (!g_file_get_contents(path, &data, NULL, &e)) {
        memset(c, 0, sizeof *c);
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot read: %s", path, e->message);
        g_error_free(e);
        return FALSE;
    }
    gboolean ok = scf_config_load_data(c, data, path, error);
    g_free(data);
    return ok;
}

void scf_config_clear(scf_config *c)
{
    g_clear_object(&c->parser);
    g_clear_pointer(&c->path, g_free);
    g_clear_error(&c->error);
    c->root = NULL;
}

gboolean scf_config_child(scf_config *c, const char *key, scf_config *child)
{
    memset(child, 0, sizeof *child);
    JsonNode *n = scf_config_has(c, key) ? json_object_get_member(c->root, key) : NULL;
    if (!n || !JSON_NODE_HOLDS_OBJECT(n)) {
        scf_config_fail(c, key, n ? "expected an object" : "missing");
        return FALSE;
    }
    child->parser = g_object_ref(c->parser);
    child->root = json_node_get_object(n);
    child->path = g_strdup_printf("%s [%s]", c->path, key);
    return TRUE;
}

void scf_config_fail(scf_config *c, const char *key, const char *fmt, ...)
{
    if (c->error)
        return;
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    c->error = g_error_new(SCF_ERROR, SCF_ERROR_FORMAT, "%s: '%s': %s", c->path, key, msg);
}

gboolean scf_config_check(scf_config *c, GError **error)
{
    if (!c->error)
        return TRUE;
    g_propagate_error(error, g_error_copy(c->error));
    return FALSE;
}

gboolean scf_config_has(const scf_config *c, const char *key)
{
    JsonNode *n = c->root ? json_object_get_member(c->root, key) : NULL;
    return n && !JSON_NODE_HOLDS_NULL(n);
}

/* The member, or NULL when missing (an error if required). null counts as missing. */
static JsonNode *member(scf_config *c, const char *key, gboolean required)
{
    if (scf_config_has(c, key))
        return json_object_get_member(c->root, key);
    if (required)
        scf_config_fail(c, key, "missing");
    return NULL;
}

static const char *type_name(JsonNode *n)
{
    if (JSON_NODE_HOLDS_OBJECT(n))
        return "an object";
    if (JSON_NODE_HOLDS_ARRAY(n))
        return "a list";
    if (JSON_NODE_HOLDS_NULL(n))
        return "null";
    GType t = json_node_get_value_type(n);
    return t == G_TYPE_STRING ? "a string" : t == G_TYPE_BOOLEAN ? "a boolean"
         : t == G_TYPE_DOUBLE ? "a number" : "an integer";
}

static gboolean node_int(scf_config *c, const char *key, JsonNode *n, gint64 min, gint64 max,
                         gint64 *out)
{
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64) {
        scf_config_fail(c, key, "expected an integer, found %s", type_name(n));
        return FALSE;
    }
    gint64 v = json_node_get_int(n);
    if (v < min || v > max) {
        scf_config_fail(c, key, "%" G_GINT64_FORMAT " is out of range [%" G_GINT64_FORMAT
                        ", %" G_GINT64_FORMAT "]", v, min, max);
        return FALSE;
    }
    *out = v;
    return TRUE;
}

gint64 scf_config_int(scf_config *c, const char *key, gint64 def, gint64 min, gint64 max,
                      gboolean required)
{
    JsonNode *n = member(c, key, required);
    gint64 v = def;
    if (n && !node_int(c, key, n, min, max, &v))
        return def;
    return v;
}

double scf_config_double(scf_config *c, const char *key, double def, double min, double max,
                         gboolean required)
{
    JsonNode *n = member(c, key, required);
    if (!n)
        return def;
    GType t = JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;
    if (t != G_TYPE_DOUBLE && t != G_TYPE_INT64) {
        scf_config_fail(c, key, "expected a number, found %s", type_name(n));
        return def;
    }
    double v = json_node_get_double(n);
    if (!(v >= min && v <= max)) {
        scf_config_fail(c, key, "%g is out of range [%g, %g]", v, min, max);
        return def;
    }
    return v;
}

gboolean scf_config_bool(scf_config *c, const char *key, gboolean def)
{
    JsonNode *n = member(c, key, FALSE);
    if (!n)
        return def;
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_BOOLEAN) {
        scf_config_fail(c, key, "expected true or false, found %s", type_name(n));
        return def;
    }
    return json_node_get_boolean(n);
}

char *scf_config_string(scf_config *c, const char *key, const char *def, gboolean required)
{
    JsonNode *n = member(c, key, required);
    if (!n)
        return g_strdup(def);
    if (!JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_STRING) {
        scf_config_fail(c, key, "expected a string, found %s", type_name(n));
        return g_strdup(def);
    }
    return g_strdup(json_node_get_string(n));
}

int scf_config_int_list(scf_config *c, const char *key, int *out, int max, int n_expected,
                        gint64 min, gint64 max_value, gboolean required)
{
    JsonNode *n = member(c, key, required);
    if (!n)
        return 0;
    if (!JSON_NODE_HOLDS_ARRAY(n)) {
        gint64 v;
        if (!node_int(c, key, n, min, max_value, &v))
            return 0;
        int count = n_expected > 0 ? MIN(n_expected, max) : 1;
        for (int i = 0; i < count; i++)
            out[i] = (int)v;
        return count;
    }
    JsonArray *a = json_node_get_array(n);
    int len = (int)json_array_get_length(a);
    if ((n_expected > 0 && len != n_expected) || len > max || len == 0) {
        scf_config_fail(c, key, "expected %d entries, found %d", n_expected > 0 ? n_expected : max, len);
        return 0;
    }
    for (int i = 0; i < len; i++) {
        gint64 v;
        if (!node_int(c, key, json_array_get_element(a, (guint)i), min, max_value, &v))
            return 0;
        out[i] = (int)v;
    }
    return len;
}

char **scf_config_string_list(scf_config *c, const char *key, gboolean required)
{
    JsonNode *n = member(c, key, required);
    if (!n)
        return NULL;
    if (!JSON_NODE_HOLDS_ARRAY(n)) {
        scf_config_fail(c, key, "expected a list of strings, found %s", type_name(n));
        return NULL;
    }
    JsonArray *a = json_node_get_array(n);
    guint len = json_array_get_length(a);
    char **v = g_new0(char *, len + 1);
    for (guint i = 0; i < len; i++) {
        JsonNode *e = json_array_get_element(a, i);
        if (!JSON_NODE_HOLDS_VALUE(e) || json_node_get_value_type(e) != G_TYPE_STRING) {
            scf_config_fail(c, key, "entry %u: expected a string, found %s", i, type_name(e));
            g_strfreev(v);
            return NULL;
        }
        v[i] = g_strdup(json_node_get_string(e));
    }
    return v;
}

/* Drops the ".0" json-glib appends to exponent-form numbers ("1e-08.0"):
 * outside strings, a number token with an exponent and a trailing ".0"
 * after it. Only shortens, so it works in place. */
static gsize repair_exponents(char *text)
{
    gsize r = 0, w = 0;
    gboolean in_string = FALSE;
    while (text[r]) {
        char c = text[r];
        if (in_string) {
            text[w++] = text[r++];
            if (c == '\\' && text[r])
                text[w++] = text[r++];
            else if (c == '"')
                in_string = FALSE;
            continue;
        }
        if (c == '"') {
            in_string = TRUE;
            text[w++] = text[r++];
            continue;
        }
        if (c == '-' || g_ascii_isdigit(c)) {
            gsize start = r;
            while (text[r] && strchr("+-0123456789.eE", text[r]))
                r++;
            gsize len = r - start;
            const char *e = memchr(text + start, 'e', len);
            if (!e)
                e = memchr(text + start, 'E', len);
            if (e && len >= 2 && text[r - 2] == '.' && text[r - 1] == '0' &&
                memchr(e, '.', (gsize)(text + r - 2 - e)) == NULL)
                len -= 2;
            memmove(text + w, text + start, len);
            w += len;
            continue;
        }
        text[w++] = text[r++];
    }
    text[w] = '\0';
    return w;
}

char *scf_json_to_string(JsonNode *node, gboolean pretty, gsize *length)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_pretty(gen, pretty);
    json_generator_set_root(gen, node);
    char *text = json_generator_to_data(gen, NULL);
    gsize len = repair_exponents(text);
    if (length)
        *length = len;
    return text;
}

#include "genparams.h"
#include "error.h"
#include "build-config.h"
#include "config.h"
#include <json-glib/json-glib.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

typedef enum { FIELD_STR, FIELD_INT, FIELD_DOUBLE, FIELD_SEED } field_kind;

/* One table drives the JSON form both ways and the parsing of infotext
 * values, so a field added here is stored and restored everywhere. The JSON
 * members follow this order. */
typedef struct {
    const char *json;    /* member name in the scflow JSON chunk */
    const char *a1111;   /* infotext key, NULL when A1111 has none */
    field_kind kind;
    size_t offset;
} field;

#define F(json, a1111, kind, member) { json, a1111, kind, offsetof(scf_gen_params, member) }
static const field fields[] = {
    F("prompt", NULL, FIELD_STR, prompt),
    F("negative_prompt", NULL, FIELD_STR, negative_prompt),
    F("steps", "Steps", FIELD_INT, steps),
    F("sampler", "Sampler", FIELD_STR, sampler),
    F("guidance", "CFG scale", FIELD_DOUBLE, guidance),
    F("seed", "Seed", FIELD_SEED, seed),
    F("width", NULL, FIELD_INT, width),
    F("height", NULL, FIELD_INT, height),
    F("model", "Model", FIELD_STR, model_name),
    F("model_hash", "Model hash", FIELD_STR, model_hash),
    F("version", "Version", FIELD_STR, version),
    F("batch_index", NULL, FIELD_INT, batch_index),
    F("device", NULL, FIELD_STR, device),
};
#undef F

/* Above this a double (as used by many JSON readers) no longer holds every integer. */
#define JSON_EXACT_INT_MAX (G_GUINT64_CONSTANT(1) << 53)

#define FIELD_PTR(p, f, type) ((type *)((char *)(p) + (f)->offset))

static const field *field_by_json(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
        if (strcmp(fields[i].json, name) == 0)
            return &fields[i];
    return NULL;
}

static const field *field_by_a1111(const char *key)
{
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
        if (fields[i].a1111 && strcmp(fields[i].a1111, key) == 0)
            return &fields[i];
    return NULL;
}

static void set_str(char **slot, const char *value)
{
    char *old = *slot;
    *slot = g_strdup(value ? value : "");
    g_free(old);
}

void scf_gen_params_init(scf_gen_params *p)
{
    memset(p, 0, sizeof *p);
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
        if (fields[i].kind == FIELD_STR)
            *FIELD_PTR(p, &fields[i], char *) = g_strdup("");
    p->steps = 1;
    set_str(&p->sampler, "Euler");
    p->guidance = 1.0;
    set_str(&p->version, "scflow " SCF_VERSION);
    p->extra = g_ptr_array_new_with_free_func(g_free);
}

void scf_gen_params_clear(scf_gen_params *p)
{
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
        if (fields[i].kind == FIELD_STR)
            g_free(*FIELD_PTR(p, &fields[i], char *));
    if (p->extra)
        g_ptr_array_unref(p->extra);
    memset(p, 0, sizeof *p);
}

void scf_gen_params_copy(scf_gen_params *dst, const scf_gen_params *src)
{
    *dst = *src;
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++)
        if (fields[i].kind == FIELD_STR) {
            char **slot = FIELD_PTR(dst, &fields[i], char *);
            *slot = g_strdup(*slot ? *slot : "");
        }
    dst->extra = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; src->extra && i < src->extra->len; i++)
        g_ptr_array_add(dst->extra, g_strdup(g_ptr_array_index(src->extra, i)));
}

gboolean scf_gen_params_check(const scf_gen_params *p, GError **error)
{
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        const char *s = fields[i].kind == FIELD_STR ? *FIELD_PTR(p, &fields[i], char *) : NULL;
        if (s && !g_utf8_validate(s, -1, NULL)) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                        "generation settings: \"%s\" is not UTF-8 text", fields[i].json);
            return FALSE;
        }
    }
    for (guint i = 0; p->extra && i < p->extra->len; i++)
        if (!g_utf8_validate(g_ptr_array_index(p->extra, i), -1, NULL)) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                        "generation settings: extra key %u is not UTF-8 text", i / 2);
            return FALSE;
        }
    if (!isfinite(p->guidance)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "generation settings: \"guidance\" is %g, not a finite number", p->guidance);
        return FALSE;
    }
    return TRUE;
}

const char *scf_gen_params_get_extra(const scf_gen_params *p, const char *key)
{
    for (guint i = 0; p->extra && i + 1 < p->extra->len; i += 2)
        if (strcmp(g_ptr_array_index(p->extra, i), key) == 0)
            return g_ptr_array_index(p->extra, i + 1);
    return NULL;
}

void scf_gen_params_set_extra(scf_gen_params *p, const char *key, const char *value)
{
    if (!p->extra)
        p->extra = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i + 1 < p->extra->len; i += 2)
        if (strcmp(g_ptr_array_index(p->extra, i), key) == 0) {
            set_str((char **)&p->extra->pdata[i + 1], value);
            return;
        }
    g_ptr_array_add(p->extra, g_strdup(key));
    g_ptr_array_add(p->extra, g_strdup(value ? value : ""));
}

/* ---- infotext ---------------------------------------------------------- */

/* Shortest decimal that reads back as the same double ("7", "7.5", "0.1"),
 * independent of the locale. */
static void append_double(GString *s, double v)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    for (int prec = 1; prec <= 17; prec++) {
        char fmt[8];
        g_snprintf(fmt, sizeof fmt, "%%.%dg", prec);
        g_ascii_formatd(buf, sizeof buf, fmt, v);
        if (g_ascii_strtod(buf, NULL) == v)
            break;
    }
    g_string_append(s, buf);
}

/* A1111's quote(): json.dumps(value, ensure_ascii=False) when the value holds
 * ',', ':' or a newline, so the value cannot break the "Key: value, " list. */
static void append_quoted(GString *s, const char *v)
{
    if (!strpbrk(v, ",:\n")) {
        g_string_append(s, v);
        return;
    }
    g_string_append_c(s, '"');
    for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
        switch (*c) {
        case '"': g_string_append(s, "\\\""); break;
        case '\\': g_string_append(s, "\\\\"); break;
        case '\n': g_string_append(s, "\\n"); break;
        case '\r': g_string_append(s, "\\r"); break;
        case '\t': g_string_append(s, "\\t"); break;
        case '\b': g_string_append(s, "\\b"); break;
        case '\f': g_string_append(s, "\\f"); break;
        default:
            if (*c < 0x20)
                g_string_append_printf(s, "\\u%04x", *c);
            else
                g_string_append_c(s, (char)*c);
        }
    }
    g_string_append_c(s, '"');
}

static void append_param(GString *s, const char *key, const char *value)
{
    if (s->len)
        g_string_append(s, ", ");
    g_string_append_printf(s, "%s: ", key);
    append_quoted(s, value);
}

char *scf_gen_params_to_infotext(const scf_gen_params *p)
{
    GString *kv = g_string_new(NULL);
    g_string_append_printf(kv, "Steps: %d", p->steps);
    if (p->sampler && *p->sampler)
        append_param(kv, "Sampler", p->sampler);
    g_string_append(kv, ", CFG scale: ");
    append_double(kv, p->guidance);
    g_string_append_printf(kv, ", Seed: %" G_GUINT64_FORMAT ", Size: %dx%d", p->seed, p->width,
                           p->height);
    const char *named[][2] = {
        { "Model hash", p->model_hash }, { "Model", p->model_name }, { "Version", p->version },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(named); i++)
        if (named[i][1] && *named[i][1])
            append_param(kv, named[i][0], named[i][1]);
    for (guint i = 0; p->extra && i + 1 < p->extra->len; i += 2)
        append_param(kv, g_ptr_array_index(p->extra, i), g_ptr_array_index(p->extra, i + 1));

    GString *s = g_string_new(p->prompt);
    if (p->negative_prompt && *p->negative_prompt)
        g_string_append_printf(s, "\nNegative prompt: %s", p->negative_prompt);
    g_string_append_printf(s, "\n%s", kv->str);
    g_string_free(kv, TRUE);
    char *text = g_string_free(s, FALSE);
    /* create_infotext strips the result; an empty prompt leaves no blank first line */
    return g_strstrip(text);
}

/* JSON-GLib decodes unknown escapes such as \q, which Python's json.loads
 * refuses; A1111 then keeps the value as written, and so must we. */
static gboolean strict_escapes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20)
            return FALSE;
        if (s[i] != '\\')
            continue;
        if (++i >= n || !strchr("\"\\/bfnrtu", s[i]))
            return FALSE;
        if (s[i] == 'u')
            for (int k = 0; k < 4; k++)
                if (++i >= n || !g_ascii_isxdigit(s[i]))
                    return FALSE;
    }
    return TRUE;
}

/* A1111's unquote(): a value in double quotes is a JSON string; if it does
 * not parse it stays as written. */
static char *unquote(const char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"' && strict_escapes(v + 1, n - 2)) {
        JsonNode *node = json_from_string(v, NULL);
        char *s = node && JSON_NODE_HOLDS_VALUE(node) &&
                  json_node_get_value_type(node) == G_TYPE_STRING
                      ? g_strdup(json_node_get_string(node)) : NULL;
        if (node)
            json_node_unref(node);
        if (s)
            return s;
    }
    return g_strdup(v);
}

static gboolean parse_int(const char *v, int *out)
{
    gint64 x;
    if (!g_ascii_string_to_signed(v, 10, 0, G_MAXINT, &x, NULL))
        return FALSE;
    *out = (int)x;
    return TRUE;
}

static gboolean parse_size(const char *v, int *w, int *h)
{
    const char *x = strchr(v, 'x');
    if (!x)
        return FALSE;
    g_autofree char *ws = g_strndup(v, (gsize)(x - v));
    int a, b;
    if (!parse_int(ws, &a) || !parse_int(x + 1, &b))
        return FALSE;
    *w = a;
    *h = b;
    return TRUE;
}

/* Stores a known infotext value; FALSE when the key is unknown or the value
 * does not parse, so the caller keeps it as an extra. */
static gboolean set_known(scf_gen_params *p, const char *key, const char *v)
{
    if (strcmp(key, "Size") == 0)
        return parse_size(v, &p->width, &p->height);
    const field *f = field_by_a1111(key);
    if (!f)
        return FALSE;
    switch (f->kind) {
    case FIELD_STR:
        set_str(FIELD_PTR(p, f, char *), v);
        return TRUE;
    case FIELD_INT:
        return parse_int(v, FIELD_PTR(p, f, int));
    case FIELD_DOUBLE: {
        char *end;
        double d = g_ascii_strtod(v, &end);
        if (end == v || *end || !isfinite(d))
            return FALSE;
        *FIELD_PTR(p, f, double) = d;
        return TRUE;
    }
    case FIELD_SEED:
        return g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT64, FIELD_PTR(p, f, guint64), NULL);
    }
    return FALSE;
}

/* Appends line to *acc, joining with a newline, as A1111 builds the prompts. */
static void join_line(GString *acc, const char *line)
{
    if (acc->len)
        g_string_append_c(acc, '\n');
    g_string_append(acc, line);
}

gboolean scf_gen_params_from_infotext(scf_gen_params *p, const char *text, GError **error)
{
    scf_gen_params_clear(p);
    scf_gen_params_init(p);
    if (!g_utf8_validate(text, -1, NULL)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "generation parameters are not UTF-8 text");
        return FALSE;
    }
    /* re_param of stable-diffusion-webui's infotext_utils.py */
    GRegex *re = g_regex_new("\\s*(\\w[\\w \\-/]+):\\s*(\"(?:\\\\.|[^\\\\\"])+\"|[^,]*)(?:,|$)",
                             0, 0, NULL);
    g_autofree char *body = g_strstrip(g_strdup(text));
    char **lines = g_strsplit(body, "\n", -1);
    guint n = g_strv_length(lines);
    GPtrArray *pairs = g_ptr_array_new_with_free_func(g_free);
    GMatchInfo *m = NULL;
    g_regex_match(re, lines[n - 1], 0, &m);
    for (; g_match_info_matches(m); g_match_info_next(m, NULL)) {
        g_ptr_array_add(pairs, g_match_info_fetch(m, 1));
        g_ptr_array_add(pairs, g_match_info_fetch(m, 2));
    }
    g_match_info_free(m);
    guint prompt_lines = n - 1;
    if (pairs->len < 3 * 2) { /* fewer than three pairs: the last line is prompt text */
        prompt_lines = n;
        g_ptr_array_set_size(pairs, 0);
    }

    GString *prompt = g_string_new(NULL), *negative = g_string_new(NULL);
    gboolean in_negative = FALSE;
    for (guint i = 0; i < prompt_lines; i++) {
        char *line = g_strstrip(lines[i]);
        if (g_str_has_prefix(line, "Negative prompt:")) {
            in_negative = TRUE;
            line = g_strstrip(line + strlen("Negative prompt:"));
        }
        join_line(in_negative ? negative : prompt, line);
    }
    set_str(&p->prompt, prompt->str);
    set_str(&p->negative_prompt, negative->str);
    g_string_free(prompt, TRUE);
    g_string_free(negative, TRUE);

    for (guint i = 0; i + 1 < pairs->len; i += 2) {
        const char *key = g_ptr_array_index(pairs, i);
        g_autofree char *value = unquote(g_ptr_array_index(pairs, i + 1));
        if (!set_known(p, key, value))
            scf_gen_params_set_extra(p, key, value);
    }
    g_ptr_array_unref(pairs);
    g_strfreev(lines);
    g_regex_unref(re);
    return TRUE;
}

/* ---- JSON -------------------------------------------------------------- */

char *scf_gen_params_to_json(const scf_gen_params *p)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    for (size_t i = 0; i < G_N_ELEMENTS(fields); i++) {
        const field *f = &fields[i];
        json_builder_set_member_name(b, f->json);
        switch (f->kind) {
        case FIELD_STR: {
            const char *s = *FIELD_PTR(p, f, char *);
            json_builder_add_string_value(b, s ? s : "");
            break;
        }
        case FIELD_INT:
            json_builder_add_int_value(b, *FIELD_PTR(p, f, int));
            break;
        case FIELD_DOUBLE:
            json_builder_add_double_value(b, *FIELD_PTR(p, f, double));
            break;
        case FIELD_SEED: {
            guint64 seed = *FIELD_PTR(p, f, guint64);
            if (seed <= JSON_EXACT_INT_MAX) {
                json_builder_add_int_value(b, (gint64)seed);
            } else {
                char buf[24];
                g_snprintf(buf, sizeof buf, "%" G_GUINT64_FORMAT, seed);
                json_builder_add_string_value(b, buf);
            }
            break;
        }
        }
    }
    for (guint i = 0; p->extra && i + 1 < p->extra->len; i += 2) {
        const char *key = g_ptr_array_index(p->extra, i);
        if (field_by_json(key))
            continue; /* a member may appear once; the real field wins */
        json_builder_set_member_name(b, key);
        json_builder_add_string_value(b, g_ptr_array_index(p->extra, i + 1));
    }
    json_builder_end_object(b);
    JsonNode *root = json_builder_get_root(b);
    char *s = scf_json_to_string(root, FALSE, NULL);
    json_node_unref(root);
    g_object_unref(b);
    return s;
}

static GType value_type(JsonNode *n)
{
    return JSON_NODE_HOLDS_VALUE(n) ? json_node_get_value_type(n) : G_TYPE_INVALID;
}

static gboolean set_from_json(scf_gen_params *p, const field *f, JsonNode *n, GError **error)
{
    GType t = value_type(n);
    switch (f->kind) {
    case FIELD_STR:
        if (t != G_TYPE_STRING)
            break;
        set_str(FIELD_PTR(p, f, char *), json_node_get_string(n));
        return TRUE;
    case FIELD_INT:
        if (t != G_TYPE_INT64 || json_node_get_int(n) < 0 || json_node_get_int(n) > G_MAXINT)
            break;
        *FIELD_PTR(p, f, int) = (int)json_node_get_int(n);
        return TRUE;
    case FIELD_DOUBLE:
        if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE)
            break;
        *FIELD_PTR(p, f, double) = json_node_get_double(n);
        return TRUE;
    case FIELD_SEED:
        if (t == G_TYPE_INT64 && json_node_get_int(n) >= 0) {
            *FIELD_PTR(p, f, guint64) = (guint64)json_node_get_int(n);
            return TRUE;
        }
        if (t == G_TYPE_STRING && g_ascii_string_to_unsigned(json_node_get_string(n), 10, 0,
                                                            G_MAXUINT64, FIELD_PTR(p, f, guint64),
                                                            NULL))
            return TRUE;
        break;
    }
    static const char *const expected[] = {
        [FIELD_STR] = "a string", [FIELD_INT] = "an integer from 0 to 2147483647",
        [FIELD_DOUBLE] = "a number", [FIELD_SEED] = "an unsigned 64-bit integer",
    };
    g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "generation settings: \"%s\" must be %s",
                f->json, expected[f->kind]);
    return FALSE;
}

gboolean scf_gen_params_from_json(scf_gen_params *p, const char *json, GError **error)
{
    scf_gen_params_clear(p);
    scf_gen_params_init(p);
    GError *local = NULL;
    JsonNode *root = json_from_string(json, &local);
    if (!root) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "generation settings: invalid JSON: %s",
                    local ? local->message : "empty text");
        g_clear_error(&local);
        return FALSE;
    }
    gboolean ok = JSON_NODE_HOLDS_OBJECT(root);
    if (!ok)
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "generation settings: JSON is not an object");
    JsonObject *obj = ok ? json_node_get_object(root) : NULL;
    GList *members = obj ? json_object_get_members(obj) : NULL;
    for (GList *l = members; ok && l; l = l->next) {
        const char *name = l->data;
        JsonNode *n = json_object_get_member(obj, name);
        const field *f = field_by_json(name);
        if (f) {
            ok = set_from_json(p, f, n, error);
        } else if (value_type(n) == G_TYPE_STRING) {
            scf_gen_params_set_extra(p, name, json_node_get_string(n));
        } else {
            g_autofree char *text = scf_json_to_string(n, FALSE, NULL);
            scf_gen_params_set_extra(p, name, text);
        }
    }
    g_list_free(members);
    json_node_unref(root);
    return ok;
}

#include "emoji-catalog.h"
#include "error.h"
#include <stdlib.h>
#include <string.h>

static void emoji_clear(scf_emoji *e)
{
    g_free(e->cps);
    g_free(e->text);
    g_free(e->codepoints);
    g_free(e->caption);
    g_free(e->version);
}

void scf_emoji_catalog_free(scf_emoji_catalog *cat)
{
    if (!cat)
        return;
    for (int i = 0; i < cat->n; i++)
        emoji_clear(&cat->items[i]);
    g_free(cat->items);
    g_free(cat->path);
    g_free(cat->version);
    if (cat->names)
        g_string_chunk_free(cat->names);
    g_free(cat);
}

/* "1F44D 1F3FD" -> code points; FALSE on anything that is not a hex scalar value. */
static gboolean parse_codepoints(const char *field, GArray *out)
{
    g_auto(GStrv) parts = g_strsplit_set(field, " \t", -1);
    for (char **p = parts; *p; p++) {
        if (!**p)
            continue;
        char *end;
        unsigned long cp = strtoul(*p, &end, 16);
        if (*end || !g_unichar_validate((gunichar)cp) || cp == 0)
            return FALSE;
        gunichar c = (gunichar)cp;
        g_array_append_val(out, c);
    }
    return out->len > 0;
}

/* The comment of a data line: "<emoji> E<major>.<minor> <name>". */
static gboolean parse_comment(const char *comment, scf_emoji *e)
{
    const char *sp = strchr(comment, ' ');
    if (!sp || sp[1] != 'E' || !g_ascii_isdigit(sp[2]))
        return FALSE;
    const char *ver = sp + 2;
    const char *name = strchr(ver, ' ');
    if (!name)
        return FALSE;
    e->version = g_strndup(ver, (gsize)(name - ver));
    e->caption = g_strstrip(g_strdup(name));
    return *e->caption != '\0';
}

static gboolean parse_data_line(scf_emoji_catalog *cat, char *line, int lineno,
                                const char *group, const char *subgroup, GArray *items)
{
    char *semi = strchr(line, ';');
    char *hash = semi ? strchr(semi, '#') : NULL;
    if (!semi || !hash)
        return FALSE;
    *semi = '\0';
    *hash = '\0';
    if (strcmp(g_strstrip(semi + 1), "fully-qualified") != 0)
        return TRUE;
    scf_emoji e = { 0 };
    g_autoptr(GArray) cps = g_array_new(FALSE, FALSE, sizeof(gunichar));
    if (!parse_codepoints(line, cps) || !parse_comment(g_strstrip(hash + 1), &e)) {
        emoji_clear(&e);
        return FALSE;
    }
    e.n_cps = (int)cps->len;
    e.cps = g_memdup2(cps->data, cps->len * sizeof(gunichar));
    e.text = g_ucs4_to_utf8(e.cps, e.n_cps, NULL, NULL, NULL);
    e.codepoints = g_strdup(g_strstrip(line));
    e.group = group;
    e.subgroup = subgroup;
    e.line = lineno;
    g_array_append_val(items, e);
    return TRUE;
}

scf_emoji_catalog *scf_emoji_catalog_load(const char *path, GError **error)
{
    g_autofree char *contents = NULL;
    gsize len;
    if (!g_file_get_contents(path, &contents, &len, error)) {
        g_prefix_error(error, "emoji list (Debian package unicode-data): ");
        return NULL;
    }
    if (!g_utf8_validate(contents, (gssize)len, NULL)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: not UTF-8 text", path);
        return NULL;
    }
    scf_emoji_catalog *cat = g_new0(scf_emoji_catalog, 1);
    cat->path = g_strdup(path);
    cat->names = g_string_chunk_new(1024);
    cat->n_declared = -1;
    GArray *items = g_array_new(FALSE, TRUE, sizeof(scf_emoji));
    const char *group = "", *subgroup = "";
    int lineno = 0;
    gboolean ok = TRUE;
    for (char *line = contents, *next; line && ok; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        if (g_str_has_prefix(line, "# group:"))
            group = g_string_chunk_insert_const(cat->names, g_strstrip(line + 8));
        else if (g_str_has_prefix(line, "# subgroup:"))
            subgroup = g_string_chunk_insert_const(cat->names, g_strstrip(line + 11));
        else if (g_str_has_prefix(line, "# Version:") && !cat->version)
            cat->version = g_strdup(g_strstrip(line + 10));
        else if (g_str_has_prefix(line, "# fully-qualified :"))
            cat->n_declared = atoi(line + 19);
        else if (line[0] != '#' && *g_strstrip(line))
            ok = parse_data_line(cat, line, lineno, group, subgroup, items);
    }
    cat->n = (int)items->len;
    cat->items = (scf_emoji *)g_array_free(items, FALSE);
    if (!ok) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s:%d: not an emoji-test.txt data line", path, lineno);
        scf_emoji_catalog_free(cat);
        return NULL;
    }
    if (cat->n == 0) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: no fully-qualified emoji", path);
        scf_emoji_catalog_free(cat);
        return NULL;
    }
    return cat;
}

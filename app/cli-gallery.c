/* `scflow gallery`: the gallery the app keeps (core/gallery.h) from the
 * command line: list and search, show one image's settings, delete / undo /
 * purge, favourites, export and import. */
#include "build-config.h"
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *dir, *search, *model, *out;
    int steps, limit, offset;
    gboolean favourites, off;
} gallery_opts;

typedef int (*gallery_fn)(scf_gallery *g, gallery_opts *o, int argc, char **argv);

typedef struct {
    const char *name;
    const char *summary;
    gallery_fn run;
} gallery_command;

#define PROMPT_COLUMNS 60

static const char *const state_names[] = { "ok", "missing", "deleted" };

/* Command-line IDs: positive integers, else a usage error. */
static gboolean parse_ids(const char *cmd, int argc, char **argv, GArray *ids)
{
    for (int i = 1; i < argc; i++) {
        guint64 id;
        if (!g_ascii_string_to_unsigned(argv[i], 10, 1, G_MAXINT64, &id, NULL)) {
            fprintf(stderr, "scflow gallery %s: '%s' is not an image id\n", cmd, argv[i]);
            return FALSE;
        }
        gint64 v = (gint64)id;
        g_array_append_val(ids, v);
    }
    return TRUE;
}

static char *format_time(gint64 ms, const char *fmt)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(ms / 1000);
    return t ? g_date_time_format(t, fmt) : g_strdup("?");
}

static int fail(const char *cmd, const GError *error)
{
    fprintf(stderr, "scflow gallery %s: %s\n", cmd, error->message);
    return SCF_EXIT_RUNTIME;
}

static int cmd_list(scf_gallery *g, gallery_opts *o, int argc, char **argv)
{
    if (argc != 1 || o->limit < 0 || o->offset < 0 || o->steps < 0) {
        fprintf(stderr, "scflow gallery list: takes no arguments; --limit, --offset and --steps "
                        "must not be negative\n");
        return SCF_EXIT_USAGE;
    }
    scf_gallery_filter f = { o->search, o->model, o->steps, o->favourites };
    g_autoptr(GError) error = NULL;
    gint64 total = 0;
    g_autoptr(GPtrArray) rows = NULL;
    if (!scf_gallery_count(g, &f, &total, &error) ||
        !(rows = scf_gallery_query(g, &f, o->offset, o->limit, &error)))
        return fail("list", error);
    printf("%6s  %-16s  %5s  %-20s  %-16s  %s\n", "ID", "CREATED", "STEPS", "SEED", "MODEL",
           "PROMPT");
    for (guint i = 0; i < rows->len; i++) {
        const scf_gallery_entry *e = g_ptr_array_index(rows, i);
        g_autofree char *when = format_time(e->created_ms, "%Y-%m-%d %H:%M");
        g_autofree char *line = g_strdup(e->params.prompt);
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        glong len = g_utf8_strlen(line, -1);
        g_autofree char *cut = g_utf8_substring(line, 0, MIN(len, PROMPT_COLUMNS));
        printf("%6" G_GINT64_FORMAT "  %-16s  %5d  %-20" G_GUINT64_FORMAT "  %-16s  %s%s%s%s\n",
               e->id, when, e->params.steps, e->params.seed, e->params.model_name, cut,
               len > PROMPT_COLUMNS || nl ? "…" : "", e->favourite ? "  ★" : "",
               e->state == SCF_GALLERY_MISSING ? "  [missing]" : "");
    }
    printf("%u of %" G_GINT64_FORMAT " image%s\n", rows->len, total, total == 1 ? "" : "s");
    return SCF_EXIT_OK;
}

static int cmd_show(scf_gallery *g, gallery_opts *o, int argc, char **argv)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    if (argc != 2 || !parse_ids("show", argc, argv, ids)) {
        fprintf(stderr, "scflow gallery show: give one image id\n");
        return SCF_EXIT_USAGE;
    }
    g_autoptr(GError) error = NULL;
    g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, g_array_index(ids, gint64, 0), &error);
    if (!e)
        return fail("show", error);
    const scf_gen_params *p = &e->params;
    g_autofree char *when = format_time(e->created_ms, "%Y-%m-%d %H:%M:%S");
    printf("id:          %" G_GINT64_FORMAT "\n", e->id);
    printf("created:     %s\n", when);
    printf("state:       %s\n", state_names[e->state]);
    printf("favourite:   %s\n", e->favourite ? "yes" : "no");
    printf("prompt:      %s\n", p->prompt);
    printf("negative:    %s\n", p->negative_prompt);
    printf("steps:       %d\n", p->steps);
    printf("guidance:    %g\n", p->guidance);
    printf("seed:        %" G_GUINT64_FORMAT "\n", p->seed);
    printf("size:        %dx%d\n", e->width, e->height);
    printf("sampler:     %s\n", p->sampler);
    printf("model:       %s\n", p->model_name);
    printf("model hash:  %s\n", p->model_hash);
    printf("device:      %s\n", p->device);
    printf("batch index: %d\n", p->batch_index);
    printf("version:     %s\n", p->version);
    printf("duration:    %" G_GINT64_FORMAT " ms\n", e->duration_ms);
    printf("image:       %s\n", e->image_path);
    printf("thumbnail:   %s\n", e->thumb_path);
    for (guint i = 0; p->extra && i + 1 < p->extra->len; i += 2)
        printf("%s: %s\n", (const char *)g_ptr_array_index(p->extra, i),
               (const char *)g_ptr_array_index(p->extra, i + 1));
    return SCF_EXIT_OK;
}

/* delete, undo and favourite: one change per id, all ids tried. */
static int each_id(const char *cmd, int argc, char **argv, scf_gallery *g,
                   gboolean (*change)(scf_gallery *, gint64, gboolean, GError **),
                   gboolean flag, const char *done)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    if (argc < 2 || !parse_ids(cmd, argc, argv, ids)) {
        fprintf(stderr, "scflow gallery %s: give one or more image ids\n", cmd);
        return SCF_EXIT_USAGE;
    }
    int rc = SCF_EXIT_OK;
    for (guint i = 0; i < ids->len; i++) {
        g_autoptr(GError) error = NULL;
        gint64 id = g_array_index(ids, gint64, i);
        if (change(g, id, flag, &error))
            printf("%s %" G_GINT64_FORMAT "\n", done, id);
        else
            rc = fail(cmd, error);
    }
    return rc;
}

static gboolean delete_or_undo(scf_gallery *g, gint64 id, gboolean undo, GError **error)
{
    return undo ? scf_gallery_undo(g, id, error) : scf_gallery_delete(g, id, error);
}

static int cmd_delete(scf_gallery *g, gallery_opts *o, int argc, char **argv)
{
    return each_id("delete", argc, argv, g, delete_or_undo, FALSE, "moved to the trash:");
}

static int cmd_undo(scf_gallery *g, gallery_opts *o, int argc, char **argv)
{
    return each_id("undo", argc, argv, g, delete_or_undo, TRUE, "restored:");
}

static int cmd_favourite(scf_gallery *g, gallery_opts *o, int argc, char **argv)
{
    return each_id("favourite", argc, argv, g, scf_gallery_set_favourite, !o->off,
                   o->off ? "not a favourite:" : "favourite:");
}

static int cmd_purge(scf_gallery *g, gallery_opts *o, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "scflow gallery purge: takes no arguments\n");
        return SCF_EXIT_USAGE;
    }
    g_autoptr(GError) error = NULL;
    gint64 n = 0;
    if (!scf_gallery_purge(g, &n, &error))
        return fail("purge", error);
    printf("removed %" G_GINT64_FORMAT " deleted image%s for good\n", n, n == 1 ? "" : "s");
    return SCF_EXIT_OK;
}

/* Without ids: every image whose file is there. */
static gboolean all_present_ids(scf_gallery *g, GArray *ids, GError **error)
{
    g_autoptr(GPtrArray) rows = scf_gallery_query(g, NULL, 0, G_MAXINT, error);
    for (guint i = 0; rows && i < rows->len; i++) {
        const scf_gallery_entry *e = g_ptr_array_index(rows, i);
        if (e->state == SCF_GALLERY_OK)
            g_array_append_val(ids, e->id);
    }
    return rows != NULL;
}

static int cmd_export(scf_gallery *g, gallery_opts *o, int argc, char **argv)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(gint64));
    if (!o->out || !parse_ids("export", argc, argv, ids)) {
        fprintf(stderr, "scflow gallery export: --out DIR is required\n");
        return SCF_EXIT_USAGE;
    }
    g_autoptr(GError) error = NULL;
    if ((argc == 1 && !all_present_ids(g, ids, &error)) ||
        !scf_gallery_export(g, (const gint64 *)(void *)ids->data, (int)ids->len, o->out, &error))
        return fail("export", error);
    printf("exported %u image%s to %s\n", ids->len, ids->len == 1 ? "" : "s", o->out);
    return SCF_EXIT_OK;
}

static int cmd_import(scf_gallery *g, gallery_opts *o, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "scflow gallery import: give one or more PNG files\n");
        return SCF_EXIT_USAGE;
    }
    int rc = SCF_EXIT_OK;
    for (int i = 1; i < argc; i++) {
        g_autoptr(GError) error = NULL;
        gint64 id = 0;
        if (scf_gallery_import(g, argv[i], &id, &error))
            printf("imported %s as %" G_GINT64_FORMAT "\n", argv[i], id);
        else
            rc = fail("import", error);
    }
    return rc;
}

static const gallery_command commands[] = {
    { "list", "[--search TEXT] [--model NAME] [--steps N] [--favourites] [--limit N]: newest first", cmd_list },
    { "show", "ID: every setting of one image", cmd_show },
    { "delete", "ID...: move to the trash", cmd_delete },
    { "undo", "ID...: take back a delete", cmd_undo },
    { "favourite", "[--off] ID...: mark or unmark favourites", cmd_favourite },
    { "purge", ": empty the trash for good", cmd_purge },
    { "export", "--out DIR [ID...]: copy the PNGs (all when no ID)", cmd_export },
    { "import", "FILE.png...: add PNGs with their embedded settings", cmd_import },
    { NULL, NULL, NULL },
};

static void print_usage(FILE *to)
{
    fprintf(to, "Usage: scflow gallery COMMAND [--dir GALLERY] [OPTIONS] ...\n\nCommands:\n");
    for (const gallery_command *c = commands; c->name; c++)
        fprintf(to, "  %-10s %s\n", c->name, c->summary);
    fprintf(to, "\nThe gallery folder defaults to $XDG_DATA_HOME/scflow-studio/gallery.\n");
}

/* Problems the check at open found, so that they are not silent. */
static void print_report(const scf_gallery_report *r)
{
    for (guint i = 0; i < r->missing->len; i++)
        fprintf(stderr, "scflow gallery: image %" G_GINT64_FORMAT " has lost its file\n",
                g_array_index(r->missing, gint64, i));
    if (r->reimported->len)
        fprintf(stderr, "scflow gallery: re-imported %u image file%s that had no row\n",
                r->reimported->len, r->reimported->len == 1 ? "" : "s");
    for (guint i = 0; i < r->skipped->len; i++)
        fprintf(stderr, "scflow gallery: skipped %s\n", (const char *)g_ptr_array_index(r->skipped, i));
}

int scf_cli_gallery(int argc, char **argv)
{
    gallery_opts o = { .limit = 20 };
    GOptionEntry entries[] = {
        { "dir", 0, 0, G_OPTION_ARG_FILENAME, &o.dir, "Gallery folder (default: $XDG_DATA_HOME/scflow-studio/gallery)", "DIR" },
        { "search", 0, 0, G_OPTION_ARG_STRING, &o.search, "list: words in the prompts (each a word prefix)", "TEXT" },
        { "model", 0, 0, G_OPTION_ARG_STRING, &o.model, "list: only this model", "NAME" },
        { "steps", 0, 0, G_OPTION_ARG_INT, &o.steps, "list: only this many steps", "N" },
        { "favourites", 0, 0, G_OPTION_ARG_NONE, &o.favourites, "list: only favourites", NULL },
        { "limit", 0, 0, G_OPTION_ARG_INT, &o.limit, "list: at most N images (default 20)", "N" },
        { "offset", 0, 0, G_OPTION_ARG_INT, &o.offset, "list: skip the N newest", "N" },
        { "off", 0, 0, G_OPTION_ARG_NONE, &o.off, "favourite: unmark", NULL },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &o.out, "export: folder to copy into", "DIR" },
        { NULL },
    };
    /* options may come before or after the command word */
    if (!scf_cli_parse("gallery", "COMMAND: list, show, delete, undo, favourite, purge, export, import",
                       entries, &argc, &argv))
        return SCF_EXIT_USAGE;
    const gallery_command *c = commands;
    while (argc >= 2 && c->name && strcmp(c->name, argv[1]) != 0)
        c++;
    int rc = SCF_EXIT_RUNTIME;
    if (argc < 2 || !c->name) {
        if (argc >= 2)
            fprintf(stderr, "scflow gallery: unknown command '%s'\n", argv[1]);
        print_usage(stderr);
        rc = SCF_EXIT_USAGE;
    } else {
        g_autofree char *fallback = o.dir ? NULL : scf_gallery_default_dir();
        g_autoptr(GError) error = NULL;
        scf_gallery_report report;
        g_autoptr(scf_gallery) g = scf_gallery_open(o.dir ? o.dir : fallback, &report, &error);
        if (!g) {
            fprintf(stderr, "scflow gallery: %s\n", error->message);
        } else {
            print_report(&report);
            scf_gallery_report_clear(&report);
            rc = c->run(g, &o, argc - 1, argv + 1);
        }
    }
    g_free(o.dir);
    g_free(o.search);
    g_free(o.model);
    g_free(o.out);
    return rc;
}

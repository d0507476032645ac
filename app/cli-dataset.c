/* `scflow dataset emoji`: the built-in training set. Every fully-qualified
 * emoji of emoji-test.txt that Noto Color Emoji draws as one glyph, centred
 * on #F0F0F0 grey, area-averaged to the size asked, as NNNN.png with its
 * name in NNNN.txt; split.json holds out base/modifier pairs
 * (emoji-split.h) and dataset.json records the source, font, settings,
 * counts, every kept emoji and every skipped one with the reason.
 *
 * A folder that already holds files is refused unless --force: then the
 * files are replaced one by one (each write is atomic), numbered images and
 * captions left over from a larger earlier build are removed, other files
 * are left alone, and dataset.json is written last. */
#include "cli.h"
#include "dataset.h"
#include "atomic_file.h"
#include "emoji-catalog.h"
#include "emoji-render.h"
#include "emoji-split.h"
#include "error.h"
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

typedef struct {
    int size;
    char *out;
    int limit;
    char *match;
    char *source;
    gboolean force;
} build_opts;

typedef struct {
    const scf_emoji *emoji;
    char *reason;
} skipped_emoji;

typedef struct {
    GPtrArray *kept;      /* const scf_emoji * */
    GArray *skipped;      /* skipped_emoji */
    gboolean *held;
    int n_held;
    double render_s, total_s;
} build_result;

static gboolean write_text(const char *path, const char *text, GError **error)
{
    scf_atomic_file f;
    FILE *fp = scf_atomic_file_open(&f, path, error);
    if (!fp)
        return FALSE;
    if (fputs(text, fp) == EOF) {
        int e = errno;
        scf_atomic_file_abort(&f);
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot write %s: %s", path, g_strerror(e));
        return FALSE;
    }
    return scf_atomic_file_commit(&f, error);
}

static gboolean write_json(const char *dir, const char *name, JsonBuilder *b, GError **error)
{
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_autofree char *text = scf_json_to_string(root, TRUE, NULL);
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autofree char *line = g_strconcat(text, "\n", NULL);
    return write_text(path, line, error);
}

static gboolean is_build_file(const char *name)
{
    size_t digits = strspn(name, "0123456789");
    return digits >= 4 &&
           (strcmp(name + digits, ".png") == 0 || strcmp(name + digits, ".txt") == 0);
}

/* Refuses a folder with files in it unless --force. */
static gboolean prepare_folder(const build_opts *o, GError **error)
{
    if (g_mkdir_with_parents(o->out, 0755) != 0) {
        int e = errno;
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot create %s: %s", o->out,
                    g_strerror(e));
        return FALSE;
    }
    GDir *d = g_dir_open(o->out, 0, error);
    if (!d)
        return FALSE;
    gboolean empty = g_dir_read_name(d) == NULL;
    g_dir_close(d);
    if (!empty && !o->force) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "%s already holds files; use --force to replace the dataset there", o->out);
        return FALSE;
    }
    return TRUE;
}

/* After a --force rebuild: numbered files beyond the new set. */
static gboolean remove_stale(const char *dir, int n_kept, GError **error)
{
    GDir *d = g_dir_open(dir, 0, error);
    if (!d)
        return FALSE;
    gboolean ok = TRUE;
    for (const char *name; ok && (name = g_dir_read_name(d));) {
        if (!is_build_file(name) || atoi(name) < n_kept)
            continue;
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (g_unlink(path) != 0) {
            int e = errno;
            g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot remove the old %s: %s", path,
                        g_strerror(e));
            ok = FALSE;
        }
    }
    g_dir_close(d);
    return ok;
}

static void progress(int done, int total)
{
    int width = 40, fill = total ? done * width / total : width;
    fprintf(stderr, "\r[%.*s%*s] %d/%d emoji", fill,
            "########################################", width - fill, "", done, total);
    if (done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

static gboolean wanted(const scf_emoji *e, const build_opts *o)
{
    if (!o->match)
        return TRUE;
    g_autofree char *caption = g_utf8_casefold(e->caption, -1);
    g_autofree char *match = g_utf8_casefold(o->match, -1);
    return strstr(caption, match) != NULL;
}

/* Writing waits on the disk (every file is synced before its rename), so a
 * few threads write while the main thread draws: their syncs share journal
 * commits. */
#define WRITER_THREADS 8

typedef struct {
    GMutex lock;
    GError *error;       /* the first failure */
} writers;

typedef struct {
    char *png, *txt, *caption;
    scf_image *img;
} write_job;

static void write_one(gpointer data, gpointer user)
{
    write_job *job = data;
    writers *w = user;
    GError *error = NULL;
    if (!scf_png_write(job->png, job->img, NULL, &error) ||
        !write_text(job->txt, job->caption, &error)) {
        g_mutex_lock(&w->lock);
        if (!w->error)
            w->error = g_steal_pointer(&error);
        g_mutex_unlock(&w->lock);
        g_clear_error(&error);
    }
    g_free(job->png);
    g_free(job->txt);
    g_free(job->caption);
    scf_image_free(job->img);
    g_free(job);
}

static gboolean render_loop(const build_opts *o, GPtrArray *todo, scf_emoji_renderer *r,
                            build_result *res, GThreadPool *pool, GError **error)
{
    gboolean tty = isatty(fileno(stderr));
    for (guint i = 0; i < todo->len; i++) {
        const scf_emoji *e = todo->pdata[i];
        char *reason = NULL;
        scf_image *img = scf_emoji_renderer_draw(r, e->text, o->size, &reason, error);
        if (reason) {
            skipped_emoji s = { e, reason };
            g_array_append_val(res->skipped, s);
            continue;
        }
        if (!img)
            return FALSE;
        write_job *job = g_new(write_job, 1);
        job->png = g_strdup_printf("%s/%04u.png", o->out, res->kept->len);
        job->txt = g_strdup_printf("%s/%04u.txt", o->out, res->kept->len);
        job->caption = g_strconcat(e->caption, "\n", NULL);
        job->img = img;
        g_thread_pool_push(pool, job, NULL);
        g_ptr_array_add(res->kept, (gpointer)e);
        if (tty && (i % 64 == 0 || i + 1 == todo->len))
            progress((int)i + 1, (int)todo->len);
    }
    return TRUE;
}

static gboolean render_all(const build_opts *o, const scf_emoji_catalog *cat,
                           scf_emoji_renderer *r, build_result *res, GError **error)
{
    g_autoptr(GPtrArray) todo = g_ptr_array_new();
    for (int i = 0; i < cat->n && (o->limit <= 0 || (int)todo->len < o->limit); i++)
        if (wanted(&cat->items[i], o))
            g_ptr_array_add(todo, &cat->items[i]);
    gint64 t0 = g_get_monotonic_time();
    writers w = { 0 };
    g_mutex_init(&w.lock);
    GThreadPool *pool = g_thread_pool_new(write_one, &w, WRITER_THREADS, FALSE, NULL);
    gboolean ok = render_loop(o, todo, r, res, pool, error);
    g_thread_pool_free(pool, FALSE, TRUE);
    g_mutex_clear(&w.lock);
    if (w.error) {
        if (ok)
            g_propagate_error(error, w.error);
        else
            g_error_free(w.error);
        return FALSE;
    }
    res->render_s = (double)(g_get_monotonic_time() - t0) * 1e-6;
    if (ok && res->kept->len == 0) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "no emoji to keep (%u considered)",
                    todo->len);
        return FALSE;
    }
    return ok;
}

static gboolean write_split(const char *dir, const build_result *res, GError **error)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "rule");
    json_builder_add_string_value(b, SCF_EMOJI_SPLIT_RULE);
    json_builder_set_member_name(b, "held_out");
    json_builder_begin_array(b);
    for (guint i = 0; i < res->kept->len; i++)
        if (res->held[i])
            json_builder_add_string_value(b, ((const scf_emoji *)res->kept->pdata[i])->caption);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "train");
    json_builder_add_int_value(b, (gint64)res->kept->len - res->n_held);
    json_builder_end_object(b);
    return write_json(dir, SCF_DATASET_SPLIT_FILE, b, error);
}

static void add_member(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, value);
}

static void add_int_member(JsonBuilder *b, const char *name, gint64 value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, value);
}

static gboolean write_manifest(const build_opts *o, const scf_emoji_catalog *cat,
                               const scf_emoji_renderer *r, const build_result *res,
                               GError **error)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    add_member(b, "kind", "emoji");
    json_builder_set_member_name(b, "source");
    json_builder_begin_object(b);
    add_member(b, "file", cat->path);
    add_member(b, "emoji_version", cat->version ? cat->version : "");
    json_builder_end_object(b);
    json_builder_set_member_name(b, "font");
    json_builder_begin_object(b);
    add_member(b, "family", SCF_EMOJI_FONT_FAMILY);
    add_member(b, "file", scf_emoji_renderer_font_file(r));
    add_member(b, "version", scf_emoji_renderer_font_version(r));
    add_int_member(b, "strike_px", SCF_EMOJI_STRIKE_PX);
    add_int_member(b, "cell_px", scf_emoji_renderer_cell(r));
    json_builder_end_object(b);
    add_int_member(b, "size", o->size);
    g_autofree char *bg = g_strdup_printf("#%02X%02X%02X", SCF_DATASET_BACKGROUND,
                                          SCF_DATASET_BACKGROUND, SCF_DATASET_BACKGROUND);
    add_member(b, "background", bg);
    add_member(b, "resize", "each emoji centred in the cell at the strike size, then the cell "
                            "area-averaged to size x size");
    json_builder_set_member_name(b, "counts");
    json_builder_begin_object(b);
    add_int_member(b, "fully_qualified", cat->n);
    add_int_member(b, "considered", (gint64)res->kept->len + res->skipped->len);
    add_int_member(b, "kept", res->kept->len);
    add_int_member(b, "skipped", res->skipped->len);
    add_int_member(b, "held_out", res->n_held);
    add_int_member(b, "train", (gint64)res->kept->len - res->n_held);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "skipped");
    json_builder_begin_array(b);
    for (guint i = 0; i < res->skipped->len; i++) {
        const skipped_emoji *s = &g_array_index(res->skipped, skipped_emoji, i);
        json_builder_begin_object(b);
        add_member(b, "caption", s->emoji->caption);
        add_member(b, "codepoints", s->emoji->codepoints);
        add_member(b, "reason", s->reason);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "kept");
    json_builder_begin_array(b);
    for (guint i = 0; i < res->kept->len; i++) {
        const scf_emoji *e = res->kept->pdata[i];
        g_autofree char *file = g_strdup_printf("%04u.png", i);
        json_builder_begin_object(b);
        add_member(b, "file", file);
        add_member(b, "caption", e->caption);
        add_member(b, "codepoints", e->codepoints);
        add_member(b, "emoji_version", e->version);
        add_member(b, "group", e->group);
        add_member(b, "subgroup", e->subgroup);
        json_builder_set_member_name(b, "held_out");
        json_builder_add_boolean_value(b, res->held[i]);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    return write_json(o->out, "dataset.json", b, error);
}

static void report(const build_opts *o, const scf_emoji_catalog *cat, const build_result *res)
{
    printf("kept %u of %u emoji (emoji-test.txt %s: %d fully-qualified) at %dx%d in %s\n",
           res->kept->len, res->kept->len + res->skipped->len, cat->version ? cat->version : "?",
           cat->n, o->size, o->size, o->out);
    g_autoptr(GHashTable) reasons = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < res->skipped->len; i++) {
        const skipped_emoji *s = &g_array_index(res->skipped, skipped_emoji, i);
        gpointer n = g_hash_table_lookup(reasons, s->reason);
        g_hash_table_insert(reasons, s->reason, GINT_TO_POINTER(GPOINTER_TO_INT(n) + 1));
    }
    printf("skipped %u", res->skipped->len);
    GHashTableIter it;
    gpointer reason, n;
    const char *sep = ":";
    g_hash_table_iter_init(&it, reasons);
    while (g_hash_table_iter_next(&it, &reason, &n)) {
        printf("%s %d %s", sep, GPOINTER_TO_INT(n), (const char *)reason);
        sep = ";";
    }
    printf("\nsplit: %d held out, %u for training (rule in split.json)\n", res->n_held,
           res->kept->len - res->n_held);
    printf("rendering and writing %.2f s (%.2f ms per emoji), total %.2f s\n", res->render_s,
           res->render_s * 1e3 / MAX(res->kept->len + res->skipped->len, 1), res->total_s);
}

static gboolean build(const build_opts *o, build_result *res, GError **error)
{
    gint64 t0 = g_get_monotonic_time();
    g_autoptr(scf_emoji_catalog) cat = scf_emoji_catalog_load(o->source, error);
    if (!cat)
        return FALSE;
    g_autoptr(scf_emoji_renderer) r = scf_emoji_renderer_new(error);
    if (!r || !prepare_folder(o, error) || !render_all(o, cat, r, res, error))
        return FALSE;
    res->held = g_new0(gboolean, res->kept->len);
    const char **captions = g_new(const char *, res->kept->len);
    for (guint i = 0; i < res->kept->len; i++)
        captions[i] = ((const scf_emoji *)res->kept->pdata[i])->caption;
    res->n_held = scf_emoji_split(captions, (int)res->kept->len, res->held);
    g_free(captions);
    if (!write_split(o->out, res, error) || !remove_stale(o->out, (int)res->kept->len, error) ||
        !write_manifest(o, cat, r, res, error))
        return FALSE;
    res->total_s = (double)(g_get_monotonic_time() - t0) * 1e-6;
    report(o, cat, res);
    return TRUE;
}

static void result_clear(build_result *res)
{
    for (guint i = 0; i < res->skipped->len; i++)
        g_free(g_array_index(res->skipped, skipped_emoji, i).reason);
    g_array_free(res->skipped, TRUE);
    g_ptr_array_free(res->kept, TRUE);
    g_free(res->held);
}

static const char *usage_problem(int argc, char **argv, const build_opts *o)
{
    if (argc != 2 || strcmp(argv[1], "emoji") != 0)
        return "the one kind of dataset is 'emoji'";
    if (!o->out)
        return "--out DIR is required";
    if (o->size < 8 || o->size > 128)
        return "--size must be 8..128 (32 or 64 for the built-in models)";
    if (o->limit < 0)
        return "--limit must be 0 (no limit) or more";
    return NULL;
}

int scf_cli_dataset(int argc, char **argv)
{
    build_opts o = { .size = 32 };
    GOptionEntry entries[] = {
        { "size", 's', 0, G_OPTION_ARG_INT, &o.size, "Image side in pixels: 32 or 64 (8..128)",
          "N" },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &o.out, "Folder to write (required)", "DIR" },
        { "limit", 0, 0, G_OPTION_ARG_INT, &o.limit, "Only the first N emoji", "N" },
        { "match", 0, 0, G_OPTION_ARG_STRING, &o.match,
          "Only emoji whose name contains TEXT (ignoring case)", "TEXT" },
        { "source", 0, 0, G_OPTION_ARG_FILENAME, &o.source,
          "emoji-test.txt to read (default " SCF_EMOJI_TEST_PATH ")", "FILE" },
        { "force", 'f', 0, G_OPTION_ARG_NONE, &o.force,
          "Replace the dataset in a folder that already holds files", NULL },
        { NULL },
    };
    int code = SCF_EXIT_USAGE;
    const char *problem = NULL;
    if (!scf_cli_parse("dataset", "emoji --out DIR: build the emoji training set", entries,
                       &argc, &argv)) {
        /* scf_cli_parse printed the reason */
    } else if ((problem = usage_problem(argc, argv, &o))) {
        fprintf(stderr, "scflow dataset: %s\nTry 'scflow dataset --help'.\n", problem);
    } else {
        if (!o.source)
            o.source = g_strdup(SCF_EMOJI_TEST_PATH);
        build_result res = { g_ptr_array_new(), g_array_new(FALSE, FALSE, sizeof(skipped_emoji)) };
        GError *error = NULL;
        code = build(&o, &res, &error) ? SCF_EXIT_OK : SCF_EXIT_RUNTIME;
        if (error) {
            fprintf(stderr, "scflow dataset: %s\n", error->message);
            g_error_free(error);
        }
        result_clear(&res);
    }
    g_free(o.out);
    g_free(o.match);
    g_free(o.source);
    return code;
}

/* The gallery: every field survives insert and get, search takes any user
 * text, filters and pages select the right rows in order, delete/undo/purge
 * and export move the right files, old schemas migrate and newer or damaged
 * databases are refused, and the check at open repairs what a crash leaves
 * (files without a row, a row without its file) so nothing is lost. */
#include "gallery.h"
#include "image.h"
#include "error.h"
#include "check.h"
#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <utime.h>
#include <glib/gstdio.h>

static void params_for(scf_gen_params *p, const char *prompt, const char *negative, int steps,
                       const char *model, guint64 seed)
{
    scf_gen_params_init(p);
    g_free(p->prompt);
    p->prompt = g_strdup(prompt);
    g_free(p->negative_prompt);
    p->negative_prompt = g_strdup(negative);
    p->steps = steps;
    p->seed = seed;
    g_free(p->model_name);
    p->model_name = g_strdup(model);
}

static gint64 insert(scf_gallery *g, const char *prompt, const char *negative, int steps,
                     const char *model, guint64 seed)
{
    scf_gen_params p;
    params_for(&p, prompt, negative, steps, model, seed);
    g_autoptr(scf_image) img = chk_noise_image(32, 32, 3, seed);
    gint64 id = 0;
    GError *error = NULL;
    g_assert_true(scf_gallery_insert(g, img, &p, 10, &id, &error));
    g_assert_no_error(error);
    scf_gen_params_clear(&p);
    return id;
}

static scf_gallery *open_ok(const char *dir, scf_gallery_report *report)
{
    GError *error = NULL;
    scf_gallery *g = scf_gallery_open(dir, report, &error);
    g_assert_no_error(error);
    g_assert_nonnull(g);
    return g;
}

static gint64 count(scf_gallery *g, const scf_gallery_filter *f)
{
    gint64 n = -1;
    GError *error = NULL;
    g_assert_true(scf_gallery_count(g, f, &n, &error));
    g_assert_no_error(error);
    return n;
}

static gint64 count_text(scf_gallery *g, const char *text)
{
    scf_gallery_filter f = { .text = text };
    return count(g, &f);
}

/* The ids of a query, newest first, as "5 4 3". */
static char *query_ids(scf_gallery *g, const scf_gallery_filter *f, gint64 offset, int limit)
{
    GError *error = NULL;
    g_autoptr(GPtrArray) rows = scf_gallery_query(g, f, offset, limit, &error);
    g_assert_no_error(error);
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < rows->len; i++) {
        scf_gallery_entry *e = g_ptr_array_index(rows, i);
        g_string_append_printf(s, "%s%" G_GINT64_FORMAT, i ? " " : "", e->id);
    }
    return g_string_free(s, FALSE);
}

static gboolean file_exists(const char *path)
{
    return g_file_test(path, G_FILE_TEST_IS_REGULAR);
}

static char *read_all(const char *path, gsize *len)
{
    char *data = NULL;
    g_assert_true(g_file_get_contents(path, &data, len, NULL));
    return data;
}

static sqlite3 *raw_open(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, "gallery.sqlite", NULL);
    sqlite3 *db = NULL;
    g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
    return db;
}

static void raw_exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK)
        g_error("%s: %s", sql, msg);
}

static gint64 raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &st, NULL), ==, SQLITE_OK);
    g_assert_cmpint(sqlite3_step(st), ==, SQLITE_ROW);
    gint64 v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_roundtrip(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    g_autoptr(scf_gallery) g = open_ok(dir, NULL);
    g_assert_cmpstr(scf_gallery_get_dir(g), ==, dir);

    scf_gen_params p;
    params_for(&p, "a café, \"quoted\"\nsecond line 猫", "blurry: lowres", 4, "emoji, v2",
               G_MAXUINT64 - 5); /* above INT64_MAX: stored as its bits */
    p.guidance = 3.25;
    g_free(p.model_hash);
    p.model_hash = g_strdup("0123abcd");
    g_free(p.device);
    p.device = g_strdup("cuda:1");
    p.batch_index = 2;
    scf_gen_params_set_extra(&p, "Lora", "x: 1");
    g_autoptr(scf_image) img = chk_noise_image(32, 24, 3, 7);
    gint64 before = g_get_real_time() / 1000, id = 0;
    GError *error = NULL;
    g_assert_true(scf_gallery_insert(g, img, &p, 1234, &id, &error));
    g_assert_no_error(error);
    gint64 after = g_get_real_time() / 1000;
    g_assert_cmpint(id, ==, 1);

    g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, id, &error);
    g_assert_no_error(error);
    g_assert_cmpint(e->id, ==, id);
    g_assert_cmpint(e->created_ms, >=, before);
    g_assert_cmpint(e->created_ms, <=, after);
    g_assert_cmpint(e->duration_ms, ==, 1234);
    g_assert_cmpint(e->width, ==, 32);
    g_assert_cmpint(e->height, ==, 24);
    g_assert_false(e->favourite);
    g_assert_cmpint(e->state, ==, SCF_GALLERY_OK);
    g_assert_cmpstr(e->params.prompt, ==, p.prompt);
    g_assert_cmpstr(e->params.negative_prompt, ==, p.negative_prompt);
    g_assert_cmpint(e->params.steps, ==, 4);
    g_assert_cmpfloat(e->params.guidance, ==, 3.25);
    g_assert_cmpuint(e->params.seed, ==, G_MAXUINT64 - 5);
    g_assert_cmpint(e->params.width, ==, 32); /* 0 became the image's size */
    g_assert_cmpint(e->params.height, ==, 24);
    g_assert_cmpstr(e->params.model_name, ==, "emoji, v2");
    g_assert_cmpstr(e->params.model_hash, ==, "0123abcd");
    g_assert_cmpstr(e->params.device, ==, "cuda:1");
    g_assert_cmpstr(e->params.sampler, ==, "Euler");
    g_assert_cmpstr(e->params.version, ==, p.version);
    g_assert_cmpint(e->params.batch_index, ==, 2);
    g_assert_cmpstr(scf_gen_params_get_extra(&e->params, "Lora"), ==, "x: 1");

    /* the file: images/YYYY/MM/ID-SEED.png with the pixels and settings */
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(e->created_ms / 1000);
    g_autofree char *want = g_strdup_printf("%s/images/%04d/%02d/1-%" G_GUINT64_FORMAT ".png", dir,
                                            g_date_time_get_year(t), g_date_time_get_month(t),
                                            G_MAXUINT64 - 5);
    g_assert_cmpstr(e->image_path, ==, want);
    scf_gen_params q;
    gboolean found = FALSE;
    g_autoptr(scf_image) back = scf_png_read(e->image_path, &q, &found, &error);
    g_assert_no_error(error);
    g_assert_true(found);
    g_assert_cmpmem(back->data, 32 * 24 * 3, img->data, 32 * 24 * 3);
    g_assert_cmpstr(q.prompt, ==, p.prompt);
    g_assert_cmpuint(q.seed, ==, p.seed);
    scf_gen_params_clear(&q);

    /* the thumbnail: a 4x nearest-neighbour enlargement to 128 x 96 */
    g_autofree char *thumb = g_build_filename(dir, "thumbs", "1.png", NULL);
    g_assert_cmpstr(e->thumb_path, ==, thumb);
    g_autoptr(scf_image) th = scf_png_read(thumb, NULL, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpint(th->width, ==, 128);
    g_assert_cmpint(th->height, ==, 96);
    for (int y = 0; y < 96; y++)
        for (int x = 0; x < 128; x++)
            for (int c = 0; c < 3; c++)
                g_assert_cmpuint(th->data[(y * 128 + x) * 3 + c], ==,
                                 img->data[((y / 4) * 32 + x / 4) * 3 + c]);

    /* the searchable columns hold the same values */
    sqlite3 *db = raw_open(dir);
    g_assert_cmpint(raw_int(db, "SELECT steps FROM images WHERE id = 1"), ==, 4);
    g_assert_cmpint(raw_int(db, "SELECT seed FROM images WHERE id = 1"), ==, -6);
    g_assert_cmpint(raw_int(db, "SELECT model_name = 'emoji, v2' AND device = 'cuda:1' AND "
                                "model_hash = '0123abcd' AND guidance = 3.25 AND "
                                "negative = 'blurry: lowres' FROM images WHERE id = 1"), ==, 1);
    g_assert_cmpint(raw_int(db, "PRAGMA user_version"), ==, SCF_GALLERY_SCHEMA_VERSION);
    sqlite3_close(db);

    g_assert_null(scf_gallery_get(g, 99, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "99"));
    g_clear_error(&error);
    scf_gen_params_clear(&p);
}

static void test_search(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    g_autoptr(scf_gallery) g = open_ok(dir, NULL);
    insert(g, "a red café at night", "", 1, "m", 1);
    insert(g, "blue \"quoted\" cat: sitting", "blurry", 1, "m", 2);
    insert(g, "猫 on a 🚀", "", 1, "m", 3);
    insert(g, "NOT AND OR (paren", "", 1, "m", 4);
    insert(g, "star*burst NEAR(x y)", "", 1, "m", 5);

    g_assert_cmpint(count_text(g, "cafe"), ==, 1);      /* accents ignored */
    g_assert_cmpint(count_text(g, "CAFÉ"), ==, 1);      /* case ignored */
    g_assert_cmpint(count_text(g, "caf"), ==, 1);       /* word prefix */
    g_assert_cmpint(count_text(g, "red night"), ==, 1); /* all words, any order */
    g_assert_cmpint(count_text(g, "red blue"), ==, 0);
    g_assert_cmpint(count_text(g, "\"quoted\""), ==, 1);
    g_assert_cmpint(count_text(g, "\"quoted"), ==, 1);  /* an unbalanced quote */
    g_assert_cmpint(count_text(g, "blue\"quoted"), ==, 1);
    g_assert_cmpint(count_text(g, "cat: sitting"), ==, 1);
    g_assert_cmpint(count_text(g, "prompt:cat"), ==, 0); /* not a column filter */
    g_assert_cmpint(count_text(g, "blurry"), ==, 1);     /* the negative prompt */
    g_assert_cmpint(count_text(g, "star*"), ==, 1);
    g_assert_cmpint(count_text(g, "NOT"), ==, 1);        /* a word, not an operator */
    g_assert_cmpint(count_text(g, "NEAR(x"), ==, 1);
    g_assert_cmpint(count_text(g, "(paren"), ==, 1);
    g_assert_cmpint(count_text(g, "猫"), ==, 1);
    g_assert_cmpint(count_text(g, "zzz"), ==, 0);
    /* nothing searchable left: no text filter */
    g_assert_cmpint(count_text(g, "*"), ==, 5);
    g_assert_cmpint(count_text(g, "\" : *"), ==, 5);
    g_assert_cmpint(count_text(g, "🚀"), ==, 5);
    g_assert_cmpint(count_text(g, "  "), ==, 5);
    g_assert_cmpint(count_text(g, "\xff\xfe"), ==, 5); /* not UTF-8 */

    scf_gallery_filter f = { .text = "caf" };
    g_autofree char *ids = query_ids(g, &f, 0, 10);
    g_assert_cmpstr(ids, ==, "1");
}

static void test_filters_order_pages(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    g_autoptr(scf_gallery) g = open_ok(dir, NULL);
    for (int i = 1; i <= 25; i++) {
        gint64 id = insert(g, i % 2 ? "odd cat" : "even dog", "", i % 3 ? 1 : 4,
                           i <= 10 ? "small" : "large", (guint64)i);
        g_assert_cmpint(id, ==, i);
    }

    /* newest first, and the pages tile the list */
    g_autofree char *full = query_ids(g, NULL, 0, 100);
    g_assert_cmpstr(full, ==, "25 24 23 22 21 20 19 18 17 16 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1");
    g_autofree char *p0 = query_ids(g, NULL, 0, 10), *p1 = query_ids(g, NULL, 10, 10),
                    *p2 = query_ids(g, NULL, 20, 10), *p3 = query_ids(g, NULL, 25, 10);
    g_assert_cmpstr(p0, ==, "25 24 23 22 21 20 19 18 17 16");
    g_assert_cmpstr(p1, ==, "15 14 13 12 11 10 9 8 7 6");
    g_assert_cmpstr(p2, ==, "5 4 3 2 1");
    g_assert_cmpstr(p3, ==, "");
    g_autofree char *none = query_ids(g, NULL, 0, 0);
    g_assert_cmpstr(none, ==, "");

    scf_gallery_filter model = { .model = "small" }, steps = { .steps = 4 };
    g_assert_cmpint(count(g, NULL), ==, 25);
    g_assert_cmpint(count(g, &model), ==, 10);
    g_assert_cmpint(count(g, &steps), ==, 8); /* 3, 6, ..., 24 */
    g_autofree char *small4 = query_ids(g, &(scf_gallery_filter){ .model = "small", .steps = 4 },
                                        0, 100);
    g_assert_cmpstr(small4, ==, "9 6 3");
    g_autofree char *cats = query_ids(g, &(scf_gallery_filter){ .text = "cat", .steps = 4,
                                                                .model = "large" }, 0, 100);
    g_assert_cmpstr(cats, ==, "21 15");
    g_autofree char *cats_page = query_ids(g, &(scf_gallery_filter){ .text = "cat" }, 3, 2);
    g_assert_cmpstr(cats_page, ==, "19 17");

    /* favourites */
    GError *error = NULL;
    scf_gallery_filter fav = { .favourites = TRUE };
    g_assert_cmpint(count(g, &fav), ==, 0);
    g_assert_true(scf_gallery_set_favourite(g, 7, TRUE, &error));
    g_assert_true(scf_gallery_set_favourite(g, 12, TRUE, &error));
    g_assert_no_error(error);
    g_autofree char *favs = query_ids(g, &fav, 0, 10);
    g_assert_cmpstr(favs, ==, "12 7");
    g_assert_true(scf_gallery_set_favourite(g, 12, FALSE, &error));
    g_assert_cmpint(count(g, &fav), ==, 1);
    g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, 7, &error);
    g_assert_true(e->favourite);
    g_assert_false(scf_gallery_set_favourite(g, 99, TRUE, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);

    /* filter values are exact and never taken for prompt words, nor the
     * reverse */
    gint64 odd = insert(g, "fav s4 tags", "", 2, "emoji, v2: 猫", 99);
    g_assert_cmpint(count(g, &(scf_gallery_filter){ .model = "emoji, v2: 猫" }), ==, 1);
    g_assert_cmpint(count(g, &(scf_gallery_filter){ .model = "emoji" }), ==, 0);
    g_assert_cmpint(count(g, &(scf_gallery_filter){ .model = "" }), ==, 0);
    g_assert_cmpint(count_text(g, "fav"), ==, 1);
    g_assert_cmpint(count_text(g, "s4"), ==, 1);
    g_assert_cmpint(count_text(g, "small"), ==, 0);
    g_assert_cmpint(count(g, &(scf_gallery_filter){ .steps = 2 }), ==, 1);
    g_assert_true(scf_gallery_set_favourite(g, odd, TRUE, &error));
    g_autofree char *favs2 = query_ids(g, &(scf_gallery_filter){ .favourites = TRUE,
                                                                 .text = "tags" }, 0, 10);
    g_assert_cmpstr(favs2, ==, "26");

    g_assert_null(scf_gallery_query(g, NULL, -1, 10, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);
}

static void test_delete_undo_purge(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    g_autoptr(scf_gallery) g = open_ok(dir, NULL);
    for (int i = 1; i <= 3; i++)
        insert(g, "kitten", "", 1, "m", (guint64)(100 + i));
    GError *error = NULL;
    g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, 2, &error);
    g_autofree char *image = g_strdup(e->image_path), *thumb = g_strdup(e->thumb_path);
    gsize len = 0;
    g_autofree char *bytes = read_all(image, &len);

    g_assert_true(scf_gallery_delete(g, 2, &error));
    g_assert_no_error(error);
    g_assert_false(file_exists(image));
    g_assert_false(file_exists(thumb));
    g_autoptr(scf_gallery_entry) d = scf_gallery_get(g, 2, &error);
    g_assert_cmpint(d->state, ==, SCF_GALLERY_DELETED);
    g_assert_nonnull(strstr(d->image_path, "/trash/images/"));
    g_assert_true(file_exists(d->image_path));
    g_assert_true(file_exists(d->thumb_path));
    g_assert_cmpint(count(g, NULL), ==, 2);
    g_assert_cmpint(count_text(g, "kitten"), ==, 2);
    g_assert_cmpint(count(g, &(scf_gallery_filter){ .text = "kitten", .steps = 1 }), ==, 2);
    g_autofree char *ids = query_ids(g, NULL, 0, 10);
    g_assert_cmpstr(ids, ==, "3 1");
    g_assert_false(scf_gallery_delete(g, 2, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);

    g_assert_true(scf_gallery_undo(g, 2, &error));
    g_assert_no_error(error);
    gsize len2 = 0;
    g_autofree char *bytes2 = read_all(image, &len2);
    g_assert_cmpmem(bytes, len, bytes2, len2);
    g_assert_true(file_exists(thumb));
    g_autoptr(scf_gallery_entry) u = scf_gallery_get(g, 2, &error);
    g_assert_cmpint(u->state, ==, SCF_GALLERY_OK);
    g_assert_cmpstr(u->image_path, ==, image);
    g_assert_cmpint(count(g, NULL), ==, 3);
    g_assert_cmpint(count_text(g, "kitten"), ==, 3);
    g_assert_false(scf_gallery_undo(g, 2, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);

    /* purge removes deleted rows and their files for good; ids are not reused */
    g_assert_true(scf_gallery_delete(g, 2, &error));
    g_assert_true(scf_gallery_delete(g, 3, &error));
    g_autoptr(scf_gallery_entry) d3 = scf_gallery_get(g, 3, &error);
    gint64 purged = 0;
    g_assert_true(scf_gallery_purge(g, &purged, &error));
    g_assert_no_error(error);
    g_assert_cmpint(purged, ==, 2);
    g_assert_false(file_exists(d->image_path));
    g_assert_false(file_exists(d3->image_path));
    g_assert_false(file_exists(d3->thumb_path));
    g_assert_null(scf_gallery_get(g, 3, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_false(scf_gallery_undo(g, 3, &error));
    g_clear_error(&error);
    g_assert_cmpint(count(g, NULL), ==, 1);
    g_assert_cmpint(count_text(g, "kitten"), ==, 1);
    g_autofree char *left = query_ids(g, &(scf_gallery_filter){ .text = "kitten" }, 0, 10);
    g_assert_cmpstr(left, ==, "1");
    g_assert_cmpint(insert(g, "after purge", "", 1, "m", 9), ==, 4);
}

static void test_export(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    g_autoptr(scf_gallery) g = open_ok(dir, NULL);
    for (int i = 1; i <= 3; i++)
        insert(g, "export me", "", 2, "m", (guint64)(40 + i));
    g_autofree char *out = g_build_filename(dir, "out", "nested", NULL);
    const gint64 ids[] = { 3, 1 };
    GError *error = NULL;
    g_assert_true(scf_gallery_export(g, ids, 2, out, &error));
    g_assert_no_error(error);
    for (int i = 0; i < 2; i++) {
        g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, ids[i], &error);
        g_autofree char *base = g_path_get_basename(e->image_path);
        g_autofree char *copy = g_build_filename(out, base, NULL);
        gsize a = 0, b = 0;
        g_autofree char *orig = read_all(e->image_path, &a), *copied = read_all(copy, &b);
        g_assert_cmpmem(orig, a, copied, b);
    }
    g_autofree char *two = g_build_filename(out, "2-42.png", NULL);
    g_assert_false(file_exists(two));

    g_assert_true(scf_gallery_delete(g, 2, &error));
    const gint64 deleted[] = { 2 }, unknown[] = { 77 };
    g_assert_false(scf_gallery_export(g, deleted, 1, out, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "deleted"));
    g_clear_error(&error);
    g_assert_false(scf_gallery_export(g, unknown, 1, out, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);
}

/* Version 1 as it shipped: no state column, no search index. */
static const char v1_schema[] =
    "CREATE TABLE images (id INTEGER PRIMARY KEY AUTOINCREMENT, created INTEGER NOT NULL,"
    " prompt TEXT NOT NULL, negative TEXT NOT NULL, seed INTEGER NOT NULL,"
    " steps INTEGER NOT NULL, guidance REAL NOT NULL, width INTEGER NOT NULL,"
    " height INTEGER NOT NULL, model_name TEXT NOT NULL, model_hash TEXT NOT NULL,"
    " device TEXT NOT NULL, duration_ms INTEGER NOT NULL, image_path TEXT NOT NULL UNIQUE,"
    " thumb_path TEXT NOT NULL, favourite INTEGER NOT NULL DEFAULT 0, settings TEXT NOT NULL);"
    "CREATE INDEX images_by_time ON images(created DESC, id DESC);"
    "PRAGMA user_version = 1;";

static void test_migrate_v1(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    scf_gen_params p;
    params_for(&p, "old lighthouse", "fog", 8, "teacher", 7);
    p.width = p.height = 32;
    g_autofree char *json = scf_gen_params_to_json(&p);
    g_autoptr(scf_image) img = chk_noise_image(32, 32, 3, 7);
    g_autofree char *image = g_build_filename(dir, "images", "2024", "01", "1-7.png", NULL);
    g_autofree char *thumb = g_build_filename(dir, "thumbs", "1.png", NULL);
    GError *error = NULL;
    g_autofree char *month = g_path_get_dirname(image), *thumbs = g_path_get_dirname(thumb);
    g_assert_cmpint(g_mkdir_with_parents(month, 0755), ==, 0);
    g_assert_cmpint(g_mkdir_with_parents(thumbs, 0755), ==, 0);
    g_assert_true(scf_png_write(image, img, &p, &error));
    g_assert_true(scf_png_write(thumb, img, NULL, &error));

    sqlite3 *db = raw_open(dir);
    raw_exec(db, v1_schema);
    char *row = sqlite3_mprintf(
        "INSERT INTO images VALUES (1, 1704067200000, 'old lighthouse', 'fog', 7, 8, 1.0, 32, 32,"
        " 'teacher', '', '', 500, 'images/2024/01/1-7.png', 'thumbs/1.png', 1, %Q)", json);
    raw_exec(db, row);
    sqlite3_free(row);
    sqlite3_close(db);

    scf_gallery_report report;
    g_autoptr(scf_gallery) g = open_ok(dir, &report);
    g_assert_cmpuint(report.missing->len, ==, 0);
    g_assert_cmpuint(report.reimported->len, ==, 0);
    g_assert_cmpuint(report.skipped->len, ==, 0);
    scf_gallery_report_clear(&report);

    db = raw_open(dir);
    g_assert_cmpint(raw_int(db, "PRAGMA user_version"), ==, SCF_GALLERY_SCHEMA_VERSION);
    sqlite3_close(db);
    g_assert_cmpint(count_text(g, "lighthouse"), ==, 1); /* the index was built for old rows */
    g_assert_cmpint(count_text(g, "fog"), ==, 1);
    g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, 1, &error);
    g_assert_no_error(error);
    g_assert_cmpint(e->state, ==, SCF_GALLERY_OK);
    g_assert_true(e->favourite);
    g_assert_cmpint(e->duration_ms, ==, 500);
    g_assert_cmpstr(e->params.model_name, ==, "teacher");
    g_assert_cmpint(insert(g, "new lighthouse", "", 1, "m", 8), ==, 2);
    g_assert_cmpint(count_text(g, "lighthouse"), ==, 2);
    scf_gen_params_clear(&p);
}

static void test_newer_version_refused(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    g_autofree char *path = g_build_filename(dir, "gallery.sqlite", NULL);
    sqlite3 *db = raw_open(dir);
    raw_exec(db, "CREATE TABLE future (x); PRAGMA user_version = 99;");
    sqlite3_close(db);
    gsize a = 0, b = 0;
    g_autofree char *before = read_all(path, &a);

    GError *error = NULL;
    g_assert_null(scf_gallery_open(dir, NULL, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_nonnull(strstr(error->message, "99"));
    g_assert_nonnull(strstr(error->message, "newer"));
    g_clear_error(&error);
    g_autofree char *after = read_all(path, &b);
    g_assert_cmpmem(before, a, after, b);
    g_autofree char *wal = g_strconcat(path, "-wal", NULL);
    g_assert_false(file_exists(wal));
}

static void test_corrupt_database(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    g_autofree char *path = g_build_filename(dir, "gallery.sqlite", NULL);
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)("not a database "[i % 15]);
    g_assert_true(g_file_set_contents(path, junk, sizeof junk, NULL));

    GError *error = NULL;
    g_assert_null(scf_gallery_open(dir, NULL, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_nonnull(strstr(error->message, "not a database"));
    g_clear_error(&error);
    gsize n = 0;
    g_autofree char *after = read_all(path, &n);
    g_assert_cmpmem(junk, sizeof junk, after, n);
}

/* What a crash between writing the files and committing the row leaves
 * (a PNG with no row, temporary files), plus a thumbnail lost and a delete
 * interrupted after moving the files: the next open repairs all of it. */
static void test_crash_repair(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    gint64 kept, half_deleted;
    g_autofree char *half_image = NULL;
    {
        g_autoptr(scf_gallery) g = open_ok(dir, NULL);
        kept = insert(g, "kept", "", 1, "m", 1);
        half_deleted = insert(g, "half deleted", "", 1, "m", 2);
        g_assert_cmpint(kept, ==, 1);
        g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, half_deleted, NULL);
        half_image = g_strdup(e->image_path);
    }
    /* the files of row 2 moved to the trash, the row never marked */
    g_autofree char *trash = g_build_filename(dir, "trash", half_image + strlen(dir) + 1, NULL);
    g_autofree char *trash_dir = g_path_get_dirname(trash);
    g_assert_cmpint(g_mkdir_with_parents(trash_dir, 0755), ==, 0);
    g_assert_cmpint(g_rename(half_image, trash), ==, 0);

    GError *error = NULL;
    g_autofree char *month = g_build_filename(dir, "images", "2024", "05", NULL);
    g_assert_cmpint(g_mkdir_with_parents(month, 0755), ==, 0);
    scf_gen_params p;
    params_for(&p, "orphan after a crash", "", 4, "crashy", 1234);
    g_autoptr(scf_image) img = chk_noise_image(32, 32, 3, 1234);
    g_autofree char *orphan = g_build_filename(month, "77-1234.png", NULL);
    g_assert_true(scf_png_write(orphan, img, &p, &error));
    g_assert_no_error(error);
    /* an orphan whose id is taken gets the next free one (files are taken
     * in name order, so this one comes first) */
    g_autofree char *clash = g_build_filename(month, "1-555.png", NULL);
    g_assert_true(scf_png_write(clash, img, &p, &error));
    g_autofree char *tmp = g_build_filename(month, "78-1.png.tmp-Ab12Cd", NULL);
    g_autofree char *tmp_thumb = g_build_filename(dir, "thumbs", "78.png.tmp-Xy34Zw", NULL);
    g_autofree char *notes = g_build_filename(month, "notes.txt", NULL);
    g_assert_true(g_file_set_contents(tmp, "half", 4, NULL));
    g_assert_true(g_file_set_contents(tmp_thumb, "half", 4, NULL));
    g_assert_true(g_file_set_contents(notes, "not a png", 9, NULL));
    g_autofree char *thumb1 = g_build_filename(dir, "thumbs", "1.png", NULL);
    g_assert_cmpint(g_unlink(thumb1), ==, 0);
    struct utimbuf old = { 1600000000, 1600000000 };
    g_assert_cmpint(g_utime(orphan, &old), ==, 0);

    scf_gallery_report report;
    g_autoptr(scf_gallery) g = open_ok(dir, &report);
    g_assert_cmpuint(report.missing->len, ==, 0);
    g_assert_cmpuint(report.reimported->len, ==, 2);
    g_assert_cmpuint(report.skipped->len, ==, 1);
    g_assert_nonnull(strstr(g_ptr_array_index(report.skipped, 0), "notes.txt"));
    g_assert_cmpint(g_array_index(report.reimported, gint64, 0), ==, 3);
    g_assert_cmpint(g_array_index(report.reimported, gint64, 1), ==, 77);
    scf_gallery_report_clear(&report);

    g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, 77, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(e->image_path, ==, orphan);
    g_assert_cmpstr(e->params.prompt, ==, "orphan after a crash");
    g_assert_cmpint(e->params.steps, ==, 4);
    g_assert_cmpuint(e->params.seed, ==, 1234);
    g_assert_cmpint(e->created_ms, ==, G_GINT64_CONSTANT(1600000000000));
    g_assert_cmpint(e->duration_ms, ==, 0);
    g_assert_true(file_exists(e->thumb_path));
    g_autoptr(scf_gallery_entry) e3 = scf_gallery_get(g, 3, &error);
    g_assert_cmpstr(e3->image_path, ==, clash);
    g_assert_false(file_exists(tmp));
    g_assert_false(file_exists(tmp_thumb));
    g_assert_true(file_exists(notes));
    g_assert_true(file_exists(thumb1));
    g_autoptr(scf_gallery_entry) back = scf_gallery_get(g, half_deleted, &error);
    g_assert_cmpint(back->state, ==, SCF_GALLERY_OK);
    g_assert_cmpstr(back->image_path, ==, half_image);
    g_assert_true(file_exists(half_image));
    g_assert_false(file_exists(trash));
    g_assert_cmpint(count_text(g, "orphan"), ==, 2);
    g_assert_cmpint(insert(g, "next", "", 1, "m", 5), ==, 78);
    scf_gen_params_clear(&p);
}

static void test_missing_file(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    g_autofree char *image = NULL;
    gsize len = 0;
    g_autofree char *bytes = NULL;
    {
        g_autoptr(scf_gallery) g = open_ok(dir, NULL);
        insert(g, "stays", "", 1, "m", 1);
        insert(g, "vanishes", "", 1, "m", 2);
        g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, 2, NULL);
        image = g_strdup(e->image_path);
    }
    bytes = read_all(image, &len);
    g_assert_cmpint(g_unlink(image), ==, 0);

    scf_gallery_report report;
    g_autoptr(scf_gallery) g = open_ok(dir, &report);
    g_assert_cmpuint(report.missing->len, ==, 1);
    g_assert_cmpint(g_array_index(report.missing, gint64, 0), ==, 2);
    g_assert_cmpuint(report.reimported->len, ==, 0);
    scf_gallery_report_clear(&report);
    GError *error = NULL;
    g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, 2, &error);
    g_assert_cmpint(e->state, ==, SCF_GALLERY_MISSING);
    g_assert_cmpint(count(g, NULL), ==, 2); /* still listed, so the user sees it */
    const gint64 ids[] = { 2 };
    g_autofree char *out = g_build_filename(dir, "out", NULL);
    g_assert_false(scf_gallery_export(g, ids, 1, out, &error));
    g_assert_nonnull(strstr(error->message, "missing"));
    g_clear_error(&error);

    /* the file comes back (from a backup): the next check says so */
    g_assert_true(g_file_set_contents(image, bytes, (gssize)len, NULL));
    g_assert_true(scf_gallery_check(g, &report, &error));
    g_assert_no_error(error);
    g_assert_cmpuint(report.missing->len, ==, 0);
    scf_gallery_report_clear(&report);
    g_autoptr(scf_gallery_entry) ok = scf_gallery_get(g, 2, &error);
    g_assert_cmpint(ok->state, ==, SCF_GALLERY_OK);
}

/* No file is left behind by an insert that fails at any step. */
static void assert_no_pngs(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (!d)
        return;
    const char *name;
    while ((name = g_dir_read_name(d))) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR))
            assert_no_pngs(path);
        else
            g_assert_false(g_str_has_suffix(name, ".png") || strstr(name, ".tmp-"));
    }
    g_dir_close(d);
}

static void test_unwritable(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    g_autofree char *file = g_build_filename(dir, "plain-file", NULL);
    g_assert_true(g_file_set_contents(file, "x", 1, NULL));
    g_autofree char *under = g_build_filename(file, "gallery", NULL);
    GError *error = NULL;
    g_assert_null(scf_gallery_open(under, NULL, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_nonnull(strstr(error->message, under));
    g_assert_nonnull(strstr(error->message, g_strerror(ENOTDIR)));
    g_clear_error(&error);

    g_autofree char *gdir = g_build_filename(dir, "g", NULL);
    g_autoptr(scf_gallery) g = open_ok(gdir, NULL);
    scf_gen_params p;
    params_for(&p, "never stored", "", 1, "m", 3);
    g_autoptr(scf_image) img = chk_noise_image(32, 32, 3, 3);
    g_autofree char *images = g_build_filename(gdir, "images", NULL);
    g_autofree char *thumbs = g_build_filename(gdir, "thumbs", NULL);

    /* the image cannot be written: images/ is a file */
    g_assert_true(g_file_set_contents(images, "x", 1, NULL));
    g_assert_false(scf_gallery_insert(g, img, &p, 1, NULL, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_nonnull(strstr(error->message, images));
    g_clear_error(&error);
    g_assert_cmpint(count(g, NULL), ==, 0);
    assert_no_pngs(gdir);
    g_assert_cmpint(g_unlink(images), ==, 0);

    /* the thumbnail cannot be written: the image just written goes too */
    g_assert_true(g_file_set_contents(thumbs, "x", 1, NULL));
    g_assert_false(scf_gallery_insert(g, img, &p, 1, NULL, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_nonnull(strstr(error->message, thumbs));
    g_clear_error(&error);
    g_assert_cmpint(count(g, NULL), ==, 0);
    assert_no_pngs(gdir);
    g_assert_cmpint(g_unlink(thumbs), ==, 0);

    /* the row cannot be inserted: both files go */
    sqlite3 *db = raw_open(gdir);
    raw_exec(db, "CREATE TRIGGER refuse BEFORE INSERT ON images BEGIN"
                 " SELECT RAISE(ABORT, 'refused by the test'); END;");
    g_assert_false(scf_gallery_insert(g, img, &p, 1, NULL, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_nonnull(strstr(error->message, "refused by the test"));
    g_clear_error(&error);
    assert_no_pngs(gdir);
    raw_exec(db, "DROP TRIGGER refuse");
    sqlite3_close(db);

    gint64 id = 0;
    g_assert_true(scf_gallery_insert(g, img, &p, 1, &id, &error));
    g_assert_no_error(error);
    g_assert_cmpint(count(g, NULL), ==, 1);
    scf_gen_params_clear(&p);
}

static void test_import(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    g_autoptr(scf_gallery) g = open_ok(dir, NULL);
    const char *fixtures = g_getenv("SCF_FIXTURES");
    g_assert_nonnull(fixtures);
    g_autofree char *a1111 = g_build_filename(fixtures, "png", "a1111.png", NULL);
    gint64 id = 0;
    GError *error = NULL;
    g_assert_true(scf_gallery_import(g, a1111, &id, &error));
    g_assert_no_error(error);
    g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, id, &error);
    g_assert_cmpuint(e->params.seed, ==, 1234567890);
    g_assert_cmpint(e->params.steps, ==, 20);
    g_assert_cmpstr(e->params.model_name, ==, "v1-5, pruned: ema");
    g_assert_cmpint(e->width, ==, 8); /* the file's size; the settings keep A1111's 512x768 */
    g_assert_cmpint(e->params.width, ==, 512);
    g_assert_cmpint(count_text(g, "masterpiece"), ==, 1);
    g_assert_cmpint(count_text(g, "watermark"), ==, 1);

    g_autofree char *bad = g_build_filename(dir, "bad.png", NULL);
    g_assert_true(g_file_set_contents(bad, "no", 2, NULL));
    g_assert_false(scf_gallery_import(g, bad, &id, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
    g_assert_nonnull(strstr(error->message, bad));
    g_clear_error(&error);
}

/* The app's pattern: a worker inserts through its own handle while the
 * main thread reads through another. */
typedef struct {
    const char *dir;
    int n;
} worker_args;

static gpointer insert_worker(gpointer data)
{
    const worker_args *a = data;
    g_autoptr(scf_gallery) g = open_ok(a->dir, NULL);
    for (int i = 0; i < a->n; i++)
        insert(g, "from the worker", "", 1, "m", (guint64)i);
    return NULL;
}

static void test_threads(void)
{
    g_autofree char *dir = chk_tmpdir("gallery");
    g_autoptr(scf_gallery) g = open_ok(dir, NULL);
    worker_args a = { dir, 20 };
    GThread *t = g_thread_new("insert", insert_worker, &a);
    gint64 last = 0;
    int reads = 0;
    while (last < a.n) {
        gint64 n = count(g, NULL);
        g_assert_cmpint(n, >=, last); /* rows only appear, whole */
        g_autoptr(GPtrArray) page = scf_gallery_query(g, NULL, 0, 60, NULL);
        g_assert_cmpuint(page->len, >=, (guint)n);
        for (guint i = 0; i < page->len; i++)
            g_assert_true(file_exists(((scf_gallery_entry *)g_ptr_array_index(page, i))->image_path));
        last = n;
        reads++;
    }
    g_thread_join(t);
    g_assert_cmpint(count(g, NULL), ==, a.n);
    g_assert_cmpint(reads, >, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/gallery/roundtrip", test_roundtrip);
    g_test_add_func("/gallery/search", test_search);
    g_test_add_func("/gallery/filters-order-pages", test_filters_order_pages);
    g_test_add_func("/gallery/delete-undo-purge", test_delete_undo_purge);
    g_test_add_func("/gallery/export", test_export);
    g_test_add_func("/gallery/import", test_import);
    g_test_add_func("/gallery/migrate-v1", test_migrate_v1);
    g_test_add_func("/gallery/newer-version-refused", test_newer_version_refused);
    g_test_add_func("/gallery/corrupt-database", test_corrupt_database);
    g_test_add_func("/gallery/crash-repair", test_crash_repair);
    g_test_add_func("/gallery/missing-file", test_missing_file);
    g_test_add_func("/gallery/unwritable", test_unwritable);
    g_test_add_func("/gallery/threads", test_threads);
    return g_test_run();
}

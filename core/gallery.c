#include "gallery.h"
#include "atomic_file.h"
#include "error.h"
#include <dirent.h>
#include <errno.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <glib/gstdio.h>

#define DB_FILE "gallery.sqlite"
#define TRASH "trash/"
#define BUSY_TIMEOUT_MS 5000

struct scf_gallery {
    char *dir;
    char *db_path;
    sqlite3 *db;
    GMutex lock;
};

/* The filter values of row r as FTS tokens: "s4" for 4 steps, "m" and the
 * hex of the model name's bytes (one token whatever the name holds; the
 * filter side is spelled by fts_query), "fav" for favourites. */
#define TAGS(r) "('s' || " r ".steps || ' m' || hex(" r ".model_name) ||" \
                " CASE WHEN " r ".favourite THEN ' fav' ELSE '' END)"

/* The schema as it grew: step i takes a database from user_version i to
 * i + 1, and a new database runs them all, so every step is exercised on
 * every fresh gallery. Append steps; never edit one that has shipped. */
static const char *const migrations[] = {
    /* 1: the images and their settings; seed holds the bits of the unsigned
     * seed (SQLite integers are signed), settings the exact JSON (genparams.h) */
    "CREATE TABLE images ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  created INTEGER NOT NULL,"
    "  prompt TEXT NOT NULL,"
    "  negative TEXT NOT NULL,"
    "  seed INTEGER NOT NULL,"
    "  steps INTEGER NOT NULL,"
    "  guidance REAL NOT NULL,"
    "  width INTEGER NOT NULL,"
    "  height INTEGER NOT NULL,"
    "  model_name TEXT NOT NULL,"
    "  model_hash TEXT NOT NULL,"
    "  device TEXT NOT NULL,"
    "  duration_ms INTEGER NOT NULL,"
    "  image_path TEXT NOT NULL UNIQUE,"
    "  thumb_path TEXT NOT NULL,"
    "  favourite INTEGER NOT NULL DEFAULT 0,"
    "  settings TEXT NOT NULL);"
    "CREATE INDEX images_by_time ON images(created DESC, id DESC);",

    /* 2: delete with undo and vanished files (state), and search: an FTS5
     * index of the rows views show (not the deleted), kept in step by
     * triggers, holding the prompts and the filtered values as tokens
     * (TAGS), so that any filter is one FTS query whose matches come in id
     * order, newest first, and a page is a slice of them. Views without a
     * filter walk images_visible instead (filter_sql must spell
     * "state != 2" as here for SQLite to use it). */
    "ALTER TABLE images ADD COLUMN state INTEGER NOT NULL DEFAULT 0;"
    "DROP INDEX images_by_time;"
    "CREATE INDEX images_visible ON images(id) WHERE state != 2;"
    "CREATE VIRTUAL TABLE images_fts USING fts5(prompt, negative, tags,"
    "  tokenize='unicode61 remove_diacritics 2');"
    "CREATE TRIGGER images_fts_insert AFTER INSERT ON images WHEN new.state != 2 BEGIN"
    "  INSERT INTO images_fts(rowid, prompt, negative, tags)"
    "    VALUES (new.id, new.prompt, new.negative, " TAGS("new") ");"
    "END;"
    "CREATE TRIGGER images_fts_delete AFTER DELETE ON images BEGIN"
    "  DELETE FROM images_fts WHERE rowid = old.id;"
    "END;"
    "CREATE TRIGGER images_fts_update AFTER UPDATE OF prompt, negative, steps, model_name,"
    "  favourite, state ON images BEGIN"
    "  DELETE FROM images_fts WHERE rowid = old.id;"
    "  INSERT INTO images_fts(rowid, prompt, negative, tags)"
    "    SELECT new.id, new.prompt, new.negative, " TAGS("new") " WHERE new.state != 2;"
    "END;"
    "INSERT INTO images_fts(rowid, prompt, negative, tags)"
    "  SELECT id, prompt, negative, " TAGS("images") " FROM images WHERE state != 2;",
};
G_STATIC_ASSERT(G_N_ELEMENTS(migrations) == SCF_GALLERY_SCHEMA_VERSION);
/* states are stored, and the SQL above and below spells DELETED as 2 */
G_STATIC_ASSERT(SCF_GALLERY_DELETED == 2);

/* ---- errors and statements --------------------------------------------- */

static gboolean db_fail(scf_gallery *g, const char *what, GError **error)
{
    int code = sqlite3_errcode(g->db) & 0xff;
    int kind = code == SQLITE_NOTADB || code == SQLITE_CORRUPT ? SCF_ERROR_FORMAT : SCF_ERROR_IO;
    g_set_error(error, SCF_ERROR, kind, "gallery %s: %s: %s", g->db_path, what,
                sqlite3_errmsg(g->db));
    return FALSE;
}

static gboolean exec(scf_gallery *g, const char *sql, const char *what, GError **error)
{
    return sqlite3_exec(g->db, sql, NULL, NULL, NULL) == SQLITE_OK || db_fail(g, what, error);
}

static sqlite3_stmt *prepare(scf_gallery *g, const char *sql, GError **error)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(g->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(g, "cannot read the database", error);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Runs a statement to its end; finalizes it either way. */
static gboolean run(scf_gallery *g, sqlite3_stmt *st, const char *what, GError **error)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    gboolean ok = rc == SQLITE_DONE || db_fail(g, what, error);
    sqlite3_finalize(st);
    return ok;
}

/* The first column of a one-row query; *out keeps its value on no row. */
static gboolean query_int(scf_gallery *g, const char *sql, gint64 arg, gint64 *out,
                          GError **error)
{
    sqlite3_stmt *st = prepare(g, sql, error);
    if (!st)
        return FALSE;
    if (sqlite3_bind_parameter_count(st) > 0)
        sqlite3_bind_int64(st, 1, arg);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    gboolean ok = rc == SQLITE_ROW || rc == SQLITE_DONE || db_fail(g, "cannot read", error);
    sqlite3_finalize(st);
    return ok;
}

/* Write transactions take the write lock at once: a deferred one that reads
 * first could fail to upgrade with SQLITE_BUSY, bypassing the busy timeout. */
static gboolean begin(scf_gallery *g, GError **error)
{
    return exec(g, "BEGIN IMMEDIATE", "cannot start a transaction", error);
}

static gboolean commit(scf_gallery *g, GError **error)
{
    return exec(g, "COMMIT", "cannot commit", error);
}

static void rollback(scf_gallery *g)
{
    if (!sqlite3_get_autocommit(g->db))
        sqlite3_exec(g->db, "ROLLBACK", NULL, NULL, NULL);
}

static gboolean no_such_image(scf_gallery *g, gint64 id, GError **error)
{
    g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "gallery %s: no image with id %" G_GINT64_FORMAT,
                g->dir, id);
    return FALSE;
}

/* ---- files ------------------------------------------------------------- */

/* Relative paths (as stored) always use '/', so a gallery folder can move
 * between systems. */
static char *abs_path(const scf_gallery *g, const char *rel)
{
    return g_build_filename(g->dir, rel, NULL);
}

static gboolean exists(const scf_gallery *g, const char *rel)
{
    g_autofree char *p = abs_path(g, rel);
    GStatBuf st;
    return g_lstat(p, &st) == 0;
}

static gboolean make_parent(const char *path, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0755) == 0)
        return TRUE;
    int e = errno;
    g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot create folder %s: %s", dir, g_strerror(e));
    return FALSE;
}

/* A source that is absent is not an error: the image of a MISSING row has
 * nothing to move. *moved tells whether a file moved. */
static gboolean move_file(const scf_gallery *g, const char *from_rel, const char *to_rel,
                          gboolean *moved, GError **error)
{
    *moved = FALSE;
    if (!exists(g, from_rel))
        return TRUE;
    g_autofree char *from = abs_path(g, from_rel), *to = abs_path(g, to_rel);
    if (!make_parent(to, error))
        return FALSE;
    if (g_rename(from, to) != 0) {
        int e = errno;
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot move %s to %s: %s", from, to,
                    g_strerror(e));
        return FALSE;
    }
    *moved = TRUE;
    return TRUE;
}

/* Fits the longer side to SCF_GALLERY_THUMB_SIDE: each thumbnail pixel is
 * the mean of the source pixels under it, which is a whole-number
 * nearest-neighbour enlargement for small images (crisp 32 px images however
 * the viewer filters) and a box filter for large ones. */
static scf_image *make_thumb(const scf_image *img, GError **error)
{
    const gint64 w = img->width, h = img->height, side = MAX(w, h), T = SCF_GALLERY_THUMB_SIDE;
    gint64 tw, th;
    if (side <= T) {
        tw = w * (T / side);
        th = h * (T / side);
    } else {
        tw = MAX(1, w * T / side);
        th = MAX(1, h * T / side);
    }
    scf_image *t = scf_image_new((int)tw, (int)th, img->channels, error);
    if (!t)
        return NULL;
    const int c = img->channels;
    for (gint64 y = 0; y < th; y++) {
        gint64 y0 = y * h / th, y1 = MAX(y0 + 1, (y + 1) * h / th);
        for (gint64 x = 0; x < tw; x++) {
            gint64 x0 = x * w / tw, x1 = MAX(x0 + 1, (x + 1) * w / tw);
            guint64 sum[4] = { 0 };
            for (gint64 sy = y0; sy < y1; sy++)
                for (gint64 sx = x0; sx < x1; sx++)
                    for (int k = 0; k < c; k++)
                        sum[k] += img->data[(sy * w + sx) * c + k];
            guint64 n = (guint64)((y1 - y0) * (x1 - x0));
            for (int k = 0; k < c; k++)
                t->data[(y * tw + x) * c + k] = (uint8_t)((sum[k] + n / 2) / n);
        }
    }
    return t;
}

static gboolean write_thumb(const scf_gallery *g, const scf_image *img, const char *rel,
                            GError **error)
{
    g_autofree char *path = abs_path(g, rel);
    g_autoptr(scf_image) t = make_thumb(img, error);
    return t && make_parent(path, error) && scf_png_write(path, t, NULL, error);
}

static char *thumb_rel(gint64 id)
{
    return g_strdup_printf("thumbs/%" G_GINT64_FORMAT ".png", id);
}

static char *image_rel(gint64 created_ms, gint64 id, guint64 seed)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_local(created_ms / 1000);
    return g_strdup_printf("images/%04d/%02d/%" G_GINT64_FORMAT "-%" G_GUINT64_FORMAT ".png",
                           t ? g_date_time_get_year(t) : 1970, t ? g_date_time_get_month(t) : 1,
                           id, seed);
}

/* Regular files under rel_dir (relative paths), not following links. The
 * type comes with the name on the usual filesystems, so listing a gallery
 * costs no stat per file. */
static void list_files(const scf_gallery *g, const char *rel_dir, GPtrArray *out)
{
    g_autofree char *dir = abs_path(g, rel_dir);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        g_autofree char *rel = g_strconcat(rel_dir, "/", de->d_name, NULL);
        unsigned char type = de->d_type;
        if (type == DT_UNKNOWN) {
            g_autofree char *path = abs_path(g, rel);
            GStatBuf st;
            type = g_lstat(path, &st) != 0 ? DT_UNKNOWN
                   : S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        if (type == DT_DIR)
            list_files(g, rel, out);
        else if (type == DT_REG)
            g_ptr_array_add(out, g_steal_pointer(&rel));
    }
    closedir(d);
}

static int compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- rows -------------------------------------------------------------- */

typedef struct {
    gint64 id, created_ms, duration_ms;
    const scf_gen_params *p;
    int width, height;
    const char *image, *thumb;
} new_row;

static gboolean insert_row(scf_gallery *g, const new_row *r, GError **error)
{
    sqlite3_stmt *st = prepare(g,
        "INSERT INTO images (id, created, prompt, negative, seed, steps, guidance, width, height,"
        " model_name, model_hash, device, duration_ms, image_path, thumb_path, settings)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)", error);
    if (!st)
        return FALSE;
    const scf_gen_params *p = r->p;
    g_autofree char *json = scf_gen_params_to_json(p);
    sqlite3_bind_int64(st, 1, r->id);
    sqlite3_bind_int64(st, 2, r->created_ms);
    sqlite3_bind_text(st, 3, p->prompt, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, p->negative_prompt, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (gint64)p->seed);
    sqlite3_bind_int(st, 6, p->steps);
    sqlite3_bind_double(st, 7, p->guidance);
    sqlite3_bind_int(st, 8, r->width);
    sqlite3_bind_int(st, 9, r->height);
    sqlite3_bind_text(st, 10, p->model_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, p->model_hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, p->device, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 13, r->duration_ms);
    sqlite3_bind_text(st, 14, r->image, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 15, r->thumb, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 16, json, -1, SQLITE_STATIC);
    return run(g, st, "cannot insert the row", error);
}

/* AUTOINCREMENT's counter: ids of purged rows are never given again, so an
 * undo or an export list cannot reach a different image. */
static gboolean next_id(scf_gallery *g, gint64 *id, GError **error)
{
    gint64 seq = 0;
    if (!query_int(g, "SELECT seq FROM sqlite_sequence WHERE name = 'images'", 0, &seq, error))
        return FALSE;
    *id = seq + 1;
    return TRUE;
}

static gboolean set_state(scf_gallery *g, gint64 id, scf_gallery_state state, GError **error)
{
    sqlite3_stmt *st = prepare(g, "UPDATE images SET state = ?2 WHERE id = ?1", error);
    if (!st)
        return FALSE;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, state);
    return run(g, st, "cannot update the row", error);
}

/* Where a row's files are, as stored (relative), with its state. */
typedef struct {
    gint64 id;
    scf_gallery_state state;
    guint64 seed;
    char *image, *thumb;
} row_files;

static void row_files_clear(row_files *r)
{
    g_free(r->image);
    g_free(r->thumb);
}

static void row_files_read(row_files *r, sqlite3_stmt *st)
{
    r->id = sqlite3_column_int64(st, 0);
    r->state = sqlite3_column_int(st, 1);
    r->seed = (guint64)sqlite3_column_int64(st, 2);
    r->image = g_strdup((const char *)sqlite3_column_text(st, 3));
    r->thumb = g_strdup((const char *)sqlite3_column_text(st, 4));
}

#define ROW_FILES_SQL "SELECT id, state, seed, image_path, thumb_path FROM images"

static gboolean load_row_files(scf_gallery *g, gint64 id, row_files *r, GError **error)
{
    sqlite3_stmt *st = prepare(g, ROW_FILES_SQL " WHERE id = ?1", error);
    if (!st)
        return FALSE;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        row_files_read(r, st);
    gboolean ok = rc == SQLITE_ROW ||
                  (rc == SQLITE_DONE ? no_such_image(g, id, error) : db_fail(g, "cannot read", error));
    sqlite3_finalize(st);
    return ok;
}

/* Moves a row's image and thumbnail into the trash or back; on failure puts
 * back what already moved, so the pair stays together. */
static gboolean move_pair(scf_gallery *g, const row_files *r, gboolean to_trash, GError **error)
{
    const char *rel[2] = { r->image, r->thumb };
    gboolean moved[2] = { FALSE, FALSE };
    for (int i = 0; i < 2; i++) {
        g_autofree char *trash = g_strconcat(TRASH, rel[i], NULL);
        if (move_file(g, to_trash ? rel[i] : trash, to_trash ? trash : rel[i], &moved[i], error))
            continue;
        g_prefix_error(error, "gallery %s: ", g->dir);
        for (int k = 0; k < i; k++) {
            gboolean back;
            g_autofree char *t = g_strconcat(TRASH, rel[k], NULL);
            if (moved[k])
                move_file(g, to_trash ? t : rel[k], to_trash ? rel[k] : t, &back, NULL);
        }
        return FALSE;
    }
    return TRUE;
}

/* ---- entries ----------------------------------------------------------- */

#define ENTRY_SQL "SELECT id, created, duration_ms, width, height, image_path, thumb_path," \
                  " favourite, state, settings, prompt, negative, seed, steps, guidance," \
                  " model_name, model_hash, device FROM images"
enum { C_ID, C_CREATED, C_DURATION, C_WIDTH, C_HEIGHT, C_IMAGE, C_THUMB, C_FAVOURITE, C_STATE,
       C_SETTINGS, C_PROMPT, C_NEGATIVE, C_SEED, C_STEPS, C_GUIDANCE, C_MODEL, C_HASH, C_DEVICE };

void scf_gallery_entry_free(scf_gallery_entry *e)
{
    if (!e)
        return;
    scf_gen_params_clear(&e->params);
    g_free(e->image_path);
    g_free(e->thumb_path);
    g_free(e);
}

static void set_text(char **slot, sqlite3_stmt *st, int col)
{
    g_free(*slot);
    const char *s = (const char *)sqlite3_column_text(st, col);
    *slot = g_strdup(s ? s : "");
}

static char *entry_path(const scf_gallery *g, const char *rel, scf_gallery_state state)
{
    g_autofree char *trash = state == SCF_GALLERY_DELETED ? g_strconcat(TRASH, rel, NULL) : NULL;
    return abs_path(g, trash ? trash : rel);
}

static scf_gallery_entry *entry_read(const scf_gallery *g, sqlite3_stmt *st)
{
    scf_gallery_entry *e = g_new0(scf_gallery_entry, 1);
    e->id = sqlite3_column_int64(st, C_ID);
    e->created_ms = sqlite3_column_int64(st, C_CREATED);
    e->duration_ms = sqlite3_column_int64(st, C_DURATION);
    e->width = sqlite3_column_int(st, C_WIDTH);
    e->height = sqlite3_column_int(st, C_HEIGHT);
    e->favourite = sqlite3_column_int(st, C_FAVOURITE) != 0;
    e->state = sqlite3_column_int(st, C_STATE);
    const char *image = (const char *)sqlite3_column_text(st, C_IMAGE);
    const char *thumb = (const char *)sqlite3_column_text(st, C_THUMB);
    e->image_path = entry_path(g, image ? image : "", e->state);
    e->thumb_path = entry_path(g, thumb ? thumb : "", e->state);
    /* The JSON holds everything; the columns are its searchable copy and
     * stand in when a hand-edited database has damaged JSON. */
    const char *json = (const char *)sqlite3_column_text(st, C_SETTINGS);
    scf_gen_params_init(&e->params);
    if (json && scf_gen_params_from_json(&e->params, json, NULL))
        return e;
    scf_gen_params *p = &e->params;
    scf_gen_params_clear(p);
    scf_gen_params_init(p);
    set_text(&p->prompt, st, C_PROMPT);
    set_text(&p->negative_prompt, st, C_NEGATIVE);
    set_text(&p->model_name, st, C_MODEL);
    set_text(&p->model_hash, st, C_HASH);
    set_text(&p->device, st, C_DEVICE);
    p->seed = (guint64)sqlite3_column_int64(st, C_SEED);
    p->steps = sqlite3_column_int(st, C_STEPS);
    p->guidance = sqlite3_column_double(st, C_GUIDANCE);
    p->width = e->width;
    p->height = e->height;
    return e;
}

static scf_gallery_entry *get_locked(scf_gallery *g, gint64 id, GError **error)
{
    sqlite3_stmt *st = prepare(g, ENTRY_SQL " WHERE id = ?1", error);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    scf_gallery_entry *e = rc == SQLITE_ROW ? entry_read(g, st) : NULL;
    if (rc == SQLITE_DONE)
        no_such_image(g, id, error);
    else if (rc != SQLITE_ROW)
        db_fail(g, "cannot read", error);
    sqlite3_finalize(st);
    return e;
}

/* ---- open, migrate, check ---------------------------------------------- */

char *scf_gallery_default_dir(void)
{
    return g_build_filename(g_get_user_data_dir(), "scflow-studio", "gallery", NULL);
}

const char *scf_gallery_get_dir(const scf_gallery *g)
{
    return g->dir;
}

void scf_gallery_report_clear(scf_gallery_report *r)
{
    if (r->missing)
        g_array_unref(r->missing);
    if (r->reimported)
        g_array_unref(r->reimported);
    if (r->skipped)
        g_ptr_array_unref(r->skipped);
    memset(r, 0, sizeof *r);
}

static void report_init(scf_gallery_report *r)
{
    r->missing = g_array_new(FALSE, FALSE, sizeof(gint64));
    r->reimported = g_array_new(FALSE, FALSE, sizeof(gint64));
    r->skipped = g_ptr_array_new_with_free_func(g_free);
}

static gboolean refuse_newer(scf_gallery *g, gint64 version, GError **error)
{
    if (version <= SCF_GALLERY_SCHEMA_VERSION)
        return TRUE;
    g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED,
                "gallery %s: schema version %" G_GINT64_FORMAT " was written by a newer version "
                "of SCFlow Studio (this one reads up to %d); it is left untouched",
                g->db_path, version, SCF_GALLERY_SCHEMA_VERSION);
    return FALSE;
}

/* Re-reads the version under the write lock: another process may have
 * migrated between our first look and now. */
static gboolean migrate(scf_gallery *g, GError **error)
{
    gint64 version = 0;
    if (!begin(g, error))
        return FALSE;
    gboolean ok = query_int(g, "PRAGMA user_version", 0, &version, error) &&
                  refuse_newer(g, version, error);
    for (gint64 v = version; ok && v < SCF_GALLERY_SCHEMA_VERSION; v++) {
        g_autofree char *what = g_strdup_printf("cannot migrate from schema version %"
                                                G_GINT64_FORMAT " to %" G_GINT64_FORMAT, v, v + 1);
        ok = exec(g, migrations[v], what, error);
    }
    g_autofree char *set = g_strdup_printf("PRAGMA user_version = %d", SCF_GALLERY_SCHEMA_VERSION);
    ok = ok && exec(g, set, "cannot set the schema version", error) && commit(g, error);
    if (!ok)
        rollback(g);
    return ok;
}

static void skip(scf_gallery_report *r, const char *path, const GError *why)
{
    g_ptr_array_add(r->skipped, g_strdup_printf("%s: %s", path, why->message));
}

/* The ID of a file named ID-SEED.png; 0 when the name is not of that form. */
static gint64 id_from_name(const char *rel)
{
    g_autofree char *base = g_path_get_basename(rel);
    char *dash = strchr(base, '-');
    guint64 id = 0;
    if (!dash)
        return 0;
    *dash = 0;
    return g_ascii_string_to_unsigned(base, 10, 1, G_MAXINT32, &id, NULL) ? (gint64)id : 0;
}

/* A PNG under images/ without a row: the settings come from the file, the
 * id from its name when free, the time from its mtime. Problems with the
 * file go to the report; only database errors fail. */
static gboolean reimport(scf_gallery *g, const char *rel, scf_gallery_report *r, GError **error)
{
    g_autofree char *path = abs_path(g, rel);
    g_autoptr(GError) why = NULL;
    scf_gen_params p;
    g_autoptr(scf_image) img = scf_png_read(path, &p, NULL, &why);
    if (!img) {
        skip(r, path, why);
        scf_gen_params_clear(&p);
        return TRUE;
    }
    if (p.width == 0)
        p.width = img->width;
    if (p.height == 0)
        p.height = img->height;
    gint64 id = id_from_name(rel), used = 0;
    gboolean ok = id == 0 || query_int(g, "SELECT count(*) FROM images WHERE id = ?1", id, &used,
                                       error);
    if (ok && (id == 0 || used))
        ok = next_id(g, &id, error);
    GStatBuf st;
    gint64 mtime = g_stat(path, &st) == 0 ? (gint64)st.st_mtime * 1000 : g_get_real_time() / 1000;
    g_autofree char *thumb = thumb_rel(id);
    if (ok && !write_thumb(g, img, thumb, &why)) {
        skip(r, path, why);
    } else if (ok) {
        new_row row = { id, mtime, 0, &p, img->width, img->height, rel, thumb };
        ok = insert_row(g, &row, error);
        if (ok)
            g_array_append_val(r->reimported, id);
    }
    scf_gen_params_clear(&p);
    return ok;
}

/* One row: its files where its state says (an interrupted delete or undo
 * can leave them on the other side), its state from what is there, a
 * thumbnail rebuilt from the image when gone. present holds the files
 * listed before: a row whose files are all there costs no system call. */
static gboolean check_row(scf_gallery *g, const row_files *rf, GHashTable *present,
                          scf_gallery_report *r, GError **error)
{
    g_autoptr(GError) why = NULL;
    gboolean deleted = rf->state == SCF_GALLERY_DELETED;
    g_autofree char *trash_image = g_strconcat(TRASH, rf->image, NULL);
    g_autofree char *trash_thumb = g_strconcat(TRASH, rf->thumb, NULL);
    if (rf->state != SCF_GALLERY_MISSING &&
        g_hash_table_contains(present, deleted ? trash_image : rf->image) &&
        g_hash_table_contains(present, deleted ? trash_thumb : rf->thumb))
        return TRUE;
    if (!exists(g, deleted ? trash_image : rf->image) && !move_pair(g, rf, deleted, &why)) {
        skip(r, rf->image, why);
        return TRUE;
    }
    if (deleted)
        return TRUE;
    scf_gallery_state state = exists(g, rf->image) ? SCF_GALLERY_OK : SCF_GALLERY_MISSING;
    if (state != rf->state && !set_state(g, rf->id, state, error))
        return FALSE;
    if (state == SCF_GALLERY_MISSING) {
        g_array_append_val(r->missing, rf->id);
        return TRUE;
    }
    if (exists(g, rf->thumb))
        return TRUE;
    g_autofree char *path = abs_path(g, rf->image);
    g_autoptr(scf_image) img = scf_png_read(path, NULL, NULL, &why);
    if (!img || !write_thumb(g, img, rf->thumb, &why))
        skip(r, path, why);
    return TRUE;
}

static gboolean check_locked(scf_gallery *g, scf_gallery_report *r, GError **error)
{
    sqlite3_stmt *st = prepare(g, ROW_FILES_SQL, error);
    if (!st)
        return FALSE;
    GArray *rows = g_array_new(FALSE, FALSE, sizeof(row_files));
    g_array_set_clear_func(rows, (GDestroyNotify)row_files_clear);
    GHashTable *known = g_hash_table_new(g_str_hash, g_str_equal);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_files rf;
        row_files_read(&rf, st);
        g_array_append_val(rows, rf);
    }
    gboolean ok = rc == SQLITE_DONE || db_fail(g, "cannot read the rows", error);
    sqlite3_finalize(st);
    for (guint i = 0; i < rows->len; i++)
        g_hash_table_add(known, g_array_index(rows, row_files, i).image);

    /* listed before the rows are checked: what check_row moves is a known
     * row's file either way, never taken for an orphan */
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    list_files(g, "images", files);
    list_files(g, "thumbs", files);
    list_files(g, "trash", files);
    /* name order, so that a repair does the same whatever readdir's order */
    g_ptr_array_sort(files, compare_strings);
    GHashTable *present = g_hash_table_new(g_str_hash, g_str_equal);
    for (guint i = 0; i < files->len; i++)
        g_hash_table_add(present, g_ptr_array_index(files, i));
    for (guint i = 0; ok && i < rows->len; i++)
        ok = check_row(g, &g_array_index(rows, row_files, i), present, r, error);
    g_hash_table_unref(present);

    for (guint i = 0; ok && i < files->len; i++) {
        const char *rel = g_ptr_array_index(files, i);
        /* the write lock is held, so no atomic write is in progress: a
         * temporary file is what a crash left */
        if (strstr(rel, ".tmp-")) {
            g_autofree char *path = abs_path(g, rel);
            g_unlink(path);
        } else if (g_str_has_prefix(rel, "images/") && !g_hash_table_contains(known, rel)) {
            ok = reimport(g, rel, r, error);
        }
    }
    g_ptr_array_unref(files);
    g_hash_table_unref(known);
    g_array_unref(rows);
    return ok;
}

gboolean scf_gallery_check(scf_gallery *g, scf_gallery_report *report, GError **error)
{
    scf_gallery_report local = { 0 };
    scf_gallery_report *r = report ? report : &local;
    report_init(r);
    g_mutex_lock(&g->lock);
    gboolean ok = begin(g, error);
    ok = ok && check_locked(g, r, error) && commit(g, error);
    if (!ok)
        rollback(g);
    g_mutex_unlock(&g->lock);
    scf_gallery_report_clear(&local);
    return ok;
}

scf_gallery *scf_gallery_open(const char *dir, scf_gallery_report *report, GError **error)
{
    if (report)
        memset(report, 0, sizeof *report);
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        int e = errno;
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot create gallery folder %s: %s", dir,
                    g_strerror(e));
        return NULL;
    }
    scf_gallery *g = g_new0(scf_gallery, 1);
    g->dir = g_canonicalize_filename(dir, NULL); /* entries give absolute paths */
    g->db_path = g_build_filename(dir, DB_FILE, NULL);
    g_mutex_init(&g->lock);
    gint64 version = 0;
    gboolean ok = sqlite3_open_v2(g->db_path, &g->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                  NULL) == SQLITE_OK;
    if (!ok) {
        if (g->db)
            db_fail(g, "cannot open", error);
        else
            g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM, "gallery %s: out of memory", g->db_path);
    }
    if (ok)
        sqlite3_busy_timeout(g->db, BUSY_TIMEOUT_MS);
    /* the first read is where a file that is not a database shows, and a
     * newer schema must be refused before WAL mode changes the file */
    ok = ok && query_int(g, "PRAGMA user_version", 0, &version, error) &&
         refuse_newer(g, version, error);
    /* synchronous=NORMAL in WAL mode survives a crash of the program; a
     * power cut may lose the last commits, whose images the check then
     * re-imports */
    ok = ok && exec(g, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL",
                    "cannot switch to WAL mode", error);
    ok = ok && (version == SCF_GALLERY_SCHEMA_VERSION || migrate(g, error));
    ok = ok && scf_gallery_check(g, report, error);
    if (!ok) {
        scf_gallery_close(g);
        return NULL;
    }
    return g;
}

void scf_gallery_close(scf_gallery *g)
{
    if (!g)
        return;
    sqlite3_close(g->db);
    g_mutex_clear(&g->lock);
    g_free(g->dir);
    g_free(g->db_path);
    g_free(g);
}

/* ---- insert ------------------------------------------------------------ */

static gboolean insert_locked(scf_gallery *g, const scf_image *img, const scf_gen_params *p,
                              gint64 duration_ms, gint64 *id_out, GError **error)
{
    gint64 id = 0, created = g_get_real_time() / 1000;
    if (!next_id(g, &id, error))
        return FALSE;
    /* a PNG left by a crash that no check has adopted yet keeps its name */
    char *image = image_rel(created, id, p->seed);
    while (exists(g, image)) {
        g_free(image);
        image = image_rel(created, ++id, p->seed);
    }
    g_autofree char *image_file = abs_path(g, image), *thumb = thumb_rel(id);
    g_autofree char *thumb_file = abs_path(g, thumb);
    gboolean wrote_image = FALSE, wrote_thumb = FALSE;
    gboolean ok = make_parent(image_file, error) &&
                  (wrote_image = scf_png_write(image_file, img, p, error)) &&
                  (wrote_thumb = write_thumb(g, img, thumb, error));
    if (!ok)
        g_prefix_error(error, "gallery %s: ", g->dir);
    new_row row = { id, created, duration_ms, p, img->width, img->height, image, thumb };
    ok = ok && insert_row(g, &row, error) && commit(g, error);
    if (!ok) {
        if (wrote_image)
            g_unlink(image_file);
        if (wrote_thumb)
            g_unlink(thumb_file);
    } else if (id_out) {
        *id_out = id;
    }
    g_free(image);
    return ok;
}

gboolean scf_gallery_insert(scf_gallery *g, const scf_image *img, const scf_gen_params *p,
                            gint64 duration_ms, gint64 *id, GError **error)
{
    if (!scf_image_check(img, error) || !scf_gen_params_check(p, error)) {
        g_prefix_error(error, "gallery %s: cannot insert: ", g->dir);
        return FALSE;
    }
    scf_gen_params q;
    scf_gen_params_copy(&q, p);
    if (q.width == 0)
        q.width = img->width;
    if (q.height == 0)
        q.height = img->height;
    g_mutex_lock(&g->lock);
    gboolean ok = begin(g, error) && insert_locked(g, img, &q, duration_ms, id, error);
    rollback(g);
    g_mutex_unlock(&g->lock);
    scf_gen_params_clear(&q);
    return ok;
}

gboolean scf_gallery_import(scf_gallery *g, const char *png_path, gint64 *id, GError **error)
{
    scf_gen_params p;
    g_autoptr(scf_image) img = scf_png_read(png_path, &p, NULL, error);
    gboolean ok = img && scf_gallery_insert(g, img, &p, 0, id, error);
    scf_gen_params_clear(&p);
    return ok;
}

/* ---- reading ----------------------------------------------------------- */

scf_gallery_entry *scf_gallery_get(scf_gallery *g, gint64 id, GError **error)
{
    g_mutex_lock(&g->lock);
    scf_gallery_entry *e = get_locked(g, id, error);
    g_mutex_unlock(&g->lock);
    return e;
}

/* The user's words as FTS5 terms that cannot be a syntax error: each word
 * becomes a quoted string (inner quotes doubled, so ':' '*' '(' and
 * keywords like NOT are text) followed by '*', a prefix match. Words with no
 * letter or digit have no tokens to match and are dropped. */
static void append_words(GString *q, const char *text)
{
    g_autofree char *valid = g_utf8_make_valid(text, -1);
    for (const char *s = valid; *s;) {
        while (*s && g_unichar_isspace(g_utf8_get_char(s)))
            s = g_utf8_next_char(s);
        const char *start = s;
        gboolean word = FALSE;
        for (; *s && !g_unichar_isspace(g_utf8_get_char(s)); s = g_utf8_next_char(s))
            word = word || g_unichar_isalnum(g_utf8_get_char(s));
        if (!word)
            continue;
        g_string_append_c(q, '"');
        for (const char *c = start; c < s; c++) {
            if (*c == '"')
                g_string_append_c(q, '"');
            g_string_append_c(q, *c);
        }
        g_string_append(q, "\"* ");
    }
}

/* The whole filter as one FTS5 query (words ANDed, each value a tag, see
 * TAGS); NULL when it selects every image. */
static char *fts_query(const scf_gallery_filter *f)
{
    if (!f)
        return NULL;
    GString *q = g_string_new(NULL);
    GString *words = g_string_new(NULL);
    if (f->text)
        append_words(words, f->text);
    if (words->len)
        g_string_append_printf(q, "{prompt negative} : (%s)", words->str);
    g_string_free(words, TRUE);
    if (f->model) {
        g_string_append(q, q->len ? " AND tags : \"m" : "tags : \"m");
        for (const unsigned char *c = (const unsigned char *)f->model; *c; c++)
            g_string_append_printf(q, "%02X", *c);
        g_string_append_c(q, '"');
    }
    if (f->steps > 0)
        g_string_append_printf(q, "%stags : \"s%d\"", q->len ? " AND " : "", f->steps);
    if (f->favourites)
        g_string_append(q, q->len ? " AND tags : \"fav\"" : "tags : \"fav\"");
    if (q->len == 0) {
        g_string_free(q, TRUE);
        return NULL;
    }
    return g_string_free(q, FALSE);
}

/* The count or page query for an FTS query (match, NULL for none); the
 * page takes :limit and :offset. */
static const char *filter_sql(const char *match, gboolean page)
{
    if (!match)
        return page ? ENTRY_SQL " WHERE state != 2 ORDER BY id DESC LIMIT :limit OFFSET :offset"
                    : "SELECT count(*) FROM images WHERE state != 2";
    return page ? ENTRY_SQL " WHERE id IN (SELECT rowid FROM images_fts WHERE images_fts MATCH :match"
                  " ORDER BY rowid DESC LIMIT :limit OFFSET :offset) ORDER BY id DESC"
                : "SELECT count(*) FROM images_fts WHERE images_fts MATCH :match";
}

/* The statement for a filter with its match bound; NULL with error set. */
static sqlite3_stmt *prepare_filter(scf_gallery *g, const scf_gallery_filter *f, gboolean page,
                                    GError **error)
{
    g_autofree char *match = fts_query(f);
    sqlite3_stmt *st = prepare(g, filter_sql(match, page), error);
    if (st && match)
        sqlite3_bind_text(st, sqlite3_bind_parameter_index(st, ":match"), match, -1,
                          SQLITE_TRANSIENT);
    return st;
}

gboolean scf_gallery_count(scf_gallery *g, const scf_gallery_filter *f, gint64 *count,
                           GError **error)
{
    g_mutex_lock(&g->lock);
    sqlite3_stmt *st = prepare_filter(g, f, FALSE, error);
    gboolean ok = st != NULL;
    if (ok) {
        int rc = sqlite3_step(st);
        *count = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        ok = rc == SQLITE_ROW || db_fail(g, "cannot count the images", error);
        sqlite3_finalize(st);
    }
    g_mutex_unlock(&g->lock);
    return ok;
}

GPtrArray *scf_gallery_query(scf_gallery *g, const scf_gallery_filter *f, gint64 offset,
                             int limit, GError **error)
{
    if (offset < 0 || limit < 0) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "gallery %s: offset %" G_GINT64_FORMAT " and limit %d must not be negative",
                    g->dir, offset, limit);
        return NULL;
    }
    GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)scf_gallery_entry_free);
    g_mutex_lock(&g->lock);
    sqlite3_stmt *st = prepare_filter(g, f, TRUE, error);
    gboolean ok = st != NULL;
    if (ok) {
        sqlite3_bind_int(st, sqlite3_bind_parameter_index(st, ":limit"), limit);
        sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":offset"), offset);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            g_ptr_array_add(out, entry_read(g, st));
        ok = rc == SQLITE_DONE || db_fail(g, "cannot list the images", error);
        sqlite3_finalize(st);
    }
    g_mutex_unlock(&g->lock);
    if (!ok)
        g_clear_pointer(&out, g_ptr_array_unref);
    return out;
}

/* ---- changes ----------------------------------------------------------- */

gboolean scf_gallery_set_favourite(scf_gallery *g, gint64 id, gboolean favourite,
                                   GError **error)
{
    g_mutex_lock(&g->lock);
    sqlite3_stmt *st = prepare(g, "UPDATE images SET favourite = ?2 WHERE id = ?1", error);
    gboolean ok = st != NULL;
    if (ok) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int(st, 2, favourite ? 1 : 0);
        ok = run(g, st, "cannot update the row", error) &&
             (sqlite3_changes(g->db) > 0 || no_such_image(g, id, error));
    }
    g_mutex_unlock(&g->lock);
    return ok;
}

/* Delete and undo: the files move first, then the state; a failed commit
 * moves them back. */
static gboolean trash_locked(scf_gallery *g, gint64 id, gboolean to_trash, GError **error)
{
    row_files rf = { 0 };
    if (!load_row_files(g, id, &rf, error))
        return FALSE;
    gboolean ok = TRUE;
    if ((rf.state == SCF_GALLERY_DELETED) == to_trash) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "gallery %s: image %" G_GINT64_FORMAT
                    " is %s deleted", g->dir, id, to_trash ? "already" : "not");
        ok = FALSE;
    }
    ok = ok && move_pair(g, &rf, to_trash, error);
    if (ok) {
        scf_gallery_state state = to_trash ? SCF_GALLERY_DELETED
                                  : exists(g, rf.image) ? SCF_GALLERY_OK : SCF_GALLERY_MISSING;
        if (!set_state(g, id, state, error) || !commit(g, error)) {
            move_pair(g, &rf, !to_trash, NULL);
            ok = FALSE;
        }
    }
    row_files_clear(&rf);
    return ok;
}

static gboolean trash_move(scf_gallery *g, gint64 id, gboolean to_trash, GError **error)
{
    g_mutex_lock(&g->lock);
    gboolean ok = begin(g, error) && trash_locked(g, id, to_trash, error);
    rollback(g);
    g_mutex_unlock(&g->lock);
    return ok;
}

gboolean scf_gallery_delete(scf_gallery *g, gint64 id, GError **error)
{
    return trash_move(g, id, TRUE, error);
}

gboolean scf_gallery_undo(scf_gallery *g, gint64 id, GError **error)
{
    return trash_move(g, id, FALSE, error);
}

/* The trash files go before the commit, under the write lock, so that no
 * delete running meanwhile can put a file there that this purge removes. */
static gboolean purge_locked(scf_gallery *g, gint64 *purged, GError **error)
{
    g_autofree char *sql = g_strdup_printf(ROW_FILES_SQL " WHERE state = %d", SCF_GALLERY_DELETED);
    sqlite3_stmt *st = prepare(g, sql, error);
    if (!st)
        return FALSE;
    gint64 n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_files rf;
        row_files_read(&rf, st);
        const char *rel[2] = { rf.image, rf.thumb };
        for (int i = 0; i < 2; i++) {
            g_autofree char *trash = g_strconcat(TRASH, rel[i], NULL);
            g_autofree char *path = abs_path(g, trash);
            g_unlink(path);
        }
        row_files_clear(&rf);
        n++;
    }
    gboolean ok = rc == SQLITE_DONE || db_fail(g, "cannot read the deleted rows", error);
    sqlite3_finalize(st);
    g_autofree char *del = g_strdup_printf("DELETE FROM images WHERE state = %d",
                                           SCF_GALLERY_DELETED);
    ok = ok && exec(g, del, "cannot delete the rows", error) && commit(g, error);
    if (ok && purged)
        *purged = n;
    return ok;
}

gboolean scf_gallery_purge(scf_gallery *g, gint64 *purged, GError **error)
{
    g_mutex_lock(&g->lock);
    gboolean ok = begin(g, error) && purge_locked(g, purged, error);
    rollback(g);
    g_mutex_unlock(&g->lock);
    return ok;
}

static gboolean copy_file(const char *from, const char *to, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) e = NULL;
    if (!g_file_get_contents(from, &data, &len, &e)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s", e->message);
        return FALSE;
    }
    scf_atomic_file out;
    FILE *fp = scf_atomic_file_open(&out, to, error);
    if (!fp)
        return FALSE;
    if (fwrite(data, 1, len, fp) != len) {
        int err = errno;
        scf_atomic_file_abort(&out);
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot write %s: %s", to, g_strerror(err));
        return FALSE;
    }
    return scf_atomic_file_commit(&out, error);
}

gboolean scf_gallery_export(scf_gallery *g, const gint64 *ids, int n, const char *folder,
                            GError **error)
{
    if (g_mkdir_with_parents(folder, 0755) != 0) {
        int e = errno;
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot create folder %s: %s", folder,
                    g_strerror(e));
        return FALSE;
    }
    gboolean ok = TRUE;
    for (int i = 0; ok && i < n; i++) {
        g_autoptr(scf_gallery_entry) e = scf_gallery_get(g, ids[i], error);
        ok = e != NULL;
        if (ok && e->state != SCF_GALLERY_OK) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                        "gallery %s: image %" G_GINT64_FORMAT " is %s and cannot be exported",
                        g->dir, ids[i], e->state == SCF_GALLERY_DELETED ? "deleted" : "missing");
            ok = FALSE;
        }
        if (ok) {
            g_autofree char *base = g_path_get_basename(e->image_path);
            g_autofree char *to = g_build_filename(folder, base, NULL);
            ok = copy_file(e->image_path, to, error);
        }
    }
    return ok;
}

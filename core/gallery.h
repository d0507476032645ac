/* The gallery: every generated image with its settings, searchable, in one
 * folder the user owns:
 *
 *   DIR/gallery.sqlite            SQLite database (WAL, FTS5 on the prompts)
 *   DIR/images/YYYY/MM/ID-SEED.png the images, settings embedded (image.h)
 *   DIR/thumbs/ID.png             thumbnails, SCF_GALLERY_THUMB_SIDE on the longer side
 *   DIR/trash/images/…, trash/thumbs/…  deleted images, until undo or purge
 *
 * Nothing is lost on a crash: an insert writes and syncs the image and its
 * thumbnail (atomically, image.h) before it commits the row that names them,
 * so a crash leaves at worst image files without a row, and the check that
 * runs at open re-imports those from their embedded settings. Rows whose
 * image vanished are marked SCF_GALLERY_MISSING and reported, never dropped.
 *
 * Threads and processes: a handle serialises its calls with a mutex, so it
 * may be shared, but an insert holds the database's write lock while it
 * writes and syncs its files (a few ms). A program with a worker thread that
 * inserts should give each thread its own handle: in WAL mode reading (count,
 * query, get) never waits for a writer. Any number of handles and processes
 * may use one folder; writers queue on SQLite's lock (5 s busy timeout). */
#pragma once
#include <glib.h>
#include "genparams.h"
#include "image.h"

G_BEGIN_DECLS

/* PRAGMA user_version of the databases this version writes. Older ones are
 * migrated at open; newer ones are refused. */
#define SCF_GALLERY_SCHEMA_VERSION 2
#define SCF_GALLERY_THUMB_SIDE 128

typedef struct scf_gallery scf_gallery;

typedef enum {
    SCF_GALLERY_OK = 0,
    SCF_GALLERY_MISSING = 1,  /* the image file vanished (found by a check) */
    SCF_GALLERY_DELETED = 2,  /* in the trash until undo or purge */
} scf_gallery_state;

typedef struct {
    gint64 id;
    gint64 created_ms;        /* unix time */
    gint64 duration_ms;       /* generation time; 0 when unknown (imported) */
    scf_gen_params params;    /* the stored settings, exactly as inserted */
    int width, height;        /* of the image file */
    char *image_path;         /* absolute; in trash/ while deleted */
    char *thumb_path;         /* absolute; in trash/ while deleted */
    gboolean favourite;
    scf_gallery_state state;
} scf_gallery_entry;

void scf_gallery_entry_free(scf_gallery_entry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(scf_gallery_entry, scf_gallery_entry_free)

/* What count and query select; zeroed = every image not deleted. Results
 * are newest first: by id, since ids are given in the order images arrive
 * (a re-imported file keeps the id in its name). */
typedef struct {
    /* Words that must all occur in the prompt or negative prompt, each as a
     * word prefix, case and accents ignored ("CAFE" finds "café au lait").
     * Any user text is safe: quotes, colons and asterisks are plain text.
     * Words without a letter or digit (emoji, punctuation) are not indexed
     * and are ignored. */
    const char *text;
    const char *model;        /* exact model name; NULL = any */
    int steps;                /* 0 = any */
    gboolean favourites;      /* only favourites */
} scf_gallery_filter;

/* What a consistency check found and did. */
typedef struct {
    GArray *missing;          /* gint64 ids of rows whose image file is gone */
    GArray *reimported;       /* gint64 ids of rows made for image files that had none */
    GPtrArray *skipped;       /* "path: reason" for files it could not read or move, left alone */
} scf_gallery_report;

void scf_gallery_report_clear(scf_gallery_report *r);

/* $XDG_DATA_HOME/scflow-studio/gallery (g_get_user_data_dir()). */
char *scf_gallery_default_dir(void);

/* Opens the gallery in dir, creating the folder and database when absent and
 * migrating an older schema, then runs scf_gallery_check (report may be
 * NULL; else the caller clears it). Errors name the path: a folder that
 * cannot be created, a file that is not a database or is damaged, a database
 * written by a newer version (left untouched). */
scf_gallery *scf_gallery_open(const char *dir, scf_gallery_report *report, GError **error);
void scf_gallery_close(scf_gallery *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(scf_gallery, scf_gallery_close)
const char *scf_gallery_get_dir(const scf_gallery *g);

/* Makes the rows and files agree, under the write lock so that no insert is
 * half-done meanwhile: rows whose image is gone become MISSING (or OK again
 * when it is back, or moved back from the trash where an interrupted delete
 * left it); missing thumbnails are rebuilt; PNGs under images/ without a row
 * are re-imported (their id from the file name when free, the time from the
 * file's mtime); temporary files of interrupted writes are removed. */
gboolean scf_gallery_check(scf_gallery *g, scf_gallery_report *report, GError **error);

/* Stores img with settings p (width/height 0 become the image's): the PNG
 * with the settings embedded and its thumbnail are written and synced, then
 * the row is committed; on any failure nothing is left behind. id may be
 * NULL. */
gboolean scf_gallery_insert(scf_gallery *g, const scf_image *img, const scf_gen_params *p,
                            gint64 duration_ms, gint64 *id, GError **error);
/* Inserts a PNG file (ours or A1111-style) with the settings it carries;
 * one without settings gets empty prompts. */
gboolean scf_gallery_import(scf_gallery *g, const char *png_path, gint64 *id, GError **error);

/* Any state, deleted included; an unknown id is an error. */
scf_gallery_entry *scf_gallery_get(scf_gallery *g, gint64 id, GError **error);
gboolean scf_gallery_count(scf_gallery *g, const scf_gallery_filter *f, gint64 *count,
                           GError **error);
/* Up to limit entries (scf_gallery_entry *, owned by the array) from
 * position offset of the filtered list; f may be NULL. */
GPtrArray *scf_gallery_query(scf_gallery *g, const scf_gallery_filter *f, gint64 offset,
                             int limit, GError **error);

gboolean scf_gallery_set_favourite(scf_gallery *g, gint64 id, gboolean favourite,
                                   GError **error);
/* Moves the image and thumbnail to trash/ and marks the row DELETED. */
gboolean scf_gallery_delete(scf_gallery *g, gint64 id, GError **error);
/* Undoes a delete: files back in place, row OK (MISSING if the image was
 * already gone when deleted). */
gboolean scf_gallery_undo(scf_gallery *g, gint64 id, GError **error);
/* Removes every deleted row and everything in trash/ for good. */
gboolean scf_gallery_purge(scf_gallery *g, gint64 *purged, GError **error);

/* Copies the PNGs (settings included) of the images ids into folder
 * (created when absent) as ID-SEED.png, replacing files of that name. */
gboolean scf_gallery_export(scf_gallery *g, const gint64 *ids, int n, const char *folder,
                            GError **error);

G_END_DECLS

/* Atomic file replacement, the one way the engine writes files a user keeps
 * (checkpoints, images, models): write a temporary file beside the target,
 * flush it to disk, rename it over the target, then sync the folder. A crash
 * or a full disk at any point leaves either the old file or the new one,
 * never a half-written one, and no temporary file behind. */
#pragma once
#include <stdio.h>
#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    char *path;
    char *tmp;
    FILE *fp;
} scf_atomic_file;

/* Creates PATH.tmp-XXXXXX; returns the stream to write, or NULL with an
 * error naming path and the reason. */
FILE *scf_atomic_file_open(scf_atomic_file *f, const char *path, GError **error);
/* Flushes, syncs, closes and renames into place; on failure removes the
 * temporary file and names path, the step and the reason. Either way the
 * handle is finished. */
gboolean scf_atomic_file_commit(scf_atomic_file *f, GError **error);
/* Discards the temporary file (after a failure while writing). */
void scf_atomic_file_abort(scf_atomic_file *f);

G_END_DECLS

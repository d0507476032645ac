#include "atomic_file.h"
#include "error.h"
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <unistd.h>

static void clear(scf_atomic_file *f)
{
    g_clear_pointer(&f->path, g_free);
    g_clear_pointer(&f->tmp, g_free);
    f->fp = NULL;
}

FILE *scf_atomic_file_open(scf_atomic_file *f, const char *path, GError **error)
{
    f->path = g_strdup(path);
    f->tmp = g_strconcat(path, ".tmp-XXXXXX", NULL);
    f->fp = NULL;
    int fd = g_mkstemp_full(f->tmp, O_WRONLY | O_CLOEXEC, 0666);
    if (fd >= 0 && !(f->fp = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        g_unlink(f->tmp);
        errno = e;
    }
    if (!f->fp) {
        int e = errno;
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO,
                    "cannot write %s: cannot create a temporary file beside it: %s", path,
                    g_strerror(e));
        clear(f);
    }
    return f->fp;
}

void scf_atomic_file_abort(scf_atomic_file *f)
{
    if (f->fp) {
        fclose(f->fp);
        g_unlink(f->tmp);
    }
    clear(f);
}

/* The rename is already done: a folder that cannot be synced (some
 * filesystems refuse) costs only durability across a power cut. */
static void sync_folder_of(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    int fd = g_open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

gboolean scf_atomic_file_commit(scf_atomic_file *f, GError **error)
{
    const char *step = NULL;
    int e = 0;
    if (ferror(f->fp) || fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0) {
        e = errno;
        step = "cannot write it to disk";
    }
    if (fclose(f->fp) != 0 && !step) {
        e = errno;
        step = "cannot close it";
    }
    f->fp = NULL;
    if (!step && g_rename(f->tmp, f->path) != 0) {
        e = errno;
        step = "cannot rename the temporary file into place";
    }
    if (step) {
        g_unlink(f->tmp);
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot write %s: %s%s%s", f->path, step,
                    e ? ": " : "", e ? g_strerror(e) : "");
    } else {
        sync_folder_of(f->path);
    }
    clear(f);
    return !step;
}

#include "run.h"
#include "atomic_file.h"
#include "error.h"
#include "image.h"
#include "safetensors.h"
#include "sampler.h"
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

char *scf_run_checkpoint_path(const char *run_dir, int64_t step)
{
    g_autofree char *name = g_strdup_printf("step-%08" G_GINT64_FORMAT ".safetensors", step);
    return g_build_filename(run_dir, "checkpoints", name, NULL);
}

static const char *const run_folders[] = { "samples", "checkpoints" };

gboolean scf_run_make_folders(const char *run_dir, GError **error)
{
    for (size_t i = 0; i < G_N_ELEMENTS(run_folders); i++) {
        g_autofree char *path = g_build_filename(run_dir, run_folders[i], NULL);
        if (g_mkdir_with_parents(path, 0755) != 0) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot create the run folder: %s",
                        run_dir, g_strerror(errno));
            return FALSE;
        }
    }
    return TRUE;
}

void scf_run_remove_empty_folders(const char *run_dir)
{
    for (size_t i = 0; i < G_N_ELEMENTS(run_folders); i++) {
        g_autofree char *path = g_build_filename(run_dir, run_folders[i], NULL);
        g_rmdir(path);   /* only an empty folder goes */
    }
}

static gint compare_desc(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return (x < y) - (x > y);
}

GArray *scf_run_list_checkpoints(const char *run_dir)
{
    GArray *steps = g_array_new(FALSE, FALSE, sizeof(gint64));
    g_autofree char *dir = g_build_filename(run_dir, "checkpoints", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d && (name = g_dir_read_name(d))) {
        gint64 step;
        char tail[32];
        if (sscanf(name, "step-%" G_GINT64_MODIFIER "d.%31s", &step, tail) == 2 &&
            strcmp(tail, "safetensors") == 0)
            g_array_append_val(steps, step);
    }
    if (d)
        g_dir_close(d);
    g_array_sort(steps, compare_desc);
    return steps;
}

gboolean scf_run_save_checkpoint(const char *run_dir, const char *kind, int64_t step,
                                 scf_backend *be, const scf_run_buffer *bufs, int n, int keep,
                                 GError **error)
{
    size_t most = 0;
    for (int i = 0; i < n; i++)
        most = MAX(most, bufs[i].n);
    float *host = g_new(float, MAX(most, 1));
    scf_safetensors_writer *w = scf_safetensors_writer_new();
    g_autofree char *step_s = g_strdup_printf("%" G_GINT64_FORMAT, step);
    scf_safetensors_writer_set_metadata(w, "format", kind);
    scf_safetensors_writer_set_metadata(w, "step", step_s);
    gboolean ok = TRUE;
    for (int i = 0; ok && i < n; i++) {
        be->download(be, host, bufs[i].data, bufs[i].n * sizeof(float));
        ok = scf_safetensors_writer_add(w, bufs[i].name, SCF_DTYPE_F32, 1,
                                        (int64_t[]){ (int64_t)bufs[i].n }, host, error);
    }
    g_free(host);
    g_autofree char *path = scf_run_checkpoint_path(run_dir, step);
    ok = ok && scf_safetensors_writer_save(w, path, error);
    scf_safetensors_writer_free(w);
    if (!ok)
        return FALSE;
    /* only once the new one is safely on disk do older ones go */
    GArray *steps = scf_run_list_checkpoints(run_dir);
    for (guint i = (guint)MAX(keep, 1); i < steps->len; i++) {
        g_autofree char *old = scf_run_checkpoint_path(run_dir, g_array_index(steps, gint64, i));
        g_unlink(old);
    }
    g_array_free(steps, TRUE);
    return TRUE;
}

static gboolean load_one(const char *run_dir, const char *kind, int64_t step, scf_backend *be,
                         const scf_run_buffer *bufs, int n, GError **error)
{
    g_autofree char *path = scf_run_checkpoint_path(run_dir, step);
    scf_safetensors *st = scf_safetensors_open(path, error);
    if (!st)
        return FALSE;
    const char *meta_step = scf_safetensors_metadata(st, "step");
    gboolean ok = g_strcmp0(scf_safetensors_metadata(st, "format"), kind) == 0 && meta_step &&
                  g_ascii_strtoll(meta_step, NULL, 10) == step;
    if (!ok)
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: not a %s of step %" G_GINT64_FORMAT,
                    path, kind, step);
    size_t most = 0;
    for (int i = 0; i < n; i++)
        most = MAX(most, bufs[i].n);
    float *host = g_new(float, MAX(most, 1));
    for (int i = 0; ok && i < n; i++) {
        const scf_st_tensor *t = scf_safetensors_expect(st, bufs[i].name, 1,
                                                        (int64_t[]){ (int64_t)bufs[i].n }, error);
        ok = t && scf_safetensors_read_f32(st, t, host, error);
        if (ok)
            be->upload(be, bufs[i].data, host, bufs[i].n * sizeof(float));
    }
    g_free(host);
    scf_safetensors_close(st);
    return ok;
}

gboolean scf_run_load_latest(const char *run_dir, const char *kind, scf_backend *be,
                             const scf_run_buffer *bufs, int n, int64_t *step, GError **error)
{
    GArray *steps = scf_run_list_checkpoints(run_dir);
    GString *skipped = g_string_new(NULL);
    gboolean loaded = steps->len == 0; /* none yet: start again from step 0 */
    *step = 0;
    for (guint i = 0; !loaded && i < steps->len; i++) {
        GError *e = NULL;
        int64_t s = g_array_index(steps, gint64, i);
        loaded = load_one(run_dir, kind, s, be, bufs, n, &e);
        if (loaded) {
            *step = s;
        } else {
            g_string_append_printf(skipped, "%s%s", skipped->len ? "; " : "", e->message);
            g_error_free(e);
        }
    }
    if (loaded && skipped->len)
        g_warning("%s: skipped unreadable checkpoints: %s", run_dir, skipped->str);
    if (!loaded)
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: no readable checkpoint: %s", run_dir,
                    skipped->str);
    g_string_free(skipped, TRUE);
    g_array_free(steps, TRUE);
    return loaded;
}

struct scf_run_lock {
    int fd;
};

/* The pid a holder wrote into the lock file; 0 while it has not yet (it
 * writes it right after taking the lock). */
static long run_lock_holder(int fd)
{
    char text[32];
    ssize_t n = pread(fd, text, sizeof text - 1, 0);
    if (n <= 0)
        return 0;
    text[n] = 0;
    return MAX(strtol(text, NULL, 10), 0);
}

scf_run_lock *scf_run_lock_acquire(const char *run_dir, GError **error)
{
    g_autofree char *path = g_build_filename(run_dir, SCF_RUN_LOCK_FILE, NULL);
    /* CLOEXEC: a child the holder starts must not keep the lock alive after
     * the holder is gone. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot lock the run folder: %s",
                    run_dir, g_strerror(errno));
        return NULL;
    }
    int status;
    while ((status = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR)
        ;
    if (status != 0) {
        int e = errno;
        long holder = e == EWOULDBLOCK ? run_lock_holder(fd) : 0;
        if (holder > 0)
            g_set_error(error, SCF_ERROR, SCF_ERROR_IO,
                        "%s: another run is training in this folder (process %ld); wait for it "
                        "to end or stop it, or choose another run folder", run_dir, holder);
        else if (e == EWOULDBLOCK)
            g_set_error(error, SCF_ERROR, SCF_ERROR_IO,
                        "%s: another run is starting in this folder; wait for it to end or "
                        "stop it, or choose another run folder", run_dir);
        else
            g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot lock %s: %s", run_dir, path,
                        g_strerror(e));
        close(fd);
        return NULL;
    }
    char text[32];
    int n = g_snprintf(text, sizeof text, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, n, 0) != n) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot write: %s", path,
                    g_strerror(errno));
        close(fd);
        return NULL;
    }
    scf_run_lock *lock = g_new(scf_run_lock, 1);
    lock->fd = fd;
    return lock;
}

void scf_run_lock_release(scf_run_lock *lock)
{
    if (!lock)
        return;
    /* No pid is left behind to be mistaken for a holder; closing the only
     * descriptor drops the lock. */
    if (ftruncate(lock->fd, 0) != 0)
        g_debug("run lock: cannot clear the holder's pid: %s", g_strerror(errno));
    close(lock->fd);
    g_free(lock);
}

gboolean scf_run_write_file(const char *path, const char *text, GError **error)
{
    scf_atomic_file f;
    FILE *fp = scf_atomic_file_open(&f, path, error);
    if (!fp)
        return FALSE;
    fputs(text, fp);
    return scf_atomic_file_commit(&f, error);
}

gboolean scf_run_append_metrics(const char *run_dir, const char *json_line, GError **error)
{
    g_autofree char *path = g_build_filename(run_dir, "metrics.jsonl", NULL);
    FILE *fp = fopen(path, "a");
    if (!fp) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot append: %s", path, g_strerror(errno));
        return FALSE;
    }
    fprintf(fp, "%s\n", json_line);
    gboolean ok = fflush(fp) == 0;
    int e = errno;
    fclose(fp);
    if (!ok)
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot write: %s", path, g_strerror(e));
    return ok;
}

gboolean scf_run_trim_metrics(const char *run_dir, int64_t step, GError **error)
{
    g_autofree char *path = g_build_filename(run_dir, "metrics.jsonl", NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return TRUE;
    GString *kept = g_string_new(NULL);
    char **lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        const char *s = strstr(*l, "\"step\":");
        if (s && g_ascii_strtoll(s + 7, NULL, 10) <= step)
            g_string_append_printf(kept, "%s\n", *l);
    }
    g_strfreev(lines);
    gboolean ok = scf_run_write_file(path, kept->str, error);
    g_string_free(kept, TRUE);
    return ok;
}

gboolean scf_run_sample_grid(scf_model *m, const char *const *prompts, int n, int steps,
                             float guidance, const char *path, GError **error)
{
    scf_sampler *s = scf_sampler_new(m);
    const size_t img = (size_t)m->channels * m->image_size * m->image_size;
    float *out = g_new(float, img);
    scf_image **tiles = g_new0(scf_image *, n);
    gboolean ok = TRUE;
    for (int i = 0; ok && i < n; i++) {
        scf_sample_request r = { prompts[i], NULL, steps, guidance, (uint64_t)i, 1 };
        ok = scf_sampler_run(s, &r, out, NULL, NULL, error) &&
             (tiles[i] = scf_image_from_chw(out, m->channels, m->image_size, m->image_size,
                                            error)) != NULL;
    }
    scf_sampler_free(s);
    g_free(out);
    if (ok) {
        static const uint8_t white[3] = { 255, 255, 255 };
        scf_image *grid = scf_image_grid(tiles, n, (n + 1) / 2, 2, white, error);
        ok = grid && scf_png_write(path, grid, NULL, error);
        scf_image_free(grid);
    }
    for (int i = 0; i < n; i++)
        scf_image_free(tiles[i]);
    g_free(tiles);
    return ok;
}

/* The metrics log or a sample grid could not be written (a full disk, a
 * path taken by a file): the run stops with why, but the steps it took are
 * checkpointed first, so no training is lost to an output file. */
static gboolean stop_after_output_error(const scf_run_schedule *s, const scf_run_ops *ops,
                                        gpointer run, int64_t step, GError *why, GError **error)
{
    GError *cp = NULL;
    if (scf_run_make_folders(s->run_dir, &cp) && ops->checkpoint(run, &cp))
        g_set_error(error, why->domain, why->code,
                    "%s (step %" G_GINT64_FORMAT " is checkpointed: fix that and resume)",
                    why->message, step);
    else
        g_set_error(error, why->domain, why->code,
                    "%s; nor could step %" G_GINT64_FORMAT " be checkpointed: %s", why->message,
                    step, cp->message);
    g_clear_error(&cp);
    g_error_free(why);
    return FALSE;
}

gboolean scf_run_loop(const scf_run_schedule *s, const scf_run_ops *ops, gpointer run,
                      int64_t max_steps, scf_train_progress_fn progress, gpointer user,
                      GError **error)
{
    const int64_t start = ops->current_step(run);
    const int64_t end = max_steps > 0 ? MIN(s->steps, start + max_steps) : s->steps;
    gint64 window_start = g_get_monotonic_time();
    int64_t window_steps = 0;
    double ips = 0;
    for (int64_t step = start; step < end;) {
        scf_train_progress p = { .total = s->steps };
        if (!ops->step(run, &p, error))
            return FALSE;
        step = p.step = ops->current_step(run);
        window_steps++;
        gint64 now = g_get_monotonic_time();
        if (now - window_start > 2000000 || step % s->log_every == 0) {
            ips = (double)window_steps * s->batch_size / ((now - window_start) * 1e-6);
            window_start = now;
            window_steps = 0;
        }
        p.images_per_s = ips;
        p.eta_s = ips > 0 ? (double)(s->steps - step) * s->batch_size / ips : 0;
        GError *why = NULL;
        if (step % s->log_every == 0) {
            g_autofree char *line = ops->metrics(run, &p);
            if (!scf_run_append_metrics(s->run_dir, line, &why))
                return stop_after_output_error(s, ops, run, step, why, error);
        }
        g_autofree char *sample_path = NULL;
        if (step % s->sample_every == 0 || step == s->steps) {
            if (!scf_run_make_folders(s->run_dir, &why) || !ops->samples(run, &sample_path, &why))
                return stop_after_output_error(s, ops, run, step, why, error);
            p.event = "samples";
            p.path = sample_path;
        }
        gboolean keep_going = !progress || progress(&p, user);
        if (step % s->checkpoint_every == 0 || step == end || !keep_going) {
            if (!scf_run_make_folders(s->run_dir, error) || !ops->checkpoint(run, error))
                return FALSE;
            if (progress) {
                g_autofree char *path = scf_run_checkpoint_path(s->run_dir, step);
                scf_train_progress cp = p;
                cp.event = "checkpoint";
                cp.path = path;
                progress(&cp, user);
            }
        }
        if (!keep_going) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_CANCELLED,
                        "stopped at step %" G_GINT64_FORMAT "; resume with --resume", step);
            return FALSE;
        }
    }
    return ops->current_step(run) < s->steps || ops->finish(run, error);
}

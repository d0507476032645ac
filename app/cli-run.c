#include "cli-run.h"
#include "progress.h"
#include <errno.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <stdio.h>

static volatile gboolean stop_requested;

static gboolean on_signal(gpointer data)
{
    stop_requested = TRUE;
    return G_SOURCE_CONTINUE;
}

void scf_cli_run_view_begin(scf_cli_run_view *v, gboolean quiet)
{
    v->quiet = quiet;
    v->last_line = 0;
    v->sigint = g_unix_signal_add(SIGINT, on_signal, NULL);
    v->sigterm = g_unix_signal_add(SIGTERM, on_signal, NULL);
}

void scf_cli_run_view_end(scf_cli_run_view *v)
{
    scf_progress_finish();
    g_source_remove(v->sigint);
    g_source_remove(v->sigterm);
}

scf_run_lock *scf_cli_run_lock(const char *command, const char *run_dir, gboolean new_run,
                               gboolean *made)
{
    *made = new_run && !g_file_test(run_dir, G_FILE_TEST_EXISTS);
    if (new_run && g_mkdir_with_parents(run_dir, 0755) != 0) {
        fprintf(stderr, "scflow %s: %s: cannot make the run folder: %s\n", command, run_dir,
                g_strerror(errno));
        return NULL;
    }
    g_autoptr(GError) error = NULL;
    scf_run_lock *lock = scf_run_lock_acquire(run_dir, &error);
    if (!lock)
        fprintf(stderr, "scflow %s: %s\n", command, error->message);
    return lock;
}

gboolean scf_cli_run_progress(const scf_train_progress *p, gpointer user)
{
    scf_cli_run_view *v = user;
    /* signals arrive through the main context; the loop is ours */
    while (g_main_context_iteration(NULL, FALSE))
        ;
    if (p->event) {
        if (!v->quiet) {
            scf_progress_finish();
            fprintf(stderr, "%s: %s\n", p->event, p->path);
        }
        return !stop_requested;
    }
    gint64 now = g_get_monotonic_time();
    if (!v->quiet && (now - v->last_line > 250000 || p->step == p->total)) {
        char eta[32], text[160];
        g_snprintf(text, sizeof text, "loss %.4f  |g| %.3f  %.1f img/s  ETA %s", p->loss,
                   p->grad_norm, p->images_per_s,
                   scf_progress_format_duration(p->eta_s, eta, sizeof eta));
        scf_progress_draw(p->step, p->total, text);
        v->last_line = now;
    }
    return !stop_requested;
}

gint64 scf_cli_run_steps(const char *command, gint64 steps)
{
    if (steps == SCF_CLI_RUN_ALL_STEPS)
        return 0;
    if (steps < 1) {
        fprintf(stderr, "scflow %s: --steps must be at least 1, found %" G_GINT64_FORMAT "\n",
                command, steps);
        return -1;
    }
    return steps;
}

char *scf_cli_run_device_list(const char *command, const char *device, const char *devices,
                              int gpus)
{
    if ((device != NULL) + (devices != NULL) + (gpus != 0) > 1 || gpus < 0) {
        fprintf(stderr, "scflow %s: give one of --device DEV, --devices LIST or --gpus N "
                        "(N >= 1)\nTry 'scflow %s --help'.\n", command, command);
        return NULL;
    }
    if (gpus > 0)
        return scf_collective_gpu_list(gpus);
    return g_strdup(devices ? devices : device ? device : "auto");
}

scf_collective *scf_cli_run_open_devices(const char *command, const char *list, int threads,
                                         gboolean quiet)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *notice = NULL;
    scf_collective *c = scf_collective_open(list, threads, &notice, &error);
    if (!c)
        fprintf(stderr, "scflow %s: %s\n", command, error->message);
    else if (notice && !quiet)
        fprintf(stderr, "scflow %s: %s\n", command, notice);
    return c;
}

void scf_cli_run_unstart(const char *run_dir, gboolean started, gboolean made)
{
    g_autofree char *path = g_build_filename(run_dir, "run.json", NULL);
    if (started)
        g_unlink(path);
    if (!made)
        return;
    /* rmdir removes only empty folders: nothing else is touched */
    scf_run_remove_empty_folders(run_dir);
    g_autofree char *lock = g_build_filename(run_dir, SCF_RUN_LOCK_FILE, NULL);
    g_unlink(lock);
    g_rmdir(run_dir);
}

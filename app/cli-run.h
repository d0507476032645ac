/* What `scflow train` and `scflow distill` share: the run folder's lock, a
 * progress line per step, events (checkpoints, samples) on their own lines,
 * and Ctrl+C / SIGTERM turning into "checkpoint, then stop". */
#pragma once
#include "run.h"

typedef struct {
    gboolean quiet;
    gint64 last_line;
    guint sigint, sigterm;
} scf_cli_run_view;

/* Starts catching SIGINT and SIGTERM. */
void scf_cli_run_view_begin(scf_cli_run_view *v, gboolean quiet);
void scf_cli_run_view_end(scf_cli_run_view *v);
/* Takes RUN's lock for the run's life (core/run.h), making the folder first
 * for a new run. NULL, with the reason printed as "scflow COMMAND: ...",
 * when another process is training there or the folder cannot be had. */
scf_run_lock *scf_cli_run_lock(const char *command, const char *run_dir, gboolean new_run);
/* An scf_train_progress_fn; user is the view. FALSE once a stop was asked for. */
gboolean scf_cli_run_progress(const scf_train_progress *p, gpointer user);

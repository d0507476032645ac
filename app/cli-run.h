/* What `scflow train` and `scflow distill` share: the run folder's lock, a
 * progress line per step, events (checkpoints, samples) on their own lines,
 * and Ctrl+C / SIGTERM turning into "checkpoint, then stop". */
#pragma once
#include "collective.h"
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
 * for a new run (*made: it did not exist). NULL, with the reason printed as
 * "scflow COMMAND: ...", when another process is training there or the
 * folder cannot be had. */
scf_run_lock *scf_cli_run_lock(const char *command, const char *run_dir, gboolean new_run,
                               gboolean *made);
/* An scf_train_progress_fn; user is the view. FALSE once a stop was asked for. */
gboolean scf_cli_run_progress(const scf_train_progress *p, gpointer user);

/* The option entry --steps N, "stop after this many more steps"; steps
 * starts at SCF_CLI_RUN_ALL_STEPS (not given: run to the end). */
#define SCF_CLI_RUN_ALL_STEPS (-1)
#define SCF_CLI_RUN_STEPS_OPTION(steps)                                                        \
    { "steps", 0, 0, G_OPTION_ARG_INT64, &(steps),                                             \
      "Stop after this many more steps (default: run to the end)", "N" }
/* The step budget for scf_trainer_run / scf_distiller_run (0: to the end),
 * or -1 after printing a usage error for --steps 0 or below, which would
 * otherwise have meant "to the end". */
gint64 scf_cli_run_steps(const char *command, gint64 steps);

/* The option entries --devices LIST and --gpus N that train and distill
 * add beside --device. */
#define SCF_CLI_RUN_DEVICE_OPTIONS(devices, gpus)                                              \
    { "devices", 0, 0, G_OPTION_ARG_STRING, &(devices),                                        \
      "Data-parallel over these devices: cuda:0,cuda:1 (NCCL) or cpu,cpu", "LIST" },            \
    { "gpus", 0, 0, G_OPTION_ARG_INT, &(gpus), "Data-parallel over the first N GPUs", "N" }

/* The device list of a run from --device DEV, --devices LIST or --gpus N
 * (at most one; none means auto): a string for scf_collective_open, or
 * NULL after printing a usage error. */
char *scf_cli_run_device_list(const char *command, const char *device, const char *devices,
                              int gpus);
/* Opens the devices of list (scf_collective_open), printing errors and the
 * fallback notice as "scflow COMMAND: ..."; NULL on failure. */
scf_collective *scf_cli_run_open_devices(const char *command, const char *list, int threads,
                                         gboolean quiet);
/* A new run that did not start (its settings refused, its devices not
 * opened, its batch not split over them) leaves nothing behind: when
 * started (its run.json was written), that goes, so that the corrected
 * command can start it in the same folder instead of being told to resume;
 * when made (scf_cli_run_lock made the folder), the lock file and the
 * folder go too, with its empty samples/ and checkpoints/. */
void scf_cli_run_unstart(const char *run_dir, gboolean started, gboolean made);

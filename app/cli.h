/* The `scflow` command line: each subcommand is one file (cli-NAME.c) with an
 * entry point of this shape. Exit codes: 0 ok, 1 runtime error, 2 usage error. */
#pragma once
#include <glib.h>
#include "scflow.h"

#define SCF_EXIT_OK 0
#define SCF_EXIT_RUNTIME 1
#define SCF_EXIT_USAGE 2

typedef int (*scf_cli_main)(int argc, char **argv);

typedef struct {
    const char *name;
    const char *summary;
    scf_cli_main main;
} scf_cli_command;

/* Parses argv with a GOptionContext whose parameter string is "scflow NAME"
 * and summary is given; prints usage errors and returns FALSE on them. */
gboolean scf_cli_parse(const char *name, const char *summary, GOptionEntry *entries,
                       int *argc, char ***argv);

/* Parses "1,2,4": up to max step counts, each 1..1000, into out; FALSE on
 * anything else. */
gboolean scf_cli_parse_steps(const char *text, int *out, int max, int *n);

/* The --precision option of the commands that run a model (generate,
 * compare, bench unet), storing its text in var (a char *). */
#define SCF_CLI_PRECISION_OPTION(var)                                                      \
    { "precision", 0, 0, G_OPTION_ARG_STRING, &(var),                                     \
      "fp32, tf32, bf16 or fp16: how matrix products round on CUDA (default fp32; the CPU " \
      "does fp32 only)", "P" }

/* Parses --precision's text (NULL: fp32) into out; prints the usage error
 * and returns FALSE on anything else. */
gboolean scf_cli_parse_precision(const char *name, const char *text, scf_precision *out);

/* Opens the device ("auto" when NULL), printing errors and fallback notices. */
scf_backend *scf_cli_open_device(const char *name, const char *device, int threads, gboolean quiet);
/* The same, computing in precision (scf_device_open_precision: an error on a
 * device asked for by name that cannot, a notice where "auto" fell back). */
scf_backend *scf_cli_open_device_precision(const char *name, const char *device,
                                           scf_precision precision, int threads, gboolean quiet);
/* Loads dir, or the default model when dir is NULL; prints errors. */
scf_model *scf_cli_load_model(const char *name, const char *dir, scf_backend *be);

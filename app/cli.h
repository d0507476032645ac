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

/* Opens the device ("auto" when NULL), printing errors and fallback notices. */
scf_backend *scf_cli_open_device(const char *name, const char *device, int threads, gboolean quiet);
/* Loads dir, or the default model when dir is NULL; prints errors. */
scf_model *scf_cli_load_model(const char *name, const char *dir, scf_backend *be);

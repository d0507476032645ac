/* `scflow`: the command-line face of the engine. */
#include "build-config.h"
#include "cli.h"
#include "openmp-env.h"
#include <locale.h>
#include <stdio.h>
#include <string.h>

int scf_cli_bench(int argc, char **argv);
int scf_cli_generate(int argc, char **argv);
int scf_cli_dataset(int argc, char **argv);
int scf_cli_train(int argc, char **argv);
int scf_cli_distill(int argc, char **argv);
int scf_cli_compare(int argc, char **argv);
int scf_cli_gallery(int argc, char **argv);
int scf_cli_eval(int argc, char **argv);

static const scf_cli_command commands[] = {
    { "generate", "Make images from a prompt", scf_cli_generate },
    { "bench", "Time kernels and the UNet against PyTorch (scflow bench ops|unet)", scf_cli_bench },
    { "compare", "One prompt and seed at 1, 2, 4 ... steps side by side, with timings", scf_cli_compare },
    { "train", "Train a flow-matching teacher (scflow train --data DIR --config FILE --out RUN)", scf_cli_train },
    { "distill", "Distil a teacher into a one-step student with SCFlow", scf_cli_distill },
    { "gallery", "List, search, export and import the images the app keeps (scflow gallery list)", scf_cli_gallery },
    { "eval", "Measure a model at 1, 2, 4 ... steps: consistency, blur, saturation, retrieval, speed", scf_cli_eval },
    { "dataset", "Build the emoji training set (scflow dataset emoji --out DIR)", scf_cli_dataset },
    { NULL, NULL, NULL },
};

static void print_help(FILE *to)
{
    fprintf(to,
            "Usage: scflow COMMAND [OPTIONS]\n"
            "\n"
            "SCFlow Studio's engine on the command line: one-step and few-step\n"
            "text-to-image flow models, trained and distilled with SCFlow.\n"
            "\n"
            "Commands:\n");
    for (const scf_cli_command *c = commands; c->name; c++)
        fprintf(to, "  %-10s %s\n", c->name, c->summary);
    fprintf(to,
            "\n"
            "Options:\n"
            "  -h, --help     Show this help (scflow COMMAND --help for a command's options)\n"
            "  --version      Show the version\n"
            "\n"
            "Exit status: 0 success, 1 runtime error, 2 usage error.\n");
}

int main(int argc, char **argv)
{
    scf_openmp_bound_spinning(argv);
    setlocale(LC_ALL, "");
    if (argc < 2) {
        print_help(stderr);
        return SCF_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        print_help(stdout);
        return SCF_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("scflow %s\n", SCF_VERSION);
        return SCF_EXIT_OK;
    }
    for (const scf_cli_command *c = commands; c->name; c++)
        if (strcmp(c->name, cmd) == 0)
            return c->main(argc - 1, argv + 1);
    fprintf(stderr, "scflow: unknown command '%s'\nTry 'scflow --help'.\n", cmd);
    return SCF_EXIT_USAGE;
}

#include "openmp-env.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void scf_openmp_bound_spinning(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    if (argv[0] && argv[1] && strcmp(argv[1], "bench") == 0)
        return;
    setenv("GOMP_SPINCOUNT", "1000", 1);
    execv("/proc/self/exe", argv);
    /* if re-executing fails, run on with libgomp's default */
}

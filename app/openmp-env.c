#include "openmp-env.h"
#include <stdlib.h>
#include <unistd.h>

void scf_openmp_prefer_passive(char **argv)
{
    if (getenv("OMP_WAIT_POLICY"))
        return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);
    /* if re-executing fails, run on with libgomp's default */
}

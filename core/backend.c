#include "backend.h"
#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS is Debian's OpenMP build (libopenblas0-openmp), so it and our
 * OpenMP loops share one thread pool: two pools fighting over 2 cores made a
 * training step 1.8x slower (DESIGN.md). */
void scf_set_threads(int threads)
{
    if (threads <= 0)
        threads = (int)g_get_num_processors();
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    openblas_set_num_threads(threads);
}

int scf_get_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void *scf_backend_workspace(scf_backend *be, size_t bytes)
{
    if (bytes <= be->workspace_size)
        return be->workspace;
    if (be->workspace)
        be->free(be, be->workspace);
    /* grow by 1.5x so a slowly rising demand does not reallocate each call */
    size_t want = MAX(bytes, be->workspace_size + be->workspace_size / 2);
    be->workspace = be->alloc(be, want);
    be->workspace_size = be->workspace ? want : 0;
    return be->workspace;
}

void scf_backend_free(scf_backend *be)
{
    if (!be)
        return;
    if (be->workspace)
        be->free(be, be->workspace);
    be->destroy(be);
}

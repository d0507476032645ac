#include "backend.h"
#include "error.h"
#include <string.h>
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

static const char *const precision_names[] = {
    [SCF_PRECISION_FP32] = "fp32",
    [SCF_PRECISION_TF32] = "tf32",
    [SCF_PRECISION_BF16] = "bf16",
    [SCF_PRECISION_FP16] = "fp16",
};

const char *scf_precision_name(scf_precision p)
{
    return (unsigned)p < G_N_ELEMENTS(precision_names) ? precision_names[p] : "unknown";
}

gboolean scf_precision_parse(const char *text, scf_precision *out, GError **error)
{
    for (guint i = 0; text && i < G_N_ELEMENTS(precision_names); i++) {
        if (strcmp(text, precision_names[i]) == 0) {
            *out = (scf_precision)i;
            return TRUE;
        }
    }
    g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                "precision '%s': expected fp32, tf32, bf16 or fp16", text ? text : "");
    return FALSE;
}

gboolean scf_backend_set_precision(scf_backend *be, scf_precision p, GError **error)
{
    if ((unsigned)p >= G_N_ELEMENTS(precision_names)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "device %s: precision %d is not one "
                    "of fp32, tf32, bf16, fp16", be->name, (int)p);
        return FALSE;
    }
    if (be->set_precision)
        return be->set_precision(be, p, error);
    if (p != SCF_PRECISION_FP32) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED,
                    "device %s computes in fp32 only: precision %s needs a CUDA GPU",
                    be->name, scf_precision_name(p));
        return FALSE;
    }
    return TRUE;
}

#include "build-config.h"
#include "device.h"
#include "error.h"
#include <stdlib.h>
#include <string.h>

#if SCF_HAVE_CUDA
/* core/cuda/backend_cuda.cu */
scf_backend *scf_backend_cuda_new(int device, GError **error);
int scf_cuda_device_count(void);
#endif

gboolean scf_device_cuda_built(void)
{
    return SCF_HAVE_CUDA;
}

int scf_device_cuda_count(void)
{
#if SCF_HAVE_CUDA
    return scf_cuda_device_count();
#else
    return 0;
#endif
}

static scf_backend *open_cuda(int index, GError **error)
{
#if SCF_HAVE_CUDA
    scf_backend *be = scf_backend_cuda_new(index, error);
    if (be && !be->linear_forward) {
        /* The device layer exists before the CUDA kernels (a later issue). */
        g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED,
                    "%s found, but this version has no CUDA kernels yet", be->name);
        scf_backend_free(be);
        return NULL;
    }
    return be;
#else
    g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE,
                "device cuda:%d: this build has no CUDA backend (nvcc was not found "
                "when it was configured; rebuild with -Dcuda=enabled)", index);
    return NULL;
#endif
}

scf_backend *scf_device_open(const char *spec, int threads, char **notice, GError **error)
{
    if (notice)
        *notice = NULL;
    if (!spec || !*spec || strcmp(spec, "auto") == 0) {
        GError *cuda_error = NULL;
        scf_backend *be = open_cuda(0, &cuda_error);
        if (be)
            return be;
        if (notice)
            *notice = g_strdup_printf("using the CPU: %s", cuda_error->message);
        g_error_free(cuda_error);
        return scf_backend_cpu_new(threads);
    }
    if (strcmp(spec, "cpu") == 0)
        return scf_backend_cpu_new(threads);
    if (strncmp(spec, "cuda", 4) == 0) {
        int index = 0;
        if (spec[4] == ':') {
            char *end = NULL;
            long v = strtol(spec + 5, &end, 10);
            if (end == spec + 5 || *end || v < 0 || v > 1023) {
                g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                            "device '%s': expected cuda:N with N a GPU index", spec);
                return NULL;
            }
            index = (int)v;
        } else if (spec[4]) {
            goto unknown;
        }
        return open_cuda(index, error);
    }
unknown:
    g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                "device '%s': expected auto, cpu, cuda or cuda:N", spec);
    return NULL;
}

scf_backend *scf_device_open_precision(const char *spec, scf_precision precision, int threads,
                                       char **notice, GError **error)
{
    char *why = NULL;
    scf_backend *be = scf_device_open(spec, threads, &why, error);
    if (!be)
        return NULL;
    GError *precision_error = NULL;
    if (!scf_backend_set_precision(be, precision, &precision_error)) {
        if (!why) { /* the device was asked for by name: it must do what was asked */
            g_propagate_error(error, precision_error);
            scf_backend_free(be);
            return NULL;
        }
        char *both = g_strdup_printf("%s; it computes in fp32, not %s", why,
                                     scf_precision_name(precision));
        g_free(why);
        why = both;
        g_error_free(precision_error);
    }
    if (notice)
        *notice = why;
    else
        g_free(why);
    return be;
}

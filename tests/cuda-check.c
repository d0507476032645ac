#include "cuda-check.h"
#include "device.h"
#include "error.h"
#include <stdio.h>
#include <stdlib.h>

scf_backend *cc_cuda_or_skip(void)
{
    static scf_backend *cuda;
    if (cuda)
        return cuda;
    GError *error = NULL;
    cuda = scf_device_open("cuda", 0, NULL, &error);
    if (!cuda) {
        printf("1..0 # SKIP no CUDA: %s\n", error->message);
        g_error_free(error);
        exit(77);
    }
    return cuda;
}

float *cc_upload(scf_backend *be, const float *host, size_t n)
{
    float *dev = be->alloc(be, n * sizeof(float));
    g_assert_nonnull(dev);
    if (host)
        be->upload(be, dev, host, n * sizeof(float));
    else
        be->zero(be, dev, n * sizeof(float));
    return dev;
}

float *cc_download(scf_backend *be, const float *dev, size_t n)
{
    float *host = g_new(float, n);
    be->download(be, host, dev, n * sizeof(float));
    be->synchronize(be);
    return host;
}

gboolean cc_close(const char *what, scf_backend *be, const float *got, const float *ref,
                  size_t n, double rtol)
{
    float *host = cc_download(be, got, n);
    gboolean ok = chk_close(what, host, ref, n, rtol);
    g_free(host);
    return ok;
}

/* The CUDA device layer on a real GPU: memory round trips through the
 * backend table. Exits 77 (skip) where no GPU is present. */
#include "backend.h"
#include "error.h"
#include <stdio.h>
#include <string.h>

scf_backend *scf_backend_cuda_new(int device, GError **error); /* core/cuda/ */

int main(void)
{
    GError *error = NULL;
    scf_backend *be = scf_backend_cuda_new(0, &error);
    if (!be) {
        printf("SKIP: %s\n", error->message);
        g_error_free(error);
        return 77;
    }
    enum { N = 1 << 20 };
    float *host = g_new(float, N), *back = g_new(float, N);
    for (int i = 0; i < N; i++)
        host[i] = (float)i * 0.5f;
    float *a = be->alloc(be, N * sizeof(float)), *b = be->alloc(be, N * sizeof(float));
    int fail = !a || !b;
    if (!fail) {
        be->upload(be, a, host, N * sizeof(float));
        be->copy(be, b, a, N * sizeof(float));
        be->download(be, back, b, N * sizeof(float));
        be->synchronize(be);
        fail |= memcmp(host, back, N * sizeof(float)) != 0;
        be->zero(be, b, N * sizeof(float));
        be->download(be, back, b, N * sizeof(float));
        for (int i = 0; i < N; i++)
            fail |= back[i] != 0.0f;
    }
    printf("%s: memory round trip on %s\n", fail ? "FAIL" : "ok", be->name);
    be->free(be, a);
    be->free(be, b);
    scf_backend_free(be);
    g_free(host);
    g_free(back);
    return fail;
}

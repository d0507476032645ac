/* Data parallelism over GPUs with NCCL (core/collective.h). One thread per
 * GPU drives one communicator, so no ncclGroupStart/End is needed: each
 * call is one rank's part of one collective. All-reduce results are the
 * same bits on every rank (NCCL reduces each chunk once and copies it), so
 * replicas stepping on them stay identical. */
#include "collective_nccl.h"
#include "../error.h"
#include <cuda_runtime.h>
#include <nccl.h>

/* Values of one scf_nccl_sum_doubles call at most (core/collective.c
 * exchanges SCF_COLLECTIVE_MAX_VALUES + 1). */
#define SUM_SLOTS 16

struct scf_nccl {
    int world;
    int *devices;
    ncclComm_t *comms;
    double **slots;       /* per rank, device memory for scf_nccl_sum_doubles */
};

static gboolean nccl_ok(ncclResult_t st, const scf_nccl *n, int rank, const char *what,
                        GError **error)
{
    if (st == ncclSuccess)
        return TRUE;
    g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE, "cuda:%d: NCCL %s failed: %s", n->devices[rank],
                what, ncclGetErrorString(st));
    return FALSE;
}

static gboolean cuda_ok(cudaError_t st, const scf_nccl *n, int rank, const char *what,
                        GError **error)
{
    if (st == cudaSuccess)
        return TRUE;
    g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE, "cuda:%d: %s failed: %s", n->devices[rank],
                what, cudaGetErrorString(st));
    return FALSE;
}

extern "C" void scf_nccl_free(scf_nccl *n)
{
    if (!n)
        return;
    for (int r = 0; r < n->world; r++) {
        cudaSetDevice(n->devices[r]);
        if (n->comms[r])
            ncclCommDestroy(n->comms[r]);
        cudaFree(n->slots[r]);
    }
    g_free(n->devices);
    g_free(n->comms);
    g_free(n->slots);
    g_free(n);
}

extern "C" scf_nccl *scf_nccl_new(const int *devices, int world, GError **error)
{
    scf_nccl *n = g_new0(scf_nccl, 1);
    n->world = world;
    n->devices = (int *)g_memdup2(devices, (gsize)world * sizeof(int));
    n->comms = g_new0(ncclComm_t, world);
    n->slots = g_new0(double *, world);
    gboolean ok = nccl_ok(ncclCommInitAll(n->comms, world, devices), n, 0, "initialisation",
                          error);
    for (int r = 0; ok && r < world; r++)
        ok = cuda_ok(cudaSetDevice(devices[r]), n, r, "cudaSetDevice", error) &&
             cuda_ok(cudaMalloc((void **)&n->slots[r], SUM_SLOTS * sizeof(double)), n, r,
                     "cudaMalloc", error);
    if (!ok) {
        scf_nccl_free(n);
        return NULL;
    }
    return n;
}

extern "C" void scf_nccl_bind(scf_nccl *n, int rank)
{
    cudaSetDevice(n->devices[rank]);
}

/* The backend's kernels may run on streams of its own: the device is
 * synchronised before a collective on device memory, and the collective
 * finished before returning, so it is ordered with whatever stream the
 * backend uses. One wait per step costs microseconds beside a training step. */
static gboolean device_collective(scf_nccl *n, int rank, float *buf, size_t count,
                                  gboolean broadcast, GError **error)
{
    ncclResult_t st;
    if (!cuda_ok(cudaDeviceSynchronize(), n, rank, "cudaDeviceSynchronize", error))
        return FALSE;
    if (broadcast)
        st = ncclBroadcast(buf, buf, count, ncclFloat, 0, n->comms[rank], cudaStreamLegacy);
    else
        st = ncclAllReduce(buf, buf, count, ncclFloat, ncclSum, n->comms[rank], cudaStreamLegacy);
    return nccl_ok(st, n, rank, broadcast ? "broadcast" : "all-reduce", error) &&
           cuda_ok(cudaStreamSynchronize(cudaStreamLegacy), n, rank, "the collective", error);
}

extern "C" gboolean scf_nccl_sum_floats(scf_nccl *n, int rank, float *buf, size_t count,
                                        GError **error)
{
    return device_collective(n, rank, buf, count, FALSE, error);
}

extern "C" gboolean scf_nccl_broadcast_floats(scf_nccl *n, int rank, float *buf, size_t count,
                                              GError **error)
{
    return device_collective(n, rank, buf, count, TRUE, error);
}

extern "C" gboolean scf_nccl_sum_doubles(scf_nccl *n, int rank, double *values, int count,
                                         GError **error)
{
    if (count > SUM_SLOTS) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "cuda:%d: %d values to sum, at most %d",
                    n->devices[rank], count, SUM_SLOTS);
        return FALSE;
    }
    const size_t bytes = (size_t)count * sizeof(double);
    return cuda_ok(cudaMemcpy(n->slots[rank], values, bytes, cudaMemcpyHostToDevice), n, rank,
                   "uploading step values", error) &&
           nccl_ok(ncclAllReduce(n->slots[rank], n->slots[rank], (size_t)count, ncclDouble, ncclSum,
                                 n->comms[rank], cudaStreamLegacy), n, rank, "all-reduce", error) &&
           cuda_ok(cudaMemcpy(values, n->slots[rank], bytes, cudaMemcpyDeviceToHost), n, rank,
                   "downloading step values", error);
}

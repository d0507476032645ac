/* The CUDA backend's device and memory layer. The kernel table is filled in
 * by the CUDA backend issue; until then a backend opens only to report the
 * device, and the device chooser falls back to the CPU for compute.
 * Without a GPU, cudaGetDeviceCount returns an error status (no crash), which
 * becomes a clear "no GPU" message. */
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include "../backend.h"
#include "../error.h"
#include "cuda_kernels_b.h"

typedef struct {
    int device;
    cublasHandle_t blas;
    char name[64];
} cuda_ctx;

static void *cuda_alloc(scf_backend *be, size_t bytes)
{
    (void)be;
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 64) != cudaSuccess)
        return NULL;
    return p;
}

static void cuda_free(scf_backend *be, void *ptr)
{
    (void)be;
    cudaFree(ptr);
}

static void cuda_upload(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
}

static void cuda_download(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
}

static void cuda_copy(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice);
}

static void cuda_zero(scf_backend *be, void *dst, size_t bytes)
{
    (void)be;
    cudaMemset(dst, 0, bytes);
}

static void cuda_synchronize(scf_backend *be)
{
    (void)be;
    cudaDeviceSynchronize();
}

static void cuda_destroy(scf_backend *be)
{
    cuda_ctx *ctx = (cuda_ctx *)be->ctx;
    cublasDestroy(ctx->blas);
    g_free(ctx);
    g_free(be);
}

cublasHandle_t scf_cudab_blas(scf_backend *be)
{
    return ((cuda_ctx *)be->ctx)->blas;
}

extern "C" scf_backend *scf_backend_cuda_new(int device, GError **error)
{
    int count = 0;
    cudaError_t st = cudaGetDeviceCount(&count);
    if (st != cudaSuccess || count == 0) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE, "no CUDA GPU found (%s)",
                    st != cudaSuccess ? cudaGetErrorString(st) : "0 devices");
        return NULL;
    }
    if (device < 0 || device >= count) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE,
                    "device cuda:%d: only %d CUDA GPU(s) present", device, count);
        return NULL;
    }
    cudaSetDevice(device);
    cuda_ctx *ctx = g_new0(cuda_ctx, 1);
    ctx->device = device;
    if (cublasCreate(&ctx->blas) != CUBLAS_STATUS_SUCCESS) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE, "cuda:%d: cuBLAS failed to start", device);
        g_free(ctx);
        return NULL;
    }
    g_snprintf(ctx->name, sizeof ctx->name, "cuda:%d", device);
    scf_backend *be = g_new0(scf_backend, 1);
    be->name = ctx->name;
    be->kind = SCF_DEVICE_CUDA;
    be->ctx = ctx;
    be->alloc = cuda_alloc;
    be->free = cuda_free;
    be->upload = cuda_upload;
    be->download = cuda_download;
    be->copy = cuda_copy;
    be->zero = cuda_zero;
    be->synchronize = cuda_synchronize;
    be->destroy = cuda_destroy;
    /* attention, softmax, losses, optimisers, RNG: cuda_kernels_b.h */
    be->softmax_forward = scf_cuda_softmax_forward;
    be->softmax_backward = scf_cuda_softmax_backward;
    be->attention_forward = scf_cuda_attention_forward;
    be->attention_backward = scf_cuda_attention_backward;
    be->sum_squares = scf_cuda_sum_squares;
    be->mse_forward = scf_cuda_mse_forward;
    be->mse_backward = scf_cuda_mse_backward;
    be->pseudo_huber_forward = scf_cuda_pseudo_huber_forward;
    be->pseudo_huber_backward = scf_cuda_pseudo_huber_backward;
    be->softplus_forward = scf_cuda_softplus_forward;
    be->softplus_backward = scf_cuda_softplus_backward;
    be->gan_logistic_forward = scf_cuda_gan_logistic_forward;
    be->gan_logistic_backward = scf_cuda_gan_logistic_backward;
    be->adamw_update = scf_cuda_adamw_update;
    be->ema_update = scf_cuda_ema_update;
    be->rng_normal = scf_cuda_rng_normal;
    be->rng_uniform = scf_cuda_rng_uniform;
    return be;
}

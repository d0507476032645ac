/* The CUDA backend: its device and memory layer, and the kernel table whose
 * kernels live in the cuda_*.cu files beside this one (cuda_kernels.h).
 * Without a GPU, cudaGetDeviceCount returns an error status (no crash), which
 * becomes a clear "no GPU" message. */
#include "cuda_kernels.h"
#include "../error.h"
#include "cuda_kernels_b.h"
#include "cuda_precision.h"

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
    scf_cuda_ctx *ctx = (scf_cuda_ctx *)be->ctx;
    cublasDestroy(ctx->blas);
    g_free(ctx);
    g_free(be);
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
    scf_cuda_ctx *ctx = g_new0(scf_cuda_ctx, 1);
    ctx->device = device;
    if (cublasCreate(&ctx->blas) != CUBLAS_STATUS_SUCCESS) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE, "cuda:%d: cuBLAS failed to start", device);
        g_free(ctx);
        return NULL;
    }
    /* plain fp32 GEMMs (no TF32) so the CUDA backend matches the CPU's to
     * float rounding; other precisions are asked for (cuda_precision.h) */
    SCF_CUBLAS_CHECK(cublasSetMathMode(ctx->blas, CUBLAS_DEFAULT_MATH));
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
    /* dense layers, convolutions, norms, activations, layout, elementwise */
    be->linear_forward = scf_cuda_linear_forward;
    be->linear_backward = scf_cuda_linear_backward;
    be->conv2d_forward = scf_cuda_conv2d_forward;
    be->conv2d_backward = scf_cuda_conv2d_backward;
    be->group_norm_forward = scf_cuda_group_norm_forward;
    be->group_norm_backward = scf_cuda_group_norm_backward;
    be->layer_norm_forward = scf_cuda_layer_norm_forward;
    be->layer_norm_backward = scf_cuda_layer_norm_backward;
    be->activation_forward = scf_cuda_activation_forward;
    be->activation_backward = scf_cuda_activation_backward;
    be->geglu_forward = scf_cuda_geglu_forward;
    be->geglu_backward = scf_cuda_geglu_backward;
    be->upsample2x_forward = scf_cuda_upsample2x_forward;
    be->upsample2x_backward = scf_cuda_upsample2x_backward;
    be->timestep_embedding = scf_cuda_timestep_embedding;
    be->embedding_forward = scf_cuda_embedding_forward;
    be->embedding_backward = scf_cuda_embedding_backward;
    be->concat_forward = scf_cuda_concat_forward;
    be->concat_backward = scf_cuda_concat_backward;
    be->add = scf_cuda_add;
    be->mul = scf_cuda_mul;
    be->mul_backward = scf_cuda_mul_backward;
    be->scale = scf_cuda_scale;
    be->axpy = scf_cuda_axpy;
    be->fill = scf_cuda_fill;
    be->add_channel_forward = scf_cuda_add_channel_forward;
    be->add_channel_backward = scf_cuda_add_channel_backward;
    be->batch_scale_forward = scf_cuda_batch_scale_forward;
    be->batch_scale_backward = scf_cuda_batch_scale_backward;
    be->transpose = scf_cuda_transpose;
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
    scf_cuda_precision_install(be);
    return be;
}

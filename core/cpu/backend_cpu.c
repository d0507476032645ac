/* The CPU backend: host memory and the kernel table. */
#include "cpu_kernels.h"
#include <stdlib.h>
#include <string.h>


static void *cpu_alloc(scf_backend *be, size_t bytes)
{
    (void)be;
    void *p = NULL;
    /* 64-byte alignment: AVX-512 loads and one cache line per row start */
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0)
        return NULL;
    return p;
}

static void cpu_free(scf_backend *be, void *ptr)
{
    (void)be;
    free(ptr);
}

/* Large copies and fills (activation gradients are zeroed before backward
 * kernels add into them, tens of MiB a step) are split between the threads:
 * one core alone does not reach the memory bandwidth. */
#define SPLIT_BYTES ((size_t)1 << 20)
#define SPLIT_CHUNK ((size_t)256 << 10)

static void cpu_copy(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    const size_t chunks = (bytes + SPLIT_CHUNK - 1) / SPLIT_CHUNK;
    #pragma omp parallel for schedule(static) if (bytes >= SPLIT_BYTES)
    for (size_t c = 0; c < chunks; c++) {
        const size_t at = c * SPLIT_CHUNK;
        memcpy((char *)dst + at, (const char *)src + at, MIN(SPLIT_CHUNK, bytes - at));
    }
}

static void cpu_zero(scf_backend *be, void *dst, size_t bytes)
{
    (void)be;
    const size_t chunks = (bytes + SPLIT_CHUNK - 1) / SPLIT_CHUNK;
    #pragma omp parallel for schedule(static) if (bytes >= SPLIT_BYTES)
    for (size_t c = 0; c < chunks; c++) {
        const size_t at = c * SPLIT_CHUNK;
        memset((char *)dst + at, 0, MIN(SPLIT_CHUNK, bytes - at));
    }
}

static void cpu_synchronize(scf_backend *be)
{
    (void)be;
}

static void cpu_destroy(scf_backend *be)
{
    g_free(be);
}

scf_backend *scf_backend_cpu_new(int threads)
{
    scf_backend *be = g_new0(scf_backend, 1);
    scf_set_threads(threads);
    be->name = "cpu";
    be->kind = SCF_DEVICE_CPU;
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->upload = cpu_copy;
    be->download = cpu_copy;
    be->copy = cpu_copy;
    be->zero = cpu_zero;
    be->synchronize = cpu_synchronize;
    be->destroy = cpu_destroy;
    be->linear_forward = scf_cpu_linear_forward;
    be->linear_backward = scf_cpu_linear_backward;
    be->conv2d_forward = scf_cpu_conv2d_forward;
    be->conv2d_backward = scf_cpu_conv2d_backward;
    be->group_norm_forward = scf_cpu_group_norm_forward;
    be->group_norm_backward = scf_cpu_group_norm_backward;
    be->layer_norm_forward = scf_cpu_layer_norm_forward;
    be->layer_norm_backward = scf_cpu_layer_norm_backward;
    be->activation_forward = scf_cpu_activation_forward;
    be->activation_backward = scf_cpu_activation_backward;
    be->geglu_forward = scf_cpu_geglu_forward;
    be->geglu_backward = scf_cpu_geglu_backward;
    be->softmax_forward = scf_cpu_softmax_forward;
    be->softmax_backward = scf_cpu_softmax_backward;
    be->attention_forward = scf_cpu_attention_forward;
    be->attention_backward = scf_cpu_attention_backward;
    be->upsample2x_forward = scf_cpu_upsample2x_forward;
    be->upsample2x_backward = scf_cpu_upsample2x_backward;
    be->concat_forward = scf_cpu_concat_forward;
    be->concat_backward = scf_cpu_concat_backward;
    be->add = scf_cpu_add;
    be->mul = scf_cpu_mul;
    be->mul_backward = scf_cpu_mul_backward;
    be->scale = scf_cpu_scale;
    be->axpy = scf_cpu_axpy;
    be->fill = scf_cpu_fill;
    be->add_channel_forward = scf_cpu_add_channel_forward;
    be->add_channel_backward = scf_cpu_add_channel_backward;
    be->sum_squares = scf_cpu_sum_squares;
    be->timestep_embedding = scf_cpu_timestep_embedding;
    be->embedding_forward = scf_cpu_embedding_forward;
    be->embedding_backward = scf_cpu_embedding_backward;
    be->mse_forward = scf_cpu_mse_forward;
    be->mse_backward = scf_cpu_mse_backward;
    be->pseudo_huber_forward = scf_cpu_pseudo_huber_forward;
    be->pseudo_huber_backward = scf_cpu_pseudo_huber_backward;
    be->softplus_forward = scf_cpu_softplus_forward;
    be->softplus_backward = scf_cpu_softplus_backward;
    be->gan_logistic_forward = scf_cpu_gan_logistic_forward;
    be->gan_logistic_backward = scf_cpu_gan_logistic_backward;
    be->adamw_update = scf_cpu_adamw_update;
    be->ema_update = scf_cpu_ema_update;
    be->rng_normal = scf_cpu_rng_normal;
    be->rng_uniform = scf_cpu_rng_uniform;
    be->batch_scale_forward = scf_cpu_batch_scale_forward;
    be->batch_scale_backward = scf_cpu_batch_scale_backward;
    be->transpose = scf_cpu_transpose;
    return be;
}

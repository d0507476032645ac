/* Sinusoidal timestep embedding and table lookup on the GPU;
 * core/cpu/embedding.c is the reference. Token ids are device int32. */
#include "cuda_kernels.h"
#include <math.h>

/* diffusers' get_timestep_embedding, formed step by step in fp32 as on the
 * CPU (see there why the angle must round as PyTorch's does). The frequency
 * is exp in double rounded once to float: the correctly rounded expf that
 * glibc's gives, where CUDA's expf may be 2 ulp off, which at t ~ 1000
 * would move the angle by ~1e-4. sin/cos run in double and round once. */
static __global__ void timestep_embedding_kernel(float *out, const float *t, int dim, int half,
                                                 int flip_sin_to_cos, float neg_log_period,
                                                 float denom, size_t n)
{
    SCF_CUDA_FOR(o, n) {
        const size_t bi = o / dim;
        const int j = (int)(o % dim);
        if (j == 2 * half) { /* the zero pad of an odd dim */
            out[o] = 0.0f;
            continue;
        }
        /* [sin | cos], or [cos | sin] when flipped */
        const int i = j < half ? j : j - half;
        const int is_cos = (j < half) == (flip_sin_to_cos != 0);
        const float exponent = neg_log_period * (float)i / denom;
        const double angle = (double)(t[bi] * (float)exp((double)exponent));
        out[o] = (float)(is_cos ? cos(angle) : sin(angle));
    }
}

void scf_cuda_timestep_embedding(scf_backend *be, float *out, const float *t, int B, int dim,
                                 int flip_sin_to_cos, float freq_shift)
{
    const int half = dim / 2;
    /* the same float constants as the CPU kernel */
    const float neg_log_period = (float)-log(10000.0);
    const float denom = (float)half - freq_shift;
    const size_t n = (size_t)B * dim;
    timestep_embedding_kernel<<<SCF_CUDA_GRID(be, n)>>>(
        out, t, dim, half, flip_sin_to_cos, neg_log_period, denom, n);
    SCF_CUDA_CHECK_LAUNCH();
}

static __global__ void embedding_forward_kernel(float *out, const int32_t *ids,
                                                const float *table, int D, size_t n)
{
    SCF_CUDA_FOR(o, n)
        out[o] = table[(size_t)ids[o / D] * D + o % D];
}

void scf_cuda_embedding_forward(scf_backend *be, float *out, const int32_t *ids,
                                const float *table, int N, int D)
{
    const size_t n = (size_t)N * D;
    embedding_forward_kernel<<<SCF_CUDA_GRID(be, n)>>>(out, ids, table, D, n);
    SCF_CUDA_CHECK_LAUNCH();
}

/* Repeated ids add into one row: atomics there. The sum order over repeats is
 * then not fixed, so dtable can differ from run to run in the last bits (the
 * CPU's column split, which avoids that, would leave a GPU idle). */
static __global__ void embedding_backward_kernel(float *dtable, const float *dout,
                                                 const int32_t *ids, int D, size_t n)
{
    SCF_CUDA_FOR(o, n)
        atomicAdd(&dtable[(size_t)ids[o / D] * D + o % D], dout[o]);
}

void scf_cuda_embedding_backward(scf_backend *be, float *dtable, const float *dout,
                                 const int32_t *ids, int N, int D)
{
    if (!dtable)
        return;
    const size_t n = (size_t)N * D;
    embedding_backward_kernel<<<SCF_CUDA_GRID(be, n)>>>(dtable, dout, ids, D, n);
    SCF_CUDA_CHECK_LAUNCH();
}

/* Scalar losses, softplus and sum_squares on the GPU, matching core/cpu/loss.c
 * and scf_cpu_sum_squares: the sums run in double, as there.
 *
 * A sum is two launches: REDUCE_BLOCKS (or fewer) blocks each add a fixed
 * grid-stride share of the terms and reduce it in a fixed order to one
 * partial, then one block adds the partials the same way. No float atomics,
 * and the grid depends only on n, so a sum repeats bit for bit. The result
 * is copied to the host, which waits for the backend's stream: these are the
 * kernels that must never run inside a graph capture. */
#include "cuda_kernels.h"
#include "cuda_reduce.cuh"

#define REDUCE_BLOCKS 1024

template <class F>
__global__ static void partial_sums_kernel(double *partial, size_t n, F term)
{
    const size_t stride = (size_t)gridDim.x * blockDim.x;
    double sum = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
        sum += term(i);
    sum = scf_cuda_block_sum(sum);
    if (threadIdx.x == 0)
        partial[blockIdx.x] = sum;
}

__global__ static void final_sum_kernel(double *total, const double *partial, unsigned parts)
{
    double sum = 0.0;
    for (unsigned i = threadIdx.x; i < parts; i += blockDim.x)
        sum += partial[i];
    sum = scf_cuda_block_sum(sum);
    if (threadIdx.x == 0)
        *total = sum;
}

/* sum of term(i) over i < n; NaN (after a critical message) on failure */
template <class F>
static double reduce_sum(scf_backend *be, size_t n, F term, const char *kernel)
{
    if (n == 0)
        return 0.0;
    const unsigned blocks = MIN(scf_cuda_blocks(n, SCF_CUDA_BLOCK), REDUCE_BLOCKS);
    double *ws = scf_cuda_workspace<double>(be, blocks + 1, kernel);
    if (!ws)
        return NAN;
    cudaStream_t stream = scf_cuda_stream(be);
    partial_sums_kernel<<<blocks, SCF_CUDA_BLOCK, 0, stream>>>(ws + 1, n, term);
    final_sum_kernel<<<1, SCF_CUDA_BLOCK, 0, stream>>>(ws, ws + 1, blocks);
    double total = NAN;
    if (!SCF_CUDA_CHECK_LAUNCH() ||
        !SCF_CUDA_CHECK(cudaMemcpyAsync(&total, ws, sizeof total, cudaMemcpyDeviceToHost,
                                        stream)) ||
        !SCF_CUDA_CHECK(cudaStreamSynchronize(stream)))
        return NAN;
    return total;
}

/* log(1 + e^x) without overflow for large x or loss of e^x for very negative x */
__device__ static inline float softplus(float x)
{
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

__device__ static inline float sigmoid(float x)
{
    /* exp of a non-positive argument only, so nothing overflows */
    const float e = expf(-fabsf(x));
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* ---- the summed terms ---- */

struct square_term {
    const float *x;
    __device__ double operator()(size_t i) const { return (double)x[i] * (double)x[i]; }
};

struct mse_term {
    const float *a, *b;
    __device__ double operator()(size_t i) const
    {
        const double d = (double)a[i] - (double)b[i];
        return d * d;
    }
};

/* sqrt(d^2 + c^2) - c as d^2 / (sqrt(d^2 + c^2) + c): no cancellation when |d| << c */
struct pseudo_huber_term {
    const float *a, *b;
    double c, c2;
    __device__ double operator()(size_t i) const
    {
        const double d = (double)a[i] - (double)b[i];
        const double d2 = d * d;
        return d2 / (sqrt(d2 + c2) + c);
    }
};

struct gan_term {
    const float *x;
    float sign;
    __device__ double operator()(size_t i) const { return softplus(sign * x[i]); }
};

/* ---- the elementwise passes ---- */

struct mse_grad {
    float *da;
    const float *a, *b;
    float k;
    __device__ void operator()(size_t i) const { da[i] += k * (a[i] - b[i]); }
};

struct pseudo_huber_grad {
    float *da;
    const float *a, *b;
    float k, c2;
    __device__ void operator()(size_t i) const
    {
        const float d = a[i] - b[i];
        da[i] += k * d / sqrtf(d * d + c2);
    }
};

struct softplus_map {
    float *out;
    const float *x;
    __device__ void operator()(size_t i) const { out[i] = softplus(x[i]); }
};

struct softplus_grad {
    float *dx;
    const float *dout, *x;
    __device__ void operator()(size_t i) const { dx[i] += dout[i] * sigmoid(x[i]); }
};

struct gan_grad {
    float *dx;
    const float *x;
    float sign, k;
    __device__ void operator()(size_t i) const { dx[i] += k * sigmoid(sign * x[i]); }
};

double scf_cuda_sum_squares(scf_backend *be, const float *x, size_t n)
{
    return reduce_sum(be, n, square_term{x}, "sum_squares");
}

float scf_cuda_mse_forward(scf_backend *be, const float *a, const float *b, size_t n)
{
    return (float)(reduce_sum(be, n, mse_term{a, b}, "mse_forward") / (double)n);
}

void scf_cuda_mse_backward(scf_backend *be, float *da, const float *a, const float *b,
                           size_t n, float dloss)
{
    if (!da)
        return;
    const float k = (float)(2.0 * dloss / (double)n);
    scf_cuda_foreach(be, n, mse_grad{da, a, b, k});
}

float scf_cuda_pseudo_huber_forward(scf_backend *be, const float *a, const float *b,
                                    size_t n, float c)
{
    const pseudo_huber_term term = {a, b, (double)c, (double)c * c};
    return (float)(reduce_sum(be, n, term, "pseudo_huber_forward") / (double)n);
}

void scf_cuda_pseudo_huber_backward(scf_backend *be, float *da, const float *a,
                                    const float *b, size_t n, float c, float dloss)
{
    if (!da)
        return;
    const float k = (float)(dloss / (double)n);
    scf_cuda_foreach(be, n, pseudo_huber_grad{da, a, b, k, c * c});
}

void scf_cuda_softplus_forward(scf_backend *be, float *out, const float *x, size_t n)
{
    scf_cuda_foreach(be, n, softplus_map{out, x});
}

void scf_cuda_softplus_backward(scf_backend *be, float *dx, const float *dout,
                                const float *x, size_t n)
{
    if (!dx)
        return;
    scf_cuda_foreach(be, n, softplus_grad{dx, dout, x});
}

float scf_cuda_gan_logistic_forward(scf_backend *be, const float *x, size_t n, float sign)
{
    return (float)(reduce_sum(be, n, gan_term{x, sign}, "gan_logistic_forward") / (double)n);
}

void scf_cuda_gan_logistic_backward(scf_backend *be, float *dx, const float *x, size_t n,
                                    float sign, float dloss)
{
    if (!dx)
        return;
    const float k = (float)(dloss * sign / (double)n);
    scf_cuda_foreach(be, n, gan_grad{dx, x, sign, k});
}

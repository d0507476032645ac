/* AdamW and EMA on the GPU as single fused passes (each buffer read and
 * written once: both are memory-bound over every parameter), matching
 * core/cpu/optim.c including where it rounds: the step-dependent scalars are
 * formed in double on the host, the update per element in fp32. */
#include "cuda_kernels.h"
#include <math.h>

struct adamw_step {
    float *param, *m, *v;
    const float *grad;
    float decay, b1, one_minus_b1, b2, one_minus_b2, step_size, bc2_sqrt, eps;
    __device__ void operator()(size_t i) const
    {
        const float g = grad[i];
        const float mi = b1 * m[i] + one_minus_b1 * g;
        const float vi = b2 * v[i] + one_minus_b2 * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] * decay - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
};

/* ema - (1 - decay) * (ema - param), as diffusers' EMAModel: an ema equal to
 * param stays exactly equal */
struct ema_step {
    float *ema;
    const float *param;
    float k;
    __device__ void operator()(size_t i) const { ema[i] -= k * (ema[i] - param[i]); }
};

void scf_cuda_adamw_update(scf_backend *be, float *param, const float *grad, float *m,
                           float *v, size_t n, float lr, float beta1, float beta2,
                           float eps, float weight_decay, int64_t t)
{
    adamw_step step;
    step.param = param;
    step.m = m;
    step.v = v;
    step.grad = grad;
    step.decay = (float)(1.0 - (double)lr * weight_decay);
    step.b1 = beta1;
    step.one_minus_b1 = (float)(1.0 - beta1);
    step.b2 = beta2;
    step.one_minus_b2 = (float)(1.0 - beta2);
    step.step_size = (float)(lr / (1.0 - pow(beta1, (double)t)));
    step.bc2_sqrt = (float)sqrt(1.0 - pow(beta2, (double)t));
    step.eps = eps;
    scf_cuda_foreach(be, n, step);
}

void scf_cuda_ema_update(scf_backend *be, float *ema, const float *param, size_t n, float decay)
{
    scf_cuda_foreach(be, n, ema_step{ema, param, (float)(1.0 - decay)});
}

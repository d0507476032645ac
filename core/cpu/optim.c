/* AdamW and EMA as single fused passes: each reads and writes its buffers
 * once, which matters because both are memory-bound over every parameter. */
#include "cpu_kernels.h"
#include <math.h>

#define OPTIM_PARALLEL_MIN 16384

/* torch.optim.AdamW (single-tensor path), including where it rounds: the
 * step-dependent scalars are formed in double, the update per element in
 * fp32 as param - step_size * m / (sqrt(v) / sqrt(bc2) + eps). */
void scf_cpu_adamw_update(scf_backend *be, float *param, const float *grad, float *m,
                          float *v, size_t n, float lr, float beta1, float beta2,
                          float eps, float weight_decay, int64_t t)
{
    float decay = (float)(1.0 - (double)lr * weight_decay);
    float b1 = beta1, one_minus_b1 = (float)(1.0 - beta1);
    float b2 = beta2, one_minus_b2 = (float)(1.0 - beta2);
    float step_size = (float)(lr / (1.0 - pow(beta1, (double)t)));
    float bc2_sqrt = (float)sqrt(1.0 - pow(beta2, (double)t));
    #pragma omp parallel for schedule(static) if (n >= OPTIM_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = grad[i];
        float mi = b1 * m[i] + one_minus_b1 * g;
        float vi = b2 * v[i] + one_minus_b2 * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] * decay - step_size * (mi / (sqrtf(vi) / bc2_sqrt + eps));
    }
}

/* Written as ema - (1 - decay) * (ema - param), as diffusers' EMAModel does:
 * equal to decay * ema + (1 - decay) * param, but an ema that already equals
 * param stays exactly equal instead of drifting by rounding. */
void scf_cpu_ema_update(scf_backend *be, float *ema, const float *param, size_t n, float decay)
{
    float k = (float)(1.0 - decay);
    #pragma omp parallel for schedule(static) if (n >= OPTIM_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        ema[i] -= k * (ema[i] - param[i]);
}

#include "optim.h"
#include <math.h>

double scf_clip_grad_norm(scf_backend *be, float *grad, size_t n, double max_norm)
{
    double norm = sqrt(be->sum_squares(be, grad, n));
    if (max_norm > 0 && norm > max_norm)
        be->scale(be, grad, grad, (float)(max_norm / (norm + 1e-6)), n);
    return norm;
}

double scf_lr_schedule(double lr, int64_t step, int64_t steps, int64_t warmup, int64_t cooldown)
{
    double f = 1.0;
    if (warmup > 0 && step < warmup)
        f = (double)(step + 1) / (double)warmup;
    if (cooldown > 0 && step >= steps - cooldown)
        f = fmin(f, (double)(steps - step) / (double)(cooldown + 1));
    return lr * fmax(f, 0.0);
}

#include "optim.h"
#include <math.h>

double scf_clip_grad_norm(scf_backend *be, float *grad, size_t n, double max_norm)
{
    double norm = sqrt(be->sum_squares(be, grad, n));
    if (max_norm > 0 && norm > max_norm)
        be->scale(be, grad, grad, (float)(max_norm / (norm + 1e-6)), n);
    return norm;
}

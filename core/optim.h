/* Optimiser helpers built on the backend's fused kernels. */
#pragma once
#include <glib.h>
#include "backend.h"

G_BEGIN_DECLS

typedef struct {
    float lr;
    float beta1;          /* 0.9 */
    float beta2;          /* 0.999 */
    float eps;            /* 1e-8 */
    float weight_decay;   /* decoupled, applied as param -= lr * wd * param */
} scf_adamw_config;

/* Global L2 norm of a gradient buffer (all parameters' gradients live in one
 * buffer); when max_norm > 0 and the norm exceeds it, scales the gradients
 * by max_norm / (norm + 1e-6) as torch.nn.utils.clip_grad_norm_ does.
 * Returns the norm before clipping. */
double scf_clip_grad_norm(scf_backend *be, float *grad, size_t n, double max_norm);

/* Learning rate of optimiser step `step` (0-based) of a run of `steps`: linear
 * warm-up over the first `warmup` steps, constant, then a linear cool-down to
 * zero over the last `cooldown` steps. A constant rate lets a run stop whenever
 * its goal holds; the cool-down, set when that point is known (it is a pure
 * function of the step, so resume stays exact), anneals the weights there. */
double scf_lr_schedule(double lr, int64_t step, int64_t steps, int64_t warmup, int64_t cooldown);

G_END_DECLS

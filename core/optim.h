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

G_END_DECLS

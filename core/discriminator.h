/* SCFlow's discriminators (SCFLOW.md §3.8), one interface for the two kinds:
 *
 * - encoder (the text-to-image one, the default): the teacher UNet's encoder
 *   half (conv_in, down blocks, mid block; copied from the teacher and
 *   trained), conditioned on the text and a time, fed noised images, with a
 *   small head conv 3x3 -> GroupNorm -> SiLU -> linear giving one raw logit
 *   per image. (The reference code put a sigmoid before softplus; a raw
 *   logit is what the logistic loss expects.)
 * - resnet (the unconditional variant): a StyleGAN2-style residual network
 *   trained from scratch, blind to text and time; see discriminator_resnet.c.
 *
 * Either can be regularised with R1 (scf_discriminator_r1). */
#pragma once
#include <glib.h>
#include "model.h"

G_BEGIN_DECLS

typedef enum {
    SCF_DISCRIMINATOR_ENCODER,
    SCF_DISCRIMINATOR_RESNET,
} scf_discriminator_kind;

/* "encoder" / "resnet"; FALSE for another name. */
gboolean scf_discriminator_kind_parse(const char *name, scf_discriminator_kind *kind);
const char *scf_discriminator_kind_name(scf_discriminator_kind kind);

typedef struct scf_discriminator scf_discriminator;

/* A discriminator for the teacher's images. Encoder: parameters
 * "encoder.*" (the teacher's names, copied from its UNet) and "head.*"
 * (initialised from seed). ResNet: width channels at full resolution,
 * doubling at each halving (see discriminator_resnet.c), all initialised
 * from seed. With gradient memory: the discriminator is trained. */
scf_discriminator *scf_discriminator_new(const scf_model *teacher, scf_discriminator_kind kind,
                                         int width, scf_backend *be, uint64_t seed,
                                         GError **error);
void scf_discriminator_free(scf_discriminator *d);
scf_params *scf_discriminator_params(scf_discriminator *d);

/* x[B,C,H,W] (already noised), tau[B] in the engine's time (converted with
 * the teacher's time scale), context[B,T,D] -> logits[B,1]. The ResNet
 * reads x alone. */
scf_var *scf_discriminator_forward(scf_discriminator *d, scf_graph *g, scf_var *x, scf_var *tau,
                                   scf_var *context);

/* R1 at the images x[B,C,H,W] (device memory outside g's: the real batch):
 * *r1 = 1/2 mean_b |grad_x D(x)_b|^2, and weight times its gradient is
 * added to the parameters' gradients. tau and context as for forward, in
 * memory outside g's too. g is reset for each of its passes.
 *
 * The gradient of a gradient norm needs a double backward, which the
 * engine's tape does not record. It is taken instead as the derivative of
 * D along v = grad_x D (held fixed): with g(theta) = grad_x D,
 *   d/dtheta 1/2 |g|^2 = (dg/dtheta)^T v = d/dtheta [grad_x D . v]
 * and grad_x D . v is D's directional derivative, a central difference
 *   (D(x + e v) - D(x - e v)) / 2e  + O(e^2),
 * so three passes (one for v, two for the difference) give the exact
 * gradient up to the O(e^2) of the difference and the float rounding it
 * amplifies; e is set so that e v moves the input by 1e-3 in root mean
 * square, where the two balance: against PyTorch's double backward the
 * discriminator's gradients agree to 1e-5 of their scale
 * (tests/test-distill-twin.c, the figures in discriminator_r1.c). */
gboolean scf_discriminator_r1(scf_discriminator *d, scf_graph *g, const float *x, int B,
                              scf_tensor tau, scf_tensor context, float weight, double *r1,
                              GError **error);

G_END_DECLS

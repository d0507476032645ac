/* SCFlow's text-to-image discriminator (SCFLOW.md §3.8): the teacher UNet's
 * encoder half (conv_in, down blocks, mid block; copied from the teacher and
 * trained), conditioned on the text and a time, fed noised images, with a
 * small head conv 3x3 -> GroupNorm -> SiLU -> linear giving one raw logit
 * per image. (The reference code put a sigmoid before softplus; a raw logit
 * is what the logistic loss expects.) */
#pragma once
#include <glib.h>
#include "model.h"

G_BEGIN_DECLS

typedef struct scf_discriminator scf_discriminator;

/* Parameters "encoder.*" (the teacher's names) and "head.*", initialised
 * from the teacher's UNet (encoder) and from seed (head). With gradient
 * memory: the discriminator is trained. */
scf_discriminator *scf_discriminator_new(const scf_model *teacher, scf_backend *be, uint64_t seed,
                                         GError **error);
void scf_discriminator_free(scf_discriminator *d);
scf_params *scf_discriminator_params(scf_discriminator *d);

/* x[B,C,H,W] (already noised), tau[B] in the engine's time (converted with
 * the teacher's time scale), context[B,T,D] -> logits[B,1]. */
scf_var *scf_discriminator_forward(scf_discriminator *d, scf_graph *g, scf_var *x, scf_var *tau,
                                   scf_var *context);

G_END_DECLS

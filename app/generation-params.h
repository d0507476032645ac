/* The settings stored with a generated image, shared by `scflow` and the
 * studio so that both write the same PNG metadata. */
#pragma once
#include "scflow.h"

G_BEGIN_DECLS

/* Initialises p with the settings of image b of request r made by m on be
 * (image b uses seed r->seed + b). */
void scf_generation_fill_params(scf_gen_params *p, const scf_model *m, const scf_backend *be,
                                const scf_sample_request *r, int b);

G_END_DECLS

/* A model's parameters: named tensors laid out in one contiguous buffer, with
 * an optional gradient buffer of the same layout, so optimisers, EMA updates,
 * gradient clipping and checkpoints each work on the whole model at once.
 *
 * Use: register every tensor by name and shape (scf_params_add), allocate,
 * then load from safetensors by name or initialise; modules keep the indexes
 * and ask for the scf_var of each. Names follow the Python originals
 * (diffusers / transformers), so their checkpoints load as they are. */
#pragma once
#include <glib.h>
#include "backend.h"
#include "graph.h"
#include "safetensors.h"
#include "tensor.h"

G_BEGIN_DECLS

typedef struct {
    char *name;
    int ndim;
    int64_t shape[SCF_MAX_DIMS];
    size_t offset;   /* in floats, 16-float aligned */
    size_t numel;
} scf_param_entry;

typedef struct {
    scf_backend *be;
    GArray *entries;        /* scf_param_entry */
    GHashTable *by_name;    /* name -> index + 1 */
    size_t total;           /* floats, including alignment gaps */
    float *data;            /* device memory */
    float *grad;            /* device memory or NULL */
    scf_var *vars;          /* one per entry after allocation */
    gboolean trainable;
    char *prefix;           /* prepended to names while registering */
} scf_params;

scf_params *scf_params_new(scf_backend *be);
void scf_params_free(scf_params *p);

/* Prepends prefix ("unet.") to the names registered from now on; NULL for none. */
void scf_params_set_prefix(scf_params *p, const char *prefix);
/* Registers a tensor; returns its index. Names must be unique (a duplicate is
 * a programming error and returns -1). Only before allocation. */
int scf_params_add(scf_params *p, const char *name, int ndim, const int64_t *shape);
int scf_params_count(const scf_params *p);
const scf_param_entry *scf_params_entry(const scf_params *p, int index);
int scf_params_find(const scf_params *p, const char *name); /* -1 when absent */
/* Number of parameters (elements), without alignment gaps. */
size_t scf_params_numel(const scf_params *p);

/* Allocates the buffer (zeroed) and, when with_grad, the gradient buffer. */
gboolean scf_params_allocate(scf_params *p, gboolean with_grad, GError **error);
scf_var *scf_params_var(scf_params *p, int index);
/* Marks every parameter trainable (gradients flow into p->grad) or frozen. */
void scf_params_set_trainable(scf_params *p, gboolean trainable);
void scf_params_zero_grad(scf_params *p);
/* Exchanges the parameter buffer with another of the same layout (EMA
 * weights for sampling during training) and rebinds the variables. */
void scf_params_swap_data(scf_params *p, float **other);

/* Loads every registered tensor from st by name (prefix prepended, e.g.
 * "text_model."); a missing tensor or a shape mismatch is an error naming the
 * file, the tensor, expected and found shapes. Tensors in the file that the
 * model does not use are ignored when allow_unused, else an error. */
gboolean scf_params_load(scf_params *p, const scf_safetensors *st, const char *prefix,
                         gboolean allow_unused, GError **error);
/* Loads the parameters whose names start with model_prefix from tensors
 * named file_prefix + the rest of the name: a diffusers unet file into the
 * "unet." part of a model, transformers' "text_model." names into its
 * "text_encoder." part. Unused tensors of the file that start with
 * file_prefix are checked as scf_params_load does. */
gboolean scf_params_load_part(scf_params *p, const scf_safetensors *st, const char *model_prefix,
                              const char *file_prefix, gboolean allow_unused, GError **error);
/* Adds every tensor to a writer as dtype (prefix prepended). */
gboolean scf_params_write(const scf_params *p, scf_safetensors_writer *w, const char *prefix,
                          scf_dtype dtype, GError **error);
/* The same for another buffer of this layout (EMA weights, optimiser moments). */
gboolean scf_params_write_buffer(const scf_params *p, const float *buffer,
                                 scf_safetensors_writer *w, const char *prefix, scf_dtype dtype,
                                 GError **error);

/* PyTorch-style initialisation for training from scratch, by name and
 * shape: weights of linear and conv layers U(-1/sqrt(fan_in), +1/sqrt(fan_in))
 * (kaiming_uniform with a = sqrt(5), PyTorch's default), embedding tables
 * N(0, 0.02), norm weights 1, biases 0. Deterministic in seed. */
void scf_params_init(scf_params *p, uint64_t seed);

/* dst = src for two parameter sets of the same layout (EMA initialisation). */
void scf_params_copy(scf_params *dst, const scf_params *src);

G_END_DECLS

/* A recording tape over the backend's kernels: models are written once as a
 * sequence of ops on variables, and scf_graph_backward replays the tape in
 * reverse through the hand-written backward kernels. Nothing is recorded for
 * ops whose inputs need no gradient, so a frozen teacher, a target EMA or an
 * inference pass costs forward kernels only.
 *
 * Memory: activations and their gradients come from chunked arenas owned by
 * the graph; scf_graph_reset rewinds them, and after the first pass has sized
 * them (chunks are merged into one) no further allocation happens.
 *
 * Errors (a shape mismatch, running out of memory) are sticky: the failing
 * op returns NULL, every op given a NULL input returns NULL, and
 * scf_graph_check reports the first error. */
#pragma once
#include <glib.h>
#include "backend.h"
#include "tensor.h"

G_BEGIN_DECLS

typedef struct scf_var scf_var;

struct scf_var {
    scf_tensor value;
    float *grad;            /* NULL until a gradient reaches it; params: their slot */
    gboolean requires_grad; /* params being trained, and everything computed from them */
    scf_var *view_of;       /* reshaped views share value and gradient with their base */
};

typedef struct scf_graph scf_graph;

scf_graph *scf_graph_new(scf_backend *be);
void scf_graph_free(scf_graph *g);
scf_backend *scf_graph_backend(scf_graph *g);

/* Forgets the recorded ops and rewinds activation and gradient memory. */
void scf_graph_reset(scf_graph *g);
/* FALSE with the first error of this pass. */
gboolean scf_graph_check(scf_graph *g, GError **error);
/* Records an error of this pass (the first one sticks), for modules that
 * check their own inputs: the op that noticed returns NULL. */
void scf_graph_fail(scf_graph *g, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Bytes of activation and gradient memory the graph holds. */
size_t scf_graph_memory(const scf_graph *g);
/* Changes whenever that memory is allocated or released (not when it is
 * rewound), so that a recording of device work holding addresses in it (a
 * backend graph) can tell when they went stale. */
guint64 scf_graph_memory_epoch(const scf_graph *g);

/* A parameter: value and gradient memory owned by the model. */
scf_var scf_param(scf_tensor value, float *grad, gboolean trainable);

/* A fresh variable (no gradient) of the given shape in activation memory. */
scf_var *scf_graph_new_var(scf_graph *g, int ndim, const int64_t *shape);
/* Wraps memory the caller owns (inputs, noise); no gradient. */
scf_var *scf_graph_wrap(scf_graph *g, scf_tensor value);
/* Raw activation memory (token ids, masks) valid until the next reset. */
void *scf_graph_scratch(scf_graph *g, size_t bytes);
/* The same values, cut off from the tape (stop-gradient). */
scf_var *scf_graph_detach(scf_graph *g, scf_var *x);
/* The same memory with another shape of equal element count. */
scf_var *scf_graph_reshape(scf_graph *g, scf_var *x, int ndim, const int64_t *shape);

/* Seeds d(loss)/d(loss) = 1 for a one-element variable and runs the tape
 * backward, accumulating into every parameter gradient. May be called for
 * several losses of one pass only if each was built separately; usually sum
 * the losses first with scf_add / scf_scale. */
void scf_graph_backward(scf_graph *g, scf_var *loss);

/* ---- ops; shapes follow backend.h ---- */
/* x[..., K] -> [..., N] with w[N,K], b[N] or NULL */
scf_var *scf_linear(scf_graph *g, scf_var *x, scf_var *w, scf_var *b);
/* x[B,C,H,W], w[Cout,C,k,k] */
scf_var *scf_conv2d(scf_graph *g, scf_var *x, scf_var *w, scf_var *b, int stride, int pad);
/* x[B,C,...] */
scf_var *scf_group_norm(scf_graph *g, scf_var *x, scf_var *gamma, scf_var *beta, int groups,
                        float eps, gboolean silu);
/* over the last dim */
scf_var *scf_layer_norm(scf_graph *g, scf_var *x, scf_var *gamma, scf_var *beta, float eps);
scf_var *scf_act(scf_graph *g, scf_var *x, scf_activation act);
/* x[..., 2N] -> [..., N] */
scf_var *scf_geglu(scf_graph *g, scf_var *x);
/* q[B,Tq,H*D], k,v[B,Tk,H*D] */
scf_var *scf_attention(scf_graph *g, scf_var *q, scf_var *k, scf_var *v, int heads,
                       gboolean causal);
/* x[B,C,H,W] -> [B,C,2H,2W] */
scf_var *scf_upsample2x(scf_graph *g, scf_var *x);
/* a[B,Ca,...], b[B,Cb,...] -> [B,Ca+Cb,...] */
scf_var *scf_concat(scf_graph *g, scf_var *a, scf_var *b);
/* x[B,R,C] -> [B,C,R]; 4-D x[B,C,H,W] -> [B,H*W,C] and back via reshape */
scf_var *scf_transpose(scf_graph *g, scf_var *x);
scf_var *scf_add(scf_graph *g, scf_var *a, scf_var *b);
scf_var *scf_mul(scf_graph *g, scf_var *a, scf_var *b);
scf_var *scf_scale(scf_graph *g, scf_var *x, float s);
/* x[B,C,...] + v[B,C] broadcast over the rest */
scf_var *scf_add_channel(scf_graph *g, scf_var *x, scf_var *v);
/* x[B,...] * s[B] per sample */
scf_var *scf_batch_scale(scf_graph *g, scf_var *x, scf_var *s);
/* ids: backend int32 memory of n ids; table[V,D] -> [n,D] */
scf_var *scf_embedding(scf_graph *g, const int32_t *ids, int n, scf_var *table);
/* t[B] -> [B,dim]; no gradient */
scf_var *scf_timestep_embedding(scf_graph *g, scf_var *t, int dim, gboolean flip_sin_to_cos,
                                float freq_shift);

/* ---- losses: one-element results ---- */
scf_var *scf_mse(scf_graph *g, scf_var *a, scf_var *b);
scf_var *scf_pseudo_huber(scf_graph *g, scf_var *a, scf_var *b, float c);
/* mean softplus(sign * x) */
scf_var *scf_gan_logistic(scf_graph *g, scf_var *x, float sign);

/* Reads a one-element variable (synchronises the device). */
float scf_graph_scalar(scf_graph *g, scf_var *x);

G_END_DECLS

#include "graph.h"
#include "error.h"
#include <string.h>

typedef enum {
    OP_LINEAR, OP_CONV2D, OP_GROUP_NORM, OP_LAYER_NORM, OP_ACTIVATION, OP_GEGLU,
    OP_ATTENTION, OP_UPSAMPLE, OP_CONCAT, OP_TRANSPOSE, OP_ADD, OP_MUL, OP_SCALE,
    OP_ADD_CHANNEL, OP_BATCH_SCALE, OP_EMBEDDING, OP_MSE, OP_PSEUDO_HUBER, OP_GAN,
} op_kind;

typedef struct {
    op_kind op;
    scf_var *in[3];
    scf_var *out;
    float *saved[2];     /* statistics or attention probabilities */
    const int32_t *ids;
    int i[6];            /* op dimensions */
    float f;             /* op constant */
} node;

/* A chain of arenas that grows while a pass runs and is merged into one
 * arena of the peak size at the next reset, so steady state never allocates. */
typedef struct {
    GPtrArray *chunks;   /* scf_arena* */
    guint current;
    const char *label;
} chain;

#define VARS_PER_BLOCK 256

struct scf_graph {
    scf_backend *be;
    chain values, grads;
    GArray *nodes;       /* node */
    GPtrArray *var_blocks;
    size_t var_count;
    guint64 memory_epoch;   /* scf_graph_memory_epoch */
    GError *error;
};

static size_t align_up(size_t n)
{
    return (n + SCF_ARENA_ALIGN - 1) & ~(size_t)(SCF_ARENA_ALIGN - 1);
}

static void chain_init(chain *c, const char *label)
{
    c->chunks = g_ptr_array_new();
    c->current = 0;
    c->label = label;
}

static void chain_release(scf_graph *g, chain *c)
{
    if (c->chunks->len)
        g->memory_epoch++;
    for (guint i = 0; i < c->chunks->len; i++) {
        scf_arena *a = g_ptr_array_index(c->chunks, i);
        scf_arena_release(a);
        g_free(a);
    }
    g_ptr_array_set_size(c->chunks, 0);
    c->current = 0;
}

static size_t chain_used(const chain *c)
{
    size_t used = 0;
    for (guint i = 0; i < c->chunks->len; i++)
        used += align_up(((scf_arena *)g_ptr_array_index(c->chunks, i))->used);
    return used;
}

static size_t chain_capacity(const chain *c)
{
    size_t cap = 0;
    for (guint i = 0; i < c->chunks->len; i++)
        cap += ((scf_arena *)g_ptr_array_index(c->chunks, i))->capacity;
    return cap;
}

static gboolean chain_add_chunk(scf_graph *g, chain *c, size_t capacity)
{
    scf_arena *a = g_new0(scf_arena, 1);
    if (!scf_arena_init(a, g->be, capacity, c->label, g->error ? NULL : &g->error)) {
        g_free(a);
        return FALSE;
    }
    g_ptr_array_add(c->chunks, a);
    g->memory_epoch++;
    return TRUE;
}

static void chain_reset(scf_graph *g, chain *c)
{
    if (c->chunks->len > 1) {
        size_t peak = chain_used(c);
        chain_release(g, c);
        chain_add_chunk(g, c, peak);
    }
    for (guint i = 0; i < c->chunks->len; i++)
        scf_arena_reset(g_ptr_array_index(c->chunks, i), 0);
    c->current = 0;
}

static void *chain_alloc(scf_graph *g, chain *c, size_t bytes)
{
    for (; c->current < c->chunks->len; c->current++) {
        scf_arena *a = g_ptr_array_index(c->chunks, c->current);
        if (align_up(a->used) + bytes <= a->capacity)
            return scf_arena_bytes(a, bytes);
    }
    size_t last = c->chunks->len ? ((scf_arena *)g_ptr_array_index(c->chunks, c->chunks->len - 1))->capacity : 0;
    size_t want = MAX(MAX(bytes, 2 * last), (size_t)1 << 22);
    if (!chain_add_chunk(g, c, want))
        return NULL;
    c->current = c->chunks->len - 1;
    return scf_arena_bytes(g_ptr_array_index(c->chunks, c->current), bytes);
}

scf_graph *scf_graph_new(scf_backend *be)
{
    scf_graph *g = g_new0(scf_graph, 1);
    g->be = be;
    chain_init(&g->values, "activations");
    chain_init(&g->grads, "activation gradients");
    g->nodes = g_array_new(FALSE, FALSE, sizeof(node));
    g->var_blocks = g_ptr_array_new_with_free_func(g_free);
    return g;
}

void scf_graph_free(scf_graph *g)
{
    if (!g)
        return;
    chain_release(g, &g->values);
    chain_release(g, &g->grads);
    g_ptr_array_free(g->values.chunks, TRUE);
    g_ptr_array_free(g->grads.chunks, TRUE);
    g_array_free(g->nodes, TRUE);
    g_ptr_array_free(g->var_blocks, TRUE);
    g_clear_error(&g->error);
    g_free(g);
}

scf_backend *scf_graph_backend(scf_graph *g)
{
    return g->be;
}

void scf_graph_reset(scf_graph *g)
{
    chain_reset(g, &g->values);
    chain_reset(g, &g->grads);
    g_array_set_size(g->nodes, 0);
    g->var_count = 0;
    g_clear_error(&g->error);
}

gboolean scf_graph_check(scf_graph *g, GError **error)
{
    if (!g->error)
        return TRUE;
    g_propagate_error(error, g_error_copy(g->error));
    return FALSE;
}

size_t scf_graph_memory(const scf_graph *g)
{
    return chain_capacity(&g->values) + chain_capacity(&g->grads);
}

guint64 scf_graph_memory_epoch(const scf_graph *g)
{
    return g->memory_epoch;
}

void scf_graph_fail(scf_graph *g, const char *fmt, ...)
{
    if (g->error)
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g->error = g_error_new_literal(SCF_ERROR, SCF_ERROR_INVALID, msg);
    g_free(msg);
}

scf_var scf_param(scf_tensor value, float *grad, gboolean trainable)
{
    scf_var v = { value, grad, trainable && grad != NULL, NULL };
    return v;
}

static scf_var *var_alloc(scf_graph *g)
{
    size_t block = g->var_count / VARS_PER_BLOCK, slot = g->var_count % VARS_PER_BLOCK;
    if (block == g->var_blocks->len)
        g_ptr_array_add(g->var_blocks, g_new(scf_var, VARS_PER_BLOCK));
    g->var_count++;
    scf_var *v = &((scf_var *)g_ptr_array_index(g->var_blocks, block))[slot];
    memset(v, 0, sizeof *v);
    return v;
}

scf_var *scf_graph_new_var(scf_graph *g, int ndim, const int64_t *shape)
{
    scf_var *v = var_alloc(g);
    v->value.ndim = ndim;
    memcpy(v->value.shape, shape, (size_t)ndim * sizeof *shape);
    v->value.data = chain_alloc(g, &g->values, scf_tensor_numel(&v->value) * sizeof(float));
    return v->value.data ? v : NULL;
}

void *scf_graph_scratch(scf_graph *g, size_t bytes)
{
    return g->error ? NULL : chain_alloc(g, &g->values, bytes);
}

scf_var *scf_graph_wrap(scf_graph *g, scf_tensor value)
{
    scf_var *v = var_alloc(g);
    v->value = value;
    return v;
}

scf_var *scf_graph_detach(scf_graph *g, scf_var *x)
{
    return x ? scf_graph_wrap(g, x->value) : NULL;
}

static size_t numel(const scf_var *v)
{
    return scf_tensor_numel(&v->value);
}

scf_var *scf_graph_reshape(scf_graph *g, scf_var *x, int ndim, const int64_t *shape)
{
    if (!x)
        return NULL;
    scf_tensor t = { x->value.data, ndim, { 0 } };
    memcpy(t.shape, shape, (size_t)ndim * sizeof *shape);
    if (scf_tensor_numel(&t) != numel(x)) {
        char a[64], b[64];
        scf_graph_fail(g, "reshape: %s has %zu elements, %s needs %zu",
                       scf_tensor_shape_str(&x->value, a, sizeof a), numel(x),
                       scf_tensor_shape_str(&t, b, sizeof b), scf_tensor_numel(&t));
        return NULL;
    }
    scf_var *v = scf_graph_wrap(g, t);
    v->requires_grad = x->requires_grad;
    v->view_of = x->view_of ? x->view_of : x;
    return v;
}

/* ---- recording ---- */

static gboolean needs_grad(scf_var *a, scf_var *b, scf_var *c)
{
    return (a && a->requires_grad) || (b && b->requires_grad) || (c && c->requires_grad);
}

static node *record(scf_graph *g, op_kind op, scf_var *out, scf_var *a, scf_var *b, scf_var *c)
{
    node n = { .op = op, .in = { a, b, c }, .out = out };
    out->requires_grad = TRUE;
    g_array_append_val(g->nodes, n);
    return &g_array_index(g->nodes, node, g->nodes->len - 1);
}

static float *saved_alloc(scf_graph *g, size_t n)
{
    return chain_alloc(g, &g->values, n * sizeof(float));
}

static scf_var *base_of(scf_var *v)
{
    return v->view_of ? v->view_of : v;
}

/* The gradient buffer of v (its base's, for views). *fresh tells whether it
 * was allocated just now: its contents are then undefined, and the caller
 * must store into it rather than accumulate. */
static float *grad_buffer(scf_graph *g, scf_var *v, gboolean *fresh)
{
    *fresh = FALSE;
    if (!v || !v->requires_grad)
        return NULL;
    scf_var *base = base_of(v);
    if (!base->grad) {
        base->grad = chain_alloc(g, &g->grads, numel(base) * sizeof(float));
        *fresh = base->grad != NULL;
    }
    return base->grad;
}

/* The gradient buffer of v, zeroed on first use: kernels accumulate. */
static float *grad_of(scf_graph *g, scf_var *v)
{
    gboolean fresh;
    float *grad = grad_buffer(g, v, &fresh);
    if (fresh)
        g->be->zero(g->be, grad, numel(base_of(v)) * sizeof(float));
    return grad;
}

/* Adds scale * dout, which has v's size, into v's gradient. Where that is
 * v's first gradient and take is set, v takes dout's buffer itself (scaled
 * in place) instead of a zeroed one: the tape runs backward, so the op that
 * produced dout is done with it, and only parameters, whose gradients live
 * elsewhere, and leaves are read after the pass. Residual connections then
 * cost no gradient memory traffic. */
static void grad_add(scf_graph *g, scf_var *v, float *dout, float scale, gboolean take)
{
    if (!v || !v->requires_grad)
        return;
    scf_var *base = base_of(v);
    if (!base->grad && take) {
        if (scale != 1.0f)
            g->be->scale(g->be, dout, dout, scale, numel(v));
        base->grad = dout;
        return;
    }
    gboolean fresh;
    float *grad = grad_buffer(g, v, &fresh);
    if (!grad)
        return;
    if (fresh && scale == 1.0f)
        g->be->copy(g->be, grad, dout, numel(v) * sizeof(float));
    else if (fresh)
        g->be->scale(g->be, grad, dout, scale, numel(v));
    else
        g->be->axpy(g->be, grad, dout, scale, numel(v));
}

static scf_var *out_like(scf_graph *g, int ndim, const int64_t *shape)
{
    return g->error ? NULL : scf_graph_new_var(g, ndim, shape);
}

static const char *shape_of(const scf_var *v, char *buf, size_t len)
{
    return scf_tensor_shape_str(&v->value, buf, len);
}

/* ---- ops ---- */

scf_var *scf_linear(scf_graph *g, scf_var *x, scf_var *w, scf_var *b)
{
    if (!x || !w)
        return NULL;
    int K = (int)w->value.shape[1], N = (int)w->value.shape[0];
    char s1[64], s2[64];
    if (w->value.ndim != 2 || x->value.shape[x->value.ndim - 1] != K ||
        (b && (int64_t)numel(b) != N)) {
        scf_graph_fail(g, "linear: input %s does not fit weight %s", shape_of(x, s1, sizeof s1),
                       shape_of(w, s2, sizeof s2));
        return NULL;
    }
    int64_t shape[SCF_MAX_DIMS];
    memcpy(shape, x->value.shape, sizeof shape);
    shape[x->value.ndim - 1] = N;
    scf_var *out = out_like(g, x->value.ndim, shape);
    if (!out)
        return NULL;
    int M = (int)(numel(x) / (size_t)K);
    g->be->linear_forward(g->be, out->value.data, x->value.data, w->value.data,
                          b ? b->value.data : NULL, M, K, N);
    if (needs_grad(x, w, b)) {
        node *n = record(g, OP_LINEAR, out, x, w, b);
        n->i[0] = M; n->i[1] = K; n->i[2] = N;
    }
    return out;
}

scf_var *scf_conv2d(scf_graph *g, scf_var *x, scf_var *w, scf_var *b, int stride, int pad)
{
    if (!x || !w)
        return NULL;
    const int64_t *xs = x->value.shape, *ws = w->value.shape;
    char s1[64], s2[64];
    if (x->value.ndim != 4 || w->value.ndim != 4 || ws[1] != xs[1] || ws[2] != ws[3] ||
        (b && (int64_t)numel(b) != ws[0])) {
        scf_graph_fail(g, "conv2d: input %s does not fit weight %s", shape_of(x, s1, sizeof s1),
                       shape_of(w, s2, sizeof s2));
        return NULL;
    }
    int B = (int)xs[0], C = (int)xs[1], H = (int)xs[2], W = (int)xs[3];
    int Cout = (int)ws[0], k = (int)ws[2];
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    scf_var *out = out_like(g, 4, (int64_t[]){ B, Cout, Ho, Wo });
    if (!out)
        return NULL;
    g->be->conv2d_forward(g->be, out->value.data, x->value.data, w->value.data,
                          b ? b->value.data : NULL, B, C, H, W, Cout, k, stride, pad);
    if (needs_grad(x, w, b)) {
        node *n = record(g, OP_CONV2D, out, x, w, b);
        int dims[6] = { B, C, H, W, k, stride };
        memcpy(n->i, dims, sizeof dims);
        n->f = (float)pad;
    }
    return out;
}

scf_var *scf_group_norm(scf_graph *g, scf_var *x, scf_var *gamma, scf_var *beta, int groups,
                        float eps, gboolean silu)
{
    if (!x || !gamma || !beta)
        return NULL;
    int B = (int)x->value.shape[0], C = (int)x->value.shape[1];
    char s1[64];
    if (x->value.ndim < 2 || groups <= 0 || C % groups || (int64_t)numel(gamma) != C ||
        (int64_t)numel(beta) != C) {
        scf_graph_fail(g, "group_norm: %d groups do not fit input %s", groups,
                       shape_of(x, s1, sizeof s1));
        return NULL;
    }
    int HW = (int)(numel(x) / ((size_t)B * C));
    scf_var *out = out_like(g, x->value.ndim, x->value.shape);
    if (!out)
        return NULL;
    gboolean rec = needs_grad(x, gamma, beta);
    float *mean = rec ? saved_alloc(g, (size_t)B * groups) : NULL;
    float *rstd = rec ? saved_alloc(g, (size_t)B * groups) : NULL;
    if (rec && (!mean || !rstd))
        return NULL;
    g->be->group_norm_forward(g->be, out->value.data, mean, rstd, x->value.data,
                              gamma->value.data, beta->value.data, B, C, HW, groups, eps, silu);
    if (rec) {
        node *n = record(g, OP_GROUP_NORM, out, x, gamma, beta);
        n->saved[0] = mean; n->saved[1] = rstd;
        n->i[0] = B; n->i[1] = C; n->i[2] = HW; n->i[3] = groups; n->i[4] = silu;
    }
    return out;
}

scf_var *scf_layer_norm(scf_graph *g, scf_var *x, scf_var *gamma, scf_var *beta, float eps)
{
    if (!x || !gamma || !beta)
        return NULL;
    int C = (int)x->value.shape[x->value.ndim - 1];
    char s1[64];
    if ((int64_t)numel(gamma) != C || (int64_t)numel(beta) != C) {
        scf_graph_fail(g, "layer_norm: weights of %zu do not fit input %s", numel(gamma),
                       shape_of(x, s1, sizeof s1));
        return NULL;
    }
    int M = (int)(numel(x) / (size_t)C);
    scf_var *out = out_like(g, x->value.ndim, x->value.shape);
    if (!out)
        return NULL;
    gboolean rec = needs_grad(x, gamma, beta);
    float *mean = rec ? saved_alloc(g, (size_t)M) : NULL;
    float *rstd = rec ? saved_alloc(g, (size_t)M) : NULL;
    if (rec && (!mean || !rstd))
        return NULL;
    g->be->layer_norm_forward(g->be, out->value.data, mean, rstd, x->value.data,
                              gamma->value.data, beta->value.data, M, C, eps);
    if (rec) {
        node *n = record(g, OP_LAYER_NORM, out, x, gamma, beta);
        n->saved[0] = mean; n->saved[1] = rstd;
        n->i[0] = M; n->i[1] = C;
    }
    return out;
}

scf_var *scf_act(scf_graph *g, scf_var *x, scf_activation act)
{
    if (!x)
        return NULL;
    scf_var *out = out_like(g, x->value.ndim, x->value.shape);
    if (!out)
        return NULL;
    g->be->activation_forward(g->be, out->value.data, x->value.data, numel(x), act);
    if (needs_grad(x, NULL, NULL))
        record(g, OP_ACTIVATION, out, x, NULL, NULL)->i[0] = (int)act;
    return out;
}

scf_var *scf_geglu(scf_graph *g, scf_var *x)
{
    if (!x)
        return NULL;
    int64_t shape[SCF_MAX_DIMS];
    memcpy(shape, x->value.shape, sizeof shape);
    int last = x->value.ndim - 1;
    char s1[64];
    if (shape[last] % 2) {
        scf_graph_fail(g, "geglu: last dimension of %s is odd", shape_of(x, s1, sizeof s1));
        return NULL;
    }
    shape[last] /= 2;
    scf_var *out = out_like(g, x->value.ndim, shape);
    if (!out)
        return NULL;
    int N = (int)shape[last], M = (int)(numel(out) / (size_t)N);
    g->be->geglu_forward(g->be, out->value.data, x->value.data, M, N);
    if (needs_grad(x, NULL, NULL)) {
        node *n = record(g, OP_GEGLU, out, x, NULL, NULL);
        n->i[0] = M; n->i[1] = N;
    }
    return out;
}

scf_var *scf_attention(scf_graph *g, scf_var *q, scf_var *k, scf_var *v, int heads,
                       gboolean causal)
{
    if (!q || !k || !v)
        return NULL;
    char s1[64], s2[64];
    int B = (int)q->value.shape[0], Tq = (int)q->value.shape[1], Tk = (int)k->value.shape[1];
    int HD = (int)q->value.shape[2];
    if (q->value.ndim != 3 || k->value.ndim != 3 || !scf_tensor_same_shape(&k->value, &v->value) ||
        k->value.shape[0] != B || k->value.shape[2] != HD || heads <= 0 || HD % heads ||
        (causal && Tq != Tk)) {
        scf_graph_fail(g, "attention: query %s and key/value %s do not fit %d heads%s",
                       shape_of(q, s1, sizeof s1), shape_of(k, s2, sizeof s2), heads,
                       causal ? " (causal)" : "");
        return NULL;
    }
    int D = HD / heads;
    scf_var *out = out_like(g, 3, q->value.shape);
    if (!out)
        return NULL;
    gboolean rec = needs_grad(q, k, v);
    float *probs = rec ? saved_alloc(g, (size_t)B * heads * Tq * Tk) : NULL;
    if (rec && !probs)
        return NULL;
    g->be->attention_forward(g->be, out->value.data, probs, q->value.data, k->value.data,
                             v->value.data, B, Tq, Tk, heads, D, causal);
    if (rec) {
        node *n = record(g, OP_ATTENTION, out, q, k, v);
        n->saved[0] = probs;
        n->i[0] = B; n->i[1] = Tq; n->i[2] = Tk; n->i[3] = heads; n->i[4] = D;
    }
    return out;
}

scf_var *scf_upsample2x(scf_graph *g, scf_var *x)
{
    if (!x)
        return NULL;
    const int64_t *s = x->value.shape;
    scf_var *out = out_like(g, 4, (int64_t[]){ s[0], s[1], 2 * s[2], 2 * s[3] });
    if (!out)
        return NULL;
    int N = (int)(s[0] * s[1]), H = (int)s[2], W = (int)s[3];
    g->be->upsample2x_forward(g->be, out->value.data, x->value.data, N, H, W);
    if (needs_grad(x, NULL, NULL)) {
        node *n = record(g, OP_UPSAMPLE, out, x, NULL, NULL);
        n->i[0] = N; n->i[1] = H; n->i[2] = W;
    }
    return out;
}

scf_var *scf_concat(scf_graph *g, scf_var *a, scf_var *b)
{
    if (!a || !b)
        return NULL;
    int B = (int)a->value.shape[0], Ca = (int)a->value.shape[1], Cb = (int)b->value.shape[1];
    int S = (int)(numel(a) / ((size_t)B * Ca));
    char s1[64], s2[64];
    if (a->value.ndim != b->value.ndim || b->value.shape[0] != B ||
        numel(b) != (size_t)B * Cb * S) {
        scf_graph_fail(g, "concat: %s and %s differ beyond the channel dimension",
                       shape_of(a, s1, sizeof s1), shape_of(b, s2, sizeof s2));
        return NULL;
    }
    int64_t shape[SCF_MAX_DIMS];
    memcpy(shape, a->value.shape, sizeof shape);
    shape[1] = Ca + Cb;
    scf_var *out = out_like(g, a->value.ndim, shape);
    if (!out)
        return NULL;
    g->be->concat_forward(g->be, out->value.data, a->value.data, b->value.data, B, Ca, Cb, S);
    if (needs_grad(a, b, NULL)) {
        node *n = record(g, OP_CONCAT, out, a, b, NULL);
        n->i[0] = B; n->i[1] = Ca; n->i[2] = Cb; n->i[3] = S;
    }
    return out;
}

scf_var *scf_transpose(scf_graph *g, scf_var *x)
{
    if (!x)
        return NULL;
    char s1[64];
    if (x->value.ndim != 3) {
        scf_graph_fail(g, "transpose: expected [B,R,C], got %s", shape_of(x, s1, sizeof s1));
        return NULL;
    }
    const int64_t *s = x->value.shape;
    scf_var *out = out_like(g, 3, (int64_t[]){ s[0], s[2], s[1] });
    if (!out)
        return NULL;
    g->be->transpose(g->be, out->value.data, x->value.data, (int)s[0], (int)s[1], (int)s[2], 0);
    if (needs_grad(x, NULL, NULL)) {
        node *n = record(g, OP_TRANSPOSE, out, x, NULL, NULL);
        n->i[0] = (int)s[0]; n->i[1] = (int)s[1]; n->i[2] = (int)s[2];
    }
    return out;
}

static scf_var *binary(scf_graph *g, op_kind op, scf_var *a, scf_var *b)
{
    if (!a || !b)
        return NULL;
    char s1[64], s2[64];
    if (numel(a) != numel(b)) {
        scf_graph_fail(g, "%s: %s and %s differ in size", op == OP_ADD ? "add" : "mul",
                       shape_of(a, s1, sizeof s1), shape_of(b, s2, sizeof s2));
        return NULL;
    }
    scf_var *out = out_like(g, a->value.ndim, a->value.shape);
    if (!out)
        return NULL;
    (op == OP_ADD ? g->be->add : g->be->mul)(g->be, out->value.data, a->value.data,
                                              b->value.data, numel(a));
    if (needs_grad(a, b, NULL))
        record(g, op, out, a, b, NULL);
    return out;
}

scf_var *scf_add(scf_graph *g, scf_var *a, scf_var *b)
{
    return binary(g, OP_ADD, a, b);
}

scf_var *scf_mul(scf_graph *g, scf_var *a, scf_var *b)
{
    return binary(g, OP_MUL, a, b);
}

scf_var *scf_scale(scf_graph *g, scf_var *x, float s)
{
    if (!x)
        return NULL;
    scf_var *out = out_like(g, x->value.ndim, x->value.shape);
    if (!out)
        return NULL;
    g->be->scale(g->be, out->value.data, x->value.data, s, numel(x));
    if (needs_grad(x, NULL, NULL))
        record(g, OP_SCALE, out, x, NULL, NULL)->f = s;
    return out;
}

scf_var *scf_add_channel(scf_graph *g, scf_var *x, scf_var *v)
{
    if (!x || !v)
        return NULL;
    int B = (int)x->value.shape[0], C = (int)x->value.shape[1];
    char s1[64], s2[64];
    if (x->value.ndim < 2 || numel(v) != (size_t)B * C) {
        scf_graph_fail(g, "add_channel: %s does not broadcast over %s", shape_of(v, s1, sizeof s1),
                       shape_of(x, s2, sizeof s2));
        return NULL;
    }
    int S = (int)(numel(x) / ((size_t)B * C));
    scf_var *out = out_like(g, x->value.ndim, x->value.shape);
    if (!out)
        return NULL;
    g->be->copy(g->be, out->value.data, x->value.data, numel(x) * sizeof(float));
    g->be->add_channel_forward(g->be, out->value.data, v->value.data, B, C, S);
    if (needs_grad(x, v, NULL)) {
        node *n = record(g, OP_ADD_CHANNEL, out, x, v, NULL);
        n->i[0] = B; n->i[1] = C; n->i[2] = S;
    }
    return out;
}

scf_var *scf_batch_scale(scf_graph *g, scf_var *x, scf_var *s)
{
    if (!x || !s)
        return NULL;
    int B = (int)x->value.shape[0];
    char s1[64], s2[64];
    if ((int64_t)numel(s) != B) {
        scf_graph_fail(g, "batch_scale: factors %s do not fit %s", shape_of(s, s1, sizeof s1),
                       shape_of(x, s2, sizeof s2));
        return NULL;
    }
    int S = (int)(numel(x) / (size_t)B);
    scf_var *out = out_like(g, x->value.ndim, x->value.shape);
    if (!out)
        return NULL;
    g->be->batch_scale_forward(g->be, out->value.data, x->value.data, s->value.data, B, S);
    if (needs_grad(x, s, NULL)) {
        node *n = record(g, OP_BATCH_SCALE, out, x, s, NULL);
        n->i[0] = B; n->i[1] = S;
    }
    return out;
}

scf_var *scf_embedding(scf_graph *g, const int32_t *ids, int n, scf_var *table)
{
    if (!table)
        return NULL;
    int D = (int)table->value.shape[1];
    scf_var *out = out_like(g, 2, (int64_t[]){ n, D });
    if (!out)
        return NULL;
    g->be->embedding_forward(g->be, out->value.data, ids, table->value.data, n, D);
    if (needs_grad(table, NULL, NULL)) {
        node *nd = record(g, OP_EMBEDDING, out, table, NULL, NULL);
        nd->ids = ids;
        nd->i[0] = n; nd->i[1] = D;
    }
    return out;
}

scf_var *scf_timestep_embedding(scf_graph *g, scf_var *t, int dim, gboolean flip_sin_to_cos,
                                float freq_shift)
{
    if (!t)
        return NULL;
    int B = (int)numel(t);
    scf_var *out = out_like(g, 2, (int64_t[]){ B, dim });
    if (!out)
        return NULL;
    g->be->timestep_embedding(g->be, out->value.data, t->value.data, B, dim, flip_sin_to_cos,
                              freq_shift);
    return out;
}

static scf_var *scalar_out(scf_graph *g, float value)
{
    scf_var *out = out_like(g, 1, (int64_t[]){ 1 });
    if (out)
        g->be->upload(g->be, out->value.data, &value, sizeof value);
    return out;
}

static scf_var *pair_loss(scf_graph *g, op_kind op, scf_var *a, scf_var *b, float c)
{
    if (!a || !b)
        return NULL;
    char s1[64], s2[64];
    if (numel(a) != numel(b)) {
        scf_graph_fail(g, "%s: %s and %s differ in size", op == OP_MSE ? "mse" : "pseudo_huber",
                       shape_of(a, s1, sizeof s1), shape_of(b, s2, sizeof s2));
        return NULL;
    }
    float value = op == OP_MSE
        ? g->be->mse_forward(g->be, a->value.data, b->value.data, numel(a))
        : g->be->pseudo_huber_forward(g->be, a->value.data, b->value.data, numel(a), c);
    scf_var *out = scalar_out(g, value);
    if (out && needs_grad(a, b, NULL))
        record(g, op, out, a, b, NULL)->f = c;
    return out;
}

scf_var *scf_mse(scf_graph *g, scf_var *a, scf_var *b)
{
    return pair_loss(g, OP_MSE, a, b, 0);
}

scf_var *scf_pseudo_huber(scf_graph *g, scf_var *a, scf_var *b, float c)
{
    return pair_loss(g, OP_PSEUDO_HUBER, a, b, c);
}

scf_var *scf_gan_logistic(scf_graph *g, scf_var *x, float sign)
{
    if (!x)
        return NULL;
    scf_var *out = scalar_out(g, g->be->gan_logistic_forward(g->be, x->value.data, numel(x), sign));
    if (out && needs_grad(x, NULL, NULL))
        record(g, OP_GAN, out, x, NULL, NULL)->f = sign;
    return out;
}

float scf_graph_scalar(scf_graph *g, scf_var *x)
{
    float v = 0;
    if (x)
        g->be->download(g->be, &v, x->value.data, sizeof v);
    return v;
}

/* ---- backward ---- */

static void node_backward(scf_graph *g, node *n, float *dout)
{
    scf_backend *be = g->be;
    scf_var *a = n->in[0], *b = n->in[1], *c = n->in[2];
    const int *d = n->i;
    switch (n->op) {
    case OP_LINEAR:
        be->linear_backward(be, grad_of(g, a), grad_of(g, b), grad_of(g, c), dout,
                            a->value.data, b->value.data, d[0], d[1], d[2]);
        break;
    case OP_CONV2D:
        be->conv2d_backward(be, grad_of(g, a), grad_of(g, b), grad_of(g, c), dout,
                            a->value.data, b->value.data, d[0], d[1], d[2], d[3],
                            (int)b->value.shape[0], d[4], d[5], (int)n->f);
        break;
    case OP_GROUP_NORM:
        be->group_norm_backward(be, grad_of(g, a), grad_of(g, b), grad_of(g, c), dout,
                                a->value.data, n->saved[0], n->saved[1], b->value.data,
                                c->value.data, d[0], d[1], d[2], d[3], d[4]);
        break;
    case OP_LAYER_NORM:
        be->layer_norm_backward(be, grad_of(g, a), grad_of(g, b), grad_of(g, c), dout,
                                a->value.data, n->saved[0], n->saved[1], b->value.data,
                                d[0], d[1]);
        break;
    case OP_ACTIVATION:
        be->activation_backward(be, grad_of(g, a), dout, a->value.data, numel(a),
                                (scf_activation)d[0]);
        break;
    case OP_GEGLU:
        be->geglu_backward(be, grad_of(g, a), dout, a->value.data, d[0], d[1]);
        break;
    case OP_ATTENTION:
        be->attention_backward(be, grad_of(g, a), grad_of(g, b), grad_of(g, c), dout,
                               a->value.data, b->value.data, c->value.data, n->saved[0],
                               d[0], d[1], d[2], d[3], d[4]);
        break;
    case OP_UPSAMPLE:
        be->upsample2x_backward(be, grad_of(g, a), dout, d[0], d[1], d[2]);
        break;
    case OP_CONCAT:
        be->concat_backward(be, grad_of(g, a), grad_of(g, b), dout, d[0], d[1], d[2], d[3]);
        break;
    case OP_TRANSPOSE: {
        /* out[B,C,R] -> dx[B,R,C] */
        gboolean fresh;
        float *dx = grad_buffer(g, a, &fresh);
        if (dx)
            be->transpose(be, dx, dout, d[0], d[2], d[1], !fresh);
        break;
    }
    case OP_ADD:
        /* one of them may take dout's buffer; b reads it before anything
         * adds into it (or adds it to itself when b is a) */
        grad_add(g, a, dout, 1.0f, TRUE);
        grad_add(g, b, dout, 1.0f, !a->requires_grad || base_of(a)->grad != dout);
        break;
    case OP_MUL:
        be->mul_backward(be, grad_of(g, a), grad_of(g, b), dout, a->value.data, b->value.data,
                         numel(a));
        break;
    case OP_SCALE:
        grad_add(g, a, dout, n->f, TRUE);
        break;
    case OP_ADD_CHANNEL:
        if (b->requires_grad)
            be->add_channel_backward(be, grad_of(g, b), dout, d[0], d[1], d[2]);
        grad_add(g, a, dout, 1.0f, TRUE);
        break;
    case OP_BATCH_SCALE:
        be->batch_scale_backward(be, grad_of(g, a), grad_of(g, b), dout, a->value.data,
                                 b->value.data, d[0], d[1]);
        break;
    case OP_EMBEDDING:
        be->embedding_backward(be, grad_of(g, a), dout, n->ids, d[0], d[1]);
        break;
    case OP_MSE:
    case OP_PSEUDO_HUBER: {
        float dl = 0;
        be->download(be, &dl, dout, sizeof dl);
        /* both losses are symmetric in (a, b): d/db is d/da with the roles swapped */
        for (int side = 0; side < 2; side++) {
            scf_var *p = side ? b : a, *q = side ? a : b;
            if (!p->requires_grad)
                continue;
            if (n->op == OP_MSE)
                be->mse_backward(be, grad_of(g, p), p->value.data, q->value.data, numel(p), dl);
            else
                be->pseudo_huber_backward(be, grad_of(g, p), p->value.data, q->value.data,
                                          numel(p), n->f, dl);
        }
        break;
    }
    case OP_GAN: {
        float dl = 0;
        be->download(be, &dl, dout, sizeof dl);
        be->gan_logistic_backward(be, grad_of(g, a), a->value.data, numel(a), n->f, dl);
        break;
    }
    }
}

void scf_graph_backward(scf_graph *g, scf_var *loss)
{
    if (!loss || g->error)
        return;
    if (!loss->requires_grad) {
        scf_graph_fail(g, "backward: the loss does not depend on any trainable parameter");
        return;
    }
    float *seed = grad_of(g, loss);
    if (!seed)
        return;
    g->be->fill(g->be, seed, 1.0f, 1);
    for (guint i = g->nodes->len; i-- > 0;) {
        node *n = &g_array_index(g->nodes, node, i);
        if (!n->out->grad)   /* no gradient reached this op's output */
            continue;
        node_backward(g, n, n->out->grad);
        if (g->error)
            return;
    }
}

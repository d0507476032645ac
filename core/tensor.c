#include "tensor.h"
#include "error.h"
#include <string.h>

size_t scf_dtype_size(scf_dtype dt)
{
    return dt == SCF_DTYPE_F32 ? 4 : 2;
}

const char *scf_dtype_name(scf_dtype dt)
{
    switch (dt) {
    case SCF_DTYPE_F32: return "F32";
    case SCF_DTYPE_F16: return "F16";
    case SCF_DTYPE_BF16: return "BF16";
    }
    return "?";
}

size_t scf_tensor_numel(const scf_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

const char *scf_tensor_shape_str(const scf_tensor *t, char *buf, size_t len)
{
    size_t off = (size_t)g_snprintf(buf, len, "[");
    for (int i = 0; i < t->ndim && off < len; i++)
        off += (size_t)g_snprintf(buf + off, len - off, i ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT,
                                  t->shape[i]);
    if (off < len)
        g_snprintf(buf + off, len - off, "]");
    return buf;
}

gboolean scf_tensor_same_shape(const scf_tensor *a, const scf_tensor *b)
{
    if (a->ndim != b->ndim)
        return FALSE;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return FALSE;
    return TRUE;
}

void scf_arena_init_measure(scf_arena *a, const char *label)
{
    memset(a, 0, sizeof *a);
    a->measuring = TRUE;
    a->label = g_strdup(label);
}

gboolean scf_arena_init(scf_arena *a, scf_backend *be, size_t capacity,
                        const char *label, GError **error)
{
    memset(a, 0, sizeof *a);
    a->be = be;
    a->label = g_strdup(label);
    a->capacity = capacity;
    if (capacity == 0)
        return TRUE;
    a->base = be->alloc(be, capacity);
    if (!a->base) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM,
                    "%s: cannot allocate %.1f MiB on %s", label,
                    (double)capacity / (1024.0 * 1024.0), be->name);
        g_free(a->label);
        a->label = NULL;
        return FALSE;
    }
    return TRUE;
}

void scf_arena_release(scf_arena *a)
{
    if (a->base)
        a->be->free(a->be, a->base);
    g_free(a->label);
    memset(a, 0, sizeof *a);
}

void *scf_arena_bytes(scf_arena *a, size_t bytes)
{
    size_t start = (a->used + SCF_ARENA_ALIGN - 1) & ~(size_t)(SCF_ARENA_ALIGN - 1);
    size_t end = start + bytes;
    if (!a->measuring && end > a->capacity) {
        if (!a->overflow) {
            a->overflow = TRUE;
            a->overflow_need = end;
        }
        return NULL;
    }
    a->used = end;
    if (end > a->peak)
        a->peak = end;
    return a->measuring ? NULL : a->base + start;
}

scf_tensor scf_arena_tensor(scf_arena *a, int ndim, const int64_t *shape)
{
    scf_tensor t = {0};
    g_return_val_if_fail(ndim >= 1 && ndim <= SCF_MAX_DIMS, t);
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t.shape[i] = shape[i];
    t.data = scf_arena_bytes(a, scf_tensor_numel(&t) * sizeof(float));
    return t;
}

scf_tensor scf_arena_tensor1(scf_arena *a, int64_t d0)
{
    return scf_arena_tensor(a, 1, (int64_t[]){d0});
}

scf_tensor scf_arena_tensor2(scf_arena *a, int64_t d0, int64_t d1)
{
    return scf_arena_tensor(a, 2, (int64_t[]){d0, d1});
}

scf_tensor scf_arena_tensor3(scf_arena *a, int64_t d0, int64_t d1, int64_t d2)
{
    return scf_arena_tensor(a, 3, (int64_t[]){d0, d1, d2});
}

scf_tensor scf_arena_tensor4(scf_arena *a, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    return scf_arena_tensor(a, 4, (int64_t[]){d0, d1, d2, d3});
}

size_t scf_arena_mark(const scf_arena *a)
{
    return a->used;
}

void scf_arena_reset(scf_arena *a, size_t mark)
{
    if (mark <= a->used)
        a->used = mark;
}

void scf_arena_zero(scf_arena *a)
{
    if (a->base && a->used)
        a->be->zero(a->be, a->base, a->used);
}

gboolean scf_arena_check(const scf_arena *a, GError **error)
{
    if (!a->overflow)
        return TRUE;
    g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM,
                "%s: arena of %zu bytes is too small, at least %zu needed",
                a->label ? a->label : "arena", a->capacity, a->overflow_need);
    return FALSE;
}

#include "params.h"
#include "error.h"
#include "rng.h"
#include <math.h>
#include <string.h>

/* Each tensor starts on a 64-byte boundary for aligned vector loads. */
#define PARAM_ALIGN 16

scf_params *scf_params_new(scf_backend *be)
{
    scf_params *p = g_new0(scf_params, 1);
    p->be = be;
    p->entries = g_array_new(FALSE, TRUE, sizeof(scf_param_entry));
    p->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    return p;
}

void scf_params_free(scf_params *p)
{
    if (!p)
        return;
    for (guint i = 0; i < p->entries->len; i++)
        g_free(g_array_index(p->entries, scf_param_entry, i).name);
    g_array_free(p->entries, TRUE);
    g_hash_table_destroy(p->by_name);
    g_free(p->prefix);
    if (p->data)
        p->be->free(p->be, p->data);
    if (p->grad)
        p->be->free(p->be, p->grad);
    g_free(p->vars);
    g_free(p);
}

void scf_params_set_prefix(scf_params *p, const char *prefix)
{
    g_free(p->prefix);
    p->prefix = g_strdup(prefix);
}

int scf_params_add(scf_params *p, const char *name, int ndim, const int64_t *shape)
{
    g_autofree char *full = g_strconcat(p->prefix ? p->prefix : "", name, NULL);
    g_return_val_if_fail(!p->data && ndim >= 1 && ndim <= SCF_MAX_DIMS, -1);
    g_return_val_if_fail(!g_hash_table_contains(p->by_name, full), -1);
    scf_param_entry e = { g_steal_pointer(&full), ndim, { 0 }, p->total, 1 };
    for (int i = 0; i < ndim; i++) {
        e.shape[i] = shape[i];
        e.numel *= (size_t)shape[i];
    }
    p->total += (e.numel + PARAM_ALIGN - 1) / PARAM_ALIGN * PARAM_ALIGN;
    g_array_append_val(p->entries, e);
    int index = (int)p->entries->len - 1;
    g_hash_table_insert(p->by_name, e.name, GINT_TO_POINTER(index + 1));
    return index;
}

int scf_params_count(const scf_params *p)
{
    return (int)p->entries->len;
}

const scf_param_entry *scf_params_entry(const scf_params *p, int index)
{
    return &g_array_index(p->entries, scf_param_entry, index);
}

int scf_params_find(const scf_params *p, const char *name)
{
    return GPOINTER_TO_INT(g_hash_table_lookup(p->by_name, name)) - 1;
}

size_t scf_params_numel(const scf_params *p)
{
    size_t n = 0;
    for (guint i = 0; i < p->entries->len; i++)
        n += g_array_index(p->entries, scf_param_entry, i).numel;
    return n;
}

static scf_tensor entry_tensor(const scf_param_entry *e, float *base)
{
    scf_tensor t = { base + e->offset, e->ndim, { 0 } };
    memcpy(t.shape, e->shape, sizeof t.shape);
    return t;
}

static void bind_vars(scf_params *p)
{
    for (guint i = 0; i < p->entries->len; i++) {
        const scf_param_entry *e = scf_params_entry(p, (int)i);
        p->vars[i] = scf_param(entry_tensor(e, p->data), p->grad ? p->grad + e->offset : NULL,
                               p->trainable);
    }
}

gboolean scf_params_allocate(scf_params *p, gboolean with_grad, GError **error)
{
    size_t bytes = MAX(p->total, 1) * sizeof(float);
    p->data = p->be->alloc(p->be, bytes);
    p->grad = with_grad ? p->be->alloc(p->be, bytes) : NULL;
    if (!p->data || (with_grad && !p->grad)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM,
                    "cannot allocate %.1f MiB of parameters%s on %s", bytes / 1048576.0,
                    with_grad ? " and gradients" : "", p->be->name);
        return FALSE;
    }
    p->be->zero(p->be, p->data, bytes);
    if (p->grad)
        p->be->zero(p->be, p->grad, bytes);
    p->trainable = with_grad;
    p->vars = g_new0(scf_var, p->entries->len);
    bind_vars(p);
    return TRUE;
}

scf_var *scf_params_var(scf_params *p, int index)
{
    return &p->vars[index];
}

void scf_params_set_trainable(scf_params *p, gboolean trainable)
{
    p->trainable = trainable && p->grad;
    bind_vars(p);
}

void scf_params_swap_data(scf_params *p, float **other)
{
    float *t = p->data;
    p->data = *other;
    *other = t;
    bind_vars(p);
}

void scf_params_zero_grad(scf_params *p)
{
    if (p->grad)
        p->be->zero(p->be, p->grad, p->total * sizeof(float));
}

static char *shape_str(int ndim, const int64_t *shape)
{
    GString *s = g_string_new("[");
    for (int i = 0; i < ndim; i++)
        g_string_append_printf(s, i ? ", %" G_GINT64_FORMAT : "%" G_GINT64_FORMAT, shape[i]);
    g_string_append_c(s, ']');
    return g_string_free(s, FALSE);
}

gboolean scf_params_load_part(scf_params *p, const scf_safetensors *st, const char *model_prefix,
                              const char *file_prefix, gboolean allow_unused, GError **error)
{
    const char *path = scf_safetensors_path(st);
    model_prefix = model_prefix ? model_prefix : "";
    file_prefix = file_prefix ? file_prefix : "";
    const size_t mlen = strlen(model_prefix), flen = strlen(file_prefix);
    size_t max_numel = 0;
    for (guint i = 0; i < p->entries->len; i++)
        max_numel = MAX(max_numel, scf_params_entry(p, (int)i)->numel);
    float *staging = g_new(float, MAX(max_numel, 1));
    gboolean ok = TRUE;
    for (guint i = 0; ok && i < p->entries->len; i++) {
        const scf_param_entry *e = scf_params_entry(p, (int)i);
        if (!g_str_has_prefix(e->name, model_prefix))
            continue;
        g_autofree char *name = g_strconcat(file_prefix, e->name + mlen, NULL);
        const scf_st_tensor *t = scf_safetensors_find(st, name);
        if (!t) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: missing tensor '%s'", path, name);
            ok = FALSE;
            break;
        }
        /* shapes must agree exactly: silent reshapes hide bugs */
        gboolean same = t->ndim == e->ndim;
        for (int d = 0; same && d < e->ndim; d++)
            same = t->shape[d] == e->shape[d];
        if (!same) {
            g_autofree char *want = shape_str(e->ndim, e->shape);
            g_autofree char *found = shape_str(t->ndim, t->shape);
            g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                        "%s: tensor '%s' has shape %s, the model expects %s", path, name, found,
                        want);
            ok = FALSE;
            break;
        }
        ok = scf_safetensors_read_f32(st, t, staging, error);
        if (ok)
            p->be->upload(p->be, p->data + e->offset, staging, e->numel * sizeof(float));
    }
    g_free(staging);
    if (!ok || allow_unused)
        return ok;
    for (int i = 0; i < scf_safetensors_count(st); i++) {
        const scf_st_tensor *t = scf_safetensors_get(st, i);
        /* integer tensors are buffers (position ids), not parameters */
        if (t->dtype != SCF_ST_F64 && t->dtype != SCF_ST_F32 && t->dtype != SCF_ST_F16 &&
            t->dtype != SCF_ST_BF16)
            continue;
        if (!g_str_has_prefix(t->name, file_prefix))
            continue;
        g_autofree char *name = g_strconcat(model_prefix, t->name + flen, NULL);
        if (scf_params_find(p, name) < 0) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                        "%s: tensor '%s' is not a parameter of this model", path, t->name);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean scf_params_load(scf_params *p, const scf_safetensors *st, const char *prefix,
                         gboolean allow_unused, GError **error)
{
    return scf_params_load_part(p, st, "", prefix, allow_unused, error);
}

gboolean scf_params_write_buffer(const scf_params *p, const float *buffer,
                                 scf_safetensors_writer *w, const char *prefix, scf_dtype dtype,
                                 GError **error)
{
    gboolean ok = TRUE;
    float *staging = NULL;
    size_t staging_n = 0;
    for (guint i = 0; ok && i < p->entries->len; i++) {
        const scf_param_entry *e = scf_params_entry(p, (int)i);
        if (e->numel > staging_n) {
            staging_n = e->numel;
            staging = g_renew(float, staging, staging_n);
        }
        p->be->download(p->be, staging, buffer + e->offset, e->numel * sizeof(float));
        g_autofree char *name = g_strconcat(prefix ? prefix : "", e->name, NULL);
        ok = scf_safetensors_writer_add(w, name, dtype, e->ndim, e->shape, staging, error);
    }
    g_free(staging);
    return ok;
}

gboolean scf_params_write(const scf_params *p, scf_safetensors_writer *w, const char *prefix,
                          scf_dtype dtype, GError **error)
{
    return scf_params_write_buffer(p, p->data, w, prefix, dtype, error);
}

void scf_params_init(scf_params *p, uint64_t seed)
{
    float *host = g_new(float, MAX(p->total, 1));
    memset(host, 0, p->total * sizeof(float));
    for (guint i = 0; i < p->entries->len; i++) {
        const scf_param_entry *e = scf_params_entry(p, (int)i);
        float *dst = host + e->offset;
        /* each tensor draws from its own stretch of the stream, so adding a
         * tensor does not change the others' values */
        uint64_t base = (uint64_t)i << 40;
        if (g_str_has_suffix(e->name, ".bias")) {
            continue;
        } else if (e->ndim == 1) {            /* norm weights */
            for (size_t j = 0; j < e->numel; j++)
                dst[j] = 1.0f;
        } else if (strstr(e->name, "embedding")) {
            for (size_t j = 0; j < e->numel; j++)
                dst[j] = 0.02f * scf_rng_normal_at(seed, base + j);
        } else {                              /* linear [out,in] or conv [out,in,k,k] */
            size_t fan_in = e->numel / (size_t)e->shape[0];
            float bound = 1.0f / sqrtf((float)fan_in);
            for (size_t j = 0; j < e->numel; j++)
                dst[j] = bound * (2.0f * scf_rng_uniform_at(seed, base + j) - 1.0f);
        }
    }
    p->be->upload(p->be, p->data, host, p->total * sizeof(float));
    g_free(host);
}

void scf_params_copy(scf_params *dst, const scf_params *src)
{
    g_return_if_fail(dst->total == src->total);
    dst->be->copy(dst->be, dst->data, src->data, src->total * sizeof(float));
}

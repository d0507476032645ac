#include "sampler.h"
#include "error.h"
#include <string.h>

#define MAX_BATCH 64
#define CACHE_LIMIT 64

struct scf_sampler {
    scf_model *m;
    scf_graph *g;
    /* persistent across steps: the state x, the conditioning and tau */
    float *x, *ctx, *tau;
    int capacity;            /* images the buffers hold (guided: 2 per image) */
    GHashTable *cache;       /* prompt -> host embedding [T*D] */
};

scf_sampler *scf_sampler_new(scf_model *m)
{
    scf_sampler *s = g_new0(scf_sampler, 1);
    s->m = m;
    s->g = scf_graph_new(m->be);
    s->cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return s;
}

static void release_buffers(scf_sampler *s)
{
    scf_backend *be = s->m->be;
    if (s->x)
        be->free(be, s->x);
    if (s->ctx)
        be->free(be, s->ctx);
    if (s->tau)
        be->free(be, s->tau);
    s->x = s->ctx = s->tau = NULL;
    s->capacity = 0;
}

void scf_sampler_free(scf_sampler *s)
{
    if (!s)
        return;
    release_buffers(s);
    scf_graph_free(s->g);
    g_hash_table_destroy(s->cache);
    g_free(s);
}

size_t scf_sampler_activation_bytes(const scf_sampler *s)
{
    return scf_graph_memory(s->g);
}

gboolean scf_sample_request_check(const scf_sample_request *r, GError **error)
{
    const char *bad = NULL;
    if (!r->prompt)
        bad = "prompt: missing";
    else if (r->steps < 1 || r->steps > 1000)
        bad = "steps: must be between 1 and 1000";
    else if (!(r->guidance >= 0 && r->guidance <= 100))
        bad = "guidance: must be between 0 and 100";
    else if (r->batch < 1 || r->batch > MAX_BATCH)
        bad = "batch: must be between 1 and 64";
    if (bad)
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "generation request: %s", bad);
    return !bad;
}

static size_t image_numel(const scf_model *m)
{
    return (size_t)m->channels * m->image_size * m->image_size;
}

/* One sample of the flow's space. */
static size_t latent_numel(const scf_model *m)
{
    return (size_t)m->latent_channels * m->latent_size * m->latent_size;
}

void scf_sampler_noise(scf_sampler *s, uint64_t seed, float *device_out)
{
    scf_backend *be = s->m->be;
    be->rng_normal(be, device_out, latent_numel(s->m), seed, 0);
}

static gboolean ensure_buffers(scf_sampler *s, int rows, GError **error)
{
    if (rows <= s->capacity)
        return TRUE;
    release_buffers(s);
    scf_backend *be = s->m->be;
    const scf_clip_text_config *tc = scf_clip_text_get_config(s->m->text);
    s->x = be->alloc(be, rows * latent_numel(s->m) * sizeof(float));
    s->ctx = be->alloc(be, (size_t)rows * s->m->context_length * tc->hidden_size * sizeof(float));
    s->tau = be->alloc(be, (size_t)rows * sizeof(float));
    if (!s->x || !s->ctx || !s->tau) {
        release_buffers(s);
        g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM, "sampler: cannot allocate for %d images on %s",
                    rows, be->name);
        return FALSE;
    }
    s->capacity = rows;
    return TRUE;
}

/* Writes the embedding of prompt into dst (device), from the cache when the
 * prompt was seen before: encoding is the only per-prompt work. */
static gboolean embed(scf_sampler *s, const char *prompt, float *dst, GError **error)
{
    scf_model *m = s->m;
    size_t n = (size_t)m->context_length * scf_clip_text_get_config(m->text)->hidden_size;
    float *host = g_hash_table_lookup(s->cache, prompt);
    if (!host) {
        scf_graph_reset(s->g);
        scf_var *c = scf_model_encode_text(m, s->g, &prompt, 1);
        if (!c)
            return scf_graph_check(s->g, error);
        host = g_new(float, n);
        m->be->download(m->be, host, c->value.data, n * sizeof(float));
        if (g_hash_table_size(s->cache) >= CACHE_LIMIT)
            g_hash_table_remove_all(s->cache);
        g_hash_table_insert(s->cache, g_strdup(prompt), host);
    }
    m->be->upload(m->be, dst, host, n * sizeof(float));
    return TRUE;
}

/* Writes the images of the B samples in s->x to out (host). */
static gboolean decode(scf_sampler *s, int B, float *out, GError **error)
{
    scf_model *m = s->m;
    scf_backend *be = m->be;
    if (!m->vae) {
        be->download(be, out, s->x, (size_t)B * image_numel(m) * sizeof(float));
        return TRUE;
    }
    for (int b = 0; b < B; b++) {
        scf_graph_reset(s->g);
        scf_var *z = scf_graph_wrap(s->g, (scf_tensor){ s->x + (size_t)b * latent_numel(m), 4,
                                                        { 1, m->latent_channels, m->latent_size,
                                                          m->latent_size } });
        scf_var *img = scf_model_decode(m, s->g, z);
        if (!img)
            return scf_graph_check(s->g, error);
        be->download(be, out + (size_t)b * image_numel(m), img->value.data,
                     image_numel(m) * sizeof(float));
    }
    return TRUE;
}

gboolean scf_sampler_run(scf_sampler *s, const scf_sample_request *r, float *out,
                         scf_progress_fn progress, gpointer user, GError **error)
{
    if (!scf_sample_request_check(r, error))
        return FALSE;
    scf_model *m = s->m;
    scf_backend *be = m->be;
    const int B = r->batch;
    const gboolean guided = r->guidance != 1.0f;
    const int rows = guided ? 2 * B : B;   /* guided: [negative x B | prompt x B] */
    const size_t img = latent_numel(m);
    const int T = m->context_length, D = scf_clip_text_get_config(m->text)->hidden_size;
    const size_t ctx_n = (size_t)T * D;
    if (!ensure_buffers(s, rows, error))
        return FALSE;
    for (int b = 0; b < rows; b++) {
        const char *p = guided && b < B ? (r->negative ? r->negative : "") : r->prompt;
        if (!embed(s, p, s->ctx + (size_t)b * ctx_n, error))
            return FALSE;
    }
    if (r->noise)
        be->upload(be, s->x, r->noise, (size_t)B * img * sizeof(float));
    else
        for (int b = 0; b < B; b++)
            scf_sampler_noise(s, r->seed + (uint64_t)b, s->x + (size_t)b * img);

    const int64_t xshape[4] = { rows, m->latent_channels, m->latent_size, m->latent_size };
    for (int i = r->steps; i >= 1; i--) {
        if (guided) /* both halves see the same x */
            be->copy(be, s->x + (size_t)B * img, s->x, (size_t)B * img * sizeof(float));
        be->fill(be, s->tau, (float)i / (float)r->steps, (size_t)rows);
        scf_graph_reset(s->g);
        scf_var *x = scf_graph_wrap(s->g, (scf_tensor){ s->x, 4, { xshape[0], xshape[1], xshape[2], xshape[3] } });
        scf_var *tau = scf_graph_wrap(s->g, (scf_tensor){ s->tau, 1, { rows } });
        scf_var *ctx = scf_graph_wrap(s->g, (scf_tensor){ s->ctx, 3, { rows, T, D } });
        scf_var *v = scf_model_velocity(m, s->g, x, tau, ctx);
        if (!v)
            return scf_graph_check(s->g, error);
        const float dt = 1.0f / (float)r->steps;
        if (guided) {
            /* x -= dt * (v_neg + w (v_c - v_neg)) = x - dt (1-w) v_neg - dt w v_c */
            be->axpy(be, s->x, v->value.data, -dt * (1.0f - r->guidance), (size_t)B * img);
            be->axpy(be, s->x, v->value.data + (size_t)B * img, -dt * r->guidance, (size_t)B * img);
        } else {
            be->axpy(be, s->x, v->value.data, -dt, (size_t)B * img);
        }
        if (progress && !progress(r->steps - i + 1, r->steps, user)) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_CANCELLED, "generation cancelled at step %d of %d",
                        r->steps - i + 1, r->steps);
            return FALSE;
        }
    }
    return decode(s, B, out, error);
}

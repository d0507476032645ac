#include "sampler.h"
#include "error.h"
#include <string.h>

#define MAX_BATCH 64
#define CACHE_LIMIT 64

/* The UNet pass of one batch shape, recorded on a backend with graphs
 * (backend.h: graph_begin) and replayed by later steps and generations.
 * The recording holds addresses: the sampler's buffers, the model's
 * weights, the graph's activation memory, the backend workspace and the
 * backend's own derived memory (the CUDA backend's 16-bit weight copies).
 * The first two stay put while it exists (new buffers drop every
 * recording); the others are checked before each replay. */
typedef struct {
    scf_backend *be;
    scf_backend_graph *graph;   /* NULL: the shape has run plain (memory is sized for it) */
    float *v;                   /* where a replay leaves the velocity */
    guint64 memory_epoch;       /* scf_graph_memory_epoch when recorded */
    void *workspace;            /* be->workspace when recorded */
    guint64 backend_epoch;      /* be->recording_epoch when run plain or recorded */
} step_recording;

struct scf_sampler {
    scf_model *m;
    scf_graph *g;
    /* persistent across steps: the state x, the conditioning and tau */
    float *x, *ctx, *tau;
    int capacity;            /* images the buffers hold (guided: 2 per image) */
    GHashTable *cache;       /* prompt -> host embedding [T*D] */
    gboolean replay;         /* record and replay UNet passes where the backend can */
    GHashTable *recordings;  /* rows of the pass -> step_recording */
    int recorded, replayed;  /* scf_sampler_graph_counts */
};

static void recording_free(gpointer data)
{
    step_recording *r = data;
    if (r->graph)
        r->be->graph_free(r->be, r->graph);
    g_free(r);
}

scf_sampler *scf_sampler_new(scf_model *m)
{
    scf_sampler *s = g_new0(scf_sampler, 1);
    s->m = m;
    s->g = scf_graph_new(m->be);
    s->cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    s->replay = m->be->graph_begin != NULL;
    s->recordings = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, recording_free);
    return s;
}

void scf_sampler_set_graph_replay(scf_sampler *s, gboolean on)
{
    s->replay = on && s->m->be->graph_begin;
    if (!s->replay)
        g_hash_table_remove_all(s->recordings);
}

void scf_sampler_graph_counts(const scf_sampler *s, int *recorded, int *replayed)
{
    *recorded = s->recorded;
    *replayed = s->replayed;
}

static void release_buffers(scf_sampler *s)
{
    scf_backend *be = s->m->be;
    g_hash_table_remove_all(s->recordings);   /* they point into the buffers */
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
    g_hash_table_destroy(s->recordings);
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

/* The UNet pass over the rows samples in s->x at s->tau, on the graph as
 * the caller left it. */
static scf_var *velocity_pass(scf_sampler *s, int rows)
{
    scf_model *m = s->m;
    const int64_t T = m->context_length, D = scf_clip_text_get_config(m->text)->hidden_size;
    scf_var *x = scf_graph_wrap(s->g, (scf_tensor){ s->x, 4, { rows, m->latent_channels,
                                                               m->latent_size, m->latent_size } });
    scf_var *tau = scf_graph_wrap(s->g, (scf_tensor){ s->tau, 1, { rows } });
    scf_var *ctx = scf_graph_wrap(s->g, (scf_tensor){ s->ctx, 3, { rows, T, D } });
    return scf_model_velocity(m, s->g, x, tau, ctx);
}

/* Records the pass of a shape that has run plain before, so the graph's
 * memory and the workspace are already large enough, and launches it (a
 * recording computes nothing). FALSE when recording failed: then nothing ran. */
static gboolean record_pass(scf_sampler *s, int rows, step_recording *rec)
{
    scf_backend *be = s->m->be;
    scf_graph_reset(s->g);
    const guint64 epoch = scf_graph_memory_epoch(s->g);
    void *workspace = be->workspace;
    if (!be->graph_begin(be))
        return FALSE;
    scf_var *v = velocity_pass(s, rows);
    scf_backend_graph *graph = be->graph_end(be);
    /* an allocation inside fails the recording, and the memory must not
     * have moved under it */
    if (!v || !graph || scf_graph_memory_epoch(s->g) != epoch || be->workspace != workspace ||
        be->recording_epoch != rec->backend_epoch || !be->graph_launch(be, graph)) {
        if (graph)
            be->graph_free(be, graph);
        return FALSE;
    }
    rec->graph = graph;
    rec->v = v->value.data;
    rec->memory_epoch = epoch;
    rec->workspace = workspace;
    s->recorded++;
    return TRUE;
}

/* The fallback costs speed, not results: one notice per process. */
static void notice_plain_launches(const scf_backend *be)
{
    static gsize noticed;
    if (g_once_init_enter(&noticed)) {
        g_message("%s: recording the sampling steps as a graph failed; they run as plain "
                  "launches", be->name);
        g_once_init_leave(&noticed, 1);
    }
}

/* The velocity of the current step (device memory): replayed when this shape
 * has a recording whose memory is still in place, else recorded when the
 * shape has run plain before (which sized that memory), else run plain. */
static const float *step_velocity(scf_sampler *s, int rows, GError **error)
{
    scf_backend *be = s->m->be;
    step_recording *rec = s->replay ? g_hash_table_lookup(s->recordings, GINT_TO_POINTER(rows))
                                    : NULL;
    if (rec && rec->backend_epoch != be->recording_epoch) {
        /* the backend's own memory changed (a weight written since its
         * 16-bit copy was made...): a plain pass brings it up to date, where
         * nothing is recorded, and the next step records anew */
        g_hash_table_remove(s->recordings, GINT_TO_POINTER(rows));
        rec = NULL;
    }
    if (rec && rec->graph && rec->memory_epoch == scf_graph_memory_epoch(s->g) &&
        rec->workspace == be->workspace && be->graph_launch(be, rec->graph)) {
        s->replayed++;
        return rec->v;
    }
    if (rec && rec->graph) { /* its memory moved (or the launch failed): record anew */
        be->graph_free(be, rec->graph);
        rec->graph = NULL;
    }
    if (rec) {
        if (record_pass(s, rows, rec))
            return rec->v;
        notice_plain_launches(be);
        scf_sampler_set_graph_replay(s, FALSE);
    }
    scf_graph_reset(s->g);
    scf_var *v = velocity_pass(s, rows);
    if (!v) {
        scf_graph_check(s->g, error);
        return NULL;
    }
    if (s->replay && !g_hash_table_contains(s->recordings, GINT_TO_POINTER(rows))) {
        step_recording *sized = g_new0(step_recording, 1);
        sized->be = be;
        sized->backend_epoch = be->recording_epoch;
        g_hash_table_insert(s->recordings, GINT_TO_POINTER(rows), sized);
    }
    return v->value.data;
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
    const size_t ctx_n = (size_t)m->context_length * scf_clip_text_get_config(m->text)->hidden_size;
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

    for (int i = r->steps; i >= 1; i--) {
        if (guided) /* both halves see the same x */
            be->copy(be, s->x + (size_t)B * img, s->x, (size_t)B * img * sizeof(float));
        /* tau goes through device memory, so a replayed pass reads this step's */
        be->fill(be, s->tau, (float)i / (float)r->steps, (size_t)rows);
        const float *v = step_velocity(s, rows, error);
        if (!v)
            return FALSE;
        const float dt = 1.0f / (float)r->steps;
        if (guided) {
            /* x -= dt * (v_neg + w (v_c - v_neg)) = x - dt (1-w) v_neg - dt w v_c */
            be->axpy(be, s->x, v, -dt * (1.0f - r->guidance), (size_t)B * img);
            be->axpy(be, s->x, v + (size_t)B * img, -dt * r->guidance, (size_t)B * img);
        } else {
            be->axpy(be, s->x, v, -dt, (size_t)B * img);
        }
        if (progress && !progress(r->steps - i + 1, r->steps, user)) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_CANCELLED, "generation cancelled at step %d of %d",
                        r->steps - i + 1, r->steps);
            return FALSE;
        }
    }
    return decode(s, B, out, error);
}

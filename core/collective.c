#include "build-config.h"
#include "collective.h"
#include "device.h"
#include "error.h"
#include <string.h>
#if SCF_HAVE_NCCL
#include "cuda/collective_nccl.h"
#endif

/* The values of scf_collective_average and, last, the count of failed ranks. */
#define SLOTS (SCF_COLLECTIVE_MAX_VALUES + 1)

/* A reusable barrier for the host ranks (GLib has none; a round counter
 * tells a wake-up of this round from a late one of the last). */
typedef struct {
    GMutex lock;
    GCond cond;
    int waiting, world;
    guint64 round;
} barrier;

static void barrier_wait(barrier *b)
{
    g_mutex_lock(&b->lock);
    guint64 round = b->round;
    if (++b->waiting == b->world) {
        b->waiting = 0;
        b->round++;
        g_cond_broadcast(&b->cond);
    } else {
        while (b->round == round)
            g_cond_wait(&b->cond, &b->lock);
    }
    g_mutex_unlock(&b->lock);
}

typedef struct {
    scf_collective *c;
    int rank;
} rank_thread;

struct scf_collective {
    int world;
    scf_backend **bes;
    char *name;
    int cpu_threads;            /* OpenMP threads of each host rank */
#if SCF_HAVE_NCCL
    scf_nccl *nccl;             /* NULL: host ranks */
#endif
    /* the threads of ranks 1.. and the job they run */
    GThread **threads;
    rank_thread *args;
    GMutex lock;
    GCond cond;
    guint64 job;                /* bumped for every job */
    int running;                /* ranks 1.. still in the job */
    gboolean quit;
    scf_collective_fn fn;
    gpointer user;
    GError **errors;            /* per rank, of the current job */
    gboolean *failed, *peer_failed;
    gboolean *told;             /* per rank: the others know it failed */
    /* the host implementation's exchange */
    barrier bar;
    float **bufs;
    size_t *counts;
    double (*values)[SLOTS];
};

static gboolean is_nccl(const scf_collective *c)
{
#if SCF_HAVE_NCCL
    return c->nccl != NULL;
#else
    (void)c;
    return FALSE;
#endif
}

/* The rank's device current on this thread (CUDA's is per thread). */
static void bind_rank(scf_collective *c, int rank)
{
#if SCF_HAVE_NCCL
    if (c->nccl)
        scf_nccl_bind(c->nccl, rank);
#else
    (void)c;
    (void)rank;
#endif
}

static void run_rank(scf_collective *c, int rank)
{
    bind_rank(c, rank);
    c->failed[rank] = !c->fn(c, rank, c->user, &c->errors[rank]);
    /* the others wait at an exchange for word from this rank */
    if (c->failed[rank] && !c->told[rank])
        scf_collective_average(c, rank, FALSE, NULL, 0, NULL, 0, NULL);
}

static gpointer rank_main(gpointer data)
{
    rank_thread *a = data;
    scf_collective *c = a->c;
    /* a thread's OpenMP pool has its own size: host ranks share the cores */
    if (!is_nccl(c))
        scf_set_threads(c->cpu_threads);
    guint64 seen = 0;
    g_mutex_lock(&c->lock);
    for (;;) {
        while (c->job == seen && !c->quit)
            g_cond_wait(&c->cond, &c->lock);
        if (c->quit)
            break;
        seen = c->job;
        g_mutex_unlock(&c->lock);
        run_rank(c, a->rank);
        g_mutex_lock(&c->lock);
        if (--c->running == 0)
            g_cond_broadcast(&c->cond);
    }
    g_mutex_unlock(&c->lock);
    return NULL;
}

gboolean scf_collective_run(scf_collective *c, scf_collective_fn fn, gpointer user,
                            GError **error)
{
    if (!c || c->world == 1)
        return fn(c, 0, user, error);
    g_mutex_lock(&c->lock);
    c->fn = fn;
    c->user = user;
    c->running = c->world - 1;
    for (int r = 0; r < c->world; r++)
        c->failed[r] = c->peer_failed[r] = c->told[r] = FALSE;
    c->job++;
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
    run_rank(c, 0);
    g_mutex_lock(&c->lock);
    while (c->running > 0)
        g_cond_wait(&c->cond, &c->lock);
    g_mutex_unlock(&c->lock);
    /* the error of a rank that failed by itself explains the others' */
    int culprit = -1;
    for (int r = 0; r < c->world; r++)
        if (c->failed[r] && (culprit < 0 || (c->peer_failed[culprit] && !c->peer_failed[r])))
            culprit = r;
    if (culprit >= 0) {
        if (c->errors[culprit])
            g_propagate_error(error, g_steal_pointer(&c->errors[culprit]));
        else
            g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE, "%s failed",
                        c->bes[culprit]->name);
    }
    for (int r = 0; r < c->world; r++)
        g_clear_error(&c->errors[r]);
    return culprit < 0;
}

gboolean scf_collective_split_batch(const scf_collective *c, int batch, const char *what,
                                    int *slice, GError **error)
{
    const int world = scf_collective_world(c);
    if (batch % world != 0) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "%s: the batch size %d does not split evenly over the %d devices %s; "
                    "choose a multiple of %d", what, batch, world, c->name, world);
        return FALSE;
    }
    *slice = batch / world;
    return TRUE;
}

typedef struct {
    gpointer *replicas;
    GDestroyNotify free_fn;
} free_job;

static gboolean free_replica(scf_collective *c, int rank, gpointer user, GError **error)
{
    free_job *job = user;
    if (rank > 0 && job->replicas[rank - 1])
        job->free_fn(job->replicas[rank - 1]);
    return TRUE;
}

void scf_collective_free_replicas(scf_collective *c, gpointer *replicas, GDestroyNotify free_fn)
{
    if (!replicas)
        return;
    free_job job = { replicas, free_fn };
    scf_collective_run(c, free_replica, &job, NULL);
    g_free(replicas);
}

/* ---- the host implementation ---- */

/* Every rank's slots summed in rank order: the same sums on every rank. */
static void host_sum_values(scf_collective *c, int rank, double *slots)
{
    memcpy(c->values[rank], slots, sizeof c->values[rank]);
    barrier_wait(&c->bar);
    for (int i = 0; i < SLOTS; i++) {
        double s = 0;
        for (int r = 0; r < c->world; r++)
            s += c->values[r][i];
        slots[i] = s;
    }
    barrier_wait(&c->bar);
}

/* A reduce-scatter then an all-gather through shared memory: rank r sums
 * its chunk of every buffer in rank order into its own buffer, then copies
 * the other chunks from their owners. Each element is summed once, so all
 * ranks get the same bits. */
static gboolean host_all_reduce(scf_collective *c, int rank, float *buf, size_t n,
                                GError **error)
{
    const int W = c->world;
    c->bufs[rank] = buf;
    c->counts[rank] = n;
    barrier_wait(&c->bar);
    gboolean same = TRUE;
    for (int r = 0; r < W; r++)
        same &= c->counts[r] == n;
    if (!same) {
        /* every rank sees the same counts, so all leave here together */
        barrier_wait(&c->bar);
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "%s: the ranks' buffers to sum differ in length", c->bes[rank]->name);
        return FALSE;
    }
    const size_t lo = n * (size_t)rank / (size_t)W, hi = n * (size_t)(rank + 1) / (size_t)W;
    for (size_t i = lo; i < hi; i++) {
        float s = c->bufs[0][i];
        for (int r = 1; r < W; r++)
            s += c->bufs[r][i];
        buf[i] = s;
    }
    barrier_wait(&c->bar);
    for (int r = 0; r < W; r++) {
        const size_t a = n * (size_t)r / (size_t)W, b = n * (size_t)(r + 1) / (size_t)W;
        if (r != rank)
            memcpy(buf + a, c->bufs[r] + a, (b - a) * sizeof(float));
    }
    /* the owners' chunks are read until every rank is here */
    barrier_wait(&c->bar);
    return TRUE;
}

/* Rank 0's buffer copied into every other rank's. */
static gboolean host_broadcast(scf_collective *c, int rank, float *buf, size_t n, GError **error)
{
    c->bufs[rank] = buf;
    c->counts[rank] = n;
    barrier_wait(&c->bar);
    const gboolean same = c->counts[0] == n;
    if (same && rank > 0)
        memcpy(buf, c->bufs[0], n * sizeof(float));
    /* rank 0's buffer is read until every rank is here */
    barrier_wait(&c->bar);
    if (!same)
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "%s: the buffer to broadcast differs in length from rank 0's",
                    c->bes[rank]->name);
    return same;
}

gboolean scf_collective_has_nccl(void)
{
    return SCF_HAVE_NCCL;
}

/* ---- the collective calls ---- */

gboolean scf_collective_all_reduce_sum(scf_collective *c, int rank, float *buf, size_t n,
                                       GError **error)
{
    if (!c || c->world == 1)
        return TRUE;
#if SCF_HAVE_NCCL
    if (c->nccl)
        return scf_nccl_sum_floats(c->nccl, rank, buf, n, error);
#endif
    return host_all_reduce(c, rank, buf, n, error);
}

gboolean scf_collective_broadcast(scf_collective *c, int rank, float *buf, size_t n,
                                  GError **error)
{
    if (!c || c->world == 1)
        return TRUE;
#if SCF_HAVE_NCCL
    if (c->nccl)
        return scf_nccl_broadcast_floats(c->nccl, rank, buf, n, error);
#endif
    return host_broadcast(c, rank, buf, n, error);
}

static gboolean sum_values(scf_collective *c, int rank, double *slots, GError **error)
{
#if SCF_HAVE_NCCL
    if (c->nccl)
        return scf_nccl_sum_doubles(c->nccl, rank, slots, SLOTS, error);
#endif
    (void)error;
    host_sum_values(c, rank, slots);
    return TRUE;
}

gboolean scf_collective_average(scf_collective *c, int rank, gboolean ok, double *values,
                                int n_values, float *grad, size_t n, GError **error)
{
    if (!c || c->world == 1)
        return ok;
    g_return_val_if_fail(n_values >= 0 && n_values <= SCF_COLLECTIVE_MAX_VALUES, FALSE);
    /* A failed rank still takes part in one exchange, which tells the others
     * to stop: whichever exchange they are at, it is the same call. */
    double slots[SLOTS] = { 0 };
    if (ok)
        memcpy(slots, values, (size_t)n_values * sizeof(double));
    slots[SLOTS - 1] = ok ? 0 : 1;
    gboolean exchanged = sum_values(c, rank, slots, ok ? error : NULL);
    c->told[rank] = !ok || !exchanged;
    if (!exchanged || !ok)
        return FALSE;
    if (slots[SLOTS - 1] > 0) {
        c->told[rank] = c->peer_failed[rank] = TRUE;
        g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE, "%s: stopped because another device failed",
                    c->bes[rank]->name);
        return FALSE;
    }
    for (int i = 0; i < n_values; i++)
        values[i] = slots[i] / c->world;
    if (n == 0)
        return TRUE;
    if (!scf_collective_all_reduce_sum(c, rank, grad, n, error))
        return FALSE;
    scf_backend *be = c->bes[rank];
    be->scale(be, grad, grad, 1.0f / (float)c->world, n);
    return TRUE;
}

/* ---- opening and closing ---- */

int scf_collective_world(const scf_collective *c)
{
    return c ? c->world : 1;
}

scf_backend *scf_collective_backend(const scf_collective *c, int rank)
{
    return c->bes[rank];
}

const char *scf_collective_name(const scf_collective *c)
{
    return c->name;
}

char *scf_collective_gpu_list(int n)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < n; i++)
        g_string_append_printf(s, "%scuda:%d", i ? "," : "", i);
    return g_string_free(s, FALSE);
}

void scf_collective_free(scf_collective *c)
{
    if (!c)
        return;
    g_mutex_lock(&c->lock);
    c->quit = TRUE;
    g_cond_broadcast(&c->cond);
    g_mutex_unlock(&c->lock);
    for (int r = 1; r < c->world; r++)
        if (c->threads[r])
            g_thread_join(c->threads[r]);
    for (int r = 0; r < c->world; r++) {
        if (!c->bes[r])
            continue;
        bind_rank(c, r);   /* cuBLAS handles go on their own device */
        scf_backend_free(c->bes[r]);
    }
#if SCF_HAVE_NCCL
    scf_nccl_free(c->nccl);
#endif
    g_mutex_clear(&c->lock);
    g_cond_clear(&c->cond);
    g_mutex_clear(&c->bar.lock);
    g_cond_clear(&c->bar.cond);
    g_free(c->bes);
    g_free(c->name);
    g_free(c->threads);
    g_free(c->args);
    g_free(c->errors);
    g_free(c->failed);
    g_free(c->peer_failed);
    g_free(c->told);
    g_free(c->bufs);
    g_free(c->counts);
    g_free(c->values);
    g_free(c);
}

static scf_collective *collective_alloc(int world)
{
    scf_collective *c = g_new0(scf_collective, 1);
    c->world = world;
    c->bes = g_new0(scf_backend *, world);
    c->threads = g_new0(GThread *, world);
    c->args = g_new0(rank_thread, world);
    c->errors = g_new0(GError *, world);
    c->failed = g_new0(gboolean, world);
    c->peer_failed = g_new0(gboolean, world);
    c->told = g_new0(gboolean, world);
    c->bufs = g_new0(float *, world);
    c->counts = g_new0(size_t, world);
    c->values = g_malloc0_n((gsize)world, sizeof *c->values);
    g_mutex_init(&c->lock);
    g_cond_init(&c->cond);
    g_mutex_init(&c->bar.lock);
    g_cond_init(&c->bar.cond);
    c->bar.world = world;
    return c;
}

/* The NCCL communicators of a world of GPUs ("cuda:N" backends). */
static gboolean open_nccl(scf_collective *c, GError **error)
{
#if SCF_HAVE_NCCL
    int *devices = g_new(int, c->world);
    for (int r = 0; r < c->world; r++)
        devices[r] = atoi(c->bes[r]->name + strlen("cuda:"));
    c->nccl = scf_nccl_new(devices, c->world, error);
    g_free(devices);
    return c->nccl != NULL;
#else
    g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED,
                "devices %s: training on several GPUs needs NCCL, which this build does not "
                "have (install NCCL beside CUDA and reconfigure)", c->name);
    return FALSE;
#endif
}

/* The GPU index of a "cuda" or "cuda:N" spec, -1 for anything else (which
 * scf_device_open judges). */
static int cuda_index(const char *spec)
{
    if (strcmp(spec, "cuda") == 0)
        return 0;
    if (strncmp(spec, "cuda:", 5) != 0 || !g_ascii_isdigit(spec[5]))
        return -1;
    char *end = NULL;
    gint64 v = g_ascii_strtoll(spec + 5, &end, 10);
    return *end || v > 1023 ? -1 : (int)v;
}

/* The list as a whole, before any device is opened. */
static gboolean check_list(const scf_collective *c, char **specs, GError **error)
{
    for (int r = 0; r < c->world; r++) {
        if (strcmp(specs[r], "auto") == 0) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                        "devices %s: name each device of a list (cpu, cuda:N); auto is for one "
                        "device", c->name);
            return FALSE;
        }
        /* unknown names are left to scf_device_open to explain */
        const int gpu = cuda_index(specs[r]);
        for (int q = 0; q < r; q++) {
            const int other = cuda_index(specs[q]);
            if ((gpu >= 0 && strcmp(specs[q], "cpu") == 0) ||
                (other >= 0 && strcmp(specs[r], "cpu") == 0)) {
                g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                            "devices %s: %s and %s cannot share a run; list only GPUs or only "
                            "cpu", c->name, specs[q], specs[r]);
                return FALSE;
            }
            if (gpu >= 0 && other == gpu) {
                g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                            "devices %s: cuda:%d is listed twice", c->name, gpu);
                return FALSE;
            }
        }
    }
    return TRUE;
}

/* Opens every device of a checked list; host ranks share the threads. */
static gboolean open_devices(scf_collective *c, char **specs, int threads, GError **error)
{
    const int cores = threads > 0 ? threads : (int)g_get_num_processors();
    c->cpu_threads = MAX(1, cores / c->world);
    for (int r = 0; r < c->world; r++)
        if (!(c->bes[r] = scf_device_open(specs[r], c->cpu_threads, NULL, error)))
            return FALSE;
    return c->bes[0]->kind == SCF_DEVICE_CPU || open_nccl(c, error);
}

static gboolean start_threads(scf_collective *c, GError **error)
{
    for (int r = 1; r < c->world; r++) {
        c->args[r] = (rank_thread){ c, r };
        g_autofree char *name = g_strdup_printf("scf-rank-%d", r);
        GError *e = NULL;
        c->threads[r] = g_thread_try_new(name, rank_main, &c->args[r], &e);
        if (!c->threads[r]) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM, "devices %s: cannot start a thread "
                        "for %s: %s", c->name, c->bes[r]->name, e->message);
            g_error_free(e);
            return FALSE;
        }
    }
    return TRUE;
}

scf_collective *scf_collective_open(const char *devices, int threads, char **notice,
                                    GError **error)
{
    if (notice)
        *notice = NULL;
    if (!devices || !*devices)
        devices = "auto";
    g_auto(GStrv) specs = g_strsplit(devices, ",", -1);
    const int world = (int)g_strv_length(specs);
    for (int r = 0; r < world; r++) {
        g_strstrip(specs[r]);
        if (!*specs[r]) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                        "devices '%s': an empty entry in the list", devices);
            return NULL;
        }
    }
    scf_collective *c = collective_alloc(world);
    c->name = g_strjoinv(",", specs);
    gboolean ok;
    if (world == 1) {
        c->bes[0] = scf_device_open(specs[0], threads, notice, error);
        ok = c->bes[0] != NULL;
    } else {
        ok = check_list(c, specs, error) && open_devices(c, specs, threads, error) &&
             start_threads(c, error);
    }
    if (!ok) {
        scf_collective_free(c);
        return NULL;
    }
    g_free(c->name);
    GString *names = g_string_new(NULL);
    for (int r = 0; r < world; r++)
        g_string_append_printf(names, "%s%s", r ? "," : "", c->bes[r]->name);
    c->name = g_string_free(names, FALSE);
    /* opening GPUs one after another left the last one current */
    bind_rank(c, 0);
    return c;
}

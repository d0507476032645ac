#define _GNU_SOURCE   /* memfd_create */
#include "remote-backend.h"
#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef struct {
    char *dev;       /* PROT_NONE view: the address callers hold */
    char *rw;        /* read-write view of the same pages */
    size_t bytes;    /* as asked */
    size_t mapped;   /* whole pages */
} region;

typedef struct {
    scf_backend *cpu;
    GArray *regions; /* region, sorted by dev, for range lookups of interior pointers */
    size_t live;
    GMutex lock;
    GArray *recording;       /* rb_call, between graph_begin and graph_end; else NULL */
    gboolean fail_recordings; /* rb_backend_fail_recordings */
} remote;

/* ---- recordings ----
 * Between graph_begin and graph_end every entry of the table stores its
 * arguments as it got them (device addresses, host scalars) with the
 * function that calls it again, and runs nothing; graph_launch makes those
 * calls in order. What a CUDA capture cannot hold aborts with the entry
 * named: allocating or freeing memory, and anything that reaches the host. */

typedef union {
    void *p;
    int v_int;
    size_t v_size_t;
    float v_float;
    scf_activation v_scf_activation;
    int64_t v_int64_t;
    uint64_t v_uint64_t;
} rb_slot;

typedef struct {
    void (*replay)(scf_backend *be, const rb_slot *args);
    rb_slot args[14];
} rb_call;

struct scf_backend_graph {
    GArray *calls;   /* rb_call */
};

static remote *remote_of(scf_backend *be)
{
    return be->ctx;
}

/* Aborts when a recording runs: op cannot be part of one. */
static void outside_recording(scf_backend *be, const char *op)
{
    if (remote_of(be)->recording)
        g_error("remote backend: %s inside a graph recording, which cannot hold it", op);
}

/* Appends call to the running recording; FALSE when none runs. */
static gboolean recorded(scf_backend *be, rb_call call)
{
    remote *r = remote_of(be);
    if (!r->recording)
        return FALSE;
    g_array_append_val(r->recording, call);
    return TRUE;
}

/* Index of the region with the largest start <= p, or -1. */
static int find_region(const remote *r, const char *p)
{
    int lo = 0, hi = (int)r->regions->len - 1, found = -1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (g_array_index(r->regions, region, mid).dev <= p) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

/* The read-write address of device pointer p, which must have bytes of its
 * allocation after it (0 for kernel arguments, whose extent only the kernel
 * knows: then p may be one past the end, as an empty tensor's is). */
static void *rw_of(scf_backend *be, const void *p, size_t bytes, const char *op, const char *arg)
{
    if (!p)
        return NULL;
    remote *r = remote_of(be);
    const char *c = p;
    g_mutex_lock(&r->lock);
    int i = find_region(r, c);
    region g = i >= 0 ? g_array_index(r->regions, region, i) : (region){ 0 };
    g_mutex_unlock(&r->lock);
    size_t offset = (size_t)(c - g.dev);
    if (!g.dev || offset > g.bytes)
        g_error("remote backend: %s: %s = %p is not device memory", op, arg, p);
    if (bytes > g.bytes - offset)
        g_error("remote backend: %s: %s = %p: %zu bytes do not fit an allocation of %zu "
                "(%zu left)", op, arg, p, bytes, g.bytes, g.bytes - offset);
    return g.rw + offset;
}

/* ---- faults ---- */

/* Live remote backends, for the fault handler; it reads them without the
 * locks, as the process is dying. */
static GSList *all_remotes;
G_LOCK_DEFINE_STATIC(all_remotes);

/* Says whether a segmentation fault hit device memory and where the host
 * code was (backtrace), then lets the default action end the process. */
static void on_fault(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    const char *addr = info->si_addr;
    const region *hit = NULL;
    for (GSList *l = all_remotes; l && !hit; l = l->next) {
        const remote *r = l->data;
        int i = find_region(r, addr);
        const region *g = i >= 0 ? &g_array_index(r->regions, region, i) : NULL;
        if (g && addr < g->dev + g->mapped)
            hit = g;
    }
    char msg[256];
    int len = hit ? snprintf(msg, sizeof msg, "remote backend: host code touched device memory at "
                             "%p (byte %zu of an allocation of %zu); backtrace:\n",
                             (const void *)addr, (size_t)(addr - hit->dev), hit->bytes)
                  : snprintf(msg, sizeof msg, "remote backend: segmentation fault at %p, not "
                             "device memory; backtrace:\n", (const void *)addr);
    if (write(STDERR_FILENO, msg, (size_t)MIN(len, (int)sizeof msg - 1)) < 0)
        return;
    void *frames[64];
    backtrace_symbols_fd(frames, backtrace(frames, G_N_ELEMENTS(frames)), STDERR_FILENO);
    /* SA_RESETHAND restored the default action: the access faults again and ends the process */
}

static void install_fault_handler(void)
{
    static gsize done;
    if (!g_once_init_enter(&done))
        return;
    void *frame;
    backtrace(&frame, 1);   /* loads libgcc now: the handler must not */
    struct sigaction sa = { 0 };
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    g_once_init_leave(&done, 1);
}

/* ---- memory ---- */

static void unmap(const region *g)
{
    if (g->dev && g->dev != MAP_FAILED)
        munmap(g->dev, g->mapped);
    if (g->rw && g->rw != MAP_FAILED)
        munmap(g->rw, g->mapped);
}

static void *remote_alloc(scf_backend *be, size_t bytes)
{
    outside_recording(be, "alloc");
    remote *r = remote_of(be);
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    region g = { NULL, NULL, bytes, (MAX(bytes, 1) + page - 1) / page * page };
    int fd = memfd_create("scf-remote", MFD_CLOEXEC);
    if (fd < 0)
        return NULL;
    if (ftruncate(fd, (off_t)g.mapped) == 0) {
        g.rw = mmap(NULL, g.mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        g.dev = mmap(NULL, g.mapped, PROT_NONE, MAP_SHARED, fd, 0);
    }
    close(fd);   /* the mappings keep the memory */
    if (!g.rw || g.rw == MAP_FAILED || !g.dev || g.dev == MAP_FAILED) {
        unmap(&g);
        return NULL;
    }
    memset(g.rw, 0xFF, g.mapped);
    g_mutex_lock(&r->lock);
    g_array_insert_val(r->regions, (guint)(find_region(r, g.dev) + 1), g);
    r->live += bytes;
    g_mutex_unlock(&r->lock);
    return g.dev;
}

static void remote_free(scf_backend *be, void *ptr)
{
    if (!ptr)
        return;
    outside_recording(be, "free");
    remote *r = remote_of(be);
    g_mutex_lock(&r->lock);
    int i = find_region(r, ptr);
    gboolean start = i >= 0 && g_array_index(r->regions, region, i).dev == ptr;
    region g = start ? g_array_index(r->regions, region, i) : (region){ 0 };
    if (start) {
        g_array_remove_index(r->regions, (guint)i);
        r->live -= g.bytes;
    }
    g_mutex_unlock(&r->lock);
    if (!start)
        g_error("remote backend: free: %p is not the start of an allocation", ptr);
    unmap(&g);
}

static void remote_upload(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    outside_recording(be, "upload");
    memcpy(rw_of(be, dst, bytes, "upload", "dst"), src, bytes);
}

static void remote_download(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    outside_recording(be, "download");
    memcpy(dst, rw_of(be, src, bytes, "download", "src"), bytes);
}

static void replay_copy(scf_backend *be, const rb_slot *a);
static void replay_zero(scf_backend *be, const rb_slot *a);

static void remote_copy(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    if (recorded(be, (rb_call){ replay_copy, { { .p = dst }, { .p = (void *)src },
                                               { .v_size_t = bytes } } }))
        return;
    memcpy(rw_of(be, dst, bytes, "copy", "dst"), rw_of(be, src, bytes, "copy", "src"), bytes);
}

static void remote_zero(scf_backend *be, void *dst, size_t bytes)
{
    if (recorded(be, (rb_call){ replay_zero, { { .p = dst }, { .v_size_t = bytes } } }))
        return;
    memset(rw_of(be, dst, bytes, "zero", "dst"), 0, bytes);
}

static void replay_copy(scf_backend *be, const rb_slot *a)
{
    remote_copy(be, a[0].p, a[1].p, a[2].v_size_t);
}

static void replay_zero(scf_backend *be, const rb_slot *a)
{
    remote_zero(be, a[0].p, a[1].v_size_t);
}

static void remote_synchronize(scf_backend *be)
{
    outside_recording(be, "synchronize");
}

static gboolean remote_graph_begin(scf_backend *be)
{
    remote *r = remote_of(be);
    if (r->recording)
        return FALSE;
    r->recording = g_array_new(FALSE, FALSE, sizeof(rb_call));
    return TRUE;
}

static scf_backend_graph *remote_graph_end(scf_backend *be)
{
    remote *r = remote_of(be);
    GArray *calls = r->recording;
    r->recording = NULL;
    if (r->fail_recordings) {
        g_array_free(calls, TRUE);
        return NULL;
    }
    scf_backend_graph *graph = g_new(scf_backend_graph, 1);
    graph->calls = calls;
    return graph;
}

static gboolean remote_graph_launch(scf_backend *be, scf_backend_graph *graph)
{
    for (guint i = 0; i < graph->calls->len; i++) {
        const rb_call *c = &g_array_index(graph->calls, rb_call, i);
        c->replay(be, c->args);
    }
    return TRUE;
}

static void remote_graph_free(scf_backend *be, scf_backend_graph *graph)
{
    (void)be;
    g_array_free(graph->calls, TRUE);
    g_free(graph);
}

void rb_backend_fail_recordings(scf_backend *be, gboolean fail)
{
    remote_of(be)->fail_recordings = fail;
}

static void remote_destroy(scf_backend *be)
{
    remote *r = remote_of(be);
    for (guint i = 0; i < r->regions->len; i++)
        unmap(&g_array_index(r->regions, region, i));
    g_array_free(r->regions, TRUE);
    g_mutex_clear(&r->lock);
    G_LOCK(all_remotes);
    all_remotes = g_slist_remove(all_remotes, r);
    G_UNLOCK(all_remotes);
    scf_backend_free(r->cpu);
    g_free(r);
    g_free(be);
}

size_t rb_backend_live_bytes(scf_backend *be)
{
    remote *r = remote_of(be);
    g_mutex_lock(&r->lock);
    size_t live = r->live;
    g_mutex_unlock(&r->lock);
    return live;
}

/* ---- kernels ----
 * Each kernel is listed once with its parameters as (kind, type, name):
 * kind P is a device pointer, translated to the read-write view; V a value
 * passed as it is. From the list come the wrapper's parameter list, its
 * call of the CPU backend's entry of the same name, and its recording: each
 * argument in a slot of the call (m gets the slot index and the triple). */

#define RB_MAP1(m, x) m(0, x)
#define RB_MAP2(m, x, ...) m(1, x), RB_MAP1(m, __VA_ARGS__)
#define RB_MAP3(m, x, ...) m(2, x), RB_MAP2(m, __VA_ARGS__)
#define RB_MAP4(m, x, ...) m(3, x), RB_MAP3(m, __VA_ARGS__)
#define RB_MAP5(m, x, ...) m(4, x), RB_MAP4(m, __VA_ARGS__)
#define RB_MAP6(m, x, ...) m(5, x), RB_MAP5(m, __VA_ARGS__)
#define RB_MAP7(m, x, ...) m(6, x), RB_MAP6(m, __VA_ARGS__)
#define RB_MAP8(m, x, ...) m(7, x), RB_MAP7(m, __VA_ARGS__)
#define RB_MAP9(m, x, ...) m(8, x), RB_MAP8(m, __VA_ARGS__)
#define RB_MAP10(m, x, ...) m(9, x), RB_MAP9(m, __VA_ARGS__)
#define RB_MAP11(m, x, ...) m(10, x), RB_MAP10(m, __VA_ARGS__)
#define RB_MAP12(m, x, ...) m(11, x), RB_MAP11(m, __VA_ARGS__)
#define RB_MAP13(m, x, ...) m(12, x), RB_MAP12(m, __VA_ARGS__)
#define RB_MAP14(m, x, ...) m(13, x), RB_MAP13(m, __VA_ARGS__)
#define RB_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, name, ...) name
#define RB_MAP(m, ...)                                                                      \
    RB_PICK(__VA_ARGS__, RB_MAP14, RB_MAP13, RB_MAP12, RB_MAP11, RB_MAP10, RB_MAP9, RB_MAP8, \
            RB_MAP7, RB_MAP6, RB_MAP5, RB_MAP4, RB_MAP3, RB_MAP2, RB_MAP1, )(m, __VA_ARGS__)

/* m(i, (kind, type, name)) -> m_(i, kind, type, name) */
#define RB_SPREAD(...) __VA_ARGS__
#define RB_APPLY(m, ...) m(__VA_ARGS__)
#define RB_PARAM(i, x) RB_APPLY(RB_PARAM_, i, RB_SPREAD x)
#define RB_PARAM_(i, kind, type, name) type name
#define RB_ARG(i, x) RB_APPLY(RB_ARG_, i, RB_SPREAD x)
#define RB_ARG_(i, kind, type, name) RB_ARG_##kind(type, name)
#define RB_ARG_V(type, name) name
#define RB_ARG_P(type, name) (type)rw_of(be, name, 0, op, #name)
/* slot i of a recorded call: .p for pointers, .v_<type> for values */
#define RB_STORE(i, x) RB_APPLY(RB_STORE_, i, RB_SPREAD x)
#define RB_STORE_(i, kind, type, name) [i] = RB_STORE_##kind(type, name)
#define RB_STORE_P(type, name) { .p = (void *)(name) }
#define RB_STORE_V(type, name) { .v_##type = (name) }
#define RB_LOAD(i, x) RB_APPLY(RB_LOAD_, i, RB_SPREAD x)
#define RB_LOAD_(i, kind, type, name) RB_LOAD_##kind(i, type)
#define RB_LOAD_P(i, type) (type)a[i].p
#define RB_LOAD_V(i, type) a[i].v_##type

#define RB_CALL(name, ...) cpu->name(cpu, RB_MAP(RB_ARG, __VA_ARGS__))
#define RB_WRAPPER(ret, name, ...)                                            \
    static ret remote_##name(scf_backend *be, RB_MAP(RB_PARAM, __VA_ARGS__)) \
    {                                                                         \
        static const char op[] = #name;                                       \
        scf_backend *cpu = remote_of(be)->cpu;

#define RB_VOID(name, ...)                                                                   \
    static void replay_##name(scf_backend *be, const rb_slot *a);                           \
    RB_WRAPPER(void, name, __VA_ARGS__)                                                      \
        if (recorded(be, (rb_call){ replay_##name, { RB_MAP(RB_STORE, __VA_ARGS__) } }))     \
            return;                                                                          \
        RB_CALL(name, __VA_ARGS__);                                                          \
    }                                                                                        \
    static void replay_##name(scf_backend *be, const rb_slot *a)                            \
    {                                                                                        \
        remote_##name(be, RB_MAP(RB_LOAD, __VA_ARGS__));                                     \
    }
/* results reach the host: never inside a recording */
#define RB_RETURNS(ret, name, ...)                                                           \
    RB_WRAPPER(ret, name, __VA_ARGS__)                                                       \
        outside_recording(be, op);                                                           \
        return RB_CALL(name, __VA_ARGS__);                                                   \
    }

#define F(name) (P, float *, name)
#define CF(name) (P, const float *, name)
#define I(name) (V, int, name)
#define N(name) (V, size_t, name)
#define R(name) (V, float, name)

#define RB_KERNELS(VOID, RETURNS)                                                                \
    VOID(linear_forward, F(out), CF(in), CF(w), CF(b), I(M), I(K), I(N))                         \
    VOID(linear_backward, F(din), F(dw), F(db), CF(dout), CF(in), CF(w), I(M), I(K), I(N))       \
    VOID(conv2d_forward, F(out), CF(in), CF(w), CF(b), I(B), I(Cin), I(H), I(W), I(Cout), I(k),  \
         I(stride), I(pad))                                                                      \
    VOID(conv2d_backward, F(din), F(dw), F(db), CF(dout), CF(in), CF(w), I(B), I(Cin), I(H),     \
         I(W), I(Cout), I(k), I(stride), I(pad))                                                 \
    VOID(group_norm_forward, F(out), F(mean), F(rstd), CF(x), CF(gamma), CF(beta), I(B), I(C),   \
         I(HW), I(G), R(eps), I(silu))                                                           \
    VOID(group_norm_backward, F(dx), F(dgamma), F(dbeta), CF(dout), CF(x), CF(mean), CF(rstd),   \
         CF(gamma), CF(beta), I(B), I(C), I(HW), I(G), I(silu))                                  \
    VOID(layer_norm_forward, F(out), F(mean), F(rstd), CF(x), CF(gamma), CF(beta), I(M), I(C),   \
         R(eps))                                                                                 \
    VOID(layer_norm_backward, F(dx), F(dgamma), F(dbeta), CF(dout), CF(x), CF(mean), CF(rstd),   \
         CF(gamma), I(M), I(C))                                                                  \
    VOID(activation_forward, F(out), CF(x), N(n), (V, scf_activation, act))                      \
    VOID(activation_backward, F(dx), CF(dout), CF(x), N(n), (V, scf_activation, act))           \
    VOID(geglu_forward, F(out), CF(x), I(M), I(N))                                               \
    VOID(geglu_backward, F(dx), CF(dout), CF(x), I(M), I(N))                                     \
    VOID(softmax_forward, F(out), CF(x), I(M), I(N))                                             \
    VOID(softmax_backward, F(dx), CF(dout), CF(out), I(M), I(N))                                 \
    VOID(attention_forward, F(out), F(probs), CF(q), CF(k), CF(v), I(B), I(Tq), I(Tk), I(H),     \
         I(D), I(causal))                                                                        \
    VOID(attention_backward, F(dq), F(dk), F(dv), CF(dout), CF(q), CF(k), CF(v), CF(probs),      \
         I(B), I(Tq), I(Tk), I(H), I(D))                                                         \
    VOID(upsample2x_forward, F(out), CF(x), I(N), I(H), I(W))                                    \
    VOID(upsample2x_backward, F(dx), CF(dout), I(N), I(H), I(W))                                 \
    VOID(timestep_embedding, F(out), CF(t), I(B), I(dim), I(flip_sin_to_cos), R(freq_shift))     \
    VOID(embedding_forward, F(out), (P, const int32_t *, ids), CF(table), I(N), I(D))            \
    VOID(embedding_backward, F(dtable), CF(dout), (P, const int32_t *, ids), I(N), I(D))         \
    VOID(concat_forward, F(out), CF(a), CF(b), I(B), I(Ca), I(Cb), I(S))                         \
    VOID(concat_backward, F(da), F(db), CF(dout), I(B), I(Ca), I(Cb), I(S))                      \
    VOID(add, F(out), CF(a), CF(b), N(n))                                                        \
    VOID(mul, F(out), CF(a), CF(b), N(n))                                                        \
    VOID(mul_backward, F(da), F(db), CF(dout), CF(a), CF(b), N(n))                               \
    VOID(scale, F(out), CF(x), R(s), N(n))                                                       \
    VOID(axpy, F(y), CF(x), R(a), N(n))                                                          \
    VOID(fill, F(x), R(value), N(n))                                                             \
    VOID(add_channel_forward, F(x), CF(v), I(B), I(C), I(S))                                     \
    VOID(add_channel_backward, F(dv), CF(dout), I(B), I(C), I(S))                                \
    RETURNS(double, sum_squares, CF(x), N(n))                                                    \
    VOID(batch_scale_forward, F(out), CF(x), CF(s), I(B), I(S))                                  \
    VOID(batch_scale_backward, F(dx), F(ds), CF(dout), CF(x), CF(s), I(B), I(S))                 \
    VOID(transpose, F(out), CF(x), I(B), I(R), I(C), I(accumulate))                              \
    RETURNS(float, mse_forward, CF(a), CF(b), N(n))                                              \
    VOID(mse_backward, F(da), CF(a), CF(b), N(n), R(dloss))                                      \
    RETURNS(float, pseudo_huber_forward, CF(a), CF(b), N(n), R(c))                               \
    VOID(pseudo_huber_backward, F(da), CF(a), CF(b), N(n), R(c), R(dloss))                       \
    VOID(softplus_forward, F(out), CF(x), N(n))                                                  \
    VOID(softplus_backward, F(dx), CF(dout), CF(x), N(n))                                        \
    RETURNS(float, gan_logistic_forward, CF(x), N(n), R(sign))                                   \
    VOID(gan_logistic_backward, F(dx), CF(x), N(n), R(sign), R(dloss))                           \
    VOID(adamw_update, F(param), CF(grad), F(m), F(v), N(n), R(lr), R(beta1), R(beta2), R(eps),  \
         R(weight_decay), (V, int64_t, t))                                                       \
    VOID(ema_update, F(ema), CF(param), N(n), R(decay))                                          \
    VOID(rng_normal, F(out), N(n), (V, uint64_t, seed), (V, uint64_t, offset))                   \
    VOID(rng_uniform, F(out), N(n), (V, uint64_t, seed), (V, uint64_t, offset))

RB_KERNELS(RB_VOID, RB_RETURNS)

#define RB_SET_VOID(name, ...) be->name = remote_##name;
#define RB_SET_RETURNS(ret, name, ...) be->name = remote_##name;

scf_backend *rb_backend_new(void)
{
    install_fault_handler();
    remote *r = g_new0(remote, 1);
    r->cpu = scf_backend_cpu_new(0);
    r->regions = g_array_new(FALSE, FALSE, sizeof(region));
    g_mutex_init(&r->lock);
    G_LOCK(all_remotes);
    all_remotes = g_slist_prepend(all_remotes, r);
    G_UNLOCK(all_remotes);
    scf_backend *be = g_new0(scf_backend, 1);
    be->name = "remote";
    /* a device whose memory the host cannot read: code that takes a
     * shortcut for the CPU must not take it here */
    be->kind = SCF_DEVICE_CUDA;
    be->ctx = r;
    be->alloc = remote_alloc;
    be->free = remote_free;
    be->upload = remote_upload;
    be->download = remote_download;
    be->copy = remote_copy;
    be->zero = remote_zero;
    be->synchronize = remote_synchronize;
    be->destroy = remote_destroy;
    be->graph_begin = remote_graph_begin;
    be->graph_end = remote_graph_end;
    be->graph_launch = remote_graph_launch;
    be->graph_free = remote_graph_free;
    RB_KERNELS(RB_SET_VOID, RB_SET_RETURNS)
    return be;
}

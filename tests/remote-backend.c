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
} remote;

static remote *remote_of(scf_backend *be)
{
    return be->ctx;
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
    memcpy(rw_of(be, dst, bytes, "upload", "dst"), src, bytes);
}

static void remote_download(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    memcpy(dst, rw_of(be, src, bytes, "download", "src"), bytes);
}

static void remote_copy(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    memcpy(rw_of(be, dst, bytes, "copy", "dst"), rw_of(be, src, bytes, "copy", "src"), bytes);
}

static void remote_zero(scf_backend *be, void *dst, size_t bytes)
{
    memset(rw_of(be, dst, bytes, "zero", "dst"), 0, bytes);
}

static void remote_synchronize(scf_backend *be)
{
    (void)be;
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
 * passed as it is. From the list come the wrapper's parameter list and its
 * call of the CPU backend's entry of the same name. */

#define RB_MAP1(m, x) m x
#define RB_MAP2(m, x, ...) m x, RB_MAP1(m, __VA_ARGS__)
#define RB_MAP3(m, x, ...) m x, RB_MAP2(m, __VA_ARGS__)
#define RB_MAP4(m, x, ...) m x, RB_MAP3(m, __VA_ARGS__)
#define RB_MAP5(m, x, ...) m x, RB_MAP4(m, __VA_ARGS__)
#define RB_MAP6(m, x, ...) m x, RB_MAP5(m, __VA_ARGS__)
#define RB_MAP7(m, x, ...) m x, RB_MAP6(m, __VA_ARGS__)
#define RB_MAP8(m, x, ...) m x, RB_MAP7(m, __VA_ARGS__)
#define RB_MAP9(m, x, ...) m x, RB_MAP8(m, __VA_ARGS__)
#define RB_MAP10(m, x, ...) m x, RB_MAP9(m, __VA_ARGS__)
#define RB_MAP11(m, x, ...) m x, RB_MAP10(m, __VA_ARGS__)
#define RB_MAP12(m, x, ...) m x, RB_MAP11(m, __VA_ARGS__)
#define RB_MAP13(m, x, ...) m x, RB_MAP12(m, __VA_ARGS__)
#define RB_MAP14(m, x, ...) m x, RB_MAP13(m, __VA_ARGS__)
#define RB_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, name, ...) name
#define RB_MAP(m, ...)                                                                      \
    RB_PICK(__VA_ARGS__, RB_MAP14, RB_MAP13, RB_MAP12, RB_MAP11, RB_MAP10, RB_MAP9, RB_MAP8, \
            RB_MAP7, RB_MAP6, RB_MAP5, RB_MAP4, RB_MAP3, RB_MAP2, RB_MAP1, )(m, __VA_ARGS__)

#define RB_PARAM(kind, type, name) type name
#define RB_ARG(kind, type, name) RB_ARG_##kind(type, name)
#define RB_ARG_V(type, name) name
#define RB_ARG_P(type, name) (type)rw_of(be, name, 0, op, #name)

#define RB_CALL(name, ...) cpu->name(cpu, RB_MAP(RB_ARG, __VA_ARGS__))
#define RB_WRAPPER(ret, name, ...)                                            \
    static ret remote_##name(scf_backend *be, RB_MAP(RB_PARAM, __VA_ARGS__)) \
    {                                                                         \
        static const char op[] = #name;                                       \
        scf_backend *cpu = remote_of(be)->cpu;

#define RB_VOID(name, ...) RB_WRAPPER(void, name, __VA_ARGS__) RB_CALL(name, __VA_ARGS__); }
#define RB_RETURNS(ret, name, ...) RB_WRAPPER(ret, name, __VA_ARGS__) return RB_CALL(name, __VA_ARGS__); }

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
    RB_KERNELS(RB_SET_VOID, RB_SET_RETURNS)
    return be;
}

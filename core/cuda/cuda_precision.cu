/* The compute-precision layer of the CUDA backend: cuda_precision.h says
 * what each precision does and why the weight cache stays right. */
#include "cuda_precision.h"
#include "../error.h"
#include <cuda_bf16.h>
#include <cuda_fp16.h>

/* The 16-bit copy of one weight (its fp32 span at src, n elements). */
typedef struct {
    scf_backend *be;
    const float *src;
    size_t n;
    void *half;  /* n 16-bit values, device memory of its own */
    bool stale;  /* the fp32 weight was written since the copy was made */
} half_copy;

struct scf_cuda_precision {
    scf_backend base;       /* the table as it was before the wrappers: they call it */
    void *scratch;          /* the activation operands' 16-bit copies */
    size_t scratch_bytes;
    GHashTable *weights;    /* const float * -> half_copy * */
    uintptr_t lo, hi;       /* bounds of the cached spans: writes outside skip the scan */
    GHashTable *sizes;      /* allocation -> bytes, for what a free releases */
};

static scf_cuda_precision *state(scf_backend *be)
{
    return ((scf_cuda_ctx *)be->ctx)->precision;
}

static bool is_half(scf_precision p)
{
    return p == SCF_PRECISION_BF16 || p == SCF_PRECISION_FP16;
}

/* ---- conversion ---- */

template <class T> __device__ T to_16bit(float x);
template <> __device__ __nv_bfloat16 to_16bit<__nv_bfloat16>(float x)
{
    return __float2bfloat16_rn(x);
}
template <> __device__ __half to_16bit<__half>(float x)
{
    return __float2half_rn(x);
}

template <class T>
static __global__ void convert_kernel(T *dst, const float *src, size_t n)
{
    SCF_CUDA_FOR(i, n)
        dst[i] = to_16bit<T>(src[i]);
}

static bool convert(scf_backend *be, void *dst, const float *src, size_t n)
{
    if (be->precision == SCF_PRECISION_BF16)
        convert_kernel<<<SCF_CUDA_GRID(be, n)>>>((__nv_bfloat16 *)dst, src, n);
    else
        convert_kernel<<<SCF_CUDA_GRID(be, n)>>>((__half *)dst, src, n);
    return SCF_CUDA_CHECK_LAUNCH();
}

/* ---- the weight cache ---- */

/* Recordings that read the copy would read freed memory: they are done. */
static void half_copy_free(gpointer data)
{
    half_copy *h = (half_copy *)data;
    state(h->be)->base.free(h->be, h->half);
    h->be->recording_epoch++;
    g_free(h);
}

/* Whether h's fp32 span meets range[0] .. range[1] (bytes). */
static bool overlaps(const half_copy *h, const uintptr_t *range)
{
    const uintptr_t a = (uintptr_t)h->src;
    return a < range[1] && a + h->n * sizeof(float) > range[0];
}

static void mark_stale_if_inside(gpointer key, gpointer value, gpointer range)
{
    (void)key;
    half_copy *h = (half_copy *)value;
    if (!overlaps(h, (const uintptr_t *)range))
        return;
    h->stale = true;
    /* a recording would replay the old values: it must not be */
    h->be->recording_epoch++;
}

static gboolean drop_if_inside(gpointer key, gpointer value, gpointer range)
{
    (void)key;
    return overlaps((const half_copy *)value, (const uintptr_t *)range);
}

/* A write to (or, when drop, a free of) bytes at p: the copies of weights
 * it touches become stale (or go). */
static void weights_touched(scf_cuda_precision *st, const void *p, size_t bytes, bool drop)
{
    const uintptr_t range[2] = { (uintptr_t)p, (uintptr_t)p + bytes };
    if (g_hash_table_size(st->weights) == 0 || range[1] <= st->lo || range[0] >= st->hi)
        return;
    if (drop)
        g_hash_table_foreach_remove(st->weights, drop_if_inside, (gpointer)range);
    else
        g_hash_table_foreach(st->weights, mark_stale_if_inside, (gpointer)range);
}

/* The 16-bit copy of weight w (span n), converted now if it is new or
 * stale; NULL when no memory can be had for it (the caller converts it into
 * scratch instead, as an activation). Inside a capture the copy must be
 * ready: a conversion recorded there would run only at launch, and
 * allocation is refused there; so the capture fails instead. */
static const void *cached_weight(scf_backend *be, const float *w, size_t n, const char *kernel)
{
    scf_cuda_precision *st = state(be);
    half_copy *h = (half_copy *)g_hash_table_lookup(st->weights, w);
    if (h && h->n < n) { /* the same pointer seen with a longer span: start again */
        g_hash_table_remove(st->weights, w);
        h = NULL;
    }
    if ((!h || h->stale) && scf_cuda_capturing(be)) {
        scf_cuda_report(kernel, "a weight's 16-bit copy is missing or stale inside a graph "
                                "capture (a plain pass makes it)");
        return NULL;
    }
    if (!h) {
        void *mem = st->base.alloc(be, n * sizeof(__half));
        if (!mem)
            return NULL;
        h = g_new(half_copy, 1);
        *h = (half_copy){ be, w, n, mem, true };
        g_hash_table_insert(st->weights, (gpointer)w, h);
        const uintptr_t a = (uintptr_t)w, e = a + n * sizeof(float);
        st->lo = g_hash_table_size(st->weights) == 1 ? a : MIN(st->lo, a);
        st->hi = g_hash_table_size(st->weights) == 1 ? e : MAX(st->hi, e);
    }
    if (h->stale) {
        if (!convert(be, h->half, w, h->n))
            return NULL;
        h->stale = false;
    }
    return h->half;
}

/* ---- scratch ---- */

/* 16-bit values rounded up to 256 bytes, so that every copy starts aligned
 * as cuBLAS's tensor-core kernels like. */
static size_t scratch_slot(size_t n)
{
    return (n * sizeof(__half) + 255) & ~(size_t)255;
}

static void scratch_release(scf_backend *be)
{
    scf_cuda_precision *st = state(be);
    if (!st->scratch)
        return;
    st->base.free(be, st->scratch); /* waits for the stream: no product still reads it */
    st->scratch = NULL;
    st->scratch_bytes = 0;
    be->recording_epoch++; /* recordings point into it */
}

/* Grown by the first, plain pass of a shape, so that a recording of it
 * (which must not allocate) finds it large enough. */
static void *scratch(scf_backend *be, size_t bytes, const char *kernel)
{
    scf_cuda_precision *st = state(be);
    if (bytes <= st->scratch_bytes)
        return st->scratch;
    if (scf_cuda_capturing(be)) {
        scf_cuda_report(kernel, "the 16-bit operand scratch would have to grow inside a graph "
                                "capture");
        return NULL;
    }
    /* the same 1.5x growth as scf_backend_workspace */
    const size_t want = MAX(bytes, st->scratch_bytes + st->scratch_bytes / 2);
    scratch_release(be);
    st->scratch = st->base.alloc(be, want);
    if (!st->scratch) {
        g_autofree char *reason = g_strdup_printf("cannot allocate %zu bytes of 16-bit operand "
                                                  "scratch; outputs left undefined", want);
        scf_cuda_report(kernel, reason);
        return NULL;
    }
    st->scratch_bytes = want;
    return st->scratch;
}

/* ---- products ---- */

/* Elements from an operand's first to its last: an op(X) of rows x cols
 * (stored cols x rows when transposed), batch members stride apart. */
static size_t operand_span(const scf_cuda_operand *o, cublasOperation_t t, int rows, int cols,
                           int batch)
{
    const size_t r = t == CUBLAS_OP_N ? (size_t)rows : (size_t)cols;
    const size_t c = t == CUBLAS_OP_N ? (size_t)cols : (size_t)rows;
    return (size_t)(batch - 1) * (size_t)o->stride + (c - 1) * (size_t)o->ld + r;
}

static bool gemm_16bit(scf_backend *be, cublasOperation_t ta, cublasOperation_t tb, int m,
                       int n, int k, float alpha, const scf_cuda_operand *a,
                       const scf_cuda_operand *b, float beta, float *c, int ldc,
                       long long stride_c, int batch, const char *kernel)
{
    const scf_cuda_operand *ops[2] = { a, b };
    const size_t span[2] = { operand_span(a, ta, m, k, batch), operand_span(b, tb, k, n, batch) };
    const void *half[2] = { NULL, NULL };
    size_t need = 0;
    for (int i = 0; i < 2; i++) {
        if (ops[i]->weight)
            half[i] = cached_weight(be, ops[i]->p, span[i], kernel);
        if (!half[i])
            need += scratch_slot(span[i]);
    }
    char *s = need ? (char *)scratch(be, need, kernel) : NULL;
    if (need && !s)
        return false;
    for (int i = 0; i < 2; i++) {
        if (half[i])
            continue;
        if (!convert(be, s, ops[i]->p, span[i]))
            return false;
        half[i] = s;
        s += scratch_slot(span[i]);
    }
    const cudaDataType t = be->precision == SCF_PRECISION_BF16 ? CUDA_R_16BF : CUDA_R_16F;
    cublasHandle_t blas = scf_cuda_blas(be);
    if (batch == 1)
        return scf_cublas_ok(cublasGemmEx(blas, ta, tb, m, n, k, &alpha, half[0], t, a->ld,
                                          half[1], t, b->ld, &beta, c, CUDA_R_32F, ldc,
                                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                             kernel);
    return scf_cublas_ok(cublasGemmStridedBatchedEx(blas, ta, tb, m, n, k, &alpha, half[0], t,
                                                    a->ld, a->stride, half[1], t, b->ld,
                                                    b->stride, &beta, c, CUDA_R_32F, ldc,
                                                    stride_c, batch, CUBLAS_COMPUTE_32F,
                                                    CUBLAS_GEMM_DEFAULT),
                         kernel);
}

bool scf_cuda_gemm(scf_backend *be, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                   int k, float alpha, scf_cuda_operand a, scf_cuda_operand b, float beta,
                   float *c, int ldc, long long stride_c, int batch, const char *kernel)
{
    /* degenerate sizes have no operands to convert: cublasSgemm handles them */
    if (is_half(be->precision) && m > 0 && n > 0 && k > 0)
        return gemm_16bit(be, ta, tb, m, n, k, alpha, &a, &b, beta, c, ldc, stride_c, batch,
                          kernel);
    /* fp32 and tf32: the handle's math mode says which */
    cublasHandle_t blas = scf_cuda_blas(be);
    if (batch == 1)
        return scf_cublas_ok(cublasSgemm(blas, ta, tb, m, n, k, &alpha, a.p, a.ld, b.p, b.ld,
                                         &beta, c, ldc),
                             kernel);
    return scf_cublas_ok(cublasSgemmStridedBatched(blas, ta, tb, m, n, k, &alpha, a.p, a.ld,
                                                   a.stride, b.p, b.ld, b.stride, &beta, c, ldc,
                                                   stride_c, batch),
                         kernel);
}

/* ---- the backend entries ---- */

static gboolean cuda_set_precision(scf_backend *be, scf_precision p, GError **error)
{
    scf_cuda_precision *st = state(be);
    const cublasMath_t mode = p == SCF_PRECISION_TF32 ? CUBLAS_TF32_TENSOR_OP_MATH
                                                      : CUBLAS_DEFAULT_MATH;
    const cublasStatus_t s = cublasSetMathMode(scf_cuda_blas(be), mode);
    if (s != CUBLAS_STATUS_SUCCESS) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE, "%s: cannot set precision %s: %s",
                    be->name, scf_precision_name(p), cublasGetStatusString(s));
        return FALSE;
    }
    if (!is_half(p)) { /* the 16-bit copies are of no more use: give their memory back */
        g_hash_table_remove_all(st->weights);
        scratch_release(be);
    } else if (p != be->precision) { /* bf16 <-> fp16: same size, other bits */
        const uintptr_t all[2] = { 0, UINTPTR_MAX };
        g_hash_table_foreach(st->weights, mark_stale_if_inside, (gpointer)all);
    }
    if (p != be->precision) /* recordings hold the other precision's products */
        be->recording_epoch++;
    be->precision = p;
    return TRUE;
}

static void *wrap_alloc(scf_backend *be, size_t bytes)
{
    scf_cuda_precision *st = state(be);
    void *p = st->base.alloc(be, bytes);
    if (p)
        g_hash_table_insert(st->sizes, p, GSIZE_TO_POINTER(bytes));
    return p;
}

static void wrap_free(scf_backend *be, void *ptr)
{
    scf_cuda_precision *st = state(be);
    weights_touched(st, ptr, GPOINTER_TO_SIZE(g_hash_table_lookup(st->sizes, ptr)), true);
    g_hash_table_remove(st->sizes, ptr);
    st->base.free(be, ptr);
}

static void wrap_upload(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    weights_touched(state(be), dst, bytes, false);
    state(be)->base.upload(be, dst, src, bytes);
}

static void wrap_copy(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    weights_touched(state(be), dst, bytes, false);
    state(be)->base.copy(be, dst, src, bytes);
}

static void wrap_zero(scf_backend *be, void *dst, size_t bytes)
{
    weights_touched(state(be), dst, bytes, false);
    state(be)->base.zero(be, dst, bytes);
}

static void wrap_fill(scf_backend *be, float *x, float value, size_t n)
{
    weights_touched(state(be), x, n * sizeof(float), false);
    state(be)->base.fill(be, x, value, n);
}

static void wrap_rng_normal(scf_backend *be, float *out, size_t n, uint64_t seed,
                            uint64_t offset)
{
    weights_touched(state(be), out, n * sizeof(float), false);
    state(be)->base.rng_normal(be, out, n, seed, offset);
}

static void wrap_rng_uniform(scf_backend *be, float *out, size_t n, uint64_t seed,
                             uint64_t offset)
{
    weights_touched(state(be), out, n * sizeof(float), false);
    state(be)->base.rng_uniform(be, out, n, seed, offset);
}

static void wrap_adamw_update(scf_backend *be, float *param, const float *grad, float *m,
                              float *v, size_t n, float lr, float beta1, float beta2, float eps,
                              float weight_decay, int64_t t)
{
    weights_touched(state(be), param, n * sizeof(float), false);
    state(be)->base.adamw_update(be, param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay,
                                 t);
}

static void wrap_ema_update(scf_backend *be, float *ema, const float *param, size_t n,
                            float decay)
{
    weights_touched(state(be), ema, n * sizeof(float), false);
    state(be)->base.ema_update(be, ema, param, n, decay);
}

static void wrap_destroy(scf_backend *be)
{
    scf_cuda_precision *st = state(be);
    void (*destroy)(scf_backend *) = st->base.destroy;
    g_hash_table_destroy(st->weights);
    g_hash_table_destroy(st->sizes);
    scratch_release(be);
    ((scf_cuda_ctx *)be->ctx)->precision = NULL;
    g_free(st);
    destroy(be);
}

void scf_cuda_precision_install(scf_backend *be)
{
    scf_cuda_precision *st = g_new0(scf_cuda_precision, 1);
    st->base = *be;
    st->weights = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, half_copy_free);
    st->sizes = g_hash_table_new(g_direct_hash, g_direct_equal);
    ((scf_cuda_ctx *)be->ctx)->precision = st;
    be->precision = SCF_PRECISION_FP32;
    be->set_precision = cuda_set_precision;
    be->alloc = wrap_alloc;
    be->free = wrap_free;
    be->upload = wrap_upload;
    be->copy = wrap_copy;
    be->zero = wrap_zero;
    be->fill = wrap_fill;
    be->rng_normal = wrap_rng_normal;
    be->rng_uniform = wrap_rng_uniform;
    be->adamw_update = wrap_adamw_update;
    be->ema_update = wrap_ema_update;
    be->destroy = wrap_destroy;
}

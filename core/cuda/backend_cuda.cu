/* The CUDA backend: its device, stream and memory layer, graph capture, and
 * the kernel table whose kernels live in the cuda_*.cu files beside this one
 * (cuda_kernels.h). Without a GPU, cudaGetDeviceCount returns an error
 * status (no crash), which becomes a clear "no GPU" message.
 *
 * Where device memory comes from: be->alloc (cudaMalloc), in few large
 * pieces, none of them on the hot path:
 * - parameters and their gradients: one buffer each per model (params.c);
 * - activations and their gradients: the graph's chained arenas (graph.c),
 *   chunks of at least 4 MiB that double, merged into one of the peak size
 *   at the next reset, so a pass allocates nothing from its second run on;
 * - kernel scratch (im2col, attention scores, reduction partials): the
 *   backend workspace (backend.c), one buffer that grows by 1.5x and never
 *   shrinks;
 * - per-run state: the sampler's x, context and tau, the trainers' batch
 *   buffers, the text encoder's positions (once per batch shape);
 * - in bf16/fp16 (cuda_precision.cu): a 16-bit copy of each weight, made at
 *   its first product, and the 16-bit scratch of the activation operands,
 *   which grows like the workspace.
 * Outside be->alloc there is only cuBLAS's workspace, fixed here at start
 * so that cuBLAS never allocates, inside a capture least of all. Freeing
 * waits for the stream, so memory is never released under a running kernel.
 *
 * Graphs: graph_begin captures the stream in thread-local mode, so a call
 * that cannot be captured (a synchronisation, cudaMalloc) fails the capture
 * instead of running; alloc refuses and free defers while capturing, and a
 * failed call marks the capture failed (scf_cuda_report), so graph_end
 * returns NULL rather than a graph with holes in it. */
#include "cuda_kernels.h"
#include "cuda_precision.h"
#include "../error.h"

/* NVIDIA's recommended cuBLAS workspace for Hopper (4 MiB before it). */
#define BLAS_WORKSPACE_BYTES ((size_t)32 << 20)

struct scf_backend_graph {
    cudaGraphExec_t exec;
};

/* The context whose stream this thread is capturing, if any: a capture in
 * thread-local mode belongs to one thread. */
static thread_local scf_cuda_ctx *capturing;

static scf_cuda_ctx *ctx_of(scf_backend *be)
{
    return (scf_cuda_ctx *)be->ctx;
}

bool scf_cuda_capturing(scf_backend *be)
{
    return capturing == ctx_of(be);
}

void scf_cuda_report(const char *what, const char *reason)
{
    if (!capturing) {
        g_critical("%s: %s", what, reason);
        return;
    }
    /* the caller falls back from the failed capture and says so once */
    capturing->capture_failed = true;
    g_debug("%s: %s (inside a graph capture, which fails)", what, reason);
}

static void *cuda_alloc(scf_backend *be, size_t bytes)
{
    scf_cuda_ctx *ctx = ctx_of(be);
    /* a recording keeps addresses: memory must be in place before it starts */
    if (capturing == ctx) {
        ctx->capture_failed = true;
        return NULL;
    }
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 64) != cudaSuccess) {
        cudaGetLastError(); /* out of memory is this caller's NULL, not the next kernel's error */
        return NULL;
    }
    return p;
}

static void cuda_free(scf_backend *be, void *ptr)
{
    scf_cuda_ctx *ctx = ctx_of(be);
    if (!ptr)
        return;
    if (capturing == ctx) {
        /* recorded work may point into it, and cudaFree cannot be captured */
        g_ptr_array_add(ctx->deferred_frees, ptr);
        ctx->capture_failed = true;
        return;
    }
    SCF_CUDA_CHECK(cudaStreamSynchronize(ctx->stream));
    SCF_CUDA_CHECK(cudaFree(ptr));
}

/* Host copies wait for the stream: the host buffer may be reused or freed
 * as soon as they return, pinned or not. */
static void copy_and_wait(scf_backend *be, void *dst, const void *src, size_t bytes,
                          cudaMemcpyKind kind)
{
    cudaStream_t stream = ctx_of(be)->stream;
    if (SCF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, stream)))
        SCF_CUDA_CHECK(cudaStreamSynchronize(stream));
}

static void cuda_upload(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    copy_and_wait(be, dst, src, bytes, cudaMemcpyHostToDevice);
}

static void cuda_download(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    copy_and_wait(be, dst, src, bytes, cudaMemcpyDeviceToHost);
}

static void cuda_copy(scf_backend *be, void *dst, const void *src, size_t bytes)
{
    SCF_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, ctx_of(be)->stream));
}

static void cuda_zero(scf_backend *be, void *dst, size_t bytes)
{
    SCF_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, ctx_of(be)->stream));
}

static void cuda_synchronize(scf_backend *be)
{
    SCF_CUDA_CHECK(cudaStreamSynchronize(ctx_of(be)->stream));
}

static gboolean cuda_graph_begin(scf_backend *be)
{
    scf_cuda_ctx *ctx = ctx_of(be);
    if (capturing)
        return FALSE;
    if (cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) {
        cudaGetLastError();
        return FALSE;
    }
    ctx->capture_failed = false;
    capturing = ctx;
    return TRUE;
}

static scf_backend_graph *cuda_graph_end(scf_backend *be)
{
    scf_cuda_ctx *ctx = ctx_of(be);
    cudaGraph_t graph = NULL;
    const cudaError_t st = cudaStreamEndCapture(ctx->stream, &graph);
    capturing = NULL;
    for (guint i = 0; i < ctx->deferred_frees->len; i++)
        cuda_free(be, g_ptr_array_index(ctx->deferred_frees, i));
    g_ptr_array_set_size(ctx->deferred_frees, 0);
    cudaGraphExec_t exec = NULL;
    const bool ok = st == cudaSuccess && graph && !ctx->capture_failed &&
                    cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
    if (graph)
        cudaGraphDestroy(graph);
    /* an invalidated capture leaves its error behind: not the next kernel's */
    cudaGetLastError();
    if (!ok)
        return NULL;
    scf_backend_graph *g = g_new(scf_backend_graph, 1);
    g->exec = exec;
    return g;
}

static gboolean cuda_graph_launch(scf_backend *be, scf_backend_graph *graph)
{
    return SCF_CUDA_CHECK(cudaGraphLaunch(graph->exec, ctx_of(be)->stream));
}

static void cuda_graph_free(scf_backend *be, scf_backend_graph *graph)
{
    if (!graph)
        return;
    /* a launch still running finishes first; CUDA releases the graph after it */
    SCF_CUDA_CHECK(cudaGraphExecDestroy(graph->exec));
    g_free(graph);
}

/* Releases what ctx holds, however far its setup got. */
static void ctx_release(scf_cuda_ctx *ctx)
{
    if (ctx->stream)
        cudaStreamSynchronize(ctx->stream);
    if (ctx->blas)
        cublasDestroy(ctx->blas);
    if (ctx->blas_workspace)
        cudaFree(ctx->blas_workspace);
    if (ctx->stream)
        cudaStreamDestroy(ctx->stream);
    g_ptr_array_free(ctx->deferred_frees, TRUE);
    g_free(ctx);
}

static void cuda_destroy(scf_backend *be)
{
    ctx_release(ctx_of(be));
    g_free(be);
}

/* The stream, and cuBLAS on it with its fixed workspace; NULL when done, else
 * what could not be set up. */
static const char *ctx_setup(scf_cuda_ctx *ctx)
{
    /* non-blocking: no implicit waits on the legacy default stream, which
     * other libraries in the process may use */
    if (cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking) != cudaSuccess)
        return "a stream";
    if (cudaMalloc(&ctx->blas_workspace, BLAS_WORKSPACE_BYTES) != cudaSuccess)
        return "cuBLAS's workspace";
    if (cublasCreate(&ctx->blas) != CUBLAS_STATUS_SUCCESS) {
        ctx->blas = NULL;
        return "cuBLAS";
    }
    /* the stream first: setting it resets cuBLAS to its own workspace pool */
    if (cublasSetStream(ctx->blas, ctx->stream) != CUBLAS_STATUS_SUCCESS ||
        cublasSetWorkspace(ctx->blas, ctx->blas_workspace, BLAS_WORKSPACE_BYTES) !=
            CUBLAS_STATUS_SUCCESS)
        return "cuBLAS on its stream";
    /* plain fp32 GEMMs (no TF32) so the CUDA backend matches the CPU's to
     * float rounding; TF32 would be a deliberate later choice */
    if (cublasSetMathMode(ctx->blas, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS)
        return "cuBLAS's fp32 mode";
    return NULL;
}

extern "C" int scf_cuda_device_count(void)
{
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError(); /* no driver or no GPU: not an error to keep */
        return 0;
    }
    return count;
}

extern "C" scf_backend *scf_backend_cuda_new(int device, GError **error)
{
    int count = 0;
    cudaError_t st = cudaGetDeviceCount(&count);
    if (st != cudaSuccess || count == 0) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE, "no CUDA GPU found (%s)",
                    st != cudaSuccess ? cudaGetErrorString(st) : "0 devices");
        return NULL;
    }
    if (device < 0 || device >= count) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE,
                    "device cuda:%d: only %d CUDA GPU(s) present", device, count);
        return NULL;
    }
    cudaSetDevice(device);
    scf_cuda_ctx *ctx = g_new0(scf_cuda_ctx, 1);
    ctx->device = device;
    ctx->deferred_frees = g_ptr_array_new();
    const char *failed = ctx_setup(ctx);
    if (failed) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_DEVICE, "cuda:%d: cannot set up %s", device,
                    failed);
        ctx_release(ctx);
        cudaGetLastError();
        return NULL;
    }
    g_snprintf(ctx->name, sizeof ctx->name, "cuda:%d", device);
    scf_backend *be = g_new0(scf_backend, 1);
    be->name = ctx->name;
    be->kind = SCF_DEVICE_CUDA;
    be->ctx = ctx;
    be->alloc = cuda_alloc;
    be->free = cuda_free;
    be->upload = cuda_upload;
    be->download = cuda_download;
    be->copy = cuda_copy;
    be->zero = cuda_zero;
    be->synchronize = cuda_synchronize;
    be->graph_begin = cuda_graph_begin;
    be->graph_end = cuda_graph_end;
    be->graph_launch = cuda_graph_launch;
    be->graph_free = cuda_graph_free;
    be->destroy = cuda_destroy;
    /* dense layers, convolutions, norms, activations, layout, elementwise */
    be->linear_forward = scf_cuda_linear_forward;
    be->linear_backward = scf_cuda_linear_backward;
    be->conv2d_forward = scf_cuda_conv2d_forward;
    be->conv2d_backward = scf_cuda_conv2d_backward;
    be->group_norm_forward = scf_cuda_group_norm_forward;
    be->group_norm_backward = scf_cuda_group_norm_backward;
    be->layer_norm_forward = scf_cuda_layer_norm_forward;
    be->layer_norm_backward = scf_cuda_layer_norm_backward;
    be->activation_forward = scf_cuda_activation_forward;
    be->activation_backward = scf_cuda_activation_backward;
    be->geglu_forward = scf_cuda_geglu_forward;
    be->geglu_backward = scf_cuda_geglu_backward;
    be->upsample2x_forward = scf_cuda_upsample2x_forward;
    be->upsample2x_backward = scf_cuda_upsample2x_backward;
    be->timestep_embedding = scf_cuda_timestep_embedding;
    be->embedding_forward = scf_cuda_embedding_forward;
    be->embedding_backward = scf_cuda_embedding_backward;
    be->concat_forward = scf_cuda_concat_forward;
    be->concat_backward = scf_cuda_concat_backward;
    be->add = scf_cuda_add;
    be->mul = scf_cuda_mul;
    be->mul_backward = scf_cuda_mul_backward;
    be->scale = scf_cuda_scale;
    be->axpy = scf_cuda_axpy;
    be->fill = scf_cuda_fill;
    be->add_channel_forward = scf_cuda_add_channel_forward;
    be->add_channel_backward = scf_cuda_add_channel_backward;
    be->batch_scale_forward = scf_cuda_batch_scale_forward;
    be->batch_scale_backward = scf_cuda_batch_scale_backward;
    be->transpose = scf_cuda_transpose;
    /* attention, softmax, losses, optimisers, RNG */
    be->softmax_forward = scf_cuda_softmax_forward;
    be->softmax_backward = scf_cuda_softmax_backward;
    be->attention_forward = scf_cuda_attention_forward;
    be->attention_backward = scf_cuda_attention_backward;
    be->sum_squares = scf_cuda_sum_squares;
    be->mse_forward = scf_cuda_mse_forward;
    be->mse_backward = scf_cuda_mse_backward;
    be->pseudo_huber_forward = scf_cuda_pseudo_huber_forward;
    be->pseudo_huber_backward = scf_cuda_pseudo_huber_backward;
    be->softplus_forward = scf_cuda_softplus_forward;
    be->softplus_backward = scf_cuda_softplus_backward;
    be->gan_logistic_forward = scf_cuda_gan_logistic_forward;
    be->gan_logistic_backward = scf_cuda_gan_logistic_backward;
    be->adamw_update = scf_cuda_adamw_update;
    be->ema_update = scf_cuda_ema_update;
    be->rng_normal = scf_cuda_rng_normal;
    be->rng_uniform = scf_cuda_rng_uniform;
    scf_cuda_precision_install(be);
    return be;
}

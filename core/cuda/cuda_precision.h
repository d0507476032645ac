/* The CUDA backend's compute precision (backend.h, scf_precision): every
 * matrix product of the table (linear, convolution, attention's cuBLAS path)
 * goes through scf_cuda_gemm, which runs it in the backend's precision.
 *
 * - fp32: cublasSgemm* in CUBLAS_DEFAULT_MATH (IEEE fp32, matches the CPU).
 * - tf32: the same calls with CUBLAS_TF32_TENSOR_OP_MATH set on the handle.
 * - bf16 / fp16: each fp32 operand is converted into a 16-bit copy by a
 *   conversion kernel and the product is cublasGemm(StridedBatched)Ex with
 *   16-bit A and B, fp32 C (so beta = 1 still accumulates in fp32) and
 *   CUBLAS_COMPUTE_32F: tensor cores, fp32 sums. Activations are converted
 *   into a scratch buffer of the precision layer at every call (a second
 *   workspace: the backend workspace may hold the im2col matrix or the
 *   attention scores that are being converted); weights are converted once
 *   and cached, keyed by their fp32 pointer.
 *
 * The weight cache stays right because the engine writes parameters only
 * through upload, copy, zero, fill, the RNG, AdamW and EMA (core/params.c,
 * train.c, distill.c): scf_cuda_precision_install wraps those table entries
 * so that a write overlapping a cached weight marks its copy stale (it is
 * converted again, into the same buffer, at its next use: once per training
 * step, not once per product), and a free drops the copies inside the freed
 * allocation (its address may come back as another tensor). A kernel that
 * wrote a parameter any other way would leave a stale copy. The one such
 * writer is data-parallel training's NCCL broadcast (core/collective.c),
 * which fills fresh replicas before their first pass, when they have no
 * copies; training computes in fp32 anyway (the CLI takes --precision for
 * generate, compare and bench unet only).
 *
 * The fused attention kernel (inference, head size <= 160) keeps fp32 math
 * in every precision: its products are per-lane dot products in registers,
 * not GEMMs, and a tensor-core version would be a kernel of its own.
 *
 * Conversions run on the backend's stream (scf_cuda_stream), as the
 * products do, and errors go through scf_cuda_report, so a failure inside a
 * graph capture fails the capture.
 *
 * Graphs (backend.h: graph_begin; core/sampler.c): a recording holds the
 * addresses of the weight copies and of the scratch, and none of its
 * conversions of weights. So the copies and the scratch are made and grown
 * by the plain pass that precedes every recording, with the backend's
 * alloc; inside a capture a missing or stale copy, or scratch that would
 * have to grow, fails the capture (the sampler then runs plain launches).
 * And whatever would make a recording read wrong 16-bit operands advances
 * be->recording_epoch, so that it is not replayed: a copy going stale (its
 * weight was written) or being freed, the scratch moving, a change of
 * precision. */
#pragma once
#include "cuda_kernels.h"

/* One operand of a product, as cuBLAS sees it: a column-major matrix with
 * leading dimension ld, or a batch of them at `stride` elements apart
 * (0: one matrix shared by the whole batch). */
typedef struct {
    const float *p;
    int ld;
    long long stride;
    bool weight; /* a parameter: its 16-bit copy is cached */
} scf_cuda_operand;

static inline scf_cuda_operand scf_cuda_act(const float *p, int ld, long long stride)
{
    return (scf_cuda_operand){ p, ld, stride, false };
}

static inline scf_cuda_operand scf_cuda_weight(const float *p, int ld)
{
    return (scf_cuda_operand){ p, ld, 0, true };
}

/* C = alpha op(A) op(B) + beta C for `batch` members (member i of C at
 * c + i * stride_c), m x n x k as in cuBLAS, in be's precision. On failure
 * (a cuBLAS status, scratch that cannot grow) reports it naming `kernel`
 * (scf_cuda_report) and returns false; C is then undefined. */
bool scf_cuda_gemm(scf_backend *be, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                   int k, float alpha, scf_cuda_operand a, scf_cuda_operand b, float beta,
                   float *c, int ldc, long long stride_c, int batch, const char *kernel);

/* Adds the precision layer to a new CUDA backend (fp32 to start with):
 * be->set_precision, and the wrappers of the parameter-writing entries and
 * of destroy described above. Call once, after the table is filled. */
void scf_cuda_precision_install(scf_backend *be);

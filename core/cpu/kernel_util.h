/* Helpers shared by the CPU kernel files: the threading threshold, an expf
 * that vectorises, and softmax over one row (used by the softmax kernels and
 * by attention). Everything is static inline so it vectorises in the caller's
 * loop. */
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "../backend.h"

/* The backend workspace for a kernel, which returns void: when it cannot be
 * had, a critical message names the kernel and it leaves its outputs
 * unchanged (the caller returns on NULL). */
static inline float *scf_cpu_workspace(scf_backend *be, size_t bytes, const char *kernel)
{
    float *ws = (float *)scf_backend_workspace(be, bytes);
    if (!ws)
        g_critical("%s: cannot allocate a %zu-byte workspace; outputs left unchanged", kernel,
                   bytes);
    return ws;
}

/* Below this many elements an OpenMP fork costs more than the loop saves. */
#define SCF_CPU_PAR_MIN 32768

/* expf for vectorised loops: glibc's expf only vectorises under -ffast-math,
 * and a libm call per element keeps a loop scalar. exp(x) = 2^n e^r with
 * n = round(x/ln2), |r| <= ln2/2, and Cephes' polynomial for e^r: within
 * 1.4 ulp over the normal range (measured against exp in double). 2^n is applied as two normal
 * factors, so one symmetric clamp |x| <= 104 still gives inf above ~88.72 and
 * gradual underflow to 0 below ~-103.9. One select and no other condition:
 * with two clamps GCC threads the second through the first, duplicating the
 * arithmetic per path, and the loop no longer vectorises. NaN propagates. */
static inline float scf_cpu_expf(float x)
{
    const float round_magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    const float xc = fabsf(x) > 104.0f ? copysignf(104.0f, x) : x;
    float t = xc * 1.44269504088896341f + round_magic;
    float n = t - round_magic;
    /* ln2 split in two so n * ln2_hi is exact */
    float r = xc - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* the low mantissa bits of t hold n in [-150, 150]; 2^n = 2^n1 * 2^n2 */
    union { float f; int32_t i; } tb = { .f = t }, s1, s2;
    int32_t ni = tb.i - 0x4B400000;
    int32_t n1 = ni >> 1;
    s1.i = (n1 + 127) << 23;
    s2.i = (ni - n1 + 127) << 23;
    return p * s1.f * s2.f;
}

/* y = softmax(x) over n elements, max-subtracted; y may equal x. */
static inline void scf_cpu_softmax_row(float *y, const float *x, int n)
{
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int j = 0; j < n; j++)
        mx = x[j] > mx ? x[j] : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < n; j++) {
        float e = scf_cpu_expf(x[j] - mx);
        y[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < n; j++)
        y[j] *= inv;
}

/* Softmax backward over one row: g = y * (dy - sum(dy * y)). Adds g into dx
 * when accumulate, else stores it (then dx may equal dy: attention turns dP
 * into dS in place). */
static inline void scf_cpu_softmax_row_backward(float *dx, const float *dy, const float *y,
                                                int n, int accumulate)
{
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (int j = 0; j < n; j++)
        dot += dy[j] * y[j];
#pragma omp simd
    for (int j = 0; j < n; j++) {
        float g = y[j] * (dy[j] - dot);
        dx[j] = accumulate ? dx[j] + g : g;
    }
}

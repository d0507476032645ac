/* `scflow bench ops`: times the hot kernels at UNet-like shapes, reports
 * GFLOP/s (GB/s for memory-bound ops), the fraction of measured sgemm peak,
 * and — when a Python with PyTorch is available — the same ops in PyTorch
 * with the same thread count in the same run, as a ratio. Writes JSON.
 * `scflow bench unet` and `scflow bench train` are in bench-unet.c and
 * bench-train.c. */
#include "build-config.h"
#include "cli.h"
#include "bench-util.h"
#include "bench-train.h"
#include "bench-unet.h"
#include "bench-distill.h"
#include "scflow.h"
#include <cblas.h>
#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef enum { OP_CONV3X3, OP_LINEAR, OP_ATTENTION, OP_GROUP_NORM } bench_op;

static const char *const op_names[] = { "conv3x3", "linear", "attention", "group_norm" };

/* One case; dims mean per op:
 *   conv3x3:    B, Cin, H(=W), Cout     (stride 1, pad 1)
 *   linear:     M, K, N
 *   attention:  B, Tq, Tk, H, D         (no mask)
 *   group_norm: B, C, HW, G             (fused SiLU, eps 1e-5) */
typedef struct {
    bench_op op;
    int d[5];
    const char *what;
} bench_case;

/* The embedded teacher's shapes (data/models/emoji-32-teacher: 32/64/128
 * channels at 32x32/16x16/8x8, 4 heads, 24 text tokens) at the distillation
 * batch of 16, and SD1.5's for scale. */
static const bench_case cases[] = {
    { OP_CONV3X3, { 16, 32, 32, 32 }, "teacher level 1, 32x32" },
    { OP_CONV3X3, { 16, 64, 16, 64 }, "teacher level 2, 16x16" },
    { OP_CONV3X3, { 16, 128, 8, 128 }, "teacher level 3, 8x8" },
    { OP_CONV3X3, { 1, 320, 64, 320 }, "SD1.5 level 1, 64x64 latent" },
    { OP_LINEAR, { 4096, 64, 64 }, "attention projection, 16x16x16 tokens" },
    { OP_LINEAR, { 4096, 64, 512 }, "GEGLU in-projection, 16x16" },
    { OP_LINEAR, { 4096, 256, 64 }, "feed-forward out-projection, 16x16" },
    { OP_LINEAR, { 1024, 128, 1024 }, "GEGLU in-projection, 8x8" },
    { OP_LINEAR, { 4096, 320, 320 }, "SD1.5 projection, 64x64 tokens" },
    { OP_ATTENTION, { 16, 256, 256, 4, 16 }, "self, 16x16 tokens" },
    { OP_ATTENTION, { 16, 64, 64, 4, 32 }, "self, 8x8 tokens" },
    { OP_ATTENTION, { 16, 256, 24, 4, 16 }, "cross, 24 text tokens" },
    { OP_ATTENTION, { 1, 4096, 77, 8, 40 }, "SD1.5 cross, head size 40" },
    { OP_GROUP_NORM, { 16, 32, 1024, 16 }, "GroupNorm+SiLU 32ch 32x32" },
    { OP_GROUP_NORM, { 16, 128, 64, 16 }, "GroupNorm+SiLU 128ch 8x8" },
};

typedef struct {
    double fwd_ms, bwd_ms;         /* fastest runs */
    double fwd_flop, bwd_flop;     /* 0 for memory-bound ops */
    double fwd_bytes, bwd_bytes;
} bench_result;

typedef struct {
    scf_backend *be;
    const bench_case *c;
    float *buf[12];
} bench_ctx;

static float *bench_alloc(bench_ctx *x, int slot, size_t n)
{
    x->buf[slot] = x->be->alloc(x->be, n * sizeof(float));
    float *host = g_new(float, n);
    for (size_t i = 0; i < n; i++)
        host[i] = scf_rng_normal_at(1234 + (uint64_t)slot, i) * 0.1f;
    x->be->upload(x->be, x->buf[slot], host, n * sizeof(float));
    g_free(host);
    return x->buf[slot];
}

static void conv_fwd(void *p)
{
    bench_ctx *x = p;
    const int *d = x->c->d;
    x->be->conv2d_forward(x->be, x->buf[2], x->buf[0], x->buf[1], x->buf[3],
                          d[0], d[1], d[2], d[2], d[3], 3, 1, 1);
    x->be->synchronize(x->be);
}

static void conv_bwd(void *p)
{
    bench_ctx *x = p;
    const int *d = x->c->d;
    x->be->conv2d_backward(x->be, x->buf[4], x->buf[5], x->buf[6], x->buf[2], x->buf[0],
                           x->buf[1], d[0], d[1], d[2], d[2], d[3], 3, 1, 1);
    x->be->synchronize(x->be);
}

static void linear_fwd(void *p)
{
    bench_ctx *x = p;
    const int *d = x->c->d;
    x->be->linear_forward(x->be, x->buf[2], x->buf[0], x->buf[1], x->buf[3], d[0], d[1], d[2]);
    x->be->synchronize(x->be);
}

static void linear_bwd(void *p)
{
    bench_ctx *x = p;
    const int *d = x->c->d;
    x->be->linear_backward(x->be, x->buf[4], x->buf[5], x->buf[6], x->buf[2], x->buf[0],
                           x->buf[1], d[0], d[1], d[2]);
    x->be->synchronize(x->be);
}

/* Inference forward (no probabilities kept), as PyTorch's no_grad forward. */
static void attn_fwd(void *p)
{
    bench_ctx *x = p;
    const int *d = x->c->d;
    x->be->attention_forward(x->be, x->buf[3], NULL, x->buf[0], x->buf[1], x->buf[2],
                             d[0], d[1], d[2], d[3], d[4], 0);
    x->be->synchronize(x->be);
}

/* The training forward that backward needs: once, before timing backward. */
static void attn_fwd_saving(bench_ctx *x)
{
    const int *d = x->c->d;
    x->be->attention_forward(x->be, x->buf[3], x->buf[4], x->buf[0], x->buf[1], x->buf[2],
                             d[0], d[1], d[2], d[3], d[4], 0);
}

static void attn_bwd(void *p)
{
    bench_ctx *x = p;
    const int *d = x->c->d;
    x->be->attention_backward(x->be, x->buf[5], x->buf[6], x->buf[7], x->buf[3], x->buf[0],
                              x->buf[1], x->buf[2], x->buf[4], d[0], d[1], d[2], d[3], d[4]);
    x->be->synchronize(x->be);
}

static void gn_fwd(void *p)
{
    bench_ctx *x = p;
    const int *d = x->c->d;
    x->be->group_norm_forward(x->be, x->buf[1], x->buf[4], x->buf[5], x->buf[0], x->buf[2],
                              x->buf[3], d[0], d[1], d[2], d[3], 1e-5f, 1);
    x->be->synchronize(x->be);
}

static void gn_bwd(void *p)
{
    bench_ctx *x = p;
    const int *d = x->c->d;
    x->be->group_norm_backward(x->be, x->buf[6], x->buf[7], x->buf[8], x->buf[1], x->buf[0],
                               x->buf[4], x->buf[5], x->buf[2], x->buf[3],
                               d[0], d[1], d[2], d[3], 1);
    x->be->synchronize(x->be);
}

static bench_result bench_run_case(scf_backend *be, const bench_case *c, double min_s)
{
    bench_ctx x = { be, c, { 0 } };
    bench_result r = { 0 };
    const int *d = c->d;
    scf_bench_fn fwd = NULL, bwd = NULL;
    switch (c->op) {
    case OP_CONV3X3: {
        size_t in = (size_t)d[0] * d[1] * d[2] * d[2], w = (size_t)d[3] * d[1] * 9,
               out = (size_t)d[0] * d[3] * d[2] * d[2];
        bench_alloc(&x, 0, in); bench_alloc(&x, 1, w); bench_alloc(&x, 2, out);
        bench_alloc(&x, 3, (size_t)d[3]); bench_alloc(&x, 4, in); bench_alloc(&x, 5, w);
        bench_alloc(&x, 6, (size_t)d[3]);
        r.fwd_flop = 2.0 * (double)out * d[1] * 9;
        r.bwd_flop = 2.0 * r.fwd_flop;
        fwd = conv_fwd; bwd = conv_bwd;
        break;
    }
    case OP_LINEAR: {
        size_t in = (size_t)d[0] * d[1], w = (size_t)d[2] * d[1], out = (size_t)d[0] * d[2];
        bench_alloc(&x, 0, in); bench_alloc(&x, 1, w); bench_alloc(&x, 2, out);
        bench_alloc(&x, 3, (size_t)d[2]); bench_alloc(&x, 4, in); bench_alloc(&x, 5, w);
        bench_alloc(&x, 6, (size_t)d[2]);
        r.fwd_flop = 2.0 * (double)d[0] * d[1] * d[2];
        r.bwd_flop = 2.0 * r.fwd_flop;
        fwd = linear_fwd; bwd = linear_bwd;
        break;
    }
    case OP_ATTENTION: {
        size_t q = (size_t)d[0] * d[1] * d[3] * d[4], kv = (size_t)d[0] * d[2] * d[3] * d[4];
        bench_alloc(&x, 0, q); bench_alloc(&x, 1, kv); bench_alloc(&x, 2, kv);
        bench_alloc(&x, 3, q); bench_alloc(&x, 4, (size_t)d[0] * d[3] * d[1] * d[2]);
        bench_alloc(&x, 5, q); bench_alloc(&x, 6, kv); bench_alloc(&x, 7, kv);
        r.fwd_flop = 4.0 * (double)d[0] * d[3] * d[1] * d[2] * d[4];
        r.bwd_flop = 2.0 * r.fwd_flop;
        fwd = attn_fwd; bwd = attn_bwd;
        break;
    }
    case OP_GROUP_NORM: {
        size_t n = (size_t)d[0] * d[1] * d[2];
        bench_alloc(&x, 0, n); bench_alloc(&x, 1, n); bench_alloc(&x, 2, (size_t)d[1]);
        bench_alloc(&x, 3, (size_t)d[1]); bench_alloc(&x, 4, (size_t)d[0] * d[3]);
        bench_alloc(&x, 5, (size_t)d[0] * d[3]); bench_alloc(&x, 6, n);
        bench_alloc(&x, 7, (size_t)d[1]); bench_alloc(&x, 8, (size_t)d[1]);
        /* minimum traffic: read x, write out; backward reads x, dout, writes dx */
        r.fwd_bytes = 2.0 * n * sizeof(float);
        r.bwd_bytes = 3.0 * n * sizeof(float);
        fwd = gn_fwd; bwd = gn_bwd;
        break;
    }
    }
    r.fwd_ms = scf_bench_best_ms(fwd, &x, 2, 5, min_s);
    if (c->op == OP_ATTENTION)
        attn_fwd_saving(&x);
    r.bwd_ms = scf_bench_best_ms(bwd, &x, 2, 5, min_s);
    for (int i = 0; i < 12; i++)
        if (x.buf[i])
            be->free(be, x.buf[i]);
    return r;
}

typedef struct {
    float *a, *b, *c;
    int n;
} peak_ctx;

static void sgemm_square(void *p)
{
    peak_ctx *x = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, x->n, x->n, x->n, 1.0f, x->a,
                x->n, x->b, x->n, 0.0f, x->c, x->n);
}

/* The reference for "fraction of peak": OpenBLAS sgemm on a large square product. */
static double measure_sgemm_peak(double min_s)
{
    peak_ctx x = { .n = 2048 };
    size_t nn = (size_t)x.n * x.n;
    x.a = g_new(float, nn);
    x.b = g_new(float, nn);
    x.c = g_new(float, nn);
    for (size_t i = 0; i < nn; i++)
        x.a[i] = x.b[i] = (float)(i % 7) * 0.1f;
    double ms = scf_bench_best_ms(sgemm_square, &x, 2, 5, min_s);
    g_free(x.a);
    g_free(x.b);
    g_free(x.c);
    return 2.0 * (double)nn * x.n / (ms * 1e-3) / 1e9;
}

static JsonNode *cases_to_json(void)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_array(b);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        json_builder_begin_object(b);
        scf_bench_add_string(b, "op", op_names[cases[i].op]);
        json_builder_set_member_name(b, "dims");
        json_builder_begin_array(b);
        for (int k = 0; k < 5; k++)
            json_builder_add_int_value(b, cases[i].d[k]);
        json_builder_end_array(b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    JsonNode *root = json_builder_get_root(b);
    g_object_unref(b);
    return root;
}

static double rate(double amount, double ms, double unit)
{
    return amount > 0 ? amount / (ms * 1e-3) / unit : 0;
}

static int bench_ops(int threads, const char *device, const char *python, const char *out_path,
                     double min_s)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *notice = NULL;
    scf_backend *be = scf_device_open(device, threads, &notice, &error);
    if (!be) {
        fprintf(stderr, "scflow bench: %s\n", error->message);
        return SCF_EXIT_RUNTIME;
    }
    if (notice)
        fprintf(stderr, "scflow bench: %s\n", notice);
    threads = scf_get_threads();
    const double load_before = scf_bench_load_average();
    printf("Measuring sgemm peak (2048^3, %d threads)...\n", threads);
    fflush(stdout);
    double peak = measure_sgemm_peak(min_s);
    printf("sgemm peak: %.1f GFLOP/s\n\n", peak);

    bench_result res[G_N_ELEMENTS(cases)];
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        res[i] = bench_run_case(be, &cases[i], min_s);
        fprintf(stderr, "  %zu/%zu %s\r", i + 1, G_N_ELEMENTS(cases), op_names[cases[i].op]);
    }
    fprintf(stderr, "%40s\r", "");
    g_autofree char *why = NULL;
    g_autoptr(JsonNode) spec = python ? cases_to_json() : NULL;
    JsonArray *torch = python ? scf_bench_python(python, "bench_ops.py", spec, G_N_ELEMENTS(cases),
                                                 threads, min_s, &why) : NULL;
    if (!torch && why)
        fprintf(stderr, "scflow bench: %s\n", why);

    JsonBuilder *b = scf_bench_result_begin(be->name, threads, load_before);
    scf_bench_add_double(b, "sgemm_peak_gflops", peak);
    json_builder_set_member_name(b, "torch");
    json_builder_add_boolean_value(b, torch != NULL);
    json_builder_set_member_name(b, "cases");
    json_builder_begin_array(b);

    printf("%-11s %-26s %5s %9s %9s %8s %9s %7s\n", "op", "shape", "pass", "ms", "GFLOP/s",
           "of peak", "torch ms", "ratio");
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const bench_case *c = &cases[i];
        const int *d = c->d;
        char shape[64];
        switch (c->op) {
        case OP_CONV3X3: g_snprintf(shape, sizeof shape, "%dx%dx%d^2->%d", d[0], d[1], d[2], d[3]); break;
        case OP_LINEAR: g_snprintf(shape, sizeof shape, "%dx%d->%d", d[0], d[1], d[2]); break;
        case OP_ATTENTION: g_snprintf(shape, sizeof shape, "B%d q%d k%d h%dx%d", d[0], d[1], d[2], d[3], d[4]); break;
        case OP_GROUP_NORM: g_snprintf(shape, sizeof shape, "%dx%dx%d g%d", d[0], d[1], d[2], d[3]); break;
        }
        for (int pass = 0; pass < 2; pass++) {
            double ms = pass ? res[i].bwd_ms : res[i].fwd_ms;
            double flop = pass ? res[i].bwd_flop : res[i].fwd_flop;
            double bytes = pass ? res[i].bwd_bytes : res[i].fwd_bytes;
            double gflops = rate(flop, ms, 1e9);
            double gbs = rate(bytes, ms, 1e9);
            double torch_ms = 0;
            if (torch) {
                JsonObject *t = json_array_get_object_element(torch, (guint)i);
                torch_ms = json_object_get_double_member(t, pass ? "bwd_ms" : "fwd_ms");
            }
            /* ratio > 1: we are faster than PyTorch */
            double ratio = torch_ms > 0 ? torch_ms / ms : 0;
            char perf[32], frac[16], tms[16], rat[16];
            if (flop > 0) {
                g_snprintf(perf, sizeof perf, "%.1f", gflops);
                g_snprintf(frac, sizeof frac, "%.0f%%", 100.0 * gflops / peak);
            } else {
                g_snprintf(perf, sizeof perf, "%.1fGB/s", gbs);
                g_snprintf(frac, sizeof frac, "-");
            }
            g_snprintf(tms, sizeof tms, torch ? "%.3f" : "-", torch_ms);
            g_snprintf(rat, sizeof rat, torch ? "%.2fx" : "-", ratio);
            printf("%-11s %-26s %5s %9.3f %9s %8s %9s %7s\n", pass ? "" : op_names[c->op],
                   pass ? "" : shape, pass ? "bwd" : "fwd", ms, perf, frac, tms, rat);

            json_builder_begin_object(b);
            scf_bench_add_string(b, "op", op_names[c->op]);
            scf_bench_add_string(b, "pass", pass ? "backward" : "forward");
            scf_bench_add_string(b, "what", c->what);
            json_builder_set_member_name(b, "dims");
            json_builder_begin_array(b);
            for (int k = 0; k < 5 && d[k]; k++)
                json_builder_add_int_value(b, d[k]);
            json_builder_end_array(b);
            scf_bench_add_double(b, "ms", ms);
            if (flop > 0) {
                scf_bench_add_double(b, "gflops", gflops);
                scf_bench_add_double(b, "fraction_of_sgemm_peak", gflops / peak);
            } else {
                scf_bench_add_double(b, "gbytes_per_s", gbs);
            }
            if (torch) {
                scf_bench_add_double(b, "torch_ms", torch_ms);
                scf_bench_add_double(b, "speed_ratio_vs_torch", ratio);
            }
            json_builder_end_object(b);
        }
    }
    json_builder_end_array(b);
    if (torch)
        json_array_unref(torch);
    scf_backend_free(be);
    if (!scf_bench_result_finish(b, out_path))
        return SCF_EXIT_RUNTIME;
    printf("\nratio = PyTorch time / scflow time (above 1: scflow is faster)\nwrote %s\n", out_path);
    return SCF_EXIT_OK;
}

/* A kind times in fp32 (run) or in the asked precision (run_precision):
 * only the UNet forward has a PyTorch twin that can match another precision. */
typedef struct {
    const char *name;
    int (*run)(int threads, const char *device, const char *python, const char *out_path,
               double min_s);
    int (*run_precision)(int threads, const char *device, scf_precision precision,
                         const char *python, const char *out_path, double min_s);
} bench_kind;

static const bench_kind bench_kinds[] = {
    { "ops", bench_ops, NULL },
    { "unet", NULL, scf_bench_unet },
    { "train", scf_bench_train, NULL },
    { "distill", scf_bench_distill, NULL },
};

int scf_cli_bench(int argc, char **argv)
{
    int threads = 0;
    char *device = NULL, *python = NULL, *out = NULL, *precision_text = NULL;
    gboolean no_torch = FALSE;
    double min_s = 0.5;
    GOptionEntry entries[] = {
        { "threads", 't', 0, G_OPTION_ARG_INT, &threads, "Threads (default: all cores)", "N" },
        { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "auto, cpu, cuda or cuda:N (default cpu)", "DEV" },
        SCF_CLI_PRECISION_OPTION(precision_text),
        { "torch", 0, 0, G_OPTION_ARG_FILENAME, &python,
          "Python with PyTorch for the baseline (default: .venv/bin/python of the source tree)", "PYTHON" },
        { "no-torch", 0, 0, G_OPTION_ARG_NONE, &no_torch, "Skip the PyTorch baseline", NULL },
        { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out, "JSON result (default bench/results/<what>-<device>[-<precision>].json)", "FILE" },
        { "min-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &min_s, "Time each op for at least this long (default 0.5)", "S" },
        { NULL },
    };
    if (!scf_cli_parse("bench", "ops|unet|train|distill: time the engine against PyTorch / diffusers",
                       entries, &argc, &argv))
        return SCF_EXIT_USAGE;
    const bench_kind *kind = NULL;
    for (guint i = 0; argc == 2 && i < G_N_ELEMENTS(bench_kinds); i++)
        if (strcmp(argv[1], bench_kinds[i].name) == 0)
            kind = &bench_kinds[i];
    if (!kind) {
        fprintf(stderr, "scflow bench: expected 'scflow bench ops', 'unet', 'train' or 'distill'\n"
                        "Try 'scflow bench --help'.\n");
        return SCF_EXIT_USAGE;
    }
    if (threads < 0 || min_s <= 0 || min_s > 60) {
        fprintf(stderr, "scflow bench: --threads must be >= 0 and --min-seconds in (0, 60]\n");
        return SCF_EXIT_USAGE;
    }
    scf_precision precision;
    if (!scf_cli_parse_precision("bench", precision_text, &precision))
        return SCF_EXIT_USAGE;
    if (precision != SCF_PRECISION_FP32 && !kind->run_precision) {
        fprintf(stderr, "scflow bench: --precision applies to 'scflow bench unet' only\n");
        return SCF_EXIT_USAGE;
    }
    g_autofree char *default_python = scf_bench_default_python();
    const char *dev = device ? device : "cpu";
    /* fp32 results keep their old names, so earlier runs compare with new ones */
    g_autofree char *default_out = precision == SCF_PRECISION_FP32
        ? g_strdup_printf("bench/results/%s-%s.json", argv[1], dev)
        : g_strdup_printf("bench/results/%s-%s-%s.json", argv[1], dev, scf_precision_name(precision));
    const char *py = no_torch ? NULL : python ? python : default_python;
    const char *out_path = out ? out : default_out;
    int rc = kind->run_precision ? kind->run_precision(threads, dev, precision, py, out_path, min_s)
                                 : kind->run(threads, dev, py, out_path, min_s);
    g_free(device);
    g_free(precision_text);
    g_free(python);
    g_free(out);
    return rc;
}

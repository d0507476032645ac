/* `scflow bench unet`: UNet forward latency (random weights, no gradient) for
 * the embedded model's config and an SD1.5-shaped UNet at a 32x32 latent
 * (and, on CUDA, at SD1.5's own 64x64 latent), at batch 1 and 8, against
 * diffusers' UNet2DConditionModel on the same device (the same CPU threads)
 * and in the same precision, in the same run; and memory: weights plus one
 * activation set, and (on the CPU, where the heap holds everything) what a
 * whole guided sampling run of the embedded model really holds. */
#include "build-config.h"
#include "bench-unet.h"
#include "bench-util.h"
#include "cli.h"
#include "model-catalog.h"
#include "sampler.h"
#include "config.h"
#include <malloc.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    const char *file;     /* under data/ */
    const char *member;   /* the unet object inside it, or NULL for the whole file */
    int batch, size, context, width;
    gboolean cuda_only;   /* minutes per forward on 2 CPU cores: timed on GPUs only */
} unet_case;

static const unet_case all_cases[] = {
    { "embedded emoji-32 UNet", "training/emoji-32-teacher.json", "unet", 1, 32, 24, 128, FALSE },
    { "embedded emoji-32 UNet", "training/emoji-32-teacher.json", "unet", 8, 32, 24, 128, FALSE },
    { "SD1.5-shaped UNet, 32x32 latent", "bench/sd15-unet.json", NULL, 1, 32, 77, 768, FALSE },
    { "SD1.5-shaped UNet, 32x32 latent", "bench/sd15-unet.json", NULL, 8, 32, 77, 768, FALSE },
    { "SD1.5-shaped UNet, 64x64 latent", "bench/sd15-unet.json", NULL, 1, 64, 77, 768, TRUE },
    { "SD1.5-shaped UNet, 64x64 latent", "bench/sd15-unet.json", NULL, 8, 64, 77, 768, TRUE },
};

typedef struct {
    scf_backend *be;
    scf_graph *g;
    scf_unet *unet;
    scf_var *x, *t, *ctx;
} unet_run;

static void forward(void *p)
{
    unet_run *r = p;
    scf_graph_reset(r->g);
    scf_unet_forward(r->unet, r->g, r->x, r->t, r->ctx);
    /* a GPU returns before its kernels finish: time them, not their launch */
    r->be->synchronize(r->be);
}

static char *unet_json(const unet_case *c, GError **error)
{
    g_autofree char *path = g_build_filename(SCF_SOURCE_DATADIR, c->file, NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, error))
        return NULL;
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_data(parser, text, -1, error))
        return NULL;
    JsonNode *node = json_parser_get_root(parser);
    if (c->member)
        node = json_object_get_member(json_node_get_object(node), c->member);
    return scf_json_to_string(node, FALSE, NULL);
}

typedef struct {
    double ms, weights_mb, activations_mb;
} unet_result;

static gboolean time_case(scf_backend *be, const unet_case *c, const char *json, double min_s,
                          unet_result *res, GError **error)
{
    scf_config cfg;
    scf_unet_config ucfg;
    if (!scf_config_load_data(&cfg, json, c->file, error))
        return FALSE;
    gboolean ok = scf_unet_config_read(&ucfg, &cfg, error);
    scf_config_clear(&cfg);
    if (!ok)
        return FALSE;
    scf_params *p = scf_params_new(be);
    unet_run r = { be, scf_graph_new(be), scf_unet_new(&ucfg, p), NULL, NULL, NULL };
    ok = scf_params_allocate(p, FALSE, error);
    if (ok) {
        scf_params_init(p, 1);
        const int64_t B = c->batch, C = ucfg.in_channels, S = c->size;
        /* inputs outside the graph's per-pass memory, which forward resets */
        size_t nx = (size_t)B * C * S * S, nc = (size_t)B * c->context * c->width;
        float *x = be->alloc(be, nx * sizeof(float)), *t = be->alloc(be, B * sizeof(float)),
              *ctx = be->alloc(be, nc * sizeof(float));
        be->rng_normal(be, x, nx, 1, 0);
        be->rng_normal(be, ctx, nc, 2, 0);
        be->fill(be, t, 500.0f, (size_t)B);
        scf_graph *g0 = scf_graph_new(be);
        r.x = scf_graph_wrap(g0, (scf_tensor){ x, 4, { B, C, S, S } });
        r.t = scf_graph_wrap(g0, (scf_tensor){ t, 1, { B } });
        r.ctx = scf_graph_wrap(g0, (scf_tensor){ ctx, 3, { B, c->context, c->width } });
        forward(&r);
        ok = scf_graph_check(r.g, error);
        if (ok) {
            res->ms = scf_bench_best_ms(forward, &r, 1, 3, min_s);
            res->weights_mb = (double)p->total * sizeof(float) / 1048576.0;
            res->activations_mb = (double)scf_graph_memory(r.g) / 1048576.0;
        }
        scf_graph_free(g0);
        be->free(be, x);
        be->free(be, t);
        be->free(be, ctx);
    }
    scf_graph_free(r.g);
    scf_unet_free(r.unet);
    scf_params_free(p);
    return ok;
}

/* Heap bytes in use: every engine buffer comes from posix_memalign, which
 * glibc serves from the heap or, when large, from its own mmaps (hblkhd). */
static double heap_mib(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (double)(mi.uordblks + mi.hblkhd) / 1048576.0;
}

typedef struct {
    double used_mib, weights_mib, activation_mib;
} sampling_memory;

/* The memory goal of the models issue: a guided 4-step generation of the
 * embedded model holds at most 1.2x its weights plus one activation set (the
 * largest forward's graph memory: the UNet at the CFG batch of 2, or the text
 * encoder), i.e. nothing is allocated per step and nothing is kept twice. */
static gboolean measure_sampling(int threads, sampling_memory *m, GError **error)
{
    g_autofree char *dir = scf_model_catalog_default_dir();
    if (!dir) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "no embedded default model installed");
        return FALSE;
    }
    /* A backend of its own, as the app opens one: the timed cases have
     * grown the shared one's workspace (im2col and Winograd buffers) to the
     * SD1.5 widths, which would hide the sampler's own. */
    double before = heap_mib();
    scf_backend *be = scf_backend_cpu_new(threads);
    scf_model *model = scf_model_load(dir, be, FALSE, error);
    if (!model) {
        scf_backend_free(be);
        return FALSE;
    }
    scf_sampler *s = scf_sampler_new(model);
    scf_sample_request r = { .prompt = "grinning face", .negative = NULL, .steps = 4,
                             .guidance = 2.0f, .seed = 1, .batch = 1 };
    size_t n = (size_t)model->channels * model->image_size * model->image_size;
    float *out = g_new(float, n);
    gboolean ok = scf_sampler_run(s, &r, out, NULL, NULL, error);
    if (ok) {
        m->used_mib = heap_mib() - before - (double)n * sizeof(float) / 1048576.0;
        m->weights_mib = (double)model->params->total * sizeof(float) / 1048576.0;
        m->activation_mib = (double)scf_sampler_activation_bytes(s) / 1048576.0;
    }
    g_free(out);
    scf_sampler_free(s);
    scf_model_free(model);
    scf_backend_free(be);
    return ok;
}

int scf_bench_unet(int threads, const char *device, scf_precision precision, const char *python,
                   const char *out_path, double min_s)
{
    scf_backend *be = scf_cli_open_device_precision("bench", device, precision, threads, FALSE);
    if (!be)
        return SCF_EXIT_RUNTIME;
    threads = scf_get_threads();
    const double load_before = scf_bench_load_average();
    const unet_case *cases[G_N_ELEMENTS(all_cases)];
    guint n = 0;
    for (guint i = 0; i < G_N_ELEMENTS(all_cases); i++)
        if (!all_cases[i].cuda_only || be->kind == SCF_DEVICE_CUDA)
            cases[n++] = &all_cases[i];
    char *json[G_N_ELEMENTS(all_cases)] = { 0 };
    unet_result res[G_N_ELEMENTS(all_cases)] = { 0 };
    /* the backend's name ("cpu", "cuda:N") is a torch device string too; its
     * precision may be fp32 where auto fell back to the CPU */
    const char *precision_name = scf_precision_name(be->precision);
    g_autoptr(GError) error = NULL;
    JsonBuilder *spec = json_builder_new();
    json_builder_begin_array(spec);
    gboolean ok = TRUE;
    for (guint i = 0; ok && i < n; i++) {
        ok = (json[i] = unet_json(cases[i], &error)) != NULL;
        if (!ok)
            break;
        fprintf(stderr, "  %u/%u %s, batch %d\n", i + 1, n, cases[i]->name, cases[i]->batch);
        ok = time_case(be, cases[i], json[i], min_s, &res[i], &error);
        json_builder_begin_object(spec);
        scf_bench_add_string(spec, "config", json[i]);
        scf_bench_add_string(spec, "device", be->name);
        scf_bench_add_string(spec, "precision", precision_name);
        const char *keys[] = { "batch", "size", "context", "width" };
        const int vals[] = { cases[i]->batch, cases[i]->size, cases[i]->context, cases[i]->width };
        for (int k = 0; k < 4; k++)
            scf_bench_add_int(spec, keys[k], vals[k]);
        json_builder_end_object(spec);
    }
    json_builder_end_array(spec);
    g_autoptr(JsonNode) spec_root = json_builder_get_root(spec);
    g_object_unref(spec);
    if (!ok) {
        fprintf(stderr, "scflow bench: %s\n", error->message);
        for (guint i = 0; i < n; i++)
            g_free(json[i]);
        scf_backend_free(be);
        return SCF_EXIT_RUNTIME;
    }
    sampling_memory mem = { 0 };
    if (be->kind == SCF_DEVICE_CPU && !measure_sampling(threads, &mem, &error)) {
        fprintf(stderr, "scflow bench: sampling memory: %s\n", error->message);
        g_clear_error(&error);
    }
    g_autofree char *why = NULL;
    JsonArray *torch = python ? scf_bench_python(python, "bench_unet.py", spec_root, n, threads,
                                                 min_s, &why) : NULL;
    if (!torch && why)
        fprintf(stderr, "scflow bench: %s\n", why);

    JsonBuilder *b = scf_bench_result_begin(be->name, threads, load_before);
    scf_bench_add_string(b, "precision", precision_name);
    json_builder_set_member_name(b, "cases");
    json_builder_begin_array(b);
    printf("\n%s, %s\n%-34s %5s %10s %10s %7s %10s %12s\n", be->name, precision_name, "UNet",
           "batch", "ms", "diffusers", "ratio", "weights MB", "activ. MB");
    for (guint i = 0; i < n; i++) {
        double tms = torch ? json_object_get_double_member(json_array_get_object_element(torch, i), "ms") : 0;
        char tcol[32] = "-", rcol[32] = "-";
        if (torch) {
            g_snprintf(tcol, sizeof tcol, "%.2f", tms);
            g_snprintf(rcol, sizeof rcol, "%.2fx", tms / res[i].ms);
        }
        printf("%-34s %5d %10.2f %10s %7s %10.1f %12.1f\n", cases[i]->name, cases[i]->batch,
               res[i].ms, tcol, rcol, res[i].weights_mb, res[i].activations_mb);
        json_builder_begin_object(b);
        scf_bench_add_string(b, "unet", cases[i]->name);
        scf_bench_add_int(b, "batch", cases[i]->batch);
        scf_bench_add_double(b, "ms", res[i].ms);
        scf_bench_add_double(b, "weights_mib", res[i].weights_mb);
        scf_bench_add_double(b, "activation_mib", res[i].activations_mb);
        if (torch) {
            scf_bench_add_double(b, "diffusers_ms", tms);
            scf_bench_add_double(b, "speed_ratio_vs_diffusers", tms / res[i].ms);
        }
        json_builder_end_object(b);
        g_free(json[i]);
    }
    json_builder_end_array(b);
    if (mem.used_mib > 0) {
        double ratio = mem.used_mib / (mem.weights_mib + mem.activation_mib);
        printf("\nguided 4-step sampling of the embedded model: %.1f MiB in use = %.2fx "
               "(weights %.1f + one activation set %.1f MiB; goal <= 1.2x)\n",
               mem.used_mib, ratio, mem.weights_mib, mem.activation_mib);
        json_builder_set_member_name(b, "sampling_memory");
        json_builder_begin_object(b);
        const char *keys[] = { "used_mib", "weights_mib", "activation_mib", "ratio" };
        const double vals[] = { mem.used_mib, mem.weights_mib, mem.activation_mib, ratio };
        for (int k = 0; k < 4; k++)
            scf_bench_add_double(b, keys[k], vals[k]);
        json_builder_end_object(b);
    }
    if (torch)
        json_array_unref(torch);
    scf_backend_free(be);
    printf("\nratio = diffusers time / scflow time (above 1: scflow is faster); "
           "activations = one forward's activation memory; load average %.2f before, %.2f after\n",
           load_before, scf_bench_load_average());
    if (!scf_bench_result_finish(b, out_path))
        return SCF_EXIT_RUNTIME;
    printf("wrote %s\n", out_path);
    return SCF_EXIT_OK;
}

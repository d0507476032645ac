#include "build-config.h"
#include "bench-util.h"
#include "config.h"
#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static double now_s(void)
{
    return (double)g_get_monotonic_time() * 1e-6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

scf_bench_timing scf_bench_time(scf_bench_fn fn, void *ctx, int warmup, int min_runs, double min_s)
{
    for (int i = 0; i < warmup; i++)
        fn(ctx);
    double samples[200];
    int n = 0;
    double start = now_s();
    while (n < 200 && (n < min_runs || now_s() - start < min_s)) {
        double t0 = now_s();
        fn(ctx);
        samples[n++] = (now_s() - t0) * 1e3;
    }
    qsort(samples, (size_t)n, sizeof *samples, cmp_double);
    double median = n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
    return (scf_bench_timing){ samples[0], median, n };
}

double scf_bench_best_ms(scf_bench_fn fn, void *ctx, int warmup, int min_runs, double min_s)
{
    return scf_bench_time(fn, ctx, warmup, min_runs, min_s).best_ms;
}

char *scf_bench_default_python(void)
{
    return g_build_filename(SCF_SOURCE_ROOT, ".venv", "bin", "python", NULL);
}

JsonArray *scf_bench_python(const char *python, const char *script, JsonNode *spec, guint n,
                            int threads, double min_s, char **why)
{
    g_autofree char *path = g_build_filename(SCF_SOURCE_ROOT, "tools", script, NULL);
    if (!g_file_test(python, G_FILE_TEST_IS_EXECUTABLE)) {
        *why = g_strdup_printf("no Python at %s (create it with tools/make-fixtures, or pass --torch)", python);
        return NULL;
    }
    g_autofree char *spec_str = scf_json_to_string(spec, FALSE, NULL);
    g_autofree char *spec_path = NULL;
    g_autoptr(GError) error = NULL;
    int fd = g_file_open_tmp("scflow-bench-XXXXXX.json", &spec_path, &error);
    if (fd < 0 || !g_file_set_contents(spec_path, spec_str, -1, &error)) {
        *why = g_strdup(error->message);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    close(fd);
    g_autofree char *threads_s = g_strdup_printf("%d", threads);
    g_autofree char *min_s_s = g_strdup_printf("%g", min_s);
    char *argv[] = { (char *)python, path, "--spec", spec_path, "--threads", threads_s,
                     "--min-seconds", min_s_s, NULL };
    g_auto(GStrv) env = g_get_environ();
    env = g_environ_setenv(env, "OPENBLAS_NUM_THREADS", "1", TRUE);
    env = g_environ_setenv(env, "OMP_NUM_THREADS", threads_s, TRUE);
    g_autofree char *out = NULL, *err = NULL;
    int status = 0;
    gboolean ran = g_spawn_sync(NULL, argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                                &status, &error);
    g_unlink(spec_path);
    if (!ran || !g_spawn_check_wait_status(status, &error)) {
        *why = g_strdup_printf("PyTorch baseline failed: %s%s%s", error->message,
                               err && *err ? "\n" : "", err ? err : "");
        return NULL;
    }
    g_autoptr(JsonParser) parser = json_parser_new();
    if (!json_parser_load_from_data(parser, out, -1, &error) ||
        !JSON_NODE_HOLDS_ARRAY(json_parser_get_root(parser))) {
        *why = g_strdup_printf("PyTorch baseline printed no JSON array: %s",
                               error ? error->message : "wrong type");
        return NULL;
    }
    JsonArray *arr = json_node_get_array(json_parser_get_root(parser));
    if (json_array_get_length(arr) != n) {
        *why = g_strdup("PyTorch baseline returned a different number of cases");
        return NULL;
    }
    return json_array_ref(arr);
}

gboolean scf_bench_write(const char *path, JsonNode *root)
{
    g_autoptr(GError) error = NULL;
    gsize len = 0;
    g_autofree char *text = scf_json_to_string(root, TRUE, &len);
    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0755) != 0 || !g_file_set_contents(path, text, (gssize)len, &error)) {
        fprintf(stderr, "scflow bench: cannot write %s: %s\n", path,
                error ? error->message : g_strerror(errno));
        return FALSE;
    }
    return TRUE;
}

double scf_bench_load_average(void)
{
    g_autofree char *text = NULL;
    return g_file_get_contents("/proc/loadavg", &text, NULL, NULL) ? g_ascii_strtod(text, NULL)
                                                                    : -1;
}

void scf_bench_add_string(JsonBuilder *b, const char *key, const char *value)
{
    json_builder_set_member_name(b, key);
    json_builder_add_string_value(b, value);
}

void scf_bench_add_int(JsonBuilder *b, const char *key, gint64 value)
{
    json_builder_set_member_name(b, key);
    json_builder_add_int_value(b, value);
}

void scf_bench_add_double(JsonBuilder *b, const char *key, double value)
{
    json_builder_set_member_name(b, key);
    json_builder_add_double_value(b, value);
}

JsonBuilder *scf_bench_result_begin(const char *device, int threads, double load_before)
{
    JsonBuilder *b = json_builder_new();
    json_builder_begin_object(b);
    scf_bench_add_string(b, "version", SCF_VERSION);
    scf_bench_add_string(b, "device", device);
    scf_bench_add_int(b, "threads", threads);
    scf_bench_add_double(b, "load_average_before", load_before);
    scf_bench_add_double(b, "load_average_after", scf_bench_load_average());
    return b;
}

gboolean scf_bench_result_finish(JsonBuilder *b, const char *path)
{
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    g_object_unref(b);
    return scf_bench_write(path, root);
}

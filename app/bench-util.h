/* What the `scflow bench` subcommands share: median timing, the PyTorch
 * twin run as a subprocess on the same cases with the same threads, and the
 * JSON result file. */
#pragma once
#include <json-glib/json-glib.h>

typedef void (*scf_bench_fn)(void *ctx);

/* The fastest of the timed runs of fn, in milliseconds, after warmup runs:
 * at least min_runs runs and min_s seconds (at most 200). The minimum, not
 * the median: on these shared virtual machines other work only ever adds
 * time, and medians of the same op swung by 0.6-1.9x between runs. The
 * PyTorch twins use the same estimator. */
double scf_bench_best_ms(scf_bench_fn fn, void *ctx, int warmup, int min_runs, double min_s);

typedef struct {
    double best_ms, median_ms;
    int runs;
} scf_bench_timing;

/* The same runs as scf_bench_best_ms, with the median as well: for long
 * steps timed only a few times, where one slow run shows in the median. */
scf_bench_timing scf_bench_time(scf_bench_fn fn, void *ctx, int warmup, int min_runs, double min_s);

/* Runs tools/<script> with --spec (the cases as JSON), --threads and
 * --min-seconds under python, with OPENBLAS_NUM_THREADS=1 (PyTorch's fair
 * baseline, DESIGN.md); returns its JSON array of n results, or NULL with the
 * reason in *why. */
JsonArray *scf_bench_python(const char *python, const char *script, JsonNode *spec, guint n,
                            int threads, double min_s, char **why);

/* The default Python for baselines: the source tree's .venv. */
char *scf_bench_default_python(void);

/* The 1-minute load average (-1 where /proc/loadavg is not there): results
 * record it, since timings on a shared machine mean little without it. */
double scf_bench_load_average(void);

/* Writes root as pretty JSON to path, creating its folder; prints errors. */
gboolean scf_bench_write(const char *path, JsonNode *root);

/* key = value in the object being built. */
void scf_bench_add_string(JsonBuilder *b, const char *key, const char *value);
void scf_bench_add_int(JsonBuilder *b, const char *key, gint64 value);
void scf_bench_add_double(JsonBuilder *b, const char *key, double value);

/* Opens the result object with what every result records: the version,
 * the device, the threads and the load average before the run (load_before)
 * and now, as timings on a shared machine mean little without it. The
 * caller adds its own members. */
JsonBuilder *scf_bench_result_begin(const char *device, int threads, double load_before);

/* Closes the object of scf_bench_result_begin, frees b and writes the result
 * to path (scf_bench_write). */
gboolean scf_bench_result_finish(JsonBuilder *b, const char *path);

/* `scflow eval` end to end: a tiny teacher trained here in seconds on 12
 * emoji (2 held out), evaluated at 1, 2, 4 steps with itself as the teacher;
 * and its errors on bad input. */
#include "scflow.h"
#include "check.h"
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

static char *work;      /* the run's folder */
static char *data_dir;  /* 12 emoji, the last 2 held out */
static char *model_dir;

/* Runs scflow with args (NULL-terminated); returns its exit status, stderr
 * in *err when err is not NULL. */
static int run_args(const char *const *args, char **err)
{
    const char *scflow = g_getenv("SCFLOW");
    g_assert_nonnull(scflow);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)scflow);
    for (const char *const *a = args; *a; a++)
        g_ptr_array_add(argv, (char *)*a);
    g_ptr_array_add(argv, NULL);
    g_autofree char *out = NULL;
    char *err_text = NULL;
    int status;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err_text, &status, &error));
    g_assert_no_error(error);
    g_test_message("%s%s", out, err_text);
    if (err)
        *err = err_text;
    else
        g_free(err_text);
    g_assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* The variadic arguments up to NULL, as a NULL-terminated array. */
static GPtrArray *collect(va_list ap)
{
    GPtrArray *args = g_ptr_array_new();
    for (const char *a; (a = va_arg(ap, const char *));)
        g_ptr_array_add(args, (gpointer)a);
    g_ptr_array_add(args, NULL);
    return args;
}

static int run_scflow(char **err, ...)
{
    va_list ap;
    va_start(ap, err);
    g_autoptr(GPtrArray) args = collect(ap);
    va_end(ap);
    return run_args((const char *const *)args->pdata, err);
}

static char *read_caption(const char *name)
{
    g_autofree char *path = g_build_filename(data_dir, name, NULL);
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return g_strstrip(text);
}

/* split.json holding out the last two emoji */
static void write_split(void)
{
    g_autofree char *a = read_caption("0010.txt"), *b = read_caption("0011.txt");
    g_autoptr(JsonBuilder) jb = json_builder_new();
    json_builder_begin_object(jb);
    json_builder_set_member_name(jb, "rule");
    json_builder_add_string_value(jb, "test: the last two");
    json_builder_set_member_name(jb, "held_out");
    json_builder_begin_array(jb);
    json_builder_add_string_value(jb, a);
    json_builder_add_string_value(jb, b);
    json_builder_end_array(jb);
    json_builder_set_member_name(jb, "train");
    json_builder_add_int_value(jb, 10);
    json_builder_end_object(jb);
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(jb);
    json_generator_set_root(gen, root);
    g_autofree char *path = g_build_filename(data_dir, "split.json", NULL);
    g_assert_true(json_generator_to_file(gen, path, NULL));
}

static void setup_model(void)
{
    const char *base = g_getenv("SCF_TEST_OUT");
    g_assert_cmpint(g_mkdir_with_parents(base ? base : g_get_tmp_dir(), 0755), ==, 0);
    work = g_build_filename(base ? base : g_get_tmp_dir(), "eval-XXXXXX", NULL);
    g_assert_nonnull(g_mkdtemp(work));
    data_dir = g_build_filename(work, "data", NULL);
    g_assert_cmpint(run_scflow(NULL, "dataset", "emoji", "--size", "16", "--limit", "12",
                               "--out", data_dir, NULL), ==, 0);
    write_split();
    g_autofree char *config = g_build_filename(g_getenv("SCF_FIXTURES"), "train",
                                               "tiny-teacher.json", NULL);
    g_autofree char *run = g_build_filename(work, "run", NULL);
    g_assert_cmpint(run_scflow(NULL, "train", "--data", data_dir, "--config", config, "--out", run,
                               "--device", "cpu", "-q", NULL), ==, 0);
    model_dir = g_build_filename(run, "model", NULL);
}

static JsonNode *member(JsonObject *o, const char *name)
{
    if (!json_object_has_member(o, name))
        g_error("results.json: no \"%s\"", name);
    return json_object_get_member(o, name);
}

static double number(JsonObject *o, const char *name)
{
    JsonNode *n = member(o, name);
    if (JSON_NODE_HOLDS_NULL(n))
        return NAN;
    g_assert_true(JSON_NODE_HOLDS_VALUE(n));
    return json_node_get_double(n);
}

static void assert_in(JsonObject *o, const char *name, double lo, double hi)
{
    double v = number(o, name);
    if (!(v >= lo && v <= hi))
        g_error("results.json: %s = %g, outside [%g, %g]", name, v, lo, hi);
}

/* A retrieval accuracy: a share of n prompts, with one listed miss, a
 * prompt and the other image it came nearest to, for each prompt missed. */
static void assert_share(JsonObject *o, int n)
{
    double v = number(o, "retrieval_accuracy");
    g_assert_cmpfloat(v, >=, 0);
    g_assert_cmpfloat(v, <=, 1);
    g_assert_cmpfloat_with_epsilon(v * n, round(v * n), 1e-9);
    JsonArray *misses = json_node_get_array(member(o, "misses"));
    g_assert_cmpint(json_array_get_length(misses), ==, (int)round((1 - v) * n));
    for (guint i = 0; i < json_array_get_length(misses); i++) {
        JsonObject *m = json_array_get_object_element(misses, i);
        const char *prompt = json_object_get_string_member(m, "prompt");
        const char *nearest = json_object_get_string_member(m, "nearest");
        g_assert_true(prompt && *prompt && nearest && *nearest);
        g_assert_cmpstr(prompt, !=, nearest);
    }
}

static JsonObject *row_at(JsonArray *rows, int i)
{
    return json_node_get_object(json_array_get_element(rows, i));
}

/* The figures of a row that depend only on the samples. */
static const char *const quality_fields[] = {
    "laplacian_variance", "blur_ratio", "saturation", "saturation_ratio", "clipped_fraction",
};

static void check_row(JsonObject *row, int steps, const char *role, int largest)
{
    g_assert_cmpint(json_object_get_int_member(row, "steps"), ==, steps);
    g_assert_cmpstr(json_object_get_string_member(row, "role"), ==, role);
    g_assert_nonnull(strstr(json_object_get_string_member(row, "label"), "@"));
    assert_in(row, "guidance", 1.5, 1.5); /* the fixture's default */
    g_assert_cmpint(json_object_get_int_member(row, "consistency_reference_steps"), ==, largest);
    if (steps == largest) {
        g_assert_true(JSON_NODE_HOLDS_NULL(member(row, "consistency_mad")));
        g_assert_true(JSON_NODE_HOLDS_NULL(member(row, "consistency_psnr")));
    } else {
        assert_in(row, "consistency_mad", 0, 1);
        assert_in(row, "consistency_psnr", 0, 100);
    }
    assert_in(row, "laplacian_variance", 0, 16); /* |Laplacian| <= 4 on [0, 1] */
    assert_in(row, "blur_ratio", 1e-6, 1e6);
    assert_in(row, "saturation", 0, 1);
    assert_in(row, "saturation_ratio", 1e-6, 1e6);
    assert_in(row, "clipped_fraction", 0, 1);
    JsonObject *train = json_node_get_object(member(row, "train"));
    JsonObject *held = json_node_get_object(member(row, "held_out"));
    assert_in(train, "psnr", 0, 100);
    assert_in(held, "psnr", 0, 100);
    assert_share(train, 8);
    assert_share(held, 2);
    assert_in(row, "images_per_s", 1e-3, 1e7);
}

static void test_eval_end_to_end(void)
{
    g_autofree char *out = g_build_filename(work, "eval", NULL);
    g_autofree char *err = NULL;
    /* the teacher is the model itself, so teacher@2 must equal model@2:
     * both use the noise seed + p for prompt p */
    g_assert_cmpint(run_scflow(&err, "eval", "--model", model_dir, "--data", data_dir, "--steps",
                               "1,2,4", "--teacher", model_dir, "--teacher-steps", "2,4",
                               "--limit", "8", "--speed-batch", "2", "--grid", "4", "--seed", "3",
                               "--out", out, "--device", "cpu", NULL), ==, 0);
    g_autofree char *path = g_build_filename(out, "results.json", NULL);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_file(parser, path, NULL));
    JsonObject *r = json_node_get_object(json_parser_get_root(parser));
    g_assert_cmpstr(json_object_get_string_member(r, "format"), ==, "scflow-eval");
    g_assert_cmpint(json_object_get_int_member(r, "seed"), ==, 3);
    g_assert_cmpint(json_object_get_int_member(r, "image_size"), ==, 16);
    g_assert_cmpstr(json_object_get_string_member(r, "device"), ==, "cpu");
    for (int i = 0; i < 2; i++) {
        JsonObject *m = json_node_get_object(member(r, i ? "teacher" : "model"));
        g_assert_cmpstr(json_object_get_string_member(m, "name"), ==, "tiny-teacher");
        g_assert_cmpint(strlen(json_object_get_string_member(m, "hash")), ==, 10);
    }
    JsonObject *prompts = json_node_get_object(member(r, "prompts"));
    JsonObject *available = json_node_get_object(member(r, "available"));
    g_assert_cmpint(json_object_get_int_member(prompts, "train"), ==, 8);
    g_assert_cmpint(json_object_get_int_member(prompts, "held_out"), ==, 2);
    g_assert_cmpint(json_object_get_int_member(available, "train"), ==, 10);
    g_assert_cmpint(json_object_get_int_member(available, "held_out"), ==, 2);
    g_assert_cmpint(json_object_get_int_member(r, "reference_images"), ==, 12);
    JsonObject *real = json_node_get_object(member(r, "real"));
    assert_in(real, "laplacian_variance", 1e-6, 16);
    assert_in(real, "saturation", 0.01, 1); /* emoji are colourful */
    assert_in(real, "clipped_fraction", 0, 1);
    assert_in(r, "seconds", 0, 600);

    JsonArray *rows = json_node_get_array(member(r, "rows"));
    g_assert_cmpint(json_array_get_length(rows), ==, 5);
    const int steps[] = { 1, 2, 4, 2, 4 };
    for (int i = 0; i < 5; i++)
        check_row(row_at(rows, i), steps[i], i < 3 ? "model" : "teacher", 4);
    for (size_t f = 0; f < G_N_ELEMENTS(quality_fields); f++)
        g_assert_cmpfloat(number(row_at(rows, 1), quality_fields[f]), ==,
                          number(row_at(rows, 3), quality_fields[f]));
    g_assert_cmpfloat(number(row_at(rows, 1), "consistency_mad"), ==,
                      number(row_at(rows, 3), "consistency_mad"));
    /* every pair of the model's step counts, each row against the other two */
    JsonArray *pairs = json_object_get_array_member(row_at(rows, 0), "consistency");
    g_assert_cmpint(json_array_get_length(pairs), ==, 2);
    JsonObject *one_vs_four = json_node_get_object(json_array_get_element(pairs, 1));
    g_assert_cmpint(json_object_get_int_member(one_vs_four, "steps"), ==, 4);
    g_assert_cmpfloat(number(one_vs_four, "mad"), ==, number(row_at(rows, 0), "consistency_mad"));

    g_autofree char *md_path = g_build_filename(out, "results.md", NULL);
    g_autofree char *md = NULL;
    g_assert_true(g_file_get_contents(md_path, &md, NULL, NULL));
    g_assert_nonnull(strstr(md, "| model@N |"));
    g_assert_nonnull(strstr(md, "| tiny-teacher@1 |"));
    g_assert_nonnull(strstr(md, "| tiny-teacher@4 (teacher) |"));

    /* one line per prompt: 4 training ones, then the 2 held out */
    g_autofree char *train_png = g_build_filename(out, "grid-train.png", NULL);
    g_autofree char *held_png = g_build_filename(out, "grid-held-out.png", NULL);
    g_autoptr(scf_image) train_grid = scf_png_read(train_png, NULL, NULL, NULL);
    g_autoptr(scf_image) held_grid = scf_png_read(held_png, NULL, NULL, NULL);
    g_assert_nonnull(train_grid);
    g_assert_nonnull(held_grid);
    g_assert_cmpint(train_grid->width, ==, held_grid->width);
    g_assert_cmpint(train_grid->height, ==, 2 * held_grid->height);
    /* six columns (real + 5 rows) of 16 px images enlarged 8 times */
    g_assert_cmpint(train_grid->width, >, 6 * 128);
}

/* scflow with the arguments exits with want and says needle on stderr. */
static void expect_failure(int want, const char *needle, ...)
{
    va_list ap;
    va_start(ap, needle);
    g_autoptr(GPtrArray) args = collect(ap);
    va_end(ap);
    g_autofree char *err = NULL;
    g_assert_cmpint(run_args((const char *const *)args->pdata, &err), ==, want);
    if (!strstr(err, needle))
        g_error("expected \"%s\" in the error, got: %s", needle, err);
}

static void test_eval_bad_input(void)
{
    g_autofree char *out = g_build_filename(work, "bad", NULL);
    g_autofree char *missing = g_build_filename(work, "no-such-folder", NULL);
    g_autofree char *empty = g_build_filename(work, "empty", NULL);
    g_assert_cmpint(g_mkdir_with_parents(empty, 0755), ==, 0);
    expect_failure(1, "no-such-folder", "eval", "--model", model_dir, "--data", missing, "--out",
                   out, NULL);
    expect_failure(1, "is empty", "eval", "--model", model_dir, "--data", empty, "--out", out,
                   "--device", "cpu", NULL);
    expect_failure(1, "no-such-folder", "eval", "--model", missing, "--data", data_dir, "--out",
                   out, "--device", "cpu", NULL);
    expect_failure(1, "no-such-folder", "eval", "--model", model_dir, "--teacher", missing,
                   "--data", data_dir, "--out", out, "--device", "cpu", NULL);
    expect_failure(2, "--steps", "eval", "--model", model_dir, "--data", data_dir, "--steps", "0,2",
                   "--out", out, NULL);
    expect_failure(2, "listed twice", "eval", "--model", model_dir, "--data", data_dir,
                   "--steps", "2,2", "--out", out, NULL);
    expect_failure(2, "limit", "eval", "--model", model_dir, "--data", data_dir, "--limit", "0",
                   "--out", out, NULL);
    expect_failure(2, "--teacher", "eval", "--model", model_dir, "--data", data_dir,
                   "--teacher-steps", "8", "--out", out, NULL);
    expect_failure(2, "--out", "eval", "--model", model_dir, "--data", data_dir, NULL);
    g_assert_false(g_file_test(out, G_FILE_TEST_EXISTS)); /* nothing written on failure */
}

static gboolean cancel_on_third(const scf_eval_progress *p, gpointer user)
{
    int *calls = user;
    g_assert_cmpint(p->images_total, >, 0);
    g_assert_cmpfloat(p->fraction, >=, 0);
    g_assert_cmpfloat(p->fraction, <=, 1);
    return ++*calls < 3;
}

/* The library call: a folder without split.json has no held-out figures
 * (NaN, null in JSON), no timing gives no speed, and a progress callback
 * that says stop cancels. */
static void test_eval_api(void)
{
    g_autofree char *plain = g_build_filename(work, "plain", NULL);
    g_assert_cmpint(run_scflow(NULL, "dataset", "emoji", "--size", "16", "--limit", "5",
                               "--out", plain, NULL), ==, 0);
    g_autofree char *split = g_build_filename(plain, "split.json", NULL);
    g_assert_cmpint(g_remove(split), ==, 0);
    g_autoptr(GError) error = NULL;
    scf_model *m = scf_model_load(model_dir, chk_cpu(), FALSE, &error);
    g_assert_no_error(error);
    scf_eval_options o;
    scf_eval_options_defaults(&o);
    o.n_steps = 2; /* 1, 2 */
    o.speed_batch = 0;
    o.limit = 3;
    scf_eval_results r;
    g_assert_true(scf_eval_run(m, NULL, plain, &o, &r, NULL, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpint(r.n_prompts[SCF_EVAL_TRAIN], ==, 3);
    g_assert_cmpint(r.n_prompts[SCF_EVAL_HELD_OUT], ==, 0);
    g_assert_cmpint(r.n_reference, ==, 5);
    g_assert_cmpint(r.n_rows, ==, 2);
    g_assert_true(isnan(r.rows[0].psnr[SCF_EVAL_HELD_OUT]));
    g_assert_true(isnan(r.rows[0].images_per_s));
    g_assert_true(isfinite(r.rows[0].psnr[SCF_EVAL_TRAIN]));
    g_assert_null(r.rows[0].grid[SCF_EVAL_HELD_OUT]);
    g_autofree char *json = scf_eval_results_to_json(&r);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_data(parser, json, -1, NULL));
    JsonObject *row = row_at(json_object_get_array_member(
                                 json_node_get_object(json_parser_get_root(parser)), "rows"), 0);
    JsonObject *held = json_object_get_object_member(row, "held_out");
    JsonObject *train = json_object_get_object_member(row, "train");
    g_assert_true(JSON_NODE_HOLDS_NULL(member(row, "images_per_s")));
    g_assert_true(JSON_NODE_HOLDS_NULL(member(held, "psnr")));
    g_assert_false(JSON_NODE_HOLDS_NULL(member(train, "psnr")));
    scf_eval_results_clear(&r);

    int calls = 0;
    g_assert_false(scf_eval_run(m, NULL, plain, &o, &r, cancel_on_third, &calls, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_CANCELLED);
    g_assert_nonnull(strstr(error->message, "cancelled"));
    g_assert_cmpint(calls, ==, 3);
    g_assert_cmpint(r.n_rows, ==, 0);
    g_clear_error(&error);

    o.steps[1] = 1;
    g_assert_false(scf_eval_run(m, NULL, plain, &o, &r, NULL, NULL, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "1 is listed twice"));
    scf_model_free(m);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    setup_model();
    g_test_add_func("/eval/end-to-end", test_eval_end_to_end);
    g_test_add_func("/eval/bad-input", test_eval_bad_input);
    g_test_add_func("/eval/api", test_eval_api);
    return g_test_run();
}

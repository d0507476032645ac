/* The Compare page of the real application under Xvfb, with the real engine
 * on the job runner's worker thread and tiny random-weight models written by
 * the test: the empty state, a comparison at 1, 2 and 4 steps (three images
 * shown, labelled with steps and time, the step-consistency figures, the
 * same noise as a generation with the same seed), saving it as the PNG
 * `scflow compare` writes (size, tiles, settings), a teacher column, and
 * cancelling. Screenshots go to $SCF_TEST_OUT.
 *
 * The cases share one application and run in order; data, config and home
 * folders are fresh temporary ones, and settings live in memory. */
#include "model-catalog.h"
#include "scf-application.h"
#include "scf-compare-controller.h"
#include "scf-job-runner.h"
#include "scf-window.h"
#include "scflow.h"
#include "tiny-model.h"
#include "ui-harness.h"
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

/* Generous: other work may share the machine's two cores. */
#define WAIT_SECONDS 120
/* What compare-grid.c draws: a margin, a label band, tiles at SCALE. */
#define GRID_PAD 8
#define GRID_LABEL_H 38
#define GRID_SCALE 4

/* ---- finding things ---- */

static ScfCompareView *view(void)
{
    return scf_window_get_compare_view(ui_studio_window());
}

static ScfCompareController *controller(void)
{
    return g_object_get_data(G_OBJECT(ui_studio_window()), "scf-compare-controller");
}

/* The pictures of the comparison shown, left to right. */
static GPtrArray *pictures(void)
{
    GPtrArray *found = g_ptr_array_new();
    g_autoptr(GPtrArray) all = g_ptr_array_new();
    ui_collect_descendants(GTK_WIDGET(view()), GTK_TYPE_PICTURE, all);
    for (guint i = 0; i < all->len; i++)
        if (g_strcmp0(gtk_widget_get_name(all->pdata[i]), "compare-picture") == 0)
            g_ptr_array_add(found, all->pdata[i]);
    return found;
}

/* Every label's text on the page, one a line. */
static char *page_text(void)
{
    g_autoptr(GPtrArray) labels = g_ptr_array_new();
    ui_collect_descendants(GTK_WIDGET(view()), GTK_TYPE_LABEL, labels);
    GString *text = g_string_new(NULL);
    for (guint i = 0; i < labels->len; i++)
        if (gtk_widget_get_mapped(labels->pdata[i]))
            g_string_append_printf(text, "%s\n", gtk_label_get_label(labels->pdata[i]));
    return g_string_free(text, FALSE);
}

/* ---- conditions ---- */

static gboolean view_idle(gpointer data)
{
    gboolean busy = TRUE;
    g_object_get(view(), "busy", &busy, NULL);
    return !busy;
}

static gboolean compare_ready(gpointer data)
{
    return ui_studio_action_enabled("compare") &&
           g_strcmp0(ui_stack_page(GTK_WIDGET(view()), "empty"), "main") == 0;
}

static gboolean page_shows(gpointer text)
{
    g_autofree char *all = page_text();
    return strstr(all, text) != NULL;
}

/* Compare, as the button does, and wait for the job to end. */
static void compare(void)
{
    g_assert_true(ui_studio_action_enabled("compare"));
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(view()), "win.compare", NULL));
    g_assert_false(view_idle(NULL));
    g_assert_true(ui_wait_until(view_idle, NULL, WAIT_SECONDS));
}

/* ---- the cases ---- */

/* Without a model the page says so, and nothing can be compared. */
static void test_empty_state(void)
{
    ui_studio_activate(WAIT_SECONDS);
    g_action_group_activate_action(G_ACTION_GROUP(ui_studio_window()), "page",
                                   g_variant_new_string("compare"));
    g_autofree char *embedded = scf_model_catalog_default_dir();
    if (embedded) {
        g_test_skip("an embedded model is installed, so there is no empty state");
        return;
    }
    ui_run_for_ms(200); /* the model scans run on threads */
    g_assert_cmpstr(ui_stack_page(GTK_WIDGET(view()), "empty"), ==, "empty");
    g_assert_false(ui_studio_action_enabled("compare"));
    ui_studio_screenshot("studio-compare-empty.png");
}

/* The teacher chooser offers the models of kind "teacher" after "None". */
static void test_models(void)
{
    g_settings_set_string(ui_studio.settings, "default-model", "tiny-student");
    g_settings_set_string(ui_studio.settings, "models-folder", ui_studio.models_dir);
    g_assert_true(ui_wait_until(compare_ready, NULL, WAIT_SECONDS));
    g_autoptr(GPtrArray) dropdowns = g_ptr_array_new();
    ui_collect_descendants(GTK_WIDGET(view()), GTK_TYPE_DROP_DOWN, dropdowns);
    g_assert_cmpuint(dropdowns->len, ==, 1);
    GListModel *names = gtk_drop_down_get_model(dropdowns->pdata[0]);
    g_assert_cmpuint(g_list_model_get_n_items(names), ==, 2);
    g_assert_cmpstr(gtk_string_list_get_string(GTK_STRING_LIST(names), 1), ==, "tiny-teacher");
    g_autofree char *teacher = NULL;
    g_object_get(view(), "teacher", &teacher, NULL);
    g_assert_null(teacher);
    g_assert_true(page_shows("tiny-student"));
}

/* The pixels of texture, RGB. */
static guchar *texture_rgb(GdkTexture *texture)
{
    int w = gdk_texture_get_width(texture), h = gdk_texture_get_height(texture);
    g_autofree guchar *bgra = g_malloc((gsize)w * h * 4);
    gdk_texture_download(texture, bgra, (gsize)w * 4);
    guchar *rgb = g_malloc((gsize)w * h * 3);
    for (int i = 0; i < w * h; i++) {
        /* GDK_MEMORY_DEFAULT is B, G, R, A in memory on little-endian. */
        rgb[3 * i + 0] = bgra[4 * i + 2];
        rgb[3 * i + 1] = bgra[4 * i + 1];
        rgb[3 * i + 2] = bgra[4 * i + 0];
    }
    return rgb;
}


/* One prompt and seed at 1, 2 and 4 steps: three pictures with their step
 * counts and times, the three pairwise figures, each the mean absolute
 * difference of the columns' images; the 1-step column is the very image a
 * generation with that seed makes. */
static void test_compare(void)
{
    g_object_set(view(), "prompt", "grinning face", "seed", (guint64)77, NULL);
    int steps[8];
    g_assert_cmpint(scf_compare_view_get_step_counts(view(), steps, 8), ==, 3);
    g_assert_cmpint(steps[0], ==, 1);
    g_assert_cmpint(steps[2], ==, 4);
    compare();

    g_autoptr(GPtrArray) shown = pictures();
    g_assert_cmpuint(shown->len, ==, 3);
    for (guint i = 0; i < shown->len; i++) {
        g_assert_true(gtk_widget_get_mapped(shown->pdata[i]));
        GdkPaintable *p = gtk_picture_get_paintable(shown->pdata[i]);
        g_assert_cmpint(gdk_paintable_get_intrinsic_width(p), ==, 160); /* 32 × 5 */
        g_assert_cmpstr(gtk_picture_get_alternative_text(shown->pdata[i]), ==, "grinning face");
    }
    g_autofree char *text = page_text();
    g_printerr("# page:\n%s", text);
    /* Each picture is labelled by its step count, then its time. */
    const char *titles[] = { "\n1 step\n", "\n2 steps\n", "\n4 steps\n" };
    for (gsize i = 0; i < G_N_ELEMENTS(titles); i++) {
        const char *at = strstr(text, titles[i]);
        g_assert_nonnull(at);
        g_assert_true(g_regex_match_simple("^[0-9]+ ms per image\n", at + strlen(titles[i]), 0, 0));
    }

    ScfComparison *c = scf_compare_controller_get_comparison(controller());
    g_assert_nonnull(c);
    g_assert_cmpuint(c->columns->len, ==, 3);
    for (guint i = 0; i < 3; i++) {
        const ScfComparisonColumn *column = c->columns->pdata[i];
        g_assert_cmpint(column->steps, ==, 1 << i);
        g_assert_false(column->teacher);
        g_assert_cmpfloat(column->seconds, >, 0);
    }
    const size_t n = 3 * 32 * 32;
    const ScfComparisonColumn *one = c->columns->pdata[0], *four = c->columns->pdata[2];
    double mad = scf_metric_mad(one->pixels, four->pixels, n);
    g_assert_cmpfloat(mad, ==, c->mad[0 * 3 + 2]);
    /* Random weights: different step counts give different images. */
    g_assert_cmpfloat(mad, >, 1e-4);
    g_assert_cmpfloat(mad, <, 1);
    g_autofree char *figure = g_strdup_printf("1 step vs 4 steps: %.3f", mad);
    g_assert_nonnull(strstr(text, figure));
    g_assert_nonnull(strstr(text, "1 step vs 2 steps: "));
    g_assert_nonnull(strstr(text, "2 steps vs 4 steps: "));

    /* The same seed, the same noise: a 1-step generation is the 1-step column. */
    g_autofree char *student = ui_studio_model_path("tiny-student");
    ScfJobRunner *runner = g_object_new(SCF_TYPE_JOB_RUNNER, NULL);
    ScfGenerationRequest r = { .model_dir = student, .device = "cpu", .threads = 0,
                               .prompt = "grinning face", .steps = 1, .guidance = 1,
                               .seed = 77, .batch = 1 };
    ui_job_outcome o = { 0 };
    scf_job_runner_generate_async(runner, &r, NULL, NULL, NULL, NULL, NULL, ui_job_finished, &o);
    g_assert_true(ui_wait_until(ui_job_done, &o, WAIT_SECONDS));
    g_assert_no_error(o.error);
    const ScfGeneratedImage *image = o.generation->images->pdata[0];
    g_autofree guchar *generated_rgb = texture_rgb(image->texture);
    g_assert_cmpmem(generated_rgb, n, one->image->data, n);
    scf_generation_free(o.generation);
    g_object_unref(runner);

    ui_studio_screenshot("studio-compare-result.png");
}

static gboolean saved(gpointer path)
{
    return page_shows("Saved as");
}

/* Save as PNG writes the grid `scflow compare` writes: the three tiles
 * enlarged four times under their labels, with the model's settings and the
 * step counts compared. */
static void test_save(void)
{
    /* Kept with the screenshots, to be looked at. */
    const char *out = g_getenv("SCF_TEST_OUT");
    g_assert_true(out && g_mkdir_with_parents(out, 0755) == 0);
    g_autofree char *path = g_build_filename(out, "studio-compare-saved.png", NULL);
    g_remove(path);
    g_autoptr(GFile) file = g_file_new_for_path(path);
    g_assert_true(gtk_widget_is_sensitive(GTK_WIDGET(view())));
    g_signal_emit_by_name(view(), "save-requested", file);
    g_assert_true(ui_wait_until(saved, path, WAIT_SECONDS));

    g_autoptr(GError) error = NULL;
    scf_gen_params p;
    gboolean found = FALSE;
    g_autoptr(scf_image) grid = scf_png_read(path, &p, &found, &error);
    g_assert_no_error(error);
    g_assert_true(found);
    const int tile = 32 * GRID_SCALE;
    g_assert_cmpint(grid->width, ==, GRID_PAD + 3 * (tile + GRID_PAD));
    g_assert_cmpint(grid->height, ==, GRID_PAD + GRID_LABEL_H + tile + GRID_PAD);
    g_assert_cmpstr(p.prompt, ==, "grinning face");
    g_assert_cmpuint(p.seed, ==, 77);
    g_assert_cmpint(p.steps, ==, 1);
    g_assert_cmpstr(p.model_name, ==, "tiny-student");
    g_assert_cmpstr(scf_gen_params_get_extra(&p, "Compare steps"), ==, "1,2,4");
    scf_gen_params_clear(&p);

    /* Every tile pixel is its image's pixel, enlarged with square pixels. */
    ScfComparison *c = scf_compare_controller_get_comparison(controller());
    for (guint i = 0; i < 3; i++) {
        const scf_image *img = ((ScfComparisonColumn *)c->columns->pdata[i])->image;
        int x0 = GRID_PAD + (int)i * (tile + GRID_PAD), y0 = GRID_PAD + GRID_LABEL_H;
        for (int y = 0; y < tile; y++)
            for (int x = 0; x < tile; x++) {
                const guint8 *got = grid->data + ((size_t)(y0 + y) * grid->width + x0 + x) * 3;
                const guint8 *want = img->data + ((size_t)(y / GRID_SCALE) * 32 + x / GRID_SCALE) * 3;
                if (memcmp(got, want, 3) != 0)
                    g_error("tile %u pixel (%d, %d) differs from its image", i, x, y);
            }
    }
}

/* A teacher adds a column at its own step count, and figures against it. */
static void test_teacher(void)
{
    g_autofree char *teacher = ui_studio_model_path("tiny-teacher");
    g_object_set(view(), "teacher", teacher, NULL);
    int teacher_steps = 0;
    g_object_get(view(), "teacher-steps", &teacher_steps, NULL);
    g_assert_cmpint(teacher_steps, ==, 8); /* the teacher's own default */
    g_object_set(view(), "teacher-steps", 3, NULL);
    compare();
    g_autoptr(GPtrArray) shown = pictures();
    g_assert_cmpuint(shown->len, ==, 4);
    for (guint i = 0; i < shown->len; i++) {
        GdkPaintable *p = gtk_picture_get_paintable(shown->pdata[i]);
        g_assert_cmpint(gdk_paintable_get_intrinsic_width(p), ==, 128); /* 32 × 4: four fit */
    }
    g_autofree char *text = page_text();
    g_assert_nonnull(strstr(text, "\nteacher, 3 steps\n"));
    g_assert_nonnull(strstr(text, "1 step vs teacher, 3 steps: "));
    ScfComparison *c = scf_compare_controller_get_comparison(controller());
    const ScfComparisonColumn *last = c->columns->pdata[3];
    g_assert_true(last->teacher);
    g_assert_cmpint(last->steps, ==, 3);
    ui_studio_screenshot("studio-compare-teacher.png");
}

/* Cancel stops a long comparison and leaves the last results shown. */
static void test_cancel(void)
{
    g_object_set(view(), "teacher-steps", 1000, NULL);
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(view()), "win.compare", NULL));
    g_assert_true(ui_studio_action_enabled("compare-cancel"));
    g_assert_true(gtk_widget_activate_action(GTK_WIDGET(view()), "win.compare-cancel", NULL));
    g_assert_true(ui_wait_until(view_idle, NULL, WAIT_SECONDS));
    g_assert_true(page_shows("Cancelled after step"));
    g_autoptr(GPtrArray) shown = pictures();
    g_assert_cmpuint(shown->len, ==, 4);
    g_assert_false(ui_studio_action_enabled("compare-cancel"));
    g_assert_true(ui_studio_action_enabled("compare"));
    g_object_set(view(), "teacher", NULL, NULL);
}

static void test_quit(void)
{
    ui_app_quit(GTK_APPLICATION(ui_studio.app), WAIT_SECONDS);
}

static gboolean teacher_is(gpointer dir)
{
    g_autofree char *teacher = NULL;
    g_object_get(view(), "teacher", &teacher, NULL);
    return g_strcmp0(teacher, dir) == 0;
}

/* A student whose config names its teacher (as `scflow distill` writes it,
 * and as the embedded student names the embedded teacher) starts beside that
 * teacher, at the teacher's own step count, once chosen on Generate. */
static void test_student_teacher(void)
{
    /* a folder of its own: the teacher and a student distilled from it */
    g_autofree char *folder = g_build_filename(ui_studio.root, "distilled", NULL);
    g_assert_cmpint(g_mkdir_with_parents(folder, 0755), ==, 0);
    g_autofree char *teacher_src = ui_studio_model_path("tiny-teacher");
    g_autofree char *teacher = g_build_filename(folder, "tiny-teacher", NULL);
    g_assert_cmpint(symlink(teacher_src, teacher), ==, 0);
    g_autoptr(GError) error = NULL;
    g_assert_true(chk_tiny_model_write(folder, "tiny-distilled", 1, 1.0, &error));
    g_autofree char *config = g_build_filename(folder, "tiny-distilled", "config.json", NULL);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_assert_true(json_parser_load_from_file(parser, config, &error));
    json_object_set_string_member(json_node_get_object(json_parser_get_root(parser)), "teacher",
                                  "tiny-teacher");
    g_autoptr(JsonGenerator) gen = json_generator_new();
    json_generator_set_root(gen, json_parser_get_root(parser));
    g_assert_true(json_generator_to_file(gen, config, &error));

    g_object_set(view(), "teacher", NULL, NULL);
    g_settings_set_string(ui_studio.settings, "default-model", "tiny-distilled");
    g_settings_set_string(ui_studio.settings, "models-folder", folder);
    g_assert_true(ui_wait_until(teacher_is, teacher, WAIT_SECONDS));
    int steps = 0;
    g_object_get(view(), "teacher-steps", &steps, NULL);
    g_assert_cmpint(steps, ==, 8);
    /* the user's "None" stands while the model stays */
    g_object_set(view(), "teacher", NULL, NULL);
    ui_run_for_ms(300);
    g_assert_true(teacher_is(NULL));
}

static gboolean prompt_is(gpointer text)
{
    g_autofree char *prompt = NULL;
    g_object_get(view(), "prompt", &prompt, NULL);
    return g_strcmp0(prompt, text) == 0;
}

/* The page takes the Generate page's prompt until the user types another. */
static void test_prompt_follows(void)
{
    ScfGenerateView *generate = scf_window_get_generate_view(ui_studio_window());
    g_object_set(view(), "prompt", "", NULL);
    g_object_set(generate, "prompt", "cat face", NULL);
    g_assert_true(prompt_is("cat face"));
    g_object_set(generate, "prompt", "red heart", NULL);
    g_assert_true(prompt_is("red heart"));
    /* typed here: it stays */
    g_object_set(view(), "prompt", "rocket", NULL);
    g_object_set(generate, "prompt", "thumbs up", NULL);
    g_assert_true(prompt_is("rocket"));
    /* emptied here: it follows again */
    g_object_set(view(), "prompt", "", NULL);
    g_object_set(generate, "prompt", "grinning face", NULL);
    g_assert_true(prompt_is("grinning face"));
}

/* ---- setup ---- */

int main(int argc, char **argv)
{
    int early = ui_studio_begin("scf-ui-compare", &argc, &argv);
    if (early >= 0)
        return early;
    ui_studio_write_model("tiny-teacher", 8);
    ui_studio_write_model("tiny-student", 1);
    g_settings_set_string(ui_studio.settings, "device", "cpu");
    ui_studio_start();

    g_test_add_func("/ui/compare/empty-state", test_empty_state);
    g_test_add_func("/ui/compare/models", test_models);
    g_test_add_func("/ui/compare/compare", test_compare);
    g_test_add_func("/ui/compare/save", test_save);
    g_test_add_func("/ui/compare/teacher", test_teacher);
    g_test_add_func("/ui/compare/cancel", test_cancel);
    g_test_add_func("/ui/compare/student-teacher", test_student_teacher);
    g_test_add_func("/ui/compare/prompt-follows", test_prompt_follows);
    g_test_add_func("/ui/compare/quit", test_quit);
    return ui_studio_run();
}

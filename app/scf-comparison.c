#include "scf-comparison.h"
#include "compare-grid.h"
#include "generation-params.h"

ScfComparisonRequest *scf_comparison_request_copy(const ScfComparisonRequest *r)
{
    ScfComparisonRequest *c = g_memdup2(r, sizeof *r);
    c->model_dir = g_strdup(r->model_dir);
    c->teacher_dir = g_strdup(r->teacher_dir);
    c->device = g_strdup(r->device);
    c->prompt = g_strdup(r->prompt);
    return c;
}

void scf_comparison_request_free(ScfComparisonRequest *r)
{
    if (!r)
        return;
    g_free(r->model_dir);
    g_free(r->teacher_dir);
    g_free(r->device);
    g_free(r->prompt);
    g_free(r);
}

int scf_comparison_request_total_steps(const ScfComparisonRequest *r)
{
    int total = 0;
    for (int i = 0; i < r->n_steps; i++)
        total += r->steps[i];
    if (r->teacher_dir)
        total += r->teacher_steps;
    return total;
}

static void scf_comparison_column_free(ScfComparisonColumn *column)
{
    g_clear_object(&column->texture);
    scf_image_free(column->image);
    g_free(column->pixels);
    g_free(column);
}

static void scf_comparison_clear(gpointer data)
{
    ScfComparison *c = data;
    g_ptr_array_unref(c->columns);
    g_free(c->mad);
    scf_gen_params_clear(&c->params);
}

ScfComparison *scf_comparison_new(void)
{
    ScfComparison *c = g_atomic_rc_box_new0(ScfComparison);
    c->columns = g_ptr_array_new_with_free_func((GDestroyNotify)scf_comparison_column_free);
    scf_gen_params_init(&c->params);
    return c;
}

ScfComparison *scf_comparison_ref(ScfComparison *c)
{
    return g_atomic_rc_box_acquire(c);
}

void scf_comparison_unref(ScfComparison *c)
{
    if (c)
        g_atomic_rc_box_release_full(c, scf_comparison_clear);
}

static GdkTexture *scf_comparison_texture(const scf_image *img)
{
    gsize stride = (gsize)img->width * img->channels;
    g_autoptr(GBytes) bytes = g_bytes_new(img->data, stride * img->height);
    return gdk_memory_texture_new(img->width, img->height,
                                  img->channels == 4 ? GDK_MEMORY_R8G8B8A8 : GDK_MEMORY_R8G8B8,
                                  bytes, stride);
}

/* "1,2,4", as `scflow compare --steps` takes it. */
static char *scf_comparison_steps_list(const ScfComparisonRequest *r)
{
    GString *list = g_string_new(NULL);
    for (int i = 0; i < r->n_steps; i++)
        g_string_append_printf(list, i ? ",%d" : "%d", r->steps[i]);
    return g_string_free(list, FALSE);
}

gboolean scf_comparison_add_column(ScfComparison *c, scf_sampler *s, scf_model *m,
                                   scf_backend *be, const ScfComparisonRequest *r, int steps,
                                   gboolean teacher, gboolean warm_up, scf_progress_fn progress,
                                   gpointer user, GError **error)
{
    scf_sample_request sr = {
        .prompt = r->prompt, .steps = 1, .guidance = m->default_guidance, .seed = r->seed,
        .batch = 1,
    };
    if (!scf_sample_request_check(&sr, error))
        return FALSE;
    const ScfComparisonColumn *first = c->columns->len ? c->columns->pdata[0] : NULL;
    if (first && (first->image->width != m->image_size || first->image->channels != m->channels)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "%s makes %dx%d images with %d channels, the model compared %dx%d with %d",
                    m->name ? m->name : "the teacher", m->image_size, m->image_size, m->channels,
                    first->image->width, first->image->height, first->image->channels);
        return FALSE;
    }
    const size_t n = (size_t)m->channels * m->image_size * m->image_size;
    g_autofree float *pixels = g_new(float, n);
    /* The first run after a load sizes memory and encodes the prompt. */
    if (warm_up && !scf_sampler_run(s, &sr, pixels, NULL, NULL, error))
        return FALSE;
    sr.steps = steps;
    gint64 start = g_get_monotonic_time();
    if (!scf_sampler_run(s, &sr, pixels, progress, user, error))
        return FALSE;
    double seconds = (g_get_monotonic_time() - start) / (double)G_USEC_PER_SEC;
    scf_image *img = scf_image_from_chw(pixels, m->channels, m->image_size, m->image_size, error);
    if (!img)
        return FALSE;
    if (c->columns->len == 0) {
        scf_generation_fill_params(&c->params, m, be, &sr, 0);
        g_autofree char *list = scf_comparison_steps_list(r);
        scf_gen_params_set_extra(&c->params, "Compare steps", list);
    }
    ScfComparisonColumn *column = g_new0(ScfComparisonColumn, 1);
    column->image = img;
    column->texture = scf_comparison_texture(img);
    column->pixels = g_steal_pointer(&pixels);
    column->steps = steps;
    column->teacher = teacher;
    column->seconds = seconds;
    g_ptr_array_add(c->columns, column);
    return TRUE;
}

void scf_comparison_finish(ScfComparison *c)
{
    guint n = c->columns->len;
    g_free(c->mad);
    c->mad = g_new0(double, (gsize)n * n);
    for (guint i = 0; i < n; i++)
        for (guint j = i + 1; j < n; j++) {
            const ScfComparisonColumn *a = c->columns->pdata[i], *b = c->columns->pdata[j];
            size_t size = (size_t)a->image->width * a->image->height * a->image->channels;
            c->mad[i * n + j] = c->mad[j * n + i] = scf_metric_mad(a->pixels, b->pixels, size);
        }
}

gboolean scf_comparison_save(const ScfComparison *c, const char *path, int scale,
                             GError **error)
{
    guint n = c->columns->len;
    g_return_val_if_fail(n > 0, FALSE);
    g_autofree scf_image **images = g_new(scf_image *, n);
    g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < n; i++) {
        const ScfComparisonColumn *column = c->columns->pdata[i];
        images[i] = column->image;
        g_ptr_array_add(labels, scf_compare_grid_label(column->teacher, column->steps,
                                                       column->seconds * 1000));
    }
    g_autoptr(scf_image) grid = scf_compare_grid(images, (const char *const *)labels->pdata,
                                                 (int)n, scale, error);
    return grid && scf_png_write(path, grid, &c->params, error);
}

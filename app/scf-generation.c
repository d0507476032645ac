#include "scf-generation.h"
#include "generation-params.h"
#include <errno.h>

ScfGenerationRequest *scf_generation_request_copy(const ScfGenerationRequest *r)
{
    ScfGenerationRequest *c = g_memdup2(r, sizeof *r);
    c->model_dir = g_strdup(r->model_dir);
    c->device = g_strdup(r->device);
    c->prompt = g_strdup(r->prompt);
    c->negative = g_strdup(r->negative);
    c->output_dir = g_strdup(r->output_dir);
    return c;
}

void scf_generation_request_free(ScfGenerationRequest *r)
{
    if (!r)
        return;
    g_free(r->model_dir);
    g_free(r->device);
    g_free(r->prompt);
    g_free(r->negative);
    g_free(r->output_dir);
    g_free(r);
}

static void scf_generated_image_free(ScfGeneratedImage *image)
{
    g_clear_object(&image->texture);
    g_free(image->path);
    scf_gen_params_clear(&image->params);
    g_free(image);
}

void scf_generation_free(ScfGeneration *g)
{
    if (!g)
        return;
    g_ptr_array_unref(g->images);
    g_free(g);
}

static GdkTexture *scf_generation_texture(const scf_image *img)
{
    gsize stride = (gsize)img->width * img->channels;
    g_autoptr(GBytes) bytes = g_bytes_new(img->data, stride * img->height);
    return gdk_memory_texture_new(img->width, img->height,
                                  img->channels == 4 ? GDK_MEMORY_R8G8B8A8 : GDK_MEMORY_R8G8B8,
                                  bytes, stride);
}

/* DIR/scflow-YYYYMMDD-HHMMSS-SEED.png, numbered when taken: the seed keeps
 * the images of one batch apart, the number repeated runs of one seed. */
static char *scf_generation_output_path(const char *dir, guint64 seed)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_local();
    g_autofree char *stamp = g_date_time_format(now, "%Y%m%d-%H%M%S");
    for (int n = 1;; n++) {
        g_autofree char *name = n == 1
            ? g_strdup_printf("scflow-%s-%" G_GUINT64_FORMAT ".png", stamp, seed)
            : g_strdup_printf("scflow-%s-%" G_GUINT64_FORMAT "-%d.png", stamp, seed, n);
        char *path = g_build_filename(dir, name, NULL);
        if (!g_file_test(path, G_FILE_TEST_EXISTS))
            return path;
        g_free(path);
    }
}

static ScfGeneratedImage *scf_generation_image(const float *chw, scf_model *m, scf_backend *be,
                                               const ScfGenerationRequest *r,
                                               const scf_sample_request *sr, int b, GError **error)
{
    g_autoptr(scf_image) img = scf_image_from_chw(chw, m->channels, m->image_size,
                                                  m->image_size, error);
    if (!img)
        return NULL;
    ScfGeneratedImage *image = g_new0(ScfGeneratedImage, 1);
    scf_generation_fill_params(&image->params, m, be, sr, b);
    if (r->output_dir) {
        image->path = scf_generation_output_path(r->output_dir, image->params.seed);
        if (!scf_png_write(image->path, img, &image->params, error)) {
            scf_generated_image_free(image);
            return NULL;
        }
    }
    image->texture = scf_generation_texture(img);
    return image;
}

ScfGeneration *scf_generation_run(scf_sampler *s, scf_model *m, scf_backend *be,
                                  const ScfGenerationRequest *r, scf_progress_fn progress,
                                  gpointer user, GError **error)
{
    if (r->output_dir && g_mkdir_with_parents(r->output_dir, 0755) != 0) {
        int err = errno;
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot create the output folder: %s",
                    r->output_dir, g_strerror(err));
        return NULL;
    }
    scf_sample_request sr = {
        .prompt = r->prompt, .negative = r->negative, .steps = r->steps,
        .guidance = (float)r->guidance, .seed = r->seed, .batch = r->batch,
    };
    if (!scf_sample_request_check(&sr, error))
        return NULL;
    const size_t img = (size_t)m->channels * m->image_size * m->image_size;
    g_autofree float *pixels = g_new(float, (size_t)r->batch * img);
    gint64 start = g_get_monotonic_time();
    if (!scf_sampler_run(s, &sr, pixels, progress, user, error))
        return NULL;
    ScfGeneration *g = g_new0(ScfGeneration, 1);
    g->seconds = (g_get_monotonic_time() - start) / (double)G_USEC_PER_SEC;
    g->images = g_ptr_array_new_with_free_func((GDestroyNotify)scf_generated_image_free);
    for (int b = 0; b < r->batch; b++) {
        ScfGeneratedImage *image = scf_generation_image(pixels + (size_t)b * img, m, be, r, &sr,
                                                        b, error);
        if (!image) {
            scf_generation_free(g);
            return NULL;
        }
        g_ptr_array_add(g->images, image);
    }
    return g;
}

#include "scf-generation.h"
#include "generation-params.h"

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

/* The image of batch position b, stored in the gallery (file first, then
 * its row) when there is one. */
static ScfGeneratedImage *scf_generation_image(const float *chw, scf_model *m, scf_backend *be,
                                               scf_gallery *gallery, gint64 duration_ms,
                                               const scf_sample_request *sr, int b, GError **error)
{
    g_autoptr(scf_image) img = scf_image_from_chw(chw, m->channels, m->image_size,
                                                  m->image_size, error);
    if (!img)
        return NULL;
    ScfGeneratedImage *image = g_new0(ScfGeneratedImage, 1);
    scf_generation_fill_params(&image->params, m, be, sr, b);
    if (gallery) {
        gint64 id = 0;
        scf_gallery_entry *e = NULL;
        if (!scf_gallery_insert(gallery, img, &image->params, duration_ms, &id, error) ||
            !(e = scf_gallery_get(gallery, id, error))) {
            scf_generated_image_free(image);
            return NULL;
        }
        image->path = g_strdup(e->image_path);
        scf_gallery_entry_free(e);
    }
    image->texture = scf_generation_texture(img);
    return image;
}

ScfGeneration *scf_generation_run(scf_sampler *s, scf_model *m, scf_backend *be,
                                  const ScfGenerationRequest *r, scf_progress_fn progress,
                                  gpointer user, GError **error)
{
    scf_sample_request sr = {
        .prompt = r->prompt, .negative = r->negative, .steps = r->steps,
        .guidance = (float)r->guidance, .seed = r->seed, .batch = r->batch,
    };
    if (!scf_sample_request_check(&sr, error))
        return NULL;
    const size_t img = (size_t)m->channels * m->image_size * m->image_size;
    g_autofree float *pixels = g_new(float, (size_t)r->batch * img);
    /* the output folder is a gallery: every image gets its file and its row */
    scf_gallery *gallery = NULL;
    if (r->output_dir && !(gallery = scf_gallery_open(r->output_dir, NULL, error)))
        return NULL;
    gint64 start = g_get_monotonic_time();
    if (!scf_sampler_run(s, &sr, pixels, progress, user, error)) {
        scf_gallery_close(gallery);
        return NULL;
    }
    ScfGeneration *g = g_new0(ScfGeneration, 1);
    g->seconds = (g_get_monotonic_time() - start) / (double)G_USEC_PER_SEC;
    g->images = g_ptr_array_new_with_free_func((GDestroyNotify)scf_generated_image_free);
    for (int b = 0; b < r->batch; b++) {
        ScfGeneratedImage *image = scf_generation_image(pixels + (size_t)b * img, m, be, gallery,
                                                        (gint64)(g->seconds * 1000), &sr, b,
                                                        error);
        if (!image) {
            scf_generation_free(g);
            g = NULL;
            break;
        }
        g_ptr_array_add(g->images, image);
    }
    scf_gallery_close(gallery);
    return g;
}

#include "compare-grid.h"
#include <pango/pangocairo.h>

/* two lines of label, so "teacher 32 steps · 1234 ms" fits a 128 px column */
enum { PAD = 8, LABEL_H = 38 };

static void draw_label(cairo_t *cr, const char *text, int x, int width)
{
    PangoLayout *layout = pango_cairo_create_layout(cr);
    PangoFontDescription *font = pango_font_description_from_string("Sans 10");
    pango_layout_set_font_description(layout, font);
    pango_layout_set_text(layout, text, -1);
    pango_layout_set_width(layout, width * PANGO_SCALE);
    pango_layout_set_alignment(layout, PANGO_ALIGN_CENTER);
    pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_height(layout, -2); /* at most two lines, then an ellipsis */
    pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END);
    cairo_set_source_rgb(cr, 0.13, 0.13, 0.13);
    cairo_move_to(cr, x, PAD);
    pango_cairo_show_layout(cr, layout);
    pango_font_description_free(font);
    g_object_unref(layout);
}

static cairo_surface_t *image_surface(const scf_image *img)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, img->width, img->height);
    unsigned char *dst = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            const uint8_t *p = img->data + ((size_t)y * img->width + x) * img->channels;
            ((uint32_t *)(dst + (size_t)y * stride))[x] = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
        }
    cairo_surface_mark_dirty(s);
    return s;
}

char *scf_compare_grid_label(gboolean teacher, int steps, double ms)
{
    return g_strdup_printf("%s%d step%s · %.0f ms", teacher ? "teacher " : "", steps,
                           steps > 1 ? "s" : "", ms);
}

scf_image *scf_compare_grid(scf_image *const *images, const char *const *labels, int n,
                            int scale, GError **error)
{
    g_return_val_if_fail(n > 0 && scale > 0, NULL);
    const int cw = images[0]->width * scale, ch = images[0]->height * scale;
    const int W = PAD + n * (cw + PAD), H = PAD + LABEL_H + ch + PAD;
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    for (int i = 0; i < n; i++) {
        int x = PAD + i * (cw + PAD);
        draw_label(cr, labels[i], x, cw);
        cairo_surface_t *tile = image_surface(images[i]);
        cairo_save(cr);
        cairo_translate(cr, x, PAD + LABEL_H);
        cairo_scale(cr, scale, scale);
        cairo_set_source_surface(cr, tile, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
        cairo_paint(cr);
        cairo_restore(cr);
        cairo_surface_destroy(tile);
    }
    cairo_destroy(cr);
    cairo_surface_flush(surface);
    scf_image *out = scf_image_new(W, H, 3, error);
    if (out) {
        const unsigned char *src = cairo_image_surface_get_data(surface);
        int stride = cairo_image_surface_get_stride(surface);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                uint32_t v = ((const uint32_t *)(src + (size_t)y * stride))[x];
                uint8_t *p = out->data + ((size_t)y * W + x) * 3;
                p[0] = v >> 16 & 0xFF;
                p[1] = v >> 8 & 0xFF;
                p[2] = v & 0xFF;
            }
    }
    cairo_surface_destroy(surface);
    return out;
}

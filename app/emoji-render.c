#include "emoji-render.h"
#include "dataset.h"
#include "error.h"
#include <string.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>

struct scf_emoji_renderer {
    PangoFontMap *fontmap;
    PangoContext *context;
    PangoLayout *layout;
    char *font_file;
    char *font_version;
    int cell;
    cairo_surface_t *surface;   /* cell x cell, reused for every emoji */
    cairo_t *cr;
};

/* Asks fontconfig for the family: it substitutes another font when the
 * family is missing, so the match must carry the name. */
static gboolean find_font(scf_emoji_renderer *r, GError **error)
{
    FcPattern *pat = FcNameParse((const FcChar8 *)SCF_EMOJI_FONT_FAMILY);
    FcConfigSubstitute(NULL, pat, FcMatchPattern);
    FcDefaultSubstitute(pat);
    FcResult res;
    FcPattern *match = FcFontMatch(NULL, pat, &res);
    FcPatternDestroy(pat);
    FcChar8 *family = NULL, *file = NULL;
    int version = 0;
    gboolean ok = match && FcPatternGetString(match, FC_FAMILY, 0, &family) == FcResultMatch &&
                  strcmp((const char *)family, SCF_EMOJI_FONT_FAMILY) == 0 &&
                  FcPatternGetString(match, FC_FILE, 0, &file) == FcResultMatch;
    if (ok) {
        r->font_file = g_strdup((const char *)file);
        FcPatternGetInteger(match, FC_FONTVERSION, 0, &version);
        r->font_version = g_strdup_printf("%.3f", version / 65536.0);
    } else {
        g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED,
                    "the %s font is not installed (Debian package %s)", SCF_EMOJI_FONT_FAMILY,
                    SCF_EMOJI_FONT_PACKAGE);
    }
    if (match)
        FcPatternDestroy(match);
    return ok;
}

/* The one glyph pango shaped text into, or a reason why there is not one. */
static PangoGlyphItem *single_glyph(scf_emoji_renderer *r, const char *text, char **skip)
{
    pango_layout_set_text(r->layout, text, -1);
    PangoLayoutLine *line = pango_layout_get_line_readonly(r->layout, 0);
    int runs = line ? (int)g_slist_length(line->runs) : 0;
    if (pango_layout_get_line_count(r->layout) != 1 || runs != 1) {
        *skip = g_strdup_printf("shapes into %d runs of text", runs);
        return NULL;
    }
    PangoGlyphItem *run = line->runs->data;
    PangoFontDescription *desc = pango_font_describe(run->item->analysis.font);
    const char *family = pango_font_description_get_family(desc);
    if (g_strcmp0(family, SCF_EMOJI_FONT_FAMILY) != 0)
        *skip = g_strdup_printf("drawn with the fallback font %s", family ? family : "(none)");
    else if (run->glyphs->num_glyphs != 1)
        *skip = g_strdup_printf("shapes into %d glyphs", run->glyphs->num_glyphs);
    else if (run->glyphs->glyphs[0].glyph & PANGO_GLYPH_UNKNOWN_FLAG)
        *skip = g_strdup("the font has no glyph for it");
    pango_font_description_free(desc);
    return *skip ? NULL : run;
}

static PangoRectangle ink_pixels(PangoGlyphItem *run)
{
    PangoRectangle ink;
    pango_glyph_string_extents(run->glyphs, run->item->analysis.font, &ink, NULL);
    pango_extents_to_pixels(&ink, NULL);
    return ink;
}

scf_emoji_renderer *scf_emoji_renderer_new(GError **error)
{
    scf_emoji_renderer *r = g_new0(scf_emoji_renderer, 1);
    if (!find_font(r, error)) {
        scf_emoji_renderer_free(r);
        return NULL;
    }
    /* a private font map: fonts of other code in the process do not leak in */
    r->fontmap = pango_cairo_font_map_new();
    r->context = pango_font_map_create_context(r->fontmap);
    r->layout = pango_layout_new(r->context);
    PangoFontDescription *desc = pango_font_description_from_string(SCF_EMOJI_FONT_FAMILY);
    pango_font_description_set_absolute_size(desc, SCF_EMOJI_STRIKE_PX * PANGO_SCALE);
    pango_layout_set_font_description(r->layout, desc);
    pango_font_description_free(desc);

    char *skip = NULL;
    PangoGlyphItem *ref = single_glyph(r, "\U0001F600", &skip);
    if (!ref) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED,
                    "%s (%s) does not draw U+1F600 as one glyph: %s", SCF_EMOJI_FONT_FAMILY,
                    r->font_file, skip);
        g_free(skip);
        scf_emoji_renderer_free(r);
        return NULL;
    }
    PangoRectangle ink = ink_pixels(ref);
    r->cell = MAX(ink.width, ink.height);
    r->surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, r->cell, r->cell);
    r->cr = cairo_create(r->surface);
    if (r->cell < 1 || cairo_status(r->cr) != CAIRO_STATUS_SUCCESS) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_NOMEM, "cannot make a %d px cairo canvas",
                    r->cell);
        scf_emoji_renderer_free(r);
        return NULL;
    }
    return r;
}

void scf_emoji_renderer_free(scf_emoji_renderer *r)
{
    if (!r)
        return;
    if (r->cr)
        cairo_destroy(r->cr);
    if (r->surface)
        cairo_surface_destroy(r->surface);
    g_clear_object(&r->layout);
    g_clear_object(&r->context);
    g_clear_object(&r->fontmap);
    g_free(r->font_file);
    g_free(r->font_version);
    g_free(r);
}

const char *scf_emoji_renderer_font_file(const scf_emoji_renderer *r) { return r->font_file; }
const char *scf_emoji_renderer_font_version(const scf_emoji_renderer *r) { return r->font_version; }
int scf_emoji_renderer_cell(const scf_emoji_renderer *r) { return r->cell; }

scf_image *scf_emoji_renderer_draw(scf_emoji_renderer *r, const char *text, int size,
                                   char **skip, GError **error)
{
    *skip = NULL;
    PangoGlyphItem *run = single_glyph(r, text, skip);
    if (!run)
        return NULL;
    PangoRectangle ink = ink_pixels(run);
    if (ink.width > r->cell || ink.height > r->cell) {
        *skip = g_strdup_printf("its %dx%d px glyph is larger than the %d px cell", ink.width,
                                ink.height, r->cell);
        return NULL;
    }
    /* whole-pixel placement keeps the bitmap unresampled until the area average */
    cairo_t *cr = r->cr;
    const double bg = SCF_DATASET_BACKGROUND / 255.0;
    cairo_set_source_rgb(cr, bg, bg, bg);
    cairo_paint(cr);
    cairo_move_to(cr, (r->cell - ink.width) / 2 - ink.x, (r->cell - ink.height) / 2 - ink.y);
    pango_cairo_show_glyph_string(cr, run->item->analysis.font, run->glyphs);
    cairo_surface_flush(r->surface);
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cairo failed to draw %s: %s", text,
                    cairo_status_to_string(cairo_status(cr)));
        return NULL;
    }

    /* ARGB32 is premultiplied, one native-endian word per pixel; the grey
     * underneath makes every pixel opaque, so the colour is the value. */
    g_autoptr(scf_image) canvas = scf_image_new(r->cell, r->cell, 3, error);
    if (!canvas)
        return NULL;
    const unsigned char *data = cairo_image_surface_get_data(r->surface);
    int stride = cairo_image_surface_get_stride(r->surface);
    for (int y = 0; y < r->cell; y++) {
        const uint32_t *row = (const uint32_t *)(data + (size_t)y * (size_t)stride);
        uint8_t *out = canvas->data + (size_t)y * (size_t)r->cell * 3;
        for (int x = 0; x < r->cell; x++) {
            out[3 * x] = (uint8_t)(row[x] >> 16);
            out[3 * x + 1] = (uint8_t)(row[x] >> 8);
            out[3 * x + 2] = (uint8_t)row[x];
        }
    }
    return scf_dataset_fit_image(canvas, size, error);
}

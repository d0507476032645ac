#include "scf-gallery-item.h"

struct _ScfGalleryItem {
    GObject parent_instance;
    gint64 id, created_ms, duration_ms;
    char *prompt, *negative_prompt, *model, *device, *image_path, *thumb_path;
    guint64 seed;
    int steps, width, height;
    double guidance;
    gboolean favourite;
    GdkTexture *thumbnail;
    gboolean thumbnail_tried;
};

static void scf_gallery_item_paintable_init(GdkPaintableInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(ScfGalleryItem, scf_gallery_item, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(GDK_TYPE_PAINTABLE,
                                                    scf_gallery_item_paintable_init))

enum {
    PROP_0,
    PROP_ID,
    PROP_PROMPT,
    PROP_NEGATIVE_PROMPT,
    PROP_SEED,
    PROP_STEPS,
    PROP_GUIDANCE,
    PROP_WIDTH,
    PROP_HEIGHT,
    PROP_MODEL,
    PROP_DEVICE,
    PROP_CREATED_MS,
    PROP_DURATION_MS,
    PROP_IMAGE_PATH,
    PROP_THUMB_PATH,
    PROP_FAVOURITE,
    N_PROPS
};
static GParamSpec *props[N_PROPS];

gint64 scf_gallery_item_get_id(ScfGalleryItem *self)
{
    g_return_val_if_fail(SCF_IS_GALLERY_ITEM(self), 0);
    return self->id;
}

GdkTexture *scf_gallery_item_get_thumbnail(ScfGalleryItem *self)
{
    g_return_val_if_fail(SCF_IS_GALLERY_ITEM(self), NULL);
    if (!self->thumbnail_tried && self->thumb_path) {
        self->thumbnail_tried = TRUE; /* a broken file is not read again on every scroll */
        self->thumbnail = gdk_texture_new_from_filename(self->thumb_path, NULL);
    }
    return self->thumbnail;
}

/* ---- as a paintable: the thumbnail, decoded when first drawn ---- */

static void scf_gallery_item_snapshot(GdkPaintable *paintable, GdkSnapshot *snapshot,
                                      double width, double height)
{
    GdkTexture *thumbnail = scf_gallery_item_get_thumbnail(SCF_GALLERY_ITEM(paintable));
    if (thumbnail)
        gdk_paintable_snapshot(GDK_PAINTABLE(thumbnail), snapshot, width, height);
}

static double scf_gallery_item_get_aspect_ratio(GdkPaintable *paintable)
{
    ScfGalleryItem *self = SCF_GALLERY_ITEM(paintable);
    return self->width > 0 && self->height > 0 ? (double)self->width / self->height : 0;
}

static GdkPaintableFlags scf_gallery_item_get_flags(GdkPaintable *paintable)
{
    return GDK_PAINTABLE_STATIC_SIZE | GDK_PAINTABLE_STATIC_CONTENTS;
}

static void scf_gallery_item_paintable_init(GdkPaintableInterface *iface)
{
    iface->snapshot = scf_gallery_item_snapshot;
    iface->get_intrinsic_aspect_ratio = scf_gallery_item_get_aspect_ratio;
    iface->get_flags = scf_gallery_item_get_flags;
}

static void scf_gallery_item_get_property(GObject *object, guint id, GValue *value,
                                          GParamSpec *pspec)
{
    ScfGalleryItem *self = SCF_GALLERY_ITEM(object);
    switch (id) {
    case PROP_ID: g_value_set_int64(value, self->id); break;
    case PROP_PROMPT: g_value_set_string(value, self->prompt); break;
    case PROP_NEGATIVE_PROMPT: g_value_set_string(value, self->negative_prompt); break;
    case PROP_SEED: g_value_set_uint64(value, self->seed); break;
    case PROP_STEPS: g_value_set_int(value, self->steps); break;
    case PROP_GUIDANCE: g_value_set_double(value, self->guidance); break;
    case PROP_WIDTH: g_value_set_int(value, self->width); break;
    case PROP_HEIGHT: g_value_set_int(value, self->height); break;
    case PROP_MODEL: g_value_set_string(value, self->model); break;
    case PROP_DEVICE: g_value_set_string(value, self->device); break;
    case PROP_CREATED_MS: g_value_set_int64(value, self->created_ms); break;
    case PROP_DURATION_MS: g_value_set_int64(value, self->duration_ms); break;
    case PROP_IMAGE_PATH: g_value_set_string(value, self->image_path); break;
    case PROP_THUMB_PATH: g_value_set_string(value, self->thumb_path); break;
    case PROP_FAVOURITE: g_value_set_boolean(value, self->favourite); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void set_string(char **field, const char *value)
{
    g_free(*field);
    *field = g_strdup(value);
}

static void scf_gallery_item_set_property(GObject *object, guint id, const GValue *value,
                                          GParamSpec *pspec)
{
    ScfGalleryItem *self = SCF_GALLERY_ITEM(object);
    switch (id) {
    case PROP_ID: self->id = g_value_get_int64(value); break;
    case PROP_PROMPT: set_string(&self->prompt, g_value_get_string(value)); break;
    case PROP_NEGATIVE_PROMPT: set_string(&self->negative_prompt, g_value_get_string(value)); break;
    case PROP_SEED: self->seed = g_value_get_uint64(value); break;
    case PROP_STEPS: self->steps = g_value_get_int(value); break;
    case PROP_GUIDANCE: self->guidance = g_value_get_double(value); break;
    case PROP_WIDTH: self->width = g_value_get_int(value); break;
    case PROP_HEIGHT: self->height = g_value_get_int(value); break;
    case PROP_MODEL: set_string(&self->model, g_value_get_string(value)); break;
    case PROP_DEVICE: set_string(&self->device, g_value_get_string(value)); break;
    case PROP_CREATED_MS: self->created_ms = g_value_get_int64(value); break;
    case PROP_DURATION_MS: self->duration_ms = g_value_get_int64(value); break;
    case PROP_IMAGE_PATH: set_string(&self->image_path, g_value_get_string(value)); break;
    case PROP_THUMB_PATH: set_string(&self->thumb_path, g_value_get_string(value)); break;
    case PROP_FAVOURITE:
        if (self->favourite != g_value_get_boolean(value)) {
            self->favourite = g_value_get_boolean(value);
            g_object_notify_by_pspec(object, pspec);
        }
        break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
    }
}

static void scf_gallery_item_finalize(GObject *object)
{
    ScfGalleryItem *self = SCF_GALLERY_ITEM(object);
    g_free(self->prompt);
    g_free(self->negative_prompt);
    g_free(self->model);
    g_free(self->device);
    g_free(self->image_path);
    g_free(self->thumb_path);
    g_clear_object(&self->thumbnail);
    G_OBJECT_CLASS(scf_gallery_item_parent_class)->finalize(object);
}

static void scf_gallery_item_class_init(ScfGalleryItemClass *klass)
{
    GObjectClass *object_class = G_OBJECT_CLASS(klass);
    object_class->get_property = scf_gallery_item_get_property;
    object_class->set_property = scf_gallery_item_set_property;
    object_class->finalize = scf_gallery_item_finalize;

    GParamFlags ro = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;
    props[PROP_ID] = g_param_spec_int64("id", NULL, NULL, 0, G_MAXINT64, 0, ro);
    props[PROP_PROMPT] = g_param_spec_string("prompt", NULL, NULL, "", ro);
    props[PROP_NEGATIVE_PROMPT] = g_param_spec_string("negative-prompt", NULL, NULL, "", ro);
    props[PROP_SEED] = g_param_spec_uint64("seed", NULL, NULL, 0, G_MAXUINT64, 0, ro);
    props[PROP_STEPS] = g_param_spec_int("steps", NULL, NULL, 0, G_MAXINT, 1, ro);
    props[PROP_GUIDANCE] = g_param_spec_double("guidance", NULL, NULL, -G_MAXDOUBLE, G_MAXDOUBLE,
                                               1, ro);
    props[PROP_WIDTH] = g_param_spec_int("width", NULL, NULL, 0, G_MAXINT, 0, ro);
    props[PROP_HEIGHT] = g_param_spec_int("height", NULL, NULL, 0, G_MAXINT, 0, ro);
    props[PROP_MODEL] = g_param_spec_string("model", NULL, NULL, "", ro);
    props[PROP_DEVICE] = g_param_spec_string("device", NULL, NULL, "", ro);
    props[PROP_CREATED_MS] = g_param_spec_int64("created-ms", NULL, NULL, G_MININT64, G_MAXINT64,
                                                0, ro);
    props[PROP_DURATION_MS] = g_param_spec_int64("duration-ms", NULL, NULL, 0, G_MAXINT64, 0, ro);
    props[PROP_IMAGE_PATH] = g_param_spec_string("image-path", NULL, NULL, NULL, ro);
    props[PROP_THUMB_PATH] = g_param_spec_string("thumb-path", NULL, NULL, NULL, ro);
    props[PROP_FAVOURITE] = g_param_spec_boolean("favourite", NULL, NULL, FALSE,
                                                 G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY |
                                                     G_PARAM_STATIC_STRINGS);
    g_object_class_install_properties(object_class, N_PROPS, props);
}

static void scf_gallery_item_init(ScfGalleryItem *self)
{
}

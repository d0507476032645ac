#include "scf-gallery-model.h"
#include "scf-gallery-item.h"

/* Pages kept in memory: each item keeps its decoded thumbnail (64 KiB at
 * 128x128 RGBA), so a cache of every page seen would grow to the whole
 * gallery's thumbnails as the user scrolls through it. */
#define MAX_PAGES 16

struct _ScfGalleryModel {
    GObject parent_instance;
    scf_gallery *gallery;
    char *text, *model;                 /* the filter's strings, owned */
    scf_gallery_filter filter;          /* pointing at them */
    guint n_items;
    GHashTable *pages;                  /* page index -> GPtrArray of ScfGalleryItem */
};

static void scf_gallery_model_list_init(GListModelInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE(ScfGalleryModel, scf_gallery_model, G_TYPE_OBJECT,
                              G_IMPLEMENT_INTERFACE(G_TYPE_LIST_MODEL,
                                                    scf_gallery_model_list_init))

static ScfGalleryItem *scf_gallery_model_item(const scf_gallery_entry *e)
{
    const scf_gen_params *p = &e->params;
    return g_object_new(SCF_TYPE_GALLERY_ITEM, "id", e->id, "prompt", p->prompt,
                        "negative-prompt", p->negative_prompt, "seed", p->seed, "steps", p->steps,
                        "guidance", p->guidance, "width", e->width, "height", e->height, "model",
                        p->model_name, "device", p->device, "created-ms", e->created_ms,
                        "duration-ms", e->duration_ms, "image-path", e->image_path, "thumb-path",
                        e->thumb_path, "favourite", e->favourite, NULL);
}

/* Drops the cached page farthest from page: scrolling moves away from it. */
static void scf_gallery_model_evict(ScfGalleryModel *self, guint page)
{
    GHashTableIter it;
    gpointer key;
    guint farthest = page, distance = 0;
    g_hash_table_iter_init(&it, self->pages);
    while (g_hash_table_iter_next(&it, &key, NULL)) {
        guint p = GPOINTER_TO_UINT(key), d = p > page ? p - page : page - p;
        if (d >= distance) {
            distance = d;
            farthest = p;
        }
    }
    g_hash_table_remove(self->pages, GUINT_TO_POINTER(farthest));
}

/* The page holding position, read on first use. A page that cannot be read
 * (the database went away under us) reads as empty rather than failing the
 * view: GListModel has no way to report errors. */
static GPtrArray *scf_gallery_model_page(ScfGalleryModel *self, guint page)
{
    GPtrArray *items = g_hash_table_lookup(self->pages, GUINT_TO_POINTER(page));
    if (items)
        return items;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) rows = scf_gallery_query(self->gallery, &self->filter,
                                                  (gint64)page * SCF_GALLERY_MODEL_PAGE,
                                                  SCF_GALLERY_MODEL_PAGE, &error);
    if (g_hash_table_size(self->pages) >= MAX_PAGES)
        scf_gallery_model_evict(self, page);
    items = g_ptr_array_new_with_free_func(g_object_unref);
    if (!rows)
        g_warning("gallery page %u: %s", page, error->message);
    for (guint i = 0; rows && i < rows->len; i++)
        g_ptr_array_add(items, scf_gallery_model_item(rows->pdata[i]));
    g_hash_table_insert(self->pages, GUINT_TO_POINTER(page), items);
    return items;
}

static GType scf_gallery_model_get_item_type(GListModel *list)
{
    return SCF_TYPE_GALLERY_ITEM;
}

static guint scf_gallery_model_get_n_items(GListModel *list)
{
    return SCF_GALLERY_MODEL(list)->n_items;
}

static gpointer scf_gallery_model_get_item(GListModel *list, guint position)
{
    ScfGalleryModel *self = SCF_GALLERY_MODEL(list);
    if (position >= self->n_items)
        return NULL;
    GPtrArray *items = scf_gallery_model_page(self, position / SCF_GALLERY_MODEL_PAGE);
    guint i = position % SCF_GALLERY_MODEL_PAGE;
    return i < items->len ? g_object_ref(items->pdata[i]) : NULL;
}

static void scf_gallery_model_list_init(GListModelInterface *iface)
{
    iface->get_item_type = scf_gallery_model_get_item_type;
    iface->get_n_items = scf_gallery_model_get_n_items;
    iface->get_item = scf_gallery_model_get_item;
}

gboolean scf_gallery_model_reload(ScfGalleryModel *self, GError **error)
{
    g_return_val_if_fail(SCF_IS_GALLERY_MODEL(self), FALSE);
    gint64 count = 0;
    gboolean ok = scf_gallery_count(self->gallery, &self->filter, &count, error);
    guint removed = self->n_items;
    g_hash_table_remove_all(self->pages);
    self->n_items = ok ? (guint)MIN(count, G_MAXUINT) : 0;
    g_list_model_items_changed(G_LIST_MODEL(self), 0, removed, self->n_items);
    return ok;
}

gboolean scf_gallery_model_set_filter(ScfGalleryModel *self, const scf_gallery_filter *filter,
                                      GError **error)
{
    g_return_val_if_fail(SCF_IS_GALLERY_MODEL(self), FALSE);
    scf_gallery_filter f = filter ? *filter : (scf_gallery_filter){ 0 };
    g_free(self->text);
    g_free(self->model);
    self->text = g_strdup(f.text);
    self->model = g_strdup(f.model);
    f.text = self->text;
    f.model = self->model;
    self->filter = f;
    return scf_gallery_model_reload(self, error);
}

scf_gallery *scf_gallery_model_get_gallery(ScfGalleryModel *self)
{
    g_return_val_if_fail(SCF_IS_GALLERY_MODEL(self), NULL);
    return self->gallery;
}

static void scf_gallery_model_finalize(GObject *object)
{
    ScfGalleryModel *self = SCF_GALLERY_MODEL(object);
    g_hash_table_unref(self->pages);
    g_clear_pointer(&self->gallery, scf_gallery_close);
    g_free(self->text);
    g_free(self->model);
    G_OBJECT_CLASS(scf_gallery_model_parent_class)->finalize(object);
}

static void scf_gallery_model_class_init(ScfGalleryModelClass *klass)
{
    G_OBJECT_CLASS(klass)->finalize = scf_gallery_model_finalize;
}

static void scf_gallery_model_init(ScfGalleryModel *self)
{
    self->pages = g_hash_table_new_full(NULL, NULL, NULL, (GDestroyNotify)g_ptr_array_unref);
}

ScfGalleryModel *scf_gallery_model_new(scf_gallery *gallery)
{
    ScfGalleryModel *self = g_object_new(SCF_TYPE_GALLERY_MODEL, NULL);
    self->gallery = gallery;
    g_autoptr(GError) error = NULL;
    if (!scf_gallery_model_reload(self, &error))
        g_warning("gallery: %s", error->message);
    return self;
}

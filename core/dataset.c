#include "dataset.h"
#include "image_jpeg.h"
#include "error.h"
#include "rng.h"
#include <math.h>
#include <string.h>
#include <json-glib/json-glib.h>

typedef struct {
    char *file;        /* the image's name in the folder */
    char *caption;
    uint8_t *pixels;   /* size * size * 3 */
} ds_item;

/* One epoch's permutation, recomputed when the epoch changes. */
typedef struct {
    uint64_t epoch;
    int *perm;         /* NULL until first use */
} ds_order;

/* The background thread and the one batch it prepares ahead. */
typedef struct {
    GThread *thread;
    GMutex lock;
    GCond cond;
    gboolean quit;
    gboolean requested;   /* want_step / want_size wait to be prepared */
    gboolean busy;        /* the thread is writing buf */
    gboolean ready;       /* buf holds step / batch_size */
    uint64_t want_step, step;
    int want_size, batch_size;
    float *buf;
    const char **captions;
    size_t capacity;      /* items buf and captions hold */
    ds_order order;       /* the thread's own, so it never shares one with the caller */
} ds_prefetch;

struct scf_dataset {
    char *dir;
    int size;
    uint64_t seed;
    ds_item *items;
    int n;
    int n_uncaptioned;
    char *first_uncaptioned;
    char *split_rule;
    ds_order order;
    ds_prefetch pf;
};

/* ---- fitting images to the model size ---------------------------------- */

/* Area-average taps of one axis: output i covers [start + i*scale,
 * start + (i+1)*scale) of the input, each input pixel weighted by its
 * overlap. first[i], count[i] and weight[i * max_taps + t]. */
typedef struct {
    int *first, *count;
    float *weight;
    int max_taps;
} box_taps;

static void box_taps_init(box_taps *t, int out, double start, double scale, int in)
{
    t->max_taps = (int)ceil(scale) + 1;
    t->first = g_new(int, out);
    t->count = g_new(int, out);
    t->weight = g_new0(float, (size_t)out * (size_t)t->max_taps);
    for (int i = 0; i < out; i++) {
        double lo = start + i * scale, hi = lo + scale;
        int k0 = MAX((int)floor(lo), 0);
        int k1 = MIN((int)ceil(hi), in);
        t->first[i] = k0;
        t->count[i] = MIN(k1 - k0, t->max_taps);
        for (int k = 0; k < t->count[i]; k++) {
            double overlap = MIN(hi, k0 + k + 1.0) - MAX(lo, (double)(k0 + k));
            t->weight[i * t->max_taps + k] = (float)(overlap / scale);
        }
    }
}

static void box_taps_clear(box_taps *t)
{
    g_free(t->first);
    g_free(t->count);
    g_free(t->weight);
}

scf_image *scf_dataset_fit_image(const scf_image *src, int size, GError **error)
{
    if (!scf_image_check(src, error))
        return NULL;
    if (size < 1 || size > SCF_DATASET_MAX_SIZE) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "image size %d is outside 1..%d",
                    size, SCF_DATASET_MAX_SIZE);
        return NULL;
    }
    scf_image *dst = scf_image_new(size, size, 3, error);
    if (!dst)
        return NULL;
    int w = src->width, h = src->height, ch = src->channels;
    int side = MIN(w, h);
    double scale = (double)side / size;
    box_taps tx, ty;
    box_taps_init(&tx, size, (w - side) / 2.0, scale, w);
    box_taps_init(&ty, size, (h - side) / 2.0, scale, h);
    int y0 = ty.first[0], y1 = ty.first[size - 1] + ty.count[size - 1];

    /* horizontal pass over the rows the crop uses, compositing alpha first */
    const float bg = SCF_DATASET_BACKGROUND;
    float *rows = g_new(float, (size_t)(y1 - y0) * (size_t)size * 3);
    for (int y = y0; y < y1; y++) {
        const uint8_t *in = src->data + (size_t)y * (size_t)w * (size_t)ch;
        float *out = rows + (size_t)(y - y0) * (size_t)size * 3;
        for (int x = 0; x < size; x++) {
            float acc[3] = { 0, 0, 0 };
            for (int k = 0; k < tx.count[x]; k++) {
                const uint8_t *p = in + (size_t)(tx.first[x] + k) * (size_t)ch;
                float wk = tx.weight[x * tx.max_taps + k];
                float a = ch == 4 ? p[3] / 255.0f : 1.0f;
                for (int c = 0; c < 3; c++)
                    acc[c] += wk * (p[c] * a + bg * (1.0f - a));
            }
            memcpy(out + x * 3, acc, sizeof acc);
        }
    }
    /* vertical pass */
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size * 3; x++) {
            float acc = 0;
            for (int k = 0; k < ty.count[y]; k++)
                acc += ty.weight[y * ty.max_taps + k] *
                       rows[(size_t)(ty.first[y] + k - y0) * (size_t)size * 3 + (size_t)x];
            dst->data[(size_t)y * (size_t)size * 3 + (size_t)x] =
                (uint8_t)CLAMP(lrintf(acc), 0, 255);
        }
    g_free(rows);
    box_taps_clear(&tx);
    box_taps_clear(&ty);
    return dst;
}

/* ---- reading the folder ------------------------------------------------- */

typedef enum { KIND_NONE, KIND_PNG, KIND_JPEG } image_kind;

static image_kind kind_of(const char *name, size_t *stem_len)
{
    static const struct { const char *ext; image_kind kind; } exts[] = {
        { ".png", KIND_PNG }, { ".jpg", KIND_JPEG }, { ".jpeg", KIND_JPEG },
    };
    size_t len = strlen(name);
    *stem_len = len;
    for (size_t i = 0; i < G_N_ELEMENTS(exts); i++) {
        size_t el = strlen(exts[i].ext);
        if (len > el && g_ascii_strcasecmp(name + len - el, exts[i].ext) == 0) {
            *stem_len = len - el;
            return exts[i].kind;
        }
    }
    return KIND_NONE;
}

/* The caption rule of dataset.h; NULL with an error naming path. */
static char *read_caption(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    gsize len;
    g_autoptr(GError) err = NULL;
    if (!g_file_get_contents(path, &text, &len, &err)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot read the caption %s: %s", path,
                    err->message);
        return NULL;
    }
    const char *start = text;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        start += 3;
        len -= 3;
    }
    const char *bad;
    if (!g_utf8_validate(start, (gssize)len, &bad)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s: the caption is not UTF-8 text (bad byte at offset %ld)", path,
                    (long)(bad - text));
        return NULL;
    }
    /* ASCII white space never occurs inside a multi-byte UTF-8 sequence */
    GString *out = g_string_sized_new(len);
    gboolean space = FALSE;
    for (gsize i = 0; i < len; i++) {
        if (g_ascii_isspace(start[i])) {
            space = out->len > 0;
            continue;
        }
        if (space)
            g_string_append_c(out, ' ');
        space = FALSE;
        g_string_append_c(out, start[i]);
    }
    return g_string_free(out, FALSE);
}

static void item_clear(ds_item *it)
{
    g_free(it->file);
    g_free(it->caption);
    g_free(it->pixels);
}

static gint cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the captioned images of ds->dir in name order, with their captions. */
static gboolean list_items(scf_dataset *ds, GError **error)
{
    g_autoptr(GError) err = NULL;
    GDir *d = g_dir_open(ds->dir, 0, &err);
    if (!d) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "cannot open the dataset folder %s: %s",
                    ds->dir, err->message);
        return FALSE;
    }
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    for (const char *name; (name = g_dir_read_name(d));) {
        size_t stem;
        if (name[0] != '.' && kind_of(name, &stem) != KIND_NONE)
            g_ptr_array_add(names, g_strdup(name));
    }
    g_dir_close(d);
    g_ptr_array_sort(names, cmp_names);

    GArray *items = g_array_new(FALSE, TRUE, sizeof(ds_item));
    gboolean ok = TRUE;
    for (guint i = 0; i < names->len && ok; i++) {
        const char *name = names->pdata[i];
        size_t stem;
        kind_of(name, &stem);
        g_autofree char *txt_name = g_strdup_printf("%.*s.txt", (int)stem, name);
        g_autofree char *txt = g_build_filename(ds->dir, txt_name, NULL);
        if (!g_file_test(txt, G_FILE_TEST_IS_REGULAR)) {
            if (ds->n_uncaptioned++ == 0)
                ds->first_uncaptioned = g_strdup(name);
            continue;
        }
        ds_item it = { g_strdup(name), read_caption(txt, error), NULL };
        ok = it.caption != NULL;
        g_array_append_val(items, it);
    }
    ds->n = (int)items->len;
    ds->items = (ds_item *)g_array_free(items, FALSE);
    return ok;
}

/* Keeps the items of the subset asked for, checking split.json against the folder. */
static gboolean apply_split(scf_dataset *ds, scf_dataset_subset subset, GError **error)
{
    g_autofree char *path = g_build_filename(ds->dir, SCF_DATASET_SPLIT_FILE, NULL);
    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        if (subset == SCF_DATASET_HELD_OUT) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                        "%s has no %s, so it has no held-out images", ds->dir,
                        SCF_DATASET_SPLIT_FILE);
            return FALSE;
        }
        return TRUE;
    }
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) err = NULL;
    if (!json_parser_load_from_file(parser, path, &err)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: %s", path, err->message);
        return FALSE;
    }
    JsonNode *root = json_parser_get_root(parser);
    JsonObject *obj = root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
    JsonNode *held = obj ? json_object_get_member(obj, "held_out") : NULL;
    JsonNode *train = obj ? json_object_get_member(obj, "train") : NULL;
    JsonNode *rule = obj ? json_object_get_member(obj, "rule") : NULL;
    if (!held || !JSON_NODE_HOLDS_ARRAY(held) || !train ||
        json_node_get_value_type(train) != G_TYPE_INT64 ||
        (rule && json_node_get_value_type(rule) != G_TYPE_STRING)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s: expected {\"rule\": text, \"held_out\": [captions], \"train\": count}",
                    path);
        return FALSE;
    }
    ds->split_rule = g_strdup(rule ? json_node_get_string(rule) : "");

    /* caption -> number of items with it */
    g_autoptr(GHashTable) listed = g_hash_table_new(g_str_hash, g_str_equal);
    JsonArray *arr = json_node_get_array(held);
    for (guint i = 0; i < json_array_get_length(arr); i++) {
        JsonNode *e = json_array_get_element(arr, i);
        if (json_node_get_value_type(e) != G_TYPE_STRING) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                        "%s: held_out[%u] is not a caption string", path, i);
            return FALSE;
        }
        g_hash_table_insert(listed, (gpointer)json_node_get_string(e), GINT_TO_POINTER(0));
    }
    gboolean *is_held = g_new0(gboolean, MAX(ds->n, 1));
    int n_held = 0;
    for (int i = 0; i < ds->n; i++) {
        gpointer hits;
        if (g_hash_table_lookup_extended(listed, ds->items[i].caption, NULL, &hits)) {
            g_hash_table_insert(listed, ds->items[i].caption,
                                GINT_TO_POINTER(GPOINTER_TO_INT(hits) + 1));
            is_held[i] = TRUE;
            n_held++;
        }
    }
    GHashTableIter iter;
    gpointer key, hits;
    g_hash_table_iter_init(&iter, listed);
    gboolean ok = TRUE;
    while (ok && g_hash_table_iter_next(&iter, &key, &hits))
        if (GPOINTER_TO_INT(hits) == 0) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                        "%s holds out \"%s\" but no image in %s has that caption", path,
                        (const char *)key, ds->dir);
            ok = FALSE;
        }
    if (ok && json_node_get_int(train) != ds->n - n_held) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s counts %" G_GINT64_FORMAT " training images but %s has %d: "
                    "the folder changed since the split was made", path,
                    json_node_get_int(train), ds->dir, ds->n - n_held);
        ok = FALSE;
    }
    if (ok && subset != SCF_DATASET_ALL) {
        int kept = 0;
        for (int i = 0; i < ds->n; i++) {
            if (is_held[i] == (subset == SCF_DATASET_HELD_OUT))
                ds->items[kept++] = ds->items[i];
            else
                item_clear(&ds->items[i]);
        }
        ds->n = kept;
    }
    g_free(is_held);
    return ok;
}

static gboolean load_pixels(ds_item *it, const char *dir, int size, GError **error)
{
    g_autofree char *path = g_build_filename(dir, it->file, NULL);
    size_t stem;
    g_autoptr(scf_image) img = kind_of(it->file, &stem) == KIND_PNG
                                   ? scf_png_read(path, NULL, NULL, error)
                                   : scf_jpeg_read(path, error);
    if (!img)
        return FALSE;
    scf_image *fit = scf_dataset_fit_image(img, size, error);
    if (!fit) {
        g_prefix_error(error, "%s: ", path);
        return FALSE;
    }
    it->pixels = fit->data;
    g_free(fit);
    return TRUE;
}

/* Decodes in parallel; the error reported is the first in name order, so
 * the message does not depend on thread timing. */
static gboolean load_all_pixels(scf_dataset *ds, GError **error)
{
    GError **errs = g_new0(GError *, ds->n);
    #pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < ds->n; i++)
        load_pixels(&ds->items[i], ds->dir, ds->size, &errs[i]);
    gboolean ok = TRUE;
    for (int i = 0; i < ds->n; i++)
        if (errs[i]) {
            if (ok)
                g_propagate_error(error, errs[i]);
            else
                g_error_free(errs[i]);
            ok = FALSE;
        }
    g_free(errs);
    return ok;
}

scf_dataset *scf_dataset_open(const char *dir, int size, scf_dataset_subset subset,
                              uint64_t seed, GError **error)
{
    if (size < 1 || size > SCF_DATASET_MAX_SIZE) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "dataset %s: image size %d is outside 1..%d", dir, size, SCF_DATASET_MAX_SIZE);
        return NULL;
    }
    scf_dataset *ds = g_new0(scf_dataset, 1);
    ds->dir = g_strdup(dir);
    ds->size = size;
    ds->seed = seed;
    g_mutex_init(&ds->pf.lock);
    g_cond_init(&ds->pf.cond);
    if (!list_items(ds, error) || !apply_split(ds, subset, error)) {
        scf_dataset_free(ds);
        return NULL;
    }
    if (ds->n == 0) {
        static const char *const what[] = { "", "training ", "held-out " };
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "dataset %s is empty: no %simages with captions (NAME.png, NAME.jpg or "
                    "NAME.jpeg beside NAME.txt)%s", dir, what[subset],
                    ds->n_uncaptioned ? "; some images have no .txt caption" : "");
        scf_dataset_free(ds);
        return NULL;
    }
    if (!load_all_pixels(ds, error)) {
        scf_dataset_free(ds);
        return NULL;
    }
    return ds;
}

void scf_dataset_free(scf_dataset *ds)
{
    if (!ds)
        return;
    if (ds->pf.thread) {
        g_mutex_lock(&ds->pf.lock);
        ds->pf.quit = TRUE;
        g_cond_broadcast(&ds->pf.cond);
        g_mutex_unlock(&ds->pf.lock);
        g_thread_join(ds->pf.thread);
    }
    g_mutex_clear(&ds->pf.lock);
    g_cond_clear(&ds->pf.cond);
    g_free(ds->pf.buf);
    g_free(ds->pf.captions);
    g_free(ds->pf.order.perm);
    g_free(ds->order.perm);
    for (int i = 0; i < ds->n; i++)
        item_clear(&ds->items[i]);
    g_free(ds->items);
    g_free(ds->dir);
    g_free(ds->first_uncaptioned);
    g_free(ds->split_rule);
    g_free(ds);
}

int scf_dataset_count(const scf_dataset *ds) { return ds->n; }
int scf_dataset_size(const scf_dataset *ds) { return ds->size; }
int scf_dataset_n_uncaptioned(const scf_dataset *ds) { return ds->n_uncaptioned; }
const char *scf_dataset_first_uncaptioned(const scf_dataset *ds) { return ds->first_uncaptioned; }
const char *scf_dataset_split_rule(const scf_dataset *ds) { return ds->split_rule; }
const char *scf_dataset_caption(const scf_dataset *ds, int i) { return ds->items[i].caption; }
const char *scf_dataset_file(const scf_dataset *ds, int i) { return ds->items[i].file; }
const uint8_t *scf_dataset_pixels(const scf_dataset *ds, int i) { return ds->items[i].pixels; }

void scf_dataset_image_chw(const scf_dataset *ds, int i, float *chw)
{
    scf_image img = { ds->size, ds->size, 3, ds->items[i].pixels };
    scf_image_to_chw(&img, chw);
}

/* ---- the seeded stream ---------------------------------------------------- */

#define SHUFFLE_DOMAIN 0x53485546u /* "SHUF" */

static const int *order_perm(ds_order *o, int n, uint64_t seed, uint64_t epoch)
{
    if (o->perm && o->epoch == epoch)
        return o->perm;
    if (!o->perm)
        o->perm = g_new(int, n);
    o->epoch = epoch;
    int *p = o->perm;
    for (int i = 0; i < n; i++)
        p[i] = i;
    for (int i = n - 1; i > 0; i--) {
        scf_philox_block ctr = { { (uint32_t)i, (uint32_t)epoch, (uint32_t)(epoch >> 32),
                                   SHUFFLE_DOMAIN } };
        scf_philox_block r = scf_philox4x32_10_full(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
        /* 64 random bits scaled to 0..i: bias below n / 2^64 */
        uint64_t bits = (uint64_t)r.v[0] | (uint64_t)r.v[1] << 32;
        int j = (int)(((unsigned __int128)bits * (unsigned)(i + 1)) >> 64);
        int t = p[i];
        p[i] = p[j];
        p[j] = t;
    }
    return p;
}

static int stream_item(const scf_dataset *ds, ds_order *o, uint64_t g)
{
    uint64_t n = (uint64_t)ds->n;
    return order_perm(o, ds->n, ds->seed, g / n)[g % n];
}

int scf_dataset_stream_item(scf_dataset *ds, uint64_t g)
{
    return stream_item(ds, &ds->order, g);
}

static void fill_batch(const scf_dataset *ds, ds_order *o, uint64_t step, int batch_size,
                       float *images, const char **captions)
{
    size_t plane = (size_t)3 * (size_t)ds->size * (size_t)ds->size;
    for (int j = 0; j < batch_size; j++) {
        int i = stream_item(ds, o, step * (uint64_t)batch_size + (uint64_t)j);
        scf_dataset_image_chw(ds, i, images + (size_t)j * plane);
        captions[j] = ds->items[i].caption;
    }
}

static gpointer prefetch_main(gpointer data)
{
    scf_dataset *ds = data;
    ds_prefetch *pf = &ds->pf;
    size_t plane = (size_t)3 * (size_t)ds->size * (size_t)ds->size;
    g_mutex_lock(&pf->lock);
    for (;;) {
        while (!pf->quit && !pf->requested)
            g_cond_wait(&pf->cond, &pf->lock);
        if (pf->quit)
            break;
        pf->requested = FALSE;
        pf->busy = TRUE;
        uint64_t step = pf->want_step;
        int bs = pf->want_size;
        if ((size_t)bs > pf->capacity) {
            pf->buf = g_renew(float, pf->buf, (size_t)bs * plane);
            pf->captions = g_renew(const char *, pf->captions, (size_t)bs);
            pf->capacity = (size_t)bs;
        }
        g_mutex_unlock(&pf->lock);
        fill_batch(ds, &pf->order, step, bs, pf->buf, pf->captions);
        g_mutex_lock(&pf->lock);
        pf->busy = FALSE;
        pf->ready = TRUE;
        pf->step = step;
        pf->batch_size = bs;
        g_cond_broadcast(&pf->cond);
    }
    g_mutex_unlock(&pf->lock);
    return NULL;
}

gboolean scf_dataset_batch(scf_dataset *ds, uint64_t step, int batch_size, float *images,
                           const char **captions, GError **error)
{
    if (batch_size < 1) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "dataset %s: batch size %d", ds->dir,
                    batch_size);
        return FALSE;
    }
    ds_prefetch *pf = &ds->pf;
    size_t plane = (size_t)3 * (size_t)ds->size * (size_t)ds->size;
    g_mutex_lock(&pf->lock);
    if (!pf->thread)
        pf->thread = g_thread_new("scf-dataset", prefetch_main, ds);
    while (pf->busy || (pf->requested && pf->want_step == step && pf->want_size == batch_size))
        g_cond_wait(&pf->cond, &pf->lock);
    if (pf->ready && pf->step == step && pf->batch_size == batch_size) {
        memcpy(images, pf->buf, (size_t)batch_size * plane * sizeof(float));
        memcpy(captions, pf->captions, (size_t)batch_size * sizeof(char *));
    } else {
        fill_batch(ds, &ds->order, step, batch_size, images, captions);
    }
    pf->ready = FALSE;
    pf->requested = TRUE;
    pf->want_step = step + 1;
    pf->want_size = batch_size;
    g_cond_broadcast(&pf->cond);
    g_mutex_unlock(&pf->lock);
    return TRUE;
}

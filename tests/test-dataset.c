/* The training data loader: area-average fitting against a direct 2-D
 * integral, folders read as dataset.h documents (name order, caption rules,
 * uncaptioned images skipped and counted, JPEG), the seeded stream (each
 * epoch a permutation, batches a pure function of seed and step, resume
 * equal to an uninterrupted run, prefetched batches equal to computed ones),
 * split.json subsets, and every error naming its file. */
#include "dataset.h"
#include "image.h"
#include "error.h"
#include "check.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <jpeglib.h>

/* ---- helpers ------------------------------------------------------------ */

static void del_file(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_assert_cmpint(g_unlink(path), ==, 0);
}

/* Item k: an 8x8 noise image seeded by k and the caption "item k". */
static void put_item(const char *dir, const char *stem, int k)
{
    g_autoptr(scf_image) img = chk_noise_image(8, 8, 3, 1000 + (uint64_t)k);
    g_autofree char *png = g_strdup_printf("%s/%s.png", dir, stem);
    g_assert_true(scf_png_write(png, img, NULL, NULL));
    g_autofree char *txt = g_strdup_printf("%s.txt", stem);
    g_autofree char *caption = g_strdup_printf("item %d\n", k);
    chk_write_file(dir, txt, caption, -1);
}

/* A folder of n items named a00, a01 … (so name order is item order). */
static char *item_folder(int n)
{
    char *dir = chk_tmpdir("dataset");
    for (int k = 0; k < n; k++) {
        char stem[16];
        g_snprintf(stem, sizeof stem, "a%02d", k);
        put_item(dir, stem, k);
    }
    return dir;
}

static void expect_open_error(const char *dir, scf_dataset_subset subset, const char *needle)
{
    GError *error = NULL;
    scf_dataset *ds = scf_dataset_open(dir, 8, subset, 1, &error);
    g_assert_null(ds);
    g_assert_nonnull(error);
    if (!strstr(error->message, needle))
        g_error("error \"%s\" does not mention \"%s\"", error->message, needle);
    g_error_free(error);
}

/* ---- fitting ------------------------------------------------------------- */

/* Output pixel (ox, oy) channel c as the exact mean over its square of the
 * centred crop, integrating pixel by pixel in two dimensions. */
static double area_reference(const scf_image *src, int size, int ox, int oy, int c)
{
    int side = MIN(src->width, src->height);
    double s = (double)side / size;
    double x0 = (src->width - side) / 2.0 + ox * s, y0 = (src->height - side) / 2.0 + oy * s;
    double sum = 0;
    for (int y = 0; y < src->height; y++)
        for (int x = 0; x < src->width; x++) {
            double wx = fmin(x + 1, x0 + s) - fmax(x, x0);
            double wy = fmin(y + 1, y0 + s) - fmax(y, y0);
            if (wx > 0 && wy > 0) {
                const uint8_t *p = src->data + ((size_t)y * src->width + x) * src->channels;
                double a = src->channels == 4 ? p[3] / 255.0 : 1.0;
                sum += wx * wy * (p[c] * a + SCF_DATASET_BACKGROUND * (1 - a));
            }
        }
    return sum / (s * s);
}

/* Within 0.5 + 1e-3 of the reference: correct rounding up to float error. */
static void check_fit(const scf_image *src, int size)
{
    g_autoptr(scf_image) fit = scf_dataset_fit_image(src, size, NULL);
    g_assert_nonnull(fit);
    g_assert_cmpint(fit->width, ==, size);
    g_assert_cmpint(fit->height, ==, size);
    g_assert_cmpint(fit->channels, ==, 3);
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            for (int c = 0; c < 3; c++) {
                double ref = area_reference(src, size, x, y, c);
                int got = fit->data[((size_t)y * size + x) * 3 + c];
                if (fabs(got - ref) > 0.501)
                    g_error("%dx%dx%d -> %d: pixel (%d,%d,%d) is %d, reference %.3f",
                            src->width, src->height, src->channels, size, x, y, c, got, ref);
            }
}

static void test_fit(void)
{
    const struct { int w, h, ch, size; } cases[] = {
        { 136, 136, 3, 32 },   /* the emoji cell to 32 px: 4.25 to 1 */
        { 136, 136, 3, 64 },
        { 40, 24, 3, 8 },      /* wide: centred crop of 24 */
        { 23, 41, 4, 10 },     /* tall, odd margins, alpha */
        { 8, 8, 3, 8 },        /* identity */
        { 5, 7, 3, 12 },       /* enlarging */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(scf_image) src = chk_noise_image(cases[i].w, cases[i].h, cases[i].ch, 7 + i);
        check_fit(src, cases[i].size);
    }
    g_autoptr(scf_image) src = chk_noise_image(8, 8, 3, 3);
    g_autoptr(scf_image) same = scf_dataset_fit_image(src, 8, NULL);
    g_assert_cmpmem(same->data, 8 * 8 * 3, src->data, 8 * 8 * 3);

    /* transparent pixels become the background grey */
    g_autoptr(scf_image) clear = scf_image_new(4, 4, 4, NULL);
    g_autoptr(scf_image) grey = scf_dataset_fit_image(clear, 2, NULL);
    for (int i = 0; i < 2 * 2 * 3; i++)
        g_assert_cmpint(grey->data[i], ==, SCF_DATASET_BACKGROUND);

    GError *error = NULL;
    g_assert_null(scf_dataset_fit_image(src, 0, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);
}

/* ---- reading folders ------------------------------------------------------ */

static void test_folder(void)
{
    char *dir = item_folder(5);
    /* an uncaptioned image, a caption without image, other files: none are items */
    g_autoptr(scf_image) stray = chk_noise_image(8, 8, 3, 99);
    g_autofree char *stray_path = g_build_filename(dir, "zz-stray.png", NULL);
    g_assert_true(scf_png_write(stray_path, stray, NULL, NULL));
    chk_write_file(dir, "orphan.txt", "no image", -1);
    chk_write_file(dir, "notes.md", "# notes", -1);
    chk_write_file(dir, ".hidden.png", "not even a PNG", -1);

    g_autoptr(GError) error = NULL;
    g_autoptr(scf_dataset) ds = scf_dataset_open(dir, 8, SCF_DATASET_TRAIN, 1, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_dataset_count(ds), ==, 5);
    g_assert_cmpint(scf_dataset_size(ds), ==, 8);
    g_assert_cmpint(scf_dataset_n_uncaptioned(ds), ==, 1);
    g_assert_cmpstr(scf_dataset_first_uncaptioned(ds), ==, "zz-stray.png");
    g_assert_null(scf_dataset_split_rule(ds));
    for (int k = 0; k < 5; k++) {
        g_autofree char *caption = g_strdup_printf("item %d", k);
        g_autofree char *file = g_strdup_printf("a%02d.png", k);
        g_assert_cmpstr(scf_dataset_caption(ds, k), ==, caption);
        g_assert_cmpstr(scf_dataset_file(ds, k), ==, file);
        g_autoptr(scf_image) src = chk_noise_image(8, 8, 3, 1000 + (uint64_t)k);
        g_assert_cmpmem(scf_dataset_pixels(ds, k), 8 * 8 * 3, src->data, 8 * 8 * 3);
        /* CHW in [-1, 1], the inverse of scf_image_from_chw */
        float chw[3 * 8 * 8];
        scf_dataset_image_chw(ds, k, chw);
        g_autoptr(scf_image) back = scf_image_from_chw(chw, 3, 8, 8, NULL);
        g_assert_cmpmem(back->data, 8 * 8 * 3, src->data, 8 * 8 * 3);
        g_assert_cmpfloat(chw[0], ==, src->data[0] / 127.5f - 1.0f);
    }
    chk_tmpdir_free(dir);
}

static void test_captions(void)
{
    char *dir = chk_tmpdir("dataset");
    const char *texts[] = {
        "\xEF\xBB\xBFthumbs up: medium skin tone\r\n",   /* BOM, CRLF */
        "  two\nlines \t and\r\n  spaces  \n\n",
        "",                                               /* empty: the unconditional caption */
        "caf\xC3\xA9 \xF0\x9F\x91\x8D",                   /* UTF-8 beyond ASCII */
    };
    const char *want[] = { "thumbs up: medium skin tone", "two lines and spaces", "",
                           "caf\xC3\xA9 \xF0\x9F\x91\x8D" };
    for (int k = 0; k < 4; k++) {
        char stem[8];
        g_snprintf(stem, sizeof stem, "c%d", k);
        put_item(dir, stem, k);
        g_autofree char *txt = g_strdup_printf("%s.txt", stem);
        chk_write_file(dir, txt, texts[k], -1);
    }
    g_autoptr(scf_dataset) ds = scf_dataset_open(dir, 8, SCF_DATASET_ALL, 1, NULL);
    g_assert_nonnull(ds);
    for (int k = 0; k < 4; k++)
        g_assert_cmpstr(scf_dataset_caption(ds, k), ==, want[k]);
    chk_tmpdir_free(dir);
}

/* Writes img as a JPEG of the given quality with libjpeg. */
static void put_jpeg(const char *path, const scf_image *img, int quality, gboolean truncate)
{
    unsigned char *buf = NULL;
    unsigned long len = 0;
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &buf, &len);
    c.image_width = (JDIMENSION)img->width;
    c.image_height = (JDIMENSION)img->height;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, quality, TRUE);
    jpeg_start_compress(&c, TRUE);
    for (int y = 0; y < img->height; y++) {
        JSAMPROW row = img->data + (size_t)y * img->width * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    g_assert_true(g_file_set_contents(path, (char *)buf, truncate ? (gssize)len / 2 : (gssize)len,
                                      NULL));
    free(buf);
}

/* A smooth image (JPEG keeps it within a few levels). */
static scf_image *gradient_image(int w, int h)
{
    scf_image *img = scf_image_new(w, h, 3, NULL);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->data + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(x * 255 / (w - 1));
            p[1] = (uint8_t)(y * 255 / (h - 1));
            p[2] = 128;
        }
    return img;
}

static void test_jpeg(void)
{
    char *dir = chk_tmpdir("dataset");
    g_autoptr(scf_image) img = gradient_image(48, 32);
    g_autofree char *path = g_build_filename(dir, "photo.JPG", NULL);
    put_jpeg(path, img, 95, FALSE);
    chk_write_file(dir, "photo.txt", "a gradient", -1);
    g_autoptr(scf_dataset) ds = scf_dataset_open(dir, 16, SCF_DATASET_TRAIN, 1, NULL);
    g_assert_nonnull(ds);
    g_assert_cmpint(scf_dataset_count(ds), ==, 1);
    g_assert_cmpstr(scf_dataset_caption(ds, 0), ==, "a gradient");
    /* against the same fit of the lossless pixels: mean error under 1.5 levels */
    g_autoptr(scf_image) want = scf_dataset_fit_image(img, 16, NULL);
    const uint8_t *got = scf_dataset_pixels(ds, 0);
    double err = 0;
    for (int i = 0; i < 16 * 16 * 3; i++)
        err += fabs((double)got[i] - want->data[i]);
    err /= 16 * 16 * 3;
    g_assert_cmpfloat(err, <, 1.5);
    chk_tmpdir_free(dir);
}

/* ---- the stream ---------------------------------------------------------- */

static void test_epochs(void)
{
    enum { N = 7 };
    char *dir = item_folder(N);
    g_autoptr(scf_dataset) ds = scf_dataset_open(dir, 8, SCF_DATASET_TRAIN, 42, NULL);
    g_autoptr(scf_dataset) other = scf_dataset_open(dir, 8, SCF_DATASET_TRAIN, 43, NULL);
    int order[3][N];
    for (int e = 0; e < 3; e++) {
        gboolean seen[N] = { FALSE };
        for (int p = 0; p < N; p++) {
            int i = scf_dataset_stream_item(ds, (uint64_t)e * N + p);
            g_assert_cmpint(i, >=, 0);
            g_assert_cmpint(i, <, N);
            g_assert_false(seen[i]);   /* each epoch visits every item once */
            seen[i] = TRUE;
            order[e][p] = i;
        }
    }
    /* epochs and seeds reshuffle (fixed seeds: these orders are known to differ) */
    g_assert_true(memcmp(order[0], order[1], sizeof order[0]) != 0);
    g_assert_true(memcmp(order[1], order[2], sizeof order[0]) != 0);
    int differ = 0;
    for (int p = 0; p < N; p++)
        differ += scf_dataset_stream_item(other, (uint64_t)p) != order[0][p];
    g_assert_cmpint(differ, >, 0);
    /* random access agrees with sequential access */
    g_assert_cmpint(scf_dataset_stream_item(ds, 2 * N + 3), ==, order[2][3]);
    g_assert_cmpint(scf_dataset_stream_item(ds, 3), ==, order[0][3]);

    /* a larger set: every item once per epoch, and no item pinned to its place */
    char *big = item_folder(40);
    g_autoptr(scf_dataset) b = scf_dataset_open(big, 8, SCF_DATASET_TRAIN, 5, NULL);
    int fixed = 0;
    gboolean seen[40] = { FALSE };
    for (int p = 0; p < 40; p++) {
        int i = scf_dataset_stream_item(b, 40 + (uint64_t)p);
        g_assert_false(seen[i]);
        seen[i] = TRUE;
        fixed += i == p;
    }
    g_assert_cmpint(fixed, <, 8);
    chk_tmpdir_free(big);
    chk_tmpdir_free(dir);
}

typedef struct {
    float *images;
    const char *captions[8];
} batch_buf;

static void get_batch(scf_dataset *ds, uint64_t step, int bs, batch_buf *b)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(scf_dataset_batch(ds, step, bs, b->images, b->captions, &error));
    g_assert_no_error(error);
}

static gboolean same_batch(const batch_buf *a, const batch_buf *b, int bs, size_t plane)
{
    for (int j = 0; j < bs; j++)
        if (strcmp(a->captions[j], b->captions[j]) != 0)
            return FALSE;
    return memcmp(a->images, b->images, (size_t)bs * plane * sizeof(float)) == 0;
}

static void test_batches(void)
{
    enum { N = 7, BS = 3 };
    const size_t plane = 3 * 8 * 8;
    char *dir = item_folder(N);
    g_autoptr(scf_dataset) a = scf_dataset_open(dir, 8, SCF_DATASET_TRAIN, 9, NULL);
    g_autoptr(scf_dataset) fresh = scf_dataset_open(dir, 8, SCF_DATASET_TRAIN, 9, NULL);
    batch_buf x = { g_new(float, BS * plane) }, y = { g_new(float, BS * plane) };
    float *chw = g_new(float, plane);

    /* an uninterrupted run (prefetched batches) ... */
    for (uint64_t step = 0; step < 12; step++) {
        get_batch(a, step, BS, &x);
        /* ... holds exactly the stream's items, crossing epoch ends */
        for (int j = 0; j < BS; j++) {
            int i = scf_dataset_stream_item(fresh, step * BS + (uint64_t)j);
            g_assert_cmpstr(x.captions[j], ==, scf_dataset_caption(fresh, i));
            scf_dataset_image_chw(fresh, i, chw);
            g_assert_cmpmem(x.images + j * plane, plane * sizeof(float), chw,
                            plane * sizeof(float));
        }
    }
    /* resume: a fresh loader's step 12 equals the run's step 12 */
    get_batch(a, 12, BS, &x);
    get_batch(fresh, 12, BS, &y);
    g_assert_true(same_batch(&x, &y, BS, plane));
    /* the same step again, out of order, and a different batch size */
    get_batch(fresh, 5, BS, &y);
    get_batch(a, 5, BS, &x);
    g_assert_true(same_batch(&x, &y, BS, plane));
    get_batch(a, 6, BS, &x);
    g_assert_false(same_batch(&x, &y, BS, plane));
    get_batch(a, 0, 1, &x);
    g_assert_cmpstr(x.captions[0], ==, scf_dataset_caption(a, scf_dataset_stream_item(a, 0)));

    GError *error = NULL;
    g_assert_false(scf_dataset_batch(a, 0, 0, x.images, x.captions, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);
    g_free(x.images);
    g_free(y.images);
    g_free(chw);
    chk_tmpdir_free(dir);
}

/* ---- split.json ---------------------------------------------------------- */

static int count_open(const char *dir, scf_dataset_subset subset)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(scf_dataset) ds = scf_dataset_open(dir, 8, subset, 1, &error);
    g_assert_no_error(error);
    return scf_dataset_count(ds);
}

static void test_split(void)
{
    char *dir = item_folder(5);
    expect_open_error(dir, SCF_DATASET_HELD_OUT, "split.json");

    chk_write_file(dir, "split.json",
             "{\"rule\": \"items 1 and 3\", \"held_out\": [\"item 1\", \"item 3\"], "
             "\"train\": 3}", -1);
    g_assert_cmpint(count_open(dir, SCF_DATASET_ALL), ==, 5);
    g_assert_cmpint(count_open(dir, SCF_DATASET_TRAIN), ==, 3);
    g_autoptr(scf_dataset) held = scf_dataset_open(dir, 8, SCF_DATASET_HELD_OUT, 1, NULL);
    g_assert_cmpint(scf_dataset_count(held), ==, 2);
    g_assert_cmpstr(scf_dataset_caption(held, 0), ==, "item 1");
    g_assert_cmpstr(scf_dataset_caption(held, 1), ==, "item 3");
    g_assert_cmpstr(scf_dataset_split_rule(held), ==, "items 1 and 3");
    g_autoptr(scf_dataset) train = scf_dataset_open(dir, 8, SCF_DATASET_TRAIN, 1, NULL);
    g_assert_cmpstr(scf_dataset_caption(train, 0), ==, "item 0");
    g_assert_cmpstr(scf_dataset_caption(train, 1), ==, "item 2");
    g_assert_cmpstr(scf_dataset_caption(train, 2), ==, "item 4");

    /* a split that no longer fits the folder */
    chk_write_file(dir, "split.json", "{\"rule\": \"\", \"held_out\": [\"item 9\"], \"train\": 4}",
                   -1);
    expect_open_error(dir, SCF_DATASET_TRAIN, "item 9");
    chk_write_file(dir, "split.json", "{\"rule\": \"\", \"held_out\": [\"item 1\"], \"train\": 5}",
                   -1);
    expect_open_error(dir, SCF_DATASET_TRAIN, "changed");
    chk_write_file(dir, "split.json", "{\"held_out\": \"item 1\"}", -1);
    expect_open_error(dir, SCF_DATASET_TRAIN, "split.json");
    chk_write_file(dir, "split.json", "{not json", -1);
    expect_open_error(dir, SCF_DATASET_ALL, "split.json");
    /* held out everything: an empty training set is an error */
    chk_write_file(dir, "split.json",
             "{\"held_out\": [\"item 0\", \"item 1\", \"item 2\", \"item 3\", \"item 4\"], "
             "\"train\": 0}", -1);
    expect_open_error(dir, SCF_DATASET_TRAIN, "empty");
    chk_tmpdir_free(dir);
}

/* ---- errors -------------------------------------------------------------- */

static void test_errors(void)
{
    char *dir = chk_tmpdir("dataset");
    g_autofree char *missing = g_build_filename(dir, "no-such-folder", NULL);
    expect_open_error(missing, SCF_DATASET_TRAIN, "no-such-folder");
    expect_open_error(dir, SCF_DATASET_TRAIN, "empty");

    /* only uncaptioned images: empty, and the message says why */
    g_autoptr(scf_image) img = chk_noise_image(8, 8, 3, 1);
    g_autofree char *lone = g_build_filename(dir, "lone.png", NULL);
    g_assert_true(scf_png_write(lone, img, NULL, NULL));
    expect_open_error(dir, SCF_DATASET_TRAIN, "no .txt caption");

    put_item(dir, "good", 0);
    g_assert_cmpint(count_open(dir, SCF_DATASET_TRAIN), ==, 1);

    put_item(dir, "latin1", 1);
    chk_write_file(dir, "latin1.txt", "caf\xE9", -1);
    expect_open_error(dir, SCF_DATASET_TRAIN, "latin1.txt");
    del_file(dir, "latin1.txt");

    chk_write_file(dir, "broken.png", "\x89PNG\r\n\x1a\n garbage", 17);
    chk_write_file(dir, "broken.txt", "broken", -1);
    expect_open_error(dir, SCF_DATASET_TRAIN, "broken.png");
    del_file(dir, "broken.png");

    g_autoptr(scf_image) grad = gradient_image(32, 32);
    g_autofree char *cut = g_build_filename(dir, "cut.jpg", NULL);
    put_jpeg(cut, grad, 90, TRUE);
    chk_write_file(dir, "cut.txt", "cut", -1);
    expect_open_error(dir, SCF_DATASET_TRAIN, "cut.jpg");
    del_file(dir, "cut.jpg");

    chk_write_file(dir, "fake.jpeg", "not a jpeg at all", -1);
    chk_write_file(dir, "fake.txt", "fake", -1);
    expect_open_error(dir, SCF_DATASET_TRAIN, "fake.jpeg");
    del_file(dir, "fake.jpeg");

    GError *error = NULL;
    g_assert_null(scf_dataset_open(dir, 0, SCF_DATASET_TRAIN, 1, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);
    g_assert_cmpint(count_open(dir, SCF_DATASET_TRAIN), ==, 1);
    chk_tmpdir_free(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dataset/fit", test_fit);
    g_test_add_func("/dataset/folder", test_folder);
    g_test_add_func("/dataset/captions", test_captions);
    g_test_add_func("/dataset/jpeg", test_jpeg);
    g_test_add_func("/dataset/epochs", test_epochs);
    g_test_add_func("/dataset/batches", test_batches);
    g_test_add_func("/dataset/split", test_split);
    g_test_add_func("/dataset/errors", test_errors);
    return g_test_run();
}

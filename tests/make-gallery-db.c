/* make-gallery-db DIR [ROWS]: fills the gallery in DIR up to ROWS images
 * (default 10,000) through scf_gallery_insert, so the files and rows are
 * what the app makes, then times what a lazily loading grid view asks for:
 * count plus one 60-row page at the start, middle and end, with and without
 * a search. Exits 1 when any count + page takes 10 ms or more (median of
 * RUNS), the budget that keeps the view's scrolling smooth.
 *
 * Prompts draw words from a small vocabulary so that searches match a
 * realistic share of rows; images are 32x32 noise, like the emoji models'. */
#include "gallery.h"
#include "check.h"
#include <stdio.h>
#include <stdlib.h>

#define PAGE 60
#define RUNS 7
#define BUDGET_MS 10.0

static const char *const words[] = {
    "cat", "dog", "rocket", "heart", "smiling", "face", "red", "blue", "green", "star",
    "moon", "sun", "tree", "flower", "fire", "water", "ghost", "robot", "pizza", "crown",
    "café", "猫", "winking", "sleepy", "party", "rainbow", "snow", "apple", "music", "ball",
};
static const char *const models[] = { "emoji-scflow", "emoji-teacher", "emoji-ablation" };
static const int steps[] = { 1, 2, 4, 8 };

static guint64 mix(guint64 x)
{
    x += G_GUINT64_CONSTANT(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static gboolean fill(scf_gallery *g, gint64 from, gint64 rows, GError **error)
{
    g_autoptr(scf_image) img = scf_image_new(32, 32, 3, error);
    if (!img)
        return FALSE;
    float px[32 * 32 * 3];
    gint64 start = g_get_monotonic_time();
    for (gint64 i = from; i < rows; i++) {
        guint64 h = mix((guint64)i);
        chk_fill(px, G_N_ELEMENTS(px), 0.0f, 256.0f, h);
        for (size_t k = 0; k < G_N_ELEMENTS(px); k++)
            img->data[k] = (uint8_t)px[k];
        scf_gen_params p;
        scf_gen_params_init(&p);
        g_free(p.prompt);
        p.prompt = g_strdup_printf("a %s %s %s emoji", words[h % G_N_ELEMENTS(words)],
                                   words[(h >> 8) % G_N_ELEMENTS(words)],
                                   words[(h >> 16) % G_N_ELEMENTS(words)]);
        g_free(p.model_name);
        p.model_name = g_strdup(models[(h >> 24) % G_N_ELEMENTS(models)]);
        p.steps = steps[(h >> 32) % G_N_ELEMENTS(steps)];
        p.seed = h;
        gint64 id = 0;
        gboolean ok = scf_gallery_insert(g, img, &p, 20 + (gint64)(h % 200), &id, error) &&
                      ((h >> 40) % 20 != 0 || scf_gallery_set_favourite(g, id, TRUE, error));
        scf_gen_params_clear(&p);
        if (!ok)
            return FALSE;
        if ((i + 1) % 1000 == 0)
            fprintf(stderr, "%" G_GINT64_FORMAT " rows, %.1f s\n", i + 1,
                    (g_get_monotonic_time() - start) / 1e6);
    }
    return TRUE;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of RUNS count + page timings, in ms; the first (cold) run and the
 * row count are returned too. */
static gboolean time_page(scf_gallery *g, const scf_gallery_filter *f, gint64 offset,
                          double *median, double *first, gint64 *n, guint *got, GError **error)
{
    double t[RUNS];
    for (int r = 0; r < RUNS; r++) {
        gint64 t0 = g_get_monotonic_time();
        if (!scf_gallery_count(g, f, n, error))
            return FALSE;
        g_autoptr(GPtrArray) page = scf_gallery_query(g, f, offset, PAGE, error);
        if (!page)
            return FALSE;
        t[r] = (g_get_monotonic_time() - t0) / 1e3;
        *got = page->len;
    }
    *first = t[0];
    qsort(t, RUNS, sizeof t[0], compare_doubles);
    *median = t[RUNS / 2];
    return TRUE;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: make-gallery-db DIR [ROWS]\n");
        return 2;
    }
    gint64 rows = argc == 3 ? g_ascii_strtoll(argv[2], NULL, 10) : 10000;
    if (rows < PAGE) {
        fprintf(stderr, "make-gallery-db: ROWS must be at least %d\n", PAGE);
        return 2;
    }
    g_autoptr(GError) error = NULL;
    {
        g_autoptr(scf_gallery) g = scf_gallery_open(argv[1], NULL, &error);
        gint64 have = 0;
        if (!g || !scf_gallery_count(g, NULL, &have, &error) || !fill(g, have, rows, &error)) {
            fprintf(stderr, "make-gallery-db: %s\n", error->message);
            return 1;
        }
    }

    gint64 t0 = g_get_monotonic_time();
    scf_gallery_report report;
    g_autoptr(scf_gallery) g = scf_gallery_open(argv[1], &report, &error);
    if (!g) {
        fprintf(stderr, "make-gallery-db: %s\n", error->message);
        return 1;
    }
    printf("open with consistency check: %.1f ms (%u missing, %u re-imported)\n",
           (g_get_monotonic_time() - t0) / 1e3, report.missing->len, report.reimported->len);
    scf_gallery_report_clear(&report);

    const scf_gallery_filter filters[] = {
        { 0 }, { .text = "emoji" }, { .text = "cat" }, { .text = "smiling rocket" },
        { .model = "emoji-scflow", .steps = 4 }, { .favourites = TRUE },
        { .text = "emoji", .model = "emoji-scflow" },
    };
    const char *names[] = { "all", "search 'emoji' (all)", "search 'cat'",
                            "search 'smiling rocket'", "model + steps 4", "favourites",
                            "search 'emoji' + model" };
    int over = 0;
    printf("%-24s %8s %8s %6s %12s %10s\n", "filter", "offset", "matches", "rows", "median ms", "first ms");
    for (size_t i = 0; i < G_N_ELEMENTS(filters); i++) {
        gint64 n = 0;
        if (!scf_gallery_count(g, &filters[i], &n, &error)) {
            fprintf(stderr, "make-gallery-db: %s\n", error->message);
            return 1;
        }
        const gint64 offsets[] = { 0, n / 2, MAX(0, n - PAGE) };
        for (size_t k = 0; k < G_N_ELEMENTS(offsets); k++) {
            double median, first;
            guint got = 0;
            if (!time_page(g, &filters[i], offsets[k], &median, &first, &n, &got, &error)) {
                fprintf(stderr, "make-gallery-db: %s\n", error->message);
                return 1;
            }
            over += median >= BUDGET_MS;
            printf("%-24s %8" G_GINT64_FORMAT " %8" G_GINT64_FORMAT " %6u %12.2f %10.2f%s\n",
                   names[i], offsets[k], n, got, median, first,
                   median >= BUDGET_MS ? "  over budget" : "");
        }
    }
    return over ? 1 : 0;
}

/* The built-in emoji dataset: emoji-test.txt parsing, every fully-qualified
 * emoji drawn by Noto Color Emoji as one glyph, the held-out split's
 * property checked independently from the captions alone, and
 * `scflow dataset emoji` end to end (files, captions, non-blank images of
 * the right size, refusal and --force, the split through the loader). The
 * font and emoji-test.txt come from tools/install-deps; without them these
 * tests fail with the reason. */
#include "dataset.h"
#include "emoji-catalog.h"
#include "emoji-render.h"
#include "emoji-split.h"
#include "image.h"
#include "check.h"
#include <string.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

static scf_emoji_catalog *load_catalog(void)
{
    g_autoptr(GError) error = NULL;
    scf_emoji_catalog *cat = scf_emoji_catalog_load(SCF_EMOJI_TEST_PATH, &error);
    g_assert_no_error(error);
    return cat;
}

static const scf_emoji *find(const scf_emoji_catalog *cat, const char *caption)
{
    for (int i = 0; i < cat->n; i++)
        if (strcmp(cat->items[i].caption, caption) == 0)
            return &cat->items[i];
    g_error("no emoji named \"%s\" in %s", caption, cat->path);
}

static void test_catalog(void)
{
    g_autoptr(scf_emoji_catalog) cat = load_catalog();
    g_assert_cmpint(cat->n, ==, cat->n_declared);   /* the file's own count */
    g_assert_cmpint(cat->n, >=, 3655);              /* Emoji 15.0 or later */
    const scf_emoji *e = find(cat, "thumbs up: medium skin tone");
    g_assert_cmpstr(e->codepoints, ==, "1F44D 1F3FD");
    g_assert_cmpstr(e->text, ==, "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD");
    g_assert_cmpstr(e->version, ==, "1.0");
    g_assert_cmpstr(e->group, ==, "People & Body");
    g_assert_cmpstr(e->subgroup, ==, "hand-fingers-closed");
    g_assert_cmpstr(cat->items[0].caption, ==, "grinning face");
    e = find(cat, "woman technologist: dark skin tone");
    g_assert_cmpint(e->n_cps, ==, 4);

    GError *error = NULL;
    g_assert_null(scf_emoji_catalog_load("/nonexistent/emoji-test.txt", &error));
    g_assert_nonnull(strstr(error->message, "unicode-data"));
    g_clear_error(&error);
}

/* ---- the split, checked from captions only -------------------------------- */

enum { N_MODIFIERS = SCF_EMOJI_N_MODIFIERS };

static void test_split_base(void)
{
    const struct { const char *caption, *base; unsigned mods; } cases[] = {
        { "thumbs up", "thumbs up", 0 },
        { "thumbs up: medium skin tone", "thumbs up", 1u << 2 },
        { "man: medium skin tone, beard", "man: beard", 1u << 2 },
        { "woman: dark skin tone, red hair", "woman", 1u << 4 | 1u << 5 },
        { "person: bald", "person", 1u << 7 },
        { "handshake: light skin tone, medium-dark skin tone", "handshake", 1u << 0 | 1u << 3 },
        { "family: man, woman, boy", "family: man, woman, boy", 0 },
        { "woman: blond hair", "woman: blond hair", 0 },
        { "flag: United States", "flag: United States", 0 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        unsigned mods;
        g_autofree char *base = scf_emoji_split_base(cases[i].caption, &mods);
        g_assert_cmpstr(base, ==, cases[i].base);
        g_assert_cmphex(mods, ==, cases[i].mods);
    }
}

/* The compositional property of held[] over captions: each held-out emoji's
 * base is in training, each of its modifiers is in training, at least one
 * of its (base, modifier) pairs never occurs in training, and the modifier
 * of each such unseen pair is in training with at least
 * SCF_EMOJI_SPLIT_MIN_PARTNERS other bases. Counts the held-out emoji with
 * each modifier in an unseen pair. */
static void check_split(char **captions, const gboolean *held, int n, int per_mod[N_MODIFIERS])
{
    g_autoptr(GHashTable) train = g_hash_table_new(g_str_hash, g_str_equal);
    /* modifier -> set of train bases; "base\nm" -> present */
    GHashTable *partners[N_MODIFIERS];
    g_autoptr(GHashTable) pairs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    char **bases = g_new0(char *, n);
    unsigned *mods = g_new(unsigned, n);
    for (int m = 0; m < N_MODIFIERS; m++) {
        partners[m] = g_hash_table_new(g_str_hash, g_str_equal);
        per_mod[m] = 0;
    }
    for (int i = 0; i < n; i++) {
        bases[i] = scf_emoji_split_base(captions[i], &mods[i]);
        if (held[i])
            continue;
        g_hash_table_add(train, captions[i]);
        for (int m = 0; m < N_MODIFIERS; m++)
            if (mods[i] >> m & 1) {
                g_hash_table_add(partners[m], bases[i]);
                g_hash_table_add(pairs, g_strdup_printf("%s\n%d", bases[i], m));
            }
    }
    for (int i = 0; i < n; i++) {
        if (!held[i])
            continue;
        if (!g_hash_table_contains(train, bases[i]))
            g_error("held out \"%s\": its base \"%s\" is not in training", captions[i], bases[i]);
        g_assert_cmpuint(mods[i], !=, 0);
        gboolean unseen_pair = FALSE;
        for (int m = 0; m < N_MODIFIERS; m++) {
            if (!(mods[i] >> m & 1))
                continue;
            g_autofree char *pair = g_strdup_printf("%s\n%d", bases[i], m);
            if (g_hash_table_contains(pairs, pair))
                continue; /* a combination training shows */
            /* unseen, so the base is not among the modifier's partners */
            guint with = g_hash_table_size(partners[m]);
            unseen_pair = TRUE;
            per_mod[m]++;
            if (with < SCF_EMOJI_SPLIT_MIN_PARTNERS)
                g_error("held out \"%s\": %s is in training with only %u other bases",
                        captions[i], scf_emoji_modifier_names[m], with);
        }
        if (!unseen_pair)
            g_error("held out \"%s\": training shows every one of its pairs", captions[i]);
        for (int m = 0; m < N_MODIFIERS; m++)
            if ((mods[i] >> m & 1) && g_hash_table_size(partners[m]) == 0)
                g_error("held out \"%s\": %s is not in training", captions[i],
                        scf_emoji_modifier_names[m]);
    }
    for (int m = 0; m < N_MODIFIERS; m++)
        g_hash_table_destroy(partners[m]);
    for (int i = 0; i < n; i++)
        g_free(bases[i]);
    g_free(bases);
    g_free(mods);
}

static void test_split_full(void)
{
    g_autoptr(scf_emoji_catalog) cat = load_catalog();
    char **captions = g_new(char *, cat->n);
    for (int i = 0; i < cat->n; i++)
        captions[i] = cat->items[i].caption;
    gboolean *held = g_new0(gboolean, cat->n);
    int n_held = scf_emoji_split((const char *const *)captions, cat->n, held);
    int per_mod[N_MODIFIERS];
    check_split(captions, held, cat->n, per_mod);
    int counted = 0;
    for (int i = 0; i < cat->n; i++)
        counted += held[i];
    g_assert_cmpint(counted, ==, n_held);
    /* substantial, yet most of the set trains: every tone held out with
     * dozens of bases, three hair styles held out (one per person base) */
    g_assert_cmpint(n_held, >, cat->n / 20);
    g_assert_cmpint(n_held, <, cat->n / 8);
    for (int m = 0; m < 5; m++)
        g_assert_cmpint(per_mod[m], >=, 40);
    int hair_styles = 0;
    for (int m = 5; m < N_MODIFIERS; m++)
        hair_styles += per_mod[m] > 0;
    g_assert_cmpint(hair_styles, ==, 3);
    g_assert_true(held[find(cat, "thumbs up: medium skin tone") - cat->items]);
    g_assert_false(held[find(cat, "thumbs up") - cat->items]);
    g_test_message("split of all %d emoji: %d held out", cat->n, n_held);

    /* too few partners: thumbs up and down alone hold nothing out */
    int n = 0;
    for (int i = 0; i < cat->n; i++)
        if (g_str_has_prefix(cat->items[i].caption, "thumbs "))
            captions[n++] = cat->items[i].caption;
    g_assert_cmpint(n, ==, 12);
    g_assert_cmpint(scf_emoji_split((const char *const *)captions, n, held), ==, 0);
    g_free(captions);
    g_free(held);
}

/* ---- drawing -------------------------------------------------------------- */

static scf_emoji_renderer *new_renderer(void)
{
    g_autoptr(GError) error = NULL;
    scf_emoji_renderer *r = scf_emoji_renderer_new(&error);
    g_assert_no_error(error); /* the message names the Debian package */
    return r;
}

/* Pixels that differ from the background grey by more than 8 levels. */
static double ink_fraction(const scf_image *img)
{
    int n = img->width * img->height, ink = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            if (abs(img->data[i * 3 + c] - SCF_DATASET_BACKGROUND) > 8) {
                ink++;
                break;
            }
    return (double)ink / n;
}

static void test_render_all(void)
{
    g_autoptr(scf_emoji_catalog) cat = load_catalog();
    g_autoptr(scf_emoji_renderer) r = new_renderer();
    g_assert_cmpint(scf_emoji_renderer_cell(r), >=, SCF_EMOJI_STRIKE_PX);
    gint64 t0 = g_get_monotonic_time();
    for (int i = 0; i < cat->n; i++) {
        char *skip = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(scf_image) img = scf_emoji_renderer_draw(r, cat->items[i].text, 8, &skip, &error);
        g_assert_no_error(error);
        if (!img)
            g_error("\"%s\" (%s) is not one glyph: %s", cat->items[i].caption,
                    cat->items[i].codepoints, skip);
        g_assert_cmpfloat(ink_fraction(img), >, 0.0);
    }
    g_test_message("%d emoji drawn as single glyphs in %.2f s", cat->n,
                   (double)(g_get_monotonic_time() - t0) * 1e-6);

    /* not an emoji: plain text falls back to another font or has no glyph */
    char *skip = NULL;
    g_assert_null(scf_emoji_renderer_draw(r, "ab", 8, &skip, NULL));
    g_assert_nonnull(skip);
    g_free(skip);
}

/* ---- `scflow dataset emoji` ---------------------------------------------- */

/* Runs scflow with the arguments; returns its exit status, stderr in *err. */
static int run_scflow(char **err, ...)
{
    const char *scflow = g_getenv("SCFLOW");
    g_assert_nonnull(scflow);
    g_autoptr(GPtrArray) argv = g_ptr_array_new();
    g_ptr_array_add(argv, (char *)scflow);
    va_list ap;
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *));)
        g_ptr_array_add(argv, a);
    va_end(ap);
    g_ptr_array_add(argv, NULL);
    g_autofree char *out = NULL;
    int status;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, err, &status, &error));
    g_assert_no_error(error);
    g_test_message("%s%s", out, *err);
    g_assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static char *read_text(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

static gboolean exists(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    return g_file_test(path, G_FILE_TEST_EXISTS);
}

static JsonObject *read_json(JsonParser *parser, const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_assert_true(json_parser_load_from_file(parser, path, NULL));
    return json_node_get_object(json_parser_get_root(parser));
}

static void save_sheet(const scf_dataset *ds, const char *name)
{
    int n = scf_dataset_count(ds), size = scf_dataset_size(ds);
    scf_image *cells = g_new(scf_image, n);
    scf_image **ptrs = g_new(scf_image *, n);
    for (int i = 0; i < n; i++) {
        cells[i] = (scf_image){ size, size, 3, (uint8_t *)scf_dataset_pixels(ds, i) };
        ptrs[i] = &cells[i];
    }
    const uint8_t white[3] = { 255, 255, 255 };
    g_autoptr(scf_image) sheet = scf_image_grid(ptrs, n, 12, 2, white, NULL);
    g_autofree char *path = g_build_filename(g_getenv("SCF_TEST_OUT"), name, NULL);
    g_assert_true(scf_png_write(path, sheet, NULL, NULL));
    g_test_message("contact sheet: %s", path);
    g_free(cells);
    g_free(ptrs);
}

static void test_build(void)
{
    char *dir = chk_tmpdir("emoji");
    g_autofree char *err = NULL;
    g_assert_cmpint(run_scflow(&err, "dataset", "emoji", "--match", "thumbs", "--size", "32",
                               "--out", dir, NULL), ==, 0);
    for (int i = 0; i < 12; i++) {
        g_autofree char *png = g_strdup_printf("%04d.png", i);
        g_autofree char *txt = g_strdup_printf("%04d.txt", i);
        g_assert_true(exists(dir, png));
        g_assert_true(exists(dir, txt));
    }
    g_assert_false(exists(dir, "0012.png"));
    g_autofree char *first = read_text(dir, "0000.txt");
    g_assert_cmpstr(first, ==, "thumbs up\n");
    g_autofree char *third = read_text(dir, "0003.txt");
    g_assert_cmpstr(third, ==, "thumbs up: medium skin tone\n");

    g_autofree char *png = g_build_filename(dir, "0000.png", NULL);
    g_autoptr(scf_image) thumb = scf_png_read(png, NULL, NULL, NULL);
    g_assert_nonnull(thumb);
    g_assert_cmpint(thumb->width, ==, 32);
    g_assert_cmpint(thumb->height, ==, 32);
    g_assert_cmpint(thumb->channels, ==, 3);
    g_assert_cmpfloat(ink_fraction(thumb), >, 0.3);     /* a thumb, not a grey square */
    for (int c = 0; c < 3; c++)                         /* the corner is background */
        g_assert_cmpint(thumb->data[c], ==, SCF_DATASET_BACKGROUND);

    g_autoptr(JsonParser) parser = json_parser_new();
    JsonObject *manifest = read_json(parser, dir, "dataset.json");
    JsonObject *counts = json_object_get_object_member(manifest, "counts");
    g_assert_cmpint(json_object_get_int_member(counts, "kept"), ==, 12);
    g_assert_cmpint(json_object_get_int_member(counts, "skipped"), ==, 0);
    g_assert_cmpint(json_object_get_int_member(manifest, "size"), ==, 32);
    g_assert_cmpstr(json_object_get_string_member(manifest, "background"), ==, "#F0F0F0");
    JsonArray *kept = json_object_get_array_member(manifest, "kept");
    g_assert_cmpuint(json_array_get_length(kept), ==, 12);
    g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(kept, 3),
                                                  "codepoints"), ==, "1F44D 1F3FD");

    /* the loader reads it back, captions in file order */
    g_autoptr(scf_dataset) ds = scf_dataset_open(dir, 32, SCF_DATASET_ALL, 1, NULL);
    g_assert_cmpint(scf_dataset_count(ds), ==, 12);
    g_assert_cmpstr(scf_dataset_caption(ds, 3), ==, "thumbs up: medium skin tone");
    g_assert_cmpmem(scf_dataset_pixels(ds, 0), 32 * 32 * 3, thumb->data, 32 * 32 * 3);
    save_sheet(ds, "emoji-thumbs-32.png");

    /* a second build into the folder: refused, nothing touched ... */
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(run_scflow(&err, "dataset", "emoji", "--limit", "3", "--out", dir, NULL), ==,
                    1);
    g_assert_nonnull(strstr(err, "--force"));
    g_assert_true(exists(dir, "0011.png"));
    /* ... unless forced: the old numbered files beyond the new set go */
    g_clear_pointer(&err, g_free);
    g_assert_cmpint(run_scflow(&err, "dataset", "emoji", "--limit", "3", "--force", "--out", dir,
                               NULL), ==, 0);
    g_assert_true(exists(dir, "0002.png"));
    g_assert_false(exists(dir, "0003.png"));
    g_assert_false(exists(dir, "0011.txt"));
    g_autofree char *again = read_text(dir, "0000.txt");
    g_assert_cmpstr(again, ==, "grinning face\n");
    g_autoptr(scf_dataset) small = scf_dataset_open(dir, 32, SCF_DATASET_TRAIN, 1, NULL);
    g_assert_cmpint(scf_dataset_count(small), ==, 3);
    g_free(dir);
}

/* A build whose split holds some out: checked through the loader's subsets. */
static void test_build_split(void)
{
    char *dir = chk_tmpdir("emoji");
    g_autofree char *err = NULL;
    g_assert_cmpint(run_scflow(&err, "dataset", "emoji", "--match", "index pointing", "--size",
                               "64", "--out", dir, NULL), ==, 0);
    g_autoptr(scf_dataset) all = scf_dataset_open(dir, 64, SCF_DATASET_ALL, 1, NULL);
    g_autoptr(scf_dataset) train = scf_dataset_open(dir, 64, SCF_DATASET_TRAIN, 1, NULL);
    g_autoptr(scf_dataset) held = scf_dataset_open(dir, 64, SCF_DATASET_HELD_OUT, 1, NULL);
    g_assert_nonnull(all);
    g_assert_nonnull(train);
    g_assert_nonnull(held);
    int n = scf_dataset_count(all);
    g_assert_cmpint(n, ==, 36);     /* 6 bases with 5 tones each */
    g_assert_cmpint(scf_dataset_count(held), ==, 6);
    g_assert_cmpint(scf_dataset_count(train), ==, 30);
    g_autoptr(GHashTable) held_set = g_hash_table_new(g_str_hash, g_str_equal);
    for (int i = 0; i < scf_dataset_count(held); i++)
        g_hash_table_add(held_set, (char *)scf_dataset_caption(held, i));
    char **captions = g_new(char *, n);
    gboolean *is_held = g_new(gboolean, n);
    for (int i = 0; i < n; i++) {
        captions[i] = (char *)scf_dataset_caption(all, i);
        is_held[i] = g_hash_table_contains(held_set, captions[i]);
        g_assert_cmpfloat(ink_fraction(&(scf_image){ 64, 64, 3,
                                                     (uint8_t *)scf_dataset_pixels(all, i) }),
                          >, 0.1);
    }
    int per_mod[N_MODIFIERS];
    check_split(captions, is_held, n, per_mod);
    save_sheet(all, "emoji-index-pointing-64.png");
    g_free(captions);
    g_free(is_held);
    g_free(dir);
}

static void test_usage(void)
{
    const char *bad[][6] = {
        { "dataset", "emoji", NULL },                               /* no --out */
        { "dataset", "flags", "--out", "x", NULL },                 /* unknown kind */
        { "dataset", "emoji", "--out", "x", "--size", "7" },        /* too small */
        { "dataset", "emoji", "--out", "x", "--limit", "-1" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *err = NULL;
        g_assert_cmpint(run_scflow(&err, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4],
                                   bad[i][5], NULL), ==, 2);
        g_assert_nonnull(strstr(err, "scflow dataset"));
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/emoji/catalog", test_catalog);
    g_test_add_func("/emoji/split-base", test_split_base);
    g_test_add_func("/emoji/split", test_split_full);
    g_test_add_func("/emoji/render-all", test_render_all);
    g_test_add_func("/emoji/build", test_build);
    g_test_add_func("/emoji/build-split", test_build_split);
    g_test_add_func("/emoji/usage", test_usage);
    return g_test_run();
}

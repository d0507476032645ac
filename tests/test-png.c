/* PNG reading and writing with generation settings: pixels and settings
 * survive a round trip, A1111 infotexts (hand-written and made by Pillow as
 * stable-diffusion-webui does, fixtures from tools/png_fixtures.py) parse as
 * A1111 parses them, damaged files are errors and never crashes, and writes
 * are atomic. */
#define _GNU_SOURCE /* memmem */
#include "image.h"
#include "genparams.h"
#include "error.h"
#include "check.h"
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <glib/gstdio.h>

static const char *fixture(const char *name)
{
    static char path[4096];
    const char *dir = g_getenv("SCF_FIXTURES");
    g_assert_nonnull(dir);
    g_snprintf(path, sizeof path, "%s/png/%s", dir, name);
    return path;
}

static int count_entries(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    int n = 0;
    while (g_dir_read_name(d))
        n++;
    g_dir_close(d);
    return n;
}

static void assert_same_pixels(const scf_image *a, const scf_image *b)
{
    g_assert_cmpint(a->width, ==, b->width);
    g_assert_cmpint(a->height, ==, b->height);
    g_assert_cmpint(a->channels, ==, b->channels);
    g_assert_cmpmem(a->data, (size_t)a->width * a->height * a->channels,
                    b->data, (size_t)b->width * b->height * b->channels);
}

static void assert_same_params(const scf_gen_params *a, const scf_gen_params *b)
{
    g_assert_cmpstr(a->prompt, ==, b->prompt);
    g_assert_cmpstr(a->negative_prompt, ==, b->negative_prompt);
    g_assert_cmpint(a->steps, ==, b->steps);
    g_assert_cmpstr(a->sampler, ==, b->sampler);
    g_assert_cmpfloat(a->guidance, ==, b->guidance);
    g_assert_cmpuint(a->seed, ==, b->seed);
    g_assert_cmpint(a->width, ==, b->width);
    g_assert_cmpint(a->height, ==, b->height);
    g_assert_cmpstr(a->model_name, ==, b->model_name);
    g_assert_cmpstr(a->model_hash, ==, b->model_hash);
    g_assert_cmpstr(a->version, ==, b->version);
    g_assert_cmpint(a->batch_index, ==, b->batch_index);
    g_assert_cmpstr(a->device, ==, b->device);
    g_assert_cmpuint(a->extra->len, ==, b->extra->len);
    for (guint i = 0; i < a->extra->len; i++)
        g_assert_cmpstr(g_ptr_array_index(a->extra, i), ==, g_ptr_array_index(b->extra, i));
}

/* Settings whose text needs every kind of care: commas, colons, quotes,
 * backslashes, newlines, tabs, non-Latin-1 text and emoji. */
static void tricky_params(scf_gen_params *p)
{
    scf_gen_params_init(p);
    g_free(p->prompt);
    p->prompt = g_strdup("a \"thumbs up\": medium skin tone, 👍🏽\nsecond line, café 日本語 \\ tab\there");
    g_free(p->negative_prompt);
    p->negative_prompt = g_strdup("blurry, text: \"watermark\"\nlow quality 😞");
    p->steps = 4;
    p->guidance = 2.75;
    p->seed = G_GUINT64_CONSTANT(18446744073709551557); /* above 2^53 */
    p->width = 32;
    p->height = 48;
    g_free(p->model_name);
    p->model_name = g_strdup("emoji, student: \"v2\"");
    g_free(p->model_hash);
    p->model_hash = g_strdup("0a1b2c3d4e");
    p->batch_index = 3;
    g_free(p->device);
    p->device = g_strdup("cuda:0");
    scf_gen_params_set_extra(p, "Clip skip", "2");
    scf_gen_params_set_extra(p, "Note", "x, y\nz");
}

static void set_string(char **slot, const char *v)
{
    g_free(*slot);
    *slot = g_strdup(v);
}

/* ---- settings text ------------------------------------------------------ */

static void test_infotext_format(void)
{
    scf_gen_params p;
    scf_gen_params_init(&p);
    set_string(&p.prompt, "a cat, sitting: on a mat");
    p.steps = 2;
    p.guidance = 7.5;
    p.seed = 42;
    p.width = p.height = 32;
    set_string(&p.model_name, "emoji");
    set_string(&p.model_hash, "abcdef0123");
    set_string(&p.version, "scflow 1.2.3");
    char *t = scf_gen_params_to_infotext(&p);
    /* the negative prompt line is left out when empty; the prompt is never quoted */
    g_assert_cmpstr(t, ==, "a cat, sitting: on a mat\n"
                           "Steps: 2, Sampler: Euler, CFG scale: 7.5, Seed: 42, Size: 32x32, "
                           "Model hash: abcdef0123, Model: emoji, Version: scflow 1.2.3");
    g_free(t);

    /* json.dumps(ensure_ascii=False) quoting of values with ',' ':' or '\n' */
    set_string(&p.negative_prompt, "ugly");
    set_string(&p.model_name, "a \"b\"\\c,\n\t\x01 日本");
    set_string(&p.sampler, "Euler: plain");
    p.guidance = 1.0;
    scf_gen_params_set_extra(&p, "Clip skip", "2");
    t = scf_gen_params_to_infotext(&p);
    g_assert_cmpstr(t, ==, "a cat, sitting: on a mat\nNegative prompt: ugly\n"
                           "Steps: 2, Sampler: \"Euler: plain\", CFG scale: 1, Seed: 42, Size: 32x32, "
                           "Model hash: abcdef0123, Model: \"a \\\"b\\\"\\\\c,\\n\\t\\u0001 日本\", "
                           "Version: scflow 1.2.3, Clip skip: 2");
    scf_gen_params q;
    scf_gen_params_init(&q);
    g_assert_true(scf_gen_params_from_infotext(&q, t, NULL));
    g_assert_cmpstr(q.model_name, ==, p.model_name);
    g_assert_cmpstr(q.sampler, ==, "Euler: plain");
    g_assert_cmpstr(scf_gen_params_get_extra(&q, "Clip skip"), ==, "2");
    g_free(t);
    scf_gen_params_clear(&q);
    scf_gen_params_clear(&p);
}

static void test_infotext_parse(void)
{
    scf_gen_params p;
    scf_gen_params_init(&p);

    /* the example in the docstring of A1111's parse_generation_parameters */
    g_assert_true(scf_gen_params_from_infotext(&p,
        "girl with an artist's beret, determined, blue eyes, desert scene, computer monitors, "
        "heavy makeup, by Alphonse Mucha and Charlie Bowater, ((eyeshadow)), (coquettish), "
        "detailed, intricate\n"
        "Negative prompt: ugly, fat, obese, chubby, (((deformed))), [blurry], bad anatomy, "
        "disfigured, poorly drawn face, mutation, mutated, (extra_limb), (ugly), "
        "(poorly drawn hands), messy drawing\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x512, "
        "Model hash: 45dee52b\n", NULL));
    g_assert_true(g_str_has_prefix(p.prompt, "girl with an artist's beret, determined"));
    g_assert_true(g_str_has_suffix(p.prompt, "detailed, intricate"));
    g_assert_true(g_str_has_prefix(p.negative_prompt, "ugly, fat"));
    g_assert_true(g_str_has_suffix(p.negative_prompt, "messy drawing"));
    g_assert_cmpint(p.steps, ==, 20);
    g_assert_cmpstr(p.sampler, ==, "Euler a");
    g_assert_cmpfloat(p.guidance, ==, 7.0);
    g_assert_cmpuint(p.seed, ==, 965400086);
    g_assert_cmpint(p.width, ==, 512);
    g_assert_cmpint(p.height, ==, 512);
    g_assert_cmpstr(p.model_hash, ==, "45dee52b");
    g_assert_cmpstr(p.model_name, ==, "");        /* missing: default */
    g_assert_cmpuint(p.extra->len, ==, 0);

    /* multi-line prompt and negative prompt, lines stripped as A1111 does,
     * unknown keys kept in order, a known key with a bad value kept as extra */
    g_assert_true(scf_gen_params_from_infotext(&p,
        "  first line  \nsecond: line, with comma\r\n"
        "Negative prompt:   bad\nworse\n"
        "Steps: many, Seed: 7, ENSD: 31337, Clip skip: 2, Hires upscaler: \"Latent, x2\"", NULL));
    g_assert_cmpstr(p.prompt, ==, "first line\nsecond: line, with comma");
    g_assert_cmpstr(p.negative_prompt, ==, "bad\nworse");
    g_assert_cmpint(p.steps, ==, 1);
    g_assert_cmpuint(p.seed, ==, 7);
    g_assert_cmpstr(p.sampler, ==, "Euler");
    g_assert_cmpuint(p.extra->len, ==, 8);
    const char *want[] = { "Steps", "many", "ENSD", "31337", "Clip skip", "2",
                           "Hires upscaler", "Latent, x2" };
    for (int i = 0; i < 8; i++)
        g_assert_cmpstr(g_ptr_array_index(p.extra, i), ==, want[i]);

    /* a last line with fewer than three pairs is prompt text */
    g_assert_true(scf_gen_params_from_infotext(&p, "a dog\nStyle: photo, Light: soft", NULL));
    g_assert_cmpstr(p.prompt, ==, "a dog\nStyle: photo, Light: soft");
    g_assert_cmpuint(p.extra->len, ==, 0);

    /* only the parameters line; a quoted value that is not valid JSON stays as written */
    g_assert_true(scf_gen_params_from_infotext(&p,
        "Steps: 3, CFG scale: 4.25, Size: 64x96, Model: \"bad \\q, escape\"", NULL));
    g_assert_cmpstr(p.prompt, ==, "");
    g_assert_cmpint(p.steps, ==, 3);
    g_assert_cmpfloat(p.guidance, ==, 4.25);
    g_assert_cmpint(p.width, ==, 64);
    g_assert_cmpint(p.height, ==, 96);
    g_assert_cmpstr(p.model_name, ==, "\"bad \\q, escape\"");

    /* a plain prompt, nothing else */
    g_assert_true(scf_gen_params_from_infotext(&p, "just a prompt", NULL));
    g_assert_cmpstr(p.prompt, ==, "just a prompt");
    g_assert_cmpint(p.steps, ==, 1);

    GError *error = NULL;
    g_assert_false(scf_gen_params_from_infotext(&p, "bad \xff utf8", &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
    g_clear_error(&error);
    scf_gen_params_clear(&p);
}

static void test_json(void)
{
    scf_gen_params p, q;
    tricky_params(&p);
    char *json = scf_gen_params_to_json(&p);
    /* a seed past 2^53 is a string, so readers that use doubles keep it exact */
    g_assert_nonnull(strstr(json, "\"seed\":\"18446744073709551557\""));
    scf_gen_params_init(&q);
    g_assert_true(scf_gen_params_from_json(&q, json, NULL));
    assert_same_params(&p, &q);
    g_free(json);

    p.seed = 12345;
    json = scf_gen_params_to_json(&p);
    g_assert_nonnull(strstr(json, "\"seed\":12345"));
    g_free(json);

    /* unknown members are kept: strings as they are, other values as JSON text */
    g_assert_true(scf_gen_params_from_json(&q,
        "{\"steps\": 8, \"guidance\": 3, \"future\": {\"a\": [1, 2]}, \"eta\": \"0.5\"}", NULL));
    g_assert_cmpint(q.steps, ==, 8);
    g_assert_cmpfloat(q.guidance, ==, 3.0);
    g_assert_cmpstr(q.prompt, ==, "");
    g_assert_cmpstr(scf_gen_params_get_extra(&q, "future"), ==, "{\"a\":[1,2]}");
    g_assert_cmpstr(scf_gen_params_get_extra(&q, "eta"), ==, "0.5");

    struct { const char *json, *needle; } bad[] = {
        { "{\"steps\": \"four\"}", "\"steps\"" },
        { "{\"width\": -3}", "\"width\"" },
        { "{\"seed\": -1}", "\"seed\"" },
        { "{\"prompt\": 5}", "\"prompt\"" },
        { "[1, 2]", "not an object" },
        { "{\"steps\": 4", "invalid JSON" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        GError *error = NULL;
        g_assert_false(scf_gen_params_from_json(&q, bad[i].json, &error));
        g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
        g_assert_nonnull(strstr(error->message, bad[i].needle));
        g_clear_error(&error);
    }

    scf_gen_params c;
    scf_gen_params_copy(&c, &p);
    assert_same_params(&c, &p);
    g_assert_true(c.prompt != p.prompt);
    scf_gen_params_clear(&c);
    scf_gen_params_clear(&q);
    scf_gen_params_clear(&p);
}

/* ---- images ------------------------------------------------------------- */

static void test_chw_conversion(void)
{
    const float in[6] = { -1.0f, 1.0f, 0.0f, -2.0f, 0.5f, NAN };
    g_autoptr(scf_image) img = scf_image_from_chw(in, 3, 1, 2, NULL);
    g_assert_nonnull(img);
    /* CHW planes interleave into pixels: pixel 0 = (in[0], in[2], in[4]) */
    const uint8_t want[6] = { 0, 128, 191, 255, 0, 0 };
    g_assert_cmpmem(img->data, 6, want, 6);

    g_autoptr(scf_image) all = scf_image_new(16, 16, 4, NULL);
    for (int i = 0; i < 16 * 16 * 4; i++)
        all->data[i] = (uint8_t)i;
    float *chw = g_new(float, 16 * 16 * 4);
    scf_image_to_chw(all, chw);
    g_assert_cmpfloat(chw[0], ==, -1.0f);                    /* u = 0 */
    g_assert_cmpfloat_with_epsilon(chw[1], 4 / 127.5 - 1, 1e-6); /* pixel 1, channel 0: u = 4 */
    g_autoptr(scf_image) back = scf_image_from_chw(chw, 4, 16, 16, NULL);
    assert_same_pixels(all, back); /* every byte value survives u8 -> float -> u8 */
    g_free(chw);

    GError *error = NULL;
    g_assert_null(scf_image_from_chw(in, 2, 1, 3, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_clear_error(&error);
}

static void test_grid(void)
{
    scf_image *cells[3];
    for (int i = 0; i < 3; i++) {
        cells[i] = scf_image_new(2, 3, 3, NULL);
        memset(cells[i]->data, 10 * (i + 1), 2 * 3 * 3);
    }
    const uint8_t pad[3] = { 1, 2, 3 };
    g_autoptr(scf_image) g = scf_image_grid(cells, 3, 2, 1, pad, NULL);
    g_assert_nonnull(g);
    g_assert_cmpint(g->width, ==, 2 * 2 + 3);  /* 2 cells of 2 + 3 pads */
    g_assert_cmpint(g->height, ==, 2 * 3 + 3); /* 2 rows of 3 + 3 pads */
    #define PX(x, y) (g->data + ((size_t)(y) * g->width + (x)) * 3)
    g_assert_cmpmem(PX(0, 0), 3, pad, 3);
    g_assert_cmpint(PX(1, 1)[0], ==, 10);  /* cell 0 at (1, 1) */
    g_assert_cmpint(PX(2, 3)[1], ==, 10);
    g_assert_cmpmem(PX(3, 1), 3, pad, 3);  /* the pad column between cells */
    g_assert_cmpint(PX(4, 1)[2], ==, 20);  /* cell 1 */
    g_assert_cmpint(PX(1, 5)[0], ==, 30);  /* cell 2, second row */
    g_assert_cmpmem(PX(4, 5), 3, pad, 3);  /* empty fourth cell */
    g_assert_cmpmem(PX(6, 8), 3, pad, 3);
    #undef PX

    scf_image *odd = scf_image_new(3, 3, 3, NULL);
    scf_image *mixed[2] = { cells[0], odd };
    GError *error = NULL;
    g_assert_null(scf_image_grid(mixed, 2, 2, 0, pad, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "image 1"));
    g_clear_error(&error);
    scf_image_free(odd);
    for (int i = 0; i < 3; i++)
        scf_image_free(cells[i]);
}

/* ---- PNG files ---------------------------------------------------------- */

static void test_roundtrip(void)
{
    g_autofree char *dir = chk_tmpdir("png");
    g_autofree char *path = g_build_filename(dir, "gen.png", NULL);
    scf_gen_params p, q;
    tricky_params(&p);
    for (int channels = 3; channels <= 4; channels++) {
        g_autoptr(scf_image) img = chk_noise_image(37, 23, channels, 100 + channels);
        GError *error = NULL;
        g_assert_true(scf_png_write(path, img, &p, &error));
        g_assert_no_error(error);
        gboolean found = FALSE;
        g_autoptr(scf_image) back = scf_png_read(path, &q, &found, &error);
        g_assert_no_error(error);
        g_assert_true(found);
        assert_same_pixels(img, back);
        assert_same_params(&p, &q);
        scf_gen_params_clear(&q);

        g_assert_true(scf_png_read_params(path, &q, &found, &error));
        g_assert_true(found);
        assert_same_params(&p, &q);
        scf_gen_params_clear(&q);
    }

    /* The parameters chunk: iTXt here (emoji), holding what A1111 would parse
     * back to the same prompts (lines are stripped, so none start or end in spaces). */
    g_autofree char *bytes = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    g_assert_nonnull(memmem(bytes, len, "iTXtparameters\0\0\0\0\0", 19));
    g_assert_nonnull(memmem(bytes, len, "iTXtscflow\0", 11));
    char *text = scf_gen_params_to_infotext(&p);
    scf_gen_params_init(&q);
    g_assert_true(scf_gen_params_from_infotext(&q, text, NULL));
    g_assert_cmpstr(q.prompt, ==, p.prompt);
    g_assert_cmpstr(q.negative_prompt, ==, p.negative_prompt);
    g_assert_cmpstr(q.model_name, ==, p.model_name);
    g_assert_cmpuint(q.seed, ==, p.seed);
    g_assert_cmpstr(scf_gen_params_get_extra(&q, "Note"), ==, "x, y\nz");
    g_free(text);
    scf_gen_params_clear(&q);

    /* Latin-1 text goes into tEXt as Latin-1 bytes, as Pillow writes it */
    set_string(&p.prompt, "café");
    set_string(&p.negative_prompt, "");
    set_string(&p.model_name, "m");
    g_ptr_array_set_size(p.extra, 0);
    g_autoptr(scf_image) small = chk_noise_image(4, 4, 3, 7);
    g_assert_true(scf_png_write(path, small, &p, NULL));
    g_free(bytes);
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));
    g_assert_nonnull(memmem(bytes, len, "tEXtparameters\0caf\xe9\n", 20));
    g_assert_true(scf_png_read_params(path, &q, NULL, NULL));
    g_assert_cmpstr(q.prompt, ==, "café");
    scf_gen_params_clear(&q);

    /* no settings: found is FALSE and q holds the defaults */
    g_assert_true(scf_png_write(path, small, NULL, NULL));
    gboolean found = TRUE;
    g_assert_true(scf_png_read_params(path, &q, &found, NULL));
    g_assert_false(found);
    g_assert_cmpint(q.steps, ==, 1);
    g_assert_cmpstr(q.sampler, ==, "Euler");
    scf_gen_params_clear(&q);
    scf_gen_params_clear(&p);
    g_assert_cmpint(count_entries(dir), ==, 1); /* no temporary files left */
}

static void rgb_ramp_check(const scf_image *img, int w, int h)
{
    g_assert_cmpint(img->width, ==, w);
    g_assert_cmpint(img->height, ==, h);
    g_assert_cmpint(img->channels, ==, 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *px = img->data + ((size_t)y * w + x) * 3;
            g_assert_cmpint(px[0], ==, x * 32);
            g_assert_cmpint(px[1], ==, y * 32);
            g_assert_cmpint(px[2], ==, (x + y) * 16);
        }
}

static void test_a1111_fixtures(void)
{
    scf_gen_params p;
    gboolean found = FALSE;
    GError *error = NULL;
    g_autoptr(scf_image) img = scf_png_read(fixture("a1111.png"), &p, &found, &error);
    g_assert_no_error(error);
    g_assert_true(found);
    rgb_ramp_check(img, 8, 8);
    g_assert_cmpstr(p.prompt, ==, "a café at night, (masterpiece:1.2)\nwide shot, 35mm");
    g_assert_cmpstr(p.negative_prompt, ==, "blurry, lowres\nwatermark");
    g_assert_cmpint(p.steps, ==, 20);
    g_assert_cmpstr(p.sampler, ==, "DPM++ 2M");
    g_assert_cmpfloat(p.guidance, ==, 7.5);
    g_assert_cmpuint(p.seed, ==, 1234567890);
    g_assert_cmpint(p.width, ==, 512);
    g_assert_cmpint(p.height, ==, 768);
    g_assert_cmpstr(p.model_hash, ==, "6ce0161689");
    g_assert_cmpstr(p.model_name, ==, "v1-5, pruned: ema");
    g_assert_cmpstr(p.version, ==, "v1.10.1");
    const char *want[] = { "Schedule type", "Karras", "Lora hashes",
                           "detail: 0a1b2c3d4e5f, style: ffee00112233", "Clip skip", "2" };
    g_assert_cmpuint(p.extra->len, ==, G_N_ELEMENTS(want));
    for (guint i = 0; i < G_N_ELEMENTS(want); i++)
        g_assert_cmpstr(g_ptr_array_index(p.extra, i), ==, want[i]);
    scf_gen_params_clear(&p);

    /* UTF-8 text in iTXt, no negative prompt, the largest seed */
    g_assert_true(scf_png_read_params(fixture("a1111_utf8.png"), &p, &found, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(p.prompt, ==, "猫 on a 🚀, \"quoted\"");
    g_assert_cmpstr(p.negative_prompt, ==, "");
    g_assert_cmpuint(p.seed, ==, G_MAXUINT64);
    g_assert_cmpfloat(p.guidance, ==, 1.0);
    g_assert_cmpstr(p.model_name, ==, "絵文字, model");
    g_assert_cmpint(p.width, ==, 32);
    scf_gen_params_clear(&p);
}

static void test_grey16_and_palette(void)
{
    scf_gen_params p;
    gboolean found = FALSE;
    GError *error = NULL;
    /* 16-bit grey, text in zTXt; libpng's scale_16 rounds to nearest */
    g_autoptr(scf_image) grey = scf_png_read(fixture("grey16.png"), &p, &found, &error);
    g_assert_no_error(error);
    g_assert_true(found);
    g_assert_cmpint(grey->channels, ==, 3);
    g_assert_cmpint(grey->width, ==, 8);
    g_assert_cmpint(grey->height, ==, 4);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 8; x++) {
            unsigned v = (unsigned)(x * 9000 + y * 17000 + 123) % 65536u;
            unsigned want = (v * 255u + 32767u) / 65535u;
            const uint8_t *px = grey->data + ((size_t)y * 8 + x) * 3;
            g_assert_cmpuint(px[0], ==, want);
            g_assert_cmpuint(px[1], ==, want);
            g_assert_cmpuint(px[2], ==, want);
        }
    g_assert_cmpstr(p.prompt, ==, "grey ramp");
    g_assert_cmpint(p.steps, ==, 2);
    g_assert_cmpuint(p.seed, ==, 5);
    g_assert_cmpfloat(p.guidance, ==, 1.0); /* missing: default */
    scf_gen_params_clear(&p);

    /* palette with a transparent entry -> RGBA, text in compressed iTXt */
    g_autoptr(scf_image) pal = scf_png_read(fixture("palette.png"), &p, &found, &error);
    g_assert_no_error(error);
    g_assert_cmpint(pal->channels, ==, 4);
    const uint8_t colours[4][4] = {
        { 255, 0, 0, 255 }, { 0, 255, 0, 255 }, { 0, 0, 255, 255 }, { 200, 100, 50, 0 },
    };
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 6; x++)
            g_assert_cmpmem(pal->data + ((size_t)y * 6 + x) * 4, 4, colours[(x + y) % 4], 4);
    g_assert_cmpstr(p.prompt, ==, "palette ✓");
    g_assert_cmpint(p.steps, ==, 3);
    scf_gen_params_clear(&p);
}

/* Reads path expecting a FORMAT error that names it; returns the message. */
static char *expect_damaged(const char *path, gboolean params_only)
{
    scf_gen_params p;
    GError *error = NULL;
    gboolean ok;
    if (params_only) {
        ok = scf_png_read_params(path, &p, NULL, &error);
    } else {
        scf_image *img = scf_png_read(path, &p, NULL, &error);
        ok = img != NULL;
        scf_image_free(img);
    }
    scf_gen_params_clear(&p);
    g_assert_false(ok);
    g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
    g_assert_nonnull(strstr(error->message, path));
    char *msg = g_strdup(error->message);
    g_error_free(error);
    return msg;
}

/* g_file_set_contents would fsync each of the many damaged copies. */
static void write_bytes(const char *path, const char *bytes, gsize n)
{
    FILE *f = g_fopen(path, "wb");
    g_assert_nonnull(f);
    g_assert_cmpuint(fwrite(bytes, 1, n, f), ==, n);
    g_assert_cmpint(fclose(f), ==, 0);
}

/* Offset of the first chunk of this type (its length field). */
static gsize chunk_offset(const char *bytes, gsize len, const char *type)
{
    const char *at = memmem(bytes, len, type, 4);
    g_assert_nonnull(at);
    return (gsize)(at - bytes) - 4;
}

static guint32 chunk_length(const char *bytes, gsize off)
{
    const guint8 *b = (const guint8 *)bytes + off;
    return (guint32)b[0] << 24 | (guint32)b[1] << 16 | (guint32)b[2] << 8 | b[3];
}

static void test_truncated(void)
{
    g_autofree char *dir = chk_tmpdir("png");
    g_autofree char *good = g_build_filename(dir, "good.png", NULL);
    g_autofree char *cut = g_build_filename(dir, "cut.png", NULL);
    scf_gen_params p;
    tricky_params(&p);
    g_autoptr(scf_image) img = chk_noise_image(16, 16, 3, 3);
    g_assert_true(scf_png_write(good, img, &p, NULL));
    scf_gen_params_clear(&p);
    g_autofree char *bytes = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(good, &bytes, &len, NULL));
    gsize idat = chunk_offset(bytes, len, "IDAT");

    /* every cut: the full read fails; reading only the settings fails while
     * the cut is before the image data, where the settings end */
    for (gsize n = 0; n < len; n++) {
        write_bytes(cut, bytes, n);
        g_free(expect_damaged(cut, FALSE));
        if (n < idat)
            g_free(expect_damaged(cut, TRUE));
    }
    g_autofree char *msg = NULL;
    write_bytes(cut, bytes, idat + 30);
    msg = expect_damaged(cut, FALSE);
    g_assert_nonnull(strstr(msg, "truncated"));
    g_free(msg);
    write_bytes(cut, bytes, 5);
    msg = expect_damaged(cut, FALSE);
    g_assert_nonnull(strstr(msg, "not a PNG"));
}

static void test_corrupt(void)
{
    g_autofree char *dir = chk_tmpdir("png");
    g_autofree char *path = g_build_filename(dir, "bad.png", NULL);
    scf_gen_params p;
    tricky_params(&p);
    set_string(&p.prompt, "latin-1 only"); /* so the settings go into tEXt */
    set_string(&p.negative_prompt, "");
    set_string(&p.model_name, "m");
    g_autoptr(scf_image) img = chk_noise_image(16, 16, 3, 4);
    g_assert_true(scf_png_write(path, img, &p, NULL));
    scf_gen_params_clear(&p);
    g_autofree char *bytes = NULL;
    gsize len;
    g_assert_true(g_file_get_contents(path, &bytes, &len, NULL));

    /* a flipped bit in the CRC of each chunk kind, or in the data it covers */
    const char *types[] = { "IHDR", "tEXt", "iTXt", "IDAT", "IEND" };
    for (size_t t = 0; t < G_N_ELEMENTS(types); t++)
        for (int in_data = 0; in_data < 2; in_data++) {
            gsize off = chunk_offset(bytes, len, types[t]);
            guint32 n = chunk_length(bytes, off);
            if (in_data && n == 0)
                continue;
            gsize at = in_data ? off + 8 + n / 2 : off + 8 + n + 1;
            g_autofree char *copy = g_memdup2(bytes, len);
            copy[at] ^= 0x10;
            write_bytes(path, copy, len);
            g_autofree char *msg = expect_damaged(path, FALSE);
            /* damaged image data may fail zlib's own check before the CRC */
            if (!in_data)
                g_assert_nonnull(strstr(msg, "CRC"));
        }

    /* not a PNG at all; a missing file is an I/O error naming it */
    g_assert_true(g_file_set_contents(path, "GIF89a not a png at all", -1, NULL));
    g_free(expect_damaged(path, TRUE));
    g_autofree char *missing = g_build_filename(dir, "nope.png", NULL);
    GError *error = NULL;
    g_assert_null(scf_png_read(missing, NULL, NULL, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_nonnull(strstr(error->message, missing));
    g_clear_error(&error);
}

static void test_atomic_write(void)
{
    g_autofree char *dir = chk_tmpdir("png");
    g_autoptr(scf_image) img = chk_noise_image(64, 64, 3, 5);
    GError *error = NULL;

    /* into a folder that does not exist: a clean error, nothing created */
    g_autofree char *missing = g_build_filename(dir, "no-such-folder", "x.png", NULL);
    g_assert_false(scf_png_write(missing, img, NULL, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_nonnull(strstr(error->message, missing));
    g_assert_nonnull(strstr(error->message, g_strerror(ENOENT)));
    g_clear_error(&error);
    g_assert_cmpint(count_entries(dir), ==, 0);

    /* an existing file survives a write that fails midway: the file size
     * limit makes write() fail with EFBIG after the temporary file exists */
    g_autofree char *path = g_build_filename(dir, "keep.png", NULL);
    g_autoptr(scf_image) old = chk_noise_image(8, 8, 3, 6);
    g_assert_true(scf_png_write(path, old, NULL, NULL));
    g_autofree char *before = NULL;
    gsize before_len;
    g_assert_true(g_file_get_contents(path, &before, &before_len, NULL));

    struct rlimit saved, small;
    g_assert_cmpint(getrlimit(RLIMIT_FSIZE, &saved), ==, 0);
    small = saved;
    small.rlim_cur = 4096; /* the 12 KiB of noise cannot fit */
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &small), ==, 0);
    gboolean ok = scf_png_write(path, img, NULL, &error);
    g_assert_cmpint(setrlimit(RLIMIT_FSIZE, &saved), ==, 0);
    signal(SIGXFSZ, old_handler);
    g_assert_false(ok);
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_nonnull(strstr(error->message, path));
    g_assert_nonnull(strstr(error->message, g_strerror(EFBIG)));
    g_clear_error(&error);

    /* a bad image or bad settings are refused before anything is written */
    scf_image bad = { 4, 4, 2, old->data };
    g_assert_false(scf_png_write(path, &bad, NULL, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, path));
    g_clear_error(&error);
    scf_gen_params p;
    scf_gen_params_init(&p);
    set_string(&p.negative_prompt, "bad \xff byte");
    g_assert_false(scf_png_write(path, old, &p, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "\"negative_prompt\" is not UTF-8"));
    g_clear_error(&error);
    set_string(&p.negative_prompt, "");
    p.guidance = NAN;
    g_assert_false(scf_png_write(path, old, &p, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "guidance"));
    g_clear_error(&error);
    scf_gen_params_clear(&p);

    g_autofree char *after = NULL;
    gsize after_len;
    g_assert_true(g_file_get_contents(path, &after, &after_len, NULL));
    g_assert_cmpmem(before, before_len, after, after_len);
    g_assert_cmpint(count_entries(dir), ==, 1); /* keep.png, no temporary file */
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/png/infotext-format", test_infotext_format);
    g_test_add_func("/png/infotext-parse", test_infotext_parse);
    g_test_add_func("/png/json", test_json);
    g_test_add_func("/png/chw-conversion", test_chw_conversion);
    g_test_add_func("/png/grid", test_grid);
    g_test_add_func("/png/roundtrip", test_roundtrip);
    g_test_add_func("/png/a1111-fixtures", test_a1111_fixtures);
    g_test_add_func("/png/grey16-and-palette", test_grey16_and_palette);
    g_test_add_func("/png/truncated", test_truncated);
    g_test_add_func("/png/corrupt", test_corrupt);
    g_test_add_func("/png/atomic-write", test_atomic_write);
    return g_test_run();
}

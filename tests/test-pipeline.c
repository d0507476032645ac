/* Diffusers pipeline folders against the fixture of tools/pipeline_fixtures.py
 * (tests/fixtures/models/pipeline-tiny): the VAE decoder matches diffusers'
 * AutoencoderKL.decode to 1e-4, also with the attention names of older
 * files; the folder loads through scf_model_load with the right sizes,
 * tokenizer ids, text embeddings and the SD1.5 rectified-flow convention
 * (or scflow.json's); generating at 1 and 2 steps with guidance matches the
 * Euler loop of InstaFlow's pipeline run in PyTorch from the same noise, to
 * 1e-4 in floats and within one level in RGB8; the model chooser lists
 * pipelines; and broken folders (a missing part, tensor or weights file, a
 * bad model_index.json or vae config) fail naming what is wrong.
 *
 * Tolerances: chk_close's measure (relative to each element plus the
 * tensor's largest). The references are float64 except the fp32 time
 * embedding, so 1e-4 bounds our fp32 error through the ~40 kernels of the
 * decoder and, for generation, the text encoder, two UNet passes and the
 * decoder; RGB8 may then differ by one level where a value sits on a
 * rounding boundary, never more. */
#include "model.h"
#include "model-catalog.h"
#include "sampler.h"
#include "error.h"
#include "check.h"
#include "image.h"
#include "model-fixture.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FORWARD_RTOL 1e-4
#define FIXTURE "pipeline-tiny"
#define VAE_WEIGHTS "vae/diffusion_pytorch_model.safetensors"

/* ---- folders ---- */

/* The fixture folder. */
static char *fixture_dir(void)
{
    return g_build_filename(g_getenv("SCF_FIXTURES"), "models", FIXTURE, NULL);
}

/* A fresh folder whose entries link to the fixture's, except those named in
 * skip (NULL-terminated), which a test then makes itself. */
static char *pipeline_copy(const char *const *skip)
{
    g_autofree char *src = fixture_dir();
    char *dir = chk_tmpdir("models");
    GDir *d = g_dir_open(src, 0, NULL);
    g_assert_nonnull(d);
    for (const char *name; (name = g_dir_read_name(d));) {
        if (skip && g_strv_contains(skip, name))
            continue;
        g_autofree char *target = g_build_filename(src, name, NULL);
        g_autofree char *link = g_build_filename(dir, name, NULL);
        g_assert_cmpint(symlink(target, link), ==, 0);
    }
    g_dir_close(d);
    return dir;
}

/* Removes dir and what it holds; links are removed, not followed. */
static void tree_remove(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    g_assert_nonnull(d);
    for (const char *name; (name = g_dir_read_name(d));) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (!g_file_test(path, G_FILE_TEST_IS_SYMLINK) && g_file_test(path, G_FILE_TEST_IS_DIR))
            tree_remove(path);
        else
            g_assert_cmpint(remove(path), ==, 0);
    }
    g_dir_close(d);
    g_assert_cmpint(rmdir(dir), ==, 0);
}

/* dir/part as a real folder whose files link to the fixture's part, except
 * the one named skip. */
static void part_copy(const char *dir, const char *part, const char *skip)
{
    g_autofree char *root = fixture_dir();
    g_autofree char *src = g_build_filename(root, part, NULL);
    g_autofree char *dst = g_build_filename(dir, part, NULL);
    g_assert_cmpint(g_mkdir_with_parents(dst, 0755), ==, 0);
    GDir *d = g_dir_open(src, 0, NULL);
    g_assert_nonnull(d);
    for (const char *name; (name = g_dir_read_name(d));) {
        if (g_strcmp0(name, skip) == 0)
            continue;
        g_autofree char *target = g_build_filename(src, name, NULL);
        g_autofree char *link = g_build_filename(dst, name, NULL);
        g_assert_cmpint(symlink(target, link), ==, 0);
    }
    g_dir_close(d);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

static scf_model *load(const char *dir)
{
    GError *error = NULL;
    scf_model *m = scf_model_load(dir, chk_cpu(), FALSE, &error);
    g_assert_no_error(error);
    g_assert_nonnull(m);
    return m;
}

/* ---- the VAE decoder ---- */

/* Decodes the fixture's z with the vae of dir (its config and weights file
 * at weights) and checks it against diffusers'. */
static void check_vae(const mfx *f, const char *dir, const char *weights)
{
    g_autofree char *config_path = g_build_filename(dir, "vae", "config.json", NULL);
    scf_config c;
    scf_vae_config cfg;
    GError *error = NULL;
    g_assert_true(scf_config_load(&c, config_path, &error));
    g_assert_true(scf_vae_config_read(&cfg, &c, &error));
    g_assert_no_error(error);
    scf_config_clear(&c);
    g_assert_cmpint(scf_vae_config_upscale(&cfg), ==, 4);
    g_assert_cmpfloat(cfg.scaling_factor, ==, 0.35f);

    scf_safetensors *st = scf_safetensors_open(weights, &error);
    g_assert_no_error(error);
    scf_params *p = scf_params_new(chk_cpu());
    scf_vae *v = scf_vae_new(&cfg, p, scf_vae_weights_names(st));
    g_assert_true(scf_params_allocate(p, FALSE, &error));
    g_assert_true(scf_params_load(p, st, "", TRUE, &error));
    g_assert_no_error(error);
    scf_safetensors_close(st);

    scf_tensor z = mfx_tensor(f->inputs, "z");
    scf_graph *g = scf_graph_new(chk_cpu());
    scf_var *out = scf_vae_decode(v, g, scf_graph_wrap(g, z));
    g_assert_true(scf_graph_check(g, &error));
    g_assert_nonnull(out);
    const int64_t want[4] = { 2, 3, 24, 32 };
    g_assert_cmpmem(out->value.shape, sizeof want, want, sizeof want);
    g_assert_true(mfx_check(f, "vae", out->value.data, scf_tensor_numel(&out->value),
                            FORWARD_RTOL));

    /* latents of the wrong channel count: an error of the pass naming them */
    scf_graph_reset(g);
    scf_tensor bad = { z.data, 4, { 2, 3, 8, 8 } };
    g_assert_null(scf_vae_decode(v, g, scf_graph_wrap(g, bad)));
    g_assert_false(scf_graph_check(g, &error));
    mfx_assert_error(error, "vae", "[2, 3, 8, 8]", "[B, 4, h, w]", NULL);

    scf_graph_free(g);
    g_free(z.data);
    scf_vae_free(v);
    scf_params_free(p);
}

static void test_vae(void)
{
    mfx f;
    mfx_open(&f, FIXTURE);
    g_autofree char *weights = mfx_file(&f, VAE_WEIGHTS);
    check_vae(&f, f.dir, weights);
    mfx_close(&f);
}

/* SD1.5-era files name the mid block's attention query/key/value/proj_attn;
 * the same weights under those names decode the same. */
static void test_vae_legacy_names(void)
{
    static const char *const renames[][2] = {
        { ".to_q.", ".query." }, { ".to_k.", ".key." }, { ".to_v.", ".value." },
        { ".to_out.0.", ".proj_attn." },
    };
    mfx f;
    mfx_open(&f, FIXTURE);
    char *dir = pipeline_copy((const char *const[]){ "vae", NULL });
    part_copy(dir, "vae", "diffusion_pytorch_model.safetensors");
    g_autofree char *src = mfx_file(&f, VAE_WEIGHTS);
    g_autofree char *dst = g_build_filename(dir, VAE_WEIGHTS, NULL);
    GError *error = NULL;
    scf_safetensors *st = scf_safetensors_open(src, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_vae_weights_names(st), ==, SCF_VAE_NAMES_CURRENT);
    scf_safetensors_writer *w = scf_safetensors_writer_new();
    int renamed = 0;
    for (int i = 0; i < scf_safetensors_count(st); i++) {
        const scf_st_tensor *t = scf_safetensors_get(st, i);
        g_autofree char *name = g_strdup(t->name);
        for (size_t r = 0; r < G_N_ELEMENTS(renames); r++) {
            char *at = strstr(name, renames[r][0]);
            if (at && g_str_has_prefix(name, "decoder.mid_block.attentions.0")) {
                *at = '\0';
                char *renamed_name = g_strconcat(name, renames[r][1], at + strlen(renames[r][0]),
                                                 NULL);
                g_free(name);
                name = renamed_name;
                renamed++;
                break;
            }
        }
        scf_tensor v = mfx_tensor(st, t->name);
        g_assert_true(scf_safetensors_writer_add(w, name, SCF_DTYPE_F32, v.ndim, v.shape, v.data,
                                                 &error));
        g_free(v.data);
    }
    g_assert_cmpint(renamed, ==, 8);   /* weight and bias of four projections */
    g_assert_true(scf_safetensors_writer_save(w, dst, &error));
    g_assert_no_error(error);
    scf_safetensors_writer_free(w);
    scf_safetensors_close(st);

    st = scf_safetensors_open(dst, &error);
    g_assert_cmpint(scf_vae_weights_names(st), ==, SCF_VAE_NAMES_LEGACY);
    scf_safetensors_close(st);
    check_vae(&f, dir, dst);
    /* and through the model loader */
    scf_model *m = load(dir);
    scf_model_free(m);
    tree_remove(dir);
    g_free(dir);
    mfx_close(&f);
}

/* ---- the model ---- */

/* Sizes and settings come from the parts; the tokenizer and the text
 * encoder (fp16 weights only) give transformers' ids and embeddings. */
static void test_load(void)
{
    mfx f;
    mfx_open(&f, FIXTURE);
    scf_model *m = load(f.dir);
    g_assert_nonnull(m->vae);
    g_assert_cmpint(m->latent_channels, ==, 4);
    g_assert_cmpint(m->latent_size, ==, 8);
    g_assert_cmpint(m->channels, ==, 3);
    g_assert_cmpint(m->image_size, ==, 32);
    g_assert_cmpint(m->context_length, ==, 16);   /* model_max_length, not the 20 positions */
    g_assert_cmpfloat(m->velocity_sign, ==, -1.0f);
    g_assert_cmpfloat(m->time_scale, ==, 1000.0f);
    g_assert_cmpstr(m->name, ==, FIXTURE);
    g_assert_cmpstr(m->kind, ==, "teacher");
    g_assert_cmpint(strlen(m->hash), ==, 10);

    static const char *const prompts[][2] = {
        { "ids.prompt", "a photo of a cat" }, { "ids.negative", "blurry photo" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(prompts); i++) {
        size_t n;
        g_autofree int32_t *want = mfx_ints(f.inputs, prompts[i][0], &n);
        g_assert_cmpuint(n, ==, 16);
        int32_t got[16];
        g_assert_true(scf_tokenizer_encode(m->tok, prompts[i][1], got, 16, NULL, NULL));
        g_assert_cmpmem(got, sizeof got, want, n * sizeof *want);
    }
    scf_graph *g = scf_graph_new(m->be);
    const char *prompt = prompts[0][1];
    scf_var *c = scf_model_encode_text(m, g, &prompt, 1);
    g_assert_nonnull(c);
    g_assert_true(mfx_check(&f, "text.prompt", c->value.data, scf_tensor_numel(&c->value),
                            FORWARD_RTOL));
    scf_graph_free(g);
    scf_model_free(m);
    mfx_close(&f);
}

/* One generation of the fixture against PyTorch's. */
static void check_generation(const mfx *f, scf_model *m, const char *name, int steps,
                             float guidance, const char *negative, int batch)
{
    g_autofree char *noise_name = g_strconcat("noise.", name, NULL);
    g_autofree char *image_name = g_strconcat("image.", name, NULL);
    scf_tensor noise = mfx_tensor(f->inputs, noise_name);
    g_assert_cmpint(noise.shape[0], ==, batch);
    scf_sample_request r = {
        .prompt = "a photo of a cat", .negative = negative, .steps = steps,
        .guidance = guidance, .seed = 0, .batch = batch, .noise = noise.data,
    };
    const size_t img = (size_t)m->channels * m->image_size * m->image_size;
    float *out = g_new(float, batch * img);
    scf_sampler *s = scf_sampler_new(m);
    GError *error = NULL;
    g_assert_true(scf_sampler_run(s, &r, out, NULL, NULL, &error));
    g_assert_no_error(error);
    g_assert_true(mfx_check(f, image_name, out, batch * img, FORWARD_RTOL));

    scf_tensor ref = mfx_tensor(f->expected, image_name);
    int worst = 0;
    for (int b = 0; b < batch; b++) {
        scf_image *ours = scf_image_from_chw(out + b * img, m->channels, m->image_size,
                                            m->image_size, &error);
        scf_image *theirs = scf_image_from_chw(ref.data + b * img, m->channels, m->image_size,
                                              m->image_size, &error);
        g_assert_no_error(error);
        for (size_t i = 0; i < img; i++)
            worst = MAX(worst, ABS((int)ours->data[i] - (int)theirs->data[i]));
        scf_image_free(ours);
        scf_image_free(theirs);
    }
    g_test_message("%s: RGB8 differs by at most %d", image_name, worst);
    g_assert_cmpint(worst, <=, 1);

    g_free(ref.data);
    scf_sampler_free(s);
    g_free(out);
    g_free(noise.data);
}

static void test_generate(void)
{
    mfx f;
    mfx_open(&f, FIXTURE);
    scf_model *m = load(f.dir);
    check_generation(&f, m, "1", 1, 1.5f, NULL, 1);
    check_generation(&f, m, "2", 2, 2.5f, "blurry photo", 2);
    scf_model_free(m);
    mfx_close(&f);
}

/* From a seed (no given noise) the sampler draws latent-shaped noise: the
 * image is the one made from scf_sampler_noise's latents. */
static void test_seed_noise(void)
{
    g_autofree char *dir = fixture_dir();
    scf_model *m = load(dir);
    scf_backend *be = m->be;
    const size_t latent = (size_t)m->latent_channels * m->latent_size * m->latent_size;
    const size_t img = (size_t)m->channels * m->image_size * m->image_size;
    scf_sampler *s = scf_sampler_new(m);
    float *dev = be->alloc(be, latent * sizeof(float));
    float *noise = g_new(float, latent);
    scf_sampler_noise(s, 42, dev);
    be->download(be, noise, dev, latent * sizeof(float));
    float *a = g_new(float, img), *b = g_new(float, img);
    scf_sample_request r = { "a cat", NULL, 2, 1.0f, 42, 1, NULL };
    GError *error = NULL;
    g_assert_true(scf_sampler_run(s, &r, a, NULL, NULL, &error));
    r.noise = noise;
    g_assert_true(scf_sampler_run(s, &r, b, NULL, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpmem(a, img * sizeof(float), b, img * sizeof(float));
    g_free(a);
    g_free(b);
    g_free(noise);
    be->free(be, dev);
    scf_sampler_free(s);
    scf_model_free(m);
}

/* scflow.json names the model and sets its convention and defaults; a bad
 * value in it is an error naming the file and the key. */
static void test_settings(void)
{
    char *dir = pipeline_copy(NULL);
    write_text(dir, SCF_PIPELINE_SETTINGS,
               "{\"name\": \"Tiny flow\", \"kind\": \"student\", \"flow\": "
               "{\"velocity_sign\": 1, \"time_scale\": 1}, "
               "\"defaults\": {\"steps\": 2, \"guidance\": 2.5}}");
    scf_model *m = load(dir);
    g_assert_cmpstr(m->name, ==, "Tiny flow");
    g_assert_cmpstr(m->kind, ==, "student");
    g_assert_cmpfloat(m->velocity_sign, ==, 1.0f);
    g_assert_cmpfloat(m->time_scale, ==, 1.0f);
    g_assert_cmpint(m->default_steps, ==, 2);
    g_assert_cmpfloat(m->default_guidance, ==, 2.5f);
    scf_model_free(m);

    write_text(dir, SCF_PIPELINE_SETTINGS,
               "{\"flow\": {\"velocity_sign\": 0.5, \"time_scale\": 1}}");
    GError *error = NULL;
    g_assert_null(scf_model_load(dir, chk_cpu(), FALSE, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
    mfx_assert_error(error, SCF_PIPELINE_SETTINGS, "velocity_sign", NULL);
    tree_remove(dir);
    g_free(dir);
}

/* The model chooser lists pipelines, by scflow.json's name or the folder's. */
static void test_catalog(void)
{
    g_autofree char *src = fixture_dir();
    char *models = chk_tmpdir("models");
    char *named = pipeline_copy(NULL);
    write_text(named, SCF_PIPELINE_SETTINGS,
               "{\"name\": \"A tiny pipeline\", \"kind\": \"student\", "
               "\"defaults\": {\"steps\": 1}}");
    g_autofree char *link_a = g_build_filename(models, "named", NULL);
    g_autofree char *link_b = g_build_filename(models, "plain", NULL);
    g_assert_cmpint(symlink(named, link_a), ==, 0);
    g_assert_cmpint(symlink(src, link_b), ==, 0);
    g_autofree char *not_a_model = g_build_filename(models, "empty", NULL);
    g_assert_cmpint(g_mkdir_with_parents(not_a_model, 0755), ==, 0);

    g_setenv("SCFLOW_DATADIR", models, TRUE);   /* no embedded model there */
    g_autoptr(GPtrArray) entries = scf_model_catalog_scan(models);
    g_assert_cmpuint(entries->len, ==, 2);
    scf_model_entry *a = entries->pdata[0], *b = entries->pdata[1];
    g_assert_cmpstr(a->name, ==, "A tiny pipeline");
    g_assert_cmpstr(a->dir, ==, link_a);
    g_assert_false(a->teacher);
    g_assert_cmpint(a->default_steps, ==, 1);
    g_assert_cmpstr(b->name, ==, "plain");
    g_assert_true(b->teacher);
    g_assert_cmpint(b->default_steps, ==, 32);

    g_assert_null(scf_model_catalog_embedded_teacher_dir());

    /* Embedded models: the default (a student) first, then the others by
     * name; a teacher among them is the one to distil; the setting that
     * selects each finds it again. */
    char *data = chk_tmpdir("data");
    g_autofree char *embedded = g_build_filename(data, "models", NULL);
    g_assert_cmpint(g_mkdir_with_parents(embedded, 0755), ==, 0);
    g_autofree char *student = g_build_filename(embedded, "z-student", NULL);
    g_autofree char *teacher = g_build_filename(embedded, "a-teacher", NULL);
    g_assert_cmpint(symlink(named, student), ==, 0);
    g_assert_cmpint(symlink(src, teacher), ==, 0);
    write_text(embedded, "default", "z-student\n");
    g_setenv("SCFLOW_DATADIR", data, TRUE);
    g_autoptr(GPtrArray) all = scf_model_catalog_scan(models);
    g_assert_cmpuint(all->len, ==, 4);
    const char *want_dirs[] = { student, teacher, link_a, link_b };
    const char *want_settings[] = { "", SCF_MODEL_SETTING_BUILTIN "a-teacher", "named", "plain" };
    for (guint i = 0; i < all->len; i++) {
        const scf_model_entry *e = all->pdata[i];
        g_assert_cmpstr(e->dir, ==, want_dirs[i]);
        g_assert_true(e->embedded == (i < 2));
        g_autofree char *setting = scf_model_catalog_setting_of(e);
        g_assert_cmpstr(setting, ==, want_settings[i]);
        for (guint j = 0; j < all->len; j++)
            g_assert_true(scf_model_catalog_entry_is(all->pdata[j], want_settings[i]) == (i == j));
    }
    g_autofree char *distil = scf_model_catalog_embedded_teacher_dir();
    g_assert_cmpstr(distil, ==, teacher);
    g_autofree char *by_name = scf_model_catalog_embedded_dir("a-teacher");
    g_assert_cmpstr(by_name, ==, teacher);
    g_assert_null(scf_model_catalog_embedded_dir("missing"));
    g_assert_null(scf_model_catalog_embedded_dir("../models"));
    tree_remove(data);
    g_free(data);

    tree_remove(models);
    g_free(models);
    tree_remove(named);
    g_free(named);
}

/* ---- broken folders ---- */

/* The error of loading dir, asserted to be of code; check its message
 * with mfx_assert_error. */
static GError *load_error(const char *dir, gboolean trainable, int code)
{
    GError *error = NULL;
    g_assert_null(scf_model_load(dir, chk_cpu(), trainable, &error));
    g_assert_error(error, SCF_ERROR, code);
    return error;
}

static void test_missing_part(void)
{
    char *dir = pipeline_copy((const char *const[]){ "vae", NULL });
    mfx_assert_error(load_error(dir, FALSE, SCF_ERROR_IO), dir, "vae/", SCF_PIPELINE_INDEX, NULL);
    tree_remove(dir);
    g_free(dir);
    /* neither format: the message names what was looked for */
    dir = pipeline_copy((const char *const[]){ SCF_PIPELINE_INDEX, NULL });
    mfx_assert_error(load_error(dir, FALSE, SCF_ERROR_IO), SCF_MODEL_CONFIG, SCF_PIPELINE_INDEX,
                     NULL);
    tree_remove(dir);
    g_free(dir);
}

/* A weights file of part with one edit: the error names the file and the
 * tensor. */
static void check_bad_weights(const char *part, const char *file, mfx_weights_edit edit,
                              const char *tensor, const char *expect)
{
    char *dir = pipeline_copy((const char *const[]){ part, NULL });
    part_copy(dir, part, file);
    g_autofree char *root = fixture_dir();
    g_autofree char *src = g_build_filename(root, part, file, NULL);
    g_autofree char *dst = g_build_filename(dir, part, file, NULL);
    mfx_edit_weights(src, dst, edit, tensor);
    mfx_assert_error(load_error(dir, FALSE, SCF_ERROR_FORMAT), dst, tensor, expect, NULL);
    tree_remove(dir);
    g_free(dir);
}

static void test_bad_weights(void)
{
    check_bad_weights("unet", "diffusion_pytorch_model.safetensors", MFX_DROP, "conv_in.weight",
                      "missing tensor");
    check_bad_weights("vae", "diffusion_pytorch_model.safetensors", MFX_DROP,
                      "decoder.mid_block.attentions.0.to_q.weight", "missing tensor");
    check_bad_weights("vae", "diffusion_pytorch_model.safetensors", MFX_SHRINK,
                      "decoder.conv_in.weight", "has shape [15, 4, 3, 3], the model expects "
                      "[16, 4, 3, 3]");
    check_bad_weights("text_encoder", "model.fp16.safetensors", MFX_DROP,
                      "final_layer_norm.weight", "missing tensor");
}

/* No safetensors at all, or pickled .bin weights only. */
static void test_missing_weights(void)
{
    char *dir = pipeline_copy((const char *const[]){ "unet", NULL });
    part_copy(dir, "unet", "diffusion_pytorch_model.safetensors");
    mfx_assert_error(load_error(dir, FALSE, SCF_ERROR_IO), "unet",
                     "diffusion_pytorch_model.safetensors", NULL);
    g_autofree char *unet = g_build_filename(dir, "unet", NULL);
    write_text(unet, "diffusion_pytorch_model.bin", "");
    mfx_assert_error(load_error(dir, FALSE, SCF_ERROR_UNSUPPORTED), "diffusion_pytorch_model.bin",
                     "safetensors", NULL);
    tree_remove(dir);
    g_free(dir);
}

static void test_bad_index(void)
{
    static const struct {
        const char *json;
        const char *expect[2];
    } cases[] = {
        { "{\"unet\": ", { "not valid JSON", NULL } },
        { "{\"text_encoder\": [\"transformers\", \"CLIPTextModel\"], \"tokenizer\": "
          "[\"transformers\", \"CLIPTokenizer\"], \"vae\": [\"diffusers\", \"AutoencoderKL\"]}",
          { "'unet'", "missing" } },
        { "{\"unet\": [\"diffusers\", \"UNet2DConditionModel\"], \"text_encoder\": "
          "[\"transformers\", \"CLIPTextModel\"], \"tokenizer\": [\"transformers\", "
          "\"CLIPTokenizer\"], \"vae\": [\"diffusers\", \"AutoencoderTiny\"]}",
          { "'vae'", "AutoencoderTiny" } },
        { "{\"unet\": \"UNet2DConditionModel\"}", { "'unet'", "list" } },
    };
    char *dir = pipeline_copy((const char *const[]){ SCF_PIPELINE_INDEX, NULL });
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        write_text(dir, SCF_PIPELINE_INDEX, cases[i].json);
        mfx_assert_error(load_error(dir, FALSE, SCF_ERROR_FORMAT), SCF_PIPELINE_INDEX,
                         cases[i].expect[0], cases[i].expect[1], NULL);
    }
    tree_remove(dir);
    g_free(dir);
}

/* A vae config asking for what this decoder does not do, and a pipeline
 * opened for training. */
static void test_unsupported(void)
{
    char *dir = pipeline_copy((const char *const[]){ "vae", NULL });
    part_copy(dir, "vae", "config.json");
    g_autofree char *root = fixture_dir();
    g_autofree char *src = g_build_filename(root, "vae", "config.json", NULL);
    g_autofree char *dst = g_build_filename(dir, "vae", "config.json", NULL);
    mfx_edit_config(src, dst, "shift_factor", "0.1");
    mfx_assert_error(load_error(dir, FALSE, SCF_ERROR_FORMAT), dst, "shift_factor", "unsupported",
                     NULL);
    mfx_edit_config(src, dst, "up_block_types", "[\"UpDecoderBlock2D\", \"UpBlock2D\", "
                                                "\"UpDecoderBlock2D\"]");
    mfx_assert_error(load_error(dir, FALSE, SCF_ERROR_FORMAT), dst, "up_block_types", "UpBlock2D",
                     NULL);
    tree_remove(dir);
    g_free(dir);

    g_autofree char *fixture = fixture_dir();
    mfx_assert_error(load_error(fixture, TRUE, SCF_ERROR_UNSUPPORTED), fixture, "only sample",
                     NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/pipeline/vae", test_vae);
    g_test_add_func("/pipeline/vae-legacy-names", test_vae_legacy_names);
    g_test_add_func("/pipeline/load", test_load);
    g_test_add_func("/pipeline/generate", test_generate);
    g_test_add_func("/pipeline/seed-noise", test_seed_noise);
    g_test_add_func("/pipeline/settings", test_settings);
    g_test_add_func("/pipeline/catalog", test_catalog);
    g_test_add_func("/pipeline/missing-part", test_missing_part);
    g_test_add_func("/pipeline/bad-weights", test_bad_weights);
    g_test_add_func("/pipeline/missing-weights", test_missing_weights);
    g_test_add_func("/pipeline/bad-index", test_bad_index);
    g_test_add_func("/pipeline/unsupported", test_unsupported);
    return g_test_run();
}

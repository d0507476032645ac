/* The Euler sampler (core/sampler.c) against a reference loop in PyTorch on
 * the tiny model of tools/sampler_fixtures.py: N = 1, 2, 4 without guidance,
 * with guidance against the empty prompt and against a negative prompt, a
 * batch of two, and a folder stating the SD1.5-family flow convention
 * (velocity sign -1, time scale 1).
 *
 * The fixture's noise and token ids come from this program
 * (`test-sampler --export MODEL_DIR FILE`, which tools/sampler_fixtures.py
 * runs), so PyTorch starts from our RNG's noise and our tokenizer's ids; the
 * test first checks that both are still what the engine produces, so a
 * change there reads as a stale fixture, not as a sampler bug.
 *
 * Tolerances. The reference runs in float64 on weights that are exactly the
 * stored fp32 values (only the sinusoidal time embedding is fp32, in both),
 * so the difference is our own fp32 error. One forward of the text encoder
 * or UNet is within ~1e-6 of float64 (the parity tests bound it by 1e-4);
 * the Euler loop adds N velocities weighted 1/N, so the error does not grow
 * with N, and guidance w = 3 scales a velocity error by at most |1-w| + |w|
 * = 5. 1e-4 (chk_close's measure) leaves room for that and still fails on
 * any wrong term: a missed step, a wrong tau, sign or guidance weight moves
 * the output by percents. After 8-bit quantisation (scf_image_from_chw, as
 * generation saves images) two values within 1e-4 can still fall on either
 * side of a rounding boundary, so pixels may differ by one level, 1/255. */
#include "scflow.h"
#include "check.h"
#include "model-fixture.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIXTURE "sampler-tiny"
#define FLOAT_RTOL 1e-4
#define MAX_LEVEL_DIFF 1
/* the flow convention the fixture's config.json states (our models') */
#define FIXTURE_SIGN 1.0f
#define FIXTURE_TIME_SCALE 1000.0f
#define FIXTURE_FLOW FIXTURE_SIGN, FIXTURE_TIME_SCALE

typedef struct {
    const char *name;
    const char *prompt;
    const char *negative;          /* NULL: guidance against the empty prompt */
    int steps;
    float guidance;                /* 1: no guidance */
    uint64_t seed;
    int batch;
    float velocity_sign, time_scale;   /* other than the fixture's: a copy stating them */
} sampler_case;

static const sampler_case cases[] = {
    { "n1_plain", "red heart", NULL, 1, 1.0f, 11, 1, FIXTURE_FLOW },
    { "n2_plain", "thumbs up: medium skin tone", NULL, 2, 1.0f, 12, 2, FIXTURE_FLOW },
    { "n4_plain", "cat face", NULL, 4, 1.0f, 13, 1, FIXTURE_FLOW },
    { "n1_empty", "rocket", NULL, 1, 3.0f, 21, 1, FIXTURE_FLOW },
    { "n2_empty", "red heart", NULL, 2, 3.0f, 22, 1, FIXTURE_FLOW },
    { "n4_empty", "grinning face", NULL, 4, 2.5f, 23, 2, FIXTURE_FLOW },
    { "n1_negative", "cat face", "red heart", 1, 3.0f, 31, 1, FIXTURE_FLOW },
    { "n2_negative", "grinning face", "thumbs up", 2, 3.0f, 32, 2, FIXTURE_FLOW },
    { "n4_negative", "rocket", "cat face", 4, 1.5f, 33, 1, FIXTURE_FLOW },
    /* the SD1.5-family sign, and a time scale that is not ours */
    { "n2_sd_flow", "thumbs up: medium skin tone", "rocket", 2, 3.0f, 41, 1, -1.0f, 1.0f },
};

static size_t image_numel(const scf_model *m)
{
    return (size_t)m->channels * m->image_size * m->image_size;
}

static scf_model *load_model(const char *dir)
{
    GError *error = NULL;
    scf_model *m = scf_model_load(dir, chk_cpu(), FALSE, &error);
    g_assert_no_error(error);
    return m;
}

/* The initial noise of the case's batch, as the sampler draws it. */
static float *case_noise(scf_sampler *s, const scf_model *m, const sampler_case *c)
{
    scf_backend *be = m->be;
    const size_t img = image_numel(m);
    float *device = be->alloc(be, (size_t)c->batch * img * sizeof(float));
    float *host = g_new(float, (size_t)c->batch * img);
    for (int b = 0; b < c->batch; b++)
        scf_sampler_noise(s, c->seed + (uint64_t)b, device + (size_t)b * img);
    be->download(be, host, device, (size_t)c->batch * img * sizeof(float));
    be->free(be, device);
    return host;
}

/* Token ids [2, T]: the prompt, then the negative (the empty prompt when
 * there is none), as the sampler encodes them. */
static int32_t *case_ids(const scf_model *m, const sampler_case *c)
{
    const int T = m->context_length;
    int32_t *ids = g_new(int32_t, 2 * (size_t)T);
    GError *error = NULL;
    g_assert_true(scf_tokenizer_encode(m->tok, c->prompt, ids, T, NULL, &error));
    g_assert_true(scf_tokenizer_encode(m->tok, c->negative ? c->negative : "", ids + T, T, NULL,
                                       &error));
    g_assert_no_error(error);
    return ids;
}

/* ---- export: the inputs tools/sampler_fixtures.py feeds PyTorch ---- */

static void set_meta(scf_safetensors_writer *w, const sampler_case *c, const char *key,
                     const char *value)
{
    g_autofree char *name = g_strdup_printf("%s.%s", c->name, key);
    scf_safetensors_writer_set_metadata(w, name, value);
}

static void set_meta_number(scf_safetensors_writer *w, const sampler_case *c, const char *key,
                            double value)
{
    char text[G_ASCII_DTOSTR_BUF_SIZE];
    set_meta(w, c, key, g_ascii_dtostr(text, sizeof text, value));
}

static int export_inputs(const char *model_dir, const char *path)
{
    scf_model *m = load_model(model_dir);
    scf_sampler *s = scf_sampler_new(m);
    scf_safetensors_writer *w = scf_safetensors_writer_new();
    GString *names = g_string_new(NULL);
    GError *error = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const sampler_case *c = &cases[i];
        g_string_append_printf(names, "%s%s", i ? "," : "", c->name);
        g_autofree float *noise = case_noise(s, m, c);
        g_autofree int32_t *ids = case_ids(m, c);
        g_autofree char *noise_name = g_strdup_printf("%s.noise", c->name);
        g_autofree char *ids_name = g_strdup_printf("%s.ids", c->name);
        const int64_t nshape[4] = { c->batch, m->channels, m->image_size, m->image_size };
        const int64_t ishape[2] = { 2, m->context_length };
        g_assert_true(scf_safetensors_writer_add(w, noise_name, SCF_DTYPE_F32, 4, nshape, noise,
                                                 &error));
        g_assert_true(scf_safetensors_writer_add_raw(w, ids_name, SCF_ST_I32, 2, ishape, ids,
                                                     &error));
        set_meta(w, c, "prompt", c->prompt);
        set_meta(w, c, "negative", c->negative ? c->negative : "");
        set_meta_number(w, c, "steps", c->steps);
        set_meta_number(w, c, "guidance", c->guidance);
        set_meta_number(w, c, "batch", c->batch);
        set_meta_number(w, c, "velocity_sign", c->velocity_sign);
        set_meta_number(w, c, "time_scale", c->time_scale);
    }
    scf_safetensors_writer_set_metadata(w, "cases", names->str);
    gboolean ok = scf_safetensors_writer_save(w, path, &error);
    if (!ok)
        fprintf(stderr, "test-sampler: %s\n", error->message);
    g_string_free(names, TRUE);
    scf_safetensors_writer_free(w);
    scf_sampler_free(s);
    scf_model_free(m);
    return ok ? 0 : 1;
}

/* ---- the test ---- */

/* The fixture folder, or a copy of it whose config states another flow
 * convention (*tmp is then that copy, to remove). */
static scf_model *case_model(const mfx *f, const sampler_case *c, char **tmp)
{
    *tmp = NULL;
    if (c->velocity_sign == FIXTURE_SIGN && c->time_scale == FIXTURE_TIME_SCALE)
        return load_model(f->dir);
    *tmp = chk_tmpdir("models");
    g_autofree char *src = mfx_file(f, SCF_MODEL_CONFIG);
    g_autofree char *dst = g_build_filename(*tmp, SCF_MODEL_CONFIG, NULL);
    g_autofree char *flow = g_strdup_printf("{\"velocity_sign\": %g, \"time_scale\": %g}",
                                            c->velocity_sign, c->time_scale);
    mfx_edit_config(src, dst, "flow", flow);
    const char *copied[] = { SCF_MODEL_WEIGHTS, SCF_WORD_VOCAB_FILE };
    for (size_t i = 0; i < G_N_ELEMENTS(copied); i++) {
        g_autofree char *from = mfx_file(f, copied[i]);
        g_autofree char *to = g_build_filename(*tmp, copied[i], NULL);
        g_autofree char *data = NULL;
        gsize len = 0;
        GError *error = NULL;
        g_assert_true(g_file_get_contents(from, &data, &len, &error));
        g_assert_true(g_file_set_contents(to, data, (gssize)len, &error));
        g_assert_no_error(error);
    }
    return load_model(*tmp);
}

/* The noise and ids PyTorch started from must be what the engine makes now. */
static void check_inputs(const mfx *f, scf_sampler *s, const scf_model *m, const sampler_case *c)
{
    g_autofree char *noise_name = g_strdup_printf("%s.noise", c->name);
    g_autofree char *ids_name = g_strdup_printf("%s.ids", c->name);
    scf_tensor noise = mfx_tensor(f->inputs, noise_name);
    g_autofree float *ours = case_noise(s, m, c);
    g_assert_cmpuint(scf_tensor_numel(&noise), ==, (size_t)c->batch * image_numel(m));
    if (memcmp(noise.data, ours, scf_tensor_numel(&noise) * sizeof(float)) != 0)
        g_error("%s: the engine's noise for seed %" G_GUINT64_FORMAT " changed; regenerate "
                "the fixture with tools/make-fixtures", noise_name, c->seed);
    g_free(noise.data);
    size_t n = 0;
    g_autofree int32_t *ids = mfx_ints(f->inputs, ids_name, &n);
    g_autofree int32_t *our_ids = case_ids(m, c);
    g_assert_cmpuint(n, ==, 2 * (size_t)m->context_length);
    if (memcmp(ids, our_ids, n * sizeof(int32_t)) != 0)
        g_error("%s: the tokenizer's ids for \"%s\" / \"%s\" changed; regenerate the fixture "
                "with tools/make-fixtures", ids_name, c->prompt, c->negative ? c->negative : "");
}

typedef struct {
    int calls, steps;
} step_count;

static gboolean count_step(int step, int steps, gpointer user)
{
    step_count *sc = user;
    g_assert_cmpint(step, ==, sc->calls + 1);
    g_assert_cmpint(steps, ==, sc->steps);
    sc->calls++;
    return TRUE;
}

/* Largest difference in 8-bit levels between got and ref, image by image as
 * generation converts them. Also counts the reference values inside (-1, 1),
 * which quantisation does not clamp. */
static int level_diff(const scf_model *m, const float *got, const float *ref, int batch,
                      size_t *inside)
{
    const size_t img = image_numel(m);
    int worst = 0;
    for (int b = 0; b < batch; b++) {
        GError *error = NULL;
        g_autoptr(scf_image) a = scf_image_from_chw(got + b * img, m->channels, m->image_size,
                                                    m->image_size, &error);
        g_autoptr(scf_image) r = scf_image_from_chw(ref + b * img, m->channels, m->image_size,
                                                    m->image_size, &error);
        g_assert_no_error(error);
        for (size_t i = 0; i < img; i++)
            worst = MAX(worst, abs((int)a->data[i] - (int)r->data[i]));
    }
    *inside = 0;
    for (size_t i = 0; i < (size_t)batch * img; i++)
        *inside += ref[i] > -1.0f && ref[i] < 1.0f;
    return worst;
}

static void test_case(gconstpointer data)
{
    const sampler_case *c = data;
    mfx f;
    mfx_open(&f, FIXTURE);
    char *tmp;
    scf_model *m = case_model(&f, c, &tmp);
    g_assert_cmpfloat(m->velocity_sign, ==, c->velocity_sign);
    g_assert_cmpfloat(m->time_scale, ==, c->time_scale);
    scf_sampler *s = scf_sampler_new(m);
    check_inputs(&f, s, m, c);

    const size_t n = (size_t)c->batch * image_numel(m);
    g_autofree float *out = g_new(float, n);
    scf_sample_request r = { c->prompt, c->negative, c->steps, c->guidance, c->seed, c->batch };
    step_count sc = { 0, c->steps };
    GError *error = NULL;
    g_assert_true(scf_sampler_run(s, &r, out, count_step, &sc, &error));
    g_assert_no_error(error);
    g_assert_cmpint(sc.calls, ==, c->steps);

    g_autofree char *key = g_strdup_printf("%s.out", c->name);
    g_assert_true(mfx_check(&f, key, out, n, FLOAT_RTOL));
    scf_tensor ref = mfx_tensor(f.expected, key);
    size_t inside = 0;
    int levels = level_diff(m, out, ref.data, c->batch, &inside);
    g_test_message("%s: 8-bit difference %d level(s); %zu of %zu reference values unclamped",
                   c->name, levels, inside, n);
    g_assert_cmpint(levels, <=, MAX_LEVEL_DIFF);
    /* the 8-bit check means little if quantisation clamps most values */
    g_assert_cmpuint(inside, >=, n / 4);
    g_free(ref.data);

    scf_sampler_free(s);
    scf_model_free(m);
    if (tmp)
        chk_tmpdir_free(tmp);
    mfx_close(&f);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--export") == 0)
        return export_inputs(argv[2], argv[3]);
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *path = g_strdup_printf("/sampler/euler/%s", cases[i].name);
        g_test_add_data_func(path, &cases[i], test_case);
    }
    return g_test_run();
}

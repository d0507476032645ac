/* One SCFlow distillation iteration of core/distill.c against its PyTorch
 * twin (tools/distill_twin.py: diffusers' UNet2DConditionModel, transformers'
 * CLIPTextModel) on the fixture tests/fixtures/models/distill-tiny: the same
 * tiny teacher, the same state (student, target EMA and discriminator all
 * different, as after some training: it is written as a checkpoint and
 * resumed), the same draws (samples 0 and 1 fall under the truncation time,
 * 2 and 3 do not) and the shipped defaults. At step 499 the GAN and the
 * bidirectional loss are still warming up; at 500 every term is on. The
 * third case is step 500 with the unconditional ResNet discriminator and
 * R1 (distill-resnet.json, R1 every 4th step): the twin takes R1's gradient
 * by double backward, ours by the central difference of discriminator.h.
 *
 * Tolerances. The twin runs in float64 on the exact fp32 inputs and weights,
 * so the difference is our fp32 error alone (and the fp32 timestep embedding
 * both sides form). Loss terms: rtol 1e-4, each a mean over thousands of
 * elements through up to four UNet passes whose outputs test-unet holds to
 * 1e-4 of their scale; the discriminator's mean scores are judged together,
 * relative to the larger (the fake score alone sits near zero). Found: about
 * 1e-7, while a generator term taken through the discriminator before its
 * AdamW step is off by 2e-3, so the bound has room both ways. Gradients: the
 * clipped gradients both AdamW steps took, 1e-3 in chk_close's measure as
 * test-unet's (found: 5e-6; with R1's central difference, 9e-6, while R1
 * moves those gradients by 0.6). */
#include "check.h"
#include "distill.h"
#include "error.h"
#include "image.h"
#include "model-fixture.h"
#include "run.h"
#include "tokenizer.h"
#include <math.h>
#include <string.h>

#define LOSS_RTOL 1e-4
#define GRAD_RTOL 1e-3
/* core/distill.c's checkpoint format */
#define CHECKPOINT_KIND "scflow-distill-checkpoint"
#define BATCH 4

typedef struct {
    const char *name;       /* "off", "on" or "resnet": the expected values' prefix */
    gboolean gan_on;
    const char *config;     /* the fixture's distillation config */
    const char *disc;       /* the prefix of its discriminator's state */
    const char *step;       /* the metadata key of its step */
} phase;

typedef struct {
    mfx f;
    char *work, *teacher, *run;
    scf_tensor x0, eps, noise, u[3];
    const char *captions[BATCH];
    scf_distill_draws draws;
} twin;

/* A data folder of one captioned image: the distiller needs one to open,
 * though the draws replace its batches. */
static char *write_data(const char *work)
{
    char *dir = g_build_filename(work, "data", NULL);
    g_assert_cmpint(g_mkdir_with_parents(dir, 0755), ==, 0);
    GError *error = NULL;
    g_autoptr(scf_image) img = scf_image_new(8, 8, 3, &error);
    g_assert_no_error(error);
    g_autofree char *png = g_build_filename(dir, "a.png", NULL);
    g_autofree char *txt = g_build_filename(dir, "a.txt", NULL);
    g_assert_true(scf_png_write(png, img, NULL, &error));
    g_assert_true(g_file_set_contents(txt, "red heart", -1, &error));
    g_assert_no_error(error);
    return dir;
}

static void twin_open(twin *t)
{
    memset(t, 0, sizeof *t);
    mfx_open(&t->f, "distill-tiny");
    t->work = chk_tmpdir("models");
    t->teacher = mfx_file(&t->f, "teacher");
    t->run = g_build_filename(t->work, "run", NULL);
    const scf_safetensors *in = t->f.inputs;
    t->x0 = mfx_tensor(in, "x0");
    t->eps = mfx_tensor(in, "eps");
    t->noise = mfx_tensor(in, "noise");
    t->u[0] = mfx_tensor(in, "u_tau");
    t->u[1] = mfx_tensor(in, "u_down");
    t->u[2] = mfx_tensor(in, "u_up");
    for (int b = 0; b < BATCH; b++) {
        g_autofree char *key = g_strdup_printf("caption.%d", b);
        t->captions[b] = scf_safetensors_metadata(in, key);
        g_assert_nonnull(t->captions[b]);
    }
    t->draws = (scf_distill_draws){ t->x0.data, t->captions, t->eps.data, t->noise.data,
                                    t->u[0].data, t->u[1].data, t->u[2].data };
}

static void twin_close(twin *t)
{
    scf_tensor *ts[] = { &t->x0, &t->eps, &t->noise, &t->u[0], &t->u[1], &t->u[2] };
    for (size_t i = 0; i < G_N_ELEMENTS(ts); i++)
        g_free(ts[i]->data);
    chk_tmpdir_free(t->work);
    g_free(t->teacher);
    g_free(t->run);
    mfx_close(&t->f);
}

/* The twin's token ids are those of our tokenizer: the text encoders of
 * both sides see the same prompts. */
static void check_tokens(const twin *t)
{
    GError *error = NULL;
    scf_tokenizer *tok = scf_tokenizer_load(t->teacher, &error);
    g_assert_no_error(error);
    size_t n, n_empty;
    g_autofree int32_t *ids = mfx_ints(t->f.inputs, "ids", &n);
    g_autofree int32_t *empty = mfx_ints(t->f.inputs, "ids_empty", &n_empty);
    const int T = (int)(n / BATCH);
    int32_t got[64];
    g_assert_cmpint(T, <=, G_N_ELEMENTS(got));
    for (int b = 0; b < BATCH; b++) {
        g_assert_true(scf_tokenizer_encode(tok, t->captions[b], got, T, NULL, &error));
        g_assert_cmpmem(got, T * sizeof *got, ids + (size_t)b * T, T * sizeof *got);
    }
    g_assert_true(scf_tokenizer_encode(tok, "", got, T, NULL, &error));
    g_assert_cmpmem(got, T * sizeof *got, empty, T * sizeof *got);
    scf_tokenizer_free(tok);
}

/* A buffer of p's layout in device memory: base (host, or zeros when NULL)
 * with, when from is not NULL, every entry whose name starts with part
 * replaced by the fixture's tensor from + name. */
static float *state_buffer(const twin *t, const scf_params *p, const float *base,
                           const char *from, const char *part)
{
    float *host = base ? g_memdup2(base, p->total * sizeof(float)) : g_new0(float, p->total);
    for (int i = 0; from && i < scf_params_count(p); i++) {
        const scf_param_entry *e = scf_params_entry(p, i);
        if (!g_str_has_prefix(e->name, part))
            continue;
        g_autofree char *name = g_strconcat(from, e->name, NULL);
        scf_tensor v = mfx_tensor(t->f.inputs, name);
        g_assert_cmpuint(scf_tensor_numel(&v), ==, e->numel);
        memcpy(host + e->offset, v.data, e->numel * sizeof(float));
        g_free(v.data);
    }
    float *dev = p->be->alloc(p->be, p->total * sizeof(float));
    p->be->upload(p->be, dev, host, p->total * sizeof(float));
    g_free(host);
    return dev;
}

/* A run at the fixture's state and step: a new run of the fixture's
 * teacher and config, given the state as a checkpoint, resumed. */
static scf_distiller *resume_at(const twin *t, const phase *ph, int64_t step)
{
    scf_backend *be = chk_cpu();
    GError *error = NULL;
    g_autofree char *data = write_data(t->work);
    g_autofree char *config = mfx_file(&t->f, ph->config);
    scf_distiller *d = scf_distiller_new(t->run, t->teacher, data, config, NULL, be, &error);
    g_assert_no_error(error);
    scf_params *sp = scf_distiller_student_params(d), *dp = scf_distiller_discriminator_params(d);
    /* the text encoder and the evaluation EMA stay the teacher's */
    float *teacher = g_new(float, sp->total);
    be->download(be, teacher, sp->data, sp->total * sizeof(float));
    g_autofree char *disc = g_strconcat(ph->disc, "discriminator.", NULL);
    g_autofree char *disc_m = g_strconcat(ph->disc, "disc_adam_m.", NULL);
    g_autofree char *disc_v = g_strconcat(ph->disc, "disc_adam_v.", NULL);
    scf_run_buffer bufs[] = {
        { "student", state_buffer(t, sp, teacher, "student.", "unet."), sp->total },
        { "adam_m", state_buffer(t, sp, NULL, NULL, NULL), sp->total },
        { "adam_v", state_buffer(t, sp, NULL, NULL, NULL), sp->total },
        { "target_ema", state_buffer(t, sp, teacher, "target_ema.", "unet."), sp->total },
        { "eval_ema", state_buffer(t, sp, teacher, NULL, NULL), sp->total },
        { "discriminator", state_buffer(t, dp, NULL, disc, ""), dp->total },
        { "disc_adam_m", state_buffer(t, dp, NULL, disc_m, ""), dp->total },
        { "disc_adam_v", state_buffer(t, dp, NULL, disc_v, ""), dp->total },
    };
    g_assert_true(scf_run_save_checkpoint(t->run, CHECKPOINT_KIND, step, be, bufs,
                                          G_N_ELEMENTS(bufs), 1, &error));
    g_assert_no_error(error);
    for (size_t i = 0; i < G_N_ELEMENTS(bufs); i++)
        be->free(be, bufs[i].data);
    g_free(teacher);
    scf_distiller_free(d);
    d = scf_distiller_resume(t->run, be, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_distiller_step(d), ==, step);
    return d;
}

static double expected_scalar(const twin *t, const phase *ph, const char *term)
{
    g_autofree char *name = ph ? g_strdup_printf("%s.loss.%s", ph->name, term)
                               : g_strdup_printf("loss.%s", term);
    scf_tensor v = mfx_tensor(t->f.expected, name);
    double x = v.data[0];
    g_free(v.data);
    return x;
}

static gboolean check_term(const twin *t, const phase *ph, const char *term, double got)
{
    double ref = expected_scalar(t, ph, term);
    double err = fabs(got - ref) / fabs(ref);
    g_test_message("%s %s: ours %.9g, twin %.9g, relative error %.2e", ph->name, term, got, ref,
                   err);
    if (!(err <= LOSS_RTOL))
        g_printerr("%s.loss.%s: ours %.9g, twin %.9g (relative error %.2e > %.0e)\n", ph->name,
                   term, got, ref, err, LOSS_RTOL);
    return err <= LOSS_RTOL;
}

static gboolean all_zero(const scf_params *p)
{
    float *g = g_new(float, p->total);
    p->be->download(p->be, g, p->grad, p->total * sizeof(float));
    gboolean zero = TRUE;
    for (size_t i = 0; i < p->total; i++)
        zero &= g[i] == 0.0f;
    g_free(g);
    return zero;
}

/* R1's value, and that its part of the discriminator's gradients (which
 * the check above held to GRAD_RTOL, though ours come from a central
 * difference and the twin's from a double backward) is far above that
 * tolerance: without R1 they would fail the check. */
static gboolean check_r1(const twin *t, const phase *ph, const scf_params *dp, double got)
{
    gboolean ok = check_term(t, ph, "d_r1", got);
    double moved = 0;
    for (int i = 0; i < scf_params_count(dp); i++) {
        const scf_param_entry *e = scf_params_entry(dp, i);
        g_autofree char *with = g_strdup_printf("grad.param.%s.disc.%s", ph->name, e->name);
        g_autofree char *without = g_strdup_printf("grad.param.%s_without_r1.disc.%s", ph->name,
                                                   e->name);
        scf_tensor a = mfx_tensor(t->f.expected, with), b = mfx_tensor(t->f.expected, without);
        moved = fmax(moved, chk_error(b.data, a.data, e->numel));
        g_free(a.data);
        g_free(b.data);
    }
    g_test_message("R1 moves the discriminator's gradients by %.2e (tolerance %.0e)", moved,
                   GRAD_RTOL);
    g_assert_cmpfloat(moved, >, 30 * GRAD_RTOL);
    return ok;
}

static void test_phase(gconstpointer data)
{
    const phase *ph = data;
    twin t;
    twin_open(&t);
    check_tokens(&t);
    g_autofree char *step_key = g_strdup_printf("step.%s", ph->step);
    int64_t step = g_ascii_strtoll(scf_safetensors_metadata(t.f.inputs, step_key), NULL, 10);
    scf_distiller *d = resume_at(&t, ph, step);
    const scf_distill_config *c = scf_distiller_config(d);
    g_assert_cmpint(step >= c->warmup_adv && step >= c->warmup_inv, ==, ph->gan_on);

    /* a draw outside [0, 1] is refused by name, and nothing happens */
    scf_distill_losses got;
    GError *error = NULL;
    float bad[BATCH];
    memcpy(bad, t.u[1].data, sizeof bad);
    bad[2] = 1.5f;
    scf_distill_draws wrong = t.draws;
    wrong.u_down = bad;
    g_assert_false(scf_distiller_step_with(d, &wrong, &got, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_INVALID);
    g_assert_nonnull(strstr(error->message, "u_down[2]"));
    g_clear_error(&error);
    g_assert_cmpint(scf_distiller_step(d), ==, step);

    g_assert_true(scf_distiller_step_with(d, &t.draws, &got, &error));
    g_assert_no_error(error);
    g_assert_cmpint(scf_distiller_step(d), ==, step + 1);

    gboolean ok = check_term(&t, ph, "con", got.con) & check_term(&t, ph, "reflow", got.reflow) &
                  check_term(&t, ph, "total", got.total) &
                  check_term(&t, ph, "grad_norm", got.grad_norm);
    /* the draws truncate: without the mask the consistency loss differs by
     * far more than the tolerance (so a wrong mask cannot pass) */
    double con = expected_scalar(&t, ph, "con"), untruncated = expected_scalar(&t, NULL, "con_untruncated");
    g_assert_cmpfloat(fabs(con - untruncated), >, 100 * LOSS_RTOL * con);
    scf_params *sp = scf_distiller_student_params(d), *dp = scf_distiller_discriminator_params(d);
    g_autofree char *student = g_strdup_printf("%s.student.", ph->name);
    ok &= mfx_check_param_grads(&t.f, sp, student, GRAD_RTOL);
    if (ph->gan_on) {
        ok &= check_term(&t, ph, "inv", got.inv) & check_term(&t, ph, "adv", got.adv) &
              check_term(&t, ph, "d_loss", got.d_loss);
        const float scores[] = { (float)got.d_real, (float)got.d_fake };
        const float ref[] = { (float)expected_scalar(&t, ph, "d_real"),
                              (float)expected_scalar(&t, ph, "d_fake") };
        ok &= chk_close("discriminator scores (real, fake)", scores, ref, 2, LOSS_RTOL);
        g_autofree char *disc = g_strdup_printf("%s.disc.", ph->name);
        ok &= mfx_check_param_grads(&t.f, dp, disc, GRAD_RTOL);
        if (c->r1_gamma > 0)
            ok &= check_r1(&t, ph, dp, got.d_r1);
        else
            g_assert_cmpfloat(got.d_r1, ==, 0);
    } else {
        /* warming up: no inverse or GAN term, no discriminator step */
        g_assert_cmpfloat(got.inv, ==, 0);
        g_assert_cmpfloat(got.adv, ==, 0);
        g_assert_cmpfloat(got.d_loss, ==, 0);
        g_assert_true(all_zero(dp));
    }
    g_assert_true(ok);
    scf_distiller_free(d);
    twin_close(&t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    static const phase warmup = { "off", FALSE, "distill.json", "", "off" },
                       full = { "on", TRUE, "distill.json", "", "on" },
                       resnet = { "resnet", TRUE, "distill-resnet.json", "resnet.", "on" };
    g_test_add_data_func("/distill-twin/warm-up", &warmup, test_phase);
    g_test_add_data_func("/distill-twin/full", &full, test_phase);
    g_test_add_data_func("/distill-twin/resnet-r1", &resnet, test_phase);
    return g_test_run();
}

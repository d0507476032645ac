/* The UNet against diffusers' UNet2DConditionModel on the fixtures of
 * tools/model_fixtures.py: folders saved by save_pretrained load by name,
 * the output matches PyTorch's float64 reference to 1e-4 and the gradients
 * of a fixed scalar loss (inputs and every parameter) to 1e-3, fp16 weights
 * load, and bad folders (missing or misshapen tensors, unknown block types,
 * unsupported config values) fail with a message naming the culprit.
 *
 * Tolerances: chk_close's measure is relative to each element plus the
 * tensor's largest; the reference has no rounding of its own, so these bound
 * our fp32 error through ~60 kernels (forward) and twice that (backward). */
#include "unet.h"
#include "error.h"
#include "check.h"
#include "model-fixture.h"
#include <string.h>

#define FORWARD_RTOL 1e-4
#define GRAD_RTOL 1e-3

#define WEIGHTS "diffusion_pytorch_model.safetensors"

static gpointer unet_build(scf_config *c, scf_params *p, GError **error)
{
    scf_unet_config cfg;
    return scf_unet_config_read(&cfg, c, error) ? scf_unet_new(&cfg, p) : NULL;
}

/* A diffusers folder: config.json and weights named as saved. */
static const mfx_model_kind unet_kind = { unet_build, (GDestroyNotify)scf_unet_free, NULL };

/* A fixture with its model loaded from config.json + weights, its inputs
 * read, and a graph to run them in. */
typedef struct {
    mfx f;
    mfx_model m;
    scf_tensor x, t, context, r;
    scf_graph *g;
} fixture;

static void fixture_open(fixture *fx, const char *name, const char *weights, gboolean with_grad)
{
    mfx_open(&fx->f, name);
    g_autofree char *config_path = mfx_file(&fx->f, "config.json");
    g_autofree char *weights_path = mfx_file(&fx->f, weights);
    GError *error = NULL;
    g_assert_true(mfx_model_load(&fx->m, &unet_kind, config_path, weights_path, with_grad,
                                 &error));
    g_assert_no_error(error);
    fx->x = mfx_tensor(fx->f.inputs, "x");
    fx->t = mfx_tensor(fx->f.inputs, "t");
    fx->context = mfx_tensor(fx->f.inputs, "context");
    fx->r = mfx_tensor(fx->f.inputs, "r");
    fx->g = scf_graph_new(chk_cpu());
}

static void fixture_close(fixture *fx)
{
    scf_graph_free(fx->g);
    g_free(fx->x.data);
    g_free(fx->t.data);
    g_free(fx->context.data);
    g_free(fx->r.data);
    mfx_model_free(&fx->m);
    mfx_close(&fx->f);
}

typedef scf_var *(*unet_pass)(scf_unet *u, scf_graph *g, scf_var *x, scf_var *t,
                              scf_var *context);

/* pass (the forward pass or the encoder half) on x and the fixture's t and
 * context, none of them taking gradients. */
static scf_var *run(fixture *fx, unet_pass pass, scf_tensor x)
{
    return pass(fx->m.model, fx->g, scf_graph_wrap(fx->g, x), scf_graph_wrap(fx->g, fx->t),
                scf_graph_wrap(fx->g, fx->context));
}

/* The forward pass on the fixture inputs; x and context take gradients. */
static scf_var *forward(fixture *fx, scf_var **x, scf_var **context)
{
    scf_graph *g = fx->g;
    *x = scf_graph_wrap(g, fx->x);
    *context = scf_graph_wrap(g, fx->context);
    (*x)->requires_grad = (*context)->requires_grad = TRUE;
    scf_var *out = scf_unet_forward(fx->m.model, g, *x, scf_graph_wrap(g, fx->t), *context);
    GError *error = NULL;
    g_assert_true(scf_graph_check(g, &error));
    g_assert_no_error(error);
    g_assert_nonnull(out);
    g_assert_true(scf_tensor_same_shape(&out->value, &fx->r));
    return out;
}

static void test_parity(gconstpointer data)
{
    fixture fx;
    fixture_open(&fx, data, WEIGHTS, TRUE);
    scf_var *x, *context;
    scf_var *out = forward(&fx, &x, &context);
    size_t n = scf_tensor_numel(&out->value);
    g_assert_true(mfx_check(&fx.f, "out", out->value.data, n, FORWARD_RTOL));

    scf_graph_backward(fx.g, mfx_dot_loss(fx.g, out, fx.r.data));
    g_assert_true(scf_graph_check(fx.g, NULL));
    g_assert_true(mfx_check(&fx.f, "grad.x", x->grad, scf_tensor_numel(&fx.x), GRAD_RTOL));
    g_assert_true(mfx_check(&fx.f, "grad.context", context->grad, scf_tensor_numel(&fx.context),
                            GRAD_RTOL));
    g_assert_true(mfx_check_param_grads(&fx.f, fx.m.p, "", GRAD_RTOL));

    /* Frozen weights (sampling) take the forward-only path of every op. */
    float *trained = g_memdup2(out->value.data, n * sizeof(float));
    scf_params_set_trainable(fx.m.p, FALSE);
    scf_graph_reset(fx.g);
    scf_var *frozen = run(&fx, scf_unet_forward, fx.x);
    g_assert_nonnull(frozen);
    g_assert_false(frozen->requires_grad);
    g_assert_true(chk_close("frozen forward", frozen->value.data, trained, n, 1e-6));

    g_free(trained);
    fixture_close(&fx);
}

/* pass on the inputs of fixture name with weights matches its expected
 * tensor. */
static void check_pass(const char *name, const char *weights, unet_pass pass,
                       const char *expected)
{
    fixture fx;
    fixture_open(&fx, name, weights, FALSE);
    scf_var *out = run(&fx, pass, fx.x);
    g_assert_true(scf_graph_check(fx.g, NULL));
    g_assert_nonnull(out);
    g_assert_true(mfx_check(&fx.f, expected, out->value.data, scf_tensor_numel(&out->value),
                            FORWARD_RTOL));
    fixture_close(&fx);
}

/* The encoder half (conv_in, down blocks, mid block) as the discriminator
 * uses it, against the mid block's output in diffusers. */
static void test_encode(gconstpointer data)
{
    check_pass(data, WEIGHTS, scf_unet_encode, "encode");
}

/* A size the levels cannot halve, or the wrong channel count, is an error of
 * the pass naming the input, not a crash deep in the skip connections. */
static void test_bad_input(void)
{
    fixture fx;
    fixture_open(&fx, "unet-full", WEIGHTS, FALSE);
    static const int64_t shapes[][4] = { { 2, 5, 8, 10 }, { 2, 4, 8, 12 } };
    for (size_t i = 0; i < G_N_ELEMENTS(shapes); i++) {
        scf_graph_reset(fx.g);
        scf_tensor x = { fx.x.data, 4, { 0 } };   /* both fit in the fixture's [2, 5, 8, 12] */
        memcpy(x.shape, shapes[i], sizeof x.shape);
        g_assert_null(run(&fx, scf_unet_forward, x));
        GError *error = NULL;
        g_assert_false(scf_graph_check(fx.g, &error));
        char s[64];
        mfx_assert_error(error, scf_tensor_shape_str(&x, s, sizeof s), "[B, 5, H, W]",
                         "divisible by 4", NULL);
    }
    fixture_close(&fx);
}

/* diffusers' fp16 variant: the output equals that of the fp16-rounded weights
 * (computed in float64). */
static void test_fp16_weights(void)
{
    check_pass("unet-tiny", "diffusion_pytorch_model.fp16.safetensors", scf_unet_forward,
               "out.fp16");
}

/* ---- bad folders: each edit of a fixture copy must fail by name ---- */

static const mfx_config_case config_cases[] = {
    { "down_block_types", "[\"CrossAttnDownBlock2D\", \"AttnDownBlock2D\", \"DownBlock2D\"]",
      { "down_block_types", "AttnDownBlock2D" } },
    { "up_block_types", "[\"CrossAttnUpBlock2D\", \"UpBlock2D\", \"DownBlock2D\"]",
      { "up_block_types", "DownBlock2D" } },
    { "mid_block_type", "\"UNetMidBlock2DSimpleCrossAttn\"",
      { "mid_block_type", "UNetMidBlock2DSimpleCrossAttn" } },
    { "up_block_types", "[\"CrossAttnUpBlock2D\", \"UpBlock2D\"]", { "up_block_types", "3" } },
    { "act_fn", "\"gelu\"", { "act_fn", "gelu" } },
    { "resnet_time_scale_shift", "\"scale_shift\"", { "resnet_time_scale_shift", "scale_shift" } },
    { "class_embed_type", "\"timestep\"", { "class_embed_type" } },
    { "attention_head_dim", "[2, 5]", { "attention_head_dim", "3" } },
    { "attention_head_dim", "[2, 5, 3]", { "attention_head_dim", "20" } },
    { "norm_num_groups", "4", { "norm_num_groups", "10" } },
    { "layers_per_block", "\"two\"", { "layers_per_block", "string" } },
    { "layers_per_block", "[1, 8, 1]", { "layers_per_block", "out of range" } },
    { "block_out_channels", NULL, { "block_out_channels", "missing" } },
    { "downsample_padding", "0", { "downsample_padding" } },
};

static void test_bad_config(void)
{
    mfx_check_bad_folders(&unet_kind, "unet-full", WEIGHTS, config_cases,
                          G_N_ELEMENTS(config_cases), NULL, 0);
}

static void test_bad_weights(void)
{
    static const mfx_weights_case cases[] = {
        { MFX_DROP, "mid_block.attentions.0.transformer_blocks.1.attn2.to_k.weight",
          { "missing", "mid_block.attentions.0.transformer_blocks.1.attn2.to_k.weight" } },
        { MFX_SHRINK, "up_blocks.1.resnets.2.conv_shortcut.weight",
          { "up_blocks.1.resnets.2.conv_shortcut.weight", "[14, 25, 1, 1]", "[15, 25, 1, 1]" } },
        { MFX_PREFIX, "unet.", { "missing", "conv_in.weight" } },
    };
    mfx_check_bad_folders(&unet_kind, "unet-full", WEIGHTS, NULL, 0, cases, G_N_ELEMENTS(cases));
}

/* A tensor the model does not have is an error, not silently ignored: config
 * and weights must describe one model. Without the mid block (null, as
 * diffusers allows) every other shape stays the same. */
static void test_unused_tensor(void)
{
    mfx f;
    mfx_open(&f, "unet-full");
    g_autofree char *config_path = mfx_file(&f, "config.json");
    g_autofree char *weights_path = mfx_file(&f, WEIGHTS);
    char *dir = chk_tmpdir("models");
    g_autofree char *edited = g_build_filename(dir, "config.json", NULL);
    mfx_edit_config(config_path, edited, "mid_block_type", "null");
    mfx_model m;
    GError *error = NULL;
    g_assert_false(mfx_model_load(&m, &unet_kind, edited, weights_path, FALSE, &error));
    mfx_assert_error(error, weights_path, "'mid_block.", "not a parameter", NULL);
    chk_tmpdir_free(dir);
    mfx_close(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/unet/parity/tiny", "unet-tiny", test_parity);
    g_test_add_data_func("/unet/parity/full", "unet-full", test_parity);
    g_test_add_data_func("/unet/encode/tiny", "unet-tiny", test_encode);
    g_test_add_data_func("/unet/encode/full", "unet-full", test_encode);
    g_test_add_func("/unet/fp16-weights", test_fp16_weights);
    g_test_add_func("/unet/bad-input", test_bad_input);
    g_test_add_func("/unet/bad-config", test_bad_config);
    g_test_add_func("/unet/bad-weights", test_bad_weights);
    g_test_add_func("/unet/unused-tensor", test_unused_tensor);
    return g_test_run();
}

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

typedef struct {
    scf_params *p;
    scf_unet *u;
} model;

static void model_free(model *m)
{
    scf_unet_free(m->u);
    scf_params_free(m->p);
    memset(m, 0, sizeof *m);
}

/* config.json + weights as a caller would load a diffusers folder. */
static gboolean model_load(model *m, const char *config_path, const char *weights_path,
                           gboolean with_grad, GError **error)
{
    memset(m, 0, sizeof *m);
    scf_config c;
    scf_unet_config cfg;
    if (!scf_config_load(&c, config_path, error))
        return FALSE;
    gboolean ok = scf_unet_config_read(&cfg, &c, error);
    scf_config_clear(&c);
    if (!ok)
        return FALSE;
    m->p = scf_params_new(chk_cpu());
    m->u = scf_unet_new(&cfg, m->p);
    scf_safetensors *st = NULL;
    ok = scf_params_allocate(m->p, with_grad, error) &&
         (st = scf_safetensors_open(weights_path, error)) &&
         scf_params_load(m->p, st, "", FALSE, error);
    scf_safetensors_close(st);
    if (!ok)
        model_free(m);
    return ok;
}

static void fixture_model(model *m, const mfx *f, const char *weights, gboolean with_grad)
{
    g_autofree char *config_path = mfx_file(f, "config.json");
    g_autofree char *weights_path = mfx_file(f, weights);
    GError *error = NULL;
    g_assert_true(model_load(m, config_path, weights_path, with_grad, &error));
    g_assert_no_error(error);
}

typedef struct {
    scf_tensor x, t, context, r;
} inputs;

static void inputs_read(inputs *in, const mfx *f)
{
    in->x = mfx_tensor(f->inputs, "x");
    in->t = mfx_tensor(f->inputs, "t");
    in->context = mfx_tensor(f->inputs, "context");
    in->r = mfx_tensor(f->inputs, "r");
}

static void inputs_free(inputs *in)
{
    g_free(in->x.data);
    g_free(in->t.data);
    g_free(in->context.data);
    g_free(in->r.data);
}

/* The forward pass on the fixture inputs; x and context take gradients. */
static scf_var *forward(scf_graph *g, model *m, inputs *in, scf_var **x, scf_var **context)
{
    *x = scf_graph_wrap(g, in->x);
    *context = scf_graph_wrap(g, in->context);
    (*x)->requires_grad = (*context)->requires_grad = TRUE;
    scf_var *out = scf_unet_forward(m->u, g, *x, scf_graph_wrap(g, in->t), *context);
    GError *error = NULL;
    g_assert_true(scf_graph_check(g, &error));
    g_assert_no_error(error);
    g_assert_nonnull(out);
    g_assert_true(scf_tensor_same_shape(&out->value, &in->r));
    return out;
}

static void test_parity(gconstpointer data)
{
    mfx f;
    mfx_open(&f, data);
    model m;
    fixture_model(&m, &f, "diffusion_pytorch_model.safetensors", TRUE);
    inputs in;
    inputs_read(&in, &f);
    scf_graph *g = scf_graph_new(chk_cpu());
    scf_var *x, *context;
    scf_var *out = forward(g, &m, &in, &x, &context);
    size_t n = scf_tensor_numel(&out->value);
    g_assert_true(mfx_check(&f, "out", out->value.data, n, FORWARD_RTOL));

    scf_graph_backward(g, mfx_dot_loss(g, out, in.r.data));
    g_assert_true(scf_graph_check(g, NULL));
    g_assert_true(mfx_check(&f, "grad.x", x->grad, scf_tensor_numel(&in.x), GRAD_RTOL));
    g_assert_true(mfx_check(&f, "grad.context", context->grad, scf_tensor_numel(&in.context),
                            GRAD_RTOL));
    g_assert_true(mfx_check_param_grads(&f, m.p, "", GRAD_RTOL));

    /* Frozen weights (sampling) take the forward-only path of every op. */
    float *trained = g_memdup2(out->value.data, n * sizeof(float));
    scf_params_set_trainable(m.p, FALSE);
    scf_graph_reset(g);
    scf_var *frozen = scf_unet_forward(m.u, g, scf_graph_wrap(g, in.x), scf_graph_wrap(g, in.t),
                                       scf_graph_wrap(g, in.context));
    g_assert_nonnull(frozen);
    g_assert_false(frozen->requires_grad);
    g_assert_true(chk_close("frozen forward", frozen->value.data, trained, n, 1e-6));

    g_free(trained);
    scf_graph_free(g);
    inputs_free(&in);
    model_free(&m);
    mfx_close(&f);
}

/* The encoder half (conv_in, down blocks, mid block) as the discriminator
 * uses it, against the mid block's output in diffusers. */
static void test_encode(gconstpointer data)
{
    mfx f;
    mfx_open(&f, data);
    model m;
    fixture_model(&m, &f, "diffusion_pytorch_model.safetensors", FALSE);
    inputs in;
    inputs_read(&in, &f);
    scf_graph *g = scf_graph_new(chk_cpu());
    scf_var *h = scf_unet_encode(m.u, g, scf_graph_wrap(g, in.x), scf_graph_wrap(g, in.t),
                                 scf_graph_wrap(g, in.context));
    g_assert_true(scf_graph_check(g, NULL));
    g_assert_nonnull(h);
    g_assert_true(mfx_check(&f, "encode", h->value.data, scf_tensor_numel(&h->value),
                            FORWARD_RTOL));
    scf_graph_free(g);
    inputs_free(&in);
    model_free(&m);
    mfx_close(&f);
}

/* A size the levels cannot halve, or the wrong channel count, is an error of
 * the pass naming the input, not a crash deep in the skip connections. */
static void test_bad_input(void)
{
    mfx f;
    mfx_open(&f, "unet-full");
    model m;
    fixture_model(&m, &f, "diffusion_pytorch_model.safetensors", FALSE);
    inputs in;
    inputs_read(&in, &f);
    static const int64_t shapes[][4] = { { 2, 5, 8, 10 }, { 2, 4, 8, 12 } };
    scf_graph *g = scf_graph_new(chk_cpu());
    for (size_t i = 0; i < G_N_ELEMENTS(shapes); i++) {
        scf_graph_reset(g);
        scf_tensor x = { in.x.data, 4, { 0 } };   /* both fit in the fixture's [2, 5, 8, 12] */
        memcpy(x.shape, shapes[i], sizeof x.shape);
        g_assert_null(scf_unet_forward(m.u, g, scf_graph_wrap(g, x), scf_graph_wrap(g, in.t),
                                       scf_graph_wrap(g, in.context)));
        GError *error = NULL;
        g_assert_false(scf_graph_check(g, &error));
        char s[64];
        mfx_assert_error(error, scf_tensor_shape_str(&x, s, sizeof s), "[B, 5, H, W]",
                         "divisible by 4", NULL);
    }
    scf_graph_free(g);
    inputs_free(&in);
    model_free(&m);
    mfx_close(&f);
}

/* diffusers' fp16 variant: the output equals that of the fp16-rounded weights
 * (computed in float64). */
static void test_fp16_weights(void)
{
    mfx f;
    mfx_open(&f, "unet-tiny");
    model m;
    fixture_model(&m, &f, "diffusion_pytorch_model.fp16.safetensors", FALSE);
    inputs in;
    inputs_read(&in, &f);
    scf_graph *g = scf_graph_new(chk_cpu());
    scf_var *out = scf_unet_forward(m.u, g, scf_graph_wrap(g, in.x), scf_graph_wrap(g, in.t),
                                    scf_graph_wrap(g, in.context));
    g_assert_true(scf_graph_check(g, NULL));
    g_assert_nonnull(out);
    g_assert_true(mfx_check(&f, "out.fp16", out->value.data, scf_tensor_numel(&out->value),
                            FORWARD_RTOL));
    scf_graph_free(g);
    inputs_free(&in);
    model_free(&m);
    mfx_close(&f);
}

/* ---- bad folders: each edit of a fixture copy must fail by name ---- */

typedef struct {
    const char *key, *value;       /* config edit (value NULL: removed) */
    const char *expect[3];         /* what the message must mention */
} config_case;

static const config_case config_cases[] = {
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
    mfx f;
    mfx_open(&f, "unet-full");
    g_autofree char *config_path = mfx_file(&f, "config.json");
    g_autofree char *weights_path = mfx_file(&f, "diffusion_pytorch_model.safetensors");
    char *dir = mfx_tmpdir();
    g_autofree char *edited = g_build_filename(dir, "config.json", NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(config_cases); i++) {
        const config_case *c = &config_cases[i];
        mfx_edit_config(config_path, edited, c->key, c->value);
        model m;
        GError *error = NULL;
        g_assert_false(model_load(&m, edited, weights_path, FALSE, &error));
        mfx_assert_error(error, edited, c->expect[0], c->expect[1], c->expect[2], NULL);
    }
    mfx_tmpdir_free(dir);
    mfx_close(&f);
}

/* mfx_load_fn: loads and frees again, for the bad-input cases */
static gboolean try_load(const char *config_path, const char *weights_path, GError **error)
{
    model m;
    if (!model_load(&m, config_path, weights_path, FALSE, error))
        return FALSE;
    model_free(&m);
    return TRUE;
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
    mfx_check_bad_weights("unet-full", "diffusion_pytorch_model.safetensors", cases, G_N_ELEMENTS(cases), try_load);
}

/* A tensor the model does not have is an error, not silently ignored: config
 * and weights must describe one model. Without the mid block (null, as
 * diffusers allows) every other shape stays the same. */
static void test_unused_tensor(void)
{
    mfx f;
    mfx_open(&f, "unet-full");
    g_autofree char *config_path = mfx_file(&f, "config.json");
    g_autofree char *weights_path = mfx_file(&f, "diffusion_pytorch_model.safetensors");
    char *dir = mfx_tmpdir();
    g_autofree char *edited = g_build_filename(dir, "config.json", NULL);
    mfx_edit_config(config_path, edited, "mid_block_type", "null");
    model m;
    GError *error = NULL;
    g_assert_false(model_load(&m, edited, weights_path, FALSE, &error));
    mfx_assert_error(error, weights_path, "'mid_block.", "not a parameter", NULL);
    mfx_tmpdir_free(dir);
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

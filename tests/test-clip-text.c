/* The CLIP text encoder against transformers' CLIPTextModel on the fixtures
 * of tools/model_fixtures.py (quick_gelu and gelu): the last hidden state
 * matches PyTorch's float64 reference to 1e-4 and every parameter gradient
 * of sum(out * r) to 1e-3; files written before transformers 5 (names under
 * "text_model.") load too; bad folders and too many tokens fail by name. */
#include "clip_text.h"
#include "error.h"
#include "check.h"
#include "model-fixture.h"
#include <string.h>

#define FORWARD_RTOL 1e-4
#define GRAD_RTOL 1e-3

static gpointer clip_build(scf_config *c, scf_params *p, GError **error)
{
    scf_clip_text_config cfg;
    return scf_clip_text_config_read(&cfg, c, error) ? scf_clip_text_new(&cfg, p) : NULL;
}

/* transformers' folders: config.json and model.safetensors, the names with
 * or without "text_model.". */
static const mfx_model_kind clip_kind = { clip_build, (GDestroyNotify)scf_clip_text_free,
                                          scf_clip_text_weights_prefix };

/* The fixture's model from its config.json and weights_path (NULL: its
 * model.safetensors). */
static void fixture_model(mfx_model *m, const mfx *f, const char *weights_path,
                          gboolean with_grad)
{
    g_autofree char *config_path = mfx_file(f, "config.json");
    g_autofree char *own_weights = mfx_file(f, "model.safetensors");
    GError *error = NULL;
    g_assert_true(mfx_model_load(m, &clip_kind, config_path,
                                 weights_path ? weights_path : own_weights, with_grad, &error));
    g_assert_no_error(error);
}

/* The fixture's ids in backend memory; *B and *T from their shape. */
static int32_t *fixture_ids(const mfx *f, int *B, int *T)
{
    const scf_st_tensor *t = scf_safetensors_find(f->inputs, "ids");
    g_assert_nonnull(t);
    g_assert_cmpint(t->ndim, ==, 2);
    *B = (int)t->shape[0];
    *T = (int)t->shape[1];
    size_t n;
    g_autofree int32_t *host = mfx_ints(f->inputs, "ids", &n);
    scf_backend *be = chk_cpu();
    int32_t *ids = be->alloc(be, n * sizeof *ids);
    be->upload(be, ids, host, n * sizeof *ids);
    return ids;
}

/* Forward (and, with r, backward of sum(out * r)) on the fixture's ids. */
static scf_var *run(scf_graph *g, mfx_model *m, const mfx *f, float *r)
{
    int B, T;
    int32_t *ids = fixture_ids(f, &B, &T);
    scf_graph_reset(g);
    scf_var *out = scf_clip_text_forward(m->model, g, ids, B, T);
    if (r)
        scf_graph_backward(g, mfx_dot_loss(g, out, r));
    GError *error = NULL;
    g_assert_true(scf_graph_check(g, &error));
    g_assert_no_error(error);
    g_assert_nonnull(out);
    const scf_tensor *v = &out->value;
    g_assert_cmpint(v->ndim, ==, 3);
    g_assert_cmpint(v->shape[0], ==, B);
    g_assert_cmpint(v->shape[1], ==, T);
    g_assert_cmpint(v->shape[2], ==, scf_clip_text_get_config(m->model)->hidden_size);
    chk_cpu()->free(chk_cpu(), ids);   /* the pass and its backward are done with them */
    return out;
}

static void test_parity(gconstpointer data)
{
    mfx f;
    mfx_open(&f, data);
    mfx_model m;
    fixture_model(&m, &f, NULL, TRUE);
    scf_tensor r = mfx_tensor(f.inputs, "r");
    scf_graph *g = scf_graph_new(chk_cpu());
    scf_var *out = run(g, &m, &f, r.data);
    g_assert_true(mfx_check(&f, "out", out->value.data, scf_tensor_numel(&out->value),
                            FORWARD_RTOL));
    g_assert_true(mfx_check_param_grads(&f, m.p, "", GRAD_RTOL));
    scf_graph_free(g);
    g_free(r.data);
    mfx_model_free(&m);
    mfx_close(&f);
}

/* transformers 4 saved the same tensors under "text_model." (SD1.5's
 * text_encoder/model.safetensors). */
static void test_legacy_prefix(void)
{
    mfx f;
    mfx_open(&f, "clip-quick-gelu");
    g_autofree char *weights_path = mfx_file(&f, "model.safetensors");
    char *dir = chk_tmpdir("models");
    g_autofree char *legacy = g_build_filename(dir, "model.safetensors", NULL);
    mfx_edit_weights(weights_path, legacy, MFX_PREFIX, "text_model.");
    mfx_model m;
    fixture_model(&m, &f, legacy, FALSE);
    scf_graph *g = scf_graph_new(chk_cpu());
    scf_var *out = run(g, &m, &f, NULL);
    g_assert_true(mfx_check(&f, "out", out->value.data, scf_tensor_numel(&out->value),
                            FORWARD_RTOL));
    scf_graph_free(g);
    mfx_model_free(&m);
    chk_tmpdir_free(dir);
    mfx_close(&f);
}

static void test_bad_config(void)
{
    static const mfx_config_case cases[] = {
        { "hidden_act", "\"relu\"", { "hidden_act", "relu" } },
        { "num_attention_heads", "5", { "num_attention_heads", "32" } },
        { "vocab_size", "\"1000\"", { "vocab_size", "string" } },
        { "layer_norm_eps", "-1", { "layer_norm_eps", "out of range" } },
    };
    mfx_check_bad_folders(&clip_kind, "clip-gelu", "model.safetensors", cases,
                          G_N_ELEMENTS(cases), NULL, 0);
}

static void test_bad_weights(void)
{
    static const mfx_weights_case cases[] = {
        { MFX_DROP, "encoder.layers.1.mlp.fc2.bias",
          { "missing", "encoder.layers.1.mlp.fc2.bias" } },
        { MFX_SHRINK, "embeddings.position_embedding.weight",
          { "embeddings.position_embedding.weight", "[15, 32]", "[16, 32]" } },
        { MFX_PREFIX, "text_encoder.", { "missing", "embeddings.token_embedding.weight" } },
    };
    mfx_check_bad_folders(&clip_kind, "clip-gelu", "model.safetensors", NULL, 0, cases,
                          G_N_ELEMENTS(cases));
}

/* More tokens than position embeddings is an error of the pass, not a crash. */
static void test_too_many_tokens(void)
{
    mfx f;
    mfx_open(&f, "clip-gelu");
    mfx_model m;
    fixture_model(&m, &f, NULL, FALSE);
    int32_t ids[17] = { 0 };
    GError *error = NULL;
    scf_graph *g = scf_graph_new(chk_cpu());
    g_assert_null(scf_clip_text_forward(m.model, g, ids, 1, 17));
    g_assert_false(scf_graph_check(g, &error));
    mfx_assert_error(error, "17 tokens", "max_position_embeddings", "16", NULL);
    scf_graph_free(g);
    mfx_model_free(&m);
    mfx_close(&f);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_data_func("/clip-text/parity/quick-gelu", "clip-quick-gelu", test_parity);
    g_test_add_data_func("/clip-text/parity/gelu", "clip-gelu", test_parity);
    g_test_add_func("/clip-text/legacy-prefix", test_legacy_prefix);
    g_test_add_func("/clip-text/bad-config", test_bad_config);
    g_test_add_func("/clip-text/bad-weights", test_bad_weights);
    g_test_add_func("/clip-text/too-many-tokens", test_too_many_tokens);
    return g_test_run();
}

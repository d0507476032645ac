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

typedef struct {
    scf_params *p;
    scf_clip_text *m;
} model;

static void model_free(model *m)
{
    scf_clip_text_free(m->m);
    scf_params_free(m->p);
    memset(m, 0, sizeof *m);
}

static gboolean model_load(model *m, const char *config_path, const char *weights_path,
                           gboolean with_grad, GError **error)
{
    memset(m, 0, sizeof *m);
    scf_config c;
    scf_clip_text_config cfg;
    if (!scf_config_load(&c, config_path, error))
        return FALSE;
    gboolean ok = scf_clip_text_config_read(&cfg, &c, error);
    scf_config_clear(&c);
    if (!ok)
        return FALSE;
    m->p = scf_params_new(chk_cpu());
    m->m = scf_clip_text_new(&cfg, m->p);
    scf_safetensors *st = NULL;
    ok = scf_params_allocate(m->p, with_grad, error) &&
         (st = scf_safetensors_open(weights_path, error)) &&
         scf_params_load(m->p, st, scf_clip_text_weights_prefix(st), FALSE, error);
    scf_safetensors_close(st);
    if (!ok)
        model_free(m);
    return ok;
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
static scf_var *run(scf_graph *g, model *m, const mfx *f, float *r)
{
    int B, T;
    int32_t *ids = fixture_ids(f, &B, &T);
    scf_graph_reset(g);
    scf_var *out = scf_clip_text_forward(m->m, g, ids, B, T);
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
    g_assert_cmpint(v->shape[2], ==, scf_clip_text_get_config(m->m)->hidden_size);
    chk_cpu()->free(chk_cpu(), ids);   /* the pass and its backward are done with them */
    return out;
}

static void test_parity(gconstpointer data)
{
    mfx f;
    mfx_open(&f, data);
    g_autofree char *config_path = mfx_file(&f, "config.json");
    g_autofree char *weights_path = mfx_file(&f, "model.safetensors");
    model m;
    GError *error = NULL;
    g_assert_true(model_load(&m, config_path, weights_path, TRUE, &error));
    g_assert_no_error(error);
    scf_tensor r = mfx_tensor(f.inputs, "r");
    scf_graph *g = scf_graph_new(chk_cpu());
    scf_var *out = run(g, &m, &f, r.data);
    g_assert_true(mfx_check(&f, "out", out->value.data, scf_tensor_numel(&out->value),
                            FORWARD_RTOL));
    g_assert_true(mfx_check_param_grads(&f, m.p, "", GRAD_RTOL));
    scf_graph_free(g);
    g_free(r.data);
    model_free(&m);
    mfx_close(&f);
}

/* transformers 4 saved the same tensors under "text_model." (SD1.5's
 * text_encoder/model.safetensors). */
static void test_legacy_prefix(void)
{
    mfx f;
    mfx_open(&f, "clip-quick-gelu");
    g_autofree char *config_path = mfx_file(&f, "config.json");
    g_autofree char *weights_path = mfx_file(&f, "model.safetensors");
    char *dir = mfx_tmpdir();
    g_autofree char *legacy = g_build_filename(dir, "model.safetensors", NULL);
    mfx_edit_weights(weights_path, legacy, MFX_PREFIX, "text_model.");
    model m;
    GError *error = NULL;
    g_assert_true(model_load(&m, config_path, legacy, FALSE, &error));
    g_assert_no_error(error);
    scf_graph *g = scf_graph_new(chk_cpu());
    scf_var *out = run(g, &m, &f, NULL);
    g_assert_true(mfx_check(&f, "out", out->value.data, scf_tensor_numel(&out->value),
                            FORWARD_RTOL));
    scf_graph_free(g);
    model_free(&m);
    mfx_tmpdir_free(dir);
    mfx_close(&f);
}

static void test_bad_config(void)
{
    static const struct {
        const char *key, *value;
        const char *expect[3];
    } cases[] = {
        { "hidden_act", "\"relu\"", { "hidden_act", "relu" } },
        { "num_attention_heads", "5", { "num_attention_heads", "32" } },
        { "vocab_size", "\"1000\"", { "vocab_size", "string" } },
        { "layer_norm_eps", "-1", { "layer_norm_eps", "out of range" } },
    };
    mfx f;
    mfx_open(&f, "clip-gelu");
    g_autofree char *config_path = mfx_file(&f, "config.json");
    g_autofree char *weights_path = mfx_file(&f, "model.safetensors");
    char *dir = mfx_tmpdir();
    g_autofree char *edited = g_build_filename(dir, "config.json", NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        mfx_edit_config(config_path, edited, cases[i].key, cases[i].value);
        model m;
        GError *error = NULL;
        g_assert_false(model_load(&m, edited, weights_path, FALSE, &error));
        mfx_assert_error(error, edited, cases[i].expect[0], cases[i].expect[1],
                         cases[i].expect[2], NULL);
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
        { MFX_DROP, "encoder.layers.1.mlp.fc2.bias",
          { "missing", "encoder.layers.1.mlp.fc2.bias" } },
        { MFX_SHRINK, "embeddings.position_embedding.weight",
          { "embeddings.position_embedding.weight", "[15, 32]", "[16, 32]" } },
        { MFX_PREFIX, "text_encoder.", { "missing", "embeddings.token_embedding.weight" } },
    };
    mfx_check_bad_weights("clip-gelu", "model.safetensors", cases, G_N_ELEMENTS(cases), try_load);
}

/* More tokens than position embeddings is an error of the pass, not a crash. */
static void test_too_many_tokens(void)
{
    mfx f;
    mfx_open(&f, "clip-gelu");
    g_autofree char *config_path = mfx_file(&f, "config.json");
    g_autofree char *weights_path = mfx_file(&f, "model.safetensors");
    model m;
    GError *error = NULL;
    g_assert_true(model_load(&m, config_path, weights_path, FALSE, &error));
    int32_t ids[17] = { 0 };
    scf_graph *g = scf_graph_new(chk_cpu());
    g_assert_null(scf_clip_text_forward(m.m, g, ids, 1, 17));
    g_assert_false(scf_graph_check(g, &error));
    mfx_assert_error(error, "17 tokens", "max_position_embeddings", "16", NULL);
    scf_graph_free(g);
    model_free(&m);
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

#include "model-fixture.h"
#include "check.h"
#include "error.h"
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

void mfx_open(mfx *f, const char *name)
{
    const char *root = g_getenv("SCF_FIXTURES");
    g_assert_nonnull(root);
    f->dir = g_build_filename(root, "models", name, NULL);
    GError *error = NULL;
    g_autofree char *in = mfx_file(f, "inputs.safetensors");
    g_autofree char *ex = mfx_file(f, "expected.safetensors");
    f->inputs = scf_safetensors_open(in, &error);
    g_assert_no_error(error);
    f->expected = scf_safetensors_open(ex, &error);
    g_assert_no_error(error);
}

void mfx_close(mfx *f)
{
    scf_safetensors_close(f->inputs);
    scf_safetensors_close(f->expected);
    g_free(f->dir);
}

char *mfx_file(const mfx *f, const char *file)
{
    return g_build_filename(f->dir, file, NULL);
}

static const scf_st_tensor *find(const scf_safetensors *st, const char *name)
{
    const scf_st_tensor *t = scf_safetensors_find(st, name);
    if (!t)
        g_error("%s: no tensor '%s' (regenerate with tools/model_fixtures.py)",
                scf_safetensors_path(st), name);
    return t;
}

scf_tensor mfx_tensor(const scf_safetensors *st, const char *name)
{
    const scf_st_tensor *t = find(st, name);
    g_assert_cmpint(t->ndim, <=, SCF_MAX_DIMS);
    scf_tensor out = { g_new(float, MAX(t->numel, 1)), t->ndim, { 0 } };
    memcpy(out.shape, t->shape, (size_t)t->ndim * sizeof *t->shape);
    GError *error = NULL;
    g_assert_true(scf_safetensors_read_f32(st, t, out.data, &error));
    g_assert_no_error(error);
    return out;
}

int32_t *mfx_ints(const scf_safetensors *st, const char *name, size_t *n)
{
    const scf_st_tensor *t = find(st, name);
    g_assert_cmpint(t->dtype, ==, SCF_ST_I32);
    *n = t->numel;
    return g_memdup2(t->data, t->nbytes);   /* the mapping may be unaligned */
}

gboolean mfx_check(const mfx *f, const char *name, const float *got, size_t n, double rtol)
{
    scf_tensor ref = mfx_tensor(f->expected, name);
    g_assert_cmpuint(scf_tensor_numel(&ref), ==, n);
    g_autofree char *what = g_strdup_printf("%s %s", f->dir, name);
    gboolean ok = chk_close(what, got, ref.data, n, rtol);
    g_test_message("%s: error %.2e (rtol %.0e)", what, chk_error(got, ref.data, n), rtol);
    g_free(ref.data);
    return ok;
}

/* Largest |x_i|. */
static double max_abs(const float *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

/* A gradient that is zero in exact arithmetic (a key bias: softmax ignores
 * a shift shared by all keys) shows in the float64 reference as ~1e-16 of
 * the others, and ours as fp32 noise, so neither has a scale of its own to
 * be relative to: it is judged against the model's largest gradient. */
#define STRUCTURAL_ZERO 1e-12
#define ZERO_NOISE 1e-6

gboolean mfx_check_param_grads(const mfx *f, const scf_params *p, const char *prefix,
                               double rtol)
{
    int count = scf_params_count(p);
    scf_tensor *refs = g_new(scf_tensor, count);
    double model_scale = 0;
    for (int i = 0; i < count; i++) {
        const scf_param_entry *e = scf_params_entry(p, i);
        g_autofree char *name = g_strconcat("grad.param.", prefix, e->name, NULL);
        refs[i] = mfx_tensor(f->expected, name);
        g_assert_cmpuint(scf_tensor_numel(&refs[i]), ==, e->numel);
        model_scale = fmax(model_scale, max_abs(refs[i].data, e->numel));
    }
    gboolean ok = TRUE;
    double worst = 0;
    const char *worst_name = "";
    float *grad = g_new(float, MAX(p->total, 1));
    p->be->download(p->be, grad, p->grad, p->total * sizeof(float));
    for (int i = 0; i < count; i++) {
        const scf_param_entry *e = scf_params_entry(p, i);
        const float *got = grad + e->offset, *ref = refs[i].data;
        g_autofree char *what = g_strconcat("grad.param.", prefix, e->name, NULL);
        if (max_abs(ref, e->numel) <= STRUCTURAL_ZERO * model_scale) {
            double noise = max_abs(got, e->numel) / model_scale;
            g_test_message("%s: zero in exact arithmetic, ours %.2e of the largest gradient",
                           what, noise);
            if (!(noise <= ZERO_NOISE)) {
                g_printerr("%s: %.3g where the exact gradient is zero (model scale %.3g)\n",
                           what, max_abs(got, e->numel), model_scale);
                ok = FALSE;
            }
            continue;
        }
        ok &= chk_close(what, got, ref, e->numel, rtol);
        double err = chk_error(got, ref, e->numel);
        if (err >= worst) {
            worst = err;
            worst_name = e->name;
        }
    }
    g_test_message("%s: %d parameter gradients, largest error %.2e in %s (rtol %.0e)", f->dir,
                   count, worst, worst_name, rtol);
    for (int i = 0; i < count; i++)
        g_free(refs[i].data);
    g_free(refs);
    g_free(grad);
    return ok;
}

scf_var *mfx_dot_loss(scf_graph *g, scf_var *out, float *r)
{
    if (!out)
        return NULL;
    int64_t n = (int64_t)scf_tensor_numel(&out->value);
    scf_var *w = scf_graph_wrap(g, (scf_tensor){ r, 2, { 1, n } });
    return scf_linear(g, scf_graph_reshape(g, out, 2, (int64_t[]){ 1, n }), w, NULL);
}

void mfx_edit_config(const char *src, const char *dst, const char *key, const char *value)
{
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *error = NULL;
    g_assert_true(json_parser_load_from_file(parser, src, &error));
    g_assert_no_error(error);
    JsonObject *root = json_node_get_object(json_parser_get_root(parser));
    if (value) {
        JsonNode *node = json_from_string(value, &error);
        g_assert_no_error(error);
        json_object_set_member(root, key, node);
    } else {
        json_object_remove_member(root, key);
    }
    g_autofree char *text = json_to_string(json_parser_get_root(parser), TRUE);
    g_assert_true(g_file_set_contents(dst, text, -1, &error));
    g_assert_no_error(error);
}

void mfx_edit_weights(const char *src, const char *dst, mfx_weights_edit edit, const char *arg)
{
    GError *error = NULL;
    scf_safetensors *st = scf_safetensors_open(src, &error);
    g_assert_no_error(error);
    scf_safetensors_writer *w = scf_safetensors_writer_new();
    gboolean found = edit == MFX_PREFIX;
    for (int i = 0; i < scf_safetensors_count(st); i++) {
        const scf_st_tensor *t = scf_safetensors_get(st, i);
        gboolean target = edit != MFX_PREFIX && strcmp(t->name, arg) == 0;
        found |= target;
        if (target && edit == MFX_DROP)
            continue;
        scf_tensor v = mfx_tensor(st, t->name);
        if (target && edit == MFX_SHRINK)
            v.shape[0]--;   /* the first rows of the original, one fewer */
        g_autofree char *name = edit == MFX_PREFIX ? g_strconcat(arg, t->name, NULL)
                                                   : g_strdup(t->name);
        g_assert_true(scf_safetensors_writer_add(w, name, SCF_DTYPE_F32, v.ndim, v.shape, v.data,
                                                 &error));
        g_free(v.data);
    }
    g_assert_true(found);
    g_assert_true(scf_safetensors_writer_save(w, dst, &error));
    g_assert_no_error(error);
    scf_safetensors_writer_free(w);
    scf_safetensors_close(st);
}

void mfx_assert_error(GError *error, ...)
{
    g_assert_nonnull(error);
    g_test_message("error: %s", error->message);
    va_list ap;
    va_start(ap, error);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(error->message, s))
            g_error("error message \"%s\" does not mention \"%s\"", error->message, s);
    va_end(ap);
    g_error_free(error);
}

gboolean mfx_model_load(mfx_model *m, const mfx_model_kind *kind, const char *config_path,
                        const char *weights_path, gboolean with_grad, GError **error)
{
    *m = (mfx_model){ kind, NULL, NULL };
    scf_config c;
    if (!scf_config_load(&c, config_path, error))
        return FALSE;
    m->p = scf_params_new(chk_cpu());
    m->model = kind->build(&c, m->p, error);
    scf_config_clear(&c);
    scf_safetensors *st = NULL;
    gboolean ok = m->model && scf_params_allocate(m->p, with_grad, error) &&
                  (st = scf_safetensors_open(weights_path, error)) &&
                  scf_params_load(m->p, st, kind->prefix ? kind->prefix(st) : "", FALSE, error);
    scf_safetensors_close(st);
    if (!ok)
        mfx_model_free(m);
    return ok;
}

void mfx_model_free(mfx_model *m)
{
    if (m->model)
        m->kind->free(m->model);
    scf_params_free(m->p);
    m->p = NULL;
    m->model = NULL;
}

/* Loading must fail: its error, for the caller to check. */
static GError *load_error(const mfx_model_kind *kind, const char *config_path,
                          const char *weights_path)
{
    mfx_model m;
    GError *error = NULL;
    g_assert_false(mfx_model_load(&m, kind, config_path, weights_path, FALSE, &error));
    return error;
}

void mfx_check_bad_folders(const mfx_model_kind *kind, const char *fixture,
                           const char *weights_file, const mfx_config_case *configs,
                           size_t n_configs, const mfx_weights_case *weights, size_t n_weights)
{
    mfx f;
    mfx_open(&f, fixture);
    g_autofree char *config_path = mfx_file(&f, "config.json");
    g_autofree char *weights_path = mfx_file(&f, weights_file);
    char *dir = chk_tmpdir("models");
    g_autofree char *bad_config = g_build_filename(dir, "config.json", NULL);
    g_autofree char *bad_weights = g_build_filename(dir, weights_file, NULL);
    for (size_t i = 0; i < n_configs; i++) {
        const mfx_config_case *c = &configs[i];
        mfx_edit_config(config_path, bad_config, c->key, c->value);
        GError *error = load_error(kind, bad_config, weights_path);
        mfx_assert_error(error, bad_config, c->expect[0], c->expect[1], c->expect[2], NULL);
    }
    for (size_t i = 0; i < n_weights; i++) {
        const mfx_weights_case *w = &weights[i];
        mfx_edit_weights(weights_path, bad_weights, w->edit, w->arg);
        GError *error = load_error(kind, config_path, bad_weights);
        g_assert_error(error, SCF_ERROR, SCF_ERROR_FORMAT);
        mfx_assert_error(error, bad_weights, w->expect[0], w->expect[1], w->expect[2], NULL);
    }
    chk_tmpdir_free(dir);
    mfx_close(&f);
}

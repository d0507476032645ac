#include "device-paths.h"
#include "cuda-check.h"
#include "discriminator.h"
#include "distill.h"
#include "scflow.h"
#include "tiny-model.h"
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

struct dp_env {
    char *root;
    char *model_dir;        /* the tiny model: 32x32, default 4 steps at guidance 1.5 */
    char *data_dir;         /* 6 captioned 32x32 images */
    char *train_config;     /* tests/fixtures/train/tiny-teacher.json, 2 steps of batch 2 */
    char *distill_config;   /* every SCFlow term on from the first step, 2 steps of batch 2 */
    int runs;
};

#define DATA_IMAGES 6
#define IMAGE_SIDE 32

static const char *const captions[DATA_IMAGES] = {
    "grinning face", "thumbs up: medium skin tone", "red heart", "cat face",
    "woman technologist: dark skin tone", "rocket",
};

/* Smooth colour ramps, a different one per image. */
static void write_image(const char *dir, int i)
{
    GError *error = NULL;
    g_autoptr(scf_image) img = scf_image_new(IMAGE_SIDE, IMAGE_SIDE, 3, &error);
    g_assert_no_error(error);
    for (int y = 0; y < IMAGE_SIDE; y++)
        for (int x = 0; x < IMAGE_SIDE; x++) {
            uint8_t *p = img->data + ((size_t)y * IMAGE_SIDE + x) * 3;
            p[0] = (uint8_t)(40 * i + 4 * x);
            p[1] = (uint8_t)(8 * y + 20 * i);
            p[2] = (uint8_t)(255 - 30 * i - 2 * x);
        }
    g_autofree char *png = g_strdup_printf("%s/item-%d.png", dir, i);
    g_autofree char *txt = g_strdup_printf("%s/item-%d.txt", dir, i);
    g_assert_true(scf_png_write(png, img, NULL, &error));
    g_assert_true(g_file_set_contents(txt, captions[i], -1, &error));
    g_assert_no_error(error);
}

static char *write_train_config(const char *root)
{
    g_autofree char *fixture = g_build_filename(g_getenv("SCF_FIXTURES"), "train",
                                                "tiny-teacher.json", NULL);
    g_autoptr(JsonParser) parser = json_parser_new();
    GError *error = NULL;
    g_assert_true(json_parser_load_from_file(parser, fixture, &error));
    JsonNode *training = json_from_string(
        "{\"seed\": 7, \"batch_size\": 2, \"steps\": 2, \"lr\": 1e-4, \"warmup_steps\": 0,"
        " \"caption_dropout\": 0.5, \"ema_decay\": 0.9, \"log_every\": 1, \"sample_every\": 2,"
        " \"checkpoint_every\": 1, \"keep_checkpoints\": 3, \"sample_steps\": 2,"
        " \"sample_guidance\": 1.5}", &error);
    g_assert_no_error(error);
    json_object_set_member(json_node_get_object(json_parser_get_root(parser)), "training",
                           training);
    g_autofree char *text = json_to_string(json_parser_get_root(parser), TRUE);
    char *path = g_build_filename(root, "train.json", NULL);
    g_assert_true(g_file_set_contents(path, text, -1, &error));
    return path;
}

static char *write_distill_config(const char *root)
{
    /* warm-ups 0: the GAN, bidirectional and reflow terms all run at once */
    static const char text[] =
        "{\"seed\": 3, \"batch_size\": 2, \"steps\": 2, \"lr\": 1e-4, \"d_lr\": 1e-4,"
        " \"warmup_adv\": 0, \"warmup_inv\": 0, \"warmup_reflow\": 0, \"log_every\": 1,"
        " \"probe_every\": 1, \"sample_every\": 2, \"checkpoint_every\": 1,"
        " \"keep_checkpoints\": 3}";
    char *path = g_build_filename(root, "distill.json", NULL);
    GError *error = NULL;
    g_assert_true(g_file_set_contents(path, text, -1, &error));
    return path;
}

dp_env *dp_env_new(void)
{
    dp_env *env = g_new0(dp_env, 1);
    const char *base = g_getenv("SCF_TEST_OUT");
    g_assert_nonnull(base);
    g_assert_cmpint(g_mkdir_with_parents(base, 0755), ==, 0);
    env->root = g_build_filename(base, "device-paths-XXXXXX", NULL);
    g_assert_nonnull(g_mkdtemp(env->root));
    GError *error = NULL;
    g_assert_true(chk_tiny_model_write(env->root, "tiny", 4, 1.5, &error));
    g_assert_no_error(error);
    env->model_dir = g_build_filename(env->root, "tiny", NULL);
    env->data_dir = g_build_filename(env->root, "data", NULL);
    g_assert_cmpint(g_mkdir(env->data_dir, 0755), ==, 0);
    for (int i = 0; i < DATA_IMAGES; i++)
        write_image(env->data_dir, i);
    env->train_config = write_train_config(env->root);
    env->distill_config = write_distill_config(env->root);
    return env;
}

void dp_env_free(dp_env *env)
{
    g_assert_true(chk_remove_tree(env->root));
    g_free(env->root);
    g_free(env->model_dir);
    g_free(env->data_dir);
    g_free(env->train_config);
    g_free(env->distill_config);
    g_free(env);
}

const char *dp_env_model_dir(const dp_env *env)
{
    return env->model_dir;
}

const char *dp_env_data_dir(const dp_env *env)
{
    return env->data_dir;
}

/* A run folder not used before (the trainers create it). */
static char *new_run_dir(dp_env *env, const char *what, scf_backend *be)
{
    return g_strdup_printf("%s/%s-%s-%d", env->root, what, be->name, env->runs++);
}

/* ---- results ---- */

void dp_result_init(dp_result *r)
{
    r->outputs = g_ptr_array_new();
}

void dp_result_clear(dp_result *r)
{
    for (guint i = 0; i < r->outputs->len; i++) {
        dp_output *o = g_ptr_array_index(r->outputs, i);
        g_free(o->name);
        g_free(o->data);
        g_free(o);
    }
    g_ptr_array_free(r->outputs, TRUE);
    r->outputs = NULL;
}

/* Takes data over. */
static void add_host(dp_result *r, char *name, dp_kind kind, float *data, size_t n)
{
    dp_output *o = g_new(dp_output, 1);
    *o = (dp_output){ name, kind, data, n };
    g_ptr_array_add(r->outputs, o);
}

static void add_device(dp_result *r, scf_backend *be, const char *name, dp_kind kind,
                       const float *dev, size_t n)
{
    add_host(r, g_strdup(name), kind, cc_download(be, dev, n), n);
}

static void add_scalar(dp_result *r, const char *name, double value)
{
    float *v = g_new(float, 1);
    *v = (float)value;
    add_host(r, g_strdup(name), DP_VALUE, v, 1);
}

/* Every tensor of a safetensors file, as label:tensor. */
static void add_safetensors(dp_result *r, const char *label, const char *path, dp_kind kind)
{
    GError *error = NULL;
    scf_safetensors *st = scf_safetensors_open(path, &error);
    g_assert_no_error(error);
    for (int i = 0; i < scf_safetensors_count(st); i++) {
        const scf_st_tensor *t = scf_safetensors_get(st, i);
        float *data = g_new(float, MAX(t->numel, 1));
        g_assert_true(scf_safetensors_read_f32(st, t, data, &error));
        add_host(r, g_strdup_printf("%s:%s", label, t->name), kind, data, t->numel);
    }
    scf_safetensors_close(st);
}

static void add_png(dp_result *r, const char *label, const char *path)
{
    GError *error = NULL;
    g_autoptr(scf_image) img = scf_png_read(path, NULL, NULL, &error);
    g_assert_no_error(error);
    size_t n = (size_t)img->channels * img->width * img->height;
    float *chw = g_new(float, n);
    scf_image_to_chw(img, chw);
    add_host(r, g_strdup(label), DP_IMAGE, chw, n);
}

/* Every number of every metrics line but the clock's (time, speed), one
 * output per key over the lines. After the first step the figures are one
 * optimiser step away from the initial weights. */
static void add_metrics(dp_result *r, const char *label, const char *run_dir)
{
    g_autofree char *path = g_build_filename(run_dir, "metrics.jsonl", NULL);
    g_autofree char *text = NULL;
    GError *error = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    GHashTable *series = g_hash_table_new(g_str_hash, g_str_equal);   /* key -> GArray */
    GPtrArray *keys = g_ptr_array_new_with_free_func(g_free);
    for (char **l = lines; *l && **l; l++) {
        g_autoptr(JsonNode) node = json_from_string(*l, &error);
        g_assert_no_error(error);
        JsonObject *o = json_node_get_object(node);
        GList *members = json_object_get_members(o);
        for (GList *m = members; m; m = m->next) {
            const char *key = m->data;
            if (!strcmp(key, "step") || !strcmp(key, "time") || !strcmp(key, "images_per_s"))
                continue;
            GArray *values = g_hash_table_lookup(series, key);
            if (!values) {
                char *owned = g_strdup(key);
                g_ptr_array_add(keys, owned);
                values = g_array_new(FALSE, FALSE, sizeof(float));
                g_hash_table_insert(series, owned, values);
            }
            float v = (float)json_object_get_double_member(o, key);
            g_array_append_val(values, v);
        }
        g_list_free(members);
    }
    g_assert_cmpuint(keys->len, >, 0);
    for (guint i = 0; i < keys->len; i++) {
        const char *key = g_ptr_array_index(keys, i);
        GArray *values = g_hash_table_lookup(series, key);
        size_t n = values->len;
        add_host(r, g_strdup_printf("%s:%s", label, key), DP_GRADIENT,
                 (float *)(void *)g_array_free(values, FALSE), n);
    }
    g_hash_table_destroy(series);
    g_ptr_array_free(keys, TRUE);
}

/* ---- inputs ---- */

static float *upload_random(scf_backend *be, size_t n, uint64_t seed)
{
    float *host = chk_random(n, -1.0f, 1.0f, seed);
    float *dev = cc_upload(be, host, n);
    g_free(host);
    return dev;
}

scf_model *dp_load_model(dp_env *env, scf_backend *be, gboolean trainable)
{
    GError *error = NULL;
    scf_model *m = scf_model_load(env->model_dir, be, trainable, &error);
    g_assert_no_error(error);
    return m;
}

static scf_var *wrap(scf_graph *g, float *data, int ndim, const int64_t *shape)
{
    scf_tensor t = { data, ndim, { 0 } };
    memcpy(t.shape, shape, (size_t)ndim * sizeof *shape);
    return scf_graph_wrap(g, t);
}

/* An input whose gradient is wanted: a trainable "parameter" with its own
 * gradient buffer (zeroed), as the graph has no other kind. */
static scf_var input_with_grad(float *data, float *grad, int ndim, const int64_t *shape)
{
    scf_tensor t = { data, ndim, { 0 } };
    memcpy(t.shape, shape, (size_t)ndim * sizeof *shape);
    return scf_param(t, grad, TRUE);
}

static void assert_graph_ok(scf_graph *g)
{
    GError *error = NULL;
    scf_graph_check(g, &error);
    g_assert_no_error(error);
}

static void free_device(scf_backend *be, float **bufs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        be->free(be, bufs[i]);
}

/* ---- the paths ---- */

/* UNet forward and backward: velocity, loss, and the gradients of the
 * image, the text context and every parameter. */
static void path_unet(scf_backend *be, dp_env *env, dp_result *out)
{
    scf_model *m = dp_load_model(env, be, TRUE);
    const int64_t B = 2, C = m->channels, S = m->image_size, T = m->context_length,
                  D = scf_clip_text_get_config(m->text)->hidden_size;
    const size_t nx = (size_t)(B * C * S * S), nc = (size_t)(B * T * D);
    const float times[2] = { 250.0f, 900.0f };
    float *x = upload_random(be, nx, 1), *ctx = upload_random(be, nc, 2),
          *target = upload_random(be, nx, 3), *dx = cc_upload(be, NULL, nx),
          *dctx = cc_upload(be, NULL, nc), *t = cc_upload(be, times, (size_t)B);
    scf_graph *g = scf_graph_new(be);
    scf_var xv = input_with_grad(x, dx, 4, (int64_t[]){ B, C, S, S });
    scf_var cv = input_with_grad(ctx, dctx, 3, (int64_t[]){ B, T, D });
    scf_var *v = scf_unet_forward(m->unet, g, &xv, wrap(g, t, 1, &B), &cv);
    scf_var *loss = scf_mse(g, v, wrap(g, target, 4, (int64_t[]){ B, C, S, S }));
    scf_params_zero_grad(m->params);
    scf_graph_backward(g, loss);
    assert_graph_ok(g);
    add_device(out, be, "velocity", DP_VALUE, v->value.data, nx);
    add_scalar(out, "loss", scf_graph_scalar(g, loss));
    add_device(out, be, "grad image", DP_GRADIENT, dx, nx);
    add_device(out, be, "grad context", DP_GRADIENT, dctx, nc);
    add_device(out, be, "grad params", DP_GRADIENT, m->params->grad, m->params->total);
    scf_graph_free(g);
    free_device(be, (float *[]){ x, ctx, target, dx, dctx, t }, 6);
    scf_model_free(m);
}

/* CLIP text encoder forward (tokenizer, ids uploaded, positions) and
 * backward into its parameters. */
static void path_clip_text(scf_backend *be, dp_env *env, dp_result *out)
{
    scf_model *m = dp_load_model(env, be, TRUE);
    const char *prompts[] = { "grinning face", "rocket launch: red" };   /* one unknown word */
    const size_t n = (size_t)2 * m->context_length * scf_clip_text_get_config(m->text)->hidden_size;
    float *target = upload_random(be, n, 4);
    scf_graph *g = scf_graph_new(be);
    scf_var *c = scf_model_encode_text(m, g, prompts, 2);
    assert_graph_ok(g);
    g_assert_cmpuint(scf_tensor_numel(&c->value), ==, n);
    scf_var *loss = scf_mse(g, c, scf_graph_wrap(g, (scf_tensor){ target, 1, { (int64_t)n } }));
    scf_params_zero_grad(m->params);
    scf_graph_backward(g, loss);
    assert_graph_ok(g);
    add_device(out, be, "text embedding", DP_VALUE, c->value.data, n);
    add_scalar(out, "loss", scf_graph_scalar(g, loss));
    add_device(out, be, "grad params", DP_GRADIENT, m->params->grad, m->params->total);
    scf_graph_free(g);
    be->free(be, target);
    scf_model_free(m);
}

/* Generation of a batch of 2 at 1, 2 and 4 steps with CFG (one with a
 * negative prompt), and at 2 steps without. */
static void path_sampler(scf_backend *be, dp_env *env, dp_result *out)
{
    scf_model *m = dp_load_model(env, be, FALSE);
    scf_sampler *s = scf_sampler_new(m);
    const size_t n = (size_t)2 * m->channels * m->image_size * m->image_size;
    const scf_sample_request requests[] = {
        { "red heart", NULL, 1, 1.5f, 40, 2 },
        { "red heart", "cat face", 2, 1.5f, 41, 2 },
        { "rocket", NULL, 4, 1.5f, 42, 2 },
        { "rocket", NULL, 2, 1.0f, 43, 2 },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(requests); i++) {
        const scf_sample_request *r = &requests[i];
        float *images = g_new(float, n);
        GError *error = NULL;
        g_assert_true(scf_sampler_run(s, r, images, NULL, NULL, &error));
        g_assert_no_error(error);
        add_host(out, g_strdup_printf("%d steps, guidance %g%s", r->steps, r->guidance,
                                      r->negative ? ", negative prompt" : ""),
                 DP_IMAGE, images, n);
    }
    scf_sampler_free(s);
    scf_model_free(m);
}

/* SCFlow's discriminator of the given kind: its initialisation (encoder:
 * the teacher's + a seeded head; resnet: seeded), logits, GAN loss, the
 * gradients of its input and parameters, and R1 with its gradient. */
static void discriminator_case(scf_backend *be, dp_env *env, dp_result *out,
                               scf_discriminator_kind kind)
{
    scf_model *teacher = dp_load_model(env, be, FALSE);
    GError *error = NULL;
    scf_discriminator *d = scf_discriminator_new(teacher, kind, 8, be, 11, &error);
    g_assert_no_error(error);
    scf_params *p = scf_discriminator_params(d);
    const int64_t B = 2, C = teacher->channels, S = teacher->image_size, T = teacher->context_length,
                  D = scf_clip_text_get_config(teacher->text)->hidden_size;
    const size_t nx = (size_t)(B * C * S * S), nc = (size_t)(B * T * D);
    const float taus[2] = { 0.3f, 0.7f };
    float *x = upload_random(be, nx, 5), *ctx = upload_random(be, nc, 6),
          *dx = cc_upload(be, NULL, nx), *tau = cc_upload(be, taus, (size_t)B);
    scf_graph *g = scf_graph_new(be);
    scf_var xv = input_with_grad(x, dx, 4, (int64_t[]){ B, C, S, S });
    scf_var *logits = scf_discriminator_forward(d, g, &xv, wrap(g, tau, 1, &B),
                                                wrap(g, ctx, 3, (int64_t[]){ B, T, D }));
    scf_var *loss = scf_gan_logistic(g, logits, 1.0f);
    scf_params_zero_grad(p);
    scf_graph_backward(g, loss);
    assert_graph_ok(g);
    add_device(out, be, "initial params", DP_VALUE, p->data, p->total);
    add_device(out, be, "logits", DP_VALUE, logits->value.data, (size_t)B);
    add_scalar(out, "loss", scf_graph_scalar(g, loss));
    add_device(out, be, "grad image", DP_GRADIENT, dx, nx);
    add_device(out, be, "grad params", DP_GRADIENT, p->grad, p->total);
    double r1 = 0;
    scf_params_zero_grad(p);
    g_assert_true(scf_discriminator_r1(d, g, x, (int)B, (scf_tensor){ tau, 1, { B } },
                                       (scf_tensor){ ctx, 3, { B, T, D } }, 1.0f, &r1, &error));
    g_assert_no_error(error);
    add_scalar(out, "r1", r1);
    add_device(out, be, "grad params of r1", DP_GRADIENT, p->grad, p->total);
    scf_graph_free(g);
    free_device(be, (float *[]){ x, ctx, dx, tau }, 4);
    scf_discriminator_free(d);
    scf_model_free(teacher);
}

static void path_discriminator(scf_backend *be, dp_env *env, dp_result *out)
{
    discriminator_case(be, env, out, SCF_DISCRIMINATOR_ENCODER);
}

static void path_discriminator_resnet(scf_backend *be, dp_env *env, dp_result *out)
{
    discriminator_case(be, env, out, SCF_DISCRIMINATOR_RESNET);
}

/* Teacher training: one step, a resume from its checkpoint, the second
 * step with its EMA sample grid, checkpoint and fp16 export; and one step
 * continuing the tiny model from its folder (its weights uploaded). */
static void path_train(scf_backend *be, dp_env *env, dp_result *out)
{
    g_autofree char *run = new_run_dir(env, "train", be);
    g_autofree char *continued = new_run_dir(env, "continue", be);
    GError *error = NULL;
    scf_trainer *t = scf_trainer_new(continued, env->train_config, env->data_dir, env->model_dir,
                                     be, &error);
    g_assert_no_error(error);
    g_assert_true(scf_trainer_run(t, 1, NULL, NULL, &error));
    scf_trainer_free(t);
    g_autofree char *first = scf_run_checkpoint_path(continued, 1);
    add_safetensors(out, "continued", first, DP_GRADIENT);

    t = scf_trainer_new(run, env->train_config, env->data_dir, NULL, be, &error);
    g_assert_no_error(error);
    g_assert_true(scf_trainer_run(t, 1, NULL, NULL, &error));
    scf_trainer_free(t);
    t = scf_trainer_resume(run, be, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_trainer_step(t), ==, 1);
    g_assert_true(scf_trainer_run(t, 0, NULL, NULL, &error));
    g_assert_no_error(error);
    g_assert_cmpint(scf_trainer_step(t), ==, 2);
    scf_trainer_free(t);
    g_autofree char *checkpoint = scf_run_checkpoint_path(run, 2);
    g_autofree char *model = g_build_filename(run, "model", SCF_MODEL_WEIGHTS, NULL);
    g_autofree char *samples = g_build_filename(run, "samples", "step-00000002.png", NULL);
    add_safetensors(out, "checkpoint", checkpoint, DP_GRADIENT);
    add_safetensors(out, "exported", model, DP_GRADIENT);
    add_png(out, "sample grid", samples);
    add_metrics(out, "metrics", run);
}

/* SCFlow distillation with every term on: one iteration, a resume, the
 * second iteration with the consistency probe, sample grids, checkpoint
 * (student, moments, EMAs, discriminator) and the exported student. */
static void path_distill(scf_backend *be, dp_env *env, dp_result *out)
{
    g_autofree char *run = new_run_dir(env, "distill", be);
    GError *error = NULL;
    scf_distiller *d = scf_distiller_new(run, env->model_dir, env->data_dir, env->distill_config,
                                         "full", be, &error);
    g_assert_no_error(error);
    g_assert_true(scf_distiller_run(d, 1, NULL, NULL, &error));
    scf_distiller_free(d);
    d = scf_distiller_resume(run, be, &error);
    g_assert_no_error(error);
    g_assert_cmpint(scf_distiller_step(d), ==, 1);
    g_assert_true(scf_distiller_run(d, 0, NULL, NULL, &error));
    g_assert_no_error(error);
    scf_distiller_free(d);
    g_autofree char *checkpoint = scf_run_checkpoint_path(run, 2);
    g_autofree char *model = g_build_filename(run, "model", SCF_MODEL_WEIGHTS, NULL);
    add_safetensors(out, "checkpoint", checkpoint, DP_GRADIENT);
    add_safetensors(out, "exported", model, DP_GRADIENT);
    for (int steps = 1; steps <= 4; steps *= 4) {
        g_autofree char *name = g_strdup_printf("step-00000002-%dstep.png", steps);
        g_autofree char *path = g_build_filename(run, "samples", name, NULL);
        g_autofree char *label = g_strdup_printf("%d-step sample grid", steps);
        add_png(out, label, path);
    }
    add_metrics(out, "metrics", run);
}

/* Evaluation of the model at 1 and 2 steps with itself as the teacher: the
 * sample grids it keeps and the figures computed from its samples. */
static void path_eval(scf_backend *be, dp_env *env, dp_result *out)
{
    scf_model *m = dp_load_model(env, be, FALSE);
    scf_eval_options o;
    scf_eval_options_defaults(&o);
    o.steps[0] = 1;
    o.steps[1] = 2;
    o.n_steps = 2;
    o.teacher_steps[0] = 4;
    o.n_teacher_steps = 1;
    o.limit = 3;
    o.speed_batch = 0;
    o.grid = 3;
    scf_eval_results r;
    GError *error = NULL;
    g_assert_true(scf_eval_run(m, m, env->data_dir, &o, &r, NULL, NULL, &error));
    g_assert_no_error(error);
    for (int i = 0; i < r.n_rows; i++) {
        const scf_eval_row *row = &r.rows[i];
        const size_t img = (size_t)r.channels * r.image_size * r.image_size;
        add_host(out, g_strdup_printf("%s grid", row->label), DP_IMAGE,
                 g_memdup2(row->grid[SCF_EVAL_TRAIN], r.n_grid[SCF_EVAL_TRAIN] * img * sizeof(float)),
                 r.n_grid[SCF_EVAL_TRAIN] * img);
        g_autofree char *label = g_strdup_printf("%s PSNR to the data", row->label);
        add_scalar(out, label, row->psnr[SCF_EVAL_TRAIN]);
    }
    scf_eval_results_clear(&r);
    scf_model_free(m);
}

/* ---- recorded sampling steps ---- */

/* Generates r with both samplers: the images must be the same bit for bit. */
static void assert_same_images(scf_sampler *plain, scf_sampler *graphed,
                               const scf_sample_request *r, size_t image_numel)
{
    const size_t n = (size_t)r->batch * image_numel;
    float *want = g_new(float, n), *got = g_new(float, n);
    GError *error = NULL;
    g_assert_true(scf_sampler_run(plain, r, want, NULL, NULL, &error));
    g_assert_true(scf_sampler_run(graphed, r, got, NULL, NULL, &error));
    g_assert_no_error(error);
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            g_error("seed %" G_GUINT64_FORMAT ", %d steps, guidance %g, batch %d: value %zu is "
                    "%.9g replayed, %.9g plain", r->seed, r->steps, r->guidance, r->batch, i,
                    got[i], want[i]);
    g_free(want);
    g_free(got);
}

static void assert_counts(scf_sampler *s, int recorded, int replayed)
{
    int rec, rep;
    scf_sampler_graph_counts(s, &rec, &rep);
    g_assert_cmpint(rec, ==, recorded);
    g_assert_cmpint(rep, ==, replayed);
}

/* Moves the backend workspace to a new buffer of the same size (allocated
 * while the old one is still held, so at another address); 0 when be has
 * none (the remote backend's kernels use its CPU backend's). */
static int move_workspace(scf_backend *be)
{
    void *old = be->workspace;
    if (!old)
        return 0;
    const size_t size = be->workspace_size;
    be->workspace = NULL;
    be->workspace_size = 0;
    g_assert_nonnull(scf_backend_workspace(be, size));
    be->free(be, old);
    return 1;
}

void dp_check_graph_replay(scf_backend *be, dp_env *env, gboolean recordings_fail)
{
    g_assert_nonnull(be->graph_begin);
    scf_model *m = dp_load_model(env, be, FALSE);
    const size_t img = (size_t)m->channels * m->image_size * m->image_size;
    scf_sampler *plain = scf_sampler_new(m), *graphed = scf_sampler_new(m);
    scf_sampler_set_graph_replay(plain, FALSE);
    /* where recordings fail, nothing is recorded or replayed and the images
     * are still the same */
    const int k = recordings_fail ? 0 : 1;
    scf_sample_request r = { "rocket", NULL, 4, 1.5f, 42, 2 };   /* a pass of 4 rows */
    /* step 1 runs plain (sizing memory), step 2 is recorded, 3 and 4 replay it */
    assert_same_images(plain, graphed, &r, img);
    assert_counts(graphed, k, 2 * k);
    /* another seed: every step replays the same recording */
    r.seed = 43;
    assert_same_images(plain, graphed, &r, img);
    assert_counts(graphed, k, 6 * k);
    /* another shape (unguided: 2 rows) is recorded beside the first, which stays valid */
    r = (scf_sample_request){ "red heart", NULL, 4, 1.0f, 44, 2 };
    assert_same_images(plain, graphed, &r, img);
    assert_counts(graphed, 2 * k, 8 * k);
    r = (scf_sample_request){ "rocket", "cat face", 4, 1.5f, 45, 2 };
    assert_same_images(plain, graphed, &r, img);
    assert_counts(graphed, 2 * k, 12 * k);
    /* memory the recording points into moved: recorded anew, not replayed */
    const int moved = move_workspace(be);
    r.seed = 46;
    assert_same_images(plain, graphed, &r, img);
    assert_counts(graphed, (2 + moved) * k, (16 - moved) * k);
    /* the backend's own memory changed (backend.h: recording_epoch, as when
     * a weight with a 16-bit copy is written): the recording is dropped, so
     * the first step runs plain, the second records, the others replay */
    be->recording_epoch++;
    r.seed = 50;
    assert_same_images(plain, graphed, &r, img);
    assert_counts(graphed, (3 + moved) * k, (18 - moved) * k);
    /* 4 unguided images are the same 4-row pass as 2 guided ones */
    r = (scf_sample_request){ "cat face", NULL, 4, 1.0f, 47, 4 };
    assert_same_images(plain, graphed, &r, img);
    assert_counts(graphed, (3 + moved) * k, (22 - moved) * k);
    /* more rows than the buffers hold (6): new buffers drop every recording,
     * so this shape and the 4-row one start over (plain, recorded, replayed) */
    r = (scf_sample_request){ "rocket", NULL, 2, 1.5f, 48, 3 };
    assert_same_images(plain, graphed, &r, img);
    assert_counts(graphed, (4 + moved) * k, (22 - moved) * k);
    r = (scf_sample_request){ "rocket", NULL, 4, 1.5f, 49, 2 };
    assert_same_images(plain, graphed, &r, img);
    assert_counts(graphed, (5 + moved) * k, (24 - moved) * k);
    assert_counts(plain, 0, 0);
    scf_sampler_free(plain);
    scf_sampler_free(graphed);
    scf_model_free(m);
}

const dp_path dp_paths[] = {
    { "unet", path_unet },
    { "clip-text", path_clip_text },
    { "sampler", path_sampler },
    { "discriminator", path_discriminator },
    { "discriminator-resnet", path_discriminator_resnet },
    { "train", path_train },
    { "distill", path_distill },
    { "eval", path_eval },
};
const int dp_n_paths = G_N_ELEMENTS(dp_paths);

/* ---- comparisons ---- */

static const dp_output *output_at(const dp_result *r, guint i)
{
    return g_ptr_array_index(r->outputs, i);
}

/* Same names and sizes in the same order, and finite values. */
static void assert_same_layout(const dp_result *got, const dp_result *ref)
{
    g_assert_cmpuint(got->outputs->len, ==, ref->outputs->len);
    g_assert_cmpuint(got->outputs->len, >, 0);
    for (guint i = 0; i < got->outputs->len; i++) {
        const dp_output *a = output_at(got, i), *b = output_at(ref, i);
        g_assert_cmpstr(a->name, ==, b->name);
        g_assert_cmpuint(a->n, ==, b->n);
        for (size_t j = 0; j < a->n; j++)
            if (!isfinite(a->data[j]) || !isfinite(b->data[j]))
                g_error("%s[%zu]: not finite (%g, reference %g)", a->name, j, a->data[j],
                        b->data[j]);
    }
}

void dp_assert_identical(const dp_result *got, const dp_result *ref)
{
    assert_same_layout(got, ref);
    for (guint i = 0; i < got->outputs->len; i++) {
        const dp_output *a = output_at(got, i), *b = output_at(ref, i);
        for (size_t j = 0; j < a->n; j++)
            if (memcmp(&a->data[j], &b->data[j], sizeof(float)) != 0)
                g_error("%s[%zu]: %.9g differs from the CPU's %.9g", a->name, j, a->data[j],
                        b->data[j]);
    }
    g_test_message("%u outputs identical", got->outputs->len);
}

/* Largest |got - ref|. */
static double max_abs_diff(const float *got, const float *ref, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)got[i] - (double)ref[i]));
    return m;
}

/* fp32 kernels that sum in another order agree to about 1e-6 relative per
 * op; through a UNet and its backward that grows to ~1e-5, so 1e-4 for
 * values and 1e-3 for gradients (and for states one AdamW step away, whose
 * update lr * m / sqrt(v) may flip sign where a gradient is ~0: at most
 * 2 lr = 2e-4 of weights of scale 1) leave room without hiding a wrong
 * kernel. Images: within one 8-bit level, 1/255 of [0, 1] = 2/255 in [-1, 1]. */
#define VALUE_RTOL 1e-4
#define GRADIENT_RTOL 1e-3
#define IMAGE_ATOL (2.0 / 255.0 + 1e-6)

void dp_assert_close(const dp_result *got, const dp_result *ref)
{
    assert_same_layout(got, ref);
    gboolean ok = TRUE;
    for (guint i = 0; i < got->outputs->len; i++) {
        const dp_output *a = output_at(got, i), *b = output_at(ref, i);
        if (a->kind == DP_IMAGE) {
            double d = max_abs_diff(a->data, b->data, a->n);
            g_test_message("%s: largest difference %.3g (allowed %.3g)", a->name, d, IMAGE_ATOL);
            if (!(d <= IMAGE_ATOL)) {
                g_printerr("%s: differs by %.3g, more than one 8-bit level\n", a->name, d);
                ok = FALSE;
            }
        } else {
            double rtol = a->kind == DP_VALUE ? VALUE_RTOL : GRADIENT_RTOL;
            g_test_message("%s: error %.2e (rtol %.0e)", a->name, chk_error(a->data, b->data, a->n),
                           rtol);
            ok &= chk_close(a->name, a->data, b->data, a->n, rtol);
        }
    }
    g_assert_true(ok);
}

#include "model.h"
#include "model_private.h"
#include "atomic_file.h"
#include "config.h"
#include "error.h"
#include "safetensors.h"
#include <json-glib/json-glib.h>
#include <errno.h>
#include <string.h>

void scf_model_read_settings(scf_model *m, scf_config *c, const char *default_name,
                             gboolean flow_required)
{
    m->name = scf_config_string(c, "name", default_name, FALSE);
    m->kind = scf_config_string(c, "kind", "teacher", FALSE);
    if (strcmp(m->kind, "teacher") != 0 && strcmp(m->kind, "student") != 0)
        scf_config_fail(c, "kind", "expected \"teacher\" or \"student\", found \"%s\"", m->kind);
    scf_config flow, defaults;
    if ((flow_required || scf_config_has(c, "flow")) && scf_config_child(c, "flow", &flow)) {
        m->velocity_sign = (float)scf_config_double(&flow, "velocity_sign", 1, -1, 1, TRUE);
        if (m->velocity_sign != 1 && m->velocity_sign != -1)
            scf_config_fail(&flow, "velocity_sign", "must be 1 or -1");
        m->time_scale = (float)scf_config_double(&flow, "time_scale", 1, 1e-6, 1e6, TRUE);
        scf_config_check(&flow, c->error ? NULL : &c->error);
        scf_config_clear(&flow);
    }
    m->default_steps = 32;
    m->default_guidance = 1.0f;
    if (scf_config_has(c, "defaults") && scf_config_child(c, "defaults", &defaults)) {
        m->default_steps = (int)scf_config_int(&defaults, "steps", 32, 1, 1000, FALSE);
        m->default_guidance = (float)scf_config_double(&defaults, "guidance", 1, 0, 100, FALSE);
        scf_config_check(&defaults, c->error ? NULL : &c->error);
        scf_config_clear(&defaults);
    }
}

gboolean scf_model_check_parts(const scf_model *m, const scf_unet_config *ucfg,
                               const scf_clip_text_config *tcfg, const char *where,
                               GError **error)
{
    const char *bad = NULL;
    if (ucfg->in_channels != m->latent_channels || ucfg->out_channels != m->latent_channels)
        bad = m->vae ? "the unet's in/out channels differ from the vae's latent_channels"
                     : "the unet's in/out channels differ from \"channels\"";
    else if (ucfg->cross_attention_dim != tcfg->hidden_size)
        bad = "the unet's cross_attention_dim differs from the text encoder's hidden_size";
    else if (m->context_length > tcfg->max_positions)
        bad = "context_length exceeds the text encoder's max_position_embeddings";
    else if (m->latent_size % (1 << (ucfg->n_blocks - 1)))
        bad = m->vae ? "the unet's sample_size is not divisible by its downsampling"
                     : "image_size is not divisible by the unet's downsampling";
    if (bad)
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT, "%s: %s", where, bad);
    return !bad;
}

/* Reads everything but the weights from a parsed config.json. */
static gboolean read_config(scf_model *m, scf_config *c, scf_unet_config *ucfg,
                            scf_clip_text_config *tcfg, GError **error)
{
    g_autofree char *format = scf_config_string(c, "format", NULL, TRUE);
    if (format && strcmp(format, "scflow-model") != 0)
        scf_config_fail(c, "format", "expected \"scflow-model\", found \"%s\"", format);
    scf_config_int(c, "format_version", 1, 1, 1, TRUE);
    g_autofree char *space = scf_config_string(c, "space", "pixel", FALSE);
    if (strcmp(space, "pixel") != 0)
        scf_config_fail(c, "space", "unsupported \"%s\" (latent models load from diffusers "
                        "pipeline folders, with model_index.json)", space);
    m->image_size = (int)scf_config_int(c, "image_size", 0, 8, 4096, TRUE);
    m->channels = (int)scf_config_int(c, "channels", 3, 1, 4, FALSE);
    m->latent_size = m->image_size;
    m->latent_channels = m->channels;
    m->context_length = (int)scf_config_int(c, "context_length", 77, 2, 4096, FALSE);
    scf_model_read_settings(m, c, "unnamed", TRUE);

    scf_config unet, text;
    if (!scf_config_check(c, error))
        return FALSE;
    if (!scf_config_child(c, "unet", &unet) || !scf_config_child(c, "text_encoder", &text))
        return scf_config_check(c, error);
    gboolean ok = scf_unet_config_read(ucfg, &unet, error) &&
                  scf_clip_text_config_read(tcfg, &text, error);
    scf_config_clear(&unet);
    scf_config_clear(&text);
    return ok && scf_model_check_parts(m, ucfg, tcfg, c->path, error);
}

gboolean scf_model_build(scf_model *m, const scf_unet_config *ucfg,
                         const scf_clip_text_config *tcfg, gboolean trainable, GError **error)
{
    m->params = scf_params_new(m->be);
    scf_params_set_prefix(m->params, "unet.");
    m->unet = scf_unet_new(ucfg, m->params);
    scf_params_set_prefix(m->params, "text_encoder.");
    m->text = scf_clip_text_new(tcfg, m->params);
    scf_params_set_prefix(m->params, NULL);
    if (scf_tokenizer_vocab_size(m->tok) > tcfg->vocab_size) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_FORMAT,
                    "%s: the tokenizer has %d tokens, the text encoder's vocab_size is %d",
                    m->dir ? m->dir : m->name, scf_tokenizer_vocab_size(m->tok), tcfg->vocab_size);
        return FALSE;
    }
    return scf_params_allocate(m->params, trainable, error);
}

static scf_model *model_from_config(const char *json, const char *label, scf_backend *be,
                                    GError **error, scf_unet_config *ucfg,
                                    scf_clip_text_config *tcfg)
{
    scf_config c;
    if (!scf_config_load_data(&c, json, label, error))
        return NULL;
    scf_model *m = g_new0(scf_model, 1);
    m->be = be;
    m->config_json = g_strdup(json);
    gboolean ok = read_config(m, &c, ucfg, tcfg, error);
    scf_config_clear(&c);
    if (!ok) {
        scf_model_free(m);
        return NULL;
    }
    return m;
}

/* A1111 shows the first 10 hex digits of the weights file's SHA-256. */
void scf_model_hash_file(scf_model *m, const char *path)
{
    GMappedFile *file = g_mapped_file_new(path, FALSE, NULL);
    if (!file)
        return;
    g_autofree char *sum = g_compute_checksum_for_data(
        G_CHECKSUM_SHA256, (const guchar *)g_mapped_file_get_contents(file),
        g_mapped_file_get_length(file));
    g_strlcpy(m->hash, sum, sizeof m->hash);
    g_mapped_file_unref(file);
}

scf_model *scf_model_load(const char *dir, scf_backend *be, gboolean trainable, GError **error)
{
    g_autofree char *config_path = g_build_filename(dir, SCF_MODEL_CONFIG, NULL);
    g_autofree char *weights_path = g_build_filename(dir, SCF_MODEL_WEIGHTS, NULL);
    g_autofree char *json = NULL;
    GError *e = NULL;
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: not a model folder (no such folder)", dir);
        return NULL;
    }
    g_autofree char *index_path = g_build_filename(dir, SCF_PIPELINE_INDEX, NULL);
    if (!g_file_test(config_path, G_FILE_TEST_EXISTS) &&
        g_file_test(index_path, G_FILE_TEST_EXISTS))
        return scf_pipeline_load(dir, be, trainable, error);
    if (!g_file_get_contents(config_path, &json, NULL, &e)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot read: %s (and there is no %s of "
                    "a diffusers pipeline)", config_path, e->message, SCF_PIPELINE_INDEX);
        g_error_free(e);
        return NULL;
    }
    scf_unet_config ucfg;
    scf_clip_text_config tcfg;
    scf_model *m = model_from_config(json, config_path, be, error, &ucfg, &tcfg);
    if (!m)
        return NULL;
    m->dir = g_strdup(dir);
    m->tok = scf_tokenizer_load(dir, error);
    scf_safetensors *st = NULL;
    gboolean ok = m->tok && scf_model_build(m, &ucfg, &tcfg, trainable, error) &&
                  (st = scf_safetensors_open(weights_path, error)) &&
                  scf_params_load(m->params, st, NULL, FALSE, error);
    scf_safetensors_close(st);
    if (ok)
        scf_model_hash_file(m, weights_path);
    if (!ok) {
        scf_model_free(m);
        return NULL;
    }
    return m;
}

scf_model *scf_model_new(const char *config_json, scf_tokenizer *tok, scf_backend *be,
                         gboolean trainable, uint64_t seed, GError **error)
{
    scf_unet_config ucfg;
    scf_clip_text_config tcfg;
    scf_model *m = model_from_config(config_json, "model config", be, error, &ucfg, &tcfg);
    if (!m) {
        scf_tokenizer_free(tok);
        return NULL;
    }
    m->tok = tok;
    if (!scf_model_build(m, &ucfg, &tcfg, trainable, error)) {
        scf_model_free(m);
        return NULL;
    }
    scf_params_init(m->params, seed);
    return m;
}

static gboolean write_text(const char *dir, const char *name, const char *text, GError **error)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    scf_atomic_file f;
    FILE *fp = scf_atomic_file_open(&f, path, error);
    if (!fp)
        return FALSE;
    fputs(text, fp);
    return scf_atomic_file_commit(&f, error);
}

gboolean scf_model_save(scf_model *m, const char *dir, const float *weights, scf_dtype dtype,
                        const char *readme, GError **error)
{
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot create the folder: %s", dir,
                    g_strerror(errno));
        return FALSE;
    }
    if (scf_tokenizer_get_kind(m->tok) != SCF_TOKENIZER_WORD) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED,
                    "%s: saving models with a CLIP tokenizer is not supported yet", dir);
        return FALSE;
    }
    g_autofree char *weights_path = g_build_filename(dir, SCF_MODEL_WEIGHTS, NULL);
    scf_safetensors_writer *w = scf_safetensors_writer_new();
    scf_safetensors_writer_set_metadata(w, "format", "pt");
    gboolean ok = scf_params_write_buffer(m->params, weights ? weights : m->params->data, w, NULL,
                                          dtype, error) &&
                  scf_safetensors_writer_save(w, weights_path, error);
    scf_safetensors_writer_free(w);
    ok = ok && write_text(dir, SCF_MODEL_CONFIG, m->config_json, error) &&
         scf_tokenizer_save(m->tok, dir, error) &&
         (!readme || write_text(dir, "README.md", readme, error));
    if (ok)
        scf_model_hash_file(m, weights_path);
    return ok;
}

void scf_model_free(scf_model *m)
{
    if (!m)
        return;
    scf_unet_free(m->unet);
    scf_clip_text_free(m->text);
    scf_params_free(m->params);
    scf_vae_free(m->vae);
    scf_params_free(m->vae_params);
    scf_tokenizer_free(m->tok);
    g_free(m->dir);
    g_free(m->name);
    g_free(m->kind);
    g_free(m->config_json);
    g_free(m);
}

scf_var *scf_model_encode_text(scf_model *m, scf_graph *g, const char *const *prompts, int B)
{
    const int T = m->context_length;
    int32_t *host = g_new(int32_t, (size_t)B * T);
    gboolean ok = TRUE;
    for (int b = 0; ok && b < B; b++)
        ok = scf_tokenizer_encode(m->tok, prompts[b] ? prompts[b] : "", host + (size_t)b * T, T,
                                  NULL, NULL);
    int32_t *ids = ok ? scf_graph_scratch(g, (size_t)B * T * sizeof(int32_t)) : NULL;
    if (ids)
        m->be->upload(m->be, ids, host, (size_t)B * T * sizeof(int32_t));
    g_free(host);
    return ids ? scf_clip_text_forward(m->text, g, ids, B, T) : NULL;
}

scf_var *scf_model_velocity(scf_model *m, scf_graph *g, scf_var *x, scf_var *tau, scf_var *context)
{
    scf_var *t = m->time_scale == 1.0f ? tau : scf_scale(g, tau, m->time_scale);
    scf_var *out = scf_unet_forward(m->unet, g, x, t, context);
    return m->velocity_sign == 1.0f ? out : scf_scale(g, out, m->velocity_sign);
}

scf_var *scf_model_decode(scf_model *m, scf_graph *g, scf_var *z)
{
    if (!m->vae)
        return z;
    const float scaling = scf_vae_get_config(m->vae)->scaling_factor;
    return scf_vae_decode(m->vae, g, scf_scale(g, z, 1.0f / scaling));
}

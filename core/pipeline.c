/* Loading a diffusers text-to-image pipeline folder as a latent model (the
 * format is described in model.h). */
#include "model_private.h"
#include "error.h"
#include "safetensors.h"
#include <string.h>

/* The parts a text-to-image pipeline needs and the classes that implement
 * them here (model_index.json: "part": ["library", "Class"]). */
static const struct {
    const char *part;
    const char *classes[3];
} parts[] = {
    { "unet", { "UNet2DConditionModel" } },
    { "text_encoder", { "CLIPTextModel" } },
    { "tokenizer", { "CLIPTokenizer", "CLIPTokenizerFast" } },
    { "vae", { "AutoencoderKL" } },
};

static gboolean class_supported(int part, const char *cls)
{
    for (int i = 0; i < 3 && parts[part].classes[i]; i++)
        if (strcmp(parts[part].classes[i], cls) == 0)
            return TRUE;
    return FALSE;
}

/* model_index.json names every part with a supported class, and each has
 * its folder; *json gets the file's text. */
static gboolean check_index(const char *dir, char **json, GError **error)
{
    g_autofree char *path = g_build_filename(dir, SCF_PIPELINE_INDEX, NULL);
    GError *e = NULL;
    if (!g_file_get_contents(path, json, NULL, &e)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO, "%s: cannot read: %s", path, e->message);
        g_error_free(e);
        return FALSE;
    }
    scf_config c;
    if (!scf_config_load_data(&c, *json, path, error))
        return FALSE;
    for (int i = 0; i < (int)G_N_ELEMENTS(parts) && !c.error; i++) {
        const char *part = parts[i].part;
        g_auto(GStrv) entry = scf_config_string_list(&c, part, TRUE);
        if (!entry)
            break;
        if (g_strv_length(entry) != 2)
            scf_config_fail(&c, part, "expected [\"library\", \"Class\"], found %u entries",
                            g_strv_length(entry));
        else if (!class_supported(i, entry[1]))
            scf_config_fail(&c, part, "unsupported class '%s' (supported: %s%s%s)", entry[1],
                            parts[i].classes[0], parts[i].classes[1] ? ", " : "",
                            parts[i].classes[1] ? parts[i].classes[1] : "");
    }
    gboolean ok = scf_config_check(&c, error);
    scf_config_clear(&c);
    for (size_t i = 0; ok && i < G_N_ELEMENTS(parts); i++) {
        g_autofree char *sub = g_build_filename(dir, parts[i].part, NULL);
        if (!g_file_test(sub, G_FILE_TEST_IS_DIR)) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_IO,
                        "%s: missing folder %s/, which %s names", dir, parts[i].part,
                        SCF_PIPELINE_INDEX);
            ok = FALSE;
        }
    }
    return ok;
}

/* dir/part/config.json, parsed. */
static gboolean load_part_config(scf_config *c, const char *dir, const char *part, GError **error)
{
    g_autofree char *path = g_build_filename(dir, part, SCF_MODEL_CONFIG, NULL);
    return scf_config_load(c, path, error);
}

/* stem.safetensors, else diffusers' fp16 variant stem.fp16.safetensors. */
static char *weights_path(const char *dir, const char *part, const char *stem, GError **error)
{
    static const char *const suffixes[] = { ".safetensors", ".fp16.safetensors" };
    for (size_t i = 0; i < G_N_ELEMENTS(suffixes); i++) {
        g_autofree char *name = g_strconcat(stem, suffixes[i], NULL);
        char *path = g_build_filename(dir, part, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
            return path;
        g_free(path);
    }
    g_autofree char *bin = g_strconcat(stem, ".bin", NULL);
    g_autofree char *bin_path = g_build_filename(dir, part, bin, NULL);
    g_autofree char *folder = g_build_filename(dir, part, NULL);
    if (g_file_test(bin_path, G_FILE_TEST_IS_REGULAR))
        g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED,
                    "%s: only %s, pickled PyTorch weights, which are not read here: convert "
                    "them to %s.safetensors", folder, bin, stem);
    else
        g_set_error(error, SCF_ERROR, SCF_ERROR_IO,
                    "%s: no %s.safetensors (nor %s.fp16.safetensors)", folder, stem, stem);
    return NULL;
}

/* The configs of the parts, and what the model takes from them. */
static gboolean read_configs(scf_model *m, const char *dir, scf_unet_config *ucfg,
                             scf_clip_text_config *tcfg, scf_vae_config *vcfg, GError **error)
{
    scf_config c;
    gboolean ok = load_part_config(&c, dir, "unet", error);
    ok = ok && scf_unet_config_read(ucfg, &c, error);
    scf_config_clear(&c);
    ok = ok && load_part_config(&c, dir, "text_encoder", error);
    ok = ok && scf_clip_text_config_read(tcfg, &c, error);
    scf_config_clear(&c);
    ok = ok && load_part_config(&c, dir, "vae", error);
    ok = ok && scf_vae_config_read(vcfg, &c, error);
    scf_config_clear(&c);
    if (!ok)
        return FALSE;
    /* diffusers' pipelines make images of unet sample_size latents */
    m->latent_size = ucfg->sample_size;
    m->latent_channels = vcfg->latent_channels;
    m->image_size = ucfg->sample_size * scf_vae_config_upscale(vcfg);
    m->channels = vcfg->out_channels;
    /* prompts are padded to the tokenizer's model_max_length, capped by the
     * text encoder's positions (transformers writes a huge number when a
     * tokenizer has no length of its own) */
    m->context_length = tcfg->max_positions;
    g_autofree char *tok_path = g_build_filename(dir, "tokenizer", "tokenizer_config.json", NULL);
    if (g_file_test(tok_path, G_FILE_TEST_EXISTS)) {
        if (!scf_config_load(&c, tok_path, error))
            return FALSE;
        double max_len = scf_config_double(&c, "model_max_length", tcfg->max_positions, 2, 1e308,
                                           FALSE);
        ok = scf_config_check(&c, error);
        scf_config_clear(&c);
        m->context_length = (int)MIN(max_len, (double)tcfg->max_positions);
    }
    return ok;
}

/* The optional scflow.json: name, kind, flow convention, defaults. */
static gboolean read_settings(scf_model *m, const char *dir, GError **error)
{
    g_autofree char *path = g_build_filename(dir, SCF_PIPELINE_SETTINGS, NULL);
    g_autofree char *folder_name = g_path_get_basename(dir);
    /* SD1.5-family rectified flows (model.h): the UNet takes 1000 tau and
     * returns -v */
    m->velocity_sign = -1.0f;
    m->time_scale = 1000.0f;
    scf_config c = { 0 };   /* an empty config gives every default */
    if (g_file_test(path, G_FILE_TEST_EXISTS) && !scf_config_load(&c, path, error))
        return FALSE;
    scf_model_read_settings(m, &c, folder_name, FALSE);
    gboolean ok = scf_config_check(&c, error);
    scf_config_clear(&c);
    return ok;
}

/* Loads the parameters named model_prefix* from the file at path, whose
 * names are diffusers' or, with transformers_names, those of transformers. */
static gboolean load_weights(scf_params *p, const char *path, const char *model_prefix,
                             gboolean transformers_names, GError **error)
{
    scf_safetensors *st = scf_safetensors_open(path, error);
    const char *file_prefix = st && transformers_names ? scf_clip_text_weights_prefix(st) : "";
    gboolean ok = st && scf_params_load_part(p, st, model_prefix, file_prefix, FALSE, error);
    scf_safetensors_close(st);
    return ok;
}

/* The decoder's parameters, named as the file names the attention. */
static gboolean build_vae(scf_model *m, const scf_vae_config *vcfg, const char *path,
                          GError **error)
{
    scf_safetensors *st = scf_safetensors_open(path, error);
    if (!st)
        return FALSE;
    m->vae_params = scf_params_new(m->be);
    m->vae = scf_vae_new(vcfg, m->vae_params, scf_vae_weights_names(st));
    /* the encoder's tensors (and quant_conv) are the file's, not the decoder's */
    gboolean ok = scf_params_allocate(m->vae_params, FALSE, error) &&
                  scf_params_load(m->vae_params, st, "", TRUE, error);
    scf_safetensors_close(st);
    return ok;
}

scf_model *scf_pipeline_load(const char *dir, scf_backend *be, gboolean trainable, GError **error)
{
    if (trainable) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED,
                    "%s: a diffusers pipeline (a latent model) can only sample here; training "
                    "and distillation work on pixel-space models", dir);
        return NULL;
    }
    scf_model *m = g_new0(scf_model, 1);
    m->be = be;
    m->dir = g_strdup(dir);
    scf_unet_config ucfg;
    scf_clip_text_config tcfg;
    scf_vae_config vcfg;
    g_autofree char *tok_dir = g_build_filename(dir, "tokenizer", NULL);
    g_autofree char *unet_path = NULL, *text_path = NULL, *vae_path = NULL;
    gboolean ok = check_index(dir, &m->config_json, error) &&
                  read_settings(m, dir, error) &&
                  read_configs(m, dir, &ucfg, &tcfg, &vcfg, error) &&
                  (unet_path = weights_path(dir, "unet", "diffusion_pytorch_model", error)) &&
                  (text_path = weights_path(dir, "text_encoder", "model", error)) &&
                  (vae_path = weights_path(dir, "vae", "diffusion_pytorch_model", error)) &&
                  (m->tok = scf_tokenizer_load(tok_dir, error)) &&
                  build_vae(m, &vcfg, vae_path, error) &&
                  scf_model_check_parts(m, &ucfg, &tcfg, dir, error) &&
                  scf_model_build(m, &ucfg, &tcfg, FALSE, error) &&
                  load_weights(m->params, unet_path, "unet.", FALSE, error) &&
                  load_weights(m->params, text_path, "text_encoder.", TRUE, error);
    if (!ok) {
        scf_model_free(m);
        return NULL;
    }
    scf_model_hash_file(m, unet_path);
    return m;
}

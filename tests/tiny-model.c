#include "tiny-model.h"
#include "scflow.h"

/* emoji-32-teacher.json shrunk until a step costs a few milliseconds. */
static const char tiny_config[] =
    "{\"format\": \"scflow-model\", \"format_version\": 1, \"name\": \"%s\","
    " \"kind\": \"%s\", \"space\": \"pixel\", \"image_size\": 32, \"channels\": 3,"
    " \"context_length\": 16, \"flow\": {\"velocity_sign\": 1, \"time_scale\": 1000},"
    " \"defaults\": {\"steps\": %d, \"guidance\": %s},"
    " \"unet\": {\"sample_size\": 32, \"in_channels\": 3, \"out_channels\": 3,"
    "  \"block_out_channels\": [32, 32, 32], \"layers_per_block\": 1,"
    "  \"down_block_types\": [\"DownBlock2D\", \"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\"],"
    "  \"up_block_types\": [\"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\", \"UpBlock2D\"],"
    "  \"mid_block_type\": \"UNetMidBlock2DCrossAttn\", \"attention_head_dim\": 4,"
    "  \"cross_attention_dim\": 32, \"norm_num_groups\": 8, \"norm_eps\": 1e-05,"
    "  \"flip_sin_to_cos\": true, \"freq_shift\": 0},"
    " \"text_encoder\": {\"vocab_size\": 64, \"hidden_size\": 32, \"intermediate_size\": 64,"
    "  \"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"max_position_embeddings\": 16,"
    "  \"hidden_act\": \"gelu\", \"layer_norm_eps\": 1e-05}}";

static const char *const tiny_captions[] = {
    "grinning face", "thumbs up: medium skin tone", "red heart", "cat face",
    "woman technologist: dark skin tone", "rocket",
};

gboolean chk_tiny_model_write(const char *parent, const char *name, int default_steps,
                              double default_guidance, GError **error)
{
    char guidance[G_ASCII_DTOSTR_BUF_SIZE];
    g_ascii_dtostr(guidance, sizeof guidance, default_guidance);
    g_autofree char *config = g_strdup_printf(tiny_config, name,
                                              default_steps == 1 ? "student" : "teacher",
                                              default_steps, guidance);
    scf_tokenizer *tok = scf_tokenizer_build_word(tiny_captions, G_N_ELEMENTS(tiny_captions), TRUE,
                                                  1, error);
    if (!tok)
        return FALSE;
    scf_backend *be = scf_device_open("cpu", 0, NULL, error);
    if (!be) {
        scf_tokenizer_free(tok);
        return FALSE;
    }
    scf_model *m = scf_model_new(config, tok, be, FALSE, 7, error);
    g_autofree char *dir = g_build_filename(parent, name, NULL);
    gboolean ok = m && scf_model_save(m, dir, NULL, SCF_DTYPE_F32, NULL, error);
    scf_model_free(m);
    scf_backend_free(be);
    return ok;
}

/* The evaluation results as JSON and as a markdown table (eval.h). */
#include "eval.h"
#include "config.h"
#include <json-glib/json-glib.h>
#include <math.h>

static const char *const split_keys[SCF_EVAL_N_SPLITS] = { "train", "held_out" };

static void add_number(JsonBuilder *b, const char *name, double v)
{
    json_builder_set_member_name(b, name);
    if (isfinite(v))
        json_builder_add_double_value(b, v);
    else
        json_builder_add_null_value(b);
}

static void add_int(JsonBuilder *b, const char *name, gint64 v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

static void add_string(JsonBuilder *b, const char *name, const char *v)
{
    json_builder_set_member_name(b, name);
    if (v)
        json_builder_add_string_value(b, v);
    else
        json_builder_add_null_value(b);
}

static void add_splits(JsonBuilder *b, const char *name, const int *v)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    for (int s = 0; s < SCF_EVAL_N_SPLITS; s++)
        add_int(b, split_keys[s], v[s]);
    json_builder_end_object(b);
}

static void add_model(JsonBuilder *b, const char *role, const char *name, const char *hash)
{
    json_builder_set_member_name(b, role);
    if (!name) {
        json_builder_add_null_value(b);
        return;
    }
    json_builder_begin_object(b);
    add_string(b, "name", name);
    add_string(b, "hash", hash);
    json_builder_end_object(b);
}

static void add_row(JsonBuilder *b, const scf_eval_row *row)
{
    json_builder_begin_object(b);
    add_string(b, "label", row->label);
    add_string(b, "role", row->teacher ? "teacher" : "model");
    add_int(b, "steps", row->steps);
    add_number(b, "guidance", row->guidance);
    add_int(b, "consistency_reference_steps", row->reference_steps);
    add_number(b, "consistency_mad", row->consistency_mad);
    add_number(b, "consistency_psnr", row->consistency_psnr);
    json_builder_set_member_name(b, "consistency");
    json_builder_begin_array(b);
    for (int i = 0; i < row->n_consistency; i++) {
        json_builder_begin_object(b);
        add_int(b, "steps", row->consistency[i].steps);
        add_number(b, "mad", row->consistency[i].mad);
        add_number(b, "psnr", row->consistency[i].psnr);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    add_number(b, "laplacian_variance", row->laplacian_variance);
    add_number(b, "blur_ratio", row->blur_ratio);
    add_number(b, "saturation", row->saturation);
    add_number(b, "saturation_ratio", row->saturation_ratio);
    add_number(b, "clipped_fraction", row->clipped_fraction);
    for (int s = 0; s < SCF_EVAL_N_SPLITS; s++) {
        json_builder_set_member_name(b, split_keys[s]);
        json_builder_begin_object(b);
        add_number(b, "psnr", row->psnr[s]);
        add_number(b, "retrieval_accuracy", row->retrieval[s]);
        json_builder_set_member_name(b, "misses");
        json_builder_begin_array(b);
        for (int i = 0; i < row->n_misses[s]; i++) {
            json_builder_begin_object(b);
            add_string(b, "prompt", row->miss_prompt[s][i]);
            add_string(b, "nearest", row->miss_nearest[s][i]);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
    }
    add_number(b, "images_per_s", row->images_per_s);
    json_builder_end_object(b);
}

char *scf_eval_results_to_json(const scf_eval_results *r)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    add_string(b, "format", "scflow-eval");
    add_int(b, "format_version", 1);
    add_model(b, "model", r->model_name, r->model_hash);
    add_model(b, "teacher", r->teacher_name, r->teacher_hash);
    add_string(b, "data", r->data_dir);
    add_int(b, "image_size", r->image_size);
    add_string(b, "device", r->device);
    add_int(b, "seed", (gint64)r->options.seed);
    add_int(b, "limit", r->options.limit);
    add_number(b, "guidance", r->options.guidance >= 0 ? r->options.guidance : NAN);
    add_int(b, "speed_batch", r->options.speed_batch);
    add_splits(b, "prompts", r->n_prompts);
    add_splits(b, "available", r->n_available);
    add_int(b, "reference_images", r->n_reference);
    json_builder_set_member_name(b, "real");
    json_builder_begin_object(b);
    add_number(b, "laplacian_variance", r->real_laplacian_variance);
    add_number(b, "saturation", r->real_saturation);
    add_number(b, "clipped_fraction", r->real_clipped_fraction);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "rows");
    json_builder_begin_array(b);
    for (int i = 0; i < r->n_rows; i++)
        add_row(b, &r->rows[i]);
    json_builder_end_array(b);
    add_number(b, "seconds", r->seconds);
    json_builder_end_object(b);

    g_autoptr(JsonNode) root = json_builder_get_root(b);
    char *text = scf_json_to_string(root, TRUE, NULL);
    char *with_newline = g_strconcat(text, "\n", NULL);
    g_free(text);
    return with_newline;
}

/* A cell: the value in fmt, or an em dash where it does not apply. */
static void cell(GString *s, const char *fmt, double v)
{
    g_string_append(s, " | ");
    if (isfinite(v))
        g_string_append_printf(s, fmt, v);
    else
        g_string_append(s, "—");
}

char *scf_eval_results_to_markdown(const scf_eval_results *r)
{
    GString *s = g_string_new(NULL);
    g_string_append_printf(s, "# Evaluation of %s", r->model_name);
    if (r->teacher_name)
        g_string_append_printf(s, " (teacher %s)", r->teacher_name);
    g_string_append_printf(s,
                           "\n\nData: `%s` at %d×%d: %d training prompts of %d and %d held-out "
                           "of %d; "
                           "retrieval among all %d real images. Seed %" G_GUINT64_FORMAT
                           ", one noise per prompt shared by every row. Device: %s. "
                           "Evaluation took %.1f s.\n\n",
                           r->data_dir, r->image_size, r->image_size, r->n_prompts[SCF_EVAL_TRAIN],
                           r->n_available[SCF_EVAL_TRAIN], r->n_prompts[SCF_EVAL_HELD_OUT],
                           r->n_available[SCF_EVAL_HELD_OUT], r->n_reference, r->options.seed,
                           r->device, r->seconds);
    g_string_append_printf(s,
                           "Real images of these prompts: Laplacian variance %.5f, mean saturation "
                           "%.4f, clipped %.3f%% (the ratios below divide by these).\n\n",
                           r->real_laplacian_variance, r->real_saturation,
                           100 * r->real_clipped_fraction);
    g_string_append(s, "| model@N | guidance | MAD to largest N | PSNR to largest N | blur ratio | "
                       "saturation ratio | clipped | PSNR train | retrieval train | "
                       "PSNR held-out | retrieval held-out | images/s |\n");
    g_string_append(s, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
                       "---: | ---: |\n");
    for (int i = 0; i < r->n_rows; i++) {
        const scf_eval_row *row = &r->rows[i];
        g_string_append_printf(s, "| %s", row->label);
        cell(s, "%.2f", row->guidance);
        cell(s, "%.4f", row->consistency_mad);
        cell(s, "%.2f dB", row->consistency_psnr);
        cell(s, "%.3f", row->blur_ratio);
        cell(s, "%.3f", row->saturation_ratio);
        cell(s, "%.3f%%", 100 * row->clipped_fraction);
        cell(s, "%.2f dB", row->psnr[SCF_EVAL_TRAIN]);
        cell(s, "%.1f%%", 100 * row->retrieval[SCF_EVAL_TRAIN]);
        cell(s, "%.2f dB", row->psnr[SCF_EVAL_HELD_OUT]);
        cell(s, "%.1f%%", 100 * row->retrieval[SCF_EVAL_HELD_OUT]);
        cell(s, "%.1f", row->images_per_s);
        g_string_append(s, " |\n");
    }
    g_string_append(s, "\nStep consistency, every pair of step counts of one model (mean over "
                       "prompts, same noise):\n\n| model | N | vs N | MAD | PSNR |\n"
                       "| --- | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < r->n_rows; i++) {
        const scf_eval_row *row = &r->rows[i];
        for (int k = 0; k < row->n_consistency; k++) {
            const scf_eval_consistency *c = &row->consistency[k];
            if (c->steps < row->steps)
                continue; /* each pair once */
            g_string_append_printf(s, "| %s%s | %d | %d",
                                   row->teacher ? r->teacher_name : r->model_name,
                                   row->teacher ? " (teacher)" : "", row->steps, c->steps);
            cell(s, "%.4f", c->mad);
            cell(s, "%.2f dB", c->psnr);
            g_string_append(s, " |\n");
        }
    }
    return g_string_free(s, FALSE);
}

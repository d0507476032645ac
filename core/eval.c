#include "eval.h"
#include "dataset.h"
#include "error.h"
#include "metrics.h"
#include "sampler.h"
#include <math.h>
#include <string.h>

#define MAX_BATCH 64
#define MIN_TIMING_S 0.3

void scf_eval_options_defaults(scf_eval_options *o)
{
    *o = (scf_eval_options){
        .steps = { 1, 2, 4 }, .n_steps = 3, .limit = 200, .guidance = -1, .speed_batch = 16,
        .grid = 16,
    };
}

static gboolean check_steps(const char *what, const int *steps, int n, int min_n, GError **error)
{
    if (n < min_n || n > SCF_EVAL_MAX_STEPS) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "%s: give %d to %d step counts, not %d",
                    what, MAX(min_n, 1), SCF_EVAL_MAX_STEPS, n);
        return FALSE;
    }
    for (int i = 0; i < n; i++) {
        if (steps[i] < 1 || steps[i] > 1000) {
            g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                        "%s: %d is not a step count (1 to 1000)", what, steps[i]);
            return FALSE;
        }
        for (int j = 0; j < i; j++)
            if (steps[j] == steps[i]) {
                g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "%s: %d is listed twice", what,
                            steps[i]);
                return FALSE;
            }
    }
    return TRUE;
}

gboolean scf_eval_options_check(const scf_eval_options *o, GError **error)
{
    if (!check_steps("steps", o->steps, o->n_steps, 1, error) ||
        !check_steps("teacher steps", o->teacher_steps, o->n_teacher_steps, 0, error))
        return FALSE;
    const char *bad = NULL;
    if (o->limit < 1)
        bad = "limit: must be at least 1 prompt per subset";
    else if (o->speed_batch < 0 || o->speed_batch > MAX_BATCH)
        bad = "speed batch: must be 0 (no timing) to 64 images";
    else if (o->grid < 0 || o->grid > MAX_BATCH)
        bad = "grid: must be 0 to 64 prompts";
    else if (!(o->guidance <= 100))
        bad = "guidance: must be at most 100 (negative: each model's default)";
    if (bad)
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID, "evaluation options: %s", bad);
    return !bad;
}

void scf_eval_results_clear(scf_eval_results *r)
{
    for (int i = 0; i < r->n_rows; i++) {
        g_free(r->rows[i].label);
        for (int s = 0; s < SCF_EVAL_N_SPLITS; s++) {
            g_free(r->rows[i].grid[s]);
            g_strfreev(r->rows[i].miss_prompt[s]);
            g_strfreev(r->rows[i].miss_nearest[s]);
        }
    }
    g_free(r->rows);
    for (int s = 0; s < SCF_EVAL_N_SPLITS; s++) {
        g_strfreev(r->grid_captions[s]);
        g_free(r->grid_real[s]);
    }
    g_free(r->model_name);
    g_free(r->model_hash);
    g_free(r->teacher_name);
    g_free(r->teacher_hash);
    g_free(r->data_dir);
    g_free(r->device);
    memset(r, 0, sizeof *r);
}

/* ---- the real images ------------------------------------------------------ */

typedef struct {
    scf_dataset *all;
    int n_ref;
    float *refs;            /* every image of the folder, CHW */
    int *prompts;           /* indices into refs: training prompts, then held-out ones */
    int n[SCF_EVAL_N_SPLITS];
    size_t img;
} eval_data;

static void eval_data_clear(eval_data *d)
{
    scf_dataset_free(d->all);
    g_free(d->refs);
    g_free(d->prompts);
}

/* Items floor(k * count / m), k < m = min(limit, count): evenly spread. */
static int pick_evenly(const int *items, int count, int limit, int *out)
{
    int m = MIN(limit, count);
    for (int k = 0; k < m; k++)
        out[k] = items[(int64_t)k * count / m];
    return m;
}

static gboolean eval_data_open(eval_data *d, const char *dir, int size, int limit,
                               scf_eval_results *r, GError **error)
{
    /* the training subset says which of all the images are held out */
    g_autoptr(scf_dataset) train = scf_dataset_open(dir, size, SCF_DATASET_TRAIN, 0, error);
    if (!train)
        return FALSE;
    d->all = scf_dataset_open(dir, size, SCF_DATASET_ALL, 0, error);
    if (!d->all)
        return FALSE;
    g_autoptr(GHashTable) is_train = g_hash_table_new(g_str_hash, g_str_equal);
    for (int i = 0; i < scf_dataset_count(train); i++)
        g_hash_table_add(is_train, (gpointer)scf_dataset_file(train, i));
    d->n_ref = scf_dataset_count(d->all);
    d->img = (size_t)3 * size * size;
    d->refs = g_new(float, (size_t)d->n_ref * d->img);
    int *by_split[SCF_EVAL_N_SPLITS] = { g_new(int, d->n_ref), g_new(int, d->n_ref) };
    int count[SCF_EVAL_N_SPLITS] = { 0 };
    for (int i = 0; i < d->n_ref; i++) {
        scf_dataset_image_chw(d->all, i, d->refs + (size_t)i * d->img);
        int s = g_hash_table_contains(is_train, scf_dataset_file(d->all, i)) ? SCF_EVAL_TRAIN
                                                                               : SCF_EVAL_HELD_OUT;
        by_split[s][count[s]++] = i;
    }
    d->prompts = g_new(int, 2 * (size_t)MIN(limit, d->n_ref));
    int p = 0;
    for (int s = 0; s < SCF_EVAL_N_SPLITS; s++) {
        d->n[s] = pick_evenly(by_split[s], count[s], limit, d->prompts + p);
        p += d->n[s];
        r->n_available[s] = count[s];
        r->n_prompts[s] = d->n[s];
        g_free(by_split[s]);
    }
    r->n_reference = d->n_ref;
    return TRUE;
}

static const char *prompt_caption(const eval_data *d, int p)
{
    return scf_dataset_caption(d->all, d->prompts[p]);
}

static const float *prompt_real(const eval_data *d, int p)
{
    return d->refs + (size_t)d->prompts[p] * d->img;
}

static int prompt_split(const eval_data *d, int p)
{
    return p < d->n[SCF_EVAL_TRAIN] ? SCF_EVAL_TRAIN : SCF_EVAL_HELD_OUT;
}

/* The first `grid` prompts of each subset: captions and real images. */
static void keep_grid_prompts(const eval_data *d, int grid, scf_eval_results *r)
{
    for (int s = 0, first = 0; s < SCF_EVAL_N_SPLITS; first += d->n[s], s++) {
        int n = MIN(grid, d->n[s]);
        r->n_grid[s] = n;
        r->grid_captions[s] = g_new0(char *, n + 1);
        r->grid_real[s] = n ? g_new(float, n * d->img) : NULL;
        for (int k = 0; k < n; k++) {
            r->grid_captions[s][k] = g_strdup(prompt_caption(d, first + k));
            memcpy(r->grid_real[s] + k * d->img, prompt_real(d, first + k), d->img * sizeof(float));
        }
    }
}

/* Per-image figures, computed in parallel and summed in prompt order so
 * that results do not depend on thread timing. */
typedef struct {
    double laplacian, saturation, clipped, psnr;
    int nearest;            /* index into refs */
    gboolean retrieved;
} image_stats;

static void stats_of(const eval_data *d, const float *x, int p, int size, gboolean vs_real,
                     image_stats *st)
{
    st->laplacian = scf_metric_laplacian_variance(x, size, size);
    st->saturation = scf_metric_mean_saturation(x, size, size);
    st->clipped = scf_metric_clipped_fraction(x, d->img);
    if (vs_real) {
        st->psnr = scf_metric_psnr(x, prompt_real(d, p), d->img);
        st->nearest = scf_metric_nearest(x, d->refs, d->n_ref, d->img);
        st->retrieved = scf_metric_retrieved(d->refs, d->n_ref, d->img, st->nearest, d->prompts[p]);
    }
}

/* images: P images one after another, or NULL for the real ones */
static image_stats *stats_all(const eval_data *d, const float *images, int size)
{
    const int P = d->n[0] + d->n[1];
    image_stats *st = g_new0(image_stats, P);
    #pragma omp parallel for schedule(dynamic)
    for (int p = 0; p < P; p++)
        stats_of(d, images ? images + (size_t)p * d->img : prompt_real(d, p), p, size,
                 images != NULL, &st[p]);
    return st;
}

static void measure_real(const eval_data *d, int size, scf_eval_results *r)
{
    const int P = d->n[0] + d->n[1];
    image_stats *st = stats_all(d, NULL, size);
    double lap = 0, sat = 0, clip = 0;
    for (int p = 0; p < P; p++) {
        lap += st[p].laplacian;
        sat += st[p].saturation;
        clip += st[p].clipped;
    }
    g_free(st);
    r->real_laplacian_variance = lap / P;
    r->real_saturation = sat / P;
    r->real_clipped_fraction = clip / P;
}

/* ---- progress ------------------------------------------------------------- */

typedef struct {
    scf_eval_progress_fn fn;
    gpointer user;
    scf_eval_progress p;
    double units_done, units_total;   /* image-steps */
    int batch;                        /* images of the running sampler call; 0 = uncounted */
    gint64 t0;
} eval_progress;

static gboolean on_step(int step, int steps, gpointer user)
{
    eval_progress *e = user;
    e->units_done += e->batch;
    if (step == steps)
        e->p.images_done += e->batch;
    if (!e->fn)
        return TRUE;
    e->p.fraction = e->units_total > 0 ? MIN(1.0, e->units_done / e->units_total) : 1;
    double elapsed = (g_get_monotonic_time() - e->t0) / 1e6;
    e->p.eta_s = e->p.fraction > 0 ? elapsed * (1 - e->p.fraction) / e->p.fraction : 0;
    return e->fn(&e->p, e->user);
}

static gboolean sample(scf_sampler *s, const scf_sample_request *req, float *out,
                       eval_progress *e, GError **error)
{
    if (scf_sampler_run(s, req, out, on_step, e, error))
        return TRUE;
    if (g_error_matches(*error, SCF_ERROR, SCF_ERROR_CANCELLED)) {
        g_clear_error(error);
        g_set_error(error, SCF_ERROR, SCF_ERROR_CANCELLED, "evaluation cancelled at %s",
                    e->p.label);
    }
    return FALSE;
}

/* ---- one model ------------------------------------------------------------ */

typedef struct {
    scf_model *m;
    const int *steps;
    int n_steps;
    float guidance;
    scf_eval_row *rows;
} eval_model;

static double ratio(double sample, double real)
{
    return real > 0 ? sample / real : NAN;
}

static void measure_row(const eval_data *d, const eval_model *em, const float *samples, int k,
                        int size, const scf_eval_results *r, scf_eval_row *row)
{
    const int P = d->n[0] + d->n[1];
    const size_t img = d->img;
    const float *mine = samples + (size_t)k * P * img;
    image_stats *st = stats_all(d, mine, size);
    double lap = 0, sat = 0, clip = 0, psnr[SCF_EVAL_N_SPLITS] = { 0 },
           hits[SCF_EVAL_N_SPLITS] = { 0 };
    GPtrArray *missed[SCF_EVAL_N_SPLITS][2];
    for (int s = 0; s < SCF_EVAL_N_SPLITS; s++)
        for (int j = 0; j < 2; j++)
            missed[s][j] = g_ptr_array_new();
    for (int p = 0; p < P; p++) {
        int s = prompt_split(d, p);
        lap += st[p].laplacian;
        sat += st[p].saturation;
        clip += st[p].clipped;
        psnr[s] += st[p].psnr;
        hits[s] += st[p].retrieved;
        if (!st[p].retrieved) {
            g_ptr_array_add(missed[s][0], g_strdup(prompt_caption(d, p)));
            g_ptr_array_add(missed[s][1], g_strdup(scf_dataset_caption(d->all, st[p].nearest)));
        }
    }
    g_free(st);
    for (int s = 0; s < SCF_EVAL_N_SPLITS; s++) {
        row->n_misses[s] = missed[s][0]->len;
        for (int j = 0; j < 2; j++)
            g_ptr_array_add(missed[s][j], NULL);
        row->miss_prompt[s] = (char **)g_ptr_array_free(missed[s][0], FALSE);
        row->miss_nearest[s] = (char **)g_ptr_array_free(missed[s][1], FALSE);
    }
    row->laplacian_variance = lap / P;
    row->saturation = sat / P;
    row->clipped_fraction = clip / P;
    row->blur_ratio = ratio(row->laplacian_variance, r->real_laplacian_variance);
    row->saturation_ratio = ratio(row->saturation, r->real_saturation);
    for (int s = 0; s < SCF_EVAL_N_SPLITS; s++) {
        row->psnr[s] = d->n[s] ? psnr[s] / d->n[s] : NAN;
        row->retrieval[s] = d->n[s] ? hits[s] / d->n[s] : NAN;
    }

    row->consistency_mad = row->consistency_psnr = NAN;
    row->n_consistency = 0;
    for (int k2 = 0; k2 < em->n_steps; k2++) {
        if (k2 == k)
            continue;
        const float *other = samples + (size_t)k2 * P * img;
        double mad = 0, ps = 0;
        for (int p = 0; p < P; p++) {
            mad += scf_metric_mad(mine + (size_t)p * img, other + (size_t)p * img, img);
            ps += scf_metric_psnr(mine + (size_t)p * img, other + (size_t)p * img, img);
        }
        scf_eval_consistency c = { em->steps[k2], mad / P, ps / P };
        row->consistency[row->n_consistency++] = c;
        if (c.steps == row->reference_steps) {
            row->consistency_mad = c.mad;
            row->consistency_psnr = c.psnr;
        }
    }

    for (int s = 0, first = 0; s < SCF_EVAL_N_SPLITS; first += d->n[s], s++)
        row->grid[s] = r->n_grid[s] ? g_memdup2(mine + (size_t)first * img,
                                                r->n_grid[s] * img * sizeof(float))
                                    : NULL;
}

/* images/s for a batch of the first prompt at each N; the first call at a
 * new batch size sizes the sampler's memory, so a one-step batch goes first */
static gboolean time_rows(scf_sampler *s, const eval_data *d, const eval_model *em, int B,
                          eval_progress *e, GError **error)
{
    float *out = g_new(float, (size_t)B * d->img);
    scf_sample_request req = { prompt_caption(d, 0), NULL, 1, em->guidance, 0, B };
    e->p.phase = "timing";
    e->p.label = em->rows[0].label;
    e->batch = B;
    gboolean ok = sample(s, &req, out, e, error);
    for (int k = 0; ok && k < em->n_steps; k++) {
        req.steps = em->steps[k];
        e->p.label = em->rows[k].label;
        e->batch = B;
        int reps = 0;
        gint64 t0 = g_get_monotonic_time();
        double elapsed;
        do {
            ok = sample(s, &req, out, e, error);
            e->batch = 0; /* repeats are beyond the planned work */
            reps++;
            elapsed = (g_get_monotonic_time() - t0) / 1e6;
        } while (ok && elapsed < MIN_TIMING_S);
        em->rows[k].images_per_s = ok ? B * reps / elapsed : NAN;
    }
    g_free(out);
    return ok;
}

static gboolean run_model(const eval_data *d, const eval_model *em, const scf_eval_options *o,
                          scf_eval_results *r, eval_progress *e, GError **error)
{
    const int P = d->n[0] + d->n[1];
    const int size = em->m->image_size;
    float *samples = g_new(float, (size_t)em->n_steps * P * d->img);
    scf_sampler *s = scf_sampler_new(em->m);
    gboolean ok = TRUE;
    e->p.phase = "sampling";
    /* every N of a prompt in a row, so its text embedding is computed once */
    for (int p = 0; ok && p < P; p++)
        for (int k = 0; ok && k < em->n_steps; k++) {
            scf_sample_request req = { prompt_caption(d, p), NULL, em->steps[k], em->guidance,
                                       o->seed + (uint64_t)p, 1 };
            e->p.label = em->rows[k].label;
            e->batch = 1;
            ok = sample(s, &req, samples + ((size_t)k * P + p) * d->img, e, error);
        }
    for (int k = 0; ok && k < em->n_steps; k++)
        measure_row(d, em, samples, k, size, r, &em->rows[k]);
    if (ok && o->speed_batch > 0)
        ok = time_rows(s, d, em, o->speed_batch, e, error);
    scf_sampler_free(s);
    g_free(samples);
    return ok;
}

static void init_rows(eval_model *em, gboolean teacher, scf_eval_row *rows)
{
    int largest = 0;
    for (int k = 0; k < em->n_steps; k++)
        largest = MAX(largest, em->steps[k]);
    em->rows = rows;
    for (int k = 0; k < em->n_steps; k++) {
        scf_eval_row *row = &rows[k];
        row->label = g_strdup_printf("%s@%d%s", em->m->name, em->steps[k],
                                     teacher ? " (teacher)" : "");
        row->teacher = teacher;
        row->steps = em->steps[k];
        row->guidance = em->guidance;
        row->reference_steps = largest;
        row->images_per_s = NAN;
    }
}

static gboolean check_models(scf_model *model, scf_model *teacher, GError **error)
{
    if (model->channels != 3) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_UNSUPPORTED,
                    "model %s makes %d-channel images; evaluation compares RGB images", model->name,
                    model->channels);
        return FALSE;
    }
    if (teacher &&
        (teacher->image_size != model->image_size || teacher->channels != model->channels)) {
        g_set_error(error, SCF_ERROR, SCF_ERROR_INVALID,
                    "teacher %s makes %dx%d images with %d channels, the model %s %dx%d with %d",
                    teacher->name, teacher->image_size, teacher->image_size, teacher->channels,
                    model->name, model->image_size, model->image_size, model->channels);
        return FALSE;
    }
    return TRUE;
}

gboolean scf_eval_run(scf_model *model, scf_model *teacher, const char *data_dir,
                      const scf_eval_options *o, scf_eval_results *r,
                      scf_eval_progress_fn progress, gpointer user, GError **error)
{
    memset(r, 0, sizeof *r);
    if (!scf_eval_options_check(o, error) || !check_models(model, teacher, error))
        return FALSE;
    const gint64 t0 = g_get_monotonic_time();
    eval_data d = { 0 };
    if (!eval_data_open(&d, data_dir, model->image_size, o->limit, r, error)) {
        eval_data_clear(&d);
        scf_eval_results_clear(r);
        return FALSE;
    }
    r->options = *o;
    r->model_name = g_strdup(model->name);
    r->model_hash = g_strdup(model->hash);
    r->teacher_name = teacher ? g_strdup(teacher->name) : NULL;
    r->teacher_hash = teacher ? g_strdup(teacher->hash) : NULL;
    r->data_dir = g_strdup(data_dir);
    r->device = g_strdup(model->be->name);
    r->image_size = model->image_size;
    r->channels = model->channels;
    keep_grid_prompts(&d, o->grid, r);
    measure_real(&d, model->image_size, r);

    int teacher_default = teacher ? teacher->default_steps : 0;
    eval_model models[2] = {
        { model, o->steps, o->n_steps, o->guidance >= 0 ? o->guidance : model->default_guidance },
        { teacher, o->n_teacher_steps ? o->teacher_steps : &teacher_default,
          o->n_teacher_steps ? o->n_teacher_steps : 1,
          teacher && o->guidance < 0 ? teacher->default_guidance : o->guidance },
    };
    const int n_models = teacher ? 2 : 1;
    r->n_rows = models[0].n_steps + (teacher ? models[1].n_steps : 0);
    r->rows = g_new0(scf_eval_row, r->n_rows);

    const int P = d.n[0] + d.n[1];
    eval_progress e = { progress, user, .t0 = t0 };
    for (int i = 0, row = 0; i < n_models; row += models[i].n_steps, i++) {
        init_rows(&models[i], i == 1, r->rows + row);
        /* sampling, then a one-step warm-up batch and one timed batch per N */
        const int B = o->speed_batch;
        e.units_total += B;
        e.p.images_total += B;
        for (int k = 0; k < models[i].n_steps; k++) {
            e.units_total += (double)models[i].steps[k] * (P + B);
            e.p.images_total += P + B;
        }
    }
    gboolean ok = TRUE;
    for (int i = 0; ok && i < n_models; i++)
        ok = run_model(&d, &models[i], o, r, &e, error);
    eval_data_clear(&d);
    if (!ok) {
        scf_eval_results_clear(r);
        return FALSE;
    }
    r->seconds = (g_get_monotonic_time() - t0) / 1e6;
    return TRUE;
}

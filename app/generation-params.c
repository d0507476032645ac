#include "generation-params.h"

void scf_generation_fill_params(scf_gen_params *p, const scf_model *m, const scf_backend *be,
                                const scf_sample_request *r, int b)
{
    scf_gen_params_init(p);
    p->prompt = g_strdup(r->prompt);
    p->negative_prompt = g_strdup(r->negative ? r->negative : "");
    p->steps = r->steps;
    p->guidance = r->guidance;
    p->seed = r->seed + (guint64)b;
    p->width = p->height = m->image_size;
    p->model_name = g_strdup(m->name);
    p->model_hash = g_strdup(m->hash);
    p->batch_index = b;
    p->device = g_strdup(be->name);
}

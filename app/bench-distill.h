#pragma once
/* `scflow bench distill` (see bench-distill.c). */
int scf_bench_distill(int threads, const char *device, const char *python, const char *out_path,
                      double min_s);

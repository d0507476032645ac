#pragma once
/* `scflow bench train` (see bench-train.c). */
int scf_bench_train(int threads, const char *device, const char *python, const char *out_path,
                    double min_s);

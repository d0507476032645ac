#pragma once
/* `scflow bench unet` (see bench-unet.c). */
int scf_bench_unet(int threads, const char *device, const char *python, const char *out_path,
                   double min_s);

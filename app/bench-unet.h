#pragma once
/* `scflow bench unet` (see bench-unet.c). */
#include "backend.h"
/* Times in precision (backend.h); the PyTorch baseline runs in the same one. */
int scf_bench_unet(int threads, const char *device, scf_precision precision, const char *python,
                   const char *out_path, double min_s);

/* fp16 / bf16 storage conversion (compute is fp32). Round to nearest even;
 * NaN stays NaN, overflow goes to infinity, fp16 subnormals are exact. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <glib.h>

G_BEGIN_DECLS

uint16_t scf_f32_to_f16(float f);
float scf_f16_to_f32(uint16_t h);
uint16_t scf_f32_to_bf16(float f);
float scf_bf16_to_f32(uint16_t h);

void scf_f16_to_f32_n(float *dst, const uint16_t *src, size_t n);
void scf_f32_to_f16_n(uint16_t *dst, const float *src, size_t n);
void scf_bf16_to_f32_n(float *dst, const uint16_t *src, size_t n);
void scf_f32_to_bf16_n(uint16_t *dst, const float *src, size_t n);

G_END_DECLS

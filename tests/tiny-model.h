/* A tiny text-to-image model with random weights, for tests that need a real
 * model folder (the app, the command line) but not a trained one. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* Writes the model folder parent/name (config.json, model.safetensors,
 * word_vocab.json): 32×32 RGB, channels (32, 32, 32), one text layer, with
 * the given default steps and guidance in its config. The vocabulary holds
 * the words of a few emoji captions. */
gboolean chk_tiny_model_write(const char *parent, const char *name, int default_steps,
                              double default_guidance, GError **error);

G_END_DECLS

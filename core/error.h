/* Errors of the engine: every fallible public function returns gboolean and
 * fills a GError in this domain, whose message names the thing (file, tensor,
 * config key) and the reason, so callers can show it as is. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define SCF_ERROR (scf_error_quark())
GQuark scf_error_quark(void);

typedef enum {
    SCF_ERROR_IO,          /* open/read/write/rename failed */
    SCF_ERROR_FORMAT,      /* a file is malformed */
    SCF_ERROR_INVALID,     /* an argument or config value is out of range */
    SCF_ERROR_UNSUPPORTED, /* valid but not implemented here */
    SCF_ERROR_NOMEM,       /* an allocation or arena ran out */
    SCF_ERROR_DEVICE,      /* the compute device is missing or failed */
    SCF_ERROR_CANCELLED,   /* the caller cancelled the work */
} scf_error_code;

G_END_DECLS

#include "error.h"

G_DEFINE_QUARK(scf-error-quark, scf_error)

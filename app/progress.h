/* Terminal progress lines for long commands: a bar with rate and ETA that
 * redraws in place on a terminal and prints plain lines otherwise. */
#pragma once
#include <glib.h>

/* "1h02m", "3m05s", "12s" into buf. */
const char *scf_progress_format_duration(double seconds, char *buf, size_t len);
/* Draws "[####....] done/total text" on stderr. */
void scf_progress_draw(gint64 done, gint64 total, const char *text);
/* Ends the progress line (newline on a terminal). */
void scf_progress_finish(void);

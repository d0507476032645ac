#include "progress.h"
#include <stdio.h>
#include <unistd.h>

const char *scf_progress_format_duration(double s, char *buf, size_t len)
{
    long t = s > 0 ? (long)(s + 0.5) : 0;
    if (t >= 3600)
        g_snprintf(buf, len, "%ldh%02ldm", t / 3600, t % 3600 / 60);
    else if (t >= 60)
        g_snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else
        g_snprintf(buf, len, "%lds", t);
    return buf;
}

static gboolean drawing;

void scf_progress_draw(gint64 done, gint64 total, const char *text)
{
    enum { WIDTH = 24 };
    if (!isatty(STDERR_FILENO)) {
        fprintf(stderr, "%" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " %s\n", done, total, text);
        return;
    }
    int fill = total > 0 ? (int)(WIDTH * done / total) : 0;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = 0;
    fprintf(stderr, "\r\033[K[%s] %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " %s", bar, done, total, text);
    fflush(stderr);
    drawing = TRUE;
}

void scf_progress_finish(void)
{
    if (drawing)
        fputc('\n', stderr);
    drawing = FALSE;
}

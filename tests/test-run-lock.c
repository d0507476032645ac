/* The run folder's lock (core/run.h): one holder at a time, a refusal that
 * names the folder and the holder's pid, and a lock the kernel drops when
 * its holder dies without releasing it. */
#include "run.h"
#include "error.h"
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static char *make_run_dir(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("run-lock-XXXXXX", &error);
    g_assert_no_error(error);
    return dir;
}

static void remove_run_dir(const char *dir)
{
    g_autofree char *lock = g_build_filename(dir, SCF_RUN_LOCK_FILE, NULL);
    g_remove(lock);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* The text of the lock file. */
static char *lock_text(const char *dir)
{
    g_autofree char *path = g_build_filename(dir, SCF_RUN_LOCK_FILE, NULL);
    char *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return text;
}

static void assert_refused_by(const char *dir, long pid)
{
    g_autoptr(GError) error = NULL;
    scf_run_lock *second = scf_run_lock_acquire(dir, &error);
    g_assert_null(second);
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_autofree char *holder = g_strdup_printf("(process %ld)", pid);
    g_test_message("refused: %s", error->message);
    g_assert_true(g_str_has_prefix(error->message, dir));
    g_assert_nonnull(strstr(error->message, holder));
}

/* Taken twice in one process: the second is refused while the first lives,
 * and succeeds once it is released. */
static void test_twice(void)
{
    g_autofree char *dir = make_run_dir();
    g_autoptr(GError) error = NULL;
    scf_run_lock *first = scf_run_lock_acquire(dir, &error);
    g_assert_no_error(error);
    g_assert_nonnull(first);
    g_autofree char *text = lock_text(dir);
    g_assert_cmpint(g_ascii_strtoll(text, NULL, 10), ==, getpid());

    assert_refused_by(dir, getpid());
    /* a refusal leaves the holder's lock and pid alone */
    assert_refused_by(dir, getpid());

    scf_run_lock_release(first);
    g_autofree char *cleared = lock_text(dir);
    g_assert_cmpstr(cleared, ==, "");
    scf_run_lock *again = scf_run_lock_acquire(dir, &error);
    g_assert_no_error(error);
    g_assert_nonnull(again);
    scf_run_lock_release(again);
    remove_run_dir(dir);
}

/* A holder killed with SIGKILL never releases: the kernel does. */
static void test_holder_killed(void)
{
    g_autofree char *dir = make_run_dir();
    int ready[2];
    g_assert_cmpint(pipe(ready), ==, 0);
    pid_t child = fork();
    g_assert_cmpint(child, >=, 0);
    if (child == 0) {
        scf_run_lock *lock = scf_run_lock_acquire(dir, NULL);
        char byte = lock ? 'y' : 'n';
        if (write(ready[1], &byte, 1) != 1)
            _exit(2);
        for (;;)
            pause();
    }
    close(ready[1]);
    char byte = 0;
    g_assert_cmpint(read(ready[0], &byte, 1), ==, 1);
    close(ready[0]);
    g_assert_cmpint(byte, ==, 'y');

    assert_refused_by(dir, child);

    g_assert_cmpint(kill(child, SIGKILL), ==, 0);
    int status = 0;
    g_assert_cmpint(waitpid(child, &status, 0), ==, child);
    g_assert_true(WIFSIGNALED(status));
    /* its pid is still in the file, but nobody holds the lock */
    g_autofree char *text = lock_text(dir);
    g_assert_cmpint(g_ascii_strtoll(text, NULL, 10), ==, child);
    g_autoptr(GError) error = NULL;
    scf_run_lock *lock = scf_run_lock_acquire(dir, &error);
    g_assert_no_error(error);
    g_assert_nonnull(lock);
    scf_run_lock_release(lock);
    remove_run_dir(dir);
}

/* A holder that has the lock but has not written its pid yet (the moment
 * between the two) is still a holder. */
static void test_holder_without_pid(void)
{
    g_autofree char *dir = make_run_dir();
    g_autofree char *path = g_build_filename(dir, SCF_RUN_LOCK_FILE, NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(flock(fd, LOCK_EX | LOCK_NB), ==, 0);

    g_autoptr(GError) error = NULL;
    g_assert_null(scf_run_lock_acquire(dir, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_true(g_str_has_prefix(error->message, dir));
    g_assert_nonnull(strstr(error->message, "another run"));
    close(fd);
    remove_run_dir(dir);
}

/* A folder that does not exist cannot be locked, and the error says which. */
static void test_missing_folder(void)
{
    g_autofree char *dir = make_run_dir();
    g_autofree char *missing = g_build_filename(dir, "no-such-run", NULL);
    g_autoptr(GError) error = NULL;
    g_assert_null(scf_run_lock_acquire(missing, &error));
    g_assert_error(error, SCF_ERROR, SCF_ERROR_IO);
    g_assert_true(g_str_has_prefix(error->message, missing));
    g_assert_nonnull(strstr(error->message, g_strerror(ENOENT)));
    g_assert_false(g_file_test(missing, G_FILE_TEST_EXISTS));
    remove_run_dir(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/run-lock/twice", test_twice);
    g_test_add_func("/run-lock/holder-killed", test_holder_killed);
    g_test_add_func("/run-lock/holder-without-pid", test_holder_without_pid);
    g_test_add_func("/run-lock/missing-folder", test_missing_folder);
    return g_test_run();
}

/* Logging: a custom handler, back to stderr, user strings printed literally. */
#include "testutil.h"

#include <fcntl.h>
#include <unistd.h>

static void custom_handler_receives_lines(void **state)
{
    (void)state;
    tu_log_capture(); /* checks ud and msg in the callback */
    assert_code(actor_plugin_load("/nonexistent/libactor-log-test.so"), ACTOR_EINVAL);
    assert_true(tu_log_count() >= 1);
    assert_true(tu_log_has("libactor-log-test.so", ACTOR_LOG_DEBUG));
    tu_log_stop();
    tu_assert_no_failures();
}

/* Runs fn with fd 2 redirected to a temporary file; returns what was
 * written there (malloc'd). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char path[] = "/tmp/libactor-test-stderr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0);
    dup2(fd, 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET);
    char *buf = calloc(1, (size_t)size + 1);
    if (size > 0)
        assert_int_equal(read(fd, buf, (size_t)size), size);
    close(fd);
    unlink(path);
    return buf;
}

static void load_path(void *arg) { (void)actor_plugin_load((const char *)arg); }

static void null_restores_stderr(void **state)
{
    (void)state;
    tu_log_capture();
    actor_set_log_handler(NULL, NULL);
    size_t before = tu_log_count();
    char *out = capture_stderr(load_path, "/nonexistent/libactor-stderr-test.so");
    assert_int_equal(tu_log_count(), before); /* the old handler is not called */
    if (strstr(out, "libactor-stderr-test.so") == NULL)
        fail_msg("stderr did not get the log line; it got: \"%s\"", out);
    free(out);
    tu_log_stop();
}

static void percent_printed_literally(void **state)
{
    (void)state;
    const char *path = "/nonexistent/a%sb%n%d%%x%.9999f.so";
    tu_log_capture();
    assert_code(actor_plugin_load(path), ACTOR_EINVAL);
    if (!tu_log_has("a%sb%n%d%%x%.9999f.so", ACTOR_LOG_DEBUG)) {
        tu_log_dump();
        fail_msg("the user string was not logged literally");
    }
    tu_log_stop();

    /* The same on the stderr path. */
    char *out = capture_stderr(load_path, (void *)path);
    if (strstr(out, "a%sb%n%d%%x%.9999f.so") == NULL)
        fail_msg("stderr did not get the literal user string; it got: \"%s\"", out);
    free(out);
}

static void very_long_message_is_safe(void **state)
{
    (void)state;
    size_t n = 8000;
    char *path = malloc(n + 1);
    memset(path, 'p', n);
    path[0] = '/';
    path[n] = '\0';
    tu_log_capture();
    assert_code(actor_plugin_load(path), ACTOR_EINVAL);
    assert_true(tu_log_count() >= 1);
    tu_log_stop();
    free(path);
}

/* The handler gets every line, from worker threads too (a default fallback
 * on a worker), with the level of an error. */
static int failing_event(actor_ctx *ctx, void *st, const void *p, size_t len) { return 5; }

static void lines_from_workers(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("log.Ev", "", NULL);
    actor_class *c = tu_class("log.Failing");
    assert_ok(actor_class_on_event(c, t, failing_event));
    tu_log_capture();
    actor_runtime *rt = tu_runtime(2);
    enum { N = 4 };
    actor_addr *as[N];
    for (int i = 0; i < N; i++) {
        as[i] = tu_spawn(rt, c, NULL);
        for (int k = 0; k < 25; k++)
            assert_ok(addr_send(as[i], t, NULL, 0));
    }
    for (int i = 0; i < N; i++) {
        tu_stop_join(as[i]);
        addr_release(as[i]);
    }
    TU_WAIT_UNTIL(tu_log_count() >= N * 25, TU_LONG_MS);
    assert_true(tu_log_has("log.Ev", ACTOR_LOG_ERROR));
    actor_runtime_free(rt);
    tu_log_stop();
    tu_assert_no_failures();
    actor_class_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(custom_handler_receives_lines),
        TU_TEST(null_restores_stderr),
        TU_TEST(percent_printed_literally),
        TU_TEST(very_long_message_is_safe),
        TU_TEST(lines_from_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

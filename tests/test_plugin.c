/* actor_plugin_load. */
#include "testutil.h"

#include <dlfcn.h>
#include <unistd.h>

#ifndef PLUGIN_GOOD
#error "PLUGIN_GOOD must be defined by the build"
#endif

static void null_and_empty_path(void **state)
{
    (void)state;
    tu_log_capture();
    assert_code(actor_plugin_load(NULL), ACTOR_EINVAL);
    assert_true(tu_log_count() >= 1);
    assert_code(actor_plugin_load(""), ACTOR_EINVAL);
    tu_log_stop();
}

static void missing_file(void **state)
{
    (void)state;
    const char *path = "/nonexistent-dir-for-libactor-tests/plugin.so";
    tu_log_capture();
    assert_code(actor_plugin_load(path), ACTOR_EINVAL);
    if (!tu_log_has(path, ACTOR_LOG_WARN)) {
        tu_log_dump();
        fail_msg("no log line names the missing plugin");
    }
    tu_log_stop();
}

static void not_an_elf_file(void **state)
{
    (void)state;
    char path[] = "/tmp/libactor-test-notelf-XXXXXX.so";
    int fd = mkstemps(path, 3);
    assert_true(fd >= 0);
    const char *text = "this is not a shared object\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    tu_log_capture();
    int rc = actor_plugin_load(path);
    unlink(path);
    assert_code(rc, ACTOR_EINVAL);
    assert_true(tu_log_has(NULL, ACTOR_LOG_WARN));
    tu_log_stop();

    /* A directory is not loadable either. */
    tu_log_capture();
    assert_code(actor_plugin_load("/tmp"), ACTOR_EINVAL);
    assert_true(tu_log_count() >= 1);
    tu_log_stop();
}

static void no_init_symbol(void **state)
{
    (void)state;
    tu_log_capture();
    assert_code(actor_plugin_load(PLUGIN_NOINIT), ACTOR_EINVAL);
    if (!tu_log_has("actor_plugin_init", ACTOR_LOG_WARN)) {
        tu_log_dump();
        fail_msg("the log does not say actor_plugin_init is missing");
    }
    tu_log_stop();
}

static void init_fails(void **state)
{
    (void)state;
    tu_log_capture();
    assert_code(actor_plugin_load(PLUGIN_INITFAIL), ACTOR_EHANDLER);
    assert_true(tu_log_has(NULL, ACTOR_LOG_WARN));
    tu_log_stop();

    /* The object stays loaded; loading it again does not run init again
     * (the result may be given again, or OK). */
    void *h = dlopen(PLUGIN_INITFAIL, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    int *runs = (int *)dlsym(h, "actor_test_initfail_runs");
    assert_non_null(runs);
    assert_int_equal(*runs, 1);
    tu_log_capture();
    int rc = actor_plugin_load(PLUGIN_INITFAIL);
    assert_true(rc == ACTOR_EHANDLER || rc == ACTOR_OK);
    tu_log_stop();
    assert_int_equal(*runs, 1);
    dlclose(h);
}

static void good_plugin(void **state)
{
    (void)state;
    assert_null(actor_class_find("plg.Echo"));
    assert_null(actor_msgtype_find("plg.Ping"));
    assert_ok(actor_plugin_load(PLUGIN_GOOD));
    actor_class *c = actor_class_find("plg.Echo");
    assert_non_null(c);
    assert_string_equal(actor_class_name(c), "plg.Echo");
    const actor_msgtype *t = actor_msgtype_find("plg.Ping");
    assert_non_null(t);
    assert_string_equal(actor_msgtype_layout(t), "q");

    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL); /* state NULL: the class's size */
    int64_t v = 41;
    actor_responder *r = NULL;
    assert_ok(addr_interact(a, t, &v, sizeof v, &r));
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    size_t len = 0;
    const void *d = actor_responder_data(r, &len);
    assert_int_equal(len, 8);
    int64_t got;
    memcpy(&got, d, 8);
    assert_int_equal(got, 42);
    actor_responder_free(r);
    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(rt);

    /* Loading again: OK, and init does not run again (it would fail). */
    assert_ok(actor_plugin_load(PLUGIN_GOOD));
    assert_ptr_equal(actor_class_find("plg.Echo"), c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(null_and_empty_path), TU_TEST(missing_file), TU_TEST(not_an_elf_file),
        TU_TEST(no_init_symbol),      TU_TEST(init_fails),   TU_TEST(good_plugin),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* ABI 1.1 part 0 (issue 9), plugins: ACTOR_PLUGIN_INIT exports the entry
 * point of a plugin built with -fvisibility=hidden (a plain definition is
 * not found there); actor_plugin_load bounds the paths it reads and logs. */
#include "testutil.h"

#include <dlfcn.h>
#include <limits.h>

#ifndef PLUGIN_P0_HIDDEN
#error "PLUGIN_P0_HIDDEN must be defined by the build"
#endif
#ifndef PLUGIN_P0_NOMACRO
#error "PLUGIN_P0_NOMACRO must be defined by the build"
#endif

/* The captured lines hold at least one at ERROR or WARN, and every one is
 * shorter than 1024 bytes. Returns the length of the longest. */
static size_t check_lines(const char *what)
{
    tu_global *g = tu_g();
    size_t longest = 0, severe = 0, n;
    pthread_mutex_lock(&g->mu);
    n = g->nlines;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(g->lines[i].msg);
        if (len > longest)
            longest = len;
        if (g->lines[i].level == ACTOR_LOG_ERROR || g->lines[i].level == ACTOR_LOG_WARN)
            severe++;
    }
    pthread_mutex_unlock(&g->mu);
    if (severe == 0) {
        tu_log_dump();
        fail_msg("%s: no ERROR or WARN line logged (%zu lines)", what, n);
    }
    if (longest >= 1024)
        fail_msg("%s: a log line of %zu bytes (must be < 1024)", what, longest);
    return longest;
}

static char *path_of(size_t n, char fill)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    memset(p, fill, n);
    p[n] = '\0';
    return p;
}

/* ---- 3. ACTOR_PLUGIN_INIT under -fvisibility=hidden ---- */

static void hidden_plugin_with_macro_loads(void **state)
{
    (void)state;
    assert_null(actor_class_find("p0h.Echo"));
    tu_log_capture();
    int rc = actor_plugin_load(PLUGIN_P0_HIDDEN);
    if (rc != ACTOR_OK) {
        tu_log_dump();
        fail_msg("actor_plugin_load(hidden + ACTOR_PLUGIN_INIT) = %d (%s)", rc,
                 actor_strerror(rc));
    }
    assert_int_equal(tu_log_count(), 0);
    tu_log_stop();
    actor_class *c = actor_class_find("p0h.Echo");
    assert_non_null(c);
    assert_string_equal(actor_class_name(c), "p0h.Echo");
    const actor_msgtype *t = actor_msgtype_find("p0h.Ping");
    assert_non_null(t);

    /* The build did hide what is not marked: only the macro exported init. */
    void *h = dlopen(PLUGIN_P0_HIDDEN, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    assert_non_null(dlsym(h, "actor_plugin_init"));
    assert_null(dlsym(h, "p0h_helper"));
    dlclose(h);

    /* And the class works. */
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, NULL);
    int64_t v = 23, got = 0;
    actor_responder *r = NULL;
    assert_ok(addr_interact(a, t, &v, sizeof v, &r));
    assert_ok(actor_responder_wait(r, TU_LONG_MS));
    size_t len = 0;
    const void *d = actor_responder_data(r, &len);
    assert_int_equal(len, 8);
    memcpy(&got, d, 8);
    assert_int_equal(got, 123);
    actor_responder_free(r);
    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(rt);

    /* Loaded again: what the first load returned, init not run again. */
    assert_ok(actor_plugin_load(PLUGIN_P0_HIDDEN));
    assert_ptr_equal(actor_class_find("p0h.Echo"), c);
}

static void hidden_plugin_without_macro_refused(void **state)
{
    (void)state;
    tu_log_capture();
    assert_code(actor_plugin_load(PLUGIN_P0_NOMACRO), ACTOR_EINVAL);
    if (!tu_log_has("actor_plugin_init", ACTOR_LOG_WARN)) {
        tu_log_dump();
        fail_msg("the log does not say actor_plugin_init is missing");
    }
    tu_log_stop();
    assert_null(actor_class_find("p0n.Echo")); /* its init never ran */
    /* The symbol is there in the source but hidden by the build. */
    void *h = dlopen(PLUGIN_P0_NOMACRO, RTLD_NOW | RTLD_LOCAL);
    assert_non_null(h);
    assert_null(dlsym(h, "actor_plugin_init"));
    dlclose(h);
}

static void hidden_cxx_plugin_with_macro_loads(void **state)
{
    (void)state;
#ifdef PLUGIN_P0_CXX
    assert_null(actor_class_find("p0x.Echo"));
    tu_log_capture();
    int rc = actor_plugin_load(PLUGIN_P0_CXX);
    if (rc != ACTOR_OK) {
        tu_log_dump();
        fail_msg("actor_plugin_load(C++, hidden + ACTOR_PLUGIN_INIT) = %d (%s)", rc,
                 actor_strerror(rc));
    }
    tu_log_stop();
    assert_non_null(actor_class_find("p0x.Echo"));
#else
    skip();
#endif
}

/* ---- 4. Paths: bounded, logged shortly ---- */

static void ten_megabyte_path(void **state)
{
    (void)state;
    const size_t n = 10u * 1000 * 1000;
    char *path = path_of(n, 'x');
    tu_log_capture();
    assert_code(actor_plugin_load(path), ACTOR_EINVAL);
    check_lines("10 MB path");
    /* The line shows the start of the path (shortened), not nothing. */
    assert_true(tu_log_has("xxxxxxxxxxxxxxxx", ACTOR_LOG_WARN));
    tu_log_stop();
    free(path);
}

static void path_at_and_past_path_max(void **state)
{
    (void)state;
    assert_int_equal(PATH_MAX, 4096);
    /* 4096 characters: refused for its length before any lookup. */
    char *path = path_of(PATH_MAX, 'x');
    tu_log_capture();
    assert_code(actor_plugin_load(path), ACTOR_EINVAL);
    check_lines("4096-character path");
    tu_log_stop();
    free(path);

    /* 4095 characters, no slash: looked up along the library path, not
     * found (no such name can exist: a name is at most 255 bytes). */
    path = path_of(PATH_MAX - 1, 'x');
    tu_log_capture();
    assert_code(actor_plugin_load(path), ACTOR_EINVAL);
    check_lines("4095-character name");
    tu_log_stop();
    free(path);

    /* 4095 characters, absolute, of short components under a directory
     * that does not exist. */
    path = path_of(PATH_MAX - 1, 'y');
    memcpy(path, "/p0-nonexistent-dir", 19);
    for (size_t i = 19; i < PATH_MAX - 1; i += 100)
        path[i] = '/';
    path[PATH_MAX - 4] = '.';
    path[PATH_MAX - 3] = 's';
    path[PATH_MAX - 2] = 'o';
    assert_int_equal(strlen(path), PATH_MAX - 1);
    tu_log_capture();
    assert_code(actor_plugin_load(path), ACTOR_EINVAL);
    check_lines("4095-character absolute path");
    assert_true(tu_log_has("/p0-nonexistent-dir/", ACTOR_LOG_WARN));
    tu_log_stop();
    free(path);

    /* One past PATH_MAX - 1 again, absolute: still refused, still short. */
    path = path_of(PATH_MAX + 10, 'z');
    path[0] = '/';
    tu_log_capture();
    assert_code(actor_plugin_load(path), ACTOR_EINVAL);
    check_lines("4106-character absolute path");
    tu_log_stop();
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(hidden_plugin_with_macro_loads),
        TU_TEST(hidden_plugin_without_macro_refused),
        TU_TEST(hidden_cxx_plugin_with_macro_loads),
        TU_TEST(ten_megabyte_path),
        TU_TEST(path_at_and_past_path_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

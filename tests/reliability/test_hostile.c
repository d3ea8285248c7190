/*
 * test_hostile — hostile inputs: each one a test with the code it must get.
 *
 * - payload and reply lengths near SIZE_MAX (opaque types: ACTOR_ENOMEM,
 *   nothing sent, the caller's objects untouched; typed: ACTOR_ETYPE);
 * - state sizes no allocator can serve (ACTOR_ENOMEM at spawn);
 * - names with control characters, bytes >= 0x80, white space, too long;
 * - layouts with huge repeat counts (overflow, the 1 GiB cap), byte-order
 *   prefixes, white space, trailing counts;
 * - plugins that are not ELF, are empty, are directories, miss the init
 *   symbol, have unresolved symbols, fail in init (never run twice),
 *   register a class twice, take a registered name, or load themselves;
 * - '%' in user strings that reach the log: a plugin path "%s%n%s" is
 *   logged literally.
 *
 * Sizes past what malloc can give are asked for on purpose: the sanitizers
 * are told to return NULL there (as malloc does) rather than abort.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <actor/actor.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "allocator_may_return_null=1"; }

#define assert_code(actual, expected)                                                  \
    do {                                                                               \
        int a_ = (actual), e_ = (expected);                                            \
        if (a_ != e_)                                                                  \
            fail_msg("%s = %d (%s), expected %d (%s)", #actual, a_, actor_strerror(a_), \
                     e_, actor_strerror(e_));                                          \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Log capture                                                               */
/* ------------------------------------------------------------------------ */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[16384];
static size_t log_len;
static int log_lines;

static void log_cb(int level, const char *msg, void *ud)
{
    (void)level;
    (void)ud;
    pthread_mutex_lock(&log_mu);
    int n = snprintf(log_buf + log_len, sizeof log_buf - log_len, "%s\n", msg);
    if (n > 0 && (size_t)n < sizeof log_buf - log_len)
        log_len += (size_t)n;
    log_lines++;
    pthread_mutex_unlock(&log_mu);
}

static void log_start(void)
{
    pthread_mutex_lock(&log_mu);
    log_len = 0;
    log_buf[0] = '\0';
    log_lines = 0;
    pthread_mutex_unlock(&log_mu);
    actor_set_log_handler(log_cb, NULL);
}

static void log_stop(void) { actor_set_log_handler(NULL, NULL); }

static int log_has(const char *needle)
{
    pthread_mutex_lock(&log_mu);
    int found = strstr(log_buf, needle) != NULL;
    pthread_mutex_unlock(&log_mu);
    return found;
}

#define assert_logged(needle)                                                          \
    do {                                                                               \
        if (!log_has(needle))                                                          \
            fail_msg("no log line contains \"%s\"; the log:\n%s", (needle), log_buf);  \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Fixtures: one runtime, an echo actor on an opaque type                    */
/* ------------------------------------------------------------------------ */

static const actor_msgtype *t_opq, *t_q, *t_big;
static actor_promise *held_promise;
static atomic_int events_seen;
static atomic_size_t last_len;
static atomic_int reply_rc_huge, reply_rc_ok;

static int echo_event(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)state;
    (void)p;
    atomic_store(&last_len, len);
    atomic_fetch_add(&events_seen, 1);
    return 0;
}

/* Replies SIZE_MAX bytes first (ENOMEM: still unanswered), then for real. */
static int echo_request(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)state;
    unsigned char one = 1;
    if (len == 1 && ((const unsigned char *)p)[0] == 'D') {
        actor_promise *pr = NULL;
        int rc = actor_ctx_defer(ctx, &pr);
        __atomic_store_n(&held_promise, pr, __ATOMIC_RELEASE);
        return rc;
    }
    atomic_store(&reply_rc_huge, actor_ctx_reply(ctx, &one, SIZE_MAX));
    atomic_store(&reply_rc_ok, actor_ctx_reply(ctx, &one, 1));
    return 0;
}

static int echo_q(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)state;
    (void)p;
    (void)len;
    atomic_fetch_add(&events_seen, 1);
    return 0;
}

typedef struct world {
    actor_runtime *rt;
    actor_class *cls;
    actor_addr *a;
} world;

static int world_setup(void **state)
{
    static world w;
    if (actor_msgtype_define("hostile.Opaque", NULL, NULL, &t_opq) != ACTOR_OK ||
        actor_msgtype_define("hostile.Q", "q", "q", &t_q) != ACTOR_OK ||
        actor_msgtype_define("hostile.Big", "1073741824s", "1073741824s", &t_big) != ACTOR_OK)
        return -1;
    if (actor_runtime_new(2, &w.rt) != ACTOR_OK || actor_class_new("hostile.Echo", &w.cls) != ACTOR_OK)
        return -1;
    if (actor_class_on_event(w.cls, t_opq, echo_event) != ACTOR_OK ||
        actor_class_on_request(w.cls, t_opq, echo_request) != ACTOR_OK ||
        actor_class_on_event(w.cls, t_q, echo_q) != ACTOR_OK ||
        actor_class_on_event(w.cls, t_big, echo_q) != ACTOR_OK ||
        actor_class_on_request(w.cls, t_big, echo_request) != ACTOR_OK)
        return -1;
    if (actor_spawn(w.rt, w.cls, NULL, &w.a) != ACTOR_OK)
        return -1;
    *state = &w;
    return 0;
}

static int world_teardown(void **state)
{
    world *w = *state;
    addr_release(w->a);
    actor_runtime_free(w->rt);
    actor_class_free(w->cls);
    actor_set_log_handler(NULL, NULL);
    return 0;
}

/* Lengths no allocator can serve: beyond PTRDIFF_MAX, up to SIZE_MAX. */
static const size_t huge_lens[] = {
    SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, SIZE_MAX - 64, SIZE_MAX - 4096,
    (size_t)PTRDIFF_MAX + 1, SIZE_MAX / 2 + 12345,
};
#define NHUGE (sizeof huge_lens / sizeof huge_lens[0])

/* Round trip: every event sent before a request is handled before it. */
static void flush(world *w)
{
    unsigned char x = 0;
    actor_responder *r = NULL;
    assert_code(addr_interact(w->a, t_opq, &x, 1, &r), ACTOR_OK);
    assert_code(actor_responder_wait(r, 10000), ACTOR_OK);
    actor_responder_free(r);
}

static void send_huge_opaque(void **state)
{
    world *w = *state;
    unsigned char buf[64] = {0};
    atomic_store(&events_seen, 0);
    for (size_t i = 0; i < NHUGE; i++) {
        int rc = addr_send(w->a, t_opq, buf, huge_lens[i]);
        if (rc != ACTOR_ENOMEM && rc != ACTOR_EINVAL)
            fail_msg("addr_send(len %zu) = %d (%s), expected ENOMEM or EINVAL", huge_lens[i],
                     rc, actor_strerror(rc));
    }
    flush(w);
    assert_int_equal(atomic_load(&events_seen), 0); /* nothing was sent */
    /* Still working: a sane event goes through. */
    assert_code(addr_send(w->a, t_opq, buf, 7), ACTOR_OK);
    flush(w);
    assert_int_equal(atomic_load(&events_seen), 1);
    assert_int_equal(atomic_load(&last_len), 7);
}

static void interact_huge_opaque(void **state)
{
    world *w = *state;
    unsigned char buf[64] = {0};
    for (size_t i = 0; i < NHUGE; i++) {
        actor_responder *r = (actor_responder *)(uintptr_t)0x1; /* must stay untouched */
        int rc = addr_interact(w->a, t_opq, buf, huge_lens[i], &r);
        if (rc != ACTOR_ENOMEM && rc != ACTOR_EINVAL)
            fail_msg("addr_interact(len %zu) = %d (%s)", huge_lens[i], rc, actor_strerror(rc));
        assert_true(r == (actor_responder *)(uintptr_t)0x1);
    }
}

static void typed_huge_is_etype(void **state)
{
    world *w = *state;
    unsigned char buf[64] = {0};
    for (size_t i = 0; i < NHUGE; i++) {
        assert_code(addr_send(w->a, t_q, buf, huge_lens[i]), ACTOR_ETYPE);
        assert_code(addr_send(w->a, t_big, buf, huge_lens[i]), ACTOR_ETYPE);
        actor_responder *r = NULL;
        assert_code(addr_interact(w->a, t_big, buf, huge_lens[i], &r), ACTOR_ETYPE);
        assert_null(r);
    }
    /* The 1 GiB layout's own size, but a NULL payload: EINVAL, not a read. */
    assert_code(addr_send(w->a, t_big, NULL, (size_t)1 << 30), ACTOR_EINVAL);
}

static void reply_huge_opaque(void **state)
{
    world *w = *state;
    unsigned char x = 'r';
    actor_responder *r = NULL;
    atomic_store(&reply_rc_huge, 12345);
    assert_code(addr_interact(w->a, t_opq, &x, 1, &r), ACTOR_OK);
    assert_code(actor_responder_wait(r, 10000), ACTOR_OK);
    assert_code(atomic_load(&reply_rc_huge), ACTOR_ENOMEM); /* the request stayed unanswered */
    assert_code(atomic_load(&reply_rc_ok), ACTOR_OK);
    size_t len = 0;
    const unsigned char *d = actor_responder_data(r, &len);
    assert_non_null(d);
    assert_int_equal(len, 1);
    assert_int_equal(d[0], 1);
    actor_responder_free(r);
}

static void resolve_huge_opaque(void **state)
{
    world *w = *state;
    unsigned char x = 'D';
    actor_responder *r = NULL;
    __atomic_store_n(&held_promise, NULL, __ATOMIC_RELEASE);
    assert_code(addr_interact(w->a, t_opq, &x, 1, &r), ACTOR_OK);
    for (int i = 0; i < 10000 && actor_responder_status(r) == ACTOR_EAGAIN &&
                    __atomic_load_n(&held_promise, __ATOMIC_ACQUIRE) == NULL;
         i++)
        usleep(1000);
    actor_promise *p = __atomic_load_n(&held_promise, __ATOMIC_ACQUIRE);
    assert_non_null(p);
    unsigned char buf[8] = {1, 2, 3};
    for (size_t i = 0; i < NHUGE; i++) /* ENOMEM: nothing sent, still ours */
        assert_code(actor_promise_resolve(p, buf, huge_lens[i]), ACTOR_ENOMEM);
    assert_code(actor_responder_status(r), ACTOR_EAGAIN);
    assert_code(actor_promise_resolve(p, buf, 3), ACTOR_OK);
    assert_code(actor_responder_wait(r, 10000), ACTOR_OK);
    size_t len = 0;
    const unsigned char *d = actor_responder_data(r, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(d, buf, 3);
    actor_responder_free(r);
}

static void state_size_huge(void **state)
{
    world *w = *state;
    static const size_t sizes[] = {SIZE_MAX, SIZE_MAX / 2 + 1, (size_t)PTRDIFF_MAX + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        actor_class *c = NULL;
        assert_code(actor_class_new("hostile.Fat", &c), ACTOR_OK);
        assert_code(actor_class_set_state_size(c, sizes[i]), ACTOR_OK);
        actor_addr *a = (actor_addr *)(uintptr_t)0x1;
        assert_code(actor_spawn(w->rt, c, NULL, &a), ACTOR_ENOMEM);
        assert_true(a == (actor_addr *)(uintptr_t)0x1);
        /* Nothing was spawned: the class is not in use. */
        assert_code(actor_class_set_state_size(c, 8), ACTOR_OK);
        assert_code(actor_spawn(w->rt, c, NULL, &a), ACTOR_OK);
        addr_release(a);
        actor_class_free(c);
    }
}

static void runtime_threads_hostile(void **state)
{
    (void)state;
    actor_runtime *rt = (actor_runtime *)(uintptr_t)0x1;
    assert_code(actor_runtime_new(1025, &rt), ACTOR_EINVAL);
    assert_code(actor_runtime_new(UINT_MAX, &rt), ACTOR_EINVAL);
    assert_true(rt == (actor_runtime *)(uintptr_t)0x1);
}

static void timeouts_extreme(void **state)
{
    world *w = *state;
    actor_addr *a = NULL;
    assert_code(actor_spawn(w->rt, w->cls, NULL, &a), ACTOR_OK);
    assert_code(addr_join(a, 0), ACTOR_ETIMEDOUT);
    assert_code(addr_join(a, 1), ACTOR_ETIMEDOUT);
    assert_code(addr_interrupt(a), ACTOR_OK);
    assert_code(addr_join(a, INT_MAX), ACTOR_OK); /* no overflow in the deadline */
    assert_code(addr_join(a, INT_MIN), ACTOR_OK); /* negative: no limit */
    addr_release(a);
    unsigned char x = 0;
    actor_responder *r = NULL;
    assert_code(addr_interact(w->a, t_opq, &x, 1, &r), ACTOR_OK);
    assert_code(actor_responder_wait(r, INT_MAX), ACTOR_OK);
    assert_code(actor_responder_wait(r, INT_MIN), ACTOR_OK);
    actor_responder_free(r);
}

static void strerror_any_code(void **state)
{
    (void)state;
    static const int codes[] = {INT_MIN, INT_MIN + 1, -13, -100, 1, 42, INT_MAX};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *s = actor_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
    }
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

static void names_hostile(void **state)
{
    (void)state;
    char long65[66], long64[65];
    memset(long65, 'a', 65);
    long65[65] = '\0';
    memset(long64, 'b', 64);
    long64[64] = '\0';
    const char *bad[] = {
        "",          "\x01" "abc",  "ab\ncd",      "tab\there",  "del\x7f",    "\x1b[31mred",
        "caf\xc3\xa9", "\xff\xfe",  "a b",         " lead",      "trail ",     "per%cent",
        "%s%n%s",    "slash/name",  "back\\slash", "quote\"",    "semi;colon", "nul\x80",
        long65,
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const actor_msgtype *t = (const actor_msgtype *)(uintptr_t)0x1;
        int rc = actor_msgtype_define(bad[i], NULL, NULL, &t);
        if (rc != ACTOR_EINVAL)
            fail_msg("actor_msgtype_define(bad name #%zu) = %d, expected EINVAL", i, rc);
        assert_true(t == (const actor_msgtype *)(uintptr_t)0x1);
        assert_null(actor_msgtype_find(bad[i]));
        actor_class *c = (actor_class *)(uintptr_t)0x1;
        rc = actor_class_new(bad[i], &c);
        if (rc != ACTOR_EINVAL)
            fail_msg("actor_class_new(bad name #%zu) = %d, expected EINVAL", i, rc);
        assert_true(c == (actor_class *)(uintptr_t)0x1);
        assert_null(actor_class_find(bad[i]));
    }
    /* The edges that are fine. */
    const actor_msgtype *t = NULL;
    assert_code(actor_msgtype_define(long64, NULL, NULL, &t), ACTOR_OK);
    assert_int_equal(strlen(actor_msgtype_name(t)), 64);
    assert_code(actor_msgtype_define("A-z_0.9:x", "", "", &t), ACTOR_OK);
    assert_code(actor_msgtype_define("-", NULL, NULL, &t), ACTOR_OK);
}

/* ------------------------------------------------------------------------ */
/* Layouts                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct layout_case {
    const char *layout;
    int rc;
    size_t size;
} layout_case;

static void layouts_hostile(void **state)
{
    (void)state;
    static const layout_case cases[] = {
        /* Repeat counts that overflow size_t, in the count or the total. */
        {"18446744073709551615s", ACTOR_EINVAL, 0},
        {"18446744073709551616s", ACTOR_EINVAL, 0},
        {"99999999999999999999999999999999999999999x", ACTOR_EINVAL, 0},
        {"4611686018427387904q", ACTOR_EINVAL, 0},
        {"2305843009213693951q2q", ACTOR_EINVAL, 0},
        {"9223372036854775807h", ACTOR_EINVAL, 0},
        /* The library refuses layouts past 1 GiB (not in the header yet). */
        {"1073741824s", ACTOR_OK, (size_t)1 << 30},
        {"134217728q", ACTOR_OK, (size_t)1 << 30},
        {"1073741825s", ACTOR_EINVAL, 0},
        {"1073741824s1x", ACTOR_EINVAL, 0},
        {"536870912h536870912h", ACTOR_EINVAL, 0},
        {"4294967296x", ACTOR_EINVAL, 0},
        /* Counts of zero are fine (Python's struct agrees). */
        {"0s", ACTOR_OK, 0},
        {"00q", ACTOR_OK, 0},
        {"0q3x", ACTOR_OK, 3},
        {"0000000000000000000000000000000000001q", ACTOR_OK, 8},
        /* Not the subset: prefixes, white space, stray counts, other codes. */
        {"<q", ACTOR_EINVAL, 0},
        {">q", ACTOR_EINVAL, 0},
        {"=q", ACTOR_EINVAL, 0},
        {"!q", ACTOR_EINVAL, 0},
        {"@q", ACTOR_EINVAL, 0},
        {" q", ACTOR_EINVAL, 0},
        {"q ", ACTOR_EINVAL, 0},
        {"1 q", ACTOR_EINVAL, 0},
        {"q\n", ACTOR_EINVAL, 0},
        {"q2", ACTOR_EINVAL, 0},
        {"2", ACTOR_EINVAL, 0},
        {"-1q", ACTOR_EINVAL, 0},
        {"+1q", ACTOR_EINVAL, 0},
        {"p", ACTOR_EINVAL, 0},
        {"c", ACTOR_EINVAL, 0},
        {"l", ACTOR_EINVAL, 0},
        {"n", ACTOR_EINVAL, 0},
        {"e", ACTOR_EINVAL, 0},
        {"P", ACTOR_EINVAL, 0},
        {"\xff", ACTOR_EINVAL, 0},
        {"%s%n", ACTOR_EINVAL, 0},
        /* Valid ones, for contrast. */
        {"x?bBhHiIqQfds", ACTOR_OK, 1 + 1 + 1 + 1 + 2 + 2 + 4 + 4 + 8 + 8 + 4 + 8 + 1},
        {"2id", ACTOR_OK, 16},
        {"16s", ACTOR_OK, 16},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "hostile.layout.%zu", i);
        const actor_msgtype *t = NULL;
        int rc = actor_msgtype_define(name, cases[i].layout, NULL, &t);
        if (rc != cases[i].rc)
            fail_msg("layout \"%s\": %d (%s), expected %d (%s)", cases[i].layout, rc,
                     actor_strerror(rc), cases[i].rc, actor_strerror(cases[i].rc));
        if (rc == ACTOR_OK && actor_msgtype_size(t) != cases[i].size)
            fail_msg("layout \"%s\": size %zu, expected %zu", cases[i].layout,
                     actor_msgtype_size(t), cases[i].size);
        /* The same rules for reply layouts. */
        snprintf(name, sizeof name, "hostile.reply.%zu", i);
        t = NULL;
        rc = actor_msgtype_define(name, "", cases[i].layout, &t);
        if (rc != cases[i].rc)
            fail_msg("reply layout \"%s\": %d, expected %d", cases[i].layout, rc, cases[i].rc);
        if (rc == ACTOR_OK && actor_msgtype_reply_size(t) != cases[i].size)
            fail_msg("reply layout \"%s\": size %zu, expected %zu", cases[i].layout,
                     actor_msgtype_reply_size(t), cases[i].size);
    }
    /* A very long layout string: 1 MiB of 'x' is a 1 MiB message. */
    size_t n = (size_t)1 << 20;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'x', n);
    big[n] = '\0';
    const actor_msgtype *t = NULL;
    assert_code(actor_msgtype_define("hostile.long", big, NULL, &t), ACTOR_OK);
    assert_int_equal(actor_msgtype_size(t), n);
    big[n / 2] = ' ';
    assert_code(actor_msgtype_define("hostile.long2", big, NULL, &t), ACTOR_EINVAL);
    free(big);
    /* Redefinition: the same strings give the same type, others ETYPE. */
    const actor_msgtype *a = NULL, *b = NULL;
    assert_code(actor_msgtype_define("hostile.redef", "qq", "q", &a), ACTOR_OK);
    assert_code(actor_msgtype_define("hostile.redef", "qq", "q", &b), ACTOR_OK);
    assert_ptr_equal(a, b);
    assert_code(actor_msgtype_define("hostile.redef", "2q", "q", &b), ACTOR_ETYPE);
    assert_code(actor_msgtype_define("hostile.redef", "qq", NULL, &b), ACTOR_ETYPE);
    assert_code(actor_msgtype_define("hostile.redef", NULL, "q", &b), ACTOR_ETYPE);
}

/* ------------------------------------------------------------------------ */
/* Plugins                                                                   */
/* ------------------------------------------------------------------------ */

static char tmpdir[64];

static int plugin_setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/libactor-hostile-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int plugin_teardown(void **state)
{
    (void)state;
    actor_set_log_handler(NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len > 0)
        assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void plugin_not_loadable(void **state)
{
    (void)state;
    char path[256];
    struct {
        const char *what;
        const char *path;
    } cases[8];
    int n = 0;
    cases[n].what = "a text file";
    cases[n++].path = REL_PLUGIN_NOTELF;
    snprintf(path, sizeof path, "%s/empty.so", tmpdir);
    write_file(path, "", 0);
    static char empty[256];
    strcpy(empty, path);
    cases[n].what = "an empty file";
    cases[n++].path = empty;
    static char elfjunk[256];
    snprintf(elfjunk, sizeof elfjunk, "%s/elfjunk.so", tmpdir);
    write_file(elfjunk, "\x7f" "ELF\x02\x01\x01\0garbage-after-the-magic", 31);
    cases[n].what = "an ELF magic and garbage";
    cases[n++].path = elfjunk;
    cases[n].what = "a directory";
    cases[n++].path = tmpdir;
    cases[n].what = "a missing file";
    cases[n++].path = "/nonexistent-libactor-hostile/plugin.so";
    cases[n].what = "/dev/null";
    cases[n++].path = "/dev/null";
    for (int i = 0; i < n; i++) {
        log_start();
        int rc = actor_plugin_load(cases[i].path);
        log_stop();
        if (rc != ACTOR_EINVAL)
            fail_msg("actor_plugin_load(%s) = %d (%s), expected EINVAL", cases[i].what, rc,
                     actor_strerror(rc));
        assert_logged(cases[i].path);
    }
}

static void plugin_percent_path_logged_literally(void **state)
{
    (void)state;
    /* A missing file whose path is a format string. */
    char path[256];
    snprintf(path, sizeof path, "%s/%%s%%n%%s%%x%%p.so", tmpdir);
    log_start();
    assert_code(actor_plugin_load(path), ACTOR_EINVAL);
    log_stop();
    assert_logged("/%s%n%s%x%p.so");
    /* An existing non-ELF file with such a name (dlerror's text names it too). */
    write_file(path, "not an object\n", 14);
    log_start();
    assert_code(actor_plugin_load(path), ACTOR_EINVAL);
    log_stop();
    assert_logged("/%s%n%s%x%p.so");
    /* A path longer than the log line: truncated, not overflowing. */
    char longpath[4096];
    memset(longpath, 0, sizeof longpath);
    snprintf(longpath, sizeof longpath, "%s/", tmpdir);
    size_t l = strlen(longpath);
    for (size_t i = l; i < 3000; i += 2)
        memcpy(longpath + i, "%n", 2);
    log_start();
    assert_code(actor_plugin_load(longpath), ACTOR_EINVAL);
    log_stop();
    assert_true(log_lines >= 1);
    assert_logged("%n%n%n%n");
}

static void plugin_no_init_symbol(void **state)
{
    (void)state;
    log_start();
    assert_code(actor_plugin_load(REL_PLUGIN_NOINIT), ACTOR_EINVAL);
    log_stop();
    assert_logged("actor_plugin_init");
}

static void plugin_unresolved_symbol(void **state)
{
    (void)state;
    log_start();
    assert_code(actor_plugin_load(REL_PLUGIN_UNRESOLVED), ACTOR_EINVAL);
    log_stop();
    assert_logged("rel_no_such_symbol_anywhere");
}

static void plugin_init_fails_once(void **state)
{
    (void)state;
    log_start();
    assert_code(actor_plugin_load(REL_PLUGIN_INITFAIL), ACTOR_EHANDLER);
    log_stop();
    assert_logged("-42");
    /* Again: the same answer, and init does not run a second time. */
    assert_code(actor_plugin_load(REL_PLUGIN_INITFAIL), ACTOR_EHANDLER);
    void *h = dlopen(REL_PLUGIN_INITFAIL, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    int *runs = dlsym(h, "rel_initfail_runs");
    assert_non_null(runs);
    assert_int_equal(*runs, 1);
    dlclose(h);
}

static void plugin_registers_twice(void **state)
{
    (void)state;
    log_start();
    int rc = actor_plugin_load(REL_PLUGIN_TWICE);
    log_stop();
    if (rc != ACTOR_OK)
        fail_msg("the twice plugin: %d (%s); its init code in the log: %s", rc,
                 actor_strerror(rc), log_buf);
    actor_class *c = actor_class_find("hostile.Twice");
    assert_non_null(c);
    assert_string_equal(actor_class_name(c), "hostile.Twice");
    /* The registered class works. */
    actor_runtime *rt = NULL;
    assert_code(actor_runtime_new(1, &rt), ACTOR_OK);
    actor_addr *a = NULL;
    assert_code(actor_spawn(rt, c, NULL, &a), ACTOR_OK);
    actor_responder *r = NULL;
    assert_code(addr_interact(a, actor_msgtype_find("hostile.TwicePing"), NULL, 0, &r), ACTOR_OK);
    assert_code(actor_responder_wait(r, 10000), ACTOR_OK);
    actor_responder_free(r);
    addr_release(a);
    actor_runtime_free(rt);
    /* A second plugin that takes the same name: its init fails (EBUSY),
     * loading is EHANDLER, and the first class is still the registered one. */
    log_start();
    assert_code(actor_plugin_load(REL_PLUGIN_TAKEN), ACTOR_EHANDLER);
    log_stop();
    assert_true(actor_class_find("hostile.Twice") == c);
    char code[32];
    snprintf(code, sizeof code, "%d", ACTOR_EBUSY);
    assert_logged(code);
}

/* A plugin whose init loads itself. Run in a child: a loader that recurses
 * without end would take the test process down with it. */
static void plugin_loads_itself(void **state)
{
    (void)state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);
        actor_set_log_handler(log_cb, NULL);
        int rc = actor_plugin_load(REL_PLUGIN_SELFLOAD);
        void *h = dlopen(REL_PLUGIN_SELFLOAD, RTLD_NOW | RTLD_NOLOAD);
        int *runs = h ? dlsym(h, "rel_selfload_runs") : NULL;
        int *nested = h ? dlsym(h, "rel_selfload_nested_rc") : NULL;
        int bad = 0;
        if (rc != ACTOR_OK) {
            fprintf(stderr, "selfload: actor_plugin_load = %d (%s), expected OK\n", rc,
                    actor_strerror(rc));
            bad = 1;
        }
        if (runs == NULL || *runs != 1) {
            fprintf(stderr,
                    "selfload: the plugin's init ran %d times (expected once: loading an "
                    "object again must not run its init again, even while its init runs)\n",
                    runs ? *runs : -1);
            bad = 1;
        }
        if (nested != NULL)
            fprintf(stderr, "selfload: the nested load returned %d (%s)\n", *nested,
                    actor_strerror(*nested));
        fflush(NULL);
        _exit(bad);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status))
        fail_msg("loading a plugin that loads itself killed the process (signal %d)",
                 WTERMSIG(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* Several threads load the same plugin at once: one init, every load OK. */
#define NLOADERS 4
static atomic_int loaders_ready;
static int loader_rc[NLOADERS];

static void *loader(void *arg)
{
    int i = (int)(intptr_t)arg;
    atomic_fetch_add(&loaders_ready, 1);
    while (atomic_load(&loaders_ready) < NLOADERS)
        ;
    loader_rc[i] = actor_plugin_load(REL_PLUGIN_SLOWINIT);
    return NULL;
}

static void plugin_loaded_concurrently(void **state)
{
    (void)state;
    pthread_t th[NLOADERS];
    for (int i = 0; i < NLOADERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, loader, (void *)(intptr_t)i), 0);
    for (int i = 0; i < NLOADERS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < NLOADERS; i++)
        assert_code(loader_rc[i], ACTOR_OK);
    void *h = dlopen(REL_PLUGIN_SLOWINIT, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null(h);
    int *runs = dlsym(h, "rel_slowinit_runs");
    assert_non_null(runs);
    assert_int_equal(__atomic_load_n(runs, __ATOMIC_SEQ_CST), 1);
    dlclose(h);
    assert_non_null(actor_msgtype_find("hostile.SlowInit"));
}

int main(void)
{
    const struct CMUnitTest world_tests[] = {
        cmocka_unit_test(send_huge_opaque),
        cmocka_unit_test(interact_huge_opaque),
        cmocka_unit_test(typed_huge_is_etype),
        cmocka_unit_test(reply_huge_opaque),
        cmocka_unit_test(resolve_huge_opaque),
        cmocka_unit_test(state_size_huge),
        cmocka_unit_test(timeouts_extreme),
    };
    const struct CMUnitTest plain_tests[] = {
        cmocka_unit_test(runtime_threads_hostile),
        cmocka_unit_test(strerror_any_code),
        cmocka_unit_test(names_hostile),
        cmocka_unit_test(layouts_hostile),
    };
    const struct CMUnitTest plugin_tests[] = {
        cmocka_unit_test(plugin_not_loadable),
        cmocka_unit_test(plugin_percent_path_logged_literally),
        cmocka_unit_test(plugin_no_init_symbol),
        cmocka_unit_test(plugin_unresolved_symbol),
        cmocka_unit_test(plugin_init_fails_once),
        cmocka_unit_test(plugin_registers_twice),
        cmocka_unit_test(plugin_loads_itself),
        cmocka_unit_test(plugin_loaded_concurrently),
    };
    int failed = 0;
    failed += cmocka_run_group_tests_name("hostile payloads", world_tests, world_setup,
                                          world_teardown);
    failed += cmocka_run_group_tests_name("hostile names and layouts", plain_tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("hostile plugins", plugin_tests, plugin_setup,
                                          plugin_teardown);
    return failed ? 1 : 0;
}

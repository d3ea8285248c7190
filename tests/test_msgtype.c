/* Message types: the registry, names, layouts and their sizes. */
#include "testutil.h"

static const actor_msgtype *const SENTINEL = (const actor_msgtype *)(uintptr_t)0x1;

/* Defines `name` with (layout, reply); returns the code, checks *out is
 * untouched on failure. */
static int define_rc(const char *name, const char *layout, const char *reply)
{
    const actor_msgtype *t = SENTINEL;
    int rc = actor_msgtype_define(name, layout, reply, &t);
    if (rc != ACTOR_OK && t != SENTINEL)
        fail_msg("define(%s, %s, %s) failed (%d) but wrote *out", name ? name : "NULL",
                 layout ? layout : "NULL", reply ? reply : "NULL", rc);
    if (rc == ACTOR_OK && (t == NULL || t == SENTINEL))
        fail_msg("define(%s) returned OK without a type", name ? name : "NULL");
    return rc;
}

static void define_and_find(void **state)
{
    (void)state;
    const actor_msgtype *t = NULL;
    assert_ok(actor_msgtype_define("mt.Point", "2i", "q", &t));
    assert_non_null(t);
    assert_ptr_equal(actor_msgtype_find("mt.Point"), t);
    assert_string_equal(actor_msgtype_name(t), "mt.Point");
    assert_string_equal(actor_msgtype_layout(t), "2i");
    assert_string_equal(actor_msgtype_reply_layout(t), "q");
    assert_int_equal(actor_msgtype_size(t), 8);
    assert_int_equal(actor_msgtype_reply_size(t), 8);

    assert_null(actor_msgtype_find("mt.NeverDefined"));
    assert_null(actor_msgtype_find(NULL));
    assert_null(actor_msgtype_find(""));
    assert_null(actor_msgtype_find("mt.point")); /* case matters */
}

static void redefine_same_layouts_same_pointer(void **state)
{
    (void)state;
    const actor_msgtype *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    assert_ok(actor_msgtype_define("mt.Same", "qq", "q", &a));
    assert_ok(actor_msgtype_define("mt.Same", "qq", "q", &b));
    assert_ptr_equal(a, b);
    /* NULL layouts compare equal to NULL. */
    assert_ok(actor_msgtype_define("mt.SameOpaque", NULL, NULL, &c));
    assert_ok(actor_msgtype_define("mt.SameOpaque", NULL, NULL, &d));
    assert_ptr_equal(c, d);
    assert_ptr_not_equal(a, c);
}

static void redefine_other_layouts_etype(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("mt.Fixed", "qq", "q");
    assert_code(define_rc("mt.Fixed", "2q", "q"), ACTOR_ETYPE); /* "qq" vs "2q" differ */
    assert_code(define_rc("mt.Fixed", "qq", "Q"), ACTOR_ETYPE);
    assert_code(define_rc("mt.Fixed", "qq", NULL), ACTOR_ETYPE);
    assert_code(define_rc("mt.Fixed", "qq", ""), ACTOR_ETYPE);
    assert_code(define_rc("mt.Fixed", NULL, "q"), ACTOR_ETYPE);
    assert_code(define_rc("mt.Fixed", "", "q"), ACTOR_ETYPE);
    assert_code(define_rc("mt.Fixed", "d", "q"), ACTOR_ETYPE);
    /* The original is untouched. */
    assert_ptr_equal(actor_msgtype_find("mt.Fixed"), t);
    assert_string_equal(actor_msgtype_layout(t), "qq");
    assert_string_equal(actor_msgtype_reply_layout(t), "q");

    /* Opaque vs empty are different layouts too. */
    tu_type("mt.OpaqueVsEmpty", NULL, NULL);
    assert_code(define_rc("mt.OpaqueVsEmpty", "", NULL), ACTOR_ETYPE);
    assert_code(define_rc("mt.OpaqueVsEmpty", NULL, ""), ACTOR_ETYPE);

    /* "2q" itself is a distinct, valid type. */
    const actor_msgtype *t2 = tu_type("mt.Fixed2", "2q", "q");
    assert_int_equal(actor_msgtype_size(t2), 16);
}

static void names(void **state)
{
    (void)state;
    char n64[65], n65[66];
    memset(n64, 'a', 64);
    n64[64] = '\0';
    memset(n65, 'b', 65);
    n65[65] = '\0';

    assert_code(define_rc("", "q", NULL), ACTOR_EINVAL);
    assert_code(define_rc(NULL, "q", NULL), ACTOR_EINVAL);
    assert_code(define_rc(n65, "q", NULL), ACTOR_EINVAL);
    assert_null(actor_msgtype_find(n65));

    assert_code(define_rc(n64, "q", NULL), ACTOR_OK);
    const actor_msgtype *t = actor_msgtype_find(n64);
    assert_non_null(t);
    assert_string_equal(actor_msgtype_name(t), n64);

    assert_code(define_rc("x", "q", NULL), ACTOR_OK); /* one character */
    assert_code(define_rc("Az09_.:-", "q", NULL), ACTOR_OK);
    assert_code(define_rc("mt:ns.Type-1_x", NULL, NULL), ACTOR_OK);

    const char *bad[] = {
        "a b", " ab", "ab ", "a/b", "/", "a\tb", "a\nb", "a\x01" "b", "\x7f",
        "a\x1b", "a%sb", "a@b", "a,b", "a;b", "a\"b", "a'b", "a\\b", "a*b", "a#b",
        "a+b", "a=b", "a(b)", "a[b]", "a{b}", "a!b", "a?b", "a|b", "a~b", "a<b",
        "\xc3\xa9t\xc3\xa9", /* UTF-8 letters are not in the set */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = define_rc(bad[i], "q", NULL);
        if (rc != ACTOR_EINVAL)
            fail_msg("name #%zu (\"%s\") gave %d (%s), expected EINVAL", i, bad[i], rc,
                     actor_strerror(rc));
        assert_null(actor_msgtype_find(bad[i]));
    }
}

static void name_is_copied(void **state)
{
    (void)state;
    char name[32] = "mt.Copied";
    char layout[8] = "qq";
    char reply[8] = "i";
    const actor_msgtype *t = NULL;
    assert_ok(actor_msgtype_define(name, layout, reply, &t));
    memset(name, 'Z', sizeof name - 1);
    memset(layout, 'Z', sizeof layout - 1);
    memset(reply, 'Z', sizeof reply - 1);
    assert_string_equal(actor_msgtype_name(t), "mt.Copied");
    assert_string_equal(actor_msgtype_layout(t), "qq");
    assert_string_equal(actor_msgtype_reply_layout(t), "i");
    assert_ptr_equal(actor_msgtype_find("mt.Copied"), t);
}

struct size_case {
    const char *layout;
    size_t size;
};

static void layout_sizes(void **state)
{
    (void)state;
    static const struct size_case cases[] = {
        {"x", 1},     {"?", 1},      {"b", 1},      {"B", 1},    {"h", 2},
        {"H", 2},     {"i", 4},      {"I", 4},      {"q", 8},    {"Q", 8},
        {"f", 4},     {"d", 8},      {"s", 1},      {"qq", 16},  {"16s", 16},
        {"2id", 16},  {"hH", 4},     {"fd", 12},    {"", 0},     {"bq", 9},
        {"xq", 9},    {"3x", 3},     {"10q", 80},   {"1q", 8},   {"?bBhHiIqQfds", 44},
        {"2h3i", 16}, {"100s", 100}, {"0q", 0},     {"q0s", 8},  {"1000000s", 1000000},
    };
    char name[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const actor_msgtype *t = NULL;
        snprintf(name, sizeof name, "mt.size.%zu", i);
        int rc = actor_msgtype_define(name, cases[i].layout, NULL, &t);
        if (rc != ACTOR_OK)
            fail_msg("layout \"%s\": %d (%s)", cases[i].layout, rc, actor_strerror(rc));
        if (actor_msgtype_size(t) != cases[i].size)
            fail_msg("layout \"%s\": size %zu, expected %zu", cases[i].layout,
                     actor_msgtype_size(t), cases[i].size);
        assert_string_equal(actor_msgtype_layout(t), cases[i].layout);

        /* The same layouts as a reply layout. */
        snprintf(name, sizeof name, "mt.rsize.%zu", i);
        rc = actor_msgtype_define(name, NULL, cases[i].layout, &t);
        if (rc != ACTOR_OK)
            fail_msg("reply layout \"%s\": %d (%s)", cases[i].layout, rc,
                     actor_strerror(rc));
        if (actor_msgtype_reply_size(t) != cases[i].size)
            fail_msg("reply layout \"%s\": reply size %zu, expected %zu", cases[i].layout,
                     actor_msgtype_reply_size(t), cases[i].size);
        assert_string_equal(actor_msgtype_reply_layout(t), cases[i].layout);
        assert_null(actor_msgtype_layout(t));
        assert_int_equal(actor_msgtype_size(t), 0);
    }
}

static void opaque_layout(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("mt.Opaque", NULL, NULL);
    assert_null(actor_msgtype_layout(t));
    assert_null(actor_msgtype_reply_layout(t));
    assert_int_equal(actor_msgtype_size(t), 0);
    assert_int_equal(actor_msgtype_reply_size(t), 0);

    const actor_msgtype *e = tu_type("mt.Empty", "", "");
    assert_non_null(actor_msgtype_layout(e));
    assert_string_equal(actor_msgtype_layout(e), "");
    assert_non_null(actor_msgtype_reply_layout(e));
    assert_string_equal(actor_msgtype_reply_layout(e), "");
    assert_int_equal(actor_msgtype_size(e), 0);
    assert_int_equal(actor_msgtype_reply_size(e), 0);
}

static void bad_layouts(void **state)
{
    (void)state;
    static const char *bad[] = {
        "<q", ">q", "=q", "!q", "@q", " q", "q ", "q q", "\tq", "q\n", "z", "3", "q3",
        "2", "99999999999999999999q", "18446744073709551616s", "18446744073709551615q",
        "9223372036854775807Q", "c", "l", "L", "n", "N", "e", "p", "P", "-1q", "+1q",
        "Q-", "qq<", "2 q", "1e3q", "q,q", "\xc3\xa9",
    };
    char name[64];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(name, sizeof name, "mt.bad.%zu", i);
        int rc = define_rc(name, bad[i], NULL);
        if (rc != ACTOR_EINVAL)
            fail_msg("layout #%zu \"%s\" gave %d (%s), expected EINVAL", i, bad[i], rc,
                     actor_strerror(rc));
        assert_null(actor_msgtype_find(name));

        snprintf(name, sizeof name, "mt.badreply.%zu", i);
        rc = define_rc(name, "q", bad[i]);
        if (rc != ACTOR_EINVAL)
            fail_msg("reply layout #%zu \"%s\" gave %d (%s), expected EINVAL", i, bad[i], rc,
                     actor_strerror(rc));
        assert_null(actor_msgtype_find(name));
    }
}

static void null_out(void **state)
{
    (void)state;
    assert_code(actor_msgtype_define("mt.NullOut", "q", NULL, NULL), ACTOR_EINVAL);
    /* An existing type with NULL out as well. */
    tu_type("mt.NullOut2", "q", NULL);
    assert_code(actor_msgtype_define("mt.NullOut2", "q", NULL, NULL), ACTOR_EINVAL);
}

static void accessors_on_null(void **state)
{
    (void)state;
    assert_null(actor_msgtype_name(NULL));
    assert_null(actor_msgtype_layout(NULL));
    assert_null(actor_msgtype_reply_layout(NULL));
    assert_int_equal(actor_msgtype_size(NULL), 0);
    assert_int_equal(actor_msgtype_reply_size(NULL), 0);
}

/* Concurrent definitions of the same names from several threads all get the
 * same pointer. */
#define CONC_THREADS 4
#define CONC_NAMES 200
static const actor_msgtype *conc_seen[CONC_THREADS][CONC_NAMES];

static void *conc_definer(void *arg)
{
    int id = (int)(intptr_t)arg;
    char name[64];
    for (int k = 0; k < CONC_NAMES; k++) {
        int i = (id % 2) ? CONC_NAMES - 1 - k : k; /* half the threads go backwards */
        snprintf(name, sizeof name, "mt.conc.%d", i);
        const actor_msgtype *t = NULL;
        TU_CHECK_CODE(actor_msgtype_define(name, "qi", "d", &t), ACTOR_OK);
        conc_seen[id][i] = t;
    }
    return NULL;
}

static void concurrent_define(void **state)
{
    (void)state;
    pthread_t th[CONC_THREADS];
    for (int i = 0; i < CONC_THREADS; i++)
        th[i] = tu_thread(conc_definer, (void *)(intptr_t)i);
    for (int i = 0; i < CONC_THREADS; i++)
        tu_join_thread(th[i]);
    tu_assert_no_failures();
    char name[64];
    for (int i = 0; i < CONC_NAMES; i++) {
        snprintf(name, sizeof name, "mt.conc.%d", i);
        const actor_msgtype *t = actor_msgtype_find(name);
        assert_non_null(t);
        assert_int_equal(actor_msgtype_size(t), 12);
        for (int k = 0; k < CONC_THREADS; k++)
            assert_ptr_equal(conc_seen[k][i], t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(define_and_find),
        TU_TEST(redefine_same_layouts_same_pointer),
        TU_TEST(redefine_other_layouts_etype),
        TU_TEST(names),
        TU_TEST(name_is_copied),
        TU_TEST(layout_sizes),
        TU_TEST(opaque_layout),
        TU_TEST(bad_layouts),
        TU_TEST(null_out),
        TU_TEST(accessors_on_null),
        TU_TEST(concurrent_define),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

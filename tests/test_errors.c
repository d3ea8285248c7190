/* actor_strerror and the version. */
#include "testutil.h"

#include <limits.h>

static const int known_codes[] = {
    ACTOR_OK,         ACTOR_EINVAL, ACTOR_ENOMEM,  ACTOR_ECLOSED, ACTOR_ETIMEDOUT,
    ACTOR_ECANCELED,  ACTOR_ENOHANDLER, ACTOR_ETYPE, ACTOR_EHANDLER, ACTOR_EDEADLK,
    ACTOR_EBUSY,      ACTOR_EAGAIN, ACTOR_EFULL,   ACTOR_ENOENT,  ACTOR_EEXPIRED,
};
#define NKNOWN (sizeof known_codes / sizeof known_codes[0])

static void codes_have_contract_values(void **state)
{
    (void)state;
    assert_int_equal(ACTOR_OK, 0);
    assert_int_equal(ACTOR_EINVAL, -1);
    assert_int_equal(ACTOR_ENOMEM, -2);
    assert_int_equal(ACTOR_ECLOSED, -3);
    assert_int_equal(ACTOR_ETIMEDOUT, -4);
    assert_int_equal(ACTOR_ECANCELED, -5);
    assert_int_equal(ACTOR_ENOHANDLER, -6);
    assert_int_equal(ACTOR_ETYPE, -7);
    assert_int_equal(ACTOR_EHANDLER, -8);
    assert_int_equal(ACTOR_EDEADLK, -9);
    assert_int_equal(ACTOR_EBUSY, -10);
    assert_int_equal(ACTOR_EAGAIN, -11);
    assert_int_equal(ACTOR_EFULL, -12);
}

static void strerror_known_codes_distinct(void **state)
{
    (void)state;
    for (size_t i = 0; i < NKNOWN; i++) {
        const char *s = actor_strerror(known_codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s, actor_strerror(known_codes[j])) == 0)
                fail_msg("codes %d and %d share the string \"%s\"", known_codes[i],
                         known_codes[j], s);
        }
    }
}

static void strerror_unknown_codes(void **state)
{
    (void)state;
    const int unknown[] = {1, 2, -15, -16, -100, 1000, INT_MIN, INT_MAX};
    for (size_t u = 0; u < sizeof unknown / sizeof unknown[0]; u++) {
        const char *s = actor_strerror(unknown[u]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        for (size_t i = 0; i < NKNOWN; i++)
            if (strcmp(s, actor_strerror(known_codes[i])) == 0)
                fail_msg("unknown code %d described as known code %d: \"%s\"", unknown[u],
                         known_codes[i], s);
    }
}

static void strerror_is_stable(void **state)
{
    (void)state;
    /* Static strings: the same text on every call, from any thread. */
    for (size_t i = 0; i < NKNOWN; i++) {
        char copy[256];
        snprintf(copy, sizeof copy, "%s", actor_strerror(known_codes[i]));
        assert_string_equal(copy, actor_strerror(known_codes[i]));
    }
}

static void version_matches_macros(void **state)
{
    (void)state;
    unsigned want = ((unsigned)ACTOR_VERSION_MAJOR << 16) |
                    ((unsigned)ACTOR_VERSION_MINOR << 8) | (unsigned)ACTOR_VERSION_PATCH;
    assert_int_equal(actor_version(), want);
    assert_int_equal(actor_version() >> 16, ACTOR_VERSION_MAJOR);
    assert_int_equal((actor_version() >> 8) & 0xff, ACTOR_VERSION_MINOR);
    assert_int_equal(actor_version() & 0xff, ACTOR_VERSION_PATCH);
    assert_int_equal(ACTOR_VERSION_MAJOR, 1); /* the v1 contract */

    char buf[64];
    snprintf(buf, sizeof buf, "%d.%d.%d", ACTOR_VERSION_MAJOR, ACTOR_VERSION_MINOR,
             ACTOR_VERSION_PATCH);
    assert_non_null(actor_version_string());
    assert_string_equal(actor_version_string(), buf);
    /* A static string: the same pointer every time. */
    assert_ptr_equal(actor_version_string(), actor_version_string());
}

static void version_matches_project(void **state)
{
    (void)state;
#ifdef ACTOR_TEST_PROJECT_VERSION
    assert_string_equal(actor_version_string(), ACTOR_TEST_PROJECT_VERSION);
#else
    skip();
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(codes_have_contract_values), TU_TEST(strerror_known_codes_distinct),
        TU_TEST(strerror_unknown_codes),     TU_TEST(strerror_is_stable),
        TU_TEST(version_matches_macros),     TU_TEST(version_matches_project),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * header_cxx: the public header compiles as C++ (-Wall -Wextra -Wpedantic
 * -Werror, C++11) and its functions link from C++ (the extern "C" guards).
 * Built with LANGUAGE CXX; exits nonzero on failure.
 */
#ifndef __cplusplus
#error "header_cxx.c must be compiled as C++"
#endif

#include <actor/actor.h>

#include <cstdio>
#include <cstring>

static_assert(ACTOR_OK == 0, "ACTOR_OK");
static_assert(ACTOR_EINVAL == -1 && ACTOR_ENOMEM == -2 && ACTOR_ECLOSED == -3 &&
                  ACTOR_ETIMEDOUT == -4 && ACTOR_ECANCELED == -5 &&
                  ACTOR_ENOHANDLER == -6 && ACTOR_ETYPE == -7 && ACTOR_EHANDLER == -8 &&
                  ACTOR_EDEADLK == -9 && ACTOR_EBUSY == -10 && ACTOR_EAGAIN == -11 &&
                  ACTOR_EFULL == -12,
              "error codes are the contract's");

static int handled = 0;

extern "C" int on_ping(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    (void)state;
    (void)payload;
    (void)len;
    long long v = 42;
    return actor_ctx_reply(ctx, &v, sizeof v) == ACTOR_OK ? (handled = 1, 0) : 1;
}

int main()
{
    int fails = 0;
#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            std::fprintf(stderr, "header_cxx: check failed: %s\n", #c);                 \
            fails++;                                                                   \
        }                                                                              \
    } while (0)

    CHECK(actor_version() == ((ACTOR_VERSION_MAJOR << 16) | (ACTOR_VERSION_MINOR << 8) |
                              ACTOR_VERSION_PATCH));
    CHECK(actor_strerror(ACTOR_EINVAL) != nullptr);

    const actor_msgtype *t = nullptr;
    CHECK(actor_msgtype_define("cxx.Ping", "", "q", &t) == ACTOR_OK);
    actor_class *c = nullptr;
    CHECK(actor_class_new("cxx.Pinger", &c) == ACTOR_OK);
    CHECK(actor_class_on_request(c, t, on_ping) == ACTOR_OK);
    actor_runtime *rt = nullptr;
    CHECK(actor_runtime_new(1, &rt) == ACTOR_OK);
    actor_addr *a = nullptr;
    CHECK(actor_spawn(rt, c, nullptr, &a) == ACTOR_OK);
    actor_responder *r = nullptr;
    CHECK(addr_interact(a, t, nullptr, 0, &r) == ACTOR_OK);
    CHECK(actor_responder_wait(r, 10000) == ACTOR_OK);
    size_t len = 0;
    const void *data = actor_responder_data(r, &len);
    long long v = 0;
    CHECK(data != nullptr && len == sizeof v);
    if (data != nullptr && len == sizeof v)
        std::memcpy(&v, data, sizeof v);
    CHECK(v == 42);
    actor_responder_free(r);
    addr_release(a);
    CHECK(actor_runtime_shutdown(rt, 10000) == ACTOR_OK);
    actor_runtime_free(rt);
    actor_class_free(c);
    CHECK(handled == 1);
    if (fails == 0)
        std::printf("header_cxx: OK\n");
    return fails == 0 ? 0 : 1;
}

/*
 * A C plugin for the Python tests (libactor_pytest_plugin.so): C classes that
 * talk to Python actors and exercise layouts from the C side.
 *
 * "Relay" forwards to a target actor (often a Python one):
 *   Relay.Target      event   "Q"    the target: an actor_addr * whose counted
 *                                    reference the relay takes over
 *   Relay.SpawnTarget event   "64s"  spawns the registered class of that name
 *                                    (NUL-padded) on the relay's runtime
 *   Relay.Ask         request "q"->"q"  asks the target Relay.Inner(v), defers,
 *                                    and answers with the target's reply (or
 *                                    rejects with the target's handler code,
 *                                    or with the failing status)
 *   Relay.Tell        event   "q"    sends the target Relay.InnerEvent(v)
 *   Relay.Inner       ("q" -> "q") and Relay.InnerEvent ("q"): for the target
 *
 * "Echo" answers from C:
 *   Echo.Bytes   opaque -> opaque  the payload back
 *   Echo.Pair    "qd" -> "dq"      the two fields swapped
 *   Echo.Nothing ""   -> ""        an empty reply
 *   Echo.Fail    "i"  -> ""        returns that code unanswered (0: canceled)
 *   Echo.Slow    "i"  -> "i"       sleeps that many ms, then replies with it
 *   Echo.Hold    ""   -> ""        defers and never answers (canceled at stop)
 *   Echo.Print   event opaque      adds the payload's length to a counter
 *   Echo.Count   ""   -> "Q"       the counter
 *   Echo.Str     "8s" -> "8s"      the bytes back
 */
#define _POSIX_C_SOURCE 200809L
#include <actor/actor.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

__attribute__((visibility("default"))) int actor_plugin_init(void);

static const actor_msgtype *t_target, *t_spawn, *t_ask, *t_tell, *t_inner, *t_inner_event;

typedef struct relay {
    actor_addr *target;
} relay;

static void relay_set(relay *r, actor_addr *a)
{
    addr_release(r->target);
    r->target = a;
}

static int relay_target(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    (void)len;
    uint64_t v;
    memcpy(&v, p, sizeof v);
    relay_set(state, (actor_addr *)(uintptr_t)v);
    return 0;
}

static int relay_spawn(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    char name[65];
    memcpy(name, p, len < 64 ? len : 64);
    name[len < 64 ? len : 64] = 0;
    actor_class *c = actor_class_find(name);
    if (!c)
        return ACTOR_EINVAL;
    actor_addr *a = NULL;
    int rc = actor_spawn(actor_ctx_runtime(ctx), c, NULL, &a);
    if (rc != ACTOR_OK)
        return rc;
    relay_set(state, a);
    return 0;
}

static void relay_done(actor_responder *r, void *ud)
{
    actor_promise *p = ud;
    int st = actor_responder_status(r);
    if (st == ACTOR_OK) {
        size_t len = 0;
        const void *data = actor_responder_data(r, &len);
        if (actor_promise_resolve(p, data, len) == ACTOR_ETYPE)
            actor_promise_free(p);
    } else if (st == ACTOR_EHANDLER) {
        actor_promise_reject(p, actor_responder_handler_error(r));
    } else {
        actor_promise_reject(p, st);
    }
    actor_responder_free(r);
}

static int relay_ask(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    relay *rl = state;
    if (!rl->target)
        return ACTOR_ECLOSED; /* HandlerError(-3) */
    actor_responder *r = NULL;
    int rc = addr_interact(rl->target, t_inner, p, len, &r);
    if (rc != ACTOR_OK)
        return rc; /* HandlerError(rc) */
    actor_promise *pr = NULL;
    rc = actor_ctx_defer(ctx, &pr);
    if (rc != ACTOR_OK) {
        actor_responder_free(r);
        return rc;
    }
    rc = actor_responder_then(r, relay_done, pr);
    if (rc != ACTOR_OK) {
        actor_promise_reject(pr, rc);
        actor_responder_free(r);
    }
    return 0;
}

static int relay_tell(actor_ctx *ctx, void *state, const void *p, size_t len)
{
    (void)ctx;
    relay *rl = state;
    if (!rl->target)
        return ACTOR_ECLOSED;
    return addr_send(rl->target, t_inner_event, p, len);
}

static void relay_free(void *state) { relay_set(state, NULL); }

/* ---- Echo ---- */

typedef struct echo {
    uint64_t printed;
    actor_promise *held[64];
    int nheld;
} echo;

static int echo_bytes(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    (void)s;
    return actor_ctx_reply(ctx, p, len);
}

static int echo_pair(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    (void)s;
    (void)len;
    unsigned char out[16];
    memcpy(out, (const unsigned char *)p + 8, 8);
    memcpy(out + 8, p, 8);
    return actor_ctx_reply(ctx, out, sizeof out);
}

static int echo_nothing(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    (void)s;
    (void)p;
    (void)len;
    return actor_ctx_reply(ctx, NULL, 0);
}

static int echo_fail(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    (void)ctx;
    (void)s;
    (void)len;
    int32_t code;
    memcpy(&code, p, sizeof code);
    return code;
}

static int echo_slow(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    (void)s;
    int32_t ms;
    memcpy(&ms, p, sizeof ms);
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    return actor_ctx_reply(ctx, p, len);
}

static int echo_hold(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    (void)p;
    (void)len;
    echo *e = s;
    if (e->nheld == 64)
        return 0; /* canceled */
    return actor_ctx_defer(ctx, &e->held[e->nheld++]);
}

static int echo_print(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    (void)ctx;
    (void)p;
    ((echo *)s)->printed += len;
    return 0;
}

static int echo_count(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    (void)p;
    (void)len;
    uint64_t n = ((echo *)s)->printed;
    return actor_ctx_reply(ctx, &n, sizeof n);
}

static void echo_finalize(actor_ctx *ctx, void *s)
{
    (void)ctx;
    echo *e = s;
    for (int i = 0; i < e->nheld; i++)
        actor_promise_free(e->held[i]);
    e->nheld = 0;
}

#define TRY(x)                                                                                   \
    do {                                                                                         \
        int rc_ = (x);                                                                           \
        if (rc_ != ACTOR_OK)                                                                     \
            return rc_;                                                                          \
    } while (0)

static int make_relay(void)
{
    TRY(actor_msgtype_define("Relay.Target", "Q", "", &t_target));
    TRY(actor_msgtype_define("Relay.SpawnTarget", "64s", "", &t_spawn));
    TRY(actor_msgtype_define("Relay.Ask", "q", "q", &t_ask));
    TRY(actor_msgtype_define("Relay.Tell", "q", "", &t_tell));
    TRY(actor_msgtype_define("Relay.Inner", "q", "q", &t_inner));
    TRY(actor_msgtype_define("Relay.InnerEvent", "q", "", &t_inner_event));
    actor_class *c;
    TRY(actor_class_new("Relay", &c));
    actor_class_set_state_size(c, sizeof(relay));
    actor_class_set_state_free(c, relay_free);
    actor_class_on_event(c, t_target, relay_target);
    actor_class_on_event(c, t_spawn, relay_spawn);
    actor_class_on_request(c, t_ask, relay_ask);
    actor_class_on_event(c, t_tell, relay_tell);
    int rc = actor_class_register(c);
    actor_class_free(c);
    return rc;
}

static int make_echo(void)
{
    const actor_msgtype *bytes, *pair, *nothing, *fail, *slow, *hold, *print, *count, *str;
    TRY(actor_msgtype_define("Echo.Bytes", NULL, NULL, &bytes));
    TRY(actor_msgtype_define("Echo.Pair", "qd", "dq", &pair));
    TRY(actor_msgtype_define("Echo.Nothing", "", "", &nothing));
    TRY(actor_msgtype_define("Echo.Fail", "i", "", &fail));
    TRY(actor_msgtype_define("Echo.Slow", "i", "i", &slow));
    TRY(actor_msgtype_define("Echo.Hold", "", "", &hold));
    TRY(actor_msgtype_define("Echo.Print", NULL, "", &print));
    TRY(actor_msgtype_define("Echo.Count", "", "Q", &count));
    TRY(actor_msgtype_define("Echo.Str", "8s", "8s", &str));
    actor_class *c;
    TRY(actor_class_new("Echo", &c));
    actor_class_set_state_size(c, sizeof(echo));
    actor_class_on_finalize(c, echo_finalize);
    actor_class_on_request(c, bytes, echo_bytes);
    actor_class_on_request(c, pair, echo_pair);
    actor_class_on_request(c, nothing, echo_nothing);
    actor_class_on_request(c, fail, echo_fail);
    actor_class_on_request(c, slow, echo_slow);
    actor_class_on_request(c, hold, echo_hold);
    actor_class_on_event(c, print, echo_print);
    actor_class_on_request(c, count, echo_count);
    actor_class_on_request(c, str, echo_bytes);
    int rc = actor_class_register(c);
    actor_class_free(c);
    return rc;
}

/* 1.1 (test_v11.py): "Pub", a C publisher that can also fail.
 *   Pub.Go    event "q"  publishes Pub.News (the same q) on subject "news.c"
 *   Pub.Crash event ""   actor_ctx_fail(ctx, 42)
 *   Pub.Ping  request "" -> "q"  its state's counter of Go events */
static const actor_msgtype *t_news;

static int pub_go(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    ++*(int64_t *)s;
    return actor_publish(actor_ctx_runtime(ctx), "news.c", t_news, p, len, NULL);
}

static int pub_crash(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    (void)s;
    (void)p;
    (void)len;
    actor_ctx_fail(ctx, 42);
    return 0;
}

static int pub_ping(actor_ctx *ctx, void *s, const void *p, size_t len)
{
    (void)p;
    (void)len;
    return actor_ctx_reply(ctx, s, sizeof(int64_t));
}

static int make_pub(void)
{
    const actor_msgtype *go, *crash, *ping;
    TRY(actor_msgtype_define("Pub.News", "q", "", &t_news));
    TRY(actor_msgtype_define("Pub.Go", "q", "", &go));
    TRY(actor_msgtype_define("Pub.Crash", "", "", &crash));
    TRY(actor_msgtype_define("Pub.Ping", "", "q", &ping));
    actor_class *c;
    TRY(actor_class_new("Pub", &c));
    actor_class_set_state_size(c, sizeof(int64_t));
    actor_class_on_event(c, go, pub_go);
    actor_class_on_event(c, crash, pub_crash);
    actor_class_on_request(c, ping, pub_ping);
    int rc = actor_class_register(c);
    actor_class_free(c);
    return rc;
}

int actor_plugin_init(void)
{
    TRY(make_relay());
    TRY(make_pub());
    return make_echo();
}

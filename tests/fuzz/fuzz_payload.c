/*
 * fuzz_payload — payload and reply sizes against types.
 *
 * One runtime and one actor live across inputs. An input is a sequence of
 * records [op][type][len lo][len hi][reply lo][reply hi] followed by payload
 * bytes taken from the input itself (zeros past its end):
 *   op & 3 == 0    addr_send          op & 3 == 1   addr_interact
 *   op & 3 == 2    addr_send with a NULL payload
 *   op & 3 == 3    addr_interact, then actor_responder_forward to the actor
 * The request handler first replies with the record's reply length, then
 * (if that was refused) with the size the reply layout wants.
 *
 * Invariants: a send is ETYPE iff the type has a layout and len differs from
 * its size, EINVAL iff payload is NULL with len > 0, else OK; the handler
 * gets exactly the bytes sent, in the order sent; a reply is ETYPE iff its
 * length does not fit the reply layout, and the responder then carries the
 * reply that was accepted; nothing is lost: at the end of each input, every
 * event sent was handled and every responder (and forward) completed.
 */
#include <actor/actor.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fprintf(stderr, "fuzz_payload: check failed at line %d: %s\n", __LINE__, #c); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

#define NTYPES 10
static const struct {
    const char *name, *layout, *reply;
} type_defs[NTYPES] = {
    {"fp.opaque", NULL, NULL},
    {"fp.empty", "", ""},
    {"fp.q", "q", "q"},
    {"fp.16s", "16s", "2id"},
    {"fp.2id", "2id", NULL},
    {"fp.all", "x?bBhHiIqQfds", "x?bBhHiIqQfds"},
    {"fp.300s", "300s", "17s"},
    {"fp.3q", "3q", ""},
    {"fp.zero", "0s", "0q"},
    {"fp.big", "4096s", "1000s"},
};
static const actor_msgtype *types[NTYPES];

static actor_runtime *rt;
static actor_addr *actor;
static actor_class *cls;

/* What the handler must see next, in order (written before each send). */
typedef struct expect {
    size_t len;
    uint32_t sum;
} expect;
#define MAXREC 4096
static expect expected[MAXREC];
static atomic_int handled;
static atomic_int forwarded_seen;

static uint32_t checksum(const unsigned char *p, size_t len)
{
    uint32_t h = 2166136261u ^ (uint32_t)len;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int on_event(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int i = atomic_fetch_add(&handled, 1);
    CHECK(i < MAXREC);
    CHECK(len == expected[i].len);
    CHECK(len == 0 || payload != NULL);
    CHECK(checksum(payload, len) == expected[i].sum);
    return 0;
}

/* The request's payload starts with the reply length to try (2 bytes), when
 * it has them; the reply bytes are a pattern. */
static unsigned char pattern[70000];

static int on_request(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    int i = atomic_fetch_add(&handled, 1);
    CHECK(i < MAXREC);
    CHECK(len == expected[i].len);
    CHECK(checksum(payload, len) == expected[i].sum);
    size_t want = 0;
    if (len >= 2) {
        const unsigned char *p = payload;
        want = (size_t)p[0] | (size_t)p[1] << 8;
    }
    /* Which type? The one whose handler this is: compare by the responder's
     * type through a reply attempt: ETYPE tells the size did not fit. */
    int rc = actor_ctx_reply(ctx, pattern, want);
    if (rc == ACTOR_ETYPE) {
        /* Retry with every candidate size until one fits (the layout's). */
        static const size_t sizes[] = {0, 8, 16, 17, 45, 1000};
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0] && rc == ACTOR_ETYPE; k++)
            rc = actor_ctx_reply(ctx, pattern, sizes[k]);
    }
    if (rc != ACTOR_OK)
        fprintf(stderr, "fuzz_payload: reply of %zu bytes: %d (%s)\n", want, rc,
                actor_strerror(rc));
    CHECK(rc == ACTOR_OK);
    CHECK(actor_ctx_reply(ctx, pattern, 0) == ACTOR_EINVAL); /* answered already */
    return 0;
}

static void on_response(actor_ctx *ctx, void *state, const actor_msgtype *type, int status,
                        const void *reply, size_t len)
{
    CHECK(status == ACTOR_OK);
    CHECK(reply != NULL);
    size_t fixed = actor_msgtype_reply_size(type);
    if (actor_msgtype_reply_layout(type) != NULL)
        CHECK(len == fixed);
    CHECK(memcmp(reply, pattern, len) == 0);
    atomic_fetch_add(&forwarded_seen, 1);
}

static void quiet(int level, const char *msg, void *ud) {}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    actor_set_log_handler(quiet, NULL);
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (unsigned char)(i * 7 + 3);
    for (int i = 0; i < NTYPES; i++)
        CHECK(actor_msgtype_define(type_defs[i].name, type_defs[i].layout, type_defs[i].reply,
                                   &types[i]) == ACTOR_OK);
    CHECK(actor_runtime_new(1, &rt) == ACTOR_OK);
    CHECK(actor_class_new("fp.Echo", &cls) == ACTOR_OK);
    for (int i = 0; i < NTYPES; i++) {
        CHECK(actor_class_on_event(cls, types[i], on_event) == ACTOR_OK);
        CHECK(actor_class_on_request(cls, types[i], on_request) == ACTOR_OK);
        CHECK(actor_class_on_response(cls, types[i], on_response) == ACTOR_OK);
    }
    CHECK(actor_spawn(rt, cls, NULL, &actor) == ACTOR_OK);
    return 0;
}

/* A request behind everything sent so far; waits for its answer. */
static void flush(int *sent)
{
    static unsigned char zero[8];
    expected[*sent].len = 8;
    expected[*sent].sum = checksum(zero, 8);
    actor_responder *r = NULL;
    CHECK(addr_interact(actor, types[2], zero, 8, &r) == ACTOR_OK);
    (*sent)++;
    CHECK(actor_responder_wait(r, 30000) == ACTOR_OK);
    size_t l = 0;
    CHECK(actor_responder_data(r, &l) != NULL && l == 8);
    actor_responder_free(r);
}

static bool fits(const actor_msgtype *t, size_t len)
{
    return actor_msgtype_layout(t) == NULL || len == actor_msgtype_size(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char buf[70000];
    atomic_store(&handled, 0);
    atomic_store(&forwarded_seen, 0);
    int sent = 0, forwards = 0;
    actor_responder *rs[MAXREC];
    int nr = 0;
    size_t pos = 0;
    while (pos + 6 <= size && sent < MAXREC - 2) {
        uint8_t op = data[pos];
        const actor_msgtype *t = types[data[pos + 1] % NTYPES];
        size_t len = (size_t)data[pos + 2] | (size_t)data[pos + 3] << 8;
        if (op & 0x80)
            len = actor_msgtype_size(t) + (op & 0x40 ? 1 : 0); /* near the layout's size */
        size_t reply_len = (size_t)data[pos + 4] | (size_t)data[pos + 5] << 8;
        pos += 6;
        /* The payload: input bytes, then zeros; a request's first two bytes
         * say which reply length to try. */
        size_t avail = size - pos < len ? size - pos : len;
        memset(buf, 0, len);
        memcpy(buf, data + pos, avail);
        pos += avail;
        int kind = op & 3;
        if (kind == 1 || kind == 3) {
            if (len >= 2) {
                buf[0] = (unsigned char)reply_len;
                buf[1] = (unsigned char)(reply_len >> 8);
            }
        }
        bool null_payload = kind == 2;
        const void *payload = null_payload ? NULL : buf;
        int want = (null_payload && len > 0) ? ACTOR_EINVAL
                   : !fits(t, len)          ? ACTOR_ETYPE
                                            : ACTOR_OK;
        /* The EINVAL/ETYPE order: both are argument errors; accept either
         * when both apply. */
        expected[sent].len = len;
        expected[sent].sum = checksum(buf, null_payload ? 0 : len);
        if (null_payload && len == 0)
            expected[sent].sum = checksum(NULL, 0);
        int rc;
        if (kind == 0 || kind == 2) {
            rc = addr_send(actor, t, payload, len);
        } else {
            actor_responder *r = NULL;
            rc = addr_interact(actor, t, payload, len, &r);
            if (rc == ACTOR_OK) {
                CHECK(r != NULL);
                CHECK(actor_responder_type(r) == t);
                if (kind == 3 && actor_responder_forward(r, actor) == ACTOR_OK)
                    forwards++;
                else
                    rs[nr++] = r;
            } else {
                CHECK(r == NULL);
            }
        }
        if (want == ACTOR_EINVAL && rc == ACTOR_ETYPE && !fits(t, len))
            want = ACTOR_ETYPE;
        CHECK(rc == want);
        if (rc == ACTOR_OK)
            sent++;
    }
    /* Flush: a request behind everything; then every responder is done. */
    flush(&sent);
    CHECK(atomic_load(&handled) == sent);
    for (int i = 0; i < nr; i++) {
        CHECK(actor_responder_wait(rs[i], 0) == ACTOR_OK);
        size_t len = 0;
        const void *d = actor_responder_data(rs[i], &len);
        CHECK(d != NULL);
        const actor_msgtype *t = actor_responder_type(rs[i]);
        if (actor_msgtype_reply_layout(t) != NULL)
            CHECK(len == actor_msgtype_reply_size(t));
        CHECK(memcmp(d, pattern, len) == 0);
        actor_responder_free(rs[i]);
    }
    /* Forwarded outcomes were queued while the flush waited in the mailbox
     * or before: one more round trip is behind all of them. */
    flush(&sent);
    CHECK(atomic_load(&forwarded_seen) == forwards);
    return 0;
}

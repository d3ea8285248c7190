/* Events: ordering, no loss under concurrency, ENOHANDLER, ETYPE, copying,
 * opaque payloads. */
#include "testutil.h"

/* ---- ordering from one sender ------------------------------------------- */

struct seq_state {
    uint64_t next;    /* the sequence number expected next */
    uint64_t handled;
    uint64_t bad;     /* out of order */
};

static int seq_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    struct seq_state *s = st;
    uint64_t v = tu_get_u64(p);
    if (v != s->next) {
        if (s->bad++ == 0)
            tu_record_failure(__FILE__, __LINE__, "event %llu arrived when %llu was expected",
                              (unsigned long long)v, (unsigned long long)s->next);
    }
    s->next = v + 1;
    s->handled++;
    return 0;
}

static void order_one_sender(void **state)
{
    (void)state;
    const long n = tu_scale(100000);
    const actor_msgtype *t = tu_type("ev.Seq", "Q", NULL);
    actor_class *c = tu_class("ev.Sequencer");
    assert_ok(actor_class_on_event(c, t, seq_event));
    actor_runtime *rt = tu_runtime(2);
    struct seq_state *s = calloc(1, sizeof *s);
    actor_addr *a = tu_spawn(rt, c, s);
    unsigned char buf[8];
    for (long i = 0; i < n; i++) {
        tu_put_u64(buf, (uint64_t)i);
        assert_ok(addr_send(a, t, buf, sizeof buf));
    }
    tu_stop_join(a);
    assert_int_equal(s->handled, (uint64_t)n);
    assert_int_equal(s->bad, 0);
    assert_int_equal(s->next, (uint64_t)n);
    tu_assert_no_failures();
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    free(s);
}

/* ---- two senders, no loss, no duplicate, per-sender order ---------------- */

#define NSENDERS 2
struct multi_state {
    uint64_t next[NSENDERS];
    uint64_t handled[NSENDERS];
    uint64_t bad;
};

static int multi_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    struct multi_state *s = st;
    uint32_t id = tu_get_u32(p);
    uint64_t seq = tu_get_u64((const unsigned char *)p + 4);
    if (id >= NSENDERS) {
        if (s->bad++ == 0)
            tu_record_failure(__FILE__, __LINE__, "bad sender id %u", id);
        return 0;
    }
    if (seq != s->next[id]) {
        if (s->bad++ == 0)
            tu_record_failure(__FILE__, __LINE__,
                              "sender %u: seq %llu arrived when %llu was expected", id,
                              (unsigned long long)seq, (unsigned long long)s->next[id]);
    }
    s->next[id] = seq + 1;
    s->handled[id]++;
    return 0;
}

struct sender_arg {
    actor_addr *a;
    const actor_msgtype *t;
    uint32_t id;
    long n;
};

static void *sender_thread(void *p)
{
    struct sender_arg *sa = p;
    unsigned char buf[12];
    tu_put_u32(buf, sa->id);
    for (long i = 0; i < sa->n; i++) {
        tu_put_u64(buf + 4, (uint64_t)i);
        int rc = addr_send(sa->a, sa->t, buf, sizeof buf);
        if (rc != ACTOR_OK) {
            TU_CHECK_CODE(rc, ACTOR_OK);
            break;
        }
    }
    return NULL;
}

static void two_senders_no_loss(void **state)
{
    (void)state;
    const long n = tu_scale(500000);
    const actor_msgtype *t = tu_type("ev.Tagged", "IQ", NULL);
    assert_int_equal(actor_msgtype_size(t), 12);
    actor_class *c = tu_class("ev.Merger");
    assert_ok(actor_class_on_event(c, t, multi_event));
    actor_runtime *rt = tu_runtime(2);
    struct multi_state *s = calloc(1, sizeof *s);
    actor_addr *a = tu_spawn(rt, c, s);

    struct sender_arg args[NSENDERS];
    pthread_t th[NSENDERS];
    for (int i = 0; i < NSENDERS; i++) {
        args[i] = (struct sender_arg){a, t, (uint32_t)i, n};
        th[i] = tu_thread(sender_thread, &args[i]);
    }
    for (int i = 0; i < NSENDERS; i++)
        tu_join_thread(th[i]);
    tu_assert_no_failures();
    tu_stop_join(a);
    for (int i = 0; i < NSENDERS; i++) {
        assert_int_equal(s->handled[i], (uint64_t)n);
        assert_int_equal(s->next[i], (uint64_t)n);
    }
    assert_int_equal(s->bad, 0);
    tu_assert_no_failures();
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    free(s);
}

/* ---- one actor sending to another keeps order ---------------------------- */

static const actor_msgtype *fan_go, *fan_seq;
static actor_addr *fan_target;

static int fan_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    uint64_t count = tu_get_u64(p);
    unsigned char buf[8];
    for (uint64_t i = 0; i < count; i++) {
        tu_put_u64(buf, i);
        TU_CHECK_CODE(addr_send(fan_target, fan_seq, buf, sizeof buf), ACTOR_OK);
    }
    return 0;
}

static void order_actor_to_actor(void **state)
{
    (void)state;
    const long n = tu_scale(20000);
    fan_go = tu_type("ev.Go", "Q", NULL);
    fan_seq = tu_type("ev.Seq", "Q", NULL);
    actor_class *src = tu_class("ev.Source");
    assert_ok(actor_class_on_event(src, fan_go, fan_event));
    actor_class *dst = tu_class("ev.Sink");
    assert_ok(actor_class_on_event(dst, fan_seq, seq_event));
    actor_runtime *rt = tu_runtime(2);
    struct seq_state *s = calloc(1, sizeof *s);
    fan_target = tu_spawn(rt, dst, s);
    actor_addr *a = tu_spawn(rt, src, NULL);
    unsigned char buf[8];
    tu_put_u64(buf, (uint64_t)n);
    assert_ok(addr_send(a, fan_go, buf, sizeof buf));
    tu_stop_join(a); /* all sent once the source is Done */
    tu_stop_join(fan_target);
    assert_int_equal(s->handled, (uint64_t)n);
    assert_int_equal(s->bad, 0);
    tu_assert_no_failures();
    addr_release(a);
    addr_release(fan_target);
    actor_runtime_free(rt);
    actor_class_free(src);
    actor_class_free(dst);
    free(s);
}

/* ---- ENOHANDLER, ETYPE ---------------------------------------------------- */

static atomic_int cnt_events;
static atomic_long cnt_sum;
static int count_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    atomic_fetch_add(&cnt_events, 1);
    if (len == 8)
        atomic_fetch_add(&cnt_sum, (long)tu_get_u64(p));
    return 0;
}
static int some_request(actor_ctx *ctx, void *st, const void *p, size_t len) { return 1; }

static void no_handler_at_once(void **state)
{
    (void)state;
    const actor_msgtype *known = tu_type("ev.Known", "q", NULL);
    const actor_msgtype *other = tu_type("ev.Other", "q", NULL);
    const actor_msgtype *reqonly = tu_type("ev.ReqOnly", "q", "q");
    actor_class *c = tu_class("ev.OneHandler");
    assert_ok(actor_class_on_event(c, known, count_event));
    assert_ok(actor_class_on_request(c, reqonly, some_request));
    atomic_store(&cnt_events, 0);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    int64_t v = 1;
    assert_code(addr_send(a, other, &v, sizeof v), ACTOR_ENOHANDLER);
    assert_code(addr_send(a, reqonly, &v, sizeof v), ACTOR_ENOHANDLER);
    /* A type defined after the class was set up: no handler either. */
    const actor_msgtype *late = tu_type("ev.DefinedLate", "q", NULL);
    assert_code(addr_send(a, late, &v, sizeof v), ACTOR_ENOHANDLER);
    assert_ok(addr_send(a, known, &v, sizeof v));
    tu_stop_join(a);
    assert_int_equal(atomic_load(&cnt_events), 1);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

static void wrong_size_etype_nothing_sent(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("ev.Q", "q", NULL);
    const actor_msgtype *e = tu_type("ev.Empty", "", NULL);
    actor_class *c = tu_class("ev.Sizes");
    assert_ok(actor_class_on_event(c, t, count_event));
    assert_ok(actor_class_on_event(c, e, count_event));
    atomic_store(&cnt_events, 0);
    atomic_store(&cnt_sum, 0);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    unsigned char buf[32] = {0};
    tu_put_u64(buf, 1000);
    assert_code(addr_send(a, t, buf, 4), ACTOR_ETYPE);
    assert_code(addr_send(a, t, buf, 7), ACTOR_ETYPE);
    assert_code(addr_send(a, t, buf, 9), ACTOR_ETYPE);
    assert_code(addr_send(a, t, buf, 16), ACTOR_ETYPE);
    assert_code(addr_send(a, t, buf, 0), ACTOR_ETYPE);
    assert_code(addr_send(a, t, NULL, 0), ACTOR_ETYPE);
    assert_code(addr_send(a, e, buf, 1), ACTOR_ETYPE);
    assert_code(addr_send(a, t, NULL, 8), ACTOR_EINVAL);
    tu_put_u64(buf, 5);
    assert_ok(addr_send(a, t, buf, 8));
    assert_ok(addr_send(a, e, NULL, 0));
    assert_ok(addr_send(a, e, buf, 0));
    tu_stop_join(a);
    assert_int_equal(atomic_load(&cnt_events), 3); /* only the good ones */
    assert_int_equal(atomic_load(&cnt_sum), 5);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ---- the payload is copied ------------------------------------------------ */

static tu_gate copy_gate;
static unsigned char copy_seen[64];
static atomic_int copy_len;

static int block_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    tu_gate_wait(&copy_gate, TU_LONG_MS);
    return 0;
}
static int copy_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    if (len <= sizeof copy_seen)
        memcpy(copy_seen, p, len);
    atomic_store(&copy_len, (int)len);
    return 0;
}

static void payload_is_copied(void **state)
{
    (void)state;
    const actor_msgtype *blk = tu_type("ev.Block", "", NULL);
    const actor_msgtype *t = tu_type("ev.Bytes", "16s", NULL);
    const actor_msgtype *op = tu_type("ev.OpaqueCopy", NULL, NULL);
    actor_class *c = tu_class("ev.Copier");
    assert_ok(actor_class_on_event(c, blk, block_event));
    assert_ok(actor_class_on_event(c, t, copy_event));
    assert_ok(actor_class_on_event(c, op, copy_event));
    tu_gate_init(&copy_gate);
    atomic_store(&copy_len, -1);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);

    assert_ok(addr_send(a, blk, NULL, 0));
    TU_WAIT_ENTERED(&copy_gate, 1); /* the actor is busy: the next one stays queued */
    unsigned char *buf = malloc(16);
    memset(buf, 'A', 16);
    assert_ok(addr_send(a, t, buf, 16));
    memset(buf, 'B', 16); /* changed, then freed, before the handler runs */
    free(buf);
    tu_gate_open(&copy_gate);
    TU_WAIT_UNTIL(atomic_load(&copy_len) == 16, TU_LONG_MS);
    for (int i = 0; i < 16; i++)
        assert_int_equal(copy_seen[i], 'A');

    /* The same for an opaque payload. */
    atomic_store(&copy_len, -1);
    char *ob = strdup("opaque-payload");
    assert_ok(addr_send(a, op, ob, strlen(ob)));
    memset(ob, 'x', strlen(ob));
    free(ob);
    TU_WAIT_UNTIL(atomic_load(&copy_len) == 14, TU_LONG_MS);
    assert_memory_equal(copy_seen, "opaque-payload", 14);

    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(rt);
    tu_gate_destroy(&copy_gate);
    actor_class_free(c);
}

/* ---- opaque types take any length ---------------------------------------- */

#define NOPAQUE 6
static const size_t opaque_lens[NOPAQUE] = {0, 1, 3, 17, 1000, 100000};
static atomic_int opaque_idx, opaque_bad;

static int opaque_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    int i = atomic_load(&opaque_idx);
    if (i >= NOPAQUE || len != opaque_lens[i]) {
        atomic_fetch_add(&opaque_bad, 1);
        tu_record_failure(__FILE__, __LINE__, "opaque event %d has length %zu", i, len);
    } else {
        const unsigned char *b = p;
        for (size_t k = 0; k < len; k++)
            if (b[k] != (unsigned char)(k * 31 + (size_t)i)) {
                atomic_fetch_add(&opaque_bad, 1);
                tu_record_failure(__FILE__, __LINE__, "opaque event %d: byte %zu differs", i,
                                  k);
                break;
            }
    }
    atomic_fetch_add(&opaque_idx, 1);
    return 0;
}

static void opaque_any_length(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("ev.Blob", NULL, NULL);
    actor_class *c = tu_class("ev.BlobSink");
    assert_ok(actor_class_on_event(c, t, opaque_event));
    atomic_store(&opaque_idx, 0);
    atomic_store(&opaque_bad, 0);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, NULL);
    for (int i = 0; i < NOPAQUE; i++) {
        size_t len = opaque_lens[i];
        unsigned char *b = malloc(len ? len : 1);
        for (size_t k = 0; k < len; k++)
            b[k] = (unsigned char)(k * 31 + (size_t)i);
        assert_ok(addr_send(a, t, len ? b : NULL, len));
        free(b);
    }
    tu_stop_join(a);
    assert_int_equal(atomic_load(&opaque_idx), NOPAQUE);
    assert_int_equal(atomic_load(&opaque_bad), 0);
    tu_assert_no_failures();
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
}

/* ---- handlers get the state they were spawned with ----------------------- */

static int state_event(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    TU_CHECK(st != NULL);
    if (st != NULL)
        ((int *)st)[0] += 1;
    return 0;
}

static void handlers_get_spawn_state(void **state)
{
    (void)state;
    const actor_msgtype *t = tu_type("ev.Tick", "", NULL);
    actor_class *c = tu_class("ev.Stateful");
    assert_ok(actor_class_on_event(c, t, state_event));
    actor_runtime *rt = tu_runtime(2);
    int *s1 = calloc(1, sizeof *s1), *s2 = calloc(1, sizeof *s2);
    actor_addr *a = tu_spawn(rt, c, s1);
    actor_addr *b = tu_spawn(rt, c, s2);
    for (int i = 0; i < 30; i++)
        assert_ok(addr_send(a, t, NULL, 0));
    for (int i = 0; i < 12; i++)
        assert_ok(addr_send(b, t, NULL, 0));
    tu_stop_join(a);
    tu_stop_join(b);
    assert_int_equal(*s1, 30);
    assert_int_equal(*s2, 12);
    tu_assert_no_failures();
    addr_release(a);
    addr_release(b);
    actor_runtime_free(rt);
    actor_class_free(c);
    free(s1);
    free(s2);
}

/* ---- every payload size around the allocator's size classes, sent from a
 * worker thread (where envelopes may be pooled) and from outside ---------- */

#define SZ_MAX 600
static const actor_msgtype *sz_blob, *sz_go;
static actor_addr *sz_sink;
static atomic_int sz_seen, sz_bad;

static void sz_fill(unsigned char *b, size_t len)
{
    for (size_t k = 0; k < len; k++)
        b[k] = (unsigned char)(len * 7 + k * 13);
}

static int sz_check(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    /* Sizes arrive in order: 0..SZ_MAX from the source, then again from main. */
    size_t want = (size_t)atomic_load(&sz_seen) % (SZ_MAX + 1);
    if (len != want) {
        if (atomic_fetch_add(&sz_bad, 1) == 0)
            tu_record_failure(__FILE__, __LINE__, "payload of %zu bytes, expected %zu", len,
                              want);
    } else {
        const unsigned char *b = p;
        for (size_t k = 0; k < len; k++)
            if (b[k] != (unsigned char)(len * 7 + k * 13)) {
                if (atomic_fetch_add(&sz_bad, 1) == 0)
                    tu_record_failure(__FILE__, __LINE__, "payload of %zu bytes: byte %zu",
                                      len, k);
                break;
            }
    }
    atomic_fetch_add(&sz_seen, 1);
    return 0;
}

static int sz_source(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    unsigned char buf[SZ_MAX];
    for (size_t n = 0; n <= SZ_MAX; n++) {
        sz_fill(buf, n);
        TU_CHECK_CODE(addr_send(sz_sink, sz_blob, n ? buf : NULL, n), ACTOR_OK);
    }
    return 0;
}

static void payload_sizes_across_classes(void **state)
{
    (void)state;
    sz_blob = tu_type("ev.SizedBlob", NULL, NULL);
    sz_go = tu_type("ev.SizeGo", "", NULL);
    actor_class *sink = tu_class("ev.SizeSink");
    assert_ok(actor_class_on_event(sink, sz_blob, sz_check));
    actor_class *src = tu_class("ev.SizeSource");
    assert_ok(actor_class_on_event(src, sz_go, sz_source));
    atomic_store(&sz_seen, 0);
    atomic_store(&sz_bad, 0);
    actor_runtime *rt = tu_runtime(2);
    sz_sink = tu_spawn(rt, sink, NULL);
    actor_addr *a = tu_spawn(rt, src, NULL);
    for (int round = 0; round < 3; round++) {
        assert_ok(addr_send(a, sz_go, NULL, 0));
        TU_WAIT_UNTIL(atomic_load(&sz_seen) == (2 * round + 1) * (SZ_MAX + 1), TU_LONG_MS);
        unsigned char buf[SZ_MAX];
        for (size_t n = 0; n <= SZ_MAX; n++) {
            sz_fill(buf, n);
            assert_ok(addr_send(sz_sink, sz_blob, n ? buf : NULL, n));
        }
        TU_WAIT_UNTIL(atomic_load(&sz_seen) == (2 * round + 2) * (SZ_MAX + 1), TU_LONG_MS);
    }
    assert_int_equal(atomic_load(&sz_bad), 0);
    tu_assert_no_failures();
    tu_stop_join(a);
    tu_stop_join(sz_sink);
    addr_release(a);
    addr_release(sz_sink);
    actor_runtime_free(rt);
    actor_class_free(sink);
    actor_class_free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(order_one_sender),
        TU_TEST(two_senders_no_loss),
        TU_TEST(order_actor_to_actor),
        TU_TEST(no_handler_at_once),
        TU_TEST(wrong_size_etype_nothing_sent),
        TU_TEST(payload_is_copied),
        TU_TEST(opaque_any_length),
        TU_TEST(handlers_get_spawn_state),
        TU_TEST(payload_sizes_across_classes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

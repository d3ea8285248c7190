/* Flow control (1.1 part 2, issue 11): bounded mailboxes under
 * ACTOR_OVERFLOW_REJECT and ACTOR_OVERFLOW_DROP, and addr_send_wait.
 *
 * - The bound holds at every instant under four sender threads against a
 *   slow actor: checked inside the handler (from the senders' own counts and
 *   from addr_stats) and afterwards through queued_peak.
 * - Every accepted message is handled or accounted for: once the actor is
 *   Done, received = handled + dropped + expired + canceled, and the
 *   senders' ACTOR_OK counts match it exactly (per policy).
 * - addr_interact is refused with ACTOR_EFULL under both policies; messages
 *   the bound does not count (interrupts, forwarded responses) are never
 *   refused; unbounded mailboxes never say ACTOR_EFULL.
 * - addr_send_wait: waits with a deadline, wakes on the take itself, never on
 *   a worker, does not wait for 0, waits rather than drops, learns of a stop,
 *   and drives a manual runtime.
 * - actor_class_set_mailbox's bad input. */
#include "testutil.h"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

static const actor_msgtype *fl_ev, *fl_req, *fl_block, *fl_fwd;

static void types(void)
{
    fl_ev = tu_type("fl.Ev", "Q", NULL);
    fl_req = tu_type("fl.Req", "Q", "Q");
    fl_block = tu_type("fl.Block", "I", NULL); /* waits on gate[payload] */
    fl_fwd = tu_type("fl.Fwd", "", "Q");       /* forwarded outcomes */
}

/* Busy for `us` microseconds (a slow handler that does not sleep). */
static void spin_us(long us)
{
    int64_t end = tu_now_ns() + us * 1000;
    while (tu_now_ns() < end)
        ;
}

static actor_stats stats_of(actor_addr *a)
{
    actor_stats s;
    memset(&s, 0, sizeof s);
    s.size = sizeof s;
    int rc = addr_stats(a, &s);
    if (rc != ACTOR_OK)
        tu_record_failure(__FILE__, __LINE__, "addr_stats = %d", rc);
    return s;
}

/* The conservation equation, once Done. Main thread. */
static void assert_conserved(const actor_stats *s)
{
    assert_int_equal(s->queued, 0);
    assert_int_equal(s->received, s->handled + s->dropped + s->expired + s->canceled);
}

static pid_t my_tid(void) { return (pid_t)syscall(SYS_gettid); }

/* True when thread `tid` of this process is asleep (blocked in the kernel). */
static bool thread_asleep(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    return p != NULL && p[1] == ' ' && (p[2] == 'S' || p[2] == 'D');
}

/* ------------------------------------------------------------------------ */
/* A probe actor: counts what it handles; fl.Block waits on a gate          */
/* ------------------------------------------------------------------------ */

typedef struct probe {
    atomic_int events, requests, blocks;
    tu_gate gate[3];
    atomic_int stop_in_block;   /* fl.Block calls actor_ctx_stop after its gate */
    atomic_int wait_rc[3];      /* addr_send_wait from a handler: its codes     */
    atomic_int try_send_wait;   /* fl.Ev tries addr_send_wait first             */
    actor_addr *target;         /* for try_send_wait                            */
    atomic_int responses;
} probe;

static void probe_init(probe *p)
{
    memset(p, 0, sizeof *p);
    for (int i = 0; i < 3; i++) {
        tu_gate_init(&p->gate[i]);
        atomic_store(&p->wait_rc[i], 1);
    }
}

static void probe_destroy(probe *p)
{
    for (int i = 0; i < 3; i++)
        tu_gate_destroy(&p->gate[i]);
}

static int pr_event(actor_ctx *ctx, void *st, const void *payload, size_t len)
{
    probe *p = st;
    if (atomic_load(&p->try_send_wait)) {
        uint64_t v = 9;
        actor_addr *to = p->target ? p->target : actor_ctx_self(ctx);
        atomic_store(&p->wait_rc[0], addr_send_wait(to, fl_ev, &v, 8, 0));
        atomic_store(&p->wait_rc[1], addr_send_wait(to, fl_ev, &v, 8, 50));
        atomic_store(&p->wait_rc[2], addr_send_wait(to, fl_ev, &v, 8, -1));
    }
    atomic_fetch_add(&p->events, 1);
    return 0;
}

static int pr_request(actor_ctx *ctx, void *st, const void *payload, size_t len)
{
    probe *p = st;
    atomic_fetch_add(&p->requests, 1);
    uint64_t v = len == 8 ? tu_get_u64(payload) : 0; /* (fwd types: no payload) */
    TU_CHECK_CODE(actor_ctx_reply(ctx, &v, 8), ACTOR_OK);
    return 0;
}

static int pr_block(actor_ctx *ctx, void *st, const void *payload, size_t len)
{
    probe *p = st;
    uint32_t i = tu_get_u32(payload);
    atomic_fetch_add(&p->blocks, 1);
    if (i < 3)
        tu_gate_wait(&p->gate[i], TU_LONG_MS);
    if (atomic_load(&p->stop_in_block))
        actor_ctx_stop(ctx);
    return 0;
}

static void pr_response(actor_ctx *ctx, void *st, const actor_msgtype *t, int status,
                        const void *reply, size_t len)
{
    probe *p = st;
    atomic_fetch_add(&p->responses, 1);
}

static actor_class *probe_class(const char *name, size_t cap, int policy)
{
    actor_class *c = tu_class(name);
    assert_ok(actor_class_on_event(c, fl_ev, pr_event));
    assert_ok(actor_class_on_request(c, fl_req, pr_request));
    assert_ok(actor_class_on_event(c, fl_block, pr_block));
    assert_ok(actor_class_on_response(c, fl_fwd, pr_response));
    if (cap != 0 || policy != ACTOR_OVERFLOW_REJECT)
        assert_ok(actor_class_set_mailbox(c, cap, policy));
    return c;
}

static int send_ev(actor_addr *a, uint64_t v)
{
    unsigned char b[8];
    tu_put_u64(b, v);
    return addr_send(a, fl_ev, b, 8);
}

static int send_block(actor_addr *a, uint32_t gate)
{
    unsigned char b[4];
    tu_put_u32(b, gate);
    return addr_send(a, fl_block, b, 4);
}

/* ------------------------------------------------------------------------ */
/* Four senders against a slow bounded actor                                */
/* ------------------------------------------------------------------------ */

enum { HM_SENDERS = 4, HM_CAP = 100, HM_REQ_EVERY = 8 };

typedef struct hammer {
    int policy;
    actor_addr *a;
    /* Handler side. */
    atomic_ullong taken;            /* events + requests whose handler began   */
    atomic_ullong h_events, h_requests;
    atomic_ullong over_own;         /* accepted - dropped - taken > capacity   */
    atomic_ullong over_stats;       /* addr_stats().queued > capacity          */
    atomic_llong max_own;
    atomic_ullong max_stats;
    /* Sender side. */
    atomic_ullong ok_total;         /* every ACTOR_OK of addr_send/interact    */
    atomic_ullong ok_events, ok_requests, efull, closed_events, closed_requests;
    atomic_ullong attempts;
    /* Dead letters (the hooks). */
    atomic_ullong dl_full, dl_closed, dl_other;
    /* Requests' outcomes. */
    atomic_ullong r_ok, r_canceled, r_other, r_then;
    atomic_int give_up;             /* the test failed: senders stop           */
    tu_gate first;                  /* the first message waits until full      */
} hammer;

static hammer hm;

static void hm_max(atomic_llong *m, long long v)
{
    long long cur = atomic_load(m);
    while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
        ;
}

static void hm_maxu(atomic_ullong *m, unsigned long long v)
{
    unsigned long long cur = atomic_load(m);
    while (v > cur && !atomic_compare_exchange_weak(m, &cur, v))
        ;
}

/* Inside a handler, once per message: the mailbox never held more than the
 * capacity. Two witnesses: the senders' own counts (what they were told was
 * accepted, minus what the DROP hook said it dropped, minus what the handler
 * took, never exceeds the capacity: read `ok` first, so that a late count
 * can only make the difference smaller), and addr_stats. */
static void hm_check_bound(actor_ctx *ctx)
{
    unsigned long long k = atomic_fetch_add(&hm.taken, 1) + 1;
    unsigned long long ok = atomic_load(&hm.ok_total);
    unsigned long long dl = atomic_load(&hm.dl_full);
    long long in_box = (long long)ok - (long long)dl - (long long)k;
    hm_max(&hm.max_own, in_box);
    if (in_box > HM_CAP)
        atomic_fetch_add(&hm.over_own, 1);
    actor_stats s = stats_of(actor_ctx_self(ctx));
    hm_maxu(&hm.max_stats, s.queued);
    if (s.queued > HM_CAP || s.queued_peak > HM_CAP)
        atomic_fetch_add(&hm.over_stats, 1);
}

/* The first message waits until the test saw the mailbox full and refusing
 * (so that the bound is surely reached, however loaded the machine). */
static void hm_first(void)
{
    if (atomic_load(&hm.taken) == 1)
        tu_gate_wait(&hm.first, 6 * TU_LONG_MS);
}

static int hm_event(actor_ctx *ctx, void *st, const void *payload, size_t len)
{
    hm_check_bound(ctx);
    hm_first();
    atomic_fetch_add(&hm.h_events, 1);
    spin_us(20);
    return 0;
}

static int hm_request(actor_ctx *ctx, void *st, const void *payload, size_t len)
{
    hm_check_bound(ctx);
    hm_first();
    atomic_fetch_add(&hm.h_requests, 1);
    spin_us(20);
    uint64_t v = len == 8 ? tu_get_u64(payload) : 0;
    TU_CHECK_CODE(actor_ctx_reply(ctx, &v, 8), ACTOR_OK);
    return 0;
}

static void hm_dead_letter(void *ud, actor_addr *to, const actor_msgtype *t, const void *payload,
                           size_t len, int why)
{
    TU_CHECK(ud == &hm);
    TU_CHECK(t == fl_ev && len == 8 && payload != NULL);
    if (to != hm.a && hm.a != NULL)
        tu_record_failure(__FILE__, __LINE__, "dead letter for another actor");
    if (why == ACTOR_EFULL)
        atomic_fetch_add(&hm.dl_full, 1);
    else if (why == ACTOR_ECLOSED)
        atomic_fetch_add(&hm.dl_closed, 1);
    else
        atomic_fetch_add(&hm.dl_other, 1);
}

static void hm_then(actor_responder *r, void *ud)
{
    int st = actor_responder_status(r);
    if (st == ACTOR_OK)
        atomic_fetch_add(&hm.r_ok, 1);
    else if (st == ACTOR_ECANCELED)
        atomic_fetch_add(&hm.r_canceled, 1);
    else
        atomic_fetch_add(&hm.r_other, 1);
    atomic_fetch_add(&hm.r_then, 1);
    actor_responder_free(r);
}

/* Sends until the actor is closed: every 8th an addr_interact. REJECT
 * senders yield on ACTOR_EFULL and try again (retry by the senders). */
static void *hm_sender(void *arg)
{
    uint64_t seq = (uint64_t)(uintptr_t)arg << 40;
    const unsigned long long max_attempts = 200000000ull; /* a runaway guard */
    for (unsigned long long i = 0; !atomic_load(&hm.give_up); i++) {
        if (i == max_attempts) {
            tu_record_failure(__FILE__, __LINE__, "a sender never saw ACTOR_ECLOSED");
            break;
        }
        atomic_fetch_add(&hm.attempts, 1);
        unsigned char b[8];
        tu_put_u64(b, seq++);
        if (i % HM_REQ_EVERY == HM_REQ_EVERY - 1) {
            actor_responder *r = NULL;
            int rc = addr_interact(hm.a, fl_req, b, 8, &r);
            if (rc == ACTOR_OK) {
                atomic_fetch_add(&hm.ok_requests, 1);
                atomic_fetch_add(&hm.ok_total, 1);
                TU_CHECK_CODE(actor_responder_then(r, hm_then, NULL), ACTOR_OK);
            } else if (rc == ACTOR_EFULL) {
                atomic_fetch_add(&hm.efull, 1);
                sched_yield();
            } else if (rc == ACTOR_ECLOSED) {
                atomic_fetch_add(&hm.closed_requests, 1);
                break;
            } else {
                TU_CHECK_CODE(rc, ACTOR_OK);
                break;
            }
        } else {
            int rc = addr_send(hm.a, fl_ev, b, 8);
            if (rc == ACTOR_OK) {
                atomic_fetch_add(&hm.ok_events, 1);
                atomic_fetch_add(&hm.ok_total, 1);
                if (hm.policy == ACTOR_OVERFLOW_DROP && i % 8 == 3)
                    sched_yield(); /* DROP senders never hear EFULL: share the cores */
            } else if (rc == ACTOR_EFULL) {
                if (hm.policy == ACTOR_OVERFLOW_DROP)
                    TU_CHECK(!"addr_send said ACTOR_EFULL under ACTOR_OVERFLOW_DROP");
                atomic_fetch_add(&hm.efull, 1);
                sched_yield();
            } else if (rc == ACTOR_ECLOSED) {
                atomic_fetch_add(&hm.closed_events, 1);
                break;
            } else {
                TU_CHECK_CODE(rc, ACTOR_OK);
                break;
            }
        }
    }
    return NULL;
}

static void hammer_run(int policy)
{
    types();
    memset(&hm, 0, sizeof hm);
    tu_gate_init(&hm.first);
    hm.policy = policy;
    actor_class *c = tu_class(policy == ACTOR_OVERFLOW_REJECT ? "fl.HammerReject" : "fl.HammerDrop");
    assert_ok(actor_class_on_event(c, fl_ev, hm_event));
    assert_ok(actor_class_on_request(c, fl_req, hm_request));
    assert_ok(actor_class_set_mailbox(c, HM_CAP, policy));
    actor_runtime *rt = tu_runtime(2);
    actor_hooks h = {sizeof h, &hm, hm_dead_letter, NULL};
    assert_ok(actor_runtime_set_hooks(rt, &h));
    hm.a = tu_spawn(rt, c, NULL);

    pthread_t th[HM_SENDERS];
    for (int i = 0; i < HM_SENDERS; i++)
        th[i] = tu_thread(hm_sender, (void *)(uintptr_t)(i + 1));
    /* Full, and refusing (REJECT) or dropping (DROP): then let it go. */
    TU_WAIT_UNTIL(stats_of(hm.a).queued == HM_CAP &&
                      (atomic_load(&hm.efull) > 0 || atomic_load(&hm.dl_full) > 0),
                  TU_LONG_MS);
    tu_gate_open(&hm.first);
    /* Let the actor handle a good number under pressure, then interrupt it
     * in the middle of the traffic: what is queued behind the interrupt is
     * dropped (events) or canceled (requests), and the senders then hear
     * ACTOR_ECLOSED and stop. */
    const unsigned long long target = (unsigned long long)tu_scale(3000);
    const int64_t deadline = tu_now_ms() + 6 * TU_LONG_MS;
    while (atomic_load(&hm.taken) < target && tu_now_ms() < deadline)
        tu_pause();
    if (atomic_load(&hm.taken) < target)
        atomic_store(&hm.give_up, 1);
    assert_ok(addr_interrupt(hm.a));
    for (int i = 0; i < HM_SENDERS; i++)
        tu_join_thread(th[i]);
    assert_code(addr_join(hm.a, TU_LONG_MS), ACTOR_OK);
    /* The workers are joined before the counters are read: a sender's push
     * that raced with the stop may still be in the worker's last drain,
     * which runs after Done (see test_stats: counters_exact_once_done). */
    assert_ok(actor_runtime_shutdown(rt, TU_LONG_MS));
    if (atomic_load(&hm.give_up))
        fail_msg("the actor handled only %llu of %llu messages in time",
                 (unsigned long long)atomic_load(&hm.taken), target);
    TU_WAIT_UNTIL(atomic_load(&hm.r_then) == atomic_load(&hm.ok_requests), TU_LONG_MS);
    tu_assert_no_failures();

    actor_stats s = stats_of(hm.a);
    unsigned long long ok_ev = atomic_load(&hm.ok_events), ok_rq = atomic_load(&hm.ok_requests);
    unsigned long long h_ev = atomic_load(&hm.h_events), h_rq = atomic_load(&hm.h_requests);
    print_message("%s: %llu attempts, ok %llu events + %llu requests, EFULL %llu; handled "
                  "%llu + %llu; stats received %llu handled %llu dropped %llu rejected %llu "
                  "canceled %llu peak %llu; dead letters full %llu closed %llu; max in box "
                  "(own count) %lld, (stats) %llu\n",
                  policy == ACTOR_OVERFLOW_REJECT ? "REJECT" : "DROP",
                  (unsigned long long)atomic_load(&hm.attempts), ok_ev, ok_rq,
                  (unsigned long long)atomic_load(&hm.efull), h_ev, h_rq, s.received, s.handled,
                  s.dropped, s.rejected, s.canceled, s.queued_peak,
                  (unsigned long long)atomic_load(&hm.dl_full),
                  (unsigned long long)atomic_load(&hm.dl_closed),
                  (long long)atomic_load(&hm.max_own),
                  (unsigned long long)atomic_load(&hm.max_stats));

    /* At no instant more than the capacity queued. */
    assert_int_equal(atomic_load(&hm.over_own), 0);
    assert_int_equal(atomic_load(&hm.over_stats), 0);
    assert_true(s.queued_peak <= HM_CAP);
    /* ... and the bound was reached (the senders outran the actor). */
    assert_int_equal(s.queued_peak, HM_CAP);
    assert_true(atomic_load(&hm.efull) > 0 || atomic_load(&hm.dl_full) > 0);

    /* Every accepted message handled or accounted for. */
    assert_conserved(&s);
    assert_int_equal(s.handled, h_ev + h_rq);
    assert_int_equal(s.expired, 0);
    assert_int_equal(s.canceled, ok_rq - h_rq);
    assert_int_equal(s.received, ok_ev + ok_rq);
    assert_int_equal(s.rejected, atomic_load(&hm.efull)); /* every EFULL counted, once */
    assert_int_equal(atomic_load(&hm.r_ok), h_rq);
    assert_int_equal(atomic_load(&hm.r_canceled), s.canceled);
    assert_int_equal(atomic_load(&hm.r_other), 0);
    assert_int_equal(atomic_load(&hm.dl_other), 0);
    /* Dead letters: the stop's drops (ECLOSED) and the sends refused as
     * closed; under DROP also the overflow (EFULL). */
    unsigned long long drop_at_stop = atomic_load(&hm.dl_closed) - atomic_load(&hm.closed_events);
    if (policy == ACTOR_OVERFLOW_REJECT) {
        assert_int_equal(s.dropped, ok_ev - h_ev); /* OK = received (REJECT) */
        assert_int_equal(atomic_load(&hm.dl_full), 0);
        assert_int_equal(s.dropped, drop_at_stop);
    } else {
        /* OK = handled + dropped (DROP): what overflowed, and the stop's. */
        assert_int_equal(ok_ev, h_ev + s.dropped);
        assert_int_equal(s.dropped, atomic_load(&hm.dl_full) + drop_at_stop);
        assert_true(atomic_load(&hm.dl_full) > 0);
    }
    addr_release(hm.a);
    hm.a = NULL;
    actor_runtime_free(rt);
    actor_class_free(c);
    tu_gate_destroy(&hm.first);
}

static void reject_bound_holds_under_four_senders(void **state)
{
    (void)state;
    hammer_run(ACTOR_OVERFLOW_REJECT);
}

static void drop_bound_holds_under_four_senders(void **state)
{
    (void)state;
    hammer_run(ACTOR_OVERFLOW_DROP);
}

/* ------------------------------------------------------------------------ */
/* A full mailbox, step by step                                              */
/* ------------------------------------------------------------------------ */

/* Both policies: a blocked actor with 4 places. addr_interact and
 * addr_interact_within say ACTOR_EFULL (and count as rejected); addr_send
 * says ACTOR_EFULL (REJECT) or ACTOR_OK and drops (DROP); interrupts and
 * forwarded responses are never refused nor counted. */
static void full_mailbox_refuses_interact(void **state)
{
    (void)state;
    types();
    for (int policy = 0; policy <= 1; policy++) {
        probe p;
        probe_init(&p);
        actor_class *c = probe_class(policy ? "fl.FullDrop" : "fl.FullReject", 4, policy);
        actor_runtime *rt = tu_runtime(2);
        actor_addr *a = tu_spawn(rt, c, &p);
        assert_ok(send_block(a, 0));
        TU_WAIT_ENTERED(&p.gate[0], 1); /* taken: 0 queued */
        for (int i = 0; i < 3; i++)
            assert_ok(send_ev(a, (uint64_t)i));
        actor_responder *r0 = NULL;
        assert_ok(addr_interact(a, fl_req, &(uint64_t){7}, 8, &r0)); /* the 4th place */
        actor_stats s = stats_of(a);
        assert_int_equal(s.queued, 4);
        assert_int_equal(s.queued_peak, 4);
        assert_int_equal(s.rejected, 0);

        actor_responder *r = (actor_responder *)&p; /* must stay untouched */
        assert_code(addr_interact(a, fl_req, &(uint64_t){1}, 8, &r), ACTOR_EFULL);
        assert_ptr_equal(r, (actor_responder *)&p);
        assert_code(addr_interact_within(a, fl_req, &(uint64_t){1}, 8, 1000, &r), ACTOR_EFULL);
        assert_ptr_equal(r, (actor_responder *)&p);
        int rc = send_ev(a, 99);
        s = stats_of(a);
        if (policy == ACTOR_OVERFLOW_REJECT) {
            assert_code(rc, ACTOR_EFULL);
            assert_int_equal(s.rejected, 3);
            assert_int_equal(s.dropped, 0);
        } else {
            assert_code(rc, ACTOR_OK); /* accepted, and dropped */
            assert_int_equal(s.rejected, 2);
            assert_int_equal(s.dropped, 1);
            unsigned long long d = 0;
            assert_ok(addr_dropped(a, &d));
            assert_int_equal(d, 1);
        }
        assert_int_equal(s.queued, 4);
        assert_int_equal(s.queued_peak, 4);

        /* Never refused: an interrupt (forwarded outcomes: see below). */
        assert_ok(addr_interrupt(a));
        s = stats_of(a);
        assert_int_equal(s.queued, 4);

        /* Let it go: the interrupt comes after the 4 queued messages. */
        tu_gate_open(&p.gate[0]);
        assert_code(addr_join(a, TU_LONG_MS), ACTOR_OK);
        assert_code(actor_responder_wait(r0, TU_LONG_MS), ACTOR_OK);
        actor_responder_free(r0);
        s = stats_of(a);
        assert_conserved(&s);
        assert_int_equal(s.handled, 5); /* block + 3 events + 1 request */
        assert_int_equal(s.received, policy == ACTOR_OVERFLOW_DROP ? 6 : 5);
        assert_int_equal(atomic_load(&p.events), 3);
        assert_int_equal(atomic_load(&p.requests), 1);
        addr_release(a);
        actor_runtime_free(rt);
        actor_class_free(c);
        probe_destroy(&p);
        tu_assert_no_failures();
    }
}

/* A forwarded outcome into a full mailbox: accepted, handled, not counted. */
static void full_mailbox_takes_forwarded_outcomes(void **state)
{
    (void)state;
    types();
    probe p, q;
    probe_init(&p);
    probe_init(&q);
    actor_class *c = probe_class("fl.FwdFull", 1, ACTOR_OVERFLOW_REJECT);
    actor_class *ans = tu_class("fl.FwdAnswerer");
    assert_ok(actor_class_on_request(ans, fl_fwd, pr_request));
    assert_ok(actor_class_on_event(ans, fl_block, pr_block));
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, &p);
    actor_addr *b = tu_spawn(rt, ans, &q);
    assert_ok(send_block(a, 0));
    TU_WAIT_ENTERED(&p.gate[0], 1);
    assert_ok(send_ev(a, 1)); /* full */
    assert_code(send_ev(a, 2), ACTOR_EFULL);
    actor_responder *r = NULL;
    assert_ok(addr_interact(b, fl_fwd, NULL, 0, &r));
    assert_ok(actor_responder_forward(r, a)); /* never refused */
    tu_gate_open(&p.gate[0]);
    TU_WAIT_UNTIL(atomic_load(&p.responses) == 1, TU_LONG_MS);
    actor_stats s = stats_of(a);
    assert_int_equal(s.queued_peak, 1);
    assert_int_equal(s.rejected, 1);
    tu_stop_join(a);
    tu_stop_join(b);
    s = stats_of(a);
    assert_conserved(&s);
    assert_int_equal(s.received, 2); /* the outcome is not counted */
    assert_int_equal(s.handled, 2);
    addr_release(a);
    addr_release(b);
    actor_runtime_free(rt);
    actor_class_free(c);
    actor_class_free(ans);
    probe_destroy(&p);
    probe_destroy(&q);
}

/* The default (and capacity 0) is unbounded: no ACTOR_EFULL ever, and
 * queued/queued_peak stay 0 as documented. */
static void unbounded_default_never_full(void **state)
{
    (void)state;
    types();
    for (int variant = 0; variant < 2; variant++) {
        probe p;
        probe_init(&p);
        actor_class *c = probe_class(variant ? "fl.Cap0" : "fl.Default", 0, ACTOR_OVERFLOW_REJECT);
        if (variant)
            assert_ok(actor_class_set_mailbox(c, 0, ACTOR_OVERFLOW_DROP));
        actor_runtime *rt = tu_runtime(1);
        actor_addr *a = tu_spawn(rt, c, &p);
        assert_ok(send_block(a, 0));
        TU_WAIT_ENTERED(&p.gate[0], 1);
        const int n = (int)tu_scale(20000);
        actor_responder **rs = calloc(64, sizeof *rs);
        for (int i = 0; i < n; i++)
            assert_ok(send_ev(a, (uint64_t)i));
        for (int i = 0; i < 64; i++)
            assert_ok(addr_interact(a, fl_req, &(uint64_t){(uint64_t)i}, 8, &rs[i]));
        assert_ok(addr_send_wait(a, fl_ev, &(uint64_t){1}, 8, 0));
        actor_stats s = stats_of(a);
        assert_int_equal(s.queued, 0);
        assert_int_equal(s.queued_peak, 0);
        assert_int_equal(s.rejected, 0);
        assert_int_equal(s.dropped, 0);
        tu_gate_open(&p.gate[0]);
        tu_stop_join(a);
        for (int i = 0; i < 64; i++) {
            assert_code(actor_responder_wait(rs[i], TU_LONG_MS), ACTOR_OK);
            actor_responder_free(rs[i]);
        }
        free(rs);
        s = stats_of(a);
        assert_conserved(&s);
        assert_int_equal(s.handled, 1 + n + 64 + 1);
        assert_int_equal(s.received, s.handled);
        assert_int_equal(s.queued_peak, 0);
        addr_release(a);
        actor_runtime_free(rt);
        actor_class_free(c);
        probe_destroy(&p);
    }
}

/* ACTOR_MAILBOX_MAX bounds nothing in practice, and counts the queue. */
static void mailbox_max_counts_queue(void **state)
{
    (void)state;
    types();
    probe p;
    probe_init(&p);
    actor_class *c = probe_class("fl.Max", ACTOR_MAILBOX_MAX, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, &p);
    assert_ok(send_block(a, 0));
    TU_WAIT_ENTERED(&p.gate[0], 1);
    for (int i = 0; i < 50; i++)
        assert_ok(send_ev(a, (uint64_t)i));
    actor_stats s = stats_of(a);
    assert_int_equal(s.queued, 50);
    assert_int_equal(s.queued_peak, 50);
    assert_int_equal(s.received, 51);
    tu_gate_open(&p.gate[0]);
    tu_stop_join(a);
    s = stats_of(a);
    assert_conserved(&s);
    assert_int_equal(s.queued_peak, 50);
    assert_int_equal(s.handled, 51);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    probe_destroy(&p);
}

static void set_mailbox_bad_input(void **state)
{
    (void)state;
    types();
    actor_class *c = probe_class("fl.Bad", 0, ACTOR_OVERFLOW_REJECT);
    assert_code(actor_class_set_mailbox(NULL, 10, ACTOR_OVERFLOW_REJECT), ACTOR_EINVAL);
    assert_code(actor_class_set_mailbox(NULL, 0, ACTOR_OVERFLOW_DROP), ACTOR_EINVAL);
    assert_ok(actor_class_set_mailbox(c, 0, ACTOR_OVERFLOW_REJECT));
    assert_ok(actor_class_set_mailbox(c, ACTOR_MAILBOX_MAX, ACTOR_OVERFLOW_DROP));
    assert_ok(actor_class_set_mailbox(c, 2, ACTOR_OVERFLOW_REJECT));
    /* Refused values leave the setting as it was (2, REJECT). */
    assert_code(actor_class_set_mailbox(c, SIZE_MAX, ACTOR_OVERFLOW_REJECT), ACTOR_EINVAL);
    assert_code(actor_class_set_mailbox(c, (size_t)ACTOR_MAILBOX_MAX + 1, ACTOR_OVERFLOW_REJECT),
                ACTOR_EINVAL);
    assert_code(actor_class_set_mailbox(c, 5, 2), ACTOR_EINVAL);
    assert_code(actor_class_set_mailbox(c, 5, -1), ACTOR_EINVAL);
    assert_code(actor_class_set_mailbox(c, 0, 2), ACTOR_EINVAL);
    assert_code(actor_class_set_mailbox(c, 5, 0x7fffffff), ACTOR_EINVAL);

    probe p;
    probe_init(&p);
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, &p);
    assert_code(actor_class_set_mailbox(c, 10, ACTOR_OVERFLOW_REJECT), ACTOR_EBUSY);
    assert_code(actor_class_set_mailbox(c, 0, ACTOR_OVERFLOW_REJECT), ACTOR_EBUSY);
    assert_code(actor_class_set_mailbox(c, 2, ACTOR_OVERFLOW_DROP), ACTOR_EBUSY);
    assert_ok(send_block(a, 0));
    TU_WAIT_ENTERED(&p.gate[0], 1);
    assert_ok(send_ev(a, 1));
    assert_ok(send_ev(a, 2));
    assert_code(send_ev(a, 3), ACTOR_EFULL); /* still 2, REJECT */
    tu_gate_open(&p.gate[0]);
    tu_stop_join(a);
    addr_release(a);
    actor_runtime_free(rt);
    assert_code(actor_class_set_mailbox(c, 3, ACTOR_OVERFLOW_REJECT), ACTOR_EBUSY);
    actor_class_free(c);
    probe_destroy(&p);
}

/* ------------------------------------------------------------------------ */
/* addr_send_wait                                                            */
/* ------------------------------------------------------------------------ */

typedef struct waiter {
    actor_addr *a;
    uint64_t value;
    int timeout_ms;
    atomic_int tid;
    atomic_int done;
    int rc;
    int64_t ms;                 /* how long the call took */
    atomic_int *watch;          /* a flag whose value is recorded at return */
    int watched;
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = arg;
    atomic_store(&w->tid, (int)my_tid());
    unsigned char b[8];
    tu_put_u64(b, w->value);
    int64_t t0 = tu_now_ms();
    w->rc = addr_send_wait(w->a, fl_ev, b, 8, w->timeout_ms);
    w->ms = tu_now_ms() - t0;
    if (w->watch != NULL)
        w->watched = atomic_load(w->watch);
    atomic_store(&w->done, 1);
    return NULL;
}

/* Main thread: the waiter is inside addr_send_wait, asleep. */
#define WAIT_ASLEEP(w)                                                                    \
    TU_WAIT_UNTIL(atomic_load(&(w)->tid) != 0 && thread_asleep((pid_t)atomic_load(&(w)->tid)) \
                      && !atomic_load(&(w)->done),                                         \
                  TU_LONG_MS)

/* The actor never takes one: ACTOR_ETIMEDOUT after the deadline, nothing
 * sent, nothing counted as rejected. */
static void send_wait_times_out_nothing_sent(void **state)
{
    (void)state;
    types();
    probe p;
    probe_init(&p);
    actor_class *c = probe_class("fl.WaitTimeout", 1, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, &p);
    assert_ok(send_block(a, 0));
    TU_WAIT_ENTERED(&p.gate[0], 1);
    assert_ok(send_ev(a, 1)); /* full */
    int64_t t0 = tu_now_ms();
    assert_code(addr_send_wait(a, fl_ev, &(uint64_t){2}, 8, 60), ACTOR_ETIMEDOUT);
    int64_t took = tu_now_ms() - t0;
    assert_true(took >= 59);          /* it did wait for its deadline */
    assert_true(took < TU_LONG_MS);
    actor_stats s = stats_of(a);
    assert_int_equal(s.queued, 1);
    assert_int_equal(s.rejected, 0);  /* a wait is not a refusal */
    assert_int_equal(s.received, 2);
    tu_gate_open(&p.gate[0]);
    tu_stop_join(a);
    s = stats_of(a);
    assert_conserved(&s);
    assert_int_equal(s.received, 2);
    assert_int_equal(atomic_load(&p.events), 1); /* the timed-out one was never sent */
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    probe_destroy(&p);
}

/* The waiter returns once the actor takes a message, not before, and
 * without anything else happening: the message it made room by taking
 * blocks its handler until the waiter returned. */
static void send_wait_wakes_on_take(void **state)
{
    (void)state;
    types();
    probe p;
    probe_init(&p);
    actor_class *c = probe_class("fl.WaitWake", 1, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, &p);
    assert_ok(send_block(a, 0));
    TU_WAIT_ENTERED(&p.gate[0], 1);
    assert_ok(send_block(a, 1)); /* full */
    atomic_int opened = 0;
    waiter w = {.a = a, .value = 3, .timeout_ms = 4 * TU_LONG_MS, .watch = &opened};
    pthread_t th = tu_thread(waiter_main, &w);
    WAIT_ASLEEP(&w);
    assert_int_equal(atomic_load(&w.done), 0);
    atomic_store(&opened, 1);
    tu_gate_open(&p.gate[0]); /* block(0) ends; block(1) is taken and blocks */
    TU_WAIT_UNTIL(atomic_load(&w.done), TU_LONG_MS);
    tu_join_thread(th);
    assert_code(w.rc, ACTOR_OK);
    assert_int_equal(w.watched, 1);                  /* not before the room came */
    TU_WAIT_ENTERED(&p.gate[1], 1);                  /* block(1): taken, held */
    assert_int_equal(atomic_load(&p.events), 0);     /* nothing else was taken */
    actor_stats s = stats_of(a);
    assert_int_equal(s.queued, 1);                   /* the waiter's event */
    print_message("send_wait woke %lld ms after it began\n", (long long)w.ms);
    tu_gate_open(&p.gate[1]);
    tu_stop_join(a);
    assert_int_equal(atomic_load(&p.events), 1);
    s = stats_of(a);
    assert_conserved(&s);
    assert_int_equal(s.received, 3);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    probe_destroy(&p);
}

/* Several waiters on a slow actor of capacity 2: all get through, none is
 * lost (each call has a deadline far beyond need), none is refused. */
typedef struct many_arg {
    actor_addr *a;
    int n;
    atomic_int *bad;
} many_arg;

static void *many_main(void *arg)
{
    many_arg *m = arg;
    for (int i = 0; i < m->n; i++) {
        int rc = addr_send_wait(m->a, fl_ev, &(uint64_t){(uint64_t)i}, 8, 2 * TU_LONG_MS);
        if (rc != ACTOR_OK) {
            TU_CHECK_CODE(rc, ACTOR_OK);
            atomic_fetch_add(m->bad, 1);
            break;
        }
    }
    return NULL;
}

static int slow_event(actor_ctx *ctx, void *st, const void *payload, size_t len)
{
    probe *p = st;
    spin_us(10);
    atomic_fetch_add(&p->events, 1);
    return 0;
}

static void send_wait_many_waiters_none_lost(void **state)
{
    (void)state;
    types();
    probe p;
    probe_init(&p);
    actor_class *c = tu_class("fl.WaitMany");
    assert_ok(actor_class_on_event(c, fl_ev, slow_event));
    assert_ok(actor_class_set_mailbox(c, 2, ACTOR_OVERFLOW_DROP));
    actor_runtime *rt = tu_runtime(1);
    actor_addr *a = tu_spawn(rt, c, &p);
    atomic_int bad = 0;
    const int n = (int)tu_scale(3000);
    many_arg m = {a, n, &bad};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        th[i] = tu_thread(many_main, &m);
    for (int i = 0; i < 4; i++)
        tu_join_thread(th[i]);
    tu_assert_no_failures();
    assert_int_equal(atomic_load(&bad), 0);
    tu_stop_join(a);
    actor_stats s = stats_of(a);
    assert_conserved(&s);
    assert_int_equal(s.received, 4 * n);
    assert_int_equal(s.handled, 4 * n);
    assert_int_equal(s.dropped, 0); /* DROP, but waiters wait */
    assert_int_equal(s.rejected, 0);
    assert_true(s.queued_peak <= 2);
    assert_int_equal(atomic_load(&p.events), 4 * n);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    probe_destroy(&p);
}

/* From a handler (a worker thread): ACTOR_EDEADLK whatever the timeout and
 * the target, nothing sent. Threaded and manual runtimes. */
static void send_wait_edeadlk_on_worker(void **state)
{
    (void)state;
    types();
    for (int manual = 0; manual < 2; manual++) {
        probe p, q;
        probe_init(&p);
        probe_init(&q);
        actor_class *c = probe_class(manual ? "fl.DeadlkM" : "fl.Deadlk", 4, ACTOR_OVERFLOW_REJECT);
        actor_runtime *rt = NULL;
        if (manual)
            assert_ok(actor_runtime_new_manual(3, &rt));
        else
            rt = tu_runtime(2);
        actor_addr *b = tu_spawn(rt, c, &q); /* the target, with room */
        p.target = b;
        atomic_store(&p.try_send_wait, 1);
        actor_addr *a = tu_spawn(rt, c, &p);
        assert_ok(send_ev(a, 1));
        if (manual)
            assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL));
        TU_WAIT_UNTIL(atomic_load(&p.events) == 1, TU_LONG_MS);
        for (int i = 0; i < 3; i++)
            assert_code(atomic_load(&p.wait_rc[i]), ACTOR_EDEADLK);
        /* and to itself */
        p.target = NULL;
        assert_ok(send_ev(a, 2));
        if (manual)
            assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL));
        TU_WAIT_UNTIL(atomic_load(&p.events) == 2, TU_LONG_MS);
        for (int i = 0; i < 3; i++)
            assert_code(atomic_load(&p.wait_rc[i]), ACTOR_EDEADLK);
        tu_stop_join(a);
        tu_stop_join(b);
        assert_int_equal(atomic_load(&q.events), 0);
        actor_stats s = stats_of(b);
        assert_int_equal(s.received, 0);
        s = stats_of(a);
        assert_int_equal(s.received, 2);
        addr_release(a);
        addr_release(b);
        actor_runtime_free(rt);
        actor_class_free(c);
        probe_destroy(&p);
        probe_destroy(&q);
    }
}

/* Timeout 0: one try. Full: ACTOR_ETIMEDOUT, nothing sent or dropped (also
 * under DROP); with room: sent. Other errors as addr_send. */
static void send_wait_zero_does_not_wait(void **state)
{
    (void)state;
    types();
    for (int policy = 0; policy <= 1; policy++) {
        probe p;
        probe_init(&p);
        actor_class *c = probe_class(policy ? "fl.Zero1" : "fl.Zero0", 1, policy);
        actor_runtime *rt = tu_runtime(1);
        actor_addr *a = tu_spawn(rt, c, &p);
        assert_ok(send_block(a, 0));
        TU_WAIT_ENTERED(&p.gate[0], 1);
        assert_ok(addr_send_wait(a, fl_ev, &(uint64_t){1}, 8, 0)); /* room: sent */
        for (int i = 0; i < 100; i++)
            assert_code(addr_send_wait(a, fl_ev, &(uint64_t){2}, 8, 0), ACTOR_ETIMEDOUT);
        actor_stats s = stats_of(a);
        assert_int_equal(s.received, 2);
        assert_int_equal(s.dropped, 0);
        assert_int_equal(s.rejected, 0);
        /* Argument errors come first, as for addr_send. */
        assert_code(addr_send_wait(NULL, fl_ev, &(uint64_t){2}, 8, 0), ACTOR_EINVAL);
        assert_code(addr_send_wait(a, NULL, &(uint64_t){2}, 8, 0), ACTOR_EINVAL);
        assert_code(addr_send_wait(a, fl_ev, NULL, 8, 0), ACTOR_EINVAL);
        assert_code(addr_send_wait(a, fl_ev, &(uint64_t){2}, 4, 0), ACTOR_ETYPE);
        assert_code(addr_send_wait(a, fl_req, &(uint64_t){2}, 8, 0), ACTOR_ENOHANDLER);
        tu_gate_open(&p.gate[0]);
        tu_stop_join(a);
        assert_code(addr_send_wait(a, fl_ev, &(uint64_t){2}, 8, 0), ACTOR_ECLOSED);
        assert_code(addr_send_wait(a, fl_ev, &(uint64_t){2}, 8, 100), ACTOR_ECLOSED);
        assert_int_equal(atomic_load(&p.events), 1);
        s = stats_of(a);
        assert_conserved(&s);
        assert_int_equal(s.received, 2);
        addr_release(a);
        actor_runtime_free(rt);
        actor_class_free(c);
        probe_destroy(&p);
    }
}

/* Under DROP addr_send_wait waits for room instead of dropping. */
static void send_wait_drop_waits_not_drops(void **state)
{
    (void)state;
    types();
    probe p;
    probe_init(&p);
    actor_class *c = probe_class("fl.WaitDrop", 1, ACTOR_OVERFLOW_DROP);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, &p);
    assert_ok(send_block(a, 0));
    TU_WAIT_ENTERED(&p.gate[0], 1);
    assert_ok(send_ev(a, 1)); /* full */
    assert_code(addr_send_wait(a, fl_ev, &(uint64_t){2}, 8, 30), ACTOR_ETIMEDOUT);
    actor_stats s = stats_of(a);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.received, 2);
    waiter w = {.a = a, .value = 3, .timeout_ms = 4 * TU_LONG_MS};
    pthread_t th = tu_thread(waiter_main, &w);
    WAIT_ASLEEP(&w);
    s = stats_of(a);
    assert_int_equal(s.dropped, 0);
    tu_gate_open(&p.gate[0]);
    TU_WAIT_UNTIL(atomic_load(&w.done), TU_LONG_MS);
    tu_join_thread(th);
    assert_code(w.rc, ACTOR_OK);
    tu_stop_join(a);
    assert_int_equal(atomic_load(&p.events), 2); /* 1 and the waiter's 3 */
    s = stats_of(a);
    assert_conserved(&s);
    assert_int_equal(s.dropped, 0);
    assert_int_equal(s.received, 3);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    probe_destroy(&p);
}

/* The actor stops while a sender waits for room: the sender learns it
 * (ACTOR_ECLOSED) at once, nothing sent. */
static void send_wait_closed_when_actor_stops(void **state)
{
    (void)state;
    types();
    for (int policy = 0; policy <= 1; policy++) {
        probe p;
        probe_init(&p);
        atomic_store(&p.stop_in_block, 1);
        actor_class *c = probe_class(policy ? "fl.WaitStop1" : "fl.WaitStop0", 1, policy);
        actor_runtime *rt = tu_runtime(2);
        actor_addr *a = tu_spawn(rt, c, &p);
        assert_ok(send_block(a, 0));
        TU_WAIT_ENTERED(&p.gate[0], 1);
        assert_ok(send_ev(a, 1)); /* full */
        waiter w = {.a = a, .value = 2, .timeout_ms = 4 * TU_LONG_MS};
        pthread_t th = tu_thread(waiter_main, &w);
        WAIT_ASLEEP(&w);
        tu_gate_open(&p.gate[0]); /* the handler stops the actor */
        TU_WAIT_UNTIL(atomic_load(&w.done), TU_LONG_MS);
        tu_join_thread(th);
        assert_code(w.rc, ACTOR_ECLOSED);
        assert_code(addr_join(a, TU_LONG_MS), ACTOR_OK);
        assert_int_equal(atomic_load(&p.events), 0);
        actor_stats s = stats_of(a);
        assert_conserved(&s);
        assert_int_equal(s.received, 2);
        assert_int_equal(s.handled, 1);
        assert_int_equal(s.dropped, 1);
        addr_release(a);
        actor_runtime_free(rt);
        actor_class_free(c);
        probe_destroy(&p);
    }
}

/* Two waiters on an actor that is stopped while they wait, by its last
 * address going away behind a full mailbox, then runtime free: both return
 * (ACTOR_OK if they got in before the stop, else ACTOR_ECLOSED), none hangs. */
static void send_wait_survives_runtime_free(void **state)
{
    (void)state;
    types();
    probe p;
    probe_init(&p);
    actor_class *c = probe_class("fl.WaitFree", 1, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, &p);
    assert_ok(send_block(a, 0));
    TU_WAIT_ENTERED(&p.gate[0], 1);
    assert_ok(send_ev(a, 1)); /* full */
    waiter w1 = {.a = a, .value = 2, .timeout_ms = -1};
    waiter w2 = {.a = a, .value = 3, .timeout_ms = -1};
    pthread_t t1 = tu_thread(waiter_main, &w1), t2 = tu_thread(waiter_main, &w2);
    WAIT_ASLEEP(&w1);
    WAIT_ASLEEP(&w2);
    tu_gate_open(&p.gate[0]);
    actor_runtime_free(rt); /* interrupts behind the queue; waits for Done */
    TU_WAIT_UNTIL(atomic_load(&w1.done) && atomic_load(&w2.done), TU_LONG_MS);
    tu_join_thread(t1);
    tu_join_thread(t2);
    assert_true(w1.rc == ACTOR_OK || w1.rc == ACTOR_ECLOSED);
    assert_true(w2.rc == ACTOR_OK || w2.rc == ACTOR_ECLOSED);
    int sent = (w1.rc == ACTOR_OK) + (w2.rc == ACTOR_OK);
    actor_stats s = stats_of(a);
    assert_conserved(&s);
    assert_int_equal(s.received, 2 + sent);
    assert_int_equal(atomic_load(&p.events) + (int)s.dropped, 1 + sent);
    assert_code(addr_send_wait(a, fl_ev, &(uint64_t){4}, 8, -1), ACTOR_ECLOSED);
    addr_release(a);
    actor_class_free(c);
    probe_destroy(&p);
}

/* On a manual runtime addr_send_wait runs the runtime until there is room,
 * and no further: exactly one message is handled for one place. */
static void send_wait_manual_drives_runtime(void **state)
{
    (void)state;
    types();
    for (int policy = 0; policy <= 1; policy++) {
        probe p;
        probe_init(&p);
        actor_class *c = probe_class(policy ? "fl.Manual1" : "fl.Manual0", 2, policy);
        actor_runtime *rt = NULL;
        assert_ok(actor_runtime_new_manual(11, &rt));
        actor_addr *a = tu_spawn(rt, c, &p);
        assert_ok(send_ev(a, 1));
        assert_ok(send_ev(a, 2)); /* full; init has not run either */
        assert_code(addr_send_wait(a, fl_ev, &(uint64_t){3}, 8, 0), ACTOR_ETIMEDOUT);
        assert_int_equal(atomic_load(&p.events), 0); /* 0: did not run it */
        assert_ok(addr_send_wait(a, fl_ev, &(uint64_t){3}, 8, 1000));
        assert_int_equal(atomic_load(&p.events), 1); /* init, then one event */
        actor_stats s = stats_of(a);
        assert_int_equal(s.queued, 2);
        assert_int_equal(s.handled, 1);
        assert_ok(addr_send_wait(a, fl_ev, &(uint64_t){4}, 8, -1));
        assert_int_equal(atomic_load(&p.events), 2);
        /* A request too fills a place; send_wait makes room past it. */
        actor_responder *r = NULL;
        assert_code(addr_interact(a, fl_req, &(uint64_t){5}, 8, &r), ACTOR_EFULL);
        assert_ok(addr_send_wait(a, fl_ev, &(uint64_t){6}, 8, 10));
        assert_int_equal(atomic_load(&p.events), 3);
        size_t ran = 0;
        assert_ok(actor_runtime_run(rt, SIZE_MAX, &ran));
        assert_int_equal(ran, 2);
        assert_int_equal(atomic_load(&p.events), 5);
        assert_code(addr_join(a, 0), ACTOR_ETIMEDOUT);
        assert_ok(addr_interrupt(a));
        assert_code(addr_join(a, -1), ACTOR_OK);
        s = stats_of(a);
        assert_conserved(&s);
        assert_int_equal(s.received, 5);
        assert_int_equal(s.handled, 5);
        assert_int_equal(s.rejected, 1);
        assert_int_equal(s.queued_peak, 2);
        addr_release(a);
        actor_runtime_free(rt);
        actor_class_free(c);
        probe_destroy(&p);
    }
}

/* A manual runtime that another thread is running right now: the waiter
 * waits as on a threaded runtime (its deadline counts), and the driver's
 * takes wake it. */
typedef struct driver_arg {
    actor_runtime *rt;
    int rc;
    size_t ran;
    int run_all;
    atomic_int *until; /* run_all: retry ACTOR_EBUSY until this is set */
    int busy;          /* how many runs said ACTOR_EBUSY */
} driver_arg;

static void *driver_main(void *arg)
{
    driver_arg *d = arg;
    if (!d->run_all) {
        d->rc = actor_runtime_step(d->rt);
        return NULL;
    }
    const int64_t deadline = tu_now_ms() + TU_LONG_MS;
    for (;;) {
        d->rc = actor_runtime_run(d->rt, SIZE_MAX, &d->ran);
        if (d->rc != ACTOR_EBUSY || d->until == NULL)
            return NULL;
        d->busy++;
        /* Another thread runs it; once `until` is set that one is done
         * (a run then must not say EBUSY). */
        if (atomic_load(d->until)) {
            d->rc = actor_runtime_run(d->rt, SIZE_MAX, &d->ran);
            return NULL;
        }
        if (tu_now_ms() > deadline)
            return NULL; /* rc stays ACTOR_EBUSY: the test fails on it */
        tu_pause();
    }
}

static void send_wait_manual_other_driver(void **state)
{
    (void)state;
    types();
    probe p;
    probe_init(&p);
    actor_class *c = probe_class("fl.ManualOther", 1, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(5, &rt));
    actor_addr *a = tu_spawn(rt, c, &p);
    assert_code(actor_runtime_step(rt), 1); /* init */
    assert_ok(send_block(a, 0));
    driver_arg d = {rt, -100, 0, 0, NULL, 0};
    pthread_t dt = tu_thread(driver_main, &d); /* takes block(0), blocks in it */
    TU_WAIT_ENTERED(&p.gate[0], 1);
    assert_ok(send_ev(a, 1)); /* full */
    assert_code(actor_runtime_step(rt), ACTOR_EBUSY);
    int64_t t0 = tu_now_ms();
    assert_code(addr_send_wait(a, fl_ev, &(uint64_t){2}, 8, 80), ACTOR_ETIMEDOUT);
    assert_true(tu_now_ms() - t0 >= 79); /* waited: it could not drive */
    waiter w = {.a = a, .value = 3, .timeout_ms = 4 * TU_LONG_MS};
    pthread_t wt = tu_thread(waiter_main, &w);
    /* Usually parked by now. (thread_asleep cannot tell parked from
     * descheduled everywhere: under valgrind every thread but the running
     * one looks asleep. So what follows holds either way.) */
    WAIT_ASLEEP(&w);
    /* While dt drives, the waiter can neither drive nor get room. */
    assert_int_equal(atomic_load(&w.done), 0);
    tu_gate_open(&p.gate[0]);
    tu_join_thread(dt);
    assert_code(d.rc, 1);
    /* Nobody runs it now. A parked waiter stays parked: running it takes
     * ev(1) and wakes the waiter. A waiter that came in only after dt
     * returned drives the runtime itself: then the second driver is told
     * ACTOR_EBUSY until the waiter is done, and runs it after that. */
    driver_arg d2 = {rt, -100, 0, 1, &w.done, 0};
    pthread_t dt2 = tu_thread(driver_main, &d2);
    TU_WAIT_UNTIL(atomic_load(&w.done), TU_LONG_MS);
    tu_join_thread(wt);
    tu_join_thread(dt2);
    assert_code(w.rc, ACTOR_OK);
    assert_ok(d2.rc);
    print_message("the second driver ran %zu message(s) after %d EBUSY: the waiter %s\n",
                  d2.ran, d2.busy, d2.busy ? "drove it itself" : "was woken (or drove first)");
    assert_ok(actor_runtime_run(rt, SIZE_MAX, NULL));
    assert_int_equal(atomic_load(&p.events), 2);
    assert_ok(addr_interrupt(a));
    assert_code(addr_join(a, -1), ACTOR_OK);
    actor_stats s = stats_of(a);
    assert_conserved(&s);
    assert_int_equal(s.received, 3);
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    probe_destroy(&p);
}

/* ------------------------------------------------------------------------ */
/* addr_on_room: the callback form of send_wait                              */
/* ------------------------------------------------------------------------ */

typedef struct room_seen {
    atomic_int calls;
    atomic_int off_main; /* called on another thread than the test's */
    pthread_t main;
    actor_addr *expect;
    atomic_int wrong_addr;
} room_seen;

static void room_cb(actor_addr *a, void *arg)
{
    room_seen *r = arg;
    if (a != r->expect)
        atomic_store(&r->wrong_addr, 1);
    if (!pthread_equal(pthread_self(), r->main))
        atomic_store(&r->off_main, 1);
    atomic_fetch_add(&r->calls, 1);
}

static void room_seen_init(room_seen *r, actor_addr *a)
{
    atomic_init(&r->calls, 0);
    atomic_init(&r->off_main, 0);
    atomic_init(&r->wrong_addr, 0);
    r->main = pthread_self();
    r->expect = a;
}

/* Registered on a full mailbox of 4, it is called once the actor has taken
 * half (2 left), not at the first free place; on the actor's worker; once. */
static void on_room_fires_at_half(void **state)
{
    (void)state;
    types();
    probe p;
    probe_init(&p);
    actor_class *c = probe_class("fl.RoomHalf", 4, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = tu_runtime(2);
    actor_addr *a = tu_spawn(rt, c, &p);
    assert_ok(send_block(a, 0));
    TU_WAIT_ENTERED(&p.gate[0], 1); /* taken, held: the mailbox is empty */
    assert_ok(send_block(a, 1));
    for (uint64_t i = 0; i < 3; i++)
        assert_ok(send_ev(a, i));
    assert_code(send_ev(a, 9), ACTOR_EFULL);
    room_seen r;
    room_seen_init(&r, a);
    assert_ok(addr_on_room(a, room_cb, &r));
    assert_int_equal(atomic_load(&r.calls), 0); /* full: not at once */
    tu_gate_open(&p.gate[0]);
    TU_WAIT_ENTERED(&p.gate[1], 1); /* block(1) taken: 3 left, above the mark */
    assert_int_equal(atomic_load(&r.calls), 0);
    tu_gate_open(&p.gate[1]);
    TU_WAIT_UNTIL(atomic_load(&p.events) == 3, TU_LONG_MS);
    TU_WAIT_UNTIL(atomic_load(&r.calls) == 1, TU_LONG_MS);
    assert_int_equal(atomic_load(&r.calls), 1);
    assert_int_equal(atomic_load(&r.off_main), 1);
    assert_int_equal(atomic_load(&r.wrong_addr), 0);
    tu_stop_join(a);
    assert_int_equal(atomic_load(&r.calls), 1); /* once, the stop adds none */
    addr_release(a);
    actor_runtime_free(rt);
    actor_class_free(c);
    probe_destroy(&p);
}

/* At once, on the caller's thread: room now, an unbounded mailbox, a Done
 * actor. Refused: NULL arguments, a pool's address. */
static void on_room_at_once_and_bad_input(void **state)
{
    (void)state;
    types();
    probe p;
    probe_init(&p);
    actor_class *bounded = probe_class("fl.RoomNow", 4, ACTOR_OVERFLOW_DROP);
    actor_class *unbounded = probe_class("fl.RoomUnb", 0, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(7, &rt));
    actor_addr *a = tu_spawn(rt, bounded, &p);
    actor_addr *u = tu_spawn(rt, unbounded, &p);
    room_seen r;
    room_seen_init(&r, a);
    assert_ok(send_ev(a, 1));
    assert_ok(addr_on_room(a, room_cb, &r)); /* 1 of 4: room now */
    assert_int_equal(atomic_load(&r.calls), 1);
    assert_int_equal(atomic_load(&r.off_main), 0);
    room_seen ru;
    room_seen_init(&ru, u);
    assert_ok(addr_on_room(u, room_cb, &ru));
    assert_int_equal(atomic_load(&ru.calls), 1);
    assert_code(addr_on_room(NULL, room_cb, &r), ACTOR_EINVAL);
    assert_code(addr_on_room(a, NULL, &r), ACTOR_EINVAL);
    actor_pool_spec spec = {.size = sizeof spec, .cls = bounded, .members = 2,
                            .route = ACTOR_ROUTE_ROUND_ROBIN};
    actor_addr *pool = NULL;
    assert_ok(actor_pool_spawn(rt, &spec, &pool));
    assert_code(addr_on_room(pool, room_cb, &r), ACTOR_EINVAL);
    assert_int_equal(atomic_load(&r.calls), 1);
    assert_ok(addr_interrupt(a));
    assert_ok(addr_join(a, -1));
    assert_ok(addr_on_room(a, room_cb, &r)); /* Done: at once */
    assert_int_equal(atomic_load(&r.calls), 2);
    assert_ok(addr_interrupt(pool));
    assert_ok(addr_join(pool, -1));
    addr_release(pool);
    addr_release(a);
    addr_release(u);
    actor_runtime_free(rt);
    actor_class_free(bounded);
    actor_class_free(unbounded);
    probe_destroy(&p);
}

/* Manual runtime: the callback comes with the step that takes the mailbox
 * down to half, exactly; and one still registered when the runtime is freed
 * is called then (the actor stopped), never lost. */
static void on_room_manual_steps_and_free(void **state)
{
    (void)state;
    types();
    probe p;
    probe_init(&p);
    actor_class *c = probe_class("fl.RoomManual", 4, ACTOR_OVERFLOW_REJECT);
    actor_runtime *rt = NULL;
    assert_ok(actor_runtime_new_manual(3, &rt));
    actor_addr *a = tu_spawn(rt, c, &p);
    for (uint64_t i = 0; i < 4; i++)
        assert_ok(send_ev(a, i));
    room_seen r;
    room_seen_init(&r, a);
    assert_ok(addr_on_room(a, room_cb, &r));
    assert_int_equal(atomic_load(&r.calls), 0);
    while (atomic_load(&p.events) < 1)
        assert_int_equal(actor_runtime_step(rt), 1);
    assert_int_equal(atomic_load(&r.calls), 0); /* 3 left */
    while (atomic_load(&p.events) < 2)
        assert_int_equal(actor_runtime_step(rt), 1);
    assert_int_equal(atomic_load(&r.calls), 1); /* 2 left: the mark */
    size_t ran = 0;
    assert_ok(actor_runtime_run(rt, SIZE_MAX, &ran));
    assert_int_equal(atomic_load(&r.calls), 1);
    for (uint64_t i = 0; i < 4; i++)
        assert_ok(send_ev(a, i));
    room_seen last;
    room_seen_init(&last, a);
    assert_ok(addr_on_room(a, room_cb, &last));
    addr_release(a);
    assert_int_equal(atomic_load(&last.calls), 0);
    actor_runtime_free(rt);
    assert_int_equal(atomic_load(&last.calls), 1);
    actor_class_free(c);
    probe_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(reject_bound_holds_under_four_senders),
        TU_TEST(drop_bound_holds_under_four_senders),
        TU_TEST(full_mailbox_refuses_interact),
        TU_TEST(full_mailbox_takes_forwarded_outcomes),
        TU_TEST(unbounded_default_never_full),
        TU_TEST(mailbox_max_counts_queue),
        TU_TEST(set_mailbox_bad_input),
        TU_TEST(send_wait_times_out_nothing_sent),
        TU_TEST(send_wait_wakes_on_take),
        TU_TEST(send_wait_many_waiters_none_lost),
        TU_TEST(send_wait_edeadlk_on_worker),
        TU_TEST(send_wait_zero_does_not_wait),
        TU_TEST(send_wait_drop_waits_not_drops),
        TU_TEST(send_wait_closed_when_actor_stops),
        TU_TEST(send_wait_survives_runtime_free),
        TU_TEST(send_wait_manual_drives_runtime),
        TU_TEST(send_wait_manual_other_driver),
        TU_TEST(on_room_fires_at_half),
        TU_TEST(on_room_at_once_and_bad_input),
        TU_TEST(on_room_manual_steps_and_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Many requests from several threads to a few actors, every reply checked. */
#include "testutil.h"

#define NACTORS 3
#define NTHREADS 2
#define BATCH 100

static const actor_msgtype *cr_sum;
static actor_addr *actors[NACTORS];
static atomic_long cr_handled;

static int sum_request(actor_ctx *ctx, void *st, const void *p, size_t len)
{
    int64_t a = (int64_t)tu_get_u64(p), b = (int64_t)tu_get_u64((const unsigned char *)p + 8);
    unsigned char out[8];
    tu_put_u64(out, (uint64_t)(a + b));
    atomic_fetch_add(&cr_handled, 1);
    return actor_ctx_reply(ctx, out, 8);
}

struct client {
    int id;
    long n;
    long ok;
};

static void *client(void *arg)
{
    struct client *c = arg;
    actor_responder *rs[BATCH];
    int64_t want[BATCH];
    for (long base = 0; base < c->n; base += BATCH) {
        int k = 0;
        for (; k < BATCH && base + k < c->n; k++) {
            long i = base + k;
            int64_t a = (int64_t)c->id * 1000000007LL + i, b = i * 3 - 17;
            unsigned char buf[16];
            tu_put_u64(buf, (uint64_t)a);
            tu_put_u64(buf + 8, (uint64_t)b);
            want[k] = a + b;
            int rc = addr_interact(actors[(i + c->id) % NACTORS], cr_sum, buf, 16, &rs[k]);
            if (rc != ACTOR_OK) {
                TU_CHECK_CODE(rc, ACTOR_OK);
                return NULL;
            }
        }
        for (int j = 0; j < k; j++) {
            int st = actor_responder_wait(rs[j], TU_LONG_MS);
            if (st != ACTOR_OK) {
                TU_CHECK_CODE(st, ACTOR_OK);
            } else {
                size_t len = 0;
                const unsigned char *d = actor_responder_data(rs[j], &len);
                if (len != 8 || d == NULL)
                    tu_record_failure(__FILE__, __LINE__, "reply of %zu bytes", len);
                else if ((int64_t)tu_get_u64(d) != want[j])
                    tu_record_failure(__FILE__, __LINE__, "client %d: got %lld, want %lld",
                                      c->id, (long long)(int64_t)tu_get_u64(d),
                                      (long long)want[j]);
                else
                    c->ok++;
            }
            actor_responder_free(rs[j]);
        }
    }
    return NULL;
}

/* One request at a time, each waited for. */
static void *client_sequential(void *arg)
{
    struct client *c = arg;
    for (long i = 0; i < c->n; i++) {
        int64_t a = i, b = c->id;
        unsigned char buf[16];
        tu_put_u64(buf, (uint64_t)a);
        tu_put_u64(buf + 8, (uint64_t)b);
        actor_responder *r = NULL;
        int rc = addr_interact(actors[i % NACTORS], cr_sum, buf, 16, &r);
        if (rc != ACTOR_OK) {
            TU_CHECK_CODE(rc, ACTOR_OK);
            return NULL;
        }
        if (actor_responder_wait(r, TU_LONG_MS) == ACTOR_OK &&
            (int64_t)tu_get_u64(actor_responder_data(r, NULL)) == a + b)
            c->ok++;
        actor_responder_free(r);
    }
    return NULL;
}

static void run(void *(*fn)(void *), long per_thread)
{
    cr_sum = tu_type("cr.Sum", "qq", "q");
    actor_class *cls = tu_class("cr.Summer");
    assert_ok(actor_class_on_request(cls, cr_sum, sum_request));
    actor_runtime *rt = tu_runtime(2);
    for (int i = 0; i < NACTORS; i++)
        actors[i] = tu_spawn(rt, cls, NULL);
    atomic_store(&cr_handled, 0);
    struct client cs[NTHREADS];
    pthread_t th[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        cs[i] = (struct client){.id = i + 1, .n = per_thread};
        th[i] = tu_thread(fn, &cs[i]);
    }
    for (int i = 0; i < NTHREADS; i++)
        tu_join_thread(th[i]);
    tu_assert_no_failures();
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(cs[i].ok, per_thread);
    assert_int_equal(atomic_load(&cr_handled), NTHREADS * per_thread);
    for (int i = 0; i < NACTORS; i++) {
        tu_stop_join(actors[i]);
        addr_release(actors[i]);
    }
    actor_runtime_free(rt);
    actor_class_free(cls);
}

static void batched_requests_all_answered(void **state)
{
    (void)state;
    run(client, tu_scale(5000));
}

static void sequential_requests_all_answered(void **state)
{
    (void)state;
    run(client_sequential, tu_scale(5000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_TEST(batched_requests_all_answered),
        TU_TEST(sequential_requests_all_answered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

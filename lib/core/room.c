/* Notifications of room in a bounded mailbox (addr_on_room), for callers
 * that must not block a thread (event loops): the callback form of what
 * addr_send_wait sleeps on.
 *
 * A waiter is a node on a lock-free stack in the actor's failure block (a
 * cold block: most actors never have one). It shares the cell's `room`
 * word with addr_send_wait: the registrant pushes, then sets the word's
 * waiter bit and looks at the count; the consumer takes a message, and at
 * the low-water mark clears the bit and wakes everyone (futex waiters and
 * this stack). seq_cst on both sides, as for addr_send_wait, so one of the
 * two sees the other; whoever clears the bit read it after our push (the
 * bit was set after it), so it finds our node. Firing takes the whole
 * stack with one exchange, so each node is called once, and pushes need no
 * ABA care (nothing is ever popped one by one). */
#include "alloc.h"
#include "cell.h"
#include "runtime.h"

typedef struct actori_room_waiter {
    struct actori_room_waiter *next;
    actor_room_fn fn;
    void *arg;
} actori_room_waiter;

bool actori_cell_has_room(const actor_addr *a)
{
    return atomic_load_explicit(&((actor_addr *)a)->queued, memory_order_seq_cst) <
               a->cls->mailbox_cap ||
           actori_cell_open((actor_addr *)a) != ACTOR_OK;
}

void actori_room_fire(actor_addr *a)
{
    actori_fail *f = actori_cell_fail_if(a);
    if (f == NULL || atomic_load_explicit(&f->room_waiters, memory_order_relaxed) == NULL)
        return;
    actori_room_waiter *w = atomic_exchange_explicit(&f->room_waiters, NULL, memory_order_acquire);
    while (w != NULL) {
        actori_room_waiter *next = w->next;
        w->fn(a, w->arg);
        actori_free(w);
        w = next;
    }
}

int addr_on_room(actor_addr *a, actor_room_fn fn, void *arg)
{
    if (a == NULL || fn == NULL || a->cls->routes)
        return ACTOR_EINVAL;
    /* Room now (or never to come: unbounded, stopping, Done, inherited
     * through fork): the answer is at once, on this thread. */
    if (!a->counted || a->cls->mailbox_cap == 0 || ACTORI_INHERITED(a) ||
        actori_cell_has_room(a)) {
        fn(a, arg);
        return ACTOR_OK;
    }
    actori_fail *f = actori_cell_fail(a);
    actori_room_waiter *w = f != NULL ? actori_malloc(sizeof *w) : NULL;
    if (w == NULL)
        return ACTOR_ENOMEM;
    w->fn = fn;
    w->arg = arg;
    w->next = atomic_load_explicit(&f->room_waiters, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(&f->room_waiters, &w->next, w,
                                                  memory_order_release, memory_order_relaxed))
        ;
    atomic_fetch_or_explicit(&a->room, 1, memory_order_seq_cst);
    if (actori_cell_has_room(a))
        actori_cell_wake_room(a); /* fires us, or someone who cleared the bit does */
    return ACTOR_OK;
}

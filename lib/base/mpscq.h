/* Internal: an intrusive multi-producer single-consumer queue (Vyukov's,
 * with an embedded stub) whose head pointer's low bit means "empty and not
 * scheduled", as in Pony's message queue. Producers never block; the
 * producer whose push finds the bit set owns the consumer role (it must
 * schedule the owner); the consumer gives the role back with markempty.
 * Nodes must be at least 2-byte aligned. */
#ifndef ACTORI_MPSCQ_H
#define ACTORI_MPSCQ_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct actori_node {
    _Atomic(struct actori_node *) next;
} actori_node;

typedef struct actori_mpscq {
    _Atomic uintptr_t head; /* producers: last node pushed | empty bit       */
    actori_node *tail;      /* consumer only: next node to pop (or the stub) */
    actori_node stub;       /* stands in when the queue holds no node        */
} actori_mpscq;

#define ACTORI_MPSCQ_EMPTY ((uintptr_t)1)

/* Initializes q with no nodes; `empty` sets the empty-and-unscheduled bit
 * (else the caller holds the consumer role from the start). */
static inline void actori_mpscq_init(actori_mpscq *q, bool empty)
{
    atomic_init(&q->stub.next, NULL);
    q->tail = &q->stub;
    atomic_init(&q->head, (uintptr_t)&q->stub | (empty ? ACTORI_MPSCQ_EMPTY : 0));
}

/* Appends n. Returns true when the queue was marked empty: the caller now
 * holds the consumer role. Any thread. */
static inline bool actori_mpscq_push(actori_mpscq *q, actori_node *n)
{
    atomic_store_explicit(&n->next, NULL, memory_order_relaxed);
    /* seq_cst: the release half publishes n (and its payload) to the consumer;
     * the acquire half pairs with markempty's release, so a producer that gets
     * the consumer role sees everything the last consumer wrote; and the total
     * order lets a waker's later seq_cst load of a "sleeping" flag not pass it
     * (the worker's sleep handshake in runtime.c). */
    uintptr_t prev = atomic_exchange_explicit(&q->head, (uintptr_t)n, memory_order_seq_cst);
    actori_node *p = (actori_node *)(prev & ~ACTORI_MPSCQ_EMPTY);
    /* Until this store, the consumer sees a gap and pop returns NULL; it pairs
     * with the acquire loads of `next` in pop. */
    atomic_store_explicit(&p->next, n, memory_order_release);
    return (prev & ACTORI_MPSCQ_EMPTY) != 0;
}

/* Removes the oldest node, or returns NULL when there is none or a push is
 * half-way (its link not yet written). Consumer only. */
static inline actori_node *actori_mpscq_pop(actori_mpscq *q)
{
    actori_node *tail = q->tail;
    actori_node *next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (tail == &q->stub) {
        if (next == NULL)
            return NULL;
        q->tail = next;
        tail = next;
        next = atomic_load_explicit(&next->next, memory_order_acquire);
    }
    if (next != NULL) {
        q->tail = next;
        return tail;
    }
    uintptr_t head = atomic_load_explicit(&q->head, memory_order_acquire);
    if ((actori_node *)(head & ~ACTORI_MPSCQ_EMPTY) != tail)
        return NULL; /* a producer swapped head but has not linked yet */
    /* tail is the last node: put the stub behind it so tail can go. The
     * consumer holds the role, so the empty bit is clear here. */
    actori_mpscq_push(q, &q->stub);
    next = atomic_load_explicit(&tail->next, memory_order_acquire);
    if (next != NULL) {
        q->tail = next;
        return tail;
    }
    return NULL;
}

/* After pop returned NULL: gives the consumer role back if the queue is
 * really empty. Returns true when done (a later push will find the bit set),
 * false when a node arrived or is arriving (keep consuming). Consumer only. */
static inline bool actori_mpscq_markempty(actori_mpscq *q)
{
    if (q->tail != &q->stub || atomic_load_explicit(&q->stub.next, memory_order_acquire) != NULL)
        return false;
    uintptr_t expected = (uintptr_t)&q->stub;
    /* release: pairs with the acquire half of the push that finds the bit,
     * so the next consumer sees what this one wrote (an actor's status). */
    return atomic_compare_exchange_strong_explicit(&q->head, &expected,
                                                   expected | ACTORI_MPSCQ_EMPTY,
                                                   memory_order_release, memory_order_relaxed);
}

/* True when the queue holds no node and no push is under way. A cheap check
 * for the consumer before it sleeps; seq_cst so that it is ordered after the
 * caller's seq_cst store of its "sleeping" flag. Consumer only. */
static inline bool actori_mpscq_is_empty(actori_mpscq *q)
{
    if (q->tail != &q->stub || atomic_load_explicit(&q->stub.next, memory_order_acquire) != NULL)
        return false;
    uintptr_t head = atomic_load_explicit(&q->head, memory_order_seq_cst);
    return (actori_node *)(head & ~ACTORI_MPSCQ_EMPTY) == &q->stub;
}

#endif

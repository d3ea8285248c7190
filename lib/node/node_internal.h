/* libactor-node internals: shared by node.c (connection, threads, tables),
 * proxy.c (remote addresses: lookup, proxies, requests out), export.c
 * (exports, what arrives for them, answers back) and bridge.c (topics).
 *
 * Locking: one mutex per node, n->mu, guards every table below. No libactor
 * call that can run user code or stop an actor (addr_send, addr_release,
 * addr_interrupt, promise answers, responder frees, spawns) is ever made
 * while holding it; only addr_ref is. libnats calls are made outside it
 * too, except natsConnection_Publish of short control messages, which never
 * waits for our callbacks. */
#ifndef ACTOR_NODE_INTERNAL_H
#define ACTOR_NODE_INTERNAL_H

#include <actor/node.h>

#include <nats/nats.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct event;

/* ---- map.c: uint64 -> pointer ---- */
typedef struct nmap {
    uint64_t *keys;
    void **vals;
    size_t cap, n, tombs;
} nmap;
uint64_t nmap_key(uint64_t k); /* folds the two reserved keys away */
int nmap_reserve(nmap *m);     /* room for one more put: 0, or -1 (no memory) */
int nmap_put(nmap *m, uint64_t k, void *v);
void *nmap_get(const nmap *m, uint64_t k);
void *nmap_del(nmap *m, uint64_t k);
int nmap_next(const nmap *m, size_t *pos, uint64_t *k, void **v);
void nmap_clear(nmap *m);

/* ---- wire.c: the messages between nodes (all integers little-endian) ---- */
#define NW_VERSION 1
enum {
    NW_EVENT = 1,     /* to <node>.m: an event for an export               */
    NW_REQUEST = 2,   /* to <node>.m, NATS reply subject <requester>.r.<id> */
    NW_INTERRUPT = 3, /* to <node>.m: addr_interrupt of an export          */
    NW_REPLY = 4,     /* to <requester>.a: id, status, handler error, data  */
    NW_GONE = 5,      /* to <requester>.a: id; the export is no more        */
    NW_DONE = 6,      /* to <watcher>.c: an export is Done, with its reason */
    NW_CHECK = 7,     /* to <node>.c: which of these exports still live?   */
    NW_BEAT = 8,      /* to _ACTOR.hb.<key>: heartbeat                     */
    NW_BYE = 9,       /* to _ACTOR.hb.<key>: the node leaves                */
    NW_LOOKUP = 10,   /* to _ACTOR.lookup.<name>: requester's key           */
    NW_FOUND = 11,    /* reply to a lookup                                 */
    NW_TOPIC = 12,    /* to a bridged subject: an actor_publish            */
    NW_BATCH = 13     /* to <node>.m: events of one proxy, each an NW_EVENT
                         behind its u32 length                             */
};

/* A typed message (EVENT, REQUEST, INTERRUPT, TOPIC) once parsed: pointers
 * into the received bytes. */
typedef struct nw_msg {
    int kind;
    int32_t deadline_ms; /* -1: none */
    uint64_t export_id;
    const char *name;
    size_t name_len;
    const char *layout, *reply_layout; /* NULL: opaque */
    size_t layout_len, reply_layout_len;
    const void *payload;
    size_t len;
} nw_msg;

/* The header size of a typed message of type t (0 for none). */
size_t nw_typed_size(const actor_msgtype *t, size_t len);
/* Writes a typed message into buf (nw_typed_size bytes). */
void nw_typed_write(unsigned char *buf, int kind, uint64_t export_id, int32_t deadline_ms,
                    const actor_msgtype *t, const void *payload, size_t len);
/* Parses a typed message: 0, or -1 if malformed. */
int nw_typed_parse(const void *data, size_t len, nw_msg *m);
/* Finds (or defines) the local type of m and checks its layouts: ACTOR_OK
 * and *out; ACTOR_ETYPE (other layouts); ACTOR_EINVAL (a bad name). */
int nw_resolve_type(const nw_msg *m, const actor_msgtype **out);
/* A content key of an event, for the bridges' echo suppression. */
uint64_t nw_content_key(const actor_msgtype *t, const void *payload, size_t len);

void nw_put16(unsigned char *p, uint16_t v);
void nw_put32(unsigned char *p, uint32_t v);
void nw_put64(unsigned char *p, uint64_t v);
uint16_t nw_get16(const unsigned char *p);
uint32_t nw_get32(const unsigned char *p);
uint64_t nw_get64(const unsigned char *p);

/* ---- the node ---- */
#define NODE_KEY_MAX 96   /* "<name>.<16 hex>" */
#define NODE_SUBJ_MAX 160
#define NODE_NAME_MAX 64
#define NODE_TOMBS 1024

/* Another node, as this one knows it (from a lookup). Counted: the node's
 * list holds one reference until it is lost, each proxy and each pending
 * request one more. */
typedef struct rnode {
    atomic_int refs;
    char key[NODE_KEY_MAX];
    char msg_subj[NODE_SUBJ_MAX]; /* _ACTOR.n.<key>.m */
    char ctl_subj[NODE_SUBJ_MAX]; /* _ACTOR.n.<key>.c */
    /* under n->mu: */
    int64_t last_beat_ms;
    uint32_t interval_ms, gen;
    bool lost;
} rnode;

/* A remote address: the state of a proxy actor. Counted: the node's table
 * (until the remote is gone) and the proxy actor (until its state is freed). */
typedef struct proxy {
    atomic_int refs;
    actor_node *node; /* counted */
    rnode *rn;        /* counted */
    uint64_t export_id;
    actor_addr *addr; /* the node's counted address; under n->mu */
    atomic_int gone;  /* the remote is Done or unreachable: stop at the interrupt */
    atomic_int reason;
    struct proxy *next; /* while being collected, under n->mu */
    /* The proxy actor's own (its callbacks only): events gathered while more
     * wait in its mailbox, sent as one NW_BATCH when its flush marker (sent
     * to itself behind them) comes up, or before a request or interrupt. */
    unsigned char *batch;
    size_t batch_len, batch_cap, batch_count;
    bool flush_queued;
} proxy;

/* A request sent to another node, waiting for its answer. */
typedef struct pending {
    actor_promise *p;
    rnode *rn; /* counted */
    proxy *px; /* counted */
    uint32_t epoch;
    struct pending *next; /* while being collected */
} pending;

/* An actor exported by this node. */
typedef struct nexport {
    uint64_t id;
    char name[NODE_NAME_MAX + 1];
    actor_addr *addr; /* counted */
    natsSubscription *lookup_sub;
    char **watchers; /* ctl subjects of the nodes that looked it up */
    size_t nwatchers, capwatchers;
} nexport;

/* A request that came from another node, being handled here. */
typedef struct inreq {
    actor_node *node; /* counted */
    uint64_t key;
    uint64_t id; /* the requester's */
    actor_responder *r;
    char reply[]; /* where the answer goes: <requester>.a */
} inreq;

/* A bridged subject. Counted: the node's list and the bridge actor. */
typedef struct nbridge {
    atomic_int refs;
    actor_node *node; /* counted */
    char *subject;
    actor_addr *addr; /* the local subscriber; the node's counted address */
    natsSubscription *sub;
    nmap suppress; /* content key -> count of copies injected here; under n->mu */
} nbridge;

struct actor_node {
    atomic_int refs; /* the user's (until close), proxies, bridges, watchers, answers owed */
    actor_runtime *rt;
    pthread_mutex_t mu;
    pthread_cond_t cond; /* subs_live, closed_cb */
    atomic_int closing;
    char name[NODE_NAME_MAX + 1];
    uint64_t inst;
    char key[NODE_KEY_MAX];          /* <name>.<inst hex> */
    char prefix[NODE_SUBJ_MAX];      /* _ACTOR.n.<key> */
    size_t prefix_len;
    char ctl_subj[NODE_SUBJ_MAX];    /* <prefix>.c */
    char hb_subj[NODE_SUBJ_MAX];     /* _ACTOR.hb.<key> */
    uint32_t hb_ms;
    bool log;

    natsOptions *opts;
    natsConnection *nc;
    /* <prefix>.* and _ACTOR.hb.>: synchronous, drained by the loop thread
     * right after it read the socket (no delivery thread in between);
     * <prefix>.r.*: NATS's no-responders, asynchronous (a synchronous one
     * would drop them before we see their subject). */
    _Atomic(natsSubscription *) main_sub, hb_sub;
    natsSubscription *nr_sub;
    _Atomic(natsConnection *) loop_nc; /* the connection the loop reads */
    int subs_live;   /* subscriptions whose delivery thread may still run; under mu */
    bool closed_cb;  /* libnats's closed callback ran; under mu */
    atomic_int connected;
    atomic_uint gen;   /* reconnections so far (in heartbeats) */
    atomic_uint epoch; /* disconnections so far */

    struct event_base *base;
    struct event *tick, *stop_ev;
    atomic_int loop_stop;
    pthread_t thread;
    bool thread_started;

    actor_class *proxy_cls, *watcher_cls, *bridge_cls, *probe_cls;
    const actor_msgtype *t_watch, *t_probe, *t_flush;
    actor_addr *watcher; /* counted */
    actor_addr *probe;   /* counted, Done: addr_join on it tells a worker thread */

    /* tables, under mu */
    nmap exports; /* id -> nexport */
    uint64_t next_export;
    rnode **rnodes;
    size_t nrnodes, caprnodes;
    proxy **proxies;
    size_t nproxies, capproxies;
    nmap pending; /* request id -> pending */
    uint64_t next_req;
    nmap inreqs; /* key -> inreq */
    uint64_t next_inreq;
    nbridge **bridges;
    size_t nbridges, capbridges;
    struct {
        uint64_t id;
        int reason;
    } tombs[NODE_TOMBS];
    size_t ntombs;
    pthread_mutex_t lookup_mu; /* one proxy per export: lookups make them one at a time */
};

/* node.c */
void node_ref(actor_node *n);
void node_unref(actor_node *n);
int64_t node_now_ms(void);
void node_log(actor_node *n, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool node_on_worker(actor_node *n);
bool node_closing(const actor_node *n);
/* Publishes (data, len) to subj (with reply subject reply, or NULL); `now`
 * writes it on this thread (else the loop thread does). node_publish: now. */
int node_publish_ex(actor_node *n, const char *subj, const char *reply, const void *data,
                    size_t len, bool now);
int node_publish(actor_node *n, const char *subj, const char *reply, const void *data,
                 size_t len);
/* Publishes a typed message; ACTOR_OK or ACTOR_ENOMEM / ACTOR_ECLOSED. */
int node_publish_typed(actor_node *n, const char *subj, const char *reply, int kind,
                       uint64_t export_id, int32_t deadline_ms, const actor_msgtype *t,
                       const void *payload, size_t len);
/* A subscription whose end close() waits for. */
int node_subscribe(actor_node *n, const char *subj, natsMsgHandler cb, void *closure,
                   natsSubscription **out);
int node_grow(void **arr, size_t *cap, size_t elem, size_t need);

/* proxy.c */
int proxy_classes_make(actor_node *n);
void proxy_unref(proxy *px);
void rnode_unref(rnode *rn);
/* The remote behind px is gone: it becomes Done with `reason`. */
void proxy_gone(actor_node *n, proxy *px, int reason);
/* <us>.r.<id>: NATS's "no responders" for request id. */
void node_on_no_responders(actor_node *n, uint64_t id);
/* <us>.a: an answer (REPLY or GONE, with the request's id). */
void node_on_answer(actor_node *n, const unsigned char *d, size_t len);
void node_on_done(actor_node *n, const unsigned char *p, size_t len);
void node_on_beat(actor_node *n, const char *key, const unsigned char *p, size_t len);
void node_check_liveness(actor_node *n);
void node_after_reconnect(actor_node *n);
void node_send_check(actor_node *n, rnode *rn);
int node_lookup_remote(actor_node *n, const char *name, int timeout_ms, actor_addr **out);
void node_close_remote(actor_node *n);

/* export.c */
int export_classes_make(actor_node *n);
int export_watcher_spawn(actor_node *n);
void node_on_actor_msg(actor_node *n, natsMsg *msg);
void node_on_check(actor_node *n, const unsigned char *p, size_t len);
int node_export(actor_node *n, const char *name, actor_addr *a);
int node_unexport(actor_node *n, const char *name);
int node_lookup_local(actor_node *n, const char *name, actor_addr **out);
void node_close_exports(actor_node *n, bool quiet);

/* bridge.c */
int bridge_class_make(actor_node *n);
int node_bridge(actor_node *n, const char *subject);
void node_close_bridges(actor_node *n);

#endif

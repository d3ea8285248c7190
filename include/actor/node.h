/*
 * libactor-node — actors on several machines, over NATS (libactor 1.1, part 6).
 *
 * A separate library, libactor-node.so.1 (`pkg-config libactor-node`, CMake
 * `libactor::node`), built only where libnats is found, so programs that stay
 * on one machine never link NATS. It is written against <actor/actor.h>
 * alone: a remote address is a local proxy actor (catch-all handlers) whose
 * messages become NATS messages.
 *
 * Threads. Each node owns one thread driving a libevent event_base of its
 * own, on which libnats's libevent adapter runs the connection: that thread
 * reads the socket and hands what arrived for the node (one NATS
 * subscription, drained in arrival order) straight to the actors with
 * addr_send / addr_interact(_within) / addr_interrupt / actor_publish; it
 * also runs the node's heartbeats and liveness checks. Proxies (remote
 * addresses) are actors of the runtime: they publish from its workers,
 * requests and answers written on the spot, events gathered while more wait
 * in the proxy's mailbox and sent together. libnats's own threads (its
 * flusher, timers, reconnects) and one subscription thread for NATS's "no
 * responders" notices complete the picture.
 *
 * Wire format. NATS subjects under the reserved prefix "_ACTOR." carry the
 * node's traffic; a message's payload is a small header (little-endian),
 * the type's name and its two layout strings, then the payload's bytes
 * exactly as the layout defines them (little-endian by definition; opaque
 * types as they are). The receiving node finds the type by name and checks
 * both layouts: other layouts are ACTOR_ETYPE (a request then completes
 * ACTOR_EHANDLER with handler error ACTOR_ETYPE; an event is dropped and
 * logged); a name it does not know is defined with the sender's layouts.
 *
 * Delivery is at most once: a message may be lost (a NATS server dying with
 * it in flight, a slow consumer's overflow), never duplicated. Messages from
 * one sender (a thread or an actor) through one remote address arrive in the
 * order sent. Nothing is left waiting:
 * - a request whose node or actor is gone completes ACTOR_ECANCELED (NATS
 *   answered "no responders", the remote actor was Done, the node was lost,
 *   or a connection broke while it was in flight: it may or may not have been
 *   handled), or ACTOR_EEXPIRED at its deadline (addr_interact_within: the
 *   deadline travels with it and the remote side applies what is left);
 * - a remote actor's Done reaches the remote address, which becomes Done
 *   with the same exit reason (addr_join returns, monitors get their Down);
 *   after a reconnection (of either node) the remote addresses are checked
 *   again, so a notice lost with a dying server is not lost for good;
 * - a node that misses its heartbeats (3 intervals) is lost: its remote
 *   addresses become Done with reason ACTOR_ECLOSED and the requests waiting
 *   on it complete ACTOR_ECANCELED. Heartbeats go every 1000 ms, or every
 *   ACTOR_NODE_HEARTBEAT_MS (50 to 60000) from the environment at connect.
 *   While the node's own connection is down the count stops (the node is
 *   reconnecting, not the others lost).
 *
 * Environment, read at actor_node_connect: ACTOR_NODE_HEARTBEAT_MS (above);
 * ACTOR_NODE_LOG=1 logs connection events and dropped messages to stderr
 * (libactor's ABI has no public way into its log handler yet).
 *
 * A node must not be used after actor_node_close. Every other function may be
 * called from any thread, concurrently; the blocking ones (connect, lookup)
 * return ACTOR_EDEADLK on a worker thread of a runtime, where close logs an
 * error and does nothing.
 */
#ifndef ACTOR_NODE_H
#define ACTOR_NODE_H

#include <actor/actor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A connection of a runtime to a NATS cluster, named in it. */
typedef struct actor_node actor_node;

/* The exit reason of a remote address whose node was lost or closed, and
 * of one whose export was withdrawn (actor_node_unexport). */
#define ACTOR_NODE_LOST ACTOR_ECLOSED
#define ACTOR_NODE_UNEXPORTED ACTOR_ENOENT

/*
 * Connects `rt` to the NATS servers of `url` ("nats://127.0.0.1:4222", or a
 * comma-separated list: the first that answers is used, the others are
 * where it reconnects to, for ever, should that one go) as the node named
 * `node_name` (1 to 64 characters of [A-Za-z0-9_:-]; no '.'). Names need not
 * be unique: each connect is a new incarnation with an id of its own.
 * Blocks until connected (the connect timeout is 2 s per server).
 * Returns ACTOR_OK and *out; ACTOR_EINVAL (NULL, a bad name, an empty url);
 * ACTOR_ECLOSED (no server answered, or rt is shut down); ACTOR_EDEADLK (on
 * a worker thread); ACTOR_ENOMEM.
 */
ACTOR_API int actor_node_connect(actor_runtime *rt, const char *url, const char *node_name,
                                 actor_node **out);

/*
 * Makes the actor `a` (of the node's runtime) reachable by `name` from every
 * node of the cluster (1 to 64 characters of [A-Za-z0-9_.:-], '.' only
 * between non-empty tokens). The node holds a counted address of it until it
 * is Done (then the name is withdrawn and the remote addresses become Done
 * with its reason) or unexported. An actor may be exported under several
 * names. Called outside a worker thread it returns once the server has the
 * export's subscription. Returns ACTOR_OK; ACTOR_EBUSY (the name is
 * exported by this node);
 * ACTOR_EINVAL (NULL, a bad name); ACTOR_ECLOSED (a Done, or the node is
 * closed or the connection gone for good); ACTOR_ENOMEM. Exporting one name
 * on two nodes is not detected: a lookup then gets either.
 */
ACTOR_API int actor_node_export(actor_node *n, const char *name, actor_addr *a);

/*
 * Withdraws the export `name`: lookups no longer find it, the node releases
 * its address, and the remote addresses obtained for it become Done with
 * reason ACTOR_NODE_UNEXPORTED (the actor itself goes on). ACTOR_OK,
 * ACTOR_ENOENT (not exported here), ACTOR_EINVAL (NULL).
 */
ACTOR_API int actor_node_unexport(actor_node *n, const char *name);

/*
 * An address of the actor exported as `name` on any node of the cluster
 * (this one included: then the actor's own address). Waits up to timeout_ms
 * (> 0) for a node to answer, asking again while nobody exports the name. *out is counted (addr_release it). On a remote address,
 * addr_send, addr_interact(_within), addr_interrupt (the remote actor's
 * interrupt), addr_join, addr_is_done, addr_exit_reason, monitors and
 * actor_responder_forward of its answers behave as on a local one, with
 * the differences of the network: sends return ACTOR_OK once queued to the
 * proxy (a type the remote actor has no handler for is dropped there, a
 * request then completes ACTOR_EHANDLER with handler error
 * ACTOR_ENOHANDLER), and delivery is at most once. Looking up the same
 * export again gives the same address. Returns ACTOR_OK; ACTOR_ENOENT
 * (nobody answered in time); ACTOR_EINVAL (NULL, a bad name, timeout_ms <=
 * 0); ACTOR_ECLOSED (the node is closed, the runtime shut down);
 * ACTOR_EDEADLK (on a worker thread); ACTOR_ENOMEM.
 */
ACTOR_API int actor_node_lookup(actor_node *n, const char *name, int timeout_ms,
                                actor_addr **out);

/*
 * Joins the topic `subject` (an actor_publish subject without wildcards;
 * not under "_ACTOR") with the NATS subject of the same name: what is
 * published on it with actor_publish in this runtime also goes to the
 * other nodes that bridge it, and what they publish there is published
 * here (never back out again). The message goes as the node's wire format
 * (header, type name and layouts, payload). Called outside a worker thread
 * it returns once the server has the subscription. Returns ACTOR_OK; ACTOR_EBUSY
 * (bridged already); ACTOR_EINVAL (NULL, a bad subject, a wildcard);
 * ACTOR_ECLOSED; ACTOR_ENOMEM.
 */
ACTOR_API int actor_node_bridge(actor_node *n, const char *subject);

/*
 * Leaves the cluster: tells the other nodes (they see this node lost at
 * once), completes every request still waiting on another node with
 * ACTOR_ECANCELED, makes every remote address of this node Done (reason
 * ACTOR_NODE_LOST), drops answers still owed to other nodes, releases the
 * exported actors (they go on locally), closes the connection and frees
 * the node. Call it before freeing the runtime, from a thread that is not
 * a worker (there it logs and does nothing). NULL is fine.
 */
ACTOR_API void actor_node_close(actor_node *n);

#ifdef __cplusplus
}
#endif

#endif /* ACTOR_NODE_H */

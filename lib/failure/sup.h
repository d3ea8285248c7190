/* Internal: what other parts (pools) use of supervisors. */
#ifndef ACTORI_SUP_H
#define ACTORI_SUP_H

#include <actor/actor.h>

/* A top supervisor of class cls (an internal class: a pool's), which
 * restarts failed children without limit and stops by itself once its last
 * child is Done. */
int actori_sup_spawn(actor_runtime *rt, const actor_supervisor_spec *spec, actor_class *cls,
                     actor_addr **out);

/* actor_supervisor_start_child, with `prepare` run on the child before it
 * first runs (a pool pins its members to workers). */
int actori_sup_start(actor_addr *sup, actor_class *cls, int restart,
                     void (*prepare)(actor_addr *, void *), void *arg, actor_addr **child);

/* Calls each(child, arg) for every child, in start order, under the
 * supervisor's lock (each must not call back into it). */
void actori_sup_children(actor_addr *sup, void (*each)(actor_addr *child, void *), void *arg);

#endif

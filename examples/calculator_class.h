/* The seed's Calculator: answers Sum {a, b} (layout "qq", reply "q") with a + b. */
#ifndef CALCULATOR_CLASS_H
#define CALCULATOR_CLASS_H

#include <actor/actor.h>
#include <stdint.h>

typedef struct sum_request {
    int64_t a, b; /* little-endian on every platform libactor runs on */
} sum_request;

/* Defines the type "Sum" and makes a class "Calculator" answering it.
 * Returns ACTOR_OK and *type, *cls (the caller frees cls), or an error. */
int calculator_class_make(const actor_msgtype **type, actor_class **cls);

#endif

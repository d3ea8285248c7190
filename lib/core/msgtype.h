/* Internal: message types (the process-wide registry) and layout rules. */
#ifndef ACTORI_MSGTYPE_H
#define ACTORI_MSGTYPE_H

#include <actor/actor.h>
#include <stdbool.h>
#include <stdint.h>

#define ACTORI_NAME_MAX 64

struct actor_msgtype {
    uint32_t id;           /* dense index: classes keep handler tables by it */
    size_t size;           /* payload size fixed by layout; 0 when opaque    */
    size_t reply_size;     /* reply size fixed by reply_layout               */
    char *layout;          /* NULL: opaque bytes of any length               */
    char *reply_layout;
    struct actor_msgtype *next; /* registry list, under its lock             */
    char name[ACTORI_NAME_MAX + 1];
};

/* True when name is 1 to 64 characters of [A-Za-z0-9_.:-]. Any thread. */
bool actori_name_valid(const char *name);

/* Parses a struct-module layout ("qq", "16s", ...). Returns 0 and *size, or
 * -1 for anything outside the subset (or a size that overflows); then
 * *why (if not NULL) says what is wrong, for the log. Any thread. */
int actori_layout_size(const char *layout, size_t *size, const char **why, size_t *where);

/* Whether len fits the payload layout (opaque: anything). */
static inline bool actori_msgtype_fits(const struct actor_msgtype *t, size_t len)
{
    return t->layout == NULL || len == t->size;
}

/* Whether len fits the reply layout (opaque: anything). */
static inline bool actori_msgtype_reply_fits(const struct actor_msgtype *t, size_t len)
{
    return t->reply_layout == NULL || len == t->reply_size;
}

#endif

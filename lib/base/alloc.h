/* Internal: every allocation of the library goes through these, so that a
 * test can make the Nth allocation fail. */
#ifndef ACTORI_ALLOC_H
#define ACTORI_ALLOC_H

#include <stddef.h>

/* As malloc/calloc/realloc/free. May return NULL; callers handle it. Any thread. */
void *actori_malloc(size_t size);
void *actori_calloc(size_t n, size_t size);
void *actori_realloc(void *p, size_t size);
void actori_free(void *p);

/* Whether an allocation libevent made on this thread failed since the last
 * reset (only with actor_set_allocator's functions); reset clears it. */
int actori_event_alloc_failed(int reset);

/* A copy of s (NULL stays NULL) in *out. Returns 0, or -1 when allocation failed. */
int actori_strdup(const char *s, char **out);

#endif

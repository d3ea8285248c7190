/* The allocator indirection: one place to route (and in tests, fail) memory. */
#include "alloc.h"

#include <stdlib.h>
#include <string.h>

void *actori_malloc(size_t size) { return malloc(size ? size : 1); }

void *actori_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }

void *actori_realloc(void *p, size_t size) { return realloc(p, size ? size : 1); }

void actori_free(void *p) { free(p); }

int actori_strdup(const char *s, char **out)
{
    if (s == NULL) {
        *out = NULL;
        return 0;
    }
    size_t n = strlen(s) + 1;
    char *copy = actori_malloc(n);
    if (copy == NULL)
        return -1;
    memcpy(copy, s, n);
    *out = copy;
    return 0;
}

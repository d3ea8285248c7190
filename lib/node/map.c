/* A small open-addressing map from 64-bit keys to pointers (linear probing,
 * power-of-two capacity, tombstones). Keys 0 and UINT64_MAX are reserved:
 * nmap_key() folds them away. Not thread-safe: the node's lock guards it. */
#include "node_internal.h"

#include <stdlib.h>
#include <string.h>

#define EMPTY 0u
#define TOMB UINT64_MAX

uint64_t nmap_key(uint64_t k) { return (k == EMPTY || k == TOMB) ? 1u : k; }

static size_t slot_of(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

static int grow(nmap *m, size_t cap)
{
    uint64_t *keys = calloc(cap, sizeof *keys);
    void **vals = calloc(cap, sizeof *vals);
    if (keys == NULL || vals == NULL) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        uint64_t k = m->keys[i];
        if (k == EMPTY || k == TOMB)
            continue;
        size_t j = slot_of(k, cap);
        while (keys[j] != EMPTY)
            j = (j + 1) & (cap - 1);
        keys[j] = k;
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    m->tombs = 0;
    return 0;
}

int nmap_reserve(nmap *m)
{
    /* Room for one more entry, keeping the load (entries + tombstones) under
     * 3/4. Called before a put that must not fail. */
    if (m->cap != 0 && (m->n + m->tombs + 1) * 4 < m->cap * 3)
        return 0;
    size_t cap = m->cap ? m->cap : 16;
    while ((m->n + 1) * 2 >= cap)
        cap *= 2;
    return grow(m, cap);
}

int nmap_put(nmap *m, uint64_t k, void *v)
{
    if (nmap_reserve(m) != 0)
        return -1;
    size_t i = slot_of(k, m->cap), tomb = SIZE_MAX;
    for (;; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == k) {
            m->vals[i] = v;
            return 0;
        }
        if (m->keys[i] == TOMB && tomb == SIZE_MAX)
            tomb = i;
        if (m->keys[i] == EMPTY)
            break;
    }
    if (tomb != SIZE_MAX) {
        i = tomb;
        m->tombs--;
    }
    m->keys[i] = k;
    m->vals[i] = v;
    m->n++;
    return 0;
}

static size_t find(const nmap *m, uint64_t k)
{
    if (m->cap == 0)
        return SIZE_MAX;
    for (size_t i = slot_of(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == k)
            return i;
        if (m->keys[i] == EMPTY)
            return SIZE_MAX;
    }
}

void *nmap_get(const nmap *m, uint64_t k)
{
    size_t i = find(m, k);
    return i == SIZE_MAX ? NULL : m->vals[i];
}

void *nmap_del(nmap *m, uint64_t k)
{
    size_t i = find(m, k);
    if (i == SIZE_MAX)
        return NULL;
    void *v = m->vals[i];
    m->keys[i] = TOMB;
    m->vals[i] = NULL;
    m->n--;
    m->tombs++;
    return v;
}

int nmap_next(const nmap *m, size_t *pos, uint64_t *k, void **v)
{
    for (size_t i = *pos; i < m->cap; i++) {
        if (m->keys[i] != EMPTY && m->keys[i] != TOMB) {
            *pos = i + 1;
            if (k != NULL)
                *k = m->keys[i];
            if (v != NULL)
                *v = m->vals[i];
            return 1;
        }
    }
    *pos = m->cap;
    return 0;
}

void nmap_clear(nmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

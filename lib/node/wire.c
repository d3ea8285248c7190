/* The wire format between nodes. Every integer is little-endian, whatever
 * the host; payloads are the layout's bytes, which libactor defines as
 * little-endian already, so they travel as they are.
 *
 * A typed message (event, request, interrupt, bridged topic):
 *   0  u8  version (1)          1  u8  kind (NW_*)
 *   2  u8  name length (0..64)  3  u8  flags: 1 = layout opaque, 2 = reply opaque
 *   4  u32 layout length        8  u32 reply layout length
 *   12 i32 deadline in ms (-1: none; requests)
 *   16 u64 export id
 *   24 name, layout, reply layout (no NULs), then the payload's bytes. */
#include "node_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPED_HDR 24

void nw_put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
void nw_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
void nw_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
uint16_t nw_get16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
uint32_t nw_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
uint64_t nw_get64(const unsigned char *p)
{
    return (uint64_t)nw_get32(p) | (uint64_t)nw_get32(p + 4) << 32;
}

size_t nw_typed_size(const actor_msgtype *t, size_t len)
{
    size_t n = TYPED_HDR;
    if (t != NULL) {
        const char *l = actor_msgtype_layout(t), *r = actor_msgtype_reply_layout(t);
        n += strlen(actor_msgtype_name(t));
        n += l ? strlen(l) : 0;
        n += r ? strlen(r) : 0;
    }
    if (len > SIZE_MAX - n)
        return 0;
    return n + len;
}

void nw_typed_write(unsigned char *buf, int kind, uint64_t export_id, int32_t deadline_ms,
                    const actor_msgtype *t, const void *payload, size_t len)
{
    const char *name = t ? actor_msgtype_name(t) : NULL;
    const char *l = t ? actor_msgtype_layout(t) : NULL;
    const char *r = t ? actor_msgtype_reply_layout(t) : NULL;
    size_t nl = name ? strlen(name) : 0, ll = l ? strlen(l) : 0, rl = r ? strlen(r) : 0;
    buf[0] = NW_VERSION;
    buf[1] = (unsigned char)kind;
    buf[2] = (unsigned char)nl;
    buf[3] = (unsigned char)((l == NULL ? 1 : 0) | (r == NULL ? 2 : 0));
    nw_put32(buf + 4, (uint32_t)ll);
    nw_put32(buf + 8, (uint32_t)rl);
    nw_put32(buf + 12, (uint32_t)deadline_ms);
    nw_put64(buf + 16, export_id);
    unsigned char *p = buf + TYPED_HDR;
    if (nl) {
        memcpy(p, name, nl);
        p += nl;
    }
    if (ll) {
        memcpy(p, l, ll);
        p += ll;
    }
    if (rl) {
        memcpy(p, r, rl);
        p += rl;
    }
    if (len)
        memcpy(p, payload, len);
}

int nw_typed_parse(const void *data, size_t len, nw_msg *m)
{
    const unsigned char *b = data;
    if (len < TYPED_HDR || b[0] != NW_VERSION)
        return -1;
    m->kind = b[1];
    m->name_len = b[2];
    unsigned flags = b[3];
    m->layout_len = nw_get32(b + 4);
    m->reply_layout_len = nw_get32(b + 8);
    m->deadline_ms = (int32_t)nw_get32(b + 12);
    m->export_id = nw_get64(b + 16);
    size_t rest = len - TYPED_HDR;
    if (m->name_len > NODE_NAME_MAX || m->layout_len > rest ||
        m->reply_layout_len > rest - m->layout_len ||
        m->name_len > rest - m->layout_len - m->reply_layout_len)
        return -1;
    const char *p = (const char *)b + TYPED_HDR;
    m->name = p;
    p += m->name_len;
    m->layout = (flags & 1) ? NULL : p;
    p += m->layout_len;
    m->reply_layout = (flags & 2) ? NULL : p;
    p += m->reply_layout_len;
    m->payload = p;
    m->len = rest - m->name_len - m->layout_len - m->reply_layout_len;
    if ((flags & 1) && m->layout_len)
        return -1;
    if ((flags & 2) && m->reply_layout_len)
        return -1;
    return 0;
}

static bool same_layout(const char *local, const char *wire, size_t wire_len)
{
    if (local == NULL || wire == NULL)
        return local == NULL && wire == NULL;
    return strlen(local) == wire_len && memcmp(local, wire, wire_len) == 0;
}

/* The last types this thread resolved: types live as long as the process,
 * so a pointer found once stays good. */
static _Thread_local struct {
    const actor_msgtype *t;
} type_cache[8];
static _Thread_local unsigned type_cache_next;

int nw_resolve_type(const nw_msg *m, const actor_msgtype **out)
{
    if (m->name_len == 0)
        return ACTOR_EINVAL;
    const actor_msgtype *t = NULL;
    for (unsigned i = 0; i < 8; i++) {
        const actor_msgtype *c = type_cache[i].t;
        if (c != NULL) {
            const char *cn = actor_msgtype_name(c);
            if (strlen(cn) == m->name_len && memcmp(cn, m->name, m->name_len) == 0) {
                t = c;
                break;
            }
        }
    }
    if (t == NULL) {
        char name[NODE_NAME_MAX + 1];
        memcpy(name, m->name, m->name_len);
        name[m->name_len] = '\0';
        t = actor_msgtype_find(name);
        if (t == NULL) {
            /* Not known here: define it as the sender has it. */
            char *l = NULL, *r = NULL;
            if (m->layout != NULL && (l = strndup(m->layout, m->layout_len)) == NULL)
                return ACTOR_ENOMEM;
            if (m->reply_layout != NULL &&
                (r = strndup(m->reply_layout, m->reply_layout_len)) == NULL) {
                free(l);
                return ACTOR_ENOMEM;
            }
            int rc = actor_msgtype_define(name, l, r, &t);
            free(l);
            free(r);
            if (rc != ACTOR_OK)
                return rc;
        }
        type_cache[type_cache_next++ & 7].t = t;
    }
    if (!same_layout(actor_msgtype_layout(t), m->layout, m->layout_len) ||
        !same_layout(actor_msgtype_reply_layout(t), m->reply_layout, m->reply_layout_len))
        return ACTOR_ETYPE;
    *out = t;
    return ACTOR_OK;
}

uint64_t nw_content_key(const actor_msgtype *t, const void *payload, size_t len)
{
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)t;
    const unsigned char *p = payload;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    h ^= len;
    h *= 1099511628211ULL;
    return nmap_key(h);
}

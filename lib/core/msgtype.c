/* Message types: a process-wide registry of named types with checked layouts.
 * Types are never freed while the process runs: handles stay valid forever. */
#include "msgtype.h"

#include "alloc.h"
#include "log.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct actor_msgtype *registry;
static uint32_t registry_count;

void actori_msgtype_atfork(int lock)
{
    if (lock)
        pthread_mutex_lock(&registry_lock);
    else
        pthread_mutex_unlock(&registry_lock);
}

bool actori_name_valid(const char *name)
{
    if (name == NULL)
        return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == ':' || c == '-';
        if (!ok || n >= ACTORI_NAME_MAX)
            return false;
    }
    return n > 0;
}

static size_t field_size(char c)
{
    switch (c) {
    case 'x': case '?': case 'b': case 'B': case 's': return 1;
    case 'h': case 'H': return 2;
    case 'i': case 'I': case 'f': return 4;
    case 'q': case 'Q': case 'd': return 8;
    default: return 0;
    }
}

static int layout_error(const char *layout, const char *p, const char *msg, const char **why,
                        size_t *where)
{
    if (why != NULL)
        *why = msg;
    if (where != NULL)
        *where = (size_t)(p - layout);
    return -1;
}

int actori_layout_size(const char *layout, size_t *size, const char **why, size_t *where)
{
    size_t total = 0;
    const char *p = layout;
    while (*p) {
        size_t count = 1;
        if (*p >= '0' && *p <= '9') {
            count = 0;
            while (*p >= '0' && *p <= '9') {
                size_t digit = (size_t)(*p - '0');
                if (count > (SIZE_MAX - digit) / 10)
                    return layout_error(layout, p, "repeat count too large", why, where);
                count = count * 10 + digit;
                p++;
            }
        }
        size_t each = field_size(*p);
        if (each == 0)
            return layout_error(layout, p,
                                *p ? "not a field character (x ? b B h H i I q Q f d s)"
                                   : "a repeat count with no field character after it",
                                why, where);
        if ((count != 0 && each > SIZE_MAX / count) || each * count > SIZE_MAX - total)
            return layout_error(layout, p, "repeat count too large", why, where);
        total += each * count;
        p++;
    }
    /* Sizes past 1 GiB are refused: no payload is meant to be that big. */
    if (total > ((size_t)1 << 30))
        return layout_error(layout, p, "the payload would be larger than 1 GiB", why, where);
    *size = total;
    return 0;
}

/* Parses one layout of a definition (NULL is fine); logs what is wrong. */
static bool layout_ok(const char *name, const char *which, const char *layout, size_t *size)
{
    const char *why = NULL;
    size_t where = 0;
    if (layout == NULL || actori_layout_size(layout, size, &why, &where) == 0)
        return true;
    if (layout[where] != '\0')
        actori_log(ACTOR_LOG_WARN, "actor_msgtype_define(%s): bad %s \"%.80s\": '%c' at position %zu: %s",
                   name, which, layout, layout[where], where, why);
    else
        actori_log(ACTOR_LOG_WARN, "actor_msgtype_define(%s): bad %s \"%.80s\": at its end: %s",
                   name, which, layout, why);
    return false;
}

static bool same_layout(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static struct actor_msgtype *find_locked(const char *name)
{
    for (struct actor_msgtype *t = registry; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

int actor_msgtype_define(const char *name, const char *layout, const char *reply_layout,
                         const actor_msgtype **out)
{
    size_t size = 0, reply_size = 0;
    if (out == NULL)
        return ACTOR_EINVAL;
    if (!actori_name_valid(name)) {
        actori_log(ACTOR_LOG_WARN,
                   "actor_msgtype_define: bad type name \"%.80s\": 1 to 64 characters of "
                   "[A-Za-z0-9_.:-]",
                   name ? name : "(null)");
        return ACTOR_EINVAL;
    }
    if (!layout_ok(name, "layout", layout, &size) ||
        !layout_ok(name, "reply layout", reply_layout, &reply_size))
        return ACTOR_EINVAL;

    pthread_mutex_lock(&registry_lock);
    struct actor_msgtype *t = find_locked(name);
    if (t != NULL) {
        int rc = same_layout(t->layout, layout) && same_layout(t->reply_layout, reply_layout)
                     ? ACTOR_OK
                     : ACTOR_ETYPE;
        pthread_mutex_unlock(&registry_lock);
        if (rc == ACTOR_OK)
            *out = t;
        else
            actori_log(ACTOR_LOG_WARN,
                       "actor_msgtype_define(%s): already defined with other layouts "
                       "(\"%.80s\" / \"%.80s\")",
                       name, t->layout ? t->layout : "(opaque)",
                       t->reply_layout ? t->reply_layout : "(opaque)");
        return rc;
    }
    t = actori_calloc(1, sizeof *t);
    if (t == NULL || actori_strdup(layout, &t->layout) != 0 ||
        actori_strdup(reply_layout, &t->reply_layout) != 0) {
        pthread_mutex_unlock(&registry_lock);
        if (t != NULL) {
            actori_free(t->layout);
            actori_free(t);
        }
        return ACTOR_ENOMEM;
    }
    strcpy(t->name, name);
    t->size = size;
    t->reply_size = reply_size;
    t->id = registry_count++;
    t->next = registry;
    registry = t;
    pthread_mutex_unlock(&registry_lock);
    *out = t;
    return ACTOR_OK;
}

const actor_msgtype *actor_msgtype_find(const char *name)
{
    if (name == NULL)
        return NULL;
    pthread_mutex_lock(&registry_lock);
    struct actor_msgtype *t = find_locked(name);
    pthread_mutex_unlock(&registry_lock);
    return t;
}

const char *actor_msgtype_name(const actor_msgtype *t) { return t ? t->name : NULL; }

const char *actor_msgtype_layout(const actor_msgtype *t) { return t ? t->layout : NULL; }

const char *actor_msgtype_reply_layout(const actor_msgtype *t)
{
    return t ? t->reply_layout : NULL;
}

size_t actor_msgtype_size(const actor_msgtype *t) { return t ? t->size : 0; }

size_t actor_msgtype_reply_size(const actor_msgtype *t) { return t ? t->reply_size : 0; }

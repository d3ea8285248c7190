/*
 * fuzz_layout — type names and layouts.
 *
 * Input: byte 0 = flags, the rest split at NUL bytes into name, layout and
 * reply layout. Flags: 1 layout NULL, 2 reply NULL, 4 use the fuzzed name as
 * the type's name (else a name from a pool of 256, so that redefinitions
 * with the same or other layouts happen often and the registry stays small).
 *
 * Invariants, against a reference written here from the contract:
 * - a name is valid iff it has 1 to 64 characters of [A-Za-z0-9_.:-];
 *   actor_class_new and actor_msgtype_define agree with that;
 * - a layout is valid iff it is a sequence of [count]code with code in
 *   "x?bBhHiIqQfds", count decimal, and the total size (little-endian,
 *   standard sizes, no padding) fits in 1 GiB (the library's cap);
 * - actor_msgtype_define returns EINVAL iff the name or a layout is invalid;
 *   else OK with the reference sizes when the name is new or defined with the
 *   very same strings (then the same pointer), ETYPE otherwise;
 * - accessors return what was defined; find returns the same pointer.
 */
#include <actor/actor.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                       \
    do {                                                                               \
        if (!(c)) {                                                                    \
            fprintf(stderr, "fuzz_layout: check failed at line %d: %s\n", __LINE__, #c); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

#define LAYOUT_CAP ((uint64_t)1 << 30)

static bool ref_name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == ':' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Size of one field, 0 if c is not a field code. */
static uint64_t ref_field(char c)
{
    switch (c) {
    case 'x': case '?': case 'b': case 'B': case 's': return 1;
    case 'h': case 'H': return 2;
    case 'i': case 'I': case 'f': return 4;
    case 'q': case 'Q': case 'd': return 8;
    default: return 0;
    }
}

/* The reference: saturating arithmetic (anything past the cap is invalid,
 * so saturating at 2^40 loses nothing). */
static bool ref_layout(const char *s, uint64_t *size)
{
    const uint64_t SAT = (uint64_t)1 << 40;
    uint64_t total = 0;
    size_t i = 0;
    while (s[i] != '\0') {
        uint64_t count = 1;
        if (s[i] >= '0' && s[i] <= '9') {
            count = 0;
            while (s[i] >= '0' && s[i] <= '9') {
                count = count * 10 + (uint64_t)(s[i] - '0');
                if (count > SAT)
                    count = SAT;
                i++;
            }
        }
        uint64_t each = ref_field(s[i]);
        if (each == 0)
            return false;
        total += each * count;
        if (total > SAT)
            total = SAT;
        i++;
    }
    if (total > LAYOUT_CAP)
        return false;
    *size = total;
    return true;
}

static bool same(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static unsigned direct_names; /* how many fuzzed names were defined as such */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    /* Split the rest at NULs: name, layout, reply (missing parts are ""). */
    char *copy = malloc(size + 3);
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = copy[size] = copy[size + 1] = '\0';
    char *name = copy;
    char *layout = name + strlen(name) + 1;
    if (layout > copy + size - 1)
        layout = copy + size; /* points at a NUL */
    char *reply = layout + strlen(layout) + 1;
    if (reply > copy + size)
        reply = copy + size + 1;
    const char *lay = (flags & 1) ? NULL : layout;
    const char *rep = (flags & 2) ? NULL : reply;

    /* The name rule, through classes (nothing registered, nothing kept). */
    bool name_ok = ref_name_valid(name);
    actor_class *c = NULL;
    int rc = actor_class_new(name, &c);
    CHECK(rc == (name_ok ? ACTOR_OK : ACTOR_EINVAL));
    if (rc == ACTOR_OK) {
        CHECK(strcmp(actor_class_name(c), name) == 0);
        actor_class_free(c);
    }

    /* The type's name: the fuzzed one (bounded), or one of a pool. */
    char pooled[32];
    const char *tname = name;
    if (!(flags & 4) || (name_ok && direct_names >= 20000)) {
        uint32_t h = 2166136261u;
        for (size_t i = 0; i < size; i++)
            h = (h ^ data[i]) * 16777619u;
        snprintf(pooled, sizeof pooled, "fz.pool.%u", h % 256);
        tname = pooled;
    }
    bool tname_ok = ref_name_valid(tname);

    uint64_t size_ref = 0, reply_ref = 0;
    bool lay_ok = lay == NULL || ref_layout(lay, &size_ref);
    bool rep_ok = rep == NULL || ref_layout(rep, &reply_ref);

    const actor_msgtype *before = tname_ok ? actor_msgtype_find(tname) : NULL;
    const actor_msgtype *t = (const actor_msgtype *)(uintptr_t)0x1;
    rc = actor_msgtype_define(tname, lay, rep, &t);
    if (!tname_ok || !lay_ok || !rep_ok) {
        CHECK(rc == ACTOR_EINVAL);
        CHECK(t == (const actor_msgtype *)(uintptr_t)0x1);
    } else if (before != NULL &&
               !(same(actor_msgtype_layout(before), lay) &&
                 same(actor_msgtype_reply_layout(before), rep))) {
        CHECK(rc == ACTOR_ETYPE);
        CHECK(t == (const actor_msgtype *)(uintptr_t)0x1);
    } else {
        CHECK(rc == ACTOR_OK);
        if (before != NULL)
            CHECK(t == before);
        else if (tname == name)
            direct_names++;
        CHECK(actor_msgtype_find(tname) == t);
        CHECK(strcmp(actor_msgtype_name(t), tname) == 0);
        CHECK(same(actor_msgtype_layout(t), lay));
        CHECK(same(actor_msgtype_reply_layout(t), rep));
        CHECK(actor_msgtype_size(t) == (lay ? size_ref : 0));
        CHECK(actor_msgtype_reply_size(t) == (rep ? reply_ref : 0));
        /* Defining it again with the same strings: the same pointer. */
        const actor_msgtype *again = NULL;
        CHECK(actor_msgtype_define(tname, lay, rep, &again) == ACTOR_OK && again == t);
    }
    if (!tname_ok)
        CHECK(actor_msgtype_find(tname) == NULL);
    free(copy);
    return 0;
}

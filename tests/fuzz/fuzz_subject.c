/*
 * fuzz_subject — topics: subject syntax and matching (actor_subscribe,
 * actor_unsubscribe, actor_publish) against a reference matcher written
 * here from the contract.
 *
 * Input: lines split at '\n'. The first line is the publish subject; each
 * other line is a record [op][subject...] (at most 64 records):
 *   op & 7          the actor (0..7; actor 6 has only a catch-all handler,
 *                   actor 7 no handler for the published type)
 *   (op >> 3) & 3   0, 1: subscribe; 2: unsubscribe; 3: subscribe the
 *                   subject expanded: its first byte c, then the rest
 *                   repeated 1 + 40 * c times joined by '.' (up to ~10k
 *                   tokens: the long and many-token refusals)
 * A first line starting with '#' is expanded the same way.
 *
 * One manual runtime and its eight actors live across inputs (no threads:
 * deterministic). Invariants:
 * - a subject is valid iff it has 1..4096 bytes and 1..256 tokens split at
 *   '.', each token nonempty and of [A-Za-z0-9_:-], or (subscriptions only)
 *   exactly "*", or exactly ">" as the last token; every call answers
 *   ACTOR_EINVAL iff the subject is invalid, never crashes;
 * - subscribe: ACTOR_EBUSY iff the actor has this very string already, else
 *   ACTOR_OK; unsubscribe: ACTOR_OK iff it has it, else ACTOR_ENOENT;
 * - publish: delivered == the number of actors with a handler and at least
 *   one subscription that the reference matches (token by token: '*' one
 *   token, '>' one or more); after running the runtime each of those
 *   handled exactly one event and no other actor any;
 * - at the end of each input every subscription is removed again (each
 *   ACTOR_OK), after which a publish reaches nobody.
 */
#include <actor/actor.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                        \
    do {                                                                                \
        if (!(c)) {                                                                     \
            fprintf(stderr, "fuzz_subject: check failed at line %d: %s\n", __LINE__, #c); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#define NACT 8
#define MAXREC 64
#define EXPAND_MAX 30000

static actor_runtime *rt;
static actor_addr *actors[NACT];
static int ids[NACT];
static unsigned long got[NACT];
static const actor_msgtype *t_ev;

static int on_event(actor_ctx *ctx, void *state, const void *payload, size_t len)
{
    got[*(int *)state]++;
    return 0;
}

/* ---- the reference ---- */

static bool ref_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == ':' || c == '-';
}

typedef struct tok {
    const char *p;
    size_t len;
} tok;

/* Splits s at '.' into at most max tokens; -1 if more. */
static int ref_split(const char *s, tok *t, int max)
{
    int n = 0;
    for (;;) {
        const char *e = strchr(s, '.');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (n == max)
            return -1;
        t[n].p = s;
        t[n++].len = l;
        if (!e)
            return n;
        s = e + 1;
    }
}

static bool ref_valid(const char *s, bool wild)
{
    size_t len = strlen(s);
    if (len == 0 || len > 4096)
        return false;
    static tok t[257];
    int n = ref_split(s, t, 256);
    if (n < 0)
        return false;
    for (int i = 0; i < n; i++) {
        if (t[i].len == 0)
            return false;
        if (t[i].len == 1 && (t[i].p[0] == '*' || t[i].p[0] == '>')) {
            if (!wild || (t[i].p[0] == '>' && i != n - 1))
                return false;
            continue;
        }
        for (size_t k = 0; k < t[i].len; k++)
            if (!ref_char((unsigned char)t[i].p[k]))
                return false;
    }
    return true;
}

/* Both valid; pattern may have wildcards. */
static bool ref_match(const char *pattern, const char *subject)
{
    static tok p[257], s[257];
    int np = ref_split(pattern, p, 256), ns = ref_split(subject, s, 256);
    for (int i = 0; i < np; i++) {
        bool one = p[i].len == 1;
        if (one && p[i].p[0] == '>')
            return ns > i;
        if (i >= ns)
            return false;
        if (one && p[i].p[0] == '*')
            continue;
        if (p[i].len != s[i].len || memcmp(p[i].p, s[i].p, s[i].len) != 0)
            return false;
    }
    return np == ns;
}

/* The subscriptions each actor has, by the reference. */
typedef struct refsubs {
    char *v[MAXREC];
    int n;
} refsubs;
static refsubs have[NACT];

static int ref_find(const refsubs *r, const char *s)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->v[i], s) == 0)
            return i;
    return -1;
}

/* ---- inputs ---- */

/* The record's subject: as is, or expanded (see the top). Caller frees. */
static char *subject_of(const char *s, bool expand)
{
    if (!expand)
        return strdup(s);
    unsigned c = (unsigned char)s[0];
    const char *rest = s[0] ? s + 1 : s;
    size_t rl = strlen(rest), reps = 1 + 40 * (size_t)c;
    char *out = malloc(EXPAND_MAX + 2);
    size_t w = 0;
    for (size_t i = 0; i < reps && w + rl + 1 <= EXPAND_MAX; i++) {
        if (i > 0)
            out[w++] = '.';
        memcpy(out + w, rest, rl);
        w += rl;
    }
    out[w] = '\0';
    return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    CHECK(actor_msgtype_define("fs.Ev", "q", NULL, &t_ev) == ACTOR_OK);
    const actor_msgtype *other;
    CHECK(actor_msgtype_define("fs.Other", "q", NULL, &other) == ACTOR_OK);
    actor_class *plain, *any, *none;
    CHECK(actor_class_new("fs.Plain", &plain) == ACTOR_OK);
    CHECK(actor_class_on_event(plain, t_ev, on_event) == ACTOR_OK);
    CHECK(actor_class_new("fs.Any", &any) == ACTOR_OK);
    CHECK(actor_class_on_any_event(any, on_event) == ACTOR_OK);
    CHECK(actor_class_new("fs.None", &none) == ACTOR_OK);
    CHECK(actor_class_on_event(none, other, on_event) == ACTOR_OK);
    CHECK(actor_runtime_new_manual(1, &rt) == ACTOR_OK);
    for (int i = 0; i < NACT; i++) {
        ids[i] = i;
        actor_class *c = i == 6 ? any : i == 7 ? none : plain;
        CHECK(actor_spawn(rt, c, &ids[i], &actors[i]) == ACTOR_OK);
    }
    actor_class_free(plain);
    actor_class_free(any);
    actor_class_free(none);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *line[MAXREC + 1];
    int nl = 0;
    for (char *p = copy; nl <= MAXREC;) {
        line[nl++] = p;
        char *e = memchr(p, '\n', (size_t)(copy + size - p));
        if (e == NULL)
            break;
        *e = '\0';
        p = e + 1;
    }

    /* The records. */
    for (int r = 1; r < nl; r++) {
        const char *l = line[r];
        uint8_t op = (uint8_t)l[0];
        int ai = op & 7, kind = (op >> 3) & 3;
        char *s = subject_of(op ? l + 1 : l, kind == 3);
        refsubs *h = &have[ai];
        int at = ref_find(h, s);
        if (kind == 2) {
            int rc = actor_unsubscribe(actors[ai], s);
            if (!ref_valid(s, true)) {
                CHECK(rc == ACTOR_EINVAL);
            } else if (at >= 0) {
                CHECK(rc == ACTOR_OK);
                free(h->v[at]);
                h->v[at] = h->v[--h->n];
            } else {
                CHECK(rc == ACTOR_ENOENT);
            }
            free(s);
        } else {
            int rc = actor_subscribe(actors[ai], s);
            if (!ref_valid(s, true)) {
                CHECK(rc == ACTOR_EINVAL);
                free(s);
            } else if (at >= 0) {
                CHECK(rc == ACTOR_EBUSY);
                free(s);
            } else {
                CHECK(rc == ACTOR_OK);
                CHECK(h->n < MAXREC);
                h->v[h->n++] = s;
            }
        }
    }

    /* The publish. */
    const char *l0 = line[0];
    char *subject = l0[0] == '#' ? subject_of(l0 + 1, true) : strdup(l0);
    int64_t v = 42;
    size_t delivered = 777;
    memset(got, 0, sizeof got);
    int rc = actor_publish(rt, subject, t_ev, &v, sizeof v, &delivered);
    if (!ref_valid(subject, false)) {
        CHECK(rc == ACTOR_EINVAL);
        CHECK(delivered == 777);
    } else {
        CHECK(rc == ACTOR_OK);
        bool want[NACT] = {false};
        size_t expect = 0;
        for (int i = 0; i < NACT; i++) {
            for (int k = 0; k < have[i].n && !want[i] && i != 7; k++)
                want[i] = ref_match(have[i].v[k], subject);
            expect += want[i];
        }
        CHECK(delivered == expect);
        CHECK(actor_runtime_run(rt, SIZE_MAX, NULL) == ACTOR_OK);
        for (int i = 0; i < NACT; i++)
            CHECK(got[i] == (want[i] ? 1u : 0u));
    }

    /* Everything off again; then nobody is reached. */
    for (int i = 0; i < NACT; i++) {
        for (int k = 0; k < have[i].n; k++) {
            CHECK(actor_unsubscribe(actors[i], have[i].v[k]) == ACTOR_OK);
            if (k == 0)
                CHECK(actor_unsubscribe(actors[i], have[i].v[k]) == ACTOR_ENOENT);
            free(have[i].v[k]);
        }
        have[i].n = 0;
    }
    if (rc == ACTOR_OK) {
        CHECK(actor_publish(rt, subject, t_ev, &v, sizeof v, &delivered) == ACTOR_OK);
        CHECK(delivered == 0);
    }
    free(subject);
    free(copy);
    return 0;
}

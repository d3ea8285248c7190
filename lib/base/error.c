/* Error strings and the version. */
#include <actor/actor.h>

#define ACTORI_STR2(x) #x
#define ACTORI_STR(x) ACTORI_STR2(x)

const char *actor_strerror(int code)
{
    switch (code) {
    case ACTOR_OK: return "success";
    case ACTOR_EINVAL: return "invalid argument";
    case ACTOR_ENOMEM: return "out of memory";
    case ACTOR_ECLOSED: return "actor or runtime closed";
    case ACTOR_ETIMEDOUT: return "timed out";
    case ACTOR_ECANCELED: return "request canceled";
    case ACTOR_ENOHANDLER: return "no handler for this message type";
    case ACTOR_ETYPE:
        return "payload does not match the message type, or type redefined with other layouts";
    case ACTOR_EHANDLER: return "request handler failed";
    case ACTOR_EDEADLK: return "blocking call on a runtime worker thread";
    case ACTOR_EBUSY: return "in use";
    case ACTOR_EAGAIN: return "not complete yet";
    case ACTOR_EFULL: return "mailbox full";
    case ACTOR_ENOENT: return "no such name, key, child or subscription";
    case ACTOR_EEXPIRED: return "request deadline expired";
    default: return "unknown error";
    }
}

unsigned actor_version(void)
{
    return ((unsigned)ACTOR_VERSION_MAJOR << 16) | ((unsigned)ACTOR_VERSION_MINOR << 8) |
           (unsigned)ACTOR_VERSION_PATCH;
}

const char *actor_version_string(void)
{
    return ACTORI_STR(ACTOR_VERSION_MAJOR) "." ACTORI_STR(ACTOR_VERSION_MINOR) "." ACTORI_STR(
        ACTOR_VERSION_PATCH);
}

/* Compile-only check: the public header is clean, pedantic C11 on its own
 * (built with -Wall -Wextra -Wpedantic -Werror). */
#include <actor/actor.h>

_Static_assert(ACTOR_OK == 0, "ACTOR_OK is 0");
_Static_assert(ACTOR_EFULL == -12, "the codes are the contract's");

int header_c11_check(void);
int header_c11_check(void)
{
    return actor_version() == ((ACTOR_VERSION_MAJOR << 16) | (ACTOR_VERSION_MINOR << 8) |
                               ACTOR_VERSION_PATCH);
}

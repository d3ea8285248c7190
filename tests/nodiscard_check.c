/* Compiled by the header_nodiscard test with -Werror=unused-result, which is
 * expected to FAIL: addr_interact is warn_unused_result, so ignoring its
 * result must be diagnosed. (Never linked or run.) */
#include <actor/actor.h>

void ignore_interact(actor_addr *a, const actor_msgtype *t, actor_responder **r);
void ignore_interact(actor_addr *a, const actor_msgtype *t, actor_responder **r)
{
    addr_interact(a, t, NULL, 0, r);
}

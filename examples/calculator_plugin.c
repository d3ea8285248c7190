/* The Calculator as a plugin: actor_plugin_load("libcalculator.so") registers
 * the class "Calculator" and the type "Sum" (this is what Python loads). */
#include "calculator_class.h"

__attribute__((visibility("default"))) int actor_plugin_init(void);

int actor_plugin_init(void)
{
    const actor_msgtype *sum;
    actor_class *cls;
    int rc = calculator_class_make(&sum, &cls);
    if (rc != ACTOR_OK)
        return rc;
    rc = actor_class_register(cls);
    actor_class_free(cls); /* the registry holds its own reference */
    return rc;
}

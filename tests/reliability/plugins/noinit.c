/* A valid shared object without actor_plugin_init: loading it is
 * ACTOR_EINVAL, and the log says what is missing. */
__attribute__((visibility("default"))) int actor_plugin_initialise(void);
__attribute__((visibility("default"))) int actor_plugin_initialise(void) { return 0; }

/* A shared object without actor_plugin_init. */
__attribute__((visibility("default"))) int actor_plugin_not_init(void);
__attribute__((visibility("default"))) int actor_plugin_not_init(void) { return 0; }

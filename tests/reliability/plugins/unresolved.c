/* A plugin with an undefined symbol: dlopen(RTLD_NOW) refuses it, so
 * loading it is ACTOR_EINVAL with the loader's reason in the log. */
__attribute__((visibility("default"))) int actor_plugin_init(void);

extern int rel_no_such_symbol_anywhere(void);

int actor_plugin_init(void) { return rel_no_such_symbol_anywhere(); }

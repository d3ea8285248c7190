/* A plugin whose init fails: ACTOR_EHANDLER, logged, and never run again
 * (rel_initfail_runs counts the runs; the test reads it with dlsym). */
__attribute__((visibility("default"))) int rel_initfail_runs;
__attribute__((visibility("default"))) int actor_plugin_init(void);
__attribute__((visibility("default"))) int actor_plugin_init(void)
{
    rel_initfail_runs++;
    return -42;
}

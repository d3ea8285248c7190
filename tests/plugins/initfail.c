/* A plugin whose init fails; it counts its runs (read by the test through
 * dlsym) so that a second load can be seen not to run init again. */
__attribute__((visibility("default"))) int actor_test_initfail_runs;
__attribute__((visibility("default"))) int actor_plugin_init(void);
__attribute__((visibility("default"))) int actor_plugin_init(void)
{
    actor_test_initfail_runs++;
    return 3;
}

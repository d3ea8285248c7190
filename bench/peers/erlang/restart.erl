%% Restart anchor for libactor's `actorbench restart` (issue 12): a
%% one_for_one supervisor restarting a gen_server that crashes on every
%% message, measured as restarts per second.
%%
%% Build and run (one scheduler, like libactor's one worker):
%%   erlc restart.erl
%%   erl +S 1 -noshell -pa . -run restart main 1000000
%% Prints: RESULT erlang_restart n=N secs=S restarts_per_s=R
%%
%% The crashing child's init tells the driver it is up; the driver then casts
%% it one `crash` message, so restarts are serialised the way libactor's are
%% (one failing message, one restart in place, the next message). Crash
%% reports are switched off (logger level none) so that logging is not what
%% is measured; libactor logs nothing for a supervised child's failure either.
%% Note: OTP's supervisor keeps the restart times of the last `period` in a
%% list it filters at each restart, so with ~10^5-10^6 restarts per second
%% each restart walks that many entries; run it also with a smaller N (e.g.
%% 100000) and compare restarts/s to see how much of the figure that is.
%% Not run in libactor's sittings so far: erl is not installed on the
%% benchmark machine.
-module(restart).
-behaviour(supervisor).
-behaviour(gen_server).
-export([main/1, start_child/1]).
-export([init/1, handle_call/3, handle_cast/2, handle_info/2]).

main([NStr | _]) ->
    N = list_to_integer(NStr),
    logger:set_primary_config(level, none),
    Driver = self(),
    {ok, Sup} = supervisor:start_link(?MODULE, {sup, Driver}),
    First = receive {up, P} -> P end,
    %% warm-up: 1000 restarts
    Last = loop(First, 1000),
    T0 = erlang:monotonic_time(microsecond),
    _ = loop(Last, N),
    Secs = (erlang:monotonic_time(microsecond) - T0) / 1.0e6,
    io:format("RESULT erlang_restart n=~B secs=~.4f restarts_per_s=~.0f~n",
              [N, Secs, N / Secs]),
    unlink(Sup),
    exit(Sup, shutdown),
    halt(0);
main([]) ->
    main(["1000000"]).

%% cast `crash` to the current incarnation, wait for the next one's `up`
loop(Pid, 0) -> Pid;
loop(Pid, K) ->
    gen_server:cast(Pid, crash),
    receive {up, Next} -> loop(Next, K - 1) end.

start_child(Driver) ->
    gen_server:start_link(?MODULE, {worker, Driver}, []).

%% supervisor: one_for_one, high intensity, period 1 s (as actorbench restart)
init({sup, Driver}) ->
    Flags = #{strategy => one_for_one, intensity => 100000000, period => 1},
    Child = #{id => crasher, start => {?MODULE, start_child, [Driver]},
              restart => permanent, shutdown => brutal_kill, type => worker},
    {ok, {Flags, [Child]}};
%% gen_server: the crashing child
init({worker, Driver}) ->
    Driver ! {up, self()},
    {ok, Driver}.

handle_cast(crash, _S) -> erlang:error(crash).
handle_call(_Msg, _From, S) -> {reply, ok, S}.
handle_info(_Msg, S) -> {noreply, S}.

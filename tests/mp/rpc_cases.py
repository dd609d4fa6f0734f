"""lib/ocppj's calls in flight and CALLERRORs, on the loopback link of
tests/mp/rpc_harness.py (tests/unit/test_rpc.py): each case prints the frames sent (OUT),
results (RES), exceptions (EXC) and log lines (LOG) in order, and the test compares.

argv: CASE DATA — DATA a JSON file: {"version": "1.6" or "2.0.1", "frame": a frame to
push (exchange), "answer": a CALLRESULT payload (bad_callresult...)}; CASE one of the
functions in CASES."""
import json
import sys
import time

from rpc_harness import *  # noqa: F401,F403  (asyncio, ocppj, Cli, setup, settle, call, ...)

with open(sys.argv[2]) as f:
    ARGS = json.load(f)
ID1, ID2 = "00000abc.1", "00000abc.2"       # the ids setup()'s Rpc gives its first calls
HB = '{"currentTime":"2024-01-01T00:00:00Z"}'


async def exchange(V):
    cli, rpc, task = setup(V)
    frame = ARGS["frame"]
    cli.push(bytes.fromhex(frame["hex"]) if isinstance(frame, dict) else frame)
    await settle()


async def many_frames(V):
    # 600 frames through a 2.0.1 Rpc in a 96 KB heap: nothing accumulates
    import gc

    class Quiet(Cli):
        async def send(self, s):
            self.n = getattr(self, "n", 0) + 1
    cli = Quiet()
    rpc = ocppj.Rpc("2.0.1", handler, requests=schema201.REQUESTS, responses=schema201.RESPONSES)
    asyncio.create_task(rpc.serve(cli))
    await settle()
    frames = (ARGS["frame"], '[2,"1","Reset",{"type":"OnIdle"}]', '[2,"1","Reset",{"x":1}]', '[2,',
              '[3,"q",{}]',
              '[2,"1","GetVariables",{"getVariableData":[{"component":{"name":"A"},"variable":{"name":"B"}}]}]')
    free = 0
    for i in range(100):
        for f in frames:
            cli.push(f)
            await settle()
        if i == 10:
            gc.collect()
            free = gc.mem_free()
    gc.collect()
    print(cli.n, gc.mem_free() >= free - 1024)


async def call_result_and_ids(V):
    cli, rpc, task = setup(V)
    t = asyncio.create_task(call(rpc, "Heartbeat", None))
    await settle()
    cli.push('[3,"%s",%s]' % (ID1, HB))
    await t
    t = asyncio.create_task(call(rpc, "Heartbeat", {}))
    await settle()
    cli.push('[3,"%s",%s]' % (ID2, HB))
    await t


async def ids_unique_and_short(V):
    seen = set()
    for r in (lambda: 1, lambda: 2, None):
        cli, rpc, task = setup(V, rand=r)
        for _ in range(50):
            seen.add(rpc._new_id())
    rpc._seq = 999999998
    seen.add(rpc._new_id()); seen.add(rpc._new_id())
    print(len(seen), max(len(i) for i in seen))


async def incoming_call_served_while_our_call_waits(V):
    cli, rpc, task = setup(V)
    t = asyncio.create_task(call(rpc, "Heartbeat", {}))
    await settle()
    cli.push('[2,"in1","DataTransfer",{"vendorId":"v"}]')
    cli.push('[2,"in2","ClearCache",{}]')
    await settle()
    cli.push('[3,"%s",%s]' % (ID1, HB))
    await t
    await asyncio.sleep_ms(150)


async def handler_may_await_call(V):
    cli, rpc, task = setup(V)
    cli.push('[2,"t","TriggerMessage",{"requestedMessage":"Heartbeat"}]')
    await settle()
    cli.push('[3,"%s",{"currentTime":"x"}]' % (ID1))
    await settle()


async def reconnect_new_link(V):
    cli, rpc, task = setup(V)
    await settle()
    print(rpc.connected)
    cli.push('[2,"old","DataTransfer",{"vendorId":"v"}]')
    await settle()
    cli.drop()
    await settle()
    print(rpc.connected, task.done())
    cli2 = Cli()
    task2 = asyncio.create_task(rpc.serve(cli2))
    await settle()
    print(rpc.connected)
    t = asyncio.create_task(call(rpc, "Heartbeat", {}))
    await asyncio.sleep_ms(150)
    cli2.push('[3,"%s",%s]' % (ID1, HB))
    await t


async def one_call_at_a_time(V):
    cli, rpc, task = setup(V)
    t1 = asyncio.create_task(call(rpc, "Heartbeat", {}))
    t2 = asyncio.create_task(call(rpc, "Heartbeat", {}))
    await settle()
    print("--")
    cli.push('[3,"%s",%s]' % (ID1, HB))
    await t1
    await settle()
    cli.push('[3,"%s",%s]' % (ID2, HB))
    await t2


async def handlers_bounded(V):
    cli, rpc, task = setup(V)
    for i in range(3):
        cli.push('[2,"d%d","DataTransfer",{"vendorId":"v"}]' % i)
    await settle()
    await asyncio.sleep_ms(150)


async def call_timeout_then_late_result_dropped(V):
    cli, rpc, task = setup(V)
    await settle()
    t0 = time.ticks_ms()
    await call(rpc, "Heartbeat", {}, timeout_ms=50)
    print("waited", time.ticks_diff(time.ticks_ms(), t0) >= 50)    # its timeout, at least
    cli.push('[3,"%s",%s]' % (ID1, HB))
    await settle()


async def call_answered_with_callerror(V):
    cli, rpc, task = setup(V)
    t = asyncio.create_task(call(rpc, "Heartbeat", {}))
    await settle()
    cli.push('[4,"%s","SecurityError","not accepted yet",{"a":1}]' % (ID1))
    await t


async def link_drop_releases_waiting_call(V):
    cli, rpc, task = setup(V)
    t = asyncio.create_task(call(rpc, "Heartbeat", {}, timeout_ms=10000))
    await settle()
    t0 = time.ticks_ms()
    cli.drop()
    await t
    print("released", task.done())       # by the drop (Disconnected), not the 10 s timeout
    await call(rpc, "Heartbeat", {})


async def bad_callresult_to_our_call(V):
    cli, rpc, task = setup(V)
    t = asyncio.create_task(call(rpc, "BootNotification", {}))
    await settle()
    cli.push('[3,"%s",%s]' % (ID1, ARGS['answer']))
    await t


async def checker_depth_bound_and_kinds(V):
    from ocppj import payload as check, rpc as errors
    print([check.TYPE, check.OCCUR, check.FORMAT, check.PROP] ==
          [errors.TYPE, errors.OCCUR, errors.FORMAT, errors.PROP])
    v = {}
    root = v
    for _ in range(1000):
        v["a"] = {}
        v = v["a"]
    bad = check.check((b"o a=#0\n", 0), root)
    print(bad[0], bad[2], bad[1].count("a"))
    print(check.check(check.lookup(schema201.REQUESTS, "DataTransfer"), {"vendorId": "v", "data": root}))
    def offset(table, name):         # the index: b" Action:offset Action:offset ..."
        for x in table[1].decode().split():
            if x.split(":")[0] == name:
                return int(x.split(":")[1])
    at = offset(schema16.REQUESTS, "Reset")
    for a in ("Reset", "ResetX", "Rese", "Availability", "", "Reset:1", "Reset:%d " % at):
        s = check.lookup(schema16.REQUESTS, a)
        print(a.replace(str(at), "AT"), s and (s[1] == at))
    print(check.lookup(schema16.RESPONSES, "SignCertificate")[1] == offset(schema16.RESPONSES, "SignCertificate"),
          check.lookup(schema16.REQUESTS, "Reset")[0] is schema16._S)


CASES = {f.__name__: f for f in (
    exchange, many_frames, call_result_and_ids, ids_unique_and_short,
    incoming_call_served_while_our_call_waits, handler_may_await_call, reconnect_new_link,
    one_call_at_a_time, handlers_bounded, call_timeout_then_late_result_dropped,
    call_answered_with_callerror, link_drop_releases_waiting_call,
    bad_callresult_to_our_call, checker_depth_bound_and_kinds)}
asyncio.run(CASES[sys.argv[1]](ARGS["version"]))

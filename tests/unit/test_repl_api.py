"""firmware/repl.py inside one micropython process: the firmware on the simulated board
(no CSMS: the adapter keeps retrying), driven the way a person at the prompt does,
with the loop stopped between calls (r.loop / r.run for a while, then the prompt).
The console, Ctrl-C and mpremote are in tests/integration/test_repl.py."""
import json

from tests.mp import run
from tools.harness.simctl import free_port

_SETUP = r"""
import asyncio, json, time
from firmware import repl as r, log
from firmware.persist import config
from firmware import main as fw_main
from boards.sim.board import SimBoard
out = {}
try:
    r.fw()
except RuntimeError as e:
    out['no_fw'] = str(e)
b = SimBoard(n_evse=2, flash_path=FLASH, control=('127.0.0.1', PORT))
b.log_tail = log.tail
b.start()
b.flash_mount('/flash')
cfg, _ = config.validate({'csms': 'ws://127.0.0.1:1/ocpp', 'id': 'T1', 'ocpp': OCPP,
                          'evses': 2, 'auth': 'ocpp'})
r.control_addr = ('127.0.0.1', PORT)
task = asyncio.create_task(fw_main.run(b, cfg, '/flash'))

def until(pred, ms=8000):
    t0 = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), t0) < ms:
        r.loop(task, 100)
        d = r.evse(1, False)
        if pred(d):
            return d
    return r.evse(1, False)
"""

_SESSION = r"""
done, res = r.loop(task, 500)
out['loop'] = [done, res]
out['status'] = r.status()
out['plug'] = r.plug(1)
out['start'] = r.start(1)
out['charging'] = until(lambda d: d['state'] == 'Charging' and d['relay'])
out['limit'] = r.limit(1, 10)
out['limited'] = until(lambda d: d['offered_a'] == 10)
r.pause(1)
out['paused'] = until(lambda d: d['state'] == 'ChargingPausedEVSE')
r.resume(1)
out['resumed'] = until(lambda d: d['state'] == 'Charging' and d['relay'])
time.sleep_ms(700)                 # at the prompt: not a loop stall
r.loop(task, 300)
out['stall'] = r.status()['stall_max_ms']
out['stop'] = r.stop(1)
out['stopped'] = until(lambda d: d['state'] == 'Finished' and d['tx_id'] is None)
r.fault(1, 'rcd')
out['fault'] = until(lambda d: 'RCD' in d['errors'])
r.clear(1, 'rcd')
r.unplug(1)
out['idle'] = until(lambda d: d['state'] == 'Idle' and not d['errors'])
old = fw_main.current.tasks[1]
out['reconnect'] = r.reconnect()
r.loop(task, 200)
out['new_task'] = fw_main.current.tasks[1] is not old
out['log'] = r.log(64)['lines']
out['paused_run'] = r.run(200)
for name, call in (('evse9', lambda: r.evse(9)), ('amps', lambda: r.limit(1, 81))):
    try:
        call()
        out[name] = None
    except ValueError as e:
        out[name] = str(e)
b.stop()
print('OUT' + json.dumps(out))
"""


def _run(tmp_path, ocpp, body):
    code = "FLASH = %r\nPORT = %d\nOCPP = %r\n" % (str(tmp_path / "f.img"), free_port(), ocpp)
    p = run(code + _SETUP + body, timeout=120, heapsize="1m")
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("OUT")][-1]
    return json.loads(line[3:]), p.stdout


def test_session_from_the_prompt(tmp_path):
    out, text = _run(tmp_path, "1.6", _SESSION)
    assert out["no_fw"] == "no firmware has started in this process"
    assert out["loop"] == [False, None]                 # paused after 500 ms, not ended
    st = out["status"]
    assert st["id"] == "T1" and st["ocpp"] == "1.6" and st["connected"] is False
    assert st["registration"] == "None" and st["loop"] == "stopped"
    assert st["csms"] == "ws://127.0.0.1:1/ocpp/T1" and st["heap_free"] > 0
    assert [e["evse"] for e in st["evses"]] == [1, 2]
    assert out["plug"]["ok"] and out["plug"]["evse"] == 1
    assert out["start"]["done"] == "authorized (no card)" and out["start"]["authorized"]
    ch = out["charging"]
    assert ch["state"] == "Charging" and ch["pilot"] == "C" and ch["relay"] and ch["pwm"]
    assert ch["tx_id"] is not None and ch["ocpp_status"] == "Charging"
    assert out["limited"]["offered_a"] == 10 and out["limited"]["limit_a"] == 10
    assert out["paused"]["state"] == "ChargingPausedEVSE" and not out["paused"]["relay"]
    assert out["resumed"]["state"] == "Charging"
    print("longest loop stall %d ms (a measurement)" % out["stall"])
    assert out["stop"]["done"] == "stop"
    assert out["stopped"]["state"] == "Finished" and out["stopped"]["tx_id"] is None
    assert out["fault"]["errors"] == ["RCD"] and out["fault"]["ocpp_status"] == "Faulted"
    assert out["idle"]["state"] == "Idle" and out["idle"]["errors"] == []
    assert out["reconnect"]["reconnect"] and out["new_task"]
    assert any("connect ws://127.0.0.1:1/ocpp/T1 failed" in ln for ln in out["log"])
    assert out["paused_run"] == {"loop": "paused", "result": None}
    assert out["evse9"] == "no EVSE 9 (1..2)" and out["amps"] == "amps must be 0..80"
    # what a person sees
    assert "T1  OCPP 1.6  offline, registration None" in text
    assert "loop stopped at the REPL (r.run() continues it)" in text
    assert "evse 1: Charging (Charging), pilot C, offer 10 A, relay closed" in text
    assert "evse 1: stop -> " in text and "plug 1: ok" in text


def test_card_goes_through_the_adapter(tmp_path):
    """start(n, tag): the adapter authorizes the card as it would a reader's; offline
    and unknown it is refused (AllowOfflineTxForUnknownId false), a card in the local
    list would pass."""
    body = r"""
r.loop(task, 300)
r.plug(1)
out['card'] = r.start(1, 'CARD9')
out['after'] = until(lambda d: False, 1500)
out['log'] = r.log(10)['lines']
b.stop()
print('OUT' + json.dumps(out))
"""
    out, _ = _run(tmp_path, "2.0.1", body)
    assert out["card"]["done"] == "card CARD9 presented"
    assert out["after"]["state"] == "WaitingForAuthentication" and not out["after"]["authorized"]
    assert any("tag CARD9 at evse 1: rejected" in ln for ln in out["log"])


def test_hold_feeds_the_watchdog_while_the_tick_runs(tmp_path):
    code = r"""
import sys
sys.path.insert(0, 'tests/fixtures')
import machine, json
from boards.common.watchdog import Watchdog
from firmware import main, repl as r

class Port:
    timer_id = TICK_ID
class Board:
    pass
class Fw:
    pass
b = Board()
b.port = Port()
b.watchdog = wd = Watchdog(lambda t: machine.WDT(timeout=t))
f = Fw()
f.board = b
main.current = f
out = {'not_started': r.hold(False)}
wd.start()
out['held'] = r.hold(False)
t = machine.TIMERS[HOLD_ID]
wd.beat()
t.fire()
t.fire()                     # the tick did not move: no feed
wd.beat()
t.fire()
out['feeds'] = wd.feeds
out['starved'] = wd.starved
r.unhold()
out['after'] = t.cb is None
print('OUT' + json.dumps(out))
"""
    for tid, timer in ((0, 1), (-1, -1)):          # esp32 (tick on timer 0), rp2 (soft)
        p = run(code.replace("HOLD_ID", str(timer)).replace("TICK_ID", str(tid)))
        out = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("OUT")][-1][3:])
        assert out == {"not_started": False, "held": True, "feeds": 2, "starved": 1,
                       "after": True}, (tid, out)

"""firmware/repl.py inside one micropython process: the firmware on the simulated board
(no CSMS: the adapter keeps retrying), driven the way a person at the prompt does,
with the loop stopped between calls (r.loop / r.run for a while, then the prompt).
The console, Ctrl-C and mpremote are in tests/integration/test_repl.py."""
from tests import mp
from tools.harness.simctl import free_port


def _run(tmp_path, ocpp, case):
    """tests/mp/repl_session.py: -> (what it reported, all it printed)."""
    p = mp.run_program("repl_session", case, tmp_path / "f.img", free_port(), ocpp,
                       timeout=120, heapsize="1m")
    out = mp.reported(p)
    assert p.returncode == 0 and out is not None, (p.returncode, p.stdout, p.stderr)
    return out, p.stdout


def test_session_from_the_prompt(tmp_path):
    out, text = _run(tmp_path, "1.6", "session")
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
    out, _ = _run(tmp_path, "2.0.1", "card")
    assert out["card"]["done"] == "card CARD9 presented"
    assert out["after"]["state"] == "WaitingForAuthentication" and not out["after"]["authorized"]
    assert any("tag CARD9 at evse 1: rejected" in ln for ln in out["log"])


def test_hold_feeds_the_watchdog_while_the_tick_runs(tmp_path):
    for tid, timer in ((0, 1), (-1, -1)):          # esp32 (tick on timer 0), rp2 (soft)
        out = mp.run_file("repl_hold", tid, timer)
        assert out == {"not_started": False, "held": True, "feeds": 2, "starved": 1,
                       "after": True}, (tid, out)

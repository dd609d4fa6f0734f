"""Power cuts at random flash writes on the emulated Pico (issue 15): the emulator's
SPI-NOR model cuts the power at the N-th next program/erase (`cut N`: half of that write
done, then the chip starts again on the same flash), session after session. The station
has no network here: every transaction is journaled offline (firmware.ocpp.txq, 1.6).
Afterwards, read over the raw REPL, the journal must hold every transaction the firmware
reported (its tx_id while charging), each with its stop, and none invented: no stop
without a start, no start twice, no more transactions than plug-ins."""
import json
import random

from tests.emu.emuctl import mp_program, record

SESSIONS = 8


def ev(s):
    return s["evses"][0]


def test_power_cuts_keep_every_transaction(make_emu):
    rng = random.Random(15)
    emu = make_emu()
    emu.until(lambda s: ev(s).get("state") == "Idle", what="station up")
    seen = set()            # transaction ids the firmware reported
    plugs = 0

    def watch(s):
        t = ev(s).get("tx_id")
        if t is not None:
            seen.add(int(t))
        return s

    for k in range(SESSIONS):
        pc0 = emu.status()["power_cuts"]
        n = rng.randint(1, 14)              # boot-up and a session: ~5-20 programs/erases
        emu.ok("cut %d" % n)
        emu.ok("plug 1")
        plugs += 1
        s = emu.until(lambda s: watch(s)["power_cuts"] > pc0 or
                      (ev(s)["relay"] and ev(s).get("tx_id") is not None),
                      emu_ms=20000, what="charging or a cut")
        emu.run_ms(rng.randint(200, 1500))
        watch(emu.status())
        emu.ok("unplug 1")
        # a session ended, or a cut: the station (rebooted) idle again, no transaction
        s = emu.until(lambda s: watch(s) and ev(s).get("state") == "Idle"
                      and ev(s).get("tx_id") is None and not ev(s)["relay"],
                      emu_ms=20000, what="idle after the session")
        emu.ok("cut 0")
    s = emu.status()
    assert s["power_cuts"] >= SESSIONS // 2, s["power_cuts"]      # most armed cuts fired
    out = emu.repl_exec(mp_program("emu_read_journal"))
    lines = [json.loads(ln) for ln in out.splitlines() if ln.strip().startswith(("{", "["))]
    recs = [r for r in lines if isinstance(r, list)]
    starts = [r[2] for r in recs if r[1] == "StartTransaction"]
    stops = [r[2] for r in recs if r[1] == "StopTransaction"]
    assert len(starts) == len(set(starts)), recs                   # no start twice
    assert set(stops) <= set(starts), recs                         # no stop invented
    assert len(stops) == len(set(stops)), recs
    assert seen <= set(starts), (seen, recs)                       # every one kept
    assert set(starts) <= set(stops), recs                         # each one ended
    assert len(starts) <= plugs + s["power_cuts"], recs            # none invented
    assert starts, recs
    # the image has its ROMFS partition (tools/build/image.sh ROMFS_KB): one segment
    rom = [r for r in lines if isinstance(r, dict) and "rom_segments" in r]
    assert rom and rom[0]["rom_segments"] == 1, lines
    record("power_cuts", {"sessions": SESSIONS, "cuts": s["power_cuts"], "boots": s["boots"],
                          "transactions": len(starts), "stops": len(stops),
                          "reported": len(seen), "flash_ops": s["flash_ops"]})

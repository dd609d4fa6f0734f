"""Power cuts at flash writes on the emulated Pico (issue 15): the emulator's SPI-NOR
model cuts the power at the N-th next program/erase (`cut N`: half of that write done,
then the chip starts again on the same flash), session after session. The station has
no network here: every transaction is journaled offline (firmware.ocpp.txq, 1.6).
Afterwards, read over the raw REPL, the journal must hold every transaction the firmware
reported (its tx_id while charging), each with its stop, and none invented: no stop
without a start, no start twice, no more transactions than plug-ins.

Where the cuts fall, counted from the plug-in (`--trace-flash` shows them): the start's
writes are the first ~5 programs (the journal's StartTransaction record and littlefs's
commit), the stop's the next ~9 (its record, metadata, an erase when a block fills up);
one more cut is armed before a power cycle, for the boot's own writes (clean-up,
journal recovery, compaction). The cut points are fixed (CUTS, BOOT_CUT): the same
writes are cut in every run. Nothing is written while the station charges, so a
session ends as soon as it charges (a longer session only costs emulated time). A last
session without a cut comes before the journal is read: a transaction that a cut left
open is ended a while after the boot, or at the latest when the next one starts."""
import json

from tests.emu.emuctl import mp_program, record

CUTS = (1, 3, 5, 7, 10, 13)
BOOT_CUT = 1


def ev(s):
    return s["evses"][0]


def test_power_cuts_keep_every_transaction(make_emu):
    emu = make_emu()
    emu.until(lambda s: ev(s).get("state") == "Idle", what="station up")
    seen = set()            # transaction ids the firmware reported
    plugs = 0

    def watch(s):
        t = ev(s).get("tx_id")
        if t is not None:
            seen.add(int(t))
        return s

    def idle(s):
        return (watch(s) and ev(s).get("state") == "Idle" and ev(s).get("tx_id") is None
                and not ev(s)["relay"])

    def session(n):
        nonlocal plugs
        pc0 = emu.status()["power_cuts"]
        emu.ok("cut %d" % n)
        emu.ok("plug 1")
        plugs += 1
        emu.until(lambda s: watch(s)["power_cuts"] > pc0 or
                  (ev(s)["relay"] and ev(s).get("tx_id") is not None),
                  emu_ms=20000, what="charging or a cut")
        emu.ok("unplug 1")
        # a session ended, or a cut: the station (rebooted) idle again, no transaction
        emu.until(idle, emu_ms=20000, what="idle after the session")
        emu.ok("cut 0")

    for n in CUTS:
        session(n)
    # the boot's own writes: a cut armed before a power cycle
    boots = emu.status()["boots"]
    emu.ok("cut %d" % BOOT_CUT)
    emu.ok("reset")
    emu.until(lambda s: s["boots"] > boots and idle(s), emu_ms=20000,
              what="idle after the power cycle")
    emu.ok("cut 0")
    # a last session without a cut: a transaction the cut left open is ended (PowerLoss)
    # a while after the boot, or at the latest as the next one starts (txbase._end_stale)
    session(0)
    assert seen, "no transaction reported"
    s = emu.status()
    # most armed cuts fired (the write counts are the firmware's, not fixed here)
    assert s["power_cuts"] >= (len(CUTS) + 1) // 2, s["power_cuts"]
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
    record("power_cuts", {"sessions": plugs, "cuts": s["power_cuts"], "boots": s["boots"],
                          "transactions": len(starts), "stops": len(stops),
                          "reported": len(seen), "flash_ops": s["flash_ops"]})

"""Power cuts at flash writes on the emulated Pico (issue 15): the emulator's SPI-NOR
model cuts the power at the N-th next program/erase (`cut N`: half of that write done,
then the chip starts again on the same flash), session after session. The station has
no network here: every transaction is journaled offline (firmware.ocpp.txq, 1.6).
Afterwards, read over the raw REPL, the journal must hold every transaction the firmware
reported (its tx_id while charging), each with its stop, and none invented: no stop
without a start, no start twice, no more transactions than plug-ins.

Where the cuts fall, counted from the plug-in (`--trace-flash` shows them): the start's
writes are the first ~5 programs (the journal's StartTransaction record and littlefs's
commit: cuts 1 and 4), the stop's the next ~9 (its record, metadata, an erase when a
block fills up: cuts 7, 9 and 12); then `cut 1 erase` (the next erase, session after
session until one is torn), and a cut armed before a power cycle, for the boot's own
writes (clean-up, journal recovery, compaction). The cut points are fixed: the same
writes are cut in every run (status cut_kinds counts the programs and erases torn).
Nothing is written while the station charges, so a session ends as soon as it charges
(a longer one only costs emulated time). A last session without a cut comes before the
journal is read: a transaction that a cut left open is ended a while after the boot,
or at the latest when the next one starts (txbase._end_stale)."""
import json

from tests.emu.emuctl import mp_program, record

CUTS = (1, 4, 7, 9, 12)
ERASE_SESSIONS = 4          # sessions at most until an erase comes (one in each stop seen)
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

    def session(n, kind=""):
        """A plug-in with the n-th next write (of that kind) armed as a cut -> whether
        a cut came."""
        nonlocal plugs
        pc0 = emu.status()["power_cuts"]
        emu.ok("cut %d %s" % (n, kind))
        emu.ok("plug 1")
        plugs += 1
        emu.until(lambda s: watch(s)["power_cuts"] > pc0 or
                  (ev(s)["relay"] and ev(s).get("tx_id") is not None),
                  emu_ms=20000, what="charging or a cut")
        emu.ok("unplug 1")
        # a session ended, or a cut: the station (rebooted) idle again, no transaction
        s = emu.until(idle, emu_ms=20000, what="idle after the session")
        emu.ok("cut 0")
        return s["power_cuts"] > pc0

    for n in CUTS:
        session(n)
    # an erase torn (littlefs taking a new block): armed until one comes
    for _ in range(ERASE_SESSIONS):
        if session(1, "erase"):
            break
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
    assert s["cut_kinds"].get("erase"), s["cut_kinds"]
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
    record("power_cuts", {"sessions": plugs, "cuts": s["power_cuts"], "boots": s["boots"],
                          "cut_kinds": s["cut_kinds"],
                          "transactions": len(starts), "stops": len(stops),
                          "reported": len(seen), "flash_ops": s["flash_ops"]})

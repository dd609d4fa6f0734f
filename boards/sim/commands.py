"""The simulator's control commands beyond status, plug, unplug and log
(boards.sim.control): the EV's behaviour, RFID tags, ISO 15118 requests, hardware
faults, loop stalls and flash faults. Loaded with the first such command and kept: a
session that only plugs and watches never has them in its heap. Each is
fn(control, args) -> reply dict; ValueError -> {"ok": false, "error": ...}."""
from micropython import const
import json
from boards.sim import world
from boards.sim.control import ok, _err

_MAX_STALL_MS = const(60000)
_MAX_ID = const(64)
_MAX_FLASH_N = const(100000)
_HELP = const(("status", "plug N", "unplug N", "ev N A|B|C|D|E|auto", "draw N AMPS [force]",
               "soc N PCT", "tag N ID", "iso N evcert|ocsp ...", "fault N KIND", "clear N KIND",
               "stall MS", "log [N]", "cut N [hard]", "eio N", "nomem N"))


def _help(c, args):
    return {"ok": True, "commands": list(_HELP), "faults": list(world.FAULTS)}


def _ev(c, args):
    i = c.evse(args, 2)
    s = args[1].upper()
    if s == "AUTO":
        c.world.set_ev(i, -1)
    elif len(s) == 1 and s in world.LETTERS:
        c.world.set_ev(i, world.LETTERS.index(s))
    else:
        raise ValueError("EV state must be A, B, C, D, E or auto")
    return ok(i)


def _draw(c, args):
    force = len(args) == 3 and args[2].lower() == "force"
    i = c.evse(args[:2], 2)
    a = float(args[1])
    if not 0 <= a <= 80:
        raise ValueError("AMPS must be 0..80")
    c.world.draw(i, a, force)
    return ok(i)


def _soc(c, args):
    i = c.evse(args, 2)
    p = float(args[1])
    if not 0 <= p <= 100:
        raise ValueError("PCT must be 0..100")
    c.world.soc(i, p)
    return ok(i)


def _tag(c, args):
    i = c.evse(args, 2)
    ident = args[1]
    if len(ident) > _MAX_ID:
        raise ValueError("ID longer than %d" % _MAX_ID)
    if not c.board.queue_tag(i, ident):
        return _err("input queue full")
    return ok(i)


def _iso(c, args):
    """iso N evcert Install|Update EXI | iso N ocsp NAMEHASH KEYHASH SERIAL URL: what an
    ISO 15118 stack on EVSE N asks the CSMS for (firmware.evse.iso15118); the answer shows as
    iso_result in the status."""
    if len(args) < 2 or args[1] not in ("evcert", "ocsp") or \
            len(args) != (4 if args[1] == "evcert" else 6):
        raise ValueError("expected N evcert ACTION EXI | N ocsp NAMEHASH KEYHASH SERIAL URL")
    i = c.evse(args, len(args))
    if not c.board.queue_iso(i, json.dumps(args[1:])):
        return _err("input queue full")
    return ok(i)


async def iso_request(board, station, eid, args_json):
    """Runs on the firmware's loop (SimBoard.iso_request): the stand-in for an ISO
    15118 stack asking through firmware.evse.iso15118; the answer becomes iso_result."""
    from firmware import log
    from firmware.evse import iso15118
    a = json.loads(args_json)
    if a[0] == "evcert":
        res = await iso15118.ev_certificate(station, eid, "urn:iso:15118:2:2013:MsgDef",
                                            a[1], a[2])
    else:
        res = await iso15118.certificate_status(station, {
            "hashAlgorithm": "SHA256", "issuerNameHash": a[1], "issuerKeyHash": a[2],
            "serialNumber": a[3], "responderURL": a[4]})
    log.info("iso", "%s: %s", a[0], res.get("status"))
    board.publish(-1, iso_result=json.dumps(res))


def _fault_args(c, args):
    i = c.evse(args, 2)
    k = args[1].lower()
    if k not in world.FAULTS:
        raise ValueError("KIND must be one of " + " ".join(world.FAULTS))
    return i, 1 << world.FAULTS.index(k)


def _fault(c, args):
    i, bit = _fault_args(c, args)
    c.world.fault(i, bit)
    return ok(i)


def _clear(c, args):
    i, bit = _fault_args(c, args)
    c.world.clear(i, bit)
    return ok(i)


def _stall(c, args):
    if len(args) != 1:
        raise ValueError("expected 1 argument")
    ms = int(args[0])
    if not 0 < ms <= _MAX_STALL_MS:
        raise ValueError("MS must be 1..%d" % _MAX_STALL_MS)
    if not c.board.queue_stall(ms):
        return _err("input queue full")
    return {"ok": True, "stall_ms": ms}


def _flash_n(c, arg):
    if c.board.flash is None:
        raise ValueError("no flash")
    n = int(arg)
    if not 0 <= n <= _MAX_FLASH_N:
        raise ValueError("N must be 0..%d (0 disarms)" % _MAX_FLASH_N)
    return n


def _cut(c, args):
    if not 1 <= len(args) <= 2 or (len(args) == 2 and args[1].lower() != "hard"):
        raise ValueError("expected N [hard]")
    n = _flash_n(c, args[0])
    c.board.flash.cut_after(n, hard=len(args) == 2)
    return {"ok": True, "cut_after": n}


def _one_n(c, args):
    if len(args) != 1:
        raise ValueError("expected 1 argument")
    return _flash_n(c, args[0])


def _eio(c, args):
    n = _one_n(c, args)
    c.board.flash.fail_after(n)
    return {"ok": True, "fail_after": n}


def _nomem(c, args):
    n = _one_n(c, args)
    c.board.flash.nomem(n)
    return {"ok": True, "nomem": n}


COMMANDS = {"help": _help, "ev": _ev, "draw": _draw, "soc": _soc, "tag": _tag, "iso": _iso,
            "fault": _fault, "clear": _clear, "stall": _stall, "cut": _cut, "eio": _eio,
            "nomem": _nomem}

"""The control channel of the simulated world: a TCP line protocol, one command per line,
one JSON object per reply line ({"ok": true, ...} or {"ok": false, "error": "..."}).
Served from the world thread (World.control.serve between steps) over non-blocking
sockets and select.poll, several clients at once; never from asyncio, so it answers
while the firmware's loop is stalled. EVSE numbers are 1-based, as in OCPP.

    status                   station and per-EVSE state (see SimBoard.status)
    plug N | unplug N        the EV's cable (plug: the EV model decides B/C)
    ev N A|B|C|D|E|auto      hold the EV's pilot state (E: pilot short); auto: the model
    draw N AMPS [force]      the EV's maximum current; force: ignore the PWM offer
    soc N PCT                the EV battery's state of charge
    tag N ID                 an RFID card presented at EVSE N
    iso N evcert ACTION EXI  an ISO 15118 stack at EVSE N asks for an EV certificate
    iso N ocsp NH KH SER URL   ... or an OCSP status (firmware.iso15118); the answer
                             appears as iso_result (JSON text) in the status
    fault N KIND | clear N KIND   KIND: rcd weld lock meter diode overtemp
    stall MS                 the firmware's asyncio loop blocks MS ms (returns at once)
    cut N [hard]             the N-th next flash program/erase is a power cut: the write
                             is not done and the firmware boots again in-process (hard:
                             the process is SIGKILLed instead; start it again); 0 disarms
    eio N                    the N-th next flash program/erase fails with EIO; 0 disarms
    nomem N                  the next N opens of a flash file to append (journal writes)
                             raise MemoryError, as in a fragmented heap; 0 disarms
    help
"""
from micropython import const
import json
import select
import socket
from boards.sim import world as W

_MAX_CLIENTS = const(8)
_MAX_LINE = const(256)
_MAX_OUT = const(65536)
_PIECE = const(192)         # reply pieces at least this long (a list entry each)
_MAX_STALL_MS = const(60000)
_MAX_ID = const(64)
_EAGAIN = const(11)
_MAX_FLASH_N = const(100000)


def _pieces(obj):
    """json.dumps(obj) as a sequence of short strings (dicts and lists taken apart)."""
    if isinstance(obj, dict):
        sep = "{"
        for k, v in obj.items():
            yield sep + json.dumps(k) + ": "
            yield from _pieces(v)
            sep = ", "
        yield "{}" if sep == "{" else "}"
    elif isinstance(obj, (list, tuple)):
        sep = "["
        for v in obj:
            yield sep
            yield from _pieces(v)
            sep = ", "
        yield "[]" if sep == "[" else "]"
    else:
        yield json.dumps(obj)


class _Client:
    def __init__(self, sock):
        self.sock = sock
        self.inbuf = b""
        self.out = []           # reply pieces (bytes), sent in order: no big buffer
        self.n_out = 0          # bytes waiting in out


class Control:
    def __init__(self, board, addr):
        self.board = board
        self.world = board.world
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(socket.getaddrinfo(addr[0], addr[1])[0][-1])
        s.listen(4)
        s.setblocking(False)
        self._srv = s
        self._poll = select.poll()
        self._poll.register(s, select.POLLIN)
        self._clients = {}            # world thread only
        self.commands = 0

    def close(self):
        for c in list(self._clients.values()):
            self._drop(c)
        self._poll.unregister(self._srv)
        self._srv.close()

    def serve(self, timeout_ms):
        """Waits up to timeout_ms for socket events and handles them."""
        for obj, ev in self._poll.poll(timeout_ms):
            if obj is self._srv:
                self._accept()
                continue
            c = self._clients.get(id(obj))
            if c is None:
                continue
            if ev & select.POLLIN:
                self._read(c)
            elif ev & (select.POLLHUP | select.POLLERR):
                self._drop(c)
                continue
            if c.out and id(obj) in self._clients:
                self._write(c)

    def _accept(self):
        try:
            sock, _ = self._srv.accept()
        except OSError:
            return
        sock.setblocking(False)
        c = _Client(sock)
        if len(self._clients) >= _MAX_CLIENTS:
            try:
                sock.send(b'{"ok": false, "error": "too many clients"}\n')
            except OSError:
                pass
            sock.close()
            return
        self._clients[id(sock)] = c
        self._poll.register(sock, select.POLLIN)

    def _drop(self, c):
        self._clients.pop(id(c.sock), None)
        try:
            self._poll.unregister(c.sock)
        except (OSError, KeyError):
            pass
        c.sock.close()

    def _read(self, c):
        try:
            data = c.sock.recv(512)
        except OSError as e:
            if e.errno != _EAGAIN:
                self._drop(c)
            return
        if not data:
            self._drop(c)
            return
        buf = c.inbuf + data
        while True:
            n = buf.find(b"\n")
            if n < 0:
                break
            line, buf = buf[:n], buf[n + 1:]
            try:
                text = line.decode()
            except UnicodeError:
                self._reply(c, _err("not UTF-8"))
                continue
            self._reply(c, self.handle(text.strip()))
        if len(buf) > _MAX_LINE:
            buf = b""
            self._reply(c, _err("line longer than %d bytes" % _MAX_LINE))
        c.inbuf = buf

    def _reply(self, c, obj):
        """The reply as a line of JSON in small pieces: a status reply is over 1 KB, and
        one piece that size may not fit a fragmented heap on a small -X heapsize."""
        part = ""
        for piece in _pieces(obj):
            part += piece
            if len(part) >= _PIECE:
                c.out.append(part.encode())
                c.n_out += len(c.out[-1])
                part = ""
        c.out.append((part + "\n").encode())
        c.n_out += len(c.out[-1])
        if c.n_out > _MAX_OUT:               # a client that never reads
            self._drop(c)

    def _write(self, c):
        while c.out:
            b = c.out[0]
            try:
                n = c.sock.send(b)
            except OSError as e:
                if e.errno != _EAGAIN:
                    self._drop(c)
                    return
                break
            c.n_out -= n
            if n < len(b):
                c.out[0] = b[n:]
                break
            c.out.pop(0)
        self._poll.modify(c.sock, select.POLLIN | (select.POLLOUT if c.out else 0))

    # ------------------------------------------------------------ commands
    def handle(self, line):
        """One command line -> reply dict."""
        parts = line.split()
        if not parts:
            return _err("empty command")
        self.commands += 1
        fn = getattr(self, "_c_" + parts[0].lower(), None)
        if fn is None:
            return _err("unknown command %r (try help)" % parts[0])
        try:
            return fn(parts[1:])
        except ValueError as e:
            return _err(str(e) or "bad argument")

    def _evse(self, args, nargs):
        if len(args) != nargs:
            raise ValueError("expected %d argument(s)" % nargs)
        n = int(args[0])
        if not 1 <= n <= self.board.n_evse:
            raise ValueError("evse %d out of range 1..%d" % (n, self.board.n_evse))
        return n - 1

    def _c_help(self, args):
        return {"ok": True, "commands": ["status", "plug N", "unplug N",
                                         "ev N A|B|C|D|E|auto", "draw N AMPS [force]",
                                         "soc N PCT", "tag N ID", "iso N evcert|ocsp ...", "fault N KIND",
                                         "clear N KIND", "stall MS", "log [N]",
                                         "cut N [hard]", "eio N", "nomem N"],
                "faults": list(W.FAULTS)}

    def _c_status(self, args):
        return self.board.status()

    def _c_plug(self, args):
        i = self._evse(args, 1)
        self.world.plug(i)
        return _ok(i)

    def _c_unplug(self, args):
        i = self._evse(args, 1)
        self.world.unplug(i)
        return _ok(i)

    def _c_ev(self, args):
        i = self._evse(args, 2)
        s = args[1].upper()
        if s == "AUTO":
            self.world.set_ev(i, -1)
        elif len(s) == 1 and s in W.LETTERS:
            self.world.set_ev(i, W.LETTERS.index(s))
        else:
            raise ValueError("EV state must be A, B, C, D, E or auto")
        return _ok(i)

    def _c_draw(self, args):
        force = len(args) == 3 and args[2].lower() == "force"
        i = self._evse(args[:2], 2)
        a = float(args[1])
        if not 0 <= a <= 80:
            raise ValueError("AMPS must be 0..80")
        self.world.draw(i, a, force)
        return _ok(i)

    def _c_soc(self, args):
        i = self._evse(args, 2)
        p = float(args[1])
        if not 0 <= p <= 100:
            raise ValueError("PCT must be 0..100")
        self.world.soc(i, p)
        return _ok(i)

    def _c_tag(self, args):
        i = self._evse(args, 2)
        ident = args[1]
        if len(ident) > _MAX_ID:
            raise ValueError("ID longer than %d" % _MAX_ID)
        if not self.board.queue_tag(i, ident):
            return _err("input queue full")
        return _ok(i)

    def _c_iso(self, args):
        """iso N evcert Install|Update EXI | iso N ocsp NAMEHASH KEYHASH SERIAL URL: what
        an ISO 15118 stack on EVSE N asks the CSMS for (firmware.iso15118); the answer
        shows as iso_result in the status."""
        if len(args) < 2 or args[1] not in ("evcert", "ocsp") or \
                len(args) != (4 if args[1] == "evcert" else 6):
            raise ValueError("expected N evcert ACTION EXI | N ocsp NAMEHASH KEYHASH SERIAL URL")
        i = self._evse(args, len(args))
        if not self.board.queue_iso(i, json.dumps(args[1:])):
            return _err("input queue full")
        return _ok(i)

    def _c_fault(self, args):
        i, bit = self._fault_args(args)
        self.world.fault(i, bit)
        return _ok(i)

    def _c_clear(self, args):
        i, bit = self._fault_args(args)
        self.world.clear(i, bit)
        return _ok(i)

    def _fault_args(self, args):
        i = self._evse(args, 2)
        k = args[1].lower()
        if k not in W.FAULTS:
            raise ValueError("KIND must be one of " + " ".join(W.FAULTS))
        return i, 1 << W.FAULTS.index(k)

    def _c_log(self, args):
        """The firmware's RAM log ring (the entry point hands in its reader)."""
        n = int(args[0]) if args else 20
        tail = getattr(self.board, "log_tail", None)
        if tail is None:
            return _err("no log source")
        return {"ok": True, "lines": tail(max(1, min(n, 64)))}

    def _c_stall(self, args):
        if len(args) != 1:
            raise ValueError("expected 1 argument")
        ms = int(args[0])
        if not 0 < ms <= _MAX_STALL_MS:
            raise ValueError("MS must be 1..%d" % _MAX_STALL_MS)
        if not self.board.queue_stall(ms):
            return _err("input queue full")
        return {"ok": True, "stall_ms": ms}

    def _c_cut(self, args):
        if not 1 <= len(args) <= 2 or (len(args) == 2 and args[1].lower() != "hard"):
            raise ValueError("expected N [hard]")
        n = self._flash_n(args[0])
        self.board.flash.cut_after(n, hard=len(args) == 2)
        return {"ok": True, "cut_after": n}

    def _c_eio(self, args):
        if len(args) != 1:
            raise ValueError("expected 1 argument")
        n = self._flash_n(args[0])
        self.board.flash.fail_after(n)
        return {"ok": True, "fail_after": n}

    def _c_nomem(self, args):
        if len(args) != 1:
            raise ValueError("expected 1 argument")
        n = self._flash_n(args[0])
        self.board.flash.nomem(n)
        return {"ok": True, "nomem": n}

    def _flash_n(self, arg):
        if self.board.flash is None:
            raise ValueError("no flash")
        n = int(arg)
        if not 0 <= n <= _MAX_FLASH_N:
            raise ValueError("N must be 0..%d (0 disarms)" % _MAX_FLASH_N)
        return n


def _ok(i):
    return {"ok": True, "evse": i + 1}


def _err(msg):
    return {"ok": False, "error": msg}

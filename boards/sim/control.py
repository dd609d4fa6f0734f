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
    iso N ocsp NH KH SER URL   ... or an OCSP status (firmware.evse.iso15118); the answer
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

_MAX_CLIENTS = const(8)
_MAX_LINE = const(256)
_MAX_OUT = const(65536)
_PIECE = const(192)         # reply pieces at least this long (a list entry each)
_EAGAIN = const(11)


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
            try:
                r = self.handle(text.strip())
            except Exception as e:      # noqa: BLE001 - a bug, or a command module that no
                # longer loads (its files gone): the client gets an answer, not a silence
                self.world.errors += 1
                r = _err("command failed: %r" % (e,))
            self._reply(c, r)
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
        name, args = parts[0].lower(), parts[1:]
        try:
            # what a session sends all the time is here; the other commands (faults,
            # EV behaviour, flash faults, help) load with their first use and stay: the
            # heap a test measures is the firmware's, not the simulator's
            if name == "status":
                return self.board.status()
            if name == "plug" or name == "unplug":
                i = self.evse(args, 1)
                (self.world.plug if name == "plug" else self.world.unplug)(i)
                return ok(i)
            if name == "log":
                return self._log(args)
            from boards.sim import commands
            fn = commands.COMMANDS.get(name)    # a dict: an unknown name is not interned
            if fn is None:
                return _err("unknown command %r (try help)" % parts[0])
            return fn(self, args)
        except ValueError as e:
            return _err(str(e) or "bad argument")

    def evse(self, args, nargs):
        if len(args) != nargs:
            raise ValueError("expected %d argument(s)" % nargs)
        n = int(args[0])
        if not 1 <= n <= self.board.n_evse:
            raise ValueError("evse %d out of range 1..%d" % (n, self.board.n_evse))
        return n - 1

    def _log(self, args):
        """The firmware's RAM log ring (the entry point hands in its reader)."""
        n = int(args[0]) if args else 20
        tail = getattr(self.board, "log_tail", None)
        if tail is None:
            return _err("no log source")
        return {"ok": True, "lines": tail(max(1, min(n, 64)))}


def ok(i):
    return {"ok": True, "evse": i + 1}


def _err(msg):
    return {"ok": False, "error": msg}

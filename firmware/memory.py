"""The firmware's memory mechanics, in one place (docs/memory.md measures them).

A board's heap is small and ends up in pieces, so code the station needs rarely is not
kept loaded, and what must be allocated in one piece is allocated early. The vocabulary:

- **unload** a module: forget it (sys.modules and its package's attribute); its code and
  objects go with the last reference to them. `unload(name)`, `unload_since(had)`.
- **a call**: `await call(mod, fn, *args)` imports module `mod` for one call of its
  function `fn(*args)` and unloads it, and every module the call loaded, after it. The
  adapters' routing tables name such modules for the CSMS requests a station gets
  rarely (certificates, signing, configuration, network profiles); the adapter is their
  first argument. A task the function started keeps what it runs alive on its own;
  such a module keeps no state between calls (the adapter keeps it).
- **a scope**: `with Scope(names):` unloads, on exit, the modules of `names` that were
  not loaded on entry (firmware.security.certs.scope(): the certificate store, x509 and csr).
- **preload**: at boot, before the heap is in pieces: the log ring, the collector's
  threshold, the adapter's code and the names its per-call modules make (preload()).
- **the TLS room**: mbedTLS's record buffers (16.7 KB in one piece and 4.4 KB on a 32-bit
  port) are the largest allocations the firmware makes, at every wss:// connect, late, in
  a heap the running station has cut into pieces. `tls_room(True)` holds room for them
  (at boot, and again right after a connection freed its buffers, in their places);
  `TlsRoom(ctx)` stands for the connect's SSLContext and frees the room right before the
  wrap that fills it, so nothing else takes it first. Where mbedTLS allocates outside the
  MicroPython heap (esp32: the IDF heap) no room is held.
- the WebSocket opening handshake is lib/ws's own business: ws.connect() unloads the
  handshake code it loaded once the connection is made (lib/ws/__init__.py).
"""
from micropython import const
import gc
import sys

_GC_EVERY_MIN = const(4096)     # preload: collect after at least this many bytes allocated
# The TLS room, in bytes of whole 16-byte blocks (32-bit port; MicroPython's mbedTLS
# configuration, extmod/mbedtls/mbedtls_config_common.h): the input record buffer (16 KB
# and its headers: 1046 blocks) exactly, so that the piece fits again where a closed
# connection's buffer was; and the rest a wrap allocates (the socket object, the 4 KB
# output buffer, the handshake's state: 378 blocks), where those go first-fit.
_TLS_IN = const(16736)
_TLS_REST = const(6048)

_room = []                      # tls_room(True): the buffers that hold it


def unload(mod):
    """Forgets module `mod` (sys.modules and its package's attribute)."""
    m = sys.modules.pop(mod, None)
    pkg, _, leaf = mod.rpartition(".")
    p = sys.modules.get(pkg)
    if m is not None and p is not None and getattr(p, leaf, None) is m:
        delattr(p, leaf)


def unload_since(had):
    """Forgets every module loaded since `had` (a set of sys.modules names)."""
    for k in [k for k in sys.modules if k not in had]:
        unload(k)


async def call(mod, fn, *args):
    """Awaits mod.fn(*args), the module imported for it and, with every other module the
    call loaded, unloaded after, whether it returned or raised."""
    had = set(sys.modules)
    try:
        m = __import__(mod, None, None, ("_",))
        return await getattr(m, fn)(*args)
    finally:
        unload_since(had)
        gc.collect()


class Scope:
    """`with Scope(names):` unloads, on exit, the modules of `names` it found not
    loaded (a module someone else loaded before stays), then collects: the room comes
    back now, in one piece, before others carve it."""

    def __init__(self, names):
        self.names = names
        self.had = ()

    def __enter__(self):
        self.had = [m for m in self.names if m in sys.modules]
        return self

    def __exit__(self, *exc):
        for m in self.names:
            if m not in self.had:
                unload(m)
        gc.collect()
        return False


def tls_room(hold):
    """hold=True: holds the room for the next TLS connection's buffers, the pieces it
    does not hold yet: the input buffer's first (each takes the lowest hole that fits:
    right after a connection closed, the input buffer's own place, which the smaller
    piece, allocated first, would cut), then the rest. hold=False: frees it and collects,
    so the next allocations find it free. A piece that does not fit now is not held (the
    next attempt tries again)."""
    if not hold:
        if _room:
            _room.clear()
            gc.collect()
        return
    if len(_room) == 2 or sys.platform == "esp32":
        return
    gc.collect()
    have = [len(b) for b in _room]
    for n in (_TLS_IN, _TLS_REST):
        if n not in have:
            try:
                _room.append(bytearray(n))
            except MemoryError:
                pass


class TlsRoom:
    """An SSLContext for one connect (ws.connect(ssl=TlsRoom(ctx))): frees the room right
    before the wrap that fills it (mbedtls_ssl_setup's buffers), not earlier, when the
    connect's other allocations would take it."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.verify_mode = ctx.verify_mode

    def wrap_socket(self, sock, **kw):
        tls_room(False)
        return self.ctx.wrap_socket(sock, **kw)


def preload(load, tls=False):
    """Boot, first thing, while the heap is still in one piece: code and the name pools
    that grow with it are the largest allocations the firmware makes, and once runtime
    objects have cut the heap into pieces a later import may find no room for them,
    although enough is free in all.

    It sets the collector to run after every quarter of the heap allocated (40 KB of a
    Pico W's), not only when an allocation fails: garbage then goes while it is young,
    new objects fill the holes low in the heap, and the free heap stays in larger pieces
    (the frozen firmware's smallest heap for the complete session: 96-100 KiB against
    104 KiB for 2.0.1 without it, docs/memory.md). A twentieth did as well for the heap
    but cost 40 % of the messages per second when a queue is replayed (each collection
    marks the whole live heap). A collection costs the loop a few ms; the safety path
    does not wait for the loop.

    Then the log ring (3 KB in one piece), the TLS room if `tls` (the station connects
    with wss://: tls_room), then load() -> the adapter class (its code,
    and with it the WebSocket and RPC code), then the modules its PRELOAD_NAMES name
    (the per-call handlers every CSMS uses at once: 1.6 Get/ChangeConfiguration, 2.0.1
    Get/SetVariables), loaded and unloaded again so the names they add are made now:
    name pools grow in steps (doubling: 9 KB at once on a 32-bit unix port), and a step
    later, in a heap in pieces, can fail where it fits now."""
    from firmware import log
    gc.collect()
    gc.threshold(max(_GC_EVERY_MIN, (gc.mem_free() + gc.mem_alloc()) // 4))
    log.reserve()
    if tls:
        tls_room(True)
    cls = load()
    had = set(sys.modules)
    for mod in cls.PRELOAD_NAMES:
        __import__(mod)
    unload_since(had)
    gc.collect()
    return cls

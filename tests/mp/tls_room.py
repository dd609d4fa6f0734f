"""firmware.memory's TLS room around a real wrap (tests/unit/test_lazy_handlers.py).

argv: PORT — a TCP listener on 127.0.0.1 (the test's; no TLS handshake is made)"""
from out import report
import gc, socket, sys, tls
from firmware import memory

port = int(sys.argv[-1])
gc.collect()
a0 = gc.mem_alloc()
memory.tls_room(True)
held = len(memory._room)
gc.collect()
a1 = gc.mem_alloc()
memory.tls_room(True)                   # holds once
twice = len(memory._room)
ctx = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
ctx.verify_mode = tls.CERT_REQUIRED
room = memory.TlsRoom(ctx)
s = socket.socket()
s.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
w = room.wrap_socket(s, server_hostname="localhost", do_handshake_on_connect=False)
at_wrap = len(memory._room)
w.close()
memory.tls_room(True)                   # after the link closed: held again
again = len(memory._room)
gc.collect()
a2 = gc.mem_alloc()
memory.tls_room(False)                  # a ws:// connect: given back
report({"held": held, "twice": twice, "bytes": a1 - a0, "at_wrap": at_wrap, "again": again,
        "freed": len(memory._room), "same_mode": room.verify_mode == tls.CERT_REQUIRED,
        "back": a2 - gc.mem_alloc()})

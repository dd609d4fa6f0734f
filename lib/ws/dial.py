"""Open the TCP (and TLS) link as an asyncio stream, closing the socket on any failure.

Same steps as asyncio.open_connection(host, port, ssl=ctx, server_hostname=host), but it
keeps hold of the socket: open_connection drops it unclosed when a timeout cancels it
during the TCP connect (the unix port's sockets have no finaliser and lwIP has only a
handful), and a station retrying an unreachable CSMS would run out of sockets.
"""
import asyncio
import socket
from errno import EINPROGRESS


def _writable(sock):
    # async: wait until the connect has finished, exactly as open_connection does.
    yield asyncio.core._io_queue.queue_write(sock)


async def dial(host, port, ssl=None):
    """-> asyncio stream (reader and writer in one, as in MicroPython's asyncio).

    ssl: a tls.SSLContext (server certificate checked against `host`) or None.
    The TLS handshake itself runs on the first write/read. getaddrinfo() blocks, as it
    does in open_connection: use an IP address or a fast resolver.
    """
    ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    sock = socket.socket(ai[0], ai[1], ai[2])
    ok = False
    try:
        sock.setblocking(False)
        try:
            sock.connect(ai[-1])
        except OSError as e:
            if e.errno != EINPROGRESS:
                raise
        if ssl is not None:
            sock = ssl.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
            sock.setblocking(False)
        await _writable(sock)
        ok = True
        return asyncio.StreamReader(sock)
    finally:
        if not ok:
            sock.close()

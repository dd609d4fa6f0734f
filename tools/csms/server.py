"""The CSMS: a websockets server on one port for OCPP 1.6J and 2.0.1, ws or wss.

HTTP layer (before any OCPP): the station id is the last URL path segment,
percent-decoded (OCPP-J 1.6 §3.1.1, 2.0.1 P4 §3.1.1); with `passwords`, HTTP Basic
with user = station id is required, else 401 (security profiles 1/2, A00.FR.202).
The subprotocol picks the version; with no common one the handshake completes
without Sec-WebSocket-Protocol and the CSMS closes at once (2.0.1 P4 §3.2).
"""
import asyncio
import base64
import binascii
import errno
import hmac
import http
import socket
import time
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from .link import LINKS, Signal, _check_reply

_PROTOCOLS = {"ocpp1.6": "1.6", "ocpp2.0.1": "2.0.1"}
_REALM = 'Basic realm="MicroEVSE dev CSMS", charset="UTF-8"'


def _password_ok(expected, got):
    """Compare a configured password with the bytes the station sent.

    OCPP 1.6 AuthorizationKey is configured as hex (16-20 bytes) but sent as the raw
    bytes (J16 §6.2.2, SW16 §7.2); accept both spellings of such a key.
    """
    exp = expected if isinstance(expected, bytes) else expected.encode()
    if hmac.compare_digest(exp, got):
        return True
    if isinstance(expected, str) and 32 <= len(expected) <= 40 and len(expected) % 2 == 0:
        try:
            return hmac.compare_digest(bytes.fromhex(expected), got)
        except ValueError:
            return False
    return False


def _listeners(host, port, tries=20):
    """Bound sockets (not yet listening) on each address `host` resolves to, all on one
    port: `port`, or with 0 the one the kernel gives the first address, then bound on the
    others (all again from the start when another program has it there). An address this
    machine does not have (::1 without IPv6) is left out."""
    addrs = []
    for fam, _, _, _, sa in socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0,
                                               socket.AI_PASSIVE):
        if (fam, sa[0]) not in [(f, a[0]) for f, a in addrs]:
            addrs.append((fam, sa))
    for _ in range(tries):
        socks, p = [], port
        try:
            for fam, sa in addrs:
                try:
                    s = socket.socket(fam, socket.SOCK_STREAM)
                except OSError as e:
                    if e.errno == errno.EAFNOSUPPORT:
                        continue
                    raise
                socks.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if fam == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    s.bind((sa[0], p) + tuple(sa[2:]))
                except OSError as e:
                    if e.errno != errno.EADDRNOTAVAIL:
                        raise
                    socks.pop().close()
                    continue
                p = s.getsockname()[1]
            if not socks:
                raise OSError(errno.EADDRNOTAVAIL, "no address of %r to listen on" % host)
            return socks
        except OSError as e:
            for s in socks:
                s.close()
            if port or e.errno != errno.EADDRINUSE:
                raise
    raise OSError(errno.EADDRINUSE, "no port free on every address of %r" % host)


class Csms:
    """Development CSMS; see the package docstring for the API."""

    def __init__(self, host="127.0.0.1", port=0, ssl_context=None, passwords=None,
                 boot_status="Accepted", boot_interval=300, log=None,
                 versions=("2.0.1", "1.6"), ping_interval=None, signer=None):
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.passwords = passwords
        self.boot_status = boot_status
        self.boot_interval = boot_interval
        self.log = log
        self.versions = tuple(versions)
        self.ping_interval = ping_interval
        self.signer = signer    # tools.csms.ca.SigningCA: answer SignCertificate as a CA
        self.connections = 0
        self._links = {}        # station id -> [Link, ...] oldest first
        self._replies = {}      # (version or None, action) -> (reply, validate)
        self._tx = 0
        self._servers = []      # one websockets server per listening address
        self._news = None
        self._closing = set()   # tasks closing replaced links

    @property
    def url(self):
        """Base URL; a station appends its (percent-encoded) id."""
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s://%s:%d/" % ("wss" if self.ssl_context else "ws", host, self.port)

    async def start(self):
        """Listens on every address `host` resolves to (`localhost`: 127.0.0.1, and ::1
        where /etc/hosts lists it), all on one port, so a station dialling the URL's name
        finds the CSMS whichever address it tries first."""
        self._news = Signal()
        self._servers = []
        for sock in _listeners(self.host, self.port):
            self._servers.append(await serve(
                self._handler, sock=sock, ssl=self.ssl_context,
                subprotocols=list(_PROTOCOLS), select_subprotocol=self._select,
                process_request=self._check_request, ping_interval=self.ping_interval,
                server_header="MicroEVSE-dev-CSMS"))
        self.port = self._servers[0].sockets[0].getsockname()[1]

    async def stop(self):
        servers, self._servers = self._servers, []
        for srv in servers:
            srv.close()              # closes open connections with 1001
        for srv in servers:
            await srv.wait_closed()

    # --- state tests read and change ------------------------------------------

    def next_transaction_id(self):
        self._tx += 1
        return self._tx

    def set_reply(self, action, reply, validate=True, version=None):
        """Like Link.set_reply, for every link (now and future) of `version` (None: both).

        A link's own set_reply wins over this one.
        """
        if version is not None:
            _check_reply(action, reply, validate, version)
        if reply is None:
            self._replies.pop((version, action), None)
        else:
            self._replies[(version, action)] = (reply, validate)

    def _reply_for(self, version, action):
        return self._replies.get((version, action)) or self._replies.get((None, action))

    def links(self, station_id):
        """Every connection of this station so far, oldest first."""
        return list(self._links.get(station_id, ()))

    def station(self, station_id):
        """The latest open link of this station, or None."""
        links = self._links.get(station_id)
        if links and not links[-1].closed:
            return links[-1]
        return None

    async def wait_station(self, station_id, timeout=10, newer_than=None):
        """The station's latest open link; waits for one (newer than `newer_than`)."""
        deadline = time.monotonic() + timeout
        while True:
            link = self.station(station_id)
            if link is not None and (newer_than is None or link is not newer_than):
                return link
            left = deadline - time.monotonic()
            if left <= 0 or not await self._news.wait(left):
                raise TimeoutError("station %s did not connect in %ss" % (station_id, timeout))

    # --- connection handling --------------------------------------------------

    def _log_line(self, station_id, direction, text):
        if self.log is not None:
            t = time.time()
            stamp = time.strftime("%H:%M:%S", time.localtime(t)) + ".%03d" % (t % 1 * 1000)
            self.log("%s %s %s %s" % (stamp, station_id, direction, text))

    def _select(self, connection, offered):
        # The station lists its versions by preference (OCPP-J 1.6 §3.1.2); follow it.
        for p in offered:
            if _PROTOCOLS.get(p) in self.versions:
                return p
        return None

    def _check_request(self, connection, request):
        station_id = unquote(urlsplit(request.path).path.rsplit("/", 1)[-1])
        connection.station_id = station_id
        if not station_id:
            self._log_line("-", "**", "rejected %s: no station id in the path" % request.path)
            return connection.respond(http.HTTPStatus.NOT_FOUND, "No station id in path\n")
        if self.passwords is None:
            return None
        why = self._auth_problem(station_id, request.headers.get("Authorization"))
        if why is None:
            return None
        self._log_line(station_id, "**", "rejected 401: " + why)
        response = connection.respond(http.HTTPStatus.UNAUTHORIZED, why + "\n")
        response.headers["WWW-Authenticate"] = _REALM
        return response

    def _auth_problem(self, station_id, header):
        if header is None:
            return "missing Authorization"
        scheme, _, b64 = header.partition(" ")
        if scheme.lower() != "basic":
            return "not Basic authorization"
        try:
            user, sep, password = base64.b64decode(b64.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return "bad Basic credentials"
        if not sep or user != station_id.encode():
            return "user is not the station id"
        expected = self.passwords.get(station_id)
        if expected is None or not _password_ok(expected, password):
            return "wrong password"
        return None

    async def _handler(self, ws):
        station_id = ws.station_id
        peer = "%s:%s" % ws.remote_address[:2]
        if ws.subprotocol is None:
            self._log_line(station_id, "**", "no common subprotocol (offered %s), closing"
                           % (ws.request.headers.get("Sec-WebSocket-Protocol"),))
            await ws.close(1002, "no common OCPP subprotocol")
            return
        old = self.station(station_id)
        link = LINKS[_PROTOCOLS[ws.subprotocol]](station_id, ws, self)
        self.connections += 1
        self._links.setdefault(station_id, []).append(link)
        self._log_line(station_id, "**", "connected %s from %s" % (ws.subprotocol, peer))
        if old is not None:      # a reconnect replaces the old link
            task = asyncio.ensure_future(old.close(1000, "replaced by a new connection"))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        self._news.fire()
        try:
            await link.start()
        except ConnectionClosed:
            pass
        except Exception as e:
            self._log_line(station_id, "**", "CSMS bug, closing 1011: %r" % (e,))
            raise
        finally:
            link._mark_closed()
            self._news.fire()
            self._log_line(station_id, "**", "disconnected (%s %s)"
                           % (ws.close_code, ws.close_reason or ""))

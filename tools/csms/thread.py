"""CsmsThread: a Csms on its own asyncio loop in a daemon thread, driven synchronously.

For plain (non-async) pytest tests. Every method blocks until the coroutine on the
CSMS loop is done. Callables handed in (set_reply, wait_for's pred) run on the CSMS
thread.
"""
import asyncio
import threading

from .server import Csms

_MARGIN = 5     # seconds beyond a coroutine's own timeout before we give up on the loop


class StationLink:
    """Synchronous proxy for one Link (one connection of one station)."""

    def __init__(self, runner, link):
        self._run = runner._run
        self.link = link

    def __repr__(self):
        return "<StationLink %r>" % (self.link,)

    station_id = property(lambda self: self.link.station_id)
    version = property(lambda self: self.link.version)
    closed = property(lambda self: self.link.closed)
    close_code = property(lambda self: self.link.close_code)
    peer_cert = property(lambda self: self.link.peer_cert)
    # Snapshots: the lists keep growing on the CSMS thread.
    received = property(lambda self: list(self.link.received))
    frames = property(lambda self: list(self.link.frames))
    violations = property(lambda self: list(self.link.violations))

    def call(self, action, payload, timeout=30, validate=True):
        return self._run(self.link.call(action, payload, timeout, validate), timeout)

    def wait_for(self, action, pred=None, timeout=10, after=0):
        return self._run(self.link.wait_for(action, pred, timeout, after), timeout)

    def set_reply(self, action, reply, validate=True):
        self.link.set_reply(action, reply, validate)

    def send_raw(self, text):
        self._run(self.link.send_raw(text), 10)

    def close(self, code=1000, reason=""):
        self._run(self.link.close(code, reason), 15)

    def wait_closed(self, timeout=10):
        return self._run(self.link.wait_closed(timeout), timeout)


class CsmsThread:
    """Start a Csms (same keyword arguments) in a background thread; stop() or `with`."""

    def __init__(self, **kwargs):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="csms",
                                        daemon=True)
        self._thread.start()
        try:
            self.csms = self._run(self._create(kwargs), 10)
        except BaseException:
            self._halt()
            raise

    @staticmethod
    async def _create(kwargs):
        csms = Csms(**kwargs)
        await csms.start()
        return csms

    def _run(self, coro, timeout=None):
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(None if timeout is None else timeout + _MARGIN)

    def _halt(self):
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def stop(self):
        """Stop the server (connections closed with 1001) and the thread. Idempotent."""
        if self._loop.is_closed():
            return
        try:
            self._run(self.csms.stop(), 15)
        finally:
            self._halt()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # --- the Csms, synchronously ---------------------------------------------

    port = property(lambda self: self.csms.port)
    url = property(lambda self: self.csms.url)
    connections = property(lambda self: self.csms.connections)
    boot_status = property(lambda self: self.csms.boot_status,
                           lambda self, v: setattr(self.csms, "boot_status", v))
    boot_interval = property(lambda self: self.csms.boot_interval,
                             lambda self, v: setattr(self.csms, "boot_interval", v))

    def set_reply(self, action, reply, validate=True, version=None):
        self.csms.set_reply(action, reply, validate, version)

    def station(self, station_id, timeout=10, newer_than=None):
        """Sync proxy of the station's latest open link (waits for it to connect)."""
        if isinstance(newer_than, StationLink):
            newer_than = newer_than.link
        link = self._run(self.csms.wait_station(station_id, timeout, newer_than), timeout)
        return StationLink(self, link)

    def links(self, station_id):
        return [StationLink(self, x) for x in self.csms.links(station_id)]

    def call(self, station_id, action, payload, timeout=30, validate=True):
        return self.station(station_id).call(action, payload, timeout, validate)

    def wait_for(self, station_id, action, pred=None, timeout=10, after=0):
        return self.station(station_id, timeout).wait_for(action, pred, timeout, after)

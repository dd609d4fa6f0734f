"""Guaranteed delivery of transaction messages (OCPP 1.6 4.10 / errata 3.18, 2.0.1
E11-E13): every message goes into an append-only journal on flash first, then out to the
CSMS in order, one at a time, once registered. Retries follow timeouts and CALLERRORs:
`attempts` tries in all, waiting `interval` x (tries so far) between them, then the
message is given up and logged (never silently). Other messages may overtake.

Intermediate meter samples are droppable: when the journal is full they go first;
Start/Stop (Started/Ended) never are (store.journal's policy). A failed flash write
(the journal has the board remount the file system) is tried again, up to 3 times.

A record is a dict with short keys, as stored on flash in every record: "a" the action,
"p" its payload, "m" (optional) the adapter's meta data (1.6: the local transaction
number "ltx" and "evse")."""
from micropython import const
import asyncio
import gc
import time
import ocppj
from store.journal import Journal, Full
from firmware import log
from firmware.ocpp.pack import pack, unpack

# 200+ offline sessions in both versions fit (about 0.4-0.8 KB each); the index costs
# about 11 bytes of RAM a record.
_MAX_BYTES = const(192 * 1024)
_MAX_RECORDS = const(1600)
_FLASH_TRIES = const(3)      # a failed write remounts the flash; then it is tried again


class TxQueue:
    def __init__(self, path, settings, on_result=None, max_bytes=_MAX_BYTES,
                 max_records=_MAX_RECORDS):
        self.j = Journal(path, max_bytes=max_bytes, max_records=max_records,
                         encode=pack, decode=unpack)
        self.settings = settings
        self.on_result = on_result          # fn(rid, record, response) after delivery
        self.prepare = None                 # fn(record) -> (action, payload) at send time
        self.on_acked = None                # fn(record) once it is off the journal
        self.wake = asyncio.Event()
        self.given_up = 0
        self.full_events = 0
        self.flash_errors = 0               # messages not queued / acks not written
        self._tries = 0                     # attempts of the record at the head
        self._head = None
        self._t_retry = 0

    def open(self):
        info = self.j.open()
        if info.get("damaged"):
            log.error("txq", "journal repaired: %r", info)
        return info

    def put(self, action, payload, droppable=False, meta=None):
        """Queue a message durably; returns its record id, or None when the journal is
        full of messages that may not be dropped (reported, the caller keeps running)."""
        rec = {"a": action, "p": payload}
        if meta:
            rec["m"] = meta
        j = self.j
        d0 = j.dropped
        for i in range(_FLASH_TRIES):
            try:
                rid = j.append(rec, droppable=droppable)
                break
            except Full:
                self.full_events += 1
                log.error("txq", "journal full of undeliverable transaction messages: %s not "
                          "queued (%d so far)", action, self.full_events)
                return None
            except OSError as e:        # the journal remounted (store.fault) and rescanned
                log.error("txq", "flash write failed (%r): %s, try %d", e, action, i + 1)
            except MemoryError:
                # littlefs's file buffer (about 1.1 KB in one piece) found no room: nothing
                # was written; collect and try again, the last failure goes to the caller,
                # which keeps the message pending (txbase._tx_task tries again)
                log.error("txq", "no memory for the flash write: %s, try %d", action, i + 1)
                if i == _FLASH_TRIES - 1:
                    raise
                gc.collect()
        else:
            self.flash_errors += 1
            log.error("txq", "flash keeps failing: %s not queued", action)
            return None
        if j.dropped != d0:
            log.warn("txq", "journal full: %d meter sample(s) dropped to make room (%d in all)",
                     j.dropped - d0, j.dropped)
        self.wake.set()
        return rid

    def count(self):
        return self.j.count

    async def pump(self, call):
        """Send queued messages in order while `call` (the adapter's CALL) works.
        Returns when the queue is empty or the head waits for its retry time.
        Raises ocppj.Disconnected when the link goes."""
        s = self.settings
        while True:
            head = self.j.peek()
            if head is None:
                self._tries = 0
                return
            rid, rec = head
            if rid != self._head:
                self._head = rid
                self._tries = 0
            if self._tries and time.ticks_diff(time.ticks_ms(), self._t_retry) < 0:
                return
            action, payload = self.prepare(rec) if self.prepare else (rec["a"], rec["p"])
            try:
                res = await call(action, payload)
            except (ocppj.CallError, ocppj.Timeout) as e:
                self._tries += 1
                limit = s.get("TransactionMessageAttempts")
                if self._tries >= max(1, limit):
                    log.error("txq", "%s given up after %d tries: %r", action, self._tries, e)
                    self.given_up += 1
                    self._ack(rid)
                    if self.on_result:
                        self.on_result(rid, rec, None)
                    continue
                wait = s.get("TransactionMessageRetryInterval") * self._tries
                log.warn("txq", "%s try %d failed (%r), again in %d s", action, self._tries, e, wait)
                self._t_retry = time.ticks_add(time.ticks_ms(), wait * 1000)
                return
            if self.on_result:
                self.on_result(rid, rec, res)
            self._ack(rid)
            self._tries = 0
            if self.on_acked:
                self.on_acked(rec)

    def _ack(self, rid):
        """Acks a delivered record. A flash that keeps failing leaves it pending: it is
        sent again later (a retransmission of the same message, never a loss)."""
        for i in range(_FLASH_TRIES):
            try:
                self.j.ack(rid)
                return
            except OSError as e:
                log.error("txq", "flash write failed (%r): ack %d, try %d", e, rid, i + 1)
        self.flash_errors += 1

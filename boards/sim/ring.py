"""A fixed-size single-producer single-consumer ring of control-channel inputs:
("tag", i, id), ("iso", i, json args) and ("stall", ms). The producer (the world thread) writes a slot, then
advances head; the consumer (the firmware's asyncio thread) reads, then advances tail.
Each index has one writer, so no lock is needed even without a GIL."""
from micropython import const
import array

TAG = const(1)
STALL = const(2)
ISO = const(3)


class Ring:
    def __init__(self, size=16):
        self.size = size
        self._kind = bytearray(size)
        self._num = array.array("i", [0] * size)
        self._text = [None] * size        # preallocated: items are replaced, never added
        self._ht = array.array("I", [0, 0])   # head (producer), tail (consumer)

    def push(self, kind, num, text=None):
        """False when full (the input is dropped; the caller reports it)."""
        head = self._ht[0]
        nxt = (head + 1) % self.size
        if nxt == self._ht[1]:
            return False
        self._kind[head] = kind
        self._num[head] = num
        self._text[head] = text
        self._ht[0] = nxt
        return True

    def drain(self):
        """Pending inputs as tuples, oldest first; the ring is then empty."""
        out = []
        tail = self._ht[1]
        head = self._ht[0]
        while tail != head:
            k = self._kind[tail]
            if k == TAG:
                out.append(("tag", self._num[tail], self._text[tail]))
            elif k == ISO:
                out.append(("iso", self._num[tail], self._text[tail]))
            else:
                out.append(("stall", self._num[tail]))
            self._text[tail] = None
            tail = (tail + 1) % self.size
        self._ht[1] = tail
        return out

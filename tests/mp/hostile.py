"""Hostile frames into a serving ocppj.Rpc (tests/unit/test_hostile.py, the fuzz test
and tools/bench/bench.py's fuzz section).

    micropython tests/mp/hostile.py VERSION FRAMES RESULTS

FRAMES: one frame a line, "t" (text frame) or "b" (binary frame) then its bytes in hex.
Each is fed to an Rpc with the version's generated schemas, the firmware's redaction
(firmware/ocpp/security.py) and a debug log, as the station serves a link; RESULTS gets
one line per frame: the frames sent in answer, hex, comma-separated (empty: none).
A text frame that is not valid UTF-8 never reaches ocppj (lib/ws closes with 1007):
its line is "-". The handler echoes the payload's first string, as handlers that
report what they were sent do. Reports frames, answers, handler failures and the
heap free at the end."""
import asyncio
import gc
import sys
import time
from binascii import hexlify, unhexlify

import ocppj
from ocppj import scan
from firmware.ocpp.security import redact
from out import report


class Log:
    def __init__(self):
        self.failed = 0

    def debug(self, tag, fmt, *args):
        fmt % args                  # formatted as a debug log would, then dropped

    def warn(self, tag, fmt, *args):
        if "handler" in fmt or "frame failed" in fmt:
            self.failed += 1

    info = error = warn


class Cli:
    def __init__(self):
        self.inq = []
        self.ev = asyncio.Event()
        self.out = []

    async def recv(self):
        while not self.inq:
            self.ev.clear()
            await self.ev.wait()
        return self.inq.pop(0)

    async def send(self, s):
        self.out.append(bytes(s, "utf-8") if isinstance(s, str) else bytes(s))

    def push(self, m):
        self.inq.append(m)
        self.ev.set()


async def handler(action, p):
    for v in p.values():
        if type(v) is str:
            return {"status": "Accepted", "echo": v}
    return {"status": "Accepted"}


async def main(version, src, dst):
    if version == "1.6":
        from firmware.ocpp.v16 import schema as S
    else:
        from firmware.ocpp.v201 import schema as S
    log = Log()
    cli = Cli()
    rpc = ocppj.Rpc(version, handler, requests=S.REQUESTS, responses=S.RESPONSES, log=log,
                    redact=redact, rand=lambda: 0xabc)
    task = asyncio.create_task(rpc.serve(cli))
    n = answers = 0
    worst_us = 0
    with open(src) as f, open(dst, "w") as out:
        for line in f:
            line = line.strip()
            if not line:
                continue
            n += 1
            raw = unhexlify(line[1:])
            if line[0] == "t":
                if not scan.utf8(raw):
                    out.write("-\n")
                    continue
                raw = str(raw, "utf-8")
            t0 = time.ticks_us()
            cli.push(raw)
            # the reader takes the frame, a handler task answers it: a few passes
            for _ in range(8):
                await asyncio.sleep_ms(0)
            dt = time.ticks_diff(time.ticks_us(), t0)
            if dt > worst_us:
                worst_us = dt
            answers += len(cli.out)
            out.write(",".join(hexlify(x).decode() for x in cli.out) + "\n")
            cli.out = []
    alive = not task.done()
    task.cancel()
    gc.collect()
    report({"frames": n, "answers": answers, "failed": log.failed, "alive": alive,
            "worst_us": worst_us, "free": gc.mem_free()})


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))

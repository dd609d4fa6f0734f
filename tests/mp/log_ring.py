"""firmware.log's ring, bounded and in order (tests/unit/test_log.py)."""
from out import report
import json
from firmware import log
log.echo = False
out = {"empty": log.tail()}
log.info("t", "hello %d", 1)
out["first"] = log.tail()
for i in range(500):
    log.warn("tag", "line %d %s", i, "x" * (i % 50))
t = log.tail(1000)
out["n"] = len(t)
out["nums"] = [int(x.split()[4]) for x in t]
out["bytes"] = sum(len(x.encode()) + 1 for x in t)
out["last"] = t[-1].split(" ", 1)[1]
ring = log._ring
for i in range(200):
    log.error("big", "%s", "\u00e9" * 1000 + "\n" + "y" * 3000)
out["same"] = log._ring is ring and len(ring) == 3072
out["big"] = log.tail(1)[0].split(" ", 1)[1]
log.info("bad", "%d", "not a number")
out["badfmt"] = log.tail(1)[0].split(" ", 1)[1]
log.clear()
out["cleared"] = log.tail()
report(out)

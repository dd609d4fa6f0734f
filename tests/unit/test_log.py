"""firmware.log's ring: one fixed bytearray whatever is logged (a line is cut to 240
characters there, newlines flattened), the last lines in order, the oldest dropped
whole when the ring wraps, non-ASCII text kept intact, and clear()."""
import json

from tests import mp

CODE = r"""
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
print(json.dumps(out))
"""


def test_log_ring_is_bounded_and_keeps_the_last_lines():
    out = json.loads(mp.run(CODE).stdout.strip().splitlines()[-1])
    assert out["empty"] == [] and out["first"][0].endswith(" I t: hello 1")
    assert out["n"] > 40 and out["bytes"] <= 3072
    assert out["nums"] == list(range(500 - out["n"], 500))      # in order, the newest kept
    assert out["last"] == "W tag: line 499 " + "x" * (499 % 50)
    assert out["same"]                                          # one ring, never grown
    big = out["big"]
    assert big.startswith("E big: \u00e9") and len(big) <= 240 and "\n" not in big
    assert out["badfmt"].startswith("I bad: %d")
    assert out["cleared"] == []

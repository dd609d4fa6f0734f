"""firmware.log's ring: one fixed bytearray whatever is logged (a line is cut to 240
characters there, newlines flattened), the last lines in order, the oldest dropped
whole when the ring wraps, non-ASCII text kept intact, and clear()."""
from tests import mp


def test_log_ring_is_bounded_and_keeps_the_last_lines():
    out = mp.run_file("log_ring")
    assert out["empty"] == [] and out["first"][0].endswith(" I t: hello 1")
    assert out["n"] > 40 and out["bytes"] <= 3072
    assert out["nums"] == list(range(500 - out["n"], 500))      # in order, the newest kept
    assert out["last"] == "W tag: line 499 " + "x" * (499 % 50)
    assert out["same"]                                          # one ring, never grown
    big = out["big"]
    assert big.startswith("E big: \u00e9") and len(big) <= 240 and "\n" not in big
    assert out["badfmt"].startswith("I bad: %d")
    assert out["cleared"] == []

"""firmware.security.certs.identity on the simulated littlefs flash, under MicroPython: the
station's certificate chain and key round-trip, a damaged file reads as no identity
(never an exception; the file is still there, not taken for an absent one), bad sizes are refused, and a power cut at every write
point of a replacement leaves the old identity or the new one, whole."""
from tests import mp


def test_identity_roundtrip_damage_and_power_cuts(tmp_path):
    out = mp.run_file("identity_flash", tmp_path / "id.img")
    assert out["none"] and out["roundtrip"] and out["kept"]
    assert out["refused"] == 4
    assert out["damaged"] == [True] * 6
    assert out["cuts"] > 2 and out["seen"] == ["A", "B"], out

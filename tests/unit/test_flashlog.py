"""The logs on flash (firmware.diag.flashlog) and an upload's body (firmware.diag.reader),
on the simulated flash under MicroPython (tests/mp/flashlog.py): bounded after many
lines, surviving a remount, secrets masked, a failed write and a power cut at each
write of a pass survived, the ring's losses said, a time window honoured."""
from tests import mp


def test_flash_log(tmp_path):
    out = mp.run_file("flashlog", tmp_path / "flash.img", timeout=120)
    # 200 KB logged: four files at most, none past 8 KiB, the newest lines kept in order
    assert len(out["sizes"]) == 4 and max(out["sizes"]) <= 8192
    assert out["seqs"] == sorted(out["seqs"]) and out["seqs"][0] > 1     # rotated
    assert out["last_kept"] == 1999 and out["first_kept"] > 0 and out["in_order"]
    assert out["stamped"]
    assert out["after_remount"] and out["seqs_after"][-1] >= out["seqs"][-1]
    assert out["secret_gone"] and out["masked_kept"] and out["url_kept"]
    assert out["sec"] == ["2026-12-07T00:00:01Z ReconfigurationOfSecurityParameters "
                          "password <redacted>"]
    # EIO: the pass fails quietly, the next one writes the line and the failure's record
    assert out["eio_pass"] is False and out["eio_failures"] == 1
    assert out["eio_next"] and out["eio_line"] and out["eio_logged"]
    assert out["lost_said"]
    cuts = out["cuts"]
    assert cuts[-1][1] is False and len(cuts) > 2       # every write point of a pass cut
    assert all(whole is True for _, _, whole in cuts), cuts
    assert out["after_cuts_ok"]
    assert out["window"] == ["3", "4", "5"] and out["window_size_ok"] and out["rewind_same"]
    assert out["whole_size"]
    assert out["ram_tail"] == [False, True, True]

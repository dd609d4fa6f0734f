"""lib/store on the simulated flash (boards/sim/flash.py), under MicroPython: atomic
writes survive a power cut at every program/erase, stale temporaries are cleaned up,
damaged JSON is reported, the image survives a SIGKILL and a corrupt image is
reformatted instead of boot-looping. The program: tests/mp/store_flash.py."""
import os

from tests import mp


def run(tmp_path, case, *args, timeout=30):
    return mp.run_file("store_flash", case, tmp_path / "flash.img", *args, timeout=timeout)


def test_atomic_write_read_json_and_cleanup(tmp_path):
    out = run(tmp_path, "basics")
    assert out["first"] == "formatted"
    assert out["read"] == "hello" and out["missing"] == "dflt" and out["replaced"] == "bye"
    assert out["json"] == [{"k": [1, 2]}, True]
    assert out["absent"] == [{"d": 1}, True]          # absent is not damage
    assert out["damaged"] == [{}, False]
    assert out["too_big"] is False and out["max_size"] == "EFBIG"
    assert out["not_json"] in ("TypeError", "ValueError") and out["not_written"]
    assert out["cleaned"] == 2
    assert out["left"] == ["a.txt", "bad.json", "big.json", "c.json", "keep.txt", "sub"]
    assert out["again"] == "mounted" and out["after_remount"] == "bye"


def test_power_cut_at_every_write_point(tmp_path):
    out = run(tmp_path, "every_point", timeout=60)
    for key, before in (("old", "old"), ("fresh", "absent")):
        seen = out[key]
        # the last run completed without a cut: every earlier one was cut at its n-th op
        assert len(seen) > 8, seen
        kinds = [s["kind"] for s in seen]
        assert "BAD" not in kinds, seen
        assert all(s["how"] == "mounted" for s in seen), seen    # never reformatted
        assert kinds[-1] == "new" and kinds[0] == before, seen
        # once the rename is committed the new content stays; before it, the old one
        first_new = kinds.index("new")
        assert set(kinds[:first_new]) == {before} and set(kinds[first_new:]) == {"new"}
        # a stale temporary was left by some cuts, and cleanup() always removes it
        assert any(s["tmp"] for s in seen), seen
        assert all(s["removed"] == (1 if s["tmp"] else 0) and not s["tmp_after"] for s in seen), seen


def test_failed_flash_write_keeps_old_file(tmp_path):
    out = run(tmp_path, "failed_write")

    assert "bad" not in out, out
    assert out["errs"] and set(out["errs"]) == {"EIO"}
    assert out["final"] == 2 and out["tmp_left"] == []


def test_hard_power_cut_kills_process_and_image_stays_consistent(tmp_path):
    ops = run(tmp_path, "count_ops")["ops"]          # the write points of one atomic_write
    assert ops > 4
    for n in (1, ops // 2, ops - 1):
        p = mp.run_program("store_flash", "hard_cut", tmp_path / "flash.img", n)
        assert p.returncode in (-9, 137), (n, p.returncode, p.stdout, p.stderr)   # SIGKILL
        assert mp.reported(p) is None                  # it never got past the cut
        check = run(tmp_path, "after_cut")
        assert check["how"] == "mounted" and check["kind"] in ("old", "new"), (n, check)


def test_corrupt_image_is_reported_and_reformatted(tmp_path):
    img = tmp_path / "flash.img"
    with open(img, "wb") as f:                        # garbage, not a littlefs image
        f.write(bytes((i * 7 + 3) & 0xFF for i in range(64 * 4096)))
    p = mp.run_program("store_flash", "mount", img)
    assert mp.reported(p) == {"how": "reformatted", "again": "mounted", "x": [1, True]}
    assert p.stderr                                   # and reported (logged)
    # a zeroed image counts as blank: formatted without a report
    with open(img, "wb") as f:
        f.write(bytes(64 * 4096))
    p = mp.run_program("store_flash", "mount", img)
    assert mp.reported(p)["how"] == "formatted" and p.stderr == ""
    assert os.path.getsize(img) == 64 * 4096

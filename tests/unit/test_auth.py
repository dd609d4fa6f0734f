"""firmware/auth/ (store, cache, locallist, records) under MicroPython: the Local
Authorization List (Full, Differential, VersionMismatch, removal, duplicates, list_max),
the Authorization Cache (NOT-valid entries evicted first, then LRU; ids of the list not
cached, ClearCache leaves the list), lookup precedence, expiry, case handling, line and
file bounds, persistence, damaged files (reported), and power cuts / failed writes on the
simulated littlefs. The programs: tests/mp/auth_store.py, tests/mp/auth_load.py."""
import json
import os
import subprocess

from tests import mp

def run(tmp_path, case, *args, timeout=30):
    return mp.run_file("auth_store", case, tmp_path, *args, timeout=timeout)


def test_full_differential_version_mismatch_and_removal(tmp_path):
    out = run(tmp_path, "full_differential")
    assert out["empty"] == [0, 0]
    assert out["full"] == "Accepted" and out["after_full"] == [3, 3, ["Blocked", "list"]]
    assert out["same"] == out["lower"] == "VersionMismatch"
    assert out["unchanged"] == [3, 3, [None, None]]
    assert out["diff"] == "Accepted"
    assert out["after_diff"] == [4, 3, [None, None], ["Accepted", "list"], ["Accepted", "list"]]
    assert out["replace"] == "Accepted"
    assert out["after_replace"] == [2, 1, [None, None], ["Accepted", "list"]]
    assert out["none_in_full"] == out["bad_status"] == out["bad_type"] == "Failed"
    assert out["bad_version"] == ["Failed", "Failed"]
    assert out["kept"] == [2, 1, ["Accepted", "list"]]
    assert out["clear"] == "Accepted" and out["cleared"] == [0, 0, [None, None]]
    assert out["diff_from_0"] == "Accepted" and out["remove_all"] == "Accepted"
    assert out["end"] == [0, 0]


def test_list_max_failed_keeps_old_list(tmp_path):
    out = run(tmp_path, "list_max_failed_keeps_old_list")
    assert out["full"] == "Accepted"
    assert out["full_over"] == out["diff_over"] == "Failed"
    assert out["diff_ok"] == "Accepted"
    assert out["state"] == [2, 4, ["Blocked", "list"], [None, None], [None, None]]
    assert out["reloaded"] == [2, 4, ["Blocked", "list"], ["Accepted", "list"], False]


def test_lookup_precedence_expiry_and_parent(tmp_path):
    out = run(tmp_path, "lookup_precedence_expiry_and_parent")
    assert out["put"] is True and out["cache_first"] == ["Blocked", "cache"]
    assert out["cached_list_id"] == [False, 1]
    assert out["list_id"] == ["Accepted", "list"]
    assert out["list_wins"] == [["Accepted", "list"], 0]
    assert out["removed"] == [None, None]
    assert out["before"] == [{"status": "Accepted", "expiry": 2000, "parent": "GRP"}, "list"]
    assert out["at"] == ["Accepted", "list"]          # expired only once past the expiry
    assert out["after"] == ["Expired", "list"] and out["no_now"] == ["Accepted", "list"]
    assert out["cache_expired"] == [["Accepted", "cache"], ["Expired", "cache"]]
    assert out["unknown"] == [None, None]
    assert out["bad_put"] == [False, False, False]


def test_cache_lru_bound_and_clear_cache_keeps_list(tmp_path):
    out = run(tmp_path, "cache_lru_bound_and_clear_cache_keeps_list")
    assert out["lru"] == [3, "cache", None, "cache", "cache"]
    assert out["update"] == [3, None, ["ConcurrentTx", "cache"], "cache"]
    assert out["expired_first"] == [None, None, "cache", "cache", "cache"]
    assert out["reloaded"] == [3, None, "cache"]
    assert out["clear"] is True
    assert out["after_clear"] == [0, 5, 1, ["Accepted", "list"], [None, None]]
    assert out["after_reload"] == [0, 5, ["Accepted", "list"], False]


def test_cache_evicts_not_valid_entries_first(tmp_path):
    """1.6 3.5.1 / 2.0.1 C10.FR.07: a full cache drops NOT-valid entries (a status other
    than Accepted/ConcurrentTx, or past the expiry) before the oldest valid one; never the
    entry being stored."""
    out = run(tmp_path, "cache_evicts_not_valid_entries_first")
    assert out["blocked_first"] == ["cache", None, "cache", "cache"]
    assert out["new_kept"] == [None, "cache", "cache", "cache"]
    assert out["not_valid_lru"] == ["cache", "cache", None, "cache"]
    assert out["expired_status"] == ["cache", "cache", None, "cache"]
    assert out["zero"] == [False, 0]


def test_duplicate_ids_fail_and_keep_the_old_list(tmp_path):
    """1.6 6.41 / 2.0.1 D01.FR.06: ids in one SendLocalList must be unique; which of two
    entries was meant is unknown, so the update fails and the old list stays."""
    out = run(tmp_path, "duplicate_ids_fail_and_keep_the_old_list")
    assert out["full"] == out["diff"] == out["diff_removals"] == "Failed"
    assert out["kept"] == [1, 1, ["Accepted", "list"], [None, None], [None, None]]
    assert out["exact"] == ["Accepted", 2, ["Blocked", "list"]]


def test_no_ram_while_merging_an_update_is_failed(tmp_path):
    """Out of RAM anywhere in an update (not only in the flash write) answers "Failed"
    and keeps the old list, instead of raising into the SendLocalList handler."""
    out = run(tmp_path, "no_ram_while_merging_an_update_is_failed")
    assert out["r"] == ["Failed", "Failed"]
    assert out["kept"] == [1, 1, ["Accepted", "list"], [None, None]]


def test_lines_are_bounded_so_an_accepted_list_reloads(tmp_path):
    """What is Accepted (or cached) reads back after a reboot: legal ids of the longest
    kind fit the per-line bound the reader applies; an entry whose stored line would be
    longer (ids full of JSON escapes) is refused instead of written as a file the next
    load() would call damaged."""
    out = run(tmp_path, "lines_are_bounded_so_an_accepted_list_reloads")
    assert out["long"] == "Accepted"
    assert out["long_reload"] == [False, 1, 16, {"status": "NotAllowedTypeEVSE",
                                                 "expiry": 253402300799, "parent": "P" * 64}]
    assert out["escaped"] == "Failed"
    assert out["escaped_put"] == [False, True]
    assert out["after"] == [False, 1, 16, ["Accepted", "cache"], [None, None]]


def test_cache_never_serves_an_id_of_the_list_after_reload(tmp_path):
    """A cut between a list update and the cache write that forgets the ids it names
    leaves both files holding an id. load() leaves it out of the cache (1.6 3.5.3), so
    removing it from the list later does not bring back the stale cache answer."""
    out = run(tmp_path, "cache_never_serves_an_id_of_the_list_after_reload")
    assert out["loaded"] == [False, 1, 1, ["Blocked", "list"]]
    assert out["removed"] == [[None, None], ["Accepted", "cache"]]


def test_case_handling(tmp_path):
    out = run(tmp_path, "case_handling")
    assert out["ci_dup"] == "Failed"
    assert out["ci"] == [1, ["Blocked", "list"], ["Blocked", "list"]]
    assert out["ci_cache"] == [["Accepted", "cache"], False]
    assert out["ci_removed"] == 0
    assert out["stored_as_given"] == '["MiXeD","Accepted",null,null]'
    assert out["cs"] == [2, ["Accepted", "list"], ["Blocked", "list"], [None, None]]
    assert out["cs_cache"] == [1, ["Invalid", "cache"], ["Blocked", "list"]]
    assert out["cs_reload"] == [2, ["Accepted", "list"], ["Blocked", "list"]]


def test_persistence_across_reload(tmp_path):
    out = run(tmp_path, "persistence_across_reload")
    assert out["b"] == [True, False, 9, 41, 1]
    assert out["same"] is True
    assert out["some"] == [{"status": "Accepted", "expiry": 1007, "parent": "P"},
                           ["ConcurrentTx", "list"],
                           [{"status": "Invalid", "expiry": None, "parent": "G"}, "cache"]]
    assert out["files"] == ["authcache", "authlist"]


def test_damaged_files_read_empty_and_are_reported(tmp_path):
    out = run(tmp_path, "damaged_files_read_empty_and_are_reported")
    for k, r in out["list"].items():
        assert r == [False, True, 0, 0, 1], (k, r)
    assert out["logged"] == ["E", "E"]          # reported: an error about the file, each time
    assert out["good"] == [True, False, 2, 2, ["Blocked", "list"]]
    for k, r in out["cache"].items():
        assert r == [False, True, 2, 2, 0], (k, r)
    assert out["repair"] is True
    assert out["repaired"] == [True, False, 1, 2]


def test_unreadable_file_is_damaged_not_absent(tmp_path):
    """Only a missing file is an empty list; a file whose stat fails with another error
    (EIO from a failing flash) reads as empty, is damaged and is reported."""
    out = run(tmp_path, "unreadable_file_is_damaged_not_absent")
    assert out["eio"] == [False, True, 0, 0]
    assert out["fine"] == [False, 1]


def test_power_cut_at_every_write_point_of_send_local_list(tmp_path):
    out = run(tmp_path, "power_cut", timeout=60)
    for kind in ("Differential", "Full"):
        seen = out[kind]
        assert len(seen) > 5, seen
        assert seen[-1][1] == "Accepted" and all(s[1] == "cut" for s in seen[:-1]), seen
        assert all(s[2] == "mounted" and s[3] is True for s in seen), seen    # not damaged
        kinds = [s[4] for s in seen]
        assert set(kinds) <= {"old", "new"}, seen                  # never a mix
        first_new = kinds.index("new")
        assert first_new > 0 and set(kinds[:first_new]) == {"old"}, seen
        assert set(kinds[first_new:]) == {"new"}, seen
        # the cache is intact at every point (C0 is dropped from it only with the new list)
        assert all(s[6] == "cache" for s in seen), seen
        if kind == "Differential":
            assert all(s[5] == 2 for s in seen[:first_new]), seen
            # C0 is in the new list: never in the cache beside it, even when the cut came
            # between the list write and the cache write (load() leaves it out)
            assert all(s[5] == 1 for s in seen[first_new:]), seen


def test_failed_flash_write_keeps_old_list_and_cache(tmp_path):
    out = run(tmp_path, "failed_flash_write_keeps_old_list_and_cache")
    for r in out["failed"]:
        assert r == ["Failed", 1, 100, ["Accepted", "list"], [None, None]], out
    assert out["clear_failed"] is False and out["list_after_clear"] == [1, 100]
    assert out["reloaded"] == [True, 1, 100, ["Accepted", "list"], ["Accepted", "cache"]]
    assert out["ok_now"] == ["Accepted", 2, 1]


def test_heap_of_a_loaded_256_entry_list(tmp_path):
    out = run(tmp_path, "heap")
    h = out["heap"]
    print(json.dumps(h))
    for name, r in h.items():
        assert r["r"] == "Accepted" and r["count"] == 256, (name, r)
    # 64-bit unix port figures (32-byte GC blocks; about half on a 32-bit board)
    assert h["plain20"]["retained"] < 24 * 1024, h
    assert h["mixed20"]["retained"] < 24 * 1024, h      # letter case packs into the int
    assert h["rich36"]["retained"] < 48 * 1024, h      # 36-char ids, expiry, parent
    # a full list loads in a small heap (code precompiled, as on a board): no large
    # block is needed while loading
    mpy = tmp_path / "mpy"
    (mpy / "firmware" / "auth").mkdir(parents=True)
    cross = os.path.join(os.path.dirname(mp.MICROPYTHON), "mpy-cross")
    mods = [("firmware/%s.py" % m, "firmware/%s.mpy" % m)
            for m in ("auth/store", "auth/cache", "auth/records", "auth/locallist", "log")]
    for src, dst in mods + [("lib/store/__init__.py", "store.mpy")]:
        subprocess.run([cross, "-o", str(mpy / dst), os.path.join(mp.ROOT, src)], check=True)
    env = mp.env({"MICROPYPATH": str(mpy)})
    for name, heap in (("plain20", "40k"), ("rich36", "72k")):
        run(tmp_path, "make", name)
        p = subprocess.run([mp.MICROPYTHON, "-X", "heapsize=" + heap,
                            os.path.join(mp.MP_DIR, "auth_load.py"), str(tmp_path),
                            "0" if name == "rich36" else "1"],
                           capture_output=True, text=True, timeout=30, env=env, cwd=str(tmp_path))
        assert p.returncode == 0, (name, p.stderr)
        assert mp.reported(p) == {"n": [256, False]}, name

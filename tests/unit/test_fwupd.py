"""Firmware bundles and slots on the simulated flash (tests/mp/fwupd.py): a bundle made by
tools/fwupd/bundle.py is checked (whole; tampered; longer; signed; wrongly signed; signed
by a key no ManufacturerRootCertificate issued), installed into a slot and imported from
it (firmware.version says the bundle's version), committed; a trial that never commits
is taken back after its boots (lib/fwslot)."""
import base64
import json

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from tests import certs
from tests.mp import run_file
from tools.fwupd import bundle as B


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("fw")
    return B.build(str(d), "0.2.0", key_path=str(d / "key" / "dev-key.pem"))


def test_bundle_check_install_commit_rollback(built, tmp_path):
    other = certs.make_ca("Not the manufacturer")
    with open(built["path"], "rb") as f:
        data = f.read()
    spec = {"bundle": built["path"], "sig": built["sig"], "cert": built["cert"],
            "root": built["root"], "other_cert": other.cert_pem.decode(),
            "bad_sig": base64.b64encode(other.key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    r = run_file("fwupd", str(tmp_path / "flash.img"), str(tmp_path / "spec.json"), timeout=120)
    assert r["root"] == "Accepted"
    assert r["plain"] is None and r["signed"] is None
    assert r["tampered"] == "hash" and r["tampered_signed"] == "hash"
    assert r["longer"] == "size"
    assert r["bad_sig"] == "signature"
    assert r["untrusted"] == "certificate" and r["junk_cert"] == "certificate"
    assert r["before"] is None                       # nothing installed: the base firmware
    assert r["run"] == "a" and r["version"] == "0.2.0" == r["manifest"]
    assert r["from"].endswith("a/firmware/version.mpy")
    assert r["commit"] is True and r["active"] == "a" and r["result"] is None
    assert r["runs"] == ["b", "b", "b", "a"]         # 3 boots of the trial, then back
    after = r["after"]
    assert after["active"] == "a" and after["trial"] is None
    assert after["result"][:3] == ["rollback", "b", "0.2.0"]
    print("flash blocks (4 KiB) used: one slot + download %d, two slots + download %d"
          % (r["blocks_one_slot"], r["blocks_two_slots"]))


def test_bundle_layout(built):
    """The head, the manifest and the files as docs/firmware-update.md describes them."""
    with open(built["path"], "rb") as f:
        data = f.read()
    assert data[:5] == b"MEVB\x01"
    n = int.from_bytes(data[5:9], "big")
    m = json.loads(data[9:9 + n])
    assert m["version"] == "0.2.0"
    names = [e[0] for e in m["files"]]
    assert "firmware/main.mpy" in names and "lib/ws/client.mpy" in names
    assert "lib/fwslot/__init__.mpy" in names and "firmware/version.mpy" in names
    assert 9 + n + sum(e[1] for e in m["files"]) == len(data)


@pytest.mark.slow
def test_power_cut_at_the_writes_of_an_update(tmp_path):
    """A power cut at a flash write of an update (emptying the spare slot, the download,
    the install, the trial state) on a station running an update already (slot a): the
    next boot runs a whole firmware, the old one; the update run to its end boots the
    new one. Every 25th write point of the ~730 and each of the last 16 (the install's
    end: manifest, state), ~45 cuts."""
    old = B.build(str(tmp_path), "old", key_path=str(tmp_path / "k" / "dev-key.pem"),
                  name="old.bin")
    new = B.build(str(tmp_path), "new", key_path=str(tmp_path / "k" / "dev-key.pem"),
                  name="new.bin")
    r = run_file("fwupd_cuts", str(tmp_path), old["path"], new["path"], 25, 16, timeout=600)
    assert r["first"] == "old" and r["uncut"] == "new"
    assert r["bad"] == []
    assert r["cuts"] >= 40 and set(r["boots"]) == {"old"}
    print("update: %d flash writes; %d cuts, boots %r" % (r["writes"], r["cuts"], r["boots"]))


def test_update_record_malformed_ignored_and_cut_safe(tmp_path):
    """The firmware update's record on flash (firmware/update/record.py, tests/mp/
    fwupd_record.py): kept and read back; a malformed one (garbage, truncated, not an
    object, a field wrong, half a signature, over 8 KB, empty) is ignored with a log line
    and removed, never raised, and job.resume() at boot starts nothing from it; a record
    beside a trial (the install reached its commit point) is dropped; a job resumed a 4th
    time in one status gives up (not while it waits for its retrieveDateTime); a power cut
    at each write of a record over an older one leaves the old or the new."""
    r = run_file("fwupd_record", str(tmp_path / "flash.img"), timeout=60)
    assert r["none"] is None and r["kept"] is True and r["removed"] is True
    assert r["garbage"] and all(g == {"load": None, "left": False, "logged": True}
                                for g in r["garbage"].values()), r["garbage"]
    assert r["resume_garbage"] == [True, False]
    assert r["stale"] == [True, False]
    # resumed a 4th time in one status: given up, record and download removed
    assert r["give_up_dl"] == [[["FirmwareStatusNotification", "DownloadFailed", 7]],
                               False, None, False]
    assert r["give_up_install"] == [[["FirmwareStatusNotification", "InstallationFailed", 7]],
                                    False, None, False]
    # a boot while waiting for retrieveDateTime does not count: DownloadScheduled again
    assert r["waiting"] == [[["FirmwareStatusNotification", "DownloadScheduled", 7]],
                            True, 3, False]
    assert r["cuts"][-1] == "new" and set(r["cuts"][:-1]) == {"old"} and len(r["cuts"]) > 2

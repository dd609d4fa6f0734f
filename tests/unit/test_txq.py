"""firmware/ocpp/txq.py under MicroPython: the journal-full policy as the firmware lives
it (issue 4): intermediate samples are dropped first and the log says so; Start/Stop
are never dropped; when only undroppable messages fill it, put() refuses the new one,
says so in the log, and everything queued before stays, in order."""
from tests import mp


def test_journal_full_policy_and_log(tmp_path):
    out = mp.run_file("txq_full", tmp_path / "txq_test_j")
    n = len(out["starts"])
    # samples went first, then the journal refused new starts: the queued ones stay in order
    assert out["dropped"] > 0 and out["full"] > 0
    assert out["starts"] == ["T%d" % i for i in range(n)] and 0 < n < 150
    # the log lines are the behaviour here: issue 4's stated policy reports each loss
    # (samples dropped, a message refused) in the log, the station's only record of it
    assert "meter sample(s) dropped to make room" in out["droplog"][-1]
    assert "StartTransaction not queued" in "\n".join(out["log"])


def test_failed_flash_writes_are_retried_after_a_remount(tmp_path):
    """A failed flash write (EIO) inside put() or an ack: the journal has the board
    remount the file system (store.fault), the queue tries again, nothing is lost or
    duplicated."""
    out = mp.run_file("txq_eio", tmp_path / "f.img")
    assert all(out["put"]) and out["flash_errors"] == 0, out
    assert out["remounts"] >= 6         # (an armed failure may land in the next put)
    assert out["after"] == ["T%d" % i for i in range(4, 12)], out["after"]

"""OCTT 2.0.1 block J (meter values) cases not covered by test_status_meter.py (TC_J_01,
TC_J_09), on one station and one transaction: the Started event's Transaction.Begin
values (TC_J_07), the Ended event's clock-aligned (TC_J_03) and sampled (TC_J_10)
values kept over the transaction, and AlignedDataCtrlr.SendDuringIdle (TC_J_06)."""
from tests.integration.conftest import accepted, sent


def _set(link, *triples):
    res = link.call("SetVariables", {"setVariableData": [
        {"component": {"name": c}, "variable": {"name": v}, "attributeValue": x} for c, v, x in triples]})
    assert [r["attributeStatus"] for r in res["setVariableResult"]] == ["Accepted"] * len(triples), res


def _measurands(mv):
    return sorted(s.get("measurand", "Energy.Active.Import.Register") for s in mv["sampledValue"])


def test_TC_J_07_03_10_06_begin_end_and_idle_only_meter_values(csms, station):
    st = station("2.0.1")
    link = accepted(csms, st)
    _set(link, ("SampledDataCtrlr", "TxStartedMeasurands", "Energy.Active.Import.Register,Power.Active.Import"),
         ("SampledDataCtrlr", "TxUpdatedInterval", "1"),
         ("SampledDataCtrlr", "TxEndedInterval", "1"),
         ("SampledDataCtrlr", "TxEndedMeasurands", "Energy.Active.Import.Register,Current.Import"),
         ("AlignedDataCtrlr", "TxEndedInterval", "1"),
         ("AlignedDataCtrlr", "TxEndedMeasurands", "Energy.Active.Import.Register"),
         ("AlignedDataCtrlr", "Interval", "1"),
         ("AlignedDataCtrlr", "SendDuringIdle", "true"))
    # TC_J_06: idle: clock-aligned MeterValues
    link.wait_for("MeterValues", lambda p: p["evseId"] == 1, timeout=10)
    st.cmd("plug 1")
    started = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Started", timeout=15)
    # TC_J_07: the Started event carries TxStartedMeasurands, context Transaction.Begin
    mv = started["meterValue"]
    assert {s["context"] for m in mv for s in m["sampledValue"]} == {"Transaction.Begin"}
    assert _measurands(mv[0]) == ["Energy.Active.Import.Register", "Power.Active.Import"]
    # let the transaction run over a few TxEndedInterval slots (periodic updates, 1 s apart)
    periodic = lambda: [p for p in sent(link, "TransactionEvent") if p["triggerReason"] == "MeterValuePeriodic"]
    link.wait_for("TransactionEvent", lambda p: len(periodic()) >= 3, timeout=20)
    n = len(link.received)
    st.cmd("unplug 1")
    ended = link.wait_for("TransactionEvent", lambda p: p["eventType"] == "Ended", after=n, timeout=15)
    mv = ended["meterValue"]
    clock = [m for m in mv if m["sampledValue"][0]["context"] == "Sample.Clock"]
    sampled = [m for m in mv if m["sampledValue"][0]["context"] == "Sample.Periodic"]
    end = [m for m in mv if m["sampledValue"][0]["context"] == "Transaction.End"]
    # TC_J_03: clock-aligned TxEndedMeasurands, one element per slot, in time order
    assert clock and all(_measurands(m) == ["Energy.Active.Import.Register"] for m in clock)
    stamps = [m["timestamp"] for m in clock]
    assert stamps == sorted(set(stamps))
    # TC_J_10: sampled TxEndedMeasurands per TxEndedInterval, and one Transaction.End
    want = sorted(["Energy.Active.Import.Register"] + ["Current.Import"] *
                  len([s for s in end[0]["sampledValue"] if s.get("measurand") == "Current.Import"]))
    assert sampled and all("Current.Import" in _measurands(m) for m in sampled)
    assert len(end) == 1 and _measurands(end[0]) == want
    stamps = [m["timestamp"] for m in sampled]
    assert stamps == sorted(set(stamps))
    # TC_J_06: no clock-aligned values at all while the transaction ran
    during = link.received[[p for a, p in link.received].index(started):n]
    assert not [p for a, p in during if a == "MeterValues"]
    assert not [p for a, p in during if a == "TransactionEvent" and p["triggerReason"] == "MeterValueClock"]
    # ... and again once idle
    link.wait_for("MeterValues", lambda p: p["evseId"] == 1, after=n, timeout=10)

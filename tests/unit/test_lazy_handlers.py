"""Handlers loaded per call (firmware.memory.call, the modules named in the adapters' ROUTES): the module and
everything the call loaded are gone after it, whether it returned or raised, while
modules loaded before stay; a task the handler started still runs after the unload. And
the adapters as booted hold none of the rare handlers' modules (certificates, signing,
network profile changes, the 2.0.1 device model's Get/SetVariables and reports). The
programs: tests/mp/lazy_call.py (with probe_mod.py), preload.py, ws_unload.py."""
import socket

from tests import mp


def test_rare_handlers_are_loaded_per_call_and_dropped(tmp_path):
    out = mp.run_file("lazy_call")
    assert out["result"] == [5, "x509"]
    assert out["after"] == ["firmware.log"]
    assert out["raised"] == "bad input" and out["after_raise"] == []
    assert out["task"] == ["started", "x509"]
    assert out["loaded"] == []                  # importing both adapters loads none of them
    # the modules the routing tables load per call (each branch adds its own): a few that
    # must be there, and none of them loaded by importing the adapters (above)
    assert {"firmware.ocpp.datatransfer", "firmware.ocpp.diag",
            "firmware.ocpp.sign", "firmware.ocpp.v16.certs", "firmware.ocpp.v16.config",
            "firmware.ocpp.v16.firmware", "firmware.ocpp.v16.reserve",
            "firmware.ocpp.v16.smart"} <= set(out["lazy16"])
    assert {"firmware.ocpp.datatransfer", "firmware.ocpp.diag",
            "firmware.ocpp.sign", "firmware.ocpp.v201.certs", "firmware.ocpp.v201.firmware",
            "firmware.ocpp.v201.network", "firmware.ocpp.v201.reserve",
            "firmware.ocpp.v201.variables", "firmware.ocpp.v201.smart"} <= set(out["lazy201"])


def test_preload_leaves_the_adapter_and_drops_the_handlers_it_named():
    """firmware.main.preload: the collector runs after every quarter of the heap
    allocated, the log ring is made first (3 KB in one piece, easy to find in a fresh heap
    only), the adapter's modules stay loaded; the per-call handlers it loads for their
    names (PRELOAD_NAMES) are dropped again."""
    for version, adapter in (("1.6", "firmware.ocpp.v16.core"), ("2.0.1", "firmware.ocpp.v201.core")):
        out = mp.run_file("preload", version)
        assert out["ring"] == [True, 3072, []]
        assert out["gc"][1] - 64 < out["gc"][0] <= out["gc"][1]   # 1/4 of the heap, in blocks
        assert adapter in out["left"]
        assert out["preload"] and not set(out["preload"]) & set(out["left"])


def test_ws_connect_unloads_its_handshake_code():
    """lib/ws: connect() loads ws.handshake (and ws.sha1) for the attempt and unloads them
    after it, unless they were loaded before it."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    out = mp.run_file("ws_unload", port)
    assert out["failed"] in ("WSError", "OSError")
    assert out["after"] == ["ws", "ws.client"]
    assert out["kept"] is True


def test_tls_room_is_held_until_the_wrap_that_fills_it():
    """firmware.memory's TLS room: tls_room(True) holds two pieces (mbedTLS's input record
    buffer and the rest a wrap allocates), once; TlsRoom(ctx) frees them at the wrap (a
    real tls.SSLContext, a real socket); held again after the link closed; tls_room(False)
    gives the heap back."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    try:
        out = mp.run_file("tls_room", srv.getsockname()[1])
    finally:
        srv.close()
    assert out["held"] == 2 and out["twice"] == 2 and out["again"] == 2
    assert out["bytes"] >= 16736 + 6048
    assert out["at_wrap"] == 0 and out["freed"] == 0
    assert out["same_mode"] and out["back"] > 16736 + 4096   # both pieces

"""The setup page (boards/common/setup.py) on loopback, for tests/unit/test_net.py: srv
serves CONFIG on PORT until the test has made its requests; srv2 follows a fake AP
(follow()): off, on for 3 s, off.

argv: CONFIG PORT PORT2"""
import asyncio
import sys
import time

from boards.common.setup import SetupServer, merge, unquote  # noqa: F401
from out import report

CONFIG, PORT, PORT2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = {"unquote": [unquote("My+Net%21%C3%A9"), unquote("100%"), unquote("%zz")]}
saved = []
srv = SetupServer(CONFIG, lambda: saved.append(time.ticks_ms()), port=PORT)


class FakeWifi:
    def ap_ip(self):
        return "127.0.0.1"


class FakeNet:
    ap_on = False
    wifi = FakeWifi()


net = FakeNet()
srv2 = SetupServer(CONFIG, None, port=PORT2)


async def main():
    await srv.start("127.0.0.1")
    f = asyncio.create_task(srv2.follow(net, 50))
    await asyncio.sleep_ms(200)
    out["follow_off"] = srv2.running
    net.ap_on = True
    await asyncio.sleep_ms(200)
    out["follow_on"] = srv2.running
    await asyncio.sleep_ms(3000)
    net.ap_on = False
    await asyncio.sleep_ms(200)
    out["follow_after"] = srv2.running
    f.cancel()
    await asyncio.sleep_ms(2000)
    out["saves"] = srv.saves
    out["saved"] = len(saved)
    await srv.stop()


asyncio.run(main())
report(out)

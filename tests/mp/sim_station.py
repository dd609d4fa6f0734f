"""A stand-in firmware on the simulated board (tests/unit/test_sim.py): a safety tick
(PWM 32 A in B, relay closed in C, open otherwise and on RCD), an asyncio loop that serves
the control channel's inputs, reads the meter, locks, publishes; a run counter on the
flash image. argv: CONTROL_PORT FLASH_IMAGE."""
import array
import asyncio
import sys
import time

import store
from boards.sim.board import SimBoard
port, img = int(sys.argv[-2]), sys.argv[-1]
b = SimBoard(1, flash_path=img, control=('127.0.0.1', port))
b.flash_mount('/flash')
store.cleanup('/flash')
runs = store.load_json('/flash/runs.json', 0)[0] + 1
store.save_json('/flash/runs.json', runs)
b.start()
buf = array.array('i', (0, 0))


def tick():
    hi = b.pilot[0].sample(buf)[0]
    if hi > 10500:
        b.pilot[0].x1(); b.relay[0].set(False)
    elif hi > 7500 or b.rcd[0].tripped() or hi < 4500:
        if hi > 7500:
            b.pilot[0].pwm(533)
        b.relay[0].set(False)
    else:
        b.relay[0].set(True)


async def main():
    n = 0
    while True:
        n += 1
        for ev in b.inputs():
            if ev[0] == 'stall':
                b.publish(0, stalled=n)         # this round's number: `session` stays below it
                time.sleep_ms(ev[1])
            elif ev[2] == 'QUIT':
                return
            else:
                b.publish(ev[1], tx_id=ev[2])
        try:
            wh, w, v, a = await b.meter[0].read()
            err = None
        except OSError as e:
            err = 'meter %d' % e.errno
        hi = b.pilot[0].sample(buf)[0]
        b.lock[0].set(0 < hi < 10500)
        b.publish(0, session=n, error_code=err, ocpp_status='Occupied' if hi < 10500 else 'Available')
        b.publish(-1, connected=True, registration='Accepted', ocpp='stand-in')
        await asyncio.sleep_ms(20)


b.start_tick(tick, 10)
try:
    asyncio.run(main())
finally:
    b.stop()
print('RUNS', runs, b.flash_state)

"""The smoke call of a lib package installed with mip (tests/unit/test_mip.py): every module
of the package imports from the install directory (SITE), then a call of the package
runs. The test runs it with only .frozen and SITE on the path.

argv: PKG DATA — DATA a JSON file: {"site": SITE, "modules": [...], "der": hex (x509)}"""
import json
import sys

from out import report

PKG = sys.argv[1]
with open(sys.argv[2]) as f:
    DATA = json.load(f)


def smoke_ws():
    import ws
    from ws import client, handshake
    buf = bytearray(19)
    n = client._head(buf, 1, 5, b'\x37\xfa\x21\x3d')
    buf[n:n + 5] = b'Hello'
    client._mask(memoryview(buf)[n:n + 5], b'\x37\xfa\x21\x3d')
    out = {'quote': ws.quote('CP 1/\u00e4'), 'split': list(handshake.split('wss://csms:8443/ocpp')),
           'frame': bytes(buf[:n + 5]).hex()}
    return out


def smoke_ocppj():
    import asyncio, ocppj
    sent = []
    class Link:
        def __init__(self, msgs):
            self.msgs = msgs
        async def recv(self):
            if not self.msgs:
                raise OSError('closed')
            return self.msgs.pop(0)
        async def send(self, s):
            sent.append(s)
    async def handler(action, payload):
        if action == 'Heartbeat':
            return {'currentTime': '2025-01-01T00:00:00Z'}
        raise ocppj.CallError('NotSupported', 'no ' + action)
    async def main():
        rpc = ocppj.Rpc('1.6', handler, rand=lambda: 1)
        await rpc.serve(Link(['[2,"a","Heartbeat",{}]', '[2,"b","Reset",{}]']))
        for _ in range(10):
            await asyncio.sleep_ms(0)
    asyncio.run(main())
    out = {'sent': sent}
    return out


def smoke_store():
    import os, store
    from store.journal import Journal
    d = 'flash'
    os.mkdir(d)
    store.save_json(d + '/cfg.json', {'a': 1})
    open(d + '/x.json.tmp', 'w').close()
    removed = store.cleanup(d)
    j = Journal(d + '/j.log', max_bytes=4096, max_records=8)
    j.open()
    r1 = j.append({'m': 1})
    r2 = j.append({'m': 2})
    j.ack(r1)
    j = Journal(d + '/j.log', max_bytes=4096, max_records=8)
    info = j.open()
    out = {'cfg': store.load_json(d + '/cfg.json'), 'removed': removed,
           'pending': [list(p) for p in j.pending()], 'records': info['records']}
    return out


def smoke_modbus():
    import asyncio, io, struct, modbus
    from modbus import crc16, decode
    class Port(io.IOBase):
        # one SDM-style answer: 2 registers holding the float 230.0
        def __init__(self):
            self.rx = b''
            self.sent = []
        def write(self, b):
            self.sent.append(bytes(b))
            body = bytes([b[0], b[1], 4]) + struct.pack('>f', 230.0)
            c = crc16(body)
            self.rx = body + bytes([c & 255, c >> 8])
            return len(b)
        def ioctl(self, req, arg):
            if req == 3:
                return (arg & 1 if self.rx else 0) | (arg & 4)
            return -1
        def readinto(self, buf):
            if not self.rx:
                return None
            n = min(len(buf), len(self.rx))
            buf[:n] = self.rx[:n]
            self.rx = self.rx[n:]
            return n
    async def main():
        p = Port()
        m = modbus.Master(p, baud=9600, timeout_ms=200)
        regs = await m.read_input(1, 0, 2)
        return decode.f32(regs, 0), p.sent[0].hex()
    v, req = asyncio.run(main())
    out = {'crc': crc16(b'123456789'), 'volts': v, 'request': req}
    return out


def smoke_x509():
    import binascii, x509
    der = binascii.unhexlify(DATA['der'])
    c = x509.load(der)
    h = x509.hash_data(c)
    out = {'cn': c.cn, 'ca': x509.is_ca(c), 'hash': sorted(h), 'alg': h['hashAlgorithm'],
           'pem': x509.pem_to_der(x509.der_to_pem(der)) == [der]}
    return out


def smoke_httpc():
    import httpc
    return {'err': str(httpc.HTTPError(404, 'GET /fw.bin')), 'net': str(httpc.HTTPError(0, 'timeout'))}


def main():
    site = DATA["site"]
    for name in DATA["modules"]:
        m = __import__(name, None, None, ["x"])
        if not m.__file__.startswith(site):
            raise ImportError(name + " from " + m.__file__)
    fn = globals().get("smoke_" + PKG)
    report(fn() if fn else {})


main()

// A Modbus RTU energy meter with the Eastron SDM630 v2 input-register map (f32 big-endian:
// 0x00/0x02/0x04 V L1-L3, 0x06/0x08/0x0A A L1-L3, 0x34 total W, 0x48 import kWh) on an
// emulated RP2040 UART. Requests are the 8-byte FC 03/04 frames the firmware's master
// sends; the answer goes back byte by byte at the line's rate (10 bits per byte), after
// the 3.5-character silence. A silenced meter (fault) answers nothing.

function crc16(bytes) {
  let crc = 0xffff;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export class Sdm630 {
  // uart: rp2040js RPUART; clock: its clock; unit: Modbus address; values(): the live
  // readings {v: [3], a: [3], w, kwh}
  constructor(uart, clock, unit, values, baud = 9600) {
    this.uart = uart;
    this.unit = unit;
    this.values = values;
    this.byteNs = Math.round(10e9 / baud);
    this.silent = false;
    this.rxbuf = [];
    this.txq = [];
    this.requests = 0;
    this.answers = 0;
    this.lastRx = 0;
    this.clock = clock;
    this.txAlarm = clock.createAlarm(() => this.sendNext());
    uart.onByte = (b) => this.onByte(b);
  }

  onByte(b) {
    const now = this.clock.nanos;
    if (now - this.lastRx > 4 * this.byteNs) this.rxbuf = [];    // a silence: new frame
    this.lastRx = now;
    const buf = this.rxbuf;
    buf.push(b);
    if (buf.length > 8) buf.shift();
    if (buf.length === 8) {
      const crc = crc16(buf.slice(0, 6));
      if (buf[6] === (crc & 0xff) && buf[7] === crc >> 8) {
        const req = buf.slice();
        this.rxbuf = [];
        this.request(req);
      }
    }
  }

  request(req) {
    const [unit, fc] = req;
    if (unit !== this.unit || this.silent) return;
    this.requests++;
    const addr = (req[2] << 8) | req[3], count = (req[4] << 8) | req[5];
    let body;
    if ((fc !== 3 && fc !== 4) || count < 1 || count > 125) {
      body = [unit, fc | 0x80, 0x01];
    } else {
      const regs = this.registers();
      body = [unit, fc, 2 * count];
      for (let r = addr; r < addr + count; r++) {
        const v = regs.get(r) ?? 0;
        body.push(v >> 8, v & 0xff);
      }
    }
    const crc = crc16(body);
    body.push(crc & 0xff, crc >> 8);
    this.answers++;
    this.txq = body;
    this.txAlarm.schedule(4 * this.byteNs);
  }

  sendNext() {
    if (!this.txq.length || this.silent) { this.txq = []; return; }
    this.uart.feedByte(this.txq.shift());
    if (this.txq.length) this.txAlarm.schedule(this.byteNs);
  }

  registers() {
    const m = this.values();
    const regs = new Map();
    const f32 = (r, x) => {
      const dv = new DataView(new ArrayBuffer(4));
      dv.setFloat32(0, x, false);
      regs.set(r, dv.getUint16(0, false));
      regs.set(r + 1, dv.getUint16(2, false));
    };
    for (let i = 0; i < 3; i++) {
      f32(2 * i, m.v[i]);
      f32(6 + 2 * i, m.a[i]);
    }
    f32(0x34, m.w);
    f32(0x48, m.kwh);
    return regs;
  }
}

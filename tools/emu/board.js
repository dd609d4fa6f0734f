// The charger around the emulated RP2040, wired by the board's own data (pins.py as JSON:
// tools/emu/pins.py): the EV on the control pilot (the ADC sample follows the PWM GPIO
// level at the moment of each read, through the board's divider), the relay's contacts
// and feedback contact (weld: closed stays closed), the lock motor and its switch, the
// RCD output, the die temperature, the button and the Modbus meter's physics. The world
// outlives the chip: a reboot or power cut keeps the EV, the faults and the meter's
// energy, as a real one would.
import { Sdm630 } from './meter.js';

export const FAULTS = ['rcd', 'weld', 'lock', 'meter', 'diode', 'overtemp'];
const CP_V = { A: 12, B: 9, C: 6, D: 3, E: 0 };
const PHASES = 3, VOLTS = 230;
const LOCK_MOVE_NS = 30e6;           // the lock motor's travel
const EV_DELAY_NS = 200e6;           // the EV answers a valid offer (B -> C) after this
const STEADY_NS = 3e6;               // no PWM edge for this long: a steady level
const TEMP_C = 25, TEMP_HOT_C = 85;

export function offerA(duty) {
  // IEC 61851-1 Table A.8: duty (%) -> amps; 0 outside 8-97 %
  if (duty >= 8 && duty < 10) return 6;
  if (duty >= 10 && duty <= 85) return duty * 0.6;
  if (duty > 85 && duty <= 96) return (duty - 64) * 2.5;
  if (duty > 96 && duty <= 97) return 80;
  return 0;
}

// rp2040js 1.4.1 raises the UART's TX interrupt on every check, also right after the
// firmware cleared it: MicroPython's handler (TX interrupt kept enabled) then runs without
// end. On the chip it is raised as the TX FIFO drains past its level: here, once per
// byte sent (bytes leave at once), and it stays clear once cleared.
const UART_TXINTR = 1 << 5, UARTDR = 0;
export function fixUartTxInterrupt(u) {
  u.checkInterrupts = function () {
    this.rp2040.setInterrupt(this.irq, !!(this.interruptStatus & this.interruptMask));
  };
  const write = u.writeUint32.bind(u);
  u.writeUint32 = function (offset, value) {
    write(offset, value);
    if (offset === UARTDR) {
      this.interruptStatus |= UART_TXINTR;
      this.checkInterrupts();
    }
  };
}

class Evse {
  constructor(pins) {
    this.p = pins;
    this.plugged = false;
    this.manual = null;          // a letter held by `ev N X`, or null: the EV model
    this.cp = 'A';
    this.tValid = -1;
    this.maxA = 16;
    this.force = false;
    this.faults = new Set();
    this.contacts = false;
    this.coil = false;
    this.lockSw = false;
    this.lockTarget = null;      // [state, at ns]
    this.energyWh = 0;
    this.amps = 0;
    this.lastFault = null;
    this.faultT = -1;            // ns of the injection while the relay was closed
    this.faultMs = null;
    this.opens = 0;
    this.closes = [];
    this.cpT = 0;                // ns of the EV's last pilot state change
    this.evToOpenMs = null;      // from it to the relay opening, when the relay opened
    this.pwm = { rise: -1, fall: -1, period: 0, high: 0, level: false, edge: -1 };
  }
}

export class World {
  constructor(pins, now) {
    this.pins = pins;
    this.now = now;                            // () -> emulated ns (monotonic across boots)
    this.evses = pins.EVSE.map((p) => new Evse(p));
    this.buttonDown = false;
    this.meter = null;
    this.burst = { n: 0, t0: 0, last: -1, reads: [], spans: [], gapNs: 200e3 };
    const [r1, r2, r3] = pins.PILOT_R;
    this.div = { g1: 1 / r1, g2: 1 / r2, g3: 1 / r3, vref: pins.VREF_MV / 1000 };
  }

  // ------------------------------------------------------------ the chip
  attach(mcu) {
    this.mcu = mcu;
    const p = this.pins;
    this.evses.forEach((e, i) => {
      const ep = e.p;
      e.pwm = { rise: -1, fall: -1, period: 0, high: 0, level: false, edge: -1 };
      const cp = mcu.gpio[ep.pilot_pwm];
      cp.addListener(() => this.pilotEdge(e, cp.outputValue));
      const relay = mcu.gpio[ep.relay];
      relay.addListener(() => this.coil(e, relay.outputValue));
      e.coil = false;
      if (!e.faults.has('weld')) e.contacts = false;
      if (ep.lock_a != null) {
        const a = mcu.gpio[ep.lock_a], b = mcu.gpio[ep.lock_b];
        const motor = () => this.lockMotor(e, a.outputValue, b.outputValue);
        a.addListener(motor);
        b.addListener(motor);
      }
    });
    const adc = mcu.adc;
    const read = adc.onADCRead;
    const chans = Object.fromEntries(this.evses.map((e, i) => [e.p.pilot_adc - 26, e]));
    adc.onADCRead = (ch) => {
      const e = chans[ch];
      if (e) {
        adc.channelValues[ch] = this.pilotCounts(e);
        this.sampled();
      } else if (ch === 4) {
        adc.channelValues[4] = this.tempCounts();
      }
      read(ch);
    };
    for (const u of mcu.uart) fixUartTxInterrupt(u);
    const m = p.METER;
    if (m && p.STATION.meter_tx != null) {
      const old = this.meter;
      this.meter = new Sdm630(mcu.uart[m.uart], mcu.clock, this.evses[0].p.meter_unit,
        () => this.meterValues(0), m.baud);
      if (old) { this.meter.requests = old.requests; this.meter.answers = old.answers; }
      this.meter.silent = this.evses[0].faults.has('meter');
    }
    this.inputs();
  }

  // inputs the chip reads, from the world's state
  inputs() {
    const mcu = this.mcu, p = this.pins;
    if (!mcu) return;
    for (const e of this.evses) {
      const ep = e.p;
      if (ep.relay_feedback != null)
        mcu.gpio[ep.relay_feedback].setInputValue(e.contacts === !!p.RELAY_FEEDBACK_ACTIVE);
      if (ep.lock_feedback != null)
        mcu.gpio[ep.lock_feedback].setInputValue(e.lockSw === !!p.LOCK_FEEDBACK_ACTIVE);
      if (ep.rcd != null)
        mcu.gpio[ep.rcd].setInputValue(e.faults.has('rcd') === !!p.RCD_ACTIVE);
    }
    if (p.STATION.button != null) mcu.gpio[p.STATION.button].setInputValue(!this.buttonDown);
  }

  pilotEdge(e, level) {
    const t = this.now(), w = e.pwm;
    if (level === w.level) return;
    if (w.edge >= 0 && t - w.edge > STEADY_NS) {    // a PWM starting after a steady level:
      w.rise = -1;                                 // no period until a full one is seen
      w.period = 0;
    }
    w.level = level;
    w.edge = t;
    if (level) {
      if (w.rise >= 0) w.period = t - w.rise;
      w.rise = t;
    } else if (w.rise >= 0) {
      w.high = t - w.rise;
      w.fall = t;
    }
  }

  coil(e, on) {
    if (on === e.coil) return;
    e.coil = on;
    if (on) {
      e.contacts = true;
      e.closes.push(e.cp);               // the EV's state each time the relay closed
      if (e.closes.length > 32) e.closes.shift();
    } else {
      e.opens++;
      e.evToOpenMs = (this.now() - e.cpT) / 1e6;
      if (e.faultT >= 0) {
        e.faultMs = (this.now() - e.faultT) / 1e6;
        e.faultT = -1;
      }
      if (!e.faults.has('weld')) e.contacts = false;
    }
    this.inputs();
  }

  lockMotor(e, a, b) {
    if (e.faults.has('lock')) return;          // a broken actuator does not move
    if (a && !b) e.lockTarget = [true, this.now() + LOCK_MOVE_NS];
    else if (b && !a) e.lockTarget = [false, this.now() + LOCK_MOVE_NS];
  }

  // duty (%) as the EV sees it: the last full period, or a steady level
  duty(e) {
    const w = e.pwm;
    if (w.edge < 0 || this.now() - w.edge > STEADY_NS || w.period <= 0)
      return (this.mcu && this.mcu.gpio[e.p.pilot_pwm].outputValue) ? 100 : 0;
    return Math.round((1000 * w.high) / w.period) / 10;
  }

  levels(e) {
    // pilot high and low levels (V): the EVSE's +12 V through the EV's resistors; the
    // negative half -12 V, blocked by the EV's diode (a missing diode loads it too)
    const d = this.duty(e);
    if (d === 0) return [-12, -12];
    if (e.cp === 'E') return [0, 0];
    const hi = CP_V[e.cp];
    const lo = e.cp !== 'A' && e.faults.has('diode') ? -hi : -12;
    return [hi, lo];
  }

  pilotCounts(e) {
    const level = this.mcu.gpio[e.p.pilot_pwm].outputValue;
    const [hi, lo] = this.levels(e);
    const v = level ? hi : lo;
    const d = this.div;
    const vadc = (v * d.g1 + d.vref * d.g2) / (d.g1 + d.g2 + d.g3);
    return Math.max(0, Math.min(4095, Math.round((vadc / d.vref) * 4095)));
  }

  sampled() {
    // bursts of pilot reads (the safety tick's): count and span, split by a silence
    const b = this.burst, t = this.now();
    if (b.last < 0 || t - b.last > b.gapNs) {
      if (b.n) {
        b.reads.push(b.n);
        b.spans.push(b.last - b.t0);
        if (b.reads.length > 4096) { b.reads.shift(); b.spans.shift(); }
      }
      b.n = 0;
      b.t0 = t;
      if (this.onBurst) this.onBurst(t);
    }
    b.n++;
    b.last = t;
  }

  tempC() {
    const e = this.evses[0];
    return e.faults.has('overtemp') ? TEMP_HOT_C : TEMP_C + e.amps / 10;
  }

  tempCounts() {
    const v = 0.706 - (this.tempC() - 27) * 0.001721;      // RP2040 datasheet 4.9.5
    return Math.max(0, Math.min(4095, Math.round((v / this.div.vref) * 4095)));
  }

  meterValues(i) {
    const e = this.evses[i];
    const a = e.amps;
    return { v: [VOLTS, VOLTS, VOLTS], a: [a, a, a], w: PHASES * VOLTS * a, kwh: e.energyWh / 1000 };
  }

  // ------------------------------------------------------------ physics, every step
  step(dtNs) {
    const t = this.now();
    for (const e of this.evses) {
      if (e.lockTarget && t >= e.lockTarget[1]) {
        e.lockSw = e.lockTarget[0];
        e.lockTarget = null;
      }
      const cp = this.evState(e, t);
      if (cp !== e.cp) { e.cp = cp; e.cpT = t; }
      let a = 0;
      if (e.contacts && (e.cp === 'C' || e.cp === 'D') && !e.faults.has('rcd')) {
        const off = offerA(this.duty(e));
        a = e.force || off > e.maxA ? e.maxA : off;
      }
      e.amps = a;
      e.energyWh += (PHASES * VOLTS * a * dtNs) / 3.6e12;
    }
    this.inputs();
  }

  evState(e, t) {
    if (!e.plugged) return 'A';
    if (e.manual) return e.manual;
    if (!offerA(this.duty(e))) { e.tValid = -1; return 'B'; }
    if (e.tValid < 0) e.tValid = t;
    return t - e.tValid >= EV_DELAY_NS ? 'C' : 'B';
  }

  // ------------------------------------------------------------ commands
  plug(i) { const e = this.evses[i]; e.plugged = true; e.manual = null; e.tValid = -1; this.step(0); }
  unplug(i) { const e = this.evses[i]; e.plugged = false; e.manual = null; this.step(0); }
  setEv(i, s) {
    const e = this.evses[i];
    if (s === 'AUTO') { e.manual = null; e.tValid = -1; }
    else { if (s !== 'A') e.plugged = true; e.manual = s; }
    this.step(0);
  }
  draw(i, a, force) { this.evses[i].maxA = a; this.evses[i].force = force; }
  fault(i, kind) {
    const e = this.evses[i];
    e.faults.add(kind);
    e.lastFault = kind;
    e.faultMs = null;
    e.faultT = e.coil ? this.now() : -1;
    if (kind === 'meter' && i === 0 && this.meter) this.meter.silent = true;
    this.step(0);
  }
  clear(i, kind) {
    const e = this.evses[i];
    e.faults.delete(kind);
    if (kind === 'meter' && i === 0 && this.meter) this.meter.silent = false;
    if (kind === 'weld' && !e.coil) e.contacts = false;
    this.step(0);
  }

  status(i) {
    const e = this.evses[i];
    const d = this.duty(e);
    const [hi, lo] = this.levels(e);
    // 'pwm' once a full period was seen (before, offered_a would read 0 A for a moment)
    const w = e.pwm;
    const mode = w.edge >= 0 && this.now() - w.edge <= STEADY_NS && w.period > 0 ? 'pwm' : d ? 'x1' : 'f';
    return {
      pilot: mode === 'f' ? 'F' : e.cp,
      pilot_mv: [hi * 1000, lo * 1000],
      pwm: mode,
      duty: d,
      offered_a: mode === 'pwm' ? Math.round(offerA(d) * 10) / 10 : 0,
      relay: e.coil,
      contacts: e.contacts,
      lock: e.lockSw,
      plugged: e.plugged,
      ev: e.cp,
      ev_max_a: e.maxA,
      energy_wh: Math.round(e.energyWh * 100) / 100,
      power_w: PHASES * VOLTS * e.amps,
      current_a: e.amps,
      temp_c: this.tempC(),
      faults: FAULTS.filter((f) => e.faults.has(f)),
      last_fault: e.lastFault,
      fault_pending: e.faultT >= 0,
      fault_to_open_ms: e.faultMs,
      relay_closed_in: e.closes,
      relay_opens: e.opens,
      ev_to_open_ms: e.evToOpenMs,
    };
  }
}

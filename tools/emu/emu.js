#!/usr/bin/env node
// The emulated Pico: MicroEVSE's RPI_PICO image on rp2040js, wired as a charger by the
// board's data (board.js), with a SPI-NOR flash that persists (flash.js), a USB host that
// NAKs idle reads, the USB-CDC REPL on a TCP port, and the simulator's control channel.
//
//   node tools/emu/emu.js --image build/image/RPI_PICO/firmware.bin --flash F.img
//        [--control 127.0.0.1:7101] [--repl 127.0.0.1:7102] [--board rp2_pico_w]
//        [--config station.json] [--realtime] [--watch] [--busy-usb-ms MS] [--no-provision]
//        [--provision-only] [--console] [--trace-flash]
//
// --no-provision: a fresh flash is left as it is (nothing written over the raw REPL), e.g.
// for an image that does not reach the station's boot line (the Pico W's: tools/bench/emubench.py).
// --provision-only: provision a fresh flash, then exit (a template for tests to copy).
// --console: the console's lines (not the @P status) on stdout, with the emulated ms;
// --trace-flash: each flash program/erase among them (where power cuts can fall).
//
// Control channel (TCP, one command per line, one JSON object per reply line), as the
// simulator's (boards/sim/control.py): status, plug N, unplug N, ev N A|B|C|D|E|auto,
// draw N AMPS [force], tag N ID, fault N KIND [between-ticks], clear N KIND, stall MS,
// cut N [program|erase] (the N-th next flash write, of that kind), log [N],
// help; and for the emulator: wait MS (replies after MS of emulated time), button MS,
// bursts [reset] (the safety tick's pilot-read bursts), ctrlc-tick [raw] (a Ctrl-C delivered as
// the next safety tick starts; raw: followed by "\r\x01" in the same packet, as mpremote
// enters the raw REPL), reset (power cycle), quit.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RP2040, USBCDC, ConsoleLogger, LogLevel } from 'rp2040js';
import { NorFlash, SSI, IOQSPI, FLASH_BYTES } from './flash.js';
import { World, FAULTS } from './board.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CYCLE_NS = 8;                        // 125 MHz
const SLICE_NS = 1e6;                      // the world steps every emulated ms
const CONSOLE_LINES = 400;
const PACE_SLACK_MS = 20;                  // ahead(): how far emulated time may catch up
const TIMER_IRQS = 4;                     // TIMER_IRQ_0..3 (2: MicroPython's soft timers, 3: its waits)
const BOOTROM_SHA256 = '90b31e108faedfa6bbcfcc33ba05dac61e645108cfbbdc385f8dafc71fde44ae';

function parseArgs(argv) {
  const o = { board: 'rp2_pico_w', control: '127.0.0.1:7101', repl: '127.0.0.1:7102',
    config: path.join(HERE, 'station.json'), realtime: false, watch: false, busyUsbMs: 0 };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (['realtime', 'watch', 'noProvision', 'provisionOnly', 'console', 'traceFlash'].includes(k)) o[k] = true;
    else o[k] = argv[++i];
  }
  o.busyUsbMs = Number(o.busyUsbMs) || 0;
  return o;
}

function bootrom() {
  const f = path.join(ROOT, '..', 'shared', 'third_party', 'rp2040-bootrom-b1.bin');
  const cached = path.join(ROOT, 'build', 'emu', 'rp2040-bootrom-b1.bin');
  for (const p of [process.env.RP2040_BOOTROM, f, cached]) {
    if (p && fs.existsSync(p)) {
      const b = fs.readFileSync(p);
      const sha = crypto.createHash('sha256').update(b).digest('hex');
      if (sha !== BOOTROM_SHA256) throw new Error(`bootrom ${p}: SHA-256 ${sha}, expected ${BOOTROM_SHA256}`);
      return new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
    }
  }
  throw new Error('no RP2040 bootrom: python3 tools/emu/bootrom.py fetches it (make emu-deps)');
}

function loadImage(file) {
  const data = fs.readFileSync(file);
  if (file.endsWith('.bin')) return data;
  if (file.endsWith('.uf2')) {              // UF2: 512-byte blocks, 256 bytes of payload
    const out = Buffer.alloc(FLASH_BYTES, 0xff);
    let top = 0;
    for (let o = 0; o + 512 <= data.length; o += 512) {
      const addr = data.readUInt32LE(o + 12) - 0x10000000, n = data.readUInt32LE(o + 16);
      data.copy(out, addr, o + 32, o + 32 + n);
      top = Math.max(top, addr + n);
    }
    return out.subarray(0, top);
  }
  throw new Error('image must be .bin or .uf2: ' + file);
}

class Emulator {
  constructor(o) {
    this.o = o;
    this.pins = JSON.parse(execFileSync('python3', [path.join(HERE, 'pins.py'), o.board]));
    this.image = loadImage(o.image);
    this.rom = bootrom();
    this.flash = Buffer.alloc(FLASH_BYTES, 0xff);
    this.fresh = !fs.existsSync(o.flash);
    if (!this.fresh) fs.readFileSync(o.flash).copy(this.flash);
    this.tBase = 0;
    this.boots = 0;
    this.powerCuts = 0;
    this.cutKinds = {};                    // the writes the cuts tore: program, erase
    this.watchdogResets = 0;
    this.flashOps = 0;
    this.world = new World(this.pins, () => this.nanos());
    this.world.onBurst = (t) => this.onBurst(t);
    this.pub = { station: {}, evses: this.pins.EVSE.map(() => ({})) };
    this.console = [];
    this.partial = '';
    this.replClients = new Set();
    this.waiters = [];
    this.rebootReason = null;
    this.ctrlcArmed = false;
    this.wallStart = Date.now();
    this.wallRun = 0;
    this.idleNs = 0;                       // emulated time the core slept (WFI/WFE)
    this.boot('power-on');
  }

  nanos() { return this.tBase + (this.mcu ? this.mcu.clock.nanos : 0); }

  // ------------------------------------------------------------ the chip
  boot(why) {
    if (this.mcu) {
      this.tBase += this.mcu.clock.nanos;
      this.saveFlash();
    }
    this.boots++;
    this.bootReason = why;
    const mcu = new RP2040();
    mcu.logger = new ConsoleLogger(LogLevel.Error);
    mcu.loadBootrom(this.rom);
    const nor = new NorFlash(mcu);
    mcu.flash.set(this.flash);
    mcu.flash.set(this.image, 0);             // the image as flashed; littlefs above it
    mcu.peripherals[0x18000] = new SSI(mcu, nor);
    mcu.peripherals[0x40018] = new IOQSPI(mcu, nor);
    nor.onOp = (kind, addr) => {
      this.flashOps++;
      this.dirty = true;
      if (this.o.traceFlash) this.log(`flash ${this.flashOps} ${kind} ${addr.toString(16)}`);
    };
    nor.onCut = (kind) => {
      this.powerCuts++;
      this.cutKinds[kind] = (this.cutKinds[kind] || 0) + 1;
      this.rebootReason = 'power-cut';
    };
    if (this.cutPending) { nor.cutAfter(...this.cutPending); this.cutPending = null; }
    const wd = mcu.peripherals[0x40058];
    wd.onWatchdogTrigger = () => {
      // rp2040js re-arms the expired alarm at once (0 ns later, without end): stop it,
      // the chip is rebuilt anyway
      wd.alarm.enable = false;
      wd.timer.enable = false;
      this.watchdogResets++;
      this.rebootReason = 'watchdog';
    };
    this.nor = nor;
    this.mcu = mcu;
    this.usb(mcu);
    this.world.attach(mcu);
    mcu.core.PC = 0x10000000;
    this.pub = { station: {}, evses: this.pins.EVSE.map(() => ({})) };
    this.partial = '';
    this.rebootReason = null;
    this.log(`boot ${this.boots}: ${why}`);
  }

  saveFlash() {
    if (!this.mcu) return;
    Buffer.from(this.mcu.flash.buffer, 0, FLASH_BYTES).copy(this.flash);
    if (this.dirty) {
      fs.writeFileSync(this.o.flash + '.tmp', this.flash);
      fs.renameSync(this.o.flash + '.tmp', this.o.flash);
      this.dirty = false;
    }
  }

  usb(mcu) {
    const cdc = new USBCDC(mcu.usbCtrl);
    this.cdc = cdc;
    this.pendingRead = null;
    const busyUntil = this.o.busyUsbMs * 1e6;
    // a real host NAKs an OUT read until it has data; rp2040js would answer each with
    // an empty packet at once, keeping the USB interrupt busy (--busy-usb-ms: do that
    // for the first MS of each boot, the interrupt load the spike found)
    mcu.usbCtrl.onEndpointRead = (ep, size) => {
      if (ep !== cdc.outEndpoint) return;
      if (cdc.txFIFO.itemCount === 0 && mcu.clock.nanos >= busyUntil) {
        this.pendingRead = size;
        return;
      }
      this.completeRead(size);
    };
    cdc.onSerialData = (buf) => this.fromDevice(buf);
  }

  completeRead(size) {
    const cdc = this.cdc;
    const buf = new Uint8Array(Math.min(size, cdc.txFIFO.itemCount));
    for (let i = 0; i < buf.length; i++) buf[i] = cdc.txFIFO.pull();
    this.pendingRead = null;
    cdc.usb.endpointReadDone(cdc.outEndpoint, buf);
  }

  toDevice(bytes) {
    for (const b of bytes) {
      if (this.cdc.txFIFO.full) break;
      this.cdc.sendSerialByte(b);
    }
    if (this.pendingRead != null && this.cdc.txFIFO.itemCount) this.completeRead(this.pendingRead);
  }

  fromDevice(buf) {
    for (const c of this.replClients) c.write(Buffer.from(buf));
    const s = this.partial + Buffer.from(buf).toString('latin1');
    const lines = s.split('\n');
    this.partial = lines.pop();
    if (this.partial.length > 4096) this.partial = '';
    for (let l of lines) {
      l = l.replace(/\r$/, '');
      if (l.startsWith('@P ')) {
        try {
          const f = JSON.parse(l.slice(3));
          const i = f.i;
          delete f.i;
          if (i < 0) this.pub.station = f;
          else if (this.pub.evses[i]) this.pub.evses[i] = f;
        } catch (e) { /* a line cut by a reboot */ }
        continue;
      }
      this.log(l);
    }
    if (this.rawWait) this.rawWait();
  }

  log(line) {
    this.console.push(line);
    if (this.console.length > CONSOLE_LINES) this.console.shift();
    if (this.o.watch && !this.o.quietConsole) process.stdout.write('  | ' + line + '\n');
    else if (this.o.console) process.stdout.write(`${(this.nanos() / 1e6).toFixed(1)} | ${line}\n`);
  }

  // ------------------------------------------------------------ running
  runSlice() {
    const mcu = this.mcu, core = mcu.core, clock = mcu.clock;
    const end = clock.nanos + SLICE_NS;
    while (clock.nanos < end) {
      if (this.rebootReason) return;
      if (core.waiting) {
        const d = clock.nextAlarm ? clock.nanosToNextAlarm : end - clock.nanos;
        const step = Math.max(0, Math.min(d, end - clock.nanos));
        this.idleNs += step;
        clock.tick(step);
      } else {
        clock.tick(core.executeInstruction() * CYCLE_NS);
      }
    }
  }

  loop() {
    const t0 = Date.now();
    while (Date.now() - t0 < 20) {
      if (this.ahead()) break;
      const before = this.nanos();
      this.runSlice();
      if (this.rebootReason) { this.boot(this.rebootReason); continue; }
      this.world.step(this.nanos() - before);
      this.checkWaiters();
    }
    this.wallRun += Date.now() - t0;
    if (this.dirty && Date.now() - (this.lastSave || 0) > 1000) {
      this.lastSave = Date.now();
      this.saveFlash();
    }
    if (this.ahead()) setTimeout(() => this.loop(), 2);
    else setImmediate(() => this.loop());
  }

  // Whether emulated time is ahead of the wall clock and must wait for it: always with
  // --realtime; else only while a REPL client is connected, and then as a rate (never
  // faster than real time once it lagged behind). The chip is slower
  // than real time while it computes, but skips idle time at once: a board stopped at
  // the REPL (outputs safe, no tick) would otherwise live through seconds between two
  // keystrokes of a test or of mpremote, and its watchdog (nothing feeds it once the
  // station stopped: boards/common/boot.py interrupted) would reset it meanwhile.
  ahead() {
    if (this.o.realtime) return this.nanos() / 1e6 > Date.now() - this.wallStart;
    if (!this.replClients.size) return false;
    const emu = (this.nanos() - this.paceEmu) / 1e6, wall = Date.now() - this.paceWall;
    if (wall - emu > PACE_SLACK_MS) this.paceWall += wall - emu - PACE_SLACK_MS;  // no catching up
    return emu > wall;
  }

  checkWaiters() {
    const t = this.nanos();
    const pf = this.pendingFault;
    if (pf && pf.at >= 0 && t >= pf.at) {
      this.pendingFault = null;
      this.world.fault(pf.i, pf.k);
    }
    this.waiters = this.waiters.filter((w) => {
      if (t < w.at) return true;
      w.done();
      return false;
    });
  }

  onBurst(t) {
    const pf = this.pendingFault;
    if (pf && pf.at < 0) pf.at = t + 4e6;
  }

  // ctrlc-tick: a Ctrl-C whose USB interrupt comes at the same instant as the next timer
  // interrupt (the soft timer of the safety tick, or the end of a wait): when MicroPython's
  // scheduler then runs the USB task (KeyboardInterrupt pending) just before the tick's
  // callback, the exception is raised inside the callback, as it can be on a chip. It
  // lands there often, not always (else in the asyncio loop: the station stops at the
  // REPL); tests try several times.
  // then: bytes sent in the same USB packet after the Ctrl-C (mpremote's "\r\x01" that
  // enters the raw REPL, written without waiting for the prompt).
  armCtrlC(then = []) {
    const mcu = this.mcu, set = mcu.setInterrupt.bind(mcu);
    this.ctrlcArmed = true;
    mcu.setInterrupt = (irq, value) => {
      set(irq, value);
      if (value && irq < TIMER_IRQS && this.ctrlcArmed && this.pendingRead != null && this.mcu === mcu) {
        this.ctrlcArmed = false;
        mcu.setInterrupt = set;
        const buf = new Uint8Array([3, ...then]);
        this.pendingRead = null;
        this.cdc.usb.endpointReadDone(this.cdc.outEndpoint, buf, 0);
        this.ctrlcAt = this.nanos();
      }
    };
  }

  // ------------------------------------------------------------ provisioning
  // A fresh flash has no configuration: over the raw REPL, write /flash/config.json and
  // /flash/hostlink, then machine.reset() (the station then starts with them).
  async provision() {
    const cfg = fs.readFileSync(this.o.config, 'utf8');
    const code = 'import os\ntry:\n os.mkdir("/flash")\nexcept OSError:\n pass\n' +
      `f=open("/flash/config.json","w");f.write(${JSON.stringify(cfg)});f.close()\n` +
      'f=open("/flash/hostlink","w");f.write("1");f.close()\nimport machine\nmachine.reset()\n';
    await this.until(() => this.console.some((l) => l.includes('SAFE MODE') || l.includes('boot:')), 60000);
    this.console.length = 0;
    this.toDevice([3, 3]);
    await this.until(() => this.partial.endsWith('>>> '), 20000);
    this.toDevice([1]);
    await this.until(() => this.partial.endsWith('raw REPL; CTRL-B to exit') || this.partial === '>', 20000);
    const bytes = Buffer.from(code);
    for (let i = 0; i < bytes.length; i += 64) {
      this.toDevice(bytes.subarray(i, i + 64));
      await this.until(() => this.cdc.txFIFO.itemCount === 0, 20000);
    }
    const boots = this.boots;
    this.toDevice([4]);
    await this.until(() => this.boots > boots, 60000);
  }

  until(cond, emuMs) {
    const limit = this.nanos() + emuMs * 1e6;
    return new Promise((resolve, reject) => {
      const check = () => {
        if (cond()) return resolve();
        if (this.nanos() > limit) return reject(new Error('provisioning timed out'));
        setTimeout(check, 5);
      };
      check();
    });
  }

  // ------------------------------------------------------------ control channel
  status() {
    const st = { ok: true, ...this.pub.station };
    Object.assign(st, {
      emulated: true, board: this.o.board, emu_ms: Math.round(this.nanos() / 1e4) / 100,
      wall_ms: this.wallRun, idle_ms: Math.round(this.idleNs / 1e6), boots: this.boots, boot_reason: this.bootReason,
      ctrlc_at_ms: this.ctrlcAt != null ? this.ctrlcAt / 1e6 : null,
      power_cuts: this.powerCuts, cut_kinds: this.cutKinds, watchdog_resets: this.watchdogResets, flash_ops: this.flashOps,
      meter_requests: this.world.meter ? this.world.meter.requests : 0,
      meter_answers: this.world.meter ? this.world.meter.answers : 0,
    });
    st.evses = this.pins.EVSE.map((_, i) => ({ ...this.world.status(i), evse: i + 1, ...this.pub.evses[i] }));
    return st;
  }

  evse(args, n) {
    if (args.length !== n) throw new Error(`expected ${n} argument(s)`);
    const i = parseInt(args[0], 10);
    if (!(i >= 1 && i <= this.pins.EVSE.length)) throw new Error(`evse ${args[0]} out of range`);
    return i - 1;
  }

  handle(line, reply) {
    const parts = line.trim().split(/\s+/).filter(Boolean);
    if (!parts.length) return reply({ ok: false, error: 'empty command' });
    const [name, ...args] = [parts[0].toLowerCase(), ...parts.slice(1)];
    const ok = (i) => reply({ ok: true, evse: i + 1 });
    const w = this.world;
    switch (name) {
      case 'status': return reply(this.status());
      case 'plug': { const i = this.evse(args, 1); w.plug(i); return ok(i); }
      case 'unplug': { const i = this.evse(args, 1); w.unplug(i); return ok(i); }
      case 'ev': {
        const i = this.evse(args, 2), s = args[1].toUpperCase();
        if (s !== 'AUTO' && !'ABCDE'.includes(s) || s.length !== 1 && s !== 'AUTO')
          throw new Error('EV state must be A, B, C, D, E or auto');
        w.setEv(i, s);
        return ok(i);
      }
      case 'draw': {
        const force = args.length === 3 && args[2].toLowerCase() === 'force';
        const i = this.evse(args.slice(0, 2), 2), a = Number(args[1]);
        if (!(a >= 0 && a <= 80)) throw new Error('AMPS must be 0..80');
        w.draw(i, a, force);
        return ok(i);
      }
      case 'tag': {
        const i = this.evse(args, 2);
        if (args[1].length > 64) throw new Error('ID longer than 64');
        this.toDevice(Buffer.from(`!tag ${i + 1} ${args[1]}\n`));
        return ok(i);
      }
      case 'stall': {
        const ms = parseInt(args[0], 10);
        if (args.length !== 1 || !(ms > 0 && ms <= 60000)) throw new Error('MS must be 1..60000');
        this.toDevice(Buffer.from(`!stall ${ms}\n`));
        return reply({ ok: true, stall_ms: ms });
      }
      case 'fault': case 'clear': {
        const i = this.evse(args.slice(0, 2), 2), k = args[1].toLowerCase();
        if (!FAULTS.includes(k)) throw new Error('KIND must be one of ' + FAULTS.join(' '));
        if (name === 'fault' && args[2] === 'between-ticks') {
          this.pendingFault = { i, k, at: -1 };  // 4 ms after a burst began: no tick runs
          return ok(i);
        }
        if (args.length > 2) throw new Error('expected N KIND [between-ticks]');
        (name === 'fault' ? w.fault : w.clear).call(w, i, k);
        return ok(i);
      }
      case 'cut': {                         // cut N [program|erase]: of that kind only
        const n = parseInt(args[0], 10), kind = args[1] || null;
        if (args.length < 1 || args.length > 2 || !(n >= 0 && n <= 100000) ||
            kind && kind !== 'program' && kind !== 'erase') throw new Error('expected N [program|erase] (0 disarms)');
        this.nor.cutAfter(n, kind);
        return reply({ ok: true, cut_after: n, kind });
      }
      case 'log': {
        const n = Math.max(1, Math.min(args.length ? parseInt(args[0], 10) || 20 : 20, CONSOLE_LINES));
        return reply({ ok: true, lines: this.console.slice(-n) });
      }
      case 'wait': {
        const ms = Number(args[0]);
        if (!(ms >= 0 && ms <= 600000)) throw new Error('MS must be 0..600000');
        this.waiters.push({ at: this.nanos() + ms * 1e6, done: () => reply({ ok: true, emu_ms: this.nanos() / 1e6 }) });
        return undefined;
      }
      case 'button': {
        const ms = Number(args[0] || 100);
        w.buttonDown = true;
        w.step(0);
        this.waiters.push({ at: this.nanos() + ms * 1e6, done: () => { w.buttonDown = false; w.step(0); } });
        return reply({ ok: true, button_ms: ms });
      }
      case 'bursts': {
        const b = w.burst;
        if (args[0] === 'reset') { b.reads = []; b.spans = []; }
        const n = b.reads.length;
        const sum = (a) => a.reduce((x, y) => x + y, 0);
        return reply({ ok: true, bursts: n, reads_mean: n ? sum(b.reads) / n : 0,
          reads_min: n ? Math.min(...b.reads) : 0, reads_max: n ? Math.max(...b.reads) : 0,
          span_us_mean: n ? sum(b.spans) / n / 1e3 : 0, span_us_min: n ? Math.min(...b.spans) / 1e3 : 0,
          span_us_max: n ? Math.max(...b.spans) / 1e3 : 0 });
      }
      case 'ctrlc-tick': {
        if (args.length > 1 || args.length && args[0] !== 'raw') throw new Error('expected [raw]');
        this.armCtrlC(args.length ? [13, 1] : []);
        return reply({ ok: true });
      }
      case 'reset': {                       // an armed cut stays armed through it
        const nor = this.nor;
        this.cutPending = nor.cutAt ? [Math.max(1, nor.cutAt - nor.count(nor.cutKind)), nor.cutKind] : null;
        this.rebootReason = 'reset';
        return reply({ ok: true });
      }
      case 'save': this.saveFlash(); return reply({ ok: true });
      case 'help':
        return reply({ ok: true, commands: ['status', 'plug N', 'unplug N', 'ev N A|B|C|D|E|auto',
          'draw N AMPS [force]', 'tag N ID', 'fault N KIND', 'clear N KIND', 'stall MS', 'cut N [program|erase]',
          'log [N]', 'wait MS', 'button MS', 'bursts', 'ctrlc-tick [raw]', 'reset', 'save', 'quit'], faults: FAULTS });
      case 'quit': this.saveFlash(); reply({ ok: true }); setTimeout(() => process.exit(0), 10); return undefined;
      default: return reply({ ok: false, error: `unknown command '${parts[0]}' (try help)` });
    }
  }

  // -> a promise: both ports listening (the "ready" line waits for it: a client that
  // connects on "ready" is never refused)
  serve() {
    const listening = (srv) => new Promise((resolve, reject) => {
      srv.once('listening', resolve);
      srv.once('error', reject);
    });
    const [ch, cp] = this.o.control.split(':');
    const ctl = net.createServer((sock) => {
      let buf = '';
      const reply = (obj) => { if (!sock.destroyed) sock.write(JSON.stringify(obj) + '\n'); };
      sock.on('data', (d) => {
        buf += d.toString();
        let n;
        while ((n = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, n);
          buf = buf.slice(n + 1);
          try { this.handle(line, reply); } catch (e) { reply({ ok: false, error: e.message }); }
        }
        if (buf.length > 256) { buf = ''; reply({ ok: false, error: 'line longer than 256 bytes' }); }
      });
      sock.on('error', () => {});
    }).listen(Number(cp), ch);
    const [rh, rp] = this.o.repl.split(':');
    const repl = net.createServer((sock) => {
      if (!this.replClients.size) {          // ahead(): paced from now on
        this.paceEmu = this.nanos();
        this.paceWall = Date.now();
      }
      this.replClients.add(sock);
      sock.on('data', (d) => this.toDevice(d));
      sock.on('close', () => this.replClients.delete(sock));
      sock.on('error', () => {});
    }).listen(Number(rp), rh);
    return Promise.all([listening(ctl), listening(repl)]);
  }

  watchLine() {
    const st = this.status();
    const s = st.evses.map((e) => `EVSE ${e.evse}: pilot ${e.pilot} ${e.pwm} ${e.duty}% ` +
      `${e.offered_a} A, relay ${e.relay ? 'closed' : 'open'}, lock ${e.lock ? 'locked' : 'open'}, ` +
      `${e.energy_wh} Wh ${e.power_w} W, ${e.state || '-'} ${e.ocpp_status || ''} tx ${e.tx_id || '-'}`);
    process.stdout.write(`[emu ${(st.emu_ms / 1000).toFixed(1)} s, heap free ${st.mem_free ?? '?'}] ${s.join(' | ')}\n`);
  }
}

async function main() {
  const o = parseArgs(process.argv);
  if (!o.image || !o.flash) {
    process.stderr.write('usage: emu.js --image firmware.bin|uf2 --flash FLASH.img [--control H:P] [--repl H:P] [--realtime] [--watch]\n');
    process.exit(2);
  }
  const emu = new Emulator(o);
  const listening = emu.serve();
  emu.loop();
  await listening;
  if (!o.noProvision && (emu.fresh || o.provision)) await emu.provision();
  if (o.provisionOnly) {                     // the flash as the reset found it (boot saved it)
    process.stdout.write('emu: provisioned\n');
    process.exit(0);
  }
  process.stdout.write(`emu: control ${o.control} repl ${o.repl} ready\n`);
  if (o.watch) setInterval(() => emu.watchLine(), 1000);
  process.on('SIGTERM', () => { emu.saveFlash(); process.exit(0); });
  process.on('SIGINT', () => { emu.saveFlash(); process.exit(0); });
}

main().catch((e) => { process.stderr.write(`emu: ${e.stack || e}\n`); process.exit(1); });

// SPI-NOR flash behind the RP2040's SSI, for rp2040js (which reads flash through XIP but
// cannot program it: IO_QSPI is unimplemented and its SSI answers no command).
//
// Modelled: the IO_QSPI chip-select override (GPIO_QSPI_SS_CTRL OUTOVER: low = select,
// high/normal = deselect), the SSI data FIFO (each byte written shifts one byte in), and
// the commands the bootrom's flash_range_program/erase and pico-sdk's flash_do_cmd send:
// 0x02 page program, 0x20 4K sector / 0x52 32K / 0xD8 64K block erase, 0x05 / 0x35 status
// 1 / 2 (never busy, QE set), 0x9F JEDEC id, 0x4B unique id, 0x03 read, 0x06/0x04 write
// enable/disable. Page programs AND bits in (NOR) and wrap within their 256-byte page.
// Disabling the SSI (SSIENR 0) empties the FIFOs. With the chip select left to the SSI (boot2), a command starts with a byte written
// while no answer is waiting.
//
// Power cuts: cutAfter(n[, kind]) makes the n-th next program/erase (of that kind) a cut: half of it is done
// (the first half of the bytes, a torn write), then onCut() is called and every later
// access is ignored until the chip is rebuilt.
import { BasePeripheral } from 'rp2040js';

const SSI_CTRLR0 = 0x00, SSI_SSIENR = 0x08, SSI_SR = 0x28, SSI_TXFLR = 0x20, SSI_RXFLR = 0x24, SSI_DR0 = 0x60;
const SSI_IDR = 0x58, SSI_VERSION_ID = 0x5c;
const SR_TFNF = 0x02, SR_TFE = 0x04, SR_RFNE = 0x08;
const SS_CTRL = 0x0c;             // IO_QSPI GPIO_QSPI_SS_CTRL
const OUTOVER_SHIFT = 8;
export const FLASH_BYTES = 2 * 1024 * 1024;      // the Pico's W25Q16JV
const PAGE = 256;
const JEDEC = [0xef, 0x40, 0x15];
const UID = [0xe6, 0x60, 0x58, 0x38, 0x83, 0x1a, 0x2c, 0x2b];

export class NorFlash {
  constructor(rp2040) {
    this.mem = rp2040.flash;         // the array XIP reads: programs show at once
    this.cmd = [];                   // bytes of the command in progress
    this.rx = [];                    // answer bytes waiting in the RX FIFO
    this.selected = false;
    this.forced = false;             // chip select under the IO_QSPI override
    this.ops = 0;                    // programs and erases done
    this.kindOps = { program: 0, erase: 0 };
    this.cutKind = null;
    this.cutAt = 0;                  // 0: disarmed, else ops number that is cut
    this.dead = false;
    this.onCut = null;
    this.onOp = null;                // (kind, addr) after each program/erase
  }

  // kind ('program' or 'erase'): the n-th next op of that kind, else of either
  cutAfter(n, kind = null) {
    this.cutKind = kind;
    this.cutAt = n > 0 ? this.count(kind) + n : 0;
  }

  count(kind) { return kind ? this.kindOps[kind] : this.ops; }

  select(on, forced) {
    if (on && !this.selected) this.cmd = [];
    if (!on && this.selected) this.finish();
    this.selected = on;
    this.forced = forced;
  }

  // one byte clocked out; -> the byte clocked in
  xfer(b) {
    if (!this.forced && this.rx.length === 0) {   // SSI-driven chip select (boot2)
      this.finish();
      this.cmd = [];
    }
    const c = this.cmd;
    c.push(b);
    const op = c[0], n = c.length - 1;
    switch (op) {
      case 0x05: return 0x00;                       // not busy, not write-enabled
      case 0x35: return 0x02;                       // QE set: boot2 leaves it alone
      case 0x9f: return n >= 1 && n <= 3 ? JEDEC[n - 1] : 0;
      case 0x4b: return n >= 5 && n <= 12 ? UID[n - 5] : 0;
      case 0x03:
        if (n >= 4) {
          const a = ((c[1] << 16) | (c[2] << 8) | c[3]) + n - 4;
          return a < FLASH_BYTES ? this.mem[a] : 0xff;
        }
        return 0;
      default: return 0;
    }
  }

  finish() {
    const c = this.cmd;
    this.cmd = [];
    if (this.dead || c.length === 0) return;
    const op = c[0];
    if (op === 0x02 && c.length > 4) this.program(c);
    else if ((op === 0x20 || op === 0x52 || op === 0xd8) && c.length >= 4) {
      const size = op === 0x20 ? 4096 : op === 0x52 ? 32768 : 65536;
      const a = ((c[1] << 16) | (c[2] << 8) | c[3]) & ~(size - 1);
      this.erase(a, size);
    }
  }

  cut(kind) {
    this.ops++;
    this.kindOps[kind]++;
    if (this.cutAt && (!this.cutKind || this.cutKind === kind) && this.count(this.cutKind) >= this.cutAt) {
      this.cutAt = 0;
      this.dead = true;
      return true;
    }
    return false;
  }

  program(c) {
    const a0 = (c[1] << 16) | (c[2] << 8) | c[3];
    if (a0 >= FLASH_BYTES) return;
    let n = c.length - 4;
    const torn = this.cut('program');
    if (torn) n = n >> 1;
    const page = a0 & ~(PAGE - 1);
    for (let i = 0; i < n; i++) {
      const a = page + ((a0 + i) & (PAGE - 1));
      this.mem[a] &= c[4 + i];
    }
    if (this.onOp) this.onOp('program', a0);
    if (torn && this.onCut) this.onCut('program', a0);
  }

  erase(a, size) {
    if (a >= FLASH_BYTES) return;
    const torn = this.cut('erase');
    this.mem.fill(0xff, a, a + (torn ? size >> 1 : size));
    if (this.onOp) this.onOp('erase', a);
    if (torn && this.onCut) this.onCut('erase', a);
  }
}

// XIP_SSI (0x18000000): the FIFO side of the model; the rest of its registers are kept.
export class SSI extends BasePeripheral {
  constructor(rp2040, nor) {
    super(rp2040, 'SSI');
    this.nor = nor;
    this.regs = new Map();
  }
  readUint32(offset) {
    const nor = this.nor;
    switch (offset) {
      case SSI_SR: return SR_TFNF | SR_TFE | (nor.rx.length ? SR_RFNE : 0);
      case SSI_TXFLR: return 0;
      case SSI_RXFLR: return nor.rx.length;
      case SSI_DR0: return nor.rx.length ? nor.rx.shift() : 0;
      case SSI_IDR: return 0x51535049;
      case SSI_VERSION_ID: return 0x3430312a;
      default: return this.regs.get(offset) ?? 0;
    }
  }
  writeUint32(offset, value) {
    if (offset === SSI_DR0) {
      const nor = this.nor;
      const b = nor.xfer(value & 0xff);
      if (nor.rx.length < 64) nor.rx.push(b);
      return;
    }
    if (offset === SSI_SSIENR && !(value & 1)) this.nor.rx = [];   // disabling flushes the FIFOs
    if (offset < 0x100) this.regs.set(offset, value >>> 0);
  }
}

// IO_QSPI (0x40018000): registers kept; the SS pad's output override is the chip select.
export class IOQSPI extends BasePeripheral {
  constructor(rp2040, nor) {
    super(rp2040, 'IO_QSPI');
    this.nor = nor;
    this.regs = new Map();
  }
  readUint32(offset) { return this.regs.get(offset) ?? 0; }
  writeUint32(offset, value) {
    this.regs.set(offset, value >>> 0);
    if (offset === SS_CTRL) {
      const over = (value >>> OUTOVER_SHIFT) & 3;
      if (over === 2) this.nor.select(true, true);
      else this.nor.select(false, over === 3);
    }
  }
}

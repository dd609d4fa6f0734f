"""firmware.diag.flashlog and firmware.diag.reader on the simulated flash: the log stays
within its files however much is logged, survives a remount, masks secrets, carries on
after a failed write and after a power cut at any of its flash writes, says when the
ring lost lines; an upload body selects a time window and its size is what it reads.

    micropython tests/mp/flashlog.py IMAGE -> OUT {...}"""
import os
import sys
from out import report, error_name
from firmware import log
from firmware.clock import iso
from firmware.diag import flashlog
from firmware.diag.flashlog import FlashLog, files
from firmware.diag.reader import Body
from boards.sim.flash import FlashDevice, PowerCut, umount

IMG = sys.argv[1]
T0 = 1796630400                 # 2026-12-07T00:00:00Z


class Clock:
    def __init__(self):
        self.t = T0

    def now(self):
        return self.t

    def iso(self, t=None):
        return iso(self.t if t is None else t)


def mount(blocks=64):
    umount("/flash")
    d = FlashDevice(IMG, blocks)
    d.mount("/flash")
    return d


def text(kind):
    out = []
    for _, p in files("/flash", kind):
        with open(p) as f:
            out.append(f.read())
    return "".join(out)


def sizes(kind):
    return [os.stat(p)[6] for _, p in files("/flash", kind)]


def body_text(b):
    buf = bytearray(100)
    got = bytearray()
    while True:
        n = b.readinto(buf)
        if not n:
            break
        got.extend(buf[:n])
    return bytes(got).decode()


try:
    os.remove(IMG)
except OSError:
    pass
log.echo = False
out = {}
clk = Clock()
dev = mount()
fl = FlashLog("/flash", clk)

# bounded: 200 KB logged, flushed every 20 lines, a second apart
for i in range(2000):
    log.info("t", "line %d %s", i, "x" * 80)
    if i % 20 == 19:
        clk.t += 1
        fl.flush()
fl.flush()
out["sizes"] = sizes("d")
out["seqs"] = [s for s, _ in files("/flash", "d")]
t = text("d")
nums = [int(ln.split()[4]) for ln in t.splitlines() if " t: line " in ln]
out["first_kept"] = nums[0]
out["last_kept"] = nums[-1]
out["in_order"] = nums == list(range(nums[0], nums[0] + len(nums)))
out["stamped"] = all(ln[:4] == "2026" and ln[19:21] == "Z " for ln in t.splitlines())

# survives a remount: a new writer continues the newest file
dev.close()
dev = mount()
fl = FlashLog("/flash", clk)
log.info("t", "after remount")
fl.flush()
out["after_remount"] = "after remount" in text("d") and "line 1999" in text("d")
out["seqs_after"] = [s for s, _ in files("/flash", "d")]

# secrets masked before they reach the flash
log.info("cfg", "BasicAuthPassword=%s", "hunter2hunter2hunter2")
log.info("net", "setup access point MicroEVSE-1234, key %s", "wifikey123")
log.warn("diag", "upload failed: HTTP 500: PUT http://op:opensesame99@10.0.0.1:80/x/ \"https://a:b@h/\"")
flashlog.note("2026-12-07T00:00:01Z ReconfigurationOfSecurityParameters password=sesame42")
fl.flush()
both = text("d") + text("s")
out["secret_gone"] = ("hunter2" not in both and "wifikey123" not in both and "sesame42" not in
                     both and "opensesame99" not in both and "a:b@" not in both)
out["url_kept"] = "PUT http://<redacted>@10.0.0.1:80/x/" in both
out["masked_kept"] = "BasicAuthPassword <redacted>" in both
out["sec"] = text("s").splitlines()

# a failed write: no exception, logged once, written at the next pass
dev.fail_after(1)
log.info("t", "during eio")
out["eio_pass"] = fl.flush()
out["eio_failures"] = fl.failures
out["eio_next"] = fl.flush()
out["eio_line"] = "during eio" in text("d")
out["eio_logged"] = "flashlog: write failed" in text("d")

# the ring wrapped before a flush: the loss is said
for i in range(200):
    log.info("t", "burst %d %s", i, "y" * 40)
fl.flush()
out["lost_said"] = "lines lost" in text("d") and "burst 199" in text("d")

# a power cut at each flash write of a flush: the files read back whole
cuts = []
n = 1
while n < 40:
    log.info("t", "cut %d %s", n, "z" * 150)
    for i in range(20):
        log.info("t", "fill %d %s", i, "w" * 100)
    dev.cut_after(n, hard=False)
    try:
        fl.flush()
        fired = False
    except PowerCut:
        fired = True
    dev.cut_after(0, hard=False)
    umount("/flash")
    dev = dev.reborn()
    dev.mount("/flash")
    fl = FlashLog("/flash", clk)
    try:
        b = Body("/flash", "d")
        whole = b.lines > 0 and len(body_text(b)) == b.size
        b.close()
    except Exception as e:              # noqa: BLE001 - reported to the test
        whole = error_name(e)
    cuts.append([n, fired, whole])
    if not fired:
        break
    n += 1
out["cuts"] = cuts
out["after_cuts_ok"] = fl.flush() and sum(sizes("d")) <= 4 * 8192

# an upload body: a time window, its size what it reads, a header
for k in range(10):
    clk.t = T0 + 3600 * (k + 1)
    log.info("w", "hour %d", k + 1)
    fl.flush()
b = Body("/flash", "d", "# head\n", iso(T0 + 3600 * 3), iso(T0 + 3600 * 5))
got = body_text(b)
out["window"] = [ln.split()[-1] for ln in got.splitlines() if " w: hour " in ln]
out["window_size_ok"] = len(got.encode()) == b.size and got.startswith("# head\n")
b.rewind()
out["rewind_same"] = body_text(b) == got
b.close()
# a flash that cannot take the pending lines: the upload adds them from RAM
dev.fail_after(1)
log.info("w", "only in ram")
ok = flashlog.flush()
b = Body("/flash", "d", "", None, None, "" if ok else flashlog.pending("d"))
got = body_text(b)
out["ram_tail"] = [ok, any(x.endswith("w: only in ram") for x in got.splitlines()), len(got.encode()) == b.size]
b.close()
out["whole_size"] = Body("/flash", "d").size <= sum(sizes("d"))
report(out)

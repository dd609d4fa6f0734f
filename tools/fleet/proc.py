"""CPU and memory of a process tree from /proc (Linux): what a station costs."""
import os

_TCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _children(pid):
    out = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def tree(pid):
    """pid and every descendant now alive."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += _children(p)
    return pids


def cpu_s(pid):
    """User + system CPU seconds of pid and its live descendants (and the children
    they waited for)."""
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the comm: state=0 ... utime=11 stime=12 cutime=13 cstime=14
        total += sum(int(x) for x in fields[11:15])
    return total / _TCK


def rss_bytes(pid):
    """Resident set size of pid and its live descendants."""
    total = 0
    for p in tree(pid):
        try:
            with open("/proc/%d/statm" % p) as f:
                total += int(f.read().split()[1]) * _PAGE
        except OSError:
            continue
    return total

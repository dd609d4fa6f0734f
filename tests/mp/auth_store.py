"""firmware/auth/ under MicroPython (tests/unit/test_auth.py): the Local Authorization
List, the Authorization Cache, lookups, bounds, persistence, damaged files, and power
cuts / failed writes on the simulated littlefs (DIR/flash.img mounted at /flash).

argv: CASE DIR [NAME] — the store's files go in DIR (or on the flash image); CASE one of
the functions in CASES; make NAME fills DIR with a 256-entry list of kind NAME (plain20,
mixed20, rich36) for tests/mp/auth_load.py."""
import gc
import os
import sys

import store
from boards.sim.flash import FlashDevice, PowerCut, umount
from firmware.auth.store import AuthStore
from out import report

DIR = sys.argv[2]
A = {"status": "Accepted", "expiry": None, "parent": None}
IMG = DIR + "/flash.img"
D = "/flash/auth"


def info(status="Accepted", expiry=None, parent=None):
    return {"status": status, "expiry": expiry, "parent": parent}


def new(**kw):
    a = AuthStore(DIR, **kw)
    a.load()
    return a


def st(a, tok, now=None):
    """-> [status or None, where it was found: list, cache or None]."""
    i, src = a.lookup(tok, now)
    return [i["status"] if i else None, src]


def wipe():
    try:
        os.remove(IMG)
    except OSError:
        pass


def dev():
    return FlashDevice(IMG, 64)


def remount(d):
    umount("/flash")
    d.close()
    d = dev()
    return d, d.mount("/flash")


def make(name):
    w, mixed, rich = {'plain20': (20, False, False), 'mixed20': (20, True, False),
                      'rich36': (36, True, True)}[name]
    fmt = ('t%0' if mixed else 'T%0') + str(w - 1) + 'd'
    for f in ('authlist', 'authcache'):
        try:
            os.remove(DIR + '/' + f)
        except OSError:
            pass
    a = AuthStore(DIR, case_insensitive=not rich)     # rich36: a 2.0.1 list
    a.load()
    for k in range(4):          # four Differentials of 64 ids (SendLocalListMaxLength)
        ents = [(fmt % i, info('Accepted', 2000000000, 'P' * 36) if rich else A)
                for i in range(k * 64, k * 64 + 64)]
        if a.send_local_list(k + 1, 'Differential', ents) != 'Accepted':
            raise ValueError('not accepted')
    return fmt


def full_differential(out):
    a = new()
    out['empty'] = [a.list_version, a.list_count]
    out['full'] = a.send_local_list(3, 'Full', [('T1', A), ('T2', info('Blocked')), ('T3', A)])
    out['after_full'] = [a.list_version, a.list_count, st(a, 'T2')]
    out['same'] = a.send_local_list(3, 'Differential', [('T9', A)])
    out['lower'] = a.send_local_list(2, 'Differential', [('T9', A)])
    out['unchanged'] = [a.list_version, a.list_count, st(a, 'T9')]
    out['diff'] = a.send_local_list(4, 'Differential', [('T1', None), ('T2', A), ('T9', A), ('T8', None)])
    out['after_diff'] = [a.list_version, a.list_count, st(a, 'T1'), st(a, 'T2'), st(a, 'T9')]
    out['replace'] = a.send_local_list(2, 'Full', [('N1', A)])    # Full: any version replaces
    out['after_replace'] = [a.list_version, a.list_count, st(a, 'T2'), st(a, 'N1')]
    out['none_in_full'] = a.send_local_list(5, 'Full', [('N2', None)])
    out['bad_status'] = a.send_local_list(5, 'Full', [('N2', info('Maybe'))])
    out['bad_type'] = a.send_local_list(5, 'Partial', [('N2', A)])
    out['bad_version'] = [a.send_local_list(-1, 'Full', []), a.send_local_list(0, 'Full', [('N2', A)])]
    out['kept'] = [a.list_version, a.list_count, st(a, 'N1')]
    out['clear'] = a.send_local_list(7, 'Full', [])
    out['cleared'] = [a.list_version, a.list_count, st(a, 'N1')]   # empty list: version 0
    out['diff_from_0'] = a.send_local_list(1, 'Differential', [('Z', A)])
    out['remove_all'] = a.send_local_list(2, 'Differential', [('z', None)])
    out['end'] = [a.list_version, a.list_count]


def list_max_failed_keeps_old_list(out):
    a = new(list_max=4)
    out['full'] = a.send_local_list(1, 'Full', [('A%d' % i, A) for i in range(4)])
    out['full_over'] = a.send_local_list(2, 'Full', [('B%d' % i, A) for i in range(5)])
    out['diff_over'] = a.send_local_list(2, 'Differential', [('C1', A)])
    # replacing an existing id and removing one keeps the size within the bound
    out['diff_ok'] = a.send_local_list(2, 'Differential', [('a0', info('Blocked')), ('A1', None), ('C1', A)])
    out['state'] = [a.list_version, a.list_count, st(a, 'A0'), st(a, 'A1'), st(a, 'B0')]
    b = new(list_max=4)
    out['reloaded'] = [b.list_version, b.list_count, st(b, 'A0'), st(b, 'C1'), b.damaged]


def lookup_precedence_expiry_and_parent(out):
    a = new()
    out['put'] = a.cache_put('C1', info('Blocked'), 1000)
    out['cache_first'] = st(a, 'C1')
    a.send_local_list(1, 'Full', [('L1', A), ('E1', info('Accepted', 2000, 'GRP'))])
    out['cached_list_id'] = [a.cache_put('l1', info('Blocked'), 1000), a.cache_count]
    out['list_id'] = st(a, 'L1')
    # the list names C1: the list wins and its cache entry is dropped
    a.send_local_list(2, 'Differential', [('C1', A)])
    out['list_wins'] = [st(a, 'C1'), a.cache_count]
    a.send_local_list(3, 'Differential', [('C1', None)])
    out['removed'] = st(a, 'C1')             # no stale cache entry comes back
    i, src = a.lookup('E1', 1999)
    out['before'] = [i, src]
    out['at'] = st(a, 'E1', 2000)
    out['after'] = st(a, 'E1', 2001)
    out['no_now'] = st(a, 'E1')
    a.cache_put('X1', info('Accepted', 500), 100)
    out['cache_expired'] = [st(a, 'X1', 400), st(a, 'X1', 501)]
    out['unknown'] = list(a.lookup('nobody', 0))
    out['bad_put'] = [a.cache_put('Y', info('Nope'), 0), a.cache_put('', A, 0), a.cache_put(5, A, 0)]


def cache_lru_bound_and_clear_cache_keeps_list(out):
    a = new(cache_max=3)
    a.send_local_list(5, 'Full', [('L1', A)])
    for t in ('K1', 'K2', 'K3'):
        a.cache_put(t, A, 0)
    st(a, 'K1')                       # K1 used: K2 is now the least recently used
    a.cache_put('K4', A, 0)
    out['lru'] = [a.cache_count, st(a, 'K1')[1], st(a, 'K2')[1], st(a, 'K3')[1], st(a, 'K4')[1]]
    a.cache_put('K3', info('ConcurrentTx'), 0)    # an update is a use (still valid: 1.6 3.5.2)
    a.cache_put('K5', A, 0)         # evicts K1, the least recently used now
    out['update'] = [a.cache_count, st(a, 'K1')[1], st(a, 'K3'), st(a, 'K4')[1]]
    # the lookups above used K3, then K4: K5 is the least recently used
    a.cache_put('K6', info('Accepted', 50), 0)      # evicts K5
    a.cache_put('K7', A, 100)        # K6 expired at 100: evicted before the LRU one (K3)
    out['expired_first'] = [st(a, k)[1] for k in ('K5', 'K6', 'K3', 'K4', 'K7')]
    b = new(cache_max=3)             # the order survives a reload
    b.cache_put('K8', A, 0)
    out['reloaded'] = [b.cache_count, st(b, 'K3')[1], st(b, 'K8')[1]]
    out['clear'] = a.clear_cache()
    out['after_clear'] = [a.cache_count, a.list_version, a.list_count, st(a, 'L1'), st(a, 'K7')]
    c = new(cache_max=3)
    out['after_reload'] = [c.cache_count, c.list_version, st(c, 'L1'), c.damaged]


def cache_evicts_not_valid_entries_first(out):
    a = new(cache_max=3)
    a.cache_put('K1', A, 0)
    a.cache_put('K2', info('Blocked'), 0)
    a.cache_put('K3', A, 0)
    st(a, 'K2')                        # K2 used last, K1 least recently
    a.cache_put('K4', A, 0)           # evicts Blocked K2, not the LRU K1
    out['blocked_first'] = [st(a, k)[1] for k in ('K1', 'K2', 'K3', 'K4')]
    a.cache_put('K5', info('Invalid'), 0)   # full of valid ones: the LRU valid K1 goes, K5 stays
    out['new_kept'] = [st(a, k)[1] for k in ('K1', 'K3', 'K4', 'K5')]
    a.cache_put('K6', info('Expired'), 0)   # K5 (Invalid) goes first; the new K6 stays
    out['not_valid_lru'] = [st(a, k)[1] for k in ('K3', 'K4', 'K5', 'K6')]
    a.cache_put('K7', A, 0)                 # the Expired K6 goes
    out['expired_status'] = [st(a, k)[1] for k in ('K3', 'K4', 'K6', 'K7')]
    b = new(cache_max=0)                    # nothing can be cached
    out['zero'] = [b.cache_put('Z', A, 0), b.cache_count]


def duplicate_ids_fail_and_keep_the_old_list(out):
    a = new()
    a.send_local_list(1, 'Full', [('T1', A)])
    out['full'] = a.send_local_list(2, 'Full', [('T2', A), ('T2', info('Blocked'))])
    out['diff'] = a.send_local_list(2, 'Differential', [('T3', A), ('t3', None)])
    out['diff_removals'] = a.send_local_list(2, 'Differential', [('T1', None), ('T1', None)])
    out['kept'] = [a.list_version, a.list_count, st(a, 'T1'), st(a, 'T2'), st(a, 'T3')]
    b = new(case_insensitive=False)         # exact comparison: two different ids
    out['exact'] = [b.send_local_list(2, 'Full', [('T2', A), ('t2', info('Blocked'))]),
                    b.list_count, st(b, 't2')]


def no_ram_while_merging_an_update_is_failed(out):
    class NoRam(dict):
        def get(self, k, d=None):
            raise MemoryError
    a = new()
    a.send_local_list(1, 'Full', [('T1', A)])
    out['r'] = [a.send_local_list(2, 'Differential', [('T2', A), ('T3', NoRam())]),
                a.send_local_list(2, 'Full', [('T2', NoRam())])]
    out['kept'] = [a.list_version, a.list_count, st(a, 'T1'), st(a, 'T2')]


def lines_are_bounded_so_an_accepted_list_reloads(out):
    LONG = info('NotAllowedTypeEVSE', 253402300799, 'P' * 64)     # expiry: 9999-12-31
    a = new(list_max=16, cache_max=1)
    ents = [('%064d' % i, LONG) for i in range(16)]
    out['long'] = a.send_local_list(1, 'Full', ents)
    b = new(list_max=16, cache_max=1)
    out['long_reload'] = [b.damaged, b.list_version, b.list_count, b.lookup('%064d' % 3)[0]]
    ESC = '"\\' * 32                         # 64 characters, 128 bytes in JSON
    BIG = info('Accepted', None, ESC)
    out['escaped'] = b.send_local_list(2, 'Full', [(ESC, BIG), ('X', A)])
    out['escaped_put'] = [b.cache_put(ESC, BIG, 0), b.cache_put('Y', A, 0)]
    c = new(list_max=16, cache_max=1)
    out['after'] = [c.damaged, c.list_version, c.list_count, st(c, 'Y'), st(c, ESC)]


def cache_never_serves_an_id_of_the_list_after_reload(out):
    with open(DIR + '/authlist', 'w') as f:
        f.write('["L",1,4,1]\n["c0","Blocked",null,null]\n')
    with open(DIR + '/authcache', 'w') as f:
        f.write('["C",1,0,2]\n["C0","Accepted",null,null]\n["C1","Accepted",null,null]\n')
    a = new()
    out['loaded'] = [a.damaged, a.list_count, a.cache_count, st(a, 'C0')]
    a.send_local_list(5, 'Differential', [('C0', None)])
    out['removed'] = [st(a, 'C0'), st(a, 'C1')]


def case_handling(out):
    a = new()                                   # 1.6: CiString, compared by .upper()
    out['ci_dup'] = a.send_local_list(1, 'Full', [('abCd', A), ('ABCD', info('Blocked'))])  # one id
    a.send_local_list(1, 'Full', [('abCd', info('Blocked'))])
    out['ci'] = [a.list_count, st(a, 'abcd'), st(a, 'ABCD')]
    a.cache_put('xY', A, 0)
    out['ci_cache'] = [st(a, 'XY'), a.cache_put('ABCD', A, 0)]
    a.send_local_list(2, 'Differential', [('abcd', None)])
    out['ci_removed'] = a.list_count
    a.send_local_list(3, 'Differential', [('MiXeD', A)])
    out['stored_as_given'] = open(DIR + '/authlist').read().split('\n')[1]
    os.remove(DIR + '/authlist'); os.remove(DIR + '/authcache')
    b = new(case_insensitive=False)             # exact comparison (not used by the adapters)
    b.send_local_list(1, 'Full', [('abCd', A), ('ABCD', info('Blocked'))])
    out['cs'] = [b.list_count, st(b, 'abCd'), st(b, 'ABCD'), st(b, 'abcd')]
    b.cache_put('abcd', info('Invalid'), 0)
    out['cs_cache'] = [b.cache_count, st(b, 'abcd'), st(b, 'ABCD')]
    c = new(case_insensitive=False)
    out['cs_reload'] = [c.list_count, st(c, 'abCd'), st(c, 'ABCD')]


def persistence_across_reload(out):
    a = new()
    a.send_local_list(9, 'Full', [('T%02d' % i, info('Accepted', 1000 + i, 'P' if i % 2 else None))
                                  for i in range(40)] + [('lower', info('ConcurrentTx'))])
    a.cache_put('C1', info('Invalid', None, 'G'), 0)
    b = new()
    out['b'] = [b.load(), b.damaged, b.list_version, b.list_count, b.cache_count]
    out['same'] = all(a.lookup('T%02d' % i, 1020) == b.lookup('t%02d' % i, 1020) for i in range(40))
    out['some'] = [b.lookup('T07', 0)[0], st(b, 'LOWER'), b.lookup('c1')]
    out['files'] = sorted(os.listdir(DIR))


def damaged_files_read_empty_and_are_reported(out):
    GOOD_L = '["L",1,2,2]\n["A",  "Accepted",null,null]\n["B","Blocked",5,"P"]\n'
    GOOD_C = '["C",1,0,1]\n["K","Accepted",null,null]\n'
    BAD = {
        'garbage': '\x00\xff\xfe not json',
        'truncated': GOOD_L[:-12],
        'short': '["L",1,2,3]\n["A","Accepted",null,null]\n',
        'extra': GOOD_L + '["C","Accepted",null,null]\n',
        'status': '["L",1,2,1]\n["A","Fine",null,null]\n',
        'types': '["L",1,2,1]\n["A","Accepted","soon",null]\n',
        'header': '["X",1,2,0]\n',
        'format': '["L",9,2,0]\n',
        'count': '["L",1,2,99999]\n',
        'v0': '["L",1,0,1]\n["A","Accepted",null,null]\n',
        'empty': '',
        'huge': '["L",1,2,1]\n["' + 'A' * 60000 + '","Accepted",null,null]\n',
    }
    def put(name, text):
        with open(DIR + '/' + name, 'wb') as f:
            f.write(text)
    res = {}
    for k, text in BAD.items():
        put('authlist', text); put('authcache', GOOD_C)
        a = AuthStore(DIR, list_max=8)
        ok = a.load()
        res[k] = [ok, a.damaged, a.list_version, a.list_count, a.cache_count]
    out['list'] = res
    from firmware import log
    out['logged'] = [ln.split(' ', 2)[1] for ln in log.tail(40) if DIR + '/authlist' in ln][-2:]   # levels
    put('authlist', GOOD_L)
    a = AuthStore(DIR, list_max=8)
    out['good'] = [a.load(), a.damaged, a.list_version, a.list_count, st(a, 'b', 1)]
    res = {}
    for k in ('garbage', 'truncated', 'extra', 'empty'):
        put('authcache', BAD[k].replace('"L"', '"C"'))
        a = AuthStore(DIR, list_max=8)
        res[k] = [a.load(), a.damaged, a.list_version, a.list_count, a.cache_count]
    out['cache'] = res
    # a damaged file is replaced by the next good write
    out['repair'] = a.cache_put('K2', A, 0)
    b = AuthStore(DIR, list_max=8)
    out['repaired'] = [b.load(), b.damaged, b.cache_count, b.list_count]


def unreadable_file_is_damaged_not_absent(out):
    from firmware.auth import records
    real = records.os
    class FailingOs:
        def stat(self, p):
            raise OSError(5 if p.endswith('authlist') else 2)
    a = new()
    a.send_local_list(1, 'Full', [('T1', A)])
    records.os = FailingOs()
    b = AuthStore(DIR)
    out['eio'] = [b.load(), b.damaged, b.list_count, b.cache_count]
    records.os = real
    c = new()
    out['fine'] = [c.damaged, c.list_count]


def failed_flash_write_keeps_old_list_and_cache(out):
    wipe(); d = dev(); d.mount('/flash')
    a = AuthStore(D); a.load()
    a.send_local_list(1, 'Full', [('T%03d' % i, A) for i in range(100)])
    a.cache_put('C1', A, 0)
    res = []
    for n in (1, 2, 3, 5, 8):
        d.fail_after(n)
        r = a.send_local_list(2, 'Full', [('N%03d' % i, A) for i in range(100)])
        d.fail_after(0)
        res.append([r, a.list_version, a.list_count, st(a, 'T005'), st(a, 'N005')])
    out['failed'] = res
    d.fail_after(1)
    out['clear_failed'] = a.clear_cache()
    d.fail_after(0)
    out['list_after_clear'] = [a.list_version, a.list_count]
    d, how = remount(d)
    b = AuthStore(D)
    out['reloaded'] = [b.load(), b.list_version, b.list_count, st(b, 'T005'), st(b, 'C1')]
    out['ok_now'] = [b.send_local_list(2, 'Full', [('N1', A)]), b.list_version, b.list_count]


def power_cut(out):
    OLD = [('T%03d' % i, A) for i in range(200)]
    def expect_old():
        return 1, {('T%03d' % i): 'Accepted' for i in range(200)}
    def expect_new(kind):
        if kind == 'Full':
            return 2, {('N%03d' % i): 'Blocked' for i in range(120)}
        e = {('T%03d' % i): 'Accepted' for i in range(10, 200)}
        for i in range(10, 20):
            e['T%03d' % i] = 'Blocked'
        for i in range(40):
            e['N%03d' % i] = 'Accepted'
        e['C0'] = 'Accepted'
        return 2, e
    def update(a, kind):
        if kind == 'Full':
            return a.send_local_list(2, 'Full', [('N%03d' % i, info('Blocked')) for i in range(120)])
        ents = [('T%03d' % i, None) for i in range(10)]
        ents += [('T%03d' % i, info('Blocked')) for i in range(10, 20)]
        ents += [('N%03d' % i, A) for i in range(40)]
        ents += [('C0', A)]         # an id in the cache: the update rewrites the cache too
        return a.send_local_list(2, 'Differential', ents)
    def classify(a, kind):
        ids = set(expect_old()[1]) | set(expect_new(kind)[1])
        got = {}
        for t in ids:
            s = st(a, t)
            if s[1] == 'list':
                got[t] = s[0]
        for name, (v, e) in (('old', expect_old()), ('new', expect_new(kind))):
            if a.list_version == v and got == e and a.list_count == len(e):
                return name
        return 'MIX v%d n%d' % (a.list_version, a.list_count)
    def base():
        wipe(); d = dev(); d.mount('/flash')
        a = AuthStore(D); a.load()
        a.send_local_list(1, 'Full', OLD)
        a.cache_put('C0', info('Blocked'), 0); a.cache_put('C1', A, 0)
        umount('/flash'); d.close()
        with open(IMG, 'rb') as f:
            return f.read()
    img = base()
    for kind in ('Differential', 'Full'):
        seen = []
        n = 1
        while n < 200:
            with open(IMG, 'wb') as f:
                f.write(img)
            d = dev(); d.mount('/flash')
            a = AuthStore(D); a.load()
            d.cut_after(n, hard=False)
            try:
                res = update(a, kind)
                done = True
            except PowerCut:
                res, done = 'cut', False
            d.power_on()
            d, how = remount(d)
            store.cleanup('/flash')
            b = AuthStore(D)
            ok = b.load()
            seen.append([n, res, how, ok, classify(b, kind), b.cache_count, st(b, 'C1')[1]])
            umount('/flash'); d.close()
            if done:
                break
            n += 1
        out[kind] = seen


def heap(out):
    res = {}
    for name in ('plain20', 'mixed20', 'rich36'):
        fmt = make(name)
        gc.collect()
        b = AuthStore(DIR, case_insensitive=name != 'rich36')
        gc.collect()
        m1 = gc.mem_alloc()
        b.load()
        gc.collect()
        m2 = gc.mem_alloc()
        r = b.send_local_list(5, 'Differential', [(fmt % 7, info('Blocked'))])
        res[name] = {'retained': m2 - m1, 'count': b.list_count, 'r': r,
                     'file': os.stat(DIR + '/authlist')[6]}
        del b
    out['heap'] = res


def make_case(out):
    out["fmt"] = make(sys.argv[3])


CASES = {
    "full_differential": full_differential,
    "list_max_failed_keeps_old_list": list_max_failed_keeps_old_list,
    "lookup_precedence_expiry_and_parent": lookup_precedence_expiry_and_parent,
    "cache_lru_bound_and_clear_cache_keeps_list": cache_lru_bound_and_clear_cache_keeps_list,
    "cache_evicts_not_valid_entries_first": cache_evicts_not_valid_entries_first,
    "duplicate_ids_fail_and_keep_the_old_list": duplicate_ids_fail_and_keep_the_old_list,
    "no_ram_while_merging_an_update_is_failed": no_ram_while_merging_an_update_is_failed,
    "lines_are_bounded_so_an_accepted_list_reloads": lines_are_bounded_so_an_accepted_list_reloads,
    "cache_never_serves_an_id_of_the_list_after_reload": cache_never_serves_an_id_of_the_list_after_reload,
    "case_handling": case_handling,
    "persistence_across_reload": persistence_across_reload,
    "damaged_files_read_empty_and_are_reported": damaged_files_read_empty_and_are_reported,
    "unreadable_file_is_damaged_not_absent": unreadable_file_is_damaged_not_absent,
    "failed_flash_write_keeps_old_list_and_cache": failed_flash_write_keeps_old_list_and_cache,
    "power_cut": power_cut,
    "heap": heap,
    "make": make_case,
}
result = {}
CASES[sys.argv[1]](result)
report(result)

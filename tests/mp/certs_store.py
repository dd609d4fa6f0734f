"""firmware/security/certs under MicroPython (tests/unit/test_certs.py): the certificate
store on flash (install, listing, delete, bounds, AdditionalRootCertificateCheck, V2G
chains), signature checks, power cuts and failed writes on the simulated littlefs.

argv: CASE DIR — DIR holds pki.json (name -> PEM, made by the test with `cryptography`);
the store goes in DIR/fs, or on a simulated flash image DIR/flash.img mounted at /flash.
CASE: one of the functions in CASES."""
import json
import os
import sys
import time

import x509
from boards.sim.flash import FlashDevice, PowerCut, umount
from firmware.security import certs
from firmware.security.certs import chain, sig
from firmware.security.certs.store import CertStore
from out import report

DIR = sys.argv[2]
with open(DIR + "/pki.json") as f:
    pki = json.load(f)
NOW = time.time()
IMG = DIR + "/flash.img"
D = "/flash/certs"


def hd(listing):
    return [[k, h, kids] for k, h, kids in listing]


def dev(blocks=64):
    return FlashDevice(IMG, blocks)


def remount(d, blocks=64):
    umount("/flash")
    d.close()
    d = dev(blocks)
    return d, d.mount("/flash")


def files():
    return sorted(os.listdir(D))


def install_list_delete(out):
    st = certs.open_store(DIR + '/fs')
    out['a'] = st.install(certs.CSMS, pki['a'], NOW, 24)
    out['r'] = st.install(certs.MF, pki['r'], NOW, 24)
    out['sub'] = st.install(certs.CSMS, pki['sub'], NOW, 24)
    out['dup'] = st.install(certs.CSMS, pki['a'], NOW, 24)
    out['dup_other_kind'] = st.install(certs.MF, pki['a'], NOW, 24)
    out['count'] = st.count()
    out['list'] = hd(st.listing())
    out['mf'] = hd(st.listing((certs.MF,)))
    out['roots'] = [len(d) for d in certs.csms_roots(DIR + '/fs')]
    h_sub = out['list'][2][1]
    h_a = out['list'][0][1]
    h_r = out['list'][1][1]
    upper = dict(h_sub, issuerKeyHash=h_sub['issuerKeyHash'].upper(), serialNumber='00' + h_sub['serialNumber'])
    out['del_sub'] = st.delete(upper, (certs.CSMS, certs.MF))
    out['del_again'] = st.delete(h_sub, (certs.CSMS, certs.MF))
    out['del_wrong_kinds'] = st.delete(h_r, (certs.CSMS,))
    out['del_last_csms_in_use'] = st.delete(h_a, (certs.CSMS,), keep_csms=True)
    out['del_both_a'] = st.delete(h_a, (certs.CSMS, certs.MF))
    out['left'] = hd(st.listing())
    out['files'] = sorted(os.listdir(DIR + '/fs/certs'))


def invalid(out):
    st = certs.open_store(DIR + '/fs')
    pki['two'] = pki['a'] + pki['r']
    pki['text'] = 'not a certificate'
    pki['badb64'] = '-----BEGIN CERTIFICATE-----\nMII!!!*\n-----END CERTIFICATE-----\n'
    pki['noend'] = pki['a'][:200]
    for k in ('expired', 'future', 'leaf', 'nosign', 'orphan', 'badsig', 'garbage', 'flip', 'two',
              'text', 'badb64', 'noend'):
        r = st.install(certs.CSMS, pki[k], NOW, 24)
        out[k] = [r[0], r[1], r[2] is not None]
    out['count'] = st.count()
    out['files'] = sorted(os.listdir(DIR + '/fs/certs'))


def signatures(out):
    loaded = {k: x509.load(v) for k, v in pki.items()}
    out['self'] = [sig.check(loaded[k], loaded[k]) for k in ('a', 'r', 'p384', 'badsig')]
    out['chain'] = [sig.check(loaded['sub'], loaded['a']), sig.check(loaded['a2'], loaded['a']),
                    sig.check(loaded['a3'], loaded['a2']), sig.check(loaded['a384'], loaded['a'])]
    out['wrong_key'] = [sig.check(loaded['sub'], loaded['b']), sig.check(loaded['a3'], loaded['a']),
                        sig.check(loaded['s2'], loaded['r'])]


def root_check(out):
    st = certs.open_store(DIR + '/fs')
    def csms():
        return [[h['serialNumber'], k] for k, h, _ in st.listing((certs.CSMS,))]
    out['first'] = st.install(certs.CSMS, pki['a'], NOW, 24, check_root=True)
    out['unsigned'] = st.install(certs.CSMS, pki['b'], NOW, 24, check_root=True)
    out['sha384'] = st.install(certs.CSMS, pki['a384'], NOW, 24, check_root=True)
    out['after_rejects'] = csms()
    out['a2'] = st.install(certs.CSMS, pki['a2'], NOW, 24, check_root=True)
    out['a2_hash'] = st.listing((certs.CSMS,))[-1][1]
    out['roots'] = [x509.load(d).cn for d in st.csms_roots()]
    out['mf_unchecked'] = st.install(certs.MF, pki['b'], NOW, 24, check_root=True)
    out['a3'] = st.install(certs.CSMS, pki['a3'], NOW, 24, check_root=True)
    out['roots2'] = [x509.load(d).cn for d in st.csms_roots()]
    out['dropped'] = st.drop_fallback()
    out['roots3'] = [x509.load(d).cn for d in st.csms_roots()]
    out['files'] = sorted(os.listdir(DIR + '/fs/certs'))


def v2g_chain(out):
    st = certs.open_store(DIR + '/fs')
    ders = [x509.pem_to_der(pki[k])[0] for k in ('cs', 's2', 's1')]
    out['no_root'] = chain.add(st, ders, NOW, 24)[0]
    out['root'] = st.install(certs.V2G, pki['v2g'], NOW, 24)[0]
    out['chain'] = chain.add(st, ders, NOW, 24)
    out['again'] = chain.add(st, ders[:2] + [x509.pem_to_der(pki['s1'])[0]], NOW, 24)[0]
    out['list'] = hd(st.listing())
    out['count'] = st.count()
    out['full'] = chain.add(st, ders, NOW, 3)[:2]
    out['del_leaf'] = st.delete(out['list'][1][1], (certs.CHAIN, certs.V2G))
    out['del_child'] = st.delete(out['list'][1][2][0], (certs.CHAIN, certs.V2G))
    out['files'] = len(os.listdir(DIR + '/fs/certs'))


def store_full(out):
    d = dev(); d.mount('/flash')
    st = certs.open_store('/flash')
    res = [st.install(certs.CSMS, pki[k], NOW, 3)[:2] for k in ('a', 'r', 'b', 'v2g')]
    out['limit'] = res
    # failed flash writes: Failed, nothing changed, no file left behind
    fails = []
    for n in (1, 2, 3, 4, 6, 9):
        d.fail_after(n)
        r = st.install(certs.MF, pki['v2g'], NOW, 10)
        d.fail_after(0)
        fails.append([n, r[0], r[1], st.count()])
        if r[0] == 'Accepted':
            break
    out['fails'] = fails
    out['files_after_fails'] = files()
    umount('/flash'); d.close()
    os.remove(IMG)
    # a small flash: refused while the reserve would be touched, never a failed write
    d = dev(40); d.mount('/flash')
    st = CertStore(D, reserve_blocks=28)
    st.check()
    small = []
    for k in ('a', 'r', 'b', 'v2g', 'p384', 's1', 's2', 'sub', 'a2'):
        small.append(st.install(certs.MF, pki[k], NOW, 100)[:2])
    out['small'] = small
    out['free'] = os.statvfs('/flash')[3]


def power_cut(out):
    try:
        os.remove(IMG)
    except OSError:
        pass
    d = dev(); d.mount('/flash')
    st = certs.open_store('/flash')
    st.install(certs.CSMS, pki['a'], NOW, 24); st.install(certs.MF, pki['r'], NOW, 24)
    h_a = st.listing()[0][1]
    umount('/flash'); d.close()
    base = open(IMG, 'rb').read()
    def state(st):
        es = st.entries()
        whole = all(st.read(e) is not None for e in es)
        names = sorted(['%d.der' % e[0] for e in st._load()['e']] + ['index.json'])
        return [len(es), whole, files() == names]
    for what in ('install', 'delete'):
        seen = []
        n = 1
        while n < 100:
            open(IMG, 'wb').write(base)
            d = dev(); d.mount('/flash')
            st = CertStore(D)
            d.cut_after(n, hard=False)
            try:
                if what == 'install':
                    res = st.install(certs.CSMS, pki['r'], NOW, 24)[0]
                else:
                    res = st.delete(h_a, (certs.CSMS,))
                done = True
            except PowerCut:
                res, done = 'cut', False
            d.power_on()
            d, how = remount(d)
            st = certs.open_store('/flash')
            seen.append([n, res, how, st.damaged] + state(st))
            umount('/flash'); d.close()
            if done:
                break
            n += 1
        out[what] = seen


def damaged_index(out):
    st = certs.open_store(DIR + '/fs')
    st.install(certs.CSMS, pki['a'], NOW, 24)
    open(DIR + '/fs/certs/index.json', 'w').write('{"e": [1, ')
    st = certs.open_store(DIR + '/fs')
    out['state'] = [st.damaged, st.count(), sorted(os.listdir(DIR + '/fs/certs'))]
    out['again'] = st.install(certs.CSMS, pki['a'], NOW, 24)[0]
    st = certs.open_store(DIR + '/fs')
    out['after'] = [st.damaged, st.count(), sorted(os.listdir(DIR + '/fs/certs'))]


CASES = {"install_list_delete": install_list_delete, "invalid": invalid, "signatures": signatures,
         "root_check": root_check, "v2g_chain": v2g_chain, "store_full": store_full,
         "power_cut": power_cut, "damaged_index": damaged_index}
try:
    os.mkdir(DIR + "/fs")
except OSError:
    pass
result = {}
CASES[sys.argv[1]](result)
report(result)

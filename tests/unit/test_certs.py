"""firmware/security/certs under MicroPython: the certificate store on flash (install, listing,
delete, bounds, AdditionalRootCertificateCheck, V2G chains), signature checks, and power
cuts / failed writes on the simulated littlefs. Certificates are made with
`cryptography`; expected hash data comes from OpenSSL's OCSP CertID (RFC 6960), not
from lib/x509."""
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from tests import mp

DER = serialization.Encoding.DER
PEM = serialization.Encoding.PEM
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def expected_hash(cert, issuer=None):
    """CertificateHashData as OpenSSL computes it for an OCSP CertID (SHA-256)."""
    req = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer or cert, hashes.SHA256()).build()
    return {"hashAlgorithm": "SHA256", "issuerNameHash": req.issuer_name_hash.hex(),
            "issuerKeyHash": req.issuer_key_hash.hex(), "serialNumber": format(cert.serial_number, "x")}


class Made:
    def __init__(self, cert, key):
        self.cert, self.key = cert, key
        self.pem = cert.public_bytes(PEM).decode()
        self.der = cert.public_bytes(DER)


def make(cn, issuer=None, key="ec", ca=True, certsign=True, nb=None, na=None,
         alg=hashes.SHA256(), issuer_name=None):
    """A certificate; issuer: a Made (else self-signed)."""
    k = {"ec": lambda: ec.generate_private_key(ec.SECP256R1()),
         "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
         "rsa": lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)}[key]()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    iname = issuer_name or (issuer.cert.subject if issuer else subject)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(iname)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(nb or NOW - DAY).not_valid_after(na or NOW + 3650 * DAY)
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, ca and certsign,
                                      ca, False, False), True))
    return Made(b.sign(issuer.key if issuer else k, alg), k)


@pytest.fixture(scope="module")
def pki():
    p = {}
    p["a"] = make("Root A")
    p["r"] = make("Root R", key="rsa")
    p["sub"] = make("Sub A", issuer=p["a"])
    p["expired"] = make("Old", nb=NOW - 400 * DAY, na=NOW - 30 * DAY)
    p["future"] = make("Future", nb=NOW + 30 * DAY)
    p["leaf"] = make("leaf.example", issuer=p["a"], ca=False)
    p["nosign"] = make("No certSign", certsign=False)
    p["orphan"] = make("Orphan", issuer=make("Unknown CA"))
    p["b"] = make("Root B")
    p["a2"] = make("Root A2", issuer=p["a"])                      # signed by A: A's successor
    p["a3"] = make("Root A3", issuer=p["a2"], key="rsa")          # signed by A2
    p["a384"] = make("Root A384", issuer=p["a"], alg=hashes.SHA384())   # not checkable here
    p["p384"] = make("P384 Root", key="p384", alg=hashes.SHA384())
    p["v2g"] = make("V2G Root")
    p["s1"] = make("V2G Sub 1", issuer=p["v2g"])
    p["s2"] = make("V2G Sub 2", issuer=p["s1"], key="rsa")
    p["cs"] = make("CPO SECC", issuer=p["s2"], ca=False)
    bad = bytearray(p["r"].der)
    bad[-1] ^= 1                                                  # RSA signature broken
    p["badsig"] = bad
    return p


def pem_of(der):
    import base64
    body = base64.encodebytes(bytes(der)).decode()
    return "-----BEGIN CERTIFICATE-----\n%s-----END CERTIFICATE-----\n" % body


PRELUDE = r"""
import os, sys, json, time
from firmware.security import certs as C
from firmware.security.certs import sig, chain
from firmware.security.certs.store import CertStore
import x509
ARG = sys.argv[-1]
P = json.load(open(ARG + '/pki.json'))
NOW = time.time()
out = {}
try:
    os.mkdir(ARG + '/fs')
except OSError:
    pass
def hd(l):
    return [[k, h, kids] for k, h, kids in l]
"""

FLASH = r"""
import store
from boards.sim.flash import FlashDevice, PowerCut, umount
IMG = ARG + '/flash.img'
D = '/flash/certs'
def dev(blocks=64):
    return FlashDevice(IMG, blocks)
def remount(d, blocks=64):
    umount('/flash'); d.close()
    d = dev(blocks)
    return d, d.mount('/flash')
def files():
    return sorted(os.listdir(D))
"""


def run(tmp_path, pki, code, flash=False, timeout=60):
    data = {k: (v.pem if isinstance(v, Made) else pem_of(v)) for k, v in pki.items()}
    (tmp_path / "pki.json").write_text(json.dumps(data))
    src = PRELUDE + (FLASH if flash else "") + code + "\nprint(json.dumps(out))\n"
    p = mp.run(src, timeout=timeout, args=(str(tmp_path),))
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_install_list_delete_hash_data(tmp_path, pki):
    out = run(tmp_path, pki, r"""
st = C.open_store(ARG + '/fs')
out['a'] = st.install(C.CSMS, P['a'], NOW, 24)
out['r'] = st.install(C.MF, P['r'], NOW, 24)
out['sub'] = st.install(C.CSMS, P['sub'], NOW, 24)
out['dup'] = st.install(C.CSMS, P['a'], NOW, 24)
out['dup_other_kind'] = st.install(C.MF, P['a'], NOW, 24)
out['count'] = st.count()
out['list'] = hd(st.listing())
out['mf'] = hd(st.listing((C.MF,)))
out['roots'] = [len(d) for d in C.csms_roots(ARG + '/fs')]
h_sub = out['list'][2][1]
h_a = out['list'][0][1]
h_r = out['list'][1][1]
upper = dict(h_sub, issuerKeyHash=h_sub['issuerKeyHash'].upper(), serialNumber='00' + h_sub['serialNumber'])
out['del_sub'] = st.delete(upper, (C.CSMS, C.MF))
out['del_again'] = st.delete(h_sub, (C.CSMS, C.MF))
out['del_wrong_kinds'] = st.delete(h_r, (C.CSMS,))
out['del_last_csms_in_use'] = st.delete(h_a, (C.CSMS,), keep_csms=True)
out['del_both_a'] = st.delete(h_a, (C.CSMS, C.MF))
out['left'] = hd(st.listing())
out['files'] = sorted(os.listdir(ARG + '/fs/certs'))
""")
    a, r, sub = pki["a"].cert, pki["r"].cert, pki["sub"].cert
    assert out["a"] == ["Accepted", None, None] and out["r"] == ["Accepted", None, None]
    assert out["sub"] == ["Accepted", None, None]            # its issuer A is installed
    assert out["dup"] == ["Accepted", None, "already installed"]
    assert out["dup_other_kind"] == ["Accepted", None, None]  # a second purpose: own entry
    assert out["count"] == 4
    assert out["list"] == [["csms", expected_hash(a), []], ["mf", expected_hash(r), []],
                           ["csms", expected_hash(sub, a), []], ["mf", expected_hash(a), []]]
    assert out["mf"] == [["mf", expected_hash(r), []], ["mf", expected_hash(a), []]]
    assert out["roots"] == [len(pki["sub"].der), len(pki["a"].der)]   # newest first
    assert out["del_sub"] == "Accepted" and out["del_again"] == "NotFound"
    assert out["del_wrong_kinds"] == "NotFound"
    assert out["del_last_csms_in_use"] == "Failed"
    assert out["del_both_a"] == "Accepted"                    # both entries of that certificate
    assert out["left"] == [["mf", expected_hash(r), []]]
    assert out["files"] == ["2.der", "index.json"]


def test_invalid_certificates_rejected(tmp_path, pki):
    p = dict(pki)
    p["garbage"] = b"\x30\x03\x02\x01"                            # truncated DER in PEM armor
    p["flip"] = bytes(pki["a"].der[:40]) + b"\xff" + bytes(pki["a"].der[41:])
    p["two"] = pki["a"].der                                       # replaced below
    out = run(tmp_path, p, r"""
st = C.open_store(ARG + '/fs')
P['two'] = P['a'] + P['r']
P['text'] = 'not a certificate'
P['badb64'] = '-----BEGIN CERTIFICATE-----\nMII!!!*\n-----END CERTIFICATE-----\n'
P['noend'] = P['a'][:200]
for k in ('expired', 'future', 'leaf', 'nosign', 'orphan', 'badsig', 'garbage', 'flip', 'two',
          'text', 'badb64', 'noend'):
    r = st.install(C.CSMS, P[k], NOW, 24)
    out[k] = [r[0], r[1], r[2] is not None]
out['count'] = st.count()
out['files'] = sorted(os.listdir(ARG + '/fs/certs'))
""")
    for k in ("expired", "future", "leaf", "nosign", "orphan", "badsig", "garbage", "flip",
              "two", "text", "badb64", "noend"):
        assert out[k] == ["Rejected", "InvalidCertificate", True], (k, out[k])
    assert out["count"] == 0 and out["files"] == []


def test_signature_checks(tmp_path, pki):
    out = run(tmp_path, pki, r"""
L = {k: x509.load(v) for k, v in P.items()}
out['self'] = [sig.check(L[k], L[k]) for k in ('a', 'r', 'p384', 'badsig')]
out['chain'] = [sig.check(L['sub'], L['a']), sig.check(L['a2'], L['a']),
                sig.check(L['a3'], L['a2']), sig.check(L['a384'], L['a'])]
out['wrong_key'] = [sig.check(L['sub'], L['b']), sig.check(L['a3'], L['a']),
                    sig.check(L['s2'], L['r'])]
""")
    assert out["self"] == [True, True, None, False]
    assert out["chain"] == [True, True, True, None]
    assert out["wrong_key"] == [False, False, False]


def test_additional_root_certificate_check(tmp_path, pki):
    """1.6 M05.FR.08-13 / 2.0.1 M05 (TC_M_09, TC_M_30): a new CSMS root must be signed
    by the installed one, which stays as the fallback until dropped."""
    out = run(tmp_path, pki, r"""
st = C.open_store(ARG + '/fs')
def csms():
    return [[h['serialNumber'], k] for k, h, _ in st.listing((C.CSMS,))]
out['first'] = st.install(C.CSMS, P['a'], NOW, 24, check_root=True)
out['unsigned'] = st.install(C.CSMS, P['b'], NOW, 24, check_root=True)
out['sha384'] = st.install(C.CSMS, P['a384'], NOW, 24, check_root=True)
out['after_rejects'] = csms()
out['a2'] = st.install(C.CSMS, P['a2'], NOW, 24, check_root=True)
out['a2_hash'] = st.listing((C.CSMS,))[-1][1]
out['roots'] = [x509.load(d).cn for d in st.csms_roots()]
out['mf_unchecked'] = st.install(C.MF, P['b'], NOW, 24, check_root=True)
out['a3'] = st.install(C.CSMS, P['a3'], NOW, 24, check_root=True)
out['roots2'] = [x509.load(d).cn for d in st.csms_roots()]
out['dropped'] = st.drop_fallback()
out['roots3'] = [x509.load(d).cn for d in st.csms_roots()]
out['files'] = sorted(os.listdir(ARG + '/fs/certs'))
""")
    assert out["first"][0] == "Accepted"                  # nothing to replace yet
    assert out["unsigned"] == ["Rejected", "InvalidCertificate", "not signed by the installed CSMS root"]
    assert out["sha384"][0] == "Rejected"                 # cannot be checked here: refused
    assert len(out["after_rejects"]) == 1
    assert out["a2"][0] == "Accepted"
    assert out["a2_hash"] == expected_hash(pki["a2"].cert, pki["a"].cert)   # A's key
    assert out["roots"] == ["Root A2", "Root A"]           # new first, fallback after
    assert out["mf_unchecked"][0] == "Accepted"
    assert out["a3"][0] == "Accepted"
    assert out["roots2"] == ["Root A3", "Root A2"]         # A gone, A2 the fallback
    assert out["dropped"] == 1 and out["roots3"] == ["Root A3"]
    assert out["files"] == ["3.der", "4.der", "index.json"]   # B (manufacturer), A3


def test_v2g_chain(tmp_path, pki):
    p = dict(pki)
    out = run(tmp_path, p, r"""
st = C.open_store(ARG + '/fs')
ders = [x509.pem_to_der(P[k])[0] for k in ('cs', 's2', 's1')]
out['no_root'] = chain.add(st, ders, NOW, 24)[0]
out['root'] = st.install(C.V2G, P['v2g'], NOW, 24)[0]
out['chain'] = chain.add(st, ders, NOW, 24)
out['again'] = chain.add(st, ders[:2] + [x509.pem_to_der(P['s1'])[0]], NOW, 24)[0]
out['list'] = hd(st.listing())
out['count'] = st.count()
out['full'] = chain.add(st, ders, NOW, 3)[:2]
out['del_leaf'] = st.delete(out['list'][1][1], (C.CHAIN, C.V2G))
out['del_child'] = st.delete(out['list'][1][2][0], (C.CHAIN, C.V2G))
out['files'] = len(os.listdir(ARG + '/fs/certs'))
""")
    c = {k: pki[k].cert for k in ("v2g", "s1", "s2", "cs")}
    assert out["no_root"] == "Rejected" and out["root"] == "Accepted"
    assert out["chain"] == ["Accepted", None, None] and out["again"] == "Accepted"
    assert out["list"] == [
        ["v2g", expected_hash(c["v2g"]), []],
        ["chain", expected_hash(c["cs"], c["s2"]),
         [expected_hash(c["s2"], c["s1"]), expected_hash(c["s1"], c["v2g"])]]]
    assert out["count"] == 4                              # the replaced chain is gone
    assert out["full"] == ["Rejected", "OutOfStorage"]    # 1 root + 3 > 3
    assert out["del_leaf"] == "Failed"                    # M04.FR.05: the station's own
    assert out["del_child"] == "NotFound"
    assert out["files"] == 5                              # 4 certificates + index


def test_store_full_flash_full_and_failed_writes(tmp_path, pki):
    out = run(tmp_path, pki, r"""
d = dev(); d.mount('/flash')
st = C.open_store('/flash')
res = [st.install(C.CSMS, P[k], NOW, 3)[:2] for k in ('a', 'r', 'b', 'v2g')]
out['limit'] = res
# failed flash writes: Failed, nothing changed, no file left behind
fails = []
for n in (1, 2, 3, 4, 6, 9):
    d.fail_after(n)
    r = st.install(C.MF, P['v2g'], NOW, 10)
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
    small.append(st.install(C.MF, P[k], NOW, 100)[:2])
out['small'] = small
out['free'] = os.statvfs('/flash')[3]
""", flash=True)
    assert out["limit"] == [["Accepted", None]] * 3 + [["Rejected", "OutOfStorage"]]
    fails = out["fails"]
    assert len(fails) >= 3 and fails[-1][1] == "Accepted" and fails[-1][3] == 4, fails
    for n, status, code, count in fails[:-1]:
        assert [status, code, count] == ["Failed", "InternalError", 3], fails
    assert out["files_after_fails"] == ["1.der", "2.der", "3.der", "4.der", "index.json"], out
    small = out["small"]
    assert ["Rejected", "OutOfStorage"] in small and ["Failed", "InternalError"] not in small
    first = small.index(["Rejected", "OutOfStorage"])
    assert first >= 1 and all(s == ["Rejected", "OutOfStorage"] for s in small[first:]), small
    assert out["free"] >= 28


def test_power_cut_at_every_write_of_install_and_delete(tmp_path, pki):
    """A cut at any flash program/erase of an install (or a delete) leaves the old or
    the new state after the reboot, every listed certificate whole, no stray file."""
    out = run(tmp_path, pki, r"""
try:
    os.remove(IMG)
except OSError:
    pass
d = dev(); d.mount('/flash')
st = C.open_store('/flash')
st.install(C.CSMS, P['a'], NOW, 24); st.install(C.MF, P['r'], NOW, 24)
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
                res = st.install(C.CSMS, P['r'], NOW, 24)[0]
            else:
                res = st.delete(h_a, (C.CSMS,))
            done = True
        except PowerCut:
            res, done = 'cut', False
        d.power_on()
        d, how = remount(d)
        st = C.open_store('/flash')
        seen.append([n, res, how, st.damaged] + state(st))
        umount('/flash'); d.close()
        if done:
            break
        n += 1
    out[what] = seen
""", flash=True, timeout=120)
    for what, old, new in (("install", 2, 3), ("delete", 2, 1)):
        seen = out[what]
        assert len(seen) > 3, seen
        assert seen[-1][1] == "Accepted" and all(s[1] == "cut" for s in seen[:-1]), seen
        assert all(s[2] == "mounted" and s[3] is False and s[5] and s[6] for s in seen), seen
        counts = [s[4] for s in seen]
        assert set(counts) <= {old, new}, seen                 # never a mix
        k = counts.index(new)
        assert set(counts[:k]) == {old} and set(counts[k:]) == {new}, seen


def test_damaged_index_reads_empty_and_keeps_files(tmp_path, pki):
    out = run(tmp_path, pki, r"""
st = C.open_store(ARG + '/fs')
st.install(C.CSMS, P['a'], NOW, 24)
open(ARG + '/fs/certs/index.json', 'w').write('{"e": [1, ')
st = C.open_store(ARG + '/fs')
out['state'] = [st.damaged, st.count(), sorted(os.listdir(ARG + '/fs/certs'))]
out['again'] = st.install(C.CSMS, P['a'], NOW, 24)[0]
st = C.open_store(ARG + '/fs')
out['after'] = [st.damaged, st.count(), sorted(os.listdir(ARG + '/fs/certs'))]
""")
    assert out["state"] == [True, 0, ["1.der", "index.json"]]
    assert out["again"] == "Accepted"
    assert out["after"] == [False, 1, ["1.der", "index.json"]]

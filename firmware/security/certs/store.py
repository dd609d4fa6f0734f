"""The certificate store on flash: one DER file per certificate under <dir>/ (N.der),
named by an index (<dir>/index.json) that is the commit point.

Install writes the DER file (store.atomic_write: temporary + rename), then the index;
delete writes the index, then removes the files. littlefs renames atomically, so a
power cut at any write leaves the old index or the new one, each naming only whole
files; check() (once a boot, before first use) removes the temporaries, the files no
index names, and entries whose file is missing or of the wrong size. Every read checks
the file against the size and SHA-256 prefix the index holds.

An index entry is a list [id, kind, flags, size, fp, issuerNameHash, issuerKeyHash,
serialNumber, parent]: the CertificateHashData (SHA256) is computed at install, with the
key of the certificate that issued it (its own for a self-issued root), and kept, so a
listing reads no certificate. parent is 0, or the chain entry a V2G sub-CA belongs to.
The index is read for each operation and dropped after: nothing stays in RAM.
"""
from micropython import const
from binascii import hexlify
from hashlib import sha256
import os
import store
import x509
from firmware import log
from firmware.security.certs import CSMS, CHAIN
from firmware.security.certs.sig import check as sig_check

FALLBACK = const(1)  # flags: the previous CSMS root kept after a checked replacement
_ID = const(0)
_KIND = const(1)
_FLAGS = const(2)
_SIZE = const(3)
_FP = const(4)
_NH = const(5)
_KH = const(6)
_SER = const(7)
_UP = const(8)
_RESERVE = const(16)         # flash blocks left free for the journal and settings
_INDEX = const("/index.json")


def _fp(der):
    return hexlify(sha256(der).digest()[:16]).decode()


def hash_data(e):
    """An index entry's CertificateHashData."""
    return {"hashAlgorithm": "SHA256", "issuerNameHash": e[_NH], "issuerKeyHash": e[_KH],
            "serialNumber": e[_SER]}


class CertStore:
    def __init__(self, dirpath, reserve_blocks=_RESERVE):
        self.dir = dirpath
        self.reserve = reserve_blocks
        self.damaged = False

    # ------------------------------------------------------------ index and files
    def _load(self):
        idx, ok = store.load_json(self.dir + _INDEX, None)
        if not ok or not isinstance(idx, dict) or not isinstance(idx.get("e"), list):
            if idx is not None or not ok:
                self.damaged = True
                log.error("certs", "index damaged: store read as empty")
            idx = {"next": 1, "e": []}
        return idx

    def _save(self, idx):
        store.save_json(self.dir + _INDEX, idx)

    def _path(self, i):
        return "%s/%d.der" % (self.dir, i)

    def read(self, e):
        """The DER of entry e, or None if its file is missing or not what was stored."""
        try:
            der = store.read(self._path(e[_ID]), None, x509.MAX_CERT)
        except OSError:
            der = None
        if der is None or len(der) != e[_SIZE] or _fp(der) != e[_FP]:
            log.error("certs", "certificate %d unreadable or changed", e[_ID])
            return None
        return der

    def _cert(self, e):
        der = self.read(e)
        try:
            return None if der is None else x509.Certificate(der)
        except x509.Invalid:
            return None

    def _rm(self, entries):
        for e in entries:
            try:
                os.remove(self._path(e[_ID]))
            except OSError:
                pass

    def check(self):
        """At boot: temporaries, unnamed files and entries without their file go.
        Returns (entries dropped, files removed)."""
        try:
            os.mkdir(self.dir)
        except OSError:
            pass
        store.cleanup(self.dir)
        idx = self._load()
        keep, dropped = [], 0
        for e in idx["e"]:
            try:
                ok = os.stat(self._path(e[_ID]))[6] == e[_SIZE]
            except OSError:
                ok = False
            if ok:
                keep.append(e)
            else:
                dropped += 1
                log.error("certs", "entry %d lost its file: dropped", e[_ID])
        if dropped:
            idx["e"] = keep
            try:
                self._save(idx)
            except (OSError, ValueError) as ex:     # the entries are skipped on read anyway
                log.error("certs", "check: %s", ex)
        names = {"%d.der" % e[_ID] for e in keep}
        removed = 0
        try:
            ents = [] if self.damaged else list(os.ilistdir(self.dir))
        except OSError:
            ents = []
        if ents:                 # a damaged index names nothing: keep the files then
            for ent in ents:
                if ent[0] != _INDEX[1:] and ent[0] not in names:
                    try:
                        os.remove(self.dir + "/" + ent[0])
                        removed += 1
                    except OSError:
                        pass
        return dropped, removed

    def _room(self, size, files=1):
        """Room for `files` new files of `size` bytes together, the index rewritten
        (littlefs copies on write) and the reserve left free."""
        try:
            st = os.statvfs(self.dir)
        except OSError:
            return False
        return st[3] >= size // st[0] + files + 2 + self.reserve

    # ------------------------------------------------------------ queries
    def entries(self, kinds=None):
        """Top-level entries (no chain sub-CAs), optionally of the given kinds."""
        return [e for e in self._load()["e"] if not e[_UP] and (kinds is None or e[_KIND] in kinds)]

    def listing(self, kinds=None):
        """[(kind, hash data, [child hash data])] of the top-level entries."""
        es = self._load()["e"]
        out = []
        for e in es:
            if not e[_UP] and (kinds is None or e[_KIND] in kinds):
                kids = [hash_data(c) for c in es if c[_UP] == e[_ID]]
                out.append((e[_KIND], hash_data(e), kids))
        return out

    def count(self):
        """Certificates installed (chain sub-CAs included): 2.0.1 CertificateEntries."""
        return len(self._load()["e"])

    def csms_roots(self, fallback=True):
        """DER of every CSMS root, the one in force first, a fallback (kept after a
        checked replacement, 1.6 M05.FR.11 / 2.0.1 M05.FR.13) after it (fallback=False:
        without it)."""
        es = [e for e in self._load()["e"] if e[_KIND] == CSMS and
              (fallback or not e[_FLAGS] & FALLBACK)]
        es.sort(key=lambda e: (e[_FLAGS] & FALLBACK, -e[_ID]))
        return [d for d in (self.read(e) for e in es) if d is not None]

    def drop_fallback(self):
        """Once a connection was verified with the new CSMS root (M05.FR.12)."""
        idx = self._load()
        gone = [e for e in idx["e"] if e[_KIND] == CSMS and e[_FLAGS] & FALLBACK]
        if gone:
            idx["e"] = [e for e in idx["e"] if e not in gone]
            self._save(idx)
            self._rm(gone)
        return len(gone)

    # ------------------------------------------------------------ changes
    def install(self, kind, data, now, limit, check_root=False):
        """Install one CA certificate (PEM text or DER) -> (status, reasonCode, info),
        status Accepted / Rejected / Failed (1.6 security M05, 2.0.1 M05).

        check_root (AdditionalRootCertificateCheck, M05.FR.08-11) for kind CSMS: a new
        root must be issued and signed by an installed CSMS root, which it replaces;
        that one stays as the fallback, any other CSMS root goes."""
        try:
            c = x509.load(data)
        except x509.Invalid as ex:
            return _no("InvalidCertificate", str(ex))
        if not x509.is_ca(c) or (c.key_usage is not None and not c.key_usage & x509.KEY_CERT_SIGN):
            return _no("InvalidCertificate", "not a CA certificate")
        if not x509.valid_at(c, now):
            return _no("InvalidCertificate", "expired" if now > c.not_after else "not yet valid")
        der = bytes(c.der)
        idx = self._load()
        es = idx["e"]
        fp = _fp(der)
        for e in es:
            if e[_KIND] == kind and e[_FP] == fp:
                return ("Accepted", None, "already installed")
        drop, signer = [], None
        olds = [e for e in es if e[_KIND] == CSMS] if check_root and kind == CSMS else ()
        if olds:
            for e in sorted(olds, key=lambda e: -e[_ID]):
                p = self._cert(e)
                if p is not None and x509.issued_by(c, p) and sig_check(c, p) is True:
                    signer, issuer = e, p
                    break
            if signer is None:
                return _no("InvalidCertificate", "not signed by the installed CSMS root")
            drop = [e for e in olds if e is not signer]
        elif x509.issued_by(c, c):
            if sig_check(c, c) is False:
                return _no("InvalidCertificate", "bad self-signature")
            issuer = c
        else:
            issuer = self._issuer(es, c)
            if issuer is None:
                return _no("InvalidCertificate", "not self-issued and its issuer is not installed")
        hd = x509.hash_data(c, issuer)
        for e in es:
            if e[_KIND] == kind and x509.hash_matches(hash_data(e), hd):
                return ("Accepted", None, "already installed")
        if len(es) - len(drop) >= limit:
            return _no("OutOfStorage", "CertificateStoreMaxLength %d reached" % limit)
        if not self._room(len(der)):
            return _no("OutOfStorage", "flash full")
        i = idx["next"]
        try:
            store.atomic_write(self._path(i), der)
        except OSError as ex:
            return ("Failed", "InternalError", "flash write: %s" % ex)
        new = [i, kind, 0, len(der), fp, hd["issuerNameHash"], hd["issuerKeyHash"],
               hd["serialNumber"], 0]
        if signer is not None:
            signer[_FLAGS] |= FALLBACK
        return self._commit(idx, [new], drop, i + 1)

    def _commit(self, idx, new, drop, nxt):
        idx["e"] = [e for e in idx["e"] if e not in drop] + new
        idx["next"] = nxt
        try:
            self._save(idx)
        except (OSError, ValueError) as ex:
            self._rm(new)
            return ("Failed", "InternalError", "index write: %s" % ex)
        self._rm(drop)
        log.info("certs", "installed %s %s", new[0][_KIND], new[0][_SER])
        return ("Accepted", None, None)

    def _issuer(self, es, c, found=None):
        """The installed CA that issued c (by name, its signature not disproved)."""
        cands = found if found is not None else \
            [p for p in (self._cert(e) for e in es if e[_KIND] != CHAIN) if p is not None]
        for p in cands:
            if x509.issued_by(c, p) and sig_check(c, p) is not False:
                return p
        return None

    def issuer_of(self, c, kind):
        """The installed certificate of `kind` whose key verifies c's signature (a
        proof, not "cannot tell"), or None: a firmware signing certificate must chain
        to a ManufacturerRootCertificate (1.6 security whitepaper, 2.0.1 L01.FR.22)."""
        for e in self._load()["e"]:
            if e[_KIND] == kind:
                p = self._cert(e)
                if p is not None and x509.issued_by(c, p) and sig_check(c, p) is True:
                    return p
        return None

    def delete(self, hd, kinds, keep_csms=False):
        """DeleteCertificate (M04) by hash data -> Accepted / NotFound / Failed. The
        station's V2G certificate is not deletable (M04.FR.05); with keep_csms (the
        CSMS root is in use: security profile 2 or 3) the last CSMS root is not either
        (1.6 M04.FR.06). Only entries of `kinds` (the protocol's types) are looked at."""
        idx = self._load()
        es = idx["e"]
        hit = [e for e in es if not e[_UP] and e[_KIND] in kinds and
               x509.hash_matches(hash_data(e), hd)]
        if not hit:
            return "NotFound"
        if any(e[_KIND] == CHAIN for e in hit):
            return "Failed"
        if keep_csms and any(e[_KIND] == CSMS for e in hit) and \
                not any(e[_KIND] == CSMS and e not in hit for e in es):
            return "Failed"
        gone = hit + [e for e in es if e[_UP] and any(e[_UP] == h[_ID] for h in hit)]
        idx["e"] = [e for e in es if e not in gone]
        try:
            self._save(idx)
        except (OSError, ValueError) as ex:
            log.error("certs", "delete: %s", ex)
            return "Failed"
        self._rm(gone)
        log.info("certs", "deleted %d certificate(s)", len(gone))
        return "Accepted"


def _no(code, info):
    return ("Rejected", code, info)

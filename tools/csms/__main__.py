"""python -m tools.csms: run the dev CSMS, print every frame until Ctrl-C."""
import argparse
import asyncio
import signal
import ssl
import sys

from .ca import SigningCA
from .server import Csms


def _args(argv):
    p = argparse.ArgumentParser(prog="python -m tools.csms",
                                description="Development CSMS for OCPP 1.6J and 2.0.1.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    p.add_argument("--cert", help="server certificate chain, PEM (enables wss)")
    p.add_argument("--key", help="server private key, PEM")
    p.add_argument("--ca", help="CA bundle, PEM: require TLS client certificates "
                                "(security profile 3)")
    p.add_argument("--sign-ca", metavar="CERT", help="act as a CA for SignCertificate: "
                   "answer with CertificateSigned signed by this CA certificate (PEM)")
    p.add_argument("--sign-key", metavar="KEY", help="the CA's private key (PEM)")
    p.add_argument("--password", action="append", default=[], metavar="ID=PW",
                   help="require HTTP Basic for station ID (repeatable)")
    p.add_argument("--boot", default="Accepted", choices=("Accepted", "Pending", "Rejected"))
    p.add_argument("--interval", type=int, default=300,
                   help="BootNotification interval, s (heartbeat or retry)")
    p.add_argument("--version", action="append", choices=("1.6", "2.0.1"),
                   help="accept only this OCPP version (repeatable; default both)")
    p.add_argument("--files", metavar="DIR", help="serve DIR over http (and over https too "
                   "with --cert/--key) beside the CSMS: firmware bundles for UpdateFirmware "
                   "(make bundle writes build/fwupd), uploads stored there (tools/csms/files.py)")
    p.add_argument("--files-port", type=int, default=0, help="the http file server's port "
                   "(0 picks one; https takes the next free one)")
    a = p.parse_args(argv)
    if bool(a.cert) != bool(a.key):
        p.error("--cert and --key go together")
    if bool(a.sign_ca) != bool(a.sign_key):
        p.error("--sign-ca and --sign-key go together")
    if a.ca and not a.cert:
        p.error("--ca needs --cert/--key")
    for item in a.password:
        if "=" not in item:
            p.error("--password wants ID=PW, got %r" % item)
    return a


async def _main(a):
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(a.cert, a.key)
        if a.ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(a.ca)
    passwords = dict(item.split("=", 1) for item in a.password) or None
    csms = Csms(host=a.host, port=a.port, ssl_context=ctx, passwords=passwords,
                boot_status=a.boot, boot_interval=a.interval,
                log=lambda line: print(line, flush=True),
                versions=tuple(a.version or ("2.0.1", "1.6")),
                signer=SigningCA.from_files(a.sign_ca, a.sign_key) if a.sign_ca else None)
    await csms.start()
    servers = []
    if a.files:
        from .files import FileServer
        servers.append(FileServer(a.files, port=a.files_port, host=a.host,
                                  upload_dir=a.files).start())
        if a.cert:
            servers.append(FileServer(a.files, tls=(a.cert, a.key), host=a.host,
                                      upload_dir=a.files).start())
        for s in servers:
            print("files: %s/<name> serves %s" % (s.url, a.files), flush=True)
    print("CSMS listening: %s<station-id>  (OCPP %s; boot %s, interval %ss%s)"
          % (csms.url, " and ".join(csms.versions), a.boot, a.interval,
             "; Basic auth" if passwords else ""), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await csms.stop()
        for s in servers:
            s.stop()
    print("CSMS stopped", flush=True)


def main(argv=None):
    asyncio.run(_main(_args(argv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The dev CSMS's file server: firmware files out (GET, with Range) and logs in (PUT, or
POST multipart/form-data), over http or https, on CPython's http.server in a thread.

    srv = FileServer(root_dir, tls=None)        # tls: (certfile, keyfile) PEM paths
    srv.start(); srv.url                        # "http://127.0.0.1:PORT" / "https://..."
    srv.uploads                                 # [(method, path, filename, bytes), ...]
    srv.requests                                # [(method, path, headers dict), ...]
    srv.fail("/fw.bin", status=404, times=2)    # the next 2 requests for it get a 404
    srv.fail("/fw.bin", drop=True)              # ... or the connection dropped mid-body
    srv.redirect("/old.bin", "/fw.bin")         # GET /old.bin -> 302 to /fw.bin
    srv.chunked = True                          # GET bodies sent chunked (no Length)
    srv.wait_upload(timeout=10) -> the newest upload (or None)
    srv.stop()

Uploads are kept in memory and, when `upload_dir` is given, written there as files named
after the request path's last segment (or the multipart filename).
"""
import email.parser
import email.policy
import http.server
import os
import ssl
import threading
import time


def _multipart_file(ctype, body):
    """(filename, content) of the first file part of a multipart/form-data body."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise ValueError("not multipart")
    for part in msg.iter_parts():
        name = part.get_filename()
        if name is not None:
            return name, part.get_payload(decode=True) or b""
    raise ValueError("no file part")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MicroEVSE-dev-files"
    owner = None  # the FileServer

    def log_message(self, *args):
        pass

    def _fault(self):
        """Applies an injected failure for this path; True if the request is done."""
        f = self.owner._take_fault(self.path)
        if f is None:
            return False
        status, drop = f
        if drop:
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"x" * 100)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        self._reply(status, b"injected failure\n")
        return True

    def _reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _record(self):
        with self.owner.lock:
            self.owner.requests.append((self.command, self.path, dict(self.headers.items())))

    def do_GET(self):
        self._record()
        if self._fault():
            return
        to = self.owner.redirects.get(self.path)
        if to is not None:
            self._reply(302, b"", [("Location", to)])
            return
        rel = self.path.split("?", 1)[0].lstrip("/")
        full = os.path.realpath(os.path.join(self.owner.root, rel))
        if not full.startswith(os.path.realpath(self.owner.root) + os.sep) or not os.path.isfile(full):
            self._reply(404, b"not found\n")
            return
        with open(full, "rb") as f:
            data = f.read()
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes=") and rng.endswith("-") and rng[6:-1].isdigit():
            start = int(rng[6:-1])
            if start >= len(data):
                self._reply(416, b"", [("Content-Range", "bytes */%d" % len(data))])
                return
            self._reply(206, data[start:], [("Content-Range", "bytes %d-%d/%d"
                                             % (start, len(data) - 1, len(data))),
                                            ("Content-Type", "application/octet-stream")])
            return
        if self.owner.chunked:
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(data), 700):  # uneven against the client's 1 KB reads
                part = data[i:i + 700]
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nX-Trailer: 1\r\n\r\n")
            return
        self._reply(200, data, [("Content-Type", "application/octet-stream")])

    def _upload(self):
        self._record()
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self._fault():
            return
        name = self.path.rstrip("/").rsplit("/", 1)[-1] or "upload"
        if self.command == "POST":
            try:
                name, body = _multipart_file(self.headers.get("Content-Type", ""), body)
            except ValueError as e:
                self._reply(400, ("bad multipart body: %s\n" % e).encode())
                return
        with self.owner.lock:
            self.owner.uploads.append((self.command, self.path, name, body))
            self.owner.cond.notify_all()
        if self.owner.upload_dir:
            with open(os.path.join(self.owner.upload_dir, os.path.basename(name)), "wb") as f:
                f.write(body)
        self._reply(201 if self.command == "PUT" else 200, b"stored\n")

    do_PUT = _upload
    do_POST = _upload


class FileServer:
    def __init__(self, root, tls=None, host="127.0.0.1", port=0, upload_dir=None):
        self.root = str(root)
        self.tls = tls
        self.upload_dir = upload_dir
        self.uploads = []
        self.requests = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self._faults = {}
        self.redirects = {}
        self.chunked = False
        handler = type("Handler", (_Handler,), {"owner": self})
        self._srv = http.server.ThreadingHTTPServer((host, port), handler)
        self._srv.daemon_threads = True
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            self._srv.socket = ctx.wrap_socket(self._srv.socket, server_side=True)
        self._thread = None
        h, p = self._srv.server_address[:2]
        self.port = p
        self.url = "%s://%s:%d" % ("https" if tls else "http", h, p)

    def start(self):
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True,
                                        name="files")
        self._thread.start()
        return self

    def stop(self):
        self._srv.shutdown()
        self._srv.server_close()

    def redirect(self, path, to):
        self.redirects[path] = to

    def fail(self, path, status=500, drop=False, times=1):
        with self.lock:
            self._faults[path] = [status, drop, times]

    def _take_fault(self, path):
        with self.lock:
            f = self._faults.get(path)
            if f is None or f[2] <= 0:
                return None
            f[2] -= 1
            return f[0], f[1]

    def wait_upload(self, count=1, timeout=10.0):
        """Waits until at least `count` uploads arrived; -> the newest one or None."""
        end = time.monotonic() + timeout
        with self.lock:
            while len(self.uploads) < count:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.uploads[-1]

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

"""URL helpers: quote() one path segment (RFC 3986 2.3) and split a ws:// URL."""
from micropython import const

_PORT_WS = const(80)
_PORT_WSS = const(443)
# RFC 3986 2.3 unreserved characters; everything else in a segment is percent-encoded.
_SAFE = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"


def quote(s):
    """Percent-encode one URL path segment ("RDAM 123" -> "RDAM%20123"), UTF-8 based."""
    b = s.encode() if isinstance(s, str) else bytes(s)
    out = []
    for c in b:
        out.append(chr(c) if c in _SAFE else "%%%02X" % c)
    return "".join(out)


def split(url):
    """ws[s]://host[:port][/path] -> (secure, host, port, path). ValueError if malformed."""
    i = url.find("://")
    if i < 0:
        raise ValueError("no scheme")
    scheme = url[:i].lower()
    if scheme == "ws":
        secure = False
    elif scheme == "wss":
        secure = True
    else:
        raise ValueError("scheme not ws/wss")
    rest = url[i + 3 :]
    j = rest.find("/")
    if j < 0:
        hostport, path = rest, "/"
    else:
        hostport, path = rest[:j], rest[j:]
    k = rest.find("?")
    if 0 <= k and (j < 0 or k < j):
        hostport, path = rest[:k], "/" + rest[k:]
    if "@" in hostport:
        raise ValueError("userinfo in URL: use auth=")
    port = _PORT_WSS if secure else _PORT_WS
    if hostport.startswith("["):  # IPv6 literal, RFC 3986 3.2.2
        e = hostport.find("]")
        if e < 0:
            raise ValueError("bad IPv6 literal")
        host, tail = hostport[1:e], hostport[e + 1 :]
    else:
        c = hostport.rfind(":")
        host, tail = (hostport, "") if c < 0 else (hostport[:c], hostport[c:])
    if tail:
        if tail[0] != ":" or not tail[1:].isdigit():
            raise ValueError("bad port")
        port = int(tail[1:])
        if not 0 < port < 65536:
            raise ValueError("bad port")
    if not host:
        raise ValueError("no host")
    return secure, host, port, path

"""WebSocket client errors: WSError (connect/handshake) and WSClosed (link gone)."""


class WSError(Exception):
    """The connection could not be opened (RFC 6455 4.1 "fail the connection").

    `code` is the HTTP status when the server answered with one (401, 404, ...), else 0;
    `cause` the OSError / ValueError (TLS) that failed the connection, else None.
    """

    def __init__(self, msg, code=0, cause=None):
        super().__init__(msg)
        self.code = code
        self.cause = cause          # the socket/TLS exception behind it, if any

    def __str__(self):
        return "%s (code %d)" % (self.args[0], self.code)


class WSClosed(Exception):
    """The link is closed: `code` is the close status (RFC 6455 7.4.1), `reason` a str.

    1006 is never sent on the wire: it stands for EOF, a socket error or a timeout.
    """

    def __init__(self, code=1006, reason=""):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

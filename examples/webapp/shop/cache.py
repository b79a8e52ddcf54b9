"""A minimal Redis client speaking RESP over a socket."""
import socket
from urllib.parse import urlparse

from . import settings


class Redis:
    def __init__(self, url=None, timeout=10):
        u = urlparse(url or settings.REDIS_URL)
        self.sock = socket.create_connection((u.hostname or "127.0.0.1", u.port or 6379), timeout=timeout)
        self.buf = self.sock.makefile("rb")
        if u.password:
            self.call("AUTH", u.password)
        db = (u.path or "/0").lstrip("/") or "0"
        if db != "0":
            self.call("SELECT", db)

    def call(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _reply(self):
        line = self.buf.readline()
        if not line:
            raise ConnectionError("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.buf.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")

    def close(self):
        self.buf.close()
        self.sock.close()

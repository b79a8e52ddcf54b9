"""The web app: / counts visits in Redis and queues a job for the worker;
/stats reads both stores; /health checks both."""
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import db, settings
from .cache import Redis


def health():
    r = Redis(timeout=2)
    try:
        r.call("PING")
    finally:
        r.close()
    db.query("SELECT 1")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        try:
            status, body = 200, self.route()
        except LookupError:
            status, body = 404, "not found\n"
        except Exception as e:  # a dev server: say what went wrong
            status, body = 500, f"error: {e}\n"
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self):
        if self.path == "/":
            r = Redis()
            try:
                n = r.call("INCR", "visits")
                r.call("LPUSH", "jobs", f"visit:{n}")
            finally:
                r.close()
            return f"hello from the webapp\nvisits: {n}\n"
        if self.path == "/stats":
            r = Redis()
            try:
                visits = r.call("GET", "visits") or "0"
            finally:
                r.close()
            processed = db.query("SELECT count(*) FROM visit_log")[0][0]
            return f"visits: {visits}\nprocessed: {processed}\n"
        if self.path == "/health":
            health()
            return "ok\n"
        raise LookupError(self.path)

    def log_message(self, fmt, *args):
        if self.path != "/health":
            print("web:", fmt % args, flush=True)


def serve():
    print(f"listening on http://{settings.BIND}:{settings.PORT}", flush=True)
    ThreadingHTTPServer((settings.BIND, settings.PORT), Handler).serve_forever()

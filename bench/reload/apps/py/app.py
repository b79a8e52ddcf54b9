# The Python app of the reload benchmark: an http.server that answers every
# GET with the VERSION below. The bench rewrites that line on each edit; the
# new text is what a restarted process serves.
import http.server
import os

VERSION = "v0"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = VERSION.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
print("serving", VERSION, flush=True)
server.serve_forever()

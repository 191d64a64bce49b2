"""A small HTTP service instrumented with the real `prometheus_client`, making
the classic mistake: its latency histogram is labelled with the raw request
path, so every new URL (an id, a scanner's probe) is a new label set of
14 buckets + `+Inf` + `_sum` + `_count` (+ `_created`).

Started by the tests as `/usr/bin/python3 leaky_app.py`: it binds 127.0.0.1 on
an ephemeral port and writes the port to `./port`. `/metrics` serves the
exposition (OpenMetrics when the `Accept` header asks for it); every other path
answers 200 and is recorded.
"""

import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import REGISTRY, Counter, Histogram, Summary, exposition

LATENCY = Histogram(
    "http_request_duration_seconds",
    "Request latency by method and raw path (the mistake).",
    ["method", "path"],
)
REQUESTS = Counter(
    "http_requests", "Requests by method and status.", ["method", "status"]
)
RESPONSE_SIZE = Summary("http_response_size_bytes", "Response body sizes.")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/metrics":
            encoder, content_type = exposition.choose_encoder(
                self.headers.get("Accept")
            )
            body = encoder(REGISTRY)
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        start = time.perf_counter()
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        LATENCY.labels("GET", self.path).observe(time.perf_counter() - start)
        REQUESTS.labels("GET", "200").inc()
        RESPONSE_SIZE.observe(len(body))

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open("port.tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename("port.tmp", "port")
    server.serve_forever()


if __name__ == "__main__":
    main()

"""A service instrumented with the real `prometheus_client`, for the proxy's
test: a counter and a latency histogram labelled with the raw request path
(the mistake), an unlabelled counter and a summary.

Started by the tests as `/usr/bin/python3 proxied_app.py PORT` (PORT 0: an
ephemeral one); writes the port it bound to `./port`. `/metrics` serves the
exposition (OpenMetrics when the `Accept` header asks for it);
`/tick?by=N` adds N to `app_ticks_total`; `/remove?path=P` removes the
label sets of path P (`.remove()`); every other path answers 200 and is
counted and observed under its raw path.
"""

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from prometheus_client import REGISTRY, Counter, Histogram, Summary, exposition

REQUESTS = Counter("http_requests", "Requests by raw path (the mistake).", ["path"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Request latency by raw path (the mistake).",
    ["path"],
    buckets=(0.1, 0.5, 1.0),
)
TICKS = Counter("app_ticks", "Ticks of the test.")
SIZES = Summary("http_response_size_bytes", "Response body sizes.")


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/metrics":
            encoder, content_type = exposition.choose_encoder(
                self.headers.get("Accept")
            )
            body = encoder(REGISTRY)
            self.reply(body, content_type)
            return
        if url.path == "/tick":
            TICKS.inc(float(query["by"][0]))
        elif url.path == "/remove":
            path = query["path"][0]
            REQUESTS.remove(path)
            LATENCY.remove(path)
        else:
            REQUESTS.labels(url.path).inc()
            # A made-up latency from the path, so buckets differ.
            LATENCY.labels(url.path).observe((len(url.path) % 7) * 0.2)
            SIZES.observe(3)
        self.reply(b"ok\n", "text/plain")

    def reply(self, body, content_type):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    with open("port.tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename("port.tmp", "port")
    server.serve_forever()


if __name__ == "__main__":
    main()

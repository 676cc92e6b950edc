"""A real HTTP endpoint on 127.0.0.1 in front of the loopback S3 server, for fault tests: it answers some
requests with S3's 503 "SlowDown" (a transient error), or runs a callback — stopping the S3 server, say —
when a chosen request arrives, before forwarding it."""

import http.client
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class S3Proxy:
    def __init__(self, target: str, slow_down: Callable[[str, str], bool] = lambda method, path: False,
                 trigger: tuple[Callable[[str, str], bool], Callable[[], None]] | None = None):
        self.target = urlsplit(target)
        self.slow_down, self.trigger = slow_down, trigger
        self.answered_slow_down: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.trigger and proxy.trigger[0](self.command, self.path):
                    proxy.trigger[1]()
                    proxy.trigger = None
                if proxy.slow_down(self.command, self.path):
                    proxy.answered_slow_down.append(f"{self.command} {self.path}")
                    return self._answer(503, {"Content-Type": "application/xml"}, SLOW_DOWN)
                upstream = http.client.HTTPConnection(proxy.target.hostname, proxy.target.port, timeout=30)
                try:
                    upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                    for name, value in self.headers.items():
                        if name.lower() not in HOP_BY_HOP:
                            upstream.putheader(name, value)
                    upstream.putheader("Content-Length", str(len(body)))
                    upstream.endheaders(body)
                    response = upstream.getresponse()
                    payload = response.read()
                except OSError:  # the S3 server is gone: so is this connection, as a client would see it
                    self.close_connection = True
                    self.connection.close()
                    return
                finally:
                    upstream.close()
                headers = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
                length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self._answer(response.status, headers, payload, length)

            def _answer(self, status: int, headers: dict, payload: bytes, length: str | None = None):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", length or str(len(payload)))  # HEAD: the object's size
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "S3Proxy":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

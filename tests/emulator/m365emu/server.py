"""HTTPS server: thread per request, HTTP/1.1 keep-alive, TLS handshake in the worker thread."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .app import Emulator
from .pki import make_server_pki
from .wire import Request

MAX_BODY = 16 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    """Turns HTTP into :class:`Request` and back; all logic is in :class:`Emulator`."""

    protocol_version = "HTTP/1.1"
    server_version = "m365emu/1.0"
    # Without this every response waits for a delayed ACK (~40 ms).
    disable_nagle_algorithm = True
    # Idle keep-alive connections are closed after this many seconds, freeing their thread.
    timeout = 120

    server: "EmulatorServer"

    def setup(self) -> None:
        """Complete the TLS handshake here, in the worker thread, so a slow client never blocks accept()."""
        super().setup()
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            conn.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:  # pylint: disable=redefined-builtin
        """Quiet unless --verbose: the journal is the record."""
        if self.server.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length) if length else b""
        path, _sep, query = self.path.partition("?")
        request = Request(
            method=self.command, path=path, query_string=query,
            headers={k.lower(): v for k, v in self.headers.items()}, body=body, client_ip=self.client_address[0],
        )
        try:
            response = self.server.emulator.handle(request)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # A bug must not kill the connection silently: answer 500 and report it.
            sys.stderr.write(f"m365emu: internal error on {self.command} {path}: {exc!r}\n")
            self.send_error(500, "internal emulator error")
            return
        if response.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


class EmulatorServer(ThreadingHTTPServer):
    """ThreadingHTTPServer over TLS, carrying the emulator."""

    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], emulator: Emulator | None, context: ssl.SSLContext, verbose: bool = False) -> None:
        super().__init__(address, Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)
        self.emulator = emulator  # type: ignore[assignment]
        self.verbose = verbose

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up or fail TLS are routine; only report real bugs when verbose."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ssl.SSLError, ConnectionError, TimeoutError, OSError)):
            return
        if self.verbose:
            super().handle_error(request, client_address)


def serve(seed: dict[str, Any], *, host: str = "127.0.0.1", port: int = 0, state_dir: Path, info_file: Path | None,
          verbose: bool = False) -> int:
    """Run until SIGTERM/SIGINT; returns the exit status."""
    pki = make_server_pki(state_dir)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.cert_path, pki.key_path)
    server = EmulatorServer((host, port), None, context, verbose)
    actual_port = server.server_address[1]
    base_url = f"https://{host}:{actual_port}"
    server.emulator = Emulator(seed, base_url)
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        del signum, frame
        if not stop.is_set():
            stop.set()
            # shutdown() waits for serve_forever() to return: it must not run on the thread that serves.
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if info_file is not None:
        info = {"base_url": base_url, "ca_path": str(pki.ca_path.resolve()), "pid": os.getpid(), "port": actual_port}
        tmp = info_file.with_name(info_file.name + ".tmp")
        tmp.write_text(json.dumps(info), encoding="utf-8")
        os.replace(tmp, info_file)
    sys.stderr.write(f"m365emu: listening on {base_url} (CA {pki.ca_path})\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0

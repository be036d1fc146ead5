"""What the transport takes from the environment, read once: the proxies (per host) and the default CA bundle;
never ``~/.netrc``. Against the emulator over real HTTPS, through a real CONNECT proxy."""

from __future__ import annotations

import select
import socket
import socketserver
import threading
from urllib.parse import urlsplit

import pytest
from m365emu import seeds

from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_secret import ClientSecretCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.graph import GraphClient
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Users
from ansible_collections.m365ops.remediation.plugins.module_utils.transport import Transport

TENANT = seeds.CONTOSO_TENANT_ID
ANN = "ann@contoso.com"


class ConnectProxy(socketserver.ThreadingTCPServer):
    """An HTTPS proxy: answers CONNECT host:port, then relays bytes both ways; keeps the targets it was asked for."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        super().__init__(("127.0.0.1", 0), _Tunnel)

    @property
    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.server_address[1]


class _Tunnel(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline().decode("latin-1")
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        method, target = line.split()[:2]
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        self.server.tunnels.append(target)
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port))) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            client = self.connection
            while True:
                ready, dummy, dummy = select.select([client, upstream], [], [], 10)
                if not ready:
                    return
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is client else client).sendall(data)


@pytest.fixture
def proxy():
    server = ConnectProxy()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _no_proxy_variables(monkeypatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def _look_up_ann(emulator, transport: Transport) -> str:
    credential = ClientSecretCredential(TENANT, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, authority_host=emulator.base_url,
                                        transport=transport)
    return Users(GraphClient(transport, credential, emulator.base_url)).get(ANN, ["id"])["id"]


def test_https_proxy_of_the_environment_carries_token_and_graph_requests(emulator, proxy, monkeypatch):
    _no_proxy_variables(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    with Transport(verify=emulator.ca_path) as transport:
        assert _look_up_ann(emulator, transport) == seeds.USER_IDS[ANN]
    # msal's discovery and token requests, then Graph: all of them through the one tunnel the pool keeps open.
    assert proxy.tunnels and set(proxy.tunnels) == {urlsplit(emulator.base_url).netloc}


def test_no_proxy_sends_the_host_direct(emulator, proxy, monkeypatch):
    _no_proxy_variables(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", urlsplit(emulator.base_url).hostname)
    with Transport(verify=emulator.ca_path) as transport:
        assert _look_up_ann(emulator, transport) == seeds.USER_IDS[ANN]
    assert proxy.tunnels == []


def test_the_proxy_variables_are_read_once_per_host(emulator, proxy, monkeypatch):
    _no_proxy_variables(monkeypatch)
    with Transport(verify=emulator.ca_path) as transport:
        assert _look_up_ann(emulator, transport) == seeds.USER_IDS[ANN]
        # Set after the host's first request: this transport goes on as it started.
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        assert _look_up_ann(emulator, transport) == seeds.USER_IDS[ANN]
    assert proxy.tunnels == []


def test_verify_true_takes_the_bundle_the_environment_names(emulator, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_path)
    with Transport(verify=True) as transport:
        assert transport.verify is True and transport.trust == emulator.ca_path
        assert _look_up_ann(emulator, transport) == seeds.USER_IDS[ANN]
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.setenv("CURL_CA_BUNDLE", emulator.ca_path)
    assert Transport(verify=True).trust == emulator.ca_path
    # An explicit bundle or False is used as given.
    assert Transport(verify="/elsewhere.pem").trust == "/elsewhere.pem"
    assert Transport(verify=False).trust is False


def test_a_netrc_login_never_replaces_the_bearer_token(emulator, tmp_path, monkeypatch):
    host = urlsplit(emulator.base_url).hostname
    netrc = tmp_path / ".netrc"
    netrc.write_text(f"machine {host} login someone password not-a-token\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    with Transport(verify=emulator.ca_path) as transport:
        assert _look_up_ann(emulator, transport) == seeds.USER_IDS[ANN]

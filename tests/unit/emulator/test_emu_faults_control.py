"""Emulator: fault rules, journal, control API, CLI and process lifecycle."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from m365emu import seeds
from m365emu.client import EXCHANGE_RESOURCE, EmuClient
from m365emu.testing import EmulatorProcess

T = seeds.CONTOSO_TENANT_ID
EMULATOR_ROOT = Path(__file__).resolve().parents[2] / "emulator"


@pytest.fixture
def client(emulator):
    return EmuClient(emulator.base_url, emulator.ca_path)


@pytest.fixture
def token(client):
    return client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)


def test_429_burst_with_and_without_retry_after(emulator, client, token):
    emulator.set_faults([{"service": "graph", "status": 429, "retry_after": "2", "count": 2}])
    first, second, third = (client.graph("GET", "/users/rob@contoso.com", token) for _attempt in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (429, 429, 200)
    assert first.headers["Retry-After"] == "2" and first.json()["error"]["code"] == "TooManyRequests"
    assert first.json()["error"]["innerError"]["request-id"] == first.headers["request-id"]
    emulator.set_faults([{"service": "graph", "status": 429, "count": 1}])
    resp = client.graph("GET", "/users/rob@contoso.com", token)
    assert resp.status_code == 429 and "Retry-After" not in resp.headers
    stats = emulator.stats()
    assert stats["throttled_429"] == 3 and stats["per_status"]["429"] == 3 and stats["per_service"]["graph"] == 4


def test_503_token_and_exchange_faults(emulator, client):
    emulator.set_faults([{"service": "token", "status": 503, "count": 1}])
    resp = client.token_response(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert resp.status_code == 503 and resp.json()["error"] == "temporarily_unavailable"
    exo = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, EXCHANGE_RESOURCE)
    emulator.set_faults([{"service": "exchange", "cmdlet": "Remove-BlockedSenderAddress", "status": 503, "count": 1}])
    assert client.exchange(T, exo, "Get-Mailbox", {"Identity": "rob"}).status_code == 200
    resp = client.exchange(T, exo, "Remove-BlockedSenderAddress", {"SenderAddress": "rob@contoso.com"})
    assert resp.status_code == 503 and resp.json()["error"]["code"] == "ServiceUnavailable"
    assert emulator.state(T)["unblock_counts"] == {"gina@contoso.com": 3}
    entry = emulator.journal()[-1]
    assert entry["cmdlet"] == "Remove-BlockedSenderAddress" and entry["write"] is True and entry["status"] == 503


def test_tenant_filter(emulator, client):
    emulator.set_faults([{"service": "token", "tenant": seeds.FABRIKAM_TENANT_ID, "status": 429, "retry_after": "1"}])
    assert client.token_response(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET).status_code == 200
    assert client.token_response(seeds.FABRIKAM_DOMAIN, seeds.FABRIKAM_CLIENT_ID, seeds.FABRIKAM_SECRET).status_code == 429


def test_drop(emulator, client, token):
    emulator.set_faults([{"service": "graph", "drop": True, "count": 1}])
    with pytest.raises(requests.ConnectionError):
        client.graph("GET", "/users/rob@contoso.com", token)
    assert client.graph("GET", "/users/rob@contoso.com", token).status_code == 200
    assert emulator.stats()["dropped"] == 1


def test_latency_overlaps(emulator, token):
    emulator.set_faults([{"service": "graph", "latency_ms": 400}])

    def call(_index):
        return EmuClient(emulator.base_url, emulator.ca_path).graph("GET", "/users/rob@contoso.com", token).status_code

    start = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(call, range(8))) == [200] * 8
    elapsed = time.monotonic() - start
    assert 0.4 <= elapsed < 1.6


def test_rate(emulator, client, token):
    emulator.set_faults([{"service": "graph", "status": 503, "rate": 0.5}])
    statuses = [client.graph("GET", "/users/rob@contoso.com", token).status_code for _attempt in range(40)]
    assert 5 <= statuses.count(503) <= 35 and statuses.count(200) >= 5


def test_expire_tokens(emulator, client, token):
    assert client.graph("GET", "/users/rob@contoso.com", token).status_code == 200
    emulator.set_faults([{"service": "graph", "expire_tokens": True, "count": 1}])
    resp = client.graph("GET", "/users/rob@contoso.com", token)
    assert resp.status_code == 401
    assert resp.json()["error"] == {**resp.json()["error"], "code": "InvalidAuthenticationToken",
                                    "message": "Lifetime validation failed, the token is expired."}
    assert client.graph("GET", "/users/rob@contoso.com", token).status_code == 401
    fresh = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert client.graph("GET", "/users/rob@contoso.com", fresh).status_code == 200
    exo = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, EXCHANGE_RESOURCE)
    emulator.set_faults([{"service": "exchange", "expire_tokens": True, "count": 1}])
    assert client.exchange(T, exo, "Get-Mailbox").status_code == 401


def test_bad_fault_rule_rejected(emulator):
    with pytest.raises(Exception, match="400"):
        emulator.set_faults([{"service": "smtp"}])
    with pytest.raises(Exception, match="400"):
        emulator.set_faults([{"path": "("}])


def test_journal_shape_and_no_secrets(emulator, client, token):
    mark = emulator.mark()
    client.graph("GET", "/users/rob@contoso.com?$select=id", token)
    client.graph("PATCH", "/users/ann@contoso.com", token, json={"passwordProfile": {"password": "Sup3r-Secret-Value!"}})
    entries = emulator.journal(mark)
    assert [e["seq"] for e in entries] == [mark, mark + 1]
    assert entries[0]["path"] == "/v1.0/users/rob@contoso.com?$select=id" and entries[0]["write"] is False
    assert entries[1]["write"] is True and entries[1]["tenant"] == T and entries[1]["service"] == "graph"
    assert {"seq", "time", "tenant", "service", "method", "path", "cmdlet", "write", "status"} <= set(entries[0])
    everything = json.dumps(emulator.journal(0)) + json.dumps(emulator.stats())
    for secret in seeds.SECRETS + ("Sup3r-Secret-Value!", token):
        assert secret not in everything
    assert not [e for e in emulator.journal(0) if e["service"] == "control"]


def test_reset_restores_state(emulator, client, token):
    client.graph("PATCH", "/users/ann@contoso.com", token, json={"accountEnabled": False})
    emulator.set_faults([{"service": "graph", "latency_ms": 1}])
    emulator.reset()
    assert emulator.journal() == [] and emulator.stats()["requests"] == 0
    user = next(u for u in emulator.state(T)["users"] if u["userPrincipalName"] == "ann@contoso.com")
    assert user["accountEnabled"] is True
    # Tokens issued before a reset stay valid, as the signing key does not change.
    assert client.graph("GET", "/users/ann@contoso.com", token).status_code == 200


def test_restrict_and_state(emulator, client):
    emulator.restrict(seeds.CONTOSO_DOMAIN, "carl@contoso.com", "OutboundSpamLast24Hours=1")
    state = emulator.state(T)
    carl = next(r for r in state["restricted"] if r["SenderAddress"] == "carl@contoso.com")
    assert carl["Reason"] == "OutboundSpamLast24Hours=1"
    assert state["mailboxes"]["rob@contoso.com"]["ForwardingSmtpAddress"] == "smtp:exfil@evil.example"
    assert state["tenant"]["unblock_limit"] == 3
    assert emulator.env()["M365_CA_BUNDLE"] == emulator.ca_path
    assert client.request("GET", "/_emulator/nothing").status_code == 404


def test_generate_cli_and_speed(tmp_path):
    start = time.monotonic()
    seed = seeds.generate_seed(10, 1000, 50)
    assert time.monotonic() - start < 5
    assert len(seed["tenants"]) == 10 and len(seed["tenants"][0]["users"]) == 1000
    assert seeds.generate_seed(2, 10, 3, rng_seed=4) == seeds.generate_seed(2, 10, 3, seed=4)
    out = tmp_path / "big.json"
    subprocess.run([sys.executable, "-m", "m365emu", "generate", "--tenants", "1", "--users", "5000", "--restricted", "100",
                    "--out", str(out)], check=True, cwd=EMULATOR_ROOT, timeout=60)
    assert len(json.loads(out.read_text())["tenants"][0]["users"]) == 5000


def test_sigterm_stops_cleanly(tmp_path):
    proc = EmulatorProcess(seeds.demo_seed(), workdir=tmp_path)
    with proc:
        assert proc.running
        resp = requests.get(f"{proc.base_url}/{seeds.CONTOSO_DOMAIN}/v2.0/.well-known/openid-configuration", verify=proc.ca_path, timeout=10)
        assert resp.status_code == 200
    assert proc.proc.returncode == 0
    assert not proc.running

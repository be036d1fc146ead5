"""Transport behaviour that needs no server: connection failures before anything was sent."""

from __future__ import annotations

import socket

import pytest
import requests

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.transport import (
    RetryPolicy,
    Transport,
    request_not_sent,
)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
def test_refused_connection_is_retried_even_for_writes(method):
    sleep = Recorder()
    transport = Transport(retry=RetryPolicy(max_attempts=4, backoff_base=0.01, backoff_max=0.05), sleep=sleep)
    url = f"https://127.0.0.1:{_closed_port()}/v1.0/users/x"
    with pytest.raises(M365Error) as info:
        transport.request(method, url, service="graph", json={"a": 1})
    assert info.value.transient is True
    assert info.value.service == "graph"
    assert info.value.code == "connection_error"
    assert "4 attempt" in info.value.message
    assert len(sleep.calls) == 3
    stats = transport.stats.as_dict()
    assert stats["requests"] == 4 and stats["retries"] == 3 and stats["sleeps"] == 3
    assert stats["by_service"] == {"graph": 4}
    assert transport.stats["requests"] == 4


def test_total_wait_cap_stops_retries():
    sleep = Recorder()
    policy = RetryPolicy(max_attempts=50, backoff_base=10.0, backoff_max=10.0, max_total_wait=0.0)
    transport = Transport(retry=policy, sleep=sleep)
    with pytest.raises(M365Error):
        transport.request("GET", f"https://127.0.0.1:{_closed_port()}/", service="graph")
    assert sleep.calls == [] or all(c == 0 for c in sleep.calls)


def test_request_not_sent_classification():
    assert request_not_sent(requests.exceptions.ConnectTimeout("x")) is True
    assert request_not_sent(requests.exceptions.ReadTimeout("x")) is False
    assert request_not_sent(requests.exceptions.ConnectionError("Connection aborted.")) is False
    assert request_not_sent(ValueError("x")) is False


def test_msal_http_client_connection_error_is_m365error_after_retries():
    """A token request has no effect on the tenant: a failed connection is tried again within the policy."""
    sleep = Recorder()
    transport = Transport(retry=RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05), sleep=sleep)
    client = transport.msal_http_client()
    with pytest.raises(M365Error) as info:
        client.post(f"https://127.0.0.1:{_closed_port()}/t/oauth2/v2.0/token", data={"client_secret": "s3cr3t-value"})
    assert info.value.service == "auth" and info.value.transient
    assert "3 attempt" in info.value.message
    assert "s3cr3t-value" not in str(info.value)
    client.close()
    assert transport.stats["by_service"] == {"auth": 3}
    assert len(sleep.calls) == 2

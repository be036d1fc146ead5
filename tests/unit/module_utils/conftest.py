"""Fixtures for the client core tests: a transport and clients pointed at the emulator."""

from __future__ import annotations

import pytest

from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_secret import ClientSecretCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.credential import clear_app_cache
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import ExchangeClient
from ansible_collections.m365ops.remediation.plugins.module_utils.graph import GraphClient
from ansible_collections.m365ops.remediation.plugins.module_utils.transport import RetryPolicy, Transport


class SleepRecorder:
    """Stands in for time.sleep: records the requested delays and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture(autouse=True)
def fresh_msal_apps():
    """Each test starts with no cached msal application (and so no cached token)."""
    clear_app_cache()
    yield
    clear_app_cache()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def transport(emulator, sleeps):
    with Transport(verify=emulator.ca_path, sleep=sleeps, retry=RetryPolicy()) as value:
        yield value


def contoso_credential(emulator, transport, client_id=None, secret=None):
    from m365emu import seeds

    return ClientSecretCredential(seeds.CONTOSO_TENANT_ID, client_id or seeds.CONTOSO_CLIENT_ID, secret or seeds.CONTOSO_SECRET,
                                  authority_host=emulator.base_url, transport=transport)


@pytest.fixture
def make_credential(emulator):
    """Build a contoso client-secret credential on another transport."""
    return lambda transport, **kwargs: contoso_credential(emulator, transport, **kwargs)


@pytest.fixture
def credential(emulator, transport):
    return contoso_credential(emulator, transport)


@pytest.fixture
def graph(emulator, transport, credential) -> GraphClient:
    return GraphClient(transport, credential, emulator.base_url)


@pytest.fixture
def exchange(emulator, transport, credential) -> ExchangeClient:
    from m365emu import seeds

    return ExchangeClient(transport, credential, seeds.CONTOSO_TENANT_ID, emulator.base_url)

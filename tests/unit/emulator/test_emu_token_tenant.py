"""Emulator: discovery names a domain's tenant by its GUID; the token_tenant fault issues tokens for another tenant."""

from __future__ import annotations

import jwt
import pytest

from m365emu import seeds
from m365emu.client import EXCHANGE_RESOURCE, EmuClient
from m365emu.testing import EmulatorError

T = seeds.CONTOSO_TENANT_ID
DISCOVERY = "/{}/v2.0/.well-known/openid-configuration"


@pytest.fixture
def client(emulator):
    return EmuClient(emulator.base_url, emulator.ca_path)


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


@pytest.mark.parametrize("ref", [T, seeds.CONTOSO_DOMAIN, seeds.CONTOSO_INITIAL_DOMAIN])
def test_discovery_names_the_tenant_by_its_guid(emulator, client, ref):
    config = client.request("GET", DISCOVERY.format(ref)).json()
    assert config["issuer"] == f"{emulator.base_url}/{T}/v2.0"
    assert config["token_endpoint"] == f"{emulator.base_url}/{T}/oauth2/v2.0/token"
    assert config["authorization_endpoint"] == f"{emulator.base_url}/{T}/oauth2/v2.0/authorize"


def test_the_domain_token_endpoint_still_answers(client):
    assert claims(client.token(seeds.CONTOSO_DOMAIN, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET))["tid"] == T


@pytest.mark.parametrize("named, tid", [
    (seeds.FABRIKAM_TENANT_ID, seeds.FABRIKAM_TENANT_ID),
    (seeds.FABRIKAM_DOMAIN, seeds.FABRIKAM_TENANT_ID),
    ("12345678-90AB-4CDE-8F01-234567890ABC", "12345678-90ab-4cde-8f01-234567890abc"),
])
def test_token_tenant_names_another_tenant_in_the_token(emulator, client, named, tid):
    emulator.set_faults([{"service": "token", "token_tenant": named}])
    token = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, EXCHANGE_RESOURCE)
    found = claims(token)
    assert found["tid"] == tid
    assert found["iss"] == found["idp"] == f"https://sts.windows.net/{tid}/"
    assert found["appid"] == seeds.CONTOSO_CLIENT_ID and found["aud"] == EXCHANGE_RESOURCE
    # The request itself is the app's own tenant's.
    assert emulator.journal()[-1]["tenant"] == T


def test_token_tenant_acts_on_token_requests_only(emulator, client):
    emulator.set_faults([{"service": "token", "token_tenant": seeds.FABRIKAM_TENANT_ID, "count": 1}])
    assert client.request("GET", DISCOVERY.format(T)).status_code == 200
    assert client.request("GET", f"/{T}/discovery/v2.0/keys").status_code == 200
    assert emulator.stats().get("faults_fired", 0) == 0
    first = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    second = client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert (claims(first)["tid"], claims(second)["tid"]) == (seeds.FABRIKAM_TENANT_ID, T)


def test_token_tenant_follows_the_tenant_selector(emulator, client):
    emulator.set_faults([{"service": "token", "tenant": seeds.FABRIKAM_TENANT_ID, "token_tenant": T}])
    assert claims(client.token(T, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET))["tid"] == T
    fabrikam = client.token(seeds.FABRIKAM_DOMAIN, seeds.FABRIKAM_CLIENT_ID, seeds.FABRIKAM_SECRET)
    assert claims(fabrikam)["tid"] == T


@pytest.mark.parametrize("service", ["graph", "exchange", "*"])
def test_token_tenant_on_another_service_is_a_malformed_rule(emulator, service):
    with pytest.raises(EmulatorError, match="token_tenant applies to service 'token' only"):
        emulator.set_faults([{"service": service, "token_tenant": seeds.FABRIKAM_TENANT_ID}])

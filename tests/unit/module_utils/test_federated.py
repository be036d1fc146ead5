"""Workload identity federation against the emulator's OIDC issuer, over real HTTPS.

The token file and value sources, GitHub Actions' request URL, and the Entra checks of the assertion
(issuer, subject, audience, signature, expiry) with their AADSTS codes.
"""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import (
    EXCHANGE_RESOURCE, GRAPH_RESOURCE, credential_from_options,
)
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_secret import ClientSecretCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.federated_token import FederatedTokenCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.graph import GraphClient
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Users
from m365emu import seeds
from m365emu.client import EmuClient

TENANT = seeds.CONTOSO_TENANT_ID
CLIENT = seeds.CONTOSO_CLIENT_ID
SUBJECT = seeds.CONTOSO_OIDC_SUBJECT


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def federated(emulator, transport, **kwargs) -> FederatedTokenCredential:
    cred = FederatedTokenCredential(TENANT, CLIENT, authority_host=emulator.base_url, transport=transport, **kwargs)
    cred.validate()
    return cred


def rejected(cred: FederatedTokenCredential) -> M365Error:
    with pytest.raises(M365Error) as info:
        cred.get_token(GRAPH_RESOURCE)
    return info.value


def test_issuer_discovery_and_jwks(emulator):
    client = EmuClient(emulator.base_url, emulator.ca_path)
    config = client.request("GET", "/oidc/.well-known/openid-configuration").json()
    assert config["issuer"] == f"{emulator.base_url}/oidc"
    keys = client.request("GET", config["jwks_uri"]).json()["keys"]
    token = emulator.oidc_token(SUBJECT)
    key = jwt.PyJWKSet.from_dict({"keys": keys}).keys[0].key
    verified = jwt.decode(token, key, algorithms=["RS256"], audience=seeds.FEDERATED_AUDIENCE, issuer=config["issuer"])
    assert verified["sub"] == SUBJECT


def test_token_file_success_for_both_resources(emulator, transport, tmp_path):
    token_file = tmp_path / "token"
    emulator.oidc_token(SUBJECT, path=token_file)
    cred = federated(emulator, transport, token_file=str(token_file))
    for resource in (GRAPH_RESOURCE, EXCHANGE_RESOURCE):
        access = claims(cred.get_token(resource))
        assert access["aud"] == resource and access["appid"] == CLIENT and access["appidacr"] == "2"


def test_token_value_success(emulator, transport):
    cred = federated(emulator, transport, token=emulator.oidc_token(SUBJECT))
    graph = GraphClient(transport, cred, emulator.base_url)
    assert Users(graph).get("rob@contoso.com", ["id"])["id"] == seeds.USER_IDS["rob@contoso.com"]


def test_wrong_subject_is_refused(emulator, transport, tmp_path):
    token_file = tmp_path / "token"
    token = emulator.oidc_token("repo:someone/fork:pull_request", path=token_file)
    error = rejected(federated(emulator, transport, token_file=str(token_file)))
    assert error.code == "invalid_client" and error.details == {"error_codes": [70021]}
    assert error.message.startswith("AADSTS70021: No matching federated identity record found for presented assertion.")
    assert "repo:someone/fork:pull_request" in error.message and token not in str(error.to_dict())


def test_wrong_audience_is_refused(emulator, transport):
    error = rejected(federated(emulator, transport, token=emulator.oidc_token(SUBJECT, audience="https://github.com/m365ops")))
    assert error.details == {"error_codes": [70021]}
    assert "Assertion Audience: 'https://github.com/m365ops'" in error.message


def test_expired_token_is_refused(emulator, transport):
    error = rejected(federated(emulator, transport, token=emulator.oidc_token(SUBJECT, lifetime=-600)))
    assert error.details == {"error_codes": [700024]}
    assert "AADSTS700024: Client assertion is not within its valid time range" in error.message


def test_forged_signature_is_refused(emulator, transport):
    genuine = claims(emulator.oidc_token(SUBJECT))
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(genuine, other_key, algorithm="RS256", headers={"kid": jwt.get_unverified_header(emulator.oidc_token(SUBJECT))["kid"]})
    error = rejected(federated(emulator, transport, token=forged))
    assert error.details == {"error_codes": [700027]}


def test_github_actions_request_url(emulator, transport):
    job = emulator.oidc_job(SUBJECT)
    mark = emulator.mark()
    cred = federated(emulator, transport, request_url=job["ACTIONS_ID_TOKEN_REQUEST_URL"],
                     request_token=job["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
    assert cred.source == "request_url"
    assert claims(cred.get_token(GRAPH_RESOURCE))["aud"] == GRAPH_RESOURCE
    assert claims(cred.get_token(EXCHANGE_RESOURCE))["aud"] == EXCHANGE_RESOURCE
    entries = emulator.journal(mark)
    fetches = [e for e in entries if e["service"] == "oidc"]
    # One OIDC token serves both token requests (it is far from expiry).
    assert len(fetches) == 1 and fetches[0]["path"] == "/oidc/github/idtoken" and fetches[0]["status"] == 200
    assert claims(cred._fetched)["aud"] == seeds.FEDERATED_AUDIENCE  # pylint: disable=protected-access


def test_github_actions_seeded_job(emulator, transport):
    cred = federated(emulator, transport, request_url=f"{emulator.base_url}/oidc/github/idtoken?api-version=2.0",
                     request_token=seeds.CONTOSO_OIDC_REQUEST_TOKEN)
    assert claims(cred.get_token(GRAPH_RESOURCE))["aud"] == GRAPH_RESOURCE


def test_github_actions_wrong_request_token(emulator, transport):
    job = emulator.oidc_job(SUBJECT)
    cred = federated(emulator, transport, request_url=job["ACTIONS_ID_TOKEN_REQUEST_URL"], request_token="not-this-job")
    error = rejected(cred)
    assert error.code == "federated_token_request_failed" and error.status == 401
    assert "id-token: write" in error.message and "not-this-job" not in error.message


def test_github_actions_token_is_fetched_again_near_expiry(emulator, transport):
    """A run that outlives the CI token: msal asks for a new access token, the assertion is fetched again."""
    job = emulator.oidc_job(SUBJECT, lifetime=4)
    cred = federated(emulator, transport, request_url=job["ACTIONS_ID_TOKEN_REQUEST_URL"],
                     request_token=job["ACTIONS_ID_TOKEN_REQUEST_TOKEN"], refresh_margin=2)
    graph = GraphClient(transport, cred, emulator.base_url)
    minted = emulator.oidc_minted()
    Users(graph).get("rob@contoso.com", ["id"])
    first = cred._fetched  # pylint: disable=protected-access
    assert emulator.oidc_minted() == minted + 1
    # Access tokens expire (the service answers 401): the client gets a new one, the CI token is still fresh.
    emulator.set_faults([{"service": "graph", "expire_tokens": True, "count": 1}])
    Users(graph).get("rob@contoso.com", ["id"])
    assert emulator.oidc_minted() == minted + 1
    time.sleep(2.5)
    emulator.set_faults([{"service": "graph", "expire_tokens": True, "count": 1}])
    Users(graph).get("rob@contoso.com", ["id"])
    assert emulator.oidc_minted() == minted + 2
    assert cred._fetched != first  # pylint: disable=protected-access
    assert claims(cred._fetched)["exp"] > claims(first)["exp"]  # pylint: disable=protected-access


def test_request_url_without_request_token_is_a_configuration_error(emulator, transport):
    cred = FederatedTokenCredential(TENANT, CLIENT, request_url=f"{emulator.base_url}/oidc/github/idtoken?api-version=2.0",
                                    authority_host=emulator.base_url, transport=transport)
    with pytest.raises(M365Error) as info:
        cred.validate()
    assert info.value.code == "invalid_configuration" and "id-token: write" in info.value.message


def test_request_url_comes_after_every_other_credential(transport):
    base = {"tenant_id": TENANT, "client_id": CLIENT, "federated_token_request_url": "https://runner.example/idtoken?api-version=2.0",
            "federated_token_request_token": "request-token", "federated_token_audience": "api://AzureADTokenExchangeUSGov"}
    chosen = credential_from_options(base, transport)
    assert isinstance(chosen, FederatedTokenCredential) and chosen.source == "request_url"
    assert chosen._request_target() == (  # pylint: disable=protected-access
        "https://runner.example/idtoken?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchangeUSGov")
    assert isinstance(credential_from_options(dict(base, client_secret="s"), transport), ClientSecretCredential)
    assert credential_from_options(dict(base, federated_token="t"), transport).source == "value"

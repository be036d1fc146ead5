"""Every authentication method against the emulator's Entra endpoints, over real HTTPS."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from m365emu import seeds, testkeys
from m365emu.pki import make_app_certificate, make_pfx

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import (
    EXCHANGE_RESOURCE,
    GRAPH_RESOURCE,
    credential_from_options,
)
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.access_token import AccessTokenCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_certificate import CertificateCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_secret import ClientSecretCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.federated_token import FederatedTokenCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.credential import HELD_MARGIN
from ansible_collections.m365ops.remediation.plugins.module_utils.graph import GraphClient
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Users
from ansible_collections.m365ops.remediation.plugins.module_utils.transport import Transport

TENANT = seeds.CONTOSO_TENANT_ID
CLIENT = seeds.CONTOSO_CLIENT_ID


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def token_posts(emulator, since=0):
    return [e for e in emulator.journal(since) if e["service"] == "token" and e["method"] == "POST"]


def assert_both_resources(credential):
    graph_token = credential.get_token(GRAPH_RESOURCE)
    exchange_token = credential.get_token(EXCHANGE_RESOURCE)
    assert claims(graph_token)["aud"] == GRAPH_RESOURCE
    assert claims(exchange_token)["aud"] == EXCHANGE_RESOURCE
    return graph_token, exchange_token


def test_client_secret_both_resources_and_cache(emulator, credential):
    credential.validate()
    graph_token, exchange_token = assert_both_resources(credential)
    journal = emulator.journal()
    assert [(e["service"], e["method"]) for e in journal] == [("token", "GET"), ("token", "POST"), ("token", "POST")]
    assert journal[0]["path"].endswith("/v2.0/.well-known/openid-configuration")
    # Served from msal's cache now.
    mark = emulator.mark()
    assert credential.get_token(GRAPH_RESOURCE) == graph_token
    assert credential.get_token(EXCHANGE_RESOURCE) == exchange_token
    assert emulator.journal(mark) == []


def test_one_app_per_tenant_and_client_shared_by_credentials(emulator, transport):
    first = ClientSecretCredential(TENANT, CLIENT, seeds.CONTOSO_SECRET, authority_host=emulator.base_url, transport=transport)
    second = ClientSecretCredential(TENANT, CLIENT, seeds.CONTOSO_SECRET, authority_host=emulator.base_url, transport=transport)
    assert first.get_token(GRAPH_RESOURCE) == second.get_token(GRAPH_RESOURCE)
    assert len(emulator.journal()) == 2  # one discovery, one token


def test_concurrent_threads_fetch_one_token(emulator, credential):
    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda i: credential.get_token(GRAPH_RESOURCE), range(32)))
    assert len(tokens) == 1
    assert len(token_posts(emulator)) == 1


def test_bad_secret_names_aadsts_code_without_the_secret(emulator, transport):
    wrong = "wrong-secret-value-123"
    cred = ClientSecretCredential(TENANT, CLIENT, wrong, authority_host=emulator.base_url, transport=transport)
    with pytest.raises(M365Error) as info:
        cred.get_token(GRAPH_RESOURCE)
    err = info.value
    assert err.service == "auth"
    assert err.code == "invalid_client"
    assert err.message.startswith("AADSTS7000215:")
    assert "Trace ID" not in err.message
    assert err.request_id
    assert wrong not in str(err) and wrong not in repr(err) and wrong not in json.dumps(err.to_dict())


def test_unknown_tenant_fails_at_discovery_with_aadsts90002(emulator, transport):
    cred = ClientSecretCredential(str(uuid.uuid4()), CLIENT, seeds.CONTOSO_SECRET, authority_host=emulator.base_url,
                                  transport=transport)
    with pytest.raises(M365Error) as info:
        cred.get_token(GRAPH_RESOURCE)
    assert info.value.service == "auth"
    assert "AADSTS90002" in info.value.message
    assert info.value.status == 400
    assert seeds.CONTOSO_SECRET not in str(info.value)
    assert token_posts(emulator) == []


def _pem_file(tmp_path, key_pem, cert_pem, name="app.pem"):
    path = tmp_path / name
    path.write_text(cert_pem + key_pem)
    return str(path)


def test_certificate_pem_registered_in_seed(emulator, transport, tmp_path):
    path = _pem_file(tmp_path, testkeys.CONTOSO_CERT_KEY_PEM, testkeys.CONTOSO_CERT_PEM)
    cred = CertificateCredential(TENANT, CLIENT, path, authority_host=emulator.base_url, transport=transport)
    cred.validate()
    assert_both_resources(cred)


def test_certificate_pem_sha256_ps256(emulator, transport, tmp_path):
    path = _pem_file(tmp_path, testkeys.CONTOSO_CERT_KEY_PEM, testkeys.CONTOSO_CERT_PEM)
    cred = CertificateCredential(TENANT, CLIENT, path, authority_host=emulator.base_url, transport=transport, sha256=True)
    assert_both_resources(cred)


def test_certificate_pfx_registered_through_reset(emulator, transport, tmp_path):
    key_pem, cert_pem = make_app_certificate("pfx-app")
    seed = seeds.test_seed()
    seed["tenants"][0]["apps"][0]["certificates"].append(cert_pem)
    emulator.reset(seed)
    path = tmp_path / "app.pfx"
    path.write_bytes(make_pfx(key_pem, cert_pem, "pfx-pa55"))
    options = {"tenant_id": TENANT, "client_id": CLIENT, "client_certificate_path": str(path),
               "client_certificate_password": "pfx-pa55", "client_secret": "ignored", "authority_host": emulator.base_url}
    cred = credential_from_options(options, transport)
    assert isinstance(cred, CertificateCredential)
    cred.validate()
    assert_both_resources(cred)


def test_unregistered_certificate_is_refused_with_aadsts700027(emulator, transport, tmp_path):
    key_pem, cert_pem = make_app_certificate("not-registered")
    cred = CertificateCredential(TENANT, CLIENT, _pem_file(tmp_path, key_pem, cert_pem), authority_host=emulator.base_url,
                                 transport=transport)
    with pytest.raises(M365Error) as info:
        cred.get_token(GRAPH_RESOURCE)
    assert info.value.code == "invalid_client"
    assert "AADSTS700027" in info.value.message
    assert "PRIVATE KEY" not in str(info.value)


def test_expired_certificate_is_refused_before_any_request(emulator, transport, tmp_path):
    path = _pem_file(tmp_path, testkeys.CONTOSO_EXPIRED_CERT_KEY_PEM, testkeys.CONTOSO_EXPIRED_CERT_PEM)
    cred = CertificateCredential(TENANT, CLIENT, path, authority_host=emulator.base_url, transport=transport)
    with pytest.raises(M365Error) as info:
        cred.get_token(GRAPH_RESOURCE)
    assert info.value.code == "invalid_configuration"
    assert "expired on" in info.value.message and "AADSTS700027" in info.value.message
    assert emulator.journal() == []


def _federated_setup(emulator):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": "ci-key", "use": "sig", "alg": "RS256"})
    seed = seeds.test_seed()
    seed["tenants"][0]["apps"][0]["federated_credentials"][0]["jwks"] = {"keys": [jwk]}
    emulator.reset(seed)

    def mint(subject=seeds.CONTOSO_FEDERATED_SUBJECT):
        now = int(time.time())
        payload = {"iss": seeds.CONTOSO_FEDERATED_ISSUER, "sub": subject, "aud": seeds.FEDERATED_AUDIENCE,
                   "iat": now, "nbf": now, "exp": now + 300, "jti": str(uuid.uuid4())}
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": "ci-key"})
    return mint


def test_federated_token_file_is_reread_per_token_request(emulator, transport, tmp_path):
    mint = _federated_setup(emulator)
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(mint())
    cred = FederatedTokenCredential(TENANT, CLIENT, token_file=str(token_file), authority_host=emulator.base_url,
                                    transport=transport)
    cred.validate()
    assert claims(cred.get_token(GRAPH_RESOURCE))["aud"] == GRAPH_RESOURCE
    # The file rotates to an assertion Entra does not accept: the next token request must use it.
    bad = mint(subject="repo:someone/else:ref:refs/heads/main")
    token_file.write_text(bad)
    with pytest.raises(M365Error) as info:
        cred.get_token(EXCHANGE_RESOURCE)
    assert "AADSTS70021" in info.value.message
    assert bad not in str(info.value)
    token_file.write_text(mint())
    assert claims(cred.get_token(EXCHANGE_RESOURCE))["aud"] == EXCHANGE_RESOURCE


def test_federated_token_value(emulator, transport):
    mint = _federated_setup(emulator)
    cred = FederatedTokenCredential(TENANT, CLIENT, token=mint(), authority_host=emulator.base_url, transport=transport)
    assert_both_resources(cred)


def test_access_token_credential_is_used_as_given(emulator, transport, credential):
    token = credential.get_token(GRAPH_RESOURCE)
    graph = GraphClient(transport, AccessTokenCredential(token), emulator.base_url)
    assert Users(graph).get("rob@contoso.com", ["id"])["id"] == seeds.USER_IDS["rob@contoso.com"]
    # A rejected pre-acquired token cannot be refreshed: the service's 401 is reported after one request.
    emulator.set_faults([{"service": "graph", "expire_tokens": True, "count": 1}])
    mark = emulator.mark()
    with pytest.raises(M365Error) as info:
        Users(graph).get("rob@contoso.com", ["id"])
    assert info.value.status == 401 and info.value.code == "InvalidAuthenticationToken"
    assert [e["status"] for e in emulator.journal(mark)] == [401]


def test_expired_token_is_refreshed_once(emulator, graph, credential):
    Users(graph).get("rob@contoso.com", ["id"])
    old = credential.get_token(GRAPH_RESOURCE)
    exchange_token = credential.get_token(EXCHANGE_RESOURCE)
    emulator.set_faults([{"service": "graph", "expire_tokens": True, "count": 1}])
    mark = emulator.mark()
    assert Users(graph).get("ann@contoso.com", ["id"])["id"] == seeds.USER_IDS["ann@contoso.com"]
    steps = [(e["service"], e["status"]) for e in emulator.journal(mark)]
    assert steps == [("graph", 401), ("token", 200), ("graph", 200)]
    assert credential.get_token(GRAPH_RESOURCE) != old
    # Only the rejected token was dropped from the cache.
    assert credential.get_token(EXCHANGE_RESOURCE) == exchange_token


def test_requests_ca_bundle_does_not_override_verify(emulator, monkeypatch):
    system_bundle = "/etc/ssl/certs/ca-certificates.crt"
    if not os.path.exists(system_bundle):
        import certifi
        system_bundle = certifi.where()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", system_bundle)
    monkeypatch.setenv("CURL_CA_BUNDLE", system_bundle)
    url = f"{emulator.base_url}/{TENANT}/v2.0/.well-known/openid-configuration"
    # The pitfall: a session-level CA loses to the environment.
    session = requests.Session()
    session.verify = emulator.ca_path
    with pytest.raises(requests.exceptions.SSLError):
        session.get(url, timeout=10)
    # The transport passes verify per call, so the emulator's CA wins, for msal too.
    with Transport(verify=emulator.ca_path) as transport:
        assert transport.request("GET", url, service="auth").status_code == 200
        cred = ClientSecretCredential(TENANT, CLIENT, seeds.CONTOSO_SECRET, authority_host=emulator.base_url, transport=transport)
        assert_both_resources(cred)


def test_wrong_ca_is_a_tls_error(emulator):
    with Transport(verify=True) as transport:
        with pytest.raises(M365Error) as info:
            transport.request("GET", f"{emulator.base_url}/{TENANT}/v2.0/.well-known/openid-configuration", service="auth")
    assert info.value.code == "tls_error"
    assert "ca_bundle" in info.value.message


def test_get_token_is_thread_safe_across_resources(emulator, credential):
    errors = []

    def work(i):
        try:
            credential.get_token(GRAPH_RESOURCE if i % 2 else EXCHANGE_RESOURCE)
        except M365Error as exc:  # pragma: no cover - reported below
            errors.append(exc)
    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(token_posts(emulator)) == 2


def test_a_token_is_held_until_ten_minutes_before_it_expires(emulator, credential):
    token = credential.get_token(GRAPH_RESOURCE)
    held, until = credential._held[GRAPH_RESOURCE]  # pylint: disable=protected-access
    assert held == token
    # The emulator's tokens last 3599 s, as Entra ID's usually do.
    assert 3599 - HELD_MARGIN - 30 < until - time.monotonic() <= 3599 - HELD_MARGIN
    mark = emulator.mark()
    assert {credential.get_token(GRAPH_RESOURCE) for dummy in range(50)} == {token}
    assert emulator.journal(mark) == []
    # A token that near its end, or without a lifetime, is not held: msal is asked each time.
    for expires_in in (HELD_MARGIN, 30, None, "soon"):
        credential._hold(GRAPH_RESOURCE, token, expires_in)  # pylint: disable=protected-access
        assert GRAPH_RESOURCE not in credential._held  # pylint: disable=protected-access

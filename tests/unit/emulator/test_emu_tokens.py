"""Emulator: Entra discovery and the client-credentials token endpoint (secret, certificate, federated, msal)."""

from __future__ import annotations

import time
import uuid

import jwt
import msal
import pytest
from cryptography.hazmat.primitives import serialization

from m365emu import seeds
from m365emu.client import EXCHANGE_RESOURCE, GRAPH_RESOURCE, EmuClient, VerifyingHttpClient
from m365emu.pki import b64url, make_app_certificate, thumbprints


@pytest.fixture
def client(emulator):
    return EmuClient(emulator.base_url, emulator.ca_path)


def _assertion(emulator, key_pem, cert_pem, *, alg="RS256", header="x5t", tenant=seeds.CONTOSO_TENANT_ID, aud=None,
               exp_delta=600, iss=seeds.CONTOSO_CLIENT_ID):
    sha1, sha256 = thumbprints(cert_pem)
    now = int(time.time())
    claims = {"aud": aud or f"{emulator.base_url}/{tenant}/oauth2/v2.0/token", "iss": iss, "sub": iss,
              "jti": str(uuid.uuid4()), "nbf": now - 5, "iat": now - 5, "exp": now + exp_delta}
    thumb = bytes.fromhex(sha256 if header == "x5t#S256" else sha1)
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    return jwt.encode(claims, key, algorithm=alg, headers={header: b64url(thumb)})


def test_openid_configuration_by_id_and_domain(emulator, client):
    for ref in (seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_DOMAIN):
        resp = client.request("GET", f"/{ref}/v2.0/.well-known/openid-configuration")
        assert resp.status_code == 200
        config = resp.json()
        assert config["token_endpoint"] == f"{emulator.base_url}/{seeds.CONTOSO_TENANT_ID}/oauth2/v2.0/token"
        assert config["authorization_endpoint"].startswith(emulator.base_url)
        assert config["issuer"] == f"{emulator.base_url}/{seeds.CONTOSO_TENANT_ID}/v2.0"
        assert client.request("GET", config["jwks_uri"].replace(emulator.base_url, "")).json()["keys"]


def test_unknown_tenant_discovery_and_token(client):
    resp = client.request("GET", "/nowhere.example/v2.0/.well-known/openid-configuration")
    assert resp.status_code == 400
    body = resp.json()
    assert body["error"] == "invalid_request" and body["error_codes"] == [90002]
    assert body["error_description"].startswith("AADSTS90002: Tenant 'nowhere.example' not found.")
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(body)
    resp = client.token_response("nowhere.example", seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert resp.status_code == 400 and resp.json()["error_codes"] == [90002]


def test_secret_token_claims(emulator, client):
    resp = client.token_response(seeds.CONTOSO_DOMAIN, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599 and body["ext_expires_in"] == 3599
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["aud"] == GRAPH_RESOURCE
    assert claims["tid"] == seeds.CONTOSO_TENANT_ID and claims["appid"] == seeds.CONTOSO_CLIENT_ID
    assert claims["iss"] == f"https://sts.windows.net/{seeds.CONTOSO_TENANT_ID}/"
    assert "User-PasswordProfile.ReadWrite.All" in claims["roles"]
    assert claims["exp"] - claims["iat"] == 3599
    ex = jwt.decode(client.token(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, EXCHANGE_RESOURCE),
                    options={"verify_signature": False})
    assert ex["aud"] == EXCHANGE_RESOURCE and ex["roles"] == ["Exchange.ManageAsApp"]
    entries = emulator.journal()
    assert entries[-1]["service"] == "token" and entries[-1]["write"] is False
    assert entries[-1]["tenant"] == seeds.CONTOSO_TENANT_ID


def test_wrong_secret(client):
    resp = client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, "not-the-secret")
    assert resp.status_code == 401
    body = resp.json()
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["error_description"].startswith(
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent "
        "in the request is the client secret value, not the client secret ID")
    assert seeds.CONTOSO_SECRET not in resp.text


def test_unknown_client_and_bad_scopes(client):
    resp = client.token_response(seeds.CONTOSO_TENANT_ID, str(uuid.uuid4()), "x")
    assert resp.status_code == 400 and resp.json()["error"] == "unauthorized_client" and resp.json()["error_codes"] == [700016]
    resp = client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET,
                                 scope="https://graph.microsoft.com/User.Read.All")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_scope"
    resp = client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET,
                                 scope="https://graph.microsoft.com/.default https://outlook.office365.com/.default")
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_scope"
    resp = client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET,
                                 scope="https://management.azure.com/.default")
    assert resp.status_code == 400 and resp.json()["error_codes"] == [500011]


def test_app_of_other_tenant_is_unknown(client):
    resp = client.token_response(seeds.FABRIKAM_TENANT_ID, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET)
    assert resp.status_code == 400 and resp.json()["error_codes"] == [700016]


@pytest.mark.parametrize("alg,header", [("RS256", "x5t"), ("PS256", "x5t#S256"), ("RS256", "x5t#S256")])
def test_certificate_assertion(emulator, client, alg, header):
    assertion = _assertion(emulator, seeds.CONTOSO_CERT_KEY_PEM, seeds.CONTOSO_CERT_PEM, alg=alg, header=header)
    resp = client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, assertion=assertion)
    assert resp.status_code == 200, resp.text
    claims = jwt.decode(resp.json()["access_token"], options={"verify_signature": False})
    assert claims["appidacr"] == "2"


def test_certificate_assertion_audience_by_domain(emulator, client):
    assertion = _assertion(emulator, seeds.CONTOSO_CERT_KEY_PEM, seeds.CONTOSO_CERT_PEM, tenant=seeds.CONTOSO_DOMAIN)
    assert client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, assertion=assertion).status_code == 200


def test_certificate_assertion_failures(emulator, client):
    def code(assertion):
        resp = client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, assertion=assertion)
        assert resp.status_code == 401, resp.text
        return resp.json()["error_codes"][0], resp.json()["error_description"]

    expired = _assertion(emulator, seeds.CONTOSO_EXPIRED_CERT_KEY_PEM, seeds.CONTOSO_EXPIRED_CERT_PEM)
    number, text = code(expired)
    assert number == 700027 and "expired" in text
    other_key = make_app_certificate("intruder")[0]
    forged_key = serialization.load_pem_private_key(other_key.encode(), password=None)
    sha1 = thumbprints(seeds.CONTOSO_CERT_PEM)[0]
    now = int(time.time())
    forged = jwt.encode({"aud": f"{emulator.base_url}/{seeds.CONTOSO_TENANT_ID}/oauth2/v2.0/token", "iss": seeds.CONTOSO_CLIENT_ID,
                         "sub": seeds.CONTOSO_CLIENT_ID, "exp": now + 600, "iat": now, "nbf": now, "jti": "x"},
                        forged_key, algorithm="RS256", headers={"x5t": b64url(bytes.fromhex(sha1))})
    number, text = code(forged)
    assert number == 700027 and "signature" in text
    unregistered_key, unregistered_cert = make_app_certificate("unregistered")
    number, text = code(_assertion(emulator, unregistered_key, unregistered_cert))
    assert number == 700027 and "The key was not found" in text
    assert code(_assertion(emulator, seeds.CONTOSO_CERT_KEY_PEM, seeds.CONTOSO_CERT_PEM, exp_delta=-900))[0] == 700024
    assert code(_assertion(emulator, seeds.CONTOSO_CERT_KEY_PEM, seeds.CONTOSO_CERT_PEM, aud="https://elsewhere/token"))[0] == 700023
    assert code(_assertion(emulator, seeds.CONTOSO_CERT_KEY_PEM, seeds.CONTOSO_CERT_PEM, iss=seeds.FABRIKAM_CLIENT_ID))[0] == 700021


def test_federated_assertion(emulator, client):
    now = int(time.time())
    good = jwt.encode({"iss": seeds.CONTOSO_FEDERATED_ISSUER, "sub": seeds.CONTOSO_FEDERATED_SUBJECT, "aud": seeds.FEDERATED_AUDIENCE,
                       "exp": now + 300, "iat": now, "nbf": now}, "k" * 32, algorithm="HS256")
    assert client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, assertion=good).status_code == 200
    wrong = jwt.encode({"iss": seeds.CONTOSO_FEDERATED_ISSUER, "sub": "repo:evil/fork:ref:refs/heads/main",
                        "aud": seeds.FEDERATED_AUDIENCE, "exp": now + 300, "iat": now}, "k" * 32, algorithm="HS256")
    resp = client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, assertion=wrong)
    assert resp.json()["error_codes"] == [70021]
    assert "No matching federated identity record found for presented assertion" in resp.json()["error_description"]
    stale = jwt.encode({"iss": seeds.CONTOSO_FEDERATED_ISSUER, "sub": seeds.CONTOSO_FEDERATED_SUBJECT, "aud": seeds.FEDERATED_AUDIENCE,
                        "exp": now - 900, "iat": now - 1200}, "k" * 32, algorithm="HS256")
    assert client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, assertion=stale).json()["error_codes"] == [700024]


def test_federated_assertion_with_jwks(emulator, client):
    key_pem = make_app_certificate("issuer")[0]
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwk["kid"] = "k1"
    seed = seeds.test_seed()
    seed["tenants"][0]["apps"][0]["federated_credentials"] = [{"issuer": "https://issuer.example", "subject": "ci", "audience": "api://AzureADTokenExchange",
                                                               "jwks": {"keys": [jwk]}}]
    emulator.reset(seed)
    now = int(time.time())
    claims = {"iss": "https://issuer.example", "sub": "ci", "aud": "api://AzureADTokenExchange", "exp": now + 300, "iat": now}
    signed = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, assertion=signed).status_code == 200
    other = serialization.load_pem_private_key(make_app_certificate("x")[0].encode(), password=None)
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": "k1"})
    assert client.token_response(seeds.CONTOSO_TENANT_ID, seeds.CONTOSO_CLIENT_ID, assertion=forged).json()["error_codes"] == [700027]


@pytest.mark.parametrize("credential", ["secret", "certificate", "certificate_pss"])
def test_msal_acquires_tokens_for_both_resources(emulator, credential):
    if credential == "secret":
        cred = seeds.CONTOSO_SECRET
    elif credential == "certificate":
        cred = {"private_key": seeds.CONTOSO_CERT_KEY_PEM, "thumbprint": seeds.CONTOSO_CERT_THUMBPRINT}
    else:
        cred = {"private_key": seeds.CONTOSO_CERT_KEY_PEM, "public_certificate": seeds.CONTOSO_CERT_PEM}
    app = msal.ConfidentialClientApplication(
        seeds.CONTOSO_CLIENT_ID, client_credential=cred, authority=f"{emulator.base_url}/{seeds.CONTOSO_DOMAIN}",
        instance_discovery=False, http_client=VerifyingHttpClient(emulator.ca_path))
    for resource in (GRAPH_RESOURCE, EXCHANGE_RESOURCE):
        result = app.acquire_token_for_client(scopes=[f"{resource}/.default"])
        assert "access_token" in result, result
        assert jwt.decode(result["access_token"], options={"verify_signature": False})["aud"] == resource


def test_msal_reports_wrong_secret(emulator):
    app = msal.ConfidentialClientApplication(
        seeds.CONTOSO_CLIENT_ID, client_credential="wrong", authority=f"{emulator.base_url}/{seeds.CONTOSO_TENANT_ID}",
        instance_discovery=False, http_client=VerifyingHttpClient(emulator.ca_path))
    result = app.acquire_token_for_client(scopes=[f"{GRAPH_RESOURCE}/.default"])
    assert result["error"] == "invalid_client" and 7000215 in result["error_codes"]

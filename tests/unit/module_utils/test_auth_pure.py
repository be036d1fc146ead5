"""Credential selection and input validation: no request is made by anything here."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest
from cryptography.hazmat.primitives import serialization
from m365emu.pki import make_app_certificate, make_pfx, thumbprints

from ansible_collections.m365ops.remediation.plugins.module_utils import auth
from ansible_collections.m365ops.remediation.plugins.module_utils.auth import (
    authority_url,
    credential_from_options,
    resource_for,
)
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.access_token import AccessTokenCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.certificate_file import load_client_certificate
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_certificate import CertificateCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_secret import ClientSecretCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.federated_token import FederatedTokenCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.transport import Transport

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.fixture(scope="module")
def transport():
    with Transport() as value:
        yield value


@pytest.fixture(scope="module")
def app_cert():
    return make_app_certificate()


@pytest.mark.parametrize("endpoint, default, expected", [
    ("https://graph.microsoft.com", auth.GRAPH_RESOURCE, "https://graph.microsoft.com"),
    ("https://graph.microsoft.us/", auth.GRAPH_RESOURCE, "https://graph.microsoft.us"),
    ("https://dod-graph.microsoft.us", auth.GRAPH_RESOURCE, "https://dod-graph.microsoft.us"),
    ("https://microsoftgraph.chinacloudapi.cn", auth.GRAPH_RESOURCE, "https://microsoftgraph.chinacloudapi.cn"),
    ("https://outlook.office365.us", auth.EXCHANGE_RESOURCE, "https://outlook.office365.us"),
    ("https://webmail.apps.mil", auth.EXCHANGE_RESOURCE, "https://webmail.apps.mil"),
    ("https://partner.outlook.cn", auth.EXCHANGE_RESOURCE, "https://partner.outlook.cn"),
    ("https://OUTLOOK.office365.com:443/", auth.EXCHANGE_RESOURCE, "https://outlook.office365.com"),
    ("https://127.0.0.1:8443", auth.GRAPH_RESOURCE, auth.GRAPH_RESOURCE),
    ("https://127.0.0.1:8443", auth.EXCHANGE_RESOURCE, auth.EXCHANGE_RESOURCE),
    ("", auth.GRAPH_RESOURCE, auth.GRAPH_RESOURCE),
    (None, auth.GRAPH_RESOURCE, auth.GRAPH_RESOURCE),
    ("https://[::1", auth.GRAPH_RESOURCE, auth.GRAPH_RESOURCE),
])
def test_resource_for(endpoint, default, expected):
    assert resource_for(endpoint, default) == expected


@pytest.mark.parametrize("host, tenant, expected", [
    ("https://login.microsoftonline.com", TENANT, f"https://login.microsoftonline.com/{TENANT}"),
    ("https://login.microsoftonline.com/", "contoso.com", "https://login.microsoftonline.com/contoso.com"),
    ("login.microsoftonline.us", TENANT, f"https://login.microsoftonline.us/{TENANT}"),
    ("https://127.0.0.1:8443", TENANT, f"https://127.0.0.1:8443/{TENANT}"),
    (None, TENANT, f"https://login.microsoftonline.com/{TENANT}"),
])
def test_authority_url(host, tenant, expected):
    assert authority_url(host, tenant) == expected


@pytest.mark.parametrize("host, tenant, words", [
    ("http://login.microsoftonline.com", TENANT, "https"),
    ("https://login.microsoftonline.com/x", TENANT, "host only"),
    ("https://login.microsoftonline.com?x=1", TENANT, "host only"),
    ("https://", TENANT, "no host"),
    ("https://login.microsoftonline.com", "", "tenant_id is required"),
    ("https://login.microsoftonline.com", None, "AZURE_TENANT_ID"),
    ("https://login.microsoftonline.com", "../etc", "tenant_id"),
    ("https://login.microsoftonline.com", "a/b", "tenant_id"),
    ("https://login.microsoftonline.com", "common", "one tenant"),
])
def test_authority_url_rejects(host, tenant, words):
    with pytest.raises(M365Error) as info:
        authority_url(host, tenant)
    assert info.value.code == "invalid_configuration"
    assert info.value.service == "auth"
    assert words in info.value.message


def test_precedence(transport, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("x.y.z")
    base = {"tenant_id": TENANT, "client_id": CLIENT, "client_secret": "s3cret-value", "authority_host": None}
    assert isinstance(credential_from_options(base, transport), ClientSecretCredential)
    fed = dict(base, federated_token_file=str(token_file))
    assert isinstance(credential_from_options(fed, transport), FederatedTokenCredential)
    cert = dict(fed, client_certificate_path="/nonexistent.pem")
    assert isinstance(credential_from_options(cert, transport), CertificateCredential)
    tok = dict(cert, access_token="abc")
    assert isinstance(credential_from_options(tok, transport), AccessTokenCredential)
    # An access token needs no tenant or client id.
    assert isinstance(credential_from_options({"access_token": "abc"}, transport), AccessTokenCredential)
    # Empty strings count as unset (empty env vars).
    assert isinstance(credential_from_options(dict(base, access_token="", client_certificate_path=""), transport),
                      ClientSecretCredential)


def test_missing_settings_message_lists_options_and_env(transport):
    with pytest.raises(M365Error) as info:
        credential_from_options({"tenant_id": TENANT}, transport)
    message = info.value.message
    for word in ("client_id", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
                 "AZURE_FEDERATED_TOKEN_FILE", "access_token"):
        assert word in message
    assert "AZURE_TENANT_ID" not in message
    with pytest.raises(M365Error) as info:
        credential_from_options({}, transport)
    assert "AZURE_TENANT_ID" in info.value.message


def test_secret_validate(transport):
    ClientSecretCredential(TENANT, CLIENT, "value", authority_host="https://login.microsoftonline.com", transport=transport).validate()
    with pytest.raises(M365Error, match="client_secret"):
        ClientSecretCredential(TENANT, CLIENT, "", transport=transport).validate()
    with pytest.raises(M365Error, match="client_id"):
        ClientSecretCredential(TENANT, "", "value", transport=transport).validate()
    with pytest.raises(M365Error, match="https"):
        ClientSecretCredential(TENANT, CLIENT, "value", authority_host="http://x", transport=transport).validate()


def _write(path, *parts):
    path.write_bytes(b"".join(p.encode() if isinstance(p, str) else p for p in parts))
    return str(path)


def _encrypt(key_pem: str, password: str) -> bytes:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(password.encode()))


def test_certificate_pem(transport, tmp_path, app_cert):
    key_pem, cert_pem = app_cert
    cred = CertificateCredential(TENANT, CLIENT, _write(tmp_path / "app.pem", cert_pem, key_pem), transport=transport)
    cred.validate()
    assert cred.thumbprint == thumbprints(cert_pem)[0]
    assert cred.thumbprint_sha256 == thumbprints(cert_pem)[1]
    assert cred._client_credential() == {"private_key": cred._key_pem, "thumbprint": cred.thumbprint}  # pylint: disable=protected-access
    sha = CertificateCredential(TENANT, CLIENT, str(tmp_path / "app.pem"), transport=transport, sha256=True)
    sha.validate()
    assert "public_certificate" in sha._client_credential()  # pylint: disable=protected-access


def test_loaded_certificate_keeps_its_key_out_of_its_repr(tmp_path, app_cert):
    key_pem, cert_pem = app_cert
    loaded = load_client_certificate(_write(tmp_path / "app.pem", cert_pem, key_pem))
    assert loaded.thumbprint == thumbprints(cert_pem)[0] and "PRIVATE KEY" in loaded.key_pem
    assert "PRIVATE KEY" not in repr(loaded) and loaded.thumbprint in repr(loaded)


def test_certificate_pem_encrypted(transport, tmp_path, app_cert):
    key_pem, cert_pem = app_cert
    path = _write(tmp_path / "enc.pem", _encrypt(key_pem, "pa55word"), cert_pem)
    CertificateCredential(TENANT, CLIENT, path, password="pa55word", transport=transport).validate()
    with pytest.raises(M365Error, match="wrong client_certificate_password") as info:
        CertificateCredential(TENANT, CLIENT, path, password="nope", transport=transport).validate()
    assert "nope" not in str(info.value)
    with pytest.raises(M365Error, match="encrypted"):
        CertificateCredential(TENANT, CLIENT, path, transport=transport).validate()


def test_certificate_pfx(transport, tmp_path, app_cert):
    key_pem, cert_pem = app_cert
    path = _write(tmp_path / "app.pfx", make_pfx(key_pem, cert_pem, "pfx-pass"))
    cred = CertificateCredential(TENANT, CLIENT, path, password="pfx-pass", transport=transport)
    cred.validate()
    assert cred.thumbprint == thumbprints(cert_pem)[0]
    with pytest.raises(M365Error, match="wrong client_certificate_password"):
        CertificateCredential(TENANT, CLIENT, path, password="bad", transport=transport).validate()
    with pytest.raises(M365Error, match="password"):
        CertificateCredential(TENANT, CLIENT, path, transport=transport).validate()
    # No extension: detected by content.
    bare = _write(tmp_path / "bundle", make_pfx(key_pem, cert_pem))
    CertificateCredential(TENANT, CLIENT, bare, transport=transport).validate()


@pytest.mark.parametrize("case, words", [
    ("missing_key", "no private key"),
    ("missing_cert", "no certificate"),
    ("mismatch", "does not match"),
    ("garbage", "neither PEM nor PFX"),
    ("absent", "cannot be read"),
])
def test_certificate_errors(transport, tmp_path, app_cert, case, words):
    key_pem, cert_pem = app_cert
    other_key = make_app_certificate("other")[0]
    path = {
        "missing_key": lambda: _write(tmp_path / "c.pem", cert_pem),
        "missing_cert": lambda: _write(tmp_path / "k.pem", key_pem),
        "mismatch": lambda: _write(tmp_path / "m.pem", other_key, cert_pem),
        "garbage": lambda: _write(tmp_path / "g.txt", "hello"),
        "absent": lambda: str(tmp_path / "nothing.pem"),
    }[case]()
    with pytest.raises(M365Error) as info:
        CertificateCredential(TENANT, CLIENT, path, transport=transport).validate()
    assert info.value.code == "invalid_configuration"
    assert words in info.value.message
    assert "PRIVATE KEY" not in str(info.value)


def test_certificate_expired_is_refused_locally(transport, tmp_path):
    past = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=400)
    key_pem, cert_pem = make_app_certificate(not_before=past, not_after=past + dt.timedelta(days=30))
    path = _write(tmp_path / "old.pem", key_pem, cert_pem)
    with pytest.raises(M365Error, match="expired on") as info:
        CertificateCredential(TENANT, CLIENT, path, transport=transport).validate()
    assert info.value.code == "invalid_configuration"


def test_federated_validate_and_reread(transport, tmp_path):
    path = tmp_path / "token"
    with pytest.raises(M365Error, match="cannot be read"):
        FederatedTokenCredential(TENANT, CLIENT, token_file=str(path), transport=transport).validate()
    path.write_text("")
    with pytest.raises(M365Error, match="empty"):
        FederatedTokenCredential(TENANT, CLIENT, token_file=str(path), transport=transport).validate()
    path.write_text("first\n")
    cred = FederatedTokenCredential(TENANT, CLIENT, token_file=str(path), transport=transport)
    cred.validate()
    assert cred._client_credential()["client_assertion"]() == "first"  # pylint: disable=protected-access
    path.write_text("second")
    assert cred.assertion() == "second"
    with pytest.raises(M365Error, match="AZURE_FEDERATED_TOKEN_FILE"):
        FederatedTokenCredential(TENANT, CLIENT, transport=transport).validate()
    assert FederatedTokenCredential(TENANT, CLIENT, token="abc", transport=transport).assertion() == "abc"


def _jwt(claims):
    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{enc({'alg': 'none'})}.{enc(claims)}.sig"


def test_access_token_credential():
    cred = AccessTokenCredential("opaque")
    cred.validate()
    assert cred.get_token(auth.GRAPH_RESOURCE) == cred.get_token(auth.EXCHANGE_RESOURCE) == "opaque"
    assert cred.refresh(auth.GRAPH_RESOURCE, "opaque") == "opaque"
    AccessTokenCredential(_jwt({"exp": time.time() + 600})).validate()
    with pytest.raises(M365Error, match="expired"):
        AccessTokenCredential(_jwt({"exp": time.time() - 600})).validate()
    with pytest.raises(M365Error, match="empty"):
        AccessTokenCredential("").validate()

"""Tenant identity of tokens: claims read without verification, GUID and domain comparison, refusals. No request."""

from __future__ import annotations

import base64
import json
import time
from types import SimpleNamespace

import pytest

from ansible_collections.m365ops.remediation.plugins.module_utils import auth
from ansible_collections.m365ops.remediation.plugins.module_utils.auth import (
    check_token_tenant,
    credential_from_options,
    expected_tenant_id,
    is_tenant_guid,
    jwt_claims,
    token_tenant_id,
)
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials import credential
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.access_token import AccessTokenCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_secret import ClientSecretCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error

CONTOSO = "6f1a9c3e-2b4d-4e8f-9a10-3c5d7e9f1b2a"
FABRIKAM = "0c4b8e2a-7d1f-4a3c-b5e9-8f2d6a1c3e70"
CLIENT = "3b7e1d42-8c5f-4a96-b1e3-5d8f2a4c6e10"
HOST = "https://login.microsoftonline.com"


def make_jwt(claims: dict, payload: str | None = None) -> str:
    def enc(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()
    return f"{enc({'alg': 'RS256', 'typ': 'JWT'})}.{payload if payload is not None else enc(claims)}.c2lnbmF0dXJl"


# -- claims ----------------------------------------------------------------------------------------------------


def test_jwt_claims_reads_the_payload_without_verification():
    token = make_jwt({"tid": CONTOSO, "exp": 1234, "aud": "https://graph.microsoft.com"})
    assert jwt_claims(token) == {"tid": CONTOSO, "exp": 1234, "aud": "https://graph.microsoft.com"}


@pytest.mark.parametrize("token", [None, "", "opaque", "a.b", "a.b.c.d", make_jwt({}, payload="!!not-base64!!"),
                                   make_jwt({}, payload=base64.urlsafe_b64encode(b"[1, 2]").decode().rstrip("=")),
                                   make_jwt({}, payload=base64.urlsafe_b64encode(b"not json").decode().rstrip("="))])
def test_jwt_claims_of_anything_else_is_empty(token):
    assert jwt_claims(token) == {}


def test_expiry_reads_exp_through_the_same_helper():
    later = time.time() + 600
    assert auth.jwt_expiry(make_jwt({"exp": later})) == later
    assert auth.jwt_expiry(make_jwt({"exp": "soon"})) is None
    assert auth.jwt_expiry("opaque") is None


def test_token_tenant_id_is_a_lower_case_guid_or_none():
    assert token_tenant_id(make_jwt({"tid": CONTOSO.upper()})) == CONTOSO
    assert token_tenant_id(make_jwt({"tid": "contoso.com"})) is None
    assert token_tenant_id(make_jwt({"tid": 42})) is None
    assert token_tenant_id(make_jwt({"aud": "x"})) is None
    assert token_tenant_id("opaque") is None


def test_is_tenant_guid():
    assert is_tenant_guid(CONTOSO) and is_tenant_guid(CONTOSO.upper()) and is_tenant_guid(f" {CONTOSO} ")
    assert not is_tenant_guid("contoso.com") and not is_tenant_guid(None) and not is_tenant_guid(CONTOSO + "0")


# -- the GUID a token must carry --------------------------------------------------------------------------------


def test_a_guid_tenant_names_itself_whatever_discovery_said():
    assert expected_tenant_id(CONTOSO.upper(), f"{HOST}/{FABRIKAM}/v2.0", FABRIKAM) == CONTOSO


def test_a_domain_takes_the_guid_of_the_discovered_issuer_first():
    assert expected_tenant_id("contoso.com", f"{HOST}/{CONTOSO.upper()}/v2.0", FABRIKAM) == CONTOSO


def test_a_domain_takes_the_discovered_token_endpoint_tenant_next():
    assert expected_tenant_id("contoso.com", "https://sts.example/no-guid/", CONTOSO) == CONTOSO
    assert expected_tenant_id("contoso.com", None, CONTOSO.upper()) == CONTOSO


def test_a_domain_without_a_discovered_guid_compares_nothing():
    assert expected_tenant_id("contoso.com", None, "contoso.com") is None
    assert expected_tenant_id("contoso.com", "not a url [", None) is None
    check_token_tenant(make_jwt({"tid": FABRIKAM}), "contoso.com", None)


def test_check_token_tenant_passes_the_same_tenant_and_opaque_tokens():
    check_token_tenant(make_jwt({"tid": CONTOSO.upper()}), CONTOSO, CONTOSO)
    check_token_tenant(make_jwt({"aud": "x"}), CONTOSO, CONTOSO)
    check_token_tenant("opaque", CONTOSO, CONTOSO)


def test_check_token_tenant_refuses_another_tenant_in_one_sentence():
    token = make_jwt({"tid": FABRIKAM})
    with pytest.raises(M365Error) as info:
        check_token_tenant(token, "contoso.com", CONTOSO)
    err = info.value
    assert err.service == "auth" and err.code == "tenant_mismatch" and not err.transient
    assert err.message == (f"Refused a token for tenant 'contoso.com' because it was issued for tenant {FABRIKAM} "
                           f"(expected {CONTOSO}): check tenant_id and authority_host")
    assert token not in str(err) and token not in json.dumps(err.to_dict())


# -- the msal credentials check each token once -----------------------------------------------------------------


class StubApp:
    """What _acquire uses of an msal application: acquire_token_for_client and the discovered authority."""

    def __init__(self, tokens, issuer=None, discovered_tenant=None):
        self.tokens = list(tokens)
        self.authority = SimpleNamespace(_issuer=issuer, tenant=discovered_tenant)

    def acquire_token_for_client(self, scopes):
        del scopes
        return {"access_token": self.tokens.pop(0) if len(self.tokens) > 1 else self.tokens[0]}


def secret_credential(tenant_id):
    return ClientSecretCredential(tenant_id, CLIENT, "not-a-real-secret", authority_host=HOST, transport=None)


def test_a_domain_credential_refuses_a_token_for_another_tenant():
    cred = secret_credential("contoso.com")
    app = StubApp([make_jwt({"tid": FABRIKAM})], issuer=f"{HOST}/{CONTOSO}/v2.0", discovered_tenant=CONTOSO)
    with pytest.raises(M365Error) as info:
        cred._acquire(app, auth.GRAPH_RESOURCE)  # pylint: disable=protected-access
    assert info.value.code == "tenant_mismatch"
    assert "'contoso.com'" in info.value.message and FABRIKAM in info.value.message and CONTOSO in info.value.message
    # A refused token is never remembered as checked: asked again, it is refused again.
    with pytest.raises(M365Error):
        cred._acquire(app, auth.GRAPH_RESOURCE)  # pylint: disable=protected-access


def test_each_distinct_token_is_checked_once(monkeypatch):
    checked = []
    real_check = credential.check_token_tenant
    monkeypatch.setattr(credential, "check_token_tenant", lambda token, *args: checked.append(token) or real_check(token, *args))
    first, second = make_jwt({"tid": CONTOSO, "n": 1}), make_jwt({"tid": CONTOSO, "n": 2})
    cred = secret_credential(CONTOSO)
    app = StubApp([first, first, first, second, second])
    assert [cred._acquire(app, auth.GRAPH_RESOURCE) for _attempt in range(5)] == [first] * 3 + [second] * 2  # pylint: disable=protected-access
    assert checked == [first, second]


def test_a_guid_credential_refuses_a_token_for_another_guid():
    cred = secret_credential(CONTOSO.upper())
    with pytest.raises(M365Error) as info:
        cred._acquire(StubApp([make_jwt({"tid": FABRIKAM})]), auth.EXCHANGE_RESOURCE)  # pylint: disable=protected-access
    assert info.value.code == "tenant_mismatch"


# -- pre-acquired access tokens ---------------------------------------------------------------------------------


def test_an_access_token_for_another_tenant_is_refused_by_validate():
    token = make_jwt({"tid": FABRIKAM, "exp": time.time() + 600})
    cred = credential_from_options({"access_token": token, "tenant_id": CONTOSO}, transport=None)
    assert isinstance(cred, AccessTokenCredential) and cred.tenant_id == CONTOSO
    with pytest.raises(M365Error) as info:
        cred.validate()
    assert info.value.code == "tenant_mismatch" and info.value.service == "auth"
    assert FABRIKAM in info.value.message and CONTOSO in info.value.message
    assert token not in str(info.value)


@pytest.mark.parametrize("tenant_id, claims", [
    (CONTOSO.upper(), {"tid": CONTOSO}),    # the same tenant
    (None, {"tid": FABRIKAM}),              # no tenant named: nothing to compare
    ("contoso.com", {"tid": FABRIKAM}),     # a domain cannot be compared without a request
    (CONTOSO, {"aud": "x"}),                # no tid
])
def test_an_access_token_that_cannot_be_told_apart_passes(tenant_id, claims):
    cred = AccessTokenCredential(make_jwt(dict(claims, exp=time.time() + 600)), tenant_id=tenant_id)
    cred.validate()


def test_an_opaque_access_token_passes():
    AccessTokenCredential("opaque", tenant_id=CONTOSO).validate()


def test_tenant_guid_of_an_access_token():
    assert AccessTokenCredential(make_jwt({"tid": FABRIKAM.upper()})).tenant_guid(auth.GRAPH_RESOURCE) == FABRIKAM
    assert AccessTokenCredential("opaque", tenant_id=CONTOSO.upper()).tenant_guid(auth.GRAPH_RESOURCE) == CONTOSO
    assert AccessTokenCredential("opaque", tenant_id="contoso.com").tenant_guid(auth.GRAPH_RESOURCE) is None

"""Tenant identity against the emulator over HTTPS: a domain resolves to its GUID, a token for another tenant is refused
before any service request, by the client core and by the modules."""

from __future__ import annotations

import json

import jwt
import pytest
from m365emu import seeds, testkeys

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import EXCHANGE_RESOURCE, GRAPH_RESOURCE
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_certificate import CertificateCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_secret import ClientSecretCredential
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import ExchangeClient
from ansible_collections.m365ops.remediation.plugins.module_utils.graph import GraphClient
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import Users
from ansible_collections.m365ops.remediation.plugins.plugin_utils.in_process import run_main

CONTOSO = seeds.CONTOSO_TENANT_ID
FABRIKAM = seeds.FABRIKAM_TENANT_ID
MODULES = 'ansible_collections.m365ops.remediation.plugins.modules.'


def other_tenant_tokens(emulator, tenant=FABRIKAM):
    """Every token the emulator issues from now on names ``tenant``."""
    emulator.set_faults([{"service": "token", "token_tenant": tenant}])


def token_posts(entries):
    return [e for e in entries if e["service"] == "token" and e["method"] == "POST"]


def service_requests(entries):
    return [e for e in entries if e["service"] in ("graph", "exchange")]


def domain_credential(emulator, transport):
    return ClientSecretCredential(seeds.CONTOSO_DOMAIN, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET,
                                  authority_host=emulator.base_url, transport=transport)


# -- the client core ---------------------------------------------------------------------------------------------


def test_a_domain_tenant_resolves_to_its_guid(emulator, transport):
    cred = domain_credential(emulator, transport)
    assert cred.tenant_guid(GRAPH_RESOURCE) == CONTOSO
    entries = emulator.journal()
    # Discovery by the domain, then the token from the endpoint discovery named by the GUID, as Entra's.
    assert entries[0]["path"] == f"/{seeds.CONTOSO_DOMAIN}/v2.0/.well-known/openid-configuration"
    assert [e["path"] for e in token_posts(entries)] == [f"/{CONTOSO}/oauth2/v2.0/token"]
    mark = emulator.mark()
    assert cred.tenant_guid(GRAPH_RESOURCE) == CONTOSO
    assert emulator.journal(mark) == []


def test_a_domain_certificate_credential_signs_for_the_guid_token_endpoint(emulator, transport, tmp_path):
    path = tmp_path / "app.pem"
    path.write_text(testkeys.CONTOSO_CERT_PEM + testkeys.CONTOSO_CERT_KEY_PEM)
    cred = CertificateCredential(seeds.CONTOSO_DOMAIN, seeds.CONTOSO_CLIENT_ID, str(path), authority_host=emulator.base_url,
                                 transport=transport)
    assert cred.tenant_guid(EXCHANGE_RESOURCE) == CONTOSO


def test_the_guid_tenant_is_the_tokens_tid(emulator, credential):
    assert credential.tenant_guid(GRAPH_RESOURCE) == CONTOSO
    assert jwt.decode(credential.get_token(GRAPH_RESOURCE), options={"verify_signature": False})["tid"] == CONTOSO


@pytest.mark.parametrize("named", [CONTOSO, seeds.CONTOSO_DOMAIN])
def test_a_token_for_another_tenant_is_refused(emulator, transport, named):
    other_tenant_tokens(emulator)
    cred = ClientSecretCredential(named, seeds.CONTOSO_CLIENT_ID, seeds.CONTOSO_SECRET, authority_host=emulator.base_url,
                                  transport=transport)
    with pytest.raises(M365Error) as info:
        cred.get_token(GRAPH_RESOURCE)
    err = info.value
    assert err.service == "auth" and err.code == "tenant_mismatch"
    assert err.message == (f"Refused a token for tenant {named!r} because it was issued for tenant {FABRIKAM} "
                           f"(expected {CONTOSO}): check tenant_id and authority_host")
    issued = emulator.issued_tokens()[-1]
    assert jwt.decode(issued, options={"verify_signature": False})["tid"] == FABRIKAM
    assert issued not in json.dumps(err.to_dict()) and seeds.CONTOSO_SECRET not in str(err)


def test_an_unknown_tenant_guid_in_the_token_is_refused_too(emulator, credential):
    stranger = "12345678-90ab-4cde-8f01-234567890abc"
    other_tenant_tokens(emulator, stranger.upper())
    with pytest.raises(M365Error, match=stranger) as info:
        credential.get_token(EXCHANGE_RESOURCE)
    assert info.value.code == "tenant_mismatch"


def test_no_service_request_follows_a_refused_token(emulator, transport, credential):
    other_tenant_tokens(emulator)
    mark = emulator.mark()
    graph = GraphClient(transport, credential, emulator.base_url)
    exchange = ExchangeClient(transport, credential, CONTOSO, emulator.base_url)
    calls = [
        lambda: Users(graph).get("rob@contoso.com", ["id"]),
        lambda: Users(graph).revoke_sessions(seeds.USER_IDS["rob@contoso.com"]),
        lambda: exchange.invoke("Get-BlockedSenderAddress"),
    ]
    for call in calls:
        with pytest.raises(M365Error) as info:
            call()
        assert info.value.code == "tenant_mismatch"
    entries = emulator.journal(mark)
    assert service_requests(entries) == []
    assert token_posts(entries)


def test_a_refused_token_stays_refused_while_msal_holds_it(emulator, credential):
    emulator.set_faults([{"service": "token", "token_tenant": FABRIKAM, "count": 1}])
    for _attempt in range(2):
        with pytest.raises(M365Error) as info:
            credential.get_token(GRAPH_RESOURCE)
        assert info.value.code == "tenant_mismatch"
    assert len(token_posts(emulator.journal())) == 1
    # The next token the tenant issues (here for Exchange) names the right tenant and is taken.
    assert jwt.decode(credential.get_token(EXCHANGE_RESOURCE), options={"verify_signature": False})["tid"] == CONTOSO


# -- the modules -------------------------------------------------------------------------------------------------


def module_args(emulator, **args):
    base = dict(tenant_id=CONTOSO, client_id=seeds.CONTOSO_CLIENT_ID, client_secret=seeds.CONTOSO_SECRET,
                authority_host=emulator.base_url, graph_endpoint=emulator.base_url, exchange_endpoint=emulator.base_url,
                ca_bundle=emulator.ca_path, _ansible_check_mode=False)
    base.update(args)
    return json.dumps(dict(ANSIBLE_MODULE_ARGS={k: v for k, v in base.items() if v is not None})).encode()


def run_module(name, emulator, **args):
    output, rc = run_main(MODULES + name, module_args(emulator, **args))
    return json.loads(output), rc


@pytest.fixture(autouse=True)
def no_tenant_in_environment(monkeypatch):
    for name in ("AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_AUTHORITY_HOST"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("name, args", [
    ("tenant_info", {}),
    ("user_info", {"users": ["rob@contoso.com"]}),
    ("user_sessions", {"users": ["rob@contoso.com"]}),
    ("restricted_user_info", {}),
    ("restricted_user", {"addresses": ["rob@contoso.com"], "state": "absent"}),
])
def test_every_module_refuses_a_token_for_another_tenant(emulator, name, args):
    other_tenant_tokens(emulator)
    mark = emulator.mark()
    result, rc = run_module(name, emulator, **args)
    assert rc == 1 and result["failed"]
    # A module failing as a whole says so in its error; one with an entry per item says it in each entry.
    errors = [result["error"]] if "error" in result else [item["error"] for item in result["results"]]
    assert errors and all(e["code"] == "tenant_mismatch" for e in errors), result
    assert "Refused a token for tenant" in json.dumps(result)
    entries = emulator.journal(mark)
    assert token_posts(entries) and service_requests(entries) == []


@pytest.mark.parametrize("tenant", [CONTOSO.upper(), seeds.CONTOSO_DOMAIN])
def test_tenant_info_by_guid_and_by_domain(emulator, tenant):
    result, rc = run_module("tenant_info", emulator, tenant_id=tenant)
    assert rc == 0, result
    assert result == dict(changed=False, tenant_id=CONTOSO, tenant=tenant, tenant_source="option", client_id=seeds.CONTOSO_CLIENT_ID,
                          authority_host=emulator.base_url, invocation=result["invocation"])
    assert service_requests(emulator.journal()) == []


def test_tenant_info_takes_the_environment_when_allowed(emulator, monkeypatch):
    monkeypatch.setenv("AZURE_TENANT_ID", seeds.CONTOSO_DOMAIN)
    result, rc = run_module("tenant_info", emulator, tenant_id=None)
    assert rc == 0, result
    assert (result["tenant_id"], result["tenant"], result["tenant_source"]) == (CONTOSO, seeds.CONTOSO_DOMAIN, "environment")


def test_tenant_info_refuses_the_environment_before_any_request(emulator, monkeypatch):
    monkeypatch.setenv("AZURE_TENANT_ID", CONTOSO)
    mark = emulator.mark()
    result, rc = run_module("tenant_info", emulator, tenant_id=None, environment_tenant="refuse")
    assert rc == 1 and result["failed"]
    assert result["msg"] == ("No tenant named for this host: set tenant_id (the inventory variable m365_tenant_id with the "
                             "collection's playbook); the environment's AZURE_TENANT_ID may serve only a play with one tenant host")
    assert emulator.journal(mark) == []
    result, rc = run_module("tenant_info", emulator, tenant_id=seeds.CONTOSO_DOMAIN, environment_tenant="refuse")
    assert rc == 0 and result["tenant_source"] == "option" and result["tenant_id"] == CONTOSO


def test_tenant_info_runs_in_check_mode(emulator):
    result, rc = run_module("tenant_info", emulator, _ansible_check_mode=True)
    assert rc == 0 and not result["changed"] and result["tenant_id"] == CONTOSO


def test_tenant_info_with_an_access_token(emulator, credential):
    token = credential.get_token(GRAPH_RESOURCE)
    result, rc = run_module("tenant_info", emulator, tenant_id=None, client_id=None, client_secret=None, access_token=token)
    assert rc == 0, result
    assert (result["tenant_id"], result["tenant"], result["tenant_source"], result["client_id"]) == (CONTOSO, None, None, None)
    assert token not in json.dumps(result)
    result, rc = run_module("tenant_info", emulator, tenant_id=FABRIKAM, client_id=None, client_secret=None, access_token=token)
    assert rc == 1 and result["error"]["code"] == "tenant_mismatch"

"""The conformance check (tests/conformance/check.py): one test per rule, on hand-made journal entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance import check, vendor
from conformance.check import Checker, Reference, check_entry, check_exchange, check_graph
from m365emu.journal import body_shape, cmdlet_parameters_shape, shape


@pytest.fixture(scope="module", name="ref")
def ref_fixture():
    return Reference.load()


def graph(ref, method, target, body=None):
    return check_graph(ref, method, target, shape(body) if body is not None else None)


# -- the journal's shapes ----------------------------------------------------------------------------------------------


def test_shape_has_names_and_json_types_never_values():
    body = {"passwordProfile": {"password": "S3cret!value", "forceChangePasswordNextSignIn": True},
            "n": 3, "x": 1.5, "none": None, "list": ["a", "b", 1, {"k": "v"}, {"k": "w"}], "empty": []}
    assert shape(body) == {"passwordProfile": {"password": "string", "forceChangePasswordNextSignIn": "boolean"},
                           "n": "number", "x": "number", "none": "null", "list": ["string", "number", {"k": "string"}],
                           "empty": []}
    assert "S3cret" not in json.dumps(shape(body))


def test_shape_of_raw_bodies():
    assert body_shape(b"") is None
    assert body_shape(b"grant_type=client_credentials&client_secret=x") is None
    assert body_shape(b'{"a": [true]}') == {"a": ["boolean"]}
    raw = json.dumps({"CmdletInput": {"CmdletName": "Set-Mailbox", "Parameters": {"Identity": "a@b.c", "X": None}}}).encode()
    assert cmdlet_parameters_shape(body_shape(raw)) == {"Identity": "string", "X": "null"}
    assert cmdlet_parameters_shape(body_shape(b'{"CmdletInput": {"CmdletName": "Get-Mailbox"}}')) is None
    assert cmdlet_parameters_shape(None) is None


def test_shape_depth_is_bounded():
    deep: dict = {}
    node = deep
    for level in range(30):
        node["a"] = {"level": level}
        node = node["a"]
    assert "object" in json.dumps(shape(deep))


# -- Graph: paths and methods ------------------------------------------------------------------------------------------


def test_path_ids_match_template_segments(ref):
    assert ref.match("/users/rob%40contoso.com") == "/users/{user-id}"
    assert ref.match("/users/1a0b/mailFolders/inbox/messageRules/AQ==") == \
        "/users/{user-id}/mailFolders/{mailFolder-id}/messageRules/{messageRule-id}"
    assert ref.match("/users(userPrincipalName='rob@contoso.com')") == "/users(userPrincipalName='{userPrincipalName}')"
    assert ref.match("/users/x/memberOf/microsoft.graph.directoryRole") == "/users/{user-id}/memberOf/microsoft.graph.directoryRole"


def test_me_alias_and_operation_forms(ref):
    assert ref.match("/me/mailFolders/inbox") == "/users/{user-id}/mailFolders/{mailFolder-id}"
    assert ref.match("/users/x/microsoft.graph.revokeSignInSessions") == "/users/{user-id}/revokeSignInSessions"
    assert ref.match("/users/x/mailFolders/delta") == "/users/{user-id}/mailFolders/delta()"
    assert ref.match("/users/x/microsoft.graph.mailFolders") is None


def test_unknown_path_is_a_violation(ref):
    assert graph(ref, "GET", "/v1.0/users/x/drive") == [
        "GET /users/x/drive: no path template in the reference matches (unknown path, or outside the vendored areas)"]


def test_method_must_be_allowed_on_the_template(ref):
    assert graph(ref, "DELETE", "/v1.0/users/x/authentication/passwordMethods/p") == [
        "DELETE is not allowed on /users/{user-id}/authentication/passwordMethods/{passwordAuthenticationMethod-id} (allowed: GET)"]
    assert graph(ref, "DELETE", "/v1.0/users/x/authentication/phoneMethods/p") == []


def test_batch_envelope_is_no_resource_call(ref):
    assert graph(ref, "POST", "/v1.0/$batch", {"requests": [{"id": "1", "method": "GET", "url": "/users"}]}) == []
    assert graph(ref, "GET", "/v1.0/$batch") == ["GET /$batch: $batch takes POST only"]


def test_token_and_oidc_entries_are_not_checked(ref):
    assert check_entry(ref, {"service": "token", "method": "POST", "path": "/t/oauth2/v2.0/token"}) == []
    assert check_entry(ref, {"service": "oidc", "method": "GET", "path": "/oidc/whatever"}) == []


# -- Graph: query options ----------------------------------------------------------------------------------------------


def test_query_option_must_be_supported_there(ref):
    assert graph(ref, "GET", "/v1.0/users/x?$filter=id eq 'a'") == ["query option $filter is not supported on GET /users/{user-id}"]
    assert graph(ref, "GET", "/v1.0/users?$top=5&$count=true&$skiptoken=abc&custom=1") == []


def test_select_properties_exist_on_the_type_and_its_bases(ref):
    assert graph(ref, "GET", "/v1.0/users/x?$select=id,deletedDateTime,proxyAddresses,signInSessionsValidFromDateTime") == []
    assert graph(ref, "GET", "/v1.0/users/x?$select=id,displayNme") == ["$select: 'displayNme' is not a property of microsoft.graph.user"]
    assert graph(ref, "GET", "/v1.0/users/x?$select=DisplayName") == [
        "$select: 'DisplayName' is not a property of microsoft.graph.user (it has 'displayName': names are case-sensitive)"]


def test_open_types_take_directory_extension_names_only(ref):
    assert graph(ref, "GET", "/v1.0/users/x?$select=extension_0123456789abcdef0123456789abcdef_costCenter") == []
    assert graph(ref, "GET", "/v1.0/users/x?$select=extension_costCenter") != []


def test_filter_properties_with_operators_and_functions(ref):
    text = ("/v1.0/users?$filter=(userPrincipalName eq 'a@b.c' or mail ne 'x''y') and accountEnabled eq true "
            "and createdDateTime ge 2024-01-01T00:00:00Z and createdDateTime le 2025-01-01T00:00:00Z "
            "and startswith(displayName,'Ro') and signInActivity/lastSignInDateTime ge 2024-01-01T00:00:00Z")
    assert graph(ref, "GET", text) == []
    assert graph(ref, "GET", "/v1.0/users?$filter=usrPrincipalName eq 'a'") == [
        "$filter: 'usrPrincipalName' is not a property of microsoft.graph.user"]
    assert graph(ref, "GET", "/v1.0/users?$filter=startswith(displayNam,'R')") == [
        "$filter: 'displayNam' is not a property of microsoft.graph.user"]


def test_filter_lambda_over_a_collection(ref):
    assert graph(ref, "GET", "/v1.0/users?$filter=proxyAddresses/any(x:x eq 'smtp:a@b.c')") == []
    assert graph(ref, "GET", "/v1.0/users?$filter=assignedLicenses/any(l:l/skuId eq 6fd2c87f-b296-42f0-b197-1e91e994b900)") == []
    assert graph(ref, "GET", "/v1.0/users?$filter=assignedLicenses/any(l:l/sku eq 'a')") == [
        "$filter: 'sku' is not a property of microsoft.graph.assignedLicense"]
    assert graph(ref, "GET", "/v1.0/users?$filter=proxyAddress/any(x:x eq 'a')") == [
        "$filter: 'proxyAddress' is not a property of microsoft.graph.user"]
    assert graph(ref, "GET", "/v1.0/users?$filter=mail/any(x:x eq 'a')") == ["$filter: 'mail' is not a collection, so it has no any()"]
    assert graph(ref, "GET", "/v1.0/users?$filter=assignedLicenses/skuId eq 6fd2c87f-b296-42f0-b197-1e91e994b900") == [
        "$filter: 'assignedLicenses/skuId': a path cannot go on from a collection (use any() or all())"]


def test_filter_unknown_function_and_syntax(ref):
    assert graph(ref, "GET", "/v1.0/users?$filter=likeness(displayName,'R')") == ["$filter: 'likeness' is not an OData function"]
    assert graph(ref, "GET", "/v1.0/users?$filter=(mail eq 'a'") == ["$filter: unbalanced parentheses"]


def test_orderby_and_expand(ref):
    assert graph(ref, "GET", "/v1.0/users?$orderby=displayName desc,signInActivity/lastSignInDateTime") == []
    assert graph(ref, "GET", "/v1.0/users?$orderby=displayNme") == ["$orderby: 'displayNme' is not a property of microsoft.graph.user"]
    assert graph(ref, "GET", "/v1.0/users/x?$expand=memberOf($select=id,displayName)") == []
    assert graph(ref, "GET", "/v1.0/users/x?$expand=mail") == ["$expand: 'mail' is not a navigation property of microsoft.graph.user"]
    assert graph(ref, "GET", "/v1.0/users/x?$expand=joinedTeams") == ["$expand: 'joinedTeams' may not be expanded on microsoft.graph.user"]
    assert graph(ref, "GET", "/v1.0/users/x?$expand=manager($select=nme)") == [
        "$expand=manager($select): 'nme' is not a property of microsoft.graph.directoryObject"]


# -- Graph: bodies -----------------------------------------------------------------------------------------------------


def test_body_properties_exist_with_compatible_types(ref):
    body = {"accountEnabled": False, "passwordProfile": {"password": "x", "forceChangePasswordNextSignIn": True},
            "businessPhones": ["+1 555"], "@odata.context": "x", "manager@odata.bind": "https://graph/users/x"}
    assert graph(ref, "PATCH", "/v1.0/users/x", body) == []
    assert graph(ref, "PATCH", "/v1.0/users/x", {"jobTitl": "x"}) == ["body: 'jobTitl' is not a property of microsoft.graph.user"]


def test_body_types_recursively(ref):
    body = {"accountEnabled": "false", "passwordProfile": {"pasword": "x", "forceChangePasswordNextSignIn": 1},
            "businessPhones": "+1 555", "otherMails": [3], "proxyAddresses": None}
    assert graph(ref, "PATCH", "/v1.0/users/x", body) == [
        "accountEnabled is a JSON string, expected boolean for Edm.Boolean",
        "passwordProfile: 'pasword' is not a property of microsoft.graph.passwordProfile",
        "passwordProfile.forceChangePasswordNextSignIn is a JSON number, expected boolean for Edm.Boolean",
        "businessPhones is a JSON string, expected an array of Edm.String",
        "otherMails[] is a JSON number, expected string for Edm.String",
        "proxyAddresses is null, and Edm.String there is not nullable",
    ]


def test_body_of_rules_numbers_and_enums(ref):
    rule = "/v1.0/users/x/mailFolders/inbox/messageRules/r"
    assert graph(ref, "PATCH", rule, {"isEnabled": False, "sequence": 2,
                                      "actions": {"forwardTo": [{"emailAddress": {"address": "a@b.c"}}], "markImportance": "high"}}) == []
    assert graph(ref, "PATCH", rule, {"sequence": "2", "actions": {"forwardTo": {"emailAddress": {}}, "markImportance": 1}}) == [
        "sequence is a JSON string, expected number for Edm.Int32",
        "actions.forwardTo is a JSON object, expected an array of microsoft.graph.recipient",
        "actions.markImportance is a JSON number, expected string for microsoft.graph.importance",
    ]


def test_odata_type_lets_a_body_use_a_derived_types_properties(ref):
    methods = "/v1.0/users/x/authentication/methods/m"
    assert graph(ref, "PATCH", methods, {"phoneNumber": "+1"}) == [
        "body: 'phoneNumber' is not a property of microsoft.graph.authenticationMethod"]
    assert graph(ref, "PATCH", methods, {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneNumber": "+1"}) == []


def test_operation_body_holds_its_parameters(ref):
    assert graph(ref, "POST", "/v1.0/users/x/revokeSignInSessions") == []
    assert graph(ref, "POST", "/v1.0/users/x/changePassword", {"currentPassword": "a", "newPassword": "b"}) == [
        "POST /users/x/changePassword: no path template in the reference matches (unknown path, or outside the vendored areas)"]
    assert graph(ref, "POST", "/v1.0/directoryRoles/r/checkMemberGroups", {"groupIds": ["a"]}) == []
    assert graph(ref, "POST", "/v1.0/directoryRoles/r/checkMemberGroups", {"groupIds": "a", "ids": []}) == [
        "groupIds is a JSON string, expected an array of Edm.String",
        "body: 'ids' is not a parameter of checkMemberGroups"]


def test_no_body_on_get_and_ref_bodies(ref):
    assert graph(ref, "GET", "/v1.0/users/x", {"a": 1}) == ["GET /users/{user-id} takes no body"]
    assert graph(ref, "POST", "/v1.0/directoryRoles/r/members/$ref", {"@odata.id": "https://graph/directoryObjects/x"}) == []
    assert graph(ref, "POST", "/v1.0/directoryRoles/r/members/$ref", {"id": "x"}) == ["a $ref body holds only '@odata.id' (got id)"]


def test_batch_items_are_checked_one_by_one(ref):
    entry = {"service": "graph", "method": "POST", "path": "/v1.0/$batch", "shape": None, "batch_items": [
        {"id": "1", "method": "GET", "url": "/users/x?$select=id", "shape": None},
        {"id": "2", "method": "PATCH", "url": "users/x", "shape": {"accountEnabled": "string"}},
        {"id": "3", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users/x", "shape": None},
        {"id": "4", "method": "GET", "url": "/v1.0/users/x", "shape": None},
    ]}
    assert check_entry(ref, entry) == [
        "batch item 2: accountEnabled is a JSON string, expected boolean for Edm.Boolean",
        "batch item 3: the url https://graph.microsoft.com/v1.0/users/x is absolute; $batch urls are relative to the version root",
        "batch item 4: the url /v1.0/users/x repeats the version; $batch urls are relative to the version root",
    ]


# -- Exchange ----------------------------------------------------------------------------------------------------------


def test_cmdlet_must_be_known(ref):
    assert check_exchange(ref, "Get-Mailboxes", {}) == ["unknown cmdlet Get-Mailboxes"]
    assert check_exchange(ref, None, {}) == ["InvokeCommand without a CmdletName"]
    assert check_exchange(ref, "get-blockedsenderaddress", None) == []


def test_parameters_exist_case_insensitively_with_aliases_and_common_ones(ref):
    assert check_exchange(ref, "Set-Mailbox", {"identity": "string", "wi": "boolean", "ErrorAction": "string", "ea": "string"}) == []
    assert check_exchange(ref, "Remove-BlockedSenderAddress", {"SenderAdress": "string"}) == [
        "Remove-BlockedSenderAddress has no parameter -SenderAdress",
        "Remove-BlockedSenderAddress misses mandatory parameters: -SenderAddress (every call)"]


def test_whatif_only_where_the_cmdlet_has_it(ref):
    assert check_exchange(ref, "Remove-BlockedSenderAddress", {"SenderAddress": "string", "WhatIf": "boolean"}) == [
        "Remove-BlockedSenderAddress has no parameter -WhatIf"]
    assert check_exchange(ref, "Remove-InboxRule", {"Identity": "string", "Confirm": "boolean"}) == []


def test_parameters_not_in_exchange_online_are_named_so(ref):
    assert check_exchange(ref, "Get-Mailbox", {"Server": "string"}) == ["Get-Mailbox has no parameter -Server in Exchange Online"]


@pytest.mark.parametrize("cmdlet, parameter, value, ok", [
    ("Set-CASMailbox", "PopEnabled", "boolean", True),            # Boolean
    ("Set-CASMailbox", "PopEnabled", "number", True),             # PowerShell binds 0/1 to a Boolean
    ("Set-CASMailbox", "PopEnabled", "string", False),
    ("Set-CASMailbox", "PopEnabled", "null", False),
    ("Set-Mailbox", "WhatIf", "boolean", True),                   # SwitchParameter
    ("Set-Mailbox", "WhatIf", "string", False),
    ("Set-Mailbox", "ForwardingSmtpAddress", "string", True),     # ProxyAddress
    ("Set-Mailbox", "ForwardingSmtpAddress", "null", True),       # $null clears it
    ("Set-Mailbox", "ForwardingSmtpAddress", "number", False),
    ("Set-Mailbox", "ForwardingAddress", "boolean", False),       # RecipientIdParameter
    ("Set-Mailbox", "ProhibitSendQuota", "number", True),         # Unlimited
    ("Set-Mailbox", "ProhibitSendQuota", "string", True),
    ("Set-Mailbox", "ProhibitSendQuota", "boolean", False),
    ("Set-Mailbox", "CustomAttribute1", "number", True),          # String
    ("Set-Mailbox", "CustomAttribute1", ["string"], False),
    ("Set-Mailbox", "AuditOwner", ["string"], True),              # MultiValuedProperty
    ("Set-Mailbox", "AuditOwner", "string", True),                # one value becomes a one-element collection
    ("Set-Mailbox", "AuditOwner", {"Add": ["string"]}, True),     # @{Add=...}
    ("Set-Mailbox", "AuditOwner", {"Replace": ["string"]}, False),
    ("Set-Mailbox", "AuditOwner", ["boolean"], False),
    ("Set-Mailbox", "EmailAddresses", ["string"], True),          # ProxyAddressCollection
    ("Get-Mailbox", "RecipientTypeDetails", ["string"], True),    # T[]
    ("Get-Mailbox", "ResultSize", "string", True),                # "Unlimited"
])
def test_value_json_type_is_compatible_with_the_parameter_type(ref, cmdlet, parameter, value, ok):
    parameters = {parameter: value}
    if cmdlet.startswith("Set-"):
        parameters["Identity"] = "string"
    problems = check_exchange(ref, cmdlet, parameters)
    assert (problems == []) is ok, problems


def test_mandatory_parameters_of_one_set(ref):
    assert check_exchange(ref, "Set-Mailbox", {"ForwardingSmtpAddress": "null"}) == [
        "Set-Mailbox misses mandatory parameters: -Identity (11 parameter sets); "
        "or -Identity, -IsExchangeCloudManaged (parameter set IsExchangeCloudManaged)"]
    assert check_exchange(ref, "Get-MessageTraceDetailV2", {"MessageTraceId": "string"}) == [
        "Get-MessageTraceDetailV2 misses mandatory parameters: -RecipientAddress (every call)"]


def test_parameters_from_different_sets_do_not_bind(ref):
    assert check_exchange(ref, "Get-Mailbox", {"Identity": "string", "Anr": "string"}) == [
        "Get-Mailbox: no parameter set takes all of -Anr, -Identity (AnrSet has no -Identity; DatabaseSet has no -Anr, -Identity; "
        "Identity has no -Anr; MailboxPlanSet has no -Anr, -Identity; ServerSet has no -Anr, -Identity)"]
    assert check_exchange(ref, "Remove-MailboxPermission", {"Identity": "string", "User": "string", "AccessRights": ["string"]}) == []


def test_exchange_entry_takes_post_only(ref):
    entry = {"service": "exchange", "method": "GET", "cmdlet": "Get-Mailbox", "parameters": {}}
    assert check_entry(ref, entry) == ["InvokeCommand takes POST, not GET"]


# -- cache, allow-list, report -------------------------------------------------------------------------------------------


def test_each_request_form_is_checked_once(ref, monkeypatch):
    calls = []
    real = check.check_graph

    def counting(*args):
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(check, "check_graph", counting)
    checker = Checker(ref)
    entries = [{"seq": i, "service": "graph", "method": "GET", "shape": None,
                "path": f"/v1.0/users?$filter=userPrincipalName eq 'u{i}@contoso.com'&$select=id,displayNme"} for i in range(50)]
    entries.append({"seq": 99, "service": "graph", "method": "GET", "shape": None, "path": "/v1.0/users/u1?$select=id"})
    findings = checker.check(entries)
    assert len(calls) == 2
    assert [(f.seq, f.count, f.violation) for f in findings] == [(0, 50, "$select: 'displayNme' is not a property of microsoft.graph.user")]
    assert str(findings[0]) == ("GET /users?$filter=userPrincipalName eq '...'&$select=displayNme,id (journal seq 0, 50 requests like it): "
                                "$select: 'displayNme' is not a property of microsoft.graph.user")
    checker.check(entries)
    assert len(calls) == 2


def test_allow_list_marks_findings_allowed(ref):
    allow = [{"service": "exchange", "request": "^Get-Mailbox", "violation": "no parameter -Server", "reason": "known"}]
    findings = Checker(ref, allow).check([{"seq": 1, "service": "exchange", "method": "POST", "cmdlet": "Get-Mailbox",
                                           "parameters": {"Server": "string"}}])
    assert [f.allowed for f in findings] == ["known"]
    assert check.report(findings).startswith("0 request form(s)")


def test_allow_list_entries_are_complete():
    from conformance.allowlist import ALLOWED  # pylint: disable=import-outside-toplevel

    for rule in ALLOWED:
        assert set(rule) <= {"service", "request", "violation", "reason"} and rule.get("violation") and rule.get("reason"), rule


# -- the vendored reference ----------------------------------------------------------------------------------------------


def test_vendored_reference_records_its_source(ref):
    graph_ref = json.loads((check.REFERENCE_DIR / "graph-v1.json").read_text(encoding="utf-8"))
    exchange_ref = json.loads((check.REFERENCE_DIR / "exchange-cmdlets.json").read_text(encoding="utf-8"))
    assert graph_ref["source"]["repository"].endswith("microsoftgraph/msgraph-metadata") and len(graph_ref["source"]["commit"]) == 40
    assert exchange_ref["source"]["repository"] == "MicrosoftDocs/office-docs-powershell" and len(exchange_ref["source"]["commit"]) == 40
    assert "/users/{user-id}" in ref.paths and "Remove-BlockedSenderAddress" in exchange_ref["cmdlets"]


@pytest.mark.skipif(not (vendor.DEFAULT_SOURCE / "graph-v1-subset.json").exists(), reason="the shared reference is not here")
def test_vendoring_again_gives_the_same_files():
    source = vendor.DEFAULT_SOURCE
    graph_ref = vendor.reduce_graph(json.loads(Path(source, "graph-v1-subset.json").read_text(encoding="utf-8")))
    exchange_ref = vendor.reduce_exchange(json.loads(Path(source, "exchange-cmdlets.json").read_text(encoding="utf-8")))
    assert json.loads((vendor.OUT / "graph-v1.json").read_text(encoding="utf-8")) == graph_ref
    assert json.loads((vendor.OUT / "exchange-cmdlets.json").read_text(encoding="utf-8")) == exchange_ref


def test_no_reason_on_a_removal_from_the_restricted_users_list(ref):
    """-Reason names the entry's own Reason value: the collection never sends it, so a journal with one fails."""
    assert check_exchange(ref, "Remove-BlockedSenderAddress", {"SenderAddress": "string"}) == []
    problems = check_exchange(ref, "Remove-BlockedSenderAddress", {"SenderAddress": "string", "Reason": "string"})
    assert problems == ["Remove-BlockedSenderAddress carries -Reason: the collection sends -SenderAddress only (-Reason names the "
                        "entry's own Reason value, never a note)"]

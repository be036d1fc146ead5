"""Users against the emulator's Graph v1.0, over real HTTPS: lookups, targets, protected accounts and the writes."""

from __future__ import annotations

import pytest
from m365emu import seeds

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.graph import GraphClient
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import users as users_resource
from ansible_collections.m365ops.remediation.plugins.module_utils.resources.users import PROTECTED_MSG, SELECT, Target, Users

TENANT = seeds.CONTOSO_TENANT_ID
ROB = seeds.USER_IDS["rob@contoso.com"]
ANN = seeds.USER_IDS["ann@contoso.com"]
CARL = seeds.USER_IDS["carl@contoso.com"]
FRANK = seeds.USER_IDS["frank@contoso.onmicrosoft.com"]
UNKNOWN_ID = "1a0b2c3d-0099-4e5f-8a9b-0c1d2e3f4a99"
STRONG = "Xq7!vL2#pR9@wT4z"


def batches(emulator, since=0):
    """The Graph $batch requests since ``since``: each one's items (method, url)."""
    return [[(item["method"], item["url"]) for item in e["batch_items"]]
            for e in emulator.journal(since) if e["service"] == "graph" and e["path"] == "/v1.0/$batch"]


def user_state(emulator, upn):
    return next(u for u in emulator.state(TENANT)["users"] if u["userPrincipalName"] == upn)


# -- get -----------------------------------------------------------------------------------------------------


def test_get_by_upn_and_by_object_id(emulator, graph):
    rob = Users(graph).get("rob@contoso.com")
    assert rob["id"] == ROB and set(SELECT) <= set(rob)
    by_id = Users(graph).get(ROB, ["id", "mail"])
    assert (by_id["id"], by_id["mail"]) == (ROB, "rob@contoso.com") and "proxyAddresses" not in by_id
    paths = [e["path"] for e in emulator.journal() if e["service"] == "graph"]
    assert paths[0] == "/v1.0/users/rob@contoso.com?$select=" + ",".join(SELECT)


def test_get_of_an_unknown_user_raises_not_found(graph):
    with pytest.raises(M365Error) as info:
        Users(graph).get("nobody@contoso.com")
    assert (info.value.status, info.value.code) == (404, "Request_ResourceNotFound")


@pytest.mark.parametrize("reference", ["", "   ", None])
def test_no_request_without_a_user(emulator, graph, reference):
    mark = emulator.mark()
    with pytest.raises(M365Error) as info:
        Users(graph).get(reference)
    assert info.value.code == "invalid_argument"
    assert emulator.journal(mark) == []


def test_a_guest_upn_is_quoted_in_the_path(emulator, graph, extended):
    assert Users(graph).get(extended.guest_upn, ["id"])["id"] == extended.guest_id
    (entry,) = [e for e in emulator.journal() if e["service"] == "graph"]
    assert entry["path"] == "/v1.0/users/ann_fabrikam.com%23EXT%23@contoso.onmicrosoft.com?$select=id"


# -- resolve -------------------------------------------------------------------------------------------------


def test_resolve_by_upn_id_and_alias_in_order(emulator, graph):
    refs = ["rob@contoso.com", ANN, " robert@contoso.com ", "frank@contoso.com", "nobody@contoso.com", UNKNOWN_ID]
    found = Users(graph).resolve(refs)
    assert [r.given for r in found] == ["rob@contoso.com", ANN, "robert@contoso.com", "frank@contoso.com", "nobody@contoso.com", UNKNOWN_ID]
    assert [r.user and r.user["id"] for r in found] == [ROB, ANN, ROB, FRANK, None, None]
    assert all(r.error is None for r in found[:4])
    # An address nobody has, and an object id nobody has: both not found, never an exception.
    assert (found[4].error.status, found[4].error.code) == (404, "Request_ResourceNotFound")
    assert "nobody@contoso.com" in found[4].error.message
    assert found[5].error.status == 404
    first, search = batches(emulator)
    assert len(first) == 6 and all(method == "GET" for method, url in first)
    # Only the references that look like addresses and were not a UPN are searched in proxyAddresses (not the GUID).
    assert [url.split("&")[0] for method, url in search] == [
        "/users?$filter=proxyAddresses/any(x:x%20eq%20'smtp:robert@contoso.com')",
        "/users?$filter=proxyAddresses/any(x:x%20eq%20'smtp:frank@contoso.com')",
        "/users?$filter=proxyAddresses/any(x:x%20eq%20'smtp:nobody@contoso.com')",
    ]


def test_resolve_an_alias_two_users_share_is_ambiguous(graph, extended):
    (found,) = Users(graph).resolve([extended.shared_alias])
    assert found.user is None
    assert (found.error.status, found.error.code) == (409, "AmbiguousUser")
    assert "matches 2 users" in found.error.message


def test_resolve_a_guest_by_upn_and_by_mail(emulator, graph, extended):
    by_upn, by_mail = Users(graph).resolve([extended.guest_upn, extended.guest_mail])
    assert by_upn.user["id"] == by_mail.user["id"] == extended.guest_id
    assert batches(emulator)[0][0][1].startswith("/users/ann_fabrikam.com%23EXT%23@contoso.onmicrosoft.com?$select=")


def test_resolve_keeps_an_error_that_is_not_a_not_found(emulator, graph):
    emulator.set_faults([{"service": "graph", "path": "users/carl", "status": 500, "count": 1}])
    rob, carl = Users(graph).resolve(["rob@contoso.com", "carl@contoso.com"])
    assert rob.user["id"] == ROB
    assert carl.user is None and carl.error.status == 500
    # A 500 is final: no search in proxyAddresses, no second round.
    assert len(batches(emulator)) == 1


# -- targets -------------------------------------------------------------------------------------------------


def test_targets_protected_by_each_form(emulator, graph):
    """A protected account is matched by UPN, SMTP address or object id, whichever form either list uses."""
    given = ["rob@contoso.com", "ann@contoso.com", "Breakglass@Contoso.com", "frank@contoso.onmicrosoft.com", CARL, "robert@contoso.com"]
    protected = [ANN, "breakglass@contoso.com", "frank@contoso.com", "carl@contoso.com", " ", None]
    done, targets = Users(graph).targets(given, protected)
    assert targets == [Target("rob@contoso.com", targets[0].user), Target("robert@contoso.com", targets[1].user)]
    assert targets[0].user["id"] == targets[1].user["id"] == ROB
    assert set(done) == {"ann@contoso.com", "Breakglass@Contoso.com", "frank@contoso.onmicrosoft.com", CARL}
    for ref in done:
        assert done[ref]["skipped"] and done[ref]["protected"] and not done[ref]["failed"] and not done[ref]["changed"]
        assert done[ref]["msg"] == PROTECTED_MSG
    # Named as given in the protected list: skipped before any lookup; the others after theirs.
    assert "user_principal_name" not in done["Breakglass@Contoso.com"]
    assert done["ann@contoso.com"]["user_principal_name"] == "ann@contoso.com"
    assert done[CARL]["user_principal_name"] == "carl@contoso.com"
    looked_up = [url.split("?")[0] for method, url in batches(emulator)[0]]
    assert "/users/Breakglass@Contoso.com" not in looked_up and len(looked_up) == 5


def test_targets_invalid_unknown_and_repeated_references(emulator, graph):
    given = ["rob@contoso.com", "ROB@contoso.com ", "not an address", "", "nobody@contoso.com", "rob@contoso.com"]
    done, targets = Users(graph).targets(given)
    assert [t.ref for t in targets] == ["rob@contoso.com"]
    assert set(done) == {"not an address", "", "nobody@contoso.com"}
    assert done["not an address"]["failed"] and "neither an object id nor a user principal name" in done["not an address"]["msg"]
    assert done[""]["failed"] and done[""]["msg"].startswith("an empty user reference")
    missing = done["nobody@contoso.com"]
    assert missing["failed"] and missing["found"] is False and missing["msg"].startswith("user not found in this tenant: nobody@contoso.com")
    assert missing["error"]["status"] == 404
    # Repeats (any case) and invalid references are never looked up.
    first = batches(emulator)[0]
    assert [url.split("?")[0] for method, url in first] == ["/users/rob@contoso.com", "/users/nobody@contoso.com"]


def test_targets_without_any_valid_reference_make_no_request(emulator, graph):
    mark = emulator.mark()
    done, targets = Users(graph).targets(["bad", "  "], ["breakglass@contoso.com"])
    assert targets == [] and set(done) == {"bad", ""}
    assert emulator.journal(mark) == []


def test_targets_lookup_refused_says_which_permission(emulator, transport, make_credential):
    noperm = make_credential(transport, client_id=seeds.CONTOSO_NOPERM_CLIENT_ID, secret=seeds.CONTOSO_NOPERM_SECRET)
    done, targets = Users(GraphClient(transport, noperm, emulator.base_url)).targets(["rob@contoso.com"])
    assert targets == []
    rob = done["rob@contoso.com"]
    assert rob["failed"] and rob["found"] is True and rob["error"]["status"] == 403
    assert "User.Read.All" in rob["msg"]


# -- protected_identities ------------------------------------------------------------------------------------


def test_protected_identities_resolve_every_form(emulator, graph):
    shielded = Users(graph).protected_identities([ROB, "ghost@contoso.com", "Frank@Contoso.com", "not valid", "", UNKNOWN_ID])
    # The GUID resolves to the account's addresses, UPN and id.
    assert {"rob@contoso.com", "robert@contoso.com", ROB} <= shielded
    # An SMTP address resolves to the account's UPN and id as well.
    assert {"frank@contoso.com", "frank@contoso.onmicrosoft.com", FRANK} <= shielded
    # What names no account stays as given (lower case): protection is never lost to a typo.
    assert {"ghost@contoso.com", "not valid", UNKNOWN_ID} <= shielded
    assert "" not in shielded
    assert all(item == item.lower() for item in shielded)


def test_protected_identities_raise_when_an_account_cannot_be_looked_up(emulator, graph):
    emulator.set_faults([{"service": "graph", "path": "users/breakglass", "status": 500, "count": 1}])
    with pytest.raises(M365Error) as info:
        Users(graph).protected_identities(["rob@contoso.com", "breakglass@contoso.com"])
    assert info.value.status == 500
    assert info.value.message.startswith("the protected account breakglass@contoso.com could not be looked up, so nothing is changed")


def test_protected_identities_of_an_empty_list_make_no_request(emulator, graph):
    mark = emulator.mark()
    assert Users(graph).protected_identities([]) == set()
    assert emulator.journal(mark) == []


# -- writes through send -------------------------------------------------------------------------------------


def test_send_password_sign_in_and_revoke_in_one_batch(emulator, graph):
    before = {upn: user_state(emulator, upn) for upn in ("rob@contoso.com", "ann@contoso.com", "carl@contoso.com")}
    mark = emulator.mark()
    answers = Users(graph).send({
        "ann": Users.password_request(ANN, STRONG, True, False),
        "carl": Users.sign_in_request(CARL, False),
        "rob": Users.revoke_sessions_request(ROB),
    })
    assert {key: answer.ok for key, answer in answers.items()} == {"ann": True, "carl": True, "rob": True}
    ann, carl, rob = (user_state(emulator, upn) for upn in ("ann@contoso.com", "carl@contoso.com", "rob@contoso.com"))
    assert ann["passwordSetByGraph"] and ann["lastPasswordChangeDateTime"] != before["ann@contoso.com"]["lastPasswordChangeDateTime"]
    assert carl["accountEnabled"] is False and before["carl@contoso.com"]["accountEnabled"] is True
    assert rob["signInSessionsValidFromDateTime"] != before["rob@contoso.com"]["signInSessionsValidFromDateTime"]
    assert batches(emulator, mark) == [[("PATCH", f"/users/{ANN}"), ("PATCH", f"/users/{CARL}"), ("POST", f"/users/{ROB}/revokeSignInSessions")]]
    writes = emulator.writes(mark)
    assert [(w["method"], w["status"]) for w in writes] == [("PATCH", 204), ("PATCH", 204), ("POST", 200)]
    # The password goes to Graph only: it is in no journal field.
    assert STRONG not in str(emulator.journal(mark))


def test_request_paths_are_quoted(emulator, graph, extended):
    mark = emulator.mark()
    answers = Users(graph).send({"block": Users.sign_in_request(extended.guest_upn, False),
                                 "revoke": Users.revoke_sessions_request(extended.guest_upn)})
    assert all(answer.ok for answer in answers.values())
    assert user_state(emulator, extended.guest_upn)["accountEnabled"] is False
    quoted = "/users/ann_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"
    assert batches(emulator, mark) == [[("PATCH", quoted), ("POST", quoted + "/revokeSignInSessions")]]
    assert users_resource.user_path(" ann_fabrikam.com#EXT#@contoso.onmicrosoft.com ") == quoted
    assert users_resource.user_path("a/b?c") == "/users/a%2Fb%3Fc"


def test_send_keeps_each_refusal_with_its_key(emulator, graph):
    answers = Users(graph).send({"weak": Users.password_request(ANN, "abc", True, False),
                                 "synced": Users.password_request(seeds.USER_IDS["dana@contoso.com"], STRONG, True, False),
                                 "ok": Users.sign_in_request(ROB, True)})
    assert (answers["weak"].status, answers["weak"].error().code) == (400, "Request_BadRequest")
    assert answers["synced"].status == 400 and answers["ok"].status == 204
    assert "complexity" in users_resource.password_error_message(answers["weak"].error())


def test_a_password_reset_is_not_sent_again_after_a_504(emulator, graph, sleeps):
    emulator.set_faults([{"service": "graph", "path": f"users/{ANN}", "status": 504, "count": 1}])
    answers = Users(graph).send({"ann": Users.password_request(ANN, STRONG, True, False)})
    assert answers["ann"].status == 504
    assert [(w["method"], w["status"]) for w in emulator.writes()] == [("PATCH", 504)]
    assert not user_state(emulator, "ann@contoso.com")["passwordSetByGraph"]


def test_a_revoke_is_sent_again_after_a_504(emulator, graph, sleeps):
    emulator.set_faults([{"service": "graph", "path": "revokeSignInSessions", "status": 504, "count": 1}])
    answers = Users(graph).send({"rob": Users.revoke_sessions_request(ROB)})
    assert answers["rob"].ok
    assert [(w["method"], w["status"]) for w in emulator.writes()] == [("POST", 504), ("POST", 200)]


def test_update_and_revoke_at_once(emulator, graph):
    Users(graph).update(CARL, {"accountEnabled": False})
    Users(graph).revoke_sessions(CARL)
    carl = user_state(emulator, "carl@contoso.com")
    assert carl["accountEnabled"] is False and carl["signInSessionsValidFromDateTime"] != seeds.OLD_CHANGE
    assert [(w["method"], w["path"]) for w in emulator.writes()] == [
        ("PATCH", f"/v1.0/users/{CARL}"), ("POST", f"/v1.0/users/{CARL}/revokeSignInSessions")]

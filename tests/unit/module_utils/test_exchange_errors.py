"""Exchange's error answers: both detail forms, the plain-text refusal, classification by exception type (pure)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.m365ops.remediation.plugins.module_utils import remediation as rem
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.exchange import (
    ACCESS_DENIED, AMBIGUOUS, NOT_FOUND, PARAMETER, UNAVAILABLE, error_kind, exchange_error, is_concurrency_refusal, parse_detail)
from ansible_collections.m365ops.remediation.plugins.module_utils.resources import restricted_users

NOT_FOUND_TYPE = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
TEXT = "The operation couldn't be performed because object 'x@contoso.com' couldn't be found on 'AM0PR01MB0001.eurprd01.prod.outlook.com'."


class Answer:
    """The parts of a requests.Response the parser reads."""

    def __init__(self, status, body, headers=None):
        self.status_code = status
        self.text = body if isinstance(body, str) else json.dumps(body)
        self.content = self.text.encode()
        self.headers = headers or {}

    def json(self):
        return json.loads(self.text)


def envelope(detail, code="NotFound"):
    return {"error": {"code": code, "message": "Error executing cmdlet", "details": [{"code": "Context", "message": detail}]}}


def test_parse_detail_forms():
    assert parse_detail("Ex6F9304|%s|%s" % (NOT_FOUND_TYPE, TEXT)) == (NOT_FOUND_TYPE, TEXT)
    assert parse_detail(json.dumps({"Message": TEXT, "TypeName": NOT_FOUND_TYPE, "InnerError": None})) == (NOT_FOUND_TYPE, TEXT)
    assert parse_detail("Just a sentence | with a bar.") == (None, "Just a sentence | with a bar.")
    assert parse_detail("{not json") == (None, "{not json")
    assert parse_detail(None) == (None, None)


@pytest.mark.parametrize("detail", ["Ex6F9304|%s|%s" % (NOT_FOUND_TYPE, TEXT),
                                    json.dumps({"Message": TEXT, "TypeName": NOT_FOUND_TYPE, "InnerError": None})])
@pytest.mark.parametrize("status,code", [(404, "NotFound"), (500, "InternalServerError")])
def test_exchange_error_keeps_the_type_apart_from_a_clean_text(detail, status, code):
    error = exchange_error(Answer(status, envelope(detail, code), {"request-id": "r-1"}))
    assert (error.status, error.code, error.exception_type, error.message) == (status, code, NOT_FOUND_TYPE, TEXT)
    assert error_kind(error) == NOT_FOUND and not error.transient
    assert "|" not in str(error) and "TypeName" not in str(error) and "Error executing cmdlet" not in str(error)
    assert error.to_dict()["exception_type"] == NOT_FOUND_TYPE


def test_the_plain_text_refusal_is_transient_whatever_its_status():
    text = "You have reached the maximum number of concurrent requests per tenant. Please wait and try again."
    for status in (429, 400, 500):
        answer = Answer(status, text)
        assert is_concurrency_refusal(answer)
        error = exchange_error(answer)
        assert error.transient and error.code == "ConcurrencyLimit" and text in error.message
    assert not is_concurrency_refusal(Answer(200, text))
    assert not is_concurrency_refusal(Answer(400, envelope("Ex1|%s|%s" % (NOT_FOUND_TYPE, TEXT))))


@pytest.mark.parametrize("exc_type,status,kind", [
    ("Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException", 400, AMBIGUOUS),
    ("System.Management.Automation.ParameterBindingException", 400, PARAMETER),
    ("System.Management.Automation.CommandNotFoundException", 400, UNAVAILABLE),
    ("Microsoft.Exchange.Configuration.Tasks.CmdletAccessDeniedException", 400, ACCESS_DENIED),
    (None, 403, ACCESS_DENIED),
    (None, 500, None),
    ("Microsoft.Exchange.Management.Hygiene.UnblockLimitExceededException", 400, None),
])
def test_error_kind_by_exception_type(exc_type, status, kind):
    assert error_kind(M365Error("x", service="exchange", status=status, exception_type=exc_type)) == kind


def test_a_404_without_type_is_a_not_found_only_in_exchange_envelope():
    assert error_kind(M365Error("x", service="exchange", status=404, code="NotFound")) == NOT_FOUND
    assert error_kind(M365Error("x", service="exchange", status=404)) is None


def test_the_unblock_limit_is_a_heuristic_over_type_and_text():
    by_type = M365Error("The request failed.", service="exchange", status=400,
                        exception_type="Microsoft.Exchange.Management.Hygiene.UnblockLimitExceededException")
    assert restricted_users.is_unblock_limit(by_type)
    by_text = M365Error("This sender can't be unblocked: the limit has been reached.", service="exchange", status=400)
    assert restricted_users.is_unblock_limit(by_text)
    assert not restricted_users.is_unblock_limit(M365Error("limit of concurrent requests; blocked", service="exchange", status=429))
    assert not restricted_users.is_unblock_limit(M365Error(TEXT, service="exchange", status=404, exception_type=NOT_FOUND_TYPE))


def test_strip_annotations():
    value = {"@odata.type": "#x", "A@data.type": "System.String", "A": "a", "B": [{"C": 1, "C@odata.type": "#Int32"}]}
    assert rem.strip_annotations(value) == {"A": "a", "B": [{"C": 1}]}


def test_class_name_and_the_exception_type_header():
    detail = json.dumps({"Message": TEXT, "ClassName": NOT_FOUND_TYPE})
    assert parse_detail(detail) == (NOT_FOUND_TYPE, TEXT)
    plain = {"error": {"code": "NotFound", "message": TEXT}}
    error = exchange_error(Answer(404, plain, {"x-ExceptionType": "ManagementObjectNotFoundException"}))
    assert error.exception_type == "ManagementObjectNotFoundException" and error_kind(error) == NOT_FOUND


def test_a_bare_404_is_not_a_not_found():
    """A wrong endpoint or a proxy answers 404 without Exchange's envelope: never read as "not on the list"."""
    error = exchange_error(Answer(404, "<html>Not Found</html>"))
    assert error_kind(error) is None


def test_warnings_are_said_in_the_unblock_message():
    import datetime

    result = restricted_users.unblock_result("ann@contoso.com", {}, datetime.datetime(2026, 12, 2, tzinfo=datetime.timezone.utc),
                                             ["The address 'ann@contoso.com' has now been unblocked 3 time(s), the limit for this tenant."])
    assert result["changed"] and result["warnings"] and result["msg"].startswith("unblocked; Exchange warned: The address")

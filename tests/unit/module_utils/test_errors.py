"""M365Error formatting and secret redaction."""

from __future__ import annotations

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error, REDACTED, redact


def test_str_is_one_line_with_code_status_and_request_id():
    err = M365Error("Insufficient privileges\nto complete the operation.", service="graph", status=403,
                    code="Authorization_RequestDenied", request_id="abc-123")
    text = str(err)
    assert "\n" not in text
    assert "Authorization_RequestDenied" in text
    assert "403" in text
    assert "abc-123" in text
    assert "Insufficient privileges to complete the operation." in text


def test_to_dict_fields_and_details():
    err = M365Error("boom", service="exchange", status=400, code="X", request_id="r")
    assert err.to_dict() == {"service": "exchange", "status": 400, "code": "X", "message": "boom", "request_id": "r"}
    err = M365Error("boom", details={"a": 1})
    assert err.to_dict()["details"] == {"a": 1}
    assert err.transient is False
    assert M365Error("x", transient=True).transient is True


def test_str_without_optional_fields():
    assert str(M365Error("plain")) == "plain"


def test_redact_secrets_jwts_and_bearer_tokens():
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4eXoifQ.c2lnbmF0dXJl"
    text = f"secret=hunter2-long assertion={jwt} Authorization: Bearer abcdefghijklmnop"
    out = redact(text, ["hunter2-long", None, ""])
    assert "hunter2-long" not in out
    assert jwt not in out
    assert "abcdefghijklmnop" not in out
    assert out.count(REDACTED) == 3


def test_redact_handles_none_and_longest_first():
    assert redact(None) == ""
    assert redact("abcdefgh abcd", ["abcd", "abcdefgh"]) == f"{REDACTED} {REDACTED}"

# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Exchange Online admin client: cmdlets through the admin REST endpoint."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import EXCHANGE_RESOURCE, is_tenant_guid, token_tenant_id
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.remediation import strip_annotations
from ansible_collections.m365ops.remediation.plugins.module_utils.service import ServiceClient
from ansible_collections.m365ops.remediation.plugins.module_utils.transport import RETRY_STATUSES, response_json

# The system mailbox the ExchangeOnlineManagement module anchors app-only calls to.
ANCHOR_MAILBOX = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"
# Above this many objects asked for, one read of the whole list costs less of the tenant's throttling budget than
# one call per object.
WHOLE_LIST_THRESHOLD = 8


@dataclass
class ExchangeResult:
    """A cmdlet's output objects (all pages) and its warnings."""

    value: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _first_text(*candidates: Any) -> str | None:
    for candidate in candidates:
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


# Plain text with which Exchange refuses a request beyond the tenant's concurrency limit, whatever the status.
CONCURRENCY_REFUSAL = "maximum number of concurrent requests"
# ``Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't ...``
_PIPE_DETAIL = re.compile(r"^\s*(Ex[0-9A-Fa-f]+)?\|([A-Za-z_][\w.`+]*)\|(.*)$", re.S)

NOT_FOUND = "not_found"
AMBIGUOUS = "ambiguous"
PARAMETER = "parameter"
ACCESS_DENIED = "access_denied"
UNAVAILABLE = "cmdlet_unavailable"


def _key(mapping: dict[str, Any], name: str) -> Any:
    """A value of ``mapping`` by a key in any case (``Message``, ``message``)."""
    return next((v for k, v in mapping.items() if isinstance(k, str) and k.lower() == name), None)


def parse_detail(text: Any) -> tuple[str | None, str | None]:
    """The exception type and clean text of one ``details[].message`` of an Exchange error.

    Two forms are known: ``Ex<hex>|<type>|<text>``, and a JSON string ``{"Message", "TypeName" (or
    "ClassName"), "InnerError"}``. Anything else is the text itself, with no type. Never raises.
    """
    if not isinstance(text, str) or not text.strip():
        return None, None
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            data = None
        if isinstance(data, dict):
            exc_type = _key(data, "typename") or _key(data, "classname") or _key(data, "type")
            message = _key(data, "message")
            inner = _key(data, "innererror")
            if not _first_text(message) and isinstance(inner, dict):
                message = _key(inner, "message")
            if _first_text(message) or _first_text(exc_type):
                return (exc_type.strip() if _first_text(exc_type) else None), _first_text(message)
    match = _PIPE_DETAIL.match(stripped)
    if match and (match.group(1) or match.group(2).endswith("Exception")):
        return match.group(2), _first_text(match.group(3))
    return None, stripped


def exchange_error(response: Any) -> M365Error:
    """The M365Error for an error answer of the admin endpoint (rules in :class:`ExchangeClient`).

    The type and text come from the first of ``details[].message`` (either form, see :func:`parse_detail`),
    ``innererror.internalException``, ``innererror`` and ``message``; the envelope's ``code`` (``BadRequest``,
    ``NotFound``, ``InternalServerError``) is kept as the code. A body that is not JSON is quoted, shortened.
    """
    status = response.status_code
    text, body = response_json(response)
    code = None
    message = None
    exc_type = None
    request_id = response.headers.get("request-id") or response.headers.get("X-Request-Id")
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = error.get("code") if isinstance(error.get("code"), str) else None
        candidates: list[tuple[str | None, str | None]] = []
        details = error.get("details") if isinstance(error.get("details"), list) else []
        candidates += [parse_detail(d.get("message")) for d in details if isinstance(d, dict)]
        inner = error.get("innererror") or error.get("innerError") or {}
        if isinstance(inner, dict):
            internal = inner.get("internalException")
            if isinstance(internal, dict):
                candidates.append((_first_text(internal.get("type")), parse_detail(internal.get("message"))[1]))
            candidates.append(parse_detail(inner.get("message")))
        candidates.append(parse_detail(error.get("message")))
        exc_type = next((t for t, m in candidates if t), None) or _first_text(response.headers.get("x-ExceptionType"))
        message = next((m for t, m in candidates if m and (t or not exc_type)), None) or next((m for t, m in candidates if m), None)
        if not request_id and isinstance(inner, dict):
            request_id = inner.get("request-id") or inner.get("requestId") or inner.get("RequestId") or next(
                (v for k, v in inner.items() if isinstance(k, str) and k.lower().endswith(".requestid")), None)
        request_id = request_id or error.get("request-id") or error.get("requestId")
    if not message:
        snippet = " ".join(text.split())[:200]
        message = f"HTTP {status}" + (f": {snippet}" if snippet else " with no error details")
    refused = is_concurrency_refusal(response)
    return M365Error(message, service="exchange", status=status, code="ConcurrencyLimit" if refused and not code else code,
                     request_id=request_id, transient=status in RETRY_STATUSES or refused, exception_type=exc_type)


def adminapi_errors(errors: Any, response: Any) -> M365Error:
    """The M365Error for a 200 answer that carries ``@adminapi.errors``: the cmdlet wrote errors, so it failed.

    Each error may be a string in either detail form, or an object with a message; the first gives the type
    and text, the others are kept in ``details``.
    """
    items = errors if isinstance(errors, list) else [errors]
    parsed = []
    for item in items:
        if isinstance(item, dict):
            text = _key(item, "message") or _key(item, "exception") or json.dumps(item)
            exc_type, message = parse_detail(text)
            exc_type = exc_type or _first_text(_key(item, "typename"), _key(item, "classname"))
        else:
            exc_type, message = parse_detail(str(item))
        parsed.append((exc_type, message or "the cmdlet reported an error"))
    exc_type, message = parsed[0]
    return M365Error(message, service="exchange", status=response.status_code, code="CmdletError",
                     request_id=response.headers.get("request-id"), exception_type=exc_type,
                     details=[m for dummy, m in parsed[1:]] or None)


def is_concurrency_refusal(response: Any) -> bool:
    """Whether Exchange refused the request for the tenant's concurrency limit: its plain-text answer, with
    whatever status (the request was not run). A JSON answer with that text counts as well."""
    if 200 <= response.status_code < 300:
        return False
    try:
        text = response.text if response.content else ""
    except (AttributeError, ValueError):
        return False
    return CONCURRENCY_REFUSAL in text[:2000].lower()


def error_kind(error: M365Error) -> str | None:
    """What a failed cmdlet means, by its exception type: ``not_found``, ``ambiguous``, ``parameter``,
    ``access_denied`` or ``cmdlet_unavailable`` (a cmdlet the app's roles do not include is unknown to it);
    None for anything else. Without a type, a 404 of Exchange's envelope (code ``NotFound``) is a not-found and a
    403 an access denial."""
    short = (error.exception_type or "").rsplit(".", 1)[-1].lower()
    if short:
        if "notfound" in short and "command" not in short:
            return NOT_FOUND
        if "commandnotfound" in short:
            return UNAVAILABLE
        if "ambiguous" in short:
            return AMBIGUOUS
        if "parameterbinding" in short or "invalidparameter" in short or "parametervalidation" in short:
            return PARAMETER
        if "accessdenied" in short or "unauthorizedaccess" in short or "permission" in short:
            return ACCESS_DENIED
    if error.status == 403:
        return ACCESS_DENIED
    # A 404 without a type is a not-found only in Exchange's own envelope: a wrong endpoint or a proxy answers
    # 404 too, and must not read as "not on the list".
    if error.status == 404 and not short and error.code == "NotFound":
        return NOT_FOUND
    return None


class ExchangeClient(ServiceClient):
    """Runs Exchange Online cmdlets through the admin REST endpoint that ExchangeOnlineManagement v3 uses.

    The endpoint is undocumented; the public evidence for every point below, and how sure it is, is in
    ``docs/wire-contract.md``. All of it lives only in this file, so that an official API would replace this
    file and nothing else.

    * ``POST {endpoint}/adminapi/beta/{tenant}/InvokeCommand`` with a bearer token for
      ``https://outlook.office365.com/.default`` (or the national cloud's own resource);
    * headers ``Content-Type``/``Accept: application/json``, ``X-ResponseFormat: json``,
      ``X-CmdletName: <cmdlet>``, ``X-ClientApplication: ExoManagementModule``,
      ``X-AnchorMailbox: APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@{tenant GUID}`` (the GUID is the
      token's ``tid``, as public clients do; ``UPN:`` with the domain when no GUID is known), ``Prefer:
      odata.maxpagesize=<page_size>``;
    * body ``{"CmdletInput": {"CmdletName": ..., "Parameters": {...}}}``;
    * success ``{"value": [...], "@odata.nextLink"?: url, "@adminapi.warnings"?: [str]}``; a 200 with
      ``@adminapi.errors`` is a failed cmdlet (:func:`adminapi_errors`); the next page
      is the same POST sent to the nextLink (which must stay on this host); annotation keys of the objects
      (``@odata.type``, ``X@data.type``) are dropped;
    * error ``{"error": {"code": "BadRequest" | "NotFound" | "InternalServerError", "message": "Error executing
      cmdlet", "details": [{"code", "message"}], "innererror"?}}``: see :func:`exchange_error`; the exception type
      travels apart from the clean text, and :func:`error_kind` classifies it;
    * a refusal for the tenant's concurrency limit is plain text (:data:`CONCURRENCY_REFUSAL`), with 429 or
      another status: like a 429 it was not run, so it is waited out and sent again, writes included.

    Writes (every cmdlet whose verb is not ``Get``) are sent as non-idempotent: retried only when the
    service refused them (429/503, the concurrency refusal) or the connection never opened, never after
    another error. In particular a failed ``Remove-BlockedSenderAddress`` is not retried: the number of
    unblocks is limited. A 401 makes the client ask for a fresh token once and resend. The client holds no
    mutable state besides a cache of the last token's tenant, and may be used from several threads.
    """

    service = "exchange"

    def __init__(self, transport: Any, credential: Any, tenant_id: str, endpoint: str = "https://outlook.office365.com", *,
                 page_size: int = 1000) -> None:
        super().__init__(transport, credential, endpoint, "https://outlook.office365.com", EXCHANGE_RESOURCE)
        self.tenant_id = (tenant_id or "").strip()
        self.page_size = int(page_size)
        self._anchor_for: tuple[str, str] = ("", "")

    @property
    def url(self) -> str:
        """The InvokeCommand URL for this tenant."""
        return f"{self.endpoint}/adminapi/beta/{quote(self.tenant_id, safe='')}/InvokeCommand"

    def anchor(self, token: str) -> str:
        """The ``X-AnchorMailbox`` value: the system mailbox at the tenant GUID of ``token`` (its ``tid``)."""
        cached = self._anchor_for
        if cached[0] != token:
            guid = token_tenant_id(token) or (self.tenant_id.lower() if is_tenant_guid(self.tenant_id) else None)
            # Public clients pair APP: with the GUID, and UPN: with a domain.
            anchor = f"{ANCHOR_MAILBOX}{guid}" if guid else f"UPN:{ANCHOR_MAILBOX.split(':', 1)[1]}{self.tenant_id}"
            cached = (token, anchor)
            self._anchor_for = cached
        return cached[1]

    def headers(self, cmdlet: str, token: str) -> dict[str, str]:
        """The request headers the endpoint expects."""
        return {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-ResponseFormat": "json",
            "X-CmdletName": cmdlet,
            "X-ClientApplication": "ExoManagementModule",
            "X-AnchorMailbox": self.anchor(token),
            "Prefer": f"odata.maxpagesize={self.page_size}",
        }

    @staticmethod
    def is_write(cmdlet: str) -> bool:
        """True unless the cmdlet's verb is ``Get``."""
        return cmdlet.split("-", 1)[0].strip().lower() != "get"

    def _post(self, url: str, cmdlet: str, body: dict[str, Any], write: bool) -> Any:
        # Exchange's 401 body says little, so any 401 gets one fresh token (ServiceClient.token_rejected).
        return self.send_with_token("POST", url, lambda token: self.headers(cmdlet, token), json=body, idempotent=not write,
                                    refused=is_concurrency_refusal)

    def invoke(self, cmdlet: str, parameters: dict[str, Any] | None = None, *, write: bool | None = None) -> ExchangeResult:
        """Run one cmdlet and return all its output objects and warnings; raise M365Error on failure."""
        if not self.tenant_id:
            raise M365Error("tenant_id is required for Exchange Online (option tenant_id or env AZURE_TENANT_ID)",
                            service="exchange", code="invalid_configuration")
        if not cmdlet or not cmdlet.strip():
            raise M365Error("A cmdlet name is required", service="exchange", code="invalid_argument")
        cmdlet = cmdlet.strip()
        if write is None:
            write = self.is_write(cmdlet)
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": dict(parameters or {})}}
        result = ExchangeResult()
        url: str | None = self.url
        pages = 0
        while url:
            pages += 1
            response = self._post(url, cmdlet, body, write)
            if not 200 <= response.status_code < 300:
                raise _with_hint(exchange_error(response), cmdlet)
            payload = _json_or_none(response)
            if payload is None:
                if response.content and response.text.strip():
                    raise M365Error(f"{cmdlet}: HTTP {response.status_code} with a body that is not JSON: "
                                    f"{' '.join(response.text.split())[:200]}", service="exchange",
                                    status=response.status_code, code="invalid_response",
                                    request_id=response.headers.get("request-id"))
                break
            errors = payload.get("@adminapi.errors")
            if errors:
                raise _with_hint(adminapi_errors(errors, response), cmdlet)
            value = payload.get("value")
            if isinstance(value, list):
                result.value.extend(strip_annotations(v) for v in value if isinstance(v, dict))
            elif isinstance(value, dict):
                result.value.append(strip_annotations(value))
            warnings = payload.get("@adminapi.warnings")
            if isinstance(warnings, list):
                result.warnings.extend(str(w) for w in warnings)
            elif isinstance(warnings, str) and warnings:
                result.warnings.append(warnings)
            next_link = payload.get("@odata.nextLink")
            if next_link:
                self.check_host(next_link)
                if pages >= 100_000:
                    raise M365Error(f"{cmdlet}: too many pages", service="exchange", code="paging_loop")
            url = next_link
        return result


# Cmdlets that need a role beyond what suffices to unblock (recipient management).
RECIPIENT_CMDLETS = frozenset(("set-mailbox", "set-casmailbox"))


def _with_hint(error: M365Error, cmdlet: str) -> M365Error:
    """The error, with what to do when Exchange does not let the app run ``cmdlet``."""
    kind = error_kind(error)
    if kind == UNAVAILABLE and cmdlet.lower() in RECIPIENT_CMDLETS:
        error.message += (f" Exchange does not offer {cmdlet} to this app: it needs the Exchange Administrator role "
                          "(Security Administrator suffices to unblock, not to change mailboxes).")
    elif kind in (UNAVAILABLE, ACCESS_DENIED):
        error.message += (f" The app may not run {cmdlet}: check its Exchange.ManageAsApp permission and its directory role "
                          "(docs/permissions.md).")
    return error


def _json_or_none(response: Any) -> dict[str, Any] | None:
    payload = response_json(response)[1]
    return payload if isinstance(payload, dict) else None

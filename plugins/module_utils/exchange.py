# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Exchange Online admin client: cmdlets through the admin REST endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import EXCHANGE_RESOURCE, resource_for
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.transport import response_json

# The system mailbox the ExchangeOnlineManagement module anchors app-only calls to.
ANCHOR_MAILBOX = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"
TRANSIENT_STATUSES = frozenset((429, 503, 504))


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


def exchange_error(response: Any) -> M365Error:
    """The M365Error for an error answer of the admin endpoint (rule in :class:`ExchangeClient`)."""
    status = response.status_code
    text, body = response_json(response)
    code = None
    message = None
    request_id = response.headers.get("request-id") or response.headers.get("X-Request-Id")
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        code = error.get("code")
        details = error.get("details") if isinstance(error.get("details"), list) else []
        detail_message = next((d.get("message") for d in details if isinstance(d, dict) and _first_text(d.get("message"))), None)
        inner = error.get("innererror") or error.get("innerError") or {}
        internal = inner.get("internalException") if isinstance(inner, dict) else None
        internal_message = internal.get("message") if isinstance(internal, dict) else None
        message = _first_text(detail_message, internal_message, error.get("message"))
        if not request_id and isinstance(inner, dict):
            request_id = inner.get("request-id") or inner.get("requestId") or inner.get("RequestId")
        request_id = request_id or error.get("request-id") or error.get("requestId")
    if not message:
        snippet = " ".join(text.split())[:200]
        message = f"HTTP {status}" + (f": {snippet}" if snippet else " with no error details")
    return M365Error(message, service="exchange", status=status, code=code, request_id=request_id,
                     transient=status in TRANSIENT_STATUSES)


class ExchangeClient:
    """Runs Exchange Online cmdlets through the admin REST endpoint that ExchangeOnlineManagement v3 uses.

    The endpoint is undocumented: everything below is *unconfirmed* and lives only in this class, so
    that an official API would replace this class and nothing else.

    * ``POST {endpoint}/adminapi/beta/{tenant}/InvokeCommand`` with a bearer token for
      ``https://outlook.office365.com/.default`` (or the national cloud's own resource);
    * headers ``Content-Type``/``Accept: application/json``, ``X-ResponseFormat: json``,
      ``X-CmdletName: <cmdlet>``, ``X-ClientApplication: ExoManagementModule``,
      ``X-AnchorMailbox: APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@{tenant}`` (a wrong one
      gives 400 ``ErrorIncorrectRoutingHint``), ``Prefer: odata.maxpagesize=<page_size>``;
    * body ``{"CmdletInput": {"CmdletName": ..., "Parameters": {...}}}``;
    * success ``{"value": [...], "@odata.nextLink"?: url, "@adminapi.warnings"?: [str]}``; the next page
      is the same POST sent to the nextLink (which must stay on this host);
    * error ``{"error": {"code", "message", "details": [{"message"}], "innererror": {"internalException":
      {"message"}}}}``; the useful text is the first of details[].message, internalException.message,
      message; the request id comes from the ``request-id`` / ``X-Request-Id`` header or the body.

    Writes (every cmdlet whose verb is not ``Get``) are sent as non-idempotent: retried only when the
    service refused them (429/503) or the connection never opened, never after another error. In
    particular a failed ``Remove-BlockedSenderAddress`` is not retried: the number of unblocks is limited.
    A 401 makes the client ask for a fresh token once and resend. The client holds no mutable state and
    may be used from several threads.
    """

    def __init__(self, transport: Any, credential: Any, tenant_id: str, endpoint: str = "https://outlook.office365.com", *,
                 page_size: int = 1000) -> None:
        self.transport = transport
        self.credential = credential
        self.tenant_id = (tenant_id or "").strip()
        self.endpoint = (endpoint or "https://outlook.office365.com").rstrip("/")
        self.page_size = int(page_size)
        self.resource = resource_for(self.endpoint, EXCHANGE_RESOURCE)
        parts = urlsplit(self.endpoint)
        self._origin = (parts.scheme.lower(), (parts.netloc or "").lower())

    @property
    def url(self) -> str:
        """The InvokeCommand URL for this tenant."""
        return f"{self.endpoint}/adminapi/beta/{quote(self.tenant_id, safe='')}/InvokeCommand"

    def headers(self, cmdlet: str, token: str) -> dict[str, str]:
        """The request headers the endpoint expects."""
        return {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-ResponseFormat": "json",
            "X-CmdletName": cmdlet,
            "X-ClientApplication": "ExoManagementModule",
            "X-AnchorMailbox": f"{ANCHOR_MAILBOX}{self.tenant_id}",
            "Prefer": f"odata.maxpagesize={self.page_size}",
        }

    @staticmethod
    def is_write(cmdlet: str) -> bool:
        """True unless the cmdlet's verb is ``Get``."""
        return cmdlet.split("-", 1)[0].strip().lower() != "get"

    def _check_host(self, url: str) -> None:
        parts = urlsplit(url)
        if (parts.scheme.lower(), parts.netloc.lower()) != self._origin:
            raise M365Error(f"Refusing to follow a link to another host: {parts.scheme}://{parts.netloc}",
                            service="exchange", code="unexpected_host")

    def _post(self, url: str, cmdlet: str, body: dict[str, Any], write: bool) -> Any:
        token = self.credential.get_token(self.resource)
        response = self.transport.request("POST", url, service="exchange", headers=self.headers(cmdlet, token),
                                          json=body, idempotent=not write)
        if response.status_code == 401:
            # Exchange's 401 body says little, so any 401 gets one fresh token. A 401 is a refusal
            # before the cmdlet ran, so resending even a write is safe.
            fresh = self.credential.refresh(self.resource, token)
            if fresh != token:
                response = self.transport.request("POST", url, service="exchange", headers=self.headers(cmdlet, fresh),
                                                  json=body, idempotent=not write)
        return response

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
                raise exchange_error(response)
            payload = _json_or_none(response)
            if payload is None:
                if response.content and response.text.strip():
                    raise M365Error(f"{cmdlet}: HTTP {response.status_code} with a body that is not JSON: "
                                    f"{' '.join(response.text.split())[:200]}", service="exchange",
                                    status=response.status_code, code="invalid_response",
                                    request_id=response.headers.get("request-id"))
                break
            value = payload.get("value")
            if isinstance(value, list):
                result.value.extend(v for v in value if isinstance(v, dict))
            elif isinstance(value, dict):
                result.value.append(value)
            warnings = payload.get("@adminapi.warnings")
            if isinstance(warnings, list):
                result.warnings.extend(str(w) for w in warnings)
            elif isinstance(warnings, str) and warnings:
                result.warnings.append(warnings)
            next_link = payload.get("@odata.nextLink")
            if next_link:
                self._check_host(next_link)
                if pages >= 100_000:
                    raise M365Error(f"{cmdlet}: too many pages", service="exchange", code="paging_loop")
            url = next_link
        return result

    # -- the Restricted Users list ------------------------------------------------------------

    def get_blocked_sender(self, address: str | None = None) -> list[dict[str, Any]]:
        """``Get-BlockedSenderAddress [-SenderAddress]``: the restricted entries (all, or for one address)."""
        parameters = {"SenderAddress": address} if address else {}
        return self.invoke("Get-BlockedSenderAddress", parameters).value

    def remove_blocked_sender(self, address: str, reason: str | None = None) -> None:
        """``Remove-BlockedSenderAddress -SenderAddress [-Reason]``; never retried after a non-transient error."""
        if not address:
            raise M365Error("A sender address is required", service="exchange", code="invalid_argument")
        parameters: dict[str, Any] = {"SenderAddress": address}
        if reason:
            parameters["Reason"] = reason
        self.invoke("Remove-BlockedSenderAddress", parameters, write=True)


def _json_or_none(response: Any) -> dict[str, Any] | None:
    payload = response_json(response)[1]
    return payload if isinstance(payload, dict) else None

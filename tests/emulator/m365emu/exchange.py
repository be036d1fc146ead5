"""Exchange Online admin REST (``POST /adminapi/beta/{tenant}/InvokeCommand``): the cmdlets the collection uses.

The endpoint is undocumented. Where no primary source gives an error's exact wording, the text below is a
plausible stand-in and says so (*unconfirmed*); all such texts live in ``MESSAGES`` so they can be corrected
in one place.
"""

from __future__ import annotations

import base64
import collections
import json
import math
import re
import threading
import time
import zlib
from typing import TYPE_CHECKING, Any, Callable

from .state import CAS_DEFAULTS, Tenant
from .tokens import EXCHANGE_RESOURCE, TokenRejected, token_has_role
from .wire import Request, Response, iso_precise, json_response, new_id

if TYPE_CHECKING:
    from .app import Emulator

ANCHOR_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}"
EXCHANGE_ROLES = ("Exchange Administrator", "Exchange Recipient Administrator", "Security Administrator", "Global Administrator")
DEFAULT_PAGE_SIZE = 1000
WINDOW_S = 10.0
SERVER_NAME = "EMU01PR01MB0001.prod.outlook.com"
# Common PowerShell parameters every cmdlet accepts (ignored here, except WhatIf).
COMMON_PARAMETERS = {"confirm", "whatif", "erroraction", "warningaction", "verbose", "debug", "informationaction"}

# Exception types and texts. *unconfirmed* marks wording invented in the spirit of the service.
MESSAGES = {
    # Real text of Get-/Set-Mailbox for an unknown identity.
    "not_found": ("ManagementObjectNotFoundException", "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                  "The operation couldn't be performed because object '{identity}' couldn't be found on '" + SERVER_NAME + "'."),
    # Remove-BlockedSenderAddress for an address that is not on the list (or with a -Reason that names no entry):
    # the not-found every Remove- cmdlet gives (the wording of this cmdlet's own answer is *unconfirmed*).
    "not_blocked": ("ManagementObjectNotFoundException", "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                    "The operation couldn't be performed because object '{address}' couldn't be found on '" + SERVER_NAME + "'."),
    # *unconfirmed*: the tenant's unblock limit for this address has been reached.
    "limit": ("UnblockLimitExceededException", "Microsoft.Exchange.Management.Hygiene.UnblockLimitExceededException",
              "The address '{address}' can't be unblocked: the limit of {limit} unblocks for this sender has been reached. "
              "Contact Microsoft support to remove the restriction."),
    # *unconfirmed*: warning after the last unblock the limit allows.
    "last_unblock": "The address '{address}' has now been unblocked {count} time(s), the limit for this tenant. "
                    "If it is blocked again, only Microsoft support can unblock it.",
    # Real warning text of Set-Mailbox when nothing changes.
    "no_change": "The command completed successfully but no settings of '{identity}' have been modified.",
    "unknown_cmdlet": ("CommandNotFoundException", "System.Management.Automation.CommandNotFoundException",
                       "The term '{cmdlet}' is not recognized as the name of a cmdlet, function, script file, or operable program."),
    "bad_parameter": ("ParameterBindingException", "System.Management.Automation.ParameterBindingException",
                      "A parameter cannot be found that matches parameter name '{name}'."),
    "missing_parameter": ("ParameterBindingException", "System.Management.Automation.ParameterBindingException",
                          "Cannot process command because of one or more missing mandatory parameters: {name}."),
    "bad_value": ("ParameterBindingException", "System.Management.Automation.ParameterBindingException",
                  "Cannot bind parameter '{name}'. {detail}"),
}
# Exchange's plain-text refusal beyond the tenant's concurrency limit (sent with 429 or another status).
CONCURRENCY_REFUSAL = "You have reached the maximum number of concurrent requests per tenant. Please wait and try again."
# The envelope's code for each status of a failed cmdlet.
ENVELOPE_CODES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests",
                  500: "InternalServerError", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
# Roles whose holders may run the Set- cmdlets of recipients (Security Administrator may not).
RECIPIENT_ROLES = ("Exchange Administrator", "Exchange Recipient Administrator", "Global Administrator")


_OPATH_TERM = re.compile(r"^\s*(\w+)\s+-(eq|ne)\s+\$(null|true|false)\s*$", re.I)


def opath_filter(expression: str) -> Callable[[dict[str, Any]], bool]:
    """The part of Exchange's OPATH ``-Filter`` syntax admins use to find forwarding mailboxes:
    ``Prop -ne $null`` / ``Prop -eq $null`` / ``Prop -eq $true`` terms joined by ``-or`` (or all by ``-and``).
    Anything else is refused the way the service refuses a filter it cannot parse."""
    joiner = "-and" if re.search(r"\s-and\s", expression, re.I) else "-or"
    terms = []
    for part in re.split(r"\s%s\s" % joiner, expression, flags=re.I):
        match = _OPATH_TERM.match(part.strip().strip("()"))
        if not match:
            raise cmdlet_error("bad_value", name="Filter", detail="Invalid filter syntax: '%s'." % expression)
        prop, operator, literal = match.group(1), match.group(2).lower(), match.group(3).lower()
        value = {"null": None, "true": True, "false": False}[literal]
        terms.append((prop, operator, value))

    def holds(obj: dict[str, Any], term: tuple[str, str, Any]) -> bool:
        actual = next((v for k, v in obj.items() if k.lower() == term[0].lower()), None)
        actual = actual or None if term[2] is None else actual
        return (actual == term[2]) if term[1] == "eq" else (actual != term[2])

    combine = all if joiner == "-and" else any
    return lambda obj: combine(holds(obj, term) for term in terms)


class ExchangeError(Exception):
    """An error answer in the adminapi shape. ``exc_type`` set: a failed cmdlet, whose detail names the type."""

    def __init__(self, status: int, code: str, message: str, exc_type: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.exc_type = exc_type
        self.headers = headers or {}


def cmdlet_error(key: str, status: int = 400, **fields: Any) -> ExchangeError:
    """A failed cmdlet from ``MESSAGES`` (400 unless told)."""
    dummy, exc_type, text = MESSAGES[key]
    return ExchangeError(status, ENVELOPE_CODES.get(status, "BadRequest"), text.format(**fields), exc_type)


def detail_message(err: ExchangeError, form: str) -> str:
    """A failed cmdlet's ``details[].message``: ``pipe`` (``Ex<hex>|<type>|<text>``) or ``json`` (a JSON string)."""
    if form == "json":
        return json.dumps({"Message": err.message, "TypeName": err.exc_type, "InnerError": None})
    code = "Ex%06X" % (zlib.crc32(err.exc_type.encode("utf-8")) & 0xFFFFFF)
    return f"{code}|{err.exc_type}|{err.message}"


def error_body(err: ExchangeError, request_id: str, form: str = "pipe") -> dict[str, Any]:
    """The adminapi error shape. A failed cmdlet: the generic envelope ("Error executing cmdlet") with the type and
    text in ``details[].message`` (``form``); other errors (token, routing, permission): their text as the message."""
    if err.exc_type:
        message = "Error executing cmdlet"
        details = [{"code": "Context", "target": "", "message": detail_message(err, form)}]
    else:
        message = err.message
        details = [{"code": "Client", "target": "", "message": err.message}]
    return {"error": {
        "code": err.code,
        "message": message,
        "details": details,
        "innererror": {
            "message": message,
            "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            "@Microsoft.Exchange.Admin.OData.Core.ODataServiceException.requestId": request_id,
        },
    }}


def text_response(status: int, text: str, headers: dict[str, str] | None = None) -> Response:
    """A plain-text answer (the concurrency refusal)."""
    return Response(status, text.encode("utf-8"), {"Content-Type": "text/plain; charset=utf-8", **(headers or {})})


def fault_error(status: int, retry_after: str | None) -> ExchangeError:
    """The adminapi error for an injected status."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    if status == 429:
        # *unconfirmed* wording.
        return ExchangeError(429, "TooManyRequests", "The request was throttled. Try again later.", headers=headers)
    if status == 503:
        return ExchangeError(503, "ServiceUnavailable", "The service is temporarily unavailable. Try again later.", headers=headers)
    if status == 504:
        return ExchangeError(504, "GatewayTimeout", "The operation timed out. Try again later.", headers=headers)
    if status == 401:
        return ExchangeError(401, "Unauthorized", "The access token is invalid.", headers=headers)
    return ExchangeError(status, "InternalServerError", "An internal server error occurred. The operation failed.", headers=headers)


def is_write(cmdlet: str | None) -> bool:
    """Remove-/Set-/Disable-/Enable-/New- cmdlets change state."""
    return bool(cmdlet) and cmdlet.split("-")[0].lower() in ("remove", "set", "disable", "enable", "new", "add")


class Throttle:
    """Per-tenant concurrency slots and a rolling 10 s cmdlet budget."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.in_flight: dict[str, int] = collections.Counter()
        self.history: dict[str, collections.deque[float]] = collections.defaultdict(collections.deque)

    def reset(self) -> None:
        """Forget the budget history (in-flight requests finish on their own)."""
        with self.lock:
            self.history.clear()

    def admit(self, tenant_id: str, concurrency: int, budget: int) -> tuple[str | None, int]:
        """``(None, 0)`` when admitted (call :meth:`release` later), else ``(reason, retry_after_s)``."""
        now = time.monotonic()
        with self.lock:
            if concurrency > 0 and self.in_flight[tenant_id] >= concurrency:
                return "concurrency", 1
            if budget > 0:
                history = self.history[tenant_id]
                while history and history[0] <= now - WINDOW_S:
                    history.popleft()
                if len(history) >= budget:
                    return "budget", max(1, math.ceil(history[0] + WINDOW_S - now))
                history.append(now)
            self.in_flight[tenant_id] += 1
            return None, 0

    def release(self, tenant_id: str) -> None:
        """A request admitted by :meth:`admit` has finished."""
        with self.lock:
            self.in_flight[tenant_id] -= 1


class ExchangeService:
    """InvokeCommand: auth, routing hint, cmdlet dispatch, paging and throttling."""

    def __init__(self, emulator: "Emulator") -> None:
        self.emu = emulator
        self.throttle = Throttle()
        self.turns = collections.Counter()
        self.turns_lock = threading.Lock()
        self.cmdlets: dict[str, Callable[[Tenant, dict[str, Any], bool], tuple[list[dict[str, Any]], list[str]]]] = {
            "get-blockedsenderaddress": self.get_blocked,
            "remove-blockedsenderaddress": self.remove_blocked,
            "get-mailbox": self.get_mailbox,
            "set-mailbox": self.set_mailbox,
            "get-casmailbox": self.get_cas_mailbox,
            "set-casmailbox": self.set_cas_mailbox,
        }

    @staticmethod
    def peek_cmdlet(request: Request) -> str | None:
        """The cmdlet name from the body (or header), for faults and the journal."""
        try:
            payload = request.json()
            name = payload["CmdletInput"]["CmdletName"]
            if isinstance(name, str):
                return name
        except (ValueError, KeyError, TypeError):
            pass
        return request.header("x-cmdletname") or None

    def reset(self) -> None:
        """Forget the budget history and start the error forms' turns again."""
        self.throttle.reset()
        with self.turns_lock:
            self.turns.clear()

    def _turn(self, name: str, choices: list[Any]) -> Any:
        with self.turns_lock:
            index = self.turns[name]
            self.turns[name] += 1
        return choices[index % len(choices)]

    def respond(self, err: ExchangeError, request_id: str) -> Response:
        """Serialise an error: a failed cmdlet's detail in the next form, a not-found with the next status."""
        state = self.emu.state
        form = "pipe"
        if err.exc_type:
            form = self._turn("form", state.exchange_error_forms)
            if err.exc_type.endswith(".ManagementObjectNotFoundException"):
                err.status = self._turn("not_found", state.exchange_not_found_statuses)
                err.code = ENVELOPE_CODES[err.status]
        headers = {"request-id": request_id, **err.headers}
        if err.exc_type:
            headers["x-ExceptionType"] = err.exc_type.rsplit(".", 1)[-1]
            if form == "adminapi_errors":
                # The cmdlet's errors in a 200 answer, beside an empty value.
                return json_response(200, {"value": [], "@adminapi.errors": [detail_message(err, "pipe")]}, headers)
            headers["WWW-Authenticate"] = ('Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
                                           'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
                                           'token_types="app_asserted_user_v1 service_asserted_app_v1", error="invalid_token"')
        return json_response(err.status, error_body(err, request_id, form), headers)

    def fault_response(self, status: int, retry_after: str | None, refusal: str | None = None) -> Response:
        """An injected error in the adminapi shape, or the plain-text concurrency refusal."""
        if refusal == "concurrency":
            headers = {"request-id": new_id(), **({"Retry-After": retry_after} if retry_after is not None else {})}
            return text_response(status, CONCURRENCY_REFUSAL, headers)
        return self.respond(fault_error(status, retry_after), new_id())

    def admit(self, tenant_id: str | None) -> Response | None:
        """Apply the per-tenant concurrency limit and budget; None when admitted."""
        if tenant_id is None:
            return None
        state = self.emu.state
        reason, retry = self.throttle.admit(tenant_id, state.exchange_concurrency, state.exchange_budget)
        if reason is None:
            return None
        self.emu.journal.bump(f"exchange_throttled:{reason}")
        if reason == "concurrency":
            # Exchange's own plain text, with no Retry-After.
            return text_response(429, CONCURRENCY_REFUSAL, {"request-id": new_id()})
        # *unconfirmed* wording.
        text = "The tenant's command budget is exhausted. Retry after {s} second(s).".format(s=retry)
        return self.respond(ExchangeError(429, "TooManyRequests", text, headers={"Retry-After": str(retry)}), new_id())

    def release(self, tenant_id: str | None) -> None:
        """End of an admitted request."""
        if tenant_id is not None:
            self.throttle.release(tenant_id)

    def handle(self, request: Request, tenant_ref: str) -> Response:
        """Answer one InvokeCommand request."""
        request_id = new_id()
        try:
            body = self._invoke(request, tenant_ref)
        except ExchangeError as err:
            return self.respond(err, request_id)
        return json_response(200, body, {"request-id": request_id})

    def _invoke(self, request: Request, tenant_ref: str) -> dict[str, Any]:
        if request.method != "POST":
            raise ExchangeError(405, "MethodNotAllowed", "The HTTP method is not allowed for this resource.")
        try:
            claims = self.emu.tokens.validate(request.header("authorization"), EXCHANGE_RESOURCE)
        except TokenRejected as exc:
            raise ExchangeError(401, "Unauthorized", exc.message) from exc
        state = self.emu.state
        with state.lock:
            tenant = state.resolve(tenant_ref)
        if tenant is None or tenant.id != str(claims.get("tid", "")).lower():
            raise ExchangeError(401, "Unauthorized", f"The tenant '{tenant_ref}' in the request doesn't match the tenant of the access token.")
        if "Exchange.ManageAsApp" not in (claims.get("roles") or []):
            # *unconfirmed* wording.
            raise ExchangeError(403, "Forbidden", f"The application '{claims.get('appid')}' doesn't have the Exchange.ManageAsApp "
                                                  "application permission of Office 365 Exchange Online.")
        if not token_has_role(claims, *EXCHANGE_ROLES):
            # The wording Connect-ExchangeOnline shows for an app without a supported directory role.
            raise ExchangeError(403, "Forbidden", f"The role assigned to application {claims.get('appid')} isn't supported in this "
                                                  "scenario. Please check online documentation for assigning correct Directory Roles "
                                                  "to Azure AD Application for EXO App-Only Authentication.")
        anchor = request.header("x-anchormailbox")
        # Public clients send APP:SystemMailbox{...}@<tenant GUID>, some a domain or the UPN: form; none is lenient too.
        valid = {f"{kind}:{ANCHOR_MAILBOX}@{ref}".lower() for kind in ("app", "upn") for ref in [tenant.id] + tenant.domains}
        if anchor and anchor.lower() not in valid:
            raise ExchangeError(400, "ErrorIncorrectRoutingHint", f"The routing hint '{anchor}' in the X-AnchorMailbox header is not "
                                                                  "valid for this request.")
        try:
            payload = request.json()
            cmdlet_input = payload["CmdletInput"]
            cmdlet = cmdlet_input["CmdletName"]
            params = cmdlet_input.get("Parameters") or {}
            if not isinstance(cmdlet, str) or not isinstance(params, dict):
                raise TypeError(cmdlet)
        except (ValueError, KeyError, TypeError) as exc:
            raise ExchangeError(400, "BadRequest", "The request body must be {\"CmdletInput\":{\"CmdletName\":...,\"Parameters\":{...}}}.") from exc
        header_cmdlet = request.header("x-cmdletname")
        # The header is optional; when sent, it must name the body's cmdlet.
        if header_cmdlet and header_cmdlet.lower() != cmdlet.lower():
            raise ExchangeError(400, "BadRequest", f"The X-CmdletName header '{header_cmdlet}' doesn't match the cmdlet '{cmdlet}' in the request body.")
        handler = self.cmdlets.get(cmdlet.lower())
        if handler is None:
            raise cmdlet_error("unknown_cmdlet", cmdlet=cmdlet)
        if cmdlet.lower() in ("set-mailbox", "set-casmailbox") and not token_has_role(claims, *RECIPIENT_ROLES):
            # Exchange's role-based access leaves a cmdlet out of the session of an app whose roles lack it
            # (Security Administrator lacks recipient management): the cmdlet is unknown to it. *unconfirmed* on this endpoint.
            raise cmdlet_error("unknown_cmdlet", cmdlet=cmdlet)
        what_if = any(k.lower() == "whatif" and v for k, v in params.items())
        with state.lock:
            objects, warnings = handler(tenant, params, what_if)
        return self._page(request, tenant_ref, objects, warnings)

    def _page(self, request: Request, tenant_ref: str, objects: list[dict[str, Any]], warnings: list[str]) -> dict[str, Any]:
        size = DEFAULT_PAGE_SIZE
        match = re.search(r"odata\.maxpagesize\s*=\s*(\d+)", request.header("prefer"))
        if match:
            size = max(1, int(match.group(1)))
        offset = 0
        token = request.query().get("$skiptoken")
        if token:
            try:
                offset = int(base64.urlsafe_b64decode(token + "==").decode("ascii"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ExchangeError(400, "BadRequest", "The skip token is not valid.") from exc
        body: dict[str, Any] = {
            "@odata.context": f"{EXCHANGE_RESOURCE}/adminapi/beta/{tenant_ref}/$metadata#Collection(Exchange.GenericHashTable)",
        }
        if warnings:
            body["@adminapi.warnings"] = warnings
        body["value"] = objects[offset:offset + size]
        if offset + size < len(objects):
            next_token = base64.urlsafe_b64encode(str(offset + size).encode("ascii")).decode("ascii").rstrip("=")
            body["@odata.nextLink"] = f"{self.emu.base_url}/adminapi/beta/{tenant_ref}/InvokeCommand?$skiptoken={next_token}"
        return body

    # -- cmdlets (called with the state lock held) -----------------------------------------------------------

    @staticmethod
    def _params(params: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Any]:
        """Parameters keyed by their canonical name; PowerShell binds names case-insensitively."""
        out = {}
        for name, value in params.items():
            canonical = next((a for a in allowed if a.lower() == name.lower()), None)
            if canonical is None:
                if name.lower() in COMMON_PARAMETERS:
                    continue
                raise cmdlet_error("bad_parameter", name=name)
            out[canonical] = value
        for name in required:
            if out.get(name) in (None, ""):
                raise cmdlet_error("missing_parameter", name=name)
        return out

    @staticmethod
    def _blocked_object(entry: dict[str, Any]) -> dict[str, Any]:
        # Objects carry OData annotations of their own and of their properties' .NET types.
        return {"@odata.type": "#Exchange.GenericHashTable",
                "SenderAddress": entry["SenderAddress"], "Reason": entry["Reason"],
                "CreatedDatetime@data.type": "System.DateTime", "CreatedDatetime": iso_precise(entry["CreatedDatetime"]),
                "ChangedDatetime@data.type": "System.DateTime", "ChangedDatetime": iso_precise(entry["ChangedDatetime"]),
                "TemporaryBlock": entry["TemporaryBlock"]}

    def get_blocked(self, tenant: Tenant, params: dict[str, Any], what_if: bool) -> tuple[list[dict[str, Any]], list[str]]:
        """Get-BlockedSenderAddress [-SenderAddress x]."""
        del what_if
        args = self._params(params, ("SenderAddress",))
        if args.get("SenderAddress"):
            entry = tenant.restricted.get(str(args["SenderAddress"]).lower())
            return ([self._blocked_object(entry)] if entry else []), []
        return [self._blocked_object(e) for e in tenant.restricted.values()], []

    def remove_blocked(self, tenant: Tenant, params: dict[str, Any], what_if: bool) -> tuple[list[dict[str, Any]], list[str]]:
        """Remove-BlockedSenderAddress -SenderAddress x [-Reason r]: counts unblocks against the tenant's limit.

        ``-Reason`` names the entry's own Reason value (Microsoft's reference); any other text matches no entry."""
        args = self._params(params, ("SenderAddress", "Reason"), ("SenderAddress",))
        address = str(args["SenderAddress"])
        key = address.lower()
        if key not in tenant.restricted:
            raise cmdlet_error("not_blocked", address=address)
        if args.get("Reason") is not None and str(args["Reason"]) != tenant.restricted[key]["Reason"]:
            raise cmdlet_error("not_blocked", address=address)
        count = tenant.unblock_counts.get(key, 0)
        if tenant.unblock_limit >= 0 and count >= tenant.unblock_limit:
            raise cmdlet_error("limit", address=address, limit=tenant.unblock_limit)
        if what_if:
            return [], [f"What if: Removing blocked sender address '{address}'."]
        del tenant.restricted[key]
        tenant.unblock_counts[key] = count + 1
        warnings = []
        if count + 1 == tenant.unblock_limit:
            warnings.append(MESSAGES["last_unblock"].format(address=address, count=count + 1))
        return [], warnings

    @staticmethod
    def _apply(user: dict[str, Any], identity: Any, changes: dict[str, Any], what_if: bool) -> tuple[list[dict[str, Any]], list[str]]:
        """Apply Set- changes to a mailbox; Exchange warns instead when nothing would change."""
        mailbox = user["mailbox"]
        if all(mailbox.get(k) == v for k, v in changes.items()):
            return [], [MESSAGES["no_change"].format(identity=identity)]
        if not what_if:
            mailbox.update(changes)
        return [], []

    @staticmethod
    def _recipient_fields(user: dict[str, Any]) -> dict[str, Any]:
        """The identity fields every mailbox object (Get-Mailbox, Get-CASMailbox) starts with."""
        alias = user.get("mailNickname") or user["userPrincipalName"].split("@")[0]
        primary = next((p.split(":", 1)[1] for p in user.get("proxyAddresses") or [] if p.startswith("SMTP:")), user.get("mail"))
        return {"@odata.type": "#Exchange.GenericHashTable", "Identity@data.type": "Microsoft.Exchange.Data.Directory.ADObjectId",
                "Identity": alias, "Name": alias, "DisplayName": user.get("displayName"),
                "PrimarySmtpAddress@data.type": "Microsoft.Exchange.Data.SmtpAddress", "PrimarySmtpAddress": primary,
                "ExternalDirectoryObjectId": user["id"]}

    def _mailbox_object(self, user: dict[str, Any]) -> dict[str, Any]:
        mailbox = user["mailbox"]
        fields = self._recipient_fields(user)
        return {
            **fields, "Alias": fields["Name"], "UserPrincipalName": user["userPrincipalName"],
            "EmailAddresses": list(user.get("proxyAddresses") or []), "RecipientTypeDetails": "UserMailbox",
            "ForwardingSmtpAddress": mailbox.get("ForwardingSmtpAddress"), "ForwardingAddress": mailbox.get("ForwardingAddress"),
            "DeliverToMailboxAndForward": bool(mailbox.get("DeliverToMailboxAndForward")),
        }

    def get_mailbox(self, tenant: Tenant, params: dict[str, Any], what_if: bool) -> tuple[list[dict[str, Any]], list[str]]:
        """Get-Mailbox [-Identity x] [-ResultSize n]."""
        del what_if
        return self._get_recipients(tenant, params, self._mailbox_object)

    def _get_recipients(self, tenant: Tenant, params: dict[str, Any],
                        shape: Callable[[dict[str, Any]], dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
        """A Get- cmdlet over mailboxes: ``-Identity`` gives one (or not found), none gives all."""
        args = self._params(params, ("Identity", "ResultSize", "Filter"))
        if args.get("Identity"):
            user = tenant.find_mailbox_user(str(args["Identity"]))
            if user is None:
                raise cmdlet_error("not_found", identity=args["Identity"])
            return [shape(user)], []
        objects = [shape(u) for u in tenant.users if u.get("mailbox") is not None]
        if args.get("Filter"):
            keep = opath_filter(str(args["Filter"]))
            objects = [o for o in objects if keep(o)]
        return objects, []

    def set_mailbox(self, tenant: Tenant, params: dict[str, Any], what_if: bool) -> tuple[list[dict[str, Any]], list[str]]:
        """Set-Mailbox -Identity x [-ForwardingSmtpAddress a] [-ForwardingAddress r] [-DeliverToMailboxAndForward b]."""
        args = self._params(params, ("Identity", "ForwardingSmtpAddress", "ForwardingAddress", "DeliverToMailboxAndForward"),
                            ("Identity",))
        user = tenant.find_mailbox_user(str(args["Identity"]))
        if user is None:
            raise cmdlet_error("not_found", identity=args["Identity"])
        changes: dict[str, Any] = {}
        if "ForwardingSmtpAddress" in args:
            value = args["ForwardingSmtpAddress"]
            if value is not None and not isinstance(value, str):
                raise cmdlet_error("bad_value", name="ForwardingSmtpAddress", detail="A string or $null is expected.")
            if value:
                value = value if value.lower().startswith("smtp:") else "smtp:" + value
            changes["ForwardingSmtpAddress"] = value or None
        if "ForwardingAddress" in args:
            value = args["ForwardingAddress"]
            if value is not None and not isinstance(value, str):
                raise cmdlet_error("bad_value", name="ForwardingAddress", detail="A string or $null is expected.")
            if value and tenant.find_mailbox_user(value) is None:
                raise cmdlet_error("not_found", identity=value)
            changes["ForwardingAddress"] = value or None
        if "DeliverToMailboxAndForward" in args:
            if not isinstance(args["DeliverToMailboxAndForward"], bool):
                raise cmdlet_error("bad_value", name="DeliverToMailboxAndForward", detail="A Boolean value is expected.")
            changes["DeliverToMailboxAndForward"] = args["DeliverToMailboxAndForward"]
        return self._apply(user, args["Identity"], changes, what_if)

    def _cas_object(self, user: dict[str, Any]) -> dict[str, Any]:
        mailbox = user["mailbox"]
        return {**self._recipient_fields(user), "OWAEnabled": True, "MAPIEnabled": True,
                **{name: mailbox.get(name) for name in CAS_DEFAULTS}}

    def get_cas_mailbox(self, tenant: Tenant, params: dict[str, Any], what_if: bool) -> tuple[list[dict[str, Any]], list[str]]:
        """Get-CASMailbox [-Identity x] [-ResultSize n]: the mailbox's client access (protocol) settings."""
        del what_if
        return self._get_recipients(tenant, params, self._cas_object)

    def set_cas_mailbox(self, tenant: Tenant, params: dict[str, Any], what_if: bool) -> tuple[list[dict[str, Any]], list[str]]:
        """Set-CASMailbox -Identity x [-PopEnabled b] [-ImapEnabled b] [-EwsEnabled b] [-ActiveSyncEnabled b]
        [-SmtpClientAuthenticationDisabled b|$null]."""
        args = self._params(params, ("Identity",) + tuple(CAS_DEFAULTS), ("Identity",))
        user = tenant.find_mailbox_user(str(args["Identity"]))
        if user is None:
            raise cmdlet_error("not_found", identity=args["Identity"])
        changes = {k: v for k, v in args.items() if k != "Identity"}
        for name, value in changes.items():
            if not isinstance(value, bool) and not (value is None and name == "SmtpClientAuthenticationDisabled"):
                raise cmdlet_error("bad_value", name=name, detail="A Boolean value is expected.")
        return self._apply(user, args["Identity"], changes, what_if)

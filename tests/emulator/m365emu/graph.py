"""Microsoft Graph v1.0: users (get, list with $filter/$select/$top, patch), revokeSignInSessions, inbox rules, authentication
methods (with Temporary Access Pass issuance and its policy) and $batch."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
import random
import re
import secrets
import threading
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote, urlencode

import jwt

from .state import PASSWORD_METHOD_TYPE, USER_PROPERTIES, Tenant, fingerprint, folder_id
from .tokens import GRAPH_RESOURCE, DIRECTORY_ROLES_CLAIM, TokenRejected, token_has_role
from .wire import GRAPH_JSON_TYPE, Request, Response, json_response, iso_seconds, new_id, parse_datetime, utcnow

if TYPE_CHECKING:
    from .app import Emulator

METADATA = "https://graph.microsoft.com/v1.0/$metadata"
DEFAULT_PROPERTIES = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
                      "preferredLanguage", "surname", "userPrincipalName", "id")
BASIC_PROPERTIES = {"id", "displayName", "givenName", "surname", "mail", "userPrincipalName", "businessPhones", "jobTitle",
                    "mobilePhone", "officeLocation", "preferredLanguage"}
# Real user properties the emulator does not model: selectable, always null.
UNMODELLED_PROPERTIES = {"department", "companyName", "employeeId", "otherMails", "ageGroup", "city", "country", "state",
                         "streetAddress", "postalCode", "onPremisesImmutableId", "onPremisesSamAccountName",
                         "onPremisesLastSyncDateTime", "onPremisesUserPrincipalName", "externalUserState", "creationType",
                         "employeeType", "faxNumber", "passwordPolicies", "securityIdentifier", "identities"}
PATCHABLE_PLAIN = {"displayName", "givenName", "surname", "jobTitle", "mobilePhone", "officeLocation", "usageLocation",
                   "preferredLanguage", "businessPhones"}

READ_PERMISSIONS = {"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
BASIC_READ_PERMISSIONS = {"User.ReadBasic.All"}
# passwordProfile: User.ReadWrite.All does not cover it (permissions reference) and Directory.ReadWrite.All "does not allow
# the app to ... reset user passwords"; app-only, the app also needs at least the User Administrator role.
PASSWORD_PERMISSIONS = {"User-PasswordProfile.ReadWrite.All"}
PASSWORD_ROLES = ("User Administrator", "Privileged Authentication Administrator", "Global Administrator")
ENABLE_PERMISSIONS = {"User.EnableDisableAccount.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
WRITE_PERMISSIONS = {"User.ReadWrite.All", "Directory.ReadWrite.All"}
REVOKE_PERMISSIONS = {"User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
PRIVILEGED_ROLES = ("Privileged Authentication Administrator", "Global Administrator")
RULES_READ_PERMISSIONS = {"MailboxSettings.Read", "MailboxSettings.ReadWrite"}
RULES_WRITE_PERMISSIONS = {"MailboxSettings.ReadWrite"}
FOLDER_READ_PERMISSIONS = {"Mail.ReadBasic.All", "Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite"}
METHODS_READ_PERMISSIONS = {"UserAuthenticationMethod.Read.All", "UserAuthenticationMethod.ReadWrite.All"}
METHODS_WRITE_PERMISSIONS = {"UserAuthenticationMethod.ReadWrite.All"}
POLICY_READ_PERMISSIONS = {"Policy.Read.All", "Policy.ReadWrite.AuthenticationMethod"}
TAP_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
TAP_CONFIGURATION_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration"
TAP_BODY_FIELDS = {"startDateTime", "lifetimeInMinutes", "isUsableOnce", "@odata.type"}
# The characters of a generated pass (Microsoft's examples mix letters, digits and symbols, e.g. "+drkzqAD").
TAP_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789+-!#$%&?@"
# Creating a pass while the policy is disabled (or does not include the user). Message from public reports of the answer
# (MicrosoftDocs/azure-docs#111778); status and code unconfirmed.
TAP_POLICY_REFUSAL = (400, "badRequest", "Converged UserCredentialPolicy does not allow creating or updating this authentication method. "
                                         "AuthMethodType [TemporaryAccessPass].")
RULE_PATCHABLE = {"displayName", "sequence", "isEnabled", "conditions", "actions", "exceptions"}
# Per-type routes under /users/{id}/authentication: segment -> @odata.type. Password methods cannot be deleted.
METHOD_SEGMENTS = {
    "phoneMethods": "#microsoft.graph.phoneAuthenticationMethod",
    "emailMethods": "#microsoft.graph.emailAuthenticationMethod",
    "fido2Methods": "#microsoft.graph.fido2AuthenticationMethod",
    "microsoftAuthenticatorMethods": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
    "softwareOathMethods": "#microsoft.graph.softwareOathAuthenticationMethod",
    "temporaryAccessPassMethods": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
    "windowsHelloForBusinessMethods": "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
    "passwordMethods": "#microsoft.graph.passwordAuthenticationMethod",
}

# Deleting the default sign-in method while the user has others. Status and message from a public report of this answer
# (Microsoft Q&A 1337439); the code is unconfirmed.
DEFAULT_METHOD_REFUSAL = (400, "badRequest",
                          "Cannot delete default method with other methods configured. Please change default method before deletion.")

MAX_BATCH = 20
DEFAULT_TOP = 100
MAX_TOP = 999
PASSWORD_SYMBOLS = set("@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> ")

# (status, headers, body) of one Graph answer, before serialisation (a $batch item keeps it as is).
Result = tuple[int, dict[str, str], Any]


class GraphError(Exception):
    """An error answer: status, Graph error code and message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}


def error_body(code: str, message: str, request_id: str, client_request_id: str) -> dict[str, Any]:
    """Graph's error shape, with innerError."""
    return {"error": {"code": code, "message": message,
                      "innerError": {"date": iso_seconds(), "request-id": request_id, "client-request-id": client_request_id}}}


def fault_error(status: int, tenant_id: str) -> GraphError:
    """The Graph error for an injected status."""
    if status == 429:
        return GraphError(429, "TooManyRequests",
                          f"Too many requests from Identifier:{tenant_id} under category:throttling.directory. Please try again later.")
    if status == 503:
        return GraphError(503, "serviceNotAvailable", "Service is temporarily unavailable. Please try again later.")
    if status == 504:
        return GraphError(504, "gatewayTimeout", "The server did not respond in time.")
    if status == 401:
        return GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
    return GraphError(status, "UnknownError", "An unexpected error occurred.")


def _split_or(text: str) -> list[str]:
    """Split a $filter on ``or`` outside quoted literals."""
    parts, buf, i, quoted = [], [], 0, False
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        if not quoted and text[i:i + 4].lower() == " or ":
            parts.append("".join(buf))
            buf, i = [], i + 4
            continue
        buf.append(ch)
        i += 1
    parts.append("".join(buf))
    return parts


_ANY = re.compile(r"^\s*proxyAddresses/any\(\s*(\w+)\s*:\s*\1\s+eq\s+'((?:[^']|'')*)'\s*\)\s*$", re.I)
_EQ = re.compile(r"^\s*(mail|userPrincipalName|id|mailNickname|displayName)\s+eq\s+'((?:[^']|'')*)'\s*$", re.I)
_BOOL = re.compile(r"^\s*(accountEnabled|onPremisesSyncEnabled)\s+eq\s+(true|false)\s*$", re.I)


def parse_filter(text: str):
    """A predicate over user dicts for the supported $filter forms; raises GraphError otherwise."""
    tests = []
    for clause in _split_or(text):
        if re.search(r"\band\b|\bnot\b", clause, re.I):
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
        m_any, m_eq, m_bool = _ANY.match(clause), _EQ.match(clause), _BOOL.match(clause)
        if m_any:
            value = m_any.group(2).replace("''", "'").lower()
            tests.append(lambda u, v=value: any(p.lower() == v for p in u.get("proxyAddresses") or []))
        elif m_eq:
            prop = next(p for p in USER_PROPERTIES if p.lower() == m_eq.group(1).lower())
            value = m_eq.group(2).replace("''", "'").lower()
            tests.append(lambda u, p=prop, v=value: str(u.get(p) or "").lower() == v)
        elif m_bool:
            prop = next(p for p in USER_PROPERTIES if p.lower() == m_bool.group(1).lower())
            flag = m_bool.group(2).lower() == "true"
            tests.append(lambda u, p=prop, f=flag: bool(u.get(p)) == f)
        else:
            raise GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")
    return lambda user: any(t(user) for t in tests)


def password_ok(password: str, upn: str) -> bool:
    """Entra's complexity rules: 8-256 allowed characters, 3 of 4 classes, not containing the UPN's local part."""
    if not 8 <= len(password) <= 256:
        return False
    if any(not (c.isascii() and (c.isalnum() or c in PASSWORD_SYMBOLS)) for c in password):
        return False
    classes = sum((any(c.islower() for c in password), any(c.isupper() for c in password),
                   any(c.isdigit() for c in password), any(c in PASSWORD_SYMBOLS for c in password)))
    if classes < 3:
        return False
    local = upn.split("@")[0].lower()
    return not (len(local) >= 3 and local in password.lower())


class GraphService:
    """Graph v1.0 routes; the core has already applied faults and will journal the request."""

    def __init__(self, emulator: "Emulator") -> None:
        self.emu = emulator
        self.rng = random.Random(7)
        self.rng_lock = threading.Lock()

    # -- entry points ----------------------------------------------------------------------------------------

    def handle(self, request: Request, entry: dict[str, Any]) -> Response:
        """Answer one HTTP request under /v1.0 (``entry`` is the journal entry to fill in)."""
        request_id = new_id()
        client_request_id = request.header("client-request-id") or request_id
        headers = {"request-id": request_id, "client-request-id": client_request_id,
                   "x-ms-ags-diagnostic": json.dumps({"ServerInfo": {"DataCenter": "Emulated", "Slice": "E", "Ring": "1",
                                                                     "ScaleUnit": "000", "RoleInstance": "EMU01"}}),
                   "Cache-Control": "no-cache"}
        sub_path = request.path[len("/v1.0"):]
        try:
            claims = self._authenticate(request.header("authorization"))
            if sub_path == "/$batch":
                if request.method != "POST":
                    raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
                status, extra, body = self._batch(request, claims, entry)
            else:
                try:
                    payload = request.json()
                except ValueError as exc:
                    raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                                                        "header is set and payload is of valid JSON format.") from exc
                status, extra, body = self.dispatch(request.method, sub_path, request.query_string, payload, claims)
        except GraphError as err:
            status, extra, body = err.status, err.headers, error_body(err.code, err.message, request_id, client_request_id)
        headers.update(extra)
        if body is None:
            return Response(status, b"", headers)
        return json_response(status, body, headers, GRAPH_JSON_TYPE)

    def fault_response(self, request: Request, status: int, retry_after: str | None, tenant_id: str) -> Response:
        """An injected error in Graph's shape."""
        request_id = new_id()
        err = fault_error(status, tenant_id)
        headers = {"request-id": request_id, "client-request-id": request.header("client-request-id") or request_id}
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        return json_response(status, error_body(err.code, err.message, request_id, headers["client-request-id"]), headers, GRAPH_JSON_TYPE)

    @staticmethod
    def peek_tenant(request: Request) -> str | None:
        """The token's tenant id without validation, for fault matching and the journal."""
        token = request.header("authorization").partition(" ")[2]
        try:
            return str(jwt.decode(token.strip(), options={"verify_signature": False}).get("tid") or "") or None
        except jwt.PyJWTError:
            return None

    def _authenticate(self, authorization: str) -> dict[str, Any]:
        try:
            return self.emu.tokens.validate(authorization, GRAPH_RESOURCE)
        except TokenRejected as exc:
            raise GraphError(401, "InvalidAuthenticationToken", exc.message, {
                "WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
                                    'client_id="00000003-0000-0000-c000-000000000000"'}) from exc

    def _tenant(self, claims: dict[str, Any]) -> Tenant:
        tenant = self.emu.state.resolve(claims["tid"])
        if tenant is None:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid tenant.")
        return tenant

    # -- routing ---------------------------------------------------------------------------------------------

    def dispatch(self, method: str, sub_path: str, query_string: str, payload: Any, claims: dict[str, Any]) -> Result:
        """Route one Graph call (also used for $batch items). ``sub_path`` is the part after /v1.0."""
        query = {k: v[-1] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
        parts = [unquote(p) for p in sub_path.strip("/").split("/")] if sub_path.strip("/") else []
        if parts and parts[0] == "policies":
            return self.policies(method, parts, claims)
        if not parts or parts[0] != "users":
            segment = parts[0] if parts else ""
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
        if len(parts) == 1:
            if method != "GET":
                raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
            return self.list_users(query, claims, sub_path)
        if len(parts) == 2:
            if method == "GET":
                return self.get_user(parts[1], query, claims)
            if method == "PATCH":
                return self.patch_user(parts[1], payload, claims)
            raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
        if len(parts) == 3 and parts[2].lower() in ("revokesigninsessions", "microsoft.graph.revokesigninsessions"):
            if method != "POST":
                raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
            return self.revoke(parts[1], claims)
        if parts[2] == "mailFolders" and len(parts) >= 4:
            return self.mail_folders(method, parts, payload, claims)
        if parts[2] == "authentication" and len(parts) >= 4:
            return self.auth_methods(method, parts, claims, payload)
        raise GraphError(400, "BadRequest", f"Resource not found for the segment '{parts[2]}'.")

    # -- users -----------------------------------------------------------------------------------------------

    @staticmethod
    def _roles(claims: dict[str, Any]) -> set[str]:
        return set(claims.get("roles") or [])

    def _read_scope(self, claims: dict[str, Any]) -> str:
        roles = self._roles(claims)
        if roles & READ_PERMISSIONS:
            return "full"
        if roles & BASIC_READ_PERMISSIONS:
            return "basic"
        raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")

    @staticmethod
    def _select(query: dict[str, str]) -> list[str] | None:
        raw = query.get("$select")
        if raw is None:
            return None
        selected = []
        for name in (p.strip() for p in raw.split(",")):
            if not name:
                continue
            known = next((p for p in USER_PROPERTIES if p.lower() == name.lower()), None)
            known = known or next((p for p in UNMODELLED_PROPERTIES if p.lower() == name.lower()), None)
            if known is None:
                raise GraphError(400, "BadRequest", f"Could not find a property named '{name}' on type 'microsoft.graph.user'.")
            if known not in selected:
                selected.append(known)
        return selected

    @staticmethod
    def _project(user: dict[str, Any], selected: list[str] | None, scope: str) -> dict[str, Any]:
        names = list(selected) if selected is not None else list(DEFAULT_PROPERTIES)
        if "id" not in names:
            names.append("id")
        out = {}
        for name in names:
            if scope == "basic" and name not in BASIC_PROPERTIES:
                continue
            out[name] = copy.deepcopy(user.get(name))
        return out

    @staticmethod
    def _context(selected: list[str] | None, entity: bool) -> str:
        suffix = f"({','.join(selected)})" if selected else ""
        return f"{METADATA}#users{suffix}" + ("/$entity" if entity else "")

    def _user(self, tenant: Tenant, ref: str) -> dict[str, Any]:
        user = tenant.find_user(ref)
        if user is None:
            raise GraphError(404, "Request_ResourceNotFound",
                             f"Resource '{ref}' does not exist or one of its queried reference-property objects are not present.")
        return user

    def get_user(self, ref: str, query: dict[str, str], claims: dict[str, Any]) -> Result:
        """GET /users/{id|UPN}."""
        scope = self._read_scope(claims)
        selected = self._select(query)
        state = self.emu.state
        with state.lock:
            user = self._user(self._tenant(claims), ref)
            body = {"@odata.context": self._context(selected, True), **self._project(user, selected, scope)}
        return 200, {}, body

    def list_users(self, query: dict[str, str], claims: dict[str, Any], sub_path: str) -> Result:
        """GET /users with $filter, $select, $top and $skiptoken paging."""
        scope = self._read_scope(claims)
        selected = self._select(query)
        predicate = parse_filter(query["$filter"]) if query.get("$filter") else (lambda _u: True)
        top = DEFAULT_TOP
        if query.get("$top"):
            try:
                top = int(query["$top"])
            except ValueError as exc:
                raise GraphError(400, "BadRequest", f"Invalid value '{query['$top']}' for $top query option found.") from exc
            if not 1 <= top <= MAX_TOP:
                raise GraphError(400, "Request_BadRequest", f"Invalid page size specified: '{top}'. Must be between 1 and {MAX_TOP} inclusive.")
        offset = 0
        if query.get("$skiptoken"):
            try:
                offset = int(base64.urlsafe_b64decode(query["$skiptoken"] + "==").decode("ascii").split(":")[1])
            except (ValueError, IndexError, UnicodeDecodeError) as exc:
                raise GraphError(400, "Request_BadRequest", "Invalid skip token.") from exc
        state = self.emu.state
        with state.lock:
            tenant = self._tenant(claims)
            matches = [u for u in tenant.users if predicate(u)]
            page = [self._project(u, selected, scope) for u in matches[offset:offset + top]]
        body: dict[str, Any] = {"@odata.context": self._context(selected, False), "value": page}
        if offset + top < len(matches):
            token = base64.urlsafe_b64encode(f"emu:{offset + top}".encode("ascii")).decode("ascii").rstrip("=")
            params = {k: v for k, v in query.items() if k != "$skiptoken"}
            params["$skiptoken"] = token
            body["@odata.nextLink"] = f"{self.emu.base_url}/v1.0{sub_path}?" + urlencode(params, quote_via=quote, safe="$,/:()'@")
        return 200, {}, body

    def patch_user(self, ref: str, payload: Any, claims: dict[str, Any]) -> Result:
        """PATCH /users/{id|UPN}: passwordProfile, accountEnabled and a few plain properties."""
        if not isinstance(payload, dict) or not payload:
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        for name in payload:
            if name not in ("passwordProfile", "accountEnabled") and name not in PATCHABLE_PLAIN:
                raise GraphError(400, "BadRequest", f"Property '{name}' does not exist as a declared property or extension property.")
        roles = self._roles(claims)
        state = self.emu.state
        with state.lock:
            tenant = self._tenant(claims)
            user = self._user(tenant, ref)
            needs = []
            if "passwordProfile" in payload:
                needs.append(PASSWORD_PERMISSIONS)
            if "accountEnabled" in payload:
                needs.append(ENABLE_PERMISSIONS)
            if set(payload) & PATCHABLE_PLAIN:
                needs.append(WRITE_PERMISSIONS)
            if any(not roles & need for need in needs):
                raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
            if "passwordProfile" in payload and not token_has_role(claims, *PASSWORD_ROLES):
                raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
            if user.get("onPremisesSyncEnabled"):
                raise GraphError(400, "Request_BadRequest", "Unable to update the specified properties for on-premises mastered "
                                                            "Directory Sync objects or objects currently undergoing migration.")
            sensitive = "passwordProfile" in payload or "accountEnabled" in payload
            if sensitive and user.get("adminRoles") and not token_has_role(claims, *PRIVILEGED_ROLES):
                raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
            profile = payload.get("passwordProfile")
            password = None
            if profile is not None:
                if not isinstance(profile, dict):
                    raise GraphError(400, "BadRequest", "Invalid value for property 'passwordProfile'.")
                password = profile.get("password")
                for flag in ("forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"):
                    if flag in profile and not isinstance(profile[flag], bool):
                        raise GraphError(400, "BadRequest", f"Invalid value for property '{flag}'.")
                if password is not None and (not isinstance(password, str) or not password_ok(password, user["userPrincipalName"])):
                    raise GraphError(400, "Request_BadRequest", "The specified password does not comply with password complexity "
                                                                "requirements. Please provide a different password.")
            if "accountEnabled" in payload and not isinstance(payload["accountEnabled"], bool):
                raise GraphError(400, "BadRequest", "Invalid value for property 'accountEnabled'.")
            # All checks passed: apply atomically.
            if profile is not None:
                for flag in ("forceChangePasswordNextSignIn", "forceChangePasswordNextSignInWithMfa"):
                    if flag in profile:
                        user["passwordProfile"][flag] = profile[flag]
                if password is not None:
                    tenant.set_password(user["id"], password)
                    user["lastPasswordChangeDateTime"] = iso_seconds(utcnow())
            if "accountEnabled" in payload:
                user["accountEnabled"] = payload["accountEnabled"]
            for name in set(payload) & PATCHABLE_PLAIN:
                user[name] = payload[name]
        return 204, {}, None

    def revoke(self, ref: str, claims: dict[str, Any]) -> Result:
        """POST /users/{id}/revokeSignInSessions."""
        if not self._roles(claims) & REVOKE_PERMISSIONS:
            raise GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")
        state = self.emu.state
        with state.lock:
            user = self._user(self._tenant(claims), ref)
            user["signInSessionsValidFromDateTime"] = iso_seconds(utcnow())
        return 200, {}, {"@odata.context": f"{METADATA}#Edm.Boolean", "value": True}

    # -- mailbox: folders and inbox rules --------------------------------------------------------------------

    def _need(self, claims: dict[str, Any], permissions: set[str], code: str = "ErrorAccessDenied",
              message: str = "Access is denied. Check credentials and try again.") -> None:
        if not self._roles(claims) & permissions:
            raise GraphError(403, code, message)

    @staticmethod
    def _mailbox(user: dict[str, Any]) -> dict[str, Any]:
        if user.get("mailbox") is None:
            raise GraphError(404, "MailboxNotEnabledForRESTAPI", "The mailbox is either inactive, soft-deleted, or is hosted on-premise.")
        return user

    @staticmethod
    def _folder(user: dict[str, Any], ref: str) -> dict[str, Any]:
        for folder in user["mailFolders"]:
            if folder["id"] == ref or (folder["wellKnownName"] or "").lower() == ref.lower():
                return folder
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")

    def mail_folders(self, method: str, parts: list[str], payload: Any, claims: dict[str, Any]) -> Result:
        """GET /users/{id}/mailFolders/{folder}; GET/PATCH/DELETE /users/{id}/mailFolders/inbox/messageRules[/{rule}]."""
        if len(parts) > 6 or (len(parts) >= 5 and parts[4] != "messageRules"):
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{parts[-1]}'.")
        allowed = {4: ("GET",), 5: ("GET",), 6: ("GET", "PATCH", "DELETE")}[len(parts)]
        if method not in allowed:
            raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
        if len(parts) == 4:
            self._need(claims, FOLDER_READ_PERMISSIONS)
        else:
            self._need(claims, RULES_WRITE_PERMISSIONS if method != "GET" else RULES_READ_PERMISSIONS)
        state = self.emu.state
        with state.lock:
            user = self._mailbox(self._user(self._tenant(claims), parts[1]))
            folder = self._folder(user, parts[3])
            base = f"{METADATA}#users('{user['id']}')/mailFolders"
            if len(parts) == 4:
                return 200, {}, {"@odata.context": f"{base}/$entity", "id": folder["id"], "displayName": folder["displayName"],
                                 "parentFolderId": folder_root(user), "childFolderCount": 0, "unreadItemCount": 0,
                                 "totalItemCount": 0, "isHidden": False}
            if folder["wellKnownName"] != "inbox":
                raise GraphError(400, "ErrorInvalidRequest", "Inbox rules are only supported on the Inbox folder.")
            rules = user["messageRules"]
            context = f"{base}('inbox')/messageRules"
            if len(parts) == 5:
                return 200, {}, {"@odata.context": context, "value": copy.deepcopy(sorted(rules, key=lambda r: r["sequence"]))}
            rule = next((r for r in rules if r["id"] == parts[5]), None)
            if rule is None:
                raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
            if method == "DELETE":
                rules.remove(rule)
                return 204, {}, None
            if method == "PATCH":
                self._patch_rule(rule, payload)
            return 200, {}, {"@odata.context": f"{context}/$entity", **copy.deepcopy(rule)}

    @staticmethod
    def _patch_rule(rule: dict[str, Any], payload: Any) -> None:
        if not isinstance(payload, dict) or not payload:
            raise GraphError(400, "BadRequest", "Empty Payload. JSON content expected.")
        for name, value in payload.items():
            if name not in RULE_PATCHABLE:
                raise GraphError(400, "RequestBodyRead", f"The property '{name}' does not exist on type 'microsoft.graph.messageRule'. "
                                                         "Make sure to only use property names that are defined by the type.")
            if name == "isEnabled" and not isinstance(value, bool):
                raise GraphError(400, "RequestBodyRead", "Cannot convert the literal to the expected type 'Edm.Boolean'.")
        rule.update(copy.deepcopy(payload))

    # -- authentication methods ------------------------------------------------------------------------------

    def auth_methods(self, method: str, parts: list[str], claims: dict[str, Any], payload: Any = None) -> Result:
        """GET /users/{id}/authentication/methods[/{id}]; GET/DELETE /users/{id}/authentication/{type}Methods/{id};
        POST /users/{id}/authentication/temporaryAccessPassMethods."""
        segment = parts[3]
        if (segment != "methods" and segment not in METHOD_SEGMENTS) or len(parts) > 5:
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{parts[-1]}'.")
        deletable = len(parts) == 5 and segment not in ("methods", "passwordMethods")
        creatable = len(parts) == 4 and segment == "temporaryAccessPassMethods"
        if method not in (("GET", "DELETE") if deletable else ("GET", "POST") if creatable else ("GET",)):
            raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
        denied = ("accessDenied", "Request Authorization failed")
        self._need(claims, METHODS_WRITE_PERMISSIONS if method in ("DELETE", "POST") else METHODS_READ_PERMISSIONS, *denied)
        state = self.emu.state
        with state.lock:
            tenant = self._tenant(claims)
            user = self._user(tenant, parts[1])
            if method == "POST":
                return self._create_tap(tenant, user, payload)
            kind = METHOD_SEGMENTS.get(segment)
            methods = [m for m in user["authenticationMethods"] if kind is None or m["@odata.type"] == kind]
            context = f"{METADATA}#users('{user['id']}')/authentication/{segment}"
            # Whether a pass issued through the emulator is usable is told as of now (seeded methods are shown as seeded).
            issued = tenant.taps.get(user["id"], ("",))[0]
            policy = tenant.tap_policy
            if len(parts) == 4:
                return 200, {}, {"@odata.context": context,
                                 "value": [method_body(m, kind, policy if m["id"] == issued else None) for m in methods]}
            found = next((m for m in methods if m["id"].lower() == parts[4].lower()), None)
            if found is None:
                raise GraphError(404, "itemNotFound", f"The authentication method '{parts[4]}' was not found for this user.")
            if method == "DELETE":
                self._delete_method(user, found)
                if found["@odata.type"] == TAP_TYPE and tenant.taps.get(user["id"], ("",))[0] == found["id"]:
                    del tenant.taps[user["id"]]
                return 204, {}, None
            return 200, {}, {"@odata.context": f"{context}/$entity", **method_body(found, kind, policy if found["id"] == issued else None)}

    def _create_tap(self, tenant: Tenant, user: dict[str, Any], payload: Any) -> Result:
        """Issue a Temporary Access Pass: shown once in the answer, kept only as its fingerprint. A user has one pass at a
        time: a new one replaces the one before (Microsoft's "Create temporaryAccessPassMethod")."""
        body = payload if payload is not None else {}
        if not isinstance(body, dict):
            raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type header is set and "
                                                "payload is of valid JSON format.")
        for name in body:
            if name not in TAP_BODY_FIELDS:
                raise GraphError(400, "BadRequest", f"The property '{name}' does not exist on type "
                                                    "'microsoft.graph.temporaryAccessPassAuthenticationMethod'. Make sure to only use "
                                                    "property names that are defined by the type.")
        lifetime = body.get("lifetimeInMinutes")
        if lifetime is not None and (isinstance(lifetime, bool) or not isinstance(lifetime, int)):
            raise GraphError(400, "BadRequest", "Cannot convert the literal to the expected type 'Edm.Int32'.")
        once = body.get("isUsableOnce")
        if once is not None and not isinstance(once, bool):
            raise GraphError(400, "BadRequest", "Cannot convert the literal to the expected type 'Edm.Boolean'.")
        start = body.get("startDateTime")
        try:
            start_at = parse_datetime(start) if start is not None else None
        except (TypeError, ValueError, AttributeError) as exc:
            raise GraphError(400, "BadRequest", "Cannot convert the literal to the expected type 'Edm.DateTimeOffset'.") from exc
        policy = tenant.tap_policy
        if policy["state"] != "enabled":
            raise GraphError(*TAP_POLICY_REFUSAL)
        if user.get("userType") == "Guest":
            raise GraphError(400, "badRequest", "Temporary Access Pass cannot be added to an external guest user.")
        lifetime = policy["defaultLifetimeInMinutes"] if lifetime is None else lifetime
        low, high = policy["minimumLifetimeInMinutes"], policy["maximumLifetimeInMinutes"]
        if not low <= lifetime <= high:
            raise GraphError(400, "badRequest", f"Invalid LifetimeInMinutes specified. The valid range between {low} and {high}.")
        once = policy["isUsableOnce"] if once is None else once
        if policy["isUsableOnce"] and not once:
            raise GraphError(400, "badRequest", "Invalid IsUsableOnce specified. The Temporary Access Pass policy allows one-time use "
                                                "passes only.")
        created = utcnow()
        pass_text = "".join(secrets.choice(TAP_ALPHABET) for _position in range(policy["defaultLength"]))
        method = {"@odata.type": TAP_TYPE, "id": str(uuid.uuid4()), "temporaryAccessPass": None,
                  "createdDateTime": created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "startDateTime": iso_seconds(start_at or created),
                  "lifetimeInMinutes": lifetime, "isUsableOnce": once}
        method = tap_usability(method, policy)
        # One pass per user: the new one replaces any other (deleted, as Microsoft describes).
        user["authenticationMethods"] = [m for m in user["authenticationMethods"] if m["@odata.type"] != TAP_TYPE]
        user["authenticationMethods"].append(method)
        tenant.taps[user["id"]] = (method["id"], fingerprint(pass_text))
        tenant.credential_lengths[(user["id"], "temporary_access_pass")] = len(pass_text)
        answer = dict(method)
        answer["temporaryAccessPass"] = pass_text
        answer.pop("@odata.type", None)
        context = f"{METADATA}#users('{user['id']}')/authentication/temporaryAccessPassMethods/$entity"
        return 201, {"Location": f"{self.emu.base_url}/v1.0/users/{user['id']}/authentication/temporaryAccessPassMethods/"
                                 f"{method['id']}"}, {"@odata.context": context, **answer}

    # -- policies --------------------------------------------------------------------------------------------

    def policies(self, method: str, parts: list[str], claims: dict[str, Any]) -> Result:
        """GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass (the only
        configuration the emulator models)."""
        if len(parts) != 4 or parts[1] != "authenticationMethodsPolicy" or parts[2] != "authenticationMethodConfigurations":
            raise GraphError(400, "BadRequest", f"Resource not found for the segment '{parts[-1]}'.")
        if method != "GET":
            raise GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for the request target.")
        self._need(claims, POLICY_READ_PERMISSIONS, "accessDenied", "Request Authorization failed")
        if parts[3].lower() != "temporaryaccesspass":
            raise GraphError(404, "itemNotFound", f"The authentication method configuration '{parts[3]}' was not found.")
        state = self.emu.state
        with state.lock:
            policy = dict(self._tenant(claims).tap_policy)
        body = {"@odata.context": f"{METADATA}#authenticationMethodConfigurations/$entity", "@odata.type": TAP_CONFIGURATION_TYPE,
                "id": "TemporaryAccessPass", "state": policy["state"], "defaultLifetimeInMinutes": policy["defaultLifetimeInMinutes"],
                "defaultLength": policy["defaultLength"], "minimumLifetimeInMinutes": policy["minimumLifetimeInMinutes"],
                "maximumLifetimeInMinutes": policy["maximumLifetimeInMinutes"], "isUsableOnce": policy["isUsableOnce"],
                "includeTargets": [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False}], "excludeTargets": []}
        return 200, {}, body

    @staticmethod
    def _delete_method(user: dict[str, Any], found: dict[str, Any]) -> None:
        """Remove a method; the user's default sign-in method only when no other method (but the password) remains."""
        default = found["id"] == user.get("defaultMethodId")
        others = [m for m in user["authenticationMethods"] if m is not found and m["@odata.type"] != PASSWORD_METHOD_TYPE]
        if default and others:
            raise GraphError(*DEFAULT_METHOD_REFUSAL)
        user["authenticationMethods"].remove(found)
        if default:
            user["defaultMethodId"] = None

    # -- $batch ----------------------------------------------------------------------------------------------

    def _batch(self, request: Request, claims: dict[str, Any], entry: dict[str, Any]) -> Result:
        try:
            payload = request.json()
        except ValueError as exc:
            raise GraphError(400, "BadRequest", "Invalid batch payload format.") from exc
        items = payload.get("requests") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not items:
            raise GraphError(400, "BadRequest", "Invalid batch payload format.")
        if len(items) > MAX_BATCH:
            raise GraphError(400, "BadRequest", f"Too many requests in the batch. Maximum is {MAX_BATCH}.")
        seen: dict[str, dict[str, Any]] = {}
        for item in items:
            if not isinstance(item, dict) or not item.get("id") or not item.get("method") or not item.get("url"):
                raise GraphError(400, "BadRequest", "Invalid batch payload format: every request needs id, method and url.")
            item_id = str(item["id"])
            if item_id in seen:
                raise GraphError(400, "BadRequest", f"Batch request contains duplicate request id '{item_id}'.")
            seen[item_id] = item
        for item in items:
            for dep in item.get("dependsOn") or []:
                if str(dep) not in seen or str(dep) == str(item["id"]):
                    raise GraphError(400, "BadRequest", f"Invalid dependsOn: request '{dep}' was not found in the batch.")
        order = self._topological(items)
        tenant_id = str(claims.get("tid", ""))
        results: dict[str, Result] = {}
        journal_items = []
        for item in order:
            item_id = str(item["id"])
            method = str(item["method"]).upper()
            url = str(item["url"])
            deps = [str(d) for d in item.get("dependsOn") or []]
            if any(results[d][0] >= 400 for d in deps):
                result: Result = (424, {}, error_body("FailedDependency", "The request failed because a request it depends on failed.",
                                                      new_id(), request.header("client-request-id") or ""))
            else:
                result = self._batch_item(item_id, method, url, item, claims, tenant_id, request)
            results[item_id] = result
            # The names of the body's fields (never their values) tell a password reset from other PATCHes; the
            # shape (names and JSON types) is what tests/conformance checks.
            fields = sorted(item["body"]) if isinstance(item.get("body"), dict) else []
            journal_items.append({"id": item_id, "method": method, "url": url, "status": result[0],
                                  "write": method in ("PATCH", "POST", "PUT", "DELETE"), "fields": fields,
                                  "shape": self.emu.journal.shape(item["body"]) if "body" in item else None})
        responses = []
        for item in items:
            status, headers, body = results[str(item["id"])]
            out_headers = dict(headers)
            if body is not None:
                out_headers["Content-Type"] = GRAPH_JSON_TYPE
            response = {"id": str(item["id"]), "status": status, "headers": out_headers}
            if body is not None:
                response["body"] = body
            responses.append(response)
        with self.rng_lock:
            self.rng.shuffle(responses)
        entry["batch_items"] = journal_items
        return 200, {}, {"responses": responses}

    @staticmethod
    def _topological(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        done: set[str] = set()
        order: list[dict[str, Any]] = []
        pending = list(items)
        while pending:
            ready = [i for i in pending if all(str(d) in done for d in i.get("dependsOn") or [])]
            if not ready:
                raise GraphError(400, "BadRequest", "Invalid dependsOn: the requests form a cycle.")
            for item in ready:
                order.append(item)
                done.add(str(item["id"]))
                pending.remove(item)
        return order

    def _batch_item(self, item_id: str, method: str, url: str, item: dict[str, Any], claims: dict[str, Any],
                    tenant_id: str, request: Request) -> Result:
        request_id = new_id()
        client_request_id = request.header("client-request-id") or request_id
        base_headers = {"request-id": request_id, "client-request-id": client_request_id}
        try:
            if re.match(r"^[a-z]+://", url, re.I):
                raise GraphError(400, "BadRequest", "Request URL must be relative to the batch endpoint's version.")
            rel = "/" + url.lstrip("/")
            path, _sep, query_string = rel.partition("?")
            tenant = self.emu.state.resolve(tenant_id)
            keys = {tenant_id.lower()} | ({d.lower() for d in tenant.domains} if tenant else set())
            decision = self.emu.faults.evaluate("graph", keys, "/v1.0" + rel, None, scope="item")
            if decision.fired:
                self.emu.journal.bump("faults_fired")
            if decision.expire_tokens:
                self.emu.tokens.expire_all()
            if decision.status is not None:
                err = fault_error(decision.status, tenant_id)
                if decision.retry_after is not None:
                    err.headers["Retry-After"] = decision.retry_after
                raise err
            if decision.expire_tokens:
                claims = self._authenticate(request.header("authorization"))
            body = item.get("body")
            headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
            if (body is not None and "content-type" not in headers) or (method == "PATCH" and body is None):
                raise GraphError(400, "BadRequest", f"Write request id : {item_id} does not contain Content-Type header or body.")
            if isinstance(body, str):
                try:
                    body = json.loads(base64.b64decode(body)) if not body.lstrip().startswith("{") else json.loads(body)
                except ValueError as exc:
                    raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from exc
            status, headers_out, out = self.dispatch(method, path, query_string, body, claims)
            return status, {**base_headers, **headers_out}, out
        except GraphError as err:
            return err.status, {**base_headers, **err.headers}, error_body(err.code, err.message, request_id, client_request_id)


def method_body(method: dict[str, Any], kind: str | None, tap_policy: dict[str, Any] | None = None) -> dict[str, Any]:
    """A method as Graph answers it: ``@odata.type`` under ``/methods`` (the collection holds derived types), none under a
    typed segment such as ``/phoneMethods``, where the type is the one the URL names (OData's minimal metadata).
    With ``tap_policy`` (a Temporary Access Pass issued through the emulator) it tells whether the pass is usable now."""
    body = tap_usability(method, tap_policy) if tap_policy is not None else copy.deepcopy(method)
    if kind is not None:
        body.pop("@odata.type", None)
    return body


def tap_usability(method: dict[str, Any], policy: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``method``; for a Temporary Access Pass with a start and a lifetime, ``isUsable`` and
    ``methodUsabilityReason`` as of now (``EnabledByPolicy``, ``NotYetValid``, ``Expired`` or ``DisabledByPolicy``; never
    ``OneTimeUsed``: the emulator models no sign-in)."""
    body = copy.deepcopy(method)
    if body.get("@odata.type") != TAP_TYPE or not body.get("startDateTime") or not isinstance(body.get("lifetimeInMinutes"), int):
        return body
    start = parse_datetime(body["startDateTime"])
    now = utcnow()
    if policy["state"] != "enabled":
        reason = "DisabledByPolicy"
    elif now < start:
        reason = "NotYetValid"
    elif now >= start + dt.timedelta(minutes=body["lifetimeInMinutes"]):
        reason = "Expired"
    else:
        reason = "EnabledByPolicy"
    body["isUsable"] = reason == "EnabledByPolicy"
    body["methodUsabilityReason"] = reason
    return body


def folder_root(user: dict[str, Any]) -> str:
    """The id of the mailbox's root folder (parent of the top-level folders)."""
    return folder_id(user["id"], "msgfolderroot")


def directory_role_names(claims: dict[str, Any]) -> list[str]:
    """Directory role names carried by the token (informational)."""
    return list(claims.get(DIRECTORY_ROLES_CLAIM) or [])

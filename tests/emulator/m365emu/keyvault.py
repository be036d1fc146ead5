"""Azure Key Vault's secrets API (data plane, ``api-version=7.x``) at ``{base_url}/vaults/{name}``.

Vaults use the Azure RBAC permission model: an app may do what the roles assigned to its client id on the vault allow
(``state.VAULT_ROLES``). Secret values are kept only as :func:`state.fingerprint`: a PUT echoes the value it received,
every other answer leaves ``value`` out (the one deliberate deviation from the service, see tests/emulator/README.md).
"""

from __future__ import annotations

import base64
import copy
import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from .state import KeyVault, SecretVersion, fingerprint
from .tokens import VAULT_APP_ID, VAULT_RESOURCE, TokenRejected
from .wire import Request, Response, json_response

if TYPE_CHECKING:
    from .app import Emulator

PREFIX = "/vaults/"
LATEST_API_VERSION = "7.4"
_API_VERSION = re.compile(r"^7\.\d+(-preview(\.\d+)?)?$")
_SECRET_NAME = re.compile(r"^[0-9a-zA-Z-]{1,127}$")
_VERSION = re.compile(r"^[0-9a-fA-F]{32}$")
SERVICE_VERSION = "1.9.2031.1"
RECOVERY_LEVEL = "Recoverable+Purgeable"
RECOVERABLE_DAYS = 90
MAX_RESULTS = 25
# Secret tags: Microsoft's "About Azure Key Vault secrets" says up to 15 tags, names and values up to 512 characters
# each (older revisions of the page said 256 for both).
MAX_TAGS = 15
MAX_TAG_NAME = 512
MAX_TAG_VALUE = 512
MAX_CONTENT_TYPE = 255
# The data action behind each operation, as the service names it in a ForbiddenByRbac refusal.
ACTIONS = {
    "setSecret": "Microsoft.KeyVault/vaults/secrets/setSecret/action",
    "getSecret": "Microsoft.KeyVault/vaults/secrets/getSecret/action",
    "readMetadata": "Microsoft.KeyVault/vaults/secrets/readMetadata/action",
    "update": "Microsoft.KeyVault/vaults/secrets/update/action",
}
NOT_FOUND_HINT = ("If you recently deleted this secret you may be able to recover it using the correct recovery command. "
                  "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182")


class VaultError(Exception):
    """An error answer: status, Key Vault error code, message, and the optional inner error code."""

    def __init__(self, status: int, code: str, message: str, inner: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.inner, self.headers = status, code, message, inner, headers or {}


def error_body(code: str, message: str, inner: str | None = None) -> dict[str, Any]:
    """Key Vault's error shape: ``{"error": {"code", "message", "innererror"?: {"code"}}}``."""
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return {"error": error}


def split_path(path: str) -> tuple[str, list[str]]:
    """``/vaults/{name}/a/b/`` -> ``("name", ["a", "b"])`` (URL-decoded; trailing and doubled slashes ignored, so
    ``/secrets/x/`` is the newest version of ``x``, as the SDKs send it)."""
    rest = path[len(PREFIX):]
    name, _sep, tail = rest.partition("/")
    return unquote(name), [unquote(p) for p in tail.split("/") if p]


class KeyVaultService:
    """The vaults of the emulator's state; the core has applied faults and journals the request."""

    def __init__(self, emulator: "Emulator") -> None:
        self.emu = emulator

    # -- entry points ----------------------------------------------------------------------------------------

    def peek_tenant(self, path: str) -> str | None:
        """The tenant id of the vault a path names (for fault matching and the journal); None for an unknown vault."""
        name, _parts = split_path(path)
        state = self.emu.state
        with state.lock:
            vault = state.vault(name)
            return vault.tenant_id if vault is not None else None

    def vault_url(self, name: str) -> str:
        """The URL of a vault: ``{base_url}/vaults/{name}``."""
        return f"{self.emu.base_url}/vaults/{name}"

    def handle(self, request: Request) -> Response:
        """Answer one request under ``/vaults/``."""
        headers = self._headers(request)
        try:
            status, body = self._handle(request)
        except VaultError as err:
            headers.update(err.headers)
            status, body = err.status, error_body(err.code, err.message, err.inner)
        return json_response(status, body, headers)

    def fault_response(self, request: Request, status: int, retry_after: str | None) -> Response:
        """An injected error in Key Vault's shape (429: the service's throttling answer)."""
        headers = self._headers(request)
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        if status == 429:
            body = error_body("Throttled", "Request was not processed because too many requests were received. "
                                           "Reason: VaultRequestTypeLimitReached")
        elif status == 401:
            name, _parts = split_path(request.path)
            headers.update(self._challenge(name))
            body = error_body("Unauthorized", "[TokenExpired] Error validating token: 'S2S12086'.")
        elif status == 503:
            body = error_body("ServiceUnavailable", "The service is temporarily unavailable. Please try again later.")
        else:
            body = error_body("InternalServerError", "An unexpected error occurred.")
        return json_response(status, body, headers)

    def _headers(self, request: Request) -> dict[str, str]:
        out = {"Cache-Control": "no-cache", "Pragma": "no-cache", "Expires": "-1", "x-ms-request-id": str(uuid.uuid4()),
               "x-ms-keyvault-service-version": SERVICE_VERSION, "x-ms-keyvault-region": "westeurope",
               "X-Content-Type-Options": "nosniff"}
        client_request_id = request.header("x-ms-client-request-id")
        if client_request_id:
            out["x-ms-client-request-id"] = client_request_id
        return out

    def _challenge(self, vault_name: str) -> dict[str, str]:
        state = self.emu.state
        with state.lock:
            vault = state.vault(vault_name)
            tenant_id = vault.tenant_id if vault is not None else "common"
        return {"WWW-Authenticate": f'Bearer authorization="{self.emu.base_url}/{tenant_id}", resource="{VAULT_RESOURCE}"'}

    # -- request handling ------------------------------------------------------------------------------------

    def _handle(self, request: Request) -> tuple[int, Any]:
        vault_name, parts = split_path(request.path)
        state = self.emu.state
        with state.lock:
            vault = state.vault(vault_name)
        if vault is None:
            # A vault that does not exist has no DNS name: the emulator answers with its own "no route".
            raise VaultError(404, "NotFound", f"No route for {request.method} {request.path}: no key vault named {vault_name!r}.")
        claims = self._authenticate(request, vault)
        api_version = request.query().get("api-version")
        if not api_version:
            raise VaultError(400, "BadParameter", f"The api-version query parameter is required. Consider using the latest supported "
                                                  f"version ({LATEST_API_VERSION}).")
        if not _API_VERSION.match(api_version):
            raise VaultError(400, "BadParameter", f"The specified version ({api_version}) is not recognized. Consider using the latest "
                                                  f"supported version ({LATEST_API_VERSION}).")
        if not parts or parts[0] != "secrets" or len(parts) > 3:
            raise VaultError(404, "NotFound", f"No route for {request.method} {request.path}.")
        if len(parts) >= 2 and not _SECRET_NAME.match(parts[1]):
            raise VaultError(400, "BadParameter", f"The request URI contains an invalid name: {parts[1]}")
        method = request.method
        if len(parts) == 1:
            route = {"GET": "list"}.get(method)
        elif len(parts) == 2:
            route = {"GET": "get", "PUT": "set", "PATCH": "update"}.get(method)
        elif parts[2] == "versions":
            route = {"GET": "versions"}.get(method)
        else:
            route = {"GET": "get", "PATCH": "update"}.get(method)
        if route is None:
            raise VaultError(405, "MethodNotAllowed", f"The method {method} is not allowed on {request.path}.")
        action = {"list": "readMetadata", "versions": "readMetadata", "get": "getSecret", "set": "setSecret", "update": "update"}[route]
        secret = parts[1] if len(parts) >= 2 else None
        self._authorize(vault, claims, action, secret)
        query = request.query()
        if route in ("set", "update"):
            try:
                payload = request.json()
            except ValueError as exc:
                raise VaultError(400, "BadParameter", "The request body is not valid JSON.") from exc
            if not isinstance(payload, dict):
                raise VaultError(400, "BadParameter", "The request body must be a JSON object.")
            if route == "set":
                return self.set_secret(vault, str(secret), payload)
            return self.update_secret(vault, str(secret), parts[2] if len(parts) == 3 else None, payload)
        if route == "get":
            return self.get_secret(vault, str(secret), parts[2] if len(parts) == 3 else None)
        return self.list_items(vault, secret, query, api_version)

    def _authenticate(self, request: Request, vault: KeyVault) -> dict[str, Any]:
        """The token's claims; 401 with the vault's challenge, worded as the service does, when it is not acceptable."""
        challenge = self._challenge(vault.name)
        scheme, _sep, token = request.header("authorization").strip().partition(" ")
        if scheme.lower() not in ("bearer", "pop") or not token.strip():
            raise VaultError(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.", headers=challenge)
        try:
            claims = self.emu.tokens.decode(token.strip())
        except TokenRejected as exc:
            if exc.reason == "expired":
                message = "[TokenExpired] Error validating token: 'S2S12086'."
            elif exc.reason == "malformed":
                message = "AKV10000: Request is missing a Bearer or PoP token."
            else:
                message = "AKV10046: Unable to resolve the key used for signature validation."
            raise VaultError(401, "Unauthorized", message, headers=challenge) from exc
        audience = claims.get("aud")
        if audience not in (VAULT_RESOURCE, VAULT_APP_ID):
            raise VaultError(401, "Unauthorized", f"AKV10022: Invalid audience. Expected {VAULT_RESOURCE} or {VAULT_APP_ID}, "
                                                  f"found: {audience}.", headers=challenge)
        if str(claims.get("tid", "")).lower() != vault.tenant_id:
            raise VaultError(401, "Unauthorized", f"AKV10032: Invalid issuer. Expected one of https://sts.windows.net/{vault.tenant_id}/, "
                                                  f"found https://sts.windows.net/{claims.get('tid')}/.", headers=challenge)
        return claims

    def _authorize(self, vault: KeyVault, claims: dict[str, Any], action: str, secret: str | None) -> None:
        """403 ForbiddenByRbac unless a role assigned to the token's app on the vault allows ``action``."""
        appid = str(claims.get("appid", ""))
        state = self.emu.state
        with state.lock:
            allowed = vault.allows(appid, action)
        if allowed:
            return
        resource = vault.resource_id() + (f"/secrets/{secret.lower()}" if secret else "")
        message = ("Caller is not authorized to perform action on resource.\r\n"
                   "If role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\n"
                   f"Caller: appid={appid};oid={claims.get('oid')};iss={claims.get('iss')}\r\n"
                   f"Action: '{ACTIONS[action]}'\r\n"
                   f"Resource: '{resource}'\r\n"
                   "Assignment: (not found)\r\n"
                   "DenyAssignmentId: null\r\n"
                   "DecisionReason: 'DeniedWithNoValidRBAC' \r\n"
                   f"Vault: {vault.name};location={vault.location}\r\n")
        raise VaultError(403, "Forbidden", message, "ForbiddenByRbac")

    # -- operations ------------------------------------------------------------------------------------------

    def set_secret(self, vault: KeyVault, name: str, payload: dict[str, Any]) -> tuple[int, Any]:
        """``PUT /secrets/{name}``: a new version; the answer echoes the value received (it is not kept)."""
        value = payload.get("value")
        if not isinstance(value, str):
            raise VaultError(400, "BadParameter", "Property 'value' is required and must be a string.")
        content_type, attributes, tags = self._metadata(payload)
        now = int(time.time())
        version = SecretVersion(name=name, version=uuid.uuid4().hex, value_fingerprint=fingerprint(value), created=now, updated=now,
                                enabled=attributes.get("enabled", True), nbf=attributes.get("nbf"), exp=attributes.get("exp"),
                                content_type=content_type, tags=tags)
        state = self.emu.state
        with state.lock:
            versions = vault.secrets.setdefault(name.lower(), [])
            if versions:
                version.name = versions[0].name
            versions.append(version)
            body = self.bundle(vault, version)
        return 200, {"value": value, **body}

    def get_secret(self, vault: KeyVault, name: str, version_id: str | None) -> tuple[int, Any]:
        """``GET /secrets/{name}[/{version}]``: the bundle with every attribute, and no ``value`` (kept as a fingerprint)."""
        state = self.emu.state
        with state.lock:
            version = self._find(vault, name, version_id)
            if not version.enabled:
                raise VaultError(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
            return 200, self.bundle(vault, version)

    def update_secret(self, vault: KeyVault, name: str, version_id: str | None, payload: dict[str, Any]) -> tuple[int, Any]:
        """``PATCH /secrets/{name}/{version}``: content type, attributes and tags (tags given replace them all)."""
        content_type, attributes, tags = self._metadata(payload)
        state = self.emu.state
        with state.lock:
            version = self._find(vault, name, version_id)
            if "contentType" in payload:
                version.content_type = content_type
            if "tags" in payload:
                version.tags = tags
            for key in ("enabled", "nbf", "exp"):
                if key in attributes:
                    setattr(version, key, attributes[key])
            version.updated = int(time.time())
            return 200, self.bundle(vault, version)

    def list_items(self, vault: KeyVault, name: str | None, query: dict[str, str], api_version: str) -> tuple[int, Any]:
        """``GET /secrets`` (the newest version of each secret) or ``GET /secrets/{name}/versions`` (every version,
        oldest first), ``maxresults`` (1 to 25, default 25) per page, ``nextLink`` carrying ``$skiptoken``."""
        raw_max = query.get("maxresults")
        try:
            page_size = int(raw_max) if raw_max not in (None, "") else MAX_RESULTS
        except ValueError:
            page_size = 0
        if not 1 <= page_size <= MAX_RESULTS:
            raise VaultError(400, "BadParameter", f"The value '{raw_max}' of maxresults is not valid: it must be between 1 and {MAX_RESULTS}.")
        offset = _read_skiptoken(query.get("$skiptoken"))
        state = self.emu.state
        with state.lock:
            if name is None:
                versions = [v[-1] for _key, v in sorted(vault.secrets.items())]
            else:
                versions = list(vault.secrets.get(name.lower(), []))
            items = [self.item(vault, v, with_version=name is not None) for v in versions[offset:offset + page_size]]
        next_link = None
        if offset + page_size < len(versions):
            path = "secrets" if name is None else f"secrets/{quote(versions[0].name, safe='')}/versions"
            next_link = (f"{self.vault_url(vault.name)}/{path}?api-version={quote(api_version, safe='')}"
                         f"&$skiptoken={_skiptoken(offset + page_size)}&maxresults={page_size}")
        return 200, {"value": items, "nextLink": next_link}

    # -- helpers ---------------------------------------------------------------------------------------------

    @staticmethod
    def _find(vault: KeyVault, name: str, version_id: str | None) -> SecretVersion:
        versions = vault.secrets.get(name.lower())
        if not versions:
            raise VaultError(404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault. {NOT_FOUND_HINT}")
        if version_id is None:
            return versions[-1]
        found = next((v for v in versions if v.version == version_id.lower()), None) if _VERSION.match(version_id) else None
        if found is None:
            raise VaultError(404, "SecretNotFound",
                             f"A secret with (name/id) {name}/{version_id} was not found in this key vault. {NOT_FOUND_HINT}")
        return found

    @staticmethod
    def _metadata(payload: dict[str, Any]) -> tuple[str | None, dict[str, Any], dict[str, str] | None]:
        """The checked ``contentType``, ``attributes`` and ``tags`` of a PUT or PATCH body (other properties, and read-only
        attributes such as ``created``, are ignored)."""
        content_type = payload.get("contentType")
        if content_type is not None and (not isinstance(content_type, str) or len(content_type) > MAX_CONTENT_TYPE):
            raise VaultError(400, "BadParameter", f"Property 'contentType' must be a string of at most {MAX_CONTENT_TYPE} characters.")
        attributes = payload.get("attributes")
        if attributes is None:
            attributes = {}
        if not isinstance(attributes, dict):
            raise VaultError(400, "BadParameter", "Property 'attributes' must be an object.")
        checked: dict[str, Any] = {}
        for key, value in attributes.items():
            if key == "enabled":
                if not isinstance(value, bool):
                    raise VaultError(400, "BadParameter", "Property 'attributes.enabled' must be a boolean.")
                checked[key] = value
            elif key in ("nbf", "exp"):
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise VaultError(400, "BadParameter", f"Property 'attributes.{key}' must be a number of seconds since 1970-01-01.")
                checked[key] = value
        tags = payload.get("tags")
        if tags is not None:
            if not isinstance(tags, dict) or any(not isinstance(v, str) for v in tags.values()):
                raise VaultError(400, "BadParameter", "Property 'tags' must be an object of string values.")
            if len(tags) > MAX_TAGS:
                raise VaultError(400, "BadParameter", f"Too many tags: a secret takes at most {MAX_TAGS} tags.")
            for tag, value in tags.items():
                if not tag or len(tag) > MAX_TAG_NAME:
                    raise VaultError(400, "BadParameter", f"Tag name '{tag[:40]}' must be 1 to {MAX_TAG_NAME} characters long.")
                if len(value) > MAX_TAG_VALUE:
                    raise VaultError(400, "BadParameter", f"The value of tag '{tag[:40]}' must be at most {MAX_TAG_VALUE} characters long.")
            tags = dict(tags)
        return content_type, checked, tags

    def _attributes(self, version: SecretVersion) -> dict[str, Any]:
        attributes: dict[str, Any] = {"enabled": version.enabled}
        if version.nbf is not None:
            attributes["nbf"] = version.nbf
        if version.exp is not None:
            attributes["exp"] = version.exp
        attributes.update({"created": version.created, "updated": version.updated, "recoveryLevel": RECOVERY_LEVEL,
                           "recoverableDays": RECOVERABLE_DAYS})
        return attributes

    def bundle(self, vault: KeyVault, version: SecretVersion) -> dict[str, Any]:
        """A SecretBundle without ``value``: ``contentType``?, ``id`` (with the version), ``attributes``, ``tags``?."""
        body: dict[str, Any] = {}
        if version.content_type is not None:
            body["contentType"] = version.content_type
        body["id"] = f"{self.vault_url(vault.name)}/secrets/{version.name}/{version.version}"
        body["attributes"] = self._attributes(version)
        if version.tags is not None:
            body["tags"] = copy.deepcopy(version.tags)
        return body

    def item(self, vault: KeyVault, version: SecretVersion, with_version: bool) -> dict[str, Any]:
        """A SecretItem of a list: ``id`` (with the version in a versions list), ``attributes``, ``tags``?, ``contentType``?."""
        suffix = f"/{version.version}" if with_version else ""
        body: dict[str, Any] = {"id": f"{self.vault_url(vault.name)}/secrets/{version.name}{suffix}", "attributes": self._attributes(version)}
        if version.tags is not None:
            body["tags"] = copy.deepcopy(version.tags)
        if version.content_type is not None:
            body["contentType"] = version.content_type
        return body

    # -- control API -----------------------------------------------------------------------------------------

    def view(self, vault: KeyVault) -> dict[str, Any]:
        """``GET /_emulator/vaults/{name}``: name, tenant, url and each secret's versions (no values, no fingerprints)."""
        return {"name": vault.name, "tenant": vault.tenant_id, "url": self.vault_url(vault.name),
                "role_assignments": [dict(a) for a in vault.role_assignments],
                "secrets": {versions[0].name: [v.view() for v in versions] for _key, versions in sorted(vault.secrets.items())}}

    def control(self, name: str, payload: Any) -> Response | None:
        """The ``/_emulator/vaults/...`` routes; None when ``name`` is none of them."""
        parts = name.split("/")
        if len(parts) < 2 or parts[0] != "vaults":
            return None
        state = self.emu.state
        with state.lock:
            vault = state.vault(unquote(parts[1]))
            if vault is None:
                return json_response(404, {"error": f"no key vault named {unquote(parts[1])!r}"})
            if len(parts) == 2:
                return json_response(200, self.view(vault))
            if len(parts) != 3 or parts[2] not in ("compare", "holds"):
                return None
            if not isinstance(payload, dict) or not payload.get("tenant") or not payload.get("user"):
                return json_response(400, {"error": "body must be {\"tenant\", \"user\", \"as\"?, \"secret\" (compare), \"version\"?}"})
            tenant = state.resolve(str(payload["tenant"]))
            if tenant is None:
                return json_response(404, {"error": f"unknown tenant {payload['tenant']!r}"})
            user = tenant.find_user(str(payload["user"]))
            if user is None:
                return json_response(404, {"error": f"unknown user {payload['user']!r}"})
            current = tenant.current_fingerprint(user["id"], str(payload.get("as") or "password"))
            if parts[2] == "holds":
                held = [{"secret": versions[0].name, "version": v.version} for _key, versions in sorted(vault.secrets.items())
                        for v in versions if current is not None and v.value_fingerprint == current]
                return json_response(200, {"versions": held})
            versions = vault.secrets.get(str(payload.get("secret") or "").lower())
            if not versions:
                return json_response(404, {"error": f"no secret {payload.get('secret')!r} in key vault {vault.name}"})
            wanted = str(payload["version"]).lower() if payload.get("version") else None
            version = versions[-1] if wanted is None else next((v for v in versions if v.version == wanted), None)
            if version is None:
                return json_response(404, {"error": f"no version {payload['version']!r} of secret {versions[0].name}"})
            return json_response(200, {"matches": current is not None and version.value_fingerprint == current})


def _skiptoken(offset: int) -> str:
    """An opaque continuation token in the service's style (base64 of a small JSON document)."""
    raw = json.dumps({"NextMarker": f"emu!{offset}", "TargetLocation": 0}, separators=(",", ":")).encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _read_skiptoken(token: str | None) -> int:
    if not token:
        return 0
    try:
        marker = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))["NextMarker"]
        return int(str(marker).split("!", 1)[1])
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise VaultError(400, "BadParameter", "The $skiptoken is not valid.") from exc

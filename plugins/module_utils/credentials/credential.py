# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The credential interface, and the msal plumbing the secret, certificate and federated credentials share.

Every credential has ``validate()`` (checks the inputs, no request) and ``get_token(resource)``, plus
``refresh(resource, rejected)`` which the service clients call once when a service answers 401 to a
token msal still considers valid (for instance revoked or expired early), and ``tenant_guid(resource)``,
the tenant the token was issued for.

msal applications are cached per process, keyed by (authority, tenant, client id, a hash of the
credential, the transport's ``verify``): Graph and Exchange clients of one module run, or several
clients built in one process, share one application and therefore one token cache.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any, NoReturn
from urllib.parse import urlsplit

from ansible_collections.m365ops.remediation.plugins.module_utils.auth import (
    DEFAULT_AUTHORITY_HOST,
    HAS_MSAL,
    MICROSOFT_AUTHORITY_HOSTS,
    MSAL_IMPORT_ERROR,
    authority_url,
    check_token_tenant,
    config_error,
    expected_tenant_id,
    normalize_authority_host,
    token_tenant_id,
)
from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error, redact

try:
    import msal
except ImportError:
    msal = None  # validate() reports it, with auth.MSAL_IMPORT_ERROR

_AADSTS_RE = re.compile(r"AADSTS\d+:[^\"\\\r\n]*")
_TRAILER_RE = re.compile(r"\s+Trace ID:")
_TRANSIENT_AUTH_ERRORS = frozenset(("temporarily_unavailable", "server_error"))
# A token msal gave is used without asking msal again until this many seconds before it expires (msal itself
# counts a token as expired 5 minutes early).
HELD_MARGIN = 600


def _first_line(text: str | None) -> str:
    """The first line of an Entra error_description, without its trace/correlation/timestamp trailer."""
    for line in (text or "").splitlines():
        line = _TRAILER_RE.split(line, maxsplit=1)[0].strip()
        if line:
            return line
    return ""


def credential_digest(*parts: Any) -> str:
    """A stable hash of credential material: cache keys must not hold secrets."""
    sha = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else str(part).encode("utf-8")
        sha.update(len(data).to_bytes(8, "big"))
        sha.update(data)
    return sha.hexdigest()


class _AppEntry:
    """One msal application plus the lock that serialises its token requests."""

    def __init__(self) -> None:
        self.app: Any = None
        self.lock = threading.RLock()


_APPS: dict[tuple, _AppEntry] = {}
_APPS_LOCK = threading.Lock()


def clear_app_cache() -> None:
    """Forget every cached msal application (and so every cached token) in this process."""
    with _APPS_LOCK:
        _APPS.clear()


class Credential:
    """Base class: what the Graph and Exchange clients need from any credential."""

    method = "base"

    def validate(self) -> None:
        """Check the inputs without any request; raise ``M365Error(code='invalid_configuration')``."""
        raise NotImplementedError

    def get_token(self, resource: str) -> str:
        """An access token for ``resource`` (e.g. ``https://graph.microsoft.com``)."""
        raise NotImplementedError

    def refresh(self, resource: str, rejected: str) -> str:
        """A token other than ``rejected`` if one can be had; the same token means none."""
        raise NotImplementedError

    def tenant_guid(self, resource: str) -> str | None:
        """The GUID of the tenant the token for ``resource`` was issued for (its ``tid`` claim), lower case;
        acquires a token if none is held. None when the token carries no tenant."""
        return token_tenant_id(self.get_token(resource))


class MsalCredential(Credential):
    """Shared msal plumbing for secret, certificate and federated credentials."""

    def __init__(self, tenant_id: str, client_id: str, *, authority_host: str | None, transport: Any) -> None:
        self.tenant_id = (tenant_id or "").strip() if tenant_id else tenant_id
        self.client_id = (client_id or "").strip() if client_id else client_id
        self.authority_host = authority_host or DEFAULT_AUTHORITY_HOST
        self.transport = transport
        self._validated = False
        # The last token checked against the named tenant, per resource: a token is checked once.
        self._checked_tokens: dict[str, str] = {}
        # Per resource, the token in use and until when (time.monotonic()) it is used without asking msal: every
        # request needs a token, and msal's cache lookup (under the application's lock, shared by every thread)
        # cost each request more than its own headers.
        self._held: dict[str, tuple[str, float]] = {}

    # Subclasses provide these two.
    def _client_credential(self) -> Any:
        raise NotImplementedError

    def _fingerprint(self) -> str:
        raise NotImplementedError

    def _secrets(self) -> list[str]:
        """Values that must never appear in a message."""
        return []

    def _validate_common(self) -> None:
        if not HAS_MSAL:
            raise M365Error("The Python library 'msal' is required on the controller: pip install msal",
                            service="auth", code="missing_library", details=MSAL_IMPORT_ERROR)
        authority_url(self.authority_host, self.tenant_id)
        if not self.client_id:
            raise config_error("client_id is required (option client_id or env AZURE_CLIENT_ID)")
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", self.client_id):
            raise config_error(f"client_id {self.client_id!r} is not a valid application (client) id")

    def validate(self) -> None:
        self._validate_common()
        self._validated = True

    def _key(self) -> tuple:
        host = normalize_authority_host(self.authority_host)
        verify = getattr(self.transport, "verify", True)
        return (host, self.tenant_id.lower(), self.client_id.lower(), self.method, self._fingerprint(), str(verify))

    def _entry(self) -> _AppEntry:
        if not self._validated:
            self.validate()
        key = self._key()
        with _APPS_LOCK:
            entry = _APPS.get(key)
            if entry is None:
                entry = _APPS[key] = _AppEntry()
        if entry.app is None:
            with entry.lock:
                if entry.app is None:
                    entry.app = self._build_app()
        return entry

    def _build_app(self) -> Any:
        authority = authority_url(self.authority_host, self.tenant_id)
        host = urlsplit(authority).hostname or ""
        try:
            return msal.ConfidentialClientApplication(
                self.client_id,
                client_credential=self._client_credential(),
                authority=authority,
                http_client=self.transport.msal_http_client(),
                instance_discovery=host.lower() in MICROSOFT_AUTHORITY_HOSTS,
            )
        except M365Error:
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise self._constructor_error(exc) from None

    def _constructor_error(self, exc: Exception) -> M365Error:
        """msal's constructor runs tenant discovery; an unknown tenant surfaces here as a ValueError.

        msal re-raises the discovery failure with a generic text: the service's answer (and its AADSTS
        code) is in the exception it was raised from, so the whole chain is searched.
        """
        texts = []
        seen = 0
        current: BaseException | None = exc
        while current is not None and seen < 5:
            texts.append(str(current))
            current = current.__cause__ or current.__context__
            seen += 1
        text = " ".join(reversed(texts))
        found = _AADSTS_RE.search(text)
        status_match = re.search(r"HTTP status: (\d{3})", text)
        status = int(status_match.group(1)) if status_match else None
        if found:
            code_match = re.search(r'"error"\s*:\s*"([^"]+)"', text)
            corr = re.search(r'"(?:correlation_id|trace_id)"\s*:\s*"([^"]+)"', text)
            return M365Error(
                redact(_first_line(found.group(0)), self._secrets()), service="auth", status=status,
                code=code_match.group(1) if code_match else "discovery_failed",
                request_id=corr.group(1) if corr else None,
            )
        message = redact(" ".join(str(exc).split())[:500], self._secrets())
        return M365Error(f"Could not set up authentication for tenant {self.tenant_id!r} at {self.authority_host}: {message}",
                         service="auth", status=status, code="discovery_failed")

    def _acquire(self, app: Any, resource: str) -> str:
        scopes = [resource.rstrip("/") + "/.default"]
        try:
            result = app.acquire_token_for_client(scopes=scopes)
        except M365Error:
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise M365Error(
                f"Token request for {resource} failed: {redact(' '.join(str(exc).split())[:500], self._secrets())}",
                service="auth", code="token_request_failed",
            ) from None
        if not isinstance(result, dict):
            raise M365Error(f"Token request for {resource} returned nothing", service="auth", code="token_request_failed")
        if "access_token" in result:
            token = result["access_token"]
            if self._checked_tokens.get(resource) != token:
                check_token_tenant(token, self.tenant_id, self._expected_tenant(app))
                self._checked_tokens[resource] = token
            self._hold(resource, token, result.get("expires_in"))
            return token
        error = result.get("error") or "token_request_failed"
        message = _first_line(result.get("error_description")) or f"Token request for {resource} failed: {error}"
        self._raise_token_error(error, message, result)

    def _hold(self, resource: str, token: str, expires_in: Any) -> None:
        """Keep ``token`` for ``resource`` until HELD_MARGIN seconds before it expires (not at all when it is that near)."""
        try:
            left = float(expires_in) - HELD_MARGIN
        except (TypeError, ValueError):
            left = 0.0
        if left > 0:
            self._held[resource] = (token, time.monotonic() + left)
        else:
            self._held.pop(resource, None)

    def _expected_tenant(self, app: Any) -> str | None:
        """The GUID this credential's tokens must carry: the tenant_id itself, or what discovery said of a domain."""
        authority = getattr(app, "authority", None)
        return expected_tenant_id(self.tenant_id, getattr(authority, "_issuer", None), getattr(authority, "tenant", None))

    def tenant_guid(self, resource: str) -> str | None:
        entry = self._entry()
        token = self.get_token(resource)
        return token_tenant_id(token) or self._expected_tenant(entry.app)

    def _raise_token_error(self, error: str, message: str, result: dict) -> NoReturn:
        raise M365Error(
            redact(message, self._secrets()), service="auth", code=error,
            request_id=result.get("correlation_id") or result.get("trace_id"),
            details={"error_codes": result["error_codes"]} if result.get("error_codes") else None,
            transient=error in _TRANSIENT_AUTH_ERRORS,
        )

    def get_token(self, resource: str) -> str:
        held = self._held.get(resource)
        if held is not None and time.monotonic() < held[1]:
            return held[0]
        entry = self._entry()
        with entry.lock:
            return self._acquire(entry.app, resource)

    def refresh(self, resource: str, rejected: str) -> str:
        self._held.pop(resource, None)
        entry = self._entry()
        with entry.lock:
            token = self._acquire(entry.app, resource)
            if token != rejected:
                # Another thread already replaced the rejected token.
                return token
            # msal refuses force_refresh for client credentials; dropping the cached token for this
            # resource (only) makes the next call ask the token endpoint.
            _drop_cached_token(entry.app, resource, rejected)
            return self._acquire(entry.app, resource)


def _drop_cached_token(app: Any, resource: str, rejected: str) -> None:
    """Remove ``rejected`` from the app's token cache (all app-only tokens if the cache cannot be searched)."""
    try:
        cache = app.token_cache
        kind = msal.TokenCache.CredentialType.ACCESS_TOKEN
        found = [at for at in cache.search(kind, query={"client_id": app.client_id}) if at.get("secret") == rejected]
        for at in found:
            cache.remove_at(at)
        if found:
            return
    except (AttributeError, TypeError, KeyError):
        pass
    app.remove_tokens_for_client()


__all__ = ["Credential", "MsalCredential", "clear_app_cache", "credential_digest"]

# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Credentials: one class per authentication method, all producing app-only tokens through msal.

Every credential has ``validate()`` (checks the inputs, no request) and ``get_token(resource)``, plus
``refresh(resource, rejected)`` which the service clients call once when a service answers 401 to a
token msal still considers valid (for instance revoked or expired early), and ``tenant_guid(resource)``,
the tenant the token was issued for.

A token issued for another tenant than the one named is refused before it is used (``tenant_mismatch``):
its ``tid`` claim must be the named tenant's GUID, or for a domain the GUID Entra's discovery answered.

msal applications are cached per process, keyed by (authority, tenant, client id, a hash of the
credential, the transport's ``verify``): Graph and Exchange clients of one module run, or several
clients built in one process, share one application and therefore one token cache.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import re
import threading
import time
import traceback
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error, redact

try:
    import msal
except ImportError:
    msal = None
    HAS_MSAL = False
    MSAL_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_MSAL = True
    MSAL_IMPORT_ERROR = None

# cryptography is only needed for certificate authentication, and importing it costs about 0.1 s of CPU in
# every module run: it is imported on first use (see _load_cryptography).
x509 = hashes = serialization = rsa = pkcs12 = None  # pylint: disable=invalid-name
HAS_CRYPTOGRAPHY: bool | None = None
CRYPTOGRAPHY_IMPORT_ERROR: str | None = None


def _load_cryptography() -> bool:
    """Import cryptography's parts into this module's namespace once; whether it is available."""
    global x509, hashes, serialization, rsa, pkcs12, HAS_CRYPTOGRAPHY, CRYPTOGRAPHY_IMPORT_ERROR  # pylint: disable=global-statement
    if HAS_CRYPTOGRAPHY is None:
        try:
            from cryptography import x509 as _x509  # pylint: disable=import-outside-toplevel
            from cryptography.hazmat.primitives import hashes as _hashes, serialization as _serialization  # pylint: disable=import-outside-toplevel
            from cryptography.hazmat.primitives.asymmetric import rsa as _rsa  # pylint: disable=import-outside-toplevel
            from cryptography.hazmat.primitives.serialization import pkcs12 as _pkcs12  # pylint: disable=import-outside-toplevel
        except ImportError:
            HAS_CRYPTOGRAPHY = False
            CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
        else:
            x509, hashes, serialization, rsa, pkcs12 = _x509, _hashes, _serialization, _rsa, _pkcs12
            HAS_CRYPTOGRAPHY = True
    return bool(HAS_CRYPTOGRAPHY)


GRAPH_RESOURCE = "https://graph.microsoft.com"
EXCHANGE_RESOURCE = "https://outlook.office365.com"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"

# Service endpoint host -> the resource id its tokens are issued for (national clouds).
# Any other host (a test double, a proxy) takes the public cloud's resource id.
RESOURCE_BY_HOST = {
    "graph.microsoft.com": "https://graph.microsoft.com",
    "graph.microsoft.us": "https://graph.microsoft.us",
    "dod-graph.microsoft.us": "https://dod-graph.microsoft.us",
    "microsoftgraph.chinacloudapi.cn": "https://microsoftgraph.chinacloudapi.cn",
    "outlook.office365.com": "https://outlook.office365.com",
    "outlook.office365.us": "https://outlook.office365.us",
    "webmail.apps.mil": "https://webmail.apps.mil",
    "partner.outlook.cn": "https://partner.outlook.cn",
}

# Authority hosts msal knows; for any other host instance discovery must be off, or msal would ask
# login.microsoftonline.com about it.
MICROSOFT_AUTHORITY_HOSTS = frozenset((
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
))

CREDENTIAL_OPTIONS_HELP = (
    "client_secret (env AZURE_CLIENT_SECRET), client_certificate_path (env AZURE_CLIENT_CERTIFICATE_PATH, "
    "with client_certificate_password / AZURE_CLIENT_CERTIFICATE_PASSWORD if the key is encrypted), "
    "federated_token_file (env AZURE_FEDERATED_TOKEN_FILE) or federated_token, access_token, or in GitHub Actions "
    "federated_token_request_url with federated_token_request_token (env ACTIONS_ID_TOKEN_REQUEST_URL and "
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN, set by 'permissions: id-token: write')"
)

_TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$")
_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_AADSTS_RE = re.compile(r"AADSTS\d+:[^\"\\\r\n]*")
_TRAILER_RE = re.compile(r"\s+Trace ID:")
_TRANSIENT_AUTH_ERRORS = frozenset(("temporarily_unavailable", "server_error"))


def _config_error(message: str) -> M365Error:
    return M365Error(message, service="auth", code="invalid_configuration")


def resource_for(endpoint: str | None, default: str) -> str:
    """The token resource for a service endpoint: a national cloud's own id, else ``default``."""
    try:
        host = (urlsplit(endpoint or "").hostname or "").lower()
    except ValueError:
        return default
    return RESOURCE_BY_HOST.get(host, default)


def normalize_authority_host(authority_host: str | None) -> str:
    """``https://host[:port]`` from an authority host option (a bare host name gets ``https://``)."""
    text = (authority_host or DEFAULT_AUTHORITY_HOST).strip()
    if "://" not in text:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        raise _config_error(f"authority_host {authority_host!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() != "https":
        raise _config_error(f"authority_host must be an https URL, got {authority_host!r}")
    if not host:
        raise _config_error(f"authority_host {authority_host!r} has no host name")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password:
        raise _config_error(
            f"authority_host must be a host only (e.g. https://login.microsoftonline.com), got {authority_host!r}")
    netloc = f"[{host}]" if ":" in host else host
    if port:
        netloc = f"{netloc}:{port}"
    return f"https://{netloc.lower()}"


def authority_url(authority_host: str | None, tenant_id: str | None) -> str:
    """The msal authority ``https://host/tenant``, after validating both parts."""
    host = normalize_authority_host(authority_host)
    tenant = (tenant_id or "").strip()
    if not tenant:
        raise _config_error("tenant_id is required (option tenant_id or env AZURE_TENANT_ID)")
    if not _TENANT_RE.match(tenant) or ".." in tenant:
        raise _config_error(f"tenant_id {tenant_id!r} is neither a tenant GUID nor a domain name")
    if tenant.lower() in ("common", "organizations", "consumers"):
        raise _config_error(f"tenant_id must name one tenant (GUID or verified domain), not {tenant!r}")
    return f"{host}/{tenant}"


def is_tenant_guid(value: Any) -> bool:
    """Whether ``value`` is GUID-shaped (a tenant id rather than a domain)."""
    return isinstance(value, str) and bool(_GUID_RE.match(value.strip()))


def jwt_claims(token: str | None) -> dict[str, Any]:
    """The claims of a JWT, read without verification; empty for anything that is not a JWT."""
    parts = (token or "").split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def token_tenant_id(token: str | None) -> str | None:
    """The tenant GUID a token was issued for (its ``tid`` claim, lower case); None without a GUID ``tid``."""
    tid = jwt_claims(token).get("tid")
    return tid.strip().lower() if is_tenant_guid(tid) else None


def expected_tenant_id(tenant_id: str | None, issuer: str | None = None, discovered_tenant: str | None = None) -> str | None:
    """The GUID a token for ``tenant_id`` must carry, lower case; None when it cannot be known.

    A GUID names itself. A domain is known by the GUID discovery answered: the one in the issuer
    (``https://host/{guid}/v2.0``) first, else the tenant of the discovered token endpoint.
    """
    if is_tenant_guid(tenant_id):
        return str(tenant_id).strip().lower()
    try:
        segments = urlsplit(issuer or "").path.split("/")
    except ValueError:
        segments = []
    for candidate in [*segments, discovered_tenant]:
        if is_tenant_guid(candidate):
            return str(candidate).strip().lower()
    return None


def check_token_tenant(token: str, tenant_id: str | None, expected: str | None, what: str = "a token",
                       check: str = "authority_host") -> None:
    """Raise ``M365Error(code='tenant_mismatch')`` if ``token`` was issued for another tenant than ``expected``.

    Nothing is compared when the expected GUID is unknown or the token carries no GUID ``tid`` (opaque tokens).
    ``what`` names the token and ``check`` the option to check besides tenant_id, in the message.
    """
    issued_for = token_tenant_id(token)
    if expected and issued_for and issued_for != expected.lower():
        raise M365Error(
            f"Refused {what} for tenant {tenant_id!r} because it was issued for tenant {issued_for} "
            f"(expected {expected.lower()}): check tenant_id and {check}",
            service="auth", code="tenant_mismatch")


def _first_line(text: str | None) -> str:
    """The first line of an Entra error_description, without its trace/correlation/timestamp trailer."""
    for line in (text or "").splitlines():
        line = _TRAILER_RE.split(line, maxsplit=1)[0].strip()
        if line:
            return line
    return ""


def _digest(*parts: Any) -> str:
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


class _MsalCredential(Credential):
    """Shared msal plumbing for secret, certificate and federated credentials."""

    def __init__(self, tenant_id: str, client_id: str, *, authority_host: str | None, transport: Any) -> None:
        self.tenant_id = (tenant_id or "").strip() if tenant_id else tenant_id
        self.client_id = (client_id or "").strip() if client_id else client_id
        self.authority_host = authority_host or DEFAULT_AUTHORITY_HOST
        self.transport = transport
        self._validated = False
        # The last token checked against the named tenant, per resource: a token is checked once.
        self._checked_tokens: dict[str, str] = {}

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
            raise _config_error("client_id is required (option client_id or env AZURE_CLIENT_ID)")
        if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", self.client_id):
            raise _config_error(f"client_id {self.client_id!r} is not a valid application (client) id")

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
            return token
        error = result.get("error") or "token_request_failed"
        message = _first_line(result.get("error_description")) or f"Token request for {resource} failed: {error}"
        self._raise_token_error(error, message, result)

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
        entry = self._entry()
        with entry.lock:
            return self._acquire(entry.app, resource)

    def refresh(self, resource: str, rejected: str) -> str:
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


class ClientSecretCredential(_MsalCredential):
    """Client id + client secret."""

    method = "client_secret"

    def __init__(self, tenant_id: str, client_id: str, client_secret: str, *,
                 authority_host: str | None = DEFAULT_AUTHORITY_HOST, transport: Any) -> None:
        super().__init__(tenant_id, client_id, authority_host=authority_host, transport=transport)
        self.client_secret = client_secret

    def validate(self) -> None:
        self._validate_common()
        if not self.client_secret:
            raise _config_error("client_secret is empty (option client_secret or env AZURE_CLIENT_SECRET)")
        self._validated = True

    def _client_credential(self) -> Any:
        return self.client_secret

    def _fingerprint(self) -> str:
        return _digest(self.client_secret)

    def _secrets(self) -> list[str]:
        return [self.client_secret]


def _not_after(cert: Any) -> datetime.datetime:
    value = getattr(cert, "not_valid_after_utc", None)
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def _not_before(cert: Any) -> datetime.datetime:
    value = getattr(cert, "not_valid_before_utc", None)
    if value is None:
        value = cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)
    return value


_PEM_BLOCK_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----\r?\n?", re.S)


class CertificateCredential(_MsalCredential):
    """Client id + certificate: a PEM file with key and certificate, or a PFX/PKCS#12 file.

    The key may be encrypted (``password``). The SHA-1 thumbprint is computed from the certificate;
    msal then signs an RS256 assertion with ``x5t``. With ``sha256=True`` the public certificate is
    given instead, and msal signs PS256 with ``x5t#S256`` (and sends the chain in ``x5c``).
    """

    method = "certificate"

    def __init__(self, tenant_id: str, client_id: str, certificate_path: str, *, password: str | None = None,
                 authority_host: str | None = DEFAULT_AUTHORITY_HOST, transport: Any, sha256: bool = False) -> None:
        super().__init__(tenant_id, client_id, authority_host=authority_host, transport=transport)
        self.certificate_path = certificate_path
        self.password = password
        self.sha256 = sha256
        self._key_pem: str | None = None
        self._cert_pem: str | None = None
        self.thumbprint: str | None = None
        self.thumbprint_sha256: str | None = None
        self.not_after: datetime.datetime | None = None

    def _secrets(self) -> list[str]:
        return [self.password or "", self._key_pem or ""]

    def validate(self) -> None:
        self._validate_common()
        if not _load_cryptography():
            raise M365Error("The Python library 'cryptography' is required for certificate authentication",
                            service="auth", code="missing_library", details=CRYPTOGRAPHY_IMPORT_ERROR)
        self._load()
        self._validated = True

    def _load(self) -> None:
        if not _load_cryptography():
            raise _config_error("The Python library 'cryptography' is required for certificate authentication")
        path = self.certificate_path
        if not path:
            raise _config_error("client_certificate_path is empty (option client_certificate_path or env AZURE_CLIENT_CERTIFICATE_PATH)")
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            raise _config_error(f"client_certificate_path {path!r} cannot be read: {exc.strerror or exc}") from None
        if b"-----BEGIN" in data:
            key, cert = self._load_pem(data)
        elif path.lower().endswith((".pfx", ".p12")) or data[:1] == b"\x30":
            key, cert = self._load_pfx(data)
        else:
            raise _config_error(f"client_certificate_path {path!r} is neither PEM nor PFX/PKCS#12")
        if not isinstance(key, rsa.RSAPrivateKey):
            raise _config_error(f"client_certificate_path {path!r}: the private key is not an RSA key, which Entra requires")
        if key.public_key().public_numbers() != cert.public_key().public_numbers():
            raise _config_error(f"client_certificate_path {path!r}: the certificate does not match the private key")
        now = datetime.datetime.now(datetime.timezone.utc)
        not_after = _not_after(cert)
        if not_after <= now:
            raise _config_error(
                f"client_certificate_path {path!r}: the certificate expired on {not_after.isoformat()}; "
                "Entra would reject it (AADSTS700027): upload and use a new one")
        if _not_before(cert) > now + datetime.timedelta(minutes=5):
            raise _config_error(f"client_certificate_path {path!r}: the certificate is not valid before "
                                f"{_not_before(cert).isoformat()}")
        self.not_after = not_after
        self._key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode("ascii")
        self._cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        self.thumbprint = cert.fingerprint(hashes.SHA1()).hex().upper()  # nosec B303 - Entra's x5t is SHA-1
        self.thumbprint_sha256 = cert.fingerprint(hashes.SHA256()).hex().upper()

    def _password_bytes(self) -> bytes | None:
        return self.password.encode("utf-8") if self.password else None

    def _load_pem(self, data: bytes) -> tuple[Any, Any]:
        path = self.certificate_path
        keys = []
        certs = []
        for match in _PEM_BLOCK_RE.finditer(data):
            label = match.group(1)
            if label.endswith(b"PRIVATE KEY"):
                keys.append((label, match.group(0)))
            elif label in (b"CERTIFICATE", b"TRUSTED CERTIFICATE", b"X509 CERTIFICATE"):
                certs.append(match.group(0))
        if not keys:
            raise _config_error(f"client_certificate_path {path!r} holds no private key: put the key and the certificate in one PEM file")
        if not certs:
            raise _config_error(f"client_certificate_path {path!r} holds no certificate: put the key and the certificate in one PEM file")
        label, block = keys[0]
        encrypted = label == b"ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in block
        if encrypted and not self.password:
            raise _config_error(f"client_certificate_path {path!r}: the private key is encrypted; "
                                "set client_certificate_password (env AZURE_CLIENT_CERTIFICATE_PASSWORD)")
        try:
            key = serialization.load_pem_private_key(block, password=self._password_bytes() if encrypted else None)
        except (ValueError, TypeError) as exc:
            if encrypted:
                raise _config_error(f"client_certificate_path {path!r}: wrong client_certificate_password "
                                    "(the private key cannot be decrypted)") from None
            raise _config_error(f"client_certificate_path {path!r}: the private key cannot be read: {exc}") from None
        key_numbers = key.public_key().public_numbers() if isinstance(key, rsa.RSAPrivateKey) else None
        chosen = None
        for block in certs:
            try:
                cert = x509.load_pem_x509_certificate(block)
            except ValueError as exc:
                raise _config_error(f"client_certificate_path {path!r}: a certificate cannot be read: {exc}") from None
            if chosen is None:
                chosen = cert
            if key_numbers is not None and isinstance(cert.public_key(), rsa.RSAPublicKey) \
                    and cert.public_key().public_numbers() == key_numbers:
                chosen = cert
                break
        return key, chosen

    def _load_pfx(self, data: bytes) -> tuple[Any, Any]:
        path = self.certificate_path
        try:
            key, cert, _extra = pkcs12.load_key_and_certificates(data, self._password_bytes())
        except (ValueError, TypeError):
            if self.password:
                raise _config_error(f"client_certificate_path {path!r}: wrong client_certificate_password "
                                    "or not a PFX/PKCS#12 file") from None
            raise _config_error(f"client_certificate_path {path!r}: the PFX file cannot be opened without a password; "
                                "set client_certificate_password (env AZURE_CLIENT_CERTIFICATE_PASSWORD)") from None
        if key is None:
            raise _config_error(f"client_certificate_path {path!r}: the PFX file holds no private key")
        if cert is None:
            raise _config_error(f"client_certificate_path {path!r}: the PFX file holds no certificate")
        return key, cert

    def _client_credential(self) -> Any:
        if self._key_pem is None:
            self._load()
        if self.sha256:
            return {"private_key": self._key_pem, "public_certificate": self._cert_pem}
        return {"private_key": self._key_pem, "thumbprint": self.thumbprint}

    def _fingerprint(self) -> str:
        if self._key_pem is None:
            self._load()
        return _digest(self._key_pem, self.thumbprint, self.sha256)


FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
# A fetched CI token is used again until it is this close to its expiry (GitHub's last 5 to 10 minutes).
FEDERATED_REFRESH_MARGIN = 60.0


class FederatedTokenCredential(_MsalCredential):
    """Client id + a federated (workload identity) token used as the client assertion.

    The token comes from, in this order: ``token_file`` (re-read for every token request, because
    Kubernetes and CI runners rotate it), ``token`` (a value), or ``request_url`` + ``request_token``
    (GitHub Actions' ``ACTIONS_ID_TOKEN_REQUEST_URL``/``ACTIONS_ID_TOKEN_REQUEST_TOKEN``: the token is
    requested for ``audience`` and fetched again when it is within ``refresh_margin`` seconds of its expiry,
    so a run longer than the token's life keeps working). msal calls :meth:`assertion` for every token
    request it sends, and caches access tokens in between.
    """

    method = "federated"

    def __init__(self, tenant_id: str, client_id: str, *, token_file: str | None = None, token: str | None = None,
                 request_url: str | None = None, request_token: str | None = None, audience: str | None = None,
                 refresh_margin: float = FEDERATED_REFRESH_MARGIN,
                 authority_host: str | None = DEFAULT_AUTHORITY_HOST, transport: Any) -> None:
        super().__init__(tenant_id, client_id, authority_host=authority_host, transport=transport)
        self.token_file = token_file
        self.token = token
        self.request_url = (request_url or "").strip() or None
        self.request_token = request_token
        self.audience = (audience or "").strip() or FEDERATED_AUDIENCE
        self.refresh_margin = refresh_margin
        self._last: str | None = None
        self._fetched: str | None = None
        self._fetched_expiry: float | None = None
        self._fetch_lock = threading.Lock()

    @property
    def source(self) -> str:
        """Where the assertion comes from: ``file``, ``value`` or ``request_url``."""
        if self.token_file:
            return "file"
        if self.token:
            return "value"
        return "request_url"

    def _secrets(self) -> list[str]:
        return [self.token or "", self._last or "", self.request_token or "", self._fetched or ""]

    def validate(self) -> None:
        self._validate_common()
        if self.token_file:
            self._read_file()
        elif self.token:
            pass
        elif self.request_url:
            parts = urlsplit(self.request_url)
            if parts.scheme.lower() != "https" or not parts.hostname:
                raise _config_error("federated_token_request_url (env ACTIONS_ID_TOKEN_REQUEST_URL) must be an https URL")
            if not self.request_token:
                raise _config_error("federated_token_request_url is set but federated_token_request_token "
                                    "(env ACTIONS_ID_TOKEN_REQUEST_TOKEN) is not: in GitHub Actions the job needs "
                                    "'permissions: id-token: write'")
        else:
            raise _config_error("federated_token_file (env AZURE_FEDERATED_TOKEN_FILE), federated_token, or "
                                "federated_token_request_url with federated_token_request_token is required")
        self._validated = True

    def _read_file(self) -> str:
        try:
            with open(self.token_file, "r", encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            raise _config_error(f"federated_token_file {self.token_file!r} cannot be read: {exc.strerror or exc}") from None
        if not token:
            raise _config_error(f"federated_token_file {self.token_file!r} is empty")
        self._last = token
        return token

    def _request_target(self) -> str:
        # As GitHub's toolkit does: the request URL already has a query (api-version), the audience is appended.
        separator = "&" if "?" in (self.request_url or "") else "?"
        return f"{self.request_url}{separator}audience={quote(self.audience, safe='')}"

    def _fetch(self) -> str:
        response = self.transport.request(
            "GET", self._request_target(), service="auth",
            headers={"Authorization": f"Bearer {self.request_token}", "Accept": "application/json"},
        )
        where = (self.request_url or "").split("?", 1)[0]
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code != 200 or not isinstance(body, dict) or not isinstance(body.get("value"), str) \
                or not body["value"].strip():
            detail = body.get("message") if isinstance(body, dict) else None
            text = (detail or response.text or "")[:300]
            raise M365Error(
                redact(f"Could not get a federated token from {where} (HTTP {response.status_code}): {' '.join(text.split())}. "
                       "In GitHub Actions the job needs 'permissions: id-token: write'.", self._secrets()),
                service="auth", status=response.status_code, code="federated_token_request_failed",
                transient=response.status_code in (429, 500, 502, 503, 504),
            )
        token = body["value"].strip()
        self._fetched = token
        self._fetched_expiry = _jwt_expiry(token)
        return token

    def assertion(self) -> str:
        """The current assertion: the file's content now, the given token, or a fresh-enough fetched one."""
        if self.token_file:
            return self._read_file()
        if self.token:
            return self.token
        with self._fetch_lock:
            expiry = self._fetched_expiry
            if self._fetched and (expiry is None or expiry - time.time() > self.refresh_margin):
                return self._fetched
            return self._fetch()

    def _client_credential(self) -> Any:
        return {"client_assertion": self.assertion}

    def _fingerprint(self) -> str:
        if self.token_file:
            return _digest("file", os.path.abspath(self.token_file))
        if self.token:
            return _digest("token", self.token)
        return _digest("request_url", self.request_url, self.request_token, self.audience)


class AccessTokenCredential(Credential):
    """A pre-acquired access token, used as is for every resource.

    The token must have been issued for the resource the module talks to (Graph tokens do not work
    on Exchange and the other way round); a task that needs both services needs another method.
    With a ``tenant_id`` GUID, a token whose ``tid`` names another tenant is refused by ``validate()``.
    """

    method = "access_token"

    def __init__(self, access_token: str, tenant_id: str | None = None) -> None:
        self.access_token = (access_token or "").strip()
        self.tenant_id = (tenant_id or "").strip() or None

    def validate(self) -> None:
        if not self.access_token:
            raise _config_error("access_token is empty")
        expires = _jwt_expiry(self.access_token)
        if expires is not None and expires < time.time():
            when = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc).isoformat()
            raise _config_error(f"access_token expired at {when}; get a new one")
        check_token_tenant(self.access_token, self.tenant_id, expected_tenant_id(self.tenant_id), what="the access_token",
                           check="access_token")

    def tenant_guid(self, resource: str) -> str | None:
        named = str(self.tenant_id).lower() if is_tenant_guid(self.tenant_id) else None
        return token_tenant_id(self.access_token) or named

    def get_token(self, resource: str) -> str:
        return self.access_token

    def refresh(self, resource: str, rejected: str) -> str:
        # Nothing to refresh with: the caller sees the same token and reports the service's 401.
        return self.access_token


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without verification (only to warn early); None if not a JWT."""
    exp = jwt_claims(token).get("exp")
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


def credential_from_options(options: dict[str, Any], transport: Any) -> Credential:
    """Pick the credential from module options.

    Precedence when several methods are set: ``access_token`` > ``client_certificate_path`` >
    ``federated_token_file``/``federated_token`` > ``client_secret`` > ``federated_token_request_url``.
    That lets a more specific option in a task override a secret coming from the environment; the
    request URL comes last because GitHub Actions sets it in every job allowed to request a token,
    whether or not the job means to sign in with it.
    """
    def opt(name: str) -> Any:
        value = options.get(name)
        return value if value not in ("", None) else None

    if opt("access_token"):
        return AccessTokenCredential(opt("access_token"), tenant_id=opt("tenant_id"))

    tenant_id = opt("tenant_id")
    client_id = opt("client_id")
    has_cred = any(opt(n) for n in ("client_certificate_path", "federated_token_file", "federated_token", "client_secret",
                                    "federated_token_request_url"))
    missing = [label for label, ok in (
        ("tenant_id (env AZURE_TENANT_ID)", tenant_id),
        ("client_id (env AZURE_CLIENT_ID)", client_id),
        (f"a credential: one of {CREDENTIAL_OPTIONS_HELP}", has_cred),
    ) if not ok]
    if missing:
        raise _config_error("Missing authentication settings: " + "; ".join(missing))

    authority_host = opt("authority_host") or DEFAULT_AUTHORITY_HOST
    common = {"authority_host": authority_host, "transport": transport}
    if opt("client_certificate_path"):
        return CertificateCredential(tenant_id, client_id, opt("client_certificate_path"),
                                     password=opt("client_certificate_password"), **common)
    if opt("federated_token_file") or opt("federated_token"):
        return FederatedTokenCredential(tenant_id, client_id, token_file=opt("federated_token_file"),
                                        token=opt("federated_token"), audience=opt("federated_token_audience"), **common)
    if opt("client_secret"):
        return ClientSecretCredential(tenant_id, client_id, opt("client_secret"), **common)
    return FederatedTokenCredential(tenant_id, client_id, request_url=opt("federated_token_request_url"),
                                    request_token=opt("federated_token_request_token"),
                                    audience=opt("federated_token_audience"), **common)


__all__ = [
    "GRAPH_RESOURCE", "EXCHANGE_RESOURCE", "RESOURCE_BY_HOST", "MICROSOFT_AUTHORITY_HOSTS", "HAS_MSAL", "MSAL_IMPORT_ERROR",
    "resource_for", "authority_url", "normalize_authority_host", "Credential", "ClientSecretCredential",
    "CertificateCredential", "FederatedTokenCredential", "AccessTokenCredential", "credential_from_options",
    "clear_app_cache", "FEDERATED_AUDIENCE", "jwt_claims", "is_tenant_guid", "token_tenant_id", "expected_tenant_id",
    "check_token_tenant",
]

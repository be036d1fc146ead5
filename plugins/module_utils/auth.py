# -*- coding: utf-8 -*-
# Copyright (c) m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Authentication: what the credentials and the service clients share, and the choice of a credential.

Resource ids per service endpoint (national clouds), the authority (host and tenant), the tenant a token
was issued for, read from its claims, and :func:`credential_from_options`, which picks one of the
credential classes in ``credentials/`` from the module options.

A token issued for another tenant than the one named is refused before it is used (``tenant_mismatch``):
its ``tid`` claim must be the named tenant's GUID, or for a domain the GUID Entra's discovery answered.
"""

from __future__ import annotations

import base64
import json
import re
import traceback
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error

if TYPE_CHECKING:
    from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.credential import Credential

try:
    import msal  # pylint: disable=unused-import
except ImportError:
    HAS_MSAL = False
    MSAL_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_MSAL = True
    MSAL_IMPORT_ERROR = None


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


def config_error(message: str) -> M365Error:
    """The error for a missing or invalid option: ``M365Error(code='invalid_configuration')``."""
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
        raise config_error(f"authority_host {authority_host!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() != "https":
        raise config_error(f"authority_host must be an https URL, got {authority_host!r}")
    if not host:
        raise config_error(f"authority_host {authority_host!r} has no host name")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password:
        raise config_error(
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
        raise config_error("tenant_id is required (option tenant_id or env AZURE_TENANT_ID)")
    if not _TENANT_RE.match(tenant) or ".." in tenant:
        raise config_error(f"tenant_id {tenant_id!r} is neither a tenant GUID nor a domain name")
    if tenant.lower() in ("common", "organizations", "consumers"):
        raise config_error(f"tenant_id must name one tenant (GUID or verified domain), not {tenant!r}")
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


def jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT, read without verification (only to warn early); None if not a JWT."""
    exp = jwt_claims(token).get("exp")
    return float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None


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


def credential_from_options(options: dict[str, Any], transport: Any) -> Credential:
    """Pick the credential from module options.

    Precedence when several methods are set: ``access_token`` > ``client_certificate_path`` >
    ``federated_token_file``/``federated_token`` > ``client_secret`` > ``federated_token_request_url``.
    That lets a more specific option in a task override a secret coming from the environment; the
    request URL comes last because GitHub Actions sets it in every job allowed to request a token,
    whether or not the job means to sign in with it.
    """
    # The credential classes import this file's helpers, so they are imported here, when a credential is chosen.
    from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.access_token import (  # pylint: disable=import-outside-toplevel
        AccessTokenCredential)
    from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_certificate import (  # pylint: disable=import-outside-toplevel
        CertificateCredential)
    from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.client_secret import (  # pylint: disable=import-outside-toplevel
        ClientSecretCredential)
    from ansible_collections.m365ops.remediation.plugins.module_utils.credentials.federated_token import (  # pylint: disable=import-outside-toplevel
        FederatedTokenCredential)

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
        raise config_error("Missing authentication settings: " + "; ".join(missing))

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
    "GRAPH_RESOURCE", "EXCHANGE_RESOURCE", "DEFAULT_AUTHORITY_HOST", "RESOURCE_BY_HOST", "MICROSOFT_AUTHORITY_HOSTS",
    "HAS_MSAL", "MSAL_IMPORT_ERROR", "config_error", "resource_for", "authority_url", "normalize_authority_host",
    "credential_from_options", "jwt_claims", "jwt_expiry", "is_tenant_guid", "token_tenant_id", "expected_tenant_id",
    "check_token_tenant",
]

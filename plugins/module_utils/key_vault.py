# Copyright: m365ops.remediation contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Azure Key Vault's REST API (``api-version=7.4``) over the collection's client core: no Azure SDK.

A token for the vault's resource (``https://vault.azure.net/.default`` in the public cloud) comes from the same
msal credentials as Graph's and Exchange's. Key Vault answers a request it cannot authenticate with 401 and a
``WWW-Authenticate`` challenge that names the vault's tenant (``authorization="https://login.../{tenant}"``): a
token of another tenant is refused that way, and the error then names the vault's tenant, for the caller to set
``key_vault_tenant_id`` explicitly (the collection never follows a challenge to a tenant it was not given). A 403
``ForbiddenByRbac`` means the app holds no role on the vault that allows the operation.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit

from ansible_collections.m365ops.remediation.plugins.module_utils.errors import M365Error
from ansible_collections.m365ops.remediation.plugins.module_utils.service import ServiceClient
from ansible_collections.m365ops.remediation.plugins.module_utils.transport import RETRY_STATUSES, header_value, response_json

API_VERSION = "7.4"
VAULT_RESOURCE = "https://vault.azure.net"
# Vault host suffix -> the resource its tokens are issued for (national clouds); any other host (a test
# double, a private endpoint's alias) takes the public cloud's.
RESOURCE_BY_SUFFIX = {
    ".vault.azure.net": "https://vault.azure.net",
    ".vault.usgovcloudapi.net": "https://vault.usgovcloudapi.net",
    ".vault.azure.cn": "https://vault.azure.cn",
}
# The built-in role that lets an app set and update secrets (Key Vault Administrator also does).
WRITER_ROLE = "Key Vault Secrets Officer"

_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)\s*=\s*"([^"]*)"')


def vault_resource(vault_url: str) -> str:
    """The token resource of a vault URL."""
    host = (urlsplit(vault_url).hostname or "").lower()
    return next((resource for suffix, resource in RESOURCE_BY_SUFFIX.items() if host.endswith(suffix)), VAULT_RESOURCE)


def parse_challenge(header: str | None) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer k="v", ...`` challenge, lower-case names."""
    return {name.lower(): value for name, value in _CHALLENGE_PARAM.findall(header or "")}


def challenge_tenant(header: str | None) -> str | None:
    """The tenant a Key Vault challenge names: the last path segment of its ``authorization`` (or
    ``authorization_uri``) URL; None when the challenge names none."""
    params = parse_challenge(header)
    url = params.get("authorization") or params.get("authorization_uri") or ""
    segment = urlsplit(url).path.strip("/").split("/")[0] if url else ""
    return segment.lower() or None


def vault_error(response: Any, vault_url: str, action: str, tenant: str | None) -> M365Error:
    """The M365Error for a Key Vault error answer, worded for the admin who must fix it."""
    text, body = response_json(response)
    status = response.status_code
    error = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), dict) else {}
    inner = error.get("innererror") or error.get("innerError") or {}
    code = (inner.get("code") if isinstance(inner, dict) else None) or error.get("code")
    said = " ".join(str(error.get("message") or text or "").split())[:300]
    request_id = header_value(response.headers, "x-ms-request-id")
    if status == 403:
        message = (f"Key Vault {vault_url} refused to {action}: the app holds no role on the vault that allows it; "
                   f"assign it the role {WRITER_ROLE} on the vault (Key Vault said: {said or 'Forbidden'})")
    elif status == 401:
        named = challenge_tenant(header_value(response.headers, "WWW-Authenticate"))
        if named and tenant and named != tenant.lower():
            message = (f"Key Vault {vault_url} belongs to tenant {named}, not to tenant {tenant} the token came from: "
                       f"set key_vault_tenant_id to {named} (with key_vault_client_id and its secret or certificate "
                       f"when the app is not registered in that tenant)")
            code = "vault_tenant"
        else:
            message = f"Key Vault {vault_url} refused the token: {said or 'Unauthorized'}"
    else:
        message = f"Key Vault {vault_url} could not {action}: {said or 'HTTP %d' % status}"
    return M365Error(message, service="keyvault", status=status, code=code, request_id=request_id,
                     transient=status in RETRY_STATUSES)


class KeyVaultClient(ServiceClient):
    """One vault's secrets, at its URL (``https://{name}.vault.azure.net``), over a shared Transport.

    ``tenant`` is the tenant the credential signs in to, for the error that names a vault of another tenant.
    """

    service = "keyvault"

    def __init__(self, transport: Any, credential: Any, vault_url: str, tenant: str | None = None) -> None:
        super().__init__(transport, credential, vault_url, vault_url, vault_resource(vault_url))
        self.tenant = tenant

    def token_tenant(self) -> str | None:
        """The tenant of the token sent (its ``tid``), else the tenant as named."""
        try:
            found = self.credential.tenant_guid(self.resource)
        except (M365Error, AttributeError):
            found = None
        return (found or self.tenant or "").lower() or None

    def token_rejected(self, response: Any) -> bool:
        """A 401 about the token itself; a challenge naming another tenant is not (a new token cannot help)."""
        named = challenge_tenant(header_value(response.headers, "WWW-Authenticate"))
        ours = self.token_tenant()
        return not (named and ours and named != ours)

    def url(self, path: str, query: str = "") -> str:
        """The URL of a path under the vault, with the API version (and ``query``, already encoded)."""
        return f"{self.endpoint}/{path.lstrip('/')}?api-version={API_VERSION}" + (f"&{query}" if query else "")

    def request(self, method: str, path: str, action: str, *, json: Any = None, idempotent: bool | None = None,
                query: str = "") -> Any:
        """Call the vault; the decoded JSON answer, or an M365Error whose message says what to do."""
        def with_token(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        response = self.send_with_token(method, self.url(path, query), with_token, json=json, idempotent=idempotent)
        if not 200 <= response.status_code < 300:
            raise vault_error(response, self.endpoint, action, self.token_tenant())
        _text, body = response_json(response)
        return body

    # -- secrets ---------------------------------------------------------------------------------

    def set_secret(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """``PUT /secrets/{name}``: a new version; the answer without its ``value``."""
        answer = self.request("PUT", "secrets/" + quote(name, safe=""), "set secret %s" % name, json=body, idempotent=True)
        return _without_value(answer)

    def update_secret(self, name: str, version: str, body: dict[str, Any]) -> dict[str, Any]:
        """``PATCH /secrets/{name}/{version}``: attributes, content type or tags (given tags replace them all)."""
        path = "secrets/%s/%s" % (quote(name, safe=""), quote(version, safe=""))
        return _without_value(self.request("PATCH", path, "update secret %s" % name, json=body, idempotent=True))

    def list_secrets(self, max_results: int = 1) -> list[dict[str, Any]]:
        """The first page of ``GET /secrets`` (names, attributes and tags; never values)."""
        answer = self.request("GET", "secrets", "list secrets", query="maxresults=%d" % max_results)
        return list((answer or {}).get("value") or [])


def _without_value(answer: Any) -> dict[str, Any]:
    """A secret bundle without its value: the value is never kept in memory longer than the request."""
    if not isinstance(answer, dict):
        return {}
    return {key: value for key, value in answer.items() if key != "value"}


def version_of(secret_id: str | None) -> str | None:
    """The version in a secret id ``{vault}/secrets/{name}/{version}``; None when absent."""
    parts = urlsplit(secret_id or "").path.strip("/").split("/")
    return parts[-1] if len(parts) >= 3 and parts[-3] == "secrets" and parts[-1] else None
